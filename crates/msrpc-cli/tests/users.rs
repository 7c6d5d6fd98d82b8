//! `msrpc users add/del/list` on a temporary user file, with the password on stdin, and the
//! file the daemon then reads through `msrpc_ntlm::FileUserStore`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use msrpc_ntlm::{FileUserStore, UserStore};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn msrpc(args: &[&str], stdin: &str) -> Out {
    let mut child = Command::new(env!("CARGO_BIN_EXE_msrpc"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok(args: &[&str], stdin: &str) -> String {
    let o = msrpc(args, stdin);
    assert_eq!(
        o.code, 0,
        "{args:?}\nstdout:\n{}\nstderr:\n{}",
        o.stdout, o.stderr
    );
    o.stdout
}

fn hash(path: &Path, user: &str, domain: &str) -> Option<[u8; 16]> {
    FileUserStore::load(path).unwrap().nt_hash(user, domain)
}

#[test]
fn add_list_del_with_the_password_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users");
    let f = file.to_str().unwrap();

    let out = ok(&["users", "add", f, "alice"], "Passw0rd!\n");
    assert!(out.contains("added user alice"), "{out}");
    ok(
        &["users", "add", f, "bob", "--domain", "CORP"],
        "hunter2\r\n",
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains("Passw0rd") && !text.contains("hunter2"),
        "{text}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let nt = |p: &str| *msrpc_ntlm::crypto::nt_hash(p);
    assert_eq!(hash(&file, "ALICE", "any"), Some(nt("Passw0rd!")));
    assert_eq!(
        hash(&file, "bob", "corp"),
        Some(nt("hunter2")),
        "CRLF stripped"
    );
    assert_eq!(hash(&file, "bob", "OTHER"), None);

    // Changing a password replaces the entry.
    let out = ok(&["users", "add", f, "Alice"], "new-pw\n");
    assert!(out.contains("updated"), "{out}");
    assert_eq!(hash(&file, "alice", ""), Some(nt("new-pw")));

    assert_eq!(ok(&["users", "list", f], ""), "alice\nCORP\\bob\n");
    let doc: serde_json::Value =
        serde_json::from_str(&ok(&["users", "list", f, "--json"], "")).unwrap();
    assert_eq!(doc["count"], 2);
    assert_eq!(doc["users"][0]["name"], "alice");
    assert_eq!(doc["users"][0]["domain"], "");
    assert_eq!(doc["users"][1]["domain"], "CORP");
    assert!(!doc.to_string().contains(&hex::encode(nt("new-pw"))));

    ok(&["users", "del", f, "ALICE"], "");
    assert_eq!(ok(&["users", "list", f], ""), "CORP\\bob\n");
    // Deleting an unknown user: 4 (nothing found).
    let o = msrpc(&["users", "del", f, "alice"], "");
    assert_eq!(o.code, 4, "{}", o.stderr);
    assert!(o.stderr.contains("no user `alice`"), "{}", o.stderr);
}

#[test]
fn bad_input_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users");
    let f = file.to_str().unwrap();
    // No password on stdin.
    let o = msrpc(&["users", "add", f, "alice"], "");
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("no password"), "{}", o.stderr);
    assert!(!file.exists());
    // A name that cannot be stored.
    let o = msrpc(&["users", "add", f, "a:b"], "pw\n");
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("contains `:`"), "{}", o.stderr);
    // A missing file for list and del.
    assert_eq!(msrpc(&["users", "list", f], "").code, 1);
    assert_eq!(msrpc(&["users", "del", f, "x"], "").code, 1);
    // A malformed file names the line; --json gives an error document.
    std::fs::write(&file, "# users\nalice:plaintext\n").unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let o = msrpc(&["users", "list", f, "--json"], "");
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("users:2:"), "{}", o.stderr);
    let doc: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(doc["error"]["exit_code"], 1);
    // A world-readable file is refused.
    std::fs::write(&file, "alice::8846f7eaee8fb117ad06bdd830b7586c\n").unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let o = msrpc(&["users", "list", f], "");
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("chmod 600"), "{}", o.stderr);
}
