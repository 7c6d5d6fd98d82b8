//! Running the built binaries and talking to them: a child process with its stdout lines and
//! stderr text, bounded waits, and endpoint-map queries.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use msrpc_epm::{EptClient, EptLookupRequest, Tower, RPC_C_EP_ALL_ELTS};
use msrpc_ndr::{ContextHandle, Unique};
use msrpc_rt::{Client, ClientOptions};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// The longest any single wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(20);

pub const MSRPCD: &str = env!("CARGO_BIN_EXE_msrpcd");
pub const ECHO_SERVICE: &str = env!("CARGO_BIN_EXE_msrpc-echo-service");

/// A spawned binary.
pub struct Proc {
    pub name: String,
    pub child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Proc {
    pub fn spawn(program: &str, args: &[&str]) -> Proc {
        Self::spawn_cmd(Command::new(program), program, args)
    }

    /// Spawns `program args` through `cmd` (which may be a wrapper such as `setpriv`).
    pub fn spawn_cmd(mut cmd: Command, program: &str, args: &[&str]) -> Proc {
        let mut child = cmd
            .args(args)
            .env("RUST_LOG", "info")
            .env_remove("XDG_RUNTIME_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {program}: {e}"));
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let all = stdout.clone();
        tokio::spawn(async move {
            let mut r = BufReader::new(out).lines();
            while let Ok(Some(line)) = r.next_line().await {
                all.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let name = Path::new(program)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        Proc {
            name,
            child,
            lines,
            stdout,
            stderr,
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// The next stdout line starting with `prefix` (earlier lines are consumed).
    pub async fn line(&mut self, prefix: &str) -> String {
        let wait = async {
            while let Some(l) = self.lines.recv().await {
                if l.starts_with(prefix) {
                    return Some(l);
                }
            }
            None
        };
        match tokio::time::timeout(WAIT, wait).await {
            Ok(Some(l)) => l,
            other => panic!(
                "{}: no stdout line starting with {prefix:?} ({}); stdout: {:?}; stderr:\n{}",
                self.name,
                if other.is_err() {
                    "timed out"
                } else {
                    "exited"
                },
                self.stdout(),
                self.stderr()
            ),
        }
    }

    /// The address at the end of a line `PREFIX ADDR`.
    pub async fn addr_line(&mut self, prefix: &str) -> SocketAddr {
        let l = self.line(prefix).await;
        l.rsplit(' ').next().unwrap().parse().unwrap()
    }

    /// The address of the `/metrics` responder, from msrpcd's "metrics on http://ADDR/metrics".
    pub async fn metrics_addr(&mut self) -> SocketAddr {
        let m = self.line("metrics on http://").await;
        m.trim_start_matches("metrics on http://")
            .trim_end_matches("/metrics")
            .parse()
            .unwrap()
    }

    pub fn pid(&self) -> i32 {
        self.child.id().unwrap() as i32
    }

    pub fn signal(&self, sig: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.pid()).unwrap();
        rustix::process::kill_process(pid, sig).unwrap();
    }

    /// SIGTERM, then the exit status.
    pub async fn terminate(&mut self) -> ExitStatus {
        self.signal(rustix::process::Signal::TERM);
        self.wait().await
    }

    /// SIGKILL (`kill -9`), then wait for the exit.
    pub async fn kill9(&mut self) {
        self.child.start_kill().unwrap();
        self.wait().await;
    }

    pub async fn wait(&mut self) -> ExitStatus {
        match tokio::time::timeout(WAIT, self.child.wait()).await {
            Ok(s) => s.unwrap(),
            Err(_) => panic!("{} did not exit; stderr:\n{}", self.name, self.stderr()),
        }
    }

    /// Waits for the exit and for stderr to be read to its end.
    pub async fn exit(&mut self) -> (ExitStatus, String) {
        let status = self.wait().await;
        // The reader task finishes right after the pipe closes.
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if !self.stderr().is_empty() {
                break;
            }
        }
        (status, self.stderr())
    }
}

/// Runs `program args` to its end: (status, stdout, stderr).
pub async fn run(program: &str, args: &[&str]) -> (ExitStatus, String, String) {
    let out = tokio::time::timeout(
        WAIT,
        Command::new(program)
            .args(args)
            .env_remove("XDG_RUNTIME_DIR")
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("timed out")
    .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn opts() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(5),
        call_timeout: Some(Duration::from_secs(10)),
        ..ClientOptions::default()
    }
}

pub async fn connect(addr: SocketAddr) -> Client {
    tokio::time::timeout(WAIT, Client::connect_addr(addr, opts()))
        .await
        .expect("connect timed out")
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"))
}

/// One endpoint-map element as `ept_lookup` lists it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub annotation: String,
    pub tower: Tower,
}

/// Every element of the endpoint map at `epm` (`ept_lookup` of all elements, following the
/// handle).
pub async fn lookup_all(epm: SocketAddr) -> Vec<Listed> {
    let client = connect(epm).await;
    let ept = EptClient::new(client.clone());
    let mut handle = ContextHandle::NULL;
    let mut out = Vec::new();
    for _ in 0..100 {
        let r = tokio::time::timeout(
            WAIT,
            ept.ept_lookup(EptLookupRequest {
                inquiry_type: RPC_C_EP_ALL_ELTS,
                object: Unique::null(),
                interface_id: Unique::null(),
                vers_option: 0,
                entry_handle: handle,
                max_ents: 50,
            }),
        )
        .await
        .expect("ept_lookup timed out")
        .unwrap();
        for e in &r.entries {
            let tower = Tower::from_twr(e.tower.get().unwrap()).unwrap();
            out.push(Listed {
                annotation: e.annotation.clone(),
                tower,
            });
        }
        handle = r.entry_handle;
        if handle.is_null() {
            break;
        }
    }
    client.close();
    out
}

/// Polls `lookup_all(epm)` until `pred` holds (at most [`WAIT`]); returns the last listing.
pub async fn lookup_until(
    epm: SocketAddr,
    what: &str,
    pred: impl Fn(&[Listed]) -> bool,
) -> Vec<Listed> {
    let start = tokio::time::Instant::now();
    loop {
        let l = lookup_all(epm).await;
        if pred(&l) {
            return l;
        }
        if start.elapsed() > WAIT {
            panic!("not within {WAIT:?}: {what}; map: {l:#?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The TCP port of a listed element with `annotation`, if any.
pub fn port_of(listing: &[Listed], annotation: &str) -> Option<u16> {
    listing
        .iter()
        .filter(|l| l.annotation == annotation)
        .find_map(|l| match l.tower.endpoint() {
            Some(msrpc_epm::tower::Endpoint::Port(p)) => Some(p),
            _ => None,
        })
}

/// The audit log's events (JSON lines), parsed; a line that is not JSON fails the test.
pub fn audit_events(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A bind (call_id 1, NDR20) offering one context for `syntax`, as bytes.
pub fn bind_pdu(syntax: msrpc_proto::pdu::SyntaxId) -> Vec<u8> {
    use msrpc_proto::pdu::{
        Bind, Body, ContextElement, Header, PacketType, Pdu, PfcFlags, SyntaxId,
    };
    Pdu {
        header: Header::new(PacketType::BIND, PfcFlags::FIRST_AND_LAST, 1),
        body: Body::Bind(Bind {
            max_xmit_frag: 4280,
            max_recv_frag: 4280,
            assoc_group_id: 0,
            contexts: vec![ContextElement {
                context_id: 0,
                abstract_syntax: syntax,
                transfer_syntaxes: vec![SyntaxId::NDR20],
            }],
        }),
        auth: None,
    }
    .encode()
    .unwrap()
}
