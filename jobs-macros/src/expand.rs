//! Expand: write the `Job` impl and the registry entry for a validated job.
//!
//! Everything generated names `::jobs_core::__private::…` only, and sits in `const _: () = {…}`
//! so no helper name reaches the user's namespace. Checks about a listed model are spanned on
//! that model's tokens, so a missing `Map<M>` impl is reported where `M` is listed.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::Item;
use syn::spanned::Spanned;

use crate::errors::Errors;
use crate::{attr, valid};

/// `#[one_off_job(...)]`: parse, validate, expand. On any error, the item is emitted unchanged
/// beside the errors so that no follow-up errors bury them.
pub(crate) fn one_off_job(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = attr::parse(args, &mut errors);
    let item: Item = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(error) => return fallback(input, error),
    };
    let Some(item_struct) = valid::item(&item, &mut errors) else {
        return fallback_all(input, errors);
    };
    let job = valid::job(args, &item_struct, &mut errors);
    match errors.finish(job) {
        Ok(Some(job)) => generate(&job),
        Ok(None) => input,
        Err(error) => fallback(input, error),
    }
}

fn fallback_all(input: TokenStream, errors: Errors) -> TokenStream {
    match errors.finish(()) {
        Ok(()) => input,
        Err(error) => fallback(input, error),
    }
}

fn fallback(input: TokenStream, error: syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    quote! { #input #errors }
}

fn generate(job: &valid::Job<'_>) -> TokenStream {
    let item = job.item;
    let ident = &item.ident;
    let name = &job.name;
    let shards = job.shards as usize;
    let description = &job.description;
    let private = quote!(::jobs_core::__private);

    let kinds = job
        .models
        .iter()
        .map(|model| quote_spanned!(model.span()=> <#model as #private::Model>::KIND));
    let dispatch = job.models.iter().enumerate().map(|(index, model)| {
        quote_spanned! {model.span()=>
            #index => #private::map_stored::<Self, #model>(self, bytes, ctx),
        }
    });
    let param_specs = job.params.iter().map(|param| {
        let field = param.ident.to_string();
        let ty = param.ty;
        let type_name = ty.to_token_stream().to_string().replace(' ', "");
        let doc = &param.doc;
        quote_spanned! {ty.span()=>
            #private::ParamSpec {
                name: #field,
                type_name: #type_name,
                expected: <#ty as #private::Param>::EXPECTED,
                required: !<#ty as #private::Param>::OPTIONAL,
                doc: #doc,
            }
        }
    });
    let construct = if job.params.is_empty() {
        match &item.fields {
            syn::Fields::Named(_) => quote!(#ident {}),
            _ => quote!(#ident),
        }
    } else {
        let fields = job.params.iter().map(|param| {
            let field_ident = param.ident;
            let field = field_ident.to_string();
            let ty = param.ty;
            quote_spanned!(ty.span()=> #field_ident: params.__field::<#ty>(#field)?)
        });
        quote!(#ident { #(#fields,)* })
    };
    let impl_job = quote_spanned! {ident.span()=>
        impl #private::Job for #ident
    };
    let name_tokens = quote_spanned!(job.name_span=> #name);

    quote! {
        #item

        const _: () = {
            #impl_job {
                const NAME: &'static str = #name_tokens;
                const MODELS: &'static [&'static str] = &[#(#kinds),*];
                const DEFAULT_SHARDS: usize = #shards;
                const PARAMS: &'static [#private::ParamSpec] = &[#(#param_specs),*];

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
                #private::JobDescriptor::__of::<#ident>(
                    #description,
                    #private::core::module_path!(),
                    #private::core::file!(),
                    #private::core::line!(),
                )
            }
        };
    }
}
