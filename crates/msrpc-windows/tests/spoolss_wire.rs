//! spoolss (MS-RPRN) stubs without a peer: the opnums of MS-RPRN's table, and the NDR20
//! bytes of RpcAddPortEx with PORT_CONTAINER level 0xFFFFFFFF computed by hand from C706 14
//! and MS-RPRN 2.2.1.2.7 (whose union is switched on `0x00FFFFFF & Level`: the discriminant
//! on the wire is 0x00FFFFFF while Level stays 0xFFFFFFFF). Samba cannot serve as the
//! reference here: its port container carries the printer information union
//! (`tests/tests/samba_ndr_spoolss.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use msrpc_ndr::{DataRep, DecodeLimits, Unique};
use msrpc_proto::dispatch::Interface;
use msrpc_windows::spoolss as sp;

#[test]
fn spoolss_opnums_match_ms_rprn() {
    let table: &[(&str, u16, u16)] = &[
        ("RpcEnumPrinters", sp::RpcEnumPrintersRequest::OPNUM, 0),
        ("RpcAddPrinter", sp::RpcAddPrinterRequest::OPNUM, 5),
        ("RpcGetPrinter", sp::RpcGetPrinterRequest::OPNUM, 8),
        (
            "RpcAddPrinterDriver",
            sp::RpcAddPrinterDriverRequest::OPNUM,
            9,
        ),
        (
            "RpcEnumPrinterDrivers",
            sp::RpcEnumPrinterDriversRequest::OPNUM,
            10,
        ),
        (
            "RpcGetPrinterDriverDirectory",
            sp::RpcGetPrinterDriverDirectoryRequest::OPNUM,
            12,
        ),
        ("RpcGetPrinterData", sp::RpcGetPrinterDataRequest::OPNUM, 26),
        ("RpcClosePrinter", sp::RpcClosePrinterRequest::OPNUM, 29),
        ("RpcGetForm", sp::RpcGetFormRequest::OPNUM, 32),
        ("RpcEnumForms", sp::RpcEnumFormsRequest::OPNUM, 34),
        ("RpcEnumPorts", sp::RpcEnumPortsRequest::OPNUM, 35),
        ("RpcDeletePort", sp::RpcDeletePortRequest::OPNUM, 39),
        (
            "RpcGetPrinterDriver2",
            sp::RpcGetPrinterDriver2Request::OPNUM,
            53,
        ),
        (
            "RpcReplyOpenPrinter",
            sp::RpcReplyOpenPrinterRequest::OPNUM,
            58,
        ),
        (
            "RpcRemoteFindFirstPrinterChangeNotificationEx",
            sp::RpcRemoteFindFirstPrinterChangeNotificationExRequest::OPNUM,
            65,
        ),
        ("RpcOpenPrinterEx", sp::RpcOpenPrinterExRequest::OPNUM, 69),
        (
            "RpcEnumPrinterData",
            sp::RpcEnumPrinterDataRequest::OPNUM,
            72,
        ),
        ("RpcXcvData", sp::RpcXcvDataRequest::OPNUM, 88),
        (
            "RpcAddPrinterDriverEx",
            sp::RpcAddPrinterDriverExRequest::OPNUM,
            89,
        ),
    ];
    for (name, ours, spec) in table {
        assert_eq!(ours, spec, "{name}");
    }
    let s = sp::WinspoolInterface::SYNTAX;
    assert_eq!(
        (s.uuid.to_string().as_str(), s.major, s.minor),
        ("12345678-1234-abcd-ef00-0123456789ab", 1, 0)
    );
}

/// RpcAddPortEx(pName "\\s", PORT_CONTAINER level 0xFFFFFFFF with PORT_INFO_FF, a
/// PORT_VAR_CONTAINER of two bytes, pMonitorName "M"), little-endian NDR20, offset by offset.
#[test]
fn add_port_ex_level_ff_bytes_by_hand() {
    let q = sp::RpcAddPortExRequest {
        p_name: Some("\\\\s".into()),
        p_port_container: sp::PortContainer {
            level: 0xffff_ffff,
            port_info: sp::PortContainerPortInfo::PPortInfoFf(Unique::new(sp::PortInfoFf {
                p_port_name: Unique::new("P".into()),
                cb_monitor_data: 2,
                p_monitor_data: Unique::new(0x41),
            })),
        },
        p_port_var_container: sp::PortVarContainer {
            cb_monitor_data: 2,
            p_monitor_data: Unique::new(vec![0x41, 0x42]),
        },
        p_monitor_name: "M".into(),
    };
    let mut want: Vec<u8> = Vec::new();
    let u32s = |w: &mut Vec<u8>, vs: &[u32]| {
        for v in vs {
            w.extend_from_slice(&v.to_le_bytes());
        }
    };
    // pName: a unique pointer, then its string: max_count 4, offset 0, actual_count 4.
    u32s(&mut want, &[0x0002_0000, 4, 0, 4]);
    want.extend_from_slice(&[0x5c, 0, 0x5c, 0, 0x73, 0, 0, 0]);
    // PORT_CONTAINER (a top-level [ref]: no pointer): Level, the union's discriminant
    // 0x00FFFFFF & Level, the arm's unique pointer.
    u32s(&mut want, &[0xffff_ffff, 0x00ff_ffff, 0x0002_0004]);
    // PORT_INFO_FF: pPortName, cbMonitorData, pMonitorData (a pointer to one BYTE).
    u32s(&mut want, &[0x0002_0008, 2, 0x0002_000c]);
    // pPortName's string "P", then pMonitorData's byte.
    u32s(&mut want, &[2, 0, 2]);
    want.extend_from_slice(&[0x50, 0, 0, 0, 0x41]);
    // PORT_VAR_CONTAINER, aligned to 4: cbMonitorData, pMonitorData; its conformant array.
    want.extend_from_slice(&[0, 0, 0]);
    u32s(&mut want, &[2, 0x0002_0010, 2]);
    want.extend_from_slice(&[0x41, 0x42]);
    // pMonitorName, a [string] [ref]: aligned to 4, no pointer.
    want.extend_from_slice(&[0, 0]);
    u32s(&mut want, &[2, 0, 2]);
    want.extend_from_slice(&[0x4d, 0, 0, 0]);
    assert_eq!(want.len(), 100);

    let ours = q.to_stub(DataRep::LITTLE_ENDIAN).unwrap();
    assert_eq!(hex(&ours), hex(&want));
    let back =
        sp::RpcAddPortExRequest::from_stub(&want, DataRep::LITTLE_ENDIAN, DecodeLimits::DEFAULT)
            .unwrap();
    assert_eq!(back, q);

    // A discriminant that is not 0x00FFFFFF & Level is refused, as is a level MS-RPRN does
    // not give (4).
    let mut bad = want.clone();
    bad[28..32].copy_from_slice(&0xffff_ffffu32.to_le_bytes());
    assert!(sp::RpcAddPortExRequest::from_stub(
        &bad,
        DataRep::LITTLE_ENDIAN,
        DecodeLimits::DEFAULT
    )
    .is_err());
    let mut bad = want;
    bad[24..28].copy_from_slice(&4u32.to_le_bytes());
    bad[28..32].copy_from_slice(&4u32.to_le_bytes());
    let e = sp::RpcAddPortExRequest::from_stub(&bad, DataRep::LITTLE_ENDIAN, DecodeLimits::DEFAULT)
        .unwrap_err();
    assert!(
        e.to_string().contains("unknown union discriminant 0x4"),
        "{e}"
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
