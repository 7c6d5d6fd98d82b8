//! The RPC server: listeners, the state shared by their connections (services, association
//! groups, limits) and shutdown.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use msrpc_proto::dispatch::Dispatch;
use msrpc_proto::pdu::{AuthType, SyntaxId};
use msrpc_proto::security::SecurityProvider;
use msrpc_proto::server::ServerEvent;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::limits::{Limits, DEFAULT_DYNAMIC_PORTS};

/// What a connection reports to the [`Observer`] (for audit logs and metrics).
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnEvent<'a> {
    /// A connection was accepted.
    Opened {
        /// Server-wide connection number.
        conn_id: u64,
        /// The peer.
        peer: SocketAddr,
        /// Our endpoint.
        local: SocketAddr,
    },
    /// A connection was accepted and closed at once (the server is at `max_connections`).
    Refused {
        /// The peer.
        peer: SocketAddr,
        /// Our endpoint.
        local: SocketAddr,
        /// Stable reason code (`too_many_connections`).
        reason: &'static str,
    },
    /// The protocol core reported an event on a connection.
    Event {
        /// Server-wide connection number.
        conn_id: u64,
        /// The peer.
        peer: SocketAddr,
        /// The event (a `Call` carries its request stub).
        event: &'a ServerEvent,
    },
    /// A connection closed.
    Closed {
        /// Server-wide connection number.
        conn_id: u64,
        /// The peer.
        peer: SocketAddr,
        /// Why (`peer_closed`, `idle_timeout`, `fragment_timeout`, `server_shutdown`, a
        /// protocol error's reason code, or an IO error's text).
        reason: &'a str,
    },
}

/// Receives every [`ConnEvent`] of a server. It runs on the connection's task: keep it quick.
pub type Observer = Arc<dyn Fn(&ConnEvent<'_>) + Send + Sync>;

/// Makes an acceptor for an `auth_type` a client binds with, or `None` when that mechanism is
/// not offered.
pub type SecurityFactory = Arc<dyn Fn(AuthType) -> Option<Box<dyn SecurityProvider>> + Send + Sync>;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// No [`ServerBuilder::listen`] was given.
    #[error("no endpoint to listen on (call ServerBuilder::listen)")]
    NoEndpoint,
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
    pub(crate) security: Option<SecurityFactory>,
    groups: Mutex<Groups>,
    /// Open connections (a watch so shutdown can wait for zero).
    pub(crate) conns: watch::Sender<usize>,
    pub(crate) state: watch::Sender<RunState>,
    next_conn: AtomicU64,
    local_addrs: Vec<SocketAddr>,
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
    pub(crate) fn lookup_interface(&self, a: &SyntaxId) -> Option<SyntaxId> {
        self.services
            .iter()
            .map(|s| s.syntax())
            .find(|s| s.uuid == a.uuid && s.major == a.major && s.minor >= a.minor)
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
        self.next_conn.fetch_add(1, Ordering::Relaxed)
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
    services: Vec<Arc<dyn Dispatch>>,
    limits: Limits,
    dynamic_ports: RangeInclusive<u16>,
    observer: Option<Observer>,
    security: Option<SecurityFactory>,
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("endpoints", &self.endpoints)
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
    /// ports in use. Every endpoint hosts every service.
    #[must_use]
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.endpoints.push(addr);
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

    /// Offers authentication: `factory` makes an acceptor per authenticated bind.
    #[must_use]
    pub fn security(mut self, factory: SecurityFactory) -> Self {
        self.security = Some(factory);
        self
    }

    /// Binds every endpoint and starts accepting (within the current tokio runtime).
    pub async fn start(self) -> Result<Server, StartError> {
        if self.endpoints.is_empty() {
            return Err(StartError::NoEndpoint);
        }
        let mut listeners = Vec::with_capacity(self.endpoints.len());
        for addr in &self.endpoints {
            listeners.push(bind_endpoint(*addr, &self.dynamic_ports).await?);
        }
        let mut local_addrs = Vec::with_capacity(listeners.len());
        for (l, addr) in listeners.iter().zip(&self.endpoints) {
            let local = l.local_addr().map_err(|source| StartError::Bind {
                addr: *addr,
                source,
            })?;
            local_addrs.push(local);
        }
        let shared = Arc::new(Shared {
            services: self.services,
            limits: self.limits,
            observer: self.observer,
            security: self.security,
            groups: Mutex::new(Groups {
                members: HashMap::new(),
                next: (random_u64() as u32).max(1),
            }),
            conns: watch::Sender::new(0),
            state: watch::Sender::new(RunState::Running),
            next_conn: AtomicU64::new(1),
            local_addrs: local_addrs.clone(),
        });
        let mut tasks = Vec::with_capacity(listeners.len());
        for (listener, local) in listeners.into_iter().zip(local_addrs) {
            tracing::info!(%local, "listening (ncacn_ip_tcp)");
            tasks.push(tokio::spawn(accept_loop(listener, local, shared.clone())));
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

async fn bind_endpoint(
    addr: SocketAddr,
    range: &RangeInclusive<u16>,
) -> Result<TcpListener, StartError> {
    if addr.port() != 0 {
        return TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source });
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
        match TcpListener::bind(candidate).await {
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

async fn accept_loop(listener: TcpListener, local: SocketAddr, shared: Arc<Shared>) {
    let mut state = shared.state.subscribe();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    if !shared.try_add_connection() {
                        tracing::warn!(%peer, %local, "too many connections: closing");
                        shared.observe(&ConnEvent::Refused {
                            peer,
                            local,
                            reason: "too_many_connections",
                        });
                        drop(stream);
                        continue;
                    }
                    let slot = ConnSlot(shared.clone());
                    tokio::spawn(crate::server_conn::run(stream, peer, local, slot));
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
            services: Vec::new(),
            limits: Limits::default(),
            dynamic_ports: DEFAULT_DYNAMIC_PORTS,
            observer: None,
            security: None,
        }
    }

    /// The bound endpoints, in the order they were given to [`ServerBuilder::listen`].
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.handle.local_addrs()
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
            .field("connections", &self.connections())
            .field("assoc_groups", &self.assoc_groups())
            .finish_non_exhaustive()
    }
}

/// Extra time given to connections to close after their calls were cancelled.
const ABORT_WAIT: Duration = Duration::from_secs(5);

impl ServerHandle {
    /// The bound endpoints.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.shared.local_addrs.clone()
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        *self.shared.conns.borrow()
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
