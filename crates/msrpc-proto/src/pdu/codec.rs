//! PDU encode and decode (C706 12.6, MS-RPCE 2.2.2).
//!
//! Decoding never panics and never trusts a length it has not checked against the bytes
//! present: every read goes through a bounded cursor, and every way a frame can be malformed
//! has its own [`PduError`] variant with a stable [`PduError::reason_code`] for audit records.
//! Encoding errors are ours, not the peer's, and have their own type, [`EncodeError`].

use std::ops::Range;

use msrpc_ndr::{DataRep, Endian, Uuid};

use super::{
    AuthLevel, AuthType, AuthVerifier, Bind, BindAck, BindNak, BindNakReason, Body, ContextElement,
    ContextResult, ContextResultEntry, Fault, FaultStatus, Header, PacketType, Pdu, PfcFlags,
    ProviderReason, Request, Response, SecTrailer, SyntaxId, HEADER_LEN, SEC_TRAILER_LEN,
};

/// Fixed part of a request body: `alloc_hint`, `p_cont_id`, `opnum` (C706 12.6.4.9).
const REQUEST_FIXED_LEN: usize = 8;
/// Size of an object UUID in a request (C706 12.6.4.9).
const OBJECT_UUID_LEN: usize = 16;
/// Fixed part of a response body: `alloc_hint`, `p_cont_id`, `cancel_count`, `reserved`
/// (C706 12.6.4.10).
const RESPONSE_FIXED_LEN: usize = 8;
/// Fixed part of a fault body up to and including `reserved2` (C706 12.6.4.7).
const FAULT_FIXED_LEN: usize = 16;
/// Fixed part of a fault body when a peer leaves out `reserved2` (a 28-byte fault PDU).
const FAULT_SHORT_LEN: usize = 12;
/// Size of the `pad` of an auth3 body (MS-RPCE 2.2.2.10).
const AUTH3_PAD_LEN: usize = 4;
/// Wire size of a `p_syntax_id_t` (C706 12.6.3.1).
const SYNTAX_ID_LEN: usize = 20;

/// Why a received frame is not a well-formed connection-oriented PDU (C706 12.6,
/// MS-RPCE 2.2.2). Every variant is the sender's fault.
///
/// Offsets and lengths named `needed`/`available` inside a body are relative to the start of
/// the type-specific body (byte 16 of the PDU) and exclude the verifier; they exclude the auth
/// padding too, except when the fixed fields of a request, response or fault already overlap
/// the sec_trailer (then `available` counts every byte before it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PduError {
    /// Fewer than the 16 bytes of the common header (C706 12.6.3.1) were given.
    #[error("{available} bytes given, fewer than the 16-byte common header")]
    HeaderTruncated {
        /// Bytes given.
        available: usize,
    },
    /// `frag_length` is smaller than the common header itself (C706 12.6.3.1).
    #[error("frag_length {frag_length} is below the 16-byte common header")]
    FragLengthBelowHeader {
        /// The header's `frag_length`.
        frag_length: u16,
    },
    /// `frag_length` claims more bytes than the frame holds.
    #[error("frag_length {frag_length} exceeds the {available} bytes of the frame")]
    FragLengthBeyondData {
        /// The header's `frag_length`.
        frag_length: u16,
        /// Bytes in the frame.
        available: usize,
    },
    /// The frame holds bytes after `frag_length` (a decode is of exactly one fragment).
    #[error("frame of {available} bytes is longer than its frag_length {frag_length}")]
    TrailingData {
        /// The header's `frag_length`.
        frag_length: u16,
        /// Bytes in the frame.
        available: usize,
    },
    /// `auth_length` plus the 8-byte sec_trailer does not fit after the common header
    /// (C706 12.6.3.1, 13.2.6.1).
    #[error(
        "auth_length {auth_length} plus sec_trailer does not fit in frag_length {frag_length}"
    )]
    AuthLengthBeyondPdu {
        /// The header's `auth_length`.
        auth_length: u16,
        /// The header's `frag_length`.
        frag_length: u16,
    },
    /// The sec_trailer's `auth_pad_length` is longer than the stub (or, for PDUs without a
    /// stub, the body) it pads (MS-RPCE 2.2.2.11).
    #[error("auth_pad_length {auth_pad_length} exceeds the {available} bytes of stub before the sec_trailer")]
    AuthPadBeyondStub {
        /// The sec_trailer's `auth_pad_length`.
        auth_pad_length: u8,
        /// Bytes between the start of the stub (or body) and the sec_trailer.
        available: usize,
    },
    /// A fixed field of the body lies beyond the end of the body (C706 12.6.4).
    #[error("{ptype} body truncated: {needed} bytes needed, {available} present")]
    BodyTruncated {
        /// The packet type.
        ptype: PacketType,
        /// Body bytes needed to read the field that did not fit.
        needed: usize,
        /// Body bytes present.
        available: usize,
    },
    /// Bytes remain after a body that has no room for them (bind, bind_ack, alter_context,
    /// alter_context_resp, auth3, shutdown, co_cancel, orphaned).
    #[error("{extra} unexpected bytes after the {ptype} body")]
    BodyTrailingData {
        /// The packet type.
        ptype: PacketType,
        /// Bytes left over.
        extra: usize,
    },
    /// `n_context_elem` announces more presentation contexts than the body holds
    /// (C706 12.6.4.3 `p_cont_list_t`).
    #[error("n_context_elem {n_context_elem} but the body ends inside element {index}")]
    ContextListTruncated {
        /// The packet type (bind or alter_context).
        ptype: PacketType,
        /// The announced count.
        n_context_elem: u8,
        /// Index of the element that did not fit.
        index: u8,
    },
    /// `n_transfer_syn` announces more transfer syntaxes than the body holds
    /// (C706 12.6.3.1 `p_cont_elem_t`).
    #[error("context {context_id}: n_transfer_syn {n_transfer_syn} but the body ends inside syntax {index}")]
    TransferSyntaxListTruncated {
        /// The packet type (bind or alter_context).
        ptype: PacketType,
        /// `p_cont_id` of the element.
        context_id: u16,
        /// The announced count.
        n_transfer_syn: u8,
        /// Index of the syntax that did not fit.
        index: u8,
    },
    /// `n_results` announces more results than the body holds (C706 12.6.3.1
    /// `p_result_list_t`).
    #[error("n_results {n_results} but the body ends inside result {index}")]
    ResultListTruncated {
        /// The packet type (bind_ack or alter_context_resp).
        ptype: PacketType,
        /// The announced count.
        n_results: u8,
        /// Index of the result that did not fit.
        index: u8,
    },
    /// The `sec_addr` length (C706 12.6.4.4 `port_any_t`) runs past the body.
    #[error("sec_addr length {sec_addr_len} exceeds the {available} body bytes left")]
    SecAddrBeyondBody {
        /// The packet type (bind_ack or alter_context_resp).
        ptype: PacketType,
        /// The announced length.
        sec_addr_len: u16,
        /// Body bytes left after the length field.
        available: usize,
    },
    /// bind_nak's `n_protocols` announces more versions than the body holds (C706 12.6.4.5).
    #[error("n_protocols {n_protocols} but only {available} body bytes left")]
    VersionListTruncated {
        /// The announced count.
        n_protocols: u8,
        /// Body bytes left after the count.
        available: usize,
    },
}

impl PduError {
    /// A stable snake_case code for audit records (never changes once released).
    pub fn reason_code(&self) -> &'static str {
        match self {
            PduError::HeaderTruncated { .. } => "header_truncated",
            PduError::FragLengthBelowHeader { .. } => "frag_length_below_header",
            PduError::FragLengthBeyondData { .. } => "frag_length_beyond_data",
            PduError::TrailingData { .. } => "trailing_data",
            PduError::AuthLengthBeyondPdu { .. } => "auth_length_beyond_pdu",
            PduError::AuthPadBeyondStub { .. } => "auth_pad_beyond_stub",
            PduError::BodyTruncated { .. } => "body_truncated",
            PduError::BodyTrailingData { .. } => "body_trailing_data",
            PduError::ContextListTruncated { .. } => "context_list_truncated",
            PduError::TransferSyntaxListTruncated { .. } => "transfer_syntax_list_truncated",
            PduError::ResultListTruncated { .. } => "result_list_truncated",
            PduError::SecAddrBeyondBody { .. } => "sec_addr_beyond_body",
            PduError::VersionListTruncated { .. } => "version_list_truncated",
        }
    }
}

/// Why a [`Pdu`] could not be encoded (C706 12.6): the caller's fault, never the peer's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The encoded fragment would exceed the 65535 bytes `frag_length` can express.
    #[error("encoded fragment of {length} bytes exceeds the u16 frag_length")]
    FragTooLong {
        /// Bytes the fragment would take.
        length: usize,
    },
    /// An auth verifier with an empty auth value: `auth_length` 0 means "no verifier", so it
    /// would not survive a round trip (C706 12.6.3.1).
    #[error("auth verifier with an empty auth value")]
    AuthValueEmpty,
    /// More than 255 presentation contexts (`n_context_elem` is a u8).
    #[error("{count} presentation contexts exceed the u8 n_context_elem")]
    TooManyContexts {
        /// Contexts given.
        count: usize,
    },
    /// More than 255 transfer syntaxes in one context (`n_transfer_syn` is a u8).
    #[error("context {context_id}: {count} transfer syntaxes exceed the u8 n_transfer_syn")]
    TooManyTransferSyntaxes {
        /// `p_cont_id` of the element.
        context_id: u16,
        /// Syntaxes given.
        count: usize,
    },
    /// More than 255 results (`n_results` is a u8).
    #[error("{count} results exceed the u8 n_results")]
    TooManyResults {
        /// Results given.
        count: usize,
    },
    /// A `sec_addr` longer than its u16 length field.
    #[error("sec_addr of {length} bytes exceeds its u16 length")]
    SecAddrTooLong {
        /// Bytes given.
        length: usize,
    },
    /// More than 255 protocol versions in a bind_nak (`n_protocols` is a u8).
    #[error("{count} versions exceed the u8 n_protocols")]
    TooManyVersions {
        /// Versions given.
        count: usize,
    },
    /// The body does not belong to the header's packet type ([`Body::Unknown`] only goes with
    /// packet types this codec does not decode).
    #[error("body does not match packet type {ptype}")]
    BodyTypeMismatch {
        /// The header's packet type.
        ptype: PacketType,
    },
}

impl EncodeError {
    /// A stable snake_case code for logs.
    pub fn reason_code(&self) -> &'static str {
        match self {
            EncodeError::FragTooLong { .. } => "encode_frag_too_long",
            EncodeError::AuthValueEmpty => "encode_auth_value_empty",
            EncodeError::TooManyContexts { .. } => "encode_too_many_contexts",
            EncodeError::TooManyTransferSyntaxes { .. } => "encode_too_many_transfer_syntaxes",
            EncodeError::TooManyResults { .. } => "encode_too_many_results",
            EncodeError::SecAddrTooLong { .. } => "encode_sec_addr_too_long",
            EncodeError::TooManyVersions { .. } => "encode_too_many_versions",
            EncodeError::BodyTypeMismatch { .. } => "encode_body_type_mismatch",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bounded reading and writing
// ---------------------------------------------------------------------------------------------

/// A read that ran past the end of its buffer; `needed` is the position it had to reach.
struct Short {
    needed: usize,
}

/// A bounded reader over peer bytes, in the PDU's byte order.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    endian: Endian,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8], endian: Endian) -> Self {
        Cursor {
            buf,
            pos: 0,
            endian,
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Short> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(Short { needed: usize::MAX })?;
        let bytes = self.buf.get(self.pos..end).ok_or(Short { needed: end })?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Short> {
        let bytes = self.take(N)?;
        <[u8; N]>::try_from(bytes).map_err(|_| Short { needed: self.pos })
    }

    fn rest(&mut self) -> &'a [u8] {
        let bytes = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        bytes
    }

    fn u8(&mut self) -> Result<u8, Short> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    fn u16(&mut self) -> Result<u16, Short> {
        let b = self.array::<2>()?;
        Ok(match self.endian {
            Endian::Little => u16::from_le_bytes(b),
            Endian::Big => u16::from_be_bytes(b),
        })
    }

    fn u32(&mut self) -> Result<u32, Short> {
        let b = self.array::<4>()?;
        Ok(match self.endian {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        })
    }

    /// An NDR GUID: `Data1`, `Data2`, `Data3` in the PDU's byte order, then 8 bytes.
    fn uuid(&mut self) -> Result<Uuid, Short> {
        let d1 = self.u32()?;
        let d2 = self.u16()?;
        let d3 = self.u16()?;
        let d4 = self.array::<8>()?;
        Ok(Uuid::from_fields(d1, d2, d3, &d4))
    }

    /// A `p_syntax_id_t`: GUID then a u32 version (major low 16 bits, minor high 16).
    fn syntax(&mut self) -> Result<SyntaxId, Short> {
        let uuid = self.uuid()?;
        let version = self.u32()?;
        Ok(SyntaxId::new(
            uuid,
            (version & 0xffff) as u16,
            (version >> 16) as u16,
        ))
    }
}

/// A writer in the PDU's byte order.
struct Writer {
    out: Vec<u8>,
    endian: Endian,
}

impl Writer {
    fn with_capacity(endian: Endian, capacity: usize) -> Self {
        Writer {
            out: Vec::with_capacity(capacity),
            endian,
        }
    }

    /// The finished fragment: `header` (with `frag_length` set to the bytes written) over
    /// the `HEADER_LEN` bytes the writer started with.
    fn finish(self, header: Header) -> Result<Vec<u8>, EncodeError> {
        let length = self.out.len();
        let frag_length = u16::try_from(length).map_err(|_| EncodeError::FragTooLong { length })?;
        let mut out = self.out;
        if let Some(h) = out.get_mut(..HEADER_LEN) {
            h.copy_from_slice(
                &Header {
                    frag_length,
                    ..header
                }
                .to_bytes(),
            );
        }
        Ok(out)
    }

    fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    fn u16(&mut self, v: u16) {
        match self.endian {
            Endian::Little => self.out.extend_from_slice(&v.to_le_bytes()),
            Endian::Big => self.out.extend_from_slice(&v.to_be_bytes()),
        }
    }

    fn u32(&mut self, v: u32) {
        match self.endian {
            Endian::Little => self.out.extend_from_slice(&v.to_le_bytes()),
            Endian::Big => self.out.extend_from_slice(&v.to_be_bytes()),
        }
    }

    fn bytes(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }

    fn zeros(&mut self, n: usize) {
        self.out.resize(self.out.len().saturating_add(n), 0);
    }

    fn uuid(&mut self, u: &Uuid) {
        let (d1, d2, d3, d4) = u.as_fields();
        self.u32(d1);
        self.u16(d2);
        self.u16(d3);
        self.bytes(d4);
    }

    fn syntax(&mut self, s: &SyntaxId) {
        self.uuid(&s.uuid);
        self.u32(u32::from(s.major) | (u32::from(s.minor) << 16));
    }
}

// ---------------------------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------------------------

impl Header {
    /// A header for a new PDU (C706 12.6.3.1): version 5.0, little-endian NDR data
    /// representation, lengths 0 (they are computed by [`Pdu::encode`]).
    pub fn new(ptype: PacketType, flags: PfcFlags, call_id: u32) -> Header {
        Header {
            rpc_vers: 5,
            rpc_vers_minor: 0,
            ptype,
            flags,
            drep: DataRep::LITTLE_ENDIAN,
            frag_length: 0,
            auth_length: 0,
            call_id,
        }
    }

    /// Decodes the common header from the first 16 bytes of `buf` (C706 12.6.3.1):
    /// `frag_length`, `auth_length` and `call_id` are read in the byte order given by the high
    /// nibble of `packed_drep[0]`. Bytes after the header are ignored.
    ///
    /// Fails when fewer than 16 bytes are given or `frag_length` is below 16. The protocol
    /// version is not checked here (the association decides, e.g. with a bind_nak).
    pub fn decode(buf: &[u8]) -> Result<Header, PduError> {
        let head = buf.get(..HEADER_LEN).ok_or(PduError::HeaderTruncated {
            available: buf.len(),
        })?;
        let short = |_: Short| PduError::HeaderTruncated {
            available: buf.len(),
        };
        let mut c = Cursor::new(head, Endian::Little);
        let rpc_vers = c.u8().map_err(short)?;
        let rpc_vers_minor = c.u8().map_err(short)?;
        let ptype = PacketType(c.u8().map_err(short)?);
        let flags = PfcFlags(c.u8().map_err(short)?);
        let drep = DataRep(c.array::<4>().map_err(short)?);
        c.endian = drep.endian();
        let frag_length = c.u16().map_err(short)?;
        let auth_length = c.u16().map_err(short)?;
        let call_id = c.u32().map_err(short)?;
        if usize::from(frag_length) < HEADER_LEN {
            return Err(PduError::FragLengthBelowHeader { frag_length });
        }
        Ok(Header {
            rpc_vers,
            rpc_vers_minor,
            ptype,
            flags,
            drep,
            frag_length,
            auth_length,
            call_id,
        })
    }

    /// Appends the 16-byte common header (C706 12.6.3.1) to `out`, with `frag_length` and
    /// `auth_length` as stored, in the byte order of `drep`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }

    /// The 16-byte common header as [`Header::encode`] writes it.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let little = self.drep.endian() == Endian::Little;
        let u16b = |v: u16| {
            if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let [f0, f1] = u16b(self.frag_length);
        let [a0, a1] = u16b(self.auth_length);
        let [c0, c1, c2, c3] = if little {
            self.call_id.to_le_bytes()
        } else {
            self.call_id.to_be_bytes()
        };
        let [d0, d1, d2, d3] = self.drep.0;
        [
            self.rpc_vers,
            self.rpc_vers_minor,
            self.ptype.0,
            self.flags.0,
            d0,
            d1,
            d2,
            d3,
            f0,
            f1,
            a0,
            a1,
            c0,
            c1,
            c2,
            c3,
        ]
    }
}

/// Stream framing (C706 12.6.1): `Ok(None)` while fewer than 16 bytes are buffered, else the
/// fragment's validated `frag_length` (at least 16). The fragment is complete once that many
/// bytes are buffered.
pub fn frame_length(buf: &[u8]) -> Result<Option<usize>, PduError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    Header::decode(buf).map(|h| Some(usize::from(h.frag_length)))
}

/// Auth padding for a stub of `stub_len` bytes: the bytes needed so that stub plus padding is
/// a multiple of 16, aligning the sec_trailer to 16 bytes from the start of the stub
/// (MS-RPCE 2.2.2.11).
pub fn auth_pad_len(stub_len: usize) -> u8 {
    let rem = stub_len % super::AUTH_PAD_ALIGN;
    ((super::AUTH_PAD_ALIGN - rem) % super::AUTH_PAD_ALIGN) as u8
}

/// Offset of the stub data from the start of the PDU (C706 12.6.4.9, 12.6.4.10, 12.6.4.7):
/// request 24, or 40 when `PFC_OBJECT_UUID` is set; response 24; fault 32 (after `status` and
/// `reserved2`; MS-RPCE 2.2.2.8 sizes the fault's extended error data as `alloc_hint - 0x20`).
/// For every other packet type, the start of the body (16).
pub fn stub_offset(ptype: PacketType, flags: PfcFlags) -> usize {
    HEADER_LEN
        + match ptype {
            PacketType::REQUEST if flags.contains(PfcFlags::OBJECT_UUID) => {
                REQUEST_FIXED_LEN + OBJECT_UUID_LEN
            }
            PacketType::REQUEST => REQUEST_FIXED_LEN,
            PacketType::RESPONSE => RESPONSE_FIXED_LEN,
            PacketType::FAULT => FAULT_FIXED_LEN,
            _ => 0,
        }
}

// ---------------------------------------------------------------------------------------------
// Frame layout
// ---------------------------------------------------------------------------------------------

/// Byte ranges of an authenticated PDU within its raw frame (C706 13.2.6.1, MS-RPCE 2.2.2.11),
/// for a security layer that signs or verifies `frame[..trailer.end]` and seals or unseals
/// `frame[stub.start..pad.end]` in place (MS-RPCE 3.3.1.5.2.2).
///
/// The ranges are contiguous: `body_start <= stub.start <= stub.end == pad.start`,
/// `pad.end == trailer.start`, `trailer.end == auth_value.start`, `auth_value.end` is the
/// frame's length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthLayout {
    /// Where the type-specific body starts (after the 16-byte common header);
    /// `frame[body_start..stub.start]` is the fixed part of a request, response or fault body.
    pub body_start: usize,
    /// The stub data of a request, response or fault (see [`stub_offset`]); for other packet
    /// types, the whole body.
    pub stub: Range<usize>,
    /// The auth padding (`auth_pad_length` bytes).
    pub pad: Range<usize>,
    /// The 8-byte sec_trailer.
    pub trailer: Range<usize>,
    /// The auth value (`auth_length` bytes).
    pub auth_value: Range<usize>,
}

impl AuthLayout {
    /// Locates the stub, auth padding, sec_trailer and auth value in `frame`, one whole
    /// fragment (MS-RPCE 2.2.2.11). `Ok(None)` when `auth_length` is 0. The checks are those
    /// of [`Pdu::decode`] for the header, verifier and fixed body fields.
    pub fn parse(frame: &[u8]) -> Result<Option<AuthLayout>, PduError> {
        let layout = Layout::parse(frame)?;
        Ok(layout.auth.map(|a| AuthLayout {
            body_start: HEADER_LEN,
            stub: layout.stub_start..layout.body.end,
            pad: layout.body.end..a.trailer.start,
            trailer: a.trailer,
            auth_value: a.value,
        }))
    }
}

/// Verifier ranges inside a frame.
struct AuthRanges {
    trailer: Range<usize>,
    value: Range<usize>,
}

/// The checked split of one frame into header, body (before any auth padding) and verifier.
struct Layout {
    header: Header,
    /// Body bytes, from 16 up to the auth padding (or the end of the frame).
    body: Range<usize>,
    /// Start of the stub for request/response/fault, else the body start.
    stub_start: usize,
    auth: Option<AuthRanges>,
}

impl Layout {
    fn parse(frame: &[u8]) -> Result<Layout, PduError> {
        let header = Header::decode(frame)?;
        let frag_length = header.frag_length;
        let frag = usize::from(frag_length);
        if frame.len() < frag {
            return Err(PduError::FragLengthBeyondData {
                frag_length,
                available: frame.len(),
            });
        }
        if frame.len() > frag {
            return Err(PduError::TrailingData {
                frag_length,
                available: frame.len(),
            });
        }
        let (body_end, auth) = if header.auth_length == 0 {
            (frag, None)
        } else {
            let auth_len = usize::from(header.auth_length);
            let trailer_start = frag
                .checked_sub(auth_len)
                .and_then(|v| v.checked_sub(SEC_TRAILER_LEN))
                .filter(|&s| s >= HEADER_LEN)
                .ok_or(PduError::AuthLengthBeyondPdu {
                    auth_length: header.auth_length,
                    frag_length,
                })?;
            let value_start = trailer_start + SEC_TRAILER_LEN;
            // auth_pad_length is byte 2 of the sec_trailer.
            let pad_len =
                frame
                    .get(trailer_start + 2)
                    .copied()
                    .ok_or(PduError::AuthLengthBeyondPdu {
                        auth_length: header.auth_length,
                        frag_length,
                    })?;
            (
                trailer_start,
                Some((
                    pad_len,
                    AuthRanges {
                        trailer: trailer_start..value_start,
                        value: value_start..frag,
                    },
                )),
            )
        };
        // With a verifier, body_end is still the sec_trailer's start here.
        let stub_start = stub_offset(header.ptype, header.flags);
        let fixed_needed = stub_start - HEADER_LEN;
        let before_pad = body_end - HEADER_LEN;
        let fault_short =
            header.ptype == PacketType::FAULT && auth.is_none() && before_pad == FAULT_SHORT_LEN;
        if before_pad < fixed_needed && !fault_short {
            return Err(PduError::BodyTruncated {
                ptype: header.ptype,
                needed: fixed_needed,
                available: before_pad,
            });
        }
        let stub_start = if fault_short { body_end } else { stub_start };
        let (body_end, auth) = match auth {
            None => (body_end, None),
            Some((pad_len, ranges)) => {
                let available = body_end - stub_start;
                if usize::from(pad_len) > available {
                    return Err(PduError::AuthPadBeyondStub {
                        auth_pad_length: pad_len,
                        available,
                    });
                }
                (body_end - usize::from(pad_len), Some(ranges))
            }
        };
        Ok(Layout {
            header,
            body: HEADER_LEN..body_end,
            stub_start,
            auth,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Decode
// ---------------------------------------------------------------------------------------------

/// Maps a cursor overrun inside a body to [`PduError::BodyTruncated`].
fn truncated(ptype: PacketType, available: usize) -> impl Fn(Short) -> PduError {
    move |s: Short| PduError::BodyTruncated {
        ptype,
        needed: s.needed,
        available,
    }
}

/// Fails with [`PduError::BodyTrailingData`] if the cursor has bytes left.
fn expect_end(c: &Cursor<'_>, ptype: PacketType) -> Result<(), PduError> {
    match c.remaining() {
        0 => Ok(()),
        extra => Err(PduError::BodyTrailingData { ptype, extra }),
    }
}

impl Pdu {
    /// Decodes exactly one fragment (C706 12.6, MS-RPCE 2.2.2): `frame.len()` must equal its
    /// `frag_length`.
    ///
    /// With a non-zero `auth_length`, the last `auth_length` bytes are the auth value, the 8
    /// before them the sec_trailer, and the `auth_pad_length` bytes before that padding that is
    /// dropped (C706 13.2.6.1). Unknown packet types decode to [`Body::Unknown`]; unknown
    /// values of every wire number are kept. Never panics, whatever the input.
    pub fn decode(frame: &[u8]) -> Result<Pdu, PduError> {
        let layout = Layout::parse(frame)?;
        let header = layout.header;
        let ptype = header.ptype;
        let body_bytes = frame
            .get(layout.body.clone())
            .ok_or(PduError::BodyTruncated {
                ptype,
                needed: layout.body.len(),
                available: frame.len().saturating_sub(HEADER_LEN),
            })?;
        let auth = match &layout.auth {
            None => None,
            Some(r) => {
                let t = frame.get(r.trailer.clone()).unwrap_or_default();
                let value = frame.get(r.value.clone()).unwrap_or_default();
                let mut c = Cursor::new(t, header.drep.endian());
                let short = |_: Short| PduError::AuthLengthBeyondPdu {
                    auth_length: header.auth_length,
                    frag_length: header.frag_length,
                };
                let trailer = SecTrailer {
                    auth_type: AuthType(c.u8().map_err(short)?),
                    auth_level: AuthLevel(c.u8().map_err(short)?),
                    auth_pad_length: c.u8().map_err(short)?,
                    auth_reserved: c.u8().map_err(short)?,
                    auth_context_id: c.u32().map_err(short)?,
                };
                Some(AuthVerifier {
                    trailer,
                    value: value.to_vec(),
                })
            }
        };
        let body = decode_body(&header, body_bytes)?;
        Ok(Pdu { header, body, auth })
    }
}

fn decode_body(header: &Header, body: &[u8]) -> Result<Body, PduError> {
    let ptype = header.ptype;
    let mut c = Cursor::new(body, header.drep.endian());
    let short = truncated(ptype, body.len());
    Ok(match ptype {
        PacketType::REQUEST => {
            let alloc_hint = c.u32().map_err(&short)?;
            let context_id = c.u16().map_err(&short)?;
            let opnum = c.u16().map_err(&short)?;
            let object = if header.flags.contains(PfcFlags::OBJECT_UUID) {
                Some(c.uuid().map_err(&short)?)
            } else {
                None
            };
            Body::Request(Request {
                alloc_hint,
                context_id,
                opnum,
                object,
                stub: c.rest().to_vec(),
            })
        }
        PacketType::RESPONSE => Body::Response(Response {
            alloc_hint: c.u32().map_err(&short)?,
            context_id: c.u16().map_err(&short)?,
            cancel_count: c.u8().map_err(&short)?,
            reserved: c.u8().map_err(&short)?,
            stub: c.rest().to_vec(),
        }),
        PacketType::FAULT => {
            let alloc_hint = c.u32().map_err(&short)?;
            let context_id = c.u16().map_err(&short)?;
            let cancel_count = c.u8().map_err(&short)?;
            let flags = c.u8().map_err(&short)?;
            let status = FaultStatus(c.u32().map_err(&short)?);
            // A 28-byte fault without reserved2 is tolerated (Layout checked the length).
            let reserved2 = if c.remaining() == 0 {
                0
            } else {
                c.u32().map_err(&short)?
            };
            Body::Fault(Fault {
                alloc_hint,
                context_id,
                cancel_count,
                flags,
                status,
                reserved2,
                stub: c.rest().to_vec(),
            })
        }
        PacketType::BIND => Body::Bind(decode_bind(&mut c, ptype)?),
        PacketType::ALTER_CONTEXT => Body::AlterContext(decode_bind(&mut c, ptype)?),
        PacketType::BIND_ACK => Body::BindAck(decode_bind_ack(&mut c, ptype)?),
        PacketType::ALTER_CONTEXT_RESP => Body::AlterContextResp(decode_bind_ack(&mut c, ptype)?),
        PacketType::BIND_NAK => {
            let reason = BindNakReason(c.u16().map_err(&short)?);
            let n_protocols = c.u8().map_err(&short)?;
            let available = c.remaining();
            let mut versions = Vec::with_capacity(usize::from(n_protocols));
            for _ in 0..n_protocols {
                let [major, minor] =
                    c.array::<2>().map_err(|_| PduError::VersionListTruncated {
                        n_protocols,
                        available,
                    })?;
                versions.push((major, minor));
            }
            Body::BindNak(BindNak {
                reason,
                versions,
                extra: c.rest().to_vec(),
            })
        }
        PacketType::AUTH3 => {
            let pad = c.array::<AUTH3_PAD_LEN>().map_err(&short)?;
            expect_end(&c, ptype)?;
            Body::Auth3(pad)
        }
        PacketType::SHUTDOWN | PacketType::CO_CANCEL | PacketType::ORPHANED => {
            expect_end(&c, ptype)?;
            match ptype {
                PacketType::SHUTDOWN => Body::Shutdown,
                PacketType::CO_CANCEL => Body::CoCancel,
                _ => Body::Orphaned,
            }
        }
        _ => Body::Unknown(c.rest().to_vec()),
    })
}

/// bind and alter_context bodies (C706 12.6.4.3, 12.6.4.1).
fn decode_bind(c: &mut Cursor<'_>, ptype: PacketType) -> Result<Bind, PduError> {
    let short = truncated(ptype, c.buf.len());
    let max_xmit_frag = c.u16().map_err(&short)?;
    let max_recv_frag = c.u16().map_err(&short)?;
    let assoc_group_id = c.u32().map_err(&short)?;
    let n_context_elem = c.u8().map_err(&short)?;
    let _reserved = c.u8().map_err(&short)?;
    let _reserved2 = c.u16().map_err(&short)?;
    // Each element takes at least 24 bytes, so the count is bounded by the body.
    let mut contexts = Vec::with_capacity(usize::from(n_context_elem).min(c.remaining() / 24));
    for index in 0..n_context_elem {
        let elem_short = |_: Short| PduError::ContextListTruncated {
            ptype,
            n_context_elem,
            index,
        };
        let context_id = c.u16().map_err(elem_short)?;
        let n_transfer_syn = c.u8().map_err(elem_short)?;
        let _reserved = c.u8().map_err(elem_short)?;
        let abstract_syntax = c.syntax().map_err(elem_short)?;
        let mut transfer_syntaxes =
            Vec::with_capacity(usize::from(n_transfer_syn).min(c.remaining() / SYNTAX_ID_LEN));
        for ts_index in 0..n_transfer_syn {
            transfer_syntaxes.push(c.syntax().map_err(|_| {
                PduError::TransferSyntaxListTruncated {
                    ptype,
                    context_id,
                    n_transfer_syn,
                    index: ts_index,
                }
            })?);
        }
        contexts.push(ContextElement {
            context_id,
            abstract_syntax,
            transfer_syntaxes,
        });
    }
    expect_end(c, ptype)?;
    Ok(Bind {
        max_xmit_frag,
        max_recv_frag,
        assoc_group_id,
        contexts,
    })
}

/// bind_ack and alter_context_resp bodies (C706 12.6.4.4, 12.6.4.2).
fn decode_bind_ack(c: &mut Cursor<'_>, ptype: PacketType) -> Result<BindAck, PduError> {
    let short = truncated(ptype, c.buf.len());
    let max_xmit_frag = c.u16().map_err(&short)?;
    let max_recv_frag = c.u16().map_err(&short)?;
    let assoc_group_id = c.u32().map_err(&short)?;
    let sec_addr_len = c.u16().map_err(&short)?;
    let available = c.remaining();
    let sec_addr = c
        .take(usize::from(sec_addr_len))
        .map_err(|_| PduError::SecAddrBeyondBody {
            ptype,
            sec_addr_len,
            available,
        })?
        .to_vec();
    // Align to 4 from the start of the PDU; the body starts at 16, so body offsets align alike.
    let pad = (4 - c.pos % 4) % 4;
    c.take(pad).map_err(&short)?;
    let n_results = c.u8().map_err(&short)?;
    let _reserved = c.u8().map_err(&short)?;
    let _reserved2 = c.u16().map_err(&short)?;
    let mut results = Vec::with_capacity(usize::from(n_results).min(c.remaining() / 24));
    for index in 0..n_results {
        let res_short = |_: Short| PduError::ResultListTruncated {
            ptype,
            n_results,
            index,
        };
        results.push(ContextResultEntry {
            result: ContextResult(c.u16().map_err(res_short)?),
            reason: ProviderReason(c.u16().map_err(res_short)?),
            transfer_syntax: c.syntax().map_err(res_short)?,
        });
    }
    expect_end(c, ptype)?;
    Ok(BindAck {
        max_xmit_frag,
        max_recv_frag,
        assoc_group_id,
        sec_addr,
        results,
    })
}

// ---------------------------------------------------------------------------------------------
// Encode
// ---------------------------------------------------------------------------------------------

impl Body {
    /// The packet type this body belongs to (C706 12.6.3.1); `None` for [`Body::Unknown`].
    pub fn packet_type(&self) -> Option<PacketType> {
        Some(match self {
            Body::Request(_) => PacketType::REQUEST,
            Body::Response(_) => PacketType::RESPONSE,
            Body::Fault(_) => PacketType::FAULT,
            Body::Bind(_) => PacketType::BIND,
            Body::BindAck(_) => PacketType::BIND_ACK,
            Body::BindNak(_) => PacketType::BIND_NAK,
            Body::AlterContext(_) => PacketType::ALTER_CONTEXT,
            Body::AlterContextResp(_) => PacketType::ALTER_CONTEXT_RESP,
            Body::Auth3(_) => PacketType::AUTH3,
            Body::Shutdown => PacketType::SHUTDOWN,
            Body::CoCancel => PacketType::CO_CANCEL,
            Body::Orphaned => PacketType::ORPHANED,
            Body::Unknown(_) => return None,
        })
    }
}

/// True for the packet types [`Pdu::decode`] decodes into a typed body.
fn is_typed(ptype: PacketType) -> bool {
    matches!(ptype.0, 0 | 2 | 3 | 11..=19)
}

impl Pdu {
    /// Encodes this PDU as one fragment (C706 12.6, MS-RPCE 2.2.2).
    ///
    /// `frag_length` and `auth_length` are computed; for a request, `PFC_OBJECT_UUID` is set
    /// exactly when [`Request::object`] is present. With a verifier, `auth_pad_length` zero
    /// bytes of padding are written between the body (or stub) and the sec_trailer; the caller
    /// chooses the padding (see [`auth_pad_len`]). Every other header field is written as
    /// stored, so `Pdu::decode(&pdu.encode()?)` gives `pdu` back with those fields computed.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let header = &self.header;
        let ptype = header.ptype;
        let matches = match self.body.packet_type() {
            Some(t) => t == ptype,
            None => !is_typed(ptype),
        };
        if !matches {
            return Err(EncodeError::BodyTypeMismatch { ptype });
        }
        if let Some(a) = &self.auth {
            if a.value.is_empty() {
                return Err(EncodeError::AuthValueEmpty);
            }
        }
        // Requests and responses: the one writer both sides' hot paths use.
        let stub_body = match &self.body {
            Body::Request(r) => Some((
                StubBody::Request {
                    alloc_hint: r.alloc_hint,
                    context_id: r.context_id,
                    opnum: r.opnum,
                    object: r.object,
                },
                &r.stub,
            )),
            Body::Response(r) => Some((
                StubBody::Response {
                    alloc_hint: r.alloc_hint,
                    context_id: r.context_id,
                    cancel_count: r.cancel_count,
                    reserved: r.reserved,
                },
                &r.stub,
            )),
            _ => None,
        };
        if let Some((body, stub)) = stub_body {
            let auth = self.auth.as_ref().map(|a| (&a.trailer, a.value.len()));
            let mut f = encode_stub_frame(header, &body, stub, auth)?;
            if let (Some(a), Some(dst)) = (&self.auth, f.bytes.get_mut(f.auth_value.clone())) {
                dst.copy_from_slice(&a.value);
            }
            return Ok(f.bytes);
        }
        let flags = header.flags;
        // One allocation: the header's place, then the body, then the trailer; the header is
        // written last, once the lengths are known.
        let body_hint = match &self.body {
            Body::Fault(f) => 16usize.saturating_add(f.stub.len()),
            _ => 64,
        };
        let auth_hint = self.auth.as_ref().map_or(0, |a| {
            usize::from(a.trailer.auth_pad_length)
                .saturating_add(8)
                .saturating_add(a.value.len())
        });
        let mut w = Writer::with_capacity(
            header.drep.endian(),
            HEADER_LEN
                .saturating_add(body_hint)
                .saturating_add(auth_hint),
        );
        w.zeros(HEADER_LEN);
        match &self.body {
            // Written above by encode_stub_frame.
            Body::Request(_) | Body::Response(_) => {}
            Body::Fault(f) => {
                w.u32(f.alloc_hint);
                w.u16(f.context_id);
                w.u8(f.cancel_count);
                w.u8(f.flags);
                w.u32(f.status.0);
                w.u32(f.reserved2);
                w.bytes(&f.stub);
            }
            Body::Bind(b) | Body::AlterContext(b) => encode_bind(&mut w, b)?,
            Body::BindAck(a) | Body::AlterContextResp(a) => encode_bind_ack(&mut w, a)?,
            Body::BindNak(n) => {
                w.u16(n.reason.0);
                let count = n.versions.len();
                w.u8(u8::try_from(count).map_err(|_| EncodeError::TooManyVersions { count })?);
                for &(major, minor) in &n.versions {
                    w.u8(major);
                    w.u8(minor);
                }
                w.bytes(&n.extra);
            }
            Body::Auth3(pad) => w.bytes(pad),
            Body::Shutdown | Body::CoCancel | Body::Orphaned => {}
            Body::Unknown(bytes) => w.bytes(bytes),
        }
        let mut auth_length = 0u16;
        if let Some(auth) = &self.auth {
            let t = &auth.trailer;
            w.zeros(usize::from(t.auth_pad_length));
            w.u8(t.auth_type.0);
            w.u8(t.auth_level.0);
            w.u8(t.auth_pad_length);
            w.u8(t.auth_reserved);
            w.u32(t.auth_context_id);
            w.bytes(&auth.value);
            let length = w.out.len();
            auth_length =
                u16::try_from(auth.value.len()).map_err(|_| EncodeError::FragTooLong { length })?;
        }
        w.finish(Header {
            flags,
            auth_length,
            ..*header
        })
    }
}

/// The fixed fields of a request or response body, before its stub (for
/// [`encode_stub_frame`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StubBody {
    /// A request (C706 12.6.4.9); `PFC_OBJECT_UUID` is set exactly when `object` is present.
    Request {
        /// `alloc_hint`.
        alloc_hint: u32,
        /// `p_cont_id`.
        context_id: u16,
        /// `opnum`.
        opnum: u16,
        /// The object UUID.
        object: Option<Uuid>,
    },
    /// A response (C706 12.6.4.10).
    Response {
        /// `alloc_hint`.
        alloc_hint: u32,
        /// `p_cont_id`.
        context_id: u16,
        /// `cancel_count`.
        cancel_count: u8,
        /// `reserved` (0 on the wire; kept so a decoded PDU re-encodes as it came).
        reserved: u8,
    },
}

/// A request or response fragment written by [`encode_stub_frame`], with where its parts are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StubFrame {
    /// The whole fragment.
    pub bytes: Vec<u8>,
    /// The stub and the auth padding after it (what sealing encrypts).
    pub data: Range<usize>,
    /// The end of the sec_trailer (what signing covers: the fragment up to here).
    pub signed_end: usize,
    /// The auth value (zeros, for the signature), empty without a verifier.
    pub auth_value: Range<usize>,
}

/// Writes a request or response fragment straight from its parts, in one allocation and
/// without a [`Pdu`]: the header (with `ptype`, `frag_length`, `auth_length` and, for a
/// request, `PFC_OBJECT_UUID` computed; the other fields as given), the body's fixed fields,
/// `stub`, then with `auth = Some((trailer, value_len))` `trailer.auth_pad_length` zero bytes,
/// the sec_trailer and `value_len` zero bytes for the signature. The same bytes as
/// [`Pdu::encode`] of the equivalent `Pdu`.
pub fn encode_stub_frame(
    header: &Header,
    body: &StubBody,
    stub: &[u8],
    auth: Option<(&SecTrailer, usize)>,
) -> Result<StubFrame, EncodeError> {
    let auth_len = auth.map_or(0, |(t, n)| {
        usize::from(t.auth_pad_length)
            .saturating_add(8)
            .saturating_add(n)
    });
    let capacity = HEADER_LEN
        .saturating_add(24)
        .saturating_add(stub.len())
        .saturating_add(auth_len);
    let mut w = Writer::with_capacity(header.drep.endian(), capacity);
    w.zeros(HEADER_LEN);
    let mut flags = header.flags;
    let ptype = match body {
        StubBody::Request {
            alloc_hint,
            context_id,
            opnum,
            object,
        } => {
            w.u32(*alloc_hint);
            w.u16(*context_id);
            w.u16(*opnum);
            flags = match object {
                Some(obj) => {
                    w.uuid(obj);
                    flags.with(PfcFlags::OBJECT_UUID)
                }
                None => flags.without(PfcFlags::OBJECT_UUID),
            };
            PacketType::REQUEST
        }
        StubBody::Response {
            alloc_hint,
            context_id,
            cancel_count,
            reserved,
        } => {
            w.u32(*alloc_hint);
            w.u16(*context_id);
            w.u8(*cancel_count);
            w.u8(*reserved);
            PacketType::RESPONSE
        }
    };
    let stub_start = w.out.len();
    w.bytes(stub);
    let mut auth_length = 0u16;
    let (data, signed_end, auth_value) = match auth {
        Some((t, value_len)) => {
            w.zeros(usize::from(t.auth_pad_length));
            let data = stub_start..w.out.len();
            w.u8(t.auth_type.0);
            w.u8(t.auth_level.0);
            w.u8(t.auth_pad_length);
            w.u8(t.auth_reserved);
            w.u32(t.auth_context_id);
            let signed_end = w.out.len();
            w.zeros(value_len);
            let length = w.out.len();
            auth_length =
                u16::try_from(value_len).map_err(|_| EncodeError::FragTooLong { length })?;
            (data, signed_end, signed_end..length)
        }
        None => {
            let end = w.out.len();
            (stub_start..end, end, end..end)
        }
    };
    let bytes = w.finish(Header {
        ptype,
        flags,
        auth_length,
        ..*header
    })?;
    Ok(StubFrame {
        bytes,
        data,
        signed_end,
        auth_value,
    })
}

/// bind and alter_context bodies (C706 12.6.4.3, 12.6.4.1).
fn encode_bind(w: &mut Writer, b: &Bind) -> Result<(), EncodeError> {
    w.u16(b.max_xmit_frag);
    w.u16(b.max_recv_frag);
    w.u32(b.assoc_group_id);
    let count = b.contexts.len();
    w.u8(u8::try_from(count).map_err(|_| EncodeError::TooManyContexts { count })?);
    w.u8(0);
    w.u16(0);
    for ctx in &b.contexts {
        w.u16(ctx.context_id);
        let count = ctx.transfer_syntaxes.len();
        w.u8(
            u8::try_from(count).map_err(|_| EncodeError::TooManyTransferSyntaxes {
                context_id: ctx.context_id,
                count,
            })?,
        );
        w.u8(0);
        w.syntax(&ctx.abstract_syntax);
        for ts in &ctx.transfer_syntaxes {
            w.syntax(ts);
        }
    }
    Ok(())
}

/// bind_ack and alter_context_resp bodies (C706 12.6.4.4, 12.6.4.2).
fn encode_bind_ack(w: &mut Writer, a: &BindAck) -> Result<(), EncodeError> {
    w.u16(a.max_xmit_frag);
    w.u16(a.max_recv_frag);
    w.u32(a.assoc_group_id);
    let length = a.sec_addr.len();
    w.u16(u16::try_from(length).map_err(|_| EncodeError::SecAddrTooLong { length })?);
    w.bytes(&a.sec_addr);
    // Body offsets align like PDU offsets (the body starts at 16).
    w.zeros((4 - w.out.len() % 4) % 4);
    let count = a.results.len();
    w.u8(u8::try_from(count).map_err(|_| EncodeError::TooManyResults { count })?);
    w.u8(0);
    w.u16(0);
    for r in &a.results {
        w.u16(r.result.0);
        w.u16(r.reason.0);
        w.syntax(&r.transfer_syntax);
    }
    Ok(())
}
