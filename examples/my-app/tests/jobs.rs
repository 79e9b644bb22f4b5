//! The jobs of `my-app`, tested with `jobs_core::testing` over a store in memory.

use jobs_core::{MemoryStore, RunOptions, testing};
use my_app::{ExplorationModel, ExplorationsPerAuthorJob, TrimUsernamesJob, UserSettingsModel};

fn user(id: &str, username: Option<&str>) -> UserSettingsModel {
    UserSettingsModel { user_id: id.into(), username: username.map(Into::into) }
}

fn exploration(id: &str, author_id: &str) -> ExplorationModel {
    ExplorationModel { id: id.into(), title: format!("Exploration {id}"), author_id: author_id.into() }
}

#[test]
fn the_parameter_is_given_as_text_and_checked() {
    let store = MemoryStore::new();
    testing::put_all(&store, &[user("u1", Some("ann")), user("u2", Some("bo")), user("u3", None)]).unwrap();

    let report = testing::run_named(&store, "UsernameLengths", ["min_len=3"], &RunOptions::default()).unwrap();
    assert_eq!(report.output, ["[3,1]"]);
    testing::assert_counters(&report.counters, &[("too short", 1), ("no username", 1)]);

    let missing = testing::run_named(&store, "UsernameLengths", [""; 0], &RunOptions::default()).unwrap_err();
    assert!(missing.to_string().contains("min_len"), "{missing}");
}

#[test]
fn the_migration_trims_and_stores_the_users_it_changed() {
    let store = MemoryStore::new();
    testing::put_all(&store, &[user("u1", Some(" ann ")), user("u2", Some("bo"))]).unwrap();

    let dry_run = testing::run_with(&TrimUsernamesJob, &store, &RunOptions::default().with_dry_run(true)).unwrap();
    testing::assert_counters(&dry_run.counters, &[("puts", 1)]);
    assert_eq!(testing::get::<UserSettingsModel>(&store, "u1").unwrap(), Some(user("u1", Some(" ann "))));

    let report = testing::run(&TrimUsernamesJob, &store).unwrap();
    assert_eq!(report.output, [r#"["TRIMMED",1]"#, r#"["UNCHANGED",1]"#]);
    assert_eq!(testing::get::<UserSettingsModel>(&store, "u1").unwrap(), Some(user("u1", Some("ann"))));
    assert_eq!(testing::get::<UserSettingsModel>(&store, "u2").unwrap(), Some(user("u2", Some("bo"))));
}

#[test]
fn an_author_without_settings_fails_and_the_others_are_reported() {
    let store = MemoryStore::new();
    testing::put_all(&store, &[user("u1", Some("ann")), user("u2", None), user("u3", Some("cy"))]).unwrap();
    testing::put_all(&store, &[exploration("e1", "u1"), exploration("e2", "u1"), exploration("e3", "u2")]).unwrap();
    testing::put_all(&store, &[exploration("e4", "u9")]).unwrap();

    let report = testing::run(&ExplorationsPerAuthorJob, &store).unwrap();
    assert_eq!(report.output, [r#"["ann",2]"#, r#"["u2",1]"#], "by username, or by id without one");
    testing::assert_failures(&report.failures, &[r#"reduce key "u9": wrote 1 explorations but has no settings"#]);
    assert!(!report.exceeds_failure_limit(), "up to 5 may fail");

    let strict = RunOptions::default().with_max_failures(0);
    assert!(testing::run_with(&ExplorationsPerAuthorJob, &store, &strict).unwrap().exceeds_failure_limit());
}
