//! The server side of one connection (an association, C706 12.3 and MS-RPCE 3.3.3), sans-IO.
//!
//! Feed it bytes with [`ServerConnection::receive`]; it answers binds itself, turns requests
//! into [`ServerEvent::Call`]s (reassembled, verified and unsealed), takes results with
//! [`ServerConnection::respond`], and queues outgoing fragments for
//! [`ServerConnection::poll_transmit`]. It never does IO and never reads a clock.
//!
//! # States (after C706 12.3.? the CO server association state table)
//! | state | input | action | next |
//! |---|---|---|---|
//! | AwaitingBind | bind (acceptable) | bind_ack | Bound |
//! | AwaitingBind | bind (unacceptable) | bind_nak | AwaitingBind |
//! | AwaitingBind | request / alter_context / other | fault nca_proto_error, close | Closed |
//! | Bound | alter_context | alter_context_resp | Bound |
//! | Bound | alter_context with a new `auth_context_id` | start another security context | Bound |
//! | Bound | auth3 | complete the named context's leg, no reply | Bound |
//! | Bound | request fragments | reassemble; last -> Call event | Bound |
//! | Bound | co_cancel / orphaned | Cancel / Orphaned event | Bound |
//! | Bound | second bind | bind_nak, close | Closed |
//! | any | undecodable frame | close (ProtocolError event) | Closed |

use rustc_hash::FxHashMap;
use std::collections::VecDeque;

use crate::pdu::{encode_stub_frame, StubBody};

use msrpc_ndr::{DataRep, TransferSyntax, Uuid};

use crate::dispatch::CallAuth;
use crate::pdu::{
    self, AuthLayout, AuthLevel, AuthType, AuthVerifier, Bind, BindAck, BindNak, BindNakReason,
    BindTimeFeatures, Body, ContextElement, ContextResult, ContextResultEntry, Fault, FaultStatus,
    Header, PacketType, Pdu, PfcFlags, ProviderReason, SecTrailer, SyntaxId,
};
use crate::reassembly::{stub_capacity, Framer, Reassembly, ReassemblyError, DEFAULT_MAX_STUB};
use crate::security::{level_seals, level_signs, AuthContext, AuthStep, SecurityProvider};
use crate::verification::{Header2, RequestFacts, VerificationTrailer};

/// The smallest fragment every implementation must accept (C706 `MUST_RECV_FRAG_SIZE`).
pub const MUST_RECV_FRAG_SIZE: u16 = 1432;

/// Limits and choices of a server connection.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Largest fragment we send (the client's max_recv_frag may lower it). Default 5840.
    pub max_xmit_frag: u16,
    /// Largest fragment we accept (the client's max_xmit_frag may lower it). Default 5840.
    pub max_recv_frag: u16,
    /// Cap on one reassembled request stub, and on all in-progress reassemblies of the
    /// connection together. Default 4 MiB.
    pub max_stub: usize,
    /// Calls that may be outstanding (being reassembled or dispatched) at once. Default 64.
    pub max_outstanding_calls: usize,
    /// Presentation contexts one bind or alter_context may offer, and that a connection may
    /// hold. Default 64.
    pub max_contexts: usize,
    /// Bind-time features we support (answered with negotiate_ack). Default: keep the
    /// connection on orphan and security-context multiplexing.
    pub bind_time_features: BindTimeFeatures,
    /// The `sec_addr` of bind_ack: our port as text, NUL-terminated by the encoder. Empty
    /// sends a zero-length address.
    pub sec_addr: String,
    /// Whether we support header signing (`PFC_SUPPORT_HEADER_SIGN`).
    pub header_signing: bool,
    /// Security contexts one connection may hold (each alter_context with a new
    /// `auth_context_id` starts one). Default 4.
    pub max_auth_contexts: usize,
    /// Check (and strip) a verification trailer (MS-RPCE 2.2.2.13) found at the end of a
    /// signed request's stub. Default true.
    pub verification_trailer: bool,
    /// Which transfer syntax wins when a bind offers an interface (that supports NDR64) in
    /// both NDR20 and NDR64, in one presentation context or in two. Default NDR64, what
    /// 64-bit Windows servers do (see [`TransferPreference`]).
    pub transfer_preference: TransferPreference,
}

/// Which transfer syntax a server accepts when a client offers NDR20 and NDR64 for the same
/// interface.
///
/// With two contexts (Windows clients send NDR20 in one, NDR64 in the next), the context of
/// the preferred syntax is accepted and the other is refused with
/// `proposed_transfer_syntaxes_not_supported`; with both in one context, that context
/// accepts the preferred one. 64-bit Windows servers prefer NDR64: in the captures of
/// `../shared/captures` (SAMR and LSARPC over SMB, the EPM, NETLOGON, DRSUAPI, MGMT, a DCOM
/// class factory) every bind_ack to an NDR20 + NDR64 offer refuses the NDR20 context that
/// way and accepts the NDR64 one; only interfaces built without NDR64 (IRemUnknown2 on the
/// object exporter) accept NDR20 and refuse NDR64.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TransferPreference {
    /// NDR64 wins (the default, as 64-bit Windows).
    #[default]
    Ndr64,
    /// NDR20 wins (as 32-bit Windows and servers without NDR64).
    Ndr20,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_xmit_frag: 5840,
            max_recv_frag: 5840,
            max_stub: DEFAULT_MAX_STUB,
            max_outstanding_calls: 64,
            max_contexts: 64,
            bind_time_features: BindTimeFeatures::BOTH,
            sec_addr: String::new(),
            header_signing: true,
            max_auth_contexts: 4,
            verification_trailer: true,
            transfer_preference: TransferPreference::Ndr64,
        }
    }
}

/// What the connection asks of the server it belongs to.
pub trait ServerEnv {
    /// The served interface compatible with `abstract_syntax` (same UUID and major version,
    /// served minor >= requested minor), if any.
    fn lookup_interface(&self, abstract_syntax: &SyntaxId) -> Option<SyntaxId>;
    /// True when the served interface `interface` (as [`ServerEnv::lookup_interface`]
    /// returned it) can be called in NDR64. The default is false: NDR20 only.
    fn supports_ndr64(&self, interface: &SyntaxId) -> bool {
        let _ = interface;
        false
    }
    /// Joins the association group `requested` (0: create one). `None` refuses the bind.
    fn assoc_group(&mut self, requested: u32) -> Option<u32>;
    /// A new acceptor for `auth_type`, or `None` when that mechanism is not offered.
    fn security_provider(&mut self, auth_type: AuthType) -> Option<Box<dyn SecurityProvider>>;
}

/// Whether a bind-like PDU was a bind or an alter_context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindKind {
    /// bind.
    Bind,
    /// alter_context.
    AlterContext,
}

/// A complete request, ready to dispatch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncomingCall {
    /// `call_id`.
    pub call_id: u32,
    /// Presentation context.
    pub context_id: u16,
    /// The interface bound to that context.
    pub interface: SyntaxId,
    /// Operation number.
    pub opnum: u16,
    /// Object UUID, if sent.
    pub object: Option<Uuid>,
    /// Reassembled (and unsealed) stub.
    pub stub: Vec<u8>,
    /// Data representation of the stub.
    pub drep: DataRep,
    /// Transfer syntax of the presentation context (the stub's, and the response's).
    pub transfer_syntax: TransferSyntax,
    /// Number of fragments the request came in.
    pub fragments: u32,
    /// Authentication of the call.
    pub auth: Option<CallAuth>,
}

/// What happened on the connection (for the runtime and the audit log).
#[derive(Clone, Debug, PartialEq)]
pub enum ServerEvent {
    /// A bind or alter_context was answered with bind_ack / alter_context_resp.
    Bound {
        /// bind or alter_context.
        kind: BindKind,
        /// The association group.
        assoc_group_id: u32,
        /// What the client offered.
        offered: Vec<ContextElement>,
        /// Our answer per context.
        results: Vec<ContextResultEntry>,
        /// Auth type and level requested in the verifier, if any.
        auth: Option<(AuthType, AuthLevel)>,
    },
    /// A bind was refused with bind_nak.
    BindRejected {
        /// The reason sent.
        reason: BindNakReason,
    },
    /// A request to dispatch; answer with [`ServerConnection::respond`].
    Call(IncomingCall),
    /// The client asked to cancel an outstanding call.
    Cancel {
        /// The call.
        call_id: u32,
    },
    /// The client abandoned a call; no response will be sent for it.
    Orphaned {
        /// The call.
        call_id: u32,
    },
    /// The connection itself answered a request with a fault (no dispatch).
    Refused {
        /// The call.
        call_id: u32,
        /// The fault status sent.
        status: FaultStatus,
        /// Stable reason code for audit records.
        reason: &'static str,
    },
    /// An auth leg completed or failed.
    Authenticated {
        /// Mechanism.
        auth_type: AuthType,
        /// Level.
        level: AuthLevel,
        /// Peer name when established; on a failure, the name the peer claimed (unverified,
        /// for audit records) when the mechanism could read one.
        user: Option<String>,
        /// Failure reason when refused.
        error: Option<String>,
    },
    /// Suspicious but not refused input (a request's `alloc_hint` beyond the reassembly cap or
    /// wrapping past 2^32 with the bytes received: `alloc_hint_over_cap`, `alloc_hint_overflow`);
    /// reported once per call, for the audit log. The call goes on.
    Anomaly {
        /// The call.
        call_id: u32,
        /// Stable reason code.
        reason: &'static str,
        /// Human-readable detail.
        detail: String,
    },
    /// Malformed or out-of-protocol input; the connection closes after flushing.
    ProtocolError {
        /// Stable reason code (`frag_length_below_header`, `reassembly_over_cap`, ...).
        reason: &'static str,
        /// Human-readable detail.
        detail: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    AwaitingBind,
    Bound,
    Closed,
}

#[derive(Debug)]
struct PartialCall {
    auth_ctx: Option<u32>,
    call_id: u32,
    context_id: u16,
    opnum: u16,
    object: Option<Uuid>,
    drep: DataRep,
    data: Reassembly,
    /// An `alloc_hint` anomaly was already reported for this call.
    flagged: bool,
}

#[derive(Debug, Clone, Copy)]
struct ActiveCall {
    auth_ctx: Option<u32>,
    context_id: u16,
    drep: DataRep,
    orphaned: bool,
}

/// The server side of one connection.
pub struct ServerConnection {
    config: ServerConfig,
    state: State,
    framer: Framer,
    contexts: FxHashMap<u16, (SyntaxId, SyntaxId)>,
    assoc_group_id: u32,
    max_xmit: usize,
    features: BindTimeFeatures,
    header_sign: bool,
    client_header_sign: bool,
    auths: Vec<AuthContext>,
    bind_authenticated: bool,
    auth_failed: Option<String>,
    partial: FxHashMap<u32, PartialCall>,
    partial_bytes: usize,
    active: FxHashMap<u32, ActiveCall>,
    out: VecDeque<Vec<u8>>,
    close_after_flush: bool,
}

impl std::fmt::Debug for ServerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConnection")
            .field("state", &self.state)
            .field("assoc_group_id", &self.assoc_group_id)
            .field("contexts", &self.contexts)
            .field("auths", &self.auths)
            .field("active", &self.active.len())
            .finish()
    }
}

impl ServerConnection {
    /// A connection awaiting its bind.
    pub fn new(config: ServerConfig) -> Self {
        let max_recv = usize::from(config.max_recv_frag.max(MUST_RECV_FRAG_SIZE));
        ServerConnection {
            framer: Framer::new(max_recv),
            max_xmit: usize::from(MUST_RECV_FRAG_SIZE),
            config,
            state: State::AwaitingBind,
            contexts: FxHashMap::default(),
            assoc_group_id: 0,
            features: BindTimeFeatures(0),
            header_sign: false,
            client_header_sign: false,
            auths: Vec::new(),
            bind_authenticated: false,
            auth_failed: None,
            partial: FxHashMap::default(),
            partial_bytes: 0,
            active: FxHashMap::default(),
            out: VecDeque::new(),
            close_after_flush: false,
        }
    }

    /// The association group, once bound.
    pub fn assoc_group_id(&self) -> u32 {
        self.assoc_group_id
    }

    /// The negotiated largest fragment we send.
    pub fn max_xmit_frag(&self) -> usize {
        self.max_xmit
    }

    /// Bind-time features agreed with the client.
    pub fn features(&self) -> BindTimeFeatures {
        self.features
    }

    /// True once the connection should be closed (after [`poll_transmit`](Self::poll_transmit)
    /// returns `None`).
    pub fn wants_close(&self) -> bool {
        self.close_after_flush || self.state == State::Closed
    }

    /// Calls being reassembled or dispatched.
    pub fn outstanding_calls(&self) -> usize {
        self.partial.len() + self.active.len()
    }

    /// The next fragment to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// Feeds received bytes; returns what happened.
    pub fn receive(&mut self, data: &[u8], env: &mut dyn ServerEnv) -> Vec<ServerEvent> {
        let mut events = Vec::new();
        if self.wants_close() {
            return events;
        }
        self.framer.push(data);
        loop {
            match self.framer.next_frame() {
                Ok(Some(frame)) => {
                    self.handle_frame(frame, env, &mut events);
                    if self.wants_close() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    self.protocol_error(e.reason_code(), e.to_string(), &mut events);
                    break;
                }
            }
        }
        events
    }

    fn protocol_error(&mut self, reason: &'static str, detail: String, ev: &mut Vec<ServerEvent>) {
        ev.push(ServerEvent::ProtocolError { reason, detail });
        self.partial.clear();
        self.partial_bytes = 0;
        self.close_after_flush = true;
    }

    fn handle_frame(
        &mut self,
        mut frame: Vec<u8>,
        env: &mut dyn ServerEnv,
        ev: &mut Vec<ServerEvent>,
    ) {
        let header = match Header::decode(&frame) {
            Ok(h) => h,
            Err(e) => return self.protocol_error(e.reason_code(), e.to_string(), ev),
        };
        if header.rpc_vers != 5 || header.rpc_vers_minor > 1 {
            if header.ptype == PacketType::BIND {
                return self.bind_nak(&header, BindNakReason::PROTOCOL_VERSION_NOT_SUPPORTED, ev);
            }
            return self.protocol_error(
                "unsupported_version",
                format!("rpc version {}.{}", header.rpc_vers, header.rpc_vers_minor),
                ev,
            );
        }
        // Integrity and privacy: verify (and unseal) request-like PDUs before decoding.
        let mut auth_ctx = None;
        if header.ptype == PacketType::REQUEST && self.state == State::Bound {
            if self.auth_failed.is_some() {
                return self.refuse(&header, FaultStatus::ACCESS_DENIED, "auth_failed", true, ev);
            }
            match self.unprotect(&header, &mut frame) {
                Ok(a) => auth_ctx = a,
                Err(refusal) => return self.refuse(&header, refusal.0, refusal.1, true, ev),
            }
        }
        let pdu = match Pdu::decode(&frame) {
            Ok(p) => p,
            Err(e) => {
                if header.ptype == PacketType::REQUEST {
                    return self.refuse(
                        &header,
                        FaultStatus::NCA_S_PROTO_ERROR,
                        e.reason_code(),
                        true,
                        ev,
                    );
                }
                return self.protocol_error(e.reason_code(), e.to_string(), ev);
            }
        };
        match (self.state, pdu.body) {
            (State::AwaitingBind, Body::Bind(b)) => {
                self.on_bind(&pdu.header, b, pdu.auth, BindKind::Bind, env, ev)
            }
            (State::Bound, Body::Bind(_)) => {
                self.bind_nak(&pdu.header, BindNakReason::REASON_NOT_SPECIFIED, ev);
                self.close_after_flush = true;
            }
            (State::Bound, Body::AlterContext(b)) => {
                self.on_bind(&pdu.header, b, pdu.auth, BindKind::AlterContext, env, ev)
            }
            (State::Bound, Body::Auth3(_)) => self.on_auth3(pdu.auth, ev),
            (State::Bound, Body::Request(r)) => self.on_request(&pdu.header, r, auth_ctx, ev),
            (State::Bound, Body::CoCancel) => {
                if self.active.contains_key(&pdu.header.call_id)
                    || self.partial.contains_key(&pdu.header.call_id)
                {
                    ev.push(ServerEvent::Cancel {
                        call_id: pdu.header.call_id,
                    });
                }
            }
            (State::Bound, Body::Orphaned) => {
                let id = pdu.header.call_id;
                if let Some(p) = self.partial.remove(&id) {
                    self.partial_bytes = self.partial_bytes.saturating_sub(p.data.len());
                    ev.push(ServerEvent::Orphaned { call_id: id });
                } else if let Some(a) = self.active.get_mut(&id) {
                    a.orphaned = true;
                    ev.push(ServerEvent::Orphaned { call_id: id });
                }
            }
            (State::AwaitingBind, Body::Request(_)) => self.refuse(
                &pdu.header,
                FaultStatus::NCA_S_PROTO_ERROR,
                "request_before_bind",
                true,
                ev,
            ),
            (_, body) => {
                let name = pdu.header.ptype;
                let _ = body;
                self.protocol_error(
                    "unexpected_packet_type",
                    format!("{name:?} in state {:?}", self.state),
                    ev,
                )
            }
        }
    }

    /// Chooses the security context of a request fragment and verifies/unseals it in place
    /// (MS-RPCE 3.3.1.5.2, Samba's rules): the first fragment's sec_trailer names the context
    /// (`auth_context_id`), whose type and level it must repeat; a request without a verifier
    /// runs under an established `CONNECT` context, or unauthenticated when the bind was; later
    /// fragments must repeat the first one's trailer exactly. `CONNECT` PDUs carry no signature
    /// (one that is present is not checked); every higher level is verified, and privacy
    /// unsealed. Returns the context's `auth_context_id`.
    fn unprotect(
        &mut self,
        header: &Header,
        frame: &mut [u8],
    ) -> Result<Option<u32>, (FaultStatus, &'static str)> {
        let layout = AuthLayout::parse(frame)
            .map_err(|_| (FaultStatus::NCA_S_PROTO_ERROR, "auth_layout"))?;
        let first = header.flags.contains(PfcFlags::FIRST_FRAG);
        let trailer = match &layout {
            None => None,
            Some(l) => {
                let t = frame.get(l.trailer.clone()).and_then(|t| {
                    let t: &[u8] = t;
                    Some((
                        AuthType(*t.first()?),
                        AuthLevel(*t.get(1)?),
                        [*t.get(4)?, *t.get(5)?, *t.get(6)?, *t.get(7)?],
                    ))
                });
                let Some((atype, alevel, id)) = t else {
                    return Err((FaultStatus::NCA_S_PROTO_ERROR, "auth_layout"));
                };
                let id = if header.drep.endian() == msrpc_ndr::Endian::Big {
                    u32::from_be_bytes(id)
                } else {
                    u32::from_le_bytes(id)
                };
                Some((atype, alevel, id))
            }
        };
        let chosen: Option<u32> = if first {
            match trailer {
                None => {
                    if let Some(c) = self
                        .auths
                        .iter()
                        .find(|a| a.level == AuthLevel::CONNECT && a.provider.is_established())
                    {
                        return Ok(Some(c.context_id));
                    }
                    if self.bind_authenticated {
                        return Err((FaultStatus::ACCESS_DENIED, "auth_verifier_missing"));
                    }
                    return Ok(None);
                }
                Some((atype, alevel, id)) => {
                    let Some(ctx) = self.auths.iter().find(|a| a.context_id == id) else {
                        return Err((FaultStatus::ACCESS_DENIED, "auth_context_unknown"));
                    };
                    if !ctx.provider.is_established() {
                        return Err((FaultStatus::NCA_S_PROTO_ERROR, "auth_not_established"));
                    }
                    if ctx.auth_type != atype || ctx.level != alevel {
                        return Err((FaultStatus::ACCESS_DENIED, "auth_context_mismatch"));
                    }
                    Some(id)
                }
            }
        } else {
            // A later fragment: the first fragment chose the context.
            let Some(call) = self.partial.get(&header.call_id) else {
                // on_request refuses the missing first fragment.
                return Ok(None);
            };
            let expected = call.auth_ctx;
            let Some(id) = expected else {
                if trailer.is_some() {
                    return Err((FaultStatus::NCA_S_PROTO_ERROR, "auth_fragment_mismatch"));
                }
                return Ok(None);
            };
            let Some(ctx) = self.auths.iter().find(|a| a.context_id == id) else {
                return Err((FaultStatus::NCA_S_PROTO_ERROR, "auth_fragment_mismatch"));
            };
            match trailer {
                None if ctx.level == AuthLevel::CONNECT => {}
                Some((t, l, i)) if t == ctx.auth_type && l == ctx.level && i == id => {}
                _ => return Err((FaultStatus::NCA_S_PROTO_ERROR, "auth_fragment_mismatch")),
            }
            Some(id)
        };
        let Some(id) = chosen else { return Ok(None) };
        let Some(ctx) = self.auths.iter_mut().find(|a| a.context_id == id) else {
            return Err((FaultStatus::NCA_S_PROTO_ERROR, "auth_layout"));
        };
        let Some(layout) = layout else {
            // CONNECT without a verifier.
            return Ok(Some(id));
        };
        if !level_signs(ctx.level) {
            return Ok(Some(id));
        }
        let sig_start = layout.auth_value.start;
        // Disjoint halves: the signature is read in place while the PDU part is unsealed.
        let (pdu_part, sig) = frame.split_at_mut(sig_start);
        let sig: &[u8] = sig;
        let pdu_part = pdu_part
            .get_mut(..layout.trailer.end)
            .ok_or((FaultStatus::NCA_S_PROTO_ERROR, "auth_layout"))?;
        if level_seals(ctx.level) {
            ctx.provider
                .unseal(pdu_part, layout.stub.start..layout.pad.end, sig)
                .map_err(|_| (FaultStatus::RPC_S_SEC_PKG_ERROR, "bad_seal"))?;
        } else {
            ctx.provider
                .verify(pdu_part, layout.stub.start..layout.pad.end, sig)
                .map_err(|_| (FaultStatus::RPC_S_SEC_PKG_ERROR, "bad_signature"))?;
        }
        Ok(Some(id))
    }

    fn refuse(
        &mut self,
        header: &Header,
        status: FaultStatus,
        reason: &'static str,
        close: bool,
        ev: &mut Vec<ServerEvent>,
    ) {
        self.send_fault(header.call_id, 0, header.drep, status, true);
        ev.push(ServerEvent::Refused {
            call_id: header.call_id,
            status,
            reason,
        });
        if close {
            self.partial.clear();
            self.partial_bytes = 0;
            self.close_after_flush = true;
        }
    }

    fn bind_nak(&mut self, header: &Header, reason: BindNakReason, ev: &mut Vec<ServerEvent>) {
        let pdu = Pdu {
            header: reply_header(header, PacketType::BIND_NAK, PfcFlags::FIRST_AND_LAST),
            body: Body::BindNak(BindNak {
                reason,
                versions: vec![(5, 0)],
                extra: Vec::new(),
            }),
            auth: None,
        };
        self.queue(pdu);
        ev.push(ServerEvent::BindRejected { reason });
    }

    fn queue(&mut self, pdu: Pdu) {
        match pdu.encode() {
            Ok(bytes) => self.out.push_back(bytes),
            Err(_) => self.close_after_flush = true,
        }
    }

    fn on_bind(
        &mut self,
        header: &Header,
        bind: Bind,
        auth: Option<AuthVerifier>,
        kind: BindKind,
        env: &mut dyn ServerEnv,
        ev: &mut Vec<ServerEvent>,
    ) {
        if kind == BindKind::Bind {
            if bind.contexts.is_empty() || bind.contexts.len() > self.config.max_contexts {
                let reason = if bind.contexts.is_empty() {
                    BindNakReason::REASON_NOT_SPECIFIED
                } else {
                    BindNakReason::LOCAL_LIMIT_EXCEEDED
                };
                return self.bind_nak(header, reason, ev);
            }
            let Some(group) = env.assoc_group(bind.assoc_group_id) else {
                return self.bind_nak(header, BindNakReason::REASON_NOT_SPECIFIED, ev);
            };
            self.assoc_group_id = group;
            // Fragment sizes: what the client can receive bounds what we send.
            let xmit = bind
                .max_recv_frag
                .min(self.config.max_xmit_frag)
                .max(MUST_RECV_FRAG_SIZE);
            let recv = bind
                .max_xmit_frag
                .min(self.config.max_recv_frag)
                .max(MUST_RECV_FRAG_SIZE);
            self.max_xmit = usize::from(xmit);
            self.framer.set_max_frag(usize::from(recv));
            self.client_header_sign = header.flags.contains(PfcFlags::SUPPORT_HEADER_SIGN);
            self.header_sign = self.config.header_signing && self.client_header_sign;
            self.bind_authenticated = auth.is_some();
        } else if bind.contexts.len() > self.config.max_contexts {
            return self.refuse(
                header,
                FaultStatus::NCA_S_PROTO_ERROR,
                "too_many_contexts",
                true,
                ev,
            );
        }
        if kind == BindKind::AlterContext
            && header.flags.contains(PfcFlags::SUPPORT_HEADER_SIGN)
            && !self.client_header_sign
        {
            // Like Samba: the first PDU that asks for header signing negotiates it.
            self.client_header_sign = true;
            self.header_sign = self.config.header_signing;
        }
        // Authentication leg carried by the bind / alter_context.
        let mut auth_reply: Option<AuthVerifier> = None;
        let mut auth_info = None;
        if let Some(v) = auth {
            auth_info = Some((v.trailer.auth_type, v.trailer.auth_level));
            match self.auth_leg(&v, kind, env) {
                Ok(reply) => {
                    auth_reply = reply;
                    // A context this leg completed (SPNEGO's alter_context third leg; `auth_leg`
                    // refuses legs for contexts already established, so this reports it once).
                    if let Some(ctx) = self
                        .auths
                        .iter()
                        .find(|c| c.context_id == v.trailer.auth_context_id)
                        .filter(|c| c.provider.is_established())
                    {
                        ev.push(ServerEvent::Authenticated {
                            auth_type: ctx.auth_type,
                            level: ctx.level,
                            user: ctx.provider.peer_name(),
                            error: None,
                        });
                    }
                }
                Err(e) => {
                    ev.push(ServerEvent::Authenticated {
                        auth_type: v.trailer.auth_type,
                        level: v.trailer.auth_level,
                        user: None,
                        error: Some(e.clone()),
                    });
                    if kind == BindKind::Bind {
                        self.state = State::AwaitingBind;
                        return self.bind_nak(
                            header,
                            BindNakReason::AUTHENTICATION_TYPE_NOT_RECOGNIZED,
                            ev,
                        );
                    }
                    return self.refuse(
                        header,
                        FaultStatus::ACCESS_DENIED,
                        "auth_failed",
                        true,
                        ev,
                    );
                }
            }
        }
        let mut results = Vec::with_capacity(bind.contexts.len());
        for c in &bind.contexts {
            results.push(self.negotiate_context(c, &bind.contexts, env));
        }
        let flags = if self.header_sign && header.flags.contains(PfcFlags::SUPPORT_HEADER_SIGN) {
            PfcFlags::FIRST_AND_LAST.with(PfcFlags::SUPPORT_HEADER_SIGN)
        } else {
            PfcFlags::FIRST_AND_LAST
        };
        let (ptype, sec_addr) = match kind {
            BindKind::Bind => {
                let mut a = self.config.sec_addr.as_bytes().to_vec();
                if !a.is_empty() {
                    a.push(0);
                }
                (PacketType::BIND_ACK, a)
            }
            BindKind::AlterContext => (PacketType::ALTER_CONTEXT_RESP, Vec::new()),
        };
        let ack = BindAck {
            max_xmit_frag: u16::try_from(self.max_xmit).unwrap_or(u16::MAX),
            max_recv_frag: self.config.max_recv_frag.max(MUST_RECV_FRAG_SIZE),
            assoc_group_id: self.assoc_group_id,
            sec_addr,
            results: results.clone(),
        };
        let body = match kind {
            BindKind::Bind => Body::BindAck(ack),
            BindKind::AlterContext => Body::AlterContextResp(ack),
        };
        self.queue(Pdu {
            header: reply_header(header, ptype, flags),
            body,
            auth: auth_reply,
        });
        self.state = State::Bound;
        ev.push(ServerEvent::Bound {
            kind,
            assoc_group_id: self.assoc_group_id,
            offered: bind.contexts,
            results,
            auth: auth_info,
        });
    }

    fn negotiate_context(
        &mut self,
        c: &ContextElement,
        all: &[ContextElement],
        env: &mut dyn ServerEnv,
    ) -> ContextResultEntry {
        let reject = |reason| ContextResultEntry {
            result: ContextResult::PROVIDER_REJECTION,
            reason,
            transfer_syntax: SyntaxId::new(Uuid::nil(), 0, 0),
        };
        if let Some(f) = c
            .transfer_syntaxes
            .iter()
            .find_map(|t| t.bind_time_features())
        {
            self.features = BindTimeFeatures(f.0 & self.config.bind_time_features.0);
            return ContextResultEntry {
                result: ContextResult::NEGOTIATE_ACK,
                reason: ProviderReason(self.features.0),
                transfer_syntax: SyntaxId::new(Uuid::nil(), 0, 0),
            };
        }
        let Some(served) = env.lookup_interface(&c.abstract_syntax) else {
            return reject(ProviderReason::ABSTRACT_SYNTAX_NOT_SUPPORTED);
        };
        let ndr64 = env.supports_ndr64(&served);
        let usable = |t: &SyntaxId| *t == SyntaxId::NDR20 || (ndr64 && *t == SyntaxId::NDR64);
        let (preferred, other) = match self.config.transfer_preference {
            TransferPreference::Ndr64 => (SyntaxId::NDR64, SyntaxId::NDR20),
            TransferPreference::Ndr20 => (SyntaxId::NDR20, SyntaxId::NDR64),
        };
        let offers =
            |e: &ContextElement, t: SyntaxId| usable(&t) && e.transfer_syntaxes.contains(&t);
        let ts = if offers(c, preferred) {
            preferred
        } else if offers(c, other) {
            // Another context of this bind offering the same interface in the preferred
            // syntax wins; this one is refused as Windows refuses it.
            let beaten = all.iter().any(|e| {
                e.context_id != c.context_id
                    && e.abstract_syntax.uuid == c.abstract_syntax.uuid
                    && e.abstract_syntax.major == c.abstract_syntax.major
                    && offers(e, preferred)
            });
            if beaten {
                return reject(ProviderReason::PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED);
            }
            other
        } else {
            return reject(ProviderReason::PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED);
        };
        match self.contexts.get(&c.context_id) {
            Some((existing, _))
                if existing.uuid != served.uuid || existing.major != served.major =>
            {
                return reject(ProviderReason::REASON_NOT_SPECIFIED);
            }
            Some(_) => {}
            None if self.contexts.len() >= self.config.max_contexts => {
                return reject(ProviderReason::LOCAL_LIMIT_EXCEEDED);
            }
            None => {}
        }
        self.contexts.insert(c.context_id, (served, ts));
        ContextResultEntry {
            result: ContextResult::ACCEPTANCE,
            reason: ProviderReason(0),
            transfer_syntax: ts,
        }
    }

    /// One leg of context establishment carried by a bind or alter_context. A new
    /// `auth_context_id` starts a new security context (at most `max_auth_contexts`); a known
    /// one continues its exchange, with the same type and level; an established one cannot
    /// be renegotiated.
    fn auth_leg(
        &mut self,
        v: &AuthVerifier,
        kind: BindKind,
        env: &mut dyn ServerEnv,
    ) -> Result<Option<AuthVerifier>, String> {
        let t = v.trailer;
        if t.auth_level.0 < AuthLevel::CONNECT.0 || t.auth_level.0 > AuthLevel::PKT_PRIVACY.0 {
            return Err(format!("unsupported auth level {:?}", t.auth_level));
        }
        let idx = match self
            .auths
            .iter()
            .position(|a| a.context_id == t.auth_context_id)
        {
            Some(i) => {
                let ctx = self.auths.get(i).ok_or("no auth context")?;
                if ctx.provider.is_established() {
                    return Err("auth context already established".into());
                }
                if ctx.auth_type != t.auth_type || ctx.level != t.auth_level {
                    return Err("auth context changed".into());
                }
                i
            }
            None => {
                if kind == BindKind::AlterContext
                    && self.auths.len() >= self.config.max_auth_contexts
                {
                    return Err("too many auth contexts".into());
                }
                let mut provider = env
                    .security_provider(t.auth_type)
                    .ok_or_else(|| format!("auth type {:?} not offered", t.auth_type))?;
                provider.set_header_signing(self.header_sign);
                self.auths.push(AuthContext {
                    context_id: t.auth_context_id,
                    auth_type: t.auth_type,
                    level: t.auth_level,
                    provider,
                });
                self.auths.len() - 1
            }
        };
        let ctx = self.auths.get_mut(idx).ok_or("no auth context")?;
        match ctx.provider.step(Some(&v.value)) {
            Ok(AuthStep::Continue(token)) | Ok(AuthStep::Done(Some(token))) => {
                Ok(Some(AuthVerifier {
                    trailer: SecTrailer {
                        auth_pad_length: 0,
                        auth_reserved: 0,
                        ..t
                    },
                    value: token,
                }))
            }
            Ok(AuthStep::Done(None)) => Ok(None),
            Err(e) => {
                self.auths.remove(idx);
                Err(e.to_string())
            }
        }
    }

    /// The auth3 leg: completes the pending context it names. Like Samba, a failed auth3
    /// gets no reply; every later request on the connection is refused.
    fn on_auth3(&mut self, auth: Option<AuthVerifier>, ev: &mut Vec<ServerEvent>) {
        let Some(v) = auth else {
            return self.protocol_error(
                "auth3_without_verifier",
                "auth3 without verifier".into(),
                ev,
            );
        };
        if self.auths.is_empty() {
            return self.protocol_error(
                "auth3_without_context",
                "auth3 without a bind auth leg".into(),
                ev,
            );
        }
        let found = self
            .auths
            .iter_mut()
            .find(|a| a.context_id == v.trailer.auth_context_id);
        match found {
            None => self.auth_failed = Some("auth3 names an unknown auth context".into()),
            Some(ctx) if ctx.provider.is_established() => {
                self.auth_failed = Some("auth3 for an established auth context".into())
            }
            Some(ctx)
                if ctx.auth_type != v.trailer.auth_type || ctx.level != v.trailer.auth_level =>
            {
                self.auth_failed = Some("auth3 changed the auth context".into())
            }
            Some(ctx) => match ctx.provider.step(Some(&v.value)) {
                Ok(_) if ctx.provider.is_established() => {
                    ev.push(ServerEvent::Authenticated {
                        auth_type: ctx.auth_type,
                        level: ctx.level,
                        user: ctx.provider.peer_name(),
                        error: None,
                    });
                    return;
                }
                Ok(_) => self.auth_failed = Some("context not established after auth3".into()),
                Err(e) => self.auth_failed = Some(e.to_string()),
            },
        }
        // Like Samba: no reply to a failed auth3; later requests are refused. The event names the
        // user the token claimed (unverified) so password guessing can be told apart per user.
        let claimed = self
            .auths
            .iter()
            .find(|a| a.context_id == v.trailer.auth_context_id)
            .and_then(|c| c.provider.claimed_name());
        ev.push(ServerEvent::Authenticated {
            auth_type: v.trailer.auth_type,
            level: v.trailer.auth_level,
            user: claimed,
            error: self.auth_failed.clone(),
        });
    }

    /// Reports a suspicious `alloc_hint` ([`ServerEvent::Anomaly`]); true when it did.
    fn alloc_hint_check(
        &self,
        call_id: u32,
        received: usize,
        alloc_hint: u32,
        ev: &mut Vec<ServerEvent>,
    ) -> bool {
        let Some(reason) =
            crate::reassembly::alloc_hint_anomaly(received, alloc_hint, self.config.max_stub)
        else {
            return false;
        };
        ev.push(ServerEvent::Anomaly {
            call_id,
            reason,
            detail: format!("alloc_hint {alloc_hint} after {received} stub bytes"),
        });
        true
    }

    fn on_request(
        &mut self,
        header: &Header,
        req: pdu::Request,
        auth_ctx: Option<u32>,
        ev: &mut Vec<ServerEvent>,
    ) {
        let id = header.call_id;
        let first = header.flags.contains(PfcFlags::FIRST_FRAG);
        let last = header.flags.contains(PfcFlags::LAST_FRAG);
        if first {
            if self.partial.contains_key(&id) || self.active.contains_key(&id) {
                return self.refuse(
                    header,
                    FaultStatus::NCA_S_PROTO_ERROR,
                    "call_id_reuse",
                    true,
                    ev,
                );
            }
            if !self.contexts.contains_key(&req.context_id) {
                return self.refuse(
                    header,
                    FaultStatus::NCA_S_UNK_IF,
                    "unknown_context",
                    false,
                    ev,
                );
            }
            if self.outstanding_calls() >= self.config.max_outstanding_calls {
                return self.refuse(
                    header,
                    FaultStatus::NCA_S_SERVER_TOO_BUSY,
                    "too_many_calls",
                    false,
                    ev,
                );
            }
            let flagged = self.alloc_hint_check(id, 0, req.alloc_hint, ev);
            let budget = self.config.max_stub.saturating_sub(self.partial_bytes);
            let (context_id, opnum, object) = (req.context_id, req.opnum, req.object);
            let data = match Reassembly::start_owned(req.stub, budget) {
                Ok(d) => d,
                Err(e) => {
                    return self.refuse(
                        header,
                        FaultStatus::NCA_S_PROTO_ERROR,
                        e.reason_code(),
                        true,
                        ev,
                    )
                }
            };
            let call = PartialCall {
                auth_ctx,
                call_id: id,
                context_id,
                opnum,
                object,
                drep: header.drep,
                data,
                flagged,
            };
            if last {
                return self.deliver(header, call, ev);
            }
            self.partial_bytes = self.partial_bytes.saturating_add(call.data.len());
            self.partial.insert(id, call);
            return;
        }
        let Some(mut call) = self.partial.remove(&id) else {
            let e = ReassemblyError::MissingFirst(id);
            return self.refuse(
                header,
                FaultStatus::NCA_S_PROTO_ERROR,
                e.reason_code(),
                true,
                ev,
            );
        };
        if call.context_id != req.context_id || call.opnum != req.opnum || call.drep != header.drep
        {
            let e = ReassemblyError::Inconsistent(id);
            return self.refuse(
                header,
                FaultStatus::NCA_S_PROTO_ERROR,
                e.reason_code(),
                true,
                ev,
            );
        }
        let before = call.data.len();
        if !call.flagged {
            call.flagged = self.alloc_hint_check(id, before, req.alloc_hint, ev);
        }
        // The cap covers every call being reassembled on this connection.
        let others = self.partial_bytes.saturating_sub(before);
        let room = self.config.max_stub.saturating_sub(others);
        if before.checked_add(req.stub.len()).is_none_or(|n| n > room) {
            let e = ReassemblyError::OverCap {
                cap: self.config.max_stub,
            };
            self.partial_bytes = others;
            return self.refuse(
                header,
                FaultStatus::NCA_S_PROTO_ERROR,
                e.reason_code(),
                true,
                ev,
            );
        }
        if let Err(e) = call.data.push(&req.stub) {
            self.partial_bytes = others;
            return self.refuse(
                header,
                FaultStatus::NCA_S_PROTO_ERROR,
                e.reason_code(),
                true,
                ev,
            );
        }
        self.partial_bytes = others.saturating_add(call.data.len());
        if last {
            self.partial_bytes = others;
            self.deliver(header, call, ev);
        } else {
            self.partial.insert(id, call);
        }
    }

    fn deliver(&mut self, last: &Header, call: PartialCall, ev: &mut Vec<ServerEvent>) {
        let call_id = call.call_id;
        let Some(&(interface, transfer)) = self.contexts.get(&call.context_id) else {
            return;
        };
        let ctx = call
            .auth_ctx
            .and_then(|id| self.auths.iter().find(|a| a.context_id == id));
        let auth = ctx.map(|a| CallAuth {
            auth_type: a.auth_type,
            level: a.level,
            user: a.provider.peer_name(),
            anonymous: a.provider.is_anonymous(),
        });
        let signed = ctx.is_some_and(|a| level_signs(a.level));
        let fragments = call.data.fragments();
        let mut stub = call.data.finish();
        if signed && self.config.verification_trailer {
            // MS-RPCE 2.2.2.13: checked when present, stripped before dispatch.
            match VerificationTrailer::find(&stub) {
                Ok(None) => {}
                Ok(Some((vt, at))) => {
                    let facts = RequestFacts {
                        header2: Header2 {
                            ptype: PacketType::REQUEST,
                            drep: call.drep.0,
                            call_id,
                            context_id: call.context_id,
                            opnum: call.opnum,
                        },
                        abstract_syntax: interface,
                        transfer_syntax: transfer,
                        client_header_signing: self.client_header_sign,
                    };
                    if let Err(e) = vt.check(&facts) {
                        // Like Samba: access denied, the connection stays.
                        return self.refuse(
                            last,
                            FaultStatus::ACCESS_DENIED,
                            e.reason_code(),
                            false,
                            ev,
                        );
                    }
                    stub.truncate(at);
                }
                Err(e) => {
                    return self.refuse(last, FaultStatus::FAULT_OTHER, e.reason_code(), false, ev);
                }
            }
        }
        self.active.insert(
            call_id,
            ActiveCall {
                auth_ctx: call.auth_ctx,
                context_id: call.context_id,
                drep: call.drep,
                orphaned: false,
            },
        );
        ev.push(ServerEvent::Call(IncomingCall {
            call_id,
            context_id: call.context_id,
            interface,
            opnum: call.opnum,
            object: call.object,
            stub,
            drep: call.drep,
            transfer_syntax: transfer.ndr_syntax().unwrap_or_default(),
            fragments,
            auth,
        }));
    }

    /// Answers a call delivered by [`ServerEvent::Call`]: a response stub (encoded in the
    /// call's data representation) or a fault. Calls that were orphaned, or unknown ids, are
    /// dropped silently.
    pub fn respond(&mut self, call_id: u32, result: Result<Vec<u8>, FaultStatus>) {
        let Some(call) = self.active.remove(&call_id) else {
            return;
        };
        if call.orphaned || self.wants_close() {
            return;
        }
        match result {
            Ok(stub) => self.send_response(call_id, &call, &stub),
            Err(status) => self.send_fault(call_id, call.context_id, call.drep, status, false),
        }
    }

    /// Answers a call delivered by [`ServerEvent::Call`] with a fault that came before the
    /// service ran (refused by policy, unknown interface, undecodable stub, opnum out of
    /// range): the fault carries `PFC_DID_NOT_EXECUTE`, so the client knows the call had no
    /// effect. Orphaned calls and unknown ids are dropped silently, as with
    /// [`ServerConnection::respond`].
    pub fn respond_not_executed(&mut self, call_id: u32, status: FaultStatus) {
        let Some(call) = self.active.remove(&call_id) else {
            return;
        };
        if call.orphaned || self.wants_close() {
            return;
        }
        self.send_fault(call_id, call.context_id, call.drep, status, true);
    }

    fn send_fault(
        &mut self,
        call_id: u32,
        context_id: u16,
        drep: DataRep,
        status: FaultStatus,
        did_not_execute: bool,
    ) {
        let mut flags = PfcFlags::FIRST_AND_LAST;
        if did_not_execute {
            flags = flags.with(PfcFlags::DID_NOT_EXECUTE);
        }
        let header = Header {
            rpc_vers: 5,
            rpc_vers_minor: 0,
            ptype: PacketType::FAULT,
            flags,
            drep,
            frag_length: 0,
            auth_length: 0,
            call_id,
        };
        let body = Body::Fault(Fault {
            alloc_hint: 32,
            context_id,
            cancel_count: 0,
            flags: 0,
            status,
            reserved2: 0,
            stub: Vec::new(),
        });
        self.queue(Pdu {
            header,
            body,
            auth: None,
        });
    }

    fn send_response(&mut self, call_id: u32, call: &ActiveCall, stub: &[u8]) {
        let (context_id, drep) = (call.context_id, call.drep);
        // Responses use the request's security context.
        let auth_idx = call.auth_ctx.and_then(|id| {
            self.auths.iter().position(|a| {
                a.context_id == id && a.provider.is_established() && level_signs(a.level)
            })
        });
        let auth = auth_idx.and_then(|i| self.auths.get(i));
        let cap = stub_capacity(self.max_xmit, 24, auth.map(|a| a.provider.signature_len()));
        let total = stub.len();
        let mut offset = 0usize;
        loop {
            let end = offset.saturating_add(cap).min(total);
            let chunk = stub.get(offset..end).unwrap_or_default();
            let mut flags = PfcFlags(0);
            if offset == 0 {
                flags = flags.with(PfcFlags::FIRST_FRAG);
            }
            if end == total {
                flags = flags.with(PfcFlags::LAST_FRAG);
            }
            let header = Header {
                rpc_vers: 5,
                rpc_vers_minor: 0,
                ptype: PacketType::RESPONSE,
                flags,
                drep,
                frag_length: 0,
                auth_length: 0,
                call_id,
            };
            let body = StubBody::Response {
                alloc_hint: u32::try_from(total - offset).unwrap_or(u32::MAX),
                context_id,
                cancel_count: 0,
                reserved: 0,
            };
            let ctx = auth_idx.and_then(|i| self.auths.get_mut(i));
            match stub_fragment(ctx, &header, &body, chunk) {
                Some(bytes) => self.out.push_back(bytes),
                None => {
                    self.close_after_flush = true;
                    return;
                }
            }
            offset = end;
            if offset >= total {
                break;
            }
        }
    }
}

/// A request or response fragment, signed or sealed with `ctx` when given (shared by client
/// and server): written in place with room for the verifier, then protected in place.
pub(crate) fn stub_fragment(
    ctx: Option<&mut AuthContext>,
    header: &Header,
    body: &StubBody,
    chunk: &[u8],
) -> Option<Vec<u8>> {
    let Some(ctx) = ctx else {
        return encode_stub_frame(header, body, chunk, None)
            .ok()
            .map(|f| f.bytes);
    };
    let sig_len = ctx.provider.signature_len();
    let trailer = SecTrailer {
        auth_type: ctx.auth_type,
        auth_level: ctx.level,
        auth_pad_length: pdu::auth_pad_len(chunk.len()),
        auth_reserved: 0,
        auth_context_id: ctx.context_id,
    };
    let mut f = encode_stub_frame(header, body, chunk, Some((&trailer, sig_len))).ok()?;
    let sig = {
        let region = f.bytes.get_mut(..f.signed_end)?;
        if level_seals(ctx.level) {
            ctx.provider.seal(region, f.data.clone()).ok()?
        } else {
            ctx.provider.sign(region, f.data.clone()).ok()?
        }
    };
    if sig.len() != sig_len {
        return None;
    }
    f.bytes.get_mut(f.auth_value.clone())?.copy_from_slice(&sig);
    Some(f.bytes)
}

fn reply_header(req: &Header, ptype: PacketType, flags: PfcFlags) -> Header {
    Header {
        rpc_vers: 5,
        rpc_vers_minor: 0,
        ptype,
        flags,
        drep: req.drep,
        frag_length: 0,
        auth_length: 0,
        call_id: req.call_id,
    }
}
