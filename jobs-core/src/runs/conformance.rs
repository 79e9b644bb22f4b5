//! Checks every [`RunStore`](super::RunStore) must pass: the lifecycle's rules hold on it,
//! unknown ids are named, dead runs are settled, cancel, listing, pruning and output behave.
//!
//! Call [`check_all`] from a test of your store, with a function that makes a fresh, empty
//! one; or call the checks one by one, each on a fresh store, to see each by name. A check
//! that fails panics, naming what did not hold.
//!
//! ```
//! use jobs_core::MemoryStore;
//! use jobs_core::runs::conformance;
//!
//! conformance::check_all(&mut || MemoryStore::new());
//! ```

use std::time::Duration;

use crate::exec::now_ms;
use crate::params::Params;

use super::output::OutputKind;
use super::{CancelOutcome, ListQuery, RunLog, RunRecord, RunsError, Status};

const DAY: i64 = 24 * 3600 * 1000;

/// Runs every check below, each on a fresh store from `fresh`, in the order listed. The
/// checks of a second handle on one store, which need the store's own way to open it twice,
/// are not among them: see [`a_second_handle_sees_commits_and_claims`].
///
/// # Panics
/// A check failed; the message names what did not hold.
pub fn check_all<S: RunLog>(fresh: &mut dyn FnMut() -> S) {
    lifecycle_is_enforced_and_persisted(&fresh());
    unknown_ids_are_named(&fresh());
    a_started_run_nobody_holds_is_interrupted(&fresh());
    cancel_cancels_queued_runs_and_flags_started_ones(&fresh());
    recent_lists_newest_first_within_the_window(&fresh());
    prune_removes_only_old_finished_runs_and_their_output(&fresh());
    output_is_stored_in_both_forms(&fresh());
    finishing_stores_the_output_with_the_record(&fresh());
    exclusive_admission_sees_the_jobs_active_runs(&fresh());
}

/// A `queued` run of `job` created at `created_ms`: a record to store in a check of one's own.
///
/// # Panics
/// Never: a new record may always be queued.
pub fn queued(job: &str, created_ms: i64) -> RunRecord {
    let mut record = RunRecord::new(job, Params::new(), 2, 1, false, created_ms);
    record.transition_at(Status::Queued, created_ms).unwrap();
    record
}

/// A run of `job` that finished as `status` at `at_ms`.
fn finished(job: &str, at_ms: i64, status: Status) -> RunRecord {
    let mut record = queued(job, at_ms - 10);
    if status == Status::Canceled {
        record.transition_at(Status::Canceled, at_ms).unwrap();
    } else {
        record.transition_at(Status::Started, at_ms - 5).unwrap();
        record.transition_at(status, at_ms).unwrap();
    }
    record
}

/// A run goes queued, started, completed as recorded; an id is recorded once; a refused
/// transition names both states and writes nothing; a finished run changes no more.
///
/// # Panics
/// The store does not behave so.
pub fn lifecycle_is_enforced_and_persisted(log: &dyn RunLog) {
    let record = queued("Job", now_ms());
    let id = record.id().clone();
    log.create(&record).unwrap();
    assert!(matches!(log.create(&record), Err(RunsError::DuplicateRun { .. })), "an id is recorded once");
    assert_eq!(log.get_run(&id).unwrap(), record);

    let _claim = log.claim_run(&id).unwrap().unwrap();
    let started = log.transition(&id, Status::Started, &mut |r| r.pid = Some(7)).unwrap();
    assert_eq!((started.status(), started.pid), (Status::Started, Some(7)));
    assert!(started.started_ms.is_some());

    let err = log.transition(&id, Status::Queued, &mut |r| r.pid = Some(8)).unwrap_err();
    assert_eq!(err.to_string(), format!("run {id} cannot go from `started` to `queued`"));
    assert_eq!(log.get_run(&id).unwrap(), started, "a refused transition writes nothing");

    let done = log.transition(&id, Status::Completed, &mut |_| {}).unwrap();
    assert_eq!(log.get_run(&id).unwrap(), done);
    assert!(done.finished_ms.is_some());
    for to in Status::ALL {
        assert!(log.transition(&id, to, &mut |_| {}).is_err(), "a completed run never becomes {to}");
    }
    assert!(log.active_runs().unwrap().is_empty(), "a finished run is not active");
}

/// Every lifecycle method asked about an id nobody recorded fails naming the id.
///
/// # Panics
/// The store does not behave so.
pub fn unknown_ids_are_named(log: &dyn RunLog) {
    let id = queued("Ghost", 1).id().clone();
    let expected = format!("no run has the id `{id}`");
    assert_eq!(log.get_run(&id).unwrap_err().to_string(), expected);
    assert_eq!(log.transition(&id, Status::Started, &mut |_| {}).unwrap_err().to_string(), expected);
    assert_eq!(log.request_cancel(&id).unwrap_err().to_string(), expected);
    assert_eq!(log.full_output(&id).unwrap_err().to_string(), expected);
}

/// A `started` run whose claim is let go is recorded `failed` (`interrupted`) once; one still
/// held stays `started`.
///
/// # Panics
/// The store does not behave so.
pub fn a_started_run_nobody_holds_is_interrupted(log: &dyn RunLog) {
    let alive = queued("Job", now_ms());
    let dead = queued("Job", now_ms());
    log.create(&alive).unwrap();
    log.create(&dead).unwrap();
    let _alive_claim = log.claim_run(alive.id()).unwrap().unwrap();
    log.transition(alive.id(), Status::Started, &mut |_| {}).unwrap();
    let dead_claim = log.claim_run(dead.id()).unwrap().unwrap();
    log.transition(dead.id(), Status::Started, &mut |_| {}).unwrap();

    assert!(log.recover_interrupted().unwrap().is_empty(), "held runs are alive");
    drop(dead_claim);
    assert_eq!(log.recover_interrupted().unwrap(), [dead.id().clone()]);
    let record = log.get_run(dead.id()).unwrap();
    assert_eq!((record.status(), record.error.as_deref()), (Status::Failed, Some("interrupted")));
    assert!(record.was_interrupted());
    assert_eq!(log.get_run(alive.id()).unwrap().status(), Status::Started);
    assert!(log.recover_interrupted().unwrap().is_empty(), "recovery happens once");
}

/// Cancel makes a `queued` run `canceled`, flags a `started` one for its runner, and refuses a
/// `new` one.
///
/// # Panics
/// The store does not behave so.
pub fn cancel_cancels_queued_runs_and_flags_started_ones(log: &dyn RunLog) {
    let waiting = queued("Job", now_ms());
    let running = queued("Job", now_ms());
    log.create(&waiting).unwrap();
    log.create(&running).unwrap();
    let _claim = log.claim_run(running.id()).unwrap().unwrap();
    log.transition(running.id(), Status::Started, &mut |_| {}).unwrap();

    assert_eq!(log.request_cancel(waiting.id()).unwrap(), CancelOutcome::Canceled);
    assert_eq!(log.get_run(waiting.id()).unwrap().status(), Status::Canceled);
    assert_eq!(log.request_cancel(waiting.id()).unwrap(), CancelOutcome::AlreadyFinished(Status::Canceled));

    assert_eq!(log.request_cancel(running.id()).unwrap(), CancelOutcome::Requested);
    let record = log.get_run(running.id()).unwrap();
    assert_eq!(record.status(), Status::Started, "the runner records the cancel itself");
    assert!(record.is_cancel_requested());

    let fresh = RunRecord::new("Job", Params::new(), 1, 1, false, now_ms());
    log.create(&fresh).unwrap();
    let err = log.request_cancel(fresh.id()).unwrap_err();
    assert!(err.to_string().ends_with("cannot go from `new` to `canceled`"), "{err}");
}

/// Listing gives the runs created since the window began, of one job when asked, newest
/// first, at most the limit.
///
/// # Panics
/// The store does not behave so.
pub fn recent_lists_newest_first_within_the_window(log: &dyn RunLog) {
    let now = now_ms();
    let old = finished("Job", now - 20 * DAY, Status::Completed);
    let day = finished("Job", now - DAY, Status::Failed);
    let hour = finished("Other", now - 3600 * 1000, Status::Canceled);
    for record in [&hour, &old, &day] {
        log.create(record).unwrap();
    }
    let ids = |runs: Vec<RunRecord>| runs.iter().map(|r| r.id().clone()).collect::<Vec<_>>();
    assert_eq!(ids(log.recent().unwrap()), [hour.id().clone(), day.id().clone()]);
    let query = ListQuery { since_ms: None, limit: 10, job: Some("Job".into()) };
    assert_eq!(ids(log.list(&query).unwrap()), [day.id().clone(), old.id().clone()]);

    for i in 0..105 {
        log.create(&finished("Many", now - 1000 - i, Status::Completed)).unwrap();
    }
    let recent = log.recent().unwrap();
    assert_eq!(recent.len(), 100, "at most 100");
    assert!(recent.windows(2).all(|w| w[0].created_ms() >= w[1].created_ms()), "newest first");
}

/// Pruning removes finished runs older than its age, with their output, and never a queued
/// or started one.
///
/// # Panics
/// The store does not behave so.
pub fn prune_removes_only_old_finished_runs_and_their_output(log: &dyn RunLog) {
    let now = now_ms();
    let old = finished("Job", now - 100 * DAY, Status::Completed);
    let young = finished("Job", now - DAY, Status::Completed);
    let old_queued = queued("Job", now - 100 * DAY);
    for record in [&old, &young, &old_queued] {
        log.create(record).unwrap();
    }
    log.update(old.id(), &mut |r| r.output = Some(Default::default())).unwrap();
    log.write_output(old.id(), OutputKind::Full, &["x".to_owned()]).unwrap();
    log.write_output(old.id(), OutputKind::Stored, &["x".to_owned()]).unwrap();

    assert_eq!(log.prune(Duration::from_secs(84 * 24 * 3600)).unwrap(), [old.id().clone()]);
    assert!(matches!(log.get_run(old.id()), Err(RunsError::UnknownRun { .. })));
    let mut seen = 0;
    log.visit_output(old.id(), OutputKind::Full, &mut |_| {
        seen += 1;
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(seen, 0, "a pruned run's output goes with it");
    assert!(log.get_run(young.id()).is_ok());
    assert!(log.get_run(old_queued.id()).is_ok(), "an unfinished run is never pruned");
    assert!(log.prune(Duration::ZERO).unwrap().contains(young.id()));
}

/// Both forms of output are stored, read back in order and replaced by a second write; a run
/// without a summary of its output has none to read.
///
/// # Panics
/// The store does not behave so.
pub fn output_is_stored_in_both_forms(log: &dyn RunLog) {
    let record = finished("Job", now_ms(), Status::Completed);
    log.create(&record).unwrap();
    let id = record.id();
    assert!(
        matches!(log.full_output(id), Err(RunsError::NoOutput { status: Status::Completed, .. })),
        "no output is reported until its summary is recorded"
    );
    let full: Vec<String> = (0..70_000).map(|i| format!("line {}", i % 1000)).collect();
    let stored = super::output::stored(&full, 50);
    log.write_output(id, OutputKind::Full, &full).unwrap();
    log.write_output(id, OutputKind::Stored, &stored.lines).unwrap();
    log.update(id, &mut |r| r.output = Some(stored.summary)).unwrap();
    assert_eq!(log.full_output(id).unwrap(), full);
    assert_eq!(log.stored_output(id).unwrap(), stored.lines);

    let mut exported = Vec::new();
    assert_eq!(log.export_full_output(id, &mut exported).unwrap(), 70_000);
    assert_eq!(String::from_utf8(exported).unwrap(), full.iter().map(|l| format!("{l}\n")).collect::<String>());

    log.write_output(id, OutputKind::Full, &["only".to_owned()]).unwrap();
    assert_eq!(log.full_output(id).unwrap(), ["only"], "writing replaces");

    let waiting = queued("Job", now_ms());
    log.create(&waiting).unwrap();
    let err = log.stored_output(waiting.id()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("run {} has no output: it is queued; output is stored when it completes", waiting.id())
    );
}

/// [`finish_run`](super::RunStore::finish_run) stores the output and the changed record,
/// replacing output stored before; when the change is refused, the record stays as it was.
///
/// # Panics
/// The store does not behave so.
pub fn finishing_stores_the_output_with_the_record(log: &dyn RunLog) {
    let record = queued("Job", now_ms());
    let id = record.id().clone();
    log.create(&record).unwrap();
    let _claim = log.claim_run(&id).unwrap().unwrap();
    let started = log.transition(&id, Status::Started, &mut |_| {}).unwrap();
    log.write_output(&id, OutputKind::Stored, &["from before".to_owned()]).unwrap();

    let err = log.finish_run(&id, &["refused".to_owned()], &mut |r| r.transition(Status::Queued)).unwrap_err();
    assert!(matches!(err, RunsError::InvalidTransition { .. }), "{err}");
    assert_eq!(log.get_run(&id).unwrap(), started, "a refused change leaves the record as it was");

    let lines: Vec<String> = (0..5_000).map(|i| format!("[{i},\"line\"]")).collect();
    let stored = super::output::stored(&lines, 100);
    let done = log
        .finish_run(&id, &stored.lines, &mut |r| {
            r.transition(Status::Completed)?;
            r.output = Some(stored.summary);
            Ok(())
        })
        .unwrap();
    assert_eq!(done.status(), Status::Completed);
    assert_eq!(log.get_run(&id).unwrap(), done);
    assert_eq!(log.stored_output(&id).unwrap(), stored.lines, "the output replaces what was stored before");
    assert!(log.active_runs().unwrap().is_empty(), "a finished run is not active");
}

/// Inserting a run shows its admission only the same job's queued and started runs, and a
/// refused run is not stored.
///
/// # Panics
/// The store does not behave so.
pub fn exclusive_admission_sees_the_jobs_active_runs(log: &dyn RunLog) {
    let now = now_ms();
    let active = queued("Job", now - 2);
    log.create(&active).unwrap();
    log.create(&queued("Other", now - 1)).unwrap();
    log.create(&finished("Job", now - 1, Status::Completed)).unwrap();

    let mut seen = Vec::new();
    let next = queued("Job", now);
    log.insert_run(&next, &mut |runs| {
        seen = runs.iter().map(|r| r.id().clone()).collect();
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, [active.id().clone()], "only this job's queued or started runs");

    let refused = queued("Job", now);
    let err = log
        .insert_run(&refused, &mut |runs| {
            Err(RunsError::AlreadyActive { job: "Job".into(), id: runs[0].id().clone(), status: runs[0].status() })
        })
        .unwrap_err();
    assert!(err.to_string().starts_with(&format!("Job already has a run queued: {}", active.id())), "{err}");
    assert!(matches!(log.get_run(refused.id()), Err(RunsError::UnknownRun { .. })), "a refused run is not stored");
}

/// A run created and claimed through `log` is seen started, then interrupted once let go,
/// through `other`, a second handle on the same store (as another process has).
///
/// # Panics
/// The store does not behave so.
pub fn a_second_handle_sees_commits_and_claims(log: &dyn RunLog, other: &dyn RunLog) {
    let record = queued("Job", 10);
    log.create(&record).unwrap();
    let claim = log.claim_run(record.id()).unwrap().unwrap();
    log.transition(record.id(), Status::Started, &mut |_| {}).unwrap();
    assert_eq!(other.get_run(record.id()).unwrap().status(), Status::Started, "claimed: alive, not interrupted");
    drop(claim);
    assert!(other.get_run(record.id()).unwrap().was_interrupted(), "let go while started: interrupted");
}
