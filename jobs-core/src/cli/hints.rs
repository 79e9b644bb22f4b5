//! The command line's own words for the library's errors: what to type next.
//!
//! The library's errors carry their data (the name, the id, the path) in neutral words, so
//! that any front end can word them. Here each gets the hint a person at this command line
//! needs, spelled for the `jobs` binary (`` `jobs list` ``); [`Console::say`](super::console::Console::say)
//! then gives every quoted command under the running program's name (`` `my-app list` ``).

use crate::params::ParamError;
use crate::registry::RegistryError;
use crate::runs::{RunRecord, RunsError, failure_limit_error};
use crate::store::StoreError;

/// How to create a store. (A missing store file is worded by [`CliError::StoreMissing`](super::error::CliError::StoreMissing),
/// which knows whether this program can seed one.)
const CREATE_STORE: &str = "`jobs seed` or `jobs import KIND FILE`";

/// A registry error, with where to see the jobs.
pub(crate) fn registry(error: &RegistryError) -> String {
    match error {
        RegistryError::UnknownJob { .. } => format!("{error}; `jobs list` shows them all"),
        other => other.to_string(),
    }
}

/// A parameter error, with the flag that gives parameters.
pub(crate) fn param(error: &ParamError) -> String {
    match error {
        ParamError::Malformed { arg } => format!("`{arg}` is not a parameter: write `--param name=value`"),
        ParamError::Missing { name, expected } => {
            format!("parameter `{name}` is required ({expected}): add `--param {name}=...`")
        }
        other => other.to_string(),
    }
}

/// A store error, with the flag that names the store and the commands that create one.
pub(crate) fn store(error: &StoreError) -> String {
    match error {
        StoreError::Locked { .. } => format!("{error}; stop that process or use another --store"),
        StoreError::Missing { .. } => {
            format!("{error}; create it with {CREATE_STORE}, or pass the --store of an existing one")
        }
        StoreError::Empty { .. } => format!(
            "{error}: pass the --store of an existing store, or remove the empty file and create the store with \
             {CREATE_STORE}"
        ),
        StoreError::ReadOnly { .. } => format!("{error} as --store"),
        other => other.to_string(),
    }
}

/// A runs error, with the commands that list, cancel or keep runs.
pub(crate) fn runs(error: &RunsError) -> String {
    match error {
        RunsError::InvalidRunId { .. } => format!("{error}, as `jobs runs` prints them"),
        RunsError::UnknownRun { .. } => format!("{error}; `jobs runs` lists recent runs"),
        RunsError::AlreadyActive { job, id, status } => format!(
            "{job} already has a run {status}: {id}; wait for it, cancel it with `jobs cancel {id}`, or start without \
             --exclusive"
        ),
        RunsError::FullOutputNotKept { .. } => {
            format!("{error}. To keep the full output of a run, start it with `--keep-output`")
        }
        other => other.to_string(),
    }
}

/// For a run that failed by exceeding its failure limit, the flag that allows more.
pub(crate) fn failure_limit(record: &RunRecord) -> Option<String> {
    let error = record.error.as_deref()?;
    (error == failure_limit_error(record.stats.failures, record.max_failures))
        .then(|| format!("to allow more failures: `jobs run {} --max-failures N`", record.job))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::runs::RunId;

    #[test]
    fn the_jobs_binary_words_library_errors_as_it_always_did() {
        let id = RunId::parse("Job-1718000000000-abcdef").unwrap();
        assert_eq!(
            runs(&RunsError::UnknownRun { id: id.clone() }),
            "no run has the id `Job-1718000000000-abcdef`; `jobs runs` lists recent runs"
        );
        assert_eq!(
            runs(&RunsError::AlreadyActive { job: "Job".into(), id: id.clone(), status: crate::runs::Status::Queued }),
            "Job already has a run queued: Job-1718000000000-abcdef; wait for it, cancel it with `jobs cancel \
             Job-1718000000000-abcdef`, or start without --exclusive"
        );
        assert_eq!(
            runs(&RunsError::FullOutputNotKept { id }),
            "run Job-1718000000000-abcdef did not keep its full output (it was printed when the run ended); its \
             stored output, folded and cut, is kept. To keep the full output of a run, start it with `--keep-output`"
        );
        assert_eq!(
            registry(&RegistryError::UnknownJob { name: "Jb".into(), suggestion: Some("Job".into()) }),
            "no job is named `Jb` (did you mean `Job`?); `jobs list` shows them all"
        );
        assert_eq!(
            param(&ParamError::Missing { name: "max", expected: "an unsigned integer" }),
            "parameter `max` is required (an unsigned integer): add `--param max=...`"
        );
        let path = PathBuf::from("x.redb");
        assert_eq!(
            store(&StoreError::Missing { path: path.clone() }),
            "the store x.redb does not exist; create it with `jobs seed` or `jobs import KIND FILE`, or pass the \
             --store of an existing one"
        );
        assert_eq!(
            store(&StoreError::Empty { path }),
            "the store x.redb is an empty file (0 bytes), not a store; it was left as it is: pass the --store of an \
             existing store, or remove the empty file and create the store with `jobs seed` or `jobs import KIND FILE`"
        );
    }

    #[test]
    fn only_a_run_failed_by_its_failure_limit_is_told_how_to_allow_more_under_the_programs_name() {
        use crate::params::Params;
        use crate::runs::Status;
        let mut record = RunRecord::new("Job", Params::new(), 1, 1, false, 1);
        record.transition_at(Status::Queued, 2).unwrap();
        record.transition_at(Status::Started, 3).unwrap();
        record.transition_at(Status::Failed, 4).unwrap();
        record.stats.failures = 2;
        record.error = Some(failure_limit_error(2, 0));
        let hint = failure_limit(&record).expect("failed by its limit");
        assert_eq!(hint, "to allow more failures: `jobs run Job --max-failures N`");
        assert_eq!(
            super::super::console::in_program(&hint, "my-app"),
            "to allow more failures: `my-app run Job --max-failures N`"
        );
        record.error = Some(crate::runs::INTERRUPTED.to_owned());
        assert_eq!(failure_limit(&record), None, "an interrupted run is not told to allow more failures");
    }

    #[test]
    fn library_errors_name_no_command() {
        let id = RunId::parse("Job-1718000000000-abcdef").unwrap();
        let texts = [
            RunsError::UnknownRun { id: id.clone() }.to_string(),
            RunsError::AlreadyActive { job: "Job".into(), id: id.clone(), status: crate::runs::Status::Queued }
                .to_string(),
            RunsError::FullOutputNotKept { id }.to_string(),
            RegistryError::UnknownJob { name: "Jb".into(), suggestion: None }.to_string(),
            ParamError::Malformed { arg: "x".into() }.to_string(),
            StoreError::Missing { path: "x".into() }.to_string(),
            StoreError::Locked { path: "x".into() }.to_string(),
            failure_limit_error(3, 0),
        ];
        for text in texts {
            assert!(!text.contains("`jobs ") && !text.contains("--"), "{text}");
        }
    }
}
