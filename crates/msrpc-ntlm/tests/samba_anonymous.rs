//! Interop with Samba: our anonymous NTLM client (`NtlmClient::anonymous`, bare and inside
//! SPNEGO) calls mgmt `inq_if_ids` on samba-dcerpcd's endpoint mapper (127.0.0.219:135) at
//! PKT_INTEGRITY and PKT_PRIVACY, three calls per connection. Samba accepts an anonymous logon
//! as a null session with the session key its anonymous account has (16 zero bytes), so our
//! client verifying (and unsealing) every response proves both sides derived the same keys
//! from MS-NLMP's anonymous SessionBaseKey Z(16) and the exported key we sent encrypted under
//! it; over SPNEGO it also proves the mechListMICs of an anonymous context.
//!
//! Needs Samba (`/usr/libexec/samba/samba-dcerpcd`) and root (a loopback address and port
//! 135); fails loudly when they are missing. Samba is always stopped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;

use msrpc_ntlm::{NtlmClient, SpnegoClient};
use msrpc_proto::pdu::AuthLevel;
use msrpc_proto::security::SecurityProvider;
use msrpc_rt::{Client, ClientAuth, ClientOptions};

mod common;
use common::{inq_if_ids, Samba, EPM_UUID_LE};

const ADDR: &str = "127.0.0.219";

fn opts(level: AuthLevel, spnego: bool) -> ClientOptions {
    ClientOptions {
        call_timeout: Some(Duration::from_secs(20)),
        auth: Some(ClientAuth::new(level, move || {
            if spnego {
                Box::new(SpnegoClient::new(NtlmClient::anonymous())) as Box<dyn SecurityProvider>
            } else {
                Box::new(NtlmClient::anonymous()) as Box<dyn SecurityProvider>
            }
        })),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samba_serves_our_anonymous_client_signed_and_sealed() {
    let samba = Samba::start(ADDR);
    for spnego in [false, true] {
        for level in [AuthLevel::PKT_INTEGRITY, AuthLevel::PKT_PRIVACY] {
            let client = Client::connect_host(ADDR, 135, opts(level, spnego))
                .await
                .unwrap_or_else(|e| panic!("connect {ADDR}:135: {e}"));
            for round in 0..3 {
                let stub = inq_if_ids(&client).await.unwrap_or_else(|e| {
                    panic!(
                        "anonymous mgmt inq_if_ids, spnego {spnego}, {level:?}, call {round}: \
                         {e}\n{}",
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
    }
    drop(samba);
}
