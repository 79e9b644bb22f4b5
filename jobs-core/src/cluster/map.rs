//! The map side: a worker maps the tasks assigned to it, partitions what they emit by the
//! reduce worker of each key, and ships the pairs in key-sorted chunks.

use std::hash::Hash;
use std::ops::ControlFlow;

use crate::context::{MapContext, MapEnv};
use crate::engine::{self, FailureRecord, FailureSite, MAX_REPORTED_FAILURES, Progress, RunOptions, panic};
use crate::job::{Job, Reduce};
use crate::store::WriteBatch;

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
    engine::partition_of(engine::key_hash(key), workers) as u32
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
        let mut staged: Pairs<J> = Vec::new();
        let mut writes = WriteBatch::new();
        let mut failure: Option<String> = None;
        let scanned = self.env.store.scan(kind, &task.split.range, &mut |id, bytes| {
            if (self.stop)() {
                summary.canceled = true;
                return ControlFlow::Break(());
            }
            summary.entities_read += 1;
            let writes_before = writes.len();
            let mut ctx = MapContext::<J> {
                staged: &mut staged,
                counters: &mut summary.counters,
                writes: &mut writes,
                env: &self.env,
            };
            let message = match panic::catch(|| self.job.map_stored(task.model, bytes, &mut ctx)) {
                Ok(Ok(())) => None,
                Ok(Err(failure)) => Some(failure.message().to_owned()),
                Err(panic_message) => Some(panic_message),
            };
            let mut emitted = staged.len() as u64;
            let failed = message.is_some();
            match message {
                None => {
                    summary.pairs_emitted += emitted;
                    for (key, value) in staged.drain(..) {
                        let worker = worker_of(&key, self.workers) as usize;
                        outboxes[worker].pairs.push((key, value));
                        if let Err(error) =
                            self.maybe_ship(&mut outboxes[worker], worker, task_id, combining, &mut summary, ship)
                        {
                            failure = Some(error);
                            return ControlFlow::Break(());
                        }
                    }
                }
                Some(message) => {
                    // A failed entity contributes nothing: neither its pairs nor its writes.
                    staged.clear();
                    emitted = 0;
                    writes.truncate(writes_before);
                    summary.failure_count += 1;
                    if summary.failures.len() < MAX_REPORTED_FAILURES {
                        summary.failures.push(FailureRecord {
                            site: FailureSite::Entity { kind: kind.to_owned(), id: id.to_owned() },
                            message,
                        });
                    }
                }
            }
            if let Some(shard) = shard {
                shard.record_batch(1, emitted, u64::from(failed));
            }
            if writes.len() >= self.options.write_batch_size {
                match self.env.store.apply(&writes) {
                    Ok(()) => summary.writes_committed += writes.len() as u64,
                    Err(error) => {
                        summary.store_error = Some(error.to_string());
                        return ControlFlow::Break(());
                    }
                }
                writes.clear();
            }
            ControlFlow::Continue(())
        });
        if let Some(error) = failure {
            return Err(error);
        }
        if let Err(error) = scanned {
            summary.store_error.get_or_insert(error.to_string());
        }
        if summary.store_error.is_some() {
            return Ok(summary);
        }
        if !writes.is_empty() {
            match self.env.store.apply(&writes) {
                Ok(()) => summary.writes_committed += writes.len() as u64,
                Err(error) => {
                    summary.store_error = Some(error.to_string());
                    return Ok(summary);
                }
            }
        }
        for (worker, outbox) in outboxes.iter_mut().enumerate() {
            let failures = sort_and_combine(self.job, &mut outbox.pairs, combining);
            record_key_failures(&mut summary, failures);
            if !outbox.pairs.is_empty() {
                summary.pairs_shipped += outbox.pairs.len() as u64;
                ship(take_shipment::<J>(outbox, worker, task_id)?);
            }
        }
        if let Some(shard) = shard {
            // Counters are added once, when the task is done: the shard's are a sum.
            shard.add_counters(&summary.counters);
            if !summary.canceled {
                shard.finish();
            }
        }
        Ok(summary)
    }

    /// Combines a full buffer (combining jobs), and ships it once it holds a chunk.
    fn maybe_ship(
        &self,
        outbox: &mut Outbox<J>,
        worker: usize,
        task: u32,
        combining: bool,
        summary: &mut TaskSummary,
        ship: &mut dyn FnMut(Shipment),
    ) -> Result<(), String> {
        if combining && outbox.pairs.len() >= outbox.combine_at {
            let failures = sort_and_combine(self.job, &mut outbox.pairs, true);
            record_key_failures(summary, failures);
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

fn record_key_failures(summary: &mut TaskSummary, failures: Vec<FailureRecord>) {
    summary.failure_count += failures.len() as u64;
    let room = MAX_REPORTED_FAILURES.saturating_sub(summary.failures.len());
    summary.failures.extend(failures.into_iter().take(room));
}

/// Sorts `pairs` stably by key and, when `combine` is set, folds each key's values with the
/// job's combiner; a key whose `combine` panics is dropped and returned as a failure.
///
/// The same rule as the local engine's map-side combine (`engine/combine.rs`), kept here
/// because that one is private to the local engine.
fn sort_and_combine<J: Reduce>(job: &J, pairs: &mut Pairs<J>, combine: bool) -> Vec<FailureRecord> {
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
        if values.len() > 1
            && let Err(message) = panic::catch(|| job.combine(&key, &mut values))
        {
            failures.push(FailureRecord { site: FailureSite::key(&key), message: format!("combine {message}") });
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
