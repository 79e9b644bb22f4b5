//! Keeps a lost peer from aborting the whole process.
//!
//! When a peer's connection breaks, timely poisons its queues and the next push to them
//! panics. A worker thread unwinding from that panic drops its input handles and its
//! `Worker`, and those drops push once more (an input closes its epoch; operators flush their
//! buffers): a second panic while unwinding, which Rust turns into an abort of the whole
//! process, so no error is reported and no run is recorded. A handle in [`LeakOnUnwind`] is
//! leaked instead of dropped while its thread unwinds: the session is failing then, so the
//! first panic is caught and reported as the session's failure, and what was leaked is freed
//! when the process exits.

use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

/// A value dropped as usual, except while its thread unwinds from a panic: then leaked.
pub(super) struct LeakOnUnwind<T>(ManuallyDrop<T>);

impl<T> LeakOnUnwind<T> {
    pub(super) fn new(value: T) -> Self {
        LeakOnUnwind(ManuallyDrop::new(value))
    }
}

impl<T> Deref for LeakOnUnwind<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for LeakOnUnwind<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> Drop for LeakOnUnwind<T> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            // SAFETY: the value is dropped once, here, and the wrapper is never used again.
            unsafe { ManuallyDrop::drop(&mut self.0) }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::panic::{self, AssertUnwindSafe};
    use std::rc::Rc;

    use super::LeakOnUnwind;

    /// Panics when dropped, as a timely input whose peer is gone does.
    struct PanicsOnDrop;

    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("a second panic while unwinding");
        }
    }

    #[test]
    fn a_value_is_leaked_while_its_thread_unwinds_so_the_first_panic_is_caught() {
        // Without the wrapper, the drop's panic during unwinding would abort the test binary.
        let caught = panic::catch_unwind(|| {
            let _input = LeakOnUnwind::new(PanicsOnDrop);
            panic!("the peer is gone");
        });
        let payload = caught.expect_err("the first panic reaches catch_unwind");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"the peer is gone"));
    }

    #[test]
    fn a_value_is_dropped_as_usual_otherwise() {
        struct Counted(Rc<Cell<u32>>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.set(self.0.get() + 1);
            }
        }
        let drops = Rc::new(Cell::new(0));
        let held = LeakOnUnwind::new(Counted(Rc::clone(&drops)));
        let counted: &Counted = &held;
        assert!(Rc::ptr_eq(&counted.0, &drops), "the wrapper gives the value itself");
        drop(held);
        assert_eq!(drops.get(), 1);
        let unwound = Rc::new(Cell::new(0));
        let kept = Rc::clone(&unwound);
        let _ = panic::catch_unwind(AssertUnwindSafe(move || {
            let _held = LeakOnUnwind::new(Counted(kept));
            panic!("unwinding");
        }));
        assert_eq!(unwound.get(), 0, "leaked, not dropped, while unwinding");
    }
}
