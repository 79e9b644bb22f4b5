//! `jobs list`: every registered job, as a table or as JSON lines (one [`JobView`] each,
//! the shape `GET /api/jobs` returns too).

use crate::cli::args::ListArgs;
use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::registry::JobDescriptor;
use crate::views::{JobView, first_paragraph};

pub(super) fn run(args: &ListArgs, console: &mut Console<'_>) -> Result<(), CliError> {
    let jobs = super::jobs()?.jobs();
    if args.json {
        for job in jobs {
            let line = serde_json::to_string(&JobView::new(job)).map_err(|e| CliError::Internal(e.to_string()))?;
            console.data(&line)?;
        }
    } else {
        for line in table(jobs) {
            console.text(&line)?;
        }
    }
    Ok(())
}

/// A table with one row per job, and one indented row per parameter under its job.
fn table(jobs: &[&JobDescriptor]) -> Vec<String> {
    let models = |job: &JobDescriptor| job.models().join(", ");
    let name_width = jobs.iter().map(|j| j.name().len()).chain([3]).max().unwrap_or(3);
    let models_width = jobs.iter().map(|j| models(j).len()).chain([6]).max().unwrap_or(6);
    let mut lines = vec![format!("{:name_width$}  {:models_width$}  SHARDS  DESCRIPTION", "JOB", "MODELS")];
    for job in jobs {
        let row = format!(
            "{:name_width$}  {:models_width$}  {:>6}  {}",
            job.name(),
            models(job),
            job.default_shards(),
            first_paragraph(job.description())
        );
        lines.push(row.trim_end().to_owned());
        for param in job.params() {
            let need = if param.required { "required" } else { "optional" };
            let doc = first_paragraph(param.doc);
            let row = format!("    --param {}=<{}>  {need}  {doc}", param.name, param.type_name);
            lines.push(row.trim_end().to_owned());
        }
    }
    lines
}
