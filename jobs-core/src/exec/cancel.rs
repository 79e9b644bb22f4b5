//! Cooperative cancellation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A shared flag that asks a run to stop. The engine checks it between entities and between
/// reduce keys, so a run stops within one entity's work of [`cancel`](Self::cancel).
///
/// ```
/// use jobs_core::CancelToken;
///
/// let token = CancelToken::new();
/// let for_the_run = token.clone();
/// token.cancel();
/// assert!(for_the_run.is_canceled());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
}

impl CancelToken {
    /// A token that is not canceled.
    pub fn new() -> Self {
        CancelToken::default()
    }

    /// Asks every run holding a clone of this token to stop.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    #[inline]
    pub fn is_canceled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}
