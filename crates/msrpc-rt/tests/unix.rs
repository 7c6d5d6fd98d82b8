//! The Unix domain socket channel: calls there are local (the EPM accepts `ept_insert`), the
//! socket file's mode, stale and live socket files, removal at shutdown, PDU counting, and
//! `Registration` (register, rundown on close, re-register after a daemon restart, stop).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::future::Future;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use msrpc_echo::{EchoService, RpcechoInterface, RpcechoServer};
use msrpc_epm::status::RPC_S_ACCESS_DENIED;
use msrpc_epm::{
    EndpointDb, EpmService, EptClient, EptEntry, EptInsertRequest, EptServer, NewEntry, Tower,
};
use msrpc_ndr::{Unique, Uuid};
use msrpc_proto::dispatch::Interface;
use msrpc_proto::pdu::SyntaxId;
use msrpc_proto::server::ServerEvent;
use msrpc_rt::registration::RegistrationOptions;
use msrpc_rt::{
    Client, ClientOptions, ConnEvent, Registration, RegistrationState, Server, StartError,
    TokioSleeper,
};

type Db = Arc<Mutex<EndpointDb>>;

async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("timed out")
}

/// Waits until `cond` holds (polling), at most 10 s.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not within 10 s: {what}");
}

fn entry(port: u16) -> NewEntry {
    let tower = Tower::ncacn_ip_tcp(
        RpcechoInterface::SYNTAX,
        SyntaxId::NDR20,
        Ipv4Addr::LOCALHOST,
        port,
    );
    NewEntry::new(Uuid::nil(), tower, "unix test")
}

fn ept_entry(port: u16) -> EptEntry {
    let e = entry(port);
    EptEntry {
        object: e.object,
        tower: Unique::new(e.tower.to_twr().unwrap()),
        annotation: e.annotation,
    }
}

fn insert_req(port: u16) -> EptInsertRequest {
    EptInsertRequest {
        num_ents: 1,
        entries: vec![ept_entry(port)],
        replace: 1,
    }
}

fn db_len(db: &Db) -> usize {
    db.lock().unwrap().len()
}

#[derive(Default)]
struct Seen {
    peers: Mutex<Vec<String>>,
    pdus_in: AtomicU64,
    pdus_out: AtomicU64,
}

async fn epm(path: &Path, db: Db, seen: Arc<Seen>) -> Result<Server, StartError> {
    Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .listen_unix(path)
        .service(EptServer::new(EpmService::new(db)))
        .observer(Arc::new(move |ev: &ConnEvent<'_>| match ev {
            ConnEvent::Event {
                event: ServerEvent::Call(_),
                peer,
                ..
            } => seen.peers.lock().unwrap().push(peer.to_string()),
            ConnEvent::Pdus { received, sent, .. } => {
                seen.pdus_in.fetch_add(*received, Ordering::Relaxed);
                seen.pdus_out.fetch_add(*sent, Ordering::Relaxed);
            }
            _ => {}
        }))
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_calls_are_local_and_run_down_on_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("epm.sock");
    let db: Db = Arc::default();
    let seen = Arc::new(Seen::default());
    let server = epm(&path, db.clone(), seen.clone()).await.unwrap();
    assert_eq!(server.unix_paths(), vec![path.clone()]);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o660, "{mode:o}");

    // Over TCP, ept_insert is refused.
    let tcp = Client::connect_addr(server.local_addrs()[0], ClientOptions::default())
        .await
        .unwrap();
    let r = bounded(EptClient::new(tcp.clone()).ept_insert(insert_req(1)))
        .await
        .unwrap();
    assert_eq!(r.status, RPC_S_ACCESS_DENIED);
    assert_eq!(db_len(&db), 0);

    // Over the socket it is local: accepted, owned by the connection's group.
    let local = bounded(Client::connect_unix(&path, ClientOptions::default()))
        .await
        .unwrap();
    assert_eq!(local.unix_path(), Some(path.as_path()));
    let r = bounded(EptClient::new(local.clone()).ept_insert(insert_req(2)))
        .await
        .unwrap();
    assert_eq!(r.status, 0);
    assert_eq!(db_len(&db), 1);
    let owner = db.lock().unwrap().iter().next().unwrap().owner();
    assert_eq!(owner, u64::from(local.assoc_group_id()));
    let peers = seen.peers.lock().unwrap().clone();
    assert_eq!(peers.len(), 2);
    assert_eq!(peers[1], format!("unix:{}", std::process::id()));
    assert!(
        seen.pdus_in.load(Ordering::Relaxed) >= 4,
        "bind + request twice"
    );
    assert!(seen.pdus_out.load(Ordering::Relaxed) >= 4);

    // Closing the connection runs the group down: the entry goes.
    local.close();
    bounded(local.closed()).await;
    eventually("entry removed", || db_len(&db) == 0).await;

    // A second server on the same path is refused while the first answers.
    let e = epm(&path, Arc::default(), Arc::default())
        .await
        .unwrap_err();
    assert!(matches!(e, StartError::UnixInUse { .. }), "{e}");

    // Shutdown removes the socket file.
    tcp.close();
    bounded(server.shutdown()).await;
    assert!(!path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_sockets_are_replaced_and_other_files_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("epm.sock");
    // A socket file nobody listens on (a crashed daemon's).
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let server = epm(&path, Arc::default(), Arc::default()).await.unwrap();
    let c = bounded(Client::connect_unix(&path, ClientOptions::default()))
        .await
        .unwrap();
    bounded(c.bind(&[msrpc_epm::EptInterface::SYNTAX]))
        .await
        .unwrap();
    c.close();
    bounded(server.shutdown()).await;

    // A regular file is never removed.
    let file = dir.path().join("not-a-socket");
    std::fs::write(&file, b"keep me").unwrap();
    let e = epm(&file, Arc::default(), Arc::default())
        .await
        .unwrap_err();
    assert!(matches!(e, StartError::BindUnix { .. }), "{e}");
    assert!(e.to_string().contains("not a socket"), "{e}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");

    // Connecting to nothing says which path.
    let e = Client::connect_unix(dir.path().join("nothing"), ClientOptions::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("nothing"), "{e}");
}

fn fast() -> RegistrationOptions {
    RegistrationOptions {
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        keepalive: Duration::from_millis(200),
        ..RegistrationOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_follows_the_daemon_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("epm.sock");

    // Started before the daemon: it keeps trying.
    let reg = Registration::start_with(&path, vec![entry(49999)], fast()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let st = reg.status();
    assert_eq!(st.state, RegistrationState::Connecting);
    assert!(st.last_error.is_some());

    let db1: Db = Arc::default();
    let d1 = epm(&path, db1.clone(), Arc::default()).await.unwrap();
    bounded(reg.wait_registered()).await;
    assert!(reg.is_registered());
    assert_eq!(reg.status().registrations, 1);
    assert_eq!(db_len(&db1), 1);
    // Keep-alive calls keep it registered.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(reg.status().registrations, 1);
    assert!(reg.is_registered());

    // The daemon restarts with an empty map: the registration comes back by itself.
    bounded(d1.shutdown()).await;
    let db2: Db = Arc::default();
    let d2 = epm(&path, db2.clone(), Arc::default()).await.unwrap();
    eventually("re-registered", || {
        reg.status().registrations == 2 && db_len(&db2) == 1
    })
    .await;
    let e = db2.lock().unwrap().iter().next().unwrap().clone();
    assert_eq!(e.annotation(), "unix test");
    assert_eq!(
        e.tower().binding_string().unwrap(),
        "ncacn_ip_tcp:127.0.0.1[49999]"
    );

    // stop(): ept_delete, then close.
    let sub = reg.subscribe();
    bounded(reg.stop()).await.unwrap();
    assert_eq!(sub.borrow().state, RegistrationState::Stopped);
    assert_eq!(db_len(&db2), 0);

    // Dropping a registration closes its connection: the daemon removes its entries.
    let reg = Registration::start_with(&path, vec![entry(49998)], fast()).unwrap();
    bounded(reg.wait_registered()).await;
    assert_eq!(db_len(&db2), 1);
    drop(reg);
    eventually("dropped registration removed", || db_len(&db2) == 0).await;
    bounded(d2.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_registers_its_own_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("epm.sock");
    let db: Db = Arc::default();
    let daemon = epm(&path, db.clone(), Arc::default()).await.unwrap();
    let echo = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .listen("[::1]:0".parse().unwrap())
        .service(RpcechoServer::new(EchoService::new(TokioSleeper)))
        .start()
        .await;
    // Hosts without IPv6 loopback: IPv4 alone.
    let echo = match echo {
        Ok(s) => s,
        Err(_) => Server::builder()
            .listen("127.0.0.1:0".parse().unwrap())
            .service(RpcechoServer::new(EchoService::new(TokioSleeper)))
            .start()
            .await
            .unwrap(),
    };
    let addrs = echo.local_addrs();
    if addrs.len() == 2 {
        // Port-0 endpoints share one port.
        assert_eq!(addrs[0].port(), addrs[1].port());
    }
    let entries = echo.epm_entries("echo");
    assert_eq!(entries.len(), 1, "one IPv4 endpoint, one interface");
    let reg = echo.register_with(&path, "echo").unwrap();
    bounded(reg.wait_registered()).await;
    let port = addrs[0].port();
    let listed: Vec<String> = db
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.tower().binding_string().unwrap())
        .collect();
    assert_eq!(listed, vec![format!("ncacn_ip_tcp:127.0.0.1[{port}]")]);
    bounded(reg.stop()).await.unwrap();
    bounded(echo.shutdown()).await;
    bounded(daemon.shutdown()).await;
}
