//! SamrConnect5 and the registry reads of winreg against Samba's samba-dcerpcd (a standalone
//! server of its own on 127.0.10.1, started with the shared harness, plus Samba's smbd there
//! on port 1445 so `net rpc registry` can reach winreg over SMB), unauthenticated, under
//! NTLM at packet privacy and big-endian, each result compared with what a client we did not
//! write gets from the same server:
//!
//! - samr: `SamrConnect5` (revision exchange, handle) and the domains listed through its
//!   handle, against `rpcclient -d 10 -c enumdomains`, which connects with `samr_Connect5`
//!   and prints the structures it decoded;
//! - winreg: `OpenLocalMachine`, `BaseRegOpenKey` of
//!   `SOFTWARE\Microsoft\Windows NT\CurrentVersion`, `BaseRegQueryInfoKey`, every
//!   `BaseRegEnumKey` and `BaseRegEnumValue`, `BaseRegQueryValue` of `CurrentVersion`, against
//!   `net rpc registry enumerate` / `getvalue` (and `net -d 10`'s decoded
//!   `winreg_QueryInfoKey`); `BaseRegGetVersion` against python3-samba's `winreg.GetVersion`;
//! - netlogon: a standalone Samba does not register it with its endpoint mapper; rpcclient's
//!   netlogon commands fail to find it, and so must our client (the netlogon stubs are checked
//!   against Samba's NDR engine by `tests/tests/samba_ndr.rs` instead).
//!
//! Needs root (a loopback address, port 135) and the Debian packages samba,
//! samba-common-bin, smbclient and python3-samba; fails loudly when they are missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use msrpc_ndr::{ContextHandle, Unique};
use msrpc_proto::dispatch::Interface;
use msrpc_proto::pdu::SyntaxId;
use msrpc_rt::Client;
use msrpc_windows::{netlogon, samr, winreg};

mod common;
use common::{dump_out, field, num, unix_user, Mode, Samba};

const ADDR: &str = "127.0.10.1";
const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
/// A key Samba's registry has, with subkeys and string values.
const KEY: &str = "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion";
const VALUE: &str = "CurrentVersion";
/// ERROR_NO_MORE_ITEMS: the end of an enumeration.
const NO_MORE_ITEMS: u32 = 259;
const SMB_PORT: u16 = 1445;

async fn connect(mode: Mode, user: &str, syntax: SyntaxId) -> Client {
    common::connect(ADDR, mode, user, syntax).await
}

// ---------------------------------------------------------------------------------------------
// smbd beside samba-dcerpcd, for `net rpc registry` (which reaches winreg over SMB)
// ---------------------------------------------------------------------------------------------

/// Samba's smbd on the instance's configuration; killed (by its process id) when dropped.
struct Smbd(Child);

impl Smbd {
    fn start(conf: &Path) -> Smbd {
        let child = Command::new("/usr/sbin/smbd")
            .arg("-s")
            .arg(conf)
            .args(["-F", "--no-process-group"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run /usr/sbin/smbd (Debian package samba)");
        let smbd = Smbd(child);
        let addr = format!("{ADDR}:{SMB_PORT}");
        for _ in 0..100 {
            if std::net::TcpStream::connect(&addr).is_ok() {
                return smbd;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("smbd did not open {addr}");
    }
}

impl Drop for Smbd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `net rpc registry ARGS` against the instance, anonymously; stdout and stderr.
fn net(conf: &Path, debug: bool, args: &[&str]) -> String {
    let mut cmd = Command::new("timeout");
    cmd.args(["60", "net", "-s"]).arg(conf);
    if debug {
        cmd.args(["-d", "10"]);
    }
    let out = cmd
        .args(["rpc", "registry"])
        .args(args)
        .args(["-S", ADDR, "-p", &SMB_PORT.to_string(), "-U%"])
        .output()
        .expect("run net (Debian package samba-common-bin)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "net rpc registry {args:?}: {text}");
    text
}

/// What `net rpc registry enumerate` prints: subkey names, and (name, type, value) for each
/// value, in order.
struct Enumerated {
    keys: Vec<String>,
    values: Vec<(String, String, String)>,
}

fn parse_enumerate(text: &str) -> Enumerated {
    let after_eq = |l: &str, label: &str| {
        l.strip_prefix(label)
            .and_then(|r| r.trim_start().strip_prefix('='))
            .map(|v| v.trim().to_string())
    };
    let mut keys = Vec::new();
    let mut values = Vec::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if let Some(k) = after_eq(l, "Keyname") {
            keys.push(k);
        } else if let Some(name) = after_eq(l, "Valuename") {
            let ty = lines.next().and_then(|l| after_eq(l, "Type")).unwrap();
            let value = lines.next().and_then(|l| after_eq(l, "Value")).unwrap();
            values.push((name, ty, value.trim_matches('"').to_string()));
        }
    }
    Enumerated { keys, values }
}

/// python3-samba's winreg client: `GetVersion` of HKLM.
fn samba_python_get_version(conf: &Path) -> u32 {
    let script = format!(
        "from samba.dcerpc import winreg\n\
         from samba import param, credentials\n\
         lp = param.LoadParm(); lp.load({conf:?})\n\
         c = credentials.Credentials(); c.guess(lp); c.set_anonymous()\n\
         w = winreg.winreg('ncacn_ip_tcp:{ADDR}', lp, c)\n\
         h = w.OpenHKLM(None, {MAXIMUM_ALLOWED})\n\
         print(w.GetVersion(h))\n",
        conf = conf.display().to_string()
    );
    let out = Command::new("/usr/bin/python3")
        .args(["-c", &script])
        .output()
        .expect("run /usr/bin/python3 (with python3-samba)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python3-samba winreg GetVersion: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.trim().parse().unwrap()
}

// ---------------------------------------------------------------------------------------------
// samr: SamrConnect5
// ---------------------------------------------------------------------------------------------

fn samr_text(s: &samr::RpcUnicodeString) -> String {
    String::from_utf16(s.buffer.get().map(Vec::as_slice).unwrap_or_default()).unwrap()
}

async fn check_connect5(mode: Mode, user: &str, theirs: &[(String, String)], domains: &[String]) {
    let conn = connect(mode, user, samr::SamrInterface::SYNTAX).await;
    let c = samr::SamrClient::new(conn.clone());
    // What rpcclient sends: revision 2 (SAMR_CONNECT_W2K), no features.
    let r = c
        .samr_connect5(samr::SamrConnect5Request {
            server_name: Some(format!("\\\\{ADDR}")),
            desired_access: MAXIMUM_ALLOWED,
            in_version: 1,
            in_revision_info: samr::SamprRevisionInfo::V1(samr::SamprRevisionInfoV1 {
                revision: 2,
                supported_features: 0,
            }),
        })
        .await
        .unwrap();
    assert_eq!(field(theirs, "result"), "NT_STATUS_OK");
    assert_eq!(r.result, 0, "{mode:?}: SamrConnect5");
    assert_eq!(
        i64::from(r.out_version),
        num(theirs, "level_out"),
        "{mode:?}"
    );
    let samr::SamprRevisionInfo::V1(v1) = &r.out_revision_info;
    assert_eq!(
        i64::from(v1.revision),
        num(theirs, "client_version"),
        "{mode:?}: the server's revision"
    );
    assert_eq!(
        i64::from(v1.supported_features),
        num(theirs, "supported_features"),
        "{mode:?}: the server's features"
    );
    assert!(!r.server_handle.is_null(), "{mode:?}");

    // The handle works: the domains through it are rpcclient's.
    let e = c
        .samr_enumerate_domains_in_sam_server(samr::SamrEnumerateDomainsInSamServerRequest {
            server_handle: r.server_handle,
            enumeration_context: 0,
            prefered_maximum_length: 0xffff,
        })
        .await
        .unwrap();
    assert_eq!(
        e.result, 0,
        "{mode:?}: EnumerateDomains through Connect5's handle"
    );
    let ours: Vec<String> = e
        .buffer
        .get()
        .and_then(|b| b.buffer.get())
        .map(|v| v.iter().map(|d| samr_text(&d.name)).collect())
        .unwrap_or_default();
    assert_eq!(ours, domains, "{mode:?}: domains");

    let closed = c
        .samr_close_handle(samr::SamrCloseHandleRequest {
            sam_handle: r.server_handle,
        })
        .await
        .unwrap();
    assert_eq!(closed.result, 0);
    assert_eq!(closed.sam_handle, ContextHandle::default());
    conn.close();
}

// ---------------------------------------------------------------------------------------------
// winreg
// ---------------------------------------------------------------------------------------------

/// An RRP_UNICODE_STRING: the text and its terminating null, both counted.
fn rrp(text: &str) -> winreg::RpcUnicodeString {
    let mut units: Vec<u16> = text.encode_utf16().collect();
    units.push(0);
    let n = u16::try_from(units.len() * 2).unwrap();
    winreg::RpcUnicodeString {
        length: n,
        maximum_length: n,
        buffer: Unique::new(units),
    }
}

/// An empty buffer of `bytes` offered for the server to fill (BaseRegEnumKey's lpNameIn).
fn offered(bytes: u16) -> winreg::RpcUnicodeString {
    winreg::RpcUnicodeString {
        length: 0,
        maximum_length: bytes,
        buffer: Unique::new(Vec::new()),
    }
}

/// The text of a returned name (its terminating null, if counted, dropped).
fn reg_text(s: &winreg::RpcUnicodeString) -> String {
    let units = s.buffer.get().map(Vec::as_slice).unwrap_or_default();
    let end = units.iter().position(|&u| u == 0).unwrap_or(units.len());
    String::from_utf16(&units[..end]).unwrap()
}

/// REG_SZ data: UTF-16LE whatever the stub's byte order (the data is bytes), null-terminated.
fn reg_sz(data: &[u8]) -> String {
    let units: Vec<u16> = data
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16(&units).unwrap()
}

fn reg_type_name(t: u32) -> &'static str {
    match t {
        1 => "REG_SZ",
        2 => "REG_EXPAND_SZ",
        3 => "REG_BINARY",
        4 => "REG_DWORD",
        7 => "REG_MULTI_SZ",
        _ => "other",
    }
}

struct RegistryTheirs {
    listed: Enumerated,
    info: Vec<(String, String)>,
    value: String,
    version: u32,
}

async fn check_winreg(mode: Mode, user: &str, theirs: &RegistryTheirs) {
    let conn = connect(mode, user, winreg::WinregInterface::SYNTAX).await;
    let c = winreg::WinregClient::new(conn.clone());
    let hklm = c
        .open_local_machine(winreg::OpenLocalMachineRequest {
            server_name: Some(u16::from(b'\\')),
            sam_desired: MAXIMUM_ALLOWED,
        })
        .await
        .unwrap();
    assert_eq!(hklm.result, 0, "{mode:?}: OpenLocalMachine");
    let hklm = hklm.ph_key;

    let v = c
        .base_reg_get_version(winreg::BaseRegGetVersionRequest { h_key: hklm })
        .await
        .unwrap();
    assert_eq!(v.result, 0, "{mode:?}: BaseRegGetVersion");
    assert_eq!(v.lpdw_version, theirs.version, "{mode:?}: the version");

    let key = c
        .base_reg_open_key(winreg::BaseRegOpenKeyRequest {
            h_key: hklm,
            lp_sub_key: rrp(KEY),
            dw_options: 0,
            sam_desired: MAXIMUM_ALLOWED,
        })
        .await
        .unwrap();
    assert_eq!(key.result, 0, "{mode:?}: BaseRegOpenKey {KEY}");
    assert!(!key.phk_result.is_null());
    let key = key.phk_result;

    let info = c
        .base_reg_query_info_key(winreg::BaseRegQueryInfoKeyRequest {
            h_key: key,
            lp_class_in: winreg::RpcUnicodeString::default(),
        })
        .await
        .unwrap();
    assert_eq!(info.result, 0, "{mode:?}: BaseRegQueryInfoKey");
    let t = &theirs.info;
    assert_eq!(field(t, "result"), "WERR_OK");
    for (ours, name) in [
        (info.lpc_sub_keys, "num_subkeys"),
        (info.lpcb_max_sub_key_len, "max_subkeylen"),
        (info.lpcb_max_class_len, "max_classlen"),
        (info.lpc_values, "num_values"),
        (info.lpcb_max_value_name_len, "max_valnamelen"),
        (info.lpcb_max_value_len, "max_valbufsize"),
        (info.lpcb_security_descriptor, "secdescsize"),
    ] {
        assert_eq!(
            i64::from(ours),
            num(t, name),
            "{mode:?}: QueryInfoKey {name}"
        );
    }
    assert_eq!(reg_text(&info.lp_class_out), "", "{mode:?}: no class");

    // Every subkey, until ERROR_NO_MORE_ITEMS.
    let name_bytes = u16::try_from((info.lpcb_max_sub_key_len + 1) * 2).unwrap();
    let mut keys = Vec::new();
    for index in 0.. {
        let r = c
            .base_reg_enum_key(winreg::BaseRegEnumKeyRequest {
                h_key: key,
                dw_index: index,
                lp_name_in: offered(name_bytes),
                lp_class_in: Some(offered(0)),
                lpft_last_write_time: Some(winreg::Filetime::default()),
            })
            .await
            .unwrap();
        if r.result == NO_MORE_ITEMS {
            break;
        }
        assert_eq!(r.result, 0, "{mode:?}: BaseRegEnumKey {index}");
        keys.push(reg_text(&r.lp_name_out));
        assert!(
            r.lpft_last_write_time.is_some(),
            "{mode:?}: a last write time"
        );
    }
    assert_eq!(keys, theirs.listed.keys, "{mode:?}: subkeys");
    assert_eq!(keys.len() as u32, info.lpc_sub_keys, "{mode:?}");

    // Every value, with its type and data.
    let value_name_bytes = u16::try_from((info.lpcb_max_value_name_len + 1) * 2).unwrap();
    let mut values = Vec::new();
    for index in 0.. {
        let r = c
            .base_reg_enum_value(winreg::BaseRegEnumValueRequest {
                h_key: key,
                dw_index: index,
                lp_value_name_in: offered(value_name_bytes),
                lp_type: Some(0),
                lp_data: Some(Vec::new()),
                lpcb_data: Some(info.lpcb_max_value_len),
                lpcb_len: Some(0),
            })
            .await
            .unwrap();
        if r.result == NO_MORE_ITEMS {
            break;
        }
        assert_eq!(r.result, 0, "{mode:?}: BaseRegEnumValue {index}");
        let ty = r.lp_type.unwrap();
        let data = r.lp_data.unwrap_or_default();
        assert_eq!(Some(data.len() as u32), r.lpcb_len, "{mode:?}: data length");
        let shown = if ty == 1 || ty == 2 {
            reg_sz(&data)
        } else {
            data.iter().map(|b| format!("{b:02x}")).collect()
        };
        values.push((
            reg_text(&r.lp_value_name_out),
            reg_type_name(ty).to_string(),
            shown,
        ));
    }
    assert_eq!(values, theirs.listed.values, "{mode:?}: values");
    assert_eq!(values.len() as u32, info.lpc_values, "{mode:?}");

    // One value by name: sizing first (no buffer: the server says how much), then read.
    let probe = c
        .base_reg_query_value(winreg::BaseRegQueryValueRequest {
            h_key: key,
            lp_value_name: rrp(VALUE),
            lp_type: Some(0),
            lp_data: None,
            lpcb_data: Some(0),
            lpcb_len: Some(0),
        })
        .await
        .unwrap();
    assert!(
        probe.result == 0 || probe.result == 234,
        "{mode:?}: BaseRegQueryValue sizing: {}",
        probe.result
    );
    let needed = probe.lpcb_data.unwrap();
    assert!(needed > 0, "{mode:?}: the size of {VALUE}");
    let q = c
        .base_reg_query_value(winreg::BaseRegQueryValueRequest {
            h_key: key,
            lp_value_name: rrp(VALUE),
            lp_type: Some(0),
            lp_data: Some(Vec::new()),
            lpcb_data: Some(needed),
            lpcb_len: Some(0),
        })
        .await
        .unwrap();
    assert_eq!(q.result, 0, "{mode:?}: BaseRegQueryValue {VALUE}");
    assert_eq!(q.lp_type, Some(1), "{mode:?}: REG_SZ");
    assert_eq!(q.lpcb_len, Some(needed), "{mode:?}");
    assert_eq!(
        reg_sz(&q.lp_data.unwrap()),
        theirs.value,
        "{mode:?}: {VALUE}"
    );

    for h in [key, hklm] {
        let r = c
            .base_reg_close_key(winreg::BaseRegCloseKeyRequest { h_key: h })
            .await
            .unwrap();
        assert_eq!(r.result, 0, "{mode:?}: BaseRegCloseKey");
        assert!(r.h_key.is_null());
    }
    conn.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect5_and_registry_against_samba_rpcclient_and_net() {
    let samba = Samba::start(ADDR, "");
    let user = unix_user();
    samba.add_user(&user);
    let _smbd = Smbd::start(&samba.conf());

    // samr, as rpcclient sees it.
    let text = samba.rpcclient(None, "enumdomains", true);
    let connect5 = dump_out(&text, "samr_Connect5");
    let domains: Vec<String> = samba
        .rpcclient(None, "enumdomains", false)
        .lines()
        .filter_map(|l| {
            let s = l.split_once("name:[")?.1;
            Some(s.split_once(']')?.0.to_string())
        })
        .collect();
    assert!(!domains.is_empty(), "rpcclient enumdomains listed nothing");

    // winreg, as net and python3-samba see it.
    let path = format!("HKLM\\{KEY}");
    let conf = samba.conf();
    let listed = parse_enumerate(&net(&conf, false, &["enumerate", &path]));
    assert!(
        !listed.keys.is_empty() && !listed.values.is_empty(),
        "net rpc registry enumerate {path}: nothing listed"
    );
    let info = dump_out(
        &net(&conf, true, &["enumerate", &path]),
        "winreg_QueryInfoKey",
    );
    let got = net(&conf, false, &["getvalue", &path, VALUE]);
    let value = got
        .lines()
        .find_map(|l| l.trim().strip_prefix("Value"))
        .and_then(|r| r.trim_start().strip_prefix('='))
        .map(|v| v.trim().trim_matches('"').to_string())
        .unwrap_or_else(|| panic!("net rpc registry getvalue printed no value: {got}"));
    eprintln!(
        "rpcclient: samr_Connect5 answers revision {} (features {}), domains {domains:?}; \
         net: {path} has subkeys {:?} and values {:?}",
        field(&connect5, "client_version"),
        field(&connect5, "supported_features"),
        listed.keys,
        listed.values
    );
    let theirs = RegistryTheirs {
        listed,
        info,
        value,
        version: samba_python_get_version(&conf),
    };

    // netlogon: not registered by a standalone server, for rpcclient and for us.
    let (ok, text) = samba.rpcclient_status(None, "dsenumdomtrusts", false);
    assert!(
        !ok && text.contains("NT_STATUS_NOT_FOUND"),
        "rpcclient found netlogon on a standalone Samba: {text}"
    );
    let r = Client::connect_via_epm(
        ADDR,
        netlogon::LogonInterface::SYNTAX,
        common::opts(Mode::Anonymous, &user),
    )
    .await;
    assert!(
        r.is_err(),
        "our client found a netlogon endpoint rpcclient does not"
    );

    for mode in [Mode::Anonymous, Mode::Privacy, Mode::BigEndian] {
        check_connect5(mode, &user, &connect5, &domains).await;
        check_winreg(mode, &user, &theirs).await;
        eprintln!("{mode:?}: SamrConnect5 and winreg agree with rpcclient, net and python3-samba");
    }
}
