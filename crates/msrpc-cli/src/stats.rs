//! Closed-loop load: per-connection workers, latency percentiles, the report both `bench` and
//! `bench-raw run` print.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::fail::Failure;

/// Latencies one run may record in total (each is 8 bytes): a safety bound on memory.
pub const MAX_RECORDED: u64 = 20_000_000;

/// The timing of a run.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Calls before this instant are not measured.
    pub measure_from: Instant,
    /// No call starts after this instant.
    pub end: Instant,
    /// Measured calls over all connections, at most.
    pub max_calls: u64,
}

impl Plan {
    /// A plan starting now: `warmup`, then `duration`.
    pub fn new(warmup: Duration, duration: Duration, max_calls: u64) -> Self {
        let now = Instant::now();
        let measure_from = now + warmup;
        Plan {
            measure_from,
            end: measure_from + duration,
            max_calls: max_calls.min(MAX_RECORDED),
        }
    }
}

/// What one connection's loop measured.
#[derive(Debug, Default)]
pub struct ConnResult {
    /// Latencies of successful measured calls, in nanoseconds.
    pub latencies_ns: Vec<u64>,
    /// Failed measured calls.
    pub errors: u64,
    /// The first error seen.
    pub first_error: Option<String>,
    /// When the last measured call finished.
    pub last_done: Option<Instant>,
    /// The loop stopped because the connection broke.
    pub broken: bool,
}

/// The outcome of one call in a loop.
pub enum CallOutcome {
    /// Completed.
    Ok,
    /// Failed; `fatal` when the connection is gone.
    Err {
        /// What failed.
        message: String,
        /// The connection cannot be used any more.
        fatal: bool,
    },
}

/// One connection's call, made over and over by [`closed_loop`].
pub(crate) trait LoadOp {
    /// Makes one call.
    fn call(&mut self) -> impl Future<Output = CallOutcome> + Send + '_;
}

/// Runs calls back to back until `plan.end` or until `plan.max_calls` measured calls were
/// counted over all loops sharing `counter`.
pub(crate) async fn closed_loop<O: LoadOp>(
    plan: Plan,
    counter: Arc<AtomicU64>,
    op: &mut O,
) -> ConnResult {
    let mut r = ConnResult::default();
    loop {
        let t0 = Instant::now();
        if t0 >= plan.end {
            break;
        }
        let measured = t0 >= plan.measure_from;
        if measured && counter.fetch_add(1, Ordering::Relaxed) >= plan.max_calls {
            break;
        }
        let outcome = op.call().await;
        let done = Instant::now();
        match outcome {
            CallOutcome::Ok => {
                if measured {
                    let ns = u64::try_from(done.duration_since(t0).as_nanos()).unwrap_or(u64::MAX);
                    r.latencies_ns.push(ns);
                }
            }
            CallOutcome::Err { message, fatal } => {
                if measured {
                    r.errors += 1;
                }
                if r.first_error.is_none() {
                    r.first_error = Some(message);
                }
                if fatal {
                    r.broken = true;
                    break;
                }
            }
        }
        if measured {
            r.last_done = Some(done);
        }
    }
    r
}

/// Latency percentiles in microseconds.
#[derive(Serialize, Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// The value at percentile `p` (0..=100) of sorted `v` (nearest rank).
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, sorted.len()) - 1;
    sorted.get(idx).copied().unwrap_or(0)
}

fn us(ns: u64) -> f64 {
    (ns as f64 / 1000.0 * 100.0).round() / 100.0
}

/// Percentiles of `latencies` (sorted here).
pub fn latency(latencies: &mut [u64]) -> Latency {
    latencies.sort_unstable();
    let sum: u128 = latencies.iter().map(|&v| u128::from(v)).sum();
    let mean = if latencies.is_empty() {
        0
    } else {
        u64::try_from(sum / latencies.len() as u128).unwrap_or(u64::MAX)
    };
    Latency {
        p50: us(percentile(latencies, 50.0)),
        p90: us(percentile(latencies, 90.0)),
        p99: us(percentile(latencies, 99.0)),
        max: us(latencies.last().copied().unwrap_or(0)),
        mean: us(mean),
    }
}

/// The report of a run.
#[derive(Serialize, Debug)]
pub struct Report {
    /// `rpc` or `raw-tcp`.
    pub mode: &'static str,
    /// What was called (`mgmt-is-listening`, `echo-data:64`, `raw 24/32`).
    pub op: String,
    /// Where.
    pub target: String,
    /// Connections.
    pub conns: usize,
    /// Bytes per request and per response, when known (for the raw baseline: whole frames;
    /// for RPC: the PDU sizes of the call).
    pub request_bytes: Option<usize>,
    /// See `request_bytes`.
    pub response_bytes: Option<usize>,
    /// Seconds asked for.
    pub duration_s: f64,
    /// Warm-up seconds (not measured).
    pub warmup_s: f64,
    /// Seconds actually measured (shorter when `max_calls` was reached).
    pub measured_s: f64,
    /// Successful measured calls.
    pub calls: u64,
    /// Failed measured calls.
    pub errors: u64,
    /// `calls / measured_s`.
    pub calls_per_sec: f64,
    /// Latency of successful calls, microseconds.
    pub latency_us: Latency,
    /// Connections whose loop ended early because the connection broke.
    pub broken_conns: usize,
    /// The first error seen, if any.
    pub first_error: Option<String>,
}

/// Everything a report needs besides the per-connection results.
pub struct ReportHead {
    /// See [`Report::mode`].
    pub mode: &'static str,
    /// See [`Report::op`].
    pub op: String,
    /// See [`Report::target`].
    pub target: String,
    /// See [`Report::request_bytes`].
    pub request_bytes: Option<usize>,
    /// See [`Report::response_bytes`].
    pub response_bytes: Option<usize>,
    /// See [`Report::duration_s`].
    pub duration: Duration,
    /// See [`Report::warmup_s`].
    pub warmup: Duration,
}

/// Merges the connections' results.
pub fn report(head: ReportHead, plan: Plan, results: Vec<ConnResult>) -> Report {
    let conns = results.len();
    let mut all: Vec<u64> = Vec::with_capacity(results.iter().map(|r| r.latencies_ns.len()).sum());
    let mut errors = 0;
    let mut first_error = None;
    let mut last = None::<Instant>;
    let mut broken = 0;
    for r in results {
        all.extend_from_slice(&r.latencies_ns);
        errors += r.errors;
        if first_error.is_none() {
            first_error = r.first_error;
        }
        last = match (last, r.last_done) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        broken += usize::from(r.broken);
    }
    let measured = last
        .map(|l| l.saturating_duration_since(plan.measure_from))
        .unwrap_or_default()
        .min(plan.end.saturating_duration_since(plan.measure_from) + Duration::from_secs(60));
    let measured_s = measured.as_secs_f64();
    let calls = all.len() as u64;
    let calls_per_sec = if measured_s > 0.0 {
        (calls as f64 / measured_s * 10.0).round() / 10.0
    } else {
        0.0
    };
    Report {
        mode: head.mode,
        op: head.op,
        target: head.target,
        conns,
        request_bytes: head.request_bytes,
        response_bytes: head.response_bytes,
        duration_s: head.duration.as_secs_f64(),
        warmup_s: head.warmup.as_secs_f64(),
        measured_s: (measured_s * 1000.0).round() / 1000.0,
        calls,
        errors,
        calls_per_sec,
        latency_us: latency(&mut all),
        broken_conns: broken,
        first_error,
    }
}

/// Prints `report` (JSON or the text table) and fails when not one call succeeded: what
/// `bench` and `dcom bench` end with.
pub fn publish(report: &Report, json: bool) -> Result<(), Failure> {
    if json {
        crate::output::print_json(report)?;
    } else {
        print_report(report);
    }
    if report.calls == 0 {
        return Err(Failure::refused(format!(
            "no call succeeded ({} errors{})",
            report.errors,
            report
                .first_error
                .as_deref()
                .map(|e| format!("; first: {e}"))
                .unwrap_or_default()
        ))
        .json_printed());
    }
    Ok(())
}

/// Prints a report as text.
pub fn print_report(r: &Report) {
    outln!("{} {} against {}", r.mode, r.op, r.target);
    if let (Some(a), Some(b)) = (r.request_bytes, r.response_bytes) {
        outln!("  sizes      : {a} bytes out, {b} bytes back per call");
    }
    outln!(
        "  connections: {} ({} s measured after {} s warm-up)",
        r.conns,
        r.measured_s,
        r.warmup_s
    );
    outln!("  calls      : {} ({} errors)", r.calls, r.errors);
    outln!("  calls/s    : {}", r.calls_per_sec);
    outln!(
        "  latency us : p50 {}  p90 {}  p99 {}  max {}  mean {}",
        r.latency_us.p50,
        r.latency_us.p90,
        r.latency_us.p99,
        r.latency_us.max,
        r.latency_us.mean
    );
    if r.broken_conns > 0 {
        outln!("  broken connections: {}", r.broken_conns);
    }
    if let Some(e) = &r.first_error {
        outln!("  first error: {e}");
    }
}

/// Checks the common load options.
pub fn check_load(
    conns: usize,
    duration: f64,
    warmup: f64,
    max_calls: u64,
) -> Result<(Duration, Duration), Failure> {
    if conns == 0 || conns > 4096 {
        return Err(Failure::usage("--conns must be 1 to 4096"));
    }
    if !(duration.is_finite() && duration > 0.0 && duration <= 86_400.0) {
        return Err(Failure::usage(
            "--duration must be more than 0 and at most 86400 s",
        ));
    }
    if !(warmup.is_finite() && (0.0..=3600.0).contains(&warmup)) {
        return Err(Failure::usage("--warmup must be 0 to 3600 s"));
    }
    if max_calls == 0 {
        return Err(Failure::usage("--max-calls must be at least 1"));
    }
    Ok((
        Duration::from_secs_f64(duration),
        Duration::from_secs_f64(warmup),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        let l = latency(&mut v);
        assert_eq!((l.p50, l.p90, l.p99, l.max), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(l.mean, 50.5);
        let l = latency(&mut []);
        assert_eq!(l.max, 0.0);
        let mut one = vec![7000];
        assert_eq!(latency(&mut one).p99, 7.0);
    }
}
