//! Transport framing of SMB over TCP: the NetBIOS session service of RFC 1002 section 4.3
//! (port 139: a type byte, a flags byte whose bit 0 extends the length to 17 bits, a 16-bit
//! big-endian length) and SMB2's direct TCP transport (MS-SMB2 2.1, port 445: a zero byte and
//! a 24-bit big-endian length). A session message (type 0x00) carries one SMB message; both
//! framings read the same when the length is taken as 24 bits. Session request (0x81),
//! positive and negative responses (0x82, 0x83), retarget (0x84) and keep-alive (0x85) are
//! control packets.
//!
//! The framer holds at most one message (up to the connection's `max_message`), or only its
//! first 128 bytes (`PEEK`) when the caller's verdict on that head is to skip it (bulk file
//! data it does not need) or the message is over the limit. After a capture gap or an unknown
//! packet type it resynchronises on the next bytes that look like a session message holding
//! an SMB header (`00 LL LL LL` then `FF|FE|FD|FC 'S' 'M' 'B'`).

/// Bytes of a message's head shown to the verdict before the rest is kept or skipped: enough
/// for the SMB2 header and the fixed fields that name a file.
pub(crate) const PEEK: usize = 128;

/// Session message type.
pub const NBSS_MESSAGE: u8 = 0x00;
/// Session request (RFC 1002 4.3.2).
pub const NBSS_REQUEST: u8 = 0x81;
/// Positive session response.
pub const NBSS_POSITIVE: u8 = 0x82;
/// Negative session response.
pub const NBSS_NEGATIVE: u8 = 0x83;
/// Retarget session response.
pub const NBSS_RETARGET: u8 = 0x84;
/// Session keep-alive.
pub const NBSS_KEEPALIVE: u8 = 0x85;

/// Whether the caller wants the rest of a message it has seen the head of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Keep the whole message (up to the limit).
    Keep,
    /// Skip the rest without holding it.
    Skip,
}

/// What the framer found.
#[derive(Debug)]
pub(crate) enum Unit<'a> {
    /// The head of a message longer than [`PEEK`]: the caller answers with a verdict.
    Head { head: &'a [u8], total: usize },
    /// A whole SMB message, or only its head when `truncated` (kept over the limit).
    Message { bytes: &'a [u8], truncated: bool },
    /// A NetBIOS control packet (its payload, such as a session request's names, is
    /// skipped).
    Control,
    /// Framing failed (the code says why); the framer resynchronises.
    Anomaly(&'static str),
    /// The framer found a frame start again after a gap or an anomaly.
    Resynced,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the 4-byte header (`have` bytes of it so far).
    Len { have: usize },
    /// Reading a body of `total` bytes; `keep` of them are held, the rest skipped.
    Body {
        kind: u8,
        total: usize,
        seen: usize,
        keep: usize,
        verdict: Option<Verdict>,
    },
    /// Looking for a frame start.
    Resync,
}

/// One direction's framer.
#[derive(Debug)]
pub(crate) struct Framer {
    state: State,
    hdr: [u8; 4],
    /// The message (or its head) being read; in `Resync`, the last bytes of the previous
    /// chunk (fewer than 8).
    buf: Vec<u8>,
    /// Bytes of messages seen but not held.
    pub(crate) skipped: u64,
}

/// Does `b` start with a session message header followed by an SMB protocol id?
pub fn frame_start(b: &[u8]) -> bool {
    match b.get(..8) {
        Some(&[0, l1, l2, l3, 0xFC..=0xFF, b'S', b'M', b'B']) => {
            u32::from_be_bytes([0, l1, l2, l3]) >= 4
        }
        _ => false,
    }
}

impl Framer {
    /// A framer at the start of a stream, or resynchronising (`mid_stream`).
    pub(crate) fn new(mid_stream: bool) -> Self {
        Framer {
            state: if mid_stream {
                State::Resync
            } else {
                State::Len { have: 0 }
            },
            hdr: [0; 4],
            buf: Vec::new(),
            skipped: 0,
        }
    }

    /// Bytes held.
    pub(crate) fn held(&self) -> usize {
        self.buf.len()
    }

    /// The stream lost bytes: drop the partial message and resynchronise.
    pub(crate) fn gap(&mut self) {
        self.buf = Vec::new();
        self.state = State::Resync;
    }

    /// Feeds stream bytes; `on` sees each unit and answers heads with a verdict (its answer
    /// to other units is ignored).
    pub(crate) fn feed(
        &mut self,
        input: &[u8],
        max_message: usize,
        on: &mut dyn FnMut(Unit<'_>) -> Verdict,
    ) {
        // The last bytes of the previous chunk, when it ended while resynchronising, go in
        // front (the only time bytes are copied to scan them).
        let joined;
        let mut data = input;
        if self.state == State::Resync && !self.buf.is_empty() {
            let mut j = std::mem::take(&mut self.buf);
            j.extend_from_slice(input);
            joined = j;
            data = &joined;
        }
        // Bounded: every turn consumes bytes of `data` or returns.
        while !data.is_empty() {
            match self.state {
                State::Resync => {
                    let scan = data.len().saturating_sub(7);
                    match (0..scan).find(|&i| data.get(i..).is_some_and(frame_start)) {
                        Some(i) => {
                            data = data.get(i..).unwrap_or_default();
                            self.state = State::Len { have: 0 };
                            on(Unit::Resynced);
                        }
                        None => {
                            self.buf = data.get(scan..).unwrap_or_default().to_vec();
                            return;
                        }
                    }
                }
                State::Len { have } => {
                    let take = (4 - have).min(data.len());
                    let (head, rest) = data.split_at(take);
                    if let Some(dst) = self.hdr.get_mut(have..have + take) {
                        dst.copy_from_slice(head);
                    }
                    data = rest;
                    if have + take < 4 {
                        self.state = State::Len { have: have + take };
                        continue;
                    }
                    let [kind, b1, b2, b3] = self.hdr;
                    let total = match kind {
                        NBSS_MESSAGE => u32::from_be_bytes([0, b1, b2, b3]) as usize,
                        NBSS_REQUEST..=NBSS_KEEPALIVE if b1 & 0xFE == 0 => {
                            (usize::from(b1 & 1) << 16) | usize::from(u16::from_be_bytes([b2, b3]))
                        }
                        NBSS_REQUEST..=NBSS_KEEPALIVE => {
                            on(Unit::Anomaly("netbios_bad_flags"));
                            self.state = State::Resync;
                            continue;
                        }
                        _ => {
                            on(Unit::Anomaly("netbios_bad_type"));
                            self.state = State::Resync;
                            continue;
                        }
                    };
                    if total == 0 {
                        if kind != NBSS_MESSAGE {
                            on(Unit::Control);
                        }
                        self.state = State::Len { have: 0 };
                        continue;
                    }
                    let keep = if kind == NBSS_MESSAGE {
                        total.min(max_message.max(PEEK))
                    } else {
                        0
                    };
                    // A message small enough needs no verdict.
                    let verdict = (kind != NBSS_MESSAGE || total <= PEEK).then_some(Verdict::Keep);
                    self.buf.clear();
                    self.state = State::Body {
                        kind,
                        total,
                        seen: 0,
                        keep: if verdict.is_some() { keep } else { PEEK },
                        verdict,
                    };
                }
                State::Body {
                    kind,
                    total,
                    seen,
                    mut keep,
                    mut verdict,
                } => {
                    let take = (total - seen).min(data.len());
                    let (chunk, rest) = data.split_at(take);
                    data = rest;
                    let room = keep.saturating_sub(self.buf.len()).min(chunk.len());
                    self.buf
                        .extend_from_slice(chunk.get(..room).unwrap_or_default());
                    self.skipped += (chunk.len() - room) as u64;
                    let seen = seen + take;
                    if verdict.is_none() && self.buf.len() >= PEEK {
                        let v = on(Unit::Head {
                            head: &self.buf,
                            total,
                        });
                        verdict = Some(v);
                        keep = match v {
                            Verdict::Keep => total.min(max_message),
                            Verdict::Skip => 0,
                        };
                        if v == Verdict::Skip || total > max_message {
                            // The head goes out now (truncated when kept over the limit);
                            // the rest is skipped.
                            if v == Verdict::Keep {
                                on(Unit::Message {
                                    bytes: &self.buf,
                                    truncated: true,
                                });
                            }
                            self.skipped += self.buf.len() as u64;
                            self.buf.clear();
                            keep = 0;
                        }
                        // What this chunk held beyond the head is handled like the rest.
                        let extra = chunk.len().saturating_sub(room);
                        if extra > 0 && keep > 0 {
                            let more = chunk.get(room..).unwrap_or_default();
                            let n = keep.saturating_sub(self.buf.len()).min(more.len());
                            self.buf
                                .extend_from_slice(more.get(..n).unwrap_or_default());
                            self.skipped = self.skipped.saturating_sub(n as u64);
                        }
                    }
                    if seen < total {
                        self.state = State::Body {
                            kind,
                            total,
                            seen,
                            keep,
                            verdict,
                        };
                        continue;
                    }
                    if kind != NBSS_MESSAGE {
                        on(Unit::Control);
                    } else if keep > 0 && !self.buf.is_empty() {
                        on(Unit::Message {
                            bytes: &self.buf,
                            truncated: self.buf.len() < total,
                        });
                    }
                    self.buf.clear();
                    if self.buf.capacity() > 64 * 1024 {
                        self.buf = Vec::new();
                    }
                    self.state = State::Len { have: 0 };
                }
            }
        }
    }
}
