use jobs_core::prelude::*;

// Neither serde derive.
#[derive(Model)]
pub struct Exploration {
    id: String,
}

fn main() {}
