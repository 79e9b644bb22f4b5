//! Who may use the admin page: the admin token, the sessions it is exchanged for, CSRF tokens,
//! and the middleware that checks them on every protected route.
//!
//! * A browser logs in once with the token (the login form, or the login URL printed at
//!   start) and gets a session cookie: `HttpOnly` (no script reads it), `SameSite=Strict` (no
//!   other site's page sends it), named after the port so two servers on one host do not
//!   overwrite each other's. The cookie is `<key>.<secret>`: the key finds the session, the
//!   secret is compared in constant time.
//! * A script sends `Authorization: Bearer <token>` with each request instead.
//! * A state-changing request (`POST`) authenticated by a cookie must also carry the
//!   session's CSRF token, in the form field `csrf` or the header `X-CSRF-Token`; the pages
//!   put it in every form. A `Bearer` request needs none: no browser adds that header by
//!   itself.
//! * A wrong token is answered 401 with the same words whatever was wrong, and repeated
//!   failures from one address are slowed down ([`Throttle`](super::throttle)).

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::WebError;
use super::secret::{constant_time_eq, random_hex};
use super::throttle::{Throttle, ThrottleConfig};
use super::views;

/// The environment variable that configures the admin token.
pub const TOKEN_ENV: &str = "JOBS_ADMIN_TOKEN";
/// The shortest admin token accepted from configuration.
pub const MIN_TOKEN_CHARS: usize = 16;
/// How long a session lasts after login.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// How many sessions are kept at most; the oldest goes first.
const MAX_SESSIONS: usize = 256;
/// The largest form body read to find its CSRF token.
const MAX_FORM_BYTES: usize = 1 << 20;
/// The header a script may send the CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// The secret that opens the admin page. Never printed by `Debug`.
#[derive(Clone)]
pub struct AdminToken(String);

impl AdminToken {
    /// A fresh random token: 32 bytes from the operating system, as 64 hex characters.
    ///
    /// # Errors
    /// The operating system gave no random numbers.
    pub fn generate() -> Result<Self, WebError> {
        Ok(AdminToken(random_hex(32)?))
    }

    /// A configured token, checked to be usable as a secret: at least
    /// [`MIN_TOKEN_CHARS`] printable ASCII characters without spaces.
    ///
    /// # Errors
    /// It is too short, or has other characters.
    pub fn new(text: impl Into<String>) -> Result<Self, WebError> {
        let text = text.into();
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(WebError::TokenCharacters);
        }
        if text.len() < MIN_TOKEN_CHARS {
            return Err(WebError::WeakToken { chars: text.len() });
        }
        Ok(AdminToken(text))
    }

    /// The token from [`TOKEN_ENV`], if that is set (and not empty).
    ///
    /// # Errors
    /// It is set but unusable (see [`new`](Self::new)).
    pub fn from_env() -> Result<Option<Self>, WebError> {
        match std::env::var(TOKEN_ENV) {
            Ok(text) if !text.is_empty() => AdminToken::new(text).map(Some),
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(WebError::TokenCharacters),
        }
    }

    /// The token itself, to print in a login URL or hand to a script.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn matches(&self, given: &str) -> bool {
        constant_time_eq(given.as_bytes(), self.0.as_bytes())
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

/// How a request proved it may use the admin page; handlers read it from the request's
/// extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// A browser session; forms must carry its CSRF token.
    Session {
        /// The session's key (the public half of the cookie).
        key: String,
        /// The token the session's forms carry.
        csrf: String,
    },
    /// `Authorization: Bearer <admin token>`.
    Bearer,
}

impl Principal {
    /// The CSRF token to put in forms: empty for a `Bearer` client, which needs none.
    pub(crate) fn csrf(&self) -> &str {
        match self {
            Principal::Session { csrf, .. } => csrf,
            Principal::Bearer => "",
        }
    }
}

#[derive(Debug)]
struct Session {
    secret: String,
    csrf: String,
    expires: Instant,
}

/// The admin token, the live sessions and the failure throttle, shared by every request.
#[derive(Debug)]
pub(crate) struct Auth {
    token: AdminToken,
    sessions: Mutex<HashMap<String, Session>>,
    throttle: Throttle,
    /// Turns to wait out a wrong token's delay: only so many at once.
    failing: tokio::sync::Semaphore,
    cookie_name: String,
}

/// A new session: the `Set-Cookie` value that hands it to the browser.
pub(crate) struct NewSession {
    pub(crate) set_cookie: HeaderValue,
}

impl Auth {
    /// Checks requests against `token`; the session cookie is called `cookie_name`.
    pub(crate) fn new(token: AdminToken, throttle: ThrottleConfig, cookie_name: String) -> Self {
        let throttle = Throttle::new(throttle);
        let failing = tokio::sync::Semaphore::new(throttle.max_concurrent_failures());
        Auth { token, sessions: Mutex::new(HashMap::new()), throttle, failing, cookie_name }
    }

    /// Checks a token given by `client`. The right token is answered at once, whatever failed
    /// before; a wrong one waits for its turn (only a few are waited on at once), then for the
    /// throttle's delay, before it is answered.
    pub(crate) async fn check_token(&self, client: Option<IpAddr>, given: &str) -> bool {
        if self.token.matches(given) {
            self.throttle.succeeded(client);
            return true;
        }
        // The semaphore is never closed; were it, the wrong token would still be answered
        // only after its delay.
        let _turn = self.failing.acquire().await;
        let delay = self.throttle.delay(client);
        self.throttle.failed(client);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        false
    }

    /// Opens a session after a successful login.
    pub(crate) fn open_session(&self) -> Result<NewSession, WebError> {
        let key = random_hex(8)?;
        let secret = random_hex(32)?;
        let csrf = random_hex(32)?;
        let mut sessions = crate::sync::lock(&self.sessions);
        let now = Instant::now();
        sessions.retain(|_, session| session.expires > now);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| k.clone())
        {
            sessions.remove(&oldest);
        }
        let cookie = format!(
            "{}={key}.{secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
            self.cookie_name,
            SESSION_LIFETIME.as_secs()
        );
        sessions.insert(key, Session { secret, csrf, expires: now + SESSION_LIFETIME });
        let set_cookie = HeaderValue::from_str(&cookie).map_err(|e| WebError::Cookie(e.to_string()))?;
        Ok(NewSession { set_cookie })
    }

    /// Ends the session `key`; returns the `Set-Cookie` value that clears the cookie.
    pub(crate) fn close_session(&self, key: &str) -> HeaderValue {
        crate::sync::lock(&self.sessions).remove(key);
        let cookie = format!("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0", self.cookie_name);
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("jobs_session=; Max-Age=0"))
    }

    /// The session the request's cookie names, if it is live and its secret matches.
    pub(crate) fn session(&self, headers: &HeaderMap) -> Option<Principal> {
        let value = cookie(headers, &self.cookie_name)?;
        let (key, secret) = value.split_once('.')?;
        let sessions = crate::sync::lock(&self.sessions);
        let session = sessions.get(key)?;
        (session.expires > Instant::now() && constant_time_eq(secret.as_bytes(), session.secret.as_bytes()))
            .then(|| Principal::Session { key: key.to_owned(), csrf: session.csrf.clone() })
    }
}

/// The value of the cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The address the request came from, when the server recorded it.
pub(crate) fn client_ip(request: &Request) -> Option<IpAddr> {
    peer(request.extensions())
}

fn peer(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip())
}

/// The address a request came from, as a handler argument (`None` when the server did not
/// record it, as when tests call the router directly).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientIp(pub(crate) Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(peer(&parts.extensions)))
    }
}

/// Whether the request is for the JSON API (answered with JSON errors).
fn is_api(request: &Request) -> bool {
    request.uri().path().starts_with("/api/")
}

/// The middleware in front of every protected route: authenticates the request (session
/// cookie or `Bearer` token), checks the CSRF token of a state-changing one, and hands the
/// [`Principal`] to the handler.
pub(crate) async fn require_auth(State(auth): State<Arc<Auth>>, request: Request, next: Next) -> Response {
    let api = is_api(&request);
    let principal = match bearer(request.headers()) {
        Some(given) => {
            if auth.check_token(client_ip(&request), given).await {
                Some(Principal::Bearer)
            } else {
                None
            }
        }
        None => auth.session(request.headers()),
    };
    let Some(principal) = principal else {
        return unauthorized(api);
    };
    let mut request = if is_safe(request.method()) {
        request
    } else {
        match check_csrf(&principal, request).await {
            Ok(request) => request,
            Err(response) => return *response,
        }
    };
    request.extensions_mut().insert(principal);
    let mut response = next.run(request).await;
    // Pages show run data: never keep them in a shared cache or the browser's history cache.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Lets a state-changing request through if it carries its session's CSRF token (in the
/// `X-CSRF-Token` header, or the `csrf` field of a form body, which is read and put back).
async fn check_csrf(principal: &Principal, request: Request) -> Result<Request, Box<Response>> {
    let Principal::Session { csrf, .. } = principal else {
        return Ok(request);
    };
    let api = is_api(&request);
    if let Some(given) = request.headers().get(CSRF_HEADER) {
        return if constant_time_eq(given.as_bytes(), csrf.as_bytes()) {
            Ok(request)
        } else {
            Err(Box::new(forbidden(api)))
        };
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(Box::new(forbidden(api)));
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return Err(Box::new((StatusCode::PAYLOAD_TOO_LARGE, "the form is too large").into_response()));
    };
    let given = bytes.split(|b| *b == b'&').find_map(|pair| pair.strip_prefix(b"csrf="));
    match given {
        Some(given) if constant_time_eq(given, csrf.as_bytes()) => Ok(Request::from_parts(parts, Body::from(bytes))),
        _ => Err(Box::new(forbidden(api))),
    }
}

fn unauthorized(api: bool) -> Response {
    if api {
        let body = serde_json::json!({ "error": "unauthorized: send the admin token as `Authorization: Bearer <token>`, or log in" });
        let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    } else {
        (StatusCode::UNAUTHORIZED, views::login_page(None)).into_response()
    }
}

fn forbidden(api: bool) -> Response {
    let message = "this request changes something, so it needs the page's CSRF token; reload the page and try again";
    if api {
        (StatusCode::FORBIDDEN, axum::Json(serde_json::json!({ "error": message }))).into_response()
    } else {
        (StatusCode::FORBIDDEN, views::error_page(StatusCode::FORBIDDEN, message)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_tokens_must_look_like_secrets() {
        assert!(matches!(AdminToken::new("short"), Err(WebError::WeakToken { chars: 5 })));
        assert!(matches!(AdminToken::new("has a space in the middle"), Err(WebError::TokenCharacters)));
        assert!(AdminToken::new("0123456789abcdef").is_ok());
        assert_eq!(format!("{:?}", AdminToken::new("0123456789abcdef").unwrap()), "AdminToken(..)");
    }

    #[test]
    fn a_session_cookie_opens_only_its_session() {
        let auth = Auth::new(AdminToken::generate().unwrap(), ThrottleConfig::default(), "s".to_owned());
        let session = auth.open_session().unwrap();
        let set = session.set_cookie.to_str().unwrap().to_owned();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
        let value = set.split(';').next().unwrap().to_owned();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(&format!("other=1; {value}")).unwrap());
        let Some(Principal::Session { key, .. }) = auth.session(&headers) else {
            panic!("the cookie opens its session")
        };
        let forged = format!("s={key}.{}", "0".repeat(64));
        headers.insert(header::COOKIE, HeaderValue::from_str(&forged).unwrap());
        assert_eq!(auth.session(&headers), None, "a wrong secret opens nothing");
        headers.insert(header::COOKIE, HeaderValue::from_str(&value).unwrap());
        auth.close_session(&key);
        assert_eq!(auth.session(&headers), None, "a closed session is gone");
    }
}
