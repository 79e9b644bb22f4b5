//! [`Status`]: where a run is in its lifecycle, and which changes are allowed.

use std::fmt;
use std::str::FromStr;

/// Where a run is in its lifecycle:
///
/// ```text
/// new ──> queued ──> started ──> completed | failed | canceled
///            └──────────────────────────────────────> failed | canceled
/// ```
///
/// A `queued` run becomes `failed` only when the process that queued it to run it at once
/// (`jobs run` without `--detach`) died before starting it.
///
/// Any other change is refused ([`RunsError::InvalidTransition`](super::RunsError), naming
/// both states). A finished run (`completed`, `failed`, `canceled`) never changes again.
///
/// ```
/// use jobs_core::runs::Status;
///
/// assert!(Status::Queued.can_become(Status::Started));
/// assert!(Status::Queued.can_become(Status::Canceled));
/// assert!(!Status::Queued.can_become(Status::Completed));
/// assert!(!Status::Completed.can_become(Status::Started));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Described, not yet recorded as waiting.
    New,
    /// Recorded and waiting for a process to run it.
    Queued,
    /// A process is running it.
    Started,
    /// It ran to the end; its output is stored.
    Completed,
    /// It could not be carried out, had more failures than it allowed, or its process died
    /// ("interrupted").
    Failed,
    /// It was canceled, before or while running; no output is stored.
    Canceled,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 6] =
        [Status::New, Status::Queued, Status::Started, Status::Completed, Status::Failed, Status::Canceled];

    /// The status's name, as the command line prints and parses it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Queued => "queued",
            Status::Started => "started",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Canceled => "canceled",
        }
    }

    /// Whether the run is over: `completed`, `failed` or `canceled`.
    pub fn is_finished(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Canceled)
    }

    /// Whether the run is waiting or running: `queued` or `started`.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Queued | Status::Started)
    }

    /// Whether the lifecycle allows going from this status to `next`.
    pub fn can_become(self, next: Status) -> bool {
        matches!(
            (self, next),
            (Status::New, Status::Queued)
                | (Status::Queued, Status::Started | Status::Failed | Status::Canceled)
                | (Status::Started, Status::Completed | Status::Failed | Status::Canceled)
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that is not a status name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a run status; use one of new, queued, started, completed, failed, canceled")]
pub struct UnknownStatus {
    /// The text given.
    pub text: String,
}

impl FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownStatus { text: text.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_documented_transitions_are_allowed() {
        let allowed: Vec<(Status, Status)> = Status::ALL
            .into_iter()
            .flat_map(|from| Status::ALL.into_iter().map(move |to| (from, to)))
            .filter(|(from, to)| from.can_become(*to))
            .collect();
        use Status::*;
        assert_eq!(
            allowed,
            [
                (New, Queued),
                (Queued, Started),
                (Queued, Failed),
                (Queued, Canceled),
                (Started, Completed),
                (Started, Failed),
                (Started, Canceled)
            ]
        );
    }

    #[test]
    fn names_round_trip() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>(), Ok(status));
        }
        assert_eq!("running".parse::<Status>().unwrap_err().to_string().split(' ').next(), Some("`running`"));
    }
}
