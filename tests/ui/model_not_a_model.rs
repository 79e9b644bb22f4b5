use jobs_core::prelude::*;

/// Forgot `#[derive(Model)]`.
#[derive(Serialize, Deserialize)]
pub struct Exploration {
    id: String,
}

#[one_off_job(models = [Exploration])]
pub struct Audit;

impl Reduce for Audit {
    type Key = String;
    type Value = u32;
    fn reduce(&self, _key: String, _values: Values<'_, u32>, _out: &mut Output) -> Outcome {
        Ok(())
    }
}

fn main() {}
