//! Connectionless DCE/RPC (`ncadg_ip_udp`, C706 chapters 10 and 12.5, MS-RPCE 2.2.3): each
//! datagram is decoded by `msrpc_proto::cl::pdu` (the codec the runtime's server and client
//! use), counted by packet type and interface, and fed to a [`ClTracker`], which follows
//! activities and makes `call` events of their calls as the connection-oriented tracker does.
//!
//! An activity is its UUID and the address of the side that sends its requests (the caller:
//! the client, or the server when it calls the client back); the callee may answer from
//! another port or address (some stacks do), so answers are matched on the activity and the
//! address they go to. Request and response fragments are reassembled per activity and
//! sequence number (duplicates and retransmissions counted once, in any order), under
//! [`Limits`]. A call ends with its last response fragment, a fault or a reject; one left
//! unanswered (a new sequence number on the activity, the activity idle for
//! [`Limits::idle_timeout`], evicted, or the capture's end) ends with the fault
//! `no_response` (a `maybe` call, which is never answered, without one).
//!
//! The `call` event carries `transport = "ncadg_ip_udp"`, the sequence number as `call_id`,
//! the activity's own uid, and the caller as `id.orig_h`/`id.orig_p`. Stubs are NDR20 (the only
//! transfer syntax of connectionless RPC): the endpoint mapper's calls become `epm_lookup` /
//! `epm_map` events (`msrpc_audit::epm`, as over TCP) and teach the ports their towers name,
//! DCOM calls go through `msrpc_audit::dcom`, arguments through `msrpc_audit::args`. The
//! conversation manager's callback (`conv_who_are_you2` and its siblings, interface
//! [`msrpc_proto::cl::conv::CONV`]), by which a server asks a client to prove an activity, is a
//! call from the server to the client: its event names the interface `conv` and carries the
//! activity asked about and the server's boot time as `args` (`actuid`, `boot_time`); a client
//! that never answers it (a spoofed source) leaves a `no_response` callback.
//!
//! Authentication verifiers are not checked; an authenticated call's stub is taken as it is.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use msrpc_audit::{CallArg, ConnId, Event, EventKind, CL_TRANSPORT};
use msrpc_ndr::{DataRep, TransferSyntax, Uuid};
use msrpc_proto::cl::conv::{self, WayRequest};
use msrpc_proto::cl::pdu::{ClBody, ClFlags1, ClHeader, ClPdu};
use msrpc_proto::pdu::FaultStatus;

use crate::epm::{self, Learned};
use crate::names;

pub use msrpc_proto::cl::pdu::CL_HEADER_LEN;

type Endpoint = (IpAddr, u16);

/// The `fault` of a connectionless call that got no answer.
pub use msrpc_audit::CL_NO_RESPONSE as NO_RESPONSE;

/// Bounds of the connectionless tracker. Kept stubs are those the audit reads (endpoint
/// mapper, DCOM, decoded arguments, the conversation callback); other calls' fragments are
/// counted, not held.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Activities tracked at once (the least recently active sixteenth is ended beyond).
    pub max_activities: usize,
    /// Fragments counted per call and direction (further ones are ignored).
    pub max_fragments: usize,
    /// Stub bytes one call may hold (both directions); beyond it the call's stubs are dropped
    /// and it is reported without decoded contents.
    pub max_call_bytes: usize,
    /// Stub bytes all activities together may hold; beyond it new fragments are not kept.
    pub max_held_bytes: usize,
    /// Seconds of capture time after which an activity without datagrams ends (its open call
    /// unanswered).
    pub idle_timeout: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_activities: 65_536,
            max_fragments: 4096,
            max_call_bytes: 4 * 1024 * 1024,
            max_held_bytes: 64 * 1024 * 1024,
            idle_timeout: 120.0,
        }
    }
}

/// Decodes a datagram's connectionless header when it is one: version 4, a connectionless
/// packet type (0-10), a known integer representation and a body length that fits the
/// datagram. `strict` (datagrams off the known ports) also requires the body to end the
/// datagram exactly (or be followed by a verifier).
pub fn header(b: &[u8], strict: bool) -> Option<ClHeader> {
    let h = ClHeader::decode(b).ok()?;
    if h.ptype.0 > 10 || h.drep.0.first().is_none_or(|d| d & 0xef != 0) {
        return None;
    }
    let end = CL_HEADER_LEN.checked_add(usize::from(h.len))?;
    if end > b.len() || (strict && end != b.len() && h.auth_proto.0 == 0) {
        return None;
    }
    Some(h)
}

/// The connectionless packet type's name.
pub fn ptype_name(p: u8) -> &'static str {
    match p {
        0 => "request",
        1 => "ping",
        2 => "response",
        3 => "fault",
        4 => "working",
        5 => "nocall",
        6 => "reject",
        7 => "ack",
        8 => "cl_cancel",
        9 => "fack",
        10 => "cancel_ack",
        _ => "unknown",
    }
}

/// Fragments of one direction of a call: numbers seen, the last one's number, the bytes
/// (kept only for calls the audit reads).
#[derive(Debug, Default)]
struct Frags {
    parts: BTreeMap<u16, Vec<u8>>,
    last: Option<u16>,
    /// Body bytes of distinct fragments (kept or not).
    wire: u64,
}

impl Frags {
    /// Adds a fragment; the bytes newly kept, or `None` when it was a duplicate, beyond the
    /// last or over the fragment limit.
    fn add(&mut self, n: u16, last: bool, body: &[u8], keep: bool, max: usize) -> Option<usize> {
        if self.parts.contains_key(&n)
            || self.last.is_some_and(|l| n > l)
            || self.parts.len() >= max
        {
            return None;
        }
        if last {
            self.last = Some(n);
        }
        let kept = if keep { body.to_vec() } else { Vec::new() };
        let k = kept.len();
        self.parts.insert(n, kept);
        self.wire = self.wire.saturating_add(body.len() as u64);
        Some(k)
    }

    fn complete(&self) -> bool {
        self.last
            .is_some_and(|l| self.parts.len() == usize::from(l) + 1)
    }

    fn held(&self) -> usize {
        self.parts.values().map(Vec::len).sum()
    }

    fn stub(&self) -> Vec<u8> {
        self.parts.values().flatten().copied().collect()
    }
}

#[derive(Debug)]
struct Call {
    seqnum: u32,
    interface: Uuid,
    opnum: u16,
    req_drep: DataRep,
    resp_drep: DataRep,
    maybe: bool,
    keep: bool,
    last_req_ts: f64,
    first_resp_ts: Option<f64>,
    req: Frags,
    resp: Frags,
}

impl Call {
    fn held(&self) -> usize {
        self.req.held() + self.resp.held()
    }
}

#[derive(Debug)]
struct Activity {
    uid: String,
    caller: Endpoint,
    callee: Endpoint,
    last_ts: f64,
    call: Option<Call>,
    /// Sequence numbers below this one are over (their retransmissions are ignored).
    done_below: u32,
}

/// What the tracker hands back for one datagram.
#[derive(Debug, Default)]
pub struct ClOutput {
    /// Events, in order.
    pub events: Vec<Event>,
    /// Endpoints the endpoint mapper's answers named, with the answering server's address
    /// (for towers that name none).
    pub learned: Vec<(Learned, Option<IpAddr>)>,
    /// Activities started.
    pub activities: u64,
}

/// The connectionless activity tracker (see the module docs).
#[derive(Debug, Default)]
pub struct ClTracker {
    limits: Limits,
    acts: HashMap<(Uuid, Endpoint), Activity>,
    held: usize,
}

/// Whether the audit reads the stubs of calls on `interface`/`opnum`.
fn keeps(interface: &Uuid, opnum: u16) -> bool {
    interface.as_u128() == epm::EPM_UUID
        || *interface == conv::CONV.uuid
        || msrpc_audit::dcom::interprets(interface)
        || msrpc_audit::args::reads_op(interface, opnum)
}

fn conv_operation(opnum: u16) -> Option<&'static str> {
    match opnum {
        conv::OP_WHO_ARE_YOU => Some("conv_who_are_you"),
        conv::OP_WHO_ARE_YOU2 => Some("conv_who_are_you2"),
        conv::OP_ARE_YOU_THERE => Some("conv_are_you_there"),
        3 => Some("conv_who_are_you_auth"),
        4 => Some("conv_who_are_you_auth_more"),
        _ => None,
    }
}

impl ClTracker {
    /// A tracker under `limits`.
    pub fn new(limits: Limits) -> Self {
        ClTracker {
            limits,
            acts: HashMap::new(),
            held: 0,
        }
    }

    /// Activities tracked.
    pub fn activities(&self) -> usize {
        self.acts.len()
    }

    /// Stub bytes held.
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    /// One datagram from `src` to `dst` at `ts`, already known to carry a connectionless
    /// header; `new_uid` names a new activity.
    pub fn datagram(
        &mut self,
        ts: f64,
        src: Endpoint,
        dst: Endpoint,
        data: &[u8],
        new_uid: &mut dyn FnMut() -> String,
        out: &mut ClOutput,
    ) {
        let Ok(pdu) = ClPdu::decode(data) else {
            return;
        };
        let h = pdu.header;
        match pdu.body {
            ClBody::Request(body) => self.request(ts, src, dst, &h, &body, new_uid, out),
            ClBody::Response(body) => self.response(ts, dst, &h, Some(&body), None, out),
            ClBody::Fault(s) | ClBody::Reject(s) => self.response(ts, dst, &h, None, Some(s), out),
            ClBody::Ping | ClBody::Ack | ClBody::Cancel(_) => self.touch(ts, (h.activity, src)),
            ClBody::Working | ClBody::Nocall(_) | ClBody::CancelAck(_) => {
                self.touch(ts, (h.activity, dst))
            }
            ClBody::Fack(_) => {
                // Either side facks the other's fragments.
                self.touch(ts, (h.activity, src));
                self.touch(ts, (h.activity, dst));
            }
            ClBody::Other(_) => {}
        }
    }

    fn touch(&mut self, ts: f64, key: (Uuid, Endpoint)) {
        if let Some(a) = self.acts.get_mut(&key) {
            a.last_ts = a.last_ts.max(ts);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn request(
        &mut self,
        ts: f64,
        src: Endpoint,
        dst: Endpoint,
        h: &ClHeader,
        body: &[u8],
        new_uid: &mut dyn FnMut() -> String,
        out: &mut ClOutput,
    ) {
        let key = (h.activity, src);
        if !self.acts.contains_key(&key) {
            if self.acts.len() >= self.limits.max_activities {
                self.evict(out);
            }
            out.activities += 1;
            self.acts.insert(
                key,
                Activity {
                    uid: new_uid(),
                    caller: src,
                    callee: dst,
                    last_ts: ts,
                    call: None,
                    done_below: 0,
                },
            );
        }
        let Some(a) = self.acts.get_mut(&key) else {
            return;
        };
        a.last_ts = a.last_ts.max(ts);
        if h.seqnum < a.done_below {
            return; // a finished call's retransmission
        }
        let current = a.call.as_ref().map(|c| c.seqnum);
        match current {
            Some(s) if h.seqnum < s => return,
            Some(s) if h.seqnum > s => {
                // The caller moved on: the open call was never answered.
                if let Some(c) = a.call.take() {
                    self.held = self.held.saturating_sub(c.held());
                    let (uid, caller, callee) = (a.uid.clone(), a.caller, a.callee);
                    Self::finish(&uid, caller, callee, c, None, true, out);
                }
            }
            _ => {}
        }
        let Some(a) = self.acts.get_mut(&key) else {
            return;
        };
        let call = a.call.get_or_insert_with(|| Call {
            seqnum: h.seqnum,
            interface: h.interface,
            opnum: h.opnum,
            req_drep: h.drep,
            resp_drep: h.drep,
            maybe: h.flags1.contains(ClFlags1::MAYBE),
            keep: keeps(&h.interface, h.opnum),
            last_req_ts: ts,
            first_resp_ts: None,
            req: Frags::default(),
            resp: Frags::default(),
        });
        let last = !h.flags1.contains(ClFlags1::FRAG) || h.flags1.contains(ClFlags1::LASTFRAG);
        let keep = call.keep
            && call.held().saturating_add(body.len()) <= self.limits.max_call_bytes
            && self.held.saturating_add(body.len()) <= self.limits.max_held_bytes;
        if let Some(k) = call
            .req
            .add(h.fragnum, last, body, keep, self.limits.max_fragments)
        {
            call.last_req_ts = call.last_req_ts.max(ts);
            self.held = self.held.saturating_add(k);
            if call.keep && !keep {
                // Over a limit: this call's stubs are no longer complete.
                call.keep = false;
                self.held = self.held.saturating_sub(call.held());
                for p in call
                    .req
                    .parts
                    .values_mut()
                    .chain(call.resp.parts.values_mut())
                {
                    *p = Vec::new();
                }
            }
        }
    }

    fn response(
        &mut self,
        ts: f64,
        dst: Endpoint,
        h: &ClHeader,
        body: Option<&[u8]>,
        fault: Option<FaultStatus>,
        out: &mut ClOutput,
    ) {
        let key = (h.activity, dst);
        let Some(a) = self.acts.get_mut(&key) else {
            return;
        };
        a.last_ts = a.last_ts.max(ts);
        let Some(call) = a.call.as_mut().filter(|c| c.seqnum == h.seqnum) else {
            return;
        };
        call.first_resp_ts.get_or_insert(ts);
        call.resp_drep = h.drep;
        if let Some(body) = body {
            let last = !h.flags1.contains(ClFlags1::FRAG) || h.flags1.contains(ClFlags1::LASTFRAG);
            let keep = call.keep
                && call.held().saturating_add(body.len()) <= self.limits.max_call_bytes
                && self.held.saturating_add(body.len()) <= self.limits.max_held_bytes;
            if let Some(k) = call
                .resp
                .add(h.fragnum, last, body, keep, self.limits.max_fragments)
            {
                self.held = self.held.saturating_add(k);
                if call.keep && !keep {
                    call.keep = false;
                    self.held = self.held.saturating_sub(call.held());
                    for p in call
                        .req
                        .parts
                        .values_mut()
                        .chain(call.resp.parts.values_mut())
                    {
                        *p = Vec::new();
                    }
                }
            }
            if !call.resp.complete() {
                return;
            }
        }
        let Some(c) = a.call.take() else {
            return;
        };
        a.done_below = c.seqnum.saturating_add(1);
        self.held = self.held.saturating_sub(c.held());
        let (uid, caller, callee) = (a.uid.clone(), a.caller, a.callee);
        Self::finish(&uid, caller, callee, c, fault, false, out);
    }

    /// Makes the events of a call that ended.
    fn finish(
        uid: &str,
        caller: Endpoint,
        callee: Endpoint,
        c: Call,
        fault: Option<FaultStatus>,
        unanswered: bool,
        out: &mut ClOutput,
    ) {
        let conn = ConnId {
            uid: uid.to_string(),
            orig_h: Some(caller.0),
            orig_p: Some(caller.1),
            resp_h: Some(callee.0),
            resp_p: Some(callee.1),
        };
        let ts = c.first_resp_ts.unwrap_or(c.last_req_ts);
        let u = c.interface;
        let is_conv = u == conv::CONV.uuid;
        let req = (c.keep && c.req.complete()).then(|| c.req.stub());
        let resp = (c.keep && c.resp.complete() && fault.is_none()).then(|| c.resp.stub());
        let mut args = match &req {
            Some(r) if msrpc_audit::args::reads_op(&u, c.opnum) => {
                msrpc_audit::args::extract(&u, c.opnum, r, c.req_drep, TransferSyntax::Ndr20)
            }
            _ => Vec::new(),
        };
        if is_conv {
            if let Some(w) = req
                .as_deref()
                .and_then(|r| WayRequest::decode(r, c.req_drep))
            {
                args.push(CallArg {
                    name: "actuid".into(),
                    value: w.actuid.to_string(),
                });
                args.push(CallArg {
                    name: "boot_time".into(),
                    value: w.boot_time.to_string(),
                });
            }
        }
        let fault_name = match fault {
            Some(s) => Some(names::fault(s)),
            None if unanswered && !c.maybe => Some(NO_RESPONSE.to_string()),
            None => None,
        };
        out.events.push(Event {
            ts,
            conn: conn.clone(),
            kind: EventKind::Call {
                call_id: c.seqnum,
                interface: Some(u.to_string()),
                endpoint: if is_conv {
                    Some("conv".to_string())
                } else {
                    names::interface(&u).map(str::to_string)
                },
                opnum: c.opnum,
                operation: if is_conv {
                    conv_operation(c.opnum).map(str::to_string)
                } else {
                    names::operation(&u, c.opnum).map(str::to_string)
                },
                stub_in: c.req.wire,
                stub_out: if fault_name.is_some() { 0 } else { c.resp.wire },
                fragments: u32::try_from(c.req.parts.len()).unwrap_or(u32::MAX),
                rtt: c.first_resp_ts.map(|t| (t - c.last_req_ts).max(0.0)),
                fault: fault_name,
                args,
                auth_level: None,
                user: None,
                named_pipe: None,
                transport: Some(CL_TRANSPORT.to_string()),
            },
        });
        let Some(req) = req else {
            return;
        };
        if let (true, Some(resp)) = (u.as_u128() == epm::EPM_UUID, &resp) {
            if let Some((kind, learned)) = epm::interpret(
                &req,
                c.req_drep,
                resp,
                c.resp_drep,
                TransferSyntax::Ndr20,
                c.opnum,
                c.seqnum,
            ) {
                out.events.push(Event {
                    ts,
                    conn: conn.clone(),
                    kind,
                });
                out.learned
                    .extend(learned.into_iter().map(|l| (l, Some(callee.0))));
            }
        }
        if msrpc_audit::dcom::interprets(&u) {
            let facts = msrpc_audit::dcom::CallFacts {
                call_id: c.seqnum,
                auth_level: None,
                user: None,
            };
            let r = resp.as_deref().map(|r| (r, c.resp_drep));
            if let Some(kind) = msrpc_audit::dcom::interpret_call(
                &u,
                c.opnum,
                &req,
                c.req_drep,
                TransferSyntax::Ndr20,
                r,
                &facts,
            ) {
                out.events.push(Event { ts, conn, kind });
            }
        }
    }

    fn end(&mut self, key: (Uuid, Endpoint), out: &mut ClOutput) {
        let Some(mut a) = self.acts.remove(&key) else {
            return;
        };
        if let Some(c) = a.call.take() {
            self.held = self.held.saturating_sub(c.held());
            Self::finish(&a.uid, a.caller, a.callee, c, None, true, out);
        }
    }

    /// Ends the activities idle for [`Limits::idle_timeout`] at `now`.
    pub fn sweep(&mut self, now: f64, out: &mut ClOutput) {
        let mut idle: Vec<_> = self
            .acts
            .iter()
            .filter(|(_, a)| now - a.last_ts > self.limits.idle_timeout)
            .map(|(k, a)| (a.last_ts, a.uid.clone(), *k))
            .collect();
        idle.sort_by(|x, y| x.0.total_cmp(&y.0).then_with(|| x.1.cmp(&y.1)));
        for (_, _, k) in idle {
            self.end(k, out);
        }
    }

    /// Ends every activity (the capture's end), oldest first.
    pub fn finish_all(&mut self, out: &mut ClOutput) {
        self.sweep(f64::INFINITY, out);
    }

    /// Ends the least recently active sixteenth of the activities.
    fn evict(&mut self, out: &mut ClOutput) {
        let mut all: Vec<_> = self
            .acts
            .iter()
            .map(|(k, a)| (a.last_ts, a.uid.clone(), *k))
            .collect();
        all.sort_by(|x, y| x.0.total_cmp(&y.0).then_with(|| x.1.cmp(&y.1)));
        let n = (all.len() / 16).max(1);
        for (_, _, k) in all.into_iter().take(n) {
            self.end(k, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_request_header() {
        let mut b = vec![0u8; 84];
        b[0] = 4;
        b[1] = 0;
        b[4] = 0x10;
        let u = Uuid::parse_str("e1af8308-5d1f-11c9-91a4-08002b14a0fa").unwrap_or_default();
        let mut le = *u.as_bytes();
        le[..4].reverse();
        le[4..6].reverse();
        le[6..8].reverse();
        b[24..40].copy_from_slice(&le);
        b[60..64].copy_from_slice(&3u32.to_le_bytes());
        b[68..70].copy_from_slice(&2u16.to_le_bytes());
        b[74..76].copy_from_slice(&4u16.to_le_bytes());
        let h = header(&b, true).unwrap_or_else(|| panic!("no header"));
        assert_eq!(h.interface, u);
        assert_eq!((h.opnum, h.if_major(), h.len), (2, 3, 4));
        b[74] = 5; // body longer than the datagram
        assert!(header(&b, false).is_none());
        b[74] = 3; // a byte after the body: only the lenient check takes it
        assert!(header(&b, false).is_some());
        assert!(header(&b, true).is_none());
        for n in 0..84 {
            let _ = header(&b[..n], false);
        }
    }
}
