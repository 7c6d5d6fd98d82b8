//! Shared by the Samba interop tests: samba-dcerpcd on a loopback address of its own (through
//! tests/interop/samba-dcerpcd.sh), a passdb user, and the mgmt constants.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use msrpc_ndr::Uuid;
use msrpc_proto::pdu::SyntaxId;

pub const SAMBA_DCERPCD: &str = "/usr/libexec/samba/samba-dcerpcd";
pub const PASSWORD: &str = "Msrpc-test-pw1";
/// The smb.conf `netbios name` of tests/interop/samba-dcerpcd.sh (the standalone SAM).
pub const DOMAIN: &str = "MSRPCSAMBA";

/// mgmt (DCE/RPC management interface) v1.0.
pub const MGMT: SyntaxId = SyntaxId::new(
    Uuid::from_u128(0xafa8bd80_7d8a_11c9_bef4_08002b102989),
    1,
    0,
);
pub const MGMT_INQ_IF_IDS: u16 = 0;
/// The endpoint mapper's uuid e1af8308-5d1f-11c9-91a4-08002b14a0fa in NDR (little-endian).
pub const EPM_UUID_LE: [u8; 16] = [
    0x08, 0x83, 0xaf, 0xe1, 0x1f, 0x5d, 0xc9, 0x11, 0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa,
];

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/samba-dcerpcd.sh")
}

/// Stops samba-dcerpcd when dropped (also on panic).
pub struct Samba {
    dir: PathBuf,
}

impl Samba {
    /// Starts samba-dcerpcd on `addr` (port 135) with a private configuration.
    pub fn start(addr: &str) -> Samba {
        assert!(
            Path::new(SAMBA_DCERPCD).exists(),
            "{SAMBA_DCERPCD} is missing: install the Debian packages samba and samba-common-bin"
        );
        let dir = std::env::temp_dir().join(format!("msrpc-samba-{addr}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let samba = Samba { dir };
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(&samba.dir)
            .arg(addr)
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

    /// The smb.conf path.
    pub fn conf(&self) -> PathBuf {
        self.dir.join("smb.conf")
    }

    /// Samba's log files, for failure messages.
    pub fn logs(&self) -> String {
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
    pub fn add_user(&self, user: &str, password: &str) {
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
/// mgmt inq_if_ids with the response stub Samba sent (already verified and unsealed).
pub async fn inq_if_ids(
    client: &msrpc_rt::Client,
) -> Result<Vec<u8>, msrpc_proto::dispatch::CallError> {
    use msrpc_proto::dispatch::Invoke;
    let r = client
        .invoke(
            MGMT,
            MGMT_INQ_IF_IDS,
            None,
            Vec::new(),
            msrpc_ndr::DataRep::LITTLE_ENDIAN,
        )
        .await?;
    assert_eq!(r.drep, msrpc_ndr::DataRep::LITTLE_ENDIAN);
    Ok(r.stub)
}

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
