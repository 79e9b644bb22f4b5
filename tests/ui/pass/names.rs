//! Names a command line can carry, including `.` and `-`; names that only look alike are
//! different jobs, and jobs defined inside a function body register like any other.
#![deny(warnings)]

use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
}

macro_rules! counting_job {
    ($(#[$attr:meta])* $job:ident) => {
        $(#[$attr])*
        pub struct $job;

        impl Map<Exploration> for $job {
            fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
                ctx.emit(item.id, 1);
                Ok(())
            }
        }

        impl Reduce for $job {
            type Key = String;
            type Value = u8;
            fn reduce(&self, _key: String, _values: Values<'_, u8>, _out: &mut Output) -> Outcome {
                Ok(())
            }
        }
    };
}

counting_job!(
    #[one_off_job(models = [Exploration], name = "audit.v2-fast")]
    Dotted
);
counting_job!(
    #[one_off_job(models = [Exploration], name = "audit_dot_v2_dash_fast")]
    Spelled
);
counting_job!(
    #[one_off_job(models = [Exploration], name = "audit_v2")]
    Underscored
);
counting_job!(
    #[one_off_job(models = [Exploration], shards = 1)]
    r#Match
);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// Defined in a function body, as in a doc test.
    #[one_off_job(models = [Exploration], shards = 256)]
    pub struct Local;
    impl Map<Exploration> for Local {
        fn map(&self, _item: Exploration, _ctx: &mut MapContext<'_, Self>) -> Outcome {
            Ok(())
        }
    }
    impl Reduce for Local {
        type Key = u8;
        type Value = u8;
        fn reduce(&self, _key: u8, _values: Values<'_, u8>, _out: &mut Output) -> Outcome {
            Ok(())
        }
    }

    let registry = jobs_core::registry()?;
    let names: Vec<_> = registry.jobs().iter().map(|job| job.name()).collect();
    assert_eq!(names, ["Local", "Match", "audit.v2-fast", "audit_dot_v2_dash_fast", "audit_v2"]);
    assert_eq!(registry.get("Local")?.default_shards(), 256);
    assert_eq!(registry.get("Local")?.description(), "Defined in a function body, as in a doc test.");
    Ok(())
}
