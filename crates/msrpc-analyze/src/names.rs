//! Names for wire numbers as the audit records spell them; interface and operation names come
//! from `msrpc_epm::known`.

use msrpc_ndr::Uuid;
use msrpc_proto::pdu::{AuthLevel, AuthType, FaultStatus, PacketType};

/// `winnt`, `gss_negotiate`, `gss_kerberos`, ... or the number.
pub fn auth_type(t: AuthType) -> String {
    match t.name() {
        Some(n) => n.to_ascii_lowercase(),
        None => t.0.to_string(),
    }
}

/// `none`, `connect`, `call`, `packet`, `integrity`, `privacy`, or the number.
pub fn auth_level(l: AuthLevel) -> String {
    match l.0 {
        0 => "default".into(),
        1 => "none".into(),
        2 => "connect".into(),
        3 => "call".into(),
        4 => "packet".into(),
        5 => "integrity".into(),
        6 => "privacy".into(),
        n => n.to_string(),
    }
}

/// A fault status by name (`nca_s_op_rng_error`) or as `0x%08x`.
pub fn fault(s: FaultStatus) -> String {
    match s.name() {
        Some(n) => n.to_ascii_lowercase(),
        None => format!("{:#010x}", s.0),
    }
}

/// A packet type by name (`bind_ack`) or number.
pub fn ptype(p: PacketType) -> String {
    match p.name() {
        Some(n) => n.to_ascii_lowercase(),
        None => format!("ptype_{}", p.0),
    }
}

/// The interface's well-known name.
pub fn interface(uuid: &Uuid) -> Option<&'static str> {
    msrpc_epm::known::lookup(uuid).map(|k| k.name)
}

/// The operation's name, when `msrpc_epm::known`'s table knows it (the audit log uses the
/// same table).
pub fn operation(uuid: &Uuid, opnum: u16) -> Option<&'static str> {
    msrpc_epm::known::operation_name(uuid, opnum)
}
