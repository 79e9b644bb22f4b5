//! The backbone property: a job's output depends only on the stored data, never on the shard
//! count, the thread count, the memory budget (in memory or spilled to disk) or the store, and
//! equals a plain sequential map/reduce.

use std::collections::BTreeMap;

use jobs_core::prelude::*;
use jobs_core::store::RedbStore;
use jobs_core::{MemoryStore, RunOptions, RunReport, Store, engine, testing};
use proptest::prelude::*;

#[derive(Model, Serialize, Deserialize, Clone, Debug)]
pub struct Doc {
    id: String,
    numbers: Vec<u32>,
}

#[derive(Model, Serialize, Deserialize, Clone, Debug)]
pub struct Note {
    #[model(id)]
    name: String,
    text: String,
}

/// Groups numbers by residue; notes by text length. Fails on documents whose first number is
/// a multiple of `fail_every`, to check failed entities contribute nothing.
#[one_off_job(models = [Doc, Note])]
pub struct Residues {
    modulus: u32,
    fail_every: Option<u32>,
}

impl Residues {
    /// The pairs one document emits, or why it fails: shared with the reference below.
    fn doc_pairs(&self, doc: &Doc) -> Result<Vec<(u32, String)>, String> {
        if let (Some(every), Some(first)) = (self.fail_every, doc.numbers.first())
            && first % every == 0
        {
            return Err(format!("{first} is a multiple of {every}"));
        }
        Ok(doc.numbers.iter().map(|n| (n % self.modulus, format!("{}:{n}", doc.id))).collect())
    }

    fn note_pairs(&self, note: &Note) -> Vec<(u32, String)> {
        vec![(note.text.len() as u32 % self.modulus, format!("note {}", note.name))]
    }

    fn lines(key: u32, values: &[String]) -> Vec<String> {
        let mut lines = vec![format!("{key}: {}", values.join(","))];
        if values.len() > 2 {
            lines.push(format!("{key} has {} values", values.len()));
        }
        lines
    }
}

impl Map<Doc> for Residues {
    fn map(&self, doc: Doc, ctx: &mut MapContext<'_, Self>) -> Outcome {
        for (key, value) in self.doc_pairs(&doc)? {
            ctx.emit(key, value);
        }
        ctx.count("docs", 1);
        Ok(())
    }
}

impl Map<Note> for Residues {
    fn map(&self, note: Note, ctx: &mut MapContext<'_, Self>) -> Outcome {
        for (key, value) in self.note_pairs(&note) {
            ctx.emit(key, value);
        }
        Ok(())
    }
}

impl Reduce for Residues {
    type Key = u32;
    type Value = String;

    fn reduce(&self, key: u32, values: Values<'_, String>, out: &mut Output) -> Outcome {
        for line in Self::lines(key, &values.collect::<Vec<_>>()) {
            out.line(line);
        }
        Ok(())
    }
}

/// A sequential map/reduce written without the engine: entities by model then id, values in
/// emit order, keys sorted.
fn reference(job: &Residues, docs: &[Doc], notes: &[Note]) -> (Vec<String>, Vec<String>) {
    let mut docs: Vec<&Doc> = docs.iter().collect();
    docs.sort_by(|a, b| a.id.cmp(&b.id));
    let mut notes: Vec<&Note> = notes.iter().collect();
    notes.sort_by(|a, b| a.name.cmp(&b.name));
    let mut groups: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    let mut failed = Vec::new();
    for doc in docs {
        match job.doc_pairs(doc) {
            Ok(pairs) => pairs.into_iter().for_each(|(k, v)| groups.entry(k).or_default().push(v)),
            Err(_) => failed.push(doc.id.clone()),
        }
    }
    for note in notes {
        job.note_pairs(note).into_iter().for_each(|(k, v)| groups.entry(k).or_default().push(v));
    }
    let output = groups.into_iter().flat_map(|(k, vs)| Residues::lines(k, &vs)).collect();
    (output, failed)
}

fn failed_ids(report: &RunReport) -> Vec<String> {
    report
        .failures
        .iter()
        .map(|f| match &f.site {
            jobs_core::FailureSite::Entity { id, .. } => id.clone(),
            jobs_core::FailureSite::Key { key } => key.clone(),
        })
        .collect()
}

fn run(job: &Residues, store: &dyn Store, shards: usize, threads: usize) -> RunReport {
    let options = RunOptions::default().with_shards(shards).with_threads(threads);
    engine::run(job, store, &options).expect("the run completes")
}

/// A run whose shuffle budget is `max_memory` bytes, spilling into `spill_dir`.
fn run_with_budget(
    job: &Residues,
    store: &dyn Store,
    shards: usize,
    threads: usize,
    max_memory: u64,
    spill_dir: &std::path::Path,
) -> RunReport {
    let options = RunOptions::default()
        .with_shards(shards)
        .with_threads(threads)
        .with_max_memory(max_memory)
        .with_spill_dir(spill_dir);
    engine::run(job, store, &options).expect("the run completes")
}

fn docs_strategy() -> impl Strategy<Value = Vec<Doc>> {
    prop::collection::btree_map("[a-z0-9]{1,8}", prop::collection::vec(0u32..1000, 0..6), 0..120)
        .prop_map(|docs| docs.into_iter().map(|(id, numbers)| Doc { id, numbers }).collect())
}

fn notes_strategy() -> impl Strategy<Value = Vec<Note>> {
    prop::collection::btree_map("[A-Z][a-z]{0,5}", "[a-z ]{0,30}", 0..40)
        .prop_map(|notes| notes.into_iter().map(|(name, text)| Note { name, text }).collect())
}

/// A store holding `docs` and `notes`.
fn store_of(docs: &[Doc], notes: &[Note]) -> MemoryStore {
    let store = MemoryStore::new();
    testing::put_all(&store, docs).unwrap();
    testing::put_all(&store, notes).unwrap();
    store
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn output_is_identical_for_any_shard_and_thread_count_and_equals_the_reference(
        docs in docs_strategy(),
        notes in notes_strategy(),
        modulus in 1u32..40,
        fail_every in prop::option::of(2u32..50),
    ) {
        let job = Residues { modulus, fail_every };
        let store = store_of(&docs, &notes);
        let (expected_output, expected_failures) = reference(&job, &docs, &notes);
        for shards in [1, 2, 8, 64] {
            for threads in [1, 2] {
                let report = run(&job, &store, shards, threads);
                prop_assert_eq!(&report.output, &expected_output, "shards {} threads {}", shards, threads);
                prop_assert_eq!(failed_ids(&report), expected_failures.clone());
                prop_assert_eq!(report.stats.entities_read, (docs.len() + notes.len()) as u64);
                prop_assert_eq!(report.counters.get("docs"), (docs.len() - expected_failures.len()) as u64);
            }
        }
    }

    #[test]
    fn output_is_identical_whatever_the_memory_budget_spilled_or_not(
        docs in docs_strategy(),
        notes in notes_strategy(),
        modulus in 1u32..40,
        fail_every in prop::option::of(2u32..50),
    ) {
        let job = Residues { modulus, fail_every };
        let store = store_of(&docs, &notes);
        let (expected_output, expected_failures) = reference(&job, &docs, &notes);
        let spill_dir = tempfile::tempdir().unwrap();
        // 0 bytes spills after every entity; 2 KiB every few; 1 GiB never.
        for max_memory in [0, 2048, 1 << 30] {
            for (shards, threads) in [(1, 1), (8, 2), (64, 2)] {
                let report = run_with_budget(&job, &store, shards, threads, max_memory, spill_dir.path());
                let context = format!("budget {max_memory} shards {shards} threads {threads}");
                prop_assert_eq!(&report.output, &expected_output, "{}", context);
                prop_assert_eq!(failed_ids(&report), expected_failures.clone(), "{}", context);
                let emitted = report.stats.pairs_emitted > 0;
                match max_memory {
                    0 => prop_assert_eq!(report.spilled_bytes > 0, emitted, "{}", context),
                    2048 => {}
                    _ => prop_assert_eq!(report.spilled_bytes, 0, "{}", context),
                }
                prop_assert!(std::fs::read_dir(spill_dir.path()).unwrap().next().is_none(), "{} left files", context);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The timely engine (one process, several workers) keeps the same guarantee.
    #[test]
    fn the_timely_engine_gives_the_reference_output_for_any_worker_count(
        docs in docs_strategy(),
        notes in notes_strategy(),
        modulus in 1u32..40,
        fail_every in prop::option::of(2u32..50),
    ) {
        let job = Residues { modulus, fail_every };
        let store = store_of(&docs, &notes);
        let (expected_output, expected_failures) = reference(&job, &docs, &notes);
        for (shards, workers) in [(1, 1), (8, 2), (64, 3)] {
            let options = RunOptions::default().with_shards(shards);
            let report = jobs_core::cluster::run_local(&job, &store, &options, workers).expect("the run completes");
            prop_assert_eq!(&report.output, &expected_output, "shards {} workers {}", shards, workers);
            prop_assert_eq!(failed_ids(&report), expected_failures.clone());
            prop_assert_eq!(report.stats.entities_read, (docs.len() + notes.len()) as u64);
        }
    }
}

#[test]
fn redb_and_memory_stores_give_the_same_output() {
    let docs: Vec<Doc> = (0..3000u32)
        .map(|i| Doc { id: format!("{:x}", i.wrapping_mul(2_654_435_761)), numbers: vec![i, i * 7, i % 13] })
        .collect();
    let notes: Vec<Note> = (0..200).map(|i| Note { name: format!("N{i}"), text: "x".repeat(i % 17) }).collect();
    let job = Residues { modulus: 97, fail_every: Some(101) };

    let memory = MemoryStore::new();
    testing::put_all(&memory, &docs).unwrap();
    testing::put_all(&memory, &notes).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let redb = RedbStore::open(dir.path().join("jobs.redb")).unwrap();
    testing::put_all(&redb, &docs).unwrap();
    testing::put_all(&redb, &notes).unwrap();

    let (expected, expected_failures) = reference(&job, &docs, &notes);
    assert!(!expected_failures.is_empty(), "the data set exercises failures");
    for shards in [1, 7, 64, 256] {
        let from_redb = run(&job, &redb, shards, 2);
        assert_eq!(from_redb.output, expected, "redb, {shards} shards");
        assert_eq!(failed_ids(&from_redb), expected_failures);
    }
    assert_eq!(run(&job, &memory, 3, 2).output, expected);
}

#[test]
fn a_canceled_run_reports_no_output() {
    let store = MemoryStore::new();
    let docs: Vec<Doc> = (0..100).map(|i| Doc { id: format!("d{i:03}"), numbers: vec![i] }).collect();
    testing::put_all(&store, &docs).unwrap();
    let options = RunOptions::default();
    options.cancel.cancel();
    let report = engine::run(&Residues { modulus: 3, fail_every: None }, &store, &options).unwrap();
    assert!(report.canceled);
    assert!(report.output.is_empty());
}

#[test]
fn shard_counts_outside_one_to_256_are_refused() {
    let store = MemoryStore::new();
    for shards in [0, 257] {
        let options = RunOptions::default().with_shards(shards);
        let err = engine::run(&Residues { modulus: 3, fail_every: None }, &store, &options).unwrap_err();
        assert_eq!(err.to_string(), format!("{shards} shards is out of range: use 1 to 256"));
    }
}
