//! Socket plumbing shared by the server and the client: the writer task and the fragment
//! tracker behind the slow-sender timeout.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use msrpc_proto::pdu::{frame_length, HEADER_LEN};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

/// Outgoing fragments are written in batches of up to this many bytes.
const BATCH: usize = 64 * 1024;

/// The queue of fragments waiting for the writer task, with the number of bytes in it (so a
/// connection can stop reading while a peer does not take its responses).
pub(crate) struct Outbox {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    queued: Arc<AtomicUsize>,
    drained: Arc<Notify>,
}

impl Outbox {
    /// Queues a fragment; false when the writer is gone.
    pub(crate) fn send(&self, frame: Vec<u8>) -> bool {
        self.queued.fetch_add(frame.len(), Ordering::Relaxed);
        self.tx.send(frame).is_ok()
    }

    /// Bytes queued and not yet written.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Completes after the writer has written a batch (check [`queued`](Self::queued) again).
    pub(crate) async fn drained(&self) {
        self.drained.notified().await
    }
}

/// Spawns the task that writes queued fragments to `wr`, each batch within `send_timeout`.
/// Dropping the [`Outbox`] flushes what is queued and shuts the write side down; the task ends
/// early with an error when a write fails or times out.
pub(crate) fn spawn_writer<W>(wr: W, send_timeout: Duration) -> (Outbox, JoinHandle<io::Result<()>>)
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let drained = Arc::new(Notify::new());
    let task = tokio::spawn(write_loop(
        wr,
        rx,
        send_timeout,
        queued.clone(),
        drained.clone(),
    ));
    (
        Outbox {
            tx,
            queued,
            drained,
        },
        task,
    )
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    send_timeout: Duration,
    queued: Arc<AtomicUsize>,
    drained: Arc<Notify>,
) -> io::Result<()> {
    while let Some(mut batch) = rx.recv().await {
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(more) => batch.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        match tokio::time::timeout(send_timeout, wr.write_all(&batch)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "send timed out (the peer does not read)",
                ))
            }
        }
        queued.fetch_sub(batch.len(), Ordering::Relaxed);
        drained.notify_one();
    }
    // Best effort: the peer may already be gone.
    let _ = tokio::time::timeout(send_timeout, wr.shutdown()).await;
    Ok(())
}

/// Follows fragment boundaries in a received byte stream (without buffering payloads), so the
/// runtime knows whether a fragment is incomplete and since when.
#[derive(Debug, Default)]
pub(crate) struct FragTracker {
    header: [u8; HEADER_LEN],
    header_len: usize,
    remaining: usize,
    completed: u64,
    broken: bool,
}

impl FragTracker {
    /// Accounts for received bytes.
    pub(crate) fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() && !self.broken {
            if self.remaining > 0 {
                let n = self.remaining.min(data.len());
                self.remaining -= n;
                data = data.split_at(n).1;
                if self.remaining == 0 {
                    self.completed = self.completed.wrapping_add(1);
                }
                continue;
            }
            let n = (HEADER_LEN - self.header_len).min(data.len());
            let (head, rest) = data.split_at(n);
            if let Some(dst) = self.header.get_mut(self.header_len..self.header_len + n) {
                dst.copy_from_slice(head);
            }
            self.header_len += n;
            data = rest;
            if self.header_len == HEADER_LEN {
                self.header_len = 0;
                match frame_length(&self.header) {
                    Ok(Some(len)) if len > HEADER_LEN => self.remaining = len - HEADER_LEN,
                    Ok(Some(len)) if len == HEADER_LEN => {
                        self.completed = self.completed.wrapping_add(1)
                    }
                    // A corrupt stream: the protocol core closes the connection.
                    _ => self.broken = true,
                }
            }
        }
    }

    /// True while a fragment has started and not completed.
    pub(crate) fn mid_fragment(&self) -> bool {
        !self.broken && (self.header_len > 0 || self.remaining > 0)
    }

    /// Fragments completed so far (wrapping).
    pub(crate) fn completed(&self) -> u64 {
        self.completed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(len: u16) -> Vec<u8> {
        let mut f = vec![5, 0, 0, 3, 0x10, 0, 0, 0];
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(&[0; 6]);
        f.resize(usize::from(len), 0xaa);
        f
    }

    #[test]
    fn tracks_fragment_boundaries_across_reads() {
        let mut t = FragTracker::default();
        assert!(!t.mid_fragment());
        let mut stream = frag(100);
        stream.extend(frag(16));
        stream.extend(frag(40));
        // byte by byte
        for (i, b) in stream.iter().enumerate() {
            t.feed(&[*b]);
            let done = i + 1;
            let boundary = done == 100 || done == 116 || done == 156;
            assert_eq!(t.mid_fragment(), !boundary, "after {done} bytes");
        }
        assert_eq!(t.completed(), 3);
        // all at once, then half a header
        let mut t = FragTracker::default();
        t.feed(&stream);
        assert!(!t.mid_fragment());
        t.feed(&stream[..5]);
        assert!(t.mid_fragment());
    }

    #[test]
    fn corrupt_header_stops_tracking() {
        let mut t = FragTracker::default();
        let mut bad = frag(16);
        bad[8] = 4; // frag_length below the header
        bad.extend([1, 2, 3]);
        t.feed(&bad);
        assert!(!t.mid_fragment());
    }
}
