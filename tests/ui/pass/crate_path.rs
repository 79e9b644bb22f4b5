//! `crate = "..."` on both macros, for a crate that reaches jobs-core through a facade that
//! re-exports it (here a module standing for that crate).
#![deny(warnings)]

mod app {
    pub use jobs_core;
}

use app::jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
#[model(crate = "crate::app::jobs_core")]
pub struct Exploration {
    id: String,
}

#[one_off_job(crate = "crate::app::jobs_core", models = [Exploration])]
pub struct Audit;

impl Map<Exploration> for Audit {
    fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(item.id, 1);
        Ok(())
    }
}

impl Reduce for Audit {
    type Key = String;
    type Value = u32;
    fn reduce(&self, key: String, values: Values<'_, u32>, out: &mut Output) -> Outcome {
        out.line(format!("{key} {}", values.sum::<u32>()));
        Ok(())
    }
}

fn main() {
    let store = app::jobs_core::MemoryStore::new();
    app::jobs_core::testing::put_all(&store, &[Exploration { id: "e1".into() }]).unwrap();
    let report = app::jobs_core::testing::run(&Audit, &store).unwrap();
    assert_eq!(report.output, ["e1 1"]);
    assert!(app::jobs_core::registry().unwrap().get("Audit").is_ok());
}
