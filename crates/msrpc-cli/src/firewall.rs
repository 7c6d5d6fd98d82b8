//! `msrpc firewall`: firewall rules that keep RPC working and nothing more, printed for an
//! administrator to review and apply (this command never changes a firewall).
//!
//! The ports come from a live endpoint map (`HOST`: an `ept_lookup` walk, as `msrpc dump`),
//! an audit result (`--audit FILE`, the JSON of `msrpc audit --json`: each host's endpoint
//! mapper port and the ports where an interface was served), and an msrpcd configuration
//! (`--config FILE`: `[dcom] exporter-port`, and the `ports` range with `--allow-range` or when
//! nothing else names a port), plus `--port`. The rules, for each format:
//! - TCP to the endpoint mapper's port (135): new connections above `--rate` per second per
//!   source are dropped, then sources in `--allow-from` (every source without it) accepted,
//!   the rest dropped;
//! - TCP to the service ports: `--allow-from` sources accepted, the rest dropped;
//! - every other port of the dynamic RPC range (`--dynamic-range`, 49152-65535; and the
//!   configured `ports` range) dropped, so a service that appears there unannounced is not
//!   reachable.
//!
//! - UDP (connectionless RPC, `ncadg_ip_udp`) only where it is in use: the endpoint mapper's
//!   UDP port when the live host answers the audit's UDP probe ([`crate::cl_probe`]), when the
//!   audit result says it `answered`, or when the configuration has `listen-udp`; the UDP ports
//!   of `ncadg_ip_udp` bindings in the endpoint map or the audit result. The same rules as
//!   TCP (new flows to the endpoint mapper rate-limited per source, `--allow-from`, the other
//!   ports of the dynamic range dropped). Without any, no UDP rule is written.
//!
//! Replies and established connections are let through first (a client's ephemeral ports may
//! lie in the dynamic range). Other traffic is left alone (the chain's policy is accept): the rules slot into a host's
//! existing firewall.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;
use msrpc_epm::tower::Tower;
use serde_json::Value;

use crate::fail::Failure;
use crate::target::{connect_or_epm, parse_target};
use crate::Global;

/// `msrpc firewall` arguments.
#[derive(Args, Debug)]
pub struct FirewallArgs {
    /// Walk this host's endpoint map (HOST, HOST:PORT or a string binding) for the ports in use.
    pub host: Option<String>,
    /// Ports from an audit result (`msrpc audit --json` output).
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,
    /// An msrpcd configuration file: `[dcom] exporter-port`, `listen` ports, and its `ports`
    /// range (used with --allow-range, or when nothing else names a port).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A service port to allow besides those found (repeatable).
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<u16>,
    /// Allow the configured dynamic range (`ports` of --config, or --range) instead of the
    /// exact ports in use.
    #[arg(long)]
    pub allow_range: bool,
    /// The dynamic range to allow with --allow-range (overrides --config's `ports`).
    #[arg(long, value_name = "LOW-HIGH")]
    pub range: Option<String>,
    /// The dynamic RPC range whose other ports are blocked.
    #[arg(long, default_value = "49152-65535", value_name = "LOW-HIGH")]
    pub dynamic_range: String,
    /// Sources allowed to reach RPC (address or prefix, IPv4 or IPv6; repeatable). Without
    /// it, every source.
    #[arg(long = "allow-from", value_name = "CIDR")]
    pub allow_from: Vec<String>,
    /// New connections per second per source to the endpoint mapper beyond which they are
    /// dropped (burst: twice as many).
    #[arg(long, default_value_t = 20)]
    pub rate: u32,
    /// Output: nft (an `nft -f` script), iptables / ip6tables (`iptables-restore --noflush`
    /// input), netsh (a Windows batch of `netsh advfirewall` and `netsh rpc filter` commands).
    #[arg(long, default_value = "nft", value_parser = ["nft", "iptables", "ip6tables", "netsh"])]
    pub format: String,
    /// With --format netsh: interfaces to block with `netsh rpc filter` (UUID or well-known
    /// name; repeatable). With --audit, the abused interfaces it found reachable are added.
    #[arg(long = "block-interface", value_name = "UUID|NAME")]
    pub block_interfaces: Vec<String>,
}

/// What the rules allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The endpoint mapper's ports (135).
    pub epm_ports: BTreeSet<u16>,
    /// Service ports allowed exactly.
    pub ports: BTreeSet<u16>,
    /// Service port ranges allowed.
    pub ranges: Vec<(u16, u16)>,
    /// The endpoint mapper's UDP ports (connectionless RPC seen or configured).
    pub udp_epm_ports: BTreeSet<u16>,
    /// UDP service ports (`ncadg_ip_udp` bindings).
    pub udp_ports: BTreeSet<u16>,
    /// Ranges whose other ports are dropped.
    pub block: Vec<(u16, u16)>,
    /// IPv4 sources (empty with IPv6 empty too: everyone).
    pub v4: Vec<String>,
    /// IPv6 sources.
    pub v6: Vec<String>,
    /// New connections per second per source to the endpoint mapper.
    pub rate: u32,
    /// Interfaces to block (netsh rpc filter): UUID and name.
    pub block_interfaces: Vec<(String, String)>,
    /// Where the ports came from, for the header.
    pub sources: Vec<String>,
}

impl Plan {
    fn any_source(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Whether any UDP rule is written.
    fn udp(&self) -> bool {
        !self.udp_epm_ports.is_empty() || !self.udp_ports.is_empty()
    }
}

/// Parses `LOW-HIGH` (or a single port).
pub fn parse_range(s: &str) -> Result<(u16, u16), String> {
    let bad = || format!("invalid port range `{s}`: expected LOW-HIGH");
    let (lo, hi) = s.trim().split_once('-').unwrap_or((s.trim(), s.trim()));
    let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
    let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
    if lo == 0 || lo > hi {
        return Err(bad());
    }
    Ok((lo, hi))
}

/// Checks an address or prefix and says whether it is IPv6.
pub fn parse_source(s: &str) -> Result<(String, bool), String> {
    let t = s.trim();
    let (addr, len) = match t.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (t, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("`{t}`: not an address or prefix"))?;
    let max = if ip.is_ipv6() { 128 } else { 32 };
    if let Some(l) = len {
        let n: u32 = l.parse().map_err(|_| format!("`{t}`: bad prefix length"))?;
        if n > max {
            return Err(format!("`{t}`: prefix longer than {max}"));
        }
    }
    Ok((t.to_string(), ip.is_ipv6()))
}

/// The ports an `msrpc audit --json` document names: (endpoint mapper ports, service ports,
/// reachable abused interfaces as (UUID, name)).
pub fn ports_from_audit(doc: &Value) -> Result<AuditPorts, String> {
    let hosts = doc
        .get("hosts")
        .and_then(Value::as_array)
        .ok_or("not an `msrpc audit --json` document: no `hosts` array")?;
    let mut out = AuditPorts::default();
    for h in hosts {
        if h.get("reachable").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let epm = h
            .get("epm_port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok());
        if let Some(p) = epm {
            out.epm.insert(p);
            let cl = h.get("connectionless");
            if cl.and_then(|c| c.get("answered")).and_then(Value::as_bool) == Some(true) {
                out.udp_epm.insert(p);
            }
        }
        for b in h
            .get("epm")
            .and_then(|e| e.get("udp_bindings"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if let Some(p) = port_of_binding(b) {
                out.udp_ports.insert(p);
            }
        }
        for ep in h
            .get("endpoints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(port) = ep
                .get("port")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
            else {
                continue;
            };
            let ifaces = ep.get("interfaces").and_then(Value::as_array);
            let served = ifaces.into_iter().flatten().any(|i| {
                ["none", "anonymous", "bad_password", "user"]
                    .iter()
                    .any(|k| {
                        matches!(
                            i.get(k)
                                .and_then(|a| a.get("result"))
                                .and_then(Value::as_str),
                            Some("reached" | "denied")
                        )
                    })
            });
            if served && Some(port) != epm {
                out.ports.insert(port);
            }
            for i in ifaces.into_iter().flatten() {
                let reached_weakly = matches!(
                    i.get("lowest").and_then(Value::as_str),
                    Some("none" | "anonymous" | "bad_password")
                );
                if i.get("abuse").is_some_and(|a| !a.is_null()) && reached_weakly {
                    let uuid = i
                        .get("interface")
                        .and_then(Value::as_str)
                        .and_then(|s| s.split_whitespace().next())
                        .unwrap_or_default()
                        .to_string();
                    let name = i
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("interface")
                        .to_string();
                    if !uuid.is_empty() && !out.abused.iter().any(|(u, _)| *u == uuid) {
                        out.abused.push((uuid, name));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// What an audit result names.
#[derive(Debug, Default)]
pub struct AuditPorts {
    /// Endpoint mapper ports.
    pub epm: BTreeSet<u16>,
    /// Ports where an interface was served.
    pub ports: BTreeSet<u16>,
    /// Abused interfaces reached without a real logon.
    pub abused: Vec<(String, String)>,
    /// Endpoint mapper ports that answered over UDP.
    pub udp_epm: BTreeSet<u16>,
    /// Ports of `ncadg_ip_udp` bindings the endpoint map listed.
    pub udp_ports: BTreeSet<u16>,
}

/// What an msrpcd configuration file names.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ConfigPorts {
    /// `ports` (msrpcd's default 49152-65535 when absent).
    pub range: (u16, u16),
    /// Whether `ports` was in the file.
    pub range_set: bool,
    /// `[dcom] exporter-port` when not 0.
    pub exporter: Option<u16>,
    /// The ports of `listen` (135 when absent).
    pub listen: BTreeSet<u16>,
    /// The ports of `listen-udp` (ADDR alone: 135); empty when connectionless RPC is off.
    pub listen_udp: BTreeSet<u16>,
}

/// Reads the keys of an msrpcd configuration that place its listeners.
pub fn ports_from_config(text: &str) -> Result<ConfigPorts, String> {
    let v: toml::Table = text.parse().map_err(|e| format!("not TOML: {e}"))?;
    let (range, range_set) = match v.get("ports") {
        None => ((49152, 65535), false),
        Some(p) => (
            parse_range(p.as_str().ok_or("`ports` is not a string")?)?,
            true,
        ),
    };
    let exporter = match v
        .get("dcom")
        .and_then(|d| d.get("exporter-port"))
        .map(|p| p.as_integer().and_then(|n| u16::try_from(n).ok()))
    {
        None | Some(Some(0)) => None,
        Some(Some(p)) => Some(p),
        Some(None) => return Err("`[dcom] exporter-port` is not a port".into()),
    };
    let mut listen = BTreeSet::new();
    for l in v
        .get("listen")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
    {
        let a: std::net::SocketAddr = l
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or("`listen` holds something other than ADDR:PORT")?;
        listen.insert(a.port());
    }
    if listen.is_empty() {
        listen.insert(135);
    }
    let mut listen_udp = BTreeSet::new();
    for l in v
        .get("listen-udp")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = l
            .as_str()
            .ok_or("`listen-udp` holds something other than strings")?;
        let port = match (
            text.parse::<std::net::SocketAddr>(),
            text.trim_matches(['[', ']']).parse::<IpAddr>(),
        ) {
            (Ok(a), _) => a.port(),
            (_, Ok(_)) => 135,
            _ => return Err("`listen-udp` holds something other than ADDR or ADDR:PORT".into()),
        };
        listen_udp.insert(port);
    }
    Ok(ConfigPorts {
        range,
        range_set,
        exporter,
        listen,
        listen_udp,
    })
}

/// Runs `msrpc firewall`.
pub async fn run(g: &Global, a: FirewallArgs) -> Result<(), Failure> {
    let mut plan = Plan {
        epm_ports: BTreeSet::new(),
        ports: a.ports.iter().copied().filter(|p| *p != 0).collect(),
        ranges: Vec::new(),
        udp_epm_ports: BTreeSet::new(),
        udp_ports: BTreeSet::new(),
        block: Vec::new(),
        v4: Vec::new(),
        v6: Vec::new(),
        rate: a.rate.max(1),
        block_interfaces: Vec::new(),
        sources: Vec::new(),
    };
    for s in &a.allow_from {
        let (t, v6) = parse_source(s).map_err(Failure::usage)?;
        if v6 {
            plan.v6.push(t);
        } else {
            plan.v4.push(t);
        }
    }
    let dynamic = parse_range(&a.dynamic_range).map_err(Failure::usage)?;
    plan.block.push(dynamic);
    if a.host.is_none() && a.audit.is_none() && a.config.is_none() && a.ports.is_empty() {
        return Err(Failure::usage(
            "name where the ports come from: HOST (live endpoint map), --audit FILE, --config FILE or --port",
        ));
    }
    if let Some(h) = &a.host {
        let b = parse_target(h)?;
        plan.epm_ports.insert(b.port.unwrap_or(g.epm_port));
        let client = connect_or_epm(g, &b).await?;
        let walk = crate::dump::lookup_all(&client, 100_000).await;
        client.close();
        if let Some(f) = walk.failure {
            if walk.entries.is_empty() {
                return Err(f);
            }
        }
        let before = plan.ports.len();
        for e in &walk.entries {
            let Some(t) = e
                .tower
                .get()
                .and_then(|t| Tower::decode(&t.tower_octet_string).ok())
            else {
                continue;
            };
            let port = t.binding_string().as_deref().and_then(port_of_binding);
            match (t.protocol_sequence(), port) {
                (Some("ncacn_ip_tcp"), Some(p)) => {
                    plan.ports.insert(p);
                }
                (Some("ncadg_ip_udp"), Some(p)) => {
                    plan.udp_ports.insert(p);
                }
                _ => {}
            }
        }
        // Connectionless RPC on the endpoint mapper's port: the audit's UDP probe.
        let epm_port = b.port.unwrap_or(g.epm_port);
        let cl = crate::cl_probe::probe(
            &b.host,
            epm_port,
            std::time::Duration::from_secs_f64(g.timeout),
        )
        .await;
        if cl.answered {
            plan.udp_epm_ports.insert(epm_port);
        }
        plan.sources
            .push(format!("a UDP probe of {}: {}", b.host, cl.note(epm_port)));
        plan.sources.push(format!(
            "the endpoint map of {h} ({} entries, {} TCP ports; DCOM object exporters are not in \
             it: add them with --port or --config's [dcom] exporter-port)",
            walk.entries.len(),
            plan.ports.len() - before
        ));
    }
    if let Some(path) = &a.audit {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
        let doc: Value = serde_json::from_str(&text)
            .map_err(|e| Failure::usage(format!("{}: not JSON: {e}", path.display())))?;
        let ap = ports_from_audit(&doc)
            .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
        plan.sources.push(format!(
            "the audit result {} ({} service ports)",
            path.display(),
            ap.ports.len()
        ));
        plan.epm_ports.extend(ap.epm);
        plan.ports.extend(ap.ports);
        plan.udp_epm_ports.extend(ap.udp_epm);
        plan.udp_ports.extend(ap.udp_ports);
        plan.block_interfaces.extend(ap.abused);
    }
    let mut config_range = None;
    if let Some(path) = &a.config {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
        let c = ports_from_config(&text)
            .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
        if a.host.is_none() && a.audit.is_none() {
            plan.epm_ports.extend(c.listen.iter().copied());
        }
        plan.ports.extend(c.exporter);
        plan.udp_epm_ports.extend(c.listen_udp.iter().copied());
        config_range = Some(c.range);
        plan.sources.push(format!(
            "the msrpcd configuration {} (ports {}-{}{})",
            path.display(),
            c.range.0,
            c.range.1,
            if c.range_set {
                ""
            } else {
                ", msrpcd's default"
            }
        ));
    }
    if plan.epm_ports.is_empty() {
        plan.epm_ports.insert(g.epm_port);
    }
    let range = match &a.range {
        Some(r) => Some(parse_range(r).map_err(Failure::usage)?),
        None => config_range,
    };
    if let Some(r) = config_range {
        // A configured range outside the dynamic range is blocked too (except what is allowed).
        if r.0 < dynamic.0 || r.1 > dynamic.1 {
            plan.block.push(r);
        }
    }
    // The endpoint mapper's port is not a service port.
    let epm = plan.epm_ports.clone();
    plan.ports.retain(|p| !epm.contains(p));
    let udp_epm = plan.udp_epm_ports.clone();
    plan.udp_ports.retain(|p| !udp_epm.contains(p));
    if a.allow_range || (plan.ports.is_empty() && a.host.is_none() && a.audit.is_none()) {
        match range {
            Some(r) => plan.ranges.push(r),
            None if a.allow_range => {
                return Err(Failure::usage("--allow-range needs --range or --config"))
            }
            None => {}
        }
    }
    for b in &a.block_interfaces {
        let s = crate::target::parse_interface(b)?;
        let name = crate::output::name_or_na(&s).to_string();
        let uuid = s.uuid.to_string();
        if !plan.block_interfaces.iter().any(|(u, _)| *u == uuid) {
            plan.block_interfaces.push((uuid, name));
        }
    }
    let text = match a.format.as_str() {
        "iptables" => iptables(&plan, false),
        "ip6tables" => iptables(&plan, true),
        "netsh" => netsh(&plan),
        _ => nft(&plan),
    };
    outln!("{}", text.trim_end());
    Ok(())
}

fn port_of_binding(b: &str) -> Option<u16> {
    let open = b.rfind('[')?;
    let inner = b.get(open + 1..)?.strip_suffix(']')?;
    inner.split(',').next()?.trim().parse().ok()
}

fn header(plan: &Plan, comment: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{comment} Generated by `msrpc firewall` (msrpc {}): review it, then apply it yourself.",
        env!("CARGO_PKG_VERSION")
    );
    for src in &plan.sources {
        let _ = writeln!(s, "{comment} Ports from {src}.");
    }
    let _ = writeln!(
        s,
        "{comment} Endpoint mapper: TCP {}; services: {}; sources: {}.",
        join(&plan.epm_ports),
        services_text(plan),
        if plan.any_source() {
            "any (use --allow-from to restrict)".to_string()
        } else {
            plan.v4
                .iter()
                .chain(&plan.v6)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    if plan.udp() {
        let mut udp: Vec<String> = plan
            .udp_epm_ports
            .iter()
            .map(|p| format!("{p} (endpoint mapper)"))
            .collect();
        udp.extend(plan.udp_ports.iter().map(u16::to_string));
        let _ = writeln!(
            s,
            "{comment} Connectionless RPC (UDP) is in use: UDP {}. Better: turn it off (msrpcd: no listen-udp) and drop these.",
            udp.join(", ")
        );
    } else {
        let _ = writeln!(
            s,
            "{comment} UDP: no rule (no connectionless RPC seen or configured)."
        );
    }
    let n = plan.ports.len()
        + plan
            .ranges
            .iter()
            .map(|(l, h)| usize::from(h - l) + 1)
            .sum::<usize>();
    if n > 16 || !plan.ranges.is_empty() {
        let _ = writeln!(
            s,
            "{comment} Pin the services to a few fixed ports so these rules stay small: msrpcd `ports = \"P-P\"` and \
             `[dcom] exporter-port`; Windows HKLM\\SOFTWARE\\Microsoft\\Rpc\\Internet Ports; Samba \
             `rpc server dynamic port range` / `rpc server port`."
        );
    } else {
        let _ = writeln!(
            s,
            "{comment} Ports handed out from a dynamic range change at restart: pin them (msrpcd `ports`, \
             `[dcom] exporter-port`; Windows Rpc\\Internet Ports; Samba `rpc server dynamic port range`) or regenerate."
        );
    }
    s
}

fn join(p: &BTreeSet<u16>) -> String {
    p.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
}

fn services_text(plan: &Plan) -> String {
    let mut v: Vec<String> = plan.ports.iter().map(u16::to_string).collect();
    v.extend(plan.ranges.iter().map(|(l, h)| format!("{l}-{h}")));
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The nftables script (`nft -f`): its own table, replaced as a whole when loaded again.
pub fn nft(plan: &Plan) -> String {
    let mut s = String::from("#!/usr/sbin/nft -f\n");
    s.push_str(&header(plan, "#"));
    s.push_str(
        "\n# Replace the table if it exists (creating it first makes the delete safe).\n\
         table inet msrpc_firewall\ndelete table inet msrpc_firewall\n\n\
         table inet msrpc_firewall {\n",
    );
    if !plan.v4.is_empty() {
        let _ = writeln!(
            s,
            "    set clients_v4 {{\n        type ipv4_addr\n        flags interval\n        elements = {{ {} }}\n    }}",
            plan.v4.join(", ")
        );
    }
    if !plan.v6.is_empty() {
        let _ = writeln!(
            s,
            "    set clients_v6 {{\n        type ipv6_addr\n        flags interval\n        elements = {{ {} }}\n    }}",
            plan.v6.join(", ")
        );
    }
    let mut service: Vec<String> = plan.ports.iter().map(u16::to_string).collect();
    service.extend(plan.ranges.iter().map(|(l, h)| format!("{l}-{h}")));
    if !service.is_empty() {
        let _ = writeln!(
            s,
            "    set rpc_services {{\n        type inet_service\n        flags interval\n        elements = {{ {} }}\n    }}",
            service.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "    set epm_meter_v4 {{\n        type ipv4_addr\n        size 65535\n        flags dynamic,timeout\n        timeout 1m\n    }}\n    set epm_meter_v6 {{\n        type ipv6_addr\n        size 65535\n        flags dynamic,timeout\n        timeout 1m\n    }}"
    );
    let udp_service: Vec<String> = plan.udp_ports.iter().map(u16::to_string).collect();
    if plan.udp() {
        let _ = writeln!(
            s,
            "    set epm_udp_meter_v4 {{\n        type ipv4_addr\n        size 65535\n        flags dynamic,timeout\n        timeout 1m\n    }}\n    set epm_udp_meter_v6 {{\n        type ipv6_addr\n        size 65535\n        flags dynamic,timeout\n        timeout 1m\n    }}"
        );
        if !udp_service.is_empty() {
            let _ = writeln!(
                s,
                "    set rpc_udp_services {{\n        type inet_service\n        flags interval\n        elements = {{ {} }}\n    }}",
                udp_service.join(", ")
            );
        }
    }
    let epm = nft_ports(&plan.epm_ports);
    let rate = plan.rate;
    let burst = rate.saturating_mul(2);
    let _ = writeln!(
        s,
        "\n    chain input {{\n        type filter hook input priority filter - 5; policy accept;\n\
         \n        # Replies and established connections (a client's own ephemeral ports may lie in the\n\
         \x20       # dynamic range) are not this table's business.\n\
         \x20       ct state established,related accept\n\
         \n        # The endpoint mapper: at most {rate} new connections per second per source.\n\
         \x20       tcp dport {epm} ct state new add @epm_meter_v4 {{ ip saddr limit rate over {rate}/second burst {burst} packets }} counter drop\n\
         \x20       tcp dport {epm} ct state new add @epm_meter_v6 {{ ip6 saddr limit rate over {rate}/second burst {burst} packets }} counter drop"
    );
    let accept = |s: &mut String, proto: &str, what: &str| {
        if plan.any_source() {
            let _ = writeln!(s, "        {proto} dport {what} accept");
        } else {
            if !plan.v4.is_empty() {
                let _ = writeln!(
                    s,
                    "        ip saddr @clients_v4 {proto} dport {what} accept"
                );
            }
            if !plan.v6.is_empty() {
                let _ = writeln!(
                    s,
                    "        ip6 saddr @clients_v6 {proto} dport {what} accept"
                );
            }
            let _ = writeln!(s, "        {proto} dport {what} counter drop");
        }
    };
    accept(&mut s, "tcp", &epm);
    if !service.is_empty() {
        s.push_str("\n        # The RPC services in use.\n");
        accept(&mut s, "tcp", "@rpc_services");
    }
    s.push_str("\n        # Every other port of the dynamic RPC range.\n");
    for (l, h) in &plan.block {
        let _ = writeln!(s, "        tcp dport {l}-{h} counter drop");
    }
    if plan.udp() {
        s.push_str("\n        # Connectionless RPC (UDP), in use on this host.\n");
        if !plan.udp_epm_ports.is_empty() {
            let uepm = nft_ports(&plan.udp_epm_ports);
            let _ = writeln!(
                s,
                "        # The endpoint mapper over UDP: at most {rate} new flows per second per source (a spoofed\n                 \x20       # source is a new flow: this also caps what a reflection attack gets out of it).\n                 \x20       udp dport {uepm} ct state new add @epm_udp_meter_v4 {{ ip saddr limit rate over {rate}/second burst {burst} packets }} counter drop\n                 \x20       udp dport {uepm} ct state new add @epm_udp_meter_v6 {{ ip6 saddr limit rate over {rate}/second burst {burst} packets }} counter drop"
            );
            accept(&mut s, "udp", &uepm);
        }
        if !udp_service.is_empty() {
            accept(&mut s, "udp", "@rpc_udp_services");
        }
        for (l, h) in &plan.block {
            let _ = writeln!(s, "        udp dport {l}-{h} counter drop");
        }
    }
    s.push_str("    }\n}\n");
    s
}

/// `135` or `{ 135, 1135 }`.
fn nft_ports(p: &BTreeSet<u16>) -> String {
    let v: Vec<String> = p.iter().map(u16::to_string).collect();
    if v.len() == 1 {
        v.join("")
    } else {
        format!("{{ {} }}", v.join(", "))
    }
}

/// The `iptables-restore --noflush` (or ip6tables) input: a chain `MSRPC-INPUT` jumped to
/// from `INPUT`.
pub fn iptables(plan: &Plan, v6: bool) -> String {
    let cmd = if v6 { "ip6tables" } else { "iptables" };
    let mut s = header(plan, "#");
    let _ = writeln!(
        s,
        "# Load with `{cmd}-restore --noflush < FILE` (without --noflush the whole filter table is replaced);\n\
         # loading twice adds a second jump from INPUT.\n*filter\n:MSRPC-INPUT - [0:0]\n-I INPUT 1 -p tcp -j MSRPC-INPUT"
    );
    if plan.udp() {
        let _ = writeln!(s, "-I INPUT 1 -p udp -j MSRPC-INPUT");
    }
    let _ = writeln!(
        s,
        "-A MSRPC-INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN"
    );
    let mut service: Vec<String> = plan.ports.iter().map(u16::to_string).collect();
    service.extend(plan.ranges.iter().map(|(l, h)| format!("{l}:{h}")));
    iptables_proto(&mut s, plan, v6, "tcp", &plan.epm_ports, service);
    if plan.udp() {
        let udp: Vec<String> = plan.udp_ports.iter().map(u16::to_string).collect();
        iptables_proto(&mut s, plan, v6, "udp", &plan.udp_epm_ports, udp);
    }
    s.push_str("-A MSRPC-INPUT -j RETURN\nCOMMIT\n");
    s
}

/// The rules of one protocol: the endpoint mapper's ports rate-limited, the endpoint mapper
/// and the services accepted (from `--allow-from`), the rest of the dynamic range dropped.
fn iptables_proto(
    s: &mut String,
    plan: &Plan,
    v6: bool,
    proto: &str,
    epm_ports: &BTreeSet<u16>,
    service: Vec<String>,
) {
    let sources: &[String] = if v6 { &plan.v6 } else { &plan.v4 };
    let restricted = !plan.any_source();
    let rate = plan.rate;
    let burst = rate.saturating_mul(2);
    let mask = if v6 { 128 } else { 32 };
    let tag = if proto == "tcp" { "" } else { "_udp" };
    for p in epm_ports {
        let _ = writeln!(
            s,
            "-A MSRPC-INPUT -p {proto} --dport {p} -m conntrack --ctstate NEW -m hashlimit --hashlimit-above {rate}/sec \
             --hashlimit-burst {burst} --hashlimit-mode srcip --hashlimit-srcmask {mask} --hashlimit-name msrpc_epm{tag}{p} -j DROP"
        );
    }
    let mut targets: Vec<String> = epm_ports.iter().map(u16::to_string).collect();
    targets.extend(service);
    // multiport takes 15 ports (a range counts two).
    let mut chunks: Vec<Vec<String>> = Vec::new();
    let mut cur: Vec<String> = Vec::new();
    let mut weight = 0;
    for t in targets {
        let w = if t.contains(':') { 2 } else { 1 };
        if weight + w > 15 {
            chunks.push(std::mem::take(&mut cur));
            weight = 0;
        }
        weight += w;
        cur.push(t);
    }
    if !cur.is_empty() {
        chunks.push(cur);
    }
    for c in &chunks {
        let ports = c.join(",");
        if restricted {
            for src in sources {
                let _ = writeln!(
                    s,
                    "-A MSRPC-INPUT -p {proto} -s {src} -m multiport --dports {ports} -j ACCEPT"
                );
            }
            let _ = writeln!(
                s,
                "-A MSRPC-INPUT -p {proto} -m multiport --dports {ports} -j DROP"
            );
        } else {
            let _ = writeln!(
                s,
                "-A MSRPC-INPUT -p {proto} -m multiport --dports {ports} -j ACCEPT"
            );
        }
    }
    for (l, h) in &plan.block {
        let _ = writeln!(s, "-A MSRPC-INPUT -p {proto} --dport {l}:{h} -j DROP");
    }
}

/// A Windows batch file: Windows Defender Firewall rules and RPC filters.
pub fn netsh(plan: &Plan) -> String {
    let mut s = String::from("@echo off\r\n");
    for line in header(plan, "rem").lines() {
        s.push_str(line);
        s.push_str("\r\n");
    }
    let remote = if plan.any_source() {
        "any".to_string()
    } else {
        plan.v4
            .iter()
            .chain(&plan.v6)
            .cloned()
            .collect::<Vec<_>>()
            .join(",")
    };
    let push = |s: &mut String, l: &str| {
        s.push_str(l);
        s.push_str("\r\n");
    };
    push(&mut s, "rem Run in an elevated command prompt.");
    push(
        &mut s,
        &format!(
            "netsh advfirewall firewall add rule name=\"msrpc: RPC endpoint mapper\" dir=in action=allow protocol=TCP localport=RPC-EPMap remoteip={remote}"
        ),
    );
    let mut service: Vec<String> = plan.ports.iter().map(u16::to_string).collect();
    service.extend(plan.ranges.iter().map(|(l, h)| format!("{l}-{h}")));
    if !service.is_empty() {
        push(
            &mut s,
            &format!(
                "netsh advfirewall firewall add rule name=\"msrpc: RPC services\" dir=in action=allow protocol=TCP localport={} remoteip={remote}",
                service.join(",")
            ),
        );
    }
    if plan.udp() {
        let mut udp: Vec<String> = plan.udp_epm_ports.iter().map(u16::to_string).collect();
        udp.extend(plan.udp_ports.iter().map(u16::to_string));
        push(
            &mut s,
            "rem Connectionless RPC (UDP) is in use; better to turn it off and leave these out.",
        );
        push(
            &mut s,
            &format!(
                "netsh advfirewall firewall add rule name=\"msrpc: connectionless RPC (UDP)\" dir=in action=allow protocol=UDP localport={} remoteip={remote}",
                udp.join(",")
            ),
        );
    }
    push(
        &mut s,
        "rem Or let Windows follow the endpoint map: localport=RPC allows the ports RPC services register.",
    );
    push(
        &mut s,
        "rem Windows Defender Firewall has no rate limit: limit TCP 135 upstream if it faces untrusted networks.",
    );
    if !plan.block_interfaces.is_empty() {
        push(
            &mut s,
            "rem RPC filters: block these interfaces for every caller (netsh rpc filter show filter lists them).",
        );
        for (uuid, name) in &plan.block_interfaces {
            push(&mut s, &format!("rem {name}"));
            push(
                &mut s,
                "netsh rpc filter add rule layer=um actiontype=block",
            );
            push(
                &mut s,
                &format!(
                    "netsh rpc filter add condition field=if_uuid matchtype=equal data={uuid}"
                ),
            );
            push(&mut s, "netsh rpc filter add filter");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn plan() -> Plan {
        Plan {
            epm_ports: [135].into(),
            ports: [49664, 49665].into(),
            ranges: Vec::new(),
            udp_epm_ports: BTreeSet::new(),
            udp_ports: BTreeSet::new(),
            block: vec![(49152, 65535)],
            v4: vec!["10.0.0.0/8".into()],
            v6: vec!["fd00::/8".into()],
            rate: 20,
            block_interfaces: vec![(
                "12345678-1234-abcd-ef00-0123456789ab".into(),
                "spoolss".into(),
            )],
            sources: vec!["a test".into()],
        }
    }

    #[test]
    fn the_three_formats_name_every_port_and_source() {
        let p = plan();
        let n = nft(&p);
        assert!(n.contains("elements = { 49664, 49665 }"), "{n}");
        assert!(
            n.contains("ip saddr @clients_v4 tcp dport 135 accept"),
            "{n}"
        );
        assert!(n.contains("tcp dport 49152-65535 counter drop"), "{n}");
        let i = iptables(&p, false);
        assert!(
            i.contains("-s 10.0.0.0/8 -m multiport --dports 135,49664,49665 -j ACCEPT"),
            "{i}"
        );
        assert!(!i.contains("-s fd00::"), "{i}");
        let i6 = iptables(&p, true);
        assert!(i6.contains("-s fd00::/8"), "{i6}");
        let w = netsh(&p);
        assert!(
            w.contains("localport=49664,49665 remoteip=10.0.0.0/8,fd00::/8"),
            "{w}"
        );
        assert!(
            w.contains("data=12345678-1234-abcd-ef00-0123456789ab"),
            "{w}"
        );
    }

    #[test]
    fn udp_rules_only_when_connectionless_is_in_use() {
        let p = plan();
        for text in [nft(&p), iptables(&p, false), netsh(&p)] {
            assert!(!text.contains("udp dport"), "{text}");
            assert!(!text.contains("-p udp"), "{text}");
            assert!(!text.contains("protocol=UDP"), "{text}");
            assert!(text.contains("UDP: no rule"), "{text}");
        }
        let mut p = plan();
        p.udp_epm_ports.insert(135);
        p.udp_ports.insert(49700);
        let n = nft(&p);
        assert!(
            n.contains("udp dport 135 ct state new add @epm_udp_meter_v4 { ip saddr limit rate over 20/second burst 40 packets } counter drop"),
            "{n}"
        );
        assert!(
            n.contains("ip saddr @clients_v4 udp dport 135 accept"),
            "{n}"
        );
        assert!(n.contains("elements = { 49700 }"), "{n}");
        assert!(
            n.contains("ip saddr @clients_v4 udp dport @rpc_udp_services accept"),
            "{n}"
        );
        assert!(n.contains("udp dport 49152-65535 counter drop"), "{n}");
        let i = iptables(&p, false);
        assert!(i.contains("-I INPUT 1 -p udp -j MSRPC-INPUT"), "{i}");
        assert!(
            i.contains("-A MSRPC-INPUT -p udp --dport 135 -m conntrack --ctstate NEW -m hashlimit --hashlimit-above 20/sec"),
            "{i}"
        );
        assert!(
            i.contains("--hashlimit-name msrpc_epm_udp135 -j DROP"),
            "{i}"
        );
        assert!(
            i.contains(
                "-A MSRPC-INPUT -p udp -s 10.0.0.0/8 -m multiport --dports 135,49700 -j ACCEPT"
            ),
            "{i}"
        );
        assert!(
            i.contains("-A MSRPC-INPUT -p udp --dport 49152:65535 -j DROP"),
            "{i}"
        );
        let w = netsh(&p);
        assert!(w.contains("protocol=UDP localport=135,49700"), "{w}");
        let c =
            ports_from_config("listen-udp = [\"10.0.0.5\", \"10.0.0.6:1135\", \"[::1]:136\"]\n")
                .unwrap();
        assert_eq!(c.listen_udp, [135, 136, 1135].into());
        assert!(ports_from_config("").unwrap().listen_udp.is_empty());
        assert!(ports_from_config("listen-udp = [\"nonsense\"]").is_err());
        let doc: Value = serde_json::json!({"hosts": [{
            "reachable": true, "epm_port": 135,
            "epm": {"udp_bindings": ["ncadg_ip_udp:10.0.0.1[49700]"]},
            "connectionless": {"probed": true, "answered": true},
            "endpoints": []}]});
        let a = ports_from_audit(&doc).unwrap();
        assert_eq!(a.udp_epm, [135].into());
        assert_eq!(a.udp_ports, [49700].into());
        let doc: Value = serde_json::json!({"hosts": [{
            "reachable": true, "epm_port": 135,
            "connectionless": {"probed": true, "answered": false},
            "endpoints": []}]});
        assert!(ports_from_audit(&doc).unwrap().udp_epm.is_empty());
    }

    #[test]
    fn config_and_audit_inputs() {
        let c = ports_from_config(
            "ports = \"50100-50101\"\nlisten = [\"127.0.7.1:1135\"]\n[dcom]\nexporter-port = 50200\n",
        )
        .unwrap();
        assert_eq!(c.range, (50100, 50101));
        assert_eq!(c.exporter, Some(50200));
        assert_eq!(c.listen, [1135].into());
        let d = ports_from_config("").unwrap();
        assert_eq!(
            (d.range, d.range_set, d.exporter),
            ((49152, 65535), false, None)
        );
        assert!(ports_from_config("ports = 5").is_err());
        let doc: Value = serde_json::json!({"hosts": [{
        "reachable": true, "epm_port": 135,
        "endpoints": [
            {"port": 135, "interfaces": [{"interface": "e1af8308-5d1f-11c9-91a4-08002b14a0fa v3.0", "none": {"result": "reached"}, "lowest": "none", "abuse": null}]},
            {"port": 49664, "interfaces": [{"interface": "12345678-1234-abcd-ef00-0123456789ab v1.0", "name": "spoolss", "none": {"result": "reached"}, "lowest": "none", "abuse": "x"}]},
            {"port": 49700, "interfaces": [{"interface": "x v1.0", "none": {"result": "bind_refused"}, "lowest": null}]}
        ]}]});
        let a = ports_from_audit(&doc).unwrap();
        assert_eq!(a.epm, [135].into());
        assert_eq!(a.ports, [49664].into());
        assert_eq!(a.abused.len(), 1);
        assert!(parse_source("10.0.0.0/33").is_err());
        assert!(parse_source("fd00::/64").unwrap().1);
        assert_eq!(parse_range("5000").unwrap(), (5000, 5000));
    }
}
