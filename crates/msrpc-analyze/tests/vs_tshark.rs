//! The analyzer against tshark's dissection of the same third-party captures
//! (`../shared/captures`): PDU counts by type, request opnums and the interfaces offered in
//! binds must agree, capture by capture, over TCP and inside SMB named pipes (`ncacn_np`,
//! also compared on its own, with the calls answered per interface and opnum). tshark must be
//! installed (the test fails otherwise).
//!
//! Where tshark misreads a capture (SOURCES.md), it is told what the stream is with `-d`, or
//! the PDUs it misses are added to its side, each case explained below.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;

use msrpc_audit::EventKind;

/// `(capture, tshark decode-as, request PDUs tshark misses as (opnum, count))`.
type Override = (&'static str, &'static [&'static str], &'static [(u16, u64)]);

const OVERRIDES: &[Override] = &[
    // DCE/RPC straight on port 445 without SMB framing: tshark's SMB dissector claims it.
    ("arkime__dcerpc-test.pcap", &["tcp.port==445,dcerpc"], &[]),
    (
        "arkime__dcerpc_synthetic.pcap",
        &["tcp.port==445,dcerpc"],
        &[],
    ),
    // Ports 1153/1032: tshark decodes the stream as C12.22 (port 1153 is C12.22's).
    ("zeek__mapi.pcap", &["tcp.port==1153,dcerpc"], &[]),
    // Frame 419 is a retransmission that fills the hole frame 418 shows ("previous segment
    // not captured"): tshark marks it as a retransmission and does not dissect it, so it
    // misses one NetrServerAuthenticate3 request (opnum 26) whose response (frame 420) it
    // does show.
    ("sv__zerologon.pcap", &[], &[(26, 1)]),
];

fn capture_names() -> Vec<String> {
    let dir = common::captures_dir();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".cap"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 28,
        "expected the 28 captures of SOURCES.md, found {names:?}"
    );
    names
}

#[test]
fn shared_captures_pdus_opnums_and_interfaces_agree_with_tshark() {
    let dir = common::captures_dir();
    let mut failures = Vec::new();
    let mut compared_pdus = 0u64;
    for n in capture_names() {
        let p = dir.join(&n);
        let (s, _) = common::analyze(&p);
        let ours = common::ours(&s);
        let (decode_as, missed) = OVERRIDES
            .iter()
            .find(|(f, _, _)| *f == n)
            .map(|(_, d, m)| (*d, *m))
            .unwrap_or((&[], &[]));
        let mut theirs = common::tshark(&p, decode_as);
        for (op, k) in missed {
            *theirs.request_opnums.entry(*op).or_default() += k;
            *theirs.pdus.entry("request".into()).or_default() += k;
        }
        compared_pdus += ours.pdus.values().sum::<u64>();
        if ours != theirs {
            failures.push(format!("{n}:\n  ours   {ours:?}\n  tshark {theirs:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Not a vacuous comparison: the captures hold well over a thousand PDUs.
    assert!(compared_pdus > 1000, "only {compared_pdus} PDUs compared");
}

#[test]
fn shared_captures_connectionless_packets_agree_with_tshark() {
    let dir = common::captures_dir();
    for n in capture_names() {
        let p = dir.join(&n);
        let (s, _) = common::analyze(&p);
        let out = std::process::Command::new("tshark")
            .arg("-n")
            .arg("-r")
            .arg(&p)
            .args([
                "-Y",
                "dcerpc && udp",
                "-T",
                "fields",
                "-e",
                "dcerpc.pkt_type",
            ])
            .output()
            .expect("tshark is required for this test");
        let mut theirs = std::collections::BTreeMap::<String, u64>::new();
        for l in String::from_utf8_lossy(&out.stdout).lines() {
            let t: u8 = l.trim().parse().unwrap();
            *theirs
                .entry(msrpc_analyze::cl::ptype_name(t).to_string())
                .or_default() += 1;
        }
        assert_eq!(s.cl_pdus, theirs, "{n}: connectionless packets by type");
    }
}

/// Connectionless calls: every distinct request tshark dissects (activity, caller, sequence
/// number) is one `call` event of ours with `transport = "ncadg_ip_udp"` and the same
/// interface and opnum; the shared captures with connectionless traffic are compared, and
/// must hold calls.
#[test]
fn shared_captures_connectionless_calls_agree_with_tshark() {
    let dir = common::captures_dir();
    let mut total = 0usize;
    for n in capture_names() {
        let p = dir.join(&n);
        let (_, events) = common::analyze(&p);
        let mut ours = BTreeMap::<(String, u16), u64>::new();
        for e in &events {
            if let EventKind::Call {
                interface: Some(i),
                opnum,
                transport: Some(t),
                ..
            } = &e.kind
            {
                assert_eq!(t, msrpc_audit::CL_TRANSPORT);
                *ours.entry((i.clone(), *opnum)).or_default() += 1;
            }
        }
        let out = std::process::Command::new("tshark")
            .arg("-n")
            .arg("-r")
            .arg(&p)
            .args([
                "-Y",
                "dcerpc && udp && dcerpc.pkt_type == 0",
                "-T",
                "fields",
                "-E",
                "separator=;",
                "-e",
                "dcerpc.dg_act_id",
                "-e",
                "ip.src",
                "-e",
                "udp.srcport",
                "-e",
                "dcerpc.dg_seqnum",
                "-e",
                "dcerpc.dg_if_id",
                "-e",
                "dcerpc.opnum",
            ])
            .output()
            .expect("tshark is required for this test");
        let mut seen = std::collections::BTreeSet::new();
        let mut theirs = BTreeMap::<(String, u16), u64>::new();
        for l in String::from_utf8_lossy(&out.stdout).lines() {
            let f: Vec<&str> = l.split(';').collect();
            if seen.insert((
                f[0].to_string(),
                f[1].to_string(),
                f[2].to_string(),
                f[3].to_string(),
            )) {
                *theirs
                    .entry((f[4].to_string(), f[5].parse().unwrap()))
                    .or_default() += 1;
            }
        }
        assert_eq!(
            ours, theirs,
            "{n}: connectionless calls by interface and opnum"
        );
        total += ours.values().sum::<u64>() as usize;
    }
    // sv__dcerpc-udp-scapy.pcap: 5 requests; ndpi__dcerpc.pcap: 4 (each datagram twice).
    assert!(total >= 9, "only {total} connectionless calls compared");
}

/// Calls tshark's service-response-time statistics count for one interface over SMB: opnum ->
/// requests answered by a response (tshark counts no faults there).
fn tshark_srt_np(path: &std::path::Path, uuid: &str, version: &str) -> BTreeMap<u16, u64> {
    let out = std::process::Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(path)
        .args([
            "-q",
            "-z",
            &format!("dcerpc,srt,{uuid},{version},smb || smb2"),
        ])
        .output()
        .expect("tshark is required for this test");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut calls = BTreeMap::new();
    let mut table = false;
    for line in text.lines() {
        if line.starts_with("Index") {
            table = true;
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        if !table || cols.len() < 7 {
            continue;
        }
        if let (Ok(op), Ok(n)) = (cols[0].parse::<u16>(), cols[cols.len() - 5].parse::<u64>()) {
            calls.insert(op, n);
        }
    }
    calls
}

/// `ncacn_np`: the DCE/RPC inside SMB named pipes, compared on its own. PDUs by type, request
/// opnums and offered interfaces equal tshark's `dcerpc && (smb || smb2)`; the calls answered
/// over pipes, by interface and opnum, equal tshark's service-response-time counts for each
/// interface bound over a pipe.
#[test]
fn shared_captures_named_pipe_calls_agree_with_tshark() {
    let dir = common::captures_dir();
    let mut failures = Vec::new();
    let mut np_calls = BTreeMap::new();
    for n in capture_names() {
        let p = dir.join(&n);
        let (s, events) = common::analyze(&p);
        let mut ours = common::Tshark {
            pdus: s.smb.pdus.clone(),
            offered: s.smb.offered.clone(),
            ..Default::default()
        };
        for ops in s.smb.request_pdus.values() {
            for (op, k) in ops {
                *ours.request_opnums.entry(*op).or_default() += k;
            }
        }
        let decode_as = OVERRIDES
            .iter()
            .find(|(f, _, _)| *f == n)
            .map(|(_, d, _)| *d)
            .unwrap_or(&[]);
        let theirs = common::tshark_np(&p, decode_as);
        if ours != theirs {
            failures.push(format!(
                "{n} (pipes):\n  ours   {ours:?}\n  tshark {theirs:?}"
            ));
        }
        // Answered calls over pipes by (interface, opnum); the interfaces (with versions)
        // bound over pipes.
        let mut answered: BTreeMap<(String, u16), u64> = BTreeMap::new();
        let mut bound = std::collections::BTreeSet::new();
        let mut calls = 0u64;
        for e in &events {
            match &e.kind {
                EventKind::Call {
                    interface: Some(i),
                    opnum,
                    fault,
                    named_pipe: Some(_),
                    ..
                } => {
                    calls += 1;
                    if fault.is_none() {
                        *answered.entry((i.clone(), *opnum)).or_default() += 1;
                    }
                }
                EventKind::Bind {
                    contexts,
                    named_pipe: Some(_),
                    ..
                } => {
                    for c in contexts {
                        bound.insert((c.interface.clone(), c.version.clone()));
                    }
                }
                _ => {}
            }
        }
        let mut theirs_answered = BTreeMap::new();
        for (uuid, version) in &bound {
            for (op, k) in tshark_srt_np(&p, uuid, version) {
                *theirs_answered.entry((uuid.clone(), op)).or_default() += k;
            }
        }
        if answered != theirs_answered {
            failures.push(format!(
                "{n} (answered calls over pipes):\n  ours   {answered:?}\n  tshark {theirs_answered:?}"
            ));
        }
        if calls > 0 {
            np_calls.insert(n, calls);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every capture with DCE/RPC in SMB pipes has its calls found (not a vacuous comparison).
    for (cap, at_least) in [
        ("sv__20171220_smb_net_user.pcap", 46),
        ("zeek__20-fids.pcap", 102),
        (
            "zeek__dssetup_DsRoleGetPrimaryDomainInformation_standalone_workstation.cap",
            1,
        ),
        ("zeek__mapi.pcap", 36),
        ("sv__dcerpc-ctxids.pcap", 15),
        ("sv__zerologon.pcap", 5),
    ] {
        let got = np_calls.get(cap).copied().unwrap_or(0);
        assert!(
            got >= at_least,
            "{cap}: {got} ncacn_np calls, expected {at_least}"
        );
    }
    eprintln!("ncacn_np calls per capture: {np_calls:?}");
}
