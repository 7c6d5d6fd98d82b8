//! The JSON-lines sink: one event per line, one JSON object each, field names as in
//! [`Event`]'s serde form (Zeek's `dce_rpc.log` names where they overlap).

use std::io::Write;

use rustc_hash::FxHashMap;

use crate::{ConnId, Event, EventKind};

/// Writes events as JSON lines to `W`.
#[derive(Debug)]
pub struct JsonSink<W: Write> {
    out: W,
    written: u64,
    /// The line being written (its buffer reused).
    line: Vec<u8>,
    /// Per connection (by uid), its fields as written in every line (`"uid":...,"id.resp_p":N,`),
    /// with the connection they were written for (at most [`MAX_PREFIXES`]).
    prefixes: FxHashMap<String, (ConnId, Vec<u8>)>,
    /// The last call's operation as written (`,"interface":...,"operation":...`), for the next
    /// call to the same operation.
    names: CallNames,
}

/// A call's `interface`, `endpoint`, `opnum` and `operation`, and their text in a line.
#[derive(Debug, Default)]
struct CallNames {
    interface: Option<String>,
    endpoint: Option<String>,
    opnum: u16,
    operation: Option<String>,
    /// Empty until written once.
    text: Vec<u8>,
}

/// Connections whose fields [`JsonSink`] keeps written (past this it starts over).
const MAX_PREFIXES: usize = 1024;

impl<W: Write> JsonSink<W> {
    /// A sink writing to `out` (wrap files in a `BufWriter`; [`flush`](Self::flush) after a
    /// batch).
    pub fn new(out: W) -> Self {
        JsonSink {
            out,
            written: 0,
            line: Vec::new(),
            prefixes: FxHashMap::default(),
            names: CallNames::default(),
        }
    }

    /// Writes one event as one line (not flushed), with a single `write_all`, so lines from
    /// other writers of a shared stream (stdout) never cut into it.
    ///
    /// `call` events (one per RPC call, by far the most) are written by hand, the same bytes
    /// serde writes (a test compares them), the connection's fields cached per connection;
    /// other events through serde.
    pub fn write(&mut self, ev: &Event) -> std::io::Result<()> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        if let EventKind::Call { .. } = ev.kind {
            self.write_call(&mut line, ev)?;
        } else {
            serde_json::to_writer(&mut line, ev)?;
        }
        line.push(b'\n');
        let done = self.out.write_all(&line);
        self.line = line;
        done?;
        self.written += 1;
        Ok(())
    }

    /// A `call` event as serde writes it: `ts`, the connection's fields, `event`, then the
    /// variant's fields in declaration order.
    fn write_call(&mut self, line: &mut Vec<u8>, ev: &Event) -> std::io::Result<()> {
        let EventKind::Call {
            call_id,
            interface,
            endpoint,
            opnum,
            operation,
            stub_in,
            stub_out,
            fragments,
            rtt,
            fault,
            args,
            auth_level,
            user,
            named_pipe,
            transport: None,
        } = &ev.kind
        else {
            return Ok(());
        };
        line.extend_from_slice(b"{\"ts\":");
        serde_json::to_writer(&mut *line, &ev.ts)?;
        line.push(b',');
        line.extend_from_slice(self.prefix(&ev.conn)?);
        line.extend_from_slice(b"\"event\":\"call\",\"call_id\":");
        decimal(line, u64::from(*call_id));
        let n = &mut self.names;
        if n.text.is_empty()
            || n.opnum != *opnum
            || n.interface != *interface
            || n.endpoint != *endpoint
            || n.operation != *operation
        {
            let text = &mut n.text;
            text.clear();
            text.extend_from_slice(b",\"interface\":");
            opt_str(text, interface.as_deref())?;
            text.extend_from_slice(b",\"endpoint\":");
            opt_str(text, endpoint.as_deref())?;
            text.extend_from_slice(b",\"opnum\":");
            decimal(text, u64::from(*opnum));
            text.extend_from_slice(b",\"operation\":");
            opt_str(text, operation.as_deref())?;
            n.interface.clone_from(interface);
            n.endpoint.clone_from(endpoint);
            n.opnum = *opnum;
            n.operation.clone_from(operation);
        }
        line.extend_from_slice(&n.text);
        line.extend_from_slice(b",\"stub_in\":");
        decimal(line, *stub_in);
        line.extend_from_slice(b",\"stub_out\":");
        decimal(line, *stub_out);
        line.extend_from_slice(b",\"fragments\":");
        decimal(line, u64::from(*fragments));
        line.extend_from_slice(b",\"rtt\":");
        serde_json::to_writer(&mut *line, rtt)?;
        line.extend_from_slice(b",\"fault\":");
        opt_str(line, fault.as_deref())?;
        if !args.is_empty() {
            // Rare (a few operations, in the clear): through serde.
            line.extend_from_slice(b",\"args\":");
            serde_json::to_writer(&mut *line, args)?;
        }
        line.extend_from_slice(b",\"auth_level\":");
        opt_str(line, auth_level.as_deref())?;
        line.extend_from_slice(b",\"user\":");
        opt_str(line, user.as_deref())?;
        line.extend_from_slice(b",\"named_pipe\":");
        opt_str(line, named_pipe.as_deref())?;
        line.push(b'}');
        Ok(())
    }

    /// The connection's fields as serde writes them inside an event, with a `,` after.
    fn prefix(&mut self, conn: &ConnId) -> std::io::Result<&[u8]> {
        let fresh = !matches!(self.prefixes.get(conn.uid.as_str()), Some((c, _)) if c == conn);
        if fresh {
            // `{"uid":...,"id.resp_p":N}` -> `"uid":...,"id.resp_p":N,`
            let mut text = serde_json::to_vec(conn)?;
            text.pop();
            text.push(b',');
            text.remove(0);
            if self.prefixes.len() >= MAX_PREFIXES {
                self.prefixes.clear();
            }
            self.prefixes.insert(conn.uid.clone(), (conn.clone(), text));
        }
        Ok(self
            .prefixes
            .get(conn.uid.as_str())
            .map_or(&[][..], |(_, text)| text.as_slice()))
    }

    /// Writes a batch and flushes it.
    pub fn write_batch<'a>(
        &mut self,
        events: impl IntoIterator<Item = &'a Event>,
    ) -> std::io::Result<()> {
        for ev in events {
            self.write(ev)?;
        }
        self.flush()
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    /// Events written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// `s` as a JSON string, as serde_json writes it (it escapes only `"`, `\\` and control
/// characters; strings without them are copied as they are), or `null`.
fn opt_str(line: &mut Vec<u8>, s: Option<&str>) -> std::io::Result<()> {
    match s {
        None => line.extend_from_slice(b"null"),
        Some(s) if !needs_escape(s.as_bytes()) => {
            line.push(b'"');
            line.extend_from_slice(s.as_bytes());
            line.push(b'"');
        }
        Some(s) => serde_json::to_writer(&mut *line, s)?,
    }
    Ok(())
}

/// Whether `b` has a byte serde_json escapes: a control character (below 0x20), `"` or `\\`.
/// Eight bytes at a time: a word has a byte below `n` (`n` <= 0x80) iff
/// `(x - n * 0x01..01) & !x & 0x80..80` is not zero, and a byte equal to `c` iff `x ^ c * 0x01..01`
/// has a zero byte (below 1).
fn needs_escape(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u64| x.wrapping_sub(ONES.wrapping_mul(n)) & !x & HIGHS != 0;
    let words = b.chunks_exact(8);
    let tail = words.remainder();
    for w in words {
        let x = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
        if below(x, 0x20)
            || below(x ^ ONES.wrapping_mul(u64::from(b'"')), 1)
            || below(x ^ ONES.wrapping_mul(u64::from(b'\\')), 1)
        {
            return true;
        }
    }
    tail.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\')
}

/// `n` in decimal.
fn decimal(line: &mut Vec<u8>, n: u64) {
    if n < 10 {
        line.push(b'0' + n as u8);
        return;
    }
    let mut buf = [0u8; 20];
    line.extend_from_slice(crate::decimal(n, &mut buf).as_bytes());
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::{ConnId, EventKind};

    /// The hand-written `call` lines are byte for byte serde's, whatever the values (escapes,
    /// unicode, `null`s, non-finite floats, extreme integers), and a connection's cached
    /// fields follow its changes.
    #[test]
    fn call_lines_are_serdes_bytes() {
        let conns = [
            ConnId {
                uid: "CabcdefABCDEF01234".into(),
                orig_h: Some("127.0.0.130".parse().unwrap()),
                orig_p: Some(40000),
                resp_h: Some("::1".parse().unwrap()),
                resp_p: Some(135),
            },
            // Same uid, other addresses: the cached fields must not be reused.
            ConnId {
                uid: "CabcdefABCDEF01234".into(),
                orig_h: None,
                orig_p: None,
                resp_h: Some("fe80::1:2".parse().unwrap()),
                resp_p: Some(0),
            },
            ConnId {
                uid: "C\"odd\\uid\u{1}é".into(),
                orig_h: Some("10.1.2.3".parse().unwrap()),
                orig_p: Some(65535),
                resp_h: None,
                resp_p: None,
            },
        ];
        let texts: [Option<&str>; 9] = [
            None,
            Some(""),
            Some("quote\"only"),
            Some("unit\u{1f}separator"),
            Some("mgmt"),
            Some("a\"b\\c"),
            Some("tab\there\nnl\u{7f}\u{1f}"),
            Some("DOM\\ünïcødé 🦀"),
            Some("e1af8308-5d1f-11c9-91a4-08002b14a0fa"),
        ];
        let mut sink = JsonSink::new(Vec::new());
        let mut want = Vec::new();
        let mut n = 0u64;
        for conn in conns.iter().chain(conns.iter()) {
            for (i, t) in texts.iter().enumerate() {
                let u = |k: usize| texts[(i + k) % texts.len()].map(str::to_string);
                n += 1;
                let ev = Event {
                    ts: [
                        1_700_000_000.25,
                        0.0,
                        1e-7,
                        f64::NAN,
                        123_456_789.123_456_79,
                    ][i % 5],
                    conn: conn.clone(),
                    kind: EventKind::Call {
                        call_id: [0, 1, u32::MAX][i % 3],
                        interface: t.map(str::to_string),
                        endpoint: u(1),
                        opnum: [0, 7, u16::MAX][i % 3],
                        operation: u(2),
                        stub_in: [0, 10, u64::MAX][i % 3],
                        stub_out: n,
                        fragments: [1, 100, u32::MAX][i % 3],
                        rtt: [None, Some(0.0025), Some(f64::INFINITY), Some(3.0)][i % 4],
                        fault: u(3),
                        auth_level: u(4),
                        user: u(5),
                        // Arguments on some calls (escapes and unicode too), a pipe on others.
                        args: if i % 2 == 0 {
                            Vec::new()
                        } else {
                            vec![
                                crate::CallArg {
                                    name: "FileName".into(),
                                    value: u(6).unwrap_or_default(),
                                },
                                crate::CallArg {
                                    name: "x".into(),
                                    value: u(7).unwrap_or_default(),
                                },
                            ]
                        },
                        named_pipe: u(8),
                        transport: None,
                    },
                };
                sink.write(&ev).unwrap();
                want.extend(serde_json::to_vec(&ev).unwrap());
                want.push(b'\n');
            }
        }
        // Calls repeating an operation (the names' text is reused), then differing from the
        // previous one in one name only (it must not be).
        let a = (Some("u-1"), Some("mgmt"), 2u16, Some("is_server_listening"));
        for (interface, endpoint, opnum, operation) in [
            a,
            a,
            (a.0, a.1, 3, a.3),
            (a.0, a.1, 3, None),
            (a.0, None, 3, None),
            (Some("u-2"), None, 3, None),
            (None, None, 3, None),
            a,
            (a.0, a.1, a.2, Some("is_server_listening2")),
            (a.0, Some("mgmt\""), a.2, a.3),
            a,
        ] {
            n += 1;
            let ev = Event {
                ts: 2.5,
                conn: conns[0].clone(),
                kind: EventKind::Call {
                    call_id: n as u32,
                    interface: interface.map(str::to_string),
                    endpoint: endpoint.map(str::to_string),
                    opnum,
                    operation: operation.map(str::to_string),
                    stub_in: 1,
                    stub_out: n,
                    fragments: 1,
                    rtt: Some(0.5),
                    fault: None,
                    auth_level: None,
                    user: None,
                    args: Vec::new(),
                    named_pipe: None,
                    transport: None,
                },
            };
            sink.write(&ev).unwrap();
            want.extend(serde_json::to_vec(&ev).unwrap());
            want.push(b'\n');
        }
        let got = sink.into_inner();
        assert_eq!(
            String::from_utf8(got).unwrap(),
            String::from_utf8(want).unwrap()
        );
    }

    #[test]
    fn needs_escape_matches_a_byte_scan() {
        let slow = |b: &[u8]| b.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\');
        // Every byte value at every position of words and tails, in otherwise plain text.
        for len in [1usize, 7, 8, 9, 16, 17, 36] {
            for at in 0..len {
                for v in 0..=255u8 {
                    let mut b = vec![b'a'; len];
                    b[at] = v;
                    assert_eq!(needs_escape(&b), slow(&b), "{b:?}");
                }
            }
        }
        assert!(!needs_escape(b""));
    }

    #[test]
    fn one_object_per_line_with_zeek_names() {
        let conn = ConnId {
            uid: "CabcdefABCDEF01234".into(),
            orig_h: Some("127.0.0.130".parse().unwrap()),
            orig_p: Some(40000),
            resp_h: Some("127.0.0.131".parse().unwrap()),
            resp_p: Some(135),
        };
        let call = Event {
            ts: 1_700_000_000.25,
            conn: conn.clone(),
            kind: EventKind::Call {
                call_id: 2,
                interface: Some("e1af8308-5d1f-11c9-91a4-08002b14a0fa".into()),
                endpoint: Some("epmapper".into()),
                opnum: 2,
                operation: Some("ept_lookup".into()),
                stub_in: 76,
                stub_out: 1200,
                fragments: 1,
                rtt: Some(0.0005),
                fault: None,
                auth_level: None,
                user: None,
                args: Vec::new(),
                named_pipe: None,
                transport: None,
            },
        };
        let mut sink = JsonSink::new(Vec::new());
        sink.write_batch([&call, &call]).unwrap();
        assert_eq!(sink.written(), 2);
        let text = String::from_utf8(sink.into_inner()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        for (k, want) in [
            ("ts", serde_json::json!(1_700_000_000.25)),
            ("uid", serde_json::json!("CabcdefABCDEF01234")),
            ("id.orig_h", serde_json::json!("127.0.0.130")),
            ("id.orig_p", serde_json::json!(40000)),
            ("id.resp_h", serde_json::json!("127.0.0.131")),
            ("id.resp_p", serde_json::json!(135)),
            ("rtt", serde_json::json!(0.0005)),
            ("endpoint", serde_json::json!("epmapper")),
            ("operation", serde_json::json!("ept_lookup")),
            ("event", serde_json::json!("call")),
        ] {
            assert_eq!(v[k], want, "{k}");
        }
        let back: Event = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(back, call);
    }
}
