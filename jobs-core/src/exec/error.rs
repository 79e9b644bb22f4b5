//! Why a run could not be carried out at all, whichever engine ran it (as opposed to the
//! entities and keys that failed within it, which its report lists).

use std::io;
use std::path::PathBuf;

use crate::store::StoreError;

use super::shards::ShardsError;

/// A run could not be carried out at all (as opposed to entities that failed within it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The shard count is outside `1..=MAX_SHARDS`.
    #[error(transparent)]
    InvalidShards(#[from] ShardsError),
    /// The store failed; the run stopped.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The shuffle's temporary files could not be written or read back; the run stopped.
    #[error(transparent)]
    Spill(#[from] SpillError),
    /// The run's [`OutputSink`](super::OutputSink) refused a report line; the run stopped.
    #[error("the report could not be written: {0}")]
    Output(#[source] io::Error),
    /// The engine chosen with an [`EngineChoice`](crate::engines::EngineChoice) could not
    /// carry the run out (a cluster lost a process, say); `source` is the engine's own error.
    #[error("{source}")]
    Engine {
        /// The engine's name, as runs record it.
        engine: &'static str,
        /// What went wrong, as the engine's own error type.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl RunError {
    /// The engine's own error, if the engine `engine` failed with an error of type `E`.
    pub fn engine_error<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            RunError::Engine { source, .. } => source.downcast_ref::<E>(),
            _ => None,
        }
    }
}

/// Writing or reading the shuffle's temporary files failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpillError {
    /// The run's temporary directory could not be created.
    #[error("cannot create a temporary directory for the shuffle in {}: {source}", dir.display())]
    CreateDir {
        /// Where it was to be created.
        dir: PathBuf,
        /// Why it could not.
        source: io::Error,
    },
    /// A spill file could not be created, written or read.
    #[error("shuffle spill file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// A key or value could not be encoded, or what was read back does not decode.
    #[error("shuffle spill file {}: {message}", path.display())]
    Codec {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}
