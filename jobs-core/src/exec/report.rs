//! What a run produced, whichever engine carried it out: the report, the engine's own counts,
//! and the entities and keys that failed.

use std::fmt;
use std::time::Duration;

use crate::context::Counters;

/// How many failures a report keeps; the rest are only counted.
pub const MAX_REPORTED_FAILURES: usize = 100;

/// Names of the counters the engines keep beside a job's own.
pub mod counter {
    /// Models put by `MapContext::put` (counted in dry runs too).
    pub const PUTS: &str = "puts";
    /// Models deleted by `MapContext::delete` (counted in dry runs too).
    pub const DELETES: &str = "deletes";
    /// Entities mapped again because another writer changed them between the read and the
    /// commit of their writes.
    pub const CONFLICTS_RETRIED: &str = "conflicts_retried";
}

/// What a finished run produced.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunReport {
    /// The job's name.
    pub job: String,
    /// The report lines, in key order. Empty when canceled.
    pub output: Vec<String>,
    /// The job's own counters, plus `puts` and `deletes`.
    pub counters: Counters,
    /// What the engine counted.
    pub stats: RunStats,
    /// The first [`MAX_REPORTED_FAILURES`] failures; `stats.failures` counts them all.
    pub failures: Vec<FailureRecord>,
    /// Whether the run was canceled before it finished.
    pub canceled: bool,
    /// Shards per model used.
    pub shards: usize,
    /// Worker threads used.
    pub threads: usize,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// How many failures the run allowed ([`RunOptions::max_failures`](super::RunOptions::max_failures) or the job's
    /// [`Job::MAX_FAILURES`](crate::Job::MAX_FAILURES)).
    #[serde(default)]
    pub max_failures: u64,
    /// How many times the job was started: 1, or more when the timely engine ran it again
    /// after its cluster failed (`--retries`).
    #[serde(default)]
    pub attempts: u32,
    /// Bytes of sorted runs the shuffle wrote to temporary files because it outgrew
    /// [`RunOptions::max_memory`](super::RunOptions::max_memory); 0 when it fit in memory.
    #[serde(default)]
    pub spilled_bytes: u64,
    /// Pairs the shuffle carried to reduce: `stats.pairs_emitted` less what map-side
    /// combining folded away.
    #[serde(default)]
    pub pairs_shuffled: u64,
}

impl RunReport {
    /// Whether more entities and keys failed than the run allowed: then it counts as failed.
    ///
    /// ```
    /// use jobs_core::RunReport;
    ///
    /// let mut report = RunReport { max_failures: 2, ..RunReport::default() };
    /// report.stats.failures = 2;
    /// assert!(!report.exceeds_failure_limit());
    /// report.stats.failures = 3;
    /// assert!(report.exceeds_failure_limit());
    /// ```
    pub fn exceeds_failure_limit(&self) -> bool {
        self.stats.failures > self.max_failures
    }
}

/// The engine's own counts for a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunStats {
    /// Entities read from the store.
    pub entities_read: u64,
    /// Pairs emitted by `map` (of entities that did not fail).
    pub pairs_emitted: u64,
    /// Distinct keys reduced.
    pub keys_reduced: u64,
    /// Entities and keys that failed.
    pub failures: u64,
    /// Writes committed to the store.
    pub writes_committed: u64,
}

/// One entity or key that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FailureRecord {
    /// What failed.
    pub site: FailureSite,
    /// Why: the error's message, or the panic's message and location.
    pub message: String,
}

/// Where a failure happened.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FailureSite {
    /// Decoding or mapping one entity.
    Entity {
        /// The entity's kind.
        kind: String,
        /// The entity's id.
        id: String,
    },
    /// Reducing one key.
    Key {
        /// The key, as JSON.
        key: String,
    },
}

impl FailureSite {
    /// The site of a key that failed, the key written as JSON (as reports show keys).
    pub(crate) fn key<K: serde::Serialize + ?Sized>(key: &K) -> Self {
        let key = serde_json::to_string(key).unwrap_or_else(|e| format!("<key not printable: {e}>"));
        FailureSite::Key { key }
    }
}

impl fmt::Display for FailureRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.site {
            FailureSite::Entity { kind, id } => write!(f, "{kind} {id}: {}", self.message),
            FailureSite::Key { key } => write!(f, "reduce key {key}: {}", self.message),
        }
    }
}

/// Failures as a run keeps them: all counted, the first [`MAX_REPORTED_FAILURES`] recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FailureLog {
    /// The first failures, in the order they were recorded.
    pub(crate) records: Vec<FailureRecord>,
    /// How many failed, recorded or not.
    pub(crate) count: u64,
}

impl FailureLog {
    /// Counts one failure, and keeps it if there is room.
    pub(crate) fn record(&mut self, site: FailureSite, message: String) {
        self.count += 1;
        if self.records.len() < MAX_REPORTED_FAILURES {
            self.records.push(FailureRecord { site, message });
        }
    }

    /// Counts every failure of `records`, keeping the first while there is room.
    pub(crate) fn extend(&mut self, records: Vec<FailureRecord>) {
        self.count += records.len() as u64;
        let room = MAX_REPORTED_FAILURES.saturating_sub(self.records.len());
        self.records.extend(records.into_iter().take(room));
    }

    /// Adds another log's failures after this one's.
    pub(crate) fn append(&mut self, other: FailureLog) {
        let room = MAX_REPORTED_FAILURES.saturating_sub(self.records.len());
        self.records.extend(other.records.into_iter().take(room));
        self.count += other.count;
    }
}
