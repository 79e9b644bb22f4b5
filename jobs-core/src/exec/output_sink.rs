//! Where a run's report lines go when they should not be held: an [`OutputSink`].
//!
//! Without one, an engine gathers its report lines in [`RunReport::output`]: fine for a
//! test or a small report, but the interaction audit of a million explorations prints some
//! 300 MB. With one ([`RunOptions::output`](super::RunOptions::output)), the engine hands
//! each line over, in key order, as it merges the partitions' outputs, and the report's
//! `output` stays empty; the engines also spool reduced lines to temporary files once they
//! outgrow their part of the memory budget, so memory does not grow with the report (the
//! timely engine on one machine; across processes, see `cluster`).
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use jobs_core::prelude::*;
//! use jobs_core::{MemoryStore, OutputSink, RunOptions, engine, testing};
//!
//! #[derive(Model, Serialize, Deserialize)]
//! pub struct Pet { id: String, species: String }
//!
//! /// Lists pets by species.
//! #[one_off_job(models = [Pet])]
//! pub struct BySpecies;
//!
//! impl Map<Pet> for BySpecies {
//!     fn map(&self, pet: Pet, ctx: &mut MapContext<'_, Self>) -> Outcome {
//!         ctx.emit(pet.species, pet.id);
//!         Ok(())
//!     }
//! }
//!
//! impl Reduce for BySpecies {
//!     type Key = String;
//!     type Value = String;
//!     fn reduce(&self, species: String, ids: Values<'_, String>, out: &mut Output) -> Outcome {
//!         out.line(format!("{species}: {}", ids.collect::<Vec<_>>().join(" ")));
//!         Ok(())
//!     }
//! }
//!
//! let store = MemoryStore::new();
//! testing::put_all(&store, &[
//!     Pet { id: "p1".into(), species: "dog".into() },
//!     Pet { id: "p2".into(), species: "cat".into() },
//!     Pet { id: "p3".into(), species: "dog".into() },
//! ])?;
//! let printed = Arc::new(Mutex::new(String::new()));
//! let to = Arc::clone(&printed);
//! let sink = OutputSink::new(move |text: &str| {
//!     to.lock().unwrap().push_str(text);
//!     Ok(())
//! });
//! let report = engine::run(&BySpecies, &store, &RunOptions::default().with_output(sink))?;
//! assert!(report.output.is_empty(), "the lines went to the sink");
//! assert_eq!(*printed.lock().unwrap(), "cat: p2\ndog: p1 p3\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`RunReport::output`]: super::RunReport::output

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};

use super::report_text::PIECE_BYTES;
use super::{RunOptions, RunReport};

/// Takes a run's report as text: its lines in key order, each ending in a line break, in
/// pieces that may end inside a line (a line can be hundreds of megabytes) but never inside
/// a character.
///
/// Closures `FnMut(&str) -> io::Result<()>` are sinks.
pub trait TextSink: Send {
    /// Takes the next piece of the report.
    ///
    /// # Errors
    /// The text could not be kept: the run stops, failed with
    /// [`RunError::Output`](super::RunError::Output).
    fn text(&mut self, text: &str) -> io::Result<()>;
}

impl<F: FnMut(&str) -> io::Result<()> + Send> TextSink for F {
    fn text(&mut self, text: &str) -> io::Result<()> {
        self(text)
    }
}

/// A [`TextSink`] an engine can be given in [`RunOptions::output`]; clones share it.
#[derive(Clone)]
pub struct OutputSink(Arc<Mutex<dyn TextSink>>);

impl OutputSink {
    /// A sink handing every line to `sink`.
    pub fn new(sink: impl TextSink + 'static) -> Self {
        OutputSink(Arc::new(Mutex::new(sink)))
    }

    /// Hands `lines` over, in order, each with its line break, holding the sink for all.
    ///
    /// # Errors
    /// The sink refused a line; the rest are not handed over.
    pub(crate) fn write_lines<'a>(&self, lines: impl IntoIterator<Item = &'a str>) -> io::Result<()> {
        self.with(|sink| {
            let mut pieces = Pieces::new(PIECE_BYTES);
            for line in lines {
                pieces.push(line, sink)?;
                pieces.push("\n", sink)?;
            }
            pieces.flush(sink)
        })
    }

    /// Holds the sink while `write` hands it lines.
    pub(crate) fn with<R>(&self, write: impl FnOnce(&mut dyn TextSink) -> R) -> R {
        write(&mut *crate::sync::lock(&self.0))
    }
}

/// Gathers small pieces of text into pieces of about `size` bytes for a sink, so a report of
/// many short lines costs the sink a call per piece, not per line (and a sink on another
/// thread a wake-up per piece).
#[derive(Debug)]
pub(crate) struct Pieces {
    size: usize,
    gathered: String,
}

impl Pieces {
    /// Pieces of about `size` bytes.
    pub(crate) fn new(size: usize) -> Self {
        Pieces { size, gathered: String::new() }
    }

    /// Hands `text` to `sink`, or keeps it to hand over with what follows.
    ///
    /// # Errors
    /// The sink refused text.
    pub(crate) fn push(&mut self, text: &str, sink: &mut dyn TextSink) -> io::Result<()> {
        if self.gathered.len() + text.len() > self.size && !self.gathered.is_empty() {
            self.flush(sink)?;
        }
        if text.len() >= self.size {
            sink.text(text)
        } else {
            self.gathered.push_str(text);
            Ok(())
        }
    }

    /// Hands `sink` what it kept.
    ///
    /// # Errors
    /// The sink refused it.
    pub(crate) fn flush(&mut self, sink: &mut dyn TextSink) -> io::Result<()> {
        if self.gathered.is_empty() {
            return Ok(());
        }
        let handed = sink.text(&self.gathered);
        self.gathered.clear();
        handed
    }
}

/// Report text, given in pieces that may cut lines, gathered back into lines: for a caller
/// that wants the report as lines ([`RunReport::output`], a run log that only takes the full
/// output whole).
#[derive(Debug, Default)]
pub(crate) struct Lines {
    lines: Vec<String>,
    /// The start of a line the next piece continues.
    open: String,
}

impl Lines {
    /// Adds the next piece of the report.
    pub(crate) fn push(&mut self, mut text: &str) {
        while let Some(at) = text.find('\n') {
            self.open.push_str(&text[..at]);
            self.lines.push(std::mem::take(&mut self.open));
            text = &text[at + 1..];
        }
        self.open.push_str(text);
    }

    /// The lines, a last one without its line break included.
    pub(crate) fn finish(mut self) -> Vec<String> {
        if !self.open.is_empty() {
            self.lines.push(self.open);
        }
        self.lines
    }
}

impl fmt::Debug for OutputSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OutputSink(..)")
    }
}

/// For an engine of the caller's that gathers its lines in the report: hands them to the
/// run's sink, if it has one, and leaves `report.output` empty, so every engine keeps the same
/// contract.
///
/// # Errors
/// The sink refused a line.
pub(crate) fn deliver(report: &mut RunReport, options: &RunOptions) -> io::Result<()> {
    match &options.output {
        Some(sink) => sink.write_lines(std::mem::take(&mut report.output).iter().map(String::as_str)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::{Lines, Pieces};

    #[test]
    fn pieces_that_cut_lines_gather_back_into_the_lines() {
        let mut lines = Lines::default();
        for piece in ["a", "b\n\nc", "\nd\n", "e"] {
            lines.push(piece);
        }
        assert_eq!(lines.finish(), ["ab", "", "c", "d", "e"]);
    }

    #[test]
    fn small_pieces_are_handed_on_together_and_large_ones_at_once() {
        let mut handed: Vec<String> = Vec::new();
        let mut sink = |text: &str| {
            handed.push(text.to_owned());
            Ok(())
        };
        let mut pieces = Pieces::new(4);
        for text in ["ab", "c", "de", "fghij", "k"] {
            pieces.push(text, &mut sink).unwrap();
        }
        pieces.flush(&mut sink).unwrap();
        assert_eq!(handed, ["abc", "de", "fghij", "k"]);
    }
}
