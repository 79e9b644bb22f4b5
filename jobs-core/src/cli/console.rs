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
    /// The running program's name, which every command a message suggests is given under.
    pub(crate) program: &'a str,
}

impl Console<'_> {
    /// Writes one line for a person. A message that cannot be written is dropped: there is
    /// nowhere else to say so.
    /// Commands it suggests (`` `jobs list` ``, as the library's errors spell them) are given
    /// under the running program's name.
    pub(crate) fn say(&mut self, message: impl std::fmt::Display) {
        let _ = writeln!(self.err, "{}", in_program(&message.to_string(), self.program));
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

/// `message` with every command it quotes (`` `jobs ...` ``, as the library's own messages spell
/// them) named after `program`, the binary that is running: `myapp` suggests `` `myapp list` ``.
pub(crate) fn in_program(message: &str, program: &str) -> String {
    if program == "jobs" {
        return message.to_owned();
    }
    message.replace("`jobs ", &format!("`{program} "))
}

#[cfg(test)]
mod tests {
    use super::in_program;

    #[test]
    fn quoted_commands_take_the_programs_name_and_nothing_else_changes() {
        assert_eq!(
            in_program("no job is named `X`; `jobs list` shows them all (jobs run here)", "myapp"),
            "no job is named `X`; `myapp list` shows them all (jobs run here)"
        );
        assert_eq!(in_program("`jobs cancel A`, `jobs status A`", "my-app"), "`my-app cancel A`, `my-app status A`");
        assert_eq!(in_program("`jobs list`", "jobs"), "`jobs list`");
    }
}
