//! What can go wrong: [`WebError`] when the server cannot start or stops, and the errors of
//! single requests, answered as a page ([`PageError`]) or as JSON ([`ApiError`]).

use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::registry::RegistryError;
use crate::runs::RunsError;

use super::auth::{MIN_TOKEN_CHARS, TOKEN_ENV};
use super::views;

/// The admin page could not start, or its server failed.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// A non-loopback address was asked for without a configured admin token.
    #[error(
        "refusing to listen on {addr}: it is not a loopback address and no admin token is configured; set {TOKEN_ENV} to a secret of at least {MIN_TOKEN_CHARS} characters, or bind 127.0.0.1"
    )]
    NonLoopbackWithoutToken {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The configured admin token is too short to be a secret.
    #[error("the admin token is {chars} characters long; use at least {MIN_TOKEN_CHARS} (set {TOKEN_ENV})")]
    WeakToken {
        /// Its length.
        chars: usize,
    },
    /// The configured admin token has characters that cannot travel in a header or a URL.
    #[error("the admin token may only hold printable ASCII without spaces (set {TOKEN_ENV})")]
    TokenCharacters,
    /// The address could not be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("the admin page's server failed: {0}")]
    Serve(#[source] std::io::Error),
    /// The operating system gave no random numbers for tokens.
    #[error("no random numbers from the operating system for the admin token: {0}")]
    Random(String),
    /// The session cookie could not be put in a header.
    #[error("the session cookie could not be built: {0}")]
    Cookie(String),
}

/// Why one request failed: a status and a message for the person or script that sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    /// The form field or API field the error is about, if one.
    pub(crate) field: Option<String>,
}

impl HttpError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        HttpError { status, message: message.into(), field: None }
    }

    /// The same error, about the field `name`.
    pub(crate) fn about(mut self, name: impl Into<String>) -> Self {
        self.field = Some(name.into());
        self
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        HttpError::new(StatusCode::NOT_FOUND, message)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        HttpError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<RunsError> for HttpError {
    fn from(error: RunsError) -> Self {
        let status = match &error {
            RunsError::UnknownRun { .. }
            | RunsError::InvalidRunId { .. }
            | RunsError::Registry(RegistryError::UnknownJob { .. }) => StatusCode::NOT_FOUND,
            RunsError::Params(_)
            | RunsError::InvalidThreads { .. }
            | RunsError::Engine(crate::exec::RunError::InvalidShards { .. }) => StatusCode::BAD_REQUEST,
            RunsError::AlreadyActive { .. }
            | RunsError::NoOutput { .. }
            | RunsError::FullOutputNotKept { .. }
            | RunsError::AlreadyRunning { .. } => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(%error, "admin page request failed");
        }
        HttpError::new(status, worded(&error))
    }
}

/// A runs error in the admin page's words: the library's message, with where on the page to
/// look next.
fn worded(error: &RunsError) -> String {
    match error {
        RunsError::UnknownRun { .. } => format!("{error}; /runs lists recent runs"),
        RunsError::Registry(RegistryError::UnknownJob { .. }) => format!("{error}; / lists every job"),
        RunsError::AlreadyActive { id, .. } => {
            format!("{error}; wait for it or cancel it at {}, or start without exclusive", super::paths::run(id))
        }
        other => other.to_string(),
    }
}

impl From<RegistryError> for HttpError {
    fn from(error: RegistryError) -> Self {
        RunsError::from(error).into()
    }
}

/// A request error answered as an HTML page.
#[derive(Debug)]
pub(crate) struct PageError(pub(crate) HttpError);

/// Lets `?` turn each kind of error into a page error and an API error.
macro_rules! answered_as {
    ($($wrapper:ident),*) => {$(
        impl From<HttpError> for $wrapper {
            fn from(error: HttpError) -> Self {
                $wrapper(error)
            }
        }

        impl From<RunsError> for $wrapper {
            fn from(error: RunsError) -> Self {
                $wrapper(error.into())
            }
        }

        impl From<RegistryError> for $wrapper {
            fn from(error: RegistryError) -> Self {
                $wrapper(error.into())
            }
        }
    )*};
}

answered_as!(PageError, ApiError);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        (self.0.status, views::error_page(self.0.status, &self.0.message)).into_response()
    }
}

/// A request error answered as JSON: `{"error": "..."}`, plus `"field": "..."` when it is
/// about one.
#[derive(Debug)]
pub(crate) struct ApiError(pub(crate) HttpError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match &self.0.field {
            Some(field) => serde_json::json!({ "error": self.0.message, "field": field }),
            None => serde_json::json!({ "error": self.0.message }),
        };
        (self.0.status, axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::{RunId, Status};

    #[test]
    fn the_admin_page_words_run_errors_with_its_own_pages_not_the_command_line() {
        let id = RunId::parse("Job-1718000000000-abcdef").unwrap();
        let unknown = HttpError::from(RunsError::UnknownRun { id: id.clone() });
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert_eq!(unknown.message, "no run has the id `Job-1718000000000-abcdef`; /runs lists recent runs");
        let active = HttpError::from(RunsError::AlreadyActive { job: "Job".into(), id, status: Status::Started });
        assert_eq!(active.status, StatusCode::CONFLICT);
        assert!(active.message.contains("cancel it at /runs/Job-1718000000000-abcdef"), "{}", active.message);
        for message in [unknown.message, active.message] {
            assert!(!message.contains("`jobs ") && !message.contains("--"), "{message}");
        }
    }
}
