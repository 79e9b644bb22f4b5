//! The `jobs` binary over a PostgreSQL store (`--store postgres://...`): every command works
//! on it, and every example job prints exactly what it prints over redb on the same data.
//!
//! The server comes from `JOBS_TEST_POSTGRES_URL` (`.ci/postgres` starts one); each test
//! works in schemas of its own, dropped afterwards. Without `JOBS_TEST_POSTGRES_URL` (or `CI`)
//! set when they are built, they are reported `ignored`; a test that runs fails when the
//! server is not reachable.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use jobs_core::testing::postgres_server::{TestSchema, test_schema};
use support::{Ran, jobs_command};

const EXAMPLE_JOBS: [&str; 6] = [
    "InteractionAuditOneOffJob",
    "UsernameLengthDistributionOneOffJob",
    "HintsAuditOneOffJob",
    "ViewableExplorationsAuditJob",
    "ExplorationValidityJob",
    "ExplorationMigrationJob",
];
const KINDS: [&str; 3] = ["ExplorationModel", "ExplorationRightsModel", "UserSettingsModel"];
/// How many explorations make a run last seconds (debug build, one thread).
const LONG_RUN_EXPLORATIONS: &str = "30000";
/// How long a bounded wait waits.
const PATIENCE: Duration = Duration::from_secs(60);

fn command(store: &str, args: &[&str]) -> Command {
    jobs_command(Path::new(store), args)
}

fn jobs(store: &str, args: &[&str]) -> Ran {
    command(store, args).output().expect("the jobs binary runs").into()
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

fn records(store: &str) -> Vec<serde_json::Value> {
    let ran = jobs(store, &["runs", "--json"]);
    ran.assert_code(0);
    ran.out.lines().map(|line| serde_json::from_str(line).expect("each line is a JSON record")).collect()
}

#[test]
#[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
fn every_example_job_prints_the_same_over_postgres_as_over_redb() {
    let schema = test_schema("every_example_job_prints_the_same_over_postgres_as_over_redb");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let redb = dir.path().join("jobs.redb");
    let redb = redb.to_str().expect("a UTF-8 path");
    let postgres = schema.url();
    for store in [redb, postgres] {
        let seeded = jobs(store, &["seed", "--explorations", "300", "--users", "120"]);
        seeded.assert_code(0);
        assert!(seeded.err.contains("300 explorations"), "{}", seeded.err);
    }
    // In order, the migration last: it rewrites models, in both stores alike.
    for job in EXAMPLE_JOBS {
        let over_redb = jobs(redb, &["run", job]);
        let over_postgres = jobs(postgres, &["run", job, "--shards", "16", "--threads", "2", "--keep-output"]);
        over_redb.assert_code(0);
        over_postgres.assert_code(0);
        assert!(!over_postgres.out.is_empty(), "{job} printed nothing");
        assert_eq!(over_postgres.out, over_redb.out, "{job}");
        let id = over_postgres.run_id();
        let stored = jobs(postgres, &["output", &id, "--full"]);
        stored.assert_code(0);
        assert_eq!(stored.out, over_postgres.out, "{job}: the recorded output is what the run printed");
    }
    for kind in KINDS {
        let from_redb = jobs(redb, &["export", kind]);
        let from_postgres = jobs(postgres, &["export", kind]);
        from_postgres.assert_code(0);
        assert_eq!(from_postgres.out, from_redb.out, "{kind} after the migration");
    }
}

#[test]
#[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
fn runs_status_export_import_and_prune_work_over_postgres() {
    let schema = test_schema("runs_status_export_import_and_prune_work_over_postgres");
    let copy_schema = test_schema("runs_status_export_import_and_prune_work_over_postgres");
    let (store, copy) = (schema.url(), copy_schema.url());
    jobs(store, &["seed", "--explorations", "100", "--users", "40"]).assert_code(0);
    let ran = jobs(store, &["run", "UsernameLengthDistributionOneOffJob"]);
    ran.assert_code(0);
    let id = ran.run_id();
    let listed = records(store);
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0]["id"].as_str(), listed[0]["status"].as_str()), (Some(id.as_str()), Some("completed")));
    let status = jobs(store, &["status", &id]);
    status.assert_code(0);
    assert!(status.out.contains("status:   completed\n"), "{}", status.out);
    let canceled = jobs(store, &["cancel", &id]);
    canceled.assert_code(1);
    assert!(canceled.err.contains("already finished as completed"), "{}", canceled.err);

    let dir = tempfile::tempdir().expect("a temporary directory");
    for kind in KINDS {
        let file = dir.path().join(format!("{kind}.jsonl"));
        let file = file.to_str().expect("a UTF-8 path");
        jobs(store, &["export", kind, "--output", file]).assert_code(0);
        let imported = jobs(copy, &["import", kind, file]);
        imported.assert_code(0);
        assert!(
            imported.err.contains(&format!("into {copy_location}", copy_location = location(copy))),
            "{}",
            imported.err
        );
        assert_eq!(jobs(copy, &["export", kind]).out, std::fs::read_to_string(file).expect("the export"), "{kind}");
    }
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"id\":\"new1\",\"username\":\"ann\"}\nnot json\n").expect("write");
    let refused = jobs(copy, &["import", "UserSettingsModel", bad.to_str().expect("UTF-8")]);
    refused.assert_code(1);
    assert!(refused.err.contains("nothing was imported"), "{}", refused.err);
    assert!(!jobs(copy, &["export", "UserSettingsModel"]).out.contains("new1"), "a bad import stores nothing");

    let pruned = jobs(store, &["prune", "--older-than", "0"]);
    pruned.assert_code(0);
    assert_eq!(pruned.out, format!("{id}\n"));
    assert!(records(store).is_empty());
}

/// The location a store URL is shown as: without `user:password@` but its user.
fn location(url: &str) -> String {
    url.replacen("postgresql://", "postgres://", 1)
}

#[test]
fn a_bad_or_unreachable_store_url_exits_1_naming_the_server_without_the_password() {
    let unreachable = jobs("postgres://ann:s3cret@127.0.0.1:1/appdb", &["runs"]);
    unreachable.assert_code(1);
    assert!(unreachable.err.contains("postgres://ann@127.0.0.1:1/appdb"), "{}", unreachable.err);
    assert!(unreachable.err.contains("cannot connect to the PostgreSQL server"), "{}", unreachable.err);
    assert!(!unreachable.err.contains("s3cret"), "{}", unreachable.err);
    let malformed = jobs("postgres://ann:s3cret@host:port/db", &["runs"]);
    malformed.assert_code(1);
    assert!(malformed.err.contains("not a valid PostgreSQL URL"), "{}", malformed.err);
    assert!(!malformed.err.contains("s3cret"), "{}", malformed.err);
}

/// Whether `jobs cancel` found the run already completed: it outran the test.
fn outran(cancel: &Ran) -> bool {
    cancel.code == Some(1) && cancel.err.contains("already finished as completed")
}

/// The run started by `child`, once recorded `started`; `None` if it completed first.
fn started_run(store: &str, child: &mut Child) -> Option<String> {
    wait_for("the run to start", || {
        if let Some(exit) = child.try_wait().expect("the child can be checked") {
            assert!(exit.success(), "the run ended with {exit}");
            return Some(None);
        }
        let records = records(store);
        let running = records.iter().find(|r| r["status"] == "started")?;
        Some(Some(running["id"].as_str().expect("an id").to_owned()))
    })
}

/// Runs `scenario` until it gives a value, at most three times: `None` means the run
/// completed before the test could stop it, which says nothing about what is checked.
fn while_outrun(what: &str, mut scenario: impl FnMut() -> Option<()>) {
    for _ in 0..3 {
        if scenario().is_some() {
            return;
        }
        eprintln!("{what}: the run completed before it could be stopped; trying again");
    }
    panic!("{what}: the run completed before it could be stopped, three times");
}

#[test]
#[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
fn runs_over_postgres_are_canceled_from_another_process_and_killed_runs_are_interrupted() {
    let schema = test_schema("runs_over_postgres_are_canceled_and_killed_runs_are_interrupted");
    let store = schema.url();
    jobs(store, &["seed", "--explorations", LONG_RUN_EXPLORATIONS, "--users", "60"]).assert_code(0);
    while_outrun("cancel a detached run", || detached_run_is_canceled(&schema));
    while_outrun("kill a run", || killed_run_is_interrupted(&schema));
}

fn detached_run_is_canceled(schema: &TestSchema) -> Option<()> {
    let store = schema.url();
    let detached = jobs(store, &["run", "InteractionAuditOneOffJob", "--detach", "--threads", "1"]);
    detached.assert_code(0);
    let id = detached.out.trim_end().to_owned();
    assert!(!detached.err.contains("schema="), "the URL is not repeated in messages: {}", detached.err);
    let canceled = jobs(store, &["cancel", &id]);
    if outran(&canceled) {
        return None;
    }
    canceled.assert_code(0);
    assert!(canceled.err.starts_with(&format!("run {id}: canceled after reading ")), "{}", canceled.err);
    let status = jobs(store, &["status", &id]);
    assert!(status.out.contains("status:   canceled\n"), "{}", status.out);
    Some(())
}

fn killed_run_is_interrupted(schema: &TestSchema) -> Option<()> {
    let store = schema.url();
    let mut child = command(store, &["run", "InteractionAuditOneOffJob", "--threads", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("jobs run starts");
    let id = started_run(store, &mut child)?;
    child.kill().expect("SIGKILL"); // no destructor runs: only the server sees the connection go
    child.wait().expect("reaped");
    // The server frees the dead session's lock once it notices the connection closed.
    let status = wait_for("the killed run to be seen interrupted", || {
        let status = jobs(store, &["status", &id]);
        status.assert_code(0);
        (!status.out.contains("status:   started\n")).then_some(status)
    });
    if status.out.contains("status:   completed\n") {
        return None;
    }
    assert!(status.out.contains("status:   failed\n"), "{}", status.out);
    assert!(status.out.contains("\nerror:    interrupted\n"), "{}", status.out);
    Some(())
}

/// Sends one HTTP/1.1 request to the admin page and returns the response, head and body.
fn http(addr: &str, method: &str, path: &str, token: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("the admin page accepts connections");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("the request is sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("the response is read");
    response
}

#[test]
#[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
fn the_admin_page_serves_a_postgres_store_and_its_runs_reach_the_command_line() {
    let schema = test_schema("the_admin_page_serves_a_postgres_store");
    let store = schema.url();
    jobs(store, &["seed", "--explorations", "50", "--users", "40"]).assert_code(0);
    let token = "postgres-admin-test-token";
    let mut server = command(store, &["serve", "--bind", "127.0.0.1:0"])
        .env("JOBS_ADMIN_TOKEN", token)
        .stderr(Stdio::piped())
        .spawn()
        .expect("jobs serve starts");
    let mut banner = String::new();
    BufReader::new(server.stderr.take().expect("stderr")).read_line(&mut banner).expect("the banner");
    let addr = banner
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {banner}"))
        .to_owned();
    assert!(banner.starts_with(&format!("jobs admin page for {}", location(store))), "{banner}");

    let started = http(&addr, "POST", "/api/jobs/UsernameLengthDistributionOneOffJob/runs", token, "{\"shards\": 4}");
    assert!(started.starts_with("HTTP/1.1 20"), "{started}");
    let completed = wait_for("the page's run to complete", || {
        let records = records(store);
        let record = records.iter().find(|r| r["job"] == "UsernameLengthDistributionOneOffJob")?.clone();
        (record["status"] == "completed").then_some(record)
    });
    let id = completed["id"].as_str().expect("an id");
    let listed = http(&addr, "GET", "/api/runs", token, "");
    assert!(listed.contains(id), "the page lists the run: {listed}");
    let output = jobs(store, &["output", id, "--full"]);
    output.assert_code(0);
    assert!(!output.out.is_empty());
    server.kill().expect("the server stops");
    server.wait().expect("reaped");
}
