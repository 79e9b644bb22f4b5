//! What workers send each other: the plan, shuffle shipments, and the parts gathered to
//! process 0. Keys and values travel as MessagePack bytes, so any `JobKey`/`JobValue` that
//! round-trips through serde crosses processes, and a bad payload is an error, not a panic.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::context::Counters;
use crate::exec::FailureRecord;
use crate::store::Split;

/// One map task: one shard of one listed model. Tasks are numbered in model order, then id
/// order, exactly as the local engine numbers them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct PlannedTask {
    /// The model's position in the job's `models = [...]`.
    pub(super) model: usize,
    /// The shard's id range.
    pub(super) split: Split,
}

/// A chunk of one map task's pairs bound for one reduce worker, sorted by key (stably).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Shipment {
    /// The worker that reduces these keys.
    pub(super) worker: u32,
    /// The map task that emitted them.
    pub(super) task: u32,
    /// The chunk's position among the task's chunks for that worker.
    pub(super) chunk: u32,
    /// MessagePack of `Vec<(Key, Value)>`.
    pub(super) pairs: Vec<u8>,
}

/// What a worker reports to process 0.
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum Part<K> {
    /// One map task's counts.
    Task(TaskSummary),
    /// One worker's reduced keys.
    Reduced(ReducedPart<K>),
}

/// One map task's counters, failures and counts.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct TaskSummary {
    pub(super) task: u32,
    pub(super) counters: Counters,
    /// The task's first failures (entities, and keys whose `combine` panicked).
    pub(super) failures: Vec<FailureRecord>,
    pub(super) failure_count: u64,
    pub(super) entities_read: u64,
    pub(super) pairs_emitted: u64,
    /// Pairs sent to the reducers: `pairs_emitted` less what the combiner folded away.
    pub(super) pairs_shipped: u64,
    pub(super) writes_committed: u64,
    /// The task stopped early because the run was canceled.
    pub(super) canceled: bool,
    /// The store failed: the run fails with this error.
    pub(super) store_error: Option<String>,
}

/// One worker's reduce output: lines per key, in key order (none from process 0's own
/// workers, whose text stays in process 0 for the final merge).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ReducedPart<K> {
    pub(super) lines: Vec<(K, Vec<String>)>,
    pub(super) failures: Vec<(K, FailureRecord)>,
    pub(super) failure_count: u64,
    pub(super) keys_reduced: u64,
    /// Reduce stopped early because the run was canceled.
    pub(super) canceled: bool,
    /// A shipment did not decode: the run fails with this error.
    pub(super) error: Option<String>,
    /// The worker's spill files could not be written or read: the run fails with this error.
    pub(super) spill_error: Option<String>,
    /// Bytes the worker spilled because its received pairs outgrew its share of the budget.
    pub(super) spilled_bytes: u64,
}

impl<K> Default for ReducedPart<K> {
    fn default() -> Self {
        ReducedPart {
            lines: Vec::new(),
            failures: Vec::new(),
            failure_count: 0,
            keys_reduced: 0,
            canceled: false,
            error: None,
            spill_error: None,
            spilled_bytes: 0,
        }
    }
}

/// Encodes `value` as MessagePack (arrays, not maps: the two ends run the same program).
pub(super) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    rmp_serde::to_vec(value).map_err(|e| format!("cannot encode for the shuffle: {e}"))
}

/// Decodes what [`encode`] wrote.
pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    rmp_serde::from_slice(bytes).map_err(|e| format!("cannot decode what another worker sent: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip() {
        let part: Part<String> = Part::Reduced(ReducedPart {
            lines: vec![("k".to_owned(), vec!["line".to_owned()])],
            keys_reduced: 1,
            ..ReducedPart::default()
        });
        let back: Part<String> = decode(&encode(&part).unwrap()).unwrap();
        let Part::Reduced(back) = back else { panic!("not a reduced part") };
        assert_eq!(back.lines, [("k".to_owned(), vec!["line".to_owned()])]);
        assert!(decode::<Part<String>>(b"\xc1garbage").unwrap_err().starts_with("cannot decode"));
    }
}
