//! `msrpc audit HOST...`: what hosts expose over MS-RPC, graded, with the fix of each finding.
//!
//! Per host, every step read-only and bounded: connect to the endpoint mapper (TCP 135 by
//! default); walk the endpoint map (`ept_lookup`, as `msrpc dump`) without authentication,
//! else anonymously, else as `--user`; on every `ncacn_ip_tcp` port it lists (and 135 itself)
//! ask `mgmt inq_if_ids` for the interfaces really served; then probe every interface found
//! (plus the DCOM resolver and activators on 135, which the map does not list) under four
//! logons, weakest first: none, anonymous NTLM, a made-up account with a random password, and
//! `--user` when given. A probe binds the interface and makes one call with opnum
//! [`NOOP_OPNUM`], which no interface defines: a server answers "no such operation" once the
//! call passed its access checks (reached), access denied before; nothing can change state.
//! Last, `ServerAlive2` on the DCOM resolver (the addresses it gives away). Meanwhile, unless
//! `--no-udp`, the endpoint mapper's port is probed over UDP ([`crate::cl_probe`]: `ept_lookup`
//! in connectionless RPC, whether the server calls back to verify the source, the bytes each
//! way); connectionless endpoints the map lists are reported too.
//!
//! The calls made are exactly: bind/alter_context, `ept_lookup`, `ept_lookup_handle_free`,
//! `mgmt inq_if_ids`, `ServerAlive2`, and the no-op opnum over TCP; `ept_lookup` and
//! `ept_lookup_handle_free` over UDP ([`crate::cl_probe::UDP_PROBE_CALLS`]).

use std::io::IsTerminal;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use msrpc_dcom::client::server_alive2;
use msrpc_epm::mgmt::{InqIfIdsRequest, MgmtClient, MgmtInterface};
use msrpc_epm::tower::Tower;
use msrpc_epm::EptInterface;
use msrpc_ndr::{DataRep, Uuid};
use msrpc_proto::dispatch::{CallError, Interface, Invoke};
use msrpc_proto::pdu::{AuthLevel, FaultStatus, SyntaxId};
use msrpc_rt::{BindError, Client, ClientAuth, ClientOptions};
use serde::Serialize;

use crate::dump::lookup_all;
use crate::exposure::{
    grade, Access, ConnectionlessReport, EndpointReport, HostReport, InterfaceAccess, Logon,
    Severity, BAD_USER, NOOP_OPNUM,
};
use crate::fail::{describe_call_error, status_text, Exit, Failure};
use crate::output::print_json;
use crate::target::{client_options, display_addr, parse_target};
use crate::Global;

/// Hosts a CIDR range may expand to.
pub const MAX_HOSTS: usize = 65_536;
/// Endpoint map entries read per host.
const MAX_ENTRIES: usize = 10_000;
/// TCP ports probed per host (besides the endpoint mapper's).
const MAX_PORTS: usize = 256;
/// Interfaces probed per port.
const MAX_INTERFACES: usize = 128;
/// Fresh connections per port and logon while probing.
const MAX_RECONNECTS: usize = 8;

/// `msrpc audit` arguments.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Hosts: HOST, HOST:PORT (the endpoint mapper's port), an IPv4 range 10.0.0.0/24 or an
    /// IPv6 one (/112 or longer).
    #[arg(required = true)]
    pub hosts: Vec<String>,
    /// Hosts audited at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Seconds the whole audit of one host may take.
    #[arg(long, default_value_t = 300.0, value_name = "SECONDS")]
    pub host_timeout: f64,
    /// Print a SARIF 2.1.0 log (for CI code scanning) instead of text.
    #[arg(long, conflicts_with = "json")]
    pub sarif: bool,
    /// Exit 5 when a finding has this severity or more (info, low, medium, high, critical).
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<String>,
    /// List hosts that did not answer on the endpoint mapper's port (text output).
    #[arg(long)]
    pub show_unreachable: bool,
    /// Skip the logon with a made-up account and random password (it reads as password
    /// guessing to the host's monitoring).
    #[arg(long)]
    pub no_bad_password: bool,
    /// Do not probe the endpoint mapper over UDP (connectionless RPC); the report then says
    /// "not probed".
    #[arg(long)]
    pub no_udp: bool,
}

/// The JSON document.
#[derive(Serialize, Debug)]
struct AuditJson<'a> {
    hosts: &'a [HostReport],
    summary: Summary,
}

/// Counts over every host.
#[derive(Serialize, Debug, Default)]
struct Summary {
    hosts: usize,
    reachable: usize,
    findings: usize,
    by_severity: std::collections::BTreeMap<&'static str, usize>,
}

/// Expands the arguments into `(host, epm port)` pairs.
pub fn expand(args: &[String], default_port: u16) -> Result<Vec<(String, u16)>, Failure> {
    let mut out = Vec::new();
    for a in args {
        let a = a.trim();
        if let Some((net, len)) = a.split_once('/') {
            let ip: IpAddr = net
                .parse()
                .map_err(|_| Failure::usage(format!("`{a}`: not an address/prefix")))?;
            let len: u32 = len
                .parse()
                .map_err(|_| Failure::usage(format!("`{a}`: bad prefix length")))?;
            let hosts = cidr_hosts(ip, len).map_err(|e| Failure::usage(format!("`{a}`: {e}")))?;
            if out.len() + hosts.len() > MAX_HOSTS {
                return Err(Failure::usage(format!("more than {MAX_HOSTS} hosts")));
            }
            out.extend(hosts.into_iter().map(|h| (h, default_port)));
        } else {
            let b = parse_target(a)?;
            out.push((b.host, b.port.unwrap_or(default_port)));
        }
        if out.len() > MAX_HOSTS {
            return Err(Failure::usage(format!("more than {MAX_HOSTS} hosts")));
        }
    }
    Ok(out)
}

/// The addresses of a prefix (IPv4: without network and broadcast below /31).
pub fn cidr_hosts(ip: IpAddr, len: u32) -> Result<Vec<String>, String> {
    match ip {
        IpAddr::V4(v4) => {
            if !(16..=32).contains(&len) {
                return Err("IPv4 prefixes from /16 to /32".into());
            }
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            let base = u32::from(v4) & mask;
            let size = 1u64 << (32 - len);
            let (first, last) = if size > 2 {
                (1, size - 2)
            } else {
                (0, size - 1)
            };
            Ok((first..=last)
                .filter_map(|o| u32::try_from(u64::from(base) + o).ok())
                .map(|n| std::net::Ipv4Addr::from(n).to_string())
                .collect())
        }
        IpAddr::V6(v6) => {
            if !(112..=128).contains(&len) {
                return Err("IPv6 prefixes from /112 to /128".into());
            }
            let mask = if len == 128 {
                u128::MAX
            } else {
                u128::MAX << (128 - len)
            };
            let base = u128::from(v6) & mask;
            let size = 1u128 << (128 - len);
            Ok((0..size)
                .map(|o| std::net::Ipv6Addr::from(base + o).to_string())
                .collect())
        }
    }
}

/// Runs `msrpc audit`.
pub async fn run(g: &Global, a: AuditArgs) -> Result<(), Failure> {
    if a.concurrency == 0 || a.concurrency > 256 {
        return Err(Failure::usage("--concurrency must be between 1 and 256"));
    }
    if !(a.host_timeout.is_finite() && a.host_timeout > 0.0 && a.host_timeout <= 86_400.0) {
        return Err(Failure::usage(
            "--host-timeout must be between 0 and 86400 seconds",
        ));
    }
    let fail_on = match &a.fail_on {
        None => None,
        Some(s) => Some(Severity::parse(s).ok_or_else(|| {
            Failure::usage(format!(
                "--fail-on `{s}`: expected info, low, medium, high or critical"
            ))
        })?),
    };
    let targets = expand(&a.hosts, g.epm_port)?;
    let pb = ProgressBar::with_draw_target(
        Some(targets.len() as u64),
        if std::io::stderr().is_terminal() && targets.len() > 1 {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) = ProgressStyle::with_template("auditing {bar:40} {pos}/{len} {msg}") {
        pb.set_style(style);
    }
    let sem = Arc::new(tokio::sync::Semaphore::new(a.concurrency));
    let host_timeout = Duration::from_secs_f64(a.host_timeout);
    let mut set = tokio::task::JoinSet::new();
    for (i, (host, port)) in targets.iter().cloned().enumerate() {
        let g = g.clone();
        let sem = Arc::clone(&sem);
        let bad_password = !a.no_bad_password;
        let udp = !a.no_udp;
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let mut r = HostReport::new(host.clone(), port);
            // The UDP probe runs beside the TCP audit, each call bounded by --timeout.
            let call_timeout = Duration::from_secs_f64(g.timeout);
            let both = async {
                let cl = async {
                    if udp {
                        Some(crate::cl_probe::probe(&host, port, call_timeout).await)
                    } else {
                        None
                    }
                };
                let ((), cl) = tokio::join!(audit_host(&g, &mut r, bad_password), cl);
                cl
            };
            match tokio::time::timeout(host_timeout, both).await {
                Ok(cl) => {
                    if let Some(p) = cl {
                        r.connectionless = ConnectionlessReport::from_probe(&p, port);
                    }
                }
                Err(_) => {
                    r.error = Some(format!(
                        "stopped after --host-timeout {} s; the report holds what was seen",
                        host_timeout.as_secs_f64()
                    ))
                }
            }
            grade(&mut r);
            (i, r)
        });
    }
    let mut reports: Vec<Option<HostReport>> = vec![None; targets.len()];
    while let Some(done) = set.join_next().await {
        pb.inc(1);
        match done {
            Ok((i, r)) => {
                pb.set_message(format!("{}: {} findings", r.host, r.findings.len()));
                if let Some(slot) = reports.get_mut(i) {
                    *slot = Some(r);
                }
            }
            Err(e) => errln!("msrpc: warning: a host's audit task failed: {e}"),
        }
    }
    pb.finish_and_clear();
    let reports: Vec<HostReport> = reports.into_iter().flatten().collect();
    let mut summary = Summary {
        hosts: reports.len(),
        reachable: reports.iter().filter(|r| r.reachable).count(),
        ..Summary::default()
    };
    for f in reports.iter().flat_map(|r| &r.findings) {
        summary.findings += 1;
        *summary.by_severity.entry(f.severity.name()).or_default() += 1;
    }
    if a.sarif {
        print_json(&crate::exposure::sarif(&reports))?;
    } else if g.json {
        print_json(&AuditJson {
            hosts: &reports,
            summary: Summary { ..summary },
        })?;
    } else {
        print_text(&reports, a.show_unreachable || reports.len() == 1);
    }
    let worst = reports
        .iter()
        .flat_map(|r| &r.findings)
        .map(|f| f.severity)
        .max();
    if let (Some(t), Some(w)) = (fail_on, worst) {
        if w >= t {
            return Err(Failure::new(
                Exit::Findings,
                anyhow::anyhow!("findings of severity {} or more (--fail-on)", t.name()),
            )
            .json_printed());
        }
    }
    if reports
        .iter()
        .all(|r| !r.reachable && r.connectionless.answered != Some(true))
    {
        let f = Failure::connect(format!(
            "no host answered on the endpoint mapper's port ({} tried)",
            reports.len()
        ));
        return Err(if g.json || a.sarif {
            f.json_printed()
        } else {
            f
        });
    }
    Ok(())
}

fn print_text(reports: &[HostReport], show_unreachable: bool) {
    let mut unreachable = 0usize;
    for r in reports {
        let udp_answered = r.connectionless.answered == Some(true);
        if !r.reachable && !udp_answered {
            unreachable += 1;
            if show_unreachable {
                outln!(
                    "{}: no answer on port {}{}",
                    r.host,
                    r.epm_port,
                    r.error
                        .as_deref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                );
            }
            continue;
        }
        outln!("== {} ==", display_addr(&r.host, r.epm_port));
        if !r.reachable {
            outln!("  TCP {}: no answer (only UDP answered)", r.epm_port);
        }
        if let Some(e) = &r.error {
            outln!("  note: {e}");
        }
        match r.epm.walked_with {
            Some(l) => outln!(
                "  endpoint map: {} entries {} ({} TCP ports{})",
                r.epm.entries,
                l.label(),
                r.epm.tcp_ports.len(),
                if r.epm.complete { "" } else { ", incomplete" }
            ),
            None => outln!(
                "  endpoint map: not walked ({})",
                r.epm.anonymous_error.as_deref().unwrap_or("refused")
            ),
        }
        if r.dcom.answered {
            outln!(
                "  DCOM resolver: COM {} addresses {}",
                r.dcom.com_version.as_deref().unwrap_or("?"),
                r.dcom.addresses.join(", ")
            );
        } else {
            outln!(
                "  DCOM resolver: {}",
                r.dcom.error.as_deref().unwrap_or("no answer")
            );
        }
        outln!("  connectionless: {}", r.connectionless.note);
        outln!("  interfaces (lowest logon that reached each):");
        for ep in &r.endpoints {
            outln!("    port {} (mgmt: {})", ep.port, ep.mgmt);
            for i in &ep.interfaces {
                let lowest = match i.lowest {
                    Some(Logon::None) => "none",
                    Some(Logon::Anonymous) => "anonymous",
                    Some(Logon::BadPassword) => "ANY PASSWORD",
                    Some(Logon::User) => "--user",
                    None if i.served() => "refused",
                    None => "not served",
                };
                outln!(
                    "      {:<40} {:<22} {:<13}{}",
                    i.interface,
                    i.name.unwrap_or("N/A"),
                    lowest,
                    i.abuse.map(|a| format!(" [{a}]")).unwrap_or_default()
                );
            }
        }
        if r.findings.is_empty() {
            outln!("  findings: none");
        } else {
            outln!("  findings:");
        }
        for f in &r.findings {
            outln!(
                "  [{}] {} ({})",
                f.severity.name().to_uppercase(),
                f.title,
                f.rule
            );
            outln!("      evidence: {}", f.evidence);
            if let Some(x) = &f.fix.msrpcd {
                outln!("      fix (msrpcd): {x}");
            }
            if let Some(x) = &f.fix.windows {
                outln!("      fix (Windows): {x}");
            }
            if let Some(x) = &f.fix.samba {
                outln!("      fix (Samba): {x}");
            }
        }
        outln!();
    }
    if unreachable > 0 && !show_unreachable {
        outln!("{unreachable} host(s) did not answer on the endpoint mapper's port (--show-unreachable lists them).");
    }
}

/// Client options for `logon`, or `None` when it cannot be probed (`User` without `--user`).
fn logon_options(g: &Global, logon: Logon) -> Option<ClientOptions> {
    let mut o = client_options(g);
    o.auth = match logon {
        Logon::None => None,
        Logon::Anonymous => Some(ClientAuth::new(AuthLevel::PKT_PRIVACY, || {
            Box::new(msrpc_ntlm::NtlmClient::anonymous())
        })),
        Logon::BadPassword => {
            let password = random_password();
            Some(ClientAuth::new(AuthLevel::PKT_PRIVACY, move || {
                Box::new(msrpc_ntlm::NtlmClient::new(BAD_USER, "", &password))
            }))
        }
        Logon::User => {
            g.user.as_ref()?;
            let mut u = g.clone();
            u.anonymous = false;
            client_options(&u).auth
        }
    };
    Some(o)
}

/// 24 hex digits from the OS's randomness (the bad-password probe's password).
fn random_password() -> String {
    let mut buf = [0u8; 12];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf))
        .is_ok();
    if !ok {
        // Any password the account does not have will do; the time is one.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        buf.copy_from_slice(&t.to_le_bytes()[..12]);
    }
    format!("Wrong-{}", hex::encode(buf))
}

/// The DCOM resolver and activators on the endpoint mapper's port, which the endpoint map
/// does not list.
fn dcom_on_135() -> [SyntaxId; 3] {
    [
        SyntaxId::new(
            Uuid::from_u128(0x99fcfec4_5260_101b_bbcb_00aa0021347a),
            0,
            0,
        ),
        SyntaxId::new(
            Uuid::from_u128(0x000001a0_0000_0000_c000_000000000046),
            0,
            0,
        ),
        SyntaxId::new(
            Uuid::from_u128(0x4d9f4ab8_7d1c_11cf_861e_0020af6e7c57),
            0,
            0,
        ),
    ]
}

/// Audits one host into `r` (bounded by the caller's host timeout and each call's).
async fn audit_host(g: &Global, r: &mut HostReport, bad_password: bool) {
    let host = r.host.clone();
    let epm_port = r.epm_port;
    // 1. The endpoint map, with the weakest logon that walks it.
    let mut listed: Vec<(u16, SyntaxId)> = Vec::new();
    for logon in Logon::ALL {
        if logon == Logon::BadPassword {
            continue;
        }
        let Some(opts) = logon_options(g, logon) else {
            continue;
        };
        let client = match Client::connect_host(&host, epm_port, opts).await {
            Ok(c) => c,
            Err(e) => {
                if !r.reachable {
                    r.error = Some(format!("cannot connect: {e}"));
                    return;
                }
                continue;
            }
        };
        r.reachable = true;
        r.error = None;
        let walk = lookup_all(&crate::target::Conn::Tcp(client.clone()), MAX_ENTRIES).await;
        client.close();
        let failed = match (&walk.end, &walk.failure) {
            (crate::dump::WalkEnd::Failed(m), _) => Some(m.clone()),
            _ => None,
        };
        if logon == Logon::None {
            r.epm.anonymous_error = failed.clone();
        }
        if failed.is_some() && walk.entries.is_empty() {
            continue;
        }
        r.epm.walked_with = Some(logon);
        r.epm.entries = walk.entries.len();
        r.epm.complete = walk.end == crate::dump::WalkEnd::Complete;
        for e in &walk.entries {
            let Some(t) = e
                .tower
                .get()
                .and_then(|t| Tower::decode(&t.tower_octet_string).ok())
            else {
                continue;
            };
            let (Some(iface), Some(binding)) = (t.interface(), t.binding_string()) else {
                continue;
            };
            match t.protocol_sequence() {
                Some("ncacn_ip_tcp") => {
                    if let Some(p) = tcp_port(&binding) {
                        if !r.epm.tcp_ports.contains(&p) {
                            r.epm.tcp_ports.push(p);
                        }
                        if !listed.contains(&(p, iface)) {
                            listed.push((p, iface));
                        }
                    }
                }
                Some("ncadg_ip_udp") => {
                    if !r.epm.udp_bindings.contains(&binding) {
                        r.epm.udp_bindings.push(binding);
                    }
                }
                _ => {
                    if !r.epm.other_bindings.contains(&binding) && r.epm.other_bindings.len() < 256
                    {
                        r.epm.other_bindings.push(binding);
                    }
                }
            }
        }
        break;
    }
    if !r.reachable {
        return;
    }
    r.epm.tcp_ports.sort_unstable();
    // 2. Every port: mgmt, then the probes.
    let mut ports: Vec<u16> = vec![epm_port];
    ports.extend(
        r.epm
            .tcp_ports
            .iter()
            .copied()
            .filter(|p| *p != epm_port)
            .take(MAX_PORTS),
    );
    for port in ports {
        let mut ifaces: Vec<InterfaceAccess> = Vec::new();
        let add = |ifaces: &mut Vec<InterfaceAccess>, s: SyntaxId, by: &'static str| {
            let n = ifaces.len();
            match ifaces.iter_mut().find(|i| i.syntax == Some(s)) {
                Some(i) if !i.found_by.contains(&by) => i.found_by.push(by),
                Some(_) => {}
                None if n < MAX_INTERFACES => ifaces.push(InterfaceAccess::new(s, by)),
                None => {}
            }
        };
        if port == epm_port {
            add(&mut ifaces, EptInterface::SYNTAX, "epm");
        }
        for (p, s) in &listed {
            if *p == port {
                add(&mut ifaces, *s, "epm");
            }
        }
        let mgmt = discover_mgmt(g, &host, port).await;
        let mgmt_text = match &mgmt {
            Ok((ids, l)) => format!("{} interfaces {}", ids.len(), l.label()),
            Err(e) => e.clone(),
        };
        if let Ok((ids, _)) = &mgmt {
            add(&mut ifaces, MgmtInterface::SYNTAX, "mgmt");
            for s in ids {
                add(&mut ifaces, *s, "mgmt");
            }
        }
        if port == epm_port {
            for s in dcom_on_135() {
                add(&mut ifaces, s, "dcom");
            }
        }
        for logon in Logon::ALL {
            if logon == Logon::BadPassword && !bad_password {
                continue;
            }
            probe_logon(g, &host, port, logon, &mut ifaces).await;
        }
        // DCOM interfaces nobody serves are not part of the picture.
        ifaces.retain(|i| i.found_by != ["dcom"] || i.served());
        r.endpoints.push(EndpointReport {
            port,
            mgmt: mgmt_text,
            interfaces: ifaces,
        });
    }
    // 3. ServerAlive2, unauthenticated.
    let t = Duration::from_secs_f64(g.timeout * 2.0);
    match server_alive2(
        &host,
        epm_port,
        logon_options(g, Logon::None).unwrap_or_else(|| client_options(g)),
        t,
    )
    .await
    {
        Ok(info) => {
            r.dcom.answered = true;
            r.dcom.com_version = Some(format!(
                "{}.{}",
                info.com_version.major, info.com_version.minor
            ));
            r.dcom.addresses = info.tcp_addresses().into_iter().map(String::from).collect();
        }
        Err(e) => r.dcom.error = Some(e.to_string()),
    }
}

/// The port of `ncacn_ip_tcp:HOST[PORT]`.
fn tcp_port(binding: &str) -> Option<u16> {
    let open = binding.rfind('[')?;
    let inner = binding.get(open + 1..)?.strip_suffix(']')?;
    inner.split(',').next()?.trim().parse().ok()
}

/// `mgmt inq_if_ids` on `port` with the weakest logon that answers.
async fn discover_mgmt(
    g: &Global,
    host: &str,
    port: u16,
) -> Result<(Vec<SyntaxId>, Logon), String> {
    let mut last = String::from("not asked");
    for logon in Logon::ALL {
        if logon == Logon::BadPassword {
            continue;
        }
        let Some(opts) = logon_options(g, logon) else {
            continue;
        };
        let client = match Client::connect_host(host, port, opts).await {
            Ok(c) => c,
            Err(e) => return Err(format!("cannot connect: {e}")),
        };
        let r = MgmtClient::new(client.clone())
            .inq_if_ids(InqIfIdsRequest {})
            .await;
        client.close();
        match r {
            Ok(resp) if resp.status == 0 => {
                let ids = resp
                    .if_id_vector
                    .get()
                    .map(msrpc_epm::RpcIfIdVector::syntaxes)
                    .unwrap_or_default();
                return Ok((ids, logon));
            }
            Ok(resp) => last = format!("inq_if_ids answered status {}", status_text(resp.status)),
            Err(e) => last = format!("inq_if_ids: {}", describe_call_error(&e)),
        }
    }
    Err(last)
}

/// Probes every interface of `ifaces` on `port` under `logon`.
async fn probe_logon(
    g: &Global,
    host: &str,
    port: u16,
    logon: Logon,
    ifaces: &mut [InterfaceAccess],
) {
    let Some(opts) = logon_options(g, logon) else {
        return;
    };
    let mut client: Option<Client> = None;
    let mut reconnects = 0usize;
    for i in ifaces.iter_mut() {
        let Some(s) = i.syntax else { continue };
        if client.as_ref().is_some_and(Client::is_closed) {
            client = None;
        }
        if client.is_none() {
            if reconnects >= MAX_RECONNECTS {
                i.set(
                    logon,
                    Access::Failed(format!("gave up after {MAX_RECONNECTS} connections")),
                );
                continue;
            }
            reconnects += 1;
            match Client::connect_host(host, port, opts.clone()).await {
                Ok(c) => client = Some(c),
                Err(e) => {
                    i.set(logon, Access::Failed(format!("cannot connect: {e}")));
                    continue;
                }
            }
        }
        let Some(c) = client.as_ref() else { continue };
        let outcome = probe_one(c, s).await;
        if matches!(outcome, Access::BindRefused(_) | Access::Failed(_)) {
            // A refused bind may leave the association unusable (bind_nak closes it).
            if let Some(c) = client.take() {
                c.close();
            }
        }
        i.set(logon, outcome);
    }
    if let Some(c) = client {
        c.close();
    }
}

/// Binds `s` and makes the no-op call.
async fn probe_one(c: &Client, s: SyntaxId) -> Access {
    match c.bind(&[s]).await {
        Ok(()) => {}
        Err(BindError::Rejected(r)) => {
            let why = r
                .first()
                .map(|(_, reason)| format!("presentation context rejected ({reason:?})"))
                .unwrap_or_else(|| "presentation context rejected".into());
            return Access::BindRefused(why);
        }
        Err(BindError::Nak(n)) => return Access::BindRefused(format!("bind_nak ({n:?})")),
        Err(BindError::Timeout) => return Access::Failed("bind timed out".into()),
        Err(e) => return Access::BindRefused(format!("bind failed: {e}")),
    }
    match c
        .invoke(s, NOOP_OPNUM, None, Vec::new(), DataRep::LITTLE_ENDIAN)
        .await
    {
        Ok(_) => Access::Reached("answered the no-op call".into()),
        // Only "no such operation" proves the call got past the access checks: Samba answers
        // a call after a refused logon with nca_s_proto_error, Windows and msrpcd with access
        // denied; any other fault counts as refused, with its name as the evidence.
        Err(CallError::Fault(f)) if f == FaultStatus::NCA_S_OP_RNG_ERROR => {
            Access::Reached(describe_call_error(&CallError::Fault(f)))
        }
        Err(CallError::Fault(f)) => Access::Denied(describe_call_error(&CallError::Fault(f))),
        Err(CallError::Timeout) => Access::Failed("no answer to the no-op call".into()),
        Err(CallError::Transport(t)) => {
            Access::Denied(format!("the server closed the connection ({t})"))
        }
        Err(e) => Access::Failed(describe_call_error(&e)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ranges_expand() {
        let v = cidr_hosts("10.1.2.0".parse().unwrap(), 30).unwrap();
        assert_eq!(v, ["10.1.2.1", "10.1.2.2"]);
        let v = cidr_hosts("10.1.2.3".parse().unwrap(), 32).unwrap();
        assert_eq!(v, ["10.1.2.3"]);
        assert_eq!(
            cidr_hosts("10.0.0.0".parse().unwrap(), 24).unwrap().len(),
            254
        );
        assert!(cidr_hosts("10.0.0.0".parse().unwrap(), 8).is_err());
        assert_eq!(cidr_hosts("fd00::".parse().unwrap(), 126).unwrap().len(), 4);
        let t = expand(&["127.0.0.1:1350".into(), "10.0.0.0/31".into()], 135).unwrap();
        assert_eq!(
            t,
            [
                ("127.0.0.1".to_string(), 1350),
                ("10.0.0.0".to_string(), 135),
                ("10.0.0.1".to_string(), 135)
            ]
        );
        assert_eq!(tcp_port("ncacn_ip_tcp:10.0.0.1[49152]"), Some(49152));
        assert_eq!(tcp_port("ncacn_ip_tcp:[::1][135]"), Some(135));
        assert_eq!(tcp_port("ncacn_ip_tcp:10.0.0.1"), None);
    }

    #[test]
    fn probe_interface_is_not_an_operation() {
        // The no-op opnum is beyond every operation the interfaces we know define.
        assert!(usize::from(NOOP_OPNUM) > <EptInterface as Interface>::OPERATIONS.len());
        assert!(usize::from(NOOP_OPNUM) > <MgmtInterface as Interface>::OPERATIONS.len());
    }
}
