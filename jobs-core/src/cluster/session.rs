//! One attempt at a run: connect, start the timely workers, wait for them, agree on the
//! verdict, and take everything down again, with a bound on every wait.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use timely::communication::allocator::zero_copy::initialize::{CommsGuard, initialize_networking_from_sockets};
use timely::communication::allocator::{AllocatorBuilder, ProcessBuilder, Thread};
use timely::communication::{Allocator, Config as CommunicationConfig, Hooks};
use timely::worker::{Config as WorkerConfig, Worker};

use crate::context::MapEnv;
use crate::exec::panic as engine_panic;
use crate::exec::report_text::{HeldText, PartitionText};
use crate::exec::{Phase, Progress, RunOptions, RunReport, ShardProgress, now_ms};
use crate::exec::{budget, spill};
use crate::job::Job;
use crate::store::Store;

use super::connect::{SessionPlan, Settings, connect};
use super::control::{SessionState, Verdict};
use super::map::MapDuty;
use super::reduce::{LocalText, ReduceDuty};
use super::unwind::DropInUnwind;
use super::wire::PlannedTask;
use super::worker::{Stopped, drive};
use super::{ClusterConfig, ClusterError, assemble};

/// How long a worker's stop may wait for a link to say why the session failed.
const FAILURE_GRACE: Duration = Duration::from_secs(2);
/// How long taking timely's communication threads down may take before the sockets are cut.
const TEARDOWN_GRACE: Duration = Duration::from_secs(10);

/// Runs attempt `attempt` of the job. Process 0 returns the full report; the others a report
/// with only `canceled` set from the verdict.
pub(super) fn run<J: Job>(
    job: &J,
    store: &dyn Store,
    options: &RunOptions,
    config: &ClusterConfig,
    settings: &Settings,
    attempt: u32,
    progress: &Progress,
) -> Result<RunReport, ClusterError> {
    let me = config.process;
    let plan = if me == 0 {
        let queued_at_ms = options.queued_at_ms.unwrap_or_else(now_ms);
        Some(SessionPlan { attempt, queued_at_ms, tasks: plan_tasks::<J>(store, settings.shards)? })
    } else {
        None
    };
    let (builders, comms, plan, state) = if config.processes == 1 {
        let Some(plan) = plan else { return Err(ClusterError::Protocol("no plan".to_owned())) };
        let (builders, _) = CommunicationConfig::Process(config.workers).try_build().map_err(ClusterError::Io)?;
        (builders, None, plan, SessionState::new(Vec::new(), Vec::new(), Vec::new()))
    } else {
        let connected = connect(me, settings, config.secret.as_ref(), plan, config.connect_timeout, &options.cancel)?;
        let mut data_sockets = Vec::new();
        let mut control_sockets = Vec::new();
        let mut links = Vec::new();
        let mut readers = Vec::new();
        for stream in connected.data.iter().flatten() {
            data_sockets.push(stream.try_clone().map_err(io)?);
        }
        for (peer, stream) in &connected.control {
            control_sockets.push(stream.try_clone().map_err(io)?);
            links.push((*peer, settings.hosts[*peer].clone(), stream.try_clone().map_err(io)?));
            readers.push((*peer, stream.try_clone().map_err(io)?));
        }
        let process_builders = ProcessBuilder::new_typed_vector(config.workers, Hooks::default().refill, None);
        let (tcp, guard) =
            initialize_networking_from_sockets(process_builders, connected.data, me, config.workers, Hooks::default())
                .map_err(io)?;
        let builders = tcp.into_iter().map(AllocatorBuilder::Tcp).collect();
        let state = SessionState::new(data_sockets, control_sockets, links);
        (builders, Some((guard, readers)), connected.plan, state)
    };
    if me > 0 {
        tracing::info!(process = me, attempt = plan.attempt, "joined the cluster");
    }
    progress.plan(
        plan.tasks
            .iter()
            .map(|t| ShardProgress::new(J::MODELS.get(t.model).copied().unwrap_or("?"), t.split.index, t.split.len))
            .collect(),
    );
    let (guard, readers) = match comms {
        Some((guard, readers)) => (Some(guard), readers),
        None => (None, Vec::new()),
    };
    let outcome = std::thread::scope(|scope| {
        let state = &state;
        for (peer, stream) in readers {
            let host = settings.hosts[peer].clone();
            let cancel = &options.cancel;
            let timeout = config.heartbeat_timeout;
            spawn(scope, format!("jobs-cluster-link-{peer}"), move || {
                state.read_link(peer, &host, stream, cancel, timeout)
            });
        }
        spawn(scope, "jobs-cluster-heartbeat".to_owned(), || state.send_heartbeats(&options.cancel));
        let outcome = run_workers(job, store, options, config, &plan, progress, state, builders);
        let result = conclude::<J>(outcome, &plan, options, config, progress, state);
        state.stop();
        // Ends the link readers; the data connections are taken down gracefully below.
        state.close_links();
        result
    });
    if let Some(guard) = guard {
        take_down(guard, &state);
    }
    progress.set_phase(Phase::Done);
    let mut report = outcome?;
    report.shards = settings.shards;
    report.threads = config.workers * config.processes;
    Ok(report)
}

/// What the workers of this process produced.
enum WorkersOutcome {
    /// Every worker finished; worker 0 (at process 0) gathered these parts, and process 0's
    /// workers left this report text.
    Finished { parts: Vec<Vec<u8>>, texts: Vec<PartitionText> },
    /// The session failed, for this reason.
    Failed(ClusterError),
}

#[allow(clippy::too_many_arguments)]
fn run_workers<J: Job>(
    job: &J,
    store: &dyn Store,
    options: &RunOptions,
    config: &ClusterConfig,
    plan: &SessionPlan,
    progress: &Progress,
    state: &SessionState,
    builders: Vec<AllocatorBuilder>,
) -> WorkersOutcome {
    let stop = || options.cancel.is_canceled() || state.failed();
    let failed = || state.failed();
    // Removed once the workers are done (below), however they ended; if a panic unwinds
    // through here instead, when its last handle drops.
    let spill_dir = Arc::new(spill::SpillDir::new(options.spill_dir.clone().unwrap_or_else(spill::default_parent)));
    let max_memory = options.max_memory.unwrap_or_else(budget::default_max_memory);
    let shared = Shared {
        duty: MapDuty {
            job,
            env: MapEnv { store, dry_run: options.dry_run, queued_at_ms: plan.queued_at_ms },
            options,
            progress,
            workers: config.workers * config.processes,
            stop: &stop,
        },
        reduce: ReduceDuty {
            max_memory,
            workers_here: config.workers,
            dir: Arc::clone(&spill_dir),
            local_text: (config.process == 0)
                .then(|| LocalText::new(HeldText::for_run(max_memory, options.output.is_some()))),
        },
        tasks: &plan.tasks,
        failed: &failed,
        state,
    };
    // Timely's own `initialize_from` wants a `'static` closure; the workers borrow the job,
    // the store and the options from this frame instead, so they run on scoped threads, each
    // building its allocator as `initialize_from` would. They wait for `start` until every
    // thread is spawned: a worker whose peers never start would wait for them for ever.
    let start = StartSignal::default();
    let joined: Result<Vec<WorkerResult>, ClusterError> = std::thread::scope(|scope| {
        let (shared, start) = (&shared, &start);
        let mut handles = Vec::with_capacity(builders.len());
        for (index, builder) in builders.into_iter().enumerate() {
            let spawned =
                std::thread::Builder::new().name(format!("timely:work-{index}")).spawn_scoped(scope, move || {
                    if !start.wait() {
                        return Err(ClusterError::Io("the cluster's worker threads could not all start".to_owned()));
                    }
                    work(shared, build_allocator(builder))
                });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(error) => {
                    // The threads already spawned stop at once; the scope joins them.
                    start.set(false);
                    return Err(ClusterError::Io(format!("cannot start the workers: {error}")));
                }
            }
        }
        start.set(true);
        Ok(handles
            .into_iter()
            .map(|handle| handle.join().map_err(|payload| engine_panic::payload_message(payload.as_ref()).to_owned()))
            .collect())
    });
    // The workers are done: the directory goes now, whatever handle on it is left (the
    // report text's files stay open, so they can still be read).
    spill_dir.close();
    let texts = shared.reduce.local_text.map(LocalText::into_texts).unwrap_or_default();
    let results = match joined {
        Ok(results) => results,
        Err(error) => return WorkersOutcome::Failed(error),
    };
    let mut parts = Vec::new();
    let mut first_error = None;
    for result in results {
        match result {
            Ok(Ok(mut gathered)) => parts.append(&mut gathered),
            Ok(Err(error)) => {
                first_error.get_or_insert(error);
            }
            Err(panic) => {
                first_error.get_or_insert(ClusterError::Lost(format!("a worker stopped: {panic}")));
            }
        }
    }
    match first_error {
        None if !state.failed() => WorkersOutcome::Finished { parts, texts },
        error => {
            let reason = state.failure_after(FAILURE_GRACE);
            if state.aborted() {
                let reason = reason.unwrap_or_else(|| "process 0 stopped the run".to_owned());
                return WorkersOutcome::Failed(ClusterError::FailedAtProcess0(reason));
            }
            WorkersOutcome::Failed(match (error, reason) {
                (Some(ClusterError::Protocol(message)), _) => ClusterError::Protocol(message),
                (_, Some(reason)) => ClusterError::Lost(reason),
                (Some(error), None) => error,
                (None, None) => ClusterError::Lost("the session failed".to_owned()),
            })
        }
    }
}

/// Builds a worker's allocator on its own thread, as timely's `initialize_from` does (the
/// builders are `Send`, the allocators they make are not).
fn build_allocator(builder: AllocatorBuilder) -> Allocator {
    match builder {
        AllocatorBuilder::Thread(_) => Allocator::Thread(Thread::default()),
        AllocatorBuilder::Process(process) => Allocator::Process(process.build()),
        AllocatorBuilder::Tcp(tcp) => Allocator::Tcp(tcp.build()),
    }
}

/// How one worker thread ended: its gathered parts or the session's failure, or the message
/// of a panic that escaped it.
type WorkerResult = Result<Result<Vec<Vec<u8>>, ClusterError>, String>;

/// What every worker of this process borrows.
struct Shared<'a, J: Job> {
    duty: MapDuty<'a, J>,
    reduce: ReduceDuty,
    tasks: &'a [PlannedTask],
    failed: &'a (dyn Fn() -> bool + Sync),
    state: &'a SessionState,
}

/// One worker thread: its share of the job, with panics caught and turned into a failure of
/// the session (which stops the other workers and the peers).
fn work<J: Job>(shared: &Shared<'_, J>, allocator: Allocator) -> Result<Vec<Vec<u8>>, ClusterError> {
    // The engine's catch, not a bare `catch_unwind`: its hook keeps a poisoned-queue panic
    // off the terminal and still records where job code panicked for the failure records.
    let result = engine_panic::catch(|| {
        // Dropping a worker flushes its operators to the peers, which panics again while
        // unwinding from a lost peer: caught, so the process does not abort (see `unwind`).
        let mut worker = DropInUnwind::new(Worker::new(WorkerConfig::default(), allocator, Some(Instant::now())));
        drive(&mut worker, &shared.duty, &shared.reduce, shared.tasks, shared.failed)
    });
    match result {
        Ok(Ok(parts)) => Ok(parts),
        Ok(Err(Stopped::Cluster)) => Err(ClusterError::Lost(String::new())),
        Ok(Err(Stopped::Encode(message))) => {
            shared.state.fail_worker(message.clone());
            Err(ClusterError::Protocol(message))
        }
        Err(panic_message) => {
            let message = format!("a worker stopped: {panic_message}");
            shared.state.fail_worker(message.clone());
            Err(ClusterError::Lost(message))
        }
    }
}

/// Holds timely's worker threads until every one of them has been spawned.
#[derive(Default)]
struct StartSignal {
    decided: Mutex<Option<bool>>,
    changed: Condvar,
}

impl StartSignal {
    fn set(&self, go: bool) {
        *crate::sync::lock(&self.decided) = Some(go);
        self.changed.notify_all();
    }

    /// Waits for the decision: `true` to go, `false` to stop at once.
    fn wait(&self) -> bool {
        let mut decided = crate::sync::lock(&self.decided);
        loop {
            if let Some(go) = *decided {
                return go;
            }
            decided = self.changed.wait(decided).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Process 0 assembles the report and tells the others how the run ended; the others wait
/// to be told.
fn conclude<J: Job>(
    outcome: WorkersOutcome,
    plan: &SessionPlan,
    options: &RunOptions,
    config: &ClusterConfig,
    progress: &Progress,
    state: &SessionState,
) -> Result<RunReport, ClusterError> {
    let me = config.process;
    let (parts, texts) = match outcome {
        WorkersOutcome::Finished { parts, texts } => (parts, texts),
        WorkersOutcome::Failed(error) => {
            if me == 0 && !error.is_retryable() {
                state.send_abort(&format!("process 0 stopped the run: {error}"));
            }
            return Err(error);
        }
    };
    if me == 0 {
        // Process 0's workers are workers 0..W, and task i went to worker i mod (W·N).
        let (workers, total) = (config.workers as u32, (config.workers * config.processes) as u32);
        let mapped_here = |task: u32| task % total < workers;
        let canceled = options.cancel.is_canceled();
        let report = assemble::assemble::<J>(&parts, plan.tasks.len(), canceled, progress, &mapped_here)
            .and_then(|(report, remote)| assemble::merge_output::<J>(report, texts, &remote, options.output.as_ref()));
        let verdict = match &report {
            Ok(report) if report.canceled => Verdict::Canceled,
            Ok(_) => Verdict::Completed,
            Err(error) => Verdict::Failed(error.to_string()),
        };
        state.send_verdict(&verdict);
        return report;
    }
    loop {
        if let Some(verdict) = state.verdict() {
            let report = RunReport { job: J::NAME.to_owned(), ..RunReport::default() };
            return match verdict {
                Verdict::Completed => Ok(report),
                Verdict::Canceled => Ok(RunReport { canceled: true, ..report }),
                Verdict::Failed(reason) => Err(ClusterError::FailedAtProcess0(reason)),
            };
        }
        if state.failed() {
            let reason = state.failure().unwrap_or_else(|| "the session failed".to_owned());
            if state.aborted() {
                return Err(ClusterError::FailedAtProcess0(reason));
            }
            return Err(ClusterError::Lost(reason));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Joins timely's communication threads, cutting the sockets if they do not finish in time.
/// Their panics (a peer gone) were already reported; they are not raised again here.
fn take_down(guard: CommsGuard, state: &SessionState) {
    // A failed session's connections carry nothing that matters any more, and a thread
    // writing to a peer that stopped reading would block until they are cut.
    if state.failed() {
        state.cut_data();
    }
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(1);
    let joiner = std::thread::Builder::new().name("jobs-cluster-teardown".to_owned()).spawn(move || {
        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(guard)));
        let _ = done_tx.send(());
    });
    if joiner.is_err() {
        return;
    }
    if done_rx.recv_timeout(TEARDOWN_GRACE).is_err() {
        tracing::warn!("timely's communication threads did not finish; cutting their connections");
        state.cut_data();
        if done_rx.recv_timeout(TEARDOWN_GRACE).is_err() {
            tracing::warn!("timely's communication threads are still blocked; leaving them behind");
        }
    }
}

/// Splits every listed model into `shards` ranges: the tasks, in model then id order.
fn plan_tasks<J: Job>(store: &dyn Store, shards: usize) -> Result<Vec<PlannedTask>, ClusterError> {
    let mut tasks = Vec::new();
    for (model, kind) in J::MODELS.iter().enumerate() {
        let splits = store.split(kind, shards).map_err(|e| ClusterError::Store(e.to_string()))?;
        tasks.extend(splits.into_iter().map(|split| PlannedTask { model, split }));
    }
    Ok(tasks)
}

fn spawn<'scope, F>(scope: &'scope std::thread::Scope<'scope, '_>, name: String, f: F)
where
    F: FnOnce() + Send + 'scope,
{
    if let Err(error) = std::thread::Builder::new().name(name).spawn_scoped(scope, f) {
        tracing::error!(%error, "cannot start a cluster thread");
    }
}

fn io(error: std::io::Error) -> ClusterError {
    ClusterError::Io(error.to_string())
}
