//! One-off map/reduce jobs over an application's stored models.
//!
//! A job lists the models it visits, maps each entity to `(key, value)` pairs, and reduces each
//! key's values to report lines. The attribute does the rest: it names the job, registers it,
//! and dispatches each stored entity to the right `map`.
//!
//! ```
//! use jobs_core::prelude::*;
//! use std::collections::BTreeMap;
//!
//! #[derive(Model, Serialize, Deserialize)]
//! pub struct ExplorationModel {
//!     pub id: String,
//!     pub deleted: bool,
//!     pub states: BTreeMap<String, String>, // state name -> interaction id
//! }
//!
//! /// Produces a list of (exploration, state) pairs, grouped by the interaction they use.
//! #[one_off_job(models = [ExplorationModel], shards = 64)]
//! pub struct InteractionAuditOneOffJob;
//!
//! impl Map<ExplorationModel> for InteractionAuditOneOffJob {
//!     fn map(&self, item: ExplorationModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
//!         if item.deleted {
//!             return Ok(());
//!         }
//!         for (state_name, interaction) in &item.states {
//!             ctx.emit(interaction.clone(), format!("{} {state_name}", item.id));
//!         }
//!         Ok(())
//!     }
//! }
//!
//! impl Reduce for InteractionAuditOneOffJob {
//!     type Key = String;
//!     type Value = String;
//!     fn reduce(&self, key: String, values: Values<'_, String>, out: &mut Output) -> Outcome {
//!         out.json(&(key, values.collect::<Vec<_>>()))
//!     }
//! }
//!
//! let job = jobs_core::registry()?.get("InteractionAuditOneOffJob")?;
//! assert_eq!(job.default_shards(), 64);
//! assert_eq!(job.models(), ["ExplorationModel"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Design notes
//!
//! * **`map` returns [`Outcome`]** (`Result<(), Failure>`), so a job reports a bad entity
//!   with `?` and the run goes on; panics are caught and recorded the same way.
//! * **Parameters are the job struct's fields**, parsed by [`Param`] rather than serde, so the
//!   registry knows their names, types and docs, and `--param` typos are errors.
//! * **Output order is a guarantee**: lines are sorted by key, and each key's values arrive
//!   in entity order, so output never depends on shard or thread counts. The engine keeps it
//!   without sorting by entity: see [`engine`].
//! * **Storage is self-describing MessagePack** (see [`model`]), so models can gain fields.
//! * **Generated code names only `::jobs_core::__private`**, so a crate defining jobs depends
//!   on `jobs-core` (and `serde` for its derives) and nothing else.
//! * **One job, two engines** (feature `timely`): `cluster` runs the same job on
//!   timely-dataflow workers across processes with the local engine's output, byte for byte;
//!   timely has no recovery, so the cluster is fail-stop with bounded waits and whole-job
//!   retries rather than a home-made recovery protocol. Both engines map entities and reduce
//!   keys through [`exec`], so a job behaves the same on either.
//!
//! # Crate map
//!
//! Each layer uses only the layers below it; a front end or an engine is a leaf.
//!
//! ```text
//! front ends   cli (feature `cli`)        web (feature `web`)          views: shared JSON
//!                   \                      /
//! run path      runs::runner: queue, carry out, record ── runs: RunLog (lifecycle) over RunStore
//!                   |
//!               registry: every linked job ── JobDescriptor::run_on(&EngineChoice, ..)
//!                   |
//! edge          engines: EngineChoice, the one list of engines
//!                   |                               \
//! engines       engine: local threads        cluster: timely workers (feature `timely`)
//!                   \                               /
//! core          exec: RunOptions, Shards, map one entity, reduce one key, combine,
//!                     RunReport, FailureRecord, Progress, CancelToken, the Engine trait
//!                   |
//! job API       job, context, model, params (what `#[one_off_job]` generates code against)
//! storage       store: Store, MemoryStore, RedbStore, PostgresStore (each also a runs::RunStore)
//! ```
//!
//! Data flows up: a [`Store`] is read in id order by an engine, each entity is mapped by
//! [`exec`] into pairs, the engine shuffles and reduces them into a [`RunReport`], the runner
//! records it through the [`RunLog`](runs::RunLog) of a [`RunStore`](runs::RunStore), and a
//! front end shows it.
//!
//! # Where things are
//!
//! * Defining and testing a job: the root and [`prelude`] ([`Map`], [`Reduce`], [`MapContext`],
//!   [`Param`], [`testing`], [`MemoryStore`], [`RunOptions`], [`RunReport`]).
//! * Running jobs as recorded runs, and reading them: [`runs`] ([`runs::run`],
//!   [`runs::RunLog`], [`runs::RunRecord`]), [`registry`](mod@registry) ([`registry::JobDescriptor`]),
//!   [`engines`], and the stores of [`store`] ([`store::RedbStore`], `store::PostgresStore`).
//! * Implementing a store: [`store::Store`] for models, [`runs::RunStore`] for run records,
//!   checked by [`runs::conformance`].

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(feature = "timely")]
pub mod cluster;
pub mod context;
pub mod engine;
pub mod engines;
pub mod exec;
pub mod job;
pub mod model;
pub mod params;
pub mod registry;
pub mod runs;
pub mod store;
mod sync;
pub mod testing;
#[cfg(any(feature = "cli", feature = "web"))]
mod timestamp;
#[cfg(any(feature = "cli", feature = "web"))]
mod views;

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "web")]
pub mod web;

// The root holds the job author's API: defining a job, and testing it over an in-memory
// store. Running jobs as recorded runs, choosing engines and opening stores (the operator's
// API) and implementing a store are reached through their modules: `runs::`, `registry::`,
// `engines::`, `exec::`, `store::`.
pub use context::{Counters, GetError, MapContext};
pub use exec::{CancelToken, FailureRecord, FailureSite, OutputSink, RunOptions, RunReport, RunStats, TextSink};
pub use job::{Failure, Job, JobKey, JobValue, Map, Outcome, Output, Reduce, StreamedValues, Values};
pub use jobs_macros::{Model, one_off_job};
pub use model::Model;
pub use params::{Param, Params};
pub use registry::registry;
pub use store::{MemoryStore, Store};

/// Everything a job definition needs: `use jobs_core::prelude::*;`.
pub mod prelude {
    pub use crate::{Failure, Map, MapContext, Model, Outcome, Output, Reduce, Values, one_off_job};
    pub use serde::{Deserialize, Serialize};
}

/// What the code generated by `#[one_off_job]` and `#[derive(Model)]` refers to. Not public API.
///
/// The helpers are shaped so that each mistake in a job definition is reported once, on the
/// user's own token: every check about a listed model goes through one call spanned at that
/// model ([`ListedProbe`](__private::ListedProbe), [`ModelProbe`](__private::ModelProbe)), every
/// check about a parameter through one call spanned at the field's type
/// ([`param`](__private::param)), and a missing `Reduce` impl once, where the attribute
/// implements [`Job`] (which requires `Reduce`) at the struct's name: neither `Map` nor
/// [`MapContext`] requires `Reduce`, so nothing else repeats it. `#[derive(Model)]` checks its
/// model's serde derives in one constant at the struct's name
/// ([`SerdeProbe`](__private::SerdeProbe)), and registers the model through
/// [`Register`](__private::Register), which asks nothing more of it. The attribute also implements
/// [`ListedModel<M>`](crate::job::ListedModel) for each listed model, which `Map<M>` requires,
/// so a `Map` impl for an unlisted model does not compile; it checks every pair of listed
/// models for a shared kind ([`share_a_kind`](__private::share_a_kind)); and it defines a hidden
/// `#[macro_export]` macro named after the job
/// (`two_jobs_are_named_<name>__rename_one_with_the_name_key`, worded as the advice the user
/// reads), so two jobs of one name in one crate are a "defined multiple times" error (across
/// crates, [`registry()`] reports them, and two models of one kind too).
///
/// Generated code reaches this module through the path the macros resolved (`::jobs_core`, a
/// renamed dependency, or `crate = "..."`), calls its functions by full path and its probes'
/// methods as inherent methods, so no name in the user's scope can capture a call.
#[doc(hidden)]
pub mod __private {
    pub use crate::context::MapContext;
    pub use crate::job::{Failure, Job, ListedModel, Map, Outcome, Reduce};
    pub use crate::model::{Model, ModelDescriptor, ModelId, id_text};
    pub use crate::params::{Param, ParamError, ParamSpec, Params};
    pub use crate::registry::JobDescriptor;
    pub use ::core;
    pub use ::inventory;
    pub use ::serde;
    pub use ::std;

    use ::core::marker::PhantomData;

    /// Decodes one stored entity as `M` and hands it to the job's `Map<M>`.
    #[inline]
    pub fn map_stored<J: Map<M>, M: Model>(job: &J, bytes: &[u8], ctx: &mut MapContext<'_, J>) -> Outcome {
        let item: M = crate::model::decode(bytes)?;
        job.map(item, ctx)
    }

    /// What `#[one_off_job]` reads of each listed type, chosen as [`SerdeProbe`] chooses: the
    /// inherent constants below when the type is a `Model`, and [`ListedFallback`]'s
    /// placeholders when it is not. So reading a listed model's kind never fails to compile;
    /// whether the type may be listed at all is asked once, in a constant of the attribute's
    /// (see [`DerivedProbe`]), which fails at the type with what to write.
    pub struct ListedProbe<M>(PhantomData<fn() -> M>);

    impl<M: Model> ListedProbe<M> {
        /// The model's stored kind.
        pub const KIND: &'static str = M::KIND;
        /// Where the derive found the model (empty for a view).
        pub const TYPE_PATH: &'static str = M::__TYPE_PATH;
        /// The type is a model.
        pub const IS_MODEL: bool = true;
    }

    /// See [`ListedProbe`]: the placeholders for a type that is not a `Model`.
    pub trait ListedFallback {
        /// No kind.
        const KIND: &'static str = "";
        /// No path.
        const TYPE_PATH: &'static str = "";
        /// The type is not a model.
        const IS_MODEL: bool = false;
    }

    impl<M> ListedFallback for ListedProbe<M> {}

    /// Whether `#[derive(Model)]` was written on a type, whether or not the type then is a
    /// `Model`: the derive implements [`DerivedModel`] unconditionally, also for a model whose
    /// serde derives are missing or whose definition has errors. Such a type listed by a job is
    /// reported by the derive alone; a type that is neither a `Model` nor derived is reported
    /// by the job, at the listed type.
    pub struct DerivedProbe<M>(PhantomData<fn() -> M>);

    impl<M: DerivedModel> DerivedProbe<M> {
        /// The type has `#[derive(Model)]`.
        pub const DERIVED: bool = true;
    }

    /// See [`DerivedProbe`]: the answer for a type without `#[derive(Model)]`.
    pub trait DerivedFallback {
        /// The type has no `#[derive(Model)]`.
        const DERIVED: bool = false;
    }

    impl<M> DerivedFallback for DerivedProbe<M> {}

    /// Implemented by `#[derive(Model)]` for every type it is written on; see [`DerivedProbe`].
    pub trait DerivedModel {}

    /// Registers the job `J`.
    ///
    /// `#[one_off_job]` implements `Job` for the struct unconditionally, at the struct's name,
    /// so a job without its `Reduce` impl (which `Job` requires) is reported there, once, and
    /// `J: Job` still holds everywhere else, this call included.
    pub const fn job_descriptor<J: Job>(
        description: &'static str,
        module_path: &'static str,
        file: &'static str,
        line: u32,
    ) -> JobDescriptor {
        JobDescriptor::__of::<J>(description, module_path, file, line)
    }

    /// Chooses how the job's `map_stored` reaches the listed model `M`, by method resolution:
    /// `ModelProbe::<J, M>::NEW.map_listed(..)` resolves to the inherent method below when `M`
    /// is a model, which then requires `J: Map<M>` at the call (the listed type's span); when
    /// `M` is not a model that impl does not apply, and resolution goes on through `Deref` to
    /// [`NotAModel::map_listed`], which requires nothing, so the only error is the one the
    /// attribute's check through [`ListedProbe`] and [`DerivedProbe`] reports.
    ///
    /// Both methods are inherent, and inherent methods win over trait methods of the same
    /// name, so no trait of the user's in scope can make the call ambiguous.
    pub struct ModelProbe<J, M>(PhantomData<fn() -> (J, M)>);

    impl<J, M> ModelProbe<J, M> {
        /// The probe.
        pub const NEW: Self = ModelProbe(PhantomData);
    }

    // No `J: Reduce` bound here or on `NotAModel`: a job without its `Reduce` impl is
    // reported once, at the struct, not again at every listed model.
    impl<J, M: Model> ModelProbe<J, M> {
        /// Decodes the entity as `M` and maps it.
        #[inline]
        pub fn map_listed(self, job: &J, bytes: &[u8], ctx: &mut MapContext<'_, J>) -> Outcome
        where
            J: Map<M>,
        {
            map_stored::<J, M>(job, bytes, ctx)
        }
    }

    impl<J, M> ::core::ops::Deref for ModelProbe<J, M> {
        type Target = NotAModel<J>;
        fn deref(&self) -> &NotAModel<J> {
            &NotAModel(PhantomData)
        }
    }

    /// See [`ModelProbe`]: where a listed type that is not a model is dispatched, which only
    /// exists so that the one real error is not followed by others.
    pub struct NotAModel<J>(PhantomData<fn() -> J>);

    impl<J> NotAModel<J> {
        /// Never called: a job listing a non-model does not compile.
        pub fn map_listed(&self, _job: &J, _bytes: &[u8], _ctx: &mut MapContext<'_, J>) -> Outcome {
            Err(Failure::new("not a model"))
        }
    }

    /// What `#[derive(Model)]` asks of a model's serde impls, as constants: `SERIALIZE` and
    /// `DESERIALIZE` are the inherent constants below when the model has the impl, and the
    /// [`SerdeFallback`] trait's `false` otherwise (an inherent item wins over a trait's when
    /// its impl applies). The derive turns a `false` into one error at the struct's name that
    /// names the derive to add, and writes its `Model` impl so that it only applies with both,
    /// so `Model`'s supertraits add nothing to that error.
    pub struct SerdeProbe<T>(PhantomData<fn() -> T>);

    impl<T: ::serde::Serialize> SerdeProbe<T> {
        /// The model implements `Serialize`.
        pub const SERIALIZE: bool = true;
    }

    impl<T: ::serde::de::DeserializeOwned> SerdeProbe<T> {
        /// The model implements `Deserialize`.
        pub const DESERIALIZE: bool = true;
    }

    /// See [`SerdeProbe`]: the answers for a model without the impls.
    pub trait SerdeFallback {
        /// The model does not implement `Serialize`.
        const SERIALIZE: bool = false;
        /// The model does not implement `Deserialize`.
        const DESERIALIZE: bool = false;
    }

    impl<T> SerdeFallback for SerdeProbe<T> {}

    /// Where `#[derive(Model)]` found a model: its type name, module, file and line.
    pub trait ModelSite {
        /// `(type name, module path, file, line)`.
        const SITE: (&'static str, &'static str, &'static str, u32);
    }

    /// The registry entry `#[derive(Model)]` submits for `T`: the inherent `MODEL` when `T` is a
    /// model, [`RegisterFallback`]'s otherwise, which only exists so that a model missing a
    /// serde derive is reported once (by the derive's own check) rather than once more here.
    pub struct Register<T>(PhantomData<fn() -> T>);

    impl<T: Model + ModelSite> Register<T> {
        /// The model's registry entry.
        pub const MODEL: ModelDescriptor = ModelDescriptor::__new::<T>(T::SITE.0, T::SITE.1, T::SITE.2, T::SITE.3);
    }

    /// See [`Register`]: never submitted by a crate that compiles.
    pub trait RegisterFallback {
        /// A placeholder entry.
        const MODEL: ModelDescriptor = ModelDescriptor::__new::<Unregistered>("", "", "", 0);
    }

    impl<T> RegisterFallback for Register<T> {}

    /// The placeholder model of [`RegisterFallback`].
    #[derive(::serde::Serialize, ::serde::Deserialize)]
    pub struct Unregistered {
        id: ::std::string::String,
    }

    impl Model for Unregistered {
        const KIND: &'static str = "";
        fn id(&self) -> &str {
            &self.id
        }
    }

    /// Whether two listed models are stored under one kind: the job would read that kind
    /// twice. `#[one_off_job]` checks every pair of its models with it, in a constant.
    pub const fn same_kind(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }

    /// Whether two listed types are different models stored under one kind, from their
    /// [`ListedProbe`] kinds and paths: one type listed twice under two spellings is not (the
    /// compiler's own "conflicting implementations" already says so), nor is a type that is
    /// not a model (reported at the type itself).
    pub const fn share_a_kind(kind_a: &str, path_a: &str, kind_b: &str, path_b: &str) -> bool {
        let one_type = !path_a.is_empty() && same_kind(path_a, path_b);
        !kind_a.is_empty() && same_kind(kind_a, kind_b) && !one_type
    }

    /// How a job parameter of type `T` is described and parsed. Built by [`param`], the one
    /// place a field's type must be a [`Param`], so a type that is not one is reported once.
    pub struct ParamType<T> {
        expected: &'static str,
        optional: bool,
        parse: fn(&str) -> Result<T, String>,
        absent: fn() -> Option<T>,
    }

    /// The parameter type `T`, checked to be a [`Param`].
    pub const fn param<T: Param>() -> ParamType<T> {
        ParamType { expected: T::EXPECTED, optional: T::OPTIONAL, parse: T::parse, absent: T::absent }
    }

    impl<T> ParamType<T> {
        /// The parameter's description for the registry.
        pub const fn spec(&self, name: &'static str, type_name: &'static str, doc: &'static str) -> ParamSpec {
            ParamSpec { name, type_name, expected: self.expected, required: !self.optional, doc }
        }

        /// Parses the parameter `name` from `params`.
        ///
        /// # Errors
        /// The parameter is missing (and not optional) or does not parse.
        pub fn field(&self, params: &Params, name: &'static str) -> Result<T, ParamError> {
            match params.get(name) {
                Some(text) => (self.parse)(text).map_err(|reason| ParamError::Invalid {
                    name,
                    value: text.to_owned(),
                    expected: self.expected,
                    reason,
                }),
                None => (self.absent)().ok_or(ParamError::Missing { name, expected: self.expected }),
            }
        }
    }
}
