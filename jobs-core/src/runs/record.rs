//! [`RunRecord`]: everything stored about one run, and its lifecycle changes.

use std::time::Duration;

use crate::context::Counters;
use crate::exec::{self, FailureRecord, Phase, Progress, RunStats};
use crate::params::Params;

use super::{RunId, RunsError, Status};

/// The engine a run uses, as recorded, unless another engine is chosen
/// ([`EngineChoice::name`](crate::engines::EngineChoice::name)).
pub use crate::engine::LOCAL_ENGINE;

/// The engine a run was carried out on, as its record names it: stored as the engine's name
/// (`local`, `timely`), the same text records held when this field was a string, so records
/// written before read back unchanged, and a name this version does not know (an engine of a
/// later version) is kept as it was written.
///
/// ```
/// use jobs_core::runs::EngineName;
///
/// assert_eq!(EngineName::from_name("local"), EngineName::Local);
/// assert_eq!(EngineName::from_name("timely").as_str(), "timely");
/// assert_eq!(EngineName::from_name("gpu"), EngineName::Other("gpu".into()));
/// assert_eq!(EngineName::Local, "local");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum EngineName {
    /// Threads on one machine ([`LOCAL_ENGINE`]).
    #[default]
    Local,
    /// Timely-dataflow workers (the feature `timely`'s engine).
    Timely,
    /// An engine this version does not know, by the name recorded.
    Other(String),
}

impl EngineName {
    /// The timely engine's recorded name.
    const TIMELY: &str = "timely";

    /// The engine named `name`, as an engine names itself
    /// ([`EngineChoice::name`](crate::engines::EngineChoice::name)) and records store it.
    pub fn from_name(name: &str) -> Self {
        match name {
            LOCAL_ENGINE => EngineName::Local,
            Self::TIMELY => EngineName::Timely,
            other => EngineName::Other(other.to_owned()),
        }
    }

    /// The name as recorded.
    pub fn as_str(&self) -> &str {
        match self {
            EngineName::Local => LOCAL_ENGINE,
            EngineName::Timely => Self::TIMELY,
            EngineName::Other(name) => name,
        }
    }
}

impl std::fmt::Display for EngineName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for EngineName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for EngineName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for EngineName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for EngineName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(EngineName::from_name(&name))
    }
}

/// The error of a run whose process died while it was `started`.
pub const INTERRUPTED: &str = "interrupted";

/// The error of a run that completed with more failed entities and keys than it allowed.
/// Its output is stored all the same, and its first failures are listed in the record.
///
/// ```
/// assert_eq!(
///     jobs_core::runs::failure_limit_error(3, 0),
///     "3 entities or keys failed, more than the 0 allowed (max_failures); fix them and run again, \
///      or allow more: the run's max_failures, or `#[one_off_job(max_failures = N)]`"
/// );
/// ```
pub fn failure_limit_error(failures: u64, max_failures: u64) -> String {
    format!(
        "{failures} entities or keys failed, more than the {max_failures} allowed (max_failures); fix them and run \
         again, or allow more: the run's max_failures, or `#[one_off_job(max_failures = N)]`"
    )
}

/// Everything stored about one run (Oppia's `JobModel`).
///
/// The record stays small (a few KB): the output lives apart, in chunks (see
/// [`RunLog::stored_output`](super::RunLog::stored_output)), and only its
/// [`OutputSummary`] is here, so listing a hundred runs or polling one for a cancel request
/// never decodes megabytes of output.
///
/// The id, creation time and status are read through methods and change only through
/// [`transition`](Self::transition), so the lifecycle cannot be bypassed; the other fields are
/// plain data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunRecord {
    id: RunId,
    created_ms: i64,
    status: Status,
    /// The job's name.
    pub job: String,
    /// The parameters given, as text.
    #[serde(default)]
    pub params: Params,
    /// Shards per model.
    pub shards: usize,
    /// Worker threads.
    pub threads: usize,
    /// The engine that runs it: [`EngineName::Local`] unless another engine was chosen.
    pub engine: EngineName,
    /// Whether writes are counted instead of stored.
    #[serde(default)]
    pub dry_run: bool,
    /// How many entities and keys may fail before the run ends `failed` instead of
    /// `completed`: the request's limit, or the job's.
    #[serde(default)]
    pub max_failures: u64,
    /// When it became `queued` (ms since the Unix epoch).
    #[serde(default)]
    pub queued_ms: Option<i64>,
    /// When it became `started`.
    #[serde(default)]
    pub started_ms: Option<i64>,
    /// When it finished: `completed`, `failed` or `canceled`.
    #[serde(default)]
    pub finished_ms: Option<i64>,
    /// The job's own counters (`ctx.count`) plus the engine's `puts` and `deletes`; filled in
    /// when the run finishes.
    #[serde(default)]
    pub counters: Counters,
    /// The built-in counters: entities read, pairs emitted, keys reduced, failures, writes.
    /// Updated while the run goes (from its progress) and exact once it has finished.
    #[serde(default)]
    pub stats: RunStats,
    /// Progress per shard, saved every few hundred milliseconds while the run goes.
    #[serde(default)]
    pub progress: RunProgress,
    /// What the stored output holds, once the run has completed.
    #[serde(default)]
    pub output: Option<OutputSummary>,
    /// Why it failed: the engine's error, or [`INTERRUPTED`].
    #[serde(default)]
    pub error: Option<String>,
    /// The first failed entities and keys; `stats.failures` counts them all.
    #[serde(default)]
    pub failures: Vec<FailureRecord>,
    /// When a cancel was asked for while it was `started`; the process running it stops soon
    /// after.
    #[serde(default)]
    pub cancel_requested_ms: Option<i64>,
    /// The id of the process that ran it, for people reading `jobs status`.
    #[serde(default)]
    pub pid: Option<u32>,
    /// How many times the engine started the job: more than 1 when the timely engine ran it
    /// again after its cluster failed (`--retries`); 0 until it has finished.
    #[serde(default)]
    pub attempts: u32,
    /// The shuffle's memory budget in bytes ([`RunOptions::max_memory`](crate::RunOptions::max_memory));
    /// the engine's default when `None`.
    #[serde(default)]
    pub max_memory: Option<u64>,
}

/// The progress of a run, as saved in its record.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunProgress {
    /// The phase; `None` before the engine began.
    #[serde(default)]
    pub phase: Option<RunPhase>,
    /// Each shard of each model, in (model, shard) order.
    #[serde(default)]
    pub shards: Vec<ShardRecord>,
    /// Keys reduced so far.
    #[serde(default)]
    pub keys_reduced: u64,
}

/// Which phase a run is in; the stored form of [`Phase`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunPhase {
    /// Splitting the kinds into shards.
    Planning,
    /// Mapping shards.
    Map,
    /// Sorting and reducing keys.
    Reduce,
    /// The engine is done.
    Done,
}

/// The progress of one shard of one model.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardRecord {
    /// The model's kind.
    pub kind: String,
    /// The shard's index within its kind.
    pub index: usize,
    /// Entities in the shard when it was split.
    pub total: u64,
    /// Entities read so far.
    pub read: u64,
    /// Pairs emitted so far.
    pub emitted: u64,
    /// Entities that failed so far.
    #[serde(default)]
    pub failed: u64,
    /// The job's own counters for this shard.
    #[serde(default)]
    pub counters: Counters,
    /// Whether the shard has been mapped completely.
    pub done: bool,
}

/// What a completed run's stored output holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutputSummary {
    /// Lines the job produced: the full output, [`RunLog::full_output`](super::RunLog::full_output).
    pub lines: u64,
    /// Distinct lines, once identical ones are folded into `(Nx) line`.
    pub distinct: u64,
    /// Lines of the stored output, [`RunLog::stored_output`](super::RunLog::stored_output).
    pub stored_lines: u64,
    /// Characters of the stored output's lines, the `<TRUNCATED>` marker not counted.
    pub stored_chars: u64,
    /// Whether the stored output was cut at the limit.
    pub truncated: bool,
    /// The limit it was cut at, in characters.
    pub limit: u64,
    /// Whether the full output was kept ([`RunLog::full_output`](super::RunLog::full_output)).
    /// A run started from the command line prints it instead, unless asked to keep it
    /// ([`RunnerOptions::keep_full_output`](super::RunnerOptions::keep_full_output)); records
    /// from before this field kept it always.
    #[serde(default = "full_output_kept_before_it_was_recorded")]
    pub full_output_kept: bool,
}

fn full_output_kept_before_it_was_recorded() -> bool {
    true
}

impl RunRecord {
    /// A `new` run of `job`, created at `created_ms`, with a fresh id.
    pub fn new(job: &str, params: Params, shards: usize, threads: usize, dry_run: bool, created_ms: i64) -> Self {
        RunRecord {
            id: RunId::generate(job, created_ms),
            created_ms,
            status: Status::New,
            job: job.to_owned(),
            params,
            shards,
            threads,
            engine: EngineName::Local,
            dry_run,
            max_failures: 0,
            queued_ms: None,
            started_ms: None,
            finished_ms: None,
            counters: Counters::default(),
            stats: RunStats::default(),
            progress: RunProgress::default(),
            output: None,
            error: None,
            failures: Vec::new(),
            cancel_requested_ms: None,
            pid: None,
            attempts: 0,
            max_memory: None,
        }
    }

    /// The run's id.
    pub fn id(&self) -> &RunId {
        &self.id
    }

    /// When the record was created (ms since the Unix epoch).
    pub fn created_ms(&self) -> i64 {
        self.created_ms
    }

    /// Where the run is in its lifecycle.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Moves the run to `to` now, stamping the matching time.
    ///
    /// # Errors
    /// The lifecycle does not allow it; the error names both states.
    pub fn transition(&mut self, to: Status) -> Result<(), RunsError> {
        self.transition_at(to, exec::now_ms())
    }

    /// Moves the run to `to` at `at_ms`, stamping `queued_ms`, `started_ms` or `finished_ms`.
    ///
    /// # Errors
    /// The lifecycle does not allow it; the error names both states.
    pub fn transition_at(&mut self, to: Status, at_ms: i64) -> Result<(), RunsError> {
        if !self.status.can_become(to) {
            return Err(RunsError::InvalidTransition { id: self.id.clone(), from: self.status, to });
        }
        match to {
            Status::New => {}
            Status::Queued => self.queued_ms = Some(at_ms),
            Status::Started => self.started_ms = Some(at_ms),
            Status::Completed | Status::Failed | Status::Canceled => self.finished_ms = Some(at_ms),
        }
        self.status = to;
        Ok(())
    }

    /// How long it ran: from started to finished, or to `now_ms` while it runs. `None` if it
    /// never started.
    pub fn duration(&self, now_ms: i64) -> Option<Duration> {
        let started = self.started_ms?;
        let end = self.finished_ms.unwrap_or(now_ms);
        Some(Duration::from_millis(u64::try_from(end - started).unwrap_or(0)))
    }

    /// Whether a cancel was asked for.
    pub fn is_cancel_requested(&self) -> bool {
        self.cancel_requested_ms.is_some()
    }

    /// Whether its process died while it ran (it failed with [`INTERRUPTED`]).
    pub fn was_interrupted(&self) -> bool {
        self.status == Status::Failed && self.error.as_deref() == Some(INTERRUPTED)
    }
}

impl RunProgress {
    /// A snapshot of a live [`Progress`].
    pub fn capture(progress: &Progress) -> Self {
        RunProgress {
            phase: Some(match progress.phase() {
                Phase::Planning => RunPhase::Planning,
                Phase::Map => RunPhase::Map,
                Phase::Reduce => RunPhase::Reduce,
                Phase::Done => RunPhase::Done,
            }),
            shards: progress
                .shards()
                .iter()
                .map(|shard| ShardRecord {
                    kind: shard.kind.to_owned(),
                    index: shard.index,
                    total: shard.total,
                    read: shard.read(),
                    emitted: shard.emitted(),
                    failed: shard.failed(),
                    counters: shard.counters(),
                    done: shard.is_done(),
                })
                .collect(),
            keys_reduced: progress.keys_reduced(),
        }
    }

    /// Entities read across all shards.
    pub fn read(&self) -> u64 {
        self.shards.iter().map(|s| s.read).sum()
    }

    /// Entities across all shards when they were split.
    pub fn total(&self) -> u64 {
        self.shards.iter().map(|s| s.total).sum()
    }

    /// Pairs emitted across all shards.
    pub fn emitted(&self) -> u64 {
        self.shards.iter().map(|s| s.emitted).sum()
    }

    /// The built-in counters this progress implies, for a run still going.
    pub fn live_stats(&self) -> RunStats {
        RunStats {
            entities_read: self.read(),
            pairs_emitted: self.emitted(),
            keys_reduced: self.keys_reduced,
            ..RunStats::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> RunRecord {
        RunRecord::new("Job", Params::new(), 4, 2, false, 1_000)
    }

    #[test]
    fn a_run_goes_through_its_lifecycle_stamping_times() {
        let mut run = record();
        assert_eq!(run.status(), Status::New);
        run.transition_at(Status::Queued, 1_001).unwrap();
        run.transition_at(Status::Started, 1_010).unwrap();
        assert_eq!(run.duration(1_510), Some(Duration::from_millis(500)), "a running run's duration grows");
        run.transition_at(Status::Completed, 1_110).unwrap();
        assert_eq!((run.queued_ms, run.started_ms, run.finished_ms), (Some(1_001), Some(1_010), Some(1_110)));
        assert_eq!(run.duration(9_999), Some(Duration::from_millis(100)), "a finished run's duration is fixed");
    }

    #[test]
    fn engine_names_are_stored_as_the_text_records_held_before() {
        for (engine, text) in [
            (EngineName::Local, "\"local\""),
            (EngineName::Timely, "\"timely\""),
            (EngineName::Other("gpu".into()), "\"gpu\""),
        ] {
            assert_eq!(serde_json::to_string(&engine).unwrap(), text);
            assert_eq!(serde_json::from_str::<EngineName>(text).unwrap(), engine);
        }
    }

    #[test]
    fn the_default_engine_is_recorded_as_local() {
        assert_eq!(EngineName::from_name(crate::engines::EngineChoice::default().name()), EngineName::Local);
    }

    #[test]
    fn an_invalid_transition_names_both_states_and_changes_nothing() {
        let mut run = record();
        run.transition_at(Status::Queued, 1).unwrap();
        let before = run.clone();
        let err = run.transition_at(Status::Completed, 2).unwrap_err();
        assert_eq!(err.to_string(), format!("run {} cannot go from `queued` to `completed`", run.id()));
        assert_eq!(run, before);
        run.transition_at(Status::Canceled, 3).unwrap();
        let err = run.transition_at(Status::Started, 4).unwrap_err();
        assert!(err.to_string().ends_with("cannot go from `canceled` to `started`"), "{err}");
    }
}
