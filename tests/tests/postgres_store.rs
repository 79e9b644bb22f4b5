//! The PostgreSQL store against the in-memory one on the same demo data: the same stored
//! bytes in the same id order, and every example job's output identical for any shard count.
//!
//! The server comes from `JOBS_TEST_POSTGRES_URL` (`.ci/postgres` starts one); each test uses
//! a schema of its own. Without `JOBS_TEST_POSTGRES_URL` (or `CI`) set when they are built,
//! they are reported `ignored`; a test that runs fails when the server is not reachable.

use std::ops::ControlFlow;

use jobs_core::store::KeyRange;
use jobs_core::testing::postgres_server::test_schema;
use jobs_core::{MemoryStore, Params, RunOptions, Store, registry};
use jobs_examples::demo::{self, SeedOptions};

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

#[test]
#[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
fn a_seeded_postgres_store_holds_the_same_bytes_and_gives_the_same_output_as_memory() {
    let schema = test_schema("a_seeded_postgres_store_holds_the_same_bytes_and_gives_the_same_output_as_memory");
    let postgres = schema.open().expect("the store opens");
    let memory = MemoryStore::new();
    let options = SeedOptions { explorations: 400, users: 200, seed: 5 };
    demo::seed(&postgres, &options).expect("seed PostgreSQL");
    demo::seed(&memory, &options).expect("seed memory");
    assert!(dump(&postgres) == dump(&memory), "the stored bytes or their order differ between stores");

    let registry = registry().expect("the registry");
    // Read-only jobs: the migration would rewrite the stores between runs.
    for name in [
        "InteractionAuditOneOffJob",
        "UsernameLengthDistributionOneOffJob",
        "HintsAuditOneOffJob",
        "ViewableExplorationsAuditJob",
        "ExplorationValidityJob",
    ] {
        let job = registry.get(name).expect("an example job");
        let expected = job.run(&memory, &Params::new(), &RunOptions::default()).expect("runs over memory");
        assert!(!expected.output.is_empty(), "{name} printed nothing");
        for shards in [1, 7, 64, 256] {
            let options = RunOptions::default().with_shards(shards).with_threads(2);
            let report = job.run(&postgres, &Params::new(), &options).expect("runs over PostgreSQL");
            assert_eq!(report.output, expected.output, "{name}, {shards} shards");
            assert_eq!(report.stats.entities_read, expected.stats.entities_read, "{name}, {shards} shards");
        }
    }
    drop(postgres);
}

#[test]
#[cfg_attr(jobs_no_test_postgres, ignore = "needs PostgreSQL: set JOBS_TEST_POSTGRES_URL")]
fn a_migration_over_postgres_rewrites_the_same_models_as_over_memory() {
    let schema = test_schema("a_migration_over_postgres_rewrites_the_same_models_as_over_memory");
    let postgres = schema.open().expect("the store opens");
    let memory = MemoryStore::new();
    let options = SeedOptions { explorations: 300, users: 10, seed: 11 };
    demo::seed(&postgres, &options).expect("seed PostgreSQL");
    demo::seed(&memory, &options).expect("seed memory");
    let before = dump(&memory);
    let migration = registry().expect("the registry").get("ExplorationMigrationJob").expect("the migration");
    let run = RunOptions::default().with_shards(16).with_threads(2);
    let over_memory = migration.run(&memory, &Params::new(), &run).expect("runs over memory");
    let over_postgres = migration.run(&postgres, &Params::new(), &run).expect("runs over PostgreSQL");
    assert_eq!(over_postgres.output, over_memory.output);
    let after = dump(&memory);
    assert!(after != before, "the migration rewrote some models");
    assert!(dump(&postgres) == after, "the migrated models differ between stores");
    drop(postgres);
}
