//! The registry of every job linked into the binary, collected with `inventory`.
//!
//! `#[one_off_job]` submits a [`JobDescriptor`] for each job, so no list is kept by hand
//! (Oppia's step 7, "add your job to `ONE_OFF_JOB_MANAGER`", is gone).
//!
//! # The linking trap
//!
//! `inventory` collects descriptors from every crate *linked* into the binary. A crate that the
//! binary never refers to is not linked at all, and its jobs vanish without a word. Guard
//! against it in your binary by naming the crate that holds your jobs; `jobs-examples` does it
//! with [`link_jobs!`](crate::link_jobs), which also makes the binary fail loudly at start if
//! the crate contributed no job. The `jobs` command refuses to run with an empty registry.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use crate::engines::EngineChoice;
use crate::exec::{RunError, RunOptions, RunReport};
use crate::job::Job;
use crate::params::{ParamError, ParamSpec, Params};
use crate::store::Store;

/// Everything the registry knows about one job, and how to run it without naming its type.
pub struct JobDescriptor {
    name: &'static str,
    models: &'static [&'static str],
    default_shards: usize,
    max_failures: u64,
    description: &'static str,
    module_path: &'static str,
    file: &'static str,
    line: u32,
    params: &'static [ParamSpec],
    run: fn(&EngineChoice, &Params, &dyn Store, &RunOptions) -> Result<RunReport, StartError>,
    check: fn(&Params) -> Result<(), ParamError>,
}

inventory::collect!(JobDescriptor);

impl JobDescriptor {
    #[doc(hidden)]
    pub const fn __of<J: Job>(
        description: &'static str,
        module_path: &'static str,
        file: &'static str,
        line: u32,
    ) -> Self {
        JobDescriptor {
            name: J::NAME,
            models: J::MODELS,
            default_shards: J::DEFAULT_SHARDS,
            max_failures: J::MAX_FAILURES,
            description,
            module_path,
            file,
            line,
            params: J::PARAMS,
            run: run_erased::<J>,
            check: check_erased::<J>,
        }
    }

    /// The job's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The kinds of the models it maps over, in the order listed.
    pub fn models(&self) -> &'static [&'static str] {
        self.models
    }

    /// Its shard count when a run does not ask for one.
    pub fn default_shards(&self) -> usize {
        self.default_shards
    }

    /// How many entities and keys may fail in a run that still completes, when the run does
    /// not set its own limit ([`Job::MAX_FAILURES`]).
    pub fn max_failures(&self) -> u64 {
        self.max_failures
    }

    /// Its doc comment.
    pub fn description(&self) -> &'static str {
        self.description
    }

    /// The first line of its doc comment.
    pub fn summary(&self) -> &'static str {
        self.description.lines().next().unwrap_or("")
    }

    /// The module that defines it, e.g. `jobs_examples::exp_jobs_one_off`.
    pub fn module_path(&self) -> &'static str {
        self.module_path
    }

    /// Where it is defined, as `file:line`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// Its parameters.
    pub fn params(&self) -> &'static [ParamSpec] {
        self.params
    }

    /// Checks `params` against the job's parameters without running anything.
    ///
    /// # Errors
    /// A parameter is unknown, missing or does not parse; the error names it.
    pub fn check_params(&self, params: &Params) -> Result<(), ParamError> {
        (self.check)(params)
    }

    /// Builds the job from `params` and runs it on the local engine.
    ///
    /// # Errors
    /// A parameter is wrong (nothing ran), or the run could not be carried out.
    pub fn run(&self, store: &dyn Store, params: &Params, options: &RunOptions) -> Result<RunReport, StartError> {
        (self.run)(&EngineChoice::Local, params, store, options)
    }

    /// Builds the job from `params` and runs it on `engine`.
    ///
    /// # Errors
    /// A parameter is wrong (nothing ran), or the run could not be carried out.
    pub fn run_on(
        &self,
        engine: &EngineChoice,
        store: &dyn Store,
        params: &Params,
        options: &RunOptions,
    ) -> Result<RunReport, StartError> {
        (self.run)(engine, params, store, options)
    }
}

impl fmt::Debug for JobDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobDescriptor")
            .field("name", &self.name)
            .field("models", &self.models)
            .field("default_shards", &self.default_shards)
            .field("max_failures", &self.max_failures)
            .field("module_path", &self.module_path)
            .field("location", &self.location())
            .finish_non_exhaustive()
    }
}

fn check_erased<J: Job>(params: &Params) -> Result<(), ParamError> {
    J::from_params(params).map(drop)
}

fn run_erased<J: Job>(
    engine: &EngineChoice,
    params: &Params,
    store: &dyn Store,
    options: &RunOptions,
) -> Result<RunReport, StartError> {
    let job = J::from_params(params)?;
    // Compared across processes by an engine spread over several, so all of them run the job
    // with the same parameters.
    let params = serde_json::to_string(params).unwrap_or_default();
    Ok(engine.run(&job, store, options, &params)?)
}

/// A run could not start or could not be carried out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A parameter was wrong; nothing ran.
    #[error(transparent)]
    Params(#[from] ParamError),
    /// The run failed as a whole.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Every job linked into the binary, sorted by name.
#[derive(Debug)]
pub struct Registry {
    jobs: Vec<&'static JobDescriptor>,
}

impl Registry {
    /// A registry of the given descriptors.
    ///
    /// # Errors
    /// Two descriptors share a name; the error names both places.
    pub fn from_descriptors(jobs: impl IntoIterator<Item = &'static JobDescriptor>) -> Result<Self, RegistryError> {
        let mut by_name: BTreeMap<&'static str, &'static JobDescriptor> = BTreeMap::new();
        for job in jobs {
            if let Some(first) = by_name.insert(job.name, job) {
                let (first, second) = ordered(first, job);
                return Err(RegistryError::DuplicateName {
                    name: job.name,
                    first: format!("{} ({})", first.location(), first.module_path),
                    second: format!("{} ({})", second.location(), second.module_path),
                });
            }
        }
        Ok(Registry { jobs: by_name.into_values().collect() })
    }

    /// The jobs, sorted by name.
    pub fn jobs(&self) -> &[&'static JobDescriptor] {
        &self.jobs
    }

    /// The job called `name`.
    pub fn find(&self, name: &str) -> Option<&'static JobDescriptor> {
        self.jobs.binary_search_by(|job| job.name.cmp(name)).ok().map(|i| self.jobs[i])
    }

    /// The job called `name`, or an error that lists the known names.
    ///
    /// # Errors
    /// No job has that name.
    pub fn get(&self, name: &str) -> Result<&'static JobDescriptor, RegistryError> {
        self.find(name).ok_or_else(|| RegistryError::UnknownJob {
            name: name.to_owned(),
            suggestion: closest(name, self.jobs.iter().map(|j| j.name)),
        })
    }

    /// How many jobs there are.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether no job is linked in; see the [module docs](self) for why that happens.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }
}

/// Reports duplicates in a stable order whatever order inventory yields them in.
fn ordered(a: &'static JobDescriptor, b: &'static JobDescriptor) -> (&'static JobDescriptor, &'static JobDescriptor) {
    if (a.module_path, a.file, a.line) <= (b.module_path, b.file, b.line) { (a, b) } else { (b, a) }
}

fn closest<'a>(name: &str, names: impl Iterator<Item = &'a str>) -> Option<String> {
    let lower = name.to_lowercase();
    names
        .map(|candidate| (strsim::levenshtein(&lower, &candidate.to_lowercase()), candidate))
        .filter(|(distance, candidate)| *distance <= candidate.len() / 3 + 1)
        .min()
        .map(|(_, candidate)| candidate.to_owned())
}

/// The registry could not be built, or a job was not found in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Two jobs linked into the binary have the same name.
    #[error(
        "two jobs are named `{name}`: one at {first}, one at {second}; rename one with `#[one_off_job(name = \"...\")]`"
    )]
    DuplicateName {
        /// The shared name.
        name: &'static str,
        /// The first definition's place.
        first: String,
        /// The second definition's place.
        second: String,
    },
    /// Two model types linked into the binary are stored under the same kind, so one kind's
    /// entities would be read as either.
    #[error(
        "two models are stored as the kind `{kind}`: one at {first}, one at {second}; give one another kind with `#[model(kind = \"...\")]`, or remove one"
    )]
    DuplicateKind {
        /// The shared kind.
        kind: &'static str,
        /// The first model's place and type.
        first: String,
        /// The second model's place and type.
        second: String,
    },
    /// No job has the name asked for.
    #[error("no job is named `{name}`{}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownJob {
        /// The name asked for.
        name: String,
        /// The closest known name.
        suggestion: Option<String>,
    },
}

/// The registry of every job linked into the binary, built (and checked for duplicate names)
/// the first time it is read.
///
/// # Errors
/// Two jobs share a name, or two models a kind; the error names both places. Every later call
/// returns it again.
pub fn registry() -> Result<&'static Registry, RegistryError> {
    static REGISTRY: OnceLock<Result<Registry, RegistryError>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            let registry = Registry::from_descriptors(inventory::iter::<JobDescriptor>)?;
            match crate::model::duplicate_kind(inventory::iter::<crate::model::ModelDescriptor>) {
                Some((kind, first, second)) => Err(RegistryError::DuplicateKind { kind, first, second }),
                None => Ok(registry),
            }
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Links a crate of jobs into the binary and checks, at start, that it registered some.
///
/// `inventory` only sees crates that are linked, and a crate the binary never names is not.
/// Write this once in `main` for each crate that defines jobs:
///
/// ```ignore
/// fn main() {
///     jobs_core::link_jobs!(my_app_jobs);
///     // ...
/// }
/// ```
///
/// It expands to a use of the crate (so it is linked) and returns an error message if no job
/// defined in that crate is in the registry.
#[macro_export]
macro_rules! link_jobs {
    ($krate:ident) => {{
        extern crate $krate as _;
        $crate::registry::__check_linked(::core::stringify!($krate))
    }};
}

#[doc(hidden)]
pub fn __check_linked(krate: &str) -> Result<(), String> {
    let prefix = format!("{krate}::");
    let found = inventory::iter::<JobDescriptor>
        .into_iter()
        .any(|job| job.module_path == krate || job.module_path.starts_with(&prefix));
    if found {
        Ok(())
    } else {
        Err(format!(
            "no job from the crate `{krate}` is registered: is it linked into this binary, and does it define jobs with #[one_off_job]?"
        ))
    }
}
