//! Merges a partition's key-sorted runs (one per map task, in task order) into key groups.
//!
//! Map workers sort their own buffers, in parallel, so reduce only merges. The merge works a
//! group at a time: the heap holds one entry per run (its next key and the run's position),
//! and each pop moves a whole run of equal keys, so a job with few distinct keys pays about
//! one comparison per value, and a job with unique keys `log(runs)`. Ties in the heap go to
//! the earlier run, so a key's values come in task order, then emit order: the same order a
//! stable sort of the concatenated buffers gives.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::iter::Peekable;

/// The merge of key-sorted runs, yielding each key with all of its values.
pub(super) struct GroupMerge<K, V> {
    runs: Vec<Run<K, V>>,
    heap: BinaryHeap<Reverse<Head<K>>>,
}

/// What is left of one run: the value of its head pair (whose key sits in the heap), then the
/// pairs after it.
struct Run<K, V> {
    head_value: Option<V>,
    rest: Peekable<std::vec::IntoIter<(K, V)>>,
}

impl<K: Ord, V> GroupMerge<K, V> {
    /// Merges `runs`, each sorted by key (stably), given in task order.
    pub(super) fn new(runs: Vec<Vec<(K, V)>>) -> Self {
        let mut merge =
            GroupMerge { runs: Vec::with_capacity(runs.len()), heap: BinaryHeap::with_capacity(runs.len()) };
        for pairs in runs {
            let mut rest = pairs.into_iter().peekable();
            if let Some((key, value)) = rest.next() {
                merge.heap.push(Reverse(Head { key, run: merge.runs.len() }));
                merge.runs.push(Run { head_value: Some(value), rest });
            }
        }
        merge
    }

    /// Moves the next key's values, in order, into `values` (cleared first) and returns the
    /// key; `None` when every run is used up.
    pub(super) fn next_group(&mut self, values: &mut Vec<V>) -> Option<K> {
        values.clear();
        let Reverse(Head { key, run }) = self.heap.pop()?;
        self.take_group(&key, run, values);
        // Later runs holding the same key follow, in run order (the heap breaks ties by run).
        while let Some(Reverse(next)) = self.heap.peek()
            && next.key == key
        {
            let Some(Reverse(Head { run, .. })) = self.heap.pop() else { break };
            self.take_group(&key, run, values);
        }
        Some(key)
    }

    /// Moves run `run`'s values for `key` into `values`, and puts the run's next key on the heap.
    fn take_group(&mut self, key: &K, run: usize, values: &mut Vec<V>) {
        let source = &mut self.runs[run];
        values.extend(source.head_value.take());
        while let Some((_, value)) = source.rest.next_if(|(next, _)| next == key) {
            values.push(value);
        }
        if let Some((key, value)) = source.rest.next() {
            source.head_value = Some(value);
            self.heap.push(Reverse(Head { key, run }));
        }
    }
}

/// The next key of one run, ordered by key, then by run.
struct Head<K> {
    key: K,
    run: usize,
}

impl<K: Ord> PartialEq for Head<K> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<K: Ord> Eq for Head<K> {}

impl<K: Ord> PartialOrd for Head<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K: Ord> Ord for Head<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key).then(self.run.cmp(&other.run))
    }
}

#[cfg(test)]
mod tests {
    use super::GroupMerge;

    fn groups(runs: Vec<Vec<(u8, &'static str)>>) -> Vec<(u8, Vec<&'static str>)> {
        let mut merge = GroupMerge::new(runs);
        let mut values = Vec::new();
        let mut out = Vec::new();
        while let Some(key) = merge.next_group(&mut values) {
            out.push((key, values.clone()));
        }
        out
    }

    #[test]
    fn a_keys_values_come_in_run_order_then_run_position() {
        let runs = vec![
            vec![(1, "a1"), (1, "a2"), (3, "a3")],
            vec![],
            vec![(1, "c1"), (2, "c2"), (3, "c3"), (3, "c4")],
            vec![(0, "d1")],
        ];
        assert_eq!(
            groups(runs),
            vec![(0, vec!["d1"]), (1, vec!["a1", "a2", "c1"]), (2, vec!["c2"]), (3, vec!["a3", "c3", "c4"])]
        );
    }

    #[test]
    fn it_equals_a_stable_sort_of_the_concatenated_runs() {
        let runs: Vec<Vec<(u8, &'static str)>> =
            vec![vec![(2, "x"), (2, "y"), (5, "z")], vec![(2, "p"), (4, "q")], vec![(5, "r"), (5, "s")]];
        let mut sorted: Vec<_> = runs.iter().flatten().copied().collect();
        sorted.sort_by_key(|(key, _)| *key);
        let flat: Vec<_> = groups(runs).into_iter().flat_map(|(k, vs)| vs.into_iter().map(move |v| (k, v))).collect();
        assert_eq!(flat, sorted);
    }
}
