//! The capture made here (scripts/make-analyze-capture.sh: Impacket's rpcdump.py, rpcmap.py,
//! an rpcecho client and an NTLM client against msrpcd --demo on 127.0.0.140), checked in as
//! tests/data/analyze-impacket-msrpcd.pcapng, and the events the analyzer must find in it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;

use msrpc_audit::{AuthOutcome, EventKind};

fn capture() -> std::path::PathBuf {
    let p = common::data_dir().join("analyze-impacket-msrpcd.pcapng");
    assert!(p.is_file(), "missing test capture {}", p.display());
    p
}

#[test]
fn expected_events() {
    let (s, events) = common::analyze(&capture());
    assert_eq!(s.rpc_flows, 22);
    let pdus: BTreeMap<String, u64> = [
        ("auth3", 3),
        ("bind", 22),
        ("bind_ack", 22),
        ("fault", 15),
        ("request", 76),
        ("response", 42),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(s.pdus, pdus);
    // Calls per opnum: impacket_echo.py's suite, rpcmap's opnum probe (0-12), the NTLM client.
    let echo = &s.interfaces["60a15ec5-4de8-11d7-a637-005056a20182"];
    assert_eq!(echo.name.as_deref(), Some("rpcecho"));
    let want: BTreeMap<u16, u64> = [
        (0, 8),
        (1, 4),
        (2, 2),
        (3, 4),
        (4, 2),
        (5, 8),
        (6, 2),
        (7, 3),
        (8, 2),
        (9, 4),
        (10, 2),
        (11, 1),
        (12, 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(echo.calls, want);
    assert_eq!(echo.faults, 15);
    assert_eq!(
        s.interfaces["e1af8308-5d1f-11c9-91a4-08002b14a0fa"].calls,
        [(2, 2), (3, 1)].into_iter().collect()
    );
    assert_eq!(
        s.interfaces["afa8bd80-7d8a-11c9-bef4-08002b102989"].calls,
        [(0, 1)].into_iter().collect()
    );
    assert_eq!(
        s.faults,
        [
            ("access_denied".to_string(), 1),
            ("nca_s_op_rng_error".to_string(), 4),
            ("rpc_x_bad_stub_data".to_string(), 10)
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(
        s.auth,
        [("alice".to_string(), (2, 1))].into_iter().collect()
    );
    assert!(s.malformed.is_empty(), "{:?}", s.malformed);
    assert_eq!(s.gaps, 0);

    // ept_map for rpcecho taught the analyzer the demo port; the connections to it are tracked.
    let map = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::EpmMap {
                endpoint,
                protocol,
                entries,
                status,
                ..
            } => Some((endpoint.clone(), protocol.clone(), *entries, *status)),
            _ => None,
        })
        .expect("an epm_map event");
    assert_eq!(
        map,
        (Some("rpcecho".into()), Some("ncacn_ip_tcp".into()), 1, 0)
    );
    assert_eq!(s.learned_endpoints, 1);
    let lookups = events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::EpmLookup { inquiry, status: 0, .. } if inquiry == "all"))
        .count();
    assert_eq!(lookups, 2);

    // The 20000-byte EchoData went in 20 fragments (impacket_echo.py's 1024-byte fragments)
    // and came back whole; the NTLM calls carry the user and level.
    let calls: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Call {
                opnum,
                stub_in,
                stub_out,
                fragments,
                auth_level,
                user,
                rtt,
                ..
            } => Some((
                *opnum,
                *stub_in,
                *stub_out,
                *fragments,
                auth_level.clone(),
                user.clone(),
                *rtt,
            )),
            _ => None,
        })
        .collect();
    assert!(calls
        .iter()
        .any(|c| c.0 == 1 && c.1 == 20008 && c.2 == 20004 && c.3 == 20));
    for level in ["integrity", "privacy"] {
        assert!(
            calls.iter().any(|c| c.0 == 1
                && c.4.as_deref() == Some(level)
                && c.5.as_deref() == Some("alice")),
            "an EchoData at {level} as alice"
        );
    }
    assert!(calls
        .iter()
        .all(|c| c.6.is_some_and(|r| (0.0..5.0).contains(&r))));
    // TestSleep(1) takes about a second.
    assert!(calls
        .iter()
        .any(|c| c.0 == 6 && c.6.is_some_and(|r| r >= 0.9)));

    // The wrong password: refused with access denied on the first call after auth3.
    let auths: Vec<_> = events
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
        .collect();
    assert_eq!(auths.len(), 3);
    assert_eq!(
        auths[2],
        (
            "winnt".into(),
            Some("alice".into()),
            AuthOutcome::Failure,
            Some("access_denied".into())
        )
    );

    // Every connection opened is closed, with the PDU counts adding up.
    let opens = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ConnOpen))
        .count();
    let (mut closes, mut pdus_total) = (0, 0);
    for e in &events {
        if let EventKind::ConnClose {
            pdus_in, pdus_out, ..
        } = &e.kind
        {
            closes += 1;
            pdus_total += pdus_in + pdus_out;
        }
    }
    assert_eq!((opens, closes), (22, 22));
    assert_eq!(pdus_total, s.pdus.values().sum::<u64>());
}

#[test]
fn agrees_with_tshark() {
    let (s, _) = common::analyze(&capture());
    // tshark needs to be told the demo's dynamic port, which the analyzer learned from ept_map.
    let port = {
        let out = std::process::Command::new("tshark")
            .arg("-n")
            .arg("-r")
            .arg(capture())
            .args([
                "-Y",
                "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport != 135",
            ])
            .args(["-T", "fields", "-e", "tcp.dstport"])
            .output()
            .expect("tshark is required for this test");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.lines()
            .next()
            .expect("a connection to the demo port")
            .trim()
            .to_string()
    };
    let t = common::tshark(&capture(), &[&format!("tcp.port=={port},dcerpc")]);
    assert_eq!(common::ours(&s), t);
}
