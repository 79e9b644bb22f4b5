//! `jobs prune [--older-than DAYS]`: remove the records and output of runs that finished
//! more than DAYS days ago (84 by default: Oppia's twelve weeks). Queued and started runs are
//! never removed. The removed ids go to stdout, one a line.

use std::path::Path;
use std::time::Duration;

use crate::cli::args::{DAY_SECS, PruneArgs};
use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::cli::report::plural;
use crate::cli::{Cli, detach};

pub(super) fn run(cli: &Cli, store_path: &Path, args: &PruneArgs, console: &mut Console<'_>) -> Result<(), CliError> {
    let store = cli.open_existing_store(store_path)?;
    let removed = store.prune(Duration::from_secs(args.older_than.saturating_mul(DAY_SECS)))?;
    for id in &removed {
        detach::remove_log(store_path, id, false);
        console.data(id.as_str())?;
    }
    console.flush()?;
    let which = if args.older_than == 0 {
        "every finished run".to_owned()
    } else {
        format!("runs that finished more than {} ago", plural(args.older_than, "day", "days"))
    };
    console.say(format_args!(
        "pruned {} ({which}) from {}",
        plural(removed.len() as u64, "run", "runs"),
        store.location()
    ));
    Ok(())
}
