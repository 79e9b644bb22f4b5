//! Validate: check the parsed arguments against each other and against the item, and reduce
//! them to the plain facts [`expand`](crate::expand) needs.

use proc_macro2::Span;
use quote::ToTokens;
use syn::{Attribute, Expr, Fields, Ident, Item, ItemStruct, Lit, Meta, Type};

use crate::attr::JobArgs;
use crate::errors::Errors;

/// The most shards a job may ask for. Keep in step with `jobs_core::engine::MAX_SHARDS`.
pub(crate) const MAX_SHARDS: u64 = 256;
/// Oppia's default.
pub(crate) const DEFAULT_SHARDS: u64 = 8;

/// A job definition that passed every check.
pub(crate) struct Job<'a> {
    pub(crate) item: &'a ItemStruct,
    pub(crate) name: String,
    /// Where the name comes from: the `name = ".."` literal or the struct's ident.
    pub(crate) name_span: Span,
    pub(crate) models: Vec<Type>,
    pub(crate) shards: u64,
    pub(crate) description: String,
    pub(crate) params: Vec<Param<'a>>,
}

/// One named field of the job struct: a parameter.
pub(crate) struct Param<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    pub(crate) doc: String,
}

/// Checks the item the attribute is on. Returns the struct if it is one a job can be.
pub(crate) fn item(item: &Item, errors: &mut Errors) -> Option<ItemStruct> {
    let what = match item {
        Item::Struct(item) => {
            if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
                errors.spanned(
                    &item.generics,
                    "a one-off job cannot be generic: the registry must know its concrete type; remove the generic parameters",
                );
            }
            if let Fields::Unnamed(fields) = &item.fields {
                errors.spanned(
                    fields,
                    "job parameters need names: write `struct Job { name: Type }` (the field name is the `--param` name), or `struct Job;` for none",
                );
            }
            return Some(item.clone());
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
pub(crate) fn job<'a>(args: JobArgs, item: &'a ItemStruct, errors: &mut Errors) -> Option<Job<'a>> {
    let models = match args.models {
        None => {
            errors.push(syn::Error::new(
                crate::attr::call_site(),
                "missing `models`: list the models the job maps over, e.g. `#[one_off_job(models = [ExplorationModel])]`",
            ));
            Vec::new()
        }
        Some(models) => {
            if models.types.is_empty() {
                errors.spanned(
                    &models.key,
                    "`models` is empty: list at least one model, e.g. `models = [ExplorationModel]`",
                );
            }
            let mut seen: Vec<String> = Vec::new();
            for ty in &models.types {
                let text = ty.to_token_stream().to_string();
                if seen.contains(&text) {
                    errors.spanned(
                        ty,
                        format!("`{text}` is listed twice in `models`: list each model once"),
                    );
                }
                seen.push(text);
            }
            models.types
        }
    };

    let shards = match args.shards {
        None => DEFAULT_SHARDS,
        Some(shards) => {
            match shards.value {
                Some(value) if (1..=MAX_SHARDS).contains(&value) => value,
                Some(value) => {
                    errors.spanned(&shards.tokens, format!("`shards = {value}` is out of range: use 1 to {MAX_SHARDS} (the default is {DEFAULT_SHARDS})"));
                    DEFAULT_SHARDS
                }
                None if shards.tokens.to_string().starts_with('-') => {
                    errors.spanned(
                        &shards.tokens,
                        format!("`shards` cannot be negative: use 1 to {MAX_SHARDS} (the default is {DEFAULT_SHARDS})"),
                    );
                    DEFAULT_SHARDS
                }
                None => {
                    errors.spanned(
                        &shards.tokens,
                        format!("`shards` must be an integer literal from 1 to {MAX_SHARDS}, e.g. `shards = 64`"),
                    );
                    DEFAULT_SHARDS
                }
            }
        }
    };

    let (name, name_span) = match &args.name {
        Some(lit) => {
            let name = lit.value();
            if let Some(problem) = name_problem(&name) {
                errors.spanned(lit, problem);
            }
            (name, lit.span())
        }
        None => (item.ident.to_string(), item.ident.span()),
    };

    let mut params = Vec::new();
    if let Fields::Named(fields) = &item.fields {
        for field in &fields.named {
            if let Some(ident) = &field.ident {
                params.push(Param {
                    ident,
                    ty: &field.ty,
                    doc: doc_comment(&field.attrs),
                });
            }
        }
    }

    if models.is_empty() {
        return None;
    }
    Some(Job {
        item,
        name,
        name_span,
        models,
        shards,
        description: doc_comment(&item.attrs),
        params,
    })
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
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Some(format!(
            "the job name `{name}` contains {bad:?}: job names are typed on command lines, so use only letters, digits, `_`, `-` and `.`"
        ));
    }
    None
}

/// The `///` lines of `attrs`, joined, with the one space after `///` removed.
pub(crate) fn doc_comment(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if let Meta::NameValue(meta) = &attr.meta {
            if meta.path.is_ident("doc") {
                if let Expr::Lit(expr) = &meta.value {
                    if let Lit::Str(text) = &expr.lit {
                        let text = text.value();
                        lines.push(text.strip_prefix(' ').unwrap_or(&text).trim_end().to_owned());
                    }
                }
            }
        }
    }
    lines.join("\n").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::name_problem;

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
