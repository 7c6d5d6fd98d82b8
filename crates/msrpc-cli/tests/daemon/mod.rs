//! What the tests that run the built `msrpc` and `msrpcd` binaries share: where the binaries
//! are, a child process killed when dropped, adding a user to a users file, and reading a
//! daemon's stdout until the lines that say it is ready.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The `msrpc` binary cargo built for this test.
pub fn msrpc_bin() -> &'static str {
    env!("CARGO_BIN_EXE_msrpc")
}

/// The `msrpcd` binary beside it (a workspace build makes it), or a panic that says how.
pub fn msrpcd_bin() -> PathBuf {
    let p = Path::new(msrpc_bin()).with_file_name("msrpcd");
    assert!(
        p.exists(),
        "{} is missing: build it first (cargo build -p msrpcd); cargo test --workspace does",
        p.display()
    );
    p
}

/// A child process killed (and reaped) when dropped, also on panic.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `msrpc users add USERS NAME`, the password given on standard input.
pub fn add_user(users: &Path, name: &str, password: &str) {
    let mut add = Command::new(msrpc_bin())
        .args(["users", "add", users.to_str().unwrap(), name])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(add.stdin.take().unwrap(), "{password}").unwrap();
    assert!(add.wait().unwrap().success(), "msrpc users add {name}");
}

/// `child`'s stdout, line by line, read to its end by a thread (even once nobody listens: a
/// closed pipe would kill a daemon at its next line).
pub fn stdout_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let out = child.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// Hands each line to `done` until it returns true; panics with `what` when no line comes
/// for 20 s.
pub fn wait_lines(rx: &mpsc::Receiver<String>, what: &str, mut done: impl FnMut(&str) -> bool) {
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{what} within 20 s"));
        if done(&line) {
            return;
        }
    }
}
