//! A second opinion on the NDR of msrpc-windows's svcctl (MS-SCMR), eventlog (MS-EVEN), atsvc
//! (MS-TSCH) and backupkey (MS-BKRP) stubs, compiled from our own IDL: Samba's engine
//! (python3-samba's pidl-generated classes and samba-testsuite's `ndrdump`, software we did
//! not write).
//!
//! - svcctl and atsvc, the way `samba_ndr.rs` checks the other Windows interfaces: we encode
//!   every case (`NAME.in|out.le|be.hex`); `tests/interop/samba_ndr_services.py` builds the
//!   same values with Samba's classes, packs them, unpacks ours and compares field by field,
//!   and runs `ndrdump --validate` over our little-endian files; we decode Samba's packing,
//!   compare the values with ours and the bytes with ours (referent ids aside). Both byte
//!   orders. Where Samba's IDL departs from the specification, the script documents it and
//!   leaves a `.quirk` file telling this side what not to compare.
//! - eventlog and backupkey have no Python classes in python3-samba: `ndrdump --validate`
//!   reads our little-endian requests and responses, must read every byte, must print our
//!   values, and must push back exactly our bytes (so Samba's packing of the value it read is
//!   ours). ndrdump has no big-endian input: their big-endian stubs are only checked by our
//!   own decoder (a round trip).
//! - NDR64: `ndrdump --ndr64` reads our NDR64 svcctl, eventlog and backupkey stubs. atsvc is
//!   left out: `JobTime` is a `DWORD_PTR` (8 bytes in NDR64), which msrpc-idl lowers to 32
//!   bits, and which Samba's IDL declares `uint32`: both are wrong the same way (docs/idl.md).
//!
//! Fails loudly when python3-samba or ndrdump is missing (apt-get install python3-samba
//! samba-testsuite). `MSRPC_NDR_CROSS_KEEP=1` keeps the work directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "samba_ndr/bytes.rs"]
mod bytes;
use bytes::{has, read_hex, same_but_referent_ids};

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::process::Command;

use msrpc_ndr::{
    ContextHandle, DataRep, DecodeLimits, DecodeResult, EncodeResult, TransferSyntax, Unique, Uuid,
};
use msrpc_windows::{atsvc, backupkey, eventlog, svcctl};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/samba_ndr_services.py");
const PYTHON: &str = "/usr/bin/python3";
const LIMITS: DecodeLimits = DecodeLimits::DEFAULT;
const ORDERS: [(DataRep, &str); 2] = [(DataRep::LITTLE_ENDIAN, "le"), (DataRep::BIG_ENDIAN, "be")];
const HOST: &str = "\\\\server";
/// The handles' UUID (`SAMR_HANDLE` in samba_ndr_cross.py); `attributes` numbers them.
const HANDLE_UUID: &str = "2b7e1d0c-5a46-4e3b-9c1f-0d2e3f405162";

// ---------------------------------------------------------------------------------------------
// Stubs
// ---------------------------------------------------------------------------------------------

trait ReqStub: Clone + Debug + PartialEq + 'static {
    fn encode_stub(&self, drep: DataRep, ts: TransferSyntax) -> EncodeResult<Vec<u8>>;
    fn decode_stub(b: &[u8], drep: DataRep) -> DecodeResult<Self>;
}

trait RespStub<Q>: Clone + Debug + PartialEq + 'static {
    fn encode_stub(&self, req: &Q, drep: DataRep, ts: TransferSyntax) -> EncodeResult<Vec<u8>>;
    fn decode_stub(b: &[u8], drep: DataRep, req: &Q) -> DecodeResult<Self>;
}

macro_rules! stubs {
    ($($q:ty => $r:ty),* $(,)?) => {$(
        impl ReqStub for $q {
            fn encode_stub(&self, drep: DataRep, ts: TransferSyntax) -> EncodeResult<Vec<u8>> {
                self.to_stub_in(drep, ts)
            }
            fn decode_stub(b: &[u8], drep: DataRep) -> DecodeResult<Self> {
                <$q>::from_stub(b, drep, LIMITS)
            }
        }
        impl RespStub<$q> for $r {
            fn encode_stub(&self, req: &$q, drep: DataRep, ts: TransferSyntax) -> EncodeResult<Vec<u8>> {
                self.to_stub_in(req, drep, ts)
            }
            fn decode_stub(b: &[u8], drep: DataRep, req: &$q) -> DecodeResult<Self> {
                <$r>::from_stub(b, drep, LIMITS, req)
            }
        }
    )*};
}

stubs!(
    svcctl::ROpenScManagerWRequest => svcctl::ROpenScManagerWResponse,
    svcctl::REnumServicesStatusWRequest => svcctl::REnumServicesStatusWResponse,
    svcctl::ROpenServiceWRequest => svcctl::ROpenServiceWResponse,
    svcctl::RQueryServiceStatusRequest => svcctl::RQueryServiceStatusResponse,
    svcctl::RControlServiceRequest => svcctl::RControlServiceResponse,
    svcctl::RQueryServiceConfigWRequest => svcctl::RQueryServiceConfigWResponse,
    svcctl::RStartServiceWRequest => svcctl::RStartServiceWResponse,
    svcctl::RDeleteServiceRequest => svcctl::RDeleteServiceResponse,
    svcctl::RCreateServiceWRequest => svcctl::RCreateServiceWResponse,
    svcctl::RQueryServiceStatusExRequest => svcctl::RQueryServiceStatusExResponse,
    svcctl::RQueryServiceConfig2WRequest => svcctl::RQueryServiceConfig2WResponse,
    svcctl::RCloseServiceHandleRequest => svcctl::RCloseServiceHandleResponse,
    svcctl::RGetServiceDisplayNameWRequest => svcctl::RGetServiceDisplayNameWResponse,
    svcctl::RChangeServiceConfigWRequest => svcctl::RChangeServiceConfigWResponse,
    atsvc::NetrJobAddRequest => atsvc::NetrJobAddResponse,
    atsvc::NetrJobDelRequest => atsvc::NetrJobDelResponse,
    atsvc::NetrJobEnumRequest => atsvc::NetrJobEnumResponse,
    atsvc::NetrJobGetInfoRequest => atsvc::NetrJobGetInfoResponse,
    eventlog::ElfrOpenElwRequest => eventlog::ElfrOpenElwResponse,
    eventlog::ElfrNumberOfRecordsRequest => eventlog::ElfrNumberOfRecordsResponse,
    eventlog::ElfrOldestRecordRequest => eventlog::ElfrOldestRecordResponse,
    eventlog::ElfrReadElwRequest => eventlog::ElfrReadElwResponse,
    eventlog::ElfrCloseElRequest => eventlog::ElfrCloseElResponse,
    eventlog::ElfrClearElfwRequest => eventlog::ElfrClearElfwResponse,
    eventlog::ElfrReportEventWRequest => eventlog::ElfrReportEventWResponse,
    backupkey::BackuprKeyRequest => backupkey::BackuprKeyResponse,
);

type Encode = Box<dyn Fn(DataRep, TransferSyntax) -> Vec<u8>>;
type Check = Box<dyn Fn(&[u8], DataRep) -> Result<(), String>>;

/// One operation's request and response, encoded by us and checked against bytes.
struct Case {
    name: &'static str,
    encode: [Encode; 2],
    check: [Check; 2],
}

fn same<T: Debug + PartialEq>(expected: &T, got: &T) -> Result<(), String> {
    if expected == got {
        Ok(())
    } else {
        Err(format!(
            "value differs:\n      expected {expected:?}\n      decoded  {got:?}"
        ))
    }
}

fn call<Q: ReqStub, R: RespStub<Q>>(name: &'static str, q: Q, r: R) -> Case {
    let (q1, q2, q3, q4) = (q.clone(), q.clone(), q.clone(), q);
    let r2 = r.clone();
    Case {
        name,
        encode: [
            Box::new(move |d, t| q1.encode_stub(d, t).unwrap()),
            Box::new(move |d, t| r.encode_stub(&q2, d, t).unwrap()),
        ],
        check: [
            Box::new(move |b, d| {
                same(
                    &q3,
                    &Q::decode_stub(b, d).map_err(|e| format!("decode: {e}"))?,
                )
            }),
            Box::new(move |b, d| {
                same(
                    &r2,
                    &R::decode_stub(b, d, &q4).map_err(|e| format!("decode: {e}"))?,
                )
            }),
        ],
    }
}

// ---------------------------------------------------------------------------------------------
// Values (mirrored in tests/interop/samba_ndr_services.py)
// ---------------------------------------------------------------------------------------------

fn handle(n: u32) -> ContextHandle {
    ContextHandle {
        attributes: n,
        uuid: Uuid::parse_str(HANDLE_UUID).unwrap(),
    }
}

fn s(text: &str) -> Unique<String> {
    Unique::new(text.to_string())
}

fn status(state: u32, accepted: u32) -> svcctl::ServiceStatus {
    svcctl::ServiceStatus {
        dw_service_type: 0x10,
        dw_current_state: state,
        dw_controls_accepted: accepted,
        ..Default::default()
    }
}

fn change_config(dependencies: Option<Vec<u8>>) -> svcctl::RChangeServiceConfigWRequest {
    svcctl::RChangeServiceConfigWRequest {
        h_service: handle(2),
        dw_service_type: 0xffff_ffff,
        dw_start_type: 4,
        dw_error_control: 0xffff_ffff,
        lp_binary_path_name: None,
        lp_load_order_group: None,
        lpdw_tag_id: None,
        dw_depend_size: dependencies.as_ref().map_or(0, |d| d.len() as u32),
        lp_dependencies: dependencies,
        lp_service_start_name: None,
        lp_password: None,
        dw_pw_size: 0,
        lp_display_name: Some("Print Spooler (disabled)".into()),
    }
}

fn svcctl_cases() -> Vec<Case> {
    use svcctl::*;
    let mut status_ex = vec![0u8; 36];
    status_ex[0] = 0x10;
    status_ex[4] = 4;
    vec![
        call(
            "svcctl_ROpenSCManagerW",
            ROpenScManagerWRequest {
                lp_machine_name: Some(HOST.into()),
                lp_database_name: Some("ServicesActive".into()),
                dw_desired_access: 5,
            },
            ROpenScManagerWResponse {
                lp_sc_handle: handle(1),
                result: 0,
            },
        ),
        call(
            "svcctl_REnumServicesStatusW",
            REnumServicesStatusWRequest {
                h_sc_manager: handle(1),
                dw_service_type: 0x30,
                dw_service_state: 3,
                cb_buf_size: 40,
                lp_resume_index: Some(0),
            },
            REnumServicesStatusWResponse {
                lp_buffer: (0..40).collect(),
                pcb_bytes_needed: 40,
                lp_services_returned: 1,
                lp_resume_index: Some(0),
                result: 0,
            },
        ),
        call(
            "svcctl_ROpenServiceW",
            ROpenServiceWRequest {
                h_sc_manager: handle(1),
                lp_service_name: "Spooler".into(),
                dw_desired_access: 5,
            },
            ROpenServiceWResponse {
                lp_service_handle: handle(2),
                result: 0,
            },
        ),
        call(
            "svcctl_RQueryServiceStatus",
            RQueryServiceStatusRequest {
                h_service: handle(2),
            },
            RQueryServiceStatusResponse {
                lp_service_status: status(4, 1),
                result: 0,
            },
        ),
        call(
            "svcctl_RControlService",
            RControlServiceRequest {
                h_service: handle(2),
                dw_control: 1,
            },
            RControlServiceResponse {
                lp_service_status: status(3, 1),
                result: 0,
            },
        ),
        call(
            "svcctl_RQueryServiceConfigW",
            RQueryServiceConfigWRequest {
                h_service: handle(2),
                cb_buf_size: 8192,
            },
            RQueryServiceConfigWResponse {
                lp_service_config: QueryServiceConfigw {
                    dw_service_type: 0x10,
                    dw_start_type: 3,
                    dw_error_control: 1,
                    lp_binary_path_name: s("C:\\Windows\\spoolsv.exe"),
                    lp_load_order_group: s(""),
                    dw_tag_id: 0,
                    lp_dependencies: s("RPCSS"),
                    lp_service_start_name: s("LocalSystem"),
                    lp_display_name: s("Print Spooler"),
                },
                pcb_bytes_needed: 152,
                result: 0,
            },
        ),
        call(
            "svcctl_RStartServiceW",
            RStartServiceWRequest {
                h_service: handle(2),
                argc: 2,
                argv: Some(vec![
                    StringPtrsw {
                        string_ptr: s("-v"),
                    },
                    StringPtrsw {
                        string_ptr: s("--port=9"),
                    },
                ]),
            },
            RStartServiceWResponse { result: 0 },
        ),
        call(
            "svcctl_RDeleteService",
            RDeleteServiceRequest {
                h_service: handle(2),
            },
            // ERROR_SERVICE_MARKED_FOR_DELETE
            RDeleteServiceResponse { result: 1072 },
        ),
        call(
            "svcctl_RCreateServiceW",
            RCreateServiceWRequest {
                h_sc_manager: handle(1),
                lp_service_name: "msrpctest".into(),
                lp_display_name: Some("msrpc test service".into()),
                dw_desired_access: 0xF01FF,
                dw_service_type: 0x10,
                dw_start_type: 3,
                dw_error_control: 1,
                lp_binary_path_name: "C:\\msrpc\\svc.exe".into(),
                lp_load_order_group: None,
                lpdw_tag_id: None,
                // "RPCSS\0\0" in UTF-16LE: a double-NUL-terminated list, as bytes.
                lp_dependencies: Some(b"R\0P\0C\0S\0S\0\0\0\0\0".to_vec()),
                dw_depend_size: 14,
                lp_service_start_name: None,
                lp_password: None,
                dw_pw_size: 0,
            },
            RCreateServiceWResponse {
                lpdw_tag_id: None,
                lp_service_handle: handle(3),
                result: 0,
            },
        ),
        call(
            "svcctl_RQueryServiceStatusEx",
            RQueryServiceStatusExRequest {
                h_service: handle(2),
                info_level: ScStatusType::ScStatusProcessInfo,
                cb_buf_size: 36,
            },
            RQueryServiceStatusExResponse {
                lp_buffer: status_ex,
                pcb_bytes_needed: 36,
                result: 0,
            },
        ),
        call(
            "svcctl_RQueryServiceConfig2W",
            RQueryServiceConfig2WRequest {
                h_service: handle(2),
                dw_info_level: 1,
                cb_buf_size: 8,
            },
            RQueryServiceConfig2WResponse {
                lp_buffer: vec![4, 0, 0, 0, 0x41, 0, 0, 0],
                pcb_bytes_needed: 8,
                result: 0,
            },
        ),
        call(
            "svcctl_RCloseServiceHandle",
            RCloseServiceHandleRequest {
                h_sc_object: handle(2),
            },
            RCloseServiceHandleResponse {
                h_sc_object: ContextHandle::NULL,
                result: 0,
            },
        ),
        // SERVICE_NO_CHANGE for the type and error control, SERVICE_DISABLED, a display name;
        // then with a dependency list, which Samba's IDL reads otherwise (the script's quirk).
        call(
            "svcctl_RChangeServiceConfigW",
            change_config(None),
            RChangeServiceConfigWResponse {
                lpdw_tag_id: None,
                result: 0,
            },
        ),
        call(
            "svcctl_RChangeServiceConfigW_dependencies",
            change_config(Some(b"R\0P\0C\0S\0S\0\0\0\0\0".to_vec())),
            RChangeServiceConfigWResponse {
                lpdw_tag_id: None,
                result: 0,
            },
        ),
        call(
            "svcctl_RGetServiceDisplayNameW",
            RGetServiceDisplayNameWRequest {
                h_sc_manager: handle(1),
                lp_service_name: "Spooler".into(),
                lpcch_buffer: 256,
            },
            RGetServiceDisplayNameWResponse {
                lp_display_name: "Print Spooler".into(),
                lpcch_buffer: 13,
                result: 0,
            },
        ),
    ]
}

fn at_info() -> atsvc::AtInfo {
    atsvc::AtInfo {
        job_time: msrpc_ndr::UInt3264(36_000_000),
        days_of_month: 1,
        days_of_week: 0x15,
        flags: 0x11,
        command: s("cmd /c echo msrpc"),
    }
}

fn at_enum(job_id: u32, command: &str) -> atsvc::AtEnum {
    atsvc::AtEnum {
        job_id,
        job_time: msrpc_ndr::UInt3264(3_600_000),
        days_of_month: 0,
        days_of_week: 0x40,
        flags: 1,
        command: s(command),
    }
}

fn atsvc_cases() -> Vec<Case> {
    use atsvc::*;
    vec![
        call(
            "atsvc_NetrJobAdd",
            NetrJobAddRequest {
                server_name: Some(HOST.into()),
                p_at_info: at_info(),
            },
            NetrJobAddResponse {
                p_job_id: 7,
                result: 0,
            },
        ),
        call(
            "atsvc_NetrJobDel",
            NetrJobDelRequest {
                server_name: None,
                min_job_id: 1,
                max_job_id: 7,
            },
            NetrJobDelResponse { result: 0 },
        ),
        call(
            "atsvc_NetrJobEnum",
            NetrJobEnumRequest {
                server_name: Some(HOST.into()),
                p_enum_container: AtEnumContainer::default(),
                prefered_maximum_length: 0xffff_ffff,
                p_resume_handle: Some(0),
            },
            NetrJobEnumResponse {
                p_enum_container: AtEnumContainer {
                    entries_read: 2,
                    buffer: Unique::new(vec![at_enum(1, "backup.cmd"), at_enum(7, "cmd /c dir")]),
                },
                p_total_entries: 2,
                p_resume_handle: Some(0),
                result: 0,
            },
        ),
        call(
            "atsvc_NetrJobGetInfo",
            NetrJobGetInfoRequest {
                server_name: Some(HOST.into()),
                job_id: 7,
            },
            NetrJobGetInfoResponse {
                pp_at_info: Unique::new(at_info()),
                result: 0,
            },
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Comparing bytes (as samba_ndr.rs)
// ---------------------------------------------------------------------------------------------

fn hex_path(dir: &Path, name: &str, part: &str, order: &str) -> PathBuf {
    dir.join(format!("{name}.{part}.{order}.hex"))
}

// ---------------------------------------------------------------------------------------------
// svcctl and atsvc against Samba's classes
// ---------------------------------------------------------------------------------------------

#[test]
fn svcctl_and_atsvc_against_samba_classes_and_ndrdump() {
    let cases: Vec<Case> = svcctl_cases().into_iter().chain(atsvc_cases()).collect();
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("samba_ndr_services");
    let _ = std::fs::remove_dir_all(&work);
    let (ours, samba) = (work.join("ours"), work.join("samba"));
    std::fs::create_dir_all(&ours).unwrap();
    std::fs::create_dir_all(&samba).unwrap();

    let mut manifest = String::new();
    for c in &cases {
        manifest.push_str(&format!("call {}\n", c.name));
        for (drep, order) in ORDERS {
            for (i, part) in ["in", "out"].into_iter().enumerate() {
                let b = (c.encode[i])(drep, TransferSyntax::Ndr20);
                std::fs::write(hex_path(&ours, c.name, part, order), hex::encode(b) + "\n")
                    .unwrap();
            }
        }
    }
    std::fs::write(ours.join("MANIFEST"), manifest).unwrap();

    let out = Command::new(PYTHON)
        .arg(SCRIPT)
        .arg("--ours")
        .arg(&ours)
        .arg("--samba")
        .arg(&samba)
        .output()
        .unwrap_or_else(|e| panic!("{PYTHON} did not run ({e}): apt-get install python3-samba"));
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert_ne!(
        out.status.code(),
        Some(2),
        "Samba's NDR engine is missing (apt-get install python3-samba samba-testsuite)"
    );
    let mut failures = Vec::new();
    if !out.status.success() {
        failures.push(format!("samba_ndr_services.py failed ({})", out.status));
    }

    println!("--- our side: decoding Samba's packing");
    let mut compared = 0;
    for c in &cases {
        for (drep, order) in ORDERS {
            for (i, part) in ["in", "out"].into_iter().enumerate() {
                let what = format!("{} {part} {order}", c.name);
                let quirk =
                    std::fs::read_to_string(samba.join(format!("{}.{part}.{order}.quirk", c.name)))
                        .ok();
                if quirk.as_deref().is_some_and(|q| q.starts_with("none")) {
                    println!("  {what}: no Samba vector ({})", quirk.unwrap().trim());
                    continue;
                }
                let theirs = match read_hex(&hex_path(&samba, c.name, part, order)) {
                    Ok(b) => b,
                    Err(e) => {
                        failures.push(format!("{what}: Samba's vector: {e}"));
                        continue;
                    }
                };
                if let Err(e) = (c.check[i])(&theirs, drep) {
                    failures.push(format!("{what}: Samba's bytes: {e}"));
                    continue;
                }
                let ours = (c.encode[i])(drep, TransferSyntax::Ndr20);
                if let Err(e) = same_but_referent_ids(&ours, &theirs, drep) {
                    failures.push(format!("{what}: {e}"));
                }
                compared += 1;
            }
        }
    }
    println!("{compared} of Samba's stubs decoded to our values and compared with our bytes");
    if std::env::var_os("MSRPC_NDR_CROSS_KEEP").is_some() {
        println!("work directory kept: {}", work.display());
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    // 19 cases, 2 directions, 2 orders, less RGetServiceDisplayNameW's 4 and
    // RChangeServiceConfigW_dependencies' 2 requests (Samba's quirks).
    assert_eq!(compared, 19 * 4 - 6);
}

// ---------------------------------------------------------------------------------------------
// ndrdump alone: eventlog, backupkey, and NDR64
// ---------------------------------------------------------------------------------------------

/// Runs `ndrdump [--ndr64] --validate PIPE FUNCTION in|out` over `stub` (a response with its
/// request as context); returns what it printed after checking that it read every byte.
fn ndrdump(pipe: &str, function: &str, stub: &[u8], request: Option<&[u8]>, ndr64: bool) -> String {
    let text = ndrdump_run(pipe, function, stub, request, ndr64);
    let which = if request.is_some() { "out" } else { "in" };
    let tag = if ndr64 { "64" } else { "20" };
    assert!(
        text.starts_with("pull returned Success") && !text.contains("ndr_pull_error"),
        "{function} {which} (NDR{tag}): ndrdump refused our bytes:\n{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("WARNING!") && l.ends_with(" unread bytes")),
        "{function} {which} (NDR{tag}): ndrdump left bytes unread:\n{text}"
    );
    text
}

/// Runs ndrdump as [`ndrdump`] does; returns what it printed, whatever it made of the bytes.
fn ndrdump_run(
    pipe: &str,
    function: &str,
    stub: &[u8],
    request: Option<&[u8]>,
    ndr64: bool,
) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("samba_ndr_services_dump");
    std::fs::create_dir_all(&dir).unwrap();
    let which = if request.is_some() { "out" } else { "in" };
    let tag = if ndr64 { "64" } else { "20" };
    let file = dir.join(format!("{function}.{which}.{tag}"));
    std::fs::write(&file, stub).unwrap();
    let mut cmd = Command::new("ndrdump");
    if ndr64 {
        cmd.arg("--ndr64");
    }
    cmd.arg("--validate");
    if let Some(q) = request {
        let ctx = dir.join(format!("{function}.ctx.{tag}"));
        std::fs::write(&ctx, q).unwrap();
        cmd.arg("-c").arg(ctx);
    }
    cmd.args([pipe, function, which]).arg(&file);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("ndrdump did not run ({e}): apt-get install samba-testsuite"));
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// ndrdump reads our NDR20 stub, shows `expect` and pushes back exactly our bytes
/// (`--validate`'s comparison); our decoder reads the big-endian encoding back.
fn dump20<Q: ReqStub, R: RespStub<Q>>(
    pipe: &str,
    function: &str,
    q: &Q,
    r: &R,
    expect_in: &[(&str, &str)],
    expect_out: &[(&str, &str)],
) {
    let le = DataRep::LITTLE_ENDIAN;
    let qb = q.encode_stub(le, TransferSyntax::Ndr20).unwrap();
    let rb = r.encode_stub(q, le, TransferSyntax::Ndr20).unwrap();
    for (stub, ctx, expect) in [(&qb, None, expect_in), (&rb, Some(&qb[..]), expect_out)] {
        let t = ndrdump(pipe, function, stub, ctx, false);
        assert!(
            t.contains("dump OK") && !t.contains("orig and validated differ"),
            "{function}: Samba's push of what it read is not our bytes:\n{t}"
        );
        for (field, value) in expect {
            assert!(
                has(&t, field, value),
                "{function}: no {field} : {value} in\n{t}"
            );
        }
    }
    let be = DataRep::BIG_ENDIAN;
    let qb = q.encode_stub(be, TransferSyntax::Ndr20).unwrap();
    assert_eq!(
        &Q::decode_stub(&qb, be).unwrap(),
        q,
        "{function} in, big-endian"
    );
    let rb = r.encode_stub(q, be, TransferSyntax::Ndr20).unwrap();
    assert_eq!(
        &R::decode_stub(&rb, be, q).unwrap(),
        r,
        "{function} out, big-endian"
    );
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

#[test]
fn eventlog_and_backupkey_against_ndrdump() {
    use eventlog::*;
    // ElfrOpenELW: the server name is a unique pointer to ONE wchar_t (MS-EVEN 2.2.2); Samba
    // declares it a pointer to two uint16 (eventlog_OpenUnknown0), which reads our character
    // and the alignment padding after it: the same bytes for a zero padding.
    let open = ElfrOpenElwRequest {
        unc_server_name: Some(u16::from(b'\\')),
        module_name: unicode("Application"),
        reg_module_name: unicode(""),
        major_version: 1,
        minor_version: 1,
    };
    dump20(
        "eventlog",
        "eventlog_OpenEventLogW",
        &open,
        &ElfrOpenElwResponse {
            log_handle: handle(5),
            result: 0,
        },
        &[
            ("unknown0", "0x005c (92)"),
            ("string", "'Application'"),
            ("major_version", "0x00000001 (1)"),
        ],
        &[("handle_type", "0x00000005 (5)"), ("uuid", HANDLE_UUID)],
    );
    dump20(
        "eventlog",
        "eventlog_GetNumRecords",
        &ElfrNumberOfRecordsRequest {
            log_handle: handle(5),
        },
        &ElfrNumberOfRecordsResponse {
            number_of_records: 42,
            result: 0,
        },
        &[("handle_type", "0x00000005 (5)")],
        &[("number", "0x0000002a (42)")],
    );
    dump20(
        "eventlog",
        "eventlog_GetOldestRecord",
        &ElfrOldestRecordRequest {
            log_handle: handle(5),
        },
        &ElfrOldestRecordResponse {
            oldest_record_number: 7,
            result: 0,
        },
        &[("handle_type", "0x00000005 (5)")],
        &[("oldest_entry", "0x00000007 (7)")],
    );
    // ElfrReadELW: sequential | forwards, 64 bytes asked, the whole buffer answered.
    let read = ElfrReadElwRequest {
        log_handle: handle(5),
        read_flags: 0x5,
        record_offset: 0,
        number_of_bytes_to_read: 64,
    };
    dump20(
        "eventlog",
        "eventlog_ReadEventLogW",
        &read,
        &ElfrReadElwResponse {
            buffer: (0..64).collect(),
            number_of_bytes_read: 56,
            min_number_of_bytes_needed: 0,
            result: 0,
        },
        &[
            ("number_of_bytes", "0x00000040 (64)"),
            ("offset", "0x00000000 (0)"),
        ],
        &[
            ("sent_size", "0x00000038 (56)"),
            ("real_size", "0x00000000 (0)"),
        ],
    );
    dump20(
        "eventlog",
        "eventlog_ClearEventLogW",
        &ElfrClearElfwRequest {
            log_handle: handle(5),
            backup_file_name: Some(unicode("C:\\backup.evt")),
        },
        &ElfrClearElfwResponse { result: 0 },
        &[("string", "'C:\\backup.evt'")],
        &[("result", "NT_STATUS_OK")],
    );
    // ElfrReportEventW: one string (an array of one unique pointer) and raw data, no SID;
    // Samba reads two strings and a SID otherwise than MS-EVEN (below).
    let report = |user_sid, strings: &[&str]| ElfrReportEventWRequest {
        log_handle: handle(6),
        time: 1_796_577_178,
        event_type: 4,
        event_category: 2,
        event_id: 1000,
        num_strings: u16::try_from(strings.len()).unwrap(),
        data_size: 3,
        computer_name: unicode("MSRPCHOST"),
        user_sid,
        strings: Some(strings.iter().map(|t| Unique::new(unicode(t))).collect()),
        data: Some(vec![1, 2, 3]),
        flags: 0,
        record_number: Some(0),
        time_written: Some(0),
    };
    dump20(
        "eventlog",
        "eventlog_ReportEventW",
        &report(None, &["first"]),
        &ElfrReportEventWResponse {
            record_number: Some(12),
            time_written: Some(1_796_577_179),
            result: 0,
        },
        &[
            ("event_id", "0x000003e8 (1000)"),
            ("num_of_strings", "0x0001 (1)"),
            ("string", "'first'"),
            ("data_size", "0x00000003 (3)"),
        ],
        &[("record_number", "0x0000000c (12)")],
    );
    // Two departures of Samba's eventlog.idl from MS-EVEN 3.1.4.13 (docs/idl.md), which must
    // still hold:
    // - UserSID is a PRPC_SID, MS-DTYP 2.4.2.3's conformant structure (its SubAuthority count
    //   first, as a conformance); Samba declares a plain `dom_sid`, which it marshals without
    //   that count, reads our count as the revision and refuses the rest.
    // - Strings is an array of unique pointers: NDR puts the array's referent ids first, then
    //   the referents (C706 14.3.12.3); pidl's code reads each pointer's referent right after
    //   it, which agrees with ours for one string only.
    let sid = RpcSid {
        revision: 1,
        sub_authority_count: 2,
        identifier_authority: SidIdentifierAuthority {
            value: [0, 0, 0, 0, 0, 5],
        },
        sub_authority: vec![32, 544],
    };
    for (what, q) in [
        ("a UserSID", report(Some(sid), &["first"])),
        ("two strings", report(None, &["first", "second"])),
    ] {
        let qb = q
            .encode_stub(DataRep::LITTLE_ENDIAN, TransferSyntax::Ndr20)
            .unwrap();
        let text = ndrdump_run("eventlog", "eventlog_ReportEventW", &qb, None, false);
        assert!(
            text.starts_with("pull returned Bad Array Size"),
            "Samba now reads ElfrReportEventW with {what} as MS-EVEN says: update docs/idl.md \
             and this test:\n{text}"
        );
        let back = ElfrReportEventWRequest::decode_stub(&qb, DataRep::LITTLE_ENDIAN).unwrap();
        assert_eq!(back, q, "our round trip with {what}");
    }

    let close = ElfrCloseElRequest {
        log_handle: handle(5),
    };
    dump20(
        "eventlog",
        "eventlog_CloseEventLog",
        &close,
        &ElfrCloseElResponse {
            log_handle: ContextHandle::NULL,
            result: 0,
        },
        &[("handle_type", "0x00000005 (5)")],
        &[("uuid", "00000000-0000-0000-0000-000000000000")],
    );

    // BackuprKey: BACKUPKEY_RETRIEVE_BACKUP_KEY_GUID, 4 bytes in, 6 bytes out.
    let guid = "018ff48a-eaba-40c6-8f6d-72370240e967";
    dump20(
        "backupkey",
        "bkrp_BackupKey",
        &backupkey::BackuprKeyRequest {
            pguid_action_agent: Uuid::parse_str(guid).unwrap(),
            p_data_in: vec![0xde, 0xad, 0xbe, 0xef],
            cb_data_in: 4,
            dw_param: 0,
        },
        &backupkey::BackuprKeyResponse {
            pp_data_out: Unique::new(vec![1, 2, 3, 4, 5, 6]),
            pcb_data_out: 6,
            result: 0,
        },
        &[("guidActionAgent", guid), ("data_in_len", "0x00000004 (4)")],
        &[("data_out_len", "0x00000006 (6)")],
    );
}

#[test]
fn ndrdump_reads_our_ndr64_services_stubs() {
    let le = DataRep::LITTLE_ENDIAN;
    let t = TransferSyntax::Ndr64;
    // svcctl: every call of the cross-check but those Samba's IDL reads otherwise.
    let functions = [
        ("svcctl_ROpenSCManagerW", "svcctl_OpenSCManagerW"),
        ("svcctl_REnumServicesStatusW", "svcctl_EnumServicesStatusW"),
        ("svcctl_ROpenServiceW", "svcctl_OpenServiceW"),
        ("svcctl_RQueryServiceStatus", "svcctl_QueryServiceStatus"),
        ("svcctl_RControlService", "svcctl_ControlService"),
        ("svcctl_RQueryServiceConfigW", "svcctl_QueryServiceConfigW"),
        ("svcctl_RStartServiceW", "svcctl_StartServiceW"),
        ("svcctl_RDeleteService", "svcctl_DeleteService"),
        ("svcctl_RCreateServiceW", "svcctl_CreateServiceW"),
        (
            "svcctl_RQueryServiceStatusEx",
            "svcctl_QueryServiceStatusEx",
        ),
        (
            "svcctl_RQueryServiceConfig2W",
            "svcctl_QueryServiceConfig2W",
        ),
        ("svcctl_RCloseServiceHandle", "svcctl_CloseServiceHandle"),
        (
            "svcctl_RChangeServiceConfigW",
            "svcctl_ChangeServiceConfigW",
        ),
    ];
    let cases = svcctl_cases();
    for (name, function) in functions {
        let c = cases.iter().find(|c| c.name == name).unwrap();
        let q = (c.encode[0])(le, t);
        let r = (c.encode[1])(le, t);
        ndrdump("svcctl", function, &q, None, true);
        ndrdump("svcctl", function, &r, Some(&q), true);
    }
    let conf = svcctl_cases()
        .into_iter()
        .find(|c| c.name == "svcctl_RQueryServiceConfigW")
        .unwrap();
    let q = (conf.encode[0])(le, t);
    let text = ndrdump(
        "svcctl",
        "svcctl_QueryServiceConfigW",
        &(conf.encode[1])(le, t),
        Some(&q),
        true,
    );
    assert!(
        has(&text, "executablepath", "'C:\\Windows\\spoolsv.exe'"),
        "{text}"
    );
    assert!(has(&text, "displayname", "'Print Spooler'"), "{text}");

    // eventlog and backupkey.
    let q = eventlog::ElfrNumberOfRecordsRequest {
        log_handle: handle(5),
    };
    let qb = q.to_stub_in(le, t).unwrap();
    ndrdump("eventlog", "eventlog_GetNumRecords", &qb, None, true);
    let rb = eventlog::ElfrNumberOfRecordsResponse {
        number_of_records: 42,
        result: 0,
    }
    .to_stub_in(&q, le, t)
    .unwrap();
    let text = ndrdump("eventlog", "eventlog_GetNumRecords", &rb, Some(&qb), true);
    assert!(has(&text, "number", "0x0000002a (42)"), "{text}");
    let q = eventlog::ElfrReadElwRequest {
        log_handle: handle(5),
        read_flags: 0x5,
        record_offset: 0,
        number_of_bytes_to_read: 16,
    };
    let qb = q.to_stub_in(le, t).unwrap();
    ndrdump("eventlog", "eventlog_ReadEventLogW", &qb, None, true);
    let rb = eventlog::ElfrReadElwResponse {
        buffer: (0..16).collect(),
        number_of_bytes_read: 16,
        min_number_of_bytes_needed: 0,
        result: 0,
    }
    .to_stub_in(&q, le, t)
    .unwrap();
    let text = ndrdump("eventlog", "eventlog_ReadEventLogW", &rb, Some(&qb), true);
    assert!(has(&text, "sent_size", "0x00000010 (16)"), "{text}");
    let q = backupkey::BackuprKeyRequest {
        pguid_action_agent: Uuid::from_u128(0x018ff48a_eaba_40c6_8f6d_72370240e967),
        p_data_in: vec![9; 5],
        cb_data_in: 5,
        dw_param: 1,
    };
    let qb = q.to_stub_in(le, t).unwrap();
    let text = ndrdump("backupkey", "bkrp_BackupKey", &qb, None, true);
    assert!(has(&text, "param", "0x00000001 (1)"), "{text}");
    let rb = backupkey::BackuprKeyResponse {
        pp_data_out: Unique::new(vec![7; 3]),
        pcb_data_out: 3,
        result: 0,
    }
    .to_stub_in(&q, le, t)
    .unwrap();
    let text = ndrdump("backupkey", "bkrp_BackupKey", &rb, Some(&qb), true);
    assert!(has(&text, "data_out_len", "0x00000003 (3)"), "{text}");
}
