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

#[cfg(test)]
mod tests {
    use jobs_core::{MemoryStore, Params, registry, testing};

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
}
