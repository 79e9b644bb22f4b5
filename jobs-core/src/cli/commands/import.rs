//! `jobs import`: all or nothing. Every line is checked (JSON that decodes as the model, a
//! non-empty id, no id twice in the input, no field the model does not have unless
//! `--allow-unknown-fields`) before anything is stored; then every entity is
//! stored in one [`WriteBatch`], which the store applies atomically.
//!
//! An entity whose id is already stored is replaced; other stored entities are left alone.
//! The whole input is held in memory until it is stored.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal};
use std::path::Path;

use crate::cli::Cli;
use crate::cli::args::ImportArgs;
use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::model::ModelDescriptor;
use crate::store::WriteBatch;

/// How many bad lines the error message lists; the rest are counted.
const MAX_LISTED_PROBLEMS: usize = 20;

pub(super) fn run(cli: &Cli, store_path: &Path, args: &ImportArgs, console: &mut Console<'_>) -> Result<(), CliError> {
    let model = super::find_model(&args.kind)?;
    let store = cli.open_store(store_path)?;
    let (source, batch) = match args.file.as_deref().filter(|f| *f != Path::new("-")) {
        None => {
            let stdin = io::stdin();
            if stdin.is_terminal() {
                console.say(format_args!(
                    "reading {} entities from standard input, one JSON object a line; end with Ctrl-D",
                    model.kind()
                ));
            }
            let batch = read(model, stdin.lock(), "standard input", args.allow_unknown_fields, CliError::Stdin)?;
            ("standard input".to_owned(), batch)
        }
        Some(path) => {
            let name = path.display().to_string();
            let file_error = |source| CliError::File { action: "read", path: path.to_path_buf(), source };
            let file = File::open(path).map_err(file_error)?;
            let batch = read(model, BufReader::new(file), &name, args.allow_unknown_fields, file_error)?;
            (name, batch)
        }
    };
    store.bulk_load(&batch)?;
    console.say(format_args!(
        "imported {} {} entities from {source} into {}",
        batch.len(),
        model.kind(),
        store.location()
    ));
    Ok(())
}

/// One bad line of the input.
#[derive(Debug, PartialEq, Eq)]
struct Problem {
    line: usize,
    what: String,
}

/// Reads and checks every line of `input`, and returns the puts of all of them. A field the
/// model does not have is a bad line unless `allow_unknown_fields`.
///
/// # Errors
/// The input could not be read, or some lines are bad: the error lists them by number.
fn read(
    model: &ModelDescriptor,
    mut input: impl BufRead,
    source: &str,
    allow_unknown_fields: bool,
    read_error: impl Fn(io::Error) -> CliError,
) -> Result<WriteBatch, CliError> {
    let mut batch = WriteBatch::new();
    let mut first_line_of: HashMap<String, usize> = HashMap::new();
    let mut problems = Vec::new();
    let mut bytes = Vec::new();
    for number in 1.. {
        bytes.clear();
        if input.read_until(b'\n', &mut bytes).map_err(&read_error)? == 0 {
            break;
        }
        match check_line(model, &bytes, number == 1, allow_unknown_fields) {
            Ok(None) => {}
            Ok(Some((id, encoded))) => match first_line_of.get(&id) {
                Some(first) => problems
                    .push(Problem { line: number, what: format!("the id `{id}` is already used on line {first}") }),
                None => {
                    first_line_of.insert(id.clone(), number);
                    batch.put(model.kind(), id, encoded);
                }
            },
            Err(what) => problems.push(Problem { line: number, what }),
        }
    }
    if problems.is_empty() { Ok(batch) } else { Err(CliError::Import(describe(model, source, &problems))) }
}

/// The id and encoding of one line's entity; `None` for a blank line.
fn check_line(
    model: &ModelDescriptor,
    bytes: &[u8],
    first: bool,
    allow_unknown_fields: bool,
) -> Result<Option<(String, Vec<u8>)>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not valid UTF-8 ({e})"))?;
    let text = if first { text.trim_start_matches('\u{feff}') } else { text };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let decoded = if allow_unknown_fields { model.json_to_stored(text) } else { model.json_to_stored_strict(text) };
    decoded.map(Some).map_err(|e| without_json_position(&e))
}

/// serde_json ends its messages with "at line 1 column N", which would read as the input's
/// line 1: keep only the column.
fn without_json_position(message: &str) -> String {
    match message.rsplit_once(" at line 1 column ") {
        Some((what, column)) if column.chars().all(|c| c.is_ascii_digit()) => format!("{what} (at column {column})"),
        _ => message.to_owned(),
    }
}

fn describe(model: &ModelDescriptor, source: &str, problems: &[Problem]) -> String {
    let count = problems.len();
    let lines = if count == 1 { "line is" } else { "lines are" };
    let mut message = format!(
        "nothing was imported: {count} {lines} not a valid {} in {source}; fix them and import again",
        model.kind()
    );
    for problem in problems.iter().take(MAX_LISTED_PROBLEMS) {
        let _ = write!(message, "\n  line {}: {}", problem.line, problem.what);
    }
    if count > MAX_LISTED_PROBLEMS {
        let _ = write!(message, "\n  and {} more", count - MAX_LISTED_PROBLEMS);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::tests::Note;

    fn note_model() -> &'static ModelDescriptor {
        crate::model::find_model("CliTestNote").expect("the test model is registered")
    }

    fn check(input: &str) -> Result<WriteBatch, String> {
        read(note_model(), input.as_bytes(), "notes.jsonl", false, CliError::Stdin).map_err(|e| e.to_string())
    }

    #[test]
    fn every_line_is_checked_and_every_bad_one_is_named() {
        let input = concat!(
            "{\"id\":\"a\",\"words\":[]}\n",
            "\n",
            "{\"id\":\"b\",\"words\":3}\n",
            "{\"id\":\"\",\"words\":[]}\n",
            "{\"id\":\"a\",\"words\":[\"x\"]}\n",
            "not json\n",
            "{\"id\":\"c\",\"words\":[]}",
        );
        let err = check(input).unwrap_err();
        assert!(err.starts_with("nothing was imported: 4 lines are not a valid CliTestNote in notes.jsonl"), "{err}");
        assert!(err.contains("\n  line 3: invalid type: integer `3`, expected a sequence (at column"), "{err}");
        assert!(err.contains("\n  line 4: the id is empty"), "{err}");
        assert!(err.contains("\n  line 5: the id `a` is already used on line 1"), "{err}");
        assert!(err.contains("\n  line 6: expected"), "{err}");
        assert!(!err.contains("line 7"), "{err}");
    }

    #[test]
    fn blank_lines_crlf_and_a_byte_order_mark_are_accepted() {
        let batch =
            check("\u{feff}{\"id\":\"a\",\"words\":[]}\r\n   \r\n{\"id\":\"b\",\"words\":[\"x\"]}\r\n").unwrap();
        assert_eq!(batch.len(), 2);
        let _ = Note { id: String::new(), words: Vec::new() };
    }

    #[test]
    fn invalid_utf8_is_a_bad_line_not_a_crash() {
        let err = read(note_model(), &b"{\"id\":\"a\",\"words\":[]}\n\xff\xfe\n"[..], "x", false, CliError::Stdin)
            .unwrap_err();
        assert!(err.to_string().contains("line 2: not valid UTF-8"), "{err}");
    }

    #[test]
    fn unknown_fields_are_refused_by_name_unless_allowed() {
        let input = "{\"id\":\"a\",\"words\":[]}\n{\"id\":\"b\",\"words\":[],\"delted\":true}\n";
        let err = check(input).unwrap_err();
        assert!(err.starts_with("nothing was imported: 1 line is not a valid CliTestNote"), "{err}");
        assert!(err.contains("\n  line 2: the field `delted` is not a field of CliTestNote"), "{err}");
        assert!(!err.contains("line 1:"), "{err}");
        let allowed = read(note_model(), input.as_bytes(), "notes.jsonl", true, CliError::Stdin).unwrap();
        assert_eq!(allowed.len(), 2);
    }

    #[test]
    fn long_lists_of_problems_are_cut() {
        let input = "x\n".repeat(25);
        let err = check(&input).unwrap_err();
        assert!(err.contains("line 20: "), "{err}");
        assert!(!err.contains("line 21: "), "{err}");
        assert!(err.ends_with("\n  and 5 more"), "{err}");
    }
}
