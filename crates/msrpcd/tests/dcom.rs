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

/// msrpcd's resident set size, from /proc.
fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// (objects, IPIDs, ping sets, connections of every server) now.
async fn live_state(maddr: SocketAddr) -> (f64, f64, f64, f64) {
    let m = get_metrics(maddr).await;
    (
        metric(&m, "msrpc_dcom_objects", &[]),
        metric(&m, "msrpc_dcom_ipids", &[]),
        metric(&m, "msrpc_dcom_ping_sets", &[]),
        metric(&m, "msrpc_server_connections", &[]),
    )
}

/// The ping timeout these tests configure: ping-period x missed-pings.
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// What collection may take beyond the timeout: a gc-interval (1 s) and scheduling.
const MARGIN: Duration = Duration::from_secs(4);
/// Kill cycles for the memory check.
const CYCLES: usize = 5;
/// How far msrpcd's RSS may grow from the first cycle's to the last's.
const RSS_GROWTH_KIB: u64 = 3 * 1024;

/// One cycle: a client activates the calculator, spawns children, takes a RemQueryInterface
/// reference and pings, and is killed; everything it held goes within the timeout plus the
/// margin. Returns the time that took.
async fn kill_cycle(ip: &str, maddr: SocketAddr, d: &Proc) -> Duration {
    let mut client = Proc::spawn_cmd(
        impacket_command(&[ip, "alice", PASSWORD, "--hold", "integrity"]),
        "impacket_dcom.py",
        &[],
    );
    let holding = client.line("HOLDING").await;
    assert_eq!(
        holding,
        "HOLDING 4",
        "{:?}\n{}",
        client.stdout(),
        client.stderr()
    );
    let (objects, ipids, sets, _) = live_state(maddr).await;
    assert_eq!(
        (objects, sets),
        (4.0, 1.0),
        "the calculator and three children, one set"
    );
    // One ICalculator IPID per object: RemQueryInterface added references to the calculator's.
    assert_eq!(ipids, 4.0);
    // Still pinged: a timeout later, everything is there.
    tokio::time::sleep(PING_TIMEOUT + Duration::from_secs(1)).await;
    assert_eq!(
        live_state(maddr).await.0,
        4.0,
        "pinged objects were collected"
    );
    client.kill9().await;
    let killed = Instant::now();
    loop {
        let state = live_state(maddr).await;
        if state == (0.0, 0.0, 0.0, 0.0) {
            return killed.elapsed();
        }
        assert!(
            killed.elapsed() <= PING_TIMEOUT + MARGIN,
            "{:?} after the kill: (objects, ipids, sets, connections) = {state:?}\n{}",
            killed.elapsed(),
            d.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_killed_mid_session_leaves_nothing_behind() {
    python();
    let dir = tempfile::tempdir().unwrap();
    let users = users(dir.path());
    let log = dir.path().join("audit.json");
    let config = dir.path().join("msrpcd.toml");
    std::fs::write(
        &config,
        "[dcom]\nping-period = 1\nmissed-pings = 2\ngc-interval = 1\n",
    )
    .unwrap();
    let ip = "127.0.0.198";
    let (mut d, maddr) = start(dir.path(), ip, &config, &users, &log).await;

    let first = kill_cycle(ip, maddr, &d).await;
    let evs = wait_log(&log, |e| e.iter().any(|e| e["event"] == "dcom_gc")).await;
    // What the session left in the audit log.
    let of = |kind: &str| -> Vec<&Value> { evs.iter().filter(|e| e["event"] == kind).collect() };
    let act = of("dcom_activation");
    assert_eq!(act.len(), 1, "{act:#?}");
    assert_eq!(act[0]["class_name"], "MsrpcCalculator");
    assert_eq!(act[0]["clsid"], CALCULATOR);
    assert_eq!(act[0]["hresult"], 0);
    assert_eq!(act[0]["user"], "alice");
    assert_eq!(act[0]["auth_level"], "pkt_integrity");
    let calls = of("dcom_call");
    // Three Spawns, three Adds on the children, an Add on the RemQueryInterface reference.
    assert_eq!(calls.len(), 7, "{calls:#?}");
    assert!(calls.iter().all(|c| c["class_name"] == "MsrpcCalculator"
        && c["interface"] == ICALCULATOR
        && c["hresult"] == 0
        && c["oid"].is_string()));
    let qi = of("dcom_rem_unknown");
    assert!(
        qi.iter().any(|e| e["operation"] == "RemQueryInterface"
            && e["iids"][0] == ICALCULATOR
            && e["hresult"] == 0),
        "{qi:#?}"
    );
    let pings = of("dcom_ping");
    assert!(
        pings.iter().any(|p| p["operation"] == "ComplexPing"
            && p["status"] == 0
            && p["added"].as_array().unwrap().len() == 4),
        "{pings:#?}"
    );
    let gc = of("dcom_gc");
    assert!(gc.iter().all(|g| g["reason"] == "ping_timeout"), "{gc:#?}");
    let collected: u64 = gc.iter().map(|g| g["collected"].as_u64().unwrap()).sum();
    assert_eq!(collected, 4, "{gc:#?}");
    let last = gc.last().unwrap();
    assert_eq!(
        (last["objects"].as_u64(), last["sets"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(
        last["id.orig_h"].is_null(),
        "the collector's record has no peer"
    );
    let m = get_metrics(maddr).await;
    let activations = [("class", "MsrpcCalculator"), ("result", "ok")];
    assert_eq!(
        metric(&m, "msrpc_dcom_activations_total", &activations),
        1.0
    );
    let ok_calls = [("class", "MsrpcCalculator"), ("result", "ok")];
    assert_eq!(metric(&m, "msrpc_dcom_orpc_calls_total", &ok_calls), 7.0);
    let timeout = [("reason", "ping_timeout")];
    assert_eq!(metric(&m, "msrpc_dcom_collected_total", &timeout), 4.0);
    assert!(metric(&m, "msrpc_dcom_pings_total", &[("result", "ok")]) >= 1.0);

    // Memory: after more kill cycles, msrpcd's RSS stays near the first cycle's.
    let rss_first = rss_kib(d.pid());
    let mut took = vec![first];
    for _ in 1..CYCLES {
        took.push(kill_cycle(ip, maddr, &d).await);
    }
    let rss_last = rss_kib(d.pid());
    eprintln!("collection after the kill: {took:?}; RSS {rss_first} KiB -> {rss_last} KiB");
    assert!(
        rss_last <= rss_first + RSS_GROWTH_KIB,
        "RSS grew from {rss_first} KiB to {rss_last} KiB over {CYCLES} kill cycles"
    );
    let m = get_metrics(maddr).await;
    let all = CYCLES as f64 * 4.0;
    assert_eq!(metric(&m, "msrpc_dcom_collected_total", &timeout), all);
    d.terminate().await;
}
