//! Two jobs with the same name from different crates cannot be caught by the compiler; the
//! registry reports them, naming both places, the first time it is read.
//!
//! This test binary registers a second descriptor for a job under the same name, as a second
//! crate defining a job of that name would, and a second model of the kind `Thing`, as a second
//! crate defining a model of that kind would.

use jobs_core::__private::{JobDescriptor, ModelDescriptor, inventory};
use jobs_core::prelude::*;
use jobs_core::registry;
use jobs_core::registry::RegistryError;

#[derive(Model, Serialize, Deserialize)]
pub struct Thing {
    id: String,
}

/// A job defined once here with the attribute.
#[one_off_job(models = [Thing])]
pub struct SameName;

impl Map<Thing> for SameName {
    fn map(&self, _item: Thing, _ctx: &mut MapContext<'_, Self>) -> Outcome {
        Ok(())
    }
}

impl Reduce for SameName {
    type Key = String;
    type Value = u8;
    fn reduce(&self, _key: String, _values: Values<'_, u8>, _out: &mut Output) -> Outcome {
        Ok(())
    }
}

inventory::submit! {
    JobDescriptor::__of::<SameName>("", "other_crate::jobs", "other_crate/src/jobs.rs", 7)
}

inventory::submit! {
    ModelDescriptor::__new::<Thing>("OtherThing", "other_crate::models", "other_crate/src/models.rs", 3)
}

#[test]
fn a_duplicate_model_kind_is_reported_with_both_types_and_places() {
    let (kind, first, second) = jobs_core::model::duplicate_kind(inventory::iter::<ModelDescriptor>).unwrap();
    assert_eq!(kind, "Thing");
    assert_eq!(first, "other_crate/src/models.rs:3 (`OtherThing` in other_crate::models)");
    assert!(second.starts_with("tests/tests/registry_duplicates.rs:"), "{second}");
    assert!(second.ends_with("(`Thing` in registry_duplicates)"), "{second}");
    let message = RegistryError::DuplicateKind { kind, first, second }.to_string();
    assert!(message.starts_with("two models are stored as the kind `Thing`: one at other_crate/"), "{message}");
    assert!(message.contains("give one another kind with `#[model(kind = \"...\")]`"), "{message}");
}

#[test]
fn a_duplicate_name_is_reported_with_both_places() {
    let err = registry().unwrap_err();
    let RegistryError::DuplicateName { name, first, second } = &err else {
        panic!("expected a duplicate-name error, got {err:?}");
    };
    assert_eq!(*name, "SameName");
    assert_eq!(first, "other_crate/src/jobs.rs:7 (other_crate::jobs)");
    assert!(second.starts_with("tests/tests/registry_duplicates.rs:"), "{second}");
    assert!(second.ends_with("(registry_duplicates)"), "{second}");
    let message = err.to_string();
    assert!(message.contains("rename one with `#[one_off_job(name = \"...\")]`"), "{message}");
    // Every later read reports the same error rather than a partial registry.
    assert_eq!(registry().unwrap_err(), err);
}
