//! What the reliability tests check after a fault in `ExplorationMigrationJob`: every
//! exploration is either exactly as seeded or exactly its migration, and nothing else.
//!
//! What "its migration" is, is computed with `migrate_to_current_schema`, the code under test;
//! so [`Seeded::new`] first checks that computation on one hand-made old exploration
//! ([`HAND_MADE`]) against its migration written out by hand.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use jobs_core::store::{KeyRange, RedbStore};
use jobs_core::{Model, Store, model};
use jobs_examples::models::{
    CURRENT_SCHEMA_VERSION, ExplorationModel, ExplorationRightsModel, Hint, Interaction, State,
};

use crate::support::{Ran, jobs_command};

/// The job under test.
pub const MIGRATION: &str = "ExplorationMigrationJob";

/// The id of the hand-made exploration in every seeded store.
pub const HAND_MADE: &str = "hand-made-v1";

fn hand_made(schema_version: u32, title: &str, states: [(&str, &str, &str, &[&str]); 2]) -> ExplorationModel {
    ExplorationModel {
        id: HAND_MADE.into(),
        title: title.into(),
        category: "Mathematics".into(),
        deleted: false,
        created_on: 1_500_000_000_000,
        last_updated: 1_500_000_000_000,
        schema_version,
        init_state_name: "Intro".into(),
        states: states
            .iter()
            .map(|(name, content, interaction, hints)| {
                let hints = hints.iter().map(|hint| Hint { content: (*hint).to_owned() }).collect();
                let state =
                    State { content: (*content).into(), interaction: Interaction { id: (*interaction).into(), hints } };
                ((*name).to_owned(), state)
            })
            .collect(),
    }
}

/// A version-1 exploration with a defect for every later version to repair.
fn hand_made_old() -> ExplorationModel {
    hand_made(
        1,
        "  Fractions \t for   beginners ",
        [
            ("Intro", "\n  Welcome. ", "Continue", &["Click on."]),
            ("Question", "What is 1/2 + 1/4? ", "TextInput", &["Think in quarters.", "  "]),
        ],
    )
}

/// [`hand_made_old`] migrated, by hand: content trimmed (2), the blank hint gone (3), the
/// title's whitespace collapsed (4), `Continue` without hints (5).
fn hand_made_migrated() -> ExplorationModel {
    hand_made(
        5,
        "Fractions for beginners",
        [
            ("Intro", "Welcome.", "Continue", &[]),
            ("Question", "What is 1/2 + 1/4?", "TextInput", &["Think in quarters."]),
        ],
    )
}

/// Checks [`expected_migrations`] on the hand-made exploration against its migration written
/// out by hand. (Not stored among the seeded ones: the full-disk test depends on the exact free
/// pages a seeded file has.)
fn check_expected_migrations_by_hand() {
    assert_eq!(CURRENT_SCHEMA_VERSION, 5, "write the new version's step into hand_made_migrated");
    let old = BTreeMap::from([(HAND_MADE.to_owned(), model::encode(&hand_made_old()).expect("encodes"))]);
    assert_eq!(
        expected_migrations(&old)[HAND_MADE],
        Some(hand_made_migrated()),
        "the computed migrations match the hand-written one"
    );
}

/// Every entity of `kind` in `store`, with its stored bytes, by id.
pub fn rows(store: &dyn Store, kind: &str) -> BTreeMap<String, Vec<u8>> {
    let mut rows = BTreeMap::new();
    store
        .scan(kind, &KeyRange::all(), &mut |id, bytes| {
            rows.insert(id.to_owned(), bytes.to_vec());
            ControlFlow::Continue(())
        })
        .expect("scan");
    rows
}

/// What the migration should leave of each exploration: the migrated model for the ones it
/// rewrites, `None` for the ones it leaves alone (current or deleted).
pub fn expected_migrations(originals: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Option<ExplorationModel>> {
    originals
        .iter()
        .map(|(id, bytes)| {
            let mut exploration: ExplorationModel = model::decode(bytes).expect("seeded explorations decode");
            let migrated = !exploration.deleted && exploration.migrate_to_current_schema().expect("known versions");
            (id.clone(), migrated.then_some(exploration))
        })
        .collect()
}

/// How the explorations in a store compare with the originals.
#[derive(Debug, Default)]
pub struct Census {
    /// Explorations byte-for-byte as seeded.
    pub untouched: usize,
    /// Explorations exactly migrated.
    pub migrated: usize,
    /// Missing, undecodable, or neither the original nor its exact migration.
    pub lost: Vec<String>,
}

/// How the explorations in `store` compare with `originals` and their `expected` migrations.
pub fn census(
    store: &dyn Store,
    originals: &BTreeMap<String, Vec<u8>>,
    expected: &BTreeMap<String, Option<ExplorationModel>>,
) -> Census {
    let now = rows(store, ExplorationModel::KIND);
    let mut census = Census::default();
    for (id, original) in originals {
        match now.get(id) {
            Some(bytes) if bytes == original => census.untouched += 1,
            Some(bytes) => match (model::decode::<ExplorationModel>(bytes), &expected[id]) {
                (Ok(found), Some(migrated)) if &found == migrated && found.schema_version == CURRENT_SCHEMA_VERSION => {
                    census.migrated += 1;
                }
                (found, _) => census.lost.push(format!("{id}: {found:?}")),
            },
            None => census.lost.push(format!("{id}: missing")),
        }
    }
    census.lost.extend(now.keys().filter(|id| !originals.contains_key(*id)).map(|id| format!("{id}: unexpected")));
    census
}

/// `["MIGRATED",n]` and `["ALREADY_CURRENT",n]` from a run's report lines.
pub fn report_counts(out: &str) -> BTreeMap<String, u64> {
    out.lines()
        .map(|line| serde_json::from_str::<(String, u64)>(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect()
}

/// A store seeded once, with what the migration should make of it.
pub struct Seeded {
    /// The seeded store file; copy it, do not change it.
    pub path: PathBuf,
    /// Every exploration's stored bytes, by id.
    pub originals: BTreeMap<String, Vec<u8>>,
    /// The migration of each exploration that the job rewrites.
    pub expected: BTreeMap<String, Option<ExplorationModel>>,
    /// How many explorations the job rewrites.
    pub to_migrate: usize,
    /// How many explorations are not deleted (the job counts these).
    pub live: usize,
    /// How many rights models there are.
    pub rights: usize,
}

impl Seeded {
    /// Seeds `explorations` explorations into `dir/seeded.redb` with the `jobs` binary.
    pub fn new(dir: &Path, explorations: usize) -> Self {
        let path = dir.join("seeded.redb");
        Ran::from(jobs_command(&path, &["seed", "--explorations", &explorations.to_string()]).output().expect("seed"))
            .assert_code(0);
        let store = RedbStore::open(&path).expect("open the seeded store");
        let originals = rows(&store, ExplorationModel::KIND);
        let rights = rows(&store, ExplorationRightsModel::KIND).len();
        drop(store);
        check_expected_migrations_by_hand();
        let expected = expected_migrations(&originals);
        let to_migrate = expected.values().filter(|m| m.is_some()).count();
        let live = originals
            .values()
            .filter(|bytes| !model::decode::<ExplorationModel>(bytes).expect("seeded explorations decode").deleted)
            .count();
        assert!(to_migrate > 100, "the seed has old explorations to migrate: {to_migrate}");
        Seeded { path, originals, expected, to_migrate, live, rights }
    }

    /// A copy of the seeded store at `to`.
    pub fn copy_to(&self, to: &Path) {
        copy_store(&self.path, to);
    }

    /// How the explorations in `store` compare with the seeded ones.
    pub fn census(&self, store: &dyn Store) -> Census {
        census(store, &self.originals, &self.expected)
    }
}

/// Copies a store file.
pub fn copy_store(from: &Path, to: &Path) {
    std::fs::copy(from, to).expect("copy the seeded store");
}
