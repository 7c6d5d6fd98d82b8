//! String bindings (C706 appendix J, MS-RPCE 2.1.1.2 `ncacn_ip_tcp`).
//!
//! See [`Binding`] for the syntax.

use std::fmt;

use msrpc_ndr::{DataRep, Uuid};
use msrpc_proto::client::ClientConfig;

/// The only protocol sequence this runtime speaks.
const PROTSEQ: &str = "ncacn_ip_tcp";
const PROTSEQ_UDP: &str = "ncadg_ip_udp";

/// The protocol sequence of a [`Binding`] (C706 appendix I).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Protseq {
    /// `ncacn_ip_tcp`: connection-oriented RPC over TCP ([`Client`](crate::Client)).
    #[default]
    IpTcp,
    /// `ncadg_ip_udp`: connectionless RPC over UDP ([`UdpClient`](crate::UdpClient)).
    IpUdp,
}

impl Protseq {
    /// The protocol sequence's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Protseq::IpTcp => PROTSEQ,
            Protseq::IpUdp => PROTSEQ_UDP,
        }
    }
}

/// A parsed `ncacn_ip_tcp` or `ncadg_ip_udp` string binding (the same syntax; the port is a
/// UDP port for the latter).
///
/// # Syntax
/// `[OBJECT-UUID@]ncacn_ip_tcp:HOST[[PORT[,OPTION=VALUE]...]]`
///
/// | example | host | port |
/// |---|---|---|
/// | `ncacn_ip_tcp:127.0.0.1[49152]` | 127.0.0.1 | 49152 |
/// | `ncacn_ip_tcp:server.example` | server.example | none (ask the endpoint mapper) |
/// | `ncacn_ip_tcp:server[]` | server | none |
/// | `ncacn_ip_tcp:host[49152,connect_timeout=5]` | host | 49152, one option |
/// | `ncacn_ip_tcp:[::1][135]` | ::1 | 135 |
/// | `ncacn_ip_tcp:[::1]` | ::1 | none |
/// | `ncacn_ip_tcp:::1[135]` | ::1 | 135 (an unbracketed IPv6 address runs up to the endpoint) |
/// | `60a15ec5-4de8-11d7-a637-005056a20182@ncacn_ip_tcp:h[1]` | h | 1, with an object UUID |
///
/// The protocol sequence is matched without regard to case. An IPv6 address may be written in
/// brackets (`[::1]`); a bracket group directly after `ncacn_ip_tcp:` is a host only when it
/// holds a `:`, so `ncacn_ip_tcp:[135]` is an endpoint without a host, which is refused.
/// Options are kept in [`Binding::options`]; the runtime acts on one, as Samba's binding
/// strings do: `bigendian` sends requests in big-endian NDR ([`Binding::data_representation`],
/// applied by [`Client::connect`](crate::Client::connect) and
/// [`Binding::apply_to`]). The others are left to the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The protocol sequence.
    pub protseq: Protseq,
    /// Object UUID, when the binding starts with `UUID@` (connecting does not use it; pass it
    /// to a generated client's `with_object`).
    pub object: Option<Uuid>,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port, when the binding names an endpoint.
    pub port: Option<u16>,
    /// Options after the endpoint (`key=value`, or `key` with an empty value), in order.
    pub options: Vec<(String, String)>,
}

/// Why a string binding did not parse; the message says what is wrong and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BindingError {
    /// No `protseq:` part.
    #[error("missing protocol sequence: expected `ncacn_ip_tcp:HOST[PORT]`, got `{0}`")]
    MissingProtseq(String),
    /// A protocol sequence other than `ncacn_ip_tcp` and `ncadg_ip_udp`.
    #[error("unsupported protocol sequence `{0}` (ncacn_ip_tcp and ncadg_ip_udp are supported)")]
    UnsupportedProtseq(String),
    /// The text before `@` is not a UUID.
    #[error("invalid object UUID `{0}`")]
    BadObject(String),
    /// No host between `ncacn_ip_tcp:` and the endpoint.
    #[error("missing host after `ncacn_ip_tcp:`")]
    MissingHost,
    /// The host holds characters a host cannot.
    #[error("invalid host `{0}`")]
    BadHost(String),
    /// A `[` without its `]`.
    #[error("unclosed `[` in `{0}`")]
    UnclosedBracket(String),
    /// Text after the endpoint's `]`, or an endpoint that is not in brackets.
    #[error("unexpected `{0}` after the host (the endpoint goes in brackets: HOST[PORT])")]
    Trailing(String),
    /// The endpoint is not a port number from 1 to 65535.
    #[error("invalid port `{0}`: expected a number from 1 to 65535")]
    BadPort(String),
    /// An empty option (`[135,,x=1]`).
    #[error("empty option in `{0}`")]
    EmptyOption(String),
}

impl Binding {
    /// A binding to `host` (a name or an IP address) and `port`.
    pub fn tcp(host: impl Into<String>, port: Option<u16>) -> Self {
        Binding {
            protseq: Protseq::IpTcp,
            object: None,
            host: host.into(),
            port,
            options: Vec::new(),
        }
    }

    /// An `ncadg_ip_udp` binding to `host` and UDP `port`.
    pub fn udp(host: impl Into<String>, port: Option<u16>) -> Self {
        Binding {
            protseq: Protseq::IpUdp,
            ..Binding::tcp(host, port)
        }
    }

    /// True when the binding carries option `name` (compared without regard to case).
    pub fn has_option(&self, name: &str) -> bool {
        self.options
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    /// The data representation the binding asks requests to use: big-endian with the
    /// `bigendian` option (Samba's binding option of that name), otherwise `None` (the
    /// configuration's, little-endian by default). Integers, UTF-16 strings and the PDU header
    /// follow it; NTLM tokens and the verification trailer stay little-endian (their specs
    /// fix the byte order).
    pub fn data_representation(&self) -> Option<DataRep> {
        self.has_option("bigendian").then_some(DataRep::BIG_ENDIAN)
    }

    /// Applies the options the runtime acts on to `config` (`bigendian`).
    pub fn apply_to(&self, config: &mut ClientConfig) {
        if let Some(drep) = self.data_representation() {
            config.drep = drep;
        }
    }

    /// Parses a string binding (see [`Binding`] for the syntax).
    pub fn parse(text: &str) -> Result<Binding, BindingError> {
        let s = text.trim();
        // Object UUID: only when the `@` comes before the protseq's `:`.
        let (object, rest) = match (s.find('@'), s.find(':')) {
            (Some(at), colon) if colon.is_none_or(|c| at < c) => {
                let (uuid, rest) = s.split_at(at);
                let parsed =
                    Uuid::parse_str(uuid).map_err(|_| BindingError::BadObject(uuid.into()))?;
                (Some(parsed), rest.get(1..).unwrap_or_default())
            }
            _ => (None, s),
        };
        let Some((protseq, addr)) = rest.split_once(':') else {
            return Err(BindingError::MissingProtseq(s.into()));
        };
        let protseq = if protseq.eq_ignore_ascii_case(PROTSEQ) {
            Protseq::IpTcp
        } else if protseq.eq_ignore_ascii_case(PROTSEQ_UDP) {
            Protseq::IpUdp
        } else {
            return Err(BindingError::UnsupportedProtseq(protseq.into()));
        };
        let (host, endpoint) = split_host(addr)?;
        if host.is_empty() {
            return Err(BindingError::MissingHost);
        }
        if host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "[]@,/\\".contains(c))
        {
            return Err(BindingError::BadHost(host.into()));
        }
        let (port, options) = match endpoint {
            None => (None, Vec::new()),
            Some(e) => parse_endpoint(e)?,
        };
        Ok(Binding {
            protseq,
            object,
            host: host.into(),
            port,
            options,
        })
    }
}

/// Splits `HOST[ENDPOINT]` into the host and the bracket contents.
fn split_host(addr: &str) -> Result<(&str, Option<&str>), BindingError> {
    if let Some(inner) = addr.strip_prefix('[') {
        let close = inner
            .find(']')
            .ok_or_else(|| BindingError::UnclosedBracket(addr.into()))?;
        let (group, after) = inner.split_at(close);
        let after = after.get(1..).unwrap_or_default();
        if !group.contains(':') {
            // `[135]`: an endpoint with no host.
            return Err(BindingError::MissingHost);
        }
        return Ok((group, endpoint_group(after)?));
    }
    match addr.find('[') {
        None => {
            if addr.contains(']') {
                return Err(BindingError::Trailing(addr.into()));
            }
            Ok((addr, None))
        }
        Some(open) => {
            let (host, group) = addr.split_at(open);
            Ok((host, endpoint_group(group)?))
        }
    }
}

/// `""` -> no endpoint; `"[...]"` -> its contents; anything else is an error.
fn endpoint_group(s: &str) -> Result<Option<&str>, BindingError> {
    if s.is_empty() {
        return Ok(None);
    }
    let Some(inner) = s.strip_prefix('[') else {
        return Err(BindingError::Trailing(s.into()));
    };
    let Some(close) = inner.find(']') else {
        return Err(BindingError::UnclosedBracket(s.into()));
    };
    let (contents, after) = inner.split_at(close);
    let after = after.get(1..).unwrap_or_default();
    if !after.is_empty() || contents.contains('[') {
        return Err(BindingError::Trailing(after.into()));
    }
    Ok(Some(contents))
}

type Endpoint = (Option<u16>, Vec<(String, String)>);

fn parse_endpoint(e: &str) -> Result<Endpoint, BindingError> {
    let mut parts = e.split(',');
    let port_text = parts.next().unwrap_or_default().trim();
    let port = if port_text.is_empty() {
        None
    } else {
        match port_text.parse::<u16>() {
            Ok(p) if p != 0 => Some(p),
            _ => return Err(BindingError::BadPort(port_text.into())),
        }
    };
    let mut options = Vec::new();
    for opt in parts {
        let opt = opt.trim();
        if opt.is_empty() {
            return Err(BindingError::EmptyOption(e.into()));
        }
        let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
        options.push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok((port, options))
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(o) = &self.object {
            write!(f, "{o}@")?;
        }
        let protseq = self.protseq.as_str();
        if self.host.contains(':') {
            write!(f, "{protseq}:[{}]", self.host)?;
        } else {
            write!(f, "{protseq}:{}", self.host)?;
        }
        if self.port.is_none() && self.options.is_empty() {
            return Ok(());
        }
        f.write_str("[")?;
        if let Some(p) = self.port {
            write!(f, "{p}")?;
        }
        for (k, v) in &self.options {
            if v.is_empty() {
                write!(f, ",{k}")?;
            } else {
                write!(f, ",{k}={v}")?;
            }
        }
        f.write_str("]")
    }
}

impl std::str::FromStr for Binding {
    type Err = BindingError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Binding::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_bindings_parse_and_print() {
        let b = Binding::parse("ncadg_ip_udp:127.0.6.1[135,bigendian]").unwrap();
        assert_eq!(b.protseq, Protseq::IpUdp);
        assert_eq!(b.port, Some(135));
        assert_eq!(b.to_string(), "ncadg_ip_udp:127.0.6.1[135,bigendian]");
        assert_eq!(ok("ncacn_ip_tcp:h[1]").protseq, Protseq::IpTcp);
    }

    fn ok(s: &str) -> Binding {
        Binding::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_the_documented_forms() {
        let b = ok("ncacn_ip_tcp:127.0.0.1[49152]");
        assert_eq!((b.host.as_str(), b.port), ("127.0.0.1", Some(49152)));
        assert!(b.object.is_none() && b.options.is_empty());
        let b = ok("ncacn_ip_tcp:server.example");
        assert_eq!((b.host.as_str(), b.port), ("server.example", None));
        let b = ok("NCACN_IP_TCP:server[]");
        assert_eq!((b.host.as_str(), b.port), ("server", None));
        let b = ok("ncacn_ip_tcp:host[49152,connect_timeout=5, flag]");
        assert_eq!(b.port, Some(49152));
        assert_eq!(
            b.options,
            vec![
                ("connect_timeout".into(), "5".into()),
                ("flag".into(), String::new())
            ]
        );
        let b = ok("ncacn_ip_tcp:host[,connect_timeout=5]");
        assert_eq!(b.port, None);
        assert_eq!(b.options.len(), 1);
        let b = ok("ncacn_ip_tcp:[::1][135]");
        assert_eq!((b.host.as_str(), b.port), ("::1", Some(135)));
        let b = ok("ncacn_ip_tcp:[fe80::1%eth0]");
        assert_eq!((b.host.as_str(), b.port), ("fe80::1%eth0", None));
        let b = ok("ncacn_ip_tcp:::1[135]");
        assert_eq!((b.host.as_str(), b.port), ("::1", Some(135)));
        let b = ok("  60a15ec5-4de8-11d7-a637-005056a20182@ncacn_ip_tcp:h[1] ");
        assert_eq!(
            b.object,
            Some(Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182))
        );
        assert_eq!(b.port, Some(1));
    }

    #[test]
    fn bigendian_option() {
        let mut config = ClientConfig::default();
        let b = ok("ncacn_ip_tcp:h[135]");
        assert_eq!(b.data_representation(), None);
        b.apply_to(&mut config);
        assert_eq!(config.drep, DataRep::LITTLE_ENDIAN);
        let b = ok("ncacn_ip_tcp:h[135,BigEndian]");
        assert!(b.has_option("bigendian"));
        assert_eq!(b.data_representation(), Some(DataRep::BIG_ENDIAN));
        b.apply_to(&mut config);
        assert_eq!(config.drep, DataRep::BIG_ENDIAN);
        assert_eq!(
            ok("ncacn_ip_tcp:h[,bigendian]").data_representation(),
            Some(DataRep::BIG_ENDIAN)
        );
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "ncacn_ip_tcp:127.0.0.1[49152]",
            "ncacn_ip_tcp:host",
            "ncacn_ip_tcp:[::1][135]",
            "ncacn_ip_tcp:[::1]",
            "ncacn_ip_tcp:h[1,a=b,c]",
            "60a15ec5-4de8-11d7-a637-005056a20182@ncacn_ip_tcp:h[1]",
        ] {
            let b = ok(s);
            assert_eq!(b.to_string(), s);
            assert_eq!(ok(&b.to_string()), b);
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let cases: &[(&str, BindingError)] = &[
            (
                "127.0.0.1",
                BindingError::MissingProtseq("127.0.0.1".into()),
            ),
            (
                "ncacn_np:srv[\\pipe\\x]",
                BindingError::UnsupportedProtseq("ncacn_np".into()),
            ),
            ("ncacn_ip_tcp:", BindingError::MissingHost),
            ("ncacn_ip_tcp:[135]", BindingError::MissingHost),
            ("ncacn_ip_tcp:[49152]", BindingError::MissingHost),
            ("ncacn_ip_tcp:h[0]", BindingError::BadPort("0".into())),
            (
                "ncacn_ip_tcp:h[70000]",
                BindingError::BadPort("70000".into()),
            ),
            ("ncacn_ip_tcp:h[abc]", BindingError::BadPort("abc".into())),
            (
                "ncacn_ip_tcp:h[1",
                BindingError::UnclosedBracket("[1".into()),
            ),
            (
                "ncacn_ip_tcp:[::1",
                BindingError::UnclosedBracket("[::1".into()),
            ),
            ("ncacn_ip_tcp:h[1]x", BindingError::Trailing("x".into())),
            ("ncacn_ip_tcp:[::1]x", BindingError::Trailing("x".into())),
            ("ncacn_ip_tcp:h]", BindingError::Trailing("h]".into())),
            ("ncacn_ip_tcp:a b[1]", BindingError::BadHost("a b".into())),
            (
                "nope@ncacn_ip_tcp:h",
                BindingError::BadObject("nope".into()),
            ),
            (
                "ncacn_ip_tcp:h[1,,a]",
                BindingError::EmptyOption("1,,a".into()),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Binding::parse(text).as_ref(), Err(want), "{text}");
            assert!(!want.to_string().is_empty());
        }
    }
}
