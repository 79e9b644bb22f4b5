use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
}

/// A job without a `Map` of its own: only its name is borrowed below.
pub struct Unrelated;

#[one_off_job(models = [Exploration])]
pub struct Audit;

impl Map<Exploration> for Audit {
    // Another type's context (one that is not even a job).
    fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Unrelated>) -> Outcome {
        let _ = (item, ctx);
        Ok(())
    }
}

impl Reduce for Audit {
    type Key = String;
    type Value = u32;
    fn reduce(&self, _key: String, _values: Values<'_, u32>, _out: &mut Output) -> Outcome {
        Ok(())
    }
}

fn main() {}
