use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
}

#[one_off_job(models = [Exploration])]
pub union Audit {
    fast: u32,
    slow: f32,
}

fn main() {}
