//! The runs page: unfinished runs with live progress (per run and per shard) and Cancel, and
//! the recent runs (the last 14 days, at most 100) with status, duration and failures.

use axum::response::Html;
use maud::{Markup, html};

use crate::runs::{RunRecord, Status};
use crate::web::{format, paths};

use super::layout::{PageContext, Tab, page};
use super::progress;

/// The runs page; its live part is re-rendered from `/live/runs` every second.
pub(crate) fn runs_page(
    ctx: &PageContext<'_>,
    active: &[RunRecord],
    recent: &[RunRecord],
    now_ms: i64,
) -> Html<String> {
    let content = html! {
        h1 { "Runs" }
        p.sub { "Unfinished runs update live. Runs started here run in this server's process; a restart records them interrupted." }
        div #live data-live="/live/runs" {
            (runs_live(ctx, active, recent, now_ms))
        }
    };
    page("Runs", Tab::Runs, Some(ctx), content)
}

/// The live part of the runs page.
pub(crate) fn runs_live(ctx: &PageContext<'_>, active: &[RunRecord], recent: &[RunRecord], now_ms: i64) -> Markup {
    let finished: Vec<&RunRecord> = recent.iter().filter(|r| r.status().is_finished()).collect();
    html! {
        section {
            h2 { "Unfinished runs (" (active.len()) ")" }
            @if active.is_empty() {
                p.empty { "No run is queued or started. Start one from the " a href="/" { "jobs page" } "." }
            } @else {
                table #active-runs {
                    thead { tr { th { "Run" } th { "Status" } th { "Progress" } th.num { "Counters" } th {} } }
                    tbody {
                        @for run in active { (active_row(ctx, run, now_ms)) }
                    }
                }
            }
        }
        section {
            h2 { "Recent runs" }
            p.sub { "Finished runs created in the last 14 days, newest first (at most 100)." }
            @if finished.is_empty() {
                p.empty { "No run has finished in the last 14 days." }
            } @else {
                table #recent-runs {
                    thead { tr {
                        th { "Run" } th { "Status" } th { "Created" } th.num { "Duration" }
                        th.num { "Read" } th.num { "Failures" } th.num { "Output lines" }
                    } }
                    tbody {
                        @for run in finished { (recent_row(run, now_ms)) }
                    }
                }
            }
        }
    }
}

/// A status as a coloured badge.
pub(crate) fn badge(status: Status) -> Markup {
    html! { span class={ "badge status-" (status.as_str()) } { (status) } }
}

/// A run's id and job, linked to its page.
fn run_cell(run: &RunRecord) -> Markup {
    html! {
        td {
            a.id href=(paths::run(run.id())) { (run.id()) }
            br;
            span.muted { (run.job) }
            @if run.dry_run { span.muted { " · dry run" } }
        }
    }
}

fn active_row(ctx: &PageContext<'_>, run: &RunRecord, now_ms: i64) -> Markup {
    html! {
        tr {
            (run_cell(run))
            td { (badge(run.status())) }
            td {
                (progress::run_bar(run, now_ms))
                (progress::shards(run, now_ms, &format!("shards-{}", paths::segment(run.id().as_str())), false))
            }
            td.num {
                (format::count(run.stats.entities_read)) " read"
                br;
                (format::count(run.stats.pairs_emitted)) " emitted"
            }
            td {
                form method="post" action=(paths::run_cancel(run.id())) {
                    input type="hidden" name="csrf" value=(ctx.csrf);
                    button.danger type="submit" disabled[run.is_cancel_requested()] {
                        @if run.is_cancel_requested() { "Canceling…" } @else { "Cancel" }
                    }
                }
            }
        }
    }
}

fn recent_row(run: &RunRecord, now_ms: i64) -> Markup {
    html! {
        tr {
            (run_cell(run))
            td {
                (badge(run.status()))
                @if let Some(error) = &run.error { br; span.muted { (error) } }
            }
            td { (format::utc(run.created_ms())) }
            td.num { @if let Some(d) = run.duration(now_ms) { (format::duration(d)) } @else { "—" } }
            td.num { (format::count(run.stats.entities_read)) }
            td.num { (format::count(run.stats.failures)) }
            td.num { @if let Some(output) = &run.output { (format::count(output.lines)) } @else { "—" } }
        }
    }
}
