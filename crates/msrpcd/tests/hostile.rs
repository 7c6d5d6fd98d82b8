//! The hostile-input corpus (`tests/hostile/*.toml`, described in `tests/hostile/README.md`)
//! against one live `msrpcd --demo --audit-log` on 127.0.0.150.
//!
//! Each case is a sequence of steps, each on a numbered TCP connection: PDUs to send (built
//! from a small description, with any header field overridable, or raw hex; bulky sequences
//! come from generators: `repeat`, `split`, `fill`, `context_count`), the answers expected in
//! order (`bind_ack`, `fault:<status>`, `bind_nak:<reason>`, `response[:<hex suffix>]`, ...)
//! and what the connection does next (`close`, `open`, `any`). After each case the runner
//! checks that the audit log has the events the case names for its connections, that a normal
//! rpcecho call and an endpoint-map listing still work on new connections, and it samples the
//! daemon's resident memory. At the end: the daemon is still running, it never panicked, and
//! its peak RSS stayed under [`RSS_BOUND_KIB`].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use msrpc_echo::{AddOneRequest, RpcechoClient};
use msrpc_proto::pdu::{Body, Pdu, PfcFlags};
use serde::Deserialize;
use serde_json::Value;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

/// Peak resident set size msrpcd may reach over the whole corpus. Its configured limits
/// (4 MiB of reassembly per connection, 64 contexts, 64 outstanding calls) and one connection
/// at a time keep it far below; a leak or an allocation trusted from the peer would not.
const RSS_BOUND_KIB: u64 = 64 * 1024;

/// How long an expected answer may take (generous: the daemon is a debug build on a shared
/// machine).
const ANSWER_WAIT: Duration = Duration::from_secs(15);

/// How long a connection expected to stay open must stay quiet and open.
const OPEN_QUIET: Duration = Duration::from_millis(250);

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Case {
    /// What the case sends and why the answer is the spec's.
    summary: String,
    /// Which item of issue 6 (or which addition) it covers.
    #[serde(default)]
    covers: Option<String>,
    /// `epm` (default) or `echo`: the listener of connection 0..n.
    #[serde(default)]
    target: Option<String>,
    step: Vec<Step>,
    #[serde(default)]
    audit: Vec<BTreeMap<String, toml::Value>>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Step {
    /// Connection number (opened on first use).
    #[serde(default)]
    conn: usize,
    #[serde(default)]
    pdu: Vec<PduSpec>,
    /// Shut our sending side down after the PDUs.
    #[serde(default)]
    half_close: bool,
    /// Answers expected, in order.
    #[serde(default)]
    expect: Vec<String>,
    /// The answers may come in any order (concurrent calls).
    #[serde(default)]
    unordered: bool,
    /// `close`, `open` or `any` (default `open` when no answer closes; see the README).
    then: String,
}

#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct PduSpec {
    kind: String,
    call_id: Option<u32>,
    flags: Option<u8>,
    drep: Option<String>,
    rpc_vers: Option<u8>,
    rpc_vers_minor: Option<u8>,
    ptype: Option<u8>,
    frag_length: Option<u16>,
    auth_length: Option<u16>,
    // bind / alter_context
    max_xmit: Option<u16>,
    max_recv: Option<u16>,
    assoc_group: Option<u32>,
    #[serde(default)]
    contexts: Vec<Ctx>,
    context_count: Option<u32>,
    context_base: Option<u16>,
    ts_count: Option<u32>,
    n_contexts: Option<u8>,
    // request
    context_id: Option<u16>,
    opnum: Option<u16>,
    alloc_hint: Option<u32>,
    object: Option<String>,
    stub: Option<String>,
    fill: Option<usize>,
    split: Option<usize>,
    // fault from the client
    status: Option<u32>,
    // security trailer
    auth: Option<Auth>,
    // raw and post-processing
    hex: Option<String>,
    append: Option<String>,
    truncate: Option<usize>,
    // generators
    repeat: Option<u32>,
    #[serde(default)]
    step_call_id: bool,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Ctx {
    id: u16,
    iface: String,
    #[serde(default)]
    ts: Vec<String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Auth {
    #[serde(rename = "type")]
    auth_type: u8,
    level: u8,
    #[serde(default)]
    pad: u8,
    #[serde(default)]
    context: u32,
    #[serde(default)]
    value: Option<String>,
}

fn uuid_of(name: &str) -> u128 {
    match name {
        "epm" => 0xe1af8308_5d1f_11c9_91a4_08002b14a0fa,
        "mgmt" => 0xafa8bd80_7d8a_11c9_bef4_08002b102989,
        "echo" => 0x60a15ec5_4de8_11d7_a637_005056a20182,
        "ndr20" => 0x8a885d04_1ceb_11c9_9fe8_08002b104860,
        "ndr64" => 0x71710533_beba_4937_8319_b5dbef9ccc36,
        "btfn" => 0x6cb71c2c_9812_4540_0300_000000000000,
        s => msrpc_ndr::Uuid::parse_str(s)
            .unwrap_or_else(|e| panic!("bad uuid {s}: {e:?}"))
            .as_u128(),
    }
}

/// The interface version a context offers for a name.
fn version_of(name: &str) -> u32 {
    match name {
        "epm" => 3,
        "mgmt" => 1,
        "echo" => 1,
        "ndr20" => 2,
        "ndr64" => 1,
        "btfn" => 1,
        _ => 1,
    }
}

/// A little encoder for hostile PDUs: every field settable, nothing validated.
struct Enc {
    le: bool,
    b: Vec<u8>,
}

impl Enc {
    fn u8(&mut self, v: u8) {
        self.b.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.b.extend_from_slice(&if self.le {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        });
    }
    fn u32(&mut self, v: u32) {
        self.b.extend_from_slice(&if self.le {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        });
    }
    fn uuid(&mut self, u: u128) {
        let b = u.to_be_bytes();
        self.u32(u32::from_be_bytes(b[0..4].try_into().unwrap()));
        self.u16(u16::from_be_bytes(b[4..6].try_into().unwrap()));
        self.u16(u16::from_be_bytes(b[6..8].try_into().unwrap()));
        self.b.extend_from_slice(&b[8..]);
    }
    fn syntax(&mut self, name: &str) {
        let (n, v) = match name.split_once(" v") {
            Some((n, v)) => (n, v.parse().unwrap()),
            None => (name, version_of(name)),
        };
        self.uuid(uuid_of(n));
        self.u32(v);
    }
}

/// Hex with whitespace, and `handle:N` tokens (the 20-byte context handle at the start of
/// connection N's last response stub).
fn parse_hex(s: &str, handles: &HashMap<usize, Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        if let Some(n) = tok.strip_prefix("handle:") {
            let n: usize = n.parse().unwrap();
            let h = handles
                .get(&n)
                .unwrap_or_else(|| panic!("no response captured on connection {n}"));
            out.extend_from_slice(&h[..20.min(h.len())]);
            continue;
        }
        assert!(tok.len() % 2 == 0, "odd hex token {tok}");
        for i in (0..tok.len()).step_by(2) {
            out.push(u8::from_str_radix(&tok[i..i + 2], 16).unwrap());
        }
    }
    out
}

/// Encodes one PDU spec into the byte strings to send (several for generators).
fn encode(spec: &PduSpec, handles: &HashMap<usize, Vec<u8>>) -> Vec<Vec<u8>> {
    if let Some(n) = spec.repeat {
        let mut one = spec.clone();
        one.repeat = None;
        let mut out = Vec::new();
        for i in 0..n {
            if spec.step_call_id {
                one.call_id = Some(spec.call_id.unwrap_or(1) + i);
            }
            if let Some(count) = spec.context_count {
                one.context_base = Some(spec.context_base.unwrap_or(0) + (i * count) as u16);
            }
            out.extend(encode(&one, handles));
        }
        return out;
    }
    if let (Some(k), "request") = (spec.split, spec.kind.as_str()) {
        let stub = stub_of(spec, handles);
        let mut one = spec.clone();
        one.split = None;
        one.fill = None;
        let chunks: Vec<&[u8]> = if stub.is_empty() {
            vec![&[]]
        } else {
            stub.chunks(k.max(1)).collect()
        };
        let n = chunks.len();
        return chunks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut f = one.clone();
                f.stub = Some(hex_of(c));
                let mut flags = spec.flags.unwrap_or(0) & !3;
                if i == 0 {
                    flags |= 1;
                }
                if i + 1 == n {
                    flags |= 2;
                }
                f.flags = Some(flags);
                encode(&f, handles).remove(0)
            })
            .collect();
    }
    if let Some(h) = &spec.hex {
        return vec![parse_hex(h, handles)];
    }
    let drep = spec
        .drep
        .as_deref()
        .map(|d| parse_hex(d, handles))
        .unwrap_or_else(|| vec![0x10, 0, 0, 0]);
    let le = drep[0] >> 4 == 1;
    let (ptype, mut flags) = match spec.kind.as_str() {
        "bind" => (11u8, 3u8),
        "alter_context" => (14, 3),
        "request" => (0, 3),
        "auth3" => (16, 3),
        "co_cancel" => (18, 3),
        "orphaned" => (19, 3),
        "shutdown" => (17, 3),
        "fault" => (3, 3),
        "bind_ack" => (12, 3),
        "response" => (2, 3),
        "empty" => (spec.ptype.expect("empty needs ptype"), 3),
        k => panic!("unknown pdu kind {k}"),
    };
    if spec.object.is_some() {
        flags |= 0x80;
    }
    let mut e = Enc { le, b: Vec::new() };
    match spec.kind.as_str() {
        "bind" | "alter_context" | "bind_ack" => {
            e.u16(spec.max_xmit.unwrap_or(4280));
            e.u16(spec.max_recv.unwrap_or(4280));
            e.u32(spec.assoc_group.unwrap_or(0));
            let mut ctxs = spec.contexts.clone();
            if let Some(n) = spec.context_count {
                let ts: Vec<String> = (0..spec.ts_count.unwrap_or(1))
                    .map(|i| {
                        if i == 0 {
                            "ndr20".to_string()
                        } else {
                            format!("{:08x}-0000-0000-0000-000000000000 v1", i)
                        }
                    })
                    .collect();
                for i in 0..n {
                    ctxs.push(Ctx {
                        id: spec.context_base.unwrap_or(0).wrapping_add(i as u16),
                        iface: "epm".into(),
                        ts: ts.clone(),
                    });
                }
            }
            e.u8(spec.n_contexts.unwrap_or(ctxs.len() as u8));
            e.b.extend_from_slice(&[0, 0, 0]);
            for c in &ctxs {
                e.u16(c.id);
                let ts = if c.ts.is_empty() {
                    vec!["ndr20".to_string()]
                } else {
                    c.ts.clone()
                };
                e.u8(ts.len() as u8);
                e.u8(0);
                e.syntax(&c.iface);
                for t in &ts {
                    e.syntax(t);
                }
            }
        }
        "request" | "response" => {
            let stub = stub_of(spec, handles);
            e.u32(spec.alloc_hint.unwrap_or(stub.len() as u32));
            e.u16(spec.context_id.unwrap_or(0));
            e.u16(spec.opnum.unwrap_or(0));
            if let Some(o) = &spec.object {
                e.uuid(uuid_of(o));
            }
            e.b.extend_from_slice(&stub);
        }
        "auth3" => e.b.extend_from_slice(&[0; 4]),
        "fault" => {
            e.u32(0);
            e.u16(0);
            e.u8(0);
            e.u8(0);
            e.u32(spec.status.unwrap_or(0x1c01_0003));
            e.u32(0);
        }
        _ => {}
    }
    if let Some(a) = &spec.append {
        e.b.extend(parse_hex(a, handles));
    }
    let mut auth_len = 0u16;
    if let Some(a) = &spec.auth {
        let pad = (4 - e.b.len() % 4) % 4;
        e.b.extend(std::iter::repeat_n(0u8, pad));
        e.u8(a.auth_type);
        e.u8(a.level);
        e.u8(if a.pad != 0 { a.pad } else { pad as u8 });
        e.u8(0);
        e.u32(a.context);
        let v = a
            .value
            .as_deref()
            .map(|v| parse_hex(v, handles))
            .unwrap_or_else(|| vec![0x4e; 16]);
        auth_len = v.len() as u16;
        e.b.extend_from_slice(&v);
    }
    let body = e.b;
    let mut h = Enc { le, b: Vec::new() };
    h.u8(spec.rpc_vers.unwrap_or(5));
    h.u8(spec.rpc_vers_minor.unwrap_or(0));
    h.u8(spec.ptype.unwrap_or(ptype));
    h.u8(spec.flags.map(|f| f | (flags & 0x80)).unwrap_or(flags));
    h.b.extend_from_slice(&drep);
    h.u16(spec.frag_length.unwrap_or(16 + body.len() as u16));
    h.u16(spec.auth_length.unwrap_or(auth_len));
    h.u32(spec.call_id.unwrap_or(1));
    let mut out = h.b;
    out.extend_from_slice(&body);
    if let Some(t) = spec.truncate {
        out.truncate(t);
    }
    vec![out]
}

fn stub_of(spec: &PduSpec, handles: &HashMap<usize, Vec<u8>>) -> Vec<u8> {
    let mut s = spec
        .stub
        .as_deref()
        .map(|h| parse_hex(h, handles))
        .unwrap_or_default();
    if let Some(n) = spec.fill {
        s.extend(std::iter::repeat_n(0xaa, n));
    }
    s
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A connection of a case: the stream, its local port, whether the peer has closed.
struct Conn {
    s: TcpStream,
    port: u16,
    buf: Vec<u8>,
    eof: bool,
}

enum Read {
    Pdu(Vec<u8>),
    Eof,
    Timeout,
}

impl Conn {
    /// The next whole PDU the server sent, EOF, or a timeout.
    async fn next(&mut self, wait: Duration) -> Read {
        let end = Instant::now() + wait;
        loop {
            if self.buf.len() >= 10 {
                let le = self.buf[4] >> 4 == 1;
                let fl = if le {
                    u16::from_le_bytes([self.buf[8], self.buf[9]])
                } else {
                    u16::from_be_bytes([self.buf[8], self.buf[9]])
                } as usize;
                assert!(fl >= 16, "server sent frag_length {fl}");
                if self.buf.len() >= fl {
                    let rest = self.buf.split_off(fl);
                    return Read::Pdu(std::mem::replace(&mut self.buf, rest));
                }
            }
            if self.eof {
                assert!(
                    self.buf.is_empty(),
                    "server closed mid-PDU: {}",
                    hex_of(&self.buf)
                );
                return Read::Eof;
            }
            let mut chunk = [0u8; 8192];
            match tokio::time::timeout_at(end, self.s.read(&mut chunk)).await {
                Err(_) => return Read::Timeout,
                Ok(Ok(0)) | Ok(Err(_)) => self.eof = true,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// What one answer is, as the corpus spells it.
fn describe(frame: &[u8]) -> (String, Option<Vec<u8>>) {
    let pdu = Pdu::decode(frame)
        .unwrap_or_else(|e| panic!("server sent an undecodable PDU ({e}): {}", hex_of(frame)));
    match pdu.body {
        Body::BindAck(_) => ("bind_ack".into(), None),
        Body::AlterContextResp(_) => ("alter_context_resp".into(), None),
        Body::BindNak(n) => (format!("bind_nak:{}", n.reason), None),
        // `:did_not_execute` when the fault says the call never ran (PFC_DID_NOT_EXECUTE).
        Body::Fault(f) if pdu.header.flags.contains(PfcFlags::DID_NOT_EXECUTE) => {
            (format!("fault:{}:did_not_execute", f.status), None)
        }
        Body::Fault(f) => (format!("fault:{}", f.status), None),
        Body::Response(r) => ("response".into(), Some(r.stub)),
        Body::Shutdown => ("shutdown".into(), None),
        other => (format!("{:?}", pdu.header.ptype).to_lowercase(), {
            let _ = other;
            None
        }),
    }
}

fn matches_answer(want: &str, got: &str, stub: Option<&[u8]>) -> bool {
    if let Some(suffix) = want.strip_prefix("response:") {
        let tail = parse_hex(suffix, &HashMap::new());
        return got == "response" && stub.is_some_and(|s| s.ends_with(&tail));
    }
    want == got
}

fn events(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn event_matches(e: &Value, want: &BTreeMap<String, toml::Value>, ports: &[u16]) -> bool {
    let port = e["id.orig_p"].as_u64().unwrap_or(0) as u16;
    if !ports.contains(&port) {
        return false;
    }
    want.iter().all(|(k, v)| {
        // `FIELD_contains = "text"`: the field's text contains it.
        if let (Some(field), toml::Value::String(s)) = (k.strip_suffix("_contains"), v) {
            return e[field].as_str().is_some_and(|g| g.contains(s.as_str()));
        }
        let got = &e[k.as_str()];
        match v {
            toml::Value::String(s) => got.as_str() == Some(s.as_str()),
            toml::Value::Integer(i) => got.as_i64() == Some(*i),
            toml::Value::Boolean(b) => got.as_bool() == Some(*b),
            other => panic!("audit value {other:?} not supported"),
        }
    })
}

/// A `/proc/PID/status` memory figure in KiB: `VmRSS` (now) or `VmHWM` (the peak so far, kept
/// by the kernel, so a peak inside a case is seen too).
fn status_kib(pid: i32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{key} in /proc/PID/status"))
}

/// Runs one case; returns the local ports of its connections.
async fn run_case(
    name: &str,
    case: &Case,
    epm: std::net::SocketAddr,
    echo: std::net::SocketAddr,
) -> Vec<u16> {
    let addr = match case.target.as_deref() {
        None | Some("epm") => epm,
        Some("echo") => echo,
        Some(t) => panic!("{name}: unknown target {t}"),
    };
    let mut conns: HashMap<usize, Conn> = HashMap::new();
    let mut handles: HashMap<usize, Vec<u8>> = HashMap::new();
    for (si, step) in case.step.iter().enumerate() {
        let at = format!("{name} step {si}");
        if let std::collections::hash_map::Entry::Vacant(v) = conns.entry(step.conn) {
            // From an address of ours (127.0.0.151), so the audit log tells our cases apart.
            let sock = tokio::net::TcpSocket::new_v4().unwrap();
            sock.bind("127.0.0.151:0".parse().unwrap()).unwrap();
            let s = timeout(WAIT, sock.connect(addr))
                .await
                .expect("connect timed out")
                .unwrap();
            s.set_nodelay(true).unwrap();
            let port = s.local_addr().unwrap().port();
            v.insert(Conn {
                s,
                port,
                buf: Vec::new(),
                eof: false,
            });
        }
        let mut bytes = Vec::new();
        for p in &step.pdu {
            for b in encode(p, &handles) {
                bytes.extend_from_slice(&b);
            }
        }
        let c = conns.get_mut(&step.conn).unwrap();
        // The server may close before it has read everything (a refusal): not a failure.
        let _ = timeout(WAIT, c.s.write_all(&bytes))
            .await
            .expect("write timed out");
        if step.half_close {
            let _ = c.s.shutdown().await;
        }
        let mut pending: Vec<&String> = step.expect.iter().collect();
        while !pending.is_empty() {
            let want = pending[0];
            match c.next(ANSWER_WAIT).await {
                Read::Pdu(f) => {
                    let (got, stub) = describe(&f);
                    let candidates = if step.unordered { pending.len() } else { 1 };
                    let hit = (0..candidates)
                        .find(|&i| matches_answer(pending[i], &got, stub.as_deref()));
                    let Some(i) = hit else {
                        panic!("{at}: expected {want}, got {got} ({})", hex_of(&f));
                    };
                    pending.remove(i);
                    if let Some(s) = stub {
                        handles.insert(step.conn, s);
                    }
                }
                Read::Eof => panic!("{at}: expected {want}, the server closed"),
                Read::Timeout => panic!("{at}: expected {want}, nothing within {ANSWER_WAIT:?}"),
            }
        }
        match step.then.as_str() {
            "close" => match c.next(ANSWER_WAIT).await {
                Read::Eof => {}
                Read::Pdu(f) => panic!("{at}: expected close, got {}", describe(&f).0),
                Read::Timeout => panic!("{at}: expected close, still open after {ANSWER_WAIT:?}"),
            },
            "open" => match c.next(OPEN_QUIET).await {
                Read::Timeout => {}
                Read::Eof => panic!("{at}: expected the connection to stay open, it closed"),
                Read::Pdu(f) => panic!("{at}: unexpected answer {}", describe(&f).0),
            },
            "any" => {}
            t => panic!("{at}: unknown then = {t}"),
        }
    }
    conns.values().map(|c| c.port).collect()
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/hostile")
}

fn load_corpus() -> Vec<(String, Case)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/hostile exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(p).unwrap();
            let case: Case =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert!(!case.summary.is_empty() && !case.step.is_empty(), "{name}");
            (name, case)
        })
        .collect()
}

#[test]
fn corpus_parses_and_covers_the_issue_list() {
    let corpus = load_corpus();
    assert!(corpus.len() >= 40, "only {} cases", corpus.len());
    let covers: Vec<String> = corpus
        .iter()
        .filter_map(|(_, c)| c.covers.clone())
        .collect();
    // Every item of issue 6 part 1 has at least one case.
    for item in [
        "frag_length_below_header",
        "frag_length_beyond_data",
        "auth_length_beyond_pdu",
        "zero_length_fragment",
        "duplicated_fragment",
        "overlapping_fragment",
        "flag_permutation",
        "tiny_fragments_alloc_hint",
        "fragments_past_cap",
        "thousands_of_contexts",
        "unknown_packet_type",
        "unknown_version",
        "request_before_bind",
        "call_id_reuse",
        "ndr_huge_count",
        "ndr_deep_pointers",
        "ndr_actual_count_over_max",
        "ndr_unknown_union_discriminant",
        "ndr_string_without_terminator",
        "tower_absurd_floor_count",
        "context_handle_wrong_type",
        "context_handle_other_group",
    ] {
        assert!(
            covers.iter().any(|c| c == item),
            "no case covers {item}; covers: {covers:?}"
        );
    }
    // Every case expects something checkable, and every refusal is looked for in the audit log.
    for (name, c) in &corpus {
        let refuses = c.step.iter().any(|s| {
            s.then == "close"
                || s.expect
                    .iter()
                    .any(|e| e.starts_with("fault:") || e.starts_with("bind_nak:"))
        });
        assert!(
            !refuses || !c.audit.is_empty(),
            "{name}: refuses but names no audit event"
        );
        assert!(
            c.step
                .iter()
                .any(|s| !s.expect.is_empty() || s.then == "close"),
            "{name}: no expectation"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_corpus_against_live_msrpcd() {
    let corpus = load_corpus();
    let only = std::env::var("HOSTILE_CASE").ok();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("run").join("epm.sock");
    let log = dir.path().join("audit.json");
    let mut d = Proc::spawn(
        MSRPCD,
        &[
            "--listen",
            "127.0.0.150:1350",
            "--demo",
            "--ports",
            "41500-41599",
            "--registration-socket",
            sock.to_str().unwrap(),
            "--audit-log",
            log.to_str().unwrap(),
        ],
    );
    let epm = d.addr_line("EPM listening on").await;
    let echo = d.addr_line("rpcecho demo on").await;
    let pid = d.pid();
    let baseline = status_kib(pid, "VmRSS:");
    let mut peak = baseline;
    let mut figures = Vec::new();
    let mut ran = 0;
    let mut failures: Vec<String> = Vec::new();
    for (name, case) in &corpus {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        ran += 1;
        let started = Instant::now();
        // Each case in its own task, so one failure does not hide the others' results.
        let (n, c) = (name.clone(), case.clone());
        let ports = match tokio::spawn(async move { run_case(&n, &c, epm, echo).await }).await {
            Ok(p) => p,
            Err(e) => {
                let msg = match e.try_into_panic() {
                    Ok(p) => p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default(),
                    Err(e) => e.to_string(),
                };
                failures.push(msg);
                Vec::new()
            }
        };
        // The audit log has the case's events (the writer thread is asynchronous: poll).
        for want in case.audit.iter().filter(|_| !ports.is_empty()) {
            let mut found = false;
            for _ in 0..100 {
                if events(&log).iter().any(|e| event_matches(e, want, &ports)) {
                    found = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if !found {
                let mine: Vec<String> = events(&log)
                    .into_iter()
                    .filter(|e| ports.contains(&(e["id.orig_p"].as_u64().unwrap_or(0) as u16)))
                    .map(|mut e| {
                        for k in ["ts", "uid", "id.orig_h", "id.resp_h", "id.resp_p"] {
                            e.as_object_mut().unwrap().remove(k);
                        }
                        e.to_string()
                    })
                    .collect();
                failures.push(format!(
                    "{name}: no audit event {want:?}; this case's events:\n  {}",
                    mine.join("\n  ")
                ));
            }
        }
        // The server still serves other clients.
        let c = RpcechoClient::new(connect(echo).await);
        let r = timeout(WAIT, c.add_one(AddOneRequest { in_data: 41 }))
            .await
            .unwrap_or_else(|_| panic!("{name}: rpcecho call timed out afterwards"))
            .unwrap_or_else(|e| panic!("{name}: rpcecho call failed afterwards: {e}"));
        assert_eq!(r.out_data, 42);
        drop(c);
        assert_eq!(
            lookup_all(epm).await.len(),
            1,
            "{name}: EPM listing afterwards"
        );
        let rss = status_kib(pid, "VmRSS:");
        peak = status_kib(pid, "VmHWM:");
        figures.push(format!(
            "{name:<44} {:>6} ms  rss {rss} KiB  peak {peak} KiB",
            started.elapsed().as_millis()
        ));
        assert!(
            d.child.try_wait().unwrap().is_none(),
            "{name}: msrpcd exited; stderr:\n{}",
            d.stderr()
        );
    }
    assert!(ran > 0, "no case ran (HOSTILE_CASE={only:?})");
    println!("{}", figures.join("\n"));
    assert!(
        failures.is_empty(),
        "{} of {ran} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!(
        "msrpcd RSS: baseline {baseline} KiB, peak (VmHWM) {peak} KiB over {ran} cases (bound {RSS_BOUND_KIB} KiB)"
    );
    let stderr = d.stderr();
    assert!(!stderr.contains("panicked"), "msrpcd panicked:\n{stderr}");
    assert!(
        peak < RSS_BOUND_KIB,
        "msrpcd RSS peaked at {peak} KiB (bound {RSS_BOUND_KIB} KiB)"
    );
    let status = d.terminate().await;
    assert!(
        status.success(),
        "msrpcd exit {status:?}; stderr:\n{}",
        d.stderr()
    );
}
