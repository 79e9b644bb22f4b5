use jobs_core::prelude::*;

#[derive(Model, Serialize, Deserialize)]
pub struct Exploration {
    id: String,
}

#[one_off_job(models = [Exploration], max_failures = -1)]
pub struct Audit;

#[one_off_job(models = [Exploration], max_failures = "10", name = "AuditQuoted")]
pub struct AuditQuoted;

fn main() {}
