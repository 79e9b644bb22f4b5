//! Combining per map task: once every batch is mapped, each task's in-memory runs of a
//! partition are merged into one and each key's values folded by the job's combiner, so a
//! counting job carries about one pair per key per task to reduce, not one per key per batch.
//!
//! A worker combines within a batch (a chunk of a task, `combine.rs`) as it maps; here, with
//! every batch's run in task order, a task's values for a key are all together and in emit
//! order, which is what [`combine`](crate::Reduce::combine) is promised. A spilled run is left
//! as it is (and ends the stretch of runs merged), so the fold never reads from disk.

use crate::exec::FailureRecord;
use crate::exec::combine::combine_group;
use crate::job::Reduce;

use super::group_merge::{GroupMerge, Run};
use super::partition_buffer::GroupedRun;

/// A partition's runs in merge order, each with the task that produced it.
pub(super) type TaskRuns<J> = Vec<(usize, Run<<J as Reduce>::Key, <J as Reduce>::Value>)>;

/// A partition's runs.
type Runs<J> = Vec<Run<<J as Reduce>::Key, <J as Reduce>::Value>>;

/// What folding one partition produced.
struct FoldedPartition<J: Reduce> {
    runs: Runs<J>,
    /// How many pairs the fold removed.
    removed: u64,
    /// Keys whose `combine` panicked.
    failures: Vec<FailureRecord>,
}

/// What folding every partition produced.
pub(super) struct Folded<J: Reduce> {
    /// Each partition's runs, in the same order, a task's adjacent memory runs now one.
    pub(super) partitions: Vec<Vec<Run<J::Key, J::Value>>>,
    /// How many pairs the fold removed.
    pub(super) pairs_folded: u64,
    /// Keys whose `combine` panicked, in partition order.
    pub(super) failures: Vec<FailureRecord>,
}

/// Folds every partition's runs per task, spreading the partitions over `threads` threads.
pub(super) fn fold_partitions<J: Reduce>(job: &J, partitions: Vec<TaskRuns<J>>, threads: usize) -> Folded<J> {
    let count = partitions.len();
    let per_thread = count.div_ceil(threads.max(1)).max(1);
    let mut chunks: Vec<Vec<TaskRuns<J>>> = Vec::new();
    let mut rest = partitions.into_iter();
    loop {
        let chunk: Vec<TaskRuns<J>> = rest.by_ref().take(per_thread).collect();
        if chunk.is_empty() {
            break;
        }
        chunks.push(chunk);
    }
    let results: Vec<Vec<FoldedPartition<J>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| scope.spawn(move || chunk.into_iter().map(|runs| fold_partition(job, runs)).collect()))
            .collect();
        // Job code cannot panic here (it is caught); a panic is the engine's own bug.
        handles.into_iter().map(|h| h.join().unwrap_or_else(|payload| std::panic::resume_unwind(payload))).collect()
    });
    let mut folded = Folded { partitions: Vec::with_capacity(count), pairs_folded: 0, failures: Vec::new() };
    for partition in results.into_iter().flatten() {
        folded.partitions.push(partition.runs);
        folded.pairs_folded += partition.removed;
        folded.failures.extend(partition.failures);
    }
    folded
}

/// Folds one partition: each stretch of adjacent memory runs of one task becomes one run.
fn fold_partition<J: Reduce>(job: &J, runs: TaskRuns<J>) -> FoldedPartition<J> {
    let mut out = Vec::with_capacity(runs.len());
    let mut removed = 0;
    let mut failures = Vec::new();
    let mut stretch: Vec<GroupedRun<J::Key, J::Value>> = Vec::new();
    let mut stretch_task = None;
    let mut flush =
        |stretch: &mut Vec<GroupedRun<J::Key, J::Value>>, out: &mut Vec<Run<J::Key, J::Value>>| match stretch.len() {
            0 => {}
            1 => out.extend(stretch.pop().map(Run::Memory)),
            _ => {
                let before: usize = stretch.iter().map(GroupedRun::len).sum();
                let run = fold(job, std::mem::take(stretch), &mut failures);
                removed += (before - run.len()) as u64;
                if run.len() > 0 {
                    out.push(Run::Memory(run));
                }
            }
        };
    for (task, run) in runs {
        match run {
            Run::Memory(run) => {
                if stretch_task != Some(task) {
                    flush(&mut stretch, &mut out);
                    stretch_task = Some(task);
                }
                stretch.push(run);
            }
            spilled @ Run::Spilled(_) => {
                flush(&mut stretch, &mut out);
                stretch_task = None;
                out.push(spilled);
            }
        }
    }
    flush(&mut stretch, &mut out);
    FoldedPartition { runs: out, removed, failures }
}

/// Merges one task's runs, in order, into one, folding each key's values with the combiner.
fn fold<J: Reduce>(
    job: &J,
    runs: Vec<GroupedRun<J::Key, J::Value>>,
    failures: &mut Vec<FailureRecord>,
) -> GroupedRun<J::Key, J::Value> {
    let mut folded = GroupedRun { keys: Vec::new(), values: Vec::new() };
    let Ok(mut merge) = GroupMerge::new(runs.into_iter().map(Run::Memory).collect(), 0) else {
        // Only a spilled run can fail to read, and there is none.
        return folded;
    };
    let mut values = Vec::new();
    while let Ok(Some((key, _))) = merge.next_group() {
        values.clear();
        values.extend(merge.values());
        if let Err(failure) = combine_group(job, &key, &mut values) {
            failures.push(failure);
            continue;
        }
        if !values.is_empty() {
            folded.keys.push((key, values.len()));
            folded.values.append(&mut values);
        }
    }
    folded
}
