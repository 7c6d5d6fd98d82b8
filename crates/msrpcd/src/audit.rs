//! The daemon's audit pipeline: an observer on every server turns connection events into
//! owned `msrpc_audit::live::Input`s and hands them to a bounded queue (never blocking a
//! connection: when the queue is full the input is dropped and counted); a writer thread
//! runs the live adapter, the detectors, the metrics and the JSON-lines sink; a tokio task
//! answers `GET /metrics`.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use msrpc_audit::detect::Detectors;
use msrpc_audit::json::JsonSink;
use msrpc_audit::live::{Input, Live};
use msrpc_audit::metrics::Metrics;
use msrpc_rt::{ConnEvent, LocalAddr, Observer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Semaphore};

use crate::config::AuditConfig;

/// Longest HTTP request head the metrics responder reads.
const MAX_REQUEST: usize = 8 * 1024;
/// How long a metrics client may take to send its request or read the answer.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// Metrics requests served at once.
const HTTP_CONCURRENCY: usize = 16;
/// How often the writer polls its queue while inputs keep coming (the queue must hold what
/// arrives meanwhile: the default 8192 inputs are about 20 ms of a 100,000 calls/s load).
const POLL_INTERVAL: Duration = Duration::from_millis(2);
/// Empty polls (about 100 ms) before the writer blocks on its queue again.
const IDLE_POLLS: u32 = 50;
/// How long shutdown waits for the writer to drain.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections whose PDU counts [`PduTotals`] sums at once (a slot each, by connection
/// number modulo this).
const PDU_SLOTS: usize = 4096;

/// The connections' PDU counts not yet sent to the writer. The runtime reports them once per
/// turn of a connection's loop (about once per call); the audit needs only their totals (in
/// `conn_close`), so the observer sums them here, lock-free, and sends one `Pdus` input just
/// before the connection's `Closed`. A connection whose slot another one holds (more than
/// `PDU_SLOTS` open at once) has its counts sent as they come, as before.
struct PduTotals {
    slots: Box<[PduSlot]>,
}

#[derive(Default)]
struct PduSlot {
    /// The connection number + 1 of the holder; 0 when free.
    owner: AtomicU64,
    received: AtomicU64,
    sent: AtomicU64,
}

impl PduTotals {
    fn new() -> PduTotals {
        PduTotals {
            slots: (0..PDU_SLOTS).map(|_| PduSlot::default()).collect(),
        }
    }

    fn slot(&self, conn_id: u64) -> Option<(&PduSlot, u64)> {
        let tag = conn_id.wrapping_add(1);
        let i = usize::try_from(conn_id % PDU_SLOTS as u64).ok()?;
        (tag != 0).then_some(())?;
        Some((self.slots.get(i)?, tag))
    }

    /// Adds to `conn_id`'s totals (taking a free slot for it); false when its slot is held by
    /// another connection (then the caller sends the counts itself). Only the connection's
    /// own task calls this and [`PduTotals::take`] for it, so they never race each other.
    fn add(&self, conn_id: u64, received: u64, sent: u64) -> bool {
        let Some((slot, tag)) = self.slot(conn_id) else {
            return false;
        };
        let owner = slot.owner.load(Ordering::Acquire);
        if owner != tag
            && (owner != 0
                || slot
                    .owner
                    .compare_exchange(0, tag, Ordering::AcqRel, Ordering::Acquire)
                    .is_err())
        {
            return false;
        }
        slot.received.fetch_add(received, Ordering::Relaxed);
        slot.sent.fetch_add(sent, Ordering::Relaxed);
        true
    }

    /// Takes `conn_id`'s totals and frees its slot (`None` when it holds none).
    fn take(&self, conn_id: u64) -> Option<(u64, u64)> {
        let (slot, tag) = self.slot(conn_id)?;
        if slot.owner.load(Ordering::Acquire) != tag {
            return None;
        }
        let totals = (
            slot.received.swap(0, Ordering::Relaxed),
            slot.sent.swap(0, Ordering::Relaxed),
        );
        slot.owner.store(0, Ordering::Release);
        Some(totals)
    }
}

/// Appends sampled gauges (Prometheus text, `# HELP`/`# TYPE` lines included) to a
/// `/metrics` answer.
pub type GaugeFn = Box<dyn Fn(&mut String) + Send + Sync>;

enum Msg {
    Input(f64, Input),
    Stop,
}

/// The running pipeline.
pub struct Audit {
    /// Unbounded, with the bound (`queued` < `capacity`) kept by the observer: a bounded
    /// tokio channel takes a lock to return each slot, the writer's cost per input.
    tx: mpsc::UnboundedSender<Msg>,
    /// Inputs sent and not yet received by the writer.
    queued: Arc<AtomicUsize>,
    /// The queue's bound (`--audit-queue`).
    capacity: usize,
    dropped: Arc<AtomicU64>,
    pdus: Arc<PduTotals>,
    writer: Option<std::thread::JoinHandle<()>>,
    http: Option<tokio::task::JoinHandle<()>>,
    gauges: Arc<std::sync::Mutex<Vec<GaugeFn>>>,
    /// Where `/metrics` is served.
    pub metrics_addr: Option<SocketAddr>,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn open_log(path: &str) -> anyhow::Result<Box<dyn Write + Send>> {
    if path == "-" {
        return Ok(Box::new(std::io::stdout()));
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open the audit log {path}"))?;
    Ok(Box::new(std::io::BufWriter::new(f)))
}

impl Audit {
    /// Opens the log, binds the metrics address and starts the writer.
    pub async fn start(cfg: &AuditConfig) -> anyhow::Result<Audit> {
        let mut sink = match &cfg.log {
            Some(p) => Some(JsonSink::new(open_log(p)?)),
            None => None,
        };
        let metrics = Arc::new(Metrics::new());
        let gauges: Arc<std::sync::Mutex<Vec<GaugeFn>>> = Arc::default();
        let (http, metrics_addr) = match cfg.metrics {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot serve metrics on {addr}"))?;
                let local = listener.local_addr().unwrap_or(addr);
                (
                    Some(tokio::spawn(serve_metrics(
                        listener,
                        metrics.clone(),
                        gauges.clone(),
                    ))),
                    Some(local),
                )
            }
            None => (None, None),
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
        let queued = Arc::new(AtomicUsize::new(0));
        let received = queued.clone();
        let dropped = Arc::new(AtomicU64::new(0));
        let seed = {
            let t = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            t ^ u64::from(std::process::id()).rotate_left(32)
        };
        let mut detectors =
            Detectors::with_library(cfg.detectors.clone(), cfg.detection.library()?);
        let drops = dropped.clone();
        let writer = std::thread::Builder::new()
            .name("msrpcd-audit".into())
            .spawn(move || {
                let mut live = Live::new(seed);
                let mut failed = false;
                let mut emit = |ev: &msrpc_audit::Event, sink: &mut Option<JsonSink<_>>| {
                    metrics.observe(ev);
                    if let Some(s) = sink.as_mut() {
                        if let Err(e) = s.write(ev) {
                            if !failed {
                                tracing::error!(error = %e, "cannot write the audit log");
                                failed = true;
                            }
                        }
                    }
                };
                // While inputs keep coming, poll the queue every POLL_INTERVAL instead of
                // sleeping in `blocking_recv`: a thread parked there is woken (a futex call and
                // a context switch) by every `try_send`, i.e. several times per RPC call.
                // After IDLE_POLLS empty polls it blocks again, so an idle daemon sleeps.
                let mut empty_polls = 0u32;
                loop {
                    let msg = match rx.try_recv() {
                        Ok(m) => {
                            empty_polls = 0;
                            m
                        }
                        Err(mpsc::error::TryRecvError::Empty) => {
                            if empty_polls == 0 {
                                if let Some(s) = sink.as_mut() {
                                    let _ = s.flush();
                                }
                            }
                            if empty_polls < IDLE_POLLS {
                                empty_polls += 1;
                                std::thread::sleep(POLL_INTERVAL);
                                continue;
                            }
                            match rx.blocking_recv() {
                                Some(m) => {
                                    empty_polls = 0;
                                    m
                                }
                                None => break,
                            }
                        }
                        Err(mpsc::error::TryRecvError::Disconnected) => break,
                    };
                    let d = drops.swap(0, Ordering::Relaxed);
                    if d > 0 {
                        metrics.dropped(d);
                    }
                    let (ts, input) = match msg {
                        Msg::Input(ts, i) => (ts, i),
                        Msg::Stop => break,
                    };
                    received.fetch_sub(1, Ordering::AcqRel);
                    live.feed_with(ts, input, |ev| {
                        let alerts = detectors.observe(ev);
                        emit(ev, &mut sink);
                        for a in &alerts {
                            if let msrpc_audit::EventKind::Alert {
                                detector,
                                summary,
                                source,
                                ..
                            } = &a.kind
                            {
                                tracing::warn!(detector, source = ?source, "{summary}");
                            }
                            emit(a, &mut sink);
                        }
                    });
                }
                for a in detectors.finish() {
                    emit(&a, &mut sink);
                }
                if let Some(s) = sink.as_mut() {
                    let _ = s.flush();
                }
            })
            .context("cannot start the audit writer thread")?;
        Ok(Audit {
            tx,
            queued,
            capacity: cfg.queue,
            dropped,
            pdus: Arc::new(PduTotals::new()),
            writer: Some(writer),
            http,
            gauges,
            metrics_addr,
        })
    }

    /// Adds gauges sampled at each `/metrics` request (after the event counters).
    pub fn add_gauges(&self, f: GaugeFn) {
        self.gauges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(f);
    }

    /// The observer to install on a server (combined with `other`, which runs first).
    pub fn observer(&self, other: Observer) -> Observer {
        let tx = self.tx.clone();
        let queued = self.queued.clone();
        let capacity = self.capacity;
        let dropped = self.dropped.clone();
        let pdus = self.pdus.clone();
        Arc::new(move |ev: &ConnEvent<'_>| {
            other(ev);
            let mut send = |input| {
                // Room is taken before the send and given back by the writer on receipt.
                if queued.fetch_add(1, Ordering::AcqRel) >= capacity
                    || tx.send(Msg::Input(now(), input)).is_err()
                {
                    queued.fetch_sub(1, Ordering::AcqRel);
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
            };
            match ev {
                ConnEvent::PolicyDecision { .. } => {
                    policy_inputs(ev).into_iter().for_each(&mut send);
                    return;
                }
                ConnEvent::Pdus {
                    conn_id,
                    received,
                    sent,
                } if pdus.add(*conn_id, *received, *sent) => return,
                ConnEvent::Closed { conn_id, .. } => {
                    if let Some((received, sent)) = pdus.take(*conn_id) {
                        send(Input::Pdus {
                            conn_id: *conn_id,
                            received,
                            sent,
                        });
                    }
                }
                _ => {}
            }
            if let Some(input) = input_of(ev) {
                send(input);
            }
        })
    }

    /// A sender of inputs that services produce themselves (a DCOM activation refused below
    /// the minimum level): same queue and bound as the observers'.
    pub fn sender(&self) -> impl Fn(Input) + Send + Sync + 'static {
        let tx = self.tx.clone();
        let queued = self.queued.clone();
        let capacity = self.capacity;
        let dropped = self.dropped.clone();
        move |input| {
            if queued.fetch_add(1, Ordering::AcqRel) >= capacity
                || tx.send(Msg::Input(now(), input)).is_err()
            {
                queued.fetch_sub(1, Ordering::AcqRel);
                dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Drains the queue (bounded in time) and stops the writer and the metrics responder.
    pub async fn shutdown(mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(w) = self.writer.take() {
            let joined = tokio::task::spawn_blocking(move || w.join());
            let _ = tokio::time::timeout(DRAIN_TIMEOUT, joined).await;
        }
        if let Some(h) = self.http.take() {
            h.abort();
        }
    }
}

fn tcp(local: &LocalAddr) -> Option<SocketAddr> {
    match local {
        LocalAddr::Tcp(a) => Some(*a),
        _ => None,
    }
}

/// The policy inputs of a `PolicyDecision`: one per matching audit filter (`action = "audit"`),
/// then the refusal (`action = "deny"`) when the call was refused.
fn policy_inputs(ev: &ConnEvent<'_>) -> Vec<Input> {
    let ConnEvent::PolicyDecision {
        conn_id,
        call_id,
        interface,
        opnum,
        user,
        verdict,
        ..
    } = ev
    else {
        return Vec::new();
    };
    let input = |action: &str, reason: &str, rule: Option<String>| Input::Policy {
        conn_id: *conn_id,
        call_id: *call_id,
        interface: interface.uuid.to_string(),
        opnum: *opnum,
        action: action.to_string(),
        reason: reason.to_string(),
        rule,
        user: user.map(str::to_string),
    };
    let mut out: Vec<Input> = verdict
        .audits
        .iter()
        .map(|rule| input("audit", "policy_filter_audit", Some(rule.to_string())))
        .collect();
    if let Some(r) = &verdict.refusal {
        out.push(input(
            "deny",
            r.reason.code(),
            r.rule.as_ref().map(|n| n.to_string()),
        ));
    }
    out
}

/// The owned input for a connection event (`None` for events the audit does not use).
fn input_of(ev: &ConnEvent<'_>) -> Option<Input> {
    use msrpc_proto::cl::server::ClServerEvent;
    Some(match ev {
        ConnEvent::Opened {
            conn_id,
            peer,
            local,
        } => Input::Opened {
            conn_id: *conn_id,
            peer: peer.tcp(),
            local: tcp(local),
        },
        ConnEvent::Refused {
            peer,
            local,
            reason,
        } => Input::Refused {
            peer: peer.tcp(),
            local: tcp(local),
            reason: (*reason).to_string(),
        },
        // A call's facts travel with its CallDone (one input per call).
        ConnEvent::Event {
            event: msrpc_proto::server::ServerEvent::Call(_),
            ..
        } => return None,
        ConnEvent::Event { conn_id, event, .. } => Input::server(*conn_id, event),
        ConnEvent::CallDone {
            conn_id,
            call_id,
            interface,
            opnum,
            drep,
            transfer_syntax,
            request,
            stub_in,
            response,
            duration,
            fragments,
            auth_level,
            user,
            error,
            ..
        } => Input::call_done(
            *conn_id,
            *call_id,
            *interface,
            *opnum,
            *drep,
            *transfer_syntax,
            request,
            *stub_in,
            *response,
            *duration,
        )
        .with_request_facts(*fragments, *auth_level, *user)
        .with_error(*error),
        ConnEvent::Pdus {
            conn_id,
            received,
            sent,
        } => Input::Pdus {
            conn_id: *conn_id,
            received: *received,
            sent: *sent,
        },
        ConnEvent::Closed {
            conn_id, reason, ..
        } => Input::Closed {
            conn_id: *conn_id,
            reason: (*reason).to_string(),
        },
        // Connectionless limits hit (rate, amplification budget, broadcast, reassembly...) and
        // refused datagrams: a refused "connection" record with the reason, `udp_` first.
        ConnEvent::Datagram {
            event: ClServerEvent::Limit { peer, reason } | ClServerEvent::Dropped { peer, reason },
        } => Input::Refused {
            peer: Some(*peer),
            local: None,
            reason: format!("udp_{reason}"),
        },
        _ => return None,
    })
}

/// Answers `GET /metrics` (HTTP/1.0 or 1.1, one request per connection) with the text
/// exposition; anything else gets 404 or 405.
async fn serve_metrics(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    gauges: Arc<std::sync::Mutex<Vec<GaugeFn>>>,
) {
    let slots = Arc::new(Semaphore::new(HTTP_CONCURRENCY));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let metrics = metrics.clone();
        let gauges = gauges.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(HTTP_TIMEOUT, answer(stream, &metrics, &gauges)).await;
            drop(permit);
        });
    }
}

async fn answer(
    mut stream: tokio::net::TcpStream,
    metrics: &Metrics,
    gauges: &std::sync::Mutex<Vec<GaugeFn>>,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && !buf.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if buf.len() > MAX_REQUEST {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let mut parts = head.lines().next().unwrap_or("").split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, ctype, body) = match (method, path.split('?').next().unwrap_or("")) {
        ("GET", "/metrics") => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", {
            let mut text = metrics.render();
            for g in gauges
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
            {
                g(&mut text);
            }
            text
        }),
        ("GET", _) => (
            "404 Not Found",
            "text/plain",
            "not found: try /metrics\n".into(),
        ),
        _ => ("405 Method Not Allowed", "text/plain", "only GET\n".into()),
    };
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(resp.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdu_totals_sum_per_connection_until_taken() {
        let t = PduTotals::new();
        assert!(t.add(7, 1, 1));
        assert!(t.add(7, 2, 3));
        assert!(t.add(8, 5, 0));
        // Connection 7 + PDU_SLOTS maps to 7's slot while 7 holds it: not summed here.
        let twin = 7 + PDU_SLOTS as u64;
        assert!(!t.add(twin, 1, 1));
        assert_eq!(t.take(twin), None);
        assert_eq!(t.take(7), Some((3, 4)));
        assert_eq!(t.take(7), None);
        // The freed slot starts from zero for its next holder.
        assert!(t.add(twin, 1, 2));
        assert_eq!(t.take(twin), Some((1, 2)));
        assert_eq!(t.take(8), Some((5, 0)));
        // The one connection number without a tag is never summed.
        assert!(!t.add(u64::MAX, 1, 1));
        assert_eq!(t.take(u64::MAX), None);
    }
}
