//! Registering a service's endpoints with the local endpoint mapper (`msrpcd`) over its Unix
//! domain socket.
//!
//! # Protocol
//! The registration channel is plain DCE/RPC over a Unix domain socket: the endpoint mapper
//! serves its usual `ept` interface there, and the server marks every call on that socket
//! [`CallContext::local`](msrpc_proto::dispatch::CallContext::local), which is what lets
//! `ept_insert` / `ept_delete` through (over TCP they are refused with access denied).
//!
//! 1. The service connects to the socket and calls `ept_insert` with its entries and
//!    `replace = 1` (an entry for the same interface, transfer syntax and protocol sequence,
//!    left by an earlier run, is replaced).
//! 2. It keeps the connection open: the endpoint mapper files the entries under the
//!    connection's association group and removes them when that group ends, i.e. when the
//!    service exits or crashes (the kernel closes the socket). A keep-alive call
//!    (`ept_inq_object`, every [`RegistrationOptions::keepalive`]) keeps the connection
//!    clear of the server's idle timeout and notices a hung daemon.
//! 3. When the connection is lost (the daemon restarted), it reconnects and registers again,
//!    waiting [`RegistrationOptions::initial_backoff`] (100 ms) doubling up to
//!    [`RegistrationOptions::max_backoff`] (5 s) between attempts.
//! 4. [`Registration::stop`] calls `ept_delete` for the entries, then closes the connection.
//!    Dropping the [`Registration`] closes the connection without `ept_delete` (the daemon
//!    removes the entries all the same).
//!
//! ```no_run
//! # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
//! use msrpc_echo::{EchoService, RpcechoServer};
//! use msrpc_rt::{Server, TokioSleeper};
//!
//! let server = Server::builder()
//!     .listen("0.0.0.0:0".parse()?)
//!     .service(RpcechoServer::new(EchoService::new(TokioSleeper)))
//!     .start()
//!     .await?;
//! let registration = server.register_with("/run/msrpcd/epm.sock", "rpcecho")?;
//! registration.wait_registered().await;
//! // ... serve ...
//! registration.stop().await?;
//! # Ok(()) }
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use msrpc_epm::mgmt::MgmtInterface;
use msrpc_epm::{
    EptClient, EptDeleteRequest, EptEntry, EptInqObjectRequest, EptInsertRequest, EptInterface,
    NewEntry, Tower, TowerError,
};
use msrpc_ndr::Unique;
use msrpc_proto::dispatch::{CallError, Interface};
use msrpc_proto::pdu::SyntaxId;
use tokio::sync::{oneshot, watch};

use crate::client::{Client, ClientOptions};
use crate::server::{Server, ServerHandle};

/// How a [`Registration`] connects, keeps its connection and retries.
#[derive(Clone, Debug)]
pub struct RegistrationOptions {
    /// The first wait after a failed attempt or a lost connection. Default 100 ms.
    pub initial_backoff: Duration,
    /// The wait doubles after each failed attempt up to this. Default 5 s.
    pub max_backoff: Duration,
    /// Interval of the keep-alive call on an idle registration connection. Keep it well
    /// below the endpoint mapper's idle timeout (300 s by default). Default 30 s.
    pub keepalive: Duration,
    /// Connect and call settings (timeouts).
    pub client: ClientOptions,
}

impl Default for RegistrationOptions {
    fn default() -> Self {
        RegistrationOptions {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            keepalive: Duration::from_secs(30),
            client: ClientOptions {
                connect_timeout: Duration::from_secs(5),
                call_timeout: Some(Duration::from_secs(10)),
                ..ClientOptions::default()
            },
        }
    }
}

/// Where a [`Registration`] stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationState {
    /// Not registered: connecting, or waiting to retry (see
    /// [`RegistrationStatus::last_error`]).
    Connecting,
    /// The entries are registered and the connection that holds them is open.
    Registered,
    /// The endpoint mapper answered `ept_insert` with this non-zero status (for example
    /// `ept_s_invalid_entry`); retried after the backoff.
    Refused(u32),
    /// [`Registration::stop`] ran, or the [`Registration`] was dropped.
    Stopped,
}

/// A snapshot of a [`Registration`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationStatus {
    /// The state.
    pub state: RegistrationState,
    /// How many times the entries were registered: 1 after the first success, one more after
    /// each re-registration (the daemon restarted).
    pub registrations: u64,
    /// The last failure since the last success (connect error, call error, lost connection).
    pub last_error: Option<String>,
}

/// Why a registration could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// [`Registration::start`] was called outside a tokio runtime.
    #[error("a registration must be started within a tokio runtime")]
    NoRuntime,
    /// An entry's tower does not encode.
    #[error("entry {index}: {source}")]
    Tower {
        /// The entry's position.
        index: usize,
        /// Why.
        source: TowerError,
    },
    /// The `ept_delete` call of [`Registration::stop`] failed (the connection is closed all
    /// the same, which removes the entries).
    #[error("ept_delete: {0}")]
    Call(CallError),
    /// `ept_delete` answered this non-zero status (for example `ept_s_not_registered` when
    /// another registrant replaced an entry meanwhile).
    #[error("ept_delete answered status {0:#x}")]
    Status(u32),
    /// The registration task ended unexpectedly.
    #[error("the registration task is gone")]
    TaskGone,
}

type StopReply = oneshot::Sender<Result<(), RegistrationError>>;

/// A service's registration with the local endpoint mapper, kept up by a background task
/// (see the [module documentation](self) for the protocol).
#[derive(Debug)]
pub struct Registration {
    path: PathBuf,
    status: watch::Receiver<RegistrationStatus>,
    stop: Option<oneshot::Sender<StopReply>>,
}

impl Registration {
    /// Starts registering `entries` with the endpoint mapper at `socket_path` with the default
    /// [`RegistrationOptions`]. Returns at once; the task connects, registers, and keeps
    /// doing so until [`stop`](Self::stop) or drop. Must be called within a tokio runtime.
    pub fn start(
        socket_path: impl Into<PathBuf>,
        entries: Vec<NewEntry>,
    ) -> Result<Registration, RegistrationError> {
        Self::start_with(socket_path, entries, RegistrationOptions::default())
    }

    /// [`start`](Self::start) with explicit options.
    pub fn start_with(
        socket_path: impl Into<PathBuf>,
        entries: Vec<NewEntry>,
        opts: RegistrationOptions,
    ) -> Result<Registration, RegistrationError> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| RegistrationError::NoRuntime)?;
        let wire = entries
            .iter()
            .enumerate()
            .map(|(index, e)| {
                let twr = e
                    .tower
                    .to_twr()
                    .map_err(|source| RegistrationError::Tower { index, source })?;
                Ok(EptEntry {
                    object: e.object,
                    tower: Unique::new(twr),
                    annotation: e.annotation.clone(),
                })
            })
            .collect::<Result<Vec<_>, RegistrationError>>()?;
        let path = socket_path.into();
        let (status_tx, status) = watch::channel(RegistrationStatus {
            state: RegistrationState::Connecting,
            registrations: 0,
            last_error: None,
        });
        let (stop, stop_rx) = oneshot::channel();
        let task = Task {
            path: path.clone(),
            entries: wire.into(),
            opts,
            status: status_tx,
        };
        runtime.spawn(task.run(stop_rx));
        Ok(Registration {
            path,
            status,
            stop: Some(stop),
        })
    }

    /// The endpoint mapper's socket.
    pub fn socket_path(&self) -> &Path {
        &self.path
    }

    /// The current status.
    pub fn status(&self) -> RegistrationStatus {
        self.status.borrow().clone()
    }

    /// True while the entries are registered.
    pub fn is_registered(&self) -> bool {
        self.status.borrow().state == RegistrationState::Registered
    }

    /// A receiver of every status change (to log re-registrations, for example).
    pub fn subscribe(&self) -> watch::Receiver<RegistrationStatus> {
        self.status.clone()
    }

    /// Completes once the entries are registered (at once if they are); wrap it in a timeout
    /// when the daemon may be absent. Completes too if the registration stops.
    pub async fn wait_registered(&self) {
        let mut rx = self.status.clone();
        let _ = rx
            .wait_for(|s| {
                matches!(
                    s.state,
                    RegistrationState::Registered | RegistrationState::Stopped
                )
            })
            .await;
    }

    /// Unregisters (`ept_delete` of the entries, when registered) and closes the connection.
    /// The entries are gone from the map afterwards even when this returns an error.
    pub async fn stop(mut self) -> Result<(), RegistrationError> {
        let Some(stop) = self.stop.take() else {
            return Ok(());
        };
        let (reply, answer) = oneshot::channel();
        stop.send(reply).map_err(|_| RegistrationError::TaskGone)?;
        answer.await.map_err(|_| RegistrationError::TaskGone)?
    }
}

/// The background task of a [`Registration`].
struct Task {
    path: PathBuf,
    entries: Arc<[EptEntry]>,
    opts: RegistrationOptions,
    status: watch::Sender<RegistrationStatus>,
}

/// How a held registration ended.
enum Hold {
    /// `stop()` asked (with its reply), or the [`Registration`] was dropped (`None`).
    Stop(Option<StopReply>),
    /// The connection was lost.
    Lost(String),
}

/// Why an attempt to register failed.
enum Attempt {
    Failed(String),
    Refused(u32),
}

impl Task {
    async fn run(self, mut stop_rx: oneshot::Receiver<StopReply>) {
        let mut backoff = self.opts.initial_backoff;
        loop {
            match self.register().await {
                Ok(client) => {
                    backoff = self.opts.initial_backoff;
                    self.status.send_modify(|s| {
                        s.state = RegistrationState::Registered;
                        s.registrations += 1;
                        s.last_error = None;
                    });
                    tracing::info!(path = %self.path.display(), entries = self.entries.len(), "registered with the endpoint mapper");
                    match self.hold(&client, &mut stop_rx).await {
                        Hold::Stop(reply) => {
                            let result = match reply {
                                Some(_) => self.unregister(&client).await,
                                None => Ok(()),
                            };
                            client.close();
                            self.stopped();
                            if let Some(reply) = reply {
                                let _ = reply.send(result);
                            }
                            return;
                        }
                        Hold::Lost(why) => {
                            tracing::warn!(path = %self.path.display(), reason = %why, "lost the endpoint mapper connection: registering again");
                            client.close();
                            self.failed(RegistrationState::Connecting, why);
                        }
                    }
                }
                Err(Attempt::Failed(why)) => {
                    tracing::debug!(path = %self.path.display(), error = %why, retry_in = ?backoff, "cannot register");
                    self.failed(RegistrationState::Connecting, why);
                }
                Err(Attempt::Refused(status)) => {
                    tracing::warn!(path = %self.path.display(), status = format_args!("{status:#x}"), "the endpoint mapper refused the registration");
                    self.failed(
                        RegistrationState::Refused(status),
                        format!("ept_insert answered status {status:#x}"),
                    );
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                r = &mut stop_rx => {
                    self.stopped();
                    if let Ok(reply) = r {
                        let _ = reply.send(Ok(()));
                    }
                    return;
                }
            }
            backoff = backoff.saturating_mul(2).min(self.opts.max_backoff);
        }
    }

    fn failed(&self, state: RegistrationState, why: String) {
        self.status.send_modify(|s| {
            s.state = state;
            s.last_error = Some(why);
        });
    }

    fn stopped(&self) {
        self.status
            .send_modify(|s| s.state = RegistrationState::Stopped);
    }

    /// Connects and calls `ept_insert`; the connection holds the registration.
    async fn register(&self) -> Result<Client, Attempt> {
        let client = Client::connect_unix(&self.path, self.opts.client.clone())
            .await
            .map_err(|e| Attempt::Failed(e.to_string()))?;
        let req = EptInsertRequest {
            num_ents: count(self.entries.len()),
            entries: self.entries.to_vec(),
            replace: 1,
        };
        let resp = EptClient::new(client.clone()).ept_insert(req).await;
        match resp {
            Ok(r) if r.status == 0 => Ok(client),
            Ok(r) => {
                client.close();
                Err(Attempt::Refused(r.status))
            }
            Err(e) => {
                client.close();
                Err(Attempt::Failed(format!("ept_insert: {e}")))
            }
        }
    }

    /// Keeps the registration until the connection is lost or a stop is asked.
    async fn hold(&self, client: &Client, stop_rx: &mut oneshot::Receiver<StopReply>) -> Hold {
        let ept = EptClient::new(client.clone());
        loop {
            tokio::select! {
                r = &mut *stop_rx => return Hold::Stop(r.ok()),
                _ = client.closed() => return Hold::Lost("the endpoint mapper closed the connection".into()),
                _ = tokio::time::sleep(self.opts.keepalive) => {
                    if let Err(e) = ept.ept_inq_object(EptInqObjectRequest {}).await {
                        return Hold::Lost(format!("keep-alive call failed: {e}"));
                    }
                }
            }
        }
    }

    async fn unregister(&self, client: &Client) -> Result<(), RegistrationError> {
        let req = EptDeleteRequest {
            num_ents: count(self.entries.len()),
            entries: self.entries.to_vec(),
        };
        let r = EptClient::new(client.clone())
            .ept_delete(req)
            .await
            .map_err(RegistrationError::Call)?;
        match r.status {
            0 => Ok(()),
            s => Err(RegistrationError::Status(s)),
        }
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Whether an interface is left out of a server's endpoint-map entries: the endpoint mapper
/// itself and mgmt, which every endpoint serves (Windows registers neither).
fn unregistered_interface(s: &SyntaxId) -> bool {
    s.uuid == EptInterface::SYNTAX.uuid || s.uuid == MgmtInterface::SYNTAX.uuid
}

/// The endpoint-map entries of a server with `interfaces` on the TCP endpoints `addrs`: see
/// [`Server::epm_entries`].
pub fn tcp_entries(
    interfaces: &[SyntaxId],
    addrs: &[SocketAddr],
    annotation: &str,
) -> Vec<NewEntry> {
    let mut out = Vec::new();
    for interface in interfaces.iter().filter(|s| !unregistered_interface(s)) {
        for addr in addrs {
            let IpAddr::V4(ip) = addr.ip() else {
                continue;
            };
            let tower = Tower::ncacn_ip_tcp(*interface, SyntaxId::NDR20, ip, addr.port());
            out.push(NewEntry::new(msrpc_ndr::Uuid::nil(), tower, annotation));
        }
    }
    out
}

/// The `ncadg_ip_udp` endpoint-map entries of a server with `interfaces` on the UDP
/// endpoints `addrs` (floor 4: RPC connectionless, 0x0a; floor 5: UDP, 0x08), with the same
/// rules as [`tcp_entries`].
pub fn udp_entries(
    interfaces: &[SyntaxId],
    addrs: &[SocketAddr],
    annotation: &str,
) -> Vec<NewEntry> {
    let mut out = Vec::new();
    for interface in interfaces.iter().filter(|s| !unregistered_interface(s)) {
        for addr in addrs {
            let IpAddr::V4(ip) = addr.ip() else {
                continue;
            };
            let tower = Tower::ncadg_ip_udp(*interface, SyntaxId::NDR20, ip, addr.port());
            out.push(NewEntry::new(msrpc_ndr::Uuid::nil(), tower, annotation));
        }
    }
    out
}

impl ServerHandle {
    /// The endpoint-map entries for this server: see [`Server::epm_entries`].
    pub fn epm_entries(&self, annotation: &str) -> Vec<NewEntry> {
        let mut e = tcp_entries(&self.interfaces(), &self.local_addrs(), annotation);
        e.extend(udp_entries(
            &self.interfaces(),
            &self.udp_addrs(),
            annotation,
        ));
        e
    }
}

impl Server {
    /// The endpoint-map entries for this server: for every hosted interface, one
    /// `ncacn_ip_tcp` tower per IPv4 TCP endpoint (interface, NDR 2.0, RPC connection-oriented,
    /// the endpoint's port, its IP address, `0.0.0.0` for a wildcard endpoint), with the nil
    /// object and `annotation`, and the same with an `ncadg_ip_udp` tower per IPv4 UDP
    /// endpoint ([`ServerBuilder::listen_udp`](crate::ServerBuilder::listen_udp)). Left out: the endpoint mapper and mgmt interfaces (every
    /// endpoint serves mgmt; neither is registered, as on Windows) and IPv6 endpoints (a
    /// tower's address floor is IPv4; clients reach an IPv6 endpoint at the port an IPv4
    /// entry names).
    pub fn epm_entries(&self, annotation: &str) -> Vec<NewEntry> {
        self.handle().epm_entries(annotation)
    }

    /// Registers [`epm_entries`](Self::epm_entries) with the endpoint mapper listening on
    /// `socket_path` (see [`Registration`]).
    pub fn register_with(
        &self,
        socket_path: impl Into<PathBuf>,
        annotation: &str,
    ) -> Result<Registration, RegistrationError> {
        Registration::start(socket_path, self.epm_entries(annotation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use msrpc_epm::tower::Endpoint;
    use msrpc_ndr::Uuid;

    #[test]
    fn entries_cover_ipv4_endpoints_and_skip_ept_and_mgmt() {
        let echo = SyntaxId::new(
            Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182),
            1,
            0,
        );
        let addrs: Vec<SocketAddr> = ["0.0.0.0:49200", "[::]:49200", "127.0.0.2:49201"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let e = tcp_entries(
            &[EptInterface::SYNTAX, echo, MgmtInterface::SYNTAX],
            &addrs,
            "x",
        );
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].tower.interface(), Some(echo));
        assert_eq!(e[0].tower.transfer_syntax(), Some(SyntaxId::NDR20));
        assert_eq!(e[0].tower.endpoint(), Some(Endpoint::Port(49200)));
        assert_eq!(
            e[0].tower.binding_string().unwrap(),
            "ncacn_ip_tcp:0.0.0.0[49200]"
        );
        assert_eq!(
            e[1].tower.binding_string().unwrap(),
            "ncacn_ip_tcp:127.0.0.2[49201]"
        );
        assert_eq!(e[1].annotation, "x");
    }
}
