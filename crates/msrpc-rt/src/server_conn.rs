//! One server connection: a task that moves bytes between the socket and a
//! [`ServerConnection`], runs each call as its own task, and enforces the timeouts.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use msrpc_policy::CallerInfo;
use msrpc_proto::dispatch::CallContext;
use msrpc_proto::pdu::{AuthType, Body, FaultStatus, Header, PacketType, Pdu, PfcFlags, SyntaxId};
use msrpc_proto::security::SecurityProvider;
use msrpc_proto::server::{IncomingCall, ServerConfig, ServerConnection, ServerEnv, ServerEvent};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::task::{AbortHandle, Id, JoinSet};
use tokio::time::Instant;

use crate::addr::{LocalAddr, PeerAddr};
use crate::io::{spawn_writer, FragTracker, Outbox};
use crate::server::{ConnEvent, ConnSlot, RunState, Shared};

const READ_BUF: usize = 16 * 1024;

/// The [`ServerEnv`] of one connection: the server's registry plus the group it joined.
struct ConnEnv {
    shared: Arc<Shared>,
    group: Option<u32>,
}

impl ServerEnv for ConnEnv {
    fn lookup_interface(&self, abstract_syntax: &SyntaxId) -> Option<SyntaxId> {
        self.shared.lookup_interface(abstract_syntax)
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

type CallResult = Result<Vec<u8>, FaultStatus>;

struct Conn {
    shared: Arc<Shared>,
    conn_id: u64,
    peer: PeerAddr,
    peer_text: String,
    sm: ServerConnection,
    env: ConnEnv,
    out: Outbox,
    tasks: JoinSet<CallResult>,
    task_calls: HashMap<Id, u32>,
    call_tasks: HashMap<u32, AbortHandle>,
    close_reason: Option<&'static str>,
    /// Per outstanding call, what [`ConnEvent::CallDone`] reports (only with an observer).
    call_meta: HashMap<u32, CallMeta>,
}

/// What the runtime remembers of a dispatched call for [`ConnEvent::CallDone`].
struct CallMeta {
    interface: SyntaxId,
    opnum: u16,
    drep: msrpc_ndr::DataRep,
    request: Vec<u8>,
    stub_in: usize,
    started: Instant,
}

/// Runs one accepted connection (its read and write halves) to its end. Calls on a Unix
/// domain socket peer are marked [`CallContext::local`].
pub(crate) async fn run<R, W>(rd: R, wr: W, peer: PeerAddr, local: Arc<LocalAddr>, slot: ConnSlot)
where
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
        sec_addr: match &*local {
            LocalAddr::Tcp(a) => a.port().to_string(),
            LocalAddr::Unix(p) => p.display().to_string(),
        },
        ..ServerConfig::default()
    };
    let (out, writer) = spawn_writer(wr, limits.send_timeout);
    let mut conn = Conn {
        shared: shared.clone(),
        conn_id,
        peer,
        peer_text: peer.to_string(),
        sm: ServerConnection::new(config),
        env: ConnEnv {
            shared: shared.clone(),
            group: None,
        },
        out,
        tasks: JoinSet::new(),
        task_calls: HashMap::new(),
        call_tasks: HashMap::new(),
        close_reason: None,
        call_meta: HashMap::new(),
    };
    let (reason, flush) = conn.drive(rd, writer).await;
    // Calls whose connection is gone are cancelled (dropped at their next await) before the
    // association group is left, so none of them can create a handle after its rundown.
    conn.tasks.shutdown().await;
    let Conn { out, mut env, .. } = conn;
    drop(out);
    if let Some(writer) = flush {
        let _ = tokio::time::timeout(shared.limits.send_timeout, writer).await;
    }
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
    /// The connection's main loop. Returns why it ended and, when queued fragments should
    /// still be flushed, the writer task to wait for.
    async fn drive<R: AsyncRead + Unpin>(
        &mut self,
        mut rd: R,
        mut writer: tokio::task::JoinHandle<std::io::Result<()>>,
    ) -> (
        Cow<'static, str>,
        Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    ) {
        let limits = self.shared.limits.clone();
        let mut state = self.shared.state.subscribe();
        let mut draining = *state.borrow_and_update() != RunState::Running;
        let mut buf = vec![0u8; READ_BUF];
        let mut last_activity = Instant::now();
        let mut tracker = FragTracker::default();
        let mut frag_started: Option<(Instant, u64)> = None;
        // Stop reading while this much waits to be written (a peer that sends requests and
        // does not read the answers); one largest response never stops it.
        let high_water = limits.max_stub.saturating_mul(2).max(1 << 20);
        loop {
            if self.flush() {
                last_activity = Instant::now();
            }
            if self.sm.wants_close() {
                let reason = self.close_reason.unwrap_or("closed_by_protocol");
                return (Cow::Borrowed(reason), Some(writer));
            }
            if draining && self.tasks.is_empty() {
                self.send_shutdown();
                return (Cow::Borrowed("server_shutdown"), Some(writer));
            }
            let idle_deadline = deadline(last_activity, limits.idle_timeout);
            let frag_deadline = frag_started.map(|(t, _)| deadline(t, limits.fragment_timeout));
            let backlogged = self.out.queued() > high_water;
            tokio::select! {
                r = state.changed() => {
                    let now = if r.is_ok() { *state.borrow_and_update() } else { RunState::Abort };
                    match now {
                        RunState::Running => {}
                        RunState::Draining => draining = true,
                        RunState::Abort => return (Cow::Borrowed("server_abort"), None),
                    }
                }
                _ = self.out.drained(), if backlogged => {}
                r = rd.read(&mut buf), if !draining && !backlogged => match r {
                    // A peer that leaves inside a fragment sent a frag_length beyond its data.
                    Ok(0) if tracker.mid_fragment() => {
                        return (Cow::Borrowed("peer_closed_mid_fragment"), None)
                    }
                    Ok(0) => return (Cow::Borrowed("peer_closed"), None),
                    Ok(n) => {
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
                    Err(e) => return (Cow::Owned(format!("read failed: {e}")), None),
                },
                Some(r) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    last_activity = Instant::now();
                    let (id, result) = match r {
                        Ok((id, result)) => (id, result),
                        Err(e) if e.is_panic() => {
                            tracing::error!(conn_id = self.conn_id, "a service call panicked");
                            (e.id(), Err(FaultStatus::NCA_S_FAULT_UNSPEC))
                        }
                        Err(e) => (e.id(), Err(FaultStatus::RPC_S_CALL_CANCELLED)),
                    };
                    if let Some(call_id) = self.task_calls.remove(&id) {
                        self.call_tasks.remove(&call_id);
                        self.call_done(call_id, &result);
                        self.sm.respond(call_id, result);
                    }
                }
                _ = tokio::time::sleep_until(idle_deadline) => {
                    if self.tasks.is_empty() {
                        return (Cow::Borrowed("idle_timeout"), None);
                    }
                    last_activity = Instant::now();
                }
                _ = sleep_until_opt(frag_deadline), if frag_deadline.is_some() => {
                    tracing::info!(conn_id = self.conn_id, peer = %self.peer, "fragment not completed in time");
                    return (Cow::Borrowed("fragment_timeout"), None);
                }
                r = &mut writer => {
                    let reason = match r {
                        Ok(Ok(())) => "writer_ended".to_string(),
                        Ok(Err(e)) => format!("write failed: {e}"),
                        Err(e) => format!("writer task: {e}"),
                    };
                    return (Cow::Owned(reason), None);
                }
            }
        }
    }

    /// Reports a finished call to the observer (when one is installed).
    fn call_done(&mut self, call_id: u32, result: &CallResult) {
        let Some(meta) = self.call_meta.remove(&call_id) else {
            return;
        };
        self.shared.observe(&ConnEvent::CallDone {
            conn_id: self.conn_id,
            peer: self.peer,
            call_id,
            interface: meta.interface,
            opnum: meta.opnum,
            drep: meta.drep,
            request: &meta.request,
            stub_in: meta.stub_in,
            response: result.as_deref().map_err(|s| *s),
            duration: meta.started.elapsed(),
        });
    }

    /// Queues every fragment the state machine has for the writer; true if there was any.
    fn flush(&mut self) -> bool {
        let mut sent = 0u64;
        while let Some(frame) = self.sm.poll_transmit() {
            sent += 1;
            if !self.out.send(frame) {
                break;
            }
        }
        self.count_pdus(0, sent);
        sent > 0
    }

    /// Reports PDUs (fragments) received and sent to the observer.
    fn count_pdus(&self, received: u64, sent: u64) {
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
                self.call_meta.remove(&call_id);
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
            auth,
            ..
        } = call;
        let ctx = CallContext {
            call_id,
            context_id,
            opnum,
            object,
            assoc_group_id: self.sm.assoc_group_id(),
            auth,
            peer: Some(self.peer_text.clone()),
            local: self.peer.is_local(),
        };
        if !self.policy_permits(&ctx, interface) {
            return;
        }
        if self.shared.observer.is_some() {
            self.call_meta.insert(
                call_id,
                CallMeta {
                    interface,
                    opnum,
                    drep,
                    request: stub
                        .get(..stub.len().min(crate::server::CALL_DONE_STUB_MAX))
                        .unwrap_or_default()
                        .to_vec(),
                    stub_in: stub.len(),
                    started: Instant::now(),
                },
            );
        }
        let service = self.shared.service(&interface);
        let limits = self.shared.limits.decode;
        let conn_id = self.conn_id;
        let handle = self.tasks.spawn(async move {
            let Some(service) = service else {
                return Err(FaultStatus::NCA_S_UNK_IF);
            };
            let name = service.name();
            service
                .dispatch(ctx, stub, drep, limits)
                .await
                .map_err(|e| {
                    tracing::debug!(conn_id, call_id, interface = name, opnum, error = %e, "call failed");
                    e.status()
                })
        });
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
                self.sm.respond(call_id, Err(r.status));
                false
            }
            None => true,
        }
    }
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
