//! Validate: check the parsed arguments against each other and against the item, and reduce
//! them to the plain facts [`expand`](crate::expand) needs.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{Attribute, Expr, Fields, Ident, Item, ItemStruct, Lit, LitStr, Meta, Type};

use crate::attr::{Count, JobArgs, Models};
use crate::errors::Errors;

/// The most shards a job may ask for: `jobs_core::exec::MAX_SHARDS` (a jobs-core test fails
/// when the two differ).
pub(crate) const MAX_SHARDS: u64 = 256;
/// Oppia's default.
pub(crate) const DEFAULT_SHARDS: u64 = 8;

/// A job definition that passed every check.
pub(crate) struct Job<'a> {
    /// The path that names jobs-core in the user's crate.
    pub(crate) krate: TokenStream,
    pub(crate) item: &'a ItemStruct,
    pub(crate) name: String,
    /// Where the name comes from: the `name = ".."` literal or the struct's ident.
    pub(crate) name_span: Span,
    pub(crate) models: Vec<Type>,
    pub(crate) shards: u64,
    /// `max_failures = N`, when given; the `Job` trait's default (0) otherwise.
    pub(crate) max_failures: Option<u64>,
    pub(crate) description: String,
    pub(crate) params: Vec<Param<'a>>,
}

/// One named field of the job struct: a parameter.
pub(crate) struct Param<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    pub(crate) doc: String,
}

/// `#[one_off_job]` written twice on one item: the second one (still on the item while the
/// first expands) is reported, at itself, and removed so that it does not expand again.
pub(crate) fn repeated_attribute(item: &mut Item, errors: &mut Errors) {
    let attrs = match item {
        Item::Struct(item) => &mut item.attrs,
        Item::Enum(item) => &mut item.attrs,
        Item::Union(item) => &mut item.attrs,
        Item::Fn(item) => &mut item.attrs,
        _ => return,
    };
    attrs.retain(|attr| {
        let ours = attr.path().segments.last().is_some_and(|segment| segment.ident == "one_off_job");
        if ours {
            errors.spanned(
                attr,
                "`#[one_off_job]` is given twice on this item: keep one, with every key in it, and remove the other",
            );
        }
        !ours
    });
}

/// Checks the item the attribute is on. Returns the struct if it is one a job can be.
pub(crate) fn item<'a>(item: &'a Item, errors: &mut Errors) -> Option<&'a ItemStruct> {
    let what = match item {
        Item::Struct(item) => {
            if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
                errors.spanned(
                    &item.generics,
                    "a one-off job cannot be generic: the registry runs it by name, so it must be one concrete type; remove the generic parameters and make what varies a field (a `--param`) instead",
                );
            }
            if let Fields::Unnamed(fields) = &item.fields {
                errors.spanned(
                    fields,
                    "job parameters need names: write `struct Job { name: Type }` (the field name is the `--param` name), or `struct Job;` for none",
                );
            }
            return Some(item);
        }
        Item::Enum(item) => (item.enum_token.to_token_stream(), "an enum"),
        Item::Union(item) => (item.union_token.to_token_stream(), "a union"),
        Item::Fn(item) => (item.sig.fn_token.to_token_stream(), "a function"),
        Item::Impl(item) => (item.impl_token.to_token_stream(), "an impl block"),
        Item::Trait(item) => (item.trait_token.to_token_stream(), "a trait"),
        other => (other.to_token_stream(), "this item"),
    };
    errors.spanned(
        what.0,
        format!(
            "#[one_off_job] goes on a struct, not on {}: write `pub struct MyJob;` (fields are the job's parameters)",
            what.1
        ),
    );
    None
}

/// Checks the arguments against each other and the struct.
pub(crate) fn job<'a>(
    args: JobArgs,
    krate: Option<TokenStream>,
    item: &'a ItemStruct,
    errors: &mut Errors,
) -> Option<Job<'a>> {
    let models = models(args.models, args.models_attempted, errors);
    let shards = shards(args.shards, errors);
    let max_failures = args.max_failures.and_then(|count| max_failures(&count, errors));
    let (name, name_span) = name(args.name.as_ref(), item, errors);
    let mut params = Vec::new();
    if let Fields::Named(fields) = &item.fields {
        for field in &fields.named {
            if let Some(ident) = &field.ident {
                params.push(Param { ident, ty: &field.ty, doc: doc_comment(&field.attrs) });
            }
        }
    }
    if models.is_empty() {
        return None;
    }
    Some(Job {
        krate: krate?,
        item,
        name,
        name_span,
        models,
        shards,
        max_failures,
        description: doc_comment(&item.attrs),
        params,
    })
}

/// The listed models: at least one, each once (as written: `A` and `crate::A` are told apart
/// by the compiler, as conflicting `ListedModel` impls).
fn models(models: Option<Models>, attempted: bool, errors: &mut Errors) -> Vec<Type> {
    let Some(models) = models else {
        // A `models` that was written but did not parse has had its error already.
        if !attempted {
            errors.push(syn::Error::new(
                Span::call_site(),
                "missing `models`: list the models the job maps over, e.g. `#[one_off_job(models = [ExplorationModel])]`",
            ));
        }
        return Vec::new();
    };
    if models.types.is_empty() {
        errors.spanned(&models.key, "`models` is empty: list at least one model, e.g. `models = [ExplorationModel]`");
    }
    let mut seen: Vec<String> = Vec::new();
    for ty in &models.types {
        let text = ty.to_token_stream().to_string().replace(' ', "");
        if seen.contains(&text) {
            errors.spanned(ty, format!("`{text}` is listed twice in `models`: list each model once"));
        }
        seen.push(text);
    }
    models.types
}

/// The shard count: an integer literal from 1 to [`MAX_SHARDS`], or the default.
fn shards(shards: Option<Count>, errors: &mut Errors) -> u64 {
    let Some(shards) = shards else {
        return DEFAULT_SHARDS;
    };
    let problem = match shards.value {
        Some(value) if (1..=MAX_SHARDS).contains(&value) => return value,
        Some(0) => format!(
            "`shards = 0` leaves the job nothing to run on: use 1 to {MAX_SHARDS}, or leave `shards` out for the default of {DEFAULT_SHARDS}"
        ),
        Some(value) => format!(
            "`shards = {value}` is above the cap of {MAX_SHARDS}: use 1 to {MAX_SHARDS} (more shards than that only add overhead)"
        ),
        None if shards.tokens.to_string().starts_with('-') => {
            format!("`shards` cannot be negative: use 1 to {MAX_SHARDS} (the default is {DEFAULT_SHARDS})")
        }
        None if syn::parse2::<LitStr>(shards.tokens.clone()).is_ok() => {
            format!(
                "`shards` is a number, not a string: write it without quotes, e.g. `shards = 64` (1 to {MAX_SHARDS})"
            )
        }
        None if syn::parse2::<syn::Path>(shards.tokens.clone()).is_ok() => format!(
            "`shards` must be an integer literal: the macro cannot see the value of `{}`, so write the number itself, e.g. `shards = 64` (1 to {MAX_SHARDS})",
            shards.tokens.to_string().replace(' ', "")
        ),
        None => format!("`shards` must be an integer literal from 1 to {MAX_SHARDS}, e.g. `shards = 64`"),
    };
    errors.spanned(&shards.tokens, problem);
    DEFAULT_SHARDS
}

/// How many failed entities and keys a run may have and still complete: an integer literal,
/// 0 or more.
fn max_failures(count: &Count, errors: &mut Errors) -> Option<u64> {
    let problem = match count.value {
        Some(value) => return Some(value),
        None if count.tokens.to_string().starts_with('-') => {
            "`max_failures` cannot be negative: it is how many entities and keys may fail before the run counts as failed; use 0 (the default) or more".to_owned()
        }
        None if syn::parse2::<LitStr>(count.tokens.clone()).is_ok() => {
            "`max_failures` is a number, not a string: write it without quotes, e.g. `max_failures = 10`".to_owned()
        }
        None if syn::parse2::<syn::Path>(count.tokens.clone()).is_ok() => format!(
            "`max_failures` must be an integer literal: the macro cannot see the value of `{}`, so write the number itself, e.g. `max_failures = 10`",
            count.tokens.to_string().replace(' ', "")
        ),
        None => "`max_failures` must be an integer literal, 0 or more, e.g. `max_failures = 10`".to_owned(),
    };
    errors.spanned(&count.tokens, problem);
    None
}

/// The job's name and the span of the tokens it comes from: the `name = ".."` literal, or the
/// struct's name (which must then be a name a command line can carry, too).
fn name(name: Option<&LitStr>, item: &ItemStruct, errors: &mut Errors) -> (String, Span) {
    match name {
        Some(lit) => {
            let name = lit.value();
            if let Some(problem) = name_problem(&name) {
                errors.spanned(lit, problem);
            }
            (name, lit.span())
        }
        None => {
            let name = item.ident.unraw().to_string();
            if let Some(problem) = name_problem(&name) {
                errors.spanned(
                    &item.ident,
                    format!("{problem}; or keep the struct's name and give the job another with `name = \"...\"`"),
                );
            }
            (name, item.ident.span())
        }
    }
}

/// Why `name` cannot be a job name on a command line, if it cannot.
fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the job name is empty: give a name like `name = \"MyAuditJob\"`, or leave `name` out to use the struct's name".to_owned());
    }
    if name.starts_with('-') {
        return Some(format!(
            "the job name `{name}` starts with `-`, which a command line reads as a flag: start it with a letter"
        ));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))) {
        let bad = match bad {
            ' ' => "a space".to_owned(),
            c if c.is_whitespace() || c.is_control() => format!("the character {c:?}"),
            c => format!("`{c}`"),
        };
        return Some(format!(
            "the job name `{name}` contains {bad}: job names are typed on command lines, so use only ASCII letters, digits, `_`, `-` and `.`"
        ));
    }
    None
}

/// The `///` lines of `attrs`, joined, with the one space after `///` removed.
pub(crate) fn doc_comment(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if let Meta::NameValue(meta) = &attr.meta
            && meta.path.is_ident("doc")
            && let Expr::Lit(expr) = &meta.value
            && let Lit::Str(text) = &expr.lit
        {
            let text = text.value();
            lines.push(text.strip_prefix(' ').unwrap_or(&text).trim_end().to_owned());
        }
    }
    lines.join("\n").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::{max_failures, name_problem};
    use crate::attr::Count;
    use crate::errors::Errors;

    fn limit(tokens: proc_macro2::TokenStream) -> (Option<u64>, Vec<String>) {
        let value = syn::parse2::<syn::LitInt>(tokens.clone()).ok().and_then(|lit| lit.base10_parse().ok());
        let mut errors = Errors::default();
        let limit = max_failures(&Count { tokens, value }, &mut errors);
        (limit, errors.messages())
    }

    #[test]
    fn max_failures_is_a_count_written_as_a_literal() {
        assert_eq!(limit(quote::quote!(0)), (Some(0), vec![]));
        assert_eq!(limit(quote::quote!(25)), (Some(25), vec![]));
        for (tokens, starts) in [
            (quote::quote!(-3), "`max_failures` cannot be negative"),
            (quote::quote!("10"), "`max_failures` is a number, not a string"),
            (
                quote::quote!(LIMIT),
                "`max_failures` must be an integer literal: the macro cannot see the value of `LIMIT`",
            ),
            (quote::quote!(2.5), "`max_failures` must be an integer literal, 0 or more"),
        ] {
            let (value, messages) = limit(tokens);
            assert_eq!(value, None);
            assert!(messages.len() == 1 && messages[0].starts_with(starts), "{messages:?}");
        }
    }

    #[test]
    fn names_that_a_command_line_can_carry() {
        assert_eq!(name_problem("InteractionAuditOneOffJob"), None);
        assert_eq!(name_problem("audit.v2-fast_1"), None);
        assert!(name_problem("").is_some());
        assert!(name_problem("-x").is_some());
        assert!(name_problem("has space").is_some());
        assert!(name_problem("quote\"").is_some());
    }
}
