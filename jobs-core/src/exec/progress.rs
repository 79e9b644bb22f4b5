//! Live progress of a run, readable from other threads while it runs.

use std::sync::{Mutex, OnceLock};

use crate::context::Counters;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

/// The progress of a run: per shard while mapping, then per key while reducing.
///
/// Create one, pass it in [`RunOptions::progress`](super::RunOptions::progress), and read it
/// from another thread: a progress bar, the admin page, or a run record.
#[derive(Debug, Default)]
pub struct Progress {
    shards: OnceLock<Vec<ShardProgress>>,
    phase: AtomicU8,
    keys_reduced: AtomicU64,
}

/// Which phase a run is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Splitting the kinds into shards.
    Planning,
    /// Mapping shards.
    Map,
    /// Sorting and reducing keys.
    Reduce,
    /// Finished.
    Done,
}

/// The progress of one shard of one model.
#[derive(Debug)]
pub struct ShardProgress {
    /// The model's kind.
    pub kind: &'static str,
    /// The shard's index within its kind.
    pub index: usize,
    /// How many entities the shard held when it was split.
    pub total: u64,
    read: AtomicU64,
    emitted: AtomicU64,
    failed: AtomicU64,
    done: AtomicBool,
    counters: Mutex<Counters>,
}

impl ShardProgress {
    pub(crate) fn new(kind: &'static str, index: usize, total: u64) -> Self {
        ShardProgress {
            kind,
            index,
            total,
            read: AtomicU64::new(0),
            emitted: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            done: AtomicBool::new(false),
            counters: Mutex::new(Counters::default()),
        }
    }

    /// Entities read so far.
    pub fn read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// Pairs emitted so far.
    pub fn emitted(&self) -> u64 {
        self.emitted.load(Ordering::Relaxed)
    }

    /// Entities that failed so far.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// The job's own counters for this shard, as of the last snapshot (added after every batch
    /// of entities).
    pub fn counters(&self) -> Counters {
        crate::sync::lock(&self.counters).clone()
    }

    /// Whether the shard has been mapped completely.
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Relaxed)
    }

    /// Records `read` entities read, with the pairs they emitted and how many failed: what a
    /// map worker gathered over a few entities, so that two workers do not bounce the cache
    /// line of neighbouring shards' counters between their cores on every entity.
    #[inline]
    pub(crate) fn record_batch(&self, read: u64, emitted: u64, failed: u64) {
        self.read.fetch_add(read, Ordering::Relaxed);
        if emitted > 0 {
            self.emitted.fetch_add(emitted, Ordering::Relaxed);
        }
        if failed > 0 {
            self.failed.fetch_add(failed, Ordering::Relaxed);
        }
    }

    /// Adds a batch's counters to the shard's.
    pub(crate) fn add_counters(&self, counters: &Counters) {
        if !counters.is_empty() {
            crate::sync::lock(&self.counters).merge(counters);
        }
    }

    pub(crate) fn finish(&self) {
        self.done.store(true, Ordering::Relaxed);
    }

    /// Records a shard that another process mapped, from its final counts: an engine that
    /// spreads a run over processes gathers them where the run is recorded, so its record
    /// shows every shard.
    pub fn absorb(&self, read: u64, emitted: u64, failed: u64, counters: &Counters, done: bool) {
        self.read.fetch_add(read, Ordering::Relaxed);
        self.emitted.fetch_add(emitted, Ordering::Relaxed);
        self.failed.fetch_add(failed, Ordering::Relaxed);
        self.add_counters(counters);
        if done {
            self.finish();
        }
    }
}

impl Progress {
    /// Progress with nothing planned yet.
    pub fn new() -> Self {
        Progress::default()
    }

    /// The shards, once the run has split its kinds; empty before.
    pub fn shards(&self) -> &[ShardProgress] {
        self.shards.get().map_or(&[], Vec::as_slice)
    }

    /// The run's phase.
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Planning,
            1 => Phase::Map,
            2 => Phase::Reduce,
            _ => Phase::Done,
        }
    }

    /// Entities read across all shards.
    pub fn read(&self) -> u64 {
        self.shards().iter().map(ShardProgress::read).sum()
    }

    /// Entities that failed across all shards.
    pub fn failed(&self) -> u64 {
        self.shards().iter().map(ShardProgress::failed).sum()
    }

    /// Entities across all shards when they were split.
    pub fn total(&self) -> u64 {
        self.shards().iter().map(|s| s.total).sum()
    }

    /// Keys reduced so far.
    pub fn keys_reduced(&self) -> u64 {
        self.keys_reduced.load(Ordering::Relaxed)
    }

    pub(crate) fn plan(&self, shards: Vec<ShardProgress>) {
        // A Progress is meant for one run; if reused, the first plan stays visible.
        let _ = self.shards.set(shards);
        self.set_phase(Phase::Map);
    }

    pub(crate) fn set_phase(&self, phase: Phase) {
        let code = match phase {
            Phase::Planning => 0,
            Phase::Map => 1,
            Phase::Reduce => 2,
            Phase::Done => 3,
        };
        self.phase.store(code, Ordering::Relaxed);
    }

    pub(crate) fn add_keys_reduced(&self, keys: u64) {
        self.keys_reduced.fetch_add(keys, Ordering::Relaxed);
    }
}
