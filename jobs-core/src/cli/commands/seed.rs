//! `jobs seed`: fills the store with demo data through the application's seeder.

use std::path::Path;

use crate::cli::args::SeedFlags;
use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::cli::{Cli, SeedArgs, Seeder};
use crate::store::Store;

pub(super) fn run(cli: &Cli, store_path: &Path, flags: &SeedFlags, console: &mut Console<'_>) -> Result<(), CliError> {
    let seeder = seeder(cli, "jobs seed")?;
    let store = cli.open_store(store_path)?;
    let args = SeedArgs { explorations: flags.explorations, users: flags.users, seed: flags.seed };
    seed(seeder, store.as_ref(), &args, console)
}

/// The seeder, or an error saying this binary has none.
pub(super) fn seeder<'a>(cli: &'a Cli, command: &'static str) -> Result<&'a Seeder, CliError> {
    cli.seeder.as_deref().ok_or(CliError::NotOffered { command, what: "demo-data seeder" })
}

/// Seeds `store` and prints the seeder's summary on stderr.
pub(super) fn seed(
    seeder: &Seeder,
    store: &dyn Store,
    args: &SeedArgs,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let started = std::time::Instant::now();
    let summary = seeder(store, args).map_err(|source| CliError::Seed { store: store.location(), source })?;
    tracing::info!(elapsed = ?started.elapsed(), "seeded");
    console.say(summary);
    Ok(())
}
