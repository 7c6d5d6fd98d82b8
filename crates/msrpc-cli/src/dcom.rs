//! `msrpc dcom`: DCOM commands. `alive HOST` calls `IObjectExporter::ServerAlive2` on the OXID
//! resolver (port 135) and prints the host's COM version and the network addresses and
//! authentication services it advertises, as network scanners use it. `activate HOST CLSID
//! [IID...]` activates a class (`RemoteCreateInstance`) and prints the object exporter's OXID,
//! bindings and the address the client would use, and the interfaces returned.

use std::time::Duration;

use clap::{Args, Subcommand};
use msrpc_dcom::client::{activate, choose_exporter, server_alive2, AliveInfo, ClientError};
use msrpc_dcom::dualstring::{
    TOWER_NCACN_HTTP, TOWER_NCACN_IP_TCP, TOWER_NCACN_NP, TOWER_NCADG_IP_UDP,
};
use msrpc_dcom::ObjRef;
use msrpc_ndr::Uuid;
use serde::Serialize;

use crate::fail::{call_exit, describe_call_error, Exit, Failure};
use crate::output::print_json;
use crate::target::{client_options, display_addr, parse_target};
use crate::Global;

/// `msrpc dcom` subcommands.
#[derive(Subcommand, Debug)]
pub enum DcomCommand {
    /// ServerAlive2: the host's COM version and the network addresses its OXID resolver
    /// advertises.
    Alive(AliveArgs),
    /// RemoteCreateInstance: activate a class for interfaces; print the object exporter's
    /// OXID, bindings, the address chosen to reach it, and the interfaces returned.
    Activate(ActivateArgs),
    /// Activate the demo calculator and call one ICalculator method on it through the
    /// exporter (`add A B`, `echo TEXT`, `spawn OFFSET A B`), then release it.
    Call(crate::dcom_call::CallArgs),
    /// Closed-loop load of ICalculator calls (or activations) on N exporter connections;
    /// reports calls/s and latency percentiles like `msrpc bench`.
    Bench(crate::dcom_call::DcomBenchArgs),
}

/// `msrpc dcom activate` arguments.
#[derive(Args, Debug)]
pub struct ActivateArgs {
    /// The host: HOST, HOST:PORT (the activator's port, 135, by default) or a string binding.
    pub target: String,
    /// The class to activate (CLSID).
    pub clsid: String,
    /// The interfaces to ask for (IIDs; default IUnknown).
    pub iids: Vec<String>,
}

/// `msrpc dcom alive` arguments.
#[derive(Args, Debug)]
pub struct AliveArgs {
    /// The host: HOST, HOST:PORT (the endpoint mapper's port, 135, by default) or a string
    /// binding.
    pub target: String,
}

/// Runs a `dcom` subcommand.
pub async fn run(g: &Global, c: DcomCommand) -> Result<(), Failure> {
    match c {
        DcomCommand::Alive(a) => alive(g, a).await,
        DcomCommand::Activate(a) => activate_cmd(g, a).await,
        DcomCommand::Call(a) => crate::dcom_call::call(g, a).await,
        DcomCommand::Bench(a) => crate::dcom_call::bench(g, a).await,
    }
}

/// A string binding as JSON shows it.
#[derive(Serialize, Debug)]
struct StringBindingJson {
    tower_id: u16,
    protseq: Option<&'static str>,
    network_addr: String,
}

/// A security binding as JSON shows it.
#[derive(Serialize, Debug)]
struct SecurityBindingJson {
    authn_svc: u16,
    authn_name: Option<&'static str>,
    authz_svc: u16,
    principal_name: String,
}

/// The `alive --json` document.
#[derive(Serialize, Debug)]
struct AliveJson {
    target: String,
    peer: String,
    com_version: String,
    addresses: Vec<String>,
    string_bindings: Vec<StringBindingJson>,
    security_bindings: Vec<SecurityBindingJson>,
}

/// The protocol sequence of a tower id (C706 appendix I).
fn protseq(tower_id: u16) -> Option<&'static str> {
    Some(match tower_id {
        TOWER_NCACN_IP_TCP => "ncacn_ip_tcp",
        TOWER_NCADG_IP_UDP => "ncadg_ip_udp",
        TOWER_NCACN_NP => "ncacn_np",
        TOWER_NCACN_HTTP => "ncacn_http",
        _ => return None,
    })
}

/// The name of an RPC authentication service (MS-RPCE 2.2.1.1.7).
fn authn_name(svc: u16) -> Option<&'static str> {
    Some(match svc {
        0 => "none",
        9 => "negotiate",
        10 => "NTLM",
        14 => "schannel",
        16 => "Kerberos",
        22 => "PKU2U",
        30 => "cloud AP",
        0x44 => "netlogon",
        0xffff => "default",
        _ => return None,
    })
}

pub(crate) fn failure(e: ClientError) -> Failure {
    match e {
        ClientError::Connect(c) => Failure::connecting(c),
        ClientError::Call { what, source } => Failure::new(
            call_exit(&source),
            anyhow::anyhow!("{what}: {}", describe_call_error(&source)),
        ),
        ClientError::Timeout(_) => Failure::connect(e),
        other => Failure::new(Exit::Refused, other),
    }
}

async fn alive(g: &Global, a: AliveArgs) -> Result<(), Failure> {
    let b = parse_target(&a.target)?;
    let port = b.port.unwrap_or(g.epm_port);
    let mut opts = client_options(g);
    b.apply_to(&mut opts.config);
    // Connect, bind and call, each bounded by --timeout; the whole by their sum.
    let total = Duration::from_secs_f64(g.timeout * 2.0);
    let info = server_alive2(&b.host, port, opts, total)
        .await
        .map_err(failure)?;
    let target = display_addr(&b.host, port);
    if g.json {
        print_json(&to_json(target, &info))
    } else {
        print_text(&target, &info);
        Ok(())
    }
}

fn to_json(target: String, info: &AliveInfo) -> AliveJson {
    AliveJson {
        target,
        peer: info.peer.to_string(),
        com_version: format!("{}.{}", info.com_version.major, info.com_version.minor),
        addresses: info.tcp_addresses().into_iter().map(String::from).collect(),
        string_bindings: info
            .bindings
            .strings
            .iter()
            .map(|s| StringBindingJson {
                tower_id: s.tower_id,
                protseq: protseq(s.tower_id),
                network_addr: s.network_addr.clone(),
            })
            .collect(),
        security_bindings: info
            .bindings
            .security
            .iter()
            .map(|s| SecurityBindingJson {
                authn_svc: s.authn_svc,
                authn_name: authn_name(s.authn_svc),
                authz_svc: s.authz_svc,
                principal_name: s.principal_name.clone(),
            })
            .collect(),
    }
}

fn print_text(target: &str, info: &AliveInfo) {
    outln!("Host       : {target} ({})", info.peer);
    outln!(
        "COM version: {}.{}",
        info.com_version.major,
        info.com_version.minor
    );
    let addrs = info.tcp_addresses();
    if addrs.is_empty() {
        outln!("Addresses  : none advertised");
    } else {
        outln!("Addresses  :");
        for a in addrs {
            outln!("  {a}");
        }
    }
    let others: Vec<_> = info
        .bindings
        .strings
        .iter()
        .filter(|s| s.tower_id != TOWER_NCACN_IP_TCP)
        .collect();
    if !others.is_empty() {
        outln!("Other bindings:");
        for s in others {
            match protseq(s.tower_id) {
                Some(p) => outln!("  {p}:{}", s.network_addr),
                None => outln!("  tower {:#06x}: {}", s.tower_id, s.network_addr),
            }
        }
    }
    if !info.bindings.security.is_empty() {
        outln!("Security   :");
        for s in &info.bindings.security {
            let name = authn_name(s.authn_svc).unwrap_or("unknown");
            if s.principal_name.is_empty() {
                outln!("  {} ({name})", s.authn_svc);
            } else {
                outln!("  {} ({name}) {}", s.authn_svc, s.principal_name);
            }
        }
    }
}

/// An interface as `activate --json` shows it.
#[derive(Serialize, Debug)]
struct InterfaceOut {
    iid: String,
    hresult: String,
    ipid: Option<String>,
}

/// The `activate --json` document.
#[derive(Serialize, Debug)]
struct ActivateJson {
    target: String,
    clsid: String,
    oxid: String,
    server_version: String,
    authn_hint: u32,
    ipid_rem_unknown: String,
    string_bindings: Vec<StringBindingJson>,
    exporter: Option<String>,
    exporter_fallback: bool,
    interfaces: Vec<InterfaceOut>,
}

pub(crate) fn parse_uuid(what: &str, text: &str) -> Result<Uuid, Failure> {
    Uuid::parse_str(text.trim())
        .map_err(|_| Failure::usage(format!("{what} `{text}` is not a UUID")))
}

/// The IPID of a standard, handler or extended OBJREF.
fn ipid_of(o: &ObjRef) -> Option<String> {
    use msrpc_dcom::objref::ObjRefBody;
    match &o.body {
        ObjRefBody::Standard { std, .. }
        | ObjRefBody::Handler { std, .. }
        | ObjRefBody::Extended { std, .. } => Some(std.ipid.0.to_string()),
        _ => None,
    }
}

async fn activate_cmd(g: &Global, a: ActivateArgs) -> Result<(), Failure> {
    let b = parse_target(&a.target)?;
    let clsid = parse_uuid("CLSID", &a.clsid)?;
    let mut iids = a
        .iids
        .iter()
        .map(|t| parse_uuid("IID", t))
        .collect::<Result<Vec<_>, _>>()?;
    if iids.is_empty() {
        iids.push(msrpc_dcom::ids::guids::IID_IUNKNOWN);
    }
    let port = b.port.unwrap_or(g.epm_port);
    let mut opts = client_options(g);
    b.apply_to(&mut opts.config);
    let t = Duration::from_secs_f64(g.timeout);
    let act = activate(&b.host, port, clsid, &iids, opts, t * 2)
        .await
        .map_err(failure)?;
    // The exporter's address: an advertised binding that answers, else the dialled host.
    let chosen = choose_exporter(&b.host, &act.bindings, t).await;
    let doc = ActivateJson {
        target: display_addr(&b.host, port),
        clsid: clsid.to_string(),
        oxid: format!("{:#018x}", act.oxid.0),
        server_version: format!("{}.{}", act.server_version.major, act.server_version.minor),
        authn_hint: act.authn_hint,
        ipid_rem_unknown: act.ipid_rem_unknown.0.to_string(),
        string_bindings: act
            .bindings
            .strings
            .iter()
            .map(|s| StringBindingJson {
                tower_id: s.tower_id,
                protseq: protseq(s.tower_id),
                network_addr: s.network_addr.clone(),
            })
            .collect(),
        exporter: chosen.as_ref().map(|c| display_addr(&c.host, c.port)),
        exporter_fallback: chosen.as_ref().is_some_and(|c| c.fallback),
        interfaces: act
            .interfaces
            .iter()
            .map(|i| InterfaceOut {
                iid: i.iid.to_string(),
                hresult: format!("{:#010x}", i.hresult.0),
                ipid: i.objref.as_ref().and_then(ipid_of),
            })
            .collect(),
    };
    if g.json {
        print_json(&doc)?;
    } else {
        outln!("Activator  : {} ({})", doc.target, act.peer);
        outln!("CLSID      : {}", doc.clsid);
        outln!(
            "OXID       : {}  (COM {}, authnHint {})",
            doc.oxid,
            doc.server_version,
            doc.authn_hint
        );
        outln!("IRemUnknown: {}", doc.ipid_rem_unknown);
        outln!("Bindings   :");
        for s in &doc.string_bindings {
            outln!("  {}:{}", s.protseq.unwrap_or("?"), s.network_addr);
        }
        match &doc.exporter {
            Some(e) if doc.exporter_fallback => {
                outln!("Exporter   : {e} (no advertised binding answered: the dialled host)")
            }
            Some(e) => outln!("Exporter   : {e}"),
            None => outln!("Exporter   : no ncacn_ip_tcp binding"),
        }
        outln!("Interfaces :");
        for i in &doc.interfaces {
            outln!(
                "  {} {} {}",
                i.iid,
                i.hresult,
                i.ipid.as_deref().unwrap_or("-")
            );
        }
    }
    if act.interfaces.iter().any(|i| i.hresult.is_success()) {
        Ok(())
    } else {
        let f = Failure::refused("no interface was returned (every HRESULT is a failure)");
        Err(if g.json { f.json_printed() } else { f })
    }
}
