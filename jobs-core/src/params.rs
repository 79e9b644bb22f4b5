//! Typed job parameters: a job struct's fields, filled from `--param name=value`.
//!
//! Oppia passed `additional_job_params` as an untyped dict that each job picked apart at run
//! time. Here each field's type says how its text parses ([`Param`]), and every parameter is
//! checked when the run is requested, before anything is queued.
//!
//! `#[one_off_job]` reads the fields directly (rather than asking for `Deserialize` on the job)
//! so it knows each parameter's name, type and doc comment: `jobs list` and the admin page show
//! them, and an unknown name is caught instead of silently ignored.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// A type a job parameter can have: parsed from the text after `name=`.
///
/// Implemented for integers, floats, `bool`, `char`, `String`, `PathBuf`, `Option<T>` (absent
/// means `None`) and `Vec<T>` (comma-separated).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a job parameter",
    label = "job parameters are parsed from `--param name=value`",
    note = "use `String`, a number, `bool`, `PathBuf`, `Option<T>` or `Vec<T>` of those, or implement `jobs_core::Param` for `{Self}`"
)]
pub trait Param: Sized {
    /// What the text should look like, for error messages ("an unsigned integer").
    const EXPECTED: &'static str;
    /// Whether the parameter may be left out.
    const OPTIONAL: bool = false;

    /// Parses the parameter's text.
    ///
    /// # Errors
    /// The text is not a valid value; the error says why.
    fn parse(text: &str) -> Result<Self, String>;

    /// The value when the parameter is left out, if it may be.
    fn absent() -> Option<Self> {
        None
    }
}

macro_rules! param_from_str {
    ($($ty:ty => $expected:literal),* $(,)?) => {$(
        impl Param for $ty {
            const EXPECTED: &'static str = $expected;
            fn parse(text: &str) -> Result<Self, String> {
                text.trim().parse().map_err(|e| format!("{e}"))
            }
        }
    )*};
}

param_from_str! {
    u8 => "an integer from 0 to 255",
    u16 => "an integer from 0 to 65535",
    u32 => "an unsigned integer",
    u64 => "an unsigned integer",
    usize => "an unsigned integer",
    i8 => "an integer from -128 to 127",
    i16 => "an integer",
    i32 => "an integer",
    i64 => "an integer",
    isize => "an integer",
    f32 => "a number",
    f64 => "a number",
    char => "a single character",
}

impl Param for bool {
    const EXPECTED: &'static str = "true or false";
    fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "true" | "yes" | "1" => Ok(true),
            "false" | "no" | "0" => Ok(false),
            _ => Err("expected true or false".to_owned()),
        }
    }
}

impl Param for String {
    const EXPECTED: &'static str = "text";
    fn parse(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
}

impl Param for PathBuf {
    const EXPECTED: &'static str = "a path";
    fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("the path is empty".to_owned());
        }
        Ok(PathBuf::from(text))
    }
}

impl<T: Param> Param for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    const OPTIONAL: bool = true;
    fn parse(text: &str) -> Result<Self, String> {
        T::parse(text).map(Some)
    }
    fn absent() -> Option<Self> {
        Some(None)
    }
}

impl<T: Param> Param for Vec<T> {
    const EXPECTED: &'static str = "a comma-separated list";
    const OPTIONAL: bool = true;
    fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        text.split(',').map(T::parse).collect()
    }
    fn absent() -> Option<Self> {
        Some(Vec::new())
    }
}

/// One parameter of a job, as `jobs list` and the admin page describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSpec {
    /// The field's name, used as `--param name=value`.
    pub name: &'static str,
    /// The field's Rust type, as written.
    pub type_name: &'static str,
    /// What a valid value looks like.
    pub expected: &'static str,
    /// Whether the parameter must be given.
    pub required: bool,
    /// The field's doc comment.
    pub doc: &'static str,
}

/// The `name=value` pairs given for a run, before they are checked against a job.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// No parameters.
    pub fn new() -> Self {
        Params::default()
    }

    /// Parses `name=value` arguments, as given to `--param`.
    ///
    /// # Errors
    /// An argument has no `=`, an empty name, or repeats a name.
    pub fn parse_args<I, S>(args: I) -> Result<Self, ParamError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut params = Params::new();
        for arg in args {
            let arg = arg.as_ref();
            let Some((name, value)) = arg.split_once('=') else {
                return Err(ParamError::Malformed { arg: arg.to_owned() });
            };
            let name = name.trim();
            if name.is_empty() {
                return Err(ParamError::Malformed { arg: arg.to_owned() });
            }
            if params.values.insert(name.to_owned(), value.to_owned()).is_some() {
                return Err(ParamError::Repeated { name: name.to_owned() });
            }
        }
        Ok(params)
    }

    /// Adds one parameter, replacing an earlier value of the same name.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.values.insert(name.into(), value.into());
        self
    }

    /// The text given for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether no parameters were given.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The parameters in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Checks that every given name is one of `specs`.
    ///
    /// # Errors
    /// A name is not a parameter of the job.
    pub fn check_names(&self, job: &'static str, specs: &'static [ParamSpec]) -> Result<(), ParamError> {
        for name in self.values.keys() {
            if !specs.iter().any(|s| s.name == name) {
                return Err(ParamError::Unknown {
                    job,
                    name: name.clone(),
                    known: specs.iter().map(|s| s.name).collect(),
                });
            }
        }
        Ok(())
    }

    /// Parses the parameter `name` as a `T`. Used by the code `#[one_off_job]` generates.
    ///
    /// # Errors
    /// The parameter is missing (and `T` is not optional) or does not parse.
    #[doc(hidden)]
    pub fn __field<T: Param>(&self, name: &'static str) -> Result<T, ParamError> {
        match self.get(name) {
            Some(text) => T::parse(text).map_err(|reason| ParamError::Invalid {
                name,
                value: text.to_owned(),
                expected: T::EXPECTED,
                reason,
            }),
            None => T::absent().ok_or(ParamError::Missing { name, expected: T::EXPECTED }),
        }
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.values.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{name}={value}")?;
        }
        Ok(())
    }
}

/// A job parameter was wrong. Each variant names the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// A parameter argument is not `name=value`.
    #[error("`{arg}` is not a parameter: write `name=value`")]
    Malformed {
        /// The argument as given.
        arg: String,
    },
    /// The same name was given twice.
    #[error("parameter `{name}` is given twice")]
    Repeated {
        /// The repeated name.
        name: String,
    },
    /// The job has no parameter of that name.
    #[error("{job} has no parameter `{name}`{}", known_list(known))]
    Unknown {
        /// The job.
        job: &'static str,
        /// The name given.
        name: String,
        /// The job's parameters.
        known: Vec<&'static str>,
    },
    /// A required parameter was not given.
    #[error("parameter `{name}` is required ({expected}): give `{name}=...`")]
    Missing {
        /// The parameter.
        name: &'static str,
        /// What a valid value looks like.
        expected: &'static str,
    },
    /// The value does not parse as the parameter's type.
    #[error("parameter `{name}`: `{value}` is not {expected} ({reason})")]
    Invalid {
        /// The parameter.
        name: &'static str,
        /// The text given.
        value: String,
        /// What a valid value looks like.
        expected: &'static str,
        /// Why it did not parse.
        reason: String,
    },
}

fn known_list(known: &[&str]) -> String {
    if known.is_empty() {
        " (it takes no parameters)".to_owned()
    } else {
        format!(" (its parameters: {})", known.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names_the_bad_parameter() {
        let params = Params::parse_args(["min_len=3", "label=hi", "ids=a,b"]).unwrap();
        assert_eq!(params.__field::<usize>("min_len"), Ok(3));
        assert_eq!(params.__field::<Vec<String>>("ids"), Ok(vec!["a".into(), "b".into()]));
        assert_eq!(params.__field::<Option<u32>>("absent"), Ok(None));
        let err = Params::parse_args(["min_len=x"]).unwrap().__field::<usize>("min_len").unwrap_err();
        assert_eq!(
            err.to_string(),
            "parameter `min_len`: `x` is not an unsigned integer (invalid digit found in string)"
        );
        let err = params.__field::<u32>("max").unwrap_err();
        assert_eq!(err.to_string(), "parameter `max` is required (an unsigned integer): give `max=...`");
    }

    #[test]
    fn malformed_and_repeated_arguments_are_rejected() {
        assert!(matches!(Params::parse_args(["novalue"]), Err(ParamError::Malformed { .. })));
        assert!(matches!(Params::parse_args(["=1"]), Err(ParamError::Malformed { .. })));
        assert!(matches!(Params::parse_args(["a=1", "a=2"]), Err(ParamError::Repeated { .. })));
    }
}
