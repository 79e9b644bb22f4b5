//! Where a command writes: data to `out`, messages for a person to `err`.

use std::io::Write;

use super::error::CliError;

/// The streams a command writes to, and what the terminal allows.
pub(crate) struct Console<'a> {
    /// Data only: report lines, exported entities.
    pub(crate) out: &'a mut dyn Write,
    /// Summaries, counts, failures, errors.
    pub(crate) err: &'a mut dyn Write,
    /// Whether to draw a progress bar on the process's stderr (it is a terminal).
    pub(crate) progress_bar: bool,
    /// Whether Ctrl-C cancels a run (the process-wide handler is installed).
    pub(crate) interrupts: bool,
}

impl Console<'_> {
    /// Writes one line for a person. A message that cannot be written is dropped: there is
    /// nowhere else to say so.
    pub(crate) fn say(&mut self, message: impl std::fmt::Display) {
        let _ = writeln!(self.err, "{message}");
    }

    /// Writes one line of data.
    pub(crate) fn data(&mut self, line: &str) -> Result<(), CliError> {
        self.out.write_all(line.as_bytes()).map_err(CliError::stdout)?;
        self.out.write_all(b"\n").map_err(CliError::stdout)
    }

    /// Flushes the data written so far.
    pub(crate) fn flush(&mut self) -> Result<(), CliError> {
        self.out.flush().map_err(CliError::stdout)
    }

    /// Reports a failed command on stderr.
    pub(crate) fn report(&mut self, error: &CliError) {
        if error.is_reported() {
            self.say(format_args!("error: {error}"));
        }
    }
}
