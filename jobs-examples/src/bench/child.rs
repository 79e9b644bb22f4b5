//! Peak memory per measurement: each one is re-run in a child process (this same binary with
//! a hidden flag), whose peak resident set (`VmHWM`) is then its own and no one else's.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// The hidden flag that makes the binary a child:
/// `--child <what> <store> <threads> <shards> <max-memory bytes | default>`.
pub const FLAG: &str = "--child";

/// What a child measured.
#[derive(Debug, Clone, Copy)]
pub struct ChildReport {
    /// Output lines.
    pub lines: usize,
    /// A digest of the output lines, in order.
    pub digest: u64,
    /// Peak resident set of the child, in KiB.
    pub peak_kib: u64,
    /// How long the run took, in microseconds.
    pub micros: u64,
    /// Bytes the framework's shuffle spilled to disk (0 for the baselines).
    pub spilled_bytes: u64,
    /// Pairs the framework's shuffle carried, after any combining (0 for the baselines).
    pub pairs: u64,
}

/// One child run: what to run, on which store, how.
#[derive(Debug, Clone, Copy)]
pub struct ChildRun<'a> {
    /// The run's name (see `main`'s `run_in_child`).
    pub what: &'a str,
    /// The store file.
    pub store: &'a Path,
    /// Worker threads.
    pub threads: usize,
    /// Shards per model.
    pub shards: usize,
    /// The framework's shuffle budget; its default when `None`.
    pub max_memory: Option<u64>,
}

/// Carries out `run` in a child process and reads back its report.
pub fn spawn(run: ChildRun<'_>) -> Result<ChildReport> {
    let exe = std::env::current_exe().context("finding the bench binary")?;
    let output = Command::new(exe)
        .arg(FLAG)
        .arg(run.what)
        .arg(run.store)
        .arg(run.threads.to_string())
        .arg(run.shards.to_string())
        .arg(run.max_memory.map_or_else(|| "default".to_owned(), |bytes| bytes.to_string()))
        .output()
        .context("starting the child")?;
    if !output.status.success() {
        bail!("the {} child failed: {}", run.what, String::from_utf8_lossy(&output.stderr));
    }
    let text = String::from_utf8(output.stdout).context("the child's report is not text")?;
    let mut fields = text.split_whitespace().map(str::parse::<u64>);
    let mut next = || -> Result<u64> { fields.next().context("short child report")?.context("bad child report") };
    Ok(ChildReport {
        lines: usize::try_from(next()?)?,
        digest: next()?,
        peak_kib: next()?,
        micros: next()?,
        spilled_bytes: next()?,
        pairs: next()?,
    })
}

/// Parses the child's `<max-memory>` argument.
pub fn parse_max_memory(text: &str) -> Result<Option<u64>> {
    if text == "default" { Ok(None) } else { Ok(Some(text.parse().context("the child's max-memory")?)) }
}

/// Prints what a child measured, for [`spawn`] to read.
pub fn print_report(lines: &[String], elapsed: Duration, spilled_bytes: u64, pairs: u64) -> Result<()> {
    println!("{} {} {} {} {spilled_bytes} {pairs}", lines.len(), digest(lines), peak_rss_kib()?, elapsed.as_micros());
    Ok(())
}

/// A digest of `lines` in order; equal within one build of this binary.
pub fn digest(lines: &[String]) -> u64 {
    // DefaultHasher::new() has fixed keys, so parent and child agree.
    let mut hasher = DefaultHasher::new();
    lines.hash(&mut hasher);
    hasher.finish()
}

/// This process's peak resident set, in KiB (`VmHWM` in `/proc/self/status`).
pub fn peak_rss_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("no VmHWM in /proc/self/status")?;
    let kib = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim();
    kib.parse().context("VmHWM is not a number")
}
