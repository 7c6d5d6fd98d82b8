//! Totals over a capture: what the human-readable report shows.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use msrpc_audit::{AuthOutcome, Event, EventKind};
use serde::Serialize;

/// Distinct keys kept in each table of the summary; further keys are counted under `(other)`,
/// so a capture full of invented UUIDs or user names cannot grow it without bound.
pub const MAX_KEYS: usize = 10_000;

/// `key` if `map` has it or has room for it, else `(other)`.
pub fn bounded_key<V>(map: &BTreeMap<String, V>, key: String) -> String {
    if map.len() < MAX_KEYS || map.contains_key(&key) {
        key
    } else {
        "(other)".to_string()
    }
}

/// One interface's calls.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct InterfaceSummary {
    /// Well-known name.
    pub name: Option<String>,
    /// Presentation contexts accepted for it.
    pub binds: u64,
    /// Completed calls by opnum.
    pub calls: BTreeMap<u16, u64>,
    /// Faulted calls.
    pub faults: u64,
    /// Operation names seen, by opnum.
    pub operations: BTreeMap<u16, String>,
}

/// Capture totals.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Summary {
    /// Packets read.
    pub packets: u64,
    /// Packets not decoded to TCP/UDP (other link types, non-IP, IP fragments, truncated).
    pub packets_skipped: u64,
    /// TCP connections seen.
    pub tcp_flows: u64,
    /// TCP connections carrying connection-oriented DCE/RPC.
    pub rpc_flows: u64,
    /// Connection-oriented PDUs by packet type.
    pub pdus: BTreeMap<String, u64>,
    /// Request PDUs (every fragment) by interface UUID (`unknown` when the context was not
    /// seen) and opnum.
    pub request_pdus: BTreeMap<String, BTreeMap<u16, u64>>,
    /// Presentation context elements offered in bind / alter_context PDUs, by interface UUID.
    pub offered: BTreeMap<String, u64>,
    /// Interfaces: binds and completed calls.
    pub interfaces: BTreeMap<String, InterfaceSummary>,
    /// Faults by status.
    pub faults: BTreeMap<String, u64>,
    /// Authentications by user (`(MECHANISM: no user name in the tokens)` for Kerberos and other
    /// mechanisms whose tokens name nobody in clear): successes and failures.
    pub auth: BTreeMap<String, (u64, u64)>,
    /// Malformed input by reason code.
    pub malformed: BTreeMap<String, u64>,
    /// Alerts by detector.
    pub alerts: BTreeMap<String, u64>,
    /// DCOM activations by class (`NAME CLSID`, or the CLSID of an unknown class).
    pub dcom_activations: BTreeMap<String, u64>,
    /// `ept_map`/`ept_lookup` answers seen.
    pub epm_answers: u64,
    /// Endpoints learned from them.
    pub learned_endpoints: u64,
    /// Gaps in TCP streams (bytes the capture missed), and their bytes.
    pub gaps: u64,
    /// Bytes missing in gaps.
    pub gap_bytes: u64,
    /// Segments dropped as retransmissions.
    pub retransmissions: u64,
    /// Segments that arrived out of order.
    pub out_of_order: u64,
    /// Resynchronisations on a PDU header.
    pub resyncs: u64,
    /// Calls whose stubs the audit reads (EPM, DCOM, arguments) left undecoded because their
    /// presentation context's transfer syntax is neither NDR20 nor NDR64, or is not known.
    #[serde(skip_serializing_if = "is_zero")]
    pub unknown_syntax_calls: u64,
    /// Connectionless (UDP) DCE/RPC packets by packet type.
    pub cl_pdus: BTreeMap<String, u64>,
    /// Connectionless requests by interface UUID and opnum.
    pub cl_requests: BTreeMap<String, BTreeMap<u16, u64>>,
    /// Connectionless activities seen (an activity UUID from one caller address).
    pub cl_activities: u64,
    /// Flows closed because the flow table was full or they idled out.
    pub evicted_flows: u64,
    /// SMB and the DCE/RPC over its named pipes (`ncacn_np`); the PDUs of the pipes are also
    /// counted in the totals above.
    pub smb: SmbSummary,
}

/// SMB connections and DCE/RPC over named pipes.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct SmbSummary {
    /// TCP connections carrying SMB.
    pub flows: u64,
    /// SMB1 messages.
    pub smb1_messages: u64,
    /// SMB2/3 messages.
    pub smb2_messages: u64,
    /// Signed messages.
    pub signed: u64,
    /// Encrypted SMB3 messages (opaque: pipes inside are not seen).
    pub encrypted: u64,
    /// Compressed SMB3 messages (opaque).
    pub compressed: u64,
    /// Successful session setups.
    pub sessions: u64,
    /// Dialects negotiated (with `(signing required)` when the server required it), by
    /// connection.
    pub dialects: BTreeMap<String, u64>,
    /// Tree connects by share.
    pub shares: BTreeMap<String, u64>,
    /// Pipe opens by name (`\pipe\NAME`).
    pub pipes: BTreeMap<String, u64>,
    /// Bytes written to pipes and read from them.
    pub pipe_bytes: [u64; 2],
    /// DCE/RPC PDUs over pipes by packet type.
    pub pdus: BTreeMap<String, u64>,
    /// Request PDUs over pipes by interface UUID and opnum.
    pub request_pdus: BTreeMap<String, BTreeMap<u16, u64>>,
    /// Presentation context elements offered over pipes, by interface UUID.
    pub offered: BTreeMap<String, u64>,
    /// Completed calls over pipes, by pipe name.
    pub calls: BTreeMap<String, u64>,
}

impl SmbSummary {
    /// Adds a pipe conversation's counters (before they go into the totals).
    pub(crate) fn add_pipe_output(&mut self, out: &crate::tracker::Output) {
        for (t, n) in &out.pdus {
            *self.pdus.entry(crate::names::ptype(*t)).or_default() += n;
        }
        for ((iface, op), n) in &out.request_pdus {
            let key = iface.map_or_else(|| "unknown".to_string(), |u| u.to_string());
            let key = bounded_key(&self.request_pdus, key);
            *self
                .request_pdus
                .entry(key)
                .or_default()
                .entry(*op)
                .or_default() += n;
        }
        for (u, n) in &out.offered {
            let key = bounded_key(&self.offered, u.to_string());
            *self.offered.entry(key).or_default() += n;
        }
    }

    /// Adds a closed connection's parser counters.
    pub(crate) fn add_stats(&mut self, s: &msrpc_smb::Stats) {
        self.smb1_messages += s.smb1_messages;
        self.smb2_messages += s.smb2_messages;
        self.signed += s.signed;
        self.encrypted += s.encrypted;
        self.compressed += s.compressed;
        self.sessions += s.sessions;
        self.pipe_bytes[0] += s.pipe_bytes[0];
        self.pipe_bytes[1] += s.pipe_bytes[1];
    }
}

impl Summary {
    /// Accounts for one event.
    pub fn record(&mut self, ev: &Event) {
        match &ev.kind {
            EventKind::Bind { contexts, .. } => {
                for c in contexts
                    .iter()
                    .filter(|c| c.result.as_deref() == Some("accepted"))
                {
                    let i = self.interfaces.entry(c.interface.clone()).or_default();
                    i.binds += 1;
                    i.name.clone_from(&c.endpoint);
                }
            }
            EventKind::Call {
                interface,
                endpoint,
                opnum,
                operation,
                fault,
                ..
            } => {
                let key = interface.clone().unwrap_or_else(|| "unknown".into());
                let key = bounded_key(&self.interfaces, key);
                let i = self.interfaces.entry(key).or_default();
                if i.name.is_none() {
                    i.name.clone_from(endpoint);
                }
                *i.calls.entry(*opnum).or_default() += 1;
                if let Some(op) = operation {
                    i.operations.insert(*opnum, op.clone());
                }
                if fault.is_some() {
                    i.faults += 1;
                }
                if let EventKind::Call {
                    named_pipe: Some(p),
                    ..
                } = &ev.kind
                {
                    let key = bounded_key(&self.smb.calls, p.clone());
                    *self.smb.calls.entry(key).or_default() += 1;
                }
            }
            EventKind::Auth {
                user,
                outcome,
                auth_type,
                ..
            } => {
                let u = user
                    .clone()
                    .unwrap_or_else(|| format!("({auth_type}: no user name in the tokens)"));
                let u = bounded_key(&self.auth, u);
                let e = self.auth.entry(u).or_default();
                match outcome {
                    AuthOutcome::Success => e.0 += 1,
                    AuthOutcome::Failure => e.1 += 1,
                }
            }
            EventKind::Malformed { reason, .. } => {
                *self.malformed.entry(reason.clone()).or_default() += 1;
            }
            EventKind::Alert { detector, .. } => {
                *self.alerts.entry(detector.clone()).or_default() += 1;
            }
            EventKind::EpmLookup { .. } | EventKind::EpmMap { .. } => self.epm_answers += 1,
            EventKind::DcomActivation {
                clsid, class_name, ..
            } => {
                let k = match class_name {
                    Some(n) => format!("{n} {clsid}"),
                    None => clsid.clone(),
                };
                let k = bounded_key(&self.dcom_activations, k);
                *self.dcom_activations.entry(k).or_default() += 1;
            }
            _ => {}
        }
    }

    /// The human-readable report.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "packets {}  (not TCP/UDP: {})   TCP connections {}  DCE/RPC connections {}",
            self.packets, self.packets_skipped, self.tcp_flows, self.rpc_flows
        );
        let _ = writeln!(
            s,
            "stream repair: gaps {} ({} bytes)  retransmissions {}  out of order {}  resyncs {}",
            self.gaps, self.gap_bytes, self.retransmissions, self.out_of_order, self.resyncs
        );
        if self.unknown_syntax_calls > 0 {
            let _ = writeln!(
                s,
                "stubs not decoded (transfer syntax not NDR20/NDR64 or unknown): {} calls",
                self.unknown_syntax_calls
            );
        }
        if !self.pdus.is_empty() {
            let _ = writeln!(s, "\nPDUs (connection-oriented)");
            for (t, n) in &self.pdus {
                let _ = writeln!(s, "  {t:<22} {n:>8}");
            }
        }
        if !self.interfaces.is_empty() {
            let _ = writeln!(s, "\nInterfaces");
            let _ = writeln!(
                s,
                "  {:<38} {:<16} {:>5} {:>6} {:>6}  calls by opnum",
                "uuid", "name", "binds", "calls", "faults"
            );
            for (u, i) in &self.interfaces {
                let calls: u64 = i.calls.values().sum();
                let ops = i
                    .calls
                    .iter()
                    .map(|(o, n)| match i.operations.get(o) {
                        Some(name) => format!("{o}:{name}={n}"),
                        None => format!("{o}={n}"),
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                let _ = writeln!(
                    s,
                    "  {:<38} {:<16} {:>5} {:>6} {:>6}  {}",
                    u,
                    i.name.as_deref().unwrap_or("-"),
                    i.binds,
                    calls,
                    i.faults,
                    ops
                );
            }
        }
        let maps: [(&str, &BTreeMap<String, u64>); 4] = [
            ("Faults", &self.faults),
            ("Malformed input", &self.malformed),
            ("DCOM activations (class)", &self.dcom_activations),
            ("Alerts", &self.alerts),
        ];
        for (title, m) in maps {
            if !m.is_empty() {
                let _ = writeln!(s, "\n{title}");
                for (k, n) in m {
                    let _ = writeln!(s, "  {k:<40} {n:>8}");
                }
            }
        }
        if !self.auth.is_empty() {
            let _ = writeln!(s, "\nAuthentication (user: success / failure)");
            for (u, (ok, bad)) in &self.auth {
                let _ = writeln!(s, "  {u:<40} {ok:>5} / {bad}");
            }
        }
        if self.epm_answers > 0 {
            let _ = writeln!(
                s,
                "\nEndpoint mapper answers {}  endpoints learned {}",
                self.epm_answers, self.learned_endpoints
            );
        }
        let smb = &self.smb;
        if smb.flows > 0 {
            let _ = writeln!(
                s,
                "\nSMB connections {}  sessions {}  messages SMB1 {} SMB2/3 {}  signed {}  encrypted {}  compressed {}",
                smb.flows,
                smb.sessions,
                smb.smb1_messages,
                smb.smb2_messages,
                smb.signed,
                smb.encrypted,
                smb.compressed
            );
            for (d, n) in &smb.dialects {
                let _ = writeln!(s, "  dialect {d:<32} {n:>8}");
            }
            for (share, n) in &smb.shares {
                let _ = writeln!(s, "  share   {share:<32} {n:>8}");
            }
            if !smb.pipes.is_empty() || !smb.calls.is_empty() {
                let _ = writeln!(
                    s,
                    "  named pipes (ncacn_np): {} bytes written, {} read; PDUs {}",
                    smb.pipe_bytes[0],
                    smb.pipe_bytes[1],
                    smb.pdus.values().sum::<u64>()
                );
                let _ = writeln!(s, "  {:<40} {:>6} {:>6}", "pipe", "opens", "calls");
                let mut names: Vec<&String> = smb.pipes.keys().chain(smb.calls.keys()).collect();
                names.sort();
                names.dedup();
                for p in names {
                    let _ = writeln!(
                        s,
                        "  {p:<40} {:>6} {:>6}",
                        smb.pipes.get(p).copied().unwrap_or(0),
                        smb.calls.get(p).copied().unwrap_or(0)
                    );
                }
            }
        }
        if !self.cl_pdus.is_empty() {
            let _ = writeln!(
                s,
                "\nConnectionless (UDP) PDUs ({} activities)",
                self.cl_activities
            );
            for (t, n) in &self.cl_pdus {
                let _ = writeln!(s, "  {t:<22} {n:>8}");
            }
            for (u, ops) in &self.cl_requests {
                let o = ops
                    .iter()
                    .map(|(o, n)| format!("{o}={n}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                let _ = writeln!(s, "  request {u}  {o}");
            }
        }
        s
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
