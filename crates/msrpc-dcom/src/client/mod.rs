//! The DCOM client over `msrpc-rt` (feature `rt`), MS-DCOM 3.2:
//!
//! - host discovery with `IObjectExporter::ServerAlive2` ([`server_alive2`], 3.1.2.5.1.6), the
//!   call network scanners make on port 135 to learn a host's COM version and addresses;
//! - activation ([`activate`]: `IRemoteSCMActivator::RemoteCreateInstance`, 3.1.2.5.2.3.3) and
//!   the choice of the object exporter's address ([`choose_exporter`]);
//! - the exporter ([`Exporter`]: its `IRemUnknown2`, RemQueryInterface, RemAddRef, RemRelease)
//!   and owned interface handles ([`ComRef`]): dropping one gives its references back through
//!   a background task that batches `RemRelease`s (`Drop` never blocks), and an object's last
//!   handle takes its OID out of the ping set; [`ComRef::release`] does it now and returns the
//!   result, [`ComRef::add_ref`] takes another reference, [`ComRef::client`] builds the
//!   interface's generated client (any `#[interface(orpc)]`, a [`crate::ComInterface`]);
//! - pinging (3.2.6.1, over the sans-IO [`crate::ping::PingSet`]): [`Pinger`], one ping on a
//!   connection the caller holds, and [`PingTask`], the background task per resolver that
//!   pings on a timer (ComplexPing for changes, SimplePing otherwise, retries, the server's
//!   backoff factor), stops when no OID remains, and counts its failures ([`PingStats`]);
//! - [`DcomClient`], which puts these together: `create_instance` activates, connects to the
//!   exporter and returns the handles, with one ping task per resolver.
//!
//! Every wait is bounded: connects by [`ClientOptions::connect_timeout`], binds and calls by
//! [`ClientOptions::call_timeout`], whole exchanges by a `timeout` argument or
//! [`DcomConfig`], background releases and pings by their own timeouts. Background failures
//! are counted ([`ReleaseStats`], [`PingStats`]), never a panic.

use std::net::SocketAddr;
use std::time::Duration;

use msrpc_proto::dispatch::CallError;
use msrpc_rt::{Client, ClientOptions, ConnectError};

use crate::activation::{
    ActivationBlob, ActivationContextInfoData, ActivationLimits, InstantiationInfoData,
    LocationInfoData, Property, RemoteRequestScmInfo, ScmRequestInfoData,
};
use crate::activator::{RemoteCreateInstanceRequest, RemoteScmActivatorClient};
use crate::dualstring::{BindingLimits, Bindings, TOWER_NCACN_IP_TCP};
use crate::error::DcomError;
use crate::hresult::HResult;
use crate::ids::{Clsid, Iid, Ipid, Oxid};
use crate::objref::ObjRef;
use crate::orpc::{ComVersion, OrpcThis};
use crate::resolver::{ObjectExporterClient, ServerAlive2Request};

mod exporter;
mod pinger;
mod session;

pub use exporter::{ComRef, Exporter, ExporterOptions, ReleaseStats};
pub use pinger::{PingConfig, PingStats, PingTask, Pinger};
pub use session::{DcomClient, DcomConfig, Instance};

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
    /// A handle is for another interface than the one asked for.
    #[error("the reference is for interface {held}, not {asked}")]
    WrongInterface {
        /// The IID the handle holds.
        held: Iid,
        /// The IID asked for.
        asked: Iid,
    },
    /// A background task (releases, pings) failed or is gone.
    #[error("{what}: {message}")]
    Background {
        /// Which task.
        what: &'static str,
        /// What happened.
        message: String,
    },
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

/// One interface an activation returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivatedInterface {
    /// The IID asked for.
    pub iid: Iid,
    /// Its result (`S_OK`, `E_NOINTERFACE`, ...).
    pub hresult: HResult,
    /// The marshaled interface pointer, when the result is a success and it decoded.
    pub objref: Option<ObjRef>,
}

/// What `RemoteCreateInstance` answered: how to reach the object exporter and the interfaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activated {
    /// The activator's address.
    pub peer: SocketAddr,
    /// The object exporter's OXID.
    pub oxid: Oxid,
    /// The exporter's string and security bindings.
    pub bindings: Bindings,
    /// The IPID of the exporter's IRemUnknown.
    pub ipid_rem_unknown: Ipid,
    /// The lowest authentication level the exporter accepts (`authnHint`).
    pub authn_hint: u32,
    /// The exporter's COM version.
    pub server_version: ComVersion,
    /// One entry per IID asked for, in order.
    pub interfaces: Vec<ActivatedInterface>,
}

/// The `pActProperties` of an activation: InstantiationInfo (`clsid`, `iids`, client version
/// 5.7), ActivationContextInfo (no contexts), ServerLocationInfo (empty) and ScmRequestInfo
/// (one requested protocol sequence: `ncacn_ip_tcp`, tower 7), as Windows' and Impacket's
/// clients send them (MS-DCOM 3.2.4.1.1.1).
pub fn activation_properties(clsid: Clsid, iids: &[Iid]) -> Result<ActivationBlob, DcomError> {
    Ok(ActivationBlob::new(vec![
        Property::InstantiationInfo(InstantiationInfoData::new(clsid, iids.to_vec())?),
        Property::ActivationContextInfo(ActivationContextInfoData::default()),
        Property::LocationInfo(LocationInfoData::default()),
        Property::ScmRequestInfo(ScmRequestInfoData {
            pdw_reserved: msrpc_ndr::Unique::null(),
            remote_request: msrpc_ndr::Unique::new(RemoteRequestScmInfo {
                client_imp_level: 0,
                c_requested_protseqs: 1,
                requested_protseqs: msrpc_ndr::Unique::new(vec![TOWER_NCACN_IP_TCP]),
            }),
        }),
    ]))
}

/// Activates `clsid` for `iids` on the activator at `host:port` (135 on Windows) with
/// `RemoteCreateInstance`, all within `timeout`. `opts.auth` authenticates the call: Windows
/// requires packet integrity or more (since KB5004442). Fails on a transport error, a fault, a
/// failed HRESULT, or a reply without PropsOutInfo and ScmReplyInfo. The interfaces' own
/// HRESULTs are returned, not judged.
pub async fn activate(
    host: &str,
    port: u16,
    clsid: Clsid,
    iids: &[Iid],
    opts: ClientOptions,
    timeout: Duration,
) -> Result<Activated, ClientError> {
    let attempt = async {
        let client = Client::connect_host(host, port, opts).await?;
        let r = activate_on(&client, clsid, iids).await;
        client.close();
        r
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| ClientError::Timeout(timeout))?
}

/// [`activate`] on a connection already made to an activator.
pub async fn activate_on(
    client: &Client,
    clsid: Clsid,
    iids: &[Iid],
) -> Result<Activated, ClientError> {
    let what = "RemoteCreateInstance";
    let props = activation_properties(clsid, iids)?.to_interface_pointer(true)?;
    let resp = RemoteScmActivatorClient::new(client.clone())
        .remote_create_instance(RemoteCreateInstanceRequest {
            // Flags 1 (ORPCF_LOCAL), as Windows' clients (the shared captures) and Impacket send.
            orpcthis: OrpcThis {
                flags: 1,
                ..OrpcThis::new(uuid::Uuid::new_v4())
            },
            unk_outer: msrpc_ndr::Unique::null(),
            act_properties: msrpc_ndr::Unique::new(props),
        })
        .await
        .map_err(|source| ClientError::Call { what, source })?;
    if !resp.result.is_success() {
        return Err(ClientError::Status {
            what,
            status: resp.result.0,
        });
    }
    let Some(out) = resp.act_properties_out.get() else {
        return Err(DcomError::Invalid("RemoteCreateInstance: no ActivationPropertiesOut").into());
    };
    let blob = ActivationBlob::from_interface_pointer(out, &ActivationLimits::DEFAULT)?;
    let Some(remote) = blob.scm_reply_info().and_then(|r| r.remote_reply.get()) else {
        return Err(DcomError::Invalid("activation reply: no ScmReplyInfo remote reply").into());
    };
    let Some(props_out) = blob.props_out_info() else {
        return Err(DcomError::Invalid("activation reply: no PropsOutInfo").into());
    };
    let bindings = match remote.oxid_bindings.get() {
        Some(d) => d.parse(&BindingLimits::DEFAULT)?,
        None => Bindings::default(),
    };
    let out_iids = props_out.iids.get().map(Vec::as_slice).unwrap_or_default();
    let hresults = props_out
        .hresults
        .get()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let pointers = props_out
        .interface_data
        .get()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let interfaces = iids
        .iter()
        .enumerate()
        .map(|(i, iid)| {
            let hresult = hresults
                .get(i)
                .copied()
                .unwrap_or(crate::hresult::HResult::E_NOINTERFACE);
            let objref = pointers
                .get(i)
                .and_then(|p| p.get())
                .filter(|_| hresult.is_success())
                .and_then(|p| ObjRef::decode(&p.data).ok());
            ActivatedInterface {
                iid: out_iids.get(i).copied().unwrap_or(*iid),
                hresult,
                objref,
            }
        })
        .collect();
    Ok(Activated {
        peer: client.peer_addr(),
        oxid: remote.oxid,
        bindings,
        ipid_rem_unknown: remote.ipid_rem_unknown,
        authn_hint: remote.authn_hint,
        server_version: remote.server_version,
        interfaces,
    })
}

/// Where an object exporter was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExporterAddr {
    /// Host name or address to connect to.
    pub host: String,
    /// Port.
    pub port: u16,
    /// True when no advertised binding was reachable and the dialled host was used with the
    /// advertised port (NAT, names that do not resolve here).
    pub fallback: bool,
}

/// Splits a string binding's network address `HOST[PORT]` (no `[PORT]`: 135). IPv6 addresses
/// carry no brackets of their own in DUALSTRINGARRAYs.
pub fn split_network_addr(addr: &str) -> Option<(String, u16)> {
    match addr.strip_suffix(']').and_then(|a| a.rsplit_once('[')) {
        Some((host, port)) => {
            let port = port.parse::<u16>().ok()?;
            (!host.is_empty()).then(|| (host.to_string(), port))
        }
        None => (!addr.is_empty() && !addr.contains('[')).then(|| (addr.to_string(), 135)),
    }
}

/// Chooses how to reach an object exporter from its `bindings` (MS-DCOM 3.2.4.1.1.2): the
/// `ncacn_ip_tcp` bindings in the server's order, the first whose host resolves and accepts a
/// TCP connection within `connect_timeout`; when none does, `dialled` (the address the
/// activation reached) with the first advertised port, unverified. `None` when no
/// `ncacn_ip_tcp` binding names a port.
pub async fn choose_exporter(
    dialled: &str,
    bindings: &Bindings,
    connect_timeout: Duration,
) -> Option<ExporterAddr> {
    let candidates: Vec<(String, u16)> = bindings
        .strings
        .iter()
        .filter(|b| b.tower_id == TOWER_NCACN_IP_TCP)
        .filter_map(|b| split_network_addr(&b.network_addr))
        .collect();
    let first_port = candidates.first().map(|c| c.1)?;
    for (host, port) in &candidates {
        let probe = async {
            let addrs = tokio::net::lookup_host((host.as_str(), *port)).await.ok()?;
            for a in addrs {
                if tokio::net::TcpStream::connect(a).await.is_ok() {
                    return Some(());
                }
            }
            None
        };
        if let Ok(Some(())) = tokio::time::timeout(connect_timeout, probe).await {
            return Some(ExporterAddr {
                host: host.clone(),
                port: *port,
                fallback: false,
            });
        }
    }
    Some(ExporterAddr {
        host: dialled.to_string(),
        port: first_port,
        fallback: true,
    })
}
