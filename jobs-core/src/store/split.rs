//! Key ranges: how a kind is cut into shards.

use std::ops::Bound;

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
    let shards = shards.max(1);
    // The i-th boundary is the id at position i * count / shards (1 <= i < shards): positions
    // are non-decreasing and below `count`, and repeat when there are fewer ids than shards.
    let positions: Vec<u64> = (1..shards as u64).map(|i| boundary_position(count, shards as u64, i)).collect();
    let mut boundaries: Vec<String> = Vec::with_capacity(positions.len());
    if count > 0 && !positions.is_empty() {
        for_each_id(&mut |position, id| {
            while boundaries.len() < positions.len() && positions[boundaries.len()] == position {
                boundaries.push(id.to_owned());
            }
            boundaries.len() < positions.len()
        })?;
    }
    let mut splits = Vec::with_capacity(shards);
    let mut start: Option<String> = None;
    let mut start_position = 0;
    for index in 0..shards {
        let split = match boundaries.get(index).zip(positions.get(index)) {
            Some((end, &end_position)) => {
                let split = Split {
                    index,
                    range: KeyRange { start: start.take(), end: Some(end.clone()) },
                    len: end_position - start_position,
                };
                start = Some(end.clone());
                start_position = end_position;
                split
            }
            // The last range runs to the end. Had the kind shrunk under us, the shards
            // after it are empty rather than overlapping it.
            None if index == boundaries.len() => Split {
                index,
                range: KeyRange { start: start.clone(), end: None },
                len: count.saturating_sub(start_position),
            },
            None => Split { index, range: KeyRange::empty(), len: 0 },
        };
        splits.push(split);
    }
    Ok(splits)
}

fn boundary_position(count: u64, shards: u64, i: u64) -> u64 {
    // u128 so that i * count cannot overflow.
    ((u128::from(i) * u128::from(count)) / u128::from(shards)) as u64
}
