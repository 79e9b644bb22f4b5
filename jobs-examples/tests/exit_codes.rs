//! One test per row of the exit-code table (the rustdoc of `jobs_core::cli`, which README.md
//! and docs/your-application.md summarise): each documented code is produced by the `jobs`
//! binary run as a process, for the causes the row lists that a test can bring about cheaply.
//! A first test reads the table and fails if it documents a code this file does not test.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::{Ran, jobs_command};

/// The codes this file has a test for.
const TESTED: [i32; 4] = [0, 1, 2, 130];

/// A temporary directory of stores and files.
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

    /// `jobs --store <dir>/<store> args...`, run to its end.
    fn jobs(&self, store: &str, args: &[&str]) -> Ran {
        jobs_command(&self.path(store), args).output().expect("the jobs binary runs").into()
    }

    /// Seeds `store` with `explorations` explorations.
    fn seed(&self, store: &str, explorations: &str) {
        self.jobs(store, &["seed", "--explorations", explorations, "--users", "60"]).assert_code(0);
    }
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn every_code_the_table_documents_has_a_test_here() {
    let cli = std::fs::read_to_string(root().join("jobs-core/src/cli/mod.rs")).expect("the cli's rustdoc");
    let table = cli.split("//! # Exit codes").nth(1).expect("an `# Exit codes` section");
    let documented: BTreeSet<i32> = table
        .lines()
        .skip(1)
        .take_while(|line| line.starts_with("//!"))
        .filter_map(|line| line.strip_prefix("//! | ")?.split(" |").next()?.parse().ok())
        .collect();
    assert_eq!(documented, BTreeSet::from(TESTED), "a row of the table has no test in this file, or a test no row");
    // The summaries name the same codes.
    for summary in ["docs/cli.md", "docs/your-application.md"] {
        let text = std::fs::read_to_string(root().join(summary)).expect(summary);
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let line = text.split("Exit codes: ").nth(1).unwrap_or_else(|| panic!("{summary} has no `Exit codes:`"));
        let sentence = &line[..=line.find(" canceled").unwrap_or_else(|| panic!("{summary}: no `canceled`"))];
        for code in TESTED {
            assert!(sentence.contains(&format!("{code} ")), "{summary} does not mention exit code {code}: {sentence}");
        }
    }
}

#[test]
fn exit_0_done() {
    let work = Workdir::new();
    work.seed("jobs.redb", "20");
    let ran = work.jobs("jobs.redb", &["run", "InteractionAuditOneOffJob"]);
    ran.assert_code(0);
    assert!(!ran.out.is_empty(), "the report is printed");
    let id = ran.run_id();
    work.jobs("jobs.redb", &["status", &id]).assert_code(0);
    work.jobs("jobs.redb", &["output", &id]).assert_code(0);
    work.jobs("jobs.redb", &["export", "ExplorationModel"]).assert_code(0);
    work.jobs("jobs.redb", &["list"]).assert_code(0);
}

#[test]
fn exit_1_the_work_failed() {
    let work = Workdir::new();
    work.seed("full.redb", "20");

    // The run ended `failed`: rights without their explorations fail, and none may.
    let rights = work.path("rights.jsonl");
    work.jobs("full.redb", &["export", "ExplorationRightsModel", "--output", arg(&rights)]).assert_code(0);
    work.jobs("rights-only.redb", &["import", "ExplorationRightsModel", arg(&rights)]).assert_code(0);
    let failed = work.jobs("rights-only.redb", &["run", "ViewableExplorationsAuditJob"]);
    failed.assert_code(1);
    assert!(failed.err.contains("more than the 0 allowed (max_failures)"), "{}", failed.err);

    // A file could not be written.
    let nowhere = work.path("no-such-dir/out.jsonl");
    let unwritable = work.jobs("full.redb", &["export", "ExplorationModel", "--output", arg(&nowhere)]);
    unwritable.assert_code(1);
    assert!(unwritable.err.starts_with("error: cannot "), "{}", unwritable.err);

    // The import file has bad lines; nothing is stored.
    let bad = work.path("bad.jsonl");
    std::fs::write(&bad, "{\"not\": \"a user\"}\n").expect("the file is written");
    let import = work.jobs("full.redb", &["import", "UserSettingsModel", arg(&bad)]);
    import.assert_code(1);
    assert!(import.err.contains("line 1"), "{}", import.err);

    // `cancel` of a run that already completed.
    let done = work.jobs("full.redb", &["run", "InteractionAuditOneOffJob"]);
    done.assert_code(0);
    let cancel = work.jobs("full.redb", &["cancel", &done.run_id()]);
    cancel.assert_code(1);
    assert!(cancel.err.contains("already finished as completed"), "{}", cancel.err);
}

#[test]
fn exit_2_the_command_line_is_wrong() {
    let work = Workdir::new();
    work.seed("jobs.redb", "5");
    std::fs::write(work.path("notes.redb"), "not a store").expect("the file is written");
    std::fs::write(work.path("empty.redb"), "").expect("the file is written");
    let missing_file = work.path("no-such-file.jsonl");
    let cases: [(&str, &[&str], &str); 12] = [
        ("jobs.redb", &["run"], "required"),
        ("jobs.redb", &["run", "InteractionAuditOneOffJob", "--no-such-flag"], "--no-such-flag"),
        ("jobs.redb", &["run", "NoSuchJob"], "NoSuchJob"),
        ("jobs.redb", &["export", "NoSuchKind"], "NoSuchKind"),
        ("jobs.redb", &["status", "NoSuchJob-1718000000000-abcdef"], "NoSuchJob-1718000000000-abcdef"),
        ("jobs.redb", &["run", "InteractionAuditOneOffJob", "--param", "nonsense"], "nonsense"),
        ("jobs.redb", &["run", "InteractionAuditOneOffJob", "--shards", "0"], "0"),
        ("jobs.redb", &["run", "InteractionAuditOneOffJob", "--shards", "257"], "257"),
        ("missing.redb", &["run", "InteractionAuditOneOffJob"], "does not exist"),
        ("notes.redb", &["run", "InteractionAuditOneOffJob"], "notes.redb"),
        ("empty.redb", &["run", "InteractionAuditOneOffJob"], "empty.redb"),
        ("jobs.redb", &["import", "UserSettingsModel", arg(&missing_file)], "no-such-file.jsonl"),
    ];
    for (store, args, said) in cases {
        let ran = work.jobs(store, args);
        assert_eq!(ran.code, Some(2), "{store} {args:?}: {}", ran.err);
        assert!(ran.out.is_empty(), "{store} {args:?}: nothing on stdout: {}", ran.out);
        assert!(ran.err.contains(said), "{store} {args:?} should mention `{said}`: {}", ran.err);
    }
    assert!(!work.path("missing.redb").exists(), "a missing store is not created");
    let records = work.jobs("jobs.redb", &["runs", "--json"]);
    records.assert_code(0);
    assert!(records.out.is_empty(), "none of these was recorded as a run: {}", records.out);
}

/// Ctrl-C during a foreground run: the run stops cleanly, is recorded `canceled`, prints no
/// output, and the process exits 130. (`jobs cancel` from another process is tested in
/// `cli_runs.rs`.)
#[cfg(unix)]
#[test]
fn exit_130_a_run_was_canceled() {
    let work = Workdir::new();
    // Enough for a one-thread run of seconds in a debug build; a run that finishes before the
    // signal is started again, on more data.
    for explorations in ["30000", "60000", "120000"] {
        let store = format!("jobs-{explorations}.redb");
        work.seed(&store, explorations);
        let child = jobs_command(&work.path(&store), &["run", "InteractionAuditOneOffJob", "--threads", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("jobs run starts");
        if let Some(ran) = interrupted(&work, &store, child) {
            ran.assert_code(130);
            assert!(ran.out.is_empty(), "a canceled run prints no output: {}", ran.out);
            assert!(ran.err.contains("error: the run was canceled"), "{}", ran.err);
            let id = ran.run_id();
            let status = work.jobs(&store, &["status", &id, "--json"]);
            status.assert_code(0);
            assert!(status.out.contains("\"status\":\"canceled\""), "{}", status.out);
            return;
        }
        eprintln!("the run over {explorations} explorations completed before Ctrl-C; trying more");
    }
    panic!("every run completed before it could be interrupted");
}

/// Sends SIGINT to `child` once its run is recorded `started`, and returns what it did; `None`
/// if the run completed first.
#[cfg(unix)]
fn interrupted(work: &Workdir, store: &str, child: Child) -> Option<Ran> {
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let runs = work.jobs(store, &["runs", "--json"]);
        runs.assert_code(0);
        let records: Vec<serde_json::Value> =
            runs.out.lines().map(|line| serde_json::from_str(line).expect("a JSON record a line")).collect();
        let status = records.iter().find(|r| r["pid"].as_u64() == Some(u64::from(pid))).map(|r| r["status"].clone());
        match status.as_ref().and_then(|s| s.as_str()) {
            Some("started") => break,
            None | Some("queued") => {}
            Some(_) => {
                drain(child);
                return None;
            }
        }
        assert!(Instant::now() < deadline, "the run was not seen started within a minute");
        std::thread::sleep(Duration::from_millis(20));
    }
    let signal = std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status().expect("kill runs");
    assert!(signal.success(), "SIGINT sent");
    let ran = drain(child);
    // Exit 0: it completed before the signal arrived.
    (ran.code != Some(0)).then_some(ran)
}

/// Waits for `child`, reading its output (a completed run's report may not fit in a pipe).
fn drain(child: Child) -> Ran {
    child.wait_with_output().expect("the run's output").into()
}
