//! The tokio runtime of msrpc: DCE/RPC over TCP (`ncacn_ip_tcp`) with a [`Server`] that hosts
//! [`Dispatch`](msrpc_proto::dispatch::Dispatch) services and a [`Client`] that generated
//! client stubs call through ([`Invoke`](msrpc_proto::dispatch::Invoke)).
//!
//! All protocol logic (PDUs, fragmentation, reassembly, binds, faults) lives in the sans-IO
//! `msrpc-proto`; this crate only moves bytes between sockets and its state machines, runs
//! service calls as tokio tasks, keeps time (idle, slow-sender, call and connect timeouts) and
//! keeps the state shared by the connections of one server (association groups, their
//! rundown, connection limits).
//!
//! # Server
//! ```no_run
//! # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
//! use msrpc_echo::{EchoService, RpcechoServer};
//! use msrpc_rt::{Server, TokioSleeper};
//!
//! let server = Server::builder()
//!     .listen("127.0.0.1:0".parse()?) // port 0: a free port of the dynamic range
//!     .service(RpcechoServer::new(EchoService::new(TokioSleeper)))
//!     .start()
//!     .await?;
//! println!("listening on {:?}", server.local_addrs());
//! server.handle().shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Client
//! ```no_run
//! # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
//! use msrpc_echo::{AddOneRequest, RpcechoClient};
//! use msrpc_rt::{Binding, Client, ClientOptions};
//!
//! let binding = Binding::parse("ncacn_ip_tcp:127.0.0.1[49152]")?;
//! let client = Client::connect(&binding, ClientOptions::default()).await?;
//! let echo = RpcechoClient::new(client);
//! let r = echo.add_one(AddOneRequest { in_data: 41 }).await?;
//! assert_eq!(r.out_data, 42);
//! # Ok(()) }
//! ```
//!
//! # Security policy
//! [`ServerBuilder::policy`] takes an `msrpc_policy::PolicyHandle`: every request is checked
//! against it before dispatch (minimum auth level per interface, RestrictRemoteClients-like
//! modes, the EPM lookup policy, filters, per-interface security callbacks); a refused call is
//! answered with a fault `ACCESS_DENIED` and reported as [`ConnEvent::PolicyDecision`]. The
//! handle can be replaced while the server runs.
//!
//! # Local channel and endpoint registration
//! A server may also listen on a Unix domain socket ([`ServerBuilder::listen_unix`]): the
//! same protocol, but its calls are marked local, which is what the endpoint mapper requires
//! of `ept_insert`. [`Client::connect_unix`] connects there, and [`registration`] keeps a
//! service's endpoints registered with the local endpoint mapper (`msrpcd`) through it
//! ([`Server::register_with`]).
//!
//! # What it does not do
//! - `ncacn_ip_tcp`, the Unix domain socket channel and connectionless `ncadg_ip_udp`
//!   ([`ServerBuilder::listen_udp`], [`UdpClient`]; unauthenticated): no named pipes
//!   (`ncacn_np`), no HTTP, no Windows `ncalrpc`. Unix only.
//! - No authentication mechanism of its own: a server may be given a factory of
//!   [`SecurityProvider`](msrpc_proto::security::SecurityProvider)s
//!   ([`ServerBuilder::security`]); the client binds unauthenticated.
//! - [`Client::connect_via_epm`] asks an endpoint mapper over TCP (`ept_map`); registering
//!   goes through the local socket only ([`registration`]).
//! - Logging goes through `tracing`; installing a subscriber is the application's business.
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod addr;
mod binding;
mod client;
mod epm;
mod io;
mod limits;
pub mod registration;
mod server;
mod server_conn;
mod sleeper;
mod udp;

pub use addr::{LocalAddr, PeerAddr};
pub use binding::{Binding, BindingError, Protseq};
pub use client::{BindError, Client, ClientAuth, ClientOptions, ConnectError};
pub use epm::EPM_PORT;
pub use limits::{Limits, DEFAULT_DYNAMIC_PORTS};
pub use registration::{Registration, RegistrationOptions, RegistrationState, RegistrationStatus};
pub use server::{
    ConnEvent, Observer, SecurityFactory, Server, ServerBuilder, ServerHandle, StartError,
    CALL_DONE_STUB_MAX, UNIX_SOCKET_MODE,
};
pub use sleeper::TokioSleeper;
pub use udp::{default_idempotent, UdpClient, UdpClientOptions};
