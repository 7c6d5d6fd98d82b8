//! The connectionless server (C706 chapter 10, MS-RPCE 3.2), sans-IO and hardened against
//! spoofed sources.
//!
//! [`ClServer`] takes datagrams with their source address and a `now`
//! ([`ClServer::handle_datagram`]), hands calls to the runtime as [`ClServerEvent::Call`], takes
//! their outcome back ([`ClServer::complete`]) and yields datagrams to send
//! ([`ClServer::poll_transmit`]) and events to audit ([`ClServer::poll_event`]); timers are
//! [`ClServer::next_timeout`] / [`ClServer::handle_timeout`].
//!
//! # Per activity (C706 10.2)
//! An activity (the client's `act_id`) runs one call at a time, numbered by `seqnum`:
//!
//! | state | request, same seqnum | ping | ack | cl_cancel |
//! |---|---|---|---|---|
//! | receiving | fragment added; fack unless `nofack` | nocall + fack body | - | cancel_ack |
//! | verifying (WAY sent) | ignored | working | - | cancel_ack |
//! | executing | ignored | working | - | cancel_ack, call cancelled |
//! | replied | the cached reply again | the cached reply again | reply dropped | cancel_ack |
//!
//! A request with a higher seqnum starts a new call (an implicit ack of the previous reply); a
//! lower one is old and dropped. Requests are checked first: a `server_boot` that is neither 0
//! nor ours is rejected with `nca_s_wrong_boot_time`; an interface not served with
//! `nca_s_unk_if`; the runtime rejects an opnum out of range with `nca_s_op_rng_error`
//! ([`ClOutcome::Reject`]).
//!
//! # At most once
//! Before a non-idempotent call of an activity the server has not verified runs, the server
//! calls `conv_who_are_you2` back on the request's source ([`super::conv`]) from an activity of
//! its own with a random id; the call runs only when the answer comes from that address with
//! status 0 and the request's seqnum. The answer also proves the address (below). A callback
//! unanswered after [`ClServerConfig::callback_retries`] retransmissions, or answered with
//! another sequence number or a status, rejects the call with `nca_s_who_are_you_failed`
//! (0x1c00000b): the manager did not run, which tells the client it may retry (over TCP).
//! Idempotent and `maybe` calls run at once.
//!
//! # Anti-reflection
//! A UDP source address can be forged. Until an address has answered a WAY callback, the
//! server never sends it more bytes than it has received from its IP address (the amplification
//! budget: bytes out <= bytes in, every datagram counted, the callback's own bytes included).
//! Anything that does not fit is not sent ([`ClServerEvent::Limit`] with reason
//! `amplification_budget`): a reply stays in the activity's reply cache and goes out when a
//! ping or retransmission has raised the budget, or once the WAY callback (which the server
//! starts for any reply that does not fit) has verified the address. Per-source and global
//! token buckets bound the datagrams processed per second; broadcast requests are dropped unless
//! [`ClServerConfig::allow_broadcast`]. Every limit hit is an event with a stable reason.
//!
//! # Memory
//! Bounded by [`ClLimits`]: activities in total and per source IP, tracked source addresses,
//! fragments and bytes per call, reassembly bytes per source and in total, reply-cache bytes.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use msrpc_ndr::{DataRep, Uuid};

use super::conv::{self, WayRequest, WayResponse};
use super::frag::{ReceiveLimit, Receiver, Sender};
use super::pdu::{
    CancelAckBody, ClBody, ClFlags1, ClFlags2, ClHeader, ClPdu, FackBody, CL_HEADER_LEN, NO_HINT,
};
use crate::pdu::{FaultStatus, PacketType, SyntaxId};

/// `nca_s_who_are_you_failed` (C706 appendix E): the WAY callback failed; the manager did not
/// run.
pub const NCA_S_WHO_ARE_YOU_FAILED: FaultStatus = FaultStatus(0x1c00_000b);

/// Limits on what peers can make the server hold (each but `max_verified` has a test in
/// `tests/cl_pair.rs`; the scapy datagrams of `tests/hostile-udp` hit several against msrpcd).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClLimits {
    /// Activities held at once, all sources together.
    pub max_activities: usize,
    /// Activities held at once per source IP address.
    pub max_activities_per_source: usize,
    /// Source IP addresses tracked at once (budget and rate state).
    pub max_sources: usize,
    /// Fragments of one request.
    pub max_fragments: usize,
    /// Stub bytes of one request.
    pub max_request_bytes: usize,
    /// Reassembly bytes held per source IP address.
    pub max_reassembly_per_source: usize,
    /// Reassembly bytes held in total.
    pub max_reassembly_total: usize,
    /// Reply-cache bytes held in total (oldest replies go first).
    pub max_reply_cache_bytes: usize,
    /// Verified addresses remembered.
    pub max_verified: usize,
    /// Datagrams per second accepted from one source IP (token bucket rate; the burst is
    /// twice this).
    pub rate_per_source: u32,
    /// Datagrams per second accepted from all sources together (burst twice this).
    pub rate_global: u32,
}

impl Default for ClLimits {
    fn default() -> Self {
        ClLimits {
            max_activities: 4096,
            max_activities_per_source: 64,
            max_sources: 4096,
            max_fragments: 256,
            max_request_bytes: 256 * 1024,
            max_reassembly_per_source: 512 * 1024,
            max_reassembly_total: 16 * 1024 * 1024,
            max_reply_cache_bytes: 16 * 1024 * 1024,
            max_verified: 4096,
            rate_per_source: 2000,
            rate_global: 50_000,
        }
    }
}

/// Configuration of a [`ClServer`].
#[derive(Clone, Debug)]
pub struct ClServerConfig {
    /// The server's boot time (seconds; any value that changes when the server restarts):
    /// sent in every PDU, and requests naming another are rejected.
    pub boot_time: u32,
    /// Limits.
    pub limits: ClLimits,
    /// Accept requests with the `broadcast` flag (off: they are dropped).
    pub allow_broadcast: bool,
    /// Stub bytes per response fragment (1392 fits an Ethernet MTU with IPv4 and UDP).
    pub max_frag_body: usize,
    /// Response fragments per blast before a fack is awaited.
    pub window: usize,
    /// Window advertised in facks, in kilobytes.
    pub window_kb: u16,
    /// Retransmission timer for response blasts and WAY callbacks.
    pub retransmit: Duration,
    /// WAY callback retransmissions before the call is rejected.
    pub callback_retries: u32,
    /// An activity with no datagram for this long is forgotten (its cached reply with it).
    pub activity_idle: Duration,
    /// How long an address stays verified after its WAY answer.
    pub verified_for: Duration,
}

impl Default for ClServerConfig {
    fn default() -> Self {
        ClServerConfig {
            boot_time: 1,
            limits: ClLimits::default(),
            allow_broadcast: false,
            max_frag_body: 1392,
            window: 8,
            window_kb: 64,
            retransmit: Duration::from_millis(500),
            callback_retries: 4,
            activity_idle: Duration::from_secs(120),
            verified_for: Duration::from_secs(600),
        }
    }
}

/// A call's number within the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClCallId(pub u64);

/// A call ready to run (reassembled, checked, verified when it had to be).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClCall {
    /// The call's number (give it back to [`ClServer::complete`]).
    pub id: ClCallId,
    /// The client's address.
    pub peer: SocketAddr,
    /// The activity.
    pub activity: Uuid,
    /// The call's sequence number.
    pub seqnum: u32,
    /// The interface (UUID and version from the header).
    pub interface: SyntaxId,
    /// The operation.
    pub opnum: u16,
    /// The object UUID, unless nil.
    pub object: Option<Uuid>,
    /// The reassembled NDR20 stub.
    pub stub: Vec<u8>,
    /// Its data representation (the response must use it).
    pub drep: DataRep,
    /// The `idempotent` flag.
    pub idempotent: bool,
    /// The `maybe` flag (no reply will be sent).
    pub maybe: bool,
    /// True when the source answered a WAY callback (its address is proven).
    pub verified: bool,
}

/// How a call ended, as the runtime reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClOutcome {
    /// A response stub, in the request's data representation.
    Response(Vec<u8>),
    /// A fault (the manager ran, or failed in the stubs).
    Fault(FaultStatus),
    /// A reject (the call was refused before the manager ran: `nca_s_op_rng_error`, ...).
    Reject(FaultStatus),
}

/// What the server reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClServerEvent {
    /// A call to run; answer with [`ClServer::complete`].
    Call(ClCall),
    /// The client cancelled a running call (cl_cancel): the runtime may stop it and complete
    /// it with a fault `nca_s_fault_cancel`.
    Cancel(ClCallId),
    /// A limit was hit; `reason` is a stable code for the audit record. At most one per
    /// second for each source and reason (each reason alone for `rate_global` and `sources`).
    Limit {
        /// The source concerned.
        peer: SocketAddr,
        /// `rate_source`, `rate_global`, `broadcast`, `amplification_budget`, `sources`,
        /// `activities`, `activities_per_source`, `fragments`, `fragment_beyond_last`, `request_bytes`,
        /// `reassembly_source`, `reassembly_total`, `reply_cache`, `way_failed`.
        reason: &'static str,
    },
    /// A datagram that was refused before any state changed; `reason` is a stable code
    /// (the codec's [`super::pdu::ClPduError::reason_code`], `unexpected_ptype`...).
    Dropped {
        /// The source.
        peer: SocketAddr,
        /// Why.
        reason: &'static str,
    },
    /// A request was rejected (`status` sent, or held by the budget).
    Rejected {
        /// The source.
        peer: SocketAddr,
        /// The reject status.
        status: FaultStatus,
    },
    /// An address answered a WAY callback and is verified.
    Verified {
        /// The address.
        peer: SocketAddr,
        /// The activity the callback asked about.
        activity: Uuid,
    },
}

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Where.
    pub peer: SocketAddr,
    /// The datagram.
    pub bytes: Vec<u8>,
}

/// Per source IP address: the amplification budget and the token bucket.
#[derive(Debug)]
struct Source {
    bytes_in: u64,
    bytes_out: u64,
    tokens: f64,
    refilled: Instant,
    last_seen: Instant,
    activities: usize,
    reassembly: usize,
    /// When each reason was last reported for this source.
    last_limit_event: HashMap<&'static str, Instant>,
}

/// A call waiting for its WAY answer.
#[derive(Debug)]
struct Way {
    activity: Uuid,
    peer: SocketAddr,
    seqnum: u32,
    datagram_stub: Vec<u8>,
    sent: u32,
    deadline: Instant,
    /// The last transmission did not fit the budget.
    held: bool,
}

#[derive(Debug)]
enum State {
    Receiving(Receiver),
    /// Reassembled, waiting for the WAY callback's answer (by callback activity id).
    Verifying {
        call: Box<ClCall>,
        way: Uuid,
    },
    Executing(ClCallId),
    Replied(Reply),
    /// The reply was evicted from the cache (or the call was `maybe`): duplicates are dropped.
    Done,
}

#[derive(Debug)]
struct Reply {
    sender: Sender,
    bytes: usize,
    cached_at: Instant,
    last_sent: Option<Instant>,
    /// The client verified nothing yet and the budget held the reply back.
    held: bool,
}

#[derive(Debug)]
struct Activity {
    peer: SocketAddr,
    seqnum: u32,
    header: ClHeader,
    state: State,
    last_seen: Instant,
}

/// The connectionless server state machine (see the module documentation).
#[derive(Debug)]
pub struct ClServer {
    config: ClServerConfig,
    interfaces: Vec<SyntaxId>,
    activities: HashMap<Uuid, Activity>,
    sources: HashMap<IpAddr, Source>,
    verified: HashMap<SocketAddr, Instant>,
    /// WAY callbacks in flight, by the server's callback activity id.
    ways: HashMap<Uuid, Way>,
    calls: HashMap<ClCallId, Uuid>,
    next_call: u64,
    way_seq: u32,
    global_tokens: f64,
    global_refilled: Option<Instant>,
    global_limit_event: HashMap<&'static str, Instant>,
    reassembly_total: usize,
    reply_cache_total: usize,
    transmits: VecDeque<Transmit>,
    events: VecDeque<ClServerEvent>,
}

impl ClServer {
    /// A server for the interfaces `interfaces` (UUID and major version are matched; a
    /// request for any other interface is rejected with `nca_s_unk_if`).
    pub fn new(config: ClServerConfig, interfaces: impl IntoIterator<Item = SyntaxId>) -> Self {
        ClServer {
            config,
            interfaces: interfaces.into_iter().collect(),
            activities: HashMap::new(),
            sources: HashMap::new(),
            verified: HashMap::new(),
            ways: HashMap::new(),
            calls: HashMap::new(),
            next_call: 1,
            way_seq: 0,
            global_tokens: 0.0,
            global_refilled: None,
            global_limit_event: HashMap::new(),
            reassembly_total: 0,
            reply_cache_total: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClServerConfig {
        &self.config
    }

    /// The server's boot time.
    pub fn boot_time(&self) -> u32 {
        self.config.boot_time
    }

    /// Activities held.
    pub fn activities(&self) -> usize {
        self.activities.len()
    }

    /// Source addresses tracked.
    pub fn sources(&self) -> usize {
        self.sources.len()
    }

    /// Reassembly bytes held (all sources).
    pub fn reassembly_bytes(&self) -> usize {
        self.reassembly_total
    }

    /// Reply-cache bytes held.
    pub fn reply_cache_bytes(&self) -> usize {
        self.reply_cache_total
    }

    /// Bytes received from an IP address and bytes sent to its unverified addresses (the
    /// amplification budget: the second never exceeds the first).
    pub fn budget(&self, ip: IpAddr) -> Option<(u64, u64)> {
        self.sources.get(&ip).map(|s| (s.bytes_in, s.bytes_out))
    }

    /// True when `peer` answered a WAY callback (and it has not expired).
    pub fn is_verified(&self, peer: SocketAddr, now: Instant) -> bool {
        self.verified.get(&peer).is_some_and(|t| *t > now)
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClServerEvent> {
        self.events.pop_front()
    }

    fn limit(&mut self, now: Instant, peer: SocketAddr, reason: &'static str) {
        // At most one event per second for each source and reason (each reason alone for the
        // limits that concern no tracked source: the global rate, the source table), so a
        // flood does not flood the audit log. Both maps hold at most one entry per reason.
        let last = match self.sources.get_mut(&peer.ip()) {
            Some(s) if !matches!(reason, "rate_global" | "sources") => &mut s.last_limit_event,
            _ => &mut self.global_limit_event,
        };
        if last
            .get(reason)
            .is_some_and(|t| now.saturating_duration_since(*t) < Duration::from_secs(1))
        {
            return;
        }
        last.insert(reason, now);
        self.events.push_back(ClServerEvent::Limit { peer, reason });
    }

    /// Sends `pdu` to `peer` if the address is verified or the budget allows; returns whether
    /// it went.
    fn send(&mut self, now: Instant, peer: SocketAddr, pdu: &ClPdu) -> bool {
        let Ok(bytes) = pdu.encode() else {
            return false;
        };
        let verified = self.is_verified(peer, now);
        let Some(src) = self.sources.get_mut(&peer.ip()) else {
            return false;
        };
        let len = bytes.len() as u64;
        if !verified && src.bytes_out.saturating_add(len) > src.bytes_in {
            self.limit(now, peer, "amplification_budget");
            return false;
        }
        if !verified {
            // Only what goes to unverified addresses spends the budget.
            src.bytes_out = src.bytes_out.saturating_add(len);
        }
        self.transmits.push_back(Transmit { peer, bytes });
        true
    }

    fn reply_header(&self, req: &ClHeader, ptype: PacketType) -> ClHeader {
        ClHeader {
            ptype,
            flags1: ClFlags1::default(),
            flags2: ClFlags2::default(),
            drep: req.drep,
            serial: 0,
            object: req.object,
            interface: req.interface,
            activity: req.activity,
            server_boot: self.config.boot_time,
            if_vers: req.if_vers,
            seqnum: req.seqnum,
            opnum: req.opnum,
            ihint: NO_HINT,
            ahint: NO_HINT,
            len: 0,
            fragnum: 0,
            auth_proto: crate::pdu::AuthType::NONE,
        }
    }

    fn simple(&mut self, now: Instant, peer: SocketAddr, req: &ClHeader, body: ClBody) -> bool {
        let pdu = ClPdu {
            header: self.reply_header(req, PacketType::WORKING),
            body,
            auth: Vec::new(),
        };
        self.send(now, peer, &pdu)
    }

    /// Takes one datagram from `peer`.
    pub fn handle_datagram(&mut self, now: Instant, peer: SocketAddr, datagram: &[u8]) {
        // Rate limits first: nothing else is done for a datagram over them.
        if !self.take_global_token(now) {
            self.limit(now, peer, "rate_global");
            return;
        }
        if !self.sources.contains_key(&peer.ip()) {
            if self.sources.len() >= self.config.limits.max_sources {
                self.expire_sources(now);
            }
            if self.sources.len() >= self.config.limits.max_sources {
                self.limit(now, peer, "sources");
                return;
            }
            let burst = f64::from(self.config.limits.rate_per_source) * 2.0;
            self.sources.insert(
                peer.ip(),
                Source {
                    bytes_in: 0,
                    bytes_out: 0,
                    tokens: burst,
                    refilled: now,
                    last_seen: now,
                    activities: 0,
                    reassembly: 0,
                    last_limit_event: HashMap::new(),
                },
            );
        }
        let rate = f64::from(self.config.limits.rate_per_source);
        let Some(src) = self.sources.get_mut(&peer.ip()) else {
            return;
        };
        let elapsed = now.saturating_duration_since(src.refilled).as_secs_f64();
        src.tokens = (src.tokens + elapsed * rate).min(rate * 2.0);
        src.refilled = now;
        src.last_seen = now;
        if src.tokens < 1.0 {
            self.limit(now, peer, "rate_source");
            return;
        }
        src.tokens -= 1.0;
        src.bytes_in = src.bytes_in.saturating_add(datagram.len() as u64);

        let pdu = match ClPdu::decode(datagram) {
            Ok(p) => p,
            Err(e) => {
                self.events.push_back(ClServerEvent::Dropped {
                    peer,
                    reason: e.reason_code(),
                });
                return;
            }
        };
        if pdu.header.flags1.contains(ClFlags1::BROADCAST) && !self.config.allow_broadcast {
            self.limit(now, peer, "broadcast");
            return;
        }
        match pdu.header.ptype {
            PacketType::REQUEST => self.on_request(now, peer, pdu),
            PacketType::PING => self.on_ping(now, peer, &pdu.header),
            PacketType::ACK => self.on_ack(now, peer, &pdu.header),
            PacketType::FACK => self.on_fack(now, peer, &pdu),
            PacketType::CL_CANCEL => self.on_cancel(now, peer, &pdu),
            PacketType::RESPONSE | PacketType::FAULT | PacketType::REJECT => {
                self.on_way_answer(now, peer, pdu)
            }
            // Working and nocall answer our callbacks' pings, which we do not send; the rest
            // is not for a server.
            _ => self.events.push_back(ClServerEvent::Dropped {
                peer,
                reason: "unexpected_ptype",
            }),
        }
    }

    fn take_global_token(&mut self, now: Instant) -> bool {
        let rate = f64::from(self.config.limits.rate_global);
        let elapsed = self
            .global_refilled
            .map_or(2.0, |t| now.saturating_duration_since(t).as_secs_f64());
        self.global_tokens = (self.global_tokens + elapsed * rate).min(rate * 2.0);
        self.global_refilled = Some(now);
        if self.global_tokens < 1.0 {
            return false;
        }
        self.global_tokens -= 1.0;
        true
    }

    fn serves(&self, h: &ClHeader) -> bool {
        self.interfaces
            .iter()
            .any(|s| s.uuid == h.interface && s.major == h.if_major())
    }

    /// Rejects the request in `h` (statelessly: a retransmission is rejected again).
    fn reject(&mut self, now: Instant, peer: SocketAddr, h: &ClHeader, status: FaultStatus) {
        self.events
            .push_back(ClServerEvent::Rejected { peer, status });
        let pdu = ClPdu {
            header: self.reply_header(h, PacketType::REJECT),
            body: ClBody::Reject(status),
            auth: Vec::new(),
        };
        let _ = self.send(now, peer, &pdu);
    }

    fn on_request(&mut self, now: Instant, peer: SocketAddr, pdu: ClPdu) {
        let h = pdu.header;
        let ClBody::Request(body) = pdu.body else {
            return;
        };
        if h.interface == conv::CONV.uuid {
            // We serve no callbacks ourselves.
            self.reject(now, peer, &h, FaultStatus::NCA_S_UNK_IF);
            return;
        }
        if h.server_boot != 0 && h.server_boot != self.config.boot_time {
            self.reject(now, peer, &h, FaultStatus::NCA_S_WRONG_BOOT_TIME);
            return;
        }
        if !self.serves(&h) {
            self.reject(now, peer, &h, FaultStatus::NCA_S_UNK_IF);
            return;
        }
        if h.auth_proto != crate::pdu::AuthType::NONE {
            // Connectionless authentication (MS-RPCE 3.2.1.5.1) is not implemented: a call that
            // asks for it is refused, never run as if it were unauthenticated (its client would
            // believe it authenticated, and the verifier would go unchecked).
            self.reject(now, peer, &h, FaultStatus::NCA_S_UNSUPPORTED_AUTHN_LEVEL);
            return;
        }
        // The activity: known (same source) or new.
        let known = self.activities.get(&h.activity).map(|a| (a.peer, a.seqnum));
        match known {
            Some((p, _)) if p != peer => {
                // An activity id from another address: another client (or a spoofer) cannot
                // take over an activity.
                self.events.push_back(ClServerEvent::Dropped {
                    peer,
                    reason: "activity_other_address",
                });
                return;
            }
            Some((_, seq)) if h.seqnum < seq => return, // an old call's retransmission
            Some((_, seq)) if h.seqnum == seq => {
                self.same_call_request(now, peer, h, &body);
                return;
            }
            Some(_) => self.end_call(h.activity),
            None => {
                if self.activities.len() >= self.config.limits.max_activities {
                    self.expire(now);
                }
                if self.activities.len() >= self.config.limits.max_activities {
                    self.limit(now, peer, "activities");
                    return;
                }
                let per = self.sources.get(&peer.ip()).map_or(0, |s| s.activities);
                if per >= self.config.limits.max_activities_per_source {
                    self.limit(now, peer, "activities_per_source");
                    return;
                }
                if let Some(s) = self.sources.get_mut(&peer.ip()) {
                    s.activities = s.activities.saturating_add(1);
                }
            }
        }
        self.activities.insert(
            h.activity,
            Activity {
                peer,
                seqnum: h.seqnum,
                header: h,
                state: State::Receiving(Receiver::new()),
                last_seen: now,
            },
        );
        self.same_call_request(now, peer, h, &body);
    }

    /// Frees what the activity's current call holds (reassembly, cached reply).
    fn end_call(&mut self, activity: Uuid) {
        let Some(a) = self.activities.get_mut(&activity) else {
            return;
        };
        match std::mem::replace(&mut a.state, State::Done) {
            State::Receiving(r) => {
                let n = r.bytes();
                self.reassembly_total = self.reassembly_total.saturating_sub(n);
                if let Some(s) = self.sources.get_mut(&a.peer.ip()) {
                    s.reassembly = s.reassembly.saturating_sub(n);
                }
            }
            State::Replied(r) => {
                self.reply_cache_total = self.reply_cache_total.saturating_sub(r.bytes);
            }
            State::Verifying { way, .. } => {
                self.ways.remove(&way);
            }
            State::Executing(id) => {
                // The runtime's answer will find no call.
                self.calls.remove(&id);
            }
            State::Done => {}
        }
    }

    fn same_call_request(&mut self, now: Instant, peer: SocketAddr, h: ClHeader, body: &[u8]) {
        let limits = self.config.limits.clone();
        let Some(a) = self.activities.get_mut(&h.activity) else {
            return;
        };
        a.last_seen = now;
        match &mut a.state {
            State::Receiving(r) => {
                let single = !h.flags1.contains(ClFlags1::FRAG);
                let last = single || h.flags1.contains(ClFlags1::LASTFRAG);
                let fragnum = if single { 0 } else { h.fragnum };
                let src_room = self.sources.get(&peer.ip()).map_or(0, |s| {
                    limits
                        .max_reassembly_per_source
                        .saturating_sub(s.reassembly)
                });
                let total_room = limits
                    .max_reassembly_total
                    .saturating_sub(self.reassembly_total);
                let room = limits
                    .max_request_bytes
                    .saturating_sub(r.bytes())
                    .min(src_room)
                    .min(total_room);
                match r.add(fragnum, last, body, limits.max_fragments, r.bytes() + room) {
                    Ok(added) => {
                        self.reassembly_total = self.reassembly_total.saturating_add(added);
                        if let Some(s) = self.sources.get_mut(&peer.ip()) {
                            s.reassembly = s.reassembly.saturating_add(added);
                        }
                    }
                    Err(e) => {
                        let reason = match e {
                            ReceiveLimit::Fragments => "fragments",
                            ReceiveLimit::BeyondLast => "fragment_beyond_last",
                            ReceiveLimit::Bytes if room == total_room => "reassembly_total",
                            ReceiveLimit::Bytes if room == src_room => "reassembly_source",
                            ReceiveLimit::Bytes => "request_bytes",
                        };
                        self.end_call(h.activity);
                        self.limit(now, peer, reason);
                        self.reject(now, peer, &h, FaultStatus::NCA_S_PROTO_ERROR);
                        return;
                    }
                }
                let Some(a) = self.activities.get_mut(&h.activity) else {
                    return;
                };
                let State::Receiving(r) = &a.state else {
                    return;
                };
                if r.complete() {
                    self.request_complete(now, peer, h.activity);
                } else if !single && !h.flags1.contains(ClFlags1::NOFACK) {
                    let (fragnum, fack) = r.fack_body(
                        h.serial,
                        self.config.window_kb,
                        (self.config.max_frag_body + CL_HEADER_LEN) as u32,
                    );
                    let mut fh = self.reply_header(&h, PacketType::FACK);
                    fh.fragnum = fragnum;
                    let pdu = ClPdu {
                        header: fh,
                        body: ClBody::Fack(Some(fack)),
                        auth: Vec::new(),
                    };
                    let _ = self.send(now, peer, &pdu);
                }
            }
            State::Replied(r) => {
                // The client retransmits: it lacks the reply.
                r.sender.reset_acks();
                if !self.retry_held_way(now, h.activity) {
                    self.resend_reply(now, h.activity);
                }
            }
            State::Verifying { .. } => {
                self.retry_held_way(now, h.activity);
            }
            State::Executing(_) | State::Done => {}
        }
    }

    /// The request is reassembled: verify (WAY) or hand it to the runtime.
    fn request_complete(&mut self, now: Instant, peer: SocketAddr, activity: Uuid) {
        let Some(a) = self.activities.get_mut(&activity) else {
            return;
        };
        let State::Receiving(r) = std::mem::replace(&mut a.state, State::Done) else {
            return;
        };
        let n = r.bytes();
        self.reassembly_total = self.reassembly_total.saturating_sub(n);
        if let Some(s) = self.sources.get_mut(&peer.ip()) {
            s.reassembly = s.reassembly.saturating_sub(n);
        }
        let h = a.header;
        let stub = r.assemble().unwrap_or_default();
        let id = ClCallId(self.next_call);
        self.next_call = self.next_call.wrapping_add(1);
        let verified = self.is_verified(peer, now);
        let call = ClCall {
            id,
            peer,
            activity,
            seqnum: h.seqnum,
            interface: SyntaxId::new(h.interface, h.if_major(), h.if_minor()),
            opnum: h.opnum,
            object: (!h.object.is_nil()).then_some(h.object),
            stub,
            drep: h.drep,
            idempotent: h.flags1.contains(ClFlags1::IDEMPOTENT),
            maybe: h.flags1.contains(ClFlags1::MAYBE),
            verified,
        };
        if verified || call.idempotent || call.maybe {
            self.run(activity, call);
        } else {
            self.start_way(now, Some(call), activity, peer, h.seqnum);
        }
    }

    fn run(&mut self, activity: Uuid, call: ClCall) {
        if let Some(a) = self.activities.get_mut(&activity) {
            a.state = State::Executing(call.id);
        }
        self.calls.insert(call.id, activity);
        self.events.push_back(ClServerEvent::Call(call));
    }

    /// Sends a `conv_who_are_you2` callback about `activity` to `peer`; with `call`, the call
    /// waits for the answer, without, a held reply does.
    fn start_way(
        &mut self,
        now: Instant,
        call: Option<ClCall>,
        activity: Uuid,
        peer: SocketAddr,
        seqnum: u32,
    ) {
        let way_id = Uuid::new_v4();
        let stub = WayRequest {
            actuid: activity,
            boot_time: self.config.boot_time,
        }
        .encode(DataRep::LITTLE_ENDIAN);
        let way = Way {
            activity,
            peer,
            seqnum,
            datagram_stub: stub,
            sent: 0,
            deadline: now,
            held: false,
        };
        if let Some(call) = call {
            if let Some(a) = self.activities.get_mut(&activity) {
                a.state = State::Verifying {
                    call: Box::new(call),
                    way: way_id,
                };
            }
        }
        self.ways.insert(way_id, way);
        self.send_way(now, way_id);
    }

    fn send_way(&mut self, now: Instant, way_id: Uuid) {
        self.way_seq = self.way_seq.wrapping_add(1);
        let seq = self.way_seq;
        let retransmit = self.config.retransmit;
        let Some(w) = self.ways.get_mut(&way_id) else {
            return;
        };
        w.sent = w.sent.saturating_add(1);
        w.deadline = now + retransmit;
        let peer = w.peer;
        let pdu = ClPdu {
            header: ClHeader {
                ptype: PacketType::REQUEST,
                flags1: ClFlags1::IDEMPOTENT,
                interface: conv::CONV.uuid,
                if_vers: ClHeader::vers(conv::CONV.major, conv::CONV.minor),
                activity: way_id,
                seqnum: seq,
                opnum: conv::OP_WHO_ARE_YOU2,
                ..ClHeader::default()
            },
            body: ClBody::Request(w.datagram_stub.clone()),
            auth: Vec::new(),
        };
        let sent = self.send(now, peer, &pdu);
        if let Some(w) = self.ways.get_mut(&way_id) {
            w.held = !sent;
            if !sent {
                // Held by the budget: does not count as a try; the next datagram from the
                // source (which raises the budget) or the timer tries again.
                w.sent = w.sent.saturating_sub(1);
            }
        }
    }

    /// Tries again a WAY callback of `activity` that the budget held back.
    fn retry_held_way(&mut self, now: Instant, activity: Uuid) -> bool {
        let held = self
            .ways
            .iter()
            .find(|(_, w)| w.activity == activity && w.held)
            .map(|(k, _)| *k);
        match held {
            Some(k) => {
                self.send_way(now, k);
                true
            }
            None => false,
        }
    }

    fn on_way_answer(&mut self, now: Instant, peer: SocketAddr, pdu: ClPdu) {
        let Some(w) = self.ways.get(&pdu.header.activity) else {
            self.events.push_back(ClServerEvent::Dropped {
                peer,
                reason: "unexpected_ptype",
            });
            return;
        };
        if w.peer != peer {
            self.events.push_back(ClServerEvent::Dropped {
                peer,
                reason: "way_other_address",
            });
            return;
        }
        let Some(w) = self.ways.remove(&pdu.header.activity) else {
            return;
        };
        let ok = match &pdu.body {
            ClBody::Response(stub) => WayResponse::decode(stub, pdu.header.drep)
                .is_some_and(|r| r.st == 0 && r.seq == w.seqnum),
            _ => false,
        };
        if ok {
            if self.verified.len() >= self.config.limits.max_verified {
                self.verified.retain(|_, t| *t > now);
            }
            if self.verified.len() < self.config.limits.max_verified {
                self.verified.insert(peer, now + self.config.verified_for);
            }
            self.events.push_back(ClServerEvent::Verified {
                peer,
                activity: w.activity,
            });
        }
        self.way_done(now, w, ok);
    }

    fn way_done(&mut self, now: Instant, w: Way, ok: bool) {
        let Some(a) = self.activities.get_mut(&w.activity) else {
            return;
        };
        if a.seqnum != w.seqnum {
            return;
        }
        match std::mem::replace(&mut a.state, State::Done) {
            State::Verifying { mut call, .. } => {
                if ok {
                    call.verified = true;
                    self.run(w.activity, *call);
                } else {
                    let h = a.header;
                    self.limit(now, w.peer, "way_failed");
                    self.reject(now, w.peer, &h, NCA_S_WHO_ARE_YOU_FAILED);
                }
            }
            State::Replied(r) => {
                a.state = State::Replied(r);
                if ok {
                    self.resend_reply(now, w.activity);
                }
            }
            other => a.state = other,
        }
    }

    /// The runtime's answer to a [`ClServerEvent::Call`]. Unknown (or no longer current)
    /// calls are ignored.
    pub fn complete(&mut self, now: Instant, id: ClCallId, outcome: ClOutcome) {
        let Some(activity) = self.calls.remove(&id) else {
            return;
        };
        let Some(a) = self.activities.get_mut(&activity) else {
            return;
        };
        if !matches!(a.state, State::Executing(i) if i == id) {
            return;
        }
        let h = a.header;
        let peer = a.peer;
        if h.flags1.contains(ClFlags1::MAYBE) {
            a.state = State::Done;
            return;
        }
        let mut template = self.reply_header(&h, PacketType::RESPONSE);
        let stub = match outcome {
            ClOutcome::Response(stub) => stub,
            ClOutcome::Fault(st) => {
                template.ptype = PacketType::FAULT;
                st_bytes(h.drep, st)
            }
            ClOutcome::Reject(st) => {
                template.ptype = PacketType::REJECT;
                self.events
                    .push_back(ClServerEvent::Rejected { peer, status: st });
                st_bytes(h.drep, st)
            }
        };
        let sender = Sender::new(
            template,
            &stub,
            self.config.max_frag_body,
            self.config.window,
        );
        let bytes = stub.len() + sender.len() * CL_HEADER_LEN;
        self.reply_cache_total = self.reply_cache_total.saturating_add(bytes);
        let Some(a) = self.activities.get_mut(&activity) else {
            return;
        };
        a.state = State::Replied(Reply {
            sender,
            bytes,
            cached_at: now,
            last_sent: None,
            held: false,
        });
        self.trim_reply_cache(now, activity);
        self.resend_reply(now, activity);
    }

    fn trim_reply_cache(&mut self, now: Instant, keep: Uuid) {
        while self.reply_cache_total > self.config.limits.max_reply_cache_bytes {
            let oldest = self
                .activities
                .iter()
                .filter_map(|(k, a)| match &a.state {
                    State::Replied(r) if *k != keep => Some((r.cached_at, *k, a.peer)),
                    _ => None,
                })
                .min();
            let Some((_, k, peer)) = oldest else { break };
            self.end_call(k);
            self.limit(now, peer, "reply_cache");
        }
    }

    /// Sends the next blast of the activity's cached reply (what the budget allows); a reply
    /// that does not fit starts a WAY callback to verify the address.
    fn resend_reply(&mut self, now: Instant, activity: Uuid) {
        let Some(a) = self.activities.get_mut(&activity) else {
            return;
        };
        let peer = a.peer;
        let seqnum = a.seqnum;
        let State::Replied(r) = &mut a.state else {
            return;
        };
        r.last_sent = Some(now);
        let blast = r.sender.blast();
        let fault_like = !matches!(
            blast.first().map(|p| p.header.ptype),
            Some(PacketType::RESPONSE)
        );
        let mut held = false;
        for p in &blast {
            if !self.send(now, peer, p) {
                held = true;
                break;
            }
        }
        let Some(a) = self.activities.get_mut(&activity) else {
            return;
        };
        let State::Replied(r) = &mut a.state else {
            return;
        };
        if r.sender.single() && !held {
            // A one-fragment reply needs no fack; it stays cached for duplicates until acked.
            r.sender.ack_all();
        }
        let was_held = r.held;
        r.held = held;
        if held && !was_held && !fault_like && !self.ways.values().any(|w| w.activity == activity) {
            self.start_way(now, None, activity, peer, seqnum);
        }
    }

    fn on_ping(&mut self, now: Instant, peer: SocketAddr, h: &ClHeader) {
        let state = self
            .activities
            .get(&h.activity)
            .filter(|a| a.peer == peer && a.seqnum == h.seqnum)
            .map(|a| match &a.state {
                State::Receiving(r) => u8::from(r.bytes() > 0),
                State::Verifying { .. } | State::Executing(_) => 2,
                State::Replied(_) => 3,
                State::Done => 4,
            });
        if let Some(a) = self.activities.get_mut(&h.activity) {
            a.last_seen = now;
        }
        match state {
            Some(2) => {
                if !self.retry_held_way(now, h.activity) {
                    self.simple(now, peer, h, ClBody::Working);
                }
            }
            Some(3) => {
                if self.retry_held_way(now, h.activity) {
                    return;
                }
                if let Some(a) = self.activities.get_mut(&h.activity) {
                    if let State::Replied(r) = &mut a.state {
                        // A ping asks for the reply again from its start.
                        r.sender.reset_acks();
                    }
                }
                self.resend_reply(now, h.activity);
            }
            Some(1) => {
                let fack = self
                    .activities
                    .get(&h.activity)
                    .and_then(|a| match &a.state {
                        State::Receiving(r) => Some(r.fack_body(
                            h.serial,
                            self.config.window_kb,
                            (self.config.max_frag_body + CL_HEADER_LEN) as u32,
                        )),
                        _ => None,
                    });
                if let Some((fragnum, body)) = fack {
                    let mut rh = self.reply_header(h, PacketType::NOCALL);
                    rh.fragnum = fragnum;
                    let pdu = ClPdu {
                        header: rh,
                        body: ClBody::Nocall(Some(body)),
                        auth: Vec::new(),
                    };
                    let _ = self.send(now, peer, &pdu);
                }
            }
            _ => {
                self.simple(now, peer, h, ClBody::Nocall(None));
            }
        }
    }

    fn on_ack(&mut self, _now: Instant, peer: SocketAddr, h: &ClHeader) {
        let current = self.activities.get(&h.activity).is_some_and(|a| {
            a.peer == peer && a.seqnum == h.seqnum && matches!(a.state, State::Replied(_))
        });
        if current {
            self.end_call(h.activity);
        }
    }

    fn on_fack(&mut self, now: Instant, peer: SocketAddr, pdu: &ClPdu) {
        let h = &pdu.header;
        let max_body = self.config.max_frag_body;
        let Some(a) = self.activities.get_mut(&h.activity) else {
            return;
        };
        if a.peer != peer || a.seqnum != h.seqnum {
            return;
        }
        a.last_seen = now;
        let State::Replied(r) = &mut a.state else {
            return;
        };
        let body = match &pdu.body {
            ClBody::Fack(b) => b.as_ref(),
            _ => None,
        };
        r.sender.on_fack(h.fragnum, body, max_body);
        if !r.sender.all_acked() {
            self.resend_reply(now, h.activity);
        }
    }

    fn on_cancel(&mut self, now: Instant, peer: SocketAddr, pdu: &ClPdu) {
        let h = &pdu.header;
        let ClBody::Cancel(c) = &pdu.body else {
            return;
        };
        let running = self
            .activities
            .get(&h.activity)
            .filter(|a| a.peer == peer && a.seqnum == h.seqnum)
            .and_then(|a| match a.state {
                State::Executing(id) => Some(id),
                _ => None,
            });
        if let Some(id) = running {
            self.events.push_back(ClServerEvent::Cancel(id));
        }
        let body = ClBody::CancelAck(CancelAckBody {
            vers: 0,
            cancel_id: c.cancel_id,
            server_is_accepting: running.is_some(),
        });
        self.simple(now, peer, h, body);
    }

    /// When [`ClServer::handle_timeout`] next wants to run.
    pub fn next_timeout(&self) -> Option<Instant> {
        let way = self.ways.values().map(|w| w.deadline).min();
        let reply = self
            .activities
            .values()
            .filter_map(|a| match &a.state {
                State::Replied(r) if !r.sender.all_acked() && !r.held => {
                    r.last_sent.map(|t| t + self.config.retransmit)
                }
                _ => None,
            })
            .min();
        let idle = self
            .activities
            .values()
            .map(|a| a.last_seen + self.config.activity_idle)
            .min();
        [way, reply, idle].into_iter().flatten().min()
    }

    /// Runs the timers due at `now`: WAY retransmissions and failures, response blast
    /// retransmissions, expiry of idle activities and sources.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<Uuid> = self
            .ways
            .iter()
            .filter(|(_, w)| w.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        for k in due {
            let sent = self.ways.get(&k).map_or(0, |w| w.sent);
            if sent > self.config.callback_retries {
                if let Some(w) = self.ways.remove(&k) {
                    self.way_done(now, w, false);
                }
            } else {
                self.send_way(now, k);
            }
        }
        let retransmit = self.config.retransmit;
        let due: Vec<Uuid> = self
            .activities
            .iter()
            .filter(|(_, a)| match &a.state {
                State::Replied(r) => {
                    !r.sender.all_acked()
                        && !r.held
                        && r.last_sent.is_some_and(|t| t + retransmit <= now)
                }
                _ => false,
            })
            .map(|(k, _)| *k)
            .collect();
        for k in due {
            self.resend_reply(now, k);
        }
        self.expire(now);
    }

    fn expire(&mut self, now: Instant) {
        let idle = self.config.activity_idle;
        let old: Vec<Uuid> = self
            .activities
            .iter()
            .filter(|(_, a)| a.last_seen + idle <= now && !matches!(a.state, State::Executing(_)))
            .map(|(k, _)| *k)
            .collect();
        for k in old {
            self.end_call(k);
            if let Some(a) = self.activities.remove(&k) {
                if let Some(s) = self.sources.get_mut(&a.peer.ip()) {
                    s.activities = s.activities.saturating_sub(1);
                }
            }
        }
        self.verified.retain(|_, t| *t > now);
    }

    fn expire_sources(&mut self, now: Instant) {
        self.expire(now);
        let idle = self.config.activity_idle;
        self.sources
            .retain(|_, s| s.activities > 0 || s.last_seen + idle > now);
    }
}

fn st_bytes(drep: DataRep, st: FaultStatus) -> Vec<u8> {
    match drep.endian() {
        msrpc_ndr::Endian::Little => st.0.to_le_bytes().to_vec(),
        msrpc_ndr::Endian::Big => st.0.to_be_bytes().to_vec(),
    }
}

/// A fack body as the server sends it (for tests and the client).
pub fn fack_for(serial: u16, window_kb: u16, max_frag: u32) -> FackBody {
    FackBody {
        vers: super::frag::FACK_VERS,
        window_size: window_kb,
        max_tsdu: 65_507,
        max_frag_size: max_frag,
        serial_num: serial,
        selack: Vec::new(),
    }
}
