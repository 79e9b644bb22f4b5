//! `#[derive(Model)]`: parse the struct and its `#[model(...)]` attributes, check them, and
//! implement `Model` plus the model's registry entry.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Field, Fields, Ident, LitStr, Type};

use crate::errors::Errors;

/// The derive's entry point.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let mut errors = Errors::default();
    let model = check(&input, &mut errors);
    match model {
        Some(model) if errors.is_empty() => generate(&input.ident, &model),
        _ => fallback(&input, errors),
    }
}

/// The errors, and an inert `Model` impl so that the type's other uses (in a job's `models`
/// list, say) do not add "is not a jobs model" to the real mistake. Its bounds are written
/// `for<'a>` so the compiler accepts them even when false; then the impl just does not apply.
fn fallback(input: &DeriveInput, errors: Errors) -> TokenStream {
    let errors = errors.into_compile_errors();
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        return errors;
    }
    let private = quote!(::jobs_core::__private);
    let ident = &input.ident;
    let kind = ident.unraw().to_string();
    quote! {
        #errors
        const _: () = {
            impl #private::Model for #ident
            where
                for<'a> #ident: #private::serde::Serialize + #private::serde::de::DeserializeOwned + #private::core::marker::Send,
            {
                const KIND: &'static str = #kind;
                fn id(&self) -> &str {
                    #private::core::unreachable!("a model whose definition has errors does not compile")
                }
            }
        };
    }
}

/// A model definition that passed every check.
struct ValidModel<'a> {
    /// The stored kind name.
    kind: String,
    /// The id field.
    id: &'a Ident,
}

/// Checks the struct and its `#[model(...)]` attributes, recording every problem.
fn check<'a>(input: &'a DeriveInput, errors: &mut Errors) -> Option<ValidModel<'a>> {
    let mut kind = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("model")) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("kind") {
                let lit: LitStr = meta.value()?.parse()?;
                if lit.value().is_empty() || lit.value().contains('/') {
                    errors.spanned(&lit, "the kind must be a non-empty name without `/`");
                }
                if kind.replace(lit.value()).is_some() {
                    errors.spanned(&meta.path, "`kind` is given twice: keep one");
                }
                Ok(())
            } else {
                Err(meta.error("unknown model attribute: on the struct write `#[model(kind = \"...\")]`; mark the id field with `#[model(id)]`"))
            }
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    if !input.generics.params.is_empty() {
        errors.spanned(&input.generics, "a model cannot be generic: each model is one stored kind");
    }
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => &fields.named,
            other => {
                errors.spanned(
                    other,
                    "a model needs named fields, one of them the `String` id: `struct MyModel { id: String, ... }`",
                );
                return None;
            }
        },
        Data::Enum(data) => {
            errors.spanned(data.enum_token, "#[derive(Model)] goes on a struct with named fields, not an enum");
            return None;
        }
        Data::Union(data) => {
            errors.spanned(data.union_token, "#[derive(Model)] goes on a struct with named fields, not a union");
            return None;
        }
    };

    let mut marked: Vec<&Field> = Vec::new();
    for field in fields {
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("model")) {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("id") {
                    if marked.iter().any(|f| std::ptr::eq(*f, field)) {
                        return Err(meta.error("`id` is given twice on this field"));
                    }
                    marked.push(field);
                    Ok(())
                } else {
                    Err(meta.error("unknown field attribute: the only one is `#[model(id)]`, on the id field"))
                }
            });
            if let Err(error) = result {
                errors.push(error);
            }
        }
    }
    let id_field = match marked.as_slice() {
        [] => fields.iter().find(|f| f.ident.as_ref().is_some_and(|i| i == "id")),
        [one] => Some(*one),
        [first, rest @ ..] => {
            let name = |field: &Field| field.ident.as_ref().map(ToString::to_string).unwrap_or_default();
            for extra in rest {
                errors.spanned(
                    extra.ident.as_ref(),
                    format!(
                        "`{}` is marked `#[model(id)]`, but so is `{}`: a model has exactly one id field, so remove one of the two marks",
                        name(extra),
                        name(first),
                    ),
                );
            }
            Some(*first)
        }
    };
    let Some(id_field) = id_field else {
        errors.spanned(
            &input.ident,
            format!(
                "the model `{}` has no id field: add `#[model(id)]` to its `String` id field, or name it `id`",
                input.ident
            ),
        );
        return None;
    };
    if !is_string(&id_field.ty) {
        errors.spanned(
            &id_field.ty,
            "a model id must be a `String`: entities are stored and split into shards by id text; convert other ids with `to_string()` when building the model",
        );
    }
    Some(ValidModel { kind: kind.unwrap_or_else(|| input.ident.unraw().to_string()), id: id_field.ident.as_ref()? })
}

/// Whether `ty` is written as `String` (or a path ending in it, `std::string::String`).
fn is_string(ty: &Type) -> bool {
    match ty {
        Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().is_some_and(|s| s.ident == "String" && s.arguments.is_empty())
        }
        _ => false,
    }
}

/// The `Model` impl and the model's registry entry.
fn generate(ident: &Ident, model: &ValidModel<'_>) -> TokenStream {
    let private = quote!(::jobs_core::__private);
    let kind = &model.kind;
    let id = model.id;
    let type_name = ident.to_string();
    let impl_model = quote_spanned!(ident.span()=> impl #private::Model for #ident);
    quote! {
        const _: () = {
            #impl_model {
                const KIND: &'static str = #kind;
                fn id(&self) -> &str {
                    &self.#id
                }
            }

            #private::inventory::submit! {
                #private::ModelDescriptor::__new::<#ident>(#type_name)
            }
        };
    }
}
