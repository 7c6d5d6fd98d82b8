//! Offline analysis of DCE/RPC in packet captures: the offline half of `msrpc`'s audit.
//!
//! [`capture::CaptureReader`] streams pcap and pcapng files; [`net`] decodes Ethernet (VLAN),
//! Linux cooked v1/v2, raw IP and loopback frames to IPv4/IPv6 TCP and UDP; [`tcp`] reassembles
//! each direction of a TCP connection (reordering, retransmissions, gaps); [`Analyzer`] keeps a
//! bounded flow table, decides which connections carry DCE/RPC (port 135, ports that endpoint
//! mapper answers in the same capture reveal, or content: a first PDU that validates), and
//! feeds them to [`tracker::Conversation`], which decodes PDUs with `msrpc-proto` and produces
//! the same [`msrpc_audit::Event`]s the live daemon does. Those events go through a
//! [`Detect`] implementation (the detectors) and into a [`summary::Summary`].
//! Connectionless (UDP) DCE/RPC is recognised and counted ([`cl`]), not decoded further.
//!
//! With the `live` feature, [`live::LiveSource`] captures from a network interface through
//! libpcap (a capture thread and a bounded queue) for `msrpc analyze --interface`; the same
//! [`Analyzer`] takes its packets with their capture timestamps, and [`Analyzer::tick`] moves
//! its clock on when no packet arrives, so idle connections are still closed.
//!
//! # What it does not do
//! No IP defragmentation, no tunnels (GRE, VXLAN), no SMB named pipes
//! (DCE/RPC inside SMB is not seen), no decryption of sealed stubs (sizes are those on the
//! wire), no Kerberos user names (only NTLM AUTHENTICATE messages name a user).
//!
//! # Memory bounds
//! The file is streamed record by record. At most [`Config::max_flows`] connections are
//! tracked (the least recently active are closed beyond, and idle ones after
//! [`Config::idle_timeout`] seconds of capture time); each direction holds at most
//! [`Config::tcp_caps`] out-of-order bytes and one partial PDU (under 64 KiB); each connection
//! keeps at most 4 MiB of stubs being reassembled (as the server does), and only the endpoint
//! mapper's stubs are kept once complete.
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod capture;
pub mod cl;
pub mod epm;
#[cfg(feature = "live")]
pub mod live;
pub mod names;
pub mod net;
pub mod summary;
pub mod tcp;
pub mod tracker;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use msrpc_audit::{ConnId, Event, EventKind};

use crate::net::{tcp_flags, Segment};
use crate::summary::Summary;
use crate::tcp::{Caps, Chunk, Reassembler};
use crate::tracker::{Conversation, Dir, Output};

/// The detectors' seam: every event the analyzer produces is shown to `observe`, and what it
/// returns (alerts) is emitted after it; `finish` runs once at the end of the capture.
/// `msrpc_audit::detect::Detectors` implements it, so a capture is judged by the same
/// detectors as live traffic.
pub trait Detect {
    /// One event; returns alerts.
    fn observe(&mut self, ev: &Event) -> Vec<Event>;
    /// End of input; returns alerts.
    fn finish(&mut self) -> Vec<Event>;
}

/// No detectors.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoDetectors;

impl Detect for NoDetectors {
    fn observe(&mut self, _ev: &Event) -> Vec<Event> {
        Vec::new()
    }
    fn finish(&mut self) -> Vec<Event> {
        Vec::new()
    }
}

impl Detect for msrpc_audit::detect::Detectors {
    fn observe(&mut self, ev: &Event) -> Vec<Event> {
        msrpc_audit::detect::Detectors::observe(self, ev)
    }
    fn finish(&mut self) -> Vec<Event> {
        msrpc_audit::detect::Detectors::finish(self)
    }
}

/// Analyzer limits.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Connections tracked at once.
    pub max_flows: usize,
    /// Seconds of capture time after which a silent connection is closed.
    pub idle_timeout: f64,
    /// Out-of-order buffer caps per direction.
    pub tcp_caps: Caps,
    /// Bytes all connections together may hold (out-of-order segments, partial PDUs, stubs
    /// being reassembled); beyond it the least recently active connections are closed.
    pub max_held_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_flows: 65_536,
            idle_timeout: 3600.0,
            tcp_caps: Caps {
                bytes: 256 * 1024,
                segments: 256,
            },
            max_held_bytes: 512 * 1024 * 1024,
        }
    }
}

type Endpoint = (IpAddr, u16);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Pending,
    Rpc,
    Other,
}

#[derive(Debug, Clone, Copy)]
enum Mark {
    Data(usize, usize),
    Gap,
}

struct Flow {
    client: Endpoint,
    server: Endpoint,
    uid: String,
    first_ts: f64,
    last_ts: f64,
    kind: Kind,
    /// [to server, to client].
    rs: [Reassembler; 2],
    fin: [bool; 2],
    syn_seen: bool,
    had_data: bool,
    conv: Option<Conversation>,
}

impl Flow {
    fn conn_id(&self) -> ConnId {
        ConnId {
            uid: self.uid.clone(),
            orig_h: Some(self.client.0),
            orig_p: Some(self.client.1),
            resp_h: Some(self.server.0),
            resp_p: Some(self.server.1),
        }
    }

    /// Bytes this connection holds.
    fn held(&self) -> usize {
        self.rs.iter().map(Reassembler::buffered).sum::<usize>()
            + self.conv.as_ref().map_or(0, Conversation::held)
    }

    fn swap(&mut self) {
        std::mem::swap(&mut self.client, &mut self.server);
        self.rs.swap(0, 1);
        self.fin.swap(0, 1);
    }
}

fn key(a: Endpoint, b: Endpoint) -> (Endpoint, Endpoint) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

fn side<T>(pair: &mut [T; 2], d: Dir) -> &mut T {
    let [to_server, to_client] = pair;
    match d {
        Dir::ToServer => to_server,
        Dir::ToClient => to_client,
    }
}

fn make_uid(n: u64) -> String {
    // splitmix64: a deterministic, well-spread id per connection number.
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut s = String::from("C");
    for _ in 0..11 {
        s.push(char::from(
            DIGITS.get((z % 62) as usize).copied().unwrap_or(b'0'),
        ));
        z /= 62;
    }
    s
}

/// The offline analyzer: feed it packets, take events, read the summary.
pub struct Analyzer<D: Detect = NoDetectors> {
    cfg: Config,
    flows: HashMap<(Endpoint, Endpoint), Flow>,
    learned_tcp: HashSet<Endpoint>,
    learned_udp: HashSet<Endpoint>,
    detectors: D,
    events: Vec<Event>,
    summary: Summary,
    next_uid: u64,
    last_sweep: f64,
    scratch: Vec<u8>,
    marks: Vec<(Dir, Mark)>,
    out: Output,
    /// Bytes held by all connections (kept current per packet).
    held: usize,
}

impl Analyzer<NoDetectors> {
    /// An analyzer without detectors.
    pub fn new(cfg: Config) -> Self {
        Analyzer::with_detectors(cfg, NoDetectors)
    }
}

impl<D: Detect> Analyzer<D> {
    /// An analyzer whose events go through `detectors`.
    pub fn with_detectors(cfg: Config, detectors: D) -> Self {
        Analyzer {
            cfg,
            flows: HashMap::new(),
            learned_tcp: HashSet::new(),
            learned_udp: HashSet::new(),
            detectors,
            events: Vec::new(),
            summary: Summary::default(),
            next_uid: 0,
            last_sweep: f64::NEG_INFINITY,
            scratch: Vec::new(),
            marks: Vec::new(),
            out: Output::default(),
            held: 0,
        }
    }

    /// Totals so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Takes the events produced so far (in order).
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Connections currently tracked.
    pub fn flows(&self) -> usize {
        self.flows.len()
    }

    /// Bytes all tracked connections hold.
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    /// One captured packet.
    pub fn packet(&mut self, ts: f64, linktype: u32, data: &[u8]) {
        self.summary.packets += 1;
        match net::decode(linktype, data) {
            Ok(Segment::Tcp {
                src,
                dst,
                sport,
                dport,
                seq,
                ack,
                flags,
                payload,
            }) => self.tcp(ts, (src, sport), (dst, dport), seq, ack, flags, payload),
            Ok(Segment::Udp {
                src,
                dst,
                sport,
                dport,
                payload,
            }) => self.udp((src, sport), (dst, dport), payload),
            Err(_) => self.summary.packets_skipped += 1,
        }
        self.tick(ts);
    }

    /// The clock moved on to `now` (seconds since the Unix epoch, the packets' clock) without a
    /// packet: a live capture calls this when the link is quiet, so connections idle for
    /// [`Config::idle_timeout`] are closed (checked at most once a minute of that clock).
    pub fn tick(&mut self, now: f64) {
        if now > self.last_sweep + 60.0 {
            self.last_sweep = now;
            self.sweep(now);
        }
    }

    /// End of the capture: closes every connection and runs the detectors' `finish`.
    pub fn finish(&mut self) {
        let mut keys: Vec<_> = self
            .flows
            .iter()
            .map(|(k, f)| (f.first_ts, f.uid.clone(), *k))
            .collect();
        keys.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        for (_, _, k) in keys {
            self.close(k, "capture_end");
        }
        for ev in self.detectors.finish() {
            self.summary.record(&ev);
            self.events.push(ev);
        }
    }

    fn udp(&mut self, src: Endpoint, dst: Endpoint, payload: &[u8]) {
        let on_port = src.1 == 135
            || dst.1 == 135
            || self.learned_udp.contains(&src)
            || self.learned_udp.contains(&dst);
        let Some(h) = cl::parse(payload) else {
            return;
        };
        // Off the known ports, require a request/response/fault-like packet with a body that
        // exactly fits, to keep false positives down.
        if !on_port && 80 + usize::from(h.len) != payload.len() {
            return;
        }
        *self
            .summary
            .cl_pdus
            .entry(cl::ptype_name(h.ptype).to_string())
            .or_default() += 1;
        if h.ptype == 0 {
            let key = summary::bounded_key(&self.summary.cl_requests, h.interface.to_string());
            *self
                .summary
                .cl_requests
                .entry(key)
                .or_default()
                .entry(h.opnum)
                .or_default() += 1;
        }
    }

    fn is_server(&self, e: &Endpoint) -> bool {
        e.1 == 135 || self.learned_tcp.contains(e)
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        ts: f64,
        src: Endpoint,
        dst: Endpoint,
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
    ) {
        let k = key(src, dst);
        let syn = flags & tcp_flags::SYN != 0;
        let ackf = flags & tcp_flags::ACK != 0;
        // A new SYN on a connection that already carried data or ended: port reuse.
        if syn && !ackf {
            if let Some(f) = self.flows.get(&k) {
                if f.had_data || f.fin.iter().any(|x| *x) {
                    self.close(k, "port_reused");
                }
            }
        }
        if !self.flows.contains_key(&k) {
            if self.flows.len() >= self.cfg.max_flows {
                self.evict();
            }
            let (client, server) = if syn {
                if ackf {
                    (dst, src)
                } else {
                    (src, dst)
                }
            } else if self.is_server(&dst) {
                (src, dst)
            } else if self.is_server(&src) || src.1 < dst.1 {
                (dst, src)
            } else {
                (src, dst)
            };
            let uid = make_uid(self.next_uid);
            self.next_uid += 1;
            self.summary.tcp_flows += 1;
            self.flows.insert(
                k,
                Flow {
                    client,
                    server,
                    uid,
                    first_ts: ts,
                    last_ts: ts,
                    kind: Kind::Pending,
                    rs: [
                        Reassembler::new(self.cfg.tcp_caps),
                        Reassembler::new(self.cfg.tcp_caps),
                    ],
                    fin: [false; 2],
                    syn_seen: syn,
                    had_data: false,
                    conv: None,
                },
            );
        }
        let Some(flow) = self.flows.get_mut(&k) else {
            return;
        };
        flow.last_ts = ts;
        let held_before = flow.held();
        let dir = if src == flow.client {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        if syn {
            flow.syn_seen = true;
            side(&mut flow.rs, dir).syn(seq);
        }
        if flow.kind != Kind::Other {
            self.scratch.clear();
            self.marks.clear();
            let other = match dir {
                Dir::ToServer => Dir::ToClient,
                Dir::ToClient => Dir::ToServer,
            };
            let (scratch, marks) = (&mut self.scratch, &mut self.marks);
            let mut push = |d: Dir, c: Chunk<'_>| match c {
                Chunk::Data(b) => {
                    let start = scratch.len();
                    scratch.extend_from_slice(b);
                    marks.push((d, Mark::Data(start, scratch.len())));
                }
                Chunk::Gap(_) => marks.push((d, Mark::Gap)),
            };
            if ackf {
                side(&mut flow.rs, other).acked(ack, &mut |c| push(other, c));
            }
            if !payload.is_empty() {
                flow.had_data = true;
                side(&mut flow.rs, dir).segment(seq, payload, &mut |c| push(dir, c));
            }
            self.deliver(k, ts);
        }
        let Some(flow) = self.flows.get_mut(&k) else {
            return;
        };
        self.held = (self.held + flow.held()).saturating_sub(held_before);
        let dir = if src == flow.client {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        // Over the global budget: close the least recently active connections (bounded).
        let mut rounds = 0;
        while self.held > self.cfg.max_held_bytes && rounds < 16 && !self.flows.is_empty() {
            self.evict();
            rounds += 1;
        }
        let Some(flow) = self.flows.get_mut(&k) else {
            return;
        };
        if flags & tcp_flags::RST != 0 {
            self.close(k, "reset");
            return;
        }
        if flags & tcp_flags::FIN != 0 {
            *side(&mut flow.fin, dir) = true;
            if flow.fin[0] && flow.fin[1] {
                self.close(k, "peer_closed");
            }
        }
    }

    /// Hands the marks gathered for flow `k` to its conversation, classifying it first.
    fn deliver(&mut self, k: (Endpoint, Endpoint), ts: f64) {
        let marks = std::mem::take(&mut self.marks);
        let learned = &self.learned_tcp;
        let Some(flow) = self.flows.get_mut(&k) else {
            self.marks = marks;
            return;
        };
        let flip = |d: Dir| match d {
            Dir::ToServer => Dir::ToClient,
            Dir::ToClient => Dir::ToServer,
        };
        let mut swapped = false;
        for &(d0, m) in &marks {
            // A swap flips what the directions recorded in `marks` mean.
            let d = if swapped { flip(d0) } else { d0 };
            match m {
                Mark::Gap => {
                    if let Some(c) = flow.conv.as_mut() {
                        c.gap(d);
                    }
                }
                Mark::Data(a, b) => {
                    let bytes = self.scratch.get(a..b).unwrap_or_default();
                    let mut dir = d;
                    if flow.kind == Kind::Pending {
                        let on_port = flow.server.1 == 135 || learned.contains(&flow.server);
                        let header = if tracker::plausible_header(bytes) {
                            msrpc_proto::pdu::Header::decode(bytes).ok()
                        } else {
                            None
                        };
                        let client_type = header.map(|h| matches!(h.ptype.0, 0 | 11 | 14 | 16));
                        if let Some(from_client) = client_type {
                            if from_client != (dir == Dir::ToServer) && !on_port {
                                flow.swap();
                                swapped = true;
                                dir = flip(dir);
                            }
                        }
                        if on_port || header.is_some() {
                            flow.kind = Kind::Rpc;
                            self.summary.rpc_flows += 1;
                            let mid = !flow.syn_seen && header.is_none();
                            flow.conv = Some(Conversation::new(Some(flow.server.0), mid));
                            self.out.events.push((flow.first_ts, EventKind::ConnOpen));
                        } else {
                            flow.kind = Kind::Other;
                            flow.rs = [Reassembler::default(), Reassembler::default()];
                            break;
                        }
                    } else if flow.kind == Kind::Other {
                        break;
                    }
                    if let Some(c) = flow.conv.as_mut() {
                        c.data(dir, ts, bytes, &mut self.out);
                    }
                }
            }
        }
        self.marks = marks;
        self.flush_out(k);
    }

    /// Wraps the conversation output of flow `k` into events.
    fn flush_out(&mut self, k: (Endpoint, Endpoint)) {
        let conn = self.flows.get(&k).map(Flow::conn_id);
        let out = &mut self.out;
        for (t, n) in out.pdus.drain() {
            *self.summary.pdus.entry(names::ptype(t)).or_default() += n;
        }
        for ((iface, op), n) in out.request_pdus.drain() {
            let key = iface.map_or_else(|| "unknown".to_string(), |u| u.to_string());
            let key = summary::bounded_key(&self.summary.request_pdus, key);
            *self
                .summary
                .request_pdus
                .entry(key)
                .or_default()
                .entry(op)
                .or_default() += n;
        }
        for (u, n) in out.offered.drain() {
            let key = summary::bounded_key(&self.summary.offered, u.to_string());
            *self.summary.offered.entry(key).or_default() += n;
        }
        for (s, n) in out.faults.drain() {
            *self.summary.faults.entry(names::fault(s)).or_default() += n;
        }
        self.summary.resyncs += std::mem::take(&mut out.resyncs);
        for (l, server) in out.learned.drain(..) {
            let Some(addr) = l.addr.or(server) else {
                continue;
            };
            let set = if l.protocol == "ncacn_ip_tcp" {
                &mut self.learned_tcp
            } else {
                &mut self.learned_udp
            };
            if set.len() < 65_536 && set.insert((addr, l.port)) {
                self.summary.learned_endpoints += 1;
            }
        }
        let evs: Vec<_> = out.events.drain(..).collect();
        let Some(conn) = conn else { return };
        for (ts, kind) in evs {
            let ev = Event {
                ts,
                conn: conn.clone(),
                kind,
            };
            self.summary.record(&ev);
            let alerts = self.detectors.observe(&ev);
            self.events.push(ev);
            for a in alerts {
                self.summary.record(&a);
                self.events.push(a);
            }
        }
    }

    fn close(&mut self, k: (Endpoint, Endpoint), reason: &str) {
        if let Some(f) = self.flows.get(&k) {
            self.held = self.held.saturating_sub(f.held());
        }
        // Flush what waits behind holes first.
        if let Some(flow) = self.flows.get_mut(&k) {
            if flow.kind != Kind::Other {
                self.scratch.clear();
                self.marks.clear();
                let (scratch, marks) = (&mut self.scratch, &mut self.marks);
                for d in [Dir::ToServer, Dir::ToClient] {
                    side(&mut flow.rs, d).finish(&mut |c: Chunk<'_>| match c {
                        Chunk::Data(b) => {
                            let start = scratch.len();
                            scratch.extend_from_slice(b);
                            marks.push((d, Mark::Data(start, scratch.len())));
                        }
                        Chunk::Gap(_) => marks.push((d, Mark::Gap)),
                    });
                }
                let ts = flow.last_ts;
                self.deliver(k, ts);
            }
        }
        let Some(mut flow) = self.flows.remove(&k) else {
            return;
        };
        for r in &flow.rs {
            self.summary.gaps += r.stats.gaps;
            self.summary.gap_bytes += r.stats.gap_bytes;
            self.summary.retransmissions += r.stats.retransmissions;
            self.summary.out_of_order += r.stats.out_of_order;
        }
        if let Some(mut c) = flow.conv.take() {
            c.close(reason, &mut self.out);
            self.out.events.push((
                flow.last_ts,
                EventKind::ConnClose {
                    reason: reason.to_string(),
                    duration: (flow.last_ts - flow.first_ts).max(0.0),
                    pdus_in: c.pdus_in,
                    pdus_out: c.pdus_out,
                    bound: c.bound,
                },
            ));
            // Put the flow back briefly so its events get its connection id.
            self.flows.insert(k, flow);
            self.flush_out(k);
            self.flows.remove(&k);
        } else {
            self.out = Output::default();
        }
    }

    fn sweep(&mut self, now: f64) {
        let idle: Vec<_> = self
            .flows
            .iter()
            .filter(|(_, f)| now - f.last_ts > self.cfg.idle_timeout)
            .map(|(k, _)| *k)
            .collect();
        for k in idle {
            self.summary.evicted_flows += 1;
            self.close(k, "idle_timeout");
        }
    }

    /// Closes the least recently active sixteenth of the table.
    fn evict(&mut self) {
        let mut all: Vec<_> = self.flows.iter().map(|(k, f)| (f.last_ts, *k)).collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        let n = (all.len() / 16).max(1);
        for (_, k) in all.into_iter().take(n) {
            self.summary.evicted_flows += 1;
            self.close(k, "evicted");
        }
    }
}

/// Errors of [`run`] (reading the capture).
pub use capture::CaptureError;

/// Reads a whole capture through `analyzer`, calling `on_events` with each batch of events and
/// `progress` with the bytes read so far (every 4096 packets).
pub fn run<R: std::io::Read, D: Detect>(
    reader: R,
    analyzer: &mut Analyzer<D>,
    mut on_events: impl FnMut(Vec<Event>),
    mut progress: impl FnMut(u64),
) -> Result<(), CaptureError> {
    let mut cap = capture::CaptureReader::new(reader)?;
    let mut n = 0u64;
    // Bounded by the file: each iteration consumes one record.
    while let Some(p) = cap.next_packet()? {
        let (ts, lt) = (p.ts, p.linktype);
        analyzer.packet(ts, lt, p.data);
        n += 1;
        if n % 4096 == 0 {
            progress(cap.position());
            on_events(analyzer.take_events());
        }
    }
    analyzer.finish();
    progress(cap.position());
    on_events(analyzer.take_events());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const S: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    fn c(i: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 1, 0, i)
    }

    #[test]
    fn flow_table_and_memory_stay_bounded() {
        let cfg = Config {
            max_flows: 4,
            idle_timeout: 1e9,
            tcp_caps: Caps {
                bytes: 64 * 1024,
                segments: 64,
            },
            max_held_bytes: 100_000,
        };
        let mut a = Analyzer::new(cfg);
        let bytes = vec![0x05u8; 1000];
        for i in 0..40u8 {
            let syn = net::build_tcp_v4((c(i), 1000), (S, 135), 0, 0, tcp_flags::SYN, &[]);
            a.packet(f64::from(i), 1, &syn);
            // Segments after a hole that never fills: they wait in the out-of-order buffer.
            for k in 0..30u32 {
                let f = net::build_tcp_v4(
                    (c(i), 1000),
                    (S, 135),
                    5000 + k * 1000,
                    0,
                    tcp_flags::ACK,
                    &bytes,
                );
                a.packet(f64::from(i), 1, &f);
                assert!(a.flows() <= 4);
                assert!(a.held_bytes() <= 100_000 + 64 * 1024, "{}", a.held_bytes());
            }
        }
        assert!(a.summary().evicted_flows >= 36);
        a.finish();
        assert_eq!(a.flows(), 0);
        assert_eq!(a.held_bytes(), 0);
    }

    #[test]
    fn idle_connections_are_closed() {
        let mut a = Analyzer::new(Config {
            idle_timeout: 100.0,
            ..Config::default()
        });
        let syn = net::build_tcp_v4((c(1), 1000), (S, 135), 0, 0, tcp_flags::SYN, &[]);
        a.packet(0.0, 1, &syn);
        let other = net::build_tcp_v4((c(2), 1000), (S, 135), 0, 0, tcp_flags::SYN, &[]);
        a.packet(500.0, 1, &other);
        assert_eq!(a.flows(), 1);
        assert_eq!(a.summary().evicted_flows, 1);
    }

    #[test]
    fn a_quiet_link_still_closes_idle_connections() {
        // A live capture: no packet after the first, only the clock moving on.
        let mut a = Analyzer::new(Config {
            idle_timeout: 100.0,
            ..Config::default()
        });
        let syn = net::build_tcp_v4((c(1), 1000), (S, 135), 0, 0, tcp_flags::SYN, &[]);
        a.packet(1000.0, 1, &syn);
        a.tick(1050.0);
        assert_eq!(a.flows(), 1);
        a.tick(1200.0);
        assert_eq!(a.flows(), 0);
        assert_eq!(a.summary().evicted_flows, 1);
    }

    #[test]
    fn uids_are_distinct() {
        let ids: HashSet<String> = (0..10_000).map(make_uid).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|u| u.len() == 12 && u.starts_with('C')));
    }
}
