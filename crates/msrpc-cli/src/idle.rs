//! `msrpc bench-idle`: opens many connections to a server and holds them idle, to measure
//! what an idle connection costs the server (its RSS per connection) and that it still serves
//! others meanwhile.
//!
//! Connections are opened `--parallel` at a time, each connect (and, with `--bind`, the one
//! call that binds it) bounded by `--timeout`. When all are open one line is printed
//! (`holding N connections`, or with `--json` a JSON line `{"event":"holding",...}`); they are
//! then held for `--hold` seconds or until SIGTERM/SIGINT, checked (a connection the server
//! closed meanwhile is counted as lost), closed, and a last line is printed. The exit code is
//! 2 when any connection failed to open or was lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use msrpc_epm::mgmt::{IsServerListeningRequest, MgmtClient};
use msrpc_epm::status::RPC_S_OK;
use msrpc_rt::Client;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::fail::{describe_call_error, status_text, Exit, Failure};
use crate::target::{client_options, display_addr, parse_target};
use crate::Global;

/// Most connections one run may hold.
pub const MAX_IDLE_CONNS: usize = 100_000;
/// Longest hold, in seconds.
pub const MAX_HOLD_SECS: f64 = 3600.0;

/// `msrpc bench-idle` arguments.
#[derive(Args, Debug)]
pub struct IdleArgs {
    /// The server: a string binding, HOST or HOST:PORT (the endpoint mapper's port without
    /// one).
    pub binding: String,
    /// Connections to open and hold (1 to 100 000).
    #[arg(long, default_value_t = 1000)]
    pub conns: usize,
    /// Bind each connection (one mgmt is_server_listening call, which also creates an
    /// association group on the server); without it the connections stay raw TCP.
    #[arg(long)]
    pub bind: bool,
    /// Seconds to hold them (SIGTERM or SIGINT ends the hold earlier).
    #[arg(long, default_value_t = 60.0)]
    pub hold: f64,
    /// Connects (and binds) in flight at once.
    #[arg(long, default_value_t = 128)]
    pub parallel: usize,
}

/// One held connection.
enum Held {
    Raw(TcpStream),
    Rpc(Client),
}

impl Held {
    /// False when the server closed it.
    fn is_open(&self) -> bool {
        match self {
            Held::Raw(s) => {
                let mut b = [0u8; 1];
                // End of stream or an error: closed; WouldBlock: open and quiet; data: open.
                match s.try_read(&mut b) {
                    Ok(0) => false,
                    Ok(_) => true,
                    Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
                }
            }
            Held::Rpc(c) => !c.is_closed(),
        }
    }
}

/// The JSON lines `--json` prints.
#[derive(Serialize)]
struct Line<'a> {
    event: &'a str,
    target: &'a str,
    bound: bool,
    requested: usize,
    held: usize,
    failed: usize,
    lost: usize,
    seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_error: Option<&'a str>,
}

fn print_line(g: &Global, l: &Line<'_>) {
    if g.json {
        match serde_json::to_string(l) {
            Ok(t) => outln!("{t}"),
            Err(e) => errln!("msrpc: cannot encode the JSON output: {e}"),
        }
    } else {
        match l.event {
            "holding" => outln!(
                "holding {} connections to {} ({}; {} failed) after {:.2} s",
                l.held,
                l.target,
                if l.bound { "bound" } else { "raw TCP" },
                l.failed,
                l.seconds
            ),
            _ => outln!(
                "closed {} connections ({} lost while held) after {:.2} s held",
                l.held,
                l.lost,
                l.seconds
            ),
        }
        if let Some(e) = l.first_error {
            outln!("first error: {e}");
        }
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
}

/// Opens one connection (and binds it with `bind`).
async fn open_one(
    host: String,
    port: u16,
    bind: bool,
    opts: msrpc_rt::ClientOptions,
) -> Result<Held, String> {
    let timeout = opts.connect_timeout;
    if !bind {
        return match tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port))).await
        {
            Ok(Ok(s)) => Ok(Held::Raw(s)),
            Ok(Err(e)) => Err(format!("connect: {e}")),
            Err(_) => Err("connect timed out".into()),
        };
    }
    let c = Client::connect_host(&host, port, opts)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    match MgmtClient::new(c.clone())
        .is_server_listening(IsServerListeningRequest {})
        .await
    {
        Ok(r) if r.status == RPC_S_OK => Ok(Held::Rpc(c)),
        Ok(r) => Err(format!("is_server_listening: {}", status_text(r.status))),
        Err(e) => Err(format!("is_server_listening: {}", describe_call_error(&e))),
    }
}

/// Waits for `hold`, SIGTERM or SIGINT.
async fn hold_until(hold: Duration) {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = tokio::time::sleep(hold) => {}
                _ = t.recv() => {}
                _ = i.recv() => {}
            }
        }
        _ => tokio::time::sleep(hold).await,
    }
}

/// Runs `msrpc bench-idle`.
pub async fn run(g: &Global, a: IdleArgs) -> Result<(), Failure> {
    if a.conns == 0 || a.conns > MAX_IDLE_CONNS {
        return Err(Failure::usage(format!(
            "--conns must be 1 to {MAX_IDLE_CONNS}"
        )));
    }
    if !(a.hold.is_finite() && (0.0..=MAX_HOLD_SECS).contains(&a.hold)) {
        return Err(Failure::usage(format!(
            "--hold must be 0 to {MAX_HOLD_SECS} s"
        )));
    }
    if a.parallel == 0 || a.parallel > 4096 {
        return Err(Failure::usage("--parallel must be 1 to 4096"));
    }
    let b = parse_target(&a.binding)?;
    let port = b.port.unwrap_or(g.epm_port);
    let target = display_addr(&b.host, port);
    let opts = client_options(g);
    let started = Instant::now();
    let slots = Arc::new(Semaphore::new(a.parallel));
    let mut pending = tokio::task::JoinSet::new();
    for _ in 0..a.conns {
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| Failure::connect(format!("connect slots: {e}")))?;
        let (host, opts) = (b.host.clone(), opts.clone());
        pending.spawn(async move {
            let r = open_one(host, port, a.bind, opts).await;
            drop(permit);
            r
        });
    }
    let mut held = Vec::with_capacity(a.conns);
    let mut failed = 0usize;
    let mut first_error: Option<String> = None;
    while let Some(r) = pending.join_next().await {
        match r {
            Ok(Ok(h)) => held.push(h),
            Ok(Err(e)) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(format!("connect task: {e}"));
            }
        }
    }
    print_line(
        g,
        &Line {
            event: "holding",
            target: &target,
            bound: a.bind,
            requested: a.conns,
            held: held.len(),
            failed,
            lost: 0,
            seconds: started.elapsed().as_secs_f64(),
            first_error: first_error.as_deref(),
        },
    );
    let hold_start = Instant::now();
    hold_until(Duration::from_secs_f64(a.hold)).await;
    let lost = held.iter().filter(|h| !h.is_open()).count();
    let n = held.len();
    for h in held {
        match h {
            Held::Raw(s) => drop(s),
            Held::Rpc(c) => c.close(),
        }
    }
    print_line(
        g,
        &Line {
            event: "closed",
            target: &target,
            bound: a.bind,
            requested: a.conns,
            held: n,
            failed,
            lost,
            seconds: hold_start.elapsed().as_secs_f64(),
            first_error: None,
        },
    );
    if failed > 0 || lost > 0 {
        return Err(Failure::new(
            Exit::Connect,
            anyhow::anyhow!(
                "{failed} of {} connections failed to open, {lost} lost while held",
                a.conns
            ),
        )
        .json_printed());
    }
    Ok(())
}
