use jobs_core::prelude::*;

// An alias is looked through: this one is not a `String`.
type ExplorationId = u64;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: ExplorationId,
}

#[derive(Model, Serialize, Deserialize)]
pub struct Collection {
    #[model(id)]
    collection_id: Box<str>,
}

fn main() {}
