//! The embedded default store: one redb file.
//!
//! Each kind is a table `model/<Kind>` from id to encoded entity, with an index `ids/<Kind>` of
//! its ids alone, kept in the same transactions: [`Store::split`] reads the index, a few bytes
//! per entity, where the model table would make it read every stored entity (redb keeps values
//! on the leaf pages beside their keys). The table `meta` holds the store's format version, and
//! `identity` its id ([`Store::store_id`]). The file is opened in redb's multi-writer mode, so
//! several `jobs` processes (a run, `jobs status`, `jobs cancel`) share it safely.

use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use redb::{
    ConcurrencyMode, Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableError,
    TableHandle,
};

use super::identity::{format_store_id, random_store_id};
use super::split::{collect_splits, cut_sorted_ids};
use super::{KeyRange, Split, Store, StoreError, Write, WriteBatch};

/// The newest store format this version reads and the one it writes.
///
/// Version 2 added the id index (`ids/<Kind>`). A version 1 store is upgraded when it is first
/// opened: the index is built from the model tables in one transaction, and nothing stored
/// changes. Older versions of jobs then refuse the file by its version, rather than write
/// entities without indexing them.
pub const STORE_FORMAT_VERSION: u32 = 2;
/// The format that had no id index.
const FORMAT_WITHOUT_ID_INDEX: u32 = 1;

const META: TableDefinition<&str, u32> = TableDefinition::new("meta");
const FORMAT_KEY: &str = "format_version";
/// The store's id, apart from `meta`, whose values are `u32`s.
const IDENTITY: TableDefinition<&str, u128> = TableDefinition::new("identity");
const STORE_ID_KEY: &str = "store_id";
const MODEL_TABLE_PREFIX: &str = "model/";
const ID_INDEX_PREFIX: &str = "ids/";
/// The first bytes of every redb file.
const REDB_MAGIC: &[u8] = b"redb\x1a\x0a\xa9\x0d\x0a";

/// A store in one redb file.
///
/// ```
/// use jobs_core::Store;
/// use jobs_core::store::{RedbStore, WriteBatch};
///
/// let dir = tempfile::tempdir()?;
/// let store = RedbStore::open(dir.path().join("jobs.redb"))?;
/// let mut batch = WriteBatch::new();
/// batch.put("ExplorationModel", "exp1", vec![1, 2, 3]);
/// store.apply(&batch)?;
/// assert_eq!(store.get("ExplorationModel", "exp1")?, Some(vec![1, 2, 3]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RedbStore {
    db: Database,
    path: PathBuf,
    /// The store's id, read (or drawn and written) on open; it never changes.
    id: String,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").field("path", &self.path).finish_non_exhaustive()
    }
}

impl RedbStore {
    /// The page cache a store is opened with unless [`open_with_cache`](Self::open_with_cache)
    /// says otherwise. A job reads each kind once, in order, so a large cache buys nothing
    /// for it and costs memory that the kernel's own page cache already provides; redb's
    /// default (1 GiB) made a run's resident set grow with the file.
    ///
    /// It is small on purpose: redb passes every page a scan reads through its cache, and a
    /// cache of more than a few pages makes scans slower, not faster. Each read then reuses the
    /// buffer of a page evicted long before, cold in the CPU's caches; and when several threads
    /// scan, the page a thread evicts was mostly allocated by another, and freeing it takes that
    /// thread's allocator lock. With a few pages, the page evicted is mostly the one just read.
    /// Of the sizes tried on a 100k-exploration store (docs/performance.md), scans were fastest
    /// with 64 KiB or less, and writes took about as long as with 4 MiB; with no cache at all
    /// they took twice as long.
    pub const DEFAULT_CACHE_BYTES: usize = 64 << 10;

    /// Opens the store at `path`, creating it if the file does not exist, with a page cache of
    /// [`DEFAULT_CACHE_BYTES`](Self::DEFAULT_CACHE_BYTES).
    ///
    /// # Errors
    /// The file is not a jobs store, was written by a newer version, is locked by a process
    /// that does not share it, or cannot be read or written.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with_cache(path, Self::DEFAULT_CACHE_BYTES)
    }

    /// [`open`](Self::open) with redb's page cache limited to `cache_bytes`: part of a run's
    /// memory budget (`jobs run --max-memory`).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with_cache(path: impl AsRef<Path>, cache_bytes: usize) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        check_is_redb_file(&path)?;
        let db = Database::builder()
            .set_concurrency_mode(ConcurrencyMode::MultiWriter)
            .set_cache_size(cache_bytes)
            .create(&path)
            .map_err(|e| open_error(&path, e))?;
        let mut store = RedbStore { db, path, id: String::new() };
        store.id = store.check_format()?;
        Ok(store)
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The redb database, for the run tables kept beside the models (`crate::runs`).
    pub(crate) fn database(&self) -> &Database {
        &self.db
    }

    /// Wraps a redb error with the store's path, telling a full disk and a file that cannot
    /// be written from other failures.
    pub(crate) fn error(&self, error: impl Into<redb::Error>) -> StoreError {
        classify(&self.path, error.into())
    }

    /// Checks the format version and returns the store's id, recording both if the store is new
    /// (or, for the id, predates it) and indexing a format-1 store's ids. A read transaction when
    /// nothing needs writing; otherwise one write transaction, in which processes opening the
    /// store at once take turns, so only the first draws an id (or builds the index) and the
    /// others find it.
    fn check_format(&self) -> Result<String, StoreError> {
        // Most opens find both as they should be: a read transaction then suffices, and a
        // `jobs status` neither waits for nor syncs a write.
        if let Some(id) = self.current_format_and_id()? {
            return Ok(format_store_id(id));
        }
        let txn = self.db.begin_write().map_err(|e| self.error(e))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| self.error(e))?;
            let found = meta.get(FORMAT_KEY).map_err(|e| self.error(e))?.map(|v| v.value());
            match found {
                Some(found) if found > STORE_FORMAT_VERSION => return Err(self.newer_format(found)),
                Some(STORE_FORMAT_VERSION) => {}
                Some(found) => {
                    debug_assert_eq!(found, FORMAT_WITHOUT_ID_INDEX);
                    let indexed = self.build_id_indexes(&txn)?;
                    tracing::info!(store = %self.path.display(), from = found, to = STORE_FORMAT_VERSION, indexed, "upgraded the store's format: added an index of ids");
                    meta.insert(FORMAT_KEY, STORE_FORMAT_VERSION).map_err(|e| self.error(e))?;
                }
                None => {
                    meta.insert(FORMAT_KEY, STORE_FORMAT_VERSION).map_err(|e| self.error(e))?;
                }
            }
        }
        let id = {
            let mut identity = txn.open_table(IDENTITY).map_err(|e| self.error(e))?;
            let stored = identity.get(STORE_ID_KEY).map_err(|e| self.error(e))?.map(|v| v.value());
            match stored {
                Some(id) => id,
                None => {
                    let id = random_store_id(&self.location())?;
                    identity.insert(STORE_ID_KEY, id).map_err(|e| self.error(e))?;
                    id
                }
            }
        };
        txn.commit().map_err(|e| self.error(e))?;
        Ok(format_store_id(id))
    }

    fn newer_format(&self, found: u32) -> StoreError {
        StoreError::NewerFormat { path: self.path.clone(), found, supported: STORE_FORMAT_VERSION }
    }

    /// The store's id, if the store has the current format and an id (and so needs no write
    /// to be opened); `None` if either is missing or the format is older.
    fn current_format_and_id(&self) -> Result<Option<u128>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        let format = match txn.open_table(META) {
            Ok(meta) => meta.get(FORMAT_KEY).map_err(|e| self.error(e))?.map(|v| v.value()),
            Err(TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(self.error(e)),
        };
        match format {
            Some(found) if found > STORE_FORMAT_VERSION => Err(self.newer_format(found)),
            Some(STORE_FORMAT_VERSION) => match txn.open_table(IDENTITY) {
                Ok(identity) => Ok(identity.get(STORE_ID_KEY).map_err(|e| self.error(e))?.map(|v| v.value())),
                Err(TableError::TableDoesNotExist(_)) => Ok(None),
                Err(e) => Err(self.error(e)),
            },
            _ => Ok(None),
        }
    }

    /// Indexes the ids of every model table (the upgrade from format 1), returning how many.
    fn build_id_indexes(&self, txn: &redb::WriteTransaction) -> Result<u64, StoreError> {
        let kinds: Vec<String> = txn
            .list_tables()
            .map_err(|e| self.error(e))?
            .filter_map(|handle| handle.name().strip_prefix(MODEL_TABLE_PREFIX).map(str::to_owned))
            .collect();
        let mut indexed = 0;
        for kind in kinds {
            let models = txn.open_table(model_def(&model_table(&kind))).map_err(|e| self.error(e))?;
            let mut ids = txn.open_table(ids_def(&id_index(&kind))).map_err(|e| self.error(e))?;
            for row in models.iter().map_err(|e| self.error(e))? {
                let (id, _) = row.map_err(|e| self.error(e))?;
                ids.insert(id.value(), ()).map_err(|e| self.error(e))?;
                indexed += 1;
            }
        }
        Ok(indexed)
    }
}

/// Refuses, before redb sees it, a file that is not a redb file at all: redb is entitled to
/// treat a foreign file as corruption.
fn check_is_redb_file(path: &Path) -> Result<(), StoreError> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(StoreError::Io { location: path.display().to_string(), message: e.to_string() });
        }
    };
    let mut head = [0u8; REDB_MAGIC.len()];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) => {
                return Err(StoreError::NotAStore { path: path.to_path_buf(), reason: e.to_string() });
            }
        }
    }
    if filled == 0 {
        return Ok(());
    }
    if head[..filled] != REDB_MAGIC[..filled] {
        return Err(StoreError::NotAStore {
            path: path.to_path_buf(),
            reason: "it does not start with a redb header".into(),
        });
    }
    let size = file.metadata().map_or(filled as u64, |m| m.len());
    if size < MIN_REDB_FILE_BYTES {
        return Err(StoreError::Truncated { path: path.to_path_buf(), size });
    }
    Ok(())
}

/// No redb file is smaller: its header fills the first page. A file that starts like one and
/// is smaller was cut short, which redb would report as "failed to fill whole buffer".
const MIN_REDB_FILE_BYTES: u64 = 4096;

fn open_error(path: &Path, error: redb::DatabaseError) -> StoreError {
    match error {
        redb::DatabaseError::DatabaseAlreadyOpen | redb::DatabaseError::LockProtocolMismatch => {
            StoreError::Locked { path: path.to_path_buf() }
        }
        redb::DatabaseError::Storage(redb::StorageError::Corrupted(reason)) => {
            StoreError::NotAStore { path: path.to_path_buf(), reason }
        }
        other => classify(path, other.into()),
    }
}

/// The [`StoreError`] for a redb error on the store at `path`: the operating system's error
/// kind tells a full disk or a file that cannot be written, which people can fix, from the rest.
fn classify(path: &Path, error: redb::Error) -> StoreError {
    use std::io::ErrorKind;
    if let redb::Error::PreviousIo = error {
        return StoreError::StoppedAfterFailure { path: path.to_path_buf() };
    }
    if let redb::Error::Io(io) = &error {
        let reason = io.to_string();
        match io.kind() {
            ErrorKind::StorageFull | ErrorKind::FileTooLarge | ErrorKind::QuotaExceeded => {
                return StoreError::Full { path: path.to_path_buf(), reason };
            }
            ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
                return StoreError::ReadOnly { path: path.to_path_buf(), reason };
            }
            // A read past the end of the file: it was cut short after its first page.
            ErrorKind::UnexpectedEof => {
                let size = std::fs::metadata(path).map_or(0, |m| m.len());
                return StoreError::Truncated { path: path.to_path_buf(), size };
            }
            _ => {}
        }
    }
    StoreError::Io { location: path.display().to_string(), message: error.to_string() }
}

fn model_table(kind: &str) -> String {
    format!("{MODEL_TABLE_PREFIX}{kind}")
}

fn id_index(kind: &str) -> String {
    format!("{ID_INDEX_PREFIX}{kind}")
}

fn model_def(name: &str) -> TableDefinition<'_, &'static str, &'static [u8]> {
    TableDefinition::new(name)
}

fn ids_def(name: &str) -> TableDefinition<'_, &'static str, ()> {
    TableDefinition::new(name)
}

impl Store for RedbStore {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn store_id(&self) -> Result<String, StoreError> {
        Ok(self.id.clone())
    }

    fn kinds(&self) -> Result<Vec<String>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        let mut kinds = Vec::new();
        for handle in txn.list_tables().map_err(|e| self.error(e))? {
            if let Some(kind) = handle.name().strip_prefix(MODEL_TABLE_PREFIX)
                && self.count(kind)? > 0
            {
                kinds.push(kind.to_owned());
            }
        }
        kinds.sort();
        Ok(kinds)
    }

    fn count(&self, kind: &str) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        let name = model_table(kind);
        match txn.open_table(TableDefinition::<&str, &[u8]>::new(&name)) {
            Ok(table) => table.len().map_err(|e| self.error(e)),
            Err(TableError::TableDoesNotExist(_)) => Ok(0),
            Err(e) => Err(self.error(e)),
        }
    }

    fn split(&self, kind: &str, shards: usize) -> Result<Vec<Split>, StoreError> {
        collect_splits(shards, |each| self.split_each(kind, shards, each))
    }

    fn split_each(
        &self,
        kind: &str,
        shards: usize,
        each: &mut dyn FnMut(Split) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        // The index has exactly the model table's ids (both change in the same transactions),
        // and a kind that was never written has neither. A model table without its index (one
        // written by other means than this store) is split by walking it instead: slower, but
        // never a shard plan that leaves its entities out.
        match txn.open_table(ids_def(&id_index(kind))) {
            Ok(ids) => self.cut_by_keys(&ids, shards, each),
            Err(TableError::TableDoesNotExist(_)) => match txn.open_table(model_def(&model_table(kind))) {
                Ok(models) => self.cut_by_keys(&models, shards, each),
                Err(TableError::TableDoesNotExist(_)) => cut_sorted_ids(0, shards, |_| Ok::<_, StoreError>(()), each),
                Err(e) => Err(self.error(e)),
            },
            Err(e) => Err(self.error(e)),
        }
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
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        let name = model_table(kind);
        let table = match txn.open_table(TableDefinition::<&str, &[u8]>::new(&name)) {
            Ok(table) => table,
            Err(TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(self.error(e)),
        };
        for row in table.range::<&str>(range.bounds()).map_err(|e| self.error(e))? {
            let (id, bytes) = row.map_err(|e| self.error(e))?;
            if visit(id.value(), bytes.value()).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn get(&self, kind: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        let name = model_table(kind);
        match txn.open_table(TableDefinition::<&str, &[u8]>::new(&name)) {
            Ok(table) => Ok(table.get(id).map_err(|e| self.error(e))?.map(|v| v.value().to_vec())),
            Err(TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    fn apply(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        self.write_batch(batch, false).map(|_| ())
    }

    fn apply_checked(&self, batch: &WriteBatch) -> Result<Vec<usize>, StoreError> {
        self.write_batch(batch, true)
    }
}

impl RedbStore {
    /// [`Store::split_each`] by the keys of `table`: the kind's id index, or its model table.
    fn cut_by_keys<V: redb::Value + 'static>(
        &self,
        table: &impl ReadableTable<&'static str, V>,
        shards: usize,
        each: &mut dyn FnMut(Split) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        let count = table.len().map_err(|e| self.error(e))?;
        let walk = |visit: &mut dyn FnMut(u64, &str) -> bool| {
            for (position, row) in table.iter().map_err(|e| self.error(e))?.enumerate() {
                let (id, _) = row.map_err(|e| self.error(e))?;
                if !visit(position as u64, id.value()) {
                    break;
                }
            }
            Ok(())
        };
        cut_sorted_ids(count, shards, walk, each)
    }

    /// Stores `batch` in one write transaction; if `checked`, first checks each write's
    /// expectation inside it and, if any fails, aborts the transaction and names the failures.
    fn write_batch(&self, batch: &WriteBatch, checked: bool) -> Result<Vec<usize>, StoreError> {
        let mut conflicts = Vec::new();
        if batch.is_empty() {
            return Ok(conflicts);
        }
        // One write transaction: redb commits it atomically, so a crash keeps all or nothing.
        let txn = self.db.begin_write().map_err(|e| self.error(e))?;
        {
            // Batches are mostly runs of one kind: reopen the tables only when the kind changes.
            type Tables<'t> = (redb::Table<'t, &'static str, &'static [u8]>, redb::Table<'t, &'static str, ()>);
            let mut open: Option<(&str, Tables<'_>)> = None;
            for (index, write) in batch.writes().iter().enumerate() {
                let (Write::Put { kind, .. } | Write::Delete { kind, .. }) = write;
                let (models, ids) = match &mut open {
                    Some((open_kind, tables)) if *open_kind == kind.as_str() => tables,
                    slot => {
                        *slot = None;
                        let models = txn.open_table(model_def(&model_table(kind))).map_err(|e| self.error(e))?;
                        let ids = txn.open_table(ids_def(&id_index(kind))).map_err(|e| self.error(e))?;
                        &mut slot.insert((kind.as_str(), (models, ids))).1
                    }
                };
                if checked {
                    let (Write::Put { id, .. } | Write::Delete { id, .. }) = write;
                    let stored = models.get(id.as_str()).map_err(|e| self.error(e))?;
                    if !batch.expect(index).holds(stored.as_ref().map(|v| v.value())) {
                        conflicts.push(index);
                    }
                }
                // The index changes only when an id comes or goes, not when an entity is
                // rewritten (a migration's usual write).
                match write {
                    Write::Put { id, bytes, .. } => {
                        let replaced = models.insert(id.as_str(), bytes.as_slice()).map_err(|e| self.error(e))?;
                        if replaced.is_none() {
                            ids.insert(id.as_str(), ()).map_err(|e| self.error(e))?;
                        }
                    }
                    Write::Delete { id, .. } => {
                        let removed = models.remove(id.as_str()).map_err(|e| self.error(e))?;
                        if removed.is_some() {
                            ids.remove(id.as_str()).map_err(|e| self.error(e))?;
                        }
                    }
                }
            }
        }
        if !conflicts.is_empty() {
            // Dropping an uncommitted transaction stores nothing.
            txn.abort().map_err(|e| self.error(e))?;
            return Ok(conflicts);
        }
        txn.commit().map_err(|e| self.error(e))?;
        Ok(conflicts)
    }
}

#[cfg(test)]
mod tests {
    use super::super::conformance;
    use super::*;

    fn store() -> (tempfile::TempDir, RedbStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("jobs.redb")).unwrap();
        (dir, store)
    }

    #[test]
    fn every_entity_is_read_exactly_once() {
        conformance::every_entity_is_read_exactly_once(&store().1);
    }

    #[test]
    fn checked_writes_apply_only_if_unchanged() {
        conformance::checked_writes_apply_only_if_unchanged(&store().1);
    }

    #[test]
    fn batches_put_get_and_delete() {
        conformance::batches_put_get_and_delete(&store().1);
    }

    #[test]
    fn scan_stops_when_asked() {
        conformance::scan_stops_when_asked(&store().1);
    }

    #[test]
    fn ids_sort_by_their_bytes() {
        conformance::ids_sort_by_their_bytes(&store().1);
    }

    #[test]
    fn the_last_write_to_an_entity_wins() {
        conformance::the_last_write_to_an_entity_wins(&store().1);
    }

    #[test]
    fn bulk_load_stores_what_apply_would() {
        conformance::bulk_load_stores_what_apply_would(&store().1);
    }

    #[test]
    fn empty_and_missing_kinds_read_as_empty() {
        conformance::empty_and_missing_kinds_read_as_empty(&store().1);
    }

    #[test]
    fn store_ids_name_one_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.redb");
        // The same file by another path, as another machine might mount it.
        let spellings = [path.clone(), dir.path().join(".").join("jobs.redb"), path];
        let mut handles = spellings.into_iter().map(|path| Box::new(RedbStore::open(path).unwrap()) as Box<dyn Store>);
        conformance::store_ids_name_one_store(&mut handles, &store().1);
    }

    #[test]
    fn a_store_from_before_store_ids_gets_one_that_lasts() {
        let (dir, store) = store();
        let txn = store.db.begin_write().unwrap();
        assert!(txn.delete_table(IDENTITY).unwrap(), "a new store has an id");
        txn.commit().unwrap();
        drop(store);
        let first = RedbStore::open(dir.path().join("jobs.redb")).unwrap().store_id().unwrap();
        let again = RedbStore::open(dir.path().join("jobs.redb")).unwrap().store_id().unwrap();
        assert_eq!(first, again);
    }

    #[test]
    fn a_file_that_is_not_a_store_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, "hello, this is not a database").unwrap();
        let err = RedbStore::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
        assert!(err.to_string().contains("notes.txt"), "{err}");
    }

    #[test]
    fn a_store_cut_short_is_called_truncated_by_name_and_left_as_it_is() {
        let (dir, store) = store();
        let mut batch = WriteBatch::new();
        batch.put("Note", "a", b"x".to_vec());
        store.apply(&batch).unwrap();
        drop(store);
        let whole = std::fs::read(dir.path().join("jobs.redb")).unwrap();
        assert!(whole.len() as u64 > MIN_REDB_FILE_BYTES, "{}", whole.len());
        for cut in [3, 100, 4000, 4095] {
            let path = dir.path().join(format!("cut-{cut}.redb"));
            std::fs::write(&path, &whole[..cut]).unwrap();
            let err = RedbStore::open(&path).unwrap_err();
            assert!(matches!(err, StoreError::Truncated { size, .. } if size == cut as u64), "{cut}: {err}");
            let message = err.to_string();
            assert!(message.contains("is truncated") && message.contains(&format!("cut-{cut}.redb")), "{message}");
            assert!(!message.contains("fill whole buffer"), "{message}");
            assert_eq!(std::fs::read(&path).unwrap(), &whole[..cut], "the file is left as it was");
        }
    }

    /// The keys of the table `definition`, none if it does not exist.
    fn keys<V: redb::Value + 'static>(
        store: &RedbStore,
        definition: TableDefinition<'_, &'static str, V>,
    ) -> Vec<String> {
        match store.db.begin_read().unwrap().open_table(definition) {
            Ok(table) => table.iter().unwrap().map(|row| row.unwrap().0.value().to_owned()).collect(),
            Err(TableError::TableDoesNotExist(_)) => Vec::new(),
            Err(e) => panic!("{e}"),
        }
    }

    /// Stores `count` notes `n00`, `n01`, ..., each one byte.
    fn put_notes(store: &RedbStore, count: u8) {
        let mut batch = WriteBatch::new();
        for i in 0..count {
            batch.put("Note", format!("n{i:02}"), vec![i]);
        }
        store.apply(&batch).unwrap();
    }

    /// The ids in `kind`'s model table and in its index.
    fn ids_in_both(store: &RedbStore, kind: &str) -> (Vec<String>, Vec<String>) {
        (keys(store, model_def(&model_table(kind))), keys(store, ids_def(&id_index(kind))))
    }

    #[test]
    fn the_id_index_follows_puts_rewrites_deletes_and_refused_batches() {
        let (_dir, store) = store();
        let mut batch = WriteBatch::new();
        for i in 0..50 {
            batch.put("Note", format!("n{i:02}"), vec![1]);
            batch.put("Other", format!("o{i:02}"), vec![2]);
        }
        store.apply(&batch).unwrap();
        let mut batch = WriteBatch::new();
        for i in (0..50).step_by(3) {
            batch.delete("Note", format!("n{i:02}"));
            batch.put("Note", format!("n{:02}", i + 1), vec![3]); // a rewrite
        }
        batch.delete("Note", "never-stored");
        batch.put("Note", "new", vec![4]);
        store.apply(&batch).unwrap();
        // A checked batch that conflicts stores nothing, in the index either.
        let mut refused = WriteBatch::new();
        refused.put_if("Note", "n01", vec![5], super::super::Expect::Unchanged(vec![9]));
        refused.put("Note", "refused", vec![6]);
        assert_eq!(store.apply_checked(&refused).unwrap(), vec![0]);
        for kind in ["Note", "Other", "Missing"] {
            let (models, ids) = ids_in_both(&store, kind);
            assert_eq!(models, ids, "{kind}");
        }
        assert_eq!(ids_in_both(&store, "Note").0.len(), 50 - 17 + 1);
        let splits = store.split("Note", 4).unwrap();
        assert_eq!(splits.iter().map(|s| s.len).sum::<u64>(), 34);
        assert_eq!(splits[1].range.start.as_deref(), Some(ids_in_both(&store, "Note").0[8].as_str()));
    }

    #[test]
    fn a_model_table_without_its_index_is_split_by_its_own_keys() {
        let (_dir, store) = store();
        put_notes(&store, 30);
        let indexed = store.split("Note", 4).unwrap();
        let txn = store.db.begin_write().unwrap();
        assert!(txn.delete_table(ids_def(&id_index("Note"))).unwrap());
        txn.commit().unwrap();
        assert_eq!(store.split("Note", 4).unwrap(), indexed);
        assert_eq!(indexed.iter().map(|s| s.len).sum::<u64>(), 30);
    }

    #[test]
    fn a_format_1_store_gets_its_id_index_on_open_and_keeps_its_entities() {
        let (dir, store) = store();
        put_notes(&store, 40);
        let expected = store.split("Note", 3).unwrap();
        // As version 1 left it: no index.
        let txn = store.db.begin_write().unwrap();
        assert!(txn.delete_table(ids_def(&id_index("Note"))).unwrap());
        txn.open_table(META).unwrap().insert(FORMAT_KEY, FORMAT_WITHOUT_ID_INDEX).unwrap();
        txn.commit().unwrap();
        drop(store);

        let store = RedbStore::open(dir.path().join("jobs.redb")).unwrap();
        let (models, ids) = ids_in_both(&store, "Note");
        assert_eq!((models.len(), &models), (40, &ids));
        assert_eq!(store.split("Note", 3).unwrap(), expected);
        assert_eq!(store.get("Note", "n07").unwrap(), Some(vec![7]));
        let txn = store.db.begin_read().unwrap();
        let version = txn.open_table(META).unwrap().get(FORMAT_KEY).unwrap().map(|v| v.value());
        assert_eq!(version, Some(STORE_FORMAT_VERSION));
    }

    #[test]
    fn a_store_from_a_newer_version_is_refused() {
        let (dir, store) = store();
        let txn = store.db.begin_write().unwrap();
        txn.open_table(META).unwrap().insert(FORMAT_KEY, STORE_FORMAT_VERSION + 1).unwrap();
        txn.commit().unwrap();
        drop(store);
        let err = RedbStore::open(dir.path().join("jobs.redb")).unwrap_err();
        assert!(matches!(err, StoreError::NewerFormat { found, .. } if found == STORE_FORMAT_VERSION + 1), "{err}");
    }
}
