//! The "start a run" form: what was typed, and checking it against the job before anything is
//! queued. The JSON API goes through the same checks, so both report the same errors.

use std::collections::BTreeMap;

use crate::exec::{MAX_SHARDS, Shards};
use crate::params::{ParamError, Params};
use crate::registry::JobDescriptor;
use crate::runs::{MAX_THREADS, RunRequest, check_threads};

/// The form field of the shard count.
pub(crate) const SHARDS: &str = "shards";
/// The form field of the worker thread count.
pub(crate) const THREADS: &str = "threads";
/// The form field of the failure limit.
pub(crate) const MAX_FAILURES: &str = "max_failures";
/// The form field of the dry-run checkbox.
pub(crate) const DRY_RUN: &str = "dry_run";
/// The prefix of parameter fields: `param.min_length`.
pub(crate) const PARAM_PREFIX: &str = "param.";

/// What was typed into a job's form (or sent to the API), as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StartForm {
    /// The shard count, empty for the job's default.
    pub(crate) shards: String,
    /// The worker thread count, empty for one per core.
    pub(crate) threads: String,
    /// Whether "dry run" was ticked.
    pub(crate) dry_run: bool,
    /// How many entities and keys may fail, empty for the job's limit.
    pub(crate) max_failures: String,
    /// Parameter name to text; an empty text counts as not given.
    pub(crate) params: BTreeMap<String, String>,
}

impl StartForm {
    /// Reads the form's fields; other fields (such as `csrf`) are ignored.
    pub(crate) fn from_fields(fields: Vec<(String, String)>) -> Self {
        let mut form = StartForm::default();
        for (name, value) in fields {
            if name == SHARDS {
                form.shards = value;
            } else if name == THREADS {
                form.threads = value;
            } else if name == MAX_FAILURES {
                form.max_failures = value;
            } else if name == DRY_RUN {
                form.dry_run = matches!(value.as_str(), "true" | "on" | "1");
            } else if let Some(param) = name.strip_prefix(PARAM_PREFIX) {
                form.params.insert(param.to_owned(), value);
            }
        }
        form
    }

    /// What was typed for parameter `name`.
    pub(crate) fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }
}

/// Which field an error is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Field {
    /// The shard count.
    Shards,
    /// The worker thread count.
    Threads,
    /// The failure limit.
    MaxFailures,
    /// A parameter, by name.
    Param(String),
}

impl Field {
    /// The field's name as the API reports it: `shards`, or the parameter's name.
    pub(crate) fn name(&self) -> &str {
        match self {
            Field::Shards => SHARDS,
            Field::Threads => THREADS,
            Field::MaxFailures => MAX_FAILURES,
            Field::Param(name) => name,
        }
    }
}

/// A value that cannot start a run, and why, for the field it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    /// The field.
    pub(crate) field: Field,
    /// What is wrong, in words for the person who typed it.
    pub(crate) message: String,
}

/// Every field error of one submission; empty when it can start a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FormErrors {
    errors: Vec<FieldError>,
}

impl FormErrors {
    /// The error about `field`, if any.
    pub(crate) fn for_field(&self, field: &Field) -> Option<&str> {
        self.errors.iter().find(|e| &e.field == field).map(|e| e.message.as_str())
    }

    /// The errors, in field order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.errors.iter()
    }

    /// The first error, for a one-line message.
    pub(crate) fn first(&self) -> Option<&FieldError> {
        self.errors.first()
    }

    fn push(&mut self, field: Field, message: String) {
        self.errors.push(FieldError { field, message });
    }
}

/// Checks `form` against `job` and turns it into a run request.
///
/// The shard count and the parameters are checked: a parameter the job does not have, a
/// required one left empty, a value that does not parse. Each error names its field.
pub(crate) fn request(job: &'static JobDescriptor, form: &StartForm) -> Result<RunRequest, FormErrors> {
    let mut errors = FormErrors::default();
    let shards = match form.shards.trim() {
        "" => None,
        text => match text.parse::<usize>().ok().map(Shards::new) {
            Some(Ok(shards)) => Some(shards.get()),
            _ => {
                errors.push(
                    Field::Shards,
                    format!("`{text}` is not a shard count: use a whole number from 1 to {MAX_SHARDS}"),
                );
                None
            }
        },
    };
    let threads = match form.threads.trim() {
        "" => None,
        text => match text.parse::<usize>().ok().map(check_threads) {
            Some(Ok(threads)) => Some(threads),
            _ => {
                errors.push(
                    Field::Threads,
                    format!("`{text}` is not a thread count: use a whole number from 1 to {MAX_THREADS}"),
                );
                None
            }
        },
    };
    let max_failures = match form.max_failures.trim() {
        "" => None,
        text => match text.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(
                    Field::MaxFailures,
                    format!("`{text}` is not a failure limit: use a whole number, 0 or more"),
                );
                None
            }
        },
    };
    let mut params = Params::new();
    for (name, value) in &form.params {
        if !job.params().iter().any(|spec| spec.name == name) {
            errors.push(
                Field::Param(name.clone()),
                ParamError::Unknown {
                    job: job.name(),
                    name: name.clone(),
                    known: job.params().iter().map(|s| s.name).collect(),
                }
                .to_string(),
            );
        } else if !value.is_empty() {
            params.insert(name.clone(), value.clone());
        }
    }
    // The job's own check stops at its first bad parameter (in field order), so that is the
    // one reported, under its field; the others are checked once it is fixed.
    if let Err(error) = job.check_params(&params) {
        let (name, message) = param_message(&error).unwrap_or(("", error.to_string()));
        errors.push(Field::Param(name.to_owned()), message);
    }
    if !errors.errors.is_empty() {
        return Err(errors);
    }
    Ok(RunRequest {
        job: job.name().to_owned(),
        params,
        shards,
        threads,
        dry_run: form.dry_run,
        max_failures,
        ..RunRequest::default()
    })
}

/// The parameter an error is about, and what to tell the person who typed it (the command
/// line's advice, `--param name=...`, does not apply to a form).
fn param_message(error: &ParamError) -> Option<(&str, String)> {
    match error {
        ParamError::Missing { name, expected } => Some((name, format!("required: {expected}"))),
        ParamError::Invalid { name, value, expected, reason } => {
            Some((name, format!("`{value}` is not {expected} ({reason})")))
        }
        ParamError::Unknown { name, .. } | ParamError::Repeated { name } => Some((name, error.to_string())),
        ParamError::Malformed { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_sorted_into_shards_dry_run_and_parameters() {
        let form = StartForm::from_fields(vec![
            ("csrf".into(), "x".into()),
            ("shards".into(), "4".into()),
            ("dry_run".into(), "true".into()),
            ("param.min_length".into(), "3".into()),
        ]);
        assert_eq!(form.shards, "4");
        assert!(form.dry_run);
        assert_eq!(form.param("min_length"), "3");
        assert_eq!(form.param("other"), "");
    }
}
