use jobs_core::prelude::*;

#[derive(Model, Serialize)]
pub struct Exploration {
    id: String,
}

fn main() {}
