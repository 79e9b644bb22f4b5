//! Timing a whole process: wall time from spawn to exit, and the CPU time and peak resident set
//! the kernel accounted to it (`wait4`'s `rusage`), so every figure covers start-up, opening
//! the store, the run, recording it and printing, as a user's run does.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// What one process cost.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// From spawn to exit.
    pub wall: Duration,
    /// User plus system CPU time.
    pub cpu: Duration,
    /// Peak resident set, in KiB.
    pub peak_kib: u64,
}

/// Runs `command` to completion with its stdout written to `stdout_to` and its stderr kept for
/// the error message, and measures it.
///
/// # Errors
/// It could not be started, or exited unsuccessfully (the message has its stderr).
pub fn measure(command: &mut Command, stdout_to: &Path) -> Result<Measured> {
    let stdout = File::create(stdout_to).with_context(|| format!("creating {}", stdout_to.display()))?;
    let stderr_path = stdout_to.with_extension("stderr");
    let stderr = File::create(&stderr_path).with_context(|| format!("creating {}", stderr_path.display()))?;
    let started = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    let (status, usage) = wait4(child.id())?;
    let wall = started.elapsed();
    if !status_success(status) {
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        bail!("{command:?} failed (wait status {status}):\n{stderr}");
    }
    Ok(Measured { wall, cpu: cpu_time(&usage), peak_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0) })
}

/// Whether the files `a` and `b` hold the same bytes, read a chunk at a time: a bench that held
/// a report of a hundred megabytes would raise the peak every child it spawns after is
/// reported with (see [`own_peak_kib`]).
///
/// # Errors
/// Either file could not be read.
pub fn same_bytes(a: &Path, b: &Path) -> Result<bool> {
    let len =
        |path: &Path| std::fs::metadata(path).with_context(|| format!("reading {}", path.display())).map(|m| m.len());
    if len(a)? != len(b)? {
        return Ok(false);
    }
    let open = |path: &Path| File::open(path).with_context(|| format!("reading {}", path.display()));
    let (mut a_file, mut b_file) = (open(a)?, open(b)?);
    let (mut a_chunk, mut b_chunk) = (vec![0; 1 << 16], vec![0; 1 << 16]);
    loop {
        let read = a_file.read(&mut a_chunk).with_context(|| format!("reading {}", a.display()))?;
        if read == 0 {
            return Ok(true);
        }
        b_file.read_exact(&mut b_chunk[..read]).with_context(|| format!("reading {}", b.display()))?;
        if a_chunk[..read] != b_chunk[..read] {
            return Ok(false);
        }
    }
}

/// Waits for the child `pid` and returns its wait status and resource usage.
fn wait4(pid: u32) -> Result<(i32, libc::rusage)> {
    let pid = libc::pid_t::try_from(pid).context("a child's pid out of range")?;
    let mut status = 0;
    // SAFETY: `rusage` is plain old data, for which all zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `usage` are valid, writable and live for the call; `pid` is our
        // own child, not yet reaped (`Child` is never waited on elsewhere).
        let reaped = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
        if reaped == pid {
            return Ok((status, usage));
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error).context("waiting for a child");
        }
    }
}

fn status_success(status: i32) -> bool {
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

fn cpu_time(usage: &libc::rusage) -> Duration {
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// This process's own peak resident set, in KiB (`VmHWM`). Linux reports a child's peak as at
/// least this: the child starts as a copy of (or, spawned with `vfork`, in) this process's
/// memory, and `exec` carries that high-water mark over. Figures at this floor mean "at most".
pub fn own_peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
            line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()
        })
        .unwrap_or(0)
}

/// The 1-, 5- and 15-minute load averages, as `/proc/loadavg` gives them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}
