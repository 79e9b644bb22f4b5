//! A reduce worker's inbox: the chunks shipped to it, held as sorted runs up to its share of
//! the memory budget and spilled to disk past it.
//!
//! Every chunk arrives sorted by key and tagged (task, chunk). Held in memory, it is a
//! [`GroupedRun`]; when the held runs outgrow the worker's share ([`budget::worker_limit`]),
//! they are written to one new spill file, a section per stretch of consecutive chunks of one
//! task, each stretch merged into one run (`group_merge.rs`). Stretches never overlap, so
//! ordering every run, in memory or spilled, by its first (task, chunk) and merging them with
//! ties to the earlier run gives each key's values in (task, chunk, emit) order: the order of
//! the local engine, whatever was spilled.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::exec::budget::PairSizer;
use crate::exec::group_merge::{Run, write_merged};
use crate::exec::grouped_run::GroupedRun;
use crate::exec::spill::{SpillDir, SpillError, SpillWriter, SpilledRun};

use super::wire::{Shipment, decode};

/// Why an inbox stopped taking chunks.
#[derive(Debug)]
pub(super) enum InboxError {
    /// A chunk did not decode, or was not sorted: another worker sent something wrong.
    Chunk(String),
    /// The spill file could not be written.
    Spill(SpillError),
}

/// A run and the first (task, chunk) it holds.
struct Tagged<R> {
    task: u32,
    chunk: u32,
    run: R,
}

/// The chunks one reduce worker received; see the module doc.
pub(super) struct Inbox<K, V> {
    held: Vec<Tagged<GroupedRun<K, V>>>,
    /// The estimated bytes of `held`.
    held_bytes: usize,
    spilled: Vec<Tagged<SpilledRun>>,
    spilled_bytes: u64,
    /// What the worker may hold before it spills.
    limit: usize,
    dir: Arc<SpillDir>,
    sizer: PairSizer,
    error: Option<InboxError>,
}

/// What an inbox holds once every chunk has arrived.
pub(super) struct Received<K, V> {
    /// Every run, in (task, chunk) order.
    pub(super) runs: Vec<Run<K, V>>,
    /// Bytes written to spill files.
    pub(super) spilled_bytes: u64,
}

impl<K, V> Inbox<K, V>
where
    K: Ord + Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    /// An empty inbox that spills to `dir` past `limit` bytes.
    pub(super) fn new(limit: usize, dir: Arc<SpillDir>) -> Self {
        Inbox {
            held: Vec::new(),
            held_bytes: 0,
            spilled: Vec::new(),
            spilled_bytes: 0,
            limit,
            dir,
            sizer: PairSizer::new(),
            error: None,
        }
    }

    /// Takes `shipments` in, spilling whenever what it holds outgrows its share. After an
    /// error, chunks are dropped: the error fails the run.
    pub(super) fn receive(&mut self, shipments: impl IntoIterator<Item = Shipment>) {
        for shipment in shipments {
            if self.error.is_some() {
                return;
            }
            if let Err(error) = self.hold(&shipment) {
                self.error = Some(error);
                return;
            }
            if self.held_bytes > self.limit
                && let Err(error) = self.spill()
            {
                self.error = Some(InboxError::Spill(error));
            }
        }
    }

    fn hold(&mut self, shipment: &Shipment) -> Result<(), InboxError> {
        let chunk_error =
            |message: &str| InboxError::Chunk(format!("task {} chunk {}: {message}", shipment.task, shipment.chunk));
        let pairs: Vec<(K, V)> = decode(&shipment.pairs).map_err(|message| chunk_error(&message))?;
        if pairs.windows(2).any(|pair| pair[0].0 > pair[1].0) {
            return Err(chunk_error("its pairs are not sorted by key"));
        }
        for (key, value) in &pairs {
            self.sizer.observe(key, value);
        }
        let run = GroupedRun::from_sorted_pairs(pairs);
        self.held_bytes += run.array_bytes() + self.sizer.heap_bytes(run.keys.len(), run.len());
        self.held.push(Tagged { task: shipment.task, chunk: shipment.chunk, run });
        Ok(())
    }

    /// Writes every held run to one new spill file, merging each stretch of consecutive
    /// chunks of a task into one section.
    fn spill(&mut self) -> Result<(), SpillError> {
        let mut held = std::mem::take(&mut self.held);
        self.held_bytes = 0;
        held.sort_unstable_by_key(|tagged| (tagged.task, tagged.chunk));
        let mut writer = SpillWriter::create(&self.dir)?;
        let mut firsts = Vec::new();
        let mut rest = held.into_iter().peekable();
        while let Some(first) = rest.next() {
            let (task, mut last) = (first.task, first.chunk);
            let mut stretch = vec![Run::Memory(first.run)];
            while let Some(next) = rest.next_if(|next| next.task == task && Some(next.chunk) == last.checked_add(1)) {
                last = next.chunk;
                stretch.push(Run::Memory(next.run));
            }
            firsts.push((task, first.chunk));
            // In-memory runs need no read buffer.
            write_merged(&mut writer, stretch, 0)?;
        }
        let written = writer.written();
        let runs = writer.finish()?;
        self.spilled_bytes += written;
        tracing::debug!(bytes = written, sections = runs.len(), "a reduce worker spilled what it held");
        self.spilled.extend(firsts.into_iter().zip(runs).map(|((task, chunk), run)| Tagged { task, chunk, run }));
        Ok(())
    }

    /// Every run, in (task, chunk) order, or the error that stopped the inbox.
    pub(super) fn finish(self) -> Result<Received<K, V>, InboxError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut runs: Vec<Tagged<Run<K, V>>> = self
            .spilled
            .into_iter()
            .map(|t| Tagged { task: t.task, chunk: t.chunk, run: Run::Spilled(t.run) })
            .chain(self.held.into_iter().map(|t| Tagged { task: t.task, chunk: t.chunk, run: Run::Memory(t.run) }))
            .collect();
        runs.sort_by_key(|tagged| (tagged.task, tagged.chunk));
        Ok(Received { runs: runs.into_iter().map(|tagged| tagged.run).collect(), spilled_bytes: self.spilled_bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::group_merge::GroupMerge;

    use super::super::wire::encode;

    fn shipment(task: u32, chunk: u32, pairs: &[(u8, &str)]) -> Shipment {
        let pairs: Vec<(u8, String)> = pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        Shipment { worker: 0, task, chunk, pairs: encode(&pairs).unwrap() }
    }

    /// Chunks of three tasks, arriving interleaved and (for task 2) out of chunk order.
    fn arrivals() -> Vec<Shipment> {
        vec![
            shipment(1, 0, &[(1, "1.0a"), (3, "1.0b")]),
            shipment(0, 0, &[(1, "0.0a"), (1, "0.0b"), (2, "0.0c")]),
            shipment(2, 1, &[(1, "2.1a")]),
            shipment(1, 1, &[(1, "1.1a"), (2, "1.1b")]),
            shipment(0, 1, &[(3, "0.1a")]),
            shipment(2, 0, &[(0, "2.0a"), (1, "2.0b")]),
            shipment(0, 2, &[(1, "0.2a")]),
        ]
    }

    fn groups(received: Received<u8, String>) -> Vec<(u8, Vec<String>)> {
        let mut merge = GroupMerge::new(received.runs, 8).unwrap();
        let mut out = Vec::new();
        while let Some((key, len)) = merge.next_group().unwrap() {
            let values: Vec<String> = merge.values().collect();
            assert_eq!(values.len(), len);
            out.push((key, values));
        }
        out
    }

    #[test]
    fn any_limit_gives_each_keys_values_in_task_chunk_then_emit_order() {
        let temp = tempfile::tempdir().unwrap();
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let expected = vec![
            (0, strings(&["2.0a"])),
            (1, strings(&["0.0a", "0.0b", "0.2a", "1.0a", "1.1a", "2.0b", "2.1a"])),
            (2, strings(&["0.0c", "1.1b"])),
            (3, strings(&["0.1a", "1.0b"])),
        ];
        for limit in [0, 1, 100, 300, usize::MAX] {
            let mut inbox = Inbox::new(limit, Arc::new(SpillDir::new(temp.path().to_owned())));
            for arrival in arrivals() {
                inbox.receive([arrival]);
            }
            let received = inbox.finish().unwrap();
            if limit == 0 {
                assert!(received.spilled_bytes > 0);
                assert!(received.runs.iter().all(|run| matches!(run, Run::Spilled(_))));
            }
            if limit == usize::MAX {
                assert_eq!(received.spilled_bytes, 0);
            }
            assert_eq!(groups(received), expected, "limit {limit}");
        }
    }

    #[test]
    fn a_chunk_that_is_not_sorted_or_not_pairs_stops_the_inbox() {
        let temp = tempfile::tempdir().unwrap();
        let mut inbox = Inbox::<u8, String>::new(usize::MAX, Arc::new(SpillDir::new(temp.path().to_owned())));
        inbox.receive([shipment(4, 2, &[(2, "b"), (1, "a")])]);
        let Err(InboxError::Chunk(message)) = inbox.finish() else { panic!("an unsorted chunk was taken") };
        assert_eq!(message, "task 4 chunk 2: its pairs are not sorted by key");

        let mut inbox = Inbox::<u8, String>::new(usize::MAX, Arc::new(SpillDir::new(temp.path().to_owned())));
        inbox.receive([Shipment { worker: 0, task: 0, chunk: 0, pairs: b"\xc1junk".to_vec() }]);
        let Err(InboxError::Chunk(message)) = inbox.finish() else { panic!("junk was taken") };
        assert!(message.starts_with("task 0 chunk 0: cannot decode"), "{message}");
    }

    #[test]
    fn a_spill_directory_that_cannot_be_made_stops_the_inbox() {
        let temp = tempfile::tempdir().unwrap();
        let missing = temp.path().join("missing");
        let mut inbox = Inbox::<u8, String>::new(0, Arc::new(SpillDir::new(missing)));
        inbox.receive(arrivals());
        let Err(InboxError::Spill(error)) = inbox.finish() else { panic!("the spill did not fail") };
        assert!(error.to_string().contains("missing"), "{error}");
    }
}
