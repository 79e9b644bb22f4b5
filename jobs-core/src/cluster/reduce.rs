//! The reduce side: a worker merges the runs its inbox holds (in memory or spilled), ordered
//! by (task, chunk), a key group at a time, so each key's values come in task order, then emit
//! order (the local engine's order), and reduces key by key.

use std::sync::{Arc, Mutex};

use crate::exec::budget;
use crate::exec::group_merge::{GroupMerge, Run, merge_down, spilled_count};
use crate::exec::reduce_one::KeyReducer;
use crate::exec::report_text::{HeldText, PartitionText, TextSpool};
use crate::exec::spill::{SpillDir, SpillError};
use crate::job::{Job, Reduce};

use super::inbox::{Inbox, InboxError};
use super::wire::ReducedPart;

type Runs<J> = Vec<Run<<J as Reduce>::Key, <J as Reduce>::Value>>;

/// What a worker needs to hold, spill and merge its share of the shuffle.
pub(super) struct ReduceDuty {
    /// The run's memory budget for this process.
    pub(super) max_memory: u64,
    /// Worker threads in this process, which share the budget.
    pub(super) workers_here: usize,
    /// This process's spill directory, shared by its workers; made on the first spill and
    /// removed when the attempt ends.
    pub(super) dir: Arc<SpillDir>,
    /// At process 0, where its workers leave their report text for the final merge; the
    /// other processes send their lines to process 0 in their parts.
    pub(super) local_text: Option<LocalText>,
}

/// Process 0's workers' report text: each worker's keys, in key order, spooled as `reduce`
/// writes them (in memory within the run's limit for report text, past it in files).
pub(super) struct LocalText {
    held: Arc<HeldText>,
    texts: Mutex<Vec<PartitionText>>,
}

impl LocalText {
    /// An empty collection of text, held within `held`'s limit.
    pub(super) fn new(held: Arc<HeldText>) -> Self {
        LocalText { held, texts: Mutex::new(Vec::new()) }
    }

    /// Every worker's text, once they are done.
    pub(super) fn into_texts(self) -> Vec<PartitionText> {
        self.texts.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

impl ReduceDuty {
    /// An empty inbox that spills past this worker's share of the budget: half of it, split
    /// between the workers, as the local engine splits it between its map workers.
    pub(super) fn inbox<J: Job>(&self) -> Inbox<J::Key, J::Value> {
        Inbox::new(budget::worker_limit(self.max_memory, self.workers_here), Arc::clone(&self.dir))
    }
}

/// Reduces every key in `inbox`, stopping between keys once `stop` says so.
pub(super) fn reduce_inbox<J: Job>(
    job: &J,
    inbox: Inbox<J::Key, J::Value>,
    duty: &ReduceDuty,
    stop: &dyn Fn() -> bool,
) -> ReducedPart<J::Key> {
    let mut part = ReducedPart::<J::Key>::default();
    let received = match inbox.finish() {
        Ok(received) => received,
        Err(InboxError::Chunk(message)) => {
            part.error = Some(message);
            return part;
        }
        Err(InboxError::Spill(error)) => {
            part.spill_error = Some(error.to_string());
            return part;
        }
    };
    part.spilled_bytes = received.spilled_bytes;
    if let Err(error) = reduce_runs(job, received.runs, duty, stop, &mut part) {
        part.spill_error = Some(error.to_string());
    }
    part
}

/// Merges `runs` (in (task, chunk) order) down to what the reduce half of the budget can read
/// at once, then reduces their key groups into `part`.
fn reduce_runs<J: Job>(
    job: &J,
    runs: Runs<J>,
    duty: &ReduceDuty,
    stop: &dyn Fn() -> bool,
    part: &mut ReducedPart<J::Key>,
) -> Result<(), SpillError> {
    let fan_in = budget::merge_fan_in(duty.max_memory, duty.workers_here);
    let read_buffer = budget::read_buffer_len(duty.max_memory, spilled_count(&runs).min(fan_in), duty.workers_here);
    let runs = merge_down(runs, fan_in, read_buffer, &duty.dir)?;
    let mut groups = GroupMerge::new(runs, read_buffer)?;
    let mut reducer = match &duty.local_text {
        Some(local) => KeyReducer::spooling(job, TextSpool::new(Arc::clone(&local.held), Arc::clone(&duty.dir))),
        None => KeyReducer::new(job),
    };
    let result = loop {
        if stop() {
            part.canceled = true;
            break Ok(());
        }
        let (key, len) = match groups.next_group() {
            Ok(Some(group)) => group,
            Ok(None) => break Ok(()),
            Err(error) => break Err(error),
        };
        let mut values = groups.values();
        let Some(first) = values.next() else { continue };
        // Whatever reduce leaves unread of this key is skipped by the next `next_group`.
        if let Err(error) = reducer.reduce_key(key, first, &mut values, len) {
            break Err(error);
        }
    };
    let (reduced, text) = reducer.finish()?;
    if let (Some(local), Some(text)) = (&duty.local_text, text) {
        crate::sync::lock(&local.texts).push(text);
    }
    part.lines = reduced.lines;
    part.failures = reduced.failures;
    part.failure_count = reduced.failure_count;
    part.keys_reduced = reduced.keys_reduced;
    result
}
