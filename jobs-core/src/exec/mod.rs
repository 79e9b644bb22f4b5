//! The execution core every engine shares: how one entity is mapped and one key group
//! reduced, how values are combined map-side, and what a run reports.
//!
//! It owns the engine-neutral half of a run:
//!
//! * **options and checks**: [`RunOptions`], [`Shards`], [`RunError`];
//! * **one entity** (`map_one.rs`): decode, call `map`, catch a panic, record the failure
//!   (dropping the entity's pairs and writes), hand the pairs on, commit writes in batches;
//! * **one key group** (`reduce_one.rs`): call `reduce`, catch a panic, keep the lines or
//!   record the key as failed;
//! * **combining** (`combine.rs`): a key's values from one map task folded by the job;
//! * **bounded memory** (`budget.rs`, `grouped_run.rs`, `spill.rs`, `group_merge.rs`,
//!   `report_text.rs`): the budget's split, sorted runs in memory and in spill files, their
//!   ordered merge, and the report's text spooled by reduce and merged by key;
//! * **reporting**: [`RunReport`], [`FailureRecord`], [`Progress`], [`CancelToken`], and
//!   [`OutputSink`], where report lines go when they should not be held.
//!
//! Engines are leaves above it: the local engine ([`engine`](crate::engine)) and, with the
//! feature `timely`, the cluster (`cluster`). Each implements [`Engine`]; neither reaches into
//! the other, and nothing here knows which engines exist.

#![forbid(unsafe_code)]

pub(crate) mod budget;
mod cancel;
pub(crate) mod combine;
mod engine;
mod error;
pub(crate) mod group_merge;
pub(crate) mod grouped_run;
pub(crate) mod map_one;
mod options;
pub(crate) mod output_sink;
pub(crate) mod panic;
mod progress;
pub(crate) mod reduce_one;
pub(crate) mod report;
pub(crate) mod report_text;
mod shards;
pub(crate) mod spill;

use std::hash::{Hash, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

pub use self::cancel::CancelToken;
pub use self::engine::Engine;
pub use self::error::{RunError, SpillError};
pub use self::options::RunOptions;
pub use self::output_sink::{OutputSink, TextSink};
pub use self::progress::{Phase, Progress, ShardProgress};
pub use self::report::{FailureRecord, FailureSite, MAX_REPORTED_FAILURES, RunReport, RunStats, counter};
pub use self::shards::{DEFAULT_SHARDS, MAX_SHARDS, Shards, ShardsError};

/// The number of cores, or 1 when it cannot be told.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The shard count a run of `J` uses: the one asked for, else the job's default, checked.
///
/// # Errors
/// It is out of range.
pub(crate) fn shards_for<J: crate::job::Job>(options: &RunOptions) -> Result<Shards, ShardsError> {
    Shards::new(options.shards.unwrap_or(J::DEFAULT_SHARDS))
}

/// The hash of a shuffle key: it picks the key's partition and finds the key in its buffer
/// (and, in an engine spread over workers, the worker that reduces it).
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
