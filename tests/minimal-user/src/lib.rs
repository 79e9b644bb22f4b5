//! A crate of jobs as an application would write it, with `jobs-core` and `serde` as its only
//! dependencies: if the code that `#[one_off_job]` and `#[derive(Model)]` generate named any
//! other crate, this crate would not compile.

use jobs_core::prelude::*;

/// A stored user, as in Oppia's `UserSettingsModel`.
#[derive(Model, Serialize, Deserialize, Clone, Debug)]
pub struct UserSettingsModel {
    /// The user's id.
    #[model(id)]
    pub user_id: String,
    /// The chosen username, if any.
    pub username: Option<String>,
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

#[cfg(test)]
mod tests {
    use jobs_core::{MemoryStore, Params, Store, registry, testing};

    use super::*;

    #[test]
    fn the_job_registers_and_runs_with_nothing_but_jobs_core_and_serde() {
        let job = registry().unwrap().get("UsernameLengths").unwrap();
        assert_eq!(job.models(), ["UserSettingsModel"]);
        assert_eq!(job.default_shards(), 4);
        assert_eq!(job.summary(), "Counts users by username length, from `min_len` up.");
        assert!(job.check_params(&Params::parse_args(["min_len=2"]).unwrap()).is_ok());
        assert!(job.check_params(&Params::new()).is_err(), "min_len is required");

        let store = MemoryStore::new();
        let user =
            |id: &str, name: Option<&str>| UserSettingsModel { user_id: id.into(), username: name.map(Into::into) };
        testing::put_all(&store, &[user("u1", Some("ann")), user("u2", Some("bo")), user("u3", None)]).unwrap();
        let report = testing::run(&UsernameLengthJob { min_len: 3 }, &store).unwrap();
        assert_eq!(report.output, ["[3,1]"]);
    }

    #[test]
    fn the_migration_trims_and_stores_the_users_it_changed() {
        let store = MemoryStore::new();
        let user = |id: &str, name: &str| UserSettingsModel { user_id: id.into(), username: Some(name.into()) };
        testing::put_all(&store, &[user("u1", " ann "), user("u2", "bo")]).unwrap();

        let report = testing::run(&TrimUsernamesJob, &store).unwrap();
        assert_eq!(report.output, [r#"["TRIMMED",1]"#, r#"["UNCHANGED",1]"#]);

        let bytes = store.get(UserSettingsModel::KIND, "u1").unwrap().expect("u1 is stored");
        let u1: UserSettingsModel = jobs_core::model::decode(&bytes).unwrap();
        assert_eq!(u1.username.as_deref(), Some("ann"));
    }
}
