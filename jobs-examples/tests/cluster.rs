//! `jobs run --engine timely` across real processes on 127.0.0.1, over a redb file and over
//! PostgreSQL: every example job gives the local engine's output (over redb, on the same
//! data) on 2 and 3 processes, a killed process fails the run within seconds (a killed
//! process 0 leaves it `interrupted`) and a retry completes it, cancel reaches every process,
//! and bad cluster flags are usage errors.
//!
//! The PostgreSQL tests work in a schema of their own on the server named by
//! `JOBS_TEST_POSTGRES_URL` (`.ci/postgres` starts one); without that variable (or `CI`) set
//! when they are built they are reported `ignored`, and a test that runs fails when the server
//! is not reachable. Every process gets the
//! store through `JOBS_STORE`, as a URL with a password should be given. Every wait is
//! bounded; a process still running at its deadline is killed and fails the test.

use std::ffi::OsStr;
use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod support;
use support::{Ran, jobs_command_via_env};

use jobs_core::runs::{INTERRUPTED, RunLog, RunRecord, Status};
use jobs_core::store::{PostgresStore, RedbStore};
use jobs_core::testing::postgres_server::{TestSchema, test_schema};

/// How long any one process may take before the test gives up on it.
const PATIENCE: Duration = Duration::from_secs(120);
/// How soon the survivors of a killed process must stop.
const FAIL_STOP_WITHIN: Duration = Duration::from_secs(30);
/// Explorations that make a one-worker run last a few seconds in a debug build, so a process
/// can be killed mid-job.
const LONG_RUN_EXPLORATIONS: &str = "60000";
/// The model kinds `jobs seed` fills.
const KINDS: [&str; 3] = ["ExplorationModel", "ExplorationRightsModel", "UserSettingsModel"];

/// Which store a cluster shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreKind {
    Redb,
    Postgres,
}

/// The store every process of a cluster opens.
enum SharedStore {
    /// A redb file, opened afresh for each look at the runs.
    Redb(PathBuf),
    /// A schema of its own on the test server; the test's own connection to it is opened
    /// once, and closed before the schema is dropped (fields drop in order).
    Postgres { log: OnceLock<PostgresStore>, schema: TestSchema },
}

impl SharedStore {
    /// A new, empty store of `kind` in `dir` (a schema of its own for `test` on PostgreSQL).
    fn new(kind: StoreKind, dir: &std::path::Path, test: &str) -> Self {
        match kind {
            StoreKind::Redb => SharedStore::Redb(dir.join("jobs.redb")),
            StoreKind::Postgres => SharedStore::Postgres { log: OnceLock::new(), schema: test_schema(test) },
        }
    }

    /// What `JOBS_STORE` says: the file's path or the schema's URL.
    fn location(&self) -> String {
        match self {
            SharedStore::Redb(path) => path.display().to_string(),
            SharedStore::Postgres { schema, .. } => schema.url().to_owned(),
        }
    }

    /// Reads the store's runs, settling those whose process died, as any command does.
    fn with_log<T>(&self, read: impl FnOnce(&dyn RunLog) -> T) -> T {
        match self {
            SharedStore::Redb(path) => {
                read(&RedbStore::open(path).expect("the store opens beside the running processes"))
            }
            SharedStore::Postgres { log, schema } => {
                read(log.get_or_init(|| schema.open().expect("the store opens beside the running processes")))
            }
        }
    }
}

struct Cluster {
    store: SharedStore,
    hosts: PathBuf,
    processes: usize,
    // Last, so the host file goes only after everything else.
    dir: tempfile::TempDir,
}

impl Cluster {
    /// A store of `kind` seeded with `explorations` explorations, and a host file for
    /// `processes` processes on free local ports.
    fn seeded(kind: StoreKind, test: &str, explorations: &str, processes: usize) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SharedStore::new(kind, dir.path(), test);
        let mut cluster = Cluster { store, hosts: dir.path().join("hosts"), processes, dir };
        cluster.jobs(&["seed", "--explorations", explorations, "--users", "300"]).assert_code(0);
        cluster.set_processes(processes);
        cluster
    }

    /// [`seeded`](Self::seeded) over a redb file.
    fn over_redb(explorations: &str, processes: usize) -> Self {
        Cluster::seeded(StoreKind::Redb, "", explorations, processes)
    }

    /// Makes the cluster `processes` processes, on new free local ports.
    fn set_processes(&mut self, processes: usize) {
        let mut text = String::from("# one line per process, process 0 first\n");
        for port in free_ports(processes) {
            text.push_str(&format!("127.0.0.1:{port}\n"));
        }
        std::fs::write(&self.hosts, text).expect("the host file is written");
        self.processes = processes;
    }

    fn command(&self, args: &[&str]) -> Command {
        jobs_command_via_env(&self.store.location(), args)
    }

    fn jobs(&self, args: &[&str]) -> Ran {
        self.command(args).output().expect("the jobs binary runs").into()
    }

    /// `jobs run JOB --engine timely ... --process I`, started.
    fn start(&self, process: usize, job: &str, extra: &[&str]) -> Child {
        self.start_with_env(process, job, extra, &[])
    }

    /// [`start`](Self::start), with `env` added to the process's environment.
    fn start_with_env(&self, process: usize, job: &str, extra: &[&str], env: &[(&str, &OsStr)]) -> Child {
        let (processes, process) = (self.processes.to_string(), process.to_string());
        let hosts = self.hosts.display().to_string();
        let mut args = vec!["run", job, "--engine", "timely", "--processes", &processes, "--process", &process];
        args.extend(["--hosts", &hosts]);
        args.extend(extra);
        let mut command = self.command(&args);
        command.envs(env.iter().copied());
        spawn(command)
    }

    /// Runs `job` on every process of the cluster; returns what each process did, process 0
    /// first.
    fn run_all(&self, job: &str, extra: &[&str]) -> Vec<Ran> {
        let children: Vec<Child> = (0..self.processes).map(|p| self.start(p, job, extra)).collect();
        children.into_iter().map(|child| finish(child, PATIENCE)).collect()
    }

    /// The newest run's record, after settling runs whose process died.
    fn newest_run(&self) -> Option<RunRecord> {
        self.store.with_log(|log| log.recent().expect("runs are listed").into_iter().next())
    }

    /// Every model `jobs export` writes, kind by kind.
    fn exported(&self) -> Vec<String> {
        KINDS
            .iter()
            .map(|kind| {
                let ran = self.jobs(&["export", kind]);
                ran.assert_code(0);
                ran.out
            })
            .collect()
    }
}

/// A redb store seeded as `cluster` was, with the same `jobs seed` arguments, for the local
/// engine's reference output. With `check`, asserts that both hold the same models (the
/// seed is deterministic, so the small stores prove it for the large ones).
fn redb_reference(cluster: &Cluster, explorations: &str, check: bool) -> Cluster {
    let reference = Cluster::over_redb(explorations, 1);
    if check {
        assert!(reference.exported() == cluster.exported(), "the same `jobs seed` gave different models");
    }
    reference
}

fn spawn(mut command: Command) -> Child {
    command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("jobs starts")
}

/// Waits for `child` to exit within `limit`; kills it and fails the test otherwise. Its
/// output is read while it runs, so a large report cannot fill the pipe and stall it.
fn finish(mut child: Child, limit: Duration) -> Ran {
    let read_all = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                pipe.read_to_string(&mut text).expect("the child's output is read");
            }
            text
        })
    };
    let out = read_all(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = read_all(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait().expect("the child can be waited for") {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("a jobs process ran longer than {limit:?}; stderr:\n{}", err.join().unwrap_or_default());
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    Ran { code: status.code(), out: out.join().expect("stdout was read"), err: err.join().expect("stderr was read") }
}

/// Ports free right now: bound, noted, released.
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n).map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port")).collect();
    listeners.iter().map(|l| l.local_addr().expect("a bound address").port()).collect()
}

/// Waits until `condition` holds, polling, or fails the test at `limit`.
fn wait_until(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "waited {limit:?} in vain for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn job_names(cluster: &Cluster) -> Vec<String> {
    let listed = cluster.jobs(&["list", "--json"]);
    listed.assert_code(0);
    listed
        .out
        .lines()
        .map(|line| {
            let job: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
            job["name"].as_str().expect("a job name").to_owned()
        })
        .collect()
}

/// Declares `mod NAME { over_redb, over_postgres }`: the test `NAME(kind, test)` run on each
/// store.
macro_rules! over_both_stores {
    ($name:ident) => {
        mod $name {
            #[test]
            fn over_redb() {
                super::$name(super::StoreKind::Redb, concat!(stringify!($name), "::over_redb"));
            }

            #[test]
            #[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
            fn over_postgres() {
                super::$name(super::StoreKind::Postgres, concat!(stringify!($name), "::over_postgres"));
            }
        }
    };
}

over_both_stores!(every_example_job_on_two_and_three_processes_prints_the_local_engines_output);
over_both_stores!(a_migration_on_a_cluster_stores_what_the_local_engine_stores);
over_both_stores!(killing_either_process_fails_the_run_within_seconds_and_a_retry_completes);
over_both_stores!(a_cancel_from_another_process_stops_every_process);
over_both_stores!(a_process_that_never_comes_fails_the_run_at_the_connect_timeout);
over_both_stores!(a_run_canceled_while_waiting_for_its_processes_ends_canceled);

fn every_example_job_on_two_and_three_processes_prints_the_local_engines_output(kind: StoreKind, test: &str) {
    let mut cluster = Cluster::seeded(kind, test, "1500", 2);
    let reference = redb_reference(&cluster, "1500", true);
    let jobs = job_names(&cluster);
    assert!(jobs.len() >= 7, "{jobs:?}");
    // Dry runs, so the migration job leaves the data as the next job expects it.
    let local: Vec<Ran> = jobs.iter().map(|job| reference.jobs(&["run", job, "--dry-run"])).collect();
    let silent = local.iter().filter(|ran| ran.assert_code(0).out.is_empty()).count();
    assert!(silent <= 1, "most jobs should print something on the seeded data");
    for processes in [2, 3] {
        cluster.set_processes(processes);
        for (job, local) in jobs.iter().zip(&local) {
            let ran = cluster.run_all(job, &["--workers", "2", "--dry-run", "--shards", "5", "--keep-output"]);
            ran[0].assert_code(0);
            assert!(ran[0].out == local.out, "{job} on {processes} processes:\n{}\nlocal:\n{}", ran[0].out, local.out);
            for (process, peer) in ran.iter().enumerate().skip(1) {
                peer.assert_code(0);
                assert!(peer.out.is_empty(), "process {process} printed report lines");
            }
            let record = cluster.newest_run().expect("process 0 recorded the run");
            assert_eq!(record.status(), Status::Completed);
            assert_eq!(record.engine, "timely");
            assert_eq!(record.threads, 2 * processes);
            assert!(record.dry_run);
            // Process 0's record shows every shard, those the other processes mapped too.
            assert!(record.progress.shards.iter().all(|shard| shard.done), "{job}: a shard is not done");
            assert_eq!(record.progress.read(), record.stats.entities_read, "{job}");
            // What `jobs output` serves is what process 0 printed.
            let stored = cluster.jobs(&["output", record.id().as_str(), "--full"]);
            assert!(stored.assert_code(0).out == ran[0].out, "{job}: the recorded output differs from the printed one");
        }
    }
}

fn a_migration_on_a_cluster_stores_what_the_local_engine_stores(kind: StoreKind, test: &str) {
    let cluster = Cluster::seeded(kind, test, "1200", 2);
    let local = redb_reference(&cluster, "1200", true);
    let by_local = local.jobs(&["run", "ExplorationMigrationJob"]);
    by_local.assert_code(0);
    let ran = cluster.run_all("ExplorationMigrationJob", &["--workers", "2"]);
    ran[0].assert_code(0);
    ran[1].assert_code(0);
    assert_eq!(ran[0].out, by_local.out);
    assert!(cluster.exported() == local.exported(), "the migrated models differ");
    let record = cluster.newest_run().expect("a run");
    assert!(record.counters.get("puts") > 0);
    assert_eq!(record.stats.writes_committed, record.counters.get("puts"));
}

/// Starts a long two-process run and waits until process 0 has connected and started mapping.
fn start_long_run(cluster: &Cluster, extra: &[&str]) -> (Child, Child) {
    let mut args = vec!["--workers", "1"];
    args.extend(extra);
    let zero = cluster.start(0, "InteractionAuditOneOffJob", &args);
    let one = cluster.start(1, "InteractionAuditOneOffJob", &args);
    wait_until(PATIENCE, "the cluster to start mapping", || {
        cluster.newest_run().is_some_and(|r| r.status() == Status::Started && r.progress.read() > 0)
    });
    (zero, one)
}

fn killing_either_process_fails_the_run_within_seconds_and_a_retry_completes(kind: StoreKind, test: &str) {
    let cluster = Cluster::seeded(kind, test, LONG_RUN_EXPLORATIONS, 2);
    let local = match kind {
        // The same file: no second seed of 60,000 explorations.
        StoreKind::Redb => cluster.jobs(&["run", "InteractionAuditOneOffJob"]),
        StoreKind::Postgres => {
            redb_reference(&cluster, LONG_RUN_EXPLORATIONS, false).jobs(&["run", "InteractionAuditOneOffJob"])
        }
    };
    local.assert_code(0);

    // Without retries: process 0 stops with the reason, and the run is failed.
    let (zero, mut one) = start_long_run(&cluster, &[]);
    one.kill().expect("process 1 is killed");
    let killed_at = Instant::now();
    let _ = one.wait();
    let ran = finish(zero, PATIENCE);
    assert!(killed_at.elapsed() < FAIL_STOP_WITHIN, "process 0 took {:?} to stop", killed_at.elapsed());
    ran.assert_code(1);
    assert!(ran.err.contains("lost process 1"), "{}", ran.err);
    let record = cluster.newest_run().expect("a run");
    assert_eq!(record.status(), Status::Failed);
    assert!(record.error.as_deref().unwrap_or("").contains("lost process 1"), "{:?}", record.error);

    // With a retry: process 1 is killed mid-job and started again; the run completes.
    let (zero, mut one) = start_long_run(&cluster, &["--retries", "1"]);
    one.kill().expect("process 1 is killed");
    let _ = one.wait();
    let again = cluster.start(1, "InteractionAuditOneOffJob", &["--workers", "1", "--retries", "1"]);
    let ran = finish(zero, PATIENCE);
    ran.assert_code(0);
    assert!(ran.out == local.out, "the retried run's output differs from the local engine's");
    finish(again, PATIENCE).assert_code(0);
    let record = cluster.newest_run().expect("a run");
    assert_eq!(record.status(), Status::Completed);
    assert_eq!(record.attempts, 2, "process 0 records the retry");
    let status = cluster.jobs(&["status", record.id().as_str()]);
    assert!(status.out.contains("2 attempts") || status.err.contains("2 attempts"), "{}", status.out);

    // Process 0 killed: process 1 stops with the reason. Process 0 held the run's claim (a
    // lock file, or an advisory lock on its connection to PostgreSQL), so the next reader
    // records the run `interrupted`.
    let (mut zero, one) = start_long_run(&cluster, &[]);
    let id = cluster.newest_run().expect("a run").id().clone();
    zero.kill().expect("process 0 is killed");
    let killed_at = Instant::now();
    let _ = zero.wait();
    let ran = finish(one, FAIL_STOP_WITHIN);
    assert!(killed_at.elapsed() < FAIL_STOP_WITHIN, "process 1 took {:?} to stop", killed_at.elapsed());
    ran.assert_code(1);
    assert!(ran.err.contains("lost process 0"), "{}", ran.err);
    // The server frees a dead connection's lock once it notices the drop: soon, not
    // necessarily at once.
    wait_until(FAIL_STOP_WITHIN, "the run to be recorded interrupted", || {
        cluster.newest_run().is_some_and(|r| r.status() == Status::Failed)
    });
    let record = cluster.newest_run().expect("a run");
    assert_eq!(record.id(), &id);
    assert_eq!(record.error.as_deref(), Some(INTERRUPTED));
    let shown = cluster.jobs(&["status", id.as_str()]);
    assert!(shown.assert_code(0).out.contains("interrupted"), "{}", shown.out);
}

fn a_cancel_from_another_process_stops_every_process(kind: StoreKind, test: &str) {
    let cluster = Cluster::seeded(kind, test, LONG_RUN_EXPLORATIONS, 2);
    let (zero, one) = start_long_run(&cluster, &[]);
    let id = cluster.newest_run().expect("a run").id().to_string();
    cluster.jobs(&["cancel", &id]).assert_code(0);
    finish(zero, FAIL_STOP_WITHIN).assert_code(130);
    finish(one, FAIL_STOP_WITHIN).assert_code(130);
    assert_eq!(cluster.newest_run().expect("a run").status(), Status::Canceled);
}

fn a_process_that_never_comes_fails_the_run_at_the_connect_timeout(kind: StoreKind, test: &str) {
    let cluster = Cluster::seeded(kind, test, "100", 2);
    let alone = cluster.start(0, "HintsAuditOneOffJob", &["--connect-timeout", "2"]);
    let ran = finish(alone, FAIL_STOP_WITHIN);
    ran.assert_code(1);
    assert!(ran.err.contains("the cluster did not connect"), "{}", ran.err);
    assert!(ran.err.contains("waited in vain for process 1"), "{}", ran.err);
    assert_eq!(cluster.newest_run().expect("a run").status(), Status::Failed);
}

#[test]
fn bad_cluster_flags_are_usage_errors_that_name_the_problem() {
    let cluster = Cluster::over_redb("10", 2);
    let hosts = cluster.hosts.display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--engine", "timely", "--processes", "2", "--process", "2", "--hosts", &hosts],
            "--process 2 is out of range",
        ),
        (vec!["--engine", "timely", "--processes", "3", "--hosts", &hosts], "lists 2 address(es) but --processes is 3"),
        (vec!["--engine", "timely", "--processes", "2"], "--processes 2 needs --hosts FILE"),
        (vec!["--workers", "2"], "--workers applies to `--engine timely`"),
        (vec!["--engine", "timely", "--threads", "2"], "with --engine timely use --workers"),
        (vec!["--engine", "timely", "--detach"], "--detach is not available with --engine timely"),
    ];
    for (flags, message) in cases {
        let mut args = vec!["run", "HintsAuditOneOffJob"];
        args.extend(flags);
        let ran = cluster.jobs(&args);
        ran.assert_code(2);
        assert!(ran.err.contains(message), "{args:?}: {}", ran.err);
    }
    let bad = cluster.dir.path().join("bad-hosts");
    std::fs::write(&bad, "127.0.0.1:7000\n\n127.0.0.1\n").expect("written");
    let bad = bad.display().to_string();
    let ran = cluster.jobs(&["run", "HintsAuditOneOffJob", "--engine", "timely", "--processes", "2", "--hosts", &bad]);
    ran.assert_code(2);
    assert!(ran.err.contains("line 3: `127.0.0.1` is not an address: it has no `:port`"), "{}", ran.err);
}

#[test]
fn a_host_off_loopback_needs_a_secret_and_a_short_secret_is_refused() {
    let cluster = Cluster::over_redb("10", 2);
    let remote = cluster.dir.path().join("remote-hosts");
    std::fs::write(&remote, "127.0.0.1:7000\n10.9.8.7:7000\n").expect("written");
    let remote = remote.display().to_string();
    let args = ["run", "HintsAuditOneOffJob", "--engine", "timely", "--processes", "2", "--hosts", &remote];
    let ran = cluster.jobs(&args);
    ran.assert_code(2);
    assert!(ran.err.contains("the host file names 10.9.8.7:7000, which is not a loopback address"), "{}", ran.err);
    assert!(ran.err.contains("JOBS_CLUSTER_SECRET"), "{}", ran.err);
    let short = cluster.command(&args).env("JOBS_CLUSTER_SECRET", "guessable\n").output().expect("jobs runs");
    let short = Ran::from(short);
    short.assert_code(2);
    assert!(short.err.contains("the cluster secret from JOBS_CLUSTER_SECRET is 9 bytes long"), "{}", short.err);
    let file = cluster.dir.path().join("missing-secret");
    let file = file.display().to_string();
    let ran = cluster.jobs(&[&args[..], &["--cluster-secret-file", &file]].concat());
    ran.assert_code(2);
    assert!(ran.err.contains(&format!("cannot read the cluster secret file {file}")), "{}", ran.err);
    // No run was started by any of them.
    assert!(cluster.newest_run().is_none());
}

#[test]
fn a_process_with_another_secret_is_refused_by_name_and_the_right_one_is_awaited() {
    let cluster = Cluster::over_redb("100", 2);
    let secret_file = cluster.dir.path().join("secret");
    std::fs::write(&secret_file, "the-right-cluster-secret-0123456789\n").expect("written");
    let secret_file = secret_file.display().to_string();
    let local = cluster.jobs(&["run", "HintsAuditOneOffJob"]);
    local.assert_code(0);
    // Process 0 reads the secret from a file, the others from the environment.
    let zero =
        cluster.start(0, "HintsAuditOneOffJob", &["--connect-timeout", "60", "--cluster-secret-file", &secret_file]);
    let mut impostor = cluster.command(&[
        "run",
        "HintsAuditOneOffJob",
        "--engine",
        "timely",
        "--processes",
        "2",
        "--process",
        "1",
        "--hosts",
        &cluster.hosts.display().to_string(),
        "--connect-timeout",
        "3",
    ]);
    impostor.env("JOBS_CLUSTER_SECRET", "another-cluster-secret-0123456789");
    let impostor = finish(spawn(impostor), FAIL_STOP_WITHIN);
    impostor.assert_code(1);
    assert!(impostor.err.contains("the cluster did not connect"), "{}", impostor.err);
    assert!(impostor.err.contains("has another cluster secret than process 1"), "{}", impostor.err);
    assert!(!impostor.err.contains("the-right-cluster-secret"), "the secret is never printed");
    // Process 0 is still waiting: the right process 1 joins and the run completes.
    let mut right = cluster.command(&[
        "run",
        "HintsAuditOneOffJob",
        "--engine",
        "timely",
        "--processes",
        "2",
        "--process",
        "1",
        "--hosts",
        &cluster.hosts.display().to_string(),
    ]);
    right.env("JOBS_CLUSTER_SECRET", "the-right-cluster-secret-0123456789");
    let right = finish(spawn(right), PATIENCE);
    let zero = finish(zero, PATIENCE);
    right.assert_code(0);
    zero.assert_code(0);
    assert!(zero.out == local.out, "the authenticated cluster's output differs from the local engine's");
    assert!(zero.err.contains("process 1 ("), "{}", zero.err);
    assert!(zero.err.contains("refused this process") && zero.err.contains("another cluster secret"), "{}", zero.err);
    assert_eq!(cluster.newest_run().expect("a run").status(), Status::Completed);
}

#[test]
fn processes_started_with_different_settings_refuse_each_other_by_name() {
    let cluster = Cluster::over_redb("100", 2);
    let zero = cluster.start(0, "HintsAuditOneOffJob", &["--shards", "4", "--connect-timeout", "20"]);
    let one = cluster.start(1, "HintsAuditOneOffJob", &["--shards", "5", "--connect-timeout", "20"]);
    for ran in [finish(zero, FAIL_STOP_WITHIN), finish(one, FAIL_STOP_WITHIN)] {
        ran.assert_code(1);
        assert!(
            ran.err.contains("process 1 was started differently from process 0: 5 shards against 4"),
            "{}",
            ran.err
        );
    }
    assert_eq!(cluster.newest_run().expect("a run").status(), Status::Failed);
}

#[test]
fn processes_that_opened_different_stores_refuse_each_other_by_name() {
    let cluster = Cluster::over_redb("100", 2);
    // Seeded alike, so only the store ids tell the two files apart.
    let elsewhere = Cluster::over_redb("100", 1);
    assert!(elsewhere.exported() == cluster.exported(), "the same `jobs seed` gave different models");
    let zero = cluster.start(0, "HintsAuditOneOffJob", &["--connect-timeout", "20"]);
    let hosts = cluster.hosts.display().to_string();
    let one = spawn(jobs_command_via_env(
        &elsewhere.store.location(),
        &["run", "HintsAuditOneOffJob", "--engine", "timely", "--processes", "2", "--process", "1"]
            .into_iter()
            .chain(["--hosts", &hosts, "--connect-timeout", "20"])
            .collect::<Vec<_>>(),
    ));
    for ran in [finish(zero, FAIL_STOP_WITHIN), finish(one, FAIL_STOP_WITHIN)] {
        ran.assert_code(1);
        assert!(ran.err.contains("process 1 opened another store than process 0"), "{}", ran.err);
        assert!(
            ran.err.contains(&elsewhere.store.location()) && ran.err.contains(&cluster.store.location()),
            "{}",
            ran.err
        );
        assert!(ran.err.contains("every process must open the same store"), "{}", ran.err);
    }
    assert_eq!(cluster.newest_run().expect("a run").status(), Status::Failed);
}

#[test]
#[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
fn processes_that_name_one_server_differently_run_together() {
    let test = "processes_that_name_one_server_differently_run_together";
    let cluster = Cluster::seeded(StoreKind::Postgres, test, "100", 2);
    let reference = redb_reference(&cluster, "100", false);
    let local = reference.jobs(&["run", "HintsAuditOneOffJob"]);
    local.assert_code(0);
    let location = cluster.store.location();
    let elsewhere = location.replace("127.0.0.1", "localhost");
    assert_ne!(elsewhere, location, "the test URL names 127.0.0.1");
    let zero = cluster.start(0, "HintsAuditOneOffJob", &[]);
    let hosts = cluster.hosts.display().to_string();
    let one = spawn(jobs_command_via_env(
        &elsewhere,
        &["run", "HintsAuditOneOffJob", "--engine", "timely", "--processes", "2", "--process", "1", "--hosts", &hosts],
    ));
    let (zero, one) = (finish(zero, PATIENCE), finish(one, PATIENCE));
    zero.assert_code(0);
    one.assert_code(0);
    assert!(zero.out == local.out, "cluster:\n{}\nlocal:\n{}", zero.out, local.out);
    assert_eq!(cluster.newest_run().expect("a run").status(), Status::Completed);
}

#[test]
fn a_process_that_stops_answering_fails_the_run_at_the_heartbeat_timeout() {
    let cluster = Cluster::over_redb(LONG_RUN_EXPLORATIONS, 2);
    let (zero, mut one) = start_long_run(&cluster, &[]);
    // Stopped, not dead: its connections stay open, so only the missing heartbeats tell.
    let SharedStore::Redb(path) = &cluster.store else { unreachable!("a cluster over redb") };
    stop_outside_the_stores_locks(&one, path);
    let ran = finish(zero, FAIL_STOP_WITHIN);
    let _ = one.kill();
    let _ = one.wait();
    ran.assert_code(1);
    assert!(ran.err.contains("lost process 1") && ran.err.contains("sent nothing for 10 s"), "{}", ran.err);
    assert_eq!(cluster.newest_run().expect("a run").status(), Status::Failed);
}

/// Sends `signal` (`STOP`, `CONT`) to `child`, with the shell's own `kill`, so no procps
/// package is needed.
fn signal(child: &Child, signal: &str) {
    let sent = Command::new("sh").args(["-c", &format!("kill -{signal} {}", child.id())]).status().expect("sh runs");
    assert!(sent.success(), "kill -{signal} {}", child.id());
}

/// Stops `child` (SIGSTOP) at a moment it holds none of the redb file's locks. A process of a
/// cluster over redb takes the file's header lock, shared, for an instant as each of its read
/// transactions starts; stopped inside that instant, it would block every write to the file
/// (process 0's record of the failure among them) until it went on or died, which no
/// heartbeat can help with. So after each stop a probe process must commit to the file within
/// 5 s; if it cannot, `child` goes on for a moment and is stopped again.
fn stop_outside_the_stores_locks(child: &Child, store: &std::path::Path) {
    for _ in 0..20 {
        signal(child, "STOP");
        let free = support::store_takes_a_write(store, Duration::from_secs(5));
        if free.unwrap_or_else(|error| panic!("{error}")) {
            return;
        }
        signal(child, "CONT");
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("process {} was stopped inside the store's locks 20 times running", child.id());
}

#[test]
#[ignore = "the body of the probe process support::store_takes_a_write starts"]
fn probe_process_entry() {
    support::probe_process_body();
}

fn a_run_canceled_while_waiting_for_its_processes_ends_canceled(kind: StoreKind, test: &str) {
    let cluster = Cluster::seeded(kind, test, "100", 2);
    let alone = cluster.start(0, "HintsAuditOneOffJob", &["--connect-timeout", "100"]);
    wait_until(PATIENCE, "the run to start", || cluster.newest_run().is_some_and(|r| r.status() == Status::Started));
    let id = cluster.newest_run().expect("a run").id().to_string();
    cluster.jobs(&["cancel", &id]).assert_code(0);
    finish(alone, FAIL_STOP_WITHIN).assert_code(130);
    assert_eq!(cluster.newest_run().expect("a run").status(), Status::Canceled);
}

/// A `--max-memory` far below what the shuffle of the seeded data holds.
const TINY_BUDGET: &str = "64K";
/// The log filter under which a reduce worker says each time it spills.
const SPILL_LOG: &str = "jobs_core::cluster::inbox=debug";
/// What that log line says.
const SPILLED: &str = "a reduce worker spilled what it held";

/// What is in `dir`.
fn entries(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("the directory is listed")
        .map(|entry| entry.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// Starts every process of `cluster` with the tiny budget, each spilling into its own
/// directory in `dirs` and logging its spills.
fn start_budgeted(cluster: &Cluster, job: &str, extra: &[&str], dirs: &[tempfile::TempDir]) -> Vec<Child> {
    let mut args = vec!["--max-memory", TINY_BUDGET];
    args.extend(extra);
    let log = OsStr::new(SPILL_LOG);
    (0..cluster.processes)
        .map(|p| {
            cluster.start_with_env(p, job, &args, &[("JOBS_TMPDIR", dirs[p].path().as_os_str()), ("JOBS_LOG", log)])
        })
        .collect()
}

#[test]
fn two_processes_past_their_memory_budget_spill_and_print_the_local_engines_output() {
    let cluster = Cluster::over_redb("3000", 2);
    let job = "InteractionAuditOneOffJob";
    let local = cluster.jobs(&["run", job]);
    local.assert_code(0);
    let local_dir = tempfile::tempdir().expect("a temporary directory");
    let mut local_spilled = cluster.command(&["run", job, "--max-memory", TINY_BUDGET]);
    local_spilled.env("JOBS_TMPDIR", local_dir.path());
    let local_spilled = finish(spawn(local_spilled), PATIENCE);
    local_spilled.assert_code(0);
    assert!(local_spilled.out == local.out, "the local engine's output changes with its budget");
    let unspilled = cluster.run_all(job, &["--workers", "2"]);
    unspilled[0].assert_code(0);
    assert!(unspilled[0].out == local.out, "the unspilled cluster's output differs from the local engine's");

    let dirs = [tempfile::tempdir().expect("a directory"), tempfile::tempdir().expect("a directory")];
    let ran: Vec<Ran> =
        start_budgeted(&cluster, job, &["--workers", "2"], &dirs).into_iter().map(|c| finish(c, PATIENCE)).collect();
    for (process, ran) in ran.iter().enumerate() {
        ran.assert_code(0);
        assert!(ran.err.contains(SPILLED), "process {process} did not spill:\n{}", ran.err);
        assert!(entries(dirs[process].path()).is_empty(), "process {process} left {:?}", entries(dirs[process].path()));
    }
    assert!(!local.out.is_empty());
    assert!(ran[0].out == local.out, "the spilling cluster's output differs from the local engine's");
    assert!(ran[0].out == unspilled[0].out, "the spilling cluster's output differs from the unspilled one's");
    assert!(ran[1].out.is_empty());
    assert_eq!(cluster.newest_run().expect("a run").status(), Status::Completed);
}

#[test]
fn a_spilling_run_that_fails_or_is_canceled_leaves_no_spill_file_on_any_process() {
    let cluster = Cluster::over_redb(LONG_RUN_EXPLORATIONS, 2);
    let job = "InteractionAuditOneOffJob";

    // Process 1 killed once process 0 has spilled: process 0 fails, and cleans up.
    let dirs = [tempfile::tempdir().expect("a directory"), tempfile::tempdir().expect("a directory")];
    let mut children = start_budgeted(&cluster, job, &["--workers", "1"], &dirs).into_iter();
    let (zero, mut one) = (children.next().expect("process 0"), children.next().expect("process 1"));
    wait_until(PATIENCE, "process 0 to spill", || !entries(dirs[0].path()).is_empty());
    one.kill().expect("process 1 is killed");
    let _ = one.wait();
    let ran = finish(zero, FAIL_STOP_WITHIN);
    ran.assert_code(1);
    assert!(ran.err.contains("lost process 1"), "{}", ran.err);
    assert!(ran.err.contains(SPILLED), "{}", ran.err);
    assert!(entries(dirs[0].path()).is_empty(), "process 0 left {:?}", entries(dirs[0].path()));
    assert_eq!(cluster.newest_run().expect("a run").status(), Status::Failed);

    // Canceled once both have spilled: both stop, and clean up.
    let dirs = [tempfile::tempdir().expect("a directory"), tempfile::tempdir().expect("a directory")];
    let children = start_budgeted(&cluster, job, &["--workers", "1"], &dirs);
    wait_until(PATIENCE, "both processes to spill", || dirs.iter().all(|dir| !entries(dir.path()).is_empty()));
    let id = cluster.newest_run().expect("a run").id().to_string();
    cluster.jobs(&["cancel", &id]).assert_code(0);
    for (process, child) in children.into_iter().enumerate() {
        let ran = finish(child, FAIL_STOP_WITHIN);
        ran.assert_code(130);
        assert!(ran.err.contains(SPILLED), "process {process}: {}", ran.err);
        assert!(entries(dirs[process].path()).is_empty(), "process {process} left {:?}", entries(dirs[process].path()));
    }
    assert_eq!(cluster.newest_run().expect("a run").status(), Status::Canceled);
}
