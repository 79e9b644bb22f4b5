//! Locks that outlive a panic elsewhere.
//!
//! Job code runs under `catch_unwind`, and every critical section in jobs-core leaves its data
//! whole at each step (a push, an insert, a swap), so a mutex poisoned by a panicking thread
//! still holds consistent data: taking it anyway keeps one panic from turning into a cascade.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, whether or not a thread panicked while holding it.
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
