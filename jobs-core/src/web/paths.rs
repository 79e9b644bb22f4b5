//! The URLs of the admin page's resources, built in one place so that links and routes agree.
//! Names and ids are percent-encoded: a job renamed with `name = "..."` may hold any character.

use std::fmt::Write as _;

use crate::runs::RunId;

/// `/runs/{id}`: a run's page.
pub(crate) fn run(id: &RunId) -> String {
    format!("/runs/{}", segment(id.as_str()))
}

/// `/runs/{id}/cancel`: cancels a run (POST).
pub(crate) fn run_cancel(id: &RunId) -> String {
    format!("{}/cancel", run(id))
}

/// `/runs/{id}/output.txt`: a completed run's full output, as a download.
pub(crate) fn run_download(id: &RunId) -> String {
    format!("{}/output.txt", run(id))
}

/// `/live/runs/{id}`: the live part of a run's page.
pub(crate) fn live_run(id: &RunId) -> String {
    format!("/live{}", run(id))
}

/// `/jobs/{name}/start`: starts a run of a job (POST).
pub(crate) fn job_start(name: &str) -> String {
    format!("/jobs/{}/start", segment(name))
}

/// `job-{name}`: the anchor of a job's card on the jobs page.
pub(crate) fn job_anchor(name: &str) -> String {
    format!("job-{}", segment(name))
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for one path segment.
pub(crate) fn segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_names_are_encoded() {
        assert_eq!(segment("Plain_Job-1.x~"), "Plain_Job-1.x~");
        assert_eq!(segment("a/b c?é"), "a%2Fb%20c%3F%C3%A9");
        let id = RunId::parse("a b-12-xyz").unwrap();
        assert_eq!(run_cancel(&id), "/runs/a%20b-12-xyz/cancel");
        assert_eq!(live_run(&id), "/live/runs/a%20b-12-xyz");
    }
}
