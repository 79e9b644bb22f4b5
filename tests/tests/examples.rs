//! The example jobs of `jobs-examples` on small hand-built stores, checked line by line, and the
//! demo-data generator's promises: determinism, and the advertised shares of odd entities.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use jobs_core::model::{decode, encode};
use jobs_core::store::{KeyRange, RedbStore};
use jobs_core::testing::{put_all, run};
use jobs_core::{FailureSite, MemoryStore, Model, Params, RunOptions, RunReport, Store, engine};
use jobs_examples::demo::{self, SeedOptions, SeedSummary};
use jobs_examples::models::{
    CURRENT_SCHEMA_VERSION, ExplorationModel, ExplorationRightsModel, Hint, Interaction, State, UserSettingsModel,
};
use jobs_examples::{
    ExplorationMigrationJob, ExplorationRightsConsistencyJob, ExplorationValidityJob, HintsAuditOneOffJob,
    InteractionAuditOneOffJob, UsernameLengthDistributionOneOffJob, ViewableExplorationsAuditJob,
};

// ---------------------------------------------------------------------------------------------
// Builders for hand-made entities.

fn state(interaction: &str, hints: usize) -> State {
    State {
        content: "Some content.".into(),
        interaction: Interaction {
            id: interaction.into(),
            hints: (1..=hints).map(|i| Hint { content: format!("Hint {i}.") }).collect(),
        },
    }
}

/// A current, valid exploration starting at `Intro` with the given `(name, interaction, hint
/// count)` states.
fn exploration(id: &str, states: &[(&str, &str, usize)]) -> ExplorationModel {
    ExplorationModel {
        id: id.into(),
        title: format!("Title of {id}"),
        category: "Mathematics".into(),
        deleted: false,
        created_on: 1_500_000_000_000,
        last_updated: 1_500_000_000_000,
        schema_version: CURRENT_SCHEMA_VERSION,
        init_state_name: "Intro".into(),
        states: states.iter().map(|&(name, interaction, hints)| (name.to_owned(), state(interaction, hints))).collect(),
    }
}

fn deleted(mut exploration: ExplorationModel) -> ExplorationModel {
    exploration.deleted = true;
    exploration
}

fn rights(id: &str, status: &str, viewable_if_private: bool) -> ExplorationRightsModel {
    ExplorationRightsModel { id: id.into(), status: status.into(), viewable_if_private }
}

fn user(id: &str, username: Option<&str>) -> UserSettingsModel {
    UserSettingsModel {
        id: id.into(),
        username: username.map(Into::into),
        email: format!("{id}@example.com"),
        created_on: 1_500_000_000_000,
        deleted: false,
    }
}

fn store_with<M: Model>(models: &[M]) -> MemoryStore {
    let store = MemoryStore::new();
    put_all(&store, models).expect("models are stored");
    store
}

fn get<M: Model>(store: &dyn Store, id: &str) -> M {
    let bytes = store.get(M::KIND, id).expect("store reads").expect("entity is stored");
    decode(&bytes).expect("entity decodes")
}

/// Every stored entity, as (kind, id, bytes), in kind then id order.
fn dump(store: &dyn Store) -> Vec<(String, String, Vec<u8>)> {
    let mut rows = Vec::new();
    for kind in store.kinds().expect("kinds") {
        store
            .scan(&kind, &KeyRange::all(), &mut |id, bytes| {
                rows.push((kind.clone(), id.to_owned(), bytes.to_vec()));
                ControlFlow::Continue(())
            })
            .expect("scan");
    }
    rows
}

fn all<M: Model>(store: &dyn Store) -> Vec<M> {
    let mut models = Vec::new();
    store
        .scan(M::KIND, &KeyRange::all(), &mut |_, bytes| {
            models.push(decode(bytes).expect("entity decodes"));
            ControlFlow::Continue(())
        })
        .expect("scan");
    models
}

fn entity_failures(report: &RunReport) -> Vec<(String, String, String)> {
    report
        .failures
        .iter()
        .map(|failure| match &failure.site {
            FailureSite::Entity { kind, id } => (kind.clone(), id.clone(), failure.message.clone()),
            FailureSite::Key { key } => panic!("unexpected reduce failure for key {key}: {}", failure.message),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// InteractionAuditOneOffJob

#[test]
fn interaction_audit_groups_states_by_interaction() {
    let store = store_with(&[
        exploration(
            "exp1",
            &[("Intro", "TextInput", 0), ("Question 1", "MultipleChoiceInput", 0), ("End", "EndExploration", 0)],
        ),
        exploration("exp2", &[("Intro", "TextInput", 0), ("End", "EndExploration", 0)]),
    ]);
    let report = run(&InteractionAuditOneOffJob, &store).expect("run");
    assert_eq!(
        report.output,
        [
            r#"["EndExploration",["exp1 End","exp2 End"]]"#,
            r#"["MultipleChoiceInput",["exp1 Question 1"]]"#,
            r#"["TextInput",["exp1 Intro","exp2 Intro"]]"#,
        ]
    );
    assert!(report.failures.is_empty());
    assert_eq!(report.stats.entities_read, 2);
}

#[test]
fn interaction_audit_skips_deleted_explorations() {
    let store = store_with(&[
        exploration("exp1", &[("Intro", "TextInput", 0)]),
        deleted(exploration("exp2", &[("Intro", "NumericInput", 0)])),
    ]);
    let report = run(&InteractionAuditOneOffJob, &store).expect("run");
    assert_eq!(report.output, [r#"["TextInput",["exp1 Intro"]]"#]);
    assert_eq!(report.stats.entities_read, 2);
}

#[test]
fn interaction_audit_output_is_the_same_for_any_shard_and_thread_count() {
    let store = MemoryStore::new();
    demo::seed(&store, &SeedOptions { explorations: 400, users: 0, seed: 3 }).expect("seed");
    let baseline = run(&InteractionAuditOneOffJob, &store).expect("run").output;
    assert!(baseline.len() >= 7, "every interaction of the demo data appears: {baseline:?}");
    for (shards, threads) in [(1, 1), (7, 2), (64, 3), (256, 1)] {
        let options = RunOptions::default().with_shards(shards).with_threads(threads);
        let report = engine::run(&InteractionAuditOneOffJob, &store, &options).expect("run");
        assert_eq!(report.output, baseline, "{shards} shards, {threads} threads");
    }
}

// ---------------------------------------------------------------------------------------------
// HintsAuditOneOffJob

#[test]
fn hints_audit_groups_states_with_hints_by_hint_count() {
    let store = store_with(&[
        exploration(
            "exp1",
            &[("Intro", "TextInput", 2), ("Question 1", "NumericInput", 1), ("End", "EndExploration", 0)],
        ),
        exploration("exp2", &[("Intro", "TextInput", 1), ("Question 1", "TextInput", 2)]),
        deleted(exploration("exp3", &[("Intro", "TextInput", 2)])),
    ]);
    let report = run(&HintsAuditOneOffJob, &store).expect("run");
    assert_eq!(report.output, [r#"[1,["exp1 Question 1","exp2 Intro"]]"#, r#"[2,["exp1 Intro","exp2 Question 1"]]"#]);
}

#[test]
fn hints_audit_orders_hint_counts_numerically() {
    let store = store_with(&[exploration("exp1", &[("A", "TextInput", 10), ("B", "TextInput", 9)])]);
    let report = run(&HintsAuditOneOffJob, &store).expect("run");
    assert_eq!(report.output, [r#"[9,["exp1 B"]]"#, r#"[10,["exp1 A"]]"#]);
}

// ---------------------------------------------------------------------------------------------
// UsernameLengthDistributionOneOffJob

#[test]
fn username_length_distribution_counts_characters_and_skips_users_without_username() {
    let store = store_with(&[
        user("u1", Some("ann")),
        user("u2", Some("bob")),
        user("u3", Some("Zoë")), // three characters, four bytes
        user("u4", Some("alexandra")),
        user("u5", None),
    ]);
    let report = run(&UsernameLengthDistributionOneOffJob { min_length: None }, &store).expect("run");
    assert_eq!(report.output, ["[3,3]", "[9,1]"]);
    assert_eq!(report.counters.get(jobs_examples::user_jobs_one_off::NO_USERNAME), 1);
}

#[test]
fn username_length_distribution_min_length_parameter_drops_shorter_names() {
    let store = store_with(&[user("u1", Some("ann")), user("u2", Some("alexandra")), user("u3", Some("bertrand"))]);
    let job = jobs_core::registry().expect("registry").get("UsernameLengthDistributionOneOffJob").expect("job");
    let params = Params::parse_args(["min_length=8"]).expect("params");
    let report = job.run(&store, &params, &RunOptions::default()).expect("run");
    assert_eq!(report.output, ["[8,1]", "[9,1]"]);

    let report = job.run(&store, &Params::new(), &RunOptions::default()).expect("run");
    assert_eq!(report.output, ["[3,1]", "[8,1]", "[9,1]"], "without the parameter every name counts");
}

#[test]
fn username_length_distribution_rejects_bad_parameters_before_running() {
    let job = jobs_core::registry().expect("registry").get("UsernameLengthDistributionOneOffJob").expect("job");
    let spec = job.params();
    assert_eq!(spec.len(), 1);
    assert_eq!(spec[0].name, "min_length");
    assert!(!spec[0].required);

    let error = job.check_params(&Params::parse_args(["min_length=short"]).expect("params")).unwrap_err();
    assert!(error.to_string().contains("min_length"), "{error}");
    let error = job.check_params(&Params::parse_args(["min_len=3"]).expect("params")).unwrap_err();
    assert!(error.to_string().contains("min_len"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// ViewableExplorationsAuditJob

#[test]
fn viewable_explorations_audit_lists_private_explorations_viewable_by_link() {
    let store = MemoryStore::new();
    let mut viewable = exploration("e1", &[("Intro", "TextInput", 0)]);
    viewable.title = "Fractions \"½\"".into();
    put_all(
        &store,
        &[
            viewable,
            exploration("e2", &[("Intro", "TextInput", 0)]),
            exploration("e3", &[("Intro", "TextInput", 0)]),
            deleted(exploration("e4", &[("Intro", "TextInput", 0)])),
        ],
    )
    .expect("put");
    put_all(
        &store,
        &[
            rights("e1", "private", true),
            rights("e2", "private", false),
            rights("e3", "public", true),
            rights("e4", "private", true),
        ],
    )
    .expect("put");
    let report = run(&ViewableExplorationsAuditJob, &store).expect("run");
    assert_eq!(report.output, [r#"["e1","Fractions \"½\""]"#]);
    assert!(report.failures.is_empty());
}

#[test]
fn viewable_explorations_audit_reports_rights_without_exploration_as_failures() {
    let store = MemoryStore::new();
    put_all(&store, &[exploration("e1", &[("Intro", "TextInput", 0)])]).expect("put");
    put_all(&store, &[rights("e1", "private", true), rights("e9", "private", true)]).expect("put");
    let report = run(&ViewableExplorationsAuditJob, &store).expect("run");
    assert_eq!(report.output, [r#"["e1","Title of e1"]"#]);
    assert_eq!(
        entity_failures(&report),
        [(
            "ExplorationRightsModel".to_owned(),
            "e9".to_owned(),
            "exploration e9 has rights but is not stored".to_owned()
        )]
    );
    assert_eq!(report.stats.failures, 1);
}

// ---------------------------------------------------------------------------------------------
// ExplorationValidityJob

#[test]
fn exploration_validity_reports_one_line_per_problem() {
    let mut bad_init = exploration("e2", &[("Intro", "TextInput", 0), ("Question 1", "", 0)]);
    bad_init.init_state_name = "Start".into();
    let mut broken_deleted = deleted(exploration("e4", &[("Intro", "", 0)]));
    broken_deleted.init_state_name = "Nowhere".into();
    let store = store_with(&[
        exploration("e1", &[("Intro", "TextInput", 0), ("End", "EndExploration", 0)]),
        bad_init,
        exploration("e3", &[("Intro", "", 0), ("B", "", 1)]),
        broken_deleted,
    ]);
    let report = run(&ExplorationValidityJob, &store).expect("run");
    assert_eq!(
        report.output,
        [
            r#"["e2","init state Start is not a state"]"#,
            r#"["e2","state Question 1 has no interaction"]"#,
            r#"["e3","state B has no interaction"]"#,
            r#"["e3","state Intro has no interaction"]"#,
        ]
    );
}

#[test]
fn exploration_validity_reports_nothing_for_valid_explorations() {
    let store = store_with(&[exploration("e1", &[("Intro", "TextInput", 0), ("End", "EndExploration", 0)])]);
    let report = run(&ExplorationValidityJob, &store).expect("run");
    assert_eq!(report.output, Vec::<String>::new());
    assert_eq!(report.stats.entities_read, 1);
}

// ---------------------------------------------------------------------------------------------
// ExplorationMigrationJob

/// A version-1 exploration with every defect a later version repairs.
fn old_exploration(id: &str) -> ExplorationModel {
    let mut old = exploration(id, &[("Intro", "Continue", 1), ("Question 1", "TextInput", 2)]);
    old.schema_version = 1;
    old.title = "  Fractions   for beginners ".into();
    for state in old.states.values_mut() {
        state.content = "\n  Some content. ".into();
        state.interaction.hints.push(Hint { content: "   ".into() });
    }
    old
}

fn migration_store() -> MemoryStore {
    let mut version_3 = exploration("e3", &[("Intro", "Continue", 1)]);
    version_3.schema_version = 3;
    version_3.title = " Spaced  title ".into();
    let mut newer = exploration("e5", &[("Intro", "TextInput", 0)]);
    newer.schema_version = CURRENT_SCHEMA_VERSION + 1;
    let mut old_deleted = deleted(old_exploration("e4"));
    old_deleted.title = "Deleted".into();
    store_with(&[old_exploration("e1"), exploration("e2", &[("Intro", "TextInput", 1)]), version_3, old_deleted, newer])
}

#[test]
fn exploration_migration_upgrades_old_explorations_and_stores_them() {
    let store = migration_store();
    let untouched: Vec<_> = ["e2", "e4", "e5"].iter().map(|id| store.get("ExplorationModel", id).unwrap()).collect();

    let report = run(&ExplorationMigrationJob, &store).expect("run");
    assert_eq!(report.output, [r#"["ALREADY_CURRENT",1]"#, r#"["MIGRATED",2]"#]);
    assert_eq!(report.counters.get("MIGRATED"), 2);
    assert_eq!(report.counters.get("ALREADY_CURRENT"), 1);
    assert_eq!(report.counters.get("DELETED_SKIPPED"), 1);
    assert_eq!(report.counters.get(engine::counter::PUTS), 2);
    assert_eq!(report.stats.writes_committed, 2);

    // Version 1: every step ran.
    let mut expected = exploration("e1", &[("Intro", "Continue", 0), ("Question 1", "TextInput", 2)]);
    expected.title = "Fractions for beginners".into();
    assert_eq!(get::<ExplorationModel>(&store, "e1"), expected);

    // Version 3: only the steps from 3 on ran; content it never had to trim stays as stored.
    let migrated = get::<ExplorationModel>(&store, "e3");
    assert_eq!(migrated.schema_version, CURRENT_SCHEMA_VERSION);
    assert_eq!(migrated.title, "Spaced title");
    assert_eq!(migrated.states["Intro"].interaction.hints, []);

    // Current, deleted and newer explorations are not written.
    let after: Vec<_> = ["e2", "e4", "e5"].iter().map(|id| store.get("ExplorationModel", id).unwrap()).collect();
    assert_eq!(after, untouched);
}

#[test]
fn exploration_migration_reports_newer_schema_versions_as_failures() {
    let store = migration_store();
    let report = run(&ExplorationMigrationJob, &store).expect("run");
    let failures = entity_failures(&report);
    assert_eq!(failures.len(), 1);
    assert_eq!((failures[0].0.as_str(), failures[0].1.as_str()), ("ExplorationModel", "e5"));
    assert!(failures[0].2.contains("schema version 6 is newer"), "{}", failures[0].2);
}

#[test]
fn exploration_migration_converges_when_run_twice() {
    let store = migration_store();
    run(&ExplorationMigrationJob, &store).expect("first run");
    let after_first = dump(&store);

    let report = run(&ExplorationMigrationJob, &store).expect("second run");
    assert_eq!(report.output, [r#"["ALREADY_CURRENT",3]"#]);
    assert_eq!(report.counters.get("MIGRATED"), 0);
    assert_eq!(report.counters.get(engine::counter::PUTS), 0);
    assert_eq!(dump(&store), after_first);
}

#[test]
fn exploration_migration_dry_run_counts_but_writes_nothing() {
    let store = migration_store();
    let before = dump(&store);
    let options = RunOptions::default().with_dry_run(true);
    let report = engine::run(&ExplorationMigrationJob, &store, &options).expect("run");
    assert_eq!(report.output, [r#"["ALREADY_CURRENT",1]"#, r#"["MIGRATED",2]"#]);
    assert_eq!(report.counters.get(engine::counter::PUTS), 2);
    assert_eq!(report.stats.writes_committed, 0);
    assert_eq!(dump(&store), before);
}

// ---------------------------------------------------------------------------------------------
// ExplorationRightsConsistencyJob

#[test]
fn exploration_rights_consistency_reports_unmatched_models() {
    let store = MemoryStore::new();
    put_all(
        &store,
        &[exploration("e1", &[("Intro", "TextInput", 0)]), deleted(exploration("e2", &[("Intro", "TextInput", 0)]))],
    )
    .expect("put");
    put_all(&store, &[rights("e1", "public", false), rights("e3", "private", false)]).expect("put");
    let report = run(&ExplorationRightsConsistencyJob, &store).expect("run");
    assert_eq!(report.output, [r#"["e2","no rights"]"#, r#"["e3","no exploration"]"#]);
    assert_eq!(report.stats.entities_read, 4);
}

// ---------------------------------------------------------------------------------------------
// Registry

#[test]
fn registry_lists_every_example_job_with_its_models_and_shards() {
    let registry = jobs_core::registry().expect("registry");
    let expected: [(&str, &[&str], usize); 7] = [
        ("ExplorationMigrationJob", &["ExplorationModel"], 8),
        ("ExplorationRightsConsistencyJob", &["ExplorationModel", "ExplorationRightsModel"], 16),
        ("ExplorationValidityJob", &["ExplorationModel"], 8),
        ("HintsAuditOneOffJob", &["ExplorationModel"], 8),
        ("InteractionAuditOneOffJob", &["ExplorationModel"], 64),
        ("UsernameLengthDistributionOneOffJob", &["UserSettingsModel"], 8),
        ("ViewableExplorationsAuditJob", &["ExplorationRightsModel"], 8),
    ];
    for (name, models, shards) in expected {
        let job = registry.get(name).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(job.models(), models, "{name}");
        assert_eq!(job.default_shards(), shards, "{name}");
        assert!(!job.summary().is_empty(), "{name} has a description");
        assert!(job.module_path().starts_with("jobs_examples::"), "{name}: {}", job.module_path());
    }
    let from_examples = registry.jobs().iter().filter(|job| job.module_path().starts_with("jobs_examples::")).count();
    assert_eq!(from_examples, expected.len(), "a new example job should be added to this test");
    assert_eq!(
        registry.get("InteractionAuditOneOffJob").expect("job").summary(),
        "Produces a list of (exploration, state) pairs, grouped by the interaction they use."
    );
}

// ---------------------------------------------------------------------------------------------
// Demo data

fn seeded(options: &SeedOptions, threads: usize) -> (MemoryStore, SeedSummary) {
    let store = MemoryStore::new();
    let summary = demo::seed_with_threads(&store, options, threads).expect("seed");
    (store, summary)
}

#[test]
fn seed_defaults_are_a_thousand_of_each_from_seed_42() {
    assert_eq!(SeedOptions::default(), SeedOptions { explorations: 1_000, users: 1_000, seed: 42 });
}

#[test]
fn seeding_writes_what_its_summary_says() {
    let options = SeedOptions { explorations: 6_001, users: 5_003, seed: 1 };
    let (store, summary) = seeded(&options, 2);
    assert_eq!(summary, SeedSummary { explorations: 6_001, rights: 6_001, users: 5_003 });
    assert_eq!(store.count(ExplorationModel::KIND).unwrap(), 6_001);
    assert_eq!(store.count(ExplorationRightsModel::KIND).unwrap(), 6_001);
    assert_eq!(store.count(UserSettingsModel::KIND).unwrap(), 5_003);
    // Every exploration has its rights, and nothing else does.
    let report = run(&ExplorationRightsConsistencyJob, &store).expect("run");
    assert_eq!(report.output, Vec::<String>::new());
    assert_eq!(report.stats.entities_read, 12_002);
}

#[test]
fn seeding_twice_with_the_same_seed_gives_identical_stores_whatever_the_thread_count() {
    let options = SeedOptions { explorations: 3_000, users: 700, seed: 42 };
    let (first, _) = seeded(&options, 1);
    let (second, _) = seeded(&options, 3);
    let (first, second) = (dump(&first), dump(&second));
    assert_eq!(first.len(), 3_000 + 3_000 + 700);
    assert!(first == second, "the same seed gave different stores");
}

#[test]
fn seeding_with_another_seed_gives_different_data() {
    let (first, _) = seeded(&SeedOptions { explorations: 50, users: 50, seed: 1 }, 2);
    let (second, _) = seeded(&SeedOptions { explorations: 50, users: 50, seed: 2 }, 2);
    let ids = |store: &MemoryStore| dump(store).into_iter().map(|(_, id, _)| id).collect::<BTreeSet<_>>();
    assert!(ids(&first).is_disjoint(&ids(&second)), "different seeds share ids");
    assert_ne!(all::<UserSettingsModel>(&first), all::<UserSettingsModel>(&second));
}

#[test]
fn seeding_a_redb_store_stores_the_same_bytes_as_a_memory_store() {
    let options = SeedOptions { explorations: 300, users: 300, seed: 9 };
    let dir = tempfile::tempdir().expect("tempdir");
    let redb = RedbStore::open(dir.path().join("demo.redb")).expect("open");
    demo::seed(&redb, &options).expect("seed");
    let (memory, _) = seeded(&options, 2);
    assert!(dump(&redb) == dump(&memory), "the stored bytes differ between stores");
}

fn share(count: usize, total: usize) -> f64 {
    count as f64 / total as f64
}

#[test]
fn demo_data_has_the_advertised_shares_of_odd_entities() {
    let (store, _) = seeded(&SeedOptions { explorations: 10_000, users: 10_000, seed: 42 }, 2);
    let explorations: Vec<ExplorationModel> = all(&store);
    let users: Vec<UserSettingsModel> = all(&store);

    let deleted = explorations.iter().filter(|e| e.deleted).count();
    let old = explorations.iter().filter(|e| e.schema_version < CURRENT_SCHEMA_VERSION).count();
    let invalid = explorations
        .iter()
        .filter(|e| {
            !e.states.contains_key(&e.init_state_name) || e.states.values().any(|s| s.interaction.id.is_empty())
        })
        .count();
    let no_username = users.iter().filter(|u| u.username.is_none()).count();

    let deleted = share(deleted, explorations.len());
    let old = share(old, explorations.len());
    let invalid = share(invalid, explorations.len());
    let no_username = share(no_username, users.len());
    assert!((0.04..0.06).contains(&deleted), "deleted: {deleted}");
    assert!((0.18..0.22).contains(&old), "old schema: {old}");
    assert!((0.006..0.014).contains(&invalid), "invalid: {invalid}");
    assert!((0.08..0.12).contains(&no_username), "no username: {no_username}");

    // The validity job finds the invalid explorations that are not deleted.
    let report = run(&ExplorationValidityJob, &store).expect("run");
    let reported: BTreeSet<String> = report
        .output
        .iter()
        .map(|line| serde_json::from_str::<(String, String)>(line).expect("line is [id, problem]").0)
        .collect();
    let expected: BTreeSet<String> = explorations
        .iter()
        .filter(|e| !e.deleted)
        .filter(|e| {
            !e.states.contains_key(&e.init_state_name) || e.states.values().any(|s| s.interaction.id.is_empty())
        })
        .map(|e| e.id.clone())
        .collect();
    assert_eq!(reported, expected);
}

#[test]
fn demo_explorations_look_like_oppias() {
    let (store, _) = seeded(&SeedOptions { explorations: 2_000, users: 2_000, seed: 5 }, 2);
    let known = [
        "TextInput",
        "MultipleChoiceInput",
        "NumericInput",
        "Continue",
        "EndExploration",
        "ItemSelectionInput",
        "DragAndDropSortInput",
    ];
    let mut interactions = BTreeMap::<String, usize>::new();
    let mut bytes = 0;
    let rows = dump(&store);
    for (kind, id, stored) in &rows {
        if kind != ExplorationModel::KIND {
            continue;
        }
        bytes += stored.len();
        let exploration: ExplorationModel = decode(stored).expect("decodes");
        assert_eq!(&exploration.id, id);
        assert_eq!(id.len(), 12, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{id}");
        assert!((3..=8).contains(&exploration.states.len()), "{id}: {} states", exploration.states.len());
        assert!(exploration.states.contains_key("Introduction") && exploration.states.contains_key("End"));
        assert!(exploration.last_updated >= exploration.created_on);
        for state in exploration.states.values() {
            let interaction = &state.interaction;
            assert!(interaction.id.is_empty() || known.contains(&interaction.id.as_str()), "{}", interaction.id);
            assert!(interaction.hints.len() <= 4, "{id}: {} hints", interaction.hints.len());
            *interactions.entry(interaction.id.clone()).or_default() += 1;
        }
    }
    for interaction in known {
        assert!(interactions.get(interaction).copied().unwrap_or(0) > 50, "{interaction}: {interactions:?}");
    }
    let average = bytes / 2_000;
    assert!((1_500..=2_600).contains(&average), "an exploration takes {average} bytes on average");

    let users: Vec<UserSettingsModel> = all(&store);
    let lengths: BTreeSet<usize> =
        users.iter().filter_map(|u| u.username.as_ref()).map(|u| u.chars().count()).collect();
    assert!(lengths.len() >= 15, "username lengths vary: {lengths:?}");
    assert!(lengths.iter().all(|len| (3..=24).contains(len)), "{lengths:?}");
    for user in &users {
        assert!(user.id.starts_with("uid_") && user.id.len() == 36, "{}", user.id);
        assert!(user.id[4..].bytes().all(|b| b.is_ascii_lowercase()), "{}", user.id);
    }
}

#[test]
fn migrating_demo_data_repairs_every_old_exploration() {
    let (store, _) = seeded(&SeedOptions { explorations: 2_000, users: 0, seed: 11 }, 2);
    // Among the demo data, one old exploration whose migration is written out by hand below,
    // not computed with the code under test.
    put_all(&store, &[old_exploration("hand-made")]).expect("put");
    let before: Vec<ExplorationModel> = all(&store);
    let report = run(&ExplorationMigrationJob, &store).expect("run");
    assert!(report.failures.is_empty(), "{:?}", report.failures);

    let old_live = before.iter().filter(|e| !e.deleted && e.schema_version < CURRENT_SCHEMA_VERSION).count();
    let current_live = before.iter().filter(|e| !e.deleted && e.schema_version == CURRENT_SCHEMA_VERSION).count();
    assert_eq!(
        report.output,
        [format!(r#"["ALREADY_CURRENT",{current_live}]"#), format!(r#"["MIGRATED",{old_live}]"#)]
    );

    for (old, new) in before.iter().zip(all::<ExplorationModel>(&store)) {
        if old.deleted {
            assert_eq!(&new, old, "deleted explorations are left alone");
            continue;
        }
        let mut expected = old.clone();
        expected.migrate_to_current_schema().expect("migrates");
        assert_eq!(new, expected);
        // What the demo data breaks in old versions is repaired.
        assert_eq!(new.title, new.title.split_whitespace().collect::<Vec<_>>().join(" "));
        for state in new.states.values() {
            assert_eq!(state.content, state.content.trim());
            assert!(state.interaction.hints.iter().all(|hint| !hint.content.trim().is_empty()));
            if matches!(state.interaction.id.as_str(), "Continue" | "EndExploration") {
                assert!(state.interaction.hints.is_empty());
            }
        }
    }
    let mut by_hand = exploration("hand-made", &[("Intro", "Continue", 0), ("Question 1", "TextInput", 2)]);
    by_hand.title = "Fractions for beginners".into();
    assert_eq!(get::<ExplorationModel>(&store, "hand-made"), by_hand);
}

#[test]
fn models_decode_when_defaulted_fields_are_missing() {
    #[derive(serde::Serialize)]
    struct OldUser {
        id: String,
        email: String,
        created_on: i64,
    }
    let bytes = encode(&OldUser { id: "u1".into(), email: "a@example.com".into(), created_on: 5 }).expect("encode");
    let user: UserSettingsModel = decode(&bytes).expect("decode");
    let expected = UserSettingsModel {
        id: "u1".into(),
        username: None,
        email: "a@example.com".into(),
        created_on: 5,
        deleted: false,
    };
    assert_eq!(user, expected);
}

/// Measures seeding a million explorations (with their rights) into a redb file, and checks
/// that they are all there. Run with
/// `cargo test --release -p jobs-tests --test examples -- --ignored --nocapture`.
#[test]
#[ignore = "writes about 3 GB; run in release when measuring"]
fn seeding_a_million_explorations_into_redb_stores_them_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("demo.redb");
    let store = RedbStore::open(&path).expect("open");
    let started = std::time::Instant::now();
    let summary = demo::seed(&store, &SeedOptions { explorations: 1_000_000, users: 0, seed: 42 }).expect("seed");
    let elapsed = started.elapsed();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("seeded {summary:?} in {elapsed:.1?}; the store takes {} MB", size / 1_000_000);
    assert_eq!(summary, SeedSummary { explorations: 1_000_000, rights: 1_000_000, users: 0 });
    assert_eq!(store.count(ExplorationModel::KIND).expect("count"), 1_000_000);
}
