//! What the `jobs` binary's integration tests share: starting it on a store and reading what
//! it did.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// What one `jobs` command did.
pub struct Ran {
    pub code: Option<i32>,
    pub out: String,
    pub err: String,
}

impl Ran {
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "stdout:\n{}\nstderr:\n{}", self.out, self.err);
        self
    }

    /// The run id in the `run <id>: <status>` line of stderr.
    pub fn run_id(&self) -> String {
        let line = self
            .err
            .lines()
            .find(|line| line.starts_with("run ") && line.contains(": "))
            .unwrap_or_else(|| panic!("no `run <id>: <status>` line in:\n{}", self.err));
        line["run ".len()..].split(": ").next().unwrap_or_default().to_owned()
    }
}

impl From<Output> for Ran {
    fn from(output: Output) -> Self {
        Ran {
            code: output.status.code(),
            out: String::from_utf8_lossy(&output.stdout).into_owned(),
            err: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// `jobs --store <store> args...`, not yet started, with no store or log settings (or cluster
/// secret) inherited from the environment and nothing on stdin.
pub fn jobs_command(store: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jobs"));
    command
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("JOBS_STORE")
        .env_remove("JOBS_LOG")
        .env_remove("JOBS_CLUSTER_SECRET")
        .stdin(Stdio::null());
    command
}

/// `jobs args...` on the store at `location`, given through the `JOBS_STORE` environment
/// variable rather than `--store`, so that a URL's password stays out of the process list;
/// no log settings or cluster secret inherited, nothing on stdin.
pub fn jobs_command_via_env(location: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jobs"));
    command
        .args(args)
        .env("JOBS_STORE", location)
        .env_remove("JOBS_LOG")
        .env_remove("JOBS_CLUSTER_SECRET")
        .stdin(Stdio::null());
    command
}

/// The store a test binary's probe process commits to (see [`store_takes_a_write`]).
const PROBE_STORE_VAR: &str = "JOBS_TEST_PROBE_STORE";

/// The body of a test binary's own `probe_process_entry` test (ignored, so it runs only when
/// [`store_takes_a_write`] starts it): commits an empty write transaction to the store it is
/// given, which takes the locks any writer of the file takes (redb's writer lock, then its
/// header lock). Does nothing when run as an ordinary test.
pub fn probe_process_body() {
    let Some(path) = std::env::var_os(PROBE_STORE_VAR) else {
        return;
    };
    let db = redb::Database::builder()
        .set_concurrency_mode(redb::ConcurrencyMode::MultiWriter)
        .create(path)
        .expect("open the store with redb");
    db.begin_write().expect("a write transaction").commit().expect("commit");
}

/// Whether another process can write to the redb file `store` within `within`: this test
/// binary's `probe_process_entry` commits to it in a process of its own, which is killed if
/// it waits longer, on a lock a stopped process holds. (`jobs status` would not do: it only
/// reads.)
///
/// # Errors
/// The probe could not be started or watched, or it failed rather than waited (it could not
/// open the store, say): what happened, so a test says that rather than blame a lock.
pub fn store_takes_a_write(store: &Path, within: Duration) -> Result<bool, String> {
    let test_binary = std::env::current_exe().map_err(|e| format!("finding the test binary: {e}"))?;
    let mut probe = Command::new(test_binary)
        .args(["probe_process_entry", "--exact", "--ignored", "--test-threads=1"])
        .env(PROBE_STORE_VAR, store)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting the probe process: {e}"))?;
    let deadline = Instant::now() + within;
    loop {
        match probe.try_wait().map_err(|e| format!("watching the probe process: {e}"))? {
            Some(status) if status.success() => return Ok(true),
            Some(status) => {
                let output = probe.wait_with_output().map_err(|e| format!("reading the probe's stderr: {e}"))?;
                return Err(format!(
                    "the probe process failed ({status}) writing to {}: {}",
                    store.display(),
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
            None if Instant::now() <= deadline => std::thread::sleep(Duration::from_millis(10)),
            None => {
                let _ = probe.kill();
                let _ = probe.wait();
                return Ok(false);
            }
        }
    }
}
