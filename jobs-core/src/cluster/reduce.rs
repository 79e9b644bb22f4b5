//! The reduce side: a worker orders the chunks it received by (task, chunk), so each key's
//! values come in task order then emit order, sorts them stably by key and reduces key by key.

use crate::engine::{FailureRecord, FailureSite, MAX_REPORTED_FAILURES, panic};
use crate::job::{Job, Output, Reduce, Values};

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

    let mut out = Output::new();
    let mut values: Vec<J::Value> = Vec::new();
    let mut rest = pairs.into_iter().peekable();
    while let Some((key, first)) = rest.next() {
        if stop() {
            part.canceled = true;
            break;
        }
        values.clear();
        values.push(first);
        while let Some((_, value)) = rest.next_if(|(next, _)| *next == key) {
            values.push(value);
        }
        let ordering_key = key.clone();
        let len = values.len();
        let mut drained = values.drain(..);
        let Some(head) = drained.next() else { continue };
        let outcome = panic::catch(|| job.reduce(key, Values::new(head, &mut drained, len - 1), &mut out));
        drop(drained);
        part.keys_reduced += 1;
        let message = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(failure)) => Some(failure.message().to_owned()),
            Err(panic_message) => Some(panic_message),
        };
        match message {
            None => {
                let lines = out.take();
                if !lines.is_empty() {
                    part.lines.push((ordering_key, lines));
                }
            }
            Some(message) => {
                out.clear();
                part.failure_count += 1;
                if part.failures.len() < MAX_REPORTED_FAILURES {
                    let site = FailureSite::key(&ordering_key);
                    part.failures.push((ordering_key, FailureRecord { site, message }));
                }
            }
        }
    }
    part
}
