//! Connectionless DCE/RPC over UDP (`ncadg_ip_udp`): the server's datagram endpoints and the
//! [`UdpClient`]. The protocol (activities, at-most-once, the WAY callback, fragments, the
//! anti-reflection budget) is the sans-IO `msrpc_proto::cl`; this module moves datagrams,
//! keeps time and runs the calls with the same hosted services as TCP (NDR20 only: CL has no
//! presentation-context negotiation).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use msrpc_ndr::{DataRep, DecodeLimits, Uuid};
use msrpc_policy::CallerInfo;
use msrpc_proto::cl::client::{ClActivity, ClClientConfig, ClRequest};
use msrpc_proto::cl::server::{ClCallId, ClOutcome, ClServer, ClServerConfig, ClServerEvent};
use msrpc_proto::dispatch::{
    BoxFuture, CallContext, CallError, DispatchError, Invoke, ResponseStub,
};
use msrpc_proto::pdu::{FaultStatus, SyntaxId};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::server::{ConnEvent, RunState, Shared};

/// Largest datagram read.
const MAX_DATAGRAM: usize = 65_535;

/// Binds a UDP socket (`SO_REUSEADDR`; `IPV6_V6ONLY` for IPv6).
pub(crate) fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

fn outcome_of(r: Result<Vec<u8>, DispatchError>) -> ClOutcome {
    match r {
        Ok(stub) => ClOutcome::Response(stub),
        // C706 12.5.3.x: an opnum out of range and an unknown interface are rejects.
        Err(DispatchError::OpnumOutOfRange(_)) => {
            ClOutcome::Reject(FaultStatus::NCA_S_OP_RNG_ERROR)
        }
        Err(e) => ClOutcome::Fault(e.status()),
    }
}

/// Serves one UDP endpoint until the server stops.
pub(crate) async fn serve(socket: UdpSocket, shared: Arc<Shared>, config: ClServerConfig) {
    let local = socket.local_addr().ok();
    let mut core = ClServer::new(config, shared.interfaces());
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(ClCallId, ClOutcome)>();
    let mut tasks: HashMap<ClCallId, tokio::task::AbortHandle> = HashMap::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut state = shared.state.subscribe();
    loop {
        // Until quiet: a call answered inline queues datagrams and events of its own.
        loop {
            while let Some(t) = core.poll_transmit() {
                if let Err(e) = socket.send_to(&t.bytes, t.peer).await {
                    tracing::debug!(peer = %t.peer, error = %e, "udp send failed");
                }
            }
            let Some(ev) = core.poll_event() else { break };
            match &ev {
                ClServerEvent::Call(call) => {
                    let call = call.clone();
                    let id = call.id;
                    if let Some(status) = policy_refusal(&shared, &call) {
                        core.complete(Instant::now().into_std(), id, ClOutcome::Reject(status));
                        continue;
                    }
                    let syntax = shared
                        .lookup_interface(&call.interface)
                        .unwrap_or(call.interface);
                    let Some(service) = shared.service(&syntax) else {
                        core.complete(
                            Instant::now().into_std(),
                            id,
                            ClOutcome::Reject(FaultStatus::NCA_S_UNK_IF),
                        );
                        continue;
                    };
                    let ctx = CallContext {
                        call_id: call.seqnum,
                        context_id: 0,
                        opnum: call.opnum,
                        object: call.object,
                        conn_id: 0,
                        local_addr: local,
                        assoc_group_id: 0,
                        auth: None,
                        peer: Some(Arc::from(call.peer.to_string())),
                        local: false,
                    };
                    let limits = DecodeLimits {
                        max_alloc_bytes: shared.limits.max_stub.saturating_mul(4),
                        ..DecodeLimits::DEFAULT
                    };
                    // Polled once here (most calls finish without waiting, as on TCP); a
                    // call that waits becomes a task.
                    let mut fut = Box::pin(async move {
                        service.dispatch(ctx, call.stub, call.drep, limits).await
                    });
                    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                    match std::future::Future::poll(fut.as_mut(), &mut cx) {
                        std::task::Poll::Ready(r) => {
                            core.complete(Instant::now().into_std(), id, outcome_of(r));
                        }
                        std::task::Poll::Pending => {
                            let tx = done_tx.clone();
                            let task = tokio::spawn(async move {
                                let r = fut.await;
                                let _ = tx.send((id, outcome_of(r)));
                            });
                            tasks.insert(id, task.abort_handle());
                        }
                    }
                }
                ClServerEvent::Cancel(id) => {
                    // The call's task stops at its next await; the client gets a fault.
                    if let Some(t) = tasks.remove(id) {
                        t.abort();
                        core.complete(
                            Instant::now().into_std(),
                            *id,
                            ClOutcome::Fault(FaultStatus::NCA_S_FAULT_CANCEL),
                        );
                    }
                }
                ClServerEvent::Limit { peer, reason } => {
                    tracing::info!(%peer, reason, "udp limit");
                }
                _ => {}
            }
            shared.observe(&ConnEvent::Datagram { event: &ev });
        }
        let timeout = core.next_timeout().map(Instant::from_std);
        tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, peer)) => {
                    let data = buf.get(..n).unwrap_or_default();
                    core.handle_datagram(Instant::now().into_std(), peer, data);
                }
                Err(e) => tracing::debug!(error = %e, "udp receive failed"),
            },
            Some((id, outcome)) = done_rx.recv() => {
                tasks.remove(&id);
                core.complete(Instant::now().into_std(), id, outcome);
            }
            _ = async {
                match timeout {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            } => core.handle_timeout(Instant::now().into_std()),
            r = state.changed() => {
                if r.is_err() || !matches!(*state.borrow(), RunState::Running) {
                    for t in tasks.values() {
                        t.abort();
                    }
                    return;
                }
            }
        }
    }
}

fn policy_refusal(shared: &Shared, call: &msrpc_proto::cl::server::ClCall) -> Option<FaultStatus> {
    let policy = shared.policy.as_ref()?;
    let caller = CallerInfo {
        interface: call.interface,
        opnum: call.opnum,
        remote: Some(call.peer.ip().to_canonical()),
        local: false,
        auth: None,
    };
    let verdict = policy.check(&caller);
    verdict.refusal.map(|r| {
        tracing::info!(peer = %call.peer, interface = %call.interface.uuid, opnum = call.opnum,
            reason = r.reason.code(), "udp call refused by the security policy");
        r.status
    })
}

/// Options of a [`UdpClient`].
#[derive(Clone, Debug)]
pub struct UdpClientOptions {
    /// The sans-IO client's configuration (data representation, fragment size, timers).
    pub config: ClClientConfig,
    /// Deadline of one call.
    pub call_timeout: Duration,
    /// Which calls are sent idempotent (the server may run them again and need not call back
    /// first): by default the endpoint mapper's and mgmt's read-only operations, which C706
    /// declares `[idempotent]`.
    pub idempotent: fn(&SyntaxId, u16) -> bool,
}

/// The endpoint mapper's `ept_lookup` (2), `ept_map` (3), `ept_inq_object` (5) and mgmt's
/// inquiries (0, 1, 2, 4) are idempotent (C706 appendix O, `mgmt.idl`).
pub fn default_idempotent(s: &SyntaxId, opnum: u16) -> bool {
    const EPM: Uuid = Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa);
    const MGMT: Uuid = Uuid::from_u128(0xafa8bd80_7d8a_11c9_bef4_08002b102989);
    (s.uuid == EPM && matches!(opnum, 2 | 3 | 5))
        || (s.uuid == MGMT && matches!(opnum, 0 | 1 | 2 | 4))
}

impl Default for UdpClientOptions {
    fn default() -> Self {
        UdpClientOptions {
            config: ClClientConfig::default(),
            call_timeout: Duration::from_secs(30),
            idempotent: default_idempotent,
        }
    }
}

/// A connectionless client toward one server address: each call takes an idle activity (a UDP
/// socket of its own and a [`ClActivity`]) from a pool, or makes one. Generated clients call
/// it through [`Invoke`] (NDR20).
#[derive(Clone)]
pub struct UdpClient {
    server: SocketAddr,
    opts: UdpClientOptions,
    cas: Uuid,
    pool: Arc<Mutex<Vec<Idle>>>,
}

impl std::fmt::Debug for UdpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpClient")
            .field("server", &self.server)
            .finish()
    }
}

async fn resolve(host: &str, port: u16) -> Result<SocketAddr, crate::ConnectError> {
    let mut addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|source| crate::ConnectError::Resolve {
            host: host.to_string(),
            source,
        })?;
    addrs
        .next()
        .ok_or_else(|| crate::ConnectError::NoAddress(host.to_string()))
}

/// An idle activity and its socket.
type Idle = (ClActivity, Arc<UdpSocket>);

/// How many idle activities a client keeps.
const POOL_MAX: usize = 16;

impl UdpClient {
    /// A client of the server at `server` (no datagram is sent before the first call).
    pub fn new(server: SocketAddr, opts: UdpClientOptions) -> Self {
        UdpClient {
            server,
            opts,
            cas: Uuid::new_v4(),
            pool: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Asks the endpoint mapper at `host`:`epm_port` over UDP (`ept_map`, idempotent) where
    /// `interface` listens over `ncadg_ip_udp`, and returns a client of that port.
    pub async fn connect_via_epm(
        host: &str,
        epm_port: u16,
        interface: SyntaxId,
        opts: UdpClientOptions,
    ) -> Result<UdpClient, crate::ConnectError> {
        let addr = resolve(host, epm_port).await?;
        let epm = UdpClient::new(addr, opts.clone());
        let port = crate::epm::map_port(epm, interface, true).await?;
        tracing::debug!(host, port, %interface, "endpoint mapper answered over udp");
        Ok(UdpClient::new(SocketAddr::new(addr.ip(), port), opts))
    }

    /// A client for an `ncadg_ip_udp` binding with a port (its `bigendian` option sets the
    /// data representation).
    pub async fn connect(
        binding: &crate::Binding,
        mut opts: UdpClientOptions,
    ) -> Result<UdpClient, crate::ConnectError> {
        if binding.protseq != crate::binding::Protseq::IpUdp {
            return Err(crate::ConnectError::Protseq(binding.to_string()));
        }
        let port = binding
            .port
            .ok_or_else(|| crate::ConnectError::NoPort(binding.to_string()))?;
        if let Some(d) = binding.data_representation() {
            opts.config.drep = d;
        }
        Self::connect_host(&binding.host, port, opts).await
    }

    /// A client of `host`:`port` (the first address the name resolves to).
    pub async fn connect_host(
        host: &str,
        port: u16,
        opts: UdpClientOptions,
    ) -> Result<UdpClient, crate::ConnectError> {
        Ok(UdpClient::new(resolve(host, port).await?, opts))
    }

    /// The server's address.
    pub fn server_addr(&self) -> SocketAddr {
        self.server
    }

    async fn take(&self) -> io::Result<Idle> {
        if let Some(a) = self.pool.lock().ok().and_then(|mut p| p.pop()) {
            return Ok(a);
        }
        let any: SocketAddr = if self.server.is_ipv6() {
            "[::]:0".parse().map_err(io::Error::other)?
        } else {
            "0.0.0.0:0".parse().map_err(io::Error::other)?
        };
        let s = UdpSocket::bind(any).await?;
        s.connect(self.server).await?;
        let mut config = self.opts.config.clone();
        config.cas_uuid = self.cas;
        Ok((ClActivity::new(Uuid::new_v4(), config), Arc::new(s)))
    }

    /// Runs one call; `cancel_after` sends a cl_cancel once that much time has passed (for
    /// tests of cancellation).
    pub async fn call(
        &self,
        interface: SyntaxId,
        opnum: u16,
        object: Option<Uuid>,
        stub: Vec<u8>,
        cancel_after: Option<Duration>,
    ) -> Result<ResponseStub, CallError> {
        let (mut act, sock) = self
            .take()
            .await
            .map_err(|e| CallError::Transport(e.to_string()))?;
        let start = Instant::now();
        act.start_call(
            start.into_std(),
            ClRequest {
                interface,
                opnum,
                object,
                stub,
                idempotent: (self.opts.idempotent)(&interface, opnum),
                maybe: false,
                deadline: (start + self.opts.call_timeout).into_std(),
            },
        )?;
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut cancel_at = cancel_after.map(|d| start + d);
        let outcome = loop {
            while let Some(d) = act.poll_transmit() {
                if let Err(e) = sock.send(&d).await {
                    // ICMP port unreachable shows up as a send or receive error: keep
                    // retrying until the call's timers give up.
                    tracing::debug!(error = %e, "udp send failed");
                }
            }
            if let Some(o) = act.poll_outcome() {
                // flush the final ack
                while let Some(d) = act.poll_transmit() {
                    let _ = sock.send(&d).await;
                }
                break o;
            }
            let next = act.next_timeout().map(Instant::from_std);
            let wake = match (next, cancel_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            tokio::select! {
                r = sock.recv(&mut buf) => match r {
                    Ok(n) => {
                        act.handle_datagram(Instant::now().into_std(), buf.get(..n).unwrap_or_default());
                    }
                    // ICMP port unreachable: nothing listens there.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                        break Err(CallError::Transport(format!(
                            "{}: nothing listens on this UDP port ({e})",
                            self.server
                        )));
                    }
                    Err(e) => tracing::debug!(error = %e, "udp receive failed"),
                },
                _ = async {
                    match wake {
                        Some(t) => tokio::time::sleep_until(t).await,
                        None => std::future::pending().await,
                    }
                } => {
                    let now = Instant::now();
                    if cancel_at.is_some_and(|c| c <= now) {
                        cancel_at = None;
                        act.cancel();
                    }
                    act.handle_timeout(now.into_std());
                }
            }
        };
        if !act.busy() {
            if let Ok(mut p) = self.pool.lock() {
                if p.len() < POOL_MAX {
                    p.push((act, sock));
                }
            }
        }
        outcome
    }
}

impl Invoke for UdpClient {
    fn invoke<'a>(
        &'a self,
        syntax: SyntaxId,
        opnum: u16,
        object: Option<Uuid>,
        stub: Vec<u8>,
        _drep: DataRep,
    ) -> BoxFuture<'a, Result<ResponseStub, CallError>> {
        Box::pin(self.call(syntax, opnum, object, stub, None))
    }

    fn drep(&self) -> DataRep {
        self.opts.config.drep
    }
}
