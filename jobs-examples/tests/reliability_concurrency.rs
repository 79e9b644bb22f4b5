//! Several `jobs` processes at once on one store file: one migrating, three auditing. Every
//! run completes, each audit prints exactly what it prints alone (the migration changes no
//! interaction), and the migration is whole.
//!
//! "At once" is checked, not assumed: the runs' recorded intervals (started to finished) must
//! share an instant, all four of them. Processes that happened to run one after another would
//! prove nothing, so such an attempt is checked like any other and then tried again, a bounded
//! number of times.

mod migration_check;
mod support;

use std::process::{Child, Stdio};

use jobs_core::runs::{RunLog, Status};
use jobs_core::store::RedbStore;

use migration_check::{MIGRATION, Seeded, report_counts};
use support::{Ran, jobs_command};

const AUDIT: &str = "InteractionAuditOneOffJob";
const READERS: usize = 3;

fn spawn(store: &std::path::Path, job: &str) -> Child {
    jobs_command(store, &["run", job]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start jobs run")
}

/// Attempts at most, for the four runs to overlap.
const ATTEMPTS: usize = 5;

#[test]
fn a_writer_and_three_readers_in_four_processes_share_one_store_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seeded = Seeded::new(dir.path(), 4000);
    let alone_store = dir.path().join("alone.redb");
    seeded.copy_to(&alone_store);
    let alone = Ran::from(jobs_command(&alone_store, &["run", AUDIT]).output().expect("audit"));
    alone.assert_code(0);

    let mut intervals = Vec::new();
    for attempt in 0..ATTEMPTS {
        let path = dir.path().join(format!("shared-{attempt}.redb"));
        seeded.copy_to(&path);
        let writer = spawn(&path, MIGRATION);
        let readers: Vec<Child> = (0..READERS).map(|_| spawn(&path, AUDIT)).collect();
        for reader in readers {
            let ran = Ran::from(reader.wait_with_output().expect("reader"));
            ran.assert_code(0);
            assert_eq!(ran.out, alone.out, "an audit beside the migration prints what it prints alone");
        }
        let migrated = Ran::from(writer.wait_with_output().expect("writer"));
        migrated.assert_code(0);
        assert_eq!(report_counts(&migrated.out).get("MIGRATED"), Some(&(seeded.to_migrate as u64)));

        let store = RedbStore::open(&path).expect("open");
        let census = seeded.census(&store);
        assert!(census.lost.is_empty(), "{:?}", census.lost);
        assert_eq!(census.migrated, seeded.to_migrate);
        let recorded = store.recent().expect("runs");
        assert_eq!(recorded.len(), 1 + READERS);
        assert!(recorded.iter().all(|run| run.status() == Status::Completed), "{recorded:?}");
        intervals = recorded
            .iter()
            .map(|run| {
                let started = run.started_ms.expect("a completed run has started");
                let finished = run.finished_ms.expect("a completed run has finished");
                (run.job.clone(), started, finished)
            })
            .collect();
        // Four intervals share an instant when the latest start comes before the earliest end.
        let latest_start = intervals.iter().map(|(_, started, _)| *started).max().expect("four runs");
        let earliest_end = intervals.iter().map(|(_, _, finished)| *finished).min().expect("four runs");
        if latest_start < earliest_end {
            eprintln!(
                "attempt {}: the four runs all ran during {} ms (ms since the epoch, started..finished: {intervals:?})",
                attempt + 1,
                earliest_end - latest_start
            );
            return;
        }
        eprintln!("attempt {}: the runs did not all overlap ({intervals:?}); trying again", attempt + 1);
    }
    panic!("in {ATTEMPTS} attempts the four runs never all ran at once; the last: {intervals:?}");
}
