//! Connecting a cluster session, with a deadline: timely's own set-up retries forever and
//! prints to standard output, so the sockets are made here and handed to timely.
//!
//! Process `p` listens on its address, opens a control connection to process 0 (which
//! answers with the session: attempt, plan, queue time), opens a data connection to every
//! process before it, and accepts data connections from every process after it.
//!
//! Every connection starts with a handshake in which both sides prove the cluster secret
//! without sending it (see `secret.rs`): greeting (process, nonce) → challenge (nonce, proof)
//! → hello (proof, settings) → answer. A connection that fails a proof, or sends junk, is
//! dropped and reported, and the wait goes on until the connect timeout; frames before the
//! proofs are a few KB at most. Only once both sides are proven does the hello carry the run's
//! settings, so processes started with different jobs, parameters, shard counts, host files or
//! stores refuse each other by name instead of computing nonsense. The order (connect down,
//! then accept up) cannot deadlock: process `p` only waits on processes before it, which never
//! wait on it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::exec::CancelToken;

use super::ClusterError;
use super::secret::{ClusterSecret, NONCE_LEN, SECRET_ENV, Side, Transcript, nonce, prove, verify};
use super::wire::PlannedTask;

/// Bumped whenever the handshake or the wire format changes.
const PROTOCOL_VERSION: u32 = 3;
/// Frames from an authenticated process larger than this are refused (a plan is a few KB).
const MAX_FRAME: u32 = 64 << 20;
/// A greeting or a challenge, before anyone has proved anything, is at most this long.
const MAX_GREETING: u32 = 4 << 10;
/// A hello (the settings, sent with the proof) is at most this long.
const MAX_HELLO: u32 = 1 << 20;
/// The first allocation for a frame's body; it grows as the bytes arrive.
const READ_CHUNK: usize = 64 << 10;
/// How long one handshake read or write may take on a connection this process opened.
const HANDSHAKE_IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection this process accepted may take per read or write: less than
/// [`HANDSHAKE_IO_TIMEOUT`], so a silent stranger holds the listener up for less time than
/// a real process waits for its challenge.
const STRANGER_IO_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause before dialing again a process that failed a proof.
const UNPROVEN_PAUSE: Duration = Duration::from_millis(500);
/// Pause before dialing again after a handshake was cut short.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// Pause between dials of a process that is not listening yet (a refused connection costs
/// little), and between polls of the listener: every process waits for the slowest to start,
/// so these pauses add to every run's time.
const DIAL_PAUSE: Duration = Duration::from_millis(10);
const ACCEPT_PAUSE: Duration = Duration::from_millis(2);

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Purpose {
    Data,
    Control,
}

impl Purpose {
    fn byte(self) -> u8 {
        match self {
            Purpose::Data => 0,
            Purpose::Control => 1,
        }
    }
}

/// The first frame on a connection, from the process that opened it: who it claims to be,
/// and its nonce. Nothing about the run is said before both sides have proved the secret.
#[derive(Debug, Serialize, Deserialize)]
struct Greeting {
    protocol: u32,
    process: usize,
    purpose: Purpose,
    nonce: [u8; NONCE_LEN],
    /// Whether it has a secret (only to word a refusal: a proof is what counts).
    secret: bool,
}

/// The accepting process's answer to a greeting: its nonce and its proof of the secret, or
/// why it will not go on.
#[derive(Debug, Serialize, Deserialize)]
enum Challenge {
    Prove { process: usize, nonce: [u8; NONCE_LEN], proof: [u8; NONCE_LEN], secret: bool },
    Refused(String),
}

/// The opening process's second frame: its proof and the run's settings, or why it refuses
/// the accepting process's proof.
#[derive(Debug, Serialize, Deserialize)]
enum Hello {
    Proven { proof: [u8; NONCE_LEN], settings: Settings },
    Unproven(String),
}

/// The answer to a hello: the plan for a control connection, nothing for a data one, or why
/// the hello was refused: a failed proof (`Unproven`: the run goes on waiting for the right
/// process) or other settings (`Refused`: the processes were not started alike).
#[derive(Debug, Serialize, Deserialize)]
enum Answer {
    Welcome(Option<SessionPlan>),
    Refused(String),
    Unproven(String),
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

/// Connects process `me` of `settings.hosts` to the others within `timeout`, each connection
/// authenticated by `secret` (see [`secret`](super::secret)). Process 0 passes the plan; the
/// others receive it.
pub(super) fn connect(
    me: usize,
    settings: &Settings,
    secret: Option<&ClusterSecret>,
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
    let me_too = Me { me, settings, secret };
    if me > 0 {
        let (stream, received) = join(&me_too, Purpose::Control, 0, deadline)?;
        match received {
            Some(received) => plan = Some(received),
            None => return Err(ClusterError::Protocol("process 0 sent no plan".to_owned())),
        }
        control.push((0, stream));
        for (peer, slot) in data.iter_mut().enumerate().take(me) {
            let (stream, _) = join(&me_too, Purpose::Data, peer, deadline)?;
            *slot = Some(stream);
        }
    }
    let Some(plan) = plan else {
        return Err(ClusterError::Protocol("process 0 has no plan".to_owned()));
    };
    // Process 0 takes a control and a data connection from everyone; the others take data
    // connections from the processes after them.
    let mut awaited = Awaited {
        control: if me == 0 { (1..processes).collect() } else { Vec::new() },
        data: (me + 1..processes).collect(),
        warned: Vec::new(),
    };
    while !awaited.control.is_empty() || !awaited.data.is_empty() {
        let (mut stream, address) = accept(&listener, deadline, me, &awaited, settings)?;
        if let Some((purpose, process)) = admit(&mut stream, &address.to_string(), &me_too, &plan, &mut awaited)? {
            match purpose {
                Purpose::Control => {
                    stream
                        .set_write_timeout(Some(HANDSHAKE_IO_TIMEOUT))
                        .map_err(|e| ClusterError::Io(e.to_string()))?;
                    control.push((process, stream));
                }
                Purpose::Data => data[process] = Some(stream),
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

/// This process, as the handshake needs it.
struct Me<'a> {
    me: usize,
    settings: &'a Settings,
    secret: Option<&'a ClusterSecret>,
}

/// The connections a process still waits for, and the refusals it already reported.
pub(super) struct Awaited {
    control: Vec<usize>,
    data: Vec<usize>,
    /// Processes whose failed proof was reported (once each, not at every retry).
    warned: Vec<usize>,
}

impl Awaited {
    fn of(&mut self, purpose: Purpose) -> &mut Vec<usize> {
        match purpose {
            Purpose::Control => &mut self.control,
            Purpose::Data => &mut self.data,
        }
    }
}

/// Takes one accepted connection through the handshake. `Ok(Some)` when it is an awaited
/// process that proved the secret and was welcomed; `Ok(None)` when it was dropped (junk, a
/// stranger, a wrong secret, a duplicate: reported, and the wait goes on); an error when an
/// authenticated process was started differently, or the welcome could not be sent.
///
/// Generic over the stream so that its decoding can be fuzzed without sockets.
fn admit<S: Read + Write>(
    stream: &mut S,
    address: &str,
    me: &Me<'_>,
    plan: &SessionPlan,
    awaited: &mut Awaited,
) -> Result<Option<(Purpose, usize)>, ClusterError> {
    let settings = me.settings;
    let greeting: Greeting = match read_frame_within(stream, MAX_GREETING) {
        Ok(greeting) => greeting,
        Err(error) => {
            tracing::warn!(%address, %error, "ignored a connection that did not greet as a cluster process");
            return Ok(None);
        }
    };
    let refuse = |stream: &mut S, reason: String| {
        tracing::warn!(%address, %reason, "refused a connection");
        let _ = write_frame(stream, &Challenge::Refused(reason));
        Ok(None)
    };
    if greeting.protocol != PROTOCOL_VERSION {
        return refuse(
            stream,
            format!(
                "process {} at {address} speaks cluster protocol {}, process {} protocol {PROTOCOL_VERSION}: run the \
                 same jobs binary everywhere",
                greeting.process, greeting.protocol, me.me
            ),
        );
    }
    let claimed = greeting.process;
    if claimed >= settings.hosts.len() || claimed == me.me {
        return refuse(
            stream,
            format!("a connection from {address} claims to be process {claimed}, which is not another process here"),
        );
    }
    let ours = match nonce() {
        Ok(nonce) => nonce,
        Err(error) => return Err(ClusterError::Io(error)),
    };
    let transcript = Transcript {
        dialer_nonce: &greeting.nonce,
        acceptor_nonce: &ours,
        dialer: claimed as u64,
        acceptor: me.me as u64,
        purpose: greeting.purpose.byte(),
    };
    let proof = prove(me.secret, Side::Acceptor, &transcript);
    let challenge = Challenge::Prove { process: me.me, nonce: ours, proof, secret: me.secret.is_some() };
    if let Err(error) = write_frame(stream, &challenge) {
        tracing::warn!(%address, %error, "dropped a connection that left during the handshake");
        return Ok(None);
    }
    let who = format!("process {claimed} ({address})");
    let hello: Hello = match read_frame_within(stream, MAX_HELLO) {
        Ok(hello) => hello,
        Err(error) => {
            tracing::warn!(%address, %error, "ignored a connection that did not prove the cluster secret");
            return Ok(None);
        }
    };
    let (their_proof, their_settings) = match hello {
        Hello::Proven { proof, settings } => (proof, settings),
        Hello::Unproven(reason) => {
            warn_once(awaited, claimed, || {
                tracing::warn!(
                    process = me.me,
                    "{who} refused this process: {reason}; still waiting for the process with this cluster secret"
                );
            });
            return Ok(None);
        }
    };
    if !verify(me.secret, Side::Dialer, &transcript, &their_proof) {
        let reason = unproven(claimed, &who, greeting.secret, me.secret.is_some(), me.me);
        warn_once(awaited, claimed, || {
            tracing::warn!(process = me.me, "refused {who}: {reason}; still waiting for the right process");
        });
        let _ = write_frame(stream, &Answer::Unproven(reason));
        return Ok(None);
    }
    // Authenticated from here on: a difference in settings is the operator's mistake, and
    // stops the run with its name.
    if their_settings != *settings {
        let reason = mismatch(me.me, settings, claimed, &their_settings);
        let _ = write_frame(stream, &Answer::Refused(reason.clone()));
        return Err(ClusterError::Mismatch(reason));
    }
    let purpose = greeting.purpose;
    let waiting = awaited.of(purpose);
    if !waiting.contains(&claimed) {
        // A second process claiming an index already connected (or out of range): refuse it
        // alone and keep waiting for the real one.
        let reason = format!(
            "process {} already has (or expects no) {purpose:?} connection from process {claimed}: is it started twice?",
            me.me
        );
        tracing::warn!(%address, %reason, "refused a connection");
        let _ = write_frame(stream, &Answer::Refused(reason));
        return Ok(None);
    }
    waiting.retain(|&p| p != claimed);
    let welcome = match purpose {
        Purpose::Control => Answer::Welcome(Some(plan.clone())),
        Purpose::Data => Answer::Welcome(None),
    };
    write_frame(stream, &welcome).map_err(|e| io_lost(claimed, &settings.hosts, e))?;
    Ok(Some((purpose, claimed)))
}

/// Runs `report` the first time `process` fails its proof.
fn warn_once(awaited: &mut Awaited, process: usize, report: impl FnOnce()) {
    if !awaited.warned.contains(&process) {
        awaited.warned.push(process);
        report();
    }
}

/// Why a proof failed, as told to both sides.
fn unproven(them: usize, who: &str, they_have: bool, we_have: bool, me: usize) -> String {
    match (they_have, we_have) {
        (true, true) => format!("{who} has another cluster secret than process {me}"),
        (false, true) => format!("{who} has no cluster secret, process {me} has one (set {SECRET_ENV})"),
        (true, false) => format!("{who} has a cluster secret, process {me} has none (set {SECRET_ENV})"),
        (false, false) => format!("process {them} failed the handshake with process {me}"),
    }
}

/// How the handshake of a connection this process opened ended, short of success.
enum Joined {
    /// The other side failed or refused a proof: try again until the deadline.
    Unproven(String),
    /// The connection closed before the challenge (a process restarting, a proxy whose
    /// target is not up yet): try again until the deadline.
    Early(String),
    /// Anything else: stop.
    Failed(ClusterError),
}

/// Opens a `purpose` connection to process `peer` and goes through the handshake, retrying
/// while the process listening there does not prove the secret (or refuses ours), until the
/// deadline.
fn join(
    me: &Me<'_>,
    purpose: Purpose,
    peer: usize,
    deadline: Deadline<'_>,
) -> Result<(TcpStream, Option<SessionPlan>), ClusterError> {
    let host = &me.settings.hosts[peer];
    let mut warned = false;
    loop {
        let mut stream = dial(host, peer, deadline)?;
        match handshake(&mut stream, me, purpose, peer) {
            Ok(plan) => return Ok((stream, plan)),
            Err(Joined::Failed(error)) => return Err(error),
            Err(Joined::Early(reason)) => {
                tracing::debug!(process = me.me, peer, %reason, "the handshake was cut short; dialing again");
                drop(stream);
                if deadline.remaining()? <= RETRY_PAUSE {
                    return Err(ClusterError::ConnectTimeout(format!(
                        "could not connect to process {peer} at {host} in time: {reason}"
                    )));
                }
                std::thread::sleep(RETRY_PAUSE);
            }
            Err(Joined::Unproven(reason)) => {
                if !warned {
                    warned = true;
                    tracing::warn!(process = me.me, "{reason}; still waiting for the right process {peer} at {host}");
                }
                drop(stream);
                let remaining = deadline.remaining()?;
                if remaining <= UNPROVEN_PAUSE {
                    return Err(ClusterError::ConnectTimeout(format!(
                        "could not connect to process {peer} at {host} in time: {reason}"
                    )));
                }
                std::thread::sleep(UNPROVEN_PAUSE);
            }
        }
    }
}

/// The opening side of the handshake: greet, check the other side's proof, prove, and read
/// the answer (the plan, on a control connection).
fn handshake<S: Read + Write>(
    stream: &mut S,
    me: &Me<'_>,
    purpose: Purpose,
    peer: usize,
) -> Result<Option<SessionPlan>, Joined> {
    let hosts = &me.settings.hosts;
    let lost = |e| Joined::Failed(io_lost(peer, hosts, e));
    let ours = nonce().map_err(|e| Joined::Failed(ClusterError::Io(e)))?;
    let greeting =
        Greeting { protocol: PROTOCOL_VERSION, process: me.me, purpose, nonce: ours, secret: me.secret.is_some() };
    let early = |e: std::io::Error| Joined::Early(format!("the connection closed before the challenge: {e}"));
    write_frame(stream, &greeting).map_err(early)?;
    let (their_nonce, their_proof, they_have) = match read_frame_within(stream, MAX_GREETING).map_err(early)? {
        Challenge::Prove { process, nonce, proof, secret } if process == peer => (nonce, proof, secret),
        Challenge::Prove { process, .. } => {
            return Err(Joined::Failed(ClusterError::Mismatch(format!(
                "process {} listens at {}, where the host file puts process {peer}: use the same host file everywhere",
                process, hosts[peer]
            ))));
        }
        Challenge::Refused(reason) => return Err(Joined::Failed(ClusterError::Mismatch(reason))),
    };
    let transcript = Transcript {
        dialer_nonce: &ours,
        acceptor_nonce: &their_nonce,
        dialer: me.me as u64,
        acceptor: peer as u64,
        purpose: purpose.byte(),
    };
    if !verify(me.secret, Side::Acceptor, &transcript, &their_proof) {
        let who = format!("process {peer} ({})", hosts[peer]);
        let reason = unproven(peer, &who, they_have, me.secret.is_some(), me.me);
        // Tell it why, so both sides say so; the settings are not sent to an unproven process.
        let _ = write_frame(stream, &Hello::Unproven(format!("it did not prove the cluster secret: {reason}")));
        return Err(Joined::Unproven(format!("refused {who}: {reason}")));
    }
    let proof = prove(me.secret, Side::Dialer, &transcript);
    write_frame(stream, &Hello::Proven { proof, settings: me.settings.clone() }).map_err(lost)?;
    match read_frame_within(stream, MAX_FRAME).map_err(lost)? {
        Answer::Welcome(plan) => Ok(plan),
        Answer::Refused(reason) => Err(Joined::Failed(ClusterError::Mismatch(reason))),
        Answer::Unproven(reason) => Err(Joined::Unproven(format!("process {peer} refused this process: {reason}"))),
    }
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
        std::thread::sleep(DIAL_PAUSE);
    }
}

fn resolve(host: &str) -> Result<SocketAddr, String> {
    host.to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} resolves to no address"))
}

fn accept(
    listener: &TcpListener,
    deadline: Deadline<'_>,
    me: usize,
    awaited: &Awaited,
    settings: &Settings,
) -> Result<(TcpStream, SocketAddr), ClusterError> {
    loop {
        match listener.accept() {
            Ok((stream, address)) => {
                let setup = stream
                    .set_nonblocking(false)
                    .and_then(|()| stream.set_read_timeout(Some(STRANGER_IO_TIMEOUT)))
                    .and_then(|()| stream.set_write_timeout(Some(STRANGER_IO_TIMEOUT)));
                setup.map_err(|e| ClusterError::Io(e.to_string()))?;
                return Ok((stream, address));
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(ClusterError::Io(format!("accepting on {}: {error}", settings.hosts[me]))),
        }
        if deadline.remaining()?.is_zero() {
            let mut missing: Vec<usize> = awaited.control.iter().chain(&awaited.data).copied().collect();
            missing.sort_unstable();
            missing.dedup();
            let names: Vec<String> = missing.iter().map(|p| format!("{p} ({})", settings.hosts[*p])).collect();
            return Err(ClusterError::ConnectTimeout(format!(
                "process {me} waited in vain for process {} to connect",
                names.join(", ")
            )));
        }
        std::thread::sleep(ACCEPT_PAUSE);
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
             every process must open the same store",
            theirs.store.location, theirs.store.id, ours.store.location, ours.store.id
        );
    };
    format!(
        "process {them} was started differently from process {me}: {what}; start every process with the same job, \
         parameters, shard count, dry-run setting, workers and host file"
    )
}

fn io_lost(peer: usize, hosts: &[String], error: std::io::Error) -> ClusterError {
    ClusterError::Lost(format!("lost process {peer} ({}) while connecting: {error}", hosts[peer]))
}

/// Writes one frame: a big-endian `u32` length, then JSON.
pub(super) fn write_frame<T: Serialize>(stream: &mut impl Write, value: &T) -> std::io::Result<()> {
    let body = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    let len = u32::try_from(body.len()).map_err(|_| std::io::Error::other("frame too large"))?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&body);
    stream.write_all(&frame)?;
    stream.flush()
}

/// Reads one frame written by [`write_frame`] of at most [`MAX_FRAME`] bytes, exactly
/// (nothing after it is consumed).
pub(super) fn read_frame<T: for<'de> Deserialize<'de>>(stream: &mut impl Read) -> std::io::Result<T> {
    read_frame_within(stream, MAX_FRAME)
}

/// Reads one frame of at most `max` bytes. A longer announced length is refused before
/// anything is allocated, and the body's buffer grows only with the bytes that really arrive,
/// so a stranger announcing a large frame and sending little costs nothing.
fn read_frame_within<T: for<'de> Deserialize<'de>>(stream: &mut impl Read, max: u32) -> std::io::Result<T> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len);
    if len > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes, more than the {max} expected"),
        ));
    }
    let mut body = Vec::with_capacity((len as usize).min(READ_CHUNK));
    stream.take(u64::from(len)).read_to_end(&mut body)?;
    if body.len() != len as usize {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the frame was cut short"));
    }
    serde_json::from_slice(&body).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use proptest::prelude::*;

    use super::*;

    fn settings() -> Settings {
        Settings {
            job: "Job".to_owned(),
            params: "{}".to_owned(),
            shards: 4,
            dry_run: false,
            workers: 1,
            hosts: vec!["10.0.0.1:7100".to_owned(), "10.0.0.2:7100".to_owned()],
            store: StoreIdentity { id: "store".to_owned(), location: "somewhere".to_owned() },
        }
    }

    fn plan() -> SessionPlan {
        SessionPlan { attempt: 1, queued_at_ms: 0, tasks: Vec::new() }
    }

    fn secret(text: &str) -> ClusterSecret {
        ClusterSecret::new(text, "test").unwrap()
    }

    fn awaited() -> Awaited {
        Awaited { control: vec![1], data: vec![1], warned: Vec::new() }
    }

    /// A stream that reads `input` and keeps what is written.
    struct Scripted {
        input: Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Scripted {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Scripted {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.output.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn frame(value: &impl Serialize) -> Vec<u8> {
        let mut bytes = Vec::new();
        write_frame(&mut bytes, value).unwrap();
        bytes
    }

    /// What process 0's side of the handshake concluded.
    type Admitted = Result<Option<(Purpose, usize)>, String>;

    /// Runs process 0's side of the handshake on `input`.
    fn admit_bytes(
        input: Vec<u8>,
        secret: Option<&ClusterSecret>,
    ) -> (Result<Option<(Purpose, usize)>, String>, usize) {
        let settings = settings();
        let me = Me { me: 0, settings: &settings, secret };
        let mut stream = Scripted { input: Cursor::new(input), output: Vec::new() };
        let mut awaited = awaited();
        let result = admit(&mut stream, "stranger", &me, &plan(), &mut awaited).map_err(|e| e.to_string());
        (result, stream.output.len())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Junk from a stranger is dropped, never admitted, never a panic, and what is sent
        /// back is small.
        #[test]
        fn junk_is_dropped(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let key = secret("a-secret-of-enough-length");
            let (result, written) = admit_bytes(bytes, Some(&key));
            prop_assert_eq!(result, Ok(None));
            prop_assert!(written < 1024, "{} bytes answered to junk", written);
        }

        /// A length prefix followed by junk, of any announced length: refused without
        /// allocating what it announces.
        #[test]
        fn any_announced_length_is_safe(len in any::<u32>(), body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut bytes = len.to_be_bytes().to_vec();
            bytes.extend_from_slice(&body);
            let result: std::io::Result<Greeting> = read_frame_within(&mut Cursor::new(&bytes), MAX_GREETING);
            prop_assert!(result.is_err());
            let result: std::io::Result<Answer> = read_frame(&mut Cursor::new(&bytes));
            prop_assert!(result.is_err());
        }

        /// A well-formed greeting followed by junk, or by a forged proof: dropped.
        #[test]
        fn a_greeting_without_a_proof_is_dropped(
            process in 0usize..4,
            nonce in any::<[u8; NONCE_LEN]>(),
            proof in any::<[u8; NONCE_LEN]>(),
            junk in proptest::collection::vec(any::<u8>(), 0..512),
            forge in any::<bool>(),
        ) {
            let key = secret("a-secret-of-enough-length");
            let greeting = Greeting { protocol: PROTOCOL_VERSION, process, purpose: Purpose::Control, nonce, secret: true };
            let mut bytes = frame(&greeting);
            if forge {
                bytes.extend(frame(&Hello::Proven { proof, settings: settings() }));
            } else {
                bytes.extend(junk);
            }
            let (result, _) = admit_bytes(bytes, Some(&key));
            prop_assert_eq!(result, Ok(None));
        }
    }

    #[test]
    fn a_huge_announced_frame_is_refused_before_reading() {
        let bytes = [0xff, 0xff, 0xff, 0xff, b'{'];
        let error = read_frame::<Answer>(&mut Cursor::new(&bytes[..])).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("a frame of 4294967295 bytes"), "{error}");
        // Under the limit but longer than what arrives: cut short, with a small buffer.
        let mut short = (MAX_FRAME - 1).to_be_bytes().to_vec();
        short.extend_from_slice(b"{}");
        let error = read_frame::<Answer>(&mut Cursor::new(short)).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
    }

    /// Process 1 dials process 0 over loopback, each with `secrets`; returns what each side
    /// concluded.
    fn shake(zero: Option<&ClusterSecret>, one: Option<&ClusterSecret>) -> (Admitted, Result<bool, String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let settings = settings();
        std::thread::scope(|scope| {
            let dialer = scope.spawn(|| {
                let mut stream = TcpStream::connect(address).unwrap();
                let me = Me { me: 1, settings: &settings, secret: one };
                match handshake(&mut stream, &me, Purpose::Control, 0) {
                    Ok(plan) => Ok(plan.is_some()),
                    Err(Joined::Unproven(reason)) => Err(format!("unproven: {reason}")),
                    Err(Joined::Failed(error)) => Err(format!("failed: {error}")),
                    Err(Joined::Early(reason)) => Err(format!("early: {reason}")),
                }
            });
            let (mut stream, _) = listener.accept().unwrap();
            let me = Me { me: 0, settings: &settings, secret: zero };
            let admitted = admit(&mut stream, "peer", &me, &plan(), &mut awaited()).map_err(|e| e.to_string());
            (admitted, dialer.join().unwrap())
        })
    }

    #[test]
    fn the_same_secret_is_welcomed() {
        let key = secret("the-shared-cluster-secret");
        let (zero, one) = shake(Some(&key), Some(&key.clone()));
        assert_eq!(zero, Ok(Some((Purpose::Control, 1))));
        assert_eq!(one, Ok(true), "the plan came with the welcome");
    }

    #[test]
    fn another_secret_or_none_is_refused_by_name() {
        let (a, b) = (secret("the-shared-cluster-secret"), secret("another-cluster-secret!"));
        let cases = [
            (Some(&a), Some(&b), "process 0 (10.0.0.1:7100) has another cluster secret than process 1"),
            (Some(&a), None, "process 0 (10.0.0.1:7100) has a cluster secret, process 1 has none"),
            (None, Some(&b), "process 0 (10.0.0.1:7100) has no cluster secret, process 1 has one"),
        ];
        for (zero, one, expected) in cases {
            let (admitted, joined) = shake(zero, one);
            assert_eq!(admitted, Ok(None), "process 0 does not admit it, and goes on waiting");
            let joined = joined.unwrap_err();
            assert!(joined.starts_with("unproven: refused ") && joined.contains(expected), "{joined}");
        }
    }
}
