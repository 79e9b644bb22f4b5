//! The timely-dataflow engine (feature `timely`): the same job on several worker threads and
//! processes, with output byte-identical to the local engine's.
//!
//! ```text
//! process 0: plan (split every model) ──hello/plan──> processes 1..N
//! every worker: map the tasks i ≡ worker (mod W·N) ──shuffle by key hash──> reduce its keys
//!               ──parts──> worker 0 of process 0: report in key order ──verdict──> others
//! ```
//!
//! * **Plan** (process 0): tasks are (model, shard) in model then id order, as in the local
//!   engine, and sent to the other processes with the session, so everyone maps the same ranges
//!   even while a migration changes the store.
//! * **Map** (`map.rs`): worker `w` of `W·N` maps tasks `w, w + W·N, ...`, each entity through
//!   the execution core ([`exec`](crate::exec)), as the local engine does; writes are committed
//!   in atomic batches (or only counted in a dry run). Pairs go to the worker that owns their key's hash,
//!   in key-sorted chunks tagged (task, chunk), combined first if the job has a combiner.
//! * **Receive** (`inbox.rs`): a worker takes each chunk bound for it in as it arrives, as a
//!   sorted run; past its share of [`RunOptions::max_memory`] (each process has the whole
//!   budget, split between its workers as the local engine splits it) it spills what it holds
//!   to disk, through the execution core's spill files, in a directory removed when the
//!   attempt ends, however it ends.
//! * **Reduce** (`reduce.rs`): once every chunk has arrived (timely's progress tracking says
//!   so), a worker merges its runs, in memory or spilled, ordered by (task, chunk), a key group
//!   at a time, so each key's values come in task order, then emit order: the local engine's
//!   order, whatever was spilled.
//! * **Gather** (`assemble.rs`): counters and failures go to worker 0 of process 0, which
//!   builds the [`RunReport`]. Process 0's own workers spool their report text as the local
//!   engine's reduce does (within a quarter of the budget in memory, past it in files); the
//!   other processes' workers send their (key, lines) with their counters. Process 0 merges
//!   both by key into the run's [`OutputSink`](crate::OutputSink), or its report's lines.
//!
//! Timely has no recovery, so a session is fail-stop, made safe (`connect.rs`, `control.rs`):
//! connecting has a deadline; a heartbeat link between process 0 and each other process ends
//! the session within seconds when a process dies or goes silent; cancels travel over it; and
//! [`ClusterConfig::retries`] re-runs the whole job. Every wait is bounded.

mod assemble;
mod connect;
mod control;
mod hosts;
mod inbox;
mod map;
mod quiet;
mod reduce;
mod secret;
mod session;
mod unwind;
mod wire;
mod worker;

use std::time::{Duration, Instant};

pub use self::hosts::{HostsError, is_loopback, parse_hosts, read_hosts};
pub use self::secret::{ClusterSecret, MIN_SECRET_LEN, SECRET_ENV, SecretError};

use crate::exec::{Engine, MAX_SHARDS, RunError, RunOptions, RunReport, shards_for};
use crate::job::Job;
use crate::store::Store;

/// The engine name recorded for runs on this engine.
pub const TIMELY_ENGINE: &str = "timely";
/// How long processes wait for each other to connect by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a silent peer is waited for before the session fails, by default.
pub const DEFAULT_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where this process stands in a timely cluster, and how patient it is: build it with
/// [`ClusterConfig::single`] or [`ClusterConfig::cluster`], then the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// Worker threads in each process.
    pub workers: usize,
    /// Processes in the cluster.
    pub processes: usize,
    /// This process's index, from 0; process 0 assembles the report.
    pub process: usize,
    /// Each process's `host:port`, in process order; empty for one process.
    pub hosts: Vec<String>,
    /// How many times the whole job is run again after the cluster failed.
    pub retries: u32,
    /// How long processes wait for each other to connect.
    pub connect_timeout: Duration,
    /// How long a silent peer is waited for.
    pub heartbeat_timeout: Duration,
    /// The shared secret every process proves when connecting; required when a host is not
    /// on the loopback interface.
    pub secret: Option<ClusterSecret>,
}

impl ClusterConfig {
    /// One process with `workers` worker threads.
    pub fn single(workers: usize) -> Self {
        ClusterConfig {
            workers,
            processes: 1,
            process: 0,
            hosts: Vec::new(),
            retries: 0,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            heartbeat_timeout: DEFAULT_HEARTBEAT_TIMEOUT,
            secret: None,
        }
    }

    /// Process `process` of `hosts.len()` processes with `workers` worker threads each;
    /// `hosts` lists each process's `host:port`, in process order.
    pub fn cluster(workers: usize, process: usize, hosts: Vec<String>) -> Self {
        ClusterConfig { processes: hosts.len().max(1), process, hosts, ..ClusterConfig::single(workers) }
    }

    /// Sets [`retries`](Self::retries).
    #[must_use]
    pub fn with_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`heartbeat_timeout`](Self::heartbeat_timeout).
    #[must_use]
    pub fn with_heartbeat_timeout(mut self, timeout: Duration) -> Self {
        self.heartbeat_timeout = timeout;
        self
    }

    /// Sets [`secret`](Self::secret).
    #[must_use]
    pub fn with_secret(mut self, secret: Option<ClusterSecret>) -> Self {
        self.secret = secret;
        self
    }

    /// Checks that the numbers fit together, and that a cluster reachable from other
    /// machines has a secret.
    ///
    /// # Errors
    /// No worker, `process` not below `processes`, a host list of the wrong length, or a host
    /// off the loopback interface without a secret.
    pub fn check(&self) -> Result<(), ClusterError> {
        if self.workers == 0 {
            return Err(ClusterError::Config("--workers must be at least 1".to_owned()));
        }
        if self.processes == 0 {
            return Err(ClusterError::Config("--processes must be at least 1".to_owned()));
        }
        if self.process >= self.processes {
            return Err(ClusterError::Config(format!(
                "--process {} is out of range: with --processes {} use 0 to {}",
                self.process,
                self.processes,
                self.processes - 1
            )));
        }
        if self.processes > 1 && self.hosts.len() != self.processes {
            return Err(ClusterError::Config(format!(
                "the host file lists {} address{} but --processes is {}: list one host:port per process",
                self.hosts.len(),
                if self.hosts.len() == 1 { "" } else { "es" },
                self.processes
            )));
        }
        if self.processes > 1
            && self.secret.is_none()
            && let Some(host) = self.hosts.iter().find(|host| !is_loopback(host))
        {
            return Err(ClusterError::Config(format!(
                "the host file names {host}, which is not a loopback address: a cluster reachable from other machines \
                 needs a shared secret; set {SECRET_ENV} (or --cluster-secret-file) to the same random secret on \
                 every process, e.g. from `openssl rand -hex 32`"
            )));
        }
        Ok(())
    }
}

/// A run on the timely engine could not be carried out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The cluster settings do not fit together.
    #[error("{0}")]
    Config(String),
    /// The shard count is outside `1..=MAX_SHARDS`.
    #[error("{0} shards is out of range: use 1 to {MAX_SHARDS}")]
    InvalidShards(usize),
    /// The processes did not all connect in time.
    #[error("the cluster did not connect: {0}")]
    ConnectTimeout(String),
    /// A process died or went silent during the run.
    #[error("the cluster failed: {0}")]
    Lost(String),
    /// The processes were not started alike.
    #[error("{0}")]
    Mismatch(String),
    /// A socket could not be set up.
    #[error("cluster network: {0}")]
    Io(String),
    /// A message between workers was malformed.
    #[error("cluster protocol: {0}")]
    Protocol(String),
    /// A reduce worker's spill files could not be written or read back.
    #[error("{0}")]
    Spill(String),
    /// The store failed in one of the workers.
    #[error("{0}")]
    Store(String),
    /// The run's [`OutputSink`](crate::OutputSink) refused a report line.
    #[error("the report could not be written: {0}")]
    Output(String),
    /// Process 0 reported that the run failed.
    #[error("the run failed at process 0: {0}")]
    FailedAtProcess0(String),
    /// The run was canceled before the processes had connected.
    #[error("canceled while the cluster was connecting")]
    Canceled,
    /// Every attempt failed; the last error.
    #[error("{last} (after {attempts} attempts)")]
    Attempts {
        /// How many sessions were tried.
        attempts: u32,
        /// Why the last one failed.
        last: Box<ClusterError>,
    },
}

impl ClusterError {
    /// Whether running the job again may help: a process was lost or did not connect.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ClusterError::Lost(_) | ClusterError::ConnectTimeout(_))
    }
}

/// Runs `job` over `store` as process `config.process` of a timely cluster (or one process
/// with several workers). Process 0 returns the report, identical to what
/// [`engine::run`](crate::engine::run) returns for the same data except for `threads` (all
/// workers of all processes) and `elapsed`; the other processes return a report with no output
/// whose `canceled` says how the run ended. With [`RunOptions::output`], process 0 hands its
/// lines to the sink and returns none, as every engine does.
///
/// A cluster failure (a process lost, or not connected within `connect_timeout`) runs the
/// whole job again, up to `config.retries` times; the job's writes are then applied again, so
/// migrations should be idempotent, as any re-run migration must be.
///
/// # Errors
/// The settings do not fit together, the processes were not started alike, every attempt
/// failed, or the store failed.
pub fn run<J: Job>(
    job: &J,
    store: &dyn Store,
    options: &RunOptions,
    config: &ClusterConfig,
) -> Result<RunReport, ClusterError> {
    run_with_params(job, store, options, config, "")
}

/// [`run`], with the job's parameters as text, so processes given different `--param`s
/// refuse each other.
pub(crate) fn run_with_params<J: Job>(
    job: &J,
    store: &dyn Store,
    options: &RunOptions,
    config: &ClusterConfig,
    params: &str,
) -> Result<RunReport, ClusterError> {
    config.check()?;
    quiet::install();
    let started = Instant::now();
    let shards = shards_for::<J>(options).map_err(|e| ClusterError::InvalidShards(e.shards()))?.get();
    let store_id = store.store_id().map_err(|e| ClusterError::Store(e.to_string()))?;
    let store_identity = connect::StoreIdentity { id: store_id, location: store.location() };
    let settings = connect::Settings {
        job: J::NAME.to_owned(),
        params: params.to_owned(),
        shards,
        dry_run: options.dry_run,
        workers: config.workers,
        hosts: config.hosts.clone(),
        store: store_identity,
    };
    let progress = options.progress.clone().unwrap_or_default();
    let mut attempt = 1;
    loop {
        match session::run(job, store, options, config, &settings, attempt, &progress) {
            Ok(mut report) => {
                report.elapsed = started.elapsed();
                report.attempts = attempt;
                report.max_failures = options.max_failures.unwrap_or(J::MAX_FAILURES);
                if attempt > 1 {
                    tracing::info!(job = J::NAME, attempt, "the run succeeded on a retry");
                }
                return Ok(report);
            }
            Err(ClusterError::Canceled) => {
                // Canceled before anything ran: a canceled run, as the local engine reports one.
                return Ok(RunReport {
                    job: J::NAME.to_owned(),
                    canceled: true,
                    shards,
                    threads: config.workers * config.processes,
                    elapsed: started.elapsed(),
                    attempts: attempt,
                    ..RunReport::default()
                });
            }
            Err(error) if error.is_retryable() && attempt <= config.retries && !options.cancel.is_canceled() => {
                tracing::warn!(job = J::NAME, attempt, %error, "the cluster session failed; running the job again");
                attempt += 1;
            }
            Err(error) if attempt > 1 => {
                return Err(ClusterError::Attempts { attempts: attempt, last: Box::new(error) });
            }
            Err(error) => return Err(error),
        }
    }
}

/// Runs `job` on one process with `workers` timely workers: the in-process form of [`run`].
///
/// # Errors
/// As [`run`].
pub fn run_local<J: Job>(
    job: &J,
    store: &dyn Store,
    options: &RunOptions,
    workers: usize,
) -> Result<RunReport, ClusterError> {
    run(job, store, options, &ClusterConfig::single(workers))
}

/// The timely engine as an [`Engine`]: [`run`] as this process of its cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelyEngine {
    config: ClusterConfig,
}

impl TimelyEngine {
    /// The timely engine, as the process `config` describes.
    pub fn new(config: ClusterConfig) -> Self {
        TimelyEngine { config }
    }

    /// Where this process stands in the cluster.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }
}

impl Engine for TimelyEngine {
    fn name(&self) -> &'static str {
        TIMELY_ENGINE
    }

    /// Runs `job` with [`run`]; a [`ClusterError`] is the [`RunError::Engine`] source
    /// ([`RunError::engine_error`] gives it back), but for a shard count out of range, which
    /// is [`RunError::InvalidShards`] as on every engine.
    fn run<J: Job>(
        &self,
        job: &J,
        store: &dyn Store,
        options: &RunOptions,
        params: &str,
    ) -> Result<RunReport, RunError> {
        shards_for::<J>(options)?;
        run_with_params(job, store, options, &self.config, params)
            .map_err(|error| RunError::Engine { engine: TIMELY_ENGINE, source: Box::new(error) })
    }
}
