//! The live adapter: turns what a running server reports (connection opened and closed, the
//! protocol core's `ServerEvent`s, call completions) into [`Event`]s with Zeek-style `uid`s.
//!
//! It has no runtime dependency: the server's observer converts its callbacks into owned
//! [`Input`]s (cheaply, on the connection task: stubs are copied only for the interfaces
//! the audit interprets, see [`Input::call_done`]), sends them to a writer task, and the
//! writer task feeds them to a [`Live`] adapter with their time stamp ([`Live::feed_with`]
//! hands the events to a closure by reference, a call's without allocating; [`Live::feed`]
//! collects the same events).

use rustc_hash::FxHashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use msrpc_ndr::{DataRep, TransferSyntax};
use msrpc_proto::pdu::{AuthLevel, AuthType, ContextResult, FaultStatus, SyntaxId};
use msrpc_proto::server::{BindKind, ServerEvent};

use crate::names::{interface_name, operation_name, EPM};
use crate::{AuthOutcome, BindContext, ConnId, Event, EventKind};

/// Connections the adapter tracks at once; past it the oldest is forgotten (its later events
/// still get records, with a fresh state).
pub const MAX_TRACKED_CONNECTIONS: usize = 65_536;

/// Longest user name or reason text copied into a record.
const MAX_TEXT: usize = 256;

/// What a server reports, owned (for a channel to a writer task).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Input {
    /// A connection was accepted.
    Opened {
        /// Server-wide connection number.
        conn_id: u64,
        /// The client's address (`None` for a local channel).
        peer: Option<SocketAddr>,
        /// Our address (`None` for a local channel).
        local: Option<SocketAddr>,
    },
    /// A connection was accepted and closed at once (the server was full).
    Refused {
        /// The client's address.
        peer: Option<SocketAddr>,
        /// Our address.
        local: Option<SocketAddr>,
        /// Stable reason code.
        reason: String,
    },
    /// A protocol event other than a call (use [`Input::server`] to build it).
    Server {
        /// Server-wide connection number.
        conn_id: u64,
        /// The event; never `ServerEvent::Call` (that becomes [`Input::Request`]). Boxed, as
        /// the stubs of [`Input::CallDone`]: inputs stay small (cheap to move through a queue).
        event: Box<ServerEvent>,
    },
    /// A request was dispatched (`ServerEvent::Call` without its stub).
    Request {
        /// Server-wide connection number.
        conn_id: u64,
        /// `call_id`.
        call_id: u32,
        /// Request fragments.
        fragments: u32,
        /// Auth level of the call, when authenticated.
        auth_level: Option<AuthLevel>,
        /// Authenticated user, when established.
        user: Option<String>,
    },
    /// A dispatched call finished.
    CallDone {
        /// Server-wide connection number.
        conn_id: u64,
        /// `call_id`.
        call_id: u32,
        /// Interface of the call.
        interface: SyntaxId,
        /// Opnum.
        opnum: u16,
        /// Data representation of the stubs.
        drep: DataRep,
        /// Transfer syntax of the stubs: the one the call's presentation context accepted
        /// (the server's `IncomingCall::transfer_syntax`); every stub kept is read in it.
        transfer_syntax: TransferSyntax,
        /// Request stub length.
        stub_in: u64,
        /// Response stub length (0 on a fault).
        stub_out: u64,
        /// The stubs, when kept (EPM and DCOM activation calls), else `None`.
        stubs: Option<Box<CallStubs>>,
        /// The request's facts (fragments, auth level, user) when the producer has them at
        /// the call's end (see [`Input::with_request_facts`]); `None`: from the call's
        /// earlier [`Input::Request`].
        facts: Option<RequestFacts>,
        /// The fault sent instead of a response.
        fault: Option<FaultStatus>,
        /// Seconds from the request to the response.
        duration: f64,
    },
    /// A security policy decision on a call (for the policy layer to report).
    Policy {
        /// Server-wide connection number.
        conn_id: u64,
        /// `call_id`.
        call_id: u32,
        /// Interface UUID.
        interface: String,
        /// Opnum.
        opnum: u16,
        /// `deny` or `audit`.
        action: String,
        /// Stable reason code.
        reason: String,
        /// The rule that matched.
        rule: Option<String>,
        /// The caller's user, when authenticated.
        user: Option<String>,
    },
    /// A service refused a request with an exploit's shape it found decoding it (a DCOM
    /// activation blob beyond its limits: absurd property counts or sizes, nested OBJREFs, an
    /// oversized name), reported by the service itself (`CallContext::conn_id`).
    ExploitShape {
        /// Server-wide connection number.
        conn_id: u64,
        /// `call_id`.
        call_id: u32,
        /// Interface UUID.
        interface: String,
        /// Opnum.
        opnum: u16,
        /// Stable shape code.
        shape: String,
        /// Human-readable detail.
        detail: String,
    },
    /// What a DCOM host decided about a call (or, connection 0, by its garbage collector):
    /// becomes a `dcom_call`, `dcom_ping` or `dcom_gc` event, formatted on the writer's side.
    Dcom {
        /// Server-wide connection number (0: the host itself).
        conn_id: u64,
        /// The facts, boxed (inputs stay small).
        input: Box<DcomInput>,
    },
    /// A hosted COM class's name (a DCOM host reports it when it activates the class): the
    /// `dcom_activation` events of that CLSID name it when [`crate::dcom::CLASSES`] does not.
    ClassName {
        /// The CLSID.
        clsid: msrpc_ndr::Uuid,
        /// Its registered name.
        name: String,
    },
    /// PDUs crossed a connection.
    Pdus {
        /// Server-wide connection number.
        conn_id: u64,
        /// Received.
        received: u64,
        /// Sent.
        sent: u64,
    },
    /// A connection closed.
    Closed {
        /// Server-wide connection number.
        conn_id: u64,
        /// Why.
        reason: String,
    },
}

/// What a DCOM host reports ([`Input::Dcom`]), typed: the writer formats it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DcomInput {
    /// An ORPC call answered ([`EventKind::DcomCall`]).
    Call {
        /// `call_id`.
        call_id: u32,
        /// The IPID named.
        ipid: msrpc_ndr::Uuid,
        /// Its object, when the IPID names one.
        oid: Option<u64>,
        /// The object's class name.
        class: Option<&'static str>,
        /// The interface (IID).
        interface: msrpc_ndr::Uuid,
        /// Operation number.
        opnum: u16,
        /// The HRESULT answered.
        hresult: u32,
    },
    /// A ping answered ([`EventKind::DcomPing`]).
    Ping {
        /// `call_id`.
        call_id: u32,
        /// ComplexPing (else SimplePing).
        complex: bool,
        /// The set.
        set_id: u64,
        /// OIDs added (the writer keeps the first [`MAX_LISTED_OIDS`]).
        added: Vec<u64>,
        /// OIDs removed.
        removed: Vec<u64>,
        /// The resolver's status.
        status: u32,
    },
    /// Objects collected ([`EventKind::DcomGc`]).
    Collected {
        /// `ping_timeout`, `released` or `removed_from_set`.
        reason: &'static str,
        /// Their OIDs.
        oids: Vec<u64>,
        /// Objects left.
        objects: u64,
        /// IPIDs left.
        ipids: u64,
        /// Ping sets left.
        sets: u64,
    },
}

/// OIDs a `dcom_ping` or `dcom_gc` record lists (its `collected` count says how many there
/// were).
pub const MAX_LISTED_OIDS: usize = 64;

/// Hosted class names [`Live`] remembers ([`Input::ClassName`]).
const MAX_CLASS_NAMES: usize = 1024;

fn oid_texts(oids: &[u64]) -> Vec<String> {
    oids.iter()
        .take(MAX_LISTED_OIDS)
        .map(|o| format!("{o:#018x}"))
        .collect()
}

impl DcomInput {
    /// The event it makes.
    fn event(self) -> EventKind {
        match self {
            DcomInput::Call {
                call_id,
                ipid,
                oid,
                class,
                interface,
                opnum,
                hresult,
            } => EventKind::DcomCall {
                call_id,
                ipid: ipid.to_string(),
                oid: oid.map(|o| format!("{o:#018x}")),
                class_name: class.map(str::to_string),
                interface: interface.to_string(),
                opnum,
                hresult,
            },
            DcomInput::Ping {
                call_id,
                complex,
                set_id,
                added,
                removed,
                status,
            } => EventKind::DcomPing {
                call_id,
                operation: if complex { "ComplexPing" } else { "SimplePing" }.into(),
                set_id: format!("{set_id:#018x}"),
                added: oid_texts(&added),
                removed: oid_texts(&removed),
                status,
            },
            DcomInput::Collected {
                reason,
                oids,
                objects,
                ipids,
                sets,
            } => EventKind::DcomGc {
                reason: reason.into(),
                collected: u32::try_from(oids.len()).unwrap_or(u32::MAX),
                oids: oid_texts(&oids),
                objects,
                ipids,
                sets,
            },
        }
    }
}

/// What a finished call carries beyond its counts, when there is any: the stubs
/// [`Input::call_done`] keeps, the error [`Input::with_error`] adds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallStubs {
    /// The request stub (EPM and DCOM calls), else empty.
    pub request: Vec<u8>,
    /// The response stub, when kept (DCOM calls [`crate::dcom::interprets`]; EPM answers keep
    /// [`CallStubs::answer`] instead), else empty.
    pub response: Vec<u8>,
    /// An endpoint mapper answer's count, status and end ([`crate::epm::answer_counts`]).
    pub answer: Option<crate::epm::Answer>,
    /// Why the call faulted, when the server knows more than the status (the decoder's
    /// field path of a request stub that did not decode).
    pub error: Option<String>,
}

/// The interfaces whose request stubs [`Input::call_done`] keeps (the endpoint mapper, DCOM
/// activation, the OXID resolver and IRemUnknown(2), and the interfaces whose arguments
/// [`crate::args`] reads): a server need copy request stubs for its observer only for these.
pub const REQUEST_STUB_INTERFACES: [msrpc_ndr::Uuid; 20] = [
    EPM,
    crate::names::IREMOTE_ACTIVATION,
    crate::names::ISYSTEM_ACTIVATOR,
    crate::names::IOBJECT_EXPORTER,
    crate::dcom::IREM_UNKNOWN,
    crate::dcom::IREM_UNKNOWN2,
    crate::args::SPOOLSS,
    crate::args::EFSR_LSA,
    crate::args::EFSR,
    crate::args::DFSNM,
    crate::args::FSRVP,
    crate::args::SCMR,
    crate::args::TSCH,
    crate::args::ATSVC,
    crate::args::NRPC,
    crate::args::DRSUAPI,
    crate::args::BKRP,
    crate::args::LSARPC,
    crate::args::EVENTLOG,
    crate::args::WINREG,
];

impl Input {
    /// The input for a protocol event: `ServerEvent::Call` becomes [`Input::Request`]
    /// (without the stub); others are cloned.
    pub fn server(conn_id: u64, event: &ServerEvent) -> Input {
        match event {
            ServerEvent::Call(c) => Input::Request {
                conn_id,
                call_id: c.call_id,
                fragments: c.fragments,
                auth_level: c.auth.as_ref().map(|a| a.level),
                user: c.auth.as_ref().and_then(|a| a.user.clone()),
            },
            other => Input::Server {
                conn_id,
                event: Box::new(other.clone()),
            },
        }
    }

    /// The input for a finished call: `request` is the request stub or its beginning,
    /// `stub_in` the whole stub's length, both stubs in `drep` and `transfer_syntax` (the
    /// call's presentation context's). The stubs are copied only when the audit interprets
    /// them: EPM calls (for [`crate::epm::interpret`]), DCOM activation requests (for
    /// [`crate::inspect::request`]), the DCOM calls [`crate::dcom::interpret_call`] reads
    /// (whose response stubs are kept too) and the operations whose arguments
    /// [`crate::args::extract`] reads.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn call_done(
        conn_id: u64,
        call_id: u32,
        interface: SyntaxId,
        opnum: u16,
        drep: DataRep,
        transfer_syntax: TransferSyntax,
        request: &[u8],
        stub_in: usize,
        response: Result<&[u8], FaultStatus>,
        duration: std::time::Duration,
    ) -> Input {
        let epm = interface.uuid == EPM;
        let dcom = crate::dcom::interprets(&interface.uuid);
        let keep_request = epm
            || dcom
            || crate::inspect::inspects(&interface.uuid)
            || crate::args::reads_op(&interface.uuid, opnum);
        let (resp, fault) = match response {
            Ok(r) => (r, None),
            Err(f) => (&[][..], Some(f)),
        };
        Input::CallDone {
            conn_id,
            call_id,
            interface,
            opnum,
            drep,
            transfer_syntax,
            stub_in: stub_in as u64,
            stub_out: resp.len() as u64,
            stubs: keep_request.then(|| {
                Box::new(CallStubs {
                    request: request.to_vec(),
                    response: if dcom { resp.to_vec() } else { Vec::new() },
                    answer: if epm {
                        crate::epm::answer_counts(resp, drep)
                    } else {
                        None
                    },
                    error: None,
                })
            }),
            facts: None,
            fault,
            duration: duration.as_secs_f64(),
        }
    }

    /// Adds the request's facts to a [`Input::CallDone`] (other inputs are returned as they
    /// are): one input per call instead of an [`Input::Request`] and a `CallDone`.
    #[inline]
    pub fn with_request_facts(
        mut self,
        fragments: u32,
        auth_level: Option<AuthLevel>,
        user: Option<&str>,
    ) -> Input {
        if let Input::CallDone { facts, .. } = &mut self {
            *facts = Some((fragments, auth_level, user.map(Box::from)));
        }
        self
    }
}

impl Input {
    /// Adds the server's error text to a [`Input::CallDone`] (other inputs, and `None`, leave
    /// it as it is): an `ndr_decode_error` record then says which field did not decode.
    pub fn with_error(mut self, error: Option<&str>) -> Input {
        if let (Input::CallDone { stubs, .. }, Some(e)) = (&mut self, error) {
            stubs.get_or_insert_with(Box::default).error = Some(clip(e));
        }
        self
    }
}

/// What a finished call reports of its request: fragments, auth level, user.
pub type RequestFacts = (u32, Option<AuthLevel>, Option<Box<str>>);

/// A Zeek-style connection uid: `C` and 17 base-62 characters, from a per-run `seed` and the
/// connection number (distinct numbers give distinct uids within a run).
pub fn uid(seed: u64, conn_id: u64) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    // A bijective mix of the connection number (splitmix64's finalizer) keyed by the seed,
    // then 32 more bits for length.
    let a = mix(conn_id ^ seed);
    let b = mix(a ^ seed.rotate_left(17)) as u32;
    let mut n = (u128::from(a) << 32) | u128::from(b);
    let mut s = String::with_capacity(18);
    s.push('C');
    for _ in 0..17 {
        let d = (n % 62) as usize;
        n /= 62;
        s.push(char::from(*ALPHABET.get(d).unwrap_or(&b'0')));
    }
    s
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[derive(Debug)]
struct ConnState {
    id: ConnId,
    opened: f64,
    pdus_in: u64,
    pdus_out: u64,
    bound: bool,
    /// Pending requests: call_id -> (fragments, auth level, user).
    calls: FxHashMap<u32, RequestFacts>,
    seq: u64,
}

/// The adapter: per-connection state (addresses, uid, counters, pending calls), bounded by
/// [`MAX_TRACKED_CONNECTIONS`].
#[derive(Debug)]
pub struct Live {
    seed: u64,
    conns: FxHashMap<u64, ConnState>,
    seq: u64,
    /// The `call` event [`Live::feed_with`] fills in place for each finished call: its
    /// strings keep their buffers, so a call costs no allocation.
    /// Boxed: taken out and put back per call, it moves as a pointer.
    scratch: Option<Box<Event>>,
    /// The interface UUID and opnum whose texts (`interface`, `endpoint`, `operation`) the
    /// scratch event holds: a call to the same operation leaves them as they are.
    scratch_names: Option<(u128, u16)>,
    /// Interface UUIDs as text, formatted once each (at most [`MAX_UUID_TEXTS`]).
    uuid_texts: FxHashMap<u128, String>,
    /// Hosted COM classes' names ([`Input::ClassName`]), at most `MAX_CLASS_NAMES`.
    class_names: FxHashMap<msrpc_ndr::Uuid, String>,
}

/// Interface UUID texts [`Live`] keeps formatted (a server serves few interfaces; past this
/// the cache starts over).
const MAX_UUID_TEXTS: usize = 256;

fn clip(s: &str) -> String {
    if s.len() <= MAX_TEXT {
        return s.to_string();
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", s.get(..end).unwrap_or_default())
}

/// `auth_type` as records show it (`winnt`, `gss_negotiate`, or a number).
pub fn auth_type_name(t: AuthType) -> String {
    // What `Display` writes, with one allocation and no formatter.
    match t.name() {
        Some(n) => n.to_ascii_lowercase(),
        None => t.to_string(),
    }
}

/// `auth_level` as records show it (`connect`, `pkt_integrity`, `pkt_privacy`, ...).
pub fn auth_level_name(l: AuthLevel) -> String {
    // What `Display` writes, with one allocation and no formatter.
    match l.name() {
        Some(n) => n.to_ascii_lowercase(),
        None => l.to_string(),
    }
}

/// A fault status as records show it: its name (`nca_s_op_rng_error`) or `0x%08x`.
pub fn fault_name(f: FaultStatus) -> String {
    match f.name() {
        Some(n) => n.to_ascii_lowercase(),
        None => format!("{:#010x}", f.0),
    }
}

fn syntax_text(s: &SyntaxId) -> String {
    const NDR20: u128 = 0x8a885d04_1ceb_11c9_9fe8_08002b104860;
    const NDR64: u128 = 0x71710533_beba_4937_8319_b5dbef9ccc36;
    let u = s.uuid.as_u128();
    if u == NDR20 {
        "ndr20".into()
    } else if u == NDR64 {
        "ndr64".into()
    } else if u >> 64 == 0x6cb7_1c2c_9812_4540 {
        "bind_time_features".into()
    } else {
        format!("{} v{}", s.uuid, s.major)
    }
}

impl Live {
    /// An adapter whose uids derive from `seed` (take it from a random source or the start
    /// time, so runs do not repeat uids).
    pub fn new(seed: u64) -> Live {
        Live {
            seed,
            conns: FxHashMap::default(),
            seq: 0,
            scratch: None,
            scratch_names: None,
            uuid_texts: FxHashMap::default(),
            class_names: FxHashMap::default(),
        }
    }

    /// Connections being tracked.
    pub fn tracked(&self) -> usize {
        self.conns.len()
    }

    fn state(&mut self, conn_id: u64, ts: f64) -> &mut ConnState {
        // The length test first: below the limit, one hash (the `entry`) per input.
        if self.conns.len() >= MAX_TRACKED_CONNECTIONS && !self.conns.contains_key(&conn_id) {
            // Forget the oldest (lowest sequence) connection.
            if let Some(old) = self
                .conns
                .iter()
                .min_by_key(|(_, c)| c.seq)
                .map(|(k, _)| *k)
            {
                self.conns.remove(&old);
            }
        }
        self.seq += 1;
        let seq = self.seq;
        let seed = self.seed;
        self.conns.entry(conn_id).or_insert_with(|| ConnState {
            id: ConnId {
                uid: uid(seed, conn_id),
                orig_h: None,
                orig_p: None,
                resp_h: None,
                resp_p: None,
            },
            opened: ts,
            pdus_in: 0,
            pdus_out: 0,
            bound: false,
            calls: FxHashMap::default(),
            seq,
        })
    }

    /// Feeds one input observed at `ts` (seconds since the Unix epoch); returns the events it
    /// makes (often none, sometimes several: an EPM call gives a `call` and an `epm_lookup`).
    /// [`Live::feed_with`] gives the same events without collecting them.
    pub fn feed(&mut self, ts: f64, input: Input) -> Vec<Event> {
        let mut out = Vec::new();
        self.feed_with(ts, input, |e| out.push(e.clone()));
        out
    }

    /// Feeds one input observed at `ts` (seconds since the Unix epoch) and hands each event
    /// it makes, in order, to `f` (often none, sometimes several: an EPM call gives a `call`
    /// and an `epm_lookup`). The same events as [`Live::feed`], cheaper: a finished call's
    /// `call` event is built in a buffer the adapter reuses (no allocation per call).
    pub fn feed_with(&mut self, ts: f64, input: Input, mut f: impl FnMut(&Event)) {
        if let Input::CallDone { .. } = input {
            self.call_done(ts, input, &mut f);
            return;
        }
        let mut out = Vec::new();
        self.feed_other(ts, input, &mut out);
        out.iter().for_each(f);
    }

    /// The inputs other than [`Input::CallDone`].
    fn feed_other(&mut self, ts: f64, input: Input, out: &mut Vec<Event>) {
        match input {
            Input::Opened {
                conn_id,
                peer,
                local,
            } => {
                let st = self.state(conn_id, ts);
                st.id.orig_h = peer.map(|a| a.ip());
                st.id.orig_p = peer.map(|a| a.port());
                st.id.resp_h = local.map(|a| a.ip());
                st.id.resp_p = local.map(|a| a.port());
                st.opened = ts;
                out.push(ev(ts, &st.id, EventKind::ConnOpen));
            }
            Input::Refused {
                peer,
                local,
                reason,
            } => {
                self.seq += 1;
                let id = ConnId {
                    uid: uid(self.seed, u64::MAX - self.seq),
                    orig_h: peer.map(|a| a.ip()),
                    orig_p: peer.map(|a| a.port()),
                    resp_h: local.map(|a| a.ip()),
                    resp_p: local.map(|a| a.port()),
                };
                out.push(ev(ts, &id, EventKind::ConnOpen));
                out.push(ev(
                    ts,
                    &id,
                    EventKind::ConnClose {
                        reason: clip(&reason),
                        duration: 0.0,
                        pdus_in: 0,
                        pdus_out: 0,
                        bound: false,
                    },
                ));
            }
            Input::Server { conn_id, event } => {
                let st = self.state(conn_id, ts);
                if let Some(kind) = server_event(st, *event) {
                    out.push(ev(ts, &st.id, kind));
                }
            }
            Input::Request {
                conn_id,
                call_id,
                fragments,
                auth_level,
                user,
            } => {
                let st = self.state(conn_id, ts);
                // Bounded by the server's outstanding-call limit; stay bounded regardless.
                if st.calls.len() < 4096 {
                    st.calls.insert(
                        call_id,
                        (fragments, auth_level, user.map(String::into_boxed_str)),
                    );
                }
            }
            // Handled by `call_done` (`feed_with` sends it there).
            Input::CallDone { .. } => {}
            Input::Policy {
                conn_id,
                call_id,
                interface,
                opnum,
                action,
                reason,
                rule,
                user,
            } => {
                let st = self.state(conn_id, ts);
                out.push(ev(
                    ts,
                    &st.id,
                    EventKind::Policy {
                        call_id,
                        interface,
                        opnum,
                        action,
                        reason,
                        rule,
                        user: user.as_deref().map(clip),
                    },
                ));
            }
            Input::ExploitShape {
                conn_id,
                call_id,
                interface,
                opnum,
                shape,
                detail,
            } => {
                let st = self.state(conn_id, ts);
                out.push(ev(
                    ts,
                    &st.id,
                    EventKind::ExploitShape {
                        call_id,
                        interface,
                        opnum,
                        shape,
                        detail: clip(&detail),
                    },
                ));
            }
            Input::Dcom { conn_id, input } => {
                let kind = input.event();
                if conn_id == 0 {
                    // The host itself (its garbage collector): no connection, no addresses.
                    let id = ConnId {
                        uid: uid(self.seed, 0),
                        orig_h: None,
                        orig_p: None,
                        resp_h: None,
                        resp_p: None,
                    };
                    out.push(ev(ts, &id, kind));
                } else {
                    let st = self.state(conn_id, ts);
                    out.push(ev(ts, &st.id, kind));
                }
            }
            Input::ClassName { clsid, name } => {
                if self.class_names.len() < MAX_CLASS_NAMES || self.class_names.contains_key(&clsid)
                {
                    self.class_names.insert(clsid, clip(&name));
                }
            }
            Input::Pdus {
                conn_id,
                received,
                sent,
            } => {
                let st = self.state(conn_id, ts);
                st.pdus_in = st.pdus_in.saturating_add(received);
                st.pdus_out = st.pdus_out.saturating_add(sent);
            }
            Input::Closed { conn_id, reason } => {
                let st = self.state(conn_id, ts);
                let kind = EventKind::ConnClose {
                    reason: clip(&reason),
                    duration: (ts - st.opened).max(0.0),
                    pdus_in: st.pdus_in,
                    pdus_out: st.pdus_out,
                    bound: st.bound,
                };
                out.push(ev(ts, &st.id, kind));
                self.conns.remove(&conn_id);
            }
        }
    }

    /// `uuid` as text, from the cache.
    fn uuid_text(&mut self, uuid: &msrpc_ndr::Uuid) -> &str {
        if self.uuid_texts.len() >= MAX_UUID_TEXTS && !self.uuid_texts.contains_key(&uuid.as_u128())
        {
            self.uuid_texts.clear();
        }
        self.uuid_texts
            .entry(uuid.as_u128())
            .or_insert_with(|| uuid.to_string())
    }

    /// A finished call: its `call` event (filled in `scratch`), then the `malformed`,
    /// `epm_lookup`/`epm_map` and `exploit_shape` events it may make.
    fn call_done(&mut self, ts: f64, input: Input, f: &mut impl FnMut(&Event)) {
        let Input::CallDone {
            conn_id,
            call_id,
            interface,
            opnum,
            drep,
            transfer_syntax: syntax,
            stub_in,
            stub_out,
            stubs,
            facts,
            fault,
            duration,
        } = input
        else {
            return;
        };
        let uuid = interface.uuid;
        let (request, response) = stubs
            .as_deref()
            .map_or((&[][..], &[][..]), |s| (&s.request[..], &s.response[..]));
        let mut e = match self.scratch.take() {
            Some(e) if matches!(e.kind, EventKind::Call { .. }) => e,
            _ => {
                self.scratch_names = None;
                Box::new(blank_call())
            }
        };
        let names = (uuid.as_u128(), opnum);
        if self.scratch_names != Some(names) {
            if let EventKind::Call {
                interface: e_interface,
                endpoint: e_endpoint,
                operation: e_operation,
                ..
            } = &mut e.kind
            {
                set_text(e_interface, Some(self.uuid_text(&uuid)));
                set_text(e_endpoint, interface_name(&uuid));
                set_text(e_operation, operation_name(&uuid, opnum));
            }
            self.scratch_names = Some(names);
        }
        let st = self.state(conn_id, ts);
        let (fragments, level, user) = match facts {
            Some(f) => f,
            None => st.calls.remove(&call_id).unwrap_or((1, None, None)),
        };
        e.ts = ts;
        e.conn.uid.clone_from(&st.id.uid);
        e.conn.orig_h = st.id.orig_h;
        e.conn.orig_p = st.id.orig_p;
        e.conn.resp_h = st.id.resp_h;
        e.conn.resp_p = st.id.resp_p;
        if let EventKind::Call {
            call_id: e_call_id,
            opnum: e_opnum,
            stub_in: e_stub_in,
            stub_out: e_stub_out,
            fragments: e_fragments,
            rtt: e_rtt,
            fault: e_fault,
            args: e_args,
            auth_level: e_auth_level,
            user: e_user,
            ..
        } = &mut e.kind
        {
            *e_call_id = call_id;
            // Requests are unsealed here: every stub kept is in the clear.
            if crate::args::reads_op(&uuid, opnum) {
                *e_args = crate::args::extract(&uuid, opnum, request, drep, syntax);
            } else if !e_args.is_empty() {
                e_args.clear();
            }
            *e_opnum = opnum;
            *e_stub_in = stub_in;
            *e_stub_out = stub_out;
            *e_fragments = fragments;
            *e_rtt = Some(duration);
            // As `fault_name`, `auth_level_name` and `clip` write them.
            match fault {
                Some(f) => {
                    let s = reuse(e_fault);
                    match f.name() {
                        Some(n) => push_lowercase(s, n),
                        None => {
                            let _ = write!(s, "{:#010x}", f.0);
                        }
                    }
                }
                None => *e_fault = None,
            }
            match level {
                Some(l) => {
                    let s = reuse(e_auth_level);
                    match l.name() {
                        Some(n) => push_lowercase(s, n),
                        None => {
                            let _ = write!(s, "{l}");
                        }
                    }
                }
                None => *e_auth_level = None,
            }
            match user.as_deref() {
                Some(u) if u.len() <= MAX_TEXT => set_text(e_user, Some(u)),
                Some(u) => *e_user = Some(clip(u)),
                None => *e_user = None,
            }
        }
        f(&e);
        let dcom_facts = crate::dcom::interprets(&uuid).then(|| match &e.kind {
            EventKind::Call {
                auth_level, user, ..
            } => crate::dcom::CallFacts {
                call_id,
                auth_level: auth_level.clone(),
                user: user.clone(),
            },
            _ => crate::dcom::CallFacts {
                call_id,
                ..Default::default()
            },
        });
        self.scratch = Some(e);
        let Some(st) = self.conns.get(&conn_id) else {
            return;
        };
        if let Some(facts) = dcom_facts {
            let resp = (fault.is_none() && !response.is_empty()).then_some((response, drep));
            if let Some(mut k) =
                crate::dcom::interpret_call(&uuid, opnum, request, drep, syntax, resp, &facts)
            {
                if let EventKind::DcomActivation {
                    clsid, class_name, ..
                } = &mut k
                {
                    // A class the host named (not one of the table's).
                    if class_name.is_none() {
                        *class_name = clsid
                            .parse::<msrpc_ndr::Uuid>()
                            .ok()
                            .and_then(|c| self.class_names.get(&c).cloned());
                    }
                }
                f(&ev(ts, &st.id, k));
            }
        }
        if fault == Some(FaultStatus::RPC_X_BAD_STUB_DATA) {
            f(&ev(
                ts,
                &st.id,
                EventKind::Malformed {
                    reason: "ndr_decode_error".into(),
                    detail: format!(
                        "request stub of {} opnum {opnum} ({stub_in} bytes) did not decode{}",
                        interface_name(&uuid)
                            .map(str::to_string)
                            .unwrap_or_else(|| uuid.to_string()),
                        stubs
                            .as_deref()
                            .and_then(|s| s.error.as_deref())
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    ),
                },
            ));
        }
        if uuid == EPM && fault.is_none() {
            let answer = stubs.as_deref().and_then(|s| s.answer);
            let k = match answer {
                Some(counts) => crate::epm::interpret_answer(request, drep, syntax, opnum, counts),
                None => crate::epm::interpret(request, response, drep, syntax, opnum),
            };
            if let Some(mut k) = k {
                match &mut k {
                    EventKind::EpmLookup { call_id: c, .. }
                    | EventKind::EpmMap { call_id: c, .. } => *c = call_id,
                    _ => {}
                }
                f(&ev(ts, &st.id, k));
            }
        }
        if !crate::inspect::inspects(&uuid) {
            return;
        }
        if let Some(found) = crate::inspect::request(&uuid, opnum, request, drep, syntax) {
            f(&ev(
                ts,
                &st.id,
                EventKind::ExploitShape {
                    call_id,
                    interface: uuid.to_string(),
                    opnum,
                    shape: found.shape,
                    detail: found.detail,
                },
            ));
        }
    }
}

/// An empty `call` event (the first value of [`Live`]'s scratch event).
fn blank_call() -> Event {
    Event {
        ts: 0.0,
        conn: ConnId {
            uid: String::new(),
            orig_h: None,
            orig_p: None,
            resp_h: None,
            resp_p: None,
        },
        kind: EventKind::Call {
            call_id: 0,
            interface: None,
            endpoint: None,
            opnum: 0,
            operation: None,
            stub_in: 0,
            stub_out: 0,
            fragments: 0,
            rtt: None,
            fault: None,
            args: Vec::new(),
            auth_level: None,
            user: None,
            named_pipe: None,
            transport: None,
        },
    }
}

/// Sets `dst` to `src`, reusing `dst`'s buffer.
fn set_text(dst: &mut Option<String>, src: Option<&str>) {
    match src {
        Some(s) => reuse(dst).push_str(s),
        None => *dst = None,
    }
}

/// `dst`'s string, emptied (a new one when `dst` is `None`).
fn reuse(dst: &mut Option<String>) -> &mut String {
    let s = dst.get_or_insert_with(String::new);
    s.clear();
    s
}

/// Appends `s` in ASCII lowercase.
fn push_lowercase(dst: &mut String, s: &str) {
    dst.extend(s.chars().map(|c| c.to_ascii_lowercase()));
}

fn ev(ts: f64, id: &ConnId, kind: EventKind) -> Event {
    Event {
        ts,
        conn: id.clone(),
        kind,
    }
}

fn server_event(st: &mut ConnState, event: ServerEvent) -> Option<EventKind> {
    Some(match event {
        ServerEvent::Bound {
            kind,
            assoc_group_id,
            offered,
            results,
            auth,
        } => {
            let contexts = offered
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let r = results.get(i);
                    let result = r.map(|r| match r.result {
                        ContextResult::ACCEPTANCE => "accepted".to_string(),
                        other => other.to_string(),
                    });
                    let reason = r
                        .filter(|r| {
                            r.result == ContextResult::PROVIDER_REJECTION
                                || r.result == ContextResult::USER_REJECTION
                        })
                        .map(|r| r.reason.to_string());
                    let uuid = c.abstract_syntax.uuid;
                    BindContext {
                        context_id: c.context_id,
                        interface: uuid.to_string(),
                        version: format!("{}.{}", c.abstract_syntax.major, c.abstract_syntax.minor),
                        endpoint: interface_name(&uuid).map(str::to_string),
                        transfer_syntaxes: c.transfer_syntaxes.iter().map(syntax_text).collect(),
                        result,
                        reason,
                    }
                })
                .collect::<Vec<_>>();
            if contexts
                .iter()
                .any(|c| c.result.as_deref() == Some("accepted"))
            {
                st.bound = true;
            }
            EventKind::Bind {
                kind: match kind {
                    BindKind::Bind => "bind",
                    BindKind::AlterContext => "alter_context",
                }
                .into(),
                assoc_group: assoc_group_id,
                contexts,
                nak_reason: None,
                auth_type: auth.map(|(t, _)| auth_type_name(t)),
                auth_level: auth.map(|(_, l)| auth_level_name(l)),
                named_pipe: None,
            }
        }
        ServerEvent::BindRejected { reason } => EventKind::Bind {
            kind: "bind".into(),
            assoc_group: 0,
            contexts: Vec::new(),
            nak_reason: Some(reason.to_string()),
            auth_type: None,
            auth_level: None,
            named_pipe: None,
        },
        ServerEvent::Refused {
            call_id,
            status,
            reason,
        } => EventKind::Refused {
            call_id,
            status: fault_name(status),
            reason: reason.to_string(),
        },
        ServerEvent::Authenticated {
            auth_type,
            level,
            user,
            error,
        } => EventKind::Auth {
            auth_type: auth_type_name(auth_type),
            auth_level: auth_level_name(level),
            user: user.as_deref().map(clip),
            outcome: if error.is_none() {
                AuthOutcome::Success
            } else {
                AuthOutcome::Failure
            },
            reason: error.as_deref().map(clip),
        },
        ServerEvent::ProtocolError { reason, detail } => EventKind::Malformed {
            reason: reason.to_string(),
            detail: clip(&detail),
        },
        ServerEvent::Anomaly { reason, detail, .. } => EventKind::Malformed {
            reason: reason.to_string(),
            detail: clip(&detail),
        },
        ServerEvent::Orphaned { call_id } => {
            st.calls.remove(&call_id);
            return None;
        }
        ServerEvent::Call(_) | ServerEvent::Cancel { .. } => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use msrpc_epm::{EptLookupRequest, EptLookupResponse};
    use msrpc_ndr::{ContextHandle, Unique};
    use msrpc_proto::pdu::{ContextElement, ContextResultEntry, ProviderReason};

    fn kinds(evs: &[Event]) -> Vec<String> {
        evs.iter()
            .map(|e| {
                serde_json::to_value(e).unwrap()["event"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn a_connection_becomes_events_with_one_uid() {
        let mut live = Live::new(42);
        let peer: SocketAddr = "127.0.0.130:40000".parse().unwrap();
        let local: SocketAddr = "127.0.0.131:135".parse().unwrap();
        let mut all = live.feed(
            10.0,
            Input::Opened {
                conn_id: 7,
                peer: Some(peer),
                local: Some(local),
            },
        );
        let epm = SyntaxId::new(EPM, 3, 0);
        let ndr20 = SyntaxId::new(
            msrpc_ndr::Uuid::from_u128(0x8a885d04_1ceb_11c9_9fe8_08002b104860),
            2,
            0,
        );
        let unknown = SyntaxId::new(msrpc_ndr::Uuid::from_u128(0x1234), 1, 0);
        all.extend(live.feed(
            10.1,
            Input::server(
                7,
                &ServerEvent::Bound {
                    kind: BindKind::Bind,
                    assoc_group_id: 5,
                    offered: vec![
                        ContextElement {
                            context_id: 0,
                            abstract_syntax: epm,
                            transfer_syntaxes: vec![ndr20],
                        },
                        ContextElement {
                            context_id: 1,
                            abstract_syntax: unknown,
                            transfer_syntaxes: vec![ndr20],
                        },
                    ],
                    results: vec![
                        ContextResultEntry {
                            result: ContextResult::ACCEPTANCE,
                            reason: ProviderReason::REASON_NOT_SPECIFIED,
                            transfer_syntax: ndr20,
                        },
                        ContextResultEntry {
                            result: ContextResult::PROVIDER_REJECTION,
                            reason: ProviderReason::ABSTRACT_SYNTAX_NOT_SUPPORTED,
                            transfer_syntax: SyntaxId::new(msrpc_ndr::Uuid::nil(), 0, 0),
                        },
                    ],
                    auth: None,
                },
            ),
        ));
        let req = EptLookupRequest {
            inquiry_type: 0,
            object: Unique::default(),
            interface_id: Unique::default(),
            vers_option: 1,
            entry_handle: ContextHandle::default(),
            max_ents: 500,
        };
        let resp = EptLookupResponse {
            entry_handle: ContextHandle::default(),
            num_ents: 0,
            entries: vec![],
            status: 0x16c9a0d6,
        };
        let drep = DataRep::LITTLE_ENDIAN;
        let (rq, rs) = (
            req.to_stub(drep).unwrap(),
            resp.to_stub(&req, drep).unwrap(),
        );
        all.extend(live.feed(
            10.2,
            Input::Request {
                conn_id: 7,
                call_id: 2,
                fragments: 1,
                auth_level: None,
                user: None,
            },
        ));
        all.extend(live.feed(
            10.3,
            Input::call_done(
                7,
                2,
                epm,
                2,
                drep,
                TransferSyntax::Ndr20,
                &rq,
                rq.len(),
                Ok(&rs),
                std::time::Duration::from_millis(2),
            ),
        ));
        all.extend(live.feed(
            10.35,
            Input::call_done(
                7,
                3,
                epm,
                9,
                drep,
                TransferSyntax::Ndr20,
                &[],
                0,
                Err(FaultStatus::NCA_S_OP_RNG_ERROR),
                std::time::Duration::from_millis(1),
            ),
        ));
        all.extend(live.feed(
            10.4,
            Input::server(
                7,
                &ServerEvent::Authenticated {
                    auth_type: AuthType::WINNT,
                    level: AuthLevel::PKT_INTEGRITY,
                    user: Some("alice".into()),
                    error: Some("unknown user or wrong password".into()),
                },
            ),
        ));
        all.extend(live.feed(
            10.5,
            Input::server(
                7,
                &ServerEvent::ProtocolError {
                    reason: "frag_length_below_header",
                    detail: "x".into(),
                },
            ),
        ));
        all.extend(live.feed(
            10.5,
            Input::Pdus {
                conn_id: 7,
                received: 4,
                sent: 3,
            },
        ));
        all.extend(live.feed(
            11.0,
            Input::Closed {
                conn_id: 7,
                reason: "frag_length_below_header".into(),
            },
        ));
        assert_eq!(
            kinds(&all),
            [
                "conn_open",
                "bind",
                "call",
                "epm_lookup",
                "call",
                "auth",
                "malformed",
                "conn_close"
            ]
        );
        assert!(all.iter().all(|e| e.conn.uid == all[0].conn.uid));
        assert_eq!(all[0].conn.uid, uid(42, 7));
        assert_eq!(all[0].conn.uid.len(), 18);
        assert_ne!(uid(42, 7), uid(42, 8));
        assert_eq!(all[7].conn.orig_h, Some(peer.ip()));
        assert_eq!(all[7].conn.resp_p, Some(135));
        let v = serde_json::to_value(&all[1]).unwrap();
        assert_eq!(v["contexts"][0]["result"], "accepted");
        assert_eq!(v["contexts"][0]["endpoint"], "epmapper");
        assert_eq!(v["contexts"][0]["transfer_syntaxes"][0], "ndr20");
        assert_eq!(v["contexts"][1]["result"], "provider_rejection");
        assert_eq!(v["contexts"][1]["reason"], "abstract_syntax_not_supported");
        let v = serde_json::to_value(&all[2]).unwrap();
        assert_eq!(v["operation"], "ept_lookup");
        assert_eq!(v["rtt"], 0.002);
        assert_eq!(v["stub_out"], rs.len());
        let v = serde_json::to_value(&all[3]).unwrap();
        assert_eq!(v["call_id"], 2);
        assert_eq!(v["status"], 0x16c9a0d6u32);
        let v = serde_json::to_value(&all[4]).unwrap();
        assert_eq!(v["fault"], "nca_s_op_rng_error");
        let v = serde_json::to_value(&all[5]).unwrap();
        assert_eq!(v["outcome"], "failure");
        assert_eq!(v["user"], "alice");
        assert_eq!(v["auth_type"], "winnt");
        let v = serde_json::to_value(&all[7]).unwrap();
        assert_eq!(v["pdus_in"], 4);
        assert_eq!(v["bound"], true);
        assert_eq!(v["duration"], 1.0);
        assert_eq!(live.tracked(), 0);
    }

    #[test]
    fn call_done_with_facts_needs_no_request_input() {
        let echo = SyntaxId::new(
            msrpc_ndr::Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182),
            1,
            0,
        );
        let done = |call_id| {
            Input::call_done(
                3,
                call_id,
                echo,
                1,
                DataRep::LITTLE_ENDIAN,
                TransferSyntax::Ndr20,
                &[],
                8,
                Ok(&[0; 4]),
                std::time::Duration::ZERO,
            )
        };
        let mut live = Live::new(1);
        // Facts carried by the CallDone itself.
        let with = live.feed(
            1.0,
            done(9).with_request_facts(2, Some(AuthLevel::PKT_PRIVACY), Some("bob")),
        );
        // The same facts through an earlier Request input.
        live.feed(
            2.0,
            Input::Request {
                conn_id: 3,
                call_id: 10,
                fragments: 2,
                auth_level: Some(AuthLevel::PKT_PRIVACY),
                user: Some("bob".into()),
            },
        );
        let via_request = live.feed(3.0, done(10));
        // Neither: one fragment, unauthenticated.
        let neither = live.feed(4.0, done(11));
        for evs in [&with, &via_request] {
            let v = serde_json::to_value(&evs[0]).unwrap();
            assert_eq!(v["fragments"], 2);
            assert_eq!(v["auth_level"], "pkt_privacy");
            assert_eq!(v["user"], "bob");
        }
        let v = serde_json::to_value(&neither[0]).unwrap();
        assert_eq!(v["fragments"], 1);
        assert!(v.get("user").is_none_or(|u| u.is_null()));
    }

    /// One full `call` line per case, byte for byte (the audit log's format), through one
    /// adapter so every case reuses the buffers the previous one left.
    #[test]
    fn call_events_pin_their_json_lines() {
        let mgmt = SyntaxId::new(
            msrpc_ndr::Uuid::from_u128(0xafa8bd80_7d8a_11c9_bef4_08002b102989),
            1,
            0,
        );
        let unknown = SyntaxId::new(msrpc_ndr::Uuid::from_u128(0x1234), 1, 0);
        let mut live = Live::new(42);
        live.feed(
            5.0,
            Input::Opened {
                conn_id: 7,
                peer: Some("127.0.0.130:40000".parse().unwrap()),
                local: Some("127.0.0.131:135".parse().unwrap()),
            },
        );
        let line = |evs: Vec<Event>| {
            assert_eq!(evs.len(), 1);
            String::from_utf8(serde_json::to_vec(&evs[0]).unwrap()).unwrap()
        };
        let long_user = format!("DOM\\{}", "é".repeat(200));
        let cases: Vec<(Input, String)> = vec![
            (
                Input::call_done(
                    7,
                    2,
                    mgmt,
                    2,
                    DataRep::LITTLE_ENDIAN,
                    TransferSyntax::Ndr20,
                    &[],
                    0,
                    Ok(&[0; 8]),
                    std::time::Duration::from_micros(2500),
                )
                .with_request_facts(1, None, None),
                format!(
                    r#"{{"ts":1700000000.25,"uid":"{}","id.orig_h":"127.0.0.130","id.orig_p":40000,"id.resp_h":"127.0.0.131","id.resp_p":135,"event":"call","call_id":2,"interface":"afa8bd80-7d8a-11c9-bef4-08002b102989","endpoint":"mgmt","opnum":2,"operation":"is_server_listening","stub_in":0,"stub_out":8,"fragments":1,"rtt":0.0025,"fault":null,"auth_level":null,"user":null,"named_pipe":null}}"#,
                    uid(42, 7)
                ),
            ),
            (
                // Another connection (no Opened: no addresses), a fault, auth, a user to escape.
                Input::call_done(
                    9,
                    3,
                    unknown,
                    70,
                    DataRep::LITTLE_ENDIAN,
                    TransferSyntax::Ndr20,
                    &[],
                    12,
                    Err(FaultStatus::NCA_S_OP_RNG_ERROR),
                    std::time::Duration::ZERO,
                )
                .with_request_facts(
                    3,
                    Some(AuthLevel::PKT_PRIVACY),
                    Some("DOM\\al\"ice"),
                ),
                format!(
                    r#"{{"ts":1700000000.25,"uid":"{}","id.orig_h":null,"id.orig_p":null,"id.resp_h":null,"id.resp_p":null,"event":"call","call_id":3,"interface":"00000000-0000-0000-0000-000000001234","endpoint":null,"opnum":70,"operation":null,"stub_in":12,"stub_out":0,"fragments":3,"rtt":0.0,"fault":"nca_s_op_rng_error","auth_level":"pkt_privacy","user":"DOM\\al\"ice","named_pipe":null}}"#,
                    uid(42, 9)
                ),
            ),
            (
                // Unnamed fault status and auth level, a user longer than the clip limit.
                Input::call_done(
                    7,
                    4,
                    mgmt,
                    1,
                    DataRep::LITTLE_ENDIAN,
                    TransferSyntax::Ndr20,
                    &[],
                    0,
                    Err(FaultStatus(0x1234_5678)),
                    std::time::Duration::from_secs(1),
                )
                .with_request_facts(1, Some(AuthLevel(9)), Some(&long_user)),
                format!(
                    r#"{{"ts":1700000000.25,"uid":"{}","id.orig_h":"127.0.0.130","id.orig_p":40000,"id.resp_h":"127.0.0.131","id.resp_p":135,"event":"call","call_id":4,"interface":"afa8bd80-7d8a-11c9-bef4-08002b102989","endpoint":"mgmt","opnum":1,"operation":"inq_stats","stub_in":0,"stub_out":0,"fragments":1,"rtt":1.0,"fault":"0x12345678","auth_level":"{}","user":"DOM\\{}...","named_pipe":null}}"#,
                    uid(42, 7),
                    AuthLevel(9),
                    "é".repeat(126)
                ),
            ),
            (
                // Back to the first shape: nothing left over from the previous calls.
                Input::call_done(
                    7,
                    5,
                    mgmt,
                    2,
                    DataRep::LITTLE_ENDIAN,
                    TransferSyntax::Ndr20,
                    &[],
                    0,
                    Ok(&[0; 8]),
                    std::time::Duration::from_micros(2500),
                )
                .with_request_facts(1, None, None),
                format!(
                    r#"{{"ts":1700000000.25,"uid":"{}","id.orig_h":"127.0.0.130","id.orig_p":40000,"id.resp_h":"127.0.0.131","id.resp_p":135,"event":"call","call_id":5,"interface":"afa8bd80-7d8a-11c9-bef4-08002b102989","endpoint":"mgmt","opnum":2,"operation":"is_server_listening","stub_in":0,"stub_out":8,"fragments":1,"rtt":0.0025,"fault":null,"auth_level":null,"user":null,"named_pipe":null}}"#,
                    uid(42, 7)
                ),
            ),
            (
                // The same operation on another connection (no addresses), then faulted.
                Input::call_done(
                    9,
                    6,
                    mgmt,
                    2,
                    DataRep::LITTLE_ENDIAN,
                    TransferSyntax::Ndr20,
                    &[],
                    0,
                    Ok(&[0; 8]),
                    std::time::Duration::from_micros(2500),
                )
                .with_request_facts(1, None, None),
                format!(
                    r#"{{"ts":1700000000.25,"uid":"{}","id.orig_h":null,"id.orig_p":null,"id.resp_h":null,"id.resp_p":null,"event":"call","call_id":6,"interface":"afa8bd80-7d8a-11c9-bef4-08002b102989","endpoint":"mgmt","opnum":2,"operation":"is_server_listening","stub_in":0,"stub_out":8,"fragments":1,"rtt":0.0025,"fault":null,"auth_level":null,"user":null,"named_pipe":null}}"#,
                    uid(42, 9)
                ),
            ),
            (
                Input::call_done(
                    7,
                    7,
                    mgmt,
                    2,
                    DataRep::LITTLE_ENDIAN,
                    TransferSyntax::Ndr20,
                    &[],
                    0,
                    Err(FaultStatus::NCA_S_OP_RNG_ERROR),
                    std::time::Duration::from_micros(2500),
                )
                .with_request_facts(1, None, None),
                format!(
                    r#"{{"ts":1700000000.25,"uid":"{}","id.orig_h":"127.0.0.130","id.orig_p":40000,"id.resp_h":"127.0.0.131","id.resp_p":135,"event":"call","call_id":7,"interface":"afa8bd80-7d8a-11c9-bef4-08002b102989","endpoint":"mgmt","opnum":2,"operation":"is_server_listening","stub_in":0,"stub_out":0,"fragments":1,"rtt":0.0025,"fault":"nca_s_op_rng_error","auth_level":null,"user":null,"named_pipe":null}}"#,
                    uid(42, 7)
                ),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(line(live.feed(1_700_000_000.25, input)), want);
        }
    }

    #[test]
    fn stubs_are_kept_only_where_interpreted() {
        let echo = SyntaxId::new(
            msrpc_ndr::Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182),
            1,
            0,
        );
        let i = Input::call_done(
            1,
            1,
            echo,
            1,
            DataRep::LITTLE_ENDIAN,
            TransferSyntax::Ndr20,
            &[0; 100],
            100,
            Ok(&[0; 50]),
            std::time::Duration::ZERO,
        );
        let Input::CallDone {
            stubs,
            stub_in,
            stub_out,
            ..
        } = i
        else {
            panic!()
        };
        assert_eq!(stubs, None);
        assert_eq!((stub_in, stub_out), (100, 50));
    }
}
