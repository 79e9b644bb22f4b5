//! `jobs run`: check the parameters, run the job while showing progress, print its report.

use std::path::Path;
use std::sync::Arc;

use crate::cli::args::RunArgs;
use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::cli::{Cli, progress, report};
use crate::engine::{Progress, RunOptions};
use crate::params::Params;
use crate::registry::JobDescriptor;
use crate::store::Store;

pub(super) fn run(cli: &Cli, store_path: &Path, args: &RunArgs, console: &mut Console<'_>) -> Result<(), CliError> {
    let job = super::jobs()?.get(&args.name)?;
    let params = Params::parse_args(&args.params)?;
    job.check_params(&params)?;
    let store = cli.open_store(store_path)?;
    let options = RunOptions {
        shards: args.shards,
        threads: args.threads,
        dry_run: args.dry_run,
        ..RunOptions::default()
    };
    run_job(store.as_ref(), job, &params, options, console)
}

/// Runs `job` with a progress bar, writes its output lines to stdout and its summary,
/// counters and failures to stderr.
///
/// # Errors
/// The run could not be carried out, was canceled, or had failures.
pub(super) fn run_job(
    store: &dyn Store,
    job: &'static JobDescriptor,
    params: &Params,
    mut options: RunOptions,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let progress = Arc::new(Progress::new());
    options.progress = Some(Arc::clone(&progress));
    tracing::info!(job = job.name(), %params, shards = ?options.shards, threads = ?options.threads, dry_run = options.dry_run, "starting the run");
    let cancel = options.cancel.clone();
    let report = progress::watch(console, &progress, &cancel, || job.run(store, params, &options))
        .map_err(CliError::Internal)??;

    if report.canceled {
        console.say(format_args!(
            "{}: canceled after reading {} of {} entities",
            report.job,
            report.stats.entities_read,
            progress.total()
        ));
        return Err(CliError::Canceled);
    }
    for line in &report.output {
        console.data(line)?;
    }
    // The output comes before the summary when both go to one terminal.
    console.flush()?;
    console.say(report::summary(&report));
    if let Some(counters) = report::counters(&report, options.dry_run) {
        console.say(counters);
    }
    for line in report::failures(&report) {
        console.say(line);
    }
    if report.stats.failures > 0 {
        Err(CliError::JobFailed(report.stats.failures))
    } else {
        Ok(())
    }
}
