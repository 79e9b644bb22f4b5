//! `jobs run --detach`: the run is queued by the command, then carried out by a background
//! process running this same program (`std::env::current_exe()`) as
//! `PROGRAM --store STORE run-queued ID --output-limit N`, a hidden subcommand.
//!
//! The background process
//! * starts a session of its own (`setsid` on Unix), so it has no controlling terminal:
//!   Ctrl-C in the terminal and the terminal closing do not reach it, and nothing waits for
//!   it or ends it when the command that started it exits;
//! * reads nothing (stdin is `/dev/null`), prints nothing (stdout is `/dev/null`), and logs to
//!   its stderr, the file `<store>.runs/<run id>.log` beside the runs' lock files ([`log_path`]).
//!   It removes the log when it ends with the log empty; `jobs prune` removes the log of each
//!   run it prunes. Set `JOBS_LOG` for the command and the background process inherits it.
//!
//! The command waits (at most [`START_TIMEOUT`]) until the background process has taken up
//! the run (recorded it `started`), so that one that cannot (a store it cannot open, say) is
//! reported at once, naming its log, with its run canceled, instead of leaving the run
//! `queued` for ever. Then it prints the run's id on stdout, and nothing else there.
//!
//! `--detach` starts the program again with its own arguments, so it works in a program whose
//! `main` hands its arguments to [`Cli::run`](super::Cli::run), not from
//! [`Cli::run_with`](super::Cli::run_with) inside a test harness, whose executable is the
//! harness.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::console::Console;
use super::error::CliError;
use crate::runs::{RunId, RunLog, Status, liveness};
use crate::store::is_postgres_url;

/// How long `run --detach` waits for the background process to take up the run.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How often it looks while waiting.
const POLL: Duration = Duration::from_millis(20);

/// Where the background process of run `id` logs: `<store>.runs/<id>.log`; for a
/// PostgreSQL store, which has no file to sit beside, `<temp dir>/jobs-postgres.runs/<id>.log`.
pub(crate) fn log_path(store_path: &Path, id: &RunId) -> PathBuf {
    let dir = match store_url(store_path) {
        Some(_) => std::env::temp_dir().join("jobs-postgres.runs"),
        None => liveness::lock_dir(store_path),
    };
    liveness::lock_path(&dir, id).with_extension("log")
}

/// The store as a URL, when it is one (`postgres://...`).
fn store_url(store_path: &Path) -> Option<&str> {
    store_path.to_str().filter(|text| is_postgres_url(text))
}

/// Removes the log of run `id` if there is one; `only_if_empty` keeps a log that says
/// something. A log that cannot be removed is only logged: it is a leftover, not a failure.
pub(crate) fn remove_log(store_path: &Path, id: &RunId, only_if_empty: bool) {
    let path = log_path(store_path, id);
    let Ok(metadata) = fs::metadata(&path) else {
        return;
    };
    if only_if_empty && metadata.len() > 0 {
        return;
    }
    if let Err(error) = fs::remove_file(&path) {
        tracing::warn!(path = %path.display(), %error, "could not remove a background run's log");
    }
}

/// Starts the background process for the queued run `id`, waits until it has taken up the
/// run, and prints the id on stdout and how the run stands on stderr.
///
/// # Errors
/// The process could not be started, or ended without taking up the run (the run is then
/// canceled); or the run already ended `failed` (exit 1) or `canceled` (exit 130).
pub(crate) fn start(
    log: &dyn RunLog,
    store_path: &Path,
    id: &RunId,
    output_limit: usize,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let (mut child, log_file) = match spawn(store_path, id, output_limit) {
        Ok(spawned) => spawned,
        Err(source) => {
            cancel_quietly(log, id);
            return Err(CliError::DetachSpawn { id: id.clone(), source });
        }
    };
    let pid = child.id();
    let status = match await_start(log, id, &mut child) {
        Ok(status) => status,
        Err(Waited::Exited(exit)) => {
            cancel_quietly(log, id);
            return Err(CliError::DetachExited { id: id.clone(), exit: exit.to_string(), log: log_file });
        }
        Err(Waited::Failed(error)) => return Err(error),
    };
    // The child is left running: dropping its handle neither waits for it nor kills it.
    drop(child);
    console.data(id.as_str())?;
    console.flush()?;
    match status {
        Status::Queued => console.say(format_args!(
            "run {id}: queued; its background process (pid {pid}) has not taken it up after {} s; `jobs status {id}` \
             follows it, and its log is {}",
            START_TIMEOUT.as_secs(),
            log_file.display()
        )),
        Status::Completed => console.say(format_args!(
            "run {id}: completed in the background (pid {pid}); `jobs output {id}` prints its output"
        )),
        Status::Failed => {
            let record = log.get_run(id)?;
            return Err(CliError::RunFailed {
                id: id.clone(),
                error: record.error.unwrap_or_else(|| "no error was recorded".to_owned()),
            });
        }
        Status::Canceled => return Err(CliError::Canceled),
        Status::New | Status::Started => console.say(format_args!(
            "run {id}: started in the background (pid {pid}); `jobs status {id}` follows it, `jobs cancel {id}` stops it"
        )),
    }
    Ok(())
}

/// Starts `PROGRAM --store STORE run-queued ID`, detached; returns it and its log's path.
fn spawn(store_path: &Path, id: &RunId, output_limit: usize) -> io::Result<(Child, PathBuf)> {
    let program = std::env::current_exe()?;
    let mut command = Command::new(program);
    let log_file = match store_url(store_path) {
        Some(url) => {
            // In the environment rather than the arguments: a URL may carry a password, and
            // arguments are visible to every user of the machine.
            command.env("JOBS_STORE", url);
            log_path(store_path, id)
        }
        None => {
            // The background process may resolve a relative path differently; an absolute one
            // also names the same lock and log files.
            let store = std::path::absolute(store_path)?;
            command.arg("--store").arg(&store);
            log_path(&store, id)
        }
    };
    if let Some(dir) = log_file.parent() {
        fs::create_dir_all(dir)?;
    }
    let stderr = File::create(&log_file)?;
    command
        .arg("run-queued")
        .arg(id.as_str())
        .arg("--output-limit")
        .arg(output_limit.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    new_session(&mut command);
    tracing::debug!(?command, "starting the background process");
    Ok((command.spawn()?, log_file))
}

/// Makes the process lead a new session, without a controlling terminal.
#[cfg(unix)]
fn new_session(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe functions may be called: `setsid` is one, and reading `errno` for the
    // error allocates nothing.
    unsafe {
        command.pre_exec(|| if libc::setsid() == -1 { Err(io::Error::last_os_error()) } else { Ok(()) });
    }
}

/// Elsewhere the process is only started without inherited streams.
#[cfg(not(unix))]
fn new_session(_command: &mut Command) {}

/// Why waiting for the background process ended without it taking up the run.
enum Waited {
    /// It exited first.
    Exited(ExitStatus),
    /// The store or the process could not be checked.
    Failed(CliError),
}

/// Waits until run `id` is no longer `queued` (the background process took it up, and may
/// even have finished it), the process exits without doing so, or [`START_TIMEOUT`] passes.
fn await_start(log: &dyn RunLog, id: &RunId, child: &mut Child) -> Result<Status, Waited> {
    let deadline = Instant::now() + START_TIMEOUT;
    let status = |log: &dyn RunLog| log.get_run(id).map(|r| r.status()).map_err(|e| Waited::Failed(e.into()));
    loop {
        let now = status(log)?;
        if now != Status::Queued || Instant::now() >= deadline {
            return Ok(now);
        }
        // An error here (the process cannot be waited for) leaves only the deadline to tell.
        if let Ok(Some(exit)) = child.try_wait() {
            // It may have taken up the run and ended between the two looks.
            return match status(log)? {
                Status::Queued => Err(Waited::Exited(exit)),
                other => Ok(other),
            };
        }
        std::thread::sleep(POLL);
    }
}

/// Cancels the queued run nobody will carry out; a failure is only logged, since the error
/// being reported matters more.
fn cancel_quietly(log: &dyn RunLog, id: &RunId) {
    if let Err(error) = log.request_cancel(id) {
        tracing::warn!(run = %id, %error, "could not cancel the run its background process did not take up");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_sits_beside_the_lock_file() {
        let id = RunId::parse("Job-1718000000000-k3x9qa").unwrap();
        assert_eq!(
            log_path(Path::new("/data/jobs.redb"), &id),
            Path::new("/data/jobs.redb.runs/Job-1718000000000-k3x9qa.log")
        );
    }

    #[test]
    fn a_postgres_stores_logs_go_to_the_temp_dir_without_the_url() {
        let id = RunId::parse("Job-1718000000000-k3x9qa").unwrap();
        let path = log_path(Path::new("postgres://ann:pw@db/app?schema=s"), &id);
        assert_eq!(path, std::env::temp_dir().join("jobs-postgres.runs/Job-1718000000000-k3x9qa.log"));
    }

    #[test]
    fn only_an_empty_log_is_removed_when_asked_so() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("jobs.redb");
        let id = RunId::generate("Job", 1);
        let path = log_path(&store, &id);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "warning: something\n").unwrap();
        remove_log(&store, &id, true);
        assert!(path.exists(), "a log with something in it is kept");
        remove_log(&store, &id, false);
        assert!(!path.exists());
        remove_log(&store, &id, false);
    }
}
