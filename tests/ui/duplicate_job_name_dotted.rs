use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
}

#[one_off_job(models = [Exploration], name = "audit.v2")]
pub struct AuditV2;

impl Map<Exploration> for AuditV2 {
    fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(item.id, 1);
        Ok(())
    }
}

impl Reduce for AuditV2 {
    type Key = String;
    type Value = u32;
    fn reduce(&self, _key: String, _values: Values<'_, u32>, _out: &mut Output) -> Outcome {
        Ok(())
    }
}

#[one_off_job(models = [Exploration], name = "audit.v2")]
pub struct AuditV2Fast;

impl Map<Exploration> for AuditV2Fast {
    fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(item.id, 1);
        Ok(())
    }
}

impl Reduce for AuditV2Fast {
    type Key = String;
    type Value = u32;
    fn reduce(&self, _key: String, _values: Values<'_, u32>, _out: &mut Output) -> Outcome {
        Ok(())
    }
}

fn main() {}
