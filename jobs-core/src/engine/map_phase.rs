//! The map phase: worker threads map shards, hash-partition what they emit, and sort (and
//! combine, `combine.rs`) each task's partition buffers by key.

use std::ops::ControlFlow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::context::{Counters, MapContext, MapEnv};
use crate::job::{Job, Reduce};
use crate::store::{Split, Store, StoreError, WriteBatch};

use super::{FailureRecord, FailureSite, MAX_REPORTED_FAILURES, Progress, RunOptions, combine, panic, partition_of};

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

type Pairs<J> = Vec<(<J as Reduce>::Key, <J as Reduce>::Value)>;

/// What one task produced.
struct TaskOutput<J: Reduce> {
    /// Emitted pairs by shuffle partition, in emit order.
    partitions: Vec<Pairs<J>>,
    counters: Counters,
    failures: Vec<FailureRecord>,
    failure_count: u64,
    entities_read: u64,
    pairs_emitted: u64,
    writes_committed: u64,
}

impl<J: Reduce> TaskOutput<J> {
    /// Counts keys whose `combine` failed, keeping the first few.
    fn record_key_failures(&mut self, failures: Vec<FailureRecord>) {
        self.failure_count += failures.len() as u64;
        let room = MAX_REPORTED_FAILURES.saturating_sub(self.failures.len());
        self.failures.extend(failures.into_iter().take(room));
    }
}

/// What the whole map phase produced.
pub(super) struct Mapped<J: Reduce> {
    /// For each shuffle partition, its buffers from every task, in task order.
    pub(super) partitions: Vec<Vec<Pairs<J>>>,
    pub(super) counters: Counters,
    /// The first failures in task order.
    pub(super) failures: Vec<FailureRecord>,
    pub(super) failure_count: u64,
    pub(super) entities_read: u64,
    pub(super) pairs_emitted: u64,
    pub(super) writes_committed: u64,
}

/// Maps every task on `threads` workers.
#[allow(clippy::too_many_arguments)]
pub(super) fn run<J: Job>(
    job: &J,
    store: &dyn Store,
    options: &RunOptions,
    queued_at_ms: i64,
    tasks: Vec<MapTask>,
    progress: &Progress,
    threads: usize,
    partitions: usize,
) -> Result<Mapped<J>, StoreError> {
    let task_count = tasks.len();
    let (task_tx, task_rx) = crossbeam_channel::unbounded();
    for task in tasks {
        // The receiver lives until the end of this function, so sending cannot fail.
        let _ = task_tx.send(task);
    }
    drop(task_tx);
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<(usize, TaskOutput<J>)>();
    // Set when the store fails, so the other workers stop at their next entity.
    let abort = AtomicBool::new(false);
    let first_error: Mutex<Option<StoreError>> = Mutex::new(None);
    let env = MapEnv { store, dry_run: options.dry_run, queued_at_ms };

    let mut outputs: Vec<Option<TaskOutput<J>>> = std::iter::repeat_with(|| None).take(task_count).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads.min(task_count.max(1)) {
            let task_rx = task_rx.clone();
            let done_tx = done_tx.clone();
            let (env, abort, first_error) = (&env, &abort, &first_error);
            scope.spawn(move || {
                for task in task_rx {
                    if abort.load(Ordering::Relaxed) {
                        break;
                    }
                    match map_task(job, env, &task, options, progress, abort, partitions) {
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
            });
        }
        drop(done_tx);
        for (index, output) in done_rx {
            outputs[index] = Some(output);
        }
    });
    if let Some(error) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(error);
    }

    let mut mapped = Mapped {
        partitions: (0..partitions).map(|_| Vec::with_capacity(task_count)).collect(),
        counters: Counters::default(),
        failures: Vec::new(),
        failure_count: 0,
        entities_read: 0,
        pairs_emitted: 0,
        writes_committed: 0,
    };
    // Tasks a cancel skipped have no output; everything else is gathered in task order.
    for output in outputs.into_iter().flatten() {
        for (partition, pairs) in mapped.partitions.iter_mut().zip(output.partitions) {
            if !pairs.is_empty() {
                partition.push(pairs);
            }
        }
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

/// Maps one shard: scan, decode, map, partition; commit writes in batches.
fn map_task<J: Job>(
    job: &J,
    env: &MapEnv<'_>,
    task: &MapTask,
    options: &RunOptions,
    progress: &Progress,
    abort: &AtomicBool,
    partitions: usize,
) -> Result<TaskOutput<J>, StoreError> {
    let shard_progress = progress.shards().get(task.index);
    let mut output = TaskOutput::<J> {
        partitions: (0..partitions).map(|_| Vec::new()).collect(),
        counters: Counters::default(),
        failures: Vec::new(),
        failure_count: 0,
        entities_read: 0,
        pairs_emitted: 0,
        writes_committed: 0,
    };
    let combining = J::COMBINES && options.combine;
    // Per partition, the buffer length at which to combine next.
    let mut combine_at = vec![combine::MIN_COMBINE_LEN; partitions];
    let mut staged: Pairs<J> = Vec::new();
    let mut writes = WriteBatch::new();
    let mut store_error = None;
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
                    let partition = partition_of(&key, partitions);
                    let buffer = &mut output.partitions[partition];
                    buffer.push((key, value));
                    if combining && buffer.len() >= combine_at[partition] {
                        let failures = combine::sort_and_combine(job, buffer, true);
                        combine_at[partition] = (2 * buffer.len()).max(combine::MIN_COMBINE_LEN);
                        output.record_key_failures(failures);
                    }
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
        if let Some(shard) = shard_progress {
            shard.record(emitted, failed);
            if output.entities_read.is_multiple_of(COUNTER_PUBLISH_INTERVAL) {
                shard.publish_counters(&output.counters);
            }
        }
        if writes.len() >= options.write_batch_size {
            match env.store.apply(&writes) {
                Ok(()) => output.writes_committed += writes.len() as u64,
                Err(error) => {
                    store_error = Some(error);
                    return ControlFlow::Break(());
                }
            }
            writes.clear();
        }
        ControlFlow::Continue(())
    })?;
    if let Some(error) = store_error {
        return Err(error);
    }
    if !writes.is_empty() {
        env.store.apply(&writes)?;
        output.writes_committed += writes.len() as u64;
    }
    // Sorted here, on the worker, so reduce only merges.
    for partition in 0..output.partitions.len() {
        let failures = combine::sort_and_combine(job, &mut output.partitions[partition], combining);
        output.record_key_failures(failures);
    }
    if let Some(shard) = shard_progress {
        shard.publish_counters(&output.counters);
        if !options.cancel.is_canceled() {
            shard.finish();
        }
    }
    Ok(output)
}
