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

/// True when `MSRPC_FUZZ_STRICT` is set: known, reported findings (see [`known_finding`]) fail
/// the targets too (what `scripts/fuzz.sh regressions` uses).
pub fn strict() -> bool {
    static STRICT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os("MSRPC_FUZZ_STRICT").is_some_and(|v| v != "0"))
}

/// Findings already reported and not fixed yet, tolerated (outside strict mode) so that fuzzing
/// can go past them. Each has a regression input in `fuzz/regressions/`; remove the case here
/// once the bug is fixed.
///
/// None are open: F1 (embedded NUL in strings, fuzz/README.md) is fixed and its inputs are
/// regression files.
pub fn known_finding(_e: &msrpc_ndr::EncodeError) -> bool {
    false
}

/// Limits for request decoding in the NDR targets: small enough that the limit paths are
/// reachable with inputs of fuzzer size.
pub const NDR_LIMITS: msrpc_ndr::DecodeLimits = msrpc_ndr::DecodeLimits {
    max_depth: 16,
    max_elements: 64 * 1024,
    max_alloc_bytes: 1024 * 1024,
};

/// Limits for decoding what our own server encoded (responses may legitimately be larger than
/// the request that sized them).
pub const RESPONSE_LIMITS: msrpc_ndr::DecodeLimits = msrpc_ndr::DecodeLimits::DEFAULT;

/// The input of an NDR target, split: see the ndr_* targets' docs.
pub struct NdrInput<'a> {
    /// Operation number (bits 0-4 of the first byte).
    pub opnum: u16,
    /// Bit 5 of the first byte (ndr_epm: the mgmt interface).
    pub alt_interface: bool,
    /// Data representation (second byte: even little-endian, odd big-endian).
    pub drep: msrpc_ndr::DataRep,
    /// Transfer syntax (bit 7 of the first byte: 0 NDR20, 1 NDR64): every stub is decoded,
    /// dispatched and re-encoded in it.
    pub syntax: msrpc_ndr::TransferSyntax,
    /// The request stub.
    pub request: &'a [u8],
    /// In response mode (bit 6), the response stub to decode against `request`.
    pub response: Option<&'a [u8]>,
}

impl<'a> NdrInput<'a> {
    /// Splits `data`; `None` when it is too short.
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let (&op, rest) = data.split_first()?;
        let (&d, rest) = rest.split_first()?;
        let drep = if d & 1 == 0 { msrpc_ndr::DataRep::LITTLE_ENDIAN } else { msrpc_ndr::DataRep::BIG_ENDIAN };
        let opnum = u16::from(op & 0x1f);
        let alt_interface = op & 0x20 != 0;
        let syntax = if op & 0x80 == 0 { msrpc_ndr::TransferSyntax::Ndr20 } else { msrpc_ndr::TransferSyntax::Ndr64 };
        if op & 0x40 == 0 {
            return Some(NdrInput { opnum, alt_interface, drep, syntax, request: rest, response: None });
        }
        let len = usize::from(u16::from_le_bytes([*rest.first()?, *rest.get(1)?]));
        let rest = &rest[2..];
        let split = len.min(rest.len());
        let (request, response) = rest.split_at(split);
        Some(NdrInput { opnum, alt_interface, drep, syntax, request, response: Some(response) })
    }
}

/// Runs one request through a generated dispatcher.
pub fn dispatch<D: msrpc_proto::dispatch::Dispatch>(
    server: &D,
    opnum: u16,
    stub: &[u8],
    drep: msrpc_ndr::DataRep,
) -> Result<Vec<u8>, msrpc_proto::dispatch::DispatchError> {
    let ctx = msrpc_proto::dispatch::CallContext { call_id: 1, opnum, ..Default::default() };
    dispatch_ctx(server, ctx, stub, drep)
}

/// Runs one request through a generated dispatcher with a given call context.
pub fn dispatch_ctx<D: msrpc_proto::dispatch::Dispatch>(
    server: &D,
    ctx: msrpc_proto::dispatch::CallContext,
    stub: &[u8],
    drep: msrpc_ndr::DataRep,
) -> Result<Vec<u8>, msrpc_proto::dispatch::DispatchError> {
    futures::executor::block_on(server.dispatch(ctx, stub.to_vec(), drep, NDR_LIMITS))
}

/// [`dispatch_ctx`] in transfer syntax `syntax` (`Dispatch::dispatch_in`, as the runtime calls
/// it for a call on a presentation context of that syntax).
pub fn dispatch_ctx_in<D: msrpc_proto::dispatch::Dispatch>(
    server: &D,
    ctx: msrpc_proto::dispatch::CallContext,
    stub: &[u8],
    drep: msrpc_ndr::DataRep,
    syntax: msrpc_ndr::TransferSyntax,
) -> Result<Vec<u8>, msrpc_proto::dispatch::DispatchError> {
    futures::executor::block_on(server.dispatch_in(ctx, stub.to_vec(), drep, syntax, NDR_LIMITS))
}

/// Checks one operation of a generated interface on a fuzz input, in its transfer syntax:
/// - the dispatcher (`dispatch_in`) refuses with `BadStub` exactly when `Request::from_stub_in` fails;
/// - a decoded request re-encodes and decodes to the same value;
/// - what the dispatcher encoded decodes as the operation's response;
/// - in response mode, a decoded response re-encodes and decodes to the same value.
#[macro_export]
macro_rules! check_op {
    ($server:expr, $input:expr, $req:ty, $resp:ty) => {{
        let ctx = msrpc_proto::dispatch::CallContext { call_id: 1, opnum: ($input).opnum, ..Default::default() };
        $crate::check_op!($server, $input, $req, $resp, ctx)
    }};
    ($server:expr, $input:expr, $req:ty, $resp:ty, $ctx:expr) => {{
        let input: &$crate::NdrInput<'_> = $input;
        let (drep, syntax) = (input.drep, input.syntax);
        let decoded = <$req>::from_stub_in(input.request, drep, syntax, $crate::NDR_LIMITS);
        match input.response {
            None => {
                let out = $crate::dispatch_ctx_in($server, $ctx, input.request, drep, syntax);
                match (&decoded, &out) {
                    (Err(_), Err(msrpc_proto::dispatch::DispatchError::BadStub(_))) => {}
                    (Err(e), other) => panic!("from_stub failed ({e}) but dispatch gave {other:?}"),
                    (Ok(_), Err(msrpc_proto::dispatch::DispatchError::BadStub(e))) => {
                        panic!("from_stub succeeded but dispatch says bad stub: {e}")
                    }
                    _ => {}
                }
                if let Ok(req) = &decoded {
                    let enc = match req.to_stub_in(drep, syntax) {
                        Ok(b) => b,
                        Err(e) if $crate::known_finding(&e) => return,
                        Err(e) => panic!("decoded request does not re-encode ({e}): {req:?}"),
                    };
                    match <$req>::from_stub_in(&enc, drep, syntax, $crate::NDR_LIMITS) {
                        Ok(back) => assert_eq!(&back, req, "request round trip; re-encoded {}", $crate::hex(&enc)),
                        Err(e) => panic!("re-encoded request does not decode ({e}): {}", $crate::hex(&enc)),
                    }
                    if let Ok(bytes) = &out {
                        if let Err(e) = <$resp>::from_stub_in(bytes, drep, syntax, $crate::RESPONSE_LIMITS, req) {
                            panic!("our response does not decode ({e}): {}\nrequest {req:?}", $crate::hex(bytes));
                        }
                    }
                }
            }
            Some(resp_bytes) => {
                let Ok(req) = decoded else { return };
                let Ok(resp) = <$resp>::from_stub_in(resp_bytes, drep, syntax, $crate::NDR_LIMITS, &req) else { return };
                let enc = match resp.to_stub_in(&req, drep, syntax) {
                    Ok(b) => b,
                    Err(e) if $crate::known_finding(&e) => return,
                    Err(e) => panic!("decoded response does not re-encode ({e}): {resp:?}\nrequest {req:?}"),
                };
                match <$resp>::from_stub_in(&enc, drep, syntax, $crate::NDR_LIMITS, &req) {
                    Ok(back) => assert_eq!(back, resp, "response round trip; re-encoded {}", $crate::hex(&enc)),
                    Err(e) => panic!("re-encoded response does not decode ({e}): {}", $crate::hex(&enc)),
                }
            }
        }
    }};
}
