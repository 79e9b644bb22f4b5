//! Crash safety of a migration, with real processes: `jobs run ExplorationMigrationJob` is
//! killed with SIGKILL at random moments, and each time the store must hold every exploration
//! either fully migrated or untouched, the same number of entities, a run recorded
//! `interrupted` (never `started` or `queued` for ever), and a re-run must finish the migration.
//!
//! The store is seeded once, small enough that redb's repair after an unclean shutdown is
//! quick, and copied for each trial. The kill delays come from a seeded generator, spread over
//! the time one uninterrupted run takes here, so the kills land in every phase: opening,
//! planning, mapping between and during batch commits, reducing, recording the end. Nothing is
//! asserted about timings; the figures are printed for the README.

mod support;

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use jobs_core::model;
use jobs_core::runs::{self, RunLog, Status};
use jobs_core::{KeyRange, Model, RedbStore, Store};
use jobs_examples::models::{CURRENT_SCHEMA_VERSION, ExplorationModel, ExplorationRightsModel};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use support::{Ran, jobs_command};

const EXPLORATIONS: &str = "5000";
const TRIALS: usize = 24;
const MIGRATION: &str = "ExplorationMigrationJob";

/// Every entity of `kind` in `store`, with its stored bytes, by id.
fn rows(store: &RedbStore, kind: &str) -> BTreeMap<String, Vec<u8>> {
    let mut rows = BTreeMap::new();
    store
        .scan(kind, &KeyRange::all(), &mut |id, bytes| {
            rows.insert(id.to_owned(), bytes.to_vec());
            ControlFlow::Continue(())
        })
        .expect("scan");
    rows
}

/// What the migration should leave of each exploration: the migrated model for the ones it
/// rewrites, `None` for the ones it leaves alone (current or deleted).
fn expected_migrations(originals: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Option<ExplorationModel>> {
    originals
        .iter()
        .map(|(id, bytes)| {
            let mut exploration: ExplorationModel = model::decode(bytes).expect("seeded explorations decode");
            let migrated = !exploration.deleted && exploration.migrate_to_current_schema().expect("known versions");
            (id.clone(), migrated.then_some(exploration))
        })
        .collect()
}

/// How the explorations in a store compare with the originals.
#[derive(Debug, Default)]
struct Census {
    untouched: usize,
    migrated: usize,
    /// Missing, undecodable, or neither the original nor its exact migration.
    lost: Vec<String>,
}

fn census(
    store: &RedbStore,
    originals: &BTreeMap<String, Vec<u8>>,
    expected: &BTreeMap<String, Option<ExplorationModel>>,
) -> Census {
    let now = rows(store, ExplorationModel::KIND);
    let mut census = Census::default();
    for (id, original) in originals {
        match now.get(id) {
            Some(bytes) if bytes == original => census.untouched += 1,
            Some(bytes) => match (model::decode::<ExplorationModel>(bytes), &expected[id]) {
                (Ok(found), Some(migrated)) if &found == migrated && found.schema_version == CURRENT_SCHEMA_VERSION => {
                    census.migrated += 1;
                }
                (found, _) => census.lost.push(format!("{id}: {found:?}")),
            },
            None => census.lost.push(format!("{id}: missing")),
        }
    }
    census.lost.extend(now.keys().filter(|id| !originals.contains_key(*id)).map(|id| format!("{id}: unexpected")));
    census
}

/// `["MIGRATED",n]` and `["ALREADY_CURRENT",n]` from a run's report lines.
fn report_counts(out: &str) -> BTreeMap<String, u64> {
    out.lines()
        .map(|line| serde_json::from_str::<(String, u64)>(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect()
}

/// Waits until the run's lock file appears beside the store (the run is claimed and about to
/// start) or the child has exited.
fn wait_for_claim(store: &Path, child: &mut std::process::Child) {
    let lock_dir = runs::liveness::lock_dir(store);
    let give_up = Instant::now() + Duration::from_secs(30);
    while Instant::now() < give_up && child.try_wait().expect("child status").is_none() {
        let claimed = std::fs::read_dir(&lock_dir).map(|mut entries| entries.next().is_some()).unwrap_or(false);
        if claimed {
            return;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn copy_store(from: &Path, to: &Path) {
    std::fs::copy(from, to).expect("copy the seeded store");
}

#[test]
fn a_migration_killed_at_random_points_loses_nothing_and_a_rerun_finishes_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seeded = dir.path().join("seeded.redb");
    Ran::from(jobs_command(&seeded, &["seed", "--explorations", EXPLORATIONS]).output().expect("seed")).assert_code(0);
    let (originals, rights) = {
        let store = RedbStore::open(&seeded).expect("open the seeded store");
        (rows(&store, ExplorationModel::KIND), rows(&store, ExplorationRightsModel::KIND).len())
    };
    let expected = expected_migrations(&originals);
    let to_migrate = expected.values().filter(|m| m.is_some()).count();
    let live = originals
        .values()
        .filter(|bytes| !model::decode::<ExplorationModel>(bytes).expect("seeded explorations decode").deleted)
        .count();
    assert!(to_migrate > 100, "the seed has old explorations to migrate: {to_migrate}");

    // One uninterrupted run, to spread the kill delays over what a run takes here.
    let calibration = dir.path().join("calibration.redb");
    copy_store(&seeded, &calibration);
    let started = Instant::now();
    let full = Ran::from(jobs_command(&calibration, &["run", MIGRATION]).output().expect("run"));
    let run_time = started.elapsed();
    full.assert_code(0);
    assert_eq!(report_counts(&full.out).get("MIGRATED"), Some(&(to_migrate as u64)), "{}", full.out);

    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x6b69_6c6c);
    let (mut landed, mut mid_migration, mut before_record, mut before_start, mut checked, mut lost) =
        (0, 0, 0, 0, 0, 0);
    let deadline = Instant::now() + Duration::from_secs(600);
    for trial in 0..TRIALS {
        assert!(Instant::now() < deadline, "the trials are bounded in time; stopped at trial {trial}");
        let path = dir.path().join(format!("trial-{trial}.redb"));
        copy_store(&seeded, &path);
        let delay = Duration::from_micros(rng.random_range(0..=run_time.as_micros() as u64 * 11 / 10));
        let mut child = jobs_command(&path, &["run", MIGRATION])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start jobs run");
        // Even trials count the delay from the start of the process, so some kills land while
        // it opens the store or records the run; odd ones from the moment it has claimed the
        // run, so more land while it maps and commits.
        if trial % 2 == 1 {
            wait_for_claim(&path, &mut child);
        }
        std::thread::sleep(delay);
        let killed = child.try_wait().expect("child status").is_none();
        if killed {
            child.kill().expect("SIGKILL");
            landed += 1;
        }
        let status = child.wait().expect("wait for the child");

        // Open as every command does: a run whose process died is recorded interrupted.
        let store = runs::open_store(&path).expect("the store opens after a kill");
        let after_kill = census(&store, &originals, &expected);
        checked += originals.len();
        lost += after_kill.lost.len();
        assert!(after_kill.lost.is_empty(), "trial {trial}: explorations lost or torn: {:?}", after_kill.lost);
        assert_eq!(store.count(ExplorationModel::KIND).expect("count"), originals.len() as u64, "trial {trial}");
        assert_eq!(store.count(ExplorationRightsModel::KIND).expect("count"), rights as u64, "trial {trial}");
        if after_kill.migrated > 0 && after_kill.migrated < to_migrate {
            mid_migration += 1;
        }
        let recorded = store.recent().expect("runs");
        assert!(recorded.len() <= 1, "trial {trial}: {recorded:?}");
        match recorded.first() {
            None => {
                assert!(killed, "trial {trial}: a run that was not killed is recorded");
                assert_eq!(after_kill.migrated, 0, "trial {trial}: migrated without a recorded run");
                before_record += 1;
            }
            Some(run) if killed && run.status() != Status::Completed => {
                assert!(run.was_interrupted(), "trial {trial}: a killed run is {} ({:?})", run.status(), run.error);
                if run.started_ms.is_none() {
                    before_start += 1;
                }
            }
            Some(run) => {
                // Not killed, or killed after recording its end: it completed everything.
                assert_eq!(run.status(), Status::Completed, "trial {trial}: {status:?} {:?}", run.error);
                assert_eq!(after_kill.migrated, to_migrate, "trial {trial}");
            }
        }
        drop(store);

        // A re-run finishes the migration and counts what was already done as current.
        let rerun = Ran::from(jobs_command(&path, &["run", MIGRATION]).output().expect("re-run"));
        rerun.assert_code(0);
        let counts = report_counts(&rerun.out);
        let remaining = (to_migrate - after_kill.migrated) as u64;
        assert_eq!(counts.get("MIGRATED").copied().unwrap_or(0), remaining, "trial {trial}: {}", rerun.out);
        assert_eq!(
            counts.get("ALREADY_CURRENT").copied().unwrap_or(0),
            live as u64 - remaining,
            "trial {trial}: {}",
            rerun.out
        );
        let store = RedbStore::open(&path).expect("open after the re-run");
        let after_rerun = census(&store, &originals, &expected);
        assert!(after_rerun.lost.is_empty(), "trial {trial}: {:?}", after_rerun.lost);
        assert_eq!(after_rerun.migrated, to_migrate, "trial {trial}: the re-run migrated everything");
        drop(store);
        std::fs::remove_file(&path).expect("remove the trial's store");
    }

    eprintln!(
        "SIGKILL trials: {TRIALS} runs of {MIGRATION} over {} explorations ({to_migrate} to migrate), one uninterrupted \
         run {:.0} ms; kills landed while the process ran: {landed} (mid-migration, some batches committed and \
         some not: {mid_migration}; before the run was recorded: {before_record}; recorded but not yet started, now interrupted too: \
         {before_start}); explorations checked: {checked}; \
         entities lost or torn: {lost}",
        originals.len(),
        run_time.as_secs_f64() * 1000.0
    );
    assert_eq!(lost, 0);
    assert!(landed > 0, "no kill landed while a run went");
}
