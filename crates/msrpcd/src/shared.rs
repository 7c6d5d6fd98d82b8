//! What the binaries (`msrpcd`, `msrpc-echo-service`, `msrpc-calc-service`) share: the default
//! registration socket, the dynamic port range syntax, mgmt wiring, and the service processes'
//! `main` ([`service_main`]). Included by each binary as a module.

use std::fmt;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

use msrpc_epm::{MgmtService, MgmtStats, RpcIfId};
use msrpc_proto::pdu::SyntaxId;
use msrpc_proto::server::ServerEvent;
use msrpc_rt::{ConnEvent, Observer};

/// The default registration socket for a process with effective user id `euid`:
/// `/run/msrpcd/epm.sock` for root, otherwise `$XDG_RUNTIME_DIR/msrpcd/epm.sock`, or
/// `/tmp/msrpcd-$UID/epm.sock` without `XDG_RUNTIME_DIR`.
pub fn default_registration_socket(euid: u32, xdg_runtime_dir: Option<&Path>) -> PathBuf {
    if euid == 0 {
        return PathBuf::from("/run/msrpcd/epm.sock");
    }
    match xdg_runtime_dir {
        Some(dir) => dir.join("msrpcd").join("epm.sock"),
        None => PathBuf::from(format!("/tmp/msrpcd-{euid}/epm.sock")),
    }
}

/// A `--ports` value: `LOW-HIGH`, 1 <= LOW <= HIGH <= 65535.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    /// First port.
    pub low: u16,
    /// Last port.
    pub high: u16,
}

impl PortRange {
    /// As a range.
    pub fn range(&self) -> RangeInclusive<u16> {
        self.low..=self.high
    }
}

impl FromStr for PortRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!("invalid port range `{s}`: expected LOW-HIGH with 1 <= LOW <= HIGH <= 65535, e.g. 49152-65535")
        };
        let (lo, hi) = s.trim().split_once('-').ok_or_else(bad)?;
        let low: u16 = lo.trim().parse().map_err(|_| bad())?;
        let high: u16 = hi.trim().parse().map_err(|_| bad())?;
        if low == 0 || low > high {
            return Err(bad());
        }
        Ok(PortRange { low, high })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.low, self.high)
    }
}

/// An observer counting calls and PDUs into `stats` (mgmt `inq_stats`).
pub fn stats_observer(stats: MgmtStats) -> Observer {
    Arc::new(move |ev: &ConnEvent<'_>| match ev {
        ConnEvent::Event {
            event: ServerEvent::Call(_),
            ..
        } => {
            stats.calls_in.fetch_add(1, Ordering::Relaxed);
        }
        ConnEvent::Pdus { received, sent, .. } => {
            stats.pkts_in.fetch_add(*received, Ordering::Relaxed);
            stats.pkts_out.fetch_add(*sent, Ordering::Relaxed);
        }
        _ => {}
    })
}

/// A mgmt service whose `inq_if_ids` lists `interfaces` (what its endpoint serves, mgmt
/// included) and whose `inq_stats` reports `stats`.
pub fn mgmt_for(interfaces: &[SyntaxId], stats: MgmtStats) -> MgmtService {
    let ids: Vec<RpcIfId> = interfaces.iter().map(|&s| RpcIfId::from(s)).collect();
    MgmtService::new(Arc::new(RwLock::new(ids)), stats)
}

/// The `main` of a service process: logging to stderr at `log_level` (else `RUST_LOG`, else
/// `info`), a multi-threaded tokio runtime running `run`, and the exit code, with an error
/// printed as `NAME: error: ...`.
#[allow(dead_code)] // msrpcd has its own main
pub fn service_main<F>(name: &str, log_level: Option<&str>, run: F) -> std::process::ExitCode
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    use anyhow::Context;
    use std::io::IsTerminal;
    let filter = log_level
        .and_then(|l| tracing_subscriber::EnvFilter::try_new(l).ok())
        .or_else(|| tracing_subscriber::EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|rt| rt.block_on(run));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
