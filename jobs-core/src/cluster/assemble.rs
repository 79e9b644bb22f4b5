//! Process 0 turns the gathered parts into the run's report, in the local engine's order:
//! output by key, map failures in task order, then reduce failures by key. The output is
//! merged from its own workers' spooled text and the lines of the other processes, into the
//! run's sink as the local engine does, never gathered whole when there is one.

use crate::exec::report_text::{self, MergeError, PartitionText};
use crate::exec::{MAX_REPORTED_FAILURES, OutputSink, Progress, RunReport};
use crate::job::{Job, Reduce};

use super::ClusterError;
use super::wire::{Part, decode};

/// The lines other processes sent, by key.
pub(super) type RemoteLines<J> = Vec<(<J as Reduce>::Key, Vec<String>)>;

/// Builds the report from every worker's encoded parts, for a plan of `task_count` tasks,
/// and returns it with the lines the other processes' workers sent, sorted by key (none if
/// the run was canceled); its output is [merged](merge_output) from them and the text of
/// process 0's own workers.
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
) -> Result<(RunReport, RemoteLines<J>), ClusterError> {
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
                if let Some(error) = part.spill_error {
                    return Err(ClusterError::Spill(error));
                }
                report.spilled_bytes += part.spilled_bytes;
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
        report.pairs_shuffled += summary.pairs_shipped;
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
    if report.canceled {
        keyed_lines.clear();
    }
    keyed_lines.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((report, keyed_lines))
}

/// Merges process 0's workers' `texts` with the `remote` lines, by key, into `sink`, or into
/// `report.output` without one; a canceled run prints nothing.
///
/// # Errors
/// The text could not be read back, or the sink refused it; neither is worth a retry.
pub(super) fn merge_output<J: Job>(
    mut report: RunReport,
    mut texts: Vec<PartitionText>,
    remote: &RemoteLines<J>,
    sink: Option<&OutputSink>,
) -> Result<RunReport, ClusterError> {
    if report.canceled {
        return Ok(report);
    }
    texts.push(report_text::lines_in_memory(remote).map_err(|e| ClusterError::Spill(e.to_string()))?);
    match report_text::merge_into::<J::Key>(texts, sink) {
        Ok(lines) => report.output = lines,
        Err(MergeError::Spill(error)) => return Err(ClusterError::Spill(error.to_string())),
        Err(MergeError::Write(error)) => return Err(ClusterError::Output(error.to_string())),
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{Counters, MapContext};
    use crate::exec::{FailureRecord, FailureSite};
    use crate::job::{Failure, Outcome, Output, Reduce, Values};
    use crate::params::{ParamError, ParamSpec, Params};

    use super::super::wire::{ReducedPart, TaskSummary, encode};

    /// Only its key type matters here.
    struct Keys;

    impl Reduce for Keys {
        type Key = u32;
        type Value = u32;
        fn reduce(&self, _key: u32, _values: Values<'_, u32>, _out: &mut Output) -> Outcome {
            Ok(())
        }
    }

    impl Job for Keys {
        const NAME: &'static str = "Keys";
        const MODELS: &'static [&'static str] = &["K"];
        const DEFAULT_SHARDS: usize = 1;
        const PARAMS: &'static [ParamSpec] = &[];
        fn from_params(_params: &Params) -> Result<Self, ParamError> {
            Ok(Keys)
        }
        fn map_stored(&self, _model: usize, _bytes: &[u8], _ctx: &mut MapContext<'_, Self>) -> Outcome {
            Err(Failure::new("not mapped in these tests"))
        }
    }

    fn failure(site: FailureSite) -> FailureRecord {
        FailureRecord { site, message: "bad".to_owned() }
    }

    fn task(task: u32, read: u64, failed_id: Option<&str>) -> Vec<u8> {
        let mut counters = Counters::default();
        counters.add("seen", read);
        let failures: Vec<FailureRecord> = failed_id
            .map(|id| failure(FailureSite::Entity { kind: "K".to_owned(), id: id.to_owned() }))
            .into_iter()
            .collect();
        let summary = TaskSummary {
            task,
            counters,
            failure_count: failures.len() as u64,
            failures,
            entities_read: read,
            ..TaskSummary::default()
        };
        encode(&Part::<u32>::Task(summary)).unwrap()
    }

    fn reduced(keys: &[u32], failed_key: Option<u32>) -> Vec<u8> {
        let part = ReducedPart {
            lines: keys.iter().map(|k| (*k, vec![format!("line {k}")])).collect(),
            failures: failed_key.map(|k| (k, failure(FailureSite::Key { key: k.to_string() }))).into_iter().collect(),
            failure_count: u64::from(failed_key.is_some()),
            keys_reduced: keys.len() as u64 + u64::from(failed_key.is_some()),
            ..ReducedPart::default()
        };
        encode(&Part::Reduced(part)).unwrap()
    }

    fn assemble_all(parts: &[Vec<u8>], tasks: usize) -> Result<RunReport, ClusterError> {
        let (report, remote) = assemble::<Keys>(parts, tasks, false, &Progress::new(), &|_| true)?;
        merge_output::<Keys>(report, Vec::new(), &remote, None)
    }

    #[test]
    fn lines_come_in_key_order_and_failures_in_task_then_key_order() {
        let parts =
            [reduced(&[9, 2], Some(7)), task(1, 5, Some("b")), reduced(&[4, 1], Some(3)), task(0, 3, Some("a"))];
        let report = assemble_all(&parts, 2).unwrap();
        assert!(!report.canceled);
        assert_eq!(report.output, ["line 1", "line 2", "line 4", "line 9"]);
        let sites: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
        assert_eq!(sites, ["K a: bad", "K b: bad", "reduce key 3: bad", "reduce key 7: bad"]);
        assert_eq!(report.stats.failures, 4);
        assert_eq!(report.stats.entities_read, 8);
        assert_eq!(report.stats.keys_reduced, 6);
        assert_eq!(report.counters.get("seen"), 8);
    }

    #[test]
    fn a_task_nobody_mapped_makes_the_run_canceled_without_output() {
        let report = assemble_all(&[task(0, 3, None), reduced(&[1], None)], 2).unwrap();
        assert!(report.canceled);
        assert!(report.output.is_empty());
    }

    #[test]
    fn a_store_error_in_any_task_fails_the_run() {
        let broken = TaskSummary { task: 1, store_error: Some("disk gone".to_owned()), ..TaskSummary::default() };
        let parts = [task(0, 1, None), encode(&Part::<u32>::Task(broken)).unwrap()];
        let error = assemble_all(&parts, 2).unwrap_err();
        assert_eq!(error.to_string(), "disk gone");
    }
}
