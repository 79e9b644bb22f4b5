//! The traits a job implements: [`Map`] once per listed model, [`Reduce`] once; and [`Job`],
//! which `#[one_off_job]` implements for it.

use std::fmt;
use std::hash::Hash;
use std::io;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::MapContext;
use crate::params::{ParamError, ParamSpec, Params};

/// What `map` and `reduce` return: `Ok(())`, or the reason this one entity or key failed.
///
/// A failure is recorded with the entity's kind and id (or the key) and the job goes on with
/// the rest. Any error that implements `Display` converts with `?`:
///
/// ```
/// # use jobs_core::Outcome;
/// fn parse_version(text: &str) -> Outcome {
///     let _version: u32 = text.parse()?; // ParseIntError becomes a Failure
///     Ok(())
/// }
/// assert!(parse_version("7").is_ok());
/// assert_eq!(parse_version("x").unwrap_err().message(), "invalid digit found in string");
/// ```
///
/// `map` returns a `Result` rather than `()` so that jobs use `?` instead of Oppia's
/// try/except-and-yield-an-error-key dance. (An `impl Trait` return that accepted both `()`
/// and `Result` trips rustc's `refining_impl_trait` lint in every user's crate.)
pub type Outcome = Result<(), Failure>;

/// Why one entity or key failed. Built from any `Display` value, usually with `?`.
///
/// It deliberately does not implement `Display` itself: that is what lets every `Display`
/// error convert into it. Read the text with [`Failure::message`].
pub struct Failure {
    message: String,
}

impl Failure {
    /// A failure with the given message.
    pub fn new(message: impl fmt::Display) -> Self {
        Failure { message: message.to_string() }
    }

    /// The failure's message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl<E: fmt::Display> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure::new(error)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Failure").field(&self.message).finish()
    }
}

/// The shuffle key type of a job. Implemented for every type with the needed traits.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a job key: keys must be `Ord + Hash + Clone + Serialize + DeserializeOwned + Send + Sync`",
    label = "not usable as `Reduce::Key`",
    note = "output is sorted by key, keys are hashed to shuffle partitions, and they may be written to disk: use `String`, an integer, `bool`, `char`, or a tuple or `Vec` of those; for your own type, add `#[derive(PartialEq, Eq, PartialOrd, Ord, Hash, Clone, Serialize, Deserialize)]`; floats are not `Ord`: use their text or a scaled integer"
)]
pub trait JobKey: Ord + Hash + Clone + Serialize + DeserializeOwned + Send + Sync + 'static {}

// `do_not_recommend`: where a bound names `JobKey` (a generic helper's `K: JobKey`), a type that
// falls short is reported as "cannot be a job key" with the advice above, rather than as each
// missing bound. (For `type Key = f64;` in a `Reduce` impl the compiler checks the supertraits
// one by one and reports those: "the trait bound `f64: Ord` is not satisfied ... required for
// `<Job as Reduce>::Key` to implement `JobKey`".)
#[diagnostic::do_not_recommend]
impl<T> JobKey for T where T: Ord + Hash + Clone + Serialize + DeserializeOwned + Send + Sync + 'static {}

/// The shuffle value type of a job. Implemented for every type with the needed traits.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a job value: values must be `Serialize + DeserializeOwned + Send`",
    label = "not usable as `Reduce::Value`",
    note = "values may be spilled to disk and sent between processes: use `String`, a number, or a tuple, `Vec` or `Option` of those; for your own type, add `#[derive(Serialize, Deserialize)]`"
)]
pub trait JobValue: Serialize + DeserializeOwned + Send + 'static {}

#[diagnostic::do_not_recommend]
impl<T> JobValue for T where T: Serialize + DeserializeOwned + Send + 'static {}

/// The reduce half of a job: receives each key with all the values emitted for it, and writes
/// report lines.
///
/// Keys arrive in ascending order, and each key's values in the order of the entities that
/// emitted them (by listed model, then entity id, then emit order), so a job's output is the
/// same whatever its shard or thread count.
//
// Worded for both places this is reported: at a job's struct (the attribute's `Job` impl needs
// `Reduce`), and at `ctx.emit(..)` on a `MapContext` whose type parameter is not the job.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no `Reduce` impl",
    label = "every one-off job must implement `Reduce`",
    note = "if `{Self}` is the job, write:\n    impl Reduce for {Self} {{\n        type Key = String;\n        type Value = String;\n        fn reduce(&self, key: String, values: Values<'_, String>, out: &mut Output) -> Outcome {{\n            out.json(&(key, values.collect::<Vec<_>>()))\n        }}\n    }}\nif `{Self}` is a model, `MapContext<'_, {Self}>` is the wrong context: `map` takes `ctx: &mut MapContext<'_, Self>`, `Self` being the job"
)]
pub trait Reduce: Sized + Send + Sync + 'static {
    /// The shuffle key. Output is sorted by it.
    type Key: JobKey;
    /// The value emitted with each key.
    type Value: JobValue;

    /// Reduces one key. Lines written to `out` become the job's output; a returned failure
    /// discards this key's lines and is recorded with the key.
    fn reduce(&self, key: Self::Key, values: Values<'_, Self::Value>, out: &mut Output) -> Outcome;

    /// Whether the engine calls [`combine`](Self::combine). Set it to `true` when you
    /// implement `combine`; left `false`, the engine skips the grouping `combine` needs.
    const COMBINES: bool = false;

    /// A combiner, as in Hadoop: folds some of a key's values into fewer before the shuffle,
    /// on the map side, so fewer pairs are kept and sorted. Counting jobs sum their ones:
    ///
    /// ```
    /// # use jobs_core::prelude::*;
    /// # #[derive(Model, Serialize, Deserialize)]
    /// # pub struct Note { id: String, words: Vec<String> }
    /// # #[one_off_job(models = [Note])]
    /// # pub struct WordCount;
    /// # impl Map<Note> for WordCount {
    /// #     fn map(&self, note: Note, ctx: &mut MapContext<'_, Self>) -> Outcome {
    /// #         note.words.into_iter().for_each(|word| ctx.emit(word, 1));
    /// #         Ok(())
    /// #     }
    /// # }
    /// impl Reduce for WordCount {
    ///     type Key = String;
    ///     type Value = u64;
    ///     fn reduce(&self, word: String, counts: Values<'_, u64>, out: &mut Output) -> Outcome {
    ///         out.line(format!("{word} {}", counts.sum::<u64>()));
    ///         Ok(())
    ///     }
    ///     const COMBINES: bool = true;
    ///     fn combine(&self, _word: &String, counts: &mut Vec<u64>) {
    ///         let total = counts.iter().sum();
    ///         *counts = vec![total];
    ///     }
    /// }
    /// ```
    ///
    /// `values` holds, in emit order, some of the values that one map task emitted for `key`
    /// (never an empty list); replace them with values that `reduce` turns into the same output.
    /// It may be called any number of times per key and task, also on values it already
    /// combined, so it must not change the output whether it runs or not. A panic here fails
    /// the key, like a panic in `reduce`.
    fn combine(&self, key: &Self::Key, values: &mut Vec<Self::Value>) {
        let _ = (key, values);
    }
}

/// The map half of a job for one listed model `M`. A job listing several models implements it
/// once per model.
///
/// Only models listed in the job's `#[one_off_job(models = [...])]` can be mapped: the hidden
/// supertrait `ListedModel<M>` is implemented by the attribute for exactly those, so an impl
/// for a model the job does not list is a compile error on that impl rather than a `map` that
/// never runs.
#[diagnostic::on_unimplemented(
    message = "the job `{Self}` lists the model `{M}` but has no `Map<{M}>` impl",
    label = "`{M}` is listed here, so `{Self}` must implement `Map<{M}>`",
    note = "write:\n    impl Map<{M}> for {Self} {{\n        fn map(&self, item: {M}, ctx: &mut MapContext<'_, Self>) -> Outcome {{\n            ctx.emit(/* key */, /* value */);\n            Ok(())\n        }}\n    }}\nor remove `{M}` from `models = [...]`"
)]
//
// Neither `Reduce` nor `M: Model` is required here, only where the job is checked as a whole:
// a job missing its `Reduce` impl is reported once, where `#[one_off_job]` implements `Job`
// (which requires it) at the struct, and a model missing a serde derive once, by
// `#[derive(Model)]`; not again at each `Map` impl.
pub trait Map<M>: Sized + ListedModel<M> {
    /// Maps one entity: emit pairs with [`MapContext::emit`], count things, write models.
    fn map(&self, item: M, ctx: &mut MapContext<'_, Self>) -> Outcome;
}

/// Implemented by `#[one_off_job]` for each model in the job's `models = [...]` list; a
/// supertrait of [`Map`], so a `Map<M>` impl for a model the job does not list does not compile.
///
/// Not for implementing by hand, except by a job written without the attribute (jobs-core's own
/// tests), which implements it once per model it maps.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "the job `{Self}` implements `Map<{M}>`, but `{M}` is not in its `models = [...]`",
    label = "`{M}` is not listed in `#[one_off_job(models = [...])]` on `{Self}`",
    note = "the job only visits the models it lists, so this `map` would never run: add `{M}` to `models = [...]` on `{Self}`, or remove this impl"
)]
pub trait ListedModel<M> {}

/// What `#[one_off_job]` generates for a job: its name, models, shard count, parameters, and
/// the dispatch from a stored entity to the right `Map<M>` impl. Do not implement it by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a one-off job",
    label = "not a job",
    note = "add `#[one_off_job(models = [YourModel])]` to the struct `{Self}`"
)]
pub trait Job: Reduce {
    /// The job's name, as the registry and the command line know it.
    const NAME: &'static str;
    /// The kinds of the listed models, in the order listed.
    const MODELS: &'static [&'static str];
    /// The shard count used when a run does not ask for one.
    const DEFAULT_SHARDS: usize;
    /// The job's parameters: the struct's fields.
    const PARAMS: &'static [ParamSpec];
    /// How many entities and keys may fail in a run that still completes
    /// (`#[one_off_job(max_failures = N)]`); a run with more ends `failed`. A run can set its
    /// own limit ([`RunOptions::max_failures`](crate::RunOptions::max_failures),
    /// `jobs run --max-failures N`).
    const MAX_FAILURES: u64 = 0;

    /// Builds the job from `--param name=value` pairs, checking every one.
    ///
    /// # Errors
    /// A parameter is unknown, missing, or does not parse as its field's type.
    fn from_params(params: &Params) -> Result<Self, ParamError>;

    /// Decodes one stored entity of the `model`-th listed model and maps it.
    ///
    /// # Errors
    /// The entity does not decode, or `map` failed.
    #[doc(hidden)]
    fn map_stored(&self, model: usize, bytes: &[u8], ctx: &mut MapContext<'_, Self>) -> Outcome;
}

/// One key's values, as an iterator in emit order. `collect()` it when the whole list is
/// wanted; `len()` is known without iterating.
pub struct Values<'a, V> {
    first: Option<V>,
    rest: &'a mut dyn ValueSource<V>,
    remaining: usize,
}

/// Where a key's values after its first come from: one at a time, and, where a stretch of them
/// is held in memory, that stretch at once, lent rather than moved out value by value.
pub(crate) trait ValueSource<V>: Iterator<Item = V> {
    /// The values at the front held together in memory; empty when the next one is not (it
    /// is then read with `next`).
    fn held(&mut self) -> &[V] {
        &[]
    }

    /// Drops the first `count` values, at most as many as [`held`](Self::held) lent.
    fn drop_held(&mut self, count: usize) {
        for _ in 0..count {
            self.next();
        }
    }
}

impl<'a, V> Values<'a, V> {
    pub(crate) fn new(first: V, rest: &'a mut dyn ValueSource<V>, rest_len: usize) -> Self {
        Values { first: Some(first), rest, remaining: rest_len + 1 }
    }

    /// The values as a sequence that [`Output::json`] (or any serde serializer) writes while
    /// reading them, one at a time, instead of gathering them first: a key with a million
    /// values then needs no list of a million values.
    ///
    /// ```
    /// # use jobs_core::prelude::*;
    /// # struct Audit;
    /// # impl Reduce for Audit {
    /// #     type Key = String;
    /// #     type Value = String;
    /// fn reduce(&self, key: String, states: Values<'_, String>, out: &mut Output) -> Outcome {
    ///     // The same line as `out.json(&(key, states.collect::<Vec<_>>()))`.
    ///     out.json(&(key, states.streamed()))
    /// }
    /// # }
    /// ```
    ///
    /// It can be written once: writing it again is an error, as its values are read.
    pub fn streamed(self) -> StreamedValues<'a, V> {
        StreamedValues(std::cell::RefCell::new(Some(self)))
    }
}

/// A key's values that serialize as a sequence, read as they are written: see
/// [`Values::streamed`].
pub struct StreamedValues<'a, V>(std::cell::RefCell<Option<Values<'a, V>>>);

impl<V: Serialize> Serialize for StreamedValues<'_, V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;

        let Some(mut values) = self.0.borrow_mut().take() else {
            return Err(serde::ser::Error::custom("a key's values can be written only once"));
        };
        let mut seq = serializer.serialize_seq(Some(values.remaining))?;
        // Values held in memory are written where they lie, a stretch at a time, and dropped
        // together: moved out one by one through the merge, each cost about as much as
        // writing it.
        while values.remaining > 0 {
            if values.first.is_none() {
                let held = values.rest.held();
                let count = held.len().min(values.remaining);
                if count > 0 {
                    for value in &held[..count] {
                        seq.serialize_element(value)?;
                    }
                    values.rest.drop_held(count);
                    values.remaining -= count;
                    continue;
                }
            }
            match values.next() {
                Some(value) => seq.serialize_element(&value)?,
                None => break,
            }
        }
        seq.end()
    }
}

impl<V> fmt::Debug for StreamedValues<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StreamedValues")
    }
}

impl<V> Iterator for Values<'_, V> {
    type Item = V;

    fn next(&mut self) -> Option<V> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        match self.first.take() {
            Some(first) => Some(first),
            None => self.rest.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<V> ExactSizeIterator for Values<'_, V> {}

impl<V> Drop for Values<'_, V> {
    /// A reduce that stops early leaves the rest of its key's values unread; skip them so the
    /// next key starts at its own first value.
    fn drop(&mut self) {
        self.first = None;
        while self.remaining > 0 {
            self.remaining -= 1;
            if self.rest.next().is_none() {
                break;
            }
        }
    }
}

/// Where an [`Output`] hands its text on as it grows, so that a key whose line is hundreds of
/// megabytes is never held whole: the local engine's spool of report text
/// (`exec/report_text.rs`), which also starts, ends and drops each key's text.
pub(crate) trait TextSpill: Send {
    /// Takes the next piece of the current key's text: whole characters, lines ending in
    /// `\n` but the last, which the next piece continues. A piece that cannot be kept is the
    /// spill's to remember: the run stops after the key.
    fn piece(&mut self, text: &str);
}

/// Where `reduce` writes its report lines.
#[derive(Default)]
pub struct Output {
    /// Lines not yet handed on, each ending in `\n`: the current key's, or its last part.
    /// UTF-8, checked once when handed on (serde_json writes it in many small pieces), and
    /// always ending at a character boundary.
    text: Vec<u8>,
    /// Where the text goes as it grows; without it, the text is kept until taken.
    spill: Option<Box<dyn TextSpill>>,
    /// Why the current key's text is no longer whole (a [`json`](Self::json) that failed after
    /// part of its line was handed on): the key then fails, even if `reduce` went on.
    broken: Option<String>,
    /// How many times text was handed on, to tell whether a failed line was cut.
    handed_on: u64,
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = String::from_utf8_lossy(&self.text);
        f.debug_struct("Output").field("text", &text).field("spilling", &self.spill.is_some()).finish()
    }
}

impl Output {
    /// An output that keeps its text until taken.
    #[cfg_attr(not(feature = "timely"), allow(dead_code, reason = "the cluster (feature `timely`) uses it"))]
    pub(crate) fn new() -> Self {
        Output::default()
    }

    /// An output that hands its text to `spill` as it grows.
    pub(crate) fn spilling(spill: Box<dyn TextSpill>) -> Self {
        Output { spill: Some(spill), ..Output::default() }
    }

    /// Writes one line of text. Newlines inside it are escaped as `\n` so that a line of
    /// output is always one line.
    pub fn line(&mut self, text: impl fmt::Display) {
        let start = self.text.len();
        // Writing to a `Vec` cannot fail; a `Display` that does leaves what it wrote.
        let _ = io::Write::write_fmt(&mut self.text, format_args!("{text}"));
        if self.text[start..].contains(&b'\n') {
            let line = self.text.split_off(start);
            for &byte in &line {
                if byte == b'\n' {
                    self.text.extend_from_slice(b"\\n");
                } else {
                    self.text.push(byte);
                }
            }
        }
        self.text.push(b'\n');
        self.hand_on_if_large();
    }

    /// Writes `value` as one line of compact JSON, e.g. `["TextInput",["exp1 Intro"]]`.
    ///
    /// # Errors
    /// The value does not serialize to JSON (a map with non-string keys, say).
    pub fn json<T: Serialize + ?Sized>(&mut self, value: &T) -> Outcome {
        let start = self.text.len();
        let handed_on = self.handed_on;
        match serde_json::to_writer(TextWriter { out: self }, value) {
            Ok(()) => {
                self.text.push(b'\n');
                self.hand_on_if_large();
                Ok(())
            }
            Err(error) => {
                if self.handed_on == handed_on {
                    self.text.truncate(start);
                } else {
                    self.broken = Some(format!("{error} (after part of its line was written)"));
                }
                Err(error.into())
            }
        }
    }

    #[inline]
    fn hand_on_if_large(&mut self) {
        if self.text.len() >= TEXT_PIECE_BYTES {
            self.hand_on();
        }
    }

    /// Hands the text held to the spill, if there is one.
    #[cold]
    fn hand_on(&mut self) {
        let Some(spill) = &mut self.spill else { return };
        self.handed_on += 1;
        match simdutf8::compat::from_utf8(&self.text) {
            Ok(text) if !text.is_empty() => spill.piece(text),
            Ok(_) => {}
            // Only `json` writes bytes unchecked, and serde_json writes UTF-8.
            Err(error) => self.broken = Some(format!("JSON not UTF-8: {error}")),
        }
        self.text.clear();
    }

    /// Starts a key's text.
    pub(crate) fn begin_key(&mut self) {
        self.broken = None;
        self.text.clear();
    }

    /// Ends a key's text, handing the rest on (with a spill); returns why it is not whole, if
    /// it is not, for the key to fail.
    pub(crate) fn end_key(&mut self) -> Option<String> {
        if self.spill.is_some() {
            self.hand_on();
        } else if let Err(error) = simdutf8::compat::from_utf8(&self.text) {
            self.broken = Some(format!("JSON not UTF-8: {error}"));
        }
        self.broken.take()
    }

    /// Drops what is held of a key's text (the spill drops what it was given of it).
    pub(crate) fn abandon_key(&mut self) {
        self.text.clear();
    }

    /// The lines written and not handed on, each as a `String` ([`end_key`](Self::end_key)
    /// checked that they are UTF-8).
    pub(crate) fn take(&mut self) -> Vec<String> {
        let lines = String::from_utf8_lossy(&self.text).split_terminator('\n').map(str::to_owned).collect();
        self.text.clear();
        lines
    }
}

/// The most text an [`Output`] holds before it hands it on (with a spill).
pub(crate) const TEXT_PIECE_BYTES: usize = 64 << 10;

/// serde_json's writer into an [`Output`]'s text, handing it on as it grows.
struct TextWriter<'a> {
    out: &'a mut Output,
}

impl io::Write for TextWriter<'_> {
    // serde_json writes a value in many small pieces (a quote, a separator, a run of
    // unescaped text): inlined, each is a copy and a length check.
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.write_all(bytes)?;
        Ok(bytes.len())
    }

    #[inline]
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        // serde_json writes whole characters at a time, so the text ends at one.
        self.out.text.extend_from_slice(bytes);
        self.out.hand_on_if_large();
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use super::{Output, TextSpill, Values};

    #[test]
    fn streamed_values_write_the_line_collected_values_write() {
        let mut rest = vec!["b".to_owned(), "c\"".to_owned()].into_iter();
        let mut out = Output::new();
        out.json(&("k", Values::new("a".to_owned(), &mut rest, 2).streamed())).unwrap();
        let mut rest = vec!["b".to_owned(), "c\"".to_owned()].into_iter();
        out.json(&("k", Values::new("a".to_owned(), &mut rest, 2).collect::<Vec<_>>())).unwrap();
        let lines = out.take();
        assert_eq!(lines[0], r#"["k",["a","b","c\""]]"#);
        assert_eq!(lines[0], lines[1]);
    }

    /// A source that lends all it holds, as runs in memory do.
    impl<V> super::ValueSource<V> for std::vec::IntoIter<V> {
        fn held(&mut self) -> &[V] {
            self.as_slice()
        }

        fn drop_held(&mut self, count: usize) {
            if let Some(last) = count.checked_sub(1) {
                self.nth(last);
            }
        }
    }

    /// A source that lends nothing: each value is read with `next`.
    struct OneByOne(std::vec::IntoIter<String>);

    impl Iterator for OneByOne {
        type Item = String;
        fn next(&mut self) -> Option<String> {
            self.0.next()
        }
    }

    impl super::ValueSource<String> for OneByOne {}

    #[test]
    fn streamed_values_write_the_same_line_lent_or_read_one_by_one_and_skip_what_they_did_not_write() {
        let values: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
        let mut lent = values.clone().into_iter();
        let mut read = OneByOne(values.clone().into_iter());
        let mut out = Output::new();
        // Four of the ten: the rest belong to the next key, and stay.
        out.json(&Values::new("first".to_owned(), &mut lent, 3).streamed()).unwrap();
        out.json(&Values::new("first".to_owned(), &mut read, 3).streamed()).unwrap();
        let lines = out.take();
        assert_eq!(lines[0], r#"["first","v0","v1","v2"]"#);
        assert_eq!(lines[0], lines[1]);
        assert_eq!(lent.next().as_deref(), Some("v3"));
        assert_eq!(read.next().as_deref(), Some("v3"));
    }

    #[test]
    fn streamed_values_written_twice_are_an_error_not_an_empty_list() {
        let mut rest = Vec::new().into_iter();
        let values = Values::new(1u32, &mut rest, 0).streamed();
        let mut out = Output::new();
        out.json(&values).unwrap();
        let again = out.json(&values).unwrap_err();
        assert!(again.message().contains("only once"), "{}", again.message());
        assert_eq!(out.take(), ["[1]"]);
    }

    #[test]
    fn json_lines_keep_no_large_spare_capacity() {
        let mut out = Output::new();
        out.json(&"x".repeat(100_000)).unwrap();
        out.json(&"y").unwrap();
        let lines = out.take();
        assert_eq!(lines[1], r#""y""#);
        assert!(lines[1].capacity() <= 4096 + 3, "{}", lines[1].capacity());
    }

    #[test]
    fn a_json_line_that_fails_after_part_of_it_was_handed_on_breaks_its_key() {
        /// Keeps what it is handed.
        struct Kept(Arc<Mutex<String>>);
        impl TextSpill for Kept {
            fn piece(&mut self, text: &str) {
                self.0.lock().unwrap().push_str(text);
            }
        }
        let kept = Arc::new(Mutex::new(String::new()));
        let mut out = Output::spilling(Box::new(Kept(Arc::clone(&kept))));
        // A map with non-string keys does not serialize to JSON, found only after the string.
        let bad: BTreeMap<Vec<u8>, u8> = BTreeMap::from([(vec![1], 1)]);
        out.begin_key();
        assert!(out.json(&("x".repeat(200_000), &bad)).is_err());
        // Even if `reduce` ignores the error and goes on:
        out.line("after");
        assert!(out.end_key().is_some(), "part of the line was handed on: the key cannot stand");
        out.abandon_key();
        kept.lock().unwrap().clear();
        out.begin_key();
        assert!(out.json(&("short", &bad)).is_err());
        out.line("kept");
        assert_eq!(out.end_key(), None, "nothing was handed on: the failed line left no trace");
        assert_eq!(*kept.lock().unwrap(), "kept\n");
    }
}
