//! Every rpcecho operation through `RpcechoClient<Client>` against `RpcechoServer` over real
//! loopback TCP, in both byte orders, with 1432-byte fragments so the larger calls are split;
//! big payloads; concurrent calls on several connections and on one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use msrpc_echo::*;
use msrpc_ndr::DataRep;
use msrpc_proto::client::ClientConfig;
use msrpc_proto::dispatch::{CallError, Interface, Invoke};
use msrpc_proto::pdu::FaultStatus;
use msrpc_proto::server::ServerEvent;
use msrpc_rt::{Binding, Client, ClientOptions, ConnEvent, Limits, Server, TokioSleeper};

/// (opnum, drep, fragments, peer) of every call the server saw.
type Seen = Arc<Mutex<Vec<(u16, DataRep, u32, Option<String>)>>>;

async fn server(limits: Limits) -> (Server, Seen) {
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let server = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .service(RpcechoServer::new(EchoService::new(TokioSleeper)))
        .limits(limits)
        .observer(Arc::new(move |ev: &ConnEvent<'_>| {
            if let ConnEvent::Event {
                event: ServerEvent::Call(c),
                peer,
                ..
            } = ev
            {
                s2.lock()
                    .unwrap()
                    .push((c.opnum, c.drep, c.fragments, Some(peer.to_string())));
            }
        }))
        .start()
        .await
        .unwrap();
    (server, seen)
}

fn small_frags() -> Limits {
    Limits {
        max_recv_frag: 1432,
        max_xmit_frag: 1432,
        ..Limits::default()
    }
}

fn opts(drep: DataRep) -> ClientOptions {
    opts_in(drep, true)
}

fn opts_in(drep: DataRep, offer_ndr64: bool) -> ClientOptions {
    ClientOptions {
        config: ClientConfig {
            drep,
            offer_ndr64,
            max_xmit_frag: 1432,
            max_recv_frag: 1432,
            ..Default::default()
        },
        call_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    }
}

async fn connect(server: &Server, drep: DataRep) -> Client {
    let addr = server.local_addrs()[0];
    let binding = Binding::parse(&format!("ncacn_ip_tcp:127.0.0.1[{}]", addr.port())).unwrap();
    Client::connect(&binding, opts(drep)).await.unwrap()
}

async fn every_operation(drep: DataRep) {
    every_operation_in(drep, true).await;
}

/// Every operation with a client offering NDR64 (our server, like 64-bit Windows, then
/// accepts NDR64) or NDR20 only.
async fn every_operation_in(drep: DataRep, offer_ndr64: bool) {
    let (server, seen) = server(small_frags()).await;
    let addr = server.local_addrs()[0];
    let binding = Binding::parse(&format!("ncacn_ip_tcp:127.0.0.1[{}]", addr.port())).unwrap();
    let client = Client::connect(&binding, opts_in(drep, offer_ndr64))
        .await
        .unwrap();
    assert_eq!(client.drep(), drep);
    let c = RpcechoClient::new(client.clone());

    // Every operation, checked against Samba's semantics; 10 000-byte payloads fragment.
    msrpc_echo::conformance::exercise(&c, 10_000, 0)
        .await
        .unwrap();
    let want = if offer_ndr64 {
        msrpc_ndr::TransferSyntax::Ndr64
    } else {
        msrpc_ndr::TransferSyntax::Ndr20
    };
    assert_eq!(client.transfer_for(&RpcechoInterface::SYNTAX), Some(want));

    // Unknown opnum and bad stub: the spec's faults, and the association survives.
    let syntax = RpcechoInterface::SYNTAX;
    let e = client
        .invoke(syntax, 10, None, vec![0; 4], drep)
        .await
        .unwrap_err();
    assert_eq!(e, CallError::Fault(FaultStatus::NCA_S_OP_RNG_ERROR));
    let stub = if drep == DataRep::LITTLE_ENDIAN {
        vec![5, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5]
    } else {
        vec![0, 0, 0, 5, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5]
    };
    let e = client
        .invoke(syntax, 1, None, stub, drep)
        .await
        .unwrap_err();
    assert_eq!(e, CallError::Fault(FaultStatus::RPC_X_BAD_STUB_DATA));
    assert_eq!(
        c.add_one(AddOneRequest { in_data: 1 })
            .await
            .unwrap()
            .out_data,
        2
    );

    // The server saw every operation, in the client's byte order, from the client's address,
    // and at least one request came in several fragments.
    let seen = seen.lock().unwrap().clone();
    let peer = client.local_addr().to_string();
    assert!(seen
        .iter()
        .all(|(_, d, _, p)| *d == drep && p.as_deref() == Some(peer.as_str())));
    let mut opnums: Vec<u16> = seen.iter().map(|s| s.0).collect();
    opnums.sort_unstable();
    opnums.dedup();
    assert_eq!(opnums, (0..=10).collect::<Vec<_>>());
    assert!(seen.iter().any(|s| s.2 > 1), "no request was fragmented");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_little_endian() {
    every_operation(DataRep::LITTLE_ENDIAN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_ndr20_only() {
    every_operation_in(DataRep::LITTLE_ENDIAN, false).await;
    every_operation_in(DataRep::BIG_ENDIAN, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_big_endian() {
    every_operation(DataRep::BIG_ENDIAN).await;
}

/// The `bigendian` option of a string binding (Samba's) makes `Client::connect` send
/// big-endian requests, whatever the options' configuration says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bigendian_binding_option() {
    let (server, seen) = server(Limits::default()).await;
    let port = server.local_addrs()[0].port();
    for (text, want) in [
        (
            format!("ncacn_ip_tcp:127.0.0.1[{port}]"),
            DataRep::LITTLE_ENDIAN,
        ),
        (
            format!("ncacn_ip_tcp:127.0.0.1[{port},bigendian]"),
            DataRep::BIG_ENDIAN,
        ),
    ] {
        seen.lock().unwrap().clear();
        let binding = Binding::parse(&text).unwrap();
        let client = Client::connect(&binding, opts(DataRep::LITTLE_ENDIAN))
            .await
            .unwrap();
        assert_eq!(client.drep(), want, "{text}");
        let c = RpcechoClient::new(client.clone());
        let r = c.add_one(AddOneRequest { in_data: 41 }).await.unwrap();
        assert_eq!(r.out_data, 42);
        let data: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let r = c
            .echo_data(EchoDataRequest {
                len: 3000,
                in_data: data.clone(),
            })
            .await
            .unwrap();
        assert_eq!(r.out_data, data);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2, "{text}");
        assert!(seen.iter().all(|s| s.1 == want), "{text}: {seen:?}");
        client.close();
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_payloads_are_fragmented_and_reassembled() {
    let (server, seen) = server(Limits::default()).await;
    for drep in [DataRep::LITTLE_ENDIAN, DataRep::BIG_ENDIAN] {
        let c = RpcechoClient::new(connect(&server, drep).await);
        // ~1 MiB each way in 1432-byte fragments.
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let r = c
            .echo_data(EchoDataRequest {
                len: data.len() as u32,
                in_data: data.clone(),
            })
            .await
            .unwrap();
        assert_eq!(r.out_data, data);
        // 3 MiB from the server.
        let r = c
            .source_data(SourceDataRequest { len: 3 << 20 })
            .await
            .unwrap();
        assert_eq!(r.data.len(), 3 << 20);
        assert!(r
            .data
            .iter()
            .enumerate()
            .all(|(i, b)| *b == (i & 0xff) as u8));
    }
    let max_frags = seen.lock().unwrap().iter().map(|s| s.2).max().unwrap();
    assert!(max_frags > 600, "1 MB in {max_frags} fragments");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_reassembly_cap_is_refused() {
    let (server, _) = server(Limits {
        max_stub: 64 * 1024,
        ..Limits::default()
    })
    .await;
    let c = RpcechoClient::new(connect(&server, DataRep::LITTLE_ENDIAN).await);
    let e = c
        .echo_data(EchoDataRequest {
            len: 100_000,
            in_data: vec![0; 100_000],
        })
        .await
        .unwrap_err();
    // The server faults (nca_s_proto_error) and closes the connection; depending on timing
    // the client sees the fault or the closed connection.
    assert!(
        matches!(
            e,
            CallError::Fault(FaultStatus::NCA_S_PROTO_ERROR) | CallError::Transport(_)
        ),
        "{e:?}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_on_eight_connections() {
    let (server, _) = server(Limits::default()).await;
    let mut tasks = Vec::new();
    let mut clients = Vec::new();
    for conn in 0..8u32 {
        let client = connect(&server, DataRep::LITTLE_ENDIAN).await;
        clients.push(client.clone());
        for k in 0..8u32 {
            let c = RpcechoClient::new(client.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..20u32 {
                    let v = conn * 10_000 + k * 100 + i;
                    let r = c.add_one(AddOneRequest { in_data: v }).await.unwrap();
                    assert_eq!(r.out_data, v + 1);
                }
                let data = vec![conn as u8; 5000];
                let r = c
                    .echo_data(EchoDataRequest {
                        len: 5000,
                        in_data: data.clone(),
                    })
                    .await
                    .unwrap();
                assert_eq!(r.out_data, data);
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(server.connections(), 8);
    assert_eq!(server.handle().assoc_groups(), 8);
    drop(clients);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_sleep_does_not_hold_up_other_calls_on_the_connection() {
    let (server, _) = server(Limits::default()).await;
    let client = connect(&server, DataRep::LITTLE_ENDIAN).await;
    let c = RpcechoClient::new(client.clone());
    c.add_one(AddOneRequest { in_data: 0 }).await.unwrap();
    let sleeper = {
        let c = RpcechoClient::new(client.clone());
        tokio::spawn(async move { c.test_sleep(TestSleepRequest { seconds: 2 }).await })
    };
    // Many calls outstanding at once on the same connection while TestSleep runs.
    let mut calls = Vec::new();
    for i in 0..32u32 {
        let c = RpcechoClient::new(client.clone());
        calls.push(tokio::spawn(async move {
            c.add_one(AddOneRequest { in_data: i })
                .await
                .unwrap()
                .out_data
        }));
    }
    for (i, t) in calls.into_iter().enumerate() {
        assert_eq!(t.await.unwrap(), i as u32 + 1);
    }
    assert!(
        !sleeper.is_finished(),
        "the sleeping call finished before the others"
    );
    assert_eq!(sleeper.await.unwrap().unwrap().result, 2);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_done_copies_request_stubs_only_for_named_interfaces() {
    // (request, stub_in, response) of every CallDone
    type Seen = Arc<Mutex<Vec<(Vec<u8>, usize, Vec<u8>)>>>;
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let server = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .service(RpcechoServer::new(EchoService::new(TokioSleeper)))
        .call_done_stubs([msrpc_ndr::Uuid::from_u128(1)])
        .observer(Arc::new(move |ev: &ConnEvent<'_>| {
            if let ConnEvent::CallDone {
                request,
                stub_in,
                response,
                ..
            } = ev
            {
                s2.lock().unwrap().push((
                    request.to_vec(),
                    *stub_in,
                    response.map(<[u8]>::to_vec).unwrap_or_default(),
                ));
            }
        }))
        .start()
        .await
        .unwrap();
    let client = connect(&server, DataRep::LITTLE_ENDIAN).await;
    let r = RpcechoClient::new(client.clone())
        .add_one(AddOneRequest { in_data: 7 })
        .await
        .unwrap();
    assert_eq!(r.out_data, 8);
    let seen = seen.lock().unwrap().clone();
    // rpcecho is not named: no request copy, but its length and the response are reported
    assert_eq!(seen, vec![(Vec::new(), 4, 8u32.to_le_bytes().to_vec())]);
    server.shutdown().await;
}

/// (call_id, opnum, drep, request, response or fault) of every `CallDone`.
type Done = Arc<Mutex<Vec<(u32, u16, DataRep, Vec<u8>, Result<Vec<u8>, FaultStatus>)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_done_reports_both_stubs_and_faults() {
    let done: Done = Arc::default();
    let d2 = done.clone();
    let errors: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let e2 = errors.clone();
    let server = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .service(RpcechoServer::new(EchoService::new(TokioSleeper)))
        .call_done_stubs([RpcechoInterface::SYNTAX.uuid])
        .observer(Arc::new(move |ev: &ConnEvent<'_>| {
            if let ConnEvent::CallDone {
                call_id,
                interface,
                opnum,
                drep,
                request,
                stub_in,
                response,
                error,
                ..
            } = ev
            {
                e2.lock().unwrap().push(error.map(str::to_string));
                assert_eq!(*interface, RpcechoInterface::SYNTAX);
                assert_eq!(*stub_in, request.len());
                d2.lock().unwrap().push((
                    *call_id,
                    *opnum,
                    *drep,
                    request.to_vec(),
                    response.map(<[u8]>::to_vec),
                ));
            }
        }))
        .start()
        .await
        .unwrap();
    for drep in [DataRep::LITTLE_ENDIAN, DataRep::BIG_ENDIAN] {
        let client = connect(&server, drep).await;
        let c = RpcechoClient::new(client.clone());
        let r = c.add_one(AddOneRequest { in_data: 41 }).await.unwrap();
        assert_eq!(r.out_data, 42);
        let e = client
            .invoke(RpcechoInterface::SYNTAX, 10, None, vec![0; 4], drep)
            .await
            .unwrap_err();
        assert_eq!(e, CallError::Fault(FaultStatus::NCA_S_OP_RNG_ERROR));
    }
    // EchoData (opnum 1) whose array is missing: the decoder's error reaches the observer.
    let client = connect(&server, DataRep::LITTLE_ENDIAN).await;
    let e = client
        .invoke(
            RpcechoInterface::SYNTAX,
            1,
            None,
            vec![5, 0, 0, 0],
            DataRep::LITTLE_ENDIAN,
        )
        .await
        .unwrap_err();
    assert_eq!(e, CallError::Fault(FaultStatus::RPC_X_BAD_STUB_DATA));
    let errors = errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 5, "{errors:?}");
    assert_eq!(errors[0], None, "a call that succeeded has no error");
    assert!(
        errors[1].as_deref().is_some_and(|e| e.contains("opnum 10")),
        "{errors:?}"
    );
    let bad_stub = errors[4].as_deref().unwrap_or_default();
    assert!(bad_stub.starts_with("bad stub data:"), "{bad_stub}");
    assert!(bad_stub.contains("in_data"), "no field path: {bad_stub}");
    let done = done.lock().unwrap().clone();
    assert_eq!(done.len(), 5, "{done:?}");
    let (_, op, drep, req, resp) = &done[0];
    assert_eq!((*op, *drep), (0, DataRep::LITTLE_ENDIAN));
    assert_eq!(req, &41u32.to_le_bytes());
    assert_eq!(resp.as_deref().unwrap(), &42u32.to_le_bytes());
    let (_, op, _, req, resp) = &done[1];
    assert_eq!(*op, 10);
    assert_eq!(req, &[0; 4]);
    assert_eq!(resp, &Err(FaultStatus::NCA_S_OP_RNG_ERROR));
    let (_, _, drep, req, resp) = &done[2];
    assert_eq!(*drep, DataRep::BIG_ENDIAN);
    assert_eq!(req, &41u32.to_be_bytes());
    assert_eq!(resp.as_deref().unwrap(), &42u32.to_be_bytes());
}
