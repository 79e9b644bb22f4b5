//! The control links: heartbeats, cancel relay, and the verdict, on a connection of their own
//! between process 0 and each other process.
//!
//! Timely has no failure detection of its own: a peer that dies makes its communication
//! threads panic, but a peer that stops answering (a machine that lost power, a network cut)
//! leaves the others waiting forever. Each end sends a heartbeat every second and gives up on
//! a link that stays silent for [`ClusterConfig::heartbeat_timeout`](super::ClusterConfig);
//! a link that closes before the verdict fails the session at once. Failing shuts every
//! socket of the session, so timely's threads and workers stop too, and peers notice.

use std::net::{Shutdown, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::exec::CancelToken;
use crate::sync::lock;

use super::connect::{read_frame, write_frame};

/// How often each end of a control link says it is alive.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// How often the sender looks for a cancel to relay.
const TICK: Duration = Duration::from_millis(100);
/// How long a stopped worker waits for a control link to say why before the session closes
/// them (see [`SessionState::fail_worker`]). A dead peer's end reaches its link within
/// milliseconds; a worker that stopped for a reason of its own costs the peers this much longer
/// to hear of it by the links (the cut data connections tell them at once).
const LINK_GRACE: Duration = Duration::from_millis(200);

/// How the run ended, as process 0 tells the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Verdict {
    Completed,
    Canceled,
    Failed(String),
}

#[derive(Debug, Serialize, Deserialize)]
enum Message {
    Heartbeat,
    Cancel,
    Abort(String),
    Done(Verdict),
}

/// What every thread of one session shares: whether it failed and why, its sockets, and the
/// verdict.
pub(super) struct SessionState {
    failed: AtomicBool,
    /// Why a link failed: the clearest reason, preferred over a worker's.
    link_failure: Mutex<Option<String>>,
    /// Why a worker stopped.
    worker_failure: Mutex<Option<String>>,
    /// Every data socket of the session, to cut when it fails.
    data_sockets: Vec<TcpStream>,
    /// Every control socket, closed when the session ends.
    control_sockets: Vec<TcpStream>,
    /// The control links' write halves, by peer process.
    links: Vec<(usize, String, Mutex<TcpStream>)>,
    verdict: Mutex<Option<Verdict>>,
    /// Set when process 0 aborted the run: no retry can help.
    aborted: AtomicBool,
    /// Set once the verdict is sent or received: a link closing then is no failure.
    finished: AtomicBool,
    /// Set when the sender should stop.
    stopped: AtomicBool,
    /// The heartbeat sender's thread, unparked by [`stop`](Self::stop) so the session's end
    /// does not wait out its tick.
    sender: Mutex<Option<std::thread::Thread>>,
}

impl SessionState {
    /// State for a session over `data_sockets` and `control_sockets` (clones), with control
    /// links to `links` (peer process, its address, the socket).
    pub(super) fn new(
        data_sockets: Vec<TcpStream>,
        control_sockets: Vec<TcpStream>,
        links: Vec<(usize, String, TcpStream)>,
    ) -> Self {
        SessionState {
            failed: AtomicBool::new(false),
            link_failure: Mutex::new(None),
            worker_failure: Mutex::new(None),
            data_sockets,
            control_sockets,
            links: links.into_iter().map(|(p, host, s)| (p, host, Mutex::new(s))).collect(),
            verdict: Mutex::new(None),
            aborted: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            sender: Mutex::new(None),
        }
    }

    /// Whether the session has failed.
    pub(super) fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Fails the session because a link failed; the first reason stays.
    pub(super) fn fail_link(&self, reason: String) {
        lock(&self.link_failure).get_or_insert(reason);
        self.shut_down();
    }

    /// Fails the session because a worker stopped; a link's reason, if any, is preferred.
    ///
    /// A peer that dies breaks its data connections and its control link at once, and which
    /// this process notices first is a race: a worker whose queue the lost connection poisoned
    /// may stop before the link's reader has read the peer's end. So the data is cut at once,
    /// to stop timely's threads, but the links are closed, and the session marked failed, only
    /// once a link has failed or [`LINK_GRACE`] has passed: closing them first would leave the
    /// reader unable to tell the peer's end from this process's own, and the run would fail
    /// naming the poisoned queue rather than the process that was lost.
    pub(super) fn fail_worker(&self, reason: String) {
        lock(&self.worker_failure).get_or_insert(reason);
        if self.failed() {
            return;
        }
        self.cut_data();
        let deadline = Instant::now() + LINK_GRACE;
        while !self.failed() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.shut_down();
    }

    /// Whether process 0 aborted the run (an error no retry can help with).
    pub(super) fn aborted(&self) -> bool {
        self.aborted.load(Ordering::SeqCst)
    }

    /// Why the session failed.
    pub(super) fn failure(&self) -> Option<String> {
        lock(&self.link_failure).clone().or_else(|| lock(&self.worker_failure).clone())
    }

    /// Waits up to `grace` for a link's reason (a dying peer closes its links at about the
    /// moment the workers notice), then returns the best reason known.
    pub(super) fn failure_after(&self, grace: Duration) -> Option<String> {
        let deadline = Instant::now() + grace;
        while lock(&self.link_failure).is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.failure()
    }

    fn shut_down(&self) {
        if !self.failed.swap(true, Ordering::SeqCst) {
            self.cut_data();
            self.close_links();
        }
    }

    /// Shuts the data sockets down, to unblock timely's threads.
    pub(super) fn cut_data(&self) {
        for socket in &self.data_sockets {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Shuts the control sockets down, which ends the link readers.
    pub(super) fn close_links(&self) {
        for socket in &self.control_sockets {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Sends the verdict to every peer (process 0) and ends the session for the links.
    pub(super) fn send_verdict(&self, verdict: &Verdict) {
        self.finished.store(true, Ordering::SeqCst);
        for (_, _, link) in &self.links {
            let _ = write_frame(&mut *lock(link), &Message::Done(verdict.clone()));
        }
    }

    /// Tells every peer the session is aborted (process 0, on an error no retry can help).
    pub(super) fn send_abort(&self, reason: &str) {
        self.finished.store(true, Ordering::SeqCst);
        for (_, _, link) in &self.links {
            let _ = write_frame(&mut *lock(link), &Message::Abort(reason.to_owned()));
        }
    }

    /// The verdict received from process 0, once it came.
    pub(super) fn verdict(&self) -> Option<Verdict> {
        lock(&self.verdict).clone()
    }

    /// Stops the sender thread.
    pub(super) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        if let Some(sender) = lock(&self.sender).as_ref() {
            sender.unpark();
        }
    }

    /// Reads one control link until it ends: relays cancels, takes the verdict, and fails the
    /// session when the link breaks or stays silent for `timeout`.
    pub(super) fn read_link(
        &self,
        peer: usize,
        host: &str,
        mut stream: TcpStream,
        cancel: &CancelToken,
        timeout: Duration,
    ) {
        if let Err(error) = stream.set_read_timeout(Some(timeout)) {
            self.fail_link(format!("process {peer} ({host}): {error}"));
            return;
        }
        loop {
            match read_frame::<Message>(&mut stream) {
                Ok(Message::Heartbeat) => {}
                Ok(Message::Cancel) => cancel.cancel(),
                Ok(Message::Abort(reason)) => {
                    self.aborted.store(true, Ordering::SeqCst);
                    self.fail_link(reason);
                    return;
                }
                Ok(Message::Done(verdict)) => {
                    self.finished.store(true, Ordering::SeqCst);
                    *lock(&self.verdict) = Some(verdict);
                    return;
                }
                Err(_) if self.finished.load(Ordering::SeqCst) || self.stopped.load(Ordering::SeqCst) => return,
                Err(error) => {
                    let why = match error.kind() {
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                            format!("sent nothing for {} s", timeout.as_secs())
                        }
                        std::io::ErrorKind::UnexpectedEof => "closed its connection (did it die?)".to_owned(),
                        _ => error.to_string(),
                    };
                    if !self.failed() {
                        self.fail_link(format!("lost process {peer} ({host}): it {why}"));
                    }
                    return;
                }
            }
        }
    }

    /// Sends heartbeats, and relays this process's cancel once, until [`stop`](Self::stop).
    pub(super) fn send_heartbeats(&self, cancel: &CancelToken) {
        *lock(&self.sender) = Some(std::thread::current());
        let mut relayed_cancel = false;
        let mut last_beat: Option<Instant> = None;
        while !self.stopped.load(Ordering::SeqCst) && !self.failed() {
            if cancel.is_canceled() && !relayed_cancel {
                relayed_cancel = true;
                self.broadcast(&Message::Cancel);
            }
            if last_beat.is_none_or(|at| at.elapsed() >= HEARTBEAT_INTERVAL) && !self.finished.load(Ordering::SeqCst) {
                last_beat = Some(Instant::now());
                self.broadcast(&Message::Heartbeat);
            }
            std::thread::park_timeout(TICK);
        }
    }

    fn broadcast(&self, message: &Message) {
        for (_, _, link) in &self.links {
            // A write that fails is seen by the link's reader as well; it reports it.
            let _ = write_frame(&mut *lock(link), message);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    use super::SessionState;
    use crate::exec::CancelToken;

    /// A session with one control link, to process 1 over loopback: the state, this end of
    /// the link (for its reader) and the peer's end.
    fn one_link() -> (SessionState, TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let near = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (far, _) = listener.accept().unwrap();
        let state = SessionState::new(
            Vec::new(),
            vec![near.try_clone().unwrap()],
            vec![(1, "127.0.0.1:1".to_owned(), near.try_clone().unwrap())],
        );
        (state, near, far)
    }

    #[test]
    fn a_peer_lost_just_after_a_worker_stopped_is_named_not_the_worker() {
        let (state, near, far) = one_link();
        let cancel = CancelToken::new();
        std::thread::scope(|scope| {
            scope.spawn(|| state.read_link(1, "127.0.0.1:1", near, &cancel, Duration::from_secs(30)));
            // The worker's poisoned queue is noticed a moment before the link's end is read.
            let dies = scope.spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                drop(far);
            });
            let started = Instant::now();
            state.fail_worker("a worker stopped: MergeQueue poisoned".to_owned());
            dies.join().unwrap();
            assert!(state.failed());
            let reason = state.failure_after(Duration::from_secs(2)).unwrap();
            assert!(reason.starts_with("lost process 1 (127.0.0.1:1): it closed its connection"), "{reason}");
            assert!(started.elapsed() < Duration::from_secs(2), "it waited out the grace: {:?}", started.elapsed());
            state.stop();
            state.close_links();
        });
    }

    #[test]
    fn a_worker_that_stopped_on_its_own_is_named_once_the_grace_has_passed() {
        let (state, near, _far) = one_link();
        let cancel = CancelToken::new();
        std::thread::scope(|scope| {
            scope.spawn(|| state.read_link(1, "127.0.0.1:1", near, &cancel, Duration::from_secs(30)));
            let started = Instant::now();
            state.fail_worker("a worker stopped: a bug".to_owned());
            assert!(started.elapsed() >= super::LINK_GRACE);
            assert!(state.failed());
            // Its own close of the link is not taken for the peer's.
            assert_eq!(state.failure_after(Duration::from_millis(100)).unwrap(), "a worker stopped: a bug");
            state.stop();
            state.close_links();
        });
    }
}
