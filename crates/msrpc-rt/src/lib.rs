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
//! # What it does not do
//! - Only `ncacn_ip_tcp`: no named pipes (`ncacn_np`), no HTTP, no UDP (`ncadg_ip_udp`),
//!   no local (`ncalrpc`) transport yet.
//! - No authentication mechanism of its own: a server may be given a factory of
//!   [`SecurityProvider`](msrpc_proto::security::SecurityProvider)s
//!   ([`ServerBuilder::security`]); the client binds unauthenticated.
//! - It does not register endpoints with an endpoint mapper; [`Client::connect_via_epm`] only
//!   asks one (`ept_map`).
//! - Logging goes through `tracing`; installing a subscriber is the application's business.
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod binding;
mod client;
mod epm;
mod io;
mod limits;
mod server;
mod server_conn;
mod sleeper;

pub use binding::{Binding, BindingError};
pub use client::{BindError, Client, ClientOptions, ConnectError};
pub use epm::EPM_PORT;
pub use limits::{Limits, DEFAULT_DYNAMIC_PORTS};
pub use server::{
    ConnEvent, Observer, SecurityFactory, Server, ServerBuilder, ServerHandle, StartError,
};
pub use sleeper::TokioSleeper;
