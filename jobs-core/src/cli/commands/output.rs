//! `jobs output ID [--full]`: a completed run's output, as stored (identical lines folded into
//! `(Nx) line`, cut at the run's output limit, ending `<TRUNCATED>` when cut) or, with
//! `--full`, every line the job produced. To stdout, or to a file with `--output`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::ops::ControlFlow;
use std::path::Path;

use crate::cli::Cli;
use crate::cli::args::OutputArgs;
use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::cli::report::plural;
use crate::runs::{OutputKind, OutputSummary, RunId, RunLog, RunsError, Status};

pub(super) fn run(cli: &Cli, store_path: &Path, args: &OutputArgs, console: &mut Console<'_>) -> Result<(), CliError> {
    let store = cli.open_existing_store(store_path)?;
    let record = store.get_run(&args.id)?;
    let summary = match (record.status(), record.output) {
        (Status::Completed, Some(summary)) => summary,
        (status, _) => {
            return Err(RunsError::NoOutput { id: args.id.clone(), status }.into());
        }
    };
    if args.full && !summary.full_output_kept {
        return Err(RunsError::FullOutputNotKept { id: args.id.clone() }.into());
    }
    let kind = if args.full { OutputKind::Full } else { OutputKind::Stored };
    let target = match &args.output {
        None => {
            write_lines(store.as_ref(), &args.id, kind, &mut *console.out, CliError::stdout)?;
            console.flush()?;
            String::new()
        }
        Some(path) => {
            write_file(store.as_ref(), &args.id, kind, path)?;
            format!(", written to {}", path.display())
        }
    };
    console.say(format_args!("run {}: {}{target}", args.id, describe(&summary, kind)));
    Ok(())
}

/// What was printed, for stderr: how many lines, and whether they were folded or cut.
fn describe(summary: &OutputSummary, kind: OutputKind) -> String {
    let lines = plural(summary.lines, "line", "lines");
    match kind {
        OutputKind::Full => format!("{lines}, every one"),
        OutputKind::Stored if summary.stored_lines == summary.lines && !summary.truncated => lines,
        OutputKind::Stored => {
            let mut how = Vec::new();
            let mut distinct = String::new();
            if summary.distinct < summary.lines {
                how.push("identical lines folded".to_owned());
                distinct = format!(" ({} distinct)", summary.distinct);
            }
            if summary.truncated {
                how.push(format!("cut at {} characters", summary.limit));
            }
            format!(
                "{lines}{distinct} shown as {}: {}; --full prints every line",
                plural(summary.stored_lines, "line", "lines"),
                how.join(", ")
            )
        }
    }
}

/// Writes one form of run `id`'s output to `out`, one line each, and returns how many lines.
///
/// # Errors
/// The store failed, or writing failed (mapped by `write_error`).
pub(super) fn write_lines(
    log: &dyn RunLog,
    id: &RunId,
    kind: OutputKind,
    out: &mut dyn Write,
    write_error: impl Fn(io::Error) -> CliError,
) -> Result<u64, CliError> {
    let mut written = 0u64;
    let mut failed = None;
    log.visit_output(id, kind, &mut |line| match out.write_all(line.as_bytes()).and_then(|()| out.write_all(b"\n")) {
        Ok(()) => {
            written += 1;
            ControlFlow::Continue(())
        }
        Err(error) => {
            failed = Some(error);
            ControlFlow::Break(())
        }
    })?;
    match failed {
        Some(error) => Err(write_error(error)),
        None => Ok(written),
    }
}

/// Writes to `path`; on failure removes the partial file, so a file that exists is whole.
fn write_file(log: &dyn RunLog, id: &RunId, kind: OutputKind, path: &Path) -> Result<u64, CliError> {
    let file_error = |action| move |source| CliError::File { action, path: path.to_path_buf(), source };
    let file = File::create(path).map_err(file_error("create"))?;
    let mut writer = BufWriter::new(file);
    let result = write_lines(log, id, kind, &mut writer, file_error("write")).and_then(|count| {
        let file = writer.into_inner().map_err(|e| file_error("write")(e.into_error()))?;
        file.sync_all().map_err(file_error("write"))?;
        Ok(count)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_says_whether_lines_were_folded_or_cut() {
        let whole = OutputSummary {
            lines: 3,
            distinct: 3,
            stored_lines: 3,
            stored_chars: 30,
            truncated: false,
            limit: 900_000,
            full_output_kept: true,
        };
        assert_eq!(describe(&whole, OutputKind::Stored), "3 lines");
        assert_eq!(describe(&whole, OutputKind::Full), "3 lines, every one");
        let folded = OutputSummary { lines: 50, distinct: 2, stored_lines: 2, ..whole };
        assert_eq!(
            describe(&folded, OutputKind::Stored),
            "50 lines (2 distinct) shown as 2 lines: identical lines folded; --full prints every line"
        );
        let cut = OutputSummary { truncated: true, limit: 20, ..folded };
        assert_eq!(
            describe(&cut, OutputKind::Stored),
            "50 lines (2 distinct) shown as 2 lines: identical lines folded, cut at 20 characters; --full prints \
             every line"
        );
        let only_cut = OutputSummary { distinct: 50, ..cut };
        assert_eq!(
            describe(&only_cut, OutputKind::Stored),
            "50 lines shown as 2 lines: cut at 20 characters; --full prints every line"
        );
    }
}
