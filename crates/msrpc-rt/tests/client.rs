//! The client runtime against scripted servers (a sans-IO `ServerConnection` over a real
//! loopback socket, answering only what each test wants): a server that stops reading (the
//! send timeout ends the connection and fails every waiting call), a server that closes
//! mid-call, and many callers multiplexed on one connection while one of them times out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use msrpc_echo::*;
use msrpc_proto::dispatch::{CallError, Interface};
use msrpc_proto::pdu::{AuthType, SyntaxId};
use msrpc_proto::security::SecurityProvider;
use msrpc_proto::server::{ServerConfig, ServerConnection, ServerEnv, ServerEvent};
use msrpc_rt::{Client, ClientOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct Env;

impl ServerEnv for Env {
    fn lookup_interface(&self, a: &SyntaxId) -> Option<SyntaxId> {
        let echo = RpcechoInterface::SYNTAX;
        (a.uuid == echo.uuid && a.major == echo.major).then_some(echo)
    }
    fn assoc_group(&mut self, _requested: u32) -> Option<u32> {
        Some(0x7000)
    }
    fn security_provider(&mut self, _t: AuthType) -> Option<Box<dyn SecurityProvider>> {
        None
    }
}

async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("the test took more than 20 s")
}

/// Reads from `sock` into `server` until `done` says so, writing every answer back; returns
/// the calls seen.
async fn serve_until(
    sock: &mut TcpStream,
    server: &mut ServerConnection,
    mut done: impl FnMut(&[ServerEvent]) -> bool,
) -> Vec<ServerEvent> {
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while !done(&seen) {
        let n = sock.read(&mut buf).await.unwrap();
        assert!(n > 0, "the client closed early");
        seen.extend(server.receive(&buf[..n], &mut Env));
        while let Some(f) = server.poll_transmit() {
            sock.write_all(&f).await.unwrap();
        }
    }
    seen
}

fn calls(ev: &[ServerEvent]) -> Vec<u32> {
    ev.iter()
        .filter_map(|e| match e {
            ServerEvent::Call(c) => Some(c.call_id),
            _ => None,
        })
        .collect()
}

async fn listener() -> (TcpListener, std::net::SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_reading_fails_the_connection_after_the_send_timeout() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut sock, _) = l.accept().await.unwrap();
        let mut sm = ServerConnection::new(ServerConfig::default());
        // Answer the bind and one small call, then stop reading (keep the socket open).
        let seen = serve_until(&mut sock, &mut sm, |ev| !calls(ev).is_empty()).await;
        let id = calls(&seen)[0];
        sm.respond(id, Ok(vec![1, 0, 0, 0]));
        while let Some(f) = sm.poll_transmit() {
            sock.write_all(&f).await.unwrap();
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(sock);
    });
    let send_timeout = Duration::from_millis(500);
    let client = Client::connect_addr(
        addr,
        ClientOptions {
            send_timeout,
            call_timeout: None,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let echo = RpcechoClient::new(client.clone());
    let r = bounded(echo.add_one(AddOneRequest { in_data: 0 })).await;
    assert_eq!(r.unwrap().out_data, 1);
    // 16 calls of 1 MiB: far more than the socket buffers hold once the server stops reading.
    let started = Instant::now();
    let mut waiting = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let echo = echo.clone();
        waiting.spawn(async move {
            echo.sink_data(SinkDataRequest {
                len: 1 << 20,
                data: vec![0x5a; 1 << 20],
            })
            .await
        });
    }
    let mut errors = Vec::new();
    while let Some(r) = bounded(waiting.join_next()).await {
        errors.push(r.unwrap().unwrap_err());
    }
    let took = started.elapsed();
    assert!(
        errors
            .iter()
            .all(|e| matches!(e, CallError::Transport(t) if t.contains("send timed out"))),
        "{errors:?}"
    );
    assert!(took >= send_timeout, "{took:?}");
    bounded(client.closed()).await;
    assert!(client.is_closed());
    // A call on the ended connection fails at once.
    let e = bounded(echo.add_one(AddOneRequest { in_data: 0 }))
        .await
        .unwrap_err();
    assert!(matches!(e, CallError::Transport(_)), "{e:?}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_closing_mid_call_fails_the_call_and_closes_the_client() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut sock, _) = l.accept().await.unwrap();
        let mut sm = ServerConnection::new(ServerConfig::default());
        serve_until(&mut sock, &mut sm, |ev| !calls(ev).is_empty()).await;
        // The call is in; hang up without answering.
        drop(sock);
    });
    let client = Client::connect_addr(addr, ClientOptions::default())
        .await
        .unwrap();
    let echo = RpcechoClient::new(client.clone());
    let e = bounded(echo.add_one(AddOneRequest { in_data: 0 }))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, CallError::Transport(t) if t.contains("closed")),
        "{e:?}"
    );
    bounded(client.closed()).await;
    server.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_callers_share_a_connection_and_one_timeout_does_not_disturb_the_others() {
    let (l, addr) = listener().await;
    // Answers every call but call_id 5 (left to time out), in reverse order of arrival per
    // read, so answers overtake each other.
    let server = tokio::spawn(async move {
        let (mut sock, _) = l.accept().await.unwrap();
        let mut sm = ServerConnection::new(ServerConfig {
            max_outstanding_calls: 256,
            ..ServerConfig::default()
        });
        let mut buf = vec![0u8; 64 * 1024];
        let mut answered = 0usize;
        let mut orphaned = false;
        while answered < 200 || !orphaned {
            let n = sock.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            let ev = sm.receive(&buf[..n], &mut Env);
            orphaned |= ev
                .iter()
                .any(|e| matches!(e, ServerEvent::Orphaned { call_id: 5 }));
            let mut ids = calls(&ev);
            ids.reverse();
            for id in ids {
                if id == 5 {
                    continue;
                }
                sm.respond(id, Ok(vec![0; 4]));
                answered += 1;
            }
            while let Some(f) = sm.poll_transmit() {
                sock.write_all(&f).await.unwrap();
            }
        }
        // Hold the connection until the client goes.
        while sock.read(&mut buf).await.is_ok_and(|n| n > 0) {}
        (answered, orphaned)
    });
    let client = Client::connect_addr(
        addr,
        ClientOptions {
            call_timeout: Some(Duration::from_millis(800)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let echo = RpcechoClient::new(client.clone());
    // Bind first, so call ids are 2.. in submission order of the first wave.
    bounded(client.bind(&[RpcechoInterface::SYNTAX]))
        .await
        .unwrap();
    let results = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..201 {
        let echo = echo.clone();
        let results = results.clone();
        tasks.spawn(async move {
            let r = echo.add_one(AddOneRequest { in_data: 0 }).await;
            results.lock().unwrap().push(r.map(|r| r.out_data));
        });
    }
    while bounded(tasks.join_next()).await.is_some() {}
    let results = std::mem::take(&mut *results.lock().unwrap());
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let timed_out = results
        .iter()
        .filter(|r| matches!(r, Err(CallError::Timeout)))
        .count();
    assert_eq!((ok, timed_out), (200, 1), "{results:?}");
    assert!(!client.is_closed());
    drop((echo, client));
    let (answered, orphaned) = bounded(server).await.unwrap();
    assert_eq!(answered, 200);
    assert!(
        orphaned,
        "the timed-out call was not orphaned on the server"
    );
}
