//! Procedural macros for jobs-core: `#[one_off_job]` and `#[derive(Model)]`.
//!
//! Use them through `jobs_core`, which re-exports both. `#[one_off_job]` runs in three phases,
//! one file each: `attr.rs` parses the attribute into plain data, `valid.rs` checks it against
//! the item, and `expand.rs` writes the code. Every phase collects all of its errors
//! (`errors.rs`) before giving up, and on error `fallback.rs` still emits the user's item (plus
//! what keeps the rest of their code compiling), so the compiler reports only the real mistakes,
//! each on the user's own tokens.
//!
//! Mistakes only the type checker can see (a listed type that is not a model, a missing
//! `Map<M>` impl, a `Map<M>` impl for a model that is not listed, a parameter type that does not
//! parse) are left to it: the generated code makes each of them exactly one error, spanned at
//! the token the mistake is about, worded by the traits' `#[diagnostic::on_unimplemented]`.

mod attr;
mod errors;
mod expand;
mod fallback;
mod krate;
mod model;
mod valid;

use proc_macro::TokenStream;

/// Turns a struct into a one-off job: `#[one_off_job(models = [ExplorationModel], shards = 64)]`.
///
/// Keys: `models` (required, a list of `Model` types), `shards` (1 to 256, default 8),
/// `name` (default: the struct's name), `max_failures` (default 0), and `crate` (the path of
/// jobs-core, for a crate that reaches it through a facade: `crate = "app::jobs_core"`; a
/// renamed dependency needs nothing, it is found in the crate's `Cargo.toml`). The struct's doc
/// comment becomes the job's description and its named fields its parameters (a raw
/// identifier such as `r#type` is the parameter `type`). See `jobs_core` for a full example.
///
/// Mistakes are compile errors on the token they are about; the README's "What the compiler
/// checks" lists each with its message. A job without its `Reduce` impl is reported at the
/// struct's name, with the impl to write; its `Map` impls and their `MapContext<'_, Self>` add
/// nothing, but each `ctx.emit(..)` repeats the message, since the key and value types it takes
/// are the `Reduce` impl's. A `map` whose context names another type than the job
/// (`MapContext<'_, ExplorationModel>`) gets the compiler's "incompatible type for trait", which
/// shows the right form.
#[proc_macro_attribute]
pub fn one_off_job(args: TokenStream, item: TokenStream) -> TokenStream {
    one_off_job_impl(args.into(), item.into()).into()
}

/// Implements `jobs_core::Model` for a struct and registers its kind.
///
/// The id is the `String` field (or a field whose type is an alias of `String`) marked
/// `#[model(id)]`, or the field named `id`. `#[model(kind = "...")]` on the struct sets the
/// stored kind name (default: the type's name); `#[model(crate = "app::jobs_core")]` names
/// jobs-core for a crate that reaches it through a facade.
///
/// A model is stored with serde, so the struct also derives `Serialize` and `Deserialize`; one
/// missing is one error at the struct's name, saying which derive to add.
#[proc_macro_derive(Model, attributes(model))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    model::derive(input.into()).into()
}

/// `#[one_off_job(...)]`: parse, validate, expand; on any error, the fallback.
fn one_off_job_impl(args: proc_macro2::TokenStream, input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let mut errors = errors::Errors::default();
    let args = attr::parse(args, &mut errors);
    // A `crate = ...` that did not parse has had its error; the manifest's name (if any) still
    // lets the fallback keep the rest of the user's code compiling. Without one, the manifest
    // decides.
    let krate = if args.krate.is_none() && args.krate_attempted {
        krate::path(None, "").ok()
    } else {
        krate::path(args.krate.as_ref(), "`#[one_off_job(crate = \"app::jobs_core\", ...)]`")
            .map_err(|error| errors.push(error))
            .ok()
    };
    let mut item: syn::Item = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(error) => {
            errors.push(error);
            return fallback::job(input, None, krate.as_ref(), errors);
        }
    };
    valid::repeated_attribute(&mut item, &mut errors);
    let job = valid::item(&item, &mut errors).and_then(|item| valid::job(args, krate.clone(), item, &mut errors));
    match job {
        Some(job) if errors.is_empty() => expand::job(&job),
        _ => fallback::job(quote::ToTokens::to_token_stream(&item), Some(&item), krate.as_ref(), errors),
    }
}
