//! Our codecs against byte vectors produced by Impacket 0.13.1's own DCE/RPC code
//! (`tests/vectors/impacket/`, written by `tools/impacket-vectors/gen_vectors.py`; what made
//! each vector and with which values is in `tests/vectors/impacket/MANIFEST.md`).
//!
//! For every vector: decoding Impacket's bytes gives the documented value, and encoding that
//! value gives Impacket's bytes back, except at the positions its `NAME.mask.hex` marks (the
//! alignment gaps and auth padding Impacket fills with marker bytes, where we write zeros).
//! Where Impacket departs from what Samba/Windows put on the wire (union arm alignment, a
//! fault without `reserved`), the test pins our spec-conforming bytes and that Impacket's are
//! not silently read as the same value.
//!
//! A missing or unreadable vector file fails the test that needs it (and
//! `vector_directory_matches_the_list` fails when the directory and [`ALL`] disagree).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::fmt::Debug;

use msrpc_ndr::{
    from_bytes, to_bytes, ContextHandle, DataRep, DecodeLimits, Full, Ndr, Reader, Unique, Uuid,
    Writer,
};
use msrpc_proto::pdu::{
    AuthLevel, AuthType, AuthVerifier, Bind, BindAck, BindNak, BindNakReason, BindTimeFeatures,
    Body, ContextElement, ContextResult, ContextResultEntry, Fault, FaultStatus, Header,
    PacketType, Pdu, PfcFlags, ProviderReason, Request, Response, SecTrailer, SyntaxId,
};

// ---------------------------------------------------------------------------------------------
// Vector files
// ---------------------------------------------------------------------------------------------

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/impacket");
const LE: DataRep = DataRep::LITTLE_ENDIAN;

/// Every vector in the directory; each is checked by a test below.
const ALL: &[&str] = &[
    // NDR
    "ndr_integers",
    "ndr_unique_struct",
    "ndr_unique_struct_impacket_ids",
    "ndr_full_pointers",
    "ndr_conformant_array",
    "ndr_varying_array",
    "ndr_conformant_varying_array",
    "ndr_conformant_struct",
    "ndr_conformant_struct_align8",
    "ndr_struct_array_with_pointers",
    "ndr_strings",
    "ndr_wstr_toplevel",
    "ndr_union_u16_u8",
    "ndr_union_u16_u32",
    "ndr_union_u16_u64",
    "ndr_union_in_struct",
    "ndr_union_u32_u16",
    "ndr_union_u32_ptr",
    "ndr_enum",
    "ndr_context_handle",
    // EPM
    "epm_tower_tcp",
    "epm_tower_np",
    "epm_ept_lookup_request",
    "epm_ept_lookup_response",
    "epm_ept_map_request",
    "epm_ept_map_response",
    "epm_ept_lookup_handle_free_request",
    "epm_ept_lookup_handle_free_response",
    // mgmt
    "mgmt_inq_if_ids_request",
    "mgmt_inq_if_ids_response",
    "mgmt_inq_stats_request",
    "mgmt_inq_stats_response",
    "mgmt_is_server_listening_request",
    "mgmt_is_server_listening_response",
    "mgmt_inq_princ_name_request",
    "mgmt_inq_princ_name_response",
    // rpcecho
    "echo_AddOne_request",
    "echo_AddOne_response",
    "echo_EchoData_request",
    "echo_EchoData_response",
    "echo_SinkData_request",
    "echo_SinkData_response",
    "echo_SourceData_request",
    "echo_SourceData_response",
    "echo_TestCall_request",
    "echo_TestCall_response",
    "echo_TestCall2_request_level1",
    "echo_TestCall2_request_level2",
    "echo_TestCall2_request_level3",
    "echo_TestCall2_request_level4",
    "echo_TestCall2_request_level5",
    "echo_TestCall2_request_level6",
    "echo_TestCall2_request_level7",
    "echo_TestCall2_response_level1",
    "echo_TestCall2_response_level2",
    "echo_TestCall2_response_level3",
    "echo_TestCall2_response_level4",
    "echo_TestCall2_response_level5",
    "echo_TestCall2_response_level6",
    "echo_TestCall2_response_level7",
    "echo_TestSleep_request",
    "echo_TestSleep_response",
    "echo_TestEnum_request",
    "echo_TestEnum_response",
    "echo_TestSurrounding_request",
    "echo_TestSurrounding_response",
    "echo_TestDoublePointer_request",
    "echo_TestDoublePointer_request_null",
    "echo_TestDoublePointer_response",
    // PDUs
    "pdu_bind",
    "pdu_bind_impacket_client",
    "pdu_bind_ack",
    "pdu_bind_ack_49152",
    "pdu_bind_ack_pipe",
    "pdu_bind_ack_impacket_server",
    "pdu_bind_ack_impacket_server_reject",
    "pdu_bind_nak",
    "pdu_alter_context",
    "pdu_alter_context_impacket_client",
    "pdu_alter_context_resp",
    "pdu_request",
    "pdu_request_object",
    "pdu_request_ept_lookup_hept_lookup",
    "pdu_request_ept_map_hept_map",
    "pdu_response",
    "pdu_fault",
    "pdu_fault_impacket_server",
    "pdu_bind_auth",
    "pdu_bind_ack_auth",
    "pdu_auth3",
    "pdu_request_auth_integrity",
    "pdu_request_auth_privacy",
    "pdu_request_frag1",
    "pdu_request_frag2",
    "pdu_shutdown",
    "pdu_co_cancel",
    "pdu_orphaned",
];

/// One vector: Impacket's bytes and the mask of its filler bytes (all zero when it has none).
struct Vector {
    name: &'static str,
    bytes: Vec<u8>,
    mask: Vec<u8>,
}

fn parse_hex(path: &str, text: &str) -> Vec<u8> {
    let clean: String = text.split_whitespace().collect();
    hex::decode(&clean).unwrap_or_else(|e| panic!("{path}: not hex: {e}"))
}

/// Loads `NAME.hex` (and `NAME.mask.hex` if present); panics if the vector is missing.
fn load(name: &'static str) -> Vector {
    assert!(ALL.contains(&name), "{name} is not listed in ALL");
    let path = format!("{DIR}/{name}.hex");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "Impacket vector {name} is missing ({path}: {e}); regenerate it with \
             tools/impacket-vectors/gen_vectors.py"
        )
    });
    let bytes = parse_hex(&path, &text);
    let mask_path = format!("{DIR}/{name}.mask.hex");
    let mask = match std::fs::read_to_string(&mask_path) {
        Ok(t) => parse_hex(&mask_path, &t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![0; bytes.len()],
        Err(e) => panic!("{mask_path}: {e}"),
    };
    assert_eq!(mask.len(), bytes.len(), "{name}: mask length");
    Vector { name, bytes, mask }
}

fn hex_dump(b: &[u8]) -> String {
    b.chunks(16)
        .enumerate()
        .map(|(i, c)| format!("{:04x}: {}", i * 16, hex::encode(c)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// At a filler position, what our byte may be: zero (what our encoders write), or, when
/// `echo` is set, also Impacket's own byte (a PDU carries an Impacket stub unchanged).
fn filler_ok(ours: u8, theirs: u8, echo: bool) -> bool {
    ours == 0 || (echo && ours == theirs)
}

/// Offsets where `ours` does not match `v` (every offset when the lengths differ).
fn mismatches(v: &Vector, ours: &[u8], echo: bool) -> Vec<usize> {
    if ours.len() != v.bytes.len() {
        return (0..ours.len().max(v.bytes.len())).collect();
    }
    ours.iter()
        .zip(&v.bytes)
        .zip(&v.mask)
        .enumerate()
        .filter(|(_, ((&o, &t), &m))| {
            if m == 0 {
                o != t
            } else {
                !filler_ok(o, t, echo)
            }
        })
        .map(|(i, _)| i)
        .collect()
}

fn assert_matches(v: &Vector, ours: &[u8], echo: bool) {
    let bad = mismatches(v, ours, echo);
    assert!(
        bad.is_empty(),
        "{}: our encoding differs from Impacket's (lengths {} vs {}, differing offsets {:?})\n\
         ours:\n{}\nimpacket:\n{}\nmask:\n{}",
        v.name,
        ours.len(),
        v.bytes.len(),
        bad,
        hex_dump(ours),
        hex_dump(&v.bytes),
        hex_dump(&v.mask),
    );
}

/// Our bytes equal Impacket's, except where the mask marks a filler byte, which must be zero
/// in ours.
fn assert_same(v: &Vector, ours: &[u8]) {
    assert_matches(v, ours, false);
}

/// Impacket's bytes with every filler byte set to zero.
fn zero_filler(v: &Vector) -> Vec<u8> {
    v.bytes
        .iter()
        .zip(&v.mask)
        .map(|(&b, &m)| if m == 0 { b } else { 0 })
        .collect()
}

/// True when `ours` matches `v` under the rules of [`assert_same`].
fn same(v: &Vector, ours: &[u8]) -> bool {
    mismatches(v, ours, false).is_empty()
}

#[test]
fn vector_directory_matches_the_list() {
    let mut on_disk: Vec<String> = std::fs::read_dir(DIR)
        .unwrap_or_else(|e| panic!("{DIR}: {e}"))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".hex") && !n.ends_with(".mask.hex"))
        .map(|n| n.trim_end_matches(".hex").to_string())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "vector files vs ALL");
    let manifest = std::fs::read_to_string(format!("{DIR}/MANIFEST.md")).unwrap();
    for name in ALL {
        assert!(
            manifest.contains(&format!("`{name}`")),
            "{name} is not described in MANIFEST.md"
        );
        let v = load(name);
        assert!(
            v.mask.iter().all(|&m| m == 0 || m == 0xff),
            "{name}: mask bytes are 00 or ff"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// NDR (impacket.dcerpc.v5.ndr)
// ---------------------------------------------------------------------------------------------

/// Encoding `value` gives Impacket's bytes (filler aside) and decoding Impacket's bytes gives
/// `value`.
fn check_ndr<T: Ndr + PartialEq + Debug>(name: &'static str, value: &T) {
    let v = load(name);
    let ours = to_bytes(value, LE).unwrap_or_else(|e| panic!("{name}: encode: {e}"));
    assert_same(&v, &ours);
    let back: T = from_bytes(&v.bytes, LE, DecodeLimits::DEFAULT)
        .unwrap_or_else(|e| panic!("{name}: decode of Impacket's bytes: {e}"));
    assert_eq!(&back, value, "{name}: decoded value");
}

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

#[derive(msrpc_ndr::Ndr, Debug, PartialEq, Clone)]
struct Integers {
    a: u8,
    b: u16,
    c: u8,
    d: u32,
    e: u8,
    f: u64,
    g: i16,
    h: i32,
    i: i64,
    j: f32,
    k: f64,
    l: i8,
}

#[test]
fn ndr_integers() {
    check_ndr(
        "ndr_integers",
        &Integers {
            a: 0x11,
            b: 0x2233,
            c: 0x44,
            d: 0x5566_7788,
            e: 0x99,
            f: 0x0102_0304_0506_0708,
            g: -2,
            h: -3,
            i: -4,
            j: 1.5,
            k: -2.25,
            l: -18,
        },
    );
}

#[derive(msrpc_ndr::Ndr, Debug, PartialEq, Clone, Default)]
struct Inner {
    v: u32,
    #[ndr(string)]
    name: Unique<String>,
}

#[derive(msrpc_ndr::Ndr, Debug, PartialEq, Clone)]
struct Outer {
    a: u16,
    nested: Unique<Inner>,
    null: Unique<u32>,
    last: Unique<u32>,
    b: u16,
}

fn outer() -> Outer {
    Outer {
        a: 1,
        nested: Unique::new(Inner {
            v: 7,
            name: Unique::new("hi".to_string()),
        }),
        null: Unique::null(),
        last: Unique::new(0xaabb_ccdd),
        b: 2,
    }
}

#[test]
fn ndr_unique_struct_defers_depth_first() {
    check_ndr("ndr_unique_struct", &outer());
}

#[test]
fn ndr_unique_struct_with_impacket_referent_ids_decodes() {
    // Impacket's random referent ids (0x1575, 0xad97, 0x0b71): only null vs non-null matters.
    let v = load("ndr_unique_struct_impacket_ids");
    let back: Outer = from_bytes(&v.bytes, LE, DecodeLimits::DEFAULT).unwrap();
    assert_eq!(back, outer());
    // Ours differs only in the ids (0x20000, 0x20004, 0x20008).
    let ours = to_bytes(&outer(), LE).unwrap();
    assert_same(&load("ndr_unique_struct"), &ours);
    assert!(!same(&v, &ours));
}

#[derive(msrpc_ndr::Ndr, Debug, PartialEq)]
struct FullPtrs {
    a: Full<u32>,
    b: Full<u32>,
    c: Full<u16>,
}

#[test]
fn ndr_full_pointers() {
    check_ndr(
        "ndr_full_pointers",
        &FullPtrs {
            a: Full::new(5),
            b: Full::null(),
            c: Full::new(6),
        },
    );
}

#[test]
fn ndr_conformant_array() {
    check_ndr("ndr_conformant_array", &vec![1u32, 2, 3, 0xffff_ffff]);
}

#[derive(msrpc_ndr::Ndr, Debug, PartialEq)]
struct VaryingHolder {
    first: u8,
    #[ndr(max = 8)]
    data: Vec<u16>,
}

#[test]
fn ndr_varying_array() {
    check_ndr(
        "ndr_varying_array",
        &VaryingHolder {
            first: 0xab,
            data: vec![0x1111, 0x2222, 0x3333],
        },
    );
}

#[derive(msrpc_ndr::Ndr, Debug, PartialEq)]
struct CvHolder {
    size: u32,
    len: u32,
    #[ndr(size_is = "size", length_is = "len")]
    data: Vec<u16>,
}

#[test]
fn ndr_conformant_varying_array() {
    check_ndr(
        "ndr_conformant_varying_array",
        &CvHolder {
            size: 6,
            len: 3,
            data: vec![0xa1a1, 0xb2b2, 0xc3c3],
        },
    );
}

#[derive(msrpc_ndr::Ndr, Debug, PartialEq)]
struct ConfStruct {
    count: u16,
    #[ndr(size_is = "count")]
    values: Vec<u32>,
}

#[derive(msrpc_ndr::Ndr, Debug, PartialEq)]
struct ConfStruct64 {
    count: u32,
    #[ndr(size_is = "count")]
    values: Vec<u64>,
}

#[test]
fn ndr_conformant_structs() {
    check_ndr(
        "ndr_conformant_struct",
        &ConfStruct {
            count: 3,
            values: vec![0x10, 0x20, 0x30],
        },
    );
    // The hoisted max_count is aligned on its own (4), the body to 8.
    check_ndr(
        "ndr_conformant_struct_align8",
        &ConfStruct64 {
            count: 2,
            values: vec![0x1122_3344_5566_7788, 0x99aa_bbcc_ddee_ff00],
        },
    );
}

#[derive(msrpc_ndr::Ndr, Debug, PartialEq, Clone)]
struct Item {
    id: u32,
    #[ndr(string)]
    name: Unique<String>,
}

#[test]
fn ndr_struct_array_with_pointers() {
    check_ndr(
        "ndr_struct_array_with_pointers",
        &vec![
            Item {
                id: 1,
                name: Unique::new("a".into()),
            },
            Item {
                id: 2,
                name: Unique::null(),
            },
            Item {
                id: 3,
                name: Unique::new("ccc".into()),
            },
        ],
    );
}

#[derive(msrpc_ndr::Ndr, Debug, PartialEq)]
struct Strings {
    #[ndr(string)]
    w: Unique<String>,
    #[ndr(string = "char")]
    s: Unique<String>,
    after: u32,
}

#[test]
fn ndr_strings() {
    check_ndr(
        "ndr_strings",
        &Strings {
            w: Unique::new("H\u{e9}llo \u{20ac}".into()),
            s: Unique::new("abcde".into()),
            after: 0x0102_0304,
        },
    );
}

#[test]
fn ndr_wstr_toplevel() {
    let v = load("ndr_wstr_toplevel");
    let mut w = Writer::new(LE);
    msrpc_ndr::string::encode_wide("rpcecho", "s", &mut w).unwrap();
    assert_same(&v, &w.into_bytes());
    let mut r = Reader::new(&v.bytes, LE, DecodeLimits::DEFAULT);
    assert_eq!(msrpc_ndr::string::decode_wide(&mut r).unwrap(), "rpcecho");
    r.finish().unwrap();
}

#[derive(msrpc_ndr::Ndr, Debug, PartialEq)]
#[ndr(switch_type = "u16")]
enum U16Union {
    #[ndr(case = 1)]
    A(u8),
    #[ndr(case = 2)]
    B(u32),
    #[ndr(case = 3)]
    C(u64),
}

#[test]
fn ndr_unions_with_aligned_arms() {
    check_ndr("ndr_union_u16_u32", &U16Union::B(0xdead_beef));
    check_ndr("ndr_union_u16_u64", &U16Union::C(0x0102_0304_0506_0708));
}

/// Impacket pads a union's discriminant to 4 before any arm; Samba (rpcecho's home) and Wine
/// align the arm to its own alignment, and so do we: a u8 arm after a u16 discriminant sits at
/// offset 2, not 4. Impacket's bytes must not be read as the same value.
#[test]
fn ndr_union_u8_arm_follows_samba_not_impacket() {
    let v = load("ndr_union_u16_u8");
    let value = U16Union::A(0x7f);
    let ours = to_bytes(&value, LE).unwrap();
    assert_eq!(ours, [0x01, 0x00, 0x7f]);
    assert!(!same(&v, &ours));
    assert_eq!(
        &v.bytes[4..],
        [0x7f],
        "Impacket: the arm after 2 filler bytes"
    );
    let theirs: Result<U16Union, _> = from_bytes(&v.bytes, LE, DecodeLimits::DEFAULT);
    assert_ne!(theirs.ok(), Some(value));
}

#[derive(msrpc_ndr::Ndr, Debug, PartialEq)]
struct UnionHolder16 {
    pre: u8,
    u: U16Union,
    post: u8,
}

#[test]
fn ndr_union_in_struct() {
    // The union is not aligned beyond its discriminant: tag at 2, hyper arm at 8.
    check_ndr(
        "ndr_union_in_struct",
        &UnionHolder16 {
            pre: 0xee,
            u: U16Union::C(0x0102_0304_0506_0708),
            post: 0xff,
        },
    );
}

#[derive(msrpc_ndr::Ndr, Debug, PartialEq)]
#[ndr(switch_type = "u32")]
enum U32Union {
    #[ndr(case = 16)]
    A(u16),
    #[ndr(case = 32)]
    P(Unique<u32>),
}

#[derive(msrpc_ndr::Ndr, Debug, PartialEq)]
struct UnionHolder32 {
    pre: u8,
    u: U32Union,
    post: u8,
}

#[test]
fn ndr_u32_unions() {
    check_ndr(
        "ndr_union_u32_u16",
        &UnionHolder32 {
            pre: 0xee,
            u: U32Union::A(0x4242),
            post: 0xff,
        },
    );
    // The arm's referent is deferred past the enclosing struct's scalars.
    check_ndr(
        "ndr_union_u32_ptr",
        &UnionHolder32 {
            pre: 0xee,
            u: U32Union::P(Unique::new(0xcafe_f00d)),
            post: 0xff,
        },
    );
}

#[derive(msrpc_ndr::Ndr, Debug, PartialEq, Clone, Copy)]
#[repr(u32)]
enum Color {
    Red = 1,
    Green = 2,
    Blue = 0x7fff,
    #[ndr(unknown)]
    Unknown(u32),
}

#[derive(msrpc_ndr::Ndr, Debug, PartialEq)]
struct EnumHolder {
    pre: u8,
    color: Color,
    post: u8,
}

#[test]
fn ndr_enum() {
    check_ndr(
        "ndr_enum",
        &EnumHolder {
            pre: 1,
            color: Color::Blue,
            post: 2,
        },
    );
    // The other values are distinct on the wire.
    assert_eq!(to_bytes(&Color::Red, LE).unwrap(), [1, 0]);
    assert_eq!(to_bytes(&Color::Green, LE).unwrap(), [2, 0]);
    // A value the enum does not name travels as it is.
    assert_eq!(to_bytes(&Color::Unknown(3), LE).unwrap(), [3, 0]);
}

#[derive(msrpc_ndr::Ndr, Debug, PartialEq)]
struct HandleHolder {
    pre: u16,
    handle: ContextHandle,
    post: u8,
}

#[test]
fn ndr_context_handle() {
    check_ndr(
        "ndr_context_handle",
        &HandleHolder {
            pre: 0x5151,
            handle: ContextHandle {
                attributes: 0,
                uuid: uuid(HANDLE_UUID),
            },
            post: 0x7e,
        },
    );
}

// ---------------------------------------------------------------------------------------------
// PDUs (impacket.dcerpc.v5.rpcrt)
// ---------------------------------------------------------------------------------------------

const EPM_UUID: &str = "e1af8308-5d1f-11c9-91a4-08002b14a0fa";
const ECHO_UUID: &str = "60a15ec5-4de8-11d7-a637-005056a20182";
const BTFN_UUID: &str = "6cb71c2c-9812-4540-0300-000000000000";
const OBJECT_UUID: &str = "12345678-9abc-def0-1122-334455667788";
const HANDLE_UUID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

fn epm() -> SyntaxId {
    SyntaxId::new(uuid(EPM_UUID), 3, 0)
}

fn echo() -> SyntaxId {
    SyntaxId::new(uuid(ECHO_UUID), 1, 0)
}

fn zero_syntax() -> SyntaxId {
    SyntaxId::new(Uuid::nil(), 0, 0)
}

fn hdr(ptype: PacketType, flags: u8, call_id: u32) -> Header {
    Header {
        rpc_vers: 5,
        rpc_vers_minor: 0,
        ptype,
        flags: PfcFlags(flags),
        drep: LE,
        frag_length: 0, // set from the vector's length
        auth_length: 0,
        call_id,
    }
}

fn pdu(header: Header, body: Body) -> Pdu {
    Pdu {
        header,
        body,
        auth: None,
    }
}

fn ctx(context_id: u16, abstract_syntax: SyntaxId, ts: SyntaxId) -> ContextElement {
    ContextElement {
        context_id,
        abstract_syntax,
        transfer_syntaxes: vec![ts],
    }
}

fn result(result: u16, reason: u16, transfer_syntax: SyntaxId) -> ContextResultEntry {
    ContextResultEntry {
        result: ContextResult(result),
        reason: ProviderReason(reason),
        transfer_syntax,
    }
}

fn bind(contexts: Vec<ContextElement>) -> Bind {
    Bind {
        max_xmit_frag: 4280,
        max_recv_frag: 4280,
        assoc_group_id: 0,
        contexts,
    }
}

fn bind_ack(assoc: u32, sec_addr: &[u8], results: Vec<ContextResultEntry>) -> BindAck {
    BindAck {
        max_xmit_frag: 4280,
        max_recv_frag: 4280,
        assoc_group_id: assoc,
        sec_addr: sec_addr.to_vec(),
        results,
    }
}

fn ntlm_trailer(level: AuthLevel, pad: u8) -> SecTrailer {
    SecTrailer {
        auth_type: AuthType::WINNT,
        auth_level: level,
        auth_pad_length: pad,
        auth_reserved: 0,
        auth_context_id: 79231,
    }
}

/// Decodes the vector to `expected` (its frag_length taken from the vector's length), and
/// encodes that back to the vector's bytes. Returns the decoded PDU.
fn check_pdu(name: &'static str, mut expected: Pdu) -> Pdu {
    let v = load(name);
    expected.header.frag_length = u16::try_from(v.bytes.len()).unwrap();
    let got = Pdu::decode(&v.bytes).unwrap_or_else(|e| panic!("{name}: decode: {e}"));
    assert_eq!(got, expected, "{name}: decoded PDU");
    let ours = got
        .encode()
        .unwrap_or_else(|e| panic!("{name}: encode: {e}"));
    // Filler inside a stub travels unchanged; auth padding and sec_addr padding are ours (zero).
    assert_matches(&v, &ours, true);
    got
}

fn stub_of(name: &'static str) -> Vec<u8> {
    load(name).bytes
}

#[test]
fn pdu_bind_with_three_contexts() {
    let got = check_pdu(
        "pdu_bind",
        pdu(
            hdr(PacketType::BIND, 0x03, 1),
            Body::Bind(bind(vec![
                ctx(0, epm(), SyntaxId::NDR20),
                ctx(1, echo(), SyntaxId::NDR20),
                ctx(2, epm(), SyntaxId::new(uuid(BTFN_UUID), 1, 0)),
            ])),
        ),
    );
    let Body::Bind(b) = got.body else {
        unreachable!()
    };
    let btfn = b.contexts[2].transfer_syntaxes[0];
    assert_eq!(btfn.bind_time_features(), Some(BindTimeFeatures::BOTH));
    assert_eq!(
        btfn,
        SyntaxId::for_bind_time_features(BindTimeFeatures::BOTH)
    );
}

#[test]
fn pdu_bind_from_impacket_client() {
    check_pdu(
        "pdu_bind_impacket_client",
        pdu(
            hdr(PacketType::BIND, 0x03, 1),
            Body::Bind(bind(vec![ctx(0, epm(), SyntaxId::NDR20)])),
        ),
    );
}

#[test]
fn pdu_bind_acks() {
    check_pdu(
        "pdu_bind_ack",
        pdu(
            hdr(PacketType::BIND_ACK, 0x03, 1),
            Body::BindAck(bind_ack(
                0x12345,
                b"135\0",
                vec![
                    result(0, 0, SyntaxId::NDR20),
                    result(2, 2, zero_syntax()),
                    result(3, 3, zero_syntax()),
                ],
            )),
        ),
    );
    check_pdu(
        "pdu_bind_ack_49152",
        pdu(
            hdr(PacketType::BIND_ACK, 0x03, 1),
            Body::BindAck(bind_ack(
                0x12345,
                b"49152\0",
                vec![result(0, 0, SyntaxId::NDR20)],
            )),
        ),
    );
    check_pdu(
        "pdu_bind_ack_pipe",
        pdu(
            hdr(PacketType::BIND_ACK, 0x03, 1),
            Body::BindAck(bind_ack(
                0x12345,
                b"\\PIPE\\epmapper\0",
                vec![result(0, 0, SyntaxId::NDR20)],
            )),
        ),
    );
}

#[test]
fn pdu_bind_acks_from_impacket_server() {
    // Its sec_addr padding is 'A' (masked).
    check_pdu(
        "pdu_bind_ack_impacket_server",
        pdu(
            hdr(PacketType::BIND_ACK, 0x03, 1),
            Body::BindAck(bind_ack(
                0x1234,
                b"135\0",
                vec![result(0, 0, SyntaxId::NDR20)],
            )),
        ),
    );
    // An unknown interface: user_rejection / abstract_syntax_not_supported, NDR20 named.
    check_pdu(
        "pdu_bind_ack_impacket_server_reject",
        pdu(
            hdr(PacketType::BIND_ACK, 0x03, 1),
            Body::BindAck(bind_ack(
                0x1234,
                b"49152\0",
                vec![result(1, 1, SyntaxId::NDR20), result(0, 0, SyntaxId::NDR20)],
            )),
        ),
    );
}

#[test]
fn pdu_bind_nak() {
    check_pdu(
        "pdu_bind_nak",
        pdu(
            hdr(PacketType::BIND_NAK, 0x03, 1),
            Body::BindNak(BindNak {
                reason: BindNakReason::PROTOCOL_VERSION_NOT_SUPPORTED,
                versions: vec![(5, 0)],
                extra: vec![],
            }),
        ),
    );
}

#[test]
fn pdu_alter_context_and_resp() {
    check_pdu(
        "pdu_alter_context",
        pdu(
            hdr(PacketType::ALTER_CONTEXT, 0x03, 2),
            Body::AlterContext(bind(vec![ctx(1, echo(), SyntaxId::NDR20)])),
        ),
    );
    check_pdu(
        "pdu_alter_context_impacket_client",
        pdu(
            hdr(PacketType::ALTER_CONTEXT, 0x03, 1),
            Body::AlterContext(bind(vec![ctx(1, echo(), SyntaxId::NDR20)])),
        ),
    );
    check_pdu(
        "pdu_alter_context_resp",
        pdu(
            hdr(PacketType::ALTER_CONTEXT_RESP, 0x03, 2),
            Body::AlterContextResp(bind_ack(0x12345, b"", vec![result(0, 0, SyntaxId::NDR20)])),
        ),
    );
}

#[test]
fn pdu_requests() {
    let lookup = stub_of("epm_ept_lookup_request");
    check_pdu(
        "pdu_request",
        pdu(
            hdr(PacketType::REQUEST, 0x03, 2),
            Body::Request(Request {
                alloc_hint: 40,
                context_id: 0,
                opnum: 2,
                object: None,
                stub: lookup.clone(),
            }),
        ),
    );
    check_pdu(
        "pdu_request_object",
        pdu(
            hdr(PacketType::REQUEST, 0x83, 3),
            Body::Request(Request {
                alloc_hint: 4,
                context_id: 1,
                opnum: 0,
                object: Some(uuid(OBJECT_UUID)),
                stub: stub_of("echo_AddOne_request"),
            }),
        ),
    );
    // What epm.hept_lookup sends: the same stub, call_id 1 (the bind's).
    check_pdu(
        "pdu_request_ept_lookup_hept_lookup",
        pdu(
            hdr(PacketType::REQUEST, 0x03, 1),
            Body::Request(Request {
                alloc_hint: 40,
                context_id: 0,
                opnum: 2,
                object: None,
                stub: lookup,
            }),
        ),
    );
    let v = load("pdu_request_ept_map_hept_map");
    let stub = v.bytes[24..].to_vec();
    check_pdu(
        "pdu_request_ept_map_hept_map",
        pdu(
            hdr(PacketType::REQUEST, 0x03, 1),
            Body::Request(Request {
                alloc_hint: u32::try_from(stub.len()).unwrap(),
                context_id: 0,
                opnum: 3,
                object: None,
                stub,
            }),
        ),
    );
}

#[test]
fn pdu_response() {
    let stub = stub_of("epm_ept_lookup_response");
    check_pdu(
        "pdu_response",
        pdu(
            hdr(PacketType::RESPONSE, 0x03, 2),
            Body::Response(Response {
                alloc_hint: u32::try_from(stub.len()).unwrap(),
                context_id: 0,
                cancel_count: 0,
                reserved: 0,
                stub,
            }),
        ),
    );
}

#[test]
fn pdu_fault() {
    check_pdu(
        "pdu_fault",
        pdu(
            hdr(PacketType::FAULT, 0x23, 3),
            Body::Fault(Fault {
                alloc_hint: 0,
                context_id: 0,
                cancel_count: 0,
                flags: 0,
                status: FaultStatus::NCA_S_OP_RNG_ERROR,
                reserved2: 0,
                stub: vec![],
            }),
        ),
    );
}

/// Impacket's server sends a 28-byte fault (no reserved2) with the request's opnum in
/// cancel_count. We accept it; we send the 32-byte form.
#[test]
fn pdu_fault_from_impacket_server_is_tolerated() {
    let v = load("pdu_fault_impacket_server");
    assert_eq!(v.bytes.len(), 28);
    let mut expected = pdu(
        hdr(PacketType::FAULT, 0x03, 2),
        Body::Fault(Fault {
            alloc_hint: 0,
            context_id: 0,
            cancel_count: 9,
            flags: 0,
            status: FaultStatus(0x6e4),
            reserved2: 0,
            stub: vec![],
        }),
    );
    expected.header.frag_length = 28;
    let got = Pdu::decode(&v.bytes).unwrap();
    assert_eq!(got, expected);
    let ours = got.encode().unwrap();
    assert_eq!(ours.len(), 32);
    assert_eq!(ours[8..10], 32u16.to_le_bytes(), "frag_length");
    assert_eq!(ours[..8], v.bytes[..8]);
    assert_eq!(ours[10..28], v.bytes[10..28]);
    assert_eq!(ours[28..], [0, 0, 0, 0], "reserved2");
}

#[test]
fn pdu_bind_and_bind_ack_with_auth() {
    let v = load("pdu_bind_auth");
    let negotiate = v.bytes[v.bytes.len() - 32..].to_vec();
    assert_eq!(&negotiate[..12], b"NTLMSSP\0\x01\0\0\0");
    let mut expected = pdu(
        hdr(PacketType::BIND, 0x03, 1),
        Body::Bind(bind(vec![ctx(0, echo(), SyntaxId::NDR20)])),
    );
    expected.header.auth_length = 32;
    expected.auth = Some(AuthVerifier {
        trailer: ntlm_trailer(AuthLevel::PKT_INTEGRITY, 0),
        value: negotiate,
    });
    check_pdu("pdu_bind_auth", expected);

    let mut challenge = b"NTLMSSP\0\x02\0\0\0".to_vec();
    challenge.extend(0x10u8..0x40);
    let mut expected = pdu(
        hdr(PacketType::BIND_ACK, 0x03, 1),
        Body::BindAck(bind_ack(
            0x12345,
            b"49152\0",
            vec![result(0, 0, SyntaxId::NDR20)],
        )),
    );
    expected.header.auth_length = 60;
    expected.auth = Some(AuthVerifier {
        trailer: ntlm_trailer(AuthLevel::PKT_INTEGRITY, 0),
        value: challenge,
    });
    check_pdu("pdu_bind_ack_auth", expected);
}

#[test]
fn pdu_auth3() {
    let mut authenticate = b"NTLMSSP\0\x03\0\0\0".to_vec();
    authenticate.extend(0x40u8..0x7c);
    let mut expected = pdu(hdr(PacketType::AUTH3, 0x03, 1), Body::Auth3(*b"    "));
    expected.header.auth_length = 72;
    expected.auth = Some(AuthVerifier {
        trailer: ntlm_trailer(AuthLevel::PKT_INTEGRITY, 0),
        value: authenticate,
    });
    check_pdu("pdu_auth3", expected);
}

/// Impacket pads header + stub to 4 (3 bytes of 0xbb after the 13-byte stub), not the stub to
/// 16; `auth_pad_length` says so, which is all a receiver needs.
#[test]
fn pdu_request_signed_by_impacket() {
    let v = load("pdu_request_auth_integrity");
    let signature = v.bytes[v.bytes.len() - 16..].to_vec();
    assert_eq!(signature[..4], [1, 0, 0, 0], "NTLM signature version");
    let mut expected = pdu(
        hdr(PacketType::REQUEST, 0x03, 2),
        Body::Request(Request {
            alloc_hint: 13,
            context_id: 0,
            opnum: 1,
            object: None,
            stub: stub_of("echo_EchoData_request"),
        }),
    );
    expected.header.auth_length = 16;
    expected.auth = Some(AuthVerifier {
        trailer: ntlm_trailer(AuthLevel::PKT_INTEGRITY, 3),
        value: signature,
    });
    check_pdu("pdu_request_auth_integrity", expected);
    assert_eq!(&v.bytes[37..40], [0xbb; 3], "Impacket's auth padding");
}

#[test]
fn pdu_request_sealed_by_impacket() {
    let v = load("pdu_request_auth_privacy");
    let sealed = v.bytes[24..37].to_vec();
    assert_ne!(sealed, stub_of("echo_EchoData_request"));
    let signature = v.bytes[v.bytes.len() - 16..].to_vec();
    let mut expected = pdu(
        hdr(PacketType::REQUEST, 0x03, 2),
        Body::Request(Request {
            alloc_hint: 13,
            context_id: 0,
            opnum: 1,
            object: None,
            stub: sealed,
        }),
    );
    expected.header.auth_length = 16;
    expected.auth = Some(AuthVerifier {
        trailer: ntlm_trailer(AuthLevel::PKT_PRIVACY, 3),
        value: signature,
    });
    check_pdu("pdu_request_auth_privacy", expected);
}

#[test]
fn pdu_request_fragments() {
    let one = check_pdu(
        "pdu_request_frag1",
        pdu(
            hdr(PacketType::REQUEST, 0x01, 4),
            Body::Request(Request {
                alloc_hint: 28,
                context_id: 0,
                opnum: 1,
                object: None,
                stub: load("pdu_request_frag1").bytes[24..].to_vec(),
            }),
        ),
    );
    let two = check_pdu(
        "pdu_request_frag2",
        pdu(
            hdr(PacketType::REQUEST, 0x02, 4),
            Body::Request(Request {
                alloc_hint: 28,
                context_id: 0,
                opnum: 1,
                object: None,
                stub: load("pdu_request_frag2").bytes[24..].to_vec(),
            }),
        ),
    );
    let (Body::Request(a), Body::Request(b)) = (one.body, two.body) else {
        unreachable!()
    };
    assert_eq!(a.stub.len(), 16);
    assert_eq!(b.stub.len(), 12);
    // The reassembled stub is EchoData(len = 20, in_data = 0..20).
    let mut whole = a.stub;
    whole.extend(b.stub);
    let mut expected = vec![20, 0, 0, 0, 20, 0, 0, 0];
    expected.extend(0u8..20);
    assert_eq!(whole, expected);
}

#[test]
fn pdu_shutdown_co_cancel_orphaned() {
    check_pdu(
        "pdu_shutdown",
        pdu(hdr(PacketType::SHUTDOWN, 0x03, 5), Body::Shutdown),
    );
    check_pdu(
        "pdu_co_cancel",
        pdu(hdr(PacketType::CO_CANCEL, 0x03, 5), Body::CoCancel),
    );
    check_pdu(
        "pdu_orphaned",
        pdu(hdr(PacketType::ORPHANED, 0x03, 5), Body::Orphaned),
    );
}

// ---------------------------------------------------------------------------------------------
// Call stubs: shared helper
// ---------------------------------------------------------------------------------------------

const LIMITS: DecodeLimits = DecodeLimits::DEFAULT;

/// Our stub for `value` equals Impacket's (filler aside) and Impacket's stub decodes to
/// `value`. (`from_stub` ignores trailing bytes; equal encodings rule them out.)
fn check_stub<T: PartialEq + Debug>(
    name: &'static str,
    value: &T,
    encode: impl FnOnce(&T) -> msrpc_ndr::EncodeResult<Vec<u8>>,
    decode: impl FnOnce(&[u8]) -> msrpc_ndr::DecodeResult<T>,
) {
    let v = load(name);
    let ours = encode(value).unwrap_or_else(|e| panic!("{name}: encode: {e}"));
    assert_same(&v, &ours);
    let back =
        decode(&v.bytes).unwrap_or_else(|e| panic!("{name}: decode of Impacket's stub: {e}"));
    assert_eq!(&back, value, "{name}: decoded value");
}

// ---------------------------------------------------------------------------------------------
// rpcecho (msrpc-echo; Impacket has no rpcecho, gen_vectors.py declares it from echo.idl)
// ---------------------------------------------------------------------------------------------

mod echo {
    use super::*;
    use msrpc_echo::*;

    #[test]
    fn add_one() {
        let req = AddOneRequest { in_data: 41 };
        check_stub(
            "echo_AddOne_request",
            &req,
            |r| r.to_stub(LE),
            |b| AddOneRequest::from_stub(b, LE, LIMITS),
        );
        let resp = AddOneResponse { out_data: 42 };
        check_stub(
            "echo_AddOne_response",
            &resp,
            |r| r.to_stub(&req, LE),
            |b| AddOneResponse::from_stub(b, LE, LIMITS, &req),
        );
    }

    #[test]
    fn echo_data() {
        let data = vec![0x01, 0x02, 0x03, 0xfe, 0xff];
        let req = EchoDataRequest {
            len: 5,
            in_data: data.clone(),
        };
        check_stub(
            "echo_EchoData_request",
            &req,
            |r| r.to_stub(LE),
            |b| EchoDataRequest::from_stub(b, LE, LIMITS),
        );
        let resp = EchoDataResponse { out_data: data };
        check_stub(
            "echo_EchoData_response",
            &resp,
            |r| r.to_stub(&req, LE),
            |b| EchoDataResponse::from_stub(b, LE, LIMITS, &req),
        );
    }

    #[test]
    fn sink_data() {
        let req = SinkDataRequest {
            len: 3,
            data: b"abc".to_vec(),
        };
        check_stub(
            "echo_SinkData_request",
            &req,
            |r| r.to_stub(LE),
            |b| SinkDataRequest::from_stub(b, LE, LIMITS),
        );
        check_stub(
            "echo_SinkData_response",
            &SinkDataResponse {},
            |r| r.to_stub(&req, LE),
            |b| SinkDataResponse::from_stub(b, LE, LIMITS, &req),
        );
    }

    #[test]
    fn source_data() {
        let req = SourceDataRequest { len: 8 };
        check_stub(
            "echo_SourceData_request",
            &req,
            |r| r.to_stub(LE),
            |b| SourceDataRequest::from_stub(b, LE, LIMITS),
        );
        let resp = SourceDataResponse {
            data: (0u8..8).collect(),
        };
        check_stub(
            "echo_SourceData_response",
            &resp,
            |r| r.to_stub(&req, LE),
            |b| SourceDataResponse::from_stub(b, LE, LIMITS, &req),
        );
    }

    #[test]
    fn test_call() {
        let req = TestCallRequest {
            s1: "Hello, echo".into(),
        };
        check_stub(
            "echo_TestCall_request",
            &req,
            |r| r.to_stub(LE),
            |b| TestCallRequest::from_stub(b, LE, LIMITS),
        );
        let resp = TestCallResponse {
            s2: Unique::new("Hello, echo".into()),
        };
        check_stub(
            "echo_TestCall_response",
            &resp,
            |r| r.to_stub(&req, LE),
            |b| TestCallResponse::from_stub(b, LE, LIMITS, &req),
        );
    }

    #[test]
    fn test_call2_requests() {
        for level in 1u16..=7 {
            let name = [
                "echo_TestCall2_request_level1",
                "echo_TestCall2_request_level2",
                "echo_TestCall2_request_level3",
                "echo_TestCall2_request_level4",
                "echo_TestCall2_request_level5",
                "echo_TestCall2_request_level6",
                "echo_TestCall2_request_level7",
            ][usize::from(level - 1)];
            let req = TestCall2Request { level };
            check_stub(
                name,
                &req,
                |r| r.to_stub(LE),
                |b| TestCall2Request::from_stub(b, LE, LIMITS),
            );
        }
    }

    fn call2_response(level: u16) -> TestCall2Response {
        TestCall2Response {
            info: info_for_level(level).unwrap(),
            result: NtStatus::OK,
        }
    }

    /// Levels whose arm is 4- or 8-aligned: Impacket's bytes are ours.
    #[test]
    fn test_call2_responses_with_aligned_arms() {
        for (level, name) in [
            (3, "echo_TestCall2_response_level3"),
            (4, "echo_TestCall2_response_level4"),
            (5, "echo_TestCall2_response_level5"),
            (7, "echo_TestCall2_response_level7"),
        ] {
            let req = TestCall2Request { level };
            check_stub(
                name,
                &call2_response(level),
                |r| r.to_stub(&req, LE),
                |b| TestCall2Response::from_stub(b, LE, LIMITS, &req),
            );
        }
    }

    /// Levels 1, 2 and 6 have a 1- or 2-aligned arm after the u16 discriminant: Samba puts it
    /// at offset 2, Impacket (which pads every discriminant to 4) at offset 4, which also
    /// pushes NTSTATUS from 4 to 8. We follow Samba, the interface's home; Impacket's bytes
    /// are not read as the same value.
    #[test]
    fn test_call2_responses_with_narrow_arms_follow_samba() {
        for (level, name, samba) in [
            (
                1u16,
                "echo_TestCall2_response_level1",
                &[0x01, 0x00, 10, 0x00, 0, 0, 0, 0][..],
            ),
            (
                2,
                "echo_TestCall2_response_level2",
                &[0x02, 0x00, 20, 0x00, 0, 0, 0, 0][..],
            ),
            (
                6,
                "echo_TestCall2_response_level6",
                &[0x06, 0x00, 70, 80, 0, 0, 0, 0][..],
            ),
        ] {
            let v = load(name);
            let req = TestCall2Request { level };
            let resp = call2_response(level);
            let ours = resp.to_stub(&req, LE).unwrap();
            assert_eq!(ours, samba, "{name}: Samba's layout");
            assert!(!same(&v, &ours), "{name}: Impacket's differs");
            // Impacket's arm is 4 bytes into the union (after 2 filler bytes).
            assert_eq!(v.mask[2..4], [0xff, 0xff], "{name}");
            assert_eq!(v.bytes.len(), 12, "{name}");
            let theirs = TestCall2Response::from_stub(&v.bytes, LE, LIMITS, &req);
            assert_ne!(theirs.ok(), Some(resp), "{name}");
        }
    }

    #[test]
    fn test_sleep() {
        let req = TestSleepRequest { seconds: 1 };
        check_stub(
            "echo_TestSleep_request",
            &req,
            |r| r.to_stub(LE),
            |b| TestSleepRequest::from_stub(b, LE, LIMITS),
        );
        check_stub(
            "echo_TestSleep_response",
            &TestSleepResponse { result: 1 },
            |r| r.to_stub(&req, LE),
            |b| TestSleepResponse::from_stub(b, LE, LIMITS, &req),
        );
    }

    #[test]
    fn test_enum() {
        // foo3 has the struct arm (4-aligned): Impacket's bytes are ours.
        let req = TestEnumRequest {
            foo1: EchoEnum1::Enum2,
            foo2: EchoEnum2 {
                e1: EchoEnum1::Enum1,
                e2: EchoEnum1_32::Enum2,
            },
            foo3: EchoEnum3::E2(EchoEnum2 {
                e1: EchoEnum1::Enum2,
                e2: EchoEnum1_32::Enum1,
            }),
        };
        check_stub(
            "echo_TestEnum_request",
            &req,
            |r| r.to_stub(LE),
            |b| TestEnumRequest::from_stub(b, LE, LIMITS),
        );

        // foo3 has the u16 arm: Samba puts it right after the discriminant (offset 14),
        // Impacket 2 filler bytes later (16).
        let v = load("echo_TestEnum_response");
        let resp = TestEnumResponse {
            foo1: EchoEnum1::Enum1,
            foo2: EchoEnum2 {
                e1: EchoEnum1::Enum2,
                e2: EchoEnum1_32::Enum1,
            },
            foo3: EchoEnum3::E1(EchoEnum1::Enum2),
        };
        let sized = TestEnumRequest {
            foo1: EchoEnum1::Enum1,
            ..req
        };
        let ours = resp.to_stub(&sized, LE).unwrap();
        assert_eq!(ours.len(), 16);
        assert_eq!(ours[..12], zero_filler(&v)[..12], "foo1, foo2");
        assert_eq!(ours[12..], [0x01, 0x00, 0x02, 0x00]);
        assert_eq!(v.bytes[12..], [0x01, 0x00, 0xbd, 0xbd, 0x02, 0x00]);
        assert!(!same(&v, &ours));
        let theirs = TestEnumResponse::from_stub(&v.bytes, LE, LIMITS, &sized);
        assert_ne!(theirs.ok(), Some(resp));
    }

    #[test]
    fn test_surrounding() {
        let req = TestSurroundingRequest {
            data: EchoSurrounding {
                x: 4,
                surrounding: vec![1, 2, 3, 4],
            },
        };
        check_stub(
            "echo_TestSurrounding_request",
            &req,
            |r| r.to_stub(LE),
            |b| TestSurroundingRequest::from_stub(b, LE, LIMITS),
        );
        let resp = TestSurroundingResponse {
            data: EchoSurrounding {
                x: 8,
                surrounding: vec![1, 2, 3, 4, 0, 0, 0, 0],
            },
        };
        check_stub(
            "echo_TestSurrounding_response",
            &resp,
            |r| r.to_stub(&req, LE),
            |b| TestSurroundingResponse::from_stub(b, LE, LIMITS, &req),
        );
    }

    #[test]
    fn test_double_pointer() {
        let req = TestDoublePointerRequest {
            data: Unique::new(Unique::new(0x1234)),
        };
        check_stub(
            "echo_TestDoublePointer_request",
            &req,
            |r| r.to_stub(LE),
            |b| TestDoublePointerRequest::from_stub(b, LE, LIMITS),
        );
        let null = TestDoublePointerRequest {
            data: Unique::new(Unique::null()),
        };
        check_stub(
            "echo_TestDoublePointer_request_null",
            &null,
            |r| r.to_stub(LE),
            |b| TestDoublePointerRequest::from_stub(b, LE, LIMITS),
        );
        check_stub(
            "echo_TestDoublePointer_response",
            &TestDoublePointerResponse { result: 0x1234 },
            |r| r.to_stub(&req, LE),
            |b| TestDoublePointerResponse::from_stub(b, LE, LIMITS, &req),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Endpoint mapper and mgmt (msrpc-epm vs impacket.dcerpc.v5.epm / mgmt)
// ---------------------------------------------------------------------------------------------

mod epm {
    use super::*;
    use msrpc_epm::mgmt::*;
    use msrpc_epm::*;

    const ENTRY_OBJECT_UUID: &str = "d0c0ffee-0000-4000-8000-00000000abcd";

    /// Splits a tower's octets into its floors' (lhs, rhs) byte strings (C706 appendix L).
    fn floors(tower: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let n = u16::from_le_bytes([tower[0], tower[1]]);
        let mut at = 2;
        let take = |at: &mut usize| {
            let len = usize::from(u16::from_le_bytes([tower[*at], tower[*at + 1]]));
            let b = tower[*at + 2..*at + 2 + len].to_vec();
            *at += 2 + len;
            b
        };
        let out = (0..n).map(|_| (take(&mut at), take(&mut at))).collect();
        assert_eq!(at, tower.len(), "tower has trailing bytes");
        out
    }

    fn tcp_tower() -> Twr {
        Twr::new(stub_of("epm_tower_tcp"))
    }

    fn np_tower() -> Twr {
        Twr::new(stub_of("epm_tower_np"))
    }

    #[test]
    fn towers_built_by_impacket() {
        let tcp = floors(&tcp_tower().tower_octet_string);
        assert_eq!(tcp.len(), 5);
        let mut iface = vec![0x0d];
        iface.extend(uuid(ECHO_UUID).to_bytes_le());
        iface.extend([1, 0]);
        assert_eq!(tcp[0], (iface, vec![0, 0]), "floor 1: rpcecho v1.0");
        let mut ndr = vec![0x0d];
        ndr.extend(SyntaxId::NDR20.uuid.to_bytes_le());
        ndr.extend([2, 0]);
        assert_eq!(tcp[1], (ndr, vec![0, 0]), "floor 2: NDR20 v2.0");
        assert_eq!(tcp[2], (vec![0x0b], vec![0, 0]), "floor 3: ncacn");
        assert_eq!(
            tcp[3],
            (vec![0x07], vec![0xc0, 0x00]),
            "floor 4: TCP 49152, big-endian"
        );
        assert_eq!(tcp[4], (vec![0x09], vec![127, 0, 0, 1]), "floor 5: IP");
        let np = floors(&np_tower().tower_octet_string);
        assert_eq!(np[3], (vec![0x0f], b"\\PIPE\\rpcecho\0".to_vec()));
        assert_eq!(np[4], (vec![0x11], b"\\\\SERVER\0".to_vec()));
    }

    fn lookup_request() -> EptLookupRequest {
        EptLookupRequest {
            inquiry_type: RPC_C_EP_ALL_ELTS,
            object: Unique::null(),
            interface_id: Unique::null(),
            vers_option: RPC_C_VERS_ALL,
            entry_handle: ContextHandle::NULL,
            max_ents: 500,
        }
    }

    #[test]
    fn ept_lookup() {
        let req = lookup_request();
        check_stub(
            "epm_ept_lookup_request",
            &req,
            |r| r.to_stub(LE),
            |b| EptLookupRequest::from_stub(b, LE, LIMITS),
        );
        let resp = EptLookupResponse {
            entry_handle: ContextHandle {
                attributes: 0,
                uuid: uuid(HANDLE_UUID),
            },
            num_ents: 2,
            entries: vec![
                EptEntry {
                    object: Uuid::nil(),
                    tower: Unique::new(tcp_tower()),
                    annotation: "rpcecho".into(),
                },
                EptEntry {
                    object: uuid(ENTRY_OBJECT_UUID),
                    tower: Unique::new(np_tower()),
                    annotation: String::new(),
                },
            ],
            status: status::RPC_S_OK,
        };
        check_stub(
            "epm_ept_lookup_response",
            &resp,
            |r| r.to_stub(&req, LE),
            |b| EptLookupResponse::from_stub(b, LE, LIMITS, &req),
        );
    }

    fn map_request() -> EptMapRequest {
        EptMapRequest {
            object: Unique::new(Uuid::nil()),
            map_tower: Unique::new(Twr::new(
                // Impacket's hept_map tower: rpcecho over TCP, port 0, 0.0.0.0.
                load("epm_ept_map_request").bytes[32..32 + 75].to_vec(),
            )),
            entry_handle: ContextHandle::NULL,
            max_towers: 4,
        }
    }

    #[test]
    fn ept_map() {
        let req = map_request();
        let tower = floors(&req.map_tower.get().unwrap().tower_octet_string);
        assert_eq!(tower[3], (vec![0x07], vec![0, 0]));
        assert_eq!(tower[4], (vec![0x09], vec![0, 0, 0, 0]));
        check_stub(
            "epm_ept_map_request",
            &req,
            |r| r.to_stub(LE),
            |b| EptMapRequest::from_stub(b, LE, LIMITS),
        );
        let resp = EptMapResponse {
            entry_handle: ContextHandle::NULL,
            num_towers: 1,
            towers: vec![Unique::new(tcp_tower())],
            status: status::RPC_S_OK,
        };
        check_stub(
            "epm_ept_map_response",
            &resp,
            |r| r.to_stub(&req, LE),
            |b| EptMapResponse::from_stub(b, LE, LIMITS, &req),
        );
    }

    /// What Impacket's own clients put in a request PDU decodes with our request types.
    #[test]
    fn requests_sent_by_impacket_helpers_decode() {
        // epm.hept_lookup
        let lookup = Pdu::decode(&load("pdu_request_ept_lookup_hept_lookup").bytes).unwrap();
        let Body::Request(r) = lookup.body else {
            unreachable!()
        };
        assert_eq!(r.opnum, EptLookupRequest::OPNUM);
        assert_eq!(
            EptLookupRequest::from_stub(&r.stub, LE, LIMITS).unwrap(),
            lookup_request()
        );
        // epm.hept_map (referent ids 1 and 2)
        let map = Pdu::decode(&load("pdu_request_ept_map_hept_map").bytes).unwrap();
        let Body::Request(r) = map.body else {
            unreachable!()
        };
        assert_eq!(r.opnum, EptMapRequest::OPNUM);
        assert_eq!(r.stub[..4], [1, 0, 0, 0]);
        assert_eq!(
            EptMapRequest::from_stub(&r.stub, LE, LIMITS).unwrap(),
            map_request()
        );
        // And a lookup response PDU carries our stub.
        let resp = Pdu::decode(&load("pdu_response").bytes).unwrap();
        let Body::Response(r) = resp.body else {
            unreachable!()
        };
        let got = EptLookupResponse::from_stub(&r.stub, LE, LIMITS, &lookup_request()).unwrap();
        assert_eq!(got.num_ents, 2);
        assert_eq!(got.entries[0].annotation, "rpcecho");
    }

    #[test]
    fn ept_lookup_handle_free() {
        let req = EptLookupHandleFreeRequest {
            entry_handle: ContextHandle {
                attributes: 0,
                uuid: uuid(HANDLE_UUID),
            },
        };
        check_stub(
            "epm_ept_lookup_handle_free_request",
            &req,
            |r| r.to_stub(LE),
            |b| EptLookupHandleFreeRequest::from_stub(b, LE, LIMITS),
        );
        check_stub(
            "epm_ept_lookup_handle_free_response",
            &EptLookupHandleFreeResponse {
                entry_handle: ContextHandle::NULL,
                status: status::RPC_S_OK,
            },
            |r| r.to_stub(&req, LE),
            |b| EptLookupHandleFreeResponse::from_stub(b, LE, LIMITS, &req),
        );
    }

    #[test]
    fn mgmt_inq_if_ids() {
        let req = InqIfIdsRequest {};
        check_stub(
            "mgmt_inq_if_ids_request",
            &req,
            |r| r.to_stub(LE),
            |b| InqIfIdsRequest::from_stub(b, LE, LIMITS),
        );
        let resp = InqIfIdsResponse {
            if_id_vector: Unique::new(RpcIfIdVector {
                count: 2,
                if_id: vec![
                    Unique::new(RpcIfId {
                        uuid: uuid(EPM_UUID),
                        vers_major: 3,
                        vers_minor: 0,
                    }),
                    Unique::new(RpcIfId {
                        uuid: uuid(ECHO_UUID),
                        vers_major: 1,
                        vers_minor: 0,
                    }),
                ],
            }),
            status: status::RPC_S_OK,
        };
        check_stub(
            "mgmt_inq_if_ids_response",
            &resp,
            |r| r.to_stub(&req, LE),
            |b| InqIfIdsResponse::from_stub(b, LE, LIMITS, &req),
        );
    }

    /// C706's mgmt.idl: `[in, out] unsigned32 *count, [out, size_is(*count)] unsigned32
    /// statistics[*]` - a conformant array (max_count, elements), no offset/actual_count.
    #[test]
    fn mgmt_inq_stats() {
        let v = load("mgmt_inq_stats_request");
        assert_eq!(v.bytes, [4, 0, 0, 0]);
        let req = InqStatsRequest { count: 4 };
        check_stub(
            "mgmt_inq_stats_request",
            &req,
            |r| r.to_stub(LE),
            |b| InqStatsRequest::from_stub(b, LE, LIMITS),
        );
        let resp = InqStatsResponse {
            count: 4,
            statistics: vec![10, 0, 20, 20],
            status: status::RPC_S_OK,
        };
        check_stub(
            "mgmt_inq_stats_response",
            &resp,
            |r| r.to_stub(&req, LE),
            |b| InqStatsResponse::from_stub(b, LE, LIMITS, &req),
        );
    }

    /// Impacket's is_server_listening response has only the status: the IDL's boolean32
    /// result is missing. We send both, and refuse Impacket's 4 bytes as truncated.
    #[test]
    fn mgmt_is_server_listening() {
        let req = IsServerListeningRequest {};
        check_stub(
            "mgmt_is_server_listening_request",
            &req,
            |r| r.to_stub(LE),
            |b| IsServerListeningRequest::from_stub(b, LE, LIMITS),
        );
        let v = load("mgmt_is_server_listening_response");
        assert_eq!(v.bytes, [0, 0, 0, 0]);
        let resp = IsServerListeningResponse {
            status: status::RPC_S_OK,
            result: 1,
        };
        let ours = resp.to_stub(&req, LE).unwrap();
        assert_eq!(ours, [0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(ours[..4], v.bytes[..], "the status Impacket has");
        assert!(IsServerListeningResponse::from_stub(&v.bytes, LE, LIMITS, &req).is_err());
    }

    #[test]
    fn mgmt_inq_princ_name() {
        let req = InqPrincNameRequest {
            authn_proto: 10,
            princ_name_size: 64,
        };
        check_stub(
            "mgmt_inq_princ_name_request",
            &req,
            |r| r.to_stub(LE),
            |b| InqPrincNameRequest::from_stub(b, LE, LIMITS),
        );
        check_stub(
            "mgmt_inq_princ_name_response",
            &InqPrincNameResponse {
                princ_name: "host/server".into(),
                status: status::RPC_S_OK,
            },
            |r| r.to_stub(&req, LE),
            |b| InqPrincNameResponse::from_stub(b, LE, LIMITS, &req),
        );
    }
}
