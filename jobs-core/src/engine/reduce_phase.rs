//! The reduce phase: merge each partition's sorted runs (in memory or spilled) into key
//! groups, reduce key by key, merge the partitions' lines by key.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::Mutex;

use crate::exec::reduce_one::{KeyReducer, ReducedKeys};
use crate::job::{Job, Reduce};

use super::group_merge::{GroupMerge, Run, merge_down, spilled_count};
use super::spill::{SpillDir, SpillError};
use super::{CancelToken, FailureRecord, MAX_REPORTED_FAILURES, Progress, budget};

type Runs<J> = Vec<Run<<J as Reduce>::Key, <J as Reduce>::Value>>;
/// What one partition produced: lines per key, in key order.
type PartitionOutput<J> = ReducedKeys<<J as Reduce>::Key>;
type PartitionResult<J> = Result<PartitionOutput<J>, SpillError>;

/// What the reduce phase produced.
pub(super) struct Reduced {
    pub(super) output: Vec<String>,
    pub(super) failures: Vec<FailureRecord>,
    pub(super) failure_count: u64,
    pub(super) keys_reduced: u64,
}

/// Reduces every partition on `threads` workers and merges their lines in key order; spilled
/// runs are read back within the reduce half of `max_memory`.
///
/// # Errors
/// A spilled run could not be read back.
pub(super) fn run<J: Job>(
    job: &J,
    partitions: Vec<Runs<J>>,
    cancel: &CancelToken,
    progress: &Progress,
    threads: usize,
    max_memory: u64,
    spill_dir: &SpillDir,
) -> Result<Reduced, SpillError> {
    let count = partitions.len();
    let together = threads.min(count.max(1));
    let fan_in = budget::merge_fan_in(max_memory, together);
    let most_spilled = partitions.iter().map(|runs| spilled_count(runs)).max().unwrap_or(0).min(fan_in);
    let read_buffer = budget::read_buffer_len(max_memory, most_spilled, together);
    let (work_tx, work_rx) = crossbeam_channel::unbounded();
    for (index, buffers) in partitions.into_iter().enumerate() {
        let _ = work_tx.send((index, buffers));
    }
    drop(work_tx);
    let results: Mutex<Vec<Option<PartitionResult<J>>>> =
        Mutex::new(std::iter::repeat_with(|| None).take(count).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.min(count.max(1)) {
            let work_rx = work_rx.clone();
            let results = &results;
            scope.spawn(move || {
                for (index, runs) in work_rx {
                    let output = merge_down(runs, fan_in, read_buffer, spill_dir)
                        .and_then(|runs| reduce_partition(job, runs, read_buffer, cancel, progress));
                    crate::sync::lock(results)[index] = Some(output);
                }
            });
        }
    });
    let mut outputs = Vec::with_capacity(count);
    for output in results.into_inner().unwrap_or_else(|p| p.into_inner()).into_iter().flatten() {
        outputs.push(output?);
    }
    Ok(merge(outputs))
}

fn reduce_partition<J: Job>(
    job: &J,
    runs: Runs<J>,
    read_buffer: usize,
    cancel: &CancelToken,
    progress: &Progress,
) -> Result<PartitionOutput<J>, SpillError> {
    let mut groups = GroupMerge::new(runs, read_buffer)?;
    let mut reducer = KeyReducer::new(job);
    while !cancel.is_canceled() {
        let Some((key, len)) = groups.next_group()? else { break };
        let mut values = groups.values();
        let Some(first) = values.next() else { continue };
        // Whatever reduce leaves unread of this key is skipped by the next `next_group`.
        reducer.reduce_key(key, first, &mut values, len);
    }
    let result = reducer.finish();
    progress.add_keys_reduced(result.keys_reduced);
    Ok(result)
}

/// Merges the partitions' key-sorted lines (keys are disjoint across partitions) into one
/// key-sorted output.
fn merge<K: Ord>(outputs: Vec<ReducedKeys<K>>) -> Reduced {
    let line_count = outputs.iter().flat_map(|o| &o.lines).map(|(_, lines)| lines.len()).sum();
    let mut reduced =
        Reduced { output: Vec::with_capacity(line_count), failures: Vec::new(), failure_count: 0, keys_reduced: 0 };
    let mut sources = Vec::with_capacity(outputs.len());
    let mut failures = Vec::new();
    for output in outputs {
        reduced.failure_count += output.failure_count;
        reduced.keys_reduced += output.keys_reduced;
        failures.extend(output.failures);
        sources.push(output.lines.into_iter());
    }
    let mut heads = BinaryHeap::with_capacity(sources.len());
    for (source, lines) in sources.iter_mut().enumerate() {
        if let Some((key, lines)) = lines.next() {
            heads.push(Reverse(Head { key, lines, source }));
        }
    }
    while let Some(Reverse(head)) = heads.pop() {
        reduced.output.extend(head.lines);
        if let Some((key, lines)) = sources[head.source].next() {
            heads.push(Reverse(Head { key, lines, source: head.source }));
        }
    }
    failures.sort_by(|a, b| a.0.cmp(&b.0));
    reduced.failures = failures.into_iter().take(MAX_REPORTED_FAILURES).map(|(_, f)| f).collect();
    reduced
}

/// The next key of one partition, ordered by key alone.
struct Head<K> {
    key: K,
    lines: Vec<String>,
    source: usize,
}

impl<K: Ord> PartialEq for Head<K> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
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
        self.key.cmp(&other.key)
    }
}
