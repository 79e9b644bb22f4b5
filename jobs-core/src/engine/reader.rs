//! The reader: one pass over each listed model's entities, in id order, cut into batches of
//! stored bytes that map workers decode and map.
//!
//! Shards are positions, not key ranges: shard `s` of `n` over a kind of `count` entities holds
//! positions `s * count / n` up to `(s + 1) * count / n`, so shards differ in size by at most
//! one, cover the kind exactly once, and need no pass over the keys to find their boundaries
//! (the store's count is enough). One thread reads and copies bytes, which is cheap beside
//! decoding them; the workers do the rest. A batch never straddles two shards, and batches are
//! numbered in reading order, which is (model, shard, id) order: the order values reach reduce.

use std::ops::ControlFlow;

use crate::store::{KeyRange, Store, StoreError};

/// A batch is sent when it holds this many entities...
const BATCH_ENTITIES: usize = 256;
/// ...or this many bytes, whichever comes first.
const BATCH_BYTES: usize = 1 << 20;

/// One shard of one listed model.
pub(super) struct MapTask {
    /// The task's position in (model, shard) order.
    pub(super) index: usize,
    /// The model's position in the job's `models = [...]`.
    pub(super) model: usize,
    pub(super) kind: &'static str,
    /// The shard's number within its kind.
    pub(super) shard: usize,
    /// How many entities it holds (when the plan was made).
    pub(super) len: u64,
}

/// Plans `shards` tasks for each of `kinds`, in (model, shard) order.
///
/// # Errors
/// The store could not count a kind.
pub(super) fn plan(store: &dyn Store, kinds: &[&'static str], shards: usize) -> Result<Vec<MapTask>, StoreError> {
    let mut tasks = Vec::with_capacity(kinds.len() * shards);
    for (model, kind) in kinds.iter().enumerate() {
        let count = store.count(kind)?;
        for shard in 0..shards {
            let len = boundary(count, shards, shard + 1) - boundary(count, shards, shard);
            tasks.push(MapTask { index: tasks.len(), model, kind, shard, len });
        }
    }
    Ok(tasks)
}

/// The position where shard `shard` of `shards` starts in a kind of `count` entities.
fn boundary(count: u64, shards: usize, shard: usize) -> u64 {
    // u128 so that shard * count cannot overflow.
    ((u128::from(count) * shard as u128) / shards.max(1) as u128) as u64
}

/// Consecutive entities of one task: `ids[id_ends[i - 1]..id_ends[i]]` and
/// `bytes[byte_ends[i - 1]..byte_ends[i]]` are the i-th.
pub(super) struct Batch {
    /// Batches are numbered in reading order, from 0.
    pub(super) number: usize,
    /// The task it belongs to.
    pub(super) task: usize,
    ids: String,
    id_ends: Vec<usize>,
    bytes: Vec<u8>,
    byte_ends: Vec<usize>,
}

impl Batch {
    fn new(number: usize, task: usize) -> Self {
        Batch {
            number,
            task,
            ids: String::new(),
            id_ends: Vec::with_capacity(BATCH_ENTITIES),
            bytes: Vec::new(),
            byte_ends: Vec::with_capacity(BATCH_ENTITIES),
        }
    }

    /// This batch emptied, to be filled again as batch `number` of `task`: its buffers keep
    /// their capacity, so a reader that gets its batches back allocates (and the kernel
    /// zeroes) a megabyte per worker, not per batch.
    fn reuse(mut self, number: usize, task: usize) -> Self {
        self.number = number;
        self.task = task;
        self.ids.clear();
        self.id_ends.clear();
        self.bytes.clear();
        self.byte_ends.clear();
        self
    }

    fn push(&mut self, id: &str, bytes: &[u8]) {
        self.ids.push_str(id);
        self.id_ends.push(self.ids.len());
        self.bytes.extend_from_slice(bytes);
        self.byte_ends.push(self.bytes.len());
    }

    fn is_full(&self) -> bool {
        self.id_ends.len() >= BATCH_ENTITIES || self.bytes.len() >= BATCH_BYTES
    }

    /// Its entities, as (id, stored bytes), in id order.
    pub(super) fn entities(&self) -> impl Iterator<Item = (&str, &[u8])> {
        let ids = self.id_ends.iter().scan(0, |start, &end| Some(&self.ids[std::mem::replace(start, end)..end]));
        let bytes = self.byte_ends.iter().scan(0, |start, &end| Some(&self.bytes[std::mem::replace(start, end)..end]));
        ids.zip(bytes)
    }
}

/// Reads every task's entities, in task order, and hands them to `send` in batches; stops
/// when `stop` says so or `send` fails (every worker is gone). Batches are filled in ones
/// `spare` hands back when it has any.
///
/// # Errors
/// The store could not be read.
pub(super) fn read(
    store: &dyn Store,
    tasks: &[MapTask],
    stop: &dyn Fn() -> bool,
    spare: &dyn Fn() -> Option<Batch>,
    send: &mut dyn FnMut(Batch) -> bool,
) -> Result<(), StoreError> {
    let next = |number: usize, task: usize| match spare() {
        Some(batch) => batch.reuse(number, task),
        None => Batch::new(number, task),
    };
    let mut number = 0;
    let mut first = 0;
    while let Some(task) = tasks.get(first) {
        let kind_tasks: Vec<&MapTask> = tasks[first..].iter().take_while(|t| t.model == task.model).collect();
        first += kind_tasks.len();
        let mut current = 0;
        // The position where the current task ends; entities past the last one (the kind
        // grew since it was counted) go to the last task.
        let mut task_end = kind_tasks[0].len;
        let mut position = 0;
        let mut batch = next(number, kind_tasks[0].index);
        let mut sent_all = true;
        store.scan(task.kind, &KeyRange::all(), &mut |id, bytes| {
            if stop() {
                sent_all = false;
                return ControlFlow::Break(());
            }
            while position >= task_end && current + 1 < kind_tasks.len() {
                current += 1;
                task_end += kind_tasks[current].len;
                if !batch.id_ends.is_empty() {
                    number += 1;
                    if !send(std::mem::replace(&mut batch, next(number, kind_tasks[current].index))) {
                        sent_all = false;
                        return ControlFlow::Break(());
                    }
                } else {
                    batch.task = kind_tasks[current].index;
                }
            }
            batch.push(id, bytes);
            position += 1;
            if batch.is_full() {
                number += 1;
                if !send(std::mem::replace(&mut batch, next(number, kind_tasks[current].index))) {
                    sent_all = false;
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        })?;
        if !sent_all {
            return Ok(());
        }
        if !batch.id_ends.is_empty() {
            number += 1;
            if !send(batch) {
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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

    /// Every batch as (number, task, ids).
    fn batches(store: &MemoryStore, kinds: &[&'static str], shards: usize) -> Vec<(usize, usize, Vec<String>)> {
        let tasks = plan(store, kinds, shards).unwrap();
        let mut out = Vec::new();
        read(store, &tasks, &|| false, &|| None, &mut |batch| {
            out.push((batch.number, batch.task, batch.entities().map(|(id, _)| id.to_owned()).collect()));
            true
        })
        .unwrap();
        out
    }

    #[test]
    fn shards_are_positions_of_sizes_differing_by_at_most_one() {
        let store = store(&[("A", 10), ("B", 0)]);
        let tasks = plan(&store, &["A", "B"], 4).unwrap();
        let lens: Vec<u64> = tasks.iter().map(|t| t.len).collect();
        assert_eq!(lens, [2, 3, 2, 3, 0, 0, 0, 0]);
        assert_eq!(tasks.iter().map(|t| (t.model, t.shard)).collect::<Vec<_>>()[3..5], [(0, 3), (1, 0)]);
    }

    #[test]
    fn batches_follow_task_order_and_never_straddle_tasks() {
        let store = store(&[("A", 600), ("B", 3)]);
        let batches = batches(&store, &["A", "B"], 2);
        let tasks: Vec<usize> = batches.iter().map(|(_, task, _)| *task).collect();
        // 300 entities per shard of A: a full batch of 256, then 44; then B's shards of 1 and 2.
        assert_eq!(tasks, [0, 0, 1, 1, 2, 3]);
        assert_eq!(batches.iter().map(|(_, _, ids)| ids.len()).collect::<Vec<_>>(), [256, 44, 256, 44, 1, 2]);
        assert_eq!(batches.iter().map(|(number, _, _)| *number).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
        let ids: Vec<&String> = batches.iter().flat_map(|(_, _, ids)| ids).collect();
        assert_eq!(ids.len(), 603);
        assert!(ids[..600].windows(2).all(|w| w[0] < w[1]), "A's ids in order");
        assert_eq!(batches[1].2.last().map(String::as_str), Some("00299"));
        assert_eq!(batches[2].2.first().map(String::as_str), Some("00300"));
    }

    #[test]
    fn batches_handed_back_are_refilled_with_nothing_of_their_old_contents() {
        let store = store(&[("A", 600)]);
        let tasks = plan(&store, &["A"], 2).unwrap();
        let fresh = batches(&store, &["A"], 2);
        // A spare full of another batch's entities, handed back before every new batch.
        let mut used = Batch::new(99, 99);
        for i in 0..300 {
            used.push(&format!("old{i}"), &[0xee; 64]);
        }
        let spare = std::cell::RefCell::new(Some(used));
        let mut refilled = Vec::new();
        read(&store, &tasks, &|| false, &|| spare.borrow_mut().take(), &mut |batch| {
            refilled.push((batch.number, batch.task, batch.entities().map(|(id, _)| id.to_owned()).collect()));
            // Each stored value is one byte; the old ones were 64.
            assert!(batch.entities().all(|(_, bytes)| bytes.len() == 1), "old bytes in batch {}", batch.number);
            *spare.borrow_mut() = Some(batch);
            true
        })
        .unwrap();
        assert_eq!(refilled, fresh);
    }

    #[test]
    fn empty_shards_get_no_batch_and_the_reader_stops_when_asked() {
        let store = store(&[("A", 2)]);
        let batches = batches(&store, &["A"], 4);
        assert_eq!(batches.iter().map(|(_, task, ids)| (*task, ids.len())).collect::<Vec<_>>(), [(1, 1), (3, 1)]);
        let tasks = plan(&store, &["A"], 1).unwrap();
        let mut sent = 0;
        read(&store, &tasks, &|| true, &|| None, &mut |_| {
            sent += 1;
            true
        })
        .unwrap();
        assert_eq!(sent, 0);
    }
}
