use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
}

// Every mistake in the attribute is reported in one compile, not one per compile.
#[one_off_job(modles = [Exploration], shards = 0, name = "has space")]
pub struct Audit;

fn main() {}
