//! The values of the cross-check: every operation of the EPM (`epmapper`), mgmt and rpcecho
//! interfaces, request and response, with null and empty pointers, large counts and every
//! union arm. `tests/interop/samba_ndr_cross.py` builds the same values with Samba's
//! `samba.dcerpc` classes under the same names (the generators there follow the ones here:
//! entry `i` of a large batch is made by the same formula on both sides).
//!
//! Three lists:
//! - [`cases`]: calls both engines must encode alike and decode from each other, and bytes both
//!   must refuse;
//! - [`open_enum_cases`]: rpcecho calls carrying enumeration values outside the declared
//!   constants. Samba reads and writes them unchanged, and so do our open enums (the
//!   `#[ndr(unknown)]` catch-all); `open_enum_values_cross_check` runs them.

use std::net::Ipv4Addr;

use msrpc_echo::*;
use msrpc_epm::mgmt::*;
use msrpc_epm::*;
use msrpc_ndr::{from_bytes, ContextHandle, DataRep, DecodeLimits, Ndr, Unique, Uuid};
use msrpc_proto::SyntaxId;

use super::{call, refuse_in, refuse_out, Case};

/// `ept_s_not_registered` (C706 appendix O; Samba's `EPMAPPER_STATUS_NO_MORE_ENTRIES`).
const EPT_S_NOT_REGISTERED: u32 = 0x16c9_a0d6;
/// `rpc_s_access_denied` as Windows reports it (`ERROR_ACCESS_DENIED`).
const ACCESS_DENIED: u32 = 5;

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

/// The n-th made-up object UUID (also `obj_uuid(n)` in the Python script).
fn obj_uuid(n: u32) -> Uuid {
    uuid(&format!(
        "{n:08x}-0000-4000-8000-0000000{:05x}",
        n % 0x10_0000
    ))
}

const ECHO_UUID: &str = "60a15ec5-4de8-11d7-a637-005056a20182";
const EPM_UUID: &str = "e1af8308-5d1f-11c9-91a4-08002b14a0fa";
const MGMT_UUID: &str = "afa8bd80-7d8a-11c9-bef4-08002b102989";
const HANDLE_UUID: &str = "5c0b6d3e-9a2f-4f61-8e27-c1d2e3f40516";

fn echo_syntax() -> SyntaxId {
    SyntaxId::new(uuid(ECHO_UUID), 1, 0)
}

fn twr(t: Tower) -> Twr {
    t.to_twr().unwrap()
}

fn tcp_tower(port: u16) -> Twr {
    twr(Tower::ncacn_ip_tcp(
        echo_syntax(),
        SyntaxId::NDR20,
        Ipv4Addr::new(127, 0, 0, 1),
        port,
    ))
}

/// One tower of each kind the EPM carries (also `every_tower()` in the Python script): every
/// floor kind our tower module names, an unknown protocol identifier and a tower without
/// floors.
fn every_tower() -> Vec<Twr> {
    let s = echo_syntax();
    let t = SyntaxId::NDR20;
    vec![
        tcp_tower(49152),
        twr(Tower::ncadg_ip_udp(s, t, Ipv4Addr::new(10, 1, 2, 3), 49153)),
        twr(Tower::ncacn_http(s, t, Ipv4Addr::new(192, 168, 0, 1), 593)),
        twr(Tower::ncacn_np(s, t, "\\PIPE\\rpcecho", "\\\\SERVER")),
        twr(Tower::ncalrpc(s, t, "LRPC-0123456789abcdef")),
        twr(Tower::ncacn_unix_stream(s, t, "/run/samba/ncalrpc/rpcecho")),
        twr(Tower::new(vec![
            Floor::Uuid(s),
            Floor::Other {
                lhs: vec![0x42, 1, 2],
                rhs: vec![9, 8, 7],
            },
        ])),
        twr(Tower::new(Vec::new())),
    ]
}

fn entry(object: Uuid, tower: Option<Twr>, annotation: &str) -> EptEntry {
    EptEntry {
        object,
        tower: tower.map_or_else(Unique::null, Unique::new),
        annotation: annotation.to_owned(),
    }
}

/// Entry `i` of a large batch (also `batch_entry(i)` in the Python script).
fn batch_entry(i: u32) -> EptEntry {
    entry(
        obj_uuid(i),
        Some(tcp_tower(49152 + (i % 1000) as u16)),
        &format!("entry {i}"),
    )
}

fn handle() -> ContextHandle {
    ContextHandle {
        attributes: 0,
        uuid: uuid(HANDLE_UUID),
    }
}

/// The largest annotation `ept_entry_t` holds: 63 characters and the terminator in
/// `char annotation[ept_max_annotation_size]` (64, C706 appendix O).
fn max_annotation() -> String {
    (0..63).map(|i| char::from(b'a' + (i % 26) as u8)).collect()
}

const BIG: u32 = 1024 * 1024;

/// Byte `i` of the large rpcecho arrays (also `pattern(n)` in the Python script).
fn pattern(n: u32) -> Vec<u8> {
    (0..n).map(|i| (i.wrapping_mul(7) % 251) as u8).collect()
}

fn epm_cases() -> Vec<Case> {
    let not_registered = EPT_S_NOT_REGISTERED;
    let towers = every_tower();
    let mut every_entry: Vec<EptEntry> = towers
        .iter()
        .enumerate()
        .map(|(i, t)| entry(obj_uuid(i as u32), Some(t.clone()), "every tower"))
        .collect();
    every_entry.push(entry(Uuid::nil(), None, &max_annotation()));
    let lookup_batch: Vec<EptEntry> = (0..500).map(batch_entry).collect();
    let map_batch: Vec<Unique<Twr>> = (0..1000)
        .map(|i| Unique::new(tcp_tower(49152 + i as u16)))
        .collect();
    vec![
        call(
            "epm_Insert",
            EptInsertRequest {
                num_ents: 2,
                entries: vec![
                    entry(obj_uuid(1), Some(tcp_tower(49152)), "rpcecho over TCP"),
                    entry(Uuid::nil(), None, ""),
                ],
                replace: 1,
            },
            EptInsertResponse { status: 0 },
        ),
        call(
            "epm_Insert_empty",
            EptInsertRequest {
                num_ents: 0,
                entries: Vec::new(),
                replace: 0,
            },
            EptInsertResponse { status: 0 },
        ),
        call(
            "epm_Insert_every_tower",
            EptInsertRequest {
                num_ents: every_entry.len() as u32,
                entries: every_entry,
                replace: 0,
            },
            EptInsertResponse {
                status: ACCESS_DENIED,
            },
        ),
        call(
            "epm_Delete",
            EptDeleteRequest {
                num_ents: 1,
                entries: vec![entry(obj_uuid(2), Some(towers[3].clone()), "named pipe")],
            },
            EptDeleteResponse {
                status: not_registered,
            },
        ),
        call(
            "epm_Lookup",
            EptLookupRequest {
                inquiry_type: RPC_C_EP_MATCH_BY_BOTH,
                object: Unique::new(obj_uuid(1)),
                interface_id: Unique::new(RpcIfId {
                    uuid: uuid(ECHO_UUID),
                    vers_major: 1,
                    vers_minor: 0,
                }),
                vers_option: RPC_C_VERS_EXACT,
                entry_handle: ContextHandle::NULL,
                max_ents: 4,
            },
            EptLookupResponse {
                entry_handle: handle(),
                num_ents: 2,
                entries: vec![
                    entry(obj_uuid(1), Some(tcp_tower(49152)), "rpcecho over TCP"),
                    entry(obj_uuid(1), Some(towers[3].clone()), "rpcecho over SMB"),
                ],
                status: 0,
            },
        ),
        call(
            "epm_Lookup_null",
            EptLookupRequest {
                inquiry_type: RPC_C_EP_ALL_ELTS,
                object: Unique::null(),
                interface_id: Unique::null(),
                vers_option: RPC_C_VERS_ALL,
                entry_handle: handle(),
                max_ents: 0,
            },
            EptLookupResponse {
                entry_handle: ContextHandle::NULL,
                num_ents: 0,
                entries: Vec::new(),
                status: not_registered,
            },
        ),
        call(
            "epm_Lookup_unknown_constants",
            EptLookupRequest {
                inquiry_type: 0xdead_beef,
                object: Unique::new(Uuid::nil()),
                interface_id: Unique::null(),
                vers_option: 99,
                entry_handle: ContextHandle::NULL,
                max_ents: 1,
            },
            EptLookupResponse {
                entry_handle: ContextHandle::NULL,
                num_ents: 0,
                entries: Vec::new(),
                status: 0x16c9_a0d7,
            },
        ),
        call(
            "epm_Lookup_500",
            EptLookupRequest {
                inquiry_type: RPC_C_EP_ALL_ELTS,
                object: Unique::null(),
                interface_id: Unique::null(),
                vers_option: RPC_C_VERS_ALL,
                entry_handle: ContextHandle::NULL,
                max_ents: 500,
            },
            EptLookupResponse {
                entry_handle: handle(),
                num_ents: 500,
                entries: lookup_batch,
                status: 0,
            },
        ),
        call(
            "epm_Map",
            EptMapRequest {
                object: Unique::new(obj_uuid(1)),
                map_tower: Unique::new(twr(Tower::ncacn_ip_tcp(
                    echo_syntax(),
                    SyntaxId::NDR20,
                    Ipv4Addr::UNSPECIFIED,
                    135,
                ))),
                entry_handle: ContextHandle::NULL,
                max_towers: 4,
            },
            EptMapResponse {
                entry_handle: handle(),
                num_towers: 3,
                towers: vec![
                    Unique::new(tcp_tower(49152)),
                    Unique::null(),
                    Unique::new(towers[1].clone()),
                ],
                status: 0,
            },
        ),
        call(
            "epm_Map_null",
            EptMapRequest {
                object: Unique::null(),
                map_tower: Unique::null(),
                entry_handle: handle(),
                max_towers: 0,
            },
            EptMapResponse {
                entry_handle: ContextHandle::NULL,
                num_towers: 0,
                towers: Vec::new(),
                status: not_registered,
            },
        ),
        call(
            "epm_Map_every_tower",
            EptMapRequest {
                object: Unique::null(),
                map_tower: Unique::new(towers[4].clone()),
                entry_handle: ContextHandle::NULL,
                max_towers: 10,
            },
            EptMapResponse {
                entry_handle: handle(),
                num_towers: towers.len() as u32,
                towers: towers.iter().cloned().map(Unique::new).collect(),
                status: 0,
            },
        ),
        call(
            "epm_Map_1000",
            EptMapRequest {
                object: Unique::null(),
                map_tower: Unique::new(tcp_tower(135)),
                entry_handle: ContextHandle::NULL,
                max_towers: 1000,
            },
            EptMapResponse {
                entry_handle: handle(),
                num_towers: 1000,
                towers: map_batch,
                status: 0,
            },
        ),
        // Two equal towers: Samba's classes are given one object twice (see the script's
        // full_pointer_alias).
        call(
            "epm_Map_shared_tower",
            EptMapRequest {
                object: Unique::null(),
                map_tower: Unique::new(tcp_tower(135)),
                entry_handle: ContextHandle::NULL,
                max_towers: 2,
            },
            EptMapResponse {
                entry_handle: handle(),
                num_towers: 2,
                towers: vec![Unique::new(tcp_tower(49152)), Unique::new(tcp_tower(49152))],
                status: 0,
            },
        ),
        call(
            "epm_Map_zero_octet_tower",
            EptMapRequest {
                object: Unique::null(),
                map_tower: Unique::new(Twr::new(Vec::new())),
                entry_handle: ContextHandle::NULL,
                max_towers: 1,
            },
            EptMapResponse {
                entry_handle: ContextHandle::NULL,
                num_towers: 0,
                towers: Vec::new(),
                status: not_registered,
            },
        ),
        call(
            "epm_LookupHandleFree",
            EptLookupHandleFreeRequest {
                entry_handle: handle(),
            },
            EptLookupHandleFreeResponse {
                entry_handle: ContextHandle::NULL,
                status: 0,
            },
        ),
        call(
            "epm_InqObject",
            EptInqObjectRequest {},
            EptInqObjectResponse {
                ept_object: obj_uuid(7),
                status: 0,
            },
        ),
        call(
            "epm_MgmtDelete",
            EptMgmtDeleteRequest {
                object_speced: 1,
                object: Unique::new(obj_uuid(1)),
                tower: Unique::new(tcp_tower(49152)),
            },
            EptMgmtDeleteResponse {
                status: ACCESS_DENIED,
            },
        ),
        call(
            "epm_MgmtDelete_null",
            EptMgmtDeleteRequest {
                object_speced: 0,
                object: Unique::null(),
                tower: Unique::null(),
            },
            EptMgmtDeleteResponse {
                status: not_registered,
            },
        ),
    ]
}

fn if_id(u: &str, major: u16, minor: u16) -> Unique<RpcIfId> {
    Unique::new(RpcIfId {
        uuid: uuid(u),
        vers_major: major,
        vers_minor: minor,
    })
}

fn mgmt_cases() -> Vec<Case> {
    let many: Vec<Unique<RpcIfId>> = (0..2000u32)
        .map(|i| {
            Unique::new(RpcIfId {
                uuid: obj_uuid(i),
                vers_major: (i % 7) as u16,
                vers_minor: (i % 5) as u16,
            })
        })
        .collect();
    let long_name: String = (0..1023)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    vec![
        call(
            "mgmt_inq_if_ids",
            InqIfIdsRequest {},
            InqIfIdsResponse {
                if_id_vector: Unique::new(RpcIfIdVector {
                    count: 4,
                    if_id: vec![
                        if_id(EPM_UUID, 3, 0),
                        Unique::null(),
                        if_id(MGMT_UUID, 1, 0),
                        if_id(ECHO_UUID, 4, 2),
                    ],
                }),
                status: 0,
            },
        ),
        call(
            "mgmt_inq_if_ids_empty",
            InqIfIdsRequest {},
            InqIfIdsResponse {
                if_id_vector: Unique::new(RpcIfIdVector {
                    count: 0,
                    if_id: Vec::new(),
                }),
                status: 0,
            },
        ),
        call(
            "mgmt_inq_if_ids_null",
            InqIfIdsRequest {},
            InqIfIdsResponse {
                if_id_vector: Unique::null(),
                status: ACCESS_DENIED,
            },
        ),
        call(
            "mgmt_inq_if_ids_2000",
            InqIfIdsRequest {},
            InqIfIdsResponse {
                if_id_vector: Unique::new(RpcIfIdVector {
                    count: 2000,
                    if_id: many,
                }),
                status: 0,
            },
        ),
        call(
            "mgmt_inq_stats",
            InqStatsRequest { count: 4 },
            InqStatsResponse {
                count: 4,
                statistics: vec![10, 20, 30, 40],
                status: 0,
            },
        ),
        call(
            "mgmt_inq_stats_empty",
            InqStatsRequest { count: 0 },
            InqStatsResponse {
                count: 0,
                statistics: Vec::new(),
                status: 0,
            },
        ),
        call(
            "mgmt_inq_stats_4096",
            InqStatsRequest { count: 4096 },
            InqStatsResponse {
                count: 4096,
                statistics: (0..4096).map(|i| i * 0x0001_0001).collect(),
                status: 0,
            },
        ),
        call(
            "mgmt_is_server_listening",
            IsServerListeningRequest {},
            IsServerListeningResponse {
                status: 0,
                result: 1,
            },
        ),
        call(
            "mgmt_is_server_listening_not",
            IsServerListeningRequest {},
            IsServerListeningResponse {
                status: 0x16c9_a0d7,
                result: 0,
            },
        ),
        call(
            "mgmt_stop_server_listening",
            StopServerListeningRequest {},
            StopServerListeningResponse {
                status: ACCESS_DENIED,
            },
        ),
        call(
            "mgmt_inq_princ_name",
            InqPrincNameRequest {
                authn_proto: 10,
                princ_name_size: 64,
            },
            InqPrincNameResponse {
                princ_name: "host/server.example.com".into(),
                status: 0,
            },
        ),
        call(
            "mgmt_inq_princ_name_empty",
            InqPrincNameRequest {
                authn_proto: 9,
                princ_name_size: 1,
            },
            InqPrincNameResponse {
                princ_name: String::new(),
                status: 0x16c9_a0d7,
            },
        ),
        call(
            "mgmt_inq_princ_name_full",
            InqPrincNameRequest {
                authn_proto: 10,
                princ_name_size: 1024,
            },
            InqPrincNameResponse {
                princ_name: long_name,
                status: 0,
            },
        ),
    ]
}

fn test_enum(foo1: EchoEnum1, foo2: EchoEnum2, foo3: EchoEnum3) -> Case {
    call(
        "",
        TestEnumRequest { foo1, foo2, foo3 },
        TestEnumResponse { foo1, foo2, foo3 },
    )
}

fn named(name: &'static str, mut c: Case) -> Case {
    c.name = name;
    c
}

fn echo_cases() -> Vec<Case> {
    let long: String = (0..30000u32)
        .map(|i| char::from_u32(0x20 + i % 0x5f).unwrap())
        .collect();
    let mut out = vec![
        call(
            "echo_AddOne",
            AddOneRequest { in_data: 41 },
            AddOneResponse { out_data: 42 },
        ),
        call(
            "echo_AddOne_wrap",
            AddOneRequest { in_data: u32::MAX },
            AddOneResponse { out_data: 0 },
        ),
        call(
            "echo_EchoData",
            EchoDataRequest {
                len: 5,
                in_data: vec![1, 2, 3, 4, 5],
            },
            EchoDataResponse {
                out_data: vec![1, 2, 3, 4, 5],
            },
        ),
        call(
            "echo_EchoData_empty",
            EchoDataRequest {
                len: 0,
                in_data: Vec::new(),
            },
            EchoDataResponse {
                out_data: Vec::new(),
            },
        ),
        call(
            "echo_EchoData_1MiB",
            EchoDataRequest {
                len: BIG,
                in_data: pattern(BIG),
            },
            EchoDataResponse {
                out_data: pattern(BIG),
            },
        ),
        call(
            "echo_SinkData",
            SinkDataRequest {
                len: 3,
                data: vec![0xff, 0, 0x80],
            },
            SinkDataResponse {},
        ),
        call(
            "echo_SinkData_empty",
            SinkDataRequest {
                len: 0,
                data: Vec::new(),
            },
            SinkDataResponse {},
        ),
        call(
            "echo_SourceData",
            SourceDataRequest { len: 7 },
            SourceDataResponse {
                data: vec![0, 1, 2, 3, 4, 5, 6],
            },
        ),
        call(
            "echo_SourceData_empty",
            SourceDataRequest { len: 0 },
            SourceDataResponse { data: Vec::new() },
        ),
        // The largest answer our EchoService gives (4 MiB, the MS-RPCE request cap).
        call(
            "echo_SourceData_4MiB",
            SourceDataRequest {
                len: DEFAULT_MAX_SOURCE_LEN,
            },
            SourceDataResponse {
                data: pattern(DEFAULT_MAX_SOURCE_LEN),
            },
        ),
        call(
            "echo_TestCall",
            TestCallRequest { s1: "hello".into() },
            TestCallResponse {
                s2: Unique::new("hello".into()),
            },
        ),
        call(
            "echo_TestCall_empty",
            TestCallRequest { s1: String::new() },
            TestCallResponse {
                s2: Unique::new(String::new()),
            },
        ),
        call(
            "echo_TestCall_null",
            TestCallRequest { s1: "x".into() },
            TestCallResponse { s2: Unique::null() },
        ),
        call(
            "echo_TestCall_non_bmp",
            TestCallRequest {
                s1: "clef \u{1d11e} \u{e9}\u{4e2d}".into(),
            },
            TestCallResponse {
                s2: Unique::new("clef \u{1d11e} \u{e9}\u{4e2d}".into()),
            },
        ),
        call(
            "echo_TestCall_30000",
            TestCallRequest { s1: long.clone() },
            TestCallResponse {
                s2: Unique::new(long),
            },
        ),
    ];
    for level in 1..=7u16 {
        const NAMES: [&str; 7] = [
            "echo_TestCall2_level1",
            "echo_TestCall2_level2",
            "echo_TestCall2_level3",
            "echo_TestCall2_level4",
            "echo_TestCall2_level5",
            "echo_TestCall2_level6",
            "echo_TestCall2_level7",
        ];
        out.push(call(
            NAMES[usize::from(level - 1)],
            TestCall2Request { level },
            TestCall2Response {
                info: info_for_level(level).unwrap(),
                result: NtStatus(if level == 7 { 0xc000_0148 } else { 0 }),
            },
        ));
    }
    out.extend([
        call(
            "echo_TestSleep",
            TestSleepRequest { seconds: 1 },
            TestSleepResponse { result: 1 },
        ),
        call(
            "echo_TestSleep_max",
            TestSleepRequest { seconds: u32::MAX },
            TestSleepResponse { result: u32::MAX },
        ),
        named(
            "echo_TestEnum_enum1",
            test_enum(
                EchoEnum1::Enum1,
                EchoEnum2 {
                    e1: EchoEnum1::Enum2,
                    e2: EchoEnum1_32::Enum1,
                },
                EchoEnum3::E1(EchoEnum1::Enum2),
            ),
        ),
        named(
            "echo_TestEnum_enum2",
            test_enum(
                EchoEnum1::Enum2,
                EchoEnum2 {
                    e1: EchoEnum1::Enum1,
                    e2: EchoEnum1_32::Enum2,
                },
                EchoEnum3::E2(EchoEnum2 {
                    e1: EchoEnum1::Enum2,
                    e2: EchoEnum1_32::Enum1,
                }),
            ),
        ),
        call(
            "echo_TestSurrounding",
            TestSurroundingRequest {
                data: EchoSurrounding {
                    x: 3,
                    surrounding: vec![1, 0xffff, 0x1234],
                },
            },
            TestSurroundingResponse {
                data: EchoSurrounding {
                    x: 6,
                    surrounding: vec![0; 6],
                },
            },
        ),
        call(
            "echo_TestSurrounding_empty",
            TestSurroundingRequest {
                data: EchoSurrounding {
                    x: 0,
                    surrounding: Vec::new(),
                },
            },
            TestSurroundingResponse {
                data: EchoSurrounding {
                    x: 0,
                    surrounding: Vec::new(),
                },
            },
        ),
        call(
            "echo_TestSurrounding_65536",
            TestSurroundingRequest {
                data: EchoSurrounding {
                    x: 65536,
                    surrounding: (0..65536u32).map(|i| i as u16).collect(),
                },
            },
            TestSurroundingResponse {
                data: EchoSurrounding {
                    x: 65536,
                    surrounding: (0..65536u32).map(|i| (i as u16).rotate_left(3)).collect(),
                },
            },
        ),
        call(
            "echo_TestDoublePointer",
            TestDoublePointerRequest {
                data: Unique::new(Unique::new(7)),
            },
            TestDoublePointerResponse { result: 7 },
        ),
        call(
            "echo_TestDoublePointer_inner_null",
            TestDoublePointerRequest {
                data: Unique::new(Unique::null()),
            },
            TestDoublePointerResponse { result: 0 },
        ),
        call(
            "echo_TestDoublePointer_null",
            TestDoublePointerRequest {
                data: Unique::null(),
            },
            TestDoublePointerResponse { result: 0xffff },
        ),
    ]);
    out
}

/// Byte-order helpers for the hand-made bytes of the refusal cases.
fn u16w(v: u16, be: bool) -> [u8; 2] {
    if be {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

fn u32w(v: u32, be: bool) -> [u8; 4] {
    if be {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

/// TestEnum's `[in]` stub with `foo1` and `foo3`'s discriminant chosen freely: foo1 (u16),
/// pad, foo2 = { e1 = ECHO_ENUM1 (u16), pad, e2 = ECHO_ENUM1_32 (u32) }, foo3 = discriminant
/// (u16) + an `echo_Enum1` arm (u16) or an `echo_Enum2` arm (aligned to 4).
fn test_enum_stub(foo1: u16, disc: u16, be: bool) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(u16w(foo1, be));
    b.extend([0, 0]);
    b.extend(u16w(1, be));
    b.extend([0, 0]);
    b.extend(u32w(1, be));
    b.extend(u16w(disc, be));
    if disc == 2 {
        b.extend([0, 0]);
        b.extend(u16w(1, be));
        b.extend([0, 0]);
        b.extend(u32w(2, be));
    } else {
        b.extend(u16w(1, be));
    }
    b
}

/// `[string]` wide string stub of `units` (conformant varying: max_count, offset, actual_count).
fn wide_string_stub(max: u32, offset: u32, units: &[u16], be: bool) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(u32w(max, be));
    b.extend(u32w(offset, be));
    b.extend(u32w(units.len() as u32, be));
    for &u in units {
        b.extend(u16w(u, be));
    }
    b
}

/// Bytes that break an NDR rule both engines enforce: each must refuse them.
fn refusal_cases() -> Vec<Case> {
    vec![
        // echo_Enum3 has no arm for 3 and no [default] (C706 14.3.8: a discriminant that
        // selects no arm is an error, nca_s_fault_invalid_tag). Until open enums merge we refuse
        // already at foo1 (an unknown echo_Enum1); after, at the union.
        refuse_in::<TestEnumRequest>("echo_TestEnum_in_unknown_discriminant", |be| {
            test_enum_stub(3, 3, be)
        }),
        // foo3 is [switch_is(*foo1)]: its discriminant on the wire must equal foo1.
        refuse_in::<TestEnumRequest>("echo_TestEnum_in_discriminant_mismatch", |be| {
            test_enum_stub(1, 2, be)
        }),
        // echo_Info has no arm 8.
        refuse_out::<TestCall2Request, TestCall2Response>(
            "echo_TestCall2_out_unknown_level",
            TestCall2Request { level: 8 },
            |be| {
                let mut b = u16w(8, be).to_vec();
                b.extend([0, 0]);
                b.extend(u32w(8, be));
                b.extend(u32w(0, be));
                b
            },
        ),
        // A conformant array whose max_count differs from size_is(len).
        refuse_in::<EchoDataRequest>("echo_EchoData_in_size_mismatch", |be| {
            let mut b = u32w(4, be).to_vec();
            b.extend(u32w(3, be));
            b.extend([1, 2, 3]);
            b
        }),
        // A varying array must start at offset 0 for a [string] (both engines require it).
        refuse_in::<TestCallRequest>("echo_TestCall_in_string_offset", |be| {
            wide_string_stub(3, 1, &[0x61, 0x62, 0], be)
        }),
        // actual_count above max_count.
        refuse_in::<TestCallRequest>("echo_TestCall_in_string_actual_over_max", |be| {
            wide_string_stub(2, 0, &[0x61, 0x62, 0], be)
        }),
        // num_ents (actual_count) above max_ents (max_count) in ept_lookup's answer.
        refuse_out::<EptLookupRequest, EptLookupResponse>(
            "epm_Lookup_out_actual_over_max",
            EptLookupRequest {
                inquiry_type: RPC_C_EP_ALL_ELTS,
                object: Unique::null(),
                interface_id: Unique::null(),
                vers_option: RPC_C_VERS_ALL,
                entry_handle: ContextHandle::NULL,
                max_ents: 1,
            },
            |be| {
                let mut b = vec![0; 20]; // null handle
                b.extend(u32w(2, be)); // num_ents
                b.extend(u32w(1, be)); // max_count
                b.extend(u32w(0, be)); // offset
                b.extend(u32w(2, be)); // actual_count
                for _ in 0..2 {
                    b.extend([0; 16]); // object
                    b.extend(u32w(0, be)); // null tower
                    b.extend(u32w(0, be)); // annotation offset
                    b.extend(u32w(1, be)); // annotation length
                    b.extend([0, 0, 0, 0]); // "" and padding
                }
                b.extend(u32w(0, be));
                b
            },
        ),
    ]
}

/// Every case that must pass today.
pub(crate) fn cases() -> Vec<Case> {
    let mut all = epm_cases();
    all.extend(mgmt_cases());
    all.extend(echo_cases());
    all.extend(refusal_cases());
    all
}

/// A value of an NDR enumeration from its wire number, whatever the number: through our own
/// decoder, so the case needs no variant name (an unknown number lands in the `#[ndr(unknown)]`
/// catch-all).
fn wire_enum<T: Ndr>(v: u32) -> Result<T, String> {
    let bytes = match T::WIRE_MIN {
        2 => u16::try_from(v)
            .map_err(|_| format!("{v:#x} does not fit a 16-bit enum"))?
            .to_le_bytes()
            .to_vec(),
        _ => v.to_le_bytes().to_vec(),
    };
    from_bytes::<T>(&bytes, DataRep::LITTLE_ENDIAN, DecodeLimits::DEFAULT)
        .map_err(|e| format!("enum value {v:#x}: {e}"))
}

fn open_enum_case(
    name: &'static str,
    build: impl FnOnce() -> Result<(EchoEnum1, EchoEnum2, EchoEnum3), String>,
) -> Case {
    match build() {
        Ok((a, b, c)) => named(name, test_enum(a, b, c)),
        Err(e) => Case::unbuildable::<TestEnumRequest>(name, e),
    }
}

/// rpcecho TestEnum with enumeration values outside the declared constants (Samba keeps them;
/// MS-RPCE 2.2.5.1.1 / C706 14.2.7: an enum is a 16-bit integer on the wire, any value).
pub(crate) fn open_enum_cases() -> Vec<Case> {
    vec![
        open_enum_case("echo_TestEnum_unknown_enum2_e1", || {
            Ok((
                EchoEnum1::Enum1,
                EchoEnum2 {
                    e1: wire_enum(0x1234)?,
                    e2: EchoEnum1_32::Enum2,
                },
                EchoEnum3::E1(EchoEnum1::Enum1),
            ))
        }),
        open_enum_case("echo_TestEnum_unknown_enum2_e2", || {
            Ok((
                EchoEnum1::Enum1,
                EchoEnum2 {
                    e1: EchoEnum1::Enum2,
                    e2: wire_enum(0xdead_beef)?,
                },
                EchoEnum3::E1(EchoEnum1::Enum2),
            ))
        }),
        open_enum_case("echo_TestEnum_unknown_in_union_arm_e1", || {
            Ok((
                EchoEnum1::Enum1,
                EchoEnum2 {
                    e1: EchoEnum1::Enum1,
                    e2: EchoEnum1_32::Enum1,
                },
                EchoEnum3::E1(wire_enum(7)?),
            ))
        }),
        open_enum_case("echo_TestEnum_unknown_in_union_arm_e2", || {
            Ok((
                EchoEnum1::Enum2,
                EchoEnum2 {
                    e1: wire_enum(0)?,
                    e2: wire_enum(0)?,
                },
                EchoEnum3::E2(EchoEnum2 {
                    e1: wire_enum(0xffff)?,
                    e2: wire_enum(0xffff_ffff)?,
                }),
            ))
        }),
    ]
}
