//! A run's output as Oppia stored it: identical lines folded, then cut at a limit.
//!
//! Two forms are kept for a completed run, both outside its record:
//!
//! * the **full output**: every line the job produced, in key order, unfolded: nothing is
//!   lost, not even where a repeated line sat ([`RunLog::full_output`], `jobs output ID --full`,
//!   [`RunLog::export_full_output`]);
//! * the **stored output**: the full output [`fold`]ed (identical lines become `(Nx) line`, in
//!   first-seen order; a line seen once is kept as it is) and [`truncate`]d to a character
//!   limit, 900,000 by default, the last line ending with `<TRUNCATED>` when cut
//!   ([`RunLog::stored_output`], `jobs output ID`, the admin page).
//!
//! Both are written in chunks of about [`CHUNK_BYTES`], so no single value is huge and the
//! output can be streamed back.
//!
//! ```
//! use jobs_core::runs::output;
//!
//! let lines = ["b", "a", "b", "b", "c"].map(String::from);
//! assert_eq!(output::fold(&lines), ["(3x) b", "a", "c"]);
//!
//! let stored = output::stored(&lines, 6);
//! assert_eq!(stored.lines, ["(3x) b", "<TRUNCATED>"]);
//! assert!(stored.summary.truncated);
//! ```
//!
//! [`RunLog::full_output`]: super::RunLog::full_output
//! [`RunLog::export_full_output`]: super::RunLog::export_full_output
//! [`RunLog::stored_output`]: super::RunLog::stored_output

use std::borrow::Cow;

use rustc_hash::FxHashMap;

use super::OutputSummary;

/// The default limit of the stored output, in characters (Oppia's).
pub const DEFAULT_OUTPUT_LIMIT: usize = 900_000;

/// What ends the last line of a stored output that was cut.
pub const TRUNCATED_MARKER: &str = "<TRUNCATED>";

/// About how many bytes of lines one stored chunk holds (a longer line is a chunk of its own).
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Which form of a run's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputKind {
    /// Folded and truncated: what `jobs output ID` shows.
    Stored,
    /// Every line, as produced: what `jobs output ID --full` shows.
    Full,
}

/// Folds identical lines into `(Nx) line`, in the order each line was first seen. A line seen
/// once is kept as it is.
pub fn fold<S: AsRef<str>>(lines: &[S]) -> Vec<String> {
    count_distinct(lines).into_iter().map(|(line, count)| folded(line, count).into_owned()).collect()
}

/// Each distinct line, in the order first seen, with how many times it occurs.
fn count_distinct<S: AsRef<str>>(lines: &[S]) -> Vec<(&str, u64)> {
    let mut first_seen: FxHashMap<&str, usize> = FxHashMap::default();
    let mut counted: Vec<(&str, u64)> = Vec::new();
    for line in lines {
        let line = line.as_ref();
        match first_seen.get(line) {
            Some(&at) => counted[at].1 += 1,
            None => {
                first_seen.insert(line, counted.len());
                counted.push((line, 1));
            }
        }
    }
    counted
}

/// `line` as folded: `(Nx) line` when it occurs more than once.
fn folded(line: &str, count: u64) -> Cow<'_, str> {
    if count == 1 { Cow::Borrowed(line) } else { Cow::Owned(format!("({count}x) {line}")) }
}

/// Cuts `lines` so that their characters (Unicode scalar values, line breaks not counted) add
/// up to at most `limit`. When anything is cut, the last kept line is cut at the limit and
/// [`TRUNCATED_MARKER`] appended to it (so it may be just the marker) and the rest dropped.
/// Returns whether anything was cut.
pub fn truncate(lines: &mut Vec<String>, limit: usize) -> bool {
    let mut remaining = limit;
    for at in 0..lines.len() {
        let chars = lines[at].chars().count();
        if chars <= remaining {
            remaining -= chars;
            continue;
        }
        let line = &mut lines[at];
        let cut = line.char_indices().nth(remaining).map_or(line.len(), |(byte, _)| byte);
        line.truncate(cut);
        line.push_str(TRUNCATED_MARKER);
        lines.truncate(at + 1);
        return true;
    }
    false
}

/// The stored form of a run's output and its summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOutput {
    /// The folded, truncated lines.
    pub lines: Vec<String>,
    /// What they hold.
    pub summary: OutputSummary,
}

/// Folds `full` and truncates it at `limit` characters: [`fold`] then [`truncate`], copying
/// only the lines kept (a run's full output can be far longer than what is stored).
pub fn stored<S: AsRef<str>>(full: &[S], limit: usize) -> StoredOutput {
    let counted = count_distinct(full);
    let distinct = counted.len() as u64;
    let mut lines = Vec::new();
    let mut remaining = limit;
    let mut truncated = false;
    for (line, count) in counted {
        let line = folded(line, count);
        let chars = line.chars().count();
        if chars <= remaining {
            remaining -= chars;
            lines.push(line.into_owned());
            continue;
        }
        let cut = line.char_indices().nth(remaining).map_or(line.len(), |(byte, _)| byte);
        let mut last = String::with_capacity(cut + TRUNCATED_MARKER.len());
        last.push_str(&line[..cut]);
        last.push_str(TRUNCATED_MARKER);
        lines.push(last);
        remaining = 0;
        truncated = true;
        break;
    }
    let summary = OutputSummary {
        lines: full.len() as u64,
        distinct,
        stored_lines: lines.len() as u64,
        stored_chars: (limit - remaining) as u64,
        truncated,
        limit: limit as u64,
        full_output_kept: true,
    };
    StoredOutput { lines, summary }
}

/// Splits `lines` into consecutive chunks of about [`CHUNK_BYTES`] each.
pub(crate) fn chunks(lines: &[String]) -> impl Iterator<Item = &[String]> {
    let mut rest = lines;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0;
        let mut end = 0;
        while end < rest.len() && (end == 0 || bytes + rest[end].len() <= CHUNK_BYTES) {
            bytes += rest[end].len();
            end += 1;
        }
        let (chunk, tail) = rest.split_at(end);
        rest = tail;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strings(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn identical_lines_fold_in_first_seen_order() {
        assert_eq!(fold(&strings(&["x", "y", "x", "z", "y", "x"])), ["(3x) x", "(2x) y", "z"]);
        assert_eq!(fold::<String>(&[]), Vec::<String>::new());
    }

    #[test]
    fn output_within_the_limit_is_kept_whole() {
        let mut lines = strings(&["abc", "de"]);
        assert!(!truncate(&mut lines, 5));
        assert_eq!(lines, ["abc", "de"]);
    }

    #[test]
    fn output_over_the_limit_is_cut_and_ends_with_the_marker() {
        let mut lines = strings(&["abc", "defg", "h"]);
        assert!(truncate(&mut lines, 5));
        assert_eq!(lines, ["abc", "de<TRUNCATED>"]);
        let mut lines = strings(&["abc", "defg"]);
        assert!(truncate(&mut lines, 3), "a cut at a line boundary leaves the marker alone");
        assert_eq!(lines, ["abc", "<TRUNCATED>"]);
    }

    #[test]
    fn the_limit_counts_characters_not_bytes() {
        let mut lines = strings(&["ééé", "ü"]);
        assert!(truncate(&mut lines, 2));
        assert_eq!(lines, ["éé<TRUNCATED>"]);
    }

    #[test]
    fn the_default_limit_cuts_oppia_sized_output() {
        let full: Vec<String> = (0..200_000).map(|i| format!("line {i:07}")).collect();
        let stored = stored(&full, DEFAULT_OUTPUT_LIMIT);
        assert!(stored.summary.truncated);
        assert_eq!(stored.summary.stored_chars, DEFAULT_OUTPUT_LIMIT as u64);
        assert!(stored.lines.last().unwrap().ends_with(TRUNCATED_MARKER));
        assert_eq!(stored.summary.lines, 200_000);
    }

    proptest! {
        /// Chunks cover the lines exactly once, in order, and stay near the chunk size.
        #[test]
        fn chunks_partition_the_lines(lens in proptest::collection::vec(0usize..300_000, 0..40)) {
            let lines: Vec<String> = lens.iter().map(|n| "x".repeat(*n)).collect();
            let chunked: Vec<&[String]> = chunks(&lines).collect();
            prop_assert_eq!(chunked.concat(), lines.clone());
            for chunk in chunked {
                prop_assert!(chunk.len() == 1 || chunk.iter().map(String::len).sum::<usize>() <= CHUNK_BYTES);
            }
        }

        /// Folding keeps every line: the counts add back up to the input's length.
        #[test]
        fn folding_loses_no_line(lines in proptest::collection::vec("[abc]{0,2}", 0..50)) {
            // No input line starts with `(`, so a folded line that does carries a count.
            let total: u64 = fold(&lines)
                .iter()
                .map(|line| {
                    line.strip_prefix('(')
                        .and_then(|rest| rest.split_once("x) "))
                        .map_or(1, |(count, _)| count.parse::<u64>().unwrap())
                })
                .sum();
            prop_assert_eq!(total, lines.len() as u64);
        }

        /// `stored`, which copies only what it keeps, is `fold` then `truncate`, summary included.
        #[test]
        fn stored_is_fold_then_truncate(
            lines in proptest::collection::vec("[aé(x]{0,6}", 0..40),
            limit in 0usize..80,
        ) {
            let mut expected = fold(&lines);
            let truncated = truncate(&mut expected, limit);
            let marker = if truncated { TRUNCATED_MARKER.chars().count() } else { 0 };
            let chars = expected.iter().map(|l| l.chars().count()).sum::<usize>() - marker;
            let stored = stored(&lines, limit);
            prop_assert_eq!(&stored.lines, &expected);
            prop_assert_eq!(stored.summary.truncated, truncated);
            prop_assert_eq!(stored.summary.stored_chars, chars as u64);
            prop_assert_eq!(stored.summary.stored_lines, expected.len() as u64);
            prop_assert_eq!(stored.summary.distinct, fold(&lines).len() as u64);
        }
    }
}
