//! What every request handler shares: the run log, the runner, the authentication state, and a
//! way to do store work off the async threads.

use std::sync::Arc;

use crate::runs::{RunId, RunLog, RunRecord, RunsError};

use super::auth::{Auth, Principal};
use super::error::HttpError;
use super::runner::Runner;
use super::views::PageContext;

/// The state behind the router.
pub(crate) struct AppState {
    /// Where runs are recorded (and models read).
    pub(crate) log: Arc<dyn RunLog>,
    /// Carries out runs started from the page.
    pub(crate) runner: Runner,
    /// The admin token and sessions.
    pub(crate) auth: Arc<Auth>,
    /// The store's location, shown in the top bar.
    pub(crate) store: String,
}

impl AppState {
    /// What every page of `principal` shows besides its own content.
    pub(crate) fn page<'a>(&'a self, principal: &'a Principal) -> PageContext<'a> {
        PageContext { csrf: principal.csrf(), store: &self.store }
    }
}

/// Run `id`'s record as stored. [`RunLog::get_run`] would first record a run whose process
/// died `interrupted`, a write; a GET reads with this instead, and records nothing.
///
/// # Errors
/// No run has this id, or the store failed.
pub(crate) fn read_run(log: &dyn RunLog, id: &RunId) -> Result<RunRecord, RunsError> {
    log.load_run(id)?.ok_or_else(|| RunsError::UnknownRun { id: id.clone() })
}

/// As [`read_run`], for a GET of the run's output: [`RunsError::NoOutput`] unless it has
/// finished, so that the output's own reads find a finished run and record nothing either.
///
/// # Errors
/// As [`read_run`], or the run has not finished.
pub(crate) fn read_finished_run(log: &dyn RunLog, id: &RunId) -> Result<RunRecord, RunsError> {
    let record = read_run(log, id)?;
    if record.status().is_finished() {
        Ok(record)
    } else {
        Err(RunsError::NoOutput { id: id.clone(), status: record.status() })
    }
}

/// As [`read_finished_run`], for a GET of the run's full output: it must have kept one.
///
/// # Errors
/// As [`read_finished_run`], the run has no output ([`RunsError::NoOutput`]), or it did not
/// keep its full output ([`RunsError::FullOutputNotKept`]).
pub(crate) fn read_full_output_run(log: &dyn RunLog, id: &RunId) -> Result<RunRecord, RunsError> {
    let record = read_finished_run(log, id)?;
    match &record.output {
        None => Err(RunsError::NoOutput { id: id.clone(), status: record.status() }),
        Some(summary) if !summary.full_output_kept => Err(RunsError::FullOutputNotKept { id: id.clone() }),
        Some(_) => Ok(record),
    }
}

/// Runs `work` (store reads and writes, which block) on tokio's blocking threads.
///
/// # Errors
/// `work` failed, or panicked (answered 500; the panic is logged by the hook).
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, HttpError>
where
    F: FnOnce() -> Result<T, HttpError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| HttpError::internal(format!("the request's work stopped unexpectedly: {error}")))?
}
