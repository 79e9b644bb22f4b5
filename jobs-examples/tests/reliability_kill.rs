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
//!
//! "At any moment" is only shown if kills land where it matters, so each test keeps killing
//! (up to a bound) until a stated number of kills landed mid-work, and asserts it: a migration
//! killed mid-way is seen in the store (some explorations migrated, some not); an import,
//! which is stored whole or not at all, is seen mid-write from the process (it had read its
//! whole file, and the store holds none of it).

mod migration_check;
mod support;

use std::ops::ControlFlow;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use jobs_core::runs::{self, RunLog, Status};
use jobs_core::store::{KeyRange, RedbStore};
use jobs_core::{Model, Store};
use jobs_examples::models::{ExplorationModel, ExplorationRightsModel};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use migration_check::{MIGRATION, Seeded, report_counts};
use support::{Ran, jobs_command};

const EXPLORATIONS: usize = 5000;
/// Trials run at least, for kills in every phase of a run: a third of each kind (see the
/// test).
const MIN_TRIALS: usize = 24;
/// Kills that must land mid-migration (some batches committed, some not).
const MIN_MID_MIGRATION: usize = 8;
/// Trials run at most, waiting for [`MIN_MID_MIGRATION`].
const MAX_TRIALS: usize = 64;

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

/// Watches the store at `path` beside `child`'s run of the migration until it holds some
/// explorations migrated and some not, or the child has exited; whether it saw that.
fn wait_for_partial_migration(path: &Path, seeded: &Seeded, child: &mut std::process::Child) -> bool {
    let store = RedbStore::open(path).expect("the store opens beside the run");
    let give_up = Instant::now() + Duration::from_secs(60);
    while Instant::now() < give_up && child.try_wait().expect("child status").is_none() {
        let mut changed = 0;
        store
            .scan(ExplorationModel::KIND, &KeyRange::all(), &mut |id, bytes| {
                if seeded.originals.get(id).is_some_and(|original| original.as_slice() != bytes) {
                    changed += 1;
                }
                ControlFlow::Continue(())
            })
            .expect("scan beside the run");
        if changed > 0 && changed < seeded.to_migrate {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
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
    let mut child = jobs_command(&calibration, &["run", MIGRATION])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start jobs run");
    wait_for_claim(&calibration, &mut child);
    let claimed = Instant::now();
    let full = Ran::from(child.wait_with_output().expect("run"));
    let (run_time, after_claim) = (started.elapsed(), claimed.elapsed());
    full.assert_code(0);
    assert_eq!(report_counts(&full.out).get("MIGRATED"), Some(&(to_migrate as u64)), "{}", full.out);

    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x6b69_6c6c);
    let (mut landed, mut mid_migration, mut before_record, mut before_start, mut checked, mut lost) =
        (0, 0, 0, 0, 0, 0);
    let mut trials = 0;
    while trials < MIN_TRIALS || (mid_migration < MIN_MID_MIGRATION && trials < MAX_TRIALS) {
        let trial = trials;
        trials += 1;
        let path = dir.path().join(format!("trial-{trial}.redb"));
        seeded.copy_to(&path);
        // Three kinds of trial. A delay from the start of the process, so some kills land while
        // it opens the store or records the run; a delay from the moment it has claimed the
        // run, so more land while it maps and commits. Both with the default threads, whose
        // workers here gather all their writes (fewer than a batch each) until they end. And
        // on one thread, whose writes commit 500 at a time, watched from beside it: a short
        // delay after the store is seen holding part of the migration, so most of these kills
        // land mid-migration.
        let kind = trial % 3;
        let span = if kind == 0 { run_time } else { after_claim };
        let delay = Duration::from_micros(rng.random_range(0..=span.as_micros() as u64 * 11 / 10));
        let threads: &[&str] = if kind == 2 { &["--threads", "1"] } else { &[] };
        let mut child = jobs_command(&path, &[&["run", MIGRATION], threads].concat())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start jobs run");
        match kind {
            0 => std::thread::sleep(delay),
            1 => {
                wait_for_claim(&path, &mut child);
                std::thread::sleep(delay);
            }
            _ => {
                if wait_for_partial_migration(&path, &seeded, &mut child) {
                    std::thread::sleep(Duration::from_micros(rng.random_range(0..=20_000)));
                }
            }
        }
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
        "SIGKILL trials: {trials} runs of {MIGRATION} over {} explorations ({to_migrate} to migrate), one uninterrupted \
         run {:.0} ms ({:.0} ms after its claim); kills landed while the process ran: {landed} (mid-migration, some \
         batches committed and some not: {mid_migration}; before the run was recorded: {before_record}; recorded but \
         not yet started, now interrupted too: {before_start}); explorations checked: {checked}; \
         entities lost or torn: {lost}",
        originals.len(),
        run_time.as_secs_f64() * 1000.0,
        after_claim.as_secs_f64() * 1000.0,
    );
    assert_eq!(lost, 0);
    assert!(
        mid_migration >= MIN_MID_MIGRATION,
        "only {mid_migration} of {trials} kills landed mid-migration (some explorations migrated, some not); \
         at least {MIN_MID_MIGRATION} must, for the test to show that a kill at any moment loses nothing"
    );
}

/// Import trials run at least.
const MIN_IMPORT_TRIALS: usize = 12;
/// Kills that must land mid-import: after the process read its whole file, before the store
/// held any of it.
const MIN_MID_IMPORT: usize = 4;
/// Import trials run at most, waiting for [`MIN_MID_IMPORT`].
const MAX_IMPORT_TRIALS: usize = 48;

/// How far `jobs import` has got with its input file, seen from outside through
/// `/proc/<pid>/fd` (Linux). The import reads and checks the whole file, closes it, and only
/// then writes, in one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputFile {
    /// Not seen open yet.
    NotSeen,
    /// Open: the import reads and checks it.
    Open,
    /// Seen open, and closed now: the import writes what it read.
    Closed,
}

/// Where `pid` is with `file`, given where it was seen before.
fn input_file(pid: u32, file: &Path, before: InputFile) -> InputFile {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return before; // exited, or not Linux
    };
    let open = fds.flatten().any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == file));
    match (before, open) {
        (InputFile::NotSeen, false) => InputFile::NotSeen,
        (InputFile::NotSeen | InputFile::Open, true) => InputFile::Open,
        _ => InputFile::Closed,
    }
}

/// Watches `child` import `file`, for `delay` (when `from_done`, first until it has read the
/// file, then for `delay`), and returns how far it got.
fn watch_import(child: &mut std::process::Child, file: &Path, delay: Duration, from_done: bool) -> InputFile {
    let pid = child.id();
    let mut seen = InputFile::NotSeen;
    let give_up = Instant::now() + Duration::from_secs(60);
    while from_done
        && seen != InputFile::Closed
        && Instant::now() < give_up
        && child.try_wait().expect("child status").is_none()
    {
        seen = input_file(pid, file, seen);
        std::thread::sleep(Duration::from_micros(20));
    }
    let until = Instant::now() + delay;
    while Instant::now() < until {
        seen = input_file(pid, file, seen);
        std::thread::sleep(Duration::from_micros(20));
    }
    input_file(pid, file, seen)
}

#[test]
fn an_import_killed_at_random_points_stores_all_of_its_file_or_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seeded = Seeded::new(dir.path(), 3000);
    // Every exploration, retitled: a file whose import changes every stored entity.
    let export = Ran::from(jobs_command(&seeded.path, &["export", "ExplorationModel"]).output().expect("export"));
    export.assert_code(0);
    let file = dir.path().join("retitled.jsonl");
    std::fs::write(&file, export.out.replace("\"title\":\"", "\"title\":\"IMPORTED ")).expect("write");
    let file = std::fs::canonicalize(&file).expect("the file's path");
    let file_arg = file.to_str().expect("utf-8");

    // One uninterrupted import, to spread the kill delays over what one takes here: from its
    // start, and from the moment it has read its file.
    let calibration = dir.path().join("calibration.redb");
    seeded.copy_to(&calibration);
    let started = Instant::now();
    let mut child = jobs_command(&calibration, &["import", "ExplorationModel", file_arg])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start jobs import");
    let seen = watch_import(&mut child, &file, Duration::ZERO, true);
    let read = Instant::now();
    assert!(child.wait().expect("wait for the import").success());
    let (import_time, write_time) = (started.elapsed(), read.elapsed());
    assert_eq!(seen, InputFile::Closed, "the import was seen reading its file through /proc");

    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x1_4b07);
    let (mut landed, mut mid_import, mut all, mut none) = (0, 0, 0, 0);
    let mut trials = 0;
    while trials < MIN_IMPORT_TRIALS || (mid_import < MIN_MID_IMPORT && trials < MAX_IMPORT_TRIALS) {
        let trial = trials;
        trials += 1;
        let path = dir.path().join(format!("import-{trial}.redb"));
        seeded.copy_to(&path);
        // Even trials: a delay from the start of the process; odd ones: from the moment it
        // has read its file, so that more land while it writes.
        let span = if trial % 2 == 0 { import_time } else { write_time };
        let delay = Duration::from_micros(rng.random_range(0..=span.as_micros() as u64 * 11 / 10));
        let mut child = jobs_command(&path, &["import", "ExplorationModel", file_arg])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start jobs import");
        let seen = watch_import(&mut child, &file, delay, trial % 2 == 1);
        let killed = child.try_wait().expect("child status").is_none();
        if killed {
            child.kill().expect("SIGKILL");
            landed += 1;
        }
        let status = child.wait().expect("wait for the child");
        assert!(killed || status.success(), "trial {trial}: the import failed: {status}");

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
            assert!(killed, "trial {trial}: an import that was not killed stored nothing");
            assert_eq!(census.untouched, seeded.originals.len(), "trial {trial}: nothing imported, nothing changed");
            none += 1;
            // Killed after it had read its whole file, with none of it stored: mid-write.
            if seen == InputFile::Closed {
                mid_import += 1;
            }
        } else {
            assert_eq!(imported, seeded.originals.len(), "trial {trial}: an import is stored whole or not at all");
            all += 1;
        }
        drop(store);
        std::fs::remove_file(&path).expect("remove the trial's store");
    }
    eprintln!(
        "SIGKILL of jobs import: {trials} trials over {} explorations, one uninterrupted import {:.0} ms ({:.0} ms \
         after reading its file); kills landed while it ran: {landed} (after it had read its whole file, with \
         none of it stored yet: {mid_import}); stores left with the whole file imported: {all}, with none of it: \
         {none}, with part of it: 0",
        seeded.originals.len(),
        import_time.as_secs_f64() * 1000.0,
        write_time.as_secs_f64() * 1000.0,
    );
    assert!(
        mid_import >= MIN_MID_IMPORT,
        "only {mid_import} of {trials} kills landed mid-import (file read, nothing stored yet); at least \
         {MIN_MID_IMPORT} must, for the test to show that an import killed midway stores none of its file"
    );
}
