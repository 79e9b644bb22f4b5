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

use std::fmt;

use hashbrown::HashTable;
use rustc_hash::FxHashSet;
use xxhash_rust::xxh3::Xxh3Default;

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
    // With no limit every distinct line's text is held and nothing is cut.
    let mut fold = StoredFold::new(usize::MAX);
    for line in lines {
        fold.push(line.as_ref());
    }
    fold.into_folded().0
}

/// `line` as folded: `(Nx) line` when it occurs more than once.
fn folded(line: Box<str>, count: u64) -> String {
    if count == 1 { line.into_string() } else { format!("({count}x) {line}") }
}

/// Cuts `lines` so that their characters (Unicode scalar values, line breaks not counted) add
/// up to at most `limit`. When anything is cut, the last kept line is cut at the limit and
/// [`TRUNCATED_MARKER`] appended to it (so it may be just the marker) and the rest dropped.
/// Returns whether anything was cut.
pub fn truncate(lines: &mut Vec<String>, limit: usize) -> bool {
    truncate_counting(lines, limit).0
}

/// [`truncate`], also returning the characters kept (the marker not counted).
fn truncate_counting(lines: &mut Vec<String>, limit: usize) -> (bool, usize) {
    let mut remaining = limit;
    for at in 0..lines.len() {
        // Counted only as far as the limit: a line can be far longer.
        let (_, chars) = first_chars(&lines[at], remaining.saturating_add(1));
        if chars <= remaining {
            remaining -= chars;
            continue;
        }
        let line = &mut lines[at];
        let cut = first_chars(line, remaining).0.len();
        line.truncate(cut);
        line.push_str(TRUNCATED_MARKER);
        // The line cut may have been far longer than what is left of it.
        line.shrink_to_fit();
        lines.truncate(at + 1);
        return (true, limit);
    }
    (false, limit - remaining)
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
/// only the lines that can be stored (a run's full output can be far longer than what is
/// stored). It pushes each line into a [`StoredFold`], which can also take them as they come.
pub fn stored<S: AsRef<str>>(full: &[S], limit: usize) -> StoredOutput {
    let mut fold = StoredFold::new(limit);
    for line in full {
        fold.push(line.as_ref());
    }
    fold.finish()
}

/// Folds and truncates a run's output as it comes, a line or a piece of text at a time: what
/// [`stored`] returns, without holding the output, not even a whole line of it.
///
/// It holds the text of distinct lines, in first-seen order with their counts, only while
/// their characters (unfolded, counted as [`truncate`] counts them) add up to at most the
/// limit, plus the first distinct line that takes them past it; of each line, at most its
/// first `limit + 1` characters. That is enough: a folded line is never shorter than the line
/// itself, so the folded lines reach the limit no later than that last line, and the stored
/// output, cut there, lies within the text held.
///
/// Lines are told apart by a 128-bit hash (XXH3) and their length, and those held
/// whole also by their text, so their counts are exact however late a repeat comes; a line
/// longer than the limit, or first seen once the limit is passed, is counted by its hash
/// alone (towards [`OutputSummary::distinct`], say), so two such lines would be counted as
/// one only if their hashes collided.
///
/// ```
/// use jobs_core::runs::output::{self, StoredFold};
///
/// let lines = ["b", "a", "b", "b", "c"];
/// let mut fold = StoredFold::new(6);
/// for line in lines {
///     fold.push(line);
/// }
/// assert_eq!(fold.finish(), output::stored(&lines, 6));
///
/// // The same output in pieces that cut lines.
/// let mut pieces = StoredFold::new(6);
/// pieces.push_text("b\na");
/// pieces.push_text("\nb\nb\nc\n");
/// assert_eq!(pieces.finish(), output::stored(&lines, 6));
/// ```
#[derive(Debug)]
pub struct StoredFold {
    /// The limit, in characters.
    limit: usize,
    /// Lines pushed.
    lines: u64,
    /// Indices into `held`, by the low half of the line's hash.
    table: HashTable<usize>,
    /// The distinct lines whose text is held, in first-seen order.
    held: Vec<HeldLine>,
    /// Characters of the lines in `held`, unfolded (saturating).
    held_chars: usize,
    /// Characters of the longest line in `held` whose text is whole.
    longest_whole: usize,
    /// The hashes of the distinct lines first seen once `held_chars` passed the limit.
    past: FxHashSet<u128>,
    /// The line being pushed.
    current: CurrentLine,
}

/// A distinct line whose text a [`StoredFold`] holds.
#[derive(Debug)]
struct HeldLine {
    /// The line, or its first `limit + 1` characters if it is longer.
    text: Box<str>,
    /// The whole line's characters.
    chars: usize,
    hash: u128,
    /// How many times it was pushed.
    count: u64,
}

/// The line a [`StoredFold`] is being given, piece by piece.
#[derive(Debug, Default)]
struct CurrentLine {
    hasher: LineHasher,
    /// Its first characters, at most the fold's limit + 1.
    text: String,
    /// The characters in `text`.
    text_chars: usize,
    /// All its characters so far.
    chars: usize,
}

/// The hash of the line being pushed. XXH3 rather than a keyed hash: it reads a report's
/// every byte, on the run's one thread that hands the report on, at many times SipHash's
/// speed; a collision only merges two long lines' counts.
#[derive(Clone, Default)]
struct LineHasher(Xxh3Default);

impl fmt::Debug for LineHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LineHasher")
    }
}

impl StoredFold {
    /// An empty fold whose stored output is cut at `limit` characters.
    pub fn new(limit: usize) -> Self {
        StoredFold {
            limit,
            lines: 0,
            table: HashTable::new(),
            held: Vec::new(),
            held_chars: 0,
            longest_whole: 0,
            past: FxHashSet::default(),
            current: CurrentLine::default(),
        }
    }

    /// Adds the output's next line (without its line break).
    pub fn push(&mut self, line: &str) {
        self.piece(line);
        self.end_line();
    }

    /// Adds the next piece of the output as text: lines each ending in `\n`, the last one
    /// possibly cut, to be continued by the next piece. A line still open when the fold is
    /// [finished](Self::finish) counts as a line.
    pub fn push_text(&mut self, mut text: &str) {
        while let Some(at) = text.find('\n') {
            self.piece(&text[..at]);
            self.end_line();
            text = &text[at + 1..];
        }
        self.piece(text);
    }

    /// Adds `text` to the current line.
    fn piece(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let cap = self.text_cap();
        let current = &mut self.current;
        current.hasher.0.update(text.as_bytes());
        if current.text_chars >= cap {
            current.chars += text.chars().count();
            return;
        }
        let (kept, kept_chars) = first_chars(text, cap - current.text_chars);
        current.text.push_str(kept);
        current.text_chars += kept_chars;
        current.chars += kept_chars + text[kept.len()..].chars().count();
    }

    /// The characters of the current line worth keeping. Its first `limit + 1` while the held
    /// lines are within the limit, as it may be held; past it, a line is only counted, as a
    /// repeat of a held line (which needs its text only if it may equal a line held whole) or
    /// by its hash.
    fn text_cap(&self) -> usize {
        if self.held_chars <= self.limit { self.limit.saturating_add(1) } else { self.longest_whole }
    }

    /// Ends the current line and counts it.
    fn end_line(&mut self) {
        self.lines += 1;
        let current = std::mem::take(&mut self.current);
        let hash = current.hasher.0.digest128();
        let whole = current.text_chars == current.chars;
        let held = &self.held;
        let same = |&at: &usize| {
            let line = &held[at];
            line.hash == hash && line.chars == current.chars && (!whole || *line.text == *current.text)
        };
        if let Some(&at) = self.table.find(hash as u64, same) {
            self.held[at].count += 1;
        } else if self.held_chars <= self.limit {
            self.held_chars = self.held_chars.saturating_add(current.chars);
            if whole {
                self.longest_whole = self.longest_whole.max(current.chars);
            }
            let at = self.held.len();
            self.held.push(HeldLine { text: current.text.into(), chars: current.chars, hash, count: 1 });
            let held = &self.held;
            self.table.insert_unique(hash as u64, at, |&at| held[at].hash as u64);
        } else {
            self.past.insert(hash);
        }
    }

    /// The stored output of the lines pushed: exactly what [`stored`] returns for them.
    pub fn finish(mut self) -> StoredOutput {
        if self.current.chars > 0 {
            self.end_line();
        }
        let (limit, lines) = (self.limit, self.lines);
        let (mut stored, distinct) = self.into_folded();
        let (truncated, stored_chars) = truncate_counting(&mut stored, limit);
        let summary = OutputSummary {
            lines,
            distinct,
            stored_lines: stored.len() as u64,
            stored_chars: stored_chars as u64,
            truncated,
            limit: limit as u64,
            full_output_kept: true,
        };
        StoredOutput { lines: stored, summary }
    }

    /// The lines held, folded, and how many distinct lines were pushed.
    fn into_folded(self) -> (Vec<String>, u64) {
        let distinct = (self.held.len() + self.past.len()) as u64;
        let lines = self.held.into_iter().map(|held| folded(held.text, held.count)).collect();
        (lines, distinct)
    }

    /// The bytes of line text it holds.
    #[cfg(test)]
    fn held_text_bytes(&self) -> usize {
        self.held.iter().map(|held| held.text.len()).sum()
    }
}

/// The first `n` characters of `text` (all of it if it has fewer), and how many they are.
fn first_chars(text: &str, n: usize) -> (&str, usize) {
    let ascii_end = n.min(text.len());
    // After an ASCII byte a new character starts, so the cut is a boundary; this is most
    // reports' case, and it saves walking them a character at a time.
    if text.as_bytes()[..ascii_end].is_ascii() {
        return (&text[..ascii_end], ascii_end);
    }
    match text.char_indices().nth(n) {
        Some((cut, _)) => (&text[..cut], n),
        None => (text, text.chars().count()),
    }
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

    /// The stored output as it was computed before [`StoredFold`], holding every line: each
    /// distinct line counted by its text, folded, then cut by [`truncate`].
    fn reference_stored(full: &[String], limit: usize) -> StoredOutput {
        let mut counted: Vec<(&str, u64)> = Vec::new();
        for line in full {
            match counted.iter_mut().find(|(seen, _)| *seen == line.as_str()) {
                Some((_, count)) => *count += 1,
                None => counted.push((line, 1)),
            }
        }
        let distinct = counted.len() as u64;
        let mut lines: Vec<String> = counted
            .into_iter()
            .map(|(line, count)| if count == 1 { line.to_owned() } else { format!("({count}x) {line}") })
            .collect();
        let truncated = truncate(&mut lines, limit);
        let marker = if truncated { TRUNCATED_MARKER.chars().count() } else { 0 };
        let chars = lines.iter().map(|l| l.chars().count()).sum::<usize>() - marker;
        let summary = OutputSummary {
            lines: full.len() as u64,
            distinct,
            stored_lines: lines.len() as u64,
            stored_chars: chars as u64,
            truncated,
            limit: limit as u64,
            full_output_kept: true,
        };
        StoredOutput { lines, summary }
    }

    fn fold_one_by_one(lines: &[String], limit: usize) -> StoredOutput {
        let mut fold = StoredFold::new(limit);
        for line in lines {
            fold.push(line);
        }
        fold.finish()
    }

    #[test]
    fn past_the_limit_a_line_keeps_no_more_text_than_the_longest_line_held_whole() {
        let mut fold = StoredFold::new(10);
        fold.push("abc");
        fold.push(&"x".repeat(40)); // held as its first 11 characters: past the limit now
        fold.push_text(&"y".repeat(30));
        // It can only be a repeat of "abc" or a new line counted by its hash: of its text, the
        // fold keeps no more than comparing it with "abc" needs.
        assert!(fold.current.text.len() <= 3, "{} bytes kept", fold.current.text.len());
        fold.push_text("\nabc\n");
        let stored = fold.finish();
        assert_eq!(stored.lines, ["(2x) abc", "xx<TRUNCATED>"]);
        assert_eq!(stored.summary.distinct, 3);
    }

    #[test]
    fn the_fold_holds_text_only_for_the_lines_that_can_be_stored() {
        let limit = 50;
        let mut fold = StoredFold::new(limit);
        let line = |i: usize| format!("{i:05} {}", "y".repeat(24)); // 30 characters
        for i in 0..10_000 {
            fold.push(&line(i));
        }
        // The first two lines take the characters past the limit: only they are held, however
        // many distinct lines follow, and later repeats of either are still counted.
        assert_eq!(fold.held_text_bytes(), 60);
        for i in 0..10_000 {
            fold.push(&line(i));
        }
        assert_eq!(fold.held_text_bytes(), 60);
        let stored = fold.finish();
        assert_eq!(stored.lines, [format!("(2x) {}", line(0)), format!("(2x) 00001 {}<TRUNCATED>", "y".repeat(4))]);
        assert_eq!(stored.summary.lines, 20_000);
        assert_eq!(stored.summary.distinct, 10_000);
        assert_eq!(stored.summary.stored_chars, 50);
        assert!(stored.summary.truncated);
        let full: Vec<String> = (0..2).flat_map(|_| (0..10_000).map(line)).collect();
        assert_eq!(stored, reference_stored(&full, limit));
    }

    #[test]
    fn a_line_repeated_after_the_text_budget_is_spent_is_folded_and_moves_the_cut() {
        let mut full = strings(&["abcd", "efgh", "ijkl", "mnop", "qrst"]);
        let before = fold_one_by_one(&full, 10);
        assert_eq!(before.lines, ["abcd", "efgh", "ij<TRUNCATED>"]);
        // `ijkl` took the held text past the limit; `mnop` and `qrst` were only counted.
        full.extend(strings(&["abcd", "mnop", "abcd", "qrst", "ijkl"]));
        let after = fold_one_by_one(&full, 10);
        assert_eq!(after.lines, ["(3x) abcd", "e<TRUNCATED>"]);
        assert_eq!(after.summary.lines, 10);
        assert_eq!(after.summary.distinct, 5);
        assert_eq!(after.summary.stored_lines, 2);
        assert_eq!(after.summary.stored_chars, 10);
        assert_eq!(after, reference_stored(&full, 10));
        // With room for them, the later counts show on every line held.
        let roomy = fold_one_by_one(&full, 30);
        assert_eq!(roomy.lines, ["(3x) abcd", "efgh", "(2x) ijkl", "(2x) mno<TRUNCATED>"]);
        assert_eq!(roomy, reference_stored(&full, 30));
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

        /// Pushing lines one by one into a `StoredFold` gives what folding them all, then
        /// truncating, gives, summary included, whatever the limit and however lines repeat.
        #[test]
        fn the_streaming_fold_is_fold_then_truncate(
            pool in proptest::collection::vec("[aé(x]{0,8}", 1..8),
            picks in proptest::collection::vec(any::<proptest::sample::Index>(), 0..60),
            limit in 0usize..80,
        ) {
            let lines: Vec<String> = picks.iter().map(|pick| pool[pick.index(pool.len())].clone()).collect();
            let expected = reference_stored(&lines, limit);
            let streamed = fold_one_by_one(&lines, limit);
            prop_assert_eq!(&streamed.lines, &expected.lines);
            prop_assert_eq!(streamed.summary.lines, expected.summary.lines);
            prop_assert_eq!(streamed.summary.distinct, expected.summary.distinct);
            prop_assert_eq!(streamed.summary.stored_lines, expected.summary.stored_lines);
            prop_assert_eq!(streamed.summary.stored_chars, expected.summary.stored_chars);
            prop_assert_eq!(streamed.summary.truncated, expected.summary.truncated);
            prop_assert_eq!(streamed.summary.limit, expected.summary.limit);
            prop_assert_eq!(streamed.summary.full_output_kept, expected.summary.full_output_kept);
            prop_assert_eq!(stored(&lines, limit), expected);
            prop_assert_eq!(fold(&lines), reference_stored(&lines, usize::MAX).lines);
        }

        /// The same lines given as text cut anywhere between characters (inside lines, at
        /// line ends, in pieces of any length) fold the same as given line by line.
        #[test]
        fn the_fold_of_text_in_pieces_is_the_fold_of_its_lines(
            pool in proptest::collection::vec("[aé(x]{0,12}", 1..6),
            picks in proptest::collection::vec(any::<proptest::sample::Index>(), 0..40),
            cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..20),
            limit in 0usize..60,
        ) {
            let lines: Vec<String> = picks.iter().map(|pick| pool[pick.index(pool.len())].clone()).collect();
            let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
            let boundaries: Vec<usize> = text.char_indices().map(|(at, _)| at).collect();
            let mut at: Vec<usize> = cuts.iter().filter_map(|cut| boundaries.get(cut.index(boundaries.len().max(1)))).copied().collect();
            at.extend([0, text.len()]);
            at.sort_unstable();
            let mut fold = StoredFold::new(limit);
            for piece in at.windows(2) {
                fold.push_text(&text[piece[0]..piece[1]]);
            }
            prop_assert_eq!(fold.finish(), fold_one_by_one(&lines, limit));
        }
    }
}
