use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
}

#[one_off_job(models = [Exploration], name = "interaction audit")]
pub struct InteractionAudit;

#[one_off_job(models = [Exploration], name = "--audit")]
pub struct FlagLike;

fn main() {}
