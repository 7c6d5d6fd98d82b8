//! The passive conversation tracker: one connection-oriented DCE/RPC association seen from the
//! wire. It frames each direction's bytes into PDUs (`msrpc_proto::pdu`), decodes them with the
//! same decoder the server uses, follows presentation contexts from bind / alter_context and
//! their answers, reassembles fragmented requests and responses (bounded like the server:
//! [`msrpc_proto::reassembly::DEFAULT_MAX_STUB`] for all calls of a connection together, and
//! only the stubs it needs are kept: the endpoint mapper's), pairs requests with responses and
//! faults by `call_id`, and reports [`EventKind`]s.
//!
//! Stubs are read in the transfer syntax each presentation context accepted, from the
//! bind_ack / alter_context_resp result (Windows answers NDR64 for its EPM, SAMR, LSARPC,
//! DRSUAPI, NETLOGON...); a context whose answer the capture missed has its syntax only when
//! the bind offered one. A call in a context of another or unknown syntax is reported, but its
//! stubs are not decoded ([`Output::unknown_syntax`] counts them).
//!
//! After a capture gap, or on a stream that does not frame, it resynchronises on the next PDU
//! header that validates (version 5.0, a connection-oriented packet type, a plausible data
//! representation, `frag_length` and `auth_length`).
//!
//! Authentication: an NTLM AUTHENTICATE (raw, or inside SPNEGO) in a bind, alter_context or
//! auth3 names the user (`DOMAIN\user`; `ANONYMOUS LOGON` for an anonymous one, as the live
//! audit names it). Its verdict is the answer to that bind or
//! alter_context (ack: success, bind_nak: failure), or for auth3 the server's next PDU (a fault
//! with an access or security status: failure; anything else: success). A mechanism whose
//! tokens name nobody in clear (Kerberos, Netlogon, SPNEGO over Kerberos) gets one Auth event
//! per connection without a user, decided by the first answered call or a refusal. An NTLM
//! leg still unanswered when the connection ends is a failure with reason `unanswered`
//! (`unanswered_at_capture_end` when the capture stopped first). Calls carry the user of the
//! last successful NTLM leg.

use std::collections::HashMap;

use msrpc_audit::{AuthOutcome, BindContext, EventKind};
use msrpc_ndr::{DataRep, TransferSyntax, Uuid};
use msrpc_proto::pdu::{
    self, AuthType, Body, ContextElement, ContextResult, FaultStatus, Header, PacketType, Pdu,
    PfcFlags, SyntaxId, HEADER_LEN,
};
use msrpc_proto::reassembly::{Reassembly, ReassemblyError, DEFAULT_MAX_STUB};

use crate::epm::{self, Learned};
use crate::names;

/// Calls awaiting an answer kept per connection (oldest dropped beyond).
const MAX_OUTSTANDING: usize = 4096;
/// Unanswered binds kept per connection.
const MAX_PENDING_BINDS: usize = 64;
/// Presentation contexts kept per connection.
const MAX_CONTEXTS: usize = 1024;

/// Which way bytes flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Client to server.
    ToServer,
    /// Server to client.
    ToClient,
}

/// What a tracker reports besides events: per-PDU counters and learned endpoints.
#[derive(Debug, Default)]
pub struct Output {
    /// Events, in order.
    pub events: Vec<(f64, EventKind)>,
    /// PDUs by packet type.
    pub pdus: HashMap<PacketType, u64>,
    /// Request PDUs (fragments) by interface (`None`: context unknown) and opnum.
    pub request_pdus: HashMap<(Option<Uuid>, u16), u64>,
    /// Faults by status.
    pub faults: HashMap<FaultStatus, u64>,
    /// Endpoints learned from endpoint mapper answers, with the host of the answering server.
    pub learned: Vec<(Learned, Option<std::net::IpAddr>)>,
    /// Resynchronisations (after a gap or a framing error).
    pub resyncs: u64,
    /// Presentation context elements offered in bind / alter_context PDUs, by interface.
    pub offered: HashMap<Uuid, u64>,
    /// Calls whose stubs the audit reads (EPM, DCOM, arguments) left undecoded: their
    /// context's transfer syntax is neither NDR20 nor NDR64, or is not known (the capture
    /// missed the answer to a bind offering several).
    pub unknown_syntax: u64,
}

/// Fault statuses that mean the security context was refused (the verdict on an auth3).
fn auth_fault(s: FaultStatus) -> bool {
    matches!(
        s.0,
        0x0000_0005 // access denied
            | 0x0000_06d3 // rpc_s_unknown_authn_service
            | 0x0000_0721 // rpc_s_sec_pkg_error
            | 0x1c00_001d // nca_s_unsupported_authn_level
            | 0x1c00_001f // nca_s_invalid_checksum
    )
}

/// Checks the header at the start of `b` strictly enough to resynchronise on it.
pub fn plausible_header(b: &[u8]) -> bool {
    let Ok(h) = Header::decode(b) else {
        return false;
    };
    let co_type = matches!(h.ptype.0, 0 | 2 | 3 | 11..=19);
    let drep_ok = matches!(h.drep.0[0], 0x00 | 0x10) && h.drep.0[1] <= 3;
    let auth_ok = h.auth_length == 0
        || usize::from(h.auth_length) + pdu::SEC_TRAILER_LEN + HEADER_LEN
            <= usize::from(h.frag_length);
    h.rpc_vers == 5 && h.rpc_vers_minor <= 1 && co_type && drep_ok && auth_ok
}

#[derive(Debug, Default)]
struct DirState {
    buf: Vec<u8>,
    /// Looking for a header to resynchronise on.
    resync: bool,
}

#[derive(Debug)]
struct PendingBind {
    kind: &'static str,
    assoc_group: u32,
    contexts: Vec<ContextElement>,
    auth_type: Option<String>,
    auth_level: Option<String>,
}

#[derive(Debug)]
struct ReqAsm {
    asm: Reassembly,
    context_id: u16,
    opnum: u16,
    drep: DataRep,
    auth_level: Option<String>,
    /// An `alloc_hint` anomaly was already reported for this call.
    flagged: bool,
}

#[derive(Debug)]
struct Outstanding {
    ts: f64,
    interface: Option<SyntaxId>,
    /// The transfer syntax of the call's context, when known and NDR.
    syntax: Option<TransferSyntax>,
    opnum: u16,
    stub_in: u64,
    fragments: u32,
    auth_level: Option<String>,
    /// Request stub, kept for endpoint mapper and DCOM calls, and for the operations whose
    /// arguments `msrpc_audit::args` reads when the request was in the clear.
    stub: Option<(Vec<u8>, DataRep)>,
    /// Response progress.
    first_resp_ts: Option<f64>,
    stub_out: u64,
    resp: Option<Vec<u8>>,
}

/// An NTLM AUTHENTICATE seen, waiting for the server's verdict.
#[derive(Debug)]
struct PendingAuth {
    ts: f64,
    auth_type: String,
    auth_level: String,
    user: Option<String>,
    /// The bind/alter_context call it rode on (answered by that call's ack or nak); `None`
    /// for auth3 (answered by the next server PDU).
    call_id: Option<u32>,
}

/// One tracked connection.
#[derive(Debug)]
pub struct Conversation {
    dirs: [DirState; 2],
    /// Accepted presentation contexts: the interface, and the accepted transfer syntax when it
    /// is NDR20 or NDR64.
    contexts: HashMap<u16, (SyntaxId, Option<TransferSyntax>)>,
    binds: HashMap<u32, PendingBind>,
    reqs: HashMap<u32, ReqAsm>,
    calls: HashMap<u32, Outstanding>,
    kept_bytes: usize,
    max_stub: usize,
    pending_auth: Option<PendingAuth>,
    user: Option<String>,
    /// An Auth event for a non-NTLM mechanism was reported on this connection.
    opaque_reported: bool,
    /// A non-NTLM mechanism's bind waiting for its verdict: mechanism, level, time.
    opaque_pending: Option<(String, String, f64)>,
    /// An NTLM AUTHENTICATE was seen on this connection.
    ntlm_seen: bool,
    /// PDUs from the client.
    pub pdus_in: u64,
    /// PDUs from the server.
    pub pdus_out: u64,
    /// Whether a presentation context was ever accepted.
    pub bound: bool,
    /// The server's address (for learned endpoints whose tower names no host).
    server: Option<std::net::IpAddr>,
    /// The auth level of the last acknowledged bind or alter_context that carried a
    /// verifier: what a `connect`-level call (no verifier of its own) ran under.
    bind_level: Option<String>,
    /// The SMB named pipe this conversation runs over (`ncacn_np`), for its events.
    named_pipe: Option<String>,
}

impl Conversation {
    /// A tracker for a connection to `server`. `mid_stream` starts it resynchronising (the
    /// capture began after the connection did).
    pub fn new(server: Option<std::net::IpAddr>, mid_stream: bool) -> Self {
        let mut c = Conversation {
            dirs: [DirState::default(), DirState::default()],
            contexts: HashMap::new(),
            binds: HashMap::new(),
            reqs: HashMap::new(),
            calls: HashMap::new(),
            kept_bytes: 0,
            max_stub: DEFAULT_MAX_STUB,
            pending_auth: None,
            user: None,
            opaque_reported: false,
            opaque_pending: None,
            ntlm_seen: false,
            pdus_in: 0,
            pdus_out: 0,
            bound: false,
            server,
            bind_level: None,
            named_pipe: None,
        };
        for d in &mut c.dirs {
            d.resync = mid_stream;
        }
        c
    }

    /// A conversation over the SMB named pipe `name` (`\\pipe\\NAME`): its `bind` and
    /// `call` events carry the name.
    pub fn with_named_pipe(mut self, name: Option<String>) -> Self {
        self.named_pipe = name;
        self
    }

    fn dir_mut(&mut self, dir: Dir) -> &mut DirState {
        match dir {
            Dir::ToServer => &mut self.dirs[0],
            Dir::ToClient => &mut self.dirs[1],
        }
    }

    /// The capture is missing bytes in this direction: drop the partial PDU and resynchronise.
    pub fn gap(&mut self, dir: Dir) {
        let d = self.dir_mut(dir);
        d.buf.clear();
        d.resync = true;
    }

    /// Bytes in stream order for one direction, seen at `ts`.
    pub fn data(&mut self, dir: Dir, ts: f64, bytes: &[u8], out: &mut Output) {
        let (mut buf, mut resync) = {
            let d = self.dir_mut(dir);
            (std::mem::take(&mut d.buf), d.resync)
        };
        buf.extend_from_slice(bytes);
        let mut consumed = 0usize;
        // Bounded: every iteration consumes at least one byte or breaks.
        loop {
            let rest = buf.get(consumed..).unwrap_or_default();
            if resync {
                // Scan for a plausible header; keep the last 15 bytes if none.
                let scan = rest.len().saturating_sub(HEADER_LEN - 1);
                match (0..scan).find(|&i| rest.get(i..).is_some_and(plausible_header)) {
                    Some(i) => {
                        consumed += i;
                        out.resyncs += 1;
                        resync = false;
                        continue;
                    }
                    None => {
                        consumed += scan;
                        break;
                    }
                }
            }
            if rest.len() < HEADER_LEN {
                break;
            }
            if !plausible_header(rest) {
                let (reason, detail) = match Header::decode(rest) {
                    Err(e) => (e.reason_code(), e.to_string()),
                    Ok(h) if h.rpc_vers != 5 || h.rpc_vers_minor > 1 => (
                        "unsupported_version",
                        format!("rpc version {}.{}", h.rpc_vers, h.rpc_vers_minor),
                    ),
                    Ok(h) => (
                        "bad_header",
                        format!(
                            "implausible header (ptype {}, drep {:02x?})",
                            h.ptype.0, h.drep.0
                        ),
                    ),
                };
                out.events.push((
                    ts,
                    EventKind::Malformed {
                        reason: reason.into(),
                        detail,
                    },
                ));
                resync = true;
                consumed += 1;
                continue;
            }
            let len = match pdu::frame_length(rest) {
                Ok(Some(len)) => len,
                _ => break,
            };
            let Some(frame) = rest.get(..len) else {
                break;
            };
            self.frame(dir, ts, frame, out);
            consumed += len;
        }
        buf.drain(..consumed.min(buf.len()));
        let d = self.dir_mut(dir);
        d.buf = buf;
        d.resync = resync;
    }

    fn frame(&mut self, dir: Dir, ts: f64, frame: &[u8], out: &mut Output) {
        let pdu = match Pdu::decode(frame) {
            Ok(p) => p,
            Err(e) => {
                if let Ok(h) = Header::decode(frame) {
                    *out.pdus.entry(h.ptype).or_default() += 1;
                }
                out.events.push((
                    ts,
                    EventKind::Malformed {
                        reason: e.reason_code().into(),
                        detail: e.to_string(),
                    },
                ));
                return;
            }
        };
        let h = pdu.header;
        *out.pdus.entry(h.ptype).or_default() += 1;
        match dir {
            Dir::ToServer => self.pdus_in += 1,
            Dir::ToClient => self.pdus_out += 1,
        }
        let auth_type = pdu
            .auth
            .as_ref()
            .map(|a| names::auth_type(a.trailer.auth_type));
        let auth_level = pdu
            .auth
            .as_ref()
            .map(|a| names::auth_level(a.trailer.auth_level));
        // A mechanism whose tokens name no user (Kerberos, ...): the verdict is the first call
        // answered, or a refusal.
        if dir == Dir::ToClient && self.opaque_pending.is_some() {
            let verdict = match &pdu.body {
                Body::Response(_) => Some(None),
                Body::Fault(f) if auth_fault(f.status) => Some(Some(names::fault(f.status))),
                Body::BindNak(n) => Some(Some(format!("bind_nak: {}", n.reason))),
                _ => None,
            };
            if let Some((fail, Some((auth_type, auth_level, t)))) =
                verdict.map(|v| (v, self.opaque_pending.take()))
            {
                self.opaque_reported = true;
                out.events.push((
                    t,
                    EventKind::Auth {
                        auth_type,
                        auth_level,
                        user: None,
                        outcome: if fail.is_some() {
                            AuthOutcome::Failure
                        } else {
                            AuthOutcome::Success
                        },
                        reason: fail,
                    },
                ));
            }
        }
        // An auth3's verdict is the server's next PDU.
        if dir == Dir::ToClient {
            if let Some(p) = self.pending_auth.take() {
                if p.call_id.is_some() {
                    self.pending_auth = Some(p);
                } else {
                    let fail = match &pdu.body {
                        Body::Fault(f) if auth_fault(f.status) => Some(names::fault(f.status)),
                        Body::BindNak(_) => Some("bind_nak".to_string()),
                        _ => None,
                    };
                    self.auth_verdict(p, fail, out);
                }
            }
        }
        match pdu.body {
            Body::Bind(b) | Body::AlterContext(b) => {
                let kind = if h.ptype == PacketType::BIND {
                    "bind"
                } else {
                    "alter_context"
                };
                self.ntlm_token(&pdu.auth, ts, Some(h.call_id), out);
                for c in &b.contexts {
                    *out.offered.entry(c.abstract_syntax.uuid).or_default() += 1;
                }
                if self.binds.len() >= MAX_PENDING_BINDS {
                    self.binds.clear();
                }
                let opaque_auth = pdu.auth.as_ref().and_then(|a| {
                    let t = a.trailer.auth_type;
                    let ntlm =
                        t == AuthType::WINNT || a.value.windows(8).any(|w| w == b"NTLMSSP\0");
                    (!ntlm && t != AuthType::NONE).then(|| {
                        (
                            names::auth_type(t),
                            names::auth_level(a.trailer.auth_level),
                            ts,
                        )
                    })
                });
                // A verifier without an NTLM message (Kerberos, Netlogon, Schannel, SPNEGO over
                // Kerberos) names no user: its verdict is the first answered call.
                if !self.opaque_reported && !self.ntlm_seen && self.opaque_pending.is_none() {
                    self.opaque_pending = opaque_auth;
                }
                self.binds.insert(
                    h.call_id,
                    PendingBind {
                        kind,
                        assoc_group: b.assoc_group_id,
                        contexts: b.contexts,
                        auth_type,
                        auth_level,
                    },
                );
            }
            Body::BindAck(a) | Body::AlterContextResp(a) => {
                let pending = self.binds.remove(&h.call_id);
                let kind = if h.ptype == PacketType::BIND_ACK {
                    "bind"
                } else {
                    "alter_context"
                };
                let offered = pending.as_ref().map(|p| p.contexts.as_slice());
                let mut contexts = Vec::new();
                for (i, r) in a.results.iter().enumerate() {
                    let Some(el) = offered.and_then(|o| o.get(i)) else {
                        continue;
                    };
                    if r.result == ContextResult::ACCEPTANCE {
                        self.bound = true;
                        if self.contexts.len() < MAX_CONTEXTS
                            || self.contexts.contains_key(&el.context_id)
                        {
                            self.contexts.insert(
                                el.context_id,
                                (el.abstract_syntax, r.transfer_syntax.ndr_syntax()),
                            );
                        }
                    }
                    contexts.push(bind_context(el, Some(r)));
                }
                // Offered contexts the answer did not cover.
                if let Some(o) = offered {
                    for el in o.iter().skip(a.results.len()) {
                        contexts.push(bind_context(el, None));
                    }
                }
                if let Some(level) = pending.as_ref().and_then(|p| p.auth_level.clone()) {
                    self.bind_level = Some(level);
                }
                if let Some(p) = &pending {
                    out.events.push((
                        ts,
                        EventKind::Bind {
                            kind: p.kind.into(),
                            assoc_group: a.assoc_group_id,
                            contexts,
                            nak_reason: None,
                            auth_type: p.auth_type.clone(),
                            auth_level: p.auth_level.clone(),
                            named_pipe: self.named_pipe.clone(),
                        },
                    ));
                } else {
                    // The bind was before the capture: still learn nothing, report the answer.
                    let _ = kind;
                }
                self.resolve_bind_auth(h.call_id, None, out);
            }
            Body::BindNak(n) => {
                let pending = self.binds.remove(&h.call_id);
                let reason = match n.reason.name() {
                    Some(s) => s.to_ascii_lowercase(),
                    None => n.reason.0.to_string(),
                };
                if let Some(p) = pending {
                    out.events.push((
                        ts,
                        EventKind::Bind {
                            kind: p.kind.into(),
                            assoc_group: p.assoc_group,
                            contexts: p.contexts.iter().map(|c| bind_context(c, None)).collect(),
                            nak_reason: Some(reason.clone()),
                            auth_type: p.auth_type,
                            auth_level: p.auth_level,
                            named_pipe: self.named_pipe.clone(),
                        },
                    ));
                }
                self.resolve_bind_auth(h.call_id, Some(format!("bind_nak: {reason}")), out);
            }
            Body::Auth3(_) => self.ntlm_token(&pdu.auth, ts, None, out),
            Body::Request(r) => {
                let iface = self.context(r.context_id).map(|(s, _)| s.uuid);
                *out.request_pdus.entry((iface, r.opnum)).or_default() += 1;
                self.request(h, r, auth_level, ts, out);
            }
            Body::Response(r) => self.response(h, r.stub.len(), Some(r.stub), None, ts, out),
            Body::Fault(f) => {
                *out.faults.entry(f.status).or_default() += 1;
                self.response(h, 0, None, Some(f.status), ts, out);
            }
            _ => {}
        }
    }

    fn request(
        &mut self,
        h: Header,
        r: pdu::Request,
        auth_level: Option<String>,
        ts: f64,
        out: &mut Output,
    ) {
        let first = h.flags.contains(PfcFlags::FIRST_FRAG);
        let last = h.flags.contains(PfcFlags::LAST_FRAG);
        // The same alloc_hint check as the server (reported once per call, never refused).
        let received = if first {
            Some(0)
        } else {
            self.reqs
                .get(&h.call_id)
                .filter(|a| !a.flagged)
                .map(|a| a.asm.len())
        };
        let mut flagged = false;
        if let Some(received) = received {
            if let Some(reason) =
                msrpc_proto::reassembly::alloc_hint_anomaly(received, r.alloc_hint, self.max_stub)
            {
                flagged = true;
                if let Some(a) = self.reqs.get_mut(&h.call_id).filter(|_| !first) {
                    a.flagged = true;
                }
                out.events.push((
                    ts,
                    EventKind::Malformed {
                        reason: reason.into(),
                        detail: format!(
                            "call {}: alloc_hint {} after {received} stub bytes",
                            h.call_id, r.alloc_hint
                        ),
                    },
                ));
            }
        }
        let err = if first {
            if self.reqs.contains_key(&h.call_id) {
                self.drop_req(h.call_id);
                Some(ReassemblyError::DuplicateFirst(h.call_id))
            } else {
                let room = self.max_stub.saturating_sub(self.kept_bytes);
                match Reassembly::start(&r.stub, room) {
                    Ok(asm) => {
                        self.kept_bytes += asm.len();
                        self.reqs.insert(
                            h.call_id,
                            ReqAsm {
                                asm,
                                context_id: r.context_id,
                                opnum: r.opnum,
                                drep: h.drep,
                                auth_level,
                                flagged,
                            },
                        );
                        None
                    }
                    Err(_) => Some(ReassemblyError::OverCap { cap: self.max_stub }),
                }
            }
        } else {
            match self.reqs.get_mut(&h.call_id) {
                // A continuation whose start the capture missed: nothing to say.
                None => return,
                Some(a) if a.opnum != r.opnum || a.context_id != r.context_id => {
                    self.drop_req(h.call_id);
                    Some(ReassemblyError::Inconsistent(h.call_id))
                }
                Some(a) => {
                    let room = self.max_stub.saturating_sub(self.kept_bytes) + a.asm.len();
                    let before = a.asm.len();
                    if before + r.stub.len() > room {
                        self.drop_req(h.call_id);
                        Some(ReassemblyError::OverCap { cap: self.max_stub })
                    } else {
                        match a.asm.push(&r.stub) {
                            Ok(()) => {
                                self.kept_bytes += r.stub.len();
                                None
                            }
                            Err(e) => Some(e),
                        }
                    }
                }
            }
        };
        if let Some(e) = err {
            out.events.push((
                ts,
                EventKind::Malformed {
                    reason: e.reason_code().into(),
                    detail: e.to_string(),
                },
            ));
            return;
        }
        if !last {
            return;
        }
        let Some(a) = self.reqs.remove(&h.call_id) else {
            return;
        };
        let fragments = a.asm.fragments();
        let stub = a.asm.finish();
        self.kept_bytes = self.kept_bytes.saturating_sub(stub.len());
        let (interface, syntax) = match self.context(a.context_id) {
            Some((i, ts)) => (Some(i), ts),
            None => (None, None),
        };
        let is_epm = interface.is_some_and(|s| s.uuid.as_u128() == epm::EPM_UUID);
        // EPM stubs (ports learned) and DCOM ones (activations, resolver and IRemUnknown calls);
        // the arguments of a few operations, when not sealed (privacy).
        let is_dcom = interface.is_some_and(|s| msrpc_audit::dcom::interprets(&s.uuid));
        let has_args = interface.is_some_and(|s| msrpc_audit::args::reads_op(&s.uuid, a.opnum))
            && a.auth_level.as_deref() != Some("privacy");
        let reads = is_epm || is_dcom || has_args;
        if reads && syntax.is_none() {
            out.unknown_syntax += 1;
        }
        let keep = reads && syntax.is_some() && self.kept_bytes + stub.len() <= self.max_stub;
        if keep {
            self.kept_bytes += stub.len();
        }
        if self.calls.len() >= MAX_OUTSTANDING {
            self.calls.clear();
            self.kept_bytes = self.reqs.values().map(|r| r.asm.len()).sum();
        }
        let stub_in = stub.len() as u64;
        if let Some(old) = self.calls.insert(
            h.call_id,
            Outstanding {
                ts,
                interface,
                syntax,
                opnum: a.opnum,
                stub_in,
                fragments,
                auth_level: a.auth_level,
                stub: keep.then_some((stub, a.drep)),
                first_resp_ts: None,
                stub_out: 0,
                resp: None,
            },
        ) {
            self.release(&old);
        }
    }

    /// The interface and NDR transfer syntax of a presentation context: an accepted one, or
    /// else one offered in a bind whose answer has not been seen yet (the client's direction
    /// can run ahead of the server's in a capture), whose syntax is known only when it offered
    /// one.
    fn context(&self, id: u16) -> Option<(SyntaxId, Option<TransferSyntax>)> {
        self.contexts.get(&id).copied().or_else(|| {
            self.binds
                .values()
                .flat_map(|b| b.contexts.iter())
                .find(|c| c.context_id == id)
                .map(|c| {
                    let only = match c.transfer_syntaxes.as_slice() {
                        [one] => one.ndr_syntax(),
                        _ => None,
                    };
                    (c.abstract_syntax, only)
                })
        })
    }

    fn drop_req(&mut self, call_id: u32) {
        if let Some(a) = self.reqs.remove(&call_id) {
            self.kept_bytes = self.kept_bytes.saturating_sub(a.asm.len());
        }
    }

    fn release(&mut self, c: &Outstanding) {
        let n = c.stub.as_ref().map_or(0, |(s, _)| s.len()) + c.resp.as_ref().map_or(0, Vec::len);
        self.kept_bytes = self.kept_bytes.saturating_sub(n);
    }

    fn response(
        &mut self,
        h: Header,
        len: usize,
        stub: Option<Vec<u8>>,
        fault: Option<FaultStatus>,
        ts: f64,
        out: &mut Output,
    ) {
        let Some(c) = self.calls.get_mut(&h.call_id) else {
            return;
        };
        if c.first_resp_ts.is_none() {
            c.first_resp_ts = Some(ts);
        }
        c.stub_out += len as u64;
        // Answers are read for EPM and DCOM calls only.
        let read_answer = c.interface.is_some_and(|s| {
            s.uuid.as_u128() == epm::EPM_UUID || msrpc_audit::dcom::interprets(&s.uuid)
        });
        if c.stub.is_some() && read_answer && fault.is_none() {
            if let Some(s) = stub {
                if self.kept_bytes + s.len() <= self.max_stub {
                    self.kept_bytes += s.len();
                    c.resp.get_or_insert_with(Vec::new).extend_from_slice(&s);
                }
            }
        }
        if fault.is_none() && !h.flags.contains(PfcFlags::LAST_FRAG) {
            return;
        }
        let Some(c) = self.calls.remove(&h.call_id) else {
            return;
        };
        self.release(&c);
        let iface = c.interface.map(|s| s.uuid);
        let args = match (iface, &c.stub, c.syntax) {
            (Some(u), Some((req, rdrep)), Some(syn))
                if msrpc_audit::args::reads_op(&u, c.opnum) =>
            {
                msrpc_audit::args::extract(&u, c.opnum, req, *rdrep, syn)
            }
            _ => Vec::new(),
        };
        out.events.push((
            ts,
            EventKind::Call {
                call_id: h.call_id,
                interface: iface.map(|u| u.to_string()),
                endpoint: iface.and_then(|u| names::interface(&u)).map(str::to_string),
                opnum: c.opnum,
                operation: iface
                    .and_then(|u| names::operation(&u, c.opnum))
                    .map(str::to_string),
                stub_in: c.stub_in,
                stub_out: if fault.is_some() { 0 } else { c.stub_out },
                fragments: c.fragments,
                rtt: c.first_resp_ts.map(|t| (t - c.ts).max(0.0)),
                fault: fault.map(names::fault),
                args,
                auth_level: c.auth_level.clone(),
                user: self.user.clone(),
                named_pipe: self.named_pipe.clone(),
                transport: None,
            },
        ));
        let is_epm = iface.is_some_and(|u| u.as_u128() == epm::EPM_UUID);
        if let (true, Some((req, rdrep)), Some(resp), Some(syn)) =
            (is_epm, &c.stub, &c.resp, c.syntax)
        {
            if let Some((kind, learned)) =
                epm::interpret(req, *rdrep, resp, h.drep, syn, c.opnum, h.call_id)
            {
                out.events.push((ts, kind));
                out.learned
                    .extend(learned.into_iter().map(|l| (l, self.server)));
            }
        }
        if let (Some(u), Some((req, rdrep)), Some(syn)) = (iface, &c.stub, c.syntax) {
            let facts = msrpc_audit::dcom::CallFacts {
                call_id: h.call_id,
                // A connect-level call carries no verifier: the bind's level.
                auth_level: c.auth_level.clone().or_else(|| self.bind_level.clone()),
                user: self.user.clone(),
            };
            let resp = c.resp.as_deref().map(|r| (r, h.drep));
            if let Some(kind) =
                msrpc_audit::dcom::interpret_call(&u, c.opnum, req, *rdrep, syn, resp, &facts)
            {
                out.events.push((ts, kind));
            }
        }
    }

    /// Looks for an NTLM AUTHENTICATE message in a verifier (raw or inside SPNEGO).
    fn ntlm_token(
        &mut self,
        auth: &Option<pdu::AuthVerifier>,
        ts: f64,
        call_id: Option<u32>,
        out: &mut Output,
    ) {
        let Some(a) = auth else { return };
        let t = a.trailer.auth_type;
        if t != AuthType::WINNT && t != AuthType::GSS_NEGOTIATE {
            return;
        }
        const SIG: &[u8] = b"NTLMSSP\0";
        let Some(at) = a.value.windows(SIG.len()).position(|w| w == SIG) else {
            return;
        };
        let msg = a.value.get(at..).unwrap_or_default();
        if msg.get(8..12) != Some(&[3, 0, 0, 0]) {
            return;
        }
        let user = match msrpc_ntlm::messages::Authenticate::decode(msg) {
            // An anonymous logon: named as the live audit names it.
            Ok(m) if msrpc_ntlm::is_anonymous_logon(&m) => {
                Some(msrpc_ntlm::ANONYMOUS_LOGON.to_string())
            }
            Ok(m) if m.user.is_empty() => None,
            Ok(m) if m.domain.is_empty() => Some(m.user),
            Ok(m) => Some(format!("{}\\{}", m.domain, m.user)),
            Err(e) => {
                out.events.push((
                    ts,
                    EventKind::Malformed {
                        reason: "ntlm_message".into(),
                        detail: e.to_string(),
                    },
                ));
                return;
            }
        };
        if let Some(prev) = self.pending_auth.take() {
            self.auth_verdict(prev, Some("superseded".into()), out);
        }
        self.ntlm_seen = true;
        self.opaque_pending = None;
        self.pending_auth = Some(PendingAuth {
            ts,
            auth_type: names::auth_type(t),
            auth_level: names::auth_level(a.trailer.auth_level),
            user,
            call_id,
        });
    }

    fn resolve_bind_auth(&mut self, call_id: u32, fail: Option<String>, out: &mut Output) {
        match self.pending_auth.take() {
            Some(p) if p.call_id == Some(call_id) => self.auth_verdict(p, fail, out),
            other => self.pending_auth = other,
        }
    }

    fn auth_verdict(&mut self, p: PendingAuth, fail: Option<String>, out: &mut Output) {
        let outcome = if fail.is_some() {
            AuthOutcome::Failure
        } else {
            self.user.clone_from(&p.user);
            AuthOutcome::Success
        };
        out.events.push((
            p.ts,
            EventKind::Auth {
                auth_type: p.auth_type,
                auth_level: p.auth_level,
                user: p.user,
                outcome,
                reason: fail,
            },
        ));
    }

    /// The connection ended (`capture_end` when the capture stopped first): an
    /// authentication still waiting for its verdict is reported as a failure with reason
    /// `unanswered` (`unanswered_at_capture_end` when the capture simply stopped).
    pub fn close(&mut self, reason: &str, out: &mut Output) {
        if let Some(p) = self.pending_auth.take() {
            let why = if reason == "capture_end" {
                "unanswered_at_capture_end"
            } else {
                "unanswered"
            };
            self.auth_verdict(p, Some(why.into()), out);
        }
        self.reqs.clear();
        self.calls.clear();
        self.kept_bytes = 0;
        for d in &mut self.dirs {
            d.buf = Vec::new();
        }
    }

    /// Bytes held (buffers and kept stubs), for the memory bound.
    pub fn held(&self) -> usize {
        self.kept_bytes + self.dirs.iter().map(|d| d.buf.len()).sum::<usize>()
    }
}

fn syntax_name(s: &SyntaxId) -> String {
    if *s == SyntaxId::NDR20 {
        "ndr20".into()
    } else if *s == SyntaxId::NDR64 {
        "ndr64".into()
    } else if s.is_bind_time_features() {
        "bind_time_features".into()
    } else {
        format!("{} v{}", s.uuid, s.major)
    }
}

fn bind_context(el: &ContextElement, r: Option<&pdu::ContextResultEntry>) -> BindContext {
    let uuid = el.abstract_syntax.uuid;
    BindContext {
        context_id: el.context_id,
        interface: uuid.to_string(),
        version: format!("{}.{}", el.abstract_syntax.major, el.abstract_syntax.minor),
        endpoint: names::interface(&uuid).map(str::to_string),
        transfer_syntaxes: el.transfer_syntaxes.iter().map(syntax_name).collect(),
        result: r.map(|r| match r.result.0 {
            0 => "accepted".to_string(),
            1 => "user_rejection".into(),
            2 => "provider_rejection".into(),
            3 => "negotiate_ack".into(),
            n => n.to_string(),
        }),
        reason: r
            .filter(|r| r.result != ContextResult::ACCEPTANCE && r.result.0 != 3)
            .map(|r| match r.reason.name() {
                Some(n) => n.to_ascii_lowercase(),
                None => r.reason.0.to_string(),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use msrpc_proto::pdu::{
        Bind, BindAck, ContextResultEntry, Fault, ProviderReason, Request, Response,
    };

    const ECHO: SyntaxId = SyntaxId::new(
        Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182),
        1,
        0,
    );

    fn enc(ptype: PacketType, flags: PfcFlags, call_id: u32, body: Body) -> Vec<u8> {
        Pdu {
            header: Header::new(ptype, flags, call_id),
            body,
            auth: None,
        }
        .encode()
        .unwrap()
    }

    fn bind() -> Vec<u8> {
        enc(
            PacketType::BIND,
            PfcFlags::FIRST_AND_LAST,
            1,
            Body::Bind(Bind {
                max_xmit_frag: 4280,
                max_recv_frag: 4280,
                assoc_group_id: 0,
                contexts: vec![ContextElement {
                    context_id: 3,
                    abstract_syntax: ECHO,
                    transfer_syntaxes: vec![SyntaxId::NDR20],
                }],
            }),
        )
    }

    fn bind_ack() -> Vec<u8> {
        enc(
            PacketType::BIND_ACK,
            PfcFlags::FIRST_AND_LAST,
            1,
            Body::BindAck(BindAck {
                max_xmit_frag: 4280,
                max_recv_frag: 4280,
                assoc_group_id: 77,
                sec_addr: b"135\0".to_vec(),
                results: vec![ContextResultEntry {
                    result: ContextResult::ACCEPTANCE,
                    reason: ProviderReason::REASON_NOT_SPECIFIED,
                    transfer_syntax: SyntaxId::NDR20,
                }],
            }),
        )
    }

    fn request(call_id: u32, flags: PfcFlags, opnum: u16, stub: &[u8]) -> Vec<u8> {
        enc(
            PacketType::REQUEST,
            flags,
            call_id,
            Body::Request(Request {
                alloc_hint: 0,
                context_id: 3,
                opnum,
                object: None,
                stub: stub.to_vec(),
            }),
        )
    }

    fn response(call_id: u32, stub: &[u8]) -> Vec<u8> {
        enc(
            PacketType::RESPONSE,
            PfcFlags::FIRST_AND_LAST,
            call_id,
            Body::Response(Response {
                alloc_hint: 0,
                context_id: 3,
                cancel_count: 0,
                reserved: 0,
                stub: stub.to_vec(),
            }),
        )
    }

    fn fault(call_id: u32, status: FaultStatus) -> Vec<u8> {
        enc(
            PacketType::FAULT,
            PfcFlags::FIRST_AND_LAST,
            call_id,
            Body::Fault(Fault {
                alloc_hint: 0,
                context_id: 3,
                cancel_count: 0,
                flags: 0,
                status,
                reserved2: 0,
                stub: Vec::new(),
            }),
        )
    }

    type CallRow = (u32, Option<String>, u16, u64, u64, u32, Option<String>);

    /// The reasons of the `malformed` events, in order.
    fn malformed(out: &Output) -> Vec<&str> {
        out.events
            .iter()
            .filter_map(|(_, e)| match e {
                EventKind::Malformed { reason, .. } => Some(reason.as_str()),
                _ => None,
            })
            .collect()
    }

    fn calls(out: &Output) -> Vec<CallRow> {
        out.events
            .iter()
            .filter_map(|(_, e)| match e {
                EventKind::Call {
                    call_id,
                    endpoint,
                    opnum,
                    stub_in,
                    stub_out,
                    fragments,
                    fault,
                    ..
                } => Some((
                    *call_id,
                    endpoint.clone(),
                    *opnum,
                    *stub_in,
                    *stub_out,
                    *fragments,
                    fault.clone(),
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn bind_fragmented_call_fault_byte_by_byte() {
        let mut c = Conversation::new(None, false);
        let mut out = Output::default();
        let client: Vec<u8> = [
            bind(),
            request(2, PfcFlags::FIRST_FRAG, 1, &[1; 16]),
            request(2, PfcFlags::LAST_FRAG, 1, &[2; 8]),
            request(3, PfcFlags::FIRST_AND_LAST, 9, &[0; 4]),
        ]
        .concat();
        let server: Vec<u8> = [
            bind_ack(),
            response(2, &[5; 24]),
            fault(3, FaultStatus::NCA_S_OP_RNG_ERROR),
        ]
        .concat();
        // The client's bytes one at a time, then the server's in one piece, at later times.
        for b in &client {
            c.data(Dir::ToServer, 1.0, std::slice::from_ref(b), &mut out);
        }
        c.data(Dir::ToClient, 1.25, &server, &mut out);
        assert!(c.bound);
        assert_eq!((c.pdus_in, c.pdus_out), (4, 3));
        assert!(matches!(
            &out.events[0].1,
            EventKind::Bind { assoc_group: 77, contexts, .. }
                if contexts[0].context_id == 3 && contexts[0].result.as_deref() == Some("accepted")
                    && contexts[0].endpoint.as_deref() == Some("rpcecho")
        ));
        assert_eq!(
            calls(&out),
            vec![
                (2, Some("rpcecho".into()), 1, 24, 24, 2, None),
                (
                    3,
                    Some("rpcecho".into()),
                    9,
                    4,
                    0,
                    1,
                    Some("nca_s_op_rng_error".into())
                ),
            ]
        );
        let rtt = out.events.iter().find_map(|(_, e)| match e {
            EventKind::Call { rtt, .. } => *rtt,
            _ => None,
        });
        assert_eq!(rtt, Some(0.25));
        assert_eq!(out.request_pdus.get(&(Some(ECHO.uuid), 1)), Some(&2));
        assert_eq!(out.pdus.get(&PacketType::REQUEST), Some(&3));
        assert_eq!(c.held(), 0);
    }

    fn request_hint(call_id: u32, flags: PfcFlags, alloc_hint: u32, stub: &[u8]) -> Vec<u8> {
        enc(
            PacketType::REQUEST,
            flags,
            call_id,
            Body::Request(Request {
                alloc_hint,
                context_id: 3,
                opnum: 1,
                object: None,
                stub: stub.to_vec(),
            }),
        )
    }

    #[test]
    fn alloc_hints_past_the_cap_or_2_pow_32_are_reported_once_per_call() {
        let mut c = Conversation::new(None, false);
        let mut out = Output::default();
        c.data(Dir::ToServer, 0.0, &bind(), &mut out);
        c.data(Dir::ToClient, 0.0, &bind_ack(), &mut out);
        let client = [
            // An honest call: no report.
            request_hint(2, PfcFlags::FIRST_AND_LAST, 8, &[0; 8]),
            // The CVE-2022-26809 shape: fragments whose received bytes plus alloc_hint wrap.
            request_hint(3, PfcFlags::FIRST_FRAG, 64, &[0; 64]),
            request_hint(3, PfcFlags(0), u32::MAX - 10, &[0; 64]),
            request_hint(3, PfcFlags::LAST_FRAG, u32::MAX - 10, &[0; 64]),
            // An alloc_hint far beyond the 4 MiB cap on a first fragment.
            request_hint(4, PfcFlags::FIRST_AND_LAST, 0x8000_0000, &[0; 8]),
        ]
        .concat();
        c.data(Dir::ToServer, 1.0, &client, &mut out);
        let reasons = malformed(&out);
        assert_eq!(reasons, ["alloc_hint_overflow", "alloc_hint_over_cap"]);
        // The detectors turn them into an exploit_shape alert.
        let mut d = msrpc_audit::detect::Detectors::new(Default::default());
        let conn = msrpc_audit::ConnId {
            uid: "C1".into(),
            orig_h: Some(std::net::IpAddr::from([10, 0, 0, 9])),
            orig_p: Some(50000),
            resp_h: None,
            resp_p: Some(135),
        };
        let alerts: Vec<String> = out
            .events
            .iter()
            .flat_map(|(ts, k)| {
                d.observe(&msrpc_audit::Event {
                    ts: *ts,
                    conn: conn.clone(),
                    kind: k.clone(),
                })
            })
            .filter_map(|e| match e.kind {
                EventKind::Alert { detector, .. } => Some(detector),
                _ => None,
            })
            .collect();
        assert!(
            alerts.iter().any(|a| a == "exploit_shape"),
            "alerts: {alerts:?}"
        );
    }

    #[test]
    fn resynchronises_after_a_gap_and_reports_garbage() {
        let mut c = Conversation::new(None, false);
        let mut out = Output::default();
        c.data(Dir::ToServer, 0.0, &bind(), &mut out);
        c.data(Dir::ToClient, 0.0, &bind_ack(), &mut out);
        // Half a request, then a gap, then a whole one.
        let r = request(5, PfcFlags::FIRST_AND_LAST, 0, &[0; 4]);
        c.data(Dir::ToServer, 0.0, &r[..10], &mut out);
        c.gap(Dir::ToServer);
        let mut after = vec![0xee; 7];
        after.extend(request(6, PfcFlags::FIRST_AND_LAST, 0, &[0; 4]));
        c.data(Dir::ToServer, 0.0, &after, &mut out);
        c.data(Dir::ToClient, 0.0, &response(6, &[1; 4]), &mut out);
        assert_eq!(out.resyncs, 1);
        assert_eq!(calls(&out).len(), 1);
        assert_eq!(calls(&out)[0].0, 6);
        // Garbage without a gap is malformed input, reported once, then resynchronised.
        c.data(Dir::ToServer, 0.0, &[0x41; 40], &mut out);
        let malformed = malformed(&out);
        assert_eq!(malformed, ["unsupported_version"]);
    }

    #[test]
    fn reassembly_errors_use_the_server_reason_codes() {
        let mut c = Conversation::new(None, false);
        let mut out = Output::default();
        c.data(Dir::ToServer, 0.0, &bind(), &mut out);
        c.data(Dir::ToClient, 0.0, &bind_ack(), &mut out);
        let big = vec![0u8; 4000];
        // Two first fragments of one call.
        c.data(
            Dir::ToServer,
            0.0,
            &request(7, PfcFlags::FIRST_FRAG, 1, &big),
            &mut out,
        );
        c.data(
            Dir::ToServer,
            0.0,
            &request(7, PfcFlags::FIRST_FRAG, 1, &big),
            &mut out,
        );
        // A fragment changing the opnum.
        c.data(
            Dir::ToServer,
            0.0,
            &request(8, PfcFlags::FIRST_FRAG, 1, &big),
            &mut out,
        );
        c.data(
            Dir::ToServer,
            0.0,
            &request(8, PfcFlags(0), 2, &big),
            &mut out,
        );
        // More than 4 MiB in one call.
        c.data(
            Dir::ToServer,
            0.0,
            &request(9, PfcFlags::FIRST_FRAG, 1, &big),
            &mut out,
        );
        for _ in 0..1100 {
            c.data(
                Dir::ToServer,
                0.0,
                &request(9, PfcFlags(0), 1, &big),
                &mut out,
            );
        }
        let reasons = malformed(&out);
        assert_eq!(
            reasons,
            vec![
                "fragment_out_of_order",
                "fragment_inconsistent",
                "reassembly_over_cap"
            ]
        );
        assert!(c.held() <= DEFAULT_MAX_STUB + 2 * 65536);
    }

    #[test]
    fn plausible_header_rejects_noise() {
        assert!(plausible_header(&bind()));
        let mut b = bind();
        b[0] = 4;
        assert!(!plausible_header(&b));
        let mut b = bind();
        b[2] = 7; // connectionless type
        assert!(!plausible_header(&b));
        let mut b = bind();
        b[4] = 0x22; // drep
        assert!(!plausible_header(&b));
    }

    proptest::proptest! {
        /// Arbitrary bytes in arbitrary chunks, with gaps, in both directions: no panic, and
        /// the bytes held stay under the per-connection bound.
        #[test]
        fn arbitrary_streams_never_panic(
            chunks in proptest::collection::vec(
                (proptest::prelude::any::<bool>(), proptest::prelude::any::<bool>(),
                 proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)),
                0..40),
            seed_with_bind in proptest::prelude::any::<bool>(),
        ) {
            let mut c = Conversation::new(None, false);
            let mut out = Output::default();
            if seed_with_bind {
                c.data(Dir::ToServer, 0.0, &bind(), &mut out);
                c.data(Dir::ToClient, 0.0, &bind_ack(), &mut out);
            }
            for (to_server, gap, bytes) in chunks {
                let d = if to_server { Dir::ToServer } else { Dir::ToClient };
                if gap {
                    c.gap(d);
                }
                // Real PDUs interleaved with the noise exercise the decoder paths too.
                let mut b = bytes.clone();
                if b.first().is_some_and(|x| x % 3 == 0) {
                    b.extend(request(9, PfcFlags::FIRST_AND_LAST, 1, &bytes));
                }
                c.data(d, 0.0, &b, &mut out);
                proptest::prop_assert!(c.held() <= DEFAULT_MAX_STUB + 2 * 70_000);
            }
            c.close("peer_closed", &mut out);
            proptest::prop_assert_eq!(c.held(), 0);
        }
    }

    /// An EPM `ept_lookup` of every element on context 3, bound with `offered` transfer
    /// syntaxes and, when `accepted` is given, answered with it; the request and its answer
    /// encoded in `syntax`. Returns the tracker's output.
    fn epm_lookup_in(
        offered: Vec<SyntaxId>,
        accepted: Option<SyntaxId>,
        syntax: TransferSyntax,
    ) -> Output {
        use msrpc_epm::{EptLookupRequest, EptLookupResponse, RPC_C_EP_ALL_ELTS};
        use msrpc_ndr::{ContextHandle, Unique};
        let epm = SyntaxId::new(Uuid::from_u128(epm::EPM_UUID), 3, 0);
        let mut c = Conversation::new(None, false);
        let mut out = Output::default();
        let bind = enc(
            PacketType::BIND,
            PfcFlags::FIRST_AND_LAST,
            1,
            Body::Bind(Bind {
                max_xmit_frag: 4280,
                max_recv_frag: 4280,
                assoc_group_id: 0,
                contexts: vec![ContextElement {
                    context_id: 3,
                    abstract_syntax: epm,
                    transfer_syntaxes: offered,
                }],
            }),
        );
        c.data(Dir::ToServer, 1.0, &bind, &mut out);
        if let Some(t) = accepted {
            let ack = enc(
                PacketType::BIND_ACK,
                PfcFlags::FIRST_AND_LAST,
                1,
                Body::BindAck(BindAck {
                    max_xmit_frag: 4280,
                    max_recv_frag: 4280,
                    assoc_group_id: 77,
                    sec_addr: b"135\0".to_vec(),
                    results: vec![ContextResultEntry {
                        result: ContextResult::ACCEPTANCE,
                        reason: ProviderReason::REASON_NOT_SPECIFIED,
                        transfer_syntax: t,
                    }],
                }),
            );
            c.data(Dir::ToClient, 1.1, &ack, &mut out);
        }
        let req = EptLookupRequest {
            inquiry_type: RPC_C_EP_ALL_ELTS,
            object: Unique::null(),
            interface_id: Unique::null(),
            vers_option: 1,
            entry_handle: ContextHandle::NULL,
            max_ents: 500,
        };
        let resp = EptLookupResponse {
            entry_handle: ContextHandle::NULL,
            num_ents: 0,
            entries: Vec::new(),
            status: 0x16c9_a0d6,
        };
        let q = req.to_stub_in(DataRep::LITTLE_ENDIAN, syntax).unwrap();
        let r = resp
            .to_stub_in(&req, DataRep::LITTLE_ENDIAN, syntax)
            .unwrap();
        c.data(
            Dir::ToServer,
            2.0,
            &request(2, PfcFlags::FIRST_AND_LAST, 2, &q),
            &mut out,
        );
        c.data(Dir::ToClient, 2.1, &response(2, &r), &mut out);
        out
    }

    fn lookups(out: &Output) -> Vec<&EventKind> {
        out.events
            .iter()
            .map(|(_, k)| k)
            .filter(|k| matches!(k, EventKind::EpmLookup { .. }))
            .collect()
    }

    #[test]
    fn stubs_are_read_in_the_accepted_transfer_syntax() {
        let want = EventKind::EpmLookup {
            call_id: 2,
            inquiry: "all".into(),
            interface: None,
            entries: 0,
            status: 0x16c9_a0d6,
            resumed: false,
            max_ents: 500,
            end: true,
        };
        // Windows' answer: NDR64 accepted.
        let out = epm_lookup_in(
            vec![SyntaxId::NDR64],
            Some(SyntaxId::NDR64),
            TransferSyntax::Ndr64,
        );
        assert_eq!(lookups(&out), [&want]);
        assert_eq!(out.unknown_syntax, 0);
        let out = epm_lookup_in(
            vec![SyntaxId::NDR20, SyntaxId::NDR64],
            Some(SyntaxId::NDR20),
            TransferSyntax::Ndr20,
        );
        assert_eq!(lookups(&out), [&want]);
        // The answer missed, one syntax offered: that one.
        let out = epm_lookup_in(vec![SyntaxId::NDR64], None, TransferSyntax::Ndr64);
        assert_eq!(lookups(&out), [&want]);
        // The answer missed, two offered: unknown, not decoded, counted; the call is still
        // reported.
        let out = epm_lookup_in(
            vec![SyntaxId::NDR20, SyntaxId::NDR64],
            None,
            TransferSyntax::Ndr64,
        );
        assert!(lookups(&out).is_empty());
        assert_eq!(out.unknown_syntax, 1);
        assert!(out
            .events
            .iter()
            .any(|(_, k)| matches!(k, EventKind::Call { opnum: 2, .. })));
        // A syntax that is not NDR: not decoded, counted.
        let other = SyntaxId::new(Uuid::from_u128(0x1234), 1, 0);
        let out = epm_lookup_in(vec![other], Some(other), TransferSyntax::Ndr20);
        assert!(lookups(&out).is_empty());
        assert_eq!(out.unknown_syntax, 1);
    }
}
