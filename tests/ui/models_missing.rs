use jobs_core::prelude::*;

#[one_off_job(shards = 8)]
pub struct Audit;

fn main() {}
