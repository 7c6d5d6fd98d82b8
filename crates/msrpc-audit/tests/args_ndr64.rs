//! The technique library's argument decoders (`msrpc_audit::args::extract`) read request stubs
//! in the transfer syntax of the call's context: the same parameters written in NDR20 and in
//! NDR64 (8-byte referent ids and counts aligned to 8, structures holding pointers aligned to
//! 8, 4-byte enums, 8-byte `DWORD_PTR`: MS-RPCE 2.2.5) give the same arguments.
//!
//! Each stub is written parameter by parameter with `msrpc_ndr::Writer` in the layout the
//! operation's IDL gives (the comments name the fields), once per syntax.
#![allow(clippy::unwrap_used)]

use msrpc_audit::args::{self, LSARPC, NRPC, SCMR, SPOOLSS};
use msrpc_ndr::{string, DataRep, TransferSyntax, Uuid, Writer};

const SYNTAXES: [TransferSyntax; 2] = [TransferSyntax::Ndr20, TransferSyntax::Ndr64];

fn pairs(a: &[msrpc_audit::CallArg]) -> Vec<(String, String)> {
    a.iter()
        .map(|a| (a.name.clone(), a.value.clone()))
        .collect()
}

fn want(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// A `[string, unique] wchar_t*` parameter: referent id, then the string.
fn unique_wide(w: &mut Writer, s: Option<&str>) {
    match s {
        Some(s) => {
            w.ref_id(0x0002_0000);
            string::encode_wide(s, "s", w).unwrap();
        }
        None => w.ref_id(0),
    }
}

/// A 20-byte context handle (aligned to 4 in both syntaxes).
fn handle(w: &mut Writer) {
    w.align(4);
    w.bytes(&[0x11; 20]);
}

/// An `RPC_UNICODE_STRING` parameter (MS-DTYP 2.3.10): `Length`, `MaximumLength`, a pointer to
/// the conformant-varying UTF-16 buffer (structure aligned to 8 in NDR64), then the buffer.
fn unicode_string(w: &mut Writer, s: &str) {
    let units: Vec<u16> = s.encode_utf16().collect();
    let n = units.len() as u64;
    w.align_syntax(4, 8);
    w.u16((n * 2) as u16);
    w.u16((n * 2) as u16);
    w.ref_id(0x0002_0004);
    w.count(n, "max").unwrap();
    w.count(0, "offset").unwrap();
    w.count(n, "actual").unwrap();
    for u in units {
        w.u16(u);
    }
}

/// MS-NRPC NetrServerAuthenticate3 (opnum 26): PrimaryName, AccountName, SecureChannelType (an
/// enum: 2 bytes in NDR20, 4 in NDR64), ComputerName, ClientCredential, NegotiateFlags.
fn netr_server_authenticate3(syntax: TransferSyntax) -> Vec<u8> {
    let mut w = Writer::with_syntax(DataRep::LITTLE_ENDIAN, syntax);
    unique_wide(&mut w, Some("\\\\DC01"));
    string::encode_wide("WS01$", "a", &mut w).unwrap();
    if syntax.is_ndr64() {
        w.u32(2);
    } else {
        w.u16(2);
    }
    string::encode_wide("WS01", "c", &mut w).unwrap();
    w.bytes(&[0; 8]);
    w.u32(0x212f_ffff);
    w.into_bytes()
}

/// MS-SCMR RCreateServiceW (opnum 12): hSCManager, lpServiceName, [unique] lpDisplayName,
/// dwDesiredAccess, dwServiceType, dwStartType, dwErrorControl, lpBinaryPathName.
fn r_create_service(syntax: TransferSyntax) -> Vec<u8> {
    let mut w = Writer::with_syntax(DataRep::LITTLE_ENDIAN, syntax);
    handle(&mut w);
    string::encode_wide("evil", "n", &mut w).unwrap();
    unique_wide(&mut w, Some("Evil service"));
    w.u32(0x000f_01ff);
    w.u32(0x10);
    w.u32(3);
    w.u32(0);
    string::encode_wide("%COMSPEC% /c calc", "p", &mut w).unwrap();
    w.into_bytes()
}

/// MS-LSAD LsarCreateSecret (opnum 16): PolicyHandle, SecretName (RPC_UNICODE_STRING).
fn lsar_create_secret(syntax: TransferSyntax) -> Vec<u8> {
    let mut w = Writer::with_syntax(DataRep::LITTLE_ENDIAN, syntax);
    handle(&mut w);
    unicode_string(&mut w, "G$BCKUPKEY_PREFERRED");
    w.u32(0x0002_0000);
    w.into_bytes()
}

/// MS-RPRN RpcOpenPrinterEx (opnum 69): pPrinterName, pDatatype, DEVMODE_CONTAINER { cbBuf;
/// [unique] pDevMode }, AccessRequired, SPLCLIENT_CONTAINER { Level; union switch; [unique]
/// SPLCLIENT_INFO_1* } and the SPLCLIENT_INFO_1 { dwSize; pMachineName; pUserName; dwBuildNum;
/// dwMajorVersion; dwMinorVersion; wProcessorArchitecture } with its strings. Structures
/// holding pointers align to 8 in NDR64; a union's arm to the union's alignment.
fn rpc_open_printer_ex(syntax: TransferSyntax) -> Vec<u8> {
    let mut w = Writer::with_syntax(DataRep::LITTLE_ENDIAN, syntax);
    unique_wide(&mut w, Some("\\\\VICTIM"));
    unique_wide(&mut w, None);
    // DEVMODE_CONTAINER with a 3-byte DEVMODE.
    w.align_syntax(4, 8);
    w.u32(3);
    w.ref_id(0x0002_0008);
    w.count(3, "cb").unwrap();
    w.bytes(&[1, 2, 3]);
    w.u32(0x0002_0000);
    // SPLCLIENT_CONTAINER, level 1.
    w.align_syntax(4, 8);
    w.u32(1);
    w.u32(1);
    w.ref_id(0x0002_000c);
    // SPLCLIENT_INFO_1.
    w.align_syntax(4, 8);
    w.u32(28);
    w.ref_id(0x0002_0010);
    w.ref_id(0x0002_0014);
    w.u32(7601);
    w.u32(6);
    w.u32(1);
    w.u16(9);
    w.trailer_align(8);
    string::encode_wide("ATTACKER", "m", &mut w).unwrap();
    string::encode_wide("bob", "u", &mut w).unwrap();
    w.into_bytes()
}

/// MS-TSCH NetrJobAdd (opnum 0): ServerName, AT_INFO { DWORD_PTR JobTime (8 bytes in NDR64);
/// DaysOfMonth; DaysOfWeek; Flags; [string] Command }, the structure aligned to 8 in NDR64.
fn netr_job_add(syntax: TransferSyntax) -> Vec<u8> {
    let mut w = Writer::with_syntax(DataRep::LITTLE_ENDIAN, syntax);
    unique_wide(&mut w, None);
    w.align_syntax(4, 8);
    if syntax.is_ndr64() {
        w.u64(36_000_000);
    } else {
        w.u32(36_000_000);
    }
    w.u32(0);
    w.u8(0x7f);
    w.u8(0x11);
    w.ref_id(0x0002_0000);
    w.trailer_align(8);
    string::encode_wide("cmd.exe /c whoami", "c", &mut w).unwrap();
    w.into_bytes()
}

/// An operation: interface, opnum, its stub writer, the arguments it must give.
type Case = (
    Uuid,
    u16,
    fn(TransferSyntax) -> Vec<u8>,
    Vec<(String, String)>,
);

#[test]
fn the_same_arguments_from_ndr20_and_ndr64_stubs() {
    let atsvc = Uuid::from_u128(0x1ff70682_0a51_30e8_076d_740be8cee98b);
    let cases: [Case; 5] = [
        (
            NRPC,
            26,
            netr_server_authenticate3,
            want(&[
                ("AccountName", "WS01$"),
                ("SecureChannelType", "2"),
                ("ComputerName", "WS01"),
                ("ClientCredential", "0000000000000000"),
                ("NegotiateFlags", "0x212fffff"),
            ]),
        ),
        (
            SCMR,
            12,
            r_create_service,
            want(&[
                ("lpServiceName", "evil"),
                ("lpDisplayName", "Evil service"),
                ("dwServiceType", "0x00000010"),
                ("dwStartType", "3"),
                ("lpBinaryPathName", "%COMSPEC% /c calc"),
            ]),
        ),
        (
            LSARPC,
            16,
            lsar_create_secret,
            want(&[("SecretName", "G$BCKUPKEY_PREFERRED")]),
        ),
        (
            SPOOLSS,
            69,
            rpc_open_printer_ex,
            want(&[
                ("pPrinterName", "\\\\VICTIM"),
                ("AccessRequired", "0x00020000"),
                ("pMachineName", "ATTACKER"),
                ("pUserName", "bob"),
            ]),
        ),
        (
            atsvc,
            0,
            netr_job_add,
            want(&[("Command", "cmd.exe /c whoami")]),
        ),
    ];
    for (iface, opnum, build, expected) in cases {
        for syntax in SYNTAXES {
            let stub = build(syntax);
            let got = args::extract(&iface, opnum, &stub, DataRep::LITTLE_ENDIAN, syntax);
            assert_eq!(pairs(&got), expected, "{iface} opnum {opnum} in {syntax:?}");
        }
        // Read in the other syntax, the NDR64 stub does not give the arguments: the syntax
        // matters (what the audit got wrong before it followed the context's).
        let ndr64 = build(TransferSyntax::Ndr64);
        let misread = args::extract(
            &iface,
            opnum,
            &ndr64,
            DataRep::LITTLE_ENDIAN,
            TransferSyntax::Ndr20,
        );
        assert_ne!(pairs(&misread), expected, "{iface} opnum {opnum}");
    }
}

#[test]
fn ndr64_stubs_cut_anywhere_never_panic() {
    for build in [
        netr_server_authenticate3,
        r_create_service,
        lsar_create_secret,
        rpc_open_printer_ex,
        netr_job_add,
    ] {
        let stub = build(TransferSyntax::Ndr64);
        for cut in 0..stub.len() {
            for iface in args::INTERFACES {
                for opnum in [0, 12, 16, 26, 69] {
                    let _ = args::extract(
                        &iface,
                        opnum,
                        stub.get(..cut).unwrap(),
                        DataRep::LITTLE_ENDIAN,
                        TransferSyntax::Ndr64,
                    );
                }
            }
        }
    }
}
