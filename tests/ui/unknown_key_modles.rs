use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
}

#[one_off_job(modles = [Exploration])]
pub struct Audit;

fn main() {}
