//! A sorted run held in memory: each key once, in key order, with its values in the order
//! they were emitted. The local engine's map workers make one from each partition buffer
//! (`engine/partition_buffer.rs`); the cluster's reduce workers from each chunk they receive.
//! Spill files (`spill.rs`) store the same shape, and `group_merge.rs` merges both.

/// Pairs sorted by key: each key once, in order, with its values in emit order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GroupedRun<K, V> {
    /// Each key, in order, with how many of `values` are its.
    pub(crate) keys: Vec<(K, usize)>,
    /// The values, key by key.
    pub(crate) values: Vec<V>,
}

impl<K, V> GroupedRun<K, V> {
    /// How many values it holds.
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// The bytes its own arrays take (the heap data of keys and values aside).
    pub(crate) fn array_bytes(&self) -> usize {
        self.keys.capacity() * size_of::<(K, usize)>() + self.values.capacity() * size_of::<V>()
    }

    /// Each key with its values, in order.
    pub(crate) fn groups(&self) -> impl Iterator<Item = (&K, &[V])> {
        let mut values = self.values.as_slice();
        self.keys.iter().map(move |(key, count)| {
            let (group, rest) = values.split_at(*count);
            values = rest;
            (key, group)
        })
    }
}

impl<K: Ord, V> GroupedRun<K, V> {
    /// The run of `pairs`, which are sorted (stably) by key: equal neighbours become one key.
    #[cfg_attr(not(feature = "timely"), allow(dead_code, reason = "the cluster (feature `timely`) uses it"))]
    pub(crate) fn from_sorted_pairs(pairs: Vec<(K, V)>) -> Self {
        let mut run = GroupedRun { keys: Vec::new(), values: Vec::with_capacity(pairs.len()) };
        for (key, value) in pairs {
            match run.keys.last_mut() {
                Some((last, count)) if *last == key => *count += 1,
                _ => run.keys.push((key, 1)),
            }
            run.values.push(value);
        }
        run
    }
}

#[cfg(test)]
mod tests {
    use super::GroupedRun;

    #[test]
    fn from_sorted_pairs_counts_each_run_of_equal_keys() {
        let run = GroupedRun::from_sorted_pairs(vec![("a", 1), ("a", 2), ("b", 3), ("c", 4), ("c", 5), ("c", 6)]);
        assert_eq!(run.keys, [("a", 2), ("b", 1), ("c", 3)]);
        assert_eq!(run.values, [1, 2, 3, 4, 5, 6]);
        let groups: Vec<_> = run.groups().map(|(k, vs)| (*k, vs.to_vec())).collect();
        assert_eq!(groups, [("a", vec![1, 2]), ("b", vec![3]), ("c", vec![4, 5, 6])]);
        assert_eq!(run.len(), 6);
    }
}
