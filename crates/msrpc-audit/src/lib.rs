//! Typed audit events for DCE/RPC traffic, shared by the live daemon and the offline analyzer.
//!
//! One [`Event`] describes one thing that happened on one connection: it opened or closed, a
//! bind was answered, a call completed, an authentication leg succeeded or failed, the policy
//! refused a call, the peer sent malformed input, or a detector raised an alert. Events are
//! plain data (serde), produced from the protocol core's `ServerEvent`s by the runtime and from
//! decoded captures by the analyzer, so both paths feed the same detectors and write the same
//! records. Field names follow Zeek's `dce_rpc.log` where they overlap (`ts`, `uid`,
//! `id.orig_h`, `id.orig_p`, `id.resp_h`, `id.resp_p`, `rtt`, `endpoint`, `operation`).
//!
//! This crate does no IO beyond writing to a caller-supplied `std::io::Write`; it never
//! parses network input itself (the producers do, with `msrpc-proto`'s decoders).

pub mod event;

pub use event::{AuthOutcome, BindContext, ConnId, Event, EventKind};
