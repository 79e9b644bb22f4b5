//! `jobs demo`: seed an empty store, then run the demo job (recorded, like `jobs run`) and
//! print its output.

use std::path::Path;

use crate::cli::Cli;
use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::runs::{DEFAULT_OUTPUT_LIMIT, RunRequest};
use crate::store::Store;

/// `flags` are the matches of the seeder's own flags.
pub(super) fn run(
    cli: &Cli,
    store_path: &Path,
    flags: &clap::ArgMatches,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let seeder = super::seed::seeder(cli, "jobs demo")?;
    let name = cli.demo_job.as_deref().ok_or(CliError::NotOffered { command: "jobs demo", what: "demo job" })?;
    let job = super::jobs()?.find(name).ok_or_else(|| CliError::DemoJobMissing(name.to_owned()))?;
    let store = cli.open_store(store_path)?;

    let held = held(store.as_ref(), job.models())?;
    if held.is_empty() {
        super::seed::seed(seeder, store.as_ref(), flags, console)?;
    } else {
        let given =
            flags.ids().any(|id| flags.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine));
        let ignored = if given { "; the seed flags are ignored" } else { "" };
        console.say(format_args!(
            "the store {} already holds {}, so it is not seeded{ignored} (use a new --store for fresh demo data)",
            store.location(),
            held.join(" and ")
        ));
    }
    super::run::carry_out(store.as_ref(), &RunRequest::new(job.name()), DEFAULT_OUTPUT_LIMIT, console)
}

/// "N Kind entities" for each of `kinds` the store holds.
fn held(store: &dyn Store, kinds: &[&str]) -> Result<Vec<String>, CliError> {
    let mut held = Vec::new();
    for kind in kinds {
        let count = store.count(kind)?;
        if count > 0 {
            held.push(format!("{count} {kind} entities"));
        }
    }
    Ok(held)
}
