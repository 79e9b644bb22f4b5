//! The map phase: the reader (`reader.rs`) reads each listed model once, in batches; worker
//! threads decode and map each batch and hand what it emits to their share of the shuffle
//! (`worker_shuffle.rs`), which groups, sorts, combines and, past the memory budget, spills it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::context::{Counters, MapContext, MapEnv};
use crate::job::{Job, Reduce};
use crate::store::{Store, WriteBatch};

use super::group_merge::Run;
use super::reader::{self, Batch, MapTask};
use super::spill::SpillDir;
use super::worker_shuffle::{PlacedRun, WorkerShuffle};
use super::{FailureRecord, FailureSite, MAX_REPORTED_FAILURES, Progress, RunError, RunOptions, budget, panic};

/// Batches waiting for a worker, per worker: enough to keep them busy, few enough that the
/// bytes read ahead stay small.
const QUEUED_BATCHES_PER_WORKER: usize = 4;

/// What one batch produced, besides its pairs.
#[derive(Default)]
struct BatchOutput {
    counters: Counters,
    failures: Vec<FailureRecord>,
    failure_count: u64,
    entities_read: u64,
    pairs_emitted: u64,
    writes_committed: u64,
}

impl BatchOutput {
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

/// Maps every task: this thread reads, `shared.threads` workers map.
pub(super) fn run<J: Job>(job: &J, shared: &MapShared<'_>, tasks: &[MapTask]) -> Result<Mapped<J>, RunError> {
    let workers = shared.threads.max(1);
    let (batch_tx, batch_rx) = crossbeam_channel::bounded::<Batch>(workers * QUEUED_BATCHES_PER_WORKER);
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<(usize, BatchOutput)>();
    // Set when the store or a spill fails, so the reader and the workers stop.
    let abort = AtomicBool::new(false);
    let first_error: Mutex<Option<RunError>> = Mutex::new(None);
    let fail = |error: RunError| {
        abort.store(true, Ordering::Relaxed);
        first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(error);
    };
    let env = MapEnv { store: shared.store, dry_run: shared.options.dry_run, queued_at_ms: shared.queued_at_ms };
    let combining = J::COMBINES && shared.options.combine;
    let limit = budget::worker_limit(shared.max_memory, workers);
    for task in tasks.iter().filter(|task| task.len == 0) {
        if let Some(shard) = shared.progress.shards().get(task.index) {
            shard.finish();
        }
    }

    let mut outputs: Vec<(usize, BatchOutput)> = Vec::new();
    let mut runs: Vec<PlacedRun<J>> = Vec::new();
    let (mut spilled_bytes, mut pairs_shuffled, mut final_writes) = (0, 0, 0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let batch_rx = batch_rx.clone();
                let done_tx = done_tx.clone();
                let (env, abort, fail) = (&env, &abort, &fail);
                scope.spawn(move || {
                    let mut shuffle = WorkerShuffle::new(job, combining, shared.partitions, limit, shared.spill_dir);
                    // Writes gather across batches, so a migration commits `write_batch_size`
                    // writes at a time whatever the reader's batch size.
                    let mut writes = PendingWrites::default();
                    for batch in batch_rx {
                        if abort.load(Ordering::Relaxed) {
                            break;
                        }
                        match map_batch(job, env, &batch, &tasks[batch.task], shared, abort, &mut shuffle, &mut writes)
                        {
                            Ok(output) => {
                                let _ = done_tx.send((batch.number, output));
                            }
                            Err(error) => fail(error),
                        }
                    }
                    // What is left belongs to entities mapped completely: commit it, also on cancel.
                    if let Err(error) = writes.commit(env) {
                        fail(error);
                    }
                    (shuffle.into_runs(), writes.committed)
                })
            })
            .collect();
        // Once every worker has stopped, sending fails and the reader stops too.
        drop(batch_rx);
        drop(done_tx);
        let stop = || shared.options.cancel.is_canceled() || abort.load(Ordering::Relaxed);
        if let Err(error) = reader::read(shared.store, tasks, &stop, &mut |batch| batch_tx.send(batch).is_ok()) {
            fail(error.into());
        }
        drop(batch_tx);
        outputs.extend(done_rx);
        for handle in handles {
            // Job code cannot panic here (it is caught); a panic is the engine's own bug.
            let (worker, writes_committed) = handle.join().unwrap_or_else(|payload| std::panic::resume_unwind(payload));
            final_writes += writes_committed;
            runs.extend(worker.runs);
            spilled_bytes += worker.spilled_bytes;
            pairs_shuffled += worker.pairs;
        }
    });
    if let Some(error) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(error);
    }
    if !shared.options.cancel.is_canceled() {
        // Every entity was read and mapped; a shard that came out shorter than counted (the
        // kind shrank after the plan) is done all the same.
        shared.progress.shards().iter().for_each(super::ShardProgress::finish);
    }

    let mut mapped = Mapped {
        partitions: (0..shared.partitions).map(|_| Vec::new()).collect(),
        counters: Counters::default(),
        failures: Vec::new(),
        failure_count: 0,
        entities_read: 0,
        pairs_emitted: 0,
        writes_committed: final_writes,
        spilled_bytes,
        pairs_shuffled,
    };
    runs.sort_unstable_by_key(|run| (run.partition, run.batch, run.seq));
    for placed in runs {
        mapped.partitions[placed.partition].push(placed.run);
    }
    // Batches a cancel skipped have no output; everything else is gathered in reading order.
    outputs.sort_unstable_by_key(|(number, _)| *number);
    for (_, output) in outputs {
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

/// A map worker's writes not yet committed, and how many it committed.
#[derive(Default)]
struct PendingWrites {
    batch: WriteBatch,
    committed: u64,
}

impl PendingWrites {
    /// Commits the pending writes as one atomic batch.
    fn commit(&mut self, env: &MapEnv<'_>) -> Result<(), RunError> {
        if !self.batch.is_empty() {
            env.store.apply(&self.batch)?;
            self.committed += self.batch.len() as u64;
            self.batch.clear();
        }
        Ok(())
    }
}

/// Maps one batch: decode, map, hand the pairs to the worker's shuffle; commit writes each
/// time `write_batch_size` of them have gathered (the rest wait for the worker's next batch).
#[allow(clippy::too_many_arguments)]
fn map_batch<J: Job>(
    job: &J,
    env: &MapEnv<'_>,
    batch: &Batch,
    task: &MapTask,
    shared: &MapShared<'_>,
    abort: &AtomicBool,
    shuffle: &mut WorkerShuffle<'_, J>,
    pending: &mut PendingWrites,
) -> Result<BatchOutput, RunError> {
    let options = shared.options;
    let mut output = BatchOutput::default();
    shuffle.start_batch(batch.number);
    let mut staged: Vec<(J::Key, J::Value)> = Vec::new();
    let writes = &mut pending.batch;
    for (id, bytes) in batch.entities() {
        if options.cancel.is_canceled() || abort.load(Ordering::Relaxed) {
            break;
        }
        output.entities_read += 1;
        let writes_before = writes.len();
        let mut ctx = MapContext::<J> { staged: &mut staged, counters: &mut output.counters, writes, env };
        let result = panic::catch(|| job.map_stored(task.model, bytes, &mut ctx));
        let message = match result {
            Ok(Ok(())) => None,
            Ok(Err(failure)) => Some(failure.message().to_owned()),
            Err(panic_message) => Some(panic_message),
        };
        match message {
            None => {
                output.pairs_emitted += staged.len() as u64;
                for (key, value) in staged.drain(..) {
                    shuffle.push(key, value);
                }
                shuffle.spill_if_over_budget()?;
            }
            Some(message) => {
                // A failed entity contributes nothing: neither its pairs nor its writes.
                staged.clear();
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
        if writes.len() >= options.write_batch_size {
            env.store.apply(writes)?;
            output.writes_committed += writes.len() as u64;
            writes.clear();
        }
    }
    // Sorted here, on the worker, so reduce only merges.
    shuffle.finish_batch();
    if let Some(shard) = shared.progress.shards().get(task.index) {
        shard.record_batch(output.entities_read, output.pairs_emitted, output.failure_count);
        shard.add_counters(&output.counters);
        if shard.read() >= task.len && !options.cancel.is_canceled() {
            shard.finish();
        }
    }
    output.record_key_failures(shuffle.take_key_failures());
    Ok(output)
}
