//! The generated netlogon client (MS-NRPC) against Samba's samba-dcerpcd configured as a
//! classic (NT4-style) primary domain controller on 127.0.10.2, the role in which
//! samba-dcerpcd registers netlogon with its endpoint mapper (a standalone server does not),
//! unauthenticated, under NTLM at packet privacy and big-endian. Each result is compared with
//! what a client we did not write gets from the same server:
//!
//! - `rpcclient -d 10` (which prints the structures it decoded): `logonctrl`
//!   (NetrLogonControl, query level 1), `netrenumtrusteddomains` (NetrEnumerateTrustedDomains),
//!   `getanydcname`, and `dsenumdomtrusts` / `dsr_getdcnameex2`, which a classic DC does not
//!   implement: both clients get the fault "operation out of range";
//! - python3-samba's netlogon client: NetrServerReqChallenge (a fresh 8-byte challenge) and
//!   NetrServerAuthenticate3 for an account the domain does not have (refused with
//!   STATUS_ACCESS_DENIED), the first two steps of a secure channel.
//!
//! The stubs of the logon calls, which need a secure channel, are checked against Samba's NDR
//! engine (`tests/tests/samba_ndr.rs`) instead.
//!
//! Needs root (a loopback address, port 135) and the Debian packages samba,
//! samba-common-bin, smbclient and python3-samba; fails loudly when they are missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::process::Command;

use msrpc_proto::dispatch::{CallError, Interface};
use msrpc_proto::pdu::FaultStatus;
use msrpc_windows::netlogon as nl;

mod common;
use common::{dump_out, field, num, unix_user, Mode, Samba, WORKGROUP};

const ADDR: &str = "127.0.10.2";
const PDC_CONF: &str =
    "[global]\n  server role = classic primary domain controller\n  domain logons = yes\n";
/// STATUS_ACCESS_DENIED.
const ACCESS_DENIED: i32 = 0xc000_0022_u32 as i32;
/// WERR_NOT_SUPPORTED.
const NOT_SUPPORTED: u32 = 50;

/// What python3-samba's netlogon client gets: the challenge's length and whether it is all
/// zeros, then NetrServerAuthenticate3's status, one per line.
fn samba_python_secure_channel(conf: &Path) -> (usize, bool, u32) {
    let script = format!(
        "from samba.dcerpc import netlogon\n\
         from samba import param, credentials, NTSTATUSError\n\
         lp = param.LoadParm(); lp.load({conf:?})\n\
         c = credentials.Credentials(); c.guess(lp); c.set_anonymous()\n\
         n = netlogon.netlogon('ncacn_ip_tcp:{ADDR}', lp, c)\n\
         cr = netlogon.netr_Credential(); cr.data = list(range(1, 9))\n\
         r = n.netr_ServerReqChallenge('\\\\\\\\MSRPCSAMBA', 'WKS1', cr)\n\
         print(len(r.data)); print(all(b == 0 for b in r.data))\n\
         try:\n\
         \x20   n.netr_ServerAuthenticate3('\\\\\\\\MSRPCSAMBA', 'WKS1$', 2, 'WKS1', cr, 0x6127ffff)\n\
         \x20   print(0)\n\
         except NTSTATUSError as e:\n\
         \x20   print(e.args[0] & 0xffffffff)\n",
        conf = conf.display().to_string()
    );
    let out = Command::new("/usr/bin/python3")
        .args(["-c", &script])
        .output()
        .expect("run /usr/bin/python3 (with python3-samba)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python3-samba netlogon: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    (
        lines[0].parse().unwrap(),
        lines[1] == "True",
        lines[2].parse().unwrap(),
    )
}

struct Theirs {
    logonctrl: Vec<(String, String)>,
    trusted: Vec<(String, String)>,
    any_dc: String,
    enum_trusts: String,
    dc_name_ex2: String,
    python: (usize, bool, u32),
}

fn server() -> Option<String> {
    Some(ADDR.to_string())
}

async fn check(mode: Mode, user: &str, theirs: &Theirs) {
    let conn = common::connect(ADDR, mode, user, nl::LogonInterface::SYNTAX).await;
    let c = nl::LogonClient::new(conn.clone());

    // NetrLogonControl, query level 1.
    let r = c
        .netr_logon_control(nl::NetrLogonControlRequest {
            server_name: server(),
            function_code: 1,
            query_level: 1,
        })
        .await
        .unwrap();
    let t = &theirs.logonctrl;
    assert_eq!(field(t, "result"), "WERR_OK");
    assert_eq!(r.result, 0, "{mode:?}: NetrLogonControl");
    let nl::NetlogonControlQueryInformation::NetlogonInfo1(info) = &r.buffer else {
        panic!("{mode:?}: NetrLogonControl answered {:?}", r.buffer);
    };
    let info = info.get().expect("level 1 information");
    assert_eq!(i64::from(info.netlog1_flags), num(t, "flags"), "{mode:?}");
    assert_eq!(field(t, "pdc_connection_status"), "WERR_OK");
    assert_eq!(info.netlog1_pdc_connection_status, 0, "{mode:?}");

    // NetrEnumerateTrustedDomains: the names as a byte buffer.
    let r = c
        .netr_enumerate_trusted_domains(nl::NetrEnumerateTrustedDomainsRequest {
            server_name: server(),
        })
        .await
        .unwrap();
    let t = &theirs.trusted;
    assert_eq!(field(t, "result"), "NT_STATUS_OK");
    assert_eq!(r.result, 0, "{mode:?}: NetrEnumerateTrustedDomains");
    let b = &r.domain_name_buffer;
    assert_eq!(
        i64::from(b.domain_name_byte_count),
        num(t, "length"),
        "{mode:?}"
    );
    let bytes = b.domain_names.get().cloned().unwrap_or_default();
    let theirs_bytes: Vec<i64> = t
        .iter()
        .filter(|(k, _)| k.starts_with('['))
        .map(|(_, v)| v.parse().unwrap())
        .collect();
    assert_eq!(
        bytes.iter().map(|&b| i64::from(b)).collect::<Vec<_>>(),
        theirs_bytes,
        "{mode:?}: the domain names"
    );

    // NetrGetAnyDCName: not supported by Samba.
    let r = c
        .netr_get_any_dc_name(nl::NetrGetAnyDcNameRequest {
            server_name: server(),
            domain_name: Some(WORKGROUP.into()),
        })
        .await
        .unwrap();
    assert!(
        theirs.any_dc.contains("WERR_NOT_SUPPORTED"),
        "{}",
        theirs.any_dc
    );
    assert_eq!(r.result, NOT_SUPPORTED, "{mode:?}: NetrGetAnyDCName");

    // DsrEnumerateDomainTrusts and DsrGetDcNameEx2 as rpcclient sends them: a classic DC
    // answers both with the fault "operation out of range" (rpcclient shows its low bits).
    for (what, text) in [
        ("dsenumdomtrusts", &theirs.enum_trusts),
        ("dsr_getdcnameex2", &theirs.dc_name_ex2),
    ] {
        assert!(
            text.contains("DOS code 0x0000002e"),
            "rpcclient {what}: {text}"
        );
    }
    let r = c
        .dsr_enumerate_domain_trusts(nl::DsrEnumerateDomainTrustsRequest {
            server_name: server(),
            flags: 1,
        })
        .await;
    assert!(
        matches!(r, Err(CallError::Fault(FaultStatus::NCA_S_OP_RNG_ERROR))),
        "{mode:?}: DsrEnumerateDomainTrusts: {r:?}"
    );
    let r = c
        .dsr_get_dc_name_ex2(nl::DsrGetDcNameEx2Request {
            computer_name: server(),
            account_name: Some(WORKGROUP.into()),
            allowable_account_control_bits: 0,
            domain_name: None,
            domain_guid: Some(msrpc_ndr::Uuid::nil()),
            site_name: None,
            flags: 0x4000_0000,
        })
        .await;
    assert!(
        matches!(r, Err(CallError::Fault(FaultStatus::NCA_S_OP_RNG_ERROR))),
        "{mode:?}: DsrGetDcNameEx2: {r:?}"
    );

    // The secure channel's first steps, as python3-samba's client takes them.
    let challenge = nl::NetlogonCredential {
        data: [1, 2, 3, 4, 5, 6, 7, 8],
    };
    let r = c
        .netr_server_req_challenge(nl::NetrServerReqChallengeRequest {
            primary_name: Some("\\\\MSRPCSAMBA".into()),
            computer_name: "WKS1".into(),
            client_challenge: challenge.clone(),
        })
        .await
        .unwrap();
    let (len, zero, auth3) = theirs.python;
    assert_eq!(r.result, 0, "{mode:?}: NetrServerReqChallenge");
    assert_eq!(r.server_challenge.data.len(), len);
    assert_eq!(
        r.server_challenge.data.iter().all(|&b| b == 0),
        zero,
        "{mode:?}: a server challenge"
    );
    let r = c
        .netr_server_authenticate3(nl::NetrServerAuthenticate3Request {
            primary_name: Some("\\\\MSRPCSAMBA".into()),
            account_name: "WKS1$".into(),
            secure_channel_type: nl::NetlogonSecureChannelType::WorkstationSecureChannel,
            computer_name: "WKS1".into(),
            client_credential: challenge,
            negotiate_flags: 0x6127_ffff,
        })
        .await
        .unwrap();
    assert_eq!(auth3, ACCESS_DENIED as u32, "python3-samba's status");
    assert_eq!(
        r.result, ACCESS_DENIED,
        "{mode:?}: NetrServerAuthenticate3 for an unknown account"
    );
    conn.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netlogon_against_a_samba_classic_dc_rpcclient_and_python() {
    let samba = Samba::start(ADDR, PDC_CONF);
    let user = unix_user();
    samba.add_user(&user);
    let theirs = Theirs {
        logonctrl: dump_out(
            &samba.rpcclient(None, "logonctrl", true),
            "netr_LogonControl",
        ),
        trusted: dump_out(
            &samba.rpcclient(None, "netrenumtrusteddomains", true),
            "netr_NetrEnumerateTrustedDomains",
        ),
        any_dc: samba
            .rpcclient_status(None, &format!("getanydcname {WORKGROUP}"), false)
            .1,
        enum_trusts: samba.rpcclient_status(None, "dsenumdomtrusts", false).1,
        dc_name_ex2: samba
            .rpcclient_status(None, &format!("dsr_getdcnameex2 {WORKGROUP}"), false)
            .1,
        python: samba_python_secure_channel(&samba.conf()),
    };
    for mode in [Mode::Anonymous, Mode::Privacy, Mode::BigEndian] {
        check(mode, &user, &theirs).await;
        eprintln!("{mode:?}: netlogon agrees with rpcclient and python3-samba");
    }
}
