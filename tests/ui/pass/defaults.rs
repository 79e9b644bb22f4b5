//! The smallest job: one model, no parameters, default name and shards, no doc comment.
#![deny(warnings)]

use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
}

#[one_off_job(models = [Exploration])]
pub struct CountExplorations;

impl Map<Exploration> for CountExplorations {
    fn map(&self, _item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit((), 1);
        Ok(())
    }
}

impl Reduce for CountExplorations {
    type Key = ();
    type Value = u64;
    fn reduce(&self, _key: (), values: Values<'_, u64>, out: &mut Output) -> Outcome {
        out.line(values.sum::<u64>());
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let job = jobs_core::registry()?.get("CountExplorations")?;
    assert_eq!(job.default_shards(), 8);
    assert_eq!(job.max_failures(), 0, "a run with any failure fails unless a limit is set");
    assert_eq!(job.description(), "");
    assert!(job.params().is_empty());
    Ok(())
}
