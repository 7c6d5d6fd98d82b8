//! Prometheus counters over the events, rendered in the text exposition format (version
//! 0.0.4), hand-written: a handful of counter families with bounded label sets.
//!
//! Families: `msrpc_connections_total`, `msrpc_connections_open` (gauge),
//! `msrpc_binds_total{kind,result}`, `msrpc_calls_total{interface,opnum,fault}`,
//! `msrpc_epm_requests_total{operation}`, `msrpc_auth_total{auth_type,outcome}`,
//! `msrpc_policy_total{action,reason}`, `msrpc_refused_total{reason}`,
//! `msrpc_malformed_total{reason}`, `msrpc_exploit_shapes_total{shape}`,
//! `msrpc_alerts_total{detector}`, `msrpc_audit_events_total`,
//! `msrpc_audit_events_dropped_total`, `msrpc_dcom_activations_total{class,operation,result}`,
//! `msrpc_dcom_orpc_calls_total{class,result}`, `msrpc_dcom_pings_total{operation,result}`,
//! `msrpc_dcom_collected_total{reason}`. Each family keeps at most [`MAX_SERIES`] label sets;
//! later new ones are counted under label values `other`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::{Event, EventKind};

/// Label sets one family keeps before folding new ones into `other`.
pub const MAX_SERIES: usize = 1024;

struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    labels: &'static [&'static str],
}

const FAMILIES: &[Family] = &[
    Family { name: "msrpc_connections_total", help: "Connections accepted.", kind: "counter", labels: &[] },
    Family { name: "msrpc_connections_open", help: "Connections open now.", kind: "gauge", labels: &[] },
    Family { name: "msrpc_binds_total", help: "Binds and alter_contexts by result (accepted: some context accepted; rejected: none; nak: bind_nak).", kind: "counter", labels: &["kind", "result"] },
    Family { name: "msrpc_calls_total", help: "Calls completed, by interface, opnum and fault (none when answered).", kind: "counter", labels: &["interface", "opnum", "fault"] },
    Family { name: "msrpc_epm_requests_total", help: "Endpoint mapper lookups and maps answered.", kind: "counter", labels: &["operation"] },
    Family { name: "msrpc_auth_total", help: "Authentication legs by mechanism and outcome.", kind: "counter", labels: &["auth_type", "outcome"] },
    Family { name: "msrpc_policy_total", help: "Security policy decisions by action and reason.", kind: "counter", labels: &["action", "reason"] },
    Family { name: "msrpc_refused_total", help: "Requests the connection refused with a fault before dispatch.", kind: "counter", labels: &["reason"] },
    Family { name: "msrpc_malformed_total", help: "Malformed input by reason code.", kind: "counter", labels: &["reason"] },
    Family { name: "msrpc_exploit_shapes_total", help: "Requests with an exploit's shape.", kind: "counter", labels: &["shape"] },
    Family { name: "msrpc_alerts_total", help: "Detector alerts.", kind: "counter", labels: &["detector"] },
    Family { name: "msrpc_audit_events_total", help: "Audit events produced.", kind: "counter", labels: &[] },
    Family { name: "msrpc_audit_events_dropped_total", help: "Audit inputs dropped because the audit queue was full.", kind: "counter", labels: &[] },
    Family { name: "msrpc_dcom_activations_total", help: "DCOM activations by class (a known or hosted class's name, else other), operation and result (ok, access_denied, error, unanswered).", kind: "counter", labels: &["class", "operation", "result"] },
    Family { name: "msrpc_dcom_orpc_calls_total", help: "ORPC calls on hosted DCOM objects by class (unknown when the IPID named none) and result (ok, access_denied, error).", kind: "counter", labels: &["class", "result"] },
    Family { name: "msrpc_dcom_pings_total", help: "OXID resolver pings by operation and result (ok, error).", kind: "counter", labels: &["operation", "result"] },
    Family { name: "msrpc_dcom_collected_total", help: "DCOM objects collected, by reason (ping_timeout, released, removed_from_set).", kind: "counter", labels: &["reason"] },
];

// Indexes into `FAMILIES` (a test checks them against the names).
const CONNECTIONS_TOTAL: usize = 0;
const CONNECTIONS_OPEN: usize = 1;
const BINDS_TOTAL: usize = 2;
const CALLS_TOTAL: usize = 3;
const EPM_REQUESTS_TOTAL: usize = 4;
const AUTH_TOTAL: usize = 5;
const POLICY_TOTAL: usize = 6;
const REFUSED_TOTAL: usize = 7;
const MALFORMED_TOTAL: usize = 8;
const EXPLOIT_SHAPES_TOTAL: usize = 9;
const ALERTS_TOTAL: usize = 10;
const AUDIT_EVENTS_TOTAL: usize = 11;
const AUDIT_EVENTS_DROPPED_TOTAL: usize = 12;
const DCOM_ACTIVATIONS_TOTAL: usize = 13;
const DCOM_ORPC_CALLS_TOTAL: usize = 14;
const DCOM_PINGS_TOTAL: usize = 15;
const DCOM_COLLECTED_TOTAL: usize = 16;

#[derive(Default)]
struct Inner {
    /// family index -> label values -> value.
    series: Vec<BTreeMap<Vec<String>, i64>>,
    /// Counts of families without labels (by family index; `series` holds none of them).
    plain: [i64; FAMILY_COUNT],
    /// The last few `msrpc_calls_total` label sets seen, with calls counted since they were
    /// added to `series` (a call whose labels are here costs no map search).
    recent_calls: [Option<RecentCall>; RECENT_CALLS],
    /// The `recent_calls` slot the next new label set takes.
    next_recent: usize,
}

/// Families in `FAMILIES`.
const FAMILY_COUNT: usize = 17;

/// `msrpc_calls_total` label sets remembered (a server answers a few interfaces at a time).
const RECENT_CALLS: usize = 4;

/// A `msrpc_calls_total` label set and the calls counted for it but not yet in `series`.
struct RecentCall {
    interface: String,
    opnum: u16,
    fault: String,
    pending: i64,
}

impl Inner {
    /// Counts one call. The first time a label set is seen it is added to `series` at once
    /// (so whether it gets a series or folds into `other` is decided as without the cache);
    /// later calls are counted in `recent_calls` and moved to `series` by `flush_calls`.
    fn add_call(&mut self, interface: &str, opnum: u16, fault: &str) {
        for r in self.recent_calls.iter_mut().flatten() {
            if r.opnum == opnum && r.interface == interface && r.fault == fault {
                r.pending += 1;
                return;
            }
        }
        let mut digits = [0u8; 20];
        self.add(
            CALLS_TOTAL,
            &[interface, decimal(opnum, &mut digits), fault],
            1,
        );
        let slot = self.next_recent % RECENT_CALLS;
        self.next_recent = (slot + 1) % RECENT_CALLS;
        if let Some(old) = self.recent_calls.get_mut(slot).and_then(Option::take) {
            self.flush_call(&old);
        }
        if let Some(s) = self.recent_calls.get_mut(slot) {
            *s = Some(RecentCall {
                interface: interface.to_string(),
                opnum,
                fault: fault.to_string(),
                pending: 0,
            });
        }
    }

    fn flush_call(&mut self, r: &RecentCall) {
        if r.pending != 0 {
            let mut digits = [0u8; 20];
            let opnum = decimal(r.opnum, &mut digits);
            self.add(CALLS_TOTAL, &[&r.interface, opnum, &r.fault], r.pending);
        }
    }

    /// Moves the calls counted in `recent_calls` to `series`.
    fn flush_calls(&mut self) {
        let mut recent = std::mem::take(&mut self.recent_calls);
        for r in recent.iter_mut().flatten() {
            self.flush_call(r);
            r.pending = 0;
        }
        self.recent_calls = recent;
    }
}

/// The counters; share it (`Arc`) between the writer that observes events and the HTTP
/// responder that renders them.
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
fn family_index(name: &str) -> usize {
    FAMILIES.iter().position(|f| f.name == name).unwrap_or(0)
}

/// A label set, owned (the map's keys) or borrowed (a lookup), ordered as `Vec<String>` is
/// (element by element, then by length) so a map keyed by `Vec<String>` can be searched
/// with a `&[&str]`.
trait Labels {
    /// The `i`th label value.
    fn label(&self, i: usize) -> Option<&str>;
}

impl Labels for Vec<String> {
    fn label(&self, i: usize) -> Option<&str> {
        self.get(i).map(String::as_str)
    }
}

impl Labels for &[&str] {
    fn label(&self, i: usize) -> Option<&str> {
        self.get(i).copied()
    }
}

impl<'a> std::borrow::Borrow<dyn Labels + 'a> for Vec<String> {
    fn borrow(&self) -> &(dyn Labels + 'a) {
        self
    }
}

impl Ord for dyn Labels + '_ {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Bounded: stops at the shorter set's end (label sets have at most a few values).
        for i in 0.. {
            match (self.label(i), other.label(i)) {
                (None, None) => return std::cmp::Ordering::Equal,
                (a, b) => match a.cmp(&b) {
                    std::cmp::Ordering::Equal => {}
                    o => return o,
                },
            }
        }
        std::cmp::Ordering::Equal
    }
}

impl PartialOrd for dyn Labels + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for dyn Labels + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for dyn Labels + '_ {}

impl Inner {
    fn add(&mut self, family: usize, labels: &[&str], by: i64) {
        if labels.is_empty() {
            if let Some(v) = self.plain.get_mut(family) {
                *v = v.saturating_add(by);
            }
            return;
        }
        let Some(map) = self.series.get_mut(family) else {
            return;
        };
        // The common case, a label set already counted, looks it up without allocating.
        if let Some(v) = map.get_mut(&labels as &dyn Labels) {
            *v = v.saturating_add(by);
            return;
        }
        let mut key: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        if map.len() >= MAX_SERIES {
            key = labels.iter().map(|_| "other".to_string()).collect();
        }
        let v = map.entry(key).or_insert(0);
        *v = v.saturating_add(by);
    }
}

/// `n` in decimal, written into `buf` (no allocation).
fn decimal(n: u16, buf: &mut [u8; 20]) -> &str {
    crate::decimal(u64::from(n), buf)
}

impl Metrics {
    /// All counters at zero.
    pub fn new() -> Metrics {
        Metrics {
            inner: Mutex::new(Inner {
                series: FAMILIES.iter().map(|_| BTreeMap::new()).collect(),
                plain: [0; FAMILY_COUNT],
                recent_calls: Default::default(),
                next_recent: 0,
            }),
        }
    }

    #[cfg(test)]
    fn add(&self, family: &str, labels: &[&str], by: i64) {
        self.lock().add(family_index(family), labels, by);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Counts `n` inputs dropped before they became events (a full queue).
    pub fn dropped(&self, n: u64) {
        self.lock().add(
            AUDIT_EVENTS_DROPPED_TOTAL,
            &[],
            i64::try_from(n).unwrap_or(i64::MAX),
        );
    }

    /// Counts one event.
    pub fn observe(&self, ev: &Event) {
        // One lock per event.
        let mut g = self.lock();
        g.add(AUDIT_EVENTS_TOTAL, &[], 1);
        match &ev.kind {
            EventKind::ConnOpen => {
                g.add(CONNECTIONS_TOTAL, &[], 1);
                g.add(CONNECTIONS_OPEN, &[], 1);
            }
            EventKind::ConnClose { .. } => g.add(CONNECTIONS_OPEN, &[], -1),
            EventKind::Bind {
                kind,
                contexts,
                nak_reason,
                ..
            } => {
                let result = if nak_reason.is_some() {
                    "nak"
                } else if contexts
                    .iter()
                    .any(|c| c.result.as_deref() == Some("accepted"))
                {
                    "accepted"
                } else {
                    "rejected"
                };
                g.add(BINDS_TOTAL, &[kind, result], 1);
            }
            EventKind::Call {
                interface,
                endpoint,
                opnum,
                fault,
                ..
            } => {
                let iface = endpoint
                    .as_deref()
                    .or(interface.as_deref())
                    .unwrap_or("unknown");
                g.add_call(iface, *opnum, fault.as_deref().unwrap_or("none"));
            }
            EventKind::EpmLookup { .. } => g.add(EPM_REQUESTS_TOTAL, &["lookup"], 1),
            EventKind::EpmMap { .. } => g.add(EPM_REQUESTS_TOTAL, &["map"], 1),
            EventKind::Auth {
                auth_type, outcome, ..
            } => {
                let o = match outcome {
                    crate::AuthOutcome::Success => "success",
                    crate::AuthOutcome::Failure => "failure",
                };
                g.add(AUTH_TOTAL, &[auth_type, o], 1);
            }
            EventKind::Policy { action, reason, .. } => g.add(POLICY_TOTAL, &[action, reason], 1),
            EventKind::Refused { reason, .. } => g.add(REFUSED_TOTAL, &[reason], 1),
            EventKind::Malformed { reason, .. } => g.add(MALFORMED_TOTAL, &[reason], 1),
            EventKind::ExploitShape { shape, .. } => g.add(EXPLOIT_SHAPES_TOTAL, &[shape], 1),
            EventKind::Alert { detector, .. } => g.add(ALERTS_TOTAL, &[detector], 1),
            EventKind::DcomActivation {
                class_name,
                operation,
                hresult,
                ..
            } => {
                // Names only from the table of known classes and the host's own: bounded
                // label values.
                g.add(
                    DCOM_ACTIVATIONS_TOTAL,
                    &[
                        class_name.as_deref().unwrap_or("other"),
                        operation,
                        hresult_label(*hresult),
                    ],
                    1,
                );
            }
            EventKind::DcomCall {
                class_name,
                hresult,
                ..
            } => g.add(
                DCOM_ORPC_CALLS_TOTAL,
                &[
                    class_name.as_deref().unwrap_or("unknown"),
                    hresult_label(Some(*hresult)),
                ],
                1,
            ),
            EventKind::DcomPing {
                operation, status, ..
            } => {
                let result = if *status == 0 { "ok" } else { "error" };
                g.add(DCOM_PINGS_TOTAL, &[operation, result], 1);
            }
            EventKind::DcomGc {
                reason, collected, ..
            } => g.add(DCOM_COLLECTED_TOTAL, &[reason], i64::from(*collected)),
            // The sensor's counters are exposed by the sensor itself (`msrpc_sensor_*`).
            EventKind::DcomResolver { .. }
            | EventKind::DcomRemUnknown { .. }
            | EventKind::SensorStats { .. } => {}
        }
    }

    /// The text exposition (`Content-Type: text/plain; version=0.0.4`).
    pub fn render(&self) -> String {
        let mut g = self.lock();
        g.flush_calls();
        let mut s = String::new();
        for ((f, map), plain) in FAMILIES.iter().zip(g.series.iter()).zip(g.plain.iter()) {
            let _ = writeln!(s, "# HELP {} {}", f.name, f.help);
            let _ = writeln!(s, "# TYPE {} {}", f.name, f.kind);
            if f.labels.is_empty() {
                let v = *plain;
                let _ = writeln!(s, "{} {v}", f.name);
                continue;
            }
            for (labels, v) in map {
                let body = f
                    .labels
                    .iter()
                    .zip(labels)
                    .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                    .collect::<Vec<_>>()
                    .join(",");
                let _ = writeln!(s, "{}{{{body}}} {v}", f.name);
            }
        }
        s
    }
}

/// An HRESULT as a bounded label value: `ok` (success), `access_denied` (E_ACCESSDENIED),
/// `error` (any other failure), `unanswered` (no answer seen).
fn hresult_label(hr: Option<u32>) -> &'static str {
    match hr {
        None => "unanswered",
        Some(h) if h & 0x8000_0000 == 0 => "ok",
        Some(0x8007_0005) => "access_denied",
        Some(_) => "error",
    }
}

fn escape(v: &str) -> String {
    let mut o = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o
}

/// One sample of a parsed exposition.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Metric name.
    pub name: String,
    /// Label pairs in order.
    pub labels: Vec<(String, String)>,
    /// Value.
    pub value: f64,
}

/// Parses a text exposition (the subset [`Metrics::render`] writes: comments, and samples
/// with optional quoted labels); for tests and tools that read `/metrics` back.
pub fn parse_exposition(text: &str) -> Result<Vec<Sample>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: &str| format!("line {}: {why}: {line}", n + 1);
        let (head, value) = line.rsplit_once(' ').ok_or_else(|| bad("no value"))?;
        let value: f64 = value.parse().map_err(|_| bad("bad value"))?;
        let (name, labels) = match head.split_once('{') {
            None => (head.to_string(), Vec::new()),
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .ok_or_else(|| bad("unclosed labels"))?;
                (
                    name.to_string(),
                    parse_labels(body).ok_or_else(|| bad("bad labels"))?,
                )
            }
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        {
            return Err(bad("bad metric name"));
        }
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    Ok(out)
}

fn parse_labels(body: &str) -> Option<Vec<(String, String)>> {
    let mut labels = Vec::new();
    let mut chars = body.chars().peekable();
    loop {
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            return if labels.is_empty() {
                Some(labels)
            } else {
                None
            };
        }
        chars.next(); // '='
        if chars.next() != Some('"') {
            return None;
        }
        let mut val = String::new();
        loop {
            match chars.next()? {
                '\\' => match chars.next()? {
                    'n' => val.push('\n'),
                    c => val.push(c),
                },
                '"' => break,
                c => val.push(c),
            }
        }
        labels.push((key.trim_start_matches(',').to_string(), val));
        match chars.next() {
            None => return Some(labels),
            Some(',') => continue,
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::ConnId;

    fn ev(kind: EventKind) -> Event {
        Event {
            ts: 1.0,
            conn: ConnId {
                uid: "C1".into(),
                orig_h: None,
                orig_p: None,
                resp_h: None,
                resp_p: None,
            },
            kind,
        }
    }

    fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        samples
            .iter()
            .find(|s| {
                s.name == name
                    && s.labels.len() == labels.len()
                    && s.labels
                        .iter()
                        .zip(labels)
                        .all(|((k, v), (k2, v2))| k == k2 && v == v2)
            })
            .map(|s| s.value)
    }

    #[test]
    fn family_constants_match_names() {
        for (i, name) in [
            (CONNECTIONS_TOTAL, "msrpc_connections_total"),
            (CONNECTIONS_OPEN, "msrpc_connections_open"),
            (BINDS_TOTAL, "msrpc_binds_total"),
            (CALLS_TOTAL, "msrpc_calls_total"),
            (EPM_REQUESTS_TOTAL, "msrpc_epm_requests_total"),
            (AUTH_TOTAL, "msrpc_auth_total"),
            (POLICY_TOTAL, "msrpc_policy_total"),
            (REFUSED_TOTAL, "msrpc_refused_total"),
            (MALFORMED_TOTAL, "msrpc_malformed_total"),
            (EXPLOIT_SHAPES_TOTAL, "msrpc_exploit_shapes_total"),
            (ALERTS_TOTAL, "msrpc_alerts_total"),
            (AUDIT_EVENTS_TOTAL, "msrpc_audit_events_total"),
            (
                AUDIT_EVENTS_DROPPED_TOTAL,
                "msrpc_audit_events_dropped_total",
            ),
            (DCOM_ACTIVATIONS_TOTAL, "msrpc_dcom_activations_total"),
            (DCOM_ORPC_CALLS_TOTAL, "msrpc_dcom_orpc_calls_total"),
            (DCOM_PINGS_TOTAL, "msrpc_dcom_pings_total"),
            (DCOM_COLLECTED_TOTAL, "msrpc_dcom_collected_total"),
        ] {
            assert_eq!(FAMILIES[i].name, name);
        }
        assert_eq!(FAMILIES.len(), FAMILY_COUNT);
    }

    #[test]
    fn decimal_writes_every_u16() {
        for n in [0u16, 7, 10, 99, 100, 4095, 10000, 65535] {
            let mut b = [0u8; 20];
            assert_eq!(decimal(n, &mut b), n.to_string());
        }
    }

    #[test]
    fn borrowed_lookup_orders_like_owned_keys() {
        let sets: [&[&str]; 6] = [&[], &["a"], &["a", ""], &["a", "b"], &["ab"], &["b", "a"]];
        for x in sets {
            for y in sets {
                let owned_x: Vec<String> = x.iter().map(|s| s.to_string()).collect();
                let owned_y: Vec<String> = y.iter().map(|s| s.to_string()).collect();
                let (bx, by): (&dyn Labels, &dyn Labels) = (&x, &y);
                assert_eq!(bx.cmp(by), owned_x.cmp(&owned_y), "{x:?} vs {y:?}");
            }
        }
        // Repeated label sets land on one series, found again without a new key.
        let m = Metrics::new();
        for _ in 0..3 {
            m.add("msrpc_binds_total", &["bind", "accepted"], 1);
        }
        m.add("msrpc_binds_total", &["bind", "nak"], 1);
        let g = m.inner.lock().unwrap();
        let map = &g.series[family_index("msrpc_binds_total")];
        assert_eq!(map.len(), 2);
        assert_eq!(
            map.get(&vec!["bind".to_string(), "accepted".to_string()]),
            Some(&3)
        );
    }

    #[test]
    fn exposition_parses_back() {
        let m = Metrics::new();
        m.observe(&ev(EventKind::ConnOpen));
        m.observe(&ev(EventKind::ConnOpen));
        m.observe(&ev(EventKind::ConnClose {
            reason: "peer_closed".into(),
            duration: 1.0,
            pdus_in: 1,
            pdus_out: 1,
            bound: true,
        }));
        for fault in [None, Some("nca_s_op_rng_error".to_string())] {
            m.observe(&ev(EventKind::Call {
                call_id: 1,
                interface: Some("x".into()),
                endpoint: Some("rpcecho".into()),
                opnum: 3,
                operation: None,
                stub_in: 0,
                stub_out: 0,
                fragments: 1,
                rtt: None,
                fault,
                auth_level: None,
                user: None,
                args: Vec::new(),
                named_pipe: None,
                transport: None,
            }));
        }
        m.observe(&ev(EventKind::Malformed {
            reason: "weird \"quoted\"\\reason".into(),
            detail: String::new(),
        }));
        m.observe(&ev(EventKind::Alert {
            detector: "epm_full_walk".into(),
            severity: "medium".into(),
            summary: String::new(),
            source: None,
            evidence: serde_json::Value::Null,
            technique: String::new(),
            attack: None,
            confidence: String::new(),
            benign: String::new(),
        }));
        m.dropped(3);
        let text = m.render();
        assert!(text.contains("# TYPE msrpc_calls_total counter"));
        let s = parse_exposition(&text).unwrap();
        assert_eq!(value(&s, "msrpc_connections_total", &[]), Some(2.0));
        assert_eq!(value(&s, "msrpc_connections_open", &[]), Some(1.0));
        assert_eq!(
            value(
                &s,
                "msrpc_calls_total",
                &[
                    ("interface", "rpcecho"),
                    ("opnum", "3"),
                    ("fault", "nca_s_op_rng_error")
                ]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &s,
                "msrpc_calls_total",
                &[("interface", "rpcecho"), ("opnum", "3"), ("fault", "none")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &s,
                "msrpc_malformed_total",
                &[("reason", "weird \"quoted\"\\reason")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(&s, "msrpc_alerts_total", &[("detector", "epm_full_walk")]),
            Some(1.0)
        );
        assert_eq!(
            value(&s, "msrpc_audit_events_dropped_total", &[]),
            Some(3.0)
        );
        assert_eq!(value(&s, "msrpc_audit_events_total", &[]), Some(7.0));
        assert!(parse_exposition("bad line").is_err());
    }

    /// The recent-calls cache counts exactly what one map search per call counts: label sets
    /// interleaved past the cache's size, renders in between, and new label sets past
    /// MAX_SERIES folding into `other` by first sight.
    #[test]
    fn call_counts_match_a_plain_model() {
        let m = Metrics::new();
        let mut model: BTreeMap<Vec<String>, i64> = BTreeMap::new();
        let call = |iface: &str, opnum: u16, fault: Option<&str>| {
            ev(EventKind::Call {
                call_id: 1,
                interface: Some("u".into()),
                endpoint: Some(iface.into()),
                opnum,
                operation: None,
                stub_in: 0,
                stub_out: 0,
                fragments: 1,
                rtt: None,
                fault: fault.map(str::to_string),
                auth_level: None,
                user: None,
                args: Vec::new(),
                named_pipe: None,
                transport: None,
            })
        };
        let count = |model: &mut BTreeMap<Vec<String>, i64>,
                     iface: &str,
                     opnum: u16,
                     fault: Option<&str>| {
            m.observe(&call(iface, opnum, fault));
            let mut key = vec![
                iface.to_string(),
                opnum.to_string(),
                fault.unwrap_or("none").to_string(),
            ];
            if !model.contains_key(&key) && model.len() >= MAX_SERIES {
                key = vec!["other".to_string(); 3];
            }
            *model.entry(key).or_insert(0) += 1;
        };
        let check = |model: &BTreeMap<Vec<String>, i64>| {
            let s = parse_exposition(&m.render()).unwrap();
            let got: BTreeMap<Vec<String>, i64> = s
                .iter()
                .filter(|s| s.name == "msrpc_calls_total")
                .map(|s| {
                    (
                        s.labels.iter().map(|(_, v)| v.clone()).collect(),
                        s.value as i64,
                    )
                })
                .collect();
            assert_eq!(&got, model);
        };
        for round in 0..2000u16 {
            // Six hot label sets (more than the cache holds), in a rotating order, each
            // repeated a few times, then two of them alternating.
            let hot = |k: u16| {
                (
                    ["mgmt", "epmapper", "rpcecho"][usize::from(k % 3)],
                    k,
                    (k == 5).then_some("nca_s_op_rng_error"),
                )
            };
            for k in 0..6u16 {
                let (i, o, f) = hot((k + round) % 6);
                for _ in 0..=(k % 3) {
                    count(&mut model, i, o, f);
                }
            }
            for _ in 0..3 {
                for k in [round % 6, (round + 1) % 6] {
                    let (i, o, f) = hot(k);
                    count(&mut model, i, o, f);
                }
            }
            // A new label set now and then, past MAX_SERIES by the end.
            count(&mut model, "x", round, None);
            if round % 500 == 7 {
                check(&model);
            }
        }
        check(&model);
        assert!(model.contains_key(&vec!["other".to_string(); 3]));
    }

    #[test]
    fn label_sets_are_bounded() {
        let m = Metrics::new();
        for i in 0..(MAX_SERIES + 50) {
            m.observe(&ev(EventKind::Malformed {
                reason: format!("r{i}"),
                detail: String::new(),
            }));
        }
        let s = parse_exposition(&m.render()).unwrap();
        let n = s
            .iter()
            .filter(|s| s.name == "msrpc_malformed_total")
            .count();
        assert_eq!(n, MAX_SERIES + 1);
        assert_eq!(
            value(&s, "msrpc_malformed_total", &[("reason", "other")]),
            Some(50.0)
        );
    }
}
