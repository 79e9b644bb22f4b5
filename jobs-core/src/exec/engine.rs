//! [`Engine`]: what every engine offers the run path.

use crate::job::Job;
use crate::store::Store;

use super::{RunError, RunOptions, RunReport};

/// An engine: carries a job out over a store and reports what it produced. The local engine
/// ([`engine::LocalEngine`](crate::engine::LocalEngine)) is always there; other engines are
/// leaves behind features, chosen at the edge through
/// [`EngineChoice`](crate::engines::EngineChoice), so the run path never names them.
pub trait Engine {
    /// The name runs record for this engine (`RunRecord::engine`).
    fn name(&self) -> &'static str;

    /// Runs `job` over `store`. `params` is the job's parameters as JSON text (empty when it
    /// has none worth comparing): an engine spread over processes compares it, so processes
    /// started with different parameters refuse each other.
    ///
    /// Entities that fail to decode or map, and keys whose reduce fails, are recorded in the
    /// report and the run goes on. A canceled run returns `Ok` with `canceled` set.
    ///
    /// # Errors
    /// The run could not be carried out: the shard count is out of range, the store failed,
    /// or the engine itself failed.
    fn run<J: Job>(
        &self,
        job: &J,
        store: &dyn Store,
        options: &RunOptions,
        params: &str,
    ) -> Result<RunReport, RunError>;
}
