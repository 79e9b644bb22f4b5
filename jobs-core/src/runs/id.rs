//! [`RunId`]: `<JobName>-<ms>-<random>`.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use super::RunsError;

/// How many random characters end a run id.
const RANDOM_LEN: usize = 6;
const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A run's id: `<JobName>-<ms>-<random>`, e.g. `InteractionAuditOneOffJob-1718000000000-k3x9qa`.
///
/// The job name makes ids readable in `jobs runs`; the milliseconds (when the run was created)
/// make them roughly sortable; the six random characters (`[0-9a-z]`, ~2·10⁹ values) keep two
/// runs of one job created in the same millisecond apart, and a store refuses a duplicate id
/// anyway. The randomness comes from std's per-process randomly keyed hasher mixed with a
/// counter, the time and the process id: no dependency, and ids need to be distinct, not secret.
///
/// ```
/// use jobs_core::runs::RunId;
///
/// let id = RunId::generate("WordCount", 1_718_000_000_000);
/// assert!(id.as_str().starts_with("WordCount-1718000000000-"));
/// assert_eq!(id.job(), "WordCount");
/// assert_eq!(id.created_ms(), 1_718_000_000_000);
/// assert_eq!(id.as_str().parse::<RunId>()?, id);
/// assert!("WordCount".parse::<RunId>().is_err());
/// # Ok::<(), jobs_core::runs::RunsError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    /// A new id for a run of `job` created at `at_ms` (ms since the Unix epoch).
    pub fn generate(job: &str, at_ms: i64) -> RunId {
        RunId(format!("{job}-{}-{}", at_ms.max(0), random_suffix()))
    }

    /// Parses an id as printed by `jobs runs`.
    ///
    /// # Errors
    /// The text is not `<JobName>-<ms>-<random>`; the error names the text.
    pub fn parse(text: &str) -> Result<RunId, RunsError> {
        let invalid = |reason| RunsError::InvalidRunId { text: text.to_owned(), reason };
        let mut parts = text.rsplitn(3, '-');
        let (Some(random), Some(ms), Some(job)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid("it should have three parts separated by `-`"));
        };
        if job.is_empty() {
            return Err(invalid("the job name is empty"));
        }
        if ms.is_empty() || !ms.bytes().all(|b| b.is_ascii_digit()) || ms.parse::<i64>().is_err() {
            return Err(invalid("the middle part should be a time in milliseconds"));
        }
        if random.is_empty() || !random.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid("the last part should be letters and digits"));
        }
        Ok(RunId(text.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The job's name: everything before the time.
    pub fn job(&self) -> &str {
        self.0.rsplitn(3, '-').nth(2).unwrap_or("")
    }

    /// When the run was created, in ms since the Unix epoch, as written in the id.
    pub fn created_ms(&self) -> i64 {
        self.0.rsplit('-').nth(1).and_then(|ms| ms.parse().ok()).unwrap_or(0)
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for RunId {
    type Err = RunsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        RunId::parse(text)
    }
}

impl AsRef<str> for RunId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

fn random_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // `RandomState` is keyed from the OS's randomness once per thread, then varied per call.
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    if let Ok(elapsed) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(elapsed.as_nanos());
    }
    let mut bits = hasher.finish();
    let mut suffix = String::with_capacity(RANDOM_LEN);
    for _ in 0..RANDOM_LEN {
        suffix.push(char::from(ALPHABET[(bits % 36) as usize]));
        bits /= 36;
    }
    suffix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_differ() {
        let ids: std::collections::HashSet<RunId> = (0..1000).map(|_| RunId::generate("Job-With-Dashes", 5)).collect();
        assert_eq!(ids.len(), 1000, "1000 ids made in a row are all distinct");
        for id in &ids {
            assert_eq!(RunId::parse(id.as_str()).unwrap(), *id);
            assert_eq!(id.job(), "Job-With-Dashes");
            assert_eq!(id.created_ms(), 5);
        }
    }

    #[test]
    fn malformed_ids_are_refused_by_name() {
        for text in ["", "Job", "Job-12", "-12-abc", "Job-x1-abc", "Job-12-", "Job-12-a b"] {
            let err = RunId::parse(text).unwrap_err();
            assert!(err.to_string().contains(&format!("`{text}`")), "{err}");
        }
    }
}
