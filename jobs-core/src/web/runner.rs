//! Runs started from the page: queued and recorded like any run, then carried out in this
//! server's process by [`runs::run_claimed`] on worker threads: at most `max_running` at once
//! ([`ServeConfig::max_running`](super::ServeConfig::max_running), the number of cores by
//! default). Runs started beyond that wait `queued`, claimed by this process, and start in
//! order as others finish; so any number of starts through the API costs a record each, not a
//! run each.
//!
//! The page's requests never wait for a run: they read its record, which the runner saves
//! every 250 ms, so a run survives page reloads and can be watched from any browser (or from
//! `jobs status` in another terminal). The runner's thread holds the run's liveness claim, so
//! if the server stops (Ctrl-C, a crash, a kill) the next process that opens the store records
//! the run `failed` with error `interrupted`. A cancel from the page is a
//! [`request_cancel`](crate::runs::RunLog::request_cancel) on the record, like `jobs cancel`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::thread;

use crate::runs::{self, Queued, RunClaim, RunId, RunLog, RunRequest, RunnerOptions};

use super::error::HttpError;

/// Starts runs in this process, at most `max_running` at once; the others wait `queued`, in
/// the order they were started, each claimed by this process so that it is recorded
/// `interrupted` if the server stops before running it.
pub(crate) struct Runner {
    log: Arc<dyn RunLog>,
    max_running: usize,
    waiting: Arc<Mutex<Waiting>>,
}

/// The runs accepted and not yet taken by a worker thread, and how many workers there are.
#[derive(Default)]
struct Waiting {
    runs: VecDeque<(RunId, RunClaim)>,
    workers: usize,
}

impl Runner {
    /// A runner recording in `log`, carrying out at most `max_running` runs at once (at
    /// least 1).
    pub(crate) fn new(log: Arc<dyn RunLog>, max_running: usize) -> Self {
        Runner { log, max_running: max_running.max(1), waiting: Arc::default() }
    }

    /// Queues `request` and hands it to a worker thread (a new one, unless `max_running`
    /// are busy: it then waits for one); returns at once with the queued record. Blocks on the
    /// store: call it off the async threads.
    ///
    /// # Errors
    /// The request is refused (unknown job, bad parameters, shards or threads: nothing is
    /// queued), the store failed, or no thread could be started (the run is then canceled,
    /// not left queued).
    pub(crate) fn start(&self, request: &RunRequest) -> Result<Queued, HttpError> {
        // Claimed from the start, so a server killed before a worker starts the run leaves
        // it `interrupted`, not `queued` for ever.
        let (queued, claim) = runs::queue_claimed(&*self.log, request)?;
        let id = queued.record.id().clone();
        let mut waiting = crate::sync::lock(&self.waiting);
        waiting.runs.push_back((id.clone(), claim));
        let ahead = waiting.runs.len() - 1;
        if waiting.workers >= self.max_running {
            tracing::info!(run = %id, job = %request.job, ahead, "run queued by the admin page: the runs it allows at once are going");
            return Ok(queued);
        }
        waiting.workers += 1;
        drop(waiting);
        let log = Arc::clone(&self.log);
        let queue = Arc::clone(&self.waiting);
        let spawned = thread::Builder::new().name("admin page runs".to_owned()).spawn(move || work(&*log, &queue));
        if let Err(error) = spawned {
            tracing::error!(run = %id, %error, "could not start a thread for the run");
            let mut waiting = crate::sync::lock(&self.waiting);
            waiting.workers -= 1;
            // Without any worker, nothing would ever take the waiting runs: cancel them all.
            let stranded: Vec<RunId> = if waiting.workers == 0 {
                waiting.runs.drain(..).map(|(id, _claim)| id).collect()
            } else {
                waiting
                    .runs
                    .iter()
                    .position(|(waiting_id, _)| *waiting_id == id)
                    .and_then(|at| waiting.runs.remove(at))
                    .map(|(id, _)| id)
                    .into_iter()
                    .collect()
            };
            drop(waiting);
            for stranded in stranded {
                if let Err(cancel_error) = self.log.request_cancel(&stranded) {
                    tracing::error!(run = %stranded, error = %cancel_error, "could not cancel the run that has no thread");
                }
            }
            return Err(HttpError::internal(format!(
                "could not start a thread for run {id} ({error}); it was canceled"
            )));
        }
        tracing::info!(run = %id, job = %request.job, "run started from the admin page");
        Ok(queued)
    }
}

/// A worker: carries out waiting runs, oldest first, until none is left.
fn work(log: &dyn RunLog, waiting: &Mutex<Waiting>) {
    loop {
        let next = {
            let mut waiting = crate::sync::lock(waiting);
            match waiting.runs.pop_front() {
                Some(next) => next,
                None => {
                    waiting.workers -= 1;
                    return;
                }
            }
        };
        let (id, claim) = next;
        // A run canceled while it waited is finished: `run_claimed` returns it as it is.
        // Job code's panics are caught by the engine; anything else must not take the worker
        // (and the runs waiting for it) down.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runs::run_claimed(log, &id, claim, &RunnerOptions::default())
        }));
        match ran {
            Ok(Ok(record)) => tracing::info!(run = %id, status = %record.status(), "run finished"),
            Ok(Err(error)) => tracing::error!(run = %id, %error, "run could not be carried out"),
            Err(_) => tracing::error!(run = %id, "run stopped by an internal error"),
        }
    }
}
