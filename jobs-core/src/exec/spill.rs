//! Sorted runs of shuffle pairs on disk: the run's temporary directory, the file format, and
//! reading a run back.
//!
//! A worker that outgrows its share of the memory budget (`budget.rs`) writes everything it
//! holds to one new file, a **section** per sorted run: in the local engine a map worker, a
//! section per (task, partition) buffer; in the cluster a reduce worker, a section per
//! stretch of consecutive chunks of one task it received. A section is a sequence of key
//! groups, every number little-endian:
//!
//! ```text
//! group   := u32 key_len, key, u64 count, count * (u32 value_len, value)
//! ```
//!
//! where keys and values are MessagePack with field names (self-describing, so any serde
//! type reads back as it was written). The count before the values lets reduce tell a key's
//! number of values (`Values::len`) without reading them, and stream them afterwards.
//!
//! All files of a run (of a cluster attempt, in each process) live in one directory
//! ([`SpillDir`]), created on the first spill under the configured location and removed when
//! the run ends however it ends: it is a [`tempfile::TempDir`] owned by the run, so success,
//! failure, cancel and a panic unwinding through the engine all delete it. Sections are read
//! with positioned reads on one shared handle per file, so a partition's many runs need no
//! file descriptor each.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub(crate) use super::SpillError;
use super::grouped_run::GroupedRun;

/// The write buffer of a spill file.
const WRITE_BUFFER: usize = 256 << 10;

/// The run's directory of spill files, created on first use under `parent`.
pub(crate) struct SpillDir {
    parent: PathBuf,
    dir: Mutex<Option<tempfile::TempDir>>,
    next_file: AtomicU64,
}

impl SpillDir {
    /// A directory to be created under `parent` when the first run spills.
    pub(crate) fn new(parent: PathBuf) -> Self {
        SpillDir { parent, dir: Mutex::new(None), next_file: AtomicU64::new(0) }
    }

    /// Creates a new, empty spill file.
    pub(crate) fn create_file(&self) -> Result<(PathBuf, File), SpillError> {
        let dir_path = {
            let mut dir = crate::sync::lock(&self.dir);
            if dir.is_none() {
                let created = tempfile::Builder::new()
                    .prefix("jobs-shuffle-")
                    .tempdir_in(&self.parent)
                    .map_err(|source| SpillError::CreateDir { dir: self.parent.clone(), source })?;
                tracing::debug!(dir = %created.path().display(), "shuffle spills to disk");
                *dir = Some(created);
            }
            dir.as_ref().map(|d| d.path().to_owned()).unwrap_or_default()
        };
        let path = dir_path.join(format!("run-{}.spill", self.next_file.fetch_add(1, Ordering::Relaxed)));
        let file = File::create_new(&path).map_err(|source| SpillError::Io { path: path.clone(), source })?;
        Ok((path, file))
    }

    /// Removes the directory now, logging (rather than failing on) a directory that will not go.
    /// By reference, so an owner that shared it (the cluster's workers) removes it even if a
    /// handle outlives the run.
    pub(crate) fn close(&self) {
        let dir = crate::sync::lock(&self.dir).take();
        if let Some(dir) = dir {
            let path = dir.path().to_owned();
            if let Err(error) = dir.close() {
                tracing::warn!(dir = %path.display(), %error, "could not remove the shuffle's temporary directory");
            }
        }
    }
}

/// A spill file, open for reading by the runs in it.
#[derive(Debug)]
pub(crate) struct SpillFile {
    path: PathBuf,
    file: File,
}

/// One sorted run in a spill file: a section's place.
#[derive(Debug, Clone)]
pub(crate) struct SpilledRun {
    file: Arc<SpillFile>,
    offset: u64,
    len: u64,
}

/// Writes sorted buffers as the sections of one new spill file.
pub(crate) struct SpillWriter {
    path: PathBuf,
    out: BufWriter<File>,
    written: u64,
    sections: Vec<(u64, u64)>,
    scratch: Vec<u8>,
}

impl SpillWriter {
    /// Starts a new file in `dir`.
    pub(crate) fn create(dir: &SpillDir) -> Result<Self, SpillError> {
        let (path, file) = dir.create_file()?;
        Ok(SpillWriter {
            path,
            out: BufWriter::with_capacity(WRITE_BUFFER, file),
            written: 0,
            sections: Vec::new(),
            scratch: Vec::new(),
        })
    }

    /// Writes `run` as the next section; returns its index in [`finish`](Self::finish)'s list.
    pub(crate) fn write_section<K: Serialize, V: Serialize>(
        &mut self,
        run: &GroupedRun<K, V>,
    ) -> Result<usize, SpillError> {
        let start = self.written;
        for (key, values) in run.groups() {
            self.write_group::<K, V>(key, values.len(), values)?;
        }
        Ok(self.end_section(start))
    }

    /// Where the next section starts: give it to [`end_section`](Self::end_section) after
    /// writing its groups with [`write_group`](Self::write_group).
    pub(crate) fn start_section(&self) -> u64 {
        self.written
    }

    /// Writes one key group: `key`, then its `count` values.
    pub(crate) fn write_group<K: Serialize, V: Serialize>(
        &mut self,
        key: &K,
        count: usize,
        values: impl IntoIterator<Item = impl std::borrow::Borrow<V>>,
    ) -> Result<(), SpillError> {
        self.write_frame(key)?;
        self.write_bytes(&(count as u64).to_le_bytes())?;
        for value in values {
            self.write_frame(value.borrow())?;
        }
        Ok(())
    }

    /// Ends the section begun at `start`; returns its index in [`finish`](Self::finish)'s list.
    pub(crate) fn end_section(&mut self, start: u64) -> usize {
        self.sections.push((start, self.written - start));
        self.sections.len() - 1
    }

    /// Bytes written so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Flushes the file and returns its sections, in the order they were written.
    pub(crate) fn finish(mut self) -> Result<Vec<SpilledRun>, SpillError> {
        self.out.flush().map_err(|source| SpillError::Io { path: self.path.clone(), source })?;
        let file =
            self.out.into_inner().map_err(|e| SpillError::Io { path: self.path.clone(), source: e.into_error() })?;
        let file = Arc::new(SpillFile { path: self.path, file });
        Ok(self.sections.into_iter().map(|(offset, len)| SpilledRun { file: Arc::clone(&file), offset, len }).collect())
    }

    /// Writes one length-prefixed MessagePack frame.
    fn write_frame<T: Serialize>(&mut self, item: &T) -> Result<(), SpillError> {
        self.scratch.clear();
        rmp_serde::encode::write_named(&mut self.scratch, item)
            .map_err(|e| SpillError::Codec { path: self.path.clone(), message: format!("cannot encode: {e}") })?;
        let len = u32::try_from(self.scratch.len()).map_err(|_| SpillError::Codec {
            path: self.path.clone(),
            message: format!(
                "a key or value of {} bytes is too large to spill (the limit is 4 GiB)",
                self.scratch.len()
            ),
        })?;
        let frame = std::mem::take(&mut self.scratch);
        let result = self.write_bytes(&len.to_le_bytes()).and_then(|()| self.write_bytes(&frame));
        self.scratch = frame;
        result
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), SpillError> {
        self.out.write_all(bytes).map_err(|source| SpillError::Io { path: self.path.clone(), source })?;
        self.written += bytes.len() as u64;
        Ok(())
    }
}

/// Reads one spilled run back, a key group at a time, through a buffer of its own.
pub(crate) struct SpillReader<K, V> {
    run: SpilledRun,
    /// Bytes of the section not yet read into `buffer`.
    next_offset: u64,
    buffer: Vec<u8>,
    /// The unread part of `buffer` is `buffer[start..end]`.
    start: usize,
    end: usize,
    /// Values of the current key group not yet read.
    left: u64,
    _pairs: PhantomData<fn() -> (K, V)>,
}

impl<K: DeserializeOwned, V: DeserializeOwned> SpillReader<K, V> {
    /// A reader of `run` with a buffer of `buffer_len` bytes (it grows for larger frames).
    pub(crate) fn new(run: SpilledRun, buffer_len: usize) -> Self {
        let next_offset = run.offset;
        SpillReader {
            run,
            next_offset,
            buffer: vec![0; buffer_len.max(16)],
            start: 0,
            end: 0,
            left: 0,
            _pairs: PhantomData,
        }
    }

    /// The next key and its number of values; `None` at the end of the run. The previous
    /// group's values must all have been read.
    pub(crate) fn next_group(&mut self) -> Result<Option<(K, u64)>, SpillError> {
        debug_assert_eq!(self.left, 0, "a key group was left unread");
        if self.start == self.end && self.next_offset == self.run.offset + self.run.len {
            return Ok(None);
        }
        let key = self.read_frame()?;
        self.fill(8)?;
        let mut count = [0; 8];
        count.copy_from_slice(&self.buffer[self.start..self.start + 8]);
        self.start += 8;
        self.left = u64::from_le_bytes(count);
        Ok(Some((key, self.left)))
    }

    /// The current group's next value; `None` when it has no more.
    pub(crate) fn next_value(&mut self) -> Result<Option<V>, SpillError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        self.read_frame().map(Some)
    }

    fn read_frame<T: DeserializeOwned>(&mut self) -> Result<T, SpillError> {
        self.fill(4)?;
        let mut len = [0; 4];
        len.copy_from_slice(&self.buffer[self.start..self.start + 4]);
        self.start += 4;
        let len = u32::from_le_bytes(len) as usize;
        self.fill(len)?;
        let frame = &self.buffer[self.start..self.start + len];
        let item = rmp_serde::from_slice(frame).map_err(|e| SpillError::Codec {
            path: self.run.file.path.clone(),
            message: format!("cannot decode: {e}"),
        })?;
        self.start += len;
        Ok(item)
    }

    /// Makes at least `wanted` unread bytes available in the buffer.
    fn fill(&mut self, wanted: usize) -> Result<(), SpillError> {
        if self.end - self.start >= wanted {
            return Ok(());
        }
        self.buffer.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.buffer.len() < wanted {
            self.buffer.resize(wanted, 0);
        }
        let section_end = self.run.offset + self.run.len;
        while self.end < wanted {
            let room = (self.buffer.len() - self.end) as u64;
            let take = room.min(section_end - self.next_offset) as usize;
            if take == 0 {
                return Err(self.io_error(io::ErrorKind::UnexpectedEof.into()));
            }
            let read = read_at(&self.run.file.file, &mut self.buffer[self.end..self.end + take], self.next_offset)
                .map_err(|source| self.io_error(source))?;
            if read == 0 {
                return Err(self.io_error(io::ErrorKind::UnexpectedEof.into()));
            }
            self.end += read;
            self.next_offset += read as u64;
        }
        Ok(())
    }

    fn io_error(&self, source: io::Error) -> SpillError {
        SpillError::Io { path: self.run.file.path.clone(), source }
    }
}

#[cfg(unix)]
fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buffer, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buffer, offset)
}

/// Where a run's spill directory goes: `JOBS_TMPDIR` if set, else the system's temporary
/// directory.
pub(crate) fn default_parent() -> PathBuf {
    std::env::var_os("JOBS_TMPDIR").filter(|dir| !dir.is_empty()).map_or_else(std::env::temp_dir, PathBuf::from)
}

impl SpilledRun {
    /// Its encoded bytes.
    pub(crate) fn bytes(&self) -> u64 {
        self.len
    }

    /// The file the run is in.
    #[cfg(test)]
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.file.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(run: SpilledRun, buffer_len: usize) -> Vec<(String, Vec<u32>)> {
        let mut reader = SpillReader::<String, u32>::new(run, buffer_len);
        let mut groups = Vec::new();
        while let Some((key, count)) = reader.next_group().unwrap() {
            let mut values = Vec::new();
            while let Some(value) = reader.next_value().unwrap() {
                values.push(value);
            }
            assert_eq!(values.len() as u64, count);
            groups.push((key, values));
        }
        groups
    }

    #[test]
    fn sections_read_back_as_key_groups_through_any_buffer_size() {
        let temp = tempfile::tempdir().unwrap();
        let dir = SpillDir::new(temp.path().to_owned());
        let first = GroupedRun { keys: vec![("a".to_owned(), 2), ("b".repeat(300), 1)], values: vec![1, 2, 3] };
        let empty = GroupedRun::<String, u32> { keys: Vec::new(), values: Vec::new() };
        let second = GroupedRun { keys: vec![("c".to_owned(), 1)], values: vec![4] };
        let mut writer = SpillWriter::create(&dir).unwrap();
        assert_eq!(writer.write_section(&first).unwrap(), 0);
        assert_eq!(writer.write_section(&empty).unwrap(), 1);
        assert_eq!(writer.write_section(&second).unwrap(), 2);
        let runs = writer.finish().unwrap();
        assert_eq!(runs.len(), 3);
        for buffer_len in [1, 7, 64, 4096] {
            assert_eq!(
                read_all(runs[0].clone(), buffer_len),
                [("a".to_owned(), vec![1, 2]), ("b".repeat(300), vec![3])]
            );
            assert!(read_all(runs[1].clone(), buffer_len).is_empty());
            assert_eq!(read_all(runs[2].clone(), buffer_len), [("c".to_owned(), vec![4])]);
        }
    }

    #[test]
    fn the_directory_is_made_on_first_spill_and_removed_on_close() {
        let temp = tempfile::tempdir().unwrap();
        let dir = SpillDir::new(temp.path().to_owned());
        assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0);
        let mut writer = SpillWriter::create(&dir).unwrap();
        writer.write_section(&GroupedRun { keys: vec![(1u8, 1)], values: vec![1u8] }).unwrap();
        let runs = writer.finish().unwrap();
        assert!(runs[0].path().starts_with(temp.path()));
        assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 1);
        dir.close();
        assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_missing_location_is_an_error_naming_it() {
        let temp = tempfile::tempdir().unwrap();
        let missing = temp.path().join("no-such-dir");
        let Err(error) = SpillWriter::create(&SpillDir::new(missing.clone())) else { panic!("created") };
        assert!(matches!(&error, SpillError::CreateDir { dir, .. } if *dir == missing), "{error}");
        assert!(error.to_string().contains("no-such-dir"), "{error}");
    }

    #[test]
    fn a_truncated_file_is_an_error_naming_it() {
        let temp = tempfile::tempdir().unwrap();
        let dir = SpillDir::new(temp.path().to_owned());
        let mut writer = SpillWriter::create(&dir).unwrap();
        writer.write_section(&GroupedRun { keys: vec![("key".to_owned(), 1)], values: vec![7u32] }).unwrap();
        let runs = writer.finish().unwrap();
        let path = runs[0].path().to_owned();
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(5).unwrap();
        let mut reader = SpillReader::<String, u32>::new(runs[0].clone(), 64);
        let error = reader.next_group().unwrap_err();
        assert!(error.to_string().contains(&path.display().to_string()), "{error}");
    }
}
