use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
}

/// Not `Serialize`. (Only `Serialize` is left out so that the snapshot does not list every
/// `Deserialize` impl in the dependency graph.)
#[derive(Deserialize)]
pub struct Summary {
    pub id: String,
}

#[one_off_job(models = [Exploration])]
pub struct Summaries;

impl Map<Exploration> for Summaries {
    fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(item.id.clone(), Summary { id: item.id });
        Ok(())
    }
}

impl Reduce for Summaries {
    type Key = String;
    type Value = Summary;
    fn reduce(&self, key: String, values: Values<'_, Summary>, out: &mut Output) -> Outcome {
        out.json(&(key, values.map(|s| s.id).collect::<Vec<_>>()))
    }
}

fn main() {}
