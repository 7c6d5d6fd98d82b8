//! `msrpc-calc-service`: a stand-alone process hosting the demo calculator class
//! (`MsrpcCalculator`, `docs/dcom.md`) behind the local `msrpcd`'s port 135 — the way any
//! process hosts COM classes out of msrpcd (`msrpc_dcom::server::DcomHost::attach`).
//!
//! It serves its object exporter (IRemUnknown, IRemUnknown2, ICalculator) on a dynamic TCP
//! port and its activators on a Unix socket, then attaches to msrpcd over the registration
//! socket: msrpcd resolves its OXID, keeps its objects' ping sets and forwards activations of
//! the class to it. It prints `DCOM object exporter on ADDR` per endpoint, `activator on
//! PATH`, then `attached OXID`. SIGINT or SIGTERM detach and stop it; when msrpcd goes away it
//! exits with an error (its OXID was msrpcd's: a supervisor restarts it).

#[path = "../shared.rs"]
#[allow(dead_code)]
mod shared;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use msrpc_dcom::demo::CalculatorServer;
use msrpc_dcom::server::demo::{demo_classes, CalculatorService};
use msrpc_dcom::server::{AttachOptions, DcomHost, DcomSettings, EXPORTER_AUTH_CONTEXTS};
use msrpc_ntlm::{FileUserStore, MemoryUserStore, NtlmAcceptor, SpnegoAcceptor, UserStore};
use msrpc_policy::Level;
use msrpc_proto::pdu::AuthType;
use msrpc_proto::security::SecurityProvider;
use msrpc_rt::{SecurityFactory, Server};

use shared::{default_registration_socket, PortRange};

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "msrpc-calc-service",
    version,
    about = "Hosts the demo COM calculator class behind the local msrpcd's port 135"
)]
struct Cli {
    /// Address of the object exporter, ADDR or ADDR:PORT (port 0, the default, takes a free
    /// port of --ports). Repeatable. Default 0.0.0.0. Clients connect to the addresses
    /// advertised here (and the host name).
    #[arg(short, long, value_name = "ADDR[:PORT]", value_parser = parse_listen)]
    listen: Vec<SocketAddr>,

    /// Dynamic port range.
    #[arg(long, value_name = "LOW-HIGH", default_value = "49152-65535")]
    ports: PortRange,

    /// msrpcd's registration socket (default: the same as msrpcd's).
    #[arg(long, value_name = "PATH")]
    registration_socket: Option<PathBuf>,

    /// The Unix socket msrpcd forwards activations to (default: `calc-PID.sock` next to the
    /// registration socket).
    #[arg(long, value_name = "PATH")]
    activator_socket: Option<PathBuf>,

    /// NTLM accounts the object exporter accepts (the file `msrpc users` writes, as msrpcd's
    /// --users). Anonymous NTLM logons are accepted too.
    #[arg(long, value_name = "FILE")]
    users: Option<PathBuf>,

    /// The lowest level clients should use on the exporter (its authnHint): none, connect,
    /// call, pkt, integrity or privacy. msrpcd checks activations against its own
    /// min-activation-level.
    #[arg(long, value_name = "LEVEL", default_value = "integrity", value_parser = parse_level)]
    min_level: Level,

    /// Seconds between fetches of the objects msrpcd ran down.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    rundown_poll: u64,

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

fn parse_level(s: &str) -> Result<Level, String> {
    [
        Level::None,
        Level::Connect,
        Level::Call,
        Level::Pkt,
        Level::Integrity,
        Level::Privacy,
    ]
    .into_iter()
    .find(|l| l.name() == s)
    .ok_or_else(|| format!("invalid level `{s}`: none, connect, call, pkt, integrity or privacy"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = cli.log_level.clone();
    shared::service_main("msrpc-calc-service", level.as_deref(), run(cli))
}

/// NTLMv2 and SPNEGO for the `users` accounts (none without a file) and anonymous logons.
fn security(users: Option<&Path>) -> anyhow::Result<SecurityFactory> {
    let store: Arc<dyn UserStore> = match users {
        Some(p) => {
            Arc::new(FileUserStore::load(p).with_context(|| format!("loading {}", p.display()))?)
        }
        None => Arc::new(MemoryUserStore::new()),
    };
    Ok(Arc::new(move |t: AuthType| {
        let ntlm = || NtlmAcceptor::new(store.clone()).allow_anonymous(true);
        if t == AuthType::WINNT {
            Some(Box::new(ntlm()) as Box<dyn SecurityProvider>)
        } else if t == AuthType::GSS_NEGOTIATE {
            Some(Box::new(SpnegoAcceptor::new(ntlm())) as Box<dyn SecurityProvider>)
        } else {
            None
        }
    }))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let socket = cli.registration_socket.unwrap_or_else(|| {
        let xdg = std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        default_registration_socket(rustix::process::geteuid().as_raw(), xdg.as_deref())
    });
    let activator_socket = match cli.activator_socket {
        Some(p) => p,
        None => socket
            .parent()
            .unwrap_or(Path::new("/tmp"))
            .join(format!("calc-{}.sock", std::process::id())),
    };
    let activator_socket =
        std::path::absolute(&activator_socket).context("the activator socket path")?;
    if cli.rundown_poll == 0 {
        bail!("--rundown-poll: at least 1 second");
    }
    let listen = if cli.listen.is_empty() {
        vec![SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0)]
    } else {
        cli.listen
    };
    let host = Arc::new(DcomHost::new(
        demo_classes(),
        DcomSettings {
            min_activation_level: cli.min_level,
            ..DcomSettings::default()
        },
        &listen,
        true,
        None,
    ));
    let limits = msrpc_rt::Limits {
        max_auth_contexts: EXPORTER_AUTH_CONTEXTS,
        ..msrpc_rt::Limits::default()
    };
    let mut builder = Server::builder()
        .dynamic_ports(cli.ports.range())
        .limits(limits)
        .security(security(cli.users.as_deref())?);
    for addr in listen {
        builder = builder.listen(addr);
    }
    let exporter = host
        .exporter_services(builder)
        .service(CalculatorServer::new(CalculatorService(host.clone())))
        .start()
        .await
        .context("cannot start the object exporter")?;
    for addr in exporter.local_addrs() {
        println!("DCOM object exporter on {addr}");
    }
    let activator = host
        .activator_services(Server::builder().listen_unix(&activator_socket))
        .start()
        .await
        .context("cannot start the activator socket")?;
    println!("activator on {}", activator_socket.display());
    let opts = AttachOptions {
        rundown_poll: Duration::from_secs(cli.rundown_poll),
        ..AttachOptions::new(&activator_socket)
    };
    let attachment = match host.attach(&socket, &exporter.local_addrs(), opts).await {
        Ok(a) => a,
        Err(e) => {
            activator.shutdown().await;
            exporter.shutdown().await;
            return Err(e).with_context(|| format!("attaching to msrpcd at {}", socket.display()));
        }
    };
    println!("attached OXID {:#018x}", attachment.oxid().0);
    let lost = tokio::select! {
        _ = term.recv() => None,
        _ = int.recv() => None,
        why = attachment.lost() => Some(why),
    };
    match &lost {
        None => attachment.detach().await,
        Some(_) => drop(attachment),
    }
    activator.shutdown().await;
    exporter.shutdown().await;
    let _ = std::fs::remove_file(&activator_socket);
    match lost {
        Some(why) => bail!("lost msrpcd: {why}"),
        None => {
            println!("stopped");
            Ok(())
        }
    }
}
