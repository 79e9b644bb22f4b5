//! The run commands of the `jobs` binary end to end, across processes: `run` records a run,
//! `run --detach` carries it out in a background process, and `runs`, `status`, `output`,
//! `cancel` and `prune` read and change it from other processes; a killed run is found
//! interrupted by the next command.
//!
//! Every wait is bounded: it polls until a deadline and fails the test when the deadline
//! passes. Each test works in its own temporary store.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

mod support;
use std::time::{Duration, Instant};
use support::{Ran, jobs_command};

use jobs_core::Params;
use jobs_core::engine::now_ms;
use jobs_core::runs::{self, RunLog, RunRecord, Status};

/// How many explorations make a run last seconds (debug build, one thread): long enough to be
/// seen running, then canceled or killed.
const LONG_RUN_EXPLORATIONS: &str = "30000";
/// How long a bounded wait waits.
const PATIENCE: Duration = Duration::from_secs(60);

/// A temporary directory holding the store and files of one test.
struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    fn new() -> Self {
        Workdir { dir: tempfile::tempdir().expect("a temporary directory") }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn store(&self) -> PathBuf {
        self.path("jobs.redb")
    }

    /// `jobs --store <dir>/jobs.redb args...`, not yet started.
    fn command(&self, args: &[&str]) -> Command {
        jobs_command(&self.store(), args)
    }

    /// Starts a one-thread `jobs run InteractionAuditOneOffJob` in the foreground, its stdout
    /// and stderr each set by `output`.
    fn start_long_run(&self, output: fn() -> Stdio) -> Child {
        self.command(&["run", "InteractionAuditOneOffJob", "--threads", "1"])
            .stdout(output())
            .stderr(output())
            .spawn()
            .expect("jobs run starts")
    }

    fn jobs(&self, args: &[&str]) -> Ran {
        self.command(args).output().expect("the jobs binary runs").into()
    }

    fn seed(&self, explorations: &str) {
        self.jobs(&["seed", "--explorations", explorations, "--users", "60"]).assert_code(0);
    }

    /// Every recorded run, newest first, as `jobs runs --json` gives them.
    fn records(&self) -> Vec<serde_json::Value> {
        let ran = self.jobs(&["runs", "--json"]);
        ran.assert_code(0);
        ran.out.lines().map(|line| serde_json::from_str(line).expect("each line is a JSON record")).collect()
    }

    fn record(&self, id: &str) -> serde_json::Value {
        let ran = self.jobs(&["status", id, "--json"]);
        ran.assert_code(0);
        serde_json::from_str(ran.out.trim()).expect("a JSON record")
    }

    /// The files left in `<store>.runs/`: lock files of live runs, logs of background runs.
    fn run_files(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.path("jobs.redb.runs")) else {
            return Vec::new();
        };
        entries.map(|entry| entry.expect("a directory entry").file_name().to_string_lossy().into_owned()).collect()
    }
}

/// Polls `check` until it gives a value, for at most [`PATIENCE`].
fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what} after {PATIENCE:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Entities read so far by the run in `record`.
fn entities_read(record: &serde_json::Value) -> u64 {
    record["progress"]["shards"].as_array().map_or(0, |shards| shards.iter().filter_map(|s| s["read"].as_u64()).sum())
}

/// The run started by `child`, once it is recorded `started` and has read something; `None`
/// if the run completed before it could be seen running.
fn started_run(work: &Workdir, child: &mut Child) -> Option<String> {
    wait_for("the run to start reading", || {
        if let Some(exit) = child.try_wait().expect("the child can be checked") {
            assert!(exit.success(), "the run ended with {exit}: {:#?}", work.records());
            return Some(None);
        }
        let records = work.records();
        let mine = records.iter().find(|r| r["pid"].as_u64() == Some(u64::from(child.id())))?;
        if mine["status"] == "completed" {
            // It finished before the test saw it start (and may be blocked writing its report
            // to a pipe nobody reads yet, so waiting for it to exit would wait for ever).
            return Some(None);
        }
        (mine["status"] == "started" && entities_read(mine) > 0)
            .then(|| Some(mine["id"].as_str().expect("an id").to_owned()))
    })
}

/// Waits for `child` to exit while reading its output, for at most [`PATIENCE`]: a run that
/// outran its cancel prints a report larger than a pipe holds, and would block on it.
fn exit_output(child: Child) -> Ran {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(child.wait_with_output()));
    let output = receiver
        .recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("gave up waiting for the run to exit after {PATIENCE:?}"));
    Ran::from(output.expect("its output"))
}

/// Whether `jobs cancel` found the run already completed: it outran the test.
fn outran(cancel: &Ran) -> bool {
    cancel.code == Some(1) && cancel.err.contains("already finished as completed")
}

/// Runs `scenario` until it gives a value, at most three times. A scenario that needs a run
/// still going gives `None` when the run completed before the test got to it, as it may on a
/// loaded machine; that says nothing about what the scenario checks.
fn while_outrun<T>(what: &str, mut scenario: impl FnMut() -> Option<T>) -> T {
    for _ in 0..3 {
        if let Some(value) = scenario() {
            return value;
        }
        eprintln!("{what}: the run completed before it could be stopped; trying again");
    }
    panic!("{what}: the run completed before it could be stopped, three times; seed more explorations")
}

#[test]
fn run_records_a_completed_run_shown_by_runs_and_status() {
    let work = Workdir::new();
    work.seed("150");
    let ran = work.jobs(&["run", "InteractionAuditOneOffJob", "--keep-output"]);
    ran.assert_code(0);
    let id = ran.run_id();
    assert!(id.starts_with("InteractionAuditOneOffJob-"), "{id}");
    assert!(ran.err.ends_with(&format!("\nrun {id}: completed\n")), "stderr ends naming the run: {}", ran.err);
    assert!(ran.out.lines().all(|line| line.starts_with("[\"")), "stdout holds only the report lines: {}", ran.out);

    let listed = work.jobs(&["runs"]);
    listed.assert_code(0);
    let row = listed
        .out
        .lines()
        .find(|line| line.starts_with(&id))
        .unwrap_or_else(|| panic!("{id} missing from:\n{}", listed.out));
    assert!(row.contains("  completed  "), "{row}");
    assert!(row.ends_with(" output lines"), "{row}");

    let status = work.jobs(&["status", &id]);
    status.assert_code(0);
    for expected in [
        "status:   completed\n",
        "options:  64 shards per model, ",
        "progress: 150 of 150 entities read, 64 of 64 shards mapped, ",
        "counters: entities read=150, pairs emitted=",
        "  ExplorationModel     63  ",
    ] {
        assert!(status.out.contains(expected), "{expected:?} missing from:\n{}", status.out);
    }
    let output = work.jobs(&["output", &id, "--full"]);
    output.assert_code(0);
    assert_eq!(output.out, ran.out, "the recorded output is what the run printed");
}

#[test]
fn detach_prints_only_the_run_id_and_the_run_completes_in_the_background() {
    let work = Workdir::new();
    work.seed("150");
    let detached = work.jobs(&["run", "InteractionAuditOneOffJob", "--detach"]);
    detached.assert_code(0);
    let id = detached.out.trim_end().to_owned();
    assert_eq!(detached.out, format!("{id}\n"), "stdout is the run id alone");
    assert!(id.starts_with("InteractionAuditOneOffJob-"), "{id}");
    assert!(detached.err.starts_with(&format!("run {id}: ")), "{}", detached.err);

    let record = wait_for("the background run to complete", || {
        let record = work.record(&id);
        (record["status"] == "completed").then_some(record)
    });
    assert_eq!(record["stats"]["entities_read"], 150);
    let background_pid = record["pid"].as_u64().expect("the pid of the process that ran it");
    assert_ne!(background_pid, u64::from(std::process::id()));

    let foreground = work.jobs(&["run", "InteractionAuditOneOffJob"]);
    foreground.assert_code(0);
    let output = work.jobs(&["output", &id, "--full"]);
    output.assert_code(0);
    assert_eq!(output.out, foreground.out, "the background run gave the same output");
    wait_for("the background process to let go of the run", || work.run_files().is_empty().then_some(()));
}

#[test]
fn output_is_cut_at_the_output_limit_and_full_gives_every_line() {
    let work = Workdir::new();
    work.seed("150");
    let ran = work.jobs(&["run", "InteractionAuditOneOffJob", "--output-limit", "100", "--keep-output"]);
    ran.assert_code(0);
    let id = ran.run_id();
    assert!(ran.out.lines().count() > 1, "{}", ran.out);

    let stored = work.jobs(&["output", &id]);
    stored.assert_code(0);
    // The audit's lines are distinct, so nothing folds: the stored output is the first 100
    // characters of the lines, the last one cut and marked.
    let mut stored_lines: Vec<String> = stored.out.lines().map(str::to_owned).collect();
    let last = stored_lines.pop().expect("a stored line");
    let cut = last.strip_suffix("<TRUNCATED>").expect("the last line ends with the marker");
    stored_lines.push(cut.to_owned());
    let chars: usize = stored_lines.iter().map(|line| line.chars().count()).sum();
    assert_eq!(chars, 100, "{}", stored.out);
    let full_lines: Vec<&str> = ran.out.lines().collect();
    let kept = stored_lines.len() - 1;
    assert_eq!(stored_lines[..kept], full_lines[..kept], "whole lines first");
    assert!(full_lines[kept].starts_with(cut), "then the start of the next line");
    assert!(stored.err.contains("cut at 100 characters"), "{}", stored.err);

    let full = work.jobs(&["output", &id, "--full"]);
    full.assert_code(0);
    assert_eq!(full.out, ran.out, "--full returns every line");
    let file = work.path("full.txt");
    work.jobs(&["output", &id, "--full", "--output", file.to_str().expect("UTF-8")]).assert_code(0);
    assert_eq!(std::fs::read_to_string(&file).expect("the export"), ran.out);
}

#[test]
fn dry_run_of_the_migration_leaves_every_model_unchanged_and_counts_the_puts() {
    let work = Workdir::new();
    work.seed("150");
    let kinds = ["ExplorationModel", "ExplorationRightsModel", "UserSettingsModel"];
    let export = |kind: &str| {
        let ran = work.jobs(&["export", kind]);
        ran.assert_code(0);
        ran.out
    };
    let before: Vec<String> = kinds.iter().map(|kind| export(kind)).collect();

    let dry = work.jobs(&["run", "ExplorationMigrationJob", "--dry-run"]);
    dry.assert_code(0);
    let counters = dry
        .err
        .lines()
        .find(|line| line.starts_with("counters: "))
        .unwrap_or_else(|| panic!("no counters in:\n{}", dry.err));
    assert!(counters.ends_with(" (dry run: puts and deletes were counted, not written)"), "{counters}");
    let migrated = counters.split(", ").find_map(|c| c.strip_prefix("MIGRATED=")).expect("MIGRATED counted");
    assert!(counters.contains(&format!("puts={migrated}")), "one put per migrated exploration: {counters}");
    assert_ne!(migrated, "0", "the demo data has old explorations");

    let after: Vec<String> = kinds.iter().map(|kind| export(kind)).collect();
    assert!(before == after, "a dry run changes no model");
    let id = dry.run_id();
    let listed = work.jobs(&["runs"]);
    assert!(listed.out.lines().any(|l| l.starts_with(&id) && l.contains("dry run")), "{}", listed.out);

    work.jobs(&["run", "ExplorationMigrationJob"]).assert_code(0);
    assert_ne!(export("ExplorationModel"), before[0], "the real run writes what the dry one counted");
}

#[test]
fn prune_older_than_0_removes_finished_runs() {
    let work = Workdir::new();
    work.seed("20");
    let first = work.jobs(&["run", "HintsAuditOneOffJob"]);
    first.assert_code(0);
    let second = work.jobs(&["run", "UsernameLengthDistributionOneOffJob"]);
    second.assert_code(0);

    let kept = work.jobs(&["prune"]);
    kept.assert_code(0);
    assert!(kept.out.is_empty(), "nothing is 84 days old: {}", kept.out);
    assert_eq!(work.records().len(), 2);

    let pruned = work.jobs(&["prune", "--older-than", "0"]);
    pruned.assert_code(0);
    let mut removed: Vec<&str> = pruned.out.lines().collect();
    removed.sort_unstable();
    let mut expected = [first.run_id(), second.run_id()];
    expected.sort_unstable();
    assert_eq!(removed, expected);
    assert!(pruned.err.starts_with("pruned 2 runs (every finished run) from "), "{}", pruned.err);
    assert!(work.records().is_empty());
    work.jobs(&["status", &expected[0]]).assert_code(2);
}

#[test]
fn a_second_run_warns_naming_the_active_run_and_exclusive_refuses_with_2() {
    let work = Workdir::new();
    work.seed("20");
    // A run queued by another process that has not started it yet.
    let store = runs::open_store(work.store()).expect("the store opens");
    let mut queued = RunRecord::new("InteractionAuditOneOffJob", Params::new(), 64, 1, false, now_ms());
    queued.transition(Status::Queued).expect("new -> queued");
    store.create(&queued).expect("recorded");
    drop(store);
    let active = queued.id().to_string();

    let refused = work.jobs(&["run", "InteractionAuditOneOffJob", "--exclusive"]);
    refused.assert_code(2);
    assert!(refused.out.is_empty());
    assert!(
        refused.err.contains(&format!(
            "InteractionAuditOneOffJob already has a run queued: {active}; wait for it, cancel it with `jobs cancel"
        )),
        "{}",
        refused.err
    );

    let warned = work.jobs(&["run", "InteractionAuditOneOffJob"]);
    warned.assert_code(0);
    assert!(
        warned.err.starts_with(&format!(
            "warning: InteractionAuditOneOffJob already has a run queued: {active} (this run goes ahead too"
        )),
        "{}",
        warned.err
    );
    assert!(!warned.out.is_empty(), "the run went ahead");
    assert_eq!(work.records().len(), 2, "the refused run was not recorded");

    let canceled = work.jobs(&["cancel", &active]);
    canceled.assert_code(0);
    assert_eq!(canceled.err, format!("run {active}: canceled before it started\n"));
    work.jobs(&["run", "InteractionAuditOneOffJob", "--exclusive"]).assert_code(0);
}

/// On one store big enough for runs of a few seconds, in turn: a detached run canceled from
/// another process, a foreground run canceled from another process, a foreground run killed
/// with SIGKILL.
#[test]
fn long_runs_are_canceled_from_another_process_and_killed_runs_are_interrupted() {
    let work = Workdir::new();
    work.seed(LONG_RUN_EXPLORATIONS);
    while_outrun("cancel a detached run", || detached_run_is_canceled_from_another_process(&work));
    while_outrun("cancel a foreground run", || foreground_run_canceled_from_another_process_exits_130(&work));
    while_outrun("kill a run", || killed_run_is_failed_interrupted_at_the_next_command(&work));
}

fn detached_run_is_canceled_from_another_process(work: &Workdir) -> Option<()> {
    let detached = work.jobs(&["run", "InteractionAuditOneOffJob", "--detach", "--threads", "1"]);
    detached.assert_code(0);
    let id = detached.out.trim_end().to_owned();
    // `--detach` returns once the background process has started the run.
    let canceled = work.jobs(&["cancel", &id]);
    if outran(&canceled) {
        wait_for("the background process to end", || work.run_files().is_empty().then_some(()));
        return None;
    }
    canceled.assert_code(0);
    assert!(canceled.err.starts_with(&format!("run {id}: canceled after reading ")), "{}", canceled.err);
    let record = work.record(&id);
    assert_eq!(record["status"], "canceled");
    let requested = record["cancel_requested_ms"].as_i64().expect("the request is recorded");
    let finished = record["finished_ms"].as_i64().expect("finished");
    // Order, not speed: it ended (canceled, not completed) after the request.
    assert!(finished >= requested, "it ended at {finished}, before the request at {requested}");
    assert!(record["output"].is_null(), "{record}");

    let output = work.jobs(&["output", &id]);
    output.assert_code(1);
    assert!(output.out.is_empty(), "{}", output.out);
    assert_eq!(output.err, format!("error: run {id} has no output: it is canceled\n"));
    wait_for("the background process to end", || work.run_files().is_empty().then_some(()));
    Some(())
}

fn foreground_run_canceled_from_another_process_exits_130(work: &Workdir) -> Option<()> {
    let mut child = work.start_long_run(Stdio::piped);
    let id = started_run(work, &mut child)?;
    let canceled = work.jobs(&["cancel", &id]);
    let ran = exit_output(child);
    if outran(&canceled) {
        return None;
    }
    canceled.assert_code(0);
    ran.assert_code(130);
    assert!(ran.out.is_empty(), "a canceled run prints no output: {}", ran.out);
    assert!(ran.err.contains(&format!("\nrun {id}: canceled\nerror: the run was canceled")), "{}", ran.err);
    Some(())
}

fn killed_run_is_failed_interrupted_at_the_next_command(work: &Workdir) -> Option<()> {
    let mut child = work.start_long_run(Stdio::null);
    let id = started_run(work, &mut child)?;
    child.kill().expect("SIGKILL"); // no destructor runs, no last write
    child.wait().expect("reaped");

    let status = work.jobs(&["status", &id]);
    status.assert_code(0);
    if status.out.contains("status:   completed\n") {
        return None;
    }
    assert!(status.out.contains("status:   failed\n"), "{}", status.out);
    assert!(status.out.contains("\nerror:    interrupted\n"), "{}", status.out);
    let listed = work.jobs(&["runs"]);
    listed.assert_code(0);
    let row = listed
        .out
        .lines()
        .find(|line| line.starts_with(&id))
        .unwrap_or_else(|| panic!("{id} missing from:\n{}", listed.out));
    assert!(row.contains("  failed  ") && row.ends_with("interrupted"), "{row}");
    assert!(work.run_files().is_empty(), "the lock file is cleaned up: {:?}", work.run_files());
    Some(())
}
