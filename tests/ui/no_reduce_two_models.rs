use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
    title: String,
}

#[derive(Model, Serialize, Deserialize)]
pub struct Collection {
    id: String,
}

/// Two models mapped, several pairs emitted, the reduce forgotten.
#[one_off_job(models = [Exploration, Collection], shards = 4)]
pub struct TitleAudit {
    verbose: bool,
}

impl Map<Exploration> for TitleAudit {
    fn map(&self, item: Exploration, ctx: &mut MapContext<'_, Self>) -> Outcome {
        if self.verbose {
            ctx.count("explorations", 1);
        }
        ctx.emit(item.title, item.id);
        Ok(())
    }
}

impl Map<Collection> for TitleAudit {
    fn map(&self, item: Collection, ctx: &mut MapContext<'_, Self>) -> Outcome {
        ctx.emit(String::new(), item.id);
        Ok(())
    }
}

fn main() {}
