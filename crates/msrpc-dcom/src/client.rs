//! The DCOM client over `msrpc-rt` (feature `rt`): host discovery with
//! `IObjectExporter::ServerAlive2` (MS-DCOM 3.1.2.5.1.6), the call network scanners make on
//! port 135 to learn a host's COM version and every network address it advertises.
//!
//! Every wait is bounded: the connect by [`ClientOptions::connect_timeout`], the bind and call
//! by [`ClientOptions::call_timeout`], and the whole exchange by the `timeout` argument.

use std::net::SocketAddr;
use std::time::Duration;

use msrpc_proto::dispatch::CallError;
use msrpc_rt::{Client, ClientOptions, ConnectError};

use crate::dualstring::{BindingLimits, Bindings};
use crate::error::DcomError;
use crate::orpc::ComVersion;
use crate::resolver::{ObjectExporterClient, ServerAlive2Request};

/// The port of the OXID resolver (and endpoint mapper) on every Windows host.
pub const RESOLVER_PORT: u16 = 135;

/// Why a DCOM client operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The TCP connection could not be made.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The call failed (fault, bind rejected, transport, timeout, undecodable response).
    #[error("{what}: {source}")]
    Call {
        /// The operation.
        what: &'static str,
        /// The error.
        source: CallError,
    },
    /// The operation answered an error status (an `error_status_t` or HRESULT).
    #[error("{what} answered status {status:#010x}")]
    Status {
        /// The operation.
        what: &'static str,
        /// The status.
        status: u32,
    },
    /// The server's answer is not valid DCOM (bindings that do not parse, ...).
    #[error("invalid answer: {0}")]
    Invalid(#[from] DcomError),
    /// The whole exchange took longer than allowed.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// What `ServerAlive2` tells about a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliveInfo {
    /// The address the connection reached.
    pub peer: SocketAddr,
    /// The resolver's COM version (5.7 on current Windows).
    pub com_version: ComVersion,
    /// The resolver's string bindings (the host's names and addresses, without endpoints) and
    /// security bindings (the authentication services it accepts), in the server's order.
    pub bindings: Bindings,
}

impl AliveInfo {
    /// The network addresses of `ncacn_ip_tcp` string bindings (tower 7), in order, without
    /// duplicates: the host's names and IP addresses.
    pub fn tcp_addresses(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for b in &self.bindings.strings {
            if b.tower_id == crate::dualstring::TOWER_NCACN_IP_TCP
                && !out.contains(&b.network_addr.as_str())
            {
                out.push(&b.network_addr);
            }
        }
        out
    }
}

/// Connects to `host:port` (the resolver listens on [`RESOLVER_PORT`]) and calls
/// `ServerAlive2` (with `opts.auth`, if any; Windows answers it unauthenticated), all within
/// `timeout`.
pub async fn server_alive2(
    host: &str,
    port: u16,
    opts: ClientOptions,
    timeout: Duration,
) -> Result<AliveInfo, ClientError> {
    let attempt = async {
        let client = Client::connect_host(host, port, opts).await?;
        let r = server_alive2_on(&client).await;
        client.close();
        r
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| ClientError::Timeout(timeout))?
}

/// Calls `ServerAlive2` on a connection already made to a resolver.
pub async fn server_alive2_on(client: &Client) -> Result<AliveInfo, ClientError> {
    let what = "ServerAlive2";
    let resp = ObjectExporterClient::new(client.clone())
        .server_alive2(ServerAlive2Request {})
        .await
        .map_err(|source| ClientError::Call { what, source })?;
    if resp.result != 0 {
        return Err(ClientError::Status {
            what,
            status: resp.result,
        });
    }
    let bindings = match resp.or_bindings.get() {
        Some(dsa) => dsa.parse(&BindingLimits::DEFAULT)?,
        None => Bindings::default(),
    };
    Ok(AliveInfo {
        peer: client.peer_addr(),
        com_version: resp.com_version,
        bindings,
    })
}
