//! `jobs-bench`: `jobs run` as users run it, against hand-written loops over the same store file.
//!
//! ```text
//! cargo run --release -p jobs-examples --bin jobs-bench -- [--quick] [--explorations N]
//!     [--store PATH] [--threads T] [--rounds R] [--scale-check [--scale-store PATH]]
//!     [--budget SIZE] [--jobs-binary PATH] [--beam PYTHON] [--lmdb]
//! ```
//!
//! It seeds a temporary redb store with N explorations (1,000,000; 100,000 with `--quick`), or
//! uses `--store PATH` when that file already holds explorations. Then, for R rounds (5 by
//! default), it starts each contender as a whole process of its own, in turn (the order
//! rotating from round to round, so load from elsewhere hits them alike):
//!
//! * the real `jobs` binary (the release build beside this one, system allocator):
//!   `jobs --store PATH run InteractionAuditOneOffJob --threads T`, and the same with
//!   `--engine timely`;
//! * the hand-written loops of `bench/baseline.rs`, started as `jobs-bench --baseline ...`;
//! * with `--beam PYTHON`, Apache Beam's Python SDK (`bench-python/beam_audit.py`, its
//!   `DirectRunner`) over the explorations exported once, untimed, with `jobs export`.
//!
//! Each process's stdout must equal the first framework run's, byte for byte (the raw scan,
//! which decodes nothing, excepted). For each contender it prints the median wall time with its
//! range, the throughput at the median, the median CPU time (user + system) and the peak
//! resident set, then `framework / fastest baseline` for throughput and for CPU time, the
//! growth of the store file per run, and the load average before and after. A memory section
//! runs `jobs run --max-memory` with a small budget (32 MiB, or `--budget SIZE`) and reports
//! its peak resident set, at N explorations and, with `--scale-check`, at 4 N.
//!
//! Two more modes take the same flags: `jobs-bench --scaling ...` times a two-process timely
//! cluster against one process (`bench/scaling.rs`), and `jobs-bench --phases ...` times each
//! phase of a `jobs run` beside the fastest loop's (`bench/phases.rs`).

#[path = "../bench/args.rs"]
mod args;
#[path = "../bench/baseline.rs"]
mod baseline;
#[path = "../bench/phases.rs"]
mod phases;
#[path = "../bench/process.rs"]
mod process;
#[path = "../bench/scaling.rs"]
mod scaling;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use jobs_core::Store;
use jobs_core::store::RedbStore;
use jobs_examples::demo::{self, SeedOptions};

use self::args::Args;
use self::process::Measured;

/// The hidden flag that copies a store's explorations into LMDB: `--lmdb-copy STORE DIR`.
#[cfg(feature = "lmdb")]
const LMDB_COPY_FLAG: &str = "--lmdb-copy";
/// The hidden flag that makes this binary a baseline: `--baseline NAME STORE THREADS`.
const BASELINE_FLAG: &str = "--baseline";
/// The job every contender computes.
const JOB: &str = "InteractionAuditOneOffJob";
/// A job whose report does not grow with the data (a few problems found), to show the
/// framework's own memory at 1 N and 4 N without a report held until it is printed.
const BOUNDED_OUTPUT_JOB: &str = "ExplorationValidityJob";

fn main() -> Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some(BASELINE_FLAG) {
        let [_, name, store, threads] = &argv[..] else {
            bail!("usage: jobs-bench {BASELINE_FLAG} NAME STORE THREADS")
        };
        return baseline::run(name, Path::new(store), threads.parse().context("THREADS")?);
    }
    #[cfg(feature = "lmdb")]
    if argv.first().map(String::as_str) == Some(LMDB_COPY_FLAG) {
        let [_, store, dir] = &argv[..] else { bail!("usage: jobs-bench {LMDB_COPY_FLAG} STORE DIR") };
        let copied = baseline::lmdb::copy(Path::new(store), Path::new(dir))?;
        println!("{copied}");
        return Ok(());
    }
    if argv.first().map(String::as_str) == Some("--scaling") {
        return scaling::run(&Args::parse(&argv[1..])?);
    }
    if argv.first().map(String::as_str) == Some("--phases") {
        return phases::run(&Args::parse(&argv[1..])?);
    }
    let args = Args::parse(&argv)?;
    let jobs = jobs_binary(&args)?;
    let work = tempfile::tempdir().context("creating a temporary directory")?;
    let path = prepare_store(args.store.as_deref(), work.path(), "bench.redb", args.explorations)?;
    let entities = RedbStore::open(&path)?.count("ExplorationModel")?;
    let threads = args.threads;
    println!(
        "# {JOB} over {entities} explorations ({:.0} MiB redb file), {threads} decoding threads, {} rounds, {} cores",
        file_mib(&path)?,
        args.rounds,
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    println!("# load average before: {}", process::load_average());

    let mut contenders = contenders(&jobs, &path, threads)?;
    #[cfg(feature = "lmdb")]
    if args.lmdb {
        contenders.extend(lmdb_contenders(&path, work.path(), threads)?);
    }
    if let Some(python) = &args.beam_python {
        contenders.push(beam(python, &jobs, &path, work.path())?);
    }
    // Untimed: the reference output, and the file in the page cache.
    let reference_path = work.path().join("reference.out");
    process::measure(&mut contenders[FRAMEWORK].command(), &reference_path)?;
    let reference_len = std::fs::metadata(&reference_path).context("reading the reference output")?.len();
    ensure!(reference_len > 0, "the framework printed no report");

    settle_disk();
    let mut measured: Vec<Vec<Measured>> = vec![Vec::new(); contenders.len()];
    // Growth in disk use and in apparent size: redb extends the file ahead of its pages,
    // sparsely, so the second can jump by the file's size while the first barely moves.
    let (mut store_growth, mut apparent_growth) = (0u64, 0u64);
    for round in 0..args.rounds {
        for offset in 0..contenders.len() {
            let index = (round + offset) % contenders.len();
            let contender = &contenders[index];
            let out = work.path().join(format!("{index}.out"));
            let before = std::fs::metadata(&path)?;
            let run = process::measure(&mut contender.command(), &out)?;
            if !contender.is_baseline {
                let after = std::fs::metadata(&path)?;
                store_growth = store_growth.max(disk_use(&after).saturating_sub(disk_use(&before)));
                apparent_growth = apparent_growth.max(after.len().saturating_sub(before.len()));
            }
            if contender.checked {
                let out = contender.writes_to.as_ref().unwrap_or(&out);
                if !process::same_bytes(out, &reference_path)? {
                    bail!(
                        "{}: its output differs from the framework's ({} bytes against {reference_len}); kept in {}",
                        contender.name,
                        std::fs::metadata(out)?.len(),
                        keep(out)?.display()
                    );
                }
            }
            measured[index].push(run);
        }
    }
    println!("# load average after:  {}", process::load_average());
    println!(
        "{:<44} {:>9} {:>17} {:>10} {:>9} {:>10}",
        "contender (whole process)", "median s", "range s", "k rec/s", "cpu s", "peak MiB"
    );
    let summaries: Vec<Summary> = measured.iter().map(|runs| Summary::of(runs)).collect();
    for (contender, summary) in contenders.iter().zip(&summaries) {
        println!(
            "{:<44} {:>9.3} {:>8.3}-{:<8.3} {:>10.0} {:>9.3} {:>10.1}",
            contender.name,
            summary.median_wall,
            summary.min_wall,
            summary.max_wall,
            entities as f64 / summary.median_wall / 1000.0,
            summary.median_cpu,
            summary.peak_mib
        );
    }
    let framework = &summaries[FRAMEWORK];
    let (fastest, best) = contenders
        .iter()
        .zip(&summaries)
        .filter(|(c, _)| c.is_baseline && c.checked && c.writes_to.is_none() && !c.other_store)
        .min_by(|a, b| a.1.median_wall.total_cmp(&b.1.median_wall))
        .context("no baseline")?;
    println!(
        "ratio  framework / fastest baseline ({}): throughput {:.2}x, CPU time {:.2}x (baseline CPU / framework CPU)",
        fastest.name,
        best.median_wall / framework.median_wall,
        best.median_cpu / framework.median_cpu
    );
    if let Some((beam, summary)) = contenders.iter().zip(&summaries).find(|(c, _)| c.writes_to.is_some()) {
        println!(
            "ratio  framework / {}: throughput {:.1}x, CPU time {:.1}x",
            beam.name,
            summary.median_wall / framework.median_wall,
            summary.median_cpu / framework.median_cpu
        );
    }
    println!(
        "memory peak RSS figures at or below {:.1} MiB (this bench's own peak) only say \"at most that\": Linux reports a child's peak as at least its parent's",
        process::own_peak_kib() as f64 / 1024.0
    );
    let disk_now = disk_use(&std::fs::metadata(&path)?);
    println!(
        "store  the file's disk use grew by at most {:.2} MiB per run ({:.0} MiB now); its apparent size by at most \
         {:.2} MiB ({:.0} MiB now: redb extends the file sparsely, ahead of its pages)",
        store_growth as f64 / f64::from(1 << 20),
        disk_now as f64 / f64::from(1 << 20),
        apparent_growth as f64 / f64::from(1 << 20),
        file_mib(&path)?
    );

    settle_disk();
    memory_section(&args, &jobs, &path, work.path(), threads)?;
    Ok(())
}

/// Writes out what the bench itself left to write (the exported explorations, the outputs it
/// compared) before timing more: on ext4, a run's `fdatasync` (recording the run) otherwise
/// waits for other files' pending data too, and a run here took ten times its time so.
fn settle_disk() {
    // Only makes the timing steadier: a machine without `sync` times as before.
    let _ = Command::new("sync").status();
}

/// The index of `jobs run` (local engine) in [`contenders`].
const FRAMEWORK: usize = 0;

/// One process to time.
struct Contender {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    /// Whether its output must equal the reference.
    checked: bool,
    /// A hand-written loop, rather than the framework.
    is_baseline: bool,
    /// The file it writes its output to, when not stdout.
    writes_to: Option<PathBuf>,
    /// It reads another store than `jobs run` does (a copy in LMDB), so it compares stores,
    /// not the framework with a loop, and is left out of the ratio.
    other_store: bool,
}

impl Contender {
    /// The hand-written loop `name` of `bench/baseline.rs` over `store`, started as this binary
    /// with `--baseline`; checked against the report unless it is a raw scan.
    fn baseline(bench: &Path, name: &str, what: &str, store: &str, threads: usize) -> Contender {
        Contender {
            name: format!("hand-written: {what}"),
            program: bench.to_owned(),
            args: vec![BASELINE_FLAG.to_owned(), name.to_owned(), store.to_owned(), threads.to_string()],
            checked: !name.ends_with("raw"),
            is_baseline: true,
            writes_to: None,
            other_store: false,
        }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args);
        command
    }
}

fn contenders(jobs: &Path, store: &Path, threads: usize) -> Result<Vec<Contender>> {
    let store = store.to_str().context("the store's path is not UTF-8")?.to_owned();
    let bench = std::env::current_exe().context("finding the bench binary")?;
    let run = |engine: &str| {
        let mut args = vec!["--store".to_owned(), store.clone(), "run".into(), JOB.into()];
        if engine == "local" {
            args.extend(["--threads".to_owned(), threads.to_string()]);
        } else {
            args.extend(["--engine".to_owned(), engine.to_owned(), "--workers".to_owned(), threads.to_string()]);
        }
        Contender {
            name: format!("jobs run {JOB} --engine {engine}"),
            program: jobs.to_owned(),
            args,
            checked: true,
            is_baseline: false,
            writes_to: None,
            other_store: false,
        }
    };
    let baseline = |name: &str, what: &str| Contender::baseline(&bench, name, what, &store, threads);
    Ok(vec![
        run("local"),
        run("timely"),
        baseline("raw", "raw scan, no decode"),
        baseline("owned", "reader + decoders, owned model"),
        baseline("projected", "reader + decoders, borrowed view"),
        baseline("scanners", "parallel scanners, borrowed view"),
    ])
}

/// The raw scan and the scanners' audit over an LMDB copy of the store, made here, untimed.
#[cfg(feature = "lmdb")]
fn lmdb_contenders(store: &Path, work: &Path, threads: usize) -> Result<Vec<Contender>> {
    let dir = work.join("lmdb");
    let bench = std::env::current_exe().context("finding the bench binary")?;
    let copy = Command::new(&bench).arg(LMDB_COPY_FLAG).arg(store).arg(&dir).output().context("copying into LMDB")?;
    ensure!(copy.status.success(), "copying into LMDB failed: {}", String::from_utf8_lossy(&copy.stderr));
    let copied = String::from_utf8_lossy(&copy.stdout).trim().to_owned();
    let size: u64 = std::fs::read_dir(&dir)?.map(|e| e.and_then(|e| e.metadata()).map_or(0, |m| m.len())).sum();
    println!("# copied {copied} explorations into LMDB ({:.0} MiB)", size as f64 / 1048576.0);
    let dir = dir.to_str().context("the temporary directory's path is not UTF-8")?.to_owned();
    let contender = |name: &str, what: &str| Contender {
        other_store: true,
        ..Contender::baseline(&bench, name, what, &dir, threads)
    };
    Ok(vec![
        contender("lmdb-raw", "LMDB raw scan, no decode"),
        contender("lmdb-scanners", "LMDB parallel scanners, borrowed view"),
    ])
}

/// Apache Beam's Python SDK running the audit (`bench-python/beam_audit.py`, `DirectRunner`)
/// over the explorations, exported here once, untimed, as JSON lines.
fn beam(python: &Path, jobs: &Path, store: &Path, work: &Path) -> Result<Contender> {
    let exported = work.join("explorations.jsonl");
    let status = Command::new(jobs)
        .arg("--store")
        .arg(store)
        .args(["export", "ExplorationModel", "-o"])
        .arg(&exported)
        .status()
        .context("starting jobs export")?;
    ensure!(status.success(), "jobs export failed: {status}");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-python").join("beam_audit.py");
    let writes_to = work.join("beam.out");
    let path = |p: &Path| p.to_str().map(str::to_owned).context("a path that is not UTF-8");
    Ok(Contender {
        name: "Apache Beam (Python, DirectRunner)".to_owned(),
        program: python.to_owned(),
        args: vec![path(&script)?, path(&exported)?, path(&writes_to)?, "--runner".into(), "DirectRunner".into()],
        checked: true,
        is_baseline: true,
        writes_to: Some(writes_to),
        other_store: false,
    })
}

/// Median, range, CPU and peak memory of one contender's runs, in seconds and MiB.
struct Summary {
    median_wall: f64,
    min_wall: f64,
    max_wall: f64,
    median_cpu: f64,
    peak_mib: f64,
}

impl Summary {
    fn of(runs: &[Measured]) -> Summary {
        let median = |mut values: Vec<f64>| {
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        let walls: Vec<f64> = runs.iter().map(|r| r.wall.as_secs_f64()).collect();
        Summary {
            median_wall: median(walls.clone()),
            min_wall: walls.iter().copied().fold(f64::MAX, f64::min),
            max_wall: walls.iter().copied().fold(0.0, f64::max),
            median_cpu: median(runs.iter().map(|r| r.cpu.as_secs_f64()).collect()),
            peak_mib: runs.iter().map(|r| r.peak_kib).max().unwrap_or(0) as f64 / 1024.0,
        }
    }
}

/// `jobs run --max-memory` with a small budget: its peak resident set at N explorations, and
/// with `--scale-check` at 4 N; for the audit, whose report grows with the data (one line per
/// interaction, listing every state), and for [`BOUNDED_OUTPUT_JOB`], whose report does not.
fn memory_section(args: &Args, jobs: &Path, path: &Path, work: &Path, threads: usize) -> Result<()> {
    let budgeted = |job: &str, store: &Path| -> Result<(Measured, u64, u64)> {
        let mut command = Command::new(jobs);
        command.arg("--store").arg(store).args(["run", job, "--threads", &threads.to_string()]);
        command.args(["--max-memory", &args.budget]);
        let count = RedbStore::open(store)?.count("ExplorationModel")?;
        let out = work.join("budgeted.out");
        let run = process::measure(&mut command, &out)?;
        let report_bytes = std::fs::metadata(&out).with_context(|| format!("reading {}", out.display()))?.len();
        Ok((run, count, report_bytes))
    };
    let mut stores = vec![path.to_owned()];
    if args.scale_check {
        stores.push(match &args.scale_store {
            Some(large) => prepare_store(Some(large), work, "", args.explorations * 4)?,
            None => prepare_store(None, work, "scale.redb", args.explorations * 4)?,
        });
    }
    for job in [JOB, BOUNDED_OUTPUT_JOB] {
        let mut peaks = Vec::with_capacity(stores.len());
        for store in &stores {
            peaks.push(budgeted(job, store)?);
        }
        for (run, count, report_bytes) in &peaks {
            println!(
                "memory jobs run {job} --max-memory {} over {count} explorations: peak RSS {:.1} MiB, {:.3} s, \
                 report {:.1} MiB",
                args.budget,
                run.peak_kib as f64 / 1024.0,
                run.wall.as_secs_f64(),
                *report_bytes as f64 / 1048576.0
            );
        }
        if let [(small, ..), (large, ..)] = &peaks[..] {
            println!(
                "memory {job}: peak at 4x the data / at 1x: {:.2}x",
                large.peak_kib as f64 / small.peak_kib as f64
            );
        }
    }
    Ok(())
}

/// The `jobs` binary: `--jobs-binary`, or the one built beside this binary.
fn jobs_binary(args: &Args) -> Result<PathBuf> {
    let path = match &args.jobs_binary {
        Some(path) => path.clone(),
        None => std::env::current_exe().context("finding the bench binary")?.with_file_name("jobs"),
    };
    ensure!(
        path.is_file(),
        "no `jobs` binary at {}: build it first (cargo build --release -p jobs-examples) or pass --jobs-binary",
        path.display()
    );
    Ok(path)
}

/// The store to measure: `store` if given (seeded if it holds no explorations), else a new
/// file `name` in `dir`, seeded with `explorations` explorations and as many users.
fn prepare_store(store: Option<&Path>, dir: &Path, name: &str, explorations: usize) -> Result<PathBuf> {
    let path = store.map_or_else(|| dir.join(name), Path::to_owned);
    let store = RedbStore::open(&path)?;
    if store.count("ExplorationModel")? == 0 {
        let started = Instant::now();
        demo::seed(&store, &SeedOptions { explorations, users: explorations, seed: 42 })?;
        println!("# seeded {explorations} explorations into {} in {:.1} s", path.display(), secs(started.elapsed()));
    }
    Ok(path)
}

/// Moves a mismatching output out of the temporary directory, so it can be looked at.
fn keep(out: &Path) -> Result<PathBuf> {
    let kept = std::env::temp_dir().join(format!("jobs-bench-mismatch-{}.out", std::process::id()));
    std::fs::copy(out, &kept).with_context(|| format!("keeping {}", out.display()))?;
    Ok(kept)
}

fn file_mib(path: &Path) -> Result<f64> {
    Ok(std::fs::metadata(path)?.len() as f64 / f64::from(1 << 20))
}

/// The bytes a file takes on disk (its allocated blocks), which a sparse file's length is not.
fn disk_use(metadata: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    metadata.blocks().saturating_mul(512)
}

fn secs(duration: Duration) -> f64 {
    duration.as_secs_f64()
}
