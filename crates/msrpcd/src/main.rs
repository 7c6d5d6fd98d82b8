//! `msrpcd`: the DCE/RPC endpoint mapper daemon.
//!
//! It serves, on every `--listen` address (default `0.0.0.0:135` and `[::]:135`):
//! - the endpoint mapper `ept` (e1af8308-5d1f-11c9-91a4-08002b14a0fa v3.0): `ept_lookup`,
//!   `ept_map`, ... over the shared endpoint map; `ept_insert` / `ept_delete` /
//!   `ept_mgmt_delete` from the network are refused with access denied (5);
//! - `mgmt` (afa8bd80-7d8a-11c9-bef4-08002b102989 v1.0): `inq_if_ids` lists `ept` and
//!   `mgmt`, `inq_stats` counts calls and PDUs of this endpoint.
//!
//! and the same interfaces on the local registration socket (a Unix domain socket, mode
//! 0660), where calls are local: services on this host register their endpoints there with
//! `ept_insert` (see `msrpc_rt::registration`), and the daemon removes them when the
//! registering connection closes. A local `mgmt stop_server_listening` stops the daemon.
//!
//! The endpoint mapper does not list itself (nor mgmt) in `ept_lookup`, as on Windows: a
//! client that reached port 135 needs no entry to find it, and rpcdump output stays the list
//! of services.
//!
//! `--demo` also hosts Samba's rpcecho test interface (with mgmt) on a dynamic port of the
//! same addresses, registered in-process as "rpcecho demo".
//!
//! `--users FILE` (config key `users`) makes every endpoint (EPM and demo) accept NTLMv2
//! binds (auth type WINNT, `msrpc_ntlm::NtlmAcceptor`, and SPNEGO carrying it, auth type
//! GSS_NEGOTIATE, `msrpc_ntlm::SpnegoAcceptor`) for the accounts in FILE
//! (`name:domain:NT-hash` lines, `msrpc users add/del/list`; a world-readable or malformed
//! file stops the start). Without it, authenticated binds are refused.
//!
//! The `[policy]` table of the configuration (see `src/default.toml`) is the server security
//! policy (`msrpc_policy`): minimum auth level per interface, RestrictRemoteClients-like
//! modes, the EPM lookup policy and RPC filters, applied to every endpoint; refused calls get
//! a fault `rpc_s_access_denied` and a log line. SIGHUP re-reads the `--config` file and puts
//! its policy in force (a bad file is refused and the current policy kept), and re-reads the
//! `--users` file (likewise).
//! Audit: every connection's events (open/close, binds, calls, EPM lookups and maps,
//! authentication, malformed input) go through a bounded queue to a writer thread that runs
//! the detectors (`msrpc_audit::detect`: EPM enumeration, interface and opnum brute force,
//! password guessing and spraying, connection scans, malformed bursts, exploit shapes; alerts
//! are also logged as warnings). `--audit-log FILE|-` writes events and alerts as JSON lines,
//! `--metrics ADDR:PORT` serves Prometheus counters at `/metrics`; `[audit]` and
//! `[audit.detectors]` in the config file set them and the thresholds.
//!
//! Configuration: built-in defaults (`src/default.toml`), then `--config FILE` (TOML, the
//! long option names as keys, unknown keys refused), then the command line.
//! `--print-config` prints the effective configuration; `--check-config` reports what in it is
//! weaker than the recommended baseline (docs/hardening.md) with the key to change, and exits 3
//! when a finding reaches `--check-threshold` (medium by default). Logs go to stderr (`tracing`);
//! stdout gets one line per endpoint at start and one at stop.

mod audit;
mod check;
mod config;
mod daemon;
mod dcom;
mod diagnose;
mod shared;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use config::{Cli, Config, Env};

/// Exit status for a configuration or usage error.
const EXIT_CONFIG: u8 = 2;
/// Exit status of `--check-config` when a finding reaches `--check-threshold`.
const EXIT_CHECK: u8 = 3;
/// Exit status for a failure at run time (an endpoint that cannot be bound, ...).
const EXIT_FAILURE: u8 = 1;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = Env::current();
    let cfg = match Config::load(&cli, &env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("msrpcd: error: {e:#}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if cli.check_config {
        let threshold = match check::Severity::parse(&cli.check_threshold) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("msrpcd: error: --check-threshold: {e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        };
        let effective = cfg.to_toml().unwrap_or_default();
        let findings = check::check(&cfg, &effective);
        print!("{}", check::report(&findings, threshold));
        return if findings.iter().any(|f| f.severity >= threshold) {
            ExitCode::from(EXIT_CHECK)
        } else {
            ExitCode::SUCCESS
        };
    }
    if cli.print_config {
        return match cfg.to_toml() {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("msrpcd: error: {e:#}");
                ExitCode::from(EXIT_FAILURE)
            }
        };
    }
    init_logging(&cli, &cfg);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("msrpcd: error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let euid = env.euid;
    let load = move || Config::load(&cli, &env);
    match runtime.block_on(daemon::run(cfg, euid, load)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("msrpcd: error: {e:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Logs to stderr with the filter from `--log-level`, else `RUST_LOG`, else the
/// configuration's `log-level`.
fn init_logging(cli: &Cli, cfg: &Config) {
    let filter = cli
        .log_level
        .as_deref()
        .and_then(|l| EnvFilter::try_new(l).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .or_else(|| EnvFilter::try_new(&cfg.log_level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
