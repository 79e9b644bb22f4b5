//! Map-side combining, the rule every engine applies: a key's values from one map task,
//! folded by the job's [`combine`](crate::Reduce::combine), a panic failing the key.

use crate::job::Reduce;

use super::panic;
use super::report::{FailureRecord, FailureSite};

/// Lets the job fold `values`, some of `key`'s values from one map task, in emit order.
/// A single value is left as it is.
///
/// # Errors
/// `combine` panicked: the key's failure, to be recorded; its values are to be dropped.
pub(crate) fn combine_group<J: Reduce>(job: &J, key: &J::Key, values: &mut Vec<J::Value>) -> Result<(), FailureRecord> {
    if values.len() < 2 {
        return Ok(());
    }
    panic::catch(|| job.combine(key, values))
        .map_err(|message| FailureRecord { site: FailureSite::key(key), message: format!("combine {message}") })
}

/// Sorts `pairs` stably by key and, when `combine` is set, folds each key's values with
/// [`combine_group`]; a key whose `combine` panics is dropped and returned as a failure.
pub(crate) fn sort_and_combine<J: Reduce>(
    job: &J,
    pairs: &mut Vec<(J::Key, J::Value)>,
    combine: bool,
) -> Vec<FailureRecord> {
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut failures = Vec::new();
    if !combine {
        return failures;
    }
    let mut combined = Vec::with_capacity(pairs.len());
    let mut values = Vec::new();
    let mut rest = std::mem::take(pairs).into_iter().peekable();
    while let Some((key, first)) = rest.next() {
        values.clear();
        values.push(first);
        while let Some((_, value)) = rest.next_if(|(next, _)| *next == key) {
            values.push(value);
        }
        if let Err(failure) = combine_group(job, &key, &mut values) {
            failures.push(failure);
            continue;
        }
        let last = values.pop();
        combined.extend(values.drain(..).map(|value| (key.clone(), value)));
        if let Some(last) = last {
            combined.push((key, last));
        }
    }
    *pairs = combined;
    failures
}
