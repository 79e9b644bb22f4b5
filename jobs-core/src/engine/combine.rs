//! Map-side combining: the job's [`combine`](crate::Reduce::combine) folds each key's values
//! in a batch's partition buffer before they reach the shuffle.
//!
//! A worker combines a partition's buffer when it has grown to twice its size after the last
//! combine (and at least [`MIN_COMBINE_LEN`]), and once more when the batch ends, so a counting
//! job keeps a few values per key per batch instead of one per emit, while a job whose keys are
//! all distinct (where combining saves nothing) groups at most twice as much as without it.
//! Runs of different batches are not combined with each other here: a batch's run keeps its
//! place in task order, which is what makes the output independent of which worker mapped it.
//! Once every task is mapped, `task_fold.rs` folds each task's runs into one.

use crate::job::Reduce;

use crate::exec::FailureRecord;
use crate::exec::combine::combine_group;

use super::partition_buffer::PartitionBuffer;

/// Buffers shorter than this are not combined before their batch ends.
pub(super) const MIN_COMBINE_LEN: usize = 4096;

/// Lets the job's combiner fold each key's values in `buffer`, keeping their order. Returns a
/// failure per key whose `combine` panicked; that key's values from this buffer are dropped.
pub(super) fn combine_buffer<J: Reduce>(job: &J, buffer: &mut PartitionBuffer<J::Key, J::Value>) -> Vec<FailureRecord> {
    let (keys, values) = buffer.parts_mut();
    // Stable, so each key's values keep emit order (and combined values come before later emits).
    values.sort_by_key(|(index, _)| *index);
    let mut failures = Vec::new();
    let mut group = Vec::new();
    let mut rest = std::mem::take(values).into_iter().peekable();
    while let Some((index, first)) = rest.next() {
        group.clear();
        group.push(first);
        while let Some((_, value)) = rest.next_if(|(next, _)| *next == index) {
            group.push(value);
        }
        let key = &keys[index as usize].0;
        if let Err(failure) = combine_group(job, key, &mut group) {
            failures.push(failure);
            continue;
        }
        values.extend(group.drain(..).map(|value| (index, value)));
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::combine_buffer;
    use crate::engine::key_hash;
    use crate::engine::partition_buffer::{GroupedRun, PartitionBuffer};
    use crate::job::{Outcome, Output, Reduce, Values};

    /// Sums counts per key; panics combining key 13.
    struct Sum;

    impl Reduce for Sum {
        type Key = u32;
        type Value = u64;

        fn reduce(&self, key: u32, counts: Values<'_, u64>, out: &mut Output) -> Outcome {
            out.line(format!("{key} {}", counts.sum::<u64>()));
            Ok(())
        }

        const COMBINES: bool = true;

        fn combine(&self, key: &u32, counts: &mut Vec<u64>) {
            assert_ne!(*key, 13, "unlucky");
            let total = counts.iter().sum();
            *counts = vec![total];
        }
    }

    fn combined(pairs: &[(u32, u64)], combine: bool) -> (GroupedRun<u32, u64>, usize) {
        let mut buffer = PartitionBuffer::new();
        for &(key, value) in pairs {
            buffer.push(key_hash(&key), key, value);
        }
        let failures = if combine { combine_buffer(&Sum, &mut buffer) } else { Vec::new() };
        if let Some(failure) = failures.first() {
            assert!(failure.to_string().starts_with("reduce key 13: combine panicked"), "{failure}");
        }
        (buffer.into_run().unwrap(), failures.len())
    }

    fn pairs(run: &GroupedRun<u32, u64>) -> Vec<(u32, Vec<u64>)> {
        run.groups().map(|(key, values)| (*key, values.to_vec())).collect()
    }

    #[test]
    fn combining_folds_each_keys_values_in_key_order() {
        let (run, failures) = combined(&[(2, 1), (1, 1), (2, 5), (3, 1), (1, 1), (2, 1)], true);
        assert_eq!(failures, 0);
        assert_eq!(pairs(&run), [(1, vec![2]), (2, vec![7]), (3, vec![1])]);
    }

    #[test]
    fn without_combining_a_keys_values_keep_emit_order() {
        let (run, _) = combined(&[(2, 1), (1, 10), (2, 5), (1, 20)], false);
        assert_eq!(pairs(&run), [(1, vec![10, 20]), (2, vec![1, 5])]);
    }

    #[test]
    fn values_emitted_after_a_combine_follow_the_combined_ones() {
        let mut buffer = PartitionBuffer::new();
        for (key, value) in [(1u32, 1u64), (1, 2), (2, 3)] {
            buffer.push(key_hash(&key), key, value);
        }
        assert!(combine_buffer(&Sum, &mut buffer).is_empty());
        for (key, value) in [(2u32, 4u64), (1, 5)] {
            buffer.push(key_hash(&key), key, value);
        }
        assert_eq!(pairs(&buffer.into_run().unwrap()), [(1, vec![3, 5]), (2, vec![3, 4])]);
    }

    #[test]
    fn a_panicking_combine_fails_its_key_only() {
        let (run, failures) = combined(&[(13, 1), (13, 1), (14, 1), (14, 1)], true);
        assert_eq!(pairs(&run), [(14, vec![2])]);
        assert_eq!(failures, 1);
    }
}
