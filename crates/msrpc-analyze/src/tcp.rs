//! One direction of a TCP stream, reassembled from captured segments.
//!
//! In-order bytes are passed on at once; a segment ahead of the expected sequence number waits
//! in a bounded out-of-order buffer; bytes already passed on (retransmissions, overlaps) are
//! dropped (the first copy wins). A hole is declared a *gap* (the capture missed those bytes)
//! when the other direction acknowledges data beyond it, when the out-of-order buffer
//! overflows its caps, or when the stream ends; the consumer is then told how many bytes are
//! missing and the stream resumes at the next buffered segment.

/// What the reassembler hands on.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Contiguous bytes, in stream order.
    Data(&'a [u8]),
    /// Bytes the capture does not have (count).
    Gap(u64),
}

/// Per-direction counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Bytes passed on in order.
    pub bytes: u64,
    /// Gaps declared.
    pub gaps: u64,
    /// Bytes missing in those gaps.
    pub gap_bytes: u64,
    /// Segments that carried only bytes already passed on.
    pub retransmissions: u64,
    /// Segments that arrived ahead of a hole and waited.
    pub out_of_order: u64,
}

/// Caps of the out-of-order buffer.
#[derive(Clone, Copy, Debug)]
pub struct Caps {
    /// Bytes held.
    pub bytes: usize,
    /// Segments held.
    pub segments: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            bytes: 1024 * 1024,
            segments: 512,
        }
    }
}

/// Signed distance from `b` to `a` in sequence space.
fn diff(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

/// One direction's reassembler.
#[derive(Debug, Default)]
pub struct Reassembler {
    next: Option<u32>,
    pending: Vec<(u32, Vec<u8>)>,
    pending_bytes: usize,
    caps: Caps,
    /// Counters.
    pub stats: StreamStats,
}

impl Reassembler {
    /// A reassembler with the given caps.
    pub fn new(caps: Caps) -> Self {
        Reassembler {
            caps,
            ..Default::default()
        }
    }

    /// Bytes waiting in the out-of-order buffer.
    pub fn buffered(&self) -> usize {
        self.pending_bytes
    }

    /// A SYN with initial sequence number `isn` was seen: data starts at `isn + 1`.
    pub fn syn(&mut self, isn: u32) {
        if self.next.is_none() {
            self.next = Some(isn.wrapping_add(1));
        }
    }

    /// A segment's payload at sequence number `seq`.
    pub fn segment(&mut self, seq: u32, payload: &[u8], out: &mut dyn FnMut(Chunk<'_>)) {
        if payload.is_empty() {
            return;
        }
        let next = *self.next.get_or_insert(seq);
        let d = diff(seq, next);
        if d <= 0 {
            let skip = d.unsigned_abs();
            match usize::try_from(skip).ok().and_then(|s| payload.get(s..)) {
                Some(fresh) if !fresh.is_empty() => {
                    self.emit(fresh, out);
                    self.drain(out);
                }
                _ => self.stats.retransmissions += 1,
            }
            return;
        }
        // Ahead of a hole: keep it (unless the same bytes are already waiting).
        if self
            .pending
            .iter()
            .any(|(s, d)| *s == seq && d.len() >= payload.len())
        {
            self.stats.retransmissions += 1;
            return;
        }
        self.stats.out_of_order += 1;
        self.pending.push((seq, payload.to_vec()));
        self.pending_bytes += payload.len();
        // Bounded: each skip removes at least one pending segment.
        while self.pending_bytes > self.caps.bytes || self.pending.len() > self.caps.segments {
            if !self.skip_gap(out) {
                break;
            }
        }
    }

    /// The other direction acknowledged up to `ack`: a hole below it will never be filled
    /// from this capture.
    pub fn acked(&mut self, ack: u32, out: &mut dyn FnMut(Chunk<'_>)) {
        let Some(next) = self.next else { return };
        if self.pending.is_empty() || diff(ack, next) <= 0 {
            return;
        }
        // Bounded: each skip removes at least one pending segment.
        while let Some(next) = self.next {
            if self.pending.is_empty() || diff(ack, next) <= 0 {
                break;
            }
            if !self.skip_gap(out) {
                break;
            }
        }
    }

    /// The stream ended: whatever waits behind a hole is passed on after a gap.
    pub fn finish(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        while !self.pending.is_empty() {
            if !self.skip_gap(out) {
                break;
            }
        }
    }

    fn emit(&mut self, data: &[u8], out: &mut dyn FnMut(Chunk<'_>)) {
        self.stats.bytes += data.len() as u64;
        if let Some(n) = self.next.as_mut() {
            *n = n.wrapping_add(data.len() as u32);
        }
        out(Chunk::Data(data));
    }

    /// Passes on every waiting segment that the expected sequence number has reached.
    fn drain(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        // Bounded: each iteration removes one pending segment.
        while let Some(next) = self.next {
            let Some(i) = self.pending.iter().position(|(s, _)| diff(*s, next) <= 0) else {
                return;
            };
            let (seq, data) = self.pending.swap_remove(i);
            self.pending_bytes -= data.len();
            let skip = diff(next, seq).unsigned_abs();
            match usize::try_from(skip).ok().and_then(|s| data.get(s..)) {
                Some(fresh) if !fresh.is_empty() => self.emit(fresh, out),
                _ => self.stats.retransmissions += 1,
            }
        }
    }

    /// Jumps over the hole to the nearest waiting segment. False when nothing waits.
    fn skip_gap(&mut self, out: &mut dyn FnMut(Chunk<'_>)) -> bool {
        let Some(next) = self.next else { return false };
        let Some(&(seq, _)) = self.pending.iter().min_by_key(|(s, _)| diff(*s, next)) else {
            return false;
        };
        let missing = diff(seq, next).max(0).unsigned_abs();
        self.stats.gaps += 1;
        self.stats.gap_bytes += missing;
        out(Chunk::Gap(missing));
        self.next = Some(seq);
        self.drain(out);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(r: &mut Reassembler, segs: &[(u32, &[u8])]) -> (Vec<u8>, Vec<u64>) {
        let mut data = Vec::new();
        let mut gaps = Vec::new();
        for (s, p) in segs {
            r.segment(*s, p, &mut |c| match c {
                Chunk::Data(d) => data.extend_from_slice(d),
                Chunk::Gap(n) => gaps.push(n),
            });
        }
        r.finish(&mut |c| match c {
            Chunk::Data(d) => data.extend_from_slice(d),
            Chunk::Gap(n) => gaps.push(n),
        });
        (data, gaps)
    }

    #[test]
    fn in_order_reorder_duplicate_overlap() {
        let mut r = Reassembler::default();
        r.syn(99);
        let (d, g) = run(
            &mut r,
            &[
                (100, b"abc"),
                (106, b"ghi"),  // ahead
                (103, b"def"),  // fills the hole
                (100, b"abc"),  // retransmission
                (104, b"efgh"), // overlap, nothing new
                (107, b"hijkl"),
            ],
        );
        assert_eq!(d, b"abcdefghijkl");
        assert!(g.is_empty());
        assert_eq!(r.stats.retransmissions, 2);
        assert_eq!(r.stats.out_of_order, 1);
    }

    #[test]
    fn gap_at_end_and_by_ack() {
        let mut r = Reassembler::default();
        let (d, g) = run(&mut r, &[(1000, b"ab"), (1010, b"xy")]);
        assert_eq!(d, b"abxy");
        assert_eq!(g, vec![8]);
        // An ack beyond the hole declares it at once.
        let mut r = Reassembler::default();
        let mut got = Vec::new();
        r.segment(5, b"a", &mut |_| {});
        r.segment(10, b"b", &mut |c| got.push(format!("{c:?}")));
        assert!(got.is_empty());
        r.acked(11, &mut |c| got.push(format!("{c:?}")));
        assert_eq!(got, vec!["Gap(4)", "Data([98])"]);
    }

    #[test]
    fn wraps_around_sequence_space() {
        let mut r = Reassembler::default();
        let (d, g) = run(&mut r, &[(u32::MAX - 1, b"ab"), (0, b"cd"), (2, b"e")]);
        assert_eq!(d, b"abcde");
        assert!(g.is_empty());
    }

    #[test]
    fn caps_force_a_gap() {
        let mut r = Reassembler::new(Caps {
            bytes: 10,
            segments: 100,
        });
        let (d, g) = run(&mut r, &[(0, b"a"), (5, b"0123456789"), (15, b"z")]);
        assert_eq!(d, b"a0123456789z");
        assert_eq!(g, vec![4]);
        assert!(r.buffered() == 0);
    }

    proptest! {
        /// Any permutation of the segments, with duplicates, yields the original stream with
        /// no gap; dropping segments yields the rest in order with the missing bytes counted.
        #[test]
        fn shuffled_duplicated(
            data in proptest::collection::vec(any::<u8>(), 1..400),
            cuts in proptest::collection::vec(1usize..40, 1..30),
            order in proptest::collection::vec(any::<u32>(), 0..60),
            isn in any::<u32>(),
            drop_one in any::<bool>(),
        ) {
            let mut segs = Vec::new();
            let mut at = 0usize;
            for c in cuts.iter().cycle() {
                if at >= data.len() { break; }
                let end = (at + c).min(data.len());
                segs.push((isn.wrapping_add(at as u32), at, end));
                at = end;
            }
            let n = segs.len();
            let mut sched: Vec<usize> = (0..n).collect();
            for (i, o) in order.iter().enumerate() {
                let a = i % n;
                let b = (*o as usize) % n;
                sched.swap(a, b);
                sched.push((*o as usize) % n); // duplicates
            }
            // The first segment always comes first (it fixes where the stream starts).
            let dropped = if drop_one && n > 2 { Some(n / 2) } else { None };
            let mut r = Reassembler::new(Caps { bytes: 1 << 20, segments: 1 << 12 });
            r.syn(isn.wrapping_sub(1));
            let mut out = Vec::new();
            let mut gaps = 0u64;
            for i in sched {
                if Some(i) == dropped { continue; }
                let (s, a, b) = segs[i];
                r.segment(s, &data[a..b], &mut |c| match c {
                    Chunk::Data(d) => out.extend_from_slice(d),
                    Chunk::Gap(g) => gaps += g,
                });
            }
            r.finish(&mut |c| match c {
                Chunk::Data(d) => out.extend_from_slice(d),
                Chunk::Gap(g) => gaps += g,
            });
            match dropped {
                None => {
                    prop_assert_eq!(&out, &data);
                    prop_assert_eq!(gaps, 0);
                }
                Some(i) => {
                    let (_, a, b) = segs[i];
                    let mut want = data[..a].to_vec();
                    want.extend_from_slice(&data[b..]);
                    prop_assert_eq!(&out, &want);
                    prop_assert_eq!(gaps, (b - a) as u64);
                }
            }
        }
    }
}
