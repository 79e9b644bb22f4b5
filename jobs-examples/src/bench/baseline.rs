//! The hand-written loops `jobs run InteractionAuditOneOffJob` is measured against. Each is a
//! whole process of its own (`jobs-bench --baseline NAME STORE THREADS`) over the same redb
//! file, and prints the job's report, byte for byte, on stdout:
//!
//! * `raw`: reads every exploration's bytes without decoding them: the floor under any loop.
//! * `owned`: one thread reads batches of stored bytes and hands them to `THREADS` decoding
//!   threads, which decode the whole owned `ExplorationModel` ([`jobs_core::model::decode`]).
//! * `projected`: the same layout, decoding only what the audit reads (the id, `deleted`, and
//!   each state's name and interaction id) as `&str` borrowed from the stored bytes, and
//!   writing each interaction's states straight into its JSON array, so no string is
//!   allocated per state.
//! * `scanners`: the same decoding with no reader thread: `THREADS` threads each scan their own
//!   part of the id range, each in its own read transaction, and decode every entity where
//!   redb hands over its bytes. The fastest loop we know how to write over this store.
//!
//! The decoding threads' groups are concatenated in batch order, so each interaction's states
//! stay in id order, as the job's do.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use jobs_examples::models::ExplorationModel;
use redb::{ConcurrencyMode, Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use rustc_hash::FxHashMap;
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

#[cfg(feature = "lmdb")]
#[path = "lmdb.rs"]
pub mod lmdb;

/// The table `RedbStore` keeps explorations in.
const EXPLORATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("model/ExplorationModel");
/// The store's index of exploration ids.
const EXPLORATION_IDS: TableDefinition<&str, ()> = TableDefinition::new("ids/ExplorationModel");
/// Entities per batch handed to a decoding thread.
const BATCH: usize = 256;
/// The redb page cache the baselines open the file with: the same as `jobs run` uses by
/// default, so both read through a cache of one size.
pub const CACHE_BYTES: usize = jobs_core::store::RedbStore::DEFAULT_CACHE_BYTES;

/// Runs the baseline `name` over the store at `path` with `threads` decoding threads and prints
/// its report on stdout.
///
/// # Errors
/// An unknown name, or the store could not be read or decoded.
pub fn run(name: &str, path: &Path, threads: usize) -> Result<()> {
    let open = || -> Result<Database> {
        Database::builder()
            .set_concurrency_mode(ConcurrencyMode::MultiWriter)
            .set_cache_size(CACHE_BYTES)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))
    };
    let lines = match name {
        "raw" => {
            let bytes = raw_scan(&open()?)?;
            vec![format!("{bytes} bytes")]
        }
        "owned" => pipelined(&open()?, threads, owned_audit)?,
        "projected" => pipelined(&open()?, threads, projected_audit)?,
        "scanners" => scanners(&open()?, threads, projected_audit)?,
        #[cfg(feature = "lmdb")]
        "lmdb-raw" => lmdb::raw(path)?,
        #[cfg(feature = "lmdb")]
        "lmdb-scanners" => lmdb::scanners(path, threads)?,
        other => bail!(
            "unknown baseline {other}: raw, owned, projected, scanners (or, with the lmdb feature, lmdb-raw, lmdb-scanners)"
        ),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    for line in lines {
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    note("finished");
    Ok(())
}

/// Notes on stderr that the loop reached `phase`, when `jobs-bench --phases` asks
/// ([`PHASES_ENV`](super::phases::PHASES_ENV)): `phase NAME UNIX_MICROS`.
fn note(phase: &str) {
    if std::env::var_os(super::phases::PHASES_ENV).is_some() {
        eprintln!("phase {phase} {}", super::phases::unix_micros(std::time::SystemTime::now()));
    }
}

/// Reads every exploration without decoding it.
fn raw_scan(db: &Database) -> Result<u64> {
    let txn = db.begin_read()?;
    let table = txn.open_table(EXPLORATIONS)?;
    let mut bytes = 0u64;
    for row in table.iter()? {
        let (_, value) = row?;
        bytes += value.value().len() as u64;
    }
    Ok(bytes)
}

/// Stored bytes of consecutive entities: `bytes[ends[i - 1]..ends[i]]` is the i-th.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

/// Interaction id to the inside of its JSON array of `"<exp_id> <state_name>"` strings.
type Groups = FxHashMap<String, String>;

/// One reading thread, `threads` decoding threads each running `audit` over whole batches;
/// returns the report lines in interaction order.
fn pipelined(db: &Database, threads: usize, audit: fn(&[u8], &mut Groups) -> Result<()>) -> Result<Vec<String>> {
    let (batch_tx, batch_rx) = crossbeam_channel::bounded::<(usize, Batch)>(threads * 4);
    let decoded: Mutex<Vec<(usize, Groups)>> = Mutex::new(Vec::new());
    let read = std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (batch_rx, decoded) = (batch_rx.clone(), &decoded);
                scope.spawn(move || -> Result<()> {
                    for (number, batch) in batch_rx {
                        let mut groups = Groups::default();
                        let mut start = 0;
                        for &end in &batch.ends {
                            audit(&batch.bytes[start..end], &mut groups)?;
                            start = end;
                        }
                        decoded.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((number, groups));
                    }
                    Ok(())
                })
            })
            .collect();
        drop(batch_rx);
        let read = (|| -> Result<()> {
            let txn = db.begin_read()?;
            let table = txn.open_table(EXPLORATIONS)?;
            let mut batch = Batch::default();
            let mut number = 0;
            for row in table.iter()? {
                let (_, value) = row?;
                batch.bytes.extend_from_slice(value.value());
                batch.ends.push(batch.bytes.len());
                if batch.ends.len() == BATCH {
                    // A send fails only if every worker has stopped, on an error it returns.
                    if batch_tx.send((number, std::mem::take(&mut batch))).is_err() {
                        return Ok(());
                    }
                    number += 1;
                }
            }
            if !batch.ends.is_empty() {
                let _ = batch_tx.send((number, batch));
            }
            Ok(())
        })();
        drop(batch_tx);
        for worker in workers {
            worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        }
        read
    });
    read?;
    let mut batches = decoded.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    batches.sort_unstable_by_key(|(number, _)| *number);
    finish_groups(batches.into_iter().map(|(_, groups)| groups).collect())
}

/// The report lines of `parts`' groups, each part's states after the previous part's, in
/// interaction order.
fn finish_groups(parts: Vec<Groups>) -> Result<Vec<String>> {
    let mut all = Groups::default();
    for groups in parts {
        for (interaction, states) in groups {
            let into = all.entry(interaction).or_default();
            if !into.is_empty() {
                into.push(',');
            }
            into.push_str(&states);
        }
    }
    let mut all: Vec<(String, String)> = all.into_iter().collect();
    all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(all
        .into_iter()
        .map(|(interaction, states)| {
            let key = serde_json::to_string(&interaction).unwrap_or_default();
            format!("[{key},[{states}]]")
        })
        .collect())
}

/// `threads` threads, each scanning its own part of the id range in its own read transaction
/// and decoding the bytes where redb returns them, with no reader thread and no copy. The
/// parts are cut at every `threads`-th id of the store's id index (`ids/<Kind>`).
fn scanners(db: &Database, threads: usize, audit: fn(&[u8], &mut Groups) -> Result<()>) -> Result<Vec<String>> {
    note("opened");
    let txn = db.begin_read()?;
    let ids = txn.open_table(EXPLORATION_IDS)?;
    let count = ids.len()?;
    let per = count.div_ceil(threads.max(1) as u64).max(1);
    let mut bounds: Vec<String> = Vec::new();
    for (at, row) in ids.iter()?.enumerate() {
        if at > 0 && (at as u64).is_multiple_of(per) {
            bounds.push(row?.0.value().to_owned());
        }
    }
    drop(txn);
    note("split");
    in_parts(&bounds, |start, end| {
        let txn = db.begin_read()?;
        let table = txn.open_table(EXPLORATIONS)?;
        let mut groups = Groups::default();
        let rows = match (start, end) {
            (Some(s), Some(e)) => table.range(s..e)?,
            (Some(s), None) => table.range(s..)?,
            (None, Some(e)) => table.range(..e)?,
            (None, None) => table.range::<&str>(..)?,
        };
        for row in rows {
            let (_, value) = row?;
            audit(value.value(), &mut groups)?;
        }
        Ok(groups)
    })
}

/// Runs `scan` on a thread of its own for each part of the ids that `bounds` cut (from the
/// first id to the first bound, between bounds, from the last bound on), then joins the parts'
/// groups in order into the report lines.
fn in_parts(
    bounds: &[String],
    scan: impl Fn(Option<&str>, Option<&str>) -> Result<Groups> + Sync,
) -> Result<Vec<String>> {
    let parts: Vec<(Option<&str>, Option<&str>)> = (0..=bounds.len())
        .map(|i| (i.checked_sub(1).map(|j| bounds[j].as_str()), bounds.get(i).map(String::as_str)))
        .collect();
    let scan = &scan;
    let results: Vec<Result<Groups>> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts.iter().map(|&(start, end)| scope.spawn(move || scan(start, end))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    });
    note("scanned");
    finish_groups(results.into_iter().collect::<Result<Vec<_>>>()?)
}

/// Appends `"<id> <state>"`, JSON-escaped, to an interaction's array.
fn push_state(groups: &mut Groups, interaction: &str, id: &str, state: &str) {
    let states = match groups.get_mut(interaction) {
        Some(states) => {
            states.push(',');
            states
        }
        None => groups.entry(interaction.to_owned()).or_default(),
    };
    states.push('"');
    push_escaped(states, id);
    states.push(' ');
    push_escaped(states, state);
    states.push('"');
}

/// JSON-escapes `text` into `into` as serde_json does (its compact formatter).
fn push_escaped(into: &mut String, text: &str) {
    if !text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        into.push_str(text);
        return;
    }
    let quoted = serde_json::to_string(text).unwrap_or_default();
    into.push_str(&quoted[1..quoted.len() - 1]);
}

/// The whole owned model, as the job's `map` receives it.
fn owned_audit(bytes: &[u8], groups: &mut Groups) -> Result<()> {
    let exploration: ExplorationModel = jobs_core::model::decode(bytes)?;
    if exploration.deleted {
        return Ok(());
    }
    for (state_name, state) in &exploration.states {
        push_state(groups, &state.interaction.id, &exploration.id, state_name);
    }
    Ok(())
}

/// What the audit reads of an exploration, borrowed from its stored bytes.
#[derive(Deserialize)]
struct ExplorationView<'a> {
    #[serde(borrow)]
    id: &'a str,
    #[serde(default)]
    deleted: bool,
    #[serde(default, borrow)]
    states: StatesView<'a>,
}

/// (state name, interaction id) of each state, in stored (name) order.
#[derive(Default)]
struct StatesView<'a>(Vec<(&'a str, &'a str)>);

#[derive(Deserialize)]
struct StateView<'a> {
    #[serde(borrow)]
    interaction: InteractionView<'a>,
}

#[derive(Deserialize)]
struct InteractionView<'a> {
    #[serde(borrow)]
    id: &'a str,
}

impl<'de: 'a, 'a> Deserialize<'de> for StatesView<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct States;
        impl<'de> Visitor<'de> for States {
            type Value = StatesView<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of states")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut states = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(name) = map.next_key::<&'de str>()? {
                    let state: StateView<'de> = map.next_value()?;
                    states.push((name, state.interaction.id));
                }
                Ok(StatesView(states))
            }
        }
        deserializer.deserialize_map(States)
    }
}

/// Decodes only what the audit reads.
fn projected_audit(bytes: &[u8], groups: &mut Groups) -> Result<()> {
    // jobs-core's decoder, the fastest we have for this format: it skips unread fields
    // without validating them (rmp_serde's own deserializer is about 10% slower here).
    let exploration: ExplorationView<'_> = jobs_core::model::decode_borrowed(bytes)?;
    if exploration.deleted {
        return Ok(());
    }
    for (state_name, interaction) in exploration.states.0 {
        push_state(groups, interaction, exploration.id, state_name);
    }
    Ok(())
}
