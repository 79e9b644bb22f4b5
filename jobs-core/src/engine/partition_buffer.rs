//! One task's pairs for one shuffle partition, grouped by key as they arrive, and the sorted
//! run they become.
//!
//! A job emits the same key many times (an interaction id per state, a length per user), so
//! the buffer keeps each distinct key once, found by its hash (the one that also chose the
//! partition), and each value with the index of its key. A duplicate key is dropped as soon
//! as it arrives, so it costs no memory; when the task ends only the distinct keys are sorted,
//! and the values are ordered by their key's rank with a stable sort on integers, keeping emit
//! order within a key. That replaces a stable sort of every pair by key, and reduce merges
//! key groups rather than comparing the key of every value.

use hashbrown::HashTable;

// The sorted run a buffer becomes is shared with the spill and the merge, in the execution core.
pub(super) use crate::exec::grouped_run::GroupedRun;

/// Distinct keys with their hashes; a key's index is its position.
pub(super) type HashedKeys<K> = [(K, u64)];
/// Values in emit order, each with its key's index.
pub(super) type IndexedValues<V> = Vec<(u32, V)>;

/// A task's pairs for one partition, in emit order, grouped by key.
pub(super) struct PartitionBuffer<K, V> {
    /// Indices into `keys`, by key hash.
    table: HashTable<u32>,
    /// Each distinct key, with its hash.
    keys: Vec<(K, u64)>,
    /// The values in emit order, each with the index of its key.
    values: Vec<(u32, V)>,
}

impl<K: Ord, V> PartitionBuffer<K, V> {
    pub(super) fn new() -> Self {
        PartitionBuffer { table: HashTable::new(), keys: Vec::new(), values: Vec::new() }
    }

    /// Adds one pair; `hash` is the key's [`key_hash`](super::key_hash).
    #[inline]
    pub(super) fn push(&mut self, hash: u64, key: K, value: V) {
        let keys = &self.keys;
        let index = match self.table.find(hash, |&index| keys[index as usize].0 == key) {
            Some(&index) => index,
            None => self.insert_key(hash, key),
        };
        self.values.push((index, value));
    }

    fn insert_key(&mut self, hash: u64, key: K) -> u32 {
        // More distinct keys than u32 indices would need 4 G pairs in one task's buffer,
        // which the memory budget spills long before.
        let index = u32::try_from(self.keys.len()).unwrap_or(u32::MAX);
        self.keys.push((key, hash));
        let keys = &self.keys;
        self.table.insert_unique(hash, index, |&index| keys[index as usize].1);
        index
    }

    /// How many values it holds.
    pub(super) fn len(&self) -> usize {
        self.values.len()
    }

    /// How many distinct keys it holds.
    pub(super) fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// The bytes its own arrays take (the heap data of keys and values aside).
    pub(super) fn array_bytes(&self) -> usize {
        self.values.capacity() * size_of::<(u32, V)>()
            + self.keys.capacity() * size_of::<(K, u64)>()
            + self.table.capacity() * (size_of::<u32>() + 1)
    }

    /// The keys, and the values with their key indices, for combining.
    pub(super) fn parts_mut(&mut self) -> (&HashedKeys<K>, &mut IndexedValues<V>) {
        (&self.keys, &mut self.values)
    }

    /// Sorts it into a run; `None` when it holds nothing.
    #[cfg(test)]
    pub(super) fn into_run(mut self) -> Option<GroupedRun<K, V>> {
        self.take_run(0)
    }

    /// Sorts what it holds into a run (`None` when it holds nothing) and is left empty, keeping
    /// its arrays for the next pairs if they take at most `keep_bytes`: a buffer refilled chunk
    /// after chunk then reuses memory already mapped, rather than growing anew into pages the
    /// kernel must fault in and zero.
    pub(super) fn take_run(&mut self, keep_bytes: usize) -> Option<GroupedRun<K, V>> {
        self.table.clear();
        let keys = self.keys.drain(..);
        if self.values.is_empty() {
            return None;
        }
        let values = &mut self.values;
        let mut keys: Vec<(usize, K)> = keys.map(|(key, _)| key).enumerate().collect();
        // Keys are distinct, so an unstable sort gives the one order there is.
        keys.sort_unstable_by(|a, b| a.1.cmp(&b.1));
        let mut rank = vec![0u32; keys.len()];
        for (position, (index, _)) in keys.iter().enumerate() {
            rank[*index] = position as u32;
        }
        let mut counts = vec![0usize; keys.len()];
        for (index, _) in values.iter_mut() {
            *index = rank[*index as usize];
            counts[*index as usize] += 1;
        }
        // Stable, so each key's values keep emit order.
        values.sort_by_key(|(rank, _)| *rank);
        let keys = keys.into_iter().zip(counts).filter(|(_, count)| *count > 0).map(|((_, key), n)| (key, n));
        let run = GroupedRun { keys: keys.collect(), values: values.drain(..).map(|(_, value)| value).collect() };
        if self.array_bytes() > keep_bytes {
            *self = PartitionBuffer::new();
        }
        Some(run)
    }
}

#[cfg(test)]
mod tests {
    use super::{GroupedRun, PartitionBuffer};
    use crate::engine::key_hash;

    fn run_of(pairs: &[(&'static str, u32)]) -> Option<GroupedRun<&'static str, u32>> {
        let mut buffer = PartitionBuffer::new();
        for &(key, value) in pairs {
            buffer.push(key_hash(&key), key, value);
        }
        assert_eq!(buffer.len(), pairs.len());
        buffer.into_run()
    }

    #[test]
    fn keys_come_sorted_once_each_with_their_values_in_emit_order() {
        let run = run_of(&[("b", 1), ("a", 2), ("b", 3), ("c", 4), ("a", 5), ("b", 6)]).unwrap();
        assert_eq!(run.keys, [("a", 2), ("b", 3), ("c", 1)]);
        assert_eq!(run.values, [2, 5, 1, 3, 6, 4]);
        let groups: Vec<_> = run.groups().map(|(k, vs)| (*k, vs.to_vec())).collect();
        assert_eq!(groups, [("a", vec![2, 5]), ("b", vec![1, 3, 6]), ("c", vec![4])]);
    }

    #[test]
    fn it_equals_a_stable_sort_of_the_pairs() {
        let pairs: Vec<(&'static str, u32)> =
            (0..500u32).map(|i| (["x", "y", "z", "w", "v"][(i * 7 % 5) as usize], i)).collect();
        let mut sorted = pairs.clone();
        sorted.sort_by_key(|(key, _)| *key);
        let run = run_of(&pairs).unwrap();
        assert_eq!(run, GroupedRun::from_sorted_pairs(sorted));
        // By hand: i * 7 % 5 takes each of the five keys 100 times; "v" (index 4) first at
        // i = 2, then every 5th.
        assert_eq!(run.keys, [("v", 100), ("w", 100), ("x", 100), ("y", 100), ("z", 100)]);
        assert_eq!(run.values[..3], [2, 7, 12]);
    }

    #[test]
    fn a_buffer_refilled_after_its_run_was_taken_keeps_its_arrays_within_the_limit() {
        let mut buffer = PartitionBuffer::new();
        for (key, value) in [("b", 1), ("a", 2), ("b", 3)] {
            buffer.push(key_hash(&key), key, value);
        }
        let first = buffer.take_run(usize::MAX).unwrap();
        assert_eq!(first.keys, [("a", 1), ("b", 2)]);
        assert_eq!(first.values, [2, 1, 3]);
        assert_eq!((buffer.len(), buffer.key_count()), (0, 0));
        let kept = buffer.array_bytes();
        assert!(kept > 0);
        // Refilled, it starts from nothing: no key or value of the first run is left in it.
        for (key, value) in [("c", 4), ("b", 5)] {
            buffer.push(key_hash(&key), key, value);
        }
        assert_eq!(buffer.array_bytes(), kept, "it grew again though its arrays had room");
        let second = buffer.take_run(0).unwrap();
        assert_eq!(second.keys, [("b", 1), ("c", 1)]);
        assert_eq!(second.values, [5, 4]);
        assert_eq!(buffer.array_bytes(), 0, "past the limit it lets its arrays go");
        assert!(buffer.take_run(usize::MAX).is_none());
    }

    #[test]
    fn an_empty_buffer_makes_no_run() {
        assert_eq!(run_of(&[]), None);
    }
}
