use jobs_core::prelude::*;

#[one_off_job(models = [])]
pub struct Audit;

fn main() {}
