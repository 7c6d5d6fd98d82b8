//! Fragmentation both ways (C706 10.2 and 12.5.3.4): a [`Sender`] splits a stub into
//! fragments sent in windows ("blasts") that end with a fragment asking for a fack, and a
//! [`Receiver`] reassembles fragments arriving in any order under limits on fragments and
//! bytes, and says what a fack reports.
//!
//! Neither knows the addresses, the timers or the call: the client and server state machines
//! do.

use std::collections::BTreeMap;

use super::pdu::{ClBody, ClFlags1, ClHeader, ClPdu, FackBody};

/// Version written in fack bodies (DCE 1.1's).
pub const FACK_VERS: u8 = 1;

/// An outgoing request or response, split into fragments.
#[derive(Debug)]
pub struct Sender {
    template: ClHeader,
    frags: Vec<Vec<u8>>,
    acked: Vec<bool>,
    window: usize,
    max_window: usize,
    serial: u16,
}

impl Sender {
    /// Splits `stub` into fragments of at most `max_body` bytes (at least 1), each sent with
    /// `template` (its ptype, flags, numbers); `window` fragments go per blast (at least 1).
    pub fn new(template: ClHeader, stub: &[u8], max_body: usize, window: usize) -> Sender {
        let max_body = max_body.clamp(1, super::pdu::MAX_BODY_LEN);
        let mut frags: Vec<Vec<u8>> = stub.chunks(max_body).map(<[u8]>::to_vec).collect();
        if frags.is_empty() {
            frags.push(Vec::new());
        }
        let n = frags.len();
        Sender {
            template,
            frags,
            acked: vec![false; n],
            window: window.max(1),
            max_window: window.max(1),
            serial: 0,
        }
    }

    /// Number of fragments.
    pub fn len(&self) -> usize {
        self.frags.len()
    }

    /// True when there are no fragments (never: an empty stub is one empty fragment).
    pub fn is_empty(&self) -> bool {
        self.frags.is_empty()
    }

    /// Stub bytes in all fragments.
    pub fn stub_len(&self) -> usize {
        self.frags.iter().map(Vec::len).sum()
    }

    /// True when the call is one fragment (no `frag` flag, no facks).
    pub fn single(&self) -> bool {
        self.frags.len() == 1
    }

    /// True when every fragment is acknowledged.
    pub fn all_acked(&self) -> bool {
        self.acked.iter().all(|a| *a)
    }

    /// Marks every fragment acknowledged (a response or a working answered the request).
    pub fn ack_all(&mut self) {
        self.acked.iter_mut().for_each(|a| *a = true);
    }

    /// The next serial number (every transmission gets one).
    fn next_serial(&mut self) -> u16 {
        let s = self.serial;
        self.serial = self.serial.wrapping_add(1);
        s
    }

    /// The PDU of fragment `i` with a fresh serial number; `fack` asks the receiver for a
    /// fack (the `nofack` flag is then clear).
    fn pdu(&mut self, i: usize, fack: bool) -> Option<ClPdu> {
        let body = self.frags.get(i)?.clone();
        let n = self.frags.len();
        let mut h = self.template;
        h.serial = self.next_serial();
        h.fragnum = u16::try_from(i).unwrap_or(u16::MAX);
        if n > 1 {
            h.flags1 = h.flags1.with(ClFlags1::FRAG);
            if i + 1 == n {
                h.flags1 = h.flags1.with(ClFlags1::LASTFRAG);
            }
            if !fack {
                h.flags1 = h.flags1.with(ClFlags1::NOFACK);
            }
        }
        let body = match self.template.ptype {
            crate::pdu::PacketType::RESPONSE => ClBody::Response(body),
            crate::pdu::PacketType::REQUEST => ClBody::Request(body),
            // fault and reject: the status bytes as they are, under the template's type
            _ => ClBody::Other(body),
        };
        Some(ClPdu {
            header: h,
            body,
            auth: Vec::new(),
        })
    }

    /// The next blast: up to a window of fragments not yet acknowledged, in order; the last
    /// of them asks for a fack.
    pub fn blast(&mut self) -> Vec<ClPdu> {
        let idx: Vec<usize> = (0..self.frags.len())
            .filter(|i| !self.acked.get(*i).copied().unwrap_or(true))
            .take(self.window)
            .collect();
        let last = idx.last().copied();
        idx.into_iter()
            .filter_map(|i| self.pdu(i, Some(i) == last))
            .collect()
    }

    /// Takes a fack (or a nocall's fack body): fragments up to `fragnum` and those its
    /// selective-ack bits name are acknowledged; the receiver's window (kilobytes) bounds the
    /// next blasts, never beyond our own window.
    pub fn on_fack(&mut self, fragnum: u16, body: Option<&FackBody>, max_body: usize) {
        let n = self.frags.len();
        // fragnum 0xffff means nothing arrived in order.
        if fragnum != u16::MAX {
            for a in self.acked.iter_mut().take(usize::from(fragnum) + 1) {
                *a = true;
            }
        }
        if let Some(f) = body {
            for i in 0..n {
                let Ok(i16) = u16::try_from(i) else { break };
                if f.acknowledges(fragnum, i16) {
                    if let Some(a) = self.acked.get_mut(i) {
                        *a = true;
                    }
                }
            }
            if f.window_size > 0 {
                let frags = (usize::from(f.window_size) * 1024) / max_body.max(1);
                self.window = frags.clamp(1, self.max_window);
            }
        }
    }

    /// Every fragment not yet acknowledged (what a nocall without a fack body asks for: the
    /// receiver has nothing).
    pub fn reset_acks(&mut self) {
        self.acked.iter_mut().for_each(|a| *a = false);
    }
}

/// Why a fragment was refused by a [`Receiver`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiveLimit {
    /// More fragments than allowed.
    Fragments,
    /// More bytes than allowed.
    Bytes,
    /// A fragment number beyond a fragment marked last.
    BeyondLast,
}

/// Reassembles one request or response from fragments in any order.
#[derive(Debug, Default)]
pub struct Receiver {
    frags: BTreeMap<u16, Vec<u8>>,
    last: Option<u16>,
    bytes: usize,
}

impl Receiver {
    /// An empty receiver.
    pub fn new() -> Receiver {
        Receiver::default()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds fragment `fragnum` (a duplicate is ignored); returns the bytes newly held.
    /// `max_frags` and `max_bytes` bound what the call may hold.
    pub fn add(
        &mut self,
        fragnum: u16,
        last: bool,
        body: &[u8],
        max_frags: usize,
        max_bytes: usize,
    ) -> Result<usize, ReceiveLimit> {
        if self.frags.contains_key(&fragnum) {
            return Ok(0);
        }
        if self.last.is_some_and(|l| fragnum > l)
            || (last && self.frags.keys().any(|k| *k > fragnum))
        {
            return Err(ReceiveLimit::BeyondLast);
        }
        if self.frags.len() >= max_frags {
            return Err(ReceiveLimit::Fragments);
        }
        if self.bytes.saturating_add(body.len()) > max_bytes {
            return Err(ReceiveLimit::Bytes);
        }
        if last {
            self.last = Some(fragnum);
        }
        self.frags.insert(fragnum, body.to_vec());
        self.bytes = self.bytes.saturating_add(body.len());
        Ok(body.len())
    }

    /// True when fragments 0 to the last are all here.
    pub fn complete(&self) -> bool {
        self.last
            .is_some_and(|l| self.frags.len() == usize::from(l) + 1)
    }

    /// The highest fragment number received in order (0xffff when fragment 0 is missing) and
    /// the selective-ack words for the fragments received beyond it (C706 12.5.3.4).
    pub fn fack_state(&self) -> (u16, Vec<u32>) {
        let mut in_order: u16 = u16::MAX;
        for k in self.frags.keys() {
            if *k == in_order.wrapping_add(1) {
                in_order = *k;
            } else {
                break;
            }
        }
        let mut selack: Vec<u32> = Vec::new();
        for k in self.frags.keys() {
            if in_order != u16::MAX && *k <= in_order {
                continue;
            }
            let bit = k.wrapping_sub(in_order).wrapping_sub(1);
            let word = usize::from(bit / 32);
            // Words cover at most 8 (256 fragments beyond the in-order point).
            if word >= 8 {
                break;
            }
            if selack.len() <= word {
                selack.resize(word + 1, 0);
            }
            if let Some(w) = selack.get_mut(word) {
                *w |= 1 << (bit % 32);
            }
        }
        (in_order, selack)
    }

    /// A fack body for the fragment of serial `serial`, advertising `window_kb`.
    pub fn fack_body(&self, serial: u16, window_kb: u16, max_frag: u32) -> (u16, FackBody) {
        let (fragnum, selack) = self.fack_state();
        (
            fragnum,
            FackBody {
                vers: FACK_VERS,
                window_size: window_kb,
                max_tsdu: 65_507,
                max_frag_size: max_frag,
                serial_num: serial,
                selack,
            },
        )
    }

    /// The stub, when complete.
    pub fn assemble(self) -> Option<Vec<u8>> {
        if !self.complete() {
            return None;
        }
        let mut out = Vec::with_capacity(self.bytes);
        for f in self.frags.into_values() {
            out.extend_from_slice(&f);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_fragments_reassemble_and_fack_reports_the_holes() {
        let mut r = Receiver::new();
        assert_eq!(r.add(1, false, b"bb", 10, 100), Ok(2));
        assert_eq!(r.fack_state(), (u16::MAX, vec![0b10]));
        assert_eq!(r.add(0, false, b"aa", 10, 100), Ok(2));
        assert_eq!(r.add(3, true, b"d", 10, 100), Ok(1));
        assert_eq!(r.fack_state(), (1, vec![0b10]));
        assert!(!r.complete());
        assert_eq!(
            r.add(5, false, b"x", 10, 100),
            Err(ReceiveLimit::BeyondLast)
        );
        assert_eq!(r.add(2, false, b"c", 10, 100), Ok(1));
        assert_eq!(r.add(2, false, b"c", 10, 100), Ok(0));
        assert_eq!(r.assemble().unwrap(), b"aabbcd");
    }

    #[test]
    fn limits_refuse_fragments_and_bytes() {
        let mut r = Receiver::new();
        r.add(0, false, b"aaaa", 2, 6).unwrap();
        assert_eq!(r.add(1, false, b"aaaa", 2, 6), Err(ReceiveLimit::Bytes));
        r.add(1, false, b"a", 2, 6).unwrap();
        assert_eq!(r.add(2, false, b"", 2, 6), Err(ReceiveLimit::Fragments));
    }

    #[test]
    fn sender_blasts_a_window_and_resends_what_a_fack_leaves_out() {
        let mut s = Sender::new(ClHeader::default(), &[0u8; 10], 2, 2);
        assert_eq!(s.len(), 5);
        let b = s.blast();
        assert_eq!(
            b.iter().map(|p| p.header.fragnum).collect::<Vec<_>>(),
            [0, 1]
        );
        assert!(b[0].header.flags1.contains(ClFlags1::NOFACK));
        assert!(!b[1].header.flags1.contains(ClFlags1::NOFACK));
        // fragment 0 arrived, 1 lost, the receiver also has 2 (bit 0 = fragment 1 is clear)
        let mut r = Receiver::new();
        r.add(0, false, b"", 9, 99).unwrap();
        r.add(2, false, b"", 9, 99).unwrap();
        let (n, f) = r.fack_body(1, 0, 1000);
        s.on_fack(n, Some(&f), 2);
        let b = s.blast();
        assert_eq!(
            b.iter().map(|p| p.header.fragnum).collect::<Vec<_>>(),
            [1, 3]
        );
        assert!(b.iter().all(|p| p.header.serial >= 2));
        s.on_fack(4, None, 2);
        assert!(s.all_acked());
    }
}
