//! [`Shards`]: a shard count, checked once against the one range every part of the crate uses.

use std::fmt;

/// The most shards a run may use.
pub const MAX_SHARDS: usize = 256;
/// The shard count of a job that does not set one (Oppia's default).
pub const DEFAULT_SHARDS: usize = 8;

/// A shard count from 1 to [`MAX_SHARDS`]: how many runs of consecutive ids each listed model
/// is cut into. Every entry point (engines, the runner, the command line, the admin page)
/// checks a count by building one, so the range and its message live here only; the
/// `#[one_off_job(shards = N)]` attribute checks its literal against the same numbers (a test
/// ties the macro's copy to these constants).
///
/// ```
/// use jobs_core::exec::Shards;
///
/// assert_eq!(Shards::new(64)?.get(), 64);
/// assert_eq!(Shards::new(0).unwrap_err().to_string(), "0 shards is out of range: use 1 to 256");
/// assert!(Shards::try_from(300).is_err());
/// # Ok::<(), jobs_core::exec::ShardsError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shards(usize);

impl Shards {
    /// [`DEFAULT_SHARDS`], as a checked count.
    pub const DEFAULT: Shards = Shards(DEFAULT_SHARDS);
    /// [`MAX_SHARDS`], as a checked count.
    pub const MAX: Shards = Shards(MAX_SHARDS);

    /// `shards`, if it is in `1..=MAX_SHARDS`.
    ///
    /// # Errors
    /// It is 0 or above [`MAX_SHARDS`].
    pub const fn new(shards: usize) -> Result<Self, ShardsError> {
        if shards == 0 || shards > MAX_SHARDS { Err(ShardsError { shards }) } else { Ok(Shards(shards)) }
    }

    /// The count.
    pub const fn get(self) -> usize {
        self.0
    }
}

impl Default for Shards {
    fn default() -> Self {
        Shards::DEFAULT
    }
}

impl fmt::Display for Shards {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl TryFrom<usize> for Shards {
    type Error = ShardsError;

    fn try_from(shards: usize) -> Result<Self, ShardsError> {
        Shards::new(shards)
    }
}

impl From<Shards> for usize {
    fn from(shards: Shards) -> usize {
        shards.0
    }
}

/// A shard count outside `1..=MAX_SHARDS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{shards} shards is out of range: use 1 to {MAX_SHARDS}")]
pub struct ShardsError {
    shards: usize,
}

impl ShardsError {
    /// The count asked for.
    pub fn shards(&self) -> usize {
        self.shards
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_to_max_shards_is_a_shard_count() {
        assert_eq!(Shards::new(0).map_err(|e| e.shards()), Err(0));
        assert_eq!(Shards::new(1).map(Shards::get), Ok(1));
        assert_eq!(Shards::new(MAX_SHARDS).map(Shards::get), Ok(MAX_SHARDS));
        assert_eq!(Shards::new(MAX_SHARDS + 1).map_err(|e| e.shards()), Err(MAX_SHARDS + 1));
        assert_eq!(Shards::default().get(), DEFAULT_SHARDS);
    }

    /// The value of `const NAME: u64 = N;` in `source`.
    fn macro_const(source: &str, name: &str) -> usize {
        let prefix = format!("const {name}: u64 = ");
        let line = source.lines().find_map(|line| line.trim().split_once(&prefix)).map(|(_, rest)| rest);
        let value = line.and_then(|rest| rest.trim_end_matches(';').trim().parse().ok());
        value.unwrap_or_else(|| panic!("jobs-macros/src/valid.rs has no `{prefix}<number>;`"))
    }

    /// `#[one_off_job(shards = N)]` is checked by the macro crate, which cannot depend on this
    /// one: its copy of the limits must be these.
    #[test]
    fn the_macros_shard_limits_are_the_cores() {
        let source = include_str!("../../../jobs-macros/src/valid.rs");
        assert_eq!(macro_const(source, "MAX_SHARDS"), MAX_SHARDS);
        assert_eq!(macro_const(source, "DEFAULT_SHARDS"), DEFAULT_SHARDS);
    }
}
