use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
    rating: f64,
}

#[one_off_job(models = [Exploration])]
pub struct Ratings;

impl Map<Exploration> for Ratings {
    fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(item.rating, item.id);
        Ok(())
    }
}

impl Reduce for Ratings {
    type Key = f64;
    type Value = String;
    fn reduce(&self, key: f64, values: Values<'_, String>, out: &mut Output) -> Outcome {
        out.json(&(key, values.collect::<Vec<_>>()))
    }
}

fn main() {}
