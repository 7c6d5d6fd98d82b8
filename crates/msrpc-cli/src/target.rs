//! Where to connect: parsing `HOST[:PORT]` and string bindings, and connecting (directly or
//! through the endpoint mapper).

use std::time::Duration;

use msrpc_epm::known;
use msrpc_ndr::Uuid;
use msrpc_ndr::{DataRep, DecodeLimits, TransferSyntax};
use msrpc_proto::dispatch::{BoxFuture, CallError, Invoke, ResponseStub};
use msrpc_proto::pdu::{AuthLevel, SyntaxId};
use msrpc_rt::{Binding, Client, ClientOptions, Protseq, UdpClient, UdpClientOptions};

use crate::fail::Failure;
use crate::Global;

/// Parses a string binding (`ncacn_ip_tcp:HOST[PORT]`) or the short form `HOST[:PORT]`
/// (`127.0.0.1`, `127.0.0.1:135`, `[::1]:135`, `::1`, `server.example`).
pub fn parse_target(text: &str) -> Result<Binding, Failure> {
    let t = text.trim();
    if t.is_empty() {
        return Err(Failure::usage("empty host or binding"));
    }
    let lower = t.to_ascii_lowercase();
    if lower.contains("ncacn_") || lower.contains("ncadg_") || lower.contains("ncalrpc") {
        return Binding::parse(t).map_err(|e| Failure::usage(format!("binding `{t}`: {e}")));
    }
    let (host, port) = if let Some(rest) = t.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(Failure::usage(format!("unclosed `[` in `{t}`")));
        };
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(p) => (host, Some(p)),
                None => return Err(Failure::usage(format!("unexpected `{after}` in `{t}`"))),
            },
        }
    } else {
        match t.matches(':').count() {
            0 => (t, None),
            // One colon: HOST:PORT. More: a bare IPv6 address without a port.
            1 => match t.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (t, None),
            },
            _ => (t, None),
        }
    };
    if host.is_empty() {
        return Err(Failure::usage(format!("no host in `{t}`")));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n != 0 => Some(n),
            _ => return Err(Failure::usage(format!("invalid port `{p}` in `{t}`"))),
        },
    };
    // Let the binding parser validate the host.
    let probe = Binding::tcp(host, port).to_string();
    Binding::parse(&probe).map_err(|e| Failure::usage(format!("`{t}`: {e}")))
}

/// Client options from the global flags.
pub fn client_options(g: &Global) -> ClientOptions {
    let t = Duration::from_secs_f64(g.timeout);
    ClientOptions {
        connect_timeout: t,
        call_timeout: Some(t),
        epm_port: g.epm_port,
        auth: client_auth(g),
        ..ClientOptions::default()
    }
}

/// NTLMv2 (bare or in SPNEGO, `--auth-type`) for every connection when `--user` is given
/// (password from `MSRPC_PASSWORD`), or anonymous NTLM with `--anonymous`.
fn client_auth(g: &Global) -> Option<msrpc_rt::ClientAuth> {
    let anonymous = g.anonymous;
    let user = match &g.user {
        Some(u) => u.clone(),
        None if anonymous => String::new(),
        None => return None,
    };
    let domain = g.domain.clone();
    let password = if anonymous {
        String::new()
    } else {
        std::env::var("MSRPC_PASSWORD").unwrap_or_default()
    };
    let level = match g.auth_level.as_str() {
        "connect" => AuthLevel::CONNECT,
        "packet" => AuthLevel::PKT,
        "integrity" => AuthLevel::PKT_INTEGRITY,
        _ => AuthLevel::PKT_PRIVACY,
    };
    let spnego = g.auth_type == "spnego";
    Some(msrpc_rt::ClientAuth::new(level, move || {
        let ntlm = if anonymous {
            msrpc_ntlm::NtlmClient::anonymous()
        } else {
            msrpc_ntlm::NtlmClient::new(&user, &domain, &password)
        };
        if spnego {
            Box::new(msrpc_ntlm::SpnegoClient::new(ntlm))
                as Box<dyn msrpc_proto::security::SecurityProvider>
        } else {
            Box::new(ntlm) as Box<dyn msrpc_proto::security::SecurityProvider>
        }
    }))
}

/// A connection-oriented client (`ncacn_ip_tcp`) or a connectionless one (`ncadg_ip_udp`):
/// what `dump`, `map` and `call` use, by the binding's protocol sequence.
#[derive(Clone)]
pub enum Conn {
    /// `ncacn_ip_tcp`.
    Tcp(Client),
    /// `ncadg_ip_udp` (unauthenticated; NDR20).
    Udp(UdpClient),
}

impl Conn {
    /// Closes a TCP connection (a UDP client holds no connection).
    pub fn close(&self) {
        if let Conn::Tcp(c) = self {
            c.close();
        }
    }

    /// True when a TCP connection closed (a UDP client never is).
    pub fn is_closed(&self) -> bool {
        matches!(self, Conn::Tcp(c) if c.is_closed())
    }

    /// True for `ncadg_ip_udp`.
    pub fn is_udp(&self) -> bool {
        matches!(self, Conn::Udp(_))
    }
}

impl Invoke for Conn {
    fn invoke<'a>(
        &'a self,
        syntax: SyntaxId,
        opnum: u16,
        object: Option<Uuid>,
        stub: Vec<u8>,
        drep: DataRep,
    ) -> BoxFuture<'a, Result<ResponseStub, CallError>> {
        match self {
            Conn::Tcp(c) => c.invoke(syntax, opnum, object, stub, drep),
            Conn::Udp(c) => c.invoke(syntax, opnum, object, stub, drep),
        }
    }

    fn transfer_syntax<'a>(
        &'a self,
        interface: SyntaxId,
    ) -> BoxFuture<'a, Result<TransferSyntax, CallError>> {
        match self {
            Conn::Tcp(c) => c.transfer_syntax(interface),
            Conn::Udp(c) => c.transfer_syntax(interface),
        }
    }

    fn invoke_in<'a>(
        &'a self,
        syntax: SyntaxId,
        opnum: u16,
        object: Option<Uuid>,
        stub: Vec<u8>,
        drep: DataRep,
        transfer: TransferSyntax,
    ) -> BoxFuture<'a, Result<ResponseStub, CallError>> {
        match self {
            Conn::Tcp(c) => c.invoke_in(syntax, opnum, object, stub, drep, transfer),
            Conn::Udp(c) => c.invoke_in(syntax, opnum, object, stub, drep, transfer),
        }
    }

    fn drep(&self) -> DataRep {
        match self {
            Conn::Tcp(c) => c.drep(),
            Conn::Udp(c) => c.drep(),
        }
    }

    fn limits(&self) -> DecodeLimits {
        match self {
            Conn::Tcp(c) => c.limits(),
            Conn::Udp(c) => c.limits(),
        }
    }
}

/// Connectionless client options from the global flags: `--timeout` bounds each call.
pub fn udp_options(g: &Global, b: &Binding) -> UdpClientOptions {
    let mut o = UdpClientOptions {
        call_timeout: Duration::from_secs_f64(g.timeout),
        ..UdpClientOptions::default()
    };
    if let Some(d) = b.data_representation() {
        o.config.drep = d;
    }
    o
}

/// Connects to `b`'s port, or (without one) asks the endpoint mapper where `interface`
/// listens (over UDP for an `ncadg_ip_udp` binding); the binding's options apply
/// (`bigendian`).
pub async fn connect(
    g: &Global,
    b: &Binding,
    interface: SyntaxId,
    mut opts: ClientOptions,
) -> Result<Conn, Failure> {
    if b.protseq == Protseq::IpUdp {
        let o = udp_options(g, b);
        let r = match b.port {
            Some(p) => UdpClient::connect_host(&b.host, p, o).await,
            None => UdpClient::connect_via_epm(&b.host, g.epm_port, interface, o).await,
        };
        return r.map(Conn::Udp).map_err(Failure::connecting);
    }
    b.apply_to(&mut opts.config);
    let r = match b.port {
        Some(p) => Client::connect_host(&b.host, p, opts).await,
        None => Client::connect_via_epm(&b.host, interface, opts).await,
    };
    r.map(Conn::Tcp).map_err(Failure::connecting)
}

/// Connects to `b`'s port, or the endpoint mapper's port when it names none; the binding's
/// options apply (`bigendian`).
pub async fn connect_or_epm(g: &Global, b: &Binding) -> Result<Conn, Failure> {
    let port = b.port.unwrap_or(g.epm_port);
    if b.protseq == Protseq::IpUdp {
        return UdpClient::connect_host(&b.host, port, udp_options(g, b))
            .await
            .map(Conn::Udp)
            .map_err(Failure::connecting);
    }
    let mut opts = client_options(g);
    b.apply_to(&mut opts.config);
    Client::connect_host(&b.host, port, opts)
        .await
        .map(Conn::Tcp)
        .map_err(Failure::connecting)
}

/// `host:port` for messages (IPv6 in brackets).
pub fn display_addr(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Parses `UUID[/MAJOR[.MINOR]]` or `NAME[/...]` (a well-known interface name). Without a
/// version, a known interface's usual version, else 1.0.
pub fn parse_interface(text: &str) -> Result<SyntaxId, Failure> {
    let (id, version) = match text.split_once('/') {
        Some((i, v)) => (i.trim(), Some(v.trim())),
        None => (text.trim(), None),
    };
    let uuid = match Uuid::parse_str(id) {
        Ok(u) => u,
        Err(_) => match known::lookup_name(id) {
            Some(k) => k.uuid,
            None => {
                return Err(Failure::usage(format!(
                    "`{id}` is neither a UUID nor a well-known interface name"
                )))
            }
        },
    };
    let (major, minor) = match version {
        None => known::lookup(&uuid).map_or((1, 0), |k| k.default_version()),
        Some(v) => parse_version(v)?,
    };
    Ok(SyntaxId::new(uuid, major, minor))
}

/// Parses `MAJOR[.MINOR]`.
pub fn parse_version(v: &str) -> Result<(u16, u16), Failure> {
    let bad = || Failure::usage(format!("invalid version `{v}`: expected MAJOR[.MINOR]"));
    let (maj, min) = v.split_once('.').unwrap_or((v, "0"));
    let major = maj.parse::<u16>().map_err(|_| bad())?;
    let minor = min.parse::<u16>().map_err(|_| bad())?;
    Ok((major, minor))
}

/// `uuid vMAJOR.MINOR`.
pub fn syntax_text(s: &SyntaxId) -> String {
    format!("{} v{}.{}", s.uuid, s.major, s.minor)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn hp(t: &str) -> (String, Option<u16>) {
        let b = parse_target(t).unwrap_or_else(|e| panic!("{t}: {e}"));
        (b.host, b.port)
    }

    #[test]
    fn short_forms_and_bindings() {
        assert_eq!(hp("127.0.0.1"), ("127.0.0.1".into(), None));
        assert_eq!(hp("127.0.0.1:135"), ("127.0.0.1".into(), Some(135)));
        assert_eq!(hp("[::1]:135"), ("::1".into(), Some(135)));
        assert_eq!(hp("[::1]"), ("::1".into(), None));
        assert_eq!(hp("::1"), ("::1".into(), None));
        assert_eq!(hp("host.example"), ("host.example".into(), None));
        assert_eq!(
            hp("ncacn_ip_tcp:127.0.0.1[49152]"),
            ("127.0.0.1".into(), Some(49152))
        );
        assert_eq!(hp("ncacn_ip_tcp:10.1.2.3"), ("10.1.2.3".into(), None));
        for bad in [
            "",
            "h:0",
            "h:x",
            "[::1",
            "[::1]x",
            ":135",
            "ncacn_np:h[\\pipe\\x]",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn interfaces_by_uuid_or_name() {
        let s = parse_interface("samr").unwrap();
        assert_eq!((s.major, s.minor), (1, 0));
        let s = parse_interface("e1af8308-5d1f-11c9-91a4-08002b14a0fa").unwrap();
        assert_eq!((s.major, s.minor), (3, 0));
        let s = parse_interface("e1af8308-5d1f-11c9-91a4-08002b14a0fa/2.1").unwrap();
        assert_eq!((s.major, s.minor), (2, 1));
        let s = parse_interface("01234567-89ab-cdef-0123-456789abcdef/4").unwrap();
        assert_eq!((s.major, s.minor), (4, 0));
        let s = parse_interface("01234567-89ab-cdef-0123-456789abcdef").unwrap();
        assert_eq!((s.major, s.minor), (1, 0));
        assert!(parse_interface("nope").is_err());
        assert!(parse_interface("samr/x").is_err());
    }
}
