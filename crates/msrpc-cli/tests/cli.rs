//! The `msrpc` binary against an in-process msrpc_rt server: dump (with paging), map (mgmt and
//! bind probes), every call operation, bench and bench-raw, the exit codes, and the `bigendian`
//! binding option.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use common::{extra_interface, msrpc, start, start_with, Config};
use msrpc_echo::{EchoService, RpcechoServer};
use msrpc_ndr::DataRep;
use msrpc_proto::server::ServerEvent;
use msrpc_rt::{ConnEvent, TokioSleeper};
use serde_json::Value;

const EPM: &str = "e1af8308-5d1f-11c9-91a4-08002b14a0fa";
const ECHO: &str = "60a15ec5-4de8-11d7-a637-005056a20182";
const MGMT: &str = "afa8bd80-7d8a-11c9-bef4-08002b102989";

#[test]
fn dump_pages_through_every_entry_text_and_json() {
    let s = start(Config {
        extra: 1200,
        ..Config::default()
    });
    let target = format!("127.0.0.1:{}", s.port());
    // JSON: every registration, once.
    let r = msrpc(&["dump", &target, "--json"]).expect_code(0);
    let doc = r.json();
    assert_eq!(doc["complete"], Value::Bool(true));
    assert_eq!(doc["count"].as_u64().unwrap() as usize, s.registered);
    // 1205 entries at 500 per call: at least three calls.
    assert!(doc["batches"].as_u64().unwrap() >= 3, "{}", doc["batches"]);
    let entries = doc["entries"].as_array().unwrap();
    let mut seen = HashSet::new();
    for e in entries {
        let key = format!(
            "{}|{}|{}",
            e["interface"]["uuid"], e["binding"], e["object"]
        );
        assert!(seen.insert(key.clone()), "duplicate entry {key}");
    }
    for i in 0..1200 {
        let want = extra_interface(i).uuid.to_string();
        assert!(
            entries
                .iter()
                .any(|e| e["interface"]["uuid"] == Value::String(want.clone())),
            "extra {i} ({want}) missing"
        );
    }
    let epm: Vec<&Value> = entries
        .iter()
        .filter(|e| e["interface"]["uuid"] == EPM)
        .collect();
    assert_eq!(epm.len(), 2);
    assert_eq!(epm[0]["interface"]["name"], "epmapper");
    let bindings: HashSet<&str> = epm.iter().map(|e| e["binding"].as_str().unwrap()).collect();
    assert!(bindings.contains(format!("ncacn_ip_tcp:127.0.0.1[{}]", s.port()).as_str()));
    assert!(bindings.contains("ncacn_np:\\\\TESTHOST[\\PIPE\\epmapper]"));
    let mgmt = entries
        .iter()
        .find(|e| e["interface"]["uuid"] == MGMT)
        .unwrap();
    assert_eq!(mgmt["object"], "00000000-0000-0000-0000-000000abcdef");

    // Text: grouped by interface, every binding listed.
    let r = msrpc(&["dump", &target]).expect_code(0);
    let out = &r.stdout;
    assert!(out.contains(&format!("UUID      : {EPM} v3.0")), "{out}");
    assert!(out.contains("Name      : epmapper"));
    assert!(out.contains("Protocol  : DCE/RPC endpoint mapper"));
    assert!(out.contains("Annotation: Endpoint mapper"));
    assert!(out.contains("ncacn_np:\\\\TESTHOST[\\PIPE\\rpcecho]"));
    assert!(out.contains(&format!("ncacn_ip_tcp:127.0.0.1[{}]", s.port())));
    assert!(out.contains("(object 00000000-0000-0000-0000-000000abcdef)"));
    for i in [0, 599, 1199] {
        assert!(
            out.contains(&extra_interface(i).uuid.to_string()),
            "extra {i}"
        );
    }
    assert!(out.contains(&format!(
        "{} endpoints, {} interfaces",
        s.registered,
        1200 + 3
    )));
    // The same through a string binding and --epm-port.
    let r = msrpc(&[
        "dump",
        "ncacn_ip_tcp:127.0.0.1",
        "--epm-port",
        &s.port(),
        "--json",
    ])
    .expect_code(0);
    assert_eq!(r.json()["count"].as_u64().unwrap() as usize, s.registered);
    // --max-entries stops the walk early (and frees the handle): exit 0, incomplete.
    let r = msrpc(&["dump", &target, "--json", "--max-entries", "600"]).expect_code(0);
    let doc = r.json();
    assert_eq!(doc["complete"], Value::Bool(false));
    assert_eq!(doc["count"], 600);
}

#[test]
fn dump_of_an_empty_map_finds_nothing() {
    let s = start(Config {
        register: false,
        ..Config::default()
    });
    let r = msrpc(&["dump", &format!("127.0.0.1:{}", s.port())]).expect_code(4);
    assert!(r.stderr.contains("no endpoints registered"), "{}", r.stderr);
    let r = msrpc(&["--json", "dump", &format!("127.0.0.1:{}", s.port())]).expect_code(4);
    assert_eq!(r.json()["error"]["exit_code"], 4);
}

fn names(doc: &Value) -> HashSet<String> {
    doc["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{} {}",
                i["uuid"].as_str().unwrap(),
                i["version"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn map_via_mgmt_and_by_bind_probes() {
    let s = start(Config::default());
    let want: HashSet<String> = [
        format!("{EPM} 3.0"),
        format!("{ECHO} 1.0"),
        format!("{MGMT} 1.0"),
    ]
    .into_iter()
    .collect();
    let r = msrpc(&["map", &s.binding(), "--json"]).expect_code(0);
    let doc = r.json();
    assert_eq!(doc["method"], "mgmt");
    assert_eq!(names(&doc), want);
    let r = msrpc(&["map", &s.binding()]).expect_code(0);
    assert!(r.stdout.contains("(mgmt inq_if_ids)"));
    assert!(r.stdout.contains("rpcecho"));

    let r = msrpc(&["map", &s.binding(), "--brute", "--json"]).expect_code(0);
    let doc = r.json();
    assert_eq!(doc["method"], "bind-probe");
    assert!(doc["probed"].as_u64().unwrap() >= 80);
    assert_eq!(names(&doc), want);
    let r = msrpc(&["map", &s.binding(), "--brute"]).expect_code(0);
    assert!(r.stdout.contains("bind probes: 3 of"), "{}", r.stdout);
}

#[test]
fn map_falls_back_to_probes_without_mgmt() {
    let s = start(Config {
        mgmt: false,
        ..Config::default()
    });
    let r = msrpc(&["map", &s.binding(), "--json"]).expect_code(0);
    let doc = r.json();
    assert_eq!(doc["method"], "bind-probe");
    assert!(
        doc["mgmt_error"].as_str().unwrap().contains("not bound"),
        "{doc}"
    );
    let want: HashSet<String> = [format!("{EPM} 3.0"), format!("{ECHO} 1.0")]
        .into_iter()
        .collect();
    assert_eq!(names(&doc), want);
    // mgmt itself is refused: exit 3.
    let r = msrpc(&["call", &s.binding(), "mgmt-if-ids"]).expect_code(3);
    assert!(r.stderr.contains("not bound"), "{}", r.stderr);
}

fn call_json(binding: &str, op: &[&str]) -> Value {
    let mut args = vec!["--json", "call", binding];
    args.extend_from_slice(op);
    msrpc(&args).expect_code(0).json()
}

fn call_text(binding: &str, op: &[&str]) -> String {
    let mut args = vec!["call", binding];
    args.extend_from_slice(op);
    msrpc(&args).expect_code(0).stdout
}

#[test]
fn every_call_operation() {
    let s = start(Config::default());
    let b = s.binding();
    let b = b.as_str();

    assert_eq!(call_json(b, &["echo-add-one", "41"])["out"], 42);
    assert_eq!(call_text(b, &["echo-add-one", "41"]).trim(), "42");

    let d = call_json(b, &["echo-data", "00ff10"]);
    assert_eq!(
        (d["identical"].clone(), d["out_hex"].clone()),
        (Value::Bool(true), "00ff10".into())
    );
    let d = call_json(b, &["echo-data", "--len", "5000"]);
    assert_eq!(d["received"], 5000);
    assert_eq!(d["identical"], true);
    assert!(call_text(b, &["echo-data", "--len", "3"]).contains("identical: yes\n000102"));

    assert_eq!(
        call_json(b, &["echo-sink", "--len", "70000"])["sent"],
        70000
    );
    let d = call_json(b, &["echo-source", "300"]);
    assert_eq!(
        (d["received"].clone(), d["pattern_ok"].clone()),
        (300.into(), true.into())
    );

    assert_eq!(
        call_json(b, &["echo-call", "héllo wörld"])["out"],
        "héllo wörld"
    );
    assert_eq!(call_text(b, &["echo-call", "abc"]).trim(), "abc");

    let d = call_json(b, &["echo-call2", "5"]);
    assert_eq!(d["info"], "Info5(EchoInfo5 { v1: 50, v2: 60 })");
    assert_eq!(d["result"], "0x00000000");

    let d = call_json(b, &["echo-sleep", "1"]);
    assert_eq!(d["result"], 1);
    assert!(d["elapsed_s"].as_f64().unwrap() >= 0.9);

    assert_eq!(call_json(b, &["echo-enum"])["as_samba"], true);

    let d = call_json(b, &["echo-surrounding", "7"]);
    assert_eq!(
        (d["out_x"].clone(), d["out_len"].clone()),
        (14.into(), 14.into())
    );

    assert_eq!(call_json(b, &["echo-double-pointer", "513"])["out"], 513);
    assert_eq!(call_json(b, &["echo-double-pointer", "null"])["out"], 0);
    assert_eq!(
        call_json(b, &["echo-double-pointer", "inner-null"])["out"],
        0
    );

    assert_eq!(call_json(b, &["mgmt-is-listening"])["listening"], true);
    assert_eq!(
        call_text(b, &["mgmt-is-listening"]).trim(),
        "listening: yes"
    );
    let d = call_json(b, &["mgmt-if-ids"]);
    assert_eq!(d["interfaces"].as_array().unwrap().len(), 3);
    assert!(call_text(b, &["mgmt-if-ids"]).contains(&format!("{ECHO} v1.0  rpcecho")));
    let d = call_json(b, &["mgmt-stats"]);
    assert_eq!(d["count"], 4);
    assert!(d["statistics"]["calls_in"].as_u64().is_some());
    // No principal name is configured: the server's status is an error (exit 3).
    let r = msrpc(&["call", b, "mgmt-princ-name"]).expect_code(3);
    assert!(
        r.stderr.contains("RPC_S_UNKNOWN_AUTHN_SERVICE"),
        "{}",
        r.stderr
    );

    let d = call_json(b, &["ept-map", ECHO]);
    assert_eq!(
        d["towers"],
        serde_json::json!([format!("ncacn_ip_tcp:127.0.0.1[{}]", s.port())])
    );
    assert_eq!(d["interface"]["name"], "rpcecho");
    let t = call_text(b, &["ept-map", "epmapper"]);
    assert_eq!(t.trim(), format!("ncacn_ip_tcp:127.0.0.1[{}]", s.port()));

    // Without a port: echo operations are resolved through the endpoint mapper.
    let d = call_json(
        "ncacn_ip_tcp:127.0.0.1",
        &["echo-add-one", "1", "--epm-port", &s.port()],
    );
    assert_eq!(d["out"], 2);
    let d = call_json("127.0.0.1", &["mgmt-is-listening", "--epm-port", &s.port()]);
    assert_eq!(d["listening"], true);
}

/// `ncacn_ip_tcp:HOST[PORT,bigendian]` (Samba's binding option) makes `msrpc call` send
/// big-endian requests; the server answers in the same byte order.
#[test]
fn the_bigendian_binding_option() {
    let seen: Arc<Mutex<Vec<DataRep>>> = Arc::default();
    let s2 = seen.clone();
    let s = start_with(move |b| {
        b.service(RpcechoServer::new(EchoService::new(TokioSleeper)))
            .observer(Arc::new(move |ev: &ConnEvent<'_>| {
                if let ConnEvent::Event {
                    event: ServerEvent::Call(c),
                    ..
                } = ev
                {
                    s2.lock().unwrap().push(c.drep);
                }
            }))
    });
    let port = s.port();
    for (binding, want) in [
        (
            format!("ncacn_ip_tcp:127.0.0.1[{port}]"),
            DataRep::LITTLE_ENDIAN,
        ),
        (
            format!("ncacn_ip_tcp:127.0.0.1[{port},bigendian]"),
            DataRep::BIG_ENDIAN,
        ),
    ] {
        seen.lock().unwrap().clear();
        assert_eq!(call_json(&binding, &["echo-add-one", "41"])["out"], 42);
        assert_eq!(call_json(&binding, &["echo-call", "héllo"])["out"], "héllo");
        let d = call_json(&binding, &["echo-data", "--len", "7000"]);
        assert_eq!(d["identical"], true);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen, vec![want; 3], "{binding}");
    }
}

#[test]
fn exit_codes() {
    let s = start(Config::default());
    let b = s.binding();
    // 0 for --help, 1 for usage errors.
    let r = msrpc(&["--help"]).expect_code(0);
    assert!(r.stdout.contains("Exit codes"));
    msrpc(&["call", &b, "no-such-op"]).expect_code(1);
    msrpc(&[]).expect_code(1);
    msrpc(&["call", "ncacn_np:host[\\pipe\\x]", "mgmt-is-listening"]).expect_code(1);
    msrpc(&["call", &b, "ept-map", "not-a-uuid"]).expect_code(1);
    msrpc(&["call", &b, "echo-double-pointer", "x"]).expect_code(1);
    // 2: nothing listens on port 1; a name that does not resolve.
    let r = msrpc(&["call", "ncacn_ip_tcp:127.0.0.1[1]", "mgmt-is-listening"]).expect_code(2);
    assert!(r.stderr.contains("127.0.0.1"), "{}", r.stderr);
    msrpc(&["--timeout", "5", "dump", "no-such-host.invalid"]).expect_code(2);
    let r = msrpc(&["--json", "dump", "127.0.0.1:1"]).expect_code(2);
    assert_eq!(r.json()["error"]["kind"], "connect");
    // The endpoint mapper knows no endpoint of the interface to connect to: 2.
    let empty = start(Config {
        register: false,
        ..Config::default()
    });
    msrpc(&[
        "call",
        "127.0.0.1",
        "echo-add-one",
        "1",
        "--epm-port",
        &empty.port(),
    ])
    .expect_code(2);
    // 3: a fault, with its name.
    let r = msrpc(&["call", &b, "echo-call2", "9"]).expect_code(3);
    assert!(r.stderr.contains("nca_s_fault_invalid_tag"), "{}", r.stderr);
    let r = msrpc(&["--json", "call", &b, "echo-source", "5000000"]).expect_code(3);
    let doc = r.json();
    assert_eq!(doc["error"]["kind"], "refused");
    assert!(doc["error"]["message"].as_str().unwrap().contains("fault"));
    // 4: ept_map of an interface nobody registered.
    let r = msrpc(&[
        "call",
        &b,
        "ept-map",
        "01234567-89ab-cdef-0123-456789abcdef/1.0",
    ])
    .expect_code(4);
    assert!(r.stderr.contains("ept_s_not_registered"), "{}", r.stderr);
}

#[test]
fn bench_produces_a_report() {
    let s = start(Config::default());
    for op in [
        "mgmt-is-listening",
        "echo-add-one",
        "echo-data:64",
        "ept-map",
        "ept-lookup",
    ] {
        let r = msrpc(&[
            "bench",
            &s.binding(),
            "--json",
            "--conns",
            "2",
            "--duration",
            "0.5",
            "--warmup",
            "0.1",
            "--op",
            op,
            "--max-calls",
            "2000",
        ])
        .expect_code(0);
        let doc = r.json();
        assert_eq!(doc["op"], op);
        assert_eq!(doc["conns"], 2);
        assert!(doc["calls"].as_u64().unwrap() > 0, "{doc}");
        assert!(doc["calls"].as_u64().unwrap() <= 2000, "{doc}");
        assert_eq!(doc["errors"], 0, "{doc}");
        assert!(doc["calls_per_sec"].as_f64().unwrap() > 0.0);
        assert!(doc["latency_us"]["p99"].as_f64().unwrap() > 0.0);
    }
    let r = msrpc(&["bench", &s.binding(), "--duration", "1", "--warmup", "0"]).expect_code(0);
    assert!(r.stdout.contains("calls/s"), "{}", r.stdout);
    assert!(
        r.stdout.contains("24 bytes out, 32 bytes back"),
        "{}",
        r.stdout
    );
    // Echo through the endpoint mapper.
    let r = msrpc(&[
        "bench",
        "127.0.0.1",
        "--epm-port",
        &s.port(),
        "--op",
        "echo-add-one",
        "--duration",
        "0.3",
        "--warmup",
        "0",
        "--json",
    ])
    .expect_code(0);
    assert!(r.json()["calls"].as_u64().unwrap() > 0);
    msrpc(&["bench", &s.binding(), "--conns", "0"]).expect_code(1);
    msrpc(&["bench", &s.binding(), "--op", "nope"]).expect_code(1);
}

#[test]
fn bench_raw_serve_and_run() {
    let mut child = Command::new(common::bin())
        .args([
            "--json",
            "bench-raw",
            "serve",
            "127.0.0.1:0",
            "--duration",
            "60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let listening: Value = serde_json::from_str(&first).unwrap();
    let addr = listening["listening"].as_str().unwrap().to_string();
    let r = msrpc(&[
        "bench-raw",
        "run",
        &addr,
        "--conns",
        "2",
        "--duration",
        "1",
        "--warmup",
        "0.1",
        "--request-size",
        "24",
        "--response-size",
        "32",
        "--json",
    ]);
    let r2 = msrpc(&[
        "bench-raw",
        "run",
        &addr,
        "--duration",
        "0.3",
        "--request-size",
        "5000",
        "--response-size",
        "70000",
    ]);
    let _ = child.kill();
    let _ = child.wait();
    let doc = r.expect_code(0).json();
    assert_eq!(doc["mode"], "raw-tcp");
    assert_eq!(
        (doc["request_bytes"].clone(), doc["response_bytes"].clone()),
        (24.into(), 32.into())
    );
    assert!(doc["calls"].as_u64().unwrap() > 0, "{doc}");
    assert_eq!(doc["errors"], 0);
    let out = r2.expect_code(0).stdout;
    assert!(out.contains("5000 bytes out, 70000 bytes back"), "{out}");
    msrpc(&["bench-raw", "run", "127.0.0.1:1", "--duration", "1"]).expect_code(2);
    msrpc(&["bench-raw", "run", &addr, "--request-size", "3"]).expect_code(1);
}
