//! What can go wrong in a command, and the exit code each failure maps to.

use std::path::PathBuf;
use std::time::Duration;

use super::{BoxError, hints};
use crate::exec::RunError;
use crate::params::ParamError;
use crate::registry::{RegistryError, StartError};
use crate::runs::{RunId, RunsError, Status};
use crate::store::StoreError;

/// The command did what it was asked.
pub(crate) const EXIT_OK: u8 = 0;
/// The work failed (job failures, store, files, data).
pub(crate) const EXIT_FAILED: u8 = 1;
/// The command line is wrong.
pub(crate) const EXIT_USAGE: u8 = 2;
/// A run was canceled, with Ctrl-C or `jobs cancel` (128 + SIGINT, as shells report it).
pub(crate) const EXIT_CANCELED: u8 = 130;

/// A command failed. The message says what was wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// Duplicate job names, or an unknown job.
    #[error("{}", hints::registry(.0))]
    Registry(#[from] RegistryError),
    /// The registry is empty: the crate defining jobs is not linked.
    #[error(
        "no job is registered in this program. Jobs register themselves only from crates that are linked into the \
         binary, and a crate the binary never refers to is left out silently. Name the crate that defines the jobs in \
         `main` with `jobs_core::link_jobs!(that_crate)`, and check that it defines jobs with #[one_off_job]"
    )]
    NoJobs,
    /// The crate that defines the jobs registered none: `link_jobs!`'s message.
    #[error("{0}")]
    NotLinked(String),
    /// A `--param` was wrong.
    #[error("{}; `jobs list` shows each job's parameters", hints::param(.0))]
    Param(#[from] ParamError),
    /// The store could not be opened, read or written.
    #[error("{}", hints::store(.0))]
    Store(#[from] StoreError),
    /// A run could not be carried out.
    #[error(transparent)]
    Run(#[from] RunError),
    /// No model of that kind is linked in.
    #[error("{}", unknown_kind(kind, suggestion.as_deref(), known))]
    UnknownKind {
        /// The kind asked for.
        kind: String,
        /// The closest known kind.
        suggestion: Option<&'static str>,
        /// Every known kind.
        known: Vec<&'static str>,
    },
    /// The `--store` file does not exist, and the command only works on an existing store.
    #[error(
        "the store {} does not exist; create it with {}`jobs import KIND FILE`, or pass the --store of an existing one",
        path.display(), if *seeder { "`jobs seed` or " } else { "" }
    )]
    StoreMissing {
        /// The path given.
        path: PathBuf,
        /// Whether this program has a seeder, so that `seed` can be suggested.
        seeder: bool,
    },
    /// A file could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    File {
        /// What was being done: "read", "create", "write".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why not.
        source: std::io::Error,
    },
    /// Standard input could not be read.
    #[error("cannot read standard input: {0}")]
    Stdin(std::io::Error),
    /// Standard output could not be written (other than a closed pipe).
    #[error("cannot write to standard output: {0}")]
    Stdout(std::io::Error),
    /// Whoever reads standard output stopped reading (`jobs export K | head`). Not reported.
    #[error("standard output was closed before everything was written")]
    OutputClosed,
    /// A stored entity does not decode as its model.
    #[error(
        "{kind} `{id}` in the store does not decode ({reason}); the store holds data this program's model cannot read"
    )]
    Corrupt {
        /// The model kind.
        kind: String,
        /// The entity's id.
        id: String,
        /// The decode error.
        reason: String,
    },
    /// The import input has bad lines; nothing was stored.
    #[error("{0}")]
    Import(String),
    /// The seeder failed.
    #[error("seeding the store {store} failed: {source}")]
    Seed {
        /// The store.
        store: String,
        /// What the seeder returned.
        source: BoxError,
    },
    /// A command this binary does not offer.
    #[error("this program has no {what}, so `{command}` is not available; run with --help to see its commands")]
    NotOffered {
        /// The command.
        command: &'static str,
        /// What it would need.
        what: &'static str,
    },
    /// The binary names a demo job that is not registered.
    #[error("the demo job `{0}` is not registered in this program; `jobs list` shows the jobs it has")]
    DemoJobMissing(String),
    /// The run was canceled.
    #[error("the run was canceled; it printed no output")]
    Canceled,
    /// The run ended `failed`: the engine or the store gave up (not entities that failed).
    #[error("run {id} failed: {error}")]
    RunFailed {
        /// The run.
        id: RunId,
        /// Its recorded error.
        error: String,
    },
    /// Recording, reading or changing a run failed, or the run id names no run.
    #[error("{}", hints::runs(.0))]
    Runs(RunsError),
    /// The background process of `run --detach` could not be started.
    #[error("could not start a background process for run {id}: {source}; the run was canceled")]
    DetachSpawn {
        /// The run, now canceled.
        id: RunId,
        /// Why not.
        source: std::io::Error,
    },
    /// The background process of `run --detach` ended before it took up the run.
    #[error(
        "the background process for run {id} exited ({exit}) before starting it; the run was canceled. \
         Its log is {}", log.display()
    )]
    DetachExited {
        /// The run, now canceled.
        id: RunId,
        /// How the process ended.
        exit: String,
        /// Where its stderr went.
        log: PathBuf,
    },
    /// `jobs cancel` found the run already finished, other than canceled.
    #[error("run {id} already finished as {status}; there is nothing to cancel")]
    NotCancelable {
        /// The run.
        id: RunId,
        /// How it finished.
        status: Status,
    },
    /// `jobs cancel` asked a started run to stop, but it had not stopped when the wait ended.
    #[error(
        "run {id} was asked to stop but is still {status} after {} s; the request stands, and `jobs status {id}` \
         shows when it stops", waited.as_secs()
    )]
    CancelPending {
        /// The run.
        id: RunId,
        /// Its status when the wait ended.
        status: Status,
        /// How long `jobs cancel` waited.
        waited: Duration,
    },
    /// The run's thread panicked outside job code: a bug.
    #[error("the run stopped with an internal error: {0}")]
    Internal(String),
    /// The cluster flags (`--engine timely`, `--processes`, `--hosts`, ...) do not fit together.
    #[cfg(feature = "timely")]
    #[error("{0}")]
    ClusterUsage(String),
    /// This process of a timely cluster could not do its part.
    #[cfg(feature = "timely")]
    #[error("process {process} of the cluster: {error}")]
    ClusterPeer {
        /// This process's index.
        process: usize,
        /// What went wrong.
        error: crate::cluster::ClusterError,
    },
    /// The admin page's server failed.
    #[cfg(feature = "web")]
    #[error(transparent)]
    Web(#[from] crate::web::WebError),
}

impl CliError {
    /// The process exit code for this error.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::Registry(RegistryError::UnknownJob { .. })
            | CliError::Param(_)
            | CliError::Run(RunError::InvalidShards { .. })
            | CliError::UnknownKind { .. }
            | CliError::Store(
                StoreError::Missing { .. }
                | StoreError::Empty { .. }
                | StoreError::NotAStore { .. }
                | StoreError::Truncated { .. },
            )
            | CliError::StoreMissing { .. }
            | CliError::NotOffered { .. }
            | CliError::Runs(
                RunsError::InvalidRunId { .. }
                | RunsError::UnknownRun { .. }
                | RunsError::AlreadyActive { .. }
                | RunsError::InvalidThreads { .. },
            ) => EXIT_USAGE,
            #[cfg(feature = "timely")]
            CliError::ClusterUsage(_) => EXIT_USAGE,
            // A file named on the command line (`import KIND FILE`) that is not there.
            CliError::File { action: "read", source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                EXIT_USAGE
            }
            CliError::Canceled => EXIT_CANCELED,
            _ => EXIT_FAILED,
        }
    }

    /// Whether the error says something the user has not already been told.
    pub(crate) fn is_reported(&self) -> bool {
        !matches!(self, CliError::OutputClosed)
    }

    /// Maps an error writing to standard output: a closed pipe is a quiet stop.
    pub(crate) fn stdout(error: std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::BrokenPipe { CliError::OutputClosed } else { CliError::Stdout(error) }
    }
}

impl From<StartError> for CliError {
    fn from(error: StartError) -> Self {
        match error {
            StartError::Params(e) => CliError::Param(e),
            StartError::Run(e) => CliError::Run(e),
        }
    }
}

impl From<RunsError> for CliError {
    /// Keeps the command line's own messages and exit codes for what it checked before runs
    /// existed: the store, unknown jobs, parameters, shard counts.
    fn from(error: RunsError) -> Self {
        match error {
            RunsError::Store(e) => CliError::Store(e),
            RunsError::Registry(e) => CliError::Registry(e),
            RunsError::Params(e) => CliError::Param(e),
            RunsError::Engine(e) => CliError::Run(e),
            other => CliError::Runs(other),
        }
    }
}

fn unknown_kind(kind: &str, suggestion: Option<&str>, known: &[&str]) -> String {
    let did_you_mean = suggestion.map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
    let known = if known.is_empty() {
        "no model is registered in this program at all: is the crate that defines the models linked into it?".to_owned()
    } else {
        format!("the known kinds are: {}", known.join(", "))
    };
    format!("no model kind is named `{kind}`{did_you_mean}; {known}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_2_and_failures_exit_1() {
        let unknown = CliError::Registry(RegistryError::UnknownJob { name: "X".into(), suggestion: None });
        assert_eq!(unknown.exit_code(), EXIT_USAGE);
        let param = CliError::Param(ParamError::Repeated { name: "a".into() });
        assert_eq!(param.exit_code(), EXIT_USAGE);
        assert_eq!(CliError::NoJobs.exit_code(), EXIT_FAILED);
        assert_eq!(CliError::Canceled.exit_code(), EXIT_CANCELED);
        let duplicate =
            CliError::Registry(RegistryError::DuplicateName { name: "J", first: "a".into(), second: "b".into() });
        assert_eq!(duplicate.exit_code(), EXIT_FAILED);
    }

    #[test]
    fn run_errors_map_to_the_command_lines_exit_codes() {
        let id = RunId::generate("Job", 1);
        let unknown = CliError::from(RunsError::UnknownRun { id: id.clone() });
        assert_eq!(unknown.exit_code(), EXIT_USAGE);
        let active =
            CliError::from(RunsError::AlreadyActive { job: "Job".into(), id: id.clone(), status: Status::Started });
        assert_eq!(active.exit_code(), EXIT_USAGE, "--exclusive refusing is a usage error: nothing ran");
        let no_output = CliError::from(RunsError::NoOutput { id: id.clone(), status: Status::Canceled });
        assert_eq!(no_output.exit_code(), EXIT_FAILED);
        let param = CliError::from(RunsError::Params(ParamError::Repeated { name: "a".into() }));
        assert!(matches!(param, CliError::Param(_)), "keeps the parameter advice");
        let failed = CliError::RunFailed { id, error: "interrupted".into() };
        assert_eq!(failed.exit_code(), EXIT_FAILED);
    }

    #[test]
    fn an_unknown_kind_lists_the_known_ones() {
        let err = CliError::UnknownKind {
            kind: "ExplorationModle".into(),
            suggestion: Some("ExplorationModel"),
            known: vec!["ExplorationModel", "UserSettingsModel"],
        };
        assert_eq!(
            err.to_string(),
            "no model kind is named `ExplorationModle` (did you mean `ExplorationModel`?); the known kinds are: \
             ExplorationModel, UserSettingsModel"
        );
    }
}
