use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct User {
    id: String,
}

// Only `Deserialize`, and listed beside a model that is whole: one error, the derive's.
#[derive(Model, Deserialize)]
pub struct Exploration {
    id: String,
    title: String,
}

#[one_off_job(models = [User, Exploration])]
pub struct Audit;

impl Map<User> for Audit {
    fn map(&self, item: User, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(item.id, 1);
        Ok(())
    }
}

impl Map<Exploration> for Audit {
    fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(item.title, 1);
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
