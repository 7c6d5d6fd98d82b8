//! Interop with Samba over SPNEGO (`GSS_NEGOTIATE`): `msrpc_rt::Client` with our
//! [`SpnegoClient`] calls mgmt `inq_if_ids` on samba-dcerpcd's endpoint mapper
//! (127.0.0.121:135) at PKT_PRIVACY and PKT_INTEGRITY. The exchange takes four legs (bind,
//! bind_ack, alter_context with AUTHENTICATE and our mechListMIC, alter_context_resp with
//! Samba's accept-completed and mechListMIC); our client verifies Samba's mechListMIC, re-keys
//! RC4, then verifies (and unseals) every response, so three successful calls on one
//! connection prove that the sequence numbers and RC4 state after the mechListMIC match
//! Samba's. Also: Kerberos offered first (Samba must select NTLM as the second choice and
//! the mechListMIC then guards the list), and a wrong password refused.
//!
//! Needs Samba (`/usr/libexec/samba/samba-dcerpcd`, `pdbedit`) and root (a loopback address
//! and port 135); fails loudly when they are missing. Samba is always stopped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;

use msrpc_ntlm::{NtlmClient, SpnegoClient};
use msrpc_proto::dispatch::CallError;
use msrpc_proto::pdu::AuthLevel;
use msrpc_proto::security::SecurityProvider;
use msrpc_rt::{Client, ClientAuth, ClientOptions};

mod common;
use common::{inq_if_ids, unix_user, Samba, DOMAIN, EPM_UUID_LE, PASSWORD};

const ADDR: &str = "127.0.0.121";
/// Kerberos 5 (1.2.840.113554.1.2.2), offered first in one run.
const KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];

fn opts(user: &str, password: &str, level: AuthLevel, krb5_first: bool) -> ClientOptions {
    let (user, password) = (user.to_string(), password.to_string());
    ClientOptions {
        call_timeout: Some(Duration::from_secs(20)),
        auth: Some(ClientAuth::new(level, move || {
            let c = SpnegoClient::new(NtlmClient::new(&user, DOMAIN, &password));
            let c = if krb5_first {
                c.with_mech_types(vec![KRB5.to_vec()])
            } else {
                c
            };
            Box::new(c) as Box<dyn SecurityProvider>
        })),
        ..Default::default()
    }
}

async fn call_at(user: &str, level: AuthLevel, krb5_first: bool, samba: &Samba) {
    let client = Client::connect_host(ADDR, 135, opts(user, PASSWORD, level, krb5_first))
        .await
        .unwrap_or_else(|e| panic!("connect {ADDR}:135: {e}"));
    for round in 0..3 {
        let stub = inq_if_ids(&client).await.unwrap_or_else(|e| {
            panic!(
                "SPNEGO mgmt inq_if_ids at {level:?} (krb5 first: {krb5_first}, call {round}) \
                 failed: {e}\n{}",
                samba.logs()
            )
        });
        assert!(stub.len() >= 8, "short stub {stub:02x?}");
        let status = u32::from_le_bytes(stub[stub.len() - 4..].try_into().unwrap());
        assert_eq!(status, 0, "inq_if_ids status {status:#x}");
        assert!(
            stub.windows(16).any(|w| w == EPM_UUID_LE),
            "the endpoint mapper is not among the interfaces: {stub:02x?}"
        );
    }
    assert!(!client.is_closed());
    client.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samba_spnego_privacy_and_integrity_with_mech_list_mic() {
    let samba = Samba::start(ADDR);
    let user = unix_user();
    samba.add_user(&user, PASSWORD);

    call_at(&user, AuthLevel::PKT_PRIVACY, false, &samba).await;
    call_at(&user, AuthLevel::PKT_INTEGRITY, false, &samba).await;
    call_at(&user, AuthLevel::PKT_PRIVACY, true, &samba).await;

    let client = Client::connect_host(
        ADDR,
        135,
        opts(&user, "wrong password", AuthLevel::PKT_PRIVACY, false),
    )
    .await
    .unwrap();
    let e = inq_if_ids(&client).await.unwrap_err();
    assert!(
        matches!(e, CallError::Fault(_) | CallError::Transport(_)),
        "wrong password: {e:?}"
    );
    eprintln!("wrong password refused by Samba over SPNEGO: {e}");
    client.close();
    drop(samba);
}
