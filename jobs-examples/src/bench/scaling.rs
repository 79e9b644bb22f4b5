//! `jobs-bench --scaling`: the speed-up of a two-process timely cluster over one process, each
//! process pinned to a core of its own.
//!
//! ```text
//! jobs-bench --scaling [--quick | --explorations N] [--store PATH] [--rounds R] [--jobs-binary PATH]
//! ```
//!
//! Both contenders are whole `jobs` processes over the same redb file (seeded as the main bench
//! seeds it), run in turn, round after round (the order alternating, so load from elsewhere
//! hits them alike):
//!
//! * **one process**: `taskset -c 0 jobs run JOB --engine timely --workers 1`;
//! * **two processes**: the same with `--processes 2 --hosts FILE`, process 0 under
//!   `taskset -c 0` and process 1 under `taskset -c 1`, started together on free loopback
//!   ports; its time runs from starting both to both having exited.
//!
//! The job is `ExplorationValidityJob`: it decodes every exploration whole and emits only the
//! few problems it finds, so decoding dominates and the shuffle is small: what more cores
//! should speed up. Process 0's stdout must equal the single process's, byte for byte, and
//! process 1 must print nothing. It prints the load average before and after, each
//! contender's median wall time with its range and the CPU time of each process, then the
//! speed-up (single median / pair median) and the range of the round-by-round ratios.
//!
//! A redb file, not PostgreSQL: on one machine the server would be a third busy process on
//! the same two cores, while redb is read inside each process (through the page cache, which
//! an untimed first run fills).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use jobs_core::Store;
use jobs_core::store::RedbStore;

use super::args::Args;
use super::process::{self, Measured};

/// The job timed: a full decode of every exploration, a small shuffle.
const JOB: &str = "ExplorationValidityJob";
/// Shards of the model: many, so the two processes' halves (tasks alternate between the
/// workers) are about equal.
const SHARDS: &str = "32";
/// The speed-up the issue asks two pinned processes to reach.
const TARGET: f64 = 1.7;

/// Runs the scaling bench with the main bench's arguments (`--threads` does not apply: each
/// process has one worker).
///
/// # Errors
/// No `jobs` binary or `taskset`, a store that cannot be seeded, a process that fails, or an
/// output that differs.
pub fn run(args: &Args) -> Result<()> {
    let jobs = super::jobs_binary(args)?;
    ensure!(
        Command::new("taskset").arg("-V").output().is_ok_and(|out| out.status.success()),
        "--scaling pins processes with `taskset` (util-linux), which is not installed"
    );
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    ensure!(cores >= 2, "--scaling needs 2 cores to pin two processes to; this machine has {cores}");
    let work = tempfile::tempdir().context("creating a temporary directory")?;
    let path = super::prepare_store(args.store.as_deref(), work.path(), "bench.redb", args.explorations)?;
    let entities = RedbStore::open(&path)?.count("ExplorationModel")?;
    let hosts = work.path().join("hosts");
    println!(
        "# scaling: {JOB} over {entities} explorations ({:.0} MiB redb file), --shards {SHARDS}, {} rounds, {cores} cores",
        super::file_mib(&path)?,
        args.rounds
    );
    println!("# one process on core 0 against two processes on cores 0 and 1, one timely worker each");
    println!("# load average before: {}", process::load_average());

    // Untimed: the reference output, and the file in the page cache.
    let reference_path = work.path().join("reference.out");
    process::measure(&mut single(&jobs, &path), &reference_path)?;
    let reference = reference_path.as_path();

    let mut singles = Vec::with_capacity(args.rounds);
    let mut pairs = Vec::with_capacity(args.rounds);
    for round in 0..args.rounds {
        for turn in 0..2 {
            if (round + turn) % 2 == 0 {
                let out = work.path().join("single.out");
                singles.push(process::measure(&mut single(&jobs, &path), &out)?);
                check_output(&out, reference, "one process")?;
            } else {
                pairs.push(pair(&jobs, &path, &hosts, work.path(), reference)?);
            }
        }
    }
    println!("# load average after:  {}", process::load_average());

    let single_walls: Vec<f64> = singles.iter().map(|m| m.wall.as_secs_f64()).collect();
    let pair_walls: Vec<f64> = pairs.iter().map(|p| p.wall.as_secs_f64()).collect();
    println!(
        "{:<52} {:>9} {:>17} {:>10} {:>14}",
        "contender (whole processes)", "median s", "range s", "k rec/s", "cpu s"
    );
    let row = |name: &str, walls: &[f64], cpu: String| {
        let median = median(walls);
        println!(
            "{name:<52} {median:>9.3} {:>8.3}-{:<8.3} {:>10.0} {cpu:>14}",
            walls.iter().copied().fold(f64::MAX, f64::min),
            walls.iter().copied().fold(0.0, f64::max),
            entities as f64 / median / 1000.0,
        );
    };
    row(
        "timely, 1 process, taskset -c 0",
        &single_walls,
        format!("{:.3}", median(&singles.iter().map(|m| m.cpu.as_secs_f64()).collect::<Vec<_>>())),
    );
    row(
        "timely, 2 processes, taskset -c 0 / -c 1",
        &pair_walls,
        format!(
            "{:.3} / {:.3}",
            median(&pairs.iter().map(|p| p.processes[0].cpu.as_secs_f64()).collect::<Vec<_>>()),
            median(&pairs.iter().map(|p| p.processes[1].cpu.as_secs_f64()).collect::<Vec<_>>())
        ),
    );
    let ratios: Vec<f64> = single_walls.iter().zip(&pair_walls).map(|(one, two)| one / two).collect();
    let speedup = median(&single_walls) / median(&pair_walls);
    println!(
        "speed-up  2 processes / 1 (median time over median time): {speedup:.2}x; round by round {:.2}x-{:.2}x; target {TARGET}x: {}",
        ratios.iter().copied().fold(f64::MAX, f64::min),
        ratios.iter().copied().fold(0.0, f64::max),
        if speedup >= TARGET { "met" } else { "not met" }
    );
    Ok(())
}

/// What one two-process run cost: from starting both to both having exited, and each process.
struct PairRun {
    wall: Duration,
    processes: [Measured; 2],
}

/// `taskset -c CORE jobs --store PATH run JOB --engine timely --workers 1 --shards S ...`.
fn pinned(jobs: &Path, store: &Path, core: usize, cluster: &[&str]) -> Command {
    let mut command = Command::new("taskset");
    command.args(["-c", &core.to_string()]).arg(jobs).arg("--store").arg(store);
    command.args(["run", JOB, "--engine", "timely", "--workers", "1", "--shards", SHARDS]);
    command.args(cluster).env_remove("JOBS_STORE").env_remove("JOBS_LOG").env_remove("JOBS_CLUSTER_SECRET");
    command
}

fn single(jobs: &Path, store: &Path) -> Command {
    pinned(jobs, store, 0, &[])
}

/// Runs the two-process cluster once, on new free ports, and checks what each printed.
fn pair(jobs: &Path, store: &Path, hosts: &Path, work: &Path, reference: &Path) -> Result<PairRun> {
    let ports = free_ports()?;
    std::fs::write(hosts, format!("127.0.0.1:{}\n127.0.0.1:{}\n", ports[0], ports[1]))
        .context("writing the host file")?;
    let hosts = hosts.to_str().context("the host file's path is not UTF-8")?;
    let outs: Vec<PathBuf> = (0..2).map(|p| work.join(format!("pair-{p}.out"))).collect();
    let started = Instant::now();
    let measured: Vec<Result<Measured>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|process| {
                let out = &outs[process];
                let index = process.to_string();
                let mut command =
                    pinned(jobs, store, process, &["--processes", "2", "--process", &index, "--hosts", hosts]);
                scope.spawn(move || process::measure(&mut command, out))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or_else(|_| Err(anyhow!("a timing thread panicked"))))
            .collect()
    });
    let wall = started.elapsed();
    let mut processes = Vec::with_capacity(2);
    for (index, result) in measured.into_iter().enumerate() {
        processes.push(result.with_context(|| format!("process {index} of the cluster"))?);
    }
    check_output(&outs[0], reference, "process 0 of two")?;
    ensure!(std::fs::metadata(&outs[1])?.len() == 0, "process 1 of two printed report lines");
    let processes = [processes[0], processes[1]];
    Ok(PairRun { wall, processes })
}

fn check_output(out: &Path, reference: &Path, who: &str) -> Result<()> {
    ensure!(
        process::same_bytes(out, reference)?,
        "{who}: its output differs from the first run's ({} bytes against {})",
        std::fs::metadata(out)?.len(),
        std::fs::metadata(reference)?.len()
    );
    Ok(())
}

/// Two loopback ports free right now: bound, noted, released.
fn free_ports() -> Result<[u16; 2]> {
    let first = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    let second = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok([first.local_addr()?.port(), second.local_addr()?.port()])
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}
