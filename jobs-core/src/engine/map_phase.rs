//! The map phase: worker threads take the plan's tasks in order, as a thread of its own cuts
//! them (`plan.rs`), each scanning its task's id
//! range in the store and mapping every entity where the store hands over its bytes, with no
//! copy and no reader thread between them. What an entity emits goes to the worker's share of
//! the shuffle (`worker_shuffle.rs`), which groups, sorts, combines and, past the memory
//! budget, spills it.
//!
//! A task is mapped in chunks of [`CHUNK_ENTITIES`]: each chunk's writes are committed at its
//! end and its pairs sorted into runs labelled `(task, chunk)`, so reduce merges them in task
//! order, then id order, whichever worker mapped them.

use std::ops::ControlFlow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::context::{Counters, MapEnv};
use crate::exec::FailureRecord;
use crate::exec::map_one::{EntityMapper, EntityOutcome, MapTally, PendingWrites};
use crate::job::{Job, Reduce};
use crate::store::{Store, StoreError};

use super::group_merge::Run;
use super::plan::{self, MapTask};
use super::spill::SpillDir;
use super::task_fold;
use super::worker_shuffle::{BatchId, PlacedRun, WorkerShuffle};
use super::{Progress, RunError, RunOptions, budget};

/// Entities per chunk of a task: the stretch whose pairs are sorted into one run per
/// partition and whose writes are committed together (unless `write_batch_size` comes first).
const CHUNK_ENTITIES: u32 = 256;

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

/// Cuts the job's models into `shards` tasks each and maps them on `shared.threads` worker
/// threads, which start on the first tasks while the rest are cut.
pub(super) fn run<J: Job>(job: &J, shared: &MapShared<'_>, shards: usize) -> Result<Mapped<J>, RunError> {
    let workers = shared.threads.max(1);
    // Unbounded: the plan is small (`MAX_SHARDS` tasks a model), and cutting it should not
    // wait for the map.
    let (task_tx, task_rx) = crossbeam_channel::unbounded::<MapTask>();
    // Set when the store or a spill fails, so every worker stops.
    let abort = AtomicBool::new(false);
    let first_error: Mutex<Option<RunError>> = Mutex::new(None);
    let env = MapEnv { store: shared.store, dry_run: shared.options.dry_run, queued_at_ms: shared.queued_at_ms };
    let combining = J::COMBINES && shared.options.combine;
    let limit = budget::worker_limit(shared.max_memory, workers);

    let mut outputs: Vec<(usize, MapTally)> = Vec::new();
    let mut runs: Vec<PlacedRun<J>> = Vec::new();
    let (mut spilled_bytes, mut pairs_shuffled, mut writes_committed) = (0, 0, 0);
    std::thread::scope(|scope| {
        let (abort, first_error) = (&abort, &first_error);
        scope.spawn(move || {
            let stopped = || shared.options.cancel.is_canceled() || abort.load(Ordering::Relaxed);
            let cut = plan::cut(shared.store, J::MODELS, shards, &mut |task| {
                // Sent in order, so the workers take the tasks in order.
                if stopped() || task_tx.send(task).is_err() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            drop(task_tx);
            match cut {
                Ok(()) => tracing::debug!("cut every task's range"),
                Err(error) => {
                    abort.store(true, Ordering::Relaxed);
                    keep_the_cause(&mut crate::sync::lock(first_error), error.into());
                }
            }
        });
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let (env, task_rx) = (&env, task_rx.clone());
                scope.spawn(move || {
                    let mut worker = Worker {
                        shared,
                        abort,
                        shuffle: WorkerShuffle::new(job, combining, shared.partitions, limit, shared.spill_dir),
                        mapper: EntityMapper::new(job, env),
                        writes: PendingWrites::default(),
                        outputs: Vec::new(),
                    };
                    while !worker.stopped() {
                        let Ok(task) = task_rx.recv() else { break };
                        if let Err(error) = worker.map_task(&task) {
                            abort.store(true, Ordering::Relaxed);
                            keep_the_cause(&mut crate::sync::lock(first_error), error);
                        }
                    }
                    (worker.shuffle.into_runs(), worker.writes.committed, worker.outputs)
                })
            })
            .collect();
        for handle in handles {
            // Job code cannot panic here (it is caught); a panic is the engine's own bug.
            let (worker, committed, worker_outputs) =
                handle.join().unwrap_or_else(|payload| std::panic::resume_unwind(payload));
            writes_committed += committed;
            runs.extend(worker.runs);
            spilled_bytes += worker.spilled_bytes;
            pairs_shuffled += worker.pairs;
            outputs.extend(worker_outputs);
        }
    });
    if let Some(error) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(error);
    }
    let canceled = shared.options.cancel.is_canceled();

    let mut partitions: Vec<task_fold::TaskRuns<J>> = (0..shared.partitions).map(|_| Vec::new()).collect();
    runs.sort_unstable_by_key(|run| (run.partition, run.batch, run.seq));
    for placed in runs {
        partitions[placed.partition].push((placed.batch.0, placed.run));
    }
    // Tasks a cancel skipped have no output; the rest count in task order.
    outputs.sort_unstable_by_key(|(task, _)| *task);
    let mut tally = MapTally::default();
    for (_, output) in outputs {
        tally.append(output);
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

/// Keeps the first error, unless it only followed from `error`: a store stops after a failed
/// write, so the worker whose write failed may report after one that found the store stopped.
fn keep_the_cause(kept: &mut Option<RunError>, error: RunError) {
    let followed = |error: &RunError| matches!(error, RunError::Store(StoreError::StoppedAfterFailure { .. }));
    let replace = kept.as_ref().is_none_or(|first| followed(first) && !followed(&error));
    if replace {
        *kept = Some(error);
    }
}

/// One map worker: its share of the shuffle, its mapper, the writes it has yet to commit, and
/// what each task it mapped counted.
struct Worker<'a, J: Job> {
    shared: &'a MapShared<'a>,
    abort: &'a AtomicBool,
    shuffle: WorkerShuffle<'a, J>,
    mapper: EntityMapper<'a, J>,
    /// Committed at the end of each chunk: the pairs of entities that wrote wait for their
    /// writes, and belong to the chunk's runs.
    writes: PendingWrites,
    /// Per task it mapped: what the task counted (one entry per task, however long it is).
    outputs: Vec<(usize, MapTally)>,
}

impl<J: Job> Worker<'_, J> {
    /// Whether to stop: the run was canceled, or another worker failed.
    fn stopped(&self) -> bool {
        self.shared.options.cancel.is_canceled() || self.abort.load(Ordering::Relaxed)
    }

    /// Scans `task`'s range and maps each entity in place, a chunk at a time.
    fn map_task(&mut self, task: &MapTask) -> Result<(), RunError> {
        let mut batch: BatchId = (task.index, 0);
        let mut in_chunk = 0;
        // The current chunk's counts, and the task's so far.
        let mut tally = MapTally::default();
        let mut task_tally = MapTally::default();
        let mut failed: Option<RunError> = None;
        self.shuffle.start_batch(batch);
        let store = self.shared.store;
        let scanned = store.scan(task.kind, &task.range, &mut |id, bytes| {
            if self.stopped() {
                return ControlFlow::Break(());
            }
            if let Err(error) = self.map_entity(task, id, bytes, &mut tally) {
                failed = Some(error);
                return ControlFlow::Break(());
            }
            in_chunk += 1;
            if in_chunk == CHUNK_ENTITIES {
                if let Err(error) = self.end_chunk(task, &mut tally, &mut task_tally, false) {
                    failed = Some(error);
                    return ControlFlow::Break(());
                }
                batch.1 += 1;
                in_chunk = 0;
                self.shuffle.start_batch(batch);
            }
            ControlFlow::Continue(())
        });
        scanned?;
        if let Some(error) = failed {
            return Err(error);
        }
        // What is pending belongs to entities mapped completely: commit it, also on cancel.
        self.end_chunk(task, &mut tally, &mut task_tally, true)?;
        self.outputs.push((task.index, task_tally));
        if !self.stopped()
            && let Some(shard) = self.shared.progress.shards().get(task.index)
        {
            // Done, also when it came out shorter than planned (the kind shrank meanwhile).
            shard.finish();
        }
        Ok(())
    }

    /// Maps one entity, its pairs going to this worker's shuffle.
    #[inline]
    fn map_entity(&mut self, task: &MapTask, id: &str, bytes: &[u8], tally: &mut MapTally) -> Result<(), RunError> {
        let shuffle = &mut self.shuffle;
        let sink = |key, value| {
            shuffle.push(key, value);
            Ok::<(), RunError>(())
        };
        let options = self.shared.options;
        let outcome = self.mapper.map_entity(
            task.model,
            task.kind,
            id,
            bytes,
            tally,
            &mut self.writes,
            options.write_batch_size,
            sink,
        )?;
        if let EntityOutcome::Mapped(_) = outcome {
            self.shuffle.spill_if_over_budget()?;
        }
        Ok(())
    }

    /// Ends the current chunk of `task` (its last when `task_done`): commits its writes, sorts
    /// its pairs into runs (some carry on into the next chunk), and adds what it counted
    /// (`chunk`, emptied) to the shard's progress and to `task_tally`.
    fn end_chunk(
        &mut self,
        task: &MapTask,
        chunk: &mut MapTally,
        task_tally: &mut MapTally,
        task_done: bool,
    ) -> Result<(), RunError> {
        let shuffle = &mut self.shuffle;
        self.mapper.flush(chunk, &mut self.writes, &mut |key, value| {
            shuffle.push(key, value);
            Ok::<(), RunError>(())
        })?;
        // Sorted here, on the worker, so reduce only merges.
        self.shuffle.finish_batch(task_done);
        let mut chunk = std::mem::take(chunk);
        chunk.failures.extend(self.shuffle.take_key_failures());
        if let Some(shard) = self.shared.progress.shards().get(task.index) {
            shard.record_batch(chunk.entities_read, chunk.pairs_emitted, chunk.failures.count);
            shard.add_counters(&chunk.counters);
        }
        task_tally.append(chunk);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::keep_the_cause;
    use crate::exec::RunError;
    use crate::store::StoreError;

    fn full() -> RunError {
        RunError::Store(StoreError::Full { path: PathBuf::from("s.redb"), reason: "File too large".into() })
    }

    fn stopped() -> RunError {
        RunError::Store(StoreError::StoppedAfterFailure { path: PathBuf::from("s.redb") })
    }

    #[test]
    fn the_failed_write_is_reported_not_the_refusals_that_followed_it() {
        let mut kept = None;
        keep_the_cause(&mut kept, stopped());
        keep_the_cause(&mut kept, full());
        keep_the_cause(&mut kept, stopped());
        assert!(matches!(kept, Some(RunError::Store(StoreError::Full { .. }))), "{kept:?}");

        let mut kept = None;
        keep_the_cause(&mut kept, full());
        keep_the_cause(&mut kept, stopped());
        assert!(matches!(kept, Some(RunError::Store(StoreError::Full { .. }))), "{kept:?}");
    }
}
