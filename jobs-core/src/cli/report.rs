//! How a finished run is described on stderr: a summary line, counters, failures.

use std::time::Duration;

use crate::engine::{RunReport, counter};

/// One line: what the engine counted, how long it took, and how fast it went.
pub(crate) fn summary(report: &RunReport) -> String {
    let stats = &report.stats;
    format!(
        "{}: {} read, {} emitted, {}, {} in {} ({} entities/s; {}, {})",
        report.job,
        plural(stats.entities_read, "entity", "entities"),
        plural(stats.pairs_emitted, "pair", "pairs"),
        plural(stats.keys_reduced, "key", "keys"),
        plural(stats.failures, "failure", "failures"),
        elapsed(report.elapsed),
        rate(stats.entities_read, report.elapsed),
        plural(report.shards as u64, "shard", "shards"),
        plural(report.threads as u64, "thread", "threads"),
    )
}

/// `1 key`, `2 keys`.
fn plural(count: u64, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// The job's counters as one line, or `None` when there are none worth showing. The engine's
/// `puts` and `deletes` are shown only when not zero.
pub(crate) fn counters(report: &RunReport, dry_run: bool) -> Option<String> {
    let shown: Vec<String> = report
        .counters
        .iter()
        .filter(|(name, value)| *value > 0 || (*name != counter::PUTS && *name != counter::DELETES))
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    if shown.is_empty() {
        return None;
    }
    let note = if dry_run {
        " (dry run: puts and deletes were counted, not written)"
    } else {
        ""
    };
    Some(format!("counters: {}{note}", shown.join(", ")))
}

/// The failures kept in the report, one a line, then how many more were only counted.
pub(crate) fn failures(report: &RunReport) -> Vec<String> {
    if report.stats.failures == 0 && report.failures.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![format!(
        "failures ({}):",
        report.stats.failures.max(report.failures.len() as u64)
    )];
    lines.extend(report.failures.iter().map(|failure| format!("  {failure}")));
    let more = report.stats.failures.saturating_sub(report.failures.len() as u64);
    if more > 0 {
        lines.push(format!("  and {more} more"));
    }
    lines
}

/// A duration for people: `840 ms`, `12.3 s`, `4 min 05 s`.
pub(crate) fn elapsed(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 1.0 {
        format!("{} ms", duration.as_millis())
    } else if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        let whole = duration.as_secs();
        format!("{} min {:02} s", whole / 60, whole % 60)
    }
}

/// Entities per second, rounded; `0` when nothing was read.
fn rate(entities: u64, duration: Duration) -> u64 {
    let secs = duration.as_secs_f64();
    if entities == 0 || secs <= 0.0 {
        0
    } else {
        (entities as f64 / secs).round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{FailureRecord, FailureSite};

    fn report() -> RunReport {
        let mut report = RunReport {
            job: "AuditJob".into(),
            shards: 8,
            threads: 2,
            elapsed: Duration::from_millis(2500),
            ..RunReport::default()
        };
        report.stats.entities_read = 1000;
        report.stats.pairs_emitted = 3000;
        report.stats.keys_reduced = 12;
        report
    }

    #[test]
    fn the_summary_names_every_figure() {
        assert_eq!(
            summary(&report()),
            "AuditJob: 1000 entities read, 3000 pairs emitted, 12 keys, 0 failures in 2.5 s (400 entities/s; 8 shards, 2 threads)"
        );
    }

    #[test]
    fn zero_engine_counters_are_hidden_but_job_counters_are_not() {
        let mut report = report();
        assert_eq!(counters(&report, false), None);
        report.counters.add(counter::PUTS, 0);
        report.counters.add("skipped", 0);
        report.counters.add("migrated", 4);
        assert_eq!(
            counters(&report, false).as_deref(),
            Some("counters: migrated=4, skipped=0")
        );
    }

    #[test]
    fn failures_past_the_kept_ones_are_counted() {
        let mut report = report();
        assert!(failures(&report).is_empty());
        report.failures.push(FailureRecord {
            site: FailureSite::Entity {
                kind: "K".into(),
                id: "e1".into(),
            },
            message: "bad".into(),
        });
        report.stats.failures = 150;
        assert_eq!(failures(&report), ["failures (150):", "  K e1: bad", "  and 149 more"]);
    }

    #[test]
    fn counts_of_one_are_singular() {
        let mut report = report();
        report.stats = crate::engine::RunStats {
            entities_read: 1,
            pairs_emitted: 1,
            keys_reduced: 1,
            failures: 1,
            writes_committed: 0,
        };
        report.shards = 1;
        report.threads = 1;
        assert!(summary(&report).starts_with(
            "AuditJob: 1 entity read, 1 pair emitted, 1 key, 1 failure in 2.5 s (0 entities/s; 1 shard, 1 thread)"
        ));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(elapsed(Duration::from_millis(840)), "840 ms");
        assert_eq!(elapsed(Duration::from_millis(12_340)), "12.3 s");
        assert_eq!(elapsed(Duration::from_secs(245)), "4 min 05 s");
    }
}
