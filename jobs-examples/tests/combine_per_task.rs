//! The local engine's map-side combiner folds per map task, not per reader batch: a counting
//! job carries about one pair per key per task to reduce, whatever the number of batches.
//!
//! Measured on this data (40,000 users, 4 shards, 19 username lengths, 36,020 pairs emitted):
//! 2,596 pairs shuffled when the combiner folded per batch of 256, 73 now (at most 19 × 4),
//! for 1, 2 and 3 threads alike.

use jobs_core::{MemoryStore, RunOptions, RunReport, engine};
use jobs_examples::UsernameLengthDistributionOneOffJob;
use jobs_examples::demo::{self, SeedOptions};

/// Users in the store: many reader batches (of 256 entities) per task.
const USERS: usize = 40_000;
const SHARDS: usize = 4;

fn run(store: &MemoryStore, threads: usize, combine: bool) -> RunReport {
    let options = RunOptions::default().with_shards(SHARDS).with_threads(threads).with_combine(combine);
    let report = engine::run(&UsernameLengthDistributionOneOffJob { min_length: None }, store, &options).expect("run");
    assert_eq!(report.stats.failures, 0, "{:?}", report.failures);
    report
}

#[test]
fn combining_carries_about_one_pair_per_key_per_task() {
    let store = MemoryStore::new();
    demo::seed_with_threads(&store, &SeedOptions { explorations: 0, users: USERS, seed: 7 }, 2).expect("seed");
    let plain = run(&store, 2, false);
    assert_eq!(plain.pairs_shuffled, plain.stats.pairs_emitted);
    let batches_per_task = USERS / SHARDS / 256;
    assert!(batches_per_task >= 30, "the test needs many batches per task");
    for threads in [1, 2, 3] {
        let combined = run(&store, threads, true);
        assert_eq!(combined.output, plain.output, "threads {threads}");
        // Every output line is one username length: the job's keys.
        let keys = combined.output.len() as u64;
        let one_per_key_per_task = keys * SHARDS as u64;
        assert!(
            combined.pairs_shuffled <= one_per_key_per_task,
            "threads {threads}: {} pairs shuffled for {keys} keys over {SHARDS} tasks (of {} emitted)",
            combined.pairs_shuffled,
            combined.stats.pairs_emitted
        );
        // Lengths common enough to appear in every task: at least one pair each per task.
        assert!(combined.pairs_shuffled >= keys, "{}", combined.pairs_shuffled);
    }
}
