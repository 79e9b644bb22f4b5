//! `jobs-bench --phases`: where a `jobs run` spends its time, phase by phase, beside the
//! fastest hand-written loop's phases.
//!
//! ```text
//! jobs-bench --phases [--quick | --explorations N] [--store PATH] [--threads T] [--rounds R]
//!     [--jobs-binary PATH]
//! ```
//!
//! Round after round, the order alternating, it starts `jobs run InteractionAuditOneOffJob`
//! with `JOBS_LOG=debug` and the parallel scanners' loop, each a whole process writing its
//! report to a file, as the main bench runs them. Both note when they reach each phase (`jobs`
//! in its debug log, the loop in lines of its own on stderr, `phase NAME UNIX_MICROS`); this
//! mode reads those times against the moment it started the process, and the exit against the
//! moment the process ended, and prints each phase's median length over the rounds.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use jobs_core::Store;
use jobs_core::store::RedbStore;

use super::args::Args;
use super::process;

/// The job timed.
const JOB: &str = "InteractionAuditOneOffJob";
/// The environment variable the loop notes its phases under.
pub const PHASES_ENV: &str = "JOBS_BENCH_PHASES";

/// The framework's phases: the debug log line that ends each, and what happens in it.
const FRAMEWORK_PHASES: &[(&str, &str)] = &[
    ("opened the store", "start-up, opening the store"),
    ("planned", "recording the run, counting the explorations"),
    ("mapped", "map (the id index is cut into tasks as it begins)"),
    ("reduced every partition; merging their lines", "reduce"),
    ("reduced", "merging the partitions' lines into the report"),
];
/// The loop's phases, as it notes them on stderr.
const LOOP_PHASES: &[(&str, &str)] = &[
    ("opened", "start-up, opening the store"),
    ("split", "cutting two parts at the id index"),
    ("scanned", "scan, decode and group"),
    ("finished", "joining the parts, printing the report"),
];

/// Runs the phases bench with the main bench's arguments.
///
/// # Errors
/// No `jobs` binary, a store that cannot be seeded, a process that fails, or a phase either
/// process did not note.
pub fn run(args: &Args) -> Result<()> {
    let jobs = super::jobs_binary(args)?;
    let work = tempfile::tempdir().context("creating a temporary directory")?;
    let path = super::prepare_store(args.store.as_deref(), work.path(), "bench.redb", args.explorations)?;
    let entities = RedbStore::open(&path)?.count("ExplorationModel")?;
    let store = path.to_str().context("the store's path is not UTF-8")?;
    let bench = std::env::current_exe().context("finding the bench binary")?;
    let threads = args.threads.to_string();
    println!("# phases: {JOB} over {entities} explorations, {threads} threads, {} rounds (medians, ms)", args.rounds);
    println!("# load average before: {}", process::load_average());
    let framework = || {
        let mut command = Command::new(&jobs);
        command.args(["--store", store, "run", JOB, "--threads", &threads]).env("JOBS_LOG", "debug");
        command
    };
    let fastest_loop = || {
        let mut command = Command::new(&bench);
        command.args([super::BASELINE_FLAG, "scanners", store, &threads]).env(PHASES_ENV, "1");
        command
    };
    // Untimed: the file in the page cache.
    process::measure(&mut framework(), &work.path().join("warm.out"))?;
    super::settle_disk();
    let (mut framework_times, mut loop_times) = (Vec::new(), Vec::new());
    for round in 0..args.rounds {
        for which in [round % 2, (round + 1) % 2] {
            if which == 0 {
                framework_times.push(timed(&mut framework(), work.path(), FRAMEWORK_PHASES, framework_mark)?);
            } else {
                loop_times.push(timed(&mut fastest_loop(), work.path(), LOOP_PHASES, loop_mark)?);
            }
        }
    }
    println!("# load average after:  {}", process::load_average());
    print_phases("jobs run", FRAMEWORK_PHASES, "recording the run, closing the store, exit", &framework_times);
    print_phases("the parallel scanners' loop", LOOP_PHASES, "exit", &loop_times);
    Ok(())
}

/// Runs `command` once and returns how long each of `phases` took, then the exit, in ms.
fn timed(
    command: &mut Command,
    dir: &Path,
    phases: &[(&str, &str)],
    mark: fn(&str) -> Option<(&str, i64)>,
) -> Result<Vec<f64>> {
    let out = dir.join("phases.out");
    let measured = process::measure(command, &out)?;
    // From spawn to exit, as the main bench times it, on the clock the processes log by.
    let ended = unix_micros(SystemTime::now());
    let started = ended - i64::try_from(measured.wall.as_micros()).unwrap_or(i64::MAX);
    let log = std::fs::read_to_string(out.with_extension("stderr")).context("reading what the run logged")?;
    let mut reached = Vec::with_capacity(phases.len());
    for (name, _) in phases {
        // The first line that marks it: a log line's text is its name, then its fields.
        let Some(at) = log.lines().filter_map(mark).find(|(marked, _)| marked == name).map(|(_, at)| at) else {
            bail!("{command:?} did not note reaching `{name}`; its stderr:\n{log}")
        };
        reached.push(at);
    }
    reached.push(ended);
    let mut lengths = Vec::with_capacity(reached.len());
    let mut from = started;
    for at in reached {
        ensure!(at >= from, "{command:?} noted its phases out of order");
        lengths.push((at - from) as f64 / 1000.0);
        from = at;
    }
    Ok(lengths)
}

/// A phase `jobs` reached, from a line of its debug log: the line's message and when it was
/// logged (`2026-12-04T20:15:39.785971Z DEBUG target: message field=value ...`).
fn framework_mark(line: &str) -> Option<(&str, i64)> {
    let (stamp, rest) = line.split_once(' ')?;
    let at = parse_utc_micros(stamp)?;
    // The level and the target come first, the target ending in a colon.
    let (_, text) = rest.split_once(": ")?;
    // The message ends where the fields (`name=value`) begin.
    let message = match text.find('=') {
        Some(equals) => text[..equals].rsplit_once(' ').map_or(text, |(message, _)| message),
        None => text,
    };
    Some((message, at))
}

/// A phase the loop reached: `phase NAME UNIX_MICROS`.
fn loop_mark(line: &str) -> Option<(&str, i64)> {
    let mut parts = line.strip_prefix("phase ")?.split(' ');
    let name = parts.next()?;
    let at = parts.next()?.parse().ok()?;
    Some((name, at))
}

/// Microseconds since the Unix epoch of an RFC 3339 UTC time with a fraction of a second, as
/// `tracing-subscriber` writes them (`2026-12-04T20:15:39.785971Z`).
fn parse_utc_micros(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.splitn(3, '-').map(str::parse::<i64>);
    let (year, month, day) = (date.next()?.ok()?, date.next()?.ok()?, date.next()?.ok()?);
    let (clock, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut clock = clock.splitn(3, ':').map(str::parse::<i64>);
    let (hour, minute, second) = (clock.next()?.ok()?, clock.next()?.ok()?, clock.next()?.ok()?);
    // The fraction to six digits: microseconds.
    let digits: String = fraction.chars().chain(std::iter::repeat('0')).take(6).collect();
    let micros: i64 = digits.parse().ok()?;
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second;
    Some(seconds * 1_000_000 + micros)
}

/// Days from 1970-01-01 to the given date of the proleptic Gregorian calendar.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    // Counted from 0000-03-01, so that the leap day ends a year.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Microseconds since the Unix epoch; 0 for a clock set before it.
pub fn unix_micros(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |since| i64::try_from(since.as_micros()).unwrap_or(i64::MAX))
}

/// Prints one contender's median phase lengths and their total.
fn print_phases(name: &str, phases: &[(&str, &str)], last: &str, rounds: &[Vec<f64>]) {
    println!("{name}:");
    let median = |column: usize| {
        let mut values: Vec<f64> = rounds.iter().map(|round| round[column]).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let mut total = 0.0;
    for (column, what) in phases.iter().map(|(_, what)| *what).chain([last]).enumerate() {
        let length = median(column);
        total += length;
        println!("  {what:<56} {length:>9.1}");
    }
    println!("  {:<56} {total:>9.1}", "sum of the medians");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_times_read_as_unix_micros() {
        assert_eq!(parse_utc_micros("1970-01-01T00:00:00.000001Z"), Some(1));
        assert_eq!(parse_utc_micros("2000-03-01T00:00:00Z"), Some(951_868_800_000_000));
        let at = UNIX_EPOCH + std::time::Duration::from_micros(1_796_415_339_785_971);
        assert_eq!(parse_utc_micros("2026-12-04T20:15:39.785971Z"), Some(unix_micros(at)));
        assert_eq!(parse_utc_micros("2026-12-04 20:15:39Z"), None);
    }

    #[test]
    fn a_log_line_is_read_as_its_message_and_time() {
        let line = "2026-12-04T20:15:39.800326Z DEBUG jobs_core::engine: planned job=\"A\" shards=64";
        assert_eq!(framework_mark(line).map(|(message, _)| message), Some("planned"));
        let line = "2026-12-04T20:15:39.800326Z DEBUG jobs_core::engine::reduce_phase: reduced every partition; merging their lines";
        assert_eq!(framework_mark(line).map(|(m, _)| m), Some("reduced every partition; merging their lines"));
        let line = "2026-12-04T20:15:39.800326Z  INFO jobs_core::cli: opened the store store=/x.redb";
        assert_eq!(framework_mark(line).map(|(m, _)| m), Some("opened the store"));
        assert_eq!(framework_mark("InteractionAuditOneOffJob: 100000 entities read"), None);
        assert_eq!(loop_mark("phase split 12"), Some(("split", 12)));
    }
}
