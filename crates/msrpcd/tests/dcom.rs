//! DCOM in the built daemon against Impacket's `DCOMConnection` (`tests/interop/impacket_dcom.py`
//! from `target/venv`, which must exist: these tests fail loudly without it; Impacket dials port
//! 135, so each test has a loopback address of its own: 127.0.0.197 and 127.0.0.198).
//!
//! - `[[policy.dcom-class]]`: a user without launch permission is refused at activation, one
//!   without access permission at every call and RemQueryInterface, both answered
//!   E_ACCESSDENIED and audited as `policy` denies (`dcom_launch_denied`,
//!   `dcom_access_denied`); a SIGHUP reload lifts the restriction.
//! - The host's records: `dcom_activation` (with the hosted class's name), `dcom_call`,
//!   `dcom_rem_unknown`, `dcom_ping`, `dcom_gc`, and their counters.
//! - A client killed mid-session: its objects, IPIDs, ping set and connections go back to
//!   zero within the ping timeout plus a margin (`dcom_gc` records with reason
//!   `ping_timeout`), and msrpcd's RSS stays bounded over repeated kill cycles.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use msrpc_audit::metrics::{parse_exposition, Sample};
use msrpc_ntlm::FileUserStore;
use serde_json::Value;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PASSWORD: &str = "S3cret-pw!";
const CALCULATOR: &str = "e316f1a9-1aa2-4272-a77c-3b9abdceaf56";
const ICALCULATOR: &str = "bf30c0af-df87-42e5-ab32-930938b49417";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's Python, or a panic that says how to make it.
fn python() -> PathBuf {
    let py = workspace().join("target/venv/bin/python");
    assert!(
        py.exists(),
        "{} is missing: this test needs Impacket 0.13.1 in target/venv \
         (python3 -m venv target/venv && target/venv/bin/pip install impacket==0.13.1)",
        py.display()
    );
    py
}

fn impacket_command(args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(python());
    cmd.arg(workspace().join("tests/interop/impacket_dcom.py"))
        .args(args)
        .stdin(std::process::Stdio::null());
    cmd
}

/// `impacket_dcom.py ARGS` to its end (bounded): (exit success, output).
async fn impacket(args: &[&str]) -> (bool, String) {
    let out = tokio::time::timeout(Duration::from_secs(120), impacket_command(args).output())
        .await
        .expect("the Impacket script timed out")
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A user file with alice and bob.
fn users(dir: &Path) -> PathBuf {
    let users = dir.join("users");
    let mut store = FileUserStore::load_or_new(&users).unwrap();
    store.add("alice", "", PASSWORD).unwrap();
    store.add("bob", "", PASSWORD).unwrap();
    store.save().unwrap();
    users
}

/// msrpcd --config `config` --users `users` --audit-log `log` --metrics on `ip`.
async fn start(
    dir: &Path,
    ip: &str,
    config: &Path,
    users: &Path,
    log: &Path,
) -> (Proc, SocketAddr) {
    let sock = dir.join("run").join("epm.sock");
    let metrics = format!("{ip}:0");
    let mut d = Proc::spawn(
        MSRPCD,
        &[
            "--listen",
            &format!("{ip}:135"),
            "--demo",
            "--registration-socket",
            sock.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--users",
            users.to_str().unwrap(),
            "--audit-log",
            log.to_str().unwrap(),
            "--metrics",
            &metrics,
        ],
    );
    let maddr = d.metrics_addr().await;
    d.line("DCOM object exporter on").await;
    (d, maddr)
}

/// Polls the log (bounded) until `done` holds for its events.
async fn wait_log(log: &Path, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let until = Instant::now() + WAIT;
    loop {
        let evs = audit_events(log);
        if done(&evs) || Instant::now() > until {
            return evs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[allow(dead_code)] // used by the kill test
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
    let (_, text) = body.split_once("\r\n\r\n").unwrap();
    parse_exposition(text).unwrap()
}

#[allow(dead_code)] // used by the kill test
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

fn policy_denies<'a>(evs: &'a [Value], reason: &str) -> Vec<&'a Value> {
    evs.iter()
        .filter(|e| e["event"] == "policy" && e["reason"] == reason)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn class_launch_and_access_permissions_from_the_policy() {
    python();
    let dir = tempfile::tempdir().unwrap();
    let users = users(dir.path());
    let log = dir.path().join("audit.json");
    let config = dir.path().join("msrpcd.toml");
    // alice may launch the calculator; its objects may only be called from 10.0.0.0/8.
    let restricted = format!(
        "[[policy.dcom-class]]\nclsid = \"{CALCULATOR}\"\nlaunch-users = \"alice\"\n\
         access-remote = [\"10.0.0.0/8\"]\n"
    );
    std::fs::write(&config, &restricted).unwrap();
    let ip = "127.0.0.197";
    let (mut d, _) = start(dir.path(), ip, &config, &users, &log).await;

    // bob may not launch it: E_ACCESSDENIED at activation.
    let (ok, text) = impacket(&[ip, "bob", PASSWORD, "--refused", "integrity"]).await;
    assert!(ok, "{text}\n{}", d.stderr());
    // alice launches it, but may not call it from 127.0.0.197.
    let (ok, text) = impacket(&[ip, "alice", PASSWORD, "--access-denied", "integrity"]).await;
    assert!(ok, "{text}\n{}", d.stderr());
    let evs = wait_log(&log, |e| {
        !policy_denies(e, "dcom_launch_denied").is_empty()
            && policy_denies(e, "dcom_access_denied").len() >= 2
    })
    .await;
    let launch = policy_denies(&evs, "dcom_launch_denied");
    assert_eq!(launch.len(), 1, "{launch:#?}");
    assert_eq!(launch[0]["action"], "deny");
    assert_eq!(launch[0]["user"], "bob");
    assert_eq!(launch[0]["rule"], format!("dcom-class:{CALCULATOR}"));
    assert_eq!(
        launch[0]["interface"],
        "000001a0-0000-0000-c000-000000000046"
    );
    assert_eq!(launch[0]["opnum"], 4);
    let access = policy_denies(&evs, "dcom_access_denied");
    let ifs: Vec<&str> = access
        .iter()
        .map(|e| e["interface"].as_str().unwrap())
        .collect();
    assert_eq!(
        ifs,
        [ICALCULATOR, "00000131-0000-0000-c000-000000000046"],
        "Add, then RemQueryInterface (Impacket calls it through IRemUnknown): {access:#?}"
    );
    assert!(access.iter().all(|e| e["user"] == "alice"));
    assert!(d
        .stderr()
        .contains("the class's permissions do not let the caller through"));

    // A reload that lets 127.0.0.0/8 call: the whole session passes.
    std::fs::write(&config, restricted.replace("10.0.0.0/8", "127.0.0.0/8")).unwrap();
    d.signal(rustix::process::Signal::HUP);
    let reloaded = async {
        while !d.stderr().contains("reload: new security policy in force") {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(WAIT, reloaded)
        .await
        .expect("no reload");
    let (ok, text) = impacket(&[ip, "alice", PASSWORD, "integrity"]).await;
    assert!(ok, "{text}\n{}", d.stderr());
    // And bob still may not launch it.
    let (ok, text) = impacket(&[ip, "bob", PASSWORD, "--refused", "integrity"]).await;
    assert!(ok, "{text}\n{}", d.stderr());
    d.terminate().await;
    let evs = audit_events(&log);
    assert_eq!(policy_denies(&evs, "dcom_launch_denied").len(), 2);
    assert_eq!(policy_denies(&evs, "dcom_access_denied").len(), 2);
}
