//! A run's full output as a file beside a store file, not inside it.
//!
//! A redb store keeps each run's record and its stored output (folded, cut at 900,000
//! characters) in its own tables. The full output can be far larger (the interaction audit
//! of a million explorations prints some 300 MB), and redb never gives freed pages back to
//! the file system, so keeping it in the store made the file grow by that much with every
//! run. It lives instead in `<store file>.outputs/<run id>.jsonl.gz`: gzip-compressed lines,
//! written to a temporary name and renamed into place, so a reader sees the whole file or
//! none. A file past [`MAX_FULL_OUTPUT_BYTES`] of lines is cut, and its last line says so.
//! `jobs prune` removes the files of the runs it removes.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use super::{RunId, RunsError};
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

fn io_error(path: &Path, error: &std::io::Error) -> RunsError {
    RunsError::Store(StoreError::Io { location: path.display().to_string(), message: error.to_string() })
}

/// Writes `lines` as run `id`'s full output, replacing any written before.
///
/// # Errors
/// The directory or the file could not be written; nothing is left behind then.
pub(crate) fn write(dir: &Path, id: &RunId, lines: &[String]) -> Result<(), RunsError> {
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, &e))?;
    let path = file(dir, id);
    let partial = path.with_extension("gz.partial");
    let written = (|| -> std::io::Result<()> {
        let mut out = GzEncoder::new(BufWriter::with_capacity(1 << 16, File::create(&partial)?), Compression::fast());
        let mut bytes = 0u64;
        for line in lines {
            bytes += line.len() as u64 + 1;
            if bytes > MAX_FULL_OUTPUT_BYTES {
                tracing::warn!(run = %id, "the full output is larger than {MAX_FULL_OUTPUT_BYTES} bytes; the kept copy is cut");
                writeln!(out, "<full output cut here: more than {MAX_FULL_OUTPUT_BYTES} bytes>")?;
                break;
            }
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
        }
        out.finish()?.into_inner().map_err(std::io::IntoInnerError::into_error)?.sync_all()?;
        std::fs::rename(&partial, &path)
    })();
    written.map_err(|error| {
        // Only our own temporary file: the path it was to replace is left as it was.
        let _ = std::fs::remove_file(&partial);
        io_error(&path, &error)
    })
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
        Err(error) => return Err(io_error(&path, &error)),
    };
    let mut reader = BufReader::with_capacity(1 << 16, GzDecoder::new(BufReader::new(file)));
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(|e| io_error(&path, &e))? == 0 {
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
}
