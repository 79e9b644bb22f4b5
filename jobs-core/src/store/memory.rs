//! An in-memory store, for tests and examples.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::identity::{format_store_id, random_store_id};
use super::split::split_sorted_ids;
use super::{KeyRange, Split, Store, StoreError, Write, WriteBatch};

type Kinds = BTreeMap<String, BTreeMap<String, Vec<u8>>>;

/// A store that keeps everything in memory; nothing outlives the value.
///
/// ```
/// use jobs_core::store::{MemoryStore, Store, WriteBatch};
///
/// let store = MemoryStore::new();
/// let mut batch = WriteBatch::new();
/// batch.put("ExplorationModel", "exp1", vec![1, 2, 3]);
/// store.apply(&batch)?;
/// assert_eq!(store.count("ExplorationModel")?, 1);
/// # Ok::<(), jobs_core::store::StoreError>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    kinds: RwLock<Kinds>,
    /// Run records, apart from the models (`crate::runs`).
    runs: crate::runs::MemoryRuns,
    /// The store's id, drawn when first asked for: each instance is a store of its own.
    id: OnceLock<String>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// The run records kept beside the models.
    pub(crate) fn runs(&self) -> &crate::runs::MemoryRuns {
        &self.runs
    }

    fn read(&self) -> RwLockReadGuard<'_, Kinds> {
        // The lock is held only around plain map operations, which leave the maps whole even
        // if a panic poisons it.
        self.kinds.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Kinds> {
        self.kinds.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store for MemoryStore {
    fn location(&self) -> String {
        "memory".to_owned()
    }

    fn store_id(&self) -> Result<String, StoreError> {
        if let Some(id) = self.id.get() {
            return Ok(id.clone());
        }
        let drawn = format_store_id(random_store_id(&self.location())?);
        // Two threads may draw at once: the first to set it wins, and both return that one.
        Ok(self.id.get_or_init(|| drawn).clone())
    }

    fn kinds(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.read().iter().filter(|(_, rows)| !rows.is_empty()).map(|(k, _)| k.clone()).collect())
    }

    fn count(&self, kind: &str) -> Result<u64, StoreError> {
        Ok(self.read().get(kind).map_or(0, |rows| rows.len() as u64))
    }

    fn split(&self, kind: &str, shards: usize) -> Result<Vec<Split>, StoreError> {
        let kinds = self.read();
        let rows = kinds.get(kind);
        let count = rows.map_or(0, |rows| rows.len() as u64);
        split_sorted_ids(count, shards, |visit| {
            for (position, id) in rows.into_iter().flat_map(|rows| rows.keys()).enumerate() {
                if !visit(position as u64, id) {
                    break;
                }
            }
            Ok(())
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
        // Copy the range out so that `visit` may write to this store (a migration job does)
        // without deadlocking on the lock.
        let rows: Vec<(String, Vec<u8>)> = match self.read().get(kind) {
            Some(rows) => rows.range::<str, _>(range.bounds()).map(|(id, bytes)| (id.clone(), bytes.clone())).collect(),
            None => return Ok(()),
        };
        for (id, bytes) in &rows {
            if visit(id, bytes).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn get(&self, kind: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read().get(kind).and_then(|rows| rows.get(id)).cloned())
    }

    fn apply(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        let mut kinds = self.write();
        for write in batch.writes() {
            match write {
                Write::Put { kind, id, bytes } => {
                    kinds.entry(kind.clone()).or_default().insert(id.clone(), bytes.clone());
                }
                Write::Delete { kind, id } => {
                    if let Some(rows) = kinds.get_mut(kind) {
                        rows.remove(id);
                    }
                }
            }
        }
        Ok(())
    }

    fn apply_checked(&self, batch: &WriteBatch) -> Result<Vec<usize>, StoreError> {
        let mut kinds = self.write();
        // Checked against a view of the batch's own earlier writes, under the one lock.
        let mut written: std::collections::HashMap<(&str, &str), Option<&[u8]>> = std::collections::HashMap::new();
        let mut conflicts = Vec::new();
        for (index, write) in batch.writes().iter().enumerate() {
            let (Write::Put { kind, id, .. } | Write::Delete { kind, id }) = write;
            let stored = match written.get(&(kind.as_str(), id.as_str())) {
                Some(bytes) => *bytes,
                None => kinds.get(kind).and_then(|rows| rows.get(id)).map(Vec::as_slice),
            };
            if !batch.expect(index).holds(stored) {
                conflicts.push(index);
            }
            let after = match write {
                Write::Put { bytes, .. } => Some(bytes.as_slice()),
                Write::Delete { .. } => None,
            };
            written.insert((kind.as_str(), id.as_str()), after);
        }
        if !conflicts.is_empty() {
            return Ok(conflicts);
        }
        drop(written);
        for write in batch.writes() {
            match write {
                Write::Put { kind, id, bytes } => {
                    kinds.entry(kind.clone()).or_default().insert(id.clone(), bytes.clone());
                }
                Write::Delete { kind, id } => {
                    if let Some(rows) = kinds.get_mut(kind) {
                        rows.remove(id);
                    }
                }
            }
        }
        Ok(conflicts)
    }
}

#[cfg(test)]
mod tests {
    use super::super::conformance;
    use super::*;

    #[test]
    fn store_ids_name_one_store() {
        let store: Box<dyn Store> = Box::new(MemoryStore::new());
        conformance::store_ids_name_one_store(&mut std::iter::once(store), &MemoryStore::new());
    }

    #[test]
    fn every_entity_is_read_exactly_once() {
        conformance::every_entity_is_read_exactly_once(&MemoryStore::new());
    }

    #[test]
    fn checked_writes_apply_only_if_unchanged() {
        conformance::checked_writes_apply_only_if_unchanged(&MemoryStore::new());
    }

    #[test]
    fn batches_put_get_and_delete() {
        conformance::batches_put_get_and_delete(&MemoryStore::new());
    }

    #[test]
    fn scan_stops_when_asked() {
        conformance::scan_stops_when_asked(&MemoryStore::new());
    }

    #[test]
    fn ids_sort_by_their_bytes() {
        conformance::ids_sort_by_their_bytes(&MemoryStore::new());
    }

    #[test]
    fn the_last_write_to_an_entity_wins() {
        conformance::the_last_write_to_an_entity_wins(&MemoryStore::new());
    }

    #[test]
    fn bulk_load_stores_what_apply_would() {
        conformance::bulk_load_stores_what_apply_would(&MemoryStore::new());
    }

    #[test]
    fn empty_and_missing_kinds_read_as_empty() {
        conformance::empty_and_missing_kinds_read_as_empty(&MemoryStore::new());
    }
}
