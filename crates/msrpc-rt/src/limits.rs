//! Server limits.

use std::ops::RangeInclusive;
use std::time::Duration;

use msrpc_ndr::DecodeLimits;
use msrpc_proto::reassembly::DEFAULT_MAX_STUB;

/// The IANA dynamic port range (49152 to 65535), where Windows also places dynamic RPC
/// endpoints; a listen address with port 0 takes a free port from it.
pub const DEFAULT_DYNAMIC_PORTS: RangeInclusive<u16> = 49152..=65535;

/// What one [`Server`](crate::Server) allows its peers. Every field has a default sized for a
/// server on the open network; tests shrink the timeouts.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Connections open at once, over all endpoints. A connection beyond it is accepted and
    /// closed at once. Default 4096.
    pub max_connections: usize,
    /// Cap on a reassembled request stub, and on all reassemblies in progress on one
    /// connection together (`ServerConfig::max_stub`). Default 4 MiB.
    pub max_stub: usize,
    /// Largest fragment accepted (the client may lower it). Default 5840.
    pub max_recv_frag: u16,
    /// Largest fragment sent (the client may lower it). Default 5840.
    pub max_xmit_frag: u16,
    /// Calls one connection may have outstanding (being reassembled or dispatched); more are
    /// refused with `nca_s_server_too_busy`. Default 64.
    pub max_outstanding_calls: usize,
    /// Presentation contexts one connection may hold. Default 64.
    pub max_contexts: usize,
    /// A connection that received no byte, sent no byte and had no call running for this long
    /// is closed. Default 300 s.
    pub idle_timeout: Duration,
    /// A fragment whose first byte arrived must be complete within this time, or the
    /// connection is closed (a slow sender holding a buffer). Default 30 s.
    pub fragment_timeout: Duration,
    /// Writing a batch of outgoing fragments must finish within this time (a peer that stops
    /// reading), or the connection is closed. Default 30 s.
    pub send_timeout: Duration,
    /// On [`ServerHandle::shutdown`](crate::ServerHandle::shutdown), how long calls in
    /// progress may run before they are cancelled. Default 10 s.
    pub shutdown_grace: Duration,
    /// Limits for decoding request stubs (given to every dispatch).
    pub decode: DecodeLimits,
    /// Security contexts one connection may hold (`ServerConfig::max_auth_contexts`: each
    /// alter_context with a new `auth_context_id` starts one; Impacket's DCOM client starts
    /// one per interface switch). Default 4.
    pub max_auth_contexts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            max_stub: DEFAULT_MAX_STUB,
            max_recv_frag: 5840,
            max_xmit_frag: 5840,
            max_outstanding_calls: 64,
            max_contexts: 64,
            idle_timeout: Duration::from_secs(300),
            fragment_timeout: Duration::from_secs(30),
            send_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            decode: DecodeLimits::DEFAULT,
            max_auth_contexts: 4,
        }
    }
}
