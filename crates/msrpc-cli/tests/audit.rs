//! `msrpc audit` against msrpcd in several configurations and against Samba's samba-dcerpcd:
//! the findings each really has, and a proof from msrpcd's audit log that the probes call no
//! operation that changes state. The UDP probe against `msrpcd --listen-udp` (127.0.9.1:135)
//! and without it (127.0.9.2:135); msrpcd does not log connectionless calls, so the UDP
//! probe's calls are checked from what it reports it sent (decoded from its own datagrams).
//!
//! Needs the built `msrpcd` next to `msrpc` (`cargo build -p msrpcd`; `cargo test --workspace`
//! builds it) and, for the Samba case, root and the Debian packages samba and
//! samba-common-bin: the tests fail, not skip, without them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod daemon;
use daemon::{add_user, msrpc_bin, msrpcd_bin, stdout_lines, wait_lines, Proc};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const PASSWORD: &str = "Audit-pw-1";
const RPCECHO: &str = "60a15ec5-4de8-11d7-a637-005056a20182";

/// A running msrpcd, killed when dropped.
struct Daemon {
    _proc: Proc,
    epm: SocketAddr,
    dir: tempfile::TempDir,
}

/// Starts `msrpcd --demo` on `ip` with user alice, the configuration `config` and an audit log.
fn start(ip: &str, config: &str) -> Daemon {
    start_on(&format!("{ip}:0"), config, &[])
}

/// [`start`] listening on `listen` (ADDR:PORT), with more arguments.
fn start_on(listen: &str, config: &str, extra: &[&str]) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    add_user(&users, "alice", PASSWORD);
    let cfg = dir.path().join("msrpcd.toml");
    std::fs::write(&cfg, config).unwrap();
    let mut child = Command::new(msrpcd_bin())
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--listen",
            listen,
            "--demo",
            "--users",
            users.to_str().unwrap(),
            "--audit-log",
            dir.path().join("audit.json").to_str().unwrap(),
            "--registration-socket",
            dir.path().join("epm.sock").to_str().unwrap(),
        ])
        .args(extra)
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = stdout_lines(&mut child);
    let mut epm = None;
    let mut demo = false;
    wait_lines(&rx, "msrpcd did not start", |line| {
        if let Some(a) = line.strip_prefix("EPM listening on ") {
            epm = Some(a.trim().parse().unwrap());
        }
        demo |= line.starts_with("rpcecho demo on ");
        epm.is_some() && demo
    });
    Daemon {
        _proc: Proc(child),
        epm: epm.unwrap(),
        dir,
    }
}

/// `msrpc [--user alice] --json audit TARGET`: the host's report.
fn audit(target: &str, user: bool) -> Value {
    let mut cmd = Command::new(msrpc_bin());
    cmd.args(["--json", "--timeout", "10"]);
    if user {
        cmd.args(["--user", "alice", "--auth-level", "privacy"])
            .env("MSRPC_PASSWORD", PASSWORD);
    }
    let out = cmd.args(["audit", target]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["summary"]["hosts"], 1);
    doc["hosts"][0].clone()
}

fn rules(host: &Value) -> Vec<String> {
    host["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

/// The finding `rule` about interface `uuid`, if any.
fn finding<'a>(host: &'a Value, rule: &str, uuid: Option<&str>) -> Option<&'a Value> {
    host["findings"].as_array().unwrap().iter().find(|f| {
        f["rule"] == rule
            && uuid.is_none_or(|u| f["interface"].as_str().is_some_and(|i| i.starts_with(u)))
    })
}

/// The probe record of interface `uuid` on any port.
fn iface<'a>(host: &'a Value, uuid: &str) -> &'a Value {
    host["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["interfaces"].as_array().unwrap())
        .find(|i| i["interface"].as_str().unwrap().starts_with(uuid))
        .unwrap_or_else(|| panic!("{uuid} not probed: {host:#}"))
}

/// Every call msrpcd's audit log recorded: (interface UUID, opnum).
fn logged_calls(log: &Path) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(log).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event"] == "call")
        .map(|e| {
            (
                e["interface"].as_str().unwrap().to_string(),
                e["opnum"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The read-only operations the audit may call, by interface; opnum 65535 (the no-op probe,
/// which no interface defines) on any interface.
fn allowed(uuid: &str, opnum: u64) -> bool {
    opnum == 65535
        || matches!(
            (uuid, opnum),
            // ept_lookup, ept_lookup_handle_free
            ("e1af8308-5d1f-11c9-91a4-08002b14a0fa", 2 | 4)
            // mgmt inq_if_ids
            | ("afa8bd80-7d8a-11c9-bef4-08002b102989", 0)
            // IObjectExporter ServerAlive2
            | ("99fcfec4-5260-101b-bbcb-00aa0021347a", 5)
        )
}

/// The audit log as written once the daemon has flushed (it writes as events come; polled,
/// bounded).
fn wait_for_calls(log: &Path, at_least: usize) -> Vec<(String, u64)> {
    let t0 = std::time::Instant::now();
    loop {
        let calls = logged_calls(log);
        if calls.len() >= at_least || t0.elapsed() > Duration::from_secs(10) {
            return calls;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn open_demo_reports_unauthenticated_access_and_probes_read_only() {
    let d = start("127.0.7.21", "");
    let host = audit(&d.epm.to_string(), false);
    let r = rules(&host);
    assert_eq!(host["reachable"], true);
    assert_eq!(host["epm"]["walked_with"], "none");
    // No --listen-udp: probed, and nothing answered over UDP.
    assert_eq!(host["connectionless"]["probed"], true);
    assert_eq!(host["connectionless"]["answered"], false);
    assert!(
        finding(&host, "epm-anonymous-walk", None).is_some(),
        "{r:?}"
    );
    let echo = finding(&host, "interface-unauthenticated", Some(RPCECHO)).expect("rpcecho");
    assert_eq!(echo["severity"], "medium");
    assert_eq!(
        echo["interface_name"], "rpcecho",
        "named by the well-known table"
    );
    assert!(
        finding(&host, "mgmt-unauthenticated", None).is_some(),
        "{r:?}"
    );
    // DCOM is on by default: the resolver leaks the address, the activator answers.
    let leak = finding(&host, "dcom-addresses-leaked", None).expect("ServerAlive2");
    assert!(leak["evidence"].as_str().unwrap().contains("127.0.7.21"));
    // msrpcd lists its listen address and its host name: no other network, low.
    assert_eq!(leak["severity"], "low", "{leak:#}");
    assert!(finding(
        &host,
        "abused-interface-unauthenticated",
        Some("000001a0-0000-0000-c000-000000000046")
    )
    .is_some());
    // What it must not claim.
    assert!(!r.contains(&"bad-password-accepted".to_string()), "{r:?}");
    assert!(
        !r.contains(&"anonymous-logon-accepted".to_string()),
        "{r:?}"
    );
    assert!(!r.contains(&"old-com-version".to_string()), "{r:?}");
    assert_eq!(iface(&host, RPCECHO)["lowest"], "none");
    assert_eq!(iface(&host, RPCECHO)["bad_password"]["result"], "denied");

    // Read-only: every call the daemon saw is an allowed one.
    let calls = wait_for_calls(&d.dir.path().join("audit.json"), 10);
    assert!(
        calls.iter().filter(|(_, o)| *o == 65535).count() >= 5,
        "the probes reached the daemon: {calls:?}"
    );
    for (uuid, opnum) in &calls {
        assert!(
            allowed(uuid, *opnum),
            "the audit called {uuid} opnum {opnum}"
        );
    }

    // The audit result feeds `msrpc firewall --audit`: the rpcecho port is allowed exactly.
    let echo_port = host["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["interfaces"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["interface"].as_str().unwrap().starts_with(RPCECHO))
        })
        .unwrap()["port"]
        .as_u64()
        .unwrap();
    let doc = d.dir.path().join("audit-result.json");
    std::fs::write(
        &doc,
        serde_json::json!({ "hosts": [host.clone()], "summary": {} }).to_string(),
    )
    .unwrap();
    let out = Command::new(msrpc_bin())
        .args([
            "firewall",
            "--audit",
            doc.to_str().unwrap(),
            "--format",
            "iptables",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let rules = String::from_utf8(out.stdout).unwrap();
    assert!(
        rules.contains(&format!("--dports {},{echo_port} -j ACCEPT", d.epm.port())),
        "{rules}"
    );

    // SARIF: one result per finding.
    let out = Command::new(msrpc_bin())
        .args(["--timeout", "10", "audit", "--sarif", &d.epm.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(
        sarif["runs"][0]["results"].as_array().unwrap().len(),
        host["findings"].as_array().unwrap().len()
    );
    // --no-bad-password leaves that probe out.
    let out = Command::new(msrpc_bin())
        .args([
            "--json",
            "--timeout",
            "10",
            "audit",
            "--no-bad-password",
            &d.epm.to_string(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        iface(&doc["hosts"][0], RPCECHO)["bad_password"]["result"],
        "not_probed"
    );

    // --fail-on: exit 5 at the worst finding's severity (medium here), 0 above it.
    for (level, code) in [("medium", 5), ("high", 0)] {
        let out = Command::new(msrpc_bin())
            .args([
                "--timeout",
                "10",
                "audit",
                "--fail-on",
                level,
                &d.epm.to_string(),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "--fail-on {level}");
    }
}

#[test]
fn users_with_restrictive_policy_leave_only_the_endpoint_map() {
    let d = start(
        "127.0.7.22",
        &format!(
            "[policy]\nrestrict-remote-clients = \"authenticated\"\n\
             [[policy.interface]]\nuuid = \"{RPCECHO}\"\nmin-auth-level = \"privacy\"\n"
        ),
    );
    let host = audit(&d.epm.to_string(), true);
    let r = rules(&host);
    // The endpoint mapper stays open (as Windows' RestrictRemoteClients = 1 leaves it).
    assert_eq!(host["epm"]["walked_with"], "none", "{host:#}");
    assert!(r.contains(&"epm-anonymous-walk".to_string()), "{r:?}");
    // Nothing else answers without a named user.
    for absent in [
        "interface-unauthenticated",
        "mgmt-unauthenticated",
        "anonymous-logon-accepted",
        "bad-password-accepted",
        "dcom-addresses-leaked",
        "abused-interface-unauthenticated",
    ] {
        assert!(!r.contains(&absent.to_string()), "{absent} in {r:?}");
    }
    let echo = iface(&host, RPCECHO);
    assert_eq!(echo["none"]["result"], "denied", "{echo:#}");
    assert_eq!(echo["anonymous"]["result"], "denied", "{echo:#}");
    assert_eq!(echo["bad_password"]["result"], "denied", "{echo:#}");
    assert_eq!(echo["user"]["result"], "reached", "{echo:#}");
    assert_eq!(echo["lowest"], "user");
    assert!(
        host["dcom"]["error"].as_str().is_some(),
        "ServerAlive2 refused: {host:#}"
    );
}

#[test]
fn anonymous_logons_on_and_off() {
    // rpcecho wants integrity: an unauthenticated call is refused, an anonymous logon (which
    // keeps its level) is not, unless anonymous logons are off.
    let policy =
        format!("[[policy.interface]]\nuuid = \"{RPCECHO}\"\nmin-auth-level = \"integrity\"\n");
    let on = start("127.0.7.23", &policy);
    let host = audit(&on.epm.to_string(), false);
    let f = finding(&host, "anonymous-logon-accepted", None).expect("anonymous finding");
    assert!(f["evidence"].as_str().unwrap().contains("rpcecho"), "{f:#}");
    assert_eq!(iface(&host, RPCECHO)["lowest"], "anonymous");
    assert_eq!(iface(&host, RPCECHO)["none"]["result"], "denied");
    drop(on);

    let off = start(
        "127.0.7.24",
        &format!("[security]\nallow-anonymous = false\n{policy}"),
    );
    let host = audit(&off.epm.to_string(), true);
    let r = rules(&host);
    assert!(
        !r.contains(&"anonymous-logon-accepted".to_string()),
        "{r:?}"
    );
    let echo = iface(&host, RPCECHO);
    assert_ne!(echo["anonymous"]["result"], "reached", "{echo:#}");
    assert_eq!(echo["lowest"], "user", "{echo:#}");
}

/// The calls the UDP probe's request datagrams carried (`UUID vX.Y opnum N`), as
/// (interface UUID, opnum). msrpcd's audit log does not record connectionless calls, so the
/// probe reports what it put on the wire, decoded from the datagrams it sent.
fn udp_calls(host: &Value) -> Vec<(String, u64)> {
    host["connectionless"]["sent_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let c = c.as_str().unwrap();
            let mut w = c.split_whitespace();
            let uuid = w.next().unwrap().to_string();
            let opnum = c.rsplit(' ').next().unwrap().parse().unwrap();
            (uuid, opnum)
        })
        .collect()
}

/// `msrpc firewall --audit` of one host's report.
fn firewall_from(dir: &Path, host: &Value, format: &str) -> String {
    let doc = dir.join("audit-result.json");
    std::fs::write(
        &doc,
        serde_json::json!({ "hosts": [host.clone()], "summary": {} }).to_string(),
    )
    .unwrap();
    let out = Command::new(msrpc_bin())
        .args([
            "firewall",
            "--audit",
            doc.to_str().unwrap(),
            "--format",
            format,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn udp_on_is_probed_answered_and_firewalled() {
    let d = start_on("127.0.9.1:135", "", &["--listen-udp", "127.0.9.1:135"]);
    let host = audit("127.0.9.1", false);
    let cl = &host["connectionless"];
    assert_eq!(cl["probed"], true, "{cl:#}");
    assert_eq!(cl["answered"], true, "{cl:#}");
    assert_eq!(cl["entries"], 1, "max_ents 1: {cl:#}");
    // msrpcd calls back before answering more than an unverified source sent, and never
    // sends it more bytes than it received.
    assert_eq!(cl["callback"], true, "{cl:#}");
    let (sent, got) = (
        cl["unverified_sent"].as_u64().unwrap(),
        cl["unverified_received"].as_u64().unwrap(),
    );
    assert!(sent > 0 && got <= sent, "{cl:#}");
    assert!(
        cl["bytes_received"].as_u64().unwrap() > got,
        "the answer came after: {cl:#}"
    );
    let note = cl["note"].as_str().unwrap();
    assert!(note.contains("ept_lookup over UDP 135"), "{note}");
    assert!(note.contains("verifies sources"), "{note}");
    let f = finding(&host, "connectionless-enabled", None).expect("connectionless-enabled");
    assert_eq!(f["severity"], "medium", "{f:#}");
    assert!(
        f["title"].as_str().unwrap().contains("answers on UDP 135"),
        "{f:#}"
    );
    assert!(
        f["evidence"].as_str().unwrap().contains("verifies sources"),
        "{f:#}"
    );
    // The demo registers rpcecho's UDP tower.
    let udp_bindings = host["epm"]["udp_bindings"].as_array().unwrap();
    assert_eq!(udp_bindings.len(), 1, "{host:#}");
    let echo_udp = udp_bindings[0].as_str().unwrap();
    let echo_udp_port = echo_udp
        .rsplit('[')
        .next()
        .unwrap()
        .trim_end_matches(']')
        .to_string();

    // Read-only over UDP too: only the lookups went out.
    let calls = udp_calls(&host);
    assert!(
        calls.contains(&("e1af8308-5d1f-11c9-91a4-08002b14a0fa".into(), 2)),
        "{calls:?}"
    );
    for (uuid, opnum) in &calls {
        assert!(
            allowed(uuid, *opnum),
            "the UDP probe called {uuid} opnum {opnum}"
        );
    }
    // And over TCP, from msrpcd's audit log.
    for (uuid, opnum) in wait_for_calls(&d.dir.path().join("audit.json"), 10) {
        assert!(
            allowed(&uuid, opnum),
            "the audit called {uuid} opnum {opnum}"
        );
    }

    // The firewall rules from this result open UDP 135 (rate-limited) and rpcecho's UDP port.
    let nft = firewall_from(d.dir.path(), &host, "nft");
    assert!(
        nft.contains("udp dport 135 ct state new add @epm_udp_meter_v4"),
        "{nft}"
    );
    assert!(nft.contains("udp dport 135 accept"), "{nft}");
    assert!(
        nft.contains(&format!("elements = {{ {echo_udp_port} }}")),
        "{nft}"
    );
    assert!(nft.contains("udp dport @rpc_udp_services accept"), "{nft}");
    let ipt = firewall_from(d.dir.path(), &host, "iptables");
    assert!(ipt.contains("-I INPUT 1 -p udp -j MSRPC-INPUT"), "{ipt}");
    assert!(
        ipt.contains(&format!(
            "-p udp -m multiport --dports 135,{echo_udp_port} -j ACCEPT"
        )),
        "{ipt}"
    );

    // --no-udp: not probed, said so; the registered UDP tower is still a finding.
    let out = Command::new(msrpc_bin())
        .args([
            "--json",
            "--timeout",
            "10",
            "audit",
            "--no-udp",
            "127.0.9.1",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let h = &doc["hosts"][0];
    assert_eq!(h["connectionless"]["probed"], false);
    assert_eq!(h["connectionless"]["answered"], Value::Null);
    assert_eq!(h["connectionless"]["note"], "not probed (--no-udp)");
    let f = finding(h, "connectionless-enabled", None).expect("from the endpoint map");
    assert!(f["evidence"].as_str().unwrap().contains(echo_udp), "{f:#}");
}

#[test]
fn udp_off_is_probed_and_not_answered() {
    let d = start_on("127.0.9.2:135", "", &[]);
    let host = audit("127.0.9.2", false);
    let cl = &host["connectionless"];
    assert_eq!(cl["probed"], true, "{cl:#}");
    assert_eq!(cl["answered"], false, "{cl:#}");
    assert_eq!(cl["callback"], Value::Null, "{cl:#}");
    assert_eq!(cl["bytes_received"], 0, "{cl:#}");
    assert!(
        cl["note"]
            .as_str()
            .unwrap()
            .starts_with("no connectionless answer on UDP 135"),
        "{cl:#}"
    );
    for (uuid, opnum) in udp_calls(&host) {
        assert!(
            allowed(&uuid, opnum),
            "the UDP probe called {uuid} opnum {opnum}"
        );
    }
    let r = rules(&host);
    assert!(!r.contains(&"connectionless-enabled".to_string()), "{r:?}");
    // No connectionless RPC: no UDP rule.
    let nft = firewall_from(d.dir.path(), &host, "nft");
    assert!(!nft.contains("udp dport"), "{nft}");
    assert!(nft.contains("UDP: no rule"), "{nft}");
    let ipt = firewall_from(d.dir.path(), &host, "iptables");
    assert!(!ipt.contains("-p udp"), "{ipt}");
}

/// Samba's samba-dcerpcd on an address of its own (stopped when dropped).
struct Samba {
    dir: PathBuf,
}

const SAMBA_ADDR: &str = "127.0.7.16";

fn samba_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/samba-dcerpcd.sh")
}

impl Drop for Samba {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(samba_script())
            .arg("stop")
            .arg(&self.dir)
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn samba_dcerpcd_findings() {
    let dcerpcd = "/usr/libexec/samba/samba-dcerpcd";
    assert!(
        Path::new(dcerpcd).exists(),
        "{dcerpcd} is missing: this test needs Samba. Install it with \
         `apt-get install -y samba samba-common-bin smbclient` (as root)"
    );
    let dir = std::env::temp_dir().join(format!("msrpc-audit-samba-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new("bash")
        .arg(samba_script())
        .arg("start")
        .arg(&dir)
        .arg(SAMBA_ADDR)
        .output()
        .unwrap();
    let _samba = Samba { dir: dir.clone() };
    assert!(
        out.status.success(),
        "samba-dcerpcd did not start on {SAMBA_ADDR}:135 (needs root):\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dir.join("samba-dcerpcd.out")).unwrap_or_default()
    );
    let host = audit(SAMBA_ADDR, false);
    let r = rules(&host);
    assert_eq!(host["epm"]["walked_with"], "none");
    assert!(r.contains(&"epm-anonymous-walk".to_string()), "{r:?}");
    // Samba serves these without authentication on its dynamic ports (the runtime lets the
    // call through; operations may still check the caller).
    for (uuid, name) in [
        ("338cd001-2244-31f1-aaaa-900038001003", "winreg"),
        ("12345778-1234-abcd-ef00-0123456789ac", "samr"),
        ("12345778-1234-abcd-ef00-0123456789ab", "lsarpc"),
    ] {
        let f = finding(&host, "abused-interface-unauthenticated", Some(uuid))
            .unwrap_or_else(|| panic!("{name}: {r:?}"));
        assert_eq!(f["interface_name"], name);
        assert_eq!(f["severity"], "high");
        assert!(f["fix"]["samba"].as_str().is_some(), "{f:#}");
    }
    // A made-up account is refused (Samba answers nca_s_proto_error after the failed logon).
    assert!(!r.contains(&"bad-password-accepted".to_string()), "{r:?}");
    assert_ne!(
        iface(&host, "12345778-1234-abcd-ef00-0123456789ac")["bad_password"]["result"],
        "reached"
    );
    // Samba has no DCOM resolver.
    assert_eq!(host["dcom"]["answered"], false);
    assert!(!r.contains(&"dcom-addresses-leaked".to_string()), "{r:?}");
}
