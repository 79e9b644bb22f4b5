//! Crash safety, with real processes, killed with SIGKILL at random moments. `jobs run
//! ExplorationMigrationJob`: each time the store must hold every exploration either fully
//! migrated or untouched, the same number of entities, a run recorded `interrupted` (never
//! `started` or `queued` for ever), and a re-run must finish the migration. `jobs import`: the
//! store must hold the whole file or none of it.
//!
//! The store is seeded once, small enough that redb's repair after an unclean shutdown is
//! quick, and copied for each trial. The kill delays come from a seeded generator, spread over
//! the time one uninterrupted run takes here, so the kills land in every phase: opening,
//! planning, mapping between and during batch commits, reducing, recording the end. Nothing is
//! asserted about timings; the figures are printed for the README.

mod migration_check;
mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use jobs_core::runs::{self, RunLog, Status};
use jobs_core::{Model, RedbStore, Store};
use jobs_examples::models::{ExplorationModel, ExplorationRightsModel};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use migration_check::{MIGRATION, Seeded, report_counts};
use support::{Ran, jobs_command};

const EXPLORATIONS: usize = 5000;
const TRIALS: usize = 24;

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

#[test]
fn a_migration_killed_at_random_points_loses_nothing_and_a_rerun_finishes_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seeded = Seeded::new(dir.path(), EXPLORATIONS);
    let Seeded { originals, to_migrate, live, rights, .. } = &seeded;
    let (to_migrate, live, rights) = (*to_migrate, *live, *rights);
    // One uninterrupted run, to spread the kill delays over what a run takes here.
    let calibration = dir.path().join("calibration.redb");
    seeded.copy_to(&calibration);
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
        seeded.copy_to(&path);
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
        let after_kill = seeded.census(&store);
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
        let after_rerun = seeded.census(&store);
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

const IMPORT_TRIALS: usize = 12;

#[test]
fn an_import_killed_at_random_points_stores_all_of_its_file_or_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seeded = Seeded::new(dir.path(), 3000);
    // Every exploration, retitled: a file whose import changes every stored entity.
    let export = Ran::from(jobs_command(&seeded.path, &["export", "ExplorationModel"]).output().expect("export"));
    export.assert_code(0);
    let file = dir.path().join("retitled.jsonl");
    std::fs::write(&file, export.out.replace("\"title\":\"", "\"title\":\"IMPORTED ")).expect("write");
    let file = file.to_str().expect("utf-8");

    let calibration = dir.path().join("calibration.redb");
    seeded.copy_to(&calibration);
    let started = Instant::now();
    Ran::from(jobs_command(&calibration, &["import", "ExplorationModel", file]).output().expect("import"))
        .assert_code(0);
    let import_time = started.elapsed();

    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x1_4b07);
    let (mut landed, mut all, mut none) = (0, 0, 0);
    for trial in 0..IMPORT_TRIALS {
        let path = dir.path().join(format!("import-{trial}.redb"));
        seeded.copy_to(&path);
        let delay = Duration::from_micros(rng.random_range(0..=import_time.as_micros() as u64 * 11 / 10));
        let mut child = jobs_command(&path, &["import", "ExplorationModel", file])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start jobs import");
        std::thread::sleep(delay);
        if child.try_wait().expect("child status").is_none() {
            child.kill().expect("SIGKILL");
            landed += 1;
        }
        child.wait().expect("wait for the child");

        let store = RedbStore::open(&path).expect("the store opens after a kill");
        let census = seeded.census(&store);
        let imported = migration_check::rows(&store, ExplorationModel::KIND)
            .values()
            .filter(|bytes| {
                jobs_core::model::decode::<ExplorationModel>(bytes).expect("decodes").title.starts_with("IMPORTED ")
            })
            .count();
        assert_eq!(store.count(ExplorationModel::KIND).expect("count"), seeded.originals.len() as u64);
        if imported == 0 {
            assert_eq!(census.untouched, seeded.originals.len(), "trial {trial}: nothing imported, nothing changed");
            none += 1;
        } else {
            assert_eq!(imported, seeded.originals.len(), "trial {trial}: an import is stored whole or not at all");
            all += 1;
        }
        drop(store);
        std::fs::remove_file(&path).expect("remove the trial's store");
    }
    eprintln!(
        "SIGKILL of jobs import: {IMPORT_TRIALS} trials over {} explorations; kills landed while it ran: {landed}; \
         stores left with the whole file imported: {all}, with none of it: {none}, with part of it: 0",
        seeded.originals.len()
    );
}
