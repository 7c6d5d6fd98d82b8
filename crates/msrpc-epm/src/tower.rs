//! Protocol towers: what `twr_t.tower_octet_string` means (C706 appendix L, protocol
//! identifiers from appendix I and the values Windows, Samba and Wireshark use).
//!
//! A tower is a little-endian `u16` floor count followed by that many floors; each floor is a
//! left-hand side (`u16` length, then a protocol identifier byte and its data) and a right-hand
//! side (`u16` length, then related or addressing data). The usual towers have five floors
//! (four for `ncalrpc`):
//!
//! | floor | meaning | example |
//! |---|---|---|
//! | 1 | interface UUID and version ([`Floor::Uuid`]) | rpcecho v1.0 |
//! | 2 | transfer syntax ([`Floor::Uuid`]) | NDR 2.0 |
//! | 3 | RPC protocol ([`Floor::RpcCo`], [`Floor::RpcCl`], [`Floor::Lrpc`]) | connection-oriented |
//! | 4 | endpoint ([`Floor::Tcp`], [`Floor::NamedPipe`], [`Floor::LrpcPort`], ...) | TCP port 49152 |
//! | 5 | host address ([`Floor::Ip`], [`Floor::NetBios`]) | 127.0.0.1 |
//!
//! Decoding is bounded and total: a floor whose identifier is unknown, or whose lengths are not
//! the canonical ones for its identifier, is kept as [`Floor::Other`] with its raw bytes, so
//! `decode` then `encode` gives back exactly the input. Only structural damage (truncation, a
//! floor count above the limit, trailing bytes) is an error ([`TowerError`]).

use std::fmt;
use std::net::Ipv4Addr;

use msrpc_ndr::Uuid;
use msrpc_proto::SyntaxId;

use crate::Twr;

/// Protocol identifiers (the first octet of a floor's left-hand side).
///
/// C706 appendix I defines 0x00-0x0d; the others are the values Windows and Samba use
/// (Samba's `epm_protocol` enumeration, Wireshark's `packet-dcerpc-epm.c`). Note that
/// [`NAMED_PIPE`](protocol::NAMED_PIPE) (0x0f, the SMB pipe name of `ncacn_np`) and
/// [`LRPC_PORT`](protocol::LRPC_PORT) (0x10, the port name of `ncalrpc`) are easy to confuse:
/// Windows' `ncalrpc` tower is `..., LRPC (0x0c), LRPC_PORT (0x10)`, its `ncacn_np` tower
/// `..., RPC_CO, NAMED_PIPE (0x0f), NETBIOS (0x11)`.
pub mod protocol {
    /// OSI object identifier.
    pub const OSI_OID: u8 = 0x00;
    /// DNA Phase IV session control.
    pub const DNA_SESSION_CONTROL: u8 = 0x02;
    /// DNA Phase V session control.
    pub const DNA_SESSION_CONTROL_V3: u8 = 0x03;
    /// DNA Phase IV NSP transport.
    pub const DNA_NSP: u8 = 0x04;
    /// OSI TP4.
    pub const OSI_TP4: u8 = 0x05;
    /// OSI CLNS or DNA routing.
    pub const OSI_CLNS: u8 = 0x06;
    /// DOD TCP: right-hand side is the port, big-endian `u16`.
    pub const TCP: u8 = 0x07;
    /// DOD UDP: right-hand side is the port, big-endian `u16`.
    pub const UDP: u8 = 0x08;
    /// DOD IP: right-hand side is the IPv4 address, 4 octets.
    pub const IP: u8 = 0x09;
    /// RPC connectionless protocol (`ncadg_*`): right-hand side is the minor version, `u16` LE.
    pub const RPC_CL: u8 = 0x0a;
    /// RPC connection-oriented protocol (`ncacn_*`): right-hand side is the minor version.
    pub const RPC_CO: u8 = 0x0b;
    /// Local RPC (`ncalrpc`, Windows): right-hand side is a reserved `u16`, zero.
    pub const LRPC: u8 = 0x0c;
    /// UUID-derived identifier: 16 octets of UUID (little-endian GUID layout) and the major
    /// version (`u16` LE) follow in the left-hand side; the right-hand side is the minor
    /// version (`u16` LE).
    pub const UUID: u8 = 0x0d;
    /// IPX.
    pub const IPX: u8 = 0x0e;
    /// Named pipe over SMB (`ncacn_np`): right-hand side is the NUL-terminated pipe name.
    pub const NAMED_PIPE: u8 = 0x0f;
    /// Local named port (`ncalrpc`): right-hand side is the NUL-terminated LRPC port name.
    pub const LRPC_PORT: u8 = 0x10;
    /// NetBIOS host name: right-hand side is the NUL-terminated name (`\\HOST`).
    pub const NETBIOS: u8 = 0x11;
    /// NetBEUI.
    pub const NETBEUI: u8 = 0x12;
    /// Netware SPX.
    pub const SPX: u8 = 0x13;
    /// NetBIOS over IPX.
    pub const NB_IPX: u8 = 0x14;
    /// AppleTalk data stream protocol.
    pub const APPLETALK_DSP: u8 = 0x16;
    /// AppleTalk datagram delivery protocol.
    pub const APPLETALK_DDP: u8 = 0x17;
    /// AppleTalk.
    pub const APPLETALK: u8 = 0x18;
    /// Vines SPP.
    pub const VINES_SPP: u8 = 0x1a;
    /// Vines IPC.
    pub const VINES_IPC: u8 = 0x1b;
    /// StreetTalk.
    pub const STREETTALK: u8 = 0x1c;
    /// RPC over HTTP (`ncacn_http`): right-hand side is the port, big-endian `u16`.
    pub const HTTP: u8 = 0x1f;
    /// Unix domain socket (Samba's `ncacn_unix_stream`): right-hand side is the NUL-terminated
    /// path.
    pub const UNIX_DOMAIN: u8 = 0x20;
    /// Null protocol.
    pub const NULL: u8 = 0x21;
}

/// One floor of a tower.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Floor {
    /// `0x0d`: a UUID and version (the interface in floor 1, the transfer syntax in floor 2).
    Uuid(SyntaxId),
    /// `0x0a`: the connectionless RPC protocol, with its minor version.
    RpcCl(u16),
    /// `0x0b`: the connection-oriented RPC protocol, with its minor version.
    RpcCo(u16),
    /// `0x0c`: local RPC (`ncalrpc`), with its reserved right-hand side (zero).
    Lrpc(u16),
    /// `0x07`: a TCP port.
    Tcp(u16),
    /// `0x08`: a UDP port.
    Udp(u16),
    /// `0x09`: an IPv4 address.
    Ip(Ipv4Addr),
    /// `0x0f`: a named pipe (`\PIPE\epmapper`).
    NamedPipe(String),
    /// `0x10`: an LRPC port name (the `ncalrpc` endpoint).
    LrpcPort(String),
    /// `0x11`: a NetBIOS host name (`\\HOST`).
    NetBios(String),
    /// `0x1f`: an RPC-over-HTTP port.
    Http(u16),
    /// `0x20`: a Unix domain socket path.
    UnixDomain(String),
    /// Any other floor, or a known identifier with non-canonical lengths, kept as its raw
    /// left-hand side (identifier included) and right-hand side.
    Other {
        /// The left-hand side octets (the first one is the protocol identifier, if any).
        lhs: Vec<u8>,
        /// The right-hand side octets.
        rhs: Vec<u8>,
    },
}

impl Floor {
    /// The protocol identifier (the first left-hand side octet); `None` only for an
    /// [`Floor::Other`] with an empty left-hand side.
    pub fn protocol_id(&self) -> Option<u8> {
        Some(match self {
            Floor::Uuid(_) => protocol::UUID,
            Floor::RpcCl(_) => protocol::RPC_CL,
            Floor::RpcCo(_) => protocol::RPC_CO,
            Floor::Lrpc(_) => protocol::LRPC,
            Floor::Tcp(_) => protocol::TCP,
            Floor::Udp(_) => protocol::UDP,
            Floor::Ip(_) => protocol::IP,
            Floor::NamedPipe(_) => protocol::NAMED_PIPE,
            Floor::LrpcPort(_) => protocol::LRPC_PORT,
            Floor::NetBios(_) => protocol::NETBIOS,
            Floor::Http(_) => protocol::HTTP,
            Floor::UnixDomain(_) => protocol::UNIX_DOMAIN,
            Floor::Other { lhs, .. } => return lhs.first().copied(),
        })
    }

    /// Interprets a floor's two sides: a typed variant when the identifier is known and the
    /// lengths are canonical for it, [`Floor::Other`] otherwise (never an error).
    pub fn from_sides(lhs: &[u8], rhs: &[u8]) -> Floor {
        Self::typed(lhs, rhs).unwrap_or_else(|| Floor::Other {
            lhs: lhs.to_vec(),
            rhs: rhs.to_vec(),
        })
    }

    fn typed(lhs: &[u8], rhs: &[u8]) -> Option<Floor> {
        let (&id, data) = lhs.split_first()?;
        if id == protocol::UUID {
            let d: &[u8; 18] = data.try_into().ok()?;
            let r: &[u8; 2] = rhs.try_into().ok()?;
            let (u, major) = d.split_at(16);
            let uuid = Uuid::from_bytes_le(u.try_into().ok()?);
            let major = u16::from_le_bytes(major.try_into().ok()?);
            return Some(Floor::Uuid(SyntaxId::new(
                uuid,
                major,
                u16::from_le_bytes(*r),
            )));
        }
        if !data.is_empty() {
            return None;
        }
        let le16 = || rhs.try_into().ok().map(u16::from_le_bytes);
        let be16 = || rhs.try_into().ok().map(u16::from_be_bytes);
        let string = || latin1_from_nul_terminated(rhs);
        match id {
            protocol::RPC_CL => le16().map(Floor::RpcCl),
            protocol::RPC_CO => le16().map(Floor::RpcCo),
            protocol::LRPC => le16().map(Floor::Lrpc),
            protocol::TCP => be16().map(Floor::Tcp),
            protocol::UDP => be16().map(Floor::Udp),
            protocol::HTTP => be16().map(Floor::Http),
            protocol::IP => {
                let a: [u8; 4] = rhs.try_into().ok()?;
                Some(Floor::Ip(Ipv4Addr::from(a)))
            }
            protocol::NAMED_PIPE => string().map(Floor::NamedPipe),
            protocol::LRPC_PORT => string().map(Floor::LrpcPort),
            protocol::NETBIOS => string().map(Floor::NetBios),
            protocol::UNIX_DOMAIN => string().map(Floor::UnixDomain),
            _ => None,
        }
    }

    /// The floor's left-hand side and right-hand side octets.
    pub fn to_sides(&self) -> Result<(Vec<u8>, Vec<u8>), TowerError> {
        let id = |b: u8| vec![b];
        Ok(match self {
            Floor::Uuid(s) => {
                let mut lhs = Vec::with_capacity(19);
                lhs.push(protocol::UUID);
                lhs.extend_from_slice(&s.uuid.to_bytes_le());
                lhs.extend_from_slice(&s.major.to_le_bytes());
                (lhs, s.minor.to_le_bytes().to_vec())
            }
            Floor::RpcCl(m) => (id(protocol::RPC_CL), m.to_le_bytes().to_vec()),
            Floor::RpcCo(m) => (id(protocol::RPC_CO), m.to_le_bytes().to_vec()),
            Floor::Lrpc(m) => (id(protocol::LRPC), m.to_le_bytes().to_vec()),
            Floor::Tcp(p) => (id(protocol::TCP), p.to_be_bytes().to_vec()),
            Floor::Udp(p) => (id(protocol::UDP), p.to_be_bytes().to_vec()),
            Floor::Http(p) => (id(protocol::HTTP), p.to_be_bytes().to_vec()),
            Floor::Ip(a) => (id(protocol::IP), a.octets().to_vec()),
            Floor::NamedPipe(s) => (id(protocol::NAMED_PIPE), nul_terminated_latin1(s)?),
            Floor::LrpcPort(s) => (id(protocol::LRPC_PORT), nul_terminated_latin1(s)?),
            Floor::NetBios(s) => (id(protocol::NETBIOS), nul_terminated_latin1(s)?),
            Floor::UnixDomain(s) => (id(protocol::UNIX_DOMAIN), nul_terminated_latin1(s)?),
            Floor::Other { lhs, rhs } => (lhs.clone(), rhs.clone()),
        })
    }
}

/// A NUL-terminated right-hand side read as Latin-1 (each octet one character), as NDR reads
/// `char` strings; `None` unless the last octet is the only NUL.
fn latin1_from_nul_terminated(b: &[u8]) -> Option<String> {
    match b.split_last() {
        Some((0, body)) if !body.contains(&0) => {
            Some(body.iter().map(|&c| char::from(c)).collect())
        }
        _ => None,
    }
}

fn nul_terminated_latin1(s: &str) -> Result<Vec<u8>, TowerError> {
    let mut out = Vec::with_capacity(s.len() + 1);
    for c in s.chars() {
        match u8::try_from(u32::from(c)) {
            Ok(b) if b != 0 => out.push(b),
            _ => return Err(TowerError::InvalidString),
        }
    }
    out.push(0);
    Ok(out)
}

/// Why a tower did not decode or encode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TowerError {
    /// The octets end inside `what` (`"floor count"`, `"lhs length"`, `"lhs"`, `"rhs length"`
    /// or `"rhs"`) of floor `floor` (0-based), which starts at byte `offset`.
    Truncated {
        /// Index of the floor being read.
        floor: usize,
        /// The field that did not fit.
        what: &'static str,
        /// Byte offset where that field starts.
        offset: usize,
    },
    /// The floor count is above the decoder's limit (or, encoding, above `u16::MAX`).
    TooManyFloors {
        /// The floor count found (or to encode).
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Octets follow the last floor.
    TrailingBytes {
        /// Where they start.
        offset: usize,
        /// How many there are.
        count: usize,
    },
    /// A side is longer than a `u16` length can say (encoding only).
    SideTooLong {
        /// `"lhs"` or `"rhs"`.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// A string floor holds a NUL or a character above U+00FF (encoding only).
    InvalidString,
}

impl fmt::Display for TowerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TowerError::Truncated {
                floor,
                what,
                offset,
            } => write!(
                f,
                "tower truncated in {what} of floor {floor} (byte {offset})"
            ),
            TowerError::TooManyFloors { count, max } => {
                write!(f, "tower has {count} floors, at most {max} allowed")
            }
            TowerError::TrailingBytes { offset, count } => {
                write!(f, "{count} bytes after the last floor (byte {offset})")
            }
            TowerError::SideTooLong { what, len } => {
                write!(f, "floor {what} of {len} bytes does not fit a u16 length")
            }
            TowerError::InvalidString => {
                write!(f, "floor string holds a NUL or a character above U+00FF")
            }
        }
    }
}

impl std::error::Error for TowerError {}

/// An endpoint named by a tower's fourth floor.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A TCP, UDP or HTTP port.
    Port(u16),
    /// A pipe name, LRPC port name or socket path.
    Name(String),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Port(p) => write!(f, "{p}"),
            Endpoint::Name(n) => f.write_str(n),
        }
    }
}

/// A host address named by a tower's fifth floor.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// An IPv4 address.
    Ip(Ipv4Addr),
    /// A NetBIOS name, as the tower carries it (usually `\\HOST`).
    NetBios(String),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Ip(a) => write!(f, "{a}"),
            Address::NetBios(n) => f.write_str(n),
        }
    }
}

/// A decoded protocol tower.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tower {
    /// The floors, in wire order.
    pub floors: Vec<Floor>,
}

fn take<'a>(
    b: &'a [u8],
    pos: &mut usize,
    n: usize,
    floor: usize,
    what: &'static str,
) -> Result<&'a [u8], TowerError> {
    let start = *pos;
    let out = start
        .checked_add(n)
        .and_then(|end| b.get(start..end))
        .ok_or(TowerError::Truncated {
            floor,
            what,
            offset: start,
        })?;
    *pos = start + out.len();
    Ok(out)
}

fn take_u16(
    b: &[u8],
    pos: &mut usize,
    floor: usize,
    what: &'static str,
) -> Result<u16, TowerError> {
    let s = take(b, pos, 2, floor, what)?;
    let a: [u8; 2] = s.try_into().map_err(|_| TowerError::Truncated {
        floor,
        what,
        offset: *pos,
    })?;
    Ok(u16::from_le_bytes(a))
}

fn len16(n: usize, what: &'static str) -> Result<[u8; 2], TowerError> {
    u16::try_from(n)
        .map(u16::to_le_bytes)
        .map_err(|_| TowerError::SideTooLong { what, len: n })
}

impl Tower {
    /// The floor count [`Tower::decode`] accepts at most. MS-RPCE 3.1.3.5.3 says an endpoint
    /// mapper SHOULD reject towers of more than six floors; the database applies that rule,
    /// the decoder is more lenient.
    pub const DEFAULT_MAX_FLOORS: usize = 16;

    /// A tower of `floors`.
    pub fn new(floors: Vec<Floor>) -> Self {
        Tower { floors }
    }

    /// Decodes `tower_octet_string` octets, allowing [`Tower::DEFAULT_MAX_FLOORS`] floors.
    pub fn decode(bytes: &[u8]) -> Result<Tower, TowerError> {
        Self::decode_with_limit(bytes, Self::DEFAULT_MAX_FLOORS)
    }

    /// Decodes `tower_octet_string` octets, allowing at most `max_floors` floors. Every length
    /// is checked against the octets left; trailing octets are an error.
    pub fn decode_with_limit(bytes: &[u8], max_floors: usize) -> Result<Tower, TowerError> {
        let mut pos = 0;
        let count = usize::from(take_u16(bytes, &mut pos, 0, "floor count")?);
        if count > max_floors {
            return Err(TowerError::TooManyFloors {
                count,
                max: max_floors,
            });
        }
        let mut floors = Vec::with_capacity(count);
        for i in 0..count {
            let lhs_len = usize::from(take_u16(bytes, &mut pos, i, "lhs length")?);
            let lhs = take(bytes, &mut pos, lhs_len, i, "lhs")?;
            let rhs_len = usize::from(take_u16(bytes, &mut pos, i, "rhs length")?);
            let rhs = take(bytes, &mut pos, rhs_len, i, "rhs")?;
            floors.push(Floor::from_sides(lhs, rhs));
        }
        if pos != bytes.len() {
            return Err(TowerError::TrailingBytes {
                offset: pos,
                count: bytes.len().saturating_sub(pos),
            });
        }
        Ok(Tower { floors })
    }

    /// Encodes the tower as `tower_octet_string` octets.
    pub fn encode(&self) -> Result<Vec<u8>, TowerError> {
        let count = u16::try_from(self.floors.len()).map_err(|_| TowerError::TooManyFloors {
            count: self.floors.len(),
            max: usize::from(u16::MAX),
        })?;
        let mut out = Vec::with_capacity(2 + self.floors.len() * 12);
        out.extend_from_slice(&count.to_le_bytes());
        for floor in &self.floors {
            let (lhs, rhs) = floor.to_sides()?;
            out.extend_from_slice(&len16(lhs.len(), "lhs")?);
            out.extend_from_slice(&lhs);
            out.extend_from_slice(&len16(rhs.len(), "rhs")?);
            out.extend_from_slice(&rhs);
        }
        Ok(out)
    }

    /// Decodes the octets of a `twr_t`.
    pub fn from_twr(twr: &Twr) -> Result<Tower, TowerError> {
        Self::decode(&twr.tower_octet_string)
    }

    /// Encodes the tower as a `twr_t`.
    pub fn to_twr(&self) -> Result<Twr, TowerError> {
        self.encode().map(Twr::new)
    }

    fn with_protocol(
        interface: SyntaxId,
        transfer: SyntaxId,
        rest: impl IntoIterator<Item = Floor>,
    ) -> Tower {
        let mut floors = vec![Floor::Uuid(interface), Floor::Uuid(transfer)];
        floors.extend(rest);
        Tower { floors }
    }

    /// The five-floor `ncacn_ip_tcp` tower: interface, transfer syntax, RPC CO (minor 0), TCP
    /// `port`, IP `ip`.
    pub fn ncacn_ip_tcp(interface: SyntaxId, transfer: SyntaxId, ip: Ipv4Addr, port: u16) -> Tower {
        Self::with_protocol(
            interface,
            transfer,
            [Floor::RpcCo(0), Floor::Tcp(port), Floor::Ip(ip)],
        )
    }

    /// The five-floor `ncadg_ip_udp` tower: interface, transfer syntax, RPC CL (minor 0), UDP
    /// `port`, IP `ip`.
    pub fn ncadg_ip_udp(interface: SyntaxId, transfer: SyntaxId, ip: Ipv4Addr, port: u16) -> Tower {
        Self::with_protocol(
            interface,
            transfer,
            [Floor::RpcCl(0), Floor::Udp(port), Floor::Ip(ip)],
        )
    }

    /// The five-floor `ncacn_http` tower: interface, transfer syntax, RPC CO, HTTP `port`, IP.
    pub fn ncacn_http(interface: SyntaxId, transfer: SyntaxId, ip: Ipv4Addr, port: u16) -> Tower {
        Self::with_protocol(
            interface,
            transfer,
            [Floor::RpcCo(0), Floor::Http(port), Floor::Ip(ip)],
        )
    }

    /// The five-floor `ncacn_np` tower: interface, transfer syntax, RPC CO, named pipe `pipe`
    /// (`\PIPE\epmapper`), NetBIOS `host` (`\\HOST`).
    pub fn ncacn_np(interface: SyntaxId, transfer: SyntaxId, pipe: &str, host: &str) -> Tower {
        Self::with_protocol(
            interface,
            transfer,
            [
                Floor::RpcCo(0),
                Floor::NamedPipe(pipe.to_owned()),
                Floor::NetBios(host.to_owned()),
            ],
        )
    }

    /// The four-floor `ncalrpc` tower Windows uses: interface, transfer syntax, LRPC (0),
    /// LRPC port `port_name`.
    pub fn ncalrpc(interface: SyntaxId, transfer: SyntaxId, port_name: &str) -> Tower {
        Self::with_protocol(
            interface,
            transfer,
            [Floor::Lrpc(0), Floor::LrpcPort(port_name.to_owned())],
        )
    }

    /// The four-floor `ncacn_unix_stream` tower Samba uses: interface, transfer syntax, RPC CO,
    /// Unix domain socket `path`.
    pub fn ncacn_unix_stream(interface: SyntaxId, transfer: SyntaxId, path: &str) -> Tower {
        Self::with_protocol(
            interface,
            transfer,
            [Floor::RpcCo(0), Floor::UnixDomain(path.to_owned())],
        )
    }

    /// The interface (floor 1), when it is a UUID floor.
    pub fn interface(&self) -> Option<SyntaxId> {
        match self.floors.first() {
            Some(Floor::Uuid(s)) => Some(*s),
            _ => None,
        }
    }

    /// The transfer syntax (floor 2), when it is a UUID floor.
    pub fn transfer_syntax(&self) -> Option<SyntaxId> {
        match self.floors.get(1) {
            Some(Floor::Uuid(s)) => Some(*s),
            _ => None,
        }
    }

    /// The protocol identifiers of floors 3 and 4 (the RPC protocol and the endpoint's
    /// transport), which together select the protocol sequence; `None` when floor 3 is missing
    /// or has no identifier. This is what the endpoint mapper compares, so it works for
    /// protocol sequences this crate has no name for.
    pub fn protocol_ids(&self) -> Option<(u8, Option<u8>)> {
        let rpc = self.floors.get(2)?.protocol_id()?;
        Some((rpc, self.floors.get(3).and_then(Floor::protocol_id)))
    }

    /// The protocol sequence name (`"ncacn_ip_tcp"`, `"ncacn_np"`, `"ncalrpc"`,
    /// `"ncadg_ip_udp"`, `"ncacn_http"`, `"ncacn_unix_stream"`, `"ncadg_unix_dgram"`), from
    /// floors 3 and 4.
    pub fn protocol_sequence(&self) -> Option<&'static str> {
        use protocol::*;
        Some(match self.protocol_ids()? {
            (LRPC, _) => "ncalrpc",
            (RPC_CO, Some(TCP)) => "ncacn_ip_tcp",
            (RPC_CO, Some(NAMED_PIPE)) => "ncacn_np",
            (RPC_CO, Some(HTTP)) => "ncacn_http",
            (RPC_CO, Some(UNIX_DOMAIN)) => "ncacn_unix_stream",
            (RPC_CL, Some(UDP)) => "ncadg_ip_udp",
            (RPC_CL, Some(UNIX_DOMAIN)) => "ncadg_unix_dgram",
            _ => return None,
        })
    }

    /// The endpoint (floor 4): a port, or a pipe / LRPC port / socket name.
    pub fn endpoint(&self) -> Option<Endpoint> {
        Some(match self.floors.get(3)? {
            Floor::Tcp(p) | Floor::Udp(p) | Floor::Http(p) => Endpoint::Port(*p),
            Floor::NamedPipe(n) | Floor::LrpcPort(n) | Floor::UnixDomain(n) => {
                Endpoint::Name(n.clone())
            }
            _ => return None,
        })
    }

    /// The host address (floor 5): an IPv4 address or a NetBIOS name.
    pub fn address(&self) -> Option<Address> {
        Some(match self.floors.get(4)? {
            Floor::Ip(a) => Address::Ip(*a),
            Floor::NetBios(n) => Address::NetBios(n.clone()),
            _ => return None,
        })
    }

    /// The string binding in the style of Impacket's rpcdump (`epm.PrintStringBinding`):
    /// `ncacn_ip_tcp:127.0.0.1[49152]`, `ncacn_np:\\HOST[\PIPE\epmapper]`, `ncalrpc:[name]`.
    /// A missing address or endpoint leaves its place empty; `None` when the protocol sequence
    /// has no name.
    pub fn binding_string(&self) -> Option<String> {
        let seq = self.protocol_sequence()?;
        let addr = self.address().map(|a| a.to_string()).unwrap_or_default();
        let ep = self.endpoint().map(|e| e.to_string()).unwrap_or_default();
        Some(format!("{seq}:{addr}[{ep}]"))
    }
}

impl fmt::Display for Tower {
    /// The binding string when there is one, the floors' identifiers otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(b) = self.binding_string() {
            return f.write_str(&b);
        }
        f.write_str("tower[")?;
        for (i, floor) in self.floors.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match floor.protocol_id() {
                Some(id) => write!(f, "{id:#04x}")?,
                None => f.write_str("-")?,
            }
        }
        f.write_str("]")
    }
}

#[cfg(test)]
pub(crate) mod tests;
