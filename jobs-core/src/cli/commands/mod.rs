//! The commands, one module each, and what they share: the registry, the store, model kinds.

mod cancel;
mod demo;
mod export;
mod import;
mod list;
mod output;
mod prune;
mod run;
mod run_queued;
mod runs;
mod seed;
#[cfg(feature = "web")]
mod serve;
mod status;

use super::Cli;
use super::args::{Args, Command};
use super::console::Console;
use super::error::CliError;
use crate::model::{self, ModelDescriptor};
use crate::registry::{self, Registry};

/// Runs the parsed command.
pub(crate) fn dispatch(
    cli: &Cli,
    args: &Args,
    matches: &clap::ArgMatches,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let store = &args.store;
    // The seeder's own flags, which the derived `Args` does not know.
    let seed_flags = |name| matches.subcommand_matches(name).cloned().unwrap_or_default();
    let result = match &args.command {
        Command::List(list) => list::run(list, console),
        Command::Seed => seed::run(cli, store, &seed_flags("seed"), console),
        Command::Run(run) => run::run(cli, store, run, console),
        Command::Runs(runs) => runs::run(cli, store, runs, console),
        Command::Status(status) => status::run(cli, store, status, console),
        Command::Output(output) => output::run(cli, store, output, console),
        Command::Cancel(cancel) => cancel::run(cli, store, cancel, console),
        Command::Prune(prune) => prune::run(cli, store, prune, console),
        Command::Export(export) => export::run(cli, store, export, console),
        Command::Import(import) => import::run(cli, store, import, console),
        Command::Demo => demo::run(cli, store, &seed_flags("demo"), console),
        Command::RunQueued(queued) => run_queued::run(cli, store, queued, console),
        #[cfg(feature = "web")]
        Command::Serve(serve) => serve::run(cli, store, serve, console),
    };
    // Data already written must reach its reader even when the command failed later.
    let flushed = console.flush();
    result.and(flushed)
}

/// The registry, refused when it is empty (the linking trap) or has duplicate names.
fn jobs() -> Result<&'static Registry, CliError> {
    let registry = registry::registry()?;
    if registry.is_empty() { Err(CliError::NoJobs) } else { Ok(registry) }
}

/// The model registered as `kind`, or an error naming the known kinds. Refused, like the
/// registry, when two models share a kind (the registry reports both).
fn find_model(kind: &str) -> Result<&'static ModelDescriptor, CliError> {
    registry::registry()?;
    model::find_model(kind).ok_or_else(|| {
        let known: Vec<&'static str> = model::models().iter().map(|m| m.kind()).collect();
        let lower = kind.to_lowercase();
        let suggestion = known
            .iter()
            .map(|k| (strsim::levenshtein(&lower, &k.to_lowercase()), *k))
            .filter(|(distance, k)| *distance <= k.len() / 3 + 1)
            .min()
            .map(|(_, k)| k);
        CliError::UnknownKind { kind: kind.to_owned(), suggestion, known }
    })
}
