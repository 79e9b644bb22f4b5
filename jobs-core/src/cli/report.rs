//! How a run is described for people: a summary line, counters, failures, durations.

use std::time::Duration;

use crate::context::Counters;
use crate::exec::counter;
use crate::runs::RunRecord;

/// One line: what the engine counted, how long it took, and how fast it went. `now_ms` is
/// the end of a run still going.
pub(crate) fn summary(record: &RunRecord, now_ms: i64) -> String {
    let stats = &record.stats;
    let took = record.duration(now_ms).unwrap_or_default();
    format!(
        "{}: {} read, {} emitted, {}, {} in {} ({} entities/s; {}, {})",
        record.job,
        plural(stats.entities_read, "entity", "entities"),
        plural(stats.pairs_emitted, "pair", "pairs"),
        plural(stats.keys_reduced, "key", "keys"),
        plural(stats.failures, "failure", "failures"),
        elapsed(took),
        rate(stats.entities_read, took),
        plural(record.shards as u64, "shard", "shards"),
        plural(record.threads as u64, "thread", "threads"),
    )
}

/// `1 key`, `2 keys`.
pub(crate) fn plural(count: u64, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// The job's counters as one line, or `None` when there are none worth showing. The engine's
/// `puts` and `deletes` are shown only when not zero.
pub(crate) fn counters(record: &RunRecord) -> Option<String> {
    let shown = job_counters(&record.counters);
    if shown.is_empty() {
        return None;
    }
    let note = if record.dry_run { " (dry run: puts and deletes were counted, not written)" } else { "" };
    Some(format!("counters: {shown}{note}"))
}

/// The job's own counters and the engine's writes, `name=value` separated by commas; zero
/// `puts` and `deletes` left out.
pub(crate) fn job_counters(counters: &Counters) -> String {
    let shown: Vec<String> = counters
        .iter()
        .filter(|(name, value)| *value > 0 || (*name != counter::PUTS && *name != counter::DELETES))
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    shown.join(", ")
}

/// The failures kept in the record, one a line, then how many more were only counted.
pub(crate) fn failures(record: &RunRecord) -> Vec<String> {
    let counted = record.stats.failures;
    if counted == 0 && record.failures.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![format!("failures ({}):", counted.max(record.failures.len() as u64))];
    lines.extend(record.failures.iter().map(|failure| format!("  {failure}")));
    let more = counted.saturating_sub(record.failures.len() as u64);
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
    if entities == 0 || secs <= 0.0 { 0 } else { (entities as f64 / secs).round() as u64 }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::exec::{FailureRecord, FailureSite, RunStats};
    use crate::params::Params;
    use crate::runs::Status;

    /// A run of `AuditJob` that completed after 2.5 s.
    pub(crate) fn record() -> RunRecord {
        let mut record = RunRecord::new("AuditJob", Params::new(), 8, 2, false, 1_000);
        record.transition_at(Status::Queued, 1_000).unwrap();
        record.transition_at(Status::Started, 1_500).unwrap();
        record.transition_at(Status::Completed, 4_000).unwrap();
        record.stats = RunStats { entities_read: 1000, pairs_emitted: 3000, keys_reduced: 12, ..RunStats::default() };
        record
    }

    #[test]
    fn the_summary_names_every_figure() {
        assert_eq!(
            summary(&record(), 9_999),
            "AuditJob: 1000 entities read, 3000 pairs emitted, 12 keys, 0 failures in 2.5 s (400 entities/s; 8 shards, 2 threads)"
        );
    }

    #[test]
    fn zero_engine_counters_are_hidden_but_job_counters_are_not() {
        let mut record = record();
        assert_eq!(counters(&record), None);
        record.counters.add(counter::PUTS, 0);
        record.counters.add("skipped", 0);
        record.counters.add("migrated", 4);
        assert_eq!(counters(&record).as_deref(), Some("counters: migrated=4, skipped=0"));
        record.dry_run = true;
        record.counters.add(counter::PUTS, 4);
        assert_eq!(
            counters(&record).as_deref(),
            Some("counters: migrated=4, puts=4, skipped=0 (dry run: puts and deletes were counted, not written)")
        );
    }

    #[test]
    fn failures_past_the_kept_ones_are_counted() {
        let mut record = record();
        assert!(failures(&record).is_empty());
        record.failures.push(FailureRecord {
            site: FailureSite::Entity { kind: "K".into(), id: "e1".into() },
            message: "bad".into(),
        });
        record.stats.failures = 150;
        assert_eq!(failures(&record), ["failures (150):", "  K e1: bad", "  and 149 more"]);
    }

    #[test]
    fn counts_of_one_are_singular() {
        let mut record = record();
        record.stats =
            RunStats { entities_read: 1, pairs_emitted: 1, keys_reduced: 1, failures: 1, writes_committed: 0 };
        record.shards = 1;
        record.threads = 1;
        assert!(summary(&record, 0).starts_with(
            "AuditJob: 1 entity read, 1 pair emitted, 1 key, 1 failure in 2.5 s (0 entities/s; 1 shard, 1 thread)"
        ));
    }

    #[test]
    fn a_run_still_going_is_timed_until_now() {
        let mut record = RunRecord::new("AuditJob", Params::new(), 8, 2, false, 1_000);
        record.transition_at(Status::Queued, 1_000).unwrap();
        assert!(summary(&record, 5_000).contains(" in 0 ms "), "never started");
        record.transition_at(Status::Started, 1_000).unwrap();
        assert!(summary(&record, 2_000).contains(" in 1.0 s "));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(elapsed(Duration::from_millis(840)), "840 ms");
        assert_eq!(elapsed(Duration::from_millis(12_340)), "12.3 s");
        assert_eq!(elapsed(Duration::from_secs(245)), "4 min 05 s");
    }
}
