//! Expand: write the `Job` impl, the registry entry and the compile-time checks for a validated
//! job.
//!
//! Everything generated names jobs-core by the resolved path (`::jobs_core`, a renamed
//! dependency, or the `crate = "..."` key) and, through it, `__private::…` only; it sits in
//! `const _: () = {…}` so no helper name reaches the user's namespace, calls every helper by
//! its full path (or an inherent method, which no trait of the user's can shadow), and names
//! its own locals with `Span::mixed_site()`, beside block-local functions of the same names so
//! that a user's `const params` cannot turn them into patterns. Each check is one call spanned at the token it is about, so its error lands
//! there, once:
//!
//! * a constant per listed model, at it: the type must be a `Model` or have `#[derive(Model)]`
//!   (whose own errors the derive reports); its kind is read through `ListedProbe`, which never
//!   fails to compile, so this is the one place a listed type is checked;
//! * `ModelProbe::<Job, M>::NEW.map_listed(..)`, at each listed model: the job must implement
//!   `Map<M>` (checked only once `M` is known to be a model, so a non-model gets one error);
//! * `impl ListedModel<M> for Job`, at each listed model: what lets the user's `Map<M>` impls
//!   compile, and only for listed models;
//! * a constant per pair of listed models, at the second: two types stored under one kind;
//! * `param::<T>()`, at each parameter's type: the type must be a `Param` (used twice, with
//!   identical spans, so the compiler reports it once);
//! * `impl Job for Job`, unconditional, at the struct's name: the job must implement `Reduce`,
//!   which `Job` requires; neither `Map` nor `MapContext` does, and the generated items read
//!   the job's name and parameters from block-local constants rather than through `Job`, so
//!   only the user's `ctx.emit(..)` calls (whose types are the `Reduce` impl's) repeat it;
//! * a `#[macro_export]` macro named after the job, at the job's name: two jobs of one name in
//!   one crate define it twice, which the compiler rejects, naming the macro
//!   `two_jobs_are_named_<name>__rename_one_with_the_name_key`.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use crate::valid;

/// The generated code for a job that passed every check.
pub(crate) fn job(job: &valid::Job<'_>) -> TokenStream {
    let krate = &job.krate;
    let private = quote!(#krate::__private);
    let item = job.item;
    let ident = &item.ident;
    let name = &job.name;
    let shards = job.shards as usize;
    let description = &job.description;
    let max_failures =
        job.max_failures.map(|limit| quote!(const MAX_FAILURES: #private::core::primitive::u64 = #limit;));

    // The generated functions' own parameters, hygienic (`Span::mixed_site()`). Hygiene does
    // not hide the user's items, though, and a user's `const params` in scope would make the
    // parameter `params` a constant pattern; so the block also defines a function of each name,
    // which shadows any such constant there, and a function name in a pattern is a binding.
    let params = Ident::new("params", Span::mixed_site());
    let bytes = Ident::new("bytes", Span::mixed_site());
    let ctx = Ident::new("ctx", Span::mixed_site());
    let model = Ident::new("model", Span::mixed_site());
    // The job's name and parameters, for `from_params` as well as the `Job` impl: reading them
    // back as `<Self as Job>::NAME` would require `Self: Reduce` there too, and so report a
    // missing `Reduce` impl a second time.
    let job_name = Ident::new("JOB_NAME", Span::mixed_site());
    let job_params = Ident::new("JOB_PARAMS", Span::mixed_site());
    let shadows = [&params, &bytes, &ctx, &model].map(|local| {
        quote! {
            #[allow(dead_code)]
            fn #local() {}
        }
    });
    let str_ = quote!(#private::core::primitive::str);
    let usize_ = quote!(#private::core::primitive::usize);

    let listed = job.models.iter().map(|model| {
        quote_spanned! {at(model)=>
            impl #private::ListedModel<#model> for #ident {}
        }
    });
    let kinds = job.models.iter().map(|model| quote_spanned!(at(model)=> #private::ListedProbe::<#model>::KIND));
    let models_are_models = job.models.iter().map(|model| is_a_model(model, &private));
    let dispatch = job.models.iter().enumerate().map(|(index, listed)| {
        quote_spanned! {at(listed)=>
            #index => #private::ModelProbe::<Self, #listed>::NEW.map_listed(self, #bytes, #ctx),
        }
    });
    let distinct_kinds = distinct_kinds(job, &private);
    let param_specs = job.params.iter().map(|param| {
        let field = param.ident.unraw().to_string();
        let ty = param.ty;
        let type_name = ty.to_token_stream().to_string().replace(' ', "");
        let doc = &param.doc;
        quote_spanned!(at(ty)=> #private::ParamType::spec(&#private::param::<#ty>(), #field, #type_name, #doc))
    });
    let construct = match &item.fields {
        syn::Fields::Named(_) => {
            let fields = job.params.iter().map(|param| {
                let field_ident = param.ident;
                let field = field_ident.unraw().to_string();
                let ty = param.ty;
                quote_spanned!(at(ty)=> #field_ident: #private::ParamType::field(&#private::param::<#ty>(), #params, #field)?)
            });
            quote!(#ident { #(#fields,)* })
        }
        _ => quote!(#ident),
    };
    // Unconditional, at the struct's name: a missing `Reduce` impl (a supertrait of `Job`) is
    // reported here, once, and the job is a `Job` everywhere else, so nothing that needs one
    // (its registration, the `Map` impls, `MapContext<'_, Self>`) reports the mistake again.
    let impl_job = quote_spanned! {at(ident)=>
        impl #private::Job for #ident
    };
    let descriptor = quote_spanned!(at(ident)=> #private::job_descriptor::<#ident>);
    let name_tokens = quote_spanned!(job.name_span=> #name);
    let guard = name_guard(job);

    quote! {
        #item

        const _: () = {
            #[allow(unused_imports)]
            use #private::ListedFallback as _;
            #[allow(unused_imports)]
            use #private::DerivedFallback as _;

            #(#shadows)*

            #(#listed)*

            #(#models_are_models)*

            #distinct_kinds

            const #job_name: &'static #str_ = #name_tokens;
            const #job_params: &'static [#private::ParamSpec] = &[#(#param_specs),*];

            #impl_job {
                const NAME: &'static #str_ = #job_name;
                const MODELS: &'static [&'static #str_] = &[#(#kinds),*];
                const DEFAULT_SHARDS: #usize_ = #shards;
                const PARAMS: &'static [#private::ParamSpec] = #job_params;
                #max_failures

                fn from_params(#params: &#private::Params) -> #private::core::result::Result<Self, #private::ParamError> {
                    #private::Params::check_names(#params, #job_name, #job_params)?;
                    #private::core::result::Result::Ok(#construct)
                }

                fn map_stored(
                    &self,
                    #model: #usize_,
                    #bytes: &[#private::core::primitive::u8],
                    #ctx: &mut #private::MapContext<'_, Self>,
                ) -> #private::Outcome {
                    match #model {
                        #(#dispatch)*
                        _ => #private::core::result::Result::Err(#private::Failure::new("no such model in this job")),
                    }
                }
            }

            #private::inventory::submit! {
                #descriptor(
                    #description,
                    #private::core::module_path!(),
                    #private::core::file!(),
                    #private::core::line!(),
                )
            }

            #guard
        };
    }
}

/// A constant that fails, at the listed type, when it is neither a `Model` nor a type with
/// `#[derive(Model)]` (whose own mistakes, such as a missing serde derive, the derive reports).
fn is_a_model(model: &syn::Type, private: &TokenStream) -> TokenStream {
    let message = format!(
        "`{}` is not a jobs model: add `#[derive(Model, Serialize, Deserialize)]` to it and mark its id field with `#[model(id)]`",
        spelled(model)
    );
    // As in `distinct_kinds`: every token at the user's span, so the failure is shown there.
    let private = respan(private.clone(), model.span());
    quote_spanned! {model.span()=>
        const _: () = if !#private::ListedProbe::<#model>::IS_MODEL && !#private::DerivedProbe::<#model>::DERIVED {
            #private::core::panic!(#message)
        };
    }
}

/// For each pair of listed models, a constant that fails to evaluate when the two are
/// different types stored under one kind, spanned at the second of the two. (One type listed
/// under two spellings is left to the compiler's "conflicting implementations".)
fn distinct_kinds(job: &valid::Job<'_>, private: &TokenStream) -> TokenStream {
    let mut checks = TokenStream::new();
    for (index, second) in job.models.iter().enumerate() {
        for first in &job.models[..index] {
            let message = format!(
                "`{}` and `{}` are stored under the same kind, so this job would read that kind twice: list only one of them, or give one its own kind with `#[model(kind = \"...\")]`",
                spelled(second),
                spelled(first),
            );
            // The user's own span, not `at`, on every token (the path to jobs-core too): the
            // compiler reports a failed constant at the `panic!` call, and a call whose tokens
            // come from two expansions is shown at the whole attribute. Nothing here is a
            // local, so hygiene has nothing to protect.
            let private = respan(private.clone(), second.span());
            checks.extend(quote_spanned! {second.span()=>
                const _: () = if #private::share_a_kind(
                    #private::ListedProbe::<#first>::KIND,
                    #private::ListedProbe::<#first>::TYPE_PATH,
                    #private::ListedProbe::<#second>::KIND,
                    #private::ListedProbe::<#second>::TYPE_PATH,
                ) {
                    #private::core::panic!(#message)
                };
            });
        }
    }
    checks
}

/// `tokens`, every one of them (inside groups too) spanned at `span`.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let proc_macro2::TokenTree::Group(group) = &tree {
                let mut inner = proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                tree = proc_macro2::TokenTree::Group(inner);
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
}

/// A type as the user wrote it, without the token spacing.
fn spelled(ty: &syn::Type) -> String {
    ty.to_token_stream().to_string().replace(' ', "")
}

/// Where an error about `tokens` should point, for generated code: at `tokens`, but resolving
/// names as the macro's own code does. (With the user's span alone, the generated code's own
/// locals, `self`, `bytes`, `ctx`, would not resolve when the user's tokens come from a
/// `macro_rules!` of theirs.)
fn at(tokens: &impl Spanned) -> Span {
    Span::call_site().located_at(tokens.span())
}

/// A `#[macro_export]` macro whose name is derived from the job's name, spanned at that name.
///
/// Exported macros all live at the crate's root, so a second job of the same name anywhere in
/// the crate is "defined multiple times", reported at the second name with the first one
/// shown. The macro's name is what the user reads in that error, so it is worded as the
/// advice. Across crates the registry reports duplicates when it is first read.
fn name_guard(job: &valid::Job<'_>) -> TokenStream {
    let span = Span::call_site().located_at(job.name_span);
    let guard = guard_ident(&job.name, span);
    // `non_local_definitions` warns about an exported macro defined in a function body; a job
    // defined there (a test, a doc test) registers like any other, and the guard must too.
    quote_spanned! {span=>
        #[doc(hidden)]
        #[allow(non_local_definitions)]
        #[macro_export]
        macro_rules! #guard {
            () => {};
        }
    }
}

/// `two_jobs_are_named_{name}__rename_one_with_the_name_key` for a name that is an identifier;
/// otherwise (a name with `.` or `-`) `two_jobs_share_the_name_{name}__rename_one_with_the_name_key`
/// with `_` written `__`, `.` written `_dot_` and `-` written `_dash_`. Distinct names give
/// distinct identifiers, so only a real duplicate collides.
fn guard_ident(name: &str, span: Span) -> Ident {
    const ADVICE: &str = "rename_one_with_the_name_key";
    if name.chars().all(|c| c == '_' || c.is_alphanumeric()) {
        return format_ident!("two_jobs_are_named_{}__{}", name, ADVICE, span = span);
    }
    let mut escaped = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        match c {
            '_' => escaped.push_str("__"),
            '.' => escaped.push_str("_dot_"),
            '-' => escaped.push_str("_dash_"),
            c => escaped.push(c),
        }
    }
    format_ident!("two_jobs_share_the_name_{}__{}", escaped, ADVICE, span = span)
}

#[cfg(test)]
mod tests {
    use proc_macro2::Span;

    use super::guard_ident;

    fn guard(name: &str) -> String {
        guard_ident(name, Span::call_site()).to_string()
    }

    #[test]
    fn guard_names_are_readable_for_plain_names() {
        assert_eq!(
            guard("InteractionAuditOneOffJob"),
            "two_jobs_are_named_InteractionAuditOneOffJob__rename_one_with_the_name_key"
        );
        assert_eq!(guard("user_audit"), "two_jobs_are_named_user_audit__rename_one_with_the_name_key");
    }

    #[test]
    fn distinct_names_never_share_a_guard() {
        let names = ["a.b", "a_dot_b", "a-b", "a_dash_b", "a__b", "a_b", "a._b", "a_.b", "x"];
        let mut guards: Vec<String> = names.iter().map(|name| guard(name)).collect();
        guards.sort();
        guards.dedup();
        assert_eq!(guards.len(), names.len(), "{guards:?}");
    }
}
