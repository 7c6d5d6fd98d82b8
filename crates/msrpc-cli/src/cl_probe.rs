//! The connectionless part of `msrpc audit`: one read-only exchange with the endpoint mapper
//! over UDP (`ncadg_ip_udp`), on the endpoint mapper's port.
//!
//! The probe sends `ept_lookup` (all elements, `max_ents` 1; idempotent, as C706 declares it)
//! and, when the answer leaves a lookup handle open, `ept_lookup_handle_free`: exactly the
//! calls of [`UDP_PROBE_CALLS`], which the TCP walk makes too. It drives the sans-IO client
//! activity (`msrpc_proto::cl::client::ClActivity`, the one `msrpc_rt::UdpClient` drives)
//! over a socket of its own so that it can count every byte each way and see a
//! `conv_who_are_you2` callback: a server that calls back before answering more than it was
//! sent verifies its sources (msrpc's anti-reflection rule, docs/connectionless.md); one that
//! answers at once gives an unverified source — anyone who forges the address — that
//! many bytes for its few. Each call is bounded by `--timeout`, retransmissions included (the
//! activity's own timers); nothing else is retried.
//!
//! msrpcd's audit log has no record of connectionless calls, so what the probe sent is taken
//! from its own datagrams: each request datagram's interface and opnum, decoded from the bytes
//! sent ([`ClProbe::sent_calls`]), which the report carries and the tests check against the
//! read-only list.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use msrpc_epm::status::{EPT_S_NOT_REGISTERED, RPC_S_OK};
use msrpc_epm::{
    EptClient, EptInterface, EptLookupHandleFreeRequest, EptLookupRequest, RPC_C_EP_ALL_ELTS,
    RPC_C_VERS_ALL,
};
use msrpc_ndr::{ContextHandle, DataRep, Unique, Uuid};
use msrpc_proto::cl::client::{ClActivity, ClClientConfig, ClRequest};
use msrpc_proto::cl::conv;
use msrpc_proto::cl::pdu::ClHeader;
use msrpc_proto::dispatch::{BoxFuture, CallError, Interface, Invoke, ResponseStub};
use msrpc_proto::pdu::{PacketType, SyntaxId};
use tokio::net::UdpSocket;
use tokio::time::Instant;

use crate::fail::{describe_call_error, status_text};

/// Every call the UDP probe can send, as (interface, opnum): the endpoint mapper's
/// `ept_lookup` (2) and `ept_lookup_handle_free` (4). Both read-only.
pub const UDP_PROBE_CALLS: [(SyntaxId, u16); 2] =
    [(EptInterface::SYNTAX, 2), (EptInterface::SYNTAX, 4)];

/// Largest datagram read.
const MAX_DATAGRAM: usize = 65_535;

/// What the UDP probe saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClProbe {
    /// Whether anything answered in connectionless RPC (a response, fault, reject or
    /// callback).
    pub answered: bool,
    /// Why nothing answered, or why the lookup failed.
    pub error: Option<String>,
    /// `ept_lookup`'s status, when it answered.
    pub status: Option<u32>,
    /// Entries `ept_lookup` returned (at most 1: `max_ents` 1).
    pub entries: Option<usize>,
    /// Whether the server called back (`conv_who_are_you2`) before answering.
    pub callback: bool,
    /// Bytes the probe sent (every datagram, retransmissions and the callback's answer
    /// included).
    pub bytes_sent: u64,
    /// Bytes the probe received.
    pub bytes_received: u64,
    /// Bytes sent before the server called back (all of them when it never did): what an
    /// unverified source spent.
    pub unverified_sent: u64,
    /// Bytes received before the server called back (the callback included): what the server
    /// gave an address it had not verified.
    pub unverified_received: u64,
    /// The calls the probe's request datagrams carried, `UUID vMAJOR.MINOR opnum N`, decoded
    /// from the bytes sent.
    pub sent_calls: Vec<String>,
}

impl ClProbe {
    /// Bytes received per byte sent before verification (`None` when nothing was sent).
    pub fn amplification(&self) -> Option<f64> {
        (self.unverified_sent > 0)
            .then(|| self.unverified_received as f64 / self.unverified_sent as f64)
    }

    /// One line for the report: what answered, the callback, the bytes.
    pub fn note(&self, port: u16) -> String {
        if !self.answered {
            return format!(
                "no connectionless answer on UDP {port}: {}",
                self.error.as_deref().unwrap_or("no answer")
            );
        }
        let what = match (self.status, self.entries) {
            (Some(s), Some(n)) if s == RPC_S_OK || s == EPT_S_NOT_REGISTERED => {
                format!("the endpoint mapper answered ept_lookup over UDP {port} ({n} entry(ies) with max_ents 1, status {})", status_text(s))
            }
            (Some(s), _) => format!(
                "the endpoint mapper answered ept_lookup over UDP {port} with status {}",
                status_text(s)
            ),
            (None, _) => format!(
                "connectionless RPC answered on UDP {port} ({})",
                self.error.as_deref().unwrap_or("no lookup result")
            ),
        };
        let verified = if self.callback {
            "it called back (conv_who_are_you2) before answering: it verifies sources"
        } else {
            "it answered without calling back (conv_who_are_you2): it does not verify sources"
        };
        let ratio = match self.amplification() {
            // msrpc's budget is per IP address over time: what this address sent earlier
            // (a previous audit) may already cover an answer.
            Some(r) if r > 1.0 && self.callback => format!(
                " (x{r:.2}: more than this probe sent, so bytes the address sent before were counted)"
            ),
            Some(r) => format!(" (x{r:.2})"),
            None => String::new(),
        };
        format!(
            "{what}; {verified}; before verification it sent {} bytes for our {}{ratio}; in all {} bytes out, {} back",
            self.unverified_received,
            self.unverified_sent,
            self.bytes_sent,
            self.bytes_received
        )
    }
}

/// Byte counts and what the datagrams showed.
#[derive(Debug, Default)]
struct Counters {
    probe: ClProbe,
    /// The server has called back: later bytes are between verified peers.
    verified: bool,
    /// ICMP port unreachable seen.
    refused: bool,
}

/// One activity on one socket, counting (an [`Invoke`] for the generated EPM client).
struct ProbeConn {
    sock: UdpSocket,
    server: SocketAddr,
    act: tokio::sync::Mutex<ClActivity>,
    counters: Mutex<Counters>,
    timeout: Duration,
}

impl ProbeConn {
    fn sent(&self, datagram: &[u8]) {
        let Ok(mut c) = self.counters.lock() else {
            return;
        };
        let n = datagram.len() as u64;
        c.probe.bytes_sent += n;
        if !c.verified {
            c.probe.unverified_sent += n;
        }
        if let Ok(h) = ClHeader::decode(datagram) {
            if h.ptype == PacketType::REQUEST {
                let call = format!(
                    "{} v{}.{} opnum {}",
                    h.interface,
                    h.if_major(),
                    h.if_minor(),
                    h.opnum
                );
                if !c.probe.sent_calls.contains(&call) {
                    c.probe.sent_calls.push(call);
                }
            }
        }
    }

    fn received(&self, datagram: &[u8]) {
        let Ok(mut c) = self.counters.lock() else {
            return;
        };
        let n = datagram.len() as u64;
        c.probe.bytes_received += n;
        if !c.verified {
            c.probe.unverified_received += n;
        }
        if let Ok(h) = ClHeader::decode(datagram) {
            c.probe.answered = true;
            if h.ptype == PacketType::REQUEST && h.interface == conv::CONV.uuid {
                c.probe.callback = true;
                c.verified = true;
            }
        }
    }

    fn refused(&self) {
        if let Ok(mut c) = self.counters.lock() {
            c.refused = true;
        }
    }

    async fn send(&self, datagram: &[u8]) -> io::Result<()> {
        self.sent(datagram);
        self.sock.send(datagram).await.map(|_| ())
    }

    async fn call(
        &self,
        syntax: SyntaxId,
        opnum: u16,
        object: Option<Uuid>,
        stub: Vec<u8>,
    ) -> Result<ResponseStub, CallError> {
        // The read-only list is enforced here, not only documented.
        if !is_probe_call(&syntax, opnum) {
            return Err(CallError::Protocol(format!(
                "{} opnum {opnum} is not one of the UDP probe's read-only calls",
                syntax.uuid
            )));
        }
        let mut act = self.act.lock().await;
        let start = Instant::now();
        let deadline = start + self.timeout;
        act.start_call(
            start.into_std(),
            ClRequest {
                interface: syntax,
                opnum,
                object,
                stub,
                idempotent: msrpc_rt::default_idempotent(&syntax, opnum),
                maybe: false,
                deadline: deadline.into_std(),
            },
        )?;
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            while let Some(d) = act.poll_transmit() {
                if let Err(e) = self.send(&d).await {
                    if e.kind() == io::ErrorKind::ConnectionRefused {
                        self.refused();
                        return Err(refused(self.server, &e));
                    }
                }
            }
            if let Some(o) = act.poll_outcome() {
                // The final ack.
                while let Some(d) = act.poll_transmit() {
                    let _ = self.send(&d).await;
                }
                return o;
            }
            // The activity's timers end the call by the deadline; the sleep is bounded by
            // it too, whatever they say.
            let wake = act
                .next_timeout()
                .map(Instant::from_std)
                .map_or(deadline, |t| t.min(deadline));
            tokio::select! {
                r = self.sock.recv(&mut buf) => match r {
                    Ok(n) => {
                        let d = buf.get(..n).unwrap_or_default();
                        self.received(d);
                        act.handle_datagram(Instant::now().into_std(), d);
                    }
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                        self.refused();
                        return Err(refused(self.server, &e));
                    }
                    Err(_) => {}
                },
                _ = tokio::time::sleep_until(wake) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(CallError::Timeout);
                    }
                    act.handle_timeout(now.into_std());
                }
            }
        }
    }
}

fn refused(server: SocketAddr, e: &io::Error) -> CallError {
    CallError::Transport(format!(
        "nothing listens on UDP {server} (ICMP port unreachable: {e})"
    ))
}

/// The generated client takes its invoker by value.
#[derive(Clone)]
struct Probe(Arc<ProbeConn>);

impl Invoke for Probe {
    fn invoke<'a>(
        &'a self,
        syntax: SyntaxId,
        opnum: u16,
        object: Option<Uuid>,
        stub: Vec<u8>,
        _drep: DataRep,
    ) -> BoxFuture<'a, Result<ResponseStub, CallError>> {
        Box::pin(self.0.call(syntax, opnum, object, stub))
    }

    fn drep(&self) -> DataRep {
        DataRep::LITTLE_ENDIAN
    }
}

/// Probes the endpoint mapper over UDP at `host`:`port`, each call bounded by `timeout`.
pub async fn probe(host: &str, port: u16, timeout: Duration) -> ClProbe {
    let server = match tokio::time::timeout(timeout, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(mut a)) => match a.next() {
            Some(s) => s,
            None => return failed(format!("{host}: no address")),
        },
        Ok(Err(e)) => return failed(format!("cannot resolve {host}: {e}")),
        Err(_) => return failed(format!("resolving {host} timed out")),
    };
    let any: SocketAddr = if server.is_ipv6() {
        SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, 0))
    };
    let sock = match UdpSocket::bind(any).await {
        Ok(s) => s,
        Err(e) => return failed(format!("cannot open a UDP socket: {e}")),
    };
    if let Err(e) = sock.connect(server).await {
        return failed(format!("cannot reach {server} over UDP: {e}"));
    }
    let config = ClClientConfig {
        cas_uuid: Uuid::new_v4(),
        // An answer to max_ents 1 is small; a server sending more is not read further.
        max_response_bytes: 64 * 1024,
        max_response_fragments: 64,
        ..ClClientConfig::default()
    };
    let conn = Arc::new(ProbeConn {
        sock,
        server,
        act: tokio::sync::Mutex::new(ClActivity::new(Uuid::new_v4(), config)),
        counters: Mutex::new(Counters::default()),
        timeout,
    });
    let ept = EptClient::new(Probe(Arc::clone(&conn)));
    let lookup = ept
        .ept_lookup(EptLookupRequest {
            inquiry_type: RPC_C_EP_ALL_ELTS,
            object: Unique::null(),
            interface_id: Unique::null(),
            vers_option: RPC_C_VERS_ALL,
            entry_handle: ContextHandle::NULL,
            max_ents: 1,
        })
        .await;
    let mut error = None;
    let mut result = None;
    match lookup {
        Ok(resp) => {
            result = Some((resp.status, resp.entries.len()));
            if !resp.entry_handle.is_null() {
                let _ = ept
                    .ept_lookup_handle_free(EptLookupHandleFreeRequest {
                        entry_handle: resp.entry_handle,
                    })
                    .await;
            }
        }
        Err(e) => error = Some(describe_call_error(&e)),
    }
    drop(ept);
    let Ok(c) = conn.counters.lock() else {
        return failed("the probe's counters were lost".into());
    };
    let mut p = c.probe.clone();
    if let Some((status, n)) = result {
        p.status = Some(status);
        p.entries = Some(n);
    }
    p.error = match error {
        Some(_) if c.refused && !p.answered => Some(format!(
            "nothing listens there (ICMP port unreachable from {server})"
        )),
        Some(e) if !p.answered => Some(format!("{e} within --timeout")),
        e => e,
    };
    p
}

fn failed(error: String) -> ClProbe {
    ClProbe {
        error: Some(error),
        ..ClProbe::default()
    }
}

/// Whether `(syntax, opnum)` is one of [`UDP_PROBE_CALLS`].
pub fn is_probe_call(syntax: &SyntaxId, opnum: u16) -> bool {
    UDP_PROBE_CALLS
        .iter()
        .any(|(s, o)| s.uuid == syntax.uuid && s.major == syntax.major && *o == opnum)
}

/// `ept_lookup` and `ept_lookup_handle_free` are operations 2 and 4 of the endpoint mapper.
const _: () = assert!(<EptInterface as Interface>::OPERATIONS.len() > 4);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn probe_calls_are_the_read_only_lookups() {
        let ops = <EptInterface as Interface>::OPERATIONS;
        let names: Vec<&str> = UDP_PROBE_CALLS
            .iter()
            .map(|(_, o)| ops[usize::from(*o)].unwrap())
            .collect();
        assert_eq!(names, ["ept_lookup", "ept_lookup_handle_free"]);
        assert!(is_probe_call(&EptInterface::SYNTAX, 2));
        assert!(!is_probe_call(&EptInterface::SYNTAX, 0), "ept_insert");
        assert!(!is_probe_call(&EptInterface::SYNTAX, 1), "ept_delete");
    }

    #[test]
    fn notes_say_what_answered_and_what_it_cost() {
        let verified = ClProbe {
            answered: true,
            status: Some(RPC_S_OK),
            entries: Some(1),
            callback: true,
            bytes_sent: 400,
            bytes_received: 420,
            unverified_sent: 124,
            unverified_received: 100,
            ..ClProbe::default()
        };
        let n = verified.note(135);
        assert!(n.contains("ept_lookup over UDP 135"), "{n}");
        assert!(n.contains("1 entry"), "{n}");
        assert!(n.contains("verifies sources"), "{n}");
        assert!(n.contains("100 bytes for our 124 (x0.81)"), "{n}");
        let open = ClProbe {
            callback: false,
            unverified_sent: 124,
            unverified_received: 310,
            ..verified.clone()
        };
        let n = open.note(135);
        assert!(n.contains("does not verify sources"), "{n}");
        assert!(n.contains("(x2.50)"), "{n}");
        let silent =
            failed("nothing listens there (ICMP port unreachable from 10.0.0.1:135)".into());
        let n = silent.note(135);
        assert!(n.starts_with("no connectionless answer on UDP 135"), "{n}");
        assert_eq!(silent.amplification(), None);
    }
}
