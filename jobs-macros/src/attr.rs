//! Parse: the tokens inside `#[one_off_job(...)]` into [`JobArgs`].
//!
//! Every key is parsed even after an error, so one compile shows every bad key. Values are kept
//! as written (with their spans); whether they make sense is [`valid`](crate::valid)'s business.

use proc_macro2::{TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Ident, LitInt, LitStr, Token, Type, bracketed};

use crate::errors::Errors;

/// The keys `#[one_off_job]` accepts, each with the form it takes.
pub(crate) const KEYS: &[(&str, &str)] = &[
    ("models", "`models = [ExplorationModel]`"),
    ("shards", "`shards = 64`"),
    ("name", "`name = \"MyJob\"`"),
    ("max_failures", "`max_failures = 10`"),
];

/// Keys that are not shown in the list of keys an unknown key gets: `crate` is for the rare
/// crate that reaches jobs-core through a facade.
const RARE_KEYS: &[(&str, &str)] = &[("crate", "`crate = \"app::jobs_core\"`")];

/// Oppia's names for what the attribute's keys say, as a user porting a job would write them.
const OPPIA_KEYS: &[(&str, &str)] = &[
    ("entity_classes_to_map_over", "models"),
    ("entity_classes", "models"),
    ("shard_count", "shards"),
    ("num_shards", "shards"),
    ("job_name", "name"),
];

/// The arguments as written, before they are checked against each other and the struct.
#[derive(Default)]
pub(crate) struct JobArgs {
    pub(crate) models: Option<Models>,
    /// Whether `models` was written (or misspelled) at all, even if it did not parse: then a
    /// "missing `models`" error would only repeat the one already reported.
    pub(crate) models_attempted: bool,
    pub(crate) shards: Option<Count>,
    pub(crate) name: Option<LitStr>,
    pub(crate) max_failures: Option<Count>,
    /// `crate = "app::jobs_core"`: the path of jobs-core, for a crate that re-exports it.
    pub(crate) krate: Option<syn::Path>,
    /// Whether `crate` was written, even if it did not parse.
    pub(crate) krate_attempted: bool,
}

/// `models = [A, B]`.
pub(crate) struct Models {
    /// The `models` key, for errors about the list as a whole.
    pub(crate) key: Ident,
    pub(crate) types: Vec<Type>,
}

/// `shards = N` or `max_failures = N`, with `N` as written and its value if it is an integer
/// literal.
pub(crate) struct Count {
    pub(crate) tokens: TokenStream,
    pub(crate) value: Option<u64>,
}

/// Parses the attribute's arguments, recording every problem in `errors`.
pub(crate) fn parse(args: TokenStream, errors: &mut Errors) -> JobArgs {
    let mut parsed = JobArgs::default();
    let parser = |input: ParseStream| {
        parse_keys(input, &mut parsed, errors);
        Ok(())
    };
    if let Err(error) = parser.parse2(args) {
        errors.push(error);
    }
    parsed
}

fn parse_keys(input: ParseStream, args: &mut JobArgs, errors: &mut Errors) {
    while !input.is_empty() {
        if let Err(error) = parse_one_key(input, args, errors) {
            errors.push(error);
            skip_value(input);
        }
        if input.is_empty() {
            break;
        }
        if let Err(error) = input.parse::<Token![,]>() {
            errors.push(syn::Error::new(error.span(), "expected `,` between keys"));
            skip_value(input);
            let _ = input.parse::<Token![,]>();
        }
    }
}

fn parse_one_key(input: ParseStream, args: &mut JobArgs, errors: &mut Errors) -> syn::Result<()> {
    let key: Ident = input
        .call(Ident::parse_any)
        .map_err(|e| syn::Error::new(e.span(), format!("expected a key: {}", key_forms())))?;
    let key_text = key.to_string();
    if let Some((_, ours)) = OPPIA_KEYS.iter().find(|(oppia, _)| *oppia == key_text) {
        if *ours == "models" {
            args.models_attempted = true;
        }
        errors.spanned(
            &key,
            format!("`{key_text}` is Oppia's name for it; here the key is `{ours}`: write {}", form_of(ours)),
        );
        skip_value(input);
        return Ok(());
    }
    if key_text == "crate" {
        args.krate_attempted = true;
        if !input.peek(Token![=]) {
            return Err(syn::Error::new_spanned(&key, format!("`crate` needs a value: {}", form_of("crate"))));
        }
        input.parse::<Token![=]>()?;
        if args.krate.is_some() {
            errors.spanned(&key, "`crate` is given twice: keep one `crate = ...` and remove the other");
            skip_value(input);
            return Ok(());
        }
        let value = take_value(input);
        let lit = syn::parse2::<LitStr>(value.clone())
            .map_err(|_| syn::Error::new_spanned(&value, format!("`crate` must be a string: {}", form_of("crate"))))?;
        args.krate = Some(crate::krate::parse_explicit(&lit)?);
        return Ok(());
    }
    if !KEYS.iter().any(|(k, _)| *k == key_text) {
        let suggestion = closest_key(&key_text);
        if suggestion == Some("models") {
            args.models_attempted = true;
        }
        errors.spanned(&key, unknown_key_message(&key_text, suggestion));
        skip_value(input);
        return Ok(());
    }
    if key_text == "models" {
        args.models_attempted = true;
    }
    if !input.peek(Token![=]) {
        return Err(syn::Error::new_spanned(&key, format!("`{key_text}` needs a value: {}", form_of(&key_text))));
    }
    input.parse::<Token![=]>()?;
    let duplicate = match key_text.as_str() {
        "models" => args.models.is_some(),
        "shards" => args.shards.is_some(),
        "max_failures" => args.max_failures.is_some(),
        _ => args.name.is_some(),
    };
    if duplicate {
        errors.spanned(&key, format!("`{key_text}` is given twice: keep one `{key_text} = ...` and remove the other"));
        skip_value(input);
        return Ok(());
    }
    match key_text.as_str() {
        "models" => args.models = Some(parse_models(key, input)?),
        "shards" => args.shards = Some(parse_count(input)),
        "max_failures" => args.max_failures = Some(parse_count(input)),
        _ => args.name = Some(parse_name(input)?),
    }
    Ok(())
}

fn parse_models(key: Ident, input: ParseStream) -> syn::Result<Models> {
    if !input.peek(syn::token::Bracket) {
        let found = take_value(input);
        let message =
            "`models` must be a list of model types in brackets, even for one model: `models = [ExplorationModel]`";
        return Err(if found.is_empty() {
            syn::Error::new_spanned(&key, message)
        } else {
            syn::Error::new_spanned(found, message)
        });
    }
    let content;
    bracketed!(content in input);
    let mut types = Vec::new();
    let mut strings = Vec::new();
    while !content.is_empty() {
        if content.peek(LitStr) {
            let lit: LitStr = content.parse()?;
            strings.push(lit);
        } else {
            let ty: Type = content.parse().map_err(|e| {
                syn::Error::new(e.span(), "expected a model type: `models = [ExplorationModel, UserSettingsModel]`")
            })?;
            types.push(ty);
        }
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>().map_err(|e| {
            syn::Error::new(e.span(), "expected `,` between models: `models = [ExplorationModel, UserSettingsModel]`")
        })?;
    }
    if let Some(first) = strings.first() {
        let mut error = string_models_error(first);
        for lit in &strings[1..] {
            error.combine(string_models_error(lit));
        }
        return Err(error);
    }
    Ok(Models { key, types })
}

/// `models = ["ExplorationModel"]`: the list holds types, so the fix is to drop the quotes.
fn string_models_error(lit: &LitStr) -> syn::Error {
    let value = lit.value();
    let shown = if syn::parse_str::<syn::Path>(&value).is_ok() { value } else { "ExplorationModel".to_owned() };
    syn::Error::new_spanned(
        lit,
        format!(
            "`models` lists model types, not strings: write `{shown}` without the quotes, e.g. `models = [{shown}]`"
        ),
    )
}

fn parse_count(input: ParseStream) -> Count {
    let tokens = take_value(input);
    let value = syn::parse2::<LitInt>(tokens.clone()).ok().and_then(|lit| lit.base10_parse::<u64>().ok());
    Count { tokens, value }
}

fn parse_name(input: ParseStream) -> syn::Result<LitStr> {
    let value = take_value(input);
    syn::parse2::<LitStr>(value.clone()).map_err(|_| {
        let message = "`name` must be a string literal: `name = \"MyJob\"`";
        if value.is_empty() { syn::Error::new(input.span(), message) } else { syn::Error::new_spanned(value, message) }
    })
}

/// The tokens up to the next top-level `,`.
fn take_value(input: ParseStream) -> TokenStream {
    let mut tokens = TokenStream::new();
    while !input.is_empty() && !input.peek(Token![,]) {
        match input.parse::<TokenTree>() {
            Ok(tree) => tokens.extend([tree]),
            Err(_) => break,
        }
    }
    tokens
}

fn skip_value(input: ParseStream) {
    let _ = take_value(input);
}

/// The known key closest to a misspelled one, if one is close enough to be what was meant.
fn closest_key(key: &str) -> Option<&'static str> {
    KEYS.iter()
        .map(|(k, _)| (strsim::damerau_levenshtein(&key.to_lowercase(), k), *k))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, k)| k)
}

fn unknown_key_message(key: &str, suggestion: Option<&str>) -> String {
    match suggestion {
        Some(suggestion) => {
            format!("unknown key `{key}`: did you mean `{suggestion}`? `#[one_off_job]` takes {}", key_forms())
        }
        None => format!("unknown key `{key}`: `#[one_off_job]` takes {}", key_forms()),
    }
}

fn form_of(key: &str) -> &'static str {
    KEYS.iter().chain(RARE_KEYS).find(|(k, _)| *k == key).map_or("", |(_, form)| form)
}

/// "`models = [ExplorationModel]`, `shards = 64` and `name = \"MyJob\"`".
fn key_forms() -> String {
    let forms: Vec<&str> = KEYS.iter().map(|(_, form)| *form).collect();
    match forms.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => forms.concat(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelled_keys_suggest_the_key_meant() {
        assert_eq!(closest_key("shard"), Some("shards"));
        assert_eq!(closest_key("modles"), Some("models"));
        assert_eq!(closest_key("Models"), Some("models"));
        assert_eq!(closest_key("nmae"), Some("name"));
        assert_eq!(closest_key("max_failure"), Some("max_failures"));
        assert_eq!(closest_key("threads"), None);
    }

    #[test]
    fn every_bad_key_is_reported_in_one_parse() {
        let mut errors = Errors::default();
        let args = parse(quote::quote!(modles = [A], shards = 8, shards = 9, colour = 1), &mut errors);
        assert!(args.models_attempted);
        assert!(args.models.is_none());
        let messages = errors.messages();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages[0].starts_with("unknown key `modles`: did you mean `models`?"), "{messages:?}");
        assert!(messages[1].starts_with("`shards` is given twice"), "{messages:?}");
        assert!(messages[2].starts_with("unknown key `colour`"), "{messages:?}");
    }

    #[test]
    fn oppia_names_strings_and_crate_are_understood() {
        let mut errors = Errors::default();
        let args = parse(quote::quote!(entity_classes_to_map_over = [A], shard_count = 4), &mut errors);
        assert!(args.models_attempted);
        let messages = errors.messages();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("here the key is `models`"), "{messages:?}");
        assert!(messages[1].contains("here the key is `shards`"), "{messages:?}");

        let mut errors = Errors::default();
        let args = parse(quote::quote!(models = ["A", B]), &mut errors);
        assert!(args.models.is_none() && args.models_attempted);
        let messages = errors.messages();
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].starts_with("`models` lists model types, not strings: write `A`"), "{messages:?}");

        let mut errors = Errors::default();
        let args = parse(quote::quote!(crate = "app::jobs_core", models = [A]), &mut errors);
        assert!(errors.is_empty(), "{:?}", errors.messages());
        let path = args.krate.expect("the crate path");
        assert_eq!(quote::quote!(#path).to_string().replace(' ', ""), "app::jobs_core");
        assert_eq!(args.models.map(|m| m.types.len()), Some(1));
    }
}
