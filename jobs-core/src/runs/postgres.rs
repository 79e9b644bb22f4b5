//! [`RunStore`] for [`PostgresStore`]: run records in the store's database, so every process
//! and admin page that opens the same URL sees the same runs.
//!
//! | table             | key                        | holds                                       |
//! |-------------------|----------------------------|---------------------------------------------|
//! | `jobs_run`        | run id                     | the record ([`codec`](super::codec)), its job, creation time and whether it is active |
//! | `jobs_run_output` | (run id, form, chunk no.)  | output lines, folded and cut (form 0) or all (form 1) |
//!
//! Each primitive is one transaction; changes to a record read it `FOR UPDATE`, so they are
//! serialized like redb's write transactions. Inserting a run takes a transaction-level
//! advisory lock on the schema's runs, so that `--exclusive` admission sees every run
//! another process is inserting at the same moment.
//!
//! # Liveness without lock files
//!
//! A claim is a session-level advisory lock (`pg_try_advisory_lock`) on a key derived from
//! the schema and the run id, held on a connection of the claim's own. When the runner's
//! process dies, the server sees its connection drop and frees the lock, so the next reader
//! marks the run `interrupted`, as with redb's lock files. Advisory locks are per session, so
//! a second claim in the same process (on another connection) sees the first. Letting go
//! unlocks explicitly before the connection goes back to the pool: the server would free the
//! lock of a closed connection too, but not at once.

use std::ops::ControlFlow;

use crate::store::postgres::pool::Pooled;
use crate::store::{PostgresStore, Store};

use super::codec::{decode_chunk, decode_record, encode_chunk, encode_record};
use super::output::{self, OutputKind};
use super::{ClaimHold, ListQuery, RunClaim, RunId, RunRecord, RunStore, RunsError};

/// The run tables of one store's schema, qualified: defined here, created by
/// [`PostgresStore::open`] with the store's own tables.
#[derive(Debug)]
pub(crate) struct RunTables {
    /// `jobs_run`: one row per run.
    pub(crate) records: String,
    /// `jobs_run_output`: output chunks.
    pub(crate) output: String,
}

impl RunTables {
    /// The run tables in `quoted_schema`.
    pub(crate) fn in_schema(quoted_schema: &str) -> Self {
        RunTables { records: format!("{quoted_schema}.jobs_run"), output: format!("{quoted_schema}.jobs_run_output") }
    }

    /// The statements that create the tables and their indexes where missing.
    pub(crate) fn create_statements(&self) -> String {
        let RunTables { records, output } = self;
        format!(
            r#"
            CREATE TABLE IF NOT EXISTS {records} (
                id text COLLATE "C" PRIMARY KEY,
                job text NOT NULL,
                created_ms bigint NOT NULL,
                active boolean NOT NULL,
                record bytea NOT NULL
            );
            CREATE INDEX IF NOT EXISTS jobs_run_by_created ON {records} (created_ms, id);
            CREATE INDEX IF NOT EXISTS jobs_run_active ON {records} (job) WHERE active;
            CREATE TABLE IF NOT EXISTS {output} (
                run_id text COLLATE "C" NOT NULL,
                form smallint NOT NULL,
                chunk integer NOT NULL,
                lines bytea NOT NULL,
                PRIMARY KEY (run_id, form, chunk)
            );
            "#
        )
    }
}

/// How many output chunks (about 256 KB each) are fetched per round trip.
const OUTPUT_CHUNKS_PER_FETCH: i32 = 4;

fn form(kind: OutputKind) -> i16 {
    match kind {
        OutputKind::Stored => 0,
        OutputKind::Full => 1,
    }
}

impl PostgresStore {
    fn fail(&self, error: &::postgres::Error) -> RunsError {
        RunsError::Store(self.error(error))
    }

    /// The advisory lock key text of run `id` in this store's schema.
    fn run_lock_key(&self, id: &RunId) -> String {
        format!("jobs:{}:run:{id}", self.schema())
    }

    fn decode_rows(rows: &[::postgres::Row]) -> Result<Vec<RunRecord>, RunsError> {
        rows.iter().map(|row| decode_record(row.get::<_, &str>(0), row.get::<_, &[u8]>(1))).collect()
    }

    /// [`RunStore::modify_run`] within `txn`.
    fn modify_in(
        &self,
        txn: &mut ::postgres::Transaction<'_>,
        id: &RunId,
        change: &mut dyn FnMut(&mut RunRecord) -> Result<(), RunsError>,
    ) -> Result<RunRecord, RunsError> {
        let runs = &self.tables().runs.records;
        let row = txn
            .query_opt(&format!("SELECT record FROM {runs} WHERE id = $1 FOR UPDATE"), &[&id.as_str()])
            .map_err(|e| self.fail(&e))?
            .ok_or_else(|| RunsError::UnknownRun { id: id.clone() })?;
        let mut record = decode_record(id.as_str(), row.get::<_, &[u8]>(0))?;
        change(&mut record)?;
        txn.execute(
            &format!("UPDATE {runs} SET record = $2, active = $3 WHERE id = $1"),
            &[&id.as_str(), &encode_record(&record)?, &record.status().is_active()],
        )
        .map_err(|e| self.fail(&e))?;
        Ok(record)
    }

    /// Replaces run `id`'s output of `kind` within `txn`.
    fn write_output_in(
        &self,
        txn: &mut ::postgres::Transaction<'_>,
        id: &RunId,
        kind: OutputKind,
        lines: &[String],
    ) -> Result<(), RunsError> {
        let output = &self.tables().runs.output;
        let id = id.as_str();
        txn.execute(&format!("DELETE FROM {output} WHERE run_id = $1 AND form = $2"), &[&id, &form(kind)])
            .map_err(|e| self.fail(&e))?;
        let insert = txn
            .prepare(&format!("INSERT INTO {output} (run_id, form, chunk, lines) VALUES ($1, $2, $3, $4)"))
            .map_err(|e| self.fail(&e))?;
        for (number, chunk) in output::chunks(lines).enumerate() {
            let number = i32::try_from(number).map_err(|_| RunsError::Codec {
                id: id.to_owned(),
                message: "the output has more than 2^31 chunks".to_owned(),
            })?;
            txn.execute(&insert, &[&id, &form(kind), &number, &encode_chunk(id, chunk)?]).map_err(|e| self.fail(&e))?;
        }
        Ok(())
    }
}

impl RunStore for PostgresStore {
    fn insert_run(
        &self,
        record: &RunRecord,
        admit: &mut dyn FnMut(&[RunRecord]) -> Result<(), RunsError>,
    ) -> Result<(), RunsError> {
        let runs = &self.tables().runs.records;
        let bytes = encode_record(record)?;
        let mut client = self.connection()?;
        let mut txn = client.transaction().map_err(|e| self.fail(&e))?;
        let admission = format!("jobs:{}:admission", self.schema());
        txn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", &[&admission])
            .map_err(|e| self.fail(&e))?;
        let id = record.id().as_str();
        if txn.query_opt(&format!("SELECT 1 FROM {runs} WHERE id = $1"), &[&id]).map_err(|e| self.fail(&e))?.is_some() {
            return Err(RunsError::DuplicateRun { id: record.id().clone() });
        }
        let rows = txn
            .query(
                &format!("SELECT id, record FROM {runs} WHERE active AND job = $1 ORDER BY created_ms, id"),
                &[&record.job],
            )
            .map_err(|e| self.fail(&e))?;
        admit(&Self::decode_rows(&rows)?)?;
        txn.execute(
            &format!("INSERT INTO {runs} (id, job, created_ms, active, record) VALUES ($1, $2, $3, $4, $5)"),
            &[&id, &record.job, &record.created_ms(), &record.status().is_active(), &bytes],
        )
        .map_err(|e| self.fail(&e))?;
        txn.commit().map_err(|e| self.fail(&e))
    }

    fn load_run(&self, id: &RunId) -> Result<Option<RunRecord>, RunsError> {
        let runs = &self.tables().runs.records;
        let row = self
            .connection()?
            .query_opt(&format!("SELECT record FROM {runs} WHERE id = $1"), &[&id.as_str()])
            .map_err(|e| self.fail(&e))?;
        row.map(|row| decode_record(id.as_str(), row.get::<_, &[u8]>(0))).transpose()
    }

    fn modify_run(
        &self,
        id: &RunId,
        change: &mut dyn FnMut(&mut RunRecord) -> Result<(), RunsError>,
    ) -> Result<RunRecord, RunsError> {
        let mut client = self.connection()?;
        let mut txn = client.transaction().map_err(|e| self.fail(&e))?;
        // Returning before `commit`, should `change` fail, rolls the transaction back.
        let record = self.modify_in(&mut txn, id, change)?;
        txn.commit().map_err(|e| self.fail(&e))?;
        Ok(record)
    }

    fn active_runs(&self) -> Result<Vec<RunRecord>, RunsError> {
        let runs = &self.tables().runs.records;
        let rows = self
            .connection()?
            .query(&format!("SELECT id, record FROM {runs} WHERE active ORDER BY created_ms, id"), &[])
            .map_err(|e| self.fail(&e))?;
        Self::decode_rows(&rows)
    }

    fn list_runs(&self, query: &ListQuery) -> Result<Vec<RunRecord>, RunsError> {
        let runs = &self.tables().runs.records;
        let since = query.since_ms.unwrap_or(i64::MIN);
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let rows = self
            .connection()?
            .query(
                &format!(
                    "SELECT id, record FROM {runs} WHERE created_ms >= $1 AND ($2::text IS NULL OR job = $2) \
                     ORDER BY created_ms DESC, id DESC LIMIT $3"
                ),
                &[&since, &query.job, &limit],
            )
            .map_err(|e| self.fail(&e))?;
        Self::decode_rows(&rows)
    }

    fn remove_finished_before(&self, cutoff_ms: i64) -> Result<Vec<RunId>, RunsError> {
        let RunTables { records: runs, output } = &self.tables().runs;
        let mut client = self.connection()?;
        let mut txn = client.transaction().map_err(|e| self.fail(&e))?;
        // A run finishes after it is created, so every candidate was created before the cutoff.
        let rows = txn
            .query(
                &format!("SELECT id, record FROM {runs} WHERE NOT active AND created_ms < $1 FOR UPDATE"),
                &[&cutoff_ms],
            )
            .map_err(|e| self.fail(&e))?;
        let mut removed = Vec::new();
        for run in Self::decode_rows(&rows)? {
            if run.status().is_finished() && run.finished_ms.unwrap_or(run.created_ms()) < cutoff_ms {
                removed.push(run.id().clone());
            }
        }
        let ids: Vec<&str> = removed.iter().map(RunId::as_str).collect();
        txn.execute(&format!("DELETE FROM {output} WHERE run_id = ANY($1)"), &[&ids]).map_err(|e| self.fail(&e))?;
        txn.execute(&format!("DELETE FROM {runs} WHERE id = ANY($1)"), &[&ids]).map_err(|e| self.fail(&e))?;
        txn.commit().map_err(|e| self.fail(&e))?;
        Ok(removed)
    }

    fn write_output(&self, id: &RunId, kind: OutputKind, lines: &[String]) -> Result<(), RunsError> {
        let mut client = self.connection()?;
        let mut txn = client.transaction().map_err(|e| self.fail(&e))?;
        self.write_output_in(&mut txn, id, kind, lines)?;
        txn.commit().map_err(|e| self.fail(&e))
    }

    fn finish_run(
        &self,
        id: &RunId,
        stored: &[String],
        change: &mut dyn FnMut(&mut RunRecord) -> Result<(), RunsError>,
    ) -> Result<RunRecord, RunsError> {
        let mut client = self.connection()?;
        let mut txn = client.transaction().map_err(|e| self.fail(&e))?;
        let record = self.modify_in(&mut txn, id, change)?;
        self.write_output_in(&mut txn, id, OutputKind::Stored, stored)?;
        txn.commit().map_err(|e| self.fail(&e))?;
        Ok(record)
    }

    fn visit_output(
        &self,
        id: &RunId,
        kind: OutputKind,
        visit: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<(), RunsError> {
        let output = &self.tables().runs.output;
        let id = id.as_str();
        let mut client = self.connection()?;
        let mut txn = client.build_transaction().read_only(true).start().map_err(|e| self.fail(&e))?;
        let portal = txn
            .bind(
                &format!("SELECT lines FROM {output} WHERE run_id = $1 AND form = $2 ORDER BY chunk"),
                &[&id, &form(kind)],
            )
            .map_err(|e| self.fail(&e))?;
        loop {
            let rows = txn.query_portal(&portal, OUTPUT_CHUNKS_PER_FETCH).map_err(|e| self.fail(&e))?;
            for row in &rows {
                for line in decode_chunk(id, row.get::<_, &[u8]>(0))? {
                    if visit(&line).is_break() {
                        return Ok(());
                    }
                }
            }
            if rows.len() < OUTPUT_CHUNKS_PER_FETCH as usize {
                return Ok(());
            }
        }
    }

    fn claim_run(&self, id: &RunId) -> Result<Option<RunClaim>, RunsError> {
        let mut client = self.connection()?;
        let key = self.run_lock_key(id);
        let taken: bool = client
            .query_one("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", &[&key])
            .map_err(|e| self.fail(&e))?
            .get(0);
        if !taken {
            return Ok(None);
        }
        Ok(Some(RunClaim::held_by(SessionClaim { client: Some(client), key, location: self.location() })))
    }
}

/// A run claimed through an advisory lock held by this connection's session. Abandoning it
/// is letting go: the server keeps no file to leave behind.
struct SessionClaim {
    client: Option<Pooled>,
    key: String,
    location: String,
}

impl std::fmt::Debug for SessionClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionClaim").field("key", &self.key).field("store", &self.location).finish_non_exhaustive()
    }
}

impl ClaimHold for SessionClaim {}

impl Drop for SessionClaim {
    fn drop(&mut self) {
        let Some(mut client) = self.client.take() else {
            return;
        };
        match client.query_one("SELECT pg_advisory_unlock(hashtextextended($1, 0))", &[&self.key]) {
            Ok(_) => drop(client),
            Err(error) => {
                // Closing the connection frees the lock too, a moment later.
                tracing::warn!(store = %self.location, %error, "could not release a run's lock; closing its connection");
                client.discard();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::conformance;
    use super::*;
    use crate::runs::{RunLog, Status};
    use crate::testing::postgres_server::test_schema;

    /// Runs `check` on a store in a fresh schema (the test fails when no server is reachable;
    /// without `JOBS_TEST_POSTGRES_URL` it is built `ignored`).
    fn with_log(test: &str, check: impl FnOnce(&PostgresStore)) {
        let schema = test_schema(test);
        let store = schema.open().unwrap();
        check(&store);
        drop(store);
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn lifecycle_is_enforced_and_persisted() {
        with_log("lifecycle_is_enforced_and_persisted", |log| conformance::lifecycle_is_enforced_and_persisted(log));
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn unknown_ids_are_named() {
        with_log("unknown_ids_are_named", |log| conformance::unknown_ids_are_named(log));
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn a_started_run_nobody_holds_is_interrupted() {
        with_log("a_started_run_nobody_holds_is_interrupted", |log| {
            conformance::a_started_run_nobody_holds_is_interrupted(log);
        });
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn cancel_cancels_queued_runs_and_flags_started_ones() {
        with_log("cancel_cancels_queued_runs_and_flags_started_ones", |log| {
            conformance::cancel_cancels_queued_runs_and_flags_started_ones(log);
        });
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn recent_lists_newest_first_within_the_window() {
        with_log("recent_lists_newest_first_within_the_window", |log| {
            conformance::recent_lists_newest_first_within_the_window(log);
        });
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn prune_removes_only_old_finished_runs_and_their_output() {
        with_log("prune_removes_only_old_finished_runs_and_their_output", |log| {
            conformance::prune_removes_only_old_finished_runs_and_their_output(log);
        });
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn output_is_stored_in_both_forms() {
        with_log("output_is_stored_in_both_forms", |log| conformance::output_is_stored_in_both_forms(log));
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn finishing_stores_the_output_with_the_record() {
        with_log("finishing_stores_the_output_with_the_record", |log| {
            conformance::finishing_stores_the_output_with_the_record(log);
        });
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn exclusive_admission_sees_the_jobs_active_runs() {
        with_log("exclusive_admission_sees_the_jobs_active_runs", |log| {
            conformance::exclusive_admission_sees_the_jobs_active_runs(log);
        });
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn records_stay_out_of_the_models_and_a_second_handle_sees_claims() {
        let schema = test_schema("records_stay_out_of_the_models_and_a_second_handle_sees_claims");
        let store = schema.open().unwrap();
        let other = schema.open().unwrap();
        let record = conformance::queued("Job", 9);
        store.create(&record).unwrap();
        assert!(Store::kinds(&other).unwrap().is_empty(), "run tables are not model kinds");
        let claim = store.claim_run(record.id()).unwrap().unwrap();
        assert!(store.claim_run(record.id()).unwrap().is_none(), "the same handle sees its own claim");
        drop(claim);
        conformance::a_second_handle_sees_commits_and_claims(&store, &other);
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn exclusive_admission_admits_one_of_several_racing_processes() {
        let schema = test_schema("exclusive_admission_admits_one_of_several_racing_processes");
        // Separate handles, as separate processes would have: no shared pool.
        let handles: Vec<PostgresStore> = (0..4).map(|_| schema.open().unwrap()).collect();
        let barrier = std::sync::Barrier::new(handles.len());
        let admitted: Vec<bool> = std::thread::scope(|scope| {
            let racers: Vec<_> = handles
                .iter()
                .map(|log| {
                    let barrier = &barrier;
                    scope.spawn(move || {
                        let record = conformance::queued("Job", 10);
                        barrier.wait();
                        log.insert_run(&record, &mut |active| match active.first() {
                            Some(run) => Err(RunsError::AlreadyActive {
                                job: "Job".into(),
                                id: run.id().clone(),
                                status: run.status(),
                            }),
                            None => Ok(()),
                        })
                        .is_ok()
                    })
                })
                .collect();
            racers.into_iter().map(|racer| racer.join().unwrap()).collect()
        });
        assert_eq!(admitted.iter().filter(|ok| **ok).count(), 1, "{admitted:?}");
        assert_eq!(handles[0].active_runs().unwrap().len(), 1);
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn a_run_whose_connection_dies_is_interrupted() {
        let schema = test_schema("a_run_whose_connection_dies_is_interrupted");
        let store = schema.open().unwrap();
        let record = conformance::queued("Job", 10);
        store.create(&record).unwrap();
        let claim = store.claim_run(record.id()).unwrap().unwrap();
        store.transition(record.id(), Status::Started, &mut |_| {}).unwrap();
        // What the server does when a runner's process dies: its session ends. Find the
        // session holding the run's lock and end it from another connection.
        let key = store.run_lock_key(record.id());
        let ended: bool = store
            .connection()
            .unwrap()
            .query_one(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 \
                 AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)",
                &[&key],
            )
            .unwrap()
            .get(0);
        assert!(ended, "the claim's session was found and ended");
        // The server frees the lock once the session has exited, a moment after the request.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !store.get_run(record.id()).unwrap().was_interrupted() {
            assert!(Instant::now() < deadline, "the run was not seen interrupted after its session ended");
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(claim);
        assert_eq!(store.get_run(record.id()).unwrap().status(), Status::Failed);
    }
}
