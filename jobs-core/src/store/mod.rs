//! Where models live: the [`Store`] trait, and its embedded ([`RedbStore`]), in-memory
//! ([`MemoryStore`]) and, with the feature `postgres`, server (`PostgresStore`) implementations.
//!
//! A store keeps each kind's entities sorted by id. A job splits a kind into shards with
//! [`Store::split`]: contiguous id ranges that together cover the kind exactly once, so each
//! shard scans only its own rows.
//!
//! This module owns the models' storage only. Each store also keeps run records, in tables of
//! its own, by implementing [`RunStore`](crate::runs::RunStore) in `runs/` (`runs/redb.rs`,
//! `runs/memory.rs`, `runs/postgres.rs`, which also defines the PostgreSQL run tables).

mod identity;
mod memory;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
mod redb;
mod split;

use std::ops::ControlFlow;
use std::path::PathBuf;

pub use self::memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use self::postgres::{DEFAULT_SCHEMA, POSTGRES_FORMAT_VERSION, PostgresStore, SCAN_CHUNK_ROWS};
pub use self::redb::{RedbStore, STORE_FORMAT_VERSION};
pub(crate) use self::split::range_sizes;
pub use self::split::{KeyRange, Split};

/// Whether `location` names a PostgreSQL store (`postgres://...` or `postgresql://...`)
/// rather than a store file. Such a store needs the feature `postgres`.
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// A datastore of models, shared by the engine's worker threads.
pub trait Store: Send + Sync {
    /// Where the store is, for messages: a file path or `memory`.
    fn location(&self) -> String;

    /// The store's id: drawn at random when the store was created and kept in it. Every handle
    /// on one store gives the same id, whatever location it was opened by (another spelling of
    /// a server's host, another path to a file); two stores never share one. A cluster's
    /// processes compare it to check that they all opened the same store.
    ///
    /// # Errors
    /// The store could not be read.
    fn store_id(&self) -> Result<String, StoreError>;

    /// The kinds that have at least one stored entity, sorted.
    ///
    /// # Errors
    /// The store could not be read.
    fn kinds(&self) -> Result<Vec<String>, StoreError>;

    /// How many entities of `kind` are stored.
    ///
    /// # Errors
    /// The store could not be read.
    fn count(&self, kind: &str) -> Result<u64, StoreError>;

    /// Splits `kind` into exactly `shards` contiguous id ranges, in id order, of as equal a
    /// size as the ids allow. Ranges may be empty when there are fewer entities than shards.
    ///
    /// # Errors
    /// The store could not be read.
    fn split(&self, kind: &str, shards: usize) -> Result<Vec<Split>, StoreError>;

    /// As [`split`](Self::split), handing each range to `each`, in order, as soon as it is
    /// cut, until `each` breaks: a caller can map the first ranges while the store walks on to
    /// cut the rest. A range's `len` depends only on the kind's count when the cut began, so a
    /// caller that [counted](Self::count) the kind knows every size before the walk.
    ///
    /// The default cuts them all first; a store that must walk its ids to cut should override
    /// it.
    ///
    /// # Errors
    /// The store could not be read; the ranges handed over before are valid.
    fn split_each(
        &self,
        kind: &str,
        shards: usize,
        each: &mut dyn FnMut(Split) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        for split in self.split(kind, shards)? {
            if each(split).is_break() {
                break;
            }
        }
        Ok(())
    }

    /// Visits the entities of `kind` whose ids fall in `range`, in id order, until `visit`
    /// breaks. Only rows inside the range are read.
    ///
    /// # Errors
    /// The store could not be read.
    fn scan(
        &self,
        kind: &str,
        range: &KeyRange,
        visit: &mut dyn FnMut(&str, &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError>;

    /// The stored bytes of one entity.
    ///
    /// # Errors
    /// The store could not be read.
    fn get(&self, kind: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Applies every write in `batch` atomically: after a crash either all of them are stored
    /// or none is.
    ///
    /// # Errors
    /// The store could not be written; nothing of the batch is stored.
    fn apply(&self, batch: &WriteBatch) -> Result<(), StoreError>;

    /// Applies `batch` only if every write's [`Expect`]ation holds, checked in the same
    /// transaction as the writes: the conditional write that keeps a migration from reverting
    /// what another writer stored meanwhile. Each expectation is checked against the entity
    /// as the batch's earlier writes leave it. If all hold, every write is stored atomically,
    /// as [`apply`](Self::apply) would, and the answer is empty; otherwise nothing is stored
    /// and the answer lists the positions (in [`WriteBatch::writes`]) of the writes whose
    /// expectation failed, in order.
    ///
    /// Application code writes the same way: read an entity, then
    /// [`put_if`](WriteBatch::put_if) it with [`Expect::Unchanged`] of the bytes it read, and
    /// read again on a conflict; or create with [`Expect::Absent`].
    ///
    /// # Errors
    /// The store could not be read or written; nothing of the batch is stored.
    fn apply_checked(&self, batch: &WriteBatch) -> Result<Vec<usize>, StoreError>;

    /// Stores a large batch, such as `jobs seed` and `jobs import` write, as fast as the store
    /// can, with the same meaning as [`apply`](Self::apply): atomically, later writes to an
    /// entity replacing earlier ones. The default is `apply`; a store with a faster bulk path
    /// (PostgreSQL's `COPY`) overrides it.
    ///
    /// # Errors
    /// The store could not be written; nothing of the batch is stored.
    fn bulk_load(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        self.apply(batch)
    }
}

/// Writes to apply together: puts of encoded entities and deletes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteBatch {
    writes: Vec<Write>,
    /// One per write: what [`Store::apply_checked`] requires of the entity before it.
    expects: Vec<Expect>,
}

/// What a conditional write ([`Store::apply_checked`]) requires of the stored entity it
/// writes; [`Store::apply`] ignores it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Expect {
    /// Nothing: write whatever is stored.
    #[default]
    Any,
    /// No entity with the id is stored (create-if-absent).
    Absent,
    /// The entity is stored with exactly these bytes: unchanged since it was read.
    Unchanged(Vec<u8>),
}

impl Expect {
    /// Whether `stored` (the entity's stored bytes, if any) meets the expectation.
    pub fn holds(&self, stored: Option<&[u8]>) -> bool {
        match self {
            Expect::Any => true,
            Expect::Absent => stored.is_none(),
            Expect::Unchanged(bytes) => stored == Some(bytes.as_slice()),
        }
    }
}

/// One write in a [`WriteBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Store `bytes` as entity `id` of `kind`, replacing any earlier one.
    Put {
        /// The entity's kind.
        kind: String,
        /// The entity's id.
        id: String,
        /// The encoded entity.
        bytes: Vec<u8>,
    },
    /// Remove entity `id` of `kind`, if stored.
    Delete {
        /// The entity's kind.
        kind: String,
        /// The entity's id.
        id: String,
    },
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        WriteBatch::default()
    }

    /// Adds a put.
    pub fn put(&mut self, kind: impl Into<String>, id: impl Into<String>, bytes: Vec<u8>) {
        self.put_if(kind, id, bytes, Expect::Any);
    }

    /// Adds a delete.
    pub fn delete(&mut self, kind: impl Into<String>, id: impl Into<String>) {
        self.delete_if(kind, id, Expect::Any);
    }

    /// Adds a put that [`Store::apply_checked`] applies only if `expect` holds.
    pub fn put_if(&mut self, kind: impl Into<String>, id: impl Into<String>, bytes: Vec<u8>, expect: Expect) {
        self.writes.push(Write::Put { kind: kind.into(), id: id.into(), bytes });
        self.expects.push(expect);
    }

    /// Adds a delete that [`Store::apply_checked`] applies only if `expect` holds.
    pub fn delete_if(&mut self, kind: impl Into<String>, id: impl Into<String>, expect: Expect) {
        self.writes.push(Write::Delete { kind: kind.into(), id: id.into() });
        self.expects.push(expect);
    }

    /// What the write at `index` expects of the stored entity ([`Expect::Any`] past the end).
    pub fn expect(&self, index: usize) -> &Expect {
        self.expects.get(index).unwrap_or(&Expect::Any)
    }

    /// Appends the writes of `other` at positions `range`, with their expectations.
    pub(crate) fn extend_from(&mut self, other: &WriteBatch, range: std::ops::Range<usize>) {
        self.writes.extend_from_slice(&other.writes[range.clone()]);
        self.expects.extend_from_slice(&other.expects[range]);
    }

    /// The writes, in the order added.
    pub fn writes(&self) -> &[Write] {
        &self.writes
    }

    /// How many writes the batch holds.
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// Whether the batch holds no write.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Drops the writes after the first `len`.
    pub fn truncate(&mut self, len: usize) {
        self.writes.truncate(len);
        self.expects.truncate(len);
    }

    /// Removes every write.
    pub fn clear(&mut self) {
        self.writes.clear();
        self.expects.clear();
    }
}

/// A store could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the store file in a way that excludes us.
    #[error("the store {path} is in use by another process that does not share it")]
    Locked {
        /// The store file.
        path: PathBuf,
    },
    /// The file exists but is not a jobs store.
    #[error("{path} is not a jobs store ({reason}); pass the path of a store file, or a new path to create one")]
    NotAStore {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// The file starts as a redb store does but ends early: it was cut short (a copy that
    /// stopped, a full disk). Nothing was written to it.
    #[error(
        "the store {path} is truncated: the file has {size} bytes and ends before the store's data does (a copy that \
         stopped early, or a full disk?); it was left as it is: restore it from the original or a backup"
    )]
    Truncated {
        /// The store file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
    },
    /// The store was written by a newer version of jobs.
    #[error(
        "the store {path} has format version {found}, newer than this program's {supported}; upgrade jobs to read it"
    )]
    NewerFormat {
        /// The store file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The newest version this program reads.
        supported: u32,
    },
    /// The store file does not exist, and the command only works on an existing store.
    #[error("the store {path} does not exist")]
    Missing {
        /// The path given.
        path: PathBuf,
    },
    /// The store file is empty (0 bytes): not a store, and the command only works on an
    /// existing one. The file is left as it is.
    #[error("the store {path} is an empty file (0 bytes), not a store; it was left as it is")]
    Empty {
        /// The path given.
        path: PathBuf,
    },
    /// The store file cannot be written: its permissions, or a read-only file system.
    #[error(
        "the store {path} cannot be written ({reason}); jobs records every run in the store, so it needs write \
         access: make the file and its directory writable, or copy the store somewhere writable and open the copy"
    )]
    ReadOnly {
        /// The store file.
        path: PathBuf,
        /// The operating system's error.
        reason: String,
    },
    /// The store file could not grow: the disk is full, or a quota or file size limit was met.
    #[error(
        "the store {path} could not grow ({reason}); the write that needed the space was not stored, and what was \
         committed before is intact: free some space (or raise the limit) and run again"
    )]
    Full {
        /// The store file.
        path: PathBuf,
        /// The operating system's error.
        reason: String,
    },
    /// An earlier write to the store file failed (and was reported by whoever made it), and
    /// the store refuses to read or write until it is opened again.
    #[error("the store {path} stopped after an earlier write to it failed; run the command again to reopen it")]
    StoppedAfterFailure {
        /// The store file.
        path: PathBuf,
    },
    /// Any other I/O or database error, with the store it happened on.
    #[error("store {location}: {message}")]
    Io {
        /// The store.
        location: String,
        /// What went wrong.
        message: String,
    },
}

#[cfg(test)]
pub(crate) mod conformance {
    //! Checks every `Store` implementation must pass.

    use super::*;

    pub(crate) fn ids(n: usize) -> Vec<String> {
        // Skewed ids: a dense run of short ids, then a sparse tail of long ones.
        (0..n)
            .map(|i| if i % 3 == 0 { format!("z{:06}-{}", i * 7919, "x".repeat(i % 5)) } else { format!("a{i:04}") })
            .collect()
    }

    pub(crate) fn fill(store: &dyn Store, kind: &str, ids: &[String]) {
        let mut batch = WriteBatch::new();
        for id in ids {
            batch.put(kind, id.clone(), id.as_bytes().to_vec());
        }
        store.apply(&batch).unwrap();
    }

    pub(crate) fn every_entity_is_read_exactly_once(store: &dyn Store) {
        let ids = ids(517);
        fill(store, "K", &ids);
        fill(store, "Other", &ids[..10]);
        let mut expected = ids.clone();
        expected.sort();
        for shards in 1..=256 {
            let splits = store.split("K", shards).unwrap();
            assert_eq!(splits.len(), shards);
            let mut seen = Vec::new();
            for split in &splits {
                let mut in_split = 0u64;
                store
                    .scan("K", &split.range, &mut |id, bytes| {
                        assert_eq!(id.as_bytes(), bytes);
                        assert!(split.range.contains(id), "{id} outside {:?}", split.range);
                        seen.push(id.to_owned());
                        in_split += 1;
                        ControlFlow::Continue(())
                    })
                    .unwrap();
                assert_eq!(in_split, split.len, "split size estimate for {shards} shards");
            }
            assert_eq!(seen, expected, "{shards} shards");
            let largest = splits.iter().map(|s| s.len).max().unwrap();
            assert!(largest <= (517 / shards as u64) + 1, "{shards} shards are unbalanced: {largest}");
        }
        assert_eq!(store.count("K").unwrap(), 517);
        assert_eq!(store.kinds().unwrap(), vec!["K".to_owned(), "Other".to_owned()]);
        assert_eq!(store.split("Missing", 4).unwrap().iter().map(|s| s.len).sum::<u64>(), 0);
    }

    pub(crate) fn batches_put_get_and_delete(store: &dyn Store) {
        let mut batch = WriteBatch::new();
        batch.put("K", "a", vec![1]);
        batch.put("K", "b", vec![2]);
        store.apply(&batch).unwrap();
        assert_eq!(store.get("K", "a").unwrap(), Some(vec![1]));
        let mut batch = WriteBatch::new();
        batch.delete("K", "a");
        batch.put("K", "b", vec![3]);
        store.apply(&batch).unwrap();
        assert_eq!(store.get("K", "a").unwrap(), None);
        assert_eq!(store.get("K", "b").unwrap(), Some(vec![3]));
        assert_eq!(store.count("K").unwrap(), 1);
    }

    pub(crate) fn ids_sort_by_their_bytes(store: &dyn Store) {
        // Upper before lower case, punctuation and spaces by code point, multi-byte characters
        // after ASCII: Rust's `str` order, which a locale-aware collation would not give.
        let ids: Vec<String> =
            ["b", "a b", "Z", "a-b", "é", "e", "ä", "~", "a", "\u{10000}", "aB", "ab", "A", "_", "10", "9"]
                .iter()
                .map(|id| (*id).to_owned())
                .collect();
        fill(store, "K", &ids);
        let mut expected = ids.clone();
        expected.sort();
        let mut seen = Vec::new();
        store
            .scan("K", &KeyRange::all(), &mut |id, _| {
                seen.push(id.to_owned());
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(seen, expected);
        let range = KeyRange { start: Some("Z".to_owned()), end: Some("e".to_owned()) };
        let mut in_range = Vec::new();
        store
            .scan("K", &range, &mut |id, _| {
                in_range.push(id.to_owned());
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(in_range, ["Z", "_", "a", "a b", "a-b", "aB", "ab", "b"]);
        for shards in [2, 3, 7] {
            let splits = store.split("K", shards).unwrap();
            let mut starts: Vec<&str> = splits.iter().filter_map(|s| s.range.start.as_deref()).collect();
            let sorted = {
                let mut sorted = starts.clone();
                sorted.sort();
                sorted
            };
            assert_eq!(starts, sorted, "boundaries ascend in byte order");
            starts.dedup();
            assert!(starts.iter().all(|start| expected.iter().any(|id| id == start)), "boundaries are stored ids");
        }
    }

    pub(crate) fn the_last_write_to_an_entity_wins(store: &dyn Store) {
        let mut batch = WriteBatch::new();
        batch.put("K", "a", vec![1]);
        batch.put("K", "a", vec![2]);
        batch.put("K", "b", vec![1]);
        batch.delete("K", "b");
        batch.delete("K", "c");
        batch.put("K", "c", vec![3]);
        store.apply(&batch).unwrap();
        assert_eq!(store.get("K", "a").unwrap(), Some(vec![2]));
        assert_eq!(store.get("K", "b").unwrap(), None);
        assert_eq!(store.get("K", "c").unwrap(), Some(vec![3]));
        store.apply(&WriteBatch::new()).unwrap();
        assert_eq!(store.count("K").unwrap(), 2);
    }

    pub(crate) fn bulk_load_stores_what_apply_would(store: &dyn Store) {
        let mut first = WriteBatch::new();
        first.put("K", "kept", vec![0]);
        first.put("K", "replaced", vec![0]);
        // Into an empty store first, then over stored entities: PostgreSQL takes two paths.
        store.bulk_load(&first).unwrap();
        assert_eq!(store.get("K", "kept").unwrap(), Some(vec![0]));
        let mut batch = WriteBatch::new();
        for i in 0..1500 {
            batch.put("Bulk", format!("id{i:05}"), vec![u8::try_from(i % 251).unwrap(); i % 7]);
        }
        batch.put("K", "replaced", vec![1]);
        batch.put("K", "twice", vec![1]);
        batch.put("K", "twice", vec![2]);
        store.bulk_load(&batch).unwrap();
        assert_eq!(store.count("Bulk").unwrap(), 1500);
        assert_eq!(store.get("Bulk", "id00013").unwrap(), Some(vec![13; 6]));
        assert_eq!(store.get("K", "kept").unwrap(), Some(vec![0]));
        assert_eq!(store.get("K", "replaced").unwrap(), Some(vec![1]));
        assert_eq!(store.get("K", "twice").unwrap(), Some(vec![2]));
        let mut with_delete = WriteBatch::new();
        with_delete.delete("K", "kept");
        with_delete.put("K", "new", vec![5]);
        store.bulk_load(&with_delete).unwrap();
        assert_eq!((store.get("K", "kept").unwrap(), store.get("K", "new").unwrap()), (None, Some(vec![5])));
    }

    pub(crate) fn empty_and_missing_kinds_read_as_empty(store: &dyn Store) {
        assert_eq!(store.count("Missing").unwrap(), 0);
        assert_eq!(store.get("Missing", "x").unwrap(), None);
        let mut visited = 0;
        store
            .scan("Missing", &KeyRange::all(), &mut |_, _| {
                visited += 1;
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(visited, 0);
        let mut batch = WriteBatch::new();
        batch.put("Gone", "x", vec![1]);
        batch.put("Kept", "x", vec![1]);
        store.apply(&batch).unwrap();
        let mut batch = WriteBatch::new();
        batch.delete("Gone", "x");
        store.apply(&batch).unwrap();
        assert_eq!(store.kinds().unwrap(), ["Kept"], "a kind whose entities are all deleted is not listed");
        let splits = store.split("Kept", 3).unwrap();
        assert_eq!(splits.iter().map(|s| s.len).sum::<u64>(), 1);
        assert_eq!(splits.len(), 3);
    }

    /// `handles` open one store again and again (each is dropped before the next is opened, as
    /// a store file that one process may open once requires); `other` is another store.
    pub(crate) fn store_ids_name_one_store(handles: &mut dyn Iterator<Item = Box<dyn Store>>, other: &dyn Store) {
        let mut ids = Vec::new();
        for (n, handle) in handles.enumerate() {
            let id = handle.store_id().unwrap();
            fill(handle.as_ref(), "K", &[format!("written by handle {n}")]);
            assert_eq!(handle.store_id().unwrap(), id, "writes leave the id alone");
            ids.push(id);
        }
        assert!(!ids.is_empty(), "no handle was opened");
        assert!(ids[0].len() == 32 && ids[0].bytes().all(|b| b.is_ascii_hexdigit()), "{}", ids[0]);
        assert!(ids.iter().all(|id| *id == ids[0]), "one store, one id: {ids:?}");
        assert_ne!(other.store_id().unwrap(), ids[0], "two stores, two ids");
    }

    pub(crate) fn checked_writes_apply_only_if_unchanged(store: &dyn Store) {
        fill(store, "K", &["a".to_owned(), "b".to_owned()]);
        // Every expectation holds: all stored.
        let mut batch = WriteBatch::new();
        batch.put_if("K", "a", vec![1], Expect::Unchanged(b"a".to_vec()));
        batch.put_if("K", "new", vec![2], Expect::Absent);
        batch.delete_if("K", "b", Expect::Unchanged(b"b".to_vec()));
        batch.put_if("K", "a", vec![3], Expect::Unchanged(vec![1]));
        assert_eq!(store.apply_checked(&batch).unwrap(), Vec::<usize>::new());
        assert_eq!(store.get("K", "a").unwrap(), Some(vec![3]));
        assert_eq!(store.get("K", "new").unwrap(), Some(vec![2]));
        assert_eq!(store.get("K", "b").unwrap(), None);
        // Two fail: nothing of the batch is stored, and both are named.
        let mut batch = WriteBatch::new();
        batch.put_if("K", "a", vec![9], Expect::Unchanged(b"a".to_vec()));
        batch.put("K", "other", vec![9]);
        batch.put_if("K", "new", vec![9], Expect::Absent);
        batch.delete_if("K", "b", Expect::Unchanged(b"b".to_vec()));
        assert_eq!(store.apply_checked(&batch).unwrap(), vec![0, 2, 3]);
        assert_eq!(store.get("K", "a").unwrap(), Some(vec![3]));
        assert_eq!(store.get("K", "new").unwrap(), Some(vec![2]));
        assert_eq!(store.get("K", "other").unwrap(), None);
        assert_eq!(store.count("K").unwrap(), 2);
    }

    pub(crate) fn scan_stops_when_asked(store: &dyn Store) {
        fill(store, "K", &ids(50));
        let mut seen = 0;
        store
            .scan("K", &KeyRange::all(), &mut |_, _| {
                seen += 1;
                if seen == 5 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            })
            .unwrap();
        assert_eq!(seen, 5);
    }
}
