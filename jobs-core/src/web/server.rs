//! Binding the admin page to an address and serving it.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::sync::Arc;

use axum::Router;

use crate::runs::RunLog;

use super::auth::{AdminToken, Auth};
use super::connections::{self, ConnectionLimits};
use super::error::WebError;
use super::routes;
use super::runner::Runner;
use super::state::AppState;
use super::throttle::ThrottleConfig;

/// Where the admin page listens unless told otherwise: `127.0.0.1:8080`.
pub const DEFAULT_BIND: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));

/// How to serve the admin page.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The address to listen on; port 0 picks a free port. A non-loopback address needs a
    /// configured `token`.
    pub bind: SocketAddr,
    /// The admin token; a random one is generated (and shown in
    /// [`AdminServer::login_url`]) when `None`.
    pub token: Option<AdminToken>,
    /// How repeated token failures are slowed down.
    pub throttle: ThrottleConfig,
    /// How many connections are kept open, and how long idle ones may wait.
    pub connections: ConnectionLimits,
    /// How many runs started from the page (or the API) are carried out at once; the others
    /// wait `queued` and start in order as these finish. At least 1.
    pub max_running: usize,
}

impl Default for ServeConfig {
    /// `127.0.0.1:8080`, a generated token, the default throttle and connection limits, as many
    /// runs at once as there are cores.
    fn default() -> Self {
        ServeConfig {
            bind: DEFAULT_BIND,
            token: None,
            throttle: ThrottleConfig::default(),
            connections: ConnectionLimits::default(),
            max_running: crate::exec::default_threads(),
        }
    }
}

/// The admin page over `log`, as a router: for embedding in another axum application, and for
/// tests (which drive it with `tower::ServiceExt::oneshot`). Its session cookie is called
/// `jobs_session`. Serve it with `into_make_service_with_connect_info::<SocketAddr>()` so that
/// token failures are throttled per client address.
pub fn router(log: Arc<dyn RunLog>, token: AdminToken, throttle: ThrottleConfig) -> Router {
    build(log, token, throttle, crate::exec::default_threads(), "jobs_session".to_owned())
}

/// As [`router`], with the throttle and [`max_running`](ServeConfig::max_running) of `config`
/// (its address and connection limits are the serving application's business).
pub fn router_with(log: Arc<dyn RunLog>, token: AdminToken, config: &ServeConfig) -> Router {
    build(log, token, config.throttle, config.max_running, "jobs_session".to_owned())
}

fn build(
    log: Arc<dyn RunLog>,
    token: AdminToken,
    throttle: ThrottleConfig,
    max_running: usize,
    cookie_name: String,
) -> Router {
    // Runs whose process died are recorded `interrupted` here, at start-up, and before each
    // write (a start, a cancel); never by a GET.
    if let Err(error) = log.recover_interrupted() {
        tracing::warn!(%error, "could not record the runs interrupted before the admin page started");
    }
    let state = AppState {
        store: log.location(),
        runner: Runner::new(Arc::clone(&log), max_running),
        auth: Arc::new(Auth::new(token, throttle, cookie_name)),
        log,
    };
    routes::router(Arc::new(state))
}

/// The admin page, bound to its address and ready to serve.
#[derive(Debug)]
pub struct AdminServer {
    listener: TcpListener,
    addr: SocketAddr,
    router: Router,
    token: AdminToken,
    generated: bool,
    limits: ConnectionLimits,
}

impl AdminServer {
    /// Checks `config` and binds its address.
    ///
    /// # Errors
    /// The address is not loopback and no token is configured, the token cannot be generated,
    /// or the address cannot be bound.
    pub fn bind(log: Arc<dyn RunLog>, config: ServeConfig) -> Result<Self, WebError> {
        if !config.bind.ip().is_loopback() && config.token.is_none() {
            return Err(WebError::NonLoopbackWithoutToken { addr: config.bind });
        }
        let (token, generated) = match config.token {
            Some(token) => (token, false),
            None => (AdminToken::generate()?, true),
        };
        let listener = TcpListener::bind(config.bind).map_err(|source| WebError::Bind { addr: config.bind, source })?;
        let addr = listener.local_addr().map_err(WebError::Serve)?;
        listener.set_nonblocking(true).map_err(WebError::Serve)?;
        // Cookies are per host, not per port: name it after the port, so that two servers on
        // one machine keep their sessions apart.
        let cookie_name = format!("jobs_session_{}", addr.port());
        let router = build(log, token.clone(), config.throttle, config.max_running, cookie_name);
        Ok(AdminServer { listener, addr, router, token, generated, limits: config.connections })
    }

    /// The address it listens on (with the actual port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to open: `http://ADDR/login?token=...` when the token was generated (it is
    /// shown nowhere else), `http://ADDR/login` when it was configured. An unspecified address
    /// (`0.0.0.0`) is shown as `127.0.0.1`.
    pub fn login_url(&self) -> String {
        let mut shown = self.addr;
        if shown.ip().is_unspecified() {
            shown.set_ip(Ipv4Addr::LOCALHOST.into());
        }
        if self.generated {
            format!("http://{shown}/login?token={}", self.token.expose())
        } else {
            format!("http://{shown}/login")
        }
    }

    /// Whether the token was generated (rather than configured).
    pub fn token_was_generated(&self) -> bool {
        self.generated
    }

    /// Serves until the process ends. Runs still going then are recorded `interrupted` by the
    /// next process that opens the store.
    ///
    /// # Errors
    /// The runtime could not start, or the server failed.
    pub fn run(self) -> Result<(), WebError> {
        self.run_until(std::future::pending())
    }

    /// Serves until `shutdown` completes, then finishes the requests in progress and returns.
    /// Runs started from the page go on in their threads.
    ///
    /// # Errors
    /// The runtime could not start, or the server failed.
    pub fn run_until<F>(self, shutdown: F) -> Result<(), WebError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .thread_name("jobs-web")
            .build()
            .map_err(WebError::Serve)?;
        let AdminServer { listener, addr, router, limits, .. } = self;
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).map_err(WebError::Serve)?;
            tracing::info!(%addr, "admin page listening");
            connections::serve(listener, router, limits, shutdown).await.map_err(WebError::Serve)
        })
    }
}
