//! The connectionless client (C706 chapter 10), sans-IO: one [`ClActivity`] runs one call at a
//! time toward one server.
//!
//! A call sends its request in blasts of fragments ([`super::frag::Sender`]), retransmits what
//! the server has not acknowledged when its timer fires, pings once the request is delivered
//! and the answer is late, takes working (keep waiting), nocall (the server lacks fragments, or
//! the whole call: send them again), fack (send the next blast), reject and fault (the call
//! fails with their status), reassembles a multi-fragment response (facking what the server
//! asks for), and acknowledges the response with an ack. It answers the server's
//! `conv_who_are_you2` callbacks with its activity's current sequence number. Timers are
//! parameters ([`ClClientConfig`]) and `now` is an argument.
//!
//! | state | fack | working | nocall | response | fault/reject | timer |
//! |---|---|---|---|---|---|---|
//! | sending | next blast | request delivered | resend what it lacks | receiving | failed | resend blast |
//! | waiting | - | keep waiting | resend request | receiving | failed | ping |
//! | receiving | - | - | - | fragment (fack if asked); complete: ack, done | failed | fack what we have |

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use msrpc_ndr::{DataRep, Uuid};

use super::conv::{self, WayRequest, WayResponse};
use super::frag::{Receiver, Sender};
use super::pdu::{CancelBody, ClBody, ClFlags1, ClFlags2, ClHeader, ClPdu, CL_HEADER_LEN, NO_HINT};
use crate::dispatch::{CallError, ResponseStub};
use crate::pdu::{AuthType, FaultStatus, PacketType, SyntaxId};

/// `nca_s_bad_actid` (C706 appendix E): a WAY callback asked about an activity we do not run.
pub const NCA_S_BAD_ACTID: FaultStatus = FaultStatus(0x1c00_000a);

/// Configuration of a [`ClActivity`].
#[derive(Clone, Debug)]
pub struct ClClientConfig {
    /// Data representation of requests.
    pub drep: DataRep,
    /// Stub bytes per request fragment.
    pub max_frag_body: usize,
    /// Request fragments per blast.
    pub window: usize,
    /// Window advertised in facks, in kilobytes.
    pub window_kb: u16,
    /// First retransmission / ping delay; doubled after each unanswered one.
    pub retransmit: Duration,
    /// Largest delay between retransmissions.
    pub max_retransmit: Duration,
    /// Retransmissions and pings without any answer before the call times out.
    pub max_attempts: u32,
    /// Largest response stub accepted.
    pub max_response_bytes: usize,
    /// Most response fragments accepted.
    pub max_response_fragments: usize,
    /// This client address space's UUID (returned in `conv_who_are_you2`).
    pub cas_uuid: Uuid,
}

impl Default for ClClientConfig {
    fn default() -> Self {
        ClClientConfig {
            drep: DataRep::LITTLE_ENDIAN,
            max_frag_body: 1392,
            window: 8,
            window_kb: 64,
            retransmit: Duration::from_millis(300),
            max_retransmit: Duration::from_secs(2),
            max_attempts: 8,
            max_response_bytes: 4 * 1024 * 1024,
            max_response_fragments: 4096,
            cas_uuid: Uuid::nil(),
        }
    }
}

/// One call to start.
#[derive(Clone, Debug)]
pub struct ClRequest {
    /// The interface.
    pub interface: SyntaxId,
    /// The operation.
    pub opnum: u16,
    /// The object UUID.
    pub object: Option<Uuid>,
    /// The NDR20 stub, in [`ClClientConfig::drep`].
    pub stub: Vec<u8>,
    /// Idempotent semantics (the server may run it again, and need not call back).
    pub idempotent: bool,
    /// Maybe semantics (no response).
    pub maybe: bool,
    /// The call's deadline.
    pub deadline: Instant,
}

#[derive(Debug)]
struct Call {
    template: ClHeader,
    sender: Sender,
    receiver: Receiver,
    response_drep: Option<DataRep>,
    deadline: Instant,
    timer: Instant,
    backoff: Duration,
    silent: u32,
    cancel_id: u32,
}

/// A client activity (C706 10.1: one thread of calls, sequence-numbered).
#[derive(Debug)]
pub struct ClActivity {
    id: Uuid,
    config: ClClientConfig,
    seqnum: u32,
    server_boot: u32,
    call: Option<Call>,
    transmits: VecDeque<Vec<u8>>,
    outcome: Option<Result<ResponseStub, CallError>>,
}

impl ClActivity {
    /// A new activity `id` (a fresh random UUID for each client thread).
    pub fn new(id: Uuid, config: ClClientConfig) -> Self {
        ClActivity {
            id,
            config,
            seqnum: 0,
            server_boot: 0,
            call: None,
            transmits: VecDeque::new(),
            outcome: None,
        }
    }

    /// The activity id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The sequence number of the current (or last) call.
    pub fn seqnum(&self) -> u32 {
        self.seqnum
    }

    /// The server boot time learned from the server's first answer (0 before).
    pub fn server_boot(&self) -> u32 {
        self.server_boot
    }

    /// Forces the server boot time sent in requests (tests, or a client resuming).
    pub fn set_server_boot(&mut self, boot: u32) {
        self.server_boot = boot;
    }

    /// True while a call runs.
    pub fn busy(&self) -> bool {
        self.call.is_some()
    }

    /// Starts a call (the previous one must have ended).
    pub fn start_call(&mut self, now: Instant, req: ClRequest) -> Result<(), CallError> {
        if self.call.is_some() {
            return Err(CallError::Protocol(
                "a call is already running on this activity".into(),
            ));
        }
        if self.outcome.is_some() {
            return Err(CallError::Protocol(
                "the last call's outcome was not taken".into(),
            ));
        }
        self.seqnum = self.seqnum.wrapping_add(1);
        let mut flags1 = ClFlags1::default();
        if req.idempotent {
            flags1 = flags1.with(ClFlags1::IDEMPOTENT);
        }
        if req.maybe {
            flags1 = flags1.with(ClFlags1::MAYBE);
        }
        let template = ClHeader {
            ptype: PacketType::REQUEST,
            flags1,
            flags2: ClFlags2::default(),
            drep: self.config.drep,
            serial: 0,
            object: req.object.unwrap_or_else(Uuid::nil),
            interface: req.interface.uuid,
            activity: self.id,
            server_boot: self.server_boot,
            if_vers: ClHeader::vers(req.interface.major, req.interface.minor),
            seqnum: self.seqnum,
            opnum: req.opnum,
            ihint: NO_HINT,
            ahint: NO_HINT,
            len: 0,
            fragnum: 0,
            auth_proto: AuthType::NONE,
        };
        let mut sender = Sender::new(
            template,
            &req.stub,
            self.config.max_frag_body,
            self.config.window,
        );
        for p in sender.blast() {
            self.push(&p);
        }
        if req.maybe {
            self.outcome = Some(Ok(ResponseStub {
                stub: Vec::new(),
                drep: self.config.drep,
            }));
            return Ok(());
        }
        self.call = Some(Call {
            template,
            sender,
            receiver: Receiver::new(),
            response_drep: None,
            deadline: req.deadline,
            timer: now + self.config.retransmit,
            backoff: self.config.retransmit,
            silent: 0,
            cancel_id: 0,
        });
        Ok(())
    }

    fn push(&mut self, p: &ClPdu) {
        if let Ok(b) = p.encode() {
            self.transmits.push_back(b);
        }
    }

    fn control(&self, ptype: PacketType, body: ClBody) -> Option<ClPdu> {
        let c = self.call.as_ref()?;
        let mut h = c.template;
        h.ptype = ptype;
        h.flags1 = ClFlags1::default();
        h.server_boot = self.server_boot;
        Some(ClPdu {
            header: h,
            body,
            auth: Vec::new(),
        })
    }

    /// Asks the server to cancel the running call (cl_cancel); the call goes on until the
    /// server answers it (usually with a fault `nca_s_fault_cancel`).
    pub fn cancel(&mut self) {
        let Some(c) = self.call.as_mut() else { return };
        c.cancel_id = c.cancel_id.wrapping_add(1);
        let id = c.cancel_id;
        if let Some(p) = self.control(
            PacketType::CL_CANCEL,
            ClBody::Cancel(CancelBody {
                vers: 0,
                cancel_id: id,
            }),
        ) {
            self.push(&p);
        }
    }

    /// The next datagram to send to the server.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    /// The call's outcome, once it ended.
    pub fn poll_outcome(&mut self) -> Option<Result<ResponseStub, CallError>> {
        self.outcome.take()
    }

    fn finish(&mut self, r: Result<ResponseStub, CallError>) {
        self.call = None;
        self.outcome = Some(r);
    }

    /// Takes one datagram from the server.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) {
        let Ok(pdu) = ClPdu::decode(datagram) else {
            return;
        };
        let h = pdu.header;
        if h.ptype == PacketType::REQUEST && h.interface == conv::CONV.uuid {
            self.answer_conv(&pdu);
            return;
        }
        if h.activity != self.id || h.seqnum != self.seqnum || self.call.is_none() {
            return;
        }
        if self.server_boot == 0 && h.server_boot != 0 {
            self.server_boot = h.server_boot;
        }
        let max_body = self.config.max_frag_body;
        let retransmit = self.config.retransmit;
        let Some(c) = self.call.as_mut() else { return };
        c.silent = 0;
        c.backoff = retransmit;
        c.timer = now + retransmit;
        match pdu.body {
            ClBody::Fack(f) => {
                c.sender.on_fack(h.fragnum, f.as_ref(), max_body);
                if !c.sender.all_acked() {
                    let b = c.sender.blast();
                    b.iter().for_each(|p| self.push(p));
                }
            }
            ClBody::Working => c.sender.ack_all(),
            ClBody::Nocall(f) => {
                if c.sender.all_acked() && c.receiver.bytes() == 0 || f.is_none() {
                    // The server has no such call (or lost it): send it all again.
                    c.sender.reset_acks();
                }
                if let Some(f) = &f {
                    c.sender.on_fack(h.fragnum, Some(f), max_body);
                }
                if !c.sender.all_acked() {
                    let b = c.sender.blast();
                    b.iter().for_each(|p| self.push(p));
                }
            }
            ClBody::Response(body) => {
                c.sender.ack_all();
                c.response_drep.get_or_insert(h.drep);
                let single = !h.flags1.contains(ClFlags1::FRAG);
                let last = single || h.flags1.contains(ClFlags1::LASTFRAG);
                let fragnum = if single { 0 } else { h.fragnum };
                let max_bytes = self.config.max_response_bytes;
                let max_frags = self.config.max_response_fragments;
                if let Err(e) = c.receiver.add(fragnum, last, &body, max_frags, max_bytes) {
                    self.finish(Err(CallError::Protocol(format!(
                        "response beyond the client's limits ({e:?})"
                    ))));
                    return;
                }
                if c.receiver.complete() {
                    let drep = c.response_drep.unwrap_or(h.drep);
                    let r = std::mem::take(&mut c.receiver);
                    let stub = r.assemble().unwrap_or_default();
                    if let Some(p) = self.control(PacketType::ACK, ClBody::Ack) {
                        self.push(&p);
                    }
                    self.finish(Ok(ResponseStub { stub, drep }));
                } else if !single && !h.flags1.contains(ClFlags1::NOFACK) {
                    self.send_fack(h.serial);
                }
            }
            ClBody::Fault(st) => {
                if let Some(p) = self.control(PacketType::ACK, ClBody::Ack) {
                    self.push(&p);
                }
                self.finish(Err(CallError::Fault(st)));
            }
            ClBody::Reject(st) => self.finish(Err(CallError::Fault(st))),
            _ => {}
        }
    }

    fn send_fack(&mut self, serial: u16) {
        let Some(c) = self.call.as_ref() else { return };
        let (fragnum, body) = c.receiver.fack_body(
            serial,
            self.config.window_kb,
            (self.config.max_frag_body + CL_HEADER_LEN) as u32,
        );
        if let Some(mut p) = self.control(PacketType::FACK, ClBody::Fack(Some(body))) {
            p.header.fragnum = fragnum;
            self.push(&p);
        }
    }

    /// Answers a `conv` callback request (WAY, WAY2; anything else is rejected).
    fn answer_conv(&mut self, pdu: &ClPdu) {
        let h = pdu.header;
        let ClBody::Request(stub) = &pdu.body else {
            return;
        };
        let mut rh = h;
        rh.flags1 = ClFlags1::default();
        rh.flags2 = ClFlags2::default();
        rh.serial = 0;
        rh.fragnum = 0;
        let body = match (h.opnum, WayRequest::decode(stub, h.drep)) {
            (conv::OP_WHO_ARE_YOU | conv::OP_WHO_ARE_YOU2, Some(q)) => {
                let st = if q.actuid != self.id {
                    NCA_S_BAD_ACTID.0
                } else if self.server_boot != 0 && q.boot_time != self.server_boot {
                    FaultStatus::NCA_S_YOU_CRASHED.0
                } else {
                    0
                };
                let r = WayResponse {
                    seq: self.seqnum,
                    cas_uuid: self.config.cas_uuid,
                    st,
                };
                let mut out = r.encode(h.drep);
                if h.opnum == conv::OP_WHO_ARE_YOU {
                    // conv_who_are_you: seq and st only.
                    out.drain(4..20);
                }
                rh.ptype = PacketType::RESPONSE;
                ClBody::Response(out)
            }
            (conv::OP_WHO_ARE_YOU | conv::OP_WHO_ARE_YOU2, None) => {
                rh.ptype = PacketType::REJECT;
                ClBody::Reject(FaultStatus::RPC_X_BAD_STUB_DATA)
            }
            _ => {
                rh.ptype = PacketType::REJECT;
                ClBody::Reject(FaultStatus::NCA_S_OP_RNG_ERROR)
            }
        };
        self.push(&ClPdu {
            header: rh,
            body,
            auth: Vec::new(),
        });
    }

    /// When [`ClActivity::handle_timeout`] next wants to run.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.call.as_ref().map(|c| c.timer.min(c.deadline))
    }

    /// Runs the call's timer: retransmits the unacknowledged request fragments, or pings, or
    /// facks what arrived of the response; fails the call after
    /// [`ClClientConfig::max_attempts`] silent rounds or at its deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        let max_attempts = self.config.max_attempts;
        let max_retransmit = self.config.max_retransmit;
        let Some(c) = self.call.as_mut() else { return };
        if now >= c.deadline {
            self.finish(Err(CallError::Timeout));
            return;
        }
        if now < c.timer {
            return;
        }
        c.silent = c.silent.saturating_add(1);
        if c.silent > max_attempts {
            self.finish(Err(CallError::Timeout));
            return;
        }
        c.backoff = c.backoff.saturating_mul(2).min(max_retransmit);
        c.timer = now + c.backoff;
        // C706 10.2: a late answer is asked for with a ping; the server's nocall (with the
        // fragments it holds) or fack says what to send again, its working that it runs.
        if c.receiver.bytes() > 0 {
            self.send_fack(0);
        } else if let Some(p) = self.control(PacketType::PING, ClBody::Ping) {
            self.push(&p);
        }
    }
}
