//! The `[limits]` table and the server gauges of the built daemon, on 127.0.0.164: a slow
//! sender and a silent connection are cut by the configured fragment and idle timeouts (the
//! client sees the close, the audit log says why, with that connection's own addresses while
//! the demo has connections of its own), and `/metrics` counts live EPM lookup handles and
//! association groups, back to 0 when their client goes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use msrpc_echo::{AddOneRequest, RpcechoClient};
use msrpc_epm::{EptClient, EptLookupRequest, RPC_C_EP_ALL_ELTS};
use msrpc_ndr::{ContextHandle, Unique, Uuid};
use msrpc_proto::pdu::SyntaxId;
use serde_json::Value;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `/metrics` as text.
async fn metrics_text(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    tokio::time::timeout(WAIT, s.read_to_string(&mut body))
        .await
        .unwrap()
        .unwrap();
    body.split_once("\r\n\r\n").unwrap().1.to_string()
}

/// The value of the sample written exactly `name` (labels included), if present.
async fn sample(addr: SocketAddr, name: &str) -> Option<u64> {
    metrics_text(addr)
        .await
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Polls (bounded) until the sample equals `want`; returns the last value.
async fn wait_sample(addr: SocketAddr, name: &str, want: u64) -> Option<u64> {
    let mut v = None;
    for _ in 0..200 {
        v = sample(addr, name).await;
        if v == Some(want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    v
}

/// Reads until the server closes (bounded by `WAIT`); returns how long that took.
async fn time_to_close(s: &mut TcpStream) -> Duration {
    let t0 = Instant::now();
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(WAIT, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return t0.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("the server did not close within {WAIT:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_cut_connections_and_gauges_count_handles() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("run").join("epm.sock");
    let log = dir.path().join("audit.json");
    let cfg = dir.path().join("msrpcd.toml");
    std::fs::write(
        &cfg,
        "[limits]\nidle-timeout = 2\nfragment-timeout = 1\nsend-timeout = 5\n",
    )
    .unwrap();
    let mut d = Proc::spawn(
        MSRPCD,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--listen",
            "127.0.0.164:1135",
            "--demo",
            "--ports",
            "52000-52999",
            "--registration-socket",
            sock.to_str().unwrap(),
            "--audit-log",
            log.to_str().unwrap(),
            "--metrics",
            "127.0.0.164:0",
        ],
    );
    let maddr = d.metrics_addr().await;
    let epm = d.addr_line("EPM listening on").await;
    let demo = d.addr_line("rpcecho demo on").await;

    // The demo's first connection, open while the EPM's first connections are cut (it is cut
    // by the idle timeout too): each server numbers from the same process-wide sequence, so
    // the audit log cannot mix them.
    let echo = RpcechoClient::new(connect(demo).await);
    assert_eq!(
        echo.add_one(AddOneRequest { in_data: 1 })
            .await
            .unwrap()
            .out_data,
        2
    );

    // A slow sender (half a bind, then nothing) and a silent connection.
    let mut slow = TcpStream::connect(epm).await.unwrap();
    let pdu = bind_pdu(SyntaxId::new(
        Uuid::parse_str("e1af8308-5d1f-11c9-91a4-08002b14a0fa").unwrap(),
        3,
        0,
    ));
    slow.write_all(&pdu[..pdu.len() / 2]).await.unwrap();
    let mut silent = TcpStream::connect(epm).await.unwrap();
    let (slow_port, silent_port) = (
        slow.local_addr().unwrap().port(),
        silent.local_addr().unwrap().port(),
    );
    let (t_slow, t_silent) = tokio::join!(time_to_close(&mut slow), time_to_close(&mut silent));
    assert!(
        t_slow >= Duration::from_millis(900) && t_slow < Duration::from_secs(5),
        "slow sender cut after {t_slow:?}, fragment-timeout is 1 s"
    );
    assert!(
        t_silent >= Duration::from_millis(1900) && t_silent < Duration::from_secs(6),
        "silent connection cut after {t_silent:?}, idle-timeout is 2 s"
    );
    let closes = |evs: &[Value]| -> Vec<Value> {
        evs.iter()
            .filter(|e| e["event"] == "conn_close")
            .cloned()
            .collect()
    };
    let mut evs = Vec::new();
    for _ in 0..100 {
        evs = closes(&audit_events(&log));
        if evs.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reason_of = |port: u16| {
        evs.iter()
            .find(|e| e["id.orig_p"] == port)
            .unwrap_or_else(|| panic!("no conn_close for port {port}: {evs:#?}"))["reason"]
            .clone()
    };
    assert_eq!(reason_of(slow_port), "fragment_timeout");
    assert_eq!(reason_of(silent_port), "idle_timeout");
    for e in &evs {
        assert!(
            e["id.orig_h"].is_string(),
            "a close without its addresses: {e}"
        );
    }
    assert!(
        d.stderr().contains("fragment not completed in time"),
        "{}",
        d.stderr()
    );

    // Gauges: one lookup handle (a full batch of 1 keeps it) and the EPM association group,
    // then nothing once its client goes; the demo's group goes with its client too.
    let client = connect(epm).await;
    let r = EptClient::new(client.clone())
        .ept_lookup(EptLookupRequest {
            inquiry_type: RPC_C_EP_ALL_ELTS,
            object: Unique::null(),
            interface_id: Unique::null(),
            vers_option: 0,
            entry_handle: ContextHandle::NULL,
            max_ents: 1,
        })
        .await
        .unwrap();
    assert!(!r.entry_handle.is_null());
    let echo = RpcechoClient::new(connect(demo).await);
    assert_eq!(
        echo.add_one(AddOneRequest { in_data: 2 })
            .await
            .unwrap()
            .out_data,
        3
    );
    assert_eq!(
        sample(maddr, r#"msrpc_assoc_groups{server="demo"}"#).await,
        Some(1)
    );
    assert_eq!(sample(maddr, "msrpc_epm_live_handles").await, Some(1));
    assert_eq!(
        sample(maddr, r#"msrpc_assoc_groups{server="epm"}"#).await,
        Some(1)
    );
    assert_eq!(
        sample(maddr, r#"msrpc_server_connections{server="epm"}"#).await,
        Some(1)
    );
    client.close();
    drop(echo);
    assert_eq!(
        wait_sample(maddr, "msrpc_epm_live_handles", 0).await,
        Some(0)
    );
    for name in [
        r#"msrpc_assoc_groups{server="epm"}"#,
        r#"msrpc_assoc_groups{server="demo"}"#,
        r#"msrpc_server_connections{server="epm"}"#,
        r#"msrpc_server_connections{server="demo"}"#,
    ] {
        assert_eq!(wait_sample(maddr, name, 0).await, Some(0), "{name}");
    }
    assert!(d.terminate().await.success(), "{}", d.stderr());
}
