//! The jobs page: every registered job, with its models, default shard count, description,
//! parameters, and a form to start it; a warning where a run of it is already going.

use axum::response::Html;
use maud::{Markup, html};

use crate::params::{Param, ParamSpec};
use crate::registry::JobDescriptor;
use crate::runs::RunRecord;
use crate::web::form::{DRY_RUN, Field, FormErrors, MAX_FAILURES, PARAM_PREFIX, SHARDS, StartForm, THREADS};
use crate::web::paths;

use super::doc;
use super::layout::{PageContext, Tab, page};

/// A submission that was refused, shown again with its errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rejected<'a> {
    /// The job whose form it was.
    pub(crate) job: &'a str,
    /// What was typed.
    pub(crate) form: &'a StartForm,
    /// What is wrong with it.
    pub(crate) errors: &'a FormErrors,
}

/// What the jobs page shows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JobsView<'a> {
    /// The registered jobs, sorted by name.
    pub(crate) jobs: &'a [&'static JobDescriptor],
    /// The runs queued or started now, oldest first.
    pub(crate) active: &'a [RunRecord],
    /// A refused submission to show again.
    pub(crate) rejected: Option<Rejected<'a>>,
}

/// The jobs page.
pub(crate) fn jobs_page(ctx: &PageContext<'_>, view: JobsView<'_>) -> Html<String> {
    let content = html! {
        h1 { "Jobs" }
        p.sub { (view.jobs.len()) " one-off jobs are registered in this binary. Start one with its defaults, or set its shards and parameters first." }
        @if let Some(rejected) = view.rejected {
            p.notice.error #form-error {
                "Not started: " a href={ "#" (paths::job_anchor(rejected.job)) } { (rejected.job) } " has "
                @if rejected.errors.iter().count() == 1 { "a field" } @else { "fields" }
                " to fix below."
            }
        }
        @if view.jobs.is_empty() {
            p.empty { "No job is registered: is the crate that defines them linked into this binary?" }
        }
        div.jobs {
            @for job in view.jobs {
                (job_card(ctx, job, view.active, view.rejected.filter(|r| r.job == job.name())))
            }
        }
    };
    page("Jobs", Tab::Jobs, Some(ctx), content)
}

fn job_card(
    ctx: &PageContext<'_>,
    job: &JobDescriptor,
    active: &[RunRecord],
    rejected: Option<Rejected<'_>>,
) -> Markup {
    let going: Vec<&RunRecord> = active.iter().filter(|r| r.job == job.name()).collect();
    let empty = StartForm::default();
    let form = rejected.map_or(&empty, |r| r.form);
    let no_errors = FormErrors::default();
    let errors = rejected.map_or(&no_errors, |r| r.errors);
    html! {
        section.card.job id=(paths::job_anchor(job.name())) {
            h2 { (job.name()) }
            div.meta {
                "models: " (job.models().join(", ")) " · default shards: " (job.default_shards())
            }
            @let paragraphs = doc::paragraphs(job.description());
            @if let Some((first, more)) = paragraphs.split_first() {
                p.description { (doc::inline(first)) }
                @if !more.is_empty() {
                    details.more {
                        summary { "More about this job" }
                        @for paragraph in more { p.description { (doc::inline(paragraph)) } }
                    }
                }
            }
            @for run in &going {
                p.notice.warning.active-warning {
                    "A run of this job is already " (run.status()) ": "
                    a href=(paths::run(run.id())) { span.id { (run.id()) } }
                    ". Starting another runs both."
                }
            }
            form method="post" action=(paths::job_start(job.name())) {
                input type="hidden" name="csrf" value=(ctx.csrf);
                (text_field(
                    job.name(),
                    SHARDS,
                    html! { "Shards" },
                    &form.shards,
                    &job.default_shards().to_string(),
                    "1 to 256 per model; empty for the job's default",
                    errors.for_field(&Field::Shards),
                ))
                (text_field(
                    job.name(),
                    THREADS,
                    html! { "Threads" },
                    &form.threads,
                    &crate::exec::default_threads().clamp(1, crate::runs::MAX_THREADS).to_string(),
                    "worker threads, 1 to 256; empty for one per core",
                    errors.for_field(&Field::Threads),
                ))
                (text_field(
                    job.name(),
                    MAX_FAILURES,
                    html! { "Failures allowed" },
                    &form.max_failures,
                    &job.max_failures().to_string(),
                    "entities and keys that may fail before the run counts as failed; empty for the job's limit",
                    errors.for_field(&Field::MaxFailures),
                ))
                @for spec in job.params() {
                    (param_field(job.name(), spec, form.param(spec.name), errors.for_field(&Field::Param(spec.name.to_owned()))))
                }
                @for error in errors.iter().filter(|e| matches!(&e.field, Field::Param(name) if !job.params().iter().any(|s| s.name == name))) {
                    p.field { span.error { (error.message) } }
                }
                label.check {
                    input type="checkbox" name=(DRY_RUN) value="true" checked[form.dry_run];
                    "Dry run (count writes, store none)"
                }
                div.actions {
                    button type="submit" { "Start" }
                }
            }
        }
    }
}

/// A parameter's input: a choice for `bool`, a text box for the rest (checked by the server,
/// which says what is wrong in the job's own words).
fn param_field(job: &str, spec: &ParamSpec, value: &str, error: Option<&str>) -> Markup {
    let name = format!("{PARAM_PREFIX}{}", spec.name);
    let label = html! {
        code { (spec.name) } ": " span.muted { (spec.type_name) }
        @if spec.required { " (required)" }
    };
    // The placeholder says what a value looks like; the hint says what it is for.
    let hint = if spec.doc.trim().is_empty() { spec.expected.to_owned() } else { spec.doc.trim().to_owned() };
    if spec.expected == <bool as Param>::EXPECTED {
        let id = field_id(job, &name);
        return html! {
            div.field {
                label for=(id) { (label) }
                select id=(id) name=(name) .invalid[error.is_some()] {
                    @if !spec.required { option value="" selected[value.is_empty()] { "(not set)" } }
                    option value="true" selected[value == "true"] { "true" }
                    option value="false" selected[value == "false" || (spec.required && value.is_empty())] { "false" }
                }
                span.hint { (hint) }
                @if let Some(error) = error { span.error { (error) } }
            }
        };
    }
    text_field(job, &name, label, value, spec.expected, &hint, error)
}

fn text_field(
    job: &str,
    name: &str,
    label: Markup,
    value: &str,
    placeholder: &str,
    hint: &str,
    error: Option<&str>,
) -> Markup {
    let id = field_id(job, name);
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) type="text" name=(name) value=(value) placeholder=(placeholder) .invalid[error.is_some()];
            span.hint { (hint) }
            @if let Some(error) = error { span.error { (error) } }
        }
    }
}

/// The id of a field of a job's form, unique on the page: `job-<job>-<field>`.
fn field_id(job: &str, name: &str) -> String {
    format!("{}-{}", paths::job_anchor(job), paths::segment(name))
}
