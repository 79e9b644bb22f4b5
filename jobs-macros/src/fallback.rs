//! What `#[one_off_job]` emits when the definition has errors: the user's item unchanged, the
//! errors, and just enough beside them that the rest of the user's code still compiles, so the
//! real mistakes are not buried under follow-ups:
//!
//! * `ListedModel<M>` for every `M`, so the user's `Map<M>` impls are accepted whatever the
//!   (broken) `models` list says;
//! * for a plain struct, a `Job` impl that applies only if the struct implements `Reduce`, so code
//!   that names the job (tests, a `run::<Job>`) does not report "not a one-off job" as well.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Generics, Ident, Item};

use crate::errors::Errors;

/// The item, its errors, and the impls that keep follow-up errors away.
///
/// Without a path to jobs-core (none was found, which is itself the error) nothing can be
/// added beside the item.
pub(crate) fn job(input: TokenStream, item: Option<&Item>, krate: Option<&TokenStream>, errors: Errors) -> TokenStream {
    let errors = errors.into_compile_errors();
    let support = item.zip(krate).map(|(item, krate)| support(item, krate)).unwrap_or_default();
    quote! {
        #input
        #errors
        #support
    }
}

fn support(item: &Item, krate: &TokenStream) -> TokenStream {
    let (ident, generics) = match item {
        Item::Struct(item) => (&item.ident, &item.generics),
        Item::Enum(item) => (&item.ident, &item.generics),
        Item::Union(item) => (&item.ident, &item.generics),
        _ => return TokenStream::new(),
    };
    let listed = listed_for_all(ident, generics, krate);
    let job = match item {
        Item::Struct(item) if generics.params.is_empty() && generics.where_clause.is_none() => {
            inert_job(&item.ident, krate)
        }
        _ => TokenStream::new(),
    };
    quote! {
        const _: () = {
            #listed
            #job
        };
    }
}

/// `impl<M> ListedModel<M> for Job {}`, with the item's own generics if it has some.
fn listed_for_all(ident: &Ident, generics: &Generics, krate: &TokenStream) -> TokenStream {
    let model = Ident::new("__JobsAnyModel", proc_macro2::Span::mixed_site());
    let mut with_model = generics.clone();
    with_model.params.push(syn::parse_quote!(#model));
    let (impl_generics, _, _) = with_model.split_for_impl();
    let (_, type_generics, where_clause) = generics.split_for_impl();
    quote! {
        impl #impl_generics #krate::__private::ListedModel<#model> for #ident #type_generics #where_clause {}
    }
}

/// A `Job` impl that is never run (the crate does not compile) and that holds only when the
/// struct implements `Reduce`. The bound is written `for<'a>` so that the compiler accepts it
/// even when it is false, instead of reporting it as one more error.
fn inert_job(ident: &Ident, krate: &TokenStream) -> TokenStream {
    let private = quote!(#krate::__private);
    let str_ = quote!(#private::core::primitive::str);
    let usize_ = quote!(#private::core::primitive::usize);
    let name = ident.to_string();
    quote! {
        impl #private::Job for #ident
        where
            for<'a> #ident: #private::Reduce,
        {
            const NAME: &'static #str_ = #name;
            const MODELS: &'static [&'static #str_] = &[];
            const DEFAULT_SHARDS: #usize_ = 1;
            const PARAMS: &'static [#private::ParamSpec] = &[];

            fn from_params(_: &#private::Params) -> #private::core::result::Result<Self, #private::ParamError> {
                #private::core::unreachable!("a job whose definition has errors does not compile")
            }

            fn map_stored(
                &self,
                _: #usize_,
                _: &[#private::core::primitive::u8],
                _: &mut #private::MapContext<'_, Self>,
            ) -> #private::Outcome {
                #private::core::unreachable!("a job whose definition has errors does not compile")
            }
        }
    }
}
