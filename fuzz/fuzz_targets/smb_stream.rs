//! The SMB parser (crates/msrpc-smb): NetBIOS/direct-TCP framing, SMB1 and SMB2/3 messages,
//! the pipe, file, tree and pending tables. It must never panic, hold more than its limits
//! allow, or report pipes inconsistently.
//!
//! Input: a selector byte (bits 0-5: chunk sizes as `Chunker`; bit 6: the capture starts
//! mid-stream; bit 7: tight limits), then records `[flags, len u16 LE, data]`: flags bit 0 =
//! server to client (else client to server), bit 1 = a capture gap in that direction before
//! the data, bit 2 = the connection ends after it (and a fresh one starts).
//!
//! Checks: `pipes()` never exceeds `max_pipes`; `held()` stays under the bound the limits
//! give; pipe data is never empty; no event names a pipe after its `Closed`, and no pipe opens
//! twice; after the end every pipe that was seen has been closed.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use msrpc_fuzz::Chunker;
use msrpc_smb::{Dir, Event, Limits, PipeId, SmbConnection};

#[derive(Default)]
struct Seen {
    live: HashSet<PipeId>,
    opened: HashSet<PipeId>,
    closed: HashSet<PipeId>,
}

impl Seen {
    fn event(&mut self, e: Event<'_>) {
        match e {
            Event::Opened { pipe, .. } => {
                assert!(
                    !self.closed.contains(&pipe),
                    "{pipe:?} opened after its close"
                );
                assert!(self.opened.insert(pipe), "{pipe:?} opened twice");
                self.live.insert(pipe);
            }
            Event::Data { pipe, data, .. } => {
                assert!(!data.is_empty(), "empty pipe data");
                assert!(
                    !self.closed.contains(&pipe),
                    "data for {pipe:?} after its close"
                );
                self.live.insert(pipe);
            }
            Event::Gap { pipe, .. } => {
                assert!(
                    !self.closed.contains(&pipe),
                    "gap for {pipe:?} after its close"
                );
            }
            Event::Closed { pipe } => {
                assert!(self.closed.insert(pipe), "{pipe:?} closed twice");
                self.live.remove(&pipe);
            }
            _ => {}
        }
    }
}

fn bound(l: &Limits) -> usize {
    2 * l.max_message.max(128)
        + 8
        + (2 * l.max_pipes + l.max_trees + l.max_pending) * 64
        + l.max_pipes * (4 * l.max_name + 8)
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let limits = if sel & 0x80 != 0 {
        Limits {
            max_message: 4096,
            max_pipes: 4,
            max_pending: 8,
            max_trees: 4,
            max_name: 32,
            max_compound: 8,
            max_andx: 4,
        }
    } else {
        Limits {
            max_message: 65536,
            ..Limits::default()
        }
    };
    let mid = sel & 0x40 != 0;
    let mut c = SmbConnection::new(limits, mid);
    let mut seen = Seen::default();
    // Bounded by the input: each record consumes at least 3 bytes.
    while rest.len() >= 3 {
        let flags = rest[0];
        let len = usize::from(u16::from_le_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let body = &rest[3..3 + len];
        rest = &rest[3 + len..];
        let dir = if flags & 1 != 0 {
            Dir::ToClient
        } else {
            Dir::ToServer
        };
        if flags & 2 != 0 {
            c.gap(dir, &mut |e| seen.event(e));
        }
        for chunk in Chunker::new(sel, body) {
            c.data(dir, chunk, &mut |e| seen.event(e));
            assert!(c.pipes() <= limits.max_pipes, "pipe table over its limit");
            assert!(
                c.held() <= bound(&limits),
                "held {} over {}",
                c.held(),
                bound(&limits)
            );
        }
        if flags & 4 != 0 {
            c.finish(&mut |e| seen.event(e));
            assert!(
                seen.live.is_empty(),
                "pipes left open after the end: {:?}",
                seen.live
            );
            assert_eq!(c.pipes(), 0);
            c = SmbConnection::new(limits, mid);
            seen = Seen::default();
        }
    }
    c.finish(&mut |e| seen.event(e));
    assert!(
        seen.live.is_empty(),
        "pipes left open after the end: {:?}",
        seen.live
    );
});
