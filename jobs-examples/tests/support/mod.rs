//! What the `jobs` binary's integration tests share: starting it on a store and reading what
//! it did.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

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
