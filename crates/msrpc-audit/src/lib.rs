//! Typed audit events for DCE/RPC traffic, shared by the live daemon and the offline analyzer.
//!
//! One [`Event`] describes one thing that happened on one connection: it opened or closed, a
//! bind was answered, a call completed, an authentication leg succeeded or failed, the policy
//! refused a call, the peer sent malformed input, a request had an exploit's shape, or a
//! detector raised an alert. Events are plain data (serde), produced from the protocol core's
//! `ServerEvent`s by the runtime ([`live`]) and from decoded captures by the analyzer, so
//! both paths feed the same detectors and write the same records. Field names follow Zeek's
//! `dce_rpc.log` where they overlap (`ts`, `uid`, `id.orig_h`, `id.orig_p`, `id.resp_h`,
//! `id.resp_p`, `rtt`, `endpoint`, `operation`).
//!
//! - [`live`]: the adapter from a server's observer callbacks to events;
//! - [`epm`]: `ept_lookup` / `ept_map` stubs to [`EventKind::EpmLookup`] / [`EventKind::EpmMap`];
//! - [`inspect`]: exploit shapes visible in request stubs (DCOM activation names);
//! - [`args`]: the arguments of the calls the technique library looks into (UNC paths,
//!   service binary paths, Netlogon credentials...), decoded from request stubs in the clear;
//! - [`technique`]: the technique library (rules as data, `rules/techniques.toml`) and its
//!   engine: interfaces, opnums, arguments, roles, rates and sequences per source and target;
//! - [`detect`]: the detectors (the technique library, interface and opnum brute force,
//!   password guessing and spraying, connection scans, malformed bursts, exploit shapes),
//!   driven only by events (time from [`Event::ts`]), with bounded memory;
//! - [`json`]: the JSON-lines sink; [`metrics`]: Prometheus text-format counters.
//!
//! This crate does no IO beyond writing to a caller-supplied `std::io::Write`, reads no clock
//! and opens no socket (the daemon serves the metrics); it parses only stubs the protocol
//! core already reassembled and verified, with bounded decoders that never panic.

pub mod args;
pub mod dcom;
pub mod detect;
pub mod epm;
pub mod event;
pub mod inspect;
pub mod json;
pub mod live;
pub mod metrics;
pub mod names;
pub mod technique;

pub use event::{
    AuthOutcome, BindContext, CallArg, ConnId, Event, EventKind, CL_NO_RESPONSE, CL_TRANSPORT,
};

/// `n` in decimal, written into `buf` (no allocation): the hot paths of the JSON sink and the
/// metrics write numbers with it.
pub(crate) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(b) = buf.get_mut(i) {
            *b = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    std::str::from_utf8(buf.get(i..).unwrap_or_default()).unwrap_or("0")
}

#[cfg(test)]
mod decimal_tests {
    #[test]
    fn decimal_writes_every_width() {
        for n in [0u64, 7, 10, 99, 100, 4095, 65535, 1 << 32, u64::MAX] {
            let mut b = [0u8; 20];
            assert_eq!(super::decimal(n, &mut b), n.to_string());
        }
    }
}
