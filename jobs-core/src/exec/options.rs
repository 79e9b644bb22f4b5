//! [`RunOptions`]: how to run a job, read by every engine.

use std::path::PathBuf;
use std::sync::Arc;

use super::cancel::CancelToken;
use super::output_sink::OutputSink;
use super::progress::Progress;

/// How to run a job. `RunOptions::default()` uses the job's shard count and every core; the
/// `with_*` methods change one setting each.
///
/// ```
/// use jobs_core::RunOptions;
///
/// let options = RunOptions::default().with_shards(4).with_threads(2).with_dry_run(true);
/// assert_eq!((options.shards, options.threads, options.dry_run), (Some(4), Some(2), true));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunOptions {
    /// Shards per listed model; the job's default when `None`. Checked when the run starts
    /// ([`Shards`](super::Shards)).
    pub shards: Option<usize>,
    /// Worker threads; the number of cores when `None`.
    pub threads: Option<usize>,
    /// Count writes instead of storing them.
    pub dry_run: bool,
    /// Set it to stop the run early; the report then says `canceled` and has no output.
    pub cancel: CancelToken,
    /// Filled in while the run goes, for progress bars and status pages.
    pub progress: Option<Arc<Progress>>,
    /// How many writes are committed together, atomically.
    pub write_batch_size: usize,
    /// When the run was queued (ms since the epoch); now when `None`.
    pub queued_at_ms: Option<i64>,
    /// Fold values map-side with the job's [`combine`](crate::Reduce::combine), if it has
    /// one (`Reduce::COMBINES`). On by default; the output is the same either way.
    pub combine: bool,
    /// How many entities and keys may fail before the run counts as failed
    /// ([`RunReport::exceeds_failure_limit`](super::RunReport::exceeds_failure_limit)); the
    /// job's [`Job::MAX_FAILURES`](crate::Job::MAX_FAILURES) when `None`.
    pub max_failures: Option<u64>,
    /// The most memory, in bytes, the shuffle may hold (and, with an [`output`](Self::output)
    /// sink, the report's text: a quarter of it); past it, sorted runs (and report text) are
    /// spilled to temporary files and merged back, with the same output. `None` is
    /// [`default_max_memory`](crate::engine::default_max_memory) (a quarter of the machine's
    /// RAM, at most 1 GiB).
    pub max_memory: Option<u64>,
    /// Where the run's temporary directory of spill files is made (only if it spills); `None`
    /// is `JOBS_TMPDIR` when set, else [`std::env::temp_dir`]. The directory is removed when
    /// the run ends, however it ends.
    pub spill_dir: Option<PathBuf>,
    /// Where the report lines go: with a sink, the engine hands them over in key order as it
    /// merges them, spooling what outgrows the memory budget to temporary files, and
    /// [`RunReport::output`](super::RunReport::output) stays empty, so memory does not grow
    /// with the report ([`OutputSink`]). `None` gathers them in the report.
    pub output: Option<OutputSink>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            shards: None,
            threads: None,
            dry_run: false,
            cancel: CancelToken::new(),
            progress: None,
            write_batch_size: 500,
            queued_at_ms: None,
            combine: true,
            max_failures: None,
            max_memory: None,
            spill_dir: None,
            output: None,
        }
    }
}

impl RunOptions {
    /// Sets [`shards`](Self::shards).
    #[must_use]
    pub fn with_shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Sets [`threads`](Self::threads).
    #[must_use]
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Sets [`dry_run`](Self::dry_run).
    #[must_use]
    pub fn with_dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Sets [`cancel`](Self::cancel).
    #[must_use]
    pub fn with_cancel(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Sets [`progress`](Self::progress).
    #[must_use]
    pub fn with_progress(mut self, progress: Arc<Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Sets [`write_batch_size`](Self::write_batch_size).
    #[must_use]
    pub fn with_write_batch_size(mut self, writes: usize) -> Self {
        self.write_batch_size = writes;
        self
    }

    /// Sets [`queued_at_ms`](Self::queued_at_ms).
    #[must_use]
    pub fn with_queued_at_ms(mut self, queued_at_ms: i64) -> Self {
        self.queued_at_ms = Some(queued_at_ms);
        self
    }

    /// Sets [`combine`](Self::combine).
    #[must_use]
    pub fn with_combine(mut self, combine: bool) -> Self {
        self.combine = combine;
        self
    }

    /// Sets [`max_failures`](Self::max_failures).
    #[must_use]
    pub fn with_max_failures(mut self, max_failures: u64) -> Self {
        self.max_failures = Some(max_failures);
        self
    }

    /// Sets [`max_memory`](Self::max_memory), in bytes.
    #[must_use]
    pub fn with_max_memory(mut self, bytes: u64) -> Self {
        self.max_memory = Some(bytes);
        self
    }

    /// Sets [`spill_dir`](Self::spill_dir).
    #[must_use]
    pub fn with_spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spill_dir = Some(dir.into());
        self
    }

    /// Sets [`output`](Self::output).
    #[must_use]
    pub fn with_output(mut self, sink: OutputSink) -> Self {
        self.output = Some(sink);
        self
    }
}
