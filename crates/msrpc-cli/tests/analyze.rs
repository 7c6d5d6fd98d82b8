//! `msrpc analyze`: the summary table, JSON lines of events, and the exit codes, on the capture
//! checked in under tests/data and on files that are not captures or hold no DCE/RPC.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::PathBuf;
use std::process::Command;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
}

fn msrpc(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_msrpc"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn summary_and_json_lines() {
    let cap = data("analyze-impacket-msrpcd.pcapng");
    let cap = cap.to_str().unwrap();
    let (code, out, err) = msrpc(&["analyze", cap]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("DCE/RPC connections 22"), "{out}");
    assert!(out.contains("rpcecho"), "{out}");
    assert!(out.contains("1:EchoData=4"), "{out}");
    assert!(out.contains("alice"), "{out}");

    let (code, out, err) = msrpc(&["--json", "analyze", cap]);
    assert_eq!(code, 0, "{err}");
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "conn_open");
    assert_eq!(events[0]["id.resp_p"], 135);
    let calls = events.iter().filter(|e| e["event"] == "call").count();
    assert_eq!(calls, 47);
    assert!(events
        .iter()
        .any(|e| e["event"] == "epm_map" && e["endpoint"] == "rpcecho"));
}

#[test]
fn exit_codes() {
    // Not a capture: 1.
    let me = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let (code, _, err) = msrpc(&["analyze", me.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a pcap or pcapng"), "{err}");
    // Missing: 1.
    let (code, _, _) = msrpc(&["analyze", "/nonexistent/capture.pcap"]);
    assert_eq!(code, 1);
    // A capture without DCE/RPC: 4.
    let dir = std::env::temp_dir().join(format!("msrpc-analyze-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.pcap");
    let mut f = Vec::new();
    f.extend(0xa1b2_c3d4u32.to_le_bytes());
    f.extend(2u16.to_le_bytes());
    f.extend(4u16.to_le_bytes());
    for v in [0u32, 0, 65535, 1] {
        f.extend(v.to_le_bytes());
    }
    std::fs::write(&empty, &f).unwrap();
    let (code, out, _) = msrpc(&["analyze", empty.to_str().unwrap()]);
    assert_eq!(code, 4);
    assert!(out.contains("packets 0"), "{out}");
    // Cut short inside a record: what was read is reported, then exit 1.
    let cap = std::fs::read(data("analyze-impacket-msrpcd.pcapng")).unwrap();
    let cut = dir.join("cut.pcapng");
    std::fs::write(&cut, &cap[..cap.len() / 2 + 3]).unwrap();
    let (code, out, err) = msrpc(&["analyze", cut.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("DCE/RPC connections"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The technique library runs offline (rpcdump's walk of the endpoint map is `epm_full_walk`,
/// low, saying it is admin practice too); `--rules` overrides it, and a rules file that does
/// not load is a usage error naming the rule and the key.
#[test]
fn technique_rules_and_overrides() {
    let cap = data("analyze-impacket-msrpcd.pcapng");
    let cap = cap.to_str().unwrap();
    let alerts = |out: &str| -> Vec<serde_json::Value> {
        out.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|e| e["event"] == "alert")
            .collect()
    };
    let (code, out, err) = msrpc(&["--json", "analyze", cap]);
    assert_eq!(code, 0, "{err}");
    let a = alerts(&out);
    let walk = a
        .iter()
        .find(|e| e["detector"] == "epm_full_walk")
        .unwrap_or_else(|| panic!("{a:?}"));
    assert_eq!(walk["severity"], "low");
    assert_eq!(walk["attack"], "T1046");
    assert_eq!(walk["technique"], "epm_full_walk");
    assert!(walk["benign"].as_str().unwrap().contains("rpcdump"));
    assert_eq!(walk["evidence"]["calls"][0]["inquiry"], "all");

    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "version = 1\n[[override]]\nid = \"epm_full_walk\"\nallow-sources = [\"127.0.0.0/8\"]\n",
    )
    .unwrap();
    let (code, out, err) = msrpc(&["--json", "analyze", cap, "--rules", rules.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !alerts(&out)
            .iter()
            .any(|e| e["detector"] == "epm_full_walk"),
        "{out}"
    );

    std::fs::write(
        &rules,
        "version = 1\n[[rule]]\nid = \"mine\"\ntechnique = \"x\"\nseverity = \"loud\"\n",
    )
    .unwrap();
    let (code, _, err) = msrpc(&["analyze", cap, "--rules", rules.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("rule \"mine\"") && err.contains("key \"severity\""),
        "{err}"
    );
}
