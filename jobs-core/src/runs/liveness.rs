//! How a store tells a `started` run whose process is alive from one whose process died.
//!
//! # Design
//!
//! The process running a run **claims** it for as long as it runs: it takes an exclusive
//! advisory lock on a lock file of its own, `<store>.runs/<run id>.lock`, *before* recording
//! the run `started`, and lets go only *after* recording it finished. The operating system
//! drops the lock the moment the process dies, however it dies (SIGKILL, a panic that
//! aborts, a power cut). So a run recorded `started` whose lock can be taken has nobody
//! running it, and is marked `failed` with error `interrupted`.
//!
//! This tells at once, with no timeout: a heartbeat ("no progress saved for 5 minutes")
//! cannot tell a dead process from a slow shard and leaves the run `started` until the timeout,
//! and a recorded process id can be reused by an unrelated process. The lock costs one open
//! file per running run, and checking it costs an `open` and a non-blocking lock.
//!
//! The lock is std's [`File::try_lock`] (stable since Rust 1.89): `flock` on Linux and the
//! BSDs, `LockFileEx` on Windows. Both belong to the open file, not the process, so a second
//! handle in the *same* process also sees the run as held: an admin page that runs jobs in
//! threads and lists them is told the truth. (Like every advisory lock, it may not hold across
//! machines on a network file system; a store shared that way should be a server store.)
//!
//! The check happens under the store's write transaction (see
//! [`RunLog::recover_interrupted`](super::RunLog::recover_interrupted)): since the runner
//! records `started` after locking and the end before unlocking, and transactions are
//! serialized, "still `started` and lock free" cannot be a run that is merely between two
//! steps.
//!
//! A run carried out at once is claimed before it is even recorded `queued`
//! ([`queue_claimed`](super::queue_claimed)). A `queued` run whose lock file exists but is
//! free was claimed by a process that died before starting it, and is marked `interrupted`
//! too; a `queued` run with no lock file is waiting for a background process to claim it, and
//! is left alone. A process that cannot record a run's start or end (a full disk) lets go of
//! the claim as a dead process would, leaving the file ([`RunClaim::abandon`]).
//!
//! Lock files are removed when the claim is dropped: by the runner when it ends, or by
//! whoever marks a dead run `interrupted`; pruning removes any left over. The directory
//! `<store>.runs/` stays beside the store, empty when nothing runs.
//!
//! A PostgreSQL store has no file beside it: its claims are session-level advisory locks on
//! the server, which frees them when the claiming process's connection drops; the same rules
//! hold.
//!
//! The in-memory store has no other processes; it keeps the claimed ids in a set
//! ([`ClaimedIds`]), so the same
//! rules (and tests) apply to a runner thread that vanished.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{RunId, RunsError};

/// Proof that this process is the one running a run. While it lives, every reader sees the
/// run as alive; dropping it lets go (and removes its lock file).
#[derive(Debug)]
pub struct RunClaim {
    _inner: Claim,
}

impl RunClaim {
    /// A claim held by a store outside this crate, for its
    /// [`RunStore::claim_run`](super::RunStore::claim_run): `hold` is what keeps other
    /// processes seeing the run as alive (a lock, a lease), and dropping it lets go. (A store
    /// kept in a file or in memory can use [`claim_file`] or [`ClaimedIds`] instead.)
    pub fn held_by(hold: impl ClaimHold + 'static) -> Self {
        RunClaim { _inner: Claim::Custom(Box::new(hold)) }
    }

    /// Lets go of the run as a process that died would: the lock is released but its file is
    /// left behind. For a run whose end (or start) could not be recorded, say on a full disk:
    /// the next reader then records it `interrupted` (a `queued` run with no lock file would be
    /// taken for one waiting for its background process, and left `queued`).
    pub fn abandon(mut self) {
        match &mut self._inner {
            Claim::File(file) => file.keep_file = true,
            Claim::Custom(hold) => hold.abandon(),
            _ => {}
        }
    }
}

/// What keeps a run claimed in a store outside this crate ([`RunClaim::held_by`]): while it
/// lives, every process reading the store sees the run as alive; dropping it lets go.
pub trait ClaimHold: Send + std::fmt::Debug {
    /// Called before the hold is dropped when the run is let go of as a dead process would
    /// ([`RunClaim::abandon`]): readers should then find the run interrupted. Does nothing by
    /// default.
    fn abandon(&mut self) {}
}

#[derive(Debug)]
enum Claim {
    File(FileClaim),
    // Held only for what its Drop does.
    Memory(#[allow(dead_code)] MemoryClaim),
    /// A store outside this crate: see [`RunClaim::held_by`].
    Custom(Box<dyn ClaimHold>),
}

#[derive(Debug)]
struct FileClaim {
    file: Option<File>,
    path: PathBuf,
    /// Leave the file behind when letting go ([`RunClaim::abandon`]).
    keep_file: bool,
}

impl Drop for FileClaim {
    fn drop(&mut self) {
        if self.keep_file {
            drop(self.file.take());
            return;
        }
        // Remove the file while still holding the lock, then unlock by closing it: anyone who
        // opened the old file before the removal may then lock it, but will find the run's
        // final status already recorded.
        if let Err(error) = fs::remove_file(&self.path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), %error, "could not remove a run lock file");
        }
        drop(self.file.take());
    }
}

/// The runs claimed in a store kept in memory, which has no other process: a set of ids,
/// shared by every handle on the store. A claim made here removes its id when dropped.
///
/// ```
/// use jobs_core::runs::RunId;
/// use jobs_core::runs::liveness::ClaimedIds;
///
/// let claimed = ClaimedIds::default();
/// let id = RunId::parse("Job-1718000000000-k3x9qa")?;
/// let claim = claimed.claim(&id).expect("nobody holds it");
/// assert!(claimed.claim(&id).is_none(), "held until dropped");
/// drop(claim);
/// assert!(claimed.claim(&id).is_some());
/// # Ok::<(), jobs_core::runs::RunsError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ClaimedIds {
    ids: Arc<Mutex<HashSet<RunId>>>,
}

impl ClaimedIds {
    /// Claims run `id`: `None` when it is already claimed. What
    /// [`RunStore::claim_run`](super::RunStore::claim_run) returns for a store in memory.
    pub fn claim(&self, id: &RunId) -> Option<RunClaim> {
        let mut ids = crate::sync::lock(&self.ids);
        if !ids.insert(id.clone()) {
            return None;
        }
        Some(RunClaim { _inner: Claim::Memory(MemoryClaim { held: self.clone(), id: id.clone() }) })
    }
}

#[derive(Debug)]
struct MemoryClaim {
    held: ClaimedIds,
    id: RunId,
}

impl Drop for MemoryClaim {
    fn drop(&mut self) {
        crate::sync::lock(&self.held.ids).remove(&self.id);
    }
}

/// The directory of the lock files of the store at `store_path`: `<store_path>.runs`.
pub fn lock_dir(store_path: &Path) -> PathBuf {
    let mut dir = store_path.as_os_str().to_owned();
    dir.push(".runs");
    PathBuf::from(dir)
}

/// The lock file of run `id` in `dir`. Characters other than letters, digits, `-`, `_` and
/// `.` (possible in a job renamed with `name = "..."`) become `_`.
pub fn lock_path(dir: &Path, id: &RunId) -> PathBuf {
    let name: String = id
        .as_str()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    dir.join(format!("{name}.lock"))
}

/// Claims run `id` through its lock file in `dir` (see [`lock_dir`]): `None` when another
/// open file holds it. What [`RunStore::claim_run`](super::RunStore::claim_run) returns for a
/// store kept in a file.
///
/// A new lock file appears already locked: it is made and locked under a temporary name, then
/// linked into place (which fails if the name exists). Were it created first and locked after,
/// a watcher could find it in between, take it for one left behind by a dead process, and mark
/// a run that is just starting `interrupted`.
///
/// # Errors
/// The directory or the lock file could not be made, opened or locked.
pub fn claim_file(dir: &Path, id: &RunId) -> Result<Option<RunClaim>, RunsError> {
    let path = lock_path(dir, id);
    let lock_error = |source| RunsError::Lock { path: path.clone(), source };
    fs::create_dir_all(dir).map_err(lock_error)?;
    if !path.exists() {
        let fresh = tempfile::Builder::new().prefix(".claim-").tempfile_in(dir).map_err(lock_error)?;
        fresh.as_file().try_lock().map_err(|e| lock_error(e.into()))?;
        match fs::hard_link(fresh.path(), &path) {
            Ok(()) => {
                // The temporary name goes; the locked file stays, under its own name.
                let file = fresh.into_file();
                return Ok(Some(RunClaim {
                    _inner: Claim::File(FileClaim { file: Some(file), path, keep_file: false }),
                }));
            }
            // Another process made it first: claim it like any existing file.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(lock_error(e)),
        }
    }
    let file =
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(lock_error)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(RunClaim { _inner: Claim::File(FileClaim { file: Some(file), path, keep_file: false }) })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(source)) => Err(lock_error(source)),
    }
}

/// Claims run `id` only if its lock file exists: a process claimed it and has not let go,
/// which for a free lock means that it died. `None` when there is no lock file or it is held.
/// What [`RunStore::claim_abandoned`](super::RunStore::claim_abandoned) returns for a store
/// kept in a file.
///
/// # Errors
/// As [`claim_file`].
pub fn claim_left_behind(dir: &Path, id: &RunId) -> Result<Option<RunClaim>, RunsError> {
    if !lock_path(dir, id).exists() {
        return Ok(None);
    }
    // Should the holder let go (removing the file) between the check and the claim, the claim
    // makes a new file; the caller re-reads the record under its transaction and finds the
    // run moved on, so nothing is marked.
    claim_file(dir, id)
}

/// Removes the lock file of a run that is over, if one was left behind (its process died
/// after recording the end). A file someone holds is left alone. For
/// [`RunStore::remove_finished_before`](super::RunStore::remove_finished_before).
///
/// # Errors
/// As [`claim_file`].
pub fn remove_stale(dir: &Path, id: &RunId) -> Result<(), RunsError> {
    if lock_path(dir, id).exists() {
        drop(claim_file(dir, id)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An outside store's hold: records whether it was abandoned and whether it was dropped.
    #[derive(Debug)]
    struct Lease(Arc<Mutex<Vec<&'static str>>>);

    impl ClaimHold for Lease {
        fn abandon(&mut self) {
            self.0.lock().unwrap().push("abandoned");
        }
    }

    impl Drop for Lease {
        fn drop(&mut self) {
            self.0.lock().unwrap().push("released");
        }
    }

    #[test]
    fn an_outside_stores_claim_is_released_on_drop_and_told_when_abandoned() {
        let events = Arc::new(Mutex::new(Vec::new()));
        drop(RunClaim::held_by(Lease(Arc::clone(&events))));
        assert_eq!(*events.lock().unwrap(), ["released"]);
        events.lock().unwrap().clear();
        RunClaim::held_by(Lease(Arc::clone(&events))).abandon();
        assert_eq!(*events.lock().unwrap(), ["abandoned", "released"]);
    }

    #[test]
    fn a_held_lock_cannot_be_claimed_again_even_in_the_same_process() {
        let dir = tempfile::tempdir().unwrap();
        let id = RunId::generate("Job", 1);
        let claim = claim_file(dir.path(), &id).unwrap().expect("a fresh run can be claimed");
        assert!(claim_file(dir.path(), &id).unwrap().is_none(), "a second open file sees the lock");
        assert!(lock_path(dir.path(), &id).exists());
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(files, 1, "the temporary name the lock file was made under is gone");
        drop(claim);
        assert!(!lock_path(dir.path(), &id).exists(), "letting go removes the lock file");
        assert!(claim_file(dir.path(), &id).unwrap().is_some(), "once let go, it can be claimed");
    }

    #[test]
    fn memory_claims_are_exclusive_until_dropped() {
        let held = ClaimedIds::default();
        let id = RunId::generate("Job", 1);
        let claim = held.claim(&id).unwrap();
        assert!(held.clone().claim(&id).is_none(), "a clone shares the claims");
        drop(claim);
        assert!(held.claim(&id).is_some());
    }

    #[test]
    fn odd_job_names_make_safe_file_names() {
        let id = RunId::parse("a/b c-12-xyz").unwrap();
        assert_eq!(lock_path(Path::new("d"), &id), Path::new("d").join("a_b_c-12-xyz.lock"));
        assert_eq!(lock_dir(Path::new("/x/jobs.redb")), Path::new("/x/jobs.redb.runs"));
    }
}
