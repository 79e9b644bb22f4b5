//! [`RunStore`] for [`MemoryStore`]: records in a map beside the models, for tests and examples.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::sync::{Mutex, MutexGuard};

use crate::store::MemoryStore;

use super::liveness::ClaimedIds;
use super::output::OutputKind;
use super::{ListQuery, RunClaim, RunId, RunRecord, RunStore, RunsError};

/// The runs of one [`MemoryStore`]. Kept apart from its models, so a run's bookkeeping never
/// shows among them.
#[derive(Debug, Default)]
pub(crate) struct MemoryRuns {
    state: Mutex<State>,
    claimed: ClaimedIds,
}

#[derive(Debug, Default)]
struct State {
    records: BTreeMap<RunId, RunRecord>,
    outputs: HashMap<(RunId, OutputKind), Vec<String>>,
}

impl State {
    /// Changes record `id` with `change`, or leaves it as it was if `change` fails.
    fn modify(
        &mut self,
        id: &RunId,
        change: &mut dyn FnMut(&mut RunRecord) -> Result<(), RunsError>,
    ) -> Result<RunRecord, RunsError> {
        let stored = self.records.get_mut(id).ok_or_else(|| RunsError::UnknownRun { id: id.clone() })?;
        let mut changed = stored.clone();
        change(&mut changed)?;
        *stored = changed.clone();
        Ok(changed)
    }
}

impl MemoryRuns {
    fn state(&self) -> MutexGuard<'_, State> {
        // Held only around plain map operations and the caller's closures, which leave the
        // maps whole even if one panics.
        crate::sync::lock(&self.state)
    }
}

impl RunStore for MemoryStore {
    fn insert_run(
        &self,
        record: &RunRecord,
        admit: &mut dyn FnMut(&[RunRecord]) -> Result<(), RunsError>,
    ) -> Result<(), RunsError> {
        let mut state = self.runs().state();
        if state.records.contains_key(record.id()) {
            return Err(RunsError::DuplicateRun { id: record.id().clone() });
        }
        let mut active: Vec<RunRecord> =
            state.records.values().filter(|r| r.job == record.job && r.status().is_active()).cloned().collect();
        active.sort_by_key(|r| r.created_ms());
        admit(&active)?;
        state.records.insert(record.id().clone(), record.clone());
        Ok(())
    }

    fn load_run(&self, id: &RunId) -> Result<Option<RunRecord>, RunsError> {
        Ok(self.runs().state().records.get(id).cloned())
    }

    fn modify_run(
        &self,
        id: &RunId,
        change: &mut dyn FnMut(&mut RunRecord) -> Result<(), RunsError>,
    ) -> Result<RunRecord, RunsError> {
        self.runs().state().modify(id, change)
    }

    fn active_runs(&self) -> Result<Vec<RunRecord>, RunsError> {
        let mut active: Vec<RunRecord> =
            self.runs().state().records.values().filter(|r| r.status().is_active()).cloned().collect();
        active.sort_by(|a, b| (a.created_ms(), a.id()).cmp(&(b.created_ms(), b.id())));
        Ok(active)
    }

    fn list_runs(&self, query: &ListQuery) -> Result<Vec<RunRecord>, RunsError> {
        let mut runs: Vec<RunRecord> = self
            .runs()
            .state()
            .records
            .values()
            .filter(|r| query.since_ms.is_none_or(|since| r.created_ms() >= since))
            .filter(|r| query.job.as_ref().is_none_or(|job| r.job == *job))
            .cloned()
            .collect();
        runs.sort_by(|a, b| (b.created_ms(), b.id()).cmp(&(a.created_ms(), a.id())));
        runs.truncate(query.limit);
        Ok(runs)
    }

    fn remove_finished_before(&self, cutoff_ms: i64) -> Result<Vec<RunId>, RunsError> {
        let mut state = self.runs().state();
        let removed: Vec<RunId> = state
            .records
            .values()
            .filter(|r| r.status().is_finished() && r.finished_ms.unwrap_or(r.created_ms()) < cutoff_ms)
            .map(|r| r.id().clone())
            .collect();
        for id in &removed {
            state.records.remove(id);
            state.outputs.remove(&(id.clone(), OutputKind::Stored));
            state.outputs.remove(&(id.clone(), OutputKind::Full));
        }
        Ok(removed)
    }

    fn write_output(&self, id: &RunId, kind: OutputKind, lines: &[String]) -> Result<(), RunsError> {
        self.runs().state().outputs.insert((id.clone(), kind), lines.to_vec());
        Ok(())
    }

    fn finish_run(
        &self,
        id: &RunId,
        stored: &[String],
        change: &mut dyn FnMut(&mut RunRecord) -> Result<(), RunsError>,
    ) -> Result<RunRecord, RunsError> {
        let mut state = self.runs().state();
        let record = state.modify(id, change)?;
        state.outputs.insert((id.clone(), OutputKind::Stored), stored.to_vec());
        Ok(record)
    }

    fn visit_output(
        &self,
        id: &RunId,
        kind: OutputKind,
        visit: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<(), RunsError> {
        // Copied out, so that `visit` may use the store.
        let lines = self.runs().state().outputs.get(&(id.clone(), kind)).cloned().unwrap_or_default();
        for line in &lines {
            if visit(line).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn claim_run(&self, id: &RunId) -> Result<Option<RunClaim>, RunsError> {
        Ok(self.runs().claimed.claim(id))
    }
}

#[cfg(test)]
mod tests {
    use super::super::conformance;
    use super::*;

    #[test]
    fn lifecycle_is_enforced_and_persisted() {
        conformance::lifecycle_is_enforced_and_persisted(&MemoryStore::new());
    }

    #[test]
    fn unknown_ids_are_named() {
        conformance::unknown_ids_are_named(&MemoryStore::new());
    }

    #[test]
    fn a_started_run_nobody_holds_is_interrupted() {
        conformance::a_started_run_nobody_holds_is_interrupted(&MemoryStore::new());
    }

    #[test]
    fn cancel_cancels_queued_runs_and_flags_started_ones() {
        conformance::cancel_cancels_queued_runs_and_flags_started_ones(&MemoryStore::new());
    }

    #[test]
    fn recent_lists_newest_first_within_the_window() {
        conformance::recent_lists_newest_first_within_the_window(&MemoryStore::new());
    }

    #[test]
    fn prune_removes_only_old_finished_runs_and_their_output() {
        conformance::prune_removes_only_old_finished_runs_and_their_output(&MemoryStore::new());
    }

    #[test]
    fn output_is_stored_in_both_forms() {
        conformance::output_is_stored_in_both_forms(&MemoryStore::new());
    }

    #[test]
    fn finishing_stores_the_output_with_the_record() {
        conformance::finishing_stores_the_output_with_the_record(&MemoryStore::new());
    }

    #[test]
    fn exclusive_admission_sees_the_jobs_active_runs() {
        conformance::exclusive_admission_sees_the_jobs_active_runs(&MemoryStore::new());
    }
}
