//! Sans-IO core of connection-oriented DCE/RPC (C706 chapter 12, MS-RPCE 2.2.2 and 3.3): PDUs,
//! fragmentation and bounded reassembly, presentation-context negotiation, client and server
//! association state machines, the [`security::SecurityProvider`] seam for authentication, and the
//! dispatch traits that generated interface stubs target.
//!
//! # What it does not do
//! No sockets, no tokio, no clock: callers feed bytes and a `now` and take bytes and events.
//! Connectionless (UDP) DCE/RPC has its own module, [`cl`]; authentication mechanisms
//! themselves live elsewhere.
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod cl;
pub mod client;
pub mod dispatch;
pub mod handles;
pub mod pdu;
pub mod reassembly;
pub mod security;
pub mod server;
pub mod verification;

pub use msrpc_ndr as ndr;
pub use pdu::SyntaxId;
