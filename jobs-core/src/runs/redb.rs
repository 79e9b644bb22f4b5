//! [`RunStore`] for [`RedbStore`]: runs in the store's own file, in tables of their own.
//!
//! | table               | key                  | value                                  |
//! |---------------------|----------------------|----------------------------------------|
//! | `runs/record`       | run id               | the record ([`codec`](super::codec))   |
//! | `runs/by_created`   | (created ms, run id) | nothing: the index `jobs runs` walks   |
//! | `runs/active`       | run id               | nothing: runs queued or started        |
//! | `runs/output/stored`| (run id, chunk no.)  | lines, folded and cut                  |
//!
//! None starts with `model/`, so [`Store::kinds`](crate::Store::kinds) never lists them. A
//! run's full output, when kept, is a file beside the store ([`output_file`](super::output_file)),
//! written a line at a time ([`full_output_writer`](RunStore::full_output_writer)) or whole,
//! so runs do not grow the store by their output; stores written by earlier versions may still
//! hold some in the table `runs/output/full`, which is read when no file is found and emptied
//! by `prune`.
//!
//! # Several processes
//!
//! The store is opened in redb's multi-writer mode, so `jobs run`, `jobs status` and
//! `jobs cancel` in different processes share the file. Each commit is durable (two-phase,
//! fsynced) before it becomes visible to other processes, and a read transaction sees the
//! newest commit *as of its start*: every method here begins a fresh transaction, so a
//! runner polling for a cancel request sees it at its next poll. Write transactions are
//! serialized across processes (redb's writer lock); each one here is short.

use std::ops::ControlFlow;

use redb::{ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, TableError, WriteTransaction};

use crate::store::RedbStore;

use super::codec::{decode_chunk, decode_record, encode_chunk, encode_record};
use super::liveness;
use super::output::{self, OutputKind};
use super::output_file;
use super::{FullOutputWriter, ListQuery, RunClaim, RunId, RunRecord, RunStore, RunsError};

const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("runs/record");
const BY_CREATED: TableDefinition<(i64, &str), ()> = TableDefinition::new("runs/by_created");
const ACTIVE: TableDefinition<&str, ()> = TableDefinition::new("runs/active");
const STORED_OUTPUT: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("runs/output/stored");
const FULL_OUTPUT: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("runs/output/full");

fn output_table(kind: OutputKind) -> TableDefinition<'static, (&'static str, u32), &'static [u8]> {
    match kind {
        OutputKind::Stored => STORED_OUTPUT,
        OutputKind::Full => FULL_OUTPUT,
    }
}

impl RedbStore {
    fn fail(&self, error: impl Into<redb::Error>) -> RunsError {
        RunsError::Store(self.error(error))
    }

    fn read_txn(&self) -> Result<ReadTransaction, RunsError> {
        self.database().begin_read().map_err(|e| self.fail(e))
    }

    fn write_txn(&self) -> Result<WriteTransaction, RunsError> {
        self.database().begin_write().map_err(|e| self.fail(e))
    }

    fn commit(&self, txn: WriteTransaction) -> Result<(), RunsError> {
        txn.commit().map_err(|e| self.fail(e))
    }

    /// Opens a table for reading; `None` if no run ever created it.
    fn read_table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        txn: &ReadTransaction,
        table: TableDefinition<K, V>,
    ) -> Result<Option<redb::ReadOnlyTable<K, V>>, RunsError> {
        match txn.open_table(table) {
            Ok(table) => Ok(Some(table)),
            Err(TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn decode_from(
        &self,
        records: &impl ReadableTable<&'static str, &'static [u8]>,
        id: &str,
    ) -> Result<Option<RunRecord>, RunsError> {
        match records.get(id).map_err(|e| self.fail(e))? {
            Some(bytes) => decode_record(id, bytes.value()).map(Some),
            None => Ok(None),
        }
    }

    /// [`RunStore::modify_run`] within `txn`.
    fn modify_in(
        &self,
        txn: &WriteTransaction,
        id: &RunId,
        change: &mut dyn FnMut(&mut RunRecord) -> Result<(), RunsError>,
    ) -> Result<RunRecord, RunsError> {
        let mut records = txn.open_table(RECORDS).map_err(|e| self.fail(e))?;
        let mut record =
            self.decode_from(&records, id.as_str())?.ok_or_else(|| RunsError::UnknownRun { id: id.clone() })?;
        change(&mut record)?;
        records.insert(id.as_str(), encode_record(&record)?.as_slice()).map_err(|e| self.fail(e))?;
        let mut active = txn.open_table(ACTIVE).map_err(|e| self.fail(e))?;
        if record.status().is_active() {
            active.insert(id.as_str(), ()).map_err(|e| self.fail(e))?;
        } else {
            active.remove(id.as_str()).map_err(|e| self.fail(e))?;
        }
        Ok(record)
    }

    /// Replaces run `id`'s output of `kind` in the store's tables within `txn`.
    fn write_output_in(
        &self,
        txn: &WriteTransaction,
        id: &RunId,
        kind: OutputKind,
        lines: &[String],
    ) -> Result<(), RunsError> {
        let id = id.as_str();
        let mut chunks = txn.open_table(output_table(kind)).map_err(|e| self.fail(e))?;
        chunks.retain_in((id, 0)..=(id, u32::MAX), |_, _| false).map_err(|e| self.fail(e))?;
        for (number, chunk) in output::chunks(lines).enumerate() {
            let number = u32::try_from(number).map_err(|_| RunsError::Codec {
                id: id.to_owned(),
                message: "the output has more than 2^32 chunks".to_owned(),
            })?;
            chunks.insert((id, number), encode_chunk(id, chunk)?.as_slice()).map_err(|e| self.fail(e))?;
        }
        Ok(())
    }
}

impl RunStore for RedbStore {
    fn insert_run(
        &self,
        record: &RunRecord,
        admit: &mut dyn FnMut(&[RunRecord]) -> Result<(), RunsError>,
    ) -> Result<(), RunsError> {
        let id = record.id().as_str();
        let bytes = encode_record(record)?;
        let txn = self.write_txn()?;
        {
            let mut records = txn.open_table(RECORDS).map_err(|e| self.fail(e))?;
            if records.get(id).map_err(|e| self.fail(e))?.is_some() {
                return Err(RunsError::DuplicateRun { id: record.id().clone() });
            }
            let mut active = txn.open_table(ACTIVE).map_err(|e| self.fail(e))?;
            let mut same_job = Vec::new();
            for row in active.iter().map_err(|e| self.fail(e))? {
                let (other, _) = row.map_err(|e| self.fail(e))?;
                let other = other.value();
                if let Some(run) = self.decode_from(&records, other)?
                    && run.job == record.job
                {
                    same_job.push(run);
                }
            }
            same_job.sort_by_key(|r| r.created_ms());
            admit(&same_job)?;
            records.insert(id, bytes.as_slice()).map_err(|e| self.fail(e))?;
            let mut by_created = txn.open_table(BY_CREATED).map_err(|e| self.fail(e))?;
            by_created.insert((record.created_ms(), id), ()).map_err(|e| self.fail(e))?;
            if record.status().is_active() {
                active.insert(id, ()).map_err(|e| self.fail(e))?;
            }
        }
        self.commit(txn)
    }

    fn load_run(&self, id: &RunId) -> Result<Option<RunRecord>, RunsError> {
        let txn = self.read_txn()?;
        match self.read_table(&txn, RECORDS)? {
            Some(records) => self.decode_from(&records, id.as_str()),
            None => Ok(None),
        }
    }

    fn modify_run(
        &self,
        id: &RunId,
        change: &mut dyn FnMut(&mut RunRecord) -> Result<(), RunsError>,
    ) -> Result<RunRecord, RunsError> {
        let txn = self.write_txn()?;
        // Dropping the transaction unwritten, should `change` fail, aborts it.
        let record = self.modify_in(&txn, id, change)?;
        self.commit(txn)?;
        Ok(record)
    }

    fn active_runs(&self) -> Result<Vec<RunRecord>, RunsError> {
        let txn = self.read_txn()?;
        let (Some(active), Some(records)) = (self.read_table(&txn, ACTIVE)?, self.read_table(&txn, RECORDS)?) else {
            return Ok(Vec::new());
        };
        let mut runs = Vec::new();
        for row in active.iter().map_err(|e| self.fail(e))? {
            let (id, _) = row.map_err(|e| self.fail(e))?;
            if let Some(run) = self.decode_from(&records, id.value())? {
                runs.push(run);
            }
        }
        runs.sort_by(|a, b| (a.created_ms(), a.id()).cmp(&(b.created_ms(), b.id())));
        Ok(runs)
    }

    fn list_runs(&self, query: &ListQuery) -> Result<Vec<RunRecord>, RunsError> {
        let txn = self.read_txn()?;
        let (Some(by_created), Some(records)) = (self.read_table(&txn, BY_CREATED)?, self.read_table(&txn, RECORDS)?)
        else {
            return Ok(Vec::new());
        };
        let since = (query.since_ms.unwrap_or(i64::MIN), "");
        let mut runs = Vec::new();
        for row in by_created.range::<(i64, &str)>(since..).map_err(|e| self.fail(e))?.rev() {
            if runs.len() >= query.limit {
                break;
            }
            let (key, _) = row.map_err(|e| self.fail(e))?;
            let (_, id) = key.value();
            if let Some(run) = self.decode_from(&records, id)?
                && query.job.as_ref().is_none_or(|job| run.job == *job)
            {
                runs.push(run);
            }
        }
        Ok(runs)
    }

    fn remove_finished_before(&self, cutoff_ms: i64) -> Result<Vec<RunId>, RunsError> {
        let txn = self.write_txn()?;
        let mut removed = Vec::new();
        {
            let mut records = txn.open_table(RECORDS).map_err(|e| self.fail(e))?;
            let mut by_created = txn.open_table(BY_CREATED).map_err(|e| self.fail(e))?;
            let mut active = txn.open_table(ACTIVE).map_err(|e| self.fail(e))?;
            // A run finishes after it is created, so every candidate was created before the cutoff.
            let mut candidates = Vec::new();
            for row in by_created.range::<(i64, &str)>(..(cutoff_ms, "")).map_err(|e| self.fail(e))? {
                let (key, _) = row.map_err(|e| self.fail(e))?;
                let (created, id) = key.value();
                candidates.push((created, id.to_owned()));
            }
            for (created, id) in candidates {
                let Some(run) = self.decode_from(&records, &id)? else {
                    continue;
                };
                if !(run.status().is_finished() && run.finished_ms.unwrap_or(created) < cutoff_ms) {
                    continue;
                }
                records.remove(id.as_str()).map_err(|e| self.fail(e))?;
                by_created.remove((created, id.as_str())).map_err(|e| self.fail(e))?;
                active.remove(id.as_str()).map_err(|e| self.fail(e))?;
                for kind in [OutputKind::Stored, OutputKind::Full] {
                    let mut chunks = txn.open_table(output_table(kind)).map_err(|e| self.fail(e))?;
                    chunks
                        .retain_in((id.as_str(), 0)..=(id.as_str(), u32::MAX), |_, _| false)
                        .map_err(|e| self.fail(e))?;
                }
                removed.push(run.id().clone());
            }
        }
        self.commit(txn)?;
        let outputs = output_file::dir(self.path());
        for id in &removed {
            output_file::remove(&outputs, id);
        }
        let dir = liveness::lock_dir(self.path());
        for id in &removed {
            if let Err(error) = liveness::remove_stale(&dir, id) {
                tracing::warn!(run = %id, %error, "could not remove a pruned run's lock file");
            }
        }
        Ok(removed)
    }

    fn write_output(&self, id: &RunId, kind: OutputKind, lines: &[String]) -> Result<(), RunsError> {
        if kind == OutputKind::Full {
            return output_file::write(&output_file::dir(self.path()), id, lines);
        }
        let txn = self.write_txn()?;
        self.write_output_in(&txn, id, kind, lines)?;
        self.commit(txn)
    }

    fn finish_run(
        &self,
        id: &RunId,
        stored: &[String],
        change: &mut dyn FnMut(&mut RunRecord) -> Result<(), RunsError>,
    ) -> Result<RunRecord, RunsError> {
        // One commit: each costs two fsyncs and a write of redb's allocator state.
        let txn = self.write_txn()?;
        let record = self.modify_in(&txn, id, change)?;
        self.write_output_in(&txn, id, OutputKind::Stored, stored)?;
        self.commit(txn)?;
        Ok(record)
    }

    fn full_output_writer(&self, id: &RunId) -> Result<Option<Box<dyn FullOutputWriter>>, RunsError> {
        Ok(Some(Box::new(output_file::Writer::create(&output_file::dir(self.path()), id)?)))
    }

    fn visit_output(
        &self,
        id: &RunId,
        kind: OutputKind,
        visit: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<(), RunsError> {
        if kind == OutputKind::Full {
            let mut found = false;
            output_file::visit(&output_file::dir(self.path()), id, &mut |line| {
                found = true;
                visit(line)
            })?;
            if found {
                return Ok(());
            }
        }
        let id = id.as_str();
        let txn = self.read_txn()?;
        let Some(chunks) = self.read_table(&txn, output_table(kind))? else {
            return Ok(());
        };
        for row in chunks.range((id, 0)..=(id, u32::MAX)).map_err(|e| self.fail(e))? {
            let (_, bytes) = row.map_err(|e| self.fail(e))?;
            for line in decode_chunk(id, bytes.value())? {
                if visit(&line).is_break() {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn claim_run(&self, id: &RunId) -> Result<Option<RunClaim>, RunsError> {
        liveness::claim_file(&liveness::lock_dir(self.path()), id)
    }

    fn claim_abandoned(&self, id: &RunId) -> Result<Option<RunClaim>, RunsError> {
        liveness::claim_left_behind(&liveness::lock_dir(self.path()), id)
    }
}

#[cfg(test)]
mod tests {
    use super::super::conformance;
    use super::*;
    use crate::runs::{RunLog, Status};

    fn store() -> (tempfile::TempDir, RedbStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("jobs.redb")).unwrap();
        (dir, store)
    }

    #[test]
    fn lifecycle_is_enforced_and_persisted() {
        conformance::lifecycle_is_enforced_and_persisted(&store().1);
    }

    #[test]
    fn unknown_ids_are_named() {
        conformance::unknown_ids_are_named(&store().1);
    }

    #[test]
    fn a_started_run_nobody_holds_is_interrupted() {
        conformance::a_started_run_nobody_holds_is_interrupted(&store().1);
    }

    #[test]
    fn cancel_cancels_queued_runs_and_flags_started_ones() {
        conformance::cancel_cancels_queued_runs_and_flags_started_ones(&store().1);
    }

    #[test]
    fn recent_lists_newest_first_within_the_window() {
        conformance::recent_lists_newest_first_within_the_window(&store().1);
    }

    #[test]
    fn prune_removes_only_old_finished_runs_and_their_output() {
        conformance::prune_removes_only_old_finished_runs_and_their_output(&store().1);
    }

    #[test]
    fn output_is_stored_in_both_forms() {
        conformance::output_is_stored_in_both_forms(&store().1);
    }

    #[test]
    fn finishing_stores_the_output_with_the_record() {
        conformance::finishing_stores_the_output_with_the_record(&store().1);
    }

    #[test]
    fn a_refused_finish_stores_no_output() {
        let (_dir, store) = store();
        let record = conformance::queued("Job", 10);
        store.create(&record).unwrap();
        let id = record.id();
        let refused = store.finish_run(id, &["kept?".to_owned()], &mut |r| r.transition(Status::Queued));
        assert!(matches!(refused, Err(RunsError::InvalidTransition { .. })));
        let mut lines = Vec::new();
        store
            .visit_output(id, OutputKind::Stored, &mut |line| {
                lines.push(line.to_owned());
                ControlFlow::Continue(())
            })
            .unwrap();
        assert!(lines.is_empty(), "one transaction: the output of a refused finish is not stored: {lines:?}");
    }

    #[test]
    fn exclusive_admission_sees_the_jobs_active_runs() {
        conformance::exclusive_admission_sees_the_jobs_active_runs(&store().1);
    }

    #[test]
    fn records_survive_reopening_and_stay_out_of_the_models() {
        let (dir, store) = store();
        let record = conformance::queued("Job", 10);
        store.create(&record).unwrap();
        drop(store);
        let store = RedbStore::open(dir.path().join("jobs.redb")).unwrap();
        assert_eq!(store.get_run(record.id()).unwrap(), record);
        assert!(crate::Store::kinds(&store).unwrap().is_empty(), "run tables are not model kinds");
    }

    #[test]
    fn a_second_handle_sees_commits_and_claims_made_through_the_first() {
        let (dir, store) = store();
        let other = RedbStore::open(dir.path().join("jobs.redb")).unwrap();
        conformance::a_second_handle_sees_commits_and_claims(&store, &other);
    }

    #[test]
    fn a_queued_run_whose_claimer_died_is_interrupted_but_one_waiting_for_its_process_is_not() {
        let (dir, store) = store();
        let abandoned = conformance::queued("Job", 10);
        let waiting = conformance::queued("Job", 11);
        let held = conformance::queued("Job", 12);
        for record in [&abandoned, &waiting, &held] {
            store.create(record).unwrap();
        }
        let lock_dir = liveness::lock_dir(&dir.path().join("jobs.redb"));
        // What a process killed between recording the run and starting it leaves: its lock
        // file, unlocked.
        std::fs::create_dir_all(&lock_dir).unwrap();
        std::fs::write(liveness::lock_path(&lock_dir, abandoned.id()), b"").unwrap();
        let claim = store.claim_run(held.id()).unwrap().unwrap();

        assert_eq!(store.recover_interrupted().unwrap(), vec![abandoned.id().clone()]);
        assert!(store.get_run(abandoned.id()).unwrap().was_interrupted());
        assert_eq!(store.get_run(waiting.id()).unwrap().status(), Status::Queued, "no lock file: still waiting");
        assert_eq!(store.get_run(held.id()).unwrap().status(), Status::Queued, "held: alive");
        assert!(!liveness::lock_path(&lock_dir, abandoned.id()).exists(), "the left-behind lock file is removed");
        drop(claim);
    }

    #[test]
    fn the_full_output_writer_streams_what_full_output_reads() {
        let (_dir, store) = store();
        let mut record = conformance::queued("Job", 10);
        record.transition_at(Status::Started, 11).unwrap();
        record.transition_at(Status::Completed, 12).unwrap();
        store.create(&record).unwrap();
        let id = record.id();
        let full: Vec<String> =
            (0..10_000).map(|i| if i % 7 == 0 { String::new() } else { format!("ligne {i} é") }).collect();

        let mut writer = store.full_output_writer(id).unwrap().expect("a redb store streams its full output");
        // The runner hands the writer to an engine thread: it must work from there.
        let writer = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    for line in &full {
                        writer.text(&format!("{line}\n")).unwrap();
                    }
                    writer
                })
                .join()
                .unwrap()
        });
        writer.finish().unwrap();
        let stored = output::stored(&full, 50);
        store.write_output(id, OutputKind::Stored, &stored.lines).unwrap();
        store.update(id, &mut |r| r.output = Some(stored.summary)).unwrap();

        assert_eq!(store.full_output(id).unwrap(), full);
        let mut visited = Vec::new();
        store
            .visit_output(id, OutputKind::Full, &mut |line| {
                visited.push(line.to_owned());
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(visited, full);
        assert_eq!(store.stored_output(id).unwrap(), stored.lines);

        // An unfinished writer replaces nothing; `write_output` still replaces as before.
        let mut abandoned = store.full_output_writer(id).unwrap().unwrap();
        abandoned.text("never kept\n").unwrap();
        drop(abandoned);
        assert_eq!(store.full_output(id).unwrap(), full);
        store.write_output(id, OutputKind::Full, &["only".to_owned()]).unwrap();
        assert_eq!(store.full_output(id).unwrap(), ["only"]);
    }
}
