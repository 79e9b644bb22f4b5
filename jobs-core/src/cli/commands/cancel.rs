//! `jobs cancel ID`: stop a run from any process that can open the store.
//!
//! A queued run is canceled at once. A started run is asked to stop through its record; the
//! process running it notices within a second, stops cleanly and records it `canceled`, with
//! no output. The command waits for that (`--wait`, 10 s by default) so that, when it exits 0,
//! the run is canceled.

use std::path::Path;
use std::time::Duration;

use crate::cli::Cli;
use crate::cli::args::CancelArgs;
use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::runs::{self, CancelOutcome, Status};

pub(super) fn run(cli: &Cli, store_path: &Path, args: &CancelArgs, console: &mut Console<'_>) -> Result<(), CliError> {
    let store = cli.open_existing_store(store_path)?;
    let id = &args.id;
    match store.request_cancel(id)? {
        CancelOutcome::Canceled => {
            console.say(format_args!("run {id}: canceled before it started"));
            Ok(())
        }
        CancelOutcome::AlreadyFinished(Status::Canceled) => {
            console.say(format_args!("run {id}: already canceled"));
            Ok(())
        }
        CancelOutcome::AlreadyFinished(status) => Err(CliError::NotCancelable { id: id.clone(), status }),
        CancelOutcome::Requested if args.wait == 0 => {
            console.say(format_args!(
                "run {id}: asked to stop; it stops within a second, and `jobs status {id}` shows when"
            ));
            Ok(())
        }
        CancelOutcome::Requested => {
            let waited = Duration::from_secs(args.wait);
            let record = runs::wait(store.as_ref(), id, waited)?;
            match record.status() {
                Status::Canceled => {
                    console.say(format_args!(
                        "run {id}: canceled after reading {} of {} entities",
                        record.stats.entities_read,
                        record.progress.total()
                    ));
                    Ok(())
                }
                // It ended before it noticed the request.
                status if status.is_finished() => Err(CliError::NotCancelable { id: id.clone(), status }),
                status => Err(CliError::CancelPending { id: id.clone(), status, waited }),
            }
        }
    }
}
