//! Helpers for testing jobs: fill a store with models, run a job synchronously, read what it
//! produced (Oppia's `run_job_and_check_output`).
//!
//! * [`put_all`] stores models in one batch; [`get`] reads one back (after a migration, say).
//! * [`run`] runs a job value over a store and returns its [`RunReport`]: output lines in key
//!   order, the job's counters, the built-in counts, the failures. [`run_with`] does the same
//!   with [`RunOptions`] (`dry_run`, `shards`, `max_failures`, ...).
//! * [`run_named`] runs a registered job by name with text parameters (`"min_len=3"`, as
//!   `--param` takes them) and options, as the command line would, but without recording it.
//! * [`run_recorded`] runs a job by name, with text parameters, as a recorded run (as
//!   `jobs run` does), and returns its record with both forms of its output.
//! * [`assert_counters`] and [`assert_failures`] check a report's counters and failures, and
//!   say all of them when they do not match.
//!
//! ```
//! use jobs_core::prelude::*;
//! use jobs_core::{MemoryStore, testing};
//!
//! #[derive(Model, Serialize, Deserialize)]
//! pub struct UserSettingsModel { id: String, username: Option<String> }
//!
//! /// Counts users by username length.
//! #[one_off_job(models = [UserSettingsModel])]
//! pub struct UsernameLengthCounts;
//!
//! impl Map<UserSettingsModel> for UsernameLengthCounts {
//!     fn map(&self, user: UserSettingsModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
//!         if let Some(name) = user.username {
//!             ctx.emit(name.len(), 1);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! impl Reduce for UsernameLengthCounts {
//!     type Key = usize;
//!     type Value = u64;
//!     fn reduce(&self, len: usize, ones: Values<'_, u64>, out: &mut Output) -> Outcome {
//!         out.json(&(len, ones.sum::<u64>()))
//!     }
//! }
//!
//! let store = MemoryStore::new();
//! testing::put_all(&store, &[
//!     UserSettingsModel { id: "u1".into(), username: Some("ann".into()) },
//!     UserSettingsModel { id: "u2".into(), username: Some("bob".into()) },
//!     UserSettingsModel { id: "u3".into(), username: None },
//! ])?;
//! let report = testing::run(&UsernameLengthCounts, &store)?;
//! assert_eq!(report.output, ["[3,2]"]);
//! assert!(report.failures.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Write as _;

use crate::context::{Counters, GetError};
use crate::engine::{self, FailureRecord, RunError, RunOptions, RunReport};
use crate::job::Job;
use crate::model::{self, CodecError, Model};
use crate::params::{ParamError, Params};
use crate::registry::{RegistryError, StartError};
use crate::runs::{self, RunLog, RunRecord, RunRequest, RunnerOptions, RunsError};
use crate::store::{Store, StoreError, WriteBatch};

/// Stores `models` in one atomic batch.
///
/// # Errors
/// A model does not encode, or the store could not be written.
pub fn put_all<M: Model>(store: &dyn Store, models: &[M]) -> Result<(), PutError> {
    const { assert!(!M::VIEW, "`put_all` of a view would store entities without the fields the view leaves out") }
    let mut batch = WriteBatch::new();
    for m in models {
        batch.put(M::KIND, m.id(), model::encode(m)?);
    }
    store.apply(&batch)?;
    Ok(())
}

/// Runs `job` over `store` synchronously with default options and returns its report: its
/// output lines (sorted by key), its counters, the engine's counts and its failures. An entity
/// or key that fails does not stop the run: it is in `failures`.
///
/// ```
/// use jobs_core::prelude::*;
/// use jobs_core::{Failure, MemoryStore, testing};
///
/// #[derive(Model, Serialize, Deserialize)]
/// pub struct Exploration { id: String, title: String }
///
/// /// Counts explorations by the first letter of their title.
/// #[one_off_job(models = [Exploration])]
/// pub struct TitleInitials;
///
/// impl Map<Exploration> for TitleInitials {
///     fn map(&self, exploration: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
///         let Some(initial) = exploration.title.chars().next() else {
///             return Err(Failure::new("the title is empty"));
///         };
///         ctx.count("titled", 1);
///         ctx.emit(initial.to_string(), 1);
///         Ok(())
///     }
/// }
///
/// impl Reduce for TitleInitials {
///     type Key = String;
///     type Value = u32;
///     fn reduce(&self, initial: String, ones: Values<'_, u32>, out: &mut Output) -> Outcome {
///         out.line(format!("{initial}: {}", ones.sum::<u32>()));
///         Ok(())
///     }
/// }
///
/// let store = MemoryStore::new();
/// testing::put_all(&store, &[
///     Exploration { id: "e1".into(), title: "Fractions".into() },
///     Exploration { id: "e2".into(), title: "Algebra".into() },
///     Exploration { id: "e3".into(), title: "Fractals".into() },
///     Exploration { id: "e4".into(), title: "".into() },
/// ])?;
/// let report = testing::run(&TitleInitials, &store)?;
/// assert_eq!(report.output, ["A: 1", "F: 2"]);
/// assert_eq!(report.counters.get("titled"), 3);
/// assert_eq!(report.stats.entities_read, 4);
/// assert_eq!(report.failures.len(), 1);
/// assert_eq!(report.failures[0].to_string(), "Exploration e4: the title is empty");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// The store failed.
pub fn run<J: Job>(job: &J, store: &dyn Store) -> Result<RunReport, RunError> {
    engine::run(job, store, &RunOptions::default())
}

/// Reads the model `M` with id `id` back from `store`: `None` when no entity has that id.
/// Use it after a migration to check what it stored.
///
/// ```
/// use jobs_core::prelude::*;
/// use jobs_core::{MemoryStore, testing};
///
/// #[derive(Model, Serialize, Deserialize, Debug, PartialEq)]
/// pub struct UserSettings { id: String, username: String }
///
/// /// Lower-cases usernames, storing the users it changes.
/// #[one_off_job(models = [UserSettings])]
/// pub struct LowerCaseUsernames;
///
/// impl Map<UserSettings> for LowerCaseUsernames {
///     fn map(&self, mut user: UserSettings, ctx: &mut MapContext<'_, Self>) -> Outcome {
///         let lower = user.username.to_lowercase();
///         if lower != user.username {
///             user.username = lower;
///             ctx.put(&user)?;
///             ctx.count("lowered", 1);
///         }
///         Ok(())
///     }
/// }
///
/// impl Reduce for LowerCaseUsernames {
///     type Key = String;
///     type Value = u64;
///     fn reduce(&self, _: String, _: Values<'_, u64>, _: &mut Output) -> Outcome { Ok(()) }
/// }
///
/// let store = MemoryStore::new();
/// testing::put_all(&store, &[UserSettings { id: "u1".into(), username: "Ann".into() }])?;
/// testing::run(&LowerCaseUsernames, &store)?;
/// let u1: Option<UserSettings> = testing::get(&store, "u1")?;
/// assert_eq!(u1, Some(UserSettings { id: "u1".into(), username: "ann".into() }));
/// assert_eq!(testing::get::<UserSettings>(&store, "u2")?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// The store could not be read, or the stored entity does not decode as `M`.
pub fn get<M: Model>(store: &dyn Store, id: &str) -> Result<Option<M>, GetError> {
    let Some(bytes) = store.get(M::KIND, id)? else {
        return Ok(None);
    };
    model::decode(&bytes).map(Some).map_err(|source| GetError::Decode { kind: M::KIND, id: id.to_owned(), source })
}

/// Runs `job` over `store` like [`run`], with `options`: a dry run, a number of shards or
/// threads, a failure limit other than the job's own.
///
/// ```
/// use jobs_core::prelude::*;
/// use jobs_core::{MemoryStore, RunOptions, testing};
///
/// #[derive(Model, Serialize, Deserialize, Debug, PartialEq)]
/// pub struct Note { id: String, text: String }
///
/// /// Trims notes, storing the ones it changes.
/// #[one_off_job(models = [Note])]
/// pub struct TrimNotes;
///
/// impl Map<Note> for TrimNotes {
///     fn map(&self, mut note: Note, ctx: &mut MapContext<'_, Self>) -> Outcome {
///         if note.text.trim() != note.text {
///             note.text = note.text.trim().to_owned();
///             ctx.put(&note)?;
///         }
///         Ok(())
///     }
/// }
///
/// impl Reduce for TrimNotes {
///     type Key = String;
///     type Value = u64;
///     fn reduce(&self, _: String, _: Values<'_, u64>, _: &mut Output) -> Outcome { Ok(()) }
/// }
///
/// let store = MemoryStore::new();
/// testing::put_all(&store, &[Note { id: "n1".into(), text: " hi ".into() }])?;
/// let dry_run = RunOptions::default().with_dry_run(true).with_shards(2);
/// let report = testing::run_with(&TrimNotes, &store, &dry_run)?;
/// testing::assert_counters(&report.counters, &[("puts", 1)]);
/// assert_eq!(report.shards, 2);
/// let note: Option<Note> = testing::get(&store, "n1")?;
/// assert_eq!(note.map(|n| n.text).as_deref(), Some(" hi "), "a dry run stores nothing");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// The store failed, or an option is out of range (such as `shards: Some(0)`).
pub fn run_with<J: Job>(job: &J, store: &dyn Store, options: &RunOptions) -> Result<RunReport, RunError> {
    engine::run(job, store, options)
}

/// Runs the registered job called `name` over `store` with text parameters (`"min_len=3"`, as
/// `--param` takes them) and `options`, as the command line would, without recording the run.
/// The job is built from its parameters, so this also tests that they parse.
///
/// ```
/// use jobs_core::prelude::*;
/// use jobs_core::{MemoryStore, RunOptions, testing};
///
/// #[derive(Model, Serialize, Deserialize)]
/// pub struct UserSettings { id: String, username: String }
///
/// /// Counts usernames at least `min_len` letters long.
/// #[one_off_job(models = [UserSettings], name = "LongUsernames")]
/// pub struct LongUsernames { min_len: usize }
///
/// impl Map<UserSettings> for LongUsernames {
///     fn map(&self, user: UserSettings, ctx: &mut MapContext<'_, Self>) -> Outcome {
///         if user.username.len() >= self.min_len {
///             ctx.count("long", 1);
///         }
///         Ok(())
///     }
/// }
///
/// impl Reduce for LongUsernames {
///     type Key = String;
///     type Value = u64;
///     fn reduce(&self, _: String, _: Values<'_, u64>, _: &mut Output) -> Outcome { Ok(()) }
/// }
///
/// let store = MemoryStore::new();
/// testing::put_all(&store, &[
///     UserSettings { id: "u1".into(), username: "al".into() },
///     UserSettings { id: "u2".into(), username: "carmen".into() },
/// ])?;
/// let report = testing::run_named(&store, "LongUsernames", ["min_len=3"], &RunOptions::default())?;
/// testing::assert_counters(&report.counters, &[("long", 1)]);
///
/// let error = testing::run_named(&store, "LongUsernames", ["min_len=three"], &RunOptions::default());
/// assert!(error.is_err(), "a parameter that does not parse is an error; nothing ran");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// No job is called `name` (or two are), a parameter is malformed, unknown, missing or of the
/// wrong type, or the run failed as a whole (the store, an option out of range).
pub fn run_named<I, S>(
    store: &dyn Store,
    name: &str,
    params: I,
    options: &RunOptions,
) -> Result<RunReport, RunNamedError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let job = crate::registry::registry()?.get(name)?;
    let params = Params::parse_args(params)?;
    Ok(job.run(store, &params, options)?)
}

/// [`run_named`] failed.
#[derive(Debug, thiserror::Error)]
pub enum RunNamedError {
    /// No job has that name, or two jobs share a name.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A parameter is not of the form `name=value`.
    #[error(transparent)]
    Params(#[from] ParamError),
    /// A parameter was wrong for the job, or the run failed as a whole.
    #[error(transparent)]
    Start(#[from] StartError),
}

/// Checks that each named counter has the expected value (a counter never counted is 0);
/// counters not named are not checked. Takes a report's counters (`report.counters`) or a
/// recorded run's (`run.record.counters`). The built-in counters `puts` and `deletes` count
/// the models a job stored and deleted (or, in a dry run, would have).
///
/// ```
/// use jobs_core::{Counters, testing};
///
/// let mut counters = Counters::default();
/// counters.add("TRIMMED", 2);
/// testing::assert_counters(&counters, &[("TRIMMED", 2), ("UNCHANGED", 0)]);
/// let mismatch = std::panic::catch_unwind(|| testing::assert_counters(&counters, &[("TRIMMED", 3)]));
/// assert!(mismatch.is_err());
/// ```
///
/// # Panics
/// A counter differs: the message lists the differences and every counter the run had.
#[track_caller]
pub fn assert_counters(counters: &Counters, expected: &[(&str, u64)]) {
    let mut differences = String::new();
    for &(name, value) in expected {
        let actual = counters.get(name);
        if actual != value {
            let _ = writeln!(differences, "  {name}: expected {value}, counted {actual}");
        }
    }
    if !differences.is_empty() {
        let all: Vec<String> = counters.iter().map(|(name, value)| format!("{name}={value}")).collect();
        panic!(
            "counters differ:\n{differences}the run counted: {}",
            if all.is_empty() { "nothing".to_owned() } else { all.join(", ") }
        );
    }
}

/// Checks that the failures are exactly `expected`, in any order, each written as the report
/// writes it: `"<Kind> <id>: <message>"` for an entity, `"reduce key <key as JSON>: <message>"`
/// for a key. `&[]` checks that nothing failed. Takes a report's failures
/// (`&report.failures`) or a recorded run's (`&run.record.failures`), which keep the first
/// 100; `stats.failures` counts them all.
///
/// ```
/// use jobs_core::prelude::*;
/// use jobs_core::{Failure, MemoryStore, testing};
///
/// #[derive(Model, Serialize, Deserialize)]
/// pub struct Exploration { id: String, title: String }
///
/// /// Counts explorations by title length; an empty title fails.
/// #[one_off_job(models = [Exploration], max_failures = 5)]
/// pub struct TitleLengths;
///
/// impl Map<Exploration> for TitleLengths {
///     fn map(&self, exploration: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
///         if exploration.title.is_empty() {
///             return Err(Failure::new("the title is empty"));
///         }
///         ctx.emit(exploration.title.len(), 1);
///         Ok(())
///     }
/// }
///
/// impl Reduce for TitleLengths {
///     type Key = usize;
///     type Value = u64;
///     fn reduce(&self, len: usize, ones: Values<'_, u64>, out: &mut Output) -> Outcome {
///         out.json(&(len, ones.sum::<u64>()))
///     }
/// }
///
/// let store = MemoryStore::new();
/// testing::put_all(&store, &[
///     Exploration { id: "e1".into(), title: "".into() },
///     Exploration { id: "e2".into(), title: "Fractions".into() },
///     Exploration { id: "e3".into(), title: "".into() },
/// ])?;
/// let report = testing::run(&TitleLengths, &store)?;
/// testing::assert_failures(&report.failures, &[
///     "Exploration e3: the title is empty",
///     "Exploration e1: the title is empty",
/// ]);
/// assert!(!report.exceeds_failure_limit(), "5 may fail");
/// assert_eq!(report.output, ["[9,1]"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Panics
/// The failures differ: the message lists the ones missing and the ones not expected.
#[track_caller]
pub fn assert_failures(failures: &[FailureRecord], expected: &[&str]) {
    let mut unexpected: Vec<String> = failures.iter().map(ToString::to_string).collect();
    let mut missing = Vec::new();
    for &want in expected {
        match unexpected.iter().position(|got| got == want) {
            Some(found) => {
                unexpected.remove(found);
            }
            None => missing.push(want),
        }
    }
    if !missing.is_empty() || !unexpected.is_empty() {
        let list = |lines: &[&str]| lines.iter().map(|line| format!("\n  {line}")).collect::<String>();
        let unexpected: Vec<&str> = unexpected.iter().map(String::as_str).collect();
        panic!(
            "failures differ\nexpected but not there:{}\nthere but not expected:{}",
            if missing.is_empty() { " none".to_owned() } else { list(&missing) },
            if unexpected.is_empty() { " none".to_owned() } else { list(&unexpected) },
        );
    }
}

/// A run carried out by [`run_recorded`]: what was recorded, and its output in both forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRun {
    /// The run's record: its status, counters (`record.counters`), built-in counts
    /// (`record.stats`), failures and output summary.
    pub record: RunRecord,
    /// Every line the job produced, in key order; empty unless the run completed (or failed
    /// only by having more failures than it allows, which keeps its output).
    pub output: Vec<String>,
    /// The output as stored and shown by `jobs output ID`: identical lines folded into
    /// `(Nx) line`, cut at the output limit; empty when [`output`](Self::output) is.
    pub stored_output: Vec<String>,
}

/// Runs the registered job `request.job` synchronously as a recorded run, as `jobs run` does
/// (parameters given as text and checked, the run recorded in `log` from `queued` to its end,
/// the output stored), and returns the record with both forms of the output. Use it to test
/// what a job's users see; use [`run`] to test the job's logic.
///
/// ```
/// use jobs_core::prelude::*;
/// use jobs_core::runs::{RunRequest, Status};
/// use jobs_core::{MemoryStore, Params, testing};
///
/// #[derive(Model, Serialize, Deserialize)]
/// pub struct UserSettings { id: String, username: String }
///
/// /// Reports users whose username is shorter than `min_length`, one line each.
/// #[one_off_job(models = [UserSettings])]
/// pub struct ShortUsernames { min_length: usize }
///
/// impl Map<UserSettings> for ShortUsernames {
///     fn map(&self, user: UserSettings, ctx: &mut MapContext<'_, Self>) -> Outcome {
///         if user.username.len() < self.min_length {
///             ctx.count("short", 1);
///             ctx.emit(user.id, user.username.len());
///         }
///         Ok(())
///     }
/// }
///
/// impl Reduce for ShortUsernames {
///     type Key = String;
///     type Value = usize;
///     fn reduce(&self, _id: String, lengths: Values<'_, usize>, out: &mut Output) -> Outcome {
///         out.line(format!("a username of {} letters", lengths.sum::<usize>()));
///         Ok(())
///     }
/// }
///
/// let store = MemoryStore::new();
/// testing::put_all(&store, &[
///     UserSettings { id: "u1".into(), username: "al".into() },
///     UserSettings { id: "u2".into(), username: "bo".into() },
///     UserSettings { id: "u3".into(), username: "carmen".into() },
/// ])?;
/// let mut request = RunRequest::new("ShortUsernames");
/// request.params = Params::parse_args(["min_length=3"])?;
/// let run = testing::run_recorded(&store, &request)?;
/// assert_eq!(run.record.status(), Status::Completed);
/// assert_eq!(run.record.counters.get("short"), 2);
/// assert_eq!(run.output, ["a username of 2 letters", "a username of 2 letters"]);
/// assert_eq!(run.stored_output, ["(2x) a username of 2 letters"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// The job is not registered, a parameter is wrong, or the store failed. A job that fails is
/// not an error: the record says `failed`.
pub fn run_recorded(log: &dyn RunLog, request: &RunRequest) -> Result<RecordedRun, RunsError> {
    let record = runs::run(log, request, &RunnerOptions::default())?;
    let (output, stored_output) = if record.output.is_some() {
        (log.full_output(record.id())?, log.stored_output(record.id())?)
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(RecordedRun { record, output, stored_output })
}

/// [`put_all`] failed.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    /// A model did not encode.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A PostgreSQL server for tests: each test gets a schema of its own, dropped afterwards.
///
/// The server is found through `JOBS_TEST_POSTGRES_URL` (default
/// [`DEFAULT_URL`](postgres_server::DEFAULT_URL)); `.ci/postgres` starts one. A test that
/// needs it never skips itself: it fails when the server is not reachable. Whether it runs is
/// decided when it is built, so that libtest shows a skip as a skip: the crates' build scripts
/// set the cfg `jobs_no_test_postgres` when neither `JOBS_TEST_POSTGRES_URL` nor `CI` is set,
/// and each such test carries
/// `#[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]`,
/// so `cargo test` lists it as `ignored, needs PostgreSQL: ...` (and `cargo test --
/// --include-ignored` runs it against [`DEFAULT_URL`](postgres_server::DEFAULT_URL)). Under `CI`
/// nothing is ignored, so a missing server fails the run.
#[doc(hidden)]
#[cfg(feature = "postgres")]
pub mod postgres_server {
    use std::str::FromStr;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use crate::runs::{self, RunsError};
    use crate::store::PostgresStore;

    /// The environment variable naming the test server.
    pub const URL_ENV: &str = "JOBS_TEST_POSTGRES_URL";
    /// The server tried when [`URL_ENV`] is not set.
    pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

    /// A schema of its own on the test server, dropped with everything in it when this is
    /// dropped. Drop the stores opened on it first.
    #[derive(Debug)]
    pub struct TestSchema {
        server: String,
        schema: String,
        url: String,
    }

    impl TestSchema {
        /// The store URL of the schema: `<server>?schema=<name>`.
        pub fn url(&self) -> &str {
            &self.url
        }

        /// The schema's name.
        pub fn schema(&self) -> &str {
            &self.schema
        }

        /// Opens the store in the schema, as the command line does (dead runs recorded
        /// `interrupted`).
        ///
        /// # Errors
        /// The store could not be opened.
        pub fn open(&self) -> Result<PostgresStore, RunsError> {
            runs::open_postgres(&self.url)
        }
    }

    impl Drop for TestSchema {
        fn drop(&mut self) {
            let dropped = connect(&self.server).and_then(|mut client| {
                client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema))
            });
            if let Err(error) = dropped {
                eprintln!("could not drop the test schema {}: {error}", self.schema);
            }
        }
    }

    fn connect(server: &str) -> Result<::postgres::Client, ::postgres::Error> {
        let mut config = ::postgres::Config::from_str(server)?;
        config.connect_timeout(Duration::from_secs(5));
        config.connect(::postgres::NoTls)
    }

    /// A fresh schema on the test server for `test`.
    ///
    /// # Panics
    /// No server is reachable: a test that got this far was meant to run (see the module's
    /// documentation), so it fails rather than passing without having run.
    pub fn test_schema(test: &str) -> TestSchema {
        let server = std::env::var(URL_ENV).unwrap_or_else(|_| DEFAULT_URL.to_owned());
        if let Err(error) = connect(&server) {
            panic!(
                "{test}: no PostgreSQL server at {URL_ENV}={server} ({error}); start one with \
                 `export {URL_ENV}=\"$(bash .ci/postgres)\"`"
            );
        }
        let schema = unique_schema_name();
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}schema={schema}");
        TestSchema { server, schema, url }
    }

    /// `jobs_test_<pid>_<n>_<random>`: unique across the processes of a test run and the
    /// tests of each.
    fn unique_schema_name() -> String {
        use std::hash::{BuildHasher, Hasher};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(n);
        format!("jobs_test_{}_{n}_{:08x}", std::process::id(), hasher.finish() as u32)
    }
}
