//! [`MapContext`]: what `map` can do besides reading its entity.

use std::collections::BTreeMap;
use std::fmt;

use crate::job::Reduce;
use crate::model::{self, CodecError, Model};
use crate::store::{Expect, Store, StoreError, WriteBatch};

/// Named counters: a job's own (`ctx.count("migrated", 1)`) and the engine's.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    values: BTreeMap<String, u64>,
}

impl Counters {
    /// Adds `by` to the counter `name`, creating it at zero.
    pub fn add(&mut self, name: &str, by: u64) {
        match self.values.get_mut(name) {
            Some(value) => *value += by,
            None => {
                self.values.insert(name.to_owned(), by);
            }
        }
    }

    /// The counter's value; zero if it was never counted.
    pub fn get(&self, name: &str) -> u64 {
        self.values.get(name).copied().unwrap_or(0)
    }

    /// Adds every counter of `other` to this one.
    pub fn merge(&mut self, other: &Counters) {
        for (name, value) in &other.values {
            self.add(name, *value);
        }
    }

    /// The counters in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.values.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// Whether no counter was counted.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// What a map call shares with the rest of its run.
pub(crate) struct MapEnv<'a> {
    pub(crate) store: &'a dyn Store,
    pub(crate) dry_run: bool,
    pub(crate) queued_at_ms: i64,
}

/// Handed to every `map` call: emit pairs to the shuffle, count things, read other models, and
/// write models (for migration jobs).
///
/// ```
/// use jobs_core::prelude::*;
///
/// # #[derive(Model, Serialize, Deserialize)]
/// # pub struct UserSettingsModel { id: String, username: Option<String> }
/// /// Counts users by the length of their username.
/// #[one_off_job(models = [UserSettingsModel])]
/// pub struct UsernameLengths;
///
/// impl Map<UserSettingsModel> for UsernameLengths {
///     fn map(&self, user: UserSettingsModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
///         match user.username {
///             Some(name) => ctx.emit(name.chars().count(), 1),
///             None => ctx.count("users without a username", 1),
///         }
///         Ok(())
///     }
/// }
/// # impl Reduce for UsernameLengths {
/// #     type Key = usize;
/// #     type Value = u64;
/// #     fn reduce(&self, len: usize, counts: Values<'_, u64>, out: &mut Output) -> Outcome {
/// #         out.json(&(len, counts.sum::<u64>()))
/// #     }
/// # }
/// ```
///
/// The struct asks nothing of `J`; only [`emit`](Self::emit) needs `J: Reduce`. So a job that
/// lacks its `Reduce` impl is reported once, where `#[one_off_job]` implements [`Job`] for it
/// (at the struct), and not again at every `map` signature naming `MapContext<'_, Self>`; and
/// a signature naming another type (`MapContext<'_, ExplorationModel>`) gets only the
/// compiler's "incompatible type for trait".
///
/// [`Job`]: crate::Job
pub struct MapContext<'a, J> {
    /// The engine's `Vec<(J::Key, J::Value)>` of this call's pairs, behind a trait object only
    /// so that naming its type needs no `J: Reduce` here: `emit` pushes to it directly. (`Send`
    /// keeps the context `Send`, as it was with the `Vec` itself.)
    pub(crate) staged: &'a mut (dyn StagedPairs<J> + Send),
    pub(crate) counters: &'a mut Counters,
    pub(crate) writes: &'a mut WriteBatch,
    pub(crate) env: &'a MapEnv<'a>,
    /// The entity being mapped, as stored: a write to it applies only if it is unchanged.
    pub(crate) entity: Option<ReadEntity<'a>>,
    /// The entities this `map` call wrote already; only its first write to each is checked.
    pub(crate) written: &'a mut Vec<(&'static str, String)>,
}

/// The entity a `map` call was handed, as it was stored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadEntity<'a> {
    pub(crate) kind: &'a str,
    pub(crate) id: &'a str,
    pub(crate) bytes: &'a [u8],
}

/// What [`MapContext`] holds its staged pairs as. Its one impl, for the engine's
/// `Vec<(J::Key, J::Value)>`, is what makes [`MapContext::emit`]'s cast back to that `Vec`
/// sound: there must never be another.
pub(crate) trait StagedPairs<J> {
    /// How many pairs are staged (for `Debug`).
    fn staged_len(&self) -> usize;
}

impl<J: Reduce> StagedPairs<J> for Vec<(J::Key, J::Value)> {
    fn staged_len(&self) -> usize {
        self.len()
    }
}

impl<J> MapContext<'_, J> {
    /// Emits one `(key, value)` pair to the shuffle. `reduce` sees it with the key's other
    /// values, in emit order.
    #[inline]
    pub fn emit(&mut self, key: J::Key, value: J::Value)
    where
        J: Reduce,
    {
        let staged: *mut (dyn StagedPairs<J> + Send) = &mut *self.staged;
        // SAFETY: `StagedPairs<J>` is crate-private and has one impl, for `Vec<(J::Key, J::Value)>`, so the trait
        // object `staged` points at can only be that `Vec`; the cast drops the vtable and
        // keeps the address, and the exclusive borrow of `self` makes the `&mut` unique.
        let staged = unsafe { &mut *staged.cast::<Vec<(J::Key, J::Value)>>() };
        staged.push((key, value));
    }

    /// Adds `by` to the named counter. Counters appear in the run's report.
    pub fn count(&mut self, name: &str, by: u64) {
        self.counters.add(name, by);
    }

    /// Reads another model by id: a job over rights models fetches their explorations, say.
    ///
    /// # Errors
    /// The store could not be read, or the stored entity does not decode as `M`.
    pub fn get<M: Model>(&self, id: &str) -> Result<Option<M>, GetError> {
        let Some(bytes) = self.env.store.get(M::KIND, id)? else {
            return Ok(None);
        };
        model::decode(&bytes).map(Some).map_err(|source| GetError::Decode { kind: M::KIND, id: id.to_owned(), source })
    }

    /// Stores `model`, replacing the stored entity with its id. Writes are committed in
    /// atomic batches; in a dry run they are counted and never stored. If this `map` call then
    /// fails, its writes are dropped.
    ///
    /// Writes never revert another writer's: a put of the entity being mapped is stored only
    /// if that entity is still stored as it was read, and a put of any other id only if no
    /// entity has that id (create-if-absent), both checked in the transaction that stores
    /// the batch. On a conflict the engine reads the entity again and maps it again (counted
    /// as `conflicts_retried`), a few times; then it is a failure of the entity, named
    /// `conflict`. Its pairs and counts reach the run only once its writes are stored.
    ///
    /// A [view](Model::VIEW) cannot be put: it would store the entity without the fields the
    /// view leaves out.
    ///
    /// ```compile_fail
    /// use jobs_core::prelude::*;
    ///
    /// #[derive(Model, Serialize, Deserialize)]
    /// pub struct Note { id: String, text: String, tags: Vec<String> }
    ///
    /// #[derive(Serialize, Deserialize)]
    /// pub struct NoteText { id: String, text: String }
    ///
    /// impl Model for NoteText {
    ///     const KIND: &'static str = Note::KIND;
    ///     const VIEW: bool = true;
    ///     fn id(&self) -> &str { &self.id }
    /// }
    ///
    /// /// Trims notes, through a view: refused, since the tags would be lost.
    /// #[one_off_job(models = [NoteText])]
    /// pub struct TrimNotes;
    ///
    /// impl Map<NoteText> for TrimNotes {
    ///     fn map(&self, mut note: NoteText, ctx: &mut MapContext<'_, Self>) -> Outcome {
    ///         note.text = note.text.trim().to_owned();
    ///         ctx.put(&note)?;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// impl Reduce for TrimNotes {
    ///     type Key = String;
    ///     type Value = String;
    ///     fn reduce(&self, _: String, _: Values<'_, String>, _: &mut Output) -> Outcome { Ok(()) }
    /// }
    ///
    /// fn main() {
    ///     let store = jobs_core::MemoryStore::new();
    ///     jobs_core::testing::run(&TrimNotes, &store).unwrap();
    /// }
    /// ```
    ///
    /// # Errors
    /// The model does not encode.
    pub fn put<M: Model>(&mut self, model: &M) -> Result<(), CodecError> {
        const {
            assert!(
                !M::VIEW,
                "`ctx.put` of a view would store the entity without the fields the view leaves out: put the model itself"
            );
        }
        let bytes = model::encode(model)?;
        self.counters.add(crate::exec::counter::PUTS, 1);
        if !self.env.dry_run {
            let expect = self.expect(M::KIND, model.id(), true);
            self.writes.put_if(M::KIND, model.id(), bytes, expect);
        }
        Ok(())
    }

    /// Deletes the entity of model `M` with `id`, batched like [`put`](Self::put).
    ///
    /// Deleting the entity being mapped applies only if it is still stored as it was read,
    /// like [`put`](Self::put).
    pub fn delete<M: Model>(&mut self, id: &str) {
        self.counters.add(crate::exec::counter::DELETES, 1);
        if !self.env.dry_run {
            let expect = self.expect(M::KIND, id, false);
            self.writes.delete_if(M::KIND, id, expect);
        }
    }

    /// What a write to `kind` `id` requires of the stored entity: the entity being mapped
    /// unchanged since it was read; an entity `map` was not handed absent, for a put (so it
    /// never replaces one another writer created); nothing for a later write to an entity
    /// this call wrote already (the first write's check covers the whole atomic batch).
    fn expect(&mut self, kind: &'static str, id: &str, put: bool) -> Expect {
        if self.written.iter().any(|(k, i)| *k == kind && i == id) {
            return Expect::Any;
        }
        self.written.push((kind, id.to_owned()));
        match self.entity {
            Some(entity) if entity.kind == kind && entity.id == id => Expect::Unchanged(entity.bytes.to_vec()),
            _ if put => Expect::Absent,
            _ => Expect::Any,
        }
    }

    /// Whether this is a dry run, whose writes are counted but not stored.
    pub fn is_dry_run(&self) -> bool {
        self.env.dry_run
    }

    /// When the run was queued, in milliseconds since the Unix epoch: a migration can skip
    /// entities created after it (Oppia's `entity_created_before_job_queued`).
    pub fn queued_at_ms(&self) -> i64 {
        self.env.queued_at_ms
    }
}

/// [`MapContext::get`] failed.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The entity is stored but does not decode.
    #[error("{kind} {id}: {source}")]
    Decode {
        /// The kind read.
        kind: &'static str,
        /// The id read.
        id: String,
        /// Why it did not decode.
        source: CodecError,
    },
}

impl<J> fmt::Debug for MapContext<'_, J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapContext")
            .field("staged", &self.staged.staged_len())
            .field("writes", &self.writes.len())
            .field("dry_run", &self.env.dry_run)
            .finish_non_exhaustive()
    }
}
