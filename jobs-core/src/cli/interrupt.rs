//! Ctrl-C: the first one during a run cancels it through its `CancelToken`; a second one, or
//! one at any other time, ends the process at once with exit code 130.
//!
//! The signal handler only touches two atomics (and calls `_exit`), which is all a handler
//! may safely do; the thread watching the run polls [`Listening::requested`] and cancels.

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether a run is listening for Ctrl-C.
static LISTENING: AtomicBool = AtomicBool::new(false);
/// Whether Ctrl-C was pressed while a run was listening.
static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the process-wide Ctrl-C handler. Does nothing where signals are not supported.
pub(crate) fn install() {
    #[cfg(unix)]
    unix::install();
}

/// Starts listening for Ctrl-C until the returned guard is dropped.
pub(crate) fn listen() -> Listening {
    REQUESTED.store(false, Ordering::SeqCst);
    LISTENING.store(true, Ordering::SeqCst);
    Listening { _private: () }
}

/// A run is listening for Ctrl-C while this lives.
pub(crate) struct Listening {
    _private: (),
}

impl Listening {
    /// Whether Ctrl-C was pressed since listening started.
    pub(crate) fn requested(&self) -> bool {
        REQUESTED.load(Ordering::SeqCst)
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        LISTENING.store(false, Ordering::SeqCst);
    }
}

/// What the handler does: `true` if the run will cancel, `false` if the process must end now.
fn on_interrupt() -> bool {
    LISTENING.load(Ordering::SeqCst) && !REQUESTED.swap(true, Ordering::SeqCst)
}

#[cfg(unix)]
mod unix {
    use std::sync::Once;

    extern "C" fn handle_sigint(_signal: libc::c_int) {
        if !super::on_interrupt() {
            // SAFETY: `_exit` is async-signal-safe; it ends the process without unwinding.
            unsafe { libc::_exit(i32::from(super::super::error::EXIT_CANCELED)) }
        }
    }

    pub(super) fn install() {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            let handler: extern "C" fn(libc::c_int) = handle_sigint;
            // SAFETY: the action is fully initialised (zeroed, then its handler, flags and
            // empty mask set), and the handler only uses atomics and `_exit`.
            let installed = unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = handler as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&raw mut action.sa_mask);
                libc::sigaction(libc::SIGINT, &raw const action, std::ptr::null_mut()) == 0
            };
            if !installed {
                tracing::warn!("could not install the Ctrl-C handler; Ctrl-C will end runs without a summary");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_interrupt_while_listening_cancels_and_the_second_exits() {
        assert!(!on_interrupt(), "nobody listens: exit");
        let listening = listen();
        assert!(!listening.requested());
        assert!(on_interrupt(), "first: cancel");
        assert!(listening.requested());
        assert!(!on_interrupt(), "second: exit");
        drop(listening);
        assert!(!on_interrupt(), "after the run: exit");
    }
}
