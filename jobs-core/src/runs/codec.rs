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
    fn a_record_written_when_the_engine_was_a_string_reads_back_unchanged() {
        use crate::runs::{EngineName, RunId};
        // The fields an earlier version wrote with no default, `engine` as plain text: the
        // same bytes as that version's encoder made for them.
        #[derive(Serialize)]
        struct Earlier {
            id: RunId,
            created_ms: i64,
            status: Status,
            job: String,
            shards: usize,
            threads: usize,
            engine: String,
        }
        #[derive(Serialize)]
        struct EarlierEncoded {
            format: u32,
            record: Earlier,
        }
        for (text, engine) in [
            ("local", EngineName::Local),
            ("timely", EngineName::Timely),
            ("hadoop", EngineName::Other("hadoop".into())),
        ] {
            let id = RunId::parse("Job-1718000000000-k3x9qa").unwrap();
            let record = Earlier {
                id: id.clone(),
                created_ms: 1_718_000_000_000,
                status: Status::Completed,
                job: "Job".into(),
                shards: 4,
                threads: 2,
                engine: text.into(),
            };
            let bytes = rmp_serde::to_vec_named(&EarlierEncoded { format: 1, record }).unwrap();
            let decoded = decode_record(id.as_str(), &bytes).unwrap();
            assert_eq!((decoded.id(), decoded.status(), decoded.shards), (&id, Status::Completed, 4));
            assert_eq!(decoded.engine, engine);
            let again = decode_record(id.as_str(), &encode_record(&decoded).unwrap()).unwrap();
            assert_eq!(again, decoded, "written back as it was read");
            assert_eq!(again.engine.as_str(), text);
        }
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
