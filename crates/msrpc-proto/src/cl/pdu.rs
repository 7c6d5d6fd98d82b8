//! Connectionless PDUs (C706 chapter 12.5, MS-RPCE 2.2.3): the 80-byte header in either byte
//! order, every packet type's body, and their codec ([`ClPdu::decode`], [`ClPdu::encode`]).
//!
//! One datagram carries one PDU: the header, `len` bytes of body, then (when `auth_proto` is
//! not 0) an authentication verifier running to the end of the datagram, kept as opaque bytes.
//! Every integer of the header and of the bodies, and the three UUIDs, follow the header's
//! `drep`. Unknown packet types, flag bits and status values are kept, never refused; decoding
//! fails only on lengths that do not add up ([`ClPduError`]), and never panics.
//!
//! This module does not interpret a PDU (the state machines in [`crate::cl::server`] and
//! [`crate::cl::client`] do) nor check authentication verifiers.

use msrpc_ndr::{DataRep, Endian, Uuid};

use crate::pdu::{AuthType, FaultStatus, PacketType};

/// Size of the connectionless header (C706 12.5.3.1).
pub const CL_HEADER_LEN: usize = 80;
/// `rpc_vers` of every connectionless PDU (C706 12.5.3.1).
pub const CL_RPC_VERS: u8 = 4;
/// `ihint`/`ahint` value meaning "no hint" (C706 12.5.3.1).
pub const NO_HINT: u16 = 0xffff;
/// Size of a fack body without its selective-ack words (C706 12.5.3.4).
pub const FACK_FIXED_LEN: usize = 16;
/// Largest body a datagram can announce (`len` is 16 bits).
pub const MAX_BODY_LEN: usize = u16::MAX as usize;

/// `flags1` of the connectionless header (C706 12.5.3.1): a bit set; unknown bits are kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ClFlags1(pub u8);

impl ClFlags1 {
    /// Reserved for implementations (C706: must be 0; Wireshark refuses it).
    pub const RESERVED_01: ClFlags1 = ClFlags1(0x01);
    /// `lastfrag`: the last fragment of a multi-fragment request or response.
    pub const LASTFRAG: ClFlags1 = ClFlags1(0x02);
    /// `frag`: the PDU is a fragment of a multi-fragment request or response.
    pub const FRAG: ClFlags1 = ClFlags1(0x04);
    /// `nofack`: the receiver need not send a fack for this fragment.
    pub const NOFACK: ClFlags1 = ClFlags1(0x08);
    /// `maybe`: the request has maybe semantics (no response is sent).
    pub const MAYBE: ClFlags1 = ClFlags1(0x10);
    /// `idempotent`: the request may be executed more than once.
    pub const IDEMPOTENT: ClFlags1 = ClFlags1(0x20);
    /// `broadcast`: the request was broadcast.
    pub const BROADCAST: ClFlags1 = ClFlags1(0x40);
    /// Reserved (C706: must be 0).
    pub const RESERVED_80: ClFlags1 = ClFlags1(0x80);

    /// True when every bit of `other` is set.
    pub const fn contains(self, other: ClFlags1) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of both sets.
    #[must_use]
    pub const fn with(self, other: ClFlags1) -> ClFlags1 {
        ClFlags1(self.0 | other.0)
    }

    /// This set without the bits of `other`.
    #[must_use]
    pub const fn without(self, other: ClFlags1) -> ClFlags1 {
        ClFlags1(self.0 & !other.0)
    }
}

impl std::fmt::Debug for ClFlags1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const NAMES: [&str; 8] = [
            "RESERVED_01",
            "LASTFRAG",
            "FRAG",
            "NOFACK",
            "MAYBE",
            "IDEMPOTENT",
            "BROADCAST",
            "RESERVED_80",
        ];
        write!(f, "ClFlags1({:#04x}", self.0)?;
        for (i, n) in NAMES.iter().enumerate() {
            if self.0 & (1 << i) != 0 {
                write!(f, " {n}")?;
            }
        }
        f.write_str(")")
    }
}

/// `flags2` of the connectionless header (C706 12.5.3.1): only `cancel_pending` is defined.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ClFlags2(pub u8);

impl ClFlags2 {
    /// `cancel_pending`: a cancel was pending at the call's end (response, fault).
    pub const CANCEL_PENDING: ClFlags2 = ClFlags2(0x02);

    /// True when every bit of `other` is set.
    pub const fn contains(self, other: ClFlags2) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::fmt::Debug for ClFlags2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClFlags2({:#04x}", self.0)?;
        if self.contains(Self::CANCEL_PENDING) {
            f.write_str(" CANCEL_PENDING")?;
        }
        f.write_str(")")
    }
}

/// The connectionless header (C706 12.5.3.1, MS-RPCE 2.2.3.1), 80 bytes.
///
/// `rpc_vers` is always [`CL_RPC_VERS`]; `serial_hi` and `serial_lo` are joined into
/// [`ClHeader::serial`]; `len` is [`ClHeader::len`], which [`ClPdu::encode`] sets from the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClHeader {
    /// `ptype`.
    pub ptype: PacketType,
    /// `flags1`.
    pub flags1: ClFlags1,
    /// `flags2`.
    pub flags2: ClFlags2,
    /// `drep[3]`: byte order of the header's integers and UUIDs, of the body and of the stub
    /// (the fourth byte is always 0 here: on the wire it is `serial_hi`).
    pub drep: DataRep,
    /// `serial_hi` << 8 | `serial_lo`: the fragment's serial number (counts every
    /// transmission, retransmissions included).
    pub serial: u16,
    /// `object`: the object UUID (nil when none).
    pub object: Uuid,
    /// `if_id`: the interface UUID.
    pub interface: Uuid,
    /// `act_id`: the activity UUID (the client's thread of calls).
    pub activity: Uuid,
    /// `server_boot`: the server's boot time (0 until the client has heard from the server).
    pub server_boot: u32,
    /// `if_vers`: the interface version, major in the low 16 bits, minor in the high 16.
    pub if_vers: u32,
    /// `seqnum`: the call's sequence number within its activity.
    pub seqnum: u32,
    /// `opnum`.
    pub opnum: u16,
    /// `ihint`: the interface hint ([`NO_HINT`] when none).
    pub ihint: u16,
    /// `ahint`: the activity hint ([`NO_HINT`] when none).
    pub ahint: u16,
    /// `len`: the body length (the authentication verifier excluded).
    pub len: u16,
    /// `fragnum`: the fragment number (in a fack or nocall: the highest fragment received in
    /// order).
    pub fragnum: u16,
    /// `auth_proto`: the authentication protocol of the verifier after the body (0: none).
    pub auth_proto: AuthType,
}

impl Default for ClHeader {
    fn default() -> Self {
        ClHeader {
            ptype: PacketType::REQUEST,
            flags1: ClFlags1::default(),
            flags2: ClFlags2::default(),
            drep: DataRep::LITTLE_ENDIAN,
            serial: 0,
            object: Uuid::nil(),
            interface: Uuid::nil(),
            activity: Uuid::nil(),
            server_boot: 0,
            if_vers: 0,
            seqnum: 0,
            opnum: 0,
            ihint: NO_HINT,
            ahint: NO_HINT,
            len: 0,
            fragnum: 0,
            auth_proto: AuthType::NONE,
        }
    }
}

impl ClHeader {
    /// The interface's major version (low 16 bits of `if_vers`).
    pub const fn if_major(&self) -> u16 {
        (self.if_vers & 0xffff) as u16
    }

    /// The interface's minor version (high 16 bits of `if_vers`).
    pub const fn if_minor(&self) -> u16 {
        (self.if_vers >> 16) as u16
    }

    /// `if_vers` for a major and minor version.
    pub const fn vers(major: u16, minor: u16) -> u32 {
        (minor as u32) << 16 | major as u32
    }

    /// Decodes the 80-byte header at the start of `datagram`, without looking at the body.
    pub fn decode(datagram: &[u8]) -> Result<ClHeader, ClPduError> {
        let truncated = ClPduError::HeaderTruncated {
            available: datagram.len(),
        };
        let mut r = HeaderReader {
            rest: datagram.get(..CL_HEADER_LEN).ok_or(truncated.clone())?,
            endian: Endian::Little,
        };
        let [rpc_vers, ptype, flags1, flags2, d0, d1, d2, serial_hi] =
            r.take::<8>().ok_or(truncated.clone())?;
        if rpc_vers != CL_RPC_VERS {
            return Err(ClPduError::Version { rpc_vers });
        }
        let drep = DataRep([d0, d1, d2, 0]);
        r.endian = drep.endian();
        let h = (|| {
            let object = r.uuid()?;
            let interface = r.uuid()?;
            let activity = r.uuid()?;
            let server_boot = r.u32()?;
            let if_vers = r.u32()?;
            let seqnum = r.u32()?;
            let opnum = r.u16()?;
            let ihint = r.u16()?;
            let ahint = r.u16()?;
            let len = r.u16()?;
            let fragnum = r.u16()?;
            let [auth_proto, serial_lo] = r.take::<2>()?;
            Some(ClHeader {
                ptype: PacketType(ptype),
                flags1: ClFlags1(flags1),
                flags2: ClFlags2(flags2),
                drep,
                serial: u16::from_be_bytes([serial_hi, serial_lo]),
                object,
                interface,
                activity,
                server_boot,
                if_vers,
                seqnum,
                opnum,
                ihint,
                ahint,
                len,
                fragnum,
                auth_proto: AuthType(auth_proto),
            })
        })();
        h.ok_or(truncated)
    }

    /// Appends the 80 header bytes (with `len` as it is) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let e = self.drep.endian();
        let [serial_hi, serial_lo] = self.serial.to_be_bytes();
        out.extend_from_slice(&[
            CL_RPC_VERS,
            self.ptype.0,
            self.flags1.0,
            self.flags2.0,
            self.drep.0[0],
            self.drep.0[1],
            self.drep.0[2],
            serial_hi,
        ]);
        for u in [self.object, self.interface, self.activity] {
            out.extend_from_slice(&write_uuid(e, u));
        }
        for v in [self.server_boot, self.if_vers, self.seqnum] {
            out.extend_from_slice(&wr32(e, v));
        }
        for v in [self.opnum, self.ihint, self.ahint, self.len, self.fragnum] {
            out.extend_from_slice(&wr16(e, v));
        }
        out.extend_from_slice(&[self.auth_proto.0, serial_lo]);
    }
}

/// The fack body (C706 12.5.3.4), also the optional body of a nocall: the receiver's window
/// and its selective acknowledgement of fragments received beyond the header's `fragnum`.
///
/// Bit `i` (counting from the least significant bit of `selack[0]`, then of `selack[1]`...)
/// acknowledges fragment `fragnum + 1 + i`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FackBody {
    /// `vers`: the body's version (1 in DCE 1.1; 0 and 1 share this layout).
    pub vers: u8,
    /// `window_size`: the receiver's window, in kilobytes of buffer (C706 12.5.3.4).
    pub window_size: u16,
    /// `max_tsdu`: the largest datagram the receiver's transport takes.
    pub max_tsdu: u32,
    /// `max_frag_size`: the largest fragment (header included) the receiver takes.
    pub max_frag_size: u32,
    /// `serial_num`: the serial number of the fragment that caused this fack.
    pub serial_num: u16,
    /// `selack[selack_len]`: the selective-ack bit words.
    pub selack: Vec<u32>,
}

impl FackBody {
    /// True when the body acknowledges fragment `n` through its selective-ack bits, given
    /// the header's `fragnum`.
    pub fn acknowledges(&self, fragnum: u16, n: u16) -> bool {
        // Fragment numbers are modulo 2^16: `fragnum` 0xffff (nothing in order yet) makes bit
        // 0 fragment 0.
        let bit = u32::from(n.wrapping_sub(fragnum).wrapping_sub(1));
        self.selack
            .get((bit / 32) as usize)
            .is_some_and(|w| w & (1 << (bit % 32)) != 0)
    }
}

/// cl_cancel body (C706 12.5.3.3, `quit` in the DCE sources).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelBody {
    /// `vers`: 0.
    pub vers: u32,
    /// `cancel_id`: the cancel's number within the call.
    pub cancel_id: u32,
}

/// cancel_ack body (C706 12.5.3.2, `quack` in the DCE sources).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelAckBody {
    /// `vers`: 0.
    pub vers: u32,
    /// `cancel_id`: the cancel acknowledged.
    pub cancel_id: u32,
    /// `server_is_accepting`: whether the server accepts cancels for this call.
    pub server_is_accepting: bool,
}

/// The body of a connectionless PDU, by packet type (C706 12.5.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClBody {
    /// request (0): a stub fragment.
    Request(Vec<u8>),
    /// ping (1): no body.
    Ping,
    /// response (2): a stub fragment.
    Response(Vec<u8>),
    /// fault (3): the status.
    Fault(FaultStatus),
    /// working (4): no body.
    Working,
    /// nocall (5): no body, or a fack body telling which fragments arrived.
    Nocall(Option<FackBody>),
    /// reject (6): the status.
    Reject(FaultStatus),
    /// ack (7): no body.
    Ack,
    /// cl_cancel (8).
    Cancel(CancelBody),
    /// fack (9): a fack body (an empty body is read as `None`, as Wireshark does).
    Fack(Option<FackBody>),
    /// cancel_ack (10).
    CancelAck(CancelAckBody),
    /// Any other packet type (connection-oriented types and unknown values): the body as it
    /// came.
    Other(Vec<u8>),
}

impl ClBody {
    /// The packet type this body belongs to (`None` for [`ClBody::Other`], whose type is the
    /// header's).
    pub fn ptype(&self) -> Option<PacketType> {
        Some(match self {
            ClBody::Request(_) => PacketType::REQUEST,
            ClBody::Ping => PacketType::PING,
            ClBody::Response(_) => PacketType::RESPONSE,
            ClBody::Fault(_) => PacketType::FAULT,
            ClBody::Working => PacketType::WORKING,
            ClBody::Nocall(_) => PacketType::NOCALL,
            ClBody::Reject(_) => PacketType::REJECT,
            ClBody::Ack => PacketType::ACK,
            ClBody::Cancel(_) => PacketType::CL_CANCEL,
            ClBody::Fack(_) => PacketType::FACK,
            ClBody::CancelAck(_) => PacketType::CANCEL_ACK,
            ClBody::Other(_) => return None,
        })
    }
}

/// One connectionless PDU: header, body and authentication verifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClPdu {
    /// The header; [`ClPdu::encode`] takes `ptype` from the body (except for
    /// [`ClBody::Other`]) and `len` from the body's size.
    pub header: ClHeader,
    /// The body.
    pub body: ClBody,
    /// The authentication verifier after the body (empty when `auth_proto` is 0), opaque.
    pub auth: Vec<u8>,
}

/// Why a datagram is not a well-formed connectionless PDU (C706 12.5). Every variant is the
/// sender's fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClPduError {
    /// Fewer than the 80 bytes of the header.
    #[error("{available} bytes given, fewer than the 80-byte connectionless header")]
    HeaderTruncated {
        /// Bytes given.
        available: usize,
    },
    /// `rpc_vers` is not 4.
    #[error("rpc_vers {rpc_vers} is not the connectionless version 4")]
    Version {
        /// The version byte.
        rpc_vers: u8,
    },
    /// `len` claims more body than the datagram holds.
    #[error("body length {len} exceeds the {available} bytes after the header")]
    BodyBeyondData {
        /// The header's `len`.
        len: u16,
        /// Bytes after the header.
        available: usize,
    },
    /// Bytes follow the body although `auth_proto` is 0.
    #[error("{extra} bytes after the body without an authentication protocol")]
    TrailingData {
        /// Bytes after the body.
        extra: usize,
    },
    /// A fixed field of the body lies beyond `len`.
    #[error("{ptype} body truncated: {needed} bytes needed, {available} present")]
    BodyTruncated {
        /// The packet type.
        ptype: PacketType,
        /// Body bytes needed.
        needed: usize,
        /// Body bytes present.
        available: usize,
    },
    /// Bytes remain after a body of fixed layout (or a body where none belongs).
    #[error("{extra} unexpected bytes after the {ptype} body")]
    BodyTrailingData {
        /// The packet type.
        ptype: PacketType,
        /// Bytes left over.
        extra: usize,
    },
}

impl ClPduError {
    /// A stable code naming the error, for audit records.
    pub fn reason_code(&self) -> &'static str {
        match self {
            ClPduError::HeaderTruncated { .. } => "cl_header_truncated",
            ClPduError::Version { .. } => "cl_bad_version",
            ClPduError::BodyBeyondData { .. } => "cl_body_beyond_data",
            ClPduError::TrailingData { .. } => "cl_trailing_data",
            ClPduError::BodyTruncated { .. } => "cl_body_truncated",
            ClPduError::BodyTrailingData { .. } => "cl_body_trailing_data",
        }
    }
}

/// Why a PDU could not be encoded (the caller's fault).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClEncodeError {
    /// The body is longer than `len` can say.
    #[error("body of {0} bytes exceeds the 65535 a connectionless header can announce")]
    BodyTooLong(usize),
    /// A fack body has more selective-ack words than `selack_len` can say.
    #[error("{0} selective-ack words exceed 65535")]
    SelackTooLong(usize),
    /// An authentication verifier is given but `auth_proto` is 0 (it would not decode).
    #[error("an authentication verifier needs a non-zero auth_proto")]
    AuthWithoutProto,
}

impl ClPdu {
    /// Decodes one datagram.
    pub fn decode(datagram: &[u8]) -> Result<ClPdu, ClPduError> {
        let header = ClHeader::decode(datagram)?;
        let rest = datagram.get(CL_HEADER_LEN..).unwrap_or(&[]);
        let len = usize::from(header.len);
        let (body, auth) = match (rest.get(..len), rest.get(len..)) {
            (Some(b), Some(a)) => (b, a),
            _ => {
                return Err(ClPduError::BodyBeyondData {
                    len: header.len,
                    available: rest.len(),
                })
            }
        };
        if header.auth_proto == AuthType::NONE && !auth.is_empty() {
            return Err(ClPduError::TrailingData { extra: auth.len() });
        }
        let body = decode_body(&header, body)?;
        Ok(ClPdu {
            header,
            body,
            auth: auth.to_vec(),
        })
    }

    /// Encodes the PDU into a new datagram.
    pub fn encode(&self) -> Result<Vec<u8>, ClEncodeError> {
        let mut out = Vec::with_capacity(CL_HEADER_LEN + self.body_len_hint() + self.auth.len());
        self.encode_into(&mut out)?;
        Ok(out)
    }

    fn body_len_hint(&self) -> usize {
        match &self.body {
            ClBody::Request(s) | ClBody::Response(s) | ClBody::Other(s) => s.len(),
            _ => 32,
        }
    }

    /// Appends the datagram to `out` (nothing is appended on error).
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), ClEncodeError> {
        if !self.auth.is_empty() && self.header.auth_proto == AuthType::NONE {
            return Err(ClEncodeError::AuthWithoutProto);
        }
        let e = self.header.drep.endian();
        let mut body = Vec::new();
        match &self.body {
            ClBody::Request(s) | ClBody::Response(s) | ClBody::Other(s) => {
                body.extend_from_slice(s)
            }
            ClBody::Ping | ClBody::Working | ClBody::Ack | ClBody::Nocall(None) => {}
            ClBody::Fack(None) => {}
            ClBody::Fault(st) | ClBody::Reject(st) => body.extend_from_slice(&wr32(e, st.0)),
            ClBody::Nocall(Some(f)) | ClBody::Fack(Some(f)) => {
                let n = u16::try_from(f.selack.len())
                    .map_err(|_| ClEncodeError::SelackTooLong(f.selack.len()))?;
                body.extend_from_slice(&[f.vers, 0]);
                body.extend_from_slice(&wr16(e, f.window_size));
                body.extend_from_slice(&wr32(e, f.max_tsdu));
                body.extend_from_slice(&wr32(e, f.max_frag_size));
                body.extend_from_slice(&wr16(e, f.serial_num));
                body.extend_from_slice(&wr16(e, n));
                for w in &f.selack {
                    body.extend_from_slice(&wr32(e, *w));
                }
            }
            ClBody::Cancel(c) => {
                body.extend_from_slice(&wr32(e, c.vers));
                body.extend_from_slice(&wr32(e, c.cancel_id));
            }
            ClBody::CancelAck(c) => {
                body.extend_from_slice(&wr32(e, c.vers));
                body.extend_from_slice(&wr32(e, c.cancel_id));
                body.push(u8::from(c.server_is_accepting));
            }
        }
        let len = u16::try_from(body.len()).map_err(|_| ClEncodeError::BodyTooLong(body.len()))?;
        let mut header = self.header;
        header.len = len;
        if let Some(p) = self.body.ptype() {
            header.ptype = p;
        }
        out.reserve(CL_HEADER_LEN + body.len() + self.auth.len());
        header.encode_into(out);
        out.extend_from_slice(&body);
        out.extend_from_slice(&self.auth);
        Ok(())
    }
}

/// A cursor over the 80 header bytes.
struct HeaderReader<'a> {
    rest: &'a [u8],
    endian: Endian,
}

impl HeaderReader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, tail) = self.rest.split_first_chunk::<N>()?;
        self.rest = tail;
        Some(*head)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(rd16(self.endian, self.take()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(rd32(self.endian, self.take()?))
    }
    fn uuid(&mut self) -> Option<Uuid> {
        Some(read_uuid(self.endian, self.take()?))
    }
}

/// A bounded cursor over a body.
struct Cursor<'a> {
    ptype: PacketType,
    body: &'a [u8],
    at: usize,
    endian: Endian,
}

impl<'a> Cursor<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], ClPduError> {
        let end = self.at.saturating_add(N);
        let b = self
            .body
            .get(self.at..end)
            .and_then(|s| <[u8; N]>::try_from(s).ok())
            .ok_or(ClPduError::BodyTruncated {
                ptype: self.ptype,
                needed: end,
                available: self.body.len(),
            })?;
        self.at = end;
        Ok(b)
    }
    fn u8(&mut self) -> Result<u8, ClPduError> {
        Ok(self.take::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, ClPduError> {
        Ok(rd16(self.endian, self.take()?))
    }
    fn u32(&mut self) -> Result<u32, ClPduError> {
        Ok(rd32(self.endian, self.take()?))
    }
    fn end(self) -> Result<(), ClPduError> {
        match self.body.len().checked_sub(self.at) {
            Some(0) | None => Ok(()),
            Some(extra) => Err(ClPduError::BodyTrailingData {
                ptype: self.ptype,
                extra,
            }),
        }
    }
}

fn decode_fack(c: &mut Cursor<'_>) -> Result<FackBody, ClPduError> {
    let vers = c.u8()?;
    let _pad = c.u8()?;
    let window_size = c.u16()?;
    let max_tsdu = c.u32()?;
    let max_frag_size = c.u32()?;
    let serial_num = c.u16()?;
    let n = c.u16()?;
    // Bounded by the body: check that the words are there before allocating for them.
    let needed = c.at.saturating_add(usize::from(n).saturating_mul(4));
    if needed > c.body.len() {
        return Err(ClPduError::BodyTruncated {
            ptype: c.ptype,
            needed,
            available: c.body.len(),
        });
    }
    let mut selack = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        selack.push(c.u32()?);
    }
    Ok(FackBody {
        vers,
        window_size,
        max_tsdu,
        max_frag_size,
        serial_num,
        selack,
    })
}

fn decode_body(h: &ClHeader, body: &[u8]) -> Result<ClBody, ClPduError> {
    let mut c = Cursor {
        ptype: h.ptype,
        body,
        at: 0,
        endian: h.drep.endian(),
    };
    let b = match h.ptype {
        PacketType::REQUEST => return Ok(ClBody::Request(body.to_vec())),
        PacketType::RESPONSE => return Ok(ClBody::Response(body.to_vec())),
        PacketType::PING => ClBody::Ping,
        PacketType::WORKING => ClBody::Working,
        PacketType::ACK => ClBody::Ack,
        PacketType::FAULT => ClBody::Fault(FaultStatus(c.u32()?)),
        PacketType::REJECT => ClBody::Reject(FaultStatus(c.u32()?)),
        PacketType::NOCALL if body.is_empty() => ClBody::Nocall(None),
        PacketType::NOCALL => ClBody::Nocall(Some(decode_fack(&mut c)?)),
        PacketType::FACK if body.is_empty() => ClBody::Fack(None),
        PacketType::FACK => ClBody::Fack(Some(decode_fack(&mut c)?)),
        PacketType::CL_CANCEL => ClBody::Cancel(CancelBody {
            vers: c.u32()?,
            cancel_id: c.u32()?,
        }),
        PacketType::CANCEL_ACK => ClBody::CancelAck(CancelAckBody {
            vers: c.u32()?,
            cancel_id: c.u32()?,
            server_is_accepting: c.u8()? != 0,
        }),
        _ => return Ok(ClBody::Other(body.to_vec())),
    };
    c.end()?;
    Ok(b)
}

fn rd16(e: Endian, b: [u8; 2]) -> u16 {
    match e {
        Endian::Little => u16::from_le_bytes(b),
        Endian::Big => u16::from_be_bytes(b),
    }
}

fn rd32(e: Endian, b: [u8; 4]) -> u32 {
    match e {
        Endian::Little => u32::from_le_bytes(b),
        Endian::Big => u32::from_be_bytes(b),
    }
}

fn wr16(e: Endian, v: u16) -> [u8; 2] {
    match e {
        Endian::Little => v.to_le_bytes(),
        Endian::Big => v.to_be_bytes(),
    }
}

fn wr32(e: Endian, v: u32) -> [u8; 4] {
    match e {
        Endian::Little => v.to_le_bytes(),
        Endian::Big => v.to_be_bytes(),
    }
}

/// Reads a UUID in the byte order `e` (its first three fields are integers, C706 appendix A).
pub fn read_uuid(e: Endian, b: [u8; 16]) -> Uuid {
    match e {
        Endian::Little => Uuid::from_bytes_le(b),
        Endian::Big => Uuid::from_bytes(b),
    }
}

/// Writes a UUID in the byte order `e`.
pub fn write_uuid(e: Endian, u: Uuid) -> [u8; 16] {
    match e {
        Endian::Little => u.to_bytes_le(),
        Endian::Big => *u.as_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(drep: DataRep) -> ClPdu {
        ClPdu {
            header: ClHeader {
                ptype: PacketType::REQUEST,
                flags1: ClFlags1::FRAG.with(ClFlags1::IDEMPOTENT),
                drep,
                serial: 0x0102,
                interface: Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182),
                activity: Uuid::from_u128(0x11223344_5566_7788_99aa_bbccddeeff00),
                server_boot: 0x5f5e_1000,
                if_vers: ClHeader::vers(1, 0),
                seqnum: 7,
                opnum: 1,
                fragnum: 3,
                ..Default::default()
            },
            body: ClBody::Request(vec![1, 2, 3, 4]),
            auth: vec![],
        }
    }

    #[test]
    fn header_fields_sit_where_c706_puts_them() {
        let b = req(DataRep::LITTLE_ENDIAN).encode().unwrap();
        assert_eq!(b.len(), 84);
        assert_eq!(&b[..8], &[4, 0, 0x24, 0, 0x10, 0, 0, 0x01]); // vers, ptype, flags, drep, serial_hi
        assert_eq!(&b[24..28], &[0xc5, 0x5e, 0xa1, 0x60]); // if_id time_low, little-endian
        assert_eq!(&b[56..60], &0x5f5e_1000u32.to_le_bytes()); // server_boot
        assert_eq!(&b[60..64], &[1, 0, 0, 0]); // if_vers 1.0
        assert_eq!(&b[64..68], &[7, 0, 0, 0]); // seqnum
        assert_eq!(&b[68..70], &[1, 0]); // opnum
        assert_eq!(&b[70..74], &[0xff, 0xff, 0xff, 0xff]); // ihint, ahint
        assert_eq!(&b[74..76], &[4, 0]); // len
        assert_eq!(&b[76..78], &[3, 0]); // fragnum
        assert_eq!(&b[78..80], &[0, 0x02]); // auth_proto, serial_lo
        let be = req(DataRep::BIG_ENDIAN).encode().unwrap();
        assert_eq!(&be[24..28], &[0x60, 0xa1, 0x5e, 0xc5]);
        assert_eq!(&be[74..76], &[0, 4]);
        for b in [b, be] {
            assert_eq!(ClPdu::decode(&b).unwrap().header.serial, 0x0102);
        }
    }

    #[test]
    fn lengths_that_do_not_add_up_are_errors() {
        let mut b = req(DataRep::LITTLE_ENDIAN).encode().unwrap();
        assert!(matches!(
            ClPdu::decode(&b[..79]),
            Err(ClPduError::HeaderTruncated { available: 79 })
        ));
        assert!(matches!(
            ClPdu::decode(&b[..83]),
            Err(ClPduError::BodyBeyondData { len: 4, .. })
        ));
        b.push(0);
        assert!(matches!(
            ClPdu::decode(&b),
            Err(ClPduError::TrailingData { extra: 1 })
        ));
        b[0] = 5;
        assert!(matches!(
            ClPdu::decode(&b),
            Err(ClPduError::Version { rpc_vers: 5 })
        ));
    }

    #[test]
    fn fack_selack_count_cannot_allocate_beyond_the_body() {
        let mut p = req(DataRep::LITTLE_ENDIAN);
        p.body = ClBody::Fack(Some(FackBody {
            vers: 1,
            window_size: 8,
            max_tsdu: 65000,
            max_frag_size: 1464,
            serial_num: 2,
            selack: vec![0b101],
        }));
        let mut b = p.encode().unwrap();
        assert!(
            matches!(&ClPdu::decode(&b).unwrap().body, ClBody::Fack(Some(f)) if f.acknowledges(3, 4) && !f.acknowledges(3, 5) && f.acknowledges(3, 6))
        );
        b[80 + 14] = 0xff; // selack_len 0x00ff words, 4 present
        assert!(matches!(
            ClPdu::decode(&b),
            Err(ClPduError::BodyTruncated { .. })
        ));
    }
}
