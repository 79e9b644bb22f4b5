use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
    version: u32,
}

#[one_off_job(models = [Exploration])]
pub struct VersionCounts;

impl Map<Exploration> for VersionCounts {
    fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(item.version, 1);
        Ok(())
    }
}

impl Reduce for VersionCounts {
    type Key = String;
    type Value = u64;
    fn reduce(&self, key: String, values: Values<'_, u64>, out: &mut Output) -> Outcome {
        out.json(&(key, values.sum::<u64>()))
    }
}

fn main() {}
