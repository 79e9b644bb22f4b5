//! The local engine: map, shuffle and reduce in parallel on one machine.
//!
//! 1. **Plan** (`reader.rs`): each listed model's kind is cut into `shards` runs of
//!    consecutive ids, of sizes differing by at most one, from its count ([`Store::count`]);
//!    a task is one (model, shard), numbered in model order, then id order.
//! 2. **Map** (`map_phase.rs`): the calling thread reads each kind once, in id order, and
//!    hands batches of stored bytes (never straddling two tasks) to worker threads through a
//!    bounded crossbeam channel. The workers decode and map each entity, and group the emitted
//!    pairs by partition and key (`partition_buffer.rs`, `worker_shuffle.rs`), sorting each
//!    batch's groups when it is done (so sorting runs on every core). Writes are committed in
//!    atomic batches.
//! 3. **Bounded memory** (`budget.rs`, `spill.rs`): each worker holds at most its share of
//!    [`RunOptions::max_memory`]; past it, it writes what it holds, sorted, to a spill file in a
//!    temporary directory that lives as long as the run.
//! 4. **Reduce** (`reduce_phase.rs`): each partition merges its sorted runs, in memory or
//!    spilled, taken in reading order, a key group at a time (`group_merge.rs`), so a key's values
//!    stay in task order, then emit order, and stream to `reduce` without being gathered;
//!    partitions run in parallel and their outputs are merged by key.
//!
//! Because reading order is model order then id order, and every stage keeps it, a job's
//! output is byte-identical whatever the shard count, thread count or memory budget.
//!
//! ```
//! use jobs_core::prelude::*;
//! use jobs_core::{MemoryStore, RunOptions, engine, testing};
//!
//! #[derive(Model, Serialize, Deserialize)]
//! pub struct Note { id: String, words: Vec<String> }
//!
//! /// Counts words across notes.
//! #[one_off_job(models = [Note], shards = 4)]
//! pub struct WordCount;
//!
//! impl Map<Note> for WordCount {
//!     fn map(&self, note: Note, ctx: &mut MapContext<'_, Self>) -> Outcome {
//!         for word in note.words {
//!             ctx.emit(word, 1);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! impl Reduce for WordCount {
//!     type Key = String;
//!     type Value = u32;
//!     fn reduce(&self, word: String, ones: Values<'_, u32>, out: &mut Output) -> Outcome {
//!         out.line(format!("{word} {}", ones.sum::<u32>()));
//!         Ok(())
//!     }
//! }
//!
//! let store = MemoryStore::new();
//! testing::put_all(&store, &[
//!     Note { id: "n1".into(), words: vec!["to".into(), "be".into()] },
//!     Note { id: "n2".into(), words: vec!["or".into(), "not".into(), "to".into(), "be".into()] },
//! ])?;
//! let report = engine::run(&WordCount, &store, &RunOptions::default())?;
//! assert_eq!(report.output, ["be 2", "not 1", "or 1", "to 2"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod budget;
mod cancel;
mod combine;
mod group_merge;
mod map_phase;
pub(crate) mod panic;
mod partition_buffer;
mod progress;
mod reader;
mod reduce_phase;
mod spill;
mod worker_shuffle;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use self::budget::default_max_memory;
pub use self::cancel::CancelToken;
pub use self::progress::{Phase, Progress, ShardProgress};
pub use self::spill::SpillError;

use crate::context::Counters;
use crate::job::Job;
use crate::store::{Store, StoreError};

/// The most shards a run may use.
pub const MAX_SHARDS: usize = 256;
/// The shard count of a job that does not set one (Oppia's default).
pub const DEFAULT_SHARDS: usize = 8;
/// How many failures a report keeps; the rest are only counted.
pub const MAX_REPORTED_FAILURES: usize = 100;

/// Names of the counters the engine itself keeps beside a job's own.
pub mod counter {
    /// Models put by `MapContext::put` (counted in dry runs too).
    pub const PUTS: &str = "puts";
    /// Models deleted by `MapContext::delete` (counted in dry runs too).
    pub const DELETES: &str = "deletes";
}

/// How to run a job. `RunOptions::default()` uses the job's shard count and every core.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Shards per listed model; the job's default when `None`.
    pub shards: Option<usize>,
    /// Worker threads; the number of cores when `None`.
    pub threads: Option<usize>,
    /// Count writes instead of storing them.
    pub dry_run: bool,
    /// Set it to stop the run early; the report then says `canceled` and has no output.
    pub cancel: CancelToken,
    /// Filled in while the run goes, for progress bars and status pages.
    pub progress: Option<Arc<Progress>>,
    /// How many writes are committed together, atomically.
    pub write_batch_size: usize,
    /// When the run was queued (ms since the epoch); now when `None`.
    pub queued_at_ms: Option<i64>,
    /// Fold values map-side with the job's [`combine`](crate::Reduce::combine), if it has
    /// one (`Reduce::COMBINES`). On by default; the output is the same either way.
    pub combine: bool,
    /// How many entities and keys may fail before the run counts as failed
    /// ([`RunReport::exceeds_failure_limit`]); the job's [`Job::MAX_FAILURES`] when `None`.
    pub max_failures: Option<u64>,
    /// Run on the timely-dataflow engine, as this process of this cluster, instead of the
    /// local engine (through [`JobDescriptor::run`](crate::JobDescriptor::run)).
    #[cfg(feature = "timely")]
    pub cluster: Option<crate::cluster::ClusterConfig>,
    /// The most memory, in bytes, the shuffle may hold; past it, sorted runs are spilled to
    /// temporary files and merged back for reduce, with the same output. `None` is
    /// [`default_max_memory`] (a quarter of the machine's RAM, at most 512 MiB).
    pub max_memory: Option<u64>,
    /// Where the run's temporary directory of spill files is made (only if it spills); `None`
    /// is `JOBS_TMPDIR` when set, else [`std::env::temp_dir`]. The directory is removed when
    /// the run ends, however it ends.
    pub spill_dir: Option<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            shards: None,
            threads: None,
            dry_run: false,
            cancel: CancelToken::new(),
            progress: None,
            write_batch_size: 500,
            queued_at_ms: None,
            combine: true,
            max_failures: None,
            #[cfg(feature = "timely")]
            cluster: None,
            max_memory: None,
            spill_dir: None,
        }
    }
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
    /// How many failures the run allowed ([`RunOptions::max_failures`] or the job's
    /// [`Job::MAX_FAILURES`]).
    #[serde(default)]
    pub max_failures: u64,
    /// How many times the job was started: 1, or more when the timely engine ran it again
    /// after its cluster failed (`--retries`).
    #[serde(default)]
    pub attempts: u32,
    /// Bytes of sorted runs the shuffle wrote to temporary files because it outgrew
    /// [`RunOptions::max_memory`]; 0 when it fit in memory.
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
    /// use jobs_core::engine::RunReport;
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

/// A run could not be carried out at all (as opposed to entities that failed within it).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The shard count is outside `1..=MAX_SHARDS`.
    #[error("{shards} shards is out of range: use 1 to {MAX_SHARDS}")]
    InvalidShards {
        /// The count asked for.
        shards: usize,
    },
    /// The store failed; the run stopped.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The timely engine could not carry the run out.
    #[cfg(feature = "timely")]
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    /// The shuffle's temporary files could not be written or read back; the run stopped.
    #[error(transparent)]
    Spill(#[from] SpillError),
}

/// Runs `job` over `store` on this machine and returns its report.
///
/// Entities that fail to decode or map, and keys whose reduce fails, are recorded in the
/// report and the run goes on. A canceled run returns `Ok` with `canceled` set.
///
/// # Errors
/// The shard count is out of range, the store could not be read or written, or the shuffle's
/// temporary files could not be written or read.
pub fn run<J: Job>(job: &J, store: &dyn Store, options: &RunOptions) -> Result<RunReport, RunError> {
    let started = std::time::Instant::now();
    let shards = options.shards.unwrap_or(J::DEFAULT_SHARDS);
    if shards == 0 || shards > MAX_SHARDS {
        return Err(RunError::InvalidShards { shards });
    }
    let threads = options.threads.unwrap_or_else(default_threads).max(1);
    let progress = options.progress.clone().unwrap_or_default();
    progress.set_phase(Phase::Planning);

    let tasks = reader::plan(store, J::MODELS, shards)?;
    progress.plan(tasks.iter().map(|t| ShardProgress::new(t.kind, t.shard, t.len)).collect());
    tracing::debug!(job = J::NAME, shards, threads, tasks = tasks.len(), "planned");

    // Declared before everything holding its files, so it is dropped (and deleted) last,
    // also when a panic unwinds through here.
    let spill_dir = spill::SpillDir::new(options.spill_dir.clone().unwrap_or_else(spill::default_parent));
    let max_memory = options.max_memory.unwrap_or_else(default_max_memory);
    let shared = map_phase::MapShared {
        store,
        options,
        queued_at_ms: options.queued_at_ms.unwrap_or_else(now_ms),
        progress: &progress,
        threads,
        partitions: partitions_for(threads),
        max_memory,
        spill_dir: &spill_dir,
    };
    let mapped = map_phase::run(job, &shared, &tasks)?;

    let max_failures = options.max_failures.unwrap_or(J::MAX_FAILURES);
    let mut report =
        RunReport { job: J::NAME.to_owned(), shards, threads, max_failures, attempts: 1, ..RunReport::default() };
    report.counters = mapped.counters;
    report.stats.entities_read = mapped.entities_read;
    report.stats.pairs_emitted = mapped.pairs_emitted;
    report.stats.writes_committed = mapped.writes_committed;
    report.spilled_bytes = mapped.spilled_bytes;
    report.pairs_shuffled = mapped.pairs_shuffled;
    let mut failures = mapped.failures;
    let mut failure_count = mapped.failure_count;

    if options.cancel.is_canceled() {
        report.canceled = true;
        drop(mapped.partitions);
    } else {
        progress.set_phase(Phase::Reduce);
        let reduced =
            reduce_phase::run(job, mapped.partitions, &options.cancel, &progress, threads, max_memory, &spill_dir)?;
        report.canceled = options.cancel.is_canceled();
        report.stats.keys_reduced = reduced.keys_reduced;
        failure_count += reduced.failure_count;
        failures.extend(reduced.failures);
        if !report.canceled {
            report.output = reduced.output;
        }
    }
    failures.truncate(MAX_REPORTED_FAILURES);
    report.failures = failures;
    report.stats.failures = failure_count;
    spill_dir.close();
    report.elapsed = started.elapsed();
    progress.set_phase(Phase::Done);
    Ok(report)
}

/// The number of cores, or 1 when it cannot be told.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Several partitions per thread, so one heavy partition does not leave the others idle.
fn partitions_for(threads: usize) -> usize {
    threads * 4
}

/// The hash of a shuffle key: it picks the key's partition and finds the key in its buffer
/// (and, in the timely engine, the worker that reduces it).
#[inline]
pub(crate) fn key_hash<K: Hash + ?Sized>(key: &K) -> u64 {
    let mut hasher = rustc_hash::FxHasher::default();
    key.hash(&mut hasher);
    hasher.finish()
}

/// The shuffle partition of a key of hash `hash`, in `0..partitions`.
#[inline]
pub(crate) fn partition_of(hash: u64, partitions: usize) -> usize {
    // Multiply-shift maps the hash's well-mixed high bits onto the range without a division.
    ((u128::from(hash) * partitions as u128) >> 64) as usize
}
