//! `msrpc-echo-service`: a stand-alone service process that hosts Samba's rpcecho test
//! interface (with mgmt) on a dynamic TCP port and registers it with the local `msrpcd`
//! through the registration socket — the way any service on the host registers.
//!
//! It prints `rpcecho on ADDR` per endpoint, then `registered N` each time the registration
//! is (re)made (N counts them: it re-registers by itself when msrpcd restarts). SIGINT or
//! SIGTERM unregister (`ept_delete`) and stop it; if it is killed, msrpcd drops its entries
//! when the connection closes.

#[path = "../shared.rs"]
mod shared;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use msrpc_echo::{EchoService, RpcechoInterface, RpcechoServer};
use msrpc_epm::mgmt::{MgmtInterface, MgmtServer};
use msrpc_epm::MgmtStats;
use msrpc_proto::dispatch::Interface;
use msrpc_rt::{RegistrationState, Server, TokioSleeper};

use shared::{default_registration_socket, mgmt_for, stats_observer, PortRange};

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "msrpc-echo-service",
    version,
    about = "Hosts rpcecho on a dynamic port and registers it with the local msrpcd"
)]
struct Cli {
    /// Address to listen on, ADDR or ADDR:PORT (port 0, the default, takes a free port of
    /// --ports). Repeatable. Default 0.0.0.0.
    #[arg(short, long, value_name = "ADDR[:PORT]", value_parser = parse_listen)]
    listen: Vec<SocketAddr>,

    /// Also serve rpcecho over connectionless UDP (`ncadg_ip_udp`) on ADDR or ADDR:PORT (port
    /// 0, the default, is the system's choice); its `ncadg_ip_udp` towers are registered too.
    /// Repeatable. Off by default.
    #[arg(long, value_name = "ADDR[:PORT]", value_parser = parse_listen)]
    listen_udp: Vec<SocketAddr>,

    /// Dynamic port range.
    #[arg(long, value_name = "LOW-HIGH", default_value = "49152-65535")]
    ports: PortRange,

    /// msrpcd's registration socket (default: the same as msrpcd's).
    #[arg(long, value_name = "PATH")]
    registration_socket: Option<PathBuf>,

    /// The annotation of the endpoint-map entries.
    #[arg(long, default_value = "rpcecho service")]
    annotation: String,

    /// Log filter for stderr (overrides RUST_LOG).
    #[arg(long, value_name = "FILTER")]
    log_level: Option<String>,
}

fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let bare = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    bare.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 0))
        .map_err(|_| format!("invalid listen address `{s}`: expected IP or IP:PORT"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = cli.log_level.clone();
    shared::service_main("msrpc-echo-service", level.as_deref(), run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    // Caught from the start, so a signal during start-up still unregisters cleanly.
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let socket = cli.registration_socket.unwrap_or_else(|| {
        let xdg = std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        default_registration_socket(rustix::process::geteuid().as_raw(), xdg.as_deref())
    });
    let listen = if cli.listen.is_empty() {
        vec![SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0)]
    } else {
        cli.listen
    };
    let stats = MgmtStats::new();
    let mgmt = mgmt_for(
        &[RpcechoInterface::SYNTAX, MgmtInterface::SYNTAX],
        stats.clone(),
    );
    let mut builder = Server::builder().dynamic_ports(cli.ports.range());
    for addr in listen {
        builder = builder.listen(addr);
    }
    for addr in cli.listen_udp {
        builder = builder.listen_udp(addr);
    }
    let server = builder
        .service(RpcechoServer::new(EchoService::new(TokioSleeper)))
        .service(MgmtServer::new(mgmt))
        .observer(stats_observer(stats))
        .start()
        .await
        .context("cannot start the rpcecho server")?;
    for addr in server.local_addrs() {
        println!("rpcecho on {addr}");
    }
    for addr in server.udp_addrs() {
        println!("rpcecho (udp) on {addr}");
    }
    let registration = server
        .register_with(&socket, &cli.annotation)
        .context("cannot start the registration")?;
    println!("registering with {}", socket.display());
    let mut status = registration.subscribe();
    let mut printed = 0;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            r = status.changed() => {
                if r.is_err() {
                    break;
                }
                let st = status.borrow_and_update().clone();
                if st.state == RegistrationState::Registered && st.registrations > printed {
                    printed = st.registrations;
                    println!("registered {printed}");
                }
            }
        }
    }
    if let Err(e) = registration.stop().await {
        tracing::warn!(error = %e, "unregistering");
    }
    server.shutdown().await;
    println!("stopped");
    Ok(())
}
