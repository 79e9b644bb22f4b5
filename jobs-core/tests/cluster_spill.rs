#![cfg(feature = "timely")]

//! The timely engine past its memory budget: reduce workers spill what they receive to disk
//! and merge it back, with output byte-identical to the local engine's and to an unspilled
//! run, on one process and on two (two cluster processes over TCP, here on threads of one
//! test process); and the spill directory is gone however the run ends: success, a panic that
//! fails the run, a cancel.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jobs_core::cluster::{self, ClusterConfig};
use jobs_core::prelude::*;
use jobs_core::store::{KeyRange, Split, StoreError, WriteBatch};
use jobs_core::{Job, MemoryStore, RunOptions, RunReport, Store, engine, testing};

#[derive(Model, Serialize, Deserialize, Clone)]
pub struct Page {
    #[model(id)]
    id: String,
    words: Vec<String>,
}

/// Lists, per word, every use in page then position order: any change of a key's value order
/// changes the output.
#[one_off_job(models = [Page], shards = 12)]
pub struct WordUses;

impl Map<Page> for WordUses {
    fn map(&self, page: Page, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.count("pages", 1);
        for (position, word) in page.words.into_iter().enumerate() {
            ctx.emit(word, format!("{}#{position}", page.id));
        }
        Ok(())
    }
}

impl Reduce for WordUses {
    type Key = String;
    type Value = String;

    fn reduce(&self, word: String, uses: Values<'_, String>, out: &mut Output) -> Outcome {
        let len = uses.len();
        let uses: Vec<String> = uses.collect();
        assert_eq!(len, uses.len(), "Values::len counts what it yields");
        out.json(&(word, uses))
    }
}

/// Counts words, folding counts map-side.
#[one_off_job(models = [Page], shards = 9)]
pub struct WordTotals;

impl Map<Page> for WordTotals {
    fn map(&self, page: Page, ctx: &mut MapContext<'_, Self>) -> Outcome {
        page.words.into_iter().for_each(|word| ctx.emit(word, 1));
        Ok(())
    }
}

impl Reduce for WordTotals {
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

/// A budget far below what the shuffle holds, so every worker spills many times.
const TINY_BUDGET: u64 = 64 << 10;

fn seeded() -> MemoryStore {
    let store = MemoryStore::new();
    let pages: Vec<Page> = (0..3000)
        .map(|i| Page {
            id: format!("page{i:05}"),
            words: (0..(3 + i % 11)).map(|j| format!("w{}", (i * 31 + j * 17) % 257)).collect(),
        })
        .collect();
    testing::put_all(&store, &pages).unwrap();
    store
}

/// The report without what differs between engines and budgets by design.
fn comparable(mut report: RunReport) -> RunReport {
    report.elapsed = Duration::default();
    report.threads = 0;
    report.pairs_shuffled = 0;
    report.spilled_bytes = 0;
    report
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

#[test]
fn one_process_that_spills_prints_what_the_local_engine_and_an_unspilled_run_print() {
    let store = seeded();
    for combine in [false, true] {
        let options = RunOptions::default().with_combine(combine);
        let local = comparable(engine::run(&WordUses, &store, &options).unwrap());
        let unspilled = cluster::run_local(&WordUses, &store, &options, 3).unwrap();
        assert_eq!(unspilled.spilled_bytes, 0, "the default budget holds this shuffle");
        let spill_dir = tempfile::tempdir().unwrap();
        let budgeted = options.clone().with_max_memory(TINY_BUDGET).with_spill_dir(spill_dir.path());
        let spilled = cluster::run_local(&WordUses, &store, &budgeted, 3).unwrap();
        assert!(spilled.spilled_bytes > 0, "a {TINY_BUDGET}-byte budget spills");
        assert!(entries(spill_dir.path()).is_empty(), "left behind: {:?}", entries(spill_dir.path()));
        assert!(local.output.len() > 200);
        assert!(comparable(spilled.clone()) == local, "combine {combine}: spilled differs from the local engine");
        assert!(comparable(spilled) == comparable(unspilled), "combine {combine}: spilled differs from unspilled");

        let totals_local = comparable(engine::run(&WordTotals, &store, &options).unwrap());
        let totals = cluster::run_local(&WordTotals, &store, &budgeted, 2).unwrap();
        assert_eq!(comparable(totals), totals_local, "combine {combine}");
    }
}

/// Runs `job` as a cluster of two processes on loopback, each on a thread of this process
/// with its own options; returns process 0's report.
fn two_processes<J: Job>(job: &J, store: &dyn Store, options: [&RunOptions; 2]) -> RunReport {
    let hosts: Vec<String> = (0..2)
        .map(|_| {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("127.0.0.1:{}", listener.local_addr().unwrap().port())
        })
        .collect();
    std::thread::scope(|scope| {
        let runs: Vec<_> = options
            .into_iter()
            .enumerate()
            .map(|(process, options)| {
                let config = ClusterConfig::cluster(2, process, hosts.clone());
                scope.spawn(move || cluster::run(job, store, options, &config))
            })
            .collect();
        let mut reports = runs.into_iter().map(|run| run.join().unwrap().unwrap());
        let zero = reports.next().unwrap();
        let one = reports.next().unwrap();
        assert!(one.output.is_empty(), "process 1 reports nothing");
        zero
    })
}

#[test]
fn two_processes_that_spill_print_what_the_local_engine_and_an_unspilled_run_print() {
    let store = seeded();
    let local = comparable(engine::run(&WordUses, &store, &RunOptions::default()).unwrap());
    let unspilled = two_processes(&WordUses, &store, [&RunOptions::default(), &RunOptions::default()]);
    assert_eq!(unspilled.spilled_bytes, 0);
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let budgeted: Vec<RunOptions> =
        dirs.iter().map(|dir| RunOptions::default().with_max_memory(TINY_BUDGET).with_spill_dir(dir.path())).collect();
    let spilled = two_processes(&WordUses, &store, [&budgeted[0], &budgeted[1]]);
    assert!(spilled.spilled_bytes > 0, "the report counts what both processes spilled");
    assert!(comparable(spilled.clone()) == local, "spilled on two processes differs from the local engine");
    assert!(comparable(spilled) == comparable(unspilled), "spilled differs from unspilled");
    for dir in &dirs {
        assert!(entries(dir.path()).is_empty(), "left behind: {:?}", entries(dir.path()));
    }
}

/// A memory store whose scan of the last page's shard waits until `dir` holds a spill
/// directory, then panics (outside job code: the worker stops and the run fails) or, without
/// `panics`, goes on once `released`.
struct GatedStore<'a> {
    inner: MemoryStore,
    dir: &'a Path,
    panics: bool,
    released: &'a AtomicBool,
}

impl GatedStore<'_> {
    fn is_gated(&self, range: &KeyRange) -> bool {
        range.contains("page02999")
    }

    /// Waits (at most a minute) until a worker has spilled.
    fn wait_for_spill(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while entries(self.dir).is_empty() {
            assert!(Instant::now() < deadline, "nothing spilled within a minute");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Store for GatedStore<'_> {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn store_id(&self) -> Result<String, StoreError> {
        self.inner.store_id()
    }
    fn kinds(&self) -> Result<Vec<String>, StoreError> {
        self.inner.kinds()
    }
    fn count(&self, kind: &str) -> Result<u64, StoreError> {
        self.inner.count(kind)
    }
    fn split(&self, kind: &str, shards: usize) -> Result<Vec<Split>, StoreError> {
        self.inner.split(kind, shards)
    }
    fn scan(
        &self,
        kind: &str,
        range: &KeyRange,
        visit: &mut dyn FnMut(&str, &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        if self.is_gated(range) {
            self.wait_for_spill();
            assert!(!self.panics, "the store broke down");
            let deadline = Instant::now() + Duration::from_secs(60);
            while !self.released.load(Ordering::SeqCst) {
                assert!(Instant::now() < deadline, "never released");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        self.inner.scan(kind, range, visit)
    }
    fn get(&self, kind: &str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(kind, id)
    }
    fn apply(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        self.inner.apply(batch)
    }
    fn apply_checked(&self, batch: &WriteBatch) -> Result<Vec<usize>, StoreError> {
        self.inner.apply_checked(batch)
    }
}

#[test]
fn a_run_that_fails_after_spilling_leaves_no_spill_file() {
    let spill_dir = tempfile::tempdir().unwrap();
    let released = AtomicBool::new(false);
    let store = GatedStore { inner: seeded(), dir: spill_dir.path(), panics: true, released: &released };
    let options = RunOptions::default().with_max_memory(TINY_BUDGET).with_spill_dir(spill_dir.path());
    let error = cluster::run_local(&WordUses, &store, &options, 2).unwrap_err();
    assert!(error.to_string().contains("the store broke down"), "{error}");
    assert!(entries(spill_dir.path()).is_empty(), "left behind: {:?}", entries(spill_dir.path()));
}

#[test]
fn a_run_canceled_after_spilling_leaves_no_spill_file() {
    let spill_dir = tempfile::tempdir().unwrap();
    let released = AtomicBool::new(false);
    let store = GatedStore { inner: seeded(), dir: spill_dir.path(), panics: false, released: &released };
    let options = RunOptions::default().with_max_memory(TINY_BUDGET).with_spill_dir(spill_dir.path());
    let report = std::thread::scope(|scope| {
        let run = scope.spawn(|| cluster::run_local(&WordUses, &store, &options, 2));
        store.wait_for_spill();
        options.cancel.cancel();
        released.store(true, Ordering::SeqCst);
        run.join().unwrap().unwrap()
    });
    assert!(report.canceled);
    assert!(report.output.is_empty());
    assert!(entries(spill_dir.path()).is_empty(), "left behind: {:?}", entries(spill_dir.path()));
}
