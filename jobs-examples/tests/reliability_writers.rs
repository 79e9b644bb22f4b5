//! A migration beside other writers, with the real binary, on a redb store file and on a
//! PostgreSQL store: an import racing `jobs run ExplorationMigrationJob --threads 1` at varied
//! delays (spread over a migration's duration on PostgreSQL), and two migrations at once. No write is ever reverted (every imported title
//! survives, whether the migration read the exploration before or after the import), a second
//! migration converges, and the MIGRATED counts of two concurrent migrations add up to the
//! explorations actually migrated. The PostgreSQL variants need `JOBS_TEST_POSTGRES_URL` (or
//! `CI`) when they are built, and are reported `ignored` otherwise.

mod migration_check;
mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use jobs_core::Model;
use jobs_core::model;
use jobs_core::runs::{self, RunLog};
use jobs_core::testing::postgres_server::{TestSchema, test_schema};
use jobs_examples::models::{CURRENT_SCHEMA_VERSION, ExplorationModel};

use migration_check::{MIGRATION, Seeded, report_counts, rows};
use support::{Ran, jobs_command};

/// Import-versus-migration trials; the delays before the import vary over them.
const TRIALS: u64 = 20;
/// Two-migration trials.
const PAIRS: usize = 3;
/// The kinds `jobs seed` writes, copied into each PostgreSQL trial.
const KINDS: [&str; 3] = ["ExplorationModel", "ExplorationRightsModel", "UserSettingsModel"];

/// The `conflicts_retried` counter of every run recorded in `store`, summed.
fn conflicts_retried(store: &dyn RunLog) -> u64 {
    store.recent().expect("runs").iter().map(|run| run.counters.get("conflicts_retried")).sum()
}

/// Which store the trials run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Redb,
    Postgres,
}

/// One trial's store: a copy of the seeded file, or a schema of its own holding the same
/// entities (imported from the seeded file's exports, so the originals are the same bytes).
enum Place {
    File(PathBuf),
    Schema(TestSchema),
}

impl Place {
    /// What `--store` is given.
    fn location(&self) -> &str {
        match self {
            Place::File(path) => path.to_str().expect("a UTF-8 temporary path"),
            Place::Schema(schema) => schema.url(),
        }
    }

    /// `jobs --store <this> args...`.
    fn jobs(&self, args: &[&str]) -> std::process::Command {
        jobs_command(Path::new(self.location()), args)
    }

    /// The store, opened as the command line opens it.
    fn open(&self) -> Box<dyn RunLog> {
        match self {
            Place::File(path) => Box::new(runs::open_store(path).expect("open the store file")),
            Place::Schema(schema) => Box::new(schema.open().expect("open the PostgreSQL store")),
        }
    }
}

/// The seeded store the trials start from, and the means to lay out a fresh copy of it.
struct Seed {
    backend: Backend,
    dir: tempfile::TempDir,
    seeded: Seeded,
    /// `(kind, exported JSON lines file)`, for PostgreSQL copies.
    exports: Vec<(&'static str, PathBuf)>,
}

impl Seed {
    fn new(backend: Backend, explorations: usize) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let seeded = Seeded::new(dir.path(), explorations);
        let mut exports = Vec::new();
        if backend == Backend::Postgres {
            for kind in KINDS {
                let file = dir.path().join(format!("{kind}.jsonl"));
                let file_arg = file.to_str().expect("utf-8").to_owned();
                Ran::from(
                    jobs_command(&seeded.path, &["export", kind, "--output", &file_arg]).output().expect("export"),
                )
                .assert_code(0);
                exports.push((kind, file));
            }
        }
        Seed { backend, dir, seeded, exports }
    }

    /// A fresh copy of the seeded store, named after `name`.
    fn fresh(&self, name: &str) -> Place {
        match self.backend {
            Backend::Redb => {
                let path = self.dir.path().join(format!("{name}.redb"));
                self.seeded.copy_to(&path);
                Place::File(path)
            }
            Backend::Postgres => {
                let place = Place::Schema(test_schema(name));
                for (kind, file) in &self.exports {
                    let file = file.to_str().expect("utf-8");
                    Ran::from(place.jobs(&["import", kind, file]).output().expect("import the seed")).assert_code(0);
                }
                let store = place.open();
                assert_eq!(
                    self.seeded.census(store.as_ref()).untouched,
                    self.seeded.originals.len(),
                    "{name}: the copy is exact"
                );
                drop(store);
                place
            }
        }
    }
}

#[test]
fn an_import_racing_a_migration_is_never_reverted() {
    import_racing_a_migration(Backend::Redb);
}

#[test]
#[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
fn an_import_racing_a_migration_is_never_reverted_over_postgres() {
    import_racing_a_migration(Backend::Postgres);
}

fn import_racing_a_migration(backend: Backend) {
    let seed = Seed::new(backend, 3000);
    let (dir, seeded) = (seed.dir.path(), &seed.seeded);
    let export = Ran::from(jobs_command(&seeded.path, &["export", "ExplorationModel"]).output().expect("export"));
    export.assert_code(0);
    // Every exploration retitled, the rest as seeded: old schema versions stay old.
    let retitled: String =
        export.out.lines().map(|line| line.replace("\"title\":\"", "\"title\":\"IMPORTED ") + "\n").collect();
    let import_file = dir.join("retitle.jsonl");
    std::fs::write(&import_file, retitled).expect("write the import file");
    let import_path = import_file.to_str().expect("utf-8");

    // When the import starts, relative to the migration: 0 to 190 ms after it on redb. On
    // PostgreSQL an import commits only after reading its whole file, and how long that and a
    // migration take depends on the machine's load: there the starts are spread from one
    // import's duration before the migration to one migration's duration after it, both
    // measured first, so that imports commit before, during and after the migration's writes.
    let offsets: Vec<i128> = match backend {
        Backend::Redb => (0..TRIALS).map(|trial| i128::from(trial) * 10).collect(),
        Backend::Postgres => {
            let place = seed.fresh("measure");
            let timed = |args: &[&str]| {
                let started = Instant::now();
                Ran::from(place.jobs(args).output().expect("a measured command")).assert_code(0);
                started.elapsed().as_millis() as i128
            };
            let import_ms = timed(&["import", "ExplorationModel", import_path]);
            let migration_ms = timed(&["run", MIGRATION, "--threads", "1"]);
            let span = import_ms + migration_ms;
            (0..TRIALS).map(|trial| -import_ms + span * i128::from(trial) / i128::from(TRIALS)).collect()
        }
    };
    let (mut retried, mut reverted_total) = (0, 0);
    for (trial, offset_ms) in offsets.into_iter().enumerate() {
        let place = seed.fresh(&format!("race-{trial}"));
        let spawn = |args: &[&str]| {
            place.jobs(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start a command")
        };
        let gap = Duration::from_millis(offset_ms.unsigned_abs() as u64);
        let (migration, import) = if offset_ms >= 0 {
            let migration = spawn(&["run", MIGRATION, "--threads", "1"]);
            std::thread::sleep(gap);
            (migration, spawn(&["import", "ExplorationModel", import_path]))
        } else {
            let import = spawn(&["import", "ExplorationModel", import_path]);
            std::thread::sleep(gap);
            (spawn(&["run", MIGRATION, "--threads", "1"]), import)
        };
        let import = Ran::from(import.wait_with_output().expect("import"));
        import.assert_code(0);
        let migrated = Ran::from(migration.wait_with_output().expect("migration"));
        migrated.assert_code(0);

        let store = place.open();
        let here = conflicts_retried(store.as_ref());
        eprintln!(
            "{backend:?} trial {trial}: import started {offset_ms} ms after the migration, {here} conflicts retried"
        );
        retried += here;
        let reverted: Vec<String> = rows(store.as_ref(), ExplorationModel::KIND)
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
        Ran::from(place.jobs(&["run", MIGRATION]).output().expect("second migration")).assert_code(0);
        let store = place.open();
        for (id, bytes) in rows(store.as_ref(), ExplorationModel::KIND) {
            let exploration: ExplorationModel = model::decode(&bytes).expect("stored explorations decode");
            assert!(exploration.title.starts_with("IMPORTED "), "trial {trial}: {id} reverted by the second run");
            assert!(
                exploration.deleted || exploration.schema_version == CURRENT_SCHEMA_VERSION,
                "trial {trial}: {id} not migrated after a second run"
            );
        }
    }
    eprintln!(
        "{backend:?}: {TRIALS} import/migration trials: {reverted_total} reverted writes, {retried} conflicts retried"
    );
    assert!(retried > 0, "no trial raced: the import never landed while the migration wrote");
}

#[test]
fn two_concurrent_migrations_count_each_exploration_once() {
    two_concurrent_migrations(Backend::Redb);
}

#[test]
#[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
fn two_concurrent_migrations_count_each_exploration_once_over_postgres() {
    two_concurrent_migrations(Backend::Postgres);
}

fn two_concurrent_migrations(backend: Backend) {
    let seed = Seed::new(backend, 3000);
    let seeded = &seed.seeded;
    for trial in 0..PAIRS {
        let place = seed.fresh(&format!("pair-{trial}"));
        let spawn = || {
            place
                .jobs(&["run", MIGRATION, "--threads", "1"])
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
        let store = place.open();
        let census = seeded.census(store.as_ref());
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
            "{backend:?} pair {trial}: MIGRATED {} + {} = {}, conflicts retried {}",
            migrated(&first),
            migrated(&second),
            seeded.to_migrate,
            conflicts_retried(store.as_ref())
        );
    }
}
