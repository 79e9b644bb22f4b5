//! The admin page (feature `web`): list the registered jobs, start runs with typed parameters,
//! watch them live (per run and per shard), cancel them, and read their output, in a browser;
//! and the same data as JSON under `/api/` for scripts. `jobs serve` starts it.
//!
//! ```no_run
//! use std::sync::Arc;
//! use jobs_core::runs;
//! use jobs_core::web::{AdminServer, ServeConfig};
//!
//! let store = runs::open_store("jobs.redb")?; // records interrupted runs first
//! let server = AdminServer::bind(Arc::new(store), ServeConfig::default())?;
//! eprintln!("admin page: {}", server.login_url()); // with a fresh token
//! server.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Routes
//!
//! | method | path | returns |
//! | --- | --- | --- |
//! | GET | `/login` | the login form; `?token=T` (the URL printed at start) fills the token in, and logging in is the form's POST: no GET opens a session |
//! | POST | `/login` | form `token`: sets the session cookie, 303 to `/`; 401 if wrong |
//! | GET | `/assets/app.css`, `/assets/app.js` | the stylesheet and script |
//! | GET | `/` | the jobs: models, shards, description, parameters, start forms |
//! | POST | `/jobs/{name}/start` | form `shards`, `threads`, `max_failures`, `dry_run`, `param.<name>`: 303 to the run, or 400 with errors under the fields |
//! | GET | `/runs` | unfinished runs (live progress, Cancel) and recent runs |
//! | GET | `/runs/{id}` | one run: progress, facts, parameters, counters, failures, output |
//! | POST | `/runs/{id}/cancel` | asks the run to stop; 303 to its page |
//! | GET | `/runs/{id}/output.txt` | the full output, as a download |
//! | GET | `/live/runs`, `/live/runs/{id}` | the live parts of the runs and run pages (HTML fragments) |
//! | POST | `/logout` | ends the session |
//! | GET | `/api/jobs` | the jobs, with parameters and active runs |
//! | POST | `/api/jobs/{name}/runs` | JSON `{"shards", "threads", "max_failures", "dry_run", "params"}` (`threads` 1 to 256): 201 with the queued run |
//! | GET | `/api/runs[?job=NAME]` | `{"active": [...], "recent": [...]}` |
//! | GET | `/api/runs/{id}` | one run, with per-shard progress |
//! | GET | `/api/runs/{id}/output[?full=true]` | its stored (folded, cut) or full output lines (the full output streamed) |
//! | POST | `/api/runs/{id}/cancel` | `{"outcome": "canceled" \| "requested" \| "already_finished", "status"}` |
//!
//! Every route but `/login` and `/assets/*` needs the admin token: 401 without it, 403 for a
//! `POST` without the CSRF token, 404 for an unknown run or job, 400 for a bad value (naming
//! its field), 409 for the output of a run that has not completed.
//!
//! # Security
//!
//! * **Loopback by default.** The server binds `127.0.0.1:8080` and refuses any address that
//!   is not loopback unless an admin token is configured ([`TOKEN_ENV`]): a generated token is
//!   printed in a terminal, which is only good enough when the page is local.
//! * **One admin token** guards everything: 32 random bytes from the OS, printed once as a
//!   login URL, or configured in [`TOKEN_ENV`] (at least [`MIN_TOKEN_CHARS`] characters).
//!   Comparisons are constant-time.
//! * **Sessions**: the token is exchanged for a cookie that is `HttpOnly`, `SameSite=Strict`
//!   and lasts [`SESSION_LIFETIME`]; scripts may send `Authorization: Bearer <token>` instead.
//! * **CSRF**: every state-changing request is a `POST` and, when authenticated by cookie,
//!   must carry the session's CSRF token (form field `csrf` or header `X-CSRF-Token`).
//! * **Escaping**: pages are maud templates, which escape every spliced value; job output,
//!   titles, parameters and errors are never inserted as HTML. The live updates replace parts
//!   of the page with fragments rendered the same way. The Content-Security-Policy allows
//!   only this server's own script and styles (no inline script), no framing, no forms to
//!   elsewhere; responses are `nosniff` and pages `no-store`.
//! * **Failures**: a wrong token gets 401 and the same words whatever was wrong; after a few
//!   from one address, or a few more from all together, answers to wrong tokens are delayed,
//!   doubling up to 8 s, and only 4 are waited on at once ([`ThrottleConfig`]). The right
//!   token is never delayed.
//! * **Connections**: at most 256 open; a request's headers must arrive within 10 s and a
//!   kept-alive connection is closed after 60 s idle; at the limit the connection idle the
//!   longest makes room for a new one ([`ConnectionLimits`]).
//!
//! # Runs
//!
//! A run started from the page is queued and recorded like any other, then carried out in
//! this process on a worker thread, through the same engine as `jobs run`, at most
//! [`ServeConfig::max_running`] at once (the others wait `queued`, in order); pages read its
//! record, so it survives page reloads. If the server stops, the next process that opens the
//! store records the run `interrupted` (see [`runs::liveness`](crate::runs::liveness)).

mod api;
mod assets;
mod auth;
mod connections;
mod error;
mod form;
mod format;
mod json;
mod pages;
mod paths;
mod routes;
mod runner;
mod secret;
mod server;
mod state;
mod stream;
mod throttle;
mod views;

pub use self::auth::{AdminToken, MIN_TOKEN_CHARS, SESSION_LIFETIME, TOKEN_ENV};
pub use self::connections::ConnectionLimits;
pub use self::error::WebError;
pub use self::server::{AdminServer, DEFAULT_BIND, ServeConfig, router, router_with};
pub use self::throttle::ThrottleConfig;
