//! The bench's command line, parsed by hand: a handful of flags does not need clap.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

/// Explorations seeded by default.
const FULL: usize = 1_000_000;
/// Explorations seeded with `--quick`.
const QUICK: usize = 100_000;
/// The memory section's budget unless `--budget` says otherwise.
const DEFAULT_BUDGET: &str = "32MiB";
/// Rounds unless `--rounds` says otherwise: enough for a median and a range.
const DEFAULT_ROUNDS: usize = 5;

/// What to measure.
#[derive(Debug)]
pub struct Args {
    /// Explorations to seed.
    pub explorations: usize,
    /// A store to use (and seed, if it holds no explorations) instead of a temporary one.
    pub store: Option<PathBuf>,
    /// Decoding threads for the baselines and `--threads` for `jobs run`; every core by default.
    pub threads: usize,
    /// Rounds; every contender runs once per round, in turn.
    pub rounds: usize,
    /// Also measure `jobs run --max-memory` over a store of 4 times as many explorations.
    pub scale_check: bool,
    /// A store for the scale check (seeded with 4 N explorations if it holds none).
    pub scale_store: Option<PathBuf>,
    /// The memory section's `--max-memory`, as `jobs run` takes it.
    pub budget: String,
    /// The `jobs` binary to time; the one beside this binary by default.
    pub jobs_binary: Option<PathBuf>,
    /// A Python with `apache_beam` installed: also time `bench-python/beam_audit.py` on it,
    /// over the explorations exported once, untimed, with `jobs export`.
    pub beam_python: Option<PathBuf>,
    /// Also time the raw scan and the scanners' audit over an LMDB copy of the store (built
    /// with the `lmdb` feature).
    pub lmdb: bool,
}

/// The usage line.
pub const USAGE: &str = "usage: jobs-bench [--scaling | --phases] [--quick] [--explorations N] [--store PATH] \
                         [--threads T] [--rounds R] [--scale-check [--scale-store PATH]] [--budget SIZE] \
                         [--jobs-binary PATH] [--beam PYTHON] [--lmdb]";

impl Args {
    /// Parses the arguments after the program name.
    ///
    /// # Errors
    /// An unknown flag, a missing value, or a value that is not a number.
    pub fn parse(argv: &[String]) -> Result<Args> {
        let mut args = Args {
            explorations: FULL,
            store: None,
            threads: jobs_core::engine::default_threads(),
            rounds: DEFAULT_ROUNDS,
            scale_check: false,
            scale_store: None,
            budget: DEFAULT_BUDGET.to_owned(),
            jobs_binary: None,
            beam_python: None,
            lmdb: false,
        };
        let mut rest = argv.iter();
        while let Some(flag) = rest.next() {
            let mut value = || rest.next().with_context(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--quick" => args.explorations = QUICK,
                "--explorations" => args.explorations = value()?.parse().context("--explorations")?,
                "--store" => args.store = Some(PathBuf::from(value()?)),
                "--threads" => args.threads = value()?.parse::<usize>().context("--threads")?.max(1),
                "--rounds" | "--repeat" => args.rounds = value()?.parse::<usize>().context("--rounds")?.max(1),
                "--scale-check" => args.scale_check = true,
                "--scale-store" => args.scale_store = Some(PathBuf::from(value()?)),
                "--budget" => args.budget = value()?.clone(),
                "--jobs-binary" => args.jobs_binary = Some(PathBuf::from(value()?)),
                "--beam" => args.beam_python = Some(PathBuf::from(value()?)),
                "--lmdb" if cfg!(feature = "lmdb") => args.lmdb = true,
                "--lmdb" => bail!(
                    "--lmdb needs the bench built with LMDB: cargo build --release -p jobs-examples --features lmdb"
                ),
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other}; try --help"),
            }
        }
        Ok(args)
    }
}
