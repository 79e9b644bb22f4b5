//! Recorded runs end to end: the runner over real jobs and stores, and the process-level
//! properties (a killed run is found interrupted, a cancel from another process stops a run,
//! a run queued in one process is carried out by another, as `--detach` does).
//!
//! Child processes are this test binary itself, re-run with `--ignored --exact
//! child_process_entry` and the store and run in environment variables.

use std::ops::ControlFlow;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jobs_core::prelude::*;
use jobs_core::runs::{
    self, CancelOutcome, OutputKind, RunId, RunLog, RunRecord, RunRequest, RunStore, RunnerOptions, RunsError, Status,
};
use jobs_core::store::{KeyRange, RedbStore};
use jobs_core::{Failure, MemoryStore, Params, Store, testing};

#[derive(Model, Serialize, Deserialize, Clone, Debug)]
pub struct Tick {
    id: String,
    n: u32,
}

/// Sleeps `delay_ms` per entity, so that a run lasts long enough to be killed or canceled.
/// Its unlucky ticks fail, which its failure limit allows.
#[one_off_job(models = [Tick], shards = 2, max_failures = 10)]
pub struct RunsSlow {
    delay_ms: u64,
}

impl Map<Tick> for RunsSlow {
    fn map(&self, tick: Tick, ctx: &mut MapContext<'_, Self>) -> Outcome {
        std::thread::sleep(Duration::from_millis(self.delay_ms));
        ctx.count("ticks", 1);
        if tick.n % 7 == 3 {
            return Err(Failure::new(format!("{} is unlucky", tick.n)));
        }
        ctx.emit(tick.n % 3, 1);
        Ok(())
    }
}

impl Reduce for RunsSlow {
    type Key = u32;
    type Value = u32;
    fn reduce(&self, key: u32, ones: Values<'_, u32>, out: &mut Output) -> Outcome {
        out.line(format!("{key}: {}", ones.sum::<u32>()));
        Ok(())
    }
}

/// Writes one line per entity, `parity 0` or `parity 1`: output made of repeats.
#[one_off_job(models = [Tick])]
pub struct RunsParity;

impl Map<Tick> for RunsParity {
    fn map(&self, tick: Tick, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(tick.n, ());
        Ok(())
    }
}

impl Reduce for RunsParity {
    type Key = u32;
    type Value = ();
    fn reduce(&self, n: u32, _: Values<'_, ()>, out: &mut Output) -> Outcome {
        out.line(format!("parity {}", n % 2));
        Ok(())
    }
}

/// A migration: bumps every tick's `n` and deletes every fifth tick.
#[one_off_job(models = [Tick])]
pub struct RunsMigrate;

impl Map<Tick> for RunsMigrate {
    fn map(&self, tick: Tick, ctx: &mut MapContext<'_, Self>) -> Outcome {
        if tick.n.is_multiple_of(5) {
            ctx.delete::<Tick>(&tick.id);
        } else {
            ctx.put(&Tick { n: tick.n + 1, ..tick.clone() })?;
        }
        ctx.emit(0, 1);
        Ok(())
    }
}

impl Reduce for RunsMigrate {
    type Key = u8;
    type Value = u32;
    fn reduce(&self, _: u8, ones: Values<'_, u32>, out: &mut Output) -> Outcome {
        out.line(format!("visited {}", ones.sum::<u32>()));
        Ok(())
    }
}

fn ticks(count: u32) -> Vec<Tick> {
    (0..count).map(|n| Tick { id: format!("t{n:05}"), n }).collect()
}

fn slow(delay_ms: u64) -> RunRequest {
    let mut request = RunRequest::new("RunsSlow");
    request.params = Params::parse_args([format!("delay_ms={delay_ms}")]).unwrap();
    request.threads = Some(1);
    request
}

fn redb_store(dir: &tempfile::TempDir, count: u32) -> RedbStore {
    let store = RedbStore::open(dir.path().join("jobs.redb")).unwrap();
    testing::put_all(&store, &ticks(count)).unwrap();
    store
}

/// Every model of every kind, with its stored bytes.
fn dump(store: &dyn Store) -> Vec<(String, String, Vec<u8>)> {
    let mut rows = Vec::new();
    for kind in store.kinds().unwrap() {
        store
            .scan(&kind, &KeyRange::all(), &mut |id, bytes| {
                rows.push((kind.clone(), id.to_owned(), bytes.to_vec()));
                ControlFlow::Continue(())
            })
            .unwrap();
    }
    rows
}

/// Polls `until` every 20 ms for at most `timeout`; the last record seen is returned either way.
fn poll(log: &dyn RunLog, id: &RunId, timeout: Duration, until: impl Fn(&RunRecord) -> bool) -> RunRecord {
    let deadline = Instant::now() + timeout;
    loop {
        let record = log.get_run(id).unwrap();
        if until(&record) || Instant::now() >= deadline {
            return record;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_completed_run_records_output_counters_failures_and_progress() {
    let store = MemoryStore::new();
    testing::put_all(&store, &ticks(30)).unwrap();
    let record = runs::run(&store, &slow(0), &RunnerOptions::default()).unwrap();

    assert_eq!(record.status(), Status::Completed);
    assert_eq!(record.job, "RunsSlow");
    assert_eq!((record.shards, record.threads, record.engine.as_str()), (2, 1, "local"));
    let (queued, started, finished) =
        (record.queued_ms.unwrap(), record.started_ms.unwrap(), record.finished_ms.unwrap());
    assert!(record.created_ms() <= queued && queued <= started && started <= finished);
    assert_eq!(record.counters.get("ticks"), 30, "the job's own counter");
    assert_eq!(record.stats.entities_read, 30);
    assert_eq!(record.stats.failures, 4, "3, 10, 17, 24 fail");
    assert_eq!(record.stats.pairs_emitted, 26);
    assert_eq!(record.stats.keys_reduced, 3);
    assert_eq!(record.failures.len(), 4);
    assert!(record.failures[0].to_string().contains("is unlucky"), "{}", record.failures[0]);
    assert_eq!(record.progress.shards.len(), 2, "progress per shard");
    assert!(record.progress.shards.iter().all(|s| s.done && s.read == s.total));
    assert_eq!(record.progress.read(), 30);

    let expected = testing::run(&RunsSlow { delay_ms: 0 }, &store).unwrap().output;
    assert_eq!(store.full_output(record.id()).unwrap(), expected);
    assert_eq!(store.stored_output(record.id()).unwrap(), expected, "no repeats, within the limit");
    assert_eq!(record.output.unwrap().lines, 3);
}

#[test]
fn thread_counts_outside_1_to_max_threads_are_refused_before_anything_is_recorded() {
    let store = MemoryStore::new();
    testing::put_all(&store, &ticks(5)).unwrap();
    for threads in [0, runs::MAX_THREADS + 1, 100_000] {
        let request = RunRequest::new("RunsParity").with_threads(threads);
        let err = runs::queue(&store, &request).unwrap_err();
        assert!(matches!(err, RunsError::InvalidThreads { threads: t } if t == threads), "{err:?}");
        assert!(err.to_string().contains("from 1 to 256 threads"), "{err}");
    }
    assert!(store.recent().unwrap().is_empty(), "nothing was queued");
    let request = RunRequest::new("RunsParity").with_threads(runs::MAX_THREADS);
    assert_eq!(runs::queue(&store, &request).unwrap().record.threads, runs::MAX_THREADS);
}

#[test]
fn output_is_folded_and_truncated_and_the_full_output_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let store = redb_store(&dir, 1000);
    let options = RunnerOptions::default().with_output_limit(20);
    let record = runs::run(&store, &RunRequest::new("RunsParity"), &options).unwrap();
    assert_eq!(record.status(), Status::Completed);

    let full = store.full_output(record.id()).unwrap();
    assert_eq!(full.len(), 1000, "--full returns every line");
    assert_eq!(full, testing::run(&RunsParity, &store).unwrap().output);
    assert_eq!(runs::output::fold(&full), ["(500x) parity 0", "(500x) parity 1"]);

    let stored = store.stored_output(record.id()).unwrap();
    assert_eq!(stored, ["(500x) parity 0", "(500x<TRUNCATED>"], "20 characters (15 + 5), then the marker");
    let summary = record.output.unwrap();
    assert!(summary.truncated);
    assert_eq!((summary.lines, summary.distinct, summary.stored_chars, summary.limit), (1000, 2, 20, 20));

    let mut exported = Vec::new();
    assert_eq!(store.export_full_output(record.id(), &mut exported).unwrap(), 1000);
    assert_eq!(String::from_utf8(exported).unwrap().lines().count(), 1000);

    // The caller's sink gets the same text as the run produces it, and the same is stored.
    let printed = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let to = std::sync::Arc::clone(&printed);
    let sink = jobs_core::OutputSink::new(move |text: &str| {
        to.lock().unwrap().push_str(text);
        Ok(())
    });
    let options = RunnerOptions::default().with_output_limit(20).with_output_sink(sink);
    let again = runs::run(&store, &RunRequest::new("RunsParity"), &options).unwrap();
    assert_eq!(again.status(), Status::Completed);
    assert_eq!(*printed.lock().unwrap(), full.iter().map(|line| format!("{line}\n")).collect::<String>());
    assert_eq!(store.full_output(again.id()).unwrap(), full);
    assert_eq!(store.stored_output(again.id()).unwrap(), stored);
}

#[test]
fn a_full_output_that_cannot_be_kept_fails_the_run_naming_why_and_the_store_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let store = redb_store(&dir, 100);
    // Where the full outputs go is a file, so the directory of full outputs cannot be made.
    let outputs = dir.path().join("jobs.redb.outputs");
    std::fs::write(&outputs, b"not a directory").unwrap();
    let record = runs::run(&store, &RunRequest::new("RunsParity"), &RunnerOptions::default()).unwrap();
    assert_eq!(record.status(), Status::Failed);
    let error = record.error.clone().unwrap();
    assert!(error.starts_with("the output could not be stored: "), "{error}");
    assert!(error.contains("jobs.redb.outputs"), "the error names the path: {error}");
    assert_eq!(std::fs::read(&outputs).unwrap(), b"not a directory", "the file in the way is left alone");
    // Without the full output, the same run completes.
    let options = RunnerOptions::default().with_keep_full_output(false);
    let record = runs::run(&store, &RunRequest::new("RunsParity"), &options).unwrap();
    assert_eq!(record.status(), Status::Completed);
    assert_eq!(store.stored_output(record.id()).unwrap(), ["(50x) parity 0", "(50x) parity 1"]);
}

#[test]
fn a_dry_run_leaves_every_model_byte_for_byte_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let store = redb_store(&dir, 100);
    let before = dump(&store);

    let mut request = RunRequest::new("RunsMigrate");
    request.dry_run = true;
    let record = runs::run(&store, &request, &RunnerOptions::default()).unwrap();
    assert_eq!(record.status(), Status::Completed);
    assert!(record.dry_run);
    assert_eq!((record.counters.get("puts"), record.counters.get("deletes")), (80, 20), "writes are counted");
    assert_eq!(record.stats.writes_committed, 0);
    assert_eq!(dump(&store), before, "and none is stored");

    let real = runs::run(&store, &RunRequest::new("RunsMigrate"), &RunnerOptions::default()).unwrap();
    assert_eq!(real.stats.writes_committed, 100);
    assert_ne!(dump(&store), before, "the same job without --dry-run does write");
}

#[test]
fn starting_a_job_already_going_warns_or_with_exclusive_refuses_naming_the_run() {
    let store = MemoryStore::new();
    let first = runs::queue(&store, &slow(0)).unwrap();
    assert!(first.already_active.is_empty());

    let second = runs::queue(&store, &slow(0)).unwrap();
    assert_eq!(second.already_active.len(), 1);
    assert_eq!(second.already_active[0].id(), first.record.id(), "the warning names the queued run");

    let mut exclusive = slow(0);
    exclusive.exclusive = true;
    let err = runs::queue(&store, &exclusive).unwrap_err();
    assert!(matches!(err, RunsError::AlreadyActive { .. }), "{err}");
    let named = [first.record.id(), second.record.id()].into_iter().filter(|id| err.to_string().contains(id.as_str()));
    assert_eq!(named.count(), 1, "the refusal names one of the runs going: {err}");
    assert_eq!(store.recent().unwrap().len(), 2, "the refused run is not recorded");
}

#[test]
fn bad_requests_are_refused_before_anything_is_queued() {
    let store = MemoryStore::new();
    let err = runs::queue(&store, &RunRequest::new("RunsSlo")).unwrap_err();
    assert!(err.to_string().contains("did you mean `RunsSlow`"), "{err}");
    let err = runs::queue(&store, &RunRequest::new("RunsSlow")).unwrap_err();
    assert!(err.to_string().contains("delay_ms"), "a missing parameter is named: {err}");
    let mut request = slow(0);
    request.shards = Some(0);
    assert!(runs::queue(&store, &request).unwrap_err().to_string().contains("0 shards"));
    assert!(store.recent().unwrap().is_empty());
}

#[test]
fn a_run_canceled_while_queued_never_starts() {
    let store = MemoryStore::new();
    testing::put_all(&store, &ticks(5)).unwrap();
    let queued = runs::queue(&store, &slow(0)).unwrap();
    assert_eq!(store.request_cancel(queued.record.id()).unwrap(), CancelOutcome::Canceled);
    let record = runs::run_queued(&store, queued.record.id(), &RunnerOptions::default()).unwrap();
    assert_eq!(record.status(), Status::Canceled);
    assert_eq!(record.started_ms, None);
    assert_eq!(record.stats.entities_read, 0);
}

/// Ticks in a run that is to be canceled or killed: at 20 ms or more each on one thread, over
/// a minute, so it cannot complete before the test stops it, however loaded the machine.
const LONG_RUN_TICKS: u32 = 4000;
/// How long a test waits for what it expects; it stops waiting as soon as it happens.
const PATIENCE: Duration = Duration::from_secs(60);

#[test]
fn a_cancel_through_a_second_handle_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = redb_store(&dir, LONG_RUN_TICKS);
    let other = RedbStore::open(dir.path().join("jobs.redb")).unwrap();
    let queued = runs::queue(&store, &slow(20)).unwrap();
    let id = queued.record.id().clone();

    let runner = std::thread::spawn(move || runs::run_queued(&store, &id, &RunnerOptions::default()));
    let id = queued.record.id();
    let running = poll(&other, id, PATIENCE, |r| r.progress.read() > 0);
    assert_eq!(running.status(), Status::Started, "progress is saved while it runs");

    assert_eq!(other.request_cancel(id).unwrap(), CancelOutcome::Requested);
    let record = runs::wait(&other, id, PATIENCE).unwrap();
    assert_eq!(record.status(), Status::Canceled);
    assert!(record.finished_ms >= record.cancel_requested_ms, "it ended after the request: {record:?}");
    assert!(record.progress.read() < u64::from(LONG_RUN_TICKS), "it stopped early");
    assert!(record.output.is_none());
    assert!(matches!(other.stored_output(id), Err(RunsError::NoOutput { status: Status::Canceled, .. })));
    assert!(matches!(other.full_output(id), Err(RunsError::NoOutput { .. })), "no output is reported as complete");

    let from_runner = runner.join().unwrap().unwrap();
    assert_eq!(from_runner.status(), Status::Canceled);
    assert_eq!(other.request_cancel(id).unwrap(), CancelOutcome::AlreadyFinished(Status::Canceled));
}

#[test]
fn a_run_cannot_be_run_twice_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = redb_store(&dir, LONG_RUN_TICKS);
    let queued = runs::queue(&store, &slow(20)).unwrap();
    let id = queued.record.id().clone();
    let other = RedbStore::open(dir.path().join("jobs.redb")).unwrap();
    let runner = std::thread::spawn(move || runs::run_queued(&store, &id, &RunnerOptions::default()));
    let id = queued.record.id();
    let started = poll(&other, id, PATIENCE, |r| r.status() == Status::Started);
    assert_eq!(started.status(), Status::Started);
    let err = runs::run_queued(&other, id, &RunnerOptions::default()).unwrap_err();
    assert!(matches!(err, RunsError::AlreadyRunning { .. }), "{err}");
    other.request_cancel(id).unwrap();
    assert_eq!(runner.join().unwrap().unwrap().status(), Status::Canceled);
}

// ---- Process-level tests -------------------------------------------------------------------

const STORE_VAR: &str = "JOBS_RUNS_TEST_CHILD_STORE";
const RUN_VAR: &str = "JOBS_RUNS_TEST_CHILD_RUN";

/// The child process: carries out one queued run in the store it is given. Does nothing when
/// run as an ordinary (ignored) test.
#[test]
#[ignore = "the body of the child processes the process-level tests start"]
fn child_process_entry() {
    let (Ok(path), Ok(run)) = (std::env::var(STORE_VAR), std::env::var(RUN_VAR)) else {
        return;
    };
    let store = RedbStore::open(path).unwrap();
    let id = RunId::parse(&run).unwrap();
    runs::run_queued(&store, &id, &RunnerOptions::default()).unwrap();
}

/// Starts a child process that runs `id` from the store at `path`.
fn spawn_runner(path: &Path, id: &RunId) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["child_process_entry", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(STORE_VAR, path)
        .env(RUN_VAR, id.as_str())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Waits at most `timeout` for the child to exit; kills it and fails otherwise.
fn wait_for_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child process did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_run_whose_process_is_killed_is_interrupted_at_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.redb");
    let store = redb_store(&dir, LONG_RUN_TICKS);
    let id = runs::queue(&store, &slow(25)).unwrap().record.id().clone();
    drop(store);

    let mut child = spawn_runner(&path, &id);
    let watcher = RedbStore::open(&path).unwrap();
    let running = poll(&watcher, &id, PATIENCE, |r| r.progress.read() > 0);
    assert_eq!(running.status(), Status::Started, "the child runs it");
    assert_eq!(running.pid, Some(child.id()));
    assert_eq!(watcher.get_run(&id).unwrap().status(), Status::Started, "a live run is not taken for dead");
    drop(watcher);

    child.kill().unwrap(); // SIGKILL: no destructor, no last write
    child.wait().unwrap();

    let store = runs::open_store(&path).unwrap();
    let record = store.load_run(&id).unwrap().unwrap();
    assert_eq!(record.status(), Status::Failed, "marked when the store is opened");
    assert_eq!(record.error.as_deref(), Some("interrupted"));
    assert!(record.progress.read() > 0, "the progress saved before the kill is kept");
    let lock = runs::liveness::lock_path(&runs::liveness::lock_dir(&path), &id);
    assert!(!lock.exists(), "the lock file is cleaned up");
}

#[test]
fn a_cancel_from_another_process_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.redb");
    let store = redb_store(&dir, LONG_RUN_TICKS);
    let id = runs::queue(&store, &slow(20)).unwrap().record.id().clone();

    let mut child = spawn_runner(&path, &id);
    let running = poll(&store, &id, PATIENCE, |r| r.progress.read() > 0);
    assert_eq!(running.status(), Status::Started);

    assert_eq!(store.request_cancel(&id).unwrap(), CancelOutcome::Requested);
    let record = runs::wait(&store, &id, PATIENCE).unwrap();
    assert_eq!(record.status(), Status::Canceled);
    assert!(record.finished_ms >= record.cancel_requested_ms, "it ended after the request: {record:?}");
    assert!(record.progress.read() < u64::from(LONG_RUN_TICKS), "it stopped early");
    assert!(record.output.is_none());
    assert!(wait_for_exit(&mut child, PATIENCE).success(), "the child stops cleanly");
}

#[test]
fn a_run_queued_here_is_carried_out_by_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.redb");
    let store = redb_store(&dir, 50);
    let queued = runs::queue(&store, &RunRequest::new("RunsParity")).unwrap();
    assert_eq!(queued.record.status(), Status::Queued);

    let mut child = spawn_runner(&path, queued.record.id());
    assert!(wait_for_exit(&mut child, Duration::from_secs(30)).success());
    let record = store.get_run(queued.record.id()).unwrap();
    assert_eq!(record.status(), Status::Completed);
    assert_eq!(record.pid, Some(child.id()), "the other process ran it");
    assert_eq!(store.stored_output(record.id()).unwrap(), ["(25x) parity 0", "(25x) parity 1"]);
    let mut full = Vec::new();
    store
        .visit_output(record.id(), OutputKind::Full, &mut |line| {
            full.push(line.to_owned());
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(full.len(), 50);
}
