//! `msrpc dump`, `map` and `call ept-map` against Samba's samba-dcerpcd, started on a loopback
//! address of its own with `tests/interop/samba-dcerpcd.sh` and stopped at the end.
//!
//! Needs root (port 135) and the Debian packages `samba`, `samba-common-bin` and `smbclient`;
//! the test fails (it does not skip) when they are missing, saying how to install them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::msrpc;
use serde_json::Value;

/// Its own address, so it does not collide with other suites' Samba on 127.0.0.2.
const ADDR: &str = "127.0.0.72";
const DCERPCD: &str = "/usr/libexec/samba/samba-dcerpcd";

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/samba-dcerpcd.sh")
}

/// Stops Samba when dropped (also when an assertion fails).
struct Samba {
    dir: PathBuf,
}

impl Samba {
    fn start() -> Samba {
        assert!(
            std::path::Path::new(DCERPCD).exists(),
            "{DCERPCD} is missing: this test needs Samba. Install it with \
             `apt-get install -y samba samba-common-bin smbclient` (as root)"
        );
        let dir = std::env::temp_dir().join(format!("msrpc-cli-samba-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new("bash")
            .arg(script())
            .args(["start"])
            .arg(&dir)
            .arg(ADDR)
            .output()
            .unwrap();
        let samba = Samba { dir };
        assert!(
            out.status.success(),
            "samba-dcerpcd did not start on {ADDR}:135 (needs root for port 135):\n{}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(samba.dir.join("samba-dcerpcd.out")).unwrap_or_default()
        );
        samba
    }
}

impl Drop for Samba {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(&self.dir)
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The bindings `rpcclient -c epmlookup` lists (`OBJECT BINDING[...,abstract_syntax=...]:
/// ANNOTATION` per line), when rpcclient is installed.
fn rpcclient_bindings(dir: &std::path::Path) -> Option<Vec<String>> {
    let out = Command::new("timeout")
        .args(["30", "rpcclient", "-s"])
        .arg(dir.join("smb.conf"))
        .args([
            "-U%",
            &format!("ncacn_ip_tcp:{ADDR}[135]"),
            "-c",
            "epmlookup",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&out.stdout);
    Some(
        text.lines()
            .filter(|l| {
                l.get(..36)
                    .is_some_and(|u| msrpc_ndr::Uuid::parse_str(u).is_ok())
            })
            .filter_map(|l| l.split_whitespace().nth(1))
            .map(|b| match b.split_once(",abstract_syntax=") {
                Some((head, _)) => format!("{head}]"),
                None => b.trim_end_matches(':').to_string(),
            })
            .collect(),
    )
}

#[test]
fn dump_map_and_ept_map_against_samba_dcerpcd() {
    let samba = Samba::start();

    let r = msrpc(&["dump", ADDR, "--json"]).expect_code(0);
    let doc = r.json();
    // Samba ends the walk with ept_s_not_registered on the last batch: every entry is kept.
    assert_eq!(doc["complete"], Value::Bool(true), "{doc}");
    let entries = doc["entries"].as_array().unwrap();
    assert!(entries.len() >= 10, "{doc}");
    assert_eq!(doc["count"].as_u64().unwrap() as usize, entries.len());
    let names: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["interface"]["name"].as_str())
        .collect();
    for want in ["epmapper", "lsarpc", "samr", "srvsvc", "wkssvc", "winreg"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(entries
        .iter()
        .any(|e| e["binding"] == format!("ncacn_ip_tcp:{ADDR}[135]").as_str()));
    // Samba's own client lists the same bindings, except that it drops the entry that comes
    // with the final ept_s_not_registered status (it asks for one entry per call).
    if let Some(theirs) = rpcclient_bindings(&samba.dir) {
        let mut ours: Vec<String> = entries
            .iter()
            .filter_map(|e| e["binding"].as_str().map(String::from))
            .collect();
        for b in &theirs {
            let i = ours.iter().position(|o| o == b);
            assert!(i.is_some(), "rpcclient lists {b}, msrpc dump does not");
            ours.remove(i.unwrap());
        }
        assert!(entries.len() >= theirs.len());
    }

    let r = msrpc(&["dump", ADDR]).expect_code(0);
    assert!(r.stdout.contains("Name      : samr"), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("{} endpoints", entries.len())));

    // ept_map finds samr's TCP port; map lists what that port offers.
    let r = msrpc(&["--json", "call", ADDR, "ept-map", "samr"]).expect_code(0);
    let towers = r.json()["towers"].as_array().unwrap().clone();
    let tcp = towers[0].as_str().unwrap().to_string();
    assert!(tcp.starts_with(&format!("ncacn_ip_tcp:{ADDR}[")), "{tcp}");
    let r = msrpc(&["map", &tcp, "--json"]).expect_code(0);
    let mapped: Vec<String> = r.json()["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["name"].as_str().map(String::from))
        .collect();
    assert!(mapped.iter().any(|n| n == "samr"), "{mapped:?}");
    let r = msrpc(&["map", &tcp, "--brute", "--json"]).expect_code(0);
    let probed: Vec<String> = r.json()["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["name"].as_str().map(String::from))
        .collect();
    for want in ["samr", "lsarpc", "dssetup"] {
        assert!(
            probed.iter().any(|n| n == want),
            "{want} not found by probes: {probed:?}"
        );
    }
    // Samba serves mgmt on the endpoint mapper's port too.
    let r = msrpc(&["--json", "call", ADDR, "mgmt-is-listening"]).expect_code(0);
    assert_eq!(r.json()["listening"], true);
    drop(samba);
}
