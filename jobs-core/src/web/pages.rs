//! The HTML routes: the jobs page and its start forms, the runs pages and their live parts,
//! cancel, the output download, login and logout.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use crate::exec::now_ms;
use crate::registry;
use crate::runs::RunId;

use super::auth::{ClientIp, Principal};
use super::error::{HttpError, PageError};
use super::form::{self, StartForm};
use super::state::{AppState, blocking, read_full_output_run, read_run};
use super::{paths, views};

type App = State<Arc<AppState>>;
type Caller = Extension<Principal>;

/// `GET /`: every registered job with its start form.
pub(crate) async fn jobs(State(app): App, Extension(principal): Caller) -> Result<Html<String>, PageError> {
    let registry = registry::registry()?;
    let log = Arc::clone(&app.log);
    // Reads only: runs whose process died are recorded `interrupted` at start-up and before
    // each write, never by a GET.
    let active = blocking(move || Ok(log.active_runs()?)).await?;
    let view = views::JobsView { jobs: registry.jobs(), active: &active, rejected: None };
    Ok(views::jobs_page(&app.page(&principal), view))
}

/// `POST /jobs/{name}/start`: checks the form; starts the run and shows its page, or shows
/// the jobs page again (400) with each error under its field. Nothing is queued then.
pub(crate) async fn start(
    State(app): App,
    Extension(principal): Caller,
    Path(name): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let registry = registry::registry()?;
    let job = registry.get(&name)?;
    let form = StartForm::from_fields(fields);
    match form::request(job, &form) {
        Ok(request) => {
            let app2 = Arc::clone(&app);
            let queued = blocking(move || app2.runner.start(&request)).await?;
            Ok(Redirect::to(&paths::run(queued.record.id())).into_response())
        }
        Err(errors) => {
            let log = Arc::clone(&app.log);
            let active = blocking(move || Ok(log.active_runs()?)).await?;
            let view = views::JobsView {
                jobs: registry.jobs(),
                active: &active,
                rejected: Some(views::Rejected { job: job.name(), form: &form, errors: &errors }),
            };
            Ok((StatusCode::BAD_REQUEST, views::jobs_page(&app.page(&principal), view)).into_response())
        }
    }
}

/// `GET /runs`: unfinished and recent runs.
pub(crate) async fn runs(State(app): App, Extension(principal): Caller) -> Result<Html<String>, PageError> {
    let (active, recent) = load_runs(&app).await?;
    Ok(views::runs_page(&app.page(&principal), &active, &recent, now_ms()))
}

/// `GET /live/runs`: the live part of the runs page.
pub(crate) async fn runs_live(State(app): App, Extension(principal): Caller) -> Result<Html<String>, PageError> {
    let (active, recent) = load_runs(&app).await?;
    Ok(Html(views::runs_live(&app.page(&principal), &active, &recent, now_ms()).into_string()))
}

async fn load_runs(
    app: &Arc<AppState>,
) -> Result<(Vec<crate::runs::RunRecord>, Vec<crate::runs::RunRecord>), HttpError> {
    let log = Arc::clone(&app.log);
    blocking(move || {
        // `list_runs`, not `recent`: a GET records nothing (see `jobs`).
        let recent = log.list_runs(&crate::runs::ListQuery::recent(now_ms()))?;
        let active = log.active_runs()?;
        Ok((active, recent))
    })
    .await
}

/// `GET /runs/{id}`: one run, with its output once completed.
pub(crate) async fn run(
    State(app): App,
    Extension(principal): Caller,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let id = RunId::parse(&id)?;
    let log = Arc::clone(&app.log);
    let (record, output) = blocking(move || {
        let record = read_run(&*log, &id)?;
        // A run that failed only by having more failures than it allows keeps its output too.
        let output =
            if record.output.is_some() && record.status().is_finished() { Some(log.stored_output(&id)?) } else { None };
        Ok((record, output))
    })
    .await?;
    let view = views::RunView { record: &record, output: output.as_deref(), now_ms: now_ms() };
    Ok(views::run_page(&app.page(&principal), view))
}

/// `GET /live/runs/{id}`: the live part of a run's page.
pub(crate) async fn run_live(State(app): App, Path(id): Path<String>) -> Result<Html<String>, PageError> {
    let id = RunId::parse(&id)?;
    let log = Arc::clone(&app.log);
    let record = blocking(move || Ok(read_run(&*log, &id)?)).await?;
    Ok(Html(views::run_live(&record, now_ms()).into_string()))
}

/// `POST /runs/{id}/cancel`: asks the run to stop, then shows its page (which shows it
/// stopping, then `canceled`).
pub(crate) async fn cancel(State(app): App, Path(id): Path<String>) -> Result<Redirect, PageError> {
    let id = RunId::parse(&id)?;
    let log = Arc::clone(&app.log);
    let target = paths::run(&id);
    blocking(move || {
        log.recover_interrupted()?;
        Ok(log.request_cancel(&id)?)
    })
    .await?;
    Ok(Redirect::to(&target))
}

/// `GET /runs/{id}/output.txt`: every line of a completed run's output, as a download,
/// streamed.
pub(crate) async fn download(State(app): App, Path(id): Path<String>) -> Result<Response, PageError> {
    let id = RunId::parse(&id)?;
    let log = Arc::clone(&app.log);
    let file_name = file_name(&id);
    // Checked first, so that a run without a full output gets its 404 or 409; then the
    // lines are streamed, never held whole.
    let (check_log, check_id) = (Arc::clone(&log), id.clone());
    blocking(move || Ok(read_full_output_run(&*check_log, &check_id)?)).await?;
    let body = super::stream::streamed("a run's output", move |out| {
        log.export_full_output(&id, out).map(|_| ()).map_err(|e| e.to_string())
    });
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// `<run id>.txt`, with characters other than letters, digits, `-`, `_` and `.` replaced.
fn file_name(id: &RunId) -> String {
    let safe: String = id
        .as_str()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    format!("{safe}.txt")
}

/// The login form's field, or the login URL's query.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenInput {
    token: Option<String>,
}

/// `GET /login`: the login form; with `?token=...` (the URL `jobs serve` prints), the form
/// with the token filled in. A GET never opens a session (nor counts a failure): logging in
/// is the form's `POST`.
pub(crate) async fn login_form(State(app): App, headers: HeaderMap, Query(input): Query<TokenInput>) -> Response {
    match input.token {
        Some(token) => views::login_page_with(None, Some(token.trim())).into_response(),
        None if app.auth.session(&headers).is_some() => Redirect::to("/").into_response(),
        None => views::login_page(None).into_response(),
    }
}

/// `POST /login`: exchanges the admin token for a session cookie.
pub(crate) async fn login(State(app): App, ClientIp(client): ClientIp, Form(input): Form<TokenInput>) -> Response {
    log_in(&app, client, input.token.as_deref().unwrap_or("")).await
}

async fn log_in(app: &AppState, client: Option<std::net::IpAddr>, token: &str) -> Response {
    if !app.auth.check_token(client, token.trim()).await {
        // The same answer whatever was wrong: nothing to learn from it.
        return (StatusCode::UNAUTHORIZED, views::login_page(Some("That is not the admin token."))).into_response();
    }
    match app.auth.open_session() {
        Ok(session) => {
            let mut response = Redirect::to("/").into_response();
            response.headers_mut().insert(header::SET_COOKIE, session.set_cookie);
            response
        }
        Err(error) => PageError(HttpError::internal(error.to_string())).into_response(),
    }
}

/// `POST /logout`: ends the session.
pub(crate) async fn logout(State(app): App, Extension(principal): Caller) -> Response {
    let mut response = Redirect::to("/login").into_response();
    if let Principal::Session { key, .. } = &principal {
        response.headers_mut().insert(header::SET_COOKIE, app.auth.close_session(key));
    }
    response
}

/// Any other path (after authentication): 404, as a page or as JSON under `/api/`.
pub(crate) async fn not_found(uri: axum::http::Uri) -> Response {
    let error = HttpError::not_found(format!("there is no page at {}", uri.path()));
    if uri.path().starts_with("/api/") {
        super::error::ApiError(error).into_response()
    } else {
        PageError(error).into_response()
    }
}
