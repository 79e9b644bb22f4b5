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
