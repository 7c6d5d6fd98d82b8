//! Command line and configuration file: the layers (embedded defaults, `--config` file,
//! command line), their parsing and validation, and the effective configuration.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use msrpc_audit::detect::DetectorConfig;
use msrpc_audit::technique::{Library, Net, Pattern};
use msrpc_policy::{Level, Policy};
use serde::{Deserialize, Serialize};

pub use crate::shared::{default_registration_socket, PortRange};

/// The endpoint mapper's well-known port, used when a listen address has none.
pub const EPM_PORT: u16 = 135;

/// Default capacity of the audit queue.
pub const DEFAULT_AUDIT_QUEUE: usize = 8192;

/// The configuration built into the binary: the bottom layer.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

/// The command line.
#[derive(Debug, Default, Parser)]
#[command(
    name = "msrpcd",
    version,
    about = "The DCE/RPC endpoint mapper daemon (EPM on port 135)",
    long_about = "The DCE/RPC endpoint mapper daemon: serves the endpoint mapper (ept) and \
        mgmt interfaces on ncacn_ip_tcp port 135, and a local registration socket where \
        services on this host register their endpoints.\n\n\
        Settings come from the built-in defaults, then the --config file, then the command \
        line (each overrides the one before). --print-config shows the result.",
    after_help = "Examples:\n  msrpcd --demo                              \
        (needs root or CAP_NET_BIND_SERVICE for port 135)\n  \
        msrpcd --listen 127.0.0.1:1135 --demo      (no privileges needed)\n  \
        msrpcd --config /etc/msrpcd/msrpcd.toml --print-config"
)]
pub struct Cli {
    /// Where the endpoint mapper listens (`--listen`, repeatable).
    #[arg(
        short,
        long,
        value_name = "ADDR[:PORT]",
        help = "Address to serve the endpoint mapper on, ADDR or ADDR:PORT (port 135 when \
                omitted; IPv6 as [ADDR]:PORT). Repeat for several. Default: 0.0.0.0:135, plus \
                [::]:135 when IPv6 is available. Config key: listen (a list)"
    )]
    pub listen: Vec<ListenAddr>,

    /// Where the endpoint mapper also listens over UDP (`ncadg_ip_udp`, connectionless;
    /// repeatable). Off by default, as on Windows for years.
    #[arg(
        long,
        value_name = "ADDR[:PORT]",
        help = "Also serve the endpoint mapper (and, with --demo, rpcecho) over UDP                 (ncadg_ip_udp) on ADDR or ADDR:PORT (port 135 when omitted). Repeat for                 several. Off by default. Unverified sources never get more bytes than they                 sent (docs/connectionless.md). Config key: listen-udp (a list)"
    )]
    pub listen_udp: Vec<ListenAddr>,

    /// Dynamic port range for hosted services (the demo). Config key: ports.
    #[arg(long, value_name = "LOW-HIGH")]
    pub ports: Option<PortRange>,

    /// Read settings from this TOML file (unknown keys are an error).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Also host the rpcecho test service (and mgmt) on a dynamic port of the same
    /// addresses, registered in the endpoint map as "rpcecho demo". Config key: demo.
    #[arg(long)]
    pub demo: bool,

    /// The local registration socket. Default: /run/msrpcd/epm.sock as root, otherwise
    /// $XDG_RUNTIME_DIR/msrpcd/epm.sock, or /tmp/msrpcd-$UID/epm.sock. Its directory is
    /// created (mode 0750). Config key: registration-socket.
    #[arg(long, value_name = "PATH")]
    pub registration_socket: Option<PathBuf>,

    /// Log filter for stderr: a level (error, warn, info, debug, trace) or tracing
    /// directives (msrpc_rt=debug,info). Overrides RUST_LOG, which overrides the config
    /// file. Config key: log-level.
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,

    /// Accept NTLMv2 (auth type WINNT, and inside SPNEGO, GSS_NEGOTIATE) on every endpoint
    /// for the accounts in this user file (`name:domain:NT-hash` lines, managed with `msrpc
    /// users`; must not be world-readable). Without it, NTLM binds are accepted only as
    /// anonymous logons (see `[security] allow-anonymous`). Config key: users.
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,

    /// Write audit events and detector alerts as JSON lines to FILE (appended), or to stdout
    /// with `-`. Config key: audit.log.
    #[arg(long, value_name = "FILE|-")]
    pub audit_log: Option<String>,

    /// Serve Prometheus counters (connections, binds, calls, authentication, policy,
    /// malformed input, alerts) at http://ADDR:PORT/metrics. Config key: audit.metrics.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<SocketAddr>,

    /// The most elements the endpoint map holds (default 65536); a registration that would
    /// exceed it is refused. Config key: epm-max-entries.
    #[arg(long, value_name = "N")]
    pub epm_max_entries: Option<usize>,

    /// Connections open at once on each server (the endpoint mapper's, the demo's); more are
    /// accepted and closed at once. Default 4096. Config key: `[limits] max-connections`.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,

    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    pub print_config: bool,

    /// Report what in the effective configuration is weaker than the recommended baseline
    /// (docs/hardening.md), with the key to change, and exit: 0 when no finding reaches
    /// --check-threshold, 3 when one does. Nothing is started.
    #[arg(long)]
    pub check_config: bool,

    /// The severity (info, low, medium, high) from which --check-config exits 3.
    #[arg(long, value_name = "SEVERITY", default_value = "medium")]
    pub check_threshold: String,
}

/// A `--listen` value: `ADDR`, `ADDR:PORT`, `[V6]`, `[V6]:PORT` or a bare IPv6 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenAddr(pub SocketAddr);

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if let Ok(a) = t.parse::<SocketAddr>() {
            return Ok(ListenAddr(a));
        }
        let bare = t
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(t);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(ListenAddr(SocketAddr::new(ip, EPM_PORT)));
        }
        Err(format!(
            "invalid listen address `{s}`: expected IP or IP:PORT (IPv6 as [ADDR]:PORT), \
             e.g. 0.0.0.0, 127.0.0.1:1135, [::1]:135"
        ))
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One configuration layer as TOML holds it: every key optional, unknown keys refused. The
/// keys are the long command-line options' names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Layer {
    /// `listen = ["0.0.0.0:135", "[::]:135"]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<Vec<String>>,
    /// `listen-udp = ["0.0.0.0:135"]` (empty or absent: no UDP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen_udp: Option<Vec<String>>,
    /// `ports = "49152-65535"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<String>,
    /// `demo = false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demo: Option<bool>,
    /// `registration-socket = "/run/msrpcd/epm.sock"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_socket: Option<PathBuf>,
    /// `log-level = "info"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// `users = "/etc/msrpcd/users"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<PathBuf>,
    /// `epm-max-entries = 65536`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epm_max_entries: Option<usize>,
    /// `transfer-syntax = "ndr64"`: which of NDR20 and NDR64 wins when a client offers both.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_syntax: Option<TransferSyntaxKey>,
    /// The `[policy]` table (the server security policy; see `default.toml`). A layer's
    /// table replaces the one below it as a whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    /// The `[audit]` table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditLayer>,
    /// The `[limits]` table (connections and timeouts of every endpoint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsLayer>,
    /// The `[security]` table (which logons are accepted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<SecurityLayer>,
    /// `[dcom]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dcom: Option<DcomLayer>,
    /// `[detection]`: the technique library's user file and allow-lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detection: Option<DetectionLayer>,
}

/// The `[detection]` table of a layer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DetectionLayer {
    /// `rules = "/etc/msrpcd/techniques.toml"`: a rules file (the schema of the built-in
    /// library, `docs/detection.md`) that adds rules, replaces rules by id and overrides them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<PathBuf>,
    /// `allow-sources = ["10.0.0.0/8"]`: sources (addresses or prefixes) no technique rule
    /// fires for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_sources: Option<Vec<String>>,
    /// `allow-users = ['CORP\svc_*']`: users (patterns, `*` any run) no technique rule fires for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_users: Option<Vec<String>>,
}

impl DetectionLayer {
    fn overlay(self, top: DetectionLayer) -> DetectionLayer {
        DetectionLayer {
            rules: top.rules.or(self.rules),
            allow_sources: top.allow_sources.or(self.allow_sources),
            allow_users: top.allow_users.or(self.allow_users),
        }
    }
}

/// The technique library's configuration: the built-in rules, a user's file over them, and
/// library-wide allow-lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DetectionConfig {
    /// The user's rules file.
    pub rules: Option<PathBuf>,
    /// Sources no rule fires for.
    pub allow_sources: Vec<String>,
    /// Users no rule fires for.
    pub allow_users: Vec<String>,
}

impl DetectionConfig {
    /// The library: the built-in rules, the `rules` file applied over them, the allow-lists
    /// added. Errors name the file, the rule and the key.
    pub fn library(&self) -> anyhow::Result<Library> {
        let mut lib = Library::builtin();
        if let Some(path) = &self.rules {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("detection.rules: cannot read {}", path.display()))?;
            lib.extend(&text, &path.display().to_string())
                .map_err(|e| anyhow::anyhow!("detection.rules: {e}"))?;
        }
        let nets = self
            .allow_sources
            .iter()
            .map(|s| {
                Net::parse(s).ok_or_else(|| {
                    anyhow::anyhow!(
                        "detection.allow-sources: `{s}` is not an address or ADDRESS/PREFIX"
                    )
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let users: Vec<Pattern> = self.allow_users.iter().map(|u| Pattern::new(u)).collect();
        lib.allow(&nets, &users);
        Ok(lib)
    }
}

/// The `[security]` table of a layer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SecurityLayer {
    /// `allow-anonymous = true`: accept anonymous NTLM logons (NTLM or SPNEGO with an empty
    /// user name and empty responses) as `ANONYMOUS LOGON`, at the level asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_anonymous: Option<bool>,
}

impl SecurityLayer {
    fn overlay(self, top: SecurityLayer) -> SecurityLayer {
        SecurityLayer {
            allow_anonymous: top.allow_anonymous.or(self.allow_anonymous),
        }
    }
}

/// Which logons msrpcd accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecurityConfig {
    /// Accept anonymous NTLM logons (with or without a user file).
    pub allow_anonymous: bool,
}

/// The `transfer-syntax` key: which transfer syntax the servers accept when a client offers
/// an interface in both NDR20 and NDR64 (MS-RPCE 2.2.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransferSyntaxKey {
    /// NDR64 (the default, what 64-bit Windows servers do).
    #[default]
    Ndr64,
    /// NDR20.
    Ndr20,
}

impl TransferSyntaxKey {
    /// The runtime's preference.
    pub fn to_rt(self) -> msrpc_proto::server::TransferPreference {
        match self {
            TransferSyntaxKey::Ndr64 => msrpc_proto::server::TransferPreference::Ndr64,
            TransferSyntaxKey::Ndr20 => msrpc_proto::server::TransferPreference::Ndr20,
        }
    }
}

/// The `[limits]` table of a layer: what every server msrpcd runs (the endpoint mapper, the
/// demo) allows. Timeouts are whole seconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LimitsLayer {
    /// `max-connections = 4096`: connections open at once per server (over its endpoints);
    /// one more is accepted and closed at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    /// `idle-timeout = 300`: a connection with no byte in or out and no call running for
    /// this long is closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<u64>,
    /// `fragment-timeout = 30`: a fragment whose first byte arrived must be complete within
    /// this time (a slow sender), or the connection is closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fragment_timeout: Option<u64>,
    /// `send-timeout = 30`: writing a batch of fragments must finish within this time (a
    /// peer that stops reading), or the connection is closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_timeout: Option<u64>,
    /// `udp-rate-per-source = 2000`: connectionless datagrams per second accepted from one IP
    /// address (token bucket, burst twice this).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp_rate_per_source: Option<u32>,
    /// `udp-rate-global = 50000`: connectionless datagrams per second accepted from all
    /// sources together (burst twice this).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp_rate_global: Option<u32>,
}

impl LimitsLayer {
    fn overlay(self, top: LimitsLayer) -> LimitsLayer {
        LimitsLayer {
            max_connections: top.max_connections.or(self.max_connections),
            idle_timeout: top.idle_timeout.or(self.idle_timeout),
            fragment_timeout: top.fragment_timeout.or(self.fragment_timeout),
            send_timeout: top.send_timeout.or(self.send_timeout),
            udp_rate_per_source: top.udp_rate_per_source.or(self.udp_rate_per_source),
            udp_rate_global: top.udp_rate_global.or(self.udp_rate_global),
        }
    }
}

/// Connection limits and timeouts applied to every server msrpcd runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Connections open at once per server.
    pub max_connections: usize,
    /// Idle connections are closed after this long.
    pub idle_timeout: Duration,
    /// A started fragment must be complete within this time.
    pub fragment_timeout: Duration,
    /// A batch of outgoing fragments must be written within this time.
    pub send_timeout: Duration,
    /// Connectionless datagrams per second from one IP address.
    pub udp_rate_per_source: u32,
    /// Connectionless datagrams per second from all sources.
    pub udp_rate_global: u32,
}

/// Largest `limits.max-connections` accepted (each connection holds a file descriptor).
pub const MAX_CONNECTIONS_LIMIT: usize = 1_000_000;
/// Largest timeout accepted, in seconds (one day).
pub const MAX_TIMEOUT_SECS: u64 = 86_400;

impl Default for LimitsConfig {
    fn default() -> Self {
        let l = msrpc_rt::Limits::default();
        LimitsConfig {
            max_connections: l.max_connections,
            idle_timeout: l.idle_timeout,
            fragment_timeout: l.fragment_timeout,
            send_timeout: l.send_timeout,
            udp_rate_per_source: msrpc_proto::cl::server::ClLimits::default().rate_per_source,
            udp_rate_global: msrpc_proto::cl::server::ClLimits::default().rate_global,
        }
    }
}

impl LimitsConfig {
    /// The runtime's [`msrpc_rt::Limits`] with these keys set (the others at their defaults).
    pub fn to_rt(self) -> msrpc_rt::Limits {
        msrpc_rt::Limits {
            max_connections: self.max_connections,
            idle_timeout: self.idle_timeout,
            fragment_timeout: self.fragment_timeout,
            send_timeout: self.send_timeout,
            ..msrpc_rt::Limits::default()
        }
    }

    /// The connectionless server's configuration with these keys set (the rest at the
    /// defaults; the runtime sets the boot time).
    pub fn to_cl(self) -> msrpc_proto::cl::server::ClServerConfig {
        let mut c = msrpc_proto::cl::server::ClServerConfig::default();
        c.limits.rate_per_source = self.udp_rate_per_source;
        c.limits.rate_global = self.udp_rate_global;
        c
    }

    fn from_layer(l: LimitsLayer) -> anyhow::Result<LimitsConfig> {
        let d = LimitsConfig::default();
        let max_connections = l.max_connections.unwrap_or(d.max_connections);
        if max_connections == 0 || max_connections > MAX_CONNECTIONS_LIMIT {
            bail!("limits.max-connections: must be 1 to {MAX_CONNECTIONS_LIMIT}");
        }
        let secs = |v: Option<u64>, dflt: Duration, key: &str| -> anyhow::Result<Duration> {
            match v {
                None => Ok(dflt),
                Some(s) if (1..=MAX_TIMEOUT_SECS).contains(&s) => Ok(Duration::from_secs(s)),
                Some(_) => bail!("limits.{key}: must be 1 to {MAX_TIMEOUT_SECS} seconds"),
            }
        };
        Ok(LimitsConfig {
            max_connections,
            idle_timeout: secs(l.idle_timeout, d.idle_timeout, "idle-timeout")?,
            fragment_timeout: secs(l.fragment_timeout, d.fragment_timeout, "fragment-timeout")?,
            send_timeout: secs(l.send_timeout, d.send_timeout, "send-timeout")?,
            udp_rate_per_source: match l.udp_rate_per_source {
                None => d.udp_rate_per_source,
                Some(0) => bail!("limits.udp-rate-per-source: must be at least 1"),
                Some(n) => n,
            },
            udp_rate_global: match l.udp_rate_global {
                None => d.udp_rate_global,
                Some(0) => bail!("limits.udp-rate-global: must be at least 1"),
                Some(n) => n,
            },
        })
    }

    fn to_layer(self) -> LimitsLayer {
        LimitsLayer {
            max_connections: Some(self.max_connections),
            idle_timeout: Some(self.idle_timeout.as_secs()),
            fragment_timeout: Some(self.fragment_timeout.as_secs()),
            send_timeout: Some(self.send_timeout.as_secs()),
            udp_rate_per_source: Some(self.udp_rate_per_source),
            udp_rate_global: Some(self.udp_rate_global),
        }
    }
}

/// The `[dcom]` table of a layer: the OXID resolver and activators on the endpoint mapper's
/// port, the object exporter, garbage collection and the minimum activation level.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DcomLayer {
    /// `enabled = true`: IObjectExporter, IRemoteSCMActivator and IActivation on port 135.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// `min-activation-level = "integrity"`: activations below it get E_ACCESSDENIED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_activation_level: Option<Level>,
    /// `ping-period = 120`: seconds between a client's pings (MS-DCOM 3.2.6.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ping_period: Option<u64>,
    /// `missed-pings = 3`: periods without a ping after which a ping set expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missed_pings: Option<u32>,
    /// `gc-interval = 30`: seconds between garbage-collection runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gc_interval: Option<u64>,
    /// `exporter-port = 0`: the object exporter's TCP port (0: one from `ports`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exporter_port: Option<u16>,
    /// `demo-class = true`: with `--demo`, host the demo calculator class in msrpcd (false:
    /// leave it to a process such as `msrpc-calc-service`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demo_class: Option<bool>,
}

impl DcomLayer {
    fn overlay(self, top: DcomLayer) -> DcomLayer {
        DcomLayer {
            enabled: top.enabled.or(self.enabled),
            min_activation_level: top.min_activation_level.or(self.min_activation_level),
            ping_period: top.ping_period.or(self.ping_period),
            missed_pings: top.missed_pings.or(self.missed_pings),
            gc_interval: top.gc_interval.or(self.gc_interval),
            exporter_port: top.exporter_port.or(self.exporter_port),
            demo_class: top.demo_class.or(self.demo_class),
        }
    }
}

/// The effective `[dcom]` settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DcomConfig {
    /// The resolver and activators run on port 135.
    pub enabled: bool,
    /// The minimum activation authentication level.
    pub min_activation_level: Level,
    /// The ping period.
    pub ping_period: Duration,
    /// Missed periods before a ping set expires.
    pub missed_pings: u32,
    /// Between garbage-collection runs.
    pub gc_interval: Duration,
    /// The object exporter's port; 0: a dynamic one.
    pub exporter_port: u16,
    /// With `--demo`, the demo calculator class is hosted in msrpcd.
    pub demo_class: bool,
}

impl Default for DcomConfig {
    fn default() -> Self {
        DcomConfig {
            enabled: true,
            min_activation_level: Level::Integrity,
            ping_period: Duration::from_secs(120),
            missed_pings: 3,
            gc_interval: Duration::from_secs(30),
            exporter_port: 0,
            demo_class: true,
        }
    }
}

impl DcomConfig {
    fn from_layer(l: DcomLayer) -> anyhow::Result<DcomConfig> {
        let d = DcomConfig::default();
        let secs = |v: Option<u64>, dflt: Duration, key: &str| -> anyhow::Result<Duration> {
            match v {
                None => Ok(dflt),
                Some(s) if (1..=MAX_TIMEOUT_SECS).contains(&s) => Ok(Duration::from_secs(s)),
                Some(_) => bail!("dcom.{key}: must be 1 to {MAX_TIMEOUT_SECS} seconds"),
            }
        };
        let missed_pings = l.missed_pings.unwrap_or(d.missed_pings);
        if !(1..=100).contains(&missed_pings) {
            bail!("dcom.missed-pings: must be 1 to 100");
        }
        Ok(DcomConfig {
            enabled: l.enabled.unwrap_or(d.enabled),
            min_activation_level: l.min_activation_level.unwrap_or(d.min_activation_level),
            ping_period: secs(l.ping_period, d.ping_period, "ping-period")?,
            missed_pings,
            gc_interval: secs(l.gc_interval, d.gc_interval, "gc-interval")?,
            exporter_port: l.exporter_port.unwrap_or(d.exporter_port),
            demo_class: l.demo_class.unwrap_or(d.demo_class),
        })
    }

    fn to_layer(self) -> DcomLayer {
        DcomLayer {
            enabled: Some(self.enabled),
            min_activation_level: Some(self.min_activation_level),
            ping_period: Some(self.ping_period.as_secs()),
            missed_pings: Some(self.missed_pings),
            gc_interval: Some(self.gc_interval.as_secs()),
            exporter_port: Some(self.exporter_port),
            demo_class: Some(self.demo_class),
        }
    }
}

/// The `[audit]` table of a layer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AuditLayer {
    /// `log = "/var/log/msrpcd/audit.json"` (or `"-"` for stdout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// `metrics = "127.0.0.1:9135"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<String>,
    /// `queue = 8192`: audit inputs waiting for the writer before new ones are dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<usize>,
    /// `[audit.detectors]`: thresholds and windows (missing keys keep their defaults).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detectors: Option<DetectorConfig>,
}

impl AuditLayer {
    fn overlay(self, top: AuditLayer) -> AuditLayer {
        AuditLayer {
            log: top.log.or(self.log),
            metrics: top.metrics.or(self.metrics),
            queue: top.queue.or(self.queue),
            detectors: top.detectors.or(self.detectors),
        }
    }
}

/// Where audit records go and what the detectors look for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditConfig {
    /// JSON-lines file (`-`: stdout); `None`: no log (detectors still feed the metrics).
    pub log: Option<String>,
    /// Address of the `/metrics` responder.
    pub metrics: Option<SocketAddr>,
    /// Capacity of the queue between connections and the audit writer.
    pub queue: usize,
    /// Detector thresholds.
    pub detectors: DetectorConfig,
    /// The technique library (`[detection]`).
    pub detection: DetectionConfig,
}

impl Layer {
    /// Parses a TOML layer; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Layer> {
        toml::from_str(text).with_context(|| format!("invalid configuration in {origin}"))
    }

    /// Reads and parses the file at `path`.
    pub fn read(path: &Path) -> anyhow::Result<Layer> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read configuration file {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The layer the command line sets.
    pub fn from_cli(cli: &Cli) -> Layer {
        Layer {
            listen: (!cli.listen.is_empty())
                .then(|| cli.listen.iter().map(ToString::to_string).collect()),
            listen_udp: (!cli.listen_udp.is_empty())
                .then(|| cli.listen_udp.iter().map(ToString::to_string).collect()),
            ports: cli.ports.map(|p| p.to_string()),
            demo: cli.demo.then_some(true),
            registration_socket: cli.registration_socket.clone(),
            log_level: cli.log_level.clone(),
            users: cli.users.clone(),
            epm_max_entries: cli.epm_max_entries,
            transfer_syntax: None,
            policy: None,
            security: None,
            limits: cli.max_connections.map(|n| LimitsLayer {
                max_connections: Some(n),
                ..LimitsLayer::default()
            }),
            dcom: None,
            detection: None,
            audit: (cli.audit_log.is_some() || cli.metrics.is_some()).then(|| AuditLayer {
                log: cli.audit_log.clone(),
                metrics: cli.metrics.map(|m| m.to_string()),
                ..AuditLayer::default()
            }),
        }
    }

    /// `self` with the keys `top` sets replaced.
    pub fn overlay(self, top: Layer) -> Layer {
        Layer {
            listen: top.listen.or(self.listen),
            listen_udp: top.listen_udp.or(self.listen_udp),
            ports: top.ports.or(self.ports),
            demo: top.demo.or(self.demo),
            registration_socket: top.registration_socket.or(self.registration_socket),
            log_level: top.log_level.or(self.log_level),
            users: top.users.or(self.users),
            epm_max_entries: top.epm_max_entries.or(self.epm_max_entries),
            transfer_syntax: top.transfer_syntax.or(self.transfer_syntax),
            policy: top.policy.or(self.policy),
            audit: match (self.audit, top.audit) {
                (Some(a), Some(b)) => Some(a.overlay(b)),
                (a, b) => b.or(a),
            },
            limits: match (self.limits, top.limits) {
                (Some(a), Some(b)) => Some(a.overlay(b)),
                (a, b) => b.or(a),
            },
            security: match (self.security, top.security) {
                (Some(a), Some(b)) => Some(a.overlay(b)),
                (a, b) => b.or(a),
            },
            dcom: match (self.dcom, top.dcom) {
                (Some(a), Some(b)) => Some(a.overlay(b)),
                (a, b) => b.or(a),
            },
            detection: match (self.detection, top.detection) {
                (Some(a), Some(b)) => Some(a.overlay(b)),
                (a, b) => b.or(a),
            },
        }
    }
}

/// The effective configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where the endpoint mapper listens.
    pub listen: Vec<SocketAddr>,
    /// Where the endpoint mapper also listens over UDP (empty: not at all).
    pub listen_udp: Vec<SocketAddr>,
    /// The dynamic port range.
    pub ports: PortRange,
    /// Host the rpcecho demo.
    pub demo: bool,
    /// The local registration socket.
    pub registration_socket: PathBuf,
    /// The log filter (unless `RUST_LOG` or `--log-level` say otherwise).
    pub log_level: String,
    /// The NTLM user file, when named users may log on.
    pub users: Option<PathBuf>,
    /// Which logons are accepted (`[security]`).
    pub security: SecurityConfig,
    /// The most elements the endpoint map holds.
    pub epm_max_entries: usize,
    /// Which transfer syntax wins when a client offers NDR20 and NDR64 (`transfer-syntax`).
    pub transfer_syntax: TransferSyntaxKey,
    /// The server security policy applied to every endpoint (EPM, mgmt, the demo).
    pub policy: Policy,
    /// Audit log, metrics and detectors.
    pub audit: AuditConfig,
    /// Connection limits and timeouts.
    pub limits: LimitsConfig,
    /// DCOM.
    pub dcom: DcomConfig,
}

/// What the process knows about its environment, for the computed defaults.
#[derive(Clone, Debug)]
pub struct Env {
    /// Effective user id.
    pub euid: u32,
    /// `$XDG_RUNTIME_DIR`, when set and not empty.
    pub xdg_runtime_dir: Option<PathBuf>,
    /// Whether an IPv6 socket can be bound.
    pub ipv6: bool,
}

impl Env {
    /// The running process's environment.
    pub fn current() -> Env {
        Env {
            euid: rustix::process::geteuid().as_raw(),
            xdg_runtime_dir: std::env::var_os("XDG_RUNTIME_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            ipv6: std::net::TcpListener::bind((Ipv6Addr::UNSPECIFIED, 0)).is_ok(),
        }
    }

    /// The default listen addresses: `0.0.0.0:135`, and `[::]:135` with IPv6.
    pub fn default_listen(&self) -> Vec<SocketAddr> {
        let mut v = vec![SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), EPM_PORT)];
        if self.ipv6 {
            v.push(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), EPM_PORT));
        }
        v
    }

    /// The default registration socket.
    pub fn default_socket(&self) -> PathBuf {
        default_registration_socket(self.euid, self.xdg_runtime_dir.as_deref())
    }
}

impl Config {
    /// Resolves the layers (embedded defaults, then the `--config` file, then the command
    /// line) and fills what none of them sets from `env`.
    pub fn load(cli: &Cli, env: &Env) -> anyhow::Result<Config> {
        let mut layer = Layer::parse(DEFAULT_CONFIG, "the built-in defaults")?;
        if let Some(path) = &cli.config {
            layer = layer.overlay(Layer::read(path)?);
        }
        layer = layer.overlay(Layer::from_cli(cli));
        Self::from_layer(layer, env)
    }

    /// Validates a merged layer.
    pub fn from_layer(layer: Layer, env: &Env) -> anyhow::Result<Config> {
        let listen = match layer.listen {
            Some(list) => {
                if list.is_empty() {
                    bail!("listen: at least one address is needed");
                }
                list.iter()
                    .map(|s| s.parse::<ListenAddr>().map(|a| a.0))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(anyhow::Error::msg)
                    .context("listen")?
            }
            None => env.default_listen(),
        };
        let listen_udp = layer
            .listen_udp
            .unwrap_or_default()
            .iter()
            .map(|s| s.parse::<ListenAddr>().map(|a| a.0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)
            .context("listen-udp")?;
        let ports = match layer.ports {
            Some(p) => p
                .parse::<PortRange>()
                .map_err(anyhow::Error::msg)
                .context("ports")?,
            None => PortRange {
                low: *msrpc_rt::DEFAULT_DYNAMIC_PORTS.start(),
                high: *msrpc_rt::DEFAULT_DYNAMIC_PORTS.end(),
            },
        };
        let registration_socket = layer
            .registration_socket
            .unwrap_or_else(|| env.default_socket());
        if registration_socket.file_name().is_none() {
            bail!(
                "registration-socket: `{}` names no file",
                registration_socket.display()
            );
        }
        let log_level = layer.log_level.unwrap_or_else(|| "info".to_string());
        tracing_subscriber::EnvFilter::try_new(&log_level)
            .map_err(|e| anyhow::anyhow!("log-level: invalid filter `{log_level}`: {e}"))?;
        let epm_max_entries = layer
            .epm_max_entries
            .unwrap_or(msrpc_epm::db::DEFAULT_MAX_ENTRIES);
        if epm_max_entries == 0 {
            bail!("epm-max-entries: must be at least 1");
        }
        let a = layer.audit.unwrap_or_default();
        let metrics = match a.metrics {
            Some(m) => Some(m.parse::<SocketAddr>().map_err(|_| {
                anyhow::anyhow!("audit.metrics: invalid address `{m}`: expected IP:PORT")
            })?),
            None => None,
        };
        if a.log.as_deref() == Some("") {
            bail!("audit.log: empty path (use \"-\" for stdout)");
        }
        let queue = a.queue.unwrap_or(DEFAULT_AUDIT_QUEUE);
        if queue == 0 {
            bail!("audit.queue: must be at least 1");
        }
        let d = layer.detection.unwrap_or_default();
        let detection = DetectionConfig {
            rules: d.rules,
            allow_sources: d.allow_sources.unwrap_or_default(),
            allow_users: d.allow_users.unwrap_or_default(),
        };
        // Load it once now: a rules file that does not load stops the start-up, naming the rule
        // and the key.
        detection.library()?;
        let audit = AuditConfig {
            log: a.log,
            metrics,
            queue,
            detectors: a.detectors.unwrap_or_default(),
            detection,
        };
        let limits = LimitsConfig::from_layer(layer.limits.unwrap_or_default())?;
        let security = SecurityConfig {
            allow_anonymous: layer
                .security
                .and_then(|s| s.allow_anonymous)
                .unwrap_or(true),
        };
        let dcom = DcomConfig::from_layer(layer.dcom.unwrap_or_default())?;
        Ok(Config {
            security,
            dcom,
            audit,
            limits,
            listen,
            listen_udp,
            ports,
            demo: layer.demo.unwrap_or(false),
            registration_socket,
            log_level,
            users: layer.users,
            epm_max_entries,
            transfer_syntax: layer.transfer_syntax.unwrap_or_default(),
            policy: layer.policy.unwrap_or_default(),
        })
    }

    /// The configuration as a layer that sets every key.
    pub fn to_layer(&self) -> Layer {
        Layer {
            listen: Some(self.listen.iter().map(ToString::to_string).collect()),
            listen_udp: Some(self.listen_udp.iter().map(ToString::to_string).collect()),
            ports: Some(self.ports.to_string()),
            demo: Some(self.demo),
            registration_socket: Some(self.registration_socket.clone()),
            log_level: Some(self.log_level.clone()),
            users: self.users.clone(),
            epm_max_entries: Some(self.epm_max_entries),
            transfer_syntax: Some(self.transfer_syntax),
            policy: Some(self.policy.clone()),
            audit: Some(AuditLayer {
                log: self.audit.log.clone(),
                metrics: self.audit.metrics.map(|m| m.to_string()),
                queue: Some(self.audit.queue),
                detectors: Some(self.audit.detectors.clone()),
            }),
            limits: Some(self.limits.to_layer()),
            security: Some(SecurityLayer {
                allow_anonymous: Some(self.security.allow_anonymous),
            }),
            dcom: Some(self.dcom.to_layer()),
            detection: Some(DetectionLayer {
                rules: self.audit.detection.rules.clone(),
                allow_sources: Some(self.audit.detection.allow_sources.clone()),
                allow_users: Some(self.audit.detection.allow_users.clone()),
            }),
        }
    }

    /// The configuration as a TOML file (what `--print-config` prints; `--config` reads it
    /// back to the same configuration).
    pub fn to_toml(&self) -> anyhow::Result<String> {
        let body = toml::to_string(&self.to_layer()).context("serializing the configuration")?;
        Ok(format!("# msrpcd effective configuration\n{body}"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    fn env(euid: u32, xdg: Option<&str>, ipv6: bool) -> Env {
        Env {
            euid,
            xdg_runtime_dir: xdg.map(PathBuf::from),
            ipv6,
        }
    }

    #[test]
    fn listen_addresses() {
        let p = |s: &str| s.parse::<ListenAddr>().map(|a| a.0.to_string());
        assert_eq!(p("0.0.0.0").unwrap(), "0.0.0.0:135");
        assert_eq!(p("127.0.0.1:1135").unwrap(), "127.0.0.1:1135");
        assert_eq!(p("[::]").unwrap(), "[::]:135");
        assert_eq!(p("::1").unwrap(), "[::1]:135");
        assert_eq!(p("[::1]:1135").unwrap(), "[::1]:1135");
        assert!(p("localhost")
            .unwrap_err()
            .contains("expected IP or IP:PORT"));
        assert!(p("1.2.3.4:99999").is_err());
    }

    #[test]
    fn listen_udp_from_the_file_and_the_command_line() {
        let e = env(0, None, false);
        let mut layer = Layer::parse(DEFAULT_CONFIG, "defaults").unwrap();
        layer = layer.overlay(Layer::parse("listen-udp = [\"127.0.6.31\"]\n", "file").unwrap());
        let c = Config::from_layer(layer.clone(), &e).unwrap();
        assert_eq!(
            c.listen_udp,
            vec!["127.0.6.31:135".parse::<SocketAddr>().unwrap()]
        );
        // --print-config round-trips it
        let back =
            Config::from_layer(Layer::parse(&c.to_toml().unwrap(), "print").unwrap(), &e).unwrap();
        assert_eq!(back.listen_udp, c.listen_udp);
        let cli = Cli {
            listen_udp: vec!["127.0.6.32:1135".parse().unwrap()],
            ..Cli::default()
        };
        let c = Config::from_layer(layer.overlay(Layer::from_cli(&cli)), &e).unwrap();
        assert_eq!(
            c.listen_udp,
            vec!["127.0.6.32:1135".parse::<SocketAddr>().unwrap()]
        );
        let bad = Layer::parse("listen-udp = [\"nowhere\"]\n", "file").unwrap();
        assert!(format!("{:#}", Config::from_layer(bad, &e).unwrap_err()).contains("listen-udp"));
    }

    #[test]
    fn port_ranges() {
        let r: PortRange = "50000-50010".parse().unwrap();
        assert_eq!(r.range(), 50000..=50010);
        assert_eq!(r.to_string(), "50000-50010");
        assert_eq!("7-7".parse::<PortRange>().unwrap().range(), 7..=7);
        for bad in ["", "5", "0-10", "10-9", "1-70000", "a-b", "1-2-3"] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_depend_on_the_user_and_ipv6() {
        let root = env(0, Some("/run/user/0"), true);
        assert_eq!(root.default_socket(), Path::new("/run/msrpcd/epm.sock"));
        assert_eq!(
            env(1000, Some("/run/user/1000"), true).default_socket(),
            Path::new("/run/user/1000/msrpcd/epm.sock")
        );
        assert_eq!(
            env(1000, None, true).default_socket(),
            Path::new("/tmp/msrpcd-1000/epm.sock")
        );
        let c = Config::load(&Cli::default(), &root).unwrap();
        assert_eq!(
            c.listen,
            vec![
                "0.0.0.0:135".parse::<SocketAddr>().unwrap(),
                "[::]:135".parse().unwrap()
            ]
        );
        assert_eq!(c.ports.range(), 49152..=65535);
        assert!(c.listen_udp.is_empty(), "UDP is off by default");
        assert!(!c.demo);
        assert_eq!(c.log_level, "info");
        let c = Config::load(&Cli::default(), &env(0, None, false)).unwrap();
        assert_eq!(c.listen.len(), 1);
    }

    #[test]
    fn the_command_line_overrides_the_file_and_print_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "listen = [\"127.0.0.9\"]\nports = \"50000-50100\"\ndemo = true\nlog-level = \"debug\"\n",
        )
        .unwrap();
        let e = env(1000, None, true);
        let cli = Cli::try_parse_from(["msrpcd", "--config", file.to_str().unwrap()]).unwrap();
        let c = Config::load(&cli, &e).unwrap();
        assert_eq!(c.listen, vec!["127.0.0.9:135".parse().unwrap()]);
        assert_eq!(c.ports.range(), 50000..=50100);
        assert!(c.demo);
        assert_eq!(c.log_level, "debug");
        assert_eq!(c.users, None);
        let cli = Cli::try_parse_from([
            "msrpcd",
            "--config",
            file.to_str().unwrap(),
            "--listen",
            "127.0.0.10:1135",
            "-l",
            "127.0.0.11",
            "--ports",
            "60000-60001",
            "--log-level",
            "warn",
            "--registration-socket",
            "/tmp/x/s.sock",
            "--users",
            "/etc/msrpcd/users",
        ])
        .unwrap();
        let c = Config::load(&cli, &e).unwrap();
        assert_eq!(
            c.listen,
            vec![
                "127.0.0.10:1135".parse::<SocketAddr>().unwrap(),
                "127.0.0.11:135".parse().unwrap()
            ]
        );
        assert_eq!(c.ports.range(), 60000..=60001);
        assert!(c.demo, "the file's demo stays");
        assert_eq!(c.log_level, "warn");
        assert_eq!(c.registration_socket, Path::new("/tmp/x/s.sock"));
        assert_eq!(c.users.as_deref(), Some(Path::new("/etc/msrpcd/users")));
        // --print-config output read back gives the same configuration.
        let printed = c.to_toml().unwrap();
        std::fs::write(&file, &printed).unwrap();
        let cli = Cli::try_parse_from(["msrpcd", "-c", file.to_str().unwrap()]).unwrap();
        assert_eq!(Config::load(&cli, &e).unwrap(), c);
    }

    #[test]
    fn the_security_table_defaults_to_anonymous_on_and_reads_back() {
        let e = env(1000, None, true);
        let c = Config::load(&Cli::default(), &e).unwrap();
        assert!(
            c.security.allow_anonymous,
            "anonymous logons are on by default"
        );
        assert!(c
            .to_toml()
            .unwrap()
            .contains("[security]\nallow-anonymous = true"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[security]\nallow-anonymous = false\n").unwrap();
        let cli = Cli::try_parse_from(["msrpcd", "-c", file.to_str().unwrap()]).unwrap();
        let c = Config::load(&cli, &e).unwrap();
        assert!(!c.security.allow_anonymous);
        // An empty [security] table keeps the default.
        std::fs::write(&file, "[security]\n").unwrap();
        assert!(Config::load(&cli, &e).unwrap().security.allow_anonymous);
        // --print-config reads back.
        std::fs::write(&file, "[security]\nallow-anonymous = false\n").unwrap();
        let c = Config::load(&cli, &e).unwrap();
        std::fs::write(&file, c.to_toml().unwrap()).unwrap();
        assert_eq!(Config::load(&cli, &e).unwrap(), c);
        // Unknown keys and wrong types are errors.
        for bad in [
            "[security]\nallow-anonymus = false\n",
            "[security]\nallow-anonymous = \"no\"\n",
        ] {
            std::fs::write(&file, bad).unwrap();
            assert!(Config::load(&cli, &e).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_policy_table_loads_prints_and_reads_back() {
        use msrpc_policy::{EpmLookup, Level, RestrictMode};
        let e = env(1000, None, true);
        let c = Config::load(&Cli::default(), &e).unwrap();
        assert_eq!(
            c.policy,
            Policy::default(),
            "the defaults permit everything"
        );
        assert!(c.to_toml().unwrap().contains("[policy]"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            r#"
listen = ["127.0.0.111:1135"]
[policy]
restrict-remote-clients = "authenticated"
epm-lookup = "refuse"
[[policy.interface]]
uuid = "60a15ec5-4de8-11d7-a637-005056a20182"
min-auth-level = "privacy"
[[policy.filter]]
name = "no-bob"
action = "deny"
user = 'CORP\bob'
opnum = [0, 1]
"#,
        )
        .unwrap();
        let cli = Cli::try_parse_from(["msrpcd", "-c", file.to_str().unwrap()]).unwrap();
        let c = Config::load(&cli, &e).unwrap();
        assert_eq!(c.policy.restrict_mode(), RestrictMode::Authenticated);
        assert_eq!(c.policy.epm_lookup(), EpmLookup::Refuse);
        let echo = "60a15ec5-4de8-11d7-a637-005056a20182".parse().unwrap();
        assert_eq!(c.policy.min_level(&echo), Level::Privacy);
        assert_eq!(c.policy.file().filter.len(), 1);
        let printed = c.to_toml().unwrap();
        assert!(
            printed.contains("min-auth-level = \"privacy\""),
            "{printed}"
        );
        std::fs::write(&file, &printed).unwrap();
        assert_eq!(Config::load(&cli, &e).unwrap(), c, "{printed}");
    }

    #[test]
    fn bad_policies_are_errors() {
        let e = env(1000, None, true);
        let bad = |text: &str| {
            let layer = Layer::parse(text, "p.toml")?;
            Config::from_layer(layer, &e)
        };
        for (text, want) in [
            ("[policy]\nbogus = 1", "unknown field `bogus`"),
            ("[policy]\nepm-lookup = \"never\"", "unknown variant"),
            ("[[policy.interface]]\nuuid = \"nope\"", "not a UUID"),
            (
                "[[policy.filter]]\nname = \"x\"\naction = \"deny\"\nremote = \"1.2.3.4/99\"",
                "filter `x`",
            ),
            (
                "[[policy.dcom-class]]\nclsid = \"e316f1a9-1aa2-4272-a77c-3b9abdceaf56\"\nlaunch-remote = \"10.0.0.0/99\"",
                "dcom-class e316f1a9-1aa2-4272-a77c-3b9abdceaf56: launch-remote",
            ),
            (
                "[[policy.dcom-class]]\nclsid = \"calc\"",
                "dcom-class: clsid: `calc` is not a UUID",
            ),
        ] {
            let err = format!("{:#}", bad(text).unwrap_err());
            assert!(
                err.contains(want) && err.contains("p.toml"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn audit_section_layers_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[audit]\nlog = \"/var/log/a.json\"\nqueue = 10\n[audit.detectors]\nepm-lookups = 3\nbind-window = 9\n",
        )
        .unwrap();
        let e = env(1000, None, true);
        let c = Config::load(&Cli::default(), &e).unwrap();
        assert_eq!(c.audit.log, None);
        assert_eq!(c.audit.metrics, None);
        assert_eq!(c.audit.queue, DEFAULT_AUDIT_QUEUE);
        assert_eq!(c.audit.detectors, DetectorConfig::default());
        let cli = Cli::try_parse_from([
            "msrpcd",
            "-c",
            file.to_str().unwrap(),
            "--metrics",
            "127.0.0.133:9135",
        ])
        .unwrap();
        let c = Config::load(&cli, &e).unwrap();
        assert_eq!(c.audit.log.as_deref(), Some("/var/log/a.json"));
        assert_eq!(c.audit.metrics, Some("127.0.0.133:9135".parse().unwrap()));
        assert_eq!(c.audit.queue, 10);
        assert_eq!(c.audit.detectors.epm_lookups, 3);
        assert_eq!(c.audit.detectors.bind_window, 9);
        assert_eq!(
            c.audit.detectors.opnum_faults, 8,
            "unset keys keep defaults"
        );
        let cli = Cli::try_parse_from(["msrpcd", "-c", file.to_str().unwrap(), "--audit-log", "-"])
            .unwrap();
        assert_eq!(
            Config::load(&cli, &e).unwrap().audit.log.as_deref(),
            Some("-")
        );
        // --print-config reads back to the same configuration.
        std::fs::write(&file, c.to_toml().unwrap()).unwrap();
        let cli = Cli::try_parse_from(["msrpcd", "-c", file.to_str().unwrap()]).unwrap();
        assert_eq!(Config::load(&cli, &e).unwrap(), c);
        let bad = |text: &str| {
            let layer = Layer::parse(text, "t.toml")?;
            Config::from_layer(layer, &e)
        };
        let err = format!("{:#}", bad("[audit.detectors]\nnope = 1").unwrap_err());
        assert!(err.contains("unknown field `nope`"), "{err}");
        let err = format!("{:#}", bad("[audit]\nfoo = 1").unwrap_err());
        assert!(err.contains("unknown field `foo`"), "{err}");
        let err = format!("{:#}", bad("[audit]\nmetrics = \"localhost\"").unwrap_err());
        assert!(err.contains("audit.metrics"), "{err}");
        let err = format!("{:#}", bad("[audit]\nqueue = 0").unwrap_err());
        assert!(err.contains("audit.queue"), "{err}");
    }

    #[test]
    fn dcom_section_defaults_layers_reads_back_and_validates() {
        let e = env(1000, None, true);
        let c = Config::load(&Cli::default(), &e).unwrap();
        assert_eq!(
            c.dcom,
            DcomConfig::default(),
            "default.toml repeats the code's"
        );
        assert_eq!(c.dcom.min_activation_level, Level::Integrity);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[dcom]\nmin-activation-level = \"privacy\"\nping-period = 2\nexporter-port = 4135\n",
        )
        .unwrap();
        let cli = Cli::try_parse_from(["msrpcd", "-c", file.to_str().unwrap()]).unwrap();
        let c = Config::load(&cli, &e).unwrap();
        assert_eq!(c.dcom.min_activation_level, Level::Privacy);
        assert_eq!(c.dcom.ping_period, Duration::from_secs(2));
        assert_eq!(c.dcom.exporter_port, 4135);
        assert_eq!(c.dcom.missed_pings, 3, "unset keys keep defaults");
        assert!(c.dcom.enabled);
        // --print-config reads back to the same configuration.
        let back =
            Config::from_layer(Layer::parse(&c.to_toml().unwrap(), "t").unwrap(), &e).unwrap();
        assert_eq!(back.dcom, c.dcom);
        for bad in [
            "[dcom]\nmin-activation-level = \"high\"\n",
            "[dcom]\nping-period = 0\n",
            "[dcom]\nmissed-pings = 0\n",
            "[dcom]\ngc-interval = 100000\n",
            "[dcom]\nunknown = 1\n",
        ] {
            std::fs::write(&file, bad).unwrap();
            assert!(Config::load(&cli, &e).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn limits_section_layers_reads_back_and_validates() {
        let e = env(1000, None, true);
        let c = Config::load(&Cli::default(), &e).unwrap();
        assert_eq!(
            c.limits,
            LimitsConfig::default(),
            "default.toml repeats the runtime's"
        );
        assert_eq!(c.limits.max_connections, 4096);
        assert_eq!(c.limits.idle_timeout, Duration::from_secs(300));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[limits]\nmax-connections = 11000\nidle-timeout = 3\n",
        )
        .unwrap();
        let cli = Cli::try_parse_from(["msrpcd", "-c", file.to_str().unwrap()]).unwrap();
        let c = Config::load(&cli, &e).unwrap();
        assert_eq!(c.limits.max_connections, 11000);
        assert_eq!(c.limits.idle_timeout, Duration::from_secs(3));
        assert_eq!(
            c.limits.fragment_timeout,
            Duration::from_secs(30),
            "unset keys keep defaults"
        );
        // --max-connections overrides the file's [limits] max-connections, keeping its other keys.
        let cli2 = Cli::try_parse_from([
            "msrpcd",
            "-c",
            file.to_str().unwrap(),
            "--max-connections",
            "12000",
        ])
        .unwrap();
        let c2 = Config::load(&cli2, &e).unwrap();
        assert_eq!(c2.limits.max_connections, 12000);
        assert_eq!(c2.limits.idle_timeout, Duration::from_secs(3));
        let rt = c.limits.to_rt();
        assert_eq!(rt.max_connections, 11000);
        assert_eq!(rt.idle_timeout, Duration::from_secs(3));
        assert_eq!(rt.send_timeout, Duration::from_secs(30));
        std::fs::write(&file, c.to_toml().unwrap()).unwrap();
        assert_eq!(
            Config::load(&cli, &e).unwrap(),
            c,
            "--print-config reads back"
        );
        let bad = |text: &str| {
            let layer = Layer::parse(text, "t.toml")?;
            Config::from_layer(layer, &e)
        };
        for (text, key) in [
            ("[limits]\nmax-connections = 0", "limits.max-connections"),
            (
                "[limits]\nmax-connections = 2000000",
                "limits.max-connections",
            ),
            ("[limits]\nidle-timeout = 0", "limits.idle-timeout"),
            (
                "[limits]\nfragment-timeout = 100000",
                "limits.fragment-timeout",
            ),
            ("[limits]\nsend-timeout = 0", "limits.send-timeout"),
            ("[limits]\nnope = 1", "unknown field `nope`"),
        ] {
            let err = format!("{:#}", bad(text).unwrap_err());
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn bad_files_are_errors() {
        let e = env(1000, None, true);
        let bad = |text: &str| {
            let layer = Layer::parse(text, "t.toml")?;
            Config::from_layer(layer, &e)
        };
        let err = format!("{:#}", bad("bogus = 1").unwrap_err());
        assert!(err.contains("unknown field `bogus`"), "{err}");
        assert!(err.contains("t.toml"), "{err}");
        let err = format!("{:#}", bad("listen = \"0.0.0.0\"").unwrap_err());
        assert!(err.contains("invalid type"), "{err}");
        let err = format!("{:#}", bad("listen = []").unwrap_err());
        assert!(err.contains("at least one"), "{err}");
        let err = format!("{:#}", bad("ports = \"9-1\"").unwrap_err());
        assert!(err.contains("ports"), "{err}");
        let err = format!("{:#}", bad("log-level = \"no such[\"").unwrap_err());
        assert!(err.contains("log-level"), "{err}");
        assert!(Layer::parse(DEFAULT_CONFIG, "defaults").is_ok());
    }

    #[test]
    fn detection_rules_file_and_allow_lists() {
        let e = env(1000, None, true);
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("rules.toml");
        std::fs::write(
            &good,
            "version = 1\n[roles]\nmanagement = [\"10.0.9.0/24\"]\n[[override]]\nid = \"epm_full_walk\"\nseverity = \"medium\"\n",
        )
        .unwrap();
        let text = format!(
            "[detection]\nrules = {:?}\nallow-sources = [\"10.1.0.0/16\"]\nallow-users = ['CORP\\svc_*']\n",
            good.display().to_string()
        );
        let c = Config::from_layer(Layer::parse(&text, "t.toml").unwrap(), &e).unwrap();
        assert_eq!(c.audit.detection.allow_sources, ["10.1.0.0/16"]);
        let lib = c.audit.detection.library().unwrap();
        assert_eq!(
            lib.rule("epm_full_walk").unwrap().severity,
            msrpc_audit::technique::Level::Medium
        );
        // The effective configuration prints and reads back the same.
        let again =
            Config::from_layer(Layer::parse(&c.to_toml().unwrap(), "p").unwrap(), &e).unwrap();
        assert_eq!(again, c);
        // A rules file that does not load stops the start-up, naming the rule and the key.
        let bad_rules = dir.path().join("bad.toml");
        std::fs::write(
            &bad_rules,
            "version = 1\n[[override]]\nid = \"dcsync\"\nseverity = \"urgent\"\n",
        )
        .unwrap();
        let text = format!(
            "[detection]\nrules = {:?}\n",
            bad_rules.display().to_string()
        );
        let err = format!(
            "{:#}",
            Config::from_layer(Layer::parse(&text, "t.toml").unwrap(), &e).unwrap_err()
        );
        assert!(
            err.contains("rule \"dcsync\"") && err.contains("key \"severity\""),
            "{err}"
        );
        let err = format!(
            "{:#}",
            Config::from_layer(
                Layer::parse("[detection]\nallow-sources = [\"nope\"]", "t.toml").unwrap(),
                &e
            )
            .unwrap_err()
        );
        assert!(err.contains("detection.allow-sources"), "{err}");
    }
}
