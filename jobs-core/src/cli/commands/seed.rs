//! `jobs seed`: fills the store with demo data through the application's seeder.

use std::path::Path;

use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::cli::{Cli, Seeder};
use crate::store::Store;

/// `flags` are the matches of the seeder's own flags.
pub(super) fn run(
    cli: &Cli,
    store_path: &Path,
    flags: &clap::ArgMatches,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let seeder = seeder(cli, "jobs seed")?;
    let store = cli.open_store(store_path)?;
    seed(seeder, store.as_ref(), flags, console)
}

/// The seeder, or an error saying this binary has none.
pub(super) fn seeder<'a>(cli: &'a Cli, command: &'static str) -> Result<&'a Seeder, CliError> {
    cli.seeder.as_ref().ok_or(CliError::NotOffered { command, what: "demo-data seeder" })
}

/// Seeds `store` and prints the seeder's summary on stderr.
pub(super) fn seed(
    seeder: &Seeder,
    store: &dyn Store,
    flags: &clap::ArgMatches,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let started = std::time::Instant::now();
    let summary = (seeder.seed)(store, flags).map_err(|source| CliError::Seed { store: store.location(), source })?;
    tracing::info!(elapsed = ?started.elapsed(), "seeded");
    console.say(summary);
    Ok(())
}
