//! The command line's grammar: what clap parses, and nothing else.

use std::path::PathBuf;

use clap::builder::RangedU64ValueParser;
use clap::{Parser, Subcommand};

use crate::exec::MAX_SHARDS;
use crate::runs::{DEFAULT_OUTPUT_LIMIT, PRUNE_AFTER, RECENT, RECENT_LIMIT, RunId};

/// The default store file.
pub(crate) const DEFAULT_STORE: &str = "./jobs.redb";

/// Run one-off map/reduce jobs over stored models.
#[derive(Debug, Parser)]
#[command(max_term_width = 100)]
pub(crate) struct Args {
    /// The store: a redb file, or a PostgreSQL URL
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME]`. `seed`, `import`, `demo`
    /// and `serve` create a missing store file; the other commands refuse a missing one.
    #[arg(long, global = true, env = "JOBS_STORE", value_name = "PATH|URL", default_value = DEFAULT_STORE)]
    pub(crate) store: PathBuf,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands. To add one: a variant here with its `...Args` struct below, a module in
/// `commands/`, and an arm in `commands::dispatch`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List every registered job: name, models, default shards, description and parameters.
    List(ListArgs),
    /// Fill the store with demo data.
    Seed,
    /// Run a job and record the run; its report lines go to stdout, its summary to stderr.
    Run(RunArgs),
    /// List recorded runs, newest first: by default those of the last 14 days, at most 100.
    Runs(RunsArgs),
    /// Show one run: status, times, progress per shard, counters, failures, error.
    Status(StatusArgs),
    /// Print a run's output (once it completed, or failed by its failure limit): folded and cut
    /// as stored, or every line with --full.
    Output(OutputArgs),
    /// Stop a queued or started run, from any process; waits until it has stopped.
    Cancel(CancelArgs),
    /// Remove finished runs (records and output) older than some days.
    Prune(PruneArgs),
    /// Write every entity of a model kind as JSON lines, in id order.
    Export(ExportArgs),
    /// Store entities from JSON lines, all or nothing: every line is checked first.
    Import(ImportArgs),
    /// Seed an empty store with demo data, then run the demo job.
    Demo,
    /// Serve the admin page: start, watch and cancel runs in a browser, and a JSON API.
    #[cfg(feature = "web")]
    Serve(ServeArgs),
    /// Carry out a queued run in this process: what `run --detach` starts in the background.
    #[command(name = "run-queued", hide = true)]
    RunQueued(RunQueuedArgs),
}

/// `jobs list`.
#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    /// Print one JSON object per job and line instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `jobs run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// The job's name, as `jobs list` shows it.
    pub(crate) name: String,
    /// Shards per model, from 1 to 256 [default: the job's].
    #[arg(long, value_name = "N", value_parser = shard_count())]
    pub(crate) shards: Option<usize>,
    /// Worker threads, from 1 to 256 [default: one per core].
    #[arg(long, value_name = "N", value_parser = thread_count())]
    pub(crate) threads: Option<usize>,
    /// A job parameter; repeat for several. `jobs list` shows each job's parameters.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub(crate) params: Vec<String>,
    /// Count the models the job would put or delete instead of writing them.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Queue the run, print its id on stdout, and carry it out in a background process.
    #[arg(long)]
    pub(crate) detach: bool,
    /// Refuse to start when the job already has a run queued or started, instead of warning.
    #[arg(long)]
    pub(crate) exclusive: bool,
    /// How many entities and keys may fail and the run still complete; with more it ends
    /// `failed` (its output is still stored) [default: the job's, usually 0].
    #[arg(long, value_name = "N")]
    pub(crate) max_failures: Option<u64>,
    /// Characters the stored output keeps, identical lines folded first.
    #[arg(long, value_name = "CHARS", default_value_t = DEFAULT_OUTPUT_LIMIT)]
    pub(crate) output_limit: usize,
    /// Also keep the full output, for `output --full` later (beside a store file, as
    /// `<store>.outputs/<run id>.jsonl.gz`). A run printed here is not kept whole unless asked;
    /// a `--detach`ed run always keeps it.
    #[arg(long)]
    pub(crate) keep_output: bool,
    /// The most memory the shuffle and the report's text may hold before they spill to
    /// temporary files (in JOBS_TMPDIR, or the system's temporary directory): bytes, or a
    /// number with K, M, G or T (powers of 1024), such as 512M or 2G [default: a quarter of
    /// RAM, at most 1G].
    #[arg(long, value_name = "SIZE", value_parser = byte_size)]
    pub(crate) max_memory: Option<u64>,
    /// The engine and, for `--engine timely`, the cluster.
    #[cfg(feature = "timely")]
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
}

/// Which engine runs the job: `local` (the default), or `timely` on one process or a cluster.
#[cfg(feature = "timely")]
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct EngineArgs {
    /// The engine: `local` (threads on this machine) or `timely` (timely-dataflow workers,
    /// on one process or several).
    #[arg(long, value_enum, default_value_t = EngineFlag::Local)]
    pub(crate) engine: EngineFlag,
    /// Timely worker threads in each process, from 1 to 256 [default: one per core].
    #[arg(long, value_name = "W", value_parser = thread_count())]
    pub(crate) workers: Option<usize>,
    /// How many processes the timely cluster has.
    #[arg(long, value_name = "N", value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    pub(crate) processes: Option<usize>,
    /// This process's index in the cluster, from 0; process 0 records the run and prints the report.
    #[arg(long, value_name = "I")]
    pub(crate) process: Option<usize>,
    /// The host file: one `host:port` per process, process 0 first (`#` comments allowed).
    #[arg(long, value_name = "FILE")]
    pub(crate) hosts: Option<PathBuf>,
    /// Run the whole job again up to K times when the cluster fails (a process dies).
    #[arg(long, value_name = "K")]
    pub(crate) retries: Option<u32>,
    /// How long processes wait for each other to connect, in seconds.
    #[arg(long, value_name = "SECS", value_parser = RangedU64ValueParser::<u64>::new().range(1..))]
    pub(crate) connect_timeout: Option<u64>,
    /// A file holding the cluster's shared secret (instead of JOBS_CLUSTER_SECRET); required
    /// when the host file names an address off the loopback interface.
    #[arg(long, value_name = "FILE")]
    pub(crate) cluster_secret_file: Option<PathBuf>,
}

/// The engines `--engine` names.
#[cfg(feature = "timely")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum EngineFlag {
    /// Worker threads on this machine.
    Local,
    /// Timely-dataflow workers, on one process or a cluster.
    Timely,
}

/// `jobs runs`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunsArgs {
    /// Only runs created in the last N days.
    #[arg(long, value_name = "N", default_value_t = RECENT.as_secs() / DAY_SECS)]
    pub(crate) days: u64,
    /// At most N runs, the newest.
    #[arg(long, value_name = "N", default_value_t = RECENT_LIMIT, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    pub(crate) limit: usize,
    /// Only runs of this job.
    #[arg(long, value_name = "NAME")]
    pub(crate) job: Option<String>,
    /// Print each run as one JSON object a line instead of a table (the shape the admin
    /// page's API returns for a run).
    #[arg(long)]
    pub(crate) json: bool,
}

/// `jobs status`.
#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// The run's id, as `jobs runs` shows it.
    #[arg(value_parser = run_id)]
    pub(crate) id: RunId,
    /// Print the run as one JSON object instead (the shape the admin page's API returns).
    #[arg(long)]
    pub(crate) json: bool,
}

/// `jobs output`.
#[derive(Debug, clap::Args)]
pub(crate) struct OutputArgs {
    /// The run's id, as `jobs runs` shows it.
    #[arg(value_parser = run_id)]
    pub(crate) id: RunId,
    /// Every line the job produced, unfolded and uncut, instead of the stored form.
    #[arg(long)]
    pub(crate) full: bool,
    /// Write to this file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

/// `jobs cancel`.
#[derive(Debug, clap::Args)]
pub(crate) struct CancelArgs {
    /// The run's id, as `jobs runs` shows it.
    #[arg(value_parser = run_id)]
    pub(crate) id: RunId,
    /// How many seconds to wait for a started run to stop; 0 returns once it has been asked.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub(crate) wait: u64,
}

/// `jobs prune`.
#[derive(Debug, clap::Args)]
pub(crate) struct PruneArgs {
    /// Remove runs that finished more than DAYS days ago; 0 removes every finished run.
    #[arg(long, value_name = "DAYS", default_value_t = PRUNE_AFTER.as_secs() / DAY_SECS)]
    pub(crate) older_than: u64,
}

/// `jobs run-queued` (hidden).
#[derive(Debug, clap::Args)]
pub(crate) struct RunQueuedArgs {
    /// The queued run's id.
    #[arg(value_parser = run_id)]
    pub(crate) id: RunId,
    /// As `jobs run --output-limit`.
    #[arg(long, value_name = "CHARS", default_value_t = DEFAULT_OUTPUT_LIMIT)]
    pub(crate) output_limit: usize,
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
    /// Import lines with fields the model does not have, dropping those fields (after a
    /// deliberate schema change). Without it such a line is refused, naming the field.
    #[arg(long)]
    pub(crate) allow_unknown_fields: bool,
}

/// `jobs serve`.
#[cfg(feature = "web")]
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on. One that is not loopback needs JOBS_ADMIN_TOKEN set; without
    /// it a token is generated and printed in the login URL.
    #[arg(long, value_name = "ADDR", default_value_t = crate::web::DEFAULT_BIND)]
    pub(crate) bind: std::net::SocketAddr,
}

/// Seconds in a day, for the day counts of `runs` and `prune`.
pub(crate) const DAY_SECS: u64 = 24 * 3600;

fn shard_count() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::<usize>::new().range(1..=MAX_SHARDS as u64)
}

/// 1 to [`MAX_THREADS`](crate::runs::MAX_THREADS): `--threads 0` says `0 is not in 1..=256`.
fn thread_count() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::<usize>::new().range(1..=crate::runs::MAX_THREADS as u64)
}

/// Parses a size in bytes: `1048576`, or a number with a K, M, G or T suffix (powers of 1024;
/// `512M`, `2G`, also `512MB`, `512MiB`, `1.5G`), so that anything else is a usage error that
/// shows the accepted forms.
fn byte_size(text: &str) -> Result<u64, String> {
    let bad = || format!("`{text}` is not a size: give bytes (1048576) or a number with K, M, G or T (512M, 2G)");
    let trimmed = text.trim();
    let unit_start = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(unit_start);
    let unit = unit.trim_start().to_ascii_uppercase();
    let unit = unit.strip_suffix("IB").or_else(|| unit.strip_suffix('B')).unwrap_or(&unit);
    let shift = match unit {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(bad()),
    };
    let bytes = if let Ok(whole) = number.parse::<u64>() {
        whole.checked_mul(1 << shift).ok_or_else(|| format!("`{text}` is too large"))?
    } else {
        let fraction: f64 = number.parse().map_err(|_| bad())?;
        let bytes = fraction * (1u64 << shift) as f64;
        if !bytes.is_finite() || bytes >= u64::MAX as f64 {
            return Err(format!("`{text}` is too large"));
        }
        bytes as u64
    };
    if bytes == 0 {
        return Err(format!("`{text}` leaves the shuffle no memory: give at least 1 byte, such as 64M"));
    }
    Ok(bytes)
}

/// Parses a run id, so that a malformed one is a usage error that says what ids look like.
fn run_id(text: &str) -> Result<RunId, String> {
    RunId::parse(text).map_err(|e| e.to_string())
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
        let Command::Run(run) = args.command else { panic!("not run") };
        assert_eq!((run.shards, run.threads), (Some(256), Some(3)));
        for bad in ["0", "257", "100000"] {
            let err = Args::try_parse_from(["jobs", "run", "J", "--threads", bad]).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
            let message = err.to_string();
            assert!(message.contains("1..=256"), "{message}");
            assert!(!message.contains("18446744073709551615"), "{message}");
        }
        let args = Args::try_parse_from(["jobs", "run", "J", "--threads", "256"]).unwrap();
        let Command::Run(run) = args.command else { panic!("not run") };
        assert_eq!(run.threads, Some(crate::runs::MAX_THREADS));
    }

    #[test]
    fn max_failures_is_a_count() {
        let Command::Run(run) = Args::try_parse_from(["jobs", "run", "J", "--max-failures", "25"]).unwrap().command
        else {
            panic!("not run")
        };
        assert_eq!(run.max_failures, Some(25));
        for bad in ["-1", "x", "1.5"] {
            let err = Args::try_parse_from(["jobs", "run", "J", "--max-failures", bad]).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn max_memory_takes_bytes_or_a_binary_suffix() {
        for (text, bytes) in [
            ("1048576", 1 << 20),
            ("512M", 512 << 20),
            ("2G", 2 << 30),
            ("2g", 2 << 30),
            ("64K", 64 << 10),
            ("1T", 1 << 40),
            ("512MB", 512 << 20),
            ("512MiB", 512 << 20),
            ("1.5G", 3 << 29),
        ] {
            assert_eq!(byte_size(text), Ok(bytes), "{text}");
        }
        let args = Args::try_parse_from(["jobs", "run", "J", "--max-memory", "512M"]).unwrap();
        let Command::Run(run) = args.command else { panic!("not run") };
        assert_eq!(run.max_memory, Some(512 << 20));
        let Command::Run(run) = Args::try_parse_from(["jobs", "run", "J"]).unwrap().command else { panic!("not run") };
        assert_eq!(run.max_memory, None);
    }

    #[test]
    fn a_bad_max_memory_is_a_usage_error_naming_it() {
        for bad in ["", "M", "12X", "2 GB!", "-1", "1.2.3G", "0", "0M", "99999999999T"] {
            let err = Args::try_parse_from(["jobs", "run", "J", "--max-memory", bad]).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
            // Clap reads `-1` as a flag; the rest reach the size parser, which names the flag.
            assert!(bad == "-1" || err.to_string().contains("--max-memory <SIZE>"), "{err}");
        }
        assert!(byte_size("12X").unwrap_err().contains("`12X` is not a size"));
        assert!(byte_size("0").unwrap_err().contains("no memory"));
        assert!(byte_size("99999999999T").unwrap_err().contains("too large"));
    }

    #[test]
    fn run_ids_are_checked_as_they_are_parsed() {
        let err = Args::try_parse_from(["jobs", "status", "NotAnId"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("`NotAnId` is not a run id"), "{err}");
        let args = Args::try_parse_from(["jobs", "cancel", "Job-1718000000000-k3x9qa"]).unwrap();
        let Command::Cancel(cancel) = args.command else { panic!("not cancel") };
        assert_eq!((cancel.id.job(), cancel.wait), ("Job", 10));
    }

    #[test]
    fn the_defaults_are_oppias() {
        let Command::Prune(prune) = Args::try_parse_from(["jobs", "prune"]).unwrap().command else {
            panic!("not prune")
        };
        assert_eq!(prune.older_than, 84, "twelve weeks");
        let Command::Runs(runs) = Args::try_parse_from(["jobs", "runs"]).unwrap().command else { panic!("not runs") };
        assert_eq!((runs.days, runs.limit), (14, 100));
        let Command::Run(run) = Args::try_parse_from(["jobs", "run", "J"]).unwrap().command else { panic!("not run") };
        assert_eq!(run.output_limit, 900_000);
    }
}
