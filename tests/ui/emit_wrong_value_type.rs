use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
    title: String,
}

#[one_off_job(models = [Exploration])]
pub struct TitleCounts;

impl Map<Exploration> for TitleCounts {
    fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(item.title, item.id);
        Ok(())
    }
}

impl Reduce for TitleCounts {
    type Key = String;
    type Value = u64;
    fn reduce(&self, key: String, values: Values<'_, u64>, out: &mut Output) -> Outcome {
        out.json(&(key, values.sum::<u64>()))
    }
}

fn main() {}
