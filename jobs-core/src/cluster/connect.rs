//! Connecting a cluster session, with a deadline: timely's own set-up retries forever and
//! prints to standard output, so the sockets are made here and handed to timely.
//!
//! Process `p` listens on its address, opens a control connection to process 0 (which
//! answers with the session: attempt, plan, queue time), opens a data connection to every
//! process before it, and accepts data connections from every process after it. Every
//! connection starts with a hello that carries the run's settings, so processes started with
//! different jobs, parameters, shard counts, host files or stores refuse each other by name
//! instead of computing nonsense. The order (connect down, then accept up) cannot deadlock: process `p`
//! only waits on processes before it, which never wait on it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::exec::CancelToken;

use super::ClusterError;
use super::wire::PlannedTask;

/// Bumped whenever the handshake or the wire format changes.
const PROTOCOL_VERSION: u32 = 2;
/// Handshake frames larger than this are refused (a plan is a few KB).
const MAX_FRAME: u32 = 64 << 20;
/// How long one handshake read or write may take.
const HANDSHAKE_IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between connection attempts, and between polls of the listener.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// The settings every process of a session must share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Settings {
    pub(super) job: String,
    /// The parameters, as JSON, so equal parameters compare equal.
    pub(super) params: String,
    pub(super) shards: usize,
    pub(super) dry_run: bool,
    pub(super) workers: usize,
    pub(super) hosts: Vec<String>,
    /// The store this process opened.
    pub(super) store: StoreIdentity,
}

/// Which store a process opened: its id ([`Store::store_id`](crate::Store::store_id)), and its
/// location for messages. Two processes opened the same store when their ids are equal,
/// whatever their locations say: machines may name one server or file differently.
#[derive(Debug, Clone, Eq, Serialize, Deserialize)]
pub(super) struct StoreIdentity {
    pub(super) id: String,
    pub(super) location: String,
}

impl PartialEq for StoreIdentity {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

/// What process 0 decides for a session and sends every other process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SessionPlan {
    /// Which attempt of the run this is, from 1.
    pub(super) attempt: u32,
    /// When the run was queued: `MapContext::queued_at_ms` must agree across processes.
    pub(super) queued_at_ms: i64,
    /// The map tasks, split once by process 0 so every process maps the same ranges.
    pub(super) tasks: Vec<PlannedTask>,
}

#[derive(Debug, Serialize, Deserialize)]
enum Purpose {
    Data,
    Control,
}

#[derive(Debug, Serialize, Deserialize)]
struct Hello {
    protocol: u32,
    process: usize,
    purpose: Purpose,
    settings: Settings,
}

/// The answer to a hello: the plan for a control connection, nothing for a data one, or why
/// the hello was refused.
#[derive(Debug, Serialize, Deserialize)]
enum Answer {
    Welcome(Option<SessionPlan>),
    Refused(String),
}

/// A connected session.
pub(super) struct Connected {
    /// Data connections by process (`None` at this process), for timely.
    pub(super) data: Vec<Option<TcpStream>>,
    /// Control connections: to every other process at process 0, to process 0 elsewhere.
    pub(super) control: Vec<(usize, TcpStream)>,
    /// The session's plan, as process 0 decided it.
    pub(super) plan: SessionPlan,
}

/// Connects process `me` of `settings.hosts` to the others within `timeout`. Process 0 passes
/// the plan; the others receive it.
pub(super) fn connect(
    me: usize,
    settings: &Settings,
    plan: Option<SessionPlan>,
    timeout: Duration,
    cancel: &CancelToken,
) -> Result<Connected, ClusterError> {
    let deadline = Deadline { at: Instant::now() + timeout, cancel };
    let processes = settings.hosts.len();
    let listen_on = &settings.hosts[me];
    let listener = bind(listen_on)?;
    let mut data: Vec<Option<TcpStream>> = (0..processes).map(|_| None).collect();
    let mut control = Vec::new();
    let mut plan = plan;
    if me > 0 {
        let mut stream = dial(&settings.hosts[0], 0, deadline)?;
        match greet(&mut stream, me, Purpose::Control, settings, 0)? {
            Some(received) => plan = Some(received),
            None => return Err(ClusterError::Protocol("process 0 sent no plan".to_owned())),
        }
        control.push((0, stream));
        for (peer, host) in settings.hosts.iter().enumerate().take(me) {
            let mut stream = dial(host, peer, deadline)?;
            greet(&mut stream, me, Purpose::Data, settings, peer)?;
            data[peer] = Some(stream);
        }
    }
    let Some(plan) = plan else {
        return Err(ClusterError::Protocol("process 0 has no plan".to_owned()));
    };
    // Process 0 takes a control and a data connection from everyone; the others take data
    // connections from the processes after them.
    let mut awaited_control: Vec<usize> = if me == 0 { (1..processes).collect() } else { Vec::new() };
    let mut awaited_data: Vec<usize> = (me + 1..processes).collect();
    while !awaited_control.is_empty() || !awaited_data.is_empty() {
        let (mut stream, address) = accept(&listener, deadline, me, &awaited_control, &awaited_data, settings)?;
        let hello: Hello = match read_frame(&mut stream) {
            Ok(hello) => hello,
            Err(error) => {
                tracing::warn!(%address, %error, "ignored a connection that did not say hello");
                continue;
            }
        };
        let awaited = match hello.purpose {
            Purpose::Control => &mut awaited_control,
            Purpose::Data => &mut awaited_data,
        };
        let refusal = if hello.protocol != PROTOCOL_VERSION {
            Some(format!(
                "process {} speaks cluster protocol {}, this one {PROTOCOL_VERSION}: run the same jobs binary everywhere",
                hello.process, hello.protocol
            ))
        } else if hello.settings != *settings {
            Some(mismatch(me, settings, hello.process, &hello.settings))
        } else if !awaited.contains(&hello.process) {
            // A second process claiming an index already connected (or out of range): refuse
            // it alone and keep waiting for the real one.
            let reason = format!(
                "process {me} already has (or expects no) {:?} connection from process {}: is it started twice?",
                hello.purpose, hello.process
            );
            tracing::warn!(%address, %reason, "refused a connection");
            let _ = write_frame(&mut stream, &Answer::Refused(reason));
            continue;
        } else {
            None
        };
        if let Some(reason) = refusal {
            // Tell the other side why, then stop: the processes were not started alike.
            let _ = write_frame(&mut stream, &Answer::Refused(reason.clone()));
            return Err(ClusterError::Mismatch(reason));
        }
        awaited.retain(|&p| p != hello.process);
        match hello.purpose {
            Purpose::Control => {
                write_frame(&mut stream, &Answer::Welcome(Some(plan.clone())))
                    .map_err(|e| io_lost(hello.process, &settings.hosts, e))?;
                control.push((hello.process, stream));
            }
            Purpose::Data => {
                write_frame(&mut stream, &Answer::Welcome(None))
                    .map_err(|e| io_lost(hello.process, &settings.hosts, e))?;
                data[hello.process] = Some(stream);
            }
        }
    }
    for stream in data.iter().flatten() {
        stream.set_read_timeout(None).map_err(|e| ClusterError::Io(e.to_string()))?;
        stream.set_write_timeout(None).map_err(|e| ClusterError::Io(e.to_string()))?;
        stream.set_nodelay(true).map_err(|e| ClusterError::Io(e.to_string()))?;
    }
    Ok(Connected { data, control, plan })
}

fn bind(address: &str) -> Result<TcpListener, ClusterError> {
    let listener = TcpListener::bind(address).map_err(|e| {
        ClusterError::Io(format!("cannot listen on {address} (this process's line of the host file): {e}"))
    })?;
    listener.set_nonblocking(true).map_err(|e| ClusterError::Io(e.to_string()))?;
    Ok(listener)
}

/// When to give up connecting: at the connect timeout, or as soon as the run is canceled.
#[derive(Clone, Copy)]
struct Deadline<'a> {
    at: Instant,
    cancel: &'a CancelToken,
}

impl Deadline<'_> {
    /// Time left, or the error to stop with.
    fn remaining(&self) -> Result<Duration, ClusterError> {
        if self.cancel.is_canceled() {
            return Err(ClusterError::Canceled);
        }
        Ok(self.at.saturating_duration_since(Instant::now()))
    }
}

/// Connects to process `peer` at `host`, retrying until `deadline`.
fn dial(host: &str, peer: usize, deadline: Deadline<'_>) -> Result<TcpStream, ClusterError> {
    let mut last_error = String::from("no attempt was made");
    loop {
        let remaining = deadline.remaining()?;
        if remaining.is_zero() {
            return Err(ClusterError::ConnectTimeout(format!(
                "could not connect to process {peer} at {host} in time: {last_error}"
            )));
        }
        match resolve(host) {
            Ok(address) => match TcpStream::connect_timeout(&address, remaining.min(Duration::from_secs(2))) {
                Ok(stream) => {
                    stream.set_read_timeout(Some(HANDSHAKE_IO_TIMEOUT)).map_err(|e| ClusterError::Io(e.to_string()))?;
                    stream
                        .set_write_timeout(Some(HANDSHAKE_IO_TIMEOUT))
                        .map_err(|e| ClusterError::Io(e.to_string()))?;
                    return Ok(stream);
                }
                Err(error) => last_error = error.to_string(),
            },
            Err(error) => last_error = error,
        }
        std::thread::sleep(RETRY_PAUSE);
    }
}

fn resolve(host: &str) -> Result<SocketAddr, String> {
    host.to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} resolves to no address"))
}

/// Sends our hello on a connection we opened and reads the answer.
fn greet(
    stream: &mut TcpStream,
    me: usize,
    purpose: Purpose,
    settings: &Settings,
    peer: usize,
) -> Result<Option<SessionPlan>, ClusterError> {
    let hello = Hello { protocol: PROTOCOL_VERSION, process: me, purpose, settings: settings.clone() };
    write_frame(stream, &hello).map_err(|e| io_lost(peer, &settings.hosts, e))?;
    match read_frame::<Answer>(stream).map_err(|e| io_lost(peer, &settings.hosts, e))? {
        Answer::Welcome(plan) => Ok(plan),
        Answer::Refused(reason) => Err(ClusterError::Mismatch(reason)),
    }
}

fn accept(
    listener: &TcpListener,
    deadline: Deadline<'_>,
    me: usize,
    control: &[usize],
    data: &[usize],
    settings: &Settings,
) -> Result<(TcpStream, SocketAddr), ClusterError> {
    loop {
        match listener.accept() {
            Ok((stream, address)) => {
                let setup = stream
                    .set_nonblocking(false)
                    .and_then(|()| stream.set_read_timeout(Some(HANDSHAKE_IO_TIMEOUT)))
                    .and_then(|()| stream.set_write_timeout(Some(HANDSHAKE_IO_TIMEOUT)));
                setup.map_err(|e| ClusterError::Io(e.to_string()))?;
                return Ok((stream, address));
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(ClusterError::Io(format!("accepting on {}: {error}", settings.hosts[me]))),
        }
        if deadline.remaining()?.is_zero() {
            let mut missing: Vec<usize> = control.iter().chain(data).copied().collect();
            missing.sort_unstable();
            missing.dedup();
            let names: Vec<String> = missing.iter().map(|p| format!("{p} ({})", settings.hosts[*p])).collect();
            return Err(ClusterError::ConnectTimeout(format!(
                "process {me} waited in vain for process {} to connect",
                names.join(", ")
            )));
        }
        std::thread::sleep(RETRY_PAUSE);
    }
}

/// Names the first setting on which two processes differ.
fn mismatch(me: usize, ours: &Settings, them: usize, theirs: &Settings) -> String {
    let what = if ours.job != theirs.job {
        format!("job {} against {}", theirs.job, ours.job)
    } else if ours.params != theirs.params {
        format!("parameters {} against {}", theirs.params, ours.params)
    } else if ours.shards != theirs.shards {
        format!("{} shards against {}", theirs.shards, ours.shards)
    } else if ours.dry_run != theirs.dry_run {
        format!("dry run {} against {}", theirs.dry_run, ours.dry_run)
    } else if ours.workers != theirs.workers {
        format!("{} workers against {}", theirs.workers, ours.workers)
    } else if ours.hosts != theirs.hosts {
        format!("host list {:?} against {:?}", theirs.hosts, ours.hosts)
    } else {
        return format!(
            "process {them} opened another store than process {me}: {} (store id {}) against {} (store id {}); \
             every process must open the same store (--store)",
            theirs.store.location, theirs.store.id, ours.store.location, ours.store.id
        );
    };
    format!(
        "process {them} was started differently from process {me}: {what}; start every process with the same job, \
         --param, --shards, --dry-run, --workers and host file"
    )
}

fn io_lost(peer: usize, hosts: &[String], error: std::io::Error) -> ClusterError {
    ClusterError::Lost(format!("lost process {peer} ({}) while connecting: {error}", hosts[peer]))
}

/// Writes one frame: a big-endian `u32` length, then JSON.
pub(super) fn write_frame<T: Serialize>(stream: &mut TcpStream, value: &T) -> std::io::Result<()> {
    let body = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    let len = u32::try_from(body.len()).map_err(|_| std::io::Error::other("frame too large"))?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&body);
    stream.write_all(&frame)
}

/// Reads one frame written by [`write_frame`], exactly (nothing after it is consumed).
pub(super) fn read_frame<T: for<'de> Deserialize<'de>>(stream: &mut TcpStream) -> std::io::Result<T> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len);
    if len > MAX_FRAME {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("a frame of {len} bytes")));
    }
    let mut body = vec![0u8; len as usize];
    stream.read_exact(&mut body)?;
    serde_json::from_slice(&body).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}
