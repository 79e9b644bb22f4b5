//! Watching a run: it goes on another thread while this one polls its [`Progress`] every
//! [`POLL`], draws a progress bar (when stderr is a terminal) and turns Ctrl-C into a cancel.

use std::any::Any;
use std::io::{self, Write};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::console::{Console, say_to};
use super::interrupt;
use crate::exec::{CancelToken, Phase, Progress};

/// How often the bar is redrawn and Ctrl-C is checked.
pub(crate) const POLL: Duration = Duration::from_millis(100);

/// Report text on its way from a run to the printer: pieces in order, and the buffers of
/// printed pieces on their way back, so the run refills them rather than allocating (and the
/// kernel zeroing) a fresh buffer for every piece.
pub(crate) struct PrintPipe {
    pieces: Receiver<String>,
    spent: Sender<String>,
}

/// The run's end of a [`PrintPipe`].
pub(crate) struct PieceSender {
    pieces: Sender<String>,
    spent: Receiver<String>,
}

/// A pipe holding at most `in_flight` pieces: a slow reader of stdout holds the run back
/// rather than filling memory.
pub(crate) fn print_pipe(in_flight: usize) -> (PieceSender, PrintPipe) {
    let (pieces_tx, pieces_rx) = crossbeam_channel::bounded(in_flight);
    // Room for every buffer there can be: those in flight, the one printing, the one filling.
    let (spent_tx, spent_rx) = crossbeam_channel::bounded(in_flight + 2);
    (PieceSender { pieces: pieces_tx, spent: spent_rx }, PrintPipe { pieces: pieces_rx, spent: spent_tx })
}

impl PieceSender {
    /// Sends a copy of `text` to the printer, waiting while the pipe is full.
    ///
    /// # Errors
    /// The printer is gone: the command line stopped printing.
    pub(crate) fn send(&self, text: &str) -> io::Result<()> {
        let mut piece = self.spent.try_recv().unwrap_or_default();
        piece.clear();
        piece.push_str(text);
        self.pieces.send(piece).map_err(|_| io::Error::other("the command line stopped printing"))
    }
}

/// Runs `work` on its own thread while showing `progress`, and returns what it returned.
///
/// # Errors
/// `work` panicked; the error is the panic's message.
pub(crate) fn watch<T: Send>(
    console: &mut Console<'_>,
    progress: &Progress,
    cancel: &CancelToken,
    work: impl FnOnce() -> T + Send,
) -> Result<T, String> {
    watch_printing(console, progress, cancel, None, work).map(|(result, _)| result)
}

/// As [`watch`], also printing on stdout the report text `work` sends into `text` as it comes
/// (the bar is cleared before the first piece). Returns what `work` returned and the first
/// error writing stdout, if any: text after it is dropped, not left to block `work`.
///
/// # Errors
/// `work` panicked; the error is the panic's message.
pub(crate) fn watch_printing<T: Send>(
    console: &mut Console<'_>,
    progress: &Progress,
    cancel: &CancelToken,
    text: Option<&PrintPipe>,
    work: impl FnOnce() -> T + Send,
) -> Result<(T, Option<io::Error>), String> {
    let listening = console.interrupts.then(interrupt::listen);
    let mut bar = console.progress_bar.then(Bar::new);
    let mut printer = Printer { out: io::BufWriter::with_capacity(1 << 16, &mut *console.out), error: None };
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
    let (text, spent) = match text {
        Some(pipe) => (pipe.pieces.clone(), Some(&pipe.spent)),
        None => (crossbeam_channel::never(), None),
    };
    let mut print = |piece: String| {
        printer.print(&piece);
        if let Some(spent) = spent {
            // Kept for the next piece; dropped if the run has enough.
            let _ = spent.try_send(piece);
        }
    };
    let result = thread::scope(|scope| {
        let handle = scope.spawn(move || {
            let result = work();
            drop(done_tx); // wakes the watcher at once
            result
        });
        let mut next_show = Instant::now();
        loop {
            crossbeam_channel::select! {
                recv(text) -> piece => {
                    if let Ok(piece) = piece {
                        if let Some(bar) = bar.take() {
                            bar.bar.finish_and_clear();
                        }
                        print(piece);
                    }
                }
                recv(done_rx) -> _ => break,
                default(POLL) => {}
            }
            if Instant::now() < next_show {
                continue;
            }
            next_show = Instant::now() + POLL;
            if let Some(bar) = &mut bar {
                bar.show(progress);
            }
            if listening.as_ref().is_some_and(interrupt::Listening::requested) && !cancel.is_canceled() {
                cancel.cancel();
                let message = "canceling the run… (press Ctrl-C again to stop at once)";
                match &bar {
                    Some(bar) => bar.bar.suspend(|| say_to(&mut *console.err, console.program, message)),
                    None => say_to(&mut *console.err, console.program, message),
                }
            }
        }
        if let Some(bar) = bar {
            bar.bar.finish_and_clear();
        }
        handle.join().map_err(|payload| panic_message(&*payload))
    })?;
    // All of it was sent before `work` returned.
    while let Ok(piece) = text.try_recv() {
        print(piece);
    }
    Ok((result, printer.finish()))
}

/// Writes text to stdout until a write fails, then keeps only that error.
struct Printer<W: Write> {
    out: W,
    error: Option<io::Error>,
}

impl<W: Write> Printer<W> {
    fn print(&mut self, text: &str) {
        if self.error.is_none()
            && let Err(error) = self.out.write_all(text.as_bytes())
        {
            self.error = Some(error);
        }
    }

    fn finish(mut self) -> Option<io::Error> {
        match self.error {
            Some(error) => Some(error),
            None => self.out.flush().err(),
        }
    }
}

/// A progress bar on stderr that follows the run's phases.
struct Bar {
    bar: ProgressBar,
    phase: Option<Phase>,
}

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(spinner_style("planning"));
        Bar { bar, phase: None }
    }

    /// Updates the bar from `progress`, restyling it when the phase changes.
    fn show(&mut self, progress: &Progress) {
        let phase = progress.phase();
        if self.phase != Some(phase) {
            self.phase = Some(phase);
            match phase {
                Phase::Planning => self.bar.set_style(spinner_style("planning the shards")),
                Phase::Map => {
                    self.bar.set_style(map_style());
                    self.bar.set_length(progress.total());
                }
                Phase::Reduce | Phase::Done => {
                    self.bar.reset();
                    self.bar.set_style(spinner_style("reducing: {human_pos} keys ({per_sec})"));
                }
            }
        }
        match phase {
            Phase::Planning => self.bar.tick(),
            Phase::Map => self.bar.set_position(progress.read()),
            Phase::Reduce | Phase::Done => self.bar.set_position(progress.keys_reduced()),
        }
    }
}

fn map_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner} mapping [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} entities, {rate}, ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(w, "{:.0} entities/s", state.per_sec());
    })
}

fn spinner_style(message: &str) -> ProgressStyle {
    ProgressStyle::with_template(&format!("{{spinner}} {message}")).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-text payload".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_styles_parse() {
        assert!(
            ProgressStyle::with_template(
                "{spinner} mapping [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} entities, {rate}, ETA {eta}"
            )
            .is_ok()
        );
        assert!(ProgressStyle::with_template("{spinner} reducing: {human_pos} keys ({per_sec})").is_ok());
    }

    #[test]
    fn a_watched_run_returns_its_result_or_its_panic() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut console =
            Console { out: &mut out, err: &mut err, progress_bar: false, interrupts: false, program: "jobs" };
        let progress = Progress::new();
        let cancel = CancelToken::new();
        assert_eq!(watch(&mut console, &progress, &cancel, || 7), Ok(7));
        let panicked = watch(&mut console, &progress, &cancel, || -> u32 { std::panic::panic_any("boom") });
        assert_eq!(panicked, Err("boom".to_owned()));
    }
}
