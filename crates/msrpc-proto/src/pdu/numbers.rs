//! Wire numbers as open newtypes: named constants for the values the specs define, any other
//! value kept and printed in hex.

macro_rules! open_enum {
    ($(#[$m:meta])* $name:ident($t:ty) { $($(#[$cm:meta])* $c:ident = $v:expr,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub $t);
        impl $name {
            $($(#[$cm])* pub const $c: $name = $name($v);)*
            /// The spec's name for this value, if it has one.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $(v if v == $v => Some(stringify!($c)),)*
                    _ => None,
                }
            }
        }
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}::{}", stringify!($name), n),
                    None => write!(f, "{}({:#x})", stringify!($name), self.0),
                }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(&n.to_ascii_lowercase()),
                    None => write!(f, "{:#x}", self.0),
                }
            }
        }
    };
}

open_enum! {
    /// `PTYPE` (C706 12.6.3.1; 1, 4-10 are connectionless only).
    PacketType(u8) {
        /// request.
        REQUEST = 0,
        /// ping (CL).
        PING = 1,
        /// response.
        RESPONSE = 2,
        /// fault.
        FAULT = 3,
        /// working (CL).
        WORKING = 4,
        /// nocall (CL).
        NOCALL = 5,
        /// reject (CL).
        REJECT = 6,
        /// ack (CL).
        ACK = 7,
        /// cl_cancel (CL).
        CL_CANCEL = 8,
        /// fack (CL).
        FACK = 9,
        /// cancel_ack (CL).
        CANCEL_ACK = 10,
        /// bind.
        BIND = 11,
        /// bind_ack.
        BIND_ACK = 12,
        /// bind_nak.
        BIND_NAK = 13,
        /// alter_context.
        ALTER_CONTEXT = 14,
        /// alter_context_resp.
        ALTER_CONTEXT_RESP = 15,
        /// auth3 (MS-RPCE 2.2.2.10).
        AUTH3 = 16,
        /// shutdown.
        SHUTDOWN = 17,
        /// co_cancel.
        CO_CANCEL = 18,
        /// orphaned.
        ORPHANED = 19,
    }
}

/// `pfc_flags` (C706 12.6.3.1, MS-RPCE 2.2.2.3): a bit set.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PfcFlags(pub u8);

impl PfcFlags {
    /// First fragment.
    pub const FIRST_FRAG: PfcFlags = PfcFlags(0x01);
    /// Last fragment.
    pub const LAST_FRAG: PfcFlags = PfcFlags(0x02);
    /// Cancel pending (request/response); in bind and alter_context MS-RPCE reuses the bit as
    /// `PFC_SUPPORT_HEADER_SIGN`.
    pub const PENDING_CANCEL: PfcFlags = PfcFlags(0x04);
    /// `PFC_SUPPORT_HEADER_SIGN` (bind, bind_ack, alter_context, alter_context_resp).
    pub const SUPPORT_HEADER_SIGN: PfcFlags = PfcFlags(0x04);
    /// Reserved.
    pub const RESERVED_1: PfcFlags = PfcFlags(0x08);
    /// Concurrent multiplexing supported.
    pub const CONC_MPX: PfcFlags = PfcFlags(0x10);
    /// Did not execute (fault).
    pub const DID_NOT_EXECUTE: PfcFlags = PfcFlags(0x20);
    /// `maybe` semantics.
    pub const MAYBE: PfcFlags = PfcFlags(0x40);
    /// An object UUID follows the request header.
    pub const OBJECT_UUID: PfcFlags = PfcFlags(0x80);
    /// A first and last fragment.
    pub const FIRST_AND_LAST: PfcFlags = PfcFlags(0x03);

    /// True when every bit of `other` is set.
    pub const fn contains(self, other: PfcFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of both sets.
    #[must_use]
    pub const fn with(self, other: PfcFlags) -> PfcFlags {
        PfcFlags(self.0 | other.0)
    }

    /// This set without `other`'s bits.
    #[must_use]
    pub const fn without(self, other: PfcFlags) -> PfcFlags {
        PfcFlags(self.0 & !other.0)
    }
}

impl std::ops::BitOr for PfcFlags {
    type Output = PfcFlags;
    fn bitor(self, rhs: PfcFlags) -> PfcFlags {
        self.with(rhs)
    }
}

impl std::fmt::Debug for PfcFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const NAMES: [&str; 8] = [
            "FIRST_FRAG",
            "LAST_FRAG",
            "PENDING_CANCEL",
            "RESERVED_1",
            "CONC_MPX",
            "DID_NOT_EXECUTE",
            "MAYBE",
            "OBJECT_UUID",
        ];
        write!(f, "PfcFlags({:#04x}", self.0)?;
        for (i, n) in NAMES.iter().enumerate() {
            if self.0 & (1 << i) != 0 {
                write!(f, " {n}")?;
            }
        }
        f.write_str(")")
    }
}

open_enum! {
    /// `auth_type` (MS-RPCE 2.2.1.1.7).
    AuthType(u8) {
        /// No authentication.
        NONE = 0,
        /// Kerberos via SPNEGO (RPC_C_AUTHN_GSS_NEGOTIATE).
        GSS_NEGOTIATE = 0x09,
        /// NTLM (RPC_C_AUTHN_WINNT).
        WINNT = 0x0a,
        /// Schannel.
        GSS_SCHANNEL = 0x0e,
        /// Kerberos.
        GSS_KERBEROS = 0x10,
        /// Netlogon secure channel.
        NETLOGON = 0x44,
        /// Default.
        DEFAULT = 0xff,
    }
}

open_enum! {
    /// `auth_level` (MS-RPCE 2.2.1.1.8).
    AuthLevel(u8) {
        /// Default (treated as connect).
        DEFAULT = 0,
        /// No authentication.
        NONE = 1,
        /// Authenticate at connect only.
        CONNECT = 2,
        /// Authenticate each call.
        CALL = 3,
        /// Authenticate each packet.
        PKT = 4,
        /// Integrity: every PDU signed.
        PKT_INTEGRITY = 5,
        /// Privacy: every PDU signed and its stub sealed.
        PKT_PRIVACY = 6,
    }
}

open_enum! {
    /// `p_cont_def_result_t` (C706 12.6.3.1; negotiate_ack from MS-RPCE 2.2.2.4).
    ContextResult(u16) {
        /// Accepted.
        ACCEPTANCE = 0,
        /// Rejected by the user (the server application).
        USER_REJECTION = 1,
        /// Rejected by the RPC runtime.
        PROVIDER_REJECTION = 2,
        /// Answer to a bind-time feature negotiation context.
        NEGOTIATE_ACK = 3,
    }
}

open_enum! {
    /// `p_provider_reason_t` (C706 12.6.3.1).
    ProviderReason(u16) {
        /// Not specified (also "no reason" on acceptance).
        REASON_NOT_SPECIFIED = 0,
        /// The interface is not supported.
        ABSTRACT_SYNTAX_NOT_SUPPORTED = 1,
        /// No offered transfer syntax is supported.
        PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED = 2,
        /// A local limit was exceeded.
        LOCAL_LIMIT_EXCEEDED = 3,
    }
}

open_enum! {
    /// `provider_reject_reason` of bind_nak (C706 12.6.3.1, MS-RPCE 2.2.2.5).
    BindNakReason(u16) {
        /// Not specified.
        REASON_NOT_SPECIFIED = 0,
        /// Temporary congestion.
        TEMPORARY_CONGESTION = 1,
        /// A local limit was exceeded.
        LOCAL_LIMIT_EXCEEDED = 2,
        /// Called presentation address unknown.
        CALLED_PADDR_UNKNOWN = 3,
        /// Protocol version not supported.
        PROTOCOL_VERSION_NOT_SUPPORTED = 4,
        /// Default context not supported.
        DEFAULT_CONTEXT_NOT_SUPPORTED = 5,
        /// User data not readable.
        USER_DATA_NOT_READABLE = 6,
        /// No PSAP available.
        NO_PSAP_AVAILABLE = 7,
        /// Authentication type not recognized (MS-RPCE).
        AUTHENTICATION_TYPE_NOT_RECOGNIZED = 8,
        /// Invalid checksum (MS-RPCE).
        INVALID_CHECKSUM = 9,
    }
}

open_enum! {
    /// Fault status codes (C706 appendix E, MS-RPCE 2.2.2.7 and 3.3.1.5) and the Windows error
    /// codes that Windows servers send as fault status.
    FaultStatus(u32) {
        /// Unspecified failure (DCERPC_FAULT_OTHER; Samba's answer to an undecodable
        /// verification trailer).
        FAULT_OTHER = 0x0000_0001,
        /// Access denied (ERROR_ACCESS_DENIED, what Windows sends for refused calls).
        ACCESS_DENIED = 0x0000_0005,
        /// Out of memory (ERROR_OUTOFMEMORY).
        OUT_OF_MEMORY = 0x0000_000e,
        /// Unknown authentication service (RPC_S_UNKNOWN_AUTHN_SERVICE).
        RPC_S_UNKNOWN_AUTHN_SERVICE = 0x0000_06d3,
        /// An enum value that does not fit its wire type (RPC_X_ENUM_VALUE_OUT_OF_RANGE, 1781:
        /// what Windows raises when it cannot marshal an enum value).
        RPC_X_ENUM_VALUE_OUT_OF_RANGE = 0x0000_06f5,
        /// Bad stub data (RPC_X_BAD_STUB_DATA: undecodable NDR).
        RPC_X_BAD_STUB_DATA = 0x0000_06f7,
        /// The call was cancelled (RPC_S_CALL_CANCELLED).
        RPC_S_CALL_CANCELLED = 0x0000_071a,
        /// The security package failed (RPC_S_SEC_PKG_ERROR): what Windows and Samba answer
        /// when a request's signature does not verify or its sealed stub does not unseal.
        RPC_S_SEC_PKG_ERROR = 0x0000_0721,
        /// nca_s_fault_int_div_by_zero.
        NCA_S_FAULT_INT_DIV_BY_ZERO = 0x1c00_0001,
        /// nca_s_fault_addr_error.
        NCA_S_FAULT_ADDR_ERROR = 0x1c00_0002,
        /// nca_s_fault_invalid_tag: unknown union discriminant.
        NCA_S_FAULT_INVALID_TAG = 0x1c00_0006,
        /// nca_s_fault_invalid_bound: an array bound out of range.
        NCA_S_FAULT_INVALID_BOUND = 0x1c00_0007,
        /// nca_s_rpc_version_mismatch.
        NCA_S_RPC_VERSION_MISMATCH = 0x1c00_0008,
        /// nca_s_unspec_reject.
        NCA_S_UNSPEC_REJECT = 0x1c00_0009,
        /// nca_s_fault_cancel.
        NCA_S_FAULT_CANCEL = 0x1c00_000d,
        /// nca_s_fault_ill_inst.
        NCA_S_FAULT_ILL_INST = 0x1c00_000e,
        /// nca_s_fault_unspec.
        NCA_S_FAULT_UNSPEC = 0x1c00_0012,
        /// nca_s_fault_context_mismatch: an unknown, closed or foreign context handle (the
        /// stub's RPC_X_SS_CONTEXT_MISMATCH, which is ERROR_INVALID_HANDLE in memory; on the
        /// wire Windows faults with this status, as Samba's torture tests against Windows check).
        NCA_S_FAULT_CONTEXT_MISMATCH = 0x1c00_001a,
        /// nca_s_fault_remote_no_memory.
        NCA_S_FAULT_REMOTE_NO_MEMORY = 0x1c00_001b,
        /// nca_s_invalid_pres_context_id: a request names an unknown presentation context.
        NCA_S_INVALID_PRES_CONTEXT_ID = 0x1c00_001c,
        /// nca_s_unsupported_authn_level.
        NCA_S_UNSUPPORTED_AUTHN_LEVEL = 0x1c00_001d,
        /// nca_s_invalid_checksum: a signature did not verify.
        NCA_S_INVALID_CHECKSUM = 0x1c00_001f,
        /// nca_s_invalid_crc.
        NCA_S_INVALID_CRC = 0x1c00_0020,
        /// nca_s_fault_user_defined.
        NCA_S_FAULT_USER_DEFINED = 0x1c00_0021,
        /// nca_s_fault_tx_open_failed.
        NCA_S_FAULT_TX_OPEN_FAILED = 0x1c00_0022,
        /// nca_s_fault_object_not_found.
        NCA_S_FAULT_OBJECT_NOT_FOUND = 0x1c00_0024,
        /// nca_s_op_rng_error: the opnum is out of range.
        NCA_S_OP_RNG_ERROR = 0x1c01_0002,
        /// nca_s_unk_if: unknown interface.
        NCA_S_UNK_IF = 0x1c01_0003,
        /// nca_s_wrong_boot_time.
        NCA_S_WRONG_BOOT_TIME = 0x1c01_0006,
        /// nca_s_you_crashed.
        NCA_S_YOU_CRASHED = 0x1c01_0009,
        /// nca_s_proto_error: protocol error.
        NCA_S_PROTO_ERROR = 0x1c01_000b,
        /// nca_s_out_args_too_big.
        NCA_S_OUT_ARGS_TOO_BIG = 0x1c01_0013,
        /// nca_s_server_too_busy.
        NCA_S_SERVER_TOO_BUSY = 0x1c01_0014,
        /// nca_s_unsupported_type.
        NCA_S_UNSUPPORTED_TYPE = 0x1c01_0017,
    }
}

open_enum! {
    /// Bind-time feature bits (MS-RPCE 2.2.2.14), carried in the negotiation syntax's UUID.
    BindTimeFeatures(u16) {
        /// Security context multiplexing.
        SECURITY_CONTEXT_MULTIPLEXING = 0x0001,
        /// Keep the connection open when a call is orphaned.
        KEEP_CONNECTION_ON_ORPHAN = 0x0002,
        /// Both features.
        BOTH = 0x0003,
    }
}
