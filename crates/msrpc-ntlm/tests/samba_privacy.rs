//! Interop with Samba: `msrpc_rt::Client` authenticated with our NTLMv2 client calls mgmt
//! `inq_if_ids` on samba-dcerpcd's endpoint mapper (127.0.0.83:135) at PKT_PRIVACY and at
//! PKT_INTEGRITY. Our client verifies (and at privacy unseals) every response PDU and fails
//! the connection on a bad signature, so a successful call proves Samba's signatures verified.
//! A wrong password must be refused.
//!
//! Needs Samba (`/usr/libexec/samba/samba-dcerpcd`, `pdbedit`) and root (a loopback address
//! and port 135); fails loudly when they are missing. Samba is always stopped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use msrpc_ndr::{DataRep, Uuid};
use msrpc_ntlm::NtlmClient;
use msrpc_proto::dispatch::{CallError, Invoke};
use msrpc_proto::pdu::{AuthLevel, SyntaxId};
use msrpc_proto::security::SecurityProvider;
use msrpc_rt::{Client, ClientAuth, ClientOptions};

const ADDR: &str = "127.0.0.83";
const SAMBA_DCERPCD: &str = "/usr/libexec/samba/samba-dcerpcd";
const PASSWORD: &str = "Msrpc-test-pw1";
/// The smb.conf `netbios name` of tests/interop/samba-dcerpcd.sh (the standalone SAM).
const DOMAIN: &str = "MSRPCSAMBA";

/// mgmt (DCE/RPC management interface) v1.0.
const MGMT: SyntaxId = SyntaxId::new(
    Uuid::from_u128(0xafa8bd80_7d8a_11c9_bef4_08002b102989),
    1,
    0,
);
const MGMT_INQ_IF_IDS: u16 = 0;
/// The endpoint mapper's uuid e1af8308-5d1f-11c9-91a4-08002b14a0fa in NDR (little-endian).
const EPM_UUID_LE: [u8; 16] = [
    0x08, 0x83, 0xaf, 0xe1, 0x1f, 0x5d, 0xc9, 0x11, 0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa,
];

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/samba-dcerpcd.sh")
}

/// Stops samba-dcerpcd when dropped (also on panic).
struct Samba {
    dir: PathBuf,
}

impl Samba {
    fn start() -> Samba {
        assert!(
            Path::new(SAMBA_DCERPCD).exists(),
            "{SAMBA_DCERPCD} is missing: install the Debian packages samba and samba-common-bin"
        );
        let dir = std::env::temp_dir().join(format!("msrpc-samba-privacy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let samba = Samba { dir };
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(&samba.dir)
            .arg(ADDR)
            .output()
            .expect("run samba-dcerpcd.sh");
        assert!(
            out.status.success(),
            "samba-dcerpcd did not start: {}\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(samba.dir.join("samba-dcerpcd.out")).unwrap_or_default(),
            samba.logs()
        );
        samba
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("smb.conf")
    }

    /// Samba's log files, for failure messages.
    fn logs(&self) -> String {
        let mut text = String::new();
        if let Ok(rd) = std::fs::read_dir(self.dir.join("log")) {
            for e in rd.flatten() {
                let body = std::fs::read_to_string(e.path()).unwrap_or_default();
                let tail: String = body
                    .lines()
                    .rev()
                    .take(40)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n");
                text.push_str(&format!("--- {}\n{tail}\n", e.path().display()));
            }
        }
        text
    }

    /// Adds `user` (an existing Unix account) to Samba's private passdb.
    fn add_user(&self, user: &str, password: &str) {
        let mut child = Command::new("pdbedit")
            .arg("-s")
            .arg(self.conf())
            .args(["-a", "-u", user, "-t"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run pdbedit (package samba-common-bin)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n{password}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "pdbedit -a -u {user} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Samba {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(&self.dir)
            .status();
        // Keep the configuration and logs of a failed run for inspection.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A Unix account for the Samba user: `daemon` (present on Debian), else a `msrpctest`
/// account created with useradd.
fn unix_user() -> String {
    let exists = |u: &str| {
        Command::new("id")
            .arg(u)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if exists("daemon") {
        return "daemon".into();
    }
    if !exists("msrpctest") {
        let st = Command::new("useradd")
            .args(["-M", "-N", "-s", "/usr/sbin/nologin", "msrpctest"])
            .status()
            .expect("run useradd");
        assert!(st.success(), "useradd msrpctest failed");
    }
    "msrpctest".into()
}

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

/// mgmt inq_if_ids with the response stub Samba sent (already verified and unsealed).
async fn inq_if_ids(client: &Client) -> Result<Vec<u8>, CallError> {
    let r = client
        .invoke(
            MGMT,
            MGMT_INQ_IF_IDS,
            None,
            Vec::new(),
            DataRep::LITTLE_ENDIAN,
        )
        .await?;
    assert_eq!(r.drep, DataRep::LITTLE_ENDIAN);
    Ok(r.stub)
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
    let samba = Samba::start();
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
