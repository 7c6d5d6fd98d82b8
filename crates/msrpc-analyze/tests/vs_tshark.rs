//! The analyzer against tshark's dissection of the same third-party captures
//! (`../shared/captures`): PDU counts by type, request opnums and the interfaces offered in
//! binds must agree, capture by capture. tshark must be installed (the test fails otherwise).
//!
//! Where tshark misreads a capture (SOURCES.md), it is told what the stream is with `-d`, or
//! the PDUs it misses are added to its side, each case explained below.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

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
