use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
}

#[derive(Model, Serialize, Deserialize)]
pub struct Collection {
    id: String,
}

// A newer struct that kept the old kind, listed third: the error is at it, naming the first.
#[derive(Model, Serialize, Deserialize)]
#[model(kind = "Exploration")]
pub struct ExplorationV2 {
    id: String,
}

#[one_off_job(models = [Exploration, Collection, ExplorationV2])]
pub struct Audit;

impl Map<Exploration> for Audit {
    fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(item.id, 1);
        Ok(())
    }
}

impl Map<Collection> for Audit {
    fn map(&self, item: Collection, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(item.id, 1);
        Ok(())
    }
}

impl Map<ExplorationV2> for Audit {
    fn map(&self, item: ExplorationV2, ctx: &mut MapContext<'_, Self>) -> Outcome {
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
