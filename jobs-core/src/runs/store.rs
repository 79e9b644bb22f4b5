//! [`RunStore`]: the storage primitives a store implements to keep run records. It owns no
//! rule of the lifecycle: those are [`RunLog`](super::RunLog)'s, which every `RunStore` gets.

use std::ops::ControlFlow;

use crate::store::Store;

use super::output::OutputKind;
use super::{ListQuery, RunClaim, RunId, RunRecord, RunsError};

/// Where run records, their output and their liveness are kept: the primitives a store
/// implements, in the same place as its models but in tables of its own.
///
/// Each primitive only stores, in one atomic step (one transaction); none decides what a run
/// may become. The rules (a run's lifecycle, settling a run whose process died, what may be
/// canceled or pruned, when output may be read) are [`RunLog`](super::RunLog)'s provided
/// methods, which every `RunStore` has and none can override. Callers use those:
/// `log.get_run(id)`, `log.transition(..)`, `log.request_cancel(id)`.
///
/// The closures the primitives take run inside that step and must not use the store
/// themselves (a second write transaction would wait for the first forever).
///
/// # Implementing it outside this crate
///
/// Everything an implementation needs is public: [`RunRecord`] is `serde` data (store it as
/// you like; [`RunRecord::id`], [`status`](RunRecord::status) and
/// [`created_ms`](RunRecord::created_ms) are what the primitives select by), and a claim is
/// made with [`RunClaim::held_by`] from a lock or lease of the store's own, or with the
/// helpers of [`liveness`](super::liveness) (lock files beside a store file,
/// [`ClaimedIds`](super::liveness::ClaimedIds) in memory). Check an implementation with
/// [`conformance::check_all`](super::conformance::check_all).
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not keep run records",
    label = "a `RunStore` is needed here",
    note = "implement `jobs_core::runs::RunStore` for `{Self}` (its lifecycle, `RunLog`, then comes with it), or use a \
            store that keeps runs: `RedbStore`, `MemoryStore`, `PostgresStore`"
)]
pub trait RunStore: Store {
    /// Stores a new record, in one atomic step with `admit`: `admit` is shown the job's runs
    /// that are queued or started, oldest first, and may refuse (for exclusive runs).
    ///
    /// # Errors
    /// A record with the same id exists ([`RunsError::DuplicateRun`]), `admit` refused (its
    /// error, and nothing is stored), or the store failed.
    fn insert_run(
        &self,
        record: &RunRecord,
        admit: &mut dyn FnMut(&[RunRecord]) -> Result<(), RunsError>,
    ) -> Result<(), RunsError>;

    /// The record of `id` as stored, if any.
    ///
    /// # Errors
    /// The store failed or the record does not decode.
    fn load_run(&self, id: &RunId) -> Result<Option<RunRecord>, RunsError>;

    /// Reads, changes and writes back one record atomically; returns it as written. Nothing
    /// is written if `change` fails.
    ///
    /// # Errors
    /// No run has this id ([`RunsError::UnknownRun`]), `change` failed, or the store failed.
    fn modify_run(
        &self,
        id: &RunId,
        change: &mut dyn FnMut(&mut RunRecord) -> Result<(), RunsError>,
    ) -> Result<RunRecord, RunsError>;

    /// The records of runs that are `queued` or `started`, oldest first.
    ///
    /// # Errors
    /// The store failed or a record does not decode.
    fn active_runs(&self) -> Result<Vec<RunRecord>, RunsError>;

    /// The records matching `query`, newest first (by creation time, then id).
    ///
    /// # Errors
    /// The store failed or a record does not decode.
    fn list_runs(&self, query: &ListQuery) -> Result<Vec<RunRecord>, RunsError>;

    /// Removes the records (and output) of finished runs that finished before `cutoff_ms`;
    /// returns their ids.
    ///
    /// # Errors
    /// The store failed; nothing was removed.
    fn remove_finished_before(&self, cutoff_ms: i64) -> Result<Vec<RunId>, RunsError>;

    /// Stores one form of a run's output, replacing any stored before.
    ///
    /// # Errors
    /// The store failed.
    fn write_output(&self, id: &RunId, kind: OutputKind, lines: &[String]) -> Result<(), RunsError>;

    /// Stores `stored` as run `id`'s stored output and changes its record with `change`, as
    /// the run ends; returns the record as written.
    ///
    /// The default is [`write_output`](Self::write_output) then
    /// [`modify_run`](Self::modify_run). A store that can do both in one transaction should:
    /// the output and the status that says it is there then become visible together, and a
    /// run ends with one durable commit rather than two. When `change` fails, nothing need be
    /// written; with the default, the output may be.
    ///
    /// # Errors
    /// As [`modify_run`](Self::modify_run), or the output could not be stored.
    fn finish_run(
        &self,
        id: &RunId,
        stored: &[String],
        change: &mut dyn FnMut(&mut RunRecord) -> Result<(), RunsError>,
    ) -> Result<RunRecord, RunsError> {
        self.write_output(id, OutputKind::Stored, stored)?;
        self.modify_run(id, change)
    }

    /// A writer of run `id`'s full output, for stores that keep it somewhere they can stream
    /// to (a redb store: a file beside it); `None` (the default) when the store only takes it
    /// whole, through [`write_output`](Self::write_output).
    ///
    /// The writer owns what it needs (`'static`), so it can be handed to another thread.
    ///
    /// # Errors
    /// The store could not start writing (for a file: its directory or the file could not be
    /// created).
    fn full_output_writer(&self, id: &RunId) -> Result<Option<Box<dyn FullOutputWriter>>, RunsError> {
        let _ = id;
        Ok(None)
    }

    /// Visits the lines of one form of a run's output, in order, until `visit` breaks.
    /// Visits nothing if none is stored.
    ///
    /// # Errors
    /// The store failed or a chunk does not decode.
    fn visit_output(
        &self,
        id: &RunId,
        kind: OutputKind,
        visit: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<(), RunsError>;

    /// Claims run `id` for this process (see [`liveness`](super::liveness)): `None` when
    /// someone alive holds it. The claim must be seen by every handle on the store, this
    /// process's own included, until it is dropped.
    ///
    /// # Errors
    /// The lock could not be taken or checked.
    fn claim_run(&self, id: &RunId) -> Result<Option<RunClaim>, RunsError>;

    /// Claims run `id` only if a process claimed it once and died holding the claim (with
    /// lock files: its file is left behind, unlocked); `None` otherwise, also when nobody
    /// ever claimed it. This tells a `queued` run whose process died between recording it and
    /// starting it from one waiting for a background process, which claims it only when it
    /// takes it up. Stores with no other processes keep the default, `None`.
    ///
    /// # Errors
    /// The lock could not be taken or checked.
    fn claim_abandoned(&self, id: &RunId) -> Result<Option<RunClaim>, RunsError> {
        let _ = id;
        Ok(None)
    }
}

/// Writes one run's full output as it comes, a piece of text at a time (from
/// [`RunStore::full_output_writer`]). Dropped without [`finish`](Self::finish), it leaves
/// nothing behind and replaces nothing.
pub trait FullOutputWriter: Send {
    /// Appends the next piece of the output: lines each ending in `\n`, the last one possibly
    /// cut, to be continued by the next piece.
    ///
    /// # Errors
    /// The text could not be written; the writer has then discarded what it wrote, and
    /// [`finish`](Self::finish) fails too.
    fn text(&mut self, text: &str) -> Result<(), RunsError>;

    /// Makes what was written the run's full output, replacing any written before.
    ///
    /// # Errors
    /// The output could not be written or put in place; the one written before is kept.
    fn finish(self: Box<Self>) -> Result<(), RunsError>;
}
