//! What every request handler shares: the run log, the runner, the authentication state, and a
//! way to do store work off the async threads.

use std::sync::Arc;

use crate::runs::RunLog;

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
