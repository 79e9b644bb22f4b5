//! Job runs, recorded: `new → queued → started → completed | failed | canceled`, with their
//! parameters, times, progress per shard, counters, failures and output (Oppia's `JobModel`
//! and `BaseJobManager`).
//!
//! ```text
//! queue ──> RunRecord (queued) ──> run_queued: claim, started ──> engine ──> completed | failed | canceled
//!                                        │  every 250 ms: save progress, read cancel request
//! request_cancel ─────────────────────────┘  (from any process)
//! ```
//!
//! * [`RunRecord`], [`RunId`], [`Status`]: what is stored about a run, and the lifecycle.
//! * [`RunStore`]: where records live, the primitives a store implements: in
//!   [`RedbStore`]'s own file, in [`MemoryStore`](crate::MemoryStore), in `PostgresStore`'s
//!   database, or in a store outside this crate ([`conformance`] checks one).
//! * [`RunLog`]: the lifecycle, which every [`RunStore`] has and none can change: create, get,
//!   transition, list, cancel, prune, output.
//! * [`queue`], [`run_queued`], [`run`], [`wait`]: running a registered job as a recorded run.
//! * [`output`]: folding and truncating output as Oppia did.
//! * [`liveness`]: telling a live run from one whose process died.
//!
//! # Design decisions
//!
//! * **Liveness by lock file, not heartbeat.** The process running a run holds an advisory
//!   lock on `<store>.runs/<id>.lock`; the OS drops it when the process dies, so a `started`
//!   run whose lock is free is known dead at once and recorded `failed` with error
//!   `interrupted`, by [`open_store`] or any read that meets it. A heartbeat would need a
//!   timeout and would mistake a slow shard for a dead process. Details in [`liveness`].
//! * **A run carried out at once is claimed before it is recorded** ([`queue_claimed`], as
//!   the admin page does), so a process that dies between recording the run and starting it
//!   leaves its lock file behind and the run is recorded `interrupted`, not left `queued` for
//!   ever. `jobs run` records its run `started` in the write that records it
//!   ([`start_claimed`]), and its end, output and status together
//!   ([`RunStore::finish_run`]): two durable commits a run, which on a redb file of gigabytes
//!   cost a millisecond or more each. A run queued for a background process (`--detach`) has no lock file
//!   until that process claims it. A run whose end cannot be recorded (a full disk) is let go
//!   the same way ([`RunClaim::abandon`]).
//! * **Failures beyond the limit fail the run.** A run whose entities and keys failed more
//!   often than its `max_failures` (the request's, else the job's, else 0) ends `failed` with
//!   [`failure_limit_error`], and keeps its output, so what did work can still be read.
//! * **Cancel by record.** [`RunLog::request_cancel`] writes the request into the record
//!   (a `queued` run is simply canceled); the runner reads its record at every poll (250 ms)
//!   and cancels the engine's token. No signal, socket or pid is needed, so it works from any
//!   process that can open the store, and from the admin page. redb's multi-writer mode makes
//!   each commit visible to other processes once durable; a read transaction sees commits as
//!   of its start, and every call here starts a fresh one, so the runner sees a request at its
//!   next poll.
//! * **Output apart from the record, in two forms.** The record holds only an
//!   [`OutputSummary`]: listing a hundred runs or polling one for a cancel request reads a few
//!   KB each, never megabytes of output. The *stored* output (identical lines folded into
//!   `(Nx) line` in first-seen order, cut at 900,000 characters ending `<TRUNCATED>`, as Oppia
//!   kept it) and the *full* output (every line, unfolded) are kept in chunks of about 256 KB
//!   in tables of their own, so nothing is lost. See [`output`].
//! * **Records are MessagePack with named fields and a format version**, like the models: new
//!   fields can be added with defaults, and a newer incompatible format is refused by name.
//!   See [`RECORD_FORMAT_VERSION`].
//! * **Run ids are `<JobName>-<ms>-<random>`**, readable and roughly time-ordered, with six
//!   random characters from std's randomly keyed hasher: no new dependency. See [`RunId`].
//! * **A dry run is recorded like any run** (its record says `dry_run`), so the store file
//!   changes by its record; the models are untouched: `put` and `delete` are counted
//!   (counters `puts`, `deletes`) and never stored.

#![forbid(unsafe_code)]

mod codec;
pub mod conformance;
mod error;
mod id;
pub mod liveness;
mod log;
mod memory;
pub mod output;
mod output_file;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
mod record;
mod redb;
mod runner;
mod status;
mod store;

use std::path::Path;

pub use self::codec::RECORD_FORMAT_VERSION;
pub use self::error::RunsError;
pub use self::id::RunId;
pub use self::liveness::{ClaimHold, RunClaim};
pub use self::log::{CancelOutcome, ListQuery, PRUNE_AFTER, RECENT, RECENT_LIMIT, RunLog};
pub use self::output::{DEFAULT_OUTPUT_LIMIT, OutputKind, TRUNCATED_MARKER};
pub use self::record::{
    EngineName, INTERRUPTED, LOCAL_ENGINE, OutputSummary, RunPhase, RunProgress, RunRecord, ShardRecord,
    failure_limit_error,
};
pub use self::runner::{
    DEFAULT_POLL_INTERVAL, MAX_THREADS, OutputHandoff, Queued, RunRequest, RunnerOptions, check_threads, queue,
    queue_claimed, run, run_claimed, run_queued, run_started, start_claimed, wait,
};
pub use self::status::{Status, UnknownStatus};
pub use self::store::{FullOutputWriter, RunStore};

pub(crate) use self::memory::MemoryRuns;

use crate::store::RedbStore;

/// Opens the store at `path` (creating it if need be) and records every run whose process
/// died while it was `started` as `failed` with error `interrupted`. The command line and the
/// admin page open stores with it.
///
/// # Errors
/// The store cannot be opened (see [`RedbStore::open`]), or a run's lock cannot be checked.
pub fn open_store(path: impl AsRef<Path>) -> Result<RedbStore, RunsError> {
    let store = RedbStore::open(path)?;
    store.recover_interrupted()?;
    Ok(store)
}

/// Opens the PostgreSQL store at `url` (creating its tables if need be; see
/// [`PostgresStore`](crate::store::PostgresStore) for the URL) and records every run whose
/// process died while it was `started` as `failed` with error `interrupted`, as
/// [`open_store`] does for a file.
///
/// # Errors
/// The store cannot be opened (see [`PostgresStore::open`](crate::store::PostgresStore::open)),
/// or the runs cannot be read.
#[cfg(feature = "postgres")]
pub fn open_postgres(url: &str) -> Result<crate::store::PostgresStore, RunsError> {
    let store = crate::store::PostgresStore::open(url)?;
    store.recover_interrupted()?;
    Ok(store)
}
