//! Oppia-like models: explorations, their rights, and user settings.
//!
//! They are trimmed-down versions of Oppia's storage models, keeping the fields the example
//! jobs read. Fields that a model could gain after entities were stored carry
//! `#[serde(default)]`, so older entities still decode (the store's encoding is
//! self-describing; see [`jobs_core::model`]).

use std::collections::BTreeMap;

use compact_str::CompactString;
use jobs_core::prelude::*;

/// The exploration schema version this program writes; older explorations are brought up to
/// it by [`ExplorationMigrationJob`](crate::ExplorationMigrationJob).
///
/// The steps, each of which is idempotent:
///
/// | from | to | change |
/// |------|----|--------|
/// | 1 | 2 | state content loses leading and trailing whitespace |
/// | 2 | 3 | hints with blank content are removed |
/// | 3 | 4 | the title's runs of whitespace collapse to single spaces, and it is trimmed |
/// | 4 | 5 | `Continue` and `EndExploration` interactions, which cannot show hints, lose their hints |
pub const CURRENT_SCHEMA_VERSION: u32 = 5;

/// The `status` of an exploration that only its owners can see.
pub const STATUS_PRIVATE: &str = "private";
/// The `status` of a published exploration.
pub const STATUS_PUBLIC: &str = "public";

/// An exploration: a lesson made of states, each showing content and asking for an
/// interaction.
#[derive(Model, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ExplorationModel {
    /// The exploration's id, shared with its [`ExplorationRightsModel`].
    pub id: String,
    /// The title shown to learners.
    pub title: String,
    /// The library category, such as "Mathematics".
    pub category: String,
    /// Whether the exploration was deleted (Oppia soft-deletes models).
    #[serde(default)]
    pub deleted: bool,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_on: i64,
    /// When it was last changed, in milliseconds since the Unix epoch.
    pub last_updated: i64,
    /// The schema version its `states` follow; see [`CURRENT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The name of the state a learner starts in; it should be a key of `states`.
    pub init_state_name: String,
    /// The states, by name.
    #[serde(default)]
    pub states: BTreeMap<String, State>,
}

/// What [`InteractionAuditOneOffJob`](crate::InteractionAuditOneOffJob) reads of an
/// exploration: a [view](jobs_core::Model::VIEW) of the stored `ExplorationModel` that decodes
/// its id, `deleted` and each state's interaction id, and skips the rest (title, contents,
/// hints) without allocating them.
///
/// Its strings are [`CompactString`]s, which keep up to 24 bytes inline: ids, state names and
/// interaction ids are that short, and its states are a list of (name, state) entries in stored
/// order rather than a map, so decoding an exploration allocates that list and nothing else.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ExplorationInteractions {
    /// The exploration's id.
    pub id: CompactString,
    /// Whether the exploration was deleted.
    #[serde(default)]
    pub deleted: bool,
    /// Each state's name and interaction, in stored order (which is name order, as
    /// [`ExplorationModel::states`] is a sorted map).
    #[serde(default, with = "map_entries")]
    pub states: Vec<(CompactString, StateInteraction)>,
}

/// `#[serde(with = "map_entries")]`: a map, held as its entries in the order they are stored.
mod map_entries {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{Deserializer, MapAccess, Visitor};
    use serde::ser::Serializer;
    use serde::{Deserialize, Serialize};

    pub(super) fn serialize<S: Serializer, K: Serialize, V: Serialize>(
        entries: &[(K, V)],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_map(entries.iter().map(|(key, value)| (key, value)))
    }

    pub(super) fn deserialize<'de, D, K, V>(deserializer: D) -> Result<Vec<(K, V)>, D::Error>
    where
        D: Deserializer<'de>,
        K: Deserialize<'de>,
        V: Deserialize<'de>,
    {
        struct Entries<K, V>(PhantomData<(K, V)>);

        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for Entries<K, V> {
            type Value = Vec<(K, V)>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // A hint from the stored bytes: capped, so a hostile length cannot reserve much.
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(entries)
            }
        }

        deserializer.deserialize_map(Entries(PhantomData))
    }
}

/// What [`ExplorationInteractions`] reads of a state.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct StateInteraction {
    /// The state's interaction, of which only the id is read.
    pub interaction: InteractionId,
}

/// An interaction's id, its other fields skipped.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct InteractionId {
    /// The interaction's id, such as "TextInput"; empty when none was chosen.
    pub id: CompactString,
}

impl Model for ExplorationInteractions {
    const KIND: &'static str = ExplorationModel::KIND;
    const VIEW: bool = true;

    fn id(&self) -> &str {
        &self.id
    }
}

/// One state of an exploration: what it shows, and how the learner answers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// The content shown to the learner (HTML in Oppia; plain text here).
    pub content: String,
    /// How the learner responds.
    pub interaction: Interaction,
}

/// The interaction of a state: which widget the learner answers with, and its hints.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Interaction {
    /// The interaction's id, such as "TextInput"; empty when none was chosen.
    pub id: String,
    /// Hints the learner can ask for, in order.
    #[serde(default)]
    pub hints: Vec<Hint>,
}

/// One hint of an interaction.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Hint {
    /// The hint's text.
    pub content: String,
}

/// Who may see an exploration. Its id is the exploration's id.
#[derive(Model, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ExplorationRightsModel {
    /// The id of the exploration these rights are for.
    pub id: String,
    /// [`STATUS_PRIVATE`] or [`STATUS_PUBLIC`].
    pub status: String,
    /// Whether a private exploration may still be viewed by anyone with its link.
    #[serde(default)]
    pub viewable_if_private: bool,
}

impl ExplorationRightsModel {
    /// Whether the exploration is private but viewable by link.
    pub fn is_viewable_while_private(&self) -> bool {
        self.status == STATUS_PRIVATE && self.viewable_if_private
    }
}

/// A user's settings.
#[derive(Model, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct UserSettingsModel {
    /// The user's id.
    pub id: String,
    /// The chosen username; `None` until the user picks one.
    #[serde(default)]
    pub username: Option<String>,
    /// The user's email address.
    pub email: String,
    /// When the account was created, in milliseconds since the Unix epoch.
    pub created_on: i64,
    /// Whether the account was deleted.
    #[serde(default)]
    pub deleted: bool,
}

/// An exploration's `schema_version` is newer than this program knows how to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewerSchemaError {
    /// The exploration's schema version.
    pub found: u32,
}

impl std::fmt::Display for NewerSchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "schema version {} is newer than this program's {CURRENT_SCHEMA_VERSION}: run a newer version of the migration",
            self.found
        )
    }
}

impl std::error::Error for NewerSchemaError {}

/// Interaction ids whose widgets cannot show hints.
const INTERACTIONS_WITHOUT_HINTS: [&str; 2] = ["Continue", "EndExploration"];

impl ExplorationModel {
    /// Brings the exploration up to [`CURRENT_SCHEMA_VERSION`], one version step at a time, and
    /// returns whether it was older. An exploration that is already current is left untouched;
    /// every step is idempotent, so migrating twice changes nothing more.
    ///
    /// ```
    /// use jobs_examples::models::{CURRENT_SCHEMA_VERSION, ExplorationModel};
    ///
    /// let mut exploration = ExplorationModel {
    ///     id: "exp1".into(),
    ///     title: "  Fractions   for  beginners ".into(),
    ///     category: "Mathematics".into(),
    ///     deleted: false,
    ///     created_on: 0,
    ///     last_updated: 0,
    ///     schema_version: 3,
    ///     init_state_name: "Introduction".into(),
    ///     states: Default::default(),
    /// };
    /// assert_eq!(exploration.migrate_to_current_schema(), Ok(true));
    /// assert_eq!(exploration.title, "Fractions for beginners");
    /// assert_eq!(exploration.schema_version, CURRENT_SCHEMA_VERSION);
    /// assert_eq!(exploration.migrate_to_current_schema(), Ok(false));
    /// ```
    ///
    /// # Errors
    /// The exploration's schema version is newer than [`CURRENT_SCHEMA_VERSION`]; it is left
    /// unchanged.
    pub fn migrate_to_current_schema(&mut self) -> Result<bool, NewerSchemaError> {
        if self.schema_version > CURRENT_SCHEMA_VERSION {
            return Err(NewerSchemaError { found: self.schema_version });
        }
        if self.schema_version == CURRENT_SCHEMA_VERSION {
            return Ok(false);
        }
        // Version 0 was never written; treat it as 1 so that every step runs.
        for from in self.schema_version.max(1)..CURRENT_SCHEMA_VERSION {
            self.upgrade_from(from);
        }
        self.schema_version = CURRENT_SCHEMA_VERSION;
        Ok(true)
    }

    /// Applies the step from schema version `from` to `from + 1`.
    fn upgrade_from(&mut self, from: u32) {
        match from {
            1 => {
                for state in self.states.values_mut() {
                    let trimmed = state.content.trim();
                    if trimmed.len() != state.content.len() {
                        state.content = trimmed.to_owned();
                    }
                }
            }
            2 => {
                for state in self.states.values_mut() {
                    state.interaction.hints.retain(|hint| !hint.content.trim().is_empty());
                }
            }
            3 => {
                self.title = self.title.split_whitespace().collect::<Vec<_>>().join(" ");
            }
            4 => {
                for state in self.states.values_mut() {
                    if INTERACTIONS_WITHOUT_HINTS.contains(&state.interaction.id.as_str()) {
                        state.interaction.hints.clear();
                    }
                }
            }
            _ => {}
        }
    }
}

// Raising CURRENT_SCHEMA_VERSION needs a new arm in `upgrade_from`; this fails to compile until
// the arms are reviewed.
const _: () = assert!(
    CURRENT_SCHEMA_VERSION == 5,
    "add the upgrade step to the new schema version in ExplorationModel::upgrade_from"
);

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::{ExplorationInteractions, ExplorationModel, Hint, Interaction, State};

    fn exploration() -> ExplorationModel {
        let state = |interaction: &str| State {
            content: "some content".into(),
            interaction: Interaction { id: interaction.into(), hints: vec![Hint { content: "a hint".into() }] },
        };
        ExplorationModel {
            id: "exp1".into(),
            title: "Fractions".into(),
            category: "Maths".into(),
            deleted: false,
            created_on: 1,
            last_updated: 2,
            schema_version: 5,
            init_state_name: "Intro".into(),
            states: BTreeMap::from([("Intro".into(), state("TextInput")), ("End".into(), state("EndExploration"))]),
        }
    }

    #[test]
    fn the_interactions_view_reads_each_state_in_stored_order_and_writes_the_same_map() {
        let stored = jobs_core::model::encode(&exploration()).unwrap();
        let view: ExplorationInteractions = jobs_core::model::decode(&stored).unwrap();
        let states: Vec<(&str, &str)> =
            view.states.iter().map(|(name, s)| (name.as_str(), s.interaction.id.as_str())).collect();
        assert_eq!(states, [("End", "EndExploration"), ("Intro", "TextInput")]);
        assert_eq!((view.id.as_str(), view.deleted), ("exp1", false));
        // Written back, the list is a map again, which the view reads the same.
        let again: ExplorationInteractions =
            jobs_core::model::decode(&jobs_core::model::encode(&view).unwrap()).unwrap();
        assert_eq!(again, view);
    }

    #[test]
    fn the_interactions_view_reads_rows_without_states_and_skips_fields_it_does_not_know() {
        #[derive(Serialize)]
        struct OldRow<'a> {
            id: &'a str,
        }
        #[derive(Serialize)]
        struct NewRow<'a> {
            id: &'a str,
            states: BTreeMap<&'a str, NewState<'a>>,
            rating: f64,
        }
        #[derive(Serialize)]
        struct NewState<'a> {
            interaction: NewInteraction<'a>,
            audio: &'a str,
        }
        #[derive(Serialize)]
        struct NewInteraction<'a> {
            id: &'a str,
            solution: Vec<u8>,
        }
        let old: ExplorationInteractions =
            jobs_core::model::decode(&jobs_core::model::encode(&OldRow { id: "old" }).unwrap()).unwrap();
        assert_eq!((old.id.as_str(), old.deleted, old.states.len()), ("old", false, 0));
        let new = NewRow {
            id: "new",
            states: BTreeMap::from([(
                "Intro",
                NewState { interaction: NewInteraction { id: "TextInput", solution: vec![1] }, audio: "a.mp3" },
            )]),
            rating: 4.5,
        };
        let view: ExplorationInteractions = jobs_core::model::decode(&jobs_core::model::encode(&new).unwrap()).unwrap();
        assert_eq!(view.states.len(), 1);
        assert_eq!((view.states[0].0.as_str(), view.states[0].1.interaction.id.as_str()), ("Intro", "TextInput"));
    }
}
