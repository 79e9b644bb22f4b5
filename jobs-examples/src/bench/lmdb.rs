//! The same scans over LMDB (through `heed`), to compare its read path with redb's on the
//! same entities: `jobs-bench --lmdb` copies the store's explorations, untimed and in a child
//! process (LMDB's written pages would otherwise count in the bench's own peak, and so in every
//! child's), into an LMDB environment in its temporary directory, then times `lmdb-raw` (read every entity's bytes)
//! and `lmdb-scanners` (the audit, decoded as the redb `scanners` loop decodes it) as whole
//! processes beside the others. Built with the `lmdb` feature only, as it compiles LMDB's C.

use std::ops::Bound;
use std::path::Path;

use anyhow::{Context, Result};
use heed::types::{Bytes, Str};
use heed::{Database, Env, EnvOpenOptions, WithoutTls};
use redb::{ReadableDatabase, ReadableTable};

use super::{EXPLORATIONS, Groups, in_parts, projected_audit};

/// The LMDB database the explorations are copied into.
const DATABASE: &str = "ExplorationModel";
/// The largest the environment may grow: a memory map's size, reserved, not allocated.
const MAP_SIZE: usize = 64 << 30;
/// Entities per write transaction while copying.
const COPY_BATCH: usize = 10_000;

/// Opens (creating) the environment in `dir`.
fn open(dir: &Path) -> Result<Env<WithoutTls>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut options = EnvOpenOptions::new().read_txn_without_tls();
    options.map_size(MAP_SIZE).max_dbs(1);
    // SAFETY: the environment lives in a directory this bench created for itself; nothing else
    // opens it, and within this process it is opened once, so its memory map is not changed
    // or truncated under a reader.
    unsafe { options.open(dir) }.with_context(|| format!("opening the LMDB environment {}", dir.display()))
}

/// Copies every exploration of the redb store at `store` into a new environment in `dir`.
///
/// # Errors
/// Either store could not be read or written.
pub fn copy(store: &Path, dir: &Path) -> Result<u64> {
    // Opened as every process opens the store, so that it shares the file as they do.
    let source = redb::Database::builder()
        .set_concurrency_mode(redb::ConcurrencyMode::MultiWriter)
        .set_cache_size(super::CACHE_BYTES)
        .open(store)
        .with_context(|| format!("opening {}", store.display()))?;
    let env = open(dir)?;
    let mut wtxn = env.write_txn()?;
    let db: Database<Str, Bytes> = env.create_database(&mut wtxn, Some(DATABASE))?;
    wtxn.commit()?;
    let read = source.begin_read()?;
    let table = read.open_table(EXPLORATIONS)?;
    let mut copied = 0;
    let mut rows = table.iter()?;
    loop {
        let mut wtxn = env.write_txn()?;
        let mut in_batch = 0;
        for row in rows.by_ref().take(COPY_BATCH) {
            let (id, bytes) = row?;
            db.put(&mut wtxn, id.value(), bytes.value())?;
            in_batch += 1;
        }
        wtxn.commit()?;
        copied += in_batch as u64;
        if in_batch < COPY_BATCH {
            return Ok(copied);
        }
    }
}

/// The raw scan: every entity's bytes, undecoded.
pub fn raw(dir: &Path) -> Result<Vec<String>> {
    let env = open(dir)?;
    let rtxn = env.read_txn()?;
    let db = database(&env, &rtxn)?;
    let mut bytes = 0u64;
    for row in db.iter(&rtxn)? {
        let (_, value) = row?;
        bytes += value.len() as u64;
    }
    Ok(vec![format!("{bytes} bytes")])
}

/// The audit with `threads` threads, each scanning its share of the ids in its own read
/// transaction and decoding the entities where LMDB maps them.
pub fn scanners(dir: &Path, threads: usize) -> Result<Vec<String>> {
    let env = open(dir)?;
    let bounds: Vec<String> = {
        let rtxn = env.read_txn()?;
        let db = database(&env, &rtxn)?;
        let per = db.len(&rtxn)?.div_ceil(threads.max(1) as u64).max(1);
        let mut bounds = Vec::new();
        for (at, row) in db.iter(&rtxn)?.enumerate() {
            if at > 0 && (at as u64).is_multiple_of(per) {
                bounds.push(row?.0.to_owned());
            }
        }
        bounds
    };
    in_parts(&bounds, |start, end| {
        let rtxn = env.read_txn()?;
        let db = database(&env, &rtxn)?;
        let range = (start.map_or(Bound::Unbounded, Bound::Included), end.map_or(Bound::Unbounded, Bound::Excluded));
        let mut groups = Groups::default();
        for row in db.range(&rtxn, &range)? {
            let (_, value) = row?;
            projected_audit(value, &mut groups)?;
        }
        Ok(groups)
    })
}

fn database(env: &Env<WithoutTls>, rtxn: &heed::RoTxn<'_, WithoutTls>) -> Result<Database<Str, Bytes>> {
    env.open_database(rtxn, Some(DATABASE))?.context("the LMDB environment has no explorations")
}
