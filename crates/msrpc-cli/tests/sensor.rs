//! The live sensor (`msrpc analyze --interface lo`) against a real msrpcd (`--demo` on
//! 127.0.0.141, an address no other test uses): `msrpc dump` (repeated: endpoint-map walks
//! that the technique library's `epm_full_walk` must report), `msrpc call` of rpcecho and mgmt
//! operations, then the sensor stopped by SIGINT. Its JSON events must be those `msrpc
//! analyze` finds offline in two captures of the same traffic: the pcap the sensor wrote
//! itself (`--write`: the very events, byte for byte) and one taken at the same time by
//! tshark's `dumpcap -i lo` (the same calls, interfaces, opnums and alerts).
//!
//! Capturing needs root (CAP_NET_RAW) and dumpcap: the test fails without them, unless
//! `MSRPC_SKIP_LIVE_CAPTURE=1` says to skip it (it then prints why). The built `msrpcd` must
//! sit next to `msrpc` (`cargo build -p msrpcd`; `cargo test --workspace` builds it).
#![cfg(feature = "live")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod daemon;
use daemon::{msrpc_bin, msrpcd_bin, Proc};

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const IP: &str = "127.0.0.141";

/// Whether the test can capture; panics (fails) when it cannot, unless skipping was asked.
fn can_capture() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    let dumpcap = Command::new("dumpcap").arg("-v").output().is_ok();
    if root && dumpcap {
        return true;
    }
    let why = if root {
        "dumpcap (tshark) is not installed"
    } else {
        "capturing on lo needs root"
    };
    if std::env::var_os("MSRPC_SKIP_LIVE_CAPTURE").is_some_and(|v| v == "1") {
        eprintln!("SKIPPED (MSRPC_SKIP_LIVE_CAPTURE=1): {why}");
        return false;
    }
    panic!("{why}; set MSRPC_SKIP_LIVE_CAPTURE=1 to skip this test explicitly");
}

fn signal(p: &Proc, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &p.0.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// Waits (bounded) until `path` exists and is not empty, or `f` holds.
fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_exit(p: &mut Proc, what: &str) -> std::process::ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(st) = p.0.try_wait().unwrap() {
            return st;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{what} did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn msrpc(args: &[&str]) -> String {
    let out = Command::new(msrpc_bin()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "msrpc {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Calls by (interface, opnum), bound interfaces, and alerts by detector.
type Digest = (
    BTreeMap<(String, u64), u32>,
    BTreeMap<String, u32>,
    Vec<String>,
);

fn digest(events: &[Value]) -> Digest {
    let (mut calls, mut ifaces, mut alerts) = (BTreeMap::new(), BTreeMap::new(), Vec::new());
    for e in events {
        match e["event"].as_str().unwrap() {
            "call" => {
                let k = (
                    e["interface"].as_str().unwrap_or("?").to_string(),
                    e["opnum"].as_u64().unwrap(),
                );
                *calls.entry(k).or_default() += 1;
            }
            "bind" => {
                for c in e["contexts"].as_array().unwrap() {
                    if c["result"] == "accepted" {
                        *ifaces
                            .entry(c["interface"].as_str().unwrap().to_string())
                            .or_default() += 1;
                    }
                }
            }
            "alert" => alerts.push(e["detector"].as_str().unwrap().to_string()),
            _ => {}
        }
    }
    alerts.sort();
    (calls, ifaces, alerts)
}

#[test]
fn live_sensor_events_equal_the_offline_analysis_of_the_same_traffic() {
    if !can_capture() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The detectors' settings, given to the sensor and the offline runs alike.
    let detectors = d.join("detectors.toml");
    std::fs::write(&detectors, "epm-window = 600\n").unwrap();
    let detectors = detectors.to_str().unwrap();

    let _daemon = Proc(
        Command::new(msrpcd_bin())
            .args(["--listen", IP, "--demo", "--registration-socket"])
            .arg(d.join("epm.sock"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("msrpcd on port 135", || {
        std::net::TcpStream::connect((IP, 135)).is_ok()
    });

    // dumpcap first, with the same filter; it says "File: ..." on stderr once capturing.
    let dump_pcap = d.join("dumpcap.pcapng");
    let mut dumpcap = Proc(
        Command::new("dumpcap")
            .args(["-q", "-i", "lo", "-f", &format!("host {IP}"), "-w"])
            .arg(&dump_pcap)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("dumpcap's file", || dump_pcap.exists());

    let own_pcap = d.join("sensor.pcap");
    let live_log = d.join("live.jsonl");
    let mut sensor = Proc(
        Command::new(msrpc_bin())
            .args(["--json", "analyze", "--interface", "lo", "--bpf"])
            .arg(format!("host {IP}"))
            .args(["--detectors-config", detectors, "--stats-interval", "0.5"])
            .args(["--metrics", &format!("{IP}:9141")])
            .arg("--write")
            .arg(&own_pcap)
            .stdout(std::fs::File::create(&live_log).unwrap())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Capturing once it said so, and its first sensor_stats is written.
    wait_for("the sensor's first sensor_stats", || {
        std::fs::read_to_string(&live_log).is_ok_and(|t| t.contains("sensor_stats"))
    });
    // Let dumpcap settle too (it has no readiness signal on a quiet link).
    std::thread::sleep(Duration::from_millis(500));

    for _ in 0..10 {
        msrpc(&["dump", IP]);
    }
    let binding = format!("ncacn_ip_tcp:{IP}");
    msrpc(&["call", &binding, "echo-add-one", "41"]);
    msrpc(&["call", &binding, "echo-data", "68656c6c6f2073656e736f72"]);
    msrpc(&["call", &binding, "mgmt-is-listening"]);
    msrpc(&["call", &binding, "mgmt-if-ids"]);
    // The kernel delivers ring blocks within 100 ms; give both captures time to see the end.
    std::thread::sleep(Duration::from_millis(800));

    // The sensor's metrics: the daemon's families and its own.
    let mut s = std::net::TcpStream::connect((IP, 9141)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut page = String::new();
    s.read_to_string(&mut page).unwrap();
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    let rpcecho_calls = "msrpc_calls_total{interface=\"rpcecho\",opnum=\"0\",fault=\"none\"} 1";
    for needle in [
        rpcecho_calls,
        "msrpc_alerts_total{detector=\"epm_full_walk\"} 1",
        "msrpc_sensor_dropped_packets_total{where=\"queue\"} 0",
        "msrpc_sensor_dropped_packets_total{where=\"kernel\"} 0",
        "msrpc_sensor_packets_total ",
    ] {
        assert!(page.contains(needle), "{needle} not in {page}");
    }

    signal(&sensor, "-INT");
    let st = wait_exit(&mut sensor, "the sensor");
    let mut err = String::new();
    std::io::Read::read_to_string(sensor.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(st.success(), "sensor exit {st}: {err}");
    signal(&dumpcap, "-TERM");
    wait_exit(&mut dumpcap, "dumpcap");

    let live_text = std::fs::read_to_string(&live_log).unwrap();
    let all_live = lines(&live_text);
    let (stats, live): (Vec<Value>, Vec<Value>) = all_live
        .into_iter()
        .partition(|e| e["event"] == "sensor_stats");
    let last = stats.last().expect("a final sensor_stats event");
    assert_eq!(last["end"], true, "{last}");
    assert_eq!(last["interface"], "lo");
    for k in ["pcap_dropped", "pcap_if_dropped", "queue_dropped"] {
        assert_eq!(last[k], 0, "{k} in {last}");
    }
    assert_eq!(last["packets_captured"], last["packets_analyzed"], "{last}");
    assert!(last["packets_captured"].as_u64().unwrap() > 100, "{last}");
    assert_eq!(
        last["flows"], 0,
        "every connection closed at the end: {last}"
    );

    // The sensor's own pcap: offline analysis gives the very same events.
    let offline_own = lines(&msrpc(&[
        "--json",
        "analyze",
        own_pcap.to_str().unwrap(),
        "--detectors-config",
        detectors,
    ]));
    assert_eq!(
        live, offline_own,
        "live events differ from the sensor's own pcap"
    );

    // dumpcap's capture: the same calls, interfaces, opnums and alerts.
    let offline_dumpcap = lines(&msrpc(&[
        "--json",
        "analyze",
        dump_pcap.to_str().unwrap(),
        "--detectors-config",
        detectors,
    ]));
    let (calls, ifaces, alerts) = digest(&live);
    assert_eq!(
        (&calls, &ifaces, &alerts),
        (
            &digest(&offline_dumpcap).0,
            &digest(&offline_dumpcap).1,
            &digest(&offline_dumpcap).2
        ),
        "live events differ from dumpcap's capture"
    );
    // What the traffic was: 10 lookups, an ept_map per rpcecho call (to find its port), the
    // four operations; the walks of the whole map raised the technique library's
    // epm_full_walk (endpoint-map enumeration, T1046) live and offline.
    let epm = "e1af8308-5d1f-11c9-91a4-08002b14a0fa".to_string();
    let echo = "60a15ec5-4de8-11d7-a637-005056a20182".to_string();
    assert_eq!(calls.get(&(epm.clone(), 2)), Some(&10), "{calls:?}");
    assert_eq!(calls.get(&(epm.clone(), 3)), Some(&2), "{calls:?}");
    assert_eq!(calls.get(&(echo.clone(), 0)), Some(&1), "{calls:?}");
    assert_eq!(calls.get(&(echo, 1)), Some(&1), "{calls:?}");
    assert!(alerts.iter().any(|a| a == "epm_full_walk"), "{alerts:?}");
}

#[test]
fn a_quiet_link_stops_on_time_with_its_counters_and_a_bad_filter_is_refused() {
    if !can_capture() {
        return;
    }
    // Nothing matches this filter on lo: the sensor must still stop at --duration (a blocking
    // libpcap read would wait for a packet forever) and print its counters in the summary.
    let t0 = Instant::now();
    let out = Command::new(msrpc_bin())
        .args([
            "analyze",
            "--interface",
            "lo",
            "--bpf",
            "host 127.0.0.143 and tcp port 1",
        ])
        .args(["--duration", "1"])
        .output()
        .unwrap();
    let elapsed = t0.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert!(
        text.contains(
            "sensor on lo: 0 packets captured (0 bytes), 0 analysed; dropped: 0 by the kernel"
        ),
        "{text}"
    );

    let out = Command::new(msrpc_bin())
        .args(["analyze", "--interface", "lo", "--bpf", "tcp port nonsense"])
        .args(["--duration", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("BPF filter"), "{err}");

    let out = Command::new(msrpc_bin())
        .args(["analyze", "--interface", "no-such-if0", "--duration", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// A connectionless request datagram (little-endian header, C706 12.5.3.1): `iface` as the
/// interface UUID's little-endian bytes, the activity's last byte `act`.
fn cl_request(iface: [u8; 16], opnum: u16, act: u8, stub: &[u8]) -> Vec<u8> {
    let mut d = vec![4, 0, 0x20, 0, 0x10, 0, 0, 0];
    d.extend([0; 16]); // object
    d.extend(iface);
    let mut a = [0x11; 16];
    a[15] = act;
    d.extend(a); // activity
    d.extend(0u32.to_le_bytes()); // server boot
    d.extend(1u32.to_le_bytes()); // interface version 1.0
    d.extend(0u32.to_le_bytes()); // seqnum
    d.extend(opnum.to_le_bytes());
    d.extend([0xff, 0xff, 0xff, 0xff]); // ihint, ahint
    d.extend((stub.len() as u16).to_le_bytes());
    d.extend([0, 0, 0, 0]); // fragnum, auth_proto, serial_lo
    d.extend_from_slice(stub);
    d
}

/// The live sensor sees connectionless DCE/RPC with its default filter (here narrowed to
/// 127.0.8.30, this test's sender): Messenger `NetrSendMessage` requests sent over UDP
/// from 127.0.8.30 to port 135 of five addresses (nobody answers), and a request to port
/// 4000, which only the filter's header test lets through. The calls (`transport` =
/// `ncadg_ip_udp`) and the Messenger rules' alerts are those the offline analysis of the
/// sensor's own pcap finds.
#[test]
fn live_sensor_sees_connectionless_calls_as_the_offline_analysis_does() {
    if !can_capture() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let own_pcap = dir.path().join("sensor-cl.pcap");
    let live_log = dir.path().join("live-cl.jsonl");
    let filter = format!(
        "host 127.0.8.30 and ({})",
        msrpc_analyze::live::DEFAULT_FILTER
    );
    let mut sensor = Proc(
        Command::new(msrpc_bin())
            .args(["--json", "analyze", "--interface", "lo", "--bpf", &filter])
            .args(["--stats-interval", "0.5", "--write"])
            .arg(&own_pcap)
            .stdout(std::fs::File::create(&live_log).unwrap())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    wait_for("the sensor's first sensor_stats", || {
        std::fs::read_to_string(&live_log).is_ok_and(|t| t.contains("sensor_stats"))
    });
    // msgsvcsend 5a7b91f8-ff00-11d0-a9b2-00c04fb6e6fc, little-endian.
    let msgsvcsend = [
        0xf8, 0x91, 0x7b, 0x5a, 0x00, 0xff, 0xd0, 0x11, 0xa9, 0xb2, 0x00, 0xc0, 0x4f, 0xb6, 0xe6,
        0xfc,
    ];
    let sock = std::net::UdpSocket::bind("127.0.8.30:0").unwrap();
    for i in 0..5u8 {
        let d = cl_request(msgsvcsend, 0, i, &[0; 48]);
        sock.send_to(&d, (format!("127.0.8.{}", 31 + i).as_str(), 135))
            .unwrap();
    }
    sock.send_to(&cl_request(msgsvcsend, 0, 9, &[0; 8]), "127.0.8.36:4000")
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    signal(&sensor, "-INT");
    let st = wait_exit(&mut sensor, "the sensor");
    assert!(st.success(), "sensor exit {st}");

    let live: Vec<Value> = lines(&std::fs::read_to_string(&live_log).unwrap())
        .into_iter()
        .filter(|e| e["event"] != "sensor_stats")
        .collect();
    let offline = lines(&msrpc(&["--json", "analyze", own_pcap.to_str().unwrap()]));
    assert_eq!(
        live, offline,
        "live events differ from the sensor's own pcap"
    );
    let calls: Vec<&Value> = live.iter().filter(|e| e["event"] == "call").collect();
    assert_eq!(calls.len(), 6, "{live:?}");
    for c in &calls {
        assert_eq!(c["transport"], "ncadg_ip_udp", "{c}");
        assert_eq!(c["operation"], "NetrSendMessage", "{c}");
        assert_eq!(c["fault"], "no_response", "{c}");
    }
    let (_, _, alerts) = digest(&live);
    assert!(
        alerts.iter().any(|a| a == "messenger_netsend_spam"),
        "{alerts:?}"
    );
}

/// The live sensor with its default filter (narrowed to 127.0.8.40) against a real msrpcd
/// serving the endpoint mapper and rpcecho over UDP (`--listen-udp`): `msrpc dump` and
/// `msrpc call` over `ncadg_ip_udp` make connectionless calls whose answers the server only
/// sends once the client has answered its conversation callback. The sensor's events are the
/// offline analysis of its own pcap and of dumpcap's capture of the same datagrams: the
/// lookups, the callbacks (answered), the `epm_lookup` events and the walk alert.
#[test]
fn live_sensor_decodes_a_real_connectionless_exchange_with_msrpcd() {
    if !can_capture() {
        return;
    }
    const UIP: &str = "127.0.8.40";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let _daemon = Proc(
        Command::new(msrpcd_bin())
            .args([
                "--listen",
                UIP,
                "--listen-udp",
                UIP,
                "--demo",
                "--registration-socket",
            ])
            .arg(d.join("epm-udp.sock"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("msrpcd on port 135", || {
        std::net::TcpStream::connect((UIP, 135)).is_ok()
    });
    let filter = format!("host {UIP} and ({})", msrpc_analyze::live::DEFAULT_FILTER);
    let dump_pcap = d.join("dumpcap-cl.pcapng");
    let mut dumpcap = Proc(
        Command::new("dumpcap")
            .args(["-q", "-i", "lo", "-f", &format!("host {UIP}"), "-w"])
            .arg(&dump_pcap)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("dumpcap's file", || dump_pcap.exists());
    let own_pcap = d.join("sensor-udp.pcap");
    let live_log = d.join("live-udp.jsonl");
    let mut sensor = Proc(
        Command::new(msrpc_bin())
            .args(["--json", "analyze", "--interface", "lo", "--bpf", &filter])
            .args(["--stats-interval", "0.5", "--write"])
            .arg(&own_pcap)
            .stdout(std::fs::File::create(&live_log).unwrap())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    wait_for("the sensor's first sensor_stats", || {
        std::fs::read_to_string(&live_log).is_ok_and(|t| t.contains("sensor_stats"))
    });
    std::thread::sleep(Duration::from_millis(500));
    let binding = format!("ncadg_ip_udp:{UIP}[135]");
    let dump = msrpc(&["dump", &binding]);
    assert!(
        dump.contains("60a15ec5-4de8-11d7-a637-005056a20182"),
        "{dump}"
    );
    msrpc(&["call", &format!("ncadg_ip_udp:{UIP}"), "echo-add-one", "41"]);
    std::thread::sleep(Duration::from_millis(800));
    signal(&sensor, "-INT");
    let st = wait_exit(&mut sensor, "the sensor");
    assert!(st.success(), "sensor exit {st}");
    signal(&dumpcap, "-TERM");
    wait_exit(&mut dumpcap, "dumpcap");

    let live: Vec<Value> = lines(&std::fs::read_to_string(&live_log).unwrap())
        .into_iter()
        .filter(|e| e["event"] != "sensor_stats")
        .collect();
    let offline_own = lines(&msrpc(&["--json", "analyze", own_pcap.to_str().unwrap()]));
    assert_eq!(
        live, offline_own,
        "live events differ from the sensor's own pcap"
    );
    let offline_dumpcap = lines(&msrpc(&["--json", "analyze", dump_pcap.to_str().unwrap()]));
    let (calls, _, alerts) = digest(&live);
    assert_eq!(
        (&calls, &alerts),
        (&digest(&offline_dumpcap).0, &digest(&offline_dumpcap).2),
        "live events differ from dumpcap's capture"
    );
    let udp_calls: Vec<&Value> = live
        .iter()
        .filter(|e| e["event"] == "call" && e["transport"] == "ncadg_ip_udp")
        .collect();
    let epm = "e1af8308-5d1f-11c9-91a4-08002b14a0fa";
    let conv = "333a2276-0000-0000-0d00-00809c000000";
    let echo = "60a15ec5-4de8-11d7-a637-005056a20182";
    assert!(
        udp_calls
            .iter()
            .any(|c| c["interface"] == epm && c["opnum"] == 2),
        "{udp_calls:?}"
    );
    assert!(
        udp_calls
            .iter()
            .any(|c| c["interface"] == echo && c["opnum"] == 0),
        "{udp_calls:?}"
    );
    // Every call was answered, the server's callbacks included.
    assert!(
        udp_calls.iter().all(|c| c["fault"].is_null()),
        "{udp_calls:?}"
    );
    let callbacks: Vec<&&Value> = udp_calls
        .iter()
        .filter(|c| c["interface"] == conv)
        .collect();
    assert!(!callbacks.is_empty(), "{udp_calls:?}");
    assert!(callbacks.iter().all(|c| c["id.orig_h"] == UIP));
    assert!(live.iter().any(|e| e["event"] == "epm_lookup"), "{live:?}");
    assert!(alerts.iter().any(|a| a == "epm_full_walk"), "{alerts:?}");
    assert!(
        !alerts.iter().any(|a| a.starts_with("cl_")),
        "ordinary use raises no reflection alert: {alerts:?}"
    );
}
