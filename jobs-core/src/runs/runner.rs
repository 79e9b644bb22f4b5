//! Running a registered job as a recorded run.
//!
//! [`queue`] checks the request and records the run `queued`; [`run_queued`] carries it out
//! in this process; [`run`] does both. Between the two, the run may wait in another process:
//! that is how `jobs run NAME --detach` works (the command line queues the run, prints its id,
//! and starts a background process that calls [`run_queued`]).
//!
//! While the engine works on its own threads, the calling thread wakes every
//! [`RunnerOptions::poll_interval`] (250 ms by default) and, in one short transaction, saves
//! the progress of every shard and the built-in counters, and reads the record back. If a
//! cancel was requested ([`RunLog::request_cancel`], from any process) it cancels the
//! engine's [`CancelToken`], and the engine stops at its next entity or key: a cancel takes
//! effect well within a second. The run then ends `canceled`, with its counters but no output.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;

use crate::engines::EngineChoice;
use crate::exec::output_sink::{Lines, Pieces};
use crate::exec::{self, CancelToken, OutputSink, Progress, RunError, RunOptions, RunReport, Shards, TextSink};
use crate::params::Params;
use crate::store::Store;

use super::output::{DEFAULT_OUTPUT_LIMIT, OutputKind, StoredFold};
use super::store::FullOutputWriter;
use super::{EngineName, RunClaim, RunId, RunLog, RunProgress, RunRecord, RunsError, Status};

/// How often the runner saves progress and looks for a cancel request by default.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// A shorter poll interval is raised to this, so that polling never becomes a busy loop of
/// commits.
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// The most worker threads a run may use ([`RunRequest::threads`]); the command line's
/// `--threads`, the admin page's form and its API refuse more, as [`RunsError::InvalidThreads`].
/// Threads beyond the cores only add memory (each holds its share of the shuffle): a run of
/// 100,000 threads was killed for want of memory before this limit.
pub const MAX_THREADS: usize = 256;

/// `threads`, if a run may use that many worker threads (1 to [`MAX_THREADS`]).
///
/// # Errors
/// [`RunsError::InvalidThreads`]: it is 0 or above [`MAX_THREADS`].
pub fn check_threads(threads: usize) -> Result<usize, RunsError> {
    if (1..=MAX_THREADS).contains(&threads) { Ok(threads) } else { Err(RunsError::InvalidThreads { threads }) }
}

/// What to run: [`RunRequest::new`] with the job's defaults, then a `with_*` method per
/// setting to change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunRequest {
    /// The job's name, as registered.
    pub job: String,
    /// Its parameters, checked before anything is queued.
    pub params: Params,
    /// Shards per model; the job's default when `None`.
    pub shards: Option<usize>,
    /// Worker threads, from 1 to [`MAX_THREADS`]; the number of cores (at most
    /// `MAX_THREADS`) when `None`.
    pub threads: Option<usize>,
    /// Count writes (`put`, `delete`) instead of storing them.
    pub dry_run: bool,
    /// How many entities and keys may fail before the run ends `failed`; the job's
    /// [`max_failures`](crate::registry::JobDescriptor::max_failures) when `None`.
    pub max_failures: Option<u64>,
    /// Refuse ([`RunsError::AlreadyActive`]) if the job already has a run queued or started,
    /// instead of going ahead and reporting it in [`Queued::already_active`].
    pub exclusive: bool,
    /// The most memory, in bytes, the shuffle and the report's text may hold before they
    /// spill to disk; the engine's
    /// default (a quarter of RAM, at most 1 GiB) when `None`. Kept in the run's record, so a detached run
    /// uses it too.
    pub max_memory: Option<u64>,
}

impl RunRequest {
    /// A request to run `job` with its defaults.
    pub fn new(job: impl Into<String>) -> Self {
        RunRequest { job: job.into(), ..RunRequest::default() }
    }

    /// Sets [`params`](Self::params).
    #[must_use]
    pub fn with_params(mut self, params: Params) -> Self {
        self.params = params;
        self
    }

    /// Sets [`shards`](Self::shards).
    #[must_use]
    pub fn with_shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Sets [`threads`](Self::threads).
    #[must_use]
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Sets [`dry_run`](Self::dry_run).
    #[must_use]
    pub fn with_dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Sets [`max_failures`](Self::max_failures).
    #[must_use]
    pub fn with_max_failures(mut self, max_failures: u64) -> Self {
        self.max_failures = Some(max_failures);
        self
    }

    /// Sets [`exclusive`](Self::exclusive).
    #[must_use]
    pub fn with_exclusive(mut self, exclusive: bool) -> Self {
        self.exclusive = exclusive;
        self
    }

    /// Sets [`max_memory`](Self::max_memory), in bytes.
    #[must_use]
    pub fn with_max_memory(mut self, bytes: u64) -> Self {
        self.max_memory = Some(bytes);
        self
    }
}

/// How the runner behaves; the defaults suit the command line, and a `with_*` method per
/// setting changes it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunnerOptions {
    /// How often progress is saved and the record checked for a cancel request (at least
    /// 10 ms). A cancel takes effect within about this long.
    pub poll_interval: Duration,
    /// The limit of the stored output, in characters (see [`output`](super::output)).
    pub output_limit: usize,
    /// Also stops the run when canceled in this process (a Ctrl-C handler, say).
    pub cancel: CancelToken,
    /// Filled in while the run goes, for a progress bar; the runner makes its own if `None`.
    pub progress: Option<Arc<Progress>>,
    /// Keep the full output in the run log ([`RunLog::full_output`]), besides the stored
    /// output, which is always kept. `true` by default; the command line's foreground
    /// `jobs run` prints the output instead (through [`output_sink`](Self::output_sink))
    /// and keeps it only with `--keep-output`, so a run does not grow the store by its output.
    pub keep_full_output: bool,
    /// Where the finished run's full output is handed, for the caller to print or write. The
    /// runner gathers it in memory for this; [`output_sink`](Self::output_sink) does not.
    pub output_handoff: Option<OutputHandoff>,
    /// Takes the report's text, its lines in key order, as the run produces it (before its end
    /// is recorded; a canceled run gives none), a piece at a time ([`TextSink`]), for the caller
    /// to print or write without holding the output. If it refuses a piece, the run fails.
    pub output_sink: Option<OutputSink>,
    /// The engine that carries the run out (for an engine spread over processes, as the
    /// process that records the run); the record's `engine` says which.
    pub engine: EngineChoice,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            poll_interval: DEFAULT_POLL_INTERVAL,
            output_limit: DEFAULT_OUTPUT_LIMIT,
            cancel: CancelToken::new(),
            progress: None,
            keep_full_output: true,
            output_handoff: None,
            output_sink: None,
            engine: EngineChoice::Local,
        }
    }
}

impl RunnerOptions {
    /// Sets [`poll_interval`](Self::poll_interval).
    #[must_use]
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Sets [`output_limit`](Self::output_limit).
    #[must_use]
    pub fn with_output_limit(mut self, chars: usize) -> Self {
        self.output_limit = chars;
        self
    }

    /// Sets [`cancel`](Self::cancel).
    #[must_use]
    pub fn with_cancel(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Sets [`progress`](Self::progress).
    #[must_use]
    pub fn with_progress(mut self, progress: Arc<Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Sets [`engine`](Self::engine).
    #[must_use]
    pub fn with_engine(mut self, engine: EngineChoice) -> Self {
        self.engine = engine;
        self
    }

    /// Sets [`keep_full_output`](Self::keep_full_output).
    #[must_use]
    pub fn with_keep_full_output(mut self, keep: bool) -> Self {
        self.keep_full_output = keep;
        self
    }

    /// Sets [`output_sink`](Self::output_sink).
    #[must_use]
    pub fn with_output_sink(mut self, sink: OutputSink) -> Self {
        self.output_sink = Some(sink);
        self
    }

    /// Sets [`output_handoff`](Self::output_handoff).
    #[must_use]
    pub fn with_output_handoff(mut self, handoff: OutputHandoff) -> Self {
        self.output_handoff = Some(handoff);
        self
    }
}

/// Hands a finished run's full output from the runner to its caller, who prints it or writes
/// it to a file without reading it back from the run log.
///
/// ```
/// use jobs_core::runs::OutputHandoff;
///
/// let handoff = OutputHandoff::new();
/// assert_eq!(handoff.take(), None, "nothing until a run completes");
/// ```
#[derive(Debug, Clone, Default)]
pub struct OutputHandoff(Arc<std::sync::Mutex<Option<Vec<String>>>>);

impl OutputHandoff {
    /// An empty handoff.
    pub fn new() -> Self {
        OutputHandoff::default()
    }

    /// The full output of the run it was given to, once that run has completed (or failed by
    /// exceeding its failure limit, when its output is kept too).
    pub fn take(&self) -> Option<Vec<String>> {
        crate::sync::lock(&self.0).take()
    }

    fn give(&self, lines: Vec<String>) {
        *crate::sync::lock(&self.0) = Some(lines);
    }
}

/// A run just queued (or, by [`start_claimed`], started).
#[derive(Debug, Clone)]
pub struct Queued {
    /// Its record, `queued` (`started`, from [`start_claimed`]).
    pub record: RunRecord,
    /// The job's other runs that were queued or started at the time, oldest first: warn about
    /// them ("a run of this job is already started: ID").
    pub already_active: Vec<RunRecord>,
}

/// Checks `request` and records the run `queued`.
///
/// Dead runs are settled first, so a run whose process died never counts as active.
///
/// # Errors
/// The job is unknown, a parameter or the shard count is wrong, `exclusive` was asked and the
/// job has a run queued or started ([`RunsError::AlreadyActive`], naming it), or the store
/// failed. Nothing is recorded then.
pub fn queue(log: &dyn RunLog, request: &RunRequest) -> Result<Queued, RunsError> {
    enqueue(log, request, Recording::Queued).map(|(queued, _)| queued)
}

/// As [`queue`], for a run this process carries out at once with [`run_claimed`]: the run is
/// claimed before it is recorded, so that if this process dies before starting it, the next
/// reader records it `failed` (`interrupted`) instead of leaving it `queued` for ever.
///
/// # Errors
/// As [`queue`].
pub fn queue_claimed(log: &dyn RunLog, request: &RunRequest) -> Result<(Queued, RunClaim), RunsError> {
    let (queued, claim) = enqueue(log, request, Recording::QueuedClaimed)?;
    let claim = claim.ok_or_else(|| RunsError::AlreadyRunning { id: queued.record.id().clone() })?;
    Ok((queued, claim))
}

/// As [`queue_claimed`], for a run this process carries out at once with [`run_started`]: it is
/// recorded `started` (by this process, on `options`' engine) in the write that records it, so
/// starting a run costs one durable commit rather than two. [`Queued::record`] is `started`.
///
/// # Errors
/// As [`queue`].
pub fn start_claimed(
    log: &dyn RunLog,
    request: &RunRequest,
    options: &RunnerOptions,
) -> Result<(Queued, RunClaim), RunsError> {
    let (queued, claim) = enqueue(log, request, Recording::Started(options))?;
    let claim = claim.ok_or_else(|| RunsError::AlreadyRunning { id: queued.record.id().clone() })?;
    Ok((queued, claim))
}

/// How [`enqueue`] records a run.
#[derive(Clone, Copy)]
enum Recording<'a> {
    /// `queued`, for any process to run.
    Queued,
    /// `queued`, claimed by this process.
    QueuedClaimed,
    /// `started` by this process on these options' engine, claimed.
    Started(&'a RunnerOptions),
}

fn enqueue(
    log: &dyn RunLog,
    request: &RunRequest,
    recording: Recording<'_>,
) -> Result<(Queued, Option<RunClaim>), RunsError> {
    let job = crate::registry::registry()?.get(&request.job)?;
    job.check_params(&request.params)?;
    let shards = Shards::new(request.shards.unwrap_or(job.default_shards())).map_err(RunError::from)?.get();
    let threads = match request.threads {
        Some(threads) => check_threads(threads)?,
        None => exec::default_threads().clamp(1, MAX_THREADS),
    };
    log.recover_interrupted()?;

    let mut record =
        RunRecord::new(job.name(), request.params.clone(), shards, threads, request.dry_run, exec::now_ms());
    record.max_failures = request.max_failures.unwrap_or(job.max_failures());
    record.max_memory = request.max_memory;
    record.transition(Status::Queued)?;
    if let Recording::Started(options) = recording {
        record.transition(Status::Started)?;
        note_start(&mut record, options);
    }
    // A fresh id: nobody else can hold it. Claimed before it is recorded: see `liveness`.
    let claim = match recording {
        Recording::Queued => None,
        Recording::QueuedClaimed | Recording::Started(_) => log.claim_run(record.id())?,
    };
    let mut already_active = Vec::new();
    log.insert_run(&record, &mut |active| {
        if let (true, Some(first)) = (request.exclusive, active.first()) {
            return Err(RunsError::AlreadyActive {
                job: first.job.clone(),
                id: first.id().clone(),
                status: first.status(),
            });
        }
        already_active = active.to_vec();
        Ok(())
    })?;
    // Only noted in the log: the caller shows `already_active` to people (the command line
    // prints a warning naming each run), and a second, log-formatted warning would repeat it.
    for other in &already_active {
        tracing::info!(job = job.name(), run = %other.id(), status = %other.status(), "the job already has a run going");
    }
    Ok((Queued { record, already_active }, claim))
}

/// Carries out the queued run `id` in this process and returns its final record:
/// `completed` (output stored), `failed` (with its error) or `canceled`.
///
/// A run canceled while it waited is returned as it is, without running.
///
/// # Errors
/// No run has this id, another process is running it ([`RunsError::AlreadyRunning`]), it is
/// not queued, or the store failed to record the start or the end. A job that fails is not an
/// error: its record says `failed`.
pub fn run_queued(log: &dyn RunLog, id: &RunId, options: &RunnerOptions) -> Result<RunRecord, RunsError> {
    // Claim first, then record `started`: see `liveness` for why the order matters.
    let claim = log.claim_run(id)?.ok_or_else(|| RunsError::AlreadyRunning { id: id.clone() })?;
    run_claimed(log, id, claim, options)
}

/// As [`run_queued`], for a run this process already claimed with [`queue_claimed`].
///
/// # Errors
/// As [`run_queued`].
pub fn run_claimed(
    log: &dyn RunLog,
    id: &RunId,
    claim: RunClaim,
    options: &RunnerOptions,
) -> Result<RunRecord, RunsError> {
    let record = match log.get_run(id) {
        Ok(record) => record,
        Err(error) => return Err(let_go_unrecorded(claim, error)),
    };
    if record.status().is_finished() {
        return Ok(record);
    }
    let started = match log.transition(id, Status::Started, &mut |r| note_start(r, options)) {
        Ok(started) => started,
        // Canceled between our read and our write.
        Err(RunsError::InvalidTransition { from, .. }) if from.is_finished() => return log.get_run(id),
        Err(error) => return Err(let_go_unrecorded(claim, error)),
    };
    run_started(log, &started, claim, options)
}

/// Carries out run `started`, recorded `started` by this process ([`start_claimed`]), and
/// returns its final record, as [`run_queued`] does.
///
/// # Errors
/// The store failed to record the end.
pub fn run_started(
    log: &dyn RunLog,
    started: &RunRecord,
    claim: RunClaim,
    options: &RunnerOptions,
) -> Result<RunRecord, RunsError> {
    let id = started.id();
    let progress = options.progress.clone().unwrap_or_default();
    let recorder = Recorder::new(log, id, options);
    let outcome = execute(log, started, options, &progress, &recorder);
    match finish(log, id, outcome, options, &progress, recorder) {
        Ok(finished) => {
            drop(claim);
            Ok(finished)
        }
        Err(error) => Err(let_go_unrecorded(claim, error)),
    }
}

/// What a run records as it starts: the process carrying it out, and on which engine.
fn note_start(record: &mut RunRecord, options: &RunnerOptions) {
    record.pid = Some(std::process::id());
    record.engine = EngineName::from_name(options.engine.name());
}

/// Lets go of a run whose start or end could not be recorded (the store failed, say on a full
/// disk) so that the next reader records it `interrupted` rather than leaving it `queued` or
/// `started`: see [`RunClaim::abandon`].
fn let_go_unrecorded(claim: RunClaim, error: RunsError) -> RunsError {
    if matches!(error, RunsError::UnknownRun { .. }) {
        drop(claim);
    } else {
        // The caller reports the error itself; this only notes it in the log.
        tracing::info!(%error, "the run's state could not be recorded; the next command records it interrupted");
        claim.abandon();
    }
    error
}

/// Records `request` started and runs it in this process: [`start_claimed`] then [`run_started`].
///
/// ```
/// use jobs_core::prelude::*;
/// use jobs_core::runs::{self, RunLog, RunRequest, RunnerOptions, Status};
/// use jobs_core::{MemoryStore, testing};
///
/// #[derive(Model, Serialize, Deserialize)]
/// pub struct Pet { id: String, species: String }
///
/// /// Counts pets by species.
/// #[one_off_job(models = [Pet])]
/// pub struct SpeciesCount;
///
/// impl Map<Pet> for SpeciesCount {
///     fn map(&self, pet: Pet, ctx: &mut MapContext<'_, Self>) -> Outcome {
///         ctx.count("pets", 1);
///         ctx.emit(pet.species, 1);
///         Ok(())
///     }
/// }
///
/// impl Reduce for SpeciesCount {
///     type Key = String;
///     type Value = u32;
///     fn reduce(&self, species: String, ones: Values<'_, u32>, out: &mut Output) -> Outcome {
///         out.line(format!("{species} {}", ones.sum::<u32>()));
///         Ok(())
///     }
/// }
///
/// let store = MemoryStore::new();
/// testing::put_all(&store, &[
///     Pet { id: "p1".into(), species: "cat".into() },
///     Pet { id: "p2".into(), species: "dog".into() },
///     Pet { id: "p3".into(), species: "cat".into() },
/// ])?;
/// let record = runs::run(&store, &RunRequest::new("SpeciesCount"), &RunnerOptions::default())?;
/// assert_eq!(record.status(), Status::Completed);
/// assert_eq!(record.counters.get("pets"), 3);
/// assert_eq!(record.stats.entities_read, 3);
/// assert_eq!(store.stored_output(record.id())?, ["cat 2", "dog 1"]);
/// assert_eq!(store.recent()?[0].id(), record.id());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`queue`] and [`run_queued`].
pub fn run(log: &dyn RunLog, request: &RunRequest, options: &RunnerOptions) -> Result<RunRecord, RunsError> {
    let (started, claim) = start_claimed(log, request, options)?;
    run_started(log, &started.record, claim, options)
}

/// Waits until run `id` has finished, or `timeout` has passed; returns its record as it then
/// stands (check its status).
///
/// # Errors
/// No run has this id, or the store failed.
pub fn wait(log: &dyn RunLog, id: &RunId, timeout: Duration) -> Result<RunRecord, RunsError> {
    const STEP: Duration = Duration::from_millis(50);
    let deadline = Instant::now() + timeout;
    loop {
        let record = log.get_run(id)?;
        let now = Instant::now();
        if record.status().is_finished() || now >= deadline {
            return Ok(record);
        }
        std::thread::sleep(STEP.min(deadline - now));
    }
}

/// How the engine's part ended.
enum Outcome {
    Report(RunReport),
    Failed(String),
}

/// Runs the engine on a thread of its own while this thread saves progress and watches for a
/// cancel request.
fn execute(
    log: &dyn RunLog,
    record: &RunRecord,
    options: &RunnerOptions,
    progress: &Arc<Progress>,
    recorder: &Recorder,
) -> Outcome {
    let job = match crate::registry::registry().and_then(|registry| registry.get(&record.job)) {
        Ok(job) => job,
        Err(error) => return Outcome::Failed(error.to_string()),
    };
    let engine_options = RunOptions {
        shards: Some(record.shards),
        threads: Some(record.threads),
        dry_run: record.dry_run,
        cancel: options.cancel.clone(),
        progress: Some(Arc::clone(progress)),
        queued_at_ms: record.queued_ms,
        max_failures: Some(record.max_failures),
        max_memory: record.max_memory,
        output: Some(OutputSink::new(recorder.clone())),
        ..RunOptions::default()
    };
    let store: &dyn Store = log;
    let params = &record.params;
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(1);
    std::thread::scope(|scope| {
        let engine_options = &engine_options;
        let engine = scope.spawn(move || {
            let result =
                panic::catch_unwind(AssertUnwindSafe(|| job.run_on(&options.engine, store, params, engine_options)));
            drop(done_tx); // wakes the monitor at once
            result
        });
        let mut monitor = Monitor { log, id: record.id(), progress, cancel: &options.cancel, saved: None };
        let interval = options.poll_interval.max(MIN_POLL_INTERVAL);
        while let Err(RecvTimeoutError::Timeout) = done_rx.recv_timeout(interval) {
            monitor.tick();
        }
        match engine.join() {
            Ok(Ok(Ok(mut report))) => {
                // An engine of the caller's that gathered its lines anyway; then what the
                // caller is yet to be given.
                let delivered =
                    exec::output_sink::deliver(&mut report, engine_options).and_then(|()| recorder.flush_caller());
                match delivered {
                    Ok(()) => Outcome::Report(report),
                    Err(error) => Outcome::Failed(RunError::Output(error).to_string()),
                }
            }
            Ok(Ok(Err(error))) => Outcome::Failed(error.to_string()),
            Ok(Err(payload)) | Err(payload) => {
                Outcome::Failed(format!("the engine panicked: {}", panic_message(payload.as_ref())))
            }
        }
    })
}

/// Saves progress and relays cancel requests while the engine runs.
struct Monitor<'a> {
    log: &'a dyn RunLog,
    id: &'a RunId,
    progress: &'a Progress,
    cancel: &'a CancelToken,
    saved: Option<RunProgress>,
}

impl Monitor<'_> {
    fn tick(&mut self) {
        let snapshot = RunProgress::capture(self.progress);
        let record = if self.saved.as_ref() == Some(&snapshot) {
            // Nothing new to save: a read is enough to see a cancel request.
            self.log.load_run(self.id).and_then(|r| r.ok_or_else(|| RunsError::UnknownRun { id: self.id.clone() }))
        } else {
            let stats = snapshot.live_stats();
            let saved = self.log.update(self.id, &mut |r| {
                r.progress = snapshot.clone();
                r.stats = stats;
            });
            if saved.is_ok() {
                self.saved = Some(snapshot);
            }
            saved
        };
        match record {
            Ok(record) if record.is_cancel_requested() && !self.cancel.is_canceled() => {
                tracing::info!(run = %self.id, "cancel requested; stopping");
                self.cancel.cancel();
            }
            Ok(_) => {}
            // The run goes on; the next tick tries again.
            Err(error) => tracing::warn!(run = %self.id, %error, "could not save progress or check for a cancel"),
        }
    }
}

/// Records how the run ended. If that fails, the error still says how it ended.
fn finish(
    log: &dyn RunLog,
    id: &RunId,
    outcome: Outcome,
    options: &RunnerOptions,
    progress: &Progress,
    recorder: Recorder,
) -> Result<RunRecord, RunsError> {
    let ended = match &outcome {
        Outcome::Failed(message) => format!("failed: {message}"),
        Outcome::Report(report) if report.canceled => "was canceled".to_owned(),
        Outcome::Report(report) if report.exceeds_failure_limit() => {
            format!("failed: {}", super::failure_limit_error(report.stats.failures, report.max_failures))
        }
        Outcome::Report(_) => "completed".to_owned(),
    };
    record_end(log, id, outcome, options, progress, recorder).map_err(|source| RunsError::Unrecorded {
        id: id.clone(),
        outcome: ended,
        source: Box::new(source),
    })
}

fn record_end(
    log: &dyn RunLog,
    id: &RunId,
    outcome: Outcome,
    options: &RunnerOptions,
    progress: &Progress,
    recorder: Recorder,
) -> Result<RunRecord, RunsError> {
    let progress = RunProgress::capture(progress);
    let report = match outcome {
        Outcome::Failed(message) => {
            return log.transition(id, Status::Failed, &mut |r| {
                r.error = Some(message.clone());
                r.progress = progress.clone();
            });
        }
        Outcome::Report(report) => report,
    };
    let fill = |r: &mut RunRecord| {
        r.counters = report.counters.clone();
        r.stats = report.stats;
        r.failures = report.failures.clone();
        r.progress = progress.clone();
        r.shards = report.shards;
        r.threads = report.threads;
        r.attempts = report.attempts;
    };
    if report.canceled {
        return log.transition(id, Status::Canceled, &mut |r| fill(r));
    }
    let recorded = recorder.into_recorded();
    let mut stored = recorded.fold.finish();
    stored.summary.full_output_kept = options.keep_full_output;
    let written = match recorded.full {
        FullOutput::Unkept => Ok(()),
        FullOutput::Streamed(writer) => writer.finish(),
        FullOutput::Gathered(lines) => log.write_output(id, OutputKind::Full, &lines.finish()),
        FullOutput::Failed(error) => Err(error),
    };
    // The output of a run with too many failures is kept, for a look at what did work.
    let status = if report.exceeds_failure_limit() { Status::Failed } else { Status::Completed };
    let finished = written.and_then(|()| {
        log.finish_run(id, &stored.lines, &mut |r| {
            r.transition(status)?;
            fill(r);
            r.output = Some(stored.summary);
            if report.exceeds_failure_limit() {
                r.error = Some(super::failure_limit_error(report.stats.failures, report.max_failures));
            }
            Ok(())
        })
    });
    match finished {
        Ok(record) => {
            if let (Some(handoff), Some(lines)) = (&options.output_handoff, recorded.handed) {
                handoff.give(lines.finish());
            }
            Ok(record)
        }
        // The record refused the change: recording it `failed` instead would meet the same refusal.
        Err(error @ (RunsError::InvalidTransition { .. } | RunsError::UnknownRun { .. })) => Err(error),
        Err(error) => {
            tracing::error!(run = %id, %error, "could not store the output");
            log.transition(id, Status::Failed, &mut |r| {
                fill(r);
                r.error = Some(format!("the output could not be stored: {error}"));
            })
        }
    }
}

/// Takes the report's text as the engine merges it: folds its lines for the stored output,
/// writes the full output if it is kept, and passes it on to the caller. Clones share it.
#[derive(Clone)]
struct Recorder(Arc<std::sync::Mutex<Recorded>>);

/// What the [`Recorder`] made of the lines.
struct Recorded {
    fold: StoredFold,
    full: FullOutput,
    /// The lines gathered for an [`OutputHandoff`].
    handed: Option<Lines>,
    caller: Option<OutputSink>,
    /// Text for `caller` not yet handed over: it gets pieces of [`CALLER_PIECE_BYTES`], so a
    /// caller on another thread (the command line's printer) is woken every 256 KiB rather
    /// than for every piece the engine merges.
    pending: Pieces,
}

/// About how much text the caller's sink is given at a time.
const CALLER_PIECE_BYTES: usize = 256 << 10;

/// The full output on its way to the run log.
enum FullOutput {
    /// Not kept.
    Unkept,
    /// Written a piece at a time as it comes.
    Streamed(Box<dyn FullOutputWriter>),
    /// Gathered, for a log that only takes it whole.
    Gathered(Lines),
    /// Writing it failed; the run is recorded failed with this error once it ends.
    Failed(RunsError),
}

impl Recorder {
    fn new(log: &dyn RunLog, id: &RunId, options: &RunnerOptions) -> Self {
        let full = if !options.keep_full_output {
            FullOutput::Unkept
        } else {
            match log.full_output_writer(id) {
                Ok(Some(writer)) => FullOutput::Streamed(writer),
                Ok(None) => FullOutput::Gathered(Lines::default()),
                // The run goes on, and ends failed with this error, as when a write fails.
                Err(error) => FullOutput::Failed(error),
            }
        };
        Recorder(Arc::new(std::sync::Mutex::new(Recorded {
            fold: StoredFold::new(options.output_limit),
            full,
            handed: options.output_handoff.as_ref().map(|_| Lines::default()),
            caller: options.output_sink.clone(),
            pending: Pieces::new(CALLER_PIECE_BYTES),
        })))
    }

    /// Hands the caller the text it has not been given yet.
    fn flush_caller(&self) -> std::io::Result<()> {
        let mut recorded = crate::sync::lock(&self.0);
        let Recorded { caller, pending, .. } = &mut *recorded;
        match caller {
            Some(caller) => caller.with(|caller| pending.flush(caller)),
            None => Ok(()),
        }
    }

    /// What it made of the text, once the engine, which shares it, has returned.
    fn into_recorded(self) -> Recorded {
        let mut recorded = crate::sync::lock(&self.0);
        Recorded {
            fold: std::mem::replace(&mut recorded.fold, StoredFold::new(0)),
            full: std::mem::replace(&mut recorded.full, FullOutput::Unkept),
            handed: recorded.handed.take(),
            caller: recorded.caller.take(),
            pending: Pieces::new(0),
        }
    }
}

impl TextSink for Recorder {
    fn text(&mut self, text: &str) -> std::io::Result<()> {
        let mut recorded = crate::sync::lock(&self.0);
        recorded.fold.push_text(text);
        match &mut recorded.full {
            FullOutput::Streamed(writer) => {
                if let Err(error) = writer.text(text) {
                    // Recorded when the run ends; the report still reaches the caller.
                    recorded.full = FullOutput::Failed(error);
                }
            }
            FullOutput::Gathered(lines) => lines.push(text),
            FullOutput::Unkept | FullOutput::Failed(_) => {}
        }
        if let Some(handed) = &mut recorded.handed {
            handed.push(text);
        }
        let Recorded { caller, pending, .. } = &mut *recorded;
        match caller {
            Some(caller) => caller.with(|caller| pending.push(text, caller)),
            None => Ok(()),
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}
