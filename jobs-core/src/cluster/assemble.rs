//! Process 0 turns the gathered parts into the run's report, in the local engine's order:
//! output by key, map failures in task order, then reduce failures by key.

use crate::engine::{MAX_REPORTED_FAILURES, Progress, RunReport};
use crate::job::Job;

use super::ClusterError;
use super::wire::{Part, decode};

/// Builds the report from every worker's encoded parts, for a plan of `task_count` tasks.
/// `canceled` is this process's own cancel flag; a part from a canceled worker, or a task
/// nobody mapped, cancels the run too. The shards that other
/// processes mapped are recorded in `progress` from their summaries (`mapped_here` tells which
/// tasks this process mapped itself).
pub(super) fn assemble<J: Job>(
    parts: &[Vec<u8>],
    task_count: usize,
    canceled: bool,
    progress: &Progress,
    mapped_here: &dyn Fn(u32) -> bool,
) -> Result<RunReport, ClusterError> {
    let mut report = RunReport { job: J::NAME.to_owned(), canceled, ..RunReport::default() };
    let mut tasks = Vec::new();
    let mut keyed_lines = Vec::new();
    let mut key_failures = Vec::new();
    let mut failure_count = 0;
    for bytes in parts {
        match decode::<Part<J::Key>>(bytes).map_err(ClusterError::Protocol)? {
            Part::Task(summary) => {
                if let Some(error) = &summary.store_error {
                    return Err(ClusterError::Store(error.clone()));
                }
                tasks.push(summary);
            }
            Part::Reduced(part) => {
                if let Some(error) = part.error {
                    return Err(ClusterError::Protocol(error));
                }
                report.canceled |= part.canceled;
                report.stats.keys_reduced += part.keys_reduced;
                failure_count += part.failure_count;
                keyed_lines.extend(part.lines);
                key_failures.extend(part.failures);
            }
        }
    }
    tasks.sort_by_key(|summary| summary.task);
    // A worker skips its remaining tasks only when told to stop; a cancel may reach another
    // process before this one, so a missing task means a canceled run, never a short report.
    if tasks.len() < task_count {
        report.canceled = true;
    }
    let mut failures = Vec::new();
    for summary in tasks {
        if !mapped_here(summary.task)
            && let Some(shard) = progress.shards().get(summary.task as usize)
        {
            // Entities that failed emitted nothing, so the task's pairs are the emitted ones.
            let done = !summary.canceled && summary.store_error.is_none();
            shard.absorb(summary.entities_read, summary.pairs_emitted, summary.failure_count, &summary.counters, done);
        }
        report.canceled |= summary.canceled;
        report.counters.merge(&summary.counters);
        report.stats.entities_read += summary.entities_read;
        report.stats.pairs_emitted += summary.pairs_emitted;
        report.stats.writes_committed += summary.writes_committed;
        failure_count += summary.failure_count;
        let room = MAX_REPORTED_FAILURES.saturating_sub(failures.len());
        failures.extend(summary.failures.into_iter().take(room));
    }
    // Each key was reduced by exactly one worker, so sorting by key alone is total.
    key_failures.sort_by(|a, b| a.0.cmp(&b.0));
    failures.extend(key_failures.into_iter().map(|(_, failure)| failure));
    failures.truncate(MAX_REPORTED_FAILURES);
    report.failures = failures;
    report.stats.failures = failure_count;
    if !report.canceled {
        keyed_lines.sort_by(|a, b| a.0.cmp(&b.0));
        report.output = keyed_lines.into_iter().flat_map(|(_, lines)| lines).collect();
    }
    Ok(report)
}
