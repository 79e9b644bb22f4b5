//! The server store, [`PostgresStore`]: models and run records in PostgreSQL.

pub(crate) mod pool;
#[cfg(feature = "postgres-tls")]
mod tls;
mod url;

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::error::SqlState;
use postgres::types::Type;
use postgres::{GenericClient, IsolationLevel};

use self::pool::{Pool, Pooled, describe};
pub use self::url::DEFAULT_SCHEMA;
use self::url::StoreUrl;
use super::identity::{format_store_id, random_store_id};
use super::split::{boundary_positions, split_sorted_ids};
use super::{Expect, KeyRange, Split, Store, StoreError, Write, WriteBatch};

/// The newest format of a PostgreSQL store this version reads, and the one it writes.
pub const POSTGRES_FORMAT_VERSION: u32 = 1;

/// How many rows a scan fetches per round trip: about 1 MB of typical entities.
pub const SCAN_CHUNK_ROWS: i32 = 512;

const FORMAT_KEY: &str = "format_version";
/// The store's id ([`Store::store_id`]): 128 bits, kept as two `bigint` halves because
/// `jobs_meta` holds `bigint`s.
const ID_HIGH_KEY: &str = "store_id_high";
const ID_LOW_KEY: &str = "store_id_low";

/// A store in a PostgreSQL database: models (and run records) on a server, for stores that
/// outgrow one machine or are shared by processes on several.
///
/// # URL
///
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME&...]`: the driver's URL
/// syntax (`sslmode`, `connect_timeout`, `application_name`, ... as in libpq; TLS with the
/// `postgres-tls` feature: `sslmode=require|verify-ca|verify-full` and `sslrootcert=FILE`),
/// plus `schema`, the schema
/// that holds the store's tables (default `public`). Several stores can share one database,
/// each in a schema of its own. Messages show the URL without its password.
///
/// # Tables
///
/// | table              | primary key               | holds                                  |
/// |--------------------|---------------------------|----------------------------------------|
/// | `jobs_meta`        | key                       | the store's format version and id      |
/// | `jobs_model`       | (kind, id)                | each entity's encoded bytes            |
/// | `jobs_run`         | id                        | run records ([`crate::runs`])          |
/// | `jobs_run_output`  | (run id, form, chunk no.) | run output, in chunks                  |
///
/// They are created on first open. Ids are `text COLLATE "C"`, so they sort by their UTF-8
/// bytes exactly as in redb and in Rust: a job's output depends on the entities' id order, and
/// is byte-identical over every store.
///
/// # How each operation maps to SQL
///
/// * [`split`](Store::split): the kind's count and the ids at the boundary positions, computed
///   by the server with `row_number()` over the primary key; only the boundaries travel.
/// * [`scan`](Store::scan): one query on the primary key's range, read through a portal in
///   chunks of [`SCAN_CHUNK_ROWS`], inside a read-only repeatable-read transaction (one
///   snapshot, as a redb read transaction gives); a shard never reads another's rows.
/// * [`apply`](Store::apply): one transaction: a `DELETE` and an upsert over arrays of the
///   batch's final writes. All or nothing.
/// * [`bulk_load`](Store::bulk_load): binary `COPY` straight into the table, in one
///   transaction; if an entity is already stored, that copy is undone and the batch is copied
///   into a temporary staging table and upserted from it instead. `jobs seed` and
///   `jobs import` use it.
///
/// # Runs
///
/// The store is a [`RunStore`](crate::runs::RunStore): every process and admin page that opens the same
/// URL sees the same runs. A process running a run holds a session-level advisory lock
/// (`pg_try_advisory_lock`) on the run for as long as it runs, on a connection of its own;
/// if the process dies, the server drops its connection and the lock with it, and the next
/// reader records the run `failed` with error `interrupted`, as redb's lock files do. Cancel
/// works through the record, from any process. Open with
/// [`runs::open_postgres`](crate::runs::open_postgres) to settle dead runs at once.
///
/// ```no_run
/// use jobs_core::store::{PostgresStore, Store, WriteBatch};
///
/// let store = PostgresStore::open("postgres://jobs@127.0.0.1/app?schema=jobs")?;
/// let mut batch = WriteBatch::new();
/// batch.put("ExplorationModel", "exp1", vec![1, 2, 3]);
/// store.apply(&batch)?;
/// assert_eq!(store.get("ExplorationModel", "exp1")?, Some(vec![1, 2, 3]));
/// # Ok::<(), jobs_core::store::StoreError>(())
/// ```
#[derive(Debug)]
pub struct PostgresStore {
    pool: Arc<Pool>,
    tables: Tables,
    /// The store's id, read (or drawn and written) on open; it never changes.
    id: String,
}

/// The store's tables, qualified by its schema.
#[derive(Debug)]
pub(crate) struct Tables {
    pub(crate) meta: String,
    pub(crate) models: String,
    /// The run records' tables, which `runs` defines.
    pub(crate) runs: crate::runs::postgres::RunTables,
}

impl PostgresStore {
    /// Deletes `deletes` (kind, id) in `txn`, in one statement.
    fn delete_rows(&self, txn: &mut postgres::Transaction<'_>, deletes: &[(&str, &str)]) -> Result<(), StoreError> {
        if deletes.is_empty() {
            return Ok(());
        }
        let models = &self.tables.models;
        let kinds: Vec<&str> = deletes.iter().map(|d| d.0).collect();
        let ids: Vec<&str> = deletes.iter().map(|d| d.1).collect();
        txn.execute(
            &format!(
                "DELETE FROM {models} AS m USING unnest($1::text[], $2::text[]) AS d(kind, id) \
                 WHERE m.kind = d.kind AND m.id = d.id"
            ),
            &[&kinds, &ids],
        )
        .map_err(|e| self.error(&e))?;
        Ok(())
    }

    /// Connects to the store at `url` (see [`PostgresStore`] for its form), creating
    /// its schema and tables if they do not exist.
    ///
    /// # Errors
    /// The URL is malformed, the server cannot be reached or refuses the login (the message
    /// names the host and database, never the password), the store was written by a newer
    /// version, or the tables cannot be created.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let url = StoreUrl::parse(url)?;
        let schema = url.quoted_schema();
        let tables = Tables {
            meta: format!("{schema}.jobs_meta"),
            models: format!("{schema}.jobs_model"),
            runs: crate::runs::postgres::RunTables::in_schema(&schema),
        };
        let mut store = PostgresStore { pool: Pool::new(url), tables, id: String::new() };
        let id = match store.stored_format()? {
            Some(found) => {
                store.check_format(found)?;
                match store.read_id(&mut *store.connection()?)? {
                    Some(id) => id,
                    None => store.add_id()?,
                }
            }
            None => store.create_tables()?,
        };
        store.id = format_store_id(id);
        Ok(store)
    }

    /// The schema holding the store's tables.
    pub fn schema(&self) -> &str {
        &self.pool.url().schema
    }

    pub(crate) fn tables(&self) -> &Tables {
        &self.tables
    }

    /// A connection from the pool.
    pub(crate) fn connection(&self) -> Result<Pooled, StoreError> {
        self.pool.get()
    }

    /// Wraps a driver error with the store's location.
    pub(crate) fn error(&self, error: &postgres::Error) -> StoreError {
        StoreError::Io { location: self.location(), message: describe(error) }
    }

    /// The format version recorded in the store, or `None` when its tables do not exist yet.
    /// Opening an existing store takes only this read: no DDL, no lock.
    fn stored_format(&self) -> Result<Option<i64>, StoreError> {
        let meta = &self.tables.meta;
        let mut client = self.connection()?;
        let exists = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[meta])
            .map_err(|e| self.error(&e))?
            .get::<_, bool>(0);
        if !exists {
            return Ok(None);
        }
        let row = client
            .query_opt(&format!("SELECT value FROM {meta} WHERE key = $1"), &[&FORMAT_KEY])
            .map_err(|e| self.error(&e))?;
        Ok(row.map(|row| row.get(0)))
    }

    /// Refuses a store written in a newer format than this version reads.
    fn check_format(&self, found: i64) -> Result<(), StoreError> {
        if found > i64::from(POSTGRES_FORMAT_VERSION) {
            return Err(StoreError::NewerFormat {
                path: PathBuf::from(self.location()),
                found: u32::try_from(found).unwrap_or(u32::MAX),
                supported: POSTGRES_FORMAT_VERSION,
            });
        }
        Ok(())
    }

    /// The store's id, or `None` when it has none yet (a new store, or one created before
    /// stores had ids).
    fn read_id(&self, client: &mut impl GenericClient) -> Result<Option<u128>, StoreError> {
        let meta = &self.tables.meta;
        let rows = client
            .query(&format!("SELECT key, value FROM {meta} WHERE key = $1 OR key = $2"), &[&ID_HIGH_KEY, &ID_LOW_KEY])
            .map_err(|e| self.error(&e))?;
        let half = |key: &str| rows.iter().find(|row| row.get::<_, &str>(0) == key).map(|row| row.get::<_, i64>(1));
        match (half(ID_HIGH_KEY), half(ID_LOW_KEY)) {
            (Some(high), Some(low)) => {
                let mut bytes = [0u8; 16];
                bytes[..8].copy_from_slice(&high.to_be_bytes());
                bytes[8..].copy_from_slice(&low.to_be_bytes());
                Ok(Some(u128::from_be_bytes(bytes)))
            }
            (None, None) => Ok(None),
            // Both halves are written in one transaction, so only a hand edit leaves one.
            _ => Err(StoreError::NotAStore {
                path: PathBuf::from(self.location()),
                reason: format!("{meta} holds half a store id"),
            }),
        }
    }

    /// Draws an id and records it, inside `txn`.
    fn insert_id(&self, txn: &mut postgres::Transaction<'_>) -> Result<u128, StoreError> {
        let id = random_store_id(&self.location())?;
        let bytes = id.to_be_bytes();
        let mut high = [0u8; 8];
        let mut low = [0u8; 8];
        high.copy_from_slice(&bytes[..8]);
        low.copy_from_slice(&bytes[8..]);
        txn.execute(
            &format!("INSERT INTO {} (key, value) VALUES ($1, $2), ($3, $4)", self.tables.meta),
            &[&ID_HIGH_KEY, &i64::from_be_bytes(high), &ID_LOW_KEY, &i64::from_be_bytes(low)],
        )
        .map_err(|e| self.error(&e))?;
        Ok(id)
    }

    /// Gives a store created before stores had ids its id, under the creation lock, so that
    /// processes opening it at once agree on one.
    fn add_id(&self) -> Result<u128, StoreError> {
        let mut client = self.connection()?;
        let mut txn = client.transaction().map_err(|e| self.error(&e))?;
        self.lock_schema(&mut txn)?;
        let id = match self.read_id(&mut txn)? {
            Some(id) => id,
            None => self.insert_id(&mut txn)?,
        };
        txn.commit().map_err(|e| self.error(&e))?;
        Ok(id)
    }

    /// Takes the lock that serialises creating the store's tables and id, until `txn` ends.
    fn lock_schema(&self, txn: &mut postgres::Transaction<'_>) -> Result<(), StoreError> {
        let lock_key = format!("jobs:{}:schema", self.pool.url().schema);
        txn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", &[&lock_key])
            .map_err(|e| self.error(&e))?;
        Ok(())
    }

    /// Creates the schema and tables if missing and records the format version and the
    /// store's id, under a lock so that processes opening a new store at once do not race.
    /// Returns the store's id.
    fn create_tables(&self) -> Result<u128, StoreError> {
        let url = self.pool.url();
        let Tables { meta, models, runs } = &self.tables;
        let mut client = self.connection()?;
        let mut txn = client.transaction().map_err(|e| self.error(&e))?;
        self.lock_schema(&mut txn)?;
        let exists = txn
            .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&url.schema])
            .map_err(|e| self.error(&e))?
            .is_some();
        if !exists {
            txn.batch_execute(&format!("CREATE SCHEMA {}", url.quoted_schema())).map_err(|e| self.error(&e))?;
        }
        txn.batch_execute(&format!(
            r#"
            CREATE TABLE IF NOT EXISTS {meta} (key text PRIMARY KEY, value bigint NOT NULL);
            CREATE TABLE IF NOT EXISTS {models} (
                kind text COLLATE "C" NOT NULL,
                id text COLLATE "C" NOT NULL,
                bytes bytea NOT NULL,
                PRIMARY KEY (kind, id)
            );
            "#
        ))
        .map_err(|e| self.error(&e))?;
        // The run tables are created with the models', so a store opens with all or none.
        txn.batch_execute(&runs.create_statements()).map_err(|e| self.error(&e))?;
        let found = txn
            .query_opt(&format!("SELECT value FROM {meta} WHERE key = $1"), &[&FORMAT_KEY])
            .map_err(|e| self.error(&e))?
            .map(|row| row.get::<_, i64>(0));
        match found {
            Some(found) => self.check_format(found)?,
            None => {
                txn.execute(
                    &format!("INSERT INTO {meta} (key, value) VALUES ($1, $2)"),
                    &[&FORMAT_KEY, &i64::from(POSTGRES_FORMAT_VERSION)],
                )
                .map_err(|e| self.error(&e))?;
            }
        }
        let id = match self.read_id(&mut txn)? {
            Some(id) => id,
            None => self.insert_id(&mut txn)?,
        };
        txn.commit().map_err(|e| self.error(&e))?;
        Ok(id)
    }

    /// The count of `kind` and the ids at its shard boundaries (with their 0-based positions
    /// in id order), read from one snapshot.
    fn boundaries(&self, kind: &str, shards: usize) -> Result<(u64, Vec<(u64, String)>), StoreError> {
        let models = &self.tables.models;
        let mut client = self.connection()?;
        let mut txn = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| self.error(&e))?;
        let count = txn
            .query_one(&format!("SELECT count(*) FROM {models} WHERE kind = $1"), &[&kind])
            .map_err(|e| self.error(&e))?
            .get::<_, i64>(0)
            .unsigned_abs();
        // The positions `split_sorted_ids` cuts at.
        let positions: Vec<i64> =
            boundary_positions(count, shards).into_iter().map(|at| i64::try_from(at).unwrap_or(i64::MAX)).collect();
        let rows = txn
            .query(
                &format!(
                    "SELECT pos, id FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS pos FROM {models} \
                     WHERE kind = $1) AS ordered WHERE pos = ANY($2) ORDER BY pos"
                ),
                &[&kind, &positions],
            )
            .map_err(|e| self.error(&e))?;
        txn.commit().map_err(|e| self.error(&e))?;
        let boundaries =
            rows.iter().map(|row| (row.get::<_, i64>(0).unsigned_abs(), row.get::<_, String>(1))).collect();
        Ok((count, boundaries))
    }
}

/// A put: kind, id, bytes.
type Put<'a> = (&'a str, &'a str, &'a [u8]);
/// A delete: kind, id.
type Delete<'a> = (&'a str, &'a str);

/// The batch's last write to each entity, in first-seen order: what the batch leaves
/// stored is exactly what these leave, and no statement touches a row twice.
fn final_writes(batch: &WriteBatch) -> (Vec<Put<'_>>, Vec<Delete<'_>>) {
    let mut last: HashMap<(&str, &str), usize> = HashMap::with_capacity(batch.len());
    for (index, write) in batch.writes().iter().enumerate() {
        let (Write::Put { kind, id, .. } | Write::Delete { kind, id }) = write;
        last.insert((kind.as_str(), id.as_str()), index);
    }
    let mut puts = Vec::new();
    let mut deletes = Vec::new();
    for (index, write) in batch.writes().iter().enumerate() {
        match write {
            Write::Put { kind, id, bytes } if last.get(&(kind.as_str(), id.as_str())) == Some(&index) => {
                puts.push((kind.as_str(), id.as_str(), bytes.as_slice()));
            }
            Write::Delete { kind, id } if last.get(&(kind.as_str(), id.as_str())) == Some(&index) => {
                deletes.push((kind.as_str(), id.as_str()));
            }
            _ => {}
        }
    }
    (puts, deletes)
}

impl Store for PostgresStore {
    fn location(&self) -> String {
        self.pool.url().location.clone()
    }

    fn store_id(&self) -> Result<String, StoreError> {
        Ok(self.id.clone())
    }

    fn kinds(&self) -> Result<Vec<String>, StoreError> {
        let models = &self.tables.models;
        // Skips from one kind to the next along the primary key instead of reading every row.
        let rows = self
            .connection()?
            .query(
                &format!(
                    "WITH RECURSIVE kinds AS ( \
                       SELECT min(kind) AS kind FROM {models} \
                       UNION ALL \
                       SELECT (SELECT min(kind) FROM {models} WHERE kind > kinds.kind) FROM kinds WHERE kind IS NOT NULL \
                     ) SELECT kind FROM kinds WHERE kind IS NOT NULL"
                ),
                &[],
            )
            .map_err(|e| self.error(&e))?;
        let mut kinds: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
        kinds.sort();
        Ok(kinds)
    }

    fn count(&self, kind: &str) -> Result<u64, StoreError> {
        let models = &self.tables.models;
        let count: i64 = self
            .connection()?
            .query_one(&format!("SELECT count(*) FROM {models} WHERE kind = $1"), &[&kind])
            .map_err(|e| self.error(&e))?
            .get(0);
        Ok(count.unsigned_abs())
    }

    fn split(&self, kind: &str, shards: usize) -> Result<Vec<Split>, StoreError> {
        let shards = shards.max(1);
        let (count, boundaries) = self.boundaries(kind, shards)?;
        split_sorted_ids(count, shards, |visit| {
            for (position, id) in &boundaries {
                if !visit(*position, id) {
                    break;
                }
            }
            Ok::<_, StoreError>(())
        })
    }

    fn scan(
        &self,
        kind: &str,
        range: &KeyRange,
        visit: &mut dyn FnMut(&str, &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        if range.is_empty() {
            return Ok(());
        }
        let models = &self.tables.models;
        let select = format!("SELECT id, bytes FROM {models} WHERE kind = $1");
        let (query, start, end) = match (&range.start, &range.end) {
            (None, None) => (format!("{select} ORDER BY id"), None, None),
            (Some(start), None) => (format!("{select} AND id >= $2 ORDER BY id"), Some(start), None),
            (None, Some(end)) => (format!("{select} AND id < $2 ORDER BY id"), Some(end), None),
            (Some(start), Some(end)) => {
                (format!("{select} AND id >= $2 AND id < $3 ORDER BY id"), Some(start), Some(end))
            }
        };
        let mut client = self.connection()?;
        let mut txn = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| self.error(&e))?;
        let portal = match (start, end) {
            (None, _) => txn.bind(&query, &[&kind]),
            (Some(start), None) => txn.bind(&query, &[&kind, start]),
            (Some(start), Some(end)) => txn.bind(&query, &[&kind, start, end]),
        }
        .map_err(|e| self.error(&e))?;
        loop {
            let rows = txn.query_portal(&portal, SCAN_CHUNK_ROWS).map_err(|e| self.error(&e))?;
            for row in &rows {
                if visit(row.get::<_, &str>(0), row.get::<_, &[u8]>(1)).is_break() {
                    return Ok(());
                }
            }
            if rows.len() < SCAN_CHUNK_ROWS as usize {
                return Ok(());
            }
        }
    }

    fn get(&self, kind: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let models = &self.tables.models;
        let row = self
            .connection()?
            .query_opt(&format!("SELECT bytes FROM {models} WHERE kind = $1 AND id = $2"), &[&kind, &id])
            .map_err(|e| self.error(&e))?;
        Ok(row.map(|row| row.get(0)))
    }

    fn apply(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let models = &self.tables.models;
        let (puts, deletes) = final_writes(batch);
        let mut client = self.connection()?;
        // Dropping the transaction before `commit`, on any error, rolls it back.
        let mut txn = client.transaction().map_err(|e| self.error(&e))?;
        self.delete_rows(&mut txn, &deletes)?;
        if !puts.is_empty() {
            let kinds: Vec<&str> = puts.iter().map(|p| p.0).collect();
            let ids: Vec<&str> = puts.iter().map(|p| p.1).collect();
            let bytes: Vec<&[u8]> = puts.iter().map(|p| p.2).collect();
            txn.execute(
                &format!(
                    "INSERT INTO {models} (kind, id, bytes) \
                     SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[]) \
                     ON CONFLICT (kind, id) DO UPDATE SET bytes = EXCLUDED.bytes"
                ),
                &[&kinds, &ids, &bytes],
            )
            .map_err(|e| self.error(&e))?;
        }
        txn.commit().map_err(|e| self.error(&e))
    }

    fn apply_checked(&self, batch: &WriteBatch) -> Result<Vec<usize>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let models = &self.tables.models;
        // The entities some write expects something of: locked for the transaction, so no
        // other writer changes them between the check and the commit.
        let mut checked: Vec<(&str, &str)> = Vec::new();
        for (index, write) in batch.writes().iter().enumerate() {
            let (Write::Put { kind, id, .. } | Write::Delete { kind, id }) = write;
            if *batch.expect(index) != Expect::Any {
                checked.push((kind.as_str(), id.as_str()));
            }
        }
        checked.sort_unstable();
        checked.dedup();
        let mut client = self.connection()?;
        // Dropping the transaction before `commit`, on any error or conflict, rolls it back.
        let mut txn = client.transaction().map_err(|e| self.error(&e))?;
        let mut view: HashMap<(String, String), Option<Vec<u8>>> = HashMap::new();
        if !checked.is_empty() {
            let kinds: Vec<&str> = checked.iter().map(|c| c.0).collect();
            let ids: Vec<&str> = checked.iter().map(|c| c.1).collect();
            let rows = txn
                .query(
                    &format!(
                        "SELECT m.kind, m.id, m.bytes FROM {models} AS m \
                         JOIN unnest($1::text[], $2::text[]) AS c(kind, id) ON m.kind = c.kind AND m.id = c.id \
                         ORDER BY m.kind, m.id FOR UPDATE OF m"
                    ),
                    &[&kinds, &ids],
                )
                .map_err(|e| self.error(&e))?;
            for row in rows {
                view.insert((row.get(0), row.get(1)), Some(row.get(2)));
            }
        }
        let mut conflicts = Vec::new();
        let mut absent_at_check: Vec<(&str, &str)> = Vec::new();
        for (index, write) in batch.writes().iter().enumerate() {
            let (Write::Put { kind, id, .. } | Write::Delete { kind, id }) = write;
            let key = (kind.clone(), id.clone());
            let expect = batch.expect(index);
            if *expect != Expect::Any {
                let stored = view.get(&key).and_then(|bytes| bytes.as_deref());
                if !expect.holds(stored) {
                    conflicts.push(index);
                }
                if !view.contains_key(&key) {
                    absent_at_check.push((kind.as_str(), id.as_str()));
                }
            }
            let after = match write {
                Write::Put { bytes, .. } => Some(bytes.clone()),
                Write::Delete { .. } => None,
            };
            view.insert(key, after);
        }
        if !conflicts.is_empty() {
            return Ok(conflicts);
        }
        let (puts, deletes) = final_writes(batch);
        // A row absent at the check cannot be locked: its put inserts only if still absent.
        let (fresh, rest): (Vec<Put<'_>>, Vec<Put<'_>>) =
            puts.into_iter().partition(|p| absent_at_check.contains(&(p.0, p.1)));
        self.delete_rows(&mut txn, &deletes)?;
        for (puts, upsert) in [(&rest, true), (&fresh, false)] {
            if puts.is_empty() {
                continue;
            }
            let kinds: Vec<&str> = puts.iter().map(|p| p.0).collect();
            let ids: Vec<&str> = puts.iter().map(|p| p.1).collect();
            let bytes: Vec<&[u8]> = puts.iter().map(|p| p.2).collect();
            let on_conflict = if upsert { "DO UPDATE SET bytes = EXCLUDED.bytes" } else { "DO NOTHING" };
            let stored = txn
                .execute(
                    &format!(
                        "INSERT INTO {models} (kind, id, bytes) \
                         SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[]) \
                         ON CONFLICT (kind, id) {on_conflict}"
                    ),
                    &[&kinds, &ids, &bytes],
                )
                .map_err(|e| self.error(&e))?;
            if !upsert && stored != puts.len() as u64 {
                // Another writer created one of them meanwhile: name every write to those ids.
                for (index, write) in batch.writes().iter().enumerate() {
                    let (Write::Put { kind, id, .. } | Write::Delete { kind, id }) = write;
                    if *batch.expect(index) == Expect::Absent && absent_at_check.contains(&(kind.as_str(), id.as_str()))
                    {
                        conflicts.push(index);
                    }
                }
                return Ok(conflicts);
            }
        }
        txn.commit().map_err(|e| self.error(&e))?;
        Ok(conflicts)
    }

    fn bulk_load(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        let (puts, deletes) = final_writes(batch);
        if puts.is_empty() || !deletes.is_empty() {
            return self.apply(batch);
        }
        let models = &self.tables.models;
        let mut client = self.connection()?;
        // One transaction: an error anywhere rolls back everything the batch wrote.
        let mut txn = client.transaction().map_err(|e| self.error(&e))?;
        // Seeding and importing new entities, the common case, copy straight into the table.
        // When an entity is already stored, the copy stops at it; it is then undone, and the
        // batch goes through a staging table and an upsert instead.
        let mut direct = txn.savepoint("jobs_direct_copy").map_err(|e| self.error(&e))?;
        match copy_rows(&mut direct, models, &puts) {
            Ok(()) => direct.commit().map_err(|e| self.error(&e))?,
            Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                tracing::debug!(store = %self.location(), "some entities are stored already: loading through staging");
                direct.rollback().map_err(|e| self.error(&e))?;
                txn.batch_execute(
                    "CREATE TEMPORARY TABLE jobs_staging (kind text NOT NULL, id text NOT NULL, bytes bytea NOT NULL) \
                     ON COMMIT DROP",
                )
                .map_err(|e| self.error(&e))?;
                copy_rows(&mut txn, "jobs_staging", &puts).map_err(|e| self.error(&e))?;
                txn.execute(
                    &format!(
                        "INSERT INTO {models} (kind, id, bytes) SELECT kind, id, bytes FROM jobs_staging \
                         ON CONFLICT (kind, id) DO UPDATE SET bytes = EXCLUDED.bytes"
                    ),
                    &[],
                )
                .map_err(|e| self.error(&e))?;
            }
            Err(error) => return Err(self.error(&error)),
        }
        txn.commit().map_err(|e| self.error(&e))
    }
}

/// Copies `puts` into `table` (columns kind, id, bytes) with binary `COPY`.
fn copy_rows(txn: &mut postgres::Transaction<'_>, table: &str, puts: &[Put<'_>]) -> Result<(), postgres::Error> {
    let copy = txn.copy_in(&format!("COPY {table} (kind, id, bytes) FROM STDIN (FORMAT binary)"))?;
    let mut writer = BinaryCopyInWriter::new(copy, &[Type::TEXT, Type::TEXT, Type::BYTEA]);
    for (kind, id, bytes) in puts {
        writer.write(&[kind, id, bytes])?;
    }
    writer.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::conformance;
    use super::*;
    use crate::testing::postgres_server::{TestSchema, test_schema};

    /// Runs `check` on a store in a fresh schema (the test fails when no server is reachable;
    /// without `JOBS_TEST_POSTGRES_URL` it is built `ignored`).
    fn with_store(test: &str, check: impl FnOnce(&PostgresStore, &TestSchema)) {
        let schema = test_schema(test);
        let store = PostgresStore::open(schema.url()).unwrap();
        check(&store, &schema);
        drop(store);
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn store_ids_name_one_store() {
        with_store("store_ids_name_one_store", |store, schema| {
            let other = test_schema("store_ids_name_one_store_other");
            let other = PostgresStore::open(other.url()).unwrap();
            // The same server by another name, as another machine might reach it.
            let spellings = [schema.url().to_owned(), schema.url().replace("127.0.0.1", "localhost")];
            assert_ne!(spellings[0], spellings[1], "the test URL names 127.0.0.1");
            let mut handles = spellings.iter().map(|url| Box::new(PostgresStore::open(url).unwrap()) as Box<dyn Store>);
            conformance::store_ids_name_one_store(&mut handles, &other);
            assert_eq!(PostgresStore::open(schema.url()).unwrap().store_id().unwrap(), store.store_id().unwrap());
        });
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn a_store_from_before_store_ids_gets_one_that_processes_opening_it_at_once_agree_on() {
        with_store("a_store_from_before_store_ids_gets_one", |store, schema| {
            let meta = &store.tables().meta;
            let deleted = store
                .connection()
                .unwrap()
                .execute(&format!("DELETE FROM {meta} WHERE key = $1 OR key = $2"), &[&ID_HIGH_KEY, &ID_LOW_KEY])
                .unwrap();
            assert_eq!(deleted, 2, "a new store has an id in two halves");
            let opened: Vec<String> = std::thread::scope(|scope| {
                let openers: Vec<_> = (0..4)
                    .map(|_| scope.spawn(|| PostgresStore::open(schema.url()).unwrap().store_id().unwrap()))
                    .collect();
                openers.into_iter().map(|opener| opener.join().unwrap()).collect()
            });
            assert!(opened.iter().all(|id| *id == opened[0]), "{opened:?}");
            assert_ne!(opened[0], store.store_id().unwrap(), "a new id was drawn");
            assert_eq!(PostgresStore::open(schema.url()).unwrap().store_id().unwrap(), opened[0]);
        });
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn every_entity_is_read_exactly_once() {
        with_store("every_entity_is_read_exactly_once", |store, _| {
            conformance::every_entity_is_read_exactly_once(store)
        });
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn checked_writes_apply_only_if_unchanged() {
        with_store("checked_writes_apply_only_if_unchanged", |store, _| {
            conformance::checked_writes_apply_only_if_unchanged(store);
        });
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn batches_put_get_and_delete() {
        with_store("batches_put_get_and_delete", |store, _| conformance::batches_put_get_and_delete(store));
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn scan_stops_when_asked() {
        with_store("scan_stops_when_asked", |store, _| conformance::scan_stops_when_asked(store));
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn ids_sort_by_their_bytes() {
        with_store("ids_sort_by_their_bytes", |store, _| conformance::ids_sort_by_their_bytes(store));
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn the_last_write_to_an_entity_wins() {
        with_store("the_last_write_to_an_entity_wins", |store, _| conformance::the_last_write_to_an_entity_wins(store));
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn bulk_load_stores_what_apply_would() {
        with_store("bulk_load_stores_what_apply_would", |store, _| {
            conformance::bulk_load_stores_what_apply_would(store)
        });
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn empty_and_missing_kinds_read_as_empty() {
        with_store("empty_and_missing_kinds_read_as_empty", |store, _| {
            conformance::empty_and_missing_kinds_read_as_empty(store);
        });
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn a_failing_batch_stores_nothing_in_either_path() {
        with_store("a_failing_batch_stores_nothing_in_either_path", |store, _| {
            // PostgreSQL text cannot hold NUL: the last put fails after the others were sent.
            let mut batch = WriteBatch::new();
            for i in 0..100 {
                batch.put("K", format!("ok{i}"), vec![1]);
            }
            batch.put("K", "bad\0id", vec![1]);
            assert!(store.apply(&batch).is_err());
            let err = store.bulk_load(&batch).unwrap_err();
            assert!(err.to_string().starts_with(&format!("store {}: ", store.location())), "{err}");
            assert_eq!(store.count("K").unwrap(), 0, "nothing of a failed batch is stored");
        });
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn stores_in_two_schemas_do_not_see_each_other() {
        with_store("stores_in_two_schemas_do_not_see_each_other", |store, _| {
            let other_schema = test_schema("stores_in_two_schemas_do_not_see_each_other");
            let other = PostgresStore::open(other_schema.url()).unwrap();
            conformance::fill(store, "K", &["a".to_owned()]);
            assert_eq!(other.count("K").unwrap(), 0);
            assert!(other.kinds().unwrap().is_empty());
            assert_ne!(store.location(), other.location(), "the location names the schema");
            assert!(store.location().ends_with(&format!("?schema={}", store.schema())), "{}", store.location());
            drop(other);
        });
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn reopening_keeps_the_data_and_a_newer_format_is_refused() {
        with_store("reopening_keeps_the_data_and_a_newer_format_is_refused", |store, schema| {
            conformance::fill(store, "K", &["a".to_owned()]);
            let again = PostgresStore::open(schema.url()).unwrap();
            assert_eq!(again.get("K", "a").unwrap(), Some(b"a".to_vec()));
            let meta = &store.tables().meta;
            store
                .connection()
                .unwrap()
                .execute(&format!("UPDATE {meta} SET value = value + 1 WHERE key = $1"), &[&FORMAT_KEY])
                .unwrap();
            let err = PostgresStore::open(schema.url()).unwrap_err();
            assert!(matches!(err, StoreError::NewerFormat { found: 2, .. }), "{err}");
            assert!(err.to_string().contains(&store.location()), "{err}");
        });
    }

    #[test]
    fn an_unreachable_server_is_named_without_the_password() {
        // Port 1 on the loopback address: nothing listens there, so the refusal is immediate.
        let err = PostgresStore::open("postgres://ann:s3cret@127.0.0.1:1/appdb?schema=s").unwrap_err().to_string();
        assert!(err.contains("postgres://ann@127.0.0.1:1/appdb?schema=s"), "{err}");
        assert!(err.contains("cannot connect to the PostgreSQL server"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }

    /// `url` with its user (and password) replaced by `user`, whatever user it named, if any.
    fn with_user(url: &str, user: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let (authority, path) = rest.find('/').map_or((rest, ""), |slash| rest.split_at(slash));
        let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        format!("{scheme}://{user}@{host}{path}")
    }

    #[test]
    fn with_user_swaps_any_user_or_adds_one() {
        assert_eq!(with_user("postgres://postgres@h:5/db?schema=s", "x:y"), "postgres://x:y@h:5/db?schema=s");
        assert_eq!(with_user("postgres://ann:pw@h/db", "x:y"), "postgres://x:y@h/db");
        assert_eq!(with_user("postgresql://h/db?schema=a@b", "x:y"), "postgresql://x:y@h/db?schema=a@b");
    }

    #[test]
    #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
    fn a_failed_login_names_the_user_and_database() {
        with_store("a_failed_login_names_the_user_and_database", |_, schema| {
            let url = with_user(schema.url(), "nobody_here:pw");
            assert_ne!(url, schema.url());
            let err = PostgresStore::open(&url).unwrap_err().to_string();
            assert!(err.contains("nobody_here@"), "{err}");
            assert!(err.contains("nobody_here"), "{err}");
            assert!(!err.contains(":pw@"), "{err}");
        });
    }
}
