//! One-off jobs over explorations, ported from Oppia's `exp_jobs_one_off.py`.
//!
//! Each job's doc comment is its description in `jobs list`; its report lines are compact
//! JSON, sorted by key.

use compact_str::CompactString;
use jobs_core::Failure;
use jobs_core::prelude::*;

use crate::models::{ExplorationInteractions, ExplorationModel, ExplorationRightsModel};

/// Produces a list of (exploration, state) pairs, grouped by the interaction they use.
///
/// Deleted explorations are skipped. Each report line is
/// `[interaction_id, ["<exp_id> <state_name>", ...]]`, e.g.
/// `["TextInput",["exp1 Intro","exp2 End"]]`. A state with no interaction chosen has the
/// interaction id `""`, so such states are listed under the key `""`, which sorts first: the
/// demo data leaves a few states so on purpose, for `ExplorationValidityJob` to find.
///
/// It maps over [`ExplorationInteractions`], a view of the stored explorations that decodes
/// only what it reads, so contents and hints are skipped rather than allocated. Its keys are
/// [`CompactString`]s and its values [`StateRef`]s, whose parts are kept inline when they are
/// up to 24 bytes long, as ids and state names are, so a state emits a pair without allocating.
#[one_off_job(models = [ExplorationInteractions], shards = 64)]
pub struct InteractionAuditOneOffJob;

impl Map<ExplorationInteractions> for InteractionAuditOneOffJob {
    fn map(&self, item: ExplorationInteractions, ctx: &mut MapContext<'_, Self>) -> Outcome {
        if item.deleted {
            return Ok(());
        }
        for (state_name, state) in item.states {
            ctx.emit(state.interaction.id, StateRef { exploration: item.id.clone(), state: state_name });
        }
        Ok(())
    }
}

impl Reduce for InteractionAuditOneOffJob {
    type Key = CompactString;
    type Value = StateRef;

    fn reduce(&self, interaction_id: Self::Key, states: Values<'_, Self::Value>, out: &mut Output) -> Outcome {
        out.json(&(interaction_id, states.streamed()))
    }
}

/// One state of one exploration, written (to JSON, and to spill files) as the one string
/// `"<exp_id> <state_name>"`.
///
/// It keeps the two parts apart, each a [`CompactString`] that holds up to 24 bytes inline,
/// and joins them only when written: an id and a state name joined would often be longer
/// than 24 bytes ("Introduction" and a 12-character id are 25), and so allocated, then read
/// back from wherever the allocator put it when reduce writes the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRef {
    /// The exploration's id.
    pub exploration: CompactString,
    /// The state's name.
    pub state: CompactString,
}

impl serde::Serialize for StateRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Joined in a buffer each thread keeps: no value allocates, and the text needs no
        // check that it is UTF-8, being made of two `&str`s.
        JOINED.with_borrow_mut(|joined| {
            joined.clear();
            joined.push_str(&self.exploration);
            joined.push(' ');
            joined.push_str(&self.state);
            serializer.serialize_str(joined)
        })
    }
}

thread_local! {
    static JOINED: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

impl<'de> serde::Deserialize<'de> for StateRef {
    /// Splits the text at its first space. Should an id hold a space, the parts come out
    /// otherwise than they went in, but they join into the same text, which is all a
    /// `StateRef` is ever used for. A text with no space was not written by a `StateRef`.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = CompactString::deserialize(deserializer)?;
        let (exploration, state) = text.split_once(' ').ok_or_else(|| {
            serde::de::Error::custom(format_args!("{text:?} is not \"<exploration id> <state name>\""))
        })?;
        Ok(StateRef { exploration: exploration.into(), state: state.into() })
    }
}

/// Lists the states that have hints, grouped by how many hints they have.
///
/// Deleted explorations and states without hints are skipped. Each report line is
/// `[hint_count, ["<exp_id> <state_name>", ...]]`, e.g. `[2,["exp1 Intro"]]`, in increasing
/// hint count.
#[one_off_job(models = [ExplorationModel])]
pub struct HintsAuditOneOffJob;

impl Map<ExplorationModel> for HintsAuditOneOffJob {
    fn map(&self, item: ExplorationModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
        if item.deleted {
            return Ok(());
        }
        for (state_name, state) in &item.states {
            let hints = state.interaction.hints.len();
            if hints > 0 {
                ctx.emit(hints, format!("{} {state_name}", item.id));
            }
        }
        Ok(())
    }
}

impl Reduce for HintsAuditOneOffJob {
    type Key = usize;
    type Value = String;

    fn reduce(&self, hint_count: usize, states: Values<'_, String>, out: &mut Output) -> Outcome {
        // Streamed, not collected: a hint count's list grows with the data.
        out.json(&(hint_count, states.streamed()))
    }
}

/// Lists the private explorations that are nevertheless viewable by anyone with their link.
///
/// Maps over rights models, and reads each matching exploration to report its title. Deleted
/// explorations are skipped. Each report line is `["<exp_id>","<title>"]`. Rights whose
/// exploration is missing are recorded as failures of the rights entity ("exploration
/// <exp_id> has rights but is not stored"), not as report lines.
#[one_off_job(models = [ExplorationRightsModel])]
pub struct ViewableExplorationsAuditJob;

impl Map<ExplorationRightsModel> for ViewableExplorationsAuditJob {
    fn map(&self, rights: ExplorationRightsModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
        if !rights.is_viewable_while_private() {
            return Ok(());
        }
        let Some(exploration) = ctx.get::<ExplorationModel>(&rights.id)? else {
            return Err(Failure::new(format_args!("exploration {} has rights but is not stored", rights.id)));
        };
        if !exploration.deleted {
            ctx.emit(exploration.id, exploration.title);
        }
        Ok(())
    }
}

impl Reduce for ViewableExplorationsAuditJob {
    type Key = String;
    type Value = String;

    fn reduce(&self, exp_id: String, titles: Values<'_, String>, out: &mut Output) -> Outcome {
        // One rights model per exploration, so one title per key.
        for title in titles {
            out.json(&(&exp_id, title))?;
        }
        Ok(())
    }
}

/// Reports explorations whose structure is broken: an initial state that does not exist, or
/// states with no interaction.
///
/// Deleted explorations are skipped. Each report line is one problem, `["<exp_id>","<problem>"]`,
/// where the problem is `init state <name> is not a state` or `state <name> has no interaction`;
/// an exploration's problems follow that order, then state-name order.
#[one_off_job(models = [ExplorationModel])]
pub struct ExplorationValidityJob;

impl Map<ExplorationModel> for ExplorationValidityJob {
    fn map(&self, item: ExplorationModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
        if item.deleted {
            return Ok(());
        }
        if !item.states.contains_key(&item.init_state_name) {
            ctx.emit(item.id.clone(), format!("init state {} is not a state", item.init_state_name));
        }
        for (state_name, state) in &item.states {
            if state.interaction.id.is_empty() {
                ctx.emit(item.id.clone(), format!("state {state_name} has no interaction"));
            }
        }
        Ok(())
    }
}

impl Reduce for ExplorationValidityJob {
    type Key = String;
    type Value = String;

    fn reduce(&self, exp_id: String, problems: Values<'_, String>, out: &mut Output) -> Outcome {
        for problem in problems {
            out.json(&(&exp_id, problem))?;
        }
        Ok(())
    }
}

/// Migrates explorations to the current schema version and stores them back.
///
/// Explorations older than [`CURRENT_SCHEMA_VERSION`](crate::models::CURRENT_SCHEMA_VERSION)
/// are upgraded step by step (see
/// [`ExplorationModel::migrate_to_current_schema`]) and put; current ones are left alone, so a
/// second run finds them all current. Deleted explorations are skipped (counter
/// `DELETED_SKIPPED`). An exploration with a newer schema version is recorded as a failure and
/// not written.
///
/// Report lines count explorations by outcome, `["ALREADY_CURRENT",n]` and `["MIGRATED",n]`,
/// each only if it occurred; the counters of the same names hold the same numbers. In a dry
/// run the counts are the same but nothing is stored.
#[one_off_job(models = [ExplorationModel])]
pub struct ExplorationMigrationJob;

/// The report key and counter of explorations that were migrated.
pub const MIGRATED: &str = "MIGRATED";
/// The report key and counter of explorations that were already current.
pub const ALREADY_CURRENT: &str = "ALREADY_CURRENT";
/// The counter of deleted explorations the migration skipped.
pub const DELETED_SKIPPED: &str = "DELETED_SKIPPED";

impl Map<ExplorationModel> for ExplorationMigrationJob {
    fn map(&self, mut item: ExplorationModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
        if item.deleted {
            ctx.count(DELETED_SKIPPED, 1);
            return Ok(());
        }
        let outcome = if item.migrate_to_current_schema()? {
            ctx.put(&item)?;
            MIGRATED
        } else {
            ALREADY_CURRENT
        };
        ctx.count(outcome, 1);
        ctx.emit(outcome.to_owned(), 1);
        Ok(())
    }
}

impl Reduce for ExplorationMigrationJob {
    type Key = String;
    type Value = u64;

    fn reduce(&self, outcome: String, ones: Values<'_, u64>, out: &mut Output) -> Outcome {
        out.json(&(outcome, ones.sum::<u64>()))
    }
}

/// Reports explorations that have no rights model, and rights models that have no
/// exploration.
///
/// Maps over both models and joins them by id; deleted explorations count as present. Each
/// report line is one problem, `["<exp_id>","no rights"]` or `["<exp_id>","no exploration"]`.
#[one_off_job(models = [ExplorationModel, ExplorationRightsModel], shards = 16)]
pub struct ExplorationRightsConsistencyJob;

/// Which of an exploration's two models was seen, in [`ExplorationRightsConsistencyJob`].
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExplorationPart {
    /// The [`ExplorationModel`].
    Exploration,
    /// The [`ExplorationRightsModel`].
    Rights,
}

impl Map<ExplorationModel> for ExplorationRightsConsistencyJob {
    fn map(&self, item: ExplorationModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(item.id, ExplorationPart::Exploration);
        Ok(())
    }
}

impl Map<ExplorationRightsModel> for ExplorationRightsConsistencyJob {
    fn map(&self, rights: ExplorationRightsModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(rights.id, ExplorationPart::Rights);
        Ok(())
    }
}

impl Reduce for ExplorationRightsConsistencyJob {
    type Key = String;
    type Value = ExplorationPart;

    fn reduce(&self, exp_id: String, parts: Values<'_, ExplorationPart>, out: &mut Output) -> Outcome {
        let (mut exploration, mut rights) = (false, false);
        for part in parts {
            match part {
                ExplorationPart::Exploration => exploration = true,
                ExplorationPart::Rights => rights = true,
            }
        }
        if !rights {
            out.json(&(&exp_id, "no rights"))?;
        }
        if !exploration {
            out.json(&(&exp_id, "no exploration"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::StateRef;

    fn state(exploration: &str, state: &str) -> StateRef {
        StateRef { exploration: exploration.into(), state: state.into() }
    }

    #[test]
    fn a_state_is_written_as_its_id_and_name_joined_by_a_space_and_read_back() {
        let long = "é".repeat(40);
        for (id, name) in [("e1", "Intro"), ("", ""), ("-R63y7YmGIXo", "Introduction"), (long.as_str(), "ü \"x\"")] {
            let written = serde_json::to_string(&state(id, name)).unwrap();
            assert_eq!(written, serde_json::to_string(&format!("{id} {name}")).unwrap());
            let read: StateRef = serde_json::from_str(&written).unwrap();
            assert_eq!(read, state(id, name));
            let spilled = jobs_core::model::encode(&state(id, name)).unwrap();
            assert_eq!(jobs_core::model::decode::<StateRef>(&spilled).unwrap(), state(id, name));
        }
        // An id with a space reads back split elsewhere, and writes the same text again.
        let odd: StateRef = serde_json::from_str(&serde_json::to_string(&state("a b", "c")).unwrap()).unwrap();
        assert_eq!(odd, state("a", "b c"));
        assert_eq!(serde_json::to_string(&odd).unwrap(), "\"a b c\"");
    }
}
