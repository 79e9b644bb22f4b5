//! The bench's command line, parsed by hand: a handful of flags does not need clap.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

/// Explorations seeded by default.
const FULL: usize = 1_000_000;
/// Explorations seeded with `--quick`.
const QUICK: usize = 100_000;
/// Rounds of each timed comparison unless `--repeat` says otherwise.
const DEFAULT_ROUNDS: usize = 3;

/// What to measure.
#[derive(Debug)]
pub struct Args {
    /// Explorations to seed.
    pub explorations: usize,
    /// A store to use (and seed, if it holds no explorations) instead of a temporary one.
    pub store: Option<PathBuf>,
    /// The most threads to use; every core by default.
    pub threads: usize,
    /// Rounds of each timed comparison; each run's best time counts.
    pub repeat: usize,
    /// Also compare the peak memory of a budgeted run over 4 times as many explorations.
    pub scale_check: bool,
    /// A store for the scale check (seeded with 4 N explorations if it holds none).
    pub scale_store: Option<PathBuf>,
}

/// The usage line.
const USAGE: &str = "usage: jobs-bench [--quick] [--explorations N] [--store PATH] [--threads T] [--repeat R] \
                     [--scale-check [--scale-store PATH]]";

impl Args {
    /// Parses the arguments after the program name.
    pub fn parse(argv: &[String]) -> Result<Args> {
        let mut args = Args {
            explorations: FULL,
            store: None,
            threads: jobs_core::engine::default_threads(),
            repeat: DEFAULT_ROUNDS,
            scale_check: false,
            scale_store: None,
        };
        let mut rest = argv.iter();
        while let Some(flag) = rest.next() {
            let mut value = || rest.next().with_context(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--quick" => args.explorations = QUICK,
                "--explorations" => args.explorations = value()?.parse().context("--explorations")?,
                "--store" => args.store = Some(PathBuf::from(value()?)),
                "--threads" => args.threads = value()?.parse::<usize>().context("--threads")?.max(1),
                "--repeat" => args.repeat = value()?.parse::<usize>().context("--repeat")?.max(1),
                "--scale-check" => args.scale_check = true,
                "--scale-store" => args.scale_store = Some(PathBuf::from(value()?)),
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
