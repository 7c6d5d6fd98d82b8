//! The harness shared by the tests against Samba: start and stop a samba-dcerpcd instance on a
//! loopback address (tests/interop/samba-dcerpcd.sh), add a user, run `rpcclient` and read what
//! it prints, and connect our clients to it unauthenticated, under NTLM privacy or big-endian;
//! and, for the tests hosting our generated servers, the endpoint mapper that lists them.
//!
//! Needs root (a loopback address, port 135) and the Debian packages samba,
//! samba-common-bin and smbclient (rpcclient); fails loudly when they are missing.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use msrpc_epm::db::{EndpointDb, NewEntry};
use msrpc_epm::{EpmService, EptServer, Tower};
use msrpc_ndr::Uuid;
use msrpc_ntlm::NtlmClient;
use msrpc_proto::dispatch::Invoke;
use msrpc_proto::pdu::{AuthLevel, SyntaxId};
use msrpc_proto::security::SecurityProvider;
use msrpc_rt::{Client, ClientAuth, ClientOptions};

pub const PASSWORD: &str = "Msrpc-test-pw1";
/// The smb.conf `netbios name` and `workgroup` of tests/interop/samba-dcerpcd.sh.
pub const NETBIOS: &str = "MSRPCSAMBA";
pub const WORKGROUP: &str = "MSRPCTEST";
pub const SAMBA_DCERPCD: &str = "/usr/libexec/samba/samba-dcerpcd";

// ---------------------------------------------------------------------------------------------
// Samba
// ---------------------------------------------------------------------------------------------

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/samba-dcerpcd.sh")
}

/// samba-dcerpcd with two shares; stopped when dropped (also on panic).
pub struct Samba {
    dir: PathBuf,
    addr: String,
}

impl Samba {
    /// Starts samba-dcerpcd on `addr` (port 135 there, so root), with `extra_conf` (smb.conf
    /// text, shares for instance; the directory `SHARES` in it is replaced by a scratch
    /// directory of this instance) added to the configuration.
    pub fn start(addr: &str, extra_conf: &str) -> Samba {
        assert!(
            Path::new(SAMBA_DCERPCD).exists(),
            "{SAMBA_DCERPCD} is missing: install the Debian packages samba samba-common-bin \
             smbclient"
        );
        let dir =
            std::env::temp_dir().join(format!("msrpc-windows-samba-{}-{addr}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("shares")).unwrap();
        let extra = dir.join("extra.conf");
        let shares = dir.join("shares");
        std::fs::write(
            &extra,
            extra_conf.replace("SHARES", &shares.display().to_string()),
        )
        .unwrap();
        let samba = Samba {
            dir,
            addr: addr.to_string(),
        };
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(samba.dir.join("samba"))
            .arg(addr)
            .env("SAMBA_EXTRA_CONF", &extra)
            .output()
            .expect("run samba-dcerpcd.sh");
        assert!(
            out.status.success(),
            "samba-dcerpcd did not start on {addr}:135 (needs root): {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(samba.dir.join("samba/samba-dcerpcd.out")).unwrap_or_default()
        );
        samba
    }

    /// The instance's smb.conf.
    pub fn conf(&self) -> PathBuf {
        self.dir.join("samba/smb.conf")
    }

    /// Adds `user` (an existing Unix account) to Samba's passdb.
    pub fn add_user(&self, user: &str) {
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
            .write_all(format!("{PASSWORD}\n{PASSWORD}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "pdbedit -a -u {user}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `rpcclient -c COMMAND` as `user` (anonymous when `None`), stdout and stderr together;
    /// `debug` adds `-d 10`, under which rpcclient prints every structure it decoded.
    pub fn rpcclient(&self, user: Option<&str>, command: &str, debug: bool) -> String {
        let (ok, text) = self.rpcclient_status(user, command, debug);
        assert!(ok, "rpcclient -c '{command}' failed: {text}");
        text
    }

    /// [`Samba::rpcclient`] for a command whose exit status says nothing about the part read
    /// (`winreg_enumkey` fails after opening the key when the key has no such subkey).
    pub fn rpcclient_status(
        &self,
        user: Option<&str>,
        command: &str,
        debug: bool,
    ) -> (bool, String) {
        let creds = match user {
            Some(u) => format!("-U{u}%{PASSWORD}"),
            None => "-U%".to_string(),
        };
        run_rpcclient(
            Some(&self.conf()),
            &creds,
            &format!("ncacn_ip_tcp:{}", self.addr),
            command,
            debug,
        )
    }
}

impl Drop for Samba {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.join("samba"))
            .status();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A Unix account for the Samba user: `daemon` (present on Debian), else one created.
pub fn unix_user() -> String {
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

// ---------------------------------------------------------------------------------------------
// What rpcclient prints
// ---------------------------------------------------------------------------------------------

/// The `name : value` lines of the `out:` structure `name` in rpcclient's `-d 10` output,
/// in order, pointers (`*`) left out; quoted strings unquoted, `0x.. (n)` and `NAME (n)` as
/// `n`.
pub fn dump_out(text: &str, name: &str) -> Vec<(String, String)> {
    let anchor = format!("out: struct {name}");
    let start = text
        .find(&anchor)
        .unwrap_or_else(|| panic!("rpcclient printed no {anchor}:\n{text}"));
    let mut fields = Vec::new();
    for line in text[start + anchor.len()..].lines().skip(1) {
        let Some((k, v)) = line.split_once(" : ") else {
            if line.trim_start().starts_with("out: struct") {
                break;
            }
            continue;
        };
        let (k, v) = (k.trim().to_string(), v.trim());
        if v == "*" {
            continue;
        }
        let v = if let Some(s) = v.strip_prefix('\'') {
            s.trim_end_matches('\'').to_string()
        } else if let (Some(open), true) = (v.rfind('('), v.ends_with(')')) {
            v[open + 1..v.len() - 1].to_string()
        } else {
            v.to_string()
        };
        let last = k == "result";
        fields.push((k, v));
        if last {
            break;
        }
    }
    fields
}

pub fn field<'a>(fields: &'a [(String, String)], key: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key} in {fields:?}"))
}

pub fn num(fields: &[(String, String)], key: &str) -> i64 {
    let v = field(fields, key);
    v.parse()
        .unwrap_or_else(|_| panic!("{key} = {v:?} is not a number"))
}

/// The value after `label` on the first line that has it (`label` included the separator).
pub fn after<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.split_once(label).map(|(_, v)| v.trim()))
        .unwrap_or_else(|| panic!("rpcclient printed no {label:?}:\n{text}"))
}

// ---------------------------------------------------------------------------------------------
// Our side
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
pub enum Mode {
    Anonymous,
    Privacy,
    /// Unauthenticated, big-endian requests (Samba reads them; its answers stay little-endian:
    /// our big-endian decoding is checked against Samba's NDR engine in tests/tests/samba_ndr.rs).
    BigEndian,
}

pub fn opts(mode: Mode, user: &str) -> ClientOptions {
    let mut o = ClientOptions {
        call_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    if let Mode::BigEndian = mode {
        o.config.drep = msrpc_ndr::DataRep::BIG_ENDIAN;
    }
    if let Mode::Privacy = mode {
        let user = user.to_string();
        o.auth = Some(ClientAuth::new(AuthLevel::PKT_PRIVACY, move || {
            Box::new(NtlmClient::new(&user, NETBIOS, PASSWORD)) as Box<dyn SecurityProvider>
        }));
    }
    o
}

/// A client for `syntax` on samba-dcerpcd at `addr`, found through its endpoint mapper; checks
/// that NDR20 was negotiated.
pub async fn connect(addr: &str, mode: Mode, user: &str, syntax: SyntaxId) -> Client {
    let c = Client::connect_via_epm(addr, syntax, opts(mode, user))
        .await
        .unwrap_or_else(|e| panic!("{mode:?}: connect to {syntax} through {addr}:135: {e}"));
    // Our client offers NDR20 and NDR64; Samba accepts NDR20.
    let t = c.transfer_syntax(syntax).await.unwrap();
    assert_eq!(t, msrpc_ndr::TransferSyntax::Ndr20, "{mode:?}: {syntax}");
    c
}

/// An endpoint mapper for a test server on `addr`:135 listing `interfaces` there over
/// `ncacn_ip_tcp` (rpcclient, python3-samba and Impacket look interfaces up in it).
pub fn epm_listing(addr: &str, interfaces: &[SyntaxId]) -> EptServer<EpmService> {
    let ip = addr.parse().unwrap();
    let mut db = EndpointDb::new();
    db.register(
        1,
        interfaces
            .iter()
            .map(|&i| {
                NewEntry::new(
                    Uuid::nil(),
                    Tower::ncacn_ip_tcp(i, SyntaxId::NDR20, ip, 135),
                    "msrpc-windows test",
                )
            })
            .collect(),
        false,
    )
    .unwrap();
    EptServer::new(EpmService::new(std::sync::Arc::new(std::sync::Mutex::new(
        db,
    ))))
}

/// `rpcclient BINDING -c COMMAND` (Samba's client; `-s CONF` when given, `creds` as `-UUSER%PW`
/// or `-U%`, `-d 10` when `debug`, under which it prints every structure it decoded), within
/// 60 s: whether it exited 0, and its stdout then stderr.
pub fn run_rpcclient(
    conf: Option<&Path>,
    creds: &str,
    binding: &str,
    command: &str,
    debug: bool,
) -> (bool, String) {
    let mut cmd = Command::new("timeout");
    cmd.args(["60", "rpcclient"]);
    if let Some(conf) = conf {
        cmd.arg("-s").arg(conf);
    }
    if debug {
        cmd.args(["-d", "10"]);
    }
    let out = cmd
        .args([creds, binding, "-c", command])
        .output()
        .expect("run rpcclient (Debian package smbclient)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
