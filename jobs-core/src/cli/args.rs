//! The command line's grammar: what clap parses, and nothing else.

use std::path::PathBuf;

use clap::builder::RangedU64ValueParser;
use clap::{Parser, Subcommand};

use crate::engine::MAX_SHARDS;

/// The default store file.
pub(crate) const DEFAULT_STORE: &str = "./jobs.redb";

/// Run one-off map/reduce jobs over stored models.
#[derive(Debug, Parser)]
#[command(max_term_width = 100)]
pub(crate) struct Args {
    /// The store file (redb); created when missing.
    #[arg(long, global = true, env = "JOBS_STORE", value_name = "PATH", default_value = DEFAULT_STORE)]
    pub(crate) store: PathBuf,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List every registered job: name, models, default shards, description and parameters.
    List(ListArgs),
    /// Fill the store with demo data.
    Seed(SeedFlags),
    /// Run a job; its report lines go to stdout, its summary to stderr.
    Run(RunArgs),
    /// Write every entity of a model kind as JSON lines, in id order.
    Export(ExportArgs),
    /// Store entities from JSON lines, all or nothing: every line is checked first.
    Import(ImportArgs),
    /// Seed an empty store with demo data, then run the demo job.
    Demo(DemoArgs),
}

/// `jobs list`.
#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    /// Print one JSON object per job and line instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `jobs seed`.
#[derive(Debug, clap::Args)]
pub(crate) struct SeedFlags {
    /// How many explorations to create [default: the seeder's].
    #[arg(long, value_name = "N")]
    pub(crate) explorations: Option<usize>,
    /// How many users to create [default: the seeder's].
    #[arg(long, value_name = "N")]
    pub(crate) users: Option<usize>,
    /// The random seed: the same seed gives the same data [default: the seeder's].
    #[arg(long, value_name = "S")]
    pub(crate) seed: Option<u64>,
}

/// `jobs run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// The job's name, as `jobs list` shows it.
    pub(crate) name: String,
    /// Shards per model, from 1 to 256 [default: the job's].
    #[arg(long, value_name = "N", value_parser = shard_count())]
    pub(crate) shards: Option<usize>,
    /// Worker threads, at least 1 [default: one per core].
    #[arg(long, value_name = "N", value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    pub(crate) threads: Option<usize>,
    /// A job parameter; repeat for several. `jobs list` shows each job's parameters.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub(crate) params: Vec<String>,
    /// Count the models the job would put or delete instead of writing them.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

/// `jobs export`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    /// The model kind, such as ExplorationModel.
    pub(crate) kind: String,
    /// Write to this file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

/// `jobs import`.
#[derive(Debug, clap::Args)]
pub(crate) struct ImportArgs {
    /// The model kind, such as ExplorationModel.
    pub(crate) kind: String,
    /// A file of JSON lines, one entity each; stdin when absent or `-`. Blank lines are
    /// skipped; an entity whose id is already stored replaces it.
    pub(crate) file: Option<PathBuf>,
}

/// `jobs demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// How many explorations to seed an empty store with [default: the seeder's].
    #[arg(long, value_name = "N")]
    pub(crate) explorations: Option<usize>,
}

fn shard_count() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::<usize>::new().range(1..=MAX_SHARDS as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_grammar_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn shard_counts_outside_1_to_256_are_usage_errors() {
        for bad in ["0", "257", "300", "-1", "x"] {
            let err = Args::try_parse_from(["jobs", "run", "J", "--shards", bad]).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
        let args = Args::try_parse_from(["jobs", "run", "J", "--shards", "256", "--threads", "3"]).unwrap();
        let Command::Run(run) = args.command else {
            panic!("not run")
        };
        assert_eq!((run.shards, run.threads), (Some(256), Some(3)));
        assert_eq!(
            Args::try_parse_from(["jobs", "run", "J", "--threads", "0"])
                .unwrap_err()
                .exit_code(),
            2
        );
    }
}
