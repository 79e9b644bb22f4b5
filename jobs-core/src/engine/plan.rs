//! The plan: each listed model's kind cut into `shards` contiguous id ranges ([`Store::split`],
//! which a redb store answers from its id index without reading an entity), one map task per
//! (model, shard), numbered in model order, then id order: the order values reach reduce.

use crate::store::{KeyRange, Store, StoreError};

/// One shard of one listed model.
pub(super) struct MapTask {
    /// The task's position in (model, shard) order.
    pub(super) index: usize,
    /// The model's position in the job's `models = [...]`.
    pub(super) model: usize,
    pub(super) kind: &'static str,
    /// The shard's number within its kind.
    pub(super) shard: usize,
    /// The ids it covers. The first and last shard of a kind are open-ended, so entities
    /// stored after the plan are still read, by whichever shard their id falls in.
    pub(super) range: KeyRange,
    /// How many entities it held when the plan was made.
    pub(super) len: u64,
}

/// Plans `shards` tasks for each of `kinds`, in (model, shard) order.
///
/// # Errors
/// The store could not split a kind.
pub(super) fn plan(store: &dyn Store, kinds: &[&'static str], shards: usize) -> Result<Vec<MapTask>, StoreError> {
    let mut tasks = Vec::with_capacity(kinds.len() * shards);
    for (model, kind) in kinds.iter().enumerate() {
        for split in store.split(kind, shards)? {
            tasks.push(MapTask {
                index: tasks.len(),
                model,
                kind,
                shard: split.index,
                range: split.range,
                len: split.len,
            });
        }
    }
    Ok(tasks)
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;

    use super::*;
    use crate::store::{MemoryStore, WriteBatch};

    fn store(kinds: &[(&str, usize)]) -> MemoryStore {
        let store = MemoryStore::new();
        let mut writes = WriteBatch::new();
        for &(kind, count) in kinds {
            for i in 0..count {
                writes.put(kind, format!("{i:05}"), vec![i as u8]);
            }
        }
        store.apply(&writes).unwrap();
        store
    }

    /// The ids each task's range holds, in order.
    fn ids(store: &MemoryStore, task: &MapTask) -> Vec<String> {
        let mut ids = Vec::new();
        store
            .scan(task.kind, &task.range, &mut |id, _| {
                ids.push(id.to_owned());
                ControlFlow::Continue(())
            })
            .unwrap();
        ids
    }

    #[test]
    fn tasks_cover_each_kind_once_in_id_order_with_sizes_differing_by_at_most_one() {
        let store = store(&[("A", 10), ("B", 0)]);
        let tasks = plan(&store, &["A", "B"], 4).unwrap();
        assert_eq!(tasks.iter().map(|t| (t.index, t.model, t.shard)).collect::<Vec<_>>()[3..5], [(3, 0, 3), (4, 1, 0)]);
        let lens: Vec<u64> = tasks.iter().map(|t| t.len).collect();
        assert_eq!(lens[..4].iter().sum::<u64>(), 10);
        assert!(lens[..4].iter().all(|&len| len == 2 || len == 3), "{lens:?}");
        assert_eq!(lens[4..], [0, 0, 0, 0]);
        let a: Vec<String> = tasks[..4].iter().flat_map(|task| ids(&store, task)).collect();
        assert_eq!(a, (0..10).map(|i| format!("{i:05}")).collect::<Vec<_>>());
        for task in &tasks[..4] {
            assert_eq!(ids(&store, task).len() as u64, task.len);
        }
    }

    #[test]
    fn entities_stored_after_the_plan_fall_in_some_task() {
        let store = store(&[("A", 4)]);
        let tasks = plan(&store, &["A"], 2).unwrap();
        let mut writes = WriteBatch::new();
        writes.put("A", "", vec![0]);
        writes.put("A", "zzz", vec![0]);
        store.apply(&writes).unwrap();
        let all: Vec<String> = tasks.iter().flat_map(|task| ids(&store, task)).collect();
        assert_eq!(all.first().map(String::as_str), Some(""));
        assert_eq!(all.last().map(String::as_str), Some("zzz"));
        assert_eq!(all.len(), 6);
    }
}
