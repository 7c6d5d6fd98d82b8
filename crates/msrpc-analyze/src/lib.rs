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
//! Connectionless (UDP) DCE/RPC (`ncadg_ip_udp`) is decoded by [`cl`]: activities, fragments
//! reassembled, the same `call` and EPM events (with `transport = "ncadg_ip_udp"`).
//!
//! With the `live` feature, `live::LiveSource` captures from a network interface through
//! libpcap (a capture thread and a bounded queue) for `msrpc analyze --interface`; the same
//! [`Analyzer`] takes its packets with their capture timestamps, and [`Analyzer::tick`] moves
//! its clock on when no packet arrives, so idle connections are still closed.
//!
//! SMB connections (ports 139 and 445, or any port whose first bytes are SMB framing) go
//! through [`msrpc_smb`] (`ncacn_np`): each named pipe opened on them is a conversation of its
//! own, fed the bytes written to and read from the pipe (writes, reads, transceives,
//! transactions; PDUs split across SMB messages reassemble per pipe), and its `bind` and
//! `call` events carry the pipe's name (`named_pipe`, e.g. `\pipe\samr`) and the SMB
//! connection's uid. DCE/RPC sent straight over port 445 without SMB is still recognised by
//! its first PDU. [`summary::Summary::smb`] counts SMB messages, dialects, shares, pipes and
//! the PDUs and calls over them (which are also in the totals).
//!
//! # What it does not do
//! No IP defragmentation, no tunnels (GRE, VXLAN), no decryption of sealed
//! stubs (sizes are those on the wire) or of encrypted SMB3 sessions (their messages are
//! counted, their pipes not seen), no Kerberos user names (only NTLM AUTHENTICATE messages
//! name a user; SMB session setups are not read for users).
//!
//! # Memory bounds
//! The file is streamed record by record. At most [`Config::max_flows`] connections are
//! tracked (the least recently active are closed beyond, and idle ones after
//! [`Config::idle_timeout`] seconds of capture time); each direction holds at most
//! [`Config::tcp_caps`] out-of-order bytes and one partial PDU (under 64 KiB); each connection
//! keeps at most 4 MiB of stubs being reassembled (as the server does), and only the endpoint
//! mapper's stubs are kept once complete. An SMB connection holds at most one SMB message per
//! direction ([`Config::smb`]: 1 MiB by default; file data is skipped without being held) and
//! tracks at most 256 pipes, each a conversation bounded as above. Connectionless activities
//! are bounded by [`Config::cl`] (their number, fragments and stub bytes per call, stub bytes
//! in all; only the stubs the audit reads are held).
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

pub use msrpc_smb;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use msrpc_audit::{ConnId, Event, EventKind};
use msrpc_smb::{PipeId, SmbConnection};

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
    /// Limits of each SMB connection's parser (message size, pipes, pending requests).
    pub smb: msrpc_smb::Limits,
    /// Limits of the connectionless (UDP) activity tracker.
    pub cl: cl::Limits,
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
            smb: msrpc_smb::Limits::default(),
            cl: cl::Limits::default(),
        }
    }
}

type Endpoint = (IpAddr, u16);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Pending,
    Rpc,
    /// SMB: DCE/RPC runs over its named pipes.
    Smb,
    Other,
}

/// A named pipe of an SMB connection and its DCE/RPC conversation.
struct PipeConv {
    name: Option<String>,
    /// Created when the pipe is known to be one and its bytes look like DCE/RPC.
    conv: Option<Conversation>,
    /// Not DCE/RPC (a file whose open the capture missed): its bytes are ignored.
    rejected: bool,
}

/// An SMB connection: the SMB parser and one conversation per pipe.
struct SmbFlow {
    conn: SmbConnection,
    pipes: rustc_hash::FxHashMap<PipeId, PipeConv>,
    /// Totals of the pipes' conversations already closed.
    pdus_in: u64,
    pdus_out: u64,
    bound: bool,
    /// A pipe carried DCE/RPC (the connection counts as a DCE/RPC connection from then on).
    rpc: bool,
}

impl SmbFlow {
    fn held(&self) -> usize {
        self.conn.held()
            + self
                .pipes
                .values()
                .map(|p| p.conv.as_ref().map_or(0, Conversation::held))
                .sum::<usize>()
    }
}

/// What SMB parsing reported for the summary, drained with the events.
#[derive(Default)]
struct SmbOut {
    opened: Vec<String>,
    dialects: Vec<(String, bool)>,
    shares: Vec<String>,
}

/// Where an SMB connection's pipe events go while it is fed.
struct PipeSink<'a> {
    out: &'a mut Output,
    smb_out: &'a mut SmbOut,
    ts: f64,
    server: IpAddr,
    first_ts: f64,
    /// Why pipes still open are closed (`pipe_closed` for an SMB close).
    close_reason: &'a str,
}

impl<'a> PipeSink<'a> {
    fn new(
        out: &'a mut Output,
        smb_out: &'a mut SmbOut,
        ts: f64,
        server: IpAddr,
        first_ts: f64,
    ) -> Self {
        PipeSink {
            out,
            smb_out,
            ts,
            server,
            first_ts,
            close_reason: "pipe_closed",
        }
    }
}

fn pipe_dir(d: msrpc_smb::Dir) -> Dir {
    match d {
        msrpc_smb::Dir::ToServer => Dir::ToServer,
        msrpc_smb::Dir::ToClient => Dir::ToClient,
    }
}

impl SmbFlow {
    /// Stream bytes of the TCP connection.
    fn feed(&mut self, dir: Dir, bytes: &[u8], ps: &mut PipeSink<'_>) {
        let d = match dir {
            Dir::ToServer => msrpc_smb::Dir::ToServer,
            Dir::ToClient => msrpc_smb::Dir::ToClient,
        };
        let mut st = PipeTotals {
            rpc: self.rpc,
            ..PipeTotals::default()
        };
        let SmbFlow { conn, pipes, .. } = self;
        conn.data(d, bytes, &mut |ev| pipe_event(pipes, &mut st, ps, ev));
        self.absorb(st);
    }

    /// The capture lost bytes of the TCP connection.
    fn feed_gap(&mut self, dir: Dir, ps: &mut PipeSink<'_>) {
        let d = match dir {
            Dir::ToServer => msrpc_smb::Dir::ToServer,
            Dir::ToClient => msrpc_smb::Dir::ToClient,
        };
        let mut st = PipeTotals {
            rpc: self.rpc,
            ..PipeTotals::default()
        };
        let SmbFlow { conn, pipes, .. } = self;
        conn.gap(d, &mut |ev| pipe_event(pipes, &mut st, ps, ev));
        self.absorb(st);
    }

    /// The TCP connection ended: every pipe's conversation is closed.
    fn finish(&mut self, ps: &mut PipeSink<'_>) {
        let mut st = PipeTotals {
            rpc: self.rpc,
            ..PipeTotals::default()
        };
        let SmbFlow { conn, pipes, .. } = self;
        conn.finish(&mut |ev| pipe_event(pipes, &mut st, ps, ev));
        self.absorb(st);
    }

    fn absorb(&mut self, st: PipeTotals) {
        self.pdus_in += st.pdus_in;
        self.pdus_out += st.pdus_out;
        self.bound |= st.bound;
        self.rpc |= st.rpc;
    }
}

/// What the pipes' conversations closed during one feed add to their connection's totals.
#[derive(Default)]
struct PipeTotals {
    pdus_in: u64,
    pdus_out: u64,
    bound: bool,
    /// A pipe carried DCE/RPC (on entry: whether one already had).
    rpc: bool,
}

/// One event of the SMB parser: pipe bytes go to the pipe's conversation (created for a pipe
/// known to be one, or whose first bytes look like DCE/RPC), gaps and closes to it too.
fn pipe_event(
    pipes: &mut rustc_hash::FxHashMap<PipeId, PipeConv>,
    st: &mut PipeTotals,
    ps: &mut PipeSink<'_>,
    ev: msrpc_smb::Event<'_>,
) {
    use msrpc_smb::Event as E;
    match ev {
        E::Opened { pipe, name } => {
            ps.smb_out.opened.push(name.to_string());
            pipes.entry(pipe).or_insert_with(|| PipeConv {
                name: Some(name.to_string()),
                conv: None,
                rejected: false,
            });
        }
        E::Data {
            pipe,
            name,
            confirmed,
            dir,
            data,
        } => {
            let p = pipes.entry(pipe).or_insert_with(|| PipeConv {
                name: name.map(str::to_string),
                conv: None,
                rejected: false,
            });
            if p.rejected {
                return;
            }
            if p.conv.is_none() {
                let header = tracker::plausible_header(data);
                if !confirmed && !header {
                    p.rejected = true;
                    return;
                }
                if !st.rpc {
                    // The connection's first DCE/RPC: it opens as one.
                    st.rpc = true;
                    ps.out.events.push((ps.first_ts, EventKind::ConnOpen));
                }
                p.conv = Some(
                    Conversation::new(Some(ps.server), !header).with_named_pipe(p.name.clone()),
                );
            }
            if let Some(c) = p.conv.as_mut() {
                c.data(pipe_dir(dir), ps.ts, data, ps.out);
            }
        }
        E::Gap { pipe, dir } => {
            if let Some(c) = pipes.get_mut(&pipe).and_then(|p| p.conv.as_mut()) {
                c.gap(pipe_dir(dir));
            }
        }
        E::Closed { pipe } => {
            if let Some(mut c) = pipes.remove(&pipe).and_then(|p| p.conv) {
                c.close(ps.close_reason, ps.out);
                st.pdus_in += c.pdus_in;
                st.pdus_out += c.pdus_out;
                st.bound |= c.bound;
            }
        }
        E::Negotiated {
            dialect,
            signing_required,
        } => ps.smb_out.dialects.push((dialect, signing_required)),
        E::TreeConnected { share, .. } => ps.smb_out.shares.push(share.to_string()),
        E::Anomaly { reason } => ps.out.events.push((
            ps.ts,
            EventKind::Malformed {
                reason: reason.to_string(),
                detail: "SMB".to_string(),
            },
        )),
        _ => {}
    }
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
    smb: Option<Box<SmbFlow>>,
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
            + self.smb.as_ref().map_or(0, |s| s.held())
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
    cl: cl::ClTracker,
    detectors: D,
    events: Vec<Event>,
    summary: Summary,
    next_uid: u64,
    last_sweep: f64,
    scratch: Vec<u8>,
    marks: Vec<(Dir, Mark)>,
    out: Output,
    smb_out: SmbOut,
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
            cl: cl::ClTracker::new(cfg.cl),
            detectors,
            events: Vec::new(),
            summary: Summary::default(),
            next_uid: 0,
            last_sweep: f64::NEG_INFINITY,
            scratch: Vec::new(),
            marks: Vec::new(),
            out: Output::default(),
            smb_out: SmbOut::default(),
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

    /// Connectionless activities currently tracked (at most [`cl::Limits::max_activities`]).
    pub fn cl_activities(&self) -> usize {
        self.cl.activities()
    }

    /// Stub bytes the connectionless activities hold (at most
    /// [`cl::Limits::max_held_bytes`]).
    pub fn cl_held_bytes(&self) -> usize {
        self.cl.held_bytes()
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
            }) => self.udp(ts, (src, sport), (dst, dport), payload),
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
        let mut out = cl::ClOutput::default();
        self.cl.finish_all(&mut out);
        self.cl_output(out);
        for ev in self.detectors.finish() {
            self.summary.record(&ev);
            self.events.push(ev);
        }
    }

    fn udp(&mut self, ts: f64, src: Endpoint, dst: Endpoint, payload: &[u8]) {
        let on_port = src.1 == 135
            || dst.1 == 135
            || self.learned_udp.contains(&src)
            || self.learned_udp.contains(&dst);
        // Off the known ports, require a body that exactly fits, to keep false positives down.
        let Some(h) = cl::header(payload, !on_port) else {
            return;
        };
        *self
            .summary
            .cl_pdus
            .entry(cl::ptype_name(h.ptype.0).to_string())
            .or_default() += 1;
        if h.ptype == msrpc_proto::pdu::PacketType::REQUEST {
            let key = summary::bounded_key(&self.summary.cl_requests, h.interface.to_string());
            *self
                .summary
                .cl_requests
                .entry(key)
                .or_default()
                .entry(h.opnum)
                .or_default() += 1;
        }
        let mut out = cl::ClOutput::default();
        let next_uid = &mut self.next_uid;
        let mut new_uid = || {
            let u = make_uid(*next_uid);
            *next_uid += 1;
            u
        };
        self.cl
            .datagram(ts, src, dst, payload, &mut new_uid, &mut out);
        self.cl_output(out);
    }

    /// Takes the connectionless tracker's events and learned endpoints.
    fn cl_output(&mut self, mut out: cl::ClOutput) {
        self.summary.cl_activities += out.activities;
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
        for ev in out.events {
            self.summary.record(&ev);
            let alerts = self.detectors.observe(&ev);
            self.events.push(ev);
            for a in alerts {
                self.summary.record(&a);
                self.events.push(a);
            }
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
                    smb: None,
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
                    if let Some(smb) = flow.smb.as_mut() {
                        let mut ps = PipeSink::new(
                            &mut self.out,
                            &mut self.smb_out,
                            ts,
                            flow.server.0,
                            flow.first_ts,
                        );
                        smb.feed_gap(d, &mut ps);
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
                        let smb_port = [flow.server.1, flow.client.1]
                            .iter()
                            .any(|p| matches!(p, 139 | 445));
                        let smb_start = msrpc_smb::looks_like_smb(bytes);
                        if on_port || header.is_some() {
                            flow.kind = Kind::Rpc;
                            self.summary.rpc_flows += 1;
                            let mid = !flow.syn_seen && header.is_none();
                            flow.conv = Some(Conversation::new(Some(flow.server.0), mid));
                            self.out.events.push((flow.first_ts, EventKind::ConnOpen));
                        } else if smb_port || smb_start {
                            // SMB (by port or by content): DCE/RPC runs over its pipes.
                            flow.kind = Kind::Smb;
                            self.summary.smb.flows += 1;
                            let mid = !flow.syn_seen && !smb_start;
                            flow.smb = Some(Box::new(SmbFlow {
                                conn: SmbConnection::new(self.cfg.smb, mid),
                                pipes: Default::default(),
                                pdus_in: 0,
                                pdus_out: 0,
                                bound: false,
                                rpc: false,
                            }));
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
                    } else if let Some(smb) = flow.smb.as_mut() {
                        let had_rpc = smb.rpc;
                        let mut ps = PipeSink::new(
                            &mut self.out,
                            &mut self.smb_out,
                            ts,
                            flow.server.0,
                            flow.first_ts,
                        );
                        smb.feed(dir, bytes, &mut ps);
                        if smb.rpc && !had_rpc {
                            self.summary.rpc_flows += 1;
                        }
                    }
                }
            }
        }
        self.marks = marks;
        self.flush_out(k);
    }

    /// Wraps the conversation output of flow `k` into events.
    fn flush_out(&mut self, k: (Endpoint, Endpoint)) {
        let out = &self.out;
        let so = &self.smb_out;
        // Most packets (TCP acknowledgements, SMB messages without pipe data) leave nothing.
        if out.events.is_empty()
            && out.pdus.is_empty()
            && out.learned.is_empty()
            && out.resyncs == 0
            && out.unknown_syntax == 0
            && out.offered.is_empty()
            && so.opened.is_empty()
            && so.dialects.is_empty()
            && so.shares.is_empty()
        {
            return;
        }
        let (conn, smb) = match self.flows.get(&k) {
            Some(f) => (Some(f.conn_id()), f.kind == Kind::Smb),
            None => (None, false),
        };
        if smb {
            self.summary.smb.add_pipe_output(&self.out);
        }
        let so = &mut self.smb_out;
        for name in so.opened.drain(..) {
            let key = summary::bounded_key(&self.summary.smb.pipes, name);
            *self.summary.smb.pipes.entry(key).or_default() += 1;
        }
        for (dialect, signing) in so.dialects.drain(..) {
            let key = if signing {
                format!("{dialect} (signing required)")
            } else {
                dialect
            };
            let key = summary::bounded_key(&self.summary.smb.dialects, key);
            *self.summary.smb.dialects.entry(key).or_default() += 1;
        }
        for share in so.shares.drain(..) {
            let key = summary::bounded_key(&self.summary.smb.shares, share);
            *self.summary.smb.shares.entry(key).or_default() += 1;
        }
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
        self.summary.unknown_syntax_calls += std::mem::take(&mut out.unknown_syntax);
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
        if let Some(mut smb) = flow.smb.take() {
            {
                let mut ps = PipeSink::new(
                    &mut self.out,
                    &mut self.smb_out,
                    flow.last_ts,
                    flow.server.0,
                    flow.first_ts,
                );
                ps.close_reason = reason;
                smb.finish(&mut ps);
            }
            self.summary.smb.add_stats(smb.conn.stats());
            if smb.rpc {
                self.out.events.push((
                    flow.last_ts,
                    EventKind::ConnClose {
                        reason: reason.to_string(),
                        duration: (flow.last_ts - flow.first_ts).max(0.0),
                        pdus_in: smb.pdus_in,
                        pdus_out: smb.pdus_out,
                        bound: smb.bound,
                    },
                ));
            }
            self.flows.insert(k, flow);
            self.flush_out(k);
            self.flows.remove(&k);
        } else if let Some(mut c) = flow.conv.take() {
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
        let mut out = cl::ClOutput::default();
        self.cl.sweep(now, &mut out);
        self.cl_output(out);
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
            smb: msrpc_smb::Limits::default(),
            cl: cl::Limits::default(),
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
