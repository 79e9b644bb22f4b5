//! `#[derive(Model)]`: parse the struct and its `#[model(...)]` attributes, check them, and
//! implement `Model` plus the model's registry entry.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Field, Fields, Ident, LitStr, Token, Type};

use crate::errors::Errors;
use crate::krate;

/// The derive's entry point.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let mut errors = Errors::default();
    let model = check(&input, &mut errors);
    let krate = match &model {
        // A `crate` that did not parse has had its error; the manifest's name still serves the
        // fallback.
        Some(model) if model.krate_attempted && model.krate.is_none() => krate::path(None, "").ok(),
        _ => krate::path(
            model.as_ref().and_then(|model| model.krate.as_ref()),
            "`#[model(crate = \"app::jobs_core\")]` on the struct",
        )
        .map_err(|error| errors.push(error))
        .ok(),
    };
    match (model, krate) {
        (Some(model), Some(krate)) if errors.is_empty() => generate(&input.ident, &model, &krate),
        (_, krate) => fallback(&input, krate.as_ref(), errors),
    }
}

/// The errors, `DerivedModel` and an inert `Model` impl, so that the type's other uses (in a
/// job's `models` list, say) do not add "is not a jobs model" to the real mistake. Its bounds are written
/// `for<'a>` so the compiler accepts them even when false; then the impl just does not apply.
fn fallback(input: &DeriveInput, krate: Option<&TokenStream>, errors: Errors) -> TokenStream {
    let errors = errors.into_compile_errors();
    let Some(krate) = krate else {
        return errors;
    };
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        return errors;
    }
    let private = quote!(#krate::__private);
    let ident = &input.ident;
    let kind = ident.unraw().to_string();
    quote! {
        #errors
        const _: () = {
            impl #private::DerivedModel for #ident {}

            impl #private::Model for #ident
            where
                for<'a> #ident: #private::serde::Serialize + #private::serde::de::DeserializeOwned + #private::core::marker::Send,
            {
                const KIND: &'static #private::core::primitive::str = #kind;
                fn id(&self) -> &#private::core::primitive::str {
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
    /// The id field's type.
    id_ty: &'a Type,
    /// `#[model(crate = "...")]`, when given.
    krate: Option<syn::Path>,
    /// Whether `crate` was written, even if it did not parse.
    krate_attempted: bool,
}

/// Checks the struct and its `#[model(...)]` attributes, recording every problem.
fn check<'a>(input: &'a DeriveInput, errors: &mut Errors) -> Option<ValidModel<'a>> {
    let mut kind = None;
    let mut krate = None;
    let mut krate_attempted = false;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("model")) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                krate_attempted = true;
                let lit: LitStr = meta.value()?.parse()?;
                let path = krate::parse_explicit(&lit)?;
                if krate.replace(path).is_some() {
                    errors.spanned(&meta.path, "`crate` is given twice: keep one");
                }
                Ok(())
            } else if meta.path.is_ident("id") {
                Err(meta.error("`#[model(id)]` goes on the id field, not on the struct: mark the field that identifies an entity"))
            } else if meta.path.is_ident("kind") {
                let lit: LitStr = meta.value()?.parse()?;
                if lit.value().is_empty() || lit.value().contains('/') {
                    errors.spanned(&lit, "the kind must be a non-empty name without `/`");
                }
                if kind.replace(lit.value()).is_some() {
                    errors.spanned(&meta.path, "`kind` is given twice: keep one");
                }
                Ok(())
            } else {
                Err(meta.error("unknown model attribute: on the struct write `#[model(kind = \"...\")]` (or `#[model(crate = \"...\")]`); mark the id field with `#[model(id)]`"))
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
                    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
                        // `#[model(id = true)]`: one error, and the value is skipped so the
                        // attribute's parser adds none of its own.
                        let value: TokenStream = meta.input.step(|cursor| {
                            let mut rest = *cursor;
                            let mut tokens = TokenStream::new();
                            while let Some((tree, next)) = rest.token_tree() {
                                if matches!(&tree, proc_macro2::TokenTree::Punct(p) if p.as_char() == ',') {
                                    break;
                                }
                                tokens.extend([tree]);
                                rest = next;
                            }
                            Ok((tokens, rest))
                        })?;
                        errors.spanned(
                            quote!(#value),
                            "`id` takes no value: the mark alone makes this the id field, so write `#[model(id)]`",
                        );
                    }
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
    // Whether the id is a `String` is checked by type, not by spelling (an alias of `String`
    // is fine): see `generate`.
    Some(ValidModel {
        kind: kind.unwrap_or_else(|| input.ident.unraw().to_string()),
        id: id_field.ident.as_ref()?,
        id_ty: &id_field.ty,
        krate,
        krate_attempted,
    })
}

/// The `Model` impl and the model's registry entry.
///
/// The id is read through `id_text::<T>`, spanned at the id field's type, the one place that
/// type must be a `String`.
///
/// A derive does not see its siblings, so whether the struct also derives `Serialize` and
/// `Deserialize` is asked of the type, through `SerdeProbe`'s constants, in one constant that
/// fails (at the struct's name) naming the derives to add. The `Model` impl is written with
/// those two bounds in the `for<'a>` form the compiler accepts even when they are false, so
/// that `Model`'s supertraits do not report the same mistake again (with serde's internal
/// names); and the registry entry goes through `Register`, which needs no `Model` impl.
fn generate(ident: &Ident, model: &ValidModel<'_>, krate: &TokenStream) -> TokenStream {
    let private = quote!(#krate::__private);
    let str_ = quote!(#private::core::primitive::str);
    let kind = &model.kind;
    let id = model.id;
    let id_ty = model.id_ty;
    let type_name = ident.unraw().to_string();
    let impl_model = quote_spanned!(ident.span()=> impl #private::Model for #ident);
    let id_of = quote_spanned!(Span::call_site().located_at(id_ty.span())=> #private::id_text::<#id_ty>(&self.#id));
    let serde_check = serde_check(ident, &type_name, &private);
    quote! {
        const _: () = {
            #serde_check

            #impl_model
            where
                for<'a> #ident: #private::serde::Serialize + #private::serde::de::DeserializeOwned,
            {
                const KIND: &'static #str_ = #kind;
                const __TYPE_PATH: &'static #str_ =
                    #private::core::concat!(#private::core::module_path!(), "::", #type_name);
                fn id(&self) -> &#str_ {
                    #id_of
                }
            }

            impl #private::DerivedModel for #ident {}

            impl #private::ModelSite for #ident {
                const SITE: (&'static #str_, &'static #str_, &'static #str_, #private::core::primitive::u32) = (
                    #type_name,
                    #private::core::module_path!(),
                    #private::core::file!(),
                    #private::core::line!(),
                );
            }

            #private::inventory::submit! {
                {
                    #[allow(unused_imports)]
                    use #private::RegisterFallback as _;
                    #private::Register::<#ident>::MODEL
                }
            }
        };
    }
}

/// A constant that fails, at the struct's name, when the model lacks `Serialize` or
/// `Deserialize`, saying which derive to add.
fn serde_check(ident: &Ident, type_name: &str, private: &TokenStream) -> TokenStream {
    let fix = "models are stored with serde";
    let derive = "`#[derive(Model, Serialize, Deserialize)]`";
    let neither = format!(
        "`{type_name}` implements neither `Serialize` nor `Deserialize`: {fix}, so add both to its derives: {derive}"
    );
    let no_serialize =
        format!("`{type_name}` does not implement `Serialize`: {fix}, so add `Serialize` to its derives: {derive}");
    let no_deserialize =
        format!("`{type_name}` does not implement `Deserialize`: {fix}, so add `Deserialize` to its derives: {derive}");
    // Every token at the struct's name: the compiler reports a failed constant at its `panic!`.
    let private = crate::expand::respan(private.clone(), ident.span());
    quote_spanned! {ident.span()=>
        const _: () = {
            #[allow(unused_imports)]
            use #private::SerdeFallback as _;
            match (#private::SerdeProbe::<#ident>::SERIALIZE, #private::SerdeProbe::<#ident>::DESERIALIZE) {
                (true, true) => {}
                (false, false) => #private::core::panic!(#neither),
                (false, true) => #private::core::panic!(#no_serialize),
                (true, false) => #private::core::panic!(#no_deserialize),
            }
        };
    }
}
