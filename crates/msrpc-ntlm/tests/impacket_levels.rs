//! Impacket 0.13.1 (`tests/interop/impacket_auth_levels.py`, from `target/venv`, which must
//! exist: this test fails loudly without it) against an in-process `msrpc_rt::Server` whose
//! rpcecho takes our NTLM acceptor, on 127.0.0.101: at RPC_C_AUTHN_LEVEL_CONNECT its calls
//! succeed and arrive authenticated at CONNECT as the user; at RPC_C_AUTHN_LEVEL_PKT Impacket
//! sends unsigned requests, which are refused (access denied) before any dispatch.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use msrpc_echo::{EchoService, RpcechoServer};
use msrpc_ntlm::{MemoryUserStore, NtlmAcceptor, UserStore};
use msrpc_proto::dispatch::CallAuth;
use msrpc_proto::pdu::{AuthLevel, AuthType, FaultStatus};
use msrpc_proto::security::SecurityProvider;
use msrpc_proto::server::ServerEvent;
use msrpc_rt::{ConnEvent, Server, TokioSleeper};

type Seen = Arc<Mutex<Vec<ServerEvent>>>;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impacket_at_connect_and_pkt() {
    let py = workspace().join("target/venv/bin/python");
    assert!(
        py.exists(),
        "{} is missing: this test needs Impacket 0.13.1 in target/venv",
        py.display()
    );
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let mut store = MemoryUserStore::new();
    store.add_user("alice", "S3cret-pw!");
    let store: Arc<dyn UserStore> = Arc::new(store);
    let server = Server::builder()
        .listen("127.0.0.101:0".parse().unwrap())
        .service(RpcechoServer::new(EchoService::new(TokioSleeper)))
        .security(Arc::new(move |t: AuthType| {
            (t == AuthType::WINNT)
                .then(|| Box::new(NtlmAcceptor::new(store.clone())) as Box<dyn SecurityProvider>)
        }))
        .observer(Arc::new(move |ev: &ConnEvent<'_>| {
            if let ConnEvent::Event { event, .. } = ev {
                s2.lock().unwrap().push((*event).clone());
            }
        }))
        .start()
        .await
        .unwrap();
    let port = server.local_addrs()[0].port();
    let script = workspace().join("tests/interop/impacket_auth_levels.py");
    // `timeout` bounds the script; the blocking wait runs off the runtime's workers.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("timeout")
            .arg("120")
            .arg(&py)
            .arg(script)
            .args(["127.0.0.101", &port.to_string(), "alice", "S3cret-pw!"])
            .stdin(std::process::Stdio::null())
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = seen.lock().unwrap().clone();
    assert!(
        out.status.success() && text.contains("impacket_auth_levels: 3 passed, 0 failed"),
        "{text}\n{seen:#?}"
    );
    // The CONNECT calls ran as alice at CONNECT.
    let auths: Vec<Option<CallAuth>> = seen
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Call(c) => Some(c.auth.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(auths.len(), 2, "{seen:#?}");
    for a in auths {
        let a = a.unwrap();
        assert_eq!(a.level, AuthLevel::CONNECT);
        assert_eq!(
            a.user.as_deref().map(str::to_lowercase).as_deref(),
            Some("alice")
        );
    }
    // The PKT request was refused for its missing verifier.
    assert!(seen.iter().any(|e| matches!(
        e,
        ServerEvent::Refused {
            status: FaultStatus::ACCESS_DENIED,
            reason: "auth_verifier_missing",
            ..
        }
    )));
    server.shutdown().await;
}
