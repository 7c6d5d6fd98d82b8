//! Connectionless RPC over real UDP sockets (`ncadg_ip_udp`, loopback 127.0.6.0/24): the
//! rpcecho conformance run in both byte orders with multi-fragment requests and responses,
//! a lost datagram recovered, a duplicated request executed once, a cancelled call, EPM
//! lookups and maps over UDP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use msrpc_echo::*;
use msrpc_epm::db::{EndpointDb, NewEntry};
use msrpc_epm::*;
use msrpc_ndr::{ContextHandle, DataRep, DecodeLimits, Unique, Uuid};
use msrpc_proto::cl::client::ClClientConfig;
use msrpc_proto::dispatch::{
    BoxFuture, CallContext, CallError, Dispatch, DispatchError, Interface,
};
use msrpc_proto::pdu::{FaultStatus, SyntaxId};
use msrpc_rt::{Server, TokioSleeper, UdpClient, UdpClientOptions};
use tokio::net::UdpSocket;

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("timed out")
}

/// rpcecho, counting the calls that reach it.
struct Counting {
    inner: RpcechoServer<EchoService<TokioSleeper>>,
    calls: Arc<AtomicUsize>,
}

impl Dispatch for Counting {
    fn syntax(&self) -> SyntaxId {
        self.inner.syntax()
    }
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn operation_name(&self, opnum: u16) -> Option<&'static str> {
        self.inner.operation_name(opnum)
    }
    fn dispatch<'a>(
        &'a self,
        ctx: CallContext,
        stub: Vec<u8>,
        drep: DataRep,
        limits: DecodeLimits,
    ) -> BoxFuture<'a, Result<Vec<u8>, DispatchError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.dispatch(ctx, stub, drep, limits)
    }
}

async fn echo_server(ip: &str) -> (Server, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = Server::builder()
        .listen_udp(format!("{ip}:0").parse().unwrap())
        .service(Counting {
            inner: RpcechoServer::new(EchoService::new(TokioSleeper)),
            calls: calls.clone(),
        })
        .start()
        .await
        .unwrap();
    (server, calls)
}

fn opts(drep: DataRep) -> UdpClientOptions {
    UdpClientOptions {
        config: ClClientConfig {
            drep,
            retransmit: Duration::from_millis(100),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpcecho_conformance_over_udp_in_both_byte_orders() {
    let (server, _) = echo_server("127.0.6.1").await;
    let addr = server.udp_addrs()[0];
    for drep in [DataRep::LITTLE_ENDIAN, DataRep::BIG_ENDIAN] {
        let c = RpcechoClient::new(UdpClient::new(addr, opts(drep)));
        // 6000 bytes: EchoData and SourceData go in five fragments each way.
        let r = bounded(msrpc_echo::conformance::exercise(&c, 6000, 0)).await;
        assert!(r.is_ok(), "{drep:?}: {r:?}");
    }
    server.shutdown().await;
}

/// A UDP relay between one client and the server that drops or duplicates chosen datagrams.
struct Shim {
    addr: SocketAddr,
    to_server: Arc<AtomicUsize>,
    to_client: Arc<AtomicUsize>,
}

async fn shim(
    server: SocketAddr,
    drop_to_server: Vec<usize>,
    dup_to_server: Vec<usize>,
    drop_to_client: Vec<usize>,
) -> Shim {
    let front = Arc::new(UdpSocket::bind("127.0.6.2:0").await.unwrap());
    let back = Arc::new(UdpSocket::bind("127.0.6.2:0").await.unwrap());
    back.connect(server).await.unwrap();
    let addr = front.local_addr().unwrap();
    let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
    let to_server = Arc::new(AtomicUsize::new(0));
    {
        let (front, back, client, n) = (
            front.clone(),
            back.clone(),
            client.clone(),
            to_server.clone(),
        );
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            loop {
                let (len, from) = front.recv_from(&mut buf).await.unwrap();
                *client.lock().unwrap() = Some(from);
                let i = n.fetch_add(1, Ordering::SeqCst);
                if drop_to_server.contains(&i) {
                    continue;
                }
                back.send(&buf[..len]).await.unwrap();
                if dup_to_server.contains(&i) {
                    back.send(&buf[..len]).await.unwrap();
                }
            }
        });
    }
    let to_client = Arc::new(AtomicUsize::new(0));
    let n_back = to_client.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        loop {
            let len = back.recv(&mut buf).await.unwrap();
            if drop_to_client.contains(&n_back.fetch_add(1, Ordering::SeqCst)) {
                continue;
            }
            let to = *client.lock().unwrap();
            if let Some(to) = to {
                front.send_to(&buf[..len], to).await.unwrap();
            }
        }
    });
    Shim {
        addr,
        to_server,
        to_client,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_request_and_response_fragments_are_recovered() {
    let (server, calls) = echo_server("127.0.6.3").await;
    // Datagram 1 to the server is the second request fragment of the EchoData call; datagram
    // 3 to the client is a response fragment (after the callback and the first ones).
    let s = shim(server.udp_addrs()[0], vec![1], vec![], vec![3]).await;
    let c = RpcechoClient::new(UdpClient::new(s.addr, opts(DataRep::LITTLE_ENDIAN)));
    let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    let r = bounded(c.echo_data(EchoDataRequest {
        len: 5000,
        in_data: data.clone(),
    }))
    .await
    .unwrap();
    assert_eq!(r.out_data, data);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(
        s.to_server.load(Ordering::SeqCst) > 5,
        "the fragment went again"
    );
    // the callback, four response fragments, and the lost one again
    assert!(s.to_client.load(Ordering::SeqCst) >= 6);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicated_request_is_executed_once() {
    let (server, calls) = echo_server("127.0.6.4").await;
    // Every one of the first datagrams to the server arrives twice.
    let s = shim(server.udp_addrs()[0], vec![], (0..40).collect(), vec![]).await;
    let c = RpcechoClient::new(UdpClient::new(s.addr, opts(DataRep::LITTLE_ENDIAN)));
    for i in 0..3u32 {
        let r = bounded(c.add_one(AddOneRequest { in_data: i }))
            .await
            .unwrap();
        assert_eq!(r.out_data, i + 1);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_cancelled() {
    let (server, _) = echo_server("127.0.6.5").await;
    let c = UdpClient::new(server.udp_addrs()[0], opts(DataRep::LITTLE_ENDIAN));
    // TestSleep(30) cancelled after 500 ms.
    let r = bounded(c.call(
        RpcechoInterface::SYNTAX,
        6,
        None,
        30u32.to_le_bytes().to_vec(),
        Some(Duration::from_millis(500)),
    ))
    .await;
    assert_eq!(r, Err(CallError::Fault(FaultStatus::NCA_S_FAULT_CANCEL)));
    // an opnum out of range is a reject
    let r = bounded(c.call(RpcechoInterface::SYNTAX, 99, None, vec![], None)).await;
    assert_eq!(r, Err(CallError::Fault(FaultStatus::NCA_S_OP_RNG_ERROR)));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epm_lookup_and_map_over_udp() {
    let db = Arc::new(Mutex::new(EndpointDb::new()));
    db.lock()
        .unwrap()
        .register(
            1,
            vec![
                NewEntry::new(
                    Uuid::nil(),
                    Tower::ncadg_ip_udp(
                        RpcechoInterface::SYNTAX,
                        SyntaxId::NDR20,
                        Ipv4Addr::new(127, 0, 6, 6),
                        4000,
                    ),
                    "echo over udp",
                ),
                NewEntry::new(
                    Uuid::nil(),
                    Tower::ncacn_ip_tcp(
                        RpcechoInterface::SYNTAX,
                        SyntaxId::NDR20,
                        Ipv4Addr::new(127, 0, 6, 6),
                        4001,
                    ),
                    "echo over tcp",
                ),
            ],
            false,
        )
        .unwrap();
    let server = Server::builder()
        .listen_udp("127.0.6.6:0".parse().unwrap())
        .service(EptServer::new(EpmService::new(db)))
        .start()
        .await
        .unwrap();
    let c = EptClient::new(UdpClient::new(
        server.udp_addrs()[0],
        opts(DataRep::LITTLE_ENDIAN),
    ));
    let r = bounded(c.ept_lookup(EptLookupRequest {
        inquiry_type: 0,
        object: Unique::null(),
        interface_id: Unique::null(),
        vers_option: 1,
        entry_handle: ContextHandle::default(),
        max_ents: 10,
    }))
    .await
    .unwrap();
    assert_eq!(r.status, 0);
    assert_eq!(r.entries.len(), 2);
    let asked = Tower::ncadg_ip_udp(
        RpcechoInterface::SYNTAX,
        SyntaxId::NDR20,
        Ipv4Addr::UNSPECIFIED,
        0,
    );
    let r = bounded(c.ept_map(EptMapRequest {
        object: Unique::null(),
        map_tower: Unique::new(asked.to_twr().unwrap()),
        entry_handle: ContextHandle::default(),
        max_towers: 4,
    }))
    .await
    .unwrap();
    assert_eq!(r.status, 0);
    assert_eq!(r.towers.len(), 1);
    let t = Tower::from_twr(r.towers[0].get().unwrap()).unwrap();
    assert_eq!(
        t,
        Tower::ncadg_ip_udp(
            RpcechoInterface::SYNTAX,
            SyntaxId::NDR20,
            Ipv4Addr::new(127, 0, 6, 6),
            4000
        )
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_via_epm_over_udp() {
    let (echo, calls) = echo_server("127.0.6.7").await;
    let port = echo.udp_addrs()[0].port();
    let db = Arc::new(Mutex::new(EndpointDb::new()));
    db.lock()
        .unwrap()
        .register(
            1,
            vec![NewEntry::new(
                Uuid::nil(),
                Tower::ncadg_ip_udp(
                    RpcechoInterface::SYNTAX,
                    SyntaxId::NDR20,
                    Ipv4Addr::new(127, 0, 6, 7),
                    port,
                ),
                "echo",
            )],
            false,
        )
        .unwrap();
    let epm = Server::builder()
        .listen_udp("127.0.6.7:0".parse().unwrap())
        .service(EptServer::new(EpmService::new(db)))
        .start()
        .await
        .unwrap();
    let binding = msrpc_rt::Binding::parse(&format!(
        "ncadg_ip_udp:127.0.6.7[{}]",
        epm.udp_addrs()[0].port()
    ))
    .unwrap();
    assert_eq!(binding.protseq, msrpc_rt::Protseq::IpUdp);
    let c = bounded(UdpClient::connect_via_epm(
        "127.0.6.7",
        binding.port.unwrap(),
        RpcechoInterface::SYNTAX,
        opts(DataRep::LITTLE_ENDIAN),
    ))
    .await
    .unwrap();
    assert_eq!(c.server_addr().port(), port);
    let r = bounded(RpcechoClient::new(c).add_one(AddOneRequest { in_data: 1 }))
        .await
        .unwrap();
    assert_eq!(r.out_data, 2);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // A TCP client refuses a UDP binding.
    assert!(matches!(
        msrpc_rt::Client::connect(&binding, Default::default()).await,
        Err(msrpc_rt::ConnectError::Protseq(_))
    ));
    epm.shutdown().await;
    echo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_udp_port_fails_the_call_at_once() {
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::UdpSocket::bind("127.0.6.8:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = RpcechoClient::new(UdpClient::new(
        SocketAddr::from(([127, 0, 6, 8], port)),
        opts(DataRep::LITTLE_ENDIAN),
    ));
    // ICMP port unreachable ends the call with a transport error (not a timeout).
    let r = bounded(c.add_one(AddOneRequest { in_data: 1 })).await;
    assert!(
        matches!(r, Err(CallError::Transport(ref m)) if m.contains("nothing listens")),
        "{r:?}"
    );
}
