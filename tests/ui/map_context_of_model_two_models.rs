use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
}

#[derive(Model, Serialize, Deserialize)]
pub struct Collection {
    id: String,
}

#[one_off_job(models = [Exploration, Collection])]
pub struct Audit;

impl Map<Exploration> for Audit {
    fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(item.id, 1);
        Ok(())
    }
}

impl Map<Collection> for Audit {
    // The second model's context, where the job belongs.
    fn map(&self, item: Collection, ctx: &mut MapContext<'_, Collection>) -> Outcome {
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
