//! Runs started from the page: queued and recorded like any run, then carried out in this
//! server's process by [`runs::run_queued`] on a thread of their own.
//!
//! The page's requests never wait for a run: they read its record, which the runner saves
//! every 250 ms, so a run survives page reloads and can be watched from any browser (or from
//! `jobs status` in another terminal). The runner's thread holds the run's liveness claim, so
//! if the server stops (Ctrl-C, a crash, a kill) the next process that opens the store records
//! the run `failed` with error `interrupted`. A cancel from the page is a
//! [`request_cancel`](crate::runs::RunLog::request_cancel) on the record, like `jobs cancel`.

use std::sync::Arc;
use std::thread;

use crate::runs::{self, Queued, RunLog, RunRequest, RunnerOptions};

use super::error::HttpError;

/// Starts runs in this process.
pub(crate) struct Runner {
    log: Arc<dyn RunLog>,
}

impl Runner {
    /// A runner recording in `log`.
    pub(crate) fn new(log: Arc<dyn RunLog>) -> Self {
        Runner { log }
    }

    /// Queues `request` and starts carrying it out on a new thread; returns at once with the
    /// queued record. Blocks on the store: call it off the async threads.
    ///
    /// # Errors
    /// The request is refused (unknown job, bad parameters or shards: nothing is queued), the
    /// store failed, or no thread could be started (the run is then canceled, not left
    /// queued).
    pub(crate) fn start(&self, request: &RunRequest) -> Result<Queued, HttpError> {
        // Claimed from the start, so a server killed before the thread starts the run leaves
        // it `interrupted`, not `queued` for ever.
        let (queued, claim) = runs::queue_claimed(&*self.log, request)?;
        let id = queued.record.id().clone();
        let log = Arc::clone(&self.log);
        let run_id = id.clone();
        let spawned = thread::Builder::new().name(format!("run {}", id.job())).spawn(move || {
            match runs::run_claimed(&*log, &run_id, claim, &RunnerOptions::default()) {
                Ok(record) => tracing::info!(run = %run_id, status = %record.status(), "run finished"),
                Err(error) => tracing::error!(run = %run_id, %error, "run could not be carried out"),
            }
        });
        if let Err(error) = spawned {
            tracing::error!(run = %id, %error, "could not start a thread for the run");
            if let Err(cancel_error) = self.log.request_cancel(&id) {
                tracing::error!(run = %id, error = %cancel_error, "could not cancel the run that has no thread");
            }
            return Err(HttpError::internal(format!(
                "could not start a thread for run {id} ({error}); it was canceled"
            )));
        }
        tracing::info!(run = %id, job = %request.job, "run started from the admin page");
        Ok(queued)
    }
}
