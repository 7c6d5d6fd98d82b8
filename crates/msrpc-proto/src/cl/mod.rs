//! Connectionless DCE/RPC (`ncadg_*`, C706 chapters 10 and 12.5, MS-RPCE 2.2.3 and 3.2),
//! sans-IO: the PDU codec ([`pdu`]), fragmentation ([`frag`]), the conversation callback's
//! stubs ([`conv`]), the server ([`server`], with its anti-reflection rules) and the client
//! ([`client`]).
//!
//! # What it does not do
//! No sockets and no clock: callers feed datagrams and a `now` and take datagrams and events.
//! Authentication of connectionless calls (verifiers, the `conv_who_are_you_auth` callback) is
//! not implemented: a verifier is carried as opaque bytes.

pub mod client;
pub mod conv;
pub mod frag;
pub mod pdu;
pub mod server;
