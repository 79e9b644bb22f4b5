//! `jobs runs`: recorded runs, newest first, as a table or as JSON lines.

use std::path::Path;

use crate::cli::Cli;
use crate::cli::args::{DAY_SECS, RunsArgs};
use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::cli::report::{elapsed, plural};
use crate::exec::now_ms;
use crate::runs::{ListQuery, RunRecord, Status};
use crate::timestamp;
use crate::views::RunView;

/// The longest error shown in the table's NOTE column; `jobs status` shows it whole.
const NOTE_ERROR_CHARS: usize = 80;

pub(super) fn run(cli: &Cli, store_path: &Path, args: &RunsArgs, console: &mut Console<'_>) -> Result<(), CliError> {
    let store = cli.open_existing_store(store_path)?;
    let now = now_ms();
    let window_ms = i64::try_from(args.days.saturating_mul(DAY_SECS * 1000)).unwrap_or(i64::MAX);
    let query = ListQuery { since_ms: Some(now.saturating_sub(window_ms)), limit: args.limit, job: args.job.clone() };
    let records = store.list(&query)?;
    if args.json {
        for record in &records {
            let line = serde_json::to_string(&RunView::new(record, now_ms(), true))
                .map_err(|e| CliError::Internal(e.to_string()))?;
            console.data(&line)?;
        }
    } else if !records.is_empty() {
        for line in table(&records, now) {
            console.text(&line)?;
        }
    }
    console.flush()?;
    let of_job = args.job.as_ref().map(|job| format!(" of {job}")).unwrap_or_default();
    let more = if records.len() >= args.limit {
        format!(" (the newest {}; --limit shows more)", args.limit)
    } else {
        String::new()
    };
    console.say(format_args!(
        "{}{of_job} created in the last {} in {}{more}",
        plural(records.len() as u64, "run", "runs"),
        plural(args.days, "day", "days"),
        store.location()
    ));
    Ok(())
}

/// A header and one row per run: id, status, creation time, duration, and a note.
fn table(records: &[RunRecord], now_ms: i64) -> Vec<String> {
    let rows: Vec<[String; 5]> = records
        .iter()
        .map(|r| {
            [
                r.id().to_string(),
                r.status().to_string(),
                timestamp::utc(r.created_ms()),
                r.duration(now_ms).map_or_else(|| "-".to_owned(), elapsed),
                note(r),
            ]
        })
        .collect();
    let header = ["RUN", "STATUS", "CREATED (UTC)", "DURATION", "NOTE"].map(str::to_owned);
    let widths: Vec<usize> = (0..4)
        .map(|column| rows.iter().chain([&header]).map(|row| row[column].chars().count()).max().unwrap_or(0))
        .collect();
    [&header]
        .into_iter()
        .chain(&rows)
        .map(|row| {
            let line = format!(
                "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3]
            );
            line.trim_end().to_owned()
        })
        .collect()
}

/// What else a person wants to see at a glance: dry run, progress, output, failures, error.
fn note(record: &RunRecord) -> String {
    let mut parts = Vec::new();
    if record.dry_run {
        parts.push("dry run".to_owned());
    }
    match record.status() {
        Status::Started => {
            let progress = &record.progress;
            parts.push(format!("{} of {} entities read", progress.read(), progress.total()));
            if record.is_cancel_requested() {
                parts.push("cancel requested".to_owned());
            }
        }
        Status::Completed => {
            if let Some(output) = &record.output {
                parts.push(plural(output.lines, "output line", "output lines"));
            }
        }
        Status::New | Status::Queued | Status::Failed | Status::Canceled => {}
    }
    if record.stats.failures > 0 {
        parts.push(plural(record.stats.failures, "failure", "failures"));
    }
    if let Some(error) = &record.error {
        parts.push(shorten(error.lines().next().unwrap_or_default(), NOTE_ERROR_CHARS));
    }
    parts.join("; ")
}

/// `text` cut to `max` characters, ending with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;
    use crate::runs::OutputSummary;

    #[test]
    fn the_table_aligns_runs_under_their_header() {
        let mut done = RunRecord::new("AuditJob", Params::new(), 8, 2, false, 1_718_000_000_000);
        done.transition_at(Status::Queued, 1_718_000_000_000).unwrap();
        done.transition_at(Status::Started, 1_718_000_000_100).unwrap();
        done.transition_at(Status::Completed, 1_718_000_002_600).unwrap();
        done.output = Some(OutputSummary { lines: 12, ..OutputSummary::default() });
        let mut dead = RunRecord::new("MigrationJob", Params::new(), 8, 2, true, 1_718_000_000_000);
        dead.transition_at(Status::Queued, 1_718_000_000_000).unwrap();
        dead.transition_at(Status::Started, 1_718_000_000_000).unwrap();
        dead.transition_at(Status::Failed, 1_718_000_000_840).unwrap();
        dead.error = Some("interrupted".to_owned());
        let mut waiting = RunRecord::new("AuditJob", Params::new(), 8, 2, false, 1_718_000_000_000);
        waiting.transition_at(Status::Queued, 1_718_000_000_000).unwrap();

        let lines = table(&[done.clone(), dead.clone(), waiting.clone()], 0);
        let id_width = dead.id().as_str().len();
        assert_eq!(lines[0], format!("{:id_width$}  STATUS     CREATED (UTC)        DURATION  NOTE", "RUN"));
        assert_eq!(
            lines[1],
            format!("{:id_width$}  completed  2024-06-10 06:13:20  2.5 s     12 output lines", done.id().as_str())
        );
        assert_eq!(lines[2], format!("{}  failed     2024-06-10 06:13:20  840 ms    dry run; interrupted", dead.id()));
        assert_eq!(lines[3], format!("{:id_width$}  queued     2024-06-10 06:13:20  -", waiting.id().as_str()));
    }

    #[test]
    fn long_errors_are_shortened_in_the_table() {
        assert_eq!(shorten("abcdef", 6), "abcdef");
        assert_eq!(shorten("abcdefg", 6), "abcde…");
    }
}
