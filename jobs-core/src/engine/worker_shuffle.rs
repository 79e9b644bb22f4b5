//! A map worker's side of the shuffle: the current batch's partition buffers, the sorted
//! buffers of the batches it finished, what it has spilled, and when to spill.
//!
//! Every emitted pair goes to its partition's buffer, grouped by key (`partition_buffer.rs`).
//! When a batch ends, each buffer of at least [`MIN_RUN_VALUES`] values, and every buffer when
//! its task ends, is sorted (and combined, `combine.rs`) into a run and held, so sorting runs
//! on every core, and a job that emits little makes a few runs per task rather than one per
//! chunk (whose count, and memory, would grow with the data). The worker counts the approximate bytes it holds
//! (`budget.rs`); past its share of the budget it sorts its current buffers too and writes
//! everything it holds to one spill file (`spill.rs`), one section per (partition, task), and
//! carries on with empty buffers.
//!
//! Each run is labelled with the batch (a chunk of a task, `(task, chunk)`) and the position
//! within it (`seq`, counting the batch's spills) where its first pair was pushed, so reduce
//! can merge them in task order, then emit order, however the pairs were split between
//! workers, chunks, memory and disk.

use super::budget::PairSizer;
use super::group_merge::{Run, write_merged};
use super::partition_buffer::{GroupedRun, PartitionBuffer};
use super::spill::{SpillDir, SpillError, SpillWriter};
use super::{FailureRecord, combine, key_hash, partition_of};
use crate::job::Reduce;

type Buffer<J> = PartitionBuffer<<J as Reduce>::Key, <J as Reduce>::Value>;

/// The read buffer of a merge of runs that are all in memory: unused, so small.
const MERGE_READ_BUFFER: usize = 4 << 10;
/// A partition's buffer becomes a run at the end of a chunk once it holds this many values;
/// a smaller one carries on into the next chunk of the task.
const MIN_RUN_VALUES: usize = 4096;

/// A batch: the task that mapped it, and its chunk within the task. Ordered as reduce merges.
pub(super) type BatchId = (usize, u32);

/// A sorted run with its place in the merge order.
pub(super) struct PlacedRun<J: Reduce> {
    /// The shuffle partition it belongs to.
    pub(super) partition: usize,
    /// The batch that emitted it.
    pub(super) batch: BatchId,
    /// Its position among that batch's runs of this partition.
    pub(super) seq: u32,
    pub(super) run: Run<J::Key, J::Value>,
}

/// Everything one worker produced for reduce.
pub(super) struct WorkerRuns<J: Reduce> {
    /// Its runs, in memory or spilled, in no particular order.
    pub(super) runs: Vec<PlacedRun<J>>,
    /// Bytes it wrote to spill files.
    pub(super) spilled_bytes: u64,
    /// Pairs in its runs.
    pub(super) pairs: u64,
}

/// One map worker's shuffle state, kept across the batches it maps.
pub(super) struct WorkerShuffle<'a, J: Reduce> {
    job: &'a J,
    combining: bool,
    /// Bytes this worker may hold before it spills.
    limit: usize,
    spill_dir: &'a SpillDir,
    sizer: PairSizer,
    batch: BatchId,
    seq: u32,
    /// The current task's pairs by partition, not yet made runs.
    buffers: Vec<Buffer<J>>,
    /// Per partition, the batch and `seq` where its buffer's first pair was pushed: the label
    /// of the run it becomes.
    started: Vec<(BatchId, u32)>,
    /// Per partition, the buffer length at which to combine next.
    combine_at: Vec<usize>,
    /// Values and distinct keys in `buffers`, and the bytes of their arrays, as of the
    /// last [`recount`](Self::recount) plus the pairs pushed since.
    buffered_values: usize,
    buffered_keys: usize,
    buffered_array_bytes: usize,
    /// Pairs pushed since the last recount.
    pushed: usize,
    /// Sorted runs of finished batches, in memory.
    held: Vec<PlacedRun<J>>,
    held_bytes: usize,
    spilled: Vec<PlacedRun<J>>,
    spilled_bytes: u64,
    /// Pairs in finished runs (held or spilled).
    run_pairs: u64,
    /// Keys whose `combine` panicked since the last [`take_key_failures`](Self::take_key_failures).
    key_failures: Vec<FailureRecord>,
}

impl<'a, J: Reduce> WorkerShuffle<'a, J> {
    /// An empty shuffle state for one worker.
    pub(super) fn new(job: &'a J, combining: bool, partitions: usize, limit: usize, spill_dir: &'a SpillDir) -> Self {
        WorkerShuffle {
            job,
            combining,
            limit,
            spill_dir,
            sizer: PairSizer::new(),
            batch: (0, 0),
            seq: 0,
            buffers: (0..partitions).map(|_| PartitionBuffer::new()).collect(),
            started: vec![((0, 0), 0); partitions],
            combine_at: vec![combine::MIN_COMBINE_LEN; partitions],
            buffered_values: 0,
            buffered_keys: 0,
            buffered_array_bytes: 0,
            pushed: 0,
            held: Vec::new(),
            held_bytes: 0,
            spilled: Vec::new(),
            spilled_bytes: 0,
            run_pairs: 0,
            key_failures: Vec::new(),
        }
    }

    /// Starts buffering for batch `batch`.
    pub(super) fn start_batch(&mut self, batch: BatchId) {
        self.batch = batch;
        self.seq = 0;
    }

    /// Buffers one emitted pair in its partition.
    #[inline]
    pub(super) fn push(&mut self, key: J::Key, value: J::Value) {
        self.sizer.observe(&key, &value);
        let hash = key_hash(&key);
        let partition = partition_of(hash, self.buffers.len());
        let buffer = &mut self.buffers[partition];
        if buffer.len() == 0 {
            self.started[partition] = (self.batch, self.seq);
        }
        buffer.push(hash, key, value);
        self.pushed += 1;
        if self.combining && buffer.len() >= self.combine_at[partition] {
            self.combine(partition);
        }
    }

    /// Spills everything held if the worker is over its share of the budget.
    ///
    /// # Errors
    /// A spill file could not be written.
    #[inline]
    pub(super) fn spill_if_over_budget(&mut self) -> Result<(), SpillError> {
        // Counting every pair as a new key and a new value overestimates until the recount.
        if self.bytes_estimate() <= self.limit {
            return Ok(());
        }
        self.recount();
        if self.bytes_estimate() > self.limit { self.spill() } else { Ok(()) }
    }

    /// Ends the current batch: sorts (and combines) each buffer of at least
    /// [`MIN_RUN_VALUES`] values, or every buffer when `task_done`, and holds them as runs.
    pub(super) fn finish_batch(&mut self, task_done: bool) {
        for partition in 0..self.buffers.len() {
            if !task_done && self.buffers[partition].len() < MIN_RUN_VALUES {
                continue;
            }
            if let Some(run) = self.take_run(partition) {
                self.run_pairs += run.len() as u64;
                self.held_bytes += self.run_bytes(&run);
                let (batch, seq) = self.started[partition];
                self.held.push(PlacedRun { partition, batch, seq, run: Run::Memory(run) });
            }
        }
        // Counted afresh: emptied buffers may keep their arrays.
        self.recount();
    }

    /// The keys whose `combine` panicked since the last call.
    pub(super) fn take_key_failures(&mut self) -> Vec<FailureRecord> {
        std::mem::take(&mut self.key_failures)
    }

    /// Every run this worker produced, in memory or spilled.
    pub(super) fn into_runs(mut self) -> WorkerRuns<J> {
        self.spilled.append(&mut self.held);
        WorkerRuns { runs: self.spilled, spilled_bytes: self.spilled_bytes, pairs: self.run_pairs }
    }

    /// The approximate bytes held: the current buffers and the finished batches' runs.
    fn bytes_estimate(&self) -> usize {
        let per_pair = size_of::<(u32, J::Value)>() + size_of::<(J::Key, u64)>() + 5;
        let buffered = self.buffered_array_bytes.saturating_add(self.pushed.saturating_mul(per_pair)).saturating_add(
            self.sizer.heap_bytes(self.buffered_keys + self.pushed, self.buffered_values + self.pushed),
        );
        self.held_bytes.saturating_add(buffered)
    }

    /// Counts what the buffers hold exactly (but for heap data, which is estimated).
    fn recount(&mut self) {
        self.buffered_values = self.buffers.iter().map(PartitionBuffer::len).sum();
        self.buffered_keys = self.buffers.iter().map(PartitionBuffer::key_count).sum();
        self.buffered_array_bytes = self.buffers.iter().map(PartitionBuffer::array_bytes).sum();
        self.pushed = 0;
    }

    fn run_bytes(&self, run: &GroupedRun<J::Key, J::Value>) -> usize {
        run.array_bytes().saturating_add(self.sizer.heap_bytes(run.keys.len(), run.len()))
    }

    /// Empties one partition's buffer into a sorted (and combined) run. The buffer keeps its
    /// arrays for the next pairs if they take at most an eighth of its share of the worker's
    /// budget; they stay counted in what the worker holds.
    fn take_run(&mut self, partition: usize) -> Option<GroupedRun<J::Key, J::Value>> {
        let keep_bytes = self.limit / 8 / self.buffers.len().max(1);
        let buffer = &mut self.buffers[partition];
        self.combine_at[partition] = combine::MIN_COMBINE_LEN;
        if self.combining {
            let failures = combine::combine_buffer(self.job, buffer);
            self.key_failures.extend(failures);
        }
        buffer.take_run(keep_bytes)
    }

    /// Combines one partition's buffer in place, and sets when to combine it next.
    #[cold]
    fn combine(&mut self, partition: usize) {
        let buffer = &mut self.buffers[partition];
        let failures = combine::combine_buffer(self.job, buffer);
        self.combine_at[partition] = (2 * buffer.len()).max(combine::MIN_COMBINE_LEN);
        self.key_failures.extend(failures);
    }

    /// Writes the held runs, then the current buffers sorted, to one new spill file: one
    /// section per (partition, task), each the merge of that task's runs, so a partition has
    /// a spilled run per task per spill rather than one per chunk, and reduce merges few.
    #[cold]
    fn spill(&mut self) -> Result<(), SpillError> {
        let mut held = std::mem::take(&mut self.held);
        for partition in 0..self.buffers.len() {
            if let Some(run) = self.take_run(partition) {
                self.run_pairs += run.len() as u64;
                let (batch, seq) = self.started[partition];
                held.push(PlacedRun { partition, batch, seq, run: Run::Memory(run) });
            }
        }
        // A task is mapped by one worker, so a task's runs in a partition are consecutive in
        // the merge order: merged here, they keep their place (under the first one's label).
        held.sort_unstable_by_key(|run| (run.partition, run.batch, run.seq));
        let mut writer = SpillWriter::create(self.spill_dir)?;
        let mut places = Vec::new();
        let mut rest = held.into_iter().peekable();
        while let Some(first) = rest.next() {
            let place = (first.partition, first.batch, first.seq);
            let mut runs = vec![first.run];
            while let Some(next) = rest.next_if(|next| (next.partition, next.batch.0) == (place.0, place.1.0)) {
                runs.push(next.run);
            }
            match runs.as_slice() {
                [Run::Memory(run)] => {
                    writer.write_section(run)?;
                }
                _ => write_merged(&mut writer, runs, MERGE_READ_BUFFER)?,
            }
            places.push(place);
        }
        self.spilled_bytes += writer.written();
        let runs = writer.finish()?;
        tracing::trace!(task = self.batch.0, chunk = self.batch.1, runs = runs.len(), "spilled");
        for ((partition, batch, seq), run) in places.into_iter().zip(runs) {
            self.spilled.push(PlacedRun { partition, batch, seq, run: Run::Spilled(run) });
        }
        self.seq += 1;
        self.held_bytes = 0;
        self.recount();
        self.combine_at.fill(combine::MIN_COMBINE_LEN);
        Ok(())
    }
}
