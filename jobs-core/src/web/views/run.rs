//! A run's page: its status and live progress while it goes, its facts, parameters, counters
//! and failures, and, once completed, its stored output (identical lines folded as `(Nx)
//! line`, long lines folded away behind their first characters) and a download of the full
//! output.

use axum::response::Html;
use maud::{Markup, html};

use crate::runs::RunRecord;
use crate::web::{format, paths};

use super::layout::{PageContext, Tab, page};
use super::progress;
use super::runs::badge;

/// How many characters of an output line show before the rest is folded away.
const LINE_PREVIEW_CHARS: usize = 240;

/// What a run's page shows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunView<'a> {
    /// The run.
    pub(crate) record: &'a RunRecord,
    /// Its stored output, when it has completed.
    pub(crate) output: Option<&'a [String]>,
    /// Now, in ms since the Unix epoch.
    pub(crate) now_ms: i64,
}

/// A run's page. While the run is unfinished, its live part is re-rendered every second, and
/// the page reloads when the run finishes.
pub(crate) fn run_page(ctx: &PageContext<'_>, view: RunView<'_>) -> Html<String> {
    let run = view.record;
    let active = !run.status().is_finished();
    let content = html! {
        p.muted { a href="/runs" { "Runs" } " / " span.id { (run.id()) } }
        h1 { (run.job) }
        div.actions-row {
            @if active {
                form.inline method="post" action=(paths::run_cancel(run.id())) {
                    input type="hidden" name="csrf" value=(ctx.csrf);
                    button.danger #cancel type="submit" { "Cancel run" }
                }
            }
            @if run.output.is_some() {
                a.button #download href=(paths::run_download(run.id())) download { "Download full output" }
            }
        }
        @if active {
            section #live data-live=(paths::live_run(run.id())) data-reload-when-finished {
                (run_live(run, view.now_ms))
            }
        } @else {
            section #live { (run_live(run, view.now_ms)) }
        }
        @if let Some(lines) = view.output {
            (output(run, lines))
        }
    };
    page(&format!("{} {}", run.job, run.status()), Tab::Runs, Some(ctx), content)
}

/// The live part of a run's page: status, progress, shards, facts, parameters, counters and
/// failures. Carries `data-finished` once the run has finished, which tells the script to
/// reload the page (to show the output).
pub(crate) fn run_live(run: &RunRecord, now_ms: i64) -> Markup {
    let finished = run.status().is_finished();
    html! {
        div data-finished[finished] {
            div.card.status-card {
                p {
                    span #status data-status=(run.status().as_str()) { (badge(run.status())) }
                    @if run.was_interrupted() {
                        " the process running it stopped before it finished (a server restart or a crash)"
                    } @else if let Some(error) = &run.error {
                        " " span.mono { (error) }
                    } @else if run.is_cancel_requested() && !finished {
                        " stopping: cancel requested"
                    }
                }
                (progress::run_bar(run, now_ms))
                (progress::shards(run, now_ms, "shards", !finished))
            }
            div.grid2 {
                section.card { h2 { "Run" } (facts(run, now_ms)) }
                div {
                    section.card { h2 { "Parameters" } (parameters(run)) }
                    section.card { h2 { "Counters" } (counters(run)) }
                }
            }
            @if !run.failures.is_empty() || run.stats.failures > 0 {
                section.card #failures {
                    h2 { "Failures (" (format::count(run.stats.failures)) ")" }
                    @if run.stats.failures > run.failures.len() as u64 {
                        p.muted { "The first " (run.failures.len()) " are kept:" }
                    }
                    ul.failures {
                        @for failure in &run.failures { li { span.mono { (failure) } } }
                    }
                }
            }
        }
    }
}

fn facts(run: &RunRecord, now_ms: i64) -> Markup {
    let time = |ms: Option<i64>| ms.map_or_else(|| "—".to_owned(), format::utc);
    html! {
        dl.facts {
            dt { "Id" } dd.id { (run.id()) }
            dt { "Created" } dd { (format::utc(run.created_ms())) }
            dt { "Queued" } dd { (time(run.queued_ms)) }
            dt { "Started" } dd { (time(run.started_ms)) }
            dt { "Finished" } dd { (time(run.finished_ms)) }
            dt { "Duration" } dd { (run.duration(now_ms).map_or_else(|| "—".to_owned(), format::duration)) }
            dt { "Shards" } dd { (run.shards) " per model" }
            dt { "Threads" } dd { (run.threads) }
            dt { "Engine" } dd { (run.engine) }
            dt { "Dry run" } dd { @if run.dry_run { "yes: writes counted, none stored" } @else { "no" } }
            @if let Some(pid) = run.pid { dt { "Process" } dd { (pid) } }
            @if let Some(ms) = run.cancel_requested_ms { dt { "Cancel asked" } dd { (format::utc(ms)) } }
        }
    }
}

fn parameters(run: &RunRecord) -> Markup {
    html! {
        @if run.params.is_empty() {
            p.muted { "None: the job's defaults." }
        } @else {
            dl.facts #params {
                @for (name, value) in run.params.iter() {
                    dt { code { (name) } } dd.mono { (value) }
                }
            }
        }
    }
}

fn counters(run: &RunRecord) -> Markup {
    let stats = &run.stats;
    html! {
        dl.facts #counters {
            dt { "Entities read" } dd { (format::count(stats.entities_read)) }
            dt { "Pairs emitted" } dd { (format::count(stats.pairs_emitted)) }
            dt { "Keys reduced" } dd { (format::count(stats.keys_reduced)) }
            dt { "Failures" } dd { (format::count(stats.failures)) }
            dt { "Writes committed" } dd { (format::count(stats.writes_committed)) }
            @for (name, value) in run.counters.iter() {
                dt { code { (name) } } dd { (format::count(value)) }
            }
        }
    }
}

fn output(run: &RunRecord, lines: &[String]) -> Markup {
    html! {
        section #output-section {
            h2 { "Output" }
            @if let Some(summary) = &run.output {
                p.sub {
                    (format::count(summary.lines)) " lines produced, " (format::count(summary.distinct)) " distinct; "
                    "identical lines are folded as “(Nx) line”. "
                    @if summary.truncated {
                        strong { "Cut at " (format::count(summary.limit)) " characters" }
                        " (the last line ends with <TRUNCATED>): the download has every line."
                    } @else {
                        "The download has every line, unfolded."
                    }
                }
            }
            @if lines.is_empty() {
                p.empty { "The run produced no output." }
            } @else {
                ol.output #output {
                    @for line in lines { li { (output_line(line)) } }
                }
            }
        }
    }
}

/// A line of output; a long one shows its start, and the rest on demand.
fn output_line(line: &str) -> Markup {
    match line.char_indices().nth(LINE_PREVIEW_CHARS) {
        None => html! { (line) },
        Some((cut, _)) => {
            let rest_chars = line[cut..].chars().count();
            html! {
                details {
                    summary { (&line[..cut]) span.more { " … " (format::count(rest_chars as u64)) " more characters" } }
                    (&line[cut..])
                }
            }
        }
    }
}
