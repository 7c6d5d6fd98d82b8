//! Hostile connectionless datagrams built with scapy (`tests/hostile-udp/cases.py`, scapy's
//! `DceRpc4` from PyPI in target/venv) against a live `msrpcd --listen-udp --demo`:
//! duplicates, out-of-order and missing fragments, a wrong boot time, an unknown interface, a
//! spoofed source that never answers the WAY callback (bytes out <= bytes in), truncated and
//! oversized headers, broadcast, an opnum out of range. Each case gets the protocol's answer
//! or silence; afterwards the daemon still serves, never panicked, and its peak RSS stays
//! bounded. Fails loudly when python or scapy is missing (scripts/test.sh installs scapy).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::path::PathBuf;
use std::time::Duration;

use msrpc_echo::{AddOneRequest, RpcechoClient};
use msrpc_rt::{UdpClient, UdpClientOptions};
use support::*;

/// The peak RSS allowed to the daemon (as the TCP hostile corpus).
const RSS_BOUND_KIB: u64 = 64 * 1024;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn status_kib(pid: i32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{key} in /proc/PID/status"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scapy_datagrams_get_the_protocols_answers_and_no_amplification() {
    let py = workspace().join("target/venv/bin/python");
    assert!(
        py.exists(),
        "{} is missing: this test needs scapy in target/venv \
         (python3 -m venv target/venv && target/venv/bin/pip install scapy==2.6.1)",
        py.display()
    );
    let probe = std::process::Command::new(&py)
        .args(["-c", "import scapy.layers.dcerpc"])
        .output()
        .unwrap();
    assert!(
        probe.status.success(),
        "scapy is not installed in target/venv (target/venv/bin/pip install scapy==2.6.1): {}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("run").join("epm.sock");
    let mut d = Proc::spawn(
        MSRPCD,
        &[
            "--listen",
            "127.0.6.50:1350",
            "--listen-udp",
            "127.0.6.50:1350",
            "--demo",
            "--registration-socket",
            sock.to_str().unwrap(),
        ],
    );
    let _ = d.addr_line("EPM listening on").await;
    let epm = d.addr_line("EPM (udp) listening on").await;
    let echo = d.addr_line("rpcecho demo (udp) on").await;
    let pid = d.pid();
    let baseline = status_kib(pid, "VmRSS:");
    let out = tokio::process::Command::new(&py)
        .arg(workspace().join("tests/hostile-udp/cases.py"))
        .args([
            "127.0.6.50",
            &epm.port().to_string(),
            &echo.port().to_string(),
            "127.0.6",
        ])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let mut failures = Vec::new();
    let mut cases = 0;
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON case line ({e}): {line}\nstderr: {stderr}"));
        cases += 1;
        println!(
            "{:<48} {} in {} out {}  {}",
            v["case"].as_str().unwrap(),
            if v["ok"] == true { "ok  " } else { "FAIL" },
            v["bytes_in"],
            v["bytes_out"],
            v["detail"].as_str().unwrap()
        );
        if v["ok"] != true {
            failures.push(line.to_string());
        }
        if v["case"] == "spoofed-source-never-answers-way" {
            assert!(v["bytes_out"].as_u64().unwrap() <= v["bytes_in"].as_u64().unwrap());
        }
    }
    assert!(cases >= 10, "only {cases} cases ran; stderr:\n{stderr}");
    assert!(
        failures.is_empty(),
        "failed cases:\n{}\nstderr: {stderr}",
        failures.join("\n")
    );
    assert!(out.status.success(), "cases.py failed: {stderr}");

    // The daemon still serves over UDP.
    let c = RpcechoClient::new(UdpClient::new(echo, UdpClientOptions::default()));
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        c.add_one(AddOneRequest { in_data: 1 }),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(r.out_data, 2);
    let peak = status_kib(pid, "VmHWM:");
    println!(
        "msrpcd RSS: baseline {baseline} KiB, peak (VmHWM) {peak} KiB (bound {RSS_BOUND_KIB} KiB)"
    );
    assert!(peak < RSS_BOUND_KIB, "msrpcd RSS peaked at {peak} KiB");
    assert!(
        !d.stderr().contains("panicked"),
        "msrpcd panicked:\n{}",
        d.stderr()
    );
    assert!(d.terminate().await.success());
}
