//! Byte-literal vectors for every connection-oriented PDU type (C706 12.6, MS-RPCE 2.2.2), in
//! little- and big-endian data representation: each decodes to the expected structure and
//! encodes back to the same bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use msrpc_ndr::{DataRep, Uuid};
use msrpc_proto::pdu::*;

const LE: DataRep = DataRep::LITTLE_ENDIAN;
const BE: DataRep = DataRep::BIG_ENDIAN;

/// The endpoint mapper interface, e1af8308-5d1f-11c9-91a4-08002b14a0fa v3.0.
const EPM: SyntaxId = SyntaxId::new(
    Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa),
    3,
    0,
);
const OBJECT: Uuid = Uuid::from_u128(0x12345678_9abc_def0_0123_456789abcdef);
const ZERO_SYNTAX: SyntaxId = SyntaxId::new(Uuid::nil(), 0, 0);

fn header(
    ptype: PacketType,
    flags: u8,
    drep: DataRep,
    frag: u16,
    auth: u16,
    call_id: u32,
) -> Header {
    Header {
        rpc_vers: 5,
        rpc_vers_minor: 0,
        ptype,
        flags: PfcFlags(flags),
        drep,
        frag_length: frag,
        auth_length: auth,
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

/// Decode gives `expected`, and both the decoded and the expected PDU encode to `bytes`.
fn check(bytes: &[u8], expected: &Pdu) {
    let got = Pdu::decode(bytes).unwrap();
    assert_eq!(&got, expected);
    assert_eq!(got.encode().unwrap(), bytes, "re-encode of decoded PDU");
    assert_eq!(expected.encode().unwrap(), bytes, "encode of expected PDU");
    assert_eq!(frame_length(bytes).unwrap(), Some(bytes.len()));
    assert_eq!(Header::decode(bytes).unwrap(), expected.header);
}

// ---------------------------------------------------------------------------------------------
// request without object UUID
// ---------------------------------------------------------------------------------------------

fn request_plain(drep: DataRep) -> Pdu {
    pdu(
        header(PacketType::REQUEST, 0x03, drep, 28, 0, 2),
        Body::Request(Request {
            alloc_hint: 4,
            context_id: 1,
            opnum: 3,
            object: None,
            stub: vec![0xde, 0xad, 0xbe, 0xef],
        }),
    )
}

#[test]
fn request_plain_le() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x00,                   // PTYPE request
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x10, 0x00, 0x00, 0x00, // drep: little-endian, ASCII, IEEE
        0x1c, 0x00,             // frag_length 28
        0x00, 0x00,             // auth_length 0
        0x02, 0x00, 0x00, 0x00, // call_id 2
        0x04, 0x00, 0x00, 0x00, // alloc_hint 4
        0x01, 0x00,             // p_cont_id 1
        0x03, 0x00,             // opnum 3
        0xde, 0xad, 0xbe, 0xef, // stub
    ];
    check(&bytes, &request_plain(LE));
}

#[test]
fn request_plain_be() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x00,                   // PTYPE request
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x00, 0x00, 0x00, 0x00, // drep: big-endian, ASCII, IEEE
        0x00, 0x1c,             // frag_length 28
        0x00, 0x00,             // auth_length 0
        0x00, 0x00, 0x00, 0x02, // call_id 2
        0x00, 0x00, 0x00, 0x04, // alloc_hint 4
        0x00, 0x01,             // p_cont_id 1
        0x00, 0x03,             // opnum 3
        0xde, 0xad, 0xbe, 0xef, // stub
    ];
    check(&bytes, &request_plain(BE));
}

// ---------------------------------------------------------------------------------------------
// request with object UUID
// ---------------------------------------------------------------------------------------------

fn request_object(drep: DataRep) -> Pdu {
    pdu(
        header(PacketType::REQUEST, 0x83, drep, 48, 0, 3),
        Body::Request(Request {
            alloc_hint: 8,
            context_id: 0,
            opnum: 2,
            object: Some(OBJECT),
            stub: vec![1, 2, 3, 4, 5, 6, 7, 8],
        }),
    )
}

#[test]
fn request_object_le() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x00,                   // PTYPE request
        0x83,                   // pfc_flags FIRST_FRAG | LAST_FRAG | OBJECT_UUID
        0x10, 0x00, 0x00, 0x00, // drep: little-endian
        0x30, 0x00,             // frag_length 48
        0x00, 0x00,             // auth_length 0
        0x03, 0x00, 0x00, 0x00, // call_id 3
        0x08, 0x00, 0x00, 0x00, // alloc_hint 8
        0x00, 0x00,             // p_cont_id 0
        0x02, 0x00,             // opnum 2
        0x78, 0x56, 0x34, 0x12, // object Data1 12345678
        0xbc, 0x9a,             // object Data2 9abc
        0xf0, 0xde,             // object Data3 def0
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, // object Data4
        1, 2, 3, 4, 5, 6, 7, 8, // stub
    ];
    check(&bytes, &request_object(LE));
}

#[test]
fn request_object_be() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x00,                   // PTYPE request
        0x83,                   // pfc_flags FIRST_FRAG | LAST_FRAG | OBJECT_UUID
        0x00, 0x00, 0x00, 0x00, // drep: big-endian
        0x00, 0x30,             // frag_length 48
        0x00, 0x00,             // auth_length 0
        0x00, 0x00, 0x00, 0x03, // call_id 3
        0x00, 0x00, 0x00, 0x08, // alloc_hint 8
        0x00, 0x00,             // p_cont_id 0
        0x00, 0x02,             // opnum 2
        0x12, 0x34, 0x56, 0x78, // object Data1 12345678
        0x9a, 0xbc,             // object Data2 9abc
        0xde, 0xf0,             // object Data3 def0
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, // object Data4
        1, 2, 3, 4, 5, 6, 7, 8, // stub
    ];
    check(&bytes, &request_object(BE));
}

// ---------------------------------------------------------------------------------------------
// response
// ---------------------------------------------------------------------------------------------

fn response(drep: DataRep) -> Pdu {
    pdu(
        header(PacketType::RESPONSE, 0x03, drep, 32, 0, 2),
        Body::Response(Response {
            alloc_hint: 8,
            context_id: 1,
            cancel_count: 0,
            reserved: 0,
            stub: vec![0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00],
        }),
    )
}

#[test]
fn response_le() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x02,                   // PTYPE response
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x10, 0x00, 0x00, 0x00, // drep: little-endian
        0x20, 0x00,             // frag_length 32
        0x00, 0x00,             // auth_length 0
        0x02, 0x00, 0x00, 0x00, // call_id 2
        0x08, 0x00, 0x00, 0x00, // alloc_hint 8
        0x01, 0x00,             // p_cont_id 1
        0x00,                   // cancel_count 0
        0x00,                   // reserved
        0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00, // stub
    ];
    check(&bytes, &response(LE));
}

#[test]
fn response_be() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x02,                   // PTYPE response
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x00, 0x00, 0x00, 0x00, // drep: big-endian
        0x00, 0x20,             // frag_length 32
        0x00, 0x00,             // auth_length 0
        0x00, 0x00, 0x00, 0x02, // call_id 2
        0x00, 0x00, 0x00, 0x08, // alloc_hint 8
        0x00, 0x01,             // p_cont_id 1
        0x00,                   // cancel_count 0
        0x00,                   // reserved
        0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00, // stub
    ];
    check(&bytes, &response(BE));
}

// ---------------------------------------------------------------------------------------------
// fault
// ---------------------------------------------------------------------------------------------

fn fault(drep: DataRep) -> Pdu {
    pdu(
        header(PacketType::FAULT, 0x23, drep, 32, 0, 5),
        Body::Fault(Fault {
            alloc_hint: 32,
            context_id: 0,
            cancel_count: 0,
            flags: 0,
            status: FaultStatus::NCA_S_UNK_IF,
            reserved2: 0,
            stub: vec![],
        }),
    )
}

#[test]
fn fault_le() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x03,                   // PTYPE fault
        0x23,                   // pfc_flags FIRST_FRAG | LAST_FRAG | DID_NOT_EXECUTE
        0x10, 0x00, 0x00, 0x00, // drep: little-endian
        0x20, 0x00,             // frag_length 32
        0x00, 0x00,             // auth_length 0
        0x05, 0x00, 0x00, 0x00, // call_id 5
        0x20, 0x00, 0x00, 0x00, // alloc_hint 32
        0x00, 0x00,             // p_cont_id 0
        0x00,                   // cancel_count 0
        0x00,                   // reserved (flags) 0
        0x03, 0x00, 0x01, 0x1c, // status nca_s_unk_if 0x1c010003
        0x00, 0x00, 0x00, 0x00, // reserved2
    ];
    check(&bytes, &fault(LE));
}

#[test]
fn fault_be() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x03,                   // PTYPE fault
        0x23,                   // pfc_flags FIRST_FRAG | LAST_FRAG | DID_NOT_EXECUTE
        0x00, 0x00, 0x00, 0x00, // drep: big-endian
        0x00, 0x20,             // frag_length 32
        0x00, 0x00,             // auth_length 0
        0x00, 0x00, 0x00, 0x05, // call_id 5
        0x00, 0x00, 0x00, 0x20, // alloc_hint 32
        0x00, 0x00,             // p_cont_id 0
        0x00,                   // cancel_count 0
        0x00,                   // reserved (flags) 0
        0x1c, 0x01, 0x00, 0x03, // status nca_s_unk_if 0x1c010003
        0x00, 0x00, 0x00, 0x00, // reserved2
    ];
    check(&bytes, &fault(BE));
}

/// A 28-byte fault without `reserved2` is accepted (and re-encoded with it).
#[test]
fn fault_without_reserved2_le() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x03,                   // PTYPE fault
        0x23,                   // pfc_flags FIRST_FRAG | LAST_FRAG | DID_NOT_EXECUTE
        0x10, 0x00, 0x00, 0x00, // drep: little-endian
        0x1c, 0x00,             // frag_length 28
        0x00, 0x00,             // auth_length 0
        0x05, 0x00, 0x00, 0x00, // call_id 5
        0x20, 0x00, 0x00, 0x00, // alloc_hint 32
        0x00, 0x00,             // p_cont_id 0
        0x00,                   // cancel_count 0
        0x00,                   // reserved (flags) 0
        0x03, 0x00, 0x01, 0x1c, // status nca_s_unk_if; no reserved2
    ];
    let mut expected = fault(LE);
    expected.header.frag_length = 28;
    let got = Pdu::decode(&bytes).unwrap();
    assert_eq!(got, expected);
    let reencoded = got.encode().unwrap();
    assert_eq!(reencoded.len(), 32);
    assert_eq!(&reencoded[16..28], &bytes[16..28]);
}

// ---------------------------------------------------------------------------------------------
// bind: two contexts, the first with two transfer syntaxes, the second a bind-time feature
// negotiation
// ---------------------------------------------------------------------------------------------

fn btfn() -> SyntaxId {
    SyntaxId::for_bind_time_features(BindTimeFeatures::BOTH)
}

fn bind(drep: DataRep) -> Pdu {
    pdu(
        header(PacketType::BIND, 0x07, drep, 136, 0, 1),
        Body::Bind(Bind {
            max_xmit_frag: 4280,
            max_recv_frag: 4280,
            assoc_group_id: 0,
            contexts: vec![
                ContextElement {
                    context_id: 0,
                    abstract_syntax: EPM,
                    transfer_syntaxes: vec![SyntaxId::NDR20, SyntaxId::NDR64],
                },
                ContextElement {
                    context_id: 1,
                    abstract_syntax: EPM,
                    transfer_syntaxes: vec![btfn()],
                },
            ],
        }),
    )
}

#[test]
fn bind_le() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x0b,                   // PTYPE bind
        0x07,                   // pfc_flags FIRST_FRAG | LAST_FRAG | SUPPORT_HEADER_SIGN
        0x10, 0x00, 0x00, 0x00, // drep: little-endian
        0x88, 0x00,             // frag_length 136
        0x00, 0x00,             // auth_length 0
        0x01, 0x00, 0x00, 0x00, // call_id 1
        0xb8, 0x10,             // max_xmit_frag 4280
        0xb8, 0x10,             // max_recv_frag 4280
        0x00, 0x00, 0x00, 0x00, // assoc_group_id 0
        0x02,                   // n_context_elem 2
        0x00,                   // reserved
        0x00, 0x00,             // reserved2
        // context 0
        0x00, 0x00,             // p_cont_id 0
        0x02,                   // n_transfer_syn 2
        0x00,                   // reserved
        0x08, 0x83, 0xaf, 0xe1, 0x1f, 0x5d, 0xc9, 0x11, // abstract: EPM e1af8308-5d1f-11c9-
        0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa, //   -91a4-08002b14a0fa
        0x03, 0x00, 0x00, 0x00, // if_version 3.0
        0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, // transfer: NDR 8a885d04-1ceb-11c9-
        0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, //   -9fe8-08002b104860
        0x02, 0x00, 0x00, 0x00, // version 2.0
        0x33, 0x05, 0x71, 0x71, 0xba, 0xbe, 0x37, 0x49, // transfer: NDR64 71710533-beba-4937-
        0x83, 0x19, 0xb5, 0xdb, 0xef, 0x9c, 0xcc, 0x36, //   -8319-b5dbef9ccc36
        0x01, 0x00, 0x00, 0x00, // version 1.0
        // context 1
        0x01, 0x00,             // p_cont_id 1
        0x01,                   // n_transfer_syn 1
        0x00,                   // reserved
        0x08, 0x83, 0xaf, 0xe1, 0x1f, 0x5d, 0xc9, 0x11, // abstract: EPM
        0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa,
        0x03, 0x00, 0x00, 0x00, // if_version 3.0
        0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45, // transfer: bind-time features 6cb71c2c-9812-4540-
        0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   -0300-000000000000 (bitmask 0x0003)
        0x01, 0x00, 0x00, 0x00, // version 1.0
    ];
    check(&bytes, &bind(LE));
    let Body::Bind(b) = Pdu::decode(&bytes).unwrap().body else {
        panic!("not a bind")
    };
    assert_eq!(
        b.contexts[1].transfer_syntaxes[0].bind_time_features(),
        Some(BindTimeFeatures::BOTH)
    );
}

#[test]
fn bind_be() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x0b,                   // PTYPE bind
        0x07,                   // pfc_flags FIRST_FRAG | LAST_FRAG | SUPPORT_HEADER_SIGN
        0x00, 0x00, 0x00, 0x00, // drep: big-endian
        0x00, 0x88,             // frag_length 136
        0x00, 0x00,             // auth_length 0
        0x00, 0x00, 0x00, 0x01, // call_id 1
        0x10, 0xb8,             // max_xmit_frag 4280
        0x10, 0xb8,             // max_recv_frag 4280
        0x00, 0x00, 0x00, 0x00, // assoc_group_id 0
        0x02,                   // n_context_elem 2
        0x00,                   // reserved
        0x00, 0x00,             // reserved2
        // context 0
        0x00, 0x00,             // p_cont_id 0
        0x02,                   // n_transfer_syn 2
        0x00,                   // reserved
        0xe1, 0xaf, 0x83, 0x08, 0x5d, 0x1f, 0x11, 0xc9, // abstract: EPM e1af8308-5d1f-11c9-
        0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa, //   -91a4-08002b14a0fa
        0x00, 0x00, 0x00, 0x03, // if_version 3.0 (minor << 16 | major)
        0x8a, 0x88, 0x5d, 0x04, 0x1c, 0xeb, 0x11, 0xc9, // transfer: NDR 8a885d04-1ceb-11c9-
        0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, //   -9fe8-08002b104860
        0x00, 0x00, 0x00, 0x02, // version 2.0
        0x71, 0x71, 0x05, 0x33, 0xbe, 0xba, 0x49, 0x37, // transfer: NDR64 71710533-beba-4937-
        0x83, 0x19, 0xb5, 0xdb, 0xef, 0x9c, 0xcc, 0x36, //   -8319-b5dbef9ccc36
        0x00, 0x00, 0x00, 0x01, // version 1.0
        // context 1
        0x00, 0x01,             // p_cont_id 1
        0x01,                   // n_transfer_syn 1
        0x00,                   // reserved
        0xe1, 0xaf, 0x83, 0x08, 0x5d, 0x1f, 0x11, 0xc9, // abstract: EPM
        0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa,
        0x00, 0x00, 0x00, 0x03, // if_version 3.0
        0x6c, 0xb7, 0x1c, 0x2c, 0x98, 0x12, 0x45, 0x40, // transfer: bind-time features 6cb71c2c-9812-4540-
        0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   -0300-000000000000 (bitmask 0x0003)
        0x00, 0x00, 0x00, 0x01, // version 1.0
    ];
    check(&bytes, &bind(BE));
}

// ---------------------------------------------------------------------------------------------
// bind_ack: sec_addr "49152\0", three results (accepted, rejected, negotiate_ack)
// ---------------------------------------------------------------------------------------------

fn bind_ack(drep: DataRep) -> Pdu {
    pdu(
        header(PacketType::BIND_ACK, 0x07, drep, 108, 0, 1),
        Body::BindAck(BindAck {
            max_xmit_frag: 4280,
            max_recv_frag: 4280,
            assoc_group_id: 0x0001_2345,
            sec_addr: b"49152\0".to_vec(),
            results: vec![
                ContextResultEntry {
                    result: ContextResult::ACCEPTANCE,
                    reason: ProviderReason::REASON_NOT_SPECIFIED,
                    transfer_syntax: SyntaxId::NDR20,
                },
                ContextResultEntry {
                    result: ContextResult::PROVIDER_REJECTION,
                    reason: ProviderReason::PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED,
                    transfer_syntax: ZERO_SYNTAX,
                },
                ContextResultEntry {
                    result: ContextResult::NEGOTIATE_ACK,
                    reason: ProviderReason(BindTimeFeatures::BOTH.0),
                    transfer_syntax: ZERO_SYNTAX,
                },
            ],
        }),
    )
}

#[test]
fn bind_ack_le() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x0c,                   // PTYPE bind_ack
        0x07,                   // pfc_flags FIRST_FRAG | LAST_FRAG | SUPPORT_HEADER_SIGN
        0x10, 0x00, 0x00, 0x00, // drep: little-endian
        0x6c, 0x00,             // frag_length 108
        0x00, 0x00,             // auth_length 0
        0x01, 0x00, 0x00, 0x00, // call_id 1
        0xb8, 0x10,             // max_xmit_frag 4280
        0xb8, 0x10,             // max_recv_frag 4280
        0x45, 0x23, 0x01, 0x00, // assoc_group_id 0x12345
        0x06, 0x00,             // sec_addr length 6
        b'4', b'9', b'1', b'5', b'2', 0x00, // sec_addr "49152\0"; ends at offset 32, no padding
        0x03,                   // n_results 3
        0x00,                   // reserved
        0x00, 0x00,             // reserved2
        // result 0
        0x00, 0x00,             // result acceptance
        0x00, 0x00,             // reason not specified
        0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, // transfer: NDR
        0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60,
        0x02, 0x00, 0x00, 0x00, // version 2.0
        // result 1
        0x02, 0x00,             // result provider_rejection
        0x02, 0x00,             // reason proposed_transfer_syntaxes_not_supported
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // transfer: nil
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, // version 0.0
        // result 2
        0x03, 0x00,             // result negotiate_ack
        0x03, 0x00,             // reason: accepted bind-time features 0x0003
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // transfer: nil
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, // version 0.0
    ];
    check(&bytes, &bind_ack(LE));
}

#[test]
fn bind_ack_be() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x0c,                   // PTYPE bind_ack
        0x07,                   // pfc_flags FIRST_FRAG | LAST_FRAG | SUPPORT_HEADER_SIGN
        0x00, 0x00, 0x00, 0x00, // drep: big-endian
        0x00, 0x6c,             // frag_length 108
        0x00, 0x00,             // auth_length 0
        0x00, 0x00, 0x00, 0x01, // call_id 1
        0x10, 0xb8,             // max_xmit_frag 4280
        0x10, 0xb8,             // max_recv_frag 4280
        0x00, 0x01, 0x23, 0x45, // assoc_group_id 0x12345
        0x00, 0x06,             // sec_addr length 6
        b'4', b'9', b'1', b'5', b'2', 0x00, // sec_addr "49152\0"; ends at offset 32, no padding
        0x03,                   // n_results 3
        0x00,                   // reserved
        0x00, 0x00,             // reserved2
        // result 0
        0x00, 0x00,             // result acceptance
        0x00, 0x00,             // reason not specified
        0x8a, 0x88, 0x5d, 0x04, 0x1c, 0xeb, 0x11, 0xc9, // transfer: NDR
        0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60,
        0x00, 0x00, 0x00, 0x02, // version 2.0
        // result 1
        0x00, 0x02,             // result provider_rejection
        0x00, 0x02,             // reason proposed_transfer_syntaxes_not_supported
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // transfer: nil
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, // version 0.0
        // result 2
        0x00, 0x03,             // result negotiate_ack
        0x00, 0x03,             // reason: accepted bind-time features 0x0003
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // transfer: nil
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, // version 0.0
    ];
    check(&bytes, &bind_ack(BE));
}

/// sec_addr "135\0" ends at offset 30: two bytes pad to the 4-byte boundary.
#[test]
fn bind_ack_sec_addr_padding_le() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x0c,                   // PTYPE bind_ack
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x10, 0x00, 0x00, 0x00, // drep: little-endian
        0x3c, 0x00,             // frag_length 60
        0x00, 0x00,             // auth_length 0
        0x09, 0x00, 0x00, 0x00, // call_id 9
        0xb8, 0x10,             // max_xmit_frag 4280
        0xb8, 0x10,             // max_recv_frag 4280
        0x01, 0x00, 0x00, 0x00, // assoc_group_id 1
        0x04, 0x00,             // sec_addr length 4
        b'1', b'3', b'5', 0x00, // sec_addr "135\0"
        0x00, 0x00,             // padding to offset 32
        0x01,                   // n_results 1
        0x00,                   // reserved
        0x00, 0x00,             // reserved2
        0x00, 0x00,             // result acceptance
        0x00, 0x00,             // reason not specified
        0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, // transfer: NDR
        0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60,
        0x02, 0x00, 0x00, 0x00, // version 2.0
    ];
    let expected = pdu(
        header(PacketType::BIND_ACK, 0x03, LE, 60, 0, 9),
        Body::BindAck(BindAck {
            max_xmit_frag: 4280,
            max_recv_frag: 4280,
            assoc_group_id: 1,
            sec_addr: b"135\0".to_vec(),
            results: vec![ContextResultEntry {
                result: ContextResult::ACCEPTANCE,
                reason: ProviderReason::REASON_NOT_SPECIFIED,
                transfer_syntax: SyntaxId::NDR20,
            }],
        }),
    );
    check(&bytes, &expected);
}

// ---------------------------------------------------------------------------------------------
// bind_nak
// ---------------------------------------------------------------------------------------------

fn bind_nak(drep: DataRep) -> Pdu {
    pdu(
        header(PacketType::BIND_NAK, 0x03, drep, 24, 0, 1),
        Body::BindNak(BindNak {
            reason: BindNakReason::PROTOCOL_VERSION_NOT_SUPPORTED,
            versions: vec![(5, 0), (5, 1)],
            extra: vec![0x00],
        }),
    )
}

#[test]
fn bind_nak_le() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x0d,                   // PTYPE bind_nak
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x10, 0x00, 0x00, 0x00, // drep: little-endian
        0x18, 0x00,             // frag_length 24
        0x00, 0x00,             // auth_length 0
        0x01, 0x00, 0x00, 0x00, // call_id 1
        0x04, 0x00,             // provider_reject_reason protocol_version_not_supported
        0x02,                   // n_protocols 2
        0x05, 0x00,             // version 5.0
        0x05, 0x01,             // version 5.1
        0x00,                   // extra (padding, kept as sent)
    ];
    check(&bytes, &bind_nak(LE));
}

#[test]
fn bind_nak_be() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x0d,                   // PTYPE bind_nak
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x00, 0x00, 0x00, 0x00, // drep: big-endian
        0x00, 0x18,             // frag_length 24
        0x00, 0x00,             // auth_length 0
        0x00, 0x00, 0x00, 0x01, // call_id 1
        0x00, 0x04,             // provider_reject_reason protocol_version_not_supported
        0x02,                   // n_protocols 2
        0x05, 0x00,             // version 5.0
        0x05, 0x01,             // version 5.1
        0x00,                   // extra (padding, kept as sent)
    ];
    check(&bytes, &bind_nak(BE));
}

// ---------------------------------------------------------------------------------------------
// alter_context
// ---------------------------------------------------------------------------------------------

fn alter_context(drep: DataRep) -> Pdu {
    pdu(
        header(PacketType::ALTER_CONTEXT, 0x03, drep, 72, 0, 4),
        Body::AlterContext(Bind {
            max_xmit_frag: 4280,
            max_recv_frag: 4280,
            assoc_group_id: 0x0001_2345,
            contexts: vec![ContextElement {
                context_id: 1,
                abstract_syntax: EPM,
                transfer_syntaxes: vec![SyntaxId::NDR20],
            }],
        }),
    )
}

#[test]
fn alter_context_le() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x0e,                   // PTYPE alter_context
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x10, 0x00, 0x00, 0x00, // drep: little-endian
        0x48, 0x00,             // frag_length 72
        0x00, 0x00,             // auth_length 0
        0x04, 0x00, 0x00, 0x00, // call_id 4
        0xb8, 0x10,             // max_xmit_frag 4280
        0xb8, 0x10,             // max_recv_frag 4280
        0x45, 0x23, 0x01, 0x00, // assoc_group_id 0x12345
        0x01,                   // n_context_elem 1
        0x00,                   // reserved
        0x00, 0x00,             // reserved2
        0x01, 0x00,             // p_cont_id 1
        0x01,                   // n_transfer_syn 1
        0x00,                   // reserved
        0x08, 0x83, 0xaf, 0xe1, 0x1f, 0x5d, 0xc9, 0x11, // abstract: EPM
        0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa,
        0x03, 0x00, 0x00, 0x00, // if_version 3.0
        0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, // transfer: NDR
        0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60,
        0x02, 0x00, 0x00, 0x00, // version 2.0
    ];
    check(&bytes, &alter_context(LE));
}

#[test]
fn alter_context_be() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x0e,                   // PTYPE alter_context
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x00, 0x00, 0x00, 0x00, // drep: big-endian
        0x00, 0x48,             // frag_length 72
        0x00, 0x00,             // auth_length 0
        0x00, 0x00, 0x00, 0x04, // call_id 4
        0x10, 0xb8,             // max_xmit_frag 4280
        0x10, 0xb8,             // max_recv_frag 4280
        0x00, 0x01, 0x23, 0x45, // assoc_group_id 0x12345
        0x01,                   // n_context_elem 1
        0x00,                   // reserved
        0x00, 0x00,             // reserved2
        0x00, 0x01,             // p_cont_id 1
        0x01,                   // n_transfer_syn 1
        0x00,                   // reserved
        0xe1, 0xaf, 0x83, 0x08, 0x5d, 0x1f, 0x11, 0xc9, // abstract: EPM
        0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa,
        0x00, 0x00, 0x00, 0x03, // if_version 3.0
        0x8a, 0x88, 0x5d, 0x04, 0x1c, 0xeb, 0x11, 0xc9, // transfer: NDR
        0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60,
        0x00, 0x00, 0x00, 0x02, // version 2.0
    ];
    check(&bytes, &alter_context(BE));
}

// ---------------------------------------------------------------------------------------------
// alter_context_resp: empty sec_addr, two bytes of padding
// ---------------------------------------------------------------------------------------------

fn alter_context_resp(drep: DataRep) -> Pdu {
    pdu(
        header(PacketType::ALTER_CONTEXT_RESP, 0x03, drep, 56, 0, 4),
        Body::AlterContextResp(BindAck {
            max_xmit_frag: 4280,
            max_recv_frag: 4280,
            assoc_group_id: 0x0001_2345,
            sec_addr: vec![],
            results: vec![ContextResultEntry {
                result: ContextResult::ACCEPTANCE,
                reason: ProviderReason::REASON_NOT_SPECIFIED,
                transfer_syntax: SyntaxId::NDR20,
            }],
        }),
    )
}

#[test]
fn alter_context_resp_le() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x0f,                   // PTYPE alter_context_resp
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x10, 0x00, 0x00, 0x00, // drep: little-endian
        0x38, 0x00,             // frag_length 56
        0x00, 0x00,             // auth_length 0
        0x04, 0x00, 0x00, 0x00, // call_id 4
        0xb8, 0x10,             // max_xmit_frag 4280
        0xb8, 0x10,             // max_recv_frag 4280
        0x45, 0x23, 0x01, 0x00, // assoc_group_id 0x12345
        0x00, 0x00,             // sec_addr length 0
        0x00, 0x00,             // padding to offset 28
        0x01,                   // n_results 1
        0x00,                   // reserved
        0x00, 0x00,             // reserved2
        0x00, 0x00,             // result acceptance
        0x00, 0x00,             // reason not specified
        0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, // transfer: NDR
        0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60,
        0x02, 0x00, 0x00, 0x00, // version 2.0
    ];
    check(&bytes, &alter_context_resp(LE));
}

#[test]
fn alter_context_resp_be() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x0f,                   // PTYPE alter_context_resp
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x00, 0x00, 0x00, 0x00, // drep: big-endian
        0x00, 0x38,             // frag_length 56
        0x00, 0x00,             // auth_length 0
        0x00, 0x00, 0x00, 0x04, // call_id 4
        0x10, 0xb8,             // max_xmit_frag 4280
        0x10, 0xb8,             // max_recv_frag 4280
        0x00, 0x01, 0x23, 0x45, // assoc_group_id 0x12345
        0x00, 0x00,             // sec_addr length 0
        0x00, 0x00,             // padding to offset 28
        0x01,                   // n_results 1
        0x00,                   // reserved
        0x00, 0x00,             // reserved2
        0x00, 0x00,             // result acceptance
        0x00, 0x00,             // reason not specified
        0x8a, 0x88, 0x5d, 0x04, 0x1c, 0xeb, 0x11, 0xc9, // transfer: NDR
        0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60,
        0x00, 0x00, 0x00, 0x02, // version 2.0
    ];
    check(&bytes, &alter_context_resp(BE));
}

// ---------------------------------------------------------------------------------------------
// auth3
// ---------------------------------------------------------------------------------------------

fn auth3(drep: DataRep) -> Pdu {
    Pdu {
        header: header(PacketType::AUTH3, 0x03, drep, 36, 8, 1),
        body: Body::Auth3([0x20, 0x20, 0x20, 0x20]),
        auth: Some(AuthVerifier {
            trailer: SecTrailer {
                auth_type: AuthType::WINNT,
                auth_level: AuthLevel::PKT_PRIVACY,
                auth_pad_length: 0,
                auth_reserved: 0,
                auth_context_id: 0x0001_0000,
            },
            value: b"NTLMSSP\0".to_vec(),
        }),
    }
}

#[test]
fn auth3_le() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x10,                   // PTYPE auth3
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x10, 0x00, 0x00, 0x00, // drep: little-endian
        0x24, 0x00,             // frag_length 36
        0x08, 0x00,             // auth_length 8
        0x01, 0x00, 0x00, 0x00, // call_id 1
        0x20, 0x20, 0x20, 0x20, // pad (any value, kept)
        0x0a,                   // sec_trailer auth_type WINNT (NTLM)
        0x06,                   // auth_level PKT_PRIVACY
        0x00,                   // auth_pad_length 0
        0x00,                   // auth_reserved
        0x00, 0x00, 0x01, 0x00, // auth_context_id 0x10000
        b'N', b'T', b'L', b'M', b'S', b'S', b'P', 0x00, // auth value
    ];
    check(&bytes, &auth3(LE));
}

#[test]
fn auth3_be() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x10,                   // PTYPE auth3
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x00, 0x00, 0x00, 0x00, // drep: big-endian
        0x00, 0x24,             // frag_length 36
        0x00, 0x08,             // auth_length 8
        0x00, 0x00, 0x00, 0x01, // call_id 1
        0x20, 0x20, 0x20, 0x20, // pad (any value, kept)
        0x0a,                   // sec_trailer auth_type WINNT (NTLM)
        0x06,                   // auth_level PKT_PRIVACY
        0x00,                   // auth_pad_length 0
        0x00,                   // auth_reserved
        0x00, 0x01, 0x00, 0x00, // auth_context_id 0x10000
        b'N', b'T', b'L', b'M', b'S', b'S', b'P', 0x00, // auth value
    ];
    check(&bytes, &auth3(BE));
}

// ---------------------------------------------------------------------------------------------
// shutdown, co_cancel (with and without verifier), orphaned
// ---------------------------------------------------------------------------------------------

#[test]
fn shutdown_le() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x11,                   // PTYPE shutdown
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x10, 0x00, 0x00, 0x00, // drep: little-endian
        0x10, 0x00,             // frag_length 16
        0x00, 0x00,             // auth_length 0
        0x00, 0x00, 0x00, 0x00, // call_id 0
    ];
    check(
        &bytes,
        &pdu(
            header(PacketType::SHUTDOWN, 0x03, LE, 16, 0, 0),
            Body::Shutdown,
        ),
    );
}

#[test]
fn shutdown_be() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x11,                   // PTYPE shutdown
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x00, 0x00, 0x00, 0x00, // drep: big-endian
        0x00, 0x10,             // frag_length 16
        0x00, 0x00,             // auth_length 0
        0x00, 0x00, 0x00, 0x00, // call_id 0
    ];
    check(
        &bytes,
        &pdu(
            header(PacketType::SHUTDOWN, 0x03, BE, 16, 0, 0),
            Body::Shutdown,
        ),
    );
}

#[test]
fn co_cancel_le() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x12,                   // PTYPE co_cancel
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x10, 0x00, 0x00, 0x00, // drep: little-endian
        0x10, 0x00,             // frag_length 16
        0x00, 0x00,             // auth_length 0
        0x07, 0x00, 0x00, 0x00, // call_id 7
    ];
    check(
        &bytes,
        &pdu(
            header(PacketType::CO_CANCEL, 0x03, LE, 16, 0, 7),
            Body::CoCancel,
        ),
    );
}

#[test]
fn co_cancel_be() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x12,                   // PTYPE co_cancel
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x00, 0x00, 0x00, 0x00, // drep: big-endian
        0x00, 0x10,             // frag_length 16
        0x00, 0x00,             // auth_length 0
        0x00, 0x00, 0x00, 0x07, // call_id 7
    ];
    check(
        &bytes,
        &pdu(
            header(PacketType::CO_CANCEL, 0x03, BE, 16, 0, 7),
            Body::CoCancel,
        ),
    );
}

fn co_cancel_signed(drep: DataRep) -> Pdu {
    Pdu {
        header: header(PacketType::CO_CANCEL, 0x03, drep, 28, 4, 7),
        body: Body::CoCancel,
        auth: Some(AuthVerifier {
            trailer: SecTrailer {
                auth_type: AuthType::WINNT,
                auth_level: AuthLevel::PKT_INTEGRITY,
                auth_pad_length: 0,
                auth_reserved: 0,
                auth_context_id: 2,
            },
            value: vec![0xaa, 0xbb, 0xcc, 0xdd],
        }),
    }
}

#[test]
fn co_cancel_with_verifier_le() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x12,                   // PTYPE co_cancel
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x10, 0x00, 0x00, 0x00, // drep: little-endian
        0x1c, 0x00,             // frag_length 28
        0x04, 0x00,             // auth_length 4
        0x07, 0x00, 0x00, 0x00, // call_id 7
        0x0a,                   // sec_trailer auth_type WINNT
        0x05,                   // auth_level PKT_INTEGRITY
        0x00,                   // auth_pad_length 0
        0x00,                   // auth_reserved
        0x02, 0x00, 0x00, 0x00, // auth_context_id 2
        0xaa, 0xbb, 0xcc, 0xdd, // auth value
    ];
    check(&bytes, &co_cancel_signed(LE));
}

#[test]
fn co_cancel_with_verifier_be() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x12,                   // PTYPE co_cancel
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x00, 0x00, 0x00, 0x00, // drep: big-endian
        0x00, 0x1c,             // frag_length 28
        0x00, 0x04,             // auth_length 4
        0x00, 0x00, 0x00, 0x07, // call_id 7
        0x0a,                   // sec_trailer auth_type WINNT
        0x05,                   // auth_level PKT_INTEGRITY
        0x00,                   // auth_pad_length 0
        0x00,                   // auth_reserved
        0x00, 0x00, 0x00, 0x02, // auth_context_id 2
        0xaa, 0xbb, 0xcc, 0xdd, // auth value
    ];
    check(&bytes, &co_cancel_signed(BE));
}

#[test]
fn orphaned_le() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x13,                   // PTYPE orphaned
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x10, 0x00, 0x00, 0x00, // drep: little-endian
        0x10, 0x00,             // frag_length 16
        0x00, 0x00,             // auth_length 0
        0x08, 0x00, 0x00, 0x00, // call_id 8
    ];
    check(
        &bytes,
        &pdu(
            header(PacketType::ORPHANED, 0x03, LE, 16, 0, 8),
            Body::Orphaned,
        ),
    );
}

#[test]
fn orphaned_be() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x13,                   // PTYPE orphaned
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x00, 0x00, 0x00, 0x00, // drep: big-endian
        0x00, 0x10,             // frag_length 16
        0x00, 0x00,             // auth_length 0
        0x00, 0x00, 0x00, 0x08, // call_id 8
    ];
    check(
        &bytes,
        &pdu(
            header(PacketType::ORPHANED, 0x03, BE, 16, 0, 8),
            Body::Orphaned,
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// request with an auth verifier and auth padding
// ---------------------------------------------------------------------------------------------

fn request_signed(drep: DataRep) -> Pdu {
    Pdu {
        header: header(PacketType::REQUEST, 0x03, drep, 64, 16, 6),
        body: Body::Request(Request {
            alloc_hint: 5,
            context_id: 0,
            opnum: 1,
            object: None,
            stub: vec![1, 2, 3, 4, 5],
        }),
        auth: Some(AuthVerifier {
            trailer: SecTrailer {
                auth_type: AuthType::WINNT,
                auth_level: AuthLevel::PKT_INTEGRITY,
                auth_pad_length: auth_pad_len(5),
                auth_reserved: 0,
                auth_context_id: 0,
            },
            value: vec![
                0x01, 0x00, 0x00, 0x00, // NTLM signature version 1
                0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, // checksum
                0x00, 0x00, 0x00, 0x00, // sequence number
            ],
        }),
    }
}

#[test]
fn request_with_verifier_le() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x00,                   // PTYPE request
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x10, 0x00, 0x00, 0x00, // drep: little-endian
        0x40, 0x00,             // frag_length 64
        0x10, 0x00,             // auth_length 16
        0x06, 0x00, 0x00, 0x00, // call_id 6
        0x05, 0x00, 0x00, 0x00, // alloc_hint 5
        0x00, 0x00,             // p_cont_id 0
        0x01, 0x00,             // opnum 1
        1, 2, 3, 4, 5,          // stub (5 bytes, offset 24)
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // auth padding (11 bytes: stub + pad = 16)
        0x0a,                   // sec_trailer auth_type WINNT (offset 40)
        0x05,                   // auth_level PKT_INTEGRITY
        0x0b,                   // auth_pad_length 11
        0x00,                   // auth_reserved
        0x00, 0x00, 0x00, 0x00, // auth_context_id 0
        0x01, 0x00, 0x00, 0x00, // auth value: NTLM signature version 1 (offset 48)
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, //   checksum
        0x00, 0x00, 0x00, 0x00, //   sequence number
    ];
    check(&bytes, &request_signed(LE));
    let layout = AuthLayout::parse(&bytes).unwrap().unwrap();
    assert_eq!(
        layout,
        AuthLayout {
            body_start: 16,
            stub: 24..29,
            pad: 29..40,
            trailer: 40..48,
            auth_value: 48..64,
        }
    );
}

#[test]
fn request_with_verifier_be() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x00,                   // PTYPE request
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x00, 0x00, 0x00, 0x00, // drep: big-endian
        0x00, 0x40,             // frag_length 64
        0x00, 0x10,             // auth_length 16
        0x00, 0x00, 0x00, 0x06, // call_id 6
        0x00, 0x00, 0x00, 0x05, // alloc_hint 5
        0x00, 0x00,             // p_cont_id 0
        0x00, 0x01,             // opnum 1
        1, 2, 3, 4, 5,          // stub (5 bytes, offset 24)
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // auth padding (11 bytes: stub + pad = 16)
        0x0a,                   // sec_trailer auth_type WINNT (offset 40)
        0x05,                   // auth_level PKT_INTEGRITY
        0x0b,                   // auth_pad_length 11
        0x00,                   // auth_reserved
        0x00, 0x00, 0x00, 0x00, // auth_context_id 0
        0x01, 0x00, 0x00, 0x00, // auth value (opaque bytes, not byte-swapped)
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
        0x00, 0x00, 0x00, 0x00,
    ];
    check(&bytes, &request_signed(BE));
    assert_eq!(AuthLayout::parse(&bytes).unwrap().unwrap().stub, 24..29);
}

// ---------------------------------------------------------------------------------------------
// unknown packet type, layouts, helpers
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_ptype_kept_le() {
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x00,             // rpc_vers 5, rpc_vers_minor 0
        0x01,                   // PTYPE ping (connectionless only)
        0x03,                   // pfc_flags FIRST_FRAG | LAST_FRAG
        0x10, 0x00, 0x00, 0x00, // drep: little-endian
        0x13, 0x00,             // frag_length 19
        0x00, 0x00,             // auth_length 0
        0x01, 0x00, 0x00, 0x00, // call_id 1
        0xaa, 0xbb, 0xcc,       // body, kept as sent
    ];
    check(
        &bytes,
        &pdu(
            header(PacketType::PING, 0x03, LE, 19, 0, 1),
            Body::Unknown(vec![0xaa, 0xbb, 0xcc]),
        ),
    );
}

#[test]
fn auth_layout_none_without_verifier() {
    let bytes = request_plain(LE).encode().unwrap();
    assert_eq!(AuthLayout::parse(&bytes).unwrap(), None);
}

#[test]
fn auth_layout_of_bind_covers_body() {
    let mut p = alter_context(LE);
    p.auth = Some(AuthVerifier {
        trailer: SecTrailer {
            auth_type: AuthType::WINNT,
            auth_level: AuthLevel::CONNECT,
            auth_pad_length: 0,
            auth_reserved: 0,
            auth_context_id: 0,
        },
        value: vec![1, 2, 3],
    });
    let bytes = p.encode().unwrap();
    let layout = AuthLayout::parse(&bytes).unwrap().unwrap();
    assert_eq!(layout.stub, 16..72);
    assert_eq!(layout.pad, 72..72);
    assert_eq!(layout.trailer, 72..80);
    assert_eq!(layout.auth_value, 80..83);
    let back = Pdu::decode(&bytes).unwrap();
    assert_eq!(back.header.auth_length, 3);
    assert_eq!(back.body, p.body);
    assert_eq!(back.auth, p.auth);
}

#[test]
fn auth_layout_of_fault_starts_stub_at_32() {
    let mut p = fault(LE);
    if let Body::Fault(f) = &mut p.body {
        f.stub = vec![9; 3];
    }
    p.auth = Some(AuthVerifier {
        trailer: SecTrailer {
            auth_type: AuthType::WINNT,
            auth_level: AuthLevel::PKT_PRIVACY,
            auth_pad_length: auth_pad_len(3),
            auth_reserved: 0,
            auth_context_id: 0,
        },
        value: vec![0; 16],
    });
    let bytes = p.encode().unwrap();
    let layout = AuthLayout::parse(&bytes).unwrap().unwrap();
    assert_eq!(layout.stub, 32..35);
    assert_eq!(layout.pad, 35..48);
    assert_eq!(Pdu::decode(&bytes).unwrap().body, p.body);
}

#[test]
fn stub_offsets() {
    assert_eq!(
        stub_offset(PacketType::REQUEST, PfcFlags::FIRST_AND_LAST),
        24
    );
    assert_eq!(
        stub_offset(
            PacketType::REQUEST,
            PfcFlags::FIRST_AND_LAST | PfcFlags::OBJECT_UUID
        ),
        40
    );
    assert_eq!(stub_offset(PacketType::RESPONSE, PfcFlags::OBJECT_UUID), 24);
    assert_eq!(stub_offset(PacketType::FAULT, PfcFlags::FIRST_AND_LAST), 32);
    assert_eq!(stub_offset(PacketType::BIND, PfcFlags::FIRST_AND_LAST), 16);
}

#[test]
fn auth_pad_lengths() {
    assert_eq!(auth_pad_len(0), 0);
    assert_eq!(auth_pad_len(1), 15);
    assert_eq!(auth_pad_len(5), 11);
    assert_eq!(auth_pad_len(16), 0);
    assert_eq!(auth_pad_len(17), 15);
    assert_eq!(auth_pad_len(32), 0);
}

#[test]
fn frame_length_streaming() {
    let bytes = bind(LE).encode().unwrap();
    for n in 0..16 {
        assert_eq!(frame_length(&bytes[..n]).unwrap(), None);
    }
    assert_eq!(frame_length(&bytes[..16]).unwrap(), Some(136));
    assert_eq!(frame_length(&bytes).unwrap(), Some(136));
}

#[test]
fn encode_sets_object_flag_from_body() {
    let mut p = request_object(LE);
    p.header.flags = PfcFlags::FIRST_AND_LAST;
    let bytes = p.encode().unwrap();
    assert_eq!(bytes[3], 0x83);
    let mut p = request_plain(LE);
    p.header.flags = PfcFlags(0x83);
    let bytes = p.encode().unwrap();
    assert_eq!(bytes[3], 0x03);
}

#[test]
fn encode_recomputes_lengths() {
    let mut p = request_signed(LE);
    p.header.frag_length = 0;
    p.header.auth_length = 999;
    let bytes = p.encode().unwrap();
    assert_eq!(Pdu::decode(&bytes).unwrap(), request_signed(LE));
}

#[test]
fn header_new_defaults() {
    let h = Header::new(PacketType::BIND, PfcFlags::FIRST_AND_LAST, 1);
    assert_eq!((h.rpc_vers, h.rpc_vers_minor), (5, 0));
    assert_eq!(h.drep, DataRep::LITTLE_ENDIAN);
    let p = Pdu {
        header: h,
        body: Body::Shutdown,
        auth: None,
    };
    assert_eq!(
        p.encode(),
        Err(EncodeError::BodyTypeMismatch {
            ptype: PacketType::BIND
        })
    );
}

mod stub_frames {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// `encode_stub_frame` writes the bytes `Pdu::encode` writes for the same request or
        /// response, and its ranges point at the stub + padding, the trailer's end and the
        /// auth value.
        #[test]
        fn match_pdu_encode(
            request in any::<bool>(),
            big in any::<bool>(),
            object in proptest::option::of(any::<u128>()),
            stub in proptest::collection::vec(any::<u8>(), 0..200),
            auth in proptest::option::of((1u8..=6, 0u32..5, 0usize..40)),
            flags in any::<u8>(),
            call_id in any::<u32>(),
            alloc_hint in any::<u32>(),
        ) {
            let drep = if big { DataRep::BIG_ENDIAN } else { DataRep::LITTLE_ENDIAN };
            let ptype = if request { PacketType::REQUEST } else { PacketType::RESPONSE };
            let mut header = Header::new(ptype, PfcFlags(flags), call_id);
            header.drep = drep;
            let object = if request { object.map(Uuid::from_u128) } else { None };
            let trailer = auth.map(|(level, ctx, _)| SecTrailer {
                auth_type: AuthType::WINNT,
                auth_level: AuthLevel(level),
                auth_pad_length: auth_pad_len(stub.len()),
                auth_reserved: 0,
                auth_context_id: ctx,
            });
            let value_len = auth.map_or(0, |(_, _, n)| n.max(1));
            let body = if request {
                StubBody::Request { alloc_hint, context_id: 3, opnum: 9, object }
            } else {
                StubBody::Response { alloc_hint, context_id: 3, cancel_count: 0, reserved: 0 }
            };
            let f = encode_stub_frame(&header, &body, &stub, trailer.as_ref().map(|t| (t, value_len)))
                .unwrap();
            let pdu = Pdu {
                header,
                body: if request {
                    Body::Request(Request { alloc_hint, context_id: 3, opnum: 9, object, stub: stub.clone() })
                } else {
                    Body::Response(Response { alloc_hint, context_id: 3, cancel_count: 0, reserved: 0, stub: stub.clone() })
                },
                auth: trailer.map(|t| AuthVerifier { trailer: t, value: vec![0; value_len] }),
            };
            prop_assert_eq!(&f.bytes, &pdu.encode().unwrap());
            // And it reads back as the body and verifier it was written from.
            let back = Pdu::decode(&f.bytes).unwrap();
            prop_assert_eq!(&back.body, &pdu.body);
            prop_assert_eq!(&back.auth, &pdu.auth);
            let stub_at = if object.is_some() { 40 } else { 24 };
            prop_assert_eq!(f.data.start, stub_at);
            prop_assert_eq!(&f.bytes[f.data.start..f.data.start + stub.len()], &stub[..]);
            prop_assert_eq!(f.auth_value.len(), value_len);
            prop_assert_eq!(f.auth_value.end, f.bytes.len());
            if let Some(t) = trailer {
                prop_assert_eq!(f.data.end, stub_at + stub.len() + usize::from(t.auth_pad_length));
                prop_assert_eq!(f.signed_end, f.data.end + 8);
            } else {
                prop_assert_eq!(f.signed_end, f.bytes.len());
            }
        }
    }
}
