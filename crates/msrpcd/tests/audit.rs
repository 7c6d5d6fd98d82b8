//! The audit pipeline of the built daemon: `--audit-log` and `--metrics` on 127.0.0.133.
//! Ordinary traffic (rpcecho calls) gives well-formed events and no alert; an EPM listing (a
//! walk of the whole map) the technique library's one low-severity `epm_full_walk`; a bind sweep over unknown interfaces, a burst of malformed PDUs and a connection scan
//! raise their detectors' alerts, in the log and in `/metrics`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use msrpc_audit::metrics::{parse_exposition, Sample};
use msrpc_echo::{AddOneRequest, RpcechoClient};
use msrpc_ndr::Uuid;
use msrpc_proto::pdu::SyntaxId;
use serde_json::Value;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn alerts(evs: &[Value]) -> Vec<String> {
    evs.iter()
        .filter(|e| e["event"] == "alert")
        .map(|e| e["detector"].as_str().unwrap().to_string())
        .collect()
}

/// Polls the log (bounded) until `done` holds for its events.
async fn wait_log(log: &Path, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..100 {
        let evs = audit_events(log);
        if done(&evs) {
            return evs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    audit_events(log)
}

async fn get_metrics(addr: SocketAddr) -> Vec<Sample> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    tokio::time::timeout(WAIT, s.read_to_string(&mut body))
        .await
        .unwrap()
        .unwrap();
    let (head, text) = body.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    parse_exposition(text).unwrap()
}

fn metric(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(k2, v2)| k == k2 && v == v2))
        })
        .map(|s| s.value)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordinary_traffic_is_quiet_and_probes_raise_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("run").join("epm.sock");
    let log = dir.path().join("audit.json");
    let mut d = Proc::spawn(
        MSRPCD,
        &[
            "--listen",
            "127.0.0.133:1135",
            "--demo",
            "--ports",
            "50000-59999",
            "--registration-socket",
            sock.to_str().unwrap(),
            "--audit-log",
            log.to_str().unwrap(),
            "--metrics",
            "127.0.0.133:0",
        ],
    );
    let maddr = d.metrics_addr().await;
    let epm = d.addr_line("EPM listening on").await;
    let demo = d.addr_line("rpcecho demo on").await;

    // Ordinary: rpcecho calls, and an EPM listing (a walk of the whole endpoint map is
    // endpoint-map enumeration, T1046: one low-severity alert that says it is admin practice
    // too, and nothing else).
    assert_eq!(lookup_all(epm).await.len(), 1);
    let c = RpcechoClient::new(connect(demo).await);
    for i in 0..5 {
        let r = c.add_one(AddOneRequest { in_data: i }).await.unwrap();
        assert_eq!(r.out_data, i + 1);
    }
    drop(c);
    let evs = wait_log(&log, |e| {
        e.iter().filter(|e| e["event"] == "conn_close").count() >= 2
    })
    .await;
    assert_eq!(alerts(&evs), ["epm_full_walk"], "{evs:#?}");
    let walk = evs.iter().find(|e| e["event"] == "alert").unwrap();
    assert_eq!(walk["severity"], "low");
    assert_eq!(walk["attack"], "T1046");
    assert!(walk["summary"].as_str().unwrap().contains("admin practice"));
    for e in &evs {
        for k in [
            "ts",
            "uid",
            "id.orig_h",
            "id.orig_p",
            "id.resp_h",
            "id.resp_p",
            "event",
        ] {
            assert!(e.get(k).is_some(), "{k} missing in {e}");
        }
        assert!(e["uid"].as_str().unwrap().starts_with('C'));
    }
    let lookup = evs
        .iter()
        .find(|e| e["event"] == "call" && e["operation"] == "ept_lookup")
        .expect("an ept_lookup call");
    assert_eq!(lookup["endpoint"], "epmapper");
    assert_eq!(lookup["id.resp_p"], 1135);
    assert!(lookup["rtt"].as_f64().unwrap() >= 0.0);
    let listed = evs.iter().find(|e| e["event"] == "epm_lookup").unwrap();
    assert_eq!(listed["uid"], lookup["uid"]);
    assert_eq!(listed["inquiry"], "all");
    let adds = evs
        .iter()
        .filter(|e| e["event"] == "call" && e["endpoint"] == "rpcecho")
        .count();
    assert_eq!(adds, 5);

    // Probes: a bind sweep over 12 unknown interfaces (a connection each, as rpcmap.py does).
    for i in 0..12u128 {
        let mut s = TcpStream::connect(epm).await.unwrap();
        s.write_all(&bind_pdu(SyntaxId::new(
            Uuid::from_u128(0xdead_0000 + i),
            1,
            0,
        )))
        .await
        .unwrap();
        let mut ack = [0u8; 16];
        s.read_exact(&mut ack).await.unwrap();
        assert_eq!(ack[2], 12, "bind_ack");
    }
    // Malformed: 5 connections whose first PDU's frag_length is below the header.
    for _ in 0..5 {
        let mut s = TcpStream::connect(epm).await.unwrap();
        let mut bad = bind_pdu(SyntaxId::new(Uuid::from_u128(1), 1, 0));
        bad[8] = 4;
        bad[9] = 0;
        s.write_all(&bad).await.unwrap();
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut rest)).await;
    }
    // A connection scan: 25 connections that send nothing.
    for _ in 0..25 {
        drop(TcpStream::connect(epm).await.unwrap());
    }
    let want = [
        "epm_full_walk",
        "interface_brute_force",
        "malformed_burst",
        "connection_scan",
    ];
    let evs = wait_log(&log, |e| {
        let a = alerts(e);
        want.iter().all(|w| a.iter().any(|x| x == w))
    })
    .await;
    let a = alerts(&evs);
    for w in want {
        assert_eq!(a.iter().filter(|x| *x == w).count(), 1, "{w}: {a:?}");
    }
    assert_eq!(a.len(), 4, "{a:?}");
    let brute = evs
        .iter()
        .find(|e| e["event"] == "alert" && e["detector"] == "interface_brute_force")
        .unwrap();
    assert_eq!(brute["evidence"]["count"], 10);
    assert!(brute["evidence"]["items"][0]
        .as_str()
        .unwrap()
        .starts_with("00000000-0000-0000-0000-0000dead"));
    assert!(brute["source"].is_string(), "{brute}");
    assert!(evs
        .iter()
        .any(|e| e["event"] == "malformed" && e["reason"] == "frag_length_below_header"));

    // The writer thread counts connections as their events reach it: the alerts above can be
    // in the log before the last connections are counted, so wait (bounded) for the count.
    let mut s = get_metrics(maddr).await;
    for _ in 0..50 {
        if metric(&s, "msrpc_connections_total", &[]) >= 44.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        s = get_metrics(maddr).await;
    }
    assert!(metric(&s, "msrpc_connections_total", &[]) >= 44.0, "{s:?}");
    assert_eq!(
        metric(&s, "msrpc_binds_total", &[("result", "rejected")]),
        12.0
    );
    assert_eq!(
        metric(
            &s,
            "msrpc_calls_total",
            &[("interface", "rpcecho"), ("opnum", "0"), ("fault", "none")]
        ),
        5.0
    );
    assert_eq!(
        metric(
            &s,
            "msrpc_malformed_total",
            &[("reason", "frag_length_below_header")]
        ),
        5.0
    );
    for w in want {
        assert_eq!(
            metric(&s, "msrpc_alerts_total", &[("detector", w)]),
            1.0,
            "{w}"
        );
    }
    assert_eq!(metric(&s, "msrpc_audit_events_dropped_total", &[]), 0.0);

    assert!(d.terminate().await.success(), "{}", d.stderr());
}
