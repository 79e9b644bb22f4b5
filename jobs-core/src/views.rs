//! The JSON views front ends share: a job as `jobs list --json` prints it and `GET /api/jobs`
//! returns it, and a run as `jobs status --json` prints it and `GET /api/runs/{id}` returns
//! it, one shape for each. Views are built from the registry, never from a stored
//! format, so storage can change without changing what scripts read.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::exec::{FailureRecord, FailureSite, RunStats};
use crate::params::ParamSpec;
use crate::registry::JobDescriptor;
use crate::runs::{OutputSummary, RunPhase, RunRecord, Status};

/// A registered job, as JSON.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct JobView {
    name: &'static str,
    models: &'static [&'static str],
    default_shards: usize,
    /// Failed entities and keys a run may have and still complete.
    max_failures: u64,
    /// The first line of its doc comment.
    summary: &'static str,
    /// The first paragraph of its doc comment, as one line.
    description: String,
    /// Its whole doc comment.
    doc: &'static str,
    params: Vec<ParamView>,
    /// The module that defines it.
    module: &'static str,
}

/// One parameter of a job, as JSON.
#[derive(Debug, Clone, Serialize)]
struct ParamView {
    name: &'static str,
    #[serde(rename = "type")]
    type_name: &'static str,
    expected: &'static str,
    required: bool,
    doc: &'static str,
}

impl JobView {
    /// The view of `job`.
    pub(crate) fn new(job: &JobDescriptor) -> Self {
        JobView {
            name: job.name(),
            models: job.models(),
            default_shards: job.default_shards(),
            max_failures: job.max_failures(),
            summary: job.summary(),
            description: first_paragraph(job.description()),
            doc: job.description(),
            params: job.params().iter().map(ParamView::from).collect(),
            module: job.module_path(),
        }
    }
}

impl From<&ParamSpec> for ParamView {
    fn from(spec: &ParamSpec) -> Self {
        ParamView {
            name: spec.name,
            type_name: spec.type_name,
            expected: spec.expected,
            required: spec.required,
            doc: spec.doc,
        }
    }
}

/// A run, as JSON: `jobs status --json`, `jobs runs --json` and the API's runs.
#[derive(Debug, Serialize)]
pub(crate) struct RunView {
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
    max_failures: u64,
    max_memory: Option<u64>,
    attempts: u32,
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

impl RunView {
    /// `record` as of `now_ms`; with every shard's progress when `with_shards`.
    pub(crate) fn new(record: &RunRecord, now_ms: i64, with_shards: bool) -> Self {
        let progress = &record.progress;
        RunView {
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
            engine: record.engine.to_string(),
            max_failures: record.max_failures,
            max_memory: record.max_memory,
            attempts: record.attempts,
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

/// The first paragraph of a doc comment as one line: a description wrapped over several
/// lines of source reads whole, and later paragraphs (details, examples) are left out.
pub(crate) fn first_paragraph(doc: &str) -> String {
    let lines = doc.lines().map(str::trim).skip_while(|line| line.is_empty());
    lines.take_while(|line| !line.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::first_paragraph;

    #[test]
    fn a_wrapped_first_paragraph_is_one_line() {
        let doc = "Reports explorations that have no rights model, and rights models that have no\nexploration.\n\nEach report line is ...";
        assert_eq!(
            first_paragraph(doc),
            "Reports explorations that have no rights model, and rights models that have no exploration."
        );
        assert_eq!(first_paragraph(""), "");
        assert_eq!(first_paragraph("\n  One.  \n"), "One.");
    }
}
