//! The models and jobs of `my-app`, an application built as docs/your-application.md says:
//! two models, a job with a parameter, a migration, and a job over both models that lets a few
//! entities fail.

use jobs_core::prelude::*;

/// A stored user, as in Oppia's `UserSettingsModel`.
#[derive(Model, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct UserSettingsModel {
    /// The user's id.
    #[model(id)]
    pub user_id: String,
    /// The chosen username, if any.
    pub username: Option<String>,
}

/// A stored exploration (a lesson), written by one user.
#[derive(Model, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ExplorationModel {
    /// The exploration's id.
    #[model(id)]
    pub id: String,
    /// Its title.
    pub title: String,
    /// The id of the user who wrote it.
    pub author_id: String,
}

/// Counts users by username length, from `min_len` up.
#[one_off_job(models = [UserSettingsModel], name = "UsernameLengths", shards = 4)]
pub struct UsernameLengthJob {
    /// The shortest username counted.
    pub min_len: usize,
}

impl Map<UserSettingsModel> for UsernameLengthJob {
    fn map(&self, user: UserSettingsModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
        match user.username {
            Some(name) if name.chars().count() >= self.min_len => ctx.emit(name.chars().count(), 1),
            Some(_) => ctx.count("too short", 1),
            None => ctx.count("no username", 1),
        }
        Ok(())
    }
}

impl Reduce for UsernameLengthJob {
    type Key = usize;
    type Value = u64;
    fn reduce(&self, len: usize, ones: Values<'_, u64>, out: &mut Output) -> Outcome {
        out.json(&(len, ones.sum::<u64>()))
    }
}

/// Trims spaces around usernames and stores the users it changed; counts `TRIMMED` and
/// `UNCHANGED`.
#[one_off_job(models = [UserSettingsModel], name = "TrimUsernames")]
pub struct TrimUsernamesJob;

impl Map<UserSettingsModel> for TrimUsernamesJob {
    fn map(&self, mut user: UserSettingsModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
        let trimmed = user.username.as_deref().map(str::trim).map(str::to_owned);
        let outcome = if trimmed == user.username {
            "UNCHANGED"
        } else {
            user.username = trimmed;
            ctx.put(&user)?; // with --dry-run: counted as a put, not stored
            "TRIMMED"
        };
        ctx.emit(outcome.to_owned(), 1);
        Ok(())
    }
}

impl Reduce for TrimUsernamesJob {
    type Key = String;
    type Value = u64;
    fn reduce(&self, outcome: String, ones: Values<'_, u64>, out: &mut Output) -> Outcome {
        out.json(&(outcome, ones.sum::<u64>()))
    }
}

/// Counts each author's explorations, by username. An author with no user settings fails;
/// up to 5 may before the run fails.
#[one_off_job(models = [ExplorationModel, UserSettingsModel], name = "ExplorationsPerAuthor", max_failures = 5)]
pub struct ExplorationsPerAuthorJob;

/// What [`ExplorationsPerAuthorJob`] learns about a user id from one model.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub enum AuthorPart {
    /// The user wrote an exploration.
    Exploration,
    /// The user's settings, with their username.
    Settings(Option<String>),
}

impl Map<ExplorationModel> for ExplorationsPerAuthorJob {
    fn map(&self, exploration: ExplorationModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(exploration.author_id, AuthorPart::Exploration);
        Ok(())
    }
}

impl Map<UserSettingsModel> for ExplorationsPerAuthorJob {
    fn map(&self, user: UserSettingsModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(user.user_id, AuthorPart::Settings(user.username));
        Ok(())
    }
}

impl Reduce for ExplorationsPerAuthorJob {
    type Key = String;
    type Value = AuthorPart;
    fn reduce(&self, user_id: String, parts: Values<'_, AuthorPart>, out: &mut Output) -> Outcome {
        let (mut explorations, mut settings) = (0_u64, None);
        for part in parts {
            match part {
                AuthorPart::Exploration => explorations += 1,
                AuthorPart::Settings(username) => settings = Some(username),
            }
        }
        match settings {
            _ if explorations == 0 => Ok(()), // a user who wrote nothing
            None => Err(Failure::new(format!("wrote {explorations} explorations but has no settings"))),
            Some(username) => out.json(&(username.unwrap_or(user_id), explorations)),
        }
    }
}
