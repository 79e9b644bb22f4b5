//! The timely engine in one process with several workers gives exactly the local engine's
//! report: output, counters, stats and failures.

use jobs_core::cluster::{self, ClusterConfig, ClusterError};
use jobs_core::prelude::*;
use jobs_core::{Job, MemoryStore, RunOptions, RunReport, Store, engine, testing};

#[derive(Model, Serialize, Deserialize, Clone)]
pub struct Doc {
    #[model(id)]
    id: String,
    words: Vec<String>,
}

#[derive(Model, Serialize, Deserialize, Clone)]
pub struct Tag {
    #[model(id)]
    id: String,
    word: String,
}

/// Lists, per word, the docs and tags that use it; fails on some entities and keys.
#[one_off_job(models = [Doc, Tag], shards = 7)]
pub struct WordIndex;

impl Map<Doc> for WordIndex {
    fn map(&self, doc: Doc, ctx: &mut MapContext<'_, Self>) -> Outcome {
        if doc.id.ends_with('7') {
            return Err(Failure::new("docs ending in 7 are refused"));
        }
        assert!(!doc.id.ends_with("13"), "unlucky doc");
        ctx.count("docs", 1);
        for (position, word) in doc.words.into_iter().enumerate() {
            ctx.emit(word, format!("{}#{position}", doc.id));
        }
        Ok(())
    }
}

impl Map<Tag> for WordIndex {
    fn map(&self, tag: Tag, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.count("tags", 1);
        ctx.emit(tag.word, format!("tag {}", tag.id));
        Ok(())
    }
}

impl Reduce for WordIndex {
    type Key = String;
    type Value = String;

    fn reduce(&self, word: String, uses: Values<'_, String>, out: &mut Output) -> Outcome {
        if word == "w3" {
            return Err(Failure::new("w3 is not reduced"));
        }
        out.json(&(word, uses.collect::<Vec<_>>()))
    }
}

/// Counts words with a combiner.
#[one_off_job(models = [Doc], shards = 5)]
pub struct WordCount;

impl Map<Doc> for WordCount {
    fn map(&self, doc: Doc, ctx: &mut MapContext<'_, Self>) -> Outcome {
        doc.words.into_iter().for_each(|word| ctx.emit(word, 1));
        Ok(())
    }
}

impl Reduce for WordCount {
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

/// Rewrites every tag's word in upper case.
#[one_off_job(models = [Tag], shards = 3)]
pub struct UpperTags;

impl Map<Tag> for UpperTags {
    fn map(&self, mut tag: Tag, ctx: &mut MapContext<'_, Self>) -> Outcome {
        tag.word = tag.word.to_uppercase();
        ctx.put(&tag)?;
        ctx.emit(tag.word.clone(), tag.id);
        Ok(())
    }
}

impl Reduce for UpperTags {
    type Key = String;
    type Value = String;

    fn reduce(&self, word: String, ids: Values<'_, String>, out: &mut Output) -> Outcome {
        out.line(format!("{word}: {}", ids.len()));
        Ok(())
    }
}

fn seeded() -> MemoryStore {
    let store = MemoryStore::new();
    let docs: Vec<Doc> = (0..600)
        .map(|i| Doc {
            id: format!("doc{i:04}"),
            words: (0..(i % 9)).map(|j| format!("w{}", (i * 7 + j * 13) % 41)).collect(),
        })
        .collect();
    let tags: Vec<Tag> = (0..250).map(|i| Tag { id: format!("t{i}"), word: format!("w{}", i % 17) }).collect();
    testing::put_all(&store, &docs).unwrap();
    testing::put_all(&store, &tags).unwrap();
    store
}

/// The report without what legitimately differs between engines: wall time, thread count,
/// and how the shuffle went (the engines combine over different batches of pairs, and spill
/// at different points: each of their own share of the budget).
fn comparable(mut report: RunReport) -> RunReport {
    report.elapsed = Default::default();
    report.threads = 0;
    report.pairs_shuffled = 0;
    report.spilled_bytes = 0;
    report
}

fn both<J: Job>(
    job: &J,
    store_for: impl Fn() -> MemoryStore,
    workers: usize,
    options: &RunOptions,
) -> (RunReport, RunReport) {
    let local = engine::run(job, &store_for(), options).unwrap();
    let timely = cluster::run_local(job, &store_for(), options, workers).unwrap();
    (comparable(local), comparable(timely))
}

#[test]
fn output_counters_and_failures_match_the_local_engine_for_any_worker_count() {
    let store = seeded();
    let local = comparable(engine::run(&WordIndex, &store, &RunOptions::default()).unwrap());
    assert!(local.stats.failures > 3, "the job should fail on some entities and a key");
    assert!(local.output.len() > 30);
    for workers in [1, 2, 3, 5] {
        let timely = cluster::run_local(&WordIndex, &store, &RunOptions::default(), workers).unwrap();
        // Without a combiner every emitted pair is shuffled.
        assert_eq!(timely.pairs_shuffled, timely.stats.pairs_emitted, "{workers} workers");
        let timely = comparable(timely);
        assert!(timely.output == local.output, "{workers} workers: the output differs");
        assert_eq!(timely.counters, local.counters, "{workers} workers");
        assert_eq!(timely.stats, local.stats, "{workers} workers");
        assert_eq!(timely.failures, local.failures, "{workers} workers");
        assert_eq!(timely, local, "{workers} workers");
    }
}

#[test]
fn a_combining_job_matches_with_and_without_its_combiner() {
    for combine in [true, false] {
        let options = RunOptions::default().with_combine(combine).with_shards(11);
        let (local, timely) = both(&WordCount, seeded, 4, &options);
        assert_eq!(timely, local, "combine {combine}");
        assert_eq!(local.output.len(), 41);
    }
}

#[test]
fn a_migration_writes_in_batches_and_a_dry_run_writes_nothing() {
    let options = RunOptions::default().with_write_batch_size(7);
    let (local, timely) = both(&UpperTags, seeded, 3, &options);
    assert_eq!(timely, local);
    assert_eq!(timely.stats.writes_committed, 250);

    let migrated = seeded();
    cluster::run_local(&UpperTags, &migrated, &options, 3).unwrap();
    let stored: Tag = jobs_core::model::decode(&migrated.get("Tag", "t5").unwrap().unwrap()).unwrap();
    assert_eq!(stored.word, "W5");

    let dry = seeded();
    let report = cluster::run_local(&UpperTags, &dry, &options.with_dry_run(true), 3).unwrap();
    assert_eq!(report.counters.get("puts"), 250);
    assert_eq!(report.stats.writes_committed, 0);
    let untouched: Tag = jobs_core::model::decode(&dry.get("Tag", "t5").unwrap().unwrap()).unwrap();
    assert_eq!(untouched.word, "w5");
}

#[test]
fn a_canceled_run_reports_canceled_without_output() {
    let options = RunOptions::default();
    options.cancel.cancel();
    let report = cluster::run_local(&WordIndex, &seeded(), &options, 2).unwrap();
    assert!(report.canceled);
    assert!(report.output.is_empty());
}

#[test]
fn bad_cluster_settings_are_refused_by_name() {
    let mut config = ClusterConfig::single(2);
    config.processes = 2;
    config.process = 2;
    let error = cluster::run(&WordIndex, &seeded(), &RunOptions::default(), &config).unwrap_err();
    assert!(matches!(error, ClusterError::Config(_)));
    assert_eq!(error.to_string(), "--process 2 is out of range: with --processes 2 use 0 to 1");
    config.process = 1;
    let error = cluster::run(&WordIndex, &seeded(), &RunOptions::default(), &config).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the host file lists 0 addresses but --processes is 2: list one host:port per process"
    );
}

#[test]
fn runs_on_the_timely_engine_are_recorded_under_its_name() {
    use jobs_core::runs::EngineName;
    assert_eq!(EngineName::from_name(cluster::TIMELY_ENGINE), EngineName::Timely);
}

/// A report of a few long lines (a key's whole list of uses) and many short ones.
#[one_off_job(models = [Doc], shards = 9)]
pub struct LongLines;

impl Map<Doc> for LongLines {
    fn map(&self, doc: Doc, ctx: &mut MapContext<'_, Self>) -> Outcome {
        for word in doc.words {
            ctx.emit(word.len() as u64, format!("{} {word} {}", doc.id, "é".repeat(30)));
        }
        Ok(())
    }
}

impl Reduce for LongLines {
    type Key = u64;
    type Value = String;
    fn reduce(&self, len: u64, uses: Values<'_, String>, out: &mut Output) -> Outcome {
        out.json(&(len, uses.streamed()))?;
        out.line(format!("{len} done"));
        Ok(())
    }
}

#[test]
fn the_report_reaches_a_sink_in_key_order_within_any_budget_as_the_local_engine_writes_it() {
    let store = MemoryStore::new();
    let docs: Vec<Doc> = (0..20_000)
        .map(|i| Doc { id: format!("doc{i:05}"), words: (0..(i % 5)).map(|j| "w".repeat(1 + (i + j) % 4)).collect() })
        .collect();
    testing::put_all(&store, &docs).unwrap();
    let local = engine::run(&LongLines, &store, &RunOptions::default()).unwrap();
    let mut expected = local.output.join("\n");
    expected.push('\n');
    assert!(expected.len() > 2 << 20, "the report is {} bytes", expected.len());
    let temp = tempfile::tempdir().unwrap();
    // With 1 MiB, a quarter of it cannot hold the report text: the workers spool it to disk.
    for max_memory in [1 << 20, 1 << 30] {
        for workers in [1, 3] {
            let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
            let to = std::sync::Arc::clone(&text);
            let sink = jobs_core::OutputSink::new(move |piece: &str| {
                to.lock().unwrap().push_str(piece);
                Ok(())
            });
            let options =
                RunOptions::default().with_max_memory(max_memory).with_spill_dir(temp.path()).with_output(sink);
            let report = cluster::run_local(&LongLines, &store, &options, workers).unwrap();
            assert!(report.output.is_empty(), "the lines went to the sink");
            let text = text.lock().unwrap();
            assert!(*text == expected, "budget {max_memory}, {workers} workers: the sink got other text");
        }
    }
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0, "the spooled text is removed");
}

#[test]
fn a_sink_that_refuses_text_fails_the_run_with_its_error_and_no_retry() {
    let sink = jobs_core::OutputSink::new(|_: &str| Err(std::io::Error::other("disk full")));
    let mut config = ClusterConfig::single(2);
    config.retries = 3;
    let error = cluster::run(&WordIndex, &seeded(), &RunOptions::default().with_output(sink), &config).unwrap_err();
    assert!(matches!(error, ClusterError::Output(_)), "{error:?}");
    assert!(error.to_string().contains("disk full"), "{error}");
}
