//! The shuffle's memory budget: how much of it each worker may hold, and how the bytes of
//! buffered pairs are estimated. Both engines split it the same way; a cluster's processes
//! each have the whole budget, split between their own workers.
//!
//! The budget ([`RunOptions::max_memory`](super::RunOptions::max_memory), by default a quarter
//! of the machine's RAM, at most [`DEFAULT_MAX_MEMORY_CAP`]) is split in two halves:
//!
//! * **holding pairs**: each worker holds at most `half / threads` bytes of pairs. In the local
//!   engine a map worker holds its current task's buffers and the sorted buffers of the tasks
//!   it finished; in the cluster a reduce worker holds the chunks shipped to it. Past it, the
//!   worker writes what it holds, sorted, to one spill file (`spill.rs`), then starts afresh.
//!   When the map phase ends, whatever the workers still hold (at most the half) stays in
//!   memory for reduce.
//! * **reduce**: the other half pays for reading the spilled runs back, a small buffer per run
//!   ([`read_buffer_len`]), while the in-memory remainder is consumed.
//!
//! Beside them, when the run's report goes to an [`OutputSink`](super::OutputSink), reduce's
//! partitions hold at most a quarter of the budget of report text, all together, and spool
//! the rest to files of their own (`report_text.rs`), so the report is never held whole.
//!
//! Splitting the budget per worker, instead of sharing one counter, needs no synchronisation
//! in the hot loop and gives every worker runs of the same size.
//!
//! Sizes are estimates: a pair costs its `size_of` in the buffer (counted by capacity, since a
//! growing `Vec` holds up to twice its length) plus its heap data, estimated from the encoded
//! size of a sample of pairs ([`PairSizer`]).

use serde::Serialize;

/// The budget used when the machine's RAM cannot be read.
const FALLBACK_MAX_MEMORY: u64 = DEFAULT_MAX_MEMORY_CAP;
/// Spilled runs are read back through buffers of at most this many bytes each...
const MAX_READ_BUFFER: usize = 64 << 10;
/// ...and at least this many, whatever the budget.
const MIN_READ_BUFFER: usize = 4 << 10;
/// The heap size of one pair in this many is measured; the rest use the running mean.
const SAMPLE_EVERY: u64 = 16;

/// The default budget never exceeds this: a one-off job beside a live application should not
/// take gigabytes by default, and the whole process stays within this plus what it needs
/// whatever the data. At this cap the audit of a million explorations spills nothing and
/// peaks at under 400 MiB for the whole process (`docs/performance.md`); at 512 MiB it
/// spilled at the end of its map phase, as the budget counts what each short value's text
/// would take on the heap although it is kept inline.
pub const DEFAULT_MAX_MEMORY_CAP: u64 = 1 << 30;

/// The default shuffle budget: a quarter of the machine's RAM (`MemTotal` in
/// `/proc/meminfo`), at most [`DEFAULT_MAX_MEMORY_CAP`]; that cap where RAM cannot be read.
pub fn default_max_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| mem_total(&text))
        .map_or(FALLBACK_MAX_MEMORY, |b| b / 4)
        .min(DEFAULT_MAX_MEMORY_CAP)
}

/// `MemTotal` in bytes, from the text of `/proc/meminfo`.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.trim_start_matches("MemTotal:").trim().trim_end_matches("kB").trim().parse().ok()?;
    kib.checked_mul(1024)
}

/// What one worker may hold before it spills, in bytes: half the budget, shared evenly.
pub(crate) fn worker_limit(max_memory: u64, threads: usize) -> usize {
    usize::try_from(max_memory / 2 / threads.max(1) as u64).unwrap_or(usize::MAX)
}

/// The read buffer each spilled run is given at least when the budget decides how many runs
/// are merged at once ([`merge_fan_in`]).
const FAN_IN_READ_BUFFER: u64 = 16 << 10;
/// Runs merged at once, at least and at most.
const MIN_FAN_IN: usize = 8;
const MAX_FAN_IN: usize = 1024;

/// How many runs reduce merges at once with `threads` partitions reduced together: as many as
/// the reduce half of the budget gives a 16 KiB buffer each. A partition with more spilled runs
/// is first merged down, `fan_in` consecutive runs at a time, into longer spilled runs, so the
/// memory reading them back does not grow with the data.
pub(crate) fn merge_fan_in(max_memory: u64, threads: usize) -> usize {
    let runs = max_memory / 2 / threads.max(1) as u64 / FAN_IN_READ_BUFFER;
    usize::try_from(runs).unwrap_or(usize::MAX).clamp(MIN_FAN_IN, MAX_FAN_IN)
}

/// The read buffer for each of `runs` spilled runs when `threads` partitions are reduced at
/// once, so that all of them fit in the reduce half of the budget.
pub(crate) fn read_buffer_len(max_memory: u64, runs: usize, threads: usize) -> usize {
    let share = max_memory / 2 / (runs.max(1) as u64 * threads.max(1) as u64);
    usize::try_from(share).unwrap_or(usize::MAX).clamp(MIN_READ_BUFFER, MAX_READ_BUFFER)
}

/// Estimates the heap bytes of emitted pairs from the encoded size of every
/// [`SAMPLE_EVERY`]th one (the encoded size of a string is about its heap size; of a number,
/// a byte or a few more than nothing, which errs on the safe side).
pub(crate) struct PairSizer {
    seen: u64,
    sampled: u64,
    sampled_key_bytes: u64,
    sampled_value_bytes: u64,
    scratch: Vec<u8>,
}

impl PairSizer {
    pub(crate) fn new() -> Self {
        PairSizer { seen: 0, sampled: 0, sampled_key_bytes: 0, sampled_value_bytes: 0, scratch: Vec::new() }
    }

    /// Notes one pair about to be buffered; measures it if it is a sample.
    #[inline]
    pub(crate) fn observe<K: Serialize, V: Serialize>(&mut self, key: &K, value: &V) {
        if self.seen.is_multiple_of(SAMPLE_EVERY) {
            self.measure(key, value);
        }
        self.seen += 1;
    }

    #[cold]
    fn measure<K: Serialize, V: Serialize>(&mut self, key: &K, value: &V) {
        self.scratch.clear();
        // A pair that does not encode would fail when spilled; here it only goes unmeasured.
        if rmp_serde::encode::write(&mut self.scratch, key).is_err() {
            return;
        }
        let key_len = self.scratch.len();
        if rmp_serde::encode::write(&mut self.scratch, value).is_ok() {
            self.sampled += 1;
            self.sampled_key_bytes += key_len as u64;
            self.sampled_value_bytes += (self.scratch.len() - key_len) as u64;
        }
    }

    /// The estimated heap bytes of `keys` keys and `values` values.
    pub(crate) fn heap_bytes(&self, keys: usize, values: usize) -> usize {
        if self.sampled == 0 {
            return 0;
        }
        let total =
            keys as u128 * u128::from(self.sampled_key_bytes) + values as u128 * u128::from(self.sampled_value_bytes);
        usize::try_from(total / u128::from(self.sampled)).unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_total_is_read_in_bytes() {
        let text = "MemTotal:       24684084 kB\nMemFree:         8634148 kB\n";
        assert_eq!(mem_total(text), Some(24_684_084 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
        assert_eq!(mem_total("MemTotal: lots kB\n"), None);
    }

    #[test]
    fn the_default_budget_is_a_quarter_of_ram_at_most_the_cap() {
        let budget = default_max_memory();
        assert!(budget > 0);
        if let Some(total) = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| mem_total(&t)) {
            assert_eq!(budget, (total / 4).min(DEFAULT_MAX_MEMORY_CAP));
        }
    }

    #[test]
    fn workers_share_half_the_budget() {
        assert_eq!(worker_limit(1000, 2), 250);
        assert_eq!(worker_limit(1000, 0), 500);
    }

    #[test]
    fn the_fan_in_fits_16_kib_buffers_in_the_reduce_half_within_bounds() {
        assert_eq!(merge_fan_in(64 << 20, 2), 1024);
        assert_eq!(merge_fan_in(8 << 20, 2), 128);
        assert_eq!(merge_fan_in(0, 2), MIN_FAN_IN);
    }

    #[test]
    fn read_buffers_fit_the_reduce_half_within_bounds() {
        assert_eq!(read_buffer_len(1 << 30, 4, 2), MAX_READ_BUFFER);
        assert_eq!(read_buffer_len(1 << 20, 1000, 2), MIN_READ_BUFFER);
        assert_eq!(read_buffer_len(8 << 20, 32, 2), 64 << 10);
        assert_eq!(read_buffer_len(4 << 20, 32, 2), 32 << 10);
    }

    #[test]
    fn heap_bytes_scale_with_the_sampled_mean() {
        let mut sizer = PairSizer::new();
        assert_eq!(sizer.heap_bytes(10, 10), 0);
        let key = "k".repeat(98);
        for _ in 0..64 {
            sizer.observe(&key, &());
        }
        // 98 bytes of text and a 2-byte string header per key; a 1-byte nil per value.
        assert_eq!(sizer.heap_bytes(10, 0), 1000);
        assert_eq!(sizer.heap_bytes(1, 10), 110);
    }
}
