//! `msrpc bench-raw`: the raw TCP baseline for `bench`.
//!
//! # Frames
//! A request is an 8-byte header, the request's total length `A` and the response's total
//! length `B` (both `u32` big-endian), then `A - 8` payload bytes. The response is a 4-byte
//! header holding `B` (`u32` big-endian), then `B - 4` bytes. So `--request-size` and
//! `--response-size` are the bytes on the wire each way, headers included, and can be set to
//! the PDU sizes of an RPC call (`bench` reports them: 24 and 32 for `mgmt-is-listening`).

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use crate::fail::Failure;
use crate::output::print_json;
use crate::stats::{self, CallOutcome, Plan, ReportHead};
use crate::Global;

/// Largest request or response frame (16 MiB).
pub const MAX_FRAME: u32 = 16 * 1024 * 1024;
const REQ_HEADER: u32 = 8;
const RESP_HEADER: u32 = 4;

/// `msrpc bench-raw` commands.
#[derive(Subcommand, Debug)]
pub enum RawCommand {
    /// Serve length-prefixed request/response round trips on ADDR (port 0: any free port;
    /// the address is printed first).
    Serve(ServeArgs),
    /// Closed-loop round trips against a `bench-raw serve`.
    Run(RunArgs),
}

/// `bench-raw serve` arguments.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (`127.0.0.1:0` for any free port).
    pub addr: SocketAddr,
    /// Stop serving after this many seconds.
    #[arg(long, default_value_t = 3600.0)]
    pub duration: f64,
    /// Connections accepted over the server's life, at most.
    #[arg(long, default_value_t = 100_000)]
    pub max_conns: u64,
}

/// `bench-raw run` arguments.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The server's address.
    pub addr: SocketAddr,
    /// Connections, each with its own closed loop.
    #[arg(long, default_value_t = 1)]
    pub conns: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Bytes per request frame, header included (at least 8).
    #[arg(long, default_value_t = 24)]
    pub request_size: u32,
    /// Bytes per response frame, header included (at least 4).
    #[arg(long, default_value_t = 32)]
    pub response_size: u32,
    /// Seconds of round trips before measuring.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Measured round trips over all connections, at most.
    #[arg(long, default_value_t = 10_000_000)]
    pub max_calls: u64,
}

/// Runs a `bench-raw` command.
pub async fn run(g: &Global, c: RawCommand) -> Result<(), Failure> {
    match c {
        RawCommand::Serve(a) => serve(g, a).await,
        RawCommand::Run(a) => run_load(g, a).await,
    }
}

async fn serve(g: &Global, a: ServeArgs) -> Result<(), Failure> {
    if !(a.duration.is_finite() && a.duration > 0.0 && a.duration <= 7.0 * 86_400.0) {
        return Err(Failure::usage(
            "--duration must be more than 0 and at most a week",
        ));
    }
    let listener = TcpListener::bind(a.addr)
        .await
        .map_err(|e| Failure::connect(format!("cannot listen on {}: {e}", a.addr)))?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::connect(format!("listener address: {e}")))?;
    if g.json {
        outln!("{}", json!({"listening": local.to_string()}));
    } else {
        outln!("listening on {local}");
    }
    let _ = std::io::stdout().flush();
    let deadline = Instant::now() + Duration::from_secs_f64(a.duration);
    let idle = Duration::from_secs_f64(g.timeout.max(1.0) * 30.0);
    let mut accepted = 0u64;
    let mut conns = tokio::task::JoinSet::new();
    while accepted < a.max_conns {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            r = listener.accept() => {
                let Ok((stream, _)) = r else { continue };
                accepted += 1;
                conns.spawn(serve_conn(stream, deadline, idle));
            }
            // Reap finished connections so the set stays small.
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
    Ok(())
}

/// A request frame's sizes, from its 8-byte header, when `data` holds one.
fn frame_header(data: &[u8]) -> Option<(u32, u32)> {
    let h: [u8; 8] = data.get(..8)?.try_into().ok()?;
    let [a0, a1, a2, a3, b0, b1, b2, b3] = h;
    Some((
        u32::from_be_bytes([a0, a1, a2, a3]),
        u32::from_be_bytes([b0, b1, b2, b3]),
    ))
}

/// Serves one connection until the peer closes, a frame is invalid, nothing arrives for
/// `idle`, or `deadline`. Reads as much as the socket has (one read per round trip when
/// frames are small) and answers every complete frame.
async fn serve_conn(mut stream: TcpStream, deadline: Instant, idle: Duration) {
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = vec![0; 64 * 1024];
    let mut filled = 0usize;
    let mut out: Vec<u8> = Vec::new();
    loop {
        // Answer the complete frames at the front of the buffer.
        while let Some((req, resp)) = buf.get(..filled).and_then(frame_header) {
            if !(REQ_HEADER..=MAX_FRAME).contains(&req)
                || !(RESP_HEADER..=MAX_FRAME).contains(&resp)
            {
                return;
            }
            let (Ok(req), Ok(resp_len)) = (usize::try_from(req), usize::try_from(resp)) else {
                return;
            };
            if filled < req {
                if buf.len() < req {
                    buf.resize(req, 0);
                }
                break;
            }
            out.clear();
            out.extend_from_slice(&resp.to_be_bytes());
            out.resize(resp_len, 0);
            let write = tokio::time::timeout_at(deadline, stream.write_all(&out));
            if !matches!(write.await, Ok(Ok(()))) {
                return;
            }
            buf.copy_within(req..filled, 0);
            filled -= req;
        }
        let Some(space) = buf.get_mut(filled..) else {
            return;
        };
        let limit = (Instant::now() + idle).min(deadline);
        match tokio::time::timeout_at(limit, stream.read(space)).await {
            Ok(Ok(n)) if n > 0 => filled += n,
            _ => return,
        }
    }
}

/// One round trip: writes `request`, reads the `expect`-byte response into `buf` (usually
/// with one read).
async fn round_trip(
    stream: &mut TcpStream,
    request: &[u8],
    expect: u32,
    buf: &mut Vec<u8>,
) -> std::io::Result<()> {
    stream.write_all(request).await?;
    let want = usize::try_from(expect).map_err(std::io::Error::other)?;
    buf.resize(want, 0);
    let mut got = 0usize;
    while got < want {
        let space = buf.get_mut(got..).unwrap_or_default();
        let n = stream.read(space).await?;
        if n == 0 {
            return Err(std::io::Error::other("the server closed the connection"));
        }
        got += n;
    }
    let header: [u8; 4] = buf
        .get(..4)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| std::io::Error::other("short response"))?;
    let len = u32::from_be_bytes(header);
    if len != expect {
        return Err(std::io::Error::other(format!(
            "response of {len} bytes, expected {expect}"
        )));
    }
    Ok(())
}

/// One raw connection of a load run.
struct RawConn {
    stream: TcpStream,
    request: Arc<[u8]>,
    expect: u32,
    buf: Vec<u8>,
    timeout: Duration,
}

impl stats::LoadOp for RawConn {
    async fn call(&mut self) -> CallOutcome {
        let trip = round_trip(&mut self.stream, &self.request, self.expect, &mut self.buf);
        match tokio::time::timeout(self.timeout, trip).await {
            Ok(Ok(())) => CallOutcome::Ok,
            Ok(Err(e)) => CallOutcome::Err {
                message: e.to_string(),
                fatal: true,
            },
            Err(_) => CallOutcome::Err {
                message: "round trip timed out".into(),
                fatal: true,
            },
        }
    }
}

async fn run_load(g: &Global, a: RunArgs) -> Result<(), Failure> {
    let (duration, warmup) = stats::check_load(a.conns, a.duration, a.warmup, a.max_calls)?;
    if !(REQ_HEADER..=MAX_FRAME).contains(&a.request_size) {
        return Err(Failure::usage(format!(
            "--request-size must be {REQ_HEADER} to {MAX_FRAME}"
        )));
    }
    if !(RESP_HEADER..=MAX_FRAME).contains(&a.response_size) {
        return Err(Failure::usage(format!(
            "--response-size must be {RESP_HEADER} to {MAX_FRAME}"
        )));
    }
    let timeout = Duration::from_secs_f64(g.timeout);
    let mut streams = Vec::with_capacity(a.conns);
    for _ in 0..a.conns {
        let s = tokio::time::timeout(timeout, TcpStream::connect(a.addr))
            .await
            .map_err(|_| Failure::connect(format!("connecting to {} timed out", a.addr)))?
            .map_err(|e| Failure::connect(format!("cannot connect to {}: {e}", a.addr)))?;
        s.set_nodelay(true)
            .map_err(|e| Failure::connect(format!("TCP_NODELAY: {e}")))?;
        streams.push(s);
    }
    let size = usize::try_from(a.request_size).unwrap_or(0);
    let mut request = Vec::with_capacity(size);
    request.extend_from_slice(&a.request_size.to_be_bytes());
    request.extend_from_slice(&a.response_size.to_be_bytes());
    request.resize(size, 0);
    let request: Arc<[u8]> = request.into();
    let plan = Plan::new(warmup, duration, a.max_calls);
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for stream in streams {
        let mut conn = RawConn {
            stream,
            request: Arc::clone(&request),
            expect: a.response_size,
            buf: Vec::new(),
            timeout,
        };
        let counter = Arc::clone(&counter);
        tasks.spawn(async move { stats::closed_loop(plan, counter, &mut conn).await });
    }
    let mut results = Vec::with_capacity(a.conns);
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(res) => results.push(res),
            Err(e) => return Err(Failure::connect(format!("load task failed: {e}"))),
        }
    }
    let report = stats::report(
        ReportHead {
            mode: "raw-tcp",
            op: format!("round-trip {}/{}", a.request_size, a.response_size),
            target: a.addr.to_string(),
            request_bytes: usize::try_from(a.request_size).ok(),
            response_bytes: usize::try_from(a.response_size).ok(),
            duration,
            warmup,
        },
        plan,
        results,
    );
    if g.json {
        print_json(&report)?;
    } else {
        stats::print_report(&report);
    }
    if report.calls == 0 {
        return Err(Failure::connect(format!(
            "no round trip succeeded{}",
            report
                .first_error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ))
        .json_printed());
    }
    Ok(())
}
