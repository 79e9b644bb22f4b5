//! A migration beside other writers, with the real binary on one redb store file: an import
//! racing `jobs run ExplorationMigrationJob --threads 1` at varied delays, and two migrations
//! at once. No write is ever reverted (every imported title survives, whether the migration
//! read the exploration before or after the import), a second migration converges, and the
//! MIGRATED counts of two concurrent migrations add up to the explorations actually migrated.

mod migration_check;
mod support;

use std::process::Stdio;
use std::time::Duration;

use jobs_core::model;
use jobs_core::runs::RunLog;
use jobs_core::{Model, RedbStore};
use jobs_examples::models::{CURRENT_SCHEMA_VERSION, ExplorationModel};

use migration_check::{MIGRATION, Seeded, report_counts, rows};
use support::{Ran, jobs_command};

/// Import-versus-migration trials; the delays before the import vary over them.
const TRIALS: u64 = 20;
/// Two-migration trials.
const PAIRS: usize = 3;

/// The `conflicts_retried` counter of every run recorded in `store`, summed.
fn conflicts_retried(store: &RedbStore) -> u64 {
    store.recent().expect("runs").iter().map(|run| run.counters.get("conflicts_retried")).sum()
}

#[test]
fn an_import_racing_a_migration_is_never_reverted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seeded = Seeded::new(dir.path(), 3000);
    let export = Ran::from(jobs_command(&seeded.path, &["export", "ExplorationModel"]).output().expect("export"));
    export.assert_code(0);
    // Every exploration retitled, the rest as seeded: old schema versions stay old.
    let retitled: String =
        export.out.lines().map(|line| line.replace("\"title\":\"", "\"title\":\"IMPORTED ") + "\n").collect();
    let import_file = dir.path().join("retitle.jsonl");
    std::fs::write(&import_file, retitled).expect("write the import file");
    let import_path = import_file.to_str().expect("utf-8");

    let (mut retried, mut reverted_total) = (0, 0);
    for trial in 0..TRIALS {
        let path = dir.path().join(format!("race-{trial}.redb"));
        seeded.copy_to(&path);
        let migration = jobs_command(&path, &["run", MIGRATION, "--threads", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the migration");
        // 0 to 190 ms: before the migration reads, while it writes, after it is done.
        std::thread::sleep(Duration::from_millis(trial * 10));
        let import =
            Ran::from(jobs_command(&path, &["import", "ExplorationModel", import_path]).output().expect("import"));
        import.assert_code(0);
        let migrated = Ran::from(migration.wait_with_output().expect("migration"));
        migrated.assert_code(0);

        let store = RedbStore::open(&path).expect("open");
        retried += conflicts_retried(&store);
        let reverted: Vec<String> = rows(&store, ExplorationModel::KIND)
            .iter()
            .filter_map(|(id, bytes)| {
                let exploration: ExplorationModel = model::decode(bytes).expect("stored explorations decode");
                (!exploration.title.starts_with("IMPORTED ")).then(|| id.clone())
            })
            .collect();
        reverted_total += reverted.len();
        assert!(
            reverted.is_empty(),
            "trial {trial}: {} imported titles reverted: {:?}",
            reverted.len(),
            &reverted[..reverted.len().min(5)]
        );
        drop(store);

        // Whatever the import brought back to an old schema, a second migration finishes.
        Ran::from(jobs_command(&path, &["run", MIGRATION]).output().expect("second migration")).assert_code(0);
        let store = RedbStore::open(&path).expect("open");
        for (id, bytes) in rows(&store, ExplorationModel::KIND) {
            let exploration: ExplorationModel = model::decode(&bytes).expect("stored explorations decode");
            assert!(exploration.title.starts_with("IMPORTED "), "trial {trial}: {id} reverted by the second run");
            assert!(
                exploration.deleted || exploration.schema_version == CURRENT_SCHEMA_VERSION,
                "trial {trial}: {id} not migrated after a second run"
            );
        }
    }
    eprintln!("{TRIALS} import/migration trials: {reverted_total} reverted writes, {retried} conflicts retried");
    assert!(retried > 0, "no trial raced: the import never landed while the migration wrote");
}

#[test]
fn two_concurrent_migrations_count_each_exploration_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seeded = Seeded::new(dir.path(), 3000);
    for trial in 0..PAIRS {
        let path = dir.path().join(format!("pair-{trial}.redb"));
        seeded.copy_to(&path);
        let spawn = || {
            jobs_command(&path, &["run", MIGRATION, "--threads", "1"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a migration")
        };
        let (first, second) = (spawn(), spawn());
        let first = Ran::from(first.wait_with_output().expect("first"));
        let second = Ran::from(second.wait_with_output().expect("second"));
        first.assert_code(0);
        second.assert_code(0);
        let migrated = |ran: &Ran| report_counts(&ran.out).get("MIGRATED").copied().unwrap_or(0);
        let store = RedbStore::open(&path).expect("open");
        let census = seeded.census(&store);
        assert!(census.lost.is_empty(), "trial {trial}: {:?}", census.lost);
        assert_eq!(census.migrated, seeded.to_migrate, "trial {trial}");
        assert_eq!(
            migrated(&first) + migrated(&second),
            seeded.to_migrate as u64,
            "trial {trial}: the two reports count {} and {}",
            migrated(&first),
            migrated(&second)
        );
        eprintln!(
            "pair {trial}: MIGRATED {} + {} = {}, conflicts retried {}",
            migrated(&first),
            migrated(&second),
            seeded.to_migrate,
            conflicts_retried(&store)
        );
    }
}
