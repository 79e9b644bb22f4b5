//! The plan: each listed model's kind cut into `shards` contiguous id ranges, one map task per
//! (model, shard), numbered in model order, then id order: the order values reach reduce.
//!
//! The tasks' sizes come first, from each kind's count ([`sizes`]), for progress. The ranges
//! are cut while the map runs ([`cut`], on a thread of its own): a redb store cuts them from
//! its id index ([`Store::split_each`]), a walk over every id, and hands over each range as
//! soon as the walk reaches its end, so the first tasks are mapped while the rest are cut.

use std::ops::ControlFlow;

use crate::exec::ShardProgress;
use crate::store::{KeyRange, Store, StoreError};

/// One shard of one listed model.
pub(super) struct MapTask {
    /// The task's position in (model, shard) order.
    pub(super) index: usize,
    /// The model's position in the job's `models = [...]`.
    pub(super) model: usize,
    pub(super) kind: &'static str,
    /// The ids it covers. The first and last shard of a kind are open-ended, so entities
    /// stored after the plan are still read, by whichever shard their id falls in.
    pub(super) range: KeyRange,
}

/// Each task's kind, shard and size, in task order, from each kind's count: what progress
/// shows before the ranges are cut.
///
/// # Errors
/// The store could not count a kind.
pub(super) fn sizes(
    store: &dyn Store,
    kinds: &[&'static str],
    shards: usize,
) -> Result<Vec<ShardProgress>, StoreError> {
    let mut tasks = Vec::with_capacity(kinds.len() * shards);
    for kind in kinds {
        let count = store.count(kind)?;
        let sizes = crate::store::range_sizes(count, shards);
        tasks.extend(sizes.into_iter().enumerate().map(|(shard, len)| ShardProgress::new(kind, shard, len)));
    }
    Ok(tasks)
}

/// Cuts `shards` tasks for each of `kinds` and hands each to `each`, in (model, shard) order,
/// until `each` breaks.
///
/// # Errors
/// The store could not split a kind; the tasks handed over before are valid.
pub(super) fn cut(
    store: &dyn Store,
    kinds: &[&'static str],
    shards: usize,
    each: &mut dyn FnMut(MapTask) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    let mut index = 0;
    for (model, kind) in kinds.iter().enumerate() {
        let mut stopped = false;
        store.split_each(kind, shards, &mut |split| {
            let task = MapTask { index, model, kind, range: split.range };
            index += 1;
            let next = each(task);
            stopped = next.is_break();
            next
        })?;
        if stopped {
            break;
        }
    }
    Ok(())
}

/// Every task, cut at once.
#[cfg(test)]
pub(super) fn plan(store: &dyn Store, kinds: &[&'static str], shards: usize) -> Result<Vec<MapTask>, StoreError> {
    let mut tasks = Vec::with_capacity(kinds.len() * shards);
    cut(store, kinds, shards, &mut |task| {
        tasks.push(task);
        ControlFlow::Continue(())
    })?;
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
        assert_eq!(tasks.iter().map(|t| (t.index, t.model)).collect::<Vec<_>>()[3..5], [(3, 0), (4, 1)]);
        let sizes: Vec<u64> = sizes(&store, &["A", "B"], 4).unwrap().iter().map(|s| s.total).collect();
        assert_eq!(sizes[..4].iter().sum::<u64>(), 10);
        assert!(sizes[..4].iter().all(|&len| len == 2 || len == 3), "{sizes:?}");
        assert_eq!(sizes[4..], [0, 0, 0, 0]);
        let a: Vec<String> = tasks[..4].iter().flat_map(|task| ids(&store, task)).collect();
        assert_eq!(a, (0..10).map(|i| format!("{i:05}")).collect::<Vec<_>>());
        let held: Vec<u64> = tasks.iter().map(|task| ids(&store, task).len() as u64).collect();
        assert_eq!(held, sizes, "progress shows each task's size before its range is cut");
    }

    #[test]
    fn tasks_are_handed_over_in_order_until_the_taker_stops() {
        let store = store(&[("A", 10), ("B", 3)]);
        let mut taken = Vec::new();
        cut(&store, &["A", "B"], 4, &mut |task| {
            taken.push((task.index, task.model));
            if task.index == 5 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
        .unwrap();
        assert_eq!(taken, [(0, 0), (1, 0), (2, 0), (3, 0), (4, 1), (5, 1)]);
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
