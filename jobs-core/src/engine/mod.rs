//! The local engine: map, shuffle and reduce in parallel on one machine.
//!
//! 1. **Plan** (`plan.rs`): each listed model's kind is cut into `shards` contiguous id
//!    ranges of sizes differing by at most one ([`Store::split_each`]); a task is one
//!    (model, shard), numbered in model order, then id order. The ranges are cut on a thread
//!    of their own as the map begins, each handed over as soon as it is cut.
//! 2. **Map** (`map_phase.rs`): worker threads take the tasks in order and scan each one's
//!    range, mapping every entity through the execution core ([`exec`](crate::exec)) where the
//!    store hands over its bytes. They group the emitted pairs by partition and key
//!    (`partition_buffer.rs`, `worker_shuffle.rs`), sorting each chunk's groups when it is done
//!    (so sorting runs on every core). Writes are committed in atomic batches. A combining job's
//!    values are folded per chunk (`combine.rs`), then per task once every task is mapped
//!    (`task_fold.rs`).
//! 3. **Bounded memory** (`exec/budget.rs`, `exec/spill.rs`, shared with the cluster): each
//!    worker holds at most its share of [`RunOptions::max_memory`]; past it, it writes what it
//!    holds, sorted, to a spill file in a temporary directory that lives as long as the run.
//! 4. **Reduce** (`reduce_phase.rs`): each partition merges its sorted runs, in memory or
//!    spilled, taken in task order, a key group at a time (`exec/group_merge.rs`), so a
//!    key's values stay in task order, then emit order, and stream to `reduce` without being
//!    gathered; partitions run in parallel and their outputs are merged by key, into the
//!    report or, given an [`OutputSink`](crate::OutputSink), to it; reduce spools the
//!    report's text to disk past a quarter of the budget (`exec/report_text.rs`).
//!
//! Because task order is model order then id order, and every stage keeps it, a job's
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

#![forbid(unsafe_code)]

mod combine;
mod map_phase;
mod partition_buffer;
mod plan;
mod reduce_phase;
mod task_fold;
mod worker_shuffle;

// The budget, the spill files and the merge are shared with the cluster, in the execution core;
// named here so the engine's modules reach them as `super::spill` and the like.
use crate::exec::{budget, group_merge, spill};

pub use self::budget::{DEFAULT_MAX_MEMORY_CAP, default_max_memory};
// The engine-neutral types, under the paths they had when they lived here.
pub use crate::exec::{
    CancelToken, DEFAULT_SHARDS, FailureRecord, FailureSite, MAX_REPORTED_FAILURES, MAX_SHARDS, Phase, Progress,
    RunError, RunOptions, RunReport, RunStats, ShardProgress, SpillError, counter, default_threads, now_ms,
};
pub(crate) use crate::exec::{key_hash, partition_of};

use crate::exec::Engine;
use crate::job::Job;
use crate::store::Store;

/// The name runs record for the local engine.
pub const LOCAL_ENGINE: &str = "local";

/// The local engine as an [`Engine`]: [`run`] on this machine's threads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocalEngine;

impl Engine for LocalEngine {
    fn name(&self) -> &'static str {
        LOCAL_ENGINE
    }

    fn run<J: Job>(
        &self,
        job: &J,
        store: &dyn Store,
        options: &RunOptions,
        _params: &str,
    ) -> Result<RunReport, RunError> {
        run(job, store, options)
    }
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
    let shards = crate::exec::shards_for::<J>(options)?.get();
    let threads = options.threads.unwrap_or_else(default_threads).max(1);
    let progress = options.progress.clone().unwrap_or_default();
    progress.set_phase(Phase::Planning);

    let sizes = plan::sizes(store, J::MODELS, shards)?;
    let tasks = sizes.len();
    progress.plan(sizes);
    // The ranges themselves are cut as the map goes (`plan::cut`).
    tracing::debug!(job = J::NAME, shards, threads, tasks, "planned");

    // Declared before everything holding its files, so it is dropped (and deleted) last,
    // also when a panic unwinds through here.
    let spill_dir =
        std::sync::Arc::new(spill::SpillDir::new(options.spill_dir.clone().unwrap_or_else(spill::default_parent)));
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
    let mapped = map_phase::run(job, &shared, shards)?;
    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, pairs = mapped.pairs_shuffled, "mapped");

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
        let setup =
            reduce_phase::ReduceSetup { threads, max_memory, spill_dir: &spill_dir, sink: options.output.as_ref() };
        let reduced = reduce_phase::run(job, mapped.partitions, &options.cancel, &progress, &setup)?;
        tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "reduced");
        report.canceled = reduced.canceled;
        report.stats.keys_reduced = reduced.keys_reduced;
        failure_count += reduced.failure_count;
        failures.extend(reduced.failures);
        report.output = reduced.output;
    }
    failures.truncate(MAX_REPORTED_FAILURES);
    report.failures = failures;
    report.stats.failures = failure_count;
    spill_dir.close();
    report.elapsed = started.elapsed();
    progress.set_phase(Phase::Done);
    Ok(report)
}

/// Several partitions per thread, so one heavy partition does not leave the others idle.
fn partitions_for(threads: usize) -> usize {
    threads * 4
}
