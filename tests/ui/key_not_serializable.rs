use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
    category: String,
}

/// Ordered, hashable and `Deserialize`, but not `Serialize`. (Only `Serialize` is left out
/// so that the snapshot does not list every `Deserialize` impl in the dependency graph.)
#[derive(PartialEq, Eq, PartialOrd, Ord, Hash, Clone, Deserialize)]
pub struct Category(String);

#[one_off_job(models = [Exploration])]
pub struct ByCategory;

impl Map<Exploration> for ByCategory {
    fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(Category(item.category), item.id);
        Ok(())
    }
}

impl Reduce for ByCategory {
    type Key = Category;
    type Value = String;
    fn reduce(&self, key: Category, values: Values<'_, String>, out: &mut Output) -> Outcome {
        out.json(&(key.0, values.collect::<Vec<_>>()))
    }
}

fn main() {}
