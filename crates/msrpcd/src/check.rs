//! `msrpcd --check-config`: what in the effective configuration is weaker than the recommended
//! baseline (docs/hardening.md), each with the key to change. Nothing is started.
//!
//! The baseline: unauthenticated callers reach only the endpoint mapper
//! (`[policy] restrict-remote-clients = "authenticated"`), no anonymous logons
//! (`[security] allow-anonymous = false`), DCOM activation at integrity or above, no
//! connectionless transport, a small pinned port range, an audit log.

use std::fmt::Write as _;

use msrpc_policy::{DefaultAction, EpmLookup, Level, RestrictMode};

use crate::config::Config;

/// How far a setting is from the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Hardening left undone.
    Low,
    /// An exposure to close unless it is needed.
    Medium,
    /// Unauthenticated access to more than the endpoint mapper from anywhere.
    High,
}

impl Severity {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    /// Parses a name (`info`, `low`, `medium`, `high`).
    pub fn parse(s: &str) -> Result<Severity, String> {
        [
            Severity::Info,
            Severity::Low,
            Severity::Medium,
            Severity::High,
        ]
        .into_iter()
        .find(|v| v.name().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| format!("unknown severity `{s}`: expected info, low, medium or high"))
    }
}

/// One setting weaker than the baseline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// How far from the baseline.
    pub severity: Severity,
    /// The configuration key (`[policy] restrict-remote-clients`).
    pub key: &'static str,
    /// What the configuration does now.
    pub what: String,
    /// What the baseline wants.
    pub recommended: String,
}

/// A port range is wide above this many ports.
pub const WIDE_RANGE: u32 = 1024;

/// The findings of `cfg`, most severe first. `effective` is the effective configuration as
/// TOML (`Config::to_toml`), read for keys this build may not know (connectionless
/// transports).
pub fn check(cfg: &Config, effective: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let policy = cfg.policy.file();
    let mut reachable = vec!["mgmt"];
    if cfg.demo {
        reachable.push("rpcecho (demo)");
    }
    if cfg.dcom.enabled {
        reachable.push("the DCOM resolver and activators");
    }
    match policy.restrict_remote_clients {
        RestrictMode::None if policy.default_action == DefaultAction::Permit => {
            out.push(Finding {
                severity: if cfg.demo { Severity::High } else { Severity::Medium },
                key: "[policy] restrict-remote-clients",
                what: format!(
                    "\"none\" with default-action \"permit\": unauthenticated callers reach {}",
                    reachable.join(", ")
                ),
                recommended: "\"authenticated\" (the endpoint mapper stays open; list interfaces \
                              that must stay open with [[policy.interface]] allow-unauthenticated = true)"
                    .into(),
            })
        }
        RestrictMode::None => out.push(Finding {
            severity: Severity::Low,
            key: "[policy] restrict-remote-clients",
            what: "\"none\": only the filters (default-action \"deny\") keep unauthenticated callers out".into(),
            recommended: "\"authenticated\"".into(),
        }),
        RestrictMode::Authenticated | RestrictMode::AuthenticatedWithoutExceptions => {
            let open: Vec<&str> = policy
                .interface
                .iter()
                .filter(|i| i.allow_unauthenticated)
                .map(|i| i.uuid.as_str())
                .collect();
            if !open.is_empty() && policy.restrict_remote_clients == RestrictMode::Authenticated {
                out.push(Finding {
                    severity: Severity::Low,
                    key: "[[policy.interface]] allow-unauthenticated",
                    what: format!("unauthenticated callers still reach {}", open.join(", ")),
                    recommended: "false, unless a client that cannot authenticate needs it".into(),
                });
            }
        }
    }
    if cfg.security.allow_anonymous {
        out.push(Finding {
            severity: Severity::Medium,
            key: "[security] allow-anonymous",
            what: "true: anonymous NTLM logons are accepted, and keep the level they ask for \
                   (per-interface min-auth-level lets them through)"
                .into(),
            recommended: "false".into(),
        });
    }
    if cfg.dcom.enabled && cfg.dcom.min_activation_level < Level::Integrity {
        out.push(Finding {
            severity: Severity::Medium,
            key: "[dcom] min-activation-level",
            what: format!(
                "{:?}: activations below packet integrity are accepted",
                cfg.dcom.min_activation_level
            )
            .to_lowercase(),
            recommended: "\"integrity\" (what Windows enforces since CVE-2021-26414)".into(),
        });
    }
    for (key, value) in connectionless_keys(effective) {
        out.push(Finding {
            severity: Severity::Medium,
            key: "connectionless",
            what: format!("{key} = {value}: connectionless RPC (ncadg_ip_udp) is on"),
            recommended: format!(
                "turn {key} off: connectionless RPC is legacy, spoofable and amplifies"
            ),
        });
    }
    let span = u32::from(cfg.ports.high) - u32::from(cfg.ports.low) + 1;
    if cfg.demo && span > WIDE_RANGE {
        out.push(Finding {
            severity: Severity::Low,
            key: "ports",
            what: format!(
                "\"{}\": {span} ports a firewall must open for the hosted services",
                cfg.ports
            ),
            recommended:
                "a few pinned ports (e.g. \"50100-50101\"), allowed exactly by `msrpc firewall`"
                    .into(),
        });
    }
    if cfg.dcom.enabled && cfg.demo && cfg.dcom.demo_class && cfg.dcom.exporter_port == 0 {
        out.push(Finding {
            severity: Severity::Low,
            key: "[dcom] exporter-port",
            what: "0: the object exporter takes a port from the dynamic range at each start".into(),
            recommended: "a fixed port, so firewall rules can name it".into(),
        });
    }
    if cfg.audit.log.is_none() {
        out.push(Finding {
            severity: Severity::Low,
            key: "[audit] log",
            what: "unset: calls, logons and policy refusals are not recorded".into(),
            recommended: "a file (e.g. \"/var/log/msrpcd/audit.json\"), or --audit-log".into(),
        });
    }
    if policy.epm_lookup == EpmLookup::Allow {
        out.push(Finding {
            severity: Severity::Info,
            key: "[policy] epm-lookup",
            what: "\"allow\": anyone may walk the endpoint map".into(),
            recommended: "\"require_authentication\" where every client authenticates; otherwise \
                          allow TCP 135 only from trusted networks"
                .into(),
        });
    }
    let wildcard: Vec<String> = cfg
        .listen
        .iter()
        .filter(|a| a.ip().is_unspecified())
        .map(ToString::to_string)
        .collect();
    if !wildcard.is_empty() {
        out.push(Finding {
            severity: Severity::Info,
            key: "listen",
            what: format!("{}: every interface of the host", wildcard.join(", ")),
            recommended: "the internal addresses only, where the host has several networks".into(),
        });
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

/// Keys of the effective configuration that turn connectionless RPC on (`connectionless`,
/// `udp`, `listen-udp`..., at the top level or in a table; a table counts when its `enabled`
/// is true): `(key path, value)`: `listen-udp` today; other names are matched too.
pub fn connectionless_keys(effective: &str) -> Vec<(String, String)> {
    let Ok(table) = effective.parse::<toml::Table>() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk(&table, "", &mut out);
    out
}

fn walk(t: &toml::Table, prefix: &str, out: &mut Vec<(String, String)>) {
    for (k, v) in t {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let named = k.contains("connectionless") || k.contains("udp") || k.contains("ncadg");
        match v {
            toml::Value::Table(inner)
                if named && inner.get("enabled").and_then(toml::Value::as_bool) == Some(true) =>
            {
                out.push((format!("{path}.enabled"), "true".into()))
            }
            toml::Value::Table(_) if named => {}
            toml::Value::Table(inner) => walk(inner, &path, out),
            toml::Value::Boolean(true) if named => out.push((path, "true".into())),
            toml::Value::String(s) if named && !s.is_empty() => {
                out.push((path, format!("\"{s}\"")))
            }
            toml::Value::Array(a) if named && !a.is_empty() => out.push((path, v.to_string())),
            _ => {}
        }
    }
}

/// The report as text.
pub fn report(findings: &[Finding], threshold: Severity) -> String {
    let mut s = String::new();
    if findings.is_empty() {
        s.push_str("msrpcd: the configuration meets the recommended baseline\n");
    }
    for f in findings {
        let _ = writeln!(
            s,
            "{:<6} {}: {}\n       recommended: {}",
            f.severity.name().to_uppercase(),
            f.key,
            f.what,
            f.recommended
        );
    }
    let at = findings.iter().filter(|f| f.severity >= threshold).count();
    let _ = writeln!(
        s,
        "{} finding(s), {at} at or above {} (connectionless: {}).",
        findings.len(),
        threshold.name(),
        if findings.iter().any(|f| f.key == "connectionless") {
            "on"
        } else {
            "no connectionless transport configured"
        }
    );
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn connectionless_keys_are_found_when_present() {
        assert!(connectionless_keys("ports = \"1-2\"\n[dcom]\nenabled = true\n").is_empty());
        assert_eq!(
            connectionless_keys("listen-udp = [\"0.0.0.0:135\"]\n"),
            [("listen-udp".to_string(), "[\"0.0.0.0:135\"]".to_string())]
        );
        assert_eq!(
            connectionless_keys("[connectionless]\nenabled = true\n"),
            [("connectionless.enabled".to_string(), "true".to_string())]
        );
        assert!(connectionless_keys("[connectionless]\nenabled = false\n").is_empty());
        assert_eq!(
            connectionless_keys("[security]\nudp = true\n"),
            [("security.udp".to_string(), "true".to_string())]
        );
    }

    #[test]
    fn severities_parse_and_order() {
        assert_eq!(Severity::parse("MEDIUM").unwrap(), Severity::Medium);
        assert!(Severity::parse("urgent").is_err());
        assert!(Severity::High > Severity::Low);
    }
}
