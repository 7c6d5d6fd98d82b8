//! Helpers shared by the fuzz targets: input chunking, a toy security mechanism that lets the
//! fuzzer reach the signing and sealing paths, and invariant checks on what the protocol core
//! emits. Nothing here is used outside `fuzz/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::ops::Range;

use msrpc_proto::pdu::{AuthLayout, AuthType, PacketType, Pdu};
use msrpc_proto::security::{AuthStep, SecurityError, SecurityProvider};

/// Splits a byte stream into chunks whose sizes a selector byte picks.
///
/// Selector bits 0-5: 0 feeds everything at once; otherwise bits 0-2 pick the largest chunk
/// (1, 2, 3, 5, 16, 100, 1500, 6000 bytes) and bits 0-5 seed the size sequence. Bits 6 and 7
/// are left to the targets as mode flags.
pub struct Chunker<'a> {
    data: &'a [u8],
    whole: bool,
    max: u32,
    state: u32,
}

impl<'a> Chunker<'a> {
    /// Chunks `data` according to `selector`.
    pub fn new(selector: u8, data: &'a [u8]) -> Self {
        const MAX: [u32; 8] = [1, 2, 3, 5, 16, 100, 1500, 6000];
        let sel = selector & 0x3f;
        Chunker {
            data,
            whole: sel == 0,
            max: MAX[usize::from(sel & 7)],
            state: (u32::from(sel) | 0x100).wrapping_mul(0x9e37_79b9) | 1,
        }
    }
}

impl<'a> Iterator for Chunker<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.data.is_empty() {
            return None;
        }
        let n = if self.whole {
            self.data.len()
        } else {
            // xorshift32
            self.state ^= self.state << 13;
            self.state ^= self.state >> 17;
            self.state ^= self.state << 5;
            (1 + self.state % self.max) as usize
        };
        let n = n.min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Some(head)
    }
}

/// A toy mechanism: NTLM-like (two legs) for `WINNT`, one leg for everything else. A token
/// starting with `0xEE` fails the leg; a signature starting with `0xFF` fails verification;
/// sealing XORs the data with `0xA5`. It checks the ranges the core hands it, so a core that
/// passes a range outside the PDU is caught here (a real mechanism would slice with it).
pub struct ToyProvider {
    auth_type: AuthType,
    legs_left: u8,
    established: bool,
}

/// Signature length of [`ToyProvider`].
pub const TOY_SIG_LEN: usize = 16;

impl ToyProvider {
    /// A fresh provider for `auth_type`.
    pub fn new(auth_type: AuthType) -> Self {
        let legs = if auth_type == AuthType::WINNT { 2 } else { 1 };
        ToyProvider { auth_type, legs_left: legs, established: false }
    }

    fn check(pdu_len: usize, data: &Range<usize>) {
        assert!(
            data.start <= data.end && data.end <= pdu_len,
            "core passed data range {data:?} for a {pdu_len}-byte PDU"
        );
    }
}

impl SecurityProvider for ToyProvider {
    fn auth_type(&self) -> AuthType {
        self.auth_type
    }

    fn step(&mut self, input: Option<&[u8]>) -> Result<AuthStep, SecurityError> {
        if self.established {
            return Err(SecurityError::NotReady("already established"));
        }
        if input.and_then(|i| i.first()) == Some(&0xee) {
            return Err(SecurityError::MalformedToken("toy: 0xEE".into()));
        }
        self.legs_left = self.legs_left.saturating_sub(1);
        if self.legs_left == 0 {
            self.established = true;
            Ok(AuthStep::Done(if input.is_none() { Some(vec![0x70; 8]) } else { None }))
        } else {
            Ok(AuthStep::Continue(vec![0x71; 12]))
        }
    }

    fn is_established(&self) -> bool {
        self.established
    }

    fn peer_name(&self) -> Option<String> {
        self.established.then(|| "toy\\user".to_string())
    }

    fn signature_len(&self) -> usize {
        TOY_SIG_LEN
    }

    fn sign(&mut self, pdu: &[u8], data: Range<usize>) -> Result<Vec<u8>, SecurityError> {
        Self::check(pdu.len(), &data);
        Ok(vec![0x5a; TOY_SIG_LEN])
    }

    fn verify(&mut self, pdu: &[u8], data: Range<usize>, signature: &[u8]) -> Result<(), SecurityError> {
        Self::check(pdu.len(), &data);
        if signature.first() == Some(&0xff) {
            return Err(SecurityError::BadSignature);
        }
        Ok(())
    }

    fn seal(&mut self, pdu: &mut [u8], data: Range<usize>) -> Result<Vec<u8>, SecurityError> {
        Self::check(pdu.len(), &data);
        for b in &mut pdu[data] {
            *b ^= 0xa5;
        }
        Ok(vec![0x5a; TOY_SIG_LEN])
    }

    fn unseal(&mut self, pdu: &mut [u8], data: Range<usize>, signature: &[u8]) -> Result<(), SecurityError> {
        Self::check(pdu.len(), &data);
        if signature.first() == Some(&0xff) {
            return Err(SecurityError::BadSignature);
        }
        for b in &mut pdu[data] {
            *b ^= 0xa5;
        }
        Ok(())
    }
}

/// Checks what [`AuthLayout::parse`] says about `data`: the regions are in order, adjacent
/// and inside the buffer.
pub fn check_auth_layout(data: &[u8]) {
    if let Ok(Some(l)) = AuthLayout::parse(data) {
        assert!(l.stub.start <= l.stub.end, "stub {l:?}");
        assert_eq!(l.stub.end, l.pad.start, "stub/pad {l:?}");
        assert!(l.pad.start <= l.pad.end, "pad {l:?}");
        assert_eq!(l.pad.end, l.trailer.start, "pad/trailer {l:?}");
        assert_eq!(l.trailer.len(), msrpc_proto::pdu::SEC_TRAILER_LEN, "trailer {l:?}");
        assert_eq!(l.trailer.end, l.auth_value.start, "trailer/auth {l:?}");
        assert!(l.auth_value.start <= l.auth_value.end && l.auth_value.end <= data.len(), "auth {l:?} len {}", data.len());
    }
}

/// Checks a fragment the core queued for sending: it must decode, and a response fragment
/// must fit `max_frag`.
pub fn check_outgoing(frame: &[u8], max_frag: usize) {
    let pdu = match Pdu::decode(frame) {
        Ok(p) => p,
        Err(e) => panic!("core emitted an undecodable fragment ({e}): {}", hex(frame)),
    };
    if pdu.header.ptype == PacketType::RESPONSE || pdu.header.ptype == PacketType::REQUEST {
        assert!(frame.len() <= max_frag, "{} byte fragment exceeds negotiated {max_frag}", frame.len());
    }
    check_auth_layout(frame);
}

/// Lower-case hex of `b`.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
