//! Timing on a shared machine: the runs being compared take turns, round after round, so a
//! burst of load from elsewhere slows all of them alike rather than whichever ran during it.
//! Each reports its best wall time (the least disturbed) and its range, and its best CPU time
//! (user + system, all threads), which waiting for a core shared with other work does not
//! inflate.

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};

/// Computes the output from the store at the path.
pub type RunFn<'a> = Box<dyn FnMut(&Path) -> Result<Vec<String>> + 'a>;

/// One way of computing the output, to be timed.
pub struct Contender<'a> {
    /// What it is, as printed.
    pub name: &'static str,
    /// Threads it uses.
    pub threads: usize,
    /// Shards, for framework runs.
    pub shards: Option<usize>,
    /// Whether its output must equal the reference (a raw scan computes none).
    pub checked: bool,
    /// Computes the output from the store at the path.
    pub run: RunFn<'a>,
}

/// What one contender measured, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// The best wall time.
    pub best: f64,
    /// The worst wall time.
    pub worst: f64,
    /// The least CPU time one run took.
    pub cpu: f64,
}

/// Runs `contenders` in turn, `rounds` times over, checking each checked output against
/// `reference`, and prints each one's best time and range with `entities` per second.
pub fn round_robin(
    path: &Path,
    entities: u64,
    rounds: usize,
    reference: &[String],
    contenders: &mut [Contender<'_>],
) -> Result<Vec<Timing>> {
    let mut timings = vec![Timing { best: f64::MAX, worst: 0.0, cpu: f64::MAX }; contenders.len()];
    for _ in 0..rounds {
        for (contender, timing) in contenders.iter_mut().zip(&mut timings) {
            let cpu_before = cpu_seconds()?;
            let started = Instant::now();
            let output = (contender.run)(path)?;
            let secs = started.elapsed().as_secs_f64();
            let cpu = cpu_seconds()? - cpu_before;
            if contender.checked && output != reference {
                let first = output.iter().zip(reference).position(|(a, b)| a != b);
                bail!(
                    "{} ({} threads): output differs from the sequential baseline's (first at line {first:?}, {} lines against {})",
                    contender.name,
                    contender.threads,
                    output.len(),
                    reference.len()
                );
            }
            // Freeing the output is not timed.
            drop(output);
            timing.best = timing.best.min(secs);
            timing.worst = timing.worst.max(secs);
            timing.cpu = timing.cpu.min(cpu);
        }
    }
    for (contender, timing) in contenders.iter().zip(&timings) {
        let shards = contender.shards.map_or_else(|| "-".to_owned(), |s| s.to_string());
        println!(
            "run    {:<32} threads={:<3} shards={shards:<3} {:>8.3} s {:>8.0} k entities/s  (range {:.3}-{:.3} s, cpu {:.3} s)",
            contender.name,
            contender.threads,
            timing.best,
            rate(entities, timing.best),
            timing.best,
            timing.worst,
            timing.cpu
        );
    }
    Ok(timings)
}

/// The CPU time this process has used so far, all threads, user and system.
fn cpu_seconds() -> Result<f64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `getrusage` fills the struct it is given; it is zeroed, so it is initialised
    // even if the call fails, which is checked.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            bail!("getrusage failed: {}", std::io::Error::last_os_error());
        }
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(seconds(usage.ru_utime) + seconds(usage.ru_stime))
}

/// Thousands of entities per second.
pub fn rate(entities: u64, secs: f64) -> f64 {
    entities as f64 / secs / 1000.0
}
