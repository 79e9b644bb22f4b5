//! The reduce phase: merge each partition's sorted runs (in memory or spilled) into key
//! groups, reduce key by key, then merge the partitions' lines by key, into the report or
//! straight to the run's [`OutputSink`].
//!
//! Each partition writes its lines to a spool of report text (`exec/report_text.rs`) as
//! `reduce` writes them: in memory while all partitions' text stays within a quarter of the
//! budget, in a file of its own past it, so with a sink the report is never held whole, not
//! even a line of it.

use std::cmp::Reverse;
use std::sync::{Arc, Mutex};

use crate::exec::OutputSink;
use crate::exec::reduce_one::{KeyReducer, ReducedKeys};
use crate::exec::report_text::{self, HeldText, MergeError, PartitionText, TextSpool};
use crate::job::{Job, Reduce};

use super::group_merge::{GroupMerge, Run, merge_down, spilled_count};
use super::spill::{SpillDir, SpillError};
use super::{CancelToken, FailureRecord, MAX_REPORTED_FAILURES, Progress, RunError, budget};

type Runs<J> = Vec<Run<<J as Reduce>::Key, <J as Reduce>::Value>>;

/// What one partition produced: its text, and its failures and counts.
type PartitionOutput<K> = (PartitionText, ReducedKeys<K>);
/// Each partition's result, in partition order, as the workers finish them.
type PartitionResults<K> = Mutex<Vec<Option<Result<PartitionOutput<K>, SpillError>>>>;

/// What the reduce phase produced.
pub(super) struct Reduced {
    /// The report lines in key order; empty when they went to a sink.
    pub(super) output: Vec<String>,
    pub(super) failures: Vec<FailureRecord>,
    pub(super) failure_count: u64,
    pub(super) keys_reduced: u64,
    /// Canceled before its lines were merged: it printed nothing. Once they are merging, a
    /// cancel comes too late, so a run's report is never half printed.
    pub(super) canceled: bool,
}

/// How the reduce phase runs: on how many threads, within what memory, and where its lines go.
pub(super) struct ReduceSetup<'a> {
    pub(super) threads: usize,
    pub(super) max_memory: u64,
    pub(super) spill_dir: &'a Arc<SpillDir>,
    /// The run's sink; the lines are gathered in [`Reduced::output`] without one.
    pub(super) sink: Option<&'a OutputSink>,
}

/// Reduces every partition on `setup.threads` workers and merges their lines in key order;
/// spilled runs are read back within the reduce half of the budget.
///
/// # Errors
/// A spilled run could not be read back, the report text could not be spooled or read back,
/// or the sink refused it.
pub(super) fn run<J: Job>(
    job: &J,
    partitions: Vec<Runs<J>>,
    cancel: &CancelToken,
    progress: &Progress,
    setup: &ReduceSetup<'_>,
) -> Result<Reduced, RunError> {
    let count = partitions.len();
    let together = setup.threads.min(count.max(1));
    let fan_in = budget::merge_fan_in(setup.max_memory, together);
    let most_spilled = partitions.iter().map(|runs| spilled_count(runs)).max().unwrap_or(0).min(fan_in);
    let read_buffer = budget::read_buffer_len(setup.max_memory, most_spilled, together);
    // The biggest partitions first, so that no thread is left with a big one at the end
    // while the others idle (a job with a few big keys has some partitions with two or three
    // of them, and some with none).
    let mut partitions: Vec<(usize, Runs<J>)> = partitions.into_iter().enumerate().collect();
    partitions.sort_by_cached_key(|(index, runs)| (Reverse(reduce_weight(runs)), *index));
    let (work_tx, work_rx) = crossbeam_channel::unbounded();
    for partition in partitions {
        let _ = work_tx.send(partition);
    }
    drop(work_tx);
    let held = HeldText::for_run(setup.max_memory, setup.sink.is_some());
    let results: PartitionResults<J::Key> = Mutex::new(std::iter::repeat_with(|| None).take(count).collect());
    std::thread::scope(|scope| {
        for _ in 0..together {
            let work_rx = work_rx.clone();
            let (results, held) = (&results, &held);
            scope.spawn(move || {
                for (index, runs) in work_rx {
                    let spool = TextSpool::new(Arc::clone(held), Arc::clone(setup.spill_dir));
                    let output = merge_down(runs, fan_in, read_buffer, setup.spill_dir)
                        .and_then(|runs| reduce_partition(job, runs, read_buffer, cancel, progress, spool));
                    crate::sync::lock(results)[index] = Some(output);
                }
            });
        }
    });
    tracing::debug!("reduced every partition; merging their lines");
    let mut outputs = Vec::with_capacity(count);
    for output in results.into_inner().unwrap_or_else(|p| p.into_inner()).into_iter().flatten() {
        outputs.push(output?);
    }
    merge(outputs, setup.sink, cancel)
}

/// A rough measure of a partition's reduce work: its values in memory, and its spilled
/// bytes at one value per [`SPILLED_BYTES_PER_VALUE`].
fn reduce_weight<K, V>(runs: &[Run<K, V>]) -> u64 {
    runs.iter()
        .map(|run| match run {
            Run::Memory(run) => run.len() as u64,
            Run::Spilled(run) => run.bytes() / SPILLED_BYTES_PER_VALUE,
        })
        .sum()
}

/// About what a pair takes in a spill file (a short key and value, MessagePack-encoded),
/// to weigh spilled runs against runs in memory.
const SPILLED_BYTES_PER_VALUE: u64 = 32;

fn reduce_partition<J: Job>(
    job: &J,
    runs: Runs<J>,
    read_buffer: usize,
    cancel: &CancelToken,
    progress: &Progress,
    spool: TextSpool,
) -> Result<PartitionOutput<J::Key>, SpillError> {
    let mut groups = GroupMerge::new(runs, read_buffer)?;
    let mut reducer = KeyReducer::spooling(job, spool);
    while !cancel.is_canceled() {
        let Some((key, len)) = groups.next_group()? else { break };
        let mut values = groups.values();
        let Some(first) = values.next() else { continue };
        // Whatever reduce leaves unread of this key is skipped by the next `next_group`.
        reducer.reduce_key(key, first, &mut values, len)?;
    }
    let (reduced, text) = reducer.finish()?;
    progress.add_keys_reduced(reduced.keys_reduced);
    Ok((text.unwrap_or(PartitionText::Memory(Vec::new())), reduced))
}

/// Merges the partitions' key-sorted text (keys are disjoint across partitions) into one
/// key-sorted report, handed to `sink` a piece at a time, or gathered as lines. A run
/// canceled by now prints nothing.
fn merge<K: Ord + serde::de::DeserializeOwned>(
    outputs: Vec<PartitionOutput<K>>,
    sink: Option<&OutputSink>,
    cancel: &CancelToken,
) -> Result<Reduced, RunError> {
    let mut reduced =
        Reduced { output: Vec::new(), failures: Vec::new(), failure_count: 0, keys_reduced: 0, canceled: false };
    let mut texts = Vec::with_capacity(outputs.len());
    let mut failures = Vec::new();
    for (text, output) in outputs {
        reduced.failure_count += output.failure_count;
        reduced.keys_reduced += output.keys_reduced;
        failures.extend(output.failures);
        texts.push(text);
    }
    failures.sort_by(|a, b| a.0.cmp(&b.0));
    reduced.failures = failures.into_iter().take(MAX_REPORTED_FAILURES).map(|(_, f)| f).collect();
    if cancel.is_canceled() {
        reduced.canceled = true;
        return Ok(reduced);
    }
    match report_text::merge_into::<K>(texts, sink) {
        Ok(lines) => {
            reduced.output = lines;
            Ok(reduced)
        }
        Err(MergeError::Spill(error)) => Err(error.into()),
        Err(MergeError::Write(error)) => Err(RunError::Output(error)),
    }
}
