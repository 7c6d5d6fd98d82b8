//! `msrpcd --users FILE`: the daemon's endpoints accept NTLMv2 for the file's accounts, bare
//! and inside SPNEGO, checked with Impacket (`tests/interop/impacket_ntlm.py` and
//! `impacket_spnego.py`, from `target/venv`, which must exist: this test fails loudly without
//! it); anonymous logons (`impacket_anonymous.py`) are accepted with or without `--users`;
//! without `--users` named logons fail; with `[security] allow-anonymous = false` anonymous
//! logons fail, and without `--users` NTLM is not offered at all (bind_nak).
//! Address 127.0.0.30.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::path::PathBuf;

use msrpc_ntlm::FileUserStore;
use support::*;

const PASSWORD: &str = "S3cret-pw!";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's Python, or a panic that says how to make it.
fn python() -> PathBuf {
    let py = workspace().join("target/venv/bin/python");
    assert!(
        py.exists(),
        "{} is missing: this test needs Impacket 0.13.1 in target/venv \
         (python3 -m venv target/venv && target/venv/bin/pip install impacket==0.13.1)",
        py.display()
    );
    py
}

/// Runs an Impacket script of tests/interop against `host:port`: (exit success, output).
async fn impacket(
    script: &str,
    host: &str,
    port: u16,
    user: &str,
    password: &str,
) -> (bool, String) {
    impacket_args(script, &[host, &port.to_string(), user, password]).await
}

/// `impacket_anonymous.py HOST PORT EXPECT` against `host:port`: (exit success, output).
async fn anonymous(host: &str, port: u16, expect: &str) -> (bool, String) {
    impacket_args("impacket_anonymous.py", &[host, &port.to_string(), expect]).await
}

async fn impacket_args(script: &str, args: &[&str]) -> (bool, String) {
    let script = workspace().join("tests/interop").join(script);
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        tokio::process::Command::new(python())
            .arg(&script)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output(),
    )
    .await
    .expect("the Impacket script timed out")
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn start(dir: &std::path::Path, users: Option<&std::path::Path>) -> (Proc, SocketAddrs) {
    start_with(dir, users, None).await
}

async fn start_with(
    dir: &std::path::Path,
    users: Option<&std::path::Path>,
    config: Option<&std::path::Path>,
) -> (Proc, SocketAddrs) {
    let sock = dir.join("run").join("epm.sock");
    let mut args = vec![
        "--listen".to_string(),
        "127.0.0.30:1135".to_string(),
        "--demo".to_string(),
        "--registration-socket".to_string(),
        sock.to_str().unwrap().to_string(),
    ];
    if let Some(u) = users {
        args.push("--users".into());
        args.push(u.to_str().unwrap().into());
    }
    if let Some(c) = config {
        args.push("--config".into());
        args.push(c.to_str().unwrap().into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut d = Proc::spawn(MSRPCD, &args);
    let epm = d.addr_line("EPM listening on").await;
    let demo = d.addr_line("rpcecho demo on").await;
    (d, SocketAddrs { epm, demo })
}

struct SocketAddrs {
    #[allow(dead_code)]
    epm: std::net::SocketAddr,
    demo: std::net::SocketAddr,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impacket_named_logons_need_users_anonymous_ones_the_switch() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    let mut store = FileUserStore::load_or_new(&users).unwrap();
    store.add("tester", "", PASSWORD).unwrap();
    store.save().unwrap();
    assert!(!std::fs::read_to_string(&users).unwrap().contains(PASSWORD));
    assert!(py.exists());

    // With --users: every check of the script passes (integrity, privacy, wrong password).
    let (mut d, a) = start(dir.path(), Some(&users)).await;
    let (ok, text) = impacket(
        "impacket_ntlm.py",
        "127.0.0.30",
        a.demo.port(),
        "TESTER",
        PASSWORD,
    )
    .await;
    assert!(
        ok && text.contains("impacket_ntlm: 5 passed, 0 failed"),
        "{text}\nmsrpcd stderr:\n{}",
        d.stderr()
    );
    // SPNEGO (auth type 9) with and without mechListMIC, integrity and privacy.
    let (ok, text) = impacket(
        "impacket_spnego.py",
        "127.0.0.30",
        a.demo.port(),
        "tester",
        PASSWORD,
    )
    .await;
    assert!(
        ok && text.contains("impacket_spnego: 22 passed, 0 failed"),
        "{text}\nmsrpcd stderr:\n{}",
        d.stderr()
    );
    // Anonymous logons too, NTLM and SPNEGO, at connect, integrity and privacy.
    let (ok, text) = anonymous("127.0.0.30", a.demo.port(), "served").await;
    assert!(
        ok && text.contains("6 passed, 0 failed"),
        "{text}\nmsrpcd stderr:\n{}",
        d.stderr()
    );
    assert!(d.terminate().await.success());
    assert!(
        d.stderr().contains(r#"user=Some("ANONYMOUS LOGON")"#),
        "{}",
        d.stderr()
    );

    // Without --users: anonymous logons are served, named ones fail (a logon failure: the
    // binds complete, the calls are refused).
    let (mut d, a) = start(dir.path(), None).await;
    let (ok, text) = anonymous("127.0.0.30", a.demo.port(), "served").await;
    assert!(ok && text.contains("6 passed, 0 failed"), "{text}");
    let (ok, text) = impacket(
        "impacket_ntlm.py",
        "127.0.0.30",
        a.demo.port(),
        "tester",
        PASSWORD,
    )
    .await;
    assert!(!ok, "{text}");
    assert!(
        !text.contains("Authentication type not recognized") && !text.contains(" 0 failed"),
        "{text}"
    );
    let (ok, text) = impacket(
        "impacket_spnego.py",
        "127.0.0.30",
        a.demo.port(),
        "tester",
        PASSWORD,
    )
    .await;
    assert!(!ok && !text.contains(" 0 failed"), "{text}");
    assert!(d.terminate().await.success());
    let err = d.stderr();
    assert!(
        err.contains("accepting anonymous NTLMv2 and SPNEGO logons only")
            && err.contains(r#"user=Some("tester")"#)
            && err.contains("unknown user or wrong password"),
        "{err}"
    );

    // [security] allow-anonymous = false: with --users anonymous logons fail and named ones
    // work; without --users NTLM and SPNEGO are not offered at all, as before.
    let off = dir.path().join("no-anonymous.toml");
    std::fs::write(&off, "[security]\nallow-anonymous = false\n").unwrap();
    let (mut d, a) = start_with(dir.path(), Some(&users), Some(&off)).await;
    let (ok, text) = anonymous("127.0.0.30", a.demo.port(), "refused").await;
    assert!(ok && text.contains("6 passed, 0 failed"), "{text}");
    let (ok, text) = impacket(
        "impacket_ntlm.py",
        "127.0.0.30",
        a.demo.port(),
        "TESTER",
        PASSWORD,
    )
    .await;
    assert!(ok, "{text}");
    assert!(d.terminate().await.success());
    assert!(
        d.stderr().contains("anonymous logons are not accepted"),
        "{}",
        d.stderr()
    );
    let (mut d, a) = start_with(dir.path(), None, Some(&off)).await;
    let (ok, text) = anonymous("127.0.0.30", a.demo.port(), "refused").await;
    assert!(
        ok && text.contains("6 passed, 0 failed")
            && text.contains("Authentication type not recognized"),
        "{text}"
    );
    let (ok, text) = impacket(
        "impacket_ntlm.py",
        "127.0.0.30",
        a.demo.port(),
        "tester",
        PASSWORD,
    )
    .await;
    assert!(
        !ok && text.contains("Authentication type not recognized"),
        "{text}"
    );
    assert!(d.terminate().await.success());

    // A world-readable user file is refused at start, naming the file.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o644)).unwrap();
    let sock = dir.path().join("run").join("epm.sock");
    let (status, _, err) = run(
        MSRPCD,
        &[
            "--listen",
            "127.0.0.30:1135",
            "--registration-socket",
            sock.to_str().unwrap(),
            "--users",
            users.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("readable by other users"), "{err}");
}
