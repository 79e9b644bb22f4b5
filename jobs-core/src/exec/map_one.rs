//! Mapping one entity, the same way in every engine: decode it and call the job's `map`,
//! catch a panic, record a failure (dropping the entity's pairs and writes), hand the pairs
//! on, and commit writes in atomic batches.

use crate::context::{Counters, MapContext, MapEnv};
use crate::job::{Job, Reduce};
use crate::store::{StoreError, WriteBatch};

use super::panic;
use super::report::{FailureLog, FailureSite};

/// What a stretch of mapping (a batch, a task) counted, besides its pairs.
#[derive(Debug, Default)]
pub(crate) struct MapTally {
    /// The job's own counters and the engine's (`puts`, `deletes`).
    pub(crate) counters: Counters,
    /// Entities that failed, and keys whose `combine` panicked.
    pub(crate) failures: FailureLog,
    pub(crate) entities_read: u64,
    /// Pairs emitted by entities that did not fail.
    pub(crate) pairs_emitted: u64,
}

/// Writes waiting to be committed, and how many were committed.
#[derive(Debug, Default)]
pub(crate) struct PendingWrites {
    batch: WriteBatch,
    /// Writes committed so far.
    pub(crate) committed: u64,
}

impl PendingWrites {
    /// Commits the pending writes as one atomic batch.
    ///
    /// # Errors
    /// The store failed; the writes stay pending.
    pub(crate) fn commit(&mut self, env: &MapEnv<'_>) -> Result<(), StoreError> {
        if !self.batch.is_empty() {
            env.store.apply(&self.batch)?;
            self.committed += self.batch.len() as u64;
            self.batch.clear();
        }
        Ok(())
    }

    /// Commits the pending writes once `batch_size` of them have gathered.
    ///
    /// # Errors
    /// The store failed.
    pub(crate) fn commit_if_full(&mut self, env: &MapEnv<'_>, batch_size: usize) -> Result<(), StoreError> {
        if self.batch.len() >= batch_size { self.commit(env) } else { Ok(()) }
    }
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

/// Maps entities for one job, reusing its buffer of staged pairs.
pub(crate) struct EntityMapper<'a, J: Reduce> {
    job: &'a J,
    env: &'a MapEnv<'a>,
    /// The pairs of the entity being mapped; they reach the shuffle only if it succeeds.
    staged: Vec<(J::Key, J::Value)>,
}

impl<'a, J: Job> EntityMapper<'a, J> {
    /// A mapper of `job`'s entities in the run `env` describes.
    pub(crate) fn new(job: &'a J, env: &'a MapEnv<'a>) -> Self {
        EntityMapper { job, env, staged: Vec::new() }
    }

    /// Maps the entity `id` of the listed model number `model` (of kind `kind`), stored as
    /// `bytes`: on success each pair goes to `sink` in emit order; on failure the failure is
    /// recorded in `tally` and the entity's writes are taken back out of `writes`. Then the
    /// pending writes are committed if `write_batch_size` of them have gathered.
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
        let writes_before = writes.batch.len();
        let mut ctx = MapContext::<J> {
            staged: &mut self.staged,
            counters: &mut tally.counters,
            writes: &mut writes.batch,
            env: self.env,
        };
        let job = self.job;
        let message = match panic::catch(|| job.map_stored(model, bytes, &mut ctx)) {
            Ok(Ok(())) => None,
            Ok(Err(failure)) => Some(failure.message().to_owned()),
            Err(panic_message) => Some(panic_message),
        };
        let outcome = match message {
            None => {
                let pairs = self.staged.len() as u64;
                tally.pairs_emitted += pairs;
                for (key, value) in self.staged.drain(..) {
                    sink(key, value)?;
                }
                EntityOutcome::Mapped(pairs)
            }
            Some(message) => {
                // A failed entity contributes nothing: neither its pairs nor its writes.
                self.staged.clear();
                writes.batch.truncate(writes_before);
                tally.failures.record(FailureSite::Entity { kind: kind.to_owned(), id: id.to_owned() }, message);
                EntityOutcome::Failed
            }
        };
        writes.commit_if_full(self.env, write_batch_size)?;
        Ok(outcome)
    }
}
