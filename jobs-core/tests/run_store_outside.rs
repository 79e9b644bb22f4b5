//! A store defined outside jobs-core keeps run records: it implements only the primitives,
//! [`RunStore`], with what jobs-core makes public, gets the lifecycle ([`RunLog`]) with them,
//! and passes the same conformance checks as the stores of jobs-core.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use jobs_core::prelude::*;
use jobs_core::runs::{
    self, ListQuery, OutputKind, RunClaim, RunId, RunLog, RunRecord, RunRequest, RunStore, RunnerOptions, RunsError,
    Status, conformance, liveness,
};
use jobs_core::store::{KeyRange, MemoryStore, Split, Store, StoreError, WriteBatch};
use jobs_core::testing;

/// Run records in a `Vec`, output in another, claims by lock file in a directory: what an
/// application with a store of its own might write. Models are kept by a [`MemoryStore`],
/// which is not what is tested here.
#[derive(Clone)]
struct VecRuns {
    models: Arc<MemoryStore>,
    tables: Arc<Mutex<Tables>>,
    locks: PathBuf,
}

#[derive(Default)]
struct Tables {
    records: Vec<RunRecord>,
    outputs: Vec<(RunId, OutputKind, Vec<String>)>,
}

impl VecRuns {
    fn new(dir: &tempfile::TempDir) -> Self {
        VecRuns {
            models: Arc::new(MemoryStore::new()),
            tables: Arc::default(),
            locks: liveness::lock_dir(&dir.path().join("vec-runs")),
        }
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store for VecRuns {
    fn location(&self) -> String {
        "vec-runs".to_owned()
    }
    fn store_id(&self) -> Result<String, StoreError> {
        self.models.store_id()
    }
    fn kinds(&self) -> Result<Vec<String>, StoreError> {
        self.models.kinds()
    }
    fn count(&self, kind: &str) -> Result<u64, StoreError> {
        self.models.count(kind)
    }
    fn split(&self, kind: &str, shards: usize) -> Result<Vec<Split>, StoreError> {
        self.models.split(kind, shards)
    }
    fn scan(
        &self,
        kind: &str,
        range: &KeyRange,
        visit: &mut dyn FnMut(&str, &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        self.models.scan(kind, range, visit)
    }
    fn get(&self, kind: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.models.get(kind, id)
    }
    fn apply(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        self.models.apply(batch)
    }
    fn apply_checked(&self, batch: &WriteBatch) -> Result<Vec<usize>, StoreError> {
        self.models.apply_checked(batch)
    }
}

impl RunStore for VecRuns {
    fn insert_run(
        &self,
        record: &RunRecord,
        admit: &mut dyn FnMut(&[RunRecord]) -> Result<(), RunsError>,
    ) -> Result<(), RunsError> {
        let mut tables = self.tables();
        if tables.records.iter().any(|r| r.id() == record.id()) {
            return Err(RunsError::DuplicateRun { id: record.id().clone() });
        }
        let mut active: Vec<RunRecord> =
            tables.records.iter().filter(|r| r.job == record.job && r.status().is_active()).cloned().collect();
        active.sort_by_key(|r| r.created_ms());
        admit(&active)?;
        tables.records.push(record.clone());
        Ok(())
    }

    fn load_run(&self, id: &RunId) -> Result<Option<RunRecord>, RunsError> {
        Ok(self.tables().records.iter().find(|r| r.id() == id).cloned())
    }

    fn modify_run(
        &self,
        id: &RunId,
        change: &mut dyn FnMut(&mut RunRecord) -> Result<(), RunsError>,
    ) -> Result<RunRecord, RunsError> {
        let mut tables = self.tables();
        let stored =
            tables.records.iter_mut().find(|r| r.id() == id).ok_or_else(|| RunsError::UnknownRun { id: id.clone() })?;
        let mut changed = stored.clone();
        change(&mut changed)?;
        *stored = changed.clone();
        Ok(changed)
    }

    fn active_runs(&self) -> Result<Vec<RunRecord>, RunsError> {
        let mut active: Vec<RunRecord> =
            self.tables().records.iter().filter(|r| r.status().is_active()).cloned().collect();
        active.sort_by(|a, b| (a.created_ms(), a.id()).cmp(&(b.created_ms(), b.id())));
        Ok(active)
    }

    fn list_runs(&self, query: &ListQuery) -> Result<Vec<RunRecord>, RunsError> {
        let mut runs: Vec<RunRecord> = self
            .tables()
            .records
            .iter()
            .filter(|r| query.since_ms.is_none_or(|since| r.created_ms() >= since))
            .filter(|r| query.job.as_ref().is_none_or(|job| r.job == *job))
            .cloned()
            .collect();
        runs.sort_by(|a, b| (b.created_ms(), b.id()).cmp(&(a.created_ms(), a.id())));
        runs.truncate(query.limit);
        Ok(runs)
    }

    fn remove_finished_before(&self, cutoff_ms: i64) -> Result<Vec<RunId>, RunsError> {
        let mut tables = self.tables();
        let is_old = |r: &RunRecord| r.status().is_finished() && r.finished_ms.unwrap_or(r.created_ms()) < cutoff_ms;
        let removed: Vec<RunId> = tables.records.iter().filter(|r| is_old(r)).map(|r| r.id().clone()).collect();
        tables.records.retain(|r| !removed.contains(r.id()));
        tables.outputs.retain(|(id, _, _)| !removed.contains(id));
        drop(tables);
        for id in &removed {
            liveness::remove_stale(&self.locks, id)?;
        }
        Ok(removed)
    }

    fn write_output(&self, id: &RunId, kind: OutputKind, lines: &[String]) -> Result<(), RunsError> {
        let mut tables = self.tables();
        tables.outputs.retain(|(other, form, _)| !(other == id && *form == kind));
        tables.outputs.push((id.clone(), kind, lines.to_vec()));
        Ok(())
    }

    fn visit_output(
        &self,
        id: &RunId,
        kind: OutputKind,
        visit: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<(), RunsError> {
        let lines = self
            .tables()
            .outputs
            .iter()
            .find(|(other, form, _)| other == id && *form == kind)
            .map(|(_, _, lines)| lines.clone())
            .unwrap_or_default();
        for line in &lines {
            if visit(line).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn claim_run(&self, id: &RunId) -> Result<Option<RunClaim>, RunsError> {
        liveness::claim_file(&self.locks, id)
    }

    fn claim_abandoned(&self, id: &RunId) -> Result<Option<RunClaim>, RunsError> {
        liveness::claim_left_behind(&self.locks, id)
    }
}

#[test]
fn a_store_outside_jobs_core_passes_every_conformance_check() {
    let dir = tempfile::tempdir().unwrap();
    conformance::check_all(&mut || VecRuns::new(&dir));
}

#[test]
fn a_second_handle_on_an_outside_store_sees_commits_and_claims() {
    let dir = tempfile::tempdir().unwrap();
    let store = VecRuns::new(&dir);
    conformance::a_second_handle_sees_commits_and_claims(&store, &store.clone());
}

#[derive(Model, Serialize, Deserialize)]
pub struct Word {
    id: String,
    text: String,
}

/// Counts words by their length.
#[one_off_job(models = [Word])]
pub struct OutsideStoreWordLengths;

impl Map<Word> for OutsideStoreWordLengths {
    fn map(&self, word: Word, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(word.text.len(), 1);
        Ok(())
    }
}

impl Reduce for OutsideStoreWordLengths {
    type Key = usize;
    type Value = u32;
    fn reduce(&self, len: usize, ones: Values<'_, u32>, out: &mut Output) -> Outcome {
        out.line(format!("{len}: {}", ones.sum::<u32>()));
        Ok(())
    }
}

#[test]
fn the_runner_records_a_run_in_an_outside_store_from_queued_to_completed() {
    let dir = tempfile::tempdir().unwrap();
    let store = VecRuns::new(&dir);
    let words = ["a", "be", "see", "do", "I"].iter().enumerate();
    let words: Vec<Word> = words.map(|(i, text)| Word { id: format!("w{i}"), text: (*text).to_owned() }).collect();
    testing::put_all(&store, &words).unwrap();

    let request = RunRequest::new("OutsideStoreWordLengths");
    let record = runs::run(&store, &request, &RunnerOptions::default().with_keep_full_output(true)).unwrap();
    assert_eq!(record.status(), Status::Completed, "{:?}", record.error);
    assert_eq!(store.get_run(record.id()).unwrap(), record, "the record as the runner left it is stored");
    assert_eq!(store.stored_output(record.id()).unwrap(), ["1: 2", "2: 2", "3: 1"]);
    assert_eq!(store.full_output(record.id()).unwrap(), ["1: 2", "2: 2", "3: 1"]);
    assert!(store.claim_run(record.id()).unwrap().is_some(), "the runner let go of its claim");
    assert_eq!(store.recent().unwrap(), [record]);
}
