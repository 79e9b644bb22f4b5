//! One timely worker: two small dataflows, a shuffle (shipments exchanged to the worker that
//! reduces their keys) and a gather (parts exchanged to worker 0), driven by plain code.
//!
//! Map and reduce run in the worker's own loop rather than inside operators, so they can
//! borrow the job and the store (operators must be `'static`), and so the loop checks for a
//! cancel or a lost peer between entities. The loop keeps stepping the worker while it maps,
//! so chunks flow to their reducers as they fill.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Operator;
use timely::dataflow::operators::probe::Probe;
use timely::dataflow::{InputHandle, ProbeHandle, Stream};
use timely::worker::Worker;

use crate::exec::Phase;
use crate::job::Job;

use super::map::MapDuty;
use super::reduce::{ReduceDuty, reduce_inbox};
use super::unwind::DropInUnwind;
use super::wire::{Part, PlannedTask, Shipment, encode};

/// How long an idle worker parks between checks for a cancel or a lost peer.
const IDLE_PARK: Duration = Duration::from_millis(5);

/// Why a worker stopped before the end.
pub(super) enum Stopped {
    /// The cluster failed (a peer was lost); the session's failure says why.
    Cluster,
    /// A message could not be encoded.
    Encode(String),
}

/// Runs this worker's share of the job; worker 0 returns every worker's encoded parts.
pub(super) fn drive<J: Job>(
    worker: &mut Worker,
    duty: &MapDuty<'_, J>,
    reduce_duty: &ReduceDuty,
    plan: &[PlannedTask],
    failed: &dyn Fn() -> bool,
) -> Result<Vec<Vec<u8>>, Stopped> {
    let index = worker.index();
    let peers = worker.peers();
    // Closing an input pushes to the peers, which panics again while unwinding from a lost
    // peer: caught, so the process does not abort (see `unwind`).
    let mut shipments: DropInUnwind<InputHandle<u64, CapacityContainerBuilder<Vec<Shipment>>>> =
        DropInUnwind::new(InputHandle::new());
    let mut parts: DropInUnwind<InputHandle<u64, CapacityContainerBuilder<Vec<Vec<u8>>>>> =
        DropInUnwind::new(InputHandle::new());
    // Chunks are taken in (and spilled past the budget) as they arrive, while this worker
    // still maps.
    let inbox = Rc::new(RefCell::new(reduce_duty.inbox::<J>()));
    let gathered: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let shuffled = worker.dataflow::<u64, _, _>(|scope| {
        let stream = shipments.to_stream(scope);
        let inbox = Rc::clone(&inbox);
        let receive = move |data: &mut Vec<Shipment>| inbox.borrow_mut().receive(data.drain(..));
        collect(stream, Exchange::new(|s: &Shipment| u64::from(s.worker)), "Shuffle", receive)
    });
    let gathered_all = worker.dataflow::<u64, _, _>(|scope| {
        let stream = parts.to_stream(scope);
        let gathered = Rc::clone(&gathered);
        collect(stream, Exchange::new(|_: &Vec<u8>| 0), "Gather", move |data: &mut Vec<Vec<u8>>| {
            gathered.borrow_mut().append(data);
        })
    });

    // Each shipment is an epoch of its own: timely's exchange holds what it is given in a
    // buffer per receiver until the buffer fills (a thousand chunks) or the epoch closes, so
    // within one epoch nearly every chunk mapped would wait there, in memory, until the end.
    let mut epoch = 0;
    // Task i goes to worker i mod peers: shards are spread evenly and in order.
    for (task_index, task) in plan.iter().enumerate().skip(index).step_by(peers) {
        if (duty.stop)() {
            break;
        }
        let mut ship = |shipment: Shipment| {
            shipments.send(shipment);
            epoch += 1;
            shipments.advance_to(epoch);
            worker.step();
        };
        let summary = duty.map_task(task_index, task, &mut ship).map_err(Stopped::Encode)?;
        parts.send(encode(&Part::<J::Key>::Task(summary)).map_err(Stopped::Encode)?);
        worker.step();
    }
    drop(shipments);
    step_until(worker, &shuffled, failed)?;
    if index == 0 {
        duty.progress.set_phase(Phase::Reduce);
    }

    // Every chunk has arrived; the operator no longer takes any.
    let taken = inbox.replace(reduce_duty.inbox::<J>());
    let part = reduce_inbox(duty.job, taken, reduce_duty, &|| (duty.stop)());
    duty.progress.add_keys_reduced(part.keys_reduced);
    parts.send(encode(&Part::Reduced(part)).map_err(Stopped::Encode)?);
    drop(parts);
    step_until(worker, &gathered_all, failed)?;
    while worker.has_dataflows() {
        if failed() {
            return Err(Stopped::Cluster);
        }
        worker.step_or_park(Some(IDLE_PARK));
    }
    Ok(std::mem::take(&mut *gathered.borrow_mut()))
}

/// Steps the worker until `probe` has seen everything, or the cluster fails.
fn step_until(worker: &mut Worker, probe: &ProbeHandle<u64>, failed: &dyn Fn() -> bool) -> Result<(), Stopped> {
    while !probe.done() {
        if failed() {
            return Err(Stopped::Cluster);
        }
        worker.step_or_park(Some(IDLE_PARK));
    }
    Ok(())
}

/// Exchanges `stream` by `pact` and hands what arrives to `receive`; the returned probe is
/// done once every record bound for this worker has arrived.
fn collect<'scope, D, P, R>(
    stream: Stream<'scope, u64, Vec<D>>,
    pact: P,
    name: &str,
    mut receive: R,
) -> ProbeHandle<u64>
where
    D: 'static,
    P: timely::dataflow::channels::pact::ParallelizationContract<u64, Vec<D>>,
    R: FnMut(&mut Vec<D>) + 'static,
{
    let probe = ProbeHandle::new();
    stream
        .unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(pact, name, move |capability, _info| {
            // Nothing is ever output: without its capability the operator's output frontier
            // follows its input's, which is what the probe watches.
            drop(capability);
            move |(input, _frontier), _output| {
                input.for_each(|_time, data| receive(data));
            }
        })
        .probe_with(&probe);
    probe
}
