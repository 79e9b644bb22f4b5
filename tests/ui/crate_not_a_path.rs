use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
#[model(crate = "jobs core")]
pub struct Exploration {
    id: String,
}

#[one_off_job(crate = jobs_core, models = [Exploration])]
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

#[one_off_job(crate = "not a path!", models = [Exploration])]
pub struct Audit2;

impl Map<Exploration> for Audit2 {
    fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(item.id, 1);
        Ok(())
    }
}

impl Reduce for Audit2 {
    type Key = String;
    type Value = u32;
    fn reduce(&self, _key: String, _values: Values<'_, u32>, _out: &mut Output) -> Outcome {
        Ok(())
    }
}

fn main() {}
