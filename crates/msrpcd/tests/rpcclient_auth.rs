//! Samba's `rpcclient` (a client we did not write) authenticates with NTLM to `msrpcd --users`
//! (127.0.0.108:135) at `connect`, `sign` (PKT_INTEGRITY) and `seal` (PKT_PRIVACY) and calls
//! `epm_Map`: Samba's client asks for header signing and sends a verification trailer
//! (BITMASK_1, PCONTEXT) at sign and seal, which our server accepts, and it verifies our
//! response signatures; its map of an unregistered interface returns EPT_S_NOT_REGISTERED
//! (0x16c9a0d6), proving the authenticated round trip. A wrong password is refused with
//! access denied. Needs
//! `rpcclient` (package smbclient) and root (port 135); fails loudly without them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use msrpc_ntlm::FileUserStore;
use support::*;

const PASSWORD: &str = "Rpcclient-pw1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpcclient_authenticates_at_connect_sign_and_seal() {
    let (st, _, _) = run("sh", &["-c", "command -v rpcclient"]).await;
    assert!(
        st.success(),
        "rpcclient is missing: install the Debian package smbclient"
    );
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    let mut store = FileUserStore::load_or_new(&users).unwrap();
    store.add("alice", "TESTDOM", PASSWORD).unwrap();
    store.save().unwrap();
    let sock = dir.path().join("epm.sock");
    let mut d = Proc::spawn(
        MSRPCD,
        &[
            "--listen",
            "127.0.0.108:135",
            "--registration-socket",
            sock.to_str().unwrap(),
            "--users",
            users.to_str().unwrap(),
        ],
    );
    let epm = d.addr_line("EPM listening on").await;
    assert_eq!(epm.port(), 135);
    let creds = format!("TESTDOM/alice%{PASSWORD}");
    for (opt, level) in [
        ("connect", "CONNECT"),
        ("sign", "PKT_INTEGRITY"),
        ("seal", "PKT_PRIVACY"),
    ] {
        let binding = format!("ncacn_ip_tcp:127.0.0.108[{opt}]");
        let (_, out, err) = run(
            "timeout",
            &["15", "rpcclient", "-U", &creds, &binding, "-c", "epmmap"],
        )
        .await;
        let text = format!("{out}{err}");
        assert!(
            text.to_lowercase().contains("epm_map returned 382312662"),
            "{opt}: {text}\nmsrpcd:\n{}",
            d.stderr()
        );
        assert!(
            d.stderr().contains(&format!(
                "level=AuthLevel::{level} user=Some(\"TESTDOM\\\\alice\")"
            )),
            "{opt}: {}",
            d.stderr()
        );
    }
    let (_, out, err) = run(
        "timeout",
        &[
            "15",
            "rpcclient",
            "-U",
            "TESTDOM/alice%wrong",
            "ncacn_ip_tcp:127.0.0.108[sign]",
            "-c",
            "epmmap",
        ],
    )
    .await;
    let text = format!("{out}{err}");
    // Our server refuses the request after the failed auth3 (access denied).
    let lower = text.to_lowercase();
    assert!(
        !lower.contains("382312662") && lower.contains("access_denied"),
        "{text}"
    );
    assert!(d.terminate().await.success());
}
