//! Which path names jobs-core in the crate being compiled.
//!
//! The generated code names jobs-core by a path. It is, in order:
//!
//! 1. the `crate = "..."` key when the user gave one (a crate that reaches jobs-core through a
//!    facade that re-exports it: `crate = "app::jobs_core"`, as with serde's `crate`);
//! 2. the name under which the caller's `Cargo.toml` lists the `jobs-core` package, renamed or
//!    not (`jc = { package = "jobs-core", ... }` gives `::jc`), read the way the
//!    `proc-macro-crate` crate does: `CARGO_MANIFEST_DIR/Cargo.toml`, and for a dependency
//!    inherited with `workspace = true`, the workspace's own manifest;
//! 3. `::jobs_core` when no manifest can be read (a tool that expands macros outside cargo) or
//!    the manifest is jobs-core's own (its doc tests and integration tests).
//!
//! When the manifest is read and lists no `jobs-core` at all, the macros report one error that
//! says which of the two fixes to make.
//!
//! The reader understands the TOML that appears in manifests (tables, dotted keys, inline
//! tables, strings of all four kinds, arrays, comments) and keeps only what it needs: each
//! scalar under its full key path. It is small on purpose: a TOML parser would add several
//! crates to the build of every crate that defines jobs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::LitStr;

/// The package the macros expand for.
const PACKAGE: &str = "jobs-core";

/// How the generated code names jobs-core, or the one error to report instead.
pub(crate) fn path(explicit: Option<&syn::Path>, macro_form: &str) -> Result<TokenStream, syn::Error> {
    if let Some(path) = explicit {
        return Ok(quote!(#path));
    }
    match lookup() {
        Lookup::Named(name) => {
            let ident = syn::Ident::new(&name, Span::call_site());
            Ok(quote!(::#ident))
        }
        Lookup::Unknown => Ok(quote!(::jobs_core)),
        Lookup::NotADependency => Err(syn::Error::new(
            Span::call_site(),
            format!(
                "this crate does not depend on `jobs-core` under any name: add `jobs-core` to `[dependencies]` in its Cargo.toml (renamed is fine), or, if it reaches jobs-core through a crate that re-exports it, say where: {macro_form}"
            ),
        )),
    }
}

/// `crate = "app::jobs_core"`, checked to be a path. (`LitStr::parse` spans the path at the
/// string, so an error about it lands on what the user wrote.)
pub(crate) fn parse_explicit(lit: &LitStr) -> syn::Result<syn::Path> {
    lit.parse().map_err(|_| {
        syn::Error::new(
            lit.span(),
            "`crate` is the path of jobs-core as a string, e.g. `crate = \"app::jobs_core\"` for a crate that re-exports it",
        )
    })
}

/// What the caller's manifest says about jobs-core.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Lookup {
    /// The extern crate name under which jobs-core is reachable.
    Named(String),
    /// Read, and jobs-core is not among the dependencies.
    NotADependency,
    /// No manifest could be read or understood: assume the usual name.
    Unknown,
}

/// The lookup for the crate being compiled, cached per manifest and modification time (one
/// compiler process expands many jobs of one crate).
fn lookup() -> Lookup {
    let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        return Lookup::Unknown;
    };
    let manifest = dir.join("Cargo.toml");
    let modified = std::fs::metadata(&manifest).and_then(|m| m.modified()).ok();
    /// Per manifest: its modification time when read, and what it said.
    type Cache = HashMap<PathBuf, (Option<SystemTime>, Lookup)>;
    static CACHE: Mutex<Option<Cache>> = Mutex::new(None);
    if let Ok(cache) = CACHE.lock()
        && let Some((when, found)) = cache.as_ref().and_then(|c| c.get(&manifest))
        && *when == modified
    {
        return found.clone();
    }
    let found = lookup_uncached(&manifest);
    if let Ok(mut cache) = CACHE.lock() {
        cache.get_or_insert_with(HashMap::new).insert(manifest, (modified, found.clone()));
    }
    found
}

fn lookup_uncached(manifest: &Path) -> Lookup {
    let Some(entries) = read(manifest) else {
        return Lookup::Unknown;
    };
    find_in(&entries, || workspace_entries(manifest, &entries))
}

/// Finds jobs-core in a parsed manifest; `workspace` gives the workspace root's manifest, read
/// only if a dependency is inherited from it.
fn find_in(entries: &Entries, workspace: impl FnOnce() -> Option<Entries>) -> Lookup {
    if entries.str(&["package", "name"]) == Some(PACKAGE) {
        return Lookup::Unknown;
    }
    // Per dependency key: the best (lowest) section rank it appears in, its `package`, and
    // whether it is inherited from the workspace.
    let mut deps: Vec<(usize, String, Option<String>, bool)> = Vec::new();
    for (path, value) in &entries.0 {
        let Some((rank, key, rest)) = dependency_entry(path) else { continue };
        let index = match deps.iter().position(|(r, k, _, _)| *r == rank && k == key) {
            Some(index) => index,
            None => {
                deps.push((rank, key.to_owned(), None, false));
                deps.len() - 1
            }
        };
        match (rest, value) {
            ([field], Value::Str(package)) if field == "package" => deps[index].2 = Some(package.clone()),
            ([field], Value::Bool(true)) if field == "workspace" => deps[index].3 = true,
            _ => {}
        }
    }
    let mut workspace = Some(workspace);
    let mut workspace_entries: Option<Option<Entries>> = None;
    let mut best: Option<(usize, String)> = None;
    for (rank, key, package, inherited) in deps {
        let package = match package {
            Some(package) => package,
            None if inherited => {
                let root = workspace_entries.get_or_insert_with(|| workspace.take().and_then(|f| f()));
                root.as_ref()
                    .and_then(|root| root.str(&["workspace", "dependencies", &key, "package"]))
                    .unwrap_or(&key)
                    .to_owned()
            }
            None => key.clone(),
        };
        if package == PACKAGE && best.as_ref().is_none_or(|(r, _)| rank < *r) {
            best = Some((rank, key.replace('-', "_")));
        }
    }
    match best {
        Some((_, name)) => Lookup::Named(name),
        None => Lookup::NotADependency,
    }
}

/// For a key path inside a dependency table, the table's rank (normal dependencies first,
/// then target-specific ones, then dev-dependencies), the dependency's key and the rest of
/// the path.
fn dependency_entry(path: &[String]) -> Option<(usize, &str, &[String])> {
    let rank = |section: &str| match section {
        "dependencies" => Some(0),
        "dev-dependencies" | "dev_dependencies" => Some(2),
        _ => None,
    };
    match path {
        [section, key, rest @ ..] if rank(section).is_some() => Some((rank(section)?, key, rest)),
        [target, _, section, key, rest @ ..] if target == "target" && rank(section).is_some() => {
            Some((rank(section)? + 1, key, rest))
        }
        _ => None,
    }
}

/// The manifest of the workspace `manifest` belongs to: the one `package.workspace` names, or
/// the nearest one above (or at) it with a `[workspace]` table.
fn workspace_entries(manifest: &Path, entries: &Entries) -> Option<Entries> {
    let dir = manifest.parent()?;
    if let Some(root) = entries.str(&["package", "workspace"]) {
        return read(&dir.join(root).join("Cargo.toml"));
    }
    if entries.has_table("workspace") {
        return Some(entries.clone());
    }
    dir.ancestors().skip(1).find_map(|dir| {
        let candidate = dir.join("Cargo.toml");
        let entries = read(&candidate)?;
        entries.has_table("workspace").then_some(entries)
    })
}

fn read(manifest: &Path) -> Option<Entries> {
    parse(&std::fs::read_to_string(manifest).ok()?)
}

/// A scalar in the manifest: all the reader needs to tell apart.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Str(String),
    Bool(bool),
    /// A number, a date, or an empty table (recorded so that `[workspace]` alone is seen).
    Other,
}

/// Every scalar of a TOML document under its full key path.
#[derive(Clone, Debug, Default)]
struct Entries(Vec<(Vec<String>, Value)>);

impl Entries {
    fn str(&self, path: &[&str]) -> Option<&str> {
        self.0.iter().find_map(|(p, value)| match value {
            Value::Str(text) if p.iter().map(String::as_str).eq(path.iter().copied()) => Some(text.as_str()),
            _ => None,
        })
    }

    fn has_table(&self, name: &str) -> bool {
        self.0.iter().any(|(path, _)| path.first().is_some_and(|first| first == name))
    }
}

/// Parses a TOML document, or `None` if it is not one this reader understands.
fn parse(text: &str) -> Option<Entries> {
    let mut parser = Parser { chars: text.chars().collect(), pos: 0, entries: Vec::new() };
    let mut table: Vec<String> = Vec::new();
    let mut arrays: HashMap<Vec<String>, usize> = HashMap::new();
    loop {
        parser.skip_blank_lines();
        match parser.peek() {
            None => break,
            Some('[') => {
                parser.pos += 1;
                let array = parser.eat('[');
                let mut path = parser.key_path()?;
                parser.skip_spaces();
                parser.expect(']')?;
                if array {
                    parser.expect(']')?;
                    let count = arrays.entry(path.clone()).or_default();
                    path.push(format!("[{count}]"));
                    *count += 1;
                }
                parser.entries.push((path.clone(), Value::Other));
                table = path;
            }
            Some(_) => {
                let key = parser.key_path()?;
                parser.skip_spaces();
                parser.expect('=')?;
                let mut path = table.clone();
                path.extend(key);
                parser.value(path)?;
            }
        }
        parser.skip_spaces();
        parser.skip_comment();
        match parser.peek() {
            None | Some('\n') => {}
            Some('\r') if parser.peek_at(1) == Some('\n') => {}
            Some(_) => return None,
        }
    }
    Some(Entries(parser.entries))
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    entries: Vec<(Vec<String>, Value)>,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect(&mut self, c: char) -> Option<()> {
        self.eat(c).then_some(())
    }

    fn starts_with(&self, text: &str) -> bool {
        text.chars().enumerate().all(|(i, c)| self.peek_at(i) == Some(c))
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }

    fn skip_comment(&mut self) {
        if self.peek() == Some('#') {
            while !matches!(self.peek(), None | Some('\n')) {
                self.pos += 1;
            }
        }
    }

    /// Spaces, comments and line breaks.
    fn skip_blank_lines(&mut self) {
        loop {
            self.skip_spaces();
            self.skip_comment();
            match self.peek() {
                Some('\n' | '\r') => self.pos += 1,
                _ => break,
            }
        }
    }

    /// `a.b."c d".'e'`.
    fn key_path(&mut self) -> Option<Vec<String>> {
        let mut path = Vec::new();
        loop {
            self.skip_spaces();
            let key = match self.peek()? {
                '"' => self.basic_string()?,
                '\'' => self.literal_string()?,
                _ => {
                    let start = self.pos;
                    while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                        self.pos += 1;
                    }
                    if self.pos == start {
                        return None;
                    }
                    self.chars[start..self.pos].iter().collect()
                }
            };
            path.push(key);
            self.skip_spaces();
            if !self.eat('.') {
                return Some(path);
            }
        }
    }

    /// One value, recorded under `path` (inline tables recursively; arrays are skipped).
    fn value(&mut self, path: Vec<String>) -> Option<()> {
        self.skip_spaces();
        match self.peek()? {
            '"' => {
                let text = if self.starts_with("\"\"\"") { self.multi_line_basic()? } else { self.basic_string()? };
                self.entries.push((path, Value::Str(text)));
            }
            '\'' => {
                let text = if self.starts_with("'''") { self.multi_line_literal()? } else { self.literal_string()? };
                self.entries.push((path, Value::Str(text)));
            }
            '{' => {
                self.pos += 1;
                self.entries.push((path.clone(), Value::Other));
                loop {
                    self.skip_blank_lines();
                    if self.eat('}') {
                        break;
                    }
                    let key = self.key_path()?;
                    self.skip_spaces();
                    self.expect('=')?;
                    let mut inner = path.clone();
                    inner.extend(key);
                    self.value(inner)?;
                    self.skip_blank_lines();
                    if !self.eat(',') {
                        self.skip_blank_lines();
                        self.expect('}')?;
                        break;
                    }
                }
            }
            '[' => {
                self.pos += 1;
                let kept = self.entries.len();
                loop {
                    self.skip_blank_lines();
                    if self.eat(']') {
                        break;
                    }
                    self.value(Vec::new())?;
                    self.skip_blank_lines();
                    if !self.eat(',') {
                        self.skip_blank_lines();
                        self.expect(']')?;
                        break;
                    }
                }
                self.entries.truncate(kept);
            }
            _ => {
                let start = self.pos;
                while !matches!(self.peek(), None | Some(',' | '}' | ']' | '#' | '\n' | '\r')) {
                    self.pos += 1;
                }
                let raw: String = self.chars[start..self.pos].iter().collect();
                let value = match raw.trim() {
                    "" => return None,
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => Value::Other,
                };
                self.entries.push((path, value));
            }
        }
        Some(())
    }

    fn literal_string(&mut self) -> Option<String> {
        self.expect('\'')?;
        let start = self.pos;
        while self.peek()? != '\'' {
            if self.peek()? == '\n' {
                return None;
            }
            self.pos += 1;
        }
        let text = self.chars[start..self.pos].iter().collect();
        self.pos += 1;
        Some(text)
    }

    fn multi_line_literal(&mut self) -> Option<String> {
        self.pos += 3;
        self.skip_first_newline();
        let start = self.pos;
        while !self.starts_with("'''") {
            self.peek()?;
            self.pos += 1;
        }
        // Up to two quotes may end the content right before the closing three.
        while self.peek_at(3) == Some('\'') {
            self.pos += 1;
        }
        let text = self.chars[start..self.pos].iter().collect();
        self.pos += 3;
        Some(text)
    }

    fn basic_string(&mut self) -> Option<String> {
        self.expect('"')?;
        let mut text = String::new();
        loop {
            match self.peek()? {
                '"' => {
                    self.pos += 1;
                    return Some(text);
                }
                '\\' => text.push(self.escape()?),
                '\n' => return None,
                c => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn multi_line_basic(&mut self) -> Option<String> {
        self.pos += 3;
        self.skip_first_newline();
        let mut text = String::new();
        loop {
            if self.starts_with("\"\"\"") && self.peek_at(3) != Some('"') {
                self.pos += 3;
                return Some(text);
            }
            match self.peek()? {
                '\\' if matches!(self.peek_at(1), Some(' ' | '\t' | '\n' | '\r')) => {
                    // A line-ending backslash: drop it and the whitespace after it.
                    self.pos += 1;
                    while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
                        self.pos += 1;
                    }
                }
                '\\' => text.push(self.escape()?),
                c => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn skip_first_newline(&mut self) {
        if self.starts_with("\r\n") {
            self.pos += 2;
        } else if self.peek() == Some('\n') {
            self.pos += 1;
        }
    }

    /// The escape at the cursor (`\n`, `\u00e9`, ...).
    fn escape(&mut self) -> Option<char> {
        self.expect('\\')?;
        let c = self.peek()?;
        self.pos += 1;
        let hex = |parser: &mut Parser, digits: usize| {
            let text: String = parser.chars.get(parser.pos..parser.pos + digits)?.iter().collect();
            parser.pos += digits;
            char::from_u32(u32::from_str_radix(&text, 16).ok()?)
        };
        match c {
            'b' => Some('\u{8}'),
            't' => Some('\t'),
            'n' => Some('\n'),
            'f' => Some('\u{c}'),
            'r' => Some('\r'),
            'e' => Some('\u{1b}'),
            '"' => Some('"'),
            '\\' => Some('\\'),
            'x' => hex(self, 2),
            'u' => hex(self, 4),
            'U' => hex(self, 8),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(manifest: &str, workspace: Option<&str>) -> Lookup {
        let entries = parse(manifest).expect("the manifest parses");
        find_in(&entries, || workspace.map(|text| parse(text).expect("the workspace manifest parses")))
    }

    fn named(name: &str) -> Lookup {
        Lookup::Named(name.to_owned())
    }

    #[test]
    fn the_usual_dependency_is_jobs_core() {
        let manifest =
            "[package]\nname = \"app\"\n\n[dependencies]\njobs-core = \"0.1\"\nserde = { version = \"1\" }\n";
        assert_eq!(find(manifest, None), named("jobs_core"));
    }

    #[test]
    fn a_renamed_dependency_is_found_in_every_form() {
        for manifest in [
            "[dependencies]\njc = { package = \"jobs-core\", path = \"../jobs-core\" }",
            "[dependencies]\njc = { path = \"x\",\n  package = 'jobs-core', }  # TOML 1.1",
            "[dependencies]\njc.package = \"jobs-core\"\njc.version = \"0.1\"",
            "[dependencies.jc]\n# a comment\npackage = \"jobs-core\"\nversion = \"0.1\"",
            "[target.'cfg(unix)'.dependencies]\njc = { package = \"jobs-core\" }",
            "[dev-dependencies]\n\"jc\" = { package = \"jobs-\\u0063ore\" }",
            "[dependencies]\nother = { package = \"jobs-core-extras\" }\njc = { package = \"jobs-core\" }",
        ] {
            assert_eq!(find(manifest, None), named("jc"), "{manifest}");
        }
    }

    #[test]
    fn normal_dependencies_win_over_dev_dependencies() {
        let manifest = "[dev-dependencies]\ntest_jc = { package = \"jobs-core\" }\n[dependencies]\njc = { package = \"jobs-core\" }";
        assert_eq!(find(manifest, None), named("jc"));
    }

    #[test]
    fn an_inherited_dependency_is_looked_up_in_the_workspace() {
        let workspace = "[workspace]\nmembers = [\n  \"a\", # first\n  \"b\",\n]\n[workspace.dependencies]\njc = { package = \"jobs-core\", path = \"jobs-core\" }\n";
        assert_eq!(find("[dependencies]\njc.workspace = true", Some(workspace)), named("jc"));
        assert_eq!(find("[dependencies]\njc = { workspace = true }", Some(workspace)), named("jc"));
        assert_eq!(find("[dependencies]\njobs-core.workspace = true", Some(workspace)), named("jobs_core"));
        assert_eq!(find("[dependencies]\nnot-jc.workspace = true", Some(workspace)), Lookup::NotADependency);
    }

    #[test]
    fn without_jobs_core_the_lookup_says_so() {
        let manifest = "[package]\nname = \"app\"\n[dependencies]\nmy-facade = { path = \"../facade\" }\n";
        assert_eq!(find(manifest, None), Lookup::NotADependency);
        assert_eq!(find("[package]\nname = \"jobs-core\"\n", None), Lookup::Unknown);
    }

    #[test]
    fn every_kind_of_value_parses() {
        let text = r#"
            [package]
            name = "app" # trailing comment
            description = """
            Several \
              lines with "quotes" and ]] brackets"""
            notes = '''raw \n text'''
            when = 1979-05-27 07:32:00Z
            float = 3.14
            [[bin]]
            name = "one"
            [[bin]]
            name = "two"
            [workspace]
        "#;
        let entries = parse(text).expect("parses");
        assert_eq!(entries.str(&["package", "name"]), Some("app"));
        assert_eq!(
            entries.str(&["package", "description"]).map(str::trim_start),
            Some("Several lines with \"quotes\" and ]] brackets")
        );
        assert_eq!(entries.str(&["package", "notes"]), Some("raw \\n text"));
        assert_eq!(entries.str(&["bin", "[1]", "name"]), Some("two"));
        assert!(entries.has_table("workspace"));
        assert!(parse("[dependencies\njc = 1").is_none());
    }
}
