//! Progress bars with counts, rates and ETAs: for a whole run and for each of its shards.
//!
//! Rates are entities per second since the run started, the same for a shard as for the run
//! (shards of one run share its workers); the ETA assumes the rate holds.

use std::time::Duration;

use maud::{Markup, html};

use crate::runs::{RunPhase, RunRecord, ShardRecord, Status};
use crate::web::format;

/// How far something is, how fast it goes, and how long it still needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Estimate {
    /// Entities done.
    pub(crate) done: u64,
    /// Entities in all.
    pub(crate) total: u64,
    /// Entities per second, once some time has passed.
    pub(crate) rate: Option<f64>,
    /// Time left at that rate.
    pub(crate) eta: Option<Duration>,
}

impl Estimate {
    /// `done` of `total` after `elapsed`.
    pub(crate) fn new(done: u64, total: u64, elapsed: Option<Duration>) -> Self {
        let rate = elapsed.map(|e| e.as_secs_f64()).filter(|secs| *secs >= 0.05).map(|secs| done as f64 / secs);
        let eta = rate.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(total.saturating_sub(done) as f64 / r));
        Estimate { done, total, rate, eta }
    }

    /// ` · 250/s · about 6.0 s left`.
    fn rate_and_eta(&self) -> String {
        let mut text = String::new();
        if let Some(rate) = self.rate {
            text.push_str(" · ");
            text.push_str(&format::rate(rate));
        }
        if let Some(eta) = self.eta.filter(|_| self.done < self.total) {
            text.push_str(" · about ");
            text.push_str(&format::duration(eta));
            text.push_str(" left");
        }
        text
    }
}

/// The run's bar and the line under it: what it is doing, how far, how fast, how long still.
pub(crate) fn run_bar(record: &RunRecord, now_ms: i64) -> Markup {
    let progress = &record.progress;
    let estimate = Estimate::new(progress.read(), progress.total(), record.duration(now_ms));
    let finished = record.status().is_finished();
    let phase = progress.phase;
    let line = match (record.status(), phase) {
        (Status::New | Status::Queued, _) => "waiting to start".to_owned(),
        (Status::Started, None | Some(RunPhase::Planning)) => "splitting the models into shards".to_owned(),
        (Status::Started, Some(RunPhase::Map)) => format!(
            "mapping: {} of {} entities ({}%){}",
            format::count(estimate.done),
            format::count(estimate.total),
            format::percent(estimate.done, estimate.total),
            estimate.rate_and_eta()
        ),
        (Status::Started, Some(RunPhase::Reduce)) => format!(
            "mapped {} entities; reducing: {} keys so far",
            format::count(estimate.done),
            format::count(progress.keys_reduced)
        ),
        (Status::Started, Some(RunPhase::Done)) => "storing the output".to_owned(),
        (_, _) => format!(
            "read {} of {} entities{}",
            format::count(estimate.done),
            format::count(estimate.total),
            estimate.rate.map(|r| format!(" · {}", format::rate(r))).unwrap_or_default()
        ),
    };
    let cancel_requested = record.is_cancel_requested() && !finished;
    let complete = finished && record.status() == Status::Completed;
    let indeterminate = estimate.total == 0 && !finished;
    html! {
        div.run-progress {
            @if indeterminate {
                progress {}
            } @else {
                progress.done[complete] value=(estimate.done.min(estimate.total)) max=(estimate.total.max(1)) {}
            }
            div.progress-line {
                (line)
                @if cancel_requested { " · " strong { "cancel requested" } }
            }
        }
    }
}

/// Every shard's bar, grouped by model, in a `<details>` with the given id (so it stays open
/// across live updates).
///
/// A shard's rate is the run's rate shared among the shards being mapped now (the workers
/// share the run's threads), so its ETA says when it will be done if that holds.
pub(crate) fn shards(record: &RunRecord, now_ms: i64, details_id: &str, open: bool) -> Markup {
    let shards = &record.progress.shards;
    if shards.is_empty() {
        return html! {};
    }
    let done = shards.iter().filter(|s| s.done).count();
    let mapping = shards.iter().filter(|s| !s.done && s.read > 0).count();
    let run = Estimate::new(record.progress.read(), record.progress.total(), record.duration(now_ms));
    let shard_rate = run.rate.filter(|_| mapping > 0).map(|r| r / mapping as f64);
    let finished = record.status().is_finished();
    html! {
        details id=(details_id) open[open] {
            summary { "Shards: " (done) " of " (shards.len()) " done" }
            @let groups = by_kind(shards);
            @for &(kind, group) in &groups {
                @if groups.len() > 1 {
                    div.shard-kind { (kind) " · " (group.len()) " shards" }
                }
                div.shards {
                    @for shard in group {
                        (shard_bar(kind, shard, shard_rate, finished))
                    }
                }
            }
        }
    }
}

fn shard_bar(kind: &str, shard: &ShardRecord, rate: Option<f64>, run_finished: bool) -> Markup {
    let title = format!("{kind} shard {}", shard.index);
    let eta =
        rate.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(shard.total.saturating_sub(shard.read) as f64 / r));
    html! {
        div.shard title=(title) {
            progress.done[shard.done] value=(shard.read.min(shard.total)) max=(shard.total.max(1)) {}
            "#" (shard.index) " · " (format::count(shard.read)) "/" (format::count(shard.total))
            @if shard.failed > 0 { " · " span.bad { (shard.failed) " failed" } }
            @if !shard.done && !run_finished {
                @if shard.read == 0 {
                    span.muted { " · waiting" }
                } @else if let (Some(rate), Some(eta)) = (rate, eta) {
                    " · " (format::rate(rate)) " · ETA " (format::duration(eta))
                }
            }
        }
    }
}

/// Consecutive shards of the same kind (they are stored in (model, shard) order).
fn by_kind(shards: &[ShardRecord]) -> Vec<(&str, &[ShardRecord])> {
    let mut groups = Vec::new();
    let mut start = 0;
    for end in 1..=shards.len() {
        if end == shards.len() || shards[end].kind != shards[start].kind {
            groups.push((shards[start].kind.as_str(), &shards[start..end]));
            start = end;
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_eta_follow_from_done_total_and_elapsed() {
        let estimate = Estimate::new(500, 2000, Some(Duration::from_secs(2)));
        assert_eq!(estimate.rate, Some(250.0));
        assert_eq!(estimate.eta, Some(Duration::from_secs(6)));
        assert_eq!(Estimate::new(0, 10, None).rate, None);
        assert_eq!(Estimate::new(0, 10, Some(Duration::from_secs(1))).eta, None);
    }
}
