use jobs_core::prelude::*;

// No serde derive, and listed by a job: the job adds nothing to the model's one error.
#[derive(Model)]
pub struct Exploration {
    id: String,
}

#[one_off_job(models = [Exploration])]
pub struct Audit;

impl Map<Exploration> for Audit {
    fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(item.id, 1);
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
