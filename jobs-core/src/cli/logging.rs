//! Logs: `tracing` events to stderr, filtered by the environment variable `JOBS_LOG`.

use std::io::{self, IsTerminal, Write};

use tracing_subscriber::EnvFilter;

/// The variable that holds the log filter, e.g. `JOBS_LOG=debug` or `JOBS_LOG=jobs_core=trace`.
pub(crate) const LOG_ENV: &str = "JOBS_LOG";
/// What is logged when `JOBS_LOG` is not set.
const DEFAULT_FILTER: &str = "warn";

/// Sends `tracing` events to stderr, unless the program already set up a subscriber.
pub(crate) fn init() {
    let (filter, problem) = filter(std::env::var(LOG_ENV).ok().as_deref());
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .with_target(true)
        // With stderr closed (a detached run, a server whose terminal went away), the fallback
        // report of a failed write would itself panic.
        .log_internal_errors(false)
        .try_init()
        .is_ok();
    if let (true, Some(problem)) = (installed, problem) {
        let _ = writeln!(io::stderr(), "warning: {problem}");
    }
}

/// The filter `JOBS_LOG` asks for, or the default and why it was not used.
fn filter(value: Option<&str>) -> (EnvFilter, Option<String>) {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => (EnvFilter::new(DEFAULT_FILTER), None),
        Some(value) => match EnvFilter::builder().parse(value) {
            Ok(filter) => (filter, None),
            Err(e) => (
                EnvFilter::new(DEFAULT_FILTER),
                Some(format!(
                    "{LOG_ENV}={value} is not a log filter ({e}); logging warnings only. Write a level such as \
                     `debug`, or `target=level` pairs separated by commas"
                )),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_filter_falls_back_to_warnings_and_says_so() {
        assert!(filter(None).1.is_none());
        assert!(filter(Some("jobs_core=debug,info")).1.is_none());
        let (_, problem) = filter(Some("jobs_core=loud"));
        assert!(problem.is_some_and(|p| p.contains("JOBS_LOG=jobs_core=loud")));
    }
}
