//! Reducing one key group, the same way in every engine: call the job's `reduce` with the
//! key's values, catch a panic, and keep the key's lines (or hand them to a spool of report
//! text, `report_text.rs`) or record it as failed.

use serde::{Deserialize, Serialize};

use crate::job::{Output, Reduce, ValueSource, Values};

use super::report_text::{PartitionText, SharedSpool, TextSpool};
use super::spill::SpillError;

use super::panic;
use super::report::{FailureRecord, FailureSite, MAX_REPORTED_FAILURES};

/// What reducing some keys produced, in the order the keys were reduced.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ReducedKeys<K> {
    /// Each key that printed something, with its lines.
    pub(crate) lines: Vec<(K, Vec<String>)>,
    /// The first keys that failed (with the key, to order failures by key later).
    pub(crate) failures: Vec<(K, FailureRecord)>,
    /// How many keys failed.
    pub(crate) failure_count: u64,
    /// How many keys were reduced, failed or not.
    pub(crate) keys_reduced: u64,
}

impl<K> Default for ReducedKeys<K> {
    fn default() -> Self {
        ReducedKeys { lines: Vec::new(), failures: Vec::new(), failure_count: 0, keys_reduced: 0 }
    }
}

/// Reduces key groups of one job, one at a time, reusing its output buffer.
pub(crate) struct KeyReducer<'a, J: Reduce> {
    job: &'a J,
    out: Output,
    /// Where the lines go, if not kept in `reduced`.
    spool: Option<SharedSpool>,
    reduced: ReducedKeys<J::Key>,
}

impl<'a, J: Reduce> KeyReducer<'a, J> {
    /// A reducer of `job`'s keys that keeps their lines ([`ReducedKeys::lines`]).
    #[cfg_attr(not(feature = "timely"), allow(dead_code, reason = "the cluster (feature `timely`) uses it"))]
    pub(crate) fn new(job: &'a J) -> Self {
        KeyReducer { job, out: Output::new(), spool: None, reduced: ReducedKeys::default() }
    }

    /// A reducer of `job`'s keys that writes their lines to `spool` as `reduce` writes them.
    pub(crate) fn spooling(job: &'a J, spool: TextSpool) -> Self {
        let spool = SharedSpool::new(spool);
        let out = Output::spilling(Box::new(spool.clone()));
        KeyReducer { job, out, spool: Some(spool), reduced: ReducedKeys::default() }
    }

    /// Reduces `key`, whose `len` values are `first` then `rest` (whatever `reduce` leaves
    /// unread of `rest` is skipped).
    ///
    /// # Errors
    /// The spool could not be written: the run cannot go on.
    pub(crate) fn reduce_key(
        &mut self,
        key: J::Key,
        first: J::Value,
        rest: &mut dyn ValueSource<J::Value>,
        len: usize,
    ) -> Result<(), SpillError> {
        let ordering_key = key.clone();
        if let Some(spool) = &self.spool {
            spool.begin(&ordering_key)?;
        }
        self.out.begin_key();
        let (job, out) = (self.job, &mut self.out);
        let outcome = panic::catch(|| job.reduce(key, Values::new(first, rest, len.saturating_sub(1)), out));
        let message = match outcome {
            // Kept, unless its text turned out not to be whole.
            Ok(Ok(())) => self.out.end_key(),
            Ok(Err(failure)) => Some(failure.message().to_owned()),
            Err(panic_message) => Some(panic_message),
        };
        let reduced = &mut self.reduced;
        reduced.keys_reduced += 1;
        match message {
            None => match &self.spool {
                Some(spool) => spool.end()?,
                None => {
                    let lines = self.out.take();
                    if !lines.is_empty() {
                        reduced.lines.push((ordering_key, lines));
                    }
                }
            },
            Some(message) => {
                // A failed key prints nothing, not even what it wrote before failing.
                self.out.abandon_key();
                if let Some(spool) = &self.spool {
                    spool.abandon()?;
                }
                reduced.failure_count += 1;
                if reduced.failures.len() < MAX_REPORTED_FAILURES {
                    let site = FailureSite::key(&ordering_key);
                    reduced.failures.push((ordering_key, FailureRecord { site, message }));
                }
            }
        }
        Ok(())
    }

    /// What the keys reduced so far produced, and the text their lines were spooled to, if
    /// they were.
    ///
    /// # Errors
    /// The spool could not be written.
    pub(crate) fn finish(self) -> Result<(ReducedKeys<J::Key>, Option<PartitionText>), SpillError> {
        let text = self.spool.map(|spool| spool.finish()).transpose()?;
        Ok((self.reduced, text))
    }
}
