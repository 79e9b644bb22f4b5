//! Key ranges: how a kind is cut into shards.

use std::ops::{Bound, ControlFlow};

/// A contiguous range of entity ids: from `start` (inclusive) to `end` (exclusive), where
/// `None` is unbounded.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct KeyRange {
    /// The first id in the range, or `None` for "from the first id".
    pub start: Option<String>,
    /// The first id after the range, or `None` for "to the last id".
    pub end: Option<String>,
}

impl KeyRange {
    /// Every id.
    pub fn all() -> Self {
        KeyRange { start: None, end: None }
    }

    /// A range that holds no id.
    pub fn empty() -> Self {
        KeyRange { start: Some(String::new()), end: Some(String::new()) }
    }

    /// Whether `id` falls in the range.
    pub fn contains(&self, id: &str) -> bool {
        self.start.as_deref().is_none_or(|start| id >= start) && self.end.as_deref().is_none_or(|end| id < end)
    }

    /// The range as `Bound`s, for range queries.
    pub fn bounds(&self) -> (Bound<&str>, Bound<&str>) {
        let start = self.start.as_deref().map_or(Bound::Unbounded, Bound::Included);
        let end = self.end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        (start, end)
    }

    /// Whether the range can hold no id at all (`start >= end`).
    pub fn is_empty(&self) -> bool {
        matches!((&self.start, &self.end), (Some(start), Some(end)) if start >= end)
    }
}

/// One shard of a kind: its id range and how many entities it held when it was split.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Split {
    /// The shard's position among the kind's shards, from 0.
    pub index: usize,
    /// The ids the shard covers.
    pub range: KeyRange,
    /// How many entities the range held when split.
    pub len: u64,
}

/// Cuts `count` ids, visited in ascending order by `for_each_id`, into `shards` ranges of
/// sizes differing by at most one. Visits only the ids up to the last boundary and keeps only
/// the boundaries. `for_each_id` stops when its visitor returns `false`.
pub(crate) fn split_sorted_ids<E>(
    count: u64,
    shards: usize,
    for_each_id: impl FnOnce(&mut dyn FnMut(u64, &str) -> bool) -> Result<(), E>,
) -> Result<Vec<Split>, E> {
    collect_splits(shards, |each| cut_sorted_ids(count, shards, for_each_id, each))
}

/// The ranges `cut` hands over, gathered: [`Store::split`](super::Store::split) from a
/// streamed cut.
pub(crate) fn collect_splits<E>(
    shards: usize,
    cut: impl FnOnce(&mut dyn FnMut(Split) -> ControlFlow<()>) -> Result<(), E>,
) -> Result<Vec<Split>, E> {
    let mut splits = Vec::with_capacity(shards.max(1));
    cut(&mut |split| {
        splits.push(split);
        ControlFlow::Continue(())
    })?;
    Ok(splits)
}

/// [`split_sorted_ids`], handing each range to `each` as soon as the walk reaches its end, so a
/// caller can map the first ranges while the rest are cut. Stops walking when `each` breaks.
pub(crate) fn cut_sorted_ids<E>(
    count: u64,
    shards: usize,
    for_each_id: impl FnOnce(&mut dyn FnMut(u64, &str) -> bool) -> Result<(), E>,
    each: &mut dyn FnMut(Split) -> ControlFlow<()>,
) -> Result<(), E> {
    let mut cutter = Cutter::new(count, shards, each);
    if count > 0 && cutter.wants_ids() {
        for_each_id(&mut |position, id| cutter.visit(position, id))?;
    }
    cutter.finish();
    Ok(())
}

/// The sizes of the ranges [`split_sorted_ids`] cuts `count` ids into, without reading them.
pub(crate) fn range_sizes(count: u64, shards: usize) -> Vec<u64> {
    let mut ends = boundary_positions(count, shards);
    ends.push(count);
    let mut start = 0;
    ends.into_iter()
        .map(|end| {
            let size = end - start;
            start = end;
            size
        })
        .collect()
}

/// The state of a cut: the boundary positions, and the ranges handed over so far.
struct Cutter<'a> {
    count: u64,
    shards: usize,
    /// Where the boundaries are ([`boundary_positions`]).
    positions: Vec<u64>,
    /// Ranges handed over.
    cut: usize,
    /// The start of the next range, and its position.
    start: Option<String>,
    start_position: u64,
    each: &'a mut dyn FnMut(Split) -> ControlFlow<()>,
    stopped: bool,
}

impl<'a> Cutter<'a> {
    fn new(count: u64, shards: usize, each: &'a mut dyn FnMut(Split) -> ControlFlow<()>) -> Self {
        let positions = boundary_positions(count, shards);
        Cutter { count, shards: shards.max(1), positions, cut: 0, start: None, start_position: 0, each, stopped: false }
    }

    /// Whether boundaries remain to be found.
    fn wants_ids(&self) -> bool {
        !self.stopped && self.cut < self.positions.len()
    }

    /// Takes the id at `position`; whether to go on.
    fn visit(&mut self, position: u64, id: &str) -> bool {
        while self.wants_ids() && self.positions[self.cut] == position {
            let range = KeyRange { start: self.start.take(), end: Some(id.to_owned()) };
            self.start = Some(id.to_owned());
            let len = position - self.start_position;
            self.start_position = position;
            self.hand_over(Split { index: self.cut, range, len });
        }
        self.wants_ids()
    }

    fn hand_over(&mut self, split: Split) {
        self.cut += 1;
        if (self.each)(split).is_break() {
            self.stopped = true;
        }
    }

    /// Hands over the ranges after the last boundary found.
    fn finish(mut self) {
        // The last range runs to the end. Had the kind shrunk under us, the ranges after it
        // are empty rather than overlapping it.
        if !self.stopped && self.cut < self.shards {
            let range = KeyRange { start: self.start.take(), end: None };
            let len = self.count.saturating_sub(self.start_position);
            self.hand_over(Split { index: self.cut, range, len });
        }
        while !self.stopped && self.cut < self.shards {
            self.hand_over(Split { index: self.cut, range: KeyRange::empty(), len: 0 });
        }
    }
}

/// The positions, among `count` ids in order, of the ids that start the 2nd to last of
/// `shards` ranges: the i-th is i * count / shards (1 <= i < shards). They are non-decreasing
/// and below `count`, and repeat when there are fewer ids than shards.
pub(crate) fn boundary_positions(count: u64, shards: usize) -> Vec<u64> {
    let shards = shards.max(1) as u64;
    // u128 so that i * count cannot overflow.
    (1..shards).map(|i| ((u128::from(i) * u128::from(count)) / u128::from(shards)) as u64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(count: u64) -> Vec<String> {
        (0..count).map(|i| format!("{i:04}")).collect()
    }

    /// A visitor of ids in order, as a store's walk calls it.
    type Visit<'v> = &'v mut dyn FnMut(u64, &str) -> bool;

    /// Walks `ids` for a cut, counting the ids it was shown.
    fn walk<'a>(ids: &'a [String], shown: &'a mut usize) -> impl FnOnce(Visit<'_>) -> Result<(), ()> + 'a {
        move |visit| {
            for (position, id) in ids.iter().enumerate() {
                *shown += 1;
                if !visit(position as u64, id) {
                    break;
                }
            }
            Ok(())
        }
    }

    #[test]
    fn the_sizes_known_before_the_walk_are_the_ranges_it_cuts() {
        for (count, shards) in [(0, 1), (0, 4), (1, 4), (3, 4), (10, 4), (64, 64), (1000, 7), (5, 1)] {
            let all = ids(count);
            let splits = split_sorted_ids(count, shards, walk(&all, &mut 0)).unwrap();
            assert_eq!(splits.len(), shards, "{count} ids in {shards}");
            let held: Vec<u64> =
                splits.iter().map(|s| all.iter().filter(|id| s.range.contains(id)).count() as u64).collect();
            assert_eq!(held, splits.iter().map(|s| s.len).collect::<Vec<_>>(), "{count} ids in {shards}");
            assert_eq!(held, range_sizes(count, shards), "{count} ids in {shards}");
            assert!(held.iter().max().unwrap() - held.iter().min().unwrap() <= 1, "{held:?}");
            assert_eq!(splits.iter().map(|s| s.index).collect::<Vec<_>>(), (0..shards).collect::<Vec<_>>());
        }
    }

    #[test]
    fn each_range_is_handed_over_as_the_walk_reaches_its_end_and_a_break_stops_the_walk() {
        let all = ids(100);
        let mut shown = 0;
        let mut handed = Vec::new();
        cut_sorted_ids(100, 10, walk(&all, &mut shown), &mut |split| {
            handed.push(split);
            if handed.len() == 2 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
        .unwrap();
        assert_eq!(handed.len(), 2);
        assert_eq!(handed[1].range, KeyRange { start: Some("0010".into()), end: Some("0020".into()) });
        assert_eq!(shown, 21, "the walk stopped at the second range's end");
    }

    #[test]
    fn a_kind_that_shrank_during_the_walk_ends_in_one_open_range_and_empty_ones() {
        let all = ids(5);
        // Counted 10, but only 5 ids are left by the time they are walked.
        let splits = split_sorted_ids(10, 4, walk(&all, &mut 0)).unwrap();
        let ranges: Vec<&KeyRange> = splits.iter().map(|s| &s.range).collect();
        assert_eq!(ranges[0], &KeyRange { start: None, end: Some("0002".into()) });
        assert_eq!(ranges[1], &KeyRange { start: Some("0002".into()), end: None });
        assert!(ranges[2].is_empty() && ranges[3].is_empty());
    }
}
