//! The JSON-lines sink: one event per line, one JSON object each, field names as in
//! [`Event`]'s serde form (Zeek's `dce_rpc.log` names where they overlap).

use std::io::Write;

use crate::Event;

/// Writes events as JSON lines to `W`.
#[derive(Debug)]
pub struct JsonSink<W: Write> {
    out: W,
    written: u64,
}

impl<W: Write> JsonSink<W> {
    /// A sink writing to `out` (wrap files in a `BufWriter`; [`flush`](Self::flush) after a
    /// batch).
    pub fn new(out: W) -> Self {
        JsonSink { out, written: 0 }
    }

    /// Writes one event as one line (not flushed), with a single `write_all`, so lines from
    /// other writers of a shared stream (stdout) never cut into it.
    pub fn write(&mut self, ev: &Event) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(ev)?;
        line.push(b'\n');
        self.out.write_all(&line)?;
        self.written += 1;
        Ok(())
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::{ConnId, EventKind};

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
