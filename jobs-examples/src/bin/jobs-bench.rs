//! `jobs-bench`: the framework against hand-written loops, in one process so ratios are fair.
//!
//! ```text
//! cargo run --release -p jobs-examples --bin jobs-bench -- [--quick] [--explorations N]
//!     [--store PATH] [--threads T] [--repeat R]
//! ```
//!
//! It seeds a temporary redb store with N explorations (1,000,000; 100,000 with `--quick`),
//! or uses `--store PATH` when that file already holds explorations, then runs
//! `InteractionAuditOneOffJob` through the engine and through two hand-written baselines
//! (`bench/baseline.rs`): one thread, and every core. Every run's output must equal the
//! sequential baseline's, line for line. It prints one line per measurement, then a summary:
//! throughput, framework/baseline ratios, thread scaling, 64 against 8 shards, and the peak
//! resident memory of each, measured in a child process of its own (`bench/child.rs`); and
//! `UsernameLengthDistributionOneOffJob` (over as many users) with and without its combiner.
//! With `--repeat R`, each time is the best of R runs.

#[path = "../bench/args.rs"]
mod args;
#[path = "../bench/baseline.rs"]
mod baseline;
#[path = "../bench/child.rs"]
mod child;
#[path = "../bench/timely.rs"]
mod timely;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use jobs_core::{RedbStore, RunOptions, Store, engine};
use jobs_examples::demo::{self, SeedOptions};
use jobs_examples::{InteractionAuditOneOffJob, UsernameLengthDistributionOneOffJob};

use self::args::Args;

/// The job's own default, which the headline runs use.
const DEFAULT_SHARDS: usize = 64;

fn main() -> Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some(child::FLAG) {
        return run_in_child(&argv[1..]);
    }
    let args = Args::parse(&argv)?;
    let (_temp, path) = prepare_store(&args)?;
    let entities = RedbStore::open(&path)?.count("ExplorationModel")?;
    let file_mib = std::fs::metadata(&path)?.len() as f64 / f64::from(1 << 20);
    println!(
        "# InteractionAuditOneOffJob over {entities} explorations ({file_mib:.0} MiB redb file), {} threads, best of {}",
        args.threads, args.repeat
    );
    let bench = Bench { path: &path, entities, repeat: args.repeat };

    let raw = bench.time("raw scan, no decode", 1, None, |path| {
        baseline::raw_scan(&baseline::open(path)?)?;
        Ok(Vec::new())
    })?;
    let (seq, reference) = bench.measure("baseline (a) sequential", 1, None, run_sequential)?;
    let all = args.threads;
    let par = bench.check("baseline (b) parallel", all, None, &reference, |p| run_parallel(p, all))?;
    let fw =
        bench.check("framework", all, Some(DEFAULT_SHARDS), &reference, |p| run_framework(p, all, DEFAULT_SHARDS))?;
    println!("ratio  framework/parallel {:.2}x  framework/sequential {:.2}x", par / fw, seq / fw);

    let mut scaling = Vec::new();
    for threads in 1..=all {
        let b = bench.check("scaling: baseline (b)", threads, None, &reference, |p| run_parallel(p, threads))?;
        let f = bench.check("scaling: framework", threads, Some(DEFAULT_SHARDS), &reference, |p| {
            run_framework(p, threads, DEFAULT_SHARDS)
        })?;
        println!("ratio  framework/parallel at {threads} threads {:.2}x", b / f);
        scaling.push((threads, b, f));
    }

    let eight = bench.check("shards: framework", all, Some(8), &reference, |p| run_framework(p, all, 8))?;
    let sixty_four = bench.check("shards: framework", all, Some(64), &reference, |p| run_framework(p, all, 64))?;
    println!("ratio  time with 64 shards / with 8 shards {:.2}x", sixty_four / eight);

    let one = bench.check("timely: 1 process", all, Some(DEFAULT_SHARDS), &reference, |p| {
        timely::one_process(p, all, DEFAULT_SHARDS)
    })?;
    let workers = (all / 2).max(1);
    let two = bench.check("timely: 2 processes, loopback", 2 * workers, Some(DEFAULT_SHARDS), &reference, |p| {
        timely::loopback_cluster(p, 2, workers, DEFAULT_SHARDS)
    })?;
    println!(
        "ratio  time timely 1 process / local engine {:.2}x  2 processes / local engine {:.2}x",
        one / fw,
        two / fw
    );

    let digest = child::digest(&reference);
    let mut peaks = Vec::new();
    for (what, threads) in [("sequential", 1), ("parallel", all), ("framework", all)] {
        let report = child::spawn(what, &path, threads, DEFAULT_SHARDS)?;
        ensure!(
            report.lines == reference.len() && report.digest == digest,
            "the {what} child's output differs from the sequential baseline's"
        );
        println!("memory {what:<32} threads={threads:<3} peak RSS {:>7.1} MiB", mib(report.peak_kib));
        peaks.push((what, report.peak_kib));
    }

    let users = RedbStore::open(&path)?.count("UserSettingsModel")?;
    let mut combiner = Vec::new();
    for what in ["usernames-uncombined", "usernames-combined"] {
        let report = child::spawn(what, &path, all, 8)?;
        let secs = report.micros as f64 / 1e6;
        println!(
            "memory {what:<32} threads={all:<3} peak RSS {:>7.1} MiB {secs:>8.3} s {:>8.0} k users/s",
            mib(report.peak_kib),
            users as f64 / secs / 1000.0
        );
        combiner.push(report);
    }
    let [plain, combined] = combiner[..] else { bail!("two combiner runs expected") };
    ensure!(
        plain.lines == combined.lines && plain.digest == combined.digest,
        "UsernameLengthDistributionOneOffJob's output changes with its combiner"
    );

    println!("# summary ({entities} explorations, {all} threads)");
    println!("#   raw scan            {:>8.0} k/s", bench.rate(raw));
    println!("#   baseline (a) 1 thr  {:>8.0} k/s", bench.rate(seq));
    println!("#   baseline (b) {all} thr  {:>8.0} k/s", bench.rate(par));
    println!("#   framework {all} thr     {:>8.0} k/s   = {:.2}x parallel baseline", bench.rate(fw), par / fw);
    if let (Some(first), Some(last)) = (scaling.first(), scaling.last()) {
        println!(
            "#   scaling 1 -> {} threads: framework {:.2}x, baseline {:.2}x",
            last.0,
            first.2 / last.2,
            first.1 / last.1
        );
    }
    println!("#   64 shards cost {:+.1}% time against 8", (sixty_four / eight - 1.0) * 100.0);
    for (what, kib) in peaks {
        println!("#   peak RSS {what:<11} {:>7.1} MiB", mib(kib));
    }
    println!(
        "#   combiner ({users} users): {:.2}x time, peak RSS {:.1} -> {:.1} MiB",
        combined.micros as f64 / plain.micros as f64,
        mib(plain.peak_kib),
        mib(combined.peak_kib)
    );
    Ok(())
}

/// Seeds a temporary store, or uses `--store` if it already holds explorations.
fn prepare_store(args: &Args) -> Result<(Option<tempfile::TempDir>, std::path::PathBuf)> {
    let (temp, path) = match &args.store {
        Some(path) => (None, path.clone()),
        None => {
            let dir = tempfile::tempdir().context("creating a temporary directory")?;
            let path = dir.path().join("bench.redb");
            (Some(dir), path)
        }
    };
    let store = RedbStore::open(&path)?;
    if store.count("ExplorationModel")? == 0 {
        let started = Instant::now();
        demo::seed(&store, &SeedOptions { explorations: args.explorations, users: args.explorations, seed: 42 })?;
        let secs = started.elapsed().as_secs_f64();
        println!("# seeded {n} explorations and {n} users in {secs:.1} s", n = args.explorations);
    }
    Ok((temp, path))
}

/// Times measurements over one store.
struct Bench<'a> {
    path: &'a Path,
    entities: u64,
    repeat: usize,
}

impl Bench<'_> {
    /// Runs `run` `repeat` times; prints and returns the best time (s) and the last output.
    fn measure(
        &self,
        name: &str,
        threads: usize,
        shards: Option<usize>,
        mut run: impl FnMut(&Path) -> Result<Vec<String>>,
    ) -> Result<(f64, Vec<String>)> {
        let mut best = Duration::MAX;
        let mut output = Vec::new();
        for _ in 0..self.repeat {
            drop(std::mem::take(&mut output)); // freeing the previous output is not timed
            let started = Instant::now();
            output = run(self.path)?;
            best = best.min(started.elapsed());
        }
        let secs = best.as_secs_f64();
        let shards = shards.map_or_else(|| "-".to_owned(), |s| s.to_string());
        println!(
            "run    {name:<32} threads={threads:<3} shards={shards:<3} {secs:>8.3} s {:>8.0} k entities/s",
            self.rate(secs)
        );
        Ok((secs, output))
    }

    /// [`measure`](Self::measure), ignoring the output.
    fn time(
        &self,
        name: &str,
        threads: usize,
        shards: Option<usize>,
        run: impl FnMut(&Path) -> Result<Vec<String>>,
    ) -> Result<f64> {
        Ok(self.measure(name, threads, shards, run)?.0)
    }

    /// [`measure`](Self::measure), failing unless the output equals `reference`.
    fn check(
        &self,
        name: &str,
        threads: usize,
        shards: Option<usize>,
        reference: &[String],
        run: impl FnMut(&Path) -> Result<Vec<String>>,
    ) -> Result<f64> {
        let (secs, output) = self.measure(name, threads, shards, run)?;
        if output != reference {
            let first = output.iter().zip(reference).position(|(a, b)| a != b);
            bail!(
                "{name} ({threads} threads): output differs from the sequential baseline's (first at line {first:?})"
            );
        }
        Ok(secs)
    }

    /// Thousands of entities per second.
    fn rate(&self, secs: f64) -> f64 {
        self.entities as f64 / secs / 1000.0
    }
}

fn run_sequential(path: &Path) -> Result<Vec<String>> {
    baseline::sequential(&baseline::open(path)?)
}

fn run_parallel(path: &Path, threads: usize) -> Result<Vec<String>> {
    baseline::parallel(&baseline::open(path)?, threads)
}

fn run_framework(path: &Path, threads: usize, shards: usize) -> Result<Vec<String>> {
    let store = RedbStore::open(path)?;
    let options = RunOptions { threads: Some(threads), shards: Some(shards), ..RunOptions::default() };
    let report = engine::run(&InteractionAuditOneOffJob, &store, &options)?;
    ensure!(report.stats.failures == 0, "the framework run had failures: {:?}", report.failures.first());
    Ok(report.output)
}

/// The hidden child mode: `--child <sequential|parallel|framework> <store> <threads> <shards>`.
fn run_in_child(argv: &[String]) -> Result<()> {
    let [what, store, threads, shards] = argv else {
        bail!("usage: {} <what> <store> <threads> <shards>", child::FLAG);
    };
    let path = Path::new(store);
    let threads: usize = threads.parse()?;
    let shards: usize = shards.parse()?;
    let started = Instant::now();
    let output = match what.as_str() {
        "sequential" => run_sequential(path)?,
        "parallel" => run_parallel(path, threads)?,
        "framework" => run_framework(path, threads, shards)?,
        "usernames-combined" => run_usernames(path, threads, shards, true)?,
        "usernames-uncombined" => run_usernames(path, threads, shards, false)?,
        other => bail!("unknown child run {other}"),
    };
    child::print_report(&output, started.elapsed())
}

/// `UsernameLengthDistributionOneOffJob`, with or without its map-side combiner.
fn run_usernames(path: &Path, threads: usize, shards: usize, combine: bool) -> Result<Vec<String>> {
    let store = RedbStore::open(path)?;
    let options = RunOptions { threads: Some(threads), shards: Some(shards), combine, ..RunOptions::default() };
    let job = UsernameLengthDistributionOneOffJob { min_length: None };
    let report = engine::run(&job, &store, &options)?;
    ensure!(report.stats.failures == 0, "the username run had failures: {:?}", report.failures.first());
    Ok(report.output)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
