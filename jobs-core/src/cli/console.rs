//! Where a command writes: data to `out`, messages for a person to `err`.

use std::borrow::Cow;
use std::fmt::Write as _;
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
    /// Commands it suggests (`` `jobs list` ``, as [`hints`](super::hints) spells them) are
    /// given under the running program's name.
    pub(crate) fn say(&mut self, message: impl std::fmt::Display) {
        say_to(self.err, self.program, message);
    }

    /// Writes one line for a person on stdout (a table, `jobs status`), its control characters
    /// escaped as [`for_terminal`] does. Data meant for programs goes through [`Console::data`].
    pub(crate) fn text(&mut self, line: &str) -> Result<(), CliError> {
        self.data(&for_terminal(line))
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

/// [`Console::say`] to `err`, for code that holds the console's other stream at the time.
pub(crate) fn say_to(err: &mut dyn Write, program: &str, message: impl std::fmt::Display) {
    let text = in_program(&message.to_string(), program);
    let _ = writeln!(err, "{}", for_terminal(&text));
}

/// `text` made safe to print on a terminal: every control character but newline and tab (the
/// C0 and C1 controls, DEL; escape sequences start with them) is written as `\u{..}`, so a
/// stored id or title cannot retitle the terminal, clear it or move its cursor. Text without
/// them is returned as it is.
pub(crate) fn for_terminal(text: &str) -> Cow<'_, str> {
    let escaped = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut safe = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if escaped(c) {
            let _ = write!(safe, "\\u{{{:x}}}", c as u32);
        } else {
            safe.push(c);
        }
    }
    Cow::Owned(safe)
}

/// `message` with every command it quotes (`` `jobs ...` ``, as the command line's own messages
/// spell them) named after `program`, the binary that is running: `myapp` suggests `` `myapp list` ``.
pub(crate) fn in_program(message: &str, program: &str) -> String {
    if program == "jobs" {
        return message.to_owned();
    }
    message.replace("`jobs ", &format!("`{program} "))
}

#[cfg(test)]
mod tests {
    use super::{for_terminal, in_program};

    #[test]
    fn control_characters_are_escaped_and_other_text_is_kept() {
        assert_eq!(
            for_terminal("id \u{1b}]0;PWNED\u{7}\u{1b}[2J \r\u{7f}\u{9b}"),
            "id \\u{1b}]0;PWNED\\u{7}\\u{1b}[2J \\u{d}\\u{7f}\\u{9b}"
        );
        assert_eq!(for_terminal("two\tcolumns\nand lines, é ✓"), "two\tcolumns\nand lines, é ✓");
    }

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
