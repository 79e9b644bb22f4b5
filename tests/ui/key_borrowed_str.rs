use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
    category: String,
}

#[one_off_job(models = [Exploration])]
pub struct Categories;

impl Map<Exploration> for Categories {
    fn map(&self, _item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit("all", 1);
        Ok(())
    }
}

impl Reduce for Categories {
    type Key = &'static str;
    type Value = u32;
    fn reduce(&self, _key: &'static str, _values: Values<'_, u32>, _out: &mut Output) -> Outcome {
        Ok(())
    }
}

fn main() {}
