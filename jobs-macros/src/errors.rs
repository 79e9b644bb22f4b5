//! Collects every error a phase finds, serde_derive-style, so the user sees all of them at once.

use std::fmt::Display;

use proc_macro2::TokenStream;
use quote::ToTokens;

/// Errors found so far.
#[derive(Default)]
pub(crate) struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    /// Records an error on `tokens`' span (all of it, where the compiler can show that).
    pub(crate) fn spanned(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// Whether no error was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.combined.is_none()
    }

    /// Each recorded error's message, in order.
    #[cfg(test)]
    pub(crate) fn messages(&self) -> Vec<String> {
        self.combined.iter().flat_map(|error| error.clone().into_iter().map(|e| e.to_string())).collect()
    }

    /// One `compile_error!` per recorded error, each at its own span.
    pub(crate) fn into_compile_errors(self) -> TokenStream {
        self.combined.map(|error| error.to_compile_error()).unwrap_or_default()
    }
}
