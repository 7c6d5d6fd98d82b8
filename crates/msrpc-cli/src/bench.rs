//! `msrpc bench`: a closed-loop RPC load generator.
//!
//! Each of `--conns` connections calls the operation back to back for `--warmup` seconds
//! (not measured), then `--duration` seconds, or until `--max-calls` measured calls were made
//! over all connections. Connections are made before the clock starts.

use std::net::Ipv4Addr;
use std::str::FromStr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use clap::Args;
use msrpc_echo::{AddOneRequest, EchoDataRequest, RpcechoClient, RpcechoInterface};
use msrpc_epm::mgmt::{IsServerListeningRequest, MgmtClient};
use msrpc_epm::status::{EPT_S_NOT_REGISTERED, RPC_S_OK};
use msrpc_epm::tower::Tower;
use msrpc_epm::{
    EptClient, EptInterface, EptLookupHandleFreeRequest, EptLookupRequest, EptMapRequest, Twr,
    RPC_C_EP_ALL_ELTS, RPC_C_VERS_ALL,
};
use msrpc_ndr::{ContextHandle, Unique, Uuid};
use msrpc_proto::dispatch::{CallError, Interface};
use msrpc_proto::pdu::SyntaxId;
use msrpc_rt::{Binding, Client, Protseq, UdpClient};

use crate::call::MAX_PAYLOAD;
use crate::fail::{describe_call_error, status_text, Failure};
use crate::stats::{self, CallOutcome, Plan, ReportHead};
use crate::target::{client_options, display_addr, parse_target, udp_options, Conn};
use crate::Global;

/// Request and response PDU header bytes of a connection-oriented request/response (C706
/// 12.6.4.9-10: 16-byte common header plus 8 bytes), without an object UUID or auth.
const PDU_HEADER: usize = 24;
/// The connectionless header (C706 12.5.3.1), for `ncadg_ip_udp` bindings.
const CL_HEADER: usize = 80;
/// Sizes are reported only for calls that surely fit one fragment (C706's must-receive size).
const ONE_FRAGMENT: usize = 1432;

/// `msrpc bench` arguments.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The server: a string binding, HOST or HOST:PORT. Without a port, echo operations ask the
    /// endpoint mapper; mgmt and ept operations use the endpoint mapper's port.
    pub binding: String,
    /// Connections, each with its own closed loop.
    #[arg(long, default_value_t = 1)]
    pub conns: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Operation: mgmt-is-listening, ept-map, ept-lookup, echo-add-one, echo-data:SIZE.
    #[arg(long, default_value = "mgmt-is-listening")]
    pub op: BenchOp,
    /// Seconds of calls before measuring.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Measured calls over all connections, at most (`--calls N` with a long `--duration`
    /// makes exactly N calls).
    #[arg(long, visible_alias = "calls", default_value_t = 10_000_000)]
    pub max_calls: u64,
    /// The interface `ept-map` asks for: UUID[/MAJOR.MINOR], a well-known name, or
    /// `synthetic:N` (element N of `msrpc bench-register`). Default: the endpoint mapper's own.
    #[arg(long, value_name = "INTERFACE")]
    pub map_interface: Option<String>,
}

/// What `bench` calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchOp {
    /// mgmt `is_server_listening`.
    MgmtIsListening,
    /// `ept_map` of the endpoint mapper's own interface over `ncacn_ip_tcp`.
    EptMap,
    /// `ept_lookup` of up to 500 entries from the start (freeing a live handle).
    EptLookup,
    /// rpcecho `AddOne`.
    EchoAddOne,
    /// rpcecho `EchoData` with this many bytes.
    EchoData(u32),
}

impl FromStr for BenchOp {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "mgmt-is-listening" => BenchOp::MgmtIsListening,
            "ept-map" => BenchOp::EptMap,
            "ept-lookup" => BenchOp::EptLookup,
            "echo-add-one" => BenchOp::EchoAddOne,
            other => match other.strip_prefix("echo-data:") {
                Some(n) => match n.parse::<u32>() {
                    Ok(v) if v <= MAX_PAYLOAD => BenchOp::EchoData(v),
                    _ => return Err(format!("echo-data:SIZE needs a size of 0 to {MAX_PAYLOAD}")),
                },
                None => {
                    return Err(format!(
                        "unknown operation `{other}`: expected mgmt-is-listening, ept-map, \
                         ept-lookup, echo-add-one or echo-data:SIZE"
                    ))
                }
            },
        })
    }
}

impl std::fmt::Display for BenchOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BenchOp::MgmtIsListening => f.write_str("mgmt-is-listening"),
            BenchOp::EptMap => f.write_str("ept-map"),
            BenchOp::EptLookup => f.write_str("ept-lookup"),
            BenchOp::EchoAddOne => f.write_str("echo-add-one"),
            BenchOp::EchoData(n) => write!(f, "echo-data:{n}"),
        }
    }
}

impl BenchOp {
    /// True for rpcecho operations (resolved through the endpoint mapper without a port).
    fn is_echo(self) -> bool {
        matches!(self, BenchOp::EchoAddOne | BenchOp::EchoData(_))
    }

    /// Request and response stub sizes, when fixed.
    fn stub_sizes(self) -> Option<(usize, usize)> {
        match self {
            // No in parameters; status + boolean32 back.
            BenchOp::MgmtIsListening => Some((0, 8)),
            BenchOp::EchoAddOne => Some((4, 4)),
            // len + conformance + bytes; conformance + bytes back.
            BenchOp::EchoData(n) => {
                let n = usize::try_from(n).ok()?;
                Some((8 + n, 4 + n))
            }
            BenchOp::EptMap | BenchOp::EptLookup => None,
        }
    }

    /// Request and response PDU sizes when each surely is one fragment (`udp`: the
    /// connectionless header).
    fn pdu_sizes(self, udp: bool) -> Option<(usize, usize)> {
        let (a, b) = self.stub_sizes()?;
        let h = if udp { CL_HEADER } else { PDU_HEADER };
        let (a, b) = (h + a, h + b);
        (a <= ONE_FRAGMENT && b <= ONE_FRAGMENT).then_some((a, b))
    }
}

/// Per-connection state of a benchmark loop.
#[derive(Clone)]
struct Caller {
    client: Conn,
    op: BenchOp,
    map_tower: Twr,
    data: Arc<Vec<u8>>,
}

fn outcome_of(client: &Conn, e: &CallError) -> CallOutcome {
    CallOutcome::Err {
        message: describe_call_error(e),
        fatal: client.is_closed(),
    }
}

impl Caller {
    async fn call(&self) -> CallOutcome {
        let c = &self.client;
        match self.op {
            BenchOp::MgmtIsListening => {
                match MgmtClient::new(c.clone())
                    .is_server_listening(IsServerListeningRequest {})
                    .await
                {
                    Ok(r) if r.status == RPC_S_OK => CallOutcome::Ok,
                    Ok(r) => CallOutcome::Err {
                        message: format!("status {}", status_text(r.status)),
                        fatal: false,
                    },
                    Err(e) => outcome_of(c, &e),
                }
            }
            BenchOp::EchoAddOne => {
                match RpcechoClient::new(c.clone())
                    .add_one(AddOneRequest { in_data: 41 })
                    .await
                {
                    Ok(r) if r.out_data == 42 => CallOutcome::Ok,
                    Ok(r) => CallOutcome::Err {
                        message: format!("AddOne(41) returned {}", r.out_data),
                        fatal: false,
                    },
                    Err(e) => outcome_of(c, &e),
                }
            }
            BenchOp::EchoData(n) => {
                let req = EchoDataRequest {
                    len: n,
                    in_data: self.data.as_ref().clone(),
                };
                match RpcechoClient::new(c.clone()).echo_data(req).await {
                    Ok(r) if r.out_data.len() == self.data.len() => CallOutcome::Ok,
                    Ok(r) => CallOutcome::Err {
                        message: format!("EchoData returned {} bytes", r.out_data.len()),
                        fatal: false,
                    },
                    Err(e) => outcome_of(c, &e),
                }
            }
            BenchOp::EptMap => {
                let req = EptMapRequest {
                    object: Unique::new(Uuid::nil()),
                    map_tower: Unique::new(self.map_tower.clone()),
                    entry_handle: ContextHandle::NULL,
                    max_towers: 4,
                };
                let ept = EptClient::new(c.clone());
                match ept.ept_map(req).await {
                    Ok(r) => {
                        free_handle(&ept, r.entry_handle).await;
                        match r.status {
                            RPC_S_OK | EPT_S_NOT_REGISTERED => CallOutcome::Ok,
                            s => CallOutcome::Err {
                                message: format!("ept_map status {}", status_text(s)),
                                fatal: false,
                            },
                        }
                    }
                    Err(e) => outcome_of(c, &e),
                }
            }
            BenchOp::EptLookup => {
                let req = EptLookupRequest {
                    inquiry_type: RPC_C_EP_ALL_ELTS,
                    object: Unique::null(),
                    interface_id: Unique::null(),
                    vers_option: RPC_C_VERS_ALL,
                    entry_handle: ContextHandle::NULL,
                    max_ents: crate::dump::MAX_ENTS,
                };
                let ept = EptClient::new(c.clone());
                match ept.ept_lookup(req).await {
                    Ok(r) => {
                        free_handle(&ept, r.entry_handle).await;
                        match r.status {
                            RPC_S_OK | EPT_S_NOT_REGISTERED => CallOutcome::Ok,
                            s => CallOutcome::Err {
                                message: format!("ept_lookup status {}", status_text(s)),
                                fatal: false,
                            },
                        }
                    }
                    Err(e) => outcome_of(c, &e),
                }
            }
        }
    }
}

impl stats::LoadOp for Caller {
    fn call(&mut self) -> impl std::future::Future<Output = CallOutcome> + Send + '_ {
        Caller::call(self)
    }
}

async fn free_handle(ept: &EptClient<Conn>, handle: ContextHandle) {
    if !handle.is_null() {
        let _ = ept
            .ept_lookup_handle_free(EptLookupHandleFreeRequest {
                entry_handle: handle,
            })
            .await;
    }
}

/// Connects `n` clients to `b` (resolving `interface` through the endpoint mapper when the
/// binding names no port, once). For an `ncadg_ip_udp` binding, `n` UDP clients (each its own
/// activity and socket).
async fn connect_all(
    g: &Global,
    b: &Binding,
    interface: SyntaxId,
    use_epm_port: bool,
    n: usize,
) -> Result<(Vec<Conn>, u16), Failure> {
    if b.protseq == Protseq::IpUdp {
        let o = udp_options(g, b);
        let first = match (b.port, use_epm_port) {
            (Some(p), _) => UdpClient::connect_host(&b.host, p, o.clone()).await,
            (None, true) => UdpClient::connect_host(&b.host, g.epm_port, o.clone()).await,
            (None, false) => {
                UdpClient::connect_via_epm(&b.host, g.epm_port, interface, o.clone()).await
            }
        }
        .map_err(Failure::connecting)?;
        let addr = first.server_addr();
        let mut clients = vec![Conn::Udp(first)];
        for _ in 1..n {
            clients.push(Conn::Udp(UdpClient::new(addr, o.clone())));
        }
        return Ok((clients, addr.port()));
    }
    let mut opts = client_options(g);
    b.apply_to(&mut opts.config);
    let first = match (b.port, use_epm_port) {
        (Some(p), _) => Client::connect_host(&b.host, p, opts.clone()).await,
        (None, true) => Client::connect_host(&b.host, g.epm_port, opts.clone()).await,
        (None, false) => Client::connect_via_epm(&b.host, interface, opts.clone()).await,
    }
    .map_err(Failure::connecting)?;
    let port = first.peer_addr().port();
    let mut clients = vec![Conn::Tcp(first)];
    let mut pending = tokio::task::JoinSet::new();
    for _ in 1..n {
        let host = b.host.clone();
        let opts = opts.clone();
        pending.spawn(async move { Client::connect_host(&host, port, opts).await });
    }
    while let Some(r) = pending.join_next().await {
        match r {
            Ok(Ok(c)) => clients.push(Conn::Tcp(c)),
            Ok(Err(e)) => return Err(Failure::connecting(e)),
            Err(e) => return Err(Failure::connect(format!("connect task: {e}"))),
        }
    }
    Ok((clients, port))
}

/// Runs `msrpc bench`.
pub async fn run(g: &Global, a: BenchArgs) -> Result<(), Failure> {
    let b = parse_target(&a.binding)?;
    let (duration, warmup) = stats::check_load(a.conns, a.duration, a.warmup, a.max_calls)?;
    let interface = if a.op.is_echo() {
        RpcechoInterface::SYNTAX
    } else {
        EptInterface::SYNTAX
    };
    let (clients, port) = connect_all(g, &b, interface, !a.op.is_echo(), a.conns).await?;
    let map_interface = match a.map_interface.as_deref() {
        None => EptInterface::SYNTAX,
        Some(t) => match t.strip_prefix("synthetic:") {
            Some(n) => crate::register::synthetic_interface(
                n.parse()
                    .map_err(|_| Failure::usage(format!("--map-interface: bad number `{n}`")))?,
            ),
            None => crate::target::parse_interface(t)?,
        },
    };
    let map_tower = Tower::ncacn_ip_tcp(map_interface, SyntaxId::NDR20, Ipv4Addr::UNSPECIFIED, 0)
        .to_twr()
        .map_err(|e| Failure::usage(format!("map tower: {e}")))?;
    let data = Arc::new(match a.op {
        BenchOp::EchoData(n) => (0..n).map(|i| (i & 0xff) as u8).collect(),
        _ => Vec::new(),
    });
    // One call per connection before the clock starts binds the interface, and shows a
    // server that refuses the operation before any load.
    let probe = Caller {
        client: clients
            .first()
            .cloned()
            .ok_or_else(|| Failure::usage("no connection"))?,
        op: a.op,
        map_tower: map_tower.clone(),
        data: Arc::clone(&data),
    };
    if let CallOutcome::Err { message, fatal } = probe.call().await {
        let exit_code = if fatal {
            crate::fail::Exit::Connect
        } else {
            crate::fail::Exit::Refused
        };
        return Err(Failure::new(
            exit_code,
            anyhow::anyhow!("{} refused before the run: {message}", a.op),
        ));
    }
    let plan = Plan::new(warmup, duration, a.max_calls);
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for client in &clients {
        let caller = Caller {
            client: client.clone(),
            op: a.op,
            map_tower: map_tower.clone(),
            data: Arc::clone(&data),
        };
        let counter = Arc::clone(&counter);
        tasks.spawn(async move {
            let mut caller = caller;
            stats::closed_loop(plan, counter, &mut caller).await
        });
    }
    let mut results = Vec::with_capacity(clients.len());
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(res) => results.push(res),
            Err(e) => return Err(Failure::connect(format!("load task failed: {e}"))),
        }
    }
    for c in &clients {
        c.close();
    }
    let sizes = a.op.pdu_sizes(b.protseq == Protseq::IpUdp);
    let report = stats::report(
        ReportHead {
            mode: "rpc",
            op: a.op.to_string(),
            target: display_addr(&b.host, port),
            request_bytes: sizes.map(|s| s.0),
            response_bytes: sizes.map(|s| s.1),
            duration,
            warmup,
        },
        plan,
        results,
    );
    stats::publish(&report, g.json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_parse_and_print() {
        for s in [
            "mgmt-is-listening",
            "ept-map",
            "ept-lookup",
            "echo-add-one",
            "echo-data:64",
        ] {
            assert_eq!(
                s.parse::<BenchOp>().map(|o| o.to_string()),
                Ok(s.to_string())
            );
        }
        assert!("echo-data:x".parse::<BenchOp>().is_err());
        assert!("nope".parse::<BenchOp>().is_err());
        assert_eq!(BenchOp::MgmtIsListening.pdu_sizes(false), Some((24, 32)));
        assert_eq!(BenchOp::EchoAddOne.pdu_sizes(true), Some((84, 84)));
        assert_eq!(BenchOp::EchoData(64).pdu_sizes(false), Some((96, 92)));
        assert_eq!(BenchOp::EchoData(4096).pdu_sizes(false), None);
    }
}
