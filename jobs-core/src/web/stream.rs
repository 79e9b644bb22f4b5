//! Response bodies written as they are produced: a run's full output (which may be gigabytes)
//! goes to the client in chunks of 64 KiB, at most 4 of them held per response, instead of
//! being built in memory first.

use std::io::{self, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use tokio::sync::mpsc;

/// The size of the chunks sent.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks written but not yet sent, per response.
const CHUNKS_IN_FLIGHT: usize = 4;

/// What a producer writes to: chunks go to the response as they fill. A write fails
/// ([`io::ErrorKind::BrokenPipe`]) once the client has gone.
pub(crate) struct ChunkWriter {
    sender: mpsc::Sender<io::Result<Bytes>>,
    buffer: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        let chunk = Bytes::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES)));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client stopped reading"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() { Ok(()) } else { self.send() }
    }
}

/// The body the chunks arrive in.
struct ChunkBody {
    receiver: mpsc::Receiver<io::Result<Bytes>>,
}

impl http_body::Body for ChunkBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, io::Error>>> {
        self.receiver.poll_recv(cx).map(|chunk| chunk.map(|chunk| chunk.map(http_body::Frame::data)))
    }
}

/// A body that `produce` writes on one of tokio's blocking threads (it may read the store).
/// If it fails, the error is logged and the body ends with it, so the client sees a cut
/// response, not a complete-looking one.
pub(crate) fn streamed<F>(what: &'static str, produce: F) -> Body
where
    F: FnOnce(&mut ChunkWriter) -> Result<(), String> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut writer = ChunkWriter { sender: sender.clone(), buffer: Vec::with_capacity(CHUNK_BYTES) };
        let produced = produce(&mut writer).and_then(|()| writer.flush().map_err(|e| e.to_string()));
        if let Err(error) = produced {
            tracing::warn!(%error, "admin page stopped sending {what}");
            let _ = sender.blocking_send(Err(io::Error::other(error)));
        }
    });
    Body::new(ChunkBody { receiver })
}
