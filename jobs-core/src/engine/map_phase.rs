//! The map phase: the reader (`reader.rs`) reads each listed model once, in batches; worker
//! threads decode and map each batch and hand what it emits to their share of the shuffle
//! (`worker_shuffle.rs`), which groups, sorts, combines and, past the memory budget, spills it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::context::{Counters, MapEnv};
use crate::exec::FailureRecord;
use crate::exec::map_one::{EntityMapper, EntityOutcome, MapTally, PendingWrites};
use crate::job::{Job, Reduce};
use crate::store::Store;

use super::group_merge::Run;
use super::reader::{self, Batch, MapTask};
use super::spill::SpillDir;
use super::task_fold;
use super::worker_shuffle::{PlacedRun, WorkerShuffle};
use super::{Progress, RunError, RunOptions, budget};

/// Batches waiting for a worker, per worker: enough to keep them busy, few enough that the
/// bytes read ahead stay small.
const QUEUED_BATCHES_PER_WORKER: usize = 4;

/// What one batch produced, besides its pairs.
struct BatchOutput {
    /// The task the batch belongs to.
    task: usize,
    tally: MapTally,
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
    // Mapped batches go back to the reader to be filled again.
    let (spare_tx, spare_rx) = crossbeam_channel::bounded::<Batch>(workers * (QUEUED_BATCHES_PER_WORKER + 1));
    // Set when the store or a spill fails, so the reader and the workers stop.
    let abort = AtomicBool::new(false);
    let first_error: Mutex<Option<RunError>> = Mutex::new(None);
    let fail = |error: RunError| {
        abort.store(true, Ordering::Relaxed);
        crate::sync::lock(&first_error).get_or_insert(error);
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
    let (mut spilled_bytes, mut pairs_shuffled, mut writes_committed) = (0, 0, 0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let batch_rx = batch_rx.clone();
                let done_tx = done_tx.clone();
                let spare_tx = spare_tx.clone();
                let (env, abort, fail) = (&env, &abort, &fail);
                scope.spawn(move || {
                    let mut shuffle = WorkerShuffle::new(job, combining, shared.partitions, limit, shared.spill_dir);
                    let mut mapper = EntityMapper::new(job, env);
                    // Committed within each batch: the pairs of entities that wrote wait for
                    // their writes, and belong to the batch's shuffle.
                    let mut writes = PendingWrites::default();
                    for batch in batch_rx {
                        if abort.load(Ordering::Relaxed) {
                            break;
                        }
                        let task = &tasks[batch.task];
                        match map_batch(&mut mapper, &batch, task, shared, abort, &mut shuffle, &mut writes) {
                            Ok(output) => {
                                let _ = done_tx.send((batch.number, output));
                            }
                            Err(error) => fail(error),
                        }
                        // When the reader has enough spares, this one is dropped.
                        let _ = spare_tx.try_send(batch);
                    }
                    (shuffle.into_runs(), writes.committed)
                })
            })
            .collect();
        // Once every worker has stopped, sending fails and the reader stops too.
        drop(batch_rx);
        drop(done_tx);
        let stop = || shared.options.cancel.is_canceled() || abort.load(Ordering::Relaxed);
        drop(spare_tx);
        let spare = || spare_rx.try_recv().ok();
        if let Err(error) = reader::read(shared.store, tasks, &stop, &spare, &mut |batch| batch_tx.send(batch).is_ok())
        {
            fail(error.into());
        }
        drop(batch_tx);
        outputs.extend(done_rx);
        for handle in handles {
            // Job code cannot panic here (it is caught); a panic is the engine's own bug.
            let (worker, committed) = handle.join().unwrap_or_else(|payload| std::panic::resume_unwind(payload));
            writes_committed += committed;
            runs.extend(worker.runs);
            spilled_bytes += worker.spilled_bytes;
            pairs_shuffled += worker.pairs;
        }
    });
    if let Some(error) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(error);
    }
    let canceled = shared.options.cancel.is_canceled();
    if !canceled {
        // Every entity was read and mapped; a shard that came out shorter than counted (the
        // kind shrank after the plan) is done all the same.
        shared.progress.shards().iter().for_each(super::ShardProgress::finish);
    }

    let mut partitions: Vec<task_fold::TaskRuns<J>> = (0..shared.partitions).map(|_| Vec::new()).collect();
    // Batches a cancel skipped have no output; everything else is gathered in reading order.
    outputs.sort_unstable_by_key(|(number, _)| *number);
    let task_of_batch: Vec<(usize, usize)> = outputs.iter().map(|(number, output)| (*number, output.task)).collect();
    let task_of = |batch: usize| {
        task_of_batch.binary_search_by_key(&batch, |(number, _)| *number).map_or(usize::MAX, |i| task_of_batch[i].1)
    };
    runs.sort_unstable_by_key(|run| (run.partition, run.batch, run.seq));
    for placed in runs {
        partitions[placed.partition].push((task_of(placed.batch), placed.run));
    }
    let mut tally = MapTally::default();
    for (_, output) in outputs {
        tally.counters.merge(&output.tally.counters);
        tally.failures.append(output.tally.failures);
        tally.entities_read += output.tally.entities_read;
        tally.pairs_emitted += output.tally.pairs_emitted;
    }
    let partitions = if combining && !canceled {
        let folded = task_fold::fold_partitions(job, partitions, workers);
        pairs_shuffled -= folded.pairs_folded;
        tally.failures.extend(folded.failures);
        folded.partitions
    } else {
        partitions.into_iter().map(|runs| runs.into_iter().map(|(_, run)| run).collect()).collect()
    };
    Ok(Mapped {
        partitions,
        counters: tally.counters,
        failures: tally.failures.records,
        failure_count: tally.failures.count,
        entities_read: tally.entities_read,
        pairs_emitted: tally.pairs_emitted,
        writes_committed,
        spilled_bytes,
        pairs_shuffled,
    })
}

/// Maps one batch: decode, map, hand the pairs to the worker's shuffle; commit writes each
/// time `write_batch_size` of them have gathered, and the rest at the batch's end.
fn map_batch<J: Job>(
    mapper: &mut EntityMapper<'_, J>,
    batch: &Batch,
    task: &MapTask,
    shared: &MapShared<'_>,
    abort: &AtomicBool,
    shuffle: &mut WorkerShuffle<'_, J>,
    writes: &mut PendingWrites,
) -> Result<BatchOutput, RunError> {
    let options = shared.options;
    let mut tally = MapTally::default();
    shuffle.start_batch(batch.number);
    for (id, bytes) in batch.entities() {
        if options.cancel.is_canceled() || abort.load(Ordering::Relaxed) {
            break;
        }
        let sink = |key, value| {
            shuffle.push(key, value);
            Ok::<(), RunError>(())
        };
        let outcome =
            mapper.map_entity(task.model, task.kind, id, bytes, &mut tally, writes, options.write_batch_size, sink)?;
        if let EntityOutcome::Mapped(_) = outcome {
            shuffle.spill_if_over_budget()?;
        }
    }
    // What is pending belongs to entities mapped completely: commit it, also on cancel.
    mapper.flush(&mut tally, writes, &mut |key, value| {
        shuffle.push(key, value);
        Ok::<(), RunError>(())
    })?;
    // Sorted here, on the worker, so reduce only merges.
    shuffle.finish_batch();
    if let Some(shard) = shared.progress.shards().get(task.index) {
        shard.record_batch(tally.entities_read, tally.pairs_emitted, tally.failures.count);
        shard.add_counters(&tally.counters);
        if shard.read() >= task.len && !options.cancel.is_canceled() {
            shard.finish();
        }
    }
    tally.failures.extend(shuffle.take_key_failures());
    Ok(BatchOutput { task: task.index, tally })
}
