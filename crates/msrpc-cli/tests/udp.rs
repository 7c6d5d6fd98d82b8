//! `msrpc dump`, `map` and `call` with `ncadg_ip_udp:` bindings against an in-process server
//! listening on UDP (127.0.6.41): the endpoint map walked over UDP, mgmt's interface list over
//! UDP, rpcecho calls (one and several fragments), a binding without a port resolved by
//! `ept_map` over UDP, and `--brute` refused (no binds over UDP).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::time::Duration;

use common::msrpc;
use msrpc_echo::{EchoService, RpcechoInterface, RpcechoServer};
use msrpc_epm::db::{EndpointDb, NewEntry, IN_PROCESS_OWNER_BASE};
use msrpc_epm::mgmt::{MgmtInterface, MgmtServer};
use msrpc_epm::mgmt_service::{MgmtService, MgmtStats};
use msrpc_epm::tower::Tower;
use msrpc_epm::{EpmService, EptInterface, EptServer, RpcIfId};
use msrpc_ndr::Uuid;
use msrpc_proto::dispatch::Interface;
use msrpc_proto::pdu::SyntaxId;
use msrpc_rt::{Server, TokioSleeper};

/// Starts EPM + rpcecho + mgmt on UDP 127.0.6.41 (a port of the system's choice), with
/// rpcecho's UDP tower registered; returns the address and a stopper.
fn start() -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let (tx, rx) = mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let db = Arc::new(Mutex::new(EndpointDb::new()));
            let ids: Vec<RpcIfId> = [
                EptInterface::SYNTAX,
                RpcechoInterface::SYNTAX,
                MgmtInterface::SYNTAX,
            ]
            .iter()
            .map(|s| RpcIfId {
                uuid: s.uuid,
                vers_major: s.major,
                vers_minor: s.minor,
            })
            .collect();
            let server = Server::builder()
                .listen_udp("127.0.6.41:0".parse().unwrap())
                .service(EptServer::new(EpmService::new(Arc::clone(&db))))
                .service(RpcechoServer::new(EchoService::new(TokioSleeper)))
                .service(MgmtServer::new(MgmtService::new(
                    Arc::new(RwLock::new(ids)),
                    MgmtStats::new(),
                )))
                .start()
                .await
                .unwrap();
            let addr = server.udp_addrs()[0];
            db.lock()
                .unwrap()
                .register(
                    IN_PROCESS_OWNER_BASE,
                    vec![NewEntry::new(
                        Uuid::nil(),
                        Tower::ncadg_ip_udp(
                            RpcechoInterface::SYNTAX,
                            SyntaxId::NDR20,
                            Ipv4Addr::new(127, 0, 6, 41),
                            addr.port(),
                        ),
                        "rpcecho over udp",
                    )],
                    false,
                )
                .unwrap();
            tx.send(addr).unwrap();
            let _ = stop_rx.await;
            server.shutdown().await;
        });
    });
    (rx.recv_timeout(Duration::from_secs(30)).unwrap(), stop_tx)
}

#[test]
fn dump_map_and_call_over_udp() {
    let (addr, stop) = start();
    let b = format!("ncadg_ip_udp:127.0.6.41[{}]", addr.port());

    let doc = msrpc(&["--json", "dump", &b]).expect_code(0).json();
    assert_eq!(doc["count"], 1, "{doc}");
    assert_eq!(doc["entries"][0]["annotation"], "rpcecho over udp", "{doc}");
    assert!(
        doc["entries"][0]["binding"]
            .as_str()
            .unwrap()
            .starts_with("ncadg_ip_udp:127.0.6.41["),
        "{doc}"
    );

    let doc = msrpc(&["--json", "map", &b]).expect_code(0).json();
    assert_eq!(doc["method"], "mgmt", "{doc}");
    let uuids: Vec<String> = doc["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["uuid"].as_str().unwrap().to_string())
        .collect();
    assert!(
        uuids.contains(&RpcechoInterface::SYNTAX.uuid.to_string()),
        "{doc}"
    );

    let r = msrpc(&["--json", "call", &b, "echo-add-one", "41"])
        .expect_code(0)
        .json();
    assert_eq!(r["out"], 42);
    let r = msrpc(&["--json", "call", &b, "echo-data", "--len", "5000"])
        .expect_code(0)
        .json();
    assert_eq!(r["identical"], true);
    let big = format!("ncadg_ip_udp:127.0.6.41[{},bigendian]", addr.port());
    let r = msrpc(&["--json", "call", &big, "echo-add-one", "1"])
        .expect_code(0)
        .json();
    assert_eq!(r["out"], 2);

    // Without a port: ept_map over UDP at --epm-port.
    let port = addr.port().to_string();
    let r = msrpc(&[
        "--json",
        "--epm-port",
        &port,
        "call",
        "ncadg_ip_udp:127.0.6.41",
        "echo-add-one",
        "6",
    ])
    .expect_code(0)
    .json();
    assert_eq!(r["out"], 7);

    let r = msrpc(&["map", &b, "--brute"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("ncadg_ip_udp"), "{}", r.stderr);
    let _ = stop.send(());
}
