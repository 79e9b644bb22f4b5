//! The commands end to end, in process, over a test model and job written by hand (the
//! attribute macros name `::jobs_core`, which jobs-core's own tests cannot).

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::{Deserialize, Serialize};

use super::Cli;
use crate::context::MapContext;
use crate::job::{Failure, Job, Outcome, Output, Reduce, Values};
use crate::model::{Model, ModelDescriptor};
use crate::params::{ParamError, ParamSpec, Params};
use crate::registry::JobDescriptor;
use crate::runs::{
    self, ListQuery, OutputKind, RunClaim, RunId, RunLog, RunRecord, RunRequest, RunStore, RunsError, Status,
};
use crate::store::{KeyRange, RedbStore, Split, Store, StoreError, WriteBatch};

/// A stored note: the test model.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub(crate) struct Note {
    pub(crate) id: String,
    pub(crate) words: Vec<String>,
}

impl Model for Note {
    const KIND: &'static str = "CliTestNote";
    fn id(&self) -> &str {
        &self.id
    }
}

inventory::submit! { ModelDescriptor::__new::<Note>("Note", module_path!(), file!(), line!()) }

/// Counts words of at least `min_len` letters; the word `boom` fails its note.
struct CliTestWordCount {
    min_len: usize,
}

impl Reduce for CliTestWordCount {
    type Key = String;
    type Value = u64;
    fn reduce(&self, key: String, values: Values<'_, u64>, out: &mut Output) -> Outcome {
        out.json(&(key, values.sum::<u64>()))
    }
}

impl crate::job::ListedModel<Note> for CliTestWordCount {}

impl crate::job::Map<Note> for CliTestWordCount {
    fn map(&self, note: Note, ctx: &mut MapContext<'_, Self>) -> Outcome {
        for word in note.words {
            if word == "boom" {
                return Err(Failure::new("this note explodes"));
            }
            if word.len() >= self.min_len {
                ctx.emit(word, 1);
            } else {
                ctx.count("short words", 1);
            }
        }
        Ok(())
    }
}

impl Job for CliTestWordCount {
    const NAME: &'static str = "CliTestWordCount";
    const MODELS: &'static [&'static str] = &[Note::KIND];
    const DEFAULT_SHARDS: usize = 4;
    const PARAMS: &'static [ParamSpec] = &[ParamSpec {
        name: "min_len",
        type_name: "Option<usize>",
        expected: "an unsigned integer",
        required: false,
        doc: "The shortest word counted.",
    }];

    fn from_params(params: &Params) -> Result<Self, ParamError> {
        params.check_names(Self::NAME, Self::PARAMS)?;
        Ok(CliTestWordCount { min_len: params.__field::<Option<usize>>("min_len")?.unwrap_or(0) })
    }

    fn map_stored(&self, model: usize, bytes: &[u8], ctx: &mut MapContext<'_, Self>) -> Outcome {
        match model {
            0 => crate::__private::map_stored::<Self, Note>(self, bytes, ctx),
            _ => Err(Failure::new("no such model in this job")),
        }
    }
}

inventory::submit! {
    JobDescriptor::__of::<CliTestWordCount>("Counts words in notes.\n\nMore text.", module_path!(), file!(), line!())
}

/// Writes one line per note, `<n> words`: output made of repeated lines, to fold.
struct CliTestPerNote;

impl Reduce for CliTestPerNote {
    type Key = String;
    type Value = usize;
    fn reduce(&self, _note: String, counts: Values<'_, usize>, out: &mut Output) -> Outcome {
        out.line(format!("{} words", counts.sum::<usize>()));
        Ok(())
    }
}

impl crate::job::ListedModel<Note> for CliTestPerNote {}

impl crate::job::Map<Note> for CliTestPerNote {
    fn map(&self, note: Note, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(note.id, note.words.len());
        Ok(())
    }
}

impl Job for CliTestPerNote {
    const NAME: &'static str = "CliTestPerNote";
    const MODELS: &'static [&'static str] = &[Note::KIND];
    const DEFAULT_SHARDS: usize = 2;
    const PARAMS: &'static [ParamSpec] = &[];

    fn from_params(params: &Params) -> Result<Self, ParamError> {
        params.check_names(Self::NAME, Self::PARAMS)?;
        Ok(CliTestPerNote)
    }

    fn map_stored(&self, model: usize, bytes: &[u8], ctx: &mut MapContext<'_, Self>) -> Outcome {
        match model {
            0 => crate::__private::map_stored::<Self, Note>(self, bytes, ctx),
            _ => Err(Failure::new("no such model in this job")),
        }
    }
}

inventory::submit! {
    JobDescriptor::__of::<CliTestPerNote>("Counts the words of each note.", module_path!(), file!(), line!())
}

/// The test seeder's flags.
#[derive(clap::Args)]
struct NoteSeed {
    /// How many notes to write [default: 20].
    #[arg(long, value_name = "N")]
    explorations: Option<usize>,
}

/// Writes `args.explorations` notes (default 20); note `i` holds words `w0`..`w{i % 5}`.
fn seed_notes(store: &dyn Store, args: &NoteSeed) -> Result<String, super::BoxError> {
    let count = args.explorations.unwrap_or(20);
    let notes: Vec<Note> = (0..count)
        .map(|i| Note { id: format!("n{i:04}"), words: (0..=i % 5).map(|w| format!("w{w}")).collect() })
        .collect();
    crate::testing::put_all(store, &notes)?;
    Ok(format!("seeded {count} notes"))
}

fn cli() -> Cli {
    Cli::new("jobs").seeder(seed_notes).demo_job("CliTestWordCount")
}

/// What one command did.
struct Ran {
    code: ExitCode,
    out: String,
    err: String,
}

fn jobs(cli: &Cli, store: &Path, args: &[&str]) -> Ran {
    let mut argv = vec!["jobs".to_owned(), "--store".to_owned(), store.display().to_string()];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = cli.run_with(argv, &mut out, &mut err);
    Ran { code, out: String::from_utf8_lossy(&out).into_owned(), err: String::from_utf8_lossy(&err).into_owned() }
}

fn store_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("jobs.redb")
}

/// A new, empty store file in `dir`.
fn existing_store_in(dir: &tempfile::TempDir) -> PathBuf {
    let path = store_in(dir);
    crate::store::RedbStore::open(&path).unwrap();
    path
}

#[test]
fn commands_that_read_or_run_refuse_a_missing_store_and_create_none() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let cli = cli();
    for args in [
        &["run", "CliTestWordCount"][..],
        &["runs"],
        &["status", "CliTestWordCount-1718000000000-abcdef"],
        &["output", "CliTestWordCount-1718000000000-abcdef"],
        &["cancel", "CliTestWordCount-1718000000000-abcdef"],
        &["prune"],
        &["export", "CliTestNote"],
    ] {
        let ran = jobs(&cli, &store, args);
        assert_eq!(ran.code, ExitCode::from(2), "{args:?}: {}", ran.err);
        assert_eq!(
            ran.err,
            format!(
                "error: the store {} does not exist; create it with `jobs seed` or `jobs import KIND FILE`, or pass the \
                 --store of an existing one\n",
                store.display()
            ),
            "{args:?}"
        );
        assert!(!store.exists(), "{args:?} created the store");
    }
    let file = dir.path().join("notes.jsonl");
    std::fs::write(&file, "{\"id\":\"a\",\"words\":[\"x\"]}\n").unwrap();
    assert_eq!(jobs(&cli, &store, &["import", "CliTestNote", file.to_str().unwrap()]).code, ExitCode::SUCCESS);
    assert_eq!(jobs(&cli, &store, &["run", "CliTestWordCount"]).code, ExitCode::SUCCESS, "import creates the store");
}

#[test]
fn list_shows_jobs_with_their_parameters_as_a_table_or_json() {
    let dir = tempfile::tempdir().unwrap();
    let ran = jobs(&cli(), &store_in(&dir), &["list"]);
    assert_eq!(ran.code, ExitCode::SUCCESS, "{}", ran.err);
    assert!(ran.out.starts_with("JOB "), "{}", ran.out);
    assert!(ran.out.contains("CliTestWordCount  CliTestNote       4  Counts words in notes.\n"), "{}", ran.out);
    assert!(
        ran.out.contains("    --param min_len=<Option<usize>>  optional  The shortest word counted."),
        "{}",
        ran.out
    );
    assert!(!store_in(&dir).exists(), "list needs no store");

    let ran = jobs(&cli(), &store_in(&dir), &["list", "--json"]);
    let lines: Vec<serde_json::Value> = ran.out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "one line per job: {}", ran.out);
    let line = lines.iter().find(|line| line["name"] == "CliTestWordCount").expect("the word count");
    assert_eq!(line["models"], serde_json::json!(["CliTestNote"]));
    assert_eq!(line["default_shards"], 4);
    assert_eq!(line["max_failures"], 0);
    assert_eq!(line["description"], "Counts words in notes.");
    assert_eq!(line["params"][0]["name"], "min_len");
    assert_eq!(line["params"][0]["type"], "Option<usize>");
    assert_eq!(line["params"][0]["required"], false);
}

#[test]
fn seed_then_run_gives_the_same_output_whatever_the_shards_and_threads() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let cli = cli();
    let seeded = jobs(&cli, &store, &["seed", "--explorations", "50"]);
    assert_eq!(seeded.code, ExitCode::SUCCESS, "{}", seeded.err);
    assert_eq!(seeded.err, "seeded 50 notes\n");
    assert!(seeded.out.is_empty());

    let one = jobs(&cli, &store, &["run", "CliTestWordCount", "--shards", "1", "--threads", "1"]);
    assert_eq!(one.code, ExitCode::SUCCESS, "{}", one.err);
    assert_eq!(one.out, "[\"w0\",50]\n[\"w1\",40]\n[\"w2\",30]\n[\"w3\",20]\n[\"w4\",10]\n");
    assert!(
        one.err.starts_with("CliTestWordCount: 50 entities read, 150 pairs emitted, 5 keys, 0 failures in "),
        "{}",
        one.err
    );
    let many = jobs(&cli, &store, &["run", "CliTestWordCount", "--shards", "64", "--threads", "2"]);
    assert_eq!(many.out, one.out);

    let filtered = jobs(&cli, &store, &["run", "CliTestWordCount", "--param", "min_len=3"]);
    assert!(filtered.out.is_empty(), "{}", filtered.out);
    assert!(filtered.err.contains("\ncounters: short words=150\n"), "{}", filtered.err);
}

#[test]
fn bad_names_and_parameters_are_usage_errors_that_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let cli = cli();
    let unknown = jobs(&cli, &store, &["run", "CliTestWordCuont"]);
    assert_eq!(unknown.code, ExitCode::from(2));
    assert!(
        unknown.err.contains("no job is named `CliTestWordCuont` (did you mean `CliTestWordCount`?)"),
        "{}",
        unknown.err
    );

    for (param, named) in [("min_len=x", "`min_len`"), ("max=3", "`max`"), ("oops", "`oops`")] {
        let bad = jobs(&cli, &store, &["run", "CliTestWordCount", "--param", param]);
        assert_eq!(bad.code, ExitCode::from(2), "{param}");
        assert!(bad.err.contains(named), "{param}: {}", bad.err);
    }
    assert!(!store.exists(), "parameters are checked before the store is opened");

    let shards = jobs(&cli, &store, &["run", "CliTestWordCount", "--shards", "300"]);
    assert_eq!(shards.code, ExitCode::from(2));
    let kind = jobs(&cli, &store, &["export", "CliTestNotes"]);
    assert_eq!(kind.code, ExitCode::from(2));
    assert!(kind.err.contains("(did you mean `CliTestNote`?)"), "{}", kind.err);
}

#[test]
fn failures_beyond_the_limit_are_listed_fail_the_run_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let cli = cli();
    let notes = "{\"id\":\"a\",\"words\":[\"x\"]}\n{\"id\":\"b\",\"words\":[\"boom\"]}\n";
    let file = dir.path().join("notes.jsonl");
    std::fs::write(&file, notes).unwrap();
    assert_eq!(jobs(&cli, &store, &["import", "CliTestNote", file.to_str().unwrap()]).code, ExitCode::SUCCESS);
    let ran = jobs(&cli, &store, &["run", "CliTestWordCount"]);
    assert_eq!(ran.code, ExitCode::from(1));
    assert_eq!(ran.out, "[\"x\",1]\n");
    assert!(ran.err.contains("\nfailures (1):\n  CliTestNote b: this note explodes\n"), "{}", ran.err);
    assert!(ran.err.contains(": failed\nerror: run CliTestWordCount-"), "{}", ran.err);
    assert!(
        ran.err.ends_with(&format!("failed: {}\n", crate::runs::failure_limit_error(1, 0))),
        "the error says how many failed and that the limit was exceeded: {}",
        ran.err
    );

    let allowed = jobs(&cli, &store, &["run", "CliTestWordCount", "--max-failures", "1"]);
    assert_eq!(allowed.code, ExitCode::SUCCESS, "{}", allowed.err);
    assert_eq!(allowed.out, "[\"x\",1]\n");
    assert!(allowed.err.contains("\nfailures (1):\n  CliTestNote b: this note explodes\n"), "{}", allowed.err);
    assert!(allowed.err.ends_with(": completed\n"), "{}", allowed.err);
}

#[test]
fn import_of_a_bad_file_stores_nothing_and_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let cli = cli();
    let file = dir.path().join("notes.jsonl");
    std::fs::write(&file, "{\"id\":\"a\",\"words\":[]}\n{\"id\":\"b\"}\n{\"id\":\"c\",\"words\":[]}\n").unwrap();
    let ran = jobs(&cli, &store, &["import", "CliTestNote", file.to_str().unwrap()]);
    assert_eq!(ran.code, ExitCode::from(1));
    assert!(ran.err.contains("nothing was imported"), "{}", ran.err);
    assert!(ran.err.contains("line 2: missing field `words`"), "{}", ran.err);
    let export = jobs(&cli, &store, &["export", "CliTestNote"]);
    assert_eq!(export.code, ExitCode::SUCCESS);
    assert_eq!(export.out, "");
    assert_eq!(export.err, "exported 0 CliTestNote entities to standard output\n");
}

#[test]
fn export_then_import_into_a_fresh_store_gives_the_same_export() {
    let dir = tempfile::tempdir().unwrap();
    let cli = cli();
    let first = dir.path().join("first.redb");
    jobs(&cli, &first, &["seed", "--explorations", "30"]);
    let file = dir.path().join("notes.jsonl");
    let exported = jobs(&cli, &first, &["export", "CliTestNote", "--output", file.to_str().unwrap()]);
    assert_eq!(exported.code, ExitCode::SUCCESS, "{}", exported.err);
    assert!(exported.out.is_empty());

    let second = dir.path().join("second.redb");
    let imported = jobs(&cli, &second, &["import", "CliTestNote", file.to_str().unwrap()]);
    assert_eq!(imported.code, ExitCode::SUCCESS, "{}", imported.err);
    assert!(imported.err.starts_with("imported 30 CliTestNote entities from "), "{}", imported.err);
    let again = jobs(&cli, &second, &["export", "CliTestNote"]);
    assert_eq!(again.out, std::fs::read_to_string(&file).unwrap());
    assert!(again.out.starts_with("{\"id\":\"n0000\",\"words\":[\"w0\"]}\n"), "{}", again.out);
}

#[test]
fn a_file_that_is_not_a_store_fails_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "just some text\n").unwrap();
    let ran = jobs(&cli(), &path, &["run", "CliTestWordCount"]);
    assert_eq!(ran.code, ExitCode::from(2), "a --store that is no store is a bad argument");
    assert!(ran.err.starts_with("error: ") && ran.err.contains("notes.txt is not a jobs store"), "{}", ran.err);
}

#[test]
fn demo_seeds_an_empty_store_once_then_runs_the_demo_job() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let cli = cli();
    let first = jobs(&cli, &store, &["demo", "--explorations", "5"]);
    assert_eq!(first.code, ExitCode::SUCCESS, "{}", first.err);
    assert!(first.err.starts_with("seeded 5 notes\n"), "{}", first.err);
    assert_eq!(first.out, "[\"w0\",5]\n[\"w1\",4]\n[\"w2\",3]\n[\"w3\",2]\n[\"w4\",1]\n");
    let second = jobs(&cli, &store, &["demo"]);
    assert!(second.err.contains("already holds 5 CliTestNote entities, so it is not seeded"), "{}", second.err);
    assert_eq!(second.out, first.out);
}

#[test]
fn without_a_seeder_seed_and_demo_are_hidden_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bare = Cli::new("app-jobs");
    let help = jobs(&bare, &store_in(&dir), &["--help"]);
    assert_eq!(help.code, ExitCode::SUCCESS);
    assert!(help.out.contains("Usage: app-jobs"), "{}", help.out);
    assert!(
        help.out.contains("  run ") && !help.out.contains("  seed ") && !help.out.contains("  demo "),
        "{}",
        help.out
    );
    let seed = jobs(&bare, &store_in(&dir), &["seed"]);
    assert_eq!(seed.code, ExitCode::from(2));
    assert!(seed.err.contains("no demo-data seeder"), "{}", seed.err);
}

/// The run id in a `run <id>: <status>` line of stderr.
fn run_id_in(err: &str) -> RunId {
    let line = err
        .lines()
        .find(|line| line.starts_with("run ") && line.contains(": "))
        .unwrap_or_else(|| panic!("no `run <id>: <status>` line in:\n{err}"));
    let id = line["run ".len()..].split(": ").next().unwrap_or_default();
    RunId::parse(id).unwrap()
}

/// A queued run of `job` recorded straight in the store, as another process would leave it.
fn queue_directly(store: &Path, job: &str) -> RunId {
    let store = runs::open_store(store).unwrap();
    runs::queue(&store, &RunRequest::new(job)).unwrap().record.id().clone()
}

#[test]
fn a_run_is_recorded_and_shown_by_runs_status_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let cli = cli();
    jobs(&cli, &store, &["seed", "--explorations", "10"]);
    let ran = jobs(&cli, &store, &["run", "CliTestWordCount", "--param", "min_len=2"]);
    assert_eq!(ran.code, ExitCode::SUCCESS, "{}", ran.err);
    let id = run_id_in(&ran.err);
    assert!(ran.err.ends_with(&format!("\nrun {id}: completed\n")), "the run's id comes last: {}", ran.err);

    let listed = jobs(&cli, &store, &["runs"]);
    assert_eq!(listed.code, ExitCode::SUCCESS, "{}", listed.err);
    let lines: Vec<&str> = listed.out.lines().collect();
    assert_eq!(lines.len(), 2, "{}", listed.out);
    assert!(lines[0].starts_with("RUN ") && lines[0].ends_with("DURATION  NOTE"), "{}", lines[0]);
    assert!(lines[1].starts_with(&format!("{id}  completed  ")), "{}", lines[1]);
    assert!(lines[1].ends_with("  5 output lines"), "{}", lines[1]);
    assert!(listed.err.starts_with("1 run created in the last 14 days in "), "{}", listed.err);

    let status = jobs(&cli, &store, &["status", id.as_str()]);
    assert_eq!(status.code, ExitCode::SUCCESS, "{}", status.err);
    for expected in [
        format!("run:      {id}\n"),
        "job:      CliTestWordCount\n".to_owned(),
        "status:   completed\n".to_owned(),
        "params:   min_len=2\n".to_owned(),
        "options:  4 shards per model, ".to_owned(),
        "counters: entities read=10, pairs emitted=30, keys reduced=5, failures=0\n".to_owned(),
        "output:   5 lines (5 distinct); stored: 5 lines, ".to_owned(),
        "  MODEL        SHARD       READ      TOTAL    EMITTED   FAILED  MAPPED\n".to_owned(),
        "  CliTestNote      0          2          2          3        0  yes\n".to_owned(),
    ] {
        assert!(status.out.contains(&expected), "{expected:?} missing from:\n{}", status.out);
    }

    let output = jobs(&cli, &store, &["output", id.as_str()]);
    assert_eq!(output.code, ExitCode::SUCCESS, "{}", output.err);
    assert_eq!(output.out, ran.out, "the stored output is what the run printed");
    assert_eq!(output.err, format!("run {id}: 5 lines\n"));

    let json = jobs(&cli, &store, &["status", id.as_str(), "--json"]);
    let record: serde_json::Value = serde_json::from_str(json.out.trim()).unwrap();
    assert_eq!(record["status"], "completed");
    assert_eq!(record["stats"]["entities_read"], 10);
    let listed: serde_json::Value = serde_json::from_str(jobs(&cli, &store, &["runs", "--json"]).out.trim()).unwrap();
    assert_eq!(listed, record, "`runs --json` gives the same records");
}

#[test]
fn output_is_stored_folded_and_cut_and_full_gives_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let cli = cli();
    jobs(&cli, &store, &["seed", "--explorations", "20"]);
    let ran = jobs(&cli, &store, &["run", "CliTestPerNote", "--keep-output"]);
    assert_eq!(ran.code, ExitCode::SUCCESS, "{}", ran.err);
    assert_eq!(ran.out.lines().count(), 20, "jobs run prints every line: {}", ran.out);
    let id = run_id_in(&ran.err);
    let kept = dir.path().join("jobs.redb.outputs").join(format!("{id}.jsonl.gz"));
    assert!(kept.is_file(), "--keep-output keeps the full output beside the store, at {}", kept.display());

    let stored = jobs(&cli, &store, &["output", id.as_str()]);
    assert_eq!(
        stored.out, "(4x) 1 words\n(4x) 2 words\n(4x) 3 words\n(4x) 4 words\n(4x) 5 words\n",
        "folded in first-seen order"
    );
    assert_eq!(
        stored.err,
        format!("run {id}: 20 lines (5 distinct) shown as 5 lines: identical lines folded; --full prints every line\n")
    );
    let full = jobs(&cli, &store, &["output", id.as_str(), "--full"]);
    assert_eq!(full.out, ran.out);
    assert_eq!(full.err, format!("run {id}: 20 lines, every one\n"));

    let printed_only = jobs(&cli, &store, &["run", "CliTestPerNote"]);
    assert_eq!(printed_only.out, ran.out, "a run prints every line whether or not it keeps them");
    let printed_id = run_id_in(&printed_only.err);
    let not_kept = jobs(&cli, &store, &["output", printed_id.as_str(), "--full"]);
    assert_ne!(not_kept.code, ExitCode::SUCCESS);
    assert!(not_kept.err.contains("did not keep its full output"), "{}", not_kept.err);
    assert_eq!(jobs(&cli, &store, &["output", printed_id.as_str()]).out, stored.out, "its stored output is kept");

    let cut = jobs(&cli, &store, &["run", "CliTestPerNote", "--output-limit", "20", "--keep-output"]);
    assert_eq!(cut.out, ran.out, "the limit cuts what is stored, not what the run prints");
    let cut_id = run_id_in(&cut.err);
    let stored = jobs(&cli, &store, &["output", cut_id.as_str()]);
    assert_eq!(stored.out, "(4x) 1 words\n(4x) 2 w<TRUNCATED>\n", "20 characters, then the marker");
    assert!(stored.err.contains("cut at 20 characters"), "{}", stored.err);

    let file = dir.path().join("full.txt");
    let to_file = jobs(&cli, &store, &["output", cut_id.as_str(), "--full", "--output", file.to_str().unwrap()]);
    assert_eq!(to_file.code, ExitCode::SUCCESS, "{}", to_file.err);
    assert!(to_file.out.is_empty());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), ran.out, "nothing is lost");
}

#[test]
fn a_queued_run_is_canceled_at_once_and_has_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let cli = cli();
    let id = queue_directly(&store, "CliTestWordCount");
    let canceled = jobs(&cli, &store, &["cancel", id.as_str()]);
    assert_eq!(canceled.code, ExitCode::SUCCESS, "{}", canceled.err);
    assert_eq!(canceled.err, format!("run {id}: canceled before it started\n"));
    let again = jobs(&cli, &store, &["cancel", id.as_str()]);
    assert_eq!(again.code, ExitCode::SUCCESS);
    assert_eq!(again.err, format!("run {id}: already canceled\n"));

    let output = jobs(&cli, &store, &["output", id.as_str()]);
    assert_eq!(output.code, ExitCode::from(1));
    assert!(output.out.is_empty());
    assert_eq!(output.err, format!("error: run {id} has no output: it is canceled\n"));
    let listed = jobs(&cli, &store, &["runs"]);
    assert!(listed.out.contains(&format!("{id}  canceled  ")), "{}", listed.out);

    let done = jobs(&cli, &store, &["run", "CliTestWordCount"]);
    let done_id = run_id_in(&done.err);
    let late = jobs(&cli, &store, &["cancel", done_id.as_str()]);
    assert_eq!(late.code, ExitCode::from(1));
    assert_eq!(late.err, format!("error: run {done_id} already finished as completed; there is nothing to cancel\n"));
}

#[test]
fn a_second_run_warns_naming_the_active_one_and_exclusive_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let cli = cli();
    jobs(&cli, &store, &["seed", "--explorations", "5"]);
    let active = queue_directly(&store, "CliTestWordCount");

    let refused = jobs(&cli, &store, &["run", "CliTestWordCount", "--exclusive"]);
    assert_eq!(refused.code, ExitCode::from(2), "{}", refused.err);
    assert!(refused.out.is_empty());
    assert_eq!(
        refused.err,
        format!(
            "error: CliTestWordCount already has a run queued: {active}; wait for it, cancel it with `jobs cancel \
             {active}`, or start without --exclusive\n"
        )
    );
    let store_runs = runs::open_store(&store).unwrap();
    assert_eq!(store_runs.recent().unwrap().len(), 1, "a refused run is not recorded");
    drop(store_runs);

    let warned = jobs(&cli, &store, &["run", "CliTestWordCount"]);
    assert_eq!(warned.code, ExitCode::SUCCESS, "{}", warned.err);
    assert!(
        warned.err.starts_with(&format!(
            "warning: CliTestWordCount already has a run queued: {active} (this run goes ahead too; --exclusive \
             refuses instead)\n"
        )),
        "{}",
        warned.err
    );
    assert_eq!(warned.out.lines().count(), 5, "the run goes ahead: {}", warned.out);
    let other = jobs(&cli, &store, &["run", "CliTestPerNote", "--exclusive"]);
    assert_eq!(other.code, ExitCode::SUCCESS, "another job's runs do not count: {}", other.err);
}

#[test]
fn prune_removes_only_finished_runs_older_than_asked() {
    let dir = tempfile::tempdir().unwrap();
    let store = existing_store_in(&dir);
    let cli = cli();
    let done = run_id_in(&jobs(&cli, &store, &["run", "CliTestWordCount"]).err);
    let waiting = queue_directly(&store, "CliTestPerNote");

    let kept = jobs(&cli, &store, &["prune"]);
    assert_eq!(kept.code, ExitCode::SUCCESS, "{}", kept.err);
    assert!(kept.out.is_empty());
    assert!(kept.err.starts_with("pruned 0 runs (runs that finished more than 84 days ago) from "), "{}", kept.err);

    let pruned = jobs(&cli, &store, &["prune", "--older-than", "0"]);
    assert_eq!(pruned.code, ExitCode::SUCCESS, "{}", pruned.err);
    assert_eq!(pruned.out, format!("{done}\n"));
    assert!(pruned.err.starts_with("pruned 1 run (every finished run) from "), "{}", pruned.err);
    let listed = jobs(&cli, &store, &["runs"]);
    assert_eq!(listed.out.lines().count(), 2, "{}", listed.out);
    assert!(listed.out.contains(&format!("{waiting}  queued")), "{}", listed.out);
    let gone = jobs(&cli, &store, &["status", done.as_str()]);
    assert_eq!(gone.code, ExitCode::from(2));
    assert!(gone.err.contains(&format!("no run has the id `{done}`")), "{}", gone.err);
}

#[test]
fn runs_can_be_filtered_by_job_and_limited() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let cli = cli();
    let first = queue_directly(&store, "CliTestWordCount");
    let second = queue_directly(&store, "CliTestPerNote");
    let third = queue_directly(&store, "CliTestWordCount");
    let ids = |ran: &Ran| -> Vec<String> {
        ran.out.lines().skip(1).map(|l| l.split(' ').next().unwrap().to_owned()).collect()
    };
    let all = jobs(&cli, &store, &["runs"]);
    assert_eq!(ids(&all), [&third, &second, &first].map(|id| id.to_string()), "newest first");
    let of_job = jobs(&cli, &store, &["runs", "--job", "CliTestWordCount"]);
    assert_eq!(ids(&of_job), [&third, &first].map(|id| id.to_string()));
    assert!(of_job.err.starts_with("2 runs of CliTestWordCount created in the last 14 days"), "{}", of_job.err);
    let limited = jobs(&cli, &store, &["runs", "--limit", "1"]);
    assert_eq!(ids(&limited), [third.to_string()]);
    assert!(limited.err.ends_with("(the newest 1; --limit shows more)\n"), "{}", limited.err);
    let empty = jobs(&cli, &store, &["runs", "--job", "Nothing"]);
    assert!(empty.out.is_empty(), "no header without rows: {}", empty.out);
}

#[test]
fn unknown_and_malformed_run_ids_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = existing_store_in(&dir);
    let cli = cli();
    for command in ["status", "output", "cancel"] {
        let unknown = jobs(&cli, &store, &[command, "CliTestWordCount-1718000000000-abcdef"]);
        assert_eq!(unknown.code, ExitCode::from(2), "{command}");
        assert_eq!(
            unknown.err,
            "error: no run has the id `CliTestWordCount-1718000000000-abcdef`; `jobs runs` lists recent runs\n"
        );
        let malformed = jobs(&cli, &store, &[command, "CliTestWordCount"]);
        assert_eq!(malformed.code, ExitCode::from(2), "{command}");
        assert!(malformed.err.contains("is not a run id"), "{}", malformed.err);
    }
}

/// A redb store whose scans fail: the engine stops, and runs over it end `failed`.
struct BrokenScans(RedbStore);

impl Store for BrokenScans {
    fn location(&self) -> String {
        self.0.location()
    }
    fn store_id(&self) -> Result<String, StoreError> {
        self.0.store_id()
    }
    fn kinds(&self) -> Result<Vec<String>, StoreError> {
        self.0.kinds()
    }
    fn count(&self, kind: &str) -> Result<u64, StoreError> {
        self.0.count(kind)
    }
    fn split(&self, kind: &str, shards: usize) -> Result<Vec<Split>, StoreError> {
        self.0.split(kind, shards)
    }
    fn scan(&self, _: &str, _: &KeyRange, _: &mut dyn FnMut(&str, &[u8]) -> ControlFlow<()>) -> Result<(), StoreError> {
        Err(StoreError::Io { location: self.location(), message: "the disk is on fire".into() })
    }
    fn get(&self, kind: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(kind, id)
    }
    fn apply(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        self.0.apply(batch)
    }

    fn apply_checked(&self, batch: &WriteBatch) -> Result<Vec<usize>, StoreError> {
        self.0.apply_checked(batch)
    }
}

impl RunStore for BrokenScans {
    fn insert_run(
        &self,
        record: &RunRecord,
        admit: &mut dyn FnMut(&[RunRecord]) -> Result<(), RunsError>,
    ) -> Result<(), RunsError> {
        self.0.insert_run(record, admit)
    }
    fn load_run(&self, id: &RunId) -> Result<Option<RunRecord>, RunsError> {
        self.0.load_run(id)
    }
    fn modify_run(
        &self,
        id: &RunId,
        change: &mut dyn FnMut(&mut RunRecord) -> Result<(), RunsError>,
    ) -> Result<RunRecord, RunsError> {
        self.0.modify_run(id, change)
    }
    fn active_runs(&self) -> Result<Vec<RunRecord>, RunsError> {
        self.0.active_runs()
    }
    fn list_runs(&self, query: &ListQuery) -> Result<Vec<RunRecord>, RunsError> {
        self.0.list_runs(query)
    }
    fn remove_finished_before(&self, cutoff_ms: i64) -> Result<Vec<RunId>, RunsError> {
        self.0.remove_finished_before(cutoff_ms)
    }
    fn write_output(&self, id: &RunId, kind: OutputKind, lines: &[String]) -> Result<(), RunsError> {
        self.0.write_output(id, kind, lines)
    }
    fn visit_output(
        &self,
        id: &RunId,
        kind: OutputKind,
        visit: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<(), RunsError> {
        self.0.visit_output(id, kind, visit)
    }
    fn claim_run(&self, id: &RunId) -> Result<Option<RunClaim>, RunsError> {
        self.0.claim_run(id)
    }
}

#[test]
fn a_run_that_fails_is_recorded_failed_and_exits_1_naming_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    jobs(&cli(), &store, &["seed", "--explorations", "3"]);
    let broken = Cli::new("jobs").store_opener(|path| Ok(Box::new(BrokenScans(runs::open_store(path)?))));
    let ran = jobs(&broken, &store, &["run", "CliTestWordCount"]);
    assert_eq!(ran.code, ExitCode::from(1), "{}", ran.err);
    assert!(ran.out.is_empty());
    let id = run_id_in(&ran.err);
    assert!(ran.err.starts_with(&format!("run {id}: failed\nerror: run {id} failed: ")), "{}", ran.err);
    assert!(ran.err.ends_with("the disk is on fire\n"), "{}", ran.err);
    let status = jobs(&cli(), &store, &["status", id.as_str()]);
    assert!(status.out.contains("status:   failed\n"), "{}", status.out);
    assert!(status.out.contains("error:    store "), "{}", status.out);
    assert_eq!(runs::open_store(&store).unwrap().get_run(&id).unwrap().status(), Status::Failed);
}

#[test]
fn a_background_process_that_exits_without_starting_its_run_is_reported_and_the_run_canceled() {
    // `--detach` starts this program again with `--store ... run-queued ID`. Here the program
    // is this test harness, which refuses `--store` and exits: exactly a background process
    // that dies before taking up its run.
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let cli = cli();
    jobs(&cli, &store, &["seed", "--explorations", "3"]);
    let ran = jobs(&cli, &store, &["run", "CliTestWordCount", "--detach"]);
    assert_eq!(ran.code, ExitCode::from(1), "{}", ran.err);
    assert!(ran.out.is_empty(), "no id is printed for a run that will not happen");
    let recorded = runs::open_store(&store).unwrap().recent().unwrap();
    assert_eq!(recorded.len(), 1);
    let id = recorded[0].id();
    assert_eq!(recorded[0].status(), Status::Canceled, "nobody will run it");
    let log = super::detach::log_path(&std::path::absolute(&store).unwrap(), id);
    let expected_start = format!("error: the background process for run {id} exited (exit status: ");
    let expected_end = format!(") before starting it; the run was canceled. Its log is {}\n", log.display());
    assert!(ran.err.starts_with(&expected_start) && ran.err.ends_with(&expected_end), "{}", ran.err);
    assert!(std::fs::read_to_string(&log).unwrap().contains("store"), "the log says why it stopped");
}

#[test]
fn a_command_line_given_no_name_is_named_after_the_binary_it_runs_as() {
    let dir = tempfile::tempdir().unwrap();
    let store = existing_store_in(&dir);
    let run = |cli: &Cli, argv0: &str, args: &[&str]| {
        let mut argv = vec![argv0.to_owned(), "--store".to_owned(), store.display().to_string()];
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = cli.run_with(argv, &mut out, &mut err);
        (code, String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned())
    };
    for unnamed in [Cli::default(), Cli::new("")] {
        let (code, _, err) = run(&unnamed, "/opt/tools/bin/renamed-app", &["run", "CliTestWordCnt"]);
        assert_eq!(code, ExitCode::from(2), "{err}");
        assert!(err.contains("`renamed-app list` shows them all"), "{err}");
        let (code, out, _) = run(&unnamed, "C:\\apps\\win-app.exe", &["--help"]);
        assert_eq!(code, ExitCode::from(0));
        let usage = if cfg!(windows) { "Usage: win-app [OPTIONS]" } else { "Usage: C:\\apps\\win-app [OPTIONS]" };
        assert!(out.contains(usage), "{out}");
        let (_, _, err) = run(&unnamed, "", &["run", "CliTestWordCnt"]);
        assert!(err.contains("`jobs list` shows them all"), "no program path: `jobs`: {err}");
    }
    let named = Cli::new("myapp").version("1.2.3");
    let (code, out, _) = run(&named, "/opt/tools/bin/renamed-app", &["--version"]);
    assert_eq!((code, out.as_str()), (ExitCode::from(0), "myapp 1.2.3\n"), "a name given is kept");
    let (code, out, _) = run(&Cli::default().version("1.2.3"), "/opt/tools/bin/renamed-app", &["--version"]);
    assert_eq!((code, out.as_str()), (ExitCode::from(0), "renamed-app 1.2.3\n"));
}

#[test]
fn messages_name_the_running_program_and_suggest_only_the_commands_it_has() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let bare = Cli::new("myapp");
    let missing = jobs(&bare, &store, &["run", "CliTestWordCount"]);
    assert_eq!(missing.code, ExitCode::from(2), "{}", missing.err);
    assert_eq!(
        missing.err,
        format!(
            "error: the store {} does not exist; create it with `myapp import KIND FILE`, or pass the --store of an \
             existing one\n",
            store.display()
        ),
        "no seeder, so no `seed` hint"
    );
    let seeding = Cli::new("myapp").seeder(seed_notes);
    let missing = jobs(&seeding, &store, &["runs"]);
    assert!(
        missing.err.contains("create it with `myapp seed` or `myapp import KIND FILE`"),
        "with a seeder, `seed` is suggested: {}",
        missing.err
    );

    let store = existing_store_in(&dir);
    let unknown = jobs(&bare, &store, &["run", "CliTestWordCnt"]);
    assert_eq!(unknown.code, ExitCode::from(2));
    assert!(unknown.err.contains("`myapp list` shows them all"), "{}", unknown.err);
    assert!(!unknown.err.contains("`jobs "), "{}", unknown.err);
    let bad_param = jobs(&bare, &store, &["run", "CliTestWordCount", "--param", "nonsense"]);
    assert_eq!(bad_param.code, ExitCode::from(2));
    assert!(bad_param.err.contains("`myapp list` shows each job's parameters"), "{}", bad_param.err);
    let no_run = jobs(&bare, &store, &["status", "CliTestWordCount-1718000000000-abcdef"]);
    assert_eq!(no_run.code, ExitCode::from(2));
    assert!(no_run.err.contains("`myapp runs` lists recent runs"), "{}", no_run.err);
    let seed = jobs(&bare, &store, &["seed"]);
    assert_eq!(seed.code, ExitCode::from(2));
    assert!(seed.err.contains("`myapp seed` is not available"), "{}", seed.err);
}

#[test]
fn every_kind_of_bad_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let cli = cli();
    let store = existing_store_in(&dir);

    let not_a_store = dir.path().join("notes.txt");
    std::fs::write(&not_a_store, "these are notes, not a store\n").unwrap();
    for args in [&["run", "CliTestWordCount"][..], &["runs"], &["import", "CliTestNote", "-"]] {
        let ran = jobs(&cli, &not_a_store, args);
        assert_eq!(ran.code, ExitCode::from(2), "{args:?}: {}", ran.err);
        assert!(ran.err.contains("is not a jobs store"), "{args:?}: {}", ran.err);
    }
    assert_eq!(std::fs::read_to_string(&not_a_store).unwrap(), "these are notes, not a store\n", "left alone");

    let absent = dir.path().join("absent.jsonl");
    let import = jobs(&cli, &store, &["import", "CliTestNote", absent.to_str().unwrap()]);
    assert_eq!(import.code, ExitCode::from(2), "{}", import.err);
    assert!(import.err.contains(&format!("cannot read {}", absent.display())), "{}", import.err);

    let missing_store = jobs(&cli, &store_in(&tempfile::tempdir().unwrap()), &["export", "CliTestNote"]);
    assert_eq!(missing_store.code, ExitCode::from(2), "{}", missing_store.err);
    let unknown_kind = jobs(&cli, &store, &["export", "CliTestNoet"]);
    assert_eq!(unknown_kind.code, ExitCode::from(2), "{}", unknown_kind.err);
    let bad_flag = jobs(&cli, &store, &["run", "CliTestWordCount", "--shards", "many"]);
    assert_eq!(bad_flag.code, ExitCode::from(2), "{}", bad_flag.err);

    // Bad lines in an import file are bad data, not a bad command line: the work failed.
    let bad_lines = dir.path().join("bad.jsonl");
    std::fs::write(&bad_lines, "not json\n").unwrap();
    let import = jobs(&cli, &store, &["import", "CliTestNote", bad_lines.to_str().unwrap()]);
    assert_eq!(import.code, ExitCode::from(1), "{}", import.err);
}

#[test]
fn a_crate_of_jobs_that_is_not_linked_is_reported_by_every_command_but_help() {
    let dir = tempfile::tempdir().unwrap();
    let store = existing_store_in(&dir);
    let unlinked = Cli::new("myapp").jobs(crate::registry::__check_linked("my_missing_jobs"));
    for args in [&["list"][..], &["run", "CliTestWordCount"], &["runs"]] {
        let ran = jobs(&unlinked, &store, args);
        assert_eq!(ran.code, ExitCode::from(1), "{args:?}: {}", ran.err);
        assert_eq!(
            ran.err,
            "error: no job from the crate `my_missing_jobs` is registered: is it linked into this binary, and does it \
             define jobs with #[one_off_job]?\n",
            "{args:?}"
        );
        assert_eq!(ran.out, "", "{args:?}");
    }
    let help = jobs(&unlinked, &store, &["--help"]);
    assert_eq!(help.code, ExitCode::SUCCESS, "{}", help.err);
    assert!(help.out.contains("Usage: myapp"), "{}", help.out);

    let linked = Cli::new("myapp").jobs(Ok(()));
    let listed = jobs(&linked, &store, &["list"]);
    assert_eq!(listed.code, ExitCode::SUCCESS, "{}", listed.err);
    assert!(listed.out.contains("CliTestWordCount"), "{}", listed.out);
}
