//! [`RunsError`]: what can go wrong recording, reading or running a run.

use std::path::PathBuf;

use crate::exec::RunError;
use crate::params::ParamError;
use crate::registry::RegistryError;
use crate::store::StoreError;

use super::{RunId, Status};

/// A run could not be recorded, read, changed or carried out. Each variant names what was
/// wrong: the run id, both states of a refused transition, the lock file.
#[derive(Debug, thiserror::Error)]
pub enum RunsError {
    /// A run was asked to use no worker threads, or more than
    /// [`MAX_THREADS`](super::MAX_THREADS).
    #[error("{threads} worker threads is out of range: a run uses from 1 to {} threads", super::MAX_THREADS)]
    InvalidThreads {
        /// The thread count asked for.
        threads: usize,
    },
    /// The text given is not shaped like a run id.
    #[error("`{text}` is not a run id ({reason}); run ids look like `JobName-1718000000000-k3x9qa`")]
    InvalidRunId {
        /// The text given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No run has this id.
    #[error("no run has the id `{id}`")]
    UnknownRun {
        /// The id asked for.
        id: RunId,
    },
    /// A run with this id is already recorded.
    #[error("a run with the id `{id}` is already recorded")]
    DuplicateRun {
        /// The id.
        id: RunId,
    },
    /// The lifecycle does not allow this change of status.
    #[error("run {id} cannot go from `{from}` to `{to}`")]
    InvalidTransition {
        /// The run.
        id: RunId,
        /// Its status.
        from: Status,
        /// The status asked for.
        to: Status,
    },
    /// An exclusive run was asked for ([`RunRequest::with_exclusive`](super::RunRequest::with_exclusive))
    /// and the job already has a run queued or started.
    #[error("{job} already has a run {status}: {id}, and an exclusive run starts only when none is queued or started")]
    AlreadyActive {
        /// The job.
        job: String,
        /// The run that is queued or started.
        id: RunId,
        /// Its status.
        status: Status,
    },
    /// Another process (or thread) is already running this run.
    #[error("run {id} is already being run by another process")]
    AlreadyRunning {
        /// The run.
        id: RunId,
    },
    /// The run has no stored output: it has not completed.
    #[error("run {id} has no output: it is {status}{}", if status.is_finished() { "" } else { "; output is stored when it completes" })]
    NoOutput {
        /// The run.
        id: RunId,
        /// Its status.
        status: Status,
    },
    /// The run completed without keeping its full output: it was printed as the run ended, and
    /// only the stored output (folded and cut) was kept.
    #[error(
        "run {id} did not keep its full output (it was printed when the run ended); its stored output, folded and cut, is kept"
    )]
    FullOutputNotKept {
        /// The run.
        id: RunId,
    },
    /// The record was written by a newer version of jobs.
    #[error(
        "run {id} was recorded in format version {found}, newer than this program's {supported}; upgrade jobs to read it"
    )]
    NewerRecord {
        /// The run.
        id: String,
        /// The version in the store.
        found: u32,
        /// The newest version this program reads.
        supported: u32,
    },
    /// A stored record or output chunk does not decode, or a record does not encode.
    #[error("run {id}: stored data is unreadable ({message})")]
    Codec {
        /// The run.
        id: String,
        /// What went wrong.
        message: String,
    },
    /// A run's lock file could not be created, locked or removed.
    #[error("run lock {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The run ended, but its end could not be recorded (the store failed, say on a full disk).
    /// The next command that opens the store records it `interrupted`.
    #[error(
        "run {id} {outcome}; that could not be recorded ({source}), so the next command that opens the store records \
         it interrupted"
    )]
    Unrecorded {
        /// The run.
        id: RunId,
        /// How it ended: `failed: <why>`, `completed`, `was canceled`.
        outcome: String,
        /// Why it could not be recorded.
        source: Box<RunsError>,
    },
    /// Writing exported output failed.
    #[error("exporting the output of run {id}: {source}")]
    Export {
        /// The run.
        id: RunId,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The job is not in the registry, or the registry is broken.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A parameter is wrong; nothing was queued.
    #[error(transparent)]
    Params(#[from] ParamError),
    /// The run's options are wrong (a shard count out of range); nothing was queued.
    #[error(transparent)]
    Engine(#[from] RunError),
}
