//! Mapping one entity, the same way in every engine: decode it and call the job's `map`,
//! catch a panic, record a failure (dropping the entity's pairs and writes), hand the pairs
//! on, and commit writes in atomic batches.
//!
//! Writes are conditional ([`Store::apply_checked`](crate::store::Store::apply_checked)): an
//! entity's writes apply only if what it read is unchanged. So the pairs and counts of an
//! entity that wrote wait with its writes, and reach the run only once those are stored; on a
//! conflict the entity is read again and mapped again, at most [`CONFLICT_RETRIES`] times.

use std::ops::Range;

use crate::context::{Counters, MapContext, MapEnv, ReadEntity};
use crate::job::{Job, Reduce};
use crate::store::{StoreError, WriteBatch};

use super::panic;
use super::report::{FailureLog, FailureSite, counter};

/// How many times an entity whose writes conflicted with another writer's is read and mapped
/// again before it fails with a `conflict`.
pub(crate) const CONFLICT_RETRIES: u32 = 3;

/// What a stretch of mapping (a batch, a task) counted, besides its pairs.
#[derive(Debug, Default)]
pub(crate) struct MapTally {
    /// The job's own counters and the engine's (`puts`, `deletes`, `conflicts_retried`).
    pub(crate) counters: Counters,
    /// Entities that failed, and keys whose `combine` panicked.
    pub(crate) failures: FailureLog,
    pub(crate) entities_read: u64,
    /// Pairs emitted by entities that did not fail.
    pub(crate) pairs_emitted: u64,
}

impl MapTally {
    /// Adds what `other` counted after what this one did.
    pub(crate) fn append(&mut self, other: MapTally) {
        self.counters.merge(&other.counters);
        self.failures.append(other.failures);
        self.entities_read += other.entities_read;
        self.pairs_emitted += other.pairs_emitted;
    }
}

/// Writes waiting to be committed, and how many were committed.
#[derive(Debug, Default)]
pub(crate) struct PendingWrites {
    batch: WriteBatch,
    /// Writes committed so far.
    pub(crate) committed: u64,
}

/// How one entity came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntityOutcome {
    /// `map` succeeded and emitted this many pairs.
    Mapped(u64),
    /// Decoding or `map` failed (or panicked): the failure is recorded, and the entity's pairs
    /// and writes are dropped.
    Failed,
}

/// An entity mapped successfully whose writes wait to be committed, with what it produced.
struct Deferred<K, V> {
    model: usize,
    kind: String,
    id: String,
    pairs: Vec<(K, V)>,
    counters: Counters,
    /// Its writes' positions in the pending batch.
    writes: Range<usize>,
    /// How many times it was mapped again after a conflict.
    retries: u32,
}

/// Maps entities for one job, reusing its buffer of staged pairs.
pub(crate) struct EntityMapper<'a, J: Reduce> {
    job: &'a J,
    env: &'a MapEnv<'a>,
    /// The pairs of the entity being mapped; they reach the shuffle only if it succeeds.
    staged: Vec<(J::Key, J::Value)>,
    /// The entities written by the `map` call under way.
    written: Vec<(&'static str, String)>,
    /// Entities whose writes are pending.
    deferred: Vec<Deferred<J::Key, J::Value>>,
}

impl<'a, J: Job> EntityMapper<'a, J> {
    /// A mapper of `job`'s entities in the run `env` describes.
    pub(crate) fn new(job: &'a J, env: &'a MapEnv<'a>) -> Self {
        EntityMapper { job, env, staged: Vec::new(), written: Vec::new(), deferred: Vec::new() }
    }

    /// Maps the entity `id` of the listed model number `model` (of kind `kind`), stored as
    /// `bytes`: on success each pair goes to `sink` in emit order (once the entity's writes,
    /// if any, are stored); on failure the failure is recorded in `tally` and the entity's
    /// writes are taken back out of `writes`. Then the pending writes are committed if
    /// `write_batch_size` of them have gathered.
    ///
    /// # Errors
    /// `sink` failed (the rest of the entity's pairs are dropped), or the store failed to
    /// commit the writes.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(crate) fn map_entity<E: From<StoreError>>(
        &mut self,
        model: usize,
        kind: &str,
        id: &str,
        bytes: &[u8],
        tally: &mut MapTally,
        writes: &mut PendingWrites,
        write_batch_size: usize,
        mut sink: impl FnMut(J::Key, J::Value) -> Result<(), E>,
    ) -> Result<EntityOutcome, E> {
        tally.entities_read += 1;
        let outcome = self.map_once(model, kind, id, bytes, 0, tally, writes, &mut sink)?;
        if writes.batch.len() >= write_batch_size {
            self.flush(tally, writes, &mut sink)?;
        }
        Ok(outcome)
    }

    /// Maps one entity (the `retries`-th time after conflicts), without committing.
    #[allow(clippy::too_many_arguments)]
    fn map_once<E: From<StoreError>>(
        &mut self,
        model: usize,
        kind: &str,
        id: &str,
        bytes: &[u8],
        retries: u32,
        tally: &mut MapTally,
        writes: &mut PendingWrites,
        sink: &mut impl FnMut(J::Key, J::Value) -> Result<(), E>,
    ) -> Result<EntityOutcome, E> {
        let writes_before = writes.batch.len();
        let mut counters = Counters::default();
        self.written.clear();
        let mut ctx = MapContext::<J> {
            staged: &mut self.staged,
            counters: &mut counters,
            writes: &mut writes.batch,
            env: self.env,
            entity: Some(ReadEntity { kind, id, bytes }),
            written: &mut self.written,
        };
        let job = self.job;
        let message = match panic::catch(|| job.map_stored(model, bytes, &mut ctx)) {
            Ok(Ok(())) => None,
            Ok(Err(failure)) => Some(failure.message().to_owned()),
            Err(panic_message) => Some(panic_message),
        };
        match message {
            None => {
                let pairs = self.staged.len() as u64;
                if writes.batch.len() > writes_before {
                    // Its pairs and counts wait for its writes to be stored.
                    self.deferred.push(Deferred {
                        model,
                        kind: kind.to_owned(),
                        id: id.to_owned(),
                        pairs: std::mem::take(&mut self.staged),
                        counters,
                        writes: writes_before..writes.batch.len(),
                        retries,
                    });
                } else {
                    tally.counters.merge(&counters);
                    tally.pairs_emitted += pairs;
                    for (key, value) in self.staged.drain(..) {
                        sink(key, value)?;
                    }
                }
                Ok(EntityOutcome::Mapped(pairs))
            }
            Some(message) => {
                // A failed entity contributes nothing: neither its pairs nor its writes.
                tally.counters.merge(&counters);
                self.staged.clear();
                writes.batch.truncate(writes_before);
                tally.failures.record(FailureSite::Entity { kind: kind.to_owned(), id: id.to_owned() }, message);
                Ok(EntityOutcome::Failed)
            }
        }
    }

    /// Commits the pending writes as one conditional batch, then hands on the pairs and counts
    /// of the entities that wrote them. The entities whose writes conflicted are read and
    /// mapped again (or fail, past [`CONFLICT_RETRIES`]), and the rest is committed again,
    /// until nothing is pending.
    ///
    /// # Errors
    /// The store failed (the writes stay pending), or `sink` failed.
    pub(crate) fn flush<E: From<StoreError>>(
        &mut self,
        tally: &mut MapTally,
        writes: &mut PendingWrites,
        sink: &mut impl FnMut(J::Key, J::Value) -> Result<(), E>,
    ) -> Result<(), E> {
        while !writes.batch.is_empty() {
            let conflicts = self.env.store.apply_checked(&writes.batch)?;
            if conflicts.is_empty() {
                writes.committed += writes.batch.len() as u64;
                writes.batch.clear();
                for entity in self.deferred.drain(..) {
                    tally.counters.merge(&entity.counters);
                    tally.pairs_emitted += entity.pairs.len() as u64;
                    for (key, value) in entity.pairs {
                        sink(key, value)?;
                    }
                }
                break;
            }
            let old = std::mem::take(&mut writes.batch);
            let mut retry = Vec::new();
            for mut entity in std::mem::take(&mut self.deferred) {
                if conflicts.iter().any(|index| entity.writes.contains(index)) {
                    retry.push(entity);
                } else {
                    let start = writes.batch.len();
                    writes.batch.extend_from(&old, entity.writes.clone());
                    entity.writes = start..writes.batch.len();
                    self.deferred.push(entity);
                }
            }
            for entity in retry {
                if entity.retries >= CONFLICT_RETRIES {
                    let message = format!(
                        "conflict: another writer changed it each time it was mapped ({} times); its writes were \
                         not stored",
                        entity.retries + 1
                    );
                    tally.failures.record(FailureSite::Entity { kind: entity.kind, id: entity.id }, message);
                    continue;
                }
                tally.counters.add(counter::CONFLICTS_RETRIED, 1);
                // Deleted meanwhile: nothing is left to map.
                if let Some(bytes) = self.env.store.get(&entity.kind, &entity.id)? {
                    self.map_once(
                        entity.model,
                        &entity.kind,
                        &entity.id,
                        &bytes,
                        entity.retries + 1,
                        tally,
                        writes,
                        sink,
                    )?;
                }
            }
        }
        Ok(())
    }
}
