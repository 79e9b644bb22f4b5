//! `jobs run-queued ID` (hidden): carry out a run queued earlier, in this process. It is what
//! `jobs run --detach` starts in the background (see [`crate::cli::detach`]).
//!
//! It prints nothing when the run ends, however it ends: the record says how (`jobs status`,
//! `jobs output`), and the background process's log stays empty, so it is removed. Only a run
//! that could not be carried out at all (the store failed, another process runs it) is
//! reported on stderr, which is the log. SIGINT cancels the run cleanly, as Ctrl-C does.

use std::path::Path;
use std::sync::Arc;

use crate::cli::args::RunQueuedArgs;
use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::cli::{Cli, detach, progress};
use crate::exec::Progress;
use crate::runs::{self, RunnerOptions};

pub(super) fn run(
    cli: &Cli,
    store_path: &Path,
    args: &RunQueuedArgs,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let store = cli.open_existing_store(store_path)?;
    let progress = Arc::new(Progress::new());
    let options = RunnerOptions {
        output_limit: args.output_limit,
        progress: Some(Arc::clone(&progress)),
        ..RunnerOptions::default()
    };
    let record =
        progress::watch(console, &progress, &options.cancel, || runs::run_queued(store.as_ref(), &args.id, &options))
            .map_err(CliError::Internal)??;
    tracing::info!(run = %args.id, status = %record.status(), "the queued run is over");
    detach::remove_log(store_path, &args.id, true);
    Ok(())
}
