use jobs_core::prelude::*;

// Other derives, a marked id and a kind, but neither serde derive.
#[derive(Debug, Clone, Model)]
#[model(kind = "UserSettingsModel")]
pub struct UserSettings {
    #[model(id)]
    user_id: String,
    username: Option<String>,
}

fn main() {}
