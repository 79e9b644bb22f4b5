//! What the JSON API returns: stable shapes built from the registry and run records (the
//! records' own serde form is a storage format, free to change).

use serde::Serialize;

use crate::registry::JobDescriptor;
use crate::runs::{CancelOutcome, OutputSummary, RunRecord, Status};
use crate::views::JobView;
pub(crate) use crate::views::RunView as RunJson;

/// A registered job, as `GET /api/jobs` lists it: the [`JobView`] that `jobs list --json`
/// prints, and the job's active runs.
#[derive(Debug, Serialize)]
pub(crate) struct JobJson {
    #[serde(flatten)]
    job: JobView,
    /// The ids of its runs queued or started now.
    active_runs: Vec<String>,
}

impl JobJson {
    pub(crate) fn new(job: &JobDescriptor, active: &[RunRecord]) -> Self {
        JobJson {
            job: JobView::new(job),
            active_runs: active.iter().filter(|r| r.job == job.name()).map(|r| r.id().to_string()).collect(),
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
