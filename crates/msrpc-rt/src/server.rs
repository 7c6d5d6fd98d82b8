//! The RPC server: listeners (TCP and Unix domain sockets), the state shared by their
//! connections (services, association groups, limits) and shutdown.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use msrpc_ndr::{DataRep, Uuid};
use msrpc_policy::{PolicyHandle, Verdict};
use msrpc_proto::dispatch::Dispatch;
use msrpc_proto::pdu::{AuthType, FaultStatus, SyntaxId};
use msrpc_proto::security::SecurityProvider;
use msrpc_proto::server::{ServerEvent, TransferPreference};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::addr::{LocalAddr, PeerAddr};
use crate::limits::{Limits, DEFAULT_DYNAMIC_PORTS};

/// The mode of a Unix domain socket endpoint's file: owner and group may connect.
pub const UNIX_SOCKET_MODE: u32 = 0o660;

/// How long [`ServerBuilder::start`] waits for an existing socket file's server to answer.
const LIVE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Pending connections a TCP listener queues.
const BACKLOG: i32 = 1024;

/// The next connection number, shared by every [`Server`] of the process.
static NEXT_CONN_ID: AtomicU64 = AtomicU64::new(1);

/// What a connection reports to the [`Observer`] (for audit logs and metrics).
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnEvent<'a> {
    /// A connection was accepted.
    Opened {
        /// Connection number, unique in the process (one sequence over all servers).
        conn_id: u64,
        /// The peer.
        peer: PeerAddr,
        /// Our endpoint.
        local: &'a LocalAddr,
    },
    /// A connection was accepted and closed at once (the server is at `max_connections`).
    Refused {
        /// The peer.
        peer: PeerAddr,
        /// Our endpoint.
        local: &'a LocalAddr,
        /// Stable reason code (`too_many_connections`).
        reason: &'static str,
    },
    /// The protocol core reported an event on a connection.
    Event {
        /// Connection number, unique in the process (one sequence over all servers).
        conn_id: u64,
        /// The peer.
        peer: PeerAddr,
        /// The event (a `Call` carries its request stub).
        event: &'a ServerEvent,
    },
    /// The security policy ([`ServerBuilder::policy`]) refused a call, or audit filters
    /// matched it (then `verdict.audits` names them; the call may be served or refused).
    /// Calls the policy simply permits produce no event.
    PolicyDecision {
        /// Connection number, unique in the process (one sequence over all servers).
        conn_id: u64,
        /// The peer.
        peer: PeerAddr,
        /// The call's `call_id`.
        call_id: u32,
        /// The interface called.
        interface: SyntaxId,
        /// The operation number.
        opnum: u16,
        /// The authenticated user, when there is one.
        user: Option<&'a str>,
        /// The verdict: `verdict.refusal` says why a refused call was answered with a fault
        /// (its status) and `verdict.audits` lists the matching audit filters.
        verdict: &'a Verdict,
    },
    /// A dispatched call finished: its response (or fault) is being sent. Emitted only when an
    /// observer is installed. The request stub is kept (copied) only for the interfaces named
    /// with [`ServerBuilder::call_done_stubs`]; for others `request` is empty.
    CallDone {
        /// Connection number, unique in the process (one sequence over all servers).
        conn_id: u64,
        /// The peer.
        peer: PeerAddr,
        /// `call_id`.
        call_id: u32,
        /// The interface of the call's presentation context.
        interface: SyntaxId,
        /// Operation number.
        opnum: u16,
        /// Data representation of both stubs.
        drep: DataRep,
        /// Transfer syntax of both stubs: the one the call's presentation context accepted
        /// (NDR20 or NDR64, MS-RPCE 2.2.5).
        transfer_syntax: msrpc_ndr::TransferSyntax,
        /// The request stub (reassembled, unsealed), cut at [`CALL_DONE_STUB_MAX`] bytes; empty
        /// unless the interface is one of [`ServerBuilder::call_done_stubs`].
        request: &'a [u8],
        /// The whole request stub's length.
        stub_in: usize,
        /// The response stub, or the fault status sent instead.
        response: Result<&'a [u8], FaultStatus>,
        /// From the request's last fragment to the response.
        duration: Duration,
        /// Request fragments (as in the call's `ServerEvent::Call`).
        fragments: u32,
        /// The call's auth level, when authenticated (as in the call's `ServerEvent::Call`).
        auth_level: Option<msrpc_proto::pdu::AuthLevel>,
        /// The authenticated user, when established (as in the call's `ServerEvent::Call`).
        user: Option<&'a str>,
        /// Why the call faulted, when the runtime knows more than the status: the decoder's
        /// error with its field path for a request stub that did not decode, the opnum out of
        /// range, the encoder's error.
        error: Option<&'a str>,
    },
    /// PDUs (fragments) crossed a connection since its previous `Pdus` event (for traffic
    /// counters such as mgmt's `inq_stats`). Reported once per turn of the connection's loop,
    /// after the responses of the calls answered at once were queued (so a request and its
    /// response make one event; a call sees its own request counted only after it ran).
    Pdus {
        /// Connection number, unique in the process (one sequence over all servers).
        conn_id: u64,
        /// Complete PDUs received.
        received: u64,
        /// PDUs queued for sending.
        sent: u64,
    },
    /// The connectionless server reported an event on a UDP endpoint (a limit hit, a
    /// datagram dropped, a reject, a verified address, a call).
    Datagram {
        /// The event.
        event: &'a msrpc_proto::cl::server::ClServerEvent,
    },
    /// A connection closed.
    Closed {
        /// Connection number, unique in the process (one sequence over all servers).
        conn_id: u64,
        /// The peer.
        peer: PeerAddr,
        /// Why (`peer_closed`, `peer_closed_mid_fragment`, `idle_timeout`, `fragment_timeout`,
        /// `server_shutdown`, a protocol error's reason code, or an IO error's text).
        reason: &'a str,
    },
}

/// How much of a request stub [`ConnEvent::CallDone`] carries (the runtime keeps this much of
/// each outstanding call's stub for it).
pub const CALL_DONE_STUB_MAX: usize = 64 * 1024;

/// Receives every [`ConnEvent`] of a server. It runs on the connection's task: keep it quick.
pub type Observer = Arc<dyn Fn(&ConnEvent<'_>) + Send + Sync>;

/// Makes an acceptor for an `auth_type` a client binds with, or `None` when that mechanism is
/// not offered.
pub type SecurityFactory = Arc<dyn Fn(AuthType) -> Option<Box<dyn SecurityProvider>> + Send + Sync>;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// No [`ServerBuilder::listen`] or [`ServerBuilder::listen_unix`] was given.
    #[error("no endpoint to listen on (call ServerBuilder::listen)")]
    NoEndpoint,
    /// A Unix domain socket endpoint could not be created (or a file that is not a socket is
    /// in the way).
    #[error("cannot listen on unix socket {}: {source}", path.display())]
    BindUnix {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Another server answers on the Unix domain socket path.
    #[error("another server is already listening on unix socket {}", path.display())]
    UnixInUse {
        /// The socket path.
        path: PathBuf,
    },
    /// An endpoint could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// Every port of the dynamic range is taken (or the range is empty).
    #[error("no free port on {ip} in the dynamic range {start}..={end}")]
    NoFreePort {
        /// The address asked for.
        ip: IpAddr,
        /// First port of the range.
        start: u16,
        /// Last port of the range.
        end: u16,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RunState {
    Running,
    Draining,
    Abort,
}

/// Association groups of one server: id -> number of connections in it.
#[derive(Debug)]
struct Groups {
    members: HashMap<u32, usize>,
    next: u32,
}

/// State shared by every connection of one server.
pub(crate) struct Shared {
    pub(crate) services: Vec<Arc<dyn Dispatch>>,
    pub(crate) limits: Limits,
    pub(crate) observer: Option<Observer>,
    /// Interfaces whose request stubs `CallDone` carries.
    pub(crate) call_done_stubs: Vec<Uuid>,
    pub(crate) security: Option<SecurityFactory>,
    pub(crate) policy: Option<PolicyHandle>,
    /// Which transfer syntax wins when a bind offers NDR20 and NDR64.
    pub(crate) transfer_preference: TransferPreference,
    groups: Mutex<Groups>,
    /// Open connections (a watch so shutdown can wait for zero).
    pub(crate) conns: watch::Sender<usize>,
    pub(crate) state: watch::Sender<RunState>,
    local_addrs: Vec<SocketAddr>,
    udp_addrs: Vec<SocketAddr>,
    unix_paths: Vec<PathBuf>,
}

impl Shared {
    fn lock_groups(&self) -> MutexGuard<'_, Groups> {
        match self.groups.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The served interface compatible with `a`: same UUID and major version, minor version
    /// at least the one asked for.
    /// The interfaces served, in the order they were added.
    pub(crate) fn interfaces(&self) -> Vec<SyntaxId> {
        self.services.iter().map(|s| s.syntax()).collect()
    }

    pub(crate) fn lookup_interface(&self, a: &SyntaxId) -> Option<SyntaxId> {
        self.services
            .iter()
            .map(|s| s.syntax())
            .find(|s| s.uuid == a.uuid && s.major == a.major && s.minor >= a.minor)
    }

    /// True when the service serving exactly `syntax` can be called in NDR64.
    pub(crate) fn supports_ndr64(&self, syntax: &SyntaxId) -> bool {
        self.services
            .iter()
            .any(|s| s.syntax() == *syntax && s.supports_ndr64())
    }

    /// The service serving exactly `syntax`.
    pub(crate) fn service(&self, syntax: &SyntaxId) -> Option<Arc<dyn Dispatch>> {
        self.services
            .iter()
            .find(|s| s.syntax() == *syntax)
            .cloned()
    }

    /// Joins association group `requested`, or creates one when it is 0. `None`: no such group.
    pub(crate) fn join_group(&self, requested: u32) -> Option<u32> {
        let mut g = self.lock_groups();
        if requested != 0 {
            let n = g.members.get_mut(&requested)?;
            *n += 1;
            return Some(requested);
        }
        let mut id = g.next;
        while id == 0 || g.members.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        g.next = id.wrapping_add(1);
        g.members.insert(id, 1);
        Some(id)
    }

    /// Leaves association group `id`; when it was the last connection, the group ends and every
    /// service runs it down.
    pub(crate) fn leave_group(&self, id: u32) {
        let last = {
            let mut g = self.lock_groups();
            match g.members.get_mut(&id) {
                Some(n) if *n > 1 => {
                    *n -= 1;
                    false
                }
                Some(_) => {
                    g.members.remove(&id);
                    true
                }
                None => false,
            }
        };
        if last {
            tracing::debug!(assoc_group_id = id, "association group ended: rundown");
            for s in &self.services {
                s.rundown(id);
            }
        }
    }

    fn live_groups(&self) -> usize {
        self.lock_groups().members.len()
    }

    pub(crate) fn observe(&self, ev: &ConnEvent<'_>) {
        if let Some(o) = &self.observer {
            o(ev);
        }
    }

    pub(crate) fn next_conn_id(&self) -> u64 {
        // One sequence for every server in the process: observers shared by several servers
        // (msrpcd's audit pipeline serves the endpoint mapper and the demo) key their
        // per-connection state by this number, so it must not repeat across servers.
        NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed)
    }

    /// Counts a new connection unless the server is full.
    pub(crate) fn try_add_connection(&self) -> bool {
        let max = self.limits.max_connections;
        self.conns.send_if_modified(|n| {
            if *n < max {
                *n += 1;
                true
            } else {
                false
            }
        })
    }
}

/// Decrements the connection count when a connection task ends (even by panic).
pub(crate) struct ConnSlot(pub(crate) Arc<Shared>);

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.0.conns.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Configures a [`Server`]: endpoints, services, limits, hooks.
pub struct ServerBuilder {
    endpoints: Vec<SocketAddr>,
    unix_paths: Vec<PathBuf>,
    services: Vec<Arc<dyn Dispatch>>,
    limits: Limits,
    dynamic_ports: RangeInclusive<u16>,
    observer: Option<Observer>,
    call_done_stubs: Vec<Uuid>,
    security: Option<SecurityFactory>,
    policy: Option<PolicyHandle>,
    transfer_preference: TransferPreference,
    udp_endpoints: Vec<SocketAddr>,
    udp_config: msrpc_proto::cl::server::ClServerConfig,
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("endpoints", &self.endpoints)
            .field("unix_paths", &self.unix_paths)
            .field("udp_endpoints", &self.udp_endpoints)
            .field(
                "services",
                &self.services.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .field("limits", &self.limits)
            .field("dynamic_ports", &self.dynamic_ports)
            .finish_non_exhaustive()
    }
}

impl ServerBuilder {
    /// Adds an `ncacn_ip_tcp` endpoint. Port 0 takes a free port from the dynamic range
    /// ([`dynamic_ports`](Self::dynamic_ports)), starting at a random one and moving on past
    /// ports in use; several port-0 endpoints take the same port when it is free on each of
    /// their addresses (so `0.0.0.0:0` and `[::]:0` share a port). Every endpoint hosts every
    /// service. IPv6 endpoints are IPv6-only (`IPV6_V6ONLY`), so `[::]:135` and `0.0.0.0:135`
    /// can both be bound.
    #[must_use]
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.endpoints.push(addr);
        self
    }

    /// Adds a Unix domain socket endpoint at `path`: the local channel. Its connections are
    /// served exactly like TCP ones, except that every call has [`CallContext::local`] set
    /// and [`CallContext::peer`] reads `unix:<pid>` (the connecting process, from
    /// `SO_PEERCRED`), so services that accept writes only from local callers (the endpoint
    /// mapper's `ept_insert`) accept them.
    ///
    /// [`start`](Self::start) creates the socket with mode [`UNIX_SOCKET_MODE`] (0660: the
    /// owner and group may connect; the directory's permissions also apply). A socket file
    /// already at `path` is removed when nothing answers on it (a stale file left by a
    /// crash); when a server answers, `start` fails with [`StartError::UnixInUse`]; a file
    /// that is not a socket is never removed ([`StartError::BindUnix`]). The file is removed
    /// again at shutdown when it is still the one this server created.
    ///
    /// [`CallContext::local`]: msrpc_proto::dispatch::CallContext::local
    /// [`CallContext::peer`]: msrpc_proto::dispatch::CallContext::peer
    #[must_use]
    pub fn listen_unix(mut self, path: impl Into<PathBuf>) -> Self {
        self.unix_paths.push(path.into());
        self
    }

    /// Adds an `ncadg_ip_udp` (connectionless) endpoint serving the same services as the TCP
    /// ones, in NDR20 (C706 chapter 10; `msrpc_proto::cl`). Port 0 takes a port the system
    /// chooses. Until a source has answered the conversation callback, the server sends it no
    /// more bytes than it received ([`ServerBuilder::udp_config`] sets the limits).
    #[must_use]
    pub fn listen_udp(mut self, addr: SocketAddr) -> Self {
        self.udp_endpoints.push(addr);
        self
    }

    /// The connectionless protocol's configuration (boot time, `ClLimits`, timers, broadcast).
    /// The default's boot time is replaced by the time the server starts unless set here to
    /// something other than 1.
    #[must_use]
    pub fn udp_config(mut self, config: msrpc_proto::cl::server::ClServerConfig) -> Self {
        self.udp_config = config;
        self
    }

    /// Hosts a service (a generated `FooServer`, or any [`Dispatch`]). When two services share
    /// a UUID and major version, the first added wins.
    #[must_use]
    pub fn service(mut self, service: impl Dispatch) -> Self {
        self.services.push(Arc::new(service));
        self
    }

    /// Hosts an already shared service.
    #[must_use]
    pub fn service_arc(mut self, service: Arc<dyn Dispatch>) -> Self {
        self.services.push(service);
        self
    }

    /// Sets the limits (default [`Limits::default`]).
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the range port-0 endpoints choose from (default [`DEFAULT_DYNAMIC_PORTS`]).
    #[must_use]
    pub fn dynamic_ports(mut self, range: RangeInclusive<u16>) -> Self {
        self.dynamic_ports = range;
        self
    }

    /// Installs an observer of connection events.
    #[must_use]
    pub fn observer(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Names the interfaces (by UUID) whose request stubs [`ConnEvent::CallDone`] carries:
    /// the runtime copies (up to [`CALL_DONE_STUB_MAX`] bytes of) each such request for the
    /// observer. Calls to other interfaces report an empty `request` and cost no copy. The
    /// default is none.
    #[must_use]
    pub fn call_done_stubs(mut self, interfaces: impl IntoIterator<Item = Uuid>) -> Self {
        self.call_done_stubs = interfaces.into_iter().collect();
        self
    }

    /// Offers authentication: `factory` makes an acceptor per authenticated bind.
    #[must_use]
    pub fn security(mut self, factory: SecurityFactory) -> Self {
        self.security = Some(factory);
        self
    }

    /// Applies a security policy to every call on every endpoint: each request is checked
    /// ([`PolicyHandle::check`]) before it is dispatched, and a refused one is answered with
    /// a fault carrying the refusal's status (access denied) without reaching the service.
    /// Refusals and audit-filter matches are reported as [`ConnEvent::PolicyDecision`] and
    /// logged through `tracing`. Keep a clone of the handle to replace the policy (or its
    /// callbacks) while the server runs: the next call sees the change.
    #[must_use]
    pub fn policy(mut self, policy: PolicyHandle) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Which transfer syntax wins when a client offers an interface in both NDR20 and NDR64
    /// (default [`TransferPreference::Ndr64`], as 64-bit Windows servers).
    #[must_use]
    pub fn transfer_preference(mut self, preference: TransferPreference) -> Self {
        self.transfer_preference = preference;
        self
    }

    /// Binds every endpoint and starts accepting (within the current tokio runtime).
    pub async fn start(self) -> Result<Server, StartError> {
        if self.endpoints.is_empty() && self.unix_paths.is_empty() && self.udp_endpoints.is_empty()
        {
            return Err(StartError::NoEndpoint);
        }
        let mut udp_sockets = Vec::with_capacity(self.udp_endpoints.len());
        let mut udp_addrs = Vec::with_capacity(self.udp_endpoints.len());
        for addr in &self.udp_endpoints {
            let s = crate::udp::bind_udp(*addr).map_err(|source| StartError::Bind {
                addr: *addr,
                source,
            })?;
            let local = s.local_addr().map_err(|source| StartError::Bind {
                addr: *addr,
                source,
            })?;
            udp_addrs.push(local);
            udp_sockets.push(s);
        }
        let mut listeners = Vec::with_capacity(self.endpoints.len() + self.unix_paths.len());
        let mut local_addrs = Vec::with_capacity(self.endpoints.len());
        // The port the first port-0 endpoint got: the others try it first.
        let mut dynamic_port: Option<u16> = None;
        for addr in &self.endpoints {
            let listener = match dynamic_port {
                Some(p) if addr.port() == 0 => match bind_tcp(SocketAddr::new(addr.ip(), p)) {
                    Ok(l) => l,
                    Err(_) => bind_endpoint(*addr, &self.dynamic_ports).await?,
                },
                _ => bind_endpoint(*addr, &self.dynamic_ports).await?,
            };
            let local = listener.local_addr().map_err(|source| StartError::Bind {
                addr: *addr,
                source,
            })?;
            if addr.port() == 0 && dynamic_port.is_none() {
                dynamic_port = Some(local.port());
            }
            local_addrs.push(local);
            listeners.push((Listener::Tcp(listener), LocalAddr::Tcp(local)));
        }
        for path in &self.unix_paths {
            let (listener, id) = bind_unix(path).await?;
            listeners.push((Listener::Unix(listener, id), LocalAddr::Unix(path.clone())));
        }
        let shared = Arc::new(Shared {
            services: self.services,
            limits: self.limits,
            observer: self.observer,
            call_done_stubs: self.call_done_stubs,
            security: self.security,
            policy: self.policy,
            transfer_preference: self.transfer_preference,
            groups: Mutex::new(Groups {
                members: HashMap::new(),
                next: (random_u64() as u32).max(1),
            }),
            conns: watch::Sender::new(0),
            state: watch::Sender::new(RunState::Running),
            local_addrs,
            unix_paths: self.unix_paths,
            udp_addrs,
        });
        let mut tasks = Vec::with_capacity(listeners.len());
        for (listener, local) in listeners {
            tracing::info!(%local, "listening");
            tasks.push(tokio::spawn(accept_loop(
                listener,
                Arc::new(local),
                shared.clone(),
            )));
        }
        let mut udp_config = self.udp_config;
        if udp_config.boot_time == 1 {
            // C706: the boot time changes when the server restarts.
            udp_config.boot_time = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_secs() as u32)
                .max(2);
        }
        for s in udp_sockets {
            tracing::info!(local = ?s.local_addr().ok(), "listening (udp)");
            tasks.push(tokio::spawn(crate::udp::serve(
                s,
                shared.clone(),
                udp_config.clone(),
            )));
        }
        Ok(Server {
            handle: ServerHandle {
                shared,
                accept_tasks: Arc::new(Mutex::new(tasks)),
            },
        })
    }
}

/// A random number from the standard library's per-process hash keys (good enough to spread
/// port choices and group ids; not a secret).
fn random_u64() -> u64 {
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u64(0x6d73_7270_6372_7421);
    h.finish()
}

/// Binds a TCP listener on `addr` (`SO_REUSEADDR`, and `IPV6_V6ONLY` for IPv6).
fn bind_tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

async fn bind_endpoint(
    addr: SocketAddr,
    range: &RangeInclusive<u16>,
) -> Result<TcpListener, StartError> {
    if addr.port() != 0 {
        return bind_tcp(addr).map_err(|source| StartError::Bind { addr, source });
    }
    let (start, end) = (*range.start(), *range.end());
    let no_port = StartError::NoFreePort {
        ip: addr.ip(),
        start,
        end,
    };
    if start == 0 || start > end {
        return Err(no_port);
    }
    let len = u32::from(end - start) + 1;
    let offset = (random_u64() % u64::from(len)) as u32;
    for i in 0..len {
        let port = u32::from(start) + (offset + i) % len;
        let Ok(port) = u16::try_from(port) else {
            continue;
        };
        let candidate = SocketAddr::new(addr.ip(), port);
        match bind_tcp(candidate) {
            Ok(l) => return Ok(l),
            Err(e) if matches!(e.kind(), io::ErrorKind::AddrInUse) => {
                tracing::trace!(%candidate, "port in use, trying the next");
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                tracing::trace!(%candidate, "port not allowed, trying the next");
            }
            Err(source) => {
                return Err(StartError::Bind {
                    addr: candidate,
                    source,
                })
            }
        }
    }
    Err(no_port)
}

/// The identity (device, inode) of a socket file this server created.
type FileId = (u64, u64);

/// Creates the Unix domain socket endpoint at `path` (see [`ServerBuilder::listen_unix`]).
async fn bind_unix(path: &Path) -> Result<(UnixListener, Option<FileId>), StartError> {
    let err = |source: io::Error| StartError::BindUnix {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket (not removed)",
            )));
        }
        Ok(_) => match tokio::time::timeout(LIVE_CHECK_TIMEOUT, UnixStream::connect(path)).await {
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                tracing::info!(path = %path.display(), "removing a stale socket file");
                std::fs::remove_file(path).map_err(err)?;
            }
            Ok(Err(e)) => return Err(err(e)),
            // Something accepted (or holds the connection in its backlog): it is alive.
            Ok(Ok(_)) | Err(_) => {
                return Err(StartError::UnixInUse {
                    path: path.to_path_buf(),
                })
            }
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let listener = UnixListener::bind(path).map_err(err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(UNIX_SOCKET_MODE))
        .map_err(err)?;
    let id = std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()));
    Ok((listener, id))
}

/// A bound endpoint.
enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, Option<FileId>),
}

/// An accepted connection.
enum Accepted {
    Tcp(TcpStream, SocketAddr),
    Unix(UnixStream),
}

impl Listener {
    async fn accept(&self) -> io::Result<Accepted> {
        match self {
            Listener::Tcp(l) => l.accept().await.map(|(s, a)| Accepted::Tcp(s, a)),
            Listener::Unix(l, _) => l.accept().await.map(|(s, _)| Accepted::Unix(s)),
        }
    }
}

impl Accepted {
    fn peer(&self) -> PeerAddr {
        match self {
            Accepted::Tcp(_, a) => PeerAddr::Tcp(*a),
            Accepted::Unix(s) => match s.peer_cred() {
                Ok(c) => PeerAddr::Unix {
                    pid: c.pid(),
                    uid: Some(c.uid()),
                },
                Err(_) => PeerAddr::Unix {
                    pid: None,
                    uid: None,
                },
            },
        }
    }
}

async fn accept_loop(listener: Listener, local: Arc<LocalAddr>, shared: Arc<Shared>) {
    let mut state = shared.state.subscribe();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok(accepted) => {
                    let peer = accepted.peer();
                    if !shared.try_add_connection() {
                        tracing::warn!(%peer, %local, "too many connections: closing");
                        shared.observe(&ConnEvent::Refused {
                            peer,
                            local: &local,
                            reason: "too_many_connections",
                        });
                        drop(accepted);
                        continue;
                    }
                    let slot = ConnSlot(shared.clone());
                    let local = local.clone();
                    match accepted {
                        Accepted::Tcp(stream, _) => {
                            if let Err(e) = stream.set_nodelay(true) {
                                tracing::debug!(%peer, error = %e, "TCP_NODELAY");
                            }
                            let dialled = stream.local_addr().ok();
                            let (rd, wr) = stream.into_split();
                            tokio::spawn(crate::server_conn::run(rd, wr, peer, local, dialled, slot));
                        }
                        Accepted::Unix(stream) => {
                            let (rd, wr) = stream.into_split();
                            tokio::spawn(crate::server_conn::run(rd, wr, peer, local, None, slot));
                        }
                    }
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(%local, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = async { state.wait_for(|s| *s != RunState::Running).await.map(|_| ()) } => break,
        }
    }
    if let (Listener::Unix(_, Some(id)), LocalAddr::Unix(path)) = (&listener, &*local) {
        // Remove the socket file unless another server has replaced it meanwhile.
        let id: FileId = *id;
        let ours = std::fs::symlink_metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == id);
        if ours {
            if let Err(e) = std::fs::remove_file(path) {
                tracing::debug!(path = %path.display(), error = %e, "removing the socket file");
            }
        }
    }
    tracing::info!(%local, "stopped listening");
}

/// A running server. Dropping it leaves it running; stop it with [`Server::shutdown`] or a
/// [`ServerHandle`].
#[derive(Debug)]
pub struct Server {
    handle: ServerHandle,
}

impl Server {
    /// A builder with no endpoint, no service and default limits.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            endpoints: Vec::new(),
            unix_paths: Vec::new(),
            services: Vec::new(),
            limits: Limits::default(),
            dynamic_ports: DEFAULT_DYNAMIC_PORTS,
            observer: None,
            call_done_stubs: Vec::new(),
            security: None,
            policy: None,
            transfer_preference: TransferPreference::default(),
            udp_endpoints: Vec::new(),
            udp_config: msrpc_proto::cl::server::ClServerConfig::default(),
        }
    }

    /// The bound TCP endpoints, in the order they were given to [`ServerBuilder::listen`].
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.handle.local_addrs()
    }

    /// The Unix domain socket endpoints, in the order they were given to
    /// [`ServerBuilder::listen_unix`].
    pub fn unix_paths(&self) -> Vec<PathBuf> {
        self.handle.unix_paths()
    }

    /// The bound UDP endpoints, in the order they were given to [`ServerBuilder::listen_udp`].
    pub fn udp_addrs(&self) -> Vec<SocketAddr> {
        self.handle.udp_addrs()
    }

    /// The interfaces served (on every endpoint), in the order the services were added.
    pub fn interfaces(&self) -> Vec<SyntaxId> {
        self.handle.interfaces()
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.handle.connections()
    }

    /// A handle to observe and stop the server from elsewhere.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Shuts the server down (see [`ServerHandle::shutdown`]).
    pub async fn shutdown(self) {
        self.handle.shutdown().await;
    }
}

/// A clonable handle to a running [`Server`].
#[derive(Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
    accept_tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addrs", &self.shared.local_addrs)
            .field("unix_paths", &self.shared.unix_paths)
            .field("connections", &self.connections())
            .field("assoc_groups", &self.assoc_groups())
            .finish_non_exhaustive()
    }
}

/// Extra time given to connections to close after their calls were cancelled.
const ABORT_WAIT: Duration = Duration::from_secs(5);

impl ServerHandle {
    /// The bound UDP endpoints, in the order they were given to [`ServerBuilder::listen_udp`].
    pub fn udp_addrs(&self) -> Vec<SocketAddr> {
        self.shared.udp_addrs.clone()
    }

    /// The bound TCP endpoints.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.shared.local_addrs.clone()
    }

    /// The Unix domain socket endpoints.
    pub fn unix_paths(&self) -> Vec<PathBuf> {
        self.shared.unix_paths.clone()
    }

    /// The interfaces served (on every endpoint), in the order the services were added.
    pub fn interfaces(&self) -> Vec<SyntaxId> {
        self.shared.interfaces()
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        *self.shared.conns.borrow()
    }

    /// The security policy, when the server was given one ([`ServerBuilder::policy`]).
    pub fn policy(&self) -> Option<PolicyHandle> {
        self.shared.policy.clone()
    }

    /// Association groups alive now (each has at least one connection).
    pub fn assoc_groups(&self) -> usize {
        self.shared.live_groups()
    }

    /// True until a shutdown starts.
    pub fn is_running(&self) -> bool {
        *self.shared.state.borrow() == RunState::Running
    }

    /// Stops accepting, stops reading new requests, lets calls in progress finish and send
    /// their responses for up to [`Limits::shutdown_grace`], then cancels what is left and
    /// closes every connection (association groups are run down as their connections go).
    /// Returns once every connection is closed (or a few seconds after the grace period if a
    /// connection does not close). Calling it again, or from several handles, is harmless.
    pub async fn shutdown(&self) {
        self.shared.state.send_if_modified(|s| {
            if *s == RunState::Running {
                *s = RunState::Draining;
                true
            } else {
                false
            }
        });
        let tasks: Vec<JoinHandle<()>> = match self.accept_tasks.lock() {
            Ok(mut t) => t.drain(..).collect(),
            Err(p) => p.into_inner().drain(..).collect(),
        };
        for t in tasks {
            let _ = t.await;
        }
        let mut conns = self.shared.conns.subscribe();
        let grace = self.shared.limits.shutdown_grace;
        if tokio::time::timeout(grace, conns.wait_for(|n| *n == 0))
            .await
            .is_err()
        {
            tracing::warn!(
                open = self.connections(),
                "shutdown grace period over: cancelling calls"
            );
            self.shared.state.send_replace(RunState::Abort);
            let _ = tokio::time::timeout(ABORT_WAIT, conns.wait_for(|n| *n == 0)).await;
        }
        tracing::info!("server shut down");
    }
}
