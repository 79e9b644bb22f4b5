//! The hand-written baselines the framework is measured against: the same redb table, the same
//! decode ([`jobs_core::model::decode`]) and the same report lines as
//! `InteractionAuditOneOffJob`, with none of the framework's generality.
//!
//! * [`sequential`]: one thread, one read transaction, one pass in id order.
//! * [`parallel`]: the ids are cut into contiguous chunks (a keys-only pass picks the
//!   boundaries), threads pull chunks off a shared counter, and the per-chunk groups are
//!   concatenated in chunk order, so each interaction's states stay in id order.
//! * [`pipelined`]: one reader walks the table once, copying batches of stored bytes to
//!   decoding threads, whose per-batch groups are concatenated in batch order: no second pass
//!   over the table to find chunk boundaries. The engine reads the same way.

use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};
use jobs_examples::models::ExplorationModel;
use redb::{ConcurrencyMode, Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use rustc_hash::FxHashMap;

/// The table `RedbStore` keeps explorations in.
const EXPLORATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("model/ExplorationModel");

/// Chunks per thread in [`parallel`]: enough that a slow chunk does not leave a core idle.
const CHUNKS_PER_THREAD: usize = 8;

/// Interaction id to "<exp_id> <state_name>" values, in id order.
type Groups = FxHashMap<String, Vec<String>>;
/// Groups of numbered chunks or batches, to be concatenated in number order.
type Numbered = Vec<(usize, Groups)>;

/// Opens the store file the way `RedbStore` does (its lock protocol must match).
pub fn open(path: &Path) -> Result<Database> {
    Database::builder()
        .set_concurrency_mode(ConcurrencyMode::MultiWriter)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// Reads every exploration without decoding it: the floor under any decoding job.
pub fn raw_scan(db: &Database) -> Result<u64> {
    let txn = db.begin_read()?;
    let table = txn.open_table(EXPLORATIONS)?;
    let mut bytes = 0u64;
    for row in table.iter()? {
        let (_, value) = row?;
        bytes += value.value().len() as u64;
    }
    Ok(bytes)
}

/// The audit on one thread.
pub fn sequential(db: &Database) -> Result<Vec<String>> {
    let txn = db.begin_read()?;
    let table = txn.open_table(EXPLORATIONS)?;
    let mut groups = Groups::default();
    for row in table.iter()? {
        let (_, value) = row?;
        audit(value.value(), &mut groups)?;
    }
    render(groups)
}

/// The audit on `threads` threads.
pub fn parallel(db: &Database, threads: usize) -> Result<Vec<String>> {
    let bounds = chunk_bounds(db, threads * CHUNKS_PER_THREAD)?;
    let next = AtomicUsize::new(0);
    let per_thread: Vec<Result<Vec<(usize, Groups)>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (bounds, next) = (&bounds, &next);
                scope.spawn(move || -> Result<Vec<(usize, Groups)>> {
                    let txn = db.begin_read()?;
                    let table = txn.open_table(EXPLORATIONS)?;
                    let mut done = Vec::new();
                    loop {
                        let chunk = next.fetch_add(1, Ordering::Relaxed);
                        let Some(range) = bounds.get(chunk) else { break };
                        let mut groups = Groups::default();
                        for row in table.range::<&str>(range.as_bounds())? {
                            let (_, value) = row?;
                            audit(value.value(), &mut groups)?;
                        }
                        done.push((chunk, groups));
                    }
                    Ok(done)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    });
    let mut chunks = Vec::with_capacity(bounds.len());
    for result in per_thread {
        chunks.extend(result?);
    }
    chunks.sort_unstable_by_key(|(chunk, _)| *chunk);
    render(concatenate(chunks))
}

/// Entities per batch in [`pipelined`].
const BATCH: usize = 256;

/// Stored bytes of consecutive entities: `bytes[ends[i - 1]..ends[i]]` is the i-th.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

/// The audit with one reading thread and `threads` decoding threads.
pub fn pipelined(db: &Database, threads: usize) -> Result<Vec<String>> {
    let (batch_tx, batch_rx) = std::sync::mpsc::sync_channel::<(usize, Batch)>(threads * 4);
    let batch_rx = std::sync::Mutex::new(batch_rx);
    let (read, decoded): (Result<()>, Vec<Result<Numbered>>) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let batch_rx = &batch_rx;
                scope.spawn(move || -> Result<Numbered> {
                    let mut done = Vec::new();
                    loop {
                        let next = batch_rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv();
                        let Ok((number, batch)) = next else { break };
                        let mut groups = Groups::default();
                        let mut start = 0;
                        for &end in &batch.ends {
                            audit(&batch.bytes[start..end], &mut groups)?;
                            start = end;
                        }
                        done.push((number, groups));
                    }
                    Ok(done)
                })
            })
            .collect();
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
        (read, workers.into_iter().map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect())
    });
    read?;
    let mut batches = Vec::new();
    for result in decoded {
        batches.extend(result?);
    }
    batches.sort_unstable_by_key(|(number, _)| *number);
    render(concatenate(batches))
}

/// Concatenates per-chunk groups, given in chunk order, into one.
fn concatenate(chunks: Vec<(usize, Groups)>) -> Groups {
    let mut groups = Groups::default();
    for (_, chunk_groups) in chunks {
        for (interaction, mut states) in chunk_groups {
            match groups.get_mut(&interaction) {
                Some(all) => all.append(&mut states),
                None => {
                    groups.insert(interaction, states);
                }
            }
        }
    }
    groups
}

/// One contiguous id range: from `start` (inclusive, `None` = first id) to `end` (exclusive).
struct Chunk {
    start: Option<String>,
    end: Option<String>,
}

impl Chunk {
    fn as_bounds(&self) -> (Bound<&str>, Bound<&str>) {
        (
            self.start.as_deref().map_or(Bound::Unbounded, Bound::Included),
            self.end.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
        )
    }
}

/// Cuts the ids into `chunks` ranges of equal count with one keys-only pass.
fn chunk_bounds(db: &Database, chunks: usize) -> Result<Vec<Chunk>> {
    let txn = db.begin_read()?;
    let table = txn.open_table(EXPLORATIONS)?;
    let len = table.len()?;
    let per_chunk = len.div_ceil(chunks.max(1) as u64).max(1);
    let mut starts: Vec<String> = Vec::with_capacity(chunks);
    for (position, row) in table.iter()?.enumerate() {
        if position > 0 && (position as u64).is_multiple_of(per_chunk) {
            starts.push(row?.0.value().to_owned());
        }
    }
    let mut bounds = Vec::with_capacity(starts.len() + 1);
    let mut start = None;
    for end in starts {
        bounds.push(Chunk { start: start.replace(end.clone()), end: Some(end) });
    }
    bounds.push(Chunk { start, end: None });
    Ok(bounds)
}

/// Decodes one exploration and files its states under their interactions.
#[inline]
fn audit(bytes: &[u8], groups: &mut Groups) -> Result<()> {
    let exploration: ExplorationModel = jobs_core::model::decode(bytes)?;
    if exploration.deleted {
        return Ok(());
    }
    for (state_name, state) in exploration.states {
        let mut value = String::with_capacity(exploration.id.len() + 1 + state_name.len());
        value.push_str(&exploration.id);
        value.push(' ');
        value.push_str(&state_name);
        match groups.get_mut(&state.interaction.id) {
            Some(values) => values.push(value),
            None => {
                groups.insert(state.interaction.id, vec![value]);
            }
        }
    }
    Ok(())
}

/// The job's report: one JSON line per interaction, in interaction order.
fn render(groups: Groups) -> Result<Vec<String>> {
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    groups.iter().map(|group| Ok(serde_json::to_string(group)?)).collect()
}
