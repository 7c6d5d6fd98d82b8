//! Names for wire numbers as the audit records spell them, and operation names of a few
//! well-known interfaces (interface names come from `msrpc_epm::known`).

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

const EPM_OPS: &[&str] = &[
    "ept_insert",
    "ept_delete",
    "ept_lookup",
    "ept_map",
    "ept_lookup_handle_free",
    "ept_inq_object",
    "ept_mgmt_delete",
    "ept_map_auth",
];
const MGMT_OPS: &[&str] = &[
    "inq_if_ids",
    "inq_stats",
    "is_server_listening",
    "stop_server_listening",
    "inq_princ_name",
];
const ECHO_OPS: &[&str] = &[
    "AddOne",
    "EchoData",
    "SinkData",
    "SourceData",
    "TestCall",
    "TestCall2",
    "TestSleep",
    "TestEnum",
    "TestSurrounding",
    "TestDoublePointer",
];
const SVCCTL_OPS: &[(u16, &str)] = &[
    (0, "CloseServiceHandle"),
    (1, "ControlService"),
    (2, "DeleteService"),
    (6, "QueryServiceStatus"),
    (12, "CreateServiceW"),
    (15, "OpenSCManagerW"),
    (16, "OpenServiceW"),
    (19, "StartServiceW"),
];
const NETLOGON_OPS: &[(u16, &str)] = &[
    (2, "NetrLogonSamLogon"),
    (4, "NetrServerReqChallenge"),
    (15, "NetrServerAuthenticate2"),
    (21, "NetrLogonGetCapabilities"),
    (26, "NetrServerAuthenticate3"),
    (29, "NetrLogonGetDomainInfo"),
    (30, "NetrServerPasswordSet2"),
    (39, "NetrLogonSamLogonEx"),
    (45, "NetrLogonSamLogonWithFlags"),
];
const OXID_OPS: &[&str] = &[
    "ResolveOxid",
    "SimplePing",
    "ComplexPing",
    "ServerAlive",
    "ResolveOxid2",
    "ServerAlive2",
];
const DSSETUP_OPS: &[&str] = &["DsRolerGetPrimaryDomainInformation"];

/// The operation's name, for the interfaces this table covers (endpoint mapper, mgmt, rpcecho,
/// svcctl, netlogon, IObjectExporter, dssetup).
pub fn operation(uuid: &Uuid, opnum: u16) -> Option<&'static str> {
    let dense = |t: &'static [&'static str]| t.get(usize::from(opnum)).copied();
    let sparse =
        |t: &'static [(u16, &'static str)]| t.iter().find(|(o, _)| *o == opnum).map(|(_, n)| *n);
    match uuid.as_u128() {
        0xe1af8308_5d1f_11c9_91a4_08002b14a0fa => dense(EPM_OPS),
        0xafa8bd80_7d8a_11c9_bef4_08002b102989 => dense(MGMT_OPS),
        0x60a15ec5_4de8_11d7_a637_005056a20182 => dense(ECHO_OPS),
        0x367abb81_9844_35f1_ad32_98f038001003 => sparse(SVCCTL_OPS),
        0x12345678_1234_abcd_ef00_01234567cffb => sparse(NETLOGON_OPS),
        0x99fcfec4_5260_101b_bbcb_00aa0021347a => dense(OXID_OPS),
        0x3919286a_b10c_11d0_9ba8_00c04fd92ef5 => dense(DSSETUP_OPS),
        _ => None,
    }
}
