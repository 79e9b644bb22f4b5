//! Keeps a lost peer from aborting the whole process.
//!
//! When a peer's connection breaks, timely poisons its queues and the next push to them
//! panics. A worker thread unwinding from that panic drops its input handles and its
//! `Worker`, and those drops push once more (an input closes its epoch; operators flush their
//! buffers): a second panic escaping a drop while unwinding, which Rust turns into an abort
//! of the whole process, so no error is reported and no run is recorded. A handle in
//! [`DropInUnwind`] is dropped with that second panic caught. It is still dropped, not leaked:
//! timely's communication threads finish only once every handle on their queues is gone.

use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::panic::{self, AssertUnwindSafe};

/// A value dropped as usual, except that while its thread unwinds from a panic, a panic in
/// its drop is caught instead of aborting the process.
pub(super) struct DropInUnwind<T>(ManuallyDrop<T>);

impl<T> DropInUnwind<T> {
    pub(super) fn new(value: T) -> Self {
        DropInUnwind(ManuallyDrop::new(value))
    }
}

impl<T> Deref for DropInUnwind<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for DropInUnwind<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> Drop for DropInUnwind<T> {
    fn drop(&mut self) {
        // SAFETY: the value is taken once, here, and the wrapper is never used again.
        let value = unsafe { ManuallyDrop::take(&mut self.0) };
        if !std::thread::panicking() {
            drop(value);
        } else if let Err(panic) = panic::catch_unwind(AssertUnwindSafe(move || drop(value))) {
            let message =
                panic.downcast_ref::<&str>().copied().or_else(|| panic.downcast_ref::<String>().map(String::as_str));
            tracing::debug!(
                panic = message.unwrap_or("?"),
                "a timely handle panicked as it was dropped while unwinding"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::panic;
    use std::rc::Rc;

    use super::DropInUnwind;

    /// Counts its drops; the drop panics after counting if `panics`, as a timely input whose
    /// peer is gone does.
    struct Counted {
        drops: Rc<Cell<u32>>,
        panics: bool,
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            self.drops.set(self.drops.get() + 1);
            if self.panics {
                panic!("a second panic while unwinding");
            }
        }
    }

    #[test]
    fn a_panic_in_a_drop_while_unwinding_is_caught_and_the_first_panic_goes_on() {
        // Without the wrapper, the drop's panic during unwinding would abort the test binary.
        let drops = Rc::new(Cell::new(0));
        let counted = Counted { drops: Rc::clone(&drops), panics: true };
        let caught = panic::catch_unwind(panic::AssertUnwindSafe(move || {
            let _input = DropInUnwind::new(counted);
            panic!("the peer is gone");
        }));
        let payload = caught.expect_err("the first panic reaches catch_unwind");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"the peer is gone"));
        assert_eq!(drops.get(), 1, "dropped, not leaked");
    }

    #[test]
    fn a_value_is_dropped_as_usual_otherwise() {
        let drops = Rc::new(Cell::new(0));
        let held = DropInUnwind::new(Counted { drops: Rc::clone(&drops), panics: false });
        let counted: &Counted = &held;
        assert!(Rc::ptr_eq(&counted.drops, &drops), "the wrapper gives the value itself");
        drop(held);
        assert_eq!(drops.get(), 1);
    }
}
