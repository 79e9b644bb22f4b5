//! Merges a partition's key-sorted runs, in memory or spilled, into key groups whose values
//! stream out in order.
//!
//! Runs are sorted where they are made (by the local engine's map workers, in parallel, or by
//! the cluster's senders), so reduce only merges. The runs come in (task, position in task)
//! order. The merge works a group at a time: the heap holds one entry
//! per run (its next key, how many values that key has in the run, and the run's position);
//! a group is every run whose head holds the smallest key, taken in run order, so a job with
//! few distinct keys pays about one comparison per value, and a job with unique keys
//! `log(runs)`. Ties go to the earlier run, so a key's values come in task order, then emit
//! order: the same order a stable sort of the concatenated buffers gives.
//!
//! Values are not gathered: [`GroupMerge::values`] reads them from the runs as `reduce` asks,
//! so a key's values cost no memory beyond what is already held (in-memory runs) or a read
//! buffer per run (spilled runs). [`merge_down`] bounds those buffers: past a fan-in, runs are
//! first merged, consecutive ones together, into longer spilled runs.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::grouped_run::GroupedRun;
use super::spill::{SpillDir, SpillError, SpillReader, SpillWriter, SpilledRun};
use crate::job::ValueSource;

/// One sorted run of a partition.
pub(crate) enum Run<K, V> {
    /// Still in memory.
    Memory(GroupedRun<K, V>),
    /// In a spill file, sorted the same way.
    Spilled(SpilledRun),
}

/// The merge of key-sorted runs, yielding each key with a stream of its values.
pub(crate) struct GroupMerge<K, V> {
    sources: Vec<Source<K, V>>,
    heap: BinaryHeap<Reverse<Head<K>>>,
    /// The runs holding the current key, in run order.
    members: Vec<usize>,
    /// How many of `members` have given all their values.
    done: usize,
    /// A spilled run that could not be read, stopping the merge.
    error: Option<SpillError>,
}

impl<K: Ord + DeserializeOwned, V: DeserializeOwned> GroupMerge<K, V> {
    /// Merges `runs`, each sorted by key (stably), given in task order; spilled runs are read
    /// through buffers of `read_buffer` bytes.
    ///
    /// # Errors
    /// A spilled run's first key could not be read.
    pub(crate) fn new(runs: Vec<Run<K, V>>, read_buffer: usize) -> Result<Self, SpillError> {
        let mut merge = GroupMerge {
            sources: Vec::with_capacity(runs.len()),
            heap: BinaryHeap::with_capacity(runs.len()),
            members: Vec::new(),
            done: 0,
            error: None,
        };
        for run in runs {
            let source = match run {
                Run::Memory(run) => {
                    Source::Memory(MemorySource { keys: run.keys.into_iter(), values: run.values.into_iter(), left: 0 })
                }
                Run::Spilled(run) => Source::Spilled(SpillReader::new(run, read_buffer)),
            };
            merge.sources.push(source);
            merge.push_head(merge.sources.len() - 1)?;
        }
        Ok(merge)
    }

    /// Moves on to the next key and returns it with its number of values, which
    /// [`values`](Self::values) then yields; `None` when every run is used up.
    ///
    /// # Errors
    /// A spilled run could not be read, now or while the previous key's values streamed.
    pub(crate) fn next_group(&mut self) -> Result<Option<(K, usize)>, SpillError> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        // Whatever the previous key's reduce left unread is skipped; its runs move on.
        for position in 0..self.members.len() {
            let source = self.members[position];
            while self.sources[source].next_value()?.is_some() {}
            self.push_head(source)?;
        }
        self.members.clear();
        self.done = 0;
        let Some(Reverse(Head { key, len, source })) = self.heap.pop() else { return Ok(None) };
        let mut total = len;
        self.members.push(source);
        // Later runs holding the same key follow, in run order (the heap breaks ties by run).
        while let Some(Reverse(next)) = self.heap.peek()
            && next.key == key
        {
            let Some(Reverse(Head { len, source, .. })) = self.heap.pop() else { break };
            total += len;
            self.members.push(source);
        }
        Ok(Some((key, total)))
    }

    /// The current key's values, in order. A spilled run that cannot be read ends them early;
    /// the next [`next_group`](Self::next_group) returns the error.
    pub(crate) fn values(&mut self) -> GroupValues<'_, K, V> {
        GroupValues { merge: self }
    }

    /// Reads run `source`'s next key onto the heap, if it has one.
    fn push_head(&mut self, source: usize) -> Result<(), SpillError> {
        if let Some((key, len)) = self.sources[source].next_group()? {
            self.heap.push(Reverse(Head { key, len, source }));
        }
        Ok(())
    }
}

/// The current key's values: see [`GroupMerge::values`].
pub(crate) struct GroupValues<'a, K, V> {
    merge: &'a mut GroupMerge<K, V>,
}

impl<K: Ord + DeserializeOwned, V: DeserializeOwned> Iterator for GroupValues<'_, K, V> {
    type Item = V;

    fn next(&mut self) -> Option<V> {
        let merge = &mut *self.merge;
        while let Some(&source) = merge.members.get(merge.done) {
            match merge.sources[source].next_value() {
                Ok(Some(value)) => return Some(value),
                Ok(None) => merge.done += 1,
                Err(error) => {
                    merge.error.get_or_insert(error);
                    merge.done = merge.members.len();
                }
            }
        }
        None
    }
}

impl<K: Ord + DeserializeOwned, V: DeserializeOwned> ValueSource<V> for GroupValues<'_, K, V> {
    fn held(&mut self) -> &[V] {
        let merge = &mut *self.merge;
        while let Some(&source) = merge.members.get(merge.done) {
            match &merge.sources[source] {
                Source::Memory(memory) if memory.left == 0 => merge.done += 1,
                Source::Memory(memory) => return &memory.values.as_slice()[..memory.left],
                Source::Spilled(_) => break,
            }
        }
        &[]
    }

    fn drop_held(&mut self, count: usize) {
        let merge = &mut *self.merge;
        if let Some(&source) = merge.members.get(merge.done)
            && let Source::Memory(memory) = &mut merge.sources[source]
        {
            let count = count.min(memory.left);
            memory.left -= count;
            if let Some(last) = count.checked_sub(1) {
                memory.values.nth(last);
            }
        }
    }
}

/// One run being merged.
enum Source<K, V> {
    Memory(MemorySource<K, V>),
    Spilled(SpillReader<K, V>),
}

impl<K: Ord + DeserializeOwned, V: DeserializeOwned> Source<K, V> {
    fn next_group(&mut self) -> Result<Option<(K, usize)>, SpillError> {
        match self {
            Source::Memory(memory) => Ok(memory.next_group()),
            Source::Spilled(reader) => {
                Ok(reader.next_group()?.map(|(key, len)| (key, usize::try_from(len).unwrap_or(usize::MAX))))
            }
        }
    }

    #[inline]
    fn next_value(&mut self) -> Result<Option<V>, SpillError> {
        match self {
            Source::Memory(memory) => Ok(memory.next_value()),
            Source::Spilled(reader) => reader.next_value(),
        }
    }
}

/// An in-memory run: its keys with their counts, and its values.
struct MemorySource<K, V> {
    keys: std::vec::IntoIter<(K, usize)>,
    values: std::vec::IntoIter<V>,
    /// Values of the current key not yet taken.
    left: usize,
}

impl<K, V> MemorySource<K, V> {
    fn next_group(&mut self) -> Option<(K, usize)> {
        let (key, len) = self.keys.next()?;
        self.left = len;
        Some((key, len))
    }

    #[inline]
    fn next_value(&mut self) -> Option<V> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        self.values.next()
    }
}

/// The next key of one run, ordered by key, then by run.
struct Head<K> {
    key: K,
    len: usize,
    source: usize,
}

impl<K: Ord> PartialEq for Head<K> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<K: Ord> Eq for Head<K> {}

impl<K: Ord> PartialOrd for Head<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K: Ord> Ord for Head<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key).then(self.source.cmp(&other.source))
    }
}

/// How many of `runs` are spilled.
pub(crate) fn spilled_count<K, V>(runs: &[Run<K, V>]) -> usize {
    runs.iter().filter(|run| matches!(run, Run::Spilled(_))).count()
}

/// Merges consecutive runs, `fan_in` at a time, into spilled runs (new files in `dir`) until
/// no more than `fan_in` are spilled, so the read buffers of the final merge stay within the
/// budget however much was spilled. Merging consecutive runs keeps their order, so the final
/// merge gives the same groups, in the same order, as merging them all at once.
///
/// # Errors
/// A run could not be read, or a merged one written.
pub(crate) fn merge_down<K, V>(
    mut runs: Vec<Run<K, V>>,
    fan_in: usize,
    read_buffer: usize,
    dir: &SpillDir,
) -> Result<Vec<Run<K, V>>, SpillError>
where
    K: Ord + Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    let fan_in = fan_in.max(2);
    while spilled_count(&runs) > fan_in {
        let mut merged = Vec::with_capacity(runs.len().div_ceil(fan_in));
        let mut rest = runs.into_iter().peekable();
        while rest.peek().is_some() {
            let chunk: Vec<Run<K, V>> = rest.by_ref().take(fan_in).collect();
            if chunk.len() == 1 {
                merged.extend(chunk);
                continue;
            }
            let mut writer = SpillWriter::create(dir)?;
            write_merged(&mut writer, chunk, read_buffer)?;
            merged.extend(writer.finish()?.into_iter().map(Run::Spilled));
        }
        runs = merged;
    }
    Ok(runs)
}

/// Writes the merge of `runs` (given in order) as the next section of `writer`.
///
/// # Errors
/// A run could not be read, or the section written.
pub(crate) fn write_merged<K, V>(
    writer: &mut SpillWriter,
    runs: Vec<Run<K, V>>,
    read_buffer: usize,
) -> Result<(), SpillError>
where
    K: Ord + Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    let mut merge = GroupMerge::new(runs, read_buffer)?;
    let start = writer.start_section();
    while let Some((key, len)) = merge.next_group()? {
        writer.write_group::<K, V>(&key, len, merge.values())?;
    }
    writer.end_section(start);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::grouped_run::GroupedRun;
    use super::super::spill::{SpillDir, SpillWriter};
    use super::{GroupMerge, Run, merge_down, spilled_count};
    use crate::job::ValueSource;

    type Pairs = Vec<(u8, String)>;

    fn pairs(items: &[(u8, &str)]) -> Pairs {
        items.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    }

    /// Every group with its values, reading only `take` values of each key.
    fn groups(runs: Vec<Run<u8, String>>, take: usize) -> Vec<(u8, usize, Vec<String>)> {
        let mut merge = GroupMerge::new(runs, 16).unwrap();
        let mut out = Vec::new();
        while let Some((key, len)) = merge.next_group().unwrap() {
            out.push((key, len, merge.values().take(take).collect()));
        }
        out
    }

    fn memory(runs: &[Pairs]) -> Vec<Run<u8, String>> {
        runs.iter().cloned().map(|pairs| Run::Memory(GroupedRun::from_sorted_pairs(pairs))).collect()
    }

    fn spilled(dir: &SpillDir, runs: &[Pairs]) -> Vec<Run<u8, String>> {
        let mut writer = SpillWriter::create(dir).unwrap();
        for run in runs {
            writer.write_section(&GroupedRun::from_sorted_pairs(run.clone())).unwrap();
        }
        writer.finish().unwrap().into_iter().map(Run::Spilled).collect()
    }

    fn example() -> Vec<Pairs> {
        vec![
            pairs(&[(1, "a1"), (1, "a2"), (3, "a3")]),
            vec![],
            pairs(&[(1, "c1"), (2, "c2"), (3, "c3"), (3, "c4")]),
            pairs(&[(0, "d1")]),
        ]
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn a_keys_values_come_in_run_order_then_run_position() {
        assert_eq!(
            groups(memory(&example()), usize::MAX),
            vec![
                (0, 1, strings(&["d1"])),
                (1, 3, strings(&["a1", "a2", "c1"])),
                (2, 1, strings(&["c2"])),
                (3, 3, strings(&["a3", "c3", "c4"]))
            ]
        );
    }

    #[test]
    fn it_equals_a_stable_sort_of_the_concatenated_runs() {
        let runs = vec![pairs(&[(2, "x"), (2, "y"), (5, "z")]), pairs(&[(2, "p"), (4, "q")]), pairs(&[(5, "r")])];
        let mut sorted: Vec<_> = runs.iter().flatten().cloned().collect();
        sorted.sort_by_key(|(key, _)| *key);
        let flat: Vec<_> = groups(memory(&runs), usize::MAX)
            .into_iter()
            .flat_map(|(k, _, vs)| vs.into_iter().map(move |v| (k, v)))
            .collect();
        assert_eq!(flat, sorted);
    }

    #[test]
    fn spilled_and_mixed_runs_merge_like_in_memory_ones() {
        let temp = tempfile::tempdir().unwrap();
        let dir = SpillDir::new(temp.path().to_owned());
        let expected = groups(memory(&example()), usize::MAX);
        assert_eq!(groups(spilled(&dir, &example()), usize::MAX), expected);
        let runs = example();
        let mut mixed = spilled(&dir, &runs[..2]);
        mixed.extend(memory(&runs[2..3]));
        mixed.extend(spilled(&dir, &runs[3..]));
        assert_eq!(groups(mixed, usize::MAX), expected);
    }

    /// Every group, its values read the way `Values::streamed` reads them: each stretch held
    /// in memory lent, then dropped `step` values at a time, the rest one by one.
    fn lent_groups(runs: Vec<Run<u8, String>>, step: usize) -> Vec<(u8, usize, Vec<String>)> {
        let mut merge = GroupMerge::new(runs, 16).unwrap();
        let mut out = Vec::new();
        while let Some((key, len)) = merge.next_group().unwrap() {
            let mut values = merge.values();
            let mut read = Vec::new();
            loop {
                let held = values.held();
                if held.is_empty() {
                    match values.next() {
                        Some(value) => read.push(value),
                        None => break,
                    }
                    continue;
                }
                let count = held.len().min(step);
                read.extend(held[..count].iter().cloned());
                values.drop_held(count);
            }
            out.push((key, len, read));
        }
        out
    }

    #[test]
    fn values_lent_where_they_are_held_are_the_values_read_one_by_one() {
        let temp = tempfile::tempdir().unwrap();
        let dir = SpillDir::new(temp.path().to_owned());
        let expected = groups(memory(&example()), usize::MAX);
        let runs = example();
        let mut mixed = memory(&runs[..1]);
        mixed.extend(spilled(&dir, &runs[1..3]));
        mixed.extend(memory(&runs[3..]));
        for step in [1, 2, usize::MAX] {
            assert_eq!(lent_groups(memory(&example()), step), expected, "step {step}");
            assert_eq!(lent_groups(spilled(&dir, &example()), step), expected, "step {step}");
        }
        assert_eq!(lent_groups(mixed, 1), expected);
    }

    #[test]
    fn values_left_unread_are_skipped() {
        let temp = tempfile::tempdir().unwrap();
        let dir = SpillDir::new(temp.path().to_owned());
        let expected = vec![
            (0, 1, strings(&["d1"])),
            (1, 3, strings(&["a1"])),
            (2, 1, strings(&["c2"])),
            (3, 3, strings(&["a3"])),
        ];
        assert_eq!(groups(memory(&example()), 1), expected);
        assert_eq!(groups(spilled(&dir, &example()), 1), expected);
    }

    #[test]
    fn merging_down_to_the_fan_in_keeps_every_group_and_its_order() {
        let temp = tempfile::tempdir().unwrap();
        let dir = SpillDir::new(temp.path().to_owned());
        // 30 runs over a few repeating keys, every third in memory, the rest spilled.
        let make = || -> Vec<Run<u8, String>> {
            (0..30u8)
                .flat_map(|run| {
                    let mut items: Pairs = (0..run % 5).map(|i| ((run + i) % 4, format!("{run}.{i}"))).collect();
                    items.sort_by_key(|(key, _)| *key);
                    if run % 3 == 0 { memory(&[items]) } else { spilled(&dir, &[items]) }
                })
                .collect()
        };
        let expected = groups(make(), usize::MAX);
        for fan_in in [2, 3, 8] {
            let merged = merge_down(make(), fan_in, 16, &dir).unwrap();
            assert!(spilled_count(&merged) <= fan_in, "fan-in {fan_in}");
            assert_eq!(groups(merged, usize::MAX), expected, "fan-in {fan_in}");
        }
        assert_eq!(merge_down(make(), 64, 16, &dir).unwrap().len(), 30, "nothing to merge under the fan-in");
    }
}
