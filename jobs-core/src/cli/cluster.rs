//! `jobs run NAME --engine timely ...`: the cluster flags, checked together, and the part of
//! every process but process 0.
//!
//! Every process of a cluster runs the same command with the same `--store`, job, `--param`s,
//! `--shards`, `--workers` and host file, and its own `--process I`. Process 0 records the run,
//! prints the report and exits as `jobs run` does; the others print only a line on stderr and
//! exit 0 when the run completed, 130 when it was canceled, 1 when it failed.

use std::sync::Arc;

use crate::cli::args::{EngineFlag, RunArgs};
use crate::cli::console::Console;
use crate::cli::error::CliError;
use crate::cli::progress;
use crate::cluster::{
    self, ClusterConfig, ClusterError, ClusterSecret, DEFAULT_CONNECT_TIMEOUT, DEFAULT_HEARTBEAT_TIMEOUT, SECRET_ENV,
    TimelyEngine,
};
use crate::engines::EngineChoice;
use crate::exec::{self, Progress, RunError, RunOptions};
use crate::params::Params;
use crate::registry::{JobDescriptor, StartError};

/// The cluster of `--engine timely`, or `None` for the local engine.
///
/// # Errors
/// A cluster flag without `--engine timely`, `--threads` or `--detach` with it, `--process`
/// out of range, a host file that cannot be read, has a bad line, or lists the wrong number
/// of processes (exit 2).
pub(crate) fn config(args: &RunArgs) -> Result<Option<ClusterConfig>, CliError> {
    let flags = &args.engine;
    let usage = |message: String| Err(CliError::ClusterUsage(message));
    if flags.engine == EngineFlag::Local {
        let given = [
            ("--workers", flags.workers.is_some()),
            ("--processes", flags.processes.is_some()),
            ("--process", flags.process.is_some()),
            ("--hosts", flags.hosts.is_some()),
            ("--retries", flags.retries.is_some()),
            ("--connect-timeout", flags.connect_timeout.is_some()),
            ("--cluster-secret-file", flags.cluster_secret_file.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, given)| *given) {
            return usage(format!("{flag} applies to `--engine timely`; the local engine takes --threads"));
        }
        return Ok(None);
    }
    if args.threads.is_some() {
        return usage("--threads applies to the local engine; with --engine timely use --workers".to_owned());
    }
    if args.detach {
        return usage(
            "--detach is not available with --engine timely: start each process of the cluster in the foreground \
             (under your process supervisor)"
                .to_owned(),
        );
    }
    let processes = flags.processes.unwrap_or(1);
    let process = flags.process.unwrap_or(0);
    if process >= processes {
        return usage(format!(
            "--process {process} is out of range: with --processes {processes} use 0 to {}",
            processes - 1
        ));
    }
    let hosts = match &flags.hosts {
        Some(path) => cluster::read_hosts(path).map_err(|e| CliError::ClusterUsage(e.to_string()))?,
        None if processes > 1 => {
            return usage(format!(
                "--processes {processes} needs --hosts FILE: one host:port per process, process 0 first"
            ));
        }
        None => Vec::new(),
    };
    if flags.hosts.is_some() && hosts.len() != processes {
        return usage(format!(
            "the host file {} lists {} address(es) but --processes is {processes}: list one host:port per process",
            flags.hosts.as_deref().map(|p| p.display().to_string()).unwrap_or_default(),
            hosts.len()
        ));
    }
    let workers = flags.workers.unwrap_or_else(exec::default_threads);
    let config =
        if processes > 1 { ClusterConfig::cluster(workers, process, hosts) } else { ClusterConfig::single(workers) }
            .with_retries(flags.retries.unwrap_or(0))
            .with_connect_timeout(flags.connect_timeout.map_or(DEFAULT_CONNECT_TIMEOUT, std::time::Duration::from_secs))
            .with_heartbeat_timeout(DEFAULT_HEARTBEAT_TIMEOUT)
            .with_secret(secret(flags.cluster_secret_file.as_deref())?);
    config.check().map_err(|e| CliError::ClusterUsage(e.to_string()))?;
    Ok(Some(config))
}

/// The cluster secret: from `--cluster-secret-file` when given, else from
/// `JOBS_CLUSTER_SECRET` when set.
///
/// # Errors
/// The file cannot be read, the variable is not UTF-8, or the secret is too short (exit 2).
fn secret(file: Option<&std::path::Path>) -> Result<Option<ClusterSecret>, CliError> {
    let usage = |e: cluster::SecretError| CliError::ClusterUsage(e.to_string());
    if let Some(path) = file {
        return ClusterSecret::from_file(path).map(Some).map_err(usage);
    }
    match std::env::var(SECRET_ENV) {
        Ok(text) => ClusterSecret::new(&text, SECRET_ENV).map(Some).map_err(usage),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(CliError::ClusterUsage(format!("{SECRET_ENV} is not UTF-8 text: use a printable secret")))
        }
    }
}

/// Does the part of process `config.process` (not 0) in the run: maps and reduces its share,
/// and exits as process 0 says the run ended.
///
/// # Errors
/// The cluster failed or was not started alike (exit 1), or the run was canceled (exit 130).
pub(crate) fn take_part(
    store: &dyn crate::store::Store,
    job: &JobDescriptor,
    params: &Params,
    args: &RunArgs,
    config: &ClusterConfig,
    console: &mut Console<'_>,
) -> Result<(), CliError> {
    let me = config.process;
    let progress = Arc::new(Progress::new());
    let mut options = RunOptions::default().with_dry_run(args.dry_run).with_progress(Arc::clone(&progress));
    options.shards = args.shards;
    // Each process holds its reduce workers' pairs within its own budget.
    options.max_memory = args.max_memory;
    let engine = EngineChoice::Timely(TimelyEngine::new(config.clone()));
    console.say(format_args!(
        "process {me} of {}: joining the cluster at {} for {}",
        config.processes,
        config.hosts.first().map_or("?", String::as_str),
        job.name()
    ));
    let result = progress::watch(console, &progress, &options.cancel, || job.run_on(&engine, store, params, &options))
        .map_err(CliError::Internal)?;
    match result {
        Ok(report) if report.canceled => {
            console.say(format_args!("process {me}: the run was canceled"));
            Err(CliError::Canceled)
        }
        Ok(_) => {
            console.say(format_args!("process {me}: done; process 0 records the run and prints its report"));
            Ok(())
        }
        Err(StartError::Run(RunError::Engine { source, engine })) => match source.downcast::<ClusterError>() {
            Ok(error) => Err(CliError::ClusterPeer { process: me, error: *error }),
            Err(source) => Err(CliError::Run(RunError::Engine { engine, source })),
        },
        Err(StartError::Run(error)) => Err(CliError::Run(error)),
        Err(StartError::Params(error)) => Err(CliError::Param(error)),
    }
}
