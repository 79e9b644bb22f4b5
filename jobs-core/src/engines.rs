//! Which engine carries a run out: the one place that lists them all.
//!
//! The run path (the registry, the runner, the command line and the admin page) holds an
//! [`EngineChoice`] and hands it here; only this module and the engines themselves know
//! which engines exist. An engine behind a feature adds a variant (the enum is
//! `#[non_exhaustive]`, so that is not a breaking change) and a leaf module implementing
//! [`Engine`]; it adds nothing to the core's types.

#![forbid(unsafe_code)]

use crate::engine::LocalEngine;
use crate::exec::{Engine, RunError, RunOptions, RunReport};
use crate::job::Job;
use crate::store::Store;

/// The engine a run is carried out on. The default is the local engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineChoice {
    /// Threads on this machine ([`engine::run`](crate::engine::run)).
    #[default]
    Local,
    /// Timely-dataflow workers, as this process of this cluster (feature `timely`).
    #[cfg(feature = "timely")]
    Timely(crate::cluster::TimelyEngine),
}

impl EngineChoice {
    /// The engine's name, as runs record it (`local`, `timely`).
    pub fn name(&self) -> &'static str {
        match self {
            EngineChoice::Local => LocalEngine.name(),
            #[cfg(feature = "timely")]
            EngineChoice::Timely(engine) => engine.name(),
        }
    }

    /// Runs `job` on the chosen engine; see [`Engine::run`].
    ///
    /// # Errors
    /// As [`Engine::run`].
    pub fn run<J: Job>(
        &self,
        job: &J,
        store: &dyn Store,
        options: &RunOptions,
        params: &str,
    ) -> Result<RunReport, RunError> {
        match self {
            EngineChoice::Local => LocalEngine.run(job, store, options, params),
            #[cfg(feature = "timely")]
            EngineChoice::Timely(engine) => engine.run(job, store, options, params),
        }
    }
}
