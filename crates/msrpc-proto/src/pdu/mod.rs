//! Connection-oriented PDUs (C706 chapter 12.6, MS-RPCE 2.2.2): wire numbers as open newtypes,
//! PDU structures that mirror the spec, and their codec ([`Pdu::decode`], [`Pdu::encode`]).
//!
//! Unknown values of every wire number are kept (Debug prints them in hex), so decoding never
//! fails on an unknown value; it fails only on lengths that do not fit ([`PduError`]).

mod codec;
mod numbers;

pub use codec::*;
pub use numbers::*;

use msrpc_ndr::{DataRep, Uuid};

/// Size of the common header of every connection-oriented PDU.
pub const HEADER_LEN: usize = 16;
/// Size of the `sec_trailer` before the auth value (C706 13.2.6.1).
pub const SEC_TRAILER_LEN: usize = 8;
/// Auth padding aligns the sec_trailer to this many bytes from the start of the stub (MS-RPCE 2.2.2.11).
pub const AUTH_PAD_ALIGN: usize = 16;

/// A presentation syntax identifier `p_syntax_id_t`: interface or transfer-syntax UUID and
/// version (major in the low 16 bits of the wire's `u32`, minor in the high 16).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SyntaxId {
    /// The UUID.
    pub uuid: Uuid,
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
}

impl SyntaxId {
    /// A syntax identifier.
    pub const fn new(uuid: Uuid, major: u16, minor: u16) -> Self {
        SyntaxId { uuid, major, minor }
    }

    /// NDR 2.0, `8a885d04-1ceb-11c9-9fe8-08002b104860` v2.0.
    pub const NDR20: SyntaxId = SyntaxId::new(
        Uuid::from_u128(0x8a885d04_1ceb_11c9_9fe8_08002b104860),
        2,
        0,
    );
    /// NDR64, `71710533-beba-4937-8319-b5dbef9ccc36` v1.0 (MS-RPCE 2.2.5).
    pub const NDR64: SyntaxId = SyntaxId::new(
        Uuid::from_u128(0x71710533_beba_4937_8319_b5dbef9ccc36),
        1,
        0,
    );

    /// The NDR transfer syntax this identifies, if it is NDR20 or NDR64.
    pub fn ndr_syntax(&self) -> Option<msrpc_ndr::TransferSyntax> {
        if *self == Self::NDR20 {
            Some(msrpc_ndr::TransferSyntax::Ndr20)
        } else if *self == Self::NDR64 {
            Some(msrpc_ndr::TransferSyntax::Ndr64)
        } else {
            None
        }
    }

    /// The identifier of an NDR transfer syntax.
    pub const fn for_ndr(syntax: msrpc_ndr::TransferSyntax) -> SyntaxId {
        match syntax {
            msrpc_ndr::TransferSyntax::Ndr20 => Self::NDR20,
            msrpc_ndr::TransferSyntax::Ndr64 => Self::NDR64,
        }
    }

    /// True when this is a bind-time feature negotiation syntax
    /// (`6cb71c2c-9812-4540-XXXX-000000000000`, MS-RPCE 3.3.1.5.3).
    pub fn is_bind_time_features(&self) -> bool {
        let b = self.uuid.as_bytes();
        b[..8] == [0x6c, 0xb7, 0x1c, 0x2c, 0x98, 0x12, 0x45, 0x40] && b[10..] == [0; 6]
    }

    /// The feature bitmask of a bind-time feature negotiation syntax (bytes 8 and 9 of the
    /// UUID, little-endian).
    pub fn bind_time_features(&self) -> Option<BindTimeFeatures> {
        if self.is_bind_time_features() {
            let b = self.uuid.as_bytes();
            Some(BindTimeFeatures(u16::from_le_bytes([b[8], b[9]])))
        } else {
            None
        }
    }

    /// The bind-time feature negotiation syntax carrying `features`.
    pub fn for_bind_time_features(features: BindTimeFeatures) -> Self {
        let f = features.0.to_le_bytes();
        let bytes = [
            0x6c, 0xb7, 0x1c, 0x2c, 0x98, 0x12, 0x45, 0x40, f[0], f[1], 0, 0, 0, 0, 0, 0,
        ];
        SyntaxId::new(Uuid::from_bytes(bytes), 1, 0)
    }
}

impl std::fmt::Display for SyntaxId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} v{}.{}", self.uuid, self.major, self.minor)
    }
}

/// The common header (C706 12.6.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// `rpc_vers`, 5.
    pub rpc_vers: u8,
    /// `rpc_vers_minor`, 0 or 1.
    pub rpc_vers_minor: u8,
    /// `PTYPE`.
    pub ptype: PacketType,
    /// `pfc_flags`.
    pub flags: PfcFlags,
    /// `packed_drep`: byte order of this header's integers and of the stub.
    pub drep: DataRep,
    /// `frag_length`: the whole fragment, header included.
    pub frag_length: u16,
    /// `auth_length`: length of the auth value after the sec_trailer.
    pub auth_length: u16,
    /// `call_id`.
    pub call_id: u32,
}

/// The `sec_trailer` (C706 13.2.6.1, MS-RPCE 2.2.2.11) that precedes the auth value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecTrailer {
    /// `auth_type`.
    pub auth_type: AuthType,
    /// `auth_level`.
    pub auth_level: AuthLevel,
    /// `auth_pad_length`: padding bytes between the stub and this trailer.
    pub auth_pad_length: u8,
    /// `auth_reserved`.
    pub auth_reserved: u8,
    /// `auth_context_id`.
    pub auth_context_id: u32,
}

/// The authentication verifier at the end of a PDU: sec_trailer and auth value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthVerifier {
    /// The sec_trailer.
    pub trailer: SecTrailer,
    /// The auth value (a security token or a signature); `auth_length` bytes.
    pub value: Vec<u8>,
}

/// One presentation context offered in a bind or alter_context (`p_cont_elem_t`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextElement {
    /// `p_cont_id`.
    pub context_id: u16,
    /// The interface.
    pub abstract_syntax: SyntaxId,
    /// Transfer syntaxes offered, in preference order.
    pub transfer_syntaxes: Vec<SyntaxId>,
}

/// The answer to one presentation context (`p_result_t`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextResultEntry {
    /// `result`.
    pub result: ContextResult,
    /// `reason` (for a negotiate_ack, the accepted [`BindTimeFeatures`] bitmask).
    pub reason: ProviderReason,
    /// The accepted transfer syntax (all zeros when rejected).
    pub transfer_syntax: SyntaxId,
}

/// bind (11) and alter_context (14) bodies (C706 12.6.4.3, 12.6.4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bind {
    /// `max_xmit_frag`.
    pub max_xmit_frag: u16,
    /// `max_recv_frag`.
    pub max_recv_frag: u16,
    /// `assoc_group_id` (0: a new group).
    pub assoc_group_id: u32,
    /// `p_context_elem`.
    pub contexts: Vec<ContextElement>,
}

/// bind_ack (12) and alter_context_resp (15) bodies (C706 12.6.4.4, 12.6.4.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindAck {
    /// `max_xmit_frag`.
    pub max_xmit_frag: u16,
    /// `max_recv_frag`.
    pub max_recv_frag: u16,
    /// `assoc_group_id`.
    pub assoc_group_id: u32,
    /// `sec_addr`: the secondary address (port as text, e.g. `b"135\0"`), NUL included; empty
    /// in alter_context_resp.
    pub sec_addr: Vec<u8>,
    /// `p_result_list`.
    pub results: Vec<ContextResultEntry>,
}

/// bind_nak (13) body (C706 12.6.4.5, MS-RPCE 2.2.2.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindNak {
    /// `provider_reject_reason`.
    pub reason: BindNakReason,
    /// `versions`: supported (major, minor) protocol versions.
    pub versions: Vec<(u8, u8)>,
    /// Bytes after the versions (MS-RPCE: a 16-byte signature and extended error info), kept as sent.
    pub extra: Vec<u8>,
}

/// request (0) body (C706 12.6.4.9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `alloc_hint`: the sender's estimate of the whole stub (never trusted for allocation).
    pub alloc_hint: u32,
    /// `p_cont_id`.
    pub context_id: u16,
    /// `opnum`.
    pub opnum: u16,
    /// `object` (present when `PFC_OBJECT_UUID` is set).
    pub object: Option<Uuid>,
    /// Stub data of this fragment (without auth padding).
    pub stub: Vec<u8>,
}

/// response (2) body (C706 12.6.4.10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// `alloc_hint`.
    pub alloc_hint: u32,
    /// `p_cont_id`.
    pub context_id: u16,
    /// `cancel_count`.
    pub cancel_count: u8,
    /// `reserved`.
    pub reserved: u8,
    /// Stub data of this fragment (without auth padding).
    pub stub: Vec<u8>,
}

/// fault (3) body (C706 12.6.4.7, MS-RPCE 2.2.2.7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// `alloc_hint`.
    pub alloc_hint: u32,
    /// `p_cont_id`.
    pub context_id: u16,
    /// `cancel_count`.
    pub cancel_count: u8,
    /// `reserved` (MS-RPCE: flags; 0x01 = extended error information present).
    pub flags: u8,
    /// `status`.
    pub status: FaultStatus,
    /// `reserved2`.
    pub reserved2: u32,
    /// Optional stub data (extended error information), kept as sent.
    pub stub: Vec<u8>,
}

/// A PDU body, by packet type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// request (0).
    Request(Request),
    /// response (2).
    Response(Response),
    /// fault (3).
    Fault(Fault),
    /// bind (11).
    Bind(Bind),
    /// bind_ack (12).
    BindAck(BindAck),
    /// bind_nak (13).
    BindNak(BindNak),
    /// alter_context (14).
    AlterContext(Bind),
    /// alter_context_resp (15).
    AlterContextResp(BindAck),
    /// auth3 (16): 4 bytes of padding before the verifier (kept as sent).
    Auth3([u8; 4]),
    /// shutdown (17).
    Shutdown,
    /// co_cancel (18).
    CoCancel,
    /// orphaned (19).
    Orphaned,
    /// Any other packet type (including connectionless ones on a stream): the body as sent.
    Unknown(Vec<u8>),
}

/// A decoded connection-oriented PDU (one fragment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pdu {
    /// The common header as received (`frag_length`/`auth_length` are recomputed on encode).
    pub header: Header,
    /// The body.
    pub body: Body,
    /// The auth verifier, when `auth_length` is non-zero.
    pub auth: Option<AuthVerifier>,
}
