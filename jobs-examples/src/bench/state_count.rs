//! A job for the memory measurements: `InteractionAuditOneOffJob`'s shuffle (the same pairs,
//! one per state) with a small report (the number of states per interaction), so the run's
//! memory is the shuffle's and not the output's.

use jobs_core::prelude::*;
use jobs_examples::models::ExplorationModel;

/// Counts the states using each interaction, through the audit's full shuffle. With `emit`
/// false it only decodes: the memory of a run without a shuffle.
#[one_off_job(models = [ExplorationModel], shards = 64)]
pub struct BenchStateCountJob {
    /// Whether to emit the audit's pairs.
    pub emit: bool,
}

impl Map<ExplorationModel> for BenchStateCountJob {
    fn map(&self, item: ExplorationModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
        if item.deleted || !self.emit {
            return Ok(());
        }
        for (state_name, state) in item.states {
            ctx.emit(state.interaction.id, format!("{} {state_name}", item.id));
        }
        Ok(())
    }
}

impl Reduce for BenchStateCountJob {
    type Key = String;
    type Value = String;

    fn reduce(&self, interaction_id: String, states: Values<'_, String>, out: &mut Output) -> Outcome {
        // The values stream past unread (from disk, when spilled); only their number is kept.
        out.json(&(interaction_id, states.len()))
    }
}
