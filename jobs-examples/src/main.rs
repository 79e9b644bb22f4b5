//! The `jobs` command: `jobs_core`'s command line over the example jobs and models, with the
//! demo-data generator behind `jobs seed` and `jobs demo`. `jobs --help` lists the commands.

use std::process::ExitCode;

use jobs_core::Store;
use jobs_core::cli::{BoxError, Cli};
use jobs_examples::demo::{self, SeedOptions};

fn main() -> ExitCode {
    // Links the crate that defines the jobs (a crate nobody names is left out of the binary,
    // and its jobs with it); if none of its jobs is registered, every command says so.
    Cli::new("jobs")
        .version(env!("CARGO_PKG_VERSION"))
        .jobs(jobs_core::link_jobs!(jobs_examples))
        .seeder(seed)
        .demo_job("InteractionAuditOneOffJob")
        .run()
}

/// The flags of `jobs seed` and `jobs demo`.
#[derive(Debug, clap::Args)]
struct SeedFlags {
    /// How many explorations to create [default: 1000].
    #[arg(long, value_name = "N")]
    explorations: Option<usize>,
    /// How many users to create [default: 1000].
    #[arg(long, value_name = "N")]
    users: Option<usize>,
    /// The random seed: the same seed gives the same data [default: 42].
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
}

/// `jobs seed`: Oppia-like explorations, their rights and users, the same for the same seed.
fn seed(store: &dyn Store, args: &SeedFlags) -> Result<String, BoxError> {
    let defaults = SeedOptions::default();
    let options = SeedOptions {
        explorations: args.explorations.unwrap_or(defaults.explorations),
        users: args.users.unwrap_or(defaults.users),
        seed: args.seed.unwrap_or(defaults.seed),
    };
    let seeded = demo::seed(store, &options)?;
    Ok(format!(
        "seeded {} with {} explorations, {} exploration rights and {} users (seed {})",
        store.location(),
        seeded.explorations,
        seeded.rights,
        seeded.users,
        options.seed
    ))
}
