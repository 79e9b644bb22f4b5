//! The commands end to end, in process, over a test model and job written by hand (the
//! attribute macros name `::jobs_core`, which jobs-core's own tests cannot).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::{Deserialize, Serialize};

use super::{Cli, SeedArgs};
use crate::context::MapContext;
use crate::job::{Failure, Job, Outcome, Output, Reduce, Values};
use crate::model::{Model, ModelDescriptor};
use crate::params::{ParamError, ParamSpec, Params};
use crate::registry::JobDescriptor;
use crate::store::Store;

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

inventory::submit! { ModelDescriptor::__new::<Note>("Note") }

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
        Ok(CliTestWordCount {
            min_len: params.__field::<Option<usize>>("min_len")?.unwrap_or(0),
        })
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

/// Writes `args.explorations` notes (default 20); note `i` holds words `w0`..`w{i % 5}`.
fn seed_notes(store: &dyn Store, args: &SeedArgs) -> Result<String, super::BoxError> {
    let count = args.explorations.unwrap_or(20);
    let notes: Vec<Note> = (0..count)
        .map(|i| Note {
            id: format!("n{i:04}"),
            words: (0..=i % 5).map(|w| format!("w{w}")).collect(),
        })
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
    Ran {
        code,
        out: String::from_utf8_lossy(&out).into_owned(),
        err: String::from_utf8_lossy(&err).into_owned(),
    }
}

fn store_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("jobs.redb")
}

#[test]
fn list_shows_jobs_with_their_parameters_as_a_table_or_json() {
    let dir = tempfile::tempdir().unwrap();
    let ran = jobs(&cli(), &store_in(&dir), &["list"]);
    assert_eq!(ran.code, ExitCode::SUCCESS, "{}", ran.err);
    assert!(ran.out.starts_with("JOB "), "{}", ran.out);
    assert!(
        ran.out
            .contains("CliTestWordCount  CliTestNote       4  Counts words in notes.\n"),
        "{}",
        ran.out
    );
    assert!(
        ran.out
            .contains("    --param min_len=<Option<usize>>  optional  The shortest word counted."),
        "{}",
        ran.out
    );
    assert!(!store_in(&dir).exists(), "list needs no store");

    let ran = jobs(&cli(), &store_in(&dir), &["list", "--json"]);
    let line: serde_json::Value = serde_json::from_str(ran.out.trim()).unwrap();
    assert_eq!(line["name"], "CliTestWordCount");
    assert_eq!(line["models"], serde_json::json!(["CliTestNote"]));
    assert_eq!(line["default_shards"], 4);
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

    let one = jobs(
        &cli,
        &store,
        &["run", "CliTestWordCount", "--shards", "1", "--threads", "1"],
    );
    assert_eq!(one.code, ExitCode::SUCCESS, "{}", one.err);
    assert_eq!(
        one.out,
        "[\"w0\",50]\n[\"w1\",40]\n[\"w2\",30]\n[\"w3\",20]\n[\"w4\",10]\n"
    );
    assert!(
        one.err
            .starts_with("CliTestWordCount: 50 entities read, 150 pairs emitted, 5 keys, 0 failures in "),
        "{}",
        one.err
    );
    let many = jobs(
        &cli,
        &store,
        &["run", "CliTestWordCount", "--shards", "64", "--threads", "2"],
    );
    assert_eq!(many.out, one.out);

    let filtered = jobs(&cli, &store, &["run", "CliTestWordCount", "--param", "min_len=3"]);
    assert!(filtered.out.is_empty(), "{}", filtered.out);
    assert!(
        filtered.err.contains("\ncounters: short words=150\n"),
        "{}",
        filtered.err
    );
}

#[test]
fn bad_names_and_parameters_are_usage_errors_that_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let cli = cli();
    let unknown = jobs(&cli, &store, &["run", "CliTestWordCuont"]);
    assert_eq!(unknown.code, ExitCode::from(2));
    assert!(
        unknown
            .err
            .contains("no job is named `CliTestWordCuont` (did you mean `CliTestWordCount`?)"),
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
fn failures_are_listed_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let cli = cli();
    let notes = "{\"id\":\"a\",\"words\":[\"x\"]}\n{\"id\":\"b\",\"words\":[\"boom\"]}\n";
    let file = dir.path().join("notes.jsonl");
    std::fs::write(&file, notes).unwrap();
    assert_eq!(
        jobs(&cli, &store, &["import", "CliTestNote", file.to_str().unwrap()]).code,
        ExitCode::SUCCESS
    );
    let ran = jobs(&cli, &store, &["run", "CliTestWordCount"]);
    assert_eq!(ran.code, ExitCode::from(1));
    assert_eq!(ran.out, "[\"x\",1]\n");
    assert!(
        ran.err
            .contains("\nfailures (1):\n  CliTestNote b: this note explodes\n"),
        "{}",
        ran.err
    );
    assert!(
        ran.err.ends_with("error: the run had 1 failure(s), listed above\n"),
        "{}",
        ran.err
    );
}

#[test]
fn import_of_a_bad_file_stores_nothing_and_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let cli = cli();
    let file = dir.path().join("notes.jsonl");
    std::fs::write(
        &file,
        "{\"id\":\"a\",\"words\":[]}\n{\"id\":\"b\"}\n{\"id\":\"c\",\"words\":[]}\n",
    )
    .unwrap();
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
    let exported = jobs(
        &cli,
        &first,
        &["export", "CliTestNote", "--output", file.to_str().unwrap()],
    );
    assert_eq!(exported.code, ExitCode::SUCCESS, "{}", exported.err);
    assert!(exported.out.is_empty());

    let second = dir.path().join("second.redb");
    let imported = jobs(&cli, &second, &["import", "CliTestNote", file.to_str().unwrap()]);
    assert_eq!(imported.code, ExitCode::SUCCESS, "{}", imported.err);
    assert!(
        imported.err.starts_with("imported 30 CliTestNote entities from "),
        "{}",
        imported.err
    );
    let again = jobs(&cli, &second, &["export", "CliTestNote"]);
    assert_eq!(again.out, std::fs::read_to_string(&file).unwrap());
    assert!(
        again.out.starts_with("{\"id\":\"n0000\",\"words\":[\"w0\"]}\n"),
        "{}",
        again.out
    );
}

#[test]
fn a_file_that_is_not_a_store_fails_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "just some text\n").unwrap();
    let ran = jobs(&cli(), &path, &["run", "CliTestWordCount"]);
    assert_eq!(ran.code, ExitCode::from(1));
    assert!(
        ran.err.starts_with("error: ") && ran.err.contains("notes.txt is not a jobs store"),
        "{}",
        ran.err
    );
}

#[test]
fn demo_seeds_an_empty_store_once_then_runs_the_demo_job() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir);
    let cli = cli();
    let first = jobs(&cli, &store, &["demo", "--explorations", "5"]);
    assert_eq!(first.code, ExitCode::SUCCESS, "{}", first.err);
    assert!(first.err.starts_with("seeded 5 notes\n"), "{}", first.err);
    assert_eq!(
        first.out,
        "[\"w0\",5]\n[\"w1\",4]\n[\"w2\",3]\n[\"w3\",2]\n[\"w4\",1]\n"
    );
    let second = jobs(&cli, &store, &["demo"]);
    assert!(
        second
            .err
            .contains("already holds 5 CliTestNote entities, so it is not seeded"),
        "{}",
        second.err
    );
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
