//! Pinging from the client (MS-DCOM 3.2.6.1) over [`crate::ping::PingSet`]: [`Pinger`], one
//! ping on a resolver connection the caller holds, and [`PingTask`], the background task that
//! keeps one resolver's ping set alive on a timer.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use msrpc_rt::{Client, ClientOptions};
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use super::ClientError;
use crate::hresult::status;
use crate::ids::{Oid, SetId};
use crate::ping::{PingOutcome, PingRequest, PingSet};
use crate::resolver::{ComplexPingRequest, ObjectExporterClient, SimplePingRequest};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sends `req` on `client`: its outcome for the [`PingSet`], and the error it was, if any.
async fn send(client: &Client, req: &PingRequest) -> (PingOutcome, Result<(), ClientError>) {
    let resolver = ObjectExporterClient::new(client.clone());
    let (what, answer) = match req {
        PingRequest::Simple { set_id } => {
            let what = "SimplePing";
            let r = resolver
                .simple_ping(SimplePingRequest { set_id: *set_id })
                .await
                .map(|r| (r.result, SetId(0), 0));
            (what, r)
        }
        PingRequest::Complex {
            set_id,
            sequence,
            add,
            del,
        } => {
            let what = "ComplexPing";
            // `PingSet` sends at most MAX_CHANGES (4096) of each.
            let c_add = u16::try_from(add.len()).unwrap_or(u16::MAX);
            let c_del = u16::try_from(del.len()).unwrap_or(u16::MAX);
            let r = resolver
                .complex_ping(ComplexPingRequest {
                    set_id: *set_id,
                    sequence_num: *sequence,
                    c_add_to_set: c_add,
                    c_del_from_set: c_del,
                    add_to_set: (!add.is_empty()).then(|| add.clone()),
                    del_from_set: (!del.is_empty()).then(|| del.clone()),
                })
                .await
                .map(|r| (r.result, r.set_id, r.ping_backoff_factor));
            (what, r)
        }
    };
    match answer {
        Ok((status, set_id, backoff)) => (
            PingOutcome::Answered {
                status,
                set_id,
                backoff,
            },
            if status == 0 {
                Ok(())
            } else {
                Err(ClientError::Status { what, status })
            },
        ),
        Err(source) => (PingOutcome::Failed, Err(ClientError::Call { what, source })),
    }
}

/// One ping set on a resolver connection the caller holds, pinged when the caller calls
/// [`Pinger::ping`] (see [`crate::ping`] for what each ping sends). For pings on a timer, see
/// [`PingTask`].
#[derive(Clone, Debug)]
pub struct Pinger {
    client: Client,
    set: PingSet,
}

impl Pinger {
    /// The ping period MS-DCOM recommends (3.2.6.1: 120 seconds).
    pub const PERIOD: Duration = Duration::from_secs(120);
    /// Most OIDs sent in one ComplexPing (its counts are 16-bit).
    pub const MAX_CHANGES: usize = crate::ping::MAX_CHANGES;

    /// A pinger calling the resolver on `client` (port 135 of the exporter's machine).
    pub fn new(client: Client) -> Pinger {
        Pinger {
            client,
            set: PingSet::new(),
        }
    }

    /// The set id the server gave (0 before the first ping).
    pub fn set_id(&self) -> SetId {
        self.set.set_id()
    }

    /// The last ComplexPing's sequence number (0 before the first).
    pub fn sequence(&self) -> u16 {
        self.set.sequence()
    }

    /// The server's ping backoff factor from the last ComplexPing (MS-DCOM 3.1.2.5.1.3).
    pub fn backoff_factor(&self) -> u16 {
        self.set.backoff_factor()
    }

    /// The ping set.
    pub fn ping_set(&self) -> &PingSet {
        &self.set
    }

    /// Keeps `oid` alive from the next ping on.
    pub fn add(&mut self, oid: Oid) {
        self.set.add(oid);
    }

    /// Stops keeping `oid` alive from the next ping on.
    pub fn remove(&mut self, oid: Oid) {
        self.set.remove(oid);
    }

    /// Pings the set: a ComplexPing when there are changes (or no set yet), else a
    /// SimplePing; nothing when there is neither a set nor an OID to add. Fails on a transport
    /// error, a fault or an error status; changes not acknowledged are sent again by the next
    /// ping, and after `OR_INVALID_SET` the next ping creates a new set with every OID.
    pub async fn ping(&mut self) -> Result<(), ClientError> {
        let Some(req) = self.set.next_request() else {
            return Ok(());
        };
        let (outcome, result) = send(&self.client, &req).await;
        self.set.complete(&req, outcome);
        result
    }
}

/// Timing of a [`PingTask`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingConfig {
    /// Time between pings: MS-DCOM's 120 s by default (3.2.6.1; a server expires a set after
    /// three periods without a ping). Shorter for tests.
    pub period: Duration,
    /// Bound of each ping: connecting to the resolver, binding and the call. Default 30 s.
    pub call_timeout: Duration,
    /// Wait before trying a failed ping again. Default 10 s.
    pub retry_delay: Duration,
    /// Tries after a failure before waiting for the next period. Default 3.
    pub retries: u32,
    /// The largest ping backoff factor honoured: a server's factor `f` (ComplexPing's
    /// `pPingBackoffFactor`, a hint to ping less) stretches the period by 2^min(f, this).
    /// Default 1 (at most twice the period, within the three periods a server waits).
    pub max_backoff_factor: u16,
}

impl Default for PingConfig {
    fn default() -> Self {
        PingConfig {
            period: Pinger::PERIOD,
            call_timeout: Duration::from_secs(30),
            retry_delay: Duration::from_secs(10),
            retries: 3,
            max_backoff_factor: 1,
        }
    }
}

impl PingConfig {
    /// The wait until the next ping after a server's backoff factor `backoff`.
    pub fn interval(&self, backoff: u16) -> Duration {
        let shift = u32::from(backoff.min(self.max_backoff_factor).min(16));
        self.period
            .checked_mul(1u32 << shift)
            .unwrap_or(Duration::MAX)
    }
}

/// What a [`PingTask`] has done.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PingStats {
    /// Pings answered with success.
    pub pings: u64,
    /// Ping attempts that failed (transport, fault, timeout, error status).
    pub failures: u64,
    /// The most recent failure.
    pub last_error: Option<String>,
    /// The set id (0: none yet).
    pub set_id: SetId,
    /// The last ComplexPing's sequence number.
    pub sequence: u16,
    /// The server's last backoff factor.
    pub backoff_factor: u16,
    /// OIDs the set holds (or is about to).
    pub oids: usize,
    /// Whether the task is running.
    pub running: bool,
}

struct PingState {
    set: PingSet,
    stats: PingStats,
    running: bool,
    /// Every handle is gone: a last ping for pending changes, then stop.
    closed: bool,
    /// Ping now (a flush, or the set just emptied), not at the next period.
    urgent: bool,
    flushers: Vec<oneshot::Sender<Result<(), String>>>,
}

struct PingShared {
    host: String,
    port: u16,
    opts: ClientOptions,
    config: PingConfig,
    runtime: Option<tokio::runtime::Handle>,
    state: Mutex<PingState>,
    wake: Notify,
}

impl PingShared {
    /// Starts the task if it is not running (and can run). The state is locked by the caller.
    fn ensure_running(self: &Arc<Self>, st: &mut PingState) {
        if st.running || st.closed {
            return;
        }
        match &self.runtime {
            Some(rt) => {
                st.running = true;
                rt.spawn(run(Arc::clone(self)));
            }
            None => {
                st.stats.last_error = Some("no tokio runtime to ping from".into());
            }
        }
    }
}

/// What the handles share; its drop (the last handle's) closes the task.
struct Owner(Arc<PingShared>);

impl Drop for Owner {
    fn drop(&mut self) {
        lock(&self.0.state).closed = true;
        self.0.wake.notify_one();
    }
}

/// The background task keeping one OXID resolver's ping set alive (MS-DCOM 3.2.6.1): the
/// client of every exporter on that machine adds the OIDs of the objects it holds and removes
/// them when it lets go (`ComRef` does both). The task starts with the first OID, pings every
/// [`PingConfig::period`] (stretched by the server's backoff factor) — a ComplexPing when OIDs
/// were added or removed since the last ping, a SimplePing otherwise — each bounded by
/// [`PingConfig::call_timeout`] and tried again after a failure; it pings at once when its
/// last OID is removed (so the server can collect the objects) and then stops; a later
/// [`PingTask::add`] starts it again. When the last handle is dropped it sends pending changes
/// once and stops. Failures never panic: [`PingTask::stats`] counts them and keeps the last.
///
/// Clones share the task. Create it inside a tokio runtime: the task runs there.
#[derive(Clone)]
pub struct PingTask {
    owner: Arc<Owner>,
}

impl fmt::Debug for PingTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.owner.0;
        f.debug_struct("PingTask")
            .field("resolver", &format_args!("{}:{}", s.host, s.port))
            .field("stats", &self.stats())
            .finish()
    }
}

impl PingTask {
    /// A task pinging the resolver at `host:port` (135 on Windows) with `opts` (its
    /// authentication: Windows wants the caller's credentials), not started until an OID is
    /// added.
    pub fn new(host: &str, port: u16, opts: ClientOptions, config: PingConfig) -> PingTask {
        PingTask {
            owner: Arc::new(Owner(Arc::new(PingShared {
                host: host.to_string(),
                port,
                opts,
                config,
                runtime: tokio::runtime::Handle::try_current().ok(),
                state: Mutex::new(PingState {
                    set: PingSet::new(),
                    stats: PingStats::default(),
                    running: false,
                    closed: false,
                    urgent: false,
                    flushers: Vec::new(),
                }),
                wake: Notify::new(),
            }))),
        }
    }

    /// The resolver's host and port.
    pub fn resolver(&self) -> (&str, u16) {
        (&self.owner.0.host, self.owner.0.port)
    }

    /// The configuration.
    pub fn config(&self) -> &PingConfig {
        &self.owner.0.config
    }

    /// Keeps `oid` alive from the next ping on (starts the task if needed).
    pub fn add(&self, oid: Oid) {
        let shared = &self.owner.0;
        let mut st = lock(&shared.state);
        st.set.add(oid);
        shared.ensure_running(&mut st);
    }

    /// Stops keeping `oid` alive. When no OID remains, the deletions are sent at once and the
    /// task stops.
    pub fn remove(&self, oid: Oid) {
        let shared = &self.owner.0;
        let mut st = lock(&shared.state);
        st.set.remove(oid);
        // The last one: send the deletions now (or just stop, when none is due).
        if st.set.is_empty() && st.running {
            st.urgent = true;
            drop(st);
            shared.wake.notify_one();
        }
    }

    /// True when `oid` is in the set (or about to be added).
    pub fn contains(&self, oid: Oid) -> bool {
        lock(&self.owner.0.state).set.contains(oid)
    }

    /// How many handles share the task.
    pub(crate) fn holders(&self) -> usize {
        Arc::strong_count(&self.owner)
    }

    /// True while the task runs.
    pub fn is_running(&self) -> bool {
        lock(&self.owner.0.state).running
    }

    /// What the task has done so far.
    pub fn stats(&self) -> PingStats {
        let st = lock(&self.owner.0.state);
        PingStats {
            set_id: st.set.set_id(),
            sequence: st.set.sequence(),
            backoff_factor: st.set.backoff_factor(),
            oids: st.set.len(),
            running: st.running,
            ..st.stats.clone()
        }
    }

    /// Sends pending additions and deletions now rather than at the next period, and waits
    /// (at most `timeout`) for the answer. Nothing pending: returns at once.
    pub async fn flush(&self, timeout: Duration) -> Result<(), ClientError> {
        let shared = &self.owner.0;
        let rx = {
            let mut st = lock(&shared.state);
            if !st.set.has_changes() {
                return Ok(());
            }
            let (tx, rx) = oneshot::channel();
            st.flushers.push(tx);
            st.urgent = true;
            shared.ensure_running(&mut st);
            if !st.running {
                return Err(ClientError::Background {
                    what: "ping",
                    message: "the ping task cannot run (no tokio runtime)".into(),
                });
            }
            rx
        };
        shared.wake.notify_one();
        match tokio::time::timeout(timeout, rx).await {
            Err(_) => Err(ClientError::Timeout(timeout)),
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(message))) => Err(ClientError::Background {
                what: "ping",
                message,
            }),
            Ok(Err(_)) => Err(ClientError::Background {
                what: "ping",
                message: "the ping task ended".into(),
            }),
        }
    }
}

/// Why the task pings now.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reason {
    /// The period elapsed: ping whatever the set needs, with retries.
    Due,
    /// A flush or the last OID removed: send the changes, with retries.
    Urgent,
    /// Every handle is gone: send the changes once.
    Closing,
}

/// The task (see [`PingTask`]).
async fn run(shared: Arc<PingShared>) {
    let mut conn: Option<Client> = None;
    let mut next = Instant::now() + shared.config.period;
    loop {
        let (closed, urgent) = {
            let st = lock(&shared.state);
            (st.closed, st.urgent)
        };
        if !closed && !urgent {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = shared.wake.notified() => {}
            }
        }
        let reason = {
            let mut st = lock(&shared.state);
            let urgent = std::mem::take(&mut st.urgent);
            if st.closed {
                Some(Reason::Closing)
            } else if Instant::now() >= next {
                Some(Reason::Due)
            } else if urgent {
                Some(Reason::Urgent)
            } else {
                None
            }
        };
        let Some(reason) = reason else {
            continue;
        };
        let result = ping_round(&shared, &mut conn, reason).await;
        let mut st = lock(&shared.state);
        for f in st.flushers.drain(..) {
            let _ = f.send(result.clone());
        }
        let done = reason == Reason::Closing || (st.set.is_empty() && !st.set.has_changes());
        if done {
            st.running = false;
            break;
        }
        next = Instant::now() + shared.config.interval(st.set.backoff_factor());
    }
    if let Some(c) = conn {
        c.close();
    }
}

/// One ping (and its retries); the error of the last try, as text.
async fn ping_round(
    shared: &PingShared,
    conn: &mut Option<Client>,
    reason: Reason,
) -> Result<(), String> {
    let cfg = &shared.config;
    let mut tries = 0u32;
    // A few rounds at most when changes exceed one ComplexPing's batch.
    let mut rounds = 0u32;
    loop {
        let req = {
            let mut st = lock(&shared.state);
            if reason != Reason::Due && !st.set.has_changes() {
                return Ok(());
            }
            st.set.next_request()
        };
        let Some(req) = req else {
            return Ok(());
        };
        let (outcome, result) = ping_once(shared, conn, &req).await;
        let again = {
            let mut st = lock(&shared.state);
            st.set.complete(&req, outcome);
            match &result {
                Ok(()) => {
                    st.stats.pings += 1;
                    rounds += 1;
                    st.set.has_changes() && rounds < 16
                }
                Err(e) => {
                    st.stats.failures += 1;
                    st.stats.last_error = Some(e.to_string());
                    false
                }
            }
        };
        match result {
            Ok(()) if again => continue,
            Ok(()) => return Ok(()),
            Err(e) => {
                if reason == Reason::Closing || tries >= cfg.retries {
                    return Err(e.to_string());
                }
                tries += 1;
                let expired = matches!(
                    e,
                    ClientError::Status {
                        status: status::OR_INVALID_SET,
                        ..
                    }
                );
                // The set is gone: create it again at once. Anything else may be transient:
                // a new connection after a while.
                if !expired {
                    if let Some(c) = conn.take() {
                        c.close();
                    }
                    tokio::time::sleep(cfg.retry_delay).await;
                }
            }
        }
    }
}

/// Sends `req`, connecting first when there is no usable connection; bounded by the call
/// timeout. A failure drops the connection.
async fn ping_once(
    shared: &PingShared,
    conn: &mut Option<Client>,
    req: &PingRequest,
) -> (PingOutcome, Result<(), ClientError>) {
    let t = shared.config.call_timeout;
    let attempt = async {
        let client = match conn.as_ref().filter(|c| !c.is_closed()) {
            Some(c) => c.clone(),
            None => {
                let c = Client::connect_host(&shared.host, shared.port, shared.opts.clone())
                    .await
                    .map_err(ClientError::Connect)?;
                *conn = Some(c.clone());
                c
            }
        };
        Ok::<_, ClientError>(send(&client, req).await)
    };
    let (outcome, result) = match tokio::time::timeout(t, attempt).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => (PingOutcome::Failed, Err(e)),
        Err(_) => (PingOutcome::Failed, Err(ClientError::Timeout(t))),
    };
    if matches!(outcome, PingOutcome::Failed) {
        if let Some(c) = conn.take() {
            c.close();
        }
    }
    (outcome, result)
}
