//! Faults inside a run, and the bounds a run must cope with: corrupted stored bytes, a `map`
//! that panics on every 1000th entity, a `reduce` that panics on one key, a failure limit, a
//! key with millions of values, a 10 MiB model, a job that emits nothing, a kind with no
//! entities, more shards than entities; a report whose lines are far larger than the memory
//! budget, handed to a sink in pieces; a cut of the id index that fails while the first
//! ranges are mapped; and several runs at once on one store file, one of them writing, whose
//! readers never see half a batch.

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use jobs_core::prelude::*;
use jobs_core::runs::{self, RunLog, RunRequest, RunnerOptions, Status};
use jobs_core::store::{KeyRange, RedbStore, Split, StoreError, WriteBatch};
use jobs_core::{FailureSite, OutputSink, RunOptions, RunReport, Store, engine, testing};

#[derive(Model, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Doc {
    id: String,
    n: u64,
    text: String,
}

fn docs(count: u64) -> Vec<Doc> {
    (0..count).map(|n| Doc { id: format!("d{n:07}"), n, text: format!("doc {n}") }).collect()
}

fn redb(dir: &tempfile::TempDir) -> RedbStore {
    RedbStore::open(dir.path().join("jobs.redb")).expect("open the store")
}

/// The entity ids of a report's failures, in order; panics on a key failure.
fn failed_ids(report: &RunReport) -> Vec<String> {
    report
        .failures
        .iter()
        .map(|failure| match &failure.site {
            FailureSite::Entity { kind, id } => {
                assert_eq!(kind, "Doc");
                id.clone()
            }
            FailureSite::Key { key } => panic!("unexpected key failure {key}: {}", failure.message),
        })
        .collect()
}

/// Sums `n` by its last digit; panics on every 1000th entity.
#[one_off_job(models = [Doc], shards = 16)]
pub struct SumByLastDigit;

impl Map<Doc> for SumByLastDigit {
    fn map(&self, doc: Doc, ctx: &mut MapContext<'_, Self>) -> Outcome {
        assert!(!doc.n.is_multiple_of(1000) || doc.n == 0, "entity {} is cursed", doc.n);
        ctx.emit(doc.n % 10, doc.n);
        Ok(())
    }
}

impl Reduce for SumByLastDigit {
    type Key = u64;
    type Value = u64;
    fn reduce(&self, digit: u64, values: Values<'_, u64>, out: &mut Output) -> Outcome {
        out.line(format!("{digit} {}", values.sum::<u64>()));
        Ok(())
    }
}

fn expected_sums(docs: &[Doc], skip: impl Fn(&Doc) -> bool) -> Vec<String> {
    let mut sums = [0u64; 10];
    for doc in docs.iter().filter(|d| !skip(d)) {
        sums[(doc.n % 10) as usize] += doc.n;
    }
    (0..10).map(|digit| format!("{digit} {}", sums[digit])).collect()
}

#[test]
fn a_map_that_panics_on_every_1000th_entity_fails_exactly_those_and_the_rest_is_correct() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = redb(&dir);
    let all = docs(10_000);
    testing::put_all(&store, &all).expect("put");
    let report = testing::run(&SumByLastDigit, &store).expect("run");
    let cursed: Vec<String> = all.iter().filter(|d| d.n % 1000 == 0 && d.n > 0).map(|d| d.id.clone()).collect();
    assert_eq!(cursed.len(), 9);
    assert_eq!(failed_ids(&report), cursed);
    assert_eq!(report.stats.failures, 9);
    assert!(report.failures.iter().all(|f| f.message.contains("is cursed")), "{:?}", report.failures);
    assert_eq!(report.output, expected_sums(&all, |d| d.n % 1000 == 0 && d.n > 0));
    assert!(report.exceeds_failure_limit(), "the job allows no failure");
}

#[test]
fn corrupted_stored_bytes_fail_exactly_those_entities_and_the_run_reports_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = redb(&dir);
    let all = docs(3_000);
    testing::put_all(&store, &all).expect("put");
    // Garbage in place of three stored entities: not MessagePack, a truncated encoding, and
    // a valid encoding of something that is not a `Doc`.
    let corrupted = ["d0000007", "d0001500", "d0002999"];
    let good = jobs_core::model::encode(&all[1]).expect("encode");
    let mut batch = WriteBatch::new();
    batch.put("Doc", corrupted[0], vec![0xc1, 0xff, 0x00, 0x13]);
    batch.put("Doc", corrupted[1], good[..good.len() / 2].to_vec());
    batch.put("Doc", corrupted[2], jobs_core::model::encode(&("not", "a", "doc")).expect("encode"));
    store.apply(&batch).expect("corrupt");

    let report = testing::run(&SumByLastDigit, &store).expect("run");
    let mut failed = failed_ids(&report);
    failed.sort();
    // Entity 1000 and 2000 panic; the three corrupted ones do not decode.
    let mut expected: Vec<String> =
        corrupted.iter().map(|id| (*id).to_owned()).chain(["d0001000".into(), "d0002000".into()]).collect();
    expected.sort();
    assert_eq!(failed, expected);
    let broken: BTreeSet<&str> = corrupted.into_iter().collect();
    assert_eq!(
        report.output,
        expected_sums(&all, |d| broken.contains(d.id.as_str()) || (d.n % 1000 == 0 && d.n > 0)),
        "every other entity counted"
    );

    // Recorded: the run fails on its failures, names them, and keeps the output of the rest.
    let record = runs::run(&store, &RunRequest::new("SumByLastDigit"), &RunnerOptions::default()).expect("run");
    assert_eq!(record.status(), Status::Failed);
    assert_eq!(record.error.as_deref(), Some(runs::failure_limit_error(5, 0).as_str()));
    assert_eq!(record.failures.len(), 5);
    assert_eq!(store.full_output(record.id()).expect("output kept"), report.output);
    let allowed = RunRequest::new("SumByLastDigit").with_max_failures(5);
    let record = runs::run(&store, &allowed, &RunnerOptions::default()).expect("run");
    assert_eq!(record.status(), Status::Completed, "five failures are within a limit of five");
}

/// Fails every entity.
#[one_off_job(models = [Doc])]
pub struct FailsEverything;

impl Map<Doc> for FailsEverything {
    fn map(&self, doc: Doc, _: &mut MapContext<'_, Self>) -> Outcome {
        Err(Failure::new(format!("{} is refused", doc.n)))
    }
}

impl Reduce for FailsEverything {
    type Key = ();
    type Value = ();
    fn reduce(&self, (): (), _: Values<'_, ()>, _: &mut Output) -> Outcome {
        Ok(())
    }
}

#[test]
fn failures_are_kept_up_to_100_and_the_rest_only_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = redb(&dir);
    testing::put_all(&store, &docs(5_000)).expect("put");
    let report = testing::run(&FailsEverything, &store).expect("run");
    assert_eq!(report.stats.failures, 5_000);
    assert_eq!(report.failures.len(), jobs_core::engine::MAX_REPORTED_FAILURES);
    assert_eq!(failed_ids(&report), docs(100).into_iter().map(|d| d.id).collect::<Vec<_>>(), "the first, in id order");
    let record = runs::run(&store, &RunRequest::new("FailsEverything"), &RunnerOptions::default()).expect("run");
    assert_eq!(record.status(), Status::Failed);
    assert_eq!((record.failures.len(), record.stats.failures), (100, 5_000));
}

/// What a child process runs: the panicking job, as a recorded run, on the store named by
/// `RELIABILITY_CHILD_STORE`. Started by `panics_in_job_code_never_reach_the_terminal`.
#[test]
#[ignore = "run as a child process by another test"]
fn child_runs_a_job_that_panics() {
    let Ok(path) = std::env::var("RELIABILITY_CHILD_STORE") else { return };
    let store = RedbStore::open(path).expect("open");
    let record = runs::run(&store, &RunRequest::new("SumByLastDigit"), &RunnerOptions::default()).expect("run");
    println!("status {} failures {}", record.status(), record.stats.failures);
}

#[test]
fn panics_in_job_code_never_reach_the_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    testing::put_all(&redb(&dir), &docs(5_000)).expect("put");
    let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--ignored", "--exact", "child_runs_a_job_that_panics", "--nocapture", "--test-threads", "1"])
        .env("RELIABILITY_CHILD_STORE", dir.path().join("jobs.redb"))
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run the child");
    let (out, err) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{out}\n{err}");
    assert!(out.contains("status failed failures 4"), "the four panics were recorded: {out}");
    for printed in [&out, &err] {
        assert!(!printed.contains("panicked"), "a panic message reached the terminal:\n{printed}");
        assert!(!printed.contains("is cursed"), "a panic message reached the terminal:\n{printed}");
    }
}

/// Counts docs by `n % 4`; the reduce panics on key 2.
#[one_off_job(models = [Doc], max_failures = 1)]
pub struct ReducePanicsOnTwo;

impl Map<Doc> for ReducePanicsOnTwo {
    fn map(&self, doc: Doc, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(doc.n % 4, 1);
        Ok(())
    }
}

impl Reduce for ReducePanicsOnTwo {
    type Key = u64;
    type Value = u64;
    fn reduce(&self, key: u64, ones: Values<'_, u64>, out: &mut Output) -> Outcome {
        out.line(format!("{key}: {}", ones.sum::<u64>()));
        assert_ne!(key, 2, "two is not allowed");
        Ok(())
    }
}

#[test]
fn a_reduce_that_panics_on_one_key_fails_that_key_only_and_its_lines_are_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = redb(&dir);
    testing::put_all(&store, &docs(1_001)).expect("put");
    let report = testing::run(&ReducePanicsOnTwo, &store).expect("run");
    assert_eq!(report.output, ["0: 251", "1: 250", "3: 250"]);
    assert_eq!(report.stats.failures, 1);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].site, FailureSite::Key { key: "2".into() });
    assert!(report.failures[0].message.contains("two is not allowed"), "{}", report.failures[0].message);
    assert!(!report.exceeds_failure_limit(), "the job allows one failure");
    let record = runs::run(&store, &RunRequest::new("ReducePanicsOnTwo"), &RunnerOptions::default()).expect("run");
    assert_eq!(record.status(), Status::Completed, "{:?}", record.error);
    assert_eq!(record.max_failures, 1, "the job's own limit is recorded");
}

/// Emits a million values per entity for one key, and counts them.
#[one_off_job(models = [Doc])]
pub struct OneHugeKey;

impl Map<Doc> for OneHugeKey {
    fn map(&self, _doc: Doc, ctx: &mut MapContext<'_, Self>) -> Outcome {
        for i in 0..1_000_000u32 {
            ctx.emit((), i);
        }
        Ok(())
    }
}

impl Reduce for OneHugeKey {
    type Key = ();
    type Value = u32;
    fn reduce(&self, (): (), values: Values<'_, u32>, out: &mut Output) -> Outcome {
        let (count, sum) = values.fold((0u64, 0u64), |(count, sum), v| (count + 1, sum + u64::from(v)));
        out.line(format!("{count} values, sum {sum}"));
        Ok(())
    }
}

#[test]
fn a_key_with_millions_of_values_is_reduced_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = redb(&dir);
    testing::put_all(&store, &docs(3)).expect("put");
    let report = testing::run(&OneHugeKey, &store).expect("run");
    let sum_per_entity = 999_999u64 * 1_000_000 / 2;
    assert_eq!(report.output, [format!("3000000 values, sum {}", 3 * sum_per_entity)]);
    assert_eq!(report.stats.pairs_emitted, 3_000_000);
}

/// The length of each doc's text; emits nothing for empty ones.
#[one_off_job(models = [Doc], shards = 256)]
pub struct TextLengths;

impl Map<Doc> for TextLengths {
    fn map(&self, doc: Doc, ctx: &mut MapContext<'_, Self>) -> Outcome {
        if !doc.text.is_empty() {
            ctx.emit(doc.id, doc.text.len());
        }
        Ok(())
    }
}

impl Reduce for TextLengths {
    type Key = String;
    type Value = usize;
    fn reduce(&self, id: String, lengths: Values<'_, usize>, out: &mut Output) -> Outcome {
        for length in lengths {
            out.line(format!("{id} {length}"));
        }
        Ok(())
    }
}

/// One line per last digit listing every doc's text, and a line per doc: few huge lines and
/// many small ones. The key 7 fails after writing megabytes of its line.
#[one_off_job(models = [Doc], shards = 8)]
pub struct TextsByDigit;

impl Map<Doc> for TextsByDigit {
    fn map(&self, doc: Doc, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(doc.n % 10, format!("{} {}", doc.text, "é".repeat(40)));
        Ok(())
    }
}

impl Reduce for TextsByDigit {
    type Key = u64;
    type Value = String;
    fn reduce(&self, digit: u64, texts: Values<'_, String>, out: &mut Output) -> Outcome {
        let texts: Vec<String> = texts.collect();
        for text in texts.iter().take(50) {
            out.line(format!("{digit}: {text}"));
        }
        out.json(&(digit, &texts))?;
        if digit == 7 {
            return Err(Failure::new("seven fails after writing its line"));
        }
        Ok(())
    }
}

#[test]
fn a_report_far_larger_than_the_budget_reaches_a_sink_in_pieces_and_in_key_order() {
    let store = jobs_core::MemoryStore::new();
    testing::put_all(&store, &docs(60_000)).unwrap();
    let gathered = engine::run(&TextsByDigit, &store, &RunOptions::default()).unwrap();
    assert_eq!(gathered.stats.failures, 1);
    let line_bytes = gathered.output.iter().map(String::len).max().unwrap();
    assert!(line_bytes > 512 << 10, "the longest line is {line_bytes} bytes");
    let mut expected = gathered.output.join("\n");
    expected.push('\n');
    let temp = tempfile::tempdir().unwrap();
    // A budget of 1 MiB spools every partition's text to disk, the failed key's included.
    for max_memory in [1 << 20, 1 << 30] {
        let text = Arc::new(std::sync::Mutex::new(String::new()));
        let largest_piece = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (to, largest) = (Arc::clone(&text), Arc::clone(&largest_piece));
        let sink = OutputSink::new(move |piece: &str| {
            largest.fetch_max(piece.len(), Ordering::Relaxed);
            to.lock().unwrap().push_str(piece);
            Ok(())
        });
        let options =
            RunOptions::default().with_max_memory(max_memory).with_spill_dir(temp.path()).with_output(sink.clone());
        let report = engine::run(&TextsByDigit, &store, &options).unwrap();
        assert!(report.output.is_empty(), "the lines went to the sink");
        assert_eq!(report.stats.failures, 1);
        assert!(*text.lock().unwrap() == expected, "budget {max_memory}: the sink got other text");
        let largest = largest_piece.load(Ordering::Relaxed);
        assert!(largest <= 128 << 10, "budget {max_memory}: a piece of {largest} bytes");
    }
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0, "the spooled text is removed");
}

#[test]
fn a_sink_that_refuses_text_stops_the_run_with_its_error() {
    let store = jobs_core::MemoryStore::new();
    testing::put_all(&store, &docs(100)).unwrap();
    let sink = OutputSink::new(|_: &str| Err(std::io::Error::other("disk full")));
    let Err(error) = engine::run(&TextsByDigit, &store, &RunOptions::default().with_output(sink)) else {
        panic!("a run whose report could not be written succeeded")
    };
    assert_eq!(error.to_string(), "the report could not be written: disk full");
}

#[test]
fn a_10_mib_model_is_stored_read_and_mapped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = redb(&dir);
    let big = Doc { id: "big".into(), n: 1, text: "x".repeat(10 * 1024 * 1024) };
    testing::put_all(&store, std::slice::from_ref(&big)).expect("put 10 MiB");
    let report = testing::run(&TextLengths, &store).expect("run");
    assert_eq!(report.output, ["big 10485760"]);
    assert!(report.failures.is_empty());
    let stored = store.get("Doc", "big").expect("get").expect("stored");
    assert_eq!(jobs_core::model::decode::<Doc>(&stored).expect("decode"), big);
}

#[test]
fn no_entities_no_emits_and_more_shards_than_entities_all_complete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = redb(&dir);

    let empty = testing::run(&TextLengths, &store).expect("a kind with no entities");
    assert!(empty.output.is_empty() && empty.failures.is_empty());
    assert_eq!(empty.stats.entities_read, 0);
    let record = runs::run(&store, &RunRequest::new("TextLengths"), &RunnerOptions::default()).expect("run");
    assert_eq!(record.status(), Status::Completed);

    let silent: Vec<Doc> = (0..5).map(|n| Doc { id: format!("s{n}"), n, text: String::new() }).collect();
    testing::put_all(&store, &silent).expect("put");
    let nothing = testing::run(&TextLengths, &store).expect("a job that emits nothing");
    assert!(nothing.output.is_empty());
    assert_eq!((nothing.stats.entities_read, nothing.stats.pairs_emitted), (5, 0));

    testing::put_all(&store, &docs(3)).expect("put");
    let options = RunOptions::default().with_shards(256);
    let sparse = engine::run(&TextLengths, &store, &options).expect("256 shards over 8 entities");
    assert_eq!(sparse.output, ["d0000000 5", "d0000001 5", "d0000002 5"]);
    assert_eq!(sparse.stats.entities_read, 8);
}

#[derive(Model, Serialize, Deserialize, Clone, Debug)]
pub struct Slot {
    id: String,
    generation: u32,
}

/// Raises every slot's generation by one, in batches of 500 (the default), in id order
/// (one shard).
#[one_off_job(models = [Slot], shards = 1)]
pub struct BumpGenerations;

impl Map<Slot> for BumpGenerations {
    fn map(&self, slot: Slot, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.put(&Slot { generation: slot.generation + 1, ..slot })?;
        Ok(())
    }
}

impl Reduce for BumpGenerations {
    type Key = ();
    type Value = ();
    fn reduce(&self, (): (), _: Values<'_, ()>, _: &mut Output) -> Outcome {
        Ok(())
    }
}

/// One line per slot, in id order, `<generation>`: what one snapshot of the store holds (one
/// shard is one read transaction).
#[one_off_job(models = [Slot], shards = 1)]
pub struct ReadGenerations;

impl Map<Slot> for ReadGenerations {
    fn map(&self, slot: Slot, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(slot.id, slot.generation);
        Ok(())
    }
}

impl Reduce for ReadGenerations {
    type Key = String;
    type Value = u32;
    fn reduce(&self, _: String, generations: Values<'_, u32>, out: &mut Output) -> Outcome {
        for generation in generations {
            out.line(generation);
        }
        Ok(())
    }
}

const SLOTS: usize = 5_000;
/// The writer's commit boundary: an entity's writes commit with its read batch (256 entities,
/// the pairs of entities that wrote waiting for their writes), or sooner every 500 writes; one
/// thread writing one slot per entity commits every 256.
const BATCH: usize = 256;
const WRITER_PASSES: u32 = 4;
const READERS: usize = 3;

/// Checks one snapshot: slots in id order are a prefix at generation g+1 and the rest at g,
/// and the prefix ends on a batch boundary (a torn batch would end it inside one). Returns
/// whether the snapshot caught a pass midway.
fn check_snapshot(generations: &[u32]) -> Result<bool, String> {
    if generations.len() != SLOTS {
        return Err(format!("{} slots, not {SLOTS}", generations.len()));
    }
    let high = generations[0];
    let prefix = generations.iter().take_while(|&&g| g == high).count();
    let rest = &generations[prefix..];
    if let Some(&low) = rest.first() {
        if low + 1 != high || rest.iter().any(|&g| g != low) {
            return Err(format!("generations are not a prefix at {high} and the rest at {}: {rest:?}", high - 1));
        }
        if prefix % BATCH != 0 {
            return Err(format!("{prefix} slots at generation {high}: a batch of {BATCH} was seen half-written"));
        }
        return Ok(true);
    }
    Ok(false)
}

#[test]
fn readers_running_beside_a_writer_on_one_store_file_never_see_half_a_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jobs.redb");
    let slots: Vec<Slot> = (0..SLOTS).map(|i| Slot { id: format!("slot{i:05}"), generation: 0 }).collect();
    testing::put_all(&redb(&dir), &slots).expect("put");

    let writing = Arc::new(AtomicBool::new(true));
    let (snapshots, midway, torn) = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                let writing = Arc::clone(&writing);
                let path = path.clone();
                scope.spawn(move || {
                    // A handle of its own, as another process would have.
                    let store = RedbStore::open(&path).expect("reader opens the store");
                    let (mut snapshots, mut midway, mut torn) = (0usize, 0usize, Vec::new());
                    // At least one read after the writer is done, so the last state is checked too.
                    loop {
                        let done = !writing.load(Ordering::SeqCst);
                        let request = RunRequest::new("ReadGenerations").with_threads(1);
                        let record = runs::run(&store, &request, &RunnerOptions::default()).expect("read run");
                        assert_eq!(record.status(), Status::Completed, "{:?}", record.error);
                        let lines = store.full_output(record.id()).expect("output");
                        let generations: Vec<u32> = lines.iter().map(|l| l.parse().expect("a generation")).collect();
                        match check_snapshot(&generations) {
                            Ok(caught_midway) => midway += usize::from(caught_midway),
                            Err(problem) => torn.push(problem),
                        }
                        snapshots += 1;
                        if done {
                            return (snapshots, midway, torn);
                        }
                    }
                })
            })
            .collect();
        let store = RedbStore::open(&path).expect("writer opens the store");
        for _ in 0..WRITER_PASSES {
            let request = RunRequest::new("BumpGenerations").with_threads(1);
            let record = runs::run(&store, &request, &RunnerOptions::default()).expect("write run");
            assert_eq!(record.status(), Status::Completed, "{:?}", record.error);
            assert_eq!(record.stats.writes_committed, SLOTS as u64);
        }
        writing.store(false, Ordering::SeqCst);
        readers.into_iter().fold((0, 0, Vec::new()), |(count, midway, mut torn), reader| {
            let (snapshots, caught_midway, problems) = reader.join().expect("reader thread");
            torn.extend(problems);
            (count + snapshots, midway + caught_midway, torn)
        })
    });
    eprintln!(
        "concurrency: 1 writer ({WRITER_PASSES} passes over {SLOTS} slots in batches of {BATCH}) and {READERS} readers \
         on one store file; snapshots checked: {snapshots}, of which caught a pass midway: {midway}; torn batches \
         seen: {}",
        torn.len()
    );
    assert!(torn.is_empty(), "{torn:?}");

    let store = redb(&dir);
    let mut generations = Vec::new();
    store
        .scan("Slot", &KeyRange::all(), &mut |_, bytes| {
            let slot: Slot = jobs_core::model::decode(bytes).expect("decode");
            generations.push(slot.generation);
            ControlFlow::Continue(())
        })
        .expect("scan");
    assert!(generations.iter().all(|&g| g == WRITER_PASSES), "every pass reached every slot");
    assert_eq!(store.recent().expect("runs").iter().filter(|r| r.job == "BumpGenerations").count(), 4);
}

/// A redb store whose cut of a kind into ranges fails after handing over `good` of them, as
/// a read of the id index would midway.
struct CutFailsAfter<'a> {
    store: &'a RedbStore,
    good: usize,
}

impl Store for CutFailsAfter<'_> {
    fn location(&self) -> String {
        self.store.location()
    }
    fn store_id(&self) -> Result<String, StoreError> {
        self.store.store_id()
    }
    fn kinds(&self) -> Result<Vec<String>, StoreError> {
        self.store.kinds()
    }
    fn count(&self, kind: &str) -> Result<u64, StoreError> {
        self.store.count(kind)
    }
    fn split(&self, kind: &str, shards: usize) -> Result<Vec<Split>, StoreError> {
        self.store.split(kind, shards)
    }
    fn split_each(
        &self,
        kind: &str,
        shards: usize,
        each: &mut dyn FnMut(Split) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        for split in self.store.split(kind, shards)?.into_iter().take(self.good) {
            if each(split).is_break() {
                return Ok(());
            }
        }
        Err(StoreError::Io { location: self.location(), message: "the id index could not be read".into() })
    }
    fn scan(
        &self,
        kind: &str,
        range: &KeyRange,
        visit: &mut dyn FnMut(&str, &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        self.store.scan(kind, range, visit)
    }
    fn get(&self, kind: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.get(kind, id)
    }
    fn apply(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        self.store.apply(batch)
    }
    fn apply_checked(&self, batch: &WriteBatch) -> Result<Vec<usize>, StoreError> {
        self.store.apply_checked(batch)
    }
}

/// The map starts on the first ranges while the rest are cut: a cut that fails midway stops
/// the run with the store's error (not a hang, not a report of the ranges that were mapped),
/// on one thread or several, before any range or after some.
#[test]
fn a_cut_that_fails_midway_fails_the_run_with_the_stores_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = redb(&dir);
    testing::put_all(&store, &docs(2_000)).expect("seed");
    for (good, threads) in [(0, 1), (0, 2), (3, 1), (3, 2), (15, 2)] {
        let failing = CutFailsAfter { store: &store, good };
        let result = engine::run(&SumByLastDigit, &failing, &RunOptions::default().with_threads(threads));
        match result {
            Err(error) => assert!(
                error.to_string().contains("the id index could not be read"),
                "{good} ranges cut, {threads} threads: {error}"
            ),
            Ok(report) => panic!("{good} ranges cut, {threads} threads: the run went on: {:?}", report.output),
        }
    }
    let whole = engine::run(&SumByLastDigit, &store, &RunOptions::default()).expect("run");
    assert_eq!(whole.output, expected_sums(&docs(2_000), |d| d.n % 1000 == 0 && d.n > 0));
}
