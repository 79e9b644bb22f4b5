use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct UserSettings {
    #[model(id)]
    user_id: String,
    username: Option<String>,
}

/// Counts, writes and emits nothing: still a job, so still one `Reduce` impl short.
#[one_off_job(models = [UserSettings], name = "user_audit")]
pub struct UserAudit {
    min_length: Option<usize>,
}

impl Map<UserSettings> for UserAudit {
    fn map(&self, user: UserSettings, ctx: &mut MapContext<'_, Self>) -> Outcome {
        let short = user.username.is_none_or(|name| name.len() < self.min_length.unwrap_or(3));
        if short && !ctx.is_dry_run() {
            ctx.count("short usernames", 1);
        }
        Ok(())
    }
}

fn main() {}
