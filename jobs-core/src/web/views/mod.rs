//! The HTML of every page, written with maud: templates are Rust, checked when the crate
//! compiles, and every value spliced in with `(value)` is HTML-escaped. Nothing from the store
//! (job output, parameters, errors, names) is ever spliced in unescaped: the only
//! `PreEscaped` text is the doctype.
//!
//! * [`layout`]: the page frame, the error page and the login page.
//! * [`jobs`]: the registered jobs, each with its start form.
//! * [`runs`]: unfinished runs with live progress, and recent runs.
//! * [`run`]: one run: progress, facts, parameters, counters, failures, output.
//! * [`progress`]: progress bars, rates and ETAs, per run and per shard.
//! * [`doc`]: a job's doc comment as paragraphs.

mod doc;
mod jobs;
mod layout;
mod progress;
mod run;
mod runs;

pub(crate) use self::jobs::{JobsView, Rejected, jobs_page};
pub(crate) use self::layout::{PageContext, error_page, login_page, login_page_with};
pub(crate) use self::run::{RunView, run_live, run_page};
pub(crate) use self::runs::{runs_live, runs_page};
