//! Property tests of what comes from outside: arbitrary stored bytes given to the model
//! decoder, and arbitrary JSON lines given to `jobs import` (through the command line's own
//! code, in process). Neither may panic; a rejected import stores nothing.

use std::collections::BTreeMap;

use jobs_core::model::{self, CodecError};
use jobs_core::prelude::*;
use proptest::prelude::*;

#[derive(Model, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Card {
    id: String,
    n: u64,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    sides: BTreeMap<String, Side>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Side {
    text: String,
    weight: i32,
}

fn card() -> impl Strategy<Value = Card> {
    (
        "[a-e]{1,2}",
        any::<u64>(),
        prop::collection::vec("\\PC{0,8}", 0..3),
        prop::collection::btree_map("[a-z]{1,4}", ("\\PC{0,8}", any::<i32>()), 0..3),
        prop::option::of("\\PC{0,8}"),
    )
        .prop_map(|(id, n, tags, sides, note)| Card {
            id,
            n,
            tags,
            sides: sides.into_iter().map(|(k, (text, weight))| (k, Side { text, weight })).collect(),
            note,
        })
}

/// Decodes `bytes` as a `Card`: it must return, never panic; a card that decodes must encode
/// again.
fn decode_is_total(bytes: &[u8]) -> Result<(), TestCaseError> {
    match model::decode::<Card>(bytes) {
        Ok(card) => {
            prop_assert!(model::encode(&card).is_ok());
        }
        Err(CodecError::Empty | CodecError::UnknownFormat(_) | CodecError::Decode(_)) => {}
        Err(other) => prop_assert!(false, "unexpected error kind: {other}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_decode_to_a_value_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        decode_is_total(&bytes)?;
        // Behind the right format tag, so the bytes reach MessagePack.
        let mut tagged = model::encode(&()).expect("encode")[..1].to_vec();
        tagged.extend_from_slice(&bytes);
        decode_is_total(&tagged)?;
    }

    #[test]
    fn damaged_encodings_decode_to_a_value_or_an_error(
        card in card(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let encoded = model::encode(&card).expect("encode");
        prop_assert_eq!(model::decode::<Card>(&encoded).expect("round trip"), card);
        let mut damaged = encoded.clone();
        for (at, byte) in flips {
            let at = at.index(damaged.len());
            damaged[at] = byte;
        }
        decode_is_total(&damaged)?;
        decode_is_total(&encoded[..cut.index(encoded.len())])?;
    }
}

#[test]
fn deeply_nested_bytes_are_an_error_not_a_stack_overflow() {
    let mut bytes = model::encode(&()).expect("encode")[..1].to_vec();
    // A one-element array inside a one-element array, a hundred thousand deep.
    bytes.extend(std::iter::repeat_n(0x91, 100_000));
    bytes.push(0xc0);
    assert!(model::decode::<serde_json::Value>(&bytes).is_err());
    assert!(model::decode::<Card>(&bytes).is_err());
    // The same under a field a `Card` does not have, which the decoder skips.
    let mut unknown_field = model::encode(&()).expect("encode")[..1].to_vec();
    unknown_field.extend([0x82, 0xa2, b'i', b'd', 0xa1, b'x', 0xa5, b'e', b'x', b't', b'r', b'a']);
    unknown_field.extend(std::iter::repeat_n(0x91, 100_000));
    unknown_field.push(0xc0);
    assert!(model::decode::<Card>(&unknown_field).is_err());
}

/// `jobs import`, through the command line's own code (the `cli` feature).
#[cfg(feature = "cli")]
mod import {
    use std::collections::{BTreeMap, BTreeSet};
    use std::ops::ControlFlow;
    use std::path::Path;
    use std::process::ExitCode;

    use jobs_core::cli::Cli;
    use jobs_core::model;
    use jobs_core::store::{KeyRange, RedbStore};
    use jobs_core::{Model, Store};
    use proptest::prelude::*;

    use super::{Card, card};

    /// Every stored card, with its bytes.
    fn dump(path: &Path) -> Vec<(String, Vec<u8>)> {
        let store = RedbStore::open(path).expect("open");
        let mut rows = Vec::new();
        store
            .scan(Card::KIND, &KeyRange::all(), &mut |id, bytes| {
                rows.push((id.to_owned(), bytes.to_vec()));
                ControlFlow::Continue(())
            })
            .expect("scan");
        rows
    }

    /// `jobs --store <path> import Card <file>`, in process.
    fn import(path: &Path, file: &Path) -> (ExitCode, String) {
        let cli = Cli::new("jobs");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let args = ["jobs", "--store", path.to_str().expect("utf-8"), "import", "Card", file.to_str().expect("utf-8")];
        let code = cli.run_with(args, &mut out, &mut err);
        (code, String::from_utf8_lossy(&err).into_owned())
    }

    /// A line of an import file: a good card, a card with a field of the wrong type, a card
    /// without an id, JSON that is not an object, text that is not JSON, or nothing.
    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => card().prop_map(|c| serde_json::to_string(&c).expect("json")),
            1 => ("[a-e]{1,2}", "\\PC{0,6}").prop_map(|(id, n)| format!(r#"{{"id":"{id}","n":"{n}"}}"#)),
            1 => any::<u64>().prop_map(|n| format!(r#"{{"n":{n}}}"#)),
            1 => any::<i64>().prop_map(|n| format!("[{n}]")),
            1 => "\\PC{0,30}",
            1 => Just(String::new()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn an_import_stores_every_line_or_nothing(lines in prop::collection::vec(line(), 0..8)) {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("jobs.redb");
            let existing = [Card { id: "a".into(), n: 1, tags: vec![], sides: BTreeMap::new(), note: None }];
            jobs_core::testing::put_all(&RedbStore::open(&path).expect("open"), &existing).expect("put");
            let before = dump(&path);
            let file = dir.path().join("cards.jsonl");
            std::fs::write(&file, lines.join("\n")).expect("write");

            let (code, err) = import(&path, &file);
            let after = dump(&path);
            let given: Vec<&String> = lines.iter().filter(|l| !l.trim().is_empty()).collect();
            let cards: Vec<Option<Card>> = given.iter().map(|l| serde_json::from_str::<Card>(l).ok()).collect();
            let ids: Vec<&str> = cards.iter().flatten().map(|c| c.id.as_str()).collect();
            let unique = ids.iter().collect::<BTreeSet<_>>().len() == ids.len();
            if cards.iter().all(Option::is_some) && unique {
                prop_assert_eq!(code, ExitCode::SUCCESS, "{}", err);
                let mut expected: BTreeMap<String, Vec<u8>> = before.into_iter().collect();
                for card in cards.into_iter().flatten() {
                    expected.insert(card.id.clone(), model::encode(&card).expect("encode"));
                }
                prop_assert_eq!(after, expected.into_iter().collect::<Vec<_>>());
            } else {
                prop_assert_eq!(code, ExitCode::from(1), "{}", err);
                prop_assert!(err.contains("nothing was imported"), "{}", err);
                prop_assert_eq!(after, before, "a rejected file stores nothing");
            }
        }
    }
}
