//! The shuffle past its memory budget: spilled runs give the same output as an in-memory
//! shuffle, and the run's temporary files are gone however the run ends (success, a failed
//! spill, a panic, a cancel).

use std::path::Path;
use std::sync::LazyLock;

use jobs_core::exec::RunError;
use jobs_core::prelude::*;
use jobs_core::runs::{self, RunLog, RunRequest, RunnerOptions, Status};
use jobs_core::{CancelToken, MemoryStore, RunOptions, RunReport, engine, testing};
use serde::Serializer;

#[derive(Model, Serialize, Deserialize, Clone, Debug)]
pub struct Page {
    id: String,
    words: Vec<String>,
}

/// Counts words, folding counts map-side.
#[one_off_job(models = [Page], shards = 8)]
pub struct SpillWordCount;

impl Map<Page> for SpillWordCount {
    fn map(&self, page: Page, ctx: &mut MapContext<'_, Self>) -> Outcome {
        page.words.into_iter().for_each(|word| ctx.emit(word, 1));
        Ok(())
    }
}

impl Reduce for SpillWordCount {
    type Key = String;
    type Value = u64;

    fn reduce(&self, word: String, counts: Values<'_, u64>, out: &mut Output) -> Outcome {
        out.line(format!("{word} {}", counts.sum::<u64>()));
        Ok(())
    }

    const COMBINES: bool = true;

    fn combine(&self, _word: &String, counts: &mut Vec<u64>) {
        let total = counts.iter().sum();
        *counts = vec![total];
    }
}

/// Lists the pages of each word, in page order, with the count `Values::len` gives up front.
#[one_off_job(models = [Page], shards = 8)]
pub struct SpillListing;

impl Map<Page> for SpillListing {
    fn map(&self, page: Page, ctx: &mut MapContext<'_, Self>) -> Outcome {
        for (position, word) in page.words.into_iter().enumerate() {
            ctx.emit(word, format!("{}#{position}", page.id));
        }
        Ok(())
    }
}

impl Reduce for SpillListing {
    type Key = String;
    type Value = String;

    fn reduce(&self, word: String, pages: Values<'_, String>, out: &mut Output) -> Outcome {
        let len = pages.len();
        let pages: Vec<String> = pages.collect();
        assert_eq!(len, pages.len(), "Values::len counts what it yields");
        out.line(format!("{word} {len}: {}", pages.join(" ")));
        Ok(())
    }
}

/// A key that cannot always be written: 13 fails to serialize, 666 panics doing so.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub struct Touchy(u32);

impl Serialize for Touchy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            13 => Err(serde::ser::Error::custom("13 does not serialize")),
            666 => panic!("666 panics while serializing"),
            n => serializer.serialize_u32(n),
        }
    }
}

/// Emits each page's word count as a `Touchy` key, and `bad` for page `p050`.
#[one_off_job(models = [Page], shards = 4)]
pub struct SpillTouchy {
    bad: u32,
}

impl Map<Page> for SpillTouchy {
    fn map(&self, page: Page, ctx: &mut MapContext<'_, Self>) -> Outcome {
        let key = if page.id == "p050" { self.bad } else { page.words.len() as u32 };
        ctx.emit(Touchy(key), page.id);
        Ok(())
    }
}

impl Reduce for SpillTouchy {
    type Key = Touchy;
    type Value = String;

    fn reduce(&self, key: Touchy, pages: Values<'_, String>, out: &mut Output) -> Outcome {
        out.line(format!("{} {}", key.0, pages.count()));
        Ok(())
    }
}

static CANCEL: LazyLock<CancelToken> = LazyLock::new(CancelToken::new);

/// Cancels [`CANCEL`] when it maps page `p300`.
#[one_off_job(models = [Page], shards = 4)]
pub struct SpillCancels;

impl Map<Page> for SpillCancels {
    fn map(&self, page: Page, ctx: &mut MapContext<'_, Self>) -> Outcome {
        if page.id == "p300" {
            CANCEL.cancel();
        }
        page.words.into_iter().for_each(|word| ctx.emit(word, ()));
        Ok(())
    }
}

impl Reduce for SpillCancels {
    type Key = String;
    type Value = ();

    fn reduce(&self, word: String, ones: Values<'_, ()>, out: &mut Output) -> Outcome {
        out.line(format!("{word} {}", ones.len()));
        Ok(())
    }
}

/// 400 pages of 0 to 11 words from a 50-word vocabulary, so keys repeat within and across pages.
fn store() -> MemoryStore {
    let pages: Vec<Page> = (0..400u32)
        .map(|i| Page {
            id: format!("p{i:03}"),
            words: (0..i % 12).map(|j| format!("w{}", (i * 7 + j * 13) % 50)).collect(),
        })
        .collect();
    let store = MemoryStore::new();
    testing::put_all(&store, &pages).unwrap();
    store
}

fn options(max_memory: u64, spill_dir: &Path, threads: usize) -> RunOptions {
    RunOptions::default().with_threads(threads).with_max_memory(max_memory).with_spill_dir(spill_dir)
}

fn is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().next().is_none()
}

fn run<J: jobs_core::Job>(job: &J, store: &MemoryStore, options: &RunOptions) -> RunReport {
    engine::run(job, store, options).expect("the run completes")
}

#[test]
fn spilled_runs_give_the_in_memory_output_and_leave_no_files() {
    let store = store();
    let dir = tempfile::tempdir().unwrap();
    let in_memory = run(&SpillListing, &store, &options(1 << 30, dir.path(), 2));
    assert_eq!(in_memory.spilled_bytes, 0);
    assert_eq!(in_memory.output.len(), 50);
    for max_memory in [0, 1000, 20_000] {
        for threads in [1, 2, 3] {
            let spilled = run(&SpillListing, &store, &options(max_memory, dir.path(), threads));
            assert!(spilled.spilled_bytes > 0, "budget {max_memory} spills");
            assert_eq!(spilled.output, in_memory.output, "budget {max_memory}, {threads} threads");
            assert!(is_empty(dir.path()), "budget {max_memory} left files behind");
        }
    }
}

#[test]
fn combined_runs_spill_and_merge_to_the_same_counts() {
    let store = store();
    let dir = tempfile::tempdir().unwrap();
    let plain = options(1 << 30, dir.path(), 2).with_combine(false);
    let uncombined = run(&SpillWordCount, &store, &plain);
    assert_eq!(uncombined.pairs_shuffled, uncombined.stats.pairs_emitted);
    let combined = run(&SpillWordCount, &store, &options(1 << 30, dir.path(), 2));
    assert!(combined.pairs_shuffled < combined.stats.pairs_emitted / 4, "{combined:?}");
    assert_eq!(combined.output, uncombined.output);
    let expected = uncombined.output;
    for combine in [true, false] {
        let spilled = run(&SpillWordCount, &store, &options(0, dir.path(), 2).with_combine(combine));
        assert!(spilled.spilled_bytes > 0);
        assert_eq!(spilled.output, expected, "combine {combine}");
    }
    assert!(is_empty(dir.path()));
}

#[test]
fn a_spill_that_cannot_be_written_fails_the_run_naming_the_file_and_removes_the_rest() {
    let store = store();
    let dir = tempfile::tempdir().unwrap();
    let error = engine::run(&SpillTouchy { bad: 13 }, &store, &options(0, dir.path(), 2)).unwrap_err();
    assert!(matches!(error, RunError::Spill(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&dir.path().display().to_string()) && message.contains(".spill"), "{message}");
    assert!(message.contains("13 does not serialize"), "{message}");
    assert!(is_empty(dir.path()), "the failed run left files behind");
}

#[test]
fn a_missing_spill_location_is_an_error_naming_it() {
    let store = store();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let error = engine::run(&SpillListing, &store, &options(0, &missing, 2)).unwrap_err();
    assert!(error.to_string().contains(&missing.display().to_string()), "{error}");
}

#[test]
fn a_panic_through_the_engine_removes_the_spill_files() {
    let store = store();
    let dir = tempfile::tempdir().unwrap();
    let outcome =
        std::panic::catch_unwind(|| engine::run(&SpillTouchy { bad: 666 }, &store, &options(0, dir.path(), 2)));
    assert!(outcome.is_err(), "the panic reaches the caller");
    assert!(is_empty(dir.path()), "the panicked run left files behind");
    // The same data with a key that serializes runs through.
    let report = run(&SpillTouchy { bad: 7 }, &store, &options(0, dir.path(), 2));
    assert!(report.spilled_bytes > 0 && !report.output.is_empty());
}

#[test]
fn a_canceled_run_removes_the_spill_files() {
    let store = store();
    let dir = tempfile::tempdir().unwrap();
    let options = options(0, dir.path(), 1).with_cancel(CANCEL.clone());
    let report = run(&SpillCancels, &store, &options);
    assert!(report.canceled && report.output.is_empty());
    assert!(report.spilled_bytes > 0, "it spilled before the cancel");
    assert!(is_empty(dir.path()), "the canceled run left files behind");
}

#[test]
fn a_recorded_run_keeps_its_budget_and_spills_to_the_same_output() {
    let store = store();
    let expected = run(&SpillListing, &store, &RunOptions::default()).output;
    let request = RunRequest::new("SpillListing").with_max_memory(4096);
    let record = runs::run(&store, &request, &RunnerOptions::default()).unwrap();
    assert_eq!(record.status(), Status::Completed);
    assert_eq!(record.max_memory, Some(4096));
    assert_eq!(store.stored_output(record.id()).unwrap(), expected);
}
