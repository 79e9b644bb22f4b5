//! A crate of jobs that depends on jobs-core as `jc` (see its `Cargo.toml`): `#[one_off_job]`
//! and `#[derive(Model)]` find that name in the manifest, so the generated code names `::jc`.
//! A second model and job reach jobs-core through a facade module instead, with the
//! `crate = "..."` key, as a crate would that depends only on an application crate re-exporting
//! jobs-core.

use jc::prelude::*;

/// Stands for an application crate that re-exports jobs-core: `pub use jobs_core;`.
pub mod facade {
    pub use jc as jobs_core;
}

/// A stored exploration.
#[derive(Model, Serialize, Deserialize, Clone, Debug)]
pub struct ExplorationModel {
    /// The exploration's id.
    pub id: String,
    /// Its title.
    pub title: String,
}

/// Counts explorations by the first letter of their title.
#[one_off_job(models = [ExplorationModel], shards = 2)]
pub struct TitleInitials;

impl Map<ExplorationModel> for TitleInitials {
    fn map(&self, exploration: ExplorationModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
        let initial = exploration.title.chars().next().map(String::from).unwrap_or_default();
        ctx.emit(initial, 1);
        Ok(())
    }
}

impl Reduce for TitleInitials {
    type Key = String;
    type Value = u64;
    fn reduce(&self, initial: String, ones: Values<'_, u64>, out: &mut Output) -> Outcome {
        out.json(&(initial, ones.sum::<u64>()))
    }
}

/// A stored user, defined through the facade's path.
#[derive(Model, Serialize, Deserialize, Clone, Debug)]
#[model(crate = "crate::facade::jobs_core")]
pub struct UserModel {
    /// The user's id.
    #[model(id)]
    pub user_id: String,
}

/// Lists every user id, with the job's attribute naming jobs-core through the facade.
#[one_off_job(crate = "crate::facade::jobs_core", models = [UserModel], name = "UserIds")]
pub struct UserIdsJob {
    /// Prefixed to every id written (a raw identifier: the parameter is `type`).
    pub r#type: Option<String>,
}

impl Map<UserModel> for UserIdsJob {
    fn map(&self, user: UserModel, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(user.user_id, ());
        Ok(())
    }
}

impl Reduce for UserIdsJob {
    type Key = String;
    type Value = ();
    fn reduce(&self, id: String, _: Values<'_, ()>, out: &mut Output) -> Outcome {
        out.line(format!("{}{id}", self.r#type.as_deref().unwrap_or("")));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use jc::{MemoryStore, Params, registry, testing};

    use super::*;

    #[test]
    fn jobs_register_and_run_under_a_renamed_jobs_core() {
        let job = registry().unwrap().get("TitleInitials").unwrap();
        assert_eq!(job.models(), ["ExplorationModel"]);
        let store = MemoryStore::new();
        let exploration = |id: &str, title: &str| ExplorationModel { id: id.into(), title: title.into() };
        testing::put_all(&store, &[exploration("e1", "Algebra"), exploration("e2", "Arcs"), exploration("e3", "Bees")])
            .unwrap();
        let report = testing::run(&TitleInitials, &store).unwrap();
        assert_eq!(report.output, [r#"["A",2]"#, r#"["B",1]"#]);
    }

    #[test]
    fn jobs_register_and_run_through_a_facade_path() {
        let job = registry().unwrap().get("UserIds").unwrap();
        assert_eq!(job.models(), ["UserModel"]);
        assert_eq!(job.params().iter().map(|p| p.name).collect::<Vec<_>>(), ["type"]);
        assert!(job.check_params(&Params::parse_args(["type=user:"]).unwrap()).is_ok());
        let store = MemoryStore::new();
        testing::put_all(&store, &[UserModel { user_id: "u2".into() }, UserModel { user_id: "u1".into() }]).unwrap();
        let report = testing::run(&UserIdsJob { r#type: Some("user:".into()) }, &store).unwrap();
        assert_eq!(report.output, ["user:u1", "user:u2"]);
    }
}
