//! Interop with Samba: `msrpc_rt::Client` authenticated with our NTLMv2 client calls mgmt
//! `inq_if_ids` on samba-dcerpcd's endpoint mapper (127.0.0.83:135) at PKT_PRIVACY and at
//! PKT_INTEGRITY. Our client verifies (and at privacy unseals) every response PDU and fails
//! the connection on a bad signature, so a successful call proves Samba's signatures verified.
//! A wrong password must be refused.
//!
//! Needs Samba (`/usr/libexec/samba/samba-dcerpcd`, `pdbedit`) and root (a loopback address
//! and port 135); fails loudly when they are missing. Samba is always stopped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;

use msrpc_ntlm::NtlmClient;
use msrpc_proto::dispatch::CallError;
use msrpc_proto::pdu::AuthLevel;
use msrpc_proto::security::SecurityProvider;
use msrpc_rt::{Client, ClientAuth, ClientOptions};

const ADDR: &str = "127.0.0.83";

mod common;
use common::{inq_if_ids, unix_user, Samba, DOMAIN, EPM_UUID_LE, PASSWORD};
fn opts(user: &str, password: &str, level: AuthLevel) -> ClientOptions {
    let (user, password) = (user.to_string(), password.to_string());
    ClientOptions {
        call_timeout: Some(Duration::from_secs(20)),
        auth: Some(ClientAuth::new(level, move || {
            Box::new(NtlmClient::new(&user, DOMAIN, &password)) as Box<dyn SecurityProvider>
        })),
        ..Default::default()
    }
}

async fn call_at(user: &str, level: AuthLevel, samba: &Samba) {
    let client = Client::connect_host(ADDR, 135, opts(user, PASSWORD, level))
        .await
        .unwrap_or_else(|e| panic!("connect {ADDR}:135: {e}"));
    for round in 0..3 {
        let stub = inq_if_ids(&client).await.unwrap_or_else(|e| {
            panic!(
                "mgmt inq_if_ids at {level:?} (call {round}) failed: {e}\n{}",
                samba.logs()
            )
        });
        // pointer, count, ..., status (u32 little-endian, last).
        assert!(stub.len() >= 8, "short stub {stub:02x?}");
        let status = u32::from_le_bytes(stub[stub.len() - 4..].try_into().unwrap());
        assert_eq!(status, 0, "inq_if_ids status {status:#x}");
        let count = u32::from_le_bytes(stub[4..8].try_into().unwrap());
        assert!(count > 0, "no interfaces listed: {stub:02x?}");
        assert!(
            stub.windows(16).any(|w| w == EPM_UUID_LE),
            "the endpoint mapper is not among the interfaces: {stub:02x?}"
        );
    }
    assert!(!client.is_closed());
    client.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samba_verifies_and_answers_ntlm_privacy_and_integrity() {
    let samba = Samba::start(ADDR);
    let user = unix_user();
    samba.add_user(&user, PASSWORD);

    call_at(&user, AuthLevel::PKT_PRIVACY, &samba).await;
    call_at(&user, AuthLevel::PKT_INTEGRITY, &samba).await;

    // A wrong password: Samba refuses (fault access denied or a closed connection).
    let client = Client::connect_host(
        ADDR,
        135,
        opts(&user, "wrong password", AuthLevel::PKT_PRIVACY),
    )
    .await
    .unwrap();
    let e = inq_if_ids(&client).await.unwrap_err();
    assert!(
        matches!(e, CallError::Fault(_) | CallError::Transport(_)),
        "wrong password: {e:?}"
    );
    eprintln!("wrong password refused by Samba: {e}");
    client.close();
    drop(samba);
}
