//! msrpc-windows's spoolss stubs (MS-RPRN, from our own IDL) against Samba's NDR engine:
//! python3-samba's `samba.dcerpc.spoolss` classes and samba-testsuite's `ndrdump`, for the
//! operations that carry MS-RPRN's containers: RpcOpenPrinterEx (SPLCLIENT_CONTAINER level 1),
//! RpcRemoteFindFirstPrinterChangeNotificationEx (RPC_V2_NOTIFY_OPTIONS), RpcAddPrinter
//! (PRINTER_CONTAINER level 2 and a DEVMODE), RpcAddPrinterDriver (DRIVER_CONTAINER levels 2
//! and 3, a multisz), RpcAddPrinterDriverEx (level 8) and RpcEnumPrinters (the sizing call, and a buffer of custom-marshaled
//! PRINTER_INFO_1), requests and responses.
//!
//! NDR20, both byte orders, both directions, as `samba_ndr.rs` does (with its procedure,
//! written again here for spoolss's cases, whose byte orders and quirks are per case):
//! 1. we encode every case into a directory (`NAME.in|out.le|be.hex`, a `MANIFEST`);
//! 2. `tests/interop/samba_ndr_spoolss.py` builds the same values with Samba's classes, writes
//!    Samba's packing, unpacks ours and compares the values, and runs `ndrdump --validate`
//!    over our little-endian stubs;
//! 3. we decode Samba's packing, compare the values with ours, and the bytes (identical but
//!    for referent ids).
//!
//! Where Samba departs from MS-RPRN the script says so per case and direction (a `.quirk` file
//! tells this side what not to read): Samba marshals the DEVMODE and the custom-marshaled INFO
//! structures, which MS-RPRN defines as little-endian bytes, in the PDU's byte order; its
//! SPLCLIENT_INFO_3 ends in a 4-byte-aligned `udlong` where MS-RPRN's `hSplPrinter` is an
//! 8-byte-aligned hyper; and its RpcAddPortEx carries the printer union in the port container
//! and a `[unique]` monitor name (our bytes for it are checked by hand in
//! `crates/msrpc-windows/tests/spoolss_wire.rs` instead).
//!
//! NDR64: `ndrdump --ndr64` reads our NDR64 stubs of the same operations (ndrdump has no
//! NDR64 packing to compare with), PRINTER_INFO_2's `ULONG_PTR` members (`__int3264`, 8 bytes
//! in NDR64) included. Two places do not agree, each asserted as it stands so that a fix on
//! either side shows: Samba's multisz (`spoolss_StringArray`) has a 4-byte count where MS-RPRN's conformant array has NDR64's 8-byte conformance; and
//! Samba reads the custom-marshaled INFO buffer of RpcEnumPrinters with NDR64's 64-bit
//! relative pointers where MS-RPRN 2.2.2 has 32-bit offsets (Samba's departures).
//!
//! The tests fail loudly when python3-samba or ndrdump is missing (apt-get install
//! python3-samba samba-testsuite). `MSRPC_NDR_CROSS_KEEP=1` keeps the work directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "samba_ndr/bytes.rs"]
mod bytes;
use bytes::{has, read_hex, same_but_referent_ids};

use std::fmt::{Debug, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use msrpc_ndr::{ContextHandle, DataRep, DecodeLimits, TransferSyntax, Unique, Uuid};
use msrpc_windows::spoolss as sp;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/samba_ndr_spoolss.py");
const PYTHON: &str = "/usr/bin/python3";
const LIMITS: DecodeLimits = DecodeLimits::DEFAULT;

const HOST: &str = "\\\\server";
const HANDLE_UUID: &str = "2b7e1d0c-5a46-4e3b-9c1f-0d2e3f405162";

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

type EncodeFn = Box<dyn Fn(DataRep) -> Result<Vec<u8>, String>>;
type CheckFn = Box<dyn Fn(&[u8], DataRep) -> Result<(), String>>;

/// One direction of a call: our encoding of its value and the check of a peer's bytes.
struct Side {
    encode: EncodeFn,
    check: CheckFn,
}

struct Case {
    name: &'static str,
    /// The byte orders the case runs in ("le", "be").
    orders: &'static [&'static str],
    request: Side,
    response: Side,
}

fn same_value<T: Debug + PartialEq>(expected: &T, got: &T) -> Result<(), String> {
    if expected == got {
        return Ok(());
    }
    Err(format!(
        "value differs:\n  expected {expected:?}\n  decoded  {got:?}"
    ))
}

macro_rules! call {
    ($name:expr, $orders:expr, $q:ty => $r:ty, $req:expr, $resp:expr) => {{
        let (q, r): ($q, $r) = ($req, $resp);
        let (q1, q2, q3, r1) = (q.clone(), q.clone(), q.clone(), r.clone());
        Case {
            name: $name,
            orders: $orders,
            request: Side {
                encode: Box::new(move |d| q1.to_stub(d).map_err(|e| format!("encode: {e}"))),
                check: Box::new(move |b, d| {
                    let got = <$q>::from_stub(b, d, LIMITS).map_err(|e| format!("decode: {e}"))?;
                    same_value(&q2, &got)
                }),
            },
            response: Side {
                encode: Box::new(move |d| r.to_stub(&q, d).map_err(|e| format!("encode: {e}"))),
                check: Box::new(move |b, d| {
                    let got =
                        <$r>::from_stub(b, d, LIMITS, &q3).map_err(|e| format!("decode: {e}"))?;
                    same_value(&r1, &got)
                }),
            },
        }
    }};
}

const BOTH: &[&str] = &["le", "be"];

fn handle(n: u32) -> ContextHandle {
    ContextHandle {
        attributes: n,
        uuid: Uuid::parse_str(HANDLE_UUID).unwrap(),
    }
}

fn s(t: &str) -> Unique<String> {
    Unique::new(t.to_string())
}

fn client_info1() -> sp::SplclientContainer {
    sp::SplclientContainer {
        level: 1,
        client_info: sp::SplclientContainerClientInfo::PClientInfo1(Unique::new(
            sp::SplclientInfo1 {
                dw_size: 28,
                p_machine_name: s("\\\\client"),
                p_user_name: s("alice"),
                dw_build_num: 9200,
                dw_major_version: 6,
                dw_minor_version: 2,
                w_processor_architecture: 9,
            },
        )),
    }
}

/// SPLCLIENT_INFO_3 (MS-RPRN 2.2.1.3.3): its last member, `unsigned __int64 hSplPrinter`, is
/// an NDR hyper, aligned to 8.
fn client_info3() -> sp::SplclientContainer {
    sp::SplclientContainer {
        level: 3,
        client_info: sp::SplclientContainerClientInfo::PNotUsed2(Unique::new(sp::SplclientInfo3 {
            cb_size: 48,
            dw_flags: 0,
            dw_size: 28,
            p_machine_name: s("\\\\client"),
            p_user_name: s("alice"),
            dw_build_num: 9200,
            dw_major_version: 6,
            dw_minor_version: 2,
            w_processor_architecture: 9,
            h_spl_printer: 0x0102_0304_0506_0708,
        })),
    }
}

fn open_printer_ex() -> (sp::RpcOpenPrinterExRequest, sp::RpcOpenPrinterExResponse) {
    (
        sp::RpcOpenPrinterExRequest {
            p_printer_name: Some(format!("{HOST}\\printer1")),
            p_datatype: Some("RAW".into()),
            p_dev_mode_container: sp::DevmodeContainer::default(),
            access_required: 0x0002_0008,
            p_client_info: client_info1(),
        },
        sp::RpcOpenPrinterExResponse {
            p_handle: handle(7),
            result: 0,
        },
    )
}

fn notify_ex() -> sp::RpcRemoteFindFirstPrinterChangeNotificationExRequest {
    let kind = |t: u16, fields: Vec<u16>| sp::RpcV2NotifyOptionsType {
        r#type: t,
        reserved0: 0,
        reserved1: 0,
        reserved2: 0,
        count: fields.len() as u32,
        p_fields: Unique::new(fields),
    };
    sp::RpcRemoteFindFirstPrinterChangeNotificationExRequest {
        h_printer: handle(7),
        fdw_flags: 0x0000_00ff,
        fdw_options: 0,
        psz_local_machine: Some("\\\\client".into()),
        dw_printer_local: 0x1234,
        p_options: Some(sp::RpcV2NotifyOptions {
            version: 2,
            reserved: 0,
            count: 2,
            p_types: Unique::new(vec![kind(0, vec![0x0e, 0x12]), kind(1, vec![0x0a])]),
        }),
    }
}

/// A DEVMODE (MS-RPRN 2.2.2.1) as its 220 little-endian bytes: device "printer1", A4,
/// portrait, one copy, 600 dpi, form "A4".
fn devmode_bytes() -> Vec<u8> {
    fn wname(out: &mut Vec<u8>, name: &str) {
        let mut units: Vec<u16> = name.encode_utf16().collect();
        units.resize(32, 0);
        for u in units {
            out.extend_from_slice(&u.to_le_bytes());
        }
    }
    let mut b = Vec::with_capacity(220);
    wname(&mut b, "printer1");
    for v in [0x0401u16, 0x0600, 220, 0] {
        // dmSpecVersion, dmDriverVersion, dmSize, dmDriverExtra
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&0x103u32.to_le_bytes()); // dmFields
                                                  // dmOrientation .. dmCollate
    for v in [1u16, 9, 0, 0, 100, 1, 7, 0xfffc, 1, 1, 600, 2, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    wname(&mut b, "A4");
    b.extend_from_slice(&0u16.to_le_bytes()); // reserved0
                                              // reserved1-3, dmNup, reserved4, dmICMMethod, dmICMIntent, dmMediaType, dmDitherType,
                                              // reserved5-8
    for v in [0u32, 0, 0, 1, 0, 1, 2, 1, 0, 0, 0, 0, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    assert_eq!(b.len(), 220);
    b
}

fn printer_info2() -> sp::PrinterInfo2 {
    sp::PrinterInfo2 {
        p_server_name: s(HOST),
        p_printer_name: s("printer1"),
        p_share_name: s("printer1"),
        p_port_name: s("LPT1:"),
        p_driver_name: s("Generic / Text Only"),
        p_comment: s("msrpc test printer"),
        p_location: s("lab"),
        p_dev_mode: msrpc_ndr::UInt3264(0),
        p_sep_file: Unique::null(),
        p_print_processor: s("winprint"),
        p_datatype: s("RAW"),
        p_parameters: Unique::null(),
        p_security_descriptor: msrpc_ndr::UInt3264(0),
        attributes: 0x48,
        priority: 1,
        default_priority: 1,
        start_time: 0,
        until_time: 0,
        status: 0,
        c_jobs: 0,
        average_ppm: 0,
    }
}

fn add_printer() -> sp::RpcAddPrinterRequest {
    let dm = devmode_bytes();
    sp::RpcAddPrinterRequest {
        p_name: Some(HOST.into()),
        p_printer_container: sp::PrinterContainer {
            level: 2,
            printer_info: sp::PrinterContainerPrinterInfo::PPrinterInfo2(Unique::new(
                printer_info2(),
            )),
        },
        p_dev_mode_container: sp::DevmodeContainer {
            cb_buf: dm.len() as u32,
            p_dev_mode: Unique::new(dm),
        },
        p_security_container: sp::SecurityContainer::default(),
    }
}

const DRIVER_FILES: [&str; 3] = [
    "\\\\server\\print$\\x64\\UNIDRV.DLL",
    "\\\\server\\print$\\x64\\TTY.GPD",
    "\\\\server\\print$\\x64\\UNIDRVUI.DLL",
];

/// A multisz (MS-RPRN 2.2): each string and its terminator, then one more terminator.
fn multisz(names: &[&str]) -> Vec<u16> {
    let mut v = Vec::new();
    for n in names {
        v.extend(n.encode_utf16());
        v.push(0);
    }
    v.push(0);
    v
}

fn add_driver(level: u32) -> sp::RpcAddPrinterDriverRequest {
    let info = if level == 2 {
        sp::DriverContainerDriverInfo::Level2(Unique::new(sp::DriverInfo2 {
            c_version: 3,
            p_name: s("Generic / Text Only"),
            p_environment: s("Windows x64"),
            p_driver_path: s(DRIVER_FILES[0]),
            p_data_file: s(DRIVER_FILES[1]),
            p_config_file: s(DRIVER_FILES[2]),
        }))
    } else {
        let deps = multisz(&["TTYRES.DLL", "TTY.INI"]);
        sp::DriverContainerDriverInfo::Level3(Unique::new(sp::RpcDriverInfo3 {
            c_version: 3,
            p_name: s("Generic / Text Only"),
            p_environment: s("Windows x64"),
            p_driver_path: s(DRIVER_FILES[0]),
            p_data_file: s(DRIVER_FILES[1]),
            p_config_file: s(DRIVER_FILES[2]),
            p_help_file: s("\\\\server\\print$\\x64\\UNIDRV.HLP"),
            p_monitor_name: Unique::null(),
            p_default_data_type: s("RAW"),
            cch_dependent_files: deps.len() as u32,
            p_dependent_files: Unique::new(deps),
        }))
    };
    sp::RpcAddPrinterDriverRequest {
        p_name: Some(HOST.into()),
        p_driver_container: sp::DriverContainer {
            level,
            driver_info: info,
        },
    }
}

/// RpcAddPrinterDriverEx (opnum 89) with DRIVER_CONTAINER level 8: four multisz, two
/// FILETIMEs (two DWORDs, aligned to 4) and two DWORDLONGs (hypers, aligned to 8).
fn add_driver_ex8() -> sp::RpcAddPrinterDriverExRequest {
    let msz = |names: &[&str]| {
        let v = multisz(names);
        (v.len() as u32, Unique::new(v))
    };
    let (cch_dep, dep) = msz(&["TTYRES.DLL", "TTY.INI"]);
    let (cch_prev, prev) = msz(&["Old Text Driver"]);
    let (cch_color, color) = msz(&["sRGB Color Space Profile.icm"]);
    let (cch_core, core) = msz(&["{D20EA372-DD35-4950-9ED8-A6335AFE79F0}"]);
    let info = sp::RpcDriverInfo8 {
        c_version: 3,
        p_name: s("Generic / Text Only"),
        p_environment: s("Windows x64"),
        p_driver_path: s(DRIVER_FILES[0]),
        p_data_file: s(DRIVER_FILES[1]),
        p_config_file: s(DRIVER_FILES[2]),
        p_help_file: s("\\\\server\\print$\\x64\\UNIDRV.HLP"),
        p_monitor_name: Unique::null(),
        p_default_data_type: s("RAW"),
        cch_dependent_files: cch_dep,
        p_dependent_files: dep,
        cch_previous_names: cch_prev,
        pszz_previous_names: prev,
        ft_driver_date: sp::Filetime {
            dw_low_date_time: 0x1234_5678,
            dw_high_date_time: 0x01d0_0000,
        },
        dwl_driver_version: 0x000a_0000_4a61_0001,
        p_mfg_name: s("Generic"),
        p_oem_url: s("http://printers.example/"),
        p_hardware_id: s("generic_text"),
        p_provider: s("msrpc"),
        p_print_processor: s("winprint"),
        p_vendor_setup: Unique::null(),
        cch_color_profiles: cch_color,
        pszz_color_profiles: color,
        p_inf_path: s("C:\\Windows\\INF\\ntprint.inf"),
        dw_printer_driver_attributes: 0x1,
        cch_core_dependencies: cch_core,
        pszz_core_driver_dependencies: core,
        ft_min_inbox_driver_ver_date: sp::Filetime {
            dw_low_date_time: 0x8765_4321,
            dw_high_date_time: 0x01c0_0000,
        },
        dwl_min_inbox_driver_ver_version: 0x0006_0001_1db1_0000,
    };
    sp::RpcAddPrinterDriverExRequest {
        p_name: Some(HOST.into()),
        p_driver_container: sp::DriverContainer {
            level: 8,
            driver_info: sp::DriverContainerDriverInfo::Level8(Unique::new(info)),
        },
        dw_file_copy_flags: 0x20,
    }
}

/// PRINTER_INFO_1 entries custom-marshaled (MS-RPRN 2.2.2.9.1) into a buffer of `size`
/// bytes: the fixed parts (Flags and three offsets, 16 bytes each) first, the strings packed
/// from the end of the buffer down, in field order, each offset counted from the start of its
/// own fixed part (where Windows and Samba put them).
fn printer_info1_buffer(entries: &[(u32, &str, &str, &str)], size: usize) -> Vec<u8> {
    let mut buf = vec![0u8; size];
    let mut end = size;
    for (i, (flags, description, name, comment)) in entries.iter().enumerate() {
        let base = i * 16;
        buf[base..base + 4].copy_from_slice(&flags.to_le_bytes());
        for (k, text) in [description, name, comment].into_iter().enumerate() {
            let mut bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
            bytes.extend_from_slice(&[0, 0]);
            end -= bytes.len();
            buf[end..end + bytes.len()].copy_from_slice(&bytes);
            let off = (end - base) as u32;
            let at = base + 4 + 4 * k;
            buf[at..at + 4].copy_from_slice(&off.to_le_bytes());
        }
    }
    buf
}

fn enum_printers_filled() -> (sp::RpcEnumPrintersRequest, sp::RpcEnumPrintersResponse) {
    let q = sp::RpcEnumPrintersRequest {
        flags: 2,
        name: Some(HOST.into()),
        level: 1,
        p_printer_enum: Some(vec![0; 240]),
        cb_buf: 240,
    };
    let buf = printer_info1_buffer(
        &[(
            0x0080_0000,
            "\\\\server\\printer1,Generic / Text Only,msrpc test printer",
            "\\\\server\\printer1",
            "msrpc test printer",
        )],
        240,
    );
    let r = sp::RpcEnumPrintersResponse {
        p_printer_enum: Some(buf),
        pcb_needed: 240,
        pc_returned: 1,
        result: 0,
    };
    (q, r)
}

fn cases() -> Vec<Case> {
    let (oq, or) = open_printer_ex();
    let (eq, er) = enum_printers_filled();
    vec![
        call!(
            "spoolss_RpcOpenPrinterEx",
            BOTH,
            sp::RpcOpenPrinterExRequest => sp::RpcOpenPrinterExResponse,
            oq,
            or
        ),
        call!(
            "spoolss_RpcOpenPrinterEx_level3",
            BOTH,
            sp::RpcOpenPrinterExRequest => sp::RpcOpenPrinterExResponse,
            sp::RpcOpenPrinterExRequest {
                p_client_info: client_info3(),
                ..open_printer_ex().0
            },
            open_printer_ex().1
        ),
        call!(
            "spoolss_RpcRemoteFindFirstPrinterChangeNotificationEx",
            BOTH,
            sp::RpcRemoteFindFirstPrinterChangeNotificationExRequest
                => sp::RpcRemoteFindFirstPrinterChangeNotificationExResponse,
            notify_ex(),
            sp::RpcRemoteFindFirstPrinterChangeNotificationExResponse { result: 0 }
        ),
        call!(
            "spoolss_RpcAddPrinter_level2",
            BOTH,
            sp::RpcAddPrinterRequest => sp::RpcAddPrinterResponse,
            add_printer(),
            sp::RpcAddPrinterResponse {
                p_handle: handle(8),
                result: 0,
            }
        ),
        call!(
            "spoolss_RpcAddPrinterDriver_level2",
            BOTH,
            sp::RpcAddPrinterDriverRequest => sp::RpcAddPrinterDriverResponse,
            add_driver(2),
            sp::RpcAddPrinterDriverResponse { result: 0 }
        ),
        call!(
            "spoolss_RpcAddPrinterDriver_level3",
            BOTH,
            sp::RpcAddPrinterDriverRequest => sp::RpcAddPrinterDriverResponse,
            add_driver(3),
            sp::RpcAddPrinterDriverResponse { result: 0x0d }
        ),
        call!(
            "spoolss_RpcAddPrinterDriverEx_level8",
            BOTH,
            sp::RpcAddPrinterDriverExRequest => sp::RpcAddPrinterDriverExResponse,
            add_driver_ex8(),
            sp::RpcAddPrinterDriverExResponse { result: 0 }
        ),
        call!(
            "spoolss_RpcAddPortEx_level1",
            BOTH,
            sp::RpcAddPortExRequest => sp::RpcAddPortExResponse,
            sp::RpcAddPortExRequest {
                p_name: Some(HOST.into()),
                p_port_container: sp::PortContainer {
                    level: 1,
                    port_info: sp::PortContainerPortInfo::PPortInfo1(Unique::new(
                        sp::PortInfo1 {
                            p_port_name: s("LPT9:"),
                        },
                    )),
                },
                p_port_var_container: sp::PortVarContainer::default(),
                p_monitor_name: "Local Port".into(),
            },
            sp::RpcAddPortExResponse { result: 0 }
        ),
        call!(
            "spoolss_RpcEnumPrinters_sizing",
            BOTH,
            sp::RpcEnumPrintersRequest => sp::RpcEnumPrintersResponse,
            sp::RpcEnumPrintersRequest {
                flags: 2,
                name: Some(HOST.into()),
                level: 1,
                p_printer_enum: None,
                cb_buf: 0,
            },
            sp::RpcEnumPrintersResponse {
                p_printer_enum: None,
                pcb_needed: 120,
                pc_returned: 0,
                result: 122,
            }
        ),
        call!(
            "spoolss_RpcEnumPrinters_level1",
            BOTH,
            sp::RpcEnumPrintersRequest => sp::RpcEnumPrintersResponse,
            eq,
            er
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Comparing bytes (as samba_ndr.rs)
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

fn drep(order: &str) -> DataRep {
    if order == "be" {
        DataRep::BIG_ENDIAN
    } else {
        DataRep::LITTLE_ENDIAN
    }
}

fn hex_file(dir: &Path, name: &str, part: &str, order: &str) -> PathBuf {
    dir.join(format!("{name}.{part}.{order}.hex"))
}

fn quirk(dir: &Path, name: &str, part: &str, order: &str) -> Option<(String, String)> {
    let text = std::fs::read_to_string(dir.join(format!("{name}.{part}.{order}.quirk"))).ok()?;
    let (kind, why) = text.trim().split_once(':')?;
    Some((kind.trim().to_owned(), why.trim().to_owned()))
}

fn write_ours(cases: &[Case], ours: &Path) -> Vec<String> {
    let mut failures = Vec::new();
    let mut manifest = String::new();
    for c in cases {
        writeln!(manifest, "{} {}", c.name, c.orders.join(",")).unwrap();
        for order in c.orders {
            for (side, part) in [(&c.request, "in"), (&c.response, "out")] {
                match (side.encode)(drep(order)) {
                    Ok(b) => {
                        std::fs::write(hex_file(ours, c.name, part, order), hex::encode(b) + "\n")
                            .unwrap()
                    }
                    Err(e) => failures.push(format!("{} {part} {order}: {e}", c.name)),
                }
            }
        }
    }
    std::fs::write(ours.join("MANIFEST"), manifest).unwrap();
    failures
}

fn check_samba(cases: &[Case], samba: &Path) -> Vec<String> {
    let mut failures = Vec::new();
    for c in cases {
        let mut notes: Vec<String> = Vec::new();
        let before = failures.len();
        for order in c.orders {
            let d = drep(order);
            for (side, part) in [(&c.request, "in"), (&c.response, "out")] {
                let what = format!("{} {part} {order}", c.name);
                let q = quirk(samba, c.name, part, order);
                if let Some((kind, why)) = &q {
                    if kind == "none" {
                        notes.push(format!("{part} {order}: no Samba vector (quirk [{why}])"));
                        continue;
                    }
                }
                let theirs = match read_hex(&hex_file(samba, c.name, part, order)) {
                    Ok(b) => b,
                    Err(e) => {
                        failures.push(format!("{what}: Samba's vector: {e}"));
                        continue;
                    }
                };
                if let Err(e) = (side.check)(&theirs, d) {
                    failures.push(format!("{what}: Samba's bytes: {e}"));
                    continue;
                }
                if q.is_some() {
                    continue;
                }
                match (side.encode)(d).map(|ours| same_but_referent_ids(&ours, &theirs, d)) {
                    Ok(Ok(0)) => {}
                    Ok(Ok(n)) => notes.push(format!("{part} {order}: {n} referent ids renumbered")),
                    Ok(Err(e)) | Err(e) => {
                        failures.push(format!("{what}: Samba's bytes vs ours: {e}"))
                    }
                }
            }
        }
        let status = if failures.len() > before {
            "FAIL"
        } else {
            "ok"
        };
        println!("  [{status}] {}", c.name);
        notes.dedup();
        for n in notes {
            println!("         {n}");
        }
    }
    failures
}

/// NDR20, both byte orders, both directions, against python3-samba and ndrdump.
#[test]
fn spoolss_samba_ndr_cross_check() {
    let cases = cases();
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("samba_ndr_spoolss");
    let _ = std::fs::remove_dir_all(&work);
    let (ours, samba) = (work.join("ours"), work.join("samba"));
    std::fs::create_dir_all(&ours).unwrap();
    std::fs::create_dir_all(&samba).unwrap();
    println!("spoolss: {} cases", cases.len());
    let mut failures = write_ours(&cases, &ours);

    println!("--- Samba's side: {PYTHON} {SCRIPT}");
    let out = Command::new(PYTHON)
        .arg(SCRIPT)
        .arg("--ours")
        .arg(&ours)
        .arg("--samba")
        .arg(&samba)
        .output()
        .unwrap_or_else(|e| {
            panic!("{PYTHON} could not be run ({e}); this test needs python3-samba and ndrdump")
        });
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert_ne!(
        out.status.code(),
        Some(2),
        "Samba's NDR engine is missing: {}(apt-get install python3-samba samba-testsuite)",
        String::from_utf8_lossy(&out.stdout)
    );
    if !out.status.success() {
        failures.push(format!(
            "samba_ndr_spoolss.py failed ({}): see its output above",
            out.status
        ));
    }

    println!("--- our side: decoding Samba's vectors");
    failures.extend(check_samba(&cases, &samba));
    if std::env::var_os("MSRPC_NDR_CROSS_KEEP").is_some() {
        println!("work directory kept: {}", work.display());
    } else if failures.is_empty() {
        let _ = std::fs::remove_dir_all(&work);
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// NDR64
// ---------------------------------------------------------------------------------------------

/// Runs `ndrdump --ndr64 --validate spoolss FUNCTION DIRECTION` over `stub` (with the request
/// as the context of a response); its output and whether it read every byte of ours.
fn ndrdump64(dir: &Path, function: &str, stub: &[u8], request: Option<&[u8]>) -> (bool, String) {
    let which = if request.is_some() { "out" } else { "in" };
    let file = dir.join(format!("{function}.{which}"));
    std::fs::write(&file, stub).unwrap();
    let mut cmd = Command::new("ndrdump");
    cmd.arg("--ndr64").arg("--validate");
    if let Some(q) = request {
        let ctx = dir.join(format!("{function}.ctx"));
        std::fs::write(&ctx, q).unwrap();
        cmd.arg("-c").arg(ctx);
    }
    cmd.args(["spoolss", function, which]).arg(&file);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("ndrdump did not run ({e}): apt-get install samba-testsuite"));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let read_all = text.starts_with("pull returned Success")
        && !text.contains("ndr_pull_error")
        && !text
            .lines()
            .any(|l| l.starts_with("WARNING!") && l.ends_with(" unread bytes"));
    (read_all, text)
}

/// Our NDR64 stubs of the same operations, read by ndrdump with the values they must show.
#[test]
fn ndrdump_reads_our_ndr64_spoolss_stubs() {
    const LE: DataRep = DataRep::LITTLE_ENDIAN;
    const NDR64: TransferSyntax = TransferSyntax::Ndr64;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("samba_ndr64_spoolss");
    std::fs::create_dir_all(&dir).unwrap();
    let must = |function: &str, stub: &[u8], request: Option<&[u8]>| {
        let (ok, text) = ndrdump64(&dir, function, stub, request);
        assert!(ok, "{function}: ndrdump refused our NDR64 bytes:\n{text}");
        text
    };

    let (q, r) = open_printer_ex();
    let qb = q.to_stub_in(LE, NDR64).unwrap();
    let t = must("spoolss_OpenPrinterEx", &qb, None);
    for want in ["'\\\\server\\printer1'", "'RAW'", "'\\\\client'", "'alice'"] {
        assert!(t.contains(want), "{want}: {t}");
    }
    assert!(has(&t, "level", "0x00000001 (1)"), "{t}");
    assert!(has(&t, "build", "0x000023f0 (9200)"), "{t}");
    assert!(
        has(&t, "processor", "PROCESSOR_ARCHITECTURE_AMD64 (9)"),
        "{t}"
    );
    let t = must(
        "spoolss_OpenPrinterEx",
        &r.to_stub_in(&q, LE, NDR64).unwrap(),
        Some(&qb),
    );
    assert!(has(&t, "handle_type", "0x00000007 (7)"), "{t}");
    assert!(has(&t, "uuid", HANDLE_UUID), "{t}");

    let q = notify_ex();
    let t = must(
        "spoolss_RemoteFindFirstPrinterChangeNotifyEx",
        &q.to_stub_in(LE, NDR64).unwrap(),
        None,
    );
    assert!(t.contains("'\\\\client'"), "{t}");
    assert!(has(&t, "printer_local", "0x00001234 (4660)"), "{t}");
    assert!(has(&t, "type", "JOB_NOTIFY_TYPE (1)"), "{t}");
    assert!(has(&t, "field", "PRINTER_NOTIFY_FIELD_STATUS (18)"), "{t}");
    assert!(has(&t, "field", "JOB_NOTIFY_FIELD_STATUS (10)"), "{t}");

    let q = add_driver(2);
    let t = must(
        "spoolss_AddPrinterDriver",
        &q.to_stub_in(LE, NDR64).unwrap(),
        None,
    );
    for want in [
        "'Generic / Text Only'",
        "'Windows x64'",
        "'\\\\server\\print$\\x64\\TTY.GPD'",
    ] {
        assert!(t.contains(want), "{want}: {t}");
    }
    assert!(has(&t, "version", "SPOOLSS_DRIVER_VERSION_200X (3)"), "{t}");

    // Level 3's multisz: MS-RPRN declares it `[size_is(cchDependentFiles), unique] wchar_t *`,
    // a conformant array, whose conformance NDR64 makes 8 bytes (MS-RPCE 2.2.5.3.4.1); Samba's
    // spoolss_StringArray is a structure with a uint32 count, so its NDR64 reads 4 and leaves
    // the strings unread. A Samba departure in NDR64 (NDR20 agrees: samba_ndr_spoolss.py).
    let (ok, t) = ndrdump64(
        &dir,
        "spoolss_AddPrinterDriver",
        &add_driver(3).to_stub_in(LE, NDR64).unwrap(),
        None,
    );
    assert!(
        !ok && has(&t, "_ndr_size", "0x00000014 (20)") && t.contains("WARNING! 40 unread bytes"),
        "Samba's NDR64 now reads MS-RPRN's multisz: update this test and docs/idl.md\n{t}"
    );

    // PRINTER_INFO_2's pDevMode and pSecurityDescriptor are ULONG_PTR, 8 bytes in NDR64
    // (MS-RPCE 2.2.5.2.1; Samba's uint3264 devmode_ptr/secdesc_ptr agree): ndrdump reads every
    // byte and our values. (Before msrpc-idl lowered __int3264 to msrpc_ndr::UInt3264 the stub
    // was 8 bytes short here and ndrdump misread it.)
    let mut q = add_printer();
    q.p_dev_mode_container = sp::DevmodeContainer::default();
    let (ok, t) = ndrdump64(
        &dir,
        "spoolss_AddPrinter",
        &q.to_stub_in(LE, NDR64).unwrap(),
        None,
    );
    assert!(
        ok,
        "ndrdump --ndr64 did not read our PRINTER_INFO_2 whole:\n{t}"
    );
    assert!(t.contains("'msrpc test printer'"), "{t}");
    // Level 1 has no ULONG_PTR: read right.
    let mut q = add_printer();
    q.p_dev_mode_container = sp::DevmodeContainer::default();
    q.p_printer_container = sp::PrinterContainer {
        level: 1,
        printer_info: sp::PrinterContainerPrinterInfo::PPrinterInfo1(Unique::new(
            sp::PrinterInfo1 {
                flags: 0x0080_0000,
                p_description: s("a printer"),
                p_name: s("printer1"),
                p_comment: s("msrpc test printer"),
            },
        )),
    };
    let t = must(
        "spoolss_AddPrinter",
        &q.to_stub_in(LE, NDR64).unwrap(),
        None,
    );
    for want in ["'a printer'", "'printer1'", "'msrpc test printer'"] {
        assert!(t.contains(want), "{want}: {t}");
    }
    // With a DEVMODE (a conformant byte array; Samba's subcontext reads it in NDR64 too).
    q.p_dev_mode_container = add_printer().p_dev_mode_container;
    let t = must(
        "spoolss_AddPrinter",
        &q.to_stub_in(LE, NDR64).unwrap(),
        None,
    );
    assert!(has(&t, "_ndr_size", "0x000000dc (220)"), "{t}");
    assert!(has(&t, "devicename", "'printer1'"), "{t}");
    assert!(has(&t, "formname", "'A4'"), "{t}");
    assert!(has(&t, "papersize", "DMPAPER_A4 (9)"), "{t}");

    let (q, r) = enum_printers_filled();
    let qb = q.to_stub_in(LE, NDR64).unwrap();
    let t = must("spoolss_EnumPrinters", &qb, None);
    assert!(has(&t, "offered", "0x000000f0 (240)"), "{t}");
    // The response's buffer holds custom-marshaled PRINTER_INFO_1 (MS-RPRN 2.2.2: 32-bit
    // offsets, whatever the transfer syntax); Samba's NDR64 reads the structures in it with
    // NDR64's rules, 64-bit relative pointers, and refuses the offsets. A Samba departure.
    let (ok, t) = ndrdump64(
        &dir,
        "spoolss_EnumPrinters",
        &r.to_stub_in(&q, LE, NDR64).unwrap(),
        Some(&qb),
    );
    assert!(
        !ok && t.contains("non-zero upper 32 bits"),
        "Samba's NDR64 now reads MS-RPRN's 32-bit INFO offsets: update this test\n{t}"
    );
    // The sizing answer (no buffer) is read right.
    let q = sp::RpcEnumPrintersRequest {
        flags: 2,
        name: Some(HOST.into()),
        level: 1,
        p_printer_enum: None,
        cb_buf: 0,
    };
    let qb = q.to_stub_in(LE, NDR64).unwrap();
    let r = sp::RpcEnumPrintersResponse {
        p_printer_enum: None,
        pcb_needed: 120,
        pc_returned: 0,
        result: 122,
    };
    let t = must(
        "spoolss_EnumPrinters",
        &r.to_stub_in(&q, LE, NDR64).unwrap(),
        Some(&qb),
    );
    assert!(has(&t, "needed", "0x00000078 (120)"), "{t}");
    assert!(has(&t, "result", "WERR_INSUFFICIENT_BUFFER"), "{t}");
}
