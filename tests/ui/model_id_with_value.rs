use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    #[model(id = true)]
    exploration_id: String,
}

#[derive(Model, Serialize, Deserialize)]
#[model(id)]
pub struct Collection {
    id: String,
}

fn main() {}
