//! How records and output chunks are encoded in a store.
//!
//! A record is MessagePack with named fields, like the models (see [`crate::model`]): it is
//! self-describing, so a later version can add fields (read back with `#[serde(default)]`) and
//! an older one skips fields it does not know. JSON would do too but is larger and slower, and
//! the store already depends on `rmp-serde`.
//!
//! Each record carries `format` ([`RECORD_FORMAT_VERSION`]). It is read first, alone, so a
//! record written by a newer, incompatible version is refused with a message saying so rather
//! than misread.

use serde::{Deserialize, Serialize};

use super::{RunRecord, RunsError};

/// The newest record format this version reads, and the one it writes.
pub const RECORD_FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct Encoded<'a> {
    format: u32,
    record: &'a RunRecord,
}

#[derive(Deserialize)]
struct Probe {
    format: u32,
}

#[derive(Deserialize)]
struct Decoded {
    record: RunRecord,
}

/// Encodes a record with its format version.
pub(crate) fn encode_record(record: &RunRecord) -> Result<Vec<u8>, RunsError> {
    rmp_serde::to_vec_named(&Encoded { format: RECORD_FORMAT_VERSION, record })
        .map_err(|e| RunsError::Codec { id: record.id().to_string(), message: e.to_string() })
}

/// Decodes the record stored under `id`, refusing a newer format by name.
pub(crate) fn decode_record(id: &str, bytes: &[u8]) -> Result<RunRecord, RunsError> {
    let codec = |e: rmp_serde::decode::Error| RunsError::Codec { id: id.to_owned(), message: e.to_string() };
    let probe: Probe = rmp_serde::from_slice(bytes).map_err(codec)?;
    if probe.format > RECORD_FORMAT_VERSION {
        return Err(RunsError::NewerRecord {
            id: id.to_owned(),
            found: probe.format,
            supported: RECORD_FORMAT_VERSION,
        });
    }
    Ok(rmp_serde::from_slice::<Decoded>(bytes).map_err(codec)?.record)
}

/// Encodes one chunk of output lines.
pub(crate) fn encode_chunk(id: &str, lines: &[String]) -> Result<Vec<u8>, RunsError> {
    rmp_serde::to_vec(lines).map_err(|e| RunsError::Codec { id: id.to_owned(), message: e.to_string() })
}

/// Decodes one chunk of output lines.
pub(crate) fn decode_chunk(id: &str, bytes: &[u8]) -> Result<Vec<String>, RunsError> {
    rmp_serde::from_slice(bytes).map_err(|e| RunsError::Codec { id: id.to_owned(), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;
    use crate::runs::Status;

    #[test]
    fn records_round_trip() {
        let mut record = RunRecord::new("Job", Params::parse_args(["a=1"]).unwrap(), 3, 2, true, 7);
        record.transition_at(Status::Queued, 8).unwrap();
        record.counters.add("migrated", 4);
        record.error = Some("boom".into());
        let bytes = encode_record(&record).unwrap();
        assert_eq!(decode_record(record.id().as_str(), &bytes).unwrap(), record);
    }

    #[test]
    fn a_record_from_a_newer_version_is_refused_with_both_versions() {
        #[derive(Serialize)]
        struct Future {
            format: u32,
            record: &'static str,
        }
        let bytes = rmp_serde::to_vec_named(&Future { format: RECORD_FORMAT_VERSION + 1, record: "?" }).unwrap();
        let err = decode_record("Job-1-abc", &bytes).unwrap_err();
        assert!(matches!(err, RunsError::NewerRecord { found: 2, supported: 1, .. }), "{err}");
        assert!(err.to_string().contains("Job-1-abc"), "{err}");
    }

    #[test]
    fn garbage_is_an_error_naming_the_run() {
        let err = decode_record("Job-1-abc", b"\xc1not msgpack").unwrap_err();
        assert!(err.to_string().starts_with("run Job-1-abc: stored data is unreadable"), "{err}");
    }
}
