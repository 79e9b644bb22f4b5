//! The reduce side: a worker orders the chunks it received by (task, chunk), so each key's
//! values come in task order then emit order, sorts them stably by key and reduces key by key.

use crate::exec::reduce_one::KeyReducer;
use crate::job::{Job, Reduce};

use super::wire::{ReducedPart, Shipment, decode};

type Pairs<J> = Vec<(<J as Reduce>::Key, <J as Reduce>::Value)>;

/// Reduces every key in `shipments`, stopping between keys once `stop` says so.
pub(super) fn reduce_shipments<J: Job>(
    job: &J,
    mut shipments: Vec<Shipment>,
    stop: &dyn Fn() -> bool,
) -> ReducedPart<J::Key> {
    let mut part = ReducedPart::<J::Key>::default();
    shipments.sort_unstable_by_key(|s| (s.task, s.chunk));
    let mut pairs: Pairs<J> = Vec::new();
    for shipment in &shipments {
        match decode::<Pairs<J>>(&shipment.pairs) {
            Ok(chunk) => pairs.extend(chunk),
            Err(error) => {
                part.error = Some(format!("task {} chunk {}: {error}", shipment.task, shipment.chunk));
                return part;
            }
        }
    }
    drop(shipments);
    // Each chunk is sorted already, so this stable sort merges runs; equal keys keep their
    // (task, chunk, emit) order.
    pairs.sort_by(|a, b| a.0.cmp(&b.0));

    let mut reducer = KeyReducer::new(job);
    let mut values: Vec<J::Value> = Vec::new();
    let mut rest = pairs.into_iter().peekable();
    while let Some((key, first)) = rest.next() {
        if stop() {
            part.canceled = true;
            break;
        }
        values.clear();
        while let Some((_, value)) = rest.next_if(|(next, _)| *next == key) {
            values.push(value);
        }
        let len = values.len() + 1;
        reducer.reduce_key(key, first, &mut values.drain(..), len);
    }
    let reduced = reducer.finish();
    part.lines = reduced.lines;
    part.failures = reduced.failures;
    part.failure_count = reduced.failure_count;
    part.keys_reduced = reduced.keys_reduced;
    part
}
