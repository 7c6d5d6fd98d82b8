//! The client side of one connection, sans-IO: binds presentation contexts, sends requests in
//! fragments, reassembles responses, and reports faults, bind_naks and protocol errors.
//!
//! # States
//! | state | input | action | next |
//! |---|---|---|---|
//! | Idle | `bind()` | queue bind | AwaitingBindAck |
//! | AwaitingBindAck | bind_ack | record contexts, auth leg (auth3) | Bound |
//! | AwaitingBindAck | bind_ack, provider continues | alter_context with the next auth token | AwaitingBindAck (Bound reported after alter_context_resp) |
//! | AwaitingBindAck | bind_nak | report | Idle |
//! | Bound | `bind()` (new interfaces) | queue alter_context | Bound (awaiting alter_context_resp) |
//! | Bound | `request()` | queue fragments | Bound |
//! | Bound | response / fault fragments | reassemble; last -> Response / Fault event | Bound |
//! | any | shutdown | report; close | Closed |

use rustc_hash::FxHashMap;
use std::collections::VecDeque;

use crate::pdu::StubBody;

use msrpc_ndr::{DataRep, Uuid};

use crate::pdu::{
    AuthLayout, AuthLevel, AuthVerifier, Bind, BindNakReason, BindTimeFeatures, Body,
    ContextElement, ContextResult, ContextResultEntry, FaultStatus, Header, PacketType, Pdu,
    PfcFlags, SecTrailer, SyntaxId,
};
use crate::reassembly::{stub_capacity, Framer, Reassembly, DEFAULT_MAX_STUB};
use crate::security::{
    effective_level, level_seals, level_signs, AuthContext, AuthStep, SecurityProvider,
};
use crate::server::{stub_fragment, MUST_RECV_FRAG_SIZE};
use crate::verification::{Header2, TrailerParts, VerificationTrailer};

/// Client connection settings.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Largest fragment we offer to send. Default 5840.
    pub max_xmit_frag: u16,
    /// Largest fragment we accept. Default 5840.
    pub max_recv_frag: u16,
    /// Cap on a reassembled response stub. Default 4 MiB.
    pub max_stub: usize,
    /// Byte order of requests.
    pub drep: DataRep,
    /// Association group to join (0: a new one).
    pub assoc_group_id: u32,
    /// Offer bind-time feature negotiation in the first bind.
    pub bind_time_features: Option<BindTimeFeatures>,
    /// Offer NDR64 beside NDR20 (MS-RPCE 2.2.5): each interface gets two presentation
    /// contexts, NDR20 then NDR64, as 64-bit Windows clients offer them, and calls use the
    /// one the server accepted (NDR64 when it accepted both). Default true; false offers
    /// NDR20 only.
    pub offer_ndr64: bool,
    /// Ask for header signing in an authenticated bind at a level that signs (not at
    /// `CONNECT`, where Samba's client does not ask either).
    pub header_signing: bool,
    /// Append a verification trailer (MS-RPCE 2.2.2.13) to signed requests (levels `PKT`,
    /// `PKT_INTEGRITY`, `PKT_PRIVACY`) until the server has verified it, as Samba's client
    /// does: BITMASK_1 until a request carrying it succeeds, PCONTEXT until one on that
    /// presentation context succeeds, and HEADER2 on every request when the security
    /// provider does not sign the header ([`SecurityProvider::covers_header`]). A request
    /// with none of them carries no trailer. Default true.
    pub verification_trailer: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            max_xmit_frag: 5840,
            max_recv_frag: 5840,
            max_stub: DEFAULT_MAX_STUB,
            drep: DataRep::LITTLE_ENDIAN,
            assoc_group_id: 0,
            bind_time_features: Some(BindTimeFeatures::BOTH),
            offer_ndr64: true,
            header_signing: true,
            verification_trailer: true,
        }
    }
}

/// Why the client connection refused an operation or an input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The interface has no accepted presentation context.
    #[error("interface {0} is not bound")]
    NotBound(SyntaxId),
    /// A bind is already in flight.
    #[error("a bind is already in progress")]
    BindInProgress,
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
    /// The server broke the protocol (the connection is unusable).
    #[error("protocol error ({reason}): {detail}")]
    Protocol {
        /// Stable reason code.
        reason: &'static str,
        /// Detail.
        detail: String,
    },
    /// Security failure (a signature that does not verify, a failed leg).
    #[error("security: {0}")]
    Security(String),
}

/// What the server said.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientEvent {
    /// A bind or alter_context was answered; per offered interface, its result.
    Bound {
        /// The call_id of the bind.
        call_id: u32,
        /// Interface and the server's result for it.
        results: Vec<(SyntaxId, ContextResultEntry)>,
        /// Bind-time features the server acknowledged.
        features: Option<BindTimeFeatures>,
    },
    /// The bind was refused.
    BindNak {
        /// The call_id of the bind.
        call_id: u32,
        /// The server's reason.
        reason: BindNakReason,
    },
    /// A complete response.
    Response {
        /// The call.
        call_id: u32,
        /// Reassembled (and unsealed) stub.
        stub: Vec<u8>,
        /// Its data representation.
        drep: DataRep,
    },
    /// The call failed with a fault.
    Fault {
        /// The call.
        call_id: u32,
        /// The status.
        status: FaultStatus,
        /// True when the server says the call did not execute.
        did_not_execute: bool,
    },
    /// The server asked us to shut the connection down.
    Shutdown,
}

#[derive(Debug, Clone)]
struct Ctx {
    id: u16,
    syntax: SyntaxId,
    /// The transfer syntax offered in this context (one per context).
    transfer: SyntaxId,
    accepted: Option<bool>,
}

#[derive(Debug)]
struct PendingCall {
    response: Option<Reassembly>,
    auth_ctx: Option<u32>,
    /// What the request's verification trailer asked the server to verify (presentation
    /// context, BITMASK_1): recorded as verified when the call succeeds.
    vt: Option<(Option<u16>, bool)>,
}

/// Which verification trailer a request carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TrailerMode {
    /// The one [`ClientConfig::verification_trailer`] asks for (the commands the server has not
    /// verified yet: PCONTEXT, BITMASK_1 when header signing was asked for, HEADER2 when the
    /// provider does not sign the header), on signed requests only.
    #[default]
    Default,
    /// None.
    Omit,
    /// This one, as given (for tests that need a wrong one).
    Custom(VerificationTrailer),
}

/// Per-request choices of [`ClientConnection::request_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestOptions {
    /// The security context (`auth_context_id`) to protect the request with; `None` uses the
    /// bind's.
    pub auth_context_id: Option<u32>,
    /// The verification trailer.
    pub trailer: TrailerMode,
}

/// The client side of one connection.
pub struct ClientConnection {
    config: ClientConfig,
    framer: Framer,
    contexts: Vec<Ctx>,
    next_context_id: u16,
    next_call_id: u32,
    bind_in_flight: Option<(u32, Vec<u16>)>,
    /// A bind whose auth exchange continues over alter_context (SPNEGO's fourth leg): the
    /// bind's call_id and results, reported once the exchange completes.
    auth_leg: Option<(u32, Vec<(SyntaxId, ContextResultEntry)>)>,
    bound: bool,
    closed: bool,
    assoc_group_id: u32,
    max_xmit: usize,
    features: Option<BindTimeFeatures>,
    auths: Vec<AuthContext>,
    /// The auth context whose leg the bind / alter_context in flight carries.
    auth_in_flight: Option<u32>,
    /// The `auth_context_id` of [`set_auth`](Self::set_auth)'s context (the bind's).
    primary: Option<u32>,
    header_sign_asked: bool,
    /// Presentation contexts whose PCONTEXT verification the server accepted.
    verified_pcontexts: Vec<u16>,
    /// True once the server accepted a BITMASK_1 command.
    verified_bitmask1: bool,
    calls: FxHashMap<u32, PendingCall>,
    out: VecDeque<Vec<u8>>,
}

impl std::fmt::Debug for ClientConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConnection")
            .field("contexts", &self.contexts)
            .field("bound", &self.bound)
            .field("assoc_group_id", &self.assoc_group_id)
            .field("calls", &self.calls.len())
            .finish()
    }
}

impl ClientConnection {
    /// A new, unbound connection.
    pub fn new(config: ClientConfig) -> Self {
        ClientConnection {
            framer: Framer::new(usize::from(config.max_recv_frag.max(MUST_RECV_FRAG_SIZE))),
            contexts: Vec::new(),
            next_context_id: 0,
            next_call_id: 1,
            bind_in_flight: None,
            auth_leg: None,
            bound: false,
            closed: false,
            assoc_group_id: config.assoc_group_id,
            max_xmit: usize::from(MUST_RECV_FRAG_SIZE),
            features: None,
            auths: Vec::new(),
            auth_in_flight: None,
            primary: None,
            header_sign_asked: false,
            verified_pcontexts: Vec::new(),
            verified_bitmask1: false,
            calls: FxHashMap::default(),
            out: VecDeque::new(),
            config,
        }
    }

    /// Sets the security provider for the bind (an authenticated association). `CALL` is
    /// sent as `PKT`, as the Windows runtime does on connection-oriented transports.
    pub fn set_auth(
        &mut self,
        provider: Box<dyn SecurityProvider>,
        level: AuthLevel,
        context_id: u32,
    ) {
        let mut provider = provider;
        let level = effective_level(level);
        provider.set_auth_level(level);
        let ctx = AuthContext {
            context_id,
            auth_type: provider.auth_type(),
            level,
            provider,
        };
        self.auths.clear();
        self.auths.push(ctx);
        self.primary = Some(context_id);
    }

    /// Starts a further security context on the bound connection (MS-RPCE 3.3.1.5.4, security
    /// context multiplexing): an alter_context re-offering an accepted presentation context,
    /// carrying the first token under the new `context_id`; the exchange continues like a
    /// bind's (auth3). Requests choose it with [`RequestOptions::auth_context_id`]. Returns
    /// the alter_context's call_id.
    pub fn add_auth_context(
        &mut self,
        provider: Box<dyn SecurityProvider>,
        level: AuthLevel,
        context_id: u32,
    ) -> Result<u32, ClientError> {
        if self.closed {
            return Err(ClientError::Closed);
        }
        if self.bind_in_flight.is_some() {
            return Err(ClientError::BindInProgress);
        }
        if self.auths.iter().any(|a| a.context_id == context_id) {
            return Err(ClientError::Security(format!(
                "auth context {context_id} already exists"
            )));
        }
        let Some(c) = self
            .contexts
            .iter()
            .find(|c| c.accepted == Some(true))
            .cloned()
        else {
            return Err(ClientError::Security(
                "no bound presentation context".into(),
            ));
        };
        let mut ctx = AuthContext {
            context_id,
            auth_type: provider.auth_type(),
            level: effective_level(level),
            provider,
        };
        ctx.provider.set_auth_level(ctx.level);
        let token = match ctx.provider.step(None) {
            Ok(AuthStep::Continue(t)) | Ok(AuthStep::Done(Some(t))) => t,
            Ok(AuthStep::Done(None)) => Vec::new(),
            Err(e) => return Err(ClientError::Security(e.to_string())),
        };
        ctx.provider.set_header_signing(self.header_sign_asked);
        let verifier = AuthVerifier {
            trailer: SecTrailer {
                auth_type: ctx.auth_type,
                auth_level: ctx.level,
                auth_pad_length: 0,
                auth_reserved: 0,
                auth_context_id: context_id,
            },
            value: token,
        };
        self.auths.push(ctx);
        let call_id = self.call_id();
        let pdu = Pdu {
            header: self.header(PacketType::ALTER_CONTEXT, PfcFlags::FIRST_AND_LAST, call_id),
            body: Body::AlterContext(Bind {
                max_xmit_frag: self.config.max_xmit_frag,
                max_recv_frag: self.config.max_recv_frag,
                assoc_group_id: self.assoc_group_id,
                contexts: vec![ContextElement {
                    context_id: c.id,
                    abstract_syntax: c.syntax,
                    transfer_syntaxes: vec![c.transfer],
                }],
            }),
            auth: Some(verifier),
        };
        let bytes = pdu.encode().map_err(|e| ClientError::Protocol {
            reason: "encode",
            detail: e.to_string(),
        })?;
        self.out.push_back(bytes);
        self.bind_in_flight = Some((call_id, vec![c.id]));
        self.auth_in_flight = Some(context_id);
        Ok(call_id)
    }

    /// True once the security context `context_id` is established.
    pub fn auth_established(&self, context_id: u32) -> bool {
        self.auths
            .iter()
            .any(|a| a.context_id == context_id && a.provider.is_established())
    }

    /// The association group the server placed us in.
    pub fn assoc_group_id(&self) -> u32 {
        self.assoc_group_id
    }

    /// The negotiated largest fragment we send.
    pub fn max_xmit_frag(&self) -> usize {
        self.max_xmit
    }

    /// Bind-time features the server acknowledged.
    pub fn features(&self) -> Option<BindTimeFeatures> {
        self.features
    }

    /// True after a bind was acknowledged.
    pub fn is_bound(&self) -> bool {
        self.bound
    }

    /// The accepted presentation context for `syntax` (its NDR64 one when the server
    /// accepted both).
    pub fn context_for(&self, syntax: &SyntaxId) -> Option<u16> {
        self.accepted_context(syntax).map(|c| c.id)
    }

    /// The transfer syntax of the accepted presentation context for `syntax`.
    pub fn transfer_for(&self, syntax: &SyntaxId) -> Option<msrpc_ndr::TransferSyntax> {
        self.accepted_context(syntax)
            .and_then(|c| c.transfer.ndr_syntax())
    }

    fn accepted_context(&self, syntax: &SyntaxId) -> Option<&Ctx> {
        let mut accepted = self
            .contexts
            .iter()
            .filter(|c| c.syntax == *syntax && c.accepted == Some(true));
        let first = accepted.next()?;
        Some(
            std::iter::once(first)
                .chain(accepted)
                .find(|c| c.transfer == SyntaxId::NDR64)
                .unwrap_or(first),
        )
    }

    /// True when a bind or alter_context awaits its answer.
    pub fn bind_pending(&self) -> bool {
        self.bind_in_flight.is_some()
    }

    /// Calls awaiting a response.
    pub fn outstanding_calls(&self) -> usize {
        self.calls.len()
    }

    /// The next fragment to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    fn call_id(&mut self) -> u32 {
        let id = self.next_call_id;
        self.next_call_id = self.next_call_id.wrapping_add(1).max(1);
        id
    }

    fn header(&self, ptype: PacketType, flags: PfcFlags, call_id: u32) -> Header {
        Header {
            rpc_vers: 5,
            rpc_vers_minor: 0,
            ptype,
            flags,
            drep: self.config.drep,
            frag_length: 0,
            auth_length: 0,
            call_id,
        }
    }

    /// Offers presentation contexts for `interfaces` (NDR20 each, and NDR64 in a context of
    /// its own with [`ClientConfig::offer_ndr64`]): a bind on a fresh connection, an
    /// alter_context afterwards. Interfaces already bound are skipped. Returns the call_id.
    pub fn bind(&mut self, interfaces: &[SyntaxId]) -> Result<u32, ClientError> {
        if self.closed {
            return Err(ClientError::Closed);
        }
        if self.bind_in_flight.is_some() {
            return Err(ClientError::BindInProgress);
        }
        let mut elems = Vec::new();
        let mut ids = Vec::new();
        for s in interfaces {
            if self.context_for(s).is_some()
                || elems
                    .iter()
                    .any(|e: &ContextElement| e.abstract_syntax == *s)
            {
                continue;
            }
            let transfers: &[SyntaxId] = if self.config.offer_ndr64 {
                &[SyntaxId::NDR20, SyntaxId::NDR64]
            } else {
                &[SyntaxId::NDR20]
            };
            for t in transfers {
                let id = self.next_context_id;
                self.next_context_id = self.next_context_id.wrapping_add(1);
                // A context still offered for this interface from an earlier answer that
                // rejected it is dropped: the new offer replaces it.
                self.contexts
                    .retain(|c| !(c.syntax == *s && c.transfer == *t && c.accepted == Some(false)));
                self.contexts.push(Ctx {
                    id,
                    syntax: *s,
                    transfer: *t,
                    accepted: None,
                });
                ids.push(id);
                elems.push(ContextElement {
                    context_id: id,
                    abstract_syntax: *s,
                    transfer_syntaxes: vec![*t],
                });
            }
        }
        let first_bind = !self.bound;
        if first_bind {
            if let (Some(f), Some(first)) = (self.config.bind_time_features, interfaces.first()) {
                let id = self.next_context_id;
                self.next_context_id = self.next_context_id.wrapping_add(1);
                elems.push(ContextElement {
                    context_id: id,
                    abstract_syntax: *first,
                    transfer_syntaxes: vec![SyntaxId::for_bind_time_features(f)],
                });
            }
        }
        let call_id = self.call_id();
        let mut flags = PfcFlags::FIRST_AND_LAST;
        let mut verifier = None;
        let primary = self.primary;
        if let Some(ctx) = self
            .auths
            .iter_mut()
            .find(|a| Some(a.context_id) == primary)
        {
            if !ctx.provider.is_established() && self.auth_in_flight.is_none() {
                let token = match ctx.provider.step(None) {
                    Ok(AuthStep::Continue(t)) | Ok(AuthStep::Done(Some(t))) => t,
                    Ok(AuthStep::Done(None)) => Vec::new(),
                    Err(e) => return Err(ClientError::Security(e.to_string())),
                };
                verifier = Some(AuthVerifier {
                    trailer: SecTrailer {
                        auth_type: ctx.auth_type,
                        auth_level: ctx.level,
                        auth_pad_length: 0,
                        auth_reserved: 0,
                        auth_context_id: ctx.context_id,
                    },
                    value: token,
                });
                if self.config.header_signing && first_bind && level_signs(ctx.level) {
                    flags = flags.with(PfcFlags::SUPPORT_HEADER_SIGN);
                    self.header_sign_asked = true;
                }
                ctx.provider.set_header_signing(self.header_sign_asked);
                self.auth_in_flight = Some(ctx.context_id);
            }
        }
        let body = Bind {
            max_xmit_frag: self.config.max_xmit_frag,
            max_recv_frag: self.config.max_recv_frag,
            assoc_group_id: self.assoc_group_id,
            contexts: elems,
        };
        let (ptype, body) = if first_bind {
            (PacketType::BIND, Body::Bind(body))
        } else {
            (PacketType::ALTER_CONTEXT, Body::AlterContext(body))
        };
        let pdu = Pdu {
            header: self.header(ptype, flags, call_id),
            body,
            auth: verifier,
        };
        let bytes = pdu.encode().map_err(|e| ClientError::Protocol {
            reason: "encode",
            detail: e.to_string(),
        })?;
        self.out.push_back(bytes);
        self.bind_in_flight = Some((call_id, ids));
        Ok(call_id)
    }

    /// Sends a request on the accepted context for `interface`, fragmented to the negotiated
    /// size, protected by the bind's security context. Returns the call_id.
    pub fn request(
        &mut self,
        interface: &SyntaxId,
        opnum: u16,
        object: Option<Uuid>,
        stub: &[u8],
    ) -> Result<u32, ClientError> {
        self.request_with(interface, opnum, object, stub, &RequestOptions::default())
    }

    /// [`request`](Self::request) with a chosen security context and verification trailer.
    /// At `CONNECT` the PDUs carry no verifier; at `PKT` and `PKT_INTEGRITY` they are signed,
    /// at `PKT_PRIVACY` sealed; a signed request carries a verification trailer unless told
    /// otherwise.
    pub fn request_with(
        &mut self,
        interface: &SyntaxId,
        opnum: u16,
        object: Option<Uuid>,
        stub: &[u8],
        opts: &RequestOptions,
    ) -> Result<u32, ClientError> {
        if self.closed {
            return Err(ClientError::Closed);
        }
        let context_id = self
            .context_for(interface)
            .ok_or(ClientError::NotBound(*interface))?;
        let auth_idx = match opts.auth_context_id {
            Some(id) => Some(
                self.auths
                    .iter()
                    .position(|a| a.context_id == id && a.provider.is_established())
                    .ok_or_else(|| {
                        ClientError::Security(format!("auth context {id} is not established"))
                    })?,
            ),
            None => self.primary.and_then(|id| {
                self.auths
                    .iter()
                    .position(|a| a.context_id == id && a.provider.is_established())
            }),
        };
        let auth_ctx = auth_idx
            .and_then(|i| self.auths.get(i))
            .map(|a| a.context_id);
        let sign_idx =
            auth_idx.filter(|&i| self.auths.get(i).is_some_and(|a| level_signs(a.level)));
        let call_id = self.call_id();
        let mut owned;
        let mut stub = stub;
        let mut vt_asked = None;
        if let Some(i) = sign_idx {
            let vt = match &opts.trailer {
                TrailerMode::Default if self.config.verification_trailer => {
                    let pcontext = !self.verified_pcontexts.contains(&context_id);
                    let bitmask = self.header_sign_asked && !self.verified_bitmask1;
                    let header2 = !self
                        .auths
                        .get(i)
                        .is_some_and(|a| a.provider.covers_header());
                    vt_asked = Some((pcontext.then_some(context_id), bitmask));
                    VerificationTrailer::with_parts(
                        Header2 {
                            ptype: PacketType::REQUEST,
                            drep: self.config.drep.0,
                            call_id,
                            context_id,
                            opnum,
                        },
                        *interface,
                        self.accepted_context(interface)
                            .map_or(SyntaxId::NDR20, |c| c.transfer),
                        TrailerParts {
                            bitmask1: bitmask,
                            pcontext,
                            header2,
                        },
                    )
                }
                TrailerMode::Custom(vt) => Some(vt.clone()),
                _ => None,
            };
            if let Some(vt) = vt {
                owned = stub.to_vec();
                vt.append_to(&mut owned);
                stub = &owned;
            }
        } else if let TrailerMode::Custom(vt) = &opts.trailer {
            owned = stub.to_vec();
            vt.append_to(&mut owned);
            stub = &owned;
        }
        let obj_len = if object.is_some() { 16 } else { 0 };
        let sig_len = sign_idx
            .and_then(|i| self.auths.get(i))
            .map(|a| a.provider.signature_len());
        let cap = stub_capacity(self.max_xmit, 24 + obj_len, sig_len);
        let total = stub.len();
        let mut offset = 0usize;
        loop {
            let end = offset.saturating_add(cap).min(total);
            let mut flags = PfcFlags(0);
            if offset == 0 {
                flags = flags.with(PfcFlags::FIRST_FRAG);
            }
            if end == total {
                flags = flags.with(PfcFlags::LAST_FRAG);
            }
            if object.is_some() {
                flags = flags.with(PfcFlags::OBJECT_UUID);
            }
            let header = self.header(PacketType::REQUEST, flags, call_id);
            let body = StubBody::Request {
                alloc_hint: u32::try_from(total - offset).unwrap_or(u32::MAX),
                context_id,
                opnum,
                object,
            };
            let chunk = stub.get(offset..end).unwrap_or_default();
            let ctx = sign_idx.and_then(|i| self.auths.get_mut(i));
            let bytes = stub_fragment(ctx, &header, &body, chunk).ok_or(ClientError::Protocol {
                reason: "encode",
                detail: "request encode failed".into(),
            })?;
            self.out.push_back(bytes);
            offset = end;
            if offset >= total {
                break;
            }
        }
        self.calls.insert(
            call_id,
            PendingCall {
                response: None,
                auth_ctx,
                vt: vt_asked,
            },
        );
        Ok(call_id)
    }

    /// Asks the server to cancel `call_id` (co_cancel).
    pub fn cancel(&mut self, call_id: u32) {
        if self.calls.contains_key(&call_id) {
            let pdu = Pdu {
                header: self.header(PacketType::CO_CANCEL, PfcFlags::FIRST_AND_LAST, call_id),
                body: Body::CoCancel,
                auth: None,
            };
            if let Ok(b) = pdu.encode() {
                self.out.push_back(b);
            }
        }
    }

    /// Abandons `call_id` (orphaned): its response, if any arrives, is discarded.
    pub fn orphan(&mut self, call_id: u32) {
        if self.calls.remove(&call_id).is_some() {
            let pdu = Pdu {
                header: self.header(PacketType::ORPHANED, PfcFlags::FIRST_AND_LAST, call_id),
                body: Body::Orphaned,
                auth: None,
            };
            if let Ok(b) = pdu.encode() {
                self.out.push_back(b);
            }
        }
    }

    /// Feeds received bytes; returns what the server said. An error leaves the connection
    /// closed.
    pub fn receive(&mut self, data: &[u8]) -> Result<Vec<ClientEvent>, ClientError> {
        let mut events = Vec::new();
        self.receive_into(data, &mut events)?;
        Ok(events)
    }

    /// [`ClientConnection::receive`] appending the events to `events` (a buffer the caller
    /// reuses). On an error, the events of the fragments before it are in `events`.
    pub fn receive_into(
        &mut self,
        data: &[u8],
        events: &mut Vec<ClientEvent>,
    ) -> Result<(), ClientError> {
        if self.closed {
            return Err(ClientError::Closed);
        }
        self.framer.push(data);
        loop {
            let frame = match self.framer.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return Err(self.fail(e.reason_code(), e.to_string())),
            };
            if let Err(e) = self.handle_frame(frame, events) {
                self.closed = true;
                return Err(e);
            }
        }
        Ok(())
    }

    fn fail(&mut self, reason: &'static str, detail: String) -> ClientError {
        self.closed = true;
        ClientError::Protocol { reason, detail }
    }

    fn handle_frame(
        &mut self,
        mut frame: Vec<u8>,
        ev: &mut Vec<ClientEvent>,
    ) -> Result<(), ClientError> {
        let header = Header::decode(&frame).map_err(|e| ClientError::Protocol {
            reason: e.reason_code(),
            detail: e.to_string(),
        })?;
        if header.ptype == PacketType::RESPONSE {
            self.unprotect(header.call_id, &mut frame)?;
        }
        let pdu = Pdu::decode(&frame).map_err(|e| ClientError::Protocol {
            reason: e.reason_code(),
            detail: e.to_string(),
        })?;
        let call_id = pdu.header.call_id;
        match pdu.body {
            Body::BindAck(ack) | Body::AlterContextResp(ack) => {
                let Some((bind_id, ids)) = self.bind_in_flight.take() else {
                    return Err(ClientError::Protocol {
                        reason: "unexpected_bind_ack",
                        detail: "no bind in flight".into(),
                    });
                };
                if bind_id != call_id {
                    return Err(ClientError::Protocol {
                        reason: "bind_ack_call_id",
                        detail: format!("{call_id} != {bind_id}"),
                    });
                }
                if pdu.header.ptype == PacketType::BIND_ACK {
                    self.assoc_group_id = ack.assoc_group_id;
                    let xmit = ack
                        .max_recv_frag
                        .min(self.config.max_xmit_frag)
                        .max(MUST_RECV_FRAG_SIZE);
                    self.max_xmit = usize::from(xmit);
                    let recv = ack
                        .max_xmit_frag
                        .min(self.config.max_recv_frag)
                        .max(MUST_RECV_FRAG_SIZE);
                    self.framer.set_max_frag(usize::from(recv));
                }
                let mut results = Vec::new();
                let mut features = None;
                for (i, r) in ack.results.iter().enumerate() {
                    if r.result == ContextResult::NEGOTIATE_ACK {
                        features = Some(BindTimeFeatures(r.reason.0));
                        continue;
                    }
                    let Some(&cid) = ids.get(i) else { continue };
                    if let Some(c) = self.contexts.iter_mut().find(|c| c.id == cid) {
                        c.accepted = Some(r.result == ContextResult::ACCEPTANCE);
                        results.push((c.syntax, r.clone()));
                    }
                }
                if features.is_some() {
                    self.features = features;
                }
                self.bound = true;
                // Continue the auth exchange of the context this leg belongs to: auth3 when the
                // provider is done (NTLM), another alter_context leg when it expects an answer
                // (SPNEGO's mechListMIC).
                if pdu.header.ptype == PacketType::BIND_ACK {
                    let negotiated = self.header_sign_asked
                        && pdu.header.flags.contains(PfcFlags::SUPPORT_HEADER_SIGN);
                    for a in &mut self.auths {
                        a.provider.set_header_signing(negotiated);
                    }
                }
                let pending = self.auth_leg.take();
                let mut next_leg = None;
                let leg = self.auth_in_flight.take();
                let ctx = leg.and_then(|id| self.auths.iter_mut().find(|a| a.context_id == id));
                if let Some(ctx) = ctx {
                    if let Some(v) = &pdu.auth {
                        if v.trailer.auth_context_id != ctx.context_id
                            || v.trailer.auth_type != ctx.auth_type
                        {
                            return Err(ClientError::Security(
                                "the server answered for another auth context".into(),
                            ));
                        }
                    }
                    let trailer = SecTrailer {
                        auth_type: ctx.auth_type,
                        auth_level: ctx.level,
                        auth_pad_length: 0,
                        auth_reserved: 0,
                        auth_context_id: ctx.context_id,
                    };
                    let context_id = ctx.context_id;
                    match (pdu.auth, ctx.provider.is_established()) {
                        (Some(v), false) => match ctx.provider.step(Some(&v.value)) {
                            Ok(AuthStep::Done(Some(token))) => {
                                let pdu = Pdu {
                                    header: self.header(
                                        PacketType::AUTH3,
                                        PfcFlags::FIRST_AND_LAST,
                                        call_id,
                                    ),
                                    body: Body::Auth3([0; 4]),
                                    auth: Some(AuthVerifier {
                                        trailer,
                                        value: token,
                                    }),
                                };
                                let b = pdu.encode().map_err(|e| ClientError::Protocol {
                                    reason: "encode",
                                    detail: e.to_string(),
                                })?;
                                self.out.push_back(b);
                            }
                            Ok(AuthStep::Continue(token)) => {
                                next_leg = Some((
                                    context_id,
                                    AuthVerifier {
                                        trailer,
                                        value: token,
                                    },
                                ));
                            }
                            Ok(AuthStep::Done(None)) => {}
                            Err(e) => return Err(ClientError::Security(e.to_string())),
                        },
                        (None, false) if pending.is_some() => {
                            return Err(ClientError::Security(
                                "alter_context_resp ended the auth exchange early".into(),
                            ));
                        }
                        _ => {}
                    }
                }
                let (bound_id, results) = match pending {
                    Some((id, r)) => (id, r),
                    None => (call_id, results),
                };
                if let Some((context_id, verifier)) = next_leg {
                    // The same presentation contexts again, with the next auth token.
                    let accepted: Vec<&Ctx> = self
                        .contexts
                        .iter()
                        .filter(|c| ids.contains(&c.id) && c.accepted == Some(true))
                        .collect();
                    let elems: Vec<ContextElement> = accepted
                        .iter()
                        .map(|c| ContextElement {
                            context_id: c.id,
                            abstract_syntax: c.syntax,
                            transfer_syntaxes: vec![c.transfer],
                        })
                        .collect();
                    let leg_ids: Vec<u16> = accepted.iter().map(|c| c.id).collect();
                    let leg_call = self.call_id();
                    let pdu = Pdu {
                        header: self.header(
                            PacketType::ALTER_CONTEXT,
                            PfcFlags::FIRST_AND_LAST,
                            leg_call,
                        ),
                        body: Body::AlterContext(Bind {
                            max_xmit_frag: self.config.max_xmit_frag,
                            max_recv_frag: self.config.max_recv_frag,
                            assoc_group_id: self.assoc_group_id,
                            contexts: elems,
                        }),
                        auth: Some(verifier),
                    };
                    let b = pdu.encode().map_err(|e| ClientError::Protocol {
                        reason: "encode",
                        detail: e.to_string(),
                    })?;
                    self.out.push_back(b);
                    self.bind_in_flight = Some((leg_call, leg_ids));
                    self.auth_in_flight = Some(context_id);
                    self.auth_leg = Some((bound_id, results));
                    return Ok(());
                }
                ev.push(ClientEvent::Bound {
                    call_id: bound_id,
                    results,
                    features: self.features,
                });
            }
            Body::BindNak(nak) => {
                if let Some((_, ids)) = self.bind_in_flight.take() {
                    self.contexts.retain(|c| !ids.contains(&c.id));
                }
                self.auth_in_flight = None;
                ev.push(ClientEvent::BindNak {
                    call_id,
                    reason: nak.reason,
                });
            }
            Body::Response(resp) => {
                let first = pdu.header.flags.contains(PfcFlags::FIRST_FRAG);
                let last = pdu.header.flags.contains(PfcFlags::LAST_FRAG);
                let Some(call) = self.calls.get_mut(&call_id) else {
                    // A response to an orphaned call: discard.
                    return Ok(());
                };
                match (&mut call.response, first) {
                    (None, true) => {
                        call.response = Some(
                            Reassembly::start_owned(resp.stub, self.config.max_stub).map_err(
                                |e| ClientError::Protocol {
                                    reason: e.reason_code(),
                                    detail: e.to_string(),
                                },
                            )?,
                        )
                    }
                    (Some(r), false) => r.push(&resp.stub).map_err(|e| ClientError::Protocol {
                        reason: e.reason_code(),
                        detail: e.to_string(),
                    })?,
                    _ => {
                        return Err(ClientError::Protocol {
                            reason: "fragment_out_of_order",
                            detail: format!("call {call_id}"),
                        })
                    }
                }
                if last {
                    let call = self.calls.remove(&call_id);
                    if let Some((pcontext, bitmask)) = call.as_ref().and_then(|c| c.vt) {
                        // The server answered a request whose trailer it had to check.
                        if let Some(id) = pcontext {
                            if !self.verified_pcontexts.contains(&id) {
                                self.verified_pcontexts.push(id);
                            }
                        }
                        self.verified_bitmask1 |= bitmask;
                    }
                    let stub = call
                        .and_then(|c| c.response)
                        .map(Reassembly::finish)
                        .unwrap_or_default();
                    ev.push(ClientEvent::Response {
                        call_id,
                        stub,
                        drep: pdu.header.drep,
                    });
                }
            }
            Body::Fault(f) => {
                if self.calls.remove(&call_id).is_some() {
                    ev.push(ClientEvent::Fault {
                        call_id,
                        status: f.status,
                        did_not_execute: pdu.header.flags.contains(PfcFlags::DID_NOT_EXECUTE),
                    });
                } else if let Some((bind_id, _)) = &self.bind_in_flight {
                    if *bind_id == call_id {
                        self.bind_in_flight = None;
                        // A refused alter_context leg: that security context is gone.
                        if let Some(id) = self.auth_in_flight.take() {
                            self.auths
                                .retain(|a| a.context_id != id || a.provider.is_established());
                        }
                        // A refused auth leg is reported as the bind it continues.
                        let call_id = self.auth_leg.take().map_or(call_id, |(id, _)| id);
                        ev.push(ClientEvent::Fault {
                            call_id,
                            status: f.status,
                            did_not_execute: true,
                        });
                    }
                } else {
                    // A fault for a call we never made (e.g. a request refused before bind).
                    ev.push(ClientEvent::Fault {
                        call_id,
                        status: f.status,
                        did_not_execute: true,
                    });
                }
            }
            Body::Shutdown => {
                self.closed = true;
                ev.push(ClientEvent::Shutdown);
            }
            _ => {
                return Err(ClientError::Protocol {
                    reason: "unexpected_packet_type",
                    detail: format!("{:?}", pdu.header.ptype),
                });
            }
        }
        Ok(())
    }

    /// Verifies (and at privacy unseals) a response fragment with its call's security
    /// context: the sec_trailer must name that context with its type and level. At `CONNECT`
    /// a verifier is not required and not checked.
    fn unprotect(&mut self, call_id: u32, frame: &mut [u8]) -> Result<(), ClientError> {
        let Some(id) = self.calls.get(&call_id).and_then(|c| c.auth_ctx) else {
            return Ok(());
        };
        let Some(ctx) = self
            .auths
            .iter_mut()
            .find(|a| a.context_id == id)
            .filter(|a| level_signs(a.level))
        else {
            return Ok(());
        };
        let layout = AuthLayout::parse(frame)
            .map_err(|e| ClientError::Protocol {
                reason: e.reason_code(),
                detail: e.to_string(),
            })?
            .ok_or_else(|| ClientError::Security("response without verifier".into()))?;
        let t = frame.get(layout.trailer.clone()).unwrap_or_default();
        let big = t.len() == 8 && frame.get(4).is_some_and(|d| d & 0xf0 == 0);
        let ctx_id = t
            .get(4..8)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|b| {
                if big {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                }
            });
        if t.first().copied() != Some(ctx.auth_type.0)
            || t.get(1).copied() != Some(ctx.level.0)
            || ctx_id != Some(ctx.context_id)
        {
            return Err(ClientError::Security(
                "response auth type, level or context changed".into(),
            ));
        }
        // Disjoint halves: the signature is read in place while the PDU part is unsealed.
        let (pdu_part, sig) = frame.split_at_mut(layout.auth_value.start);
        let sig: &[u8] = sig;
        let region = pdu_part
            .get_mut(..layout.trailer.end)
            .ok_or_else(|| ClientError::Security("layout".into()))?;
        let data = layout.stub.start..layout.pad.end;
        let r = if level_seals(ctx.level) {
            ctx.provider.unseal(region, data, sig)
        } else {
            ctx.provider.verify(region, data, sig)
        };
        r.map_err(|e| ClientError::Security(e.to_string()))
    }
}
