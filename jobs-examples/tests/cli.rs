//! The `jobs` binary as a user's script sees it: commands, exit codes, and what goes to stdout
//! and stderr. Each test works in its own temporary store.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod support;
use support::{Ran, jobs_command};

const EXAMPLE_JOBS: [&str; 6] = [
    "InteractionAuditOneOffJob",
    "UsernameLengthDistributionOneOffJob",
    "HintsAuditOneOffJob",
    "ViewableExplorationsAuditJob",
    "ExplorationValidityJob",
    "ExplorationMigrationJob",
];

/// A temporary directory holding the stores and files of one test.
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

    fn command(&self, store: &str, args: &[&str]) -> Command {
        jobs_command(&self.path(store), args)
    }

    /// Runs `jobs --store <dir>/<store> args...`.
    fn jobs(&self, store: &str, args: &[&str]) -> Ran {
        self.command(store, args).output().expect("the jobs binary runs").into()
    }

    /// Runs `jobs` with `input` on stdin.
    fn jobs_with_stdin(&self, store: &str, args: &[&str], input: &str) -> Ran {
        let mut child = self
            .command(store, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
        child.wait_with_output().expect("the jobs binary runs").into()
    }

    /// Seeds `store` with a small demo data set.
    fn seed(&self, store: &str) {
        self.jobs(store, &["seed", "--explorations", "150", "--users", "60"]).assert_code(0);
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write a test file");
        path
    }
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

#[test]
fn list_shows_every_example_job_in_a_table_and_as_json_lines() {
    let work = Workdir::new();
    let table = work.jobs("jobs.redb", &["list"]);
    table.assert_code(0);
    for job in EXAMPLE_JOBS {
        assert!(table.out.lines().any(|line| line.starts_with(job)), "{job} missing from:\n{}", table.out);
    }
    assert!(table.out.contains("--param min_length=<Option<usize>>  optional"), "{}", table.out);
    assert!(!work.path("jobs.redb").exists(), "list does not create a store");

    let json = work.jobs("jobs.redb", &["list", "--json"]);
    json.assert_code(0);
    let lines: Vec<serde_json::Value> =
        json.out.lines().map(|line| serde_json::from_str(line).expect("each line is a JSON object")).collect();
    for job in EXAMPLE_JOBS {
        let line = lines.iter().find(|l| l["name"] == job).unwrap_or_else(|| panic!("{job} missing"));
        assert!(line["models"].as_array().is_some_and(|m| !m.is_empty()), "{line}");
        assert!(line["default_shards"].as_u64().is_some_and(|s| (1..=256).contains(&s)), "{line}");
        assert!(line["description"].as_str().is_some_and(|d| !d.is_empty()), "{line}");
    }
    let audit = lines.iter().find(|l| l["name"] == "InteractionAuditOneOffJob").expect("the audit");
    assert_eq!(audit["default_shards"], 64);
    assert_eq!(audit["models"], serde_json::json!(["ExplorationModel"]));
    let usernames = lines.iter().find(|l| l["name"] == "UsernameLengthDistributionOneOffJob").expect("usernames");
    assert_eq!(usernames["params"][0]["name"], "min_length");
    assert_eq!(usernames["params"][0]["required"], false);
}

#[test]
fn run_prints_only_report_lines_and_the_same_ones_for_any_shards_and_threads() {
    let work = Workdir::new();
    work.seed("jobs.redb");
    let default = work.jobs("jobs.redb", &["run", "InteractionAuditOneOffJob"]);
    default.assert_code(0);
    assert!(!default.out.is_empty());
    for line in default.out.lines() {
        let value: serde_json::Value = serde_json::from_str(line).expect("each stdout line is JSON");
        let pair = value.as_array().expect("[interaction, [...]]");
        assert_eq!(pair.len(), 2, "{line}");
        assert!(pair[0].is_string(), "{line}");
        assert!(pair[1].as_array().is_some_and(|states| states.iter().all(serde_json::Value::is_string)), "{line}");
    }
    assert!(
        default.err.contains("InteractionAuditOneOffJob: 150 entities read, ") && default.err.contains(" entities/s"),
        "{}",
        default.err
    );

    let one = work.jobs("jobs.redb", &["run", "InteractionAuditOneOffJob", "--shards", "1", "--threads", "1"]);
    let many = work.jobs("jobs.redb", &["run", "InteractionAuditOneOffJob", "--shards", "64", "--threads", "2"]);
    one.assert_code(0);
    many.assert_code(0);
    assert_eq!(one.out, default.out);
    assert_eq!(many.out, default.out);
}

#[test]
fn demo_seeds_an_empty_store_then_prints_the_interaction_audit() {
    let work = Workdir::new();
    let first = work.jobs("demo.redb", &["demo", "--explorations", "40"]);
    first.assert_code(0);
    assert!(first.err.starts_with("seeded "), "{}", first.err);
    assert!(first.out.lines().count() > 1, "{}", first.out);
    assert!(first.out.lines().all(|line| line.starts_with("[\"")), "{}", first.out);

    let again = work.jobs("demo.redb", &["demo"]);
    again.assert_code(0);
    assert!(again.err.contains("already holds 40 ExplorationModel entities"), "{}", again.err);
    assert_eq!(again.out, first.out);
}

#[test]
fn an_unknown_job_exits_2_with_a_did_you_mean() {
    let work = Workdir::new();
    let ran = work.jobs("jobs.redb", &["run", "InteractionAuditOneOfJob"]);
    ran.assert_code(2);
    assert!(ran.out.is_empty());
    assert!(
        ran.err.contains("no job is named `InteractionAuditOneOfJob` (did you mean `InteractionAuditOneOffJob`?)"),
        "{}",
        ran.err
    );
}

#[test]
fn a_bad_param_exits_2_naming_the_parameter() {
    let work = Workdir::new();
    let job = "UsernameLengthDistributionOneOffJob";
    let bad_value = work.jobs("jobs.redb", &["run", job, "--param", "min_length=long"]);
    bad_value.assert_code(2);
    assert!(bad_value.err.contains("parameter `min_length`: `long` is not an unsigned integer"), "{}", bad_value.err);

    let unknown = work.jobs("jobs.redb", &["run", job, "--param", "max_length=3"]);
    unknown.assert_code(2);
    assert!(unknown.err.contains("no parameter `max_length`"), "{}", unknown.err);

    let malformed = work.jobs("jobs.redb", &["run", job, "--param", "min_length"]);
    malformed.assert_code(2);
    assert!(malformed.err.contains("`min_length` is not a parameter: write `--param name=value`"), "{}", malformed.err);
}

#[test]
fn shard_counts_outside_1_to_256_exit_2() {
    let work = Workdir::new();
    for shards in ["0", "300"] {
        let ran = work.jobs("jobs.redb", &["run", "InteractionAuditOneOffJob", "--shards", shards]);
        ran.assert_code(2);
        assert!(ran.err.contains("--shards"), "{}", ran.err);
    }
    work.jobs("jobs.redb", &["run", "InteractionAuditOneOffJob", "--threads", "0"]).assert_code(2);
}

#[test]
fn thread_counts_outside_1_to_256_exit_2_naming_the_real_range() {
    let work = Workdir::new();
    work.seed("jobs.redb");
    for threads in ["0", "257", "100000"] {
        let ran = work.jobs("jobs.redb", &["run", "InteractionAuditOneOffJob", "--threads", threads]);
        ran.assert_code(2);
        assert!(ran.err.contains("--threads"), "{}", ran.err);
        assert!(ran.err.contains("1..=256"), "{}", ran.err);
        assert!(!ran.err.contains("18446744073709551615"), "{}", ran.err);
    }
    assert!(work.jobs("jobs.redb", &["runs"]).err.starts_with("0 runs"), "nothing was recorded");
    work.jobs("jobs.redb", &["run", "InteractionAuditOneOffJob", "--threads", "256"]).assert_code(0);
}

#[test]
fn params_are_passed_to_the_job() {
    let work = Workdir::new();
    work.seed("jobs.redb");
    let all = work.jobs("jobs.redb", &["run", "UsernameLengthDistributionOneOffJob"]);
    let long = work.jobs("jobs.redb", &["run", "UsernameLengthDistributionOneOffJob", "--param", "min_length=8"]);
    all.assert_code(0);
    long.assert_code(0);
    let lengths = |out: &str| -> Vec<u64> {
        out.lines().map(|l| serde_json::from_str::<(u64, u64)>(l).expect("[length, count]").0).collect()
    };
    assert!(lengths(&long.out).iter().all(|&length| length >= 8), "{}", long.out);
    assert!(lengths(&all.out).len() > lengths(&long.out).len(), "{}\n{}", all.out, long.out);
    assert!(all.err.contains("counters: NO_USERNAME="), "{}", all.err);
}

#[test]
fn a_run_with_more_failures_than_allowed_lists_them_fails_and_exits_1() {
    let work = Workdir::new();
    work.seed("full.redb");
    // Rights without their explorations: each viewable private one fails.
    let rights = work.path("rights.jsonl");
    work.jobs("full.redb", &["export", "ExplorationRightsModel", "--output", arg(&rights)]).assert_code(0);
    work.jobs("rights-only.redb", &["import", "ExplorationRightsModel", arg(&rights)]).assert_code(0);
    let ran = work.jobs("rights-only.redb", &["run", "ViewableExplorationsAuditJob"]);
    ran.assert_code(1);
    assert!(ran.out.is_empty(), "{}", ran.out);
    assert!(ran.err.contains("\nfailures ("), "{}", ran.err);
    assert!(ran.err.contains("has rights but is not stored"), "{}", ran.err);
    assert!(ran.err.contains("entities or keys failed, more than the 0 allowed (max_failures)"), "{}", ran.err);
    let id = ran.run_id();
    let status = work.jobs("rights-only.redb", &["status", &id]);
    status.assert_code(0);
    assert!(status.out.contains("failed"), "{}", status.out);
    assert!(status.out.contains("more than the 0 allowed"), "{}", status.out);

    // The same run with a limit it stays within completes, still listing its failures.
    let allowed = work.jobs("rights-only.redb", &["run", "ViewableExplorationsAuditJob", "--max-failures", "1000000"]);
    allowed.assert_code(0);
    assert!(allowed.err.contains("has rights but is not stored"), "{}", allowed.err);
    assert!(allowed.err.contains(": completed"), "{}", allowed.err);
}

/// An id that retitles the terminal and clears the screen when printed raw.
const HOSTILE_ID: &str = "evil\u{1b}]0;PWNED\u{7}\u{1b}[2J";

/// Whether `text` holds a control character a terminal acts on (newline and tab aside).
fn has_terminal_controls(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
}

#[test]
fn ids_with_terminal_escapes_are_printed_escaped_for_people_and_exact_in_json() {
    let work = Workdir::new();
    let rights = serde_json::json!({"id": HOSTILE_ID, "status": "private", "viewable_if_private": true}).to_string();
    let file = work.write("rights.jsonl", &format!("{rights}\n"));
    work.jobs("evil.redb", &["import", "ExplorationRightsModel", arg(&file)]).assert_code(0);

    // A failure line naming the id, on stderr.
    let ran = work.jobs("evil.redb", &["run", "ViewableExplorationsAuditJob"]);
    ran.assert_code(1);
    assert!(ran.err.contains("has rights but is not stored"), "{}", ran.err);
    assert!(!has_terminal_controls(&ran.err), "raw control characters on stderr: {:?}", ran.err);
    assert!(ran.err.contains("evil\\u{1b}]0;PWNED\\u{7}\\u{1b}[2J"), "{}", ran.err);

    // `jobs status` for a person escapes it; `--json` keeps it exact.
    let id = ran.run_id();
    let status = work.jobs("evil.redb", &["status", &id]);
    status.assert_code(0);
    assert!(status.out.contains("evil\\u{1b}]0;PWNED"), "{}", status.out);
    assert!(!has_terminal_controls(&status.out), "raw control characters in status: {:?}", status.out);
    let json = work.jobs("evil.redb", &["status", &id, "--json"]);
    json.assert_code(0);
    let _: serde_json::Value = serde_json::from_str(json.out.trim()).expect("one JSON object");
    assert!(json.out.contains("\\u001b]0;PWNED\\u0007"), "{}", json.out);

    // An error message quoting the id.
    let twice = work.write("twice.jsonl", &format!("{rights}\n{rights}\n"));
    let refused = work.jobs("evil.redb", &["import", "ExplorationRightsModel", arg(&twice)]);
    refused.assert_code(1);
    assert!(refused.err.contains("is already used on line 1"), "{}", refused.err);
    assert!(!has_terminal_controls(&refused.err), "raw control characters in the error: {:?}", refused.err);
}

#[test]
fn import_of_a_bad_file_stores_nothing_and_names_the_line() {
    let work = Workdir::new();
    work.seed("source.redb");
    let exported = work.jobs("source.redb", &["export", "ExplorationModel"]);
    exported.assert_code(0);
    let mut lines: Vec<&str> = exported.out.lines().take(5).collect();
    lines[2] = r#"{"id":"broken","title":"no states"}"#;
    let bad = work.write("bad.jsonl", &(lines.join("\n") + "\n"));

    let fresh = work.jobs("fresh.redb", &["import", "ExplorationModel", arg(&bad)]);
    fresh.assert_code(1);
    assert!(fresh.err.contains("nothing was imported"), "{}", fresh.err);
    assert!(fresh.err.contains("line 3: missing field"), "{}", fresh.err);
    let after = work.jobs("fresh.redb", &["export", "ExplorationModel"]);
    after.assert_code(0);
    assert_eq!(after.out, "", "a failed import stores nothing");

    // Into a store that has data: it is left exactly as it was.
    work.jobs("source.redb", &["import", "ExplorationModel", arg(&bad)]).assert_code(1);
    let unchanged = work.jobs("source.redb", &["export", "ExplorationModel"]);
    assert_eq!(unchanged.out, exported.out);
}

#[test]
fn import_refuses_fields_the_model_does_not_have_unless_allowed() {
    let work = Workdir::new();
    work.seed("source.redb");
    let exported = work.jobs("source.redb", &["export", "ExplorationModel"]);
    exported.assert_code(0);
    let mut lines: Vec<String> = exported.out.lines().take(4).map(str::to_owned).collect();
    let mut misspelt: serde_json::Value = serde_json::from_str(&lines[1]).expect("JSON");
    misspelt["delted"] = serde_json::json!(true);
    lines[1] = misspelt.to_string();
    let mut nested: serde_json::Value = serde_json::from_str(&lines[3]).expect("JSON");
    let states = nested["states"].as_object_mut().expect("states");
    let first_state = states.values_mut().next().expect("a state");
    first_state["interaction"]["extra"] = serde_json::json!(1);
    lines[3] = nested.to_string();
    let file = work.write("unknown.jsonl", &(lines.join("\n") + "\n"));

    let refused = work.jobs("fresh.redb", &["import", "ExplorationModel", arg(&file)]);
    refused.assert_code(1);
    assert!(refused.err.contains("nothing was imported: 2 lines are"), "{}", refused.err);
    assert!(refused.err.contains("line 2: the field `delted` is not a field of ExplorationModel"), "{}", refused.err);
    assert!(refused.err.contains("line 4: the field `states."), "{}", refused.err);
    assert!(refused.err.contains(".interaction.extra` is not a field"), "{}", refused.err);
    assert!(refused.err.contains("--allow-unknown-fields"), "{}", refused.err);
    assert_eq!(work.jobs("fresh.redb", &["export", "ExplorationModel"]).out, "", "nothing stored");

    let allowed = work.jobs("fresh.redb", &["import", "ExplorationModel", "--allow-unknown-fields", arg(&file)]);
    allowed.assert_code(0);
    assert!(allowed.err.contains("imported 4 ExplorationModel entities"), "{}", allowed.err);
    let stored = work.jobs("fresh.redb", &["export", "ExplorationModel"]);
    assert!(!stored.out.contains("delted") && !stored.out.contains("extra"), "{}", stored.out);
}

#[test]
fn import_rejects_empty_and_repeated_ids_and_skips_blank_lines() {
    let work = Workdir::new();
    work.seed("source.redb");
    let exported = work.jobs("source.redb", &["export", "UserSettingsModel"]);
    let first = exported.out.lines().next().expect("a user");
    let user: serde_json::Value = serde_json::from_str(first).expect("JSON");
    let id = user["id"].as_str().expect("a string id").to_owned();
    let mut empty_id = user.clone();
    empty_id["id"] = serde_json::json!("");
    let input = format!("{first}\n\n{empty_id}\n{first}\n");
    let ran = work.jobs_with_stdin("fresh.redb", &["import", "UserSettingsModel", "-"], &input);
    ran.assert_code(1);
    assert!(ran.err.contains("line 3: the id is empty"), "{}", ran.err);
    assert!(ran.err.contains(&format!("line 4: the id `{id}` is already used on line 1")), "{}", ran.err);

    let good = work.jobs_with_stdin("fresh.redb", &["import", "UserSettingsModel"], &format!("\n{first}\n\n"));
    good.assert_code(0);
    assert!(good.err.starts_with("imported 1 UserSettingsModel entities from standard input"), "{}", good.err);
}

#[test]
fn export_then_import_into_a_fresh_store_gives_an_identical_export() {
    let work = Workdir::new();
    work.seed("source.redb");
    for kind in ["ExplorationModel", "ExplorationRightsModel", "UserSettingsModel"] {
        let file = work.path(&format!("{kind}.jsonl"));
        let exported = work.jobs("source.redb", &["export", kind, "--output", arg(&file)]);
        exported.assert_code(0);
        assert!(exported.out.is_empty(), "--output keeps stdout empty");
        work.jobs("copy.redb", &["import", kind, arg(&file)]).assert_code(0);
        let original = std::fs::read_to_string(&file).expect("the export file");
        assert!(!original.is_empty());
        let copy = work.jobs("copy.redb", &["export", kind]);
        copy.assert_code(0);
        assert_eq!(copy.out, original, "{kind}");
    }
    let source = work.jobs("source.redb", &["run", "InteractionAuditOneOffJob"]);
    let copy = work.jobs("copy.redb", &["run", "InteractionAuditOneOffJob"]);
    assert_eq!(copy.out, source.out);
}

#[test]
fn an_unknown_kind_exits_2_naming_the_known_kinds() {
    let work = Workdir::new();
    for command in ["export", "import"] {
        let ran = work.jobs("jobs.redb", &[command, "ExplorationModels"]);
        ran.assert_code(2);
        assert!(ran.err.contains("(did you mean `ExplorationModel`?)"), "{}", ran.err);
        assert!(ran.err.contains("UserSettingsModel"), "{}", ran.err);
    }
}

#[test]
fn a_store_path_that_is_not_a_store_exits_2_naming_the_file() {
    let work = Workdir::new();
    work.write("notes.txt", "these are my notes, not a database\n");
    for args in [&["run", "InteractionAuditOneOffJob"][..], &["export", "ExplorationModel"], &["seed"]] {
        let ran = work.jobs("notes.txt", args);
        ran.assert_code(2);
        assert!(ran.err.contains("notes.txt is not a jobs store"), "{args:?}: {}", ran.err);
    }
    let text = std::fs::read_to_string(work.path("notes.txt")).expect("the notes");
    assert_eq!(text, "these are my notes, not a database\n", "the file is left alone");
}

#[test]
fn a_missing_import_file_exits_2_naming_it_and_stores_nothing() {
    let work = Workdir::new();
    let ran = work.jobs("jobs.redb", &["import", "ExplorationModel", "no-such-file.jsonl"]);
    ran.assert_code(2);
    assert!(ran.err.contains("cannot read no-such-file.jsonl"), "{}", ran.err);
    let exported = work.jobs("jobs.redb", &["export", "ExplorationModel"]);
    exported.assert_code(0);
    assert_eq!(exported.out, "", "nothing was imported");
}

#[test]
fn the_store_can_be_named_by_the_environment() {
    let work = Workdir::new();
    let seeded = Command::new(env!("CARGO_BIN_EXE_jobs"))
        .args(["seed", "--explorations", "5", "--users", "5"])
        .env("JOBS_STORE", work.path("from-env.redb"))
        .output()
        .expect("the jobs binary runs");
    assert_eq!(seeded.status.code(), Some(0), "{}", String::from_utf8_lossy(&seeded.stderr));
    assert!(work.path("from-env.redb").exists());
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let work = Workdir::new();
    work.jobs("jobs.redb", &["frobnicate"]).assert_code(2);
    work.jobs("jobs.redb", &["run"]).assert_code(2);
    let help = work.jobs("jobs.redb", &["--help"]);
    help.assert_code(0);
    for command in ["list", "seed", "run", "export", "import", "demo"] {
        assert!(help.out.contains(&format!("  {command} ")), "{command}: {}", help.out);
    }
}

#[test]
fn max_memory_spills_to_jobs_tmpdir_with_the_same_output_and_cleans_up() {
    let work = Workdir::new();
    work.seed("jobs.redb");
    let spill_dir = work.path("spill");
    std::fs::create_dir(&spill_dir).expect("a spill directory");
    let in_memory = work.jobs("jobs.redb", &["run", "InteractionAuditOneOffJob"]);
    in_memory.assert_code(0);
    for size in ["1K", "64k", "1048576"] {
        let ran: Ran = work
            .command("jobs.redb", &["run", "InteractionAuditOneOffJob", "--max-memory", size])
            .env("JOBS_TMPDIR", &spill_dir)
            .output()
            .expect("the jobs binary runs")
            .into();
        ran.assert_code(0);
        assert_eq!(ran.out, in_memory.out, "--max-memory {size}");
        let left: Vec<_> = std::fs::read_dir(&spill_dir).expect("read the spill directory").collect();
        assert!(left.is_empty(), "--max-memory {size} left {left:?}");
    }
}

#[test]
fn a_bad_max_memory_exits_2_naming_the_flag_and_the_forms_it_takes() {
    let work = Workdir::new();
    for bad in ["lots", "12X", "0"] {
        let ran = work.jobs("jobs.redb", &["run", "InteractionAuditOneOffJob", "--max-memory", bad]);
        ran.assert_code(2);
        assert!(ran.err.contains("--max-memory <SIZE>") && ran.err.contains(&format!("`{bad}`")), "{}", ran.err);
        assert!(ran.out.is_empty(), "{}", ran.out);
    }
    let ran = work.jobs("jobs.redb", &["run", "InteractionAuditOneOffJob", "--max-memory", "12X"]);
    assert!(ran.err.contains("give bytes (1048576) or a number with K, M, G or T (512M, 2G)"), "{}", ran.err);
    assert!(!work.path("jobs.redb").exists(), "a usage error creates no store");
}

/// A run prints its full output but keeps only its record and stored output (folded, cut at
/// 900,000 characters) in the store: the file does not grow by the output with every run.
#[test]
fn runs_do_not_grow_the_store_by_their_output() {
    let work = Workdir::new();
    work.jobs("big.redb", &["seed", "--explorations", "30000", "--users", "10"]).assert_code(0);
    let size = || std::fs::metadata(work.path("big.redb")).expect("the store").len();
    // The first run may create the run tables.
    let first = work.jobs("big.redb", &["run", "InteractionAuditOneOffJob"]);
    first.assert_code(0);
    let output_bytes = first.out.len() as u64;
    assert!(output_bytes > 3 << 20, "the output is large enough to show: {output_bytes} bytes");
    let before = size();
    const RUNS: u64 = 4;
    for _ in 0..RUNS {
        let ran = work.jobs("big.redb", &["run", "InteractionAuditOneOffJob"]);
        ran.assert_code(0);
        assert_eq!(ran.out.len() as u64, output_bytes, "every run prints the whole output");
    }
    let grown = size().saturating_sub(before);
    // Each run stores its record and its stored output (at most 900,000 characters).
    assert!(
        grown <= RUNS * (2 << 20),
        "{RUNS} runs of {output_bytes} bytes of output grew the store by {grown} bytes: more than 2 MiB a run"
    );
    assert!(!work.path("big.redb.outputs").exists(), "nothing is kept beside the store unless asked");
}
