//! Serving connections within limits: how many may be open at once, how long a client may
//! take to send a request's headers, and how long a connection may sit idle.
//!
//! A connection is *busy* from the moment a request's headers have been read until its
//! response has been sent in full (a long download is busy throughout); otherwise it is
//! *idle*: waiting for the first request's headers, or for the next request on a kept-alive
//! connection. An idle connection is closed once it has waited
//! [`header_timeout`](ConnectionLimits::header_timeout) for its first request, or
//! [`idle_timeout`](ConnectionLimits::idle_timeout) after its last response. When a new
//! connection arrives and [`max_connections`](ConnectionLimits::max_connections) are open, the
//! connection idle the longest is closed to make room; only when every open connection is busy
//! is the new one refused. So a flood of half-sent requests never keeps a valid request out:
//! it sends its headers at once, becomes busy, and is answered.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::{Notify, watch};
use tower_service::Service;

/// How many connections the admin page keeps open, and for how long idle ones may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections at most; at the limit, a new connection closes the one idle longest
    /// (or is refused when every one is busy).
    pub max_connections: usize,
    /// How long a new connection may take to send its first request's headers.
    pub header_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    /// 256 connections; 10 s for a request's headers; 60 s idle.
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// One open connection, as the accept loop and its own task see it.
#[derive(Debug)]
struct Connection {
    /// Requests whose headers were read and whose responses are not yet sent in full.
    busy: AtomicUsize,
    /// Whether a request has reached the router on it yet.
    served: AtomicBool,
    /// Since when it has been idle (accepted, or its last response sent).
    idle_since: Mutex<Instant>,
    /// Wakes its task to close it (to make room for a new connection).
    close: Notify,
}

impl Connection {
    fn new() -> Self {
        Connection {
            busy: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            idle_since: Mutex::new(Instant::now()),
            close: Notify::new(),
        }
    }

    fn idle_since(&self) -> Instant {
        *crate::sync::lock(&self.idle_since)
    }

    /// How long it has been idle, `None` while busy.
    fn idle_for(&self) -> Option<Duration> {
        (self.busy.load(Ordering::SeqCst) == 0).then(|| self.idle_since().elapsed())
    }
}

/// Marks a connection busy while it lives: from a request's headers to the end of its
/// response's body.
struct Busy(Arc<Connection>);

impl Busy {
    fn start(connection: &Arc<Connection>) -> Self {
        connection.busy.fetch_add(1, Ordering::SeqCst);
        connection.served.store(true, Ordering::SeqCst);
        Busy(Arc::clone(connection))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *crate::sync::lock(&self.0.idle_since) = Instant::now();
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its connection busy until it is sent (or dropped).
struct Guarded {
    body: Body,
    _busy: Busy,
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The open connections, by a number of their own.
#[derive(Debug, Default)]
struct Open {
    next: u64,
    connections: HashMap<u64, Arc<Connection>>,
}

impl Open {
    /// Makes room for a new connection (closing the one idle longest if `max` are open) and
    /// registers it; `None` when `max` are open and all of them are busy.
    fn admit(&mut self, max: usize) -> Option<(u64, Arc<Connection>)> {
        if self.connections.len() >= max.max(1) {
            let idlest = self
                .connections
                .iter()
                .filter(|(_, c)| c.busy.load(Ordering::SeqCst) == 0)
                .min_by_key(|(_, c)| c.idle_since())
                .map(|(id, _)| *id)?;
            if let Some(evicted) = self.connections.remove(&idlest) {
                evicted.close.notify_one();
            }
        }
        let id = self.next;
        self.next += 1;
        let connection = Arc::new(Connection::new());
        self.connections.insert(id, Arc::clone(&connection));
        Some((id, connection))
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes; then stops
/// accepting, closes idle connections, lets busy ones finish their responses, and returns.
///
/// # Errors
/// None yet: a failed `accept` (out of descriptors, say) is logged and retried.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let open = Arc::new(Mutex::new(Open::default()));
    let (stop, stopping) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        while tasks.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors, or a connection reset before it was accepted: keep
                // serving the connections already open.
                tracing::warn!(%error, "admin page could not accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let admitted = crate::sync::lock(&open).admit(limits.max_connections);
        let Some((id, connection)) = admitted else {
            tracing::warn!(%peer, max = limits.max_connections, "admin page refused a connection: all are busy");
            continue;
        };
        let task = serve_connection(stream, peer, router.clone(), Arc::clone(&connection), limits, stopping.clone());
        let open = Arc::clone(&open);
        tasks.spawn(async move {
            task.await;
            crate::sync::lock(&open).connections.remove(&id);
        });
    }
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Serves one connection until the client closes it, it is evicted, it has been idle too long,
/// or the server stops (after its response in progress, if any).
async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    connection: Arc<Connection>,
    limits: ConnectionLimits,
    mut stopping: watch::Receiver<bool>,
) {
    let for_requests = Arc::clone(&connection);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let busy = Busy::start(&for_requests);
        let mut router = router.clone();
        async move {
            let response = router.call(request).await?;
            Ok::<_, Infallible>(response.map(|body| Guarded { body, _busy: busy }))
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.keep_alive(true);
    let mut served = pin!(http.serve_connection(TokioIo::new(stream), service));
    let check_every = (limits.header_timeout.min(limits.idle_timeout) / 4).max(Duration::from_millis(10));
    let mut watchdog = tokio::time::interval(check_every);
    let mut graceful = false;
    loop {
        tokio::select! {
            result = served.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "admin page connection ended with an error");
                }
                break;
            }
            () = connection.close.notified() => {
                tracing::debug!(%peer, "admin page connection closed to make room for a new one");
                break;
            }
            _ = stopping.changed(), if !graceful => {
                graceful = true;
                served.as_mut().graceful_shutdown();
            }
            _ = watchdog.tick() => {
                let limit =
                    if connection.served.load(Ordering::SeqCst) { limits.idle_timeout } else { limits.header_timeout };
                if connection.idle_for().is_some_and(|idle| idle >= limit) {
                    tracing::debug!(%peer, "admin page connection closed: idle too long");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_limit_the_connection_idle_longest_makes_room_and_busy_ones_never_do() {
        let mut open = Open::default();
        let (first, oldest) = open.admit(2).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let (_, busy) = open.admit(2).unwrap();
        let guard = Busy::start(&busy);
        let (third, _) = open.admit(2).unwrap();
        assert!(!open.connections.contains_key(&first), "the idle one made room");
        assert!(open.connections.contains_key(&third));
        assert_eq!(open.connections.len(), 2);
        drop(oldest);
        let _third_busy = Busy::start(&open.connections[&third].clone());
        assert!(open.admit(2).is_none(), "every connection is busy: the new one is refused");
        drop(guard);
        assert!(open.admit(2).is_some(), "a finished response makes its connection idle again");
    }
}
