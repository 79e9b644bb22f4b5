//! Expand: write the `Job` impl, the registry entry and the compile-time checks for a validated
//! job.
//!
//! Everything generated names `::jobs_core::__private::…` only, and sits in `const _: () = {…}`
//! so no helper name reaches the user's namespace. Each check is one call spanned at the token
//! it is about, so its error lands there, once:
//!
//! * `kind_of::<M>()`, at each listed model: the type must be a `Model`;
//! * `(&ModelProbe::<Job, M>::NEW).dispatch(..)`, at each listed model: the job must implement
//!   `Map<M>` (checked only once `M` is known to be a model, so a non-model gets one error);
//! * `impl ListedModel<M> for Job`, at each listed model: what lets the user's `Map<M>` impls
//!   compile, and only for listed models;
//! * `param::<T>()`, at each parameter's type: the type must be a `Param` (used twice, with
//!   identical spans, so the compiler reports it once);
//! * `job_descriptor::<Job>()`, at the struct's name: the job must implement `Reduce`;
//! * a `#[macro_export]` macro named after the job, at the job's name: two jobs of one name in
//!   one crate define it twice, which the compiler rejects.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::valid;

/// The generated code for a job that passed every check.
pub(crate) fn job(job: &valid::Job<'_>) -> TokenStream {
    let private = quote!(::jobs_core::__private);
    let item = job.item;
    let ident = &item.ident;
    let name = &job.name;
    let shards = job.shards as usize;
    let description = &job.description;
    let max_failures = job.max_failures.map(|limit| quote!(const MAX_FAILURES: u64 = #limit;));

    let listed = job.models.iter().map(|model| {
        quote_spanned! {at(model)=>
            impl #private::ListedModel<#model> for #ident {}
        }
    });
    let kinds = job.models.iter().map(|model| quote_spanned!(at(model)=> #private::kind_of::<#model>()));
    let dispatch = job.models.iter().enumerate().map(|(index, model)| {
        quote_spanned! {at(model)=>
            #index => (&#private::ModelProbe::<Self, #model>::NEW).dispatch(self, bytes, ctx),
        }
    });
    let param_specs = job.params.iter().map(|param| {
        let field = param.ident.to_string();
        let ty = param.ty;
        let type_name = ty.to_token_stream().to_string().replace(' ', "");
        let doc = &param.doc;
        quote_spanned!(at(ty)=> #private::param::<#ty>().spec(#field, #type_name, #doc))
    });
    let construct = match &item.fields {
        syn::Fields::Named(_) => {
            let fields = job.params.iter().map(|param| {
                let field_ident = param.ident;
                let field = field_ident.to_string();
                let ty = param.ty;
                quote_spanned!(at(ty)=> #field_ident: #private::param::<#ty>().field(params, #field)?)
            });
            quote!(#ident { #(#fields,)* })
        }
        _ => quote!(#ident),
    };
    // The `Reduce` bound is written on the impl (in the `for<'a>` form the compiler accepts even
    // when it is false) so that a missing `Reduce` impl is not reported once per item inside
    // it: the one report is where the job is registered, at the struct's name.
    let impl_job = quote_spanned! {at(ident)=>
        impl #private::Job for #ident where for<'a> #ident: #private::Reduce
    };
    let descriptor = quote_spanned!(at(ident)=> #private::job_descriptor::<#ident>);
    let name_tokens = quote_spanned!(job.name_span=> #name);
    let guard = name_guard(job);

    quote! {
        #item

        const _: () = {
            use #private::{DispatchModel as _, DispatchNonModel as _};

            #(#listed)*

            #impl_job {
                const NAME: &'static str = #name_tokens;
                const MODELS: &'static [&'static str] = &[#(#kinds),*];
                const DEFAULT_SHARDS: usize = #shards;
                const PARAMS: &'static [#private::ParamSpec] = &[#(#param_specs),*];
                #max_failures

                fn from_params(params: &#private::Params) -> #private::core::result::Result<Self, #private::ParamError> {
                    params.check_names(<Self as #private::Job>::NAME, <Self as #private::Job>::PARAMS)?;
                    #private::core::result::Result::Ok(#construct)
                }

                fn map_stored(
                    &self,
                    model: usize,
                    bytes: &[u8],
                    ctx: &mut #private::MapContext<'_, Self>,
                ) -> #private::Outcome {
                    match model {
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
/// shown. Across crates the registry reports duplicates when it is first read.
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

/// `__jobs_job_named_{name}` for a name that is an identifier; otherwise (a name with `.` or
/// `-`) `__jobs_job_escaped_{name}` with `_` written `__`, `.` written `_dot_` and `-` written
/// `_dash_`. Distinct names give distinct identifiers, so only a real duplicate collides.
fn guard_ident(name: &str, span: Span) -> Ident {
    if name.chars().all(|c| c == '_' || c.is_alphanumeric()) {
        return format_ident!("__jobs_job_named_{}", name, span = span);
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
    format_ident!("__jobs_job_escaped_{}", escaped, span = span)
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
        assert_eq!(guard("InteractionAuditOneOffJob"), "__jobs_job_named_InteractionAuditOneOffJob");
        assert_eq!(guard("user_audit"), "__jobs_job_named_user_audit");
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
