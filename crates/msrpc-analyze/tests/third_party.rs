//! Events the analyzer must find in the third-party captures of `../shared/captures`
//! (facts checked by hand against tshark's full dissection of each).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use msrpc_audit::{AuthOutcome, Event, EventKind};

fn run(name: &str) -> (msrpc_analyze::summary::Summary, Vec<Event>) {
    common::analyze(&common::captures_dir().join(name))
}

fn auths(events: &[Event]) -> Vec<(String, Option<String>, AuthOutcome, Option<String>)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Auth {
                auth_type,
                user,
                outcome,
                reason,
                ..
            } => Some((auth_type.clone(), user.clone(), *outcome, reason.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn shared_captures_ntlm_users_and_verdicts() {
    // SPNEGO offering Kerberos first, then NTLM in alter_context; the capture ends before the
    // server's answer to the AUTHENTICATE.
    let (_, ev) = run("zeek__dce_rpc_ntlm.pcapng");
    assert_eq!(
        auths(&ev),
        vec![(
            "gss_negotiate".into(),
            Some("BLACKCLOVER\\Administrator".into()),
            AuthOutcome::Failure,
            Some("unanswered_at_capture_end".into())
        )]
    );
    // NTLM at privacy (auth3), then svcctl calls that the server answers.
    let (s, ev) = run("scapy__dcerpc_privacy_ntlm.pcapng");
    assert_eq!(
        auths(&ev),
        vec![(
            "winnt".into(),
            Some("DOMAIN\\Administrator".into()),
            AuthOutcome::Success,
            None
        )]
    );
    assert_eq!(s.faults.get("nca_s_op_rng_error"), Some(&1));
    let svcctl_calls: Vec<_> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Call {
                endpoint,
                user,
                auth_level,
                ..
            } if endpoint.as_deref() == Some("svcctl") => Some((user.clone(), auth_level.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(svcctl_calls.len(), 4);
    // The first call (opnum 64, faulted) is the auth3's verdict; the others run as the user.
    for c in &svcctl_calls[1..] {
        assert_eq!(
            c,
            &(Some("DOMAIN\\Administrator".into()), Some("privacy".into()))
        );
    }
    let (s, _) = run("sv__dcerpc-auth3-5133.pcap");
    assert_eq!(s.auth.get("3B\\Backdoor"), Some(&(2, 0)));
}

#[test]
fn shared_captures_kerberos_is_reported_without_a_user() {
    for cap in [
        "zeek__kerberos135_auth.pcapng",
        "scapy__dcerpc_privacy_krb.pcapng",
    ] {
        let (_, ev) = run(cap);
        assert_eq!(
            auths(&ev),
            vec![("gss_negotiate".into(), None, AuthOutcome::Success, None)],
            "{cap}"
        );
    }
}

#[test]
fn shared_captures_endpoint_mapper_answers_teach_ports() {
    // ept_map for nspi and emsmdb (ports 4997 and 1032), then connections to both.
    let (s, ev) = run("zeek__mapi.pcap");
    assert_eq!(s.learned_endpoints, 2);
    let maps: Vec<_> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::EpmMap {
                endpoint, entries, ..
            } => Some((endpoint.clone().unwrap_or_default(), *entries)),
            _ => None,
        })
        .collect();
    assert_eq!(
        maps,
        vec![("nspi".to_string(), 1), ("emsmdb".to_string(), 1)]
    );
    let lookups = ev
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::EpmLookup { inquiry, entries: 1, .. } if inquiry == "interface"))
        .count();
    assert_eq!(lookups, 1);
    assert_eq!(s.auth.get("CNAMIS\\ALeonard"), Some(&(2, 0)));
    // Zerologon: 21 rounds of ept_map, NetrServerReqChallenge and NetrServerAuthenticate3,
    // then one NetrServerPasswordSet2.
    let (s, _) = run("sv__zerologon.pcap");
    let netlogon = &s.interfaces["12345678-1234-abcd-ef00-01234567cffb"];
    assert_eq!(
        netlogon.calls,
        [(4, 21), (26, 21), (30, 1)].into_iter().collect()
    );
    assert_eq!(netlogon.operations[&30], "NetrServerPasswordSet2");
    assert_eq!(s.epm_answers, 21);
    assert_eq!(s.learned_endpoints, 1);
}

/// The `epm_map` events of a capture: (interface, endpoint, protocol, entries, status).
fn epm_maps(ev: &[Event]) -> Vec<(String, String, String, u32, u32)> {
    ev.iter()
        .filter_map(|e| match &e.kind {
            EventKind::EpmMap {
                interface,
                endpoint,
                protocol,
                entries,
                status,
                ..
            } => Some((
                interface.clone().unwrap_or_default(),
                endpoint.clone().unwrap_or_default(),
                protocol.clone().unwrap_or_default(),
                *entries,
                *status,
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn shared_captures_ndr64_endpoint_mapper_answers() {
    // Windows' EPM accepts NDR64 (bind_ack: ctx0 NDR20 refused, ctx1 NDR64 accepted), so its
    // ept_map stubs are NDR64. tshark -Y epm: frame 167, svcctl mapped to ncacn_ip_tcp port
    // 49726 (floors 0x0d 0x0d 0x0b 0x07 0x09), then TCP stream 3 connects to 49726 and calls
    // svcctl there.
    let (s, ev) = run("otrf__empire_psexec_dcerpc_tcp_svcctl_WORKSTATION5.cap");
    let svcctl = "367abb81-9844-35f1-ad32-98f038001003";
    assert_eq!(
        epm_maps(&ev),
        vec![(
            svcctl.to_string(),
            "svcctl".to_string(),
            "ncacn_ip_tcp".to_string(),
            1,
            0
        )]
    );
    assert_eq!((s.epm_answers, s.learned_endpoints), (1, 1));
    assert_eq!(s.unknown_syntax_calls, 0);
    assert!(ev.iter().any(|e| e.conn.resp_p == Some(49726)
        && matches!(&e.kind, EventKind::Call { interface: Some(i), .. } if i == svcctl)));
    // Two ept_map calls for DRSUAPI (frames 7 and 23: port 49667), answered in NDR64.
    let (s, ev) = run("scapy__dcerpc_privacy_krb.pcapng");
    let drsuapi = (
        "e3514235-4b06-11d1-ab04-00c04fc2dcd2".to_string(),
        "drsuapi".to_string(),
        "ncacn_ip_tcp".to_string(),
        1,
        0,
    );
    assert_eq!(epm_maps(&ev), vec![drsuapi.clone(), drsuapi]);
    assert_eq!((s.epm_answers, s.learned_endpoints), (2, 1));
    assert!(ev.iter().any(|e| e.conn.resp_p == Some(49667)));
}

#[test]
fn shared_captures_gaps_are_counted_and_survived() {
    // Suricata's gap test: a segment is missing from the client's stream; the analyzer counts
    // the gap, resynchronises on the next request and still pairs the fault with its call.
    let (s, ev) = run("sv__dce-gap-handling.pcap");
    assert_eq!((s.gaps, s.gap_bytes, s.resyncs), (1, 215, 1));
    let calls: Vec<_> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Call {
                endpoint, fault, ..
            } => Some((endpoint.clone(), fault.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls,
        vec![(
            Some("samr".to_string()),
            Some("rpc_s_sec_pkg_error".to_string())
        )]
    );
}

#[test]
fn shared_captures_connectionless_is_counted() {
    let (s, _) = run("sv__dcerpc-udp-scapy.pcap");
    assert_eq!(s.cl_pdus.get("request"), Some(&5));
    assert_eq!(s.cl_pdus.get("response"), Some(&5));
    assert_eq!(s.cl_requests.len(), 5);
    assert_eq!(s.rpc_flows, 0);
    let (s, _) = run("ndpi__dcerpc.pcap");
    assert_eq!(s.cl_pdus.values().sum::<u64>(), 16);
}

#[test]
fn shared_captures_named_pipe_calls_name_their_pipe() {
    // SMB1: NT_CREATE_ANDX of \lsarpc, then DsRolerGetPrimaryDomainInformation through
    // TransactNmPipe.
    let (s, ev) = run("zeek__dssetup_DsRoleGetPrimaryDomainInformation_standalone_workstation.cap");
    let calls: Vec<_> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Call {
                operation,
                named_pipe,
                fault,
                ..
            } => Some((operation.clone(), named_pipe.clone(), fault.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls,
        vec![(
            Some("DsRolerGetPrimaryDomainInformation".into()),
            Some("\\pipe\\lsarpc".into()),
            None
        )]
    );
    assert_eq!(s.smb.smb1_messages, 8);
    assert_eq!(s.smb.pipes.get("\\pipe\\lsarpc"), Some(&1));
    assert_eq!(s.rpc_flows, 1);
    // SMB2 (2.1, signed): samr and lsarpc through FSCTL_PIPE_TRANSCEIVE; every bind names
    // its pipe.
    let (s, ev) = run("sv__20171220_smb_net_user.pcap");
    assert_eq!(s.smb.calls.get("\\pipe\\samr"), Some(&42));
    assert_eq!(s.smb.calls.get("\\pipe\\lsarpc"), Some(&4));
    assert_eq!(s.smb.dialects.get("2.1 (signing required)"), Some(&1));
    assert!(s.smb.signed > 100);
    let binds: Vec<_> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Bind { named_pipe, .. } => named_pipe.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(binds.len(), 5);
    assert!(binds
        .iter()
        .all(|p| p == "\\pipe\\samr" || p == "\\pipe\\lsarpc"));
    // A DCE/RPC connection on port 135 in the same capture set carries no pipe name.
    let (_, ev) = run("sv__zerologon.pcap");
    let tcp_calls = ev
        .iter()
        .filter(|e| {
            matches!(
                &e.kind,
                EventKind::Call {
                    named_pipe: None,
                    ..
                }
            )
        })
        .count();
    let np_calls = ev
        .iter()
        .filter(|e| {
            matches!(
                &e.kind,
                EventKind::Call {
                    named_pipe: Some(_),
                    ..
                }
            )
        })
        .count();
    // 21 rounds of ept_map, NetrServerReqChallenge and NetrServerAuthenticate3, and the
    // NetrServerPasswordSet2, over TCP.
    assert_eq!((tcp_calls, np_calls), (64, 5));
}
