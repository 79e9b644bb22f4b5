use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
}

mod audits {
    use super::Exploration;
    use jobs_core::prelude::*;

    #[one_off_job(models = [Exploration])]
    pub struct InteractionAudit;

    impl Map<Exploration> for InteractionAudit {
        fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
            ctx.emit(item.id, 1);
            Ok(())
        }
    }

    impl Reduce for InteractionAudit {
        type Key = String;
        type Value = u32;
        fn reduce(&self, _key: String, _values: Values<'_, u32>, _out: &mut Output) -> Outcome {
            Ok(())
        }
    }
}

/// A second job, elsewhere in the crate, that took the first one's name.
#[one_off_job(models = [Exploration], name = "InteractionAudit")]
pub struct InteractionAuditV2;

impl Map<Exploration> for InteractionAuditV2 {
    fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(item.id, 1);
        Ok(())
    }
}

impl Reduce for InteractionAuditV2 {
    type Key = String;
    type Value = u32;
    fn reduce(&self, _key: String, _values: Values<'_, u32>, _out: &mut Output) -> Outcome {
        Ok(())
    }
}

fn main() {}
