//! The generated spoolss (MS-RPRN) client against Samba's rpcd_spoolss, started by
//! samba-dcerpcd on 127.0.13.1 with two printers (a BSD printcap file, `load printers`), and
//! compared with what Samba's own client, `rpcclient`, prints for the same server.
//!
//! Samba serves spoolss on `ncacn_np` and `ncalrpc` only (its IDL lists no `ncacn_ip_tcp`
//! endpoint), and msrpc has no SMB client, so the test asks the endpoint mapper (over TCP,
//! port 135) where spoolss is, checks that no TCP tower is registered, and connects to the
//! `ncalrpc` endpoint it names: a Unix socket in Samba's `ncalrpc dir`, where Samba speaks
//! the connection-oriented protocol as over TCP. rpcclient is pointed at the same endpoint.
//! Every call runs unauthenticated, under NTLM at packet privacy, and unauthenticated with
//! big-endian PDUs.
//!
//! What Samba does over `ncalrpc` that a Windows server over TCP would not: opening a
//! *printer* (not the server) fails with WERR_NOT_ENOUGH_MEMORY, because Samba's
//! `_spoolss_OpenPrinterEx` wants the client's IP address and a Unix socket has none;
//! rpcclient's `getprinter` fails the same way, and the test checks both. RpcGetPrinter is
//! therefore called on the server handle (where Samba serves level 3, the server's security
//! descriptor) and the printers' level 1 and 2 data are read from RpcEnumPrinters instead.
//!
//! The Get/Enum operations return MS-RPRN 2.2.2's custom-marshaled INFO structures in a byte
//! buffer; `Flat` below reads them (fixed parts of 32-bit fields, strings at offsets from the
//! start of each fixed part).
//!
//! Needs root (a loopback address, port 135) and the Debian packages samba,
//! samba-common-bin and smbclient (rpcclient); fails loudly when they are missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use msrpc_epm::tower::{Floor, Tower};
use msrpc_epm::{EptClient, EptLookupRequest, RPC_C_EP_ALL_ELTS, RPC_C_VERS_ALL};
use msrpc_ndr::{ContextHandle, Unique};
use msrpc_proto::dispatch::{Interface, Invoke};
use msrpc_proto::pdu::SyntaxId;
use msrpc_rt::Client;
use msrpc_windows::spoolss::{self as sp, WinspoolClient};

mod common;
use common::{unix_user, Mode, Samba, PASSWORD};

const ADDR: &str = "127.0.13.1";
/// The server name we open and enumerate with (Samba's `netbios name`).
const SERVER: &str = "\\\\MSRPCSAMBA";
const PRINTERS: [(&str, &str); 2] = [
    ("msrpcprn1", "First test printer"),
    ("msrpcprn2", "Second printer"),
];

const ERROR_INSUFFICIENT_BUFFER: u32 = 122;
const ERROR_INVALID_LEVEL: u32 = 124;
const ERROR_NOT_ENOUGH_MEMORY: u32 = 8;
const PRINTER_ENUM_LOCAL: u32 = 0x2;
const SERVER_READ: u32 = 0x0002_0002;

/// A directory of this test's own (the printcap file must exist before Samba starts).
fn scratch() -> PathBuf {
    let d = std::env::temp_dir().join(format!("msrpc-spoolss-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn spoolss_conf(printcap: &Path) -> String {
    // Global options first (they follow the harness's [global]), then the printers share.
    format!(
        "  load printers = yes\n  printing = bsd\n  printcap name = {}\n  disable spoolss = no\n  print notify backchannel = yes\n\
         [printers]\n  path = SHARES\n  printable = yes\n  guest ok = yes\n  comment = All printers\n",
        printcap.display()
    )
}

fn write_printcap(dir: &Path) -> PathBuf {
    let mut text = String::new();
    for (name, comment) in PRINTERS {
        text.push_str(&format!("{name}|{comment}:\\\n  :lp=/dev/null:\n"));
    }
    let p = dir.join("printcap");
    std::fs::write(&p, text).unwrap();
    p
}

// ---------------------------------------------------------------------------------------------
// rpcclient over ncalrpc
// ---------------------------------------------------------------------------------------------

/// `rpcclient -c COMMAND` on the spoolss `ncalrpc` endpoint `port` (as `user`, anonymous when
/// `None`); stdout and stderr together, and whether it exited 0.
fn rpcclient(samba: &Samba, port: &str, user: Option<&str>, command: &str) -> (bool, String) {
    let creds = match user {
        Some(u) => format!("-U{u}%{PASSWORD}"),
        None => "-U%".to_string(),
    };
    common::run_rpcclient(
        Some(&samba.conf()),
        &creds,
        &format!("ncalrpc:[{port}]"),
        command,
        false,
    )
}

/// The `key:[value]` pairs rpcclient prints, grouped in blocks separated by blank lines.
fn bracket_blocks(text: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks = Vec::new();
    let mut cur = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() {
            if !cur.is_empty() {
                blocks.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if let Some((k, v)) = l.split_once(":[") {
            if let Some(v) = v.strip_suffix(']') {
                cur.push((k.trim().to_string(), v.to_string()));
            }
        } else if let Some((k, v)) = l.split_once(":\t[") {
            if let Some(v) = v.strip_suffix(']') {
                cur.push((k.trim().to_string(), v.to_string()));
            }
        }
    }
    if !cur.is_empty() {
        blocks.push(cur);
    }
    blocks
}

fn get<'a>(block: &'a [(String, String)], key: &str) -> &'a str {
    block
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key} in {block:?}"))
}

fn hex_u32(s: &str) -> u32 {
    u32::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

/// What rpcclient says about the server, gathered once.
struct Theirs {
    printers1: Vec<Vec<(String, String)>>,
    printers2: Vec<Vec<(String, String)>>,
    ports1: Vec<String>,
    ports2: Vec<Vec<(String, String)>>,
    driver_dir_x86: String,
    driver_dir_x64: String,
    drivers: String,
    architecture: String,
    major_version: String,
    spool_dir: String,
    getprinter: String,
    /// `enummonitors 2`: (name, environment, DLL).
    monitors: Vec<(String, String, String)>,
    /// `enumprocs`: the print processors of "Windows NT x86".
    processors: Vec<String>,
    /// `getprintprocdir [ENV]` for "Windows NT x86" and "Windows x64".
    procdirs: [String; 2],
    /// `enumprocdatatypes winprint`.
    datatypes: Vec<String>,
}

/// The values of the `key: value` lines rpcclient prints, in order.
fn colon_values(text: &str, key: &str) -> Vec<String> {
    let prefix = format!("{key}: ");
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(&prefix).map(str::to_string))
        .collect()
}

impl Theirs {
    fn gather(samba: &Samba, port: &str, user: &str) -> Theirs {
        let run = |c: &str| {
            let (ok, t) = rpcclient(samba, port, Some(user), c);
            assert!(ok, "rpcclient -c '{c}' failed: {t}");
            t
        };
        let server = SERVER.replace('\\', "\\\\");
        let printers1 = bracket_blocks(&run(&format!("enumprinters 1 {server}")));
        let printers2: Vec<_> = bracket_blocks(&run(&format!("enumprinters 2 {server}")))
            .into_iter()
            .filter(|b| b.iter().any(|(k, _)| k == "printername"))
            .collect();
        let ports1 = bracket_blocks(&run("enumports 1"))
            .into_iter()
            .flatten()
            .map(|(_, v)| v)
            .collect();
        let ports2 = bracket_blocks(&run("enumports 2"));
        let dir = |env: &str| {
            let t = run(&format!("getdriverdir \"{env}\""));
            bracket_blocks(&t)
                .into_iter()
                .flatten()
                .find(|(k, _)| k == "Directory Name")
                .map(|(_, v)| v)
                .unwrap_or_else(|| panic!("getdriverdir printed no directory: {t}"))
        };
        let data = |name: &str| {
            let t = run(&format!("getdata . {name}"));
            let prefix = format!("{name}: ");
            t.lines()
                .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
                .unwrap_or_else(|| panic!("getdata {name} printed {t}"))
        };
        let (_, getprinter) = rpcclient(samba, port, Some(user), "getprinter msrpcprn1 2");
        let t = run("enummonitors 2");
        let monitors: Vec<(String, String, String)> = colon_values(&t, "monitor_name")
            .into_iter()
            .zip(colon_values(&t, "environment"))
            .zip(colon_values(&t, "dll_name"))
            .map(|((n, e), d)| (n, e, d))
            .collect();
        assert_eq!(
            colon_values(&run("enummonitors 1"), "monitor_name"),
            monitors.iter().map(|m| m.0.clone()).collect::<Vec<_>>()
        );
        let procdir = |env: &str| {
            let t = run(&format!("getprintprocdir \"{env}\""));
            t.lines()
                .map(str::trim)
                .find(|l| l.starts_with("C:\\"))
                .unwrap_or_else(|| panic!("getprintprocdir printed {t}"))
                .to_string()
        };
        Theirs {
            printers1,
            printers2,
            ports1,
            ports2,
            driver_dir_x86: dir("Windows NT x86"),
            driver_dir_x64: dir("Windows x64"),
            drivers: run("enumdrivers 3"),
            architecture: data("Architecture"),
            major_version: data("MajorVersion"),
            spool_dir: data("DefaultSpoolDirectory"),
            getprinter,
            monitors,
            processors: colon_values(&run("enumprocs"), "print_processor_name"),
            procdirs: [procdir("Windows NT x86"), procdir("Windows x64")],
            datatypes: colon_values(&run("enumprocdatatypes winprint"), "name_array"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The endpoint
// ---------------------------------------------------------------------------------------------

/// Every tower the endpoint mapper on `ADDR:135` holds for spoolss (`ept_lookup` of all
/// elements, filtered on the interface floor).
async fn spoolss_towers() -> Vec<Tower> {
    let syntax = sp::WinspoolInterface::SYNTAX;
    let epm = Client::connect_host(ADDR, 135, common::opts(Mode::Anonymous, ""))
        .await
        .expect("connect to the endpoint mapper");
    let c = EptClient::new(epm.clone());
    let mut towers = Vec::new();
    let mut handle = ContextHandle::default();
    loop {
        let r = c
            .ept_lookup(EptLookupRequest {
                inquiry_type: RPC_C_EP_ALL_ELTS,
                object: Unique::null(),
                interface_id: Unique::null(),
                vers_option: RPC_C_VERS_ALL,
                entry_handle: handle,
                max_ents: 100,
            })
            .await
            .expect("ept_lookup");
        towers.extend(
            r.entries
                .iter()
                .filter_map(|e| e.tower.get())
                .map(|t| Tower::from_twr(t).expect("a tower Samba registered"))
                .filter(|t| t.interface() == Some(syntax)),
        );
        handle = r.entry_handle;
        if r.status != 0 || handle.is_null() {
            break;
        }
    }
    epm.close();
    towers
}

// ---------------------------------------------------------------------------------------------
// Custom-marshaled INFO structures (MS-RPRN 2.2.2)
// ---------------------------------------------------------------------------------------------

/// A flat buffer of `count` fixed parts of `size` bytes each, 32-bit little-endian fields.
struct Flat<'a> {
    buf: &'a [u8],
    size: usize,
}

impl<'a> Flat<'a> {
    fn dword(&self, i: usize, field: usize) -> u32 {
        let at = i * self.size + field * 4;
        u32::from_le_bytes(self.buf[at..at + 4].try_into().unwrap())
    }

    /// The string the offset in `field` of structure `i` points at (from the start of that
    /// structure), `None` for a zero offset.
    fn string(&self, i: usize, field: usize) -> Option<String> {
        let off = self.dword(i, field) as usize;
        if off == 0 {
            return None;
        }
        Some(utf16z(&self.buf[i * self.size + off..]))
    }
}

/// A NUL-terminated UTF-16LE string at the start of `b`.
fn utf16z(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16(&units).unwrap()
}

fn s(v: Option<String>) -> String {
    v.unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Our side
// ---------------------------------------------------------------------------------------------

/// What RpcRemoteFindFirstPrinterChangeNotificationEx names as the client to call back.
const CALLBACK_ADDR: &str = "127.0.13.9";
const RPC_S_SERVER_UNAVAILABLE: u32 = 1722;

async fn connect(socket: &Path, mode: Mode, user: &str) -> Client {
    let syntax: SyntaxId = sp::WinspoolInterface::SYNTAX;
    let c = Client::connect_unix(socket, common::opts(mode, user))
        .await
        .unwrap_or_else(|e| panic!("{mode:?}: connect to {}: {e}", socket.display()));
    c.bind(&[syntax])
        .await
        .unwrap_or_else(|e| panic!("{mode:?}: bind spoolss: {e}"));
    let t = c.transfer_syntax(syntax).await.unwrap();
    assert_eq!(t, msrpc_ndr::TransferSyntax::Ndr20, "{mode:?}");
    c
}

fn client_info(user: &str) -> sp::SplclientContainer {
    sp::SplclientContainer {
        level: 1,
        client_info: sp::SplclientContainerClientInfo::PClientInfo1(Unique::new(
            sp::SplclientInfo1 {
                dw_size: 28,
                p_machine_name: Unique::new("msrpc-test".into()),
                p_user_name: Unique::new(user.into()),
                dw_build_num: 9200,
                dw_major_version: 6,
                dw_minor_version: 2,
                w_processor_architecture: 9,
            },
        )),
    }
}

async fn open(
    c: &WinspoolClient<Client>,
    name: &str,
    access: u32,
    user: &str,
) -> sp::RpcOpenPrinterExResponse {
    c.rpc_open_printer_ex(sp::RpcOpenPrinterExRequest {
        p_printer_name: Some(name.into()),
        p_datatype: None,
        p_dev_mode_container: sp::DevmodeContainer::default(),
        access_required: access,
        p_client_info: client_info(user),
    })
    .await
    .unwrap()
}

/// Calls an Enum/Get operation twice, as MS-RPRN 3.1.4.1 describes: with no buffer, which
/// answers ERROR_INSUFFICIENT_BUFFER and the size needed, then with that size.
macro_rules! sized {
    ($mode:expr, $what:expr, |$buf:ident, $cb:ident| $call:expr) => {{
        let first = {
            let $buf: Option<Vec<u8>> = None;
            let $cb: u32 = 0;
            $call.await.unwrap()
        };
        let second = if first.result == ERROR_INSUFFICIENT_BUFFER {
            let n = first.pcb_needed;
            assert!(n > 0, "{:?}: {}: needs {n} bytes", $mode, $what);
            let $buf: Option<Vec<u8>> = Some(vec![0; n as usize]);
            let $cb: u32 = n;
            $call.await.unwrap()
        } else {
            first
        };
        assert_eq!(second.result, 0, "{:?}: {} status", $mode, $what);
        second
    }};
}

async fn check(socket: &Path, mode: Mode, user: &str, theirs: &Theirs) {
    let conn = connect(socket, mode, user).await;
    let c = WinspoolClient::new(conn.clone());

    // RpcEnumPrinters at level 1: enumprinters 1's flags, names, descriptions, comments.
    let r = sized!(mode, "RpcEnumPrinters 1", |buf, cb| c.rpc_enum_printers(
        sp::RpcEnumPrintersRequest {
            flags: PRINTER_ENUM_LOCAL,
            name: Some(SERVER.into()),
            level: 1,
            p_printer_enum: buf,
            cb_buf: cb,
        }
    ));
    let buf = r.p_printer_enum.expect("a buffer");
    let f = Flat {
        buf: &buf,
        size: 16,
    };
    let ours: Vec<[String; 4]> = (0..r.pc_returned as usize)
        .map(|i| {
            [
                format!("{:#x}", f.dword(i, 0)),
                s(f.string(i, 2)),
                s(f.string(i, 1)),
                s(f.string(i, 3)),
            ]
        })
        .collect();
    let expected: Vec<[String; 4]> = theirs
        .printers1
        .iter()
        .map(|b| {
            [
                format!("{:#x}", hex_u32(get(b, "flags"))),
                get(b, "name").into(),
                get(b, "description").into(),
                get(b, "comment").into(),
            ]
        })
        .collect();
    assert_eq!(ours, expected, "{mode:?}: RpcEnumPrinters level 1");
    for (name, comment) in PRINTERS {
        assert!(
            ours.iter()
                .any(|p| p[1] == format!("{SERVER}\\{name}") && p[3] == comment),
            "{mode:?}: {name} missing: {ours:?}"
        );
    }

    // Level 2: enumprinters 2's fields (PRINTER_INFO_2, 21 32-bit fields).
    let r = sized!(mode, "RpcEnumPrinters 2", |buf, cb| c.rpc_enum_printers(
        sp::RpcEnumPrintersRequest {
            flags: PRINTER_ENUM_LOCAL,
            name: Some(SERVER.into()),
            level: 2,
            p_printer_enum: buf,
            cb_buf: cb,
        }
    ));
    let buf = r.p_printer_enum.expect("a buffer");
    let f = Flat {
        buf: &buf,
        size: 84,
    };
    assert_eq!(r.pc_returned as usize, theirs.printers2.len(), "{mode:?}");
    let strings = [
        (0, "servername"),
        (1, "printername"),
        (2, "sharename"),
        (3, "portname"),
        (4, "drivername"),
        (5, "comment"),
        (6, "location"),
        (8, "sepfile"),
        (9, "printprocessor"),
        (10, "datatype"),
        (11, "parameters"),
    ];
    let numbers = [
        (13, "attributes"),
        (14, "priority"),
        (15, "defaultpriority"),
        (16, "starttime"),
        (17, "untiltime"),
        (18, "status"),
        (19, "cjobs"),
        (20, "averageppm"),
    ];
    for (i, t) in theirs.printers2.iter().enumerate() {
        for (field, key) in strings {
            assert_eq!(
                s(f.string(i, field)),
                get(t, key),
                "{mode:?}: printer {i} {key}"
            );
        }
        for (field, key) in numbers {
            assert_eq!(f.dword(i, field), hex_u32(get(t, key)), "{mode:?}: {key}");
        }
        // The security descriptor rpcclient prints after each printer: a self-relative one
        // (revision 1, SE_SELF_RELATIVE in its control) at the offset in field 12.
        let sd = f.dword(i, 12) as usize;
        assert_ne!(sd, 0, "{mode:?}: printer {i} has a security descriptor");
        let at = i * 84 + sd;
        assert_eq!(buf[at], 1, "{mode:?}: SECURITY_DESCRIPTOR revision");
        assert_ne!(
            u16::from_le_bytes([buf[at + 2], buf[at + 3]]) & 0x8000,
            0,
            "self-relative"
        );
    }

    // RpcEnumPorts at 1 and 2: enumports'.
    let r = sized!(mode, "RpcEnumPorts 1", |buf, cb| c.rpc_enum_ports(
        sp::RpcEnumPortsRequest {
            p_name: Some(SERVER.into()),
            level: 1,
            p_port: buf,
            cb_buf: cb,
        }
    ));
    let buf = r.p_port.unwrap();
    let f = Flat { buf: &buf, size: 4 };
    let ports: Vec<String> = (0..r.pc_returned as usize)
        .map(|i| s(f.string(i, 0)))
        .collect();
    assert_eq!(ports, theirs.ports1, "{mode:?}: RpcEnumPorts 1");
    let r = sized!(mode, "RpcEnumPorts 2", |buf, cb| c.rpc_enum_ports(
        sp::RpcEnumPortsRequest {
            p_name: Some(SERVER.into()),
            level: 2,
            p_port: buf,
            cb_buf: cb,
        }
    ));
    let buf = r.p_port.unwrap();
    let f = Flat {
        buf: &buf,
        size: 20,
    };
    assert_eq!(r.pc_returned as usize, theirs.ports2.len());
    for (i, t) in theirs.ports2.iter().enumerate() {
        assert_eq!(s(f.string(i, 0)), get(t, "Port Name"));
        assert_eq!(s(f.string(i, 1)), get(t, "Monitor Name"));
        assert_eq!(s(f.string(i, 2)), get(t, "Description"));
        // rpcclient prints the type's name: PORT_TYPE_WRITE is 0x1.
        assert_eq!(get(t, "Port Type"), "Write");
        assert_eq!(f.dword(i, 3) & 1, 1, "{mode:?}: PORT_TYPE_WRITE");
        assert_eq!(f.dword(i, 4).to_string(), get(t, "Reserved"));
    }

    // RpcGetPrinterDriverDirectory: the buffer is the directory name itself.
    for (env, want) in [
        ("Windows NT x86", &theirs.driver_dir_x86),
        ("Windows x64", &theirs.driver_dir_x64),
    ] {
        let r = sized!(mode, "RpcGetPrinterDriverDirectory", |buf, cb| c
            .rpc_get_printer_driver_directory(
                sp::RpcGetPrinterDriverDirectoryRequest {
                    p_name: Some(SERVER.into()),
                    p_environment: Some(env.into()),
                    level: 1,
                    p_driver_directory: buf,
                    cb_buf: cb,
                }
            ));
        let dir = utf16z(&r.p_driver_directory.unwrap());
        // Samba answers with the server name it was asked with; rpcclient asks with its own.
        let tail = |d: &str| d.splitn(4, '\\').nth(3).map(str::to_string);
        assert_eq!(tail(&dir), tail(want), "{mode:?}: {env}: {dir} vs {want}");
        assert!(dir.starts_with(SERVER), "{mode:?}: {dir}");
    }

    // RpcEnumMonitors at 1 and 2 (MONITOR_INFO_1: one offset; _2: three): enummonitors'.
    let r = sized!(mode, "RpcEnumMonitors 2", |buf, cb| c.rpc_enum_monitors(
        sp::RpcEnumMonitorsRequest {
            p_name: Some(SERVER.into()),
            level: 2,
            p_monitor: buf,
            cb_buf: cb,
        }
    ));
    let buf = r.p_monitor.unwrap();
    let f = Flat {
        buf: &buf,
        size: 12,
    };
    let monitors: Vec<(String, String, String)> = (0..r.pc_returned as usize)
        .map(|i| (s(f.string(i, 0)), s(f.string(i, 1)), s(f.string(i, 2))))
        .collect();
    assert_eq!(monitors, theirs.monitors, "{mode:?}: RpcEnumMonitors 2");
    let r = sized!(mode, "RpcEnumMonitors 1", |buf, cb| c.rpc_enum_monitors(
        sp::RpcEnumMonitorsRequest {
            p_name: Some(SERVER.into()),
            level: 1,
            p_monitor: buf,
            cb_buf: cb,
        }
    ));
    let buf = r.p_monitor.unwrap();
    let f = Flat { buf: &buf, size: 4 };
    let names: Vec<String> = (0..r.pc_returned as usize)
        .map(|i| s(f.string(i, 0)))
        .collect();
    let want: Vec<String> = theirs.monitors.iter().map(|m| m.0.clone()).collect();
    assert_eq!(names, want, "{mode:?}: RpcEnumMonitors 1");

    // RpcEnumPrintProcessors (PRINTPROCESSOR_INFO_1), RpcGetPrintProcessorDirectory (the
    // buffer is the directory) and RpcEnumPrintProcessorDatatypes (DATATYPES_INFO_1).
    let r = sized!(mode, "RpcEnumPrintProcessors", |buf, cb| c
        .rpc_enum_print_processors(sp::RpcEnumPrintProcessorsRequest {
            p_name: Some(SERVER.into()),
            p_environment: Some("Windows NT x86".into()),
            level: 1,
            p_print_processor_info: buf,
            cb_buf: cb,
        }));
    let buf = r.p_print_processor_info.unwrap();
    let f = Flat { buf: &buf, size: 4 };
    let procs: Vec<String> = (0..r.pc_returned as usize)
        .map(|i| s(f.string(i, 0)))
        .collect();
    assert_eq!(procs, theirs.processors, "{mode:?}: RpcEnumPrintProcessors");
    for (env, want) in ["Windows NT x86", "Windows x64"]
        .iter()
        .zip(&theirs.procdirs)
    {
        let r = sized!(mode, "RpcGetPrintProcessorDirectory", |buf, cb| c
            .rpc_get_print_processor_directory(
                sp::RpcGetPrintProcessorDirectoryRequest {
                    p_name: Some(SERVER.into()),
                    p_environment: Some((*env).into()),
                    level: 1,
                    p_print_processor_directory: buf,
                    cb_buf: cb,
                }
            ));
        let dir = utf16z(&r.p_print_processor_directory.unwrap());
        assert_eq!(&dir, want, "{mode:?}: {env}");
    }
    let r = sized!(mode, "RpcEnumPrintProcessorDatatypes", |buf, cb| c
        .rpc_enum_print_processor_datatypes(
            sp::RpcEnumPrintProcessorDatatypesRequest {
                p_name: Some(SERVER.into()),
                p_print_processor_name: Some("winprint".into()),
                level: 1,
                p_datatypes: buf,
                cb_buf: cb,
            }
        ));
    let buf = r.p_datatypes.unwrap();
    let f = Flat { buf: &buf, size: 4 };
    let types: Vec<String> = (0..r.pc_returned as usize)
        .map(|i| s(f.string(i, 0)))
        .collect();
    assert_eq!(
        types, theirs.datatypes,
        "{mode:?}: RpcEnumPrintProcessorDatatypes"
    );

    // RpcEnumPrinterDrivers: no driver installed; enumdrivers prints none either.
    for level in [1, 3] {
        let r = c
            .rpc_enum_printer_drivers(sp::RpcEnumPrinterDriversRequest {
                p_name: Some(SERVER.into()),
                p_environment: Some("Windows x64".into()),
                level,
                p_drivers: None,
                cb_buf: 0,
            })
            .await
            .unwrap();
        assert_eq!(
            (r.result, r.pc_returned, r.pcb_needed),
            (0, 0, 0),
            "{mode:?}"
        );
    }
    assert!(
        !theirs.drivers.contains("Driver Name"),
        "{}",
        theirs.drivers
    );

    // RpcOpenPrinterEx on the server: a handle for the server's own operations.
    let r = open(&c, SERVER, SERVER_READ, user).await;
    assert_eq!(r.result, 0, "{mode:?}: RpcOpenPrinterEx {SERVER}");
    assert!(!r.p_handle.is_null());
    let server = r.p_handle;

    // RpcGetPrinterData on the server handle: getdata . NAME.
    for (name, want) in [
        ("Architecture", &theirs.architecture),
        ("MajorVersion", &theirs.major_version),
        ("DefaultSpoolDirectory", &theirs.spool_dir),
    ] {
        let r = c
            .rpc_get_printer_data(sp::RpcGetPrinterDataRequest {
                h_printer: server,
                p_value_name: name.into(),
                n_size: 0,
            })
            .await
            .unwrap();
        let n = r.pcb_needed;
        assert_eq!(
            r.result, 234,
            "{mode:?}: {name} with no room: ERROR_MORE_DATA"
        );
        let r = c
            .rpc_get_printer_data(sp::RpcGetPrinterDataRequest {
                h_printer: server,
                p_value_name: name.into(),
                n_size: n,
            })
            .await
            .unwrap();
        assert_eq!(r.result, 0, "{mode:?}: RpcGetPrinterData {name}");
        assert_eq!(r.p_data.len(), n as usize);
        let ours = match r.p_type {
            1 => format!("REG_SZ: {}", utf16z(&r.p_data)),
            4 => format!(
                "REG_DWORD: {:#010x}",
                u32::from_le_bytes(r.p_data[..4].try_into().unwrap())
            ),
            t => panic!("{mode:?}: {name}: type {t}"),
        };
        assert_eq!(&ours, want, "{mode:?}: {name}");
    }

    // RpcEnumForms on the server handle: Samba's built-in forms (rpcclient's enumforms only
    // opens printers, which Samba refuses over ncalrpc); each agrees with RpcGetForm.
    let r = sized!(mode, "RpcEnumForms", |buf, cb| c.rpc_enum_forms(
        sp::RpcEnumFormsRequest {
            h_printer: server,
            level: 1,
            p_form: buf,
            cb_buf: cb,
        }
    ));
    let buf = r.p_form.unwrap();
    let f = Flat {
        buf: &buf,
        size: 32,
    };
    let forms: Vec<(String, [u32; 7])> = (0..r.pc_returned as usize)
        .map(|i| {
            (
                s(f.string(i, 1)),
                [0, 2, 3, 4, 5, 6, 7].map(|k| f.dword(i, k)),
            )
        })
        .collect();
    assert!(forms.len() > 10, "{mode:?}: {} forms", forms.len());
    // FORM_INFO_1 of Letter and A4: built in (flags FORM_BUILTIN = 1), sizes in thousandths
    // of a millimetre.
    let letter = forms.iter().find(|f| f.0 == "Letter").expect("Letter");
    assert_eq!(letter.1, [1, 215_900, 279_400, 0, 0, 215_900, 279_400]);
    let a4 = forms.iter().find(|f| f.0 == "A4").expect("A4");
    assert_eq!(a4.1, [1, 210_000, 297_000, 0, 0, 210_000, 297_000]);
    for (name, fields) in forms.iter().filter(|f| f.0 == "A4" || f.0 == "Legal") {
        let r = sized!(mode, "RpcGetForm", |buf, cb| c.rpc_get_form(
            sp::RpcGetFormRequest {
                h_printer: server,
                p_form_name: name.clone(),
                level: 1,
                p_form: buf,
                cb_buf: cb,
            }
        ));
        let buf = r.p_form.unwrap();
        let g = Flat {
            buf: &buf,
            size: 32,
        };
        assert_eq!(s(g.string(0, 1)), *name);
        assert_eq!([0, 2, 3, 4, 5, 6, 7].map(|k| g.dword(0, k)), *fields);
    }

    // RpcGetPrinter on the server handle: Samba serves level 3 only there (the server's
    // security descriptor; ERROR_INVALID_LEVEL for the others). PRINTER_INFO_3 is one offset
    // to a self-relative SECURITY_DESCRIPTOR (MS-DTYP 2.4.6).
    let r = c
        .rpc_get_printer(sp::RpcGetPrinterRequest {
            h_printer: server,
            level: 2,
            p_printer: None,
            cb_buf: 0,
        })
        .await
        .unwrap();
    assert_eq!(r.result, ERROR_INVALID_LEVEL, "{mode:?}: RpcGetPrinter 2");
    let r = sized!(mode, "RpcGetPrinter 3", |buf, cb| c.rpc_get_printer(
        sp::RpcGetPrinterRequest {
            h_printer: server,
            level: 3,
            p_printer: buf,
            cb_buf: cb,
        }
    ));
    let buf = r.p_printer.unwrap();
    let f = Flat { buf: &buf, size: 4 };
    let sd = &buf[f.dword(0, 0) as usize..];
    let control = u16::from_le_bytes([sd[2], sd[3]]);
    assert_eq!(sd[0], 1, "{mode:?}: revision");
    // SE_SELF_RELATIVE and SE_DACL_PRESENT; the DACL's offset inside the buffer.
    assert_eq!(control & 0x8004, 0x8004, "{mode:?}: control {control:#x}");
    let dacl = u32::from_le_bytes(sd[16..20].try_into().unwrap()) as usize;
    assert!(dacl >= 20 && dacl < sd.len(), "{mode:?}: DACL at {dacl}");
    assert_eq!(sd[dacl], 2, "{mode:?}: ACL revision");

    // RpcRemoteFindFirstPrinterChangeNotificationEx (the "printer bug" on Windows, which
    // calls pszLocalMachine back): Samba reads the options (a printer and a job type) and,
    // with `print notify backchannel = yes`, opens the reply channel to the address the call
    // came from, not to the name given; a Unix socket has no such address, so the callback
    // fails and Samba answers RPC_S_SERVER_UNAVAILABLE (a status: the request was read).
    let options = sp::RpcV2NotifyOptions {
        version: 2,
        reserved: 0,
        count: 2,
        p_types: Unique::new(vec![
            sp::RpcV2NotifyOptionsType {
                r#type: 0, // PRINTER_NOTIFY_TYPE
                reserved0: 0,
                reserved1: 0,
                reserved2: 0,
                count: 2,
                p_fields: Unique::new(vec![0x0e, 0x12]), // priority, status
            },
            sp::RpcV2NotifyOptionsType {
                r#type: 1, // JOB_NOTIFY_TYPE
                reserved0: 0,
                reserved1: 0,
                reserved2: 0,
                count: 1,
                p_fields: Unique::new(vec![0x0a]), // the job's status
            },
        ]),
    };
    let r = c
        .rpc_remote_find_first_printer_change_notification_ex(
            sp::RpcRemoteFindFirstPrinterChangeNotificationExRequest {
                h_printer: server,
                fdw_flags: 0x0000_00ff, // PRINTER_CHANGE_PRINTER
                fdw_options: 0,
                psz_local_machine: Some(format!("\\\\{CALLBACK_ADDR}")),
                dw_printer_local: 0x1234,
                p_options: Some(options),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        r.result, RPC_S_SERVER_UNAVAILABLE,
        "{mode:?}: RpcRemoteFindFirstPrinterChangeNotificationEx"
    );

    // A printer: Samba refuses to open one over ncalrpc (no client IP address), as it
    // refuses rpcclient's getprinter.
    let r = open(&c, &format!("{SERVER}\\msrpcprn1"), SERVER_READ, user).await;
    assert!(
        theirs.getprinter.contains("WERR_NOT_ENOUGH_MEMORY"),
        "{}",
        theirs.getprinter
    );
    assert_eq!(
        r.result, ERROR_NOT_ENOUGH_MEMORY,
        "{mode:?}: open a printer"
    );

    // RpcClosePrinter answers a null handle.
    let r = c
        .rpc_close_printer(sp::RpcClosePrinterRequest { ph_printer: server })
        .await
        .unwrap();
    assert_eq!(r.result, 0, "{mode:?}: RpcClosePrinter");
    assert!(r.ph_printer.is_null(), "a closed handle comes back null");
    conn.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoolss_client_against_samba_rpcd_spoolss_and_rpcclient() {
    let dir = scratch();
    let printcap = write_printcap(&dir);
    let samba = Samba::start(ADDR, &spoolss_conf(&printcap));
    let user = unix_user();
    samba.add_user(&user);

    // Where spoolss is: ncacn_np and ncalrpc, no ncacn_ip_tcp.
    // rpcd_spoolss registers its endpoints once it runs: wait for them (at most 20 s).
    let mut towers = Vec::new();
    for _ in 0..100 {
        towers = spoolss_towers().await;
        if !towers.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let transports: Vec<u8> = towers
        .iter()
        .filter_map(|t| t.floors.get(3).and_then(Floor::protocol_id))
        .collect();
    assert!(
        !towers
            .iter()
            .any(|t| t.floors.iter().any(|f| matches!(f, Floor::Tcp(_)))),
        "Samba now registers spoolss over TCP: {towers:?}"
    );
    let port = towers
        .iter()
        .find_map(|t| {
            t.floors.iter().find_map(|f| match f {
                Floor::LrpcPort(p) => Some(p.clone()),
                _ => None,
            })
        })
        .unwrap_or_else(|| panic!("no ncalrpc tower for spoolss: {towers:?}"));
    assert!(
        towers.iter().any(|t| t.floors.iter().any(
            |f| matches!(f, Floor::NamedPipe(p) if p.eq_ignore_ascii_case("\\pipe\\spoolss"))
        )),
        "no \\pipe\\spoolss tower: {towers:?} ({transports:?})"
    );
    let socket = samba.conf().parent().unwrap().join("ncalrpc").join(&port);
    assert!(socket.exists(), "{}", socket.display());

    let theirs = Theirs::gather(&samba, &port, &user);
    assert_eq!(
        theirs.printers1.len(),
        PRINTERS.len(),
        "{:?}",
        theirs.printers1
    );
    assert_eq!(
        theirs.printers2.len(),
        PRINTERS.len(),
        "{:?}",
        theirs.printers2
    );
    assert_eq!(
        theirs.ports2.len(),
        theirs.ports1.len(),
        "{:?}",
        theirs.ports2
    );

    for mode in [Mode::Anonymous, Mode::Privacy, Mode::BigEndian] {
        check(&socket, mode, &user, &theirs).await;
        eprintln!("{mode:?}: every spoolss operation agrees with rpcclient");
    }
    drop(samba);
    let _ = std::fs::remove_dir_all(&dir);
}
