//! A run's full output as a file beside a store file, not inside it.
//!
//! A redb store keeps each run's record and its stored output (folded, cut at 900,000
//! characters) in its own tables. The full output can be far larger (the interaction audit
//! of a million explorations prints some 300 MB), and redb never gives freed pages back to
//! the file system, so keeping it in the store made the file grow by that much with every
//! run. It lives instead in `<store file>.outputs/<run id>.jsonl.gz`: gzip-compressed lines,
//! written to a temporary name and renamed into place, so a reader sees the whole file or
//! none. A file past [`MAX_FULL_OUTPUT_BYTES`] of lines is cut, and its last line says so.
//! The runner writes it a piece at a time through a [`Writer`] (the store's
//! [`full_output_writer`](super::RunStore::full_output_writer)), so the output is never held
//! whole; [`write()`] writes lines held already through the same writer.
//! `jobs prune` removes the files of the runs it removes.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use super::{FullOutputWriter, RunId, RunsError};
use crate::store::StoreError;

/// The most bytes of lines a full-output file holds; past it, the file is cut.
pub const MAX_FULL_OUTPUT_BYTES: u64 = 4 << 30;

/// The directory of full-output files for the store file at `store`.
pub(crate) fn dir(store: &Path) -> PathBuf {
    let mut name = store.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push(".outputs");
    store.with_file_name(name)
}

fn file(dir: &Path, id: &RunId) -> PathBuf {
    dir.join(format!("{id}.jsonl.gz"))
}

fn io_error(path: &Path, what: &str, error: &std::io::Error) -> RunsError {
    RunsError::Store(StoreError::Io { location: path.display().to_string(), message: format!("{what}: {error}") })
}

/// Writes one run's full output a piece at a time to `<id>.jsonl.gz.partial`, and renames it
/// into place on [`finish`](FullOutputWriter::finish), so the runner never holds the output
/// whole and a reader never sees half of it.
///
/// Past [`MAX_FULL_OUTPUT_BYTES`] of lines it writes a last line saying the output was cut
/// and ignores the lines that follow. On an error, and when dropped unfinished, it removes
/// its own partial file and nothing else: a full output finished before stays as it was.
pub(crate) struct Writer {
    id: RunId,
    /// Where the output goes once finished.
    path: PathBuf,
    /// Where it is written until then.
    partial: PathBuf,
    /// `Some` exactly while the partial file is ours and exists: taken when it is renamed
    /// into place or removed after an error, so `Drop` knows whether to remove it.
    out: Option<GzEncoder<BufWriter<File>>>,
    /// Bytes of lines (with their line breaks) written so far.
    bytes: u64,
    /// Past this many bytes of lines the output is cut; [`MAX_FULL_OUTPUT_BYTES`] but in tests.
    limit: u64,
    /// The cut line is written: later lines are ignored.
    cut: bool,
    /// The last piece ended inside a line.
    open_line: bool,
}

impl Writer {
    /// Starts run `id`'s full output in `dir`, creating `dir` if need be.
    ///
    /// # Errors
    /// The directory or the partial file could not be created.
    pub(crate) fn create(dir: &Path, id: &RunId) -> Result<Self, RunsError> {
        Self::with_limit(dir, id, MAX_FULL_OUTPUT_BYTES)
    }

    fn with_limit(dir: &Path, id: &RunId, limit: u64) -> Result<Self, RunsError> {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "cannot create the directory of full outputs", &e))?;
        let path = file(dir, id);
        let partial = path.with_extension("gz.partial");
        // A partial file left by a process that died writing this run's output is truncated.
        let created = File::create(&partial).map_err(|e| io_error(&partial, "cannot create a full output", &e))?;
        Ok(Writer {
            id: id.clone(),
            path,
            partial,
            out: Some(GzEncoder::new(BufWriter::with_capacity(1 << 16, created), Compression::fast())),
            bytes: 0,
            limit,
            cut: false,
            open_line: false,
        })
    }

    /// The error of a write that failed: the partial file is removed at once, so a failed
    /// writer holds nothing on disk while the caller handles the error.
    fn failed(&mut self, what: &str, error: &std::io::Error) -> RunsError {
        self.discard();
        io_error(&self.partial, what, error)
    }

    /// Drops the encoder (closing the file) and removes the partial file, if still ours.
    fn discard(&mut self) {
        if let Some(out) = self.out.take() {
            drop(out);
            if let Err(error) = std::fs::remove_file(&self.partial)
                && error.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(run = %self.id, %error, "could not remove an unfinished full output");
            }
        }
    }

    fn out(&mut self) -> Result<&mut GzEncoder<BufWriter<File>>, RunsError> {
        let partial = &self.partial;
        self.out.as_mut().ok_or_else(|| {
            io_error(partial, "cannot write a full output", &std::io::Error::other("an earlier write of it failed"))
        })
    }

    /// Writes the next piece of the output: lines each ending in `\n`, the last one possibly
    /// cut, to be continued by the next piece.
    fn write_text(&mut self, text: &str) -> Result<(), RunsError> {
        if self.cut || text.is_empty() {
            return Ok(());
        }
        let room = self.limit.saturating_sub(self.bytes);
        if text.len() as u64 <= room {
            self.bytes += text.len() as u64;
            self.open_line = !text.ends_with('\n');
            let written = self.out()?.write_all(text.as_bytes());
            return written.map_err(|e| self.failed("cannot write a full output", &e));
        }
        // Past the limit: the whole lines that fit, then a last line saying where it was cut.
        let fitting = &text.as_bytes()[..usize::try_from(room).unwrap_or(usize::MAX)];
        let keep = fitting.iter().rposition(|&byte| byte == b'\n').map_or(0, |at| at + 1);
        let open = keep == 0 && self.open_line;
        let limit = self.limit;
        tracing::warn!(run = %self.id, "the full output is larger than {limit} bytes; the kept copy is cut");
        let out = self.out()?;
        let written = out
            .write_all(&text.as_bytes()[..keep])
            .and_then(|()| if open { out.write_all(b"\n") } else { Ok(()) })
            .and_then(|()| writeln!(out, "<full output cut here: more than {limit} bytes>"));
        self.cut = written.is_ok();
        written.map_err(|e| self.failed("cannot write a full output", &e))
    }

    fn finish_file(mut self) -> Result<(), RunsError> {
        let out = self.out()?;
        // Everything reaches the disk before the rename, so the file a reader finds after a
        // crash is either the old output or the whole new one.
        let synced =
            out.try_finish().and_then(|()| out.get_mut().flush()).and_then(|()| out.get_ref().get_ref().sync_all());
        synced.map_err(|e| self.failed("cannot write a full output", &e))?;
        std::fs::rename(&self.partial, &self.path).map_err(|e| {
            self.discard();
            io_error(&self.path, "cannot put a full output in place", &e)
        })?;
        // Renamed: nothing of ours is left to remove. Dropping the encoder only closes the file.
        drop(self.out.take());
        Ok(())
    }
}

impl FullOutputWriter for Writer {
    fn text(&mut self, text: &str) -> Result<(), RunsError> {
        self.write_text(text)
    }

    fn finish(self: Box<Self>) -> Result<(), RunsError> {
        (*self).finish_file()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.discard();
    }
}

/// Writes `lines` as run `id`'s full output, replacing any written before.
///
/// # Errors
/// The directory or the file could not be written; nothing is left behind then.
pub(crate) fn write(dir: &Path, id: &RunId, lines: &[String]) -> Result<(), RunsError> {
    let mut writer = Writer::create(dir, id)?;
    for line in lines {
        writer.write_text(line)?;
        writer.write_text("\n")?;
    }
    writer.finish_file()
}

/// Visits run `id`'s full output, line by line, until `visit` breaks; visits nothing if none
/// was written.
///
/// # Errors
/// The file could not be read or is not gzip.
pub(crate) fn visit(dir: &Path, id: &RunId, visit: &mut dyn FnMut(&str) -> ControlFlow<()>) -> Result<(), RunsError> {
    let path = file(dir, id);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(io_error(&path, "cannot open a full output", &error)),
    };
    let mut reader = BufReader::with_capacity(1 << 16, GzDecoder::new(BufReader::new(file)));
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(|e| io_error(&path, "cannot read a full output", &e))? == 0 {
            return Ok(());
        }
        if visit(line.strip_suffix('\n').unwrap_or(&line)).is_break() {
            return Ok(());
        }
    }
}

/// Removes run `id`'s full-output file, if any.
pub(crate) fn remove(dir: &Path, id: &RunId) {
    let path = file(dir, id);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => tracing::warn!(run = %id, %error, "could not remove a pruned run's full output"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_a_rewrite_replaces() {
        let temp = tempfile::tempdir().unwrap();
        let dir = dir(&temp.path().join("jobs.redb"));
        assert_eq!(dir, temp.path().join("jobs.redb.outputs"));
        let id = RunId::generate("Job", 1);
        let lines = vec!["[\"a\",[1]]".to_owned(), String::new(), "é \\ \"".to_owned()];
        write(&dir, &id, &lines).unwrap();
        let mut read = Vec::new();
        visit(&dir, &id, &mut |line| {
            read.push(line.to_owned());
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(read, lines);
        write(&dir, &id, &["only".to_owned()]).unwrap();
        let mut again = Vec::new();
        visit(&dir, &id, &mut |line| {
            again.push(line.to_owned());
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(again, ["only"]);
        remove(&dir, &id);
        let mut none = 0;
        visit(&dir, &id, &mut |_| {
            none += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(none, 0);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no temporary file is left");
    }

    fn read(dir: &Path, id: &RunId) -> Vec<String> {
        let mut read = Vec::new();
        visit(dir, id, &mut |line| {
            read.push(line.to_owned());
            ControlFlow::Continue(())
        })
        .unwrap();
        read
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn streamed_lines_read_back_exactly() {
        let temp = tempfile::tempdir().unwrap();
        let dir = dir(&temp.path().join("jobs.redb"));
        let id = RunId::generate("Job", 1);
        let lines = ["[\"a\",[1]]", "", "é \\ \" 日本語 🦀", "", "last"];
        let mut writer: Box<dyn FullOutputWriter> = Box::new(Writer::create(&dir, &id).unwrap());
        for line in lines {
            writer.text(&format!("{line}\n")).unwrap();
        }
        assert_eq!(read(&dir, &id), Vec::<String>::new(), "nothing is visible before finish");
        writer.finish().unwrap();
        assert_eq!(read(&dir, &id), lines);
        assert_eq!(entries(&dir), [format!("{id}.jsonl.gz")], "the partial file was renamed into place");
    }

    #[test]
    fn a_writer_dropped_unfinished_leaves_nothing_and_replaces_nothing() {
        let temp = tempfile::tempdir().unwrap();
        let dir = dir(&temp.path().join("jobs.redb"));
        let id = RunId::generate("Job", 1);

        let mut abandoned = Writer::create(&dir, &id).unwrap();
        abandoned.text("never kept\n").unwrap();
        drop(abandoned);
        assert!(entries(&dir).is_empty(), "no file is left: {:?}", entries(&dir));

        write(&dir, &id, &["kept".to_owned(), String::new()]).unwrap();
        let mut abandoned = Writer::create(&dir, &id).unwrap();
        abandoned.text("a new output, never finished\n").unwrap();
        drop(abandoned);
        assert_eq!(read(&dir, &id), ["kept", ""], "the earlier output is intact");
        assert_eq!(entries(&dir), [format!("{id}.jsonl.gz")]);
    }

    #[test]
    fn past_the_limit_the_output_is_cut_and_later_lines_are_ignored() {
        let temp = tempfile::tempdir().unwrap();
        let dir = dir(&temp.path().join("jobs.redb"));
        let id = RunId::generate("Job", 1);
        let mut writer = Writer::with_limit(&dir, &id, 8).unwrap();
        for line in ["abc", "def", "ghi", "jkl"] {
            writer.write_text(&format!("{line}\n")).unwrap();
        }
        writer.finish_file().unwrap();
        assert_eq!(read(&dir, &id), ["abc", "def", "<full output cut here: more than 8 bytes>"]);
    }

    #[test]
    fn a_directory_that_cannot_be_created_is_named_in_the_error() {
        let temp = tempfile::tempdir().unwrap();
        let not_a_dir = temp.path().join("plain file");
        std::fs::write(&not_a_dir, b"").unwrap();
        let dir = dir(&not_a_dir.join("jobs.redb"));
        let id = RunId::generate("Job", 1);
        let Err(error) = Writer::create(&dir, &id) else { panic!("a directory inside a file was created") };
        let message = error.to_string();
        assert!(message.contains(&dir.display().to_string()), "{message}");
        assert!(message.contains("cannot create the directory of full outputs"), "{message}");
        assert!(write(&dir, &id, &["x".to_owned()]).is_err());
    }

    #[test]
    fn a_failed_rename_removes_the_partial_file_and_names_the_path() {
        let temp = tempfile::tempdir().unwrap();
        let dir = dir(&temp.path().join("jobs.redb"));
        let id = RunId::generate("Job", 1);
        // A non-empty directory where the file goes: nothing can be renamed over it.
        let in_the_way = dir.join(format!("{id}.jsonl.gz"));
        std::fs::create_dir_all(in_the_way.join("inside")).unwrap();
        let mut writer: Box<dyn FullOutputWriter> = Box::new(Writer::create(&dir, &id).unwrap());
        writer.text("lost\n").unwrap();
        let message = writer.finish().unwrap_err().to_string();
        assert!(message.contains(&in_the_way.display().to_string()), "{message}");
        assert_eq!(entries(&dir), [format!("{id}.jsonl.gz")], "only what was in the way is left");
        assert!(in_the_way.join("inside").is_dir());
    }
}
