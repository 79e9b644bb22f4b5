use jobs_core::prelude::*;

mod stored {
    use jobs_core::prelude::*;

    #[derive(Model, Serialize, Deserialize)]
    pub struct User {
        pub id: String,
    }

    // A plain serde type, not a model.
    #[derive(Serialize, Deserialize)]
    pub struct Exploration {
        pub id: String,
    }
}

#[one_off_job(models = [stored::User, stored::Exploration])]
pub struct Audit;

impl Map<stored::User> for Audit {
    fn map(&self, item: stored::User, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(item.id, 1);
        Ok(())
    }
}

impl Map<stored::Exploration> for Audit {
    fn map(&self, item: stored::Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
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
