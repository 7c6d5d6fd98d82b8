//! `msrpcd` with a `[policy]` in its `--config` file and a `--users` file, on 127.0.0.112:
//! the EPM lookup refused, the demo's rpcecho at privacy only (unauthenticated and integrity
//! calls refused with access denied, a privacy call served, refusals logged with their reason
//! code); then SIGHUP puts a new policy and a new account in force for the next calls, and a
//! broken config or user file sent with SIGHUP is refused while the current ones stay.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use msrpc_echo::{AddOneRequest, RpcechoClient};
use msrpc_epm::{EptClient, EptLookupRequest, RPC_C_EP_ALL_ELTS};
use msrpc_ndr::{ContextHandle, Unique};
use msrpc_ntlm::{FileUserStore, NtlmClient};
use msrpc_proto::dispatch::CallError;
use msrpc_proto::pdu::{AuthLevel, FaultStatus};
use msrpc_proto::security::SecurityProvider;
use msrpc_rt::{Client, ClientAuth, ClientOptions};
use support::*;

const PASSWORD: &str = "S3cret-pw!";
const DENIED: CallError = CallError::Fault(FaultStatus::ACCESS_DENIED);

fn config(epm_lookup: &str) -> String {
    format!(
        r#"listen = ["127.0.0.112:1135"]
ports = "1150-1169"
demo = true

[policy]
epm-lookup = "{epm_lookup}"

[[policy.interface]]
uuid = "60a15ec5-4de8-11d7-a637-005056a20182"
min-auth-level = "privacy"
"#
    )
}

fn write_users(path: &Path, users: &[&str]) {
    let _ = std::fs::remove_file(path);
    let mut store = FileUserStore::load_or_new(path).unwrap();
    for u in users {
        store.add(u, "", PASSWORD).unwrap();
    }
    store.save().unwrap();
}

async fn add_one(
    addr: std::net::SocketAddr,
    user: Option<&'static str>,
    level: AuthLevel,
) -> Result<u32, CallError> {
    let o = ClientOptions {
        auth: user.map(|u| {
            ClientAuth::new(level, move || {
                Box::new(NtlmClient::new(u, "", PASSWORD)) as Box<dyn SecurityProvider>
            })
        }),
        ..opts()
    };
    let client = tokio::time::timeout(WAIT, Client::connect_addr(addr, o))
        .await
        .unwrap()
        .unwrap();
    let r = tokio::time::timeout(
        WAIT,
        RpcechoClient::new(client.clone()).add_one(AddOneRequest { in_data: 41 }),
    )
    .await
    .unwrap()
    .map(|r| r.out_data);
    client.close();
    r
}

async fn lookup(epm: std::net::SocketAddr) -> Result<usize, CallError> {
    let client = connect(epm).await;
    let r = tokio::time::timeout(
        WAIT,
        EptClient::new(client.clone()).ept_lookup(EptLookupRequest {
            inquiry_type: RPC_C_EP_ALL_ELTS,
            object: Unique::null(),
            interface_id: Unique::null(),
            vers_option: 0,
            entry_handle: ContextHandle::NULL,
            max_ents: 50,
        }),
    )
    .await
    .unwrap()
    .map(|r| r.entries.len());
    client.close();
    r
}

/// SIGHUP, then waits (at most [`WAIT`]) until stderr holds `n` occurrences of `marker`.
async fn hup_and_wait(d: &Proc, marker: &str, n: usize) {
    d.signal(rustix::process::Signal::HUP);
    let start = tokio::time::Instant::now();
    while d.stderr().matches(marker).count() < n {
        assert!(
            start.elapsed() < WAIT,
            "no {marker:?} after SIGHUP; stderr:\n{}",
            d.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_from_the_config_file_and_sighup_reload() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("msrpcd.toml");
    let users = dir.path().join("users");
    let sock = dir.path().join("run").join("epm.sock");
    let audit = dir.path().join("audit.json");
    std::fs::write(&cfg, config("refuse")).unwrap();
    write_users(&users, &["alice"]);
    let mut d = Proc::spawn(
        MSRPCD,
        &[
            "-c",
            cfg.to_str().unwrap(),
            "--registration-socket",
            sock.to_str().unwrap(),
            "--users",
            users.to_str().unwrap(),
            "--audit-log",
            audit.to_str().unwrap(),
        ],
    );
    let epm = d.addr_line("EPM listening on").await;
    let demo = d.addr_line("rpcecho demo on").await;

    assert_eq!(lookup(epm).await, Err(DENIED));
    assert_eq!(add_one(demo, None, AuthLevel::NONE).await, Err(DENIED));
    assert_eq!(
        add_one(demo, Some("alice"), AuthLevel::PKT_INTEGRITY).await,
        Err(DENIED)
    );
    assert_eq!(
        add_one(demo, Some("alice"), AuthLevel::PKT_PRIVACY).await,
        Ok(42)
    );
    assert!(
        add_one(demo, Some("bob"), AuthLevel::PKT_PRIVACY)
            .await
            .is_err(),
        "bob is unknown"
    );
    let err = d.stderr();
    assert!(err.contains("call refused by the security policy"), "{err}");
    assert!(
        err.contains("policy_epm_lookup") && err.contains("policy_min_level"),
        "{err}"
    );
    // The audit log has a `policy` deny event per refusal, with its reason code.
    let mut denials = Vec::new();
    for _ in 0..50 {
        let text = std::fs::read_to_string(&audit).unwrap_or_default();
        denials = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["event"] == "policy" && e["action"] == "deny")
            .map(|e| e["reason"].as_str().unwrap_or_default().to_string())
            .collect();
        if denials.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        denials,
        ["policy_epm_lookup", "policy_min_level", "policy_min_level"],
        "audit log policy events"
    );

    // SIGHUP: lookups allowed now, bob added; both seen by the next calls.
    std::fs::write(&cfg, config("allow")).unwrap();
    write_users(&users, &["alice", "bob"]);
    hup_and_wait(&d, "reload: user file re-read", 1).await;
    assert!(d.stderr().contains("reload: new security policy in force"));
    assert!(lookup(epm).await.unwrap() >= 1, "the demo is listed");
    assert_eq!(
        add_one(demo, Some("bob"), AuthLevel::PKT_PRIVACY).await,
        Ok(42)
    );
    assert_eq!(
        add_one(demo, None, AuthLevel::NONE).await,
        Err(DENIED),
        "still privacy only"
    );

    // A broken config file and a world-readable user file are refused; the current policy
    // and accounts stay.
    std::fs::write(&cfg, format!("{}bogus = 1\n", config("refuse"))).unwrap();
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o644)).unwrap();
    hup_and_wait(&d, "the user file is refused", 1).await;
    let err = d.stderr();
    assert!(err.contains("the configuration is refused"), "{err}");
    assert!(err.contains("bogus"), "{err}");
    assert!(
        lookup(epm).await.is_ok(),
        "the previous policy is still in force"
    );
    assert_eq!(
        add_one(demo, Some("bob"), AuthLevel::PKT_PRIVACY).await,
        Ok(42)
    );

    // A valid file again: in force at the next SIGHUP.
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&cfg, config("refuse")).unwrap();
    hup_and_wait(&d, "reload: user file re-read", 2).await;
    assert_eq!(lookup(epm).await, Err(DENIED));
    assert!(d.terminate().await.success(), "{}", d.stderr());
}
