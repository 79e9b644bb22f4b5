//! Keeps the panics that carry a cluster failure off the terminal.
//!
//! When a peer dies, timely's communication threads panic ("timely communication error") and
//! poison the queues, so the workers panic in turn. That is how the failure spreads, and the
//! session reports it once, clearly; the raw panic messages would only bury that report. The
//! hook silences panics on timely's communication threads and this engine's own, logging them
//! at debug level, and passes every other panic on. (Worker threads run under the engine's
//! `panic::catch`, whose hook keeps them quiet and records where job code panicked.)

use std::sync::Once;

/// Installs the hook once per process.
pub(super) fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // The engine's own hook (which records job panics with their location) goes first,
        // so this one wraps it and never races it for `take_hook`.
        let _ = crate::exec::panic::catch(|| ());
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("");
            if name.starts_with("timely:send-") || name.starts_with("timely:recv-") || name.starts_with("jobs-cluster-")
            {
                tracing::debug!(thread = name, panic = %info, "a cluster thread stopped");
            } else {
                previous(info);
            }
        }));
    });
}
