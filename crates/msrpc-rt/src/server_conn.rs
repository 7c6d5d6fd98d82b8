//! One server connection: a task that moves bytes between the socket and a
//! [`ServerConnection`], runs each call as its own task, and enforces the timeouts.

use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use msrpc_policy::CallerInfo;
use msrpc_proto::dispatch::{CallContext, DispatchError};
use msrpc_proto::pdu::{AuthType, Body, FaultStatus, Header, PacketType, Pdu, PfcFlags, SyntaxId};
use msrpc_proto::security::SecurityProvider;
use msrpc_proto::server::{IncomingCall, ServerConfig, ServerConnection, ServerEnv, ServerEvent};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::{AbortHandle, Id, JoinSet};
use tokio::time::Instant;

use crate::addr::{LocalAddr, PeerAddr};
use crate::io::{FragTracker, WriteQueue};
use crate::server::{ConnEvent, ConnSlot, RunState, Shared};

/// The largest read buffer a connection grows to.
const READ_BUF: usize = 16 * 1024;
/// A connection's first read buffer: enough for small calls, so an idle connection holds
/// little. It doubles (up to [`READ_BUF`]) each time a read fills it.
const READ_BUF_START: usize = 1024;

/// The [`ServerEnv`] of one connection: the server's registry plus the group it joined.
struct ConnEnv {
    shared: Arc<Shared>,
    group: Option<u32>,
}

impl ServerEnv for ConnEnv {
    fn lookup_interface(&self, abstract_syntax: &SyntaxId) -> Option<SyntaxId> {
        self.shared.lookup_interface(abstract_syntax)
    }

    fn supports_ndr64(&self, interface: &SyntaxId) -> bool {
        self.shared.supports_ndr64(interface)
    }

    fn assoc_group(&mut self, requested: u32) -> Option<u32> {
        let joined = self.shared.join_group(requested)?;
        // A connection belongs to one group: a repeated bind (after a bind_nak) moves it.
        if let Some(old) = self.group.replace(joined) {
            self.shared.leave_group(old);
        }
        Some(joined)
    }

    fn security_provider(&mut self, auth_type: AuthType) -> Option<Box<dyn SecurityProvider>> {
        self.shared.security.as_ref().and_then(|f| f(auth_type))
    }
}

impl ConnEnv {
    fn leave(&mut self) {
        if let Some(g) = self.group.take() {
            self.shared.leave_group(g);
        }
    }
}

type CallResult = Result<Vec<u8>, CallFault>;

/// How a call failed: its fault status, whether the service never ran
/// (`PFC_DID_NOT_EXECUTE`), and what the dispatcher said (for the observer).
#[derive(Debug)]
struct CallFault {
    status: FaultStatus,
    not_executed: bool,
    detail: Option<String>,
}

impl CallFault {
    fn executed(status: FaultStatus) -> Self {
        CallFault {
            status,
            not_executed: false,
            detail: None,
        }
    }
}

struct Conn {
    shared: Arc<Shared>,
    conn_id: u64,
    peer: PeerAddr,
    peer_text: Arc<str>,
    /// The socket's own address (what the client dialled), for TCP.
    dialled: Option<std::net::SocketAddr>,
    sm: ServerConnection,
    env: ConnEnv,
    out: WriteQueue,
    tasks: JoinSet<CallResult>,
    task_calls: FxHashMap<Id, u32>,
    call_tasks: FxHashMap<u32, AbortHandle>,
    close_reason: Option<&'static str>,
    /// Per outstanding call, what [`ConnEvent::CallDone`] reports (only with an observer).
    /// A short list (at most `max_outstanding_calls`, usually one): searched, not hashed.
    call_meta: Vec<(u32, CallMeta)>,
    /// PDUs received and sent, not yet reported.
    pdus: (u64, u64),
}

/// What the runtime remembers of a dispatched call for [`ConnEvent::CallDone`].
struct CallMeta {
    interface: SyntaxId,
    opnum: u16,
    drep: msrpc_ndr::DataRep,
    transfer_syntax: msrpc_ndr::TransferSyntax,
    request: Vec<u8>,
    stub_in: usize,
    started: Instant,
    fragments: u32,
    auth_level: Option<msrpc_proto::pdu::AuthLevel>,
    user: Option<String>,
}

/// Runs one accepted connection (its read and write halves) to its end. Calls on a Unix
/// domain socket peer are marked [`CallContext::local`]; `dialled` is the TCP socket's own
/// address ([`CallContext::local_addr`]).
pub(crate) async fn run<R, W>(
    rd: R,
    wr: W,
    peer: PeerAddr,
    local: Arc<LocalAddr>,
    dialled: Option<std::net::SocketAddr>,
    slot: ConnSlot,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let shared = slot.0.clone();
    let conn_id = shared.next_conn_id();
    shared.observe(&ConnEvent::Opened {
        conn_id,
        peer,
        local: &local,
    });
    tracing::debug!(conn_id, %peer, %local, "connection opened");
    let limits = &shared.limits;
    let config = ServerConfig {
        max_xmit_frag: limits.max_xmit_frag,
        max_recv_frag: limits.max_recv_frag,
        max_stub: limits.max_stub,
        max_outstanding_calls: limits.max_outstanding_calls,
        max_contexts: limits.max_contexts,
        max_auth_contexts: limits.max_auth_contexts,
        transfer_preference: shared.transfer_preference,
        sec_addr: match &*local {
            LocalAddr::Tcp(a) => a.port().to_string(),
            LocalAddr::Unix(p) => p.display().to_string(),
        },
        ..ServerConfig::default()
    };
    let mut wr = wr;
    let mut conn = Conn {
        shared: shared.clone(),
        conn_id,
        peer,
        peer_text: peer.to_string().into(),
        dialled,
        sm: ServerConnection::new(config),
        env: ConnEnv {
            shared: shared.clone(),
            group: None,
        },
        out: WriteQueue::default(),
        tasks: JoinSet::new(),
        task_calls: FxHashMap::default(),
        call_tasks: FxHashMap::default(),
        close_reason: None,
        call_meta: Vec::new(),
        pdus: (0, 0),
    };
    let (reason, flush) = conn.drive(rd, &mut wr).await;
    conn.report_pdus();
    // Calls whose connection is gone are cancelled (dropped at their next await) before the
    // association group is left, so none of them can create a handle after its rundown.
    conn.tasks.shutdown().await;
    let Conn { out, mut env, .. } = conn;
    if flush {
        // Best effort: what is queued (a last fault, a shutdown PDU), then the write side.
        let _ = tokio::time::timeout(shared.limits.send_timeout, async {
            wr.write_all(out.pending()).await?;
            wr.shutdown().await
        })
        .await;
    }
    drop(out);
    drop(wr);
    env.leave();
    tracing::debug!(conn_id, %peer, %reason, "connection closed");
    shared.observe(&ConnEvent::Closed {
        conn_id,
        peer,
        reason: &reason,
    });
    drop(slot);
}

impl Conn {
    /// The connection's main loop: reads, runs calls, and writes their responses itself (no
    /// writer task: queued fragments go out in one write as soon as the socket takes them).
    /// Returns why it ended and whether what is still queued should be flushed.
    async fn drive<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
        &mut self,
        mut rd: R,
        wr: &mut W,
    ) -> (Cow<'static, str>, bool) {
        let limits = self.shared.limits.clone();
        let mut state = self.shared.state.subscribe();
        let mut draining = *state.borrow_and_update() != RunState::Running;
        // One wait for the server's next state for many loop turns (a new `changed()` per turn
        // would register with the watch and deregister again for every call).
        let mut next_state = Box::pin(watch_next(state));
        let mut buf = vec![0u8; READ_BUF_START];
        let mut last_activity = Instant::now();
        let mut tracker = FragTracker::default();
        let mut frag_started: Option<(Instant, u64)> = None;
        // Since when queued bytes have waited without the socket taking any.
        let mut write_stalled: Option<Instant> = None;
        // Stop reading while this much waits to be written (a peer that sends requests and
        // does not read the answers); one largest response never stops it.
        let high_water = limits.max_stub.saturating_mul(2).max(1 << 20);
        // One idle timer for the connection's life: when it fires, it is moved to the latest
        // activity's deadline (cheaper than a new timer per loop turn).
        let idle_sleep = tokio::time::sleep_until(deadline(last_activity, limits.idle_timeout));
        tokio::pin!(idle_sleep);
        loop {
            // Output comes from a read or a finished task, which count as activity already.
            self.flush();
            // Received and sent together: a call answered at once costs one event.
            self.report_pdus();
            if self.sm.wants_close() {
                let reason = self.close_reason.unwrap_or("closed_by_protocol");
                return (Cow::Borrowed(reason), true);
            }
            if draining && self.tasks.is_empty() {
                self.send_shutdown();
                return (Cow::Borrowed("server_shutdown"), true);
            }
            // Write what the socket takes now; only the rest waits in the select below.
            if let Err(e) = self.out.write_now(wr) {
                return (Cow::Owned(format!("write failed: {e}")), false);
            }
            let writing = !self.out.is_empty();
            if !writing {
                write_stalled = None;
            } else if write_stalled.is_none() {
                write_stalled = Some(Instant::now());
            }
            let send_deadline = write_stalled.map(|t| deadline(t, limits.send_timeout));
            let frag_deadline = frag_started.map(|(t, _)| deadline(t, limits.fragment_timeout));
            let backlogged = self.out.queued() > high_water;
            // Biased, the read first: while requests keep coming, a turn polls only the read
            // (a random order would poll the run-state watch and the timers too, ~500
            // instructions per call); the others are polled whenever the read waits, and
            // tokio's cooperative budget makes it wait at least every 128 reads.
            tokio::select! {
                biased;
                r = rd.read(&mut buf), if !draining && !backlogged => match r {
                    // A peer that leaves inside a fragment sent a frag_length beyond its data.
                    Ok(0) if tracker.mid_fragment() => {
                        return (Cow::Borrowed("peer_closed_mid_fragment"), false)
                    }
                    Ok(0) => return (Cow::Borrowed("peer_closed"), false),
                    Ok(n) => {
                        if n == buf.len() && buf.len() < READ_BUF {
                            // More is probably waiting: read bigger chunks from now on.
                            let grown = (buf.len() * 2).min(READ_BUF);
                            let mut bigger = vec![0u8; grown];
                            if let (Some(dst), Some(src)) = (bigger.get_mut(..n), buf.get(..n)) {
                                dst.copy_from_slice(src);
                            }
                            buf = bigger;
                        }
                        let data = buf.get(..n).unwrap_or_default();
                        last_activity = Instant::now();
                        let before = tracker.completed();
                        tracker.feed(data);
                        self.count_pdus(tracker.completed().wrapping_sub(before), 0);
                        frag_started = match (tracker.mid_fragment(), frag_started) {
                            (false, _) => None,
                            // Still inside the fragment that was already timed.
                            (true, Some((t, done))) if done == tracker.completed() => Some((t, done)),
                            (true, _) => Some((last_activity, tracker.completed())),
                        };
                        let events = self.sm.receive(data, &mut self.env);
                        for ev in events {
                            self.on_event(ev);
                        }
                    }
                    Err(e) => return (Cow::Owned(format!("read failed: {e}")), false),
                },
                r = wr.write(self.out.pending()), if writing => match r {
                    Ok(0) => return (Cow::Borrowed("write failed: the socket took no byte"), false),
                    Ok(n) => {
                        self.out.advance(n);
                        last_activity = Instant::now();
                        write_stalled = None;
                    }
                    Err(e) => return (Cow::Owned(format!("write failed: {e}")), false),
                },
                Some(r) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    last_activity = Instant::now();
                    let (id, result) = match r {
                        Ok((id, result)) => (id, result),
                        Err(e) if e.is_panic() => {
                            tracing::error!(conn_id = self.conn_id, "a service call panicked");
                            (e.id(), Err(CallFault::executed(FaultStatus::NCA_S_FAULT_UNSPEC)))
                        }
                        Err(e) => (e.id(), Err(CallFault::executed(FaultStatus::RPC_S_CALL_CANCELLED))),
                    };
                    if let Some(call_id) = self.task_calls.remove(&id) {
                        self.call_tasks.remove(&call_id);
                        self.call_done(call_id, &result);
                        self.answer(call_id, result);
                    }
                }
                (now, rx) = &mut next_state => {
                    next_state = Box::pin(watch_next(rx));
                    match now {
                        RunState::Running => {}
                        RunState::Draining => draining = true,
                        RunState::Abort => return (Cow::Borrowed("server_abort"), false),
                    }
                }
                _ = sleep_until_opt(send_deadline), if send_deadline.is_some() => {
                    return (Cow::Borrowed("write failed: send timed out (the peer does not read)"), false);
                }
                () = &mut idle_sleep => {
                    let now = Instant::now();
                    let due = deadline(last_activity, limits.idle_timeout);
                    if due <= now {
                        if self.tasks.is_empty() {
                            return (Cow::Borrowed("idle_timeout"), false);
                        }
                        last_activity = now;
                    }
                    idle_sleep.as_mut().reset(deadline(last_activity, limits.idle_timeout));
                }
                _ = sleep_until_opt(frag_deadline), if frag_deadline.is_some() => {
                    tracing::info!(conn_id = self.conn_id, peer = %self.peer, "fragment not completed in time");
                    return (Cow::Borrowed("fragment_timeout"), false);
                }
            }
        }
    }

    /// Removes and returns what was kept of call `call_id` for the observer.
    fn take_meta(&mut self, call_id: u32) -> Option<CallMeta> {
        let i = self.call_meta.iter().position(|(id, _)| *id == call_id)?;
        let meta = self.call_meta.swap_remove(i).1;
        if self.call_meta.is_empty() && self.call_meta.capacity() > 8 {
            self.call_meta = Vec::new();
        }
        Some(meta)
    }

    /// Sends a finished call's response or fault.
    fn answer(&mut self, call_id: u32, result: CallResult) {
        match result {
            Ok(stub) => self.sm.respond(call_id, Ok(stub)),
            Err(f) if f.not_executed => self.sm.respond_not_executed(call_id, f.status),
            Err(f) => self.sm.respond(call_id, Err(f.status)),
        }
    }

    /// Reports a finished call to the observer (when one is installed).
    fn call_done(&mut self, call_id: u32, result: &CallResult) {
        let Some(meta) = self.take_meta(call_id) else {
            return;
        };
        self.shared.observe(&ConnEvent::CallDone {
            conn_id: self.conn_id,
            peer: self.peer,
            call_id,
            interface: meta.interface,
            opnum: meta.opnum,
            drep: meta.drep,
            transfer_syntax: meta.transfer_syntax,
            request: &meta.request,
            stub_in: meta.stub_in,
            response: result.as_deref().map_err(|f| f.status),
            duration: meta.started.elapsed(),
            fragments: meta.fragments,
            auth_level: meta.auth_level,
            user: meta.user.as_deref(),
            error: result.as_ref().err().and_then(|f| f.detail.as_deref()),
        });
    }

    /// Queues every fragment the state machine has for writing; true if there was any.
    fn flush(&mut self) -> bool {
        let mut sent = 0u64;
        while let Some(frame) = self.sm.poll_transmit() {
            sent += 1;
            self.out.send(frame);
        }
        self.count_pdus(0, sent);
        sent > 0
    }

    /// Counts PDUs (fragments) received and sent, for the next [`report_pdus`](Self::report_pdus).
    fn count_pdus(&mut self, received: u64, sent: u64) {
        self.pdus.0 = self.pdus.0.wrapping_add(received);
        self.pdus.1 = self.pdus.1.wrapping_add(sent);
    }

    /// Reports the PDUs counted since the last report to the observer, in one event (a call
    /// answered at once: its request and its response together).
    fn report_pdus(&mut self) {
        let (received, sent) = std::mem::take(&mut self.pdus);
        if received > 0 || sent > 0 {
            self.shared.observe(&ConnEvent::Pdus {
                conn_id: self.conn_id,
                received,
                sent,
            });
        }
    }

    /// Asks the client to close the association (C706 `shutdown` PDU) before we do.
    fn send_shutdown(&mut self) {
        let pdu = Pdu {
            header: Header::new(PacketType::SHUTDOWN, PfcFlags::FIRST_AND_LAST, 0),
            body: Body::Shutdown,
            auth: None,
        };
        if let Ok(bytes) = pdu.encode() {
            self.out.send(bytes);
            self.count_pdus(0, 1);
        }
    }

    fn on_event(&mut self, ev: ServerEvent) {
        self.shared.observe(&ConnEvent::Event {
            conn_id: self.conn_id,
            peer: self.peer,
            event: &ev,
        });
        let conn_id = self.conn_id;
        match ev {
            ServerEvent::Call(call) => self.spawn_call(call),
            ServerEvent::Orphaned { call_id } => {
                tracing::debug!(conn_id, call_id, "call orphaned by the client: cancelling");
                if let Some(h) = self.call_tasks.get(&call_id) {
                    h.abort();
                }
                self.take_meta(call_id);
            }
            ServerEvent::Cancel { call_id } => {
                tracing::debug!(conn_id, call_id, "co_cancel (the call runs to completion)");
            }
            ServerEvent::Anomaly {
                call_id,
                reason,
                detail,
            } => {
                tracing::info!(conn_id, peer = %self.peer, call_id, reason, %detail, "suspicious request");
            }
            ServerEvent::ProtocolError { reason, detail } => {
                tracing::info!(conn_id, peer = %self.peer, reason, %detail, "protocol error");
                self.close_reason = Some(reason);
            }
            ServerEvent::Refused {
                call_id,
                status,
                reason,
            } => {
                tracing::debug!(conn_id, call_id, %status, reason, "request refused");
                if self.sm.wants_close() {
                    self.close_reason = Some(reason);
                }
            }
            ServerEvent::BindRejected { reason } => {
                tracing::debug!(conn_id, ?reason, "bind rejected");
            }
            ServerEvent::Bound {
                kind,
                assoc_group_id,
                ..
            } => {
                tracing::debug!(conn_id, ?kind, assoc_group_id, "bound");
            }
            ServerEvent::Authenticated {
                auth_type,
                level,
                user,
                error,
            } => {
                tracing::info!(conn_id, ?auth_type, ?level, ?user, ?error, "authentication");
            }
        }
    }

    fn spawn_call(&mut self, call: IncomingCall) {
        let IncomingCall {
            call_id,
            context_id,
            interface,
            opnum,
            object,
            stub,
            drep,
            transfer_syntax,
            auth,
            fragments,
            ..
        } = call;
        let (auth_level, user) = match (&auth, self.shared.observer.is_some()) {
            (Some(a), true) => (Some(a.level), a.user.clone()),
            _ => (None, None),
        };
        let ctx = CallContext {
            call_id,
            context_id,
            opnum,
            object,
            conn_id: self.conn_id,
            local_addr: self.dialled,
            assoc_group_id: self.sm.assoc_group_id(),
            auth,
            peer: Some(self.peer_text.clone()),
            local: self.peer.is_local(),
        };
        if !self.policy_permits(&ctx, interface) {
            return;
        }
        if self.shared.observer.is_some() {
            let request = if self.shared.call_done_stubs.contains(&interface.uuid) {
                stub.get(..stub.len().min(crate::server::CALL_DONE_STUB_MAX))
                    .unwrap_or_default()
                    .to_vec()
            } else {
                Vec::new()
            };
            self.take_meta(call_id);
            self.call_meta.push((
                call_id,
                CallMeta {
                    interface,
                    opnum,
                    drep,
                    transfer_syntax,
                    request,
                    stub_in: stub.len(),
                    started: Instant::now(),
                    fragments,
                    auth_level,
                    user,
                },
            ));
        }
        let service = self.shared.service(&interface);
        let limits = self.shared.limits.decode;
        let conn_id = self.conn_id;
        let mut call: Pin<Box<dyn Future<Output = CallResult> + Send>> = Box::pin(async move {
            let Some(service) = service else {
                return Err(CallFault {
                    status: FaultStatus::NCA_S_UNK_IF,
                    not_executed: true,
                    detail: None,
                });
            };
            let name = service.name();
            service
                .dispatch_in(ctx, stub, drep, transfer_syntax, limits)
                .await
                .map_err(|e| {
                    tracing::debug!(conn_id, call_id, interface = name, opnum, error = %e, "call failed");
                    CallFault {
                        status: e.status(),
                        not_executed: e.before_execution(),
                        // Service faults are the service's answer; the others say why.
                        detail: (!matches!(e, DispatchError::Fault(_))).then(|| e.to_string()),
                    }
                })
        });
        // Most calls finish without waiting (the endpoint mapper, mgmt, small echoes): poll
        // once here and answer at once, sparing a task and two wake-ups. A call that has to
        // wait becomes a task (a future must register the waker of its latest poll, so the
        // task's first poll replaces the no-op waker of this one).
        let mut cx = Context::from_waker(Waker::noop());
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| call.as_mut().poll(&mut cx)));
        let ready = match polled {
            Ok(Poll::Pending) => None,
            Ok(Poll::Ready(result)) => Some(result),
            Err(_) => {
                tracing::error!(conn_id, "a service call panicked");
                Some(Err(CallFault::executed(FaultStatus::NCA_S_FAULT_UNSPEC)))
            }
        };
        if let Some(result) = ready {
            self.call_done(call_id, &result);
            self.answer(call_id, result);
            return;
        }
        let handle = self.tasks.spawn(call);
        self.task_calls.insert(handle.id(), call_id);
        self.call_tasks.insert(call_id, handle);
    }
}

impl Conn {
    /// Consults the server's policy for a call about to be dispatched; a refused call is
    /// answered with its fault here. Refusals and audit matches are reported and logged.
    fn policy_permits(&mut self, ctx: &CallContext, interface: SyntaxId) -> bool {
        let Some(policy) = &self.shared.policy else {
            return true;
        };
        let caller = CallerInfo {
            interface,
            opnum: ctx.opnum,
            remote: self.peer.tcp().map(|a| a.ip().to_canonical()),
            local: ctx.local,
            auth: ctx.auth.as_ref(),
        };
        let verdict = policy.check(&caller);
        let user = caller.user();
        if verdict.refusal.is_none() && verdict.audits.is_empty() {
            return true;
        }
        let conn_id = self.conn_id;
        let call_id = ctx.call_id;
        let audits = verdict
            .audits
            .iter()
            .map(|a| &**a)
            .collect::<Vec<_>>()
            .join(",");
        match &verdict.refusal {
            Some(r) => tracing::info!(
                conn_id,
                call_id,
                peer = %self.peer,
                interface = %interface.uuid,
                opnum = ctx.opnum,
                user,
                level = %caller.level(),
                reason = r.reason.code(),
                rule = r.rule.as_deref(),
                status = %r.status,
                audits,
                "call refused by the security policy"
            ),
            None => tracing::info!(
                conn_id,
                call_id,
                peer = %self.peer,
                interface = %interface.uuid,
                opnum = ctx.opnum,
                user,
                level = %caller.level(),
                audits,
                "policy audit: call permitted"
            ),
        }
        self.shared.observe(&ConnEvent::PolicyDecision {
            conn_id,
            peer: self.peer,
            call_id,
            interface,
            opnum: ctx.opnum,
            user,
            verdict: &verdict,
        });
        match verdict.refusal {
            Some(r) => {
                self.sm.respond_not_executed(call_id, r.status);
                false
            }
            None => true,
        }
    }
}

/// The server's next run state (`Abort` when the server is gone), with the receiver back.
async fn watch_next(
    mut rx: tokio::sync::watch::Receiver<RunState>,
) -> (RunState, tokio::sync::watch::Receiver<RunState>) {
    let now = match rx.changed().await {
        Ok(()) => *rx.borrow_and_update(),
        Err(_) => RunState::Abort,
    };
    (now, rx)
}

/// `base + d`, saturating far in the future instead of overflowing.
fn deadline(base: Instant, d: std::time::Duration) -> Instant {
    base.checked_add(d)
        .or_else(|| base.checked_add(std::time::Duration::from_secs(30 * 86_400)))
        .unwrap_or(base)
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
