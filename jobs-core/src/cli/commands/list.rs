//! `jobs list`: every registered job, as a table or as JSON lines.

use serde::Serialize;

use crate::cli::args::ListArgs;
use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::registry::JobDescriptor;

/// One job, as a line of `jobs list --json`.
#[derive(Serialize)]
struct JobLine<'a> {
    name: &'a str,
    models: &'a [&'a str],
    default_shards: usize,
    /// Failed entities and keys a run may have and still complete.
    max_failures: u64,
    description: String,
    params: Vec<ParamLine<'a>>,
    module: &'a str,
}

/// One parameter of a job, in `jobs list --json`.
#[derive(Serialize)]
struct ParamLine<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    type_name: &'a str,
    required: bool,
    expected: &'a str,
    doc: String,
}

pub(super) fn run(args: &ListArgs, console: &mut Console<'_>) -> Result<(), CliError> {
    let jobs = super::jobs()?.jobs();
    if args.json {
        for job in jobs {
            let line = serde_json::to_string(&json_line(job)).map_err(|e| CliError::Internal(e.to_string()))?;
            console.data(&line)?;
        }
    } else {
        for line in table(jobs) {
            console.data(&line)?;
        }
    }
    Ok(())
}

fn json_line(job: &JobDescriptor) -> JobLine<'_> {
    JobLine {
        name: job.name(),
        models: job.models(),
        default_shards: job.default_shards(),
        max_failures: job.max_failures(),
        description: first_paragraph(job.description()),
        params: job
            .params()
            .iter()
            .map(|p| ParamLine {
                name: p.name,
                type_name: p.type_name,
                required: p.required,
                expected: p.expected,
                doc: first_paragraph(p.doc),
            })
            .collect(),
        module: job.module_path(),
    }
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

/// The first paragraph of a doc comment as one line: a description wrapped over several
/// lines of source reads whole, and later paragraphs (details, examples) are left out.
fn first_paragraph(doc: &str) -> String {
    let lines = doc.lines().map(str::trim).skip_while(|line| line.is_empty());
    lines.take_while(|line| !line.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::first_paragraph;

    #[test]
    fn a_wrapped_first_paragraph_is_one_line() {
        let doc = "Reports explorations that have no rights model, and rights models that have no\nexploration.\n\nEach report line is ...";
        assert_eq!(
            first_paragraph(doc),
            "Reports explorations that have no rights model, and rights models that have no exploration."
        );
        assert_eq!(first_paragraph(""), "");
        assert_eq!(first_paragraph("\n  One.  \n"), "One.");
    }
}
