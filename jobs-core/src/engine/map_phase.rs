//! The map phase: worker threads map shards and hand what they emit to their share of the
//! shuffle (`worker_shuffle.rs`), which partitions, sorts, combines and, past the memory
//! budget, spills it.

use std::ops::ControlFlow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::context::{Counters, MapContext, MapEnv};
use crate::job::{Job, Reduce};
use crate::store::{Split, Store, WriteBatch};

use super::group_merge::Run;
use super::spill::SpillDir;
use super::worker_shuffle::{PlacedRun, WorkerShuffle};
use super::{FailureRecord, FailureSite, MAX_REPORTED_FAILURES, Progress, RunError, RunOptions, budget, panic};

/// One shard of one listed model.
pub(super) struct MapTask {
    /// The task's position in (model, shard) order: the order values reach `reduce`.
    pub(super) index: usize,
    /// The model's position in the job's `models = [...]`.
    pub(super) model: usize,
    pub(super) kind: &'static str,
    pub(super) split: Split,
}

/// Every how many entities a shard's counters are copied to its `ShardProgress`.
const COUNTER_PUBLISH_INTERVAL: u64 = 1024;
/// Every how many entities a shard's read, emitted and failed counts are added to its
/// `ShardProgress` (progress is saved every 250 ms, so this is as good as live).
const PROGRESS_INTERVAL: u64 = 64;

/// Progress counted on the worker since it was last added to the shard's.
#[derive(Default)]
struct PendingProgress {
    read: u64,
    emitted: u64,
    failed: u64,
}

impl PendingProgress {
    fn flush(&mut self, shard: &super::ShardProgress) {
        shard.record_batch(self.read, self.emitted, self.failed);
        *self = PendingProgress::default();
    }
}

/// What one task produced, besides its pairs.
#[derive(Default)]
struct TaskOutput {
    counters: Counters,
    failures: Vec<FailureRecord>,
    failure_count: u64,
    entities_read: u64,
    pairs_emitted: u64,
    writes_committed: u64,
}

impl TaskOutput {
    /// Counts keys whose `combine` failed, keeping the first few.
    fn record_key_failures(&mut self, failures: Vec<FailureRecord>) {
        self.failure_count += failures.len() as u64;
        let room = MAX_REPORTED_FAILURES.saturating_sub(self.failures.len());
        self.failures.extend(failures.into_iter().take(room));
    }
}

/// What the whole map phase produced.
pub(super) struct Mapped<J: Reduce> {
    /// For each shuffle partition, its sorted runs from every task, in task order (and, within
    /// a task, in emit order).
    pub(super) partitions: Vec<Vec<Run<J::Key, J::Value>>>,
    pub(super) counters: Counters,
    /// The first failures in task order.
    pub(super) failures: Vec<FailureRecord>,
    pub(super) failure_count: u64,
    pub(super) entities_read: u64,
    pub(super) pairs_emitted: u64,
    pub(super) writes_committed: u64,
    /// Bytes written to spill files.
    pub(super) spilled_bytes: u64,
    /// Pairs in all runs, after combining.
    pub(super) pairs_shuffled: u64,
}

/// What every map worker shares.
pub(super) struct MapShared<'a> {
    pub(super) store: &'a dyn Store,
    pub(super) options: &'a RunOptions,
    pub(super) queued_at_ms: i64,
    pub(super) progress: &'a Progress,
    pub(super) threads: usize,
    pub(super) partitions: usize,
    pub(super) max_memory: u64,
    pub(super) spill_dir: &'a SpillDir,
}

/// Maps every task on `shared.threads` workers.
pub(super) fn run<J: Job>(job: &J, shared: &MapShared<'_>, tasks: Vec<MapTask>) -> Result<Mapped<J>, RunError> {
    let task_count = tasks.len();
    let (task_tx, task_rx) = crossbeam_channel::unbounded();
    for task in tasks {
        // The receiver lives until the end of this function, so sending cannot fail.
        let _ = task_tx.send(task);
    }
    drop(task_tx);
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<(usize, TaskOutput)>();
    // Set when the store or a spill fails, so the other workers stop at their next entity.
    let abort = AtomicBool::new(false);
    let first_error: Mutex<Option<RunError>> = Mutex::new(None);
    let env = MapEnv { store: shared.store, dry_run: shared.options.dry_run, queued_at_ms: shared.queued_at_ms };
    let combining = J::COMBINES && shared.options.combine;
    let workers = shared.threads.min(task_count.max(1));
    let limit = budget::worker_limit(shared.max_memory, workers);

    let mut outputs: Vec<Option<TaskOutput>> = std::iter::repeat_with(|| None).take(task_count).collect();
    let mut runs: Vec<PlacedRun<J>> = Vec::new();
    let (mut spilled_bytes, mut pairs_shuffled) = (0, 0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let task_rx = task_rx.clone();
                let done_tx = done_tx.clone();
                let (env, abort, first_error) = (&env, &abort, &first_error);
                scope.spawn(move || {
                    let mut shuffle = WorkerShuffle::new(job, combining, shared.partitions, limit, shared.spill_dir);
                    for task in task_rx {
                        if abort.load(Ordering::Relaxed) {
                            break;
                        }
                        match map_task(job, env, &task, shared, abort, &mut shuffle) {
                            Ok(output) => {
                                let _ = done_tx.send((task.index, output));
                            }
                            Err(error) => {
                                abort.store(true, Ordering::Relaxed);
                                let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
                                slot.get_or_insert(error);
                            }
                        }
                    }
                    shuffle.into_runs()
                })
            })
            .collect();
        drop(done_tx);
        for (index, output) in done_rx {
            outputs[index] = Some(output);
        }
        for handle in handles {
            // Job code cannot panic here (it is caught); a panic is the engine's own bug.
            let worker = handle.join().unwrap_or_else(|payload| std::panic::resume_unwind(payload));
            runs.extend(worker.runs);
            spilled_bytes += worker.spilled_bytes;
            pairs_shuffled += worker.pairs;
        }
    });
    if let Some(error) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(error);
    }

    let mut mapped = Mapped {
        partitions: (0..shared.partitions).map(|_| Vec::new()).collect(),
        counters: Counters::default(),
        failures: Vec::new(),
        failure_count: 0,
        entities_read: 0,
        pairs_emitted: 0,
        writes_committed: 0,
        spilled_bytes,
        pairs_shuffled,
    };
    runs.sort_unstable_by_key(|run| (run.partition, run.task, run.seq));
    for placed in runs {
        mapped.partitions[placed.partition].push(placed.run);
    }
    // Tasks a cancel skipped have no output; everything else is gathered in task order.
    for output in outputs.into_iter().flatten() {
        mapped.counters.merge(&output.counters);
        let room = MAX_REPORTED_FAILURES.saturating_sub(mapped.failures.len());
        mapped.failures.extend(output.failures.into_iter().take(room));
        mapped.failure_count += output.failure_count;
        mapped.entities_read += output.entities_read;
        mapped.pairs_emitted += output.pairs_emitted;
        mapped.writes_committed += output.writes_committed;
    }
    Ok(mapped)
}

/// Maps one shard: scan, decode, map, hand the pairs to the worker's shuffle; commit writes in
/// batches.
fn map_task<J: Job>(
    job: &J,
    env: &MapEnv<'_>,
    task: &MapTask,
    shared: &MapShared<'_>,
    abort: &AtomicBool,
    shuffle: &mut WorkerShuffle<'_, J>,
) -> Result<TaskOutput, RunError> {
    let options = shared.options;
    let shard_progress = shared.progress.shards().get(task.index);
    let mut output = TaskOutput::default();
    shuffle.start_task(task.index);
    let mut staged: Vec<(J::Key, J::Value)> = Vec::new();
    let mut writes = WriteBatch::new();
    let mut error: Option<RunError> = None;
    let mut pending = PendingProgress::default();
    env.store.scan(task.kind, &task.split.range, &mut |id, bytes| {
        if options.cancel.is_canceled() || abort.load(Ordering::Relaxed) {
            return ControlFlow::Break(());
        }
        output.entities_read += 1;
        let writes_before = writes.len();
        let mut ctx = MapContext::<J> { staged: &mut staged, counters: &mut output.counters, writes: &mut writes, env };
        let result = panic::catch(|| job.map_stored(task.model, bytes, &mut ctx));
        let message = match result {
            Ok(Ok(())) => None,
            Ok(Err(failure)) => Some(failure.message().to_owned()),
            Err(panic_message) => Some(panic_message),
        };
        let mut emitted = staged.len() as u64;
        let failed = message.is_some();
        match message {
            None => {
                output.pairs_emitted += emitted;
                for (key, value) in staged.drain(..) {
                    shuffle.push(key, value);
                }
                if let Err(spill_error) = shuffle.spill_if_over_budget() {
                    error = Some(spill_error.into());
                    return ControlFlow::Break(());
                }
            }
            Some(message) => {
                // A failed entity contributes nothing: neither its pairs nor its writes.
                staged.clear();
                emitted = 0;
                writes.truncate(writes_before);
                output.failure_count += 1;
                if output.failures.len() < MAX_REPORTED_FAILURES {
                    output.failures.push(FailureRecord {
                        site: FailureSite::Entity { kind: task.kind.to_owned(), id: id.to_owned() },
                        message,
                    });
                }
            }
        }
        pending.read += 1;
        pending.emitted += emitted;
        pending.failed += u64::from(failed);
        if let Some(shard) = shard_progress
            && output.entities_read.is_multiple_of(PROGRESS_INTERVAL)
        {
            pending.flush(shard);
            if output.entities_read.is_multiple_of(COUNTER_PUBLISH_INTERVAL) {
                shard.publish_counters(&output.counters);
            }
        }
        if writes.len() >= options.write_batch_size {
            match env.store.apply(&writes) {
                Ok(()) => output.writes_committed += writes.len() as u64,
                Err(store_error) => {
                    error = Some(store_error.into());
                    return ControlFlow::Break(());
                }
            }
            writes.clear();
        }
        ControlFlow::Continue(())
    })?;
    if let Some(shard) = shard_progress {
        pending.flush(shard);
    }
    if let Some(error) = error {
        return Err(error);
    }
    if !writes.is_empty() {
        env.store.apply(&writes)?;
        output.writes_committed += writes.len() as u64;
    }
    // Sorted here, on the worker, so reduce only merges.
    shuffle.finish_task();
    output.record_key_failures(shuffle.take_key_failures());
    if let Some(shard) = shard_progress {
        shard.publish_counters(&output.counters);
        if !options.cancel.is_canceled() {
            shard.finish();
        }
    }
    Ok(output)
}
