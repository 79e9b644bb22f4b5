//! A deterministic generator of Oppia-like demo data: explorations with their rights, and
//! users.
//!
//! The same [`SeedOptions`] always give byte-identical store contents, whatever the number of
//! threads: every entity is generated from its own random stream, derived from the seed, its
//! kind and its index, never from a stream shared with other entities. The generator is rand's
//! portable [`Xoshiro256PlusPlus`], so the data is the same on every platform too.
//!
//! ```
//! use jobs_core::{MemoryStore, Store};
//! use jobs_examples::demo::{self, SeedOptions};
//!
//! let store = MemoryStore::new();
//! let summary = demo::seed(&store, &SeedOptions { explorations: 200, users: 50, seed: 7 })?;
//! assert_eq!((summary.explorations, summary.rights, summary.users), (200, 200, 50));
//! assert_eq!(store.count("ExplorationModel")?, 200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What the data looks like
//!
//! * Explorations (about 2 KB each when stored) have 3 to 8 states: `Introduction`,
//!   `Question 1`, …, `End`, with interactions among `Continue`, `TextInput`,
//!   `MultipleChoiceInput`, `NumericInput`, `ItemSelectionInput`, `DragAndDropSortInput` and
//!   `EndExploration`, and 0 to 3 hints on question states.
//! * About [5%](DELETED_EXPLORATION_SHARE) of explorations are deleted,
//!   [1%](INVALID_EXPLORATION_SHARE) are invalid (half with an initial state that does not
//!   exist, half with a state without interaction), and [20%](OLD_SCHEMA_SHARE) have an older
//!   schema version. Old explorations show the defects that the
//!   [migration](crate::ExplorationMigrationJob) steps repair since their version.
//! * Every exploration has rights: public or private, and about 10% of the private ones are
//!   viewable by link.
//! * About [10%](NO_USERNAME_SHARE) of users have no username; usernames are 3 to 24
//!   characters long.
//!
//! Ids look like Oppia's: explorations have 12 random url-safe characters, users `uid_`
//! followed by 32 lowercase letters. They are spread evenly over the id space, so the shards
//! of a job come out even, and unique by construction. They also sort in the order they are
//! generated in, which lets a store append each batch instead of scattering it; so an
//! entity's id depends on how many entities of its kind are seeded, not only on the seed.

use std::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use jobs_core::model::{self, CodecError};
use jobs_core::store::{StoreError, WriteBatch};
use jobs_core::{Model, Store};
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::IndexedRandom;
use rand::{Rng, RngExt, SeedableRng};

use crate::models::{
    CURRENT_SCHEMA_VERSION, ExplorationModel, ExplorationRightsModel, Hint, Interaction, STATUS_PRIVATE, STATUS_PUBLIC,
    State, UserSettingsModel,
};

/// The most entities written per atomic batch. Fewer, larger commits seed a redb store
/// faster: 20,000 took about half the time of 5,000 (measured with 100,000 explorations).
pub const BATCH_ENTITIES: usize = 20_000;
/// The share of explorations that are deleted.
pub const DELETED_EXPLORATION_SHARE: f64 = 0.05;
/// The share of explorations that are structurally invalid.
pub const INVALID_EXPLORATION_SHARE: f64 = 0.01;
/// The share of explorations stored with an older schema version.
pub const OLD_SCHEMA_SHARE: f64 = 0.20;
/// The share of users without a username.
pub const NO_USERNAME_SHARE: f64 = 0.10;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedOptions {
    /// How many explorations to write (each with its rights model).
    pub explorations: usize,
    /// How many users to write.
    pub users: usize,
    /// The seed: the same seed gives the same data.
    pub seed: u64,
}

impl Default for SeedOptions {
    /// 1,000 explorations and 1,000 users from seed 42.
    fn default() -> Self {
        SeedOptions { explorations: 1_000, users: 1_000, seed: 42 }
    }
}

/// What [`seed`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedSummary {
    /// Explorations written.
    pub explorations: usize,
    /// Exploration rights written.
    pub rights: usize,
    /// Users written.
    pub users: usize,
}

/// Seeding stopped. Batches committed before the error stay stored.
#[derive(Debug)]
pub enum SeedError {
    /// A generated model did not encode.
    Codec(CodecError),
    /// The store could not be written.
    Store(StoreError),
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeedError::Codec(error) => write!(f, "a demo model did not encode: {error}"),
            SeedError::Store(error) => write!(f, "the demo data could not be stored: {error}"),
        }
    }
}

impl Error for SeedError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            SeedError::Codec(error) => Some(error),
            SeedError::Store(error) => Some(error),
        }
    }
}

impl From<CodecError> for SeedError {
    fn from(error: CodecError) -> Self {
        SeedError::Codec(error)
    }
}

impl From<StoreError> for SeedError {
    fn from(error: StoreError) -> Self {
        SeedError::Store(error)
    }
}

/// Writes demo explorations, their rights and users into `store`, generating on every core.
///
/// Entities are written in atomic batches of [`BATCH_ENTITIES`]; an exploration and its
/// rights are always in the same batch. Entities already stored under the same ids are
/// replaced; others are left alone.
///
/// # Errors
/// A model did not encode, or the store could not be written. Batches written before the
/// error stay stored.
pub fn seed(store: &dyn Store, options: &SeedOptions) -> Result<SeedSummary, SeedError> {
    seed_with_threads(store, options, jobs_core::engine::default_threads())
}

/// [`seed`] with `threads` generating threads (at least one); the store's contents do not
/// depend on it.
///
/// # Errors
/// As [`seed`].
pub fn seed_with_threads(store: &dyn Store, options: &SeedOptions, threads: usize) -> Result<SeedSummary, SeedError> {
    let chunks = plan(options);
    let next_chunk = AtomicUsize::new(0);
    let threads = threads.clamp(1, chunks.len().max(1));
    std::thread::scope(|scope| {
        // A bounded queue keeps memory flat when generating outpaces the store.
        let (sender, receiver) = mpsc::sync_channel(threads * 2);
        for _ in 0..threads {
            let sender = sender.clone();
            let (chunks, next_chunk) = (&chunks, &next_chunk);
            scope.spawn(move || {
                while let Some(chunk) = chunks.get(next_chunk.fetch_add(1, Ordering::Relaxed)) {
                    let generated = chunk.generate(options);
                    let failed = generated.is_err();
                    // The receiver is gone only if the store failed: stop generating.
                    if sender.send(generated).is_err() || failed {
                        return;
                    }
                }
            });
        }
        drop(sender);
        store_chunks(store, receiver)
    })
}

/// Applies generated batches as they arrive. Returning drops the receiver, which stops the
/// generating threads.
fn store_chunks(
    store: &dyn Store,
    receiver: mpsc::Receiver<Result<(WriteBatch, SeedSummary), CodecError>>,
) -> Result<SeedSummary, SeedError> {
    let mut total = SeedSummary::default();
    for generated in receiver {
        let (batch, written) = generated?;
        store.bulk_load(&batch)?;
        total.explorations += written.explorations;
        total.rights += written.rights;
        total.users += written.users;
    }
    Ok(total)
}

/// A range of entities written in one batch.
#[derive(Debug, Clone, Copy)]
enum Chunk {
    /// Explorations `start..end`, each with its rights.
    Explorations { start: usize, end: usize },
    /// Users `start..end`.
    Users { start: usize, end: usize },
}

/// Splits the work into batches of at most [`BATCH_ENTITIES`] entities.
fn plan(options: &SeedOptions) -> Vec<Chunk> {
    // An exploration and its rights are two entities, kept in the same batch.
    let per_exploration_chunk = (BATCH_ENTITIES / 2).max(1);
    let mut chunks = Vec::new();
    for start in (0..options.explorations).step_by(per_exploration_chunk) {
        chunks.push(Chunk::Explorations { start, end: (start + per_exploration_chunk).min(options.explorations) });
    }
    for start in (0..options.users).step_by(BATCH_ENTITIES) {
        chunks.push(Chunk::Users { start, end: (start + BATCH_ENTITIES).min(options.users) });
    }
    chunks
}

impl Chunk {
    fn generate(self, options: &SeedOptions) -> Result<(WriteBatch, SeedSummary), CodecError> {
        let mut batch = WriteBatch::new();
        let mut summary = SeedSummary::default();
        match self {
            Chunk::Explorations { start, end } => {
                let mut explorations = Vec::with_capacity(end - start);
                let mut rights = Vec::with_capacity(end - start);
                for index in start..end {
                    let (exploration, exploration_rights) = exploration(options, index);
                    explorations.push(encoded(&exploration)?);
                    rights.push(encoded(&exploration_rights)?);
                }
                put_encoded::<ExplorationModel>(&mut batch, explorations);
                put_encoded::<ExplorationRightsModel>(&mut batch, rights);
                summary.explorations = end - start;
                summary.rights = end - start;
            }
            Chunk::Users { start, end } => {
                let users = (start..end).map(|index| encoded(&user(options, index))).collect::<Result<_, _>>()?;
                put_encoded::<UserSettingsModel>(&mut batch, users);
                summary.users = end - start;
            }
        }
        Ok((batch, summary))
    }
}

/// A model's id and stored bytes.
fn encoded<M: Model>(model: &M) -> Result<(String, Vec<u8>), CodecError> {
    Ok((model.id().to_owned(), model::encode(model)?))
}

/// Adds puts of encoded `M`s to `batch`. They come in index order, which is id order (see
/// [`ordered_random`]), and the kinds are not interleaved, so the store fills one stretch of
/// one table at a time.
fn put_encoded<M: Model>(batch: &mut WriteBatch, entities: Vec<(String, Vec<u8>)>) {
    for (id, bytes) in entities {
        batch.put(M::KIND, id, bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// Random streams and ids.

/// Streams of different entity kinds never share a seed, even at the same index.
const EXPLORATION_STREAM: u64 = 0x6578_706c_6f72_6174;
const USER_STREAM: u64 = 0x7573_6572_7365_7474;

/// A bijective 64-bit mixer (the finaliser of MurmurHash3): distinct inputs give distinct,
/// well-spread outputs.
fn mix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Entity `index`'s own random stream: independent of every other entity's, so entities can
/// be generated in any order, on any thread.
fn entity_stream(seed: u64, stream: u64, index: usize) -> Xoshiro256PlusPlus {
    let key = mix64(seed ^ stream);
    Xoshiro256PlusPlus::seed_from_u64(mix64(key.wrapping_add(index as u64)))
}

/// A random 64-bit value for entity `index` of `count` that grows with the index: the range
/// of values is cut into `count` equal slots and the entity takes a random point of its own.
///
/// Ids built from it look random and spread over the whole id space (so shards stay even),
/// cannot collide, and sort in index order. That order is what makes seeding fast: each
/// batch of consecutive entities fills one contiguous stretch of the store's id-sorted
/// tables instead of touching pages all over them.
fn ordered_random(index: usize, count: usize, rng: &mut Xoshiro256PlusPlus) -> u64 {
    let slot = u64::MAX / count.max(1) as u64;
    index as u64 * slot + rng.next_u64() % slot
}

/// The 64 url-safe characters in byte order, so that ids sort like the numbers they encode.
const URL_SAFE_SORTED: &[u8; 64] = b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

/// Twelve url-safe characters (72 bits): `ordered`, then 8 random bits.
fn exploration_id(ordered: u64, rng: &mut Xoshiro256PlusPlus) -> String {
    let bits = (u128::from(ordered) << 8) | u128::from(rng.next_u64() & 0xff);
    (0..12).rev().map(|digit| char::from(URL_SAFE_SORTED[((bits >> (6 * digit)) & 63) as usize])).collect()
}

/// `uid_` and 32 lowercase letters, as Oppia's user ids: 14 letters encode `ordered` scaled to
/// the 26^14 values they can hold (more than 2^64, so distinct values stay distinct and in
/// order), the other 18 are random.
fn user_id(ordered: u64, rng: &mut Xoshiro256PlusPlus) -> String {
    // ordered * 26^14 / 2^64, computed as ordered * (26^14 / 4) / 2^62 so that it fits in 128
    // bits (26^14 is divisible by 4).
    const QUARTER_26_POW_14: u128 = 26_u128.pow(14) / 4;
    let mut scaled = (u128::from(ordered) * QUARTER_26_POW_14) >> 62;
    let mut digits = [b'a'; 14];
    for digit in digits.iter_mut().rev() {
        *digit = b'a' + (scaled % 26) as u8;
        scaled /= 26;
    }
    let mut id = String::with_capacity(36);
    id.push_str("uid_");
    id.extend(digits.iter().map(|&b| char::from(b)));
    id.extend((0..18).map(|_| char::from(rng.random_range(b'a'..=b'z'))));
    id
}

// ---------------------------------------------------------------------------------------------
// Explorations.

#[rustfmt::skip]
const CATEGORIES: [&str; 12] = [
    "Algebra", "Architecture", "Biology", "Chemistry", "Computing", "English", "Geography", "History", "Mathematics",
    "Music", "Physics", "Statistics",
];

#[rustfmt::skip]
const TOPICS: [&str; 24] = [
    "fractions", "decimals", "ratios", "prime numbers", "photosynthesis", "the water cycle", "plate tectonics",
    "chords", "rhythm", "loops", "recursion", "probability", "averages", "the periodic table", "acids and bases",
    "forces", "electric circuits", "the solar system", "ancient Rome", "maps", "grammar", "poetry", "cells",
    "negative numbers",
];

#[rustfmt::skip]
const TITLE_OPENINGS: [&str; 8] = [
    "Introduction to", "Learning about", "A first look at", "Practising", "Understanding", "Playing with",
    "The basics of", "More on",
];

#[rustfmt::skip]
const WORDS: [&str; 64] = [
    "the", "a", "learner", "number", "answer", "question", "example", "pattern", "shape", "value", "because", "when",
    "each", "every", "part", "whole", "step", "next", "first", "then", "think", "about", "how", "many", "what",
    "which", "is", "are", "can", "will", "find", "compare", "count", "measure", "draw", "choose", "write", "explain",
    "try", "again", "carefully", "together", "smaller", "larger", "equal", "same", "different", "other", "group",
    "line", "point", "table", "picture", "story", "idea", "reason", "rule", "change", "result", "total", "half",
    "quarter", "more", "less",
];

const QUESTION_INTERACTIONS: [&str; 5] =
    ["TextInput", "MultipleChoiceInput", "NumericInput", "ItemSelectionInput", "DragAndDropSortInput"];

/// The name of the first state, and of the state an invalid exploration starts in instead.
const INTRODUCTION: &str = "Introduction";
const MISSING_STATE: &str = "Start";

/// Exploration `index` of the data for `options`, with its rights.
fn exploration(options: &SeedOptions, index: usize) -> (ExplorationModel, ExplorationRightsModel) {
    let mut rng = entity_stream(options.seed, EXPLORATION_STREAM, index);
    let rng = &mut rng;
    let ordered = ordered_random(index, options.explorations, rng);
    let id = exploration_id(ordered, rng);

    let schema_version = if rng.random_bool(OLD_SCHEMA_SHARE) {
        rng.random_range(1..CURRENT_SCHEMA_VERSION)
    } else {
        CURRENT_SCHEMA_VERSION
    };
    let created_on = rng.random_range(1_420_070_400_000..1_609_459_200_000_i64); // 2015 to 2020
    let last_updated = created_on + rng.random_range(0..63_072_000_000_i64); // up to two years later

    let questions = rng.random_range(1..=6);
    let mut states = std::collections::BTreeMap::new();
    let introduction_interaction = if rng.random_bool(0.7) { "Continue" } else { pick(rng, &QUESTION_INTERACTIONS) };
    states.insert(INTRODUCTION.to_owned(), state(rng, introduction_interaction, schema_version));
    for question in 1..=questions {
        let interaction = pick(rng, &QUESTION_INTERACTIONS);
        states.insert(format!("Question {question}"), state(rng, interaction, schema_version));
    }
    states.insert("End".to_owned(), state(rng, "EndExploration", schema_version));

    let mut init_state_name = INTRODUCTION.to_owned();
    if rng.random_bool(INVALID_EXPLORATION_SHARE) {
        if rng.random_bool(0.5) {
            init_state_name = MISSING_STATE.to_owned();
        } else {
            let broken = rng.random_range(0..states.len());
            if let Some(state) = states.values_mut().nth(broken) {
                state.interaction = Interaction { id: String::new(), hints: Vec::new() };
            }
        }
    }

    let mut title = format!("{} {}", pick(rng, &TITLE_OPENINGS), pick(rng, &TOPICS));
    if schema_version < 4 && rng.random_bool(0.5) {
        // Before version 4, titles were stored as typed, stray spaces and all.
        title = format!(" {}  ", title.replacen(' ', "  ", 1));
    }

    let exploration = ExplorationModel {
        id: id.clone(),
        title,
        category: pick(rng, &CATEGORIES).to_owned(),
        deleted: rng.random_bool(DELETED_EXPLORATION_SHARE),
        created_on,
        last_updated,
        schema_version,
        init_state_name,
        states,
    };
    let public = rng.random_bool(0.35);
    let rights = ExplorationRightsModel {
        id,
        status: if public { STATUS_PUBLIC } else { STATUS_PRIVATE }.to_owned(),
        viewable_if_private: !public && rng.random_bool(0.1),
    };
    (exploration, rights)
}

/// A state with the given interaction, carrying the defects of its schema version.
fn state(rng: &mut Xoshiro256PlusPlus, interaction: &str, schema_version: u32) -> State {
    let mut content = sentences(rng, 120..280);
    if schema_version < 2 {
        // Before version 2, content kept the editor's surrounding whitespace.
        content = format!("\n  {content} \n");
    }
    let can_hint = !matches!(interaction, "Continue" | "EndExploration");
    // Before version 5, any interaction could carry hints.
    let hint_count = if can_hint || (schema_version < 5 && rng.random_bool(0.3)) { rng.random_range(0..=3) } else { 0 };
    let mut hints: Vec<Hint> = (0..hint_count).map(|_| Hint { content: sentences(rng, 30..90) }).collect();
    if schema_version < 3 && rng.random_bool(0.2) {
        // Before version 3, the editor could save a hint left blank.
        hints.push(Hint { content: "  ".to_owned() });
    }
    State { content, interaction: Interaction { id: interaction.to_owned(), hints } }
}

/// Sentences of random words, of a length in `lengths` (in bytes, give or take a word).
fn sentences(rng: &mut Xoshiro256PlusPlus, lengths: std::ops::Range<usize>) -> String {
    let length = rng.random_range(lengths);
    let mut text = String::with_capacity(length + 16);
    // Each word takes 10 random bits: 6 choose it among the 64 words, 4 say whether it ends
    // its sentence (1 in 16 with a full stop, 1 in 16 with a question mark). Drawing 64 bits
    // for six words keeps the generator cheap.
    let (mut bits, mut bits_left) = (0_u64, 0);
    let mut sentence_start = true;
    while text.len() < length {
        if bits_left < 10 {
            bits = rng.next_u64();
            bits_left = 64;
        }
        let word = WORDS[(bits & 63) as usize];
        let ending = match (bits >> 6) & 15 {
            0 => Some('.'),
            1 => Some('?'),
            _ => None,
        };
        bits >>= 10;
        bits_left -= 10;

        if !text.is_empty() {
            text.push(' ');
        }
        let start = text.len();
        text.push_str(word);
        if sentence_start {
            text[start..start + 1].make_ascii_uppercase();
        }
        sentence_start = ending.is_some();
        text.extend(ending);
    }
    if !sentence_start {
        text.push('.');
    }
    text
}

fn pick<'a>(rng: &mut Xoshiro256PlusPlus, choices: &[&'a str]) -> &'a str {
    choices.choose(rng).copied().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Users.

#[rustfmt::skip]
const SYLLABLES: [&str; 32] = [
    "ka", "lo", "mi", "ra", "ten", "su", "vi", "no", "bel", "da", "fin", "go", "ha", "jo", "ki", "lu", "mar", "ne",
    "pa", "qu", "ri", "sol", "ta", "ul", "ve", "wen", "xa", "yo", "ze", "an", "el", "or",
];

/// User `index` of the data for `options`.
fn user(options: &SeedOptions, index: usize) -> UserSettingsModel {
    let mut rng = entity_stream(options.seed, USER_STREAM, index);
    let rng = &mut rng;
    let ordered = ordered_random(index, options.users, rng);
    let id = user_id(ordered, rng);
    let username = (!rng.random_bool(NO_USERNAME_SHARE)).then(|| username(rng));
    let email = format!("{}@example.com", username.as_deref().unwrap_or(&id[4..16]).to_lowercase());
    UserSettingsModel {
        id,
        username,
        email,
        created_on: rng.random_range(1_420_070_400_000..1_609_459_200_000_i64),
        deleted: rng.random_bool(0.02),
    }
}

/// A pronounceable username of 3 to 24 characters, sometimes capitalised or numbered.
fn username(rng: &mut Xoshiro256PlusPlus) -> String {
    let mut name = String::with_capacity(24);
    for _ in 0..rng.random_range(1..=6) {
        name.push_str(pick(rng, &SYLLABLES));
    }
    if rng.random_ratio(1, 3) {
        name = name[..1].to_uppercase() + &name[1..];
    }
    if rng.random_ratio(1, 4) {
        name.push_str(&rng.random_range(1..10_000).to_string());
    }
    while name.len() < 3 {
        name.push('x');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_sort_in_generation_order_even_at_the_extremes() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let values: Vec<u64> = vec![0, 1, 2, 1 << 32, u64::MAX / 3, u64::MAX - 1, u64::MAX];
        let explorations: Vec<String> = values.iter().map(|&v| exploration_id(v, &mut rng)).collect();
        let users: Vec<String> = values.iter().map(|&v| user_id(v, &mut rng)).collect();
        for ids in [&explorations, &users] {
            assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
        }
        assert!(explorations.iter().all(|id| id.len() == 12));
        assert!(users.iter().all(|id| id.len() == 36 && id[4..].bytes().all(|b| b.is_ascii_lowercase())));
    }

    #[test]
    fn ordered_random_values_grow_with_the_index() {
        for count in [1, 2, 3, 1_000, 1 << 40] {
            let mut indices = vec![0, 1, count / 2, count - 1];
            indices.retain(|&index| index < count);
            indices.dedup();
            let values: Vec<u64> = indices
                .iter()
                .map(|&index| ordered_random(index, count, &mut entity_stream(7, EXPLORATION_STREAM, index)))
                .collect();
            assert!(values.windows(2).all(|pair| pair[0] < pair[1]), "{count}: {values:?}");
        }
    }
}
