//! A partition's report text on its way from reduce to the run's sink, never held whole.
//!
//! Reduce writes each key's lines as a **record** of a partition's [`TextSpool`], in key
//! order; `Output` hands its text over in pieces of at most [`PIECE_BYTES`] as it grows, so a
//! key whose one line is hundreds of megabytes (the interaction audit's `TextInput` line over
//! millions of explorations) is never in memory whole either. Every number is little-endian:
//!
//! ```text
//! record := u32 key_len, key, piece*, u32 0
//! piece  := u32 len (> 0), text
//! ```
//!
//! where the key is MessagePack with field names (as in spill files) and the pieces, joined,
//! are the key's lines, each ending in `\n`; a piece may end inside a line, never inside a
//! character. The records of all partitions are held in memory while they add up to a limit
//! (a quarter of the run's memory budget); past it, the partition that crossed it moves its
//! records to a file in the run's spill directory and writes the rest there. The final merge
//! ([`merge`]) reads each partition's records in order and hands the pieces of the smallest
//! key on, so the report comes out in key order, as the keys are disjoint across partitions.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::OutputSink;
use super::output_sink::{Lines, Pieces};
use super::spill::{SpillDir, SpillError};
use crate::job::{TEXT_PIECE_BYTES, TextSpill};

/// The most text one piece holds: longer text is cut into pieces (at character boundaries).
pub(crate) const PIECE_BYTES: usize = TEXT_PIECE_BYTES;
/// The buffer each partition's file is written and read through.
const FILE_BUFFER: usize = 64 << 10;

/// What all partitions' records may take in memory together, and how much they take.
#[derive(Debug)]
pub(crate) struct HeldText {
    held: AtomicUsize,
    limit: usize,
}

impl HeldText {
    /// Records may take `limit` bytes in memory, all partitions together.
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(HeldText { held: AtomicUsize::new(0), limit })
    }

    /// The limit of a run with a budget of `max_memory` bytes: a quarter of it, beside the
    /// half holding the shuffle and the buffers reading spilled runs back, when the text goes
    /// to a sink; none without one, as the lines end up in the report anyway, and spooling
    /// them to disk would only cost time.
    pub(crate) fn for_run(max_memory: u64, to_sink: bool) -> Arc<Self> {
        let limit = if to_sink { usize::try_from(max_memory / 4).unwrap_or(usize::MAX) } else { usize::MAX };
        HeldText::new(limit)
    }
}

/// One partition's records, in memory until the partitions' records outgrow their limit,
/// then in a file of the partition's own.
pub(crate) struct TextSpool {
    held: Arc<HeldText>,
    /// Where its file goes; without one it holds its records in memory whatever their size.
    dir: Option<Arc<SpillDir>>,
    memory: Vec<u8>,
    file: Option<(PathBuf, BufWriter<File>)>,
    /// Bytes in the file (`memory` then follows them, when there is no file).
    in_file: u64,
    /// Where the current key's record starts, and whether it has text.
    record: Option<(u64, bool)>,
    scratch: Vec<u8>,
}

impl TextSpool {
    /// An empty spool counting its memory in `held`, its file (if it needs one) in `dir`.
    pub(crate) fn new(held: Arc<HeldText>, dir: Arc<SpillDir>) -> Self {
        TextSpool::with(held, Some(dir))
    }

    /// An empty spool that holds its records in memory: for text that is in memory already.
    #[cfg_attr(not(feature = "timely"), allow(dead_code, reason = "the cluster (feature `timely`) uses it"))]
    pub(crate) fn in_memory() -> Self {
        TextSpool::with(HeldText::new(usize::MAX), None)
    }

    fn with(held: Arc<HeldText>, dir: Option<Arc<SpillDir>>) -> Self {
        TextSpool { held, dir, memory: Vec::new(), file: None, in_file: 0, record: None, scratch: Vec::new() }
    }

    /// Starts the record of `key`. A record given no text is dropped when it ends.
    ///
    /// # Errors
    /// The key does not encode, or the file could not be written.
    pub(crate) fn begin<K: Serialize>(&mut self, key: &K) -> Result<(), SpillError> {
        let start = self.position();
        self.scratch.clear();
        rmp_serde::encode::write_named(&mut self.scratch, key)
            .map_err(|e| SpillError::Codec { path: self.path(), message: format!("cannot encode a key: {e}") })?;
        let len = frame_len(self.scratch.len(), &self.path())?;
        let key = std::mem::take(&mut self.scratch);
        let written = self.write(&len.to_le_bytes()).and_then(|()| self.write(&key));
        self.scratch = key;
        written?;
        self.record = Some((start, false));
        Ok(())
    }

    /// Appends `text` (whole characters) to the current record.
    ///
    /// # Errors
    /// The file could not be written.
    pub(crate) fn text(&mut self, mut text: &str) -> Result<(), SpillError> {
        while !text.is_empty() {
            let mut cut = text.len().min(PIECE_BYTES);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let (piece, rest) = text.split_at(cut);
            self.write(&(piece.len() as u32).to_le_bytes())?;
            self.write(piece.as_bytes())?;
            text = rest;
            if let Some((_, has_text)) = &mut self.record {
                *has_text = true;
            }
        }
        Ok(())
    }

    /// Ends the current record; drops it if it got no text.
    ///
    /// # Errors
    /// The file could not be written.
    pub(crate) fn end(&mut self) -> Result<(), SpillError> {
        match self.record.take() {
            Some((_, true)) => self.write(&0u32.to_le_bytes()),
            Some((start, false)) => self.rewind(start),
            None => Ok(()),
        }
    }

    /// Drops the current record and whatever text it got (its key's reduce failed).
    ///
    /// # Errors
    /// The file could not be cut back.
    pub(crate) fn abandon(&mut self) -> Result<(), SpillError> {
        match self.record.take() {
            Some((start, _)) => self.rewind(start),
            None => Ok(()),
        }
    }

    /// The partition's records, to be merged.
    ///
    /// # Errors
    /// The file could not be flushed.
    pub(crate) fn finish(mut self) -> Result<PartitionText, SpillError> {
        // Text left in memory stays counted: it is held until the merge, and the partitions
        // still reducing must leave room for it.
        let memory = std::mem::take(&mut self.memory);
        match self.file.take() {
            None => Ok(PartitionText::Memory(memory)),
            Some((path, out)) => {
                let mut file =
                    out.into_inner().map_err(|e| SpillError::Io { path: path.clone(), source: e.into_error() })?;
                file.seek(SeekFrom::Start(0)).map_err(|source| SpillError::Io { path: path.clone(), source })?;
                Ok(PartitionText::File { path, file })
            }
        }
    }

    fn position(&self) -> u64 {
        self.in_file + self.memory.len() as u64
    }

    fn path(&self) -> PathBuf {
        self.file.as_ref().map(|(path, _)| path.clone()).unwrap_or_default()
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), SpillError> {
        if let Some((path, out)) = &mut self.file {
            out.write_all(bytes).map_err(|source| SpillError::Io { path: path.clone(), source })?;
            self.in_file += bytes.len() as u64;
            return Ok(());
        }
        self.memory.extend_from_slice(bytes);
        let total = self.held.held.fetch_add(bytes.len(), Ordering::Relaxed) + bytes.len();
        if total > self.held.limit {
            self.move_to_file()?;
        }
        Ok(())
    }

    /// Writes the records held to a new file, where the rest go too.
    fn move_to_file(&mut self) -> Result<(), SpillError> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let (path, file) = dir.create_file()?;
        tracing::debug!(file = %path.display(), "report lines spool to disk");
        let mut out = BufWriter::with_capacity(FILE_BUFFER, file);
        out.write_all(&self.memory).map_err(|source| SpillError::Io { path: path.clone(), source })?;
        self.held.held.fetch_sub(self.memory.len(), Ordering::Relaxed);
        self.in_file = self.memory.len() as u64;
        self.memory = Vec::new();
        self.file = Some((path, out));
        Ok(())
    }

    /// Cuts the records back to `position` bytes.
    fn rewind(&mut self, position: u64) -> Result<(), SpillError> {
        match &mut self.file {
            None => {
                let cut = self.memory.len() - position as usize;
                self.memory.truncate(position as usize);
                self.held.held.fetch_sub(cut, Ordering::Relaxed);
            }
            Some((path, out)) => {
                let cut = out
                    .flush()
                    .and_then(|()| out.get_ref().set_len(position))
                    .and_then(|()| out.get_mut().seek(SeekFrom::Start(position)).map(drop));
                cut.map_err(|source| SpillError::Io { path: path.clone(), source })?;
                self.in_file = position;
            }
        }
        Ok(())
    }
}

/// A partition's [`TextSpool`], shared by its key reducer, which starts, ends and drops each
/// key's record, and the reducer's `Output`, which hands it the text as it grows.
#[derive(Clone)]
pub(crate) struct SharedSpool(Arc<Mutex<SpoolState>>);

struct SpoolState {
    /// `None` once finished.
    spool: Option<TextSpool>,
    /// The error of a piece the `Output` handed on, reported by the next call here.
    failed: Option<SpillError>,
}

impl TextSpill for SharedSpool {
    fn piece(&mut self, text: &str) {
        let mut state = crate::sync::lock(&self.0);
        let SpoolState { spool, failed } = &mut *state;
        if failed.is_none()
            && let Some(spool) = spool
            && let Err(error) = spool.text(text)
        {
            *failed = Some(error);
        }
    }
}

impl SharedSpool {
    pub(crate) fn new(spool: TextSpool) -> Self {
        SharedSpool(Arc::new(Mutex::new(SpoolState { spool: Some(spool), failed: None })))
    }

    /// Runs `act` on the spool, unless a piece handed on since failed: that error, then.
    fn with<T: Default>(&self, act: impl FnOnce(&mut TextSpool) -> Result<T, SpillError>) -> Result<T, SpillError> {
        let mut state = crate::sync::lock(&self.0);
        if let Some(error) = state.failed.take() {
            return Err(error);
        }
        state.spool.as_mut().map_or_else(|| Ok(T::default()), act)
    }

    /// [`TextSpool::begin`].
    pub(crate) fn begin<K: Serialize>(&self, key: &K) -> Result<(), SpillError> {
        self.with(|spool| spool.begin(key))
    }

    /// [`TextSpool::end`].
    pub(crate) fn end(&self) -> Result<(), SpillError> {
        self.with(TextSpool::end)
    }

    /// [`TextSpool::abandon`].
    pub(crate) fn abandon(&self) -> Result<(), SpillError> {
        self.with(TextSpool::abandon)
    }

    /// [`TextSpool::finish`]: the partition's records (none if finished before).
    pub(crate) fn finish(&self) -> Result<PartitionText, SpillError> {
        let mut state = crate::sync::lock(&self.0);
        if let Some(error) = state.failed.take() {
            return Err(error);
        }
        state.spool.take().map_or(Ok(PartitionText::Memory(Vec::new())), TextSpool::finish)
    }
}

fn frame_len(len: usize, path: &std::path::Path) -> Result<u32, SpillError> {
    u32::try_from(len).map_err(|_| SpillError::Codec {
        path: path.to_owned(),
        message: format!("a key of {len} bytes is too large to spool (the limit is 4 GiB)"),
    })
}

/// The records of lines that arrived whole, by key (in key order), held in memory: for the
/// lines another process reduced.
///
/// # Errors
/// A key does not encode.
#[cfg_attr(not(feature = "timely"), allow(dead_code, reason = "the cluster (feature `timely`) uses it"))]
pub(crate) fn lines_in_memory<K: Serialize>(keyed: &[(K, Vec<String>)]) -> Result<PartitionText, SpillError> {
    let mut spool = TextSpool::in_memory();
    for (key, lines) in keyed {
        spool.begin(key)?;
        for line in lines {
            spool.text(line)?;
            spool.text("\n")?;
        }
        spool.end()?;
    }
    spool.finish()
}

/// A partition's records, once reduced.
pub(crate) enum PartitionText {
    /// Held in memory.
    Memory(Vec<u8>),
    /// In a spill file, read from its start.
    File {
        /// The file's path, for errors.
        path: PathBuf,
        /// The file, at its start.
        file: File,
    },
}

/// Reads a partition's records back, a key and its pieces at a time: in place when they are
/// in memory, through a buffer when they are in a file.
struct RecordReader {
    path: PathBuf,
    source: RecordSource,
}

enum RecordSource {
    Memory { bytes: Vec<u8>, at: usize },
    File { file: BufReader<File>, frame: Vec<u8> },
}

impl RecordReader {
    fn new(text: PartitionText) -> Self {
        match text {
            PartitionText::Memory(bytes) => {
                RecordReader { path: PathBuf::new(), source: RecordSource::Memory { bytes, at: 0 } }
            }
            PartitionText::File { path, file } => RecordReader {
                path,
                source: RecordSource::File { file: BufReader::with_capacity(FILE_BUFFER, file), frame: Vec::new() },
            },
        }
    }

    /// The next record's key; `None` after the last record.
    fn next_key<K: DeserializeOwned>(&mut self) -> Result<Option<K>, SpillError> {
        let Some(len) = self.frame_len(true)? else { return Ok(None) };
        let path = &self.path;
        let key = Self::frame(&mut self.source, path, len)?;
        rmp_serde::from_slice(key)
            .map(Some)
            .map_err(|e| SpillError::Codec { path: path.clone(), message: format!("cannot decode a key: {e}") })
    }

    /// The current record's next piece of text; `None` at its end.
    fn next_piece(&mut self) -> Result<Option<&str>, SpillError> {
        let len = self.frame_len(false)?.unwrap_or(0);
        if len == 0 {
            return Ok(None);
        }
        let path = &self.path;
        let piece = Self::frame(&mut self.source, path, len)?;
        simdutf8::compat::from_utf8(piece)
            .map(Some)
            .map_err(|e| SpillError::Codec { path: path.clone(), message: format!("report text not UTF-8: {e}") })
    }

    /// The next frame's length; `None` at the end of the records if `may_end`.
    fn frame_len(&mut self, may_end: bool) -> Result<Option<usize>, SpillError> {
        let mut len = [0; 4];
        let read = match &mut self.source {
            RecordSource::Memory { bytes, at } if may_end && *at == bytes.len() => return Ok(None),
            RecordSource::Memory { bytes, at } => {
                Self::memory_frame(bytes, at, 4).map(|frame| len.copy_from_slice(frame))
            }
            RecordSource::File { file, .. } => match file.read_exact(&mut len) {
                Err(error) if may_end && error.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
                read => read,
            },
        };
        read.map_err(|source| SpillError::Io { path: self.path.clone(), source })?;
        Ok(Some(u32::from_le_bytes(len) as usize))
    }

    /// The next `len` bytes.
    fn frame<'a>(source: &'a mut RecordSource, path: &std::path::Path, len: usize) -> Result<&'a [u8], SpillError> {
        let read = match source {
            RecordSource::Memory { bytes, at } => Self::memory_frame(bytes, at, len),
            RecordSource::File { file, frame } => {
                frame.resize(len, 0);
                file.read_exact(frame).map(|()| &frame[..])
            }
        };
        read.map_err(|source| SpillError::Io { path: path.to_owned(), source })
    }

    fn memory_frame<'a>(bytes: &'a [u8], at: &mut usize, len: usize) -> io::Result<&'a [u8]> {
        let frame = bytes.get(*at..at.saturating_add(len)).ok_or(io::ErrorKind::UnexpectedEof)?;
        *at += len;
        Ok(frame)
    }
}

/// Why the merge stopped.
#[derive(Debug)]
pub(crate) enum MergeError<E> {
    /// A partition's records could not be read.
    Spill(SpillError),
    /// `write` refused a piece.
    Write(E),
}

/// Hands every partition's text to `write`, key by key in key order (the keys are disjoint
/// across partitions), a piece at a time.
///
/// # Errors
/// A record could not be read back, or `write` refused a piece.
pub(crate) fn merge<K, E>(
    partitions: Vec<PartitionText>,
    write: &mut dyn FnMut(&str) -> Result<(), E>,
) -> Result<(), MergeError<E>>
where
    K: Ord + DeserializeOwned,
{
    let mut readers: Vec<RecordReader> = partitions.into_iter().map(RecordReader::new).collect();
    let mut heads = BinaryHeap::with_capacity(readers.len());
    for (at, reader) in readers.iter_mut().enumerate() {
        if let Some(key) = reader.next_key::<K>().map_err(MergeError::Spill)? {
            heads.push(Reverse((key, at)));
        }
    }
    while let Some(Reverse((_, at))) = heads.pop() {
        let reader = &mut readers[at];
        while let Some(piece) = reader.next_piece().map_err(MergeError::Spill)? {
            write(piece).map_err(MergeError::Write)?;
        }
        if let Some(key) = reader.next_key::<K>().map_err(MergeError::Spill)? {
            heads.push(Reverse((key, at)));
        }
    }
    Ok(())
}

/// Merges the partitions' text ([`merge`]) into `sink` a piece of about [`PIECE_BYTES`] at a
/// time, or without one into the report's lines.
///
/// # Errors
/// A record could not be read back, or the sink refused a piece.
pub(crate) fn merge_into<K>(
    partitions: Vec<PartitionText>,
    sink: Option<&OutputSink>,
) -> Result<Vec<String>, MergeError<io::Error>>
where
    K: Ord + DeserializeOwned,
{
    match sink {
        Some(sink) => sink.with(|sink| {
            let mut pieces = Pieces::new(PIECE_BYTES);
            merge::<K, _>(partitions, &mut |piece| pieces.push(piece, sink))?;
            pieces.flush(sink).map_err(MergeError::Write)?;
            Ok(Vec::new())
        }),
        None => {
            let mut lines = Lines::default();
            merge::<K, io::Error>(partitions, &mut |piece| {
                lines.push(piece);
                Ok(())
            })?;
            Ok(lines.finish())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spool(limit: usize, dir: &Arc<SpillDir>) -> TextSpool {
        TextSpool::new(HeldText::new(limit), Arc::clone(dir))
    }

    fn merged(partitions: Vec<PartitionText>) -> String {
        let mut text = String::new();
        merge::<u32, ()>(partitions, &mut |piece| {
            text.push_str(piece);
            Ok(())
        })
        .unwrap();
        text
    }

    fn write(spool: &mut TextSpool, key: u32, text: &str) {
        spool.begin(&key).unwrap();
        spool.text(text).unwrap();
        spool.end().unwrap();
    }

    #[test]
    fn partitions_merge_in_key_order_in_memory_and_on_disk() {
        let temp = tempfile::tempdir().unwrap();
        let dir = Arc::new(SpillDir::new(temp.path().to_owned()));
        for limit in [usize::MAX, 0, 40] {
            let (mut a, mut b) = (spool(limit, &dir), spool(limit, &dir));
            write(&mut a, 1, "one\n");
            write(&mut b, 2, "two\n2\n");
            write(&mut a, 3, &format!("{}\n", "é".repeat(PIECE_BYTES)));
            write(&mut b, 4, "four\n");
            let text = merged(vec![a.finish().unwrap(), b.finish().unwrap()]);
            assert_eq!(text, format!("one\ntwo\n2\n{}\nfour\n", "é".repeat(PIECE_BYTES)), "limit {limit}");
        }
        dir.close();
    }

    #[test]
    fn lines_that_arrived_whole_merge_with_spooled_text_as_if_spooled() {
        let temp = tempfile::tempdir().unwrap();
        let dir = Arc::new(SpillDir::new(temp.path().to_owned()));
        let mut spooled = spool(0, &dir);
        write(&mut spooled, 2, "two\n");
        write(&mut spooled, 5, "five\n");
        // An empty line, a key without lines, and keys on both sides of the spooled ones.
        let keyed = vec![(1u32, vec!["one".to_owned(), String::new()]), (3, Vec::new()), (4, vec!["four".to_owned()])];
        let whole = lines_in_memory(&keyed).unwrap();
        let text = merged(vec![whole, spooled.finish().unwrap()]);
        assert_eq!(text, "one\n\ntwo\nfour\nfive\n");
        dir.close();
    }

    #[test]
    fn a_record_without_text_or_abandoned_leaves_nothing_also_on_disk() {
        let temp = tempfile::tempdir().unwrap();
        let dir = Arc::new(SpillDir::new(temp.path().to_owned()));
        for limit in [usize::MAX, 0] {
            let mut a = spool(limit, &dir);
            write(&mut a, 1, "kept\n");
            a.begin(&2u32).unwrap();
            a.end().unwrap();
            a.begin(&3u32).unwrap();
            a.text(&"x".repeat(3 * PIECE_BYTES)).unwrap();
            a.abandon().unwrap();
            write(&mut a, 4, "also kept\n");
            assert_eq!(merged(vec![a.finish().unwrap()]), "kept\nalso kept\n", "limit {limit}");
        }
        dir.close();
    }

    #[test]
    fn memory_is_counted_until_merged_and_past_the_limit_text_goes_to_a_file() {
        let temp = tempfile::tempdir().unwrap();
        let dir = Arc::new(SpillDir::new(temp.path().to_owned()));
        let held = HeldText::new(1 << 20);
        let mut a = TextSpool::new(Arc::clone(&held), Arc::clone(&dir));
        a.begin(&1u32).unwrap();
        a.text("abc\n").unwrap();
        a.end().unwrap();
        let counted = held.held.load(Ordering::Relaxed);
        assert!(counted > 0);
        let text = a.finish().unwrap();
        assert_eq!(held.held.load(Ordering::Relaxed), counted, "held until merged, so still counted");
        assert_eq!(merged(vec![text]), "abc\n");
        // Past the limit, everything moves to a file and nothing stays counted.
        let held = HeldText::new(8);
        let mut b = TextSpool::new(Arc::clone(&held), Arc::clone(&dir));
        write(&mut b, 1, "more than eight bytes\n");
        assert_eq!(held.held.load(Ordering::Relaxed), 0);
        assert!(matches!(b.finish().unwrap(), PartitionText::File { .. }));
        // A finished partition's text still counts: the next partition spools once the two
        // together pass the limit.
        let held = HeldText::new(40);
        let mut first = TextSpool::new(Arc::clone(&held), Arc::clone(&dir));
        write(&mut first, 1, "twenty bytes of it.\n");
        let first = first.finish().unwrap();
        assert!(matches!(first, PartitionText::Memory(_)));
        let mut second = TextSpool::new(Arc::clone(&held), Arc::clone(&dir));
        write(&mut second, 2, "twenty more of them.\n");
        let second = second.finish().unwrap();
        assert!(matches!(second, PartitionText::File { .. }));
        assert_eq!(merged(vec![first, second]), "twenty bytes of it.\ntwenty more of them.\n");
        dir.close();
    }
}
