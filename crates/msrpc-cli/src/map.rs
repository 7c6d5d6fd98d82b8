//! `msrpc map`: the interfaces a server offers on one endpoint.
//!
//! First `mgmt inq_if_ids` (every DCE/RPC server is supposed to export mgmt); when that
//! fails (fault, mgmt not bound, error status) or with `--brute`, a bind probe of every
//! version of every well-known interface ([`msrpc_epm::known`]), like Impacket's rpcmap:
//! one alter_context per interface ([`PROBE_BATCH`]) on one connection; what the server
//! accepts is offered. One at a time because Samba (4.17) accepts only one of several new
//! contexts offered in one bind/alter_context and rejects the others even when it serves
//! them. A probe the connection cannot carry (bind_nak, fault, broken connection, a context
//! refused for a local limit) is retried on a fresh connection.

use std::io::IsTerminal;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use msrpc_epm::known;
use msrpc_epm::mgmt::{InqIfIdsRequest, MgmtClient};
use msrpc_proto::pdu::{ProviderReason, SyntaxId};
use msrpc_rt::{BindError, Client};
use serde::Serialize;

use crate::fail::{describe_call_error, status_text, Failure};
use crate::output::{description_or_na, name_or_na, print_json, InterfaceJson};
use crate::target::{client_options, connect_or_epm, display_addr, parse_target};
use crate::Global;

/// Interfaces offered in one alter_context while probing (see the module docs for why 1).
pub const PROBE_BATCH: usize = 1;
/// Fresh connections a probe run may open for retries.
const MAX_RECONNECTS: usize = 64;
/// The longest a probe run may take.
pub const PROBE_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// `msrpc map` arguments.
#[derive(Args, Debug)]
pub struct MapArgs {
    /// The endpoint: a string binding, HOST or HOST:PORT (without a port: the endpoint mapper's).
    pub binding: String,
    /// Probe every well-known interface with binds even when mgmt answers.
    #[arg(long)]
    pub brute: bool,
}

/// What probing found.
#[derive(Debug, Default)]
pub struct Probe {
    /// Accepted interfaces.
    pub accepted: Vec<SyntaxId>,
    /// Interface/version pairs tried.
    pub tried: usize,
    /// Probes that could not be answered (connection failures), with why.
    pub errors: Vec<(SyntaxId, String)>,
}

/// Every interface/version pair of the well-known table.
pub fn candidates() -> Vec<SyntaxId> {
    known::all()
        .iter()
        .flat_map(|k| {
            k.versions
                .iter()
                .map(move |(maj, min)| SyntaxId::new(k.uuid, *maj, *min))
        })
        .collect()
}

fn progress(len: usize) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(
        Some(len as u64),
        if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) = ProgressStyle::with_template("probing {bar:40} {pos}/{len} {msg}") {
        pb.set_style(style);
    }
    pb
}

/// Binds each of `candidates` on connections to `host:port` and returns those accepted.
pub async fn probe(g: &Global, host: &str, port: u16, candidates: &[SyntaxId]) -> Probe {
    let pb = progress(candidates.len());
    let mut out = Probe {
        tried: candidates.len(),
        ..Probe::default()
    };
    let mut reconnects = 0usize;
    let mut client: Option<Client> = None;
    let deadline = std::time::Instant::now() + PROBE_TIME_LIMIT;
    for batch in candidates.chunks(PROBE_BATCH) {
        if std::time::Instant::now() >= deadline {
            let why = format!("not probed: {} s time limit", PROBE_TIME_LIMIT.as_secs());
            out.errors.extend(batch.iter().map(|s| (*s, why.clone())));
            continue;
        }
        let mut retry: Vec<SyntaxId> = Vec::new();
        match connection(g, host, port, &mut client, &mut reconnects).await {
            Err(e) => out.errors.extend(batch.iter().map(|s| (*s, e.clone()))),
            Ok(c) => match c.bind(batch).await {
                Ok(()) => out.accepted.extend_from_slice(batch),
                Err(BindError::Rejected(rejected)) => {
                    for s in batch {
                        match rejected.iter().find(|(r, _)| r == s) {
                            None => out.accepted.push(*s),
                            Some((_, reason))
                                if *reason == ProviderReason::LOCAL_LIMIT_EXCEEDED =>
                            {
                                retry.push(*s)
                            }
                            Some(_) => {}
                        }
                    }
                    if !retry.is_empty() {
                        // The connection is full: later batches need a new one.
                        client = None;
                    }
                }
                Err(_) => {
                    client = None;
                    retry.extend_from_slice(batch);
                }
            },
        }
        // One at a time on fresh connections.
        for s in retry {
            client = None;
            match connection(g, host, port, &mut client, &mut reconnects).await {
                Err(e) => out.errors.push((s, e)),
                Ok(c) => match c.bind(&[s]).await {
                    Ok(()) => out.accepted.push(s),
                    Err(BindError::Rejected(_)) | Err(BindError::Nak(_)) => {}
                    Err(e) => out.errors.push((s, e.to_string())),
                },
            }
            client = None;
        }
        pb.inc(batch.len() as u64);
        pb.set_message(format!("{} accepted", out.accepted.len()));
    }
    pb.finish_and_clear();
    if let Some(c) = client {
        c.close();
    }
    out
}

/// The current probe connection, or a new one (at most [`MAX_RECONNECTS`] new ones).
async fn connection<'a>(
    g: &Global,
    host: &str,
    port: u16,
    slot: &'a mut Option<Client>,
    reconnects: &mut usize,
) -> Result<&'a Client, String> {
    if slot.as_ref().is_some_and(Client::is_closed) {
        *slot = None;
    }
    if slot.is_none() {
        if *reconnects >= MAX_RECONNECTS {
            return Err(format!("gave up after {MAX_RECONNECTS} connections"));
        }
        *reconnects += 1;
        let c = Client::connect_host(host, port, client_options(g))
            .await
            .map_err(|e| e.to_string())?;
        *slot = Some(c);
    }
    slot.as_ref().ok_or_else(|| "no connection".to_string())
}

/// The JSON document of `map`.
#[derive(Serialize, Debug)]
struct MapJson {
    target: String,
    method: &'static str,
    mgmt_error: Option<String>,
    probed: Option<usize>,
    probe_errors: Vec<String>,
    interfaces: Vec<InterfaceJson>,
}

/// Asks `mgmt inq_if_ids`.
async fn mgmt_if_ids(client: &crate::target::Conn) -> Result<Vec<SyntaxId>, String> {
    let mgmt = MgmtClient::new(client.clone());
    let resp = mgmt
        .inq_if_ids(InqIfIdsRequest {})
        .await
        .map_err(|e| format!("mgmt inq_if_ids: {}", describe_call_error(&e)))?;
    if resp.status != 0 {
        return Err(format!(
            "mgmt inq_if_ids answered status {}",
            status_text(resp.status)
        ));
    }
    let ids = resp
        .if_id_vector
        .get()
        .map(msrpc_epm::RpcIfIdVector::syntaxes)
        .unwrap_or_default();
    Ok(ids)
}

/// Runs `msrpc map`.
pub async fn run(g: &Global, a: MapArgs) -> Result<(), Failure> {
    let b = parse_target(&a.binding)?;
    let port = b.port.unwrap_or(g.epm_port);
    let target = display_addr(&b.host, port);
    let client = connect_or_epm(g, &b).await?;
    if client.is_udp() && a.brute {
        return Err(Failure::usage(
            "--brute probes interfaces with binds, which ncadg_ip_udp does not have: use an \
             ncacn_ip_tcp binding",
        ));
    }
    let (method, mgmt_error, found, probed, probe_errors) = if a.brute {
        client.close();
        let p = probe(g, &b.host, port, &candidates()).await;
        ("bind-probe", None, p.accepted, Some(p.tried), p.errors)
    } else {
        match mgmt_if_ids(&client).await {
            Ok(ids) => {
                client.close();
                ("mgmt", None, ids, None, Vec::new())
            }
            Err(e) if client.is_udp() => {
                // No bind probes over UDP (connectionless RPC has no binds).
                return Err(Failure::refused(&e));
            }
            Err(e) => {
                client.close();
                if !g.json {
                    errln!("msrpc: {e}; probing well-known interfaces with binds");
                }
                let p = probe(g, &b.host, port, &candidates()).await;
                ("bind-probe", Some(e), p.accepted, Some(p.tried), p.errors)
            }
        }
    };
    let errors: Vec<String> = probe_errors
        .iter()
        .map(|(s, e)| format!("{} v{}.{}: {e}", s.uuid, s.major, s.minor))
        .collect();
    for e in &errors {
        errln!("msrpc: warning: probe failed: {e}");
    }
    if found.is_empty() {
        let why = match (&mgmt_error, probed) {
            (_, Some(n)) => format!("no interface accepted out of {n} probed at {target}"),
            (_, None) => format!("mgmt lists no interface at {target}"),
        };
        return Err(Failure::not_found(why));
    }
    if g.json {
        return print_json(&MapJson {
            target,
            method,
            mgmt_error,
            probed,
            probe_errors: errors,
            interfaces: found.iter().map(InterfaceJson::new).collect(),
        });
    }
    match probed {
        Some(n) => outln!(
            "Interfaces at {target} (bind probes: {} of {n} well-known interface versions accepted):",
            found.len()
        ),
        None => outln!("Interfaces at {target} (mgmt inq_if_ids):"),
    }
    for s in &found {
        outln!(
            "  {} v{}.{}  {:<20} {}",
            s.uuid,
            s.major,
            s.minor,
            name_or_na(s),
            description_or_na(s)
        );
    }
    Ok(())
}
