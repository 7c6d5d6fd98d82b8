//! The test harness: an in-process `msrpc_rt::Server` (endpoint mapper, mgmt, rpcecho) on
//! 127.0.0.1 with a dynamic port, on a runtime of its own, and a runner for the built
//! `msrpc` binary.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Output};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use msrpc_echo::{EchoService, RpcechoInterface, RpcechoServer};
use msrpc_epm::db::IN_PROCESS_OWNER_BASE;
use msrpc_epm::mgmt::{MgmtInterface, MgmtServer};
use msrpc_epm::tower::Tower;
use msrpc_epm::{
    EndpointDb, EpmService, EptInterface, EptServer, MgmtService, MgmtStats, NewEntry, RpcIfId,
};
use msrpc_ndr::Uuid;
use msrpc_proto::dispatch::Interface;
use msrpc_proto::pdu::SyntaxId;
use msrpc_rt::{Server, ServerBuilder, TokioSleeper};
use serde_json::Value;

/// What the test server hosts.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Host the mgmt interface.
    pub mgmt: bool,
    /// Extra registrations with made-up interfaces (to force paging).
    pub extra: usize,
    /// Register anything at all in the endpoint map.
    pub register: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mgmt: true,
            extra: 0,
            register: true,
        }
    }
}

/// A running test server; stops when dropped.
pub struct TestServer {
    /// Its address.
    pub addr: SocketAddr,
    /// Entries registered in its endpoint map.
    pub registered: usize,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// `ncacn_ip_tcp:127.0.0.1[PORT]`.
    pub fn binding(&self) -> String {
        format!("ncacn_ip_tcp:127.0.0.1[{}]", self.addr.port())
    }

    /// The port, as text.
    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The made-up interface of extra registration `i`.
pub fn extra_interface(i: usize) -> SyntaxId {
    SyntaxId::new(
        Uuid::from_u128(0x5eed0000_0000_4000_8000_000000000000 | i as u128),
        1,
        (i % 3) as u16,
    )
}

fn entries(port: u16, cfg: Config) -> Vec<NewEntry> {
    let ip = Ipv4Addr::LOCALHOST;
    let ndr = SyntaxId::NDR20;
    let mut v = vec![
        NewEntry::new(
            Uuid::nil(),
            Tower::ncacn_ip_tcp(EptInterface::SYNTAX, ndr, ip, port),
            "Endpoint mapper",
        ),
        NewEntry::new(
            Uuid::nil(),
            Tower::ncacn_np(
                EptInterface::SYNTAX,
                ndr,
                "\\PIPE\\epmapper",
                "\\\\TESTHOST",
            ),
            "Endpoint mapper",
        ),
        NewEntry::new(
            Uuid::nil(),
            Tower::ncacn_ip_tcp(RpcechoInterface::SYNTAX, ndr, ip, port),
            "rpcecho test",
        ),
        NewEntry::new(
            Uuid::nil(),
            Tower::ncacn_np(
                RpcechoInterface::SYNTAX,
                ndr,
                "\\PIPE\\rpcecho",
                "\\\\TESTHOST",
            ),
            "rpcecho test",
        ),
    ];
    if cfg.mgmt {
        v.push(NewEntry::new(
            Uuid::from_u128(0xabcdef),
            Tower::ncacn_ip_tcp(MgmtInterface::SYNTAX, ndr, ip, port),
            "",
        ));
    }
    for i in 0..cfg.extra {
        v.push(NewEntry::new(
            Uuid::nil(),
            Tower::ncacn_ip_tcp(extra_interface(i), ndr, ip, 40000 + (i % 1000) as u16),
            format!("extra {i}"),
        ));
    }
    v
}

/// Starts a server with `cfg`.
pub fn start(cfg: Config) -> TestServer {
    let (tx, rx) = mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let db = Arc::new(Mutex::new(EndpointDb::new()));
            let mut ids = vec![EptInterface::SYNTAX, RpcechoInterface::SYNTAX];
            if cfg.mgmt {
                ids.push(MgmtInterface::SYNTAX);
            }
            let if_ids = Arc::new(RwLock::new(
                ids.iter()
                    .map(|s| RpcIfId {
                        uuid: s.uuid,
                        vers_major: s.major,
                        vers_minor: s.minor,
                    })
                    .collect::<Vec<_>>(),
            ));
            let mut b = Server::builder()
                .listen("127.0.0.1:0".parse().unwrap())
                .service(EptServer::new(EpmService::new(Arc::clone(&db))))
                .service(RpcechoServer::new(EchoService::new(TokioSleeper)));
            if cfg.mgmt {
                b = b.service(MgmtServer::new(MgmtService::new(if_ids, MgmtStats::new())));
            }
            let server = b.start().await.unwrap();
            let addr = server.local_addrs()[0];
            let mut registered = 0;
            if cfg.register {
                let e = entries(addr.port(), cfg);
                registered = e.len();
                db.lock()
                    .unwrap()
                    .register(IN_PROCESS_OWNER_BASE, e, false)
                    .unwrap();
            }
            tx.send((addr, registered)).unwrap();
            let _ = stop_rx.await;
            server.shutdown().await;
        });
    });
    let (addr, registered) = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    TestServer {
        addr,
        registered,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

/// Starts a server on 127.0.0.1 with the services `build` adds.
pub fn start_with(
    build: impl FnOnce(ServerBuilder) -> ServerBuilder + Send + 'static,
) -> TestServer {
    let (tx, rx) = mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let b = Server::builder().listen("127.0.0.1:0".parse().unwrap());
            let server = build(b).start().await.unwrap();
            tx.send(server.local_addrs()[0]).unwrap();
            let _ = stop_rx.await;
            server.shutdown().await;
        });
    });
    let addr = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    TestServer {
        addr,
        registered: 0,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

/// The result of running `msrpc`.
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Stdout as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Panics unless the exit code is `code`.
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code {} (wanted {code})\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// The built binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_msrpc")
}

fn finish(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `msrpc ARGS` (bounded by the tool's own timeouts).
pub fn msrpc(args: &[&str]) -> Run {
    finish(Command::new(bin()).args(args).output().unwrap())
}
