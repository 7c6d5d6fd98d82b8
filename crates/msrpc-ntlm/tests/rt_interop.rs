//! `msrpc_rt::Client` with NTLMv2 (`ClientOptions::auth`) against an in-process
//! `msrpc_rt::Server` whose rpcecho requires our NTLM acceptor (the `ntlm_echo_server`
//! example's logic), over loopback TCP with small fragments: PKT_INTEGRITY and PKT_PRIVACY,
//! a 20 kB EchoData split into many signed (sealed) fragments both ways, and a wrong
//! password refused with access denied.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use msrpc_echo::{AddOneRequest, EchoDataRequest, EchoService, RpcechoClient, RpcechoServer};
use msrpc_ntlm::{MemoryUserStore, NtlmAcceptor, NtlmClient, UserStore};
use msrpc_proto::client::ClientConfig;
use msrpc_proto::dispatch::CallAuth;
use msrpc_proto::dispatch::CallError;
use msrpc_proto::pdu::{AuthLevel, AuthType, FaultStatus};
use msrpc_proto::security::SecurityProvider;
use msrpc_proto::server::ServerEvent;
use msrpc_rt::{Client, ClientAuth, ClientOptions, ConnEvent, Limits, Server, TokioSleeper};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse";

/// (opnum, request fragments, auth) of every call the server dispatched.
type Seen = Arc<Mutex<Vec<(u16, u32, Option<CallAuth>)>>>;

async fn ntlm_echo_server() -> (Server, Seen) {
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let mut store = MemoryUserStore::new();
    store.add_user(USER, PASSWORD);
    let store: Arc<dyn UserStore> = Arc::new(store);
    let server = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .service(RpcechoServer::new(EchoService::new(TokioSleeper)))
        .limits(Limits {
            max_recv_frag: 1432,
            max_xmit_frag: 1432,
            ..Limits::default()
        })
        .security(Arc::new(move |t: AuthType| {
            (t == AuthType::WINNT)
                .then(|| Box::new(NtlmAcceptor::new(store.clone())) as Box<dyn SecurityProvider>)
        }))
        .observer(Arc::new(move |ev: &ConnEvent<'_>| {
            if let ConnEvent::Event {
                event: ServerEvent::Call(c),
                ..
            } = ev
            {
                s2.lock()
                    .unwrap()
                    .push((c.opnum, c.fragments, c.auth.clone()));
            }
        }))
        .start()
        .await
        .unwrap();
    (server, seen)
}

fn opts(password: &'static str, level: AuthLevel) -> ClientOptions {
    ClientOptions {
        config: ClientConfig {
            max_xmit_frag: 1432,
            max_recv_frag: 1432,
            ..Default::default()
        },
        call_timeout: Some(Duration::from_secs(30)),
        auth: Some(ClientAuth::new(level, move || {
            Box::new(NtlmClient::new(USER, "TESTDOM", password)) as Box<dyn SecurityProvider>
        })),
        ..Default::default()
    }
}

async fn round_trip(level: AuthLevel, context_id: Option<u32>) {
    let (server, seen) = ntlm_echo_server().await;
    let mut o = opts(PASSWORD, level);
    if let Some(id) = context_id {
        o.auth = o.auth.map(|a| a.with_context_id(id));
    }
    let client = Client::connect_addr(server.local_addrs()[0], o)
        .await
        .unwrap();
    let c = RpcechoClient::new(client.clone());
    let r = c.add_one(AddOneRequest { in_data: 41 }).await.unwrap();
    assert_eq!(r.out_data, 42);

    // 20 kB: about 15 fragments each way, every one signed (and sealed at privacy).
    let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let r = c
        .echo_data(EchoDataRequest {
            len: data.len() as u32,
            in_data: data.clone(),
        })
        .await
        .unwrap();
    assert_eq!(r.out_data, data);

    // The association stays usable after the large call.
    let r = c.add_one(AddOneRequest { in_data: 1 }).await.unwrap();
    assert_eq!(r.out_data, 2);
    client.close();
    server.shutdown().await;

    // The server saw the three calls at our level, from the NTLM user, and the EchoData
    // request in many fragments.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    for (opnum, fragments, auth) in &seen {
        let auth = auth.as_ref().expect("an authenticated call");
        assert_eq!(auth.auth_type, AuthType::WINNT);
        assert_eq!(auth.level, level);
        assert!(
            auth.user.as_deref().unwrap_or_default().contains(USER),
            "{auth:?}"
        );
        if *opnum == 1 {
            assert!(*fragments > 10, "EchoData in {fragments} fragments");
        }
    }
}

#[tokio::test]
async fn ntlm_connect_round_trip() {
    round_trip(AuthLevel::CONNECT, None).await;
}

#[tokio::test]
async fn ntlm_pkt_round_trip() {
    round_trip(AuthLevel::PKT, None).await;
}

#[tokio::test]
async fn ntlm_integrity_round_trip() {
    round_trip(AuthLevel::PKT_INTEGRITY, None).await;
}

#[tokio::test]
async fn ntlm_privacy_round_trip() {
    round_trip(AuthLevel::PKT_PRIVACY, None).await;
}

#[tokio::test]
async fn ntlm_privacy_with_context_id_1() {
    round_trip(AuthLevel::PKT_PRIVACY, Some(1)).await;
}

#[tokio::test]
async fn wrong_password_is_refused() {
    let (server, seen) = ntlm_echo_server().await;
    for level in [AuthLevel::PKT_INTEGRITY, AuthLevel::PKT_PRIVACY] {
        let client = Client::connect_addr(server.local_addrs()[0], opts("wrong horse", level))
            .await
            .unwrap();
        let c = RpcechoClient::new(client.clone());
        let e = c.add_one(AddOneRequest { in_data: 41 }).await.unwrap_err();
        assert_eq!(
            e,
            CallError::Fault(FaultStatus::ACCESS_DENIED),
            "{level:?}: expected access denied"
        );
        client.close();
    }
    server.shutdown().await;
    assert!(seen.lock().unwrap().is_empty(), "no call was dispatched");
}
