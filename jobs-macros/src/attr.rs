//! Parse: the tokens inside `#[one_off_job(...)]` into [`JobArgs`].
//!
//! Every key is parsed even after an error, so one compile shows every bad key.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Ident, LitInt, LitStr, Token, Type, bracketed};

use crate::errors::Errors;

/// The keys `#[one_off_job]` accepts.
pub(crate) const KEYS: &[&str] = &["models", "shards", "name"];

/// The arguments as written, before they are checked against each other and the struct.
#[derive(Default)]
pub(crate) struct JobArgs {
    pub(crate) models: Option<Models>,
    pub(crate) shards: Option<Shards>,
    pub(crate) name: Option<LitStr>,
}

/// `models = [A, B]`.
pub(crate) struct Models {
    /// The `models` key, for errors about the list as a whole.
    pub(crate) key: Ident,
    pub(crate) types: Vec<Type>,
}

/// `shards = N`, with `N` as written and its value if it is an integer literal.
pub(crate) struct Shards {
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
            skip_to_next_key(input);
        }
        if input.is_empty() {
            break;
        }
        if let Err(error) = input.parse::<Token![,]>() {
            errors.push(syn::Error::new(error.span(), "expected `,` between keys"));
            skip_to_next_key(input);
            let _ = input.parse::<Token![,]>();
        }
    }
}

fn parse_one_key(input: ParseStream, args: &mut JobArgs, errors: &mut Errors) -> syn::Result<()> {
    let key: Ident = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), format!("expected a key: one of {}", list(KEYS))))?;
    let key_text = key.to_string();
    if !KEYS.contains(&key_text.as_str()) {
        errors.spanned(&key, unknown_key_message(&key_text));
        skip_to_next_key(input);
        return Ok(());
    }
    if !input.peek(Token![=]) {
        return Err(syn::Error::new_spanned(
            &key,
            format!("`{key_text}` needs a value: {}", example(&key_text)),
        ));
    }
    input.parse::<Token![=]>()?;
    let duplicate = match key_text.as_str() {
        "models" => args.models.is_some(),
        "shards" => args.shards.is_some(),
        _ => args.name.is_some(),
    };
    if duplicate {
        errors.spanned(&key, format!("`{key_text}` is given twice: keep one"));
        skip_to_next_key(input);
        return Ok(());
    }
    match key_text.as_str() {
        "models" => args.models = Some(parse_models(key, input)?),
        "shards" => args.shards = Some(parse_shards(input)),
        _ => {
            let name: LitStr = input
                .parse()
                .map_err(|e| syn::Error::new(e.span(), "`name` must be a string literal: `name = \"MyJob\"`"))?;
            args.name = Some(name);
        }
    }
    Ok(())
}

fn parse_models(key: Ident, input: ParseStream) -> syn::Result<Models> {
    if !input.peek(syn::token::Bracket) {
        let found: TokenStream = take_value(input);
        let message = "`models` must be a list of model types in brackets: `models = [ExplorationModel]`";
        return Err(if found.is_empty() {
            syn::Error::new_spanned(&key, message)
        } else {
            syn::Error::new_spanned(found, message)
        });
    }
    let content;
    bracketed!(content in input);
    let types: Punctuated<Type, Token![,]> = content.parse_terminated(Type::parse, Token![,])?;
    Ok(Models {
        key,
        types: types.into_iter().collect(),
    })
}

fn parse_shards(input: ParseStream) -> Shards {
    let tokens = take_value(input);
    let value = syn::parse2::<LitInt>(tokens.clone()).ok().and_then(|lit| {
        if lit.suffix().is_empty() || lit.suffix() == "usize" {
            lit.base10_parse::<u64>().ok()
        } else {
            None
        }
    });
    Shards { tokens, value }
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

fn skip_to_next_key(input: ParseStream) {
    let _ = take_value(input);
}

fn unknown_key_message(key: &str) -> String {
    let closest = KEYS
        .iter()
        .map(|k| (strsim::damerau_levenshtein(key, k), *k))
        .filter(|(distance, _)| *distance <= 2)
        .min();
    match closest {
        Some((_, suggestion)) => {
            format!(
                "unknown key `{key}`: did you mean `{suggestion}`? The keys are {}",
                list(KEYS)
            )
        }
        None => format!("unknown key `{key}`: the keys are {}", list(KEYS)),
    }
}

fn example(key: &str) -> &'static str {
    match key {
        "models" => "`models = [ExplorationModel]`",
        "shards" => "`shards = 64`",
        _ => "`name = \"MyJob\"`",
    }
}

fn list(keys: &[&str]) -> String {
    keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
}

/// The span of the whole attribute, for errors about a missing key.
pub(crate) fn call_site() -> Span {
    Span::call_site()
}

use syn::parse::Parse;
