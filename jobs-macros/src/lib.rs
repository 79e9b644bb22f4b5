//! Procedural macros for jobs-core: `#[one_off_job]` and `#[derive(Model)]`.
//!
//! Use them through `jobs_core`, which re-exports both. Each macro runs in three phases, one
//! file each: [`attr`] parses the attribute into plain data, [`valid`] checks it against the
//! item, and [`expand`] writes the code. Every phase collects all of its errors before giving
//! up, and on error the user's item is still emitted unchanged, so the compiler reports only
//! the real mistakes, each on the user's own tokens.

mod attr;
mod errors;
mod expand;
mod model;
mod valid;

use proc_macro::TokenStream;

/// Turns a struct into a one-off job: `#[one_off_job(models = [ExplorationModel], shards = 64)]`.
///
/// Keys: `models` (required, a list of `Model` types), `shards` (1 to 256, default 8), and
/// `name` (default: the struct's name). The struct's doc comment becomes the job's
/// description and its named fields its parameters. See `jobs_core` for a full example.
#[proc_macro_attribute]
pub fn one_off_job(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::one_off_job(args.into(), item.into()).into()
}

/// Implements `jobs_core::Model` for a struct and registers its kind.
///
/// The id is the `String` field marked `#[model(id)]`, or the field named `id`.
/// `#[model(kind = "...")]` on the struct sets the stored kind name (default: the type's name).
#[proc_macro_derive(Model, attributes(model))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    model::derive(input.into()).into()
}
