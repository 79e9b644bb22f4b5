use jobs_core::Model;

// `Serialize` named by its path, `Deserialize` forgotten.
#[derive(Model, serde::Serialize, Debug)]
pub struct Collection {
    id: String,
    title: String,
}

fn main() {}
