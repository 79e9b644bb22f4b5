use jobs_core::prelude::*;

// Two versions of one model, in two modules: both are stored as `ExplorationModel`.
mod v1 {
    use jobs_core::prelude::*;

    #[derive(Model, Serialize, Deserialize)]
    pub struct ExplorationModel {
        pub id: String,
    }
}

mod v2 {
    use jobs_core::prelude::*;

    #[derive(Model, Serialize, Deserialize)]
    pub struct ExplorationModel {
        pub id: String,
        pub version: u32,
    }
}

#[one_off_job(models = [v1::ExplorationModel, v2::ExplorationModel])]
pub struct Audit;

impl Map<v1::ExplorationModel> for Audit {
    fn map(&self, item: v1::ExplorationModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
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

impl Map<v2::ExplorationModel> for Audit {
    fn map(&self, item: v2::ExplorationModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(item.id, item.version);
        Ok(())
    }
}

fn main() {}
