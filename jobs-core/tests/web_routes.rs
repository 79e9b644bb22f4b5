//! The admin page over HTTP: every route's answer without a token, without a CSRF token, for an
//! unknown run, for bad form values; escaping of what jobs write; runs started, watched and
//! canceled from the page and the API. The router is driven in-process with `oneshot`, except
//! for one test that serves it on 127.0.0.1 to check what only a real socket shows.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use jobs_core::prelude::*;
use jobs_core::runs::{self, RunId, RunLog, RunStore, Status};
use jobs_core::web::{self, AdminServer, AdminToken, ConnectionLimits, ServeConfig, ThrottleConfig, WebError};
use jobs_core::{MemoryStore, testing};
use tower::ServiceExt;

const TOKEN: &str = "web-test-token-0123456789abcdef";

#[derive(Model, Serialize, Deserialize, Clone, Debug)]
pub struct Note {
    id: String,
    text: String,
}

/// Writes each distinct note text as a line: output whose content the test chooses.
#[one_off_job(models = [Note], shards = 2)]
pub struct WebEcho;

impl Map<Note> for WebEcho {
    fn map(&self, note: Note, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.count("notes", 1);
        ctx.emit(note.text, ());
        Ok(())
    }
}

impl Reduce for WebEcho {
    type Key = String;
    type Value = ();
    fn reduce(&self, text: String, _: Values<'_, ()>, out: &mut Output) -> Outcome {
        out.line(text);
        Ok(())
    }
}

/// Writes each note's text as a line, and fails the notes whose text is `bad`.
#[one_off_job(models = [Note])]
pub struct WebPicky;

impl Map<Note> for WebPicky {
    fn map(&self, note: Note, ctx: &mut MapContext<'_, Self>) -> Outcome {
        if note.text == "bad" {
            return Err(jobs_core::Failure::new("a bad note"));
        }
        ctx.emit(note.text, ());
        Ok(())
    }
}

impl Reduce for WebPicky {
    type Key = String;
    type Value = ();
    fn reduce(&self, text: String, _: Values<'_, ()>, out: &mut Output) -> Outcome {
        out.line(text);
        Ok(())
    }
}

/// Sleeps `delay_ms` per note, so a run lasts long enough to be watched and canceled.
#[one_off_job(models = [Note], shards = 2)]
pub struct WebSlow {
    /// Milliseconds to sleep per note.
    delay_ms: u64,
}

impl Map<Note> for WebSlow {
    fn map(&self, _: Note, ctx: &mut MapContext<'_, Self>) -> Outcome {
        std::thread::sleep(Duration::from_millis(self.delay_ms));
        ctx.emit(0, 1);
        Ok(())
    }
}

impl Reduce for WebSlow {
    type Key = u8;
    type Value = u32;
    fn reduce(&self, _: u8, ones: Values<'_, u32>, out: &mut Output) -> Outcome {
        out.line(format!("slept {} times", ones.sum::<u32>()));
        Ok(())
    }
}

/// Labels notes longer than `min_len`.
#[one_off_job(models = [Note])]
pub struct WebParams {
    /// The shortest text counted.
    min_len: usize,
    /// Put before each line.
    label: Option<String>,
}

impl Map<Note> for WebParams {
    fn map(&self, note: Note, ctx: &mut MapContext<'_, Self>) -> Outcome {
        if note.text.len() >= self.min_len {
            ctx.emit(note.id, note.text.len());
        }
        Ok(())
    }
}

impl Reduce for WebParams {
    type Key = String;
    type Value = usize;
    fn reduce(&self, id: String, lens: Values<'_, usize>, out: &mut Output) -> Outcome {
        let label = self.label.as_deref().unwrap_or("");
        out.line(format!("{label}{id} {}", lens.sum::<usize>()));
        Ok(())
    }
}

/// A router over a memory store holding `notes`, and the store.
struct App {
    router: Router,
    store: Arc<MemoryStore>,
}

/// What came back.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// A logged-in browser: its cookie and its pages' CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

fn throttle() -> ThrottleConfig {
    ThrottleConfig {
        free_failures: 2,
        base_delay: Duration::from_millis(150),
        max_delay: Duration::from_millis(600),
        forget_after: Duration::from_secs(60),
        ..ThrottleConfig::default()
    }
}

fn app_with(notes: &[&str]) -> App {
    app_throttled(notes, throttle())
}

fn app_throttled(notes: &[&str], throttle: ThrottleConfig) -> App {
    let store = Arc::new(MemoryStore::new());
    let notes: Vec<Note> =
        notes.iter().enumerate().map(|(i, text)| Note { id: format!("n{i:04}"), text: (*text).to_owned() }).collect();
    testing::put_all(store.as_ref(), &notes).unwrap();
    let log: Arc<dyn RunLog> = store.clone();
    let router = web::router(log, AdminToken::new(TOKEN).unwrap(), throttle);
    App { router, store }
}

/// As [`app_with`], carrying out at most `max_running` runs at once.
fn app_running_at_most(notes: &[&str], max_running: usize) -> App {
    let store = Arc::new(MemoryStore::new());
    let notes: Vec<Note> =
        notes.iter().enumerate().map(|(i, text)| Note { id: format!("n{i:04}"), text: (*text).to_owned() }).collect();
    testing::put_all(store.as_ref(), &notes).unwrap();
    let log: Arc<dyn RunLog> = store.clone();
    let config = ServeConfig { throttle: throttle(), max_running, ..ServeConfig::default() };
    let router = web::router_with(log, AdminToken::new(TOKEN).unwrap(), &config);
    App { router, store }
}

fn app() -> App {
    app_with(&["alpha", "beta", "gamma"])
}

impl App {
    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        Reply { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    async fn get(&self, path: &str, browser: Option<&Browser>) -> Reply {
        let mut request = Request::get(path);
        if let Some(browser) = browser {
            request = request.header(header::COOKIE, &browser.cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// Posts a form; `csrf` is added as the form's `csrf` field when given.
    async fn post_form(
        &self,
        path: &str,
        browser: Option<&Browser>,
        csrf: Option<&str>,
        fields: &[(&str, &str)],
    ) -> Reply {
        let mut pairs: Vec<String> = fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        if let Some(csrf) = csrf {
            pairs.push(format!("csrf={csrf}"));
        }
        let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(browser) = browser {
            request = request.header(header::COOKIE, &browser.cookie);
        }
        self.send(request.body(Body::from(pairs.join("&"))).unwrap()).await
    }

    async fn api(&self, method: Method, path: &str, token: Option<&str>, json: Option<serde_json::Value>) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match json {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).unwrap()).await
    }

    async fn login(&self) -> Browser {
        let reply = self.post_form("/login", None, None, &[("token", TOKEN)]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        let set_cookie = reply.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        let page = self.get("/", Some(&Browser { cookie: cookie.clone(), csrf: String::new() })).await;
        assert_eq!(page.status, StatusCode::OK);
        let csrf = attribute_after(&page.body, r#"name="csrf" value=""#).to_owned();
        assert_eq!(csrf.len(), 64, "the page carries the CSRF token");
        Browser { cookie, csrf }
    }

    /// Waits until run `id` has finished (at most 20 s).
    fn finished(&self, id: &str) -> Status {
        let id = RunId::parse(id).unwrap();
        runs::wait(self.store.as_ref(), &id, Duration::from_secs(20)).unwrap().status()
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The text from just after `marker` up to the next `"`.
fn attribute_after<'a>(body: &'a str, marker: &str) -> &'a str {
    let start = body.find(marker).map(|i| i + marker.len()).unwrap_or(body.len());
    let rest = &body[start..];
    &rest[..rest.find('"').unwrap_or(rest.len())]
}

/// The run id a start redirected to.
fn started_run(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    reply.location().strip_prefix("/runs/").unwrap().to_owned()
}

const PROTECTED_GETS: [&str; 12] = [
    "/",
    "/runs",
    "/runs/WebEcho-1-abc",
    "/runs/WebEcho-1-abc/output.txt",
    "/live/runs",
    "/live/runs/WebEcho-1-abc",
    "/api/jobs",
    "/api/runs",
    "/api/runs/WebEcho-1-abc",
    "/api/runs/WebEcho-1-abc/output",
    "/no/such/page",
    "/api/no/such/thing",
];

const PROTECTED_POSTS: [&str; 5] = [
    "/jobs/WebEcho/start",
    "/runs/WebEcho-1-abc/cancel",
    "/logout",
    "/api/jobs/WebEcho/runs",
    "/api/runs/WebEcho-1-abc/cancel",
];

#[tokio::test]
async fn every_protected_route_answers_401_without_the_token() {
    let app = app();
    for path in PROTECTED_GETS {
        let reply = app.get(path, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "GET {path}");
        if path.starts_with("/api/") {
            assert!(reply.body.contains("unauthorized"), "GET {path}: {}", reply.body);
            assert_eq!(reply.headers.get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");
        } else {
            assert!(reply.body.contains(r#"action="/login""#), "GET {path} offers the login form");
        }
    }
    for path in PROTECTED_POSTS {
        let reply = app.post_form(path, None, None, &[]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "POST {path}");
    }
    let forged = Browser { cookie: format!("jobs_session=0123456789abcdef.{}", "0".repeat(64)), csrf: String::new() };
    assert_eq!(app.get("/", Some(&forged)).await.status, StatusCode::UNAUTHORIZED, "a made-up session opens nothing");
    assert!(app.store.recent().unwrap().is_empty(), "nothing was started");
}

#[tokio::test]
async fn the_login_form_and_assets_need_no_token() {
    let app = app();
    let login = app.get("/login", None).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains(r#"name="token""#));
    // The hint names the command to type under the running binary's name (here this test's).
    let binary = std::env::current_exe().unwrap();
    let binary = binary.file_stem().unwrap().to_string_lossy();
    assert!(login.body.contains(&format!("<code>{binary} serve</code>")), "{}", login.body);
    for (path, kind) in [("/assets/app.css", "text/css"), ("/assets/app.js", "text/javascript")] {
        let reply = app.get(path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(reply.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with(kind));
    }
}

#[tokio::test]
async fn a_wrong_token_gets_401_and_the_same_words_whatever_was_wrong() {
    let app = app();
    let mut bodies = Vec::new();
    for wrong in ["", "x", &TOKEN[..TOKEN.len() - 1], &format!("{TOKEN}x")] {
        let reply = app.post_form("/login", None, None, &[("token", wrong)]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{wrong:?}");
        assert!(reply.headers.get(header::SET_COOKIE).is_none());
        bodies.push(reply.body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "nothing tells a near miss from a far one");
    assert!(!bodies[0].contains(TOKEN));
    let bearer = app.api(Method::GET, "/api/jobs", Some("wrong-token"), None).await;
    let none = app.api(Method::GET, "/api/jobs", None, None).await;
    assert_eq!((bearer.status, &bearer.body), (StatusCode::UNAUTHORIZED, &none.body));
    let url = app.get("/login?token=wrong", None).await;
    assert_eq!(url.status, StatusCode::OK, "a GET checks no token: it fills in the form");
    assert!(url.headers.get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn repeated_failures_are_slowed_down() {
    let app = app();
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let reply = app.post_form("/login", None, None, &[("token", "wrong")]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        times.push(started.elapsed());
    }
    // Two free failures (see the next test), then at least 150 ms, 300 ms, 600 ms: lower
    // bounds, which load cannot break.
    assert!(times[2] >= Duration::from_millis(150), "{times:?}");
    assert!(times[3] >= Duration::from_millis(300), "{times:?}");
    assert!(times[4] >= Duration::from_millis(600), "{times:?}");
}

#[tokio::test]
async fn the_free_failures_are_answered_without_the_delay_and_the_next_one_waits() {
    // A delay of an hour: a free failure answered within a minute, however loaded the
    // machine, was not delayed, and a third one still unanswered after half a second waits.
    let hour = Duration::from_secs(3600);
    let app = app_throttled(
        &["alpha"],
        ThrottleConfig {
            free_failures: 2,
            base_delay: hour,
            max_delay: hour,
            forget_after: hour * 2,
            ..ThrottleConfig::default()
        },
    );
    for free in 0..2 {
        let reply =
            tokio::time::timeout(Duration::from_secs(60), app.post_form("/login", None, None, &[("token", "x")]))
                .await
                .unwrap_or_else(|_| panic!("free failure {free} was delayed"));
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let third =
        tokio::time::timeout(Duration::from_millis(500), app.post_form("/login", None, None, &[("token", "x")]));
    assert!(third.await.is_err(), "the third failure was answered without waiting");
}

/// `POST /login` with `token`, as if from `ip`.
fn login_from(ip: [u8; 4], token: &str) -> Request<Body> {
    let mut request = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={}", encode(token))))
        .unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo(SocketAddr::from((ip, 40000))));
    request
}

#[tokio::test]
async fn the_right_token_is_never_delayed_by_earlier_failures() {
    let hour = Duration::from_secs(3600);
    let config = ThrottleConfig {
        free_failures: 1,
        base_delay: hour,
        max_delay: hour,
        forget_after: hour * 2,
        global_free_failures: 1,
        ..ThrottleConfig::default()
    };
    let app = app_throttled(&["alpha"], config);
    let free = app.send(login_from([10, 0, 0, 1], "wrong")).await;
    assert_eq!(free.status, StatusCode::UNAUTHORIZED);
    // The next wrong token from that address waits an hour; the right one does not wait.
    let router = app.router.clone();
    let waiting = tokio::spawn(async move { router.oneshot(login_from([10, 0, 0, 1], "wrong")).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    for ip in [[10, 0, 0, 1], [10, 0, 0, 2]] {
        let right = tokio::time::timeout(Duration::from_secs(60), app.send(login_from(ip, TOKEN)))
            .await
            .unwrap_or_else(|_| panic!("the right token from {ip:?} was delayed"));
        assert_eq!(right.status, StatusCode::SEE_OTHER, "{}", right.body);
    }
    let bearer = tokio::time::timeout(Duration::from_secs(60), app.api(Method::GET, "/api/jobs", Some(TOKEN), None))
        .await
        .expect("the right bearer token was delayed");
    assert_eq!(bearer.status, StatusCode::OK);
    assert!(!waiting.is_finished(), "the wrong token is still waiting");
    waiting.abort();
}

#[tokio::test]
async fn failures_from_many_addresses_are_delayed_once_the_overall_allowance_is_spent() {
    let hour = Duration::from_secs(3600);
    let config = ThrottleConfig {
        free_failures: 100,
        base_delay: hour,
        max_delay: hour,
        forget_after: hour * 2,
        global_free_failures: 3,
        ..ThrottleConfig::default()
    };
    let app = app_throttled(&["alpha"], config);
    for i in 0..3 {
        let reply = tokio::time::timeout(Duration::from_secs(60), app.send(login_from([10, 0, 1, i], "wrong")))
            .await
            .unwrap_or_else(|_| panic!("free failure {i} was delayed"));
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let fourth = tokio::time::timeout(Duration::from_millis(500), app.send(login_from([10, 0, 1, 99], "wrong")));
    assert!(fourth.await.is_err(), "a fresh address got a free guess beyond the overall allowance");
}

#[tokio::test]
async fn wrong_tokens_sent_at_once_are_answered_a_few_at_a_time() {
    let delay = Duration::from_millis(300);
    let config = ThrottleConfig {
        free_failures: 0,
        base_delay: delay,
        max_delay: delay,
        forget_after: Duration::from_secs(60),
        global_free_failures: 0,
        max_concurrent_failures: 2,
    };
    let app = app_throttled(&["alpha"], config);
    let started = Instant::now();
    let guesses: Vec<_> = (0..8u8)
        .map(|i| {
            let router = app.router.clone();
            tokio::spawn(async move { router.oneshot(login_from([10, 0, 2, i], "wrong")).await.unwrap().status() })
        })
        .collect();
    for guess in guesses {
        assert_eq!(guess.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
    // 8 guesses, 2 at a time, 300 ms each: at least 1.2 s (a lower bound, which load cannot
    // break); answered all at once they would take 300 ms.
    assert!(started.elapsed() >= delay * 4, "{:?}", started.elapsed());
}

#[tokio::test]
async fn the_token_is_exchanged_for_an_httponly_strict_session_cookie() {
    let app = app();
    let reply = app.post_form("/login", None, None, &[("token", TOKEN)]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location(), "/");
    let set_cookie = reply.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(set_cookie.starts_with("jobs_session="), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    assert!(!set_cookie.contains(TOKEN), "the cookie is not the token");

    let browser = app.login().await;
    let page = app.get("/runs", Some(&browser)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
    let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");

    let logout = app.post_form("/logout", Some(&browser), Some(&browser.csrf), &[]).await;
    assert_eq!((logout.status, logout.location()), (StatusCode::SEE_OTHER, "/login"));
    assert_eq!(app.get("/runs", Some(&browser)).await.status, StatusCode::UNAUTHORIZED, "logged out");
}

#[tokio::test]
async fn gets_record_nothing_and_the_next_write_records_a_dead_run_interrupted() {
    let app = app();
    // A run recorded `started` whose process is gone (nobody holds its claim), recorded after
    // the server started.
    let queued = runs::queue(app.store.as_ref(), &runs::RunRequest::new("WebEcho")).unwrap();
    let id = queued.record.id().clone();
    app.store.transition(&id, Status::Started, &mut |_| {}).unwrap();
    let browser = app.login().await;
    for path in ["/", "/runs", "/live/runs", &format!("/runs/{id}")] {
        assert_eq!(app.get(path, Some(&browser)).await.status, StatusCode::OK, "GET {path}");
    }
    for path in ["/api/jobs", "/api/runs", &format!("/api/runs/{id}")] {
        assert_eq!(app.api(Method::GET, path, Some(TOKEN), None).await.status, StatusCode::OK, "GET {path}");
    }
    let output = app.api(Method::GET, &format!("/api/runs/{id}/output?full=true"), Some(TOKEN), None).await;
    assert_eq!(output.status, StatusCode::CONFLICT, "{}", output.body);
    let download = app.get(&format!("/runs/{id}/output.txt"), Some(&browser)).await;
    assert_eq!(download.status, StatusCode::CONFLICT, "{}", download.body);
    // `load_run`: the record as stored (`get_run` would record the dead run itself).
    let record = app.store.load_run(&id).unwrap().unwrap();
    assert_eq!(record.status(), Status::Started, "a GET recorded the dead run: {:?}", record.error);

    // A login URL opened by a GET (an `<img>` on another site, say) opens no session.
    let url = app.get(&format!("/login?token={TOKEN}"), None).await;
    assert_eq!(url.status, StatusCode::OK);
    assert!(url.headers.get(header::SET_COOKIE).is_none(), "a GET opened a session");
    assert!(url.body.contains(r#"method="post" action="/login""#), "{}", url.body);

    // The next write records it.
    let started = app.api(Method::POST, "/api/jobs/WebEcho/runs", Some(TOKEN), Some(serde_json::json!({}))).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    let record = app.store.load_run(&id).unwrap().unwrap();
    assert_eq!((record.status(), record.error.as_deref()), (Status::Failed, Some(runs::INTERRUPTED)));
}

#[tokio::test]
async fn posts_without_the_csrf_token_get_403_and_change_nothing() {
    let app = app();
    let browser = app.login().await;
    for path in PROTECTED_POSTS {
        let missing = app.post_form(path, Some(&browser), None, &[]).await;
        assert_eq!(missing.status, StatusCode::FORBIDDEN, "POST {path} without CSRF");
        let wrong = app.post_form(path, Some(&browser), Some(&"0".repeat(64)), &[]).await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN, "POST {path} with a wrong CSRF token");
    }
    assert!(app.store.recent().unwrap().is_empty(), "nothing was started");
    assert_eq!(app.get("/", Some(&browser)).await.status, StatusCode::OK, "still logged in");
    // A script may send the token in a header instead; a Bearer client needs none.
    let request = Request::post("/api/jobs/WebEcho/runs")
        .header(header::COOKIE, &browser.cookie)
        .header("x-csrf-token", &browser.csrf)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::CREATED);
    let bearer = app.api(Method::POST, "/api/jobs/WebEcho/runs", Some(TOKEN), Some(serde_json::json!({}))).await;
    assert_eq!(bearer.status, StatusCode::CREATED, "{}", bearer.body);
}

#[tokio::test]
async fn unknown_runs_jobs_and_pages_get_404() {
    let app = app();
    let browser = app.login().await;
    for path in [
        "/runs/WebEcho-1-abc",
        "/runs/not-a-run-id",
        "/runs/WebEcho-1-abc/output.txt",
        "/live/runs/WebEcho-1-abc",
        "/no/such/page",
    ] {
        let reply = app.get(path, Some(&browser)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "GET {path}");
        assert!(reply.body.contains("404"), "{path}: {}", reply.body);
    }
    let cancel = app.post_form("/runs/WebEcho-1-abc/cancel", Some(&browser), Some(&browser.csrf), &[]).await;
    assert_eq!(cancel.status, StatusCode::NOT_FOUND);
    let start = app.post_form("/jobs/NoSuchJob/start", Some(&browser), Some(&browser.csrf), &[]).await;
    assert_eq!(start.status, StatusCode::NOT_FOUND);
    assert!(start.body.contains("NoSuchJob"), "{}", start.body);
    for path in ["/api/runs/WebEcho-1-abc", "/api/runs/WebEcho-1-abc/output", "/api/nothing"] {
        let reply = app.api(Method::GET, path, Some(TOKEN), None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "GET {path}");
        assert!(reply.body.starts_with(r#"{"error":"#), "{path}: {}", reply.body);
    }
    let api_cancel = app.api(Method::POST, "/api/runs/WebEcho-1-abc/cancel", Some(TOKEN), None).await;
    assert_eq!(api_cancel.status, StatusCode::NOT_FOUND);
    let api_start = app.api(Method::POST, "/api/jobs/WebEchoo/runs", Some(TOKEN), Some(serde_json::json!({}))).await;
    assert_eq!(api_start.status, StatusCode::NOT_FOUND);
    assert!(api_start.body.contains("did you mean `WebEcho`"), "{}", api_start.body);
}

#[tokio::test]
async fn bad_form_values_get_400_with_the_error_under_the_field_and_queue_nothing() {
    let app = app();
    let browser = app.login().await;
    let shards = app.post_form("/jobs/WebEcho/start", Some(&browser), Some(&browser.csrf), &[("shards", "0")]).await;
    assert_eq!(shards.status, StatusCode::BAD_REQUEST);
    assert!(
        shards.body.contains(r##"Not started: <a href="#job-WebEcho">WebEcho</a> has a field to fix below."##),
        "{}",
        shards.body
    );
    let field = &shards.body[shards.body.find(r#"id="job-WebEcho-shards""#).unwrap()..];
    let error = &field[..field.find("</div>").unwrap()];
    assert!(error.contains(r#"class="error">`0` is not a shard count: use a whole number from 1 to 256"#), "{error}");
    assert!(error.contains(r#"value="0""#), "the value typed is kept: {error}");

    let params = app
        .post_form(
            "/jobs/WebParams/start",
            Some(&browser),
            Some(&browser.csrf),
            &[("param.min_len", "three"), ("param.label", "x")],
        )
        .await;
    assert_eq!(params.status, StatusCode::BAD_REQUEST);
    let field = &params.body[params.body.find(r#"id="job-WebParams-param.min_len""#).unwrap()..];
    let error = &field[..field.find("</div>").unwrap()];
    assert!(error.contains("`three` is not an unsigned integer"), "{error}");
    assert!(params.body.contains(r#"value="x""#), "other values are kept");

    let missing = app.post_form("/jobs/WebParams/start", Some(&browser), Some(&browser.csrf), &[]).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(missing.body.contains("required: an unsigned integer"), "{}", missing.body);

    let unknown =
        app.post_form("/jobs/WebEcho/start", Some(&browser), Some(&browser.csrf), &[("param.bogus", "1")]).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.body.contains("WebEcho has no parameter `bogus`"), "{}", unknown.body);
    assert!(app.store.recent().unwrap().is_empty(), "nothing was queued");
}

#[tokio::test]
async fn bad_api_values_get_400_naming_the_field() {
    let app = app();
    for (body, field, words) in [
        (serde_json::json!({ "shards": 300 }), "shards", "from 1 to 256"),
        (serde_json::json!({ "threads": 0 }), "threads", "from 1 to 256"),
        (serde_json::json!({ "threads": 100000 }), "threads", "from 1 to 256"),
        (serde_json::json!({ "params": { "min_len": "x" } }), "min_len", "is not an unsigned integer"),
        (serde_json::json!({ "params": { "min_len": [1] } }), "min_len", "a string, a number or a boolean"),
        (serde_json::json!({ "params": { "nope": 1 } }), "nope", "has no parameter `nope`"),
    ] {
        let reply = app.api(Method::POST, "/api/jobs/WebParams/runs", Some(TOKEN), Some(body.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(json["field"], field, "{json}");
        assert!(json["error"].as_str().unwrap().contains(words), "{json}");
    }
    let typo =
        app.api(Method::POST, "/api/jobs/WebParams/runs", Some(TOKEN), Some(serde_json::json!({ "shard": 2 }))).await;
    assert_eq!(typo.status, StatusCode::BAD_REQUEST);
    assert!(typo.body.contains("unknown field `shard`"), "{}", typo.body);
    assert!(app.store.recent().unwrap().is_empty(), "nothing was queued");
}

#[tokio::test]
async fn job_output_and_parameters_are_html_escaped() {
    let app = app_with(&["<script>alert(1)</script>", "a & b", r#""quoted" 'single'"#]);
    let browser = app.login().await;
    let echo = started_run(&app.post_form("/jobs/WebEcho/start", Some(&browser), Some(&browser.csrf), &[]).await);
    assert_eq!(app.finished(&echo), Status::Completed);
    let page = app.get(&format!("/runs/{echo}"), Some(&browser)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{}", page.body);
    assert!(!page.body.contains("<script>alert"), "no output reaches the page as HTML");
    assert!(page.body.contains("a &amp; b"));
    assert!(page.body.contains("&quot;quoted&quot; 'single'"));

    let params = started_run(
        &app.post_form(
            "/jobs/WebParams/start",
            Some(&browser),
            Some(&browser.csrf),
            &[("param.min_len", "1"), ("param.label", "<img src=x onerror=alert(2)>")],
        )
        .await,
    );
    assert_eq!(app.finished(&params), Status::Completed);
    let page = app.get(&format!("/runs/{params}"), Some(&browser)).await;
    assert!(page.body.contains("&lt;img src=x onerror=alert(2)&gt;"), "the parameter and its output are escaped");
    assert!(!page.body.contains("<img src=x"));
    let runs = app.get("/live/runs", Some(&browser)).await;
    assert!(!runs.body.contains("<script>alert") && !runs.body.contains("<img src=x"));
}

#[tokio::test]
async fn a_run_started_from_the_page_completes_with_its_output_on_its_page_and_download() {
    let app = app_with(&["b", "a", "b"]);
    let browser = app.login().await;
    let reply = app
        .post_form("/jobs/WebEcho/start", Some(&browser), Some(&browser.csrf), &[("shards", "3"), ("dry_run", "true")])
        .await;
    let id = started_run(&reply);
    assert_eq!(app.finished(&id), Status::Completed);
    let record = app.store.get_run(&RunId::parse(&id).unwrap()).unwrap();
    assert_eq!((record.shards, record.dry_run), (3, true));

    let threads =
        app.post_form("/jobs/WebEcho/start", Some(&browser), Some(&browser.csrf), &[("threads", "3000")]).await;
    assert_eq!(threads.status, StatusCode::BAD_REQUEST);
    assert!(
        threads.body.contains("`3000` is not a thread count: use a whole number from 1 to 256"),
        "{}",
        threads.body
    );
    let two = started_run(
        &app.post_form("/jobs/WebEcho/start", Some(&browser), Some(&browser.csrf), &[("threads", "2")]).await,
    );
    assert_eq!(app.finished(&two), Status::Completed);
    assert_eq!(app.store.get_run(&RunId::parse(&two).unwrap()).unwrap().threads, 2);

    let page = app.get(&format!("/runs/{id}"), Some(&browser)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(r#"data-status="completed""#));
    assert!(page.body.contains("<li>a</li><li>b</li>"), "{}", page.body);
    assert!(page.body.contains(&format!(r#"href="/runs/{id}/output.txt""#)));
    assert!(!page.body.contains("data-live"), "a finished run's page does not poll");

    let download = app.get(&format!("/runs/{id}/output.txt"), Some(&browser)).await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(download.body, "a\nb\n");
    let disposition = download.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert_eq!(disposition, format!("attachment; filename=\"{id}.txt\""));

    let runs = app.get("/runs", Some(&browser)).await;
    assert!(runs.body.contains(&id) && runs.body.contains("No run is queued or started"), "{}", runs.body);
    let output = app.api(Method::GET, &format!("/api/runs/{id}/output?full=true"), Some(TOKEN), None).await;
    let json: serde_json::Value = serde_json::from_str(&output.body).unwrap();
    assert_eq!(json["lines"], serde_json::json!(["a", "b"]));
    assert_eq!(json["kind"], "full");
}

#[tokio::test]
async fn a_long_run_shows_live_progress_a_warning_and_stops_when_canceled() {
    let notes: Vec<String> = (0..400).map(|i| format!("note {i}")).collect();
    let app = app_with(&notes.iter().map(String::as_str).collect::<Vec<_>>());
    let browser = app.login().await;
    let id = started_run(
        &app.post_form("/jobs/WebSlow/start", Some(&browser), Some(&browser.csrf), &[("param.delay_ms", "25")]).await,
    );
    let run_id = RunId::parse(&id).unwrap();
    let started = runs::wait(app.store.as_ref(), &run_id, Duration::ZERO).unwrap();
    assert!(started.status().is_active());

    let page = app.get(&format!("/runs/{id}"), Some(&browser)).await;
    assert!(page.body.contains(&format!(r#"data-live="/live/runs/{id}""#)), "an unfinished run's page polls");
    assert!(page.body.contains(r#"id="cancel""#));
    let jobs = app.get("/", Some(&browser)).await;
    assert!(jobs.body.contains("A run of this job is already"), "the jobs page warns");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let live = app.get("/live/runs", Some(&browser)).await;
        if live.body.contains("mapping:") && live.body.contains("Shards: ") {
            assert!(live.body.contains("<progress"), "{}", live.body);
            break;
        }
        assert!(Instant::now() < deadline, "no progress shown: {}", live.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let cancel = app.post_form(&format!("/runs/{id}/cancel"), Some(&browser), Some(&browser.csrf), &[]).await;
    assert_eq!((cancel.status, cancel.location()), (StatusCode::SEE_OTHER, format!("/runs/{id}").as_str()));
    assert_eq!(app.finished(&id), Status::Canceled);
    let live = app.get(&format!("/live/runs/{id}"), Some(&browser)).await;
    assert!(live.body.contains("data-finished") && live.body.contains(r#"data-status="canceled""#), "{}", live.body);
}

#[tokio::test]
async fn runs_beyond_the_concurrency_limit_wait_queued_and_start_in_order() {
    let notes: Vec<String> = (0..400).map(|i| format!("note {i}")).collect();
    let app = app_running_at_most(&notes.iter().map(String::as_str).collect::<Vec<_>>(), 1);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let reply = app
            .api(
                Method::POST,
                "/api/jobs/WebSlow/runs",
                Some(TOKEN),
                Some(serde_json::json!({ "params": { "delay_ms": 25 } })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        ids.push(RunId::parse(body["run"]["id"].as_str().unwrap()).unwrap());
    }
    let status = |id: &RunId| app.store.load_run(id).unwrap().unwrap().status();
    let wait_for = |id: &RunId, wanted: Status| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while status(id) != wanted {
            assert!(Instant::now() < deadline, "{id} never became {wanted}: {}", status(id));
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(&ids[0], Status::Started);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!((status(&ids[1]), status(&ids[2])), (Status::Queued, Status::Queued), "one run at a time");

    app.store.request_cancel(&ids[0]).unwrap();
    wait_for(&ids[1], Status::Started);
    assert_eq!(status(&ids[0]), Status::Canceled);
    assert_eq!(status(&ids[2]), Status::Queued, "the third still waits its turn");
    for id in &ids[1..] {
        app.store.request_cancel(id).unwrap();
    }
    for id in &ids {
        assert_eq!(app.finished(id.as_str()), Status::Canceled);
    }
}

#[tokio::test]
async fn a_large_full_output_is_streamed_whole_by_the_api_and_the_download() {
    // 30,000 distinct lines of 40 characters: 1.2 MB, many chunks.
    let notes: Vec<String> = (0..30_000).map(|i| format!("{i:06} {}", "x".repeat(33))).collect();
    let app = app_with(&notes.iter().map(String::as_str).collect::<Vec<_>>());
    let started = app.api(Method::POST, "/api/jobs/WebEcho/runs", Some(TOKEN), Some(serde_json::json!({}))).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    let body: serde_json::Value = serde_json::from_str(&started.body).unwrap();
    let id = body["run"]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.finished(&id), Status::Completed);

    for path in [format!("/api/runs/{id}/output?full=true"), format!("/runs/{id}/output.txt")] {
        let request = Request::get(&path).header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        let response = app.router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        use http_body::Body as _;
        assert_eq!(response.body().size_hint().exact(), None, "{path} was built whole before it was sent");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let lines: Vec<String> = if path.contains("/api/") {
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!((json["id"].as_str(), json["kind"].as_str()), (Some(id.as_str()), Some("full")));
            assert_eq!(json["summary"]["lines"], 30_000, "{}", json["summary"]);
            json["lines"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_owned()).collect()
        } else {
            text.lines().map(str::to_owned).collect()
        };
        assert_eq!(lines, notes, "{path}");
    }
    let missing = app.api(Method::GET, "/api/runs/WebEcho-1-abc/output?full=true", Some(TOKEN), None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "checked before streaming: {}", missing.body);
}

#[tokio::test]
async fn the_api_lists_jobs_and_runs_and_starts_and_cancels_with_a_bearer_token() {
    let notes: Vec<String> = (0..200).map(|i| format!("note {i}")).collect();
    let app = app_with(&notes.iter().map(String::as_str).collect::<Vec<_>>());
    let jobs = app.api(Method::GET, "/api/jobs", Some(TOKEN), None).await;
    assert_eq!(jobs.status, StatusCode::OK);
    let jobs: serde_json::Value = serde_json::from_str(&jobs.body).unwrap();
    let params = jobs.as_array().unwrap().iter().find(|j| j["name"] == "WebParams").unwrap();
    assert_eq!(params["models"], serde_json::json!(["Note"]));
    assert_eq!(params["params"][0]["name"], "min_len");
    assert_eq!(params["params"][0]["required"], true);

    let started = app
        .api(
            Method::POST,
            "/api/jobs/WebSlow/runs",
            Some(TOKEN),
            Some(serde_json::json!({ "params": { "delay_ms": 25 }, "shards": 2 })),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    let started: serde_json::Value = serde_json::from_str(&started.body).unwrap();
    let id = started["run"]["id"].as_str().unwrap().to_owned();
    assert_eq!(started["run"]["params"]["delay_ms"], "25");
    let second = app
        .api(
            Method::POST,
            "/api/jobs/WebSlow/runs",
            Some(TOKEN),
            Some(serde_json::json!({ "params": { "delay_ms": 0 } })),
        )
        .await;
    let second: serde_json::Value = serde_json::from_str(&second.body).unwrap();
    assert_eq!(second["already_active"], serde_json::json!([id]), "the second start is told about the first");

    let runs = app.api(Method::GET, "/api/runs?job=WebSlow", Some(TOKEN), None).await;
    let runs: serde_json::Value = serde_json::from_str(&runs.body).unwrap();
    assert!(runs["recent"].as_array().unwrap().iter().any(|r| r["id"] == id.as_str()));
    let detail = app.api(Method::GET, &format!("/api/runs/{id}"), Some(TOKEN), None).await;
    let detail: serde_json::Value = serde_json::from_str(&detail.body).unwrap();
    assert_eq!(detail["job"], "WebSlow");
    let not_yet = app.api(Method::GET, &format!("/api/runs/{id}/output"), Some(TOKEN), None).await;
    assert_eq!(not_yet.status, StatusCode::CONFLICT, "no output before it completes");

    let cancel = app.api(Method::POST, &format!("/api/runs/{id}/cancel"), Some(TOKEN), None).await;
    assert_eq!(cancel.status, StatusCode::OK);
    let cancel: serde_json::Value = serde_json::from_str(&cancel.body).unwrap();
    assert!(["canceled", "requested"].contains(&cancel["outcome"].as_str().unwrap()), "{cancel}");
    assert_eq!(app.finished(&id), Status::Canceled);
    let again = app.api(Method::POST, &format!("/api/runs/{id}/cancel"), Some(TOKEN), None).await;
    let again: serde_json::Value = serde_json::from_str(&again.body).unwrap();
    assert_eq!((again["outcome"].as_str(), again["status"].as_str()), (Some("already_finished"), Some("canceled")));
    let second_id = second["run"]["id"].as_str().unwrap();
    assert_eq!(app.finished(second_id), Status::Completed);
}

#[test]
fn a_non_loopback_address_needs_a_configured_token() {
    let log: Arc<dyn RunLog> = Arc::new(MemoryStore::new());
    let config = ServeConfig { bind: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)), ..ServeConfig::default() };
    let err = AdminServer::bind(Arc::clone(&log), config).unwrap_err();
    assert!(matches!(err, WebError::NonLoopbackWithoutToken { .. }), "{err}");
    assert!(err.to_string().contains("JOBS_ADMIN_TOKEN"), "{err}");
    assert!(matches!(AdminToken::new("short"), Err(WebError::WeakToken { chars: 5 })));

    let configured = ServeConfig {
        bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        token: Some(AdminToken::new(TOKEN).unwrap()),
        ..ServeConfig::default()
    };
    let server = AdminServer::bind(log, configured).unwrap();
    assert!(!server.token_was_generated());
    assert_eq!(
        server.login_url(),
        format!("http://{}/login", server.local_addr()),
        "a configured token is never printed"
    );
}

#[test]
fn a_real_server_on_loopback_serves_the_login_url_and_throttles_by_address() {
    let log: Arc<dyn RunLog> = Arc::new(MemoryStore::new());
    let config = ServeConfig {
        bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        throttle: throttle(),
        ..ServeConfig::default()
    };
    let server = AdminServer::bind(log, config).unwrap();
    let addr = server.local_addr();
    let url = server.login_url();
    let token = url.split("token=").nth(1).unwrap().to_owned();
    assert_eq!(token.len(), 64, "a generated token is 32 random bytes: {url}");
    assert!(url.starts_with(&format!("http://{addr}/login?token=")));
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    let serving = std::thread::spawn(move || {
        server.run_until(async move {
            while !stopped.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    });

    let form = raw_get(addr, &format!("/login?token={token}"), "");
    assert!(form.starts_with("HTTP/1.1 200"), "{form}");
    assert!(!form.to_ascii_lowercase().contains("set-cookie:"), "a GET opens no session: {form}");
    assert!(form.contains(&format!(r#"value="{token}""#)), "the login URL fills the token in: {form}");
    let login = raw_request(
        addr,
        "POST",
        "/login",
        "Content-Type: application/x-www-form-urlencoded\r\n",
        &format!("token={token}"),
    );
    assert!(login.starts_with("HTTP/1.1 303"), "{login}");
    let cookie_line = login.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).unwrap();
    let cookie = cookie_line.split_once(':').unwrap().1.trim().split(';').next().unwrap();
    assert!(cookie.starts_with(&format!("jobs_session_{}=", addr.port())), "named after the port: {cookie}");
    let page = raw_get(addr, "/runs", &format!("Cookie: {cookie}\r\n"));
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let bearer = raw_get(addr, "/api/runs", &format!("Authorization: Bearer {token}\r\n"));
    assert!(bearer.starts_with("HTTP/1.1 200"), "{bearer}");

    let mut slowest = Duration::ZERO;
    for _ in 0..4 {
        let started = Instant::now();
        let reply = raw_get(addr, "/api/runs", "Authorization: Bearer wrong\r\n");
        assert!(reply.starts_with("HTTP/1.1 401"), "{reply}");
        slowest = slowest.max(started.elapsed());
    }
    assert!(slowest >= Duration::from_millis(300), "the fourth failure from 127.0.0.1 waited: {slowest:?}");

    stop.store(true, Ordering::SeqCst);
    serving.join().unwrap().unwrap();
}

/// Serves `log` on a free loopback port with `config` until the returned flag is set.
fn serve_on_loopback(
    log: Arc<dyn RunLog>,
    config: ServeConfig,
) -> (SocketAddr, String, Arc<AtomicBool>, std::thread::JoinHandle<Result<(), WebError>>) {
    let server = AdminServer::bind(log, config).unwrap();
    let addr = server.local_addr();
    let url = server.login_url();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    let serving = std::thread::spawn(move || {
        server.run_until(async move {
            while !stopped.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    });
    (addr, url, stop, serving)
}

/// Whether the server closed `stream` within `within` (it reads end of file or a reset).
fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn a_flood_of_half_sent_requests_is_closed_and_a_valid_request_is_still_answered() {
    let log: Arc<dyn RunLog> = Arc::new(MemoryStore::new());
    let limits = ConnectionLimits {
        max_connections: 64,
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
    };
    let config =
        ServeConfig { bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), connections: limits, ..ServeConfig::default() };
    let (addr, _, stop, serving) = serve_on_loopback(log, config);

    // 500 connections that send a request line and one header, and never the blank line.
    let mut flood = Vec::new();
    for _ in 0..500 {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        flood.push(stream);
    }
    let login = raw_get(addr, "/login", "");
    assert!(login.starts_with("HTTP/1.1 200"), "a valid request during the flood: {login}");

    // Every half-sent request is closed by the server: the oldest to make room, the rest at
    // the header timeout (1 s; 20 s allowed for a loaded machine, below hyper's own 30 s default).
    for (i, stream) in flood.iter_mut().enumerate() {
        assert!(closed_by_server(stream, Duration::from_secs(20)), "half-sent connection {i} was kept open");
    }

    // A kept-alive connection is answered, then closed once idle past the idle timeout.
    let mut kept = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    write!(kept, "GET /login HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    kept.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = [0u8; 12];
    kept.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    assert!(closed_by_server(&mut kept, Duration::from_secs(20)), "an idle kept-alive connection was kept open");

    stop.store(true, Ordering::SeqCst);
    serving.join().unwrap().unwrap();
}

/// A GET over a plain socket: the whole response, head and body./// A request over a plain socket: the whole response, head and body.
fn raw_request(addr: SocketAddr, method: &str, path: &str, extra_headers: &str, body: &str) -> String {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n{extra_headers}\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// A GET over a plain socket: the whole response, head and body.
fn raw_get(addr: SocketAddr, path: &str, extra_headers: &str) -> String {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra_headers}\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[tokio::test]
async fn the_failure_limit_is_set_from_the_form_and_the_api_and_a_run_beyond_it_keeps_its_output() {
    let app = app_with(&["fine", "bad"]);
    let browser = app.login().await;
    let bad =
        app.post_form("/jobs/WebPicky/start", Some(&browser), Some(&browser.csrf), &[("max_failures", "some")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let field = &bad.body[bad.body.find(r#"id="job-WebPicky-max_failures""#).unwrap()..];
    let error = &field[..field.find("</div>").unwrap()];
    assert!(error.contains("`some` is not a failure limit: use a whole number, 0 or more"), "{error}");

    // No limit given: the job's, 0, so the one bad note fails the run; its output is kept.
    let id = started_run(&app.post_form("/jobs/WebPicky/start", Some(&browser), Some(&browser.csrf), &[]).await);
    assert_eq!(app.finished(&id), Status::Failed);
    let page = app.get(&format!("/runs/{id}"), Some(&browser)).await;
    assert!(page.body.contains("more than the 0 allowed (max_failures)"), "{}", page.body);
    assert!(page.body.contains("<li>fine</li>"), "the output of the rest is shown: {}", page.body);
    let download = app.get(&format!("/runs/{id}/output.txt"), Some(&browser)).await;
    assert_eq!((download.status, download.body.as_str()), (StatusCode::OK, "fine\n"));

    let allowed = app
        .api(Method::POST, "/api/jobs/WebPicky/runs", Some(TOKEN), Some(serde_json::json!({"max_failures": 1})))
        .await;
    assert_eq!(allowed.status, StatusCode::CREATED, "{}", allowed.body);
    let json: serde_json::Value = serde_json::from_str(&allowed.body).unwrap();
    let id = json["run"]["id"].as_str().unwrap();
    assert_eq!(app.finished(id), Status::Completed);
    assert_eq!(app.store.get_run(&RunId::parse(id).unwrap()).unwrap().max_failures, 1);
}
