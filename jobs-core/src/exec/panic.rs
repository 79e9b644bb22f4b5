//! Panics in job code become failures, never raw messages on the user's terminal.
//!
//! `catch_unwind` stops a panic, but the panic hook has already printed it by then. The engine
//! installs (once) a hook that stays silent on threads running job code and keeps the message
//! and location for the failure record; every other panic goes to the previous hook.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    static LAST_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CAPTURING.with(Cell::get) {
                let location = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
                LAST_LOCATION.with(|last| *last.borrow_mut() = location);
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f`, turning a panic into `Err` with its message and location.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    let was = CAPTURING.with(|c| c.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CAPTURING.with(|c| c.set(was));
    result.map_err(|payload| {
        let location = LAST_LOCATION.with(|last| last.borrow_mut().take());
        match location {
            Some(location) => format!("panicked at {location}: {}", payload_message(&*payload)),
            None => format!("panicked: {}", payload_message(&*payload)),
        }
    })
}

/// The text of a panic's payload.
pub(crate) fn payload_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "a panic with a non-text payload"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message_and_location() {
        let err = catch(|| -> u32 { panic!("bad entity {}", 7) }).unwrap_err();
        assert!(err.starts_with("panicked at "), "{err}");
        assert!(err.ends_with(": bad entity 7"), "{err}");
        assert!(err.contains("panic.rs"), "{err}");
        assert_eq!(catch(|| 5), Ok(5));
    }
}
