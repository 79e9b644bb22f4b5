//! The JSON API under `/api/`: the same data as the pages, for scripts. Authenticate with
//! `Authorization: Bearer <admin token>` (or a session cookie plus `X-CSRF-Token` for POST).
//! Errors are `{"error": "..."}` with a fitting status; a refused start names its field.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::ops::ControlFlow;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::exec::now_ms;
use crate::registry;
use crate::runs::{ListQuery, OutputKind, RunId, RunLog};

use super::error::{ApiError, HttpError};
use super::form::{self, StartForm};
use super::json::{CancelJson, JobJson, OutputJson, RunJson, RunsJson, StartedJson};
use super::state::{AppState, blocking, read_finished_run, read_full_output_run, read_run};

type App = State<Arc<AppState>>;

/// `GET /api/jobs`: every registered job, with its parameters and active runs.
pub(crate) async fn jobs(State(app): App) -> Result<Json<Vec<JobJson>>, ApiError> {
    let registry = registry::registry()?;
    let log = Arc::clone(&app.log);
    // Reads only, as `GET /` does.
    let active = blocking(move || Ok(log.active_runs()?)).await?;
    Ok(Json(registry.jobs().iter().map(|job| JobJson::new(job, &active)).collect()))
}

/// The query of `GET /api/runs`.
#[derive(Debug, Deserialize)]
pub(crate) struct RunsQuery {
    /// Only runs of this job.
    job: Option<String>,
}

/// `GET /api/runs[?job=NAME]`: runs queued or started, and runs of the last 14 days (at most
/// 100).
pub(crate) async fn runs(State(app): App, Query(query): Query<RunsQuery>) -> Result<Json<RunsJson>, ApiError> {
    let log = Arc::clone(&app.log);
    let now = now_ms();
    let (active, recent) = blocking(move || {
        let mut list = ListQuery::recent(now);
        list.job = query.job.clone();
        // `list_runs`, not `list`: a GET records nothing.
        let recent = log.list_runs(&list)?;
        let mut active = log.active_runs()?;
        if let Some(job) = &query.job {
            active.retain(|r| &r.job == job);
        }
        Ok((active, recent))
    })
    .await?;
    Ok(Json(RunsJson {
        active: active.iter().map(|r| RunJson::new(r, now, false)).collect(),
        recent: recent.iter().map(|r| RunJson::new(r, now, false)).collect(),
    }))
}

/// `GET /api/runs/{id}`: one run, with each shard's progress.
pub(crate) async fn run(State(app): App, Path(id): Path<String>) -> Result<Json<RunJson>, ApiError> {
    let id = RunId::parse(&id)?;
    let log = Arc::clone(&app.log);
    let record = blocking(move || Ok(read_run(&*log, &id)?)).await?;
    Ok(Json(RunJson::new(&record, now_ms(), true)))
}

/// The query of `GET /api/runs/{id}/output`.
#[derive(Debug, Deserialize)]
pub(crate) struct OutputQuery {
    /// Every line, unfolded, instead of the stored output.
    #[serde(default)]
    full: bool,
}

/// `GET /api/runs/{id}/output[?full=true]`: a completed run's output lines (409 before). The
/// full output, which may be far larger than memory, is streamed.
pub(crate) async fn output(
    State(app): App,
    Path(id): Path<String>,
    Query(query): Query<OutputQuery>,
) -> Result<Response, ApiError> {
    let id = RunId::parse(&id)?;
    let log = Arc::clone(&app.log);
    if query.full {
        return full_output(log, id).await;
    }
    let (record, lines) = blocking(move || {
        let record = read_finished_run(&*log, &id)?;
        let lines = if query.full { log.full_output(&id)? } else { log.stored_output(&id)? };
        Ok((record, lines))
    })
    .await?;
    Ok(Json(OutputJson {
        id: record.id().to_string(),
        kind: if query.full { "full" } else { "stored" },
        summary: record.output,
        lines,
    })
    .into_response())
}

/// The [`OutputJson`] of run `id`'s full output, written line by line as it is read.
async fn full_output(log: Arc<dyn RunLog>, id: RunId) -> Result<Response, ApiError> {
    let (check_log, check_id) = (Arc::clone(&log), id.clone());
    let record = blocking(move || Ok(read_full_output_run(&*check_log, &check_id)?)).await?;
    let to_json = |e: serde_json::Error| HttpError::internal(e.to_string());
    let head = format!(
        r#"{{"id":{},"kind":"full","summary":{},"lines":["#,
        serde_json::to_string(record.id().as_str()).map_err(to_json)?,
        serde_json::to_string(&record.output).map_err(to_json)?
    );
    let body = super::stream::streamed("a run's output", move |out| {
        out.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
        let mut first = true;
        let mut failed = None;
        log.visit_output(&id, OutputKind::Full, &mut |line| {
            let separator: &[u8] = if first { b"" } else { b"," };
            first = false;
            let written = out
                .write_all(separator)
                .and_then(|()| serde_json::to_writer(&mut *out, line).map_err(std::io::Error::from));
            match written {
                Ok(()) => ControlFlow::Continue(()),
                Err(error) => {
                    failed = Some(error);
                    ControlFlow::Break(())
                }
            }
        })
        .map_err(|e| e.to_string())?;
        if let Some(error) = failed {
            return Err(error.to_string());
        }
        out.write_all(b"]}").map_err(|e| e.to_string())
    });
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// The body of `POST /api/jobs/{name}/runs`; every field may be left out.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartBody {
    /// Shards per model; the job's default when absent.
    shards: Option<u64>,
    /// Worker threads, 1 to [`MAX_THREADS`](crate::runs::MAX_THREADS); one per core when absent.
    threads: Option<u64>,
    /// Count writes instead of storing them.
    #[serde(default)]
    dry_run: bool,
    /// How many entities and keys may fail; the job's limit when absent.
    max_failures: Option<u64>,
    /// Parameters: text, numbers or booleans.
    #[serde(default)]
    params: BTreeMap<String, serde_json::Value>,
}

/// `POST /api/jobs/{name}/runs`: checks and queues a run, carried out in the server (201).
pub(crate) async fn start(
    State(app): App,
    Path(name): Path<String>,
    body: Result<Json<StartBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|rejection| HttpError::bad_request(rejection.body_text()))?;
    let job = registry::registry()?.get(&name)?;
    let mut form = StartForm {
        shards: body.shards.map(|n| n.to_string()).unwrap_or_default(),
        threads: body.threads.map(|n| n.to_string()).unwrap_or_default(),
        dry_run: body.dry_run,
        max_failures: body.max_failures.map(|n| n.to_string()).unwrap_or_default(),
        params: BTreeMap::new(),
    };
    for (param, value) in body.params {
        let text = match value {
            serde_json::Value::String(text) => text,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Null => continue,
            _ => return Err(field_error(&param, "give a string, a number or a boolean")),
        };
        form.params.insert(param, text);
    }
    let request = match form::request(job, &form) {
        Ok(request) => request,
        Err(errors) => {
            let (field, message) =
                errors.first().map_or(("", "the request is not valid"), |e| (e.field.name(), e.message.as_str()));
            return Err(field_error(field, message));
        }
    };
    let app2 = Arc::clone(&app);
    let queued = blocking(move || app2.runner.start(&request)).await?;
    let body = StartedJson {
        run: RunJson::new(&queued.record, now_ms(), false),
        already_active: queued.already_active.iter().map(|r| r.id().to_string()).collect(),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// A 400 naming the field: `{"error": "<field>: ...", "field": "<field>"}`.
fn field_error(field: &str, message: &str) -> ApiError {
    ApiError(HttpError::bad_request(format!("{field}: {message}")).about(field))
}

/// `POST /api/runs/{id}/cancel`: cancels a queued run, or asks a started one to stop.
pub(crate) async fn cancel(State(app): App, Path(id): Path<String>) -> Result<Json<CancelJson>, ApiError> {
    let id = RunId::parse(&id)?;
    let log = Arc::clone(&app.log);
    let (outcome, record) = blocking(move || {
        log.recover_interrupted()?;
        let outcome = log.request_cancel(&id)?;
        Ok((outcome, log.get_run(&id)?))
    })
    .await?;
    Ok(Json(CancelJson::new(outcome, record.status())))
}
