//! The RPC client: one TCP (or Unix domain socket) connection, its [`ClientConnection`] shared by
//! the callers and a reader task.
//!
//! A call runs its command in the caller's task: it takes the connection's lock, encodes the
//! request (or queues it behind a bind) and writes it to the socket without waiting, then waits
//! for its answer. The reader task reads the socket, feeds the protocol core, hands answers
//! to their callers, and finishes writes the socket would not take at once (with the send
//! timeout). No channel hop and no task wake-up stand between a call and its request's write.
//! Call timeouts are deadlines kept with the calls: the reader task holds one timer, armed at
//! the earliest deadline, instead of a timer per call.

use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::Duration;

use msrpc_ndr::{DataRep, DecodeLimits, TransferSyntax, Uuid};
use msrpc_proto::client::{ClientConfig, ClientConnection, ClientError, ClientEvent};
use msrpc_proto::dispatch::{BoxFuture, CallError, Invoke, ResponseStub};
use msrpc_proto::pdu::{
    AuthLevel, BindNakReason, ContextResult, FaultStatus, ProviderReason, SyntaxId,
};
use msrpc_proto::security::SecurityProvider;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::{oneshot, watch};

use crate::binding::Binding;
use crate::io::WriteQueue;

const READ_BUF: usize = 16 * 1024;

/// Authentication for the connections a [`Client`] makes: each new connection gets a fresh
/// provider from [`ClientAuth::provider`], set before its first bind, so the bind carries
/// the first leg and every later PDU is protected at [`ClientAuth::level`] (signatures and
/// seals of responses are verified; a response that does not verify fails the connection).
#[derive(Clone)]
pub struct ClientAuth {
    /// Makes a fresh client provider (e.g. `msrpc_ntlm::NtlmClient`) for each connection.
    pub provider: Arc<dyn Fn() -> Box<dyn SecurityProvider> + Send + Sync>,
    /// The authentication level: `CONNECT` (the association is authenticated, PDUs carry no
    /// verifier), `CALL` (sent as `PKT`), `PKT` and `PKT_INTEGRITY` (every PDU signed),
    /// `PKT_PRIVACY` (sealed). Signed requests carry a verification trailer unless
    /// `ClientConfig::verification_trailer` is off.
    pub level: AuthLevel,
    /// The `auth_context_id` sent in every auth trailer. Default
    /// [`ClientAuth::DEFAULT_CONTEXT_ID`].
    pub context_id: u32,
}

impl ClientAuth {
    /// The default `auth_context_id` (the value Impacket uses).
    pub const DEFAULT_CONTEXT_ID: u32 = 79231;

    /// Authentication at `level` with providers made by `factory`.
    pub fn new<F>(level: AuthLevel, factory: F) -> Self
    where
        F: Fn() -> Box<dyn SecurityProvider> + Send + Sync + 'static,
    {
        ClientAuth {
            provider: Arc::new(factory),
            level,
            context_id: Self::DEFAULT_CONTEXT_ID,
        }
    }

    /// The same with another `auth_context_id`.
    pub fn with_context_id(mut self, context_id: u32) -> Self {
        self.context_id = context_id;
        self
    }
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuth")
            .field("level", &self.level)
            .field("context_id", &self.context_id)
            .finish_non_exhaustive()
    }
}

/// How a [`Client`] connects and calls.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Resolving the host and establishing the TCP connection. Default 10 s.
    pub connect_timeout: Duration,
    /// Each call (including the bind it may need), or `None` for no limit. A call that times
    /// out fails with [`CallError::Timeout`] and is orphaned on the server. Default 60 s.
    pub call_timeout: Option<Duration>,
    /// Writing a batch of fragments (the server does not read); the connection fails after
    /// it. Default 30 s.
    pub send_timeout: Duration,
    /// The protocol settings (fragment sizes, byte order, association group to join).
    pub config: ClientConfig,
    /// Limits for decoding responses.
    pub decode_limits: DecodeLimits,
    /// Port of the endpoint mapper for [`Client::connect_via_epm`]. Default 135.
    pub epm_port: u16,
    /// Authentication for each connection, or `None` (the default) for unauthenticated
    /// binds. The endpoint mapper lookup of [`Client::connect_via_epm`] is always
    /// unauthenticated; the connection it then makes uses this.
    pub auth: Option<ClientAuth>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            call_timeout: Some(Duration::from_secs(60)),
            send_timeout: Duration::from_secs(30),
            config: ClientConfig::default(),
            decode_limits: DecodeLimits::DEFAULT,
            epm_port: crate::epm::EPM_PORT,
            auth: None,
        }
    }
}

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The binding names no port (resolve it with [`Client::connect_via_epm`]).
    #[error("binding `{0}` has no port (use Client::connect_via_epm to ask the endpoint mapper)")]
    NoPort(String),
    /// The host name did not resolve.
    #[error("cannot resolve `{host}`: {source}")]
    Resolve {
        /// The host.
        host: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// The binding is not `ncacn_ip_tcp` (an `ncadg_ip_udp` binding goes to
    /// [`UdpClient::connect`](crate::UdpClient::connect)).
    #[error("binding `{0}` is not ncacn_ip_tcp (use UdpClient for ncadg_ip_udp)")]
    Protseq(String),
    /// Resolution gave no address.
    #[error("`{0}` resolved to no address")]
    NoAddress(String),
    /// No connection within [`ClientOptions::connect_timeout`].
    #[error("connecting to {host} port {port} timed out")]
    Timeout {
        /// The host.
        host: String,
        /// The port.
        port: u16,
    },
    /// The TCP connection failed (refused, unreachable...).
    #[error("cannot connect to {addr}: {source}")]
    Io {
        /// The last address tried.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The Unix domain socket connection failed (no such file, refused, permission denied,
    /// or no connection within [`ClientOptions::connect_timeout`]).
    #[error("cannot connect to unix socket {}: {source}", path.display())]
    Unix {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The endpoint mapper could not be asked.
    #[error("endpoint mapper: {0}")]
    Epm(CallError),
    /// The endpoint mapper knows no `ncacn_ip_tcp` endpoint of the interface.
    #[error(
        "the endpoint mapper has no ncacn_ip_tcp endpoint for {interface} (status {status:#x})"
    )]
    NotRegistered {
        /// The interface asked for.
        interface: SyntaxId,
        /// `ept_map`'s status (`ept_s_not_registered` or another error).
        status: u32,
    },
}

/// Why a bind (or alter_context) failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BindError {
    /// The server refused the association (bind_nak), e.g. for an unknown association group.
    #[error("bind_nak: {0:?}")]
    Nak(BindNakReason),
    /// The server answered but refused these interfaces' presentation contexts.
    #[error("presentation contexts rejected: {0:?}")]
    Rejected(Vec<(SyntaxId, ProviderReason)>),
    /// The server answered with a fault.
    #[error("fault {0}")]
    Fault(FaultStatus),
    /// No answer within the call timeout.
    #[error("timed out")]
    Timeout,
    /// The connection failed or was closed.
    #[error("transport: {0}")]
    Transport(String),
    /// The server broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl BindError {
    /// The [`CallError`] a call on `syntax` fails with when its bind failed this way.
    pub fn to_call_error(&self, syntax: SyntaxId) -> CallError {
        match self {
            BindError::Nak(_) | BindError::Rejected(_) => CallError::NotBound(syntax),
            BindError::Fault(s) => CallError::Fault(*s),
            BindError::Timeout => CallError::Timeout,
            BindError::Transport(t) => CallError::Transport(t.clone()),
            BindError::Protocol(p) => CallError::Protocol(p.clone()),
        }
    }
}

type CallReply = oneshot::Sender<Result<ResponseStub, CallError>>;
type BindReply = oneshot::Sender<Result<(), BindError>>;

type Deadline = Option<tokio::time::Instant>;

enum Command {
    Call(Waiting),
    Bind {
        syntaxes: Vec<SyntaxId>,
        reply: BindReply,
    },
    Abandon {
        token: u64,
    },
}

/// The socket's write half, boxed so callers need not know the transport.
type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// What the callers and the reader task share, behind one lock held only for non-blocking work.
struct Shared {
    driver: Driver,
    /// The write half (`None` once the connection ended and the reader took it to flush).
    wr: Option<Writer>,
    /// The reader task's waker: woken when a caller leaves bytes the socket did not take, or
    /// asks to close.
    reader: Option<Waker>,
    /// Why the connection must end (a close asked for, or a write that failed in a caller).
    end_asked: Option<End>,
    /// Why the connection ended; commands then fail at once.
    ended: Option<End>,
    /// When the reader's call timer must fire: the earliest call deadline it knows of (it
    /// may be earlier than every remaining deadline: the reader then re-arms it).
    timer: Deadline,
}

impl Shared {
    fn wake_reader(&mut self) {
        if let Some(w) = &self.reader {
            w.wake_by_ref();
        }
    }

    /// Runs a command and writes what it produced without waiting; the reader takes over
    /// writes the socket did not take.
    fn submit(&mut self, c: Command) {
        if let Some(end) = &self.ended {
            end.refuse(c);
            return;
        }
        if let Command::Call(Waiting {
            deadline: Some(d), ..
        }) = &c
        {
            // Deadlines of one client only grow, so an armed timer fires first; arm it (one
            // wake-up) only when it is not.
            if self.timer.is_none() {
                self.timer = Some(*d);
                self.wake_reader();
            }
        }
        self.driver.command(c);
        self.write_now();
    }

    /// Queues the protocol core's fragments and writes what the socket takes now.
    fn write_now(&mut self) {
        self.driver.flush();
        if self.driver.out.is_empty() {
            return;
        }
        if let Some(wr) = self.wr.as_mut() {
            if let Err(e) = self.driver.out.write_now(wr) {
                self.end_asked
                    .get_or_insert(End::Transport(format!("write failed: {e}")));
            }
        }
        if !self.driver.out.is_empty() || self.end_asked.is_some() {
            self.wake_reader();
        }
    }
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A panic while holding the lock leaves plain data behind: keep going with it.
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct Inner {
    shared: Arc<Mutex<Shared>>,
    call_timeout: Option<Duration>,
    drep: DataRep,
    limits: DecodeLimits,
    peer: SocketAddr,
    local: SocketAddr,
    unix_path: Option<PathBuf>,
    assoc_group: Arc<AtomicU32>,
    closed: watch::Receiver<bool>,
    next_token: AtomicU64,
}

/// A connection to an RPC server, usable from many tasks at once (clones share the
/// connection; calls are multiplexed on it). Implements [`Invoke`], so generated clients
/// work over it: `RpcechoClient::new(client)`.
///
/// The connection binds each interface the first time a call uses it (bind, then
/// alter_context), or explicitly with [`Client::bind`]. It closes when the last clone is
/// dropped, on [`Client::close`], or when the server or the network ends it; calls then fail
/// with [`CallError::Transport`].
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("peer", &self.inner.peer)
            .field("local", &self.inner.local)
            .field("unix_path", &self.inner.unix_path)
            .field("assoc_group_id", &self.assoc_group_id())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Client {
    /// Connects to the host and port of `binding` (which must name a port), with the
    /// binding's options applied to `opts` ([`Binding::apply_to`]: `bigendian`).
    pub async fn connect(
        binding: &Binding,
        mut opts: ClientOptions,
    ) -> Result<Client, ConnectError> {
        if binding.protseq != crate::binding::Protseq::IpTcp {
            return Err(ConnectError::Protseq(binding.to_string()));
        }
        let port = binding
            .port
            .ok_or_else(|| ConnectError::NoPort(binding.to_string()))?;
        binding.apply_to(&mut opts.config);
        Self::connect_host(&binding.host, port, opts).await
    }

    /// Connects to `addr`.
    pub async fn connect_addr(
        addr: SocketAddr,
        opts: ClientOptions,
    ) -> Result<Client, ConnectError> {
        let stream = tokio::time::timeout(opts.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ConnectError::Timeout {
                host: addr.ip().to_string(),
                port: addr.port(),
            })?
            .map_err(|source| ConnectError::Io { addr, source })?;
        Self::from_stream(stream, opts).map_err(|source| ConnectError::Io { addr, source })
    }

    /// Resolves `host` and connects to the first of its addresses that accepts on `port`.
    pub async fn connect_host(
        host: &str,
        port: u16,
        opts: ClientOptions,
    ) -> Result<Client, ConnectError> {
        let timeout = opts.connect_timeout;
        let attempt = async {
            let addrs = tokio::net::lookup_host((host, port))
                .await
                .map_err(|source| ConnectError::Resolve {
                    host: host.to_string(),
                    source,
                })?;
            let mut last = None;
            for addr in addrs {
                match TcpStream::connect(addr).await {
                    Ok(s) => return Ok((s, addr)),
                    Err(source) => last = Some(ConnectError::Io { addr, source }),
                }
            }
            Err(last.unwrap_or_else(|| ConnectError::NoAddress(host.to_string())))
        };
        let (stream, addr) =
            tokio::time::timeout(timeout, attempt)
                .await
                .map_err(|_| ConnectError::Timeout {
                    host: host.to_string(),
                    port,
                })??;
        Self::from_stream(stream, opts).map_err(|source| ConnectError::Io { addr, source })
    }

    /// Asks the endpoint mapper on `host` ([`ClientOptions::epm_port`], 135 by default) where
    /// `interface` listens over `ncacn_ip_tcp` (`ept_map`), then connects there.
    pub async fn connect_via_epm(
        host: &str,
        interface: SyntaxId,
        opts: ClientOptions,
    ) -> Result<Client, ConnectError> {
        let mut epm_opts = opts.clone();
        epm_opts.config.assoc_group_id = 0;
        epm_opts.auth = None;
        let epm = Self::connect_host(host, opts.epm_port, epm_opts).await?;
        let port = crate::epm::map_tcp_port(&epm, interface).await;
        epm.close();
        let port = port?;
        tracing::debug!(host, port, %interface, "endpoint mapper answered");
        Self::connect_host(host, port, opts).await
    }

    /// Connects to the Unix domain socket at `path` (a server's
    /// [`listen_unix`](crate::ServerBuilder::listen_unix) endpoint, the local channel: the
    /// server treats this connection's calls as local). [`ClientOptions::epm_port`] is not
    /// used.
    pub async fn connect_unix(
        path: impl AsRef<Path>,
        opts: ClientOptions,
    ) -> Result<Client, ConnectError> {
        let path = path.as_ref();
        let err = |source| ConnectError::Unix {
            path: path.to_path_buf(),
            source,
        };
        let stream = tokio::time::timeout(opts.connect_timeout, UnixStream::connect(path))
            .await
            .map_err(|_| err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")))?
            .map_err(err)?;
        Ok(Self::from_unix_stream(stream, path.to_path_buf(), opts))
    }

    /// Wraps a connected Unix domain socket (for callers that connect themselves); `path` is
    /// only reported by [`Client::unix_path`].
    pub fn from_unix_stream(stream: UnixStream, path: PathBuf, opts: ClientOptions) -> Client {
        let (rd, wr) = stream.into_split();
        let unspecified = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
        Self::from_halves(rd, wr, unspecified, unspecified, Some(path), opts)
    }

    /// Wraps a connected socket (for callers that connect themselves).
    pub fn from_stream(stream: TcpStream, opts: ClientOptions) -> io::Result<Client> {
        stream.set_nodelay(true)?;
        let peer = stream.peer_addr()?;
        let local = stream.local_addr()?;
        let (rd, wr) = stream.into_split();
        Ok(Self::from_halves(rd, wr, peer, local, None, opts))
    }

    fn from_halves<R, W>(
        rd: R,
        wr: W,
        peer: SocketAddr,
        local: SocketAddr,
        unix_path: Option<PathBuf>,
        opts: ClientOptions,
    ) -> Client
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let assoc_group = Arc::new(AtomicU32::new(0));
        let (closed_tx, closed) = watch::channel(false);
        let peer_text = match &unix_path {
            Some(p) => format!("unix:{}", p.display()),
            None => peer.to_string(),
        };
        let mut conn = ClientConnection::new(opts.config.clone());
        if let Some(auth) = &opts.auth {
            conn.set_auth((auth.provider)(), auth.level, auth.context_id);
        }
        let driver = Driver {
            conn,
            out: WriteQueue::default(),
            calls: FxHashMap::default(),
            waiting: Vec::new(),
            bind_in_flight: None,
            bind_queue: VecDeque::new(),
            assoc_group: assoc_group.clone(),
        };
        let shared = Arc::new(Mutex::new(Shared {
            driver,
            wr: Some(Box::new(wr)),
            reader: None,
            end_asked: None,
            ended: None,
            timer: None,
        }));
        tokio::spawn(read_loop(
            shared.clone(),
            rd,
            closed_tx,
            opts.send_timeout,
            peer_text,
        ));
        Client {
            inner: Arc::new(Inner {
                shared,
                call_timeout: opts.call_timeout,
                drep: opts.config.drep,
                limits: opts.decode_limits,
                peer,
                local,
                unix_path,
                assoc_group,
                closed,
                next_token: AtomicU64::new(1),
            }),
        }
    }

    /// Binds presentation contexts for `interfaces` now (interfaces already bound are
    /// skipped). Calls bind on first use anyway; this is for asking up front, e.g. to join
    /// an association group or check that the server offers an interface.
    pub async fn bind(&self, interfaces: &[SyntaxId]) -> Result<(), BindError> {
        let (reply, rx) = oneshot::channel();
        self.inner.submit(Command::Bind {
            syntaxes: interfaces.to_vec(),
            reply,
        });
        let answer = match self.inner.call_timeout {
            Some(t) => tokio::time::timeout(t, rx)
                .await
                .map_err(|_| BindError::Timeout)?,
            None => rx.await,
        };
        answer.map_err(|_| BindError::Transport("connection closed".into()))?
    }

    /// The association group the server placed this connection in (0 before the first bind).
    pub fn assoc_group_id(&self) -> u32 {
        self.inner.assoc_group.load(Ordering::Relaxed)
    }

    /// The server's address (`0.0.0.0:0` for a Unix domain socket connection: see
    /// [`Client::unix_path`]).
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.peer
    }

    /// Our address (`0.0.0.0:0` for a Unix domain socket connection).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// The socket path, for a connection made with [`Client::connect_unix`].
    pub fn unix_path(&self) -> Option<&Path> {
        self.inner.unix_path.as_deref()
    }

    /// True once the connection is closed.
    pub fn is_closed(&self) -> bool {
        *self.inner.closed.borrow() || lock(&self.inner.shared).ended.is_some()
    }

    /// Completes when the connection is closed (by either side or the network).
    pub async fn closed(&self) {
        let mut rx = self.inner.closed.clone();
        // An error means the driver is gone, which also means closed.
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Closes the connection now, without waiting for calls in progress (they fail with
    /// [`CallError::Transport`]; the server cancels them and runs down the association group
    /// if this was its last connection).
    pub fn close(&self) {
        self.inner.close("connection closed by the client");
    }
}

impl Inner {
    fn submit(&self, c: Command) {
        lock(&self.shared).submit(c);
    }

    fn close(&self, why: &str) {
        let mut g = lock(&self.shared);
        if g.ended.is_none() {
            g.end_asked.get_or_insert(End::Transport(why.to_string()));
            g.wake_reader();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last clone is gone: nobody can call any more.
        self.close("client dropped");
    }
}

/// Tells the driver a call's caller is gone (timeout or dropped future) unless disarmed.
struct AbandonOnDrop<'a> {
    inner: &'a Inner,
    token: u64,
    armed: bool,
}

impl Drop for AbandonOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.inner.submit(Command::Abandon { token: self.token });
        }
    }
}

impl Client {
    /// The transfer syntax of the accepted presentation context for `interface`, if bound.
    pub fn transfer_for(&self, interface: &SyntaxId) -> Option<TransferSyntax> {
        lock(&self.inner.shared).driver.conn.transfer_for(interface)
    }

    fn call(
        &self,
        syntax: SyntaxId,
        opnum: u16,
        object: Option<Uuid>,
        stub: Vec<u8>,
        transfer: Option<TransferSyntax>,
    ) -> BoxFuture<'_, Result<ResponseStub, CallError>> {
        Box::pin(async move {
            let token = self.inner.next_token.fetch_add(1, Ordering::Relaxed);
            let (reply, rx) = oneshot::channel();
            let deadline = self
                .inner
                .call_timeout
                .map(|t| tokio::time::Instant::now() + t);
            self.inner.submit(Command::Call(Waiting {
                token,
                syntax,
                transfer,
                opnum,
                object,
                stub,
                reply,
                deadline,
            }));
            let mut guard = AbandonOnDrop {
                inner: &self.inner,
                token,
                armed: true,
            };
            // The reader task answers with CallError::Timeout at the deadline.
            let answer = rx.await;
            guard.armed = false;
            answer.map_err(|_| CallError::Transport("connection closed".into()))?
        })
    }
}

impl Invoke for Client {
    /// Sends `stub` as it is on the accepted context for `syntax` (whatever its transfer
    /// syntax: the caller wrote the stub).
    fn invoke<'a>(
        &'a self,
        syntax: SyntaxId,
        opnum: u16,
        object: Option<Uuid>,
        stub: Vec<u8>,
        _drep: DataRep,
    ) -> BoxFuture<'a, Result<ResponseStub, CallError>> {
        self.call(syntax, opnum, object, stub, None)
    }

    /// Binds `interface` if needed (NDR20 and, with [`ClientConfig::offer_ndr64`], NDR64)
    /// and answers the transfer syntax the server accepted.
    fn transfer_syntax<'a>(
        &'a self,
        interface: SyntaxId,
    ) -> BoxFuture<'a, Result<TransferSyntax, CallError>> {
        Box::pin(async move {
            if let Some(t) = self.transfer_for(&interface) {
                return Ok(t);
            }
            self.bind(&[interface]).await.map_err(|e| match e {
                BindError::Rejected(_) | BindError::Nak(_) => CallError::NotBound(interface),
                BindError::Timeout => CallError::Timeout,
                other => CallError::Transport(other.to_string()),
            })?;
            self.transfer_for(&interface)
                .ok_or(CallError::NotBound(interface))
        })
    }

    /// Sends `stub` on the accepted context for `syntax`, which must be of transfer syntax
    /// `transfer` (a rebind to another syntax in between fails the call with `NotBound`).
    fn invoke_in<'a>(
        &'a self,
        syntax: SyntaxId,
        opnum: u16,
        object: Option<Uuid>,
        stub: Vec<u8>,
        _drep: DataRep,
        transfer: TransferSyntax,
    ) -> BoxFuture<'a, Result<ResponseStub, CallError>> {
        self.call(syntax, opnum, object, stub, Some(transfer))
    }

    fn drep(&self) -> DataRep {
        self.inner.drep
    }

    fn limits(&self) -> DecodeLimits {
        self.inner.limits
    }
}

/// A bind waiting to be sent or answered.
struct PendingBind {
    syntaxes: Vec<SyntaxId>,
    replies: Vec<BindReply>,
}

/// A call: submitted by its caller, then waiting for its interface to be bound or sent.
struct Waiting {
    token: u64,
    syntax: SyntaxId,
    /// The transfer syntax the stub was written in (`None`: sent on whatever was accepted).
    transfer: Option<TransferSyntax>,
    opnum: u16,
    object: Option<Uuid>,
    stub: Vec<u8>,
    reply: CallReply,
    /// When the call fails with [`CallError::Timeout`] (and is orphaned).
    deadline: Deadline,
}

/// Why the driver stopped.
enum End {
    Transport(String),
    Protocol(String),
}

impl End {
    fn call_error(&self) -> CallError {
        match self {
            End::Transport(t) => CallError::Transport(t.clone()),
            End::Protocol(p) => CallError::Protocol(p.clone()),
        }
    }

    fn bind_error(&self) -> BindError {
        match self {
            End::Transport(t) => BindError::Transport(t.clone()),
            End::Protocol(p) => BindError::Protocol(p.clone()),
        }
    }

    fn text(&self) -> &str {
        match self {
            End::Transport(t) | End::Protocol(t) => t,
        }
    }

    /// Answers a command that came after the end.
    fn refuse(&self, c: Command) {
        match c {
            Command::Call(Waiting { reply, .. }) => {
                let _ = reply.send(Err(self.call_error()));
            }
            Command::Bind { reply, .. } => {
                let _ = reply.send(Err(self.bind_error()));
            }
            Command::Abandon { .. } => {}
        }
    }
}

struct Driver {
    conn: ClientConnection,
    /// Fragments not yet written.
    out: WriteQueue,
    /// Calls sent: call_id -> (token, reply, deadline). (An abandoned call is found by its
    /// token with a scan: abandons are rare, lookups by call_id happen on every answer.)
    calls: FxHashMap<u32, (u64, CallReply, Deadline)>,
    waiting: Vec<Waiting>,
    bind_in_flight: Option<(u32, PendingBind)>,
    bind_queue: VecDeque<PendingBind>,
    assoc_group: Arc<AtomicU32>,
}

/// What woke the reader task.
enum Woke {
    Read(usize),
    /// The call timer fired.
    Timer,
    End(End),
}

/// The reader task: reads the socket into the protocol core, answers callers, finishes the
/// writes callers could not, enforces the send timeout, and ends the connection.
async fn read_loop<R: AsyncRead + Unpin>(
    shared: Arc<Mutex<Shared>>,
    mut rd: R,
    closed: watch::Sender<bool>,
    send_timeout: Duration,
    peer: String,
) {
    let mut buf = vec![0u8; READ_BUF];
    // The protocol core's events, one buffer for the connection's life.
    let mut events = Vec::new();
    // Since when queued bytes have waited without the socket taking any.
    let mut write_stalled: Option<tokio::time::Instant> = None;
    let deadline = tokio::time::sleep(send_timeout);
    tokio::pin!(deadline);
    // The call timer, armed at `Shared::timer`.
    let call_timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(call_timer);
    let mut call_timer_at: Deadline = None;
    let end = loop {
        let woke = poll_fn(|cx| {
            let mut g = lock(&shared);
            if let Some(end) = g.end_asked.take() {
                return Poll::Ready(Woke::End(end));
            }
            if !g.reader.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                g.reader = Some(cx.waker().clone());
            }
            let mut wrote = false;
            let Shared { driver, wr, .. } = &mut *g;
            if let Some(wr) = wr.as_mut() {
                while !driver.out.is_empty() {
                    match Pin::new(&mut *wr).poll_write(cx, driver.out.pending()) {
                        Poll::Ready(Ok(0)) => {
                            return Poll::Ready(Woke::End(End::Transport(
                                "write failed: the socket took no byte".into(),
                            )))
                        }
                        Poll::Ready(Ok(n)) => {
                            driver.out.advance(n);
                            wrote = true;
                        }
                        Poll::Ready(Err(e)) => {
                            return Poll::Ready(Woke::End(End::Transport(format!(
                                "write failed: {e}"
                            ))))
                        }
                        Poll::Pending => break,
                    }
                }
            }
            let writing = !driver.out.is_empty();
            let timer = g.timer;
            drop(g);
            if !writing {
                write_stalled = None;
            } else if wrote || write_stalled.is_none() {
                let now = tokio::time::Instant::now();
                write_stalled = Some(now);
                deadline.as_mut().reset(now + send_timeout);
            }
            // The read first: the timers are polled (and registered) only when it waits, and
            // tokio's cooperative budget makes it wait at least every 128 reads.
            let mut rb = ReadBuf::new(&mut buf);
            match Pin::new(&mut rd).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => return Poll::Ready(Woke::Read(rb.filled().len())),
                Poll::Ready(Err(e)) => {
                    return Poll::Ready(Woke::End(End::Transport(format!("read failed: {e}"))))
                }
                Poll::Pending => {}
            }
            if let Some(at) = timer {
                if call_timer_at != Some(at) {
                    call_timer.as_mut().reset(at);
                    call_timer_at = Some(at);
                }
                if call_timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Woke::Timer);
                }
            }
            if writing && deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Woke::End(End::Transport(
                    "send timed out (the peer does not read)".into(),
                )));
            }
            Poll::Pending
        })
        .await;
        let n = match woke {
            Woke::End(end) => break end,
            Woke::Timer => {
                let mut g = lock(&shared);
                let next = g.driver.expire(tokio::time::Instant::now());
                g.timer = next;
                call_timer_at = None;
                g.write_now();
                continue;
            }
            Woke::Read(0) => break End::Transport("the server closed the connection".into()),
            Woke::Read(n) => n,
        };
        let data = buf.get(..n).unwrap_or_default();
        let mut g = lock(&shared);
        let received = g.driver.conn.receive_into(data, &mut events);
        let mut shutdown = false;
        for ev in events.drain(..) {
            shutdown |= g.driver.event(ev);
        }
        match received {
            Ok(()) if shutdown => {
                break End::Transport("the server shut the association down".into())
            }
            Ok(()) => {}
            Err(ClientError::Closed) => break End::Transport("connection closed".into()),
            Err(e) => break End::Protocol(e.to_string()),
        }
        g.write_now();
    };
    closed.send_replace(true);
    tracing::debug!(peer = %peer, reason = %end.text(), "client connection ended");
    let (wr, pending) = {
        let mut g = lock(&shared);
        g.driver.fail_all(&end);
        g.reader = None;
        g.end_asked = None;
        let pending = g.driver.out.pending().to_vec();
        g.driver.out = WriteQueue::default();
        g.ended = Some(end);
        (g.wr.take(), pending)
    };
    // Best effort: what is still queued, then the write side.
    if let Some(mut wr) = wr {
        let _ = tokio::time::timeout(send_timeout, async {
            wr.write_all(&pending).await?;
            wr.shutdown().await
        })
        .await;
    }
}

impl Driver {
    /// Fails the calls whose deadline passed with [`CallError::Timeout`] (those sent are
    /// orphaned on the server); returns the earliest deadline left.
    fn expire(&mut self, now: tokio::time::Instant) -> Deadline {
        let due: Vec<u32> = self
            .calls
            .iter()
            .filter(|(_, (_, _, d))| d.is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for call_id in due {
            if let Some((_, reply, _)) = self.calls.remove(&call_id) {
                self.conn.orphan(call_id);
                tracing::debug!(call_id, "call timed out: orphaned");
                let _ = reply.send(Err(CallError::Timeout));
            }
        }
        let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|w| w.deadline.is_some_and(|d| d <= now));
        self.waiting = keep;
        for w in due {
            let _ = w.reply.send(Err(CallError::Timeout));
        }
        self.calls
            .values()
            .filter_map(|(_, _, d)| *d)
            .chain(self.waiting.iter().filter_map(|w| w.deadline))
            .min()
    }

    fn flush(&mut self) {
        while let Some(frame) = self.conn.poll_transmit() {
            self.out.send(frame);
        }
    }

    fn fail_all(&mut self, end: &End) {
        for (_, (_, reply, _)) in self.calls.drain() {
            let _ = reply.send(Err(end.call_error()));
        }
        for w in self.waiting.drain(..) {
            let _ = w.reply.send(Err(end.call_error()));
        }
        let binds = self
            .bind_in_flight
            .take()
            .map(|(_, b)| b)
            .into_iter()
            .chain(self.bind_queue.drain(..));
        for b in binds {
            for r in b.replies {
                let _ = r.send(Err(end.bind_error()));
            }
        }
    }

    fn command(&mut self, c: Command) {
        match c {
            Command::Call(w) => {
                let syntax = w.syntax;
                if self.conn.context_for(&syntax).is_some() {
                    self.send_call(w);
                } else {
                    self.waiting.push(w);
                    self.need_bind(syntax);
                }
            }
            Command::Bind { syntaxes, reply } => {
                let mut unbound: Vec<SyntaxId> = Vec::new();
                for s in syntaxes {
                    if self.conn.context_for(&s).is_none() && !unbound.contains(&s) {
                        unbound.push(s);
                    }
                }
                if unbound.is_empty() {
                    let _ = reply.send(Ok(()));
                } else {
                    self.bind_queue.push_back(PendingBind {
                        syntaxes: unbound,
                        replies: vec![reply],
                    });
                    self.next_bind();
                }
            }
            Command::Abandon { token } => {
                let sent = self
                    .calls
                    .iter()
                    .find(|(_, (t, _, _))| *t == token)
                    .map(|(id, _)| *id);
                if let Some(call_id) = sent {
                    self.calls.remove(&call_id);
                    self.conn.orphan(call_id);
                    tracing::debug!(call_id, "call abandoned: orphaned");
                } else {
                    self.waiting.retain(|w| w.token != token);
                }
            }
        }
    }

    fn send_call(&mut self, w: Waiting) {
        if let Some(t) = w.transfer {
            if self.conn.transfer_for(&w.syntax) != Some(t) {
                let _ = w.reply.send(Err(CallError::NotBound(w.syntax)));
                return;
            }
        }
        match self.conn.request(&w.syntax, w.opnum, w.object, &w.stub) {
            Ok(call_id) => {
                self.calls.insert(call_id, (w.token, w.reply, w.deadline));
            }
            Err(e) => {
                let err = match e {
                    ClientError::NotBound(s) => CallError::NotBound(s),
                    ClientError::Closed => CallError::Transport("connection closed".into()),
                    e => CallError::Protocol(e.to_string()),
                };
                let _ = w.reply.send(Err(err));
            }
        }
    }

    /// Makes sure a bind for `syntax` is in flight or queued.
    fn need_bind(&mut self, syntax: SyntaxId) {
        let pending = self
            .bind_in_flight
            .iter()
            .map(|(_, b)| b)
            .chain(self.bind_queue.iter())
            .any(|b| b.syntaxes.contains(&syntax));
        if !pending {
            // Calls for several new interfaces share one queued bind.
            match self.bind_queue.back_mut() {
                Some(b) if b.replies.is_empty() => b.syntaxes.push(syntax),
                _ => self.bind_queue.push_back(PendingBind {
                    syntaxes: vec![syntax],
                    replies: Vec::new(),
                }),
            }
        }
        self.next_bind();
    }

    /// Sends the next queued bind when none is in flight.
    fn next_bind(&mut self) {
        while self.bind_in_flight.is_none() {
            let Some(mut b) = self.bind_queue.pop_front() else {
                return;
            };
            b.syntaxes.retain(|s| self.conn.context_for(s).is_none());
            if b.syntaxes.is_empty() {
                for r in b.replies {
                    let _ = r.send(Ok(()));
                }
                self.retry_waiting(&[]);
                continue;
            }
            match self.conn.bind(&b.syntaxes) {
                Ok(call_id) => self.bind_in_flight = Some((call_id, b)),
                Err(e) => {
                    let err = match e {
                        ClientError::Closed => BindError::Transport("connection closed".into()),
                        e => BindError::Protocol(e.to_string()),
                    };
                    self.finish_bind(b, Err(err));
                }
            }
        }
    }

    /// Answers a finished bind's waiters and the calls that waited for its interfaces.
    fn finish_bind(&mut self, b: PendingBind, result: Result<(), BindError>) {
        for r in b.replies {
            let _ = r.send(result.clone());
        }
        match result {
            Ok(()) => self.retry_waiting(&b.syntaxes),
            Err(e) => {
                let (failed, keep): (Vec<_>, Vec<_>) = self
                    .waiting
                    .drain(..)
                    .partition(|w| b.syntaxes.contains(&w.syntax));
                self.waiting = keep;
                for w in failed {
                    let _ = w.reply.send(Err(e.to_call_error(w.syntax)));
                }
            }
        }
    }

    /// Sends the waiting calls whose interface is now bound; fails those whose interface was
    /// in `finished` (a completed bind) and is still not bound.
    fn retry_waiting(&mut self, finished: &[SyntaxId]) {
        let waiting = std::mem::take(&mut self.waiting);
        for w in waiting {
            if self.conn.context_for(&w.syntax).is_some() {
                self.send_call(w);
            } else if finished.contains(&w.syntax) {
                let _ = w.reply.send(Err(CallError::NotBound(w.syntax)));
            } else {
                self.waiting.push(w);
            }
        }
    }

    /// Handles one event; true when the server shut the association down.
    fn event(&mut self, ev: ClientEvent) -> bool {
        match ev {
            ClientEvent::Bound {
                call_id, results, ..
            } => {
                self.assoc_group
                    .store(self.conn.assoc_group_id(), Ordering::Relaxed);
                match self.bind_in_flight.take() {
                    Some((id, b)) if id == call_id => {
                        // An interface offered in two contexts (NDR20, NDR64) is bound when
                        // either was accepted.
                        let rejected: Vec<(SyntaxId, ProviderReason)> = results
                            .iter()
                            .filter(|(s, r)| {
                                r.result != ContextResult::ACCEPTANCE
                                    && self.conn.context_for(s).is_none()
                            })
                            .map(|(s, r)| (*s, r.reason))
                            .collect();
                        let result = if rejected.is_empty() {
                            Ok(())
                        } else {
                            Err(BindError::Rejected(rejected))
                        };
                        for r in b.replies {
                            let _ = r.send(result.clone());
                        }
                        self.retry_waiting(&b.syntaxes);
                        self.next_bind();
                    }
                    other => self.bind_in_flight = other,
                }
            }
            ClientEvent::BindNak { call_id, reason } => {
                tracing::debug!(call_id, ?reason, "bind_nak");
                match self.bind_in_flight.take() {
                    Some((id, b)) if id == call_id => {
                        self.finish_bind(b, Err(BindError::Nak(reason)));
                        self.next_bind();
                    }
                    other => self.bind_in_flight = other,
                }
            }
            ClientEvent::Response {
                call_id,
                stub,
                drep,
            } => {
                if let Some((_, reply, _)) = self.calls.remove(&call_id) {
                    let _ = reply.send(Ok(ResponseStub { stub, drep }));
                }
            }
            ClientEvent::Fault {
                call_id, status, ..
            } => {
                if let Some((_, reply, _)) = self.calls.remove(&call_id) {
                    let _ = reply.send(Err(CallError::Fault(status)));
                } else {
                    match self.bind_in_flight.take() {
                        Some((id, b)) if id == call_id => {
                            self.finish_bind(b, Err(BindError::Fault(status)));
                            self.next_bind();
                        }
                        other => {
                            self.bind_in_flight = other;
                            tracing::debug!(call_id, %status, "fault for no known call");
                        }
                    }
                }
            }
            ClientEvent::Shutdown => return true,
        }
        false
    }
}
