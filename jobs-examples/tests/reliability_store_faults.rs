//! Store faults, met by the real `jobs` binary: a store locked by another process, a
//! read-only store file, a full disk, a missing file, a store from a newer version, a file
//! that is not a store. Each is a clear error naming the file and what to do, with the exit
//! code of the command line's convention, and never a run recorded as if it had succeeded.

mod migration_check;
mod support;

use std::path::Path;
use std::process::Command;

use jobs_core::runs::{self, RunLog};
use jobs_core::store::{RedbStore, WriteBatch};
use jobs_core::{Model, Store};
use jobs_examples::models::ExplorationModel;
use redb::TableDefinition;

use migration_check::{MIGRATION, Seeded, report_counts};
use support::{Ran, jobs_command};

/// Entities of 2 KiB stored and deleted again before the full-disk run, once the file has no
/// other free page: room for its record and a batch or two, far from room for the whole
/// migration (which rewrites about 1,100 explorations of 2 KiB, while its own scan keeps the
/// pages they replace from being reused).
const ROOM_ENTITIES: usize = 300;
const META: TableDefinition<&str, u32> = TableDefinition::new("meta");

fn ran(mut command: Command) -> Ran {
    Ran::from(command.output().expect("start jobs"))
}

/// The runs recorded in the store at `path`, opened as every command opens it.
fn recorded_runs(path: &Path) -> Vec<jobs_core::runs::RunRecord> {
    runs::open_store(path).expect("open the store").recent().expect("list runs")
}

/// A small seeded store, copied to `name` in `dir`.
fn small_store(dir: &Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    ran(jobs_command(&path, &["seed", "--explorations", "200", "--users", "20"])).assert_code(0);
    path
}

#[test]
fn a_store_locked_by_another_process_is_refused_by_name_and_records_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = small_store(dir.path(), "jobs.redb");
    // redb's default mode takes the file for this process alone.
    let holder = redb::Database::create(&path).expect("hold the store");
    let refused = ran(jobs_command(&path, &["run", "InteractionAuditOneOffJob"]));
    refused.assert_code(1);
    assert!(refused.out.is_empty(), "{}", refused.out);
    assert_eq!(
        refused.err,
        format!(
            "error: the store {} is in use by another process that does not share it; stop that process or use another \
             --store\n",
            path.display()
        )
    );
    drop(holder);
    assert!(recorded_runs(&path).is_empty(), "nothing was recorded while the store was locked");
}

#[test]
fn a_store_from_a_newer_version_is_refused_and_left_without_a_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = small_store(dir.path(), "jobs.redb");
    let set_format = |version: u32| {
        let db = redb::Database::create(&path).expect("open with redb");
        let txn = db.begin_write().expect("write");
        txn.open_table(META).expect("meta").insert("format_version", version).expect("insert");
        txn.commit().expect("commit");
    };
    set_format(jobs_core::store::STORE_FORMAT_VERSION + 1);
    let refused = ran(jobs_command(&path, &["run", MIGRATION]));
    refused.assert_code(1);
    assert!(refused.err.contains(&path.display().to_string()), "{}", refused.err);
    let newer = format!(
        "has format version {}, newer than this program's {}; upgrade jobs",
        jobs_core::store::STORE_FORMAT_VERSION + 1,
        jobs_core::store::STORE_FORMAT_VERSION
    );
    assert!(refused.err.contains(&newer), "{}", refused.err);

    set_format(jobs_core::store::STORE_FORMAT_VERSION);
    assert!(recorded_runs(&path).is_empty(), "the refused run left no record");
    let again = ran(jobs_command(&path, &["run", MIGRATION, "--dry-run"]));
    again.assert_code(0);
    assert!(report_counts(&again.out).contains_key("MIGRATED"), "nothing was migrated: {}", again.out);
}

#[test]
fn a_file_that_is_not_a_store_is_refused_and_left_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notes.txt");
    let text = b"these are my notes, not a database\n".repeat(100);
    std::fs::write(&path, &text).expect("write");
    let refused = ran(jobs_command(&path, &["run", MIGRATION]));
    refused.assert_code(2);
    assert!(refused.err.contains(&format!("{} is not a jobs store", path.display())), "{}", refused.err);
    assert!(refused.err.contains("pass the path of a store file"), "{}", refused.err);
    assert_eq!(std::fs::read(&path).expect("read"), text, "the file is untouched");
    assert!(!runs::liveness::lock_dir(&path).exists(), "no run was claimed beside it");
}

#[test]
fn a_missing_store_is_a_usage_error_and_is_not_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("typo.redb");
    let refused = ran(jobs_command(&path, &["run", MIGRATION]));
    refused.assert_code(2);
    assert!(refused.err.contains(&format!("the store {} does not exist", path.display())), "{}", refused.err);
    assert!(refused.err.contains("create it with `jobs seed`"), "{}", refused.err);
    assert!(!path.exists(), "no empty store was created");
}

#[test]
fn an_empty_store_file_is_a_usage_error_and_is_left_empty() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("z.redb");
    std::fs::write(&path, b"").expect("create an empty file");
    for args in [&["run", "InteractionAuditOneOffJob"][..], &["runs"], &["export", "ExplorationModel"]] {
        let refused = ran(jobs_command(&path, args));
        refused.assert_code(2);
        assert!(
            refused.err.contains(&format!("the store {} is an empty file (0 bytes), not a store", path.display())),
            "{args:?}: {}",
            refused.err
        );
        let len = std::fs::metadata(&path).expect("the empty file is still there").len();
        assert_eq!(len, 0, "{args:?} wrote to the empty file");
    }
}

#[test]
fn a_store_file_cut_short_is_called_truncated_by_name_and_left_as_it_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    let whole = std::fs::read(small_store(dir.path(), "whole.redb")).expect("read the store");
    for cut in [10, 1000, 4000] {
        let path = dir.path().join(format!("cut-{cut}.redb"));
        std::fs::write(&path, &whole[..cut]).expect("write the cut copy");
        for args in [&["run", "InteractionAuditOneOffJob"][..], &["runs"], &["import", "ExplorationModel", "-"]] {
            let refused = ran(jobs_command(&path, args));
            refused.assert_code(2);
            assert!(
                refused.err.contains(&format!("the store {} is truncated: the file has {cut} bytes", path.display())),
                "{cut} {args:?}: {}",
                refused.err
            );
            assert!(!refused.err.contains("fill whole buffer"), "{}", refused.err);
            assert_eq!(std::fs::read(&path).expect("still there"), &whole[..cut], "{args:?} changed the file");
        }
    }
}

/// `jobs --store <store> args...`, run as the unprivileged user `nobody` when the test runs as
/// root (as CI does), since root may write any file whatever its permissions. The binary is
/// then linked (or copied) into `dir` first: the build directory may sit under a home
/// directory that `nobody` cannot enter.
#[cfg(unix)]
fn jobs_command_without_root(dir: &Path, store: &Path, args: &[&str]) -> Command {
    use std::os::unix::process::CommandExt;
    const NOBODY: u32 = 65534;
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return jobs_command(store, args);
    }
    let built = Path::new(env!("CARGO_BIN_EXE_jobs"));
    let program = dir.join("jobs");
    // Made once per directory: copying onto a hard link of the binary would truncate the binary.
    if !program.exists() && std::fs::hard_link(built, &program).is_err() {
        std::fs::copy(built, &program).expect("copy the jobs binary where nobody can run it");
    }
    let mut command = Command::new(&program);
    command
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("JOBS_STORE")
        .env_remove("JOBS_LOG")
        .stdin(std::process::Stdio::null());
    // SAFETY: between fork and exec the closure only makes async-signal-safe system calls
    // (setgroups, setgid, setuid) and allocates nothing.
    unsafe {
        command.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(NOBODY) != 0 || libc::setuid(NOBODY) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}

#[cfg(unix)]
#[test]
fn a_read_only_store_file_is_refused_with_what_to_do_and_left_byte_for_byte() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = small_store(dir.path(), "jobs.redb");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).expect("chmod store");
    let before = std::fs::read(&path).expect("read");
    // A writer job, and a job that only reads: both record a run, so both need to write.
    for job in [MIGRATION, "InteractionAuditOneOffJob"] {
        let refused = ran(jobs_command_without_root(dir.path(), &path, &["run", job]));
        refused.assert_code(1);
        assert!(refused.out.is_empty(), "{}", refused.out);
        assert!(
            refused.err.starts_with(&format!("error: the store {} cannot be written (", path.display())),
            "{job}: {}",
            refused.err
        );
        assert!(refused.err.contains("make the file and its directory writable"), "{}", refused.err);
    }
    assert_eq!(std::fs::read(&path).expect("read"), before, "the store is untouched");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod back");
    assert!(recorded_runs(&path).is_empty(), "no run was recorded");
}

/// Limits the files `command` writes to `bytes` (RLIMIT_FSIZE), as a full disk would, with
/// SIGXFSZ ignored so that a write past the limit fails with EFBIG instead of killing it.
#[cfg(unix)]
fn limit_file_size(command: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec the closure only makes async-signal-safe system calls
    // (signal, setrlimit) and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Pages inside the store file that redb has not allocated.
fn free_pages(path: &std::path::Path) -> u64 {
    let len = std::fs::metadata(path).expect("size").len();
    let db = redb::Database::builder()
        .set_concurrency_mode(redb::ConcurrencyMode::MultiWriter)
        .create(path)
        .expect("open with redb");
    let txn = db.begin_write().expect("write");
    let stats = txn.stats().expect("stats");
    let used = stats.allocated_pages() * stats.page_size() as u64;
    len.saturating_sub(used) / stats.page_size() as u64
}

#[cfg(unix)]
#[test]
fn a_full_disk_fails_the_migration_clearly_loses_nothing_and_a_rerun_finishes_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seeded = Seeded::new(dir.path(), 6000);
    let path = dir.path().join("full.redb");
    seeded.copy_to(&path);
    // Room for the run's record, but not for the migration: the file's free pages (redb grows a
    // file ahead of its needs) are filled with entities of one scratch kind, and those of
    // another, stored first, are deleted again; that leaves the pages they took, whole, for the
    // next writes, and the file may not grow.
    let room: Vec<String> = (0..ROOM_ENTITIES).map(|i| format!("r{i:04}")).collect();
    {
        let store = RedbStore::open(&path).expect("open");
        let mut batch = WriteBatch::new();
        for id in &room {
            batch.put("Room", id.clone(), vec![7; 2048]);
        }
        store.apply(&batch).expect("store the room");
    }
    let mut filled = 0;
    loop {
        let free = free_pages(&path);
        if free < 16 {
            break;
        }
        let store = RedbStore::open(&path).expect("open");
        let mut batch = WriteBatch::new();
        // Half the free pages at a time: each entity takes a page of its own, and the tree's
        // branch pages a few more.
        for _ in 0..free / 2 {
            batch.put("Filler", format!("f{filled:06}"), vec![7; 3000]);
            filled += 1;
        }
        store.apply(&batch).expect("store fillers");
    }
    {
        let store = RedbStore::open(&path).expect("open");
        let mut batch = WriteBatch::new();
        for id in &room {
            batch.delete("Room", id.clone());
        }
        store.apply(&batch).expect("delete the room");
    }
    let size = std::fs::metadata(&path).expect("size").len();

    let mut command = jobs_command(&path, &["run", MIGRATION]);
    // The store may not grow at all: once the free pages are used, the next batch fails.
    limit_file_size(&mut command, size);
    let failed = ran(command);
    failed.assert_code(1);
    assert!(failed.out.is_empty(), "no report from a failed run: {}", failed.out);
    assert!(failed.err.contains(&format!("the store {} could not grow (", path.display())), "{}", failed.err);
    assert!(failed.err.contains("free some space (or raise the limit) and run again"), "{}", failed.err);
    assert!(failed.err.contains("the next command that opens the store records it interrupted"), "{}", failed.err);

    let store = runs::open_store(&path).expect("the store opens once space is back");
    let after = seeded.census(&store);
    assert!(after.lost.is_empty(), "explorations lost or torn: {:?}", after.lost);
    assert_eq!(store.count(ExplorationModel::KIND).expect("count"), seeded.originals.len() as u64);
    let recorded = store.recent().expect("runs");
    assert_eq!(recorded.len(), 1);
    assert!(recorded[0].was_interrupted(), "{} {:?}", recorded[0].status(), recorded[0].error);
    drop(store);

    let rerun = ran(jobs_command(&path, &["run", MIGRATION]));
    rerun.assert_code(0);
    let counts = report_counts(&rerun.out);
    assert_eq!(counts.get("MIGRATED").copied().unwrap_or(0), (seeded.to_migrate - after.migrated) as u64);
    let store = RedbStore::open(&path).expect("open");
    assert_eq!(seeded.census(&store).migrated, seeded.to_migrate);
    eprintln!(
        "full disk: {} explorations, {} to migrate; migrated before the disk filled: {}; entities lost: {}",
        seeded.originals.len(),
        seeded.to_migrate,
        after.migrated,
        after.lost.len()
    );
}
