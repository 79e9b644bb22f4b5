//! The `jobs` command line, as a library: an application's own binary offers the same commands
//! over its own jobs and models.
//!
//! ```no_run
//! use std::process::ExitCode;
//!
//! fn main() -> ExitCode {
//!     // In a real binary: `if let Err(e) = jobs_core::link_jobs!(my_jobs) { ... }` first.
//!     jobs_core::cli::Cli::new("jobs")
//!         .seeder(|store, flags: &DemoSize| {
//!             let explorations = flags.explorations.unwrap_or(1000);
//!             // ... write demo entities to `store` ...
//!             Ok(format!("seeded {} with {explorations} explorations", store.location()))
//!         })
//!         .demo_job("InteractionAuditOneOffJob")
//!         .run()
//! }
//!
//! /// The flags of `jobs seed` and `jobs demo`: the application's own.
//! #[derive(clap::Args)]
//! struct DemoSize {
//!     /// How many explorations to create [default: 1000].
//!     #[arg(long, value_name = "N")]
//!     explorations: Option<usize>,
//! }
//! ```
//!
//! # Commands
//!
//! | command | does |
//! | --- | --- |
//! | `list [--json]` | every registered job: name, models, default shards, summary, parameters |
//! | `seed [FLAGS]` | fills the store with demo data (needs a [seeder](Cli::seeder), which defines the flags) |
//! | `run NAME [--shards N] [--threads N] [--param k=v]... [--dry-run] [--exclusive] [--max-failures N] [--output-limit CHARS]` | runs a job as a recorded run; its report lines go to stdout |
//! | `run NAME ... --keep-output` | also keeps the full output for `output --full` (beside a store file, gzip); otherwise the run's record and stored output are kept, and the full output only printed |
//! | `run NAME ... --detach` | queues the run, prints its id, and carries it out in a background process (keeping its full output) |
//! | `run NAME --engine timely [--workers W] [--processes N --process I --hosts FILE] [--retries K] [--connect-timeout SECS]` | (feature `timely`) the same run on the timely-dataflow engine, in one process or a cluster (module `cluster`); process 0 records and reports it, the others exit 0, 130 or 1 as it ended |
//! | `runs [--days N] [--limit N] [--job NAME] [--json]` | recorded runs, newest first: by default the last 14 days, at most 100 |
//! | `status ID [--json]` | one run: status, times, options, progress per shard, counters, output summary, failures, error |
//! | `output ID [--full] [--output FILE]` | a completed run's output (or one that failed only by its failure limit): as stored (folded, cut), or every line, if the run kept it |
//! | `cancel ID [--wait SECS]` | stops a queued or started run from any process, and waits (10 s) until it has stopped |
//! | `prune [--older-than DAYS]` | removes finished runs older than DAYS days (84: Oppia's twelve weeks) |
//! | `export KIND [--output FILE]` | one JSON object per entity, in id order |
//! | `import KIND [FILE]` | checks every line, then stores all of them in one atomic batch |
//! | `demo [FLAGS]` | seeds an empty store (with the seeder's flags), then runs the [demo job](Cli::demo_job) |
//! | `serve [--bind ADDR]` | (feature `web`) the admin page: start, watch and cancel runs, read their output |
//!
//! Every command takes `--store PATH` (or the environment variable `JOBS_STORE`; default
//! `./jobs.redb`). `seed`, `import`, `demo` and `serve` create a missing store file; the other
//! commands refuse one (exit 2), so a mistyped path never runs a job over an empty store. With
//! the feature `postgres`, `--store` may instead be a URL,
//! `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME]`, which opens a PostgreSQL
//! store, `PostgresStore` (its tables are created on first use). Logs go to stderr, filtered by
//! `JOBS_LOG` (a `tracing` filter such as `debug` or `jobs_core=trace`; default `warn`).
//!
//! # Runs
//!
//! Every `jobs run` (and `jobs demo`) is recorded in the store ([`runs`](crate::runs)): its
//! id `<JobName>-<ms>-<random>`, parameters, options, times, status (`queued`, `started`,
//! `completed`, `failed`, `canceled`), progress per shard, counters, failures and output.
//! Other processes sharing the store see it: `jobs runs` and `jobs status` while it goes,
//! `jobs cancel ID` to stop it (the run notices within a second, stops cleanly and prints no
//! output), `jobs output ID` once it has completed. The store is opened with
//! [`runs::open_store`](crate::runs::open_store), so a run whose process died (killed, power
//! cut) is recorded `failed` with error `interrupted` by the next command.
//!
//! Starting a job that already has a run queued or started prints a warning naming that run;
//! `--exclusive` refuses instead (exit 2, nothing recorded). A `--dry-run` counts the models
//! the job would put or delete (`puts`, `deletes`) and stores none; its record says so.
//!
//! The output is kept in two forms, as Oppia kept it: the *stored* output, identical lines
//! folded into `(Nx) line` in first-seen order and cut at `--output-limit` characters
//! (900,000 by default) ending with `<TRUNCATED>`, which `jobs output ID` prints; and the
//! *full* output, every line, which `jobs run` prints and `jobs output ID --full` gives back.
//!
//! `--detach` starts this same program again (`std::env::current_exe()`) with a hidden
//! subcommand, `run-queued ID`, in a session of its own with no terminal, so it goes on after
//! the command and the terminal are gone. It logs to `<store>.runs/<id>.log` (for a
//! PostgreSQL store, `<temp dir>/jobs-postgres.runs/<id>.log`), removed when the
//! run ends with nothing logged or when `prune` removes the run. The command waits until the
//! background process has started the run, so one that cannot is reported at once (exit 1,
//! the run canceled, its log named).
//!
//! # Output streams
//!
//! Standard output carries data only: a run's report lines, exported entities, the runs
//! table, a run's status, a run's output, the id printed by `run --detach`, the ids removed
//! by `prune`. Everything meant for a person (progress bar, summaries, counts, warnings,
//! errors) goes to standard error, so `jobs run X > out.txt`, `jobs export K | other-tool`
//! and `id=$(jobs run X --detach)` get clean data.
//!
//! | command | stdout | stderr |
//! | --- | --- | --- |
//! | `run` | every output line, in key order | warnings about active runs; on a terminal `run <id>: started` and a progress bar; summary, counters, failures; last `run <id>: <status>` |
//! | `run --detach` | the run id alone | `run <id>: started in the background (pid N); ...` |
//! | `runs` | a table `RUN STATUS CREATED (UTC) DURATION NOTE`, or a JSON record a line | `N runs created in the last D days in STORE` |
//! | `status` | `label:    value` lines, then failures and a table of shards; or one JSON record | errors only |
//! | `output` | the output lines (or nothing, with `--output FILE`) | `run <id>: N lines ...`, saying whether they were folded or cut |
//! | `cancel` | nothing | `run <id>: canceled ...` |
//! | `prune` | the removed run ids, one a line | `pruned N runs (...) from STORE` |
//!
//! # Exit codes
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | done |
//! | 1 | the work failed: the run ended `failed` (more entities or keys failed than `--max-failures` or the job's `max_failures` allow, 0 by default; the engine or store gave up; it could not be recorded), the store could not be read or written (locked, read-only, full, newer format), a file could not be written, the import file has bad lines, seeding failed, no job is linked in, `output` of a run that did not complete, `cancel` of a run that already completed or failed (or did not stop within `--wait`), a `--detach` background process that could not start |
//! | 2 | the command line is wrong: bad arguments, unknown job, model kind or run id, bad `--param`, shard count out of `1..=256`, a `--store` file that does not exist or is not a store, an import file that does not exist; or `--exclusive` refused because the job has a run queued or started (nothing was run) |
//! | 130 | a run was canceled: with Ctrl-C (the first Ctrl-C cancels cleanly, a second one stops at once) or by `jobs cancel` from another process |

mod args;
#[cfg(feature = "timely")]
mod cluster;
mod commands;
mod console;
mod detach;
mod error;
mod hints;
mod interrupt;
mod logging;
mod progress;
mod report;
mod store;

#[cfg(test)]
mod tests;

use std::error::Error;
use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use self::console::Console;
use self::error::CliError;
use crate::runs::{RunLog, RunsError};
use crate::store::Store;

/// An error returned by a [seeder](Cli::seeder) or a [store opener](Cli::store_opener).
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// Seeds a store from the matches of the seeder's flags.
type SeedFn = dyn Fn(&dyn Store, &clap::ArgMatches) -> Result<String, BoxError>;

/// A seeder as the command line holds it: its flags added to `seed` and `demo`, and the
/// seeder called with what they parsed to.
pub(crate) struct Seeder {
    /// Adds the seeder's flags to a subcommand (`clap::Args::augment_args`).
    augment: fn(clap::Command) -> clap::Command,
    /// Parses the flags from the subcommand's matches and seeds the store.
    pub(crate) seed: Box<SeedFn>,
}

/// Opens the store named by `--store`. It holds the models and the run records, so it is a
/// [`RunLog`]: every [`RunStore`](crate::runs::RunStore) is one, the stores of this crate and
/// any store of your own that implements it. Open a redb file with
/// [`runs::open_store`](crate::runs::open_store), which records dead runs `interrupted`.
pub type StoreOpener = dyn Fn(&Path) -> Result<Box<dyn RunLog>, RunsError>;

/// The `jobs` command line over every job and model linked into the binary.
///
/// Build it with [`Cli::new`], add what the application offers, then [`run`](Cli::run) it
/// from `main`. Jobs come from [`registry()`](crate::registry()) and models from
/// [`model::models()`](crate::model::models); the CLI itself knows none of them.
pub struct Cli {
    /// The name given to [`Cli::new`]; `None` (or empty): the running binary's file name.
    name: Option<&'static str>,
    about: Option<String>,
    version: Option<&'static str>,
    seeder: Option<Seeder>,
    demo_job: Option<String>,
    open_store: Box<StoreOpener>,
    /// Whether `--store` names a file (the default opener), so that a missing one can be
    /// refused by commands that only read or run: a typo must not create an empty store.
    stores_are_files: bool,
    /// Why the application's crate of jobs was not found linked, as [`link_jobs!`](crate::link_jobs) said.
    link_error: Option<String>,
}

impl std::fmt::Debug for Cli {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cli")
            .field("name", &self.name)
            .field("seeder", &self.seeder.is_some())
            .field("demo_job", &self.demo_job)
            .finish_non_exhaustive()
    }
}

impl Cli {
    /// A command line called `name` (shown in help and usage messages, and in every command a
    /// message suggests, such as `` `myapp list` ``), with `list`, `run`,
    /// `runs`, `status`, `output`, `cancel`, `prune`, `export` and `import`, over redb stores
    /// opened with [`runs::open_store`](crate::runs::open_store), or (feature `postgres`)
    /// PostgreSQL stores given as `postgres://` URLs. An empty `name` is no name: see
    /// [`Cli::default`].
    #[must_use]
    pub fn new(name: &'static str) -> Self {
        Cli { name: Some(name).filter(|name| !name.is_empty()), ..Cli::default() }
    }

    /// Takes what [`link_jobs!`](crate::link_jobs) found, so that `main` stays one expression:
    ///
    /// ```no_run
    /// # mod my_jobs {}
    /// fn main() -> std::process::ExitCode {
    ///     # let linked = Ok(()); // `jobs_core::link_jobs!(my_jobs)` in a real binary
    ///     jobs_core::cli::Cli::new("myapp").jobs(linked).run()
    /// }
    /// ```
    ///
    /// When the crate registered no job, every command (but `--help` and `--version`) prints
    /// the message and exits 1, so a binary that lost its jobs says so instead of listing none.
    /// [`cli::main!`](crate::cli::main) does all of this in one line.
    #[must_use]
    pub fn jobs(mut self, linked: Result<(), String>) -> Self {
        if let Err(message) = linked {
            self.link_error = Some(message);
        }
        self
    }

    /// Replaces the one-line description shown at the top of `--help`.
    #[must_use]
    pub fn about(mut self, about: impl Into<String>) -> Self {
        self.about = Some(about.into());
        self
    }

    /// Sets the version printed by `--version`, such as `env!("CARGO_PKG_VERSION")`.
    #[must_use]
    pub fn version(mut self, version: &'static str) -> Self {
        self.version = Some(version);
        self
    }

    /// Enables `jobs seed`: `seeder` fills the store with demo data and returns a one-line
    /// summary, which is printed on stderr. Its flags are the application's own: `A` (a
    /// `#[derive(clap::Args)]` struct) is added to `seed` and `demo` and parsed for each call.
    /// Without a seeder, `seed` and `demo` are hidden and refuse to run.
    #[must_use]
    pub fn seeder<A, F>(mut self, seeder: F) -> Self
    where
        A: clap::Args + 'static,
        F: Fn(&dyn Store, &A) -> Result<String, BoxError> + 'static,
    {
        let seed = move |store: &dyn Store, matches: &clap::ArgMatches| -> Result<String, BoxError> {
            let flags = A::from_arg_matches(matches)?;
            seeder(store, &flags)
        };
        // The flags' own doc comment would replace the command's description: keep the command's.
        let augment = |command: clap::Command| {
            let (about, long_about) = (command.get_about().cloned(), command.get_long_about().cloned());
            let command = A::augment_args(command);
            let command = match about {
                Some(about) => command.about(about),
                None => command.about(None::<&'static str>),
            };
            match long_about {
                Some(long_about) => command.long_about(long_about),
                None => command.long_about(None::<&'static str>),
            }
        };
        self.seeder = Some(Seeder { augment, seed: Box::new(seed) });
        self
    }

    /// Enables `jobs demo`, which seeds an empty store (with the [seeder](Cli::seeder)) and
    /// runs the job called `job`. The store counts as empty when it holds no entity of any
    /// model the job reads.
    #[must_use]
    pub fn demo_job(mut self, job: impl Into<String>) -> Self {
        self.demo_job = Some(job.into());
        self
    }

    /// Replaces how `--store PATH` is opened (a [`RedbStore`](crate::store::RedbStore) opened with
    /// [`runs::open_store`](crate::runs::open_store) by default), for an application that keeps
    /// its models elsewhere. The store also keeps the run records, so `jobs runs`, `status`,
    /// `cancel` and `run --detach` see the same runs from every process that opens it.
    #[must_use]
    pub fn store_opener<F>(mut self, open: F) -> Self
    where
        F: Fn(&Path) -> Result<Box<dyn RunLog>, RunsError> + 'static,
    {
        self.open_store = Box::new(open);
        self.stores_are_files = false;
        self
    }

    /// Runs the command named by the process's arguments, as `main` should: logs to stderr
    /// (filtered by `JOBS_LOG`), shows a progress bar when stderr is a terminal, lets Ctrl-C
    /// cancel a run, and turns any panic into an error message and exit code 1.
    pub fn run(self) -> ExitCode {
        logging::init();
        interrupt::install();
        let args: Vec<OsString> = std::env::args_os().collect();
        let program = self.program(args.first());
        install_panic_message(&program);
        let stdout = io::stdout();
        let stderr = io::stderr();
        let terminal = stderr.is_terminal();
        let mut out = io::BufWriter::new(stdout.lock());
        let mut err = stderr;
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut console =
                Console { out: &mut out, err: &mut err, progress_bar: terminal, interrupts: true, program: &program };
            self.execute(args, &mut console)
        }))
        .unwrap_or(error::EXIT_FAILED);
        ExitCode::from(code)
    }

    /// Runs the command named by `args` (the program name first, as in `std::env::args_os`),
    /// writing data to `out` and messages to `err`: for tests and for embedding. It shows no
    /// progress bar, installs no Ctrl-C handler and sets up no logging.
    pub fn run_with<I, T>(&self, args: I, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let program = self.program(args.first());
        let mut console = Console { out, err, progress_bar: false, interrupts: false, program: &program };
        ExitCode::from(self.execute(args, &mut console))
    }

    /// The name messages give the program: the one given to [`Cli::new`], else the file name
    /// of `argv0` (the path the binary was started with) without `.exe`, else `jobs`.
    fn program(&self, argv0: Option<&OsString>) -> String {
        if let Some(name) = self.name {
            return name.to_owned();
        }
        argv0
            .and_then(|path| Path::new(path).file_name())
            .map(|name| name.to_string_lossy())
            .map(|name| name.strip_suffix(".exe").map(str::to_owned).unwrap_or_else(|| name.into_owned()))
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "jobs".to_owned())
    }

    /// Parses `args`, runs the command, reports any error, and returns the exit code.
    fn execute<I, T>(&self, args: I, console: &mut Console<'_>) -> u8
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let parsed = self
            .command(console.program)
            .try_get_matches_from(args)
            .and_then(|matches| args::Args::from_arg_matches(&matches).map(|args| (args, matches)));
        let (args, matches) = match parsed {
            Ok(parsed) => parsed,
            Err(e) => {
                let target: &mut dyn Write = if e.use_stderr() { &mut *console.err } else { &mut *console.out };
                let _ = write!(target, "{}", e.render());
                return u8::try_from(e.exit_code()).unwrap_or(error::EXIT_USAGE);
            }
        };
        tracing::debug!(?args, "parsed the command line");
        if let Some(message) = &self.link_error {
            let error = CliError::NotLinked(message.clone());
            console.report(&error);
            return error.exit_code();
        }
        match commands::dispatch(self, &args, &matches, console) {
            Ok(()) => error::EXIT_OK,
            Err(e) => {
                console.report(&e);
                e.exit_code()
            }
        }
    }

    /// The clap command, named `program` and trimmed to what this binary offers.
    fn command(&self, program: &str) -> clap::Command {
        let mut command = args::Args::command();
        if let Some(name) = self.name {
            command = command.name(name);
        }
        // Usage lines, `--help` and `--version` show these (`name` wants a `&'static str`).
        command = command.bin_name(program).display_name(program);
        if let Some(about) = &self.about {
            command = command.about(about.clone());
        }
        match self.version {
            Some(version) => command = command.version(version).propagate_version(true),
            None => command = command.disable_version_flag(true),
        }
        match &self.seeder {
            Some(seeder) => {
                command = command.mut_subcommand("seed", seeder.augment).mut_subcommand("demo", seeder.augment);
            }
            None => command = command.mut_subcommand("seed", |c| c.hide(true)),
        }
        if self.seeder.is_none() || self.demo_job.is_none() {
            command = command.mut_subcommand("demo", |c| c.hide(true));
        }
        command
    }

    /// Opens the store at `path`.
    /// Opens the store like [`open_store`](Self::open_store), but refuses a store file that does
    /// not exist instead of creating an empty one: for every command but `seed`, `import`,
    /// `demo` and `serve`, which fill or show a new store.
    fn open_existing_store(&self, path: &Path) -> Result<Box<dyn RunLog>, CliError> {
        // A URL names a server store, not a file (an opener may dispatch on it).
        let is_url = path.to_str().is_some_and(|text| text.contains("://"));
        if self.stores_are_files && !is_url {
            match std::fs::metadata(path) {
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    return Err(CliError::StoreMissing { path: path.to_path_buf(), seeder: self.seeder.is_some() });
                }
                // Opening would make it a new, empty store: refused like a missing one.
                Ok(metadata) if metadata.is_file() && metadata.len() == 0 => {
                    return Err(crate::store::StoreError::Empty { path: path.to_path_buf() }.into());
                }
                _ => {}
            }
        }
        self.open_store(path)
    }

    fn open_store(&self, path: &Path) -> Result<Box<dyn RunLog>, CliError> {
        let store = (self.open_store)(path)?;
        tracing::info!(store = %store.location(), "opened the store");
        Ok(store)
    }
}

impl Default for Cli {
    /// A command line like [`Cli::new`]'s, named after the running binary: the file name of the
    /// program path it was started with (`argv[0]`, the first of [`run_with`](Cli::run_with)'s
    /// arguments), without `.exe`; `jobs` if there is none. A binary installed as `myapp`
    /// suggests `` `myapp list` ``, and is still right when renamed.
    fn default() -> Self {
        Cli {
            name: None,
            about: None,
            version: None,
            seeder: None,
            demo_job: None,
            open_store: Box::new(store::open),
            stores_are_files: true,
            link_error: None,
        }
    }
}

/// The whole `main` of an application's binary: the command line named after the binary
/// (`CARGO_BIN_NAME`), versioned by its package (`CARGO_PKG_VERSION`), over the jobs of the
/// crate it names.
///
/// ```ignore
/// // src/main.rs of a package whose library (src/lib.rs) is the crate `my_app`:
/// fn main() -> std::process::ExitCode {
///     jobs_core::cli::main!(my_app)
/// }
/// ```
///
/// * `main!(my_app)`: links the crate `my_app` with [`link_jobs!`](crate::link_jobs) and hands
///   what it found to [`Cli::jobs`]: if `my_app` registered no job, every command says so and
///   exits 1.
/// * `main!(my_app, |cli| cli.seeder(seed).demo_job("MyJob"))`: the same, with the [`Cli`]
///   configured further by a function (or a non-capturing closure) from `Cli` to `Cli`.
/// * `main!()` and `main!(, |cli| ...)`: for a package without a library, whose jobs are
///   defined in the binary's own modules (they are linked because they are part of it).
///
/// It expands to an expression of type [`ExitCode`], so it can only be used where
/// `CARGO_BIN_NAME` is set: in a binary target (`tests/minimal-user` compiles and runs one).
#[macro_export]
#[doc(hidden)]
macro_rules! __jobs_cli_main {
    () => {
        $crate::__jobs_cli_main!(, |cli| cli)
    };
    ($krate:ident) => {
        $crate::__jobs_cli_main!($krate, |cli| cli)
    };
    (, $configure:expr) => {{
        let configure: fn($crate::cli::Cli) -> $crate::cli::Cli = $configure;
        configure(
            $crate::cli::Cli::new(::core::env!("CARGO_BIN_NAME")).version(::core::env!("CARGO_PKG_VERSION")),
        )
        .run()
    }};
    ($krate:ident, $configure:expr) => {{
        let configure: fn($crate::cli::Cli) -> $crate::cli::Cli = $configure;
        configure(
            $crate::cli::Cli::new(::core::env!("CARGO_BIN_NAME"))
                .version(::core::env!("CARGO_PKG_VERSION"))
                .jobs($crate::link_jobs!($krate)),
        )
        .run()
    }};
}

#[doc(inline)]
pub use crate::__jobs_cli_main as main;

/// Replaces Rust's panic message (a thread name and a source path) with one that says what to
/// do. Panics inside job code never get here: the engine turns them into failures.
fn install_panic_message(name: &str) {
    let name = name.to_owned();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic with a non-text payload".to_owned());
        let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let _ = writeln!(
            io::stderr(),
            "error: {name} hit an internal error{location}: {}\nThis is a bug; please report it with the command you ran (set RUST_BACKTRACE=1 for a backtrace).",
            console::for_terminal(&message)
        );
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
            let _ = writeln!(io::stderr(), "{}", std::backtrace::Backtrace::force_capture());
        }
    }));
}
