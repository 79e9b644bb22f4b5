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
use crate::cli::hints;
use crate::cli::{Cli, detach, progress, report};
use crate::exec::{OutputSink, Progress, now_ms};
use crate::params::Params;
use crate::runs::{self, Queued, RunLog, RunRecord, RunRequest, RunnerOptions, Status};

pub(super) fn run(cli: &Cli, store_path: &Path, args: &RunArgs, console: &mut Console<'_>) -> Result<(), CliError> {
    // Checked before the store is opened, so a typo creates no store.
    let job = super::jobs()?.get(&args.name)?;
    let params = Params::parse_args(&args.params)?;
    job.check_params(&params)?;
    #[cfg(feature = "timely")]
    let cluster = crate::cli::cluster::config(args)?;
    #[cfg(feature = "timely")]
    if let Some(config) = cluster.as_ref().filter(|c| c.process > 0) {
        // Not process 0: do this process's part; process 0 records the run and reports it.
        let store = cli.open_existing_store(store_path)?;
        return crate::cli::cluster::take_part(store.as_ref(), job, &params, args, config, console);
    }
    let store = cli.open_existing_store(store_path)?;
    #[allow(unused_mut)]
    let mut request = RunRequest {
        job: job.name().to_owned(),
        params,
        shards: args.shards,
        threads: args.threads,
        dry_run: args.dry_run,
        exclusive: args.exclusive,
        max_failures: args.max_failures,
        max_memory: args.max_memory,
    };
    #[allow(unused_mut)]
    let mut options = RunnerOptions {
        output_limit: args.output_limit,
        keep_full_output: args.keep_output,
        ..RunnerOptions::default()
    };
    #[cfg(feature = "timely")]
    if let Some(config) = cluster {
        request.threads = Some(config.workers * config.processes);
        options.engine = crate::engines::EngineChoice::Timely(crate::cluster::TimelyEngine::new(config));
    }
    if args.detach {
        let record = queue(store.as_ref(), &request, console)?;
        detach::start(store.as_ref(), store_path, record.id(), args.output_limit, console)
    } else {
        carry_out_with(store.as_ref(), &request, options, console)
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
    warn_about_active(&queued, console);
    Ok(queued.record)
}

fn warn_about_active(queued: &Queued, console: &mut Console<'_>) {
    for other in &queued.already_active {
        console.say(format_args!(
            "warning: {} already has a run {}: {} (this run goes ahead too; --exclusive refuses instead)",
            other.job,
            other.status(),
            other.id()
        ));
    }
}

/// Records `request` as a run this process starts at once ([`runs::start_claimed`]), warning
/// about the job's runs already queued or started, and carries it out with a progress bar on a
/// terminal and Ctrl-C canceling it, then [reports](report_finished) how it ended.
///
/// # Errors
/// As [`queue`] and [`report_finished`], or the run could not be started or recorded.
pub(super) fn carry_out(
    log: &dyn RunLog,
    request: &RunRequest,
    output_limit: usize,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    carry_out_with(log, request, RunnerOptions { output_limit, ..RunnerOptions::default() }, console)
}

/// [`carry_out`] with the runner's options (the engine, say) given. The report is printed as
/// the run produces it, so it is never held whole.
fn carry_out_with(
    log: &dyn RunLog,
    request: &RunRequest,
    options: RunnerOptions,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let progress = Arc::new(Progress::new());
    let (to_printer, pipe) = progress::print_pipe(PIECES_IN_FLIGHT);
    let sink = OutputSink::new(move |text: &str| to_printer.send(text));
    let options = RunnerOptions { progress: Some(Arc::clone(&progress)), output_sink: Some(sink), ..options };
    let (started, claim) = runs::start_claimed(log, request, &options)?;
    warn_about_active(&started, console);
    let record = started.record;
    if console.progress_bar {
        // Named before the bar, for `jobs status` or `jobs cancel` from another terminal.
        console.say(format_args!("run {}: started", record.id()));
    }
    let (record, printing) = progress::watch_printing(console, &progress, &options.cancel, Some(&pipe), || {
        runs::run_started(log, &record, claim, &options)
    })
    .map_err(CliError::Internal)?;
    let record = record?;
    report_finished(&record, printing, console)
}

/// Pieces of the report on their way from the run to the printer, each about 256 KiB: at
/// most a megabyte waits for a slow stdout.
const PIECES_IN_FLIGHT: usize = 4;

/// After the run's output was printed as it was produced (`printing` is the error that stopped
/// that, if one did), prints its summary and counters on stderr.
fn print_output_and_summary(
    record: &RunRecord,
    printing: Option<std::io::Error>,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    if let Some(error) = printing {
        return Err(CliError::stdout(error));
    }
    // The output comes before the summary when both go to one terminal.
    console.flush()?;
    console.say(report::summary(record, now_ms()));
    if let Some(counters) = report::counters(record) {
        console.say(counters);
    }
    Ok(())
}

/// Prints how a finished run ended, its output lines printed as it produced them (`printing`
/// is the error that stopped that, if one did): its summary, counters, failures and
/// `run <id>: <status>` on stderr.
///
/// # Errors
/// The run failed (exit 1; also when more entities or keys failed than it allowed) or was
/// canceled (exit 130), or its output
/// could not be read or written.
fn report_finished(
    record: &RunRecord,
    printing: Option<std::io::Error>,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let id = record.id();
    match record.status() {
        Status::Completed => {
            print_output_and_summary(record, printing, console)?;
            for line in report::failures(record) {
                console.say(line);
            }
            console.say(format_args!("run {id}: completed"));
            Ok(())
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
            // A run that failed by exceeding its failure limit still stored its output.
            if record.output.is_some() {
                print_output_and_summary(record, printing, console)?;
            }
            for line in report::failures(record) {
                console.say(line);
            }
            if let Some(hint) = hints::failure_limit(record) {
                console.say(hint);
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
