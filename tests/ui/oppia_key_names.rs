use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
}

// Oppia's names, as a port would first write them.
#[one_off_job(entity_classes_to_map_over = [Exploration], shard_count = 16)]
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

fn main() {}
