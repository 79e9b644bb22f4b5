//! What the JSON API returns: stable shapes built from the registry and run records (the
//! records' own serde form is a storage format, free to change).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::exec::{FailureRecord, FailureSite, RunStats};
use crate::params::ParamSpec;
use crate::registry::JobDescriptor;
use crate::runs::{CancelOutcome, OutputSummary, RunPhase, RunRecord, Status};

/// A registered job, as `GET /api/jobs` lists it.
#[derive(Debug, Serialize)]
pub(crate) struct JobJson {
    name: &'static str,
    models: &'static [&'static str],
    default_shards: usize,
    summary: &'static str,
    description: &'static str,
    params: Vec<ParamJson>,
    /// The ids of its runs queued or started now.
    active_runs: Vec<String>,
}

#[derive(Debug, Serialize)]
struct ParamJson {
    name: &'static str,
    #[serde(rename = "type")]
    type_name: &'static str,
    expected: &'static str,
    required: bool,
    doc: &'static str,
}

impl JobJson {
    pub(crate) fn new(job: &JobDescriptor, active: &[RunRecord]) -> Self {
        JobJson {
            name: job.name(),
            models: job.models(),
            default_shards: job.default_shards(),
            summary: job.summary(),
            description: job.description(),
            params: job.params().iter().map(ParamJson::from).collect(),
            active_runs: active.iter().filter(|r| r.job == job.name()).map(|r| r.id().to_string()).collect(),
        }
    }
}

impl From<&ParamSpec> for ParamJson {
    fn from(spec: &ParamSpec) -> Self {
        ParamJson {
            name: spec.name,
            type_name: spec.type_name,
            expected: spec.expected,
            required: spec.required,
            doc: spec.doc,
        }
    }
}

/// A run, as the API shows it.
#[derive(Debug, Serialize)]
pub(crate) struct RunJson {
    id: String,
    job: String,
    status: Status,
    created_ms: i64,
    queued_ms: Option<i64>,
    started_ms: Option<i64>,
    finished_ms: Option<i64>,
    duration_ms: Option<u64>,
    params: BTreeMap<String, String>,
    shards: usize,
    threads: usize,
    dry_run: bool,
    engine: String,
    stats: RunStats,
    counters: BTreeMap<String, u64>,
    progress: ProgressJson,
    output: Option<OutputSummary>,
    error: Option<String>,
    interrupted: bool,
    failures: Vec<FailureJson>,
    cancel_requested_ms: Option<i64>,
    pid: Option<u32>,
}

#[derive(Debug, Serialize)]
struct ProgressJson {
    phase: Option<RunPhase>,
    read: u64,
    total: u64,
    keys_reduced: u64,
    /// Per shard; only in a single run's detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    shards: Option<Vec<ShardJson>>,
}

#[derive(Debug, Serialize)]
struct ShardJson {
    kind: String,
    index: usize,
    total: u64,
    read: u64,
    emitted: u64,
    failed: u64,
    done: bool,
}

#[derive(Debug, Serialize)]
struct FailureJson {
    /// What failed: `<kind> <id>`, or `reduce key <key as JSON>`.
    site: String,
    /// Why.
    message: String,
}

impl From<&FailureRecord> for FailureJson {
    fn from(failure: &FailureRecord) -> Self {
        let site = match &failure.site {
            FailureSite::Entity { kind, id } => format!("{kind} {id}"),
            FailureSite::Key { key } => format!("reduce key {key}"),
        };
        FailureJson { site, message: failure.message.clone() }
    }
}

impl RunJson {
    /// `record` as of `now_ms`; with every shard's progress when `with_shards`.
    pub(crate) fn new(record: &RunRecord, now_ms: i64, with_shards: bool) -> Self {
        let progress = &record.progress;
        RunJson {
            id: record.id().to_string(),
            job: record.job.clone(),
            status: record.status(),
            created_ms: record.created_ms(),
            queued_ms: record.queued_ms,
            started_ms: record.started_ms,
            finished_ms: record.finished_ms,
            duration_ms: record.duration(now_ms).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            params: record.params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            shards: record.shards,
            threads: record.threads,
            dry_run: record.dry_run,
            engine: record.engine.clone(),
            stats: record.stats,
            counters: record.counters.iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            progress: ProgressJson {
                phase: progress.phase,
                read: progress.read(),
                total: progress.total(),
                keys_reduced: progress.keys_reduced,
                shards: with_shards.then(|| {
                    progress
                        .shards
                        .iter()
                        .map(|s| ShardJson {
                            kind: s.kind.clone(),
                            index: s.index,
                            total: s.total,
                            read: s.read,
                            emitted: s.emitted,
                            failed: s.failed,
                            done: s.done,
                        })
                        .collect()
                }),
            },
            output: record.output,
            error: record.error.clone(),
            interrupted: record.was_interrupted(),
            failures: record.failures.iter().map(FailureJson::from).collect(),
            cancel_requested_ms: record.cancel_requested_ms,
            pid: record.pid,
        }
    }
}

/// `GET /api/runs`.
#[derive(Debug, Serialize)]
pub(crate) struct RunsJson {
    /// Queued or started, oldest first.
    pub(crate) active: Vec<RunJson>,
    /// Created in the last 14 days, newest first, at most 100 (unfinished ones included).
    pub(crate) recent: Vec<RunJson>,
}

/// `POST /api/jobs/{name}/runs`: the run just queued.
#[derive(Debug, Serialize)]
pub(crate) struct StartedJson {
    /// The run, `queued`.
    pub(crate) run: RunJson,
    /// The ids of the job's other runs that were queued or started at the time.
    pub(crate) already_active: Vec<String>,
}

/// `GET /api/runs/{id}/output`.
#[derive(Debug, Serialize)]
pub(crate) struct OutputJson {
    /// The run.
    pub(crate) id: String,
    /// `stored` (folded and cut) or `full` (every line).
    pub(crate) kind: &'static str,
    /// What the stored output holds.
    pub(crate) summary: Option<OutputSummary>,
    /// The lines.
    pub(crate) lines: Vec<String>,
}

/// `POST /api/runs/{id}/cancel`.
#[derive(Debug, Serialize)]
pub(crate) struct CancelJson {
    /// `canceled` (it was queued), `requested` (it is stopping) or `already_finished`.
    pub(crate) outcome: &'static str,
    /// Its status after the request.
    pub(crate) status: Status,
}

impl CancelJson {
    pub(crate) fn new(outcome: CancelOutcome, status: Status) -> Self {
        let outcome = match outcome {
            CancelOutcome::Canceled => "canceled",
            CancelOutcome::Requested => "requested",
            CancelOutcome::AlreadyFinished(_) => "already_finished",
        };
        CancelJson { outcome, status }
    }
}
