use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
}

#[one_off_job(models = [Exploration])]
pub struct Audit;

impl Map<Exploration> for Audit {
    fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        let _ = (item, ctx);
        Ok(())
    }
}

// Code that runs the job adds nothing to the one error at the struct.
fn main() {
    let store = jobs_core::MemoryStore::new();
    let _ = jobs_core::testing::run(&Audit, &store);
}
