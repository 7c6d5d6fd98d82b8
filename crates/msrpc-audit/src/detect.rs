//! Detectors over [`Event`]s: the technique library ([`crate::technique`]: attack techniques
//! as data, one alert per rule, its `detector` the rule's id) and built-in detectors that each
//! watch one pattern per source address (or per user), with configurable thresholds and
//! windows. Every alert is an [`EventKind::Alert`] carrying its technique, ATT&CK id,
//! confidence, what would make it benign, and its evidence (counts, the calls and arguments,
//! interfaces, opnums or users involved, first and last times, the connections' uids).
//!
//! The endpoint-mapper and DCOM detectors of earlier versions (`epm_enumeration`,
//! `dcom_lateral_movement`) are rules of the library now (`epm_full_walk`, `epm_lookup_burst`,
//! `epm_map_sweep`, `dcom_mmc20_application`, `dcom_shellwindows`, ...); their settings here
//! (`epm-lookups`, `epm-map-interfaces`, `epm-window`, `dcom-lateral-movement`,
//! `dcom-window`) tune those rules. The built-in detectors:
//!
//! | detector | fires when, within its window, one source ... | default |
//! |---|---|---|
//! | `interface_brute_force` | binds to many distinct interfaces the server rejects (rpcmap.py's UUID sweep), or draws many bind_naks | 10 interfaces / 20 naks in 300 s |
//! | `opnum_brute_force` | draws `nca_s_op_rng_error` for many distinct opnums of one interface | 8 opnums in 300 s |
//! | `password_guessing` | fails authentication many times (or one user fails from anywhere many times) | 5 per source / 10 per user in 300 s |
//! | `password_spraying` | fails authentication as many distinct users | 4 users in 300 s |
//! | `connection_scan` | opens many short connections that never send a bind | 20 in 60 s (at most 2 s each) |
//! | `malformed_burst` | sends malformed input many times | 5 in 60 s |
//! | `exploit_shape` | sends one request with an exploit's shape ([`crate::inspect`]), or a fragment sequence whose lengths would overflow ([`crate::inspect::OVERFLOW_REASONS`]) | 1 |
//!
//! Time comes only from [`Event::ts`] (never the wall clock), so the same code runs over live
//! traffic and over captures. Once a detector alerts about a key it stays quiet about that key
//! for one window. Memory is bounded: at most [`DetectorConfig::max_sources`] sources (and
//! `max_users` users) are tracked per detector, the least recently seen evicted first, and
//! each keeps a bounded number of timestamps and distinct items.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::technique::{Library, Techniques};
use crate::{AuthOutcome, ConnId, Event, EventKind};

/// Thresholds and windows of the detectors (TOML `[audit.detectors]` in msrpcd). Windows are
/// in seconds; a threshold of 0 disables that check; thresholds above [`MAX_THRESHOLD`] count
/// as that (each tracked key keeps at most that many timestamps or items).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct DetectorConfig {
    /// Sources tracked per detector (least recently seen evicted first).
    pub max_sources: usize,
    /// Users tracked by the per-user password-guessing check.
    pub max_users: usize,
    /// Fresh `ept_lookup` walks from one source that make a burst (the library rule
    /// `epm_lookup_burst`'s count; 0 disables it).
    pub epm_lookups: u32,
    /// Distinct interfaces asked with `ept_map` from one source that make a sweep (the rule
    /// `epm_map_sweep`'s count; 0 disables it).
    pub epm_map_interfaces: u32,
    /// Window of those two rules.
    pub epm_window: u64,
    /// Distinct rejected interfaces bound from one source that make a brute force.
    pub bind_rejected_interfaces: u32,
    /// bind_naks drawn by one source that make a storm.
    pub bind_naks: u32,
    /// Window of the bind checks.
    pub bind_window: u64,
    /// Distinct opnums faulted with `nca_s_op_rng_error` on one interface from one source.
    pub opnum_faults: u32,
    /// Window of the opnum check.
    pub opnum_window: u64,
    /// Authentication failures from one source.
    pub auth_failures_per_source: u32,
    /// Distinct users failing from one source (spraying).
    pub auth_users_per_source: u32,
    /// Failures of one user from any source.
    pub auth_failures_per_user: u32,
    /// Window of the authentication checks.
    pub auth_window: u64,
    /// Short connections without a bind from one source.
    pub scan_connections: u32,
    /// Longest connection (milliseconds) that still counts as short.
    pub scan_max_duration_ms: u64,
    /// Window of the scan check.
    pub scan_window: u64,
    /// Malformed-input events from one source.
    pub malformed: u32,
    /// Window of the malformed check.
    pub malformed_window: u64,
    /// Alert on exploit shapes.
    pub exploit_shapes: bool,
    /// The library's DCOM lateral-movement rules (`dcom_mmc20_application`,
    /// `dcom_shellwindows`, `dcom_shellbrowserwindow`, `dcom_office_excel_outlook`) on or off.
    pub dcom_lateral_movement: bool,
    /// Window of those rules: one alert per (source, target) per window.
    pub dcom_window: u64,
    /// Distinct callers one connectionless server answered with more stub bytes than they
    /// sent, within `cl-window`, that make a reflection alert (`cl_reflection`; 0 disables it).
    pub cl_reflection_sources: u32,
    /// Distinct addresses whose conversation callback (`conv_who_are_you2`, the WAY callback)
    /// went unanswered from one server within `cl-window` (`cl_way_unanswered`; 0 disables
    /// it): requests with spoofed sources.
    pub cl_way_unanswered: u32,
    /// Window of the connectionless checks.
    pub cl_window: u64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            max_sources: 4096,
            max_users: 4096,
            epm_lookups: 30,
            epm_map_interfaces: 10,
            epm_window: 60,
            bind_rejected_interfaces: 10,
            bind_naks: 20,
            bind_window: 300,
            opnum_faults: 8,
            opnum_window: 300,
            auth_failures_per_source: 5,
            auth_users_per_source: 4,
            auth_failures_per_user: 10,
            auth_window: 300,
            scan_connections: 20,
            scan_max_duration_ms: 2000,
            scan_window: 60,
            malformed: 5,
            malformed_window: 60,
            exploit_shapes: true,
            dcom_lateral_movement: true,
            dcom_window: 300,
            cl_reflection_sources: 20,
            cl_way_unanswered: 5,
            cl_window: 60,
        }
    }
}

/// The largest threshold honoured.
pub const MAX_THRESHOLD: u32 = 4096;

/// Items listed in an alert's evidence.
const EVIDENCE_ITEMS: usize = 32;
/// uids listed in an alert's evidence.
const EVIDENCE_UIDS: usize = 8;

/// One key's sliding window: recent timestamps (at most the threshold), distinct items with
/// their last time (bounded), recent uids, and the alert hold-off.
#[derive(Debug, Default)]
struct Window {
    times: VecDeque<f64>,
    distinct: HashMap<String, f64>,
    uids: VecDeque<String>,
    first: f64,
    last: f64,
    quiet_until: f64,
}

impl Window {
    fn touch(&mut self, ts: f64, window: f64, uid: &str) {
        if self.times.is_empty() && self.distinct.is_empty() {
            self.first = ts;
        }
        self.last = ts;
        while self.times.front().is_some_and(|&t| t < ts - window) {
            self.times.pop_front();
        }
        self.distinct.retain(|_, t| *t >= ts - window);
        if self.uids.back().map(String::as_str) != Some(uid) {
            self.uids.push_back(uid.to_string());
            if self.uids.len() > EVIDENCE_UIDS {
                self.uids.pop_front();
            }
        }
    }

    /// Counts one occurrence; true when the threshold is reached (and not held off).
    fn count(&mut self, ts: f64, threshold: u32) -> bool {
        self.times.push_back(ts);
        let cap = usize::try_from(threshold).unwrap_or(usize::MAX).max(1);
        while self.times.len() > cap {
            self.times.pop_front();
        }
        threshold > 0 && self.times.len() >= cap && ts >= self.quiet_until
    }

    /// Records a distinct item; true when the threshold is reached (and not held off).
    fn distinct(&mut self, ts: f64, item: String, threshold: u32) -> bool {
        let cap = usize::try_from(threshold).unwrap_or(usize::MAX).max(1);
        if !self.distinct.contains_key(&item) && self.distinct.len() >= cap {
            if let Some(old) = self
                .distinct
                .iter()
                .min_by(|a, b| a.1.total_cmp(b.1))
                .map(|(k, _)| k.clone())
            {
                self.distinct.remove(&old);
            }
        }
        self.distinct.insert(item, ts);
        threshold > 0 && self.distinct.len() >= cap && ts >= self.quiet_until
    }

    fn items(&self) -> Vec<String> {
        let mut v: Vec<(&String, &f64)> = self.distinct.iter().collect();
        v.sort_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(b.0)));
        v.into_iter()
            .take(EVIDENCE_ITEMS)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Evidence, then resets for the next window.
    fn fire(&mut self, ts: f64, window: f64, threshold: u32, what: &str) -> serde_json::Value {
        let ev = json!({
            "count": if self.distinct.is_empty() { self.times.len() } else { self.distinct.len() },
            "counted": what,
            "threshold": threshold,
            "window_secs": window,
            "first_ts": self.first,
            "last_ts": self.last,
            "items": self.items(),
            "uids": self.uids.iter().collect::<Vec<_>>(),
        });
        self.quiet_until = ts + window;
        self.times.clear();
        self.distinct.clear();
        self.uids.clear();
        ev
    }
}

/// Windows per key, at most `cap` keys (the least recently seen evicted first).
#[derive(Debug, Default)]
struct Table {
    map: HashMap<String, Window>,
}

impl Table {
    fn get(&mut self, key: String, cap: usize) -> &mut Window {
        if !self.map.contains_key(&key) && self.map.len() >= cap.max(1) {
            if let Some(old) = self
                .map
                .iter()
                .min_by(|a, b| a.1.last.total_cmp(&b.1.last))
                .map(|(k, _)| k.clone())
            {
                self.map.remove(&old);
            }
        }
        self.map.entry(key).or_default()
    }
}

/// The detectors and their state. Feed every event in time order with
/// [`observe`](Self::observe); call [`finish`](Self::finish) at the end of a capture.
#[derive(Debug)]
pub struct Detectors {
    cfg: DetectorConfig,
    bind_if: Table,
    bind_nak: Table,
    opnum: Table,
    auth_src: Table,
    auth_spray: Table,
    auth_user: Table,
    scan: Table,
    malformed: Table,
    exploit: Table,
    cl_reflect: Table,
    cl_way: Table,
    /// The technique library and its state.
    techniques: Techniques,
    /// The library as configured (to start over at [`Detectors::finish`]).
    library: Library,
    /// uids of open connections that sent a bind (accepted or not), so a rejected bind is
    /// not a "connection that never binds"; bounded, oldest forgotten first.
    bind_tried: VecDeque<String>,
}

/// Connections remembered as having tried a bind.
const BIND_TRIED: usize = 8192;

/// The DCOM lateral-movement rules that `dcom_lateral_movement` and `dcom_window` set.
const DCOM_RULES: [&str; 4] = [
    "dcom_mmc20_application",
    "dcom_shellwindows",
    "dcom_shellbrowserwindow",
    "dcom_office_excel_outlook",
];

impl Detectors {
    /// Detectors with `cfg` (thresholds above [`MAX_THRESHOLD`] lowered to it) and the
    /// built-in technique library.
    pub fn new(cfg: DetectorConfig) -> Detectors {
        Detectors::with_library(cfg, Library::builtin())
    }

    /// Detectors with `cfg` and the technique library `library` (the built-in one extended by
    /// a user's file, allow-lists added). The settings of `cfg` that differ from their
    /// defaults and belong to library rules (`epm-*`, `dcom-*`) are applied to those rules.
    pub fn with_library(mut cfg: DetectorConfig, mut library: Library) -> Detectors {
        let d = DetectorConfig::default();
        let count = |v: u32, dv: u32| (v != dv && v > 0).then_some(v);
        let enabled = |v: u32, dv: u32| (v != dv).then_some(v > 0);
        let within = |v: u64, dv: u64| (v != dv && v > 0).then_some(v as f64);
        library.tune(
            "epm_lookup_burst",
            count(cfg.epm_lookups, d.epm_lookups),
            within(cfg.epm_window, d.epm_window),
            enabled(cfg.epm_lookups, d.epm_lookups),
        );
        library.tune(
            "epm_map_sweep",
            count(cfg.epm_map_interfaces, d.epm_map_interfaces),
            within(cfg.epm_window, d.epm_window),
            enabled(cfg.epm_map_interfaces, d.epm_map_interfaces),
        );
        for id in DCOM_RULES {
            library.tune(
                id,
                None,
                within(cfg.dcom_window, d.dcom_window),
                (!cfg.dcom_lateral_movement).then_some(false),
            );
        }
        for t in [
            &mut cfg.epm_lookups,
            &mut cfg.epm_map_interfaces,
            &mut cfg.bind_rejected_interfaces,
            &mut cfg.bind_naks,
            &mut cfg.opnum_faults,
            &mut cfg.auth_failures_per_source,
            &mut cfg.auth_users_per_source,
            &mut cfg.auth_failures_per_user,
            &mut cfg.scan_connections,
            &mut cfg.malformed,
            &mut cfg.cl_reflection_sources,
            &mut cfg.cl_way_unanswered,
        ] {
            *t = (*t).min(MAX_THRESHOLD);
        }
        let techniques = Techniques::new(library.clone(), cfg.max_sources);
        Detectors {
            cfg,
            bind_if: Table::default(),
            bind_nak: Table::default(),
            opnum: Table::default(),
            auth_src: Table::default(),
            auth_spray: Table::default(),
            auth_user: Table::default(),
            scan: Table::default(),
            malformed: Table::default(),
            exploit: Table::default(),
            cl_reflect: Table::default(),
            cl_way: Table::default(),
            techniques,
            library,
            bind_tried: VecDeque::new(),
        }
    }

    /// The technique library in use.
    pub fn library(&self) -> &Library {
        &self.library
    }

    /// The configuration.
    pub fn config(&self) -> &DetectorConfig {
        &self.cfg
    }

    /// Sources (and users) currently tracked, over all detectors.
    pub fn tracked(&self) -> usize {
        [
            &self.bind_if,
            &self.bind_nak,
            &self.opnum,
            &self.auth_src,
            &self.auth_spray,
            &self.auth_user,
            &self.scan,
            &self.malformed,
            &self.exploit,
            &self.cl_reflect,
            &self.cl_way,
        ]
        .iter()
        .map(|t| t.map.len())
        .sum::<usize>()
            + self.techniques.tracked()
    }

    /// Observes one event; returns the alerts it raises (`EventKind::Alert` events stamped
    /// with the event's time and connection). Alerts themselves are ignored.
    pub fn observe(&mut self, ev: &Event) -> Vec<Event> {
        let mut out = Vec::new();
        let ts = ev.ts;
        let src = ev.conn.orig_h;
        let uid = ev.conn.uid.as_str();
        let cap = self.cfg.max_sources;
        let key = |s: Option<IpAddr>| s.map(|a| a.to_string());
        if !matches!(ev.kind, EventKind::Alert { .. }) {
            self.techniques.observe(ev, &mut out);
        }
        let c = &self.cfg;
        match &ev.kind {
            EventKind::Bind {
                contexts,
                nak_reason,
                ..
            } => {
                if self.bind_tried.back().map(String::as_str) != Some(uid) {
                    if self.bind_tried.len() >= BIND_TRIED {
                        self.bind_tried.pop_front();
                    }
                    self.bind_tried.push_back(uid.to_string());
                }
                let Some(k) = key(src) else { return out };
                let w = secs(c.bind_window);
                if let Some(reason) = nak_reason {
                    let win = self.bind_nak.get(k.clone(), cap);
                    win.touch(ts, w, uid);
                    if win.count(ts, c.bind_naks) {
                        let evidence = win.fire(ts, w, c.bind_naks, "bind_naks");
                        out.push(alert(
                            ev,
                            "interface_brute_force",
                            "medium",
                            format!("{} bind_naks within {w} s (last: {reason})", c.bind_naks),
                            evidence,
                        ));
                    }
                }
                // An interface counts as refused only when none of its contexts was accepted:
                // a client offering it in NDR20 and in NDR64 (as Windows does) sees one of the
                // two refused for its transfer syntax, which probes nothing.
                let rejected: Vec<&str> = contexts
                    .iter()
                    .filter(|x| {
                        matches!(
                            x.result.as_deref(),
                            Some("provider_rejection" | "user_rejection")
                        ) && !contexts.iter().any(|y| {
                            y.interface == x.interface && y.result.as_deref() == Some("accepted")
                        })
                    })
                    .map(|x| x.interface.as_str())
                    .collect();
                if !rejected.is_empty() {
                    let win = self.bind_if.get(k, cap);
                    win.touch(ts, w, uid);
                    let mut fired = false;
                    for i in rejected {
                        fired |= win.distinct(ts, i.to_string(), c.bind_rejected_interfaces);
                    }
                    if fired {
                        let evidence = win.fire(
                            ts,
                            w,
                            c.bind_rejected_interfaces,
                            "distinct rejected interfaces",
                        );
                        out.push(alert(
                            ev,
                            "interface_brute_force",
                            "medium",
                            format!(
                                "binds to {} distinct unsupported interfaces within {w} s",
                                c.bind_rejected_interfaces
                            ),
                            evidence,
                        ));
                    }
                }
            }
            EventKind::Call {
                interface,
                endpoint,
                opnum,
                fault,
                ..
            } if fault.as_deref() == Some("nca_s_op_rng_error") => {
                if let Some(k) = key(src) {
                    let iface = interface.clone().unwrap_or_default();
                    let w = secs(c.opnum_window);
                    let win = self.opnum.get(format!("{k} {iface}"), cap);
                    win.touch(ts, w, uid);
                    if win.distinct(ts, opnum.to_string(), c.opnum_faults) {
                        let mut evidence = win.fire(
                            ts,
                            w,
                            c.opnum_faults,
                            "distinct opnums faulted nca_s_op_rng_error",
                        );
                        set(&mut evidence, "interface", json!(iface));
                        let name = endpoint.clone().unwrap_or(iface);
                        out.push(alert(
                            ev,
                            "opnum_brute_force",
                            "medium",
                            format!(
                                "{} distinct opnums of {name} faulted op_rng_error within {w} s",
                                c.opnum_faults
                            ),
                            evidence,
                        ));
                    }
                }
            }
            EventKind::Call {
                interface,
                stub_in,
                stub_out,
                fault,
                transport: Some(t),
                ..
            } if t == crate::CL_TRANSPORT => {
                let is_way = interface.as_deref() == Some(CONV_UUID);
                let w = secs(c.cl_window);
                let (Some(caller), Some(callee)) = (ev.conn.orig_h, ev.conn.resp_h) else {
                    return out;
                };
                if is_way && fault.as_deref() == Some(crate::CL_NO_RESPONSE) {
                    // The server (the callback's caller) asked an address that never answered.
                    let win = self.cl_way.get(caller.to_string(), cap);
                    win.touch(ts, w, uid);
                    if win.distinct(ts, callee.to_string(), c.cl_way_unanswered) {
                        let evidence = win.fire(
                            ts,
                            w,
                            c.cl_way_unanswered,
                            "distinct addresses that never answered the callback",
                        );
                        out.push(with_source(
                            alert(
                                ev,
                                "cl_way_unanswered",
                                "medium",
                                format!(
                                    "{caller}'s conversation callbacks to {} distinct addresses \
                                     went unanswered within {w} s (requests with spoofed sources)",
                                    c.cl_way_unanswered
                                ),
                                evidence,
                            ),
                            caller,
                        ));
                    }
                } else if !is_way && fault.is_none() && stub_out > stub_in {
                    // The callee answered more than it was sent: reflection toward the caller.
                    let win = self.cl_reflect.get(callee.to_string(), cap);
                    win.touch(ts, w, uid);
                    if win.distinct(ts, caller.to_string(), c.cl_reflection_sources) {
                        let evidence = win.fire(
                            ts,
                            w,
                            c.cl_reflection_sources,
                            "distinct callers answered with more bytes than they sent",
                        );
                        out.push(with_source(
                            alert(
                                ev,
                                "cl_reflection",
                                "medium",
                                format!(
                                    "{callee} answered {} distinct addresses over UDP with more \
                                     bytes than they sent within {w} s (reflection and \
                                     amplification)",
                                    c.cl_reflection_sources
                                ),
                                evidence,
                            ),
                            callee,
                        ));
                    }
                }
            }
            EventKind::Auth {
                outcome: AuthOutcome::Failure,
                user,
                ..
            } => {
                let w = secs(c.auth_window);
                if let Some(k) = key(src) {
                    let win = self.auth_src.get(k.clone(), cap);
                    win.touch(ts, w, uid);
                    if let Some(u) = user {
                        // Keep the users in the evidence without making this a distinct count.
                        win.distinct.insert(u.clone(), ts);
                        if win.distinct.len() > EVIDENCE_ITEMS {
                            win.distinct.clear();
                        }
                    }
                    if win.count(ts, c.auth_failures_per_source) {
                        let mut evidence =
                            win.fire(ts, w, c.auth_failures_per_source, "authentication failures");
                        set(&mut evidence, "count", json!(c.auth_failures_per_source));
                        out.push(alert(
                            ev,
                            "password_guessing",
                            "high",
                            format!(
                                "{} authentication failures from one source within {w} s",
                                c.auth_failures_per_source
                            ),
                            evidence,
                        ));
                    }
                    if let Some(u) = user {
                        let win = self.auth_spray.get(k, cap);
                        win.touch(ts, w, uid);
                        if win.distinct(ts, u.to_ascii_lowercase(), c.auth_users_per_source) {
                            let evidence =
                                win.fire(ts, w, c.auth_users_per_source, "distinct users failing");
                            out.push(alert(ev, "password_spraying", "high",
                                format!("authentication failures for {} distinct users from one source within {w} s", c.auth_users_per_source),
                                evidence));
                        }
                    }
                }
                if let Some(u) = user {
                    let win = self.auth_user.get(u.to_ascii_lowercase(), c.max_users);
                    win.touch(ts, w, uid);
                    if let Some(s) = src {
                        win.distinct.insert(s.to_string(), ts);
                        if win.distinct.len() > EVIDENCE_ITEMS {
                            win.distinct.clear();
                        }
                    }
                    if win.count(ts, c.auth_failures_per_user) {
                        let mut evidence = win.fire(
                            ts,
                            w,
                            c.auth_failures_per_user,
                            "authentication failures of one user",
                        );
                        set(&mut evidence, "count", json!(c.auth_failures_per_user));
                        set(&mut evidence, "user", json!(u));
                        out.push(alert(
                            ev,
                            "password_guessing",
                            "high",
                            format!(
                                "{} authentication failures for user {u} within {w} s",
                                c.auth_failures_per_user
                            ),
                            evidence,
                        ));
                    }
                }
            }
            EventKind::ConnClose {
                duration, bound, ..
            } => {
                let short = *duration * 1000.0 <= c.scan_max_duration_ms as f64;
                let tried = match self.bind_tried.iter().rposition(|u| u == uid) {
                    Some(i) => {
                        self.bind_tried.remove(i);
                        true
                    }
                    None => false,
                };
                if !bound && !tried && short {
                    if let Some(k) = key(src) {
                        let w = secs(c.scan_window);
                        let win = self.scan.get(k, cap);
                        win.touch(ts, w, uid);
                        if win.count(ts, c.scan_connections) {
                            let evidence = win.fire(
                                ts,
                                w,
                                c.scan_connections,
                                "short connections without a bind",
                            );
                            out.push(alert(
                                ev,
                                "connection_scan",
                                "low",
                                format!(
                                    "{} short connections without a bind within {w} s",
                                    c.scan_connections
                                ),
                                evidence,
                            ));
                        }
                    }
                }
            }
            EventKind::Malformed { reason, detail } => {
                if c.exploit_shapes && crate::inspect::OVERFLOW_REASONS.contains(&reason.as_str()) {
                    if let Some(a) = self.exploit_alert(ev, reason, detail) {
                        out.push(a);
                    }
                }
                let c = &self.cfg;
                if let Some(k) = key(src) {
                    let w = secs(c.malformed_window);
                    let win = self.malformed.get(k, cap);
                    win.touch(ts, w, uid);
                    let r = reason.clone();
                    let counted = win.count(ts, c.malformed);
                    // Reasons as evidence (not a distinct count).
                    win.distinct.insert(r, ts);
                    if counted {
                        let mut evidence = win.fire(ts, w, c.malformed, "malformed inputs");
                        set(&mut evidence, "count", json!(c.malformed));
                        out.push(alert(
                            ev,
                            "malformed_burst",
                            "medium",
                            format!(
                                "{} malformed inputs within {w} s (last: {reason})",
                                c.malformed
                            ),
                            evidence,
                        ));
                    }
                }
            }
            EventKind::ExploitShape { shape, detail, .. } if c.exploit_shapes => {
                if let Some(a) = self.exploit_alert(ev, shape, detail) {
                    out.push(a);
                }
            }
            _ => {}
        }
        out
    }

    /// One alert per (source, shape) per minute.
    fn exploit_alert(&mut self, ev: &Event, shape: &str, detail: &str) -> Option<Event> {
        let src = ev
            .conn
            .orig_h
            .map_or_else(|| "local".to_string(), |a| a.to_string());
        let win = self
            .exploit
            .get(format!("{src} {shape}"), self.cfg.max_sources);
        win.touch(ev.ts, 60.0, &ev.conn.uid);
        if !win.count(ev.ts, 1) {
            return None;
        }
        let mut evidence = win.fire(ev.ts, 60.0, 1, "requests with an exploit shape");
        set(&mut evidence, "shape", json!(shape));
        set(&mut evidence, "detail", json!(detail));
        Some(alert(
            ev,
            "exploit_shape",
            "high",
            format!("exploit shape {shape}: {detail}"),
            evidence,
        ))
    }

    /// The end of the input (a capture's end): alerts are raised as soon as a threshold is
    /// crossed, so nothing is pending; the state is cleared and nothing returned.
    pub fn finish(&mut self) -> Vec<Event> {
        let cfg = self.cfg.clone();
        let library = self.library.clone();
        // Tuning the tuned library again by `cfg` changes nothing.
        *self = Detectors::with_library(cfg, library);
        Vec::new()
    }
}

/// Adds a field to an evidence object.
fn set(evidence: &mut serde_json::Value, key: &str, value: serde_json::Value) {
    if let Some(o) = evidence.as_object_mut() {
        o.insert(key.to_string(), value);
    }
}

/// The conversation manager interface (`conv`), whose callbacks a connectionless server
/// makes.
const CONV_UUID: &str = "333a2276-0000-0000-0d00-00809c000000";

/// An alert about `source` rather than the event's caller.
fn with_source(mut a: Event, source: IpAddr) -> Event {
    if let EventKind::Alert { source: s, .. } = &mut a.kind {
        *s = Some(source);
    }
    a
}

fn secs(s: u64) -> f64 {
    s as f64
}

/// The ATT&CK id, confidence and benign explanation of a built-in detector's alerts.
fn builtin_meta(detector: &str) -> (Option<&'static str>, &'static str, &'static str) {
    match detector {
        "interface_brute_force" => (
            Some("T1046"),
            "medium",
            "a client probing which versions of an interface a server offers, or one retrying an interface this server does not host",
        ),
        "opnum_brute_force" => (
            Some("T1046"),
            "medium",
            "a client built for a newer version of the interface than the server implements",
        ),
        "password_guessing" => (
            Some("T1110.001"),
            "medium",
            "a user or a service (scheduled task, mapped drive) retrying an outdated password",
        ),
        "password_spraying" => (
            Some("T1110.003"),
            "medium",
            "a gateway (NAT, VPN, terminal server) in front of many users who mistype at once",
        ),
        "connection_scan" => (
            Some("T1046"),
            "medium",
            "a port monitor or load-balancer health check that connects and leaves",
        ),
        "cl_reflection" => (
            Some("T1498.002"),
            "low",
            "a busy connectionless service (an endpoint mapper still asked over UDP by many clients): every answer to a lookup is larger than its question",
        ),
        "cl_way_unanswered" => (
            Some("T1498.002"),
            "medium",
            "clients behind a firewall or NAT that drops the server's callback, or clients that crashed between their request and the callback",
        ),
        "malformed_burst" => (
            None,
            "low",
            "a buggy client, or a middlebox corrupting traffic",
        ),
        _ => (
            Some("T1210"),
            "high",
            "none usual: vulnerability scanners and fuzzers send these shapes too",
        ),
    }
}

fn alert(
    ev: &Event,
    detector: &str,
    severity: &str,
    summary: String,
    evidence: serde_json::Value,
) -> Event {
    let (attack, confidence, benign) = builtin_meta(detector);
    // The oversized activation names are the Blaster-era overflows (MS03-026, MS03-039).
    let technique = match evidence.get("shape").and_then(serde_json::Value::as_str) {
        Some("dcom_oversized_server_name" | "dcom_oversized_name") => "blaster_activation_overflow",
        _ => detector,
    };
    Event {
        ts: ev.ts,
        conn: ConnId { ..ev.conn.clone() },
        kind: EventKind::Alert {
            detector: detector.into(),
            severity: severity.into(),
            summary,
            source: ev.conn.orig_h,
            evidence,
            technique: technique.into(),
            attack: attack.map(str::to_string),
            confidence: confidence.into(),
            benign: benign.into(),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::BindContext;

    fn ev(ts: f64, src: &str, n: u64, kind: EventKind) -> Event {
        Event {
            ts,
            conn: ConnId {
                uid: format!("C{n}"),
                orig_h: Some(src.parse().unwrap()),
                orig_p: Some(40000),
                resp_h: Some("127.0.0.130".parse().unwrap()),
                resp_p: Some(135),
            },
            kind,
        }
    }

    fn run(d: &mut Detectors, evs: &[Event]) -> Vec<Event> {
        evs.iter().flat_map(|e| d.observe(e)).collect()
    }

    fn names(alerts: &[Event]) -> Vec<String> {
        alerts
            .iter()
            .map(|a| match &a.kind {
                EventKind::Alert { detector, .. } => detector.clone(),
                other => panic!("not an alert: {other:?}"),
            })
            .collect()
    }

    fn lookup() -> EventKind {
        EventKind::EpmLookup {
            call_id: 1,
            inquiry: "all".into(),
            interface: None,
            entries: 10,
            status: 0,
            resumed: false,
            max_ents: 0,
            end: false,
        }
    }

    fn map(i: u32) -> EventKind {
        EventKind::EpmMap {
            call_id: 1,
            interface: Some(format!("00000000-0000-0000-0000-{i:012}")),
            endpoint: None,
            protocol: Some("ncacn_ip_tcp".into()),
            entries: 0,
            status: 0x16c9a0d6,
        }
    }

    fn bind(iface: &str, result: &str) -> EventKind {
        EventKind::Bind {
            kind: "bind".into(),
            assoc_group: 1,
            contexts: vec![BindContext {
                context_id: 0,
                interface: iface.into(),
                version: "1.0".into(),
                endpoint: None,
                transfer_syntaxes: vec!["ndr20".into()],
                result: Some(result.into()),
                reason: None,
            }],
            nak_reason: None,
            auth_type: None,
            auth_level: None,
            named_pipe: None,
        }
    }

    fn call(opnum: u16, fault: Option<&str>) -> EventKind {
        EventKind::Call {
            call_id: 1,
            interface: Some("60a15ec5-4de8-11d7-a637-005056a20182".into()),
            endpoint: Some("rpcecho".into()),
            opnum,
            operation: None,
            stub_in: 0,
            stub_out: 0,
            fragments: 1,
            rtt: Some(0.001),
            fault: fault.map(str::to_string),
            auth_level: None,
            user: None,
            args: Vec::new(),
            named_pipe: None,
            transport: None,
        }
    }

    fn auth(user: &str, ok: bool) -> EventKind {
        EventKind::Auth {
            auth_type: "winnt".into(),
            auth_level: "pkt_integrity".into(),
            user: Some(user.into()),
            outcome: if ok {
                AuthOutcome::Success
            } else {
                AuthOutcome::Failure
            },
            reason: (!ok).then(|| "unknown user or wrong password".into()),
        }
    }

    fn close(duration: f64, bound: bool) -> EventKind {
        EventKind::ConnClose {
            reason: "peer_closed".into(),
            duration,
            pdus_in: 0,
            pdus_out: 0,
            bound,
        }
    }

    /// What one `rpcdump.py` does: a connection, a bind to epmapper, a few lookups, close.
    fn rpcdump(t0: f64, src: &str, n: u64) -> Vec<Event> {
        let mut v = vec![
            ev(t0, src, n, EventKind::ConnOpen),
            ev(
                t0,
                src,
                n,
                bind("e1af8308-5d1f-11c9-91a4-08002b14a0fa", "accepted"),
            ),
        ];
        for i in 0..3 {
            v.push(ev(t0 + 0.01 * f64::from(i), src, n, lookup()));
        }
        v.push(ev(t0 + 0.1, src, n, close(0.1, true)));
        v
    }

    #[test]
    fn epm_rules_fire_on_sweeps_and_walks_and_stay_quiet_for_partial_lookups() {
        let mut d = Detectors::new(DetectorConfig::default());
        let sweep: Vec<Event> = (0..40)
            .map(|i| ev(f64::from(i), "10.0.0.1", 1, lookup()))
            .collect();
        let a = run(&mut d, &sweep);
        assert_eq!(names(&a), ["epm_lookup_burst"], "one alert, then held off");
        let EventKind::Alert {
            evidence, source, ..
        } = &a[0].kind
        else {
            unreachable!()
        };
        assert_eq!(evidence["count"], 30);
        assert_eq!(source.unwrap().to_string(), "10.0.0.1");
        let maps: Vec<Event> = (0..12)
            .map(|i| ev(f64::from(i), "10.0.0.2", 2, map(i)))
            .collect();
        let a = run(&mut d, &maps);
        assert_eq!(names(&a), ["epm_map_sweep"]);
        let EventKind::Alert { evidence, .. } = &a[0].kind else {
            unreachable!()
        };
        assert_eq!(evidence["items"].as_array().unwrap().len(), 10);

        // A walk to the end of the map is endpoint-map enumeration, low severity.
        let mut end = lookup();
        if let EventKind::EpmLookup { end: e, .. } = &mut end {
            *e = true;
        }
        let a = run(&mut d, &[ev(0.0, "10.0.0.9", 9, end)]);
        assert_eq!(names(&a), ["epm_full_walk"]);
        let EventKind::Alert {
            severity,
            technique,
            attack,
            benign,
            ..
        } = &a[0].kind
        else {
            unreachable!()
        };
        assert_eq!(
            (severity.as_str(), technique.as_str(), attack.as_deref()),
            ("low", "epm_full_walk", Some("T1046"))
        );
        assert!(benign.contains("rpcdump"), "{benign}");

        let mut d = Detectors::new(DetectorConfig::default());
        // Lookups that stop before the end of the map (one per minute from another host),
        // and the same map repeated.
        assert!(run(&mut d, &rpcdump(0.0, "10.0.0.3", 3)).is_empty());
        for m in 0..30u32 {
            assert!(run(&mut d, &rpcdump(f64::from(m) * 60.0, "10.0.0.4", 4)).is_empty());
        }
        let same: Vec<Event> = (0..50)
            .map(|i| ev(f64::from(i), "10.0.0.5", 5, map(1)))
            .collect();
        assert!(run(&mut d, &same).is_empty());
        // Lookups spread beyond the window do not add up.
        let slow: Vec<Event> = (0..100)
            .map(|i| ev(f64::from(i) * 3.0, "10.0.0.6", 6, lookup()))
            .collect();
        assert!(run(&mut d, &slow).is_empty());
    }

    #[test]
    fn interface_brute_force_fires_on_rpcmap_sweeps_and_naks() {
        let mut d = Detectors::new(DetectorConfig::default());
        let sweep: Vec<Event> = (0..15u64)
            .map(|i| {
                ev(
                    i as f64 * 0.05,
                    "10.0.1.1",
                    i,
                    bind(
                        &format!("12345678-1234-abcd-ef00-{i:012}"),
                        "provider_rejection",
                    ),
                )
            })
            .collect();
        let a = run(&mut d, &sweep);
        assert_eq!(names(&a), ["interface_brute_force"]);
        let EventKind::Alert { evidence, .. } = &a[0].kind else {
            unreachable!()
        };
        assert!(evidence["uids"].as_array().unwrap().len() > 1);
        let naks: Vec<Event> = (0..25)
            .map(|i| {
                ev(
                    f64::from(i),
                    "10.0.1.2",
                    9,
                    EventKind::Bind {
                        kind: "bind".into(),
                        assoc_group: 0,
                        contexts: vec![],
                        nak_reason: Some("authentication_type_not_recognized".into()),
                        auth_type: None,
                        auth_level: None,
                        named_pipe: None,
                    },
                )
            })
            .collect();
        assert_eq!(names(&run(&mut d, &naks)), ["interface_brute_force"]);
    }

    #[test]
    fn a_transfer_syntax_refusal_beside_an_accepted_context_is_no_probe() {
        // A 64-bit Windows client (and ours) offers each interface in NDR20 and in NDR64; the
        // server refuses one of the two for its transfer syntax. Twenty interfaces bound that
        // way are ordinary use; the same twenty refused outright are a sweep.
        let ctx = |id: u16, iface: &str, result: &str| BindContext {
            context_id: id,
            interface: iface.into(),
            version: "1.0".into(),
            endpoint: None,
            transfer_syntaxes: vec![],
            result: Some(result.into()),
            reason: None,
        };
        let both = |i: u64, second: &str| {
            let iface = format!("12345678-1234-abcd-ef00-{i:012}");
            ev(
                i as f64 * 0.05,
                "10.0.1.4",
                i,
                EventKind::Bind {
                    kind: "bind".into(),
                    assoc_group: 0,
                    contexts: vec![ctx(0, &iface, "provider_rejection"), ctx(1, &iface, second)],
                    nak_reason: None,
                    auth_type: None,
                    auth_level: None,
                    named_pipe: None,
                },
            )
        };
        let mut d = Detectors::new(DetectorConfig::default());
        let ordinary: Vec<Event> = (0..20).map(|i| both(i, "accepted")).collect();
        assert!(run(&mut d, &ordinary).is_empty());
        let mut d = Detectors::new(DetectorConfig::default());
        let sweep: Vec<Event> = (0..20).map(|i| both(i, "provider_rejection")).collect();
        assert_eq!(names(&run(&mut d, &sweep)), ["interface_brute_force"]);
    }

    #[test]
    fn interface_brute_force_stays_quiet_for_ordinary_binds() {
        let mut d = Detectors::new(DetectorConfig::default());
        // Many accepted binds, and the same unsupported interface retried.
        let v: Vec<Event> = (0..100u64)
            .flat_map(|i| {
                [
                    ev(
                        i as f64,
                        "10.0.1.3",
                        i,
                        bind("e1af8308-5d1f-11c9-91a4-08002b14a0fa", "accepted"),
                    ),
                    ev(
                        i as f64,
                        "10.0.1.3",
                        i,
                        bind("12345678-1234-abcd-ef00-0123456789ab", "provider_rejection"),
                    ),
                ]
            })
            .collect();
        assert!(run(&mut d, &v).is_empty());
    }

    #[test]
    fn opnum_brute_force() {
        let mut d = Detectors::new(DetectorConfig::default());
        let sweep: Vec<Event> = (0..64u16)
            .map(|o| {
                ev(
                    f64::from(o),
                    "10.0.2.1",
                    1,
                    call(o, (o >= 10).then_some("nca_s_op_rng_error")),
                )
            })
            .collect();
        let a = run(&mut d, &sweep);
        assert_eq!(names(&a), ["opnum_brute_force"]);
        let EventKind::Alert { evidence, .. } = &a[0].kind else {
            unreachable!()
        };
        assert_eq!(
            evidence["interface"],
            "60a15ec5-4de8-11d7-a637-005056a20182"
        );
        // Quiet: ordinary calls, a client probing one missing opnum repeatedly, and
        // rpcmap's -opnum-max 12 on a 10-operation interface (3 distinct).
        let mut d = Detectors::new(DetectorConfig::default());
        let v: Vec<Event> = (0..200u16)
            .map(|i| ev(f64::from(i), "10.0.2.2", 2, call(i % 10, None)))
            .chain((0..50).map(|i| {
                ev(
                    f64::from(i),
                    "10.0.2.2",
                    2,
                    call(42, Some("nca_s_op_rng_error")),
                )
            }))
            .chain((0..13u16).map(|o| {
                ev(
                    f64::from(o),
                    "10.0.2.3",
                    3,
                    call(o, (o >= 10).then_some("nca_s_op_rng_error")),
                )
            }))
            .collect();
        assert!(run(&mut d, &v).is_empty());
    }

    #[test]
    fn password_guessing_and_spraying() {
        let mut d = Detectors::new(DetectorConfig::default());
        let guess: Vec<Event> = (0..6)
            .map(|i| ev(f64::from(i), "10.0.3.1", 1, auth("WORKGROUP\\alice", false)))
            .collect();
        let a = run(&mut d, &guess);
        assert_eq!(names(&a), ["password_guessing"]);
        let EventKind::Alert {
            evidence, summary, ..
        } = &a[0].kind
        else {
            unreachable!()
        };
        assert_eq!(evidence["items"][0], "WORKGROUP\\alice", "{summary}");

        let spray: Vec<Event> = ["a", "b", "c", "d"]
            .iter()
            .enumerate()
            .map(|(i, u)| ev(i as f64 * 10.0, "10.0.3.2", 2, auth(u, false)))
            .collect();
        assert_eq!(names(&run(&mut d, &spray)), ["password_spraying"]);

        // One user failing from many sources (distributed guessing).
        let dist: Vec<Event> = (0..10)
            .map(|i| ev(f64::from(i), &format!("10.0.4.{i}"), 3, auth("bob", false)))
            .collect();
        let a = run(&mut d, &dist);
        assert_eq!(names(&a), ["password_guessing"]);
        let EventKind::Alert { evidence, .. } = &a[0].kind else {
            unreachable!()
        };
        assert_eq!(evidence["user"], "bob");
    }

    #[test]
    fn password_checks_stay_quiet_for_normal_logons() {
        let mut d = Detectors::new(DetectorConfig::default());
        // Many successes, and a user who mistypes twice then succeeds, every few minutes.
        let mut v: Vec<Event> = (0..100)
            .map(|i| ev(f64::from(i), "10.0.3.3", 1, auth("alice", true)))
            .collect();
        for round in 0..10 {
            let t = f64::from(round) * 400.0;
            v.push(ev(t, "10.0.3.4", 2, auth("carol", false)));
            v.push(ev(t + 5.0, "10.0.3.4", 2, auth("carol", false)));
            v.push(ev(t + 9.0, "10.0.3.4", 2, auth("carol", true)));
        }
        assert!(run(&mut d, &v).is_empty());
    }

    #[test]
    fn connection_scan() {
        let mut d = Detectors::new(DetectorConfig::default());
        let scan: Vec<Event> = (0..25u64)
            .map(|i| ev(i as f64 * 0.1, "10.0.5.1", i, close(0.01, false)))
            .collect();
        assert_eq!(names(&run(&mut d, &scan)), ["connection_scan"]);
        // Quiet: bound connections, long idle connections, and a few probes.
        let mut d = Detectors::new(DetectorConfig::default());
        let v: Vec<Event> = (0..100u64)
            .map(|i| ev(i as f64 * 0.1, "10.0.5.2", i, close(0.01, true)))
            .chain((0..30u64).map(|i| ev(i as f64, "10.0.5.3", i, close(120.0, false))))
            .chain((0..5u64).map(|i| ev(i as f64, "10.0.5.4", i, close(0.0, false))))
            // rpcmap.py's UUID sweep: each connection's bind is rejected (that is the
            // interface brute force detector's business, not a scan).
            .chain((0..50u64).flat_map(|i| {
                [
                    ev(
                        i as f64,
                        "10.0.5.5",
                        1000 + i,
                        bind("12345678-1234-abcd-ef00-0123456789ab", "provider_rejection"),
                    ),
                    ev(i as f64, "10.0.5.5", 1000 + i, close(0.01, false)),
                ]
            }))
            .collect();
        assert!(run(&mut d, &v).is_empty());
    }

    /// A connectionless call from `caller` to `callee`.
    fn cl(ts: f64, caller: &str, callee: &str, n: u64, kind: EventKind) -> Event {
        let mut e = ev(ts, caller, n, kind);
        e.conn.resp_h = Some(callee.parse().unwrap());
        if let EventKind::Call { transport, .. } = &mut e.kind {
            *transport = Some(crate::CL_TRANSPORT.into());
        }
        e
    }

    fn sized(iface: &str, stub_in: u64, stub_out: u64, fault: Option<&str>) -> EventKind {
        let mut k = call(2, fault);
        if let EventKind::Call {
            interface,
            stub_in: i,
            stub_out: o,
            ..
        } = &mut k
        {
            *interface = Some(iface.into());
            (*i, *o) = (stub_in, stub_out);
        }
        k
    }

    const EPM: &str = "e1af8308-5d1f-11c9-91a4-08002b14a0fa";

    #[test]
    fn cl_reflection_fires_on_amplified_answers_to_many_sources() {
        let mut d = Detectors::new(DetectorConfig::default());
        // A reflector answering 20 spoofed victims with ten times what they "sent".
        let v: Vec<Event> = (0..20u64)
            .map(|i| {
                let victim = format!("192.0.2.{}", i + 1);
                cl(
                    i as f64,
                    &victim,
                    "10.0.0.135",
                    i,
                    sized(EPM, 40, 400, None),
                )
            })
            .collect();
        let a = run(&mut d, &v);
        assert_eq!(names(&a), ["cl_reflection"]);
        let EventKind::Alert {
            source, technique, ..
        } = &a[0].kind
        else {
            unreachable!()
        };
        assert_eq!(*source, Some("10.0.0.135".parse().unwrap()));
        assert_eq!(technique, "cl_reflection");
        // Quiet: the same over TCP, answers no larger than requests, a few clients, faults.
        let mut d = Detectors::new(DetectorConfig::default());
        let v: Vec<Event> = (0..40u64)
            .flat_map(|i| {
                let c = format!("192.0.2.{}", i + 1);
                [
                    ev(i as f64, &c, i, sized(EPM, 40, 400, None)),
                    cl(i as f64, &c, "10.0.0.136", i, sized(EPM, 400, 40, None)),
                    cl(
                        i as f64,
                        &c,
                        "10.0.0.137",
                        i,
                        sized(EPM, 40, 0, Some("no_response")),
                    ),
                ]
            })
            .chain((0..19u64).map(|i| {
                let c = format!("198.51.100.{}", i + 1);
                cl(i as f64, &c, "10.0.0.138", i, sized(EPM, 40, 400, None))
            }))
            .collect();
        assert!(run(&mut d, &v).is_empty());
    }

    #[test]
    fn cl_way_unanswered_fires_on_spoofed_sources_only() {
        let mut d = Detectors::new(DetectorConfig::default());
        // The server (10.0.0.135) calls back five addresses that never answer.
        let v: Vec<Event> = (0..5u64)
            .map(|i| {
                let spoofed = format!("192.0.2.{}", i + 1);
                cl(
                    i as f64,
                    "10.0.0.135",
                    &spoofed,
                    i,
                    sized(CONV_UUID, 20, 0, Some("no_response")),
                )
            })
            .collect();
        let a = run(&mut d, &v);
        assert_eq!(names(&a), ["cl_way_unanswered"]);
        let EventKind::Alert { source, .. } = &a[0].kind else {
            unreachable!()
        };
        assert_eq!(*source, Some("10.0.0.135".parse().unwrap()));
        // Quiet: clients that answer, four that do not, and other calls without answers.
        let mut d = Detectors::new(DetectorConfig::default());
        let v: Vec<Event> = (0..30u64)
            .map(|i| {
                let c = format!("192.0.2.{}", i + 1);
                cl(
                    i as f64,
                    "10.0.0.135",
                    &c,
                    i,
                    sized(CONV_UUID, 20, 24, None),
                )
            })
            .chain((0..4u64).map(|i| {
                let c = format!("198.51.100.{}", i + 1);
                cl(
                    i as f64,
                    "10.0.0.135",
                    &c,
                    i,
                    sized(CONV_UUID, 20, 0, Some("no_response")),
                )
            }))
            .chain((0..10u64).map(|i| {
                let c = format!("203.0.113.{}", i + 1);
                cl(
                    i as f64,
                    &c,
                    "10.0.0.135",
                    i,
                    sized(EPM, 40, 0, Some("no_response")),
                )
            }))
            .collect();
        assert!(run(&mut d, &v).is_empty());
    }

    #[test]
    fn malformed_burst_and_overflow_shapes() {
        let mut d = Detectors::new(DetectorConfig::default());
        let m = |r: &str| EventKind::Malformed {
            reason: r.into(),
            detail: "x".into(),
        };
        let burst: Vec<Event> = (0..5)
            .map(|i| ev(f64::from(i), "10.0.6.1", 1, m("frag_length_below_header")))
            .collect();
        assert_eq!(names(&run(&mut d, &burst)), ["malformed_burst"]);
        let a = run(&mut d, &[ev(0.0, "10.0.6.2", 2, m("reassembly_over_cap"))]);
        assert_eq!(names(&a), ["exploit_shape"]);
        // Quiet: one malformed PDU now and then.
        let mut d = Detectors::new(DetectorConfig::default());
        let v: Vec<Event> = (0..20)
            .map(|i| ev(f64::from(i) * 30.0, "10.0.6.3", 3, m("trailing_data")))
            .collect();
        assert!(run(&mut d, &v).is_empty());
    }

    #[test]
    fn exploit_shape_alerts_once_per_minute() {
        let mut d = Detectors::new(DetectorConfig::default());
        let shape = EventKind::ExploitShape {
            call_id: 1,
            interface: crate::names::IREMOTE_ACTIVATION.to_string(),
            opnum: 0,
            shape: "dcom_oversized_server_name".into(),
            detail: "d".into(),
        };
        let v: Vec<Event> = (0..10)
            .map(|i| ev(f64::from(i), "10.0.7.1", 1, shape.clone()))
            .collect();
        assert_eq!(names(&run(&mut d, &v)), ["exploit_shape"]);
        assert_eq!(
            names(&run(&mut d, &[ev(61.0, "10.0.7.1", 1, shape.clone())])),
            ["exploit_shape"]
        );
        // Quiet: ordinary DCOM calls and disabled shapes.
        let mut d = Detectors::new(DetectorConfig {
            exploit_shapes: false,
            ..DetectorConfig::default()
        });
        assert!(run(&mut d, &[ev(0.0, "10.0.7.2", 2, shape)]).is_empty());
        assert!(run(&mut d, &[ev(0.0, "10.0.7.2", 2, call(4, None))]).is_empty());
    }

    #[test]
    fn memory_is_bounded() {
        let mut d = Detectors::new(DetectorConfig {
            max_sources: 100,
            max_users: 50,
            ..DetectorConfig::default()
        });
        for i in 0..10_000u32 {
            let src = format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255);
            d.observe(&ev(f64::from(i), &src, 1, auth(&format!("u{i}"), false)));
            d.observe(&ev(f64::from(i), &src, 1, lookup()));
        }
        // auth_src + auth_spray + epm_lookup <= 100 each, auth_user <= 50.
        assert!(d.tracked() <= 350, "{}", d.tracked());
        assert!(d.finish().is_empty());
        assert_eq!(d.tracked(), 0);
    }

    #[test]
    fn large_thresholds_are_honoured_up_to_the_cap() {
        let mut d = Detectors::new(DetectorConfig {
            opnum_faults: 200,
            epm_lookups: u32::MAX,
            ..DetectorConfig::default()
        });
        assert_eq!(d.config().epm_lookups, MAX_THRESHOLD);
        let v: Vec<Event> = (0..199u16)
            .map(|o| ev(1.0, "10.0.8.1", 1, call(o, Some("nca_s_op_rng_error"))))
            .collect();
        assert!(run(&mut d, &v).is_empty());
        let a = run(
            &mut d,
            &[ev(
                1.0,
                "10.0.8.1",
                1,
                call(500, Some("nca_s_op_rng_error")),
            )],
        );
        assert_eq!(names(&a), ["opnum_brute_force"]);
        let EventKind::Alert { evidence, .. } = &a[0].kind else {
            unreachable!()
        };
        assert_eq!(evidence["count"], 200);
        assert_eq!(evidence["items"].as_array().unwrap().len(), EVIDENCE_ITEMS);
    }

    #[test]
    fn legacy_settings_tune_the_library_rules() {
        let d = Detectors::new(DetectorConfig {
            epm_lookups: 5,
            epm_window: 10,
            epm_map_interfaces: 0,
            dcom_lateral_movement: false,
            ..DetectorConfig::default()
        });
        let burst = d.library().rule("epm_lookup_burst").unwrap();
        assert_eq!((burst.count, burst.within, burst.enabled), (5, 10.0, true));
        assert!(!d.library().rule("epm_map_sweep").unwrap().enabled);
        assert!(!d.library().rule("dcom_shellwindows").unwrap().enabled);
        // Defaults leave the file's values.
        let d = Detectors::new(DetectorConfig::default());
        assert_eq!(d.library().rule("epm_lookup_burst").unwrap().count, 30);
        assert!(d.library().rule("dcom_shellwindows").unwrap().enabled);
    }

    #[test]
    fn config_reads_from_toml_like_json_with_defaults() {
        let c: DetectorConfig = serde_json::from_str(r#"{"epm-lookups": 3}"#).unwrap();
        assert_eq!(c.epm_lookups, 3);
        assert_eq!(c.bind_window, 300);
        assert!(serde_json::from_str::<DetectorConfig>(r#"{"nope": 1}"#).is_err());
    }
}
