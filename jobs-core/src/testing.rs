//! Helpers for testing jobs: fill a store with models, run a job synchronously, read what it
//! produced (Oppia's `run_job_and_check_output`).
//!
//! ```
//! use jobs_core::prelude::*;
//! use jobs_core::{MemoryStore, testing};
//!
//! #[derive(Model, Serialize, Deserialize)]
//! pub struct UserSettingsModel { id: String, username: Option<String> }
//!
//! /// Counts users by username length.
//! #[one_off_job(models = [UserSettingsModel])]
//! pub struct UsernameLengthCounts;
//!
//! impl Map<UserSettingsModel> for UsernameLengthCounts {
//!     fn map(&self, user: UserSettingsModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
//!         if let Some(name) = user.username {
//!             ctx.emit(name.len(), 1);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! impl Reduce for UsernameLengthCounts {
//!     type Key = usize;
//!     type Value = u64;
//!     fn reduce(&self, len: usize, ones: Values<'_, u64>, out: &mut Output) -> Outcome {
//!         out.json(&(len, ones.sum::<u64>()))
//!     }
//! }
//!
//! let store = MemoryStore::new();
//! testing::put_all(&store, &[
//!     UserSettingsModel { id: "u1".into(), username: Some("ann".into()) },
//!     UserSettingsModel { id: "u2".into(), username: Some("bob".into()) },
//!     UserSettingsModel { id: "u3".into(), username: None },
//! ])?;
//! let report = testing::run(&UsernameLengthCounts, &store)?;
//! assert_eq!(report.output, ["[3,2]"]);
//! assert!(report.failures.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::engine::{self, RunError, RunOptions, RunReport};
use crate::job::Job;
use crate::model::{self, CodecError, Model};
use crate::store::{Store, StoreError, WriteBatch};

/// Stores `models` in one atomic batch.
///
/// # Errors
/// A model does not encode, or the store could not be written.
pub fn put_all<M: Model>(store: &dyn Store, models: &[M]) -> Result<(), PutError> {
    let mut batch = WriteBatch::new();
    for m in models {
        batch.put(M::KIND, m.id(), model::encode(m)?);
    }
    store.apply(&batch)?;
    Ok(())
}

/// Runs `job` over `store` synchronously with default options and returns its report.
///
/// # Errors
/// The store failed.
pub fn run<J: Job>(job: &J, store: &dyn Store) -> Result<RunReport, RunError> {
    engine::run(job, store, &RunOptions::default())
}

/// [`put_all`] failed.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    /// A model did not encode.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
