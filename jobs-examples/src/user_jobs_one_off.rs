//! One-off jobs over users, ported from Oppia's `user_jobs_one_off.py`.

use jobs_core::prelude::*;

use crate::models::UserSettingsModel;

/// Counts users by the length of their username, in characters.
///
/// Users without a username are skipped (counter `NO_USERNAME`). Each report line is
/// `[length, count]`, e.g. `[5,2]`, in increasing length.
#[one_off_job(models = [UserSettingsModel])]
pub struct UsernameLengthDistributionOneOffJob {
    /// Only count usernames at least this many characters long (all of them when absent).
    pub min_length: Option<usize>,
}

/// The counter of users who have not chosen a username.
pub const NO_USERNAME: &str = "NO_USERNAME";

impl Map<UserSettingsModel> for UsernameLengthDistributionOneOffJob {
    fn map(&self, user: UserSettingsModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
        let Some(username) = user.username else {
            ctx.count(NO_USERNAME, 1);
            return Ok(());
        };
        let length = username.chars().count();
        if length >= self.min_length.unwrap_or(0) {
            ctx.emit(length, 1);
        }
        Ok(())
    }
}

impl Reduce for UsernameLengthDistributionOneOffJob {
    type Key = usize;
    type Value = u64;

    fn reduce(&self, length: usize, ones: Values<'_, u64>, out: &mut Output) -> Outcome {
        out.json(&(length, ones.sum::<u64>()))
    }

    // Counts add up, so a map task may sum its own counts before the shuffle: a task then
    // hands over one pair per length instead of one per user.
    const COMBINES: bool = true;

    fn combine(&self, _length: &usize, counts: &mut Vec<u64>) {
        let total = counts.iter().sum();
        *counts = vec![total];
    }
}
