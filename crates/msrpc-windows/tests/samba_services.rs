//! The generated svcctl (MS-SCMR) and eventlog (MS-EVEN) clients against Samba's samba-dcerpcd
//! on 127.0.11.1, compared with what Samba's own clients print for the same server: `net rpc
//! service list` and `net rpc service status` for svcctl, rpcclient's `eventlog_numrecord`,
//! `eventlog_oldestrecord` and `eventlog_readlog` for eventlog (two records written into the log
//! "Application" with `eventlogadm` first; then each mode reports one with `ElfrReportEventW`,
//! which rpcclient must count). Unauthenticated, under NTLM at packet privacy, and
//! unauthenticated with big-endian PDUs.
//!
//! Where each side connects: samba-dcerpcd registers svcctl on `ncacn_np` (`\pipe\svcctl`) and
//! `ncalrpc` only, and eventlog on `ncacn_np` alone, never on `ncacn_ip_tcp`; msrpc-rt has no
//! `ncacn_np` client. So our svcctl client binds on rpcd_classic's `ncalrpc` Unix socket, and
//! our eventlog client (refused there, which is checked) on a Unix socket that
//! `tests/interop/smb_pipe_relay.py` relays, PDU for PDU, to `\pipe\eventlog` through smbd with
//! Samba's own SMB client library. `net` and `rpcclient` go through smbd's named pipes (this
//! test starts smbd beside samba-dcerpcd, on port 445 of 127.0.11.1) to the same rpcd_classic.
//! Samba lets only root read its event logs, so the eventlog side (the relay's SMB session,
//! our NTLM identity and rpcclient's) is the Samba account of root. Samba does not serve atsvc
//! or backupkey: those are checked against Samba's NDR engine
//! (tests/tests/samba_ndr_services.rs) and against python3-samba as a client of our server
//! (tests/served_services.rs).
//!
//! Needs root (a loopback address, port 445, the root account) and the Debian packages samba,
//! samba-common-bin (net, eventlogadm), smbclient (rpcclient) and python3-samba; fails loudly
//! when they are missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use msrpc_ndr::{ContextHandle, Unique};
use msrpc_proto::dispatch::{CallError, Interface, Invoke};
use msrpc_proto::pdu::{FaultStatus, SyntaxId};
use msrpc_rt::Client;
use msrpc_windows::{eventlog, svcctl};

mod common;
use common::{opts, unix_user, Mode, Samba};

const ADDR: &str = "127.0.11.1";
/// smbd's port on [`ADDR`] (set in the instance's configuration: libsmb's Python client,
/// which the relay uses, knows no other).
const SMB_PORT: &str = "445";
const EXTRA_CONF: &str = "  smb ports = 445\n  eventlog list = Application\n";

// MS-SCMR 2.2.15, 3.1.4: access rights, service types, states, errors.
const SC_MANAGER_CONNECT: u32 = 0x0001;
const SC_MANAGER_ENUMERATE_SERVICE: u32 = 0x0004;
const SERVICE_QUERY_CONFIG: u32 = 0x0001;
const SERVICE_QUERY_STATUS: u32 = 0x0004;
const SERVICE_WIN32: u32 = 0x30;
const SERVICE_STATE_ALL: u32 = 3;
const SERVICE_RUNNING: u32 = 4;
const ERROR_INSUFFICIENT_BUFFER: u32 = 122;
const ERROR_MORE_DATA: u32 = 234;

/// smbd on the instance's configuration (port 445), for the named pipes of `net`,
/// `rpcclient` and the relay; killed when dropped.
struct Smbd(Child);

impl Smbd {
    fn start(samba: &Samba) -> Smbd {
        let log = std::fs::File::create(samba.conf().with_file_name("smbd.out")).unwrap();
        let child = Command::new("/usr/sbin/smbd")
            .arg("-s")
            .arg(samba.conf())
            .args(["-F", "--no-process-group"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("run /usr/sbin/smbd (Debian package samba)");
        let smbd = Smbd(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(format!("{ADDR}:{SMB_PORT}")).is_ok() {
                return smbd;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("smbd did not open {ADDR}:{SMB_PORT}");
    }
}

impl Drop for Smbd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `net rpc service ARGS` anonymously through smbd; its output.
fn net(samba: &Samba, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .args(["60", "net", "rpc", "service"])
        .args(args)
        .arg("-s")
        .arg(samba.conf())
        .args(["-I", ADDR, "-U%"])
        .stdin(Stdio::null())
        .output()
        .expect("run net (Debian package samba-common-bin)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "net rpc service {args:?}: {text}");
    text
}

/// What `net rpc service status NAME` prints.
#[derive(Debug)]
struct NetStatus {
    running: bool,
    /// "Key = value" lines of its configuration details.
    details: Vec<(String, String)>,
}

impl NetStatus {
    fn get(&self, key: &str) -> &str {
        self.details
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("net printed no {key}: {self:?}"))
    }

    fn hex(&self, key: &str) -> u32 {
        let v = self.get(key);
        u32::from_str_radix(v.trim_start_matches("0x"), 16)
            .unwrap_or_else(|_| panic!("{key} = {v:?}"))
    }
}

/// `net rpc service list`: (name, display name) per line `NAME  "DISPLAY"`.
fn net_list(samba: &Samba) -> Vec<(String, String)> {
    net(samba, &["list"])
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once(char::is_whitespace)?;
            let display = rest.trim().strip_prefix('"')?.strip_suffix('"')?;
            Some((name.to_string(), display.to_string()))
        })
        .collect()
}

fn net_status(samba: &Samba, name: &str) -> NetStatus {
    let text = net(samba, &["status", name]);
    NetStatus {
        running: text.contains(&format!("{name} service is running.")),
        details: text
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(" = ")?;
                Some((k.trim().to_string(), v.trim().to_string()))
            })
            .collect(),
    }
}

fn socket(samba: &Samba) -> PathBuf {
    samba.conf().with_file_name("ncalrpc").join("rpcd_classic")
}

async fn connect(samba: &Samba, mode: Mode, user: &str, syntax: SyntaxId) -> Client {
    let c = Client::connect_unix(socket(samba), opts(mode, user))
        .await
        .unwrap_or_else(|e| panic!("{mode:?}: connect to {}: {e}", socket(samba).display()));
    let t = c
        .transfer_syntax(syntax)
        .await
        .unwrap_or_else(|e| panic!("{mode:?}: bind {syntax}: {e}"));
    assert_eq!(t, msrpc_ndr::TransferSyntax::Ndr20, "{mode:?}: {syntax}");
    c
}

/// A NUL-terminated UTF-16LE string at `offset` of an REnumServicesStatusW buffer.
fn utf16_at(buf: &[u8], offset: u32) -> String {
    let units: Vec<u16> = buf[offset as usize..]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16(&units).unwrap()
}

fn dword(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// The ENUM_SERVICE_STATUSW entries (MS-SCMR 2.2.11) of a buffer: (name, display name,
/// SERVICE_STATUS as seven DWORDs). The buffer is the server's layout (little-endian, offsets
/// from its start), whatever the byte order of the PDUs.
fn enum_entries(buf: &[u8], count: u32) -> Vec<(String, String, [u32; 7])> {
    (0..count as usize)
        .map(|i| {
            let at = i * 36;
            let mut status = [0u32; 7];
            for (k, s) in status.iter_mut().enumerate() {
                *s = dword(buf, at + 8 + 4 * k);
            }
            (
                utf16_at(buf, dword(buf, at)),
                utf16_at(buf, dword(buf, at + 4)),
                status,
            )
        })
        .collect()
}

fn text(s: &msrpc_ndr::Unique<String>) -> &str {
    s.get().map(String::as_str).unwrap_or("")
}

async fn check_svcctl(samba: &Samba, mode: Mode, user: &str, theirs: &[(String, String)]) {
    let conn = connect(samba, mode, user, svcctl::SvcctlInterface::SYNTAX).await;
    let c = svcctl::SvcctlClient::new(conn.clone());

    let r = c
        .r_open_sc_manager_w(svcctl::ROpenScManagerWRequest {
            lp_machine_name: Some(format!("\\\\{ADDR}")),
            lp_database_name: Some("ServicesActive".into()),
            dw_desired_access: SC_MANAGER_CONNECT | SC_MANAGER_ENUMERATE_SERVICE,
        })
        .await
        .unwrap();
    assert_eq!(r.result, 0, "{mode:?}: ROpenSCManagerW");
    let scm = r.lp_sc_handle;
    assert!(!scm.is_null());

    // REnumServicesStatusW: an empty buffer first (the size needed comes back), then that.
    let enumerate = |size: u32| {
        c.r_enum_services_status_w(svcctl::REnumServicesStatusWRequest {
            h_sc_manager: scm,
            dw_service_type: SERVICE_WIN32,
            dw_service_state: SERVICE_STATE_ALL,
            cb_buf_size: size,
            lp_resume_index: Some(0),
        })
    };
    let r = enumerate(0).await.unwrap();
    assert_eq!(
        r.result, ERROR_MORE_DATA,
        "{mode:?}: enumerate into 0 bytes"
    );
    assert!(r.pcb_bytes_needed > 0);
    assert!(r.lp_buffer.is_empty());
    let needed = r.pcb_bytes_needed;
    let r = enumerate(needed).await.unwrap();
    assert_eq!(r.result, 0, "{mode:?}: REnumServicesStatusW");
    assert_eq!(r.lp_buffer.len(), needed as usize);
    let ours = enum_entries(&r.lp_buffer, r.lp_services_returned);
    let names: Vec<(String, String)> = ours
        .iter()
        .map(|(n, d, _)| (n.clone(), d.clone()))
        .collect();
    assert_eq!(names, theirs, "{mode:?}: the services net lists");

    for (name, display, status) in &ours {
        let st = net_status(samba, name);
        assert_eq!(status[1] == SERVICE_RUNNING, st.running, "{mode:?}: {name}");
        assert_eq!(status[2], st.hex("Controls Accepted"), "{mode:?}: {name}");
        // (Samba's status and configuration carry service types of their own: Spooler's
        // status says 0x110, its configuration, which net prints, 0x10; each is compared with
        // its own source.)

        let r = c
            .r_open_service_w(svcctl::ROpenServiceWRequest {
                h_sc_manager: scm,
                lp_service_name: name.clone(),
                dw_desired_access: SERVICE_QUERY_CONFIG | SERVICE_QUERY_STATUS,
            })
            .await
            .unwrap();
        assert_eq!(r.result, 0, "{mode:?}: ROpenServiceW {name}");
        let svc = r.lp_service_handle;

        let r = c
            .r_query_service_status(svcctl::RQueryServiceStatusRequest { h_service: svc })
            .await
            .unwrap();
        assert_eq!(r.result, 0, "{mode:?}: RQueryServiceStatus {name}");
        let s = &r.lp_service_status;
        assert_eq!(
            [
                s.dw_service_type,
                s.dw_current_state,
                s.dw_controls_accepted,
                s.dw_win32_exit_code,
                s.dw_service_specific_exit_code,
                s.dw_check_point,
                s.dw_wait_hint
            ],
            *status,
            "{mode:?}: {name}: the status enumerated"
        );

        // RQueryServiceConfigW: too small a buffer says how much, then the configuration.
        let query = |size: u32| {
            c.r_query_service_config_w(svcctl::RQueryServiceConfigWRequest {
                h_service: svc,
                cb_buf_size: size,
            })
        };
        let r = query(0).await.unwrap();
        assert_eq!(r.result, ERROR_INSUFFICIENT_BUFFER, "{mode:?}: {name}");
        let r = query(r.pcb_bytes_needed).await.unwrap();
        assert_eq!(r.result, 0, "{mode:?}: RQueryServiceConfigW {name}");
        let cfg = &r.lp_service_config;
        assert_eq!(cfg.dw_service_type, st.hex("Service Type"));
        assert_eq!(cfg.dw_start_type, st.hex("Start Type"));
        assert_eq!(cfg.dw_error_control, st.hex("Error Control"));
        assert_eq!(cfg.dw_tag_id, st.hex("Tag ID"));
        assert_eq!(text(&cfg.lp_binary_path_name), st.get("Executable Path"));
        assert_eq!(text(&cfg.lp_service_start_name), st.get("Start Name"));
        assert_eq!(text(&cfg.lp_display_name), st.get("Display Name"));
        assert_eq!(text(&cfg.lp_display_name), display);

        // RQueryServiceStatusEx at level 0: a SERVICE_STATUS_PROCESS in the buffer.
        let r = c
            .r_query_service_status_ex(svcctl::RQueryServiceStatusExRequest {
                h_service: svc,
                info_level: svcctl::ScStatusType::ScStatusProcessInfo,
                cb_buf_size: 36,
            })
            .await
            .unwrap();
        assert_eq!(r.result, 0, "{mode:?}: RQueryServiceStatusEx {name}");
        assert_eq!(r.lp_buffer.len(), 36);
        assert_eq!(dword(&r.lp_buffer, 0), status[0], "{mode:?}: {name} type");
        assert_eq!(dword(&r.lp_buffer, 4), status[1], "{mode:?}: {name} state");

        let r = c
            .r_close_service_handle(svcctl::RCloseServiceHandleRequest { h_sc_object: svc })
            .await
            .unwrap();
        assert_eq!(r.result, 0, "{mode:?}: close {name}");
        assert_eq!(r.h_sc_object, ContextHandle::default());
    }

    // RGetServiceDisplayNameW and RGetServiceKeyNameW: Samba's IDL departs from MS-SCMR's
    // (3.1.4.20, 3.1.4.21) in these two: its input name is a unique pointer, its answer a
    // pointer to a unique pointer, its count a unique pointer; so it reads our spec-conformant
    // request off by one pointer and answers the fault "bad stub data" (docs/idl.md). The bytes are checked
    // against Samba's NDR engine in tests/tests/samba_ndr_services.rs.
    let name = &ours[0].0;
    let r = c
        .r_get_service_display_name_w(svcctl::RGetServiceDisplayNameWRequest {
            h_sc_manager: scm,
            lp_service_name: name.clone(),
            lpcch_buffer: 256,
        })
        .await;
    match r {
        Err(CallError::Fault(f)) => assert_eq!(f, FaultStatus::RPC_X_BAD_STUB_DATA, "{mode:?}"),
        other => panic!(
            "{mode:?}: RGetServiceDisplayNameW on Samba answered {other:?}, not the fault its \
             IDL quirk gives: update docs/idl.md and this test"
        ),
    }

    let r = c
        .r_close_service_handle(svcctl::RCloseServiceHandleRequest { h_sc_object: scm })
        .await
        .unwrap();
    assert_eq!(r.result, 0, "{mode:?}: close the SCM handle");
    assert!(r.h_sc_object.is_null());
    conn.close();
}

/// eventlog is registered on `\pipe\eventlog` alone: a bind on rpcd_classic's ncalrpc socket is
/// refused, so our client reaches it through the relay.
async fn check_eventlog_not_on_ncalrpc(samba: &Samba) {
    let c = Client::connect_unix(socket(samba), opts(Mode::Anonymous, ""))
        .await
        .unwrap();
    let r = c.transfer_syntax(eventlog::EventlogInterface::SYNTAX).await;
    assert!(
        r.is_err(),
        "samba-dcerpcd now binds eventlog on ncalrpc ({r:?}): call it there"
    );
    c.close();
}

// ---------------------------------------------------------------------------------------------
// eventlog, through tests/interop/smb_pipe_relay.py
// ---------------------------------------------------------------------------------------------

/// Samba grants its event logs to root only (its access check swaps in the system token when
/// the call runs as uid 0): the Samba account that reads them is root's.
const LOG_USER: &str = "root";

/// Two records, in eventlogadm's input format, written into the log "Application".
const EVENTS: &str = "LEN: 0\nRS1: 1699505152\nRCN: 0\nTMG: 1796577178\nTMW: 1796577179\nEID: 1000\nETP: INFO\nECT: 2\nRS2: 0\nCRN: 0\nUSL: 0\nSRC: msrpc\nSRN: MSRPCHOST\nSTR: first string\nSTR: second string\nDAT:\n\nLEN: 0\nRS1: 1699505152\nRCN: 0\nTMG: 1796577300\nTMW: 1796577301\nEID: 1001\nETP: WARNING\nECT: 0\nRS2: 0\nCRN: 0\nUSL: 0\nSRC: msrpc\nSRN: MSRPCHOST\nSTR: disk almost full\nDAT:\n\n";

fn write_events(samba: &Samba) {
    use std::io::Write;
    let mut child = Command::new("eventlogadm")
        .arg("-s")
        .arg(samba.conf())
        .args(["-o", "write", "Application"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("run eventlogadm (Debian package samba)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(EVENTS.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "eventlogadm -o write");
}

/// tests/interop/smb_pipe_relay.py relaying a Unix socket to `\pipe\eventlog` through smbd as
/// [`LOG_USER`]; killed when dropped.
struct Relay {
    child: Child,
    path: PathBuf,
}

impl Relay {
    fn start(samba: &Samba) -> Relay {
        use std::io::BufRead;
        let path = samba.conf().with_file_name("eventlog-relay.sock");
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/smb_pipe_relay.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(samba.conf())
            .args([ADDR, LOG_USER, common::PASSWORD, "eventlog"])
            .arg(&path)
            .stdout(Stdio::piped())
            .spawn()
            .expect("run /usr/bin/python3 (python3-samba)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "smb_pipe_relay.py did not start");
        Relay { child, path }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One record as rpcclient prints it and as we read it: number, event id, source, computer,
/// strings.
type Event = (u32, u32, String, String, Vec<String>);

/// What rpcclient says about the log "Application" (through smbd, as [`LOG_USER`]).
struct LogTheirs {
    count: u32,
    oldest: u32,
    /// The records `eventlog_readlog` decoded and printed (once each).
    records: Vec<Event>,
}

fn rpcclient_np(samba: &Samba, command: &str) -> String {
    let creds = format!("-U{LOG_USER}%{}", common::PASSWORD);
    common::run_rpcclient(Some(&samba.conf()), &creds, ADDR, command, true).1
}

fn quoted(v: &str) -> String {
    v.trim()
        .trim_start_matches('\'')
        .trim_end_matches('\'')
        .to_string()
}

fn paren_number(v: &str) -> u32 {
    let open = v.rfind('(').unwrap();
    v[open + 1..v.len() - 1].parse().unwrap()
}

impl LogTheirs {
    fn gather(samba: &Samba) -> LogTheirs {
        let count = common::after(
            &rpcclient_np(samba, "eventlog_numrecord Application"),
            "number of records:",
        )
        .parse()
        .unwrap();
        let oldest = common::after(
            &rpcclient_np(samba, "eventlog_oldestrecord Application"),
            "oldest entry:",
        )
        .parse()
        .unwrap();
        let text = rpcclient_np(samba, "eventlog_readlog Application");
        let mut records: Vec<Event> = Vec::new();
        let mut in_record = false;
        for line in text.lines() {
            let Some((k, v)) = line.split_once(" : ") else {
                continue;
            };
            match k.trim() {
                "RecordNumber" => {
                    records.push((
                        paren_number(v.trim()),
                        0,
                        String::new(),
                        String::new(),
                        vec![],
                    ));
                    in_record = true;
                }
                _ if !in_record => {}
                "EventID" => records.last_mut().unwrap().1 = paren_number(v.trim()),
                "SourceName" => records.last_mut().unwrap().2 = quoted(v),
                "Computername" => records.last_mut().unwrap().3 = quoted(v),
                "Strings" => records.last_mut().unwrap().4.push(quoted(v)),
                "Length2" => in_record = false,
                _ => {}
            }
        }
        records.dedup();
        records.sort();
        records.dedup();
        LogTheirs {
            count,
            oldest,
            records,
        }
    }
}

fn unicode(text: &str) -> eventlog::RpcUnicodeString {
    let units: Vec<u16> = text.encode_utf16().collect();
    let n = u16::try_from(units.len() * 2).unwrap();
    eventlog::RpcUnicodeString {
        length: n,
        maximum_length: n,
        buffer: Unique::new(units),
    }
}

/// The EVENTLOGRECORD (MS-EVEN 2.2.3) at the start of `b`: its length and what [`Event`] holds.
fn parse_record(b: &[u8]) -> (usize, Event) {
    let len = dword(b, 0) as usize;
    assert_eq!(&b[4..8], b"LfLe", "EVENTLOGRECORD signature");
    assert_eq!(
        dword(b, len - 4) as usize,
        len,
        "the record's closing length"
    );
    let num_strings = u16::from_le_bytes([b[26], b[27]]);
    let source = utf16_at(b, 56);
    let computer = utf16_at(b, 56 + 2 * (source.encode_utf16().count() as u32 + 1));
    let mut at = dword(b, 36);
    let mut strings = Vec::new();
    for _ in 0..num_strings {
        let s = utf16_at(b, at);
        at += 2 * (s.encode_utf16().count() as u32 + 1);
        strings.push(s);
    }
    (len, (dword(b, 8), dword(b, 20), source, computer, strings))
}

const STATUS_BUFFER_TOO_SMALL: i32 = 0xC000_0023_u32 as i32;
const STATUS_END_OF_FILE: i32 = 0xC000_0011_u32 as i32;

/// What `eventlog_numrecord` says now (each mode adds a record).
fn rpcclient_count(samba: &Samba) -> u32 {
    common::after(
        &rpcclient_np(samba, "eventlog_numrecord Application"),
        "number of records:",
    )
    .parse()
    .unwrap()
}

async fn check_eventlog(samba: &Samba, relay: &Relay, mode: Mode, theirs: &LogTheirs) {
    let count = rpcclient_count(samba);
    let conn = Client::connect_unix(&relay.path, opts(mode, LOG_USER))
        .await
        .unwrap_or_else(|e| panic!("{mode:?}: connect to the relay: {e}"));
    let c = eventlog::EventlogClient::new(conn.clone());
    let r = c
        .elfr_open_elw(eventlog::ElfrOpenElwRequest {
            unc_server_name: Some(u16::from(b'\\')),
            module_name: unicode("Application"),
            reg_module_name: unicode(""),
            major_version: 1,
            minor_version: 1,
        })
        .await
        .unwrap_or_else(|e| panic!("{mode:?}: ElfrOpenELW: {e}"));
    assert_eq!(r.result, 0, "{mode:?}: ElfrOpenELW");
    let log = r.log_handle;
    assert_eq!(
        conn.transfer_for(&eventlog::EventlogInterface::SYNTAX),
        Some(msrpc_ndr::TransferSyntax::Ndr20)
    );
    let n = c
        .elfr_number_of_records(eventlog::ElfrNumberOfRecordsRequest { log_handle: log })
        .await
        .unwrap();
    assert_eq!((n.result, n.number_of_records), (0, count), "{mode:?}");
    let o = c
        .elfr_oldest_record(eventlog::ElfrOldestRecordRequest { log_handle: log })
        .await
        .unwrap();
    assert_eq!(
        (o.result, o.oldest_record_number),
        (0, theirs.oldest),
        "{mode:?}"
    );

    // Sequential forwards reads: each asks with an empty buffer first, then with the size
    // needed, until the end of the log.
    let read = |size| {
        c.elfr_read_elw(eventlog::ElfrReadElwRequest {
            log_handle: log,
            read_flags: 0x5,
            record_offset: 0,
            number_of_bytes_to_read: size,
        })
    };
    let mut ours: Vec<Event> = Vec::new();
    loop {
        let r = read(0).await.unwrap();
        if r.result == STATUS_END_OF_FILE {
            break;
        }
        assert_eq!(r.result, STATUS_BUFFER_TOO_SMALL, "{mode:?}: read 0 bytes");
        let need = r.min_number_of_bytes_needed;
        let r = read(need).await.unwrap();
        assert_eq!(r.result, 0, "{mode:?}: read {need} bytes");
        assert_eq!(r.buffer.len(), need as usize);
        let mut at = 0usize;
        while at < r.number_of_bytes_read as usize {
            let (len, event) = parse_record(&r.buffer[at..]);
            ours.push(event);
            at += len;
        }
        assert!(ours.len() <= 16, "{mode:?}: the log never ends");
    }
    assert_eq!(ours.len() as u32, count, "{mode:?}: {ours:?}");
    assert_eq!(ours[0].0, theirs.oldest, "{mode:?}");
    assert!(!theirs.records.is_empty(), "rpcclient read no record");
    for t in &theirs.records {
        assert!(
            ours.contains(t),
            "{mode:?}: rpcclient read {t:?}, we {ours:?}"
        );
    }

    // ElfrReportEventW (one string and no SID: the request Samba's IDL reads as MS-EVEN
    // writes it), then the log has one record more, for rpcclient too, and it is ours.
    let text = format!("msrpc {mode:?}");
    let r = c
        .elfr_report_event_w(eventlog::ElfrReportEventWRequest {
            log_handle: log,
            time: 1_796_578_000,
            event_type: 4,
            event_category: 0,
            event_id: 4242,
            num_strings: 1,
            data_size: 0,
            computer_name: unicode("MSRPCHOST"),
            user_sid: None,
            strings: Some(vec![Unique::new(unicode(&text))]),
            data: None,
            flags: 0,
            record_number: Some(0),
            time_written: Some(0),
        })
        .await
        .unwrap();
    assert_eq!(r.result, 0, "{mode:?}: ElfrReportEventW");
    assert_eq!(r.record_number, Some(count + 1), "{mode:?}");
    assert_eq!(rpcclient_count(samba), count + 1, "{mode:?}");
    let n = c
        .elfr_number_of_records(eventlog::ElfrNumberOfRecordsRequest { log_handle: log })
        .await
        .unwrap();
    assert_eq!(n.number_of_records, count + 1, "{mode:?}");
    let r = read(0).await.unwrap();
    assert_eq!(
        r.result, STATUS_BUFFER_TOO_SMALL,
        "{mode:?}: the new record"
    );
    let r = read(r.min_number_of_bytes_needed).await.unwrap();
    let (_, new) = parse_record(&r.buffer);
    assert_eq!(
        (new.0, new.1, new.4),
        (count + 1, 4242, vec![text]),
        "{mode:?}: the record reported"
    );

    // Two strings: Samba's code reads an array of pointers otherwise than NDR lays it out
    // (docs/idl.md), so it cannot read MS-EVEN's request.
    let two = c
        .elfr_report_event_w(eventlog::ElfrReportEventWRequest {
            log_handle: log,
            time: 1_796_578_000,
            event_type: 4,
            event_category: 0,
            event_id: 4243,
            num_strings: 2,
            data_size: 0,
            computer_name: unicode("MSRPCHOST"),
            user_sid: None,
            strings: Some(vec![
                Unique::new(unicode("one")),
                Unique::new(unicode("two")),
            ]),
            data: None,
            flags: 0,
            record_number: Some(0),
            time_written: Some(0),
        })
        .await;
    match two {
        Err(CallError::Fault(f)) => assert_eq!(f, FaultStatus::RPC_X_BAD_STUB_DATA, "{mode:?}"),
        other => panic!(
            "{mode:?}: samba-dcerpcd answered ElfrReportEventW with two strings {other:?}: \
             its array-of-pointers quirk is gone, update docs/idl.md and this test"
        ),
    }
    assert_eq!(
        rpcclient_count(samba),
        count + 1,
        "{mode:?}: nothing written"
    );

    let r = c
        .elfr_close_el(eventlog::ElfrCloseElRequest { log_handle: log })
        .await
        .unwrap();
    assert_eq!(
        (r.result, r.log_handle),
        (0, ContextHandle::NULL),
        "{mode:?}"
    );
    conn.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svcctl_and_eventlog_against_samba_dcerpcd_net_and_rpcclient() {
    let samba = Samba::start(ADDR, EXTRA_CONF);
    let user = unix_user();
    samba.add_user(&user);
    samba.add_user(LOG_USER);
    write_events(&samba);
    let smbd = Smbd::start(&samba);
    let theirs = net_list(&samba);
    assert!(theirs.len() >= 3, "net rpc service list printed {theirs:?}");
    let log = LogTheirs::gather(&samba);
    assert_eq!(log.count, 2, "eventlog_numrecord");
    check_eventlog_not_on_ncalrpc(&samba).await;
    let relay = Relay::start(&samba);
    for mode in [Mode::Anonymous, Mode::Privacy, Mode::BigEndian] {
        check_svcctl(&samba, mode, &user, &theirs).await;
        check_eventlog(&samba, &relay, mode, &log).await;
        eprintln!("{mode:?}: svcctl agrees with net rpc service, eventlog with rpcclient");
    }
    drop(relay);
    drop(smbd);
    drop(samba);
}
