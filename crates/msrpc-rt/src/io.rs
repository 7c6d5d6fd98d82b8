//! Socket plumbing shared by the server and the client: the write queue each connection
//! task drains itself (no writer task: a response goes out in the task that produced it) and
//! the fragment tracker behind the slow-sender timeout.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use msrpc_proto::pdu::{frame_length, HEADER_LEN};
use tokio::io::AsyncWrite;

/// Bytes waiting to be written: the queued fragments, back to back (written with as few
/// writes as the socket allows). Empty, it holds no allocation.
#[derive(Debug, Default)]
pub(crate) struct WriteQueue {
    buf: Vec<u8>,
    /// Bytes of `buf` already written.
    written: usize,
}

impl WriteQueue {
    /// Queues a fragment (taking its allocation when nothing else waits).
    pub(crate) fn send(&mut self, frame: Vec<u8>) {
        if self.buf.is_empty() {
            self.buf = frame;
            self.written = 0;
        } else {
            self.buf.extend_from_slice(&frame);
        }
    }

    /// The bytes not yet written.
    pub(crate) fn pending(&self) -> &[u8] {
        self.buf.get(self.written..).unwrap_or_default()
    }

    /// True when everything queued was written.
    pub(crate) fn is_empty(&self) -> bool {
        self.written >= self.buf.len()
    }

    /// Bytes queued and not yet written.
    pub(crate) fn queued(&self) -> usize {
        self.buf.len().saturating_sub(self.written)
    }

    /// Writes what `wr` takes without waiting (a no-op waker: the caller's next poll of a
    /// write registers the real one).
    pub(crate) fn write_now<W: AsyncWrite + Unpin>(&mut self, wr: &mut W) -> io::Result<()> {
        let mut cx = Context::from_waker(Waker::noop());
        while !self.is_empty() {
            match Pin::new(&mut *wr).poll_write(&mut cx, self.pending()) {
                Poll::Ready(Ok(0)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the socket took no byte",
                    ))
                }
                Poll::Ready(Ok(n)) => self.advance(n),
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => break,
            }
        }
        Ok(())
    }

    /// Accounts for `n` bytes written; frees the buffer once everything is.
    pub(crate) fn advance(&mut self, n: usize) {
        self.written = self.written.saturating_add(n);
        if self.written >= self.buf.len() {
            self.buf = Vec::new();
            self.written = 0;
        } else if self.written > 64 * 1024 && self.written * 2 > self.buf.len() {
            // A long backlog: drop what is written so the buffer does not only grow.
            self.buf.drain(..self.written);
            self.written = 0;
        }
    }
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
