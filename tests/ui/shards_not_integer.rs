use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
}

const SHARDS: usize = 8;

#[one_off_job(models = [Exploration], shards = SHARDS)]
pub struct Audit;

fn main() {}
