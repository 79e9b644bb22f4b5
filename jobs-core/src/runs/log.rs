//! [`RunLog`]: the lifecycle of runs kept in a [`RunStore`], with the rules no store can
//! change: what a status may become, settling runs whose process died, cancel, prune, output.

use std::ops::ControlFlow;
use std::time::Duration;

use crate::exec::now_ms;

use super::output::OutputKind;
use super::{INTERRUPTED, OutputSummary, RunId, RunRecord, RunStore, RunsError, Status};

/// How long `jobs runs` looks back by default.
pub const RECENT: Duration = Duration::from_secs(14 * 24 * 3600);
/// How many runs `jobs runs` shows by default.
pub const RECENT_LIMIT: usize = 100;
/// How old a finished run must be for `jobs prune` to remove it by default.
pub const PRUNE_AFTER: Duration = Duration::from_secs(84 * 24 * 3600);

/// Which runs to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Only runs created at or after this time (ms since the Unix epoch).
    pub since_ms: Option<i64>,
    /// At most this many, newest first.
    pub limit: usize,
    /// Only runs of this job.
    pub job: Option<String>,
}

impl ListQuery {
    /// What `jobs runs` shows: the last 14 days, at most 100, newest first.
    pub fn recent(now_ms: i64) -> Self {
        ListQuery { since_ms: Some(now_ms - RECENT.as_millis() as i64), limit: RECENT_LIMIT, job: None }
    }
}

/// What [`RunLog::request_cancel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The run was only queued: it is now `canceled` and will not start.
    Canceled,
    /// The run is `started`: its process has been asked to stop and will record it
    /// `canceled` within about a second ([`wait`](super::wait) for it).
    Requested,
    /// The run had already finished with this status; nothing changed.
    AlreadyFinished(Status),
}

/// A run's lifecycle, kept in a [`RunStore`]: create, get, transition, list, cancel, prune,
/// and read output.
///
/// Implemented for every [`RunStore`] and for nothing else, with the bodies here: a store
/// cannot override them (an `impl RunLog` of its own conflicts with the blanket one), so
/// every store follows the same rules. Take a `&dyn RunLog` to use both the lifecycle and,
/// since it is a [`Store`](crate::store::Store), the models.
///
/// Reading a run also settles whether it is still alive: a `started` run whose process died
/// is recorded `failed` with error `interrupted` by whichever read meets it first (see
/// [`liveness`](super::liveness)). Open a store with [`open_store`](super::open_store), which
/// does so for every run at once.
pub trait RunLog: RunStore {
    /// Records a new run as it is (normally `queued`; see [`queue`](super::queue)).
    ///
    /// # Errors
    /// A record with the same id exists, or the store failed.
    fn create(&self, record: &RunRecord) -> Result<(), RunsError> {
        self.insert_run(record, &mut |_| Ok(()))
    }

    /// The record of run `id`. A `started` run whose process died, or a `queued` one whose
    /// process died before starting it, is recorded `failed` (`interrupted`) first.
    ///
    /// # Errors
    /// No run has this id (the error names it), or the store failed.
    fn get_run(&self, id: &RunId) -> Result<RunRecord, RunsError> {
        let record = self.load_run(id)?.ok_or_else(|| RunsError::UnknownRun { id: id.clone() })?;
        if record.status().is_active() { Ok(settle(self, record)?.0) } else { Ok(record) }
    }

    /// Changes run `id`'s fields with `change`, atomically. (Its status changes only through
    /// [`transition`](Self::transition).)
    ///
    /// # Errors
    /// No run has this id, or the store failed.
    fn update(&self, id: &RunId, change: &mut dyn FnMut(&mut RunRecord)) -> Result<RunRecord, RunsError> {
        self.modify_run(id, &mut |record| {
            change(record);
            Ok(())
        })
    }

    /// Moves run `id` to status `to` and applies `change`, atomically.
    ///
    /// # Errors
    /// The lifecycle does not allow it (the error names both states: nothing is written), no
    /// run has this id, or the store failed.
    fn transition(
        &self,
        id: &RunId,
        to: Status,
        change: &mut dyn FnMut(&mut RunRecord),
    ) -> Result<RunRecord, RunsError> {
        self.modify_run(id, &mut |record| {
            record.transition(to)?;
            change(record);
            Ok(())
        })
    }

    /// The runs matching `query`, newest first, after settling dead ones.
    ///
    /// # Errors
    /// The store failed.
    fn list(&self, query: &ListQuery) -> Result<Vec<RunRecord>, RunsError> {
        self.recover_interrupted()?;
        self.list_runs(query)
    }

    /// What `jobs runs` shows: runs of the last 14 days, at most 100, newest first.
    ///
    /// # Errors
    /// The store failed.
    fn recent(&self) -> Result<Vec<RunRecord>, RunsError> {
        self.list(&ListQuery::recent(now_ms()))
    }

    /// Records every `started` run whose process died as `failed` with error `interrupted`;
    /// returns their ids. [`open_store`](super::open_store) calls it; listing does too.
    ///
    /// # Errors
    /// The store failed, or a lock could not be checked.
    fn recover_interrupted(&self) -> Result<Vec<RunId>, RunsError> {
        let mut recovered = Vec::new();
        for record in self.active_runs()? {
            let (record, interrupted) = settle(self, record)?;
            if interrupted {
                recovered.push(record.id().clone());
            }
        }
        Ok(recovered)
    }

    /// Asks run `id` to stop. A `queued` run is `canceled` at once; a `started` one is
    /// flagged, and the process running it notices within a poll interval (250 ms by default),
    /// stops, and records it `canceled` with no output. Works from any process sharing the
    /// store.
    ///
    /// # Errors
    /// No run has this id, or the store failed.
    fn request_cancel(&self, id: &RunId) -> Result<CancelOutcome, RunsError> {
        self.get_run(id)?;
        let mut outcome = CancelOutcome::Requested;
        self.modify_run(id, &mut |record| {
            outcome = match record.status() {
                // `new` cannot become `canceled`: the transition's error says so.
                Status::New | Status::Queued => {
                    record.transition(Status::Canceled)?;
                    CancelOutcome::Canceled
                }
                Status::Started => {
                    record.cancel_requested_ms.get_or_insert_with(now_ms);
                    CancelOutcome::Requested
                }
                finished => CancelOutcome::AlreadyFinished(finished),
            };
            Ok(())
        })?;
        Ok(outcome)
    }

    /// Removes finished runs (and their output) that finished more than `older_than` ago;
    /// returns their ids. Queued and started runs are never removed.
    ///
    /// # Errors
    /// The store failed.
    fn prune(&self, older_than: Duration) -> Result<Vec<RunId>, RunsError> {
        self.recover_interrupted()?;
        let age = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        self.remove_finished_before(now_ms().saturating_sub(age))
    }

    /// The stored output of run `id`: folded and cut at the limit (see [`output`](super::output)).
    ///
    /// # Errors
    /// No run has this id, it has not completed ([`RunsError::NoOutput`]), or the store failed.
    fn stored_output(&self, id: &RunId) -> Result<Vec<String>, RunsError> {
        collect_output(self, id, OutputKind::Stored)
    }

    /// Every line run `id` produced, unfolded and uncut.
    ///
    /// # Errors
    /// No run has this id, it has not completed ([`RunsError::NoOutput`]), or the store failed.
    fn full_output(&self, id: &RunId) -> Result<Vec<String>, RunsError> {
        check_has_full_output(self, id)?;
        collect_output(self, id, OutputKind::Full)
    }

    /// Writes every line run `id` produced to `to`, one per line, streaming; returns how many.
    ///
    /// # Errors
    /// No run has this id, it has not completed, the store failed, or writing failed.
    fn export_full_output(&self, id: &RunId, to: &mut dyn std::io::Write) -> Result<u64, RunsError> {
        check_has_full_output(self, id)?;
        let mut written = 0;
        let mut failure = None;
        self.visit_output(id, OutputKind::Full, &mut |line| match writeln!(to, "{line}") {
            Ok(()) => {
                written += 1;
                ControlFlow::Continue(())
            }
            Err(error) => {
                failure = Some(error);
                ControlFlow::Break(())
            }
        })?;
        match failure.or_else(|| to.flush().err()) {
            Some(source) => Err(RunsError::Export { id: id.clone(), source }),
            None => Ok(written),
        }
    }
}

impl<S: RunStore + ?Sized> RunLog for S {}

/// Checks whether a `started` run is alive, or a `queued` one was abandoned by the process
/// that claimed it; if its process is gone, records it `failed` with error `interrupted`. Returns the record as it now stands and whether it was interrupted.
fn settle<L: RunStore + ?Sized>(log: &L, record: RunRecord) -> Result<(RunRecord, bool), RunsError> {
    let claim = match record.status() {
        Status::Started => log.claim_run(record.id())?,
        // Only a claim left behind by a dead process: a queued run nobody has claimed yet is
        // waiting for its background process.
        Status::Queued => log.claim_abandoned(record.id())?,
        _ => None,
    };
    let Some(claim) = claim else {
        return Ok((record, false));
    };
    let was = record.status();
    // Holding the claim, re-read under the transaction: the run may have moved on (and let
    // go) between our read and our claim.
    let mut interrupted = false;
    let record = log.modify_run(record.id(), &mut |record| {
        if record.status() == was {
            record.transition(Status::Failed)?;
            record.error = Some(INTERRUPTED.to_owned());
            interrupted = true;
        }
        Ok(())
    })?;
    drop(claim);
    if interrupted {
        tracing::warn!(run = %record.id(), pid = ?record.pid, "run was interrupted: its process died while it ran");
    }
    Ok((record, interrupted))
}

/// The summary of run `id`'s output, if it has one.
fn check_has_output<L: RunStore + ?Sized>(log: &L, id: &RunId) -> Result<OutputSummary, RunsError> {
    let record = log.get_run(id)?;
    // A run that failed only by exceeding its failure limit has its output stored too.
    match record.output {
        Some(summary) if record.status().is_finished() => Ok(summary),
        _ => Err(RunsError::NoOutput { id: id.clone(), status: record.status() }),
    }
}

/// As [`check_has_output`], and the run kept its full output.
fn check_has_full_output<L: RunStore + ?Sized>(log: &L, id: &RunId) -> Result<(), RunsError> {
    if check_has_output(log, id)?.full_output_kept {
        Ok(())
    } else {
        Err(RunsError::FullOutputNotKept { id: id.clone() })
    }
}

fn collect_output<L: RunStore + ?Sized>(log: &L, id: &RunId, kind: OutputKind) -> Result<Vec<String>, RunsError> {
    if kind == OutputKind::Stored {
        check_has_output(log, id)?;
    }
    let mut lines = Vec::new();
    log.visit_output(id, kind, &mut |line| {
        lines.push(line.to_owned());
        ControlFlow::Continue(())
    })?;
    Ok(lines)
}
