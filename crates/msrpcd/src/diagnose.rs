//! Start-up failures explained: what to do when port 135 is refused or taken, and which
//! process holds a port (from `/proc`).

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use msrpc_rt::StartError;

/// The port suggested instead of a privileged one.
const UNPRIVILEGED_EPM_PORT: u16 = 1135;

/// An address to suggest instead of `addr`: the same host (loopback for a wildcard) on an
/// unprivileged port.
fn suggestion(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let port = if addr.port() < 1024 {
        addr.port() + 1000
    } else {
        UNPRIVILEGED_EPM_PORT
    };
    SocketAddr::new(ip, port)
}

/// The message for a server that did not start; `what` names the server ("the endpoint
/// mapper", "the demo"), `exe` is this program's path (for the `setcap` hint).
pub fn explain(e: &StartError, what: &str, exe: &Path) -> String {
    match e {
        StartError::Bind { addr, source } => explain_bind(*addr, source, exe),
        StartError::UnixInUse { path } => format!(
            "another msrpcd is already running: it answers on the registration socket {} \
             (stop it, or give this one its own --registration-socket and --listen)",
            path.display()
        ),
        StartError::BindUnix { path, source } => format!(
            "cannot create the registration socket {}: {source} (choose another path with \
             --registration-socket)",
            path.display()
        ),
        StartError::NoFreePort { ip, start, end } => format!(
            "{what}: no free port on {ip} in the dynamic range {start}-{end} (widen it with \
             --ports LOW-HIGH)"
        ),
        other => format!("{what} did not start: {other}"),
    }
}

fn explain_bind(addr: SocketAddr, source: &io::Error, exe: &Path) -> String {
    let alt = suggestion(addr);
    match source.kind() {
        io::ErrorKind::PermissionDenied => format!(
            "cannot listen on {addr}: permission denied — run as root, grant \
             CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep {}), or use --listen {alt}",
            exe.display()
        ),
        io::ErrorKind::AddrInUse => {
            let holders = holders(addr);
            let who = if holders.is_empty() {
                format!(
                    "another process holds the port (`ss -ltnp 'sport = :{}'` shows which)",
                    addr.port()
                )
            } else {
                let own = std::process::id();
                let list: Vec<String> = holders
                    .iter()
                    .map(|(pid, name)| {
                        if *pid == own {
                            format!(
                                "pid {pid} ({name}, this msrpcd: two --listen addresses overlap)"
                            )
                        } else {
                            format!("pid {pid} ({name})")
                        }
                    })
                    .collect();
                format!("it is held by {}", list.join(", "))
            };
            let likely = if addr.port() == 135 {
                " — likely another endpoint mapper (samba-dcerpcd, or an msrpcd already running)"
            } else {
                ""
            };
            format!(
                "cannot listen on {addr}: address already in use — {who}{likely}; stop it, or \
                 use --listen with another address or port (e.g. --listen {alt})"
            )
        }
        io::ErrorKind::AddrNotAvailable => format!(
            "cannot listen on {addr}: the address is not assigned to this host (check --listen)"
        ),
        _ => format!("cannot listen on {addr}: {source}"),
    }
}

/// The processes (pid, command name) with a listening TCP socket that keeps `addr` from
/// being bound (same port, overlapping address), found through `/proc/net/tcp{,6}` and
/// `/proc/PID/fd` (only the processes this user may inspect).
pub fn holders(addr: SocketAddr) -> Vec<(u32, String)> {
    let inodes = listening_inodes(addr);
    if inodes.is_empty() {
        return Vec::new();
    }
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .ok()
                .and_then(|l| socket_inode(&l.to_string_lossy()))
                .is_some_and(|i| inodes.contains(&i))
        });
        if holds {
            let name = std::fs::read_to_string(p.path().join("comm"))
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "?".into());
            out.push((pid, name));
        }
    }
    out
}

/// `socket:[12345]` -> 12345.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Inodes of the listening sockets in `/proc/net/tcp` and `/proc/net/tcp6` that conflict
/// with `addr`.
fn listening_inodes(addr: SocketAddr) -> HashSet<u64> {
    let mut out = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            out.extend(
                parse_listeners(&text)
                    .into_iter()
                    .filter(|(a, _)| conflicts(*a, addr))
                    .map(|(_, inode)| inode),
            );
        }
    }
    out
}

/// Whether a listener on `held` keeps `wanted` from being bound: the same port and the
/// same address, or a wildcard on either side (an IPv6 wildcard may be dual-stack).
fn conflicts(held: SocketAddr, wanted: SocketAddr) -> bool {
    if held.port() != wanted.port() {
        return false;
    }
    let (h, w) = (held.ip(), wanted.ip());
    match (h, w) {
        (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
            h == w || h.is_unspecified() || w.is_unspecified()
        }
        (IpAddr::V6(h6), IpAddr::V4(_)) => h6.is_unspecified(),
        (IpAddr::V4(_), IpAddr::V6(w6)) => w6.is_unspecified(),
    }
}

/// An address of `/proc/net/tcp{,6}`: the address's 32-bit words in hex, each in host byte
/// order, then `:` and the port in hex.
fn parse_proc_addr(text: &str) -> Option<SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for i in (0..ip.len()).step_by(8) {
        let word = u32::from_str_radix(ip.get(i..i + 8)?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip: IpAddr = match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes.as_slice()).ok()?.into(),
        16 => <[u8; 16]>::try_from(bytes.as_slice()).ok()?.into(),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// The (local address, inode) of the rows of a `/proc/net/tcp` table in state LISTEN (`0A`).
fn parse_listeners(text: &str) -> Vec<(SocketAddr, u64)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if *cols.get(3)? != "0A" {
                return None;
            }
            let local = parse_proc_addr(cols.get(1)?)?;
            let inode = cols.get(9)?.parse::<u64>().ok().filter(|i| *i != 0)?;
            Some((local, inode))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let exe = Path::new("/usr/bin/msrpcd");
        let addr: SocketAddr = "0.0.0.0:135".parse().unwrap();
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        let m = explain(
            &StartError::Bind {
                addr,
                source: denied,
            },
            "the endpoint mapper",
            exe,
        );
        assert_eq!(
            m,
            "cannot listen on 0.0.0.0:135: permission denied — run as root, grant \
             CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep /usr/bin/msrpcd), or use \
             --listen 127.0.0.1:1135"
        );
        let addr: SocketAddr = "127.0.0.5:135".parse().unwrap();
        let in_use = io::Error::from(io::ErrorKind::AddrInUse);
        let m = explain(
            &StartError::Bind {
                addr,
                source: in_use,
            },
            "x",
            exe,
        );
        assert!(
            m.starts_with("cannot listen on 127.0.0.5:135: address already in use"),
            "{m}"
        );
        assert!(m.contains("endpoint mapper"), "{m}");
        assert!(m.contains("--listen 127.0.0.5:1135"), "{m}");
    }

    #[test]
    fn proc_net_tcp_rows() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0087 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0087 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 20 4 30 10 -1
   2: 00000000:0470 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0
";
        let rows = parse_listeners(table);
        let lo: SocketAddr = if cfg!(target_endian = "little") {
            "127.0.0.1:135".parse().unwrap()
        } else {
            "1.0.0.127:135".parse().unwrap()
        };
        assert_eq!(
            rows,
            vec![(lo, 4242), ("0.0.0.0:1136".parse().unwrap(), 4444)]
        );
        let v6 = parse_proc_addr("00000000000000000000000001000000:0087").unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(v6, "[::1]:135".parse().unwrap());
        }
        assert!(parse_proc_addr("0100007F").is_none());
        assert!(parse_proc_addr("01007F:0087").is_none());
        assert_eq!(socket_inode("socket:[4242]"), Some(4242));
        assert_eq!(socket_inode("pipe:[1]"), None);
    }

    #[test]
    fn conflicting_addresses() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(conflicts(a("127.0.0.1:135"), a("127.0.0.1:135")));
        assert!(conflicts(a("0.0.0.0:135"), a("127.0.0.1:135")));
        assert!(conflicts(a("127.0.0.1:135"), a("0.0.0.0:135")));
        assert!(conflicts(a("[::]:135"), a("127.0.0.1:135")));
        assert!(!conflicts(a("127.0.0.2:135"), a("127.0.0.1:135")));
        assert!(!conflicts(a("127.0.0.1:136"), a("127.0.0.1:135")));
        assert!(!conflicts(a("[::1]:135"), a("127.0.0.1:135")));
        assert!(conflicts(a("[::1]:135"), a("[::]:135")));
    }

    #[test]
    fn finds_our_own_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = holders(addr);
        assert!(h.iter().any(|(pid, _)| *pid == std::process::id()), "{h:?}");
        let elsewhere = SocketAddr::new("127.0.0.3".parse().unwrap(), addr.port());
        assert!(holders(elsewhere).is_empty());
    }
}
