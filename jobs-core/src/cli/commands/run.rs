//! `jobs run`: check the request, record the run, carry it out here while showing progress
//! (or in a background process with `--detach`), then print its report.
//!
//! The report is what it was before runs were recorded: every output line on stdout, in key
//! order; the summary, counters and failures on stderr. One line more on stderr names the
//! run, `run <id>: <status>`, for `jobs status`, `jobs output` and `jobs cancel`.

use std::path::Path;
use std::sync::Arc;

use crate::cli::args::RunArgs;
use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::cli::{Cli, detach, progress, report};
use crate::engine::{Progress, now_ms};
use crate::params::Params;
use crate::runs::{self, OutputKind, RunId, RunLog, RunRecord, RunRequest, RunnerOptions, Status};

pub(super) fn run(cli: &Cli, store_path: &Path, args: &RunArgs, console: &mut Console<'_>) -> Result<(), CliError> {
    // Checked before the store is opened, so a typo creates no store.
    let job = super::jobs()?.get(&args.name)?;
    let params = Params::parse_args(&args.params)?;
    job.check_params(&params)?;
    let store = cli.open_store(store_path)?;
    let request = RunRequest {
        job: job.name().to_owned(),
        params,
        shards: args.shards,
        threads: args.threads,
        dry_run: args.dry_run,
        exclusive: args.exclusive,
        max_memory: args.max_memory,
    };
    let record = queue(store.as_ref(), &request, console)?;
    if args.detach {
        detach::start(store.as_ref(), store_path, record.id(), args.output_limit, console)
    } else {
        carry_out(store.as_ref(), record.id(), args.output_limit, console)
    }
}

/// Records `request` as a queued run and warns about the job's runs already queued or
/// started (Oppia's admin page did the same); with `exclusive`, refuses instead.
///
/// # Errors
/// The request is wrong, the job has an active run and `exclusive` was asked, or the store
/// failed. Nothing is recorded then.
pub(super) fn queue(log: &dyn RunLog, request: &RunRequest, console: &mut Console<'_>) -> Result<RunRecord, CliError> {
    let queued = runs::queue(log, request)?;
    for other in &queued.already_active {
        console.say(format_args!(
            "warning: {} already has a run {}: {} (this run goes ahead too; --exclusive refuses instead)",
            other.job,
            other.status(),
            other.id()
        ));
    }
    Ok(queued.record)
}

/// Carries out the queued run `id` in this process, with a progress bar on a terminal and
/// Ctrl-C canceling it, then [reports](report_finished) how it ended.
///
/// # Errors
/// As [`report_finished`], or the run could not be started or recorded.
pub(super) fn carry_out(
    log: &dyn RunLog,
    id: &RunId,
    output_limit: usize,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let progress = Arc::new(Progress::new());
    let options = RunnerOptions { output_limit, progress: Some(Arc::clone(&progress)), ..RunnerOptions::default() };
    if console.progress_bar {
        // Named before the bar, for `jobs status` or `jobs cancel` from another terminal.
        console.say(format_args!("run {id}: started"));
    }
    let record = progress::watch(console, &progress, &options.cancel, || runs::run_queued(log, id, &options))
        .map_err(CliError::Internal)??;
    report_finished(log, &record, console)
}

/// Prints how a finished run ended: its output lines on stdout, then its summary, counters,
/// failures and `run <id>: <status>` on stderr.
///
/// # Errors
/// The run had failures (exit 1), failed (exit 1) or was canceled (exit 130), or its output
/// could not be read or written.
pub(super) fn report_finished(log: &dyn RunLog, record: &RunRecord, console: &mut Console<'_>) -> Result<(), CliError> {
    let id = record.id();
    match record.status() {
        Status::Completed => {
            super::output::write_lines(log, id, OutputKind::Full, &mut *console.out, CliError::stdout)?;
            // The output comes before the summary when both go to one terminal.
            console.flush()?;
            console.say(report::summary(record, now_ms()));
            if let Some(counters) = report::counters(record) {
                console.say(counters);
            }
            for line in report::failures(record) {
                console.say(line);
            }
            console.say(format_args!("run {id}: completed"));
            if record.stats.failures > 0 { Err(CliError::JobFailed(record.stats.failures)) } else { Ok(()) }
        }
        Status::Canceled => {
            console.say(format_args!(
                "{}: canceled after reading {} of {} entities",
                record.job,
                record.stats.entities_read,
                record.progress.total()
            ));
            console.say(format_args!("run {id}: canceled"));
            Err(CliError::Canceled)
        }
        Status::Failed => {
            for line in report::failures(record) {
                console.say(line);
            }
            console.say(format_args!("run {id}: failed"));
            Err(CliError::RunFailed {
                id: id.clone(),
                error: record.error.clone().unwrap_or_else(|| "no error was recorded".to_owned()),
            })
        }
        unfinished => Err(CliError::Internal(format!("run {id} is still {unfinished} after it was carried out"))),
    }
}
