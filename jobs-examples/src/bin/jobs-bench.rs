//! `jobs-bench`: the framework against hand-written loops, in one process so ratios are fair.
//!
//! ```text
//! cargo run --release -p jobs-examples --bin jobs-bench -- [--quick] [--explorations N]
//!     [--store PATH] [--threads T] [--repeat R] [--scale-check [--scale-store PATH]]
//! ```
//!
//! It seeds a temporary redb store with N explorations (1,000,000; 100,000 with `--quick`),
//! or uses `--store PATH` when that file already holds explorations, then runs
//! `InteractionAuditOneOffJob` through the engine and through three hand-written baselines
//! (`bench/baseline.rs`): one thread; every core over chunks found by a keys pass; every
//! core fed by one reading thread (one pass, as the engine reads). Every run's output must equal the
//! sequential baseline's, line for line. It prints one line per measurement, then a summary:
//! throughput, framework/baseline ratios, thread scaling, 64 against 8 shards, and the peak
//! resident memory of each, measured in a child process of its own (`bench/child.rs`);
//! `UsernameLengthDistributionOneOffJob` (over as many users) with and without its combiner;
//! and the audit's shuffle with a small report (`bench/state_count.rs`) in memory and under a
//! budget a tenth of its size, against a run that only decodes (the fixed overhead).
//! `--scale-check` also seeds 4 N explorations (minutes at N = 1,000,000) and compares the
//! budgeted run's peak memory there with N. With `--repeat R`, each time is the best of R runs.

#[path = "../bench/args.rs"]
mod args;
#[path = "../bench/baseline.rs"]
mod baseline;
#[path = "../bench/child.rs"]
mod child;
#[path = "../bench/state_count.rs"]
mod state_count;
#[path = "../bench/timely.rs"]
mod timely;
#[path = "../bench/timing.rs"]
mod timing;

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use jobs_core::{RedbStore, RunOptions, Store, engine};
use jobs_examples::demo::{self, SeedOptions};
use jobs_examples::{InteractionAuditOneOffJob, UsernameLengthDistributionOneOffJob};

use self::args::Args;
use self::child::{ChildReport, ChildRun};
use self::state_count::BenchStateCountJob;
use self::timing::{Contender, round_robin};

// The same allocator as the `jobs` binary, for the framework and the baselines alike: decoding
// allocates some thirty strings per exploration, and glibc's malloc spends much of the run
// consolidating them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The job's own default, which the headline runs use.
const DEFAULT_SHARDS: usize = 64;
/// The budgeted run's shuffle is this many times its budget.
const SHUFFLE_PER_BUDGET: u64 = 10;
/// The smallest budget the memory section uses.
const MIN_BUDGET: u64 = 1 << 20;
/// How much more the budgeted run at 4 N may peak than at N and still pass the scale check.
const SCALE_SLACK_KIB: u64 = 64 << 10;

fn main() -> Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some(child::FLAG) {
        return run_in_child(&argv[1..]);
    }
    let args = Args::parse(&argv)?;
    let (_temp, path) = prepare_store(args.store.as_deref(), args.explorations, args.explorations)?;
    let entities = RedbStore::open(&path)?.count("ExplorationModel")?;
    let file_mib = std::fs::metadata(&path)?.len() as f64 / f64::from(1 << 20);
    println!(
        "# InteractionAuditOneOffJob over {entities} explorations ({file_mib:.0} MiB redb file), {} threads, {} rounds",
        args.threads, args.repeat
    );
    // Untimed: the reference output, and the file in the page cache.
    let reference = run_sequential(&path)?;
    let all = args.threads;
    let framework = |name, threads, shards| Contender {
        name,
        threads,
        shards: Some(shards),
        checked: true,
        run: Box::new(move |p: &Path| run_framework(p, threads, shards)),
    };
    let parallel = |name, threads| Contender {
        name,
        threads,
        shards: None,
        checked: true,
        run: Box::new(move |p: &Path| run_parallel(p, threads)),
    };
    let mut headline = vec![
        Contender {
            name: "raw scan, no decode",
            threads: 1,
            shards: None,
            checked: false,
            run: Box::new(|p: &Path| {
                baseline::raw_scan(&baseline::open(p)?)?;
                Ok(Vec::new())
            }),
        },
        Contender {
            name: "baseline (a) sequential",
            threads: 1,
            shards: None,
            checked: true,
            run: Box::new(run_sequential),
        },
        parallel("baseline (b) parallel, chunks", all),
        Contender {
            name: "baseline (c) parallel, pipelined",
            threads: all,
            shards: None,
            checked: true,
            run: Box::new(move |p: &Path| baseline::pipelined(&baseline::open(p)?, all)),
        },
        framework("framework", all, DEFAULT_SHARDS),
    ];
    let times = round_robin(&path, entities, args.repeat, &reference, &mut headline)?;
    let [raw, seq, par, pipe, fw] = [times[0].best, times[1].best, times[2].best, times[3].best, times[4].best];
    let (par_cpu, pipe_cpu, fw_cpu) = (times[2].cpu, times[3].cpu, times[4].cpu);
    println!(
        "ratio  framework/parallel (b) {:.2}x  framework/pipelined (c) {:.2}x  framework/sequential {:.2}x",
        par / fw,
        pipe / fw,
        seq / fw
    );
    println!(
        "ratio  CPU time: (b)/framework {:.2}x  (c)/framework {:.2}x  sequential/framework {:.2}x",
        par_cpu / fw_cpu,
        pipe_cpu / fw_cpu,
        times[1].cpu / fw_cpu
    );

    let mut scaling = Vec::new();
    for threads in 1..=all {
        let mut pair =
            vec![parallel("scaling: baseline (b)", threads), framework("scaling: framework", threads, DEFAULT_SHARDS)];
        let times = round_robin(&path, entities, args.repeat, &reference, &mut pair)?;
        let (b, f) = (times[0].best, times[1].best);
        println!("ratio  framework/parallel at {threads} threads {:.2}x", b / f);
        scaling.push((threads, b, f));
    }

    let mut shard_counts = vec![framework("shards: framework", all, 8), framework("shards: framework", all, 64)];
    let times = round_robin(&path, entities, args.repeat, &reference, &mut shard_counts)?;
    let (eight, sixty_four) = (times[0].best, times[1].best);
    println!("ratio  time with 64 shards / with 8 shards {:.2}x", sixty_four / eight);

    let workers = (all / 2).max(1);
    let mut engines = vec![
        framework("timely: local engine", all, DEFAULT_SHARDS),
        Contender {
            name: "timely: 1 process",
            threads: all,
            shards: Some(DEFAULT_SHARDS),
            checked: true,
            run: Box::new(move |p: &Path| timely::one_process(p, all, DEFAULT_SHARDS)),
        },
        Contender {
            name: "timely: 2 processes, loopback",
            threads: 2 * workers,
            shards: Some(DEFAULT_SHARDS),
            checked: true,
            run: Box::new(move |p: &Path| timely::loopback_cluster(p, 2, workers, DEFAULT_SHARDS)),
        },
    ];
    let times = round_robin(&path, entities, args.repeat, &reference, &mut engines)?;
    let (local, one, two) = (times[0].best, times[1].best, times[2].best);
    println!(
        "ratio  time timely 1 process / local engine {:.2}x  2 processes / local engine {:.2}x",
        one / local,
        two / local
    );

    let digest = child::digest(&reference);
    let mut peaks = Vec::new();
    for (what, threads) in [("sequential", 1), ("parallel", all), ("pipelined", all), ("framework", all)] {
        let report = child::spawn(ChildRun { what, store: &path, threads, shards: DEFAULT_SHARDS, max_memory: None })?;
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
        let report = child::spawn(ChildRun { what, store: &path, threads: all, shards: 8, max_memory: None })?;
        let secs = report.micros as f64 / 1e6;
        println!(
            "memory {what:<32} threads={all:<3} peak RSS {:>7.1} MiB {secs:>8.3} s {:>8.0} k users/s {:>9} pairs",
            mib(report.peak_kib),
            users as f64 / secs / 1000.0,
            report.pairs
        );
        combiner.push(report);
    }
    let [plain, combined] = combiner[..] else { bail!("two combiner runs expected") };
    ensure!(
        plain.lines == combined.lines && plain.digest == combined.digest,
        "UsernameLengthDistributionOneOffJob's output changes with its combiner"
    );
    println!(
        "ratio  combiner on/off: time {:.2}x, peak RSS {:.2}x, pairs shuffled {} -> {}",
        combined.micros as f64 / plain.micros as f64,
        combined.peak_kib as f64 / plain.peak_kib as f64,
        plain.pairs,
        combined.pairs
    );

    let spill = measure_spill(&path, all)?;
    let scale = if args.scale_check { Some(scale_check(&args, &path, all, spill.budget)?) } else { None };

    println!("# summary ({entities} explorations, {all} threads)");
    println!("#   raw scan            {:>8.0} k/s", timing::rate(entities, raw));
    println!("#   baseline (a) 1 thr  {:>8.0} k/s", timing::rate(entities, seq));
    println!("#   baseline (b) {all} thr  {:>8.0} k/s (chunks)", timing::rate(entities, par));
    println!("#   baseline (c) {all} thr  {:>8.0} k/s (pipelined)", timing::rate(entities, pipe));
    let (best, best_cpu) = if pipe < par { (pipe, pipe_cpu) } else { (par, par_cpu) };
    println!(
        "#   framework {all} thr     {:>8.0} k/s   = {:.2}x the faster parallel baseline (CPU time: {:.2}x)",
        timing::rate(entities, fw),
        best / fw,
        best_cpu / fw_cpu
    );
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
        "#   combiner ({users} users): {:.2}x time ({:.3} -> {:.3} s), peak RSS {:.1} -> {:.1} MiB",
        combined.micros as f64 / plain.micros as f64,
        plain.micros as f64 / 1e6,
        combined.micros as f64 / 1e6,
        mib(plain.peak_kib),
        mib(combined.peak_kib)
    );
    spill.summarize();
    if let Some((at_n, at_4n)) = scale {
        println!(
            "#   scale: budgeted peak RSS {:.1} MiB at {entities}, {:.1} MiB at 4x ({:+.1} MiB)",
            mib(at_n.peak_kib),
            mib(at_4n.peak_kib),
            (at_4n.peak_kib as f64 - at_n.peak_kib as f64) / 1024.0
        );
    }
    Ok(())
}

/// The memory section's three runs of [`BenchStateCountJob`].
struct SpillFigures {
    /// Decoding only, no shuffle: the fixed overhead (binary, redb's cache, decode buffers).
    overhead: ChildReport,
    /// The whole shuffle in memory.
    in_memory: ChildReport,
    /// The shuffle's budget in the budgeted run, in bytes.
    budget: u64,
    /// The same run with a budget a tenth of its shuffle.
    budgeted: ChildReport,
}

impl SpillFigures {
    fn summarize(&self) {
        let shuffle_kib = self.in_memory.peak_kib.saturating_sub(self.overhead.peak_kib);
        println!(
            "#   shuffle past its budget: in memory {:.1} MiB (~{:.1}x the budget of {:.1} MiB); budgeted peak RSS {:.1} MiB = overhead {:.1} + budget {:.1} {:+.1} MiB; {:.0} MiB spilled; time {:.2}x",
            mib(self.in_memory.peak_kib),
            shuffle_kib as f64 * 1024.0 / self.budget as f64,
            self.budget as f64 / f64::from(1 << 20),
            mib(self.budgeted.peak_kib),
            mib(self.overhead.peak_kib),
            self.budget as f64 / f64::from(1 << 20),
            mib(self.budgeted.peak_kib) - mib(self.overhead.peak_kib) - self.budget as f64 / f64::from(1 << 20),
            self.budgeted.spilled_bytes as f64 / f64::from(1 << 20),
            self.budgeted.micros as f64 / self.in_memory.micros as f64
        );
    }
}

/// Runs [`BenchStateCountJob`] decoding only, with its shuffle in memory, and with a budget a
/// [`SHUFFLE_PER_BUDGET`]th of that shuffle (the in-memory run's peak above the decode-only
/// run's), each in a child process, and prints their peak memory.
fn measure_spill(path: &Path, threads: usize) -> Result<SpillFigures> {
    let run = |what, max_memory| ChildRun { what, store: path, threads, shards: DEFAULT_SHARDS, max_memory };
    let overhead = child::spawn(run("state-count-decode-only", None))?;
    let in_memory = child::spawn(run("state-count", None))?;
    ensure!(in_memory.spilled_bytes == 0, "the default budget should hold the state count's shuffle");
    let shuffle_bytes = in_memory.peak_kib.saturating_sub(overhead.peak_kib) * 1024;
    let budget = (shuffle_bytes / SHUFFLE_PER_BUDGET).max(MIN_BUDGET);
    let budgeted = child::spawn(run("state-count", Some(budget)))?;
    ensure!(
        budgeted.lines == in_memory.lines && budgeted.digest == in_memory.digest,
        "the budgeted state count's output differs from the in-memory one's"
    );
    ensure!(budgeted.spilled_bytes > 0, "the budgeted state count did not spill");
    for (what, report) in [("decode only (overhead)", &overhead), ("shuffle in memory", &in_memory)] {
        println!(
            "memory state count, {what:<25} threads={threads:<3} peak RSS {:>7.1} MiB {:>8.3} s",
            mib(report.peak_kib),
            report.micros as f64 / 1e6
        );
    }
    println!(
        "memory state count, budget {:>6.1} MiB       threads={threads:<3} peak RSS {:>7.1} MiB {:>8.3} s, {:.0} MiB spilled",
        budget as f64 / f64::from(1 << 20),
        mib(budgeted.peak_kib),
        budgeted.micros as f64 / 1e6,
        budgeted.spilled_bytes as f64 / f64::from(1 << 20)
    );
    Ok(SpillFigures { overhead, in_memory, budget, budgeted })
}

/// Runs the budgeted state count over `path` and over a store of 4 times as many
/// explorations, with the same budget, and compares their peak memory.
fn scale_check(args: &Args, path: &Path, threads: usize, budget: u64) -> Result<(ChildReport, ChildReport)> {
    let (_temp, large) = prepare_store(args.scale_store.as_deref(), args.explorations * 4, 1000)?;
    let run =
        |store| ChildRun { what: "state-count", store, threads, shards: DEFAULT_SHARDS, max_memory: Some(budget) };
    let at_n = child::spawn(run(path))?;
    let at_4n = child::spawn(run(&large))?;
    let large_count = RedbStore::open(&large)?.count("ExplorationModel")?;
    for (store, report) in [(path, &at_n), (large.as_path(), &at_4n)] {
        let count = RedbStore::open(store)?.count("ExplorationModel")?;
        println!(
            "scale  state count over {count:>9} explorations, budget {:.1} MiB: peak RSS {:>7.1} MiB {:>8.3} s",
            budget as f64 / f64::from(1 << 20),
            mib(report.peak_kib),
            report.micros as f64 / 1e6
        );
    }
    let grew = at_4n.peak_kib.saturating_sub(at_n.peak_kib);
    let verdict = if grew <= SCALE_SLACK_KIB { "within" } else { "OVER" };
    println!(
        "check  {large_count} explorations peak {:+.1} MiB against {}: {verdict} the {:.0} MiB slack",
        (at_4n.peak_kib as f64 - at_n.peak_kib as f64) / 1024.0,
        args.explorations,
        mib(SCALE_SLACK_KIB)
    );
    Ok((at_n, at_4n))
}

/// Seeds a temporary store with `explorations` explorations and `users` users, or uses `store`
/// if it already holds explorations (seeding it if it holds none).
fn prepare_store(
    store: Option<&Path>,
    explorations: usize,
    users: usize,
) -> Result<(Option<tempfile::TempDir>, std::path::PathBuf)> {
    let (temp, path) = match store {
        Some(path) => (None, path.to_owned()),
        None => {
            let dir = tempfile::tempdir().context("creating a temporary directory")?;
            let path = dir.path().join("bench.redb");
            (Some(dir), path)
        }
    };
    let store = RedbStore::open(&path)?;
    if store.count("ExplorationModel")? == 0 {
        let started = Instant::now();
        demo::seed(&store, &SeedOptions { explorations, users, seed: 42 })?;
        let secs = started.elapsed().as_secs_f64();
        println!("# seeded {explorations} explorations and {users} users in {secs:.1} s");
    }
    Ok((temp, path))
}

fn run_sequential(path: &Path) -> Result<Vec<String>> {
    baseline::sequential(&baseline::open(path)?)
}

fn run_parallel(path: &Path, threads: usize) -> Result<Vec<String>> {
    baseline::parallel(&baseline::open(path)?, threads)
}

fn run_framework(path: &Path, threads: usize, shards: usize) -> Result<Vec<String>> {
    let store = RedbStore::open(path)?;
    let options = RunOptions::default().with_threads(threads).with_shards(shards);
    let report = engine::run(&InteractionAuditOneOffJob, &store, &options)?;
    ensure!(report.stats.failures == 0, "the framework run had failures: {:?}", report.failures.first());
    Ok(report.output)
}

/// The hidden child mode: `--child <what> <store> <threads> <shards> <max-memory>`.
fn run_in_child(argv: &[String]) -> Result<()> {
    let [what, store, threads, shards, max_memory] = argv else {
        bail!("usage: {} <what> <store> <threads> <shards> <max-memory>", child::FLAG);
    };
    let path = Path::new(store);
    let threads: usize = threads.parse()?;
    let shards: usize = shards.parse()?;
    let max_memory = child::parse_max_memory(max_memory)?;
    let started = Instant::now();
    let (output, spilled, pairs) = match what.as_str() {
        "sequential" => (run_sequential(path)?, 0, 0),
        "parallel" => (run_parallel(path, threads)?, 0, 0),
        "pipelined" => (baseline::pipelined(&baseline::open(path)?, threads)?, 0, 0),
        "framework" => (run_framework(path, threads, shards)?, 0, 0),
        "usernames-combined" => run_usernames(path, threads, shards, true)?,
        "usernames-uncombined" => run_usernames(path, threads, shards, false)?,
        "state-count" => run_state_count(path, threads, shards, true, max_memory)?,
        "state-count-decode-only" => run_state_count(path, threads, shards, false, max_memory)?,
        other => bail!("unknown child run {other}"),
    };
    child::print_report(&output, started.elapsed(), spilled, pairs)
}

/// [`BenchStateCountJob`]: its output, bytes spilled and pairs shuffled.
fn run_state_count(
    path: &Path,
    threads: usize,
    shards: usize,
    emit: bool,
    max_memory: Option<u64>,
) -> Result<(Vec<String>, u64, u64)> {
    let store = RedbStore::open(path)?;
    let mut options = RunOptions::default().with_threads(threads).with_shards(shards);
    options.max_memory = max_memory;
    let report = engine::run(&BenchStateCountJob { emit }, &store, &options)?;
    ensure!(report.stats.failures == 0, "the state count had failures: {:?}", report.failures.first());
    Ok((report.output, report.spilled_bytes, report.pairs_shuffled))
}

/// `UsernameLengthDistributionOneOffJob`, with or without its map-side combiner: its output,
/// bytes spilled and pairs shuffled.
fn run_usernames(path: &Path, threads: usize, shards: usize, combine: bool) -> Result<(Vec<String>, u64, u64)> {
    let store = RedbStore::open(path)?;
    let options = RunOptions::default().with_threads(threads).with_shards(shards).with_combine(combine);
    let job = UsernameLengthDistributionOneOffJob { min_length: None };
    let report = engine::run(&job, &store, &options)?;
    ensure!(report.stats.failures == 0, "the username run had failures: {:?}", report.failures.first());
    Ok((report.output, report.spilled_bytes, report.pairs_shuffled))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
