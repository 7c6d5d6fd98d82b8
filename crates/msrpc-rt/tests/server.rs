//! Server behaviour over loopback TCP: association groups shared across connections,
//! context-handle rundown (clean close, vanished client, mid-call), idle and slow-sender
//! timeouts, limits, graceful shutdown, dynamic port choice, client call timeouts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use msrpc_echo::*;
use msrpc_macros::interface;
use msrpc_ndr::ContextHandle;
use msrpc_proto::client::ClientConfig;
use msrpc_proto::dispatch::{CallContext, CallError, Interface, RpcFault};
use msrpc_proto::handles::HandleTable;
use msrpc_proto::pdu::{BindNakReason, FaultStatus};
use msrpc_proto::server::ServerEvent;
use msrpc_rt::{
    BindError, Client, ClientOptions, ConnEvent, Limits, Server, StartError, TokioSleeper,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// A tiny interface handing out context handles.
#[interface(uuid = "5e0b1c2a-6b1f-4c1e-9a55-1d2a8c3b4f60", version = "1.0")]
pub trait Handles {
    /// Creates a handle.
    #[opnum(0)]
    fn open(#[ndr(out)] handle: ContextHandle);
    /// Creates a handle, then waits `millis` before answering.
    #[opnum(1)]
    fn open_and_wait(#[ndr(in)] millis: u32, #[ndr(out)] handle: ContextHandle);
    /// Closes a handle.
    #[opnum(2)]
    fn close(#[ndr(in, out)] handle: ContextHandle);
    /// The caller's association group as the server sees it.
    #[opnum(3)]
    fn whoami(#[ndr(out)] assoc_group_id: u32);
    /// Panics (a bug in a service).
    #[opnum(4)]
    fn boom();
}

#[derive(Default)]
struct State {
    table: HandleTable<String>,
    rundowns: Mutex<Vec<(u32, usize)>>,
    opened: Notify,
    waits_completed: AtomicUsize,
    contexts: Mutex<Vec<CallContext>>,
}

#[derive(Clone, Default)]
struct HandleService(Arc<State>);

impl Handles for HandleService {
    async fn open(&self, ctx: &CallContext, _req: OpenRequest) -> Result<OpenResponse, RpcFault> {
        self.0.contexts.lock().unwrap().push(ctx.clone());
        let handle = self.0.table.create(ctx.assoc_group_id, "open".into())?;
        Ok(OpenResponse { handle })
    }

    async fn open_and_wait(
        &self,
        ctx: &CallContext,
        req: OpenAndWaitRequest,
    ) -> Result<OpenAndWaitResponse, RpcFault> {
        let handle = self.0.table.create(ctx.assoc_group_id, "wait".into())?;
        self.0.opened.notify_one();
        tokio::time::sleep(Duration::from_millis(u64::from(req.millis))).await;
        self.0.waits_completed.fetch_add(1, Ordering::SeqCst);
        Ok(OpenAndWaitResponse { handle })
    }

    async fn close(&self, ctx: &CallContext, req: CloseRequest) -> Result<CloseResponse, RpcFault> {
        self.0.table.close(ctx.assoc_group_id, &req.handle)?;
        Ok(CloseResponse {
            handle: ContextHandle::NULL,
        })
    }

    async fn whoami(
        &self,
        ctx: &CallContext,
        _req: WhoamiRequest,
    ) -> Result<WhoamiResponse, RpcFault> {
        Ok(WhoamiResponse {
            assoc_group_id: ctx.assoc_group_id,
        })
    }

    async fn boom(&self, _ctx: &CallContext, _req: BoomRequest) -> Result<BoomResponse, RpcFault> {
        panic!("boom (this panic is expected by the test)");
    }

    fn rundown(&self, assoc_group_id: u32) {
        let gone = self.0.table.rundown(assoc_group_id);
        self.0
            .rundowns
            .lock()
            .unwrap()
            .push((assoc_group_id, gone.len()));
    }
}

type Events = Arc<Mutex<Vec<String>>>;

async fn start(limits: Limits, svc: &HandleService) -> (Server, Events) {
    let events: Events = Arc::default();
    let e2 = events.clone();
    let server = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .service(HandlesServer::new(svc.clone()))
        .service(RpcechoServer::new(EchoService::new(TokioSleeper)))
        .limits(limits)
        .observer(Arc::new(move |ev: &ConnEvent<'_>| {
            let text = match ev {
                ConnEvent::Opened { .. } => "opened".to_string(),
                ConnEvent::Refused { reason, .. } => format!("refused:{reason}"),
                ConnEvent::Closed { reason, .. } => format!("closed:{reason}"),
                ConnEvent::Event { event, .. } => match event {
                    ServerEvent::Call(c) => format!("call:{}", c.opnum),
                    ServerEvent::Orphaned { .. } => "orphaned".into(),
                    ServerEvent::BindRejected { .. } => "bind_rejected".into(),
                    ServerEvent::Bound { .. } => "bound".into(),
                    other => format!("{other:?}"),
                },
                _ => "other".into(),
            };
            e2.lock().unwrap().push(text);
        }))
        .start()
        .await
        .unwrap();
    (server, events)
}

fn opts() -> ClientOptions {
    ClientOptions {
        call_timeout: Some(Duration::from_secs(20)),
        ..Default::default()
    }
}

async fn connect(server: &Server, opts: ClientOptions) -> Client {
    Client::connect_addr(server.local_addrs()[0], opts)
        .await
        .unwrap()
}

/// Polls `f` every 10 ms until it holds, failing after 10 s.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs `fut`, failing the test if it takes more than 10 s.
async fn bounded<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .expect("took more than 10 s")
}

fn has(events: &Events, what: &str) -> bool {
    events.lock().unwrap().iter().any(|e| e == what)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_connection_joins_the_association_group_and_unknown_groups_are_refused() {
    let svc = HandleService::default();
    let (server, events) = start(Limits::default(), &svc).await;
    let a = connect(&server, opts()).await;
    let ha = HandlesClient::new(a.clone());
    let group = ha.whoami(WhoamiRequest {}).await.unwrap().assoc_group_id;
    assert_ne!(group, 0);
    assert_eq!(a.assoc_group_id(), group);
    let h = ha.open(OpenRequest {}).await.unwrap().handle;

    // B joins A's group: it sees the group and may use A's handle.
    let mut o = opts();
    o.config = ClientConfig {
        assoc_group_id: group,
        ..Default::default()
    };
    let b = connect(&server, o).await;
    b.bind(&[HandlesInterface::SYNTAX]).await.unwrap();
    assert_eq!(b.assoc_group_id(), group);
    let hb = HandlesClient::new(b.clone());
    assert_eq!(
        hb.whoami(WhoamiRequest {}).await.unwrap().assoc_group_id,
        group
    );
    hb.close(CloseRequest { handle: h }).await.unwrap();
    assert_eq!(server.handle().assoc_groups(), 1);

    // A new connection gets a group of its own.
    let d = connect(&server, opts()).await;
    let hd = HandlesClient::new(d.clone());
    let other = hd.whoami(WhoamiRequest {}).await.unwrap().assoc_group_id;
    assert_ne!(other, group);
    assert_eq!(server.handle().assoc_groups(), 2);

    // An unknown group: bind_nak, and calls fail as not bound.
    let unknown = group.wrapping_add(0x5555).max(1);
    let mut o = opts();
    o.config.assoc_group_id = unknown;
    let c = connect(&server, o).await;
    let e = c.bind(&[HandlesInterface::SYNTAX]).await.unwrap_err();
    assert!(matches!(e, BindError::Nak(_)), "{e:?}");
    assert_eq!(e, BindError::Nak(BindNakReason::REASON_NOT_SPECIFIED));
    let e = HandlesClient::new(c.clone())
        .whoami(WhoamiRequest {})
        .await
        .unwrap_err();
    assert_eq!(e, CallError::NotBound(HandlesInterface::SYNTAX));
    assert!(has(&events, "bind_rejected"));

    // The CallContext carried the peer's address and the group.
    let ctx = svc.0.contexts.lock().unwrap()[0].clone();
    assert_eq!(
        ctx.peer.as_deref(),
        Some(a.local_addr().to_string().as_str())
    );
    assert_eq!(ctx.assoc_group_id, group);
    assert!(!ctx.local);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_service_call_becomes_a_fault() {
    let svc = HandleService::default();
    let (server, _) = start(Limits::default(), &svc).await;
    let h = HandlesClient::new(connect(&server, opts()).await);
    let e = h.boom(BoomRequest {}).await.unwrap_err();
    assert_eq!(e, CallError::Fault(FaultStatus::NCA_S_FAULT_UNSPEC));
    h.whoami(WhoamiRequest {}).await.unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rundown_runs_when_the_groups_last_connection_closes() {
    let svc = HandleService::default();
    let (server, _) = start(Limits::default(), &svc).await;
    let a = connect(&server, opts()).await;
    let ha = HandlesClient::new(a.clone());
    for _ in 0..3 {
        ha.open(OpenRequest {}).await.unwrap();
    }
    let group = a.assoc_group_id();
    let mut o = opts();
    o.config.assoc_group_id = group;
    let b = connect(&server, o).await;
    let hb = HandlesClient::new(b.clone());
    hb.open(OpenRequest {}).await.unwrap();
    assert_eq!(svc.0.table.len(), 4);

    // A goes: the group lives on in B, nothing is run down.
    drop(ha);
    drop(a);
    eventually("A's connection closed", || server.connections() == 1).await;
    assert!(svc.0.rundowns.lock().unwrap().is_empty());
    assert_eq!(svc.0.table.len(), 4);

    // B goes: the group ends and its four handles are run down.
    b.close();
    eventually("rundown", || !svc.0.rundowns.lock().unwrap().is_empty()).await;
    assert_eq!(*svc.0.rundowns.lock().unwrap(), vec![(group, 4)]);
    assert_eq!(svc.0.table.len(), 0);
    eventually("no connection", || server.connections() == 0).await;
    assert_eq!(server.handle().assoc_groups(), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_killed_mid_call_is_run_down_and_its_call_cancelled() {
    let svc = HandleService::default();
    let (server, events) = start(Limits::default(), &svc).await;
    let a = connect(&server, opts()).await;
    let ha = HandlesClient::new(a.clone());
    ha.open(OpenRequest {}).await.unwrap();
    let group = a.assoc_group_id();
    let opened = svc.0.opened.notified();
    let call = tokio::spawn(async move {
        ha.open_and_wait(OpenAndWaitRequest { millis: 60_000 })
            .await
    });
    bounded(opened).await;
    assert_eq!(svc.0.table.len(), 2);
    // Drop the socket under the outstanding call.
    a.close();
    let r = bounded(call).await.unwrap();
    assert!(matches!(r, Err(CallError::Transport(_))), "{r:?}");
    eventually("rundown", || !svc.0.rundowns.lock().unwrap().is_empty()).await;
    assert_eq!(*svc.0.rundowns.lock().unwrap(), vec![(group, 2)]);
    assert_eq!(svc.0.table.len(), 0);
    assert_eq!(svc.0.waits_completed.load(Ordering::SeqCst), 0);
    eventually("closed event", || has(&events, "closed:peer_closed")).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_socket_vanishing_mid_fragment_is_cleaned_up() {
    let svc = HandleService::default();
    let (server, _) = start(Limits::default(), &svc).await;
    let mut raw = TcpStream::connect(server.local_addrs()[0]).await.unwrap();
    // Half a bind header, then gone.
    raw.write_all(&[5, 0, 11, 3, 0x10, 0, 0, 0]).await.unwrap();
    eventually("connection counted", || server.connections() == 1).await;
    drop(raw);
    eventually("connection closed", || server.connections() == 0).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed() {
    let svc = HandleService::default();
    let limits = Limits {
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let (server, events) = start(limits, &svc).await;
    let a = connect(&server, opts()).await;
    let h = HandlesClient::new(a.clone());
    h.open(OpenRequest {}).await.unwrap();
    // A call longer than the idle timeout is not idleness.
    h.open_and_wait(OpenAndWaitRequest { millis: 700 })
        .await
        .unwrap();
    eventually("idle close", || a.is_closed()).await;
    assert!(has(&events, "closed:idle_timeout"));
    let e = h.whoami(WhoamiRequest {}).await.unwrap_err();
    assert!(matches!(e, CallError::Transport(_)), "{e:?}");
    eventually("rundown", || svc.0.table.is_empty()).await;
    // A raw connection that never sends a byte is closed too.
    let mut raw = TcpStream::connect(server.local_addrs()[0]).await.unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(bounded(raw.read(&mut buf)).await.unwrap(), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_sender_is_cut_off() {
    let svc = HandleService::default();
    let limits = Limits {
        idle_timeout: Duration::from_secs(60),
        fragment_timeout: Duration::from_millis(400),
        ..Limits::default()
    };
    let (server, events) = start(limits, &svc).await;
    let mut raw = TcpStream::connect(server.local_addrs()[0]).await.unwrap();
    // A bind header announcing 72 bytes, then a byte every 100 ms: never idle, never done.
    raw.write_all(&[5, 0, 11, 3, 0x10, 0, 0, 0, 72, 0, 0, 0, 1, 0, 0, 0])
        .await
        .unwrap();
    let trickle = async {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if raw.write_all(&[0]).await.is_err() {
                break;
            }
        }
    };
    bounded(trickle).await;
    eventually("fragment timeout", || {
        has(&events, "closed:fragment_timeout")
    })
    .await;
    assert_eq!(server.connections(), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_does_not_read_is_cut_off() {
    use msrpc_proto::client::{ClientConnection, ClientEvent};
    let svc = HandleService::default();
    let limits = Limits {
        send_timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let (server, events) = start(limits, &svc).await;
    let mut raw = TcpStream::connect(server.local_addrs()[0]).await.unwrap();
    let mut conn = ClientConnection::new(ClientConfig::default());
    conn.bind(&[RpcechoInterface::SYNTAX]).unwrap();
    while let Some(f) = conn.poll_transmit() {
        raw.write_all(&f).await.unwrap();
    }
    let mut buf = [0u8; 4096];
    let mut bound = false;
    while !bound {
        let n = bounded(raw.read(&mut buf)).await.unwrap();
        assert_ne!(n, 0);
        bound = conn
            .receive(&buf[..n])
            .unwrap()
            .iter()
            .any(|e| matches!(e, ClientEvent::Bound { .. }));
    }
    // Eight 4 MiB SourceData answers (more than the socket buffers hold), never read.
    let stub = SourceDataRequest { len: 4 << 20 }
        .to_stub(msrpc_ndr::DataRep::LITTLE_ENDIAN)
        .unwrap();
    for _ in 0..8 {
        conn.request(&RpcechoInterface::SYNTAX, 3, None, &stub)
            .unwrap();
    }
    while let Some(f) = conn.poll_transmit() {
        raw.write_all(&f).await.unwrap();
    }
    eventually("send timeout", || {
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| e.starts_with("closed:write failed"))
    })
    .await;
    eventually("connection gone", || server.connections() == 0).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_closed_at_once() {
    let svc = HandleService::default();
    let limits = Limits {
        max_connections: 2,
        ..Limits::default()
    };
    let (server, events) = start(limits, &svc).await;
    let a = connect(&server, opts()).await;
    let b = connect(&server, opts()).await;
    for c in [&a, &b] {
        HandlesClient::new(c.clone())
            .whoami(WhoamiRequest {})
            .await
            .unwrap();
    }
    let c = connect(&server, opts()).await;
    let e = HandlesClient::new(c.clone())
        .whoami(WhoamiRequest {})
        .await
        .unwrap_err();
    assert!(matches!(e, CallError::Transport(_)), "{e:?}");
    assert!(has(&events, "refused:too_many_connections"));
    a.close();
    eventually("a slot frees", || server.connections() == 1).await;
    let d = connect(&server, opts()).await;
    HandlesClient::new(d)
        .whoami(WhoamiRequest {})
        .await
        .unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outstanding_calls_per_connection_are_limited() {
    let svc = HandleService::default();
    let limits = Limits {
        max_outstanding_calls: 2,
        ..Limits::default()
    };
    let (server, events) = start(limits, &svc).await;
    let client = connect(&server, opts()).await;
    let echo = RpcechoClient::new(client.clone());
    echo.add_one(AddOneRequest { in_data: 1 }).await.unwrap();
    let mut sleeps = Vec::new();
    for _ in 0..2 {
        let e = RpcechoClient::new(client.clone());
        sleeps.push(tokio::spawn(async move {
            e.test_sleep(TestSleepRequest { seconds: 1 }).await
        }));
    }
    eventually("two sleeps dispatched", || {
        events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| *e == "call:6")
            .count()
            == 2
    })
    .await;
    let e = echo
        .add_one(AddOneRequest { in_data: 1 })
        .await
        .unwrap_err();
    assert_eq!(e, CallError::Fault(FaultStatus::NCA_S_SERVER_TOO_BUSY));
    for s in sleeps {
        assert_eq!(s.await.unwrap().unwrap().result, 1);
    }
    echo.add_one(AddOneRequest { in_data: 1 }).await.unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_times_out_is_orphaned_and_the_connection_goes_on() {
    let svc = HandleService::default();
    let (server, events) = start(Limits::default(), &svc).await;
    let client = connect(
        &server,
        ClientOptions {
            call_timeout: Some(Duration::from_millis(300)),
            ..Default::default()
        },
    )
    .await;
    let echo = RpcechoClient::new(client.clone());
    let e = echo
        .test_sleep(TestSleepRequest { seconds: 30 })
        .await
        .unwrap_err();
    assert_eq!(e, CallError::Timeout);
    eventually("orphaned", || has(&events, "orphaned")).await;
    assert_eq!(
        echo.add_one(AddOneRequest { in_data: 7 })
            .await
            .unwrap()
            .out_data,
        8
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_lets_calls_finish() {
    let svc = HandleService::default();
    let (server, events) = start(Limits::default(), &svc).await;
    let addr = server.local_addrs()[0];
    let client = connect(&server, opts()).await;
    let h = HandlesClient::new(client.clone());
    h.open(OpenRequest {}).await.unwrap();
    let opened = svc.0.opened.notified();
    let call = {
        let h = h.clone();
        tokio::spawn(async move { h.open_and_wait(OpenAndWaitRequest { millis: 500 }).await })
    };
    bounded(opened).await;
    let handle = server.handle();
    assert!(handle.is_running());
    bounded(server.shutdown()).await;
    assert!(!handle.is_running());
    // The call in progress completed and was answered.
    let r = call.await.unwrap();
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(svc.0.waits_completed.load(Ordering::SeqCst), 1);
    assert_eq!(handle.connections(), 0);
    assert!(has(&events, "closed:server_shutdown"));
    // The association ended: handles run down; no more connections accepted.
    assert!(svc.0.table.is_empty());
    eventually("client sees the close", || client.is_closed()).await;
    assert!(h.whoami(WhoamiRequest {}).await.is_err());
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cancels_calls_after_the_grace_period() {
    let svc = HandleService::default();
    let limits = Limits {
        shutdown_grace: Duration::from_millis(200),
        ..Limits::default()
    };
    let (server, events) = start(limits, &svc).await;
    let client = connect(&server, opts()).await;
    let h = HandlesClient::new(client.clone());
    let opened = svc.0.opened.notified();
    let call =
        tokio::spawn(async move { h.open_and_wait(OpenAndWaitRequest { millis: 60_000 }).await });
    bounded(opened).await;
    let handle = server.handle();
    bounded(handle.shutdown()).await;
    assert_eq!(handle.connections(), 0);
    let r = bounded(call).await.unwrap();
    assert!(matches!(r, Err(CallError::Transport(_))), "{r:?}");
    assert!(has(&events, "closed:server_abort"));
    assert!(svc.0.table.is_empty());
    assert_eq!(svc.0.waits_completed.load(Ordering::SeqCst), 0);
    // A second shutdown is harmless.
    bounded(handle.shutdown()).await;
}

/// A port `p` on 127.0.0.1 that is taken (by the returned listener) while `p + 1` is free.
fn taken_port_with_free_neighbour() -> (std::net::TcpListener, u16) {
    for _ in 0..50 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        if p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return (l, p);
        }
    }
    panic!("no port pair found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_ports_skip_ports_in_use() {
    let (_taken, p) = taken_port_with_free_neighbour();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    // Whichever end of the two-port range it starts at, it lands on the free one.
    for _ in 0..4 {
        let server = Server::builder()
            .listen(any)
            .dynamic_ports(p..=p + 1)
            .service(RpcechoServer::new(EchoService::new(TokioSleeper)))
            .start()
            .await
            .unwrap();
        assert_eq!(server.local_addrs()[0].port(), p + 1);
        let c = RpcechoClient::new(connect(&server, opts()).await);
        assert_eq!(
            c.add_one(AddOneRequest { in_data: 1 })
                .await
                .unwrap()
                .out_data,
            2
        );
        server.shutdown().await;
    }
    // A range with only taken ports, and an empty one.
    for range in [p..=p, std::ops::RangeInclusive::new(10, 9)] {
        let e = Server::builder()
            .listen(any)
            .dynamic_ports(range)
            .start()
            .await
            .unwrap_err();
        assert!(matches!(e, StartError::NoFreePort { .. }), "{e}");
    }
    // A fixed port in use is an error naming the address.
    let e = Server::builder()
        .listen(SocketAddr::from(([127, 0, 0, 1], p)))
        .start()
        .await
        .unwrap_err();
    assert!(matches!(e, StartError::Bind { .. }), "{e}");
    assert!(e.to_string().contains(&p.to_string()));
    assert!(matches!(
        Server::builder().start().await.unwrap_err(),
        StartError::NoEndpoint
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_range_is_used_for_port_zero() {
    let server = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .listen("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let addrs = server.local_addrs();
    assert_eq!(addrs.len(), 2);
    assert_ne!(addrs[0].port(), addrs[1].port());
    assert!(addrs.iter().all(|a| a.port() >= 49152));
    server.shutdown().await;
}
