//! Transport addresses of server connections: TCP socket addresses and Unix domain sockets.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Who is on the other end of a server connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PeerAddr {
    /// An `ncacn_ip_tcp` client.
    Tcp(SocketAddr),
    /// A client of a Unix domain socket endpoint ([`ServerBuilder::listen_unix`]), with its
    /// credentials as the kernel reported them at connect time (`SO_PEERCRED`), when known.
    ///
    /// [`ServerBuilder::listen_unix`]: crate::ServerBuilder::listen_unix
    Unix {
        /// The client's process id.
        pid: Option<i32>,
        /// The client's effective user id.
        uid: Option<u32>,
    },
}

impl PeerAddr {
    /// True for a Unix domain socket peer (a local process).
    pub fn is_local(&self) -> bool {
        matches!(self, PeerAddr::Unix { .. })
    }

    /// The TCP address, for a TCP peer.
    pub fn tcp(&self) -> Option<SocketAddr> {
        match self {
            PeerAddr::Tcp(a) => Some(*a),
            PeerAddr::Unix { .. } => None,
        }
    }
}

impl fmt::Display for PeerAddr {
    /// `127.0.0.1:50000`, `unix:1234` (with the peer's pid) or `unix`. This is the text calls
    /// see in `CallContext::peer`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Tcp(a) => write!(f, "{a}"),
            PeerAddr::Unix { pid: Some(pid), .. } => write!(f, "unix:{pid}"),
            PeerAddr::Unix { pid: None, .. } => f.write_str("unix"),
        }
    }
}

/// One endpoint a server listens on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LocalAddr {
    /// An `ncacn_ip_tcp` endpoint.
    Tcp(SocketAddr),
    /// A Unix domain socket endpoint (the local registration channel).
    Unix(PathBuf),
}

impl LocalAddr {
    /// The TCP address, for a TCP endpoint.
    pub fn tcp(&self) -> Option<SocketAddr> {
        match self {
            LocalAddr::Tcp(a) => Some(*a),
            LocalAddr::Unix(_) => None,
        }
    }

    /// The socket path, for a Unix domain socket endpoint.
    pub fn unix_path(&self) -> Option<&Path> {
        match self {
            LocalAddr::Tcp(_) => None,
            LocalAddr::Unix(p) => Some(p),
        }
    }
}

impl fmt::Display for LocalAddr {
    /// `0.0.0.0:135` or `unix:/run/msrpcd/epm.sock`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalAddr::Tcp(a) => write!(f, "{a}"),
            LocalAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display() {
        let tcp: SocketAddr = "127.0.0.1:135".parse().unwrap();
        assert_eq!(PeerAddr::Tcp(tcp).to_string(), "127.0.0.1:135");
        let p = PeerAddr::Unix {
            pid: Some(42),
            uid: Some(0),
        };
        assert_eq!(p.to_string(), "unix:42");
        assert!(p.is_local() && p.tcp().is_none());
        let p = PeerAddr::Unix {
            pid: None,
            uid: None,
        };
        assert_eq!(p.to_string(), "unix");
        assert_eq!(LocalAddr::Tcp(tcp).to_string(), "127.0.0.1:135");
        let l = LocalAddr::Unix("/run/x.sock".into());
        assert_eq!(l.to_string(), "unix:/run/x.sock");
        assert_eq!(l.unix_path(), Some(Path::new("/run/x.sock")));
    }
}
