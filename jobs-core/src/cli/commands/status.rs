//! `jobs status ID`: one run in full: status, times, options, progress (overall and per
//! shard), counters, output, failures and error; or its whole record as JSON.

use std::path::Path;

use crate::cli::Cli;
use crate::cli::args::StatusArgs;
use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::cli::report::{self, elapsed, plural};
use crate::context::Counters;
use crate::exec::now_ms;
use crate::runs::{RunPhase, RunRecord, Status};
use crate::timestamp;
use crate::views::RunView;

pub(super) fn run(cli: &Cli, store_path: &Path, args: &StatusArgs, console: &mut Console<'_>) -> Result<(), CliError> {
    let store = cli.open_existing_store(store_path)?;
    let record = store.get_run(&args.id)?;
    if args.json {
        let line = serde_json::to_string(&RunView::new(&record, now_ms(), true))
            .map_err(|e| CliError::Internal(e.to_string()))?;
        console.data(&line)?;
    } else {
        for line in describe(&record, now_ms()) {
            console.text(&line)?;
        }
    }
    Ok(())
}

/// `label:` padded so that values line up.
fn field(label: &str, value: impl std::fmt::Display) -> String {
    format!("{:<10}{value}", format!("{label}:"))
}

/// The lines of `jobs status`, with `now_ms` as the end of a run still going.
fn describe(record: &RunRecord, now_ms: i64) -> Vec<String> {
    let mut lines = vec![field("run", record.id()), field("job", &record.job)];
    let mut status = record.status().to_string();
    if record.status() == Status::Started && record.is_cancel_requested() {
        status.push_str(" (cancel requested: it stops within a second)");
    }
    lines.push(field("status", status));
    if !record.params.is_empty() {
        lines.push(field("params", &record.params));
    }
    let mut options = format!(
        "{} per model, {}, {} engine",
        plural(record.shards as u64, "shard", "shards"),
        plural(record.threads as u64, "thread", "threads"),
        record.engine
    );
    if record.max_failures > 0 {
        options.push_str(&format!(", {} allowed", plural(record.max_failures, "failure", "failures")));
    }
    if record.dry_run {
        options.push_str(", dry run (writes counted, not stored)");
    }
    if record.attempts > 1 {
        options.push_str(&format!(", {} attempts (the cluster failed and the job was run again)", record.attempts));
    }
    lines.push(field("options", options));
    lines.push(field("created", format!("{} UTC", timestamp::utc(record.created_ms()))));
    for (label, at) in [("queued", record.queued_ms), ("started", record.started_ms), ("finished", record.finished_ms)]
    {
        if let Some(at) = at {
            lines.push(field(label, format!("{} UTC", timestamp::utc(at))));
        }
    }
    if let Some(took) = record.duration(now_ms) {
        let so_far = if record.status().is_finished() { "" } else { " so far" };
        lines.push(field("duration", format!("{}{so_far}", elapsed(took))));
    }
    if let (Status::Started, Some(pid)) = (record.status(), record.pid) {
        lines.push(field("process", format!("pid {pid}")));
    }
    lines.extend(progress(record));
    lines.push(field("counters", counters(record)));
    if let Some(output) = &record.output {
        let cut = if output.truncated {
            format!(", cut at {} characters (`jobs output --full` has every line)", output.limit)
        } else {
            String::new()
        };
        lines.push(field(
            "output",
            format!(
                "{} ({} distinct); stored: {}, {}{cut}",
                plural(output.lines, "line", "lines"),
                output.distinct,
                plural(output.stored_lines, "line", "lines"),
                plural(output.stored_chars, "character", "characters"),
            ),
        ));
    }
    if let Some(error) = &record.error {
        lines.push(field("error", error));
    }
    lines.extend(report::failures(record));
    lines.extend(shards(record));
    lines
}

/// The phase and overall progress, once the engine has begun.
fn progress(record: &RunRecord) -> Vec<String> {
    let progress = &record.progress;
    let Some(phase) = progress.phase else {
        return Vec::new();
    };
    let phase = match phase {
        RunPhase::Planning => "planning",
        RunPhase::Map => "map",
        RunPhase::Reduce => "reduce",
        RunPhase::Done => "done",
    };
    let done = progress.shards.iter().filter(|s| s.done).count();
    vec![
        field("phase", phase),
        field(
            "progress",
            format!(
                "{} of {} entities read, {done} of {} shards mapped, {} reduced",
                progress.read(),
                progress.total(),
                progress.shards.len(),
                plural(progress.keys_reduced, "key", "keys")
            ),
        ),
    ]
}

/// The built-in counters, then the job's own. While a run goes, the job's counters are the
/// sum of its shards' so far.
fn counters(record: &RunRecord) -> String {
    let stats = &record.stats;
    let mut text = format!(
        "entities read={}, pairs emitted={}, keys reduced={}, failures={}",
        stats.entities_read, stats.pairs_emitted, stats.keys_reduced, stats.failures
    );
    if stats.writes_committed > 0 {
        text.push_str(&format!(", writes committed={}", stats.writes_committed));
    }
    let own = if record.status().is_finished() {
        report::job_counters(&record.counters)
    } else {
        let mut sum = Counters::default();
        for shard in &record.progress.shards {
            sum.merge(&shard.counters);
        }
        report::job_counters(&sum)
    };
    if !own.is_empty() {
        text.push_str("; ");
        text.push_str(&own);
    }
    text
}

/// A table of every shard's progress.
fn shards(record: &RunRecord) -> Vec<String> {
    let shards = &record.progress.shards;
    if shards.is_empty() {
        return Vec::new();
    }
    let kind_width = shards.iter().map(|s| s.kind.len()).chain(["MODEL".len()]).max().unwrap_or(5);
    let mut lines = vec![
        "shards:".to_owned(),
        format!(
            "  {:kind_width$}  {:>5}  {:>9}  {:>9}  {:>9}  {:>7}  MAPPED",
            "MODEL", "SHARD", "READ", "TOTAL", "EMITTED", "FAILED"
        ),
    ];
    lines.extend(shards.iter().map(|s| {
        format!(
            "  {:kind_width$}  {:>5}  {:>9}  {:>9}  {:>9}  {:>7}  {}",
            s.kind,
            s.index,
            s.read,
            s.total,
            s.emitted,
            s.failed,
            if s.done { "yes" } else { "no" }
        )
    }));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;
    use crate::runs::{RunProgress, ShardRecord};

    #[test]
    fn a_running_run_shows_its_progress_per_shard_and_counters_so_far() {
        let params = Params::parse_args(["min_len=3"]).unwrap();
        let mut record = RunRecord::new("AuditJob", params, 2, 1, true, 1_718_000_000_000);
        record.transition_at(Status::Queued, 1_718_000_000_000).unwrap();
        record.transition_at(Status::Started, 1_718_000_001_000).unwrap();
        record.pid = Some(4242);
        let mut counters = Counters::default();
        counters.add("MIGRATED", 2);
        record.progress = RunProgress {
            phase: Some(RunPhase::Map),
            shards: vec![
                ShardRecord {
                    kind: "ExplorationModel".into(),
                    index: 0,
                    total: 10,
                    read: 10,
                    emitted: 20,
                    failed: 1,
                    counters: counters.clone(),
                    done: true,
                },
                ShardRecord {
                    kind: "ExplorationModel".into(),
                    index: 1,
                    total: 10,
                    read: 4,
                    emitted: 8,
                    failed: 0,
                    counters,
                    done: false,
                },
            ],
            keys_reduced: 0,
        };
        record.stats = record.progress.live_stats();
        record.cancel_requested_ms = Some(1_718_000_002_000);
        let lines = describe(&record, 1_718_000_003_500);
        let id = record.id().to_string();
        let expected = [
            format!("run:      {id}"),
            "job:      AuditJob".to_owned(),
            "status:   started (cancel requested: it stops within a second)".to_owned(),
            "params:   min_len=3".to_owned(),
            "options:  2 shards per model, 1 thread, local engine, dry run (writes counted, not stored)".to_owned(),
            "created:  2024-06-10 06:13:20 UTC".to_owned(),
            "queued:   2024-06-10 06:13:20 UTC".to_owned(),
            "started:  2024-06-10 06:13:21 UTC".to_owned(),
            "duration: 2.5 s so far".to_owned(),
            "process:  pid 4242".to_owned(),
            "phase:    map".to_owned(),
            "progress: 14 of 20 entities read, 1 of 2 shards mapped, 0 keys reduced".to_owned(),
            "counters: entities read=14, pairs emitted=28, keys reduced=0, failures=0; MIGRATED=4".to_owned(),
            "shards:".to_owned(),
            "  MODEL             SHARD       READ      TOTAL    EMITTED   FAILED  MAPPED".to_owned(),
            "  ExplorationModel      0         10         10         20        1  yes".to_owned(),
            "  ExplorationModel      1          4         10          8        0  no".to_owned(),
        ];
        assert_eq!(lines, expected);
    }

    #[test]
    fn a_failed_run_shows_its_error() {
        let mut record = RunRecord::new("AuditJob", Params::new(), 2, 1, false, 0);
        record.transition_at(Status::Queued, 0).unwrap();
        record.transition_at(Status::Started, 0).unwrap();
        record.transition_at(Status::Failed, 100).unwrap();
        record.error = Some("interrupted".into());
        let lines = describe(&record, 99_999);
        assert!(lines.contains(&"status:   failed".to_owned()), "{lines:#?}");
        assert!(lines.contains(&"duration: 100 ms".to_owned()), "{lines:#?}");
        assert_eq!(lines.last().map(String::as_str), Some("error:    interrupted"));
    }
}
