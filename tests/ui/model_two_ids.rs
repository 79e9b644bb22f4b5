use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct UserSettings {
    #[model(id)]
    user_id: String,
    #[model(id)]
    email: String,
}

fn main() {}
