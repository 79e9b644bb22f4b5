use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
}

#[one_off_job(models = [Exploration], shards = -4)]
pub struct Audit;

fn main() {}
