//! Oppia-like models, ports of Oppia's one-off jobs, and a deterministic demo-data generator,
//! written with [`jobs_core`].
//!
//! * [`models`]: explorations, their rights, and user settings.
//! * [`exp_jobs_one_off`] and [`user_jobs_one_off`]: the jobs, in modules named as Oppia names
//!   them. Every job registers itself; `jobs list` shows them all.
//! * [`demo`]: fills a store with realistic data, the same for the same seed.
//!
//! Running a job on a store and reading its report:
//!
//! ```
//! use jobs_core::{MemoryStore, testing};
//! use jobs_examples::InteractionAuditOneOffJob;
//! use jobs_examples::models::{ExplorationModel, Interaction, State};
//!
//! let state = |interaction: &str| State {
//!     content: "Hello".into(),
//!     interaction: Interaction { id: interaction.into(), hints: vec![] },
//! };
//! let exploration = ExplorationModel {
//!     id: "exp1".into(),
//!     title: "Fractions".into(),
//!     category: "Mathematics".into(),
//!     deleted: false,
//!     created_on: 0,
//!     last_updated: 0,
//!     schema_version: jobs_examples::models::CURRENT_SCHEMA_VERSION,
//!     init_state_name: "Intro".into(),
//!     states: [("Intro".into(), state("TextInput")), ("End".into(), state("EndExploration"))].into(),
//! };
//!
//! let store = MemoryStore::new();
//! testing::put_all(&store, &[exploration])?;
//! let report = testing::run(&InteractionAuditOneOffJob, &store)?;
//! assert_eq!(report.output, [r#"["EndExploration",["exp1 End"]]"#, r#"["TextInput",["exp1 Intro"]]"#]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Or fill a store with demo data and run a job by name, as the `jobs` command does:
//!
//! ```
//! use jobs_core::{MemoryStore, Params, RunOptions};
//! use jobs_examples::demo::{self, SeedOptions};
//!
//! let store = MemoryStore::new();
//! demo::seed(&store, &SeedOptions { explorations: 100, users: 100, seed: 42 })?;
//! let job = jobs_core::registry()?.get("UsernameLengthDistributionOneOffJob")?;
//! let params = Params::parse_args(["min_length=10"])?;
//! let report = job.run(&store, &params, &RunOptions::default())?;
//! for line in &report.output {
//!     let (length, _users): (usize, u64) = serde_json::from_str(line)?; // e.g. [12,9]
//!     assert!(length >= 10);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod demo;
pub mod exp_jobs_one_off;
pub mod models;
pub mod user_jobs_one_off;

pub use exp_jobs_one_off::{
    ExplorationMigrationJob, ExplorationRightsConsistencyJob, ExplorationValidityJob, HintsAuditOneOffJob,
    InteractionAuditOneOffJob, ViewableExplorationsAuditJob,
};
pub use user_jobs_one_off::UsernameLengthDistributionOneOffJob;
