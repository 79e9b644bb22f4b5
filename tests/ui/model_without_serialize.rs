use jobs_core::prelude::*;

#[derive(Model, Deserialize)]
pub struct Exploration {
    id: String,
}

fn main() {}
