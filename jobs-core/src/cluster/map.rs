//! The map side: a worker maps the tasks assigned to it, partitions what they emit by the
//! reduce worker of each key, and ships the pairs in key-sorted chunks.

use std::hash::Hash;
use std::ops::ControlFlow;

use crate::context::MapEnv;
use crate::exec::combine::combine_group;
use crate::exec::map_one::{EntityMapper, EntityOutcome, MapTally, PendingWrites};
use crate::exec::{self, FailureRecord, Progress, RunOptions};
use crate::job::{Job, Reduce};
use crate::store::StoreError;

use super::wire::{PlannedTask, Shipment, TaskSummary, encode};

/// A task ships a worker's pairs once this many have gathered, so no buffer grows with the
/// size of a shard.
const CHUNK_PAIRS: usize = 16 * 1024;
/// Buffers shorter than this are not combined before their task ends (as in the local engine).
const MIN_COMBINE_LEN: usize = 4096;

type Pairs<J> = Vec<(<J as Reduce>::Key, <J as Reduce>::Value)>;

/// What a worker needs to map its tasks.
pub(super) struct MapDuty<'a, J: Job> {
    pub(super) job: &'a J,
    pub(super) env: MapEnv<'a>,
    pub(super) options: &'a RunOptions,
    pub(super) progress: &'a Progress,
    /// Workers in the whole cluster: the reduce workers keys are spread over.
    pub(super) workers: usize,
    /// Whether to stop now: the run was canceled or the cluster failed.
    pub(super) stop: &'a (dyn Fn() -> bool + Sync),
}

/// The reduce worker of `key`: its shuffle hash mapped onto `0..workers`, as the local engine
/// maps keys onto its partitions.
pub(super) fn worker_of<K: Hash>(key: &K, workers: usize) -> u32 {
    exec::partition_of(exec::key_hash(key), workers) as u32
}

/// One task's pairs for one reduce worker, waiting to be shipped.
struct Outbox<J: Reduce> {
    pairs: Pairs<J>,
    chunks_sent: u32,
    combine_at: usize,
}

impl<J: Job> MapDuty<'_, J> {
    /// Maps task `index`, handing each chunk of pairs to `ship` as it fills; returns the
    /// task's summary.
    pub(super) fn map_task(
        &self,
        index: usize,
        task: &PlannedTask,
        ship: &mut dyn FnMut(Shipment),
    ) -> Result<TaskSummary, String> {
        let kind = J::MODELS.get(task.model).copied().ok_or_else(|| format!("the plan names model {}", task.model))?;
        let task_id = u32::try_from(index).map_err(|_| "too many tasks".to_owned())?;
        let mut summary = TaskSummary { task: task_id, ..TaskSummary::default() };
        let combining = J::COMBINES && self.options.combine;
        let mut outboxes: Vec<Outbox<J>> = (0..self.workers)
            .map(|_| Outbox { pairs: Vec::new(), chunks_sent: 0, combine_at: MIN_COMBINE_LEN })
            .collect();
        let shard = self.progress.shards().get(index);
        let mut mapper = EntityMapper::new(self.job, &self.env);
        let mut tally = MapTally::default();
        let mut writes = PendingWrites::default();
        let mut stopped: Option<TaskStop> = None;
        let mut key_failures: Vec<FailureRecord> = Vec::new();
        let scanned = self.env.store.scan(kind, &task.split.range, &mut |id, bytes| {
            if (self.stop)() {
                summary.canceled = true;
                return ControlFlow::Break(());
            }
            let failures_before = tally.failures.count;
            let sink = |key: J::Key, value| {
                let worker = worker_of(&key, self.workers) as usize;
                outboxes[worker].pairs.push((key, value));
                let outbox = &mut outboxes[worker];
                self.maybe_ship(outbox, worker, task_id, combining, &mut key_failures, &mut summary, ship)
                    .map_err(TaskStop::Ship)
            };
            let outcome = mapper.map_entity(
                task.model,
                kind,
                id,
                bytes,
                &mut tally,
                &mut writes,
                self.options.write_batch_size,
                sink,
            );
            let entity_failed = tally.failures.count - failures_before;
            // Keys whose `combine` panicked while this entity's pairs were pushed.
            tally.failures.extend(std::mem::take(&mut key_failures));
            match outcome {
                Ok(outcome) => {
                    if let Some(shard) = shard {
                        let emitted = match outcome {
                            EntityOutcome::Mapped(pairs) => pairs,
                            EntityOutcome::Failed => 0,
                        };
                        shard.record_batch(1, emitted, entity_failed);
                    }
                    ControlFlow::Continue(())
                }
                Err(stop) => {
                    stopped = Some(stop);
                    ControlFlow::Break(())
                }
            }
        });
        match stopped {
            Some(TaskStop::Ship(error)) => return Err(error),
            Some(TaskStop::Store(error)) => summary.store_error = Some(error.to_string()),
            None => {}
        }
        if let Err(error) = scanned {
            summary.store_error.get_or_insert(error.to_string());
        }
        if summary.store_error.is_none() {
            let failures_before = tally.failures.count;
            let flushed = mapper.flush(&mut tally, &mut writes, &mut |key: J::Key, value| {
                let worker = worker_of(&key, self.workers) as usize;
                outboxes[worker].pairs.push((key, value));
                let outbox = &mut outboxes[worker];
                self.maybe_ship(outbox, worker, task_id, combining, &mut key_failures, &mut summary, ship)
                    .map_err(TaskStop::Ship)
            });
            tally.failures.extend(std::mem::take(&mut key_failures));
            if let Some(shard) = shard {
                shard.record_batch(0, 0, tally.failures.count - failures_before);
            }
            match flushed {
                Ok(()) => {}
                Err(TaskStop::Ship(error)) => return Err(error),
                Err(TaskStop::Store(error)) => summary.store_error = Some(error.to_string()),
            }
        }
        summary.writes_committed = writes.committed;
        if summary.store_error.is_some() {
            fill_summary(&mut summary, tally);
            return Ok(summary);
        }
        for (worker, outbox) in outboxes.iter_mut().enumerate() {
            let failures = sort_and_combine(self.job, &mut outbox.pairs, combining);
            tally.failures.extend(failures);
            if !outbox.pairs.is_empty() {
                summary.pairs_shipped += outbox.pairs.len() as u64;
                ship(take_shipment::<J>(outbox, worker, task_id)?);
            }
        }
        if let Some(shard) = shard {
            // Counters are added once, when the task is done: the shard's are a sum.
            shard.add_counters(&tally.counters);
            if !summary.canceled {
                shard.finish();
            }
        }
        fill_summary(&mut summary, tally);
        Ok(summary)
    }

    /// Combines a full buffer (combining jobs), and ships it once it holds a chunk.
    #[allow(clippy::too_many_arguments)]
    fn maybe_ship(
        &self,
        outbox: &mut Outbox<J>,
        worker: usize,
        task: u32,
        combining: bool,
        key_failures: &mut Vec<FailureRecord>,
        summary: &mut TaskSummary,
        ship: &mut dyn FnMut(Shipment),
    ) -> Result<(), String> {
        if combining && outbox.pairs.len() >= outbox.combine_at {
            key_failures.extend(sort_and_combine(self.job, &mut outbox.pairs, true));
            outbox.combine_at = (2 * outbox.pairs.len()).max(MIN_COMBINE_LEN);
        }
        if outbox.pairs.len() >= CHUNK_PAIRS {
            sort_and_combine(self.job, &mut outbox.pairs, false);
            summary.pairs_shipped += outbox.pairs.len() as u64;
            ship(take_shipment::<J>(outbox, worker, task)?);
            outbox.combine_at = MIN_COMBINE_LEN;
        }
        Ok(())
    }
}

/// Encodes an outbox's (sorted) pairs as the next chunk and empties it.
fn take_shipment<J: Reduce>(outbox: &mut Outbox<J>, worker: usize, task: u32) -> Result<Shipment, String> {
    let pairs = encode(&outbox.pairs)?;
    outbox.pairs.clear();
    let chunk = outbox.chunks_sent;
    outbox.chunks_sent += 1;
    Ok(Shipment { worker: worker as u32, task, chunk, pairs })
}

/// Why a task stopped before its last entity.
enum TaskStop {
    /// A chunk could not be encoded: the session fails.
    Ship(String),
    /// The store failed: the run fails with this error.
    Store(StoreError),
}

impl From<StoreError> for TaskStop {
    fn from(error: StoreError) -> Self {
        TaskStop::Store(error)
    }
}

/// Moves what the task counted into its summary.
fn fill_summary(summary: &mut TaskSummary, tally: MapTally) {
    summary.counters = tally.counters;
    summary.failures = tally.failures.records;
    summary.failure_count = tally.failures.count;
    summary.entities_read = tally.entities_read;
    summary.pairs_emitted = tally.pairs_emitted;
}

/// Sorts `pairs` stably by key and, when `combine` is set, folds each key's values with
/// [`combine_group`]; a key whose `combine` panics is dropped and returned as a failure.
fn sort_and_combine<J: Reduce>(job: &J, pairs: &mut Vec<(J::Key, J::Value)>, combine: bool) -> Vec<FailureRecord> {
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut failures = Vec::new();
    if !combine {
        return failures;
    }
    let mut combined = Vec::with_capacity(pairs.len());
    let mut values = Vec::new();
    let mut rest = std::mem::take(pairs).into_iter().peekable();
    while let Some((key, first)) = rest.next() {
        values.clear();
        values.push(first);
        while let Some((_, value)) = rest.next_if(|(next, _)| *next == key) {
            values.push(value);
        }
        if let Err(failure) = combine_group(job, &key, &mut values) {
            failures.push(failure);
            continue;
        }
        let last = values.pop();
        combined.extend(values.drain(..).map(|value| (key.clone(), value)));
        if let Some(last) = last {
            combined.push((key, last));
        }
    }
    *pairs = combined;
    failures
}

#[cfg(test)]
mod tests {
    use super::worker_of;

    #[test]
    fn keys_spread_over_every_worker_and_stay_in_range() {
        let mut seen = [0usize; 3];
        for key in 0..3000u32 {
            seen[worker_of(&key, 3) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 700), "{seen:?}");
        assert_eq!(worker_of(&"any", 1), 0);
    }
}
