//! `msrpc dcom call` and `msrpc dcom bench` against a real msrpcd (`--demo --users`): the
//! built `msrpcd` binary next to `msrpc` in the target directory (`cargo test --workspace`
//! builds it; with `cargo test -p msrpc-cli` alone, build it first with
//! `cargo build -p msrpcd`: the test fails, not skips, without it). Activation at packet
//! integrity with NTLMv2, then ICalculator's Add, Echo and Spawn with their real results;
//! activation below integrity is refused (exit 3). After each call the daemon's
//! `msrpc_dcom_objects` gauge (`--metrics`) is back to 0: the command released the activated
//! object and the spawned child.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod daemon;
use daemon::{add_user, msrpc_bin, msrpcd_bin, stdout_lines, wait_lines, Proc};

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const PASSWORD: &str = "S3cret!pw";

/// A running msrpcd, killed when dropped.
struct Daemon {
    _proc: Proc,
    epm: SocketAddr,
    metrics: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Daemon {
    /// The value of the gauge `name` at `/metrics` (bounded waits). The daemon adds its
    /// gauges once every server runs, after printing their addresses: asked again until then.
    fn gauge(&self, name: &str) -> u64 {
        use std::io::Read;
        let prefix = format!("{name} ");
        let t0 = std::time::Instant::now();
        loop {
            let mut s = std::net::TcpStream::connect_timeout(&self.metrics, Duration::from_secs(5))
                .unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut body = String::new();
            s.read_to_string(&mut body).unwrap();
            if let Some(v) = body.lines().find_map(|l| l.strip_prefix(&prefix)) {
                return v.trim().parse().unwrap();
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "no {name} in {body}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn start(ip: &str) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    add_user(&users, "alice", PASSWORD);
    let mut child = Command::new(msrpcd_bin())
        .args([
            "--listen",
            &format!("{ip}:0"),
            "--demo",
            "--users",
            users.to_str().unwrap(),
            "--registration-socket",
            dir.path().join("epm.sock").to_str().unwrap(),
            "--metrics",
            &format!("{ip}:0"),
        ])
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = stdout_lines(&mut child);
    let mut epm = None;
    let mut metrics = None;
    let mut exporter = false;
    wait_lines(&rx, "msrpcd did not start", |line| {
        if let Some(a) = line.strip_prefix("EPM listening on ") {
            epm = Some(a.trim().parse().unwrap());
        }
        if let Some(a) = line
            .strip_prefix("metrics on http://")
            .and_then(|a| a.strip_suffix("/metrics"))
        {
            metrics = Some(a.trim().parse().unwrap());
        }
        exporter |= line.starts_with("DCOM object exporter on ");
        epm.is_some() && metrics.is_some() && exporter
    });
    Daemon {
        _proc: Proc(child),
        epm: epm.unwrap(),
        metrics: metrics.unwrap(),
        _dir: dir,
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        serde_json::from_str(&self.stdout).unwrap()
    }
}

fn msrpc(d: &Daemon, level: &str, args: &[&str]) -> Run {
    let out = Command::new(msrpc_bin())
        .args([
            "--epm-port",
            &d.epm.port().to_string(),
            "--timeout",
            "10",
            "--user",
            "alice",
            "--auth-level",
            level,
        ])
        .args(args)
        .env("MSRPC_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn call_add_echo_spawn_on_msrpcd() {
    let d = start("127.0.0.168");
    let host = d.epm.ip().to_string();

    let v = msrpc(
        &d,
        "integrity",
        &["--json", "dcom", "call", &host, "add", "2", "3"],
    )
    .json();
    assert_eq!(v["method"], "Add");
    assert_eq!(v["sum"], 5);
    assert_eq!(v["released"], true);
    assert!(v["exporter"].as_str().unwrap().starts_with(&host));
    assert_eq!(d.gauge("msrpc_dcom_objects"), 0);

    let text = "héllo, wörld ∑";
    let v = msrpc(
        &d,
        "privacy",
        &["--json", "dcom", "call", &host, "echo", text],
    )
    .json();
    assert_eq!(v["reply"], text);

    let v = msrpc(
        &d,
        "integrity",
        &["--json", "dcom", "call", &host, "spawn", "100", "2", "3"],
    )
    .json();
    assert_eq!(v["method"], "Spawn");
    assert_eq!(v["sum"], 105);
    assert_ne!(v["child_ipid"], v["ipid"]);
    assert_eq!(v["released"], true);
    // The object and the child it spawned are both gone.
    assert_eq!(d.gauge("msrpc_dcom_objects"), 0);
    assert_eq!(d.gauge("msrpc_dcom_ipids"), 0);

    // Negative numbers, text output: the sum alone on its line.
    let r = msrpc(&d, "integrity", &["dcom", "call", &host, "add", "-7", "3"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.lines().any(|l| l == "-4"), "{}", r.stdout);

    // Below the minimum activation level: E_ACCESSDENIED, exit 3.
    let r = msrpc(&d, "connect", &["dcom", "call", &host, "add", "2", "3"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("0x80070005"), "{}", r.stderr);

    // Nothing listening: exit 2.
    let closed = std::net::TcpListener::bind((host.as_str(), 0)).unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let r = msrpc(
        &d,
        "integrity",
        &["dcom", "call", &format!("{host}:{port}"), "add", "1", "2"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn bench_add_and_activate_on_msrpcd() {
    let d = start("127.0.0.169");
    let host = d.epm.ip().to_string();
    for op in ["add", "echo:16", "activate"] {
        let v = msrpc(
            &d,
            "integrity",
            &[
                "--json",
                "dcom",
                "bench",
                &host,
                "--conns",
                "2",
                "--op",
                op,
                "--warmup",
                "0",
                "--duration",
                "30",
                "--max-calls",
                "50",
            ],
        )
        .json();
        assert_eq!(v["mode"], "orpc");
        assert_eq!(v["op"], op);
        assert_eq!(v["conns"], 2);
        assert_eq!(v["calls"], 50, "{v}");
        assert_eq!(v["errors"], 0, "{v}");
        assert_eq!(d.gauge("msrpc_dcom_objects"), 0, "after {op}");
    }
}
