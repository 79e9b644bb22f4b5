//! The frame around every page: head, top bar with navigation and log-out, and the pages that
//! need no data (error, login).

use axum::http::StatusCode;
use axum::response::Html;
use maud::{DOCTYPE, Markup, html};

/// Which tab of the top bar is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tab {
    /// The jobs page.
    Jobs,
    /// The runs pages.
    Runs,
    /// Neither.
    None,
}

/// What every page of a logged-in user shows besides its own content.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageContext<'a> {
    /// The session's CSRF token, put in every form (empty for a `Bearer` client).
    pub(crate) csrf: &'a str,
    /// Where the store is, shown in the top bar.
    pub(crate) store: &'a str,
}

/// A page of the admin page, with the top bar (navigation and log-out only for a logged-in
/// user, `ctx`).
pub(crate) fn page(title: &str, tab: Tab, ctx: Option<&PageContext<'_>>, content: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · jobs admin" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/app.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "jobs admin" }
                    @if let Some(ctx) = ctx {
                        nav {
                            a.active[tab == Tab::Jobs] href="/" { "Jobs" }
                            a.active[tab == Tab::Runs] href="/runs" { "Runs" }
                        }
                        span.store title="The store this server reads and records runs in" { (ctx.store) }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(ctx.csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { (content) }
            }
        }
    };
    Html(markup.into_string())
}

/// The page shown for a failed request.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Html<String> {
    let reason = status.canonical_reason().unwrap_or("Error");
    page(
        reason,
        Tab::None,
        None,
        html! {
            h1 { (status.as_u16()) " " (reason) }
            p.notice.error { (message) }
            p { a href="/" { "Jobs" } " · " a href="/runs" { "Runs" } }
        },
    )
}

/// The login form; `error` says why the last attempt failed.
pub(crate) fn login_page(error: Option<&str>) -> Html<String> {
    login_page_with(error, None)
}

/// The login form, with `token` (from the login URL) filled in: logging in is a `POST`, so a
/// link or an `<img>` to the login URL opens no session.
pub(crate) fn login_page_with(error: Option<&str>, token: Option<&str>) -> Html<String> {
    page(
        "Log in",
        Tab::None,
        None,
        html! {
            div.login.card {
                h1 { "Log in" }
                p.sub {
                    "Paste the admin token: " code { (program()) " serve" } " prints a login URL with it when it starts, or it is the value of "
                    code { "JOBS_ADMIN_TOKEN" } "."
                }
                @if let Some(error) = error {
                    p.notice.error #login-error { (error) }
                }
                @if token.is_some() {
                    p.notice #login-ready { "The token from the login URL is filled in: press Log in." }
                }
                form method="post" action="/login" {
                    input #token type="password" name="token" autocomplete="current-password" placeholder="admin token" value=(token.unwrap_or("")) autofocus required;
                    button #login type="submit" { "Log in" }
                }
            }
        },
    )
}

/// The running binary's file name (`argv[0]`'s, without `.exe`), as hints name the command to
/// type: the server runs inside the application's own binary, so `my-app serve`, not
/// `jobs serve`. `jobs` if the process was started without one.
fn program() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .and_then(|path| std::path::Path::new(path).file_name())
        .map(|name| name.to_string_lossy().trim_end_matches(".exe").to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "jobs".to_owned())
}
