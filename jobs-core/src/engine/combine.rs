//! Map-side combining: a task's buffer is sorted by key, and the job's
//! [`combine`](crate::Reduce::combine) folds each key's values before they reach the shuffle.
//!
//! A task combines a partition's buffer when it has grown to twice its size after the last
//! combine (and at least [`MIN_COMBINE_LEN`]), and once more when the task ends, so a counting
//! job keeps a few pairs per key instead of one per emit, while a job whose keys are all
//! distinct (where combining saves nothing) sorts at most twice as much as without it.

use crate::job::Reduce;

use super::{FailureRecord, FailureSite, panic};

/// Buffers shorter than this are not combined before their task ends.
pub(super) const MIN_COMBINE_LEN: usize = 4096;

/// Sorts `pairs` stably by key and, when `combine` is set, lets the job's combiner fold each
/// key's values. Returns a failure per key whose `combine` panicked; that key's values from
/// this buffer are dropped.
pub(super) fn sort_and_combine<J: Reduce>(
    job: &J,
    pairs: &mut Vec<(J::Key, J::Value)>,
    combine: bool,
) -> Vec<FailureRecord> {
    // Stable, so equal keys keep emit order (and combined values come before later emits).
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut failures = Vec::new();
    if !combine {
        return failures;
    }
    let mut combined = Vec::new();
    let mut values = Vec::new();
    let mut rest = std::mem::take(pairs).into_iter().peekable();
    while let Some((key, first)) = rest.next() {
        values.clear();
        values.push(first);
        while let Some((_, value)) = rest.next_if(|(next, _)| *next == key) {
            values.push(value);
        }
        if values.len() > 1
            && let Err(message) = panic::catch(|| job.combine(&key, &mut values))
        {
            let key = serde_json::to_string(&key).unwrap_or_else(|e| format!("<key not printable: {e}>"));
            failures.push(FailureRecord { site: FailureSite::Key { key }, message: format!("combine {message}") });
            continue;
        }
        // The last value takes the key itself; the others a clone.
        let last = values.pop();
        combined.extend(values.drain(..).map(|value| (key.clone(), value)));
        if let Some(last) = last {
            combined.push((key, last));
        }
    }
    *pairs = combined;
    failures
}

#[cfg(test)]
mod tests {
    use super::sort_and_combine;
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

    #[test]
    fn combining_folds_each_keys_values_in_key_order() {
        let mut pairs = vec![(2, 1), (1, 1), (2, 5), (3, 1), (1, 1), (2, 1)];
        let failures = sort_and_combine(&Sum, &mut pairs, true);
        assert!(failures.is_empty());
        assert_eq!(pairs, [(1, 2), (2, 7), (3, 1)]);
    }

    #[test]
    fn without_combining_the_sort_keeps_emit_order_within_a_key() {
        let mut pairs = vec![(2, 1), (1, 10), (2, 5), (1, 20)];
        assert!(sort_and_combine(&Sum, &mut pairs, false).is_empty());
        assert_eq!(pairs, [(1, 10), (1, 20), (2, 1), (2, 5)]);
    }

    #[test]
    fn a_panicking_combine_fails_its_key_only() {
        let mut pairs = vec![(13, 1), (13, 1), (14, 1), (14, 1)];
        let failures = sort_and_combine(&Sum, &mut pairs, true);
        assert_eq!(pairs, [(14, 2)]);
        assert_eq!(failures.len(), 1);
        assert!(failures[0].to_string().starts_with("reduce key 13: combine panicked"), "{}", failures[0]);
    }
}
