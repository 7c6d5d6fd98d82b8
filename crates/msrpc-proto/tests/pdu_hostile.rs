//! Malformed frames (C706 12.6, MS-RPCE 2.2.2): each is refused with its own [`PduError`] and
//! reason code, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashSet;

use msrpc_ndr::DataRep;
use msrpc_proto::pdu::*;

/// A little-endian common header.
fn hdr(ptype: u8, flags: u8, frag: u16, auth: u16) -> Vec<u8> {
    let mut v = vec![5, 0, ptype, flags, 0x10, 0, 0, 0];
    v.extend_from_slice(&frag.to_le_bytes());
    v.extend_from_slice(&auth.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    v
}

/// Sets the little-endian frag_length to the frame's length.
fn fix_len(mut v: Vec<u8>) -> Vec<u8> {
    let n = u16::try_from(v.len()).unwrap().to_le_bytes();
    v[8] = n[0];
    v[9] = n[1];
    v
}

fn err(frame: &[u8]) -> PduError {
    let e = Pdu::decode(frame).unwrap_err();
    // The display text and code are always available for the audit record.
    assert!(!e.to_string().is_empty());
    assert!(!e.reason_code().is_empty());
    e
}

#[test]
fn header_truncated() {
    let e = err(&[5, 0, 0, 3, 0x10, 0, 0]);
    assert_eq!(e, PduError::HeaderTruncated { available: 7 });
    assert_eq!(e.reason_code(), "header_truncated");
    assert_eq!(
        Header::decode(&[]),
        Err(PduError::HeaderTruncated { available: 0 })
    );
}

#[test]
fn frag_length_below_header() {
    let frame = hdr(0, 3, 12, 0);
    let e = err(&frame);
    assert_eq!(e, PduError::FragLengthBelowHeader { frag_length: 12 });
    assert_eq!(e.reason_code(), "frag_length_below_header");
    assert_eq!(
        frame_length(&frame),
        Err(PduError::FragLengthBelowHeader { frag_length: 12 })
    );
    assert_eq!(
        Header::decode(&hdr(0, 3, 0, 0)),
        Err(PduError::FragLengthBelowHeader { frag_length: 0 })
    );
}

#[test]
fn frag_length_below_header_big_endian() {
    // frag_length 0x000f read big-endian (drep 00): 15.
    let frame = [5, 0, 0, 3, 0, 0, 0, 0, 0x00, 0x0f, 0, 0, 0, 0, 0, 1];
    assert_eq!(
        err(&frame),
        PduError::FragLengthBelowHeader { frag_length: 15 }
    );
}

#[test]
fn frag_length_beyond_data() {
    let mut frame = hdr(0, 3, 100, 0);
    frame.extend_from_slice(&[0; 8]);
    let e = err(&frame);
    assert_eq!(
        e,
        PduError::FragLengthBeyondData {
            frag_length: 100,
            available: 24
        }
    );
    assert_eq!(e.reason_code(), "frag_length_beyond_data");
    // For stream framing the header alone is valid: wait for 100 bytes.
    assert_eq!(frame_length(&frame), Ok(Some(100)));
}

#[test]
fn trailing_data() {
    let mut frame = hdr(17, 3, 16, 0);
    frame.push(0);
    let e = err(&frame);
    assert_eq!(
        e,
        PduError::TrailingData {
            frag_length: 16,
            available: 17
        }
    );
    assert_eq!(e.reason_code(), "trailing_data");
}

#[test]
fn auth_length_beyond_pdu() {
    // request, 28 bytes, claims a 100-byte auth value.
    let mut frame = hdr(0, 3, 28, 100);
    frame.extend_from_slice(&[0; 12]);
    let e = err(&frame);
    assert_eq!(
        e,
        PduError::AuthLengthBeyondPdu {
            auth_length: 100,
            frag_length: 28
        }
    );
    assert_eq!(e.reason_code(), "auth_length_beyond_pdu");
    assert_eq!(AuthLayout::parse(&frame), Err(e));
}

#[test]
fn auth_trailer_overlapping_header() {
    // 28 bytes, auth_length 5: the sec_trailer would start at 15, inside the header.
    let mut frame = hdr(17, 3, 28, 5);
    frame.extend_from_slice(&[0; 12]);
    assert_eq!(
        err(&frame),
        PduError::AuthLengthBeyondPdu {
            auth_length: 5,
            frag_length: 28
        }
    );
}

#[test]
fn auth_length_max_does_not_overflow() {
    let mut frame = hdr(0, 3, 0xffff, 0xffff);
    frame.resize(0xffff, 0);
    assert_eq!(
        err(&frame),
        PduError::AuthLengthBeyondPdu {
            auth_length: 0xffff,
            frag_length: 0xffff
        }
    );
}

/// A request whose stub is 5 bytes but whose sec_trailer claims 200 bytes of padding.
#[test]
fn auth_pad_beyond_stub() {
    let mut frame = hdr(0, 3, 0, 4);
    frame.extend_from_slice(&[5, 0, 0, 0, 0, 0, 1, 0]); // alloc_hint, p_cont_id, opnum
    frame.extend_from_slice(&[1, 2, 3, 4, 5]); // stub
    frame.extend_from_slice(&[0x0a, 5, 200, 0, 0, 0, 0, 0]); // sec_trailer, auth_pad_length 200
    frame.extend_from_slice(&[9, 9, 9, 9]); // auth value
    let frame = fix_len(frame);
    let e = err(&frame);
    assert_eq!(
        e,
        PduError::AuthPadBeyondStub {
            auth_pad_length: 200,
            available: 5
        }
    );
    assert_eq!(e.reason_code(), "auth_pad_beyond_stub");
    assert_eq!(AuthLayout::parse(&frame), Err(e));
}

/// Padding may not eat into the request's fixed fields (6 > the 5 stub bytes).
#[test]
fn auth_pad_into_fixed_fields() {
    let mut frame = hdr(0, 3, 0, 4);
    frame.extend_from_slice(&[5, 0, 0, 0, 0, 0, 1, 0]);
    frame.extend_from_slice(&[1, 2, 3, 4, 5]);
    frame.extend_from_slice(&[0x0a, 5, 6, 0, 0, 0, 0, 0]);
    frame.extend_from_slice(&[9, 9, 9, 9]);
    assert_eq!(
        err(&fix_len(frame)),
        PduError::AuthPadBeyondStub {
            auth_pad_length: 6,
            available: 5
        }
    );
}

/// Padding in a bind may not exceed the body.
#[test]
fn auth_pad_beyond_bind_body() {
    let mut frame = hdr(11, 3, 0, 2);
    frame.extend_from_slice(&[0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0, 0, 0, 0, 0]); // 12-byte body, no contexts
    frame.extend_from_slice(&[0x0a, 2, 13, 0, 0, 0, 0, 0]);
    frame.extend_from_slice(&[1, 2]);
    assert_eq!(
        err(&fix_len(frame)),
        PduError::AuthPadBeyondStub {
            auth_pad_length: 13,
            available: 12
        }
    );
}

#[test]
fn request_fixed_fields_truncated() {
    let mut frame = hdr(0, 3, 0, 0);
    frame.extend_from_slice(&[0; 6]);
    let e = err(&fix_len(frame));
    assert_eq!(
        e,
        PduError::BodyTruncated {
            ptype: PacketType::REQUEST,
            needed: 8,
            available: 6
        }
    );
    assert_eq!(e.reason_code(), "body_truncated");
}

#[test]
fn request_object_uuid_truncated() {
    let mut frame = hdr(0, 0x83, 0, 0);
    frame.extend_from_slice(&[0; 8 + 10]); // fixed fields, then 10 of the 16 UUID bytes
    assert_eq!(
        err(&fix_len(frame)),
        PduError::BodyTruncated {
            ptype: PacketType::REQUEST,
            needed: 24,
            available: 18
        }
    );
}

#[test]
fn request_fixed_fields_overlapped_by_verifier() {
    let mut frame = hdr(0, 3, 0, 4);
    frame.extend_from_slice(&[0; 4]); // only 4 body bytes before the sec_trailer
    frame.extend_from_slice(&[0x0a, 5, 0, 0, 0, 0, 0, 0]);
    frame.extend_from_slice(&[9; 4]);
    assert_eq!(
        err(&fix_len(frame)),
        PduError::BodyTruncated {
            ptype: PacketType::REQUEST,
            needed: 8,
            available: 4
        }
    );
}

#[test]
fn fault_truncated_between_28_and_32() {
    for extra in 13..16 {
        let mut frame = hdr(3, 3, 0, 0);
        frame.extend_from_slice(&vec![0; extra]);
        assert_eq!(
            err(&fix_len(frame)),
            PduError::BodyTruncated {
                ptype: PacketType::FAULT,
                needed: 16,
                available: extra
            }
        );
    }
}

#[test]
fn fault_without_reserved2_needs_no_verifier() {
    // 12 body bytes before a verifier: the short form is only tolerated without one.
    let mut frame = hdr(3, 3, 0, 4);
    frame.extend_from_slice(&[0; 12]);
    frame.extend_from_slice(&[0x0a, 5, 0, 0, 0, 0, 0, 0]);
    frame.extend_from_slice(&[9; 4]);
    assert_eq!(
        err(&fix_len(frame)),
        PduError::BodyTruncated {
            ptype: PacketType::FAULT,
            needed: 16,
            available: 12
        }
    );
}

/// A bind announcing 5 contexts but carrying one.
#[test]
fn n_context_elem_beyond_data() {
    let mut frame = hdr(11, 3, 0, 0);
    frame.extend_from_slice(&[0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0]);
    frame.extend_from_slice(&[5, 0, 0, 0]); // n_context_elem 5
    frame.extend_from_slice(&[0, 0, 1, 0]); // p_cont_id 0, n_transfer_syn 1
    frame.extend_from_slice(&[0; 40]); // abstract + one transfer syntax
    let e = err(&fix_len(frame));
    assert_eq!(
        e,
        PduError::ContextListTruncated {
            ptype: PacketType::BIND,
            n_context_elem: 5,
            index: 1
        }
    );
    assert_eq!(e.reason_code(), "context_list_truncated");
}

#[test]
fn n_context_elem_255_with_empty_body() {
    let mut frame = hdr(14, 3, 0, 0);
    frame.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0, 0]);
    assert_eq!(
        err(&fix_len(frame)),
        PduError::ContextListTruncated {
            ptype: PacketType::ALTER_CONTEXT,
            n_context_elem: 255,
            index: 0
        }
    );
}

#[test]
fn n_transfer_syn_beyond_data() {
    let mut frame = hdr(11, 3, 0, 0);
    frame.extend_from_slice(&[0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0]);
    frame.extend_from_slice(&[1, 0, 0, 0]); // n_context_elem 1
    frame.extend_from_slice(&[7, 0, 200, 0]); // p_cont_id 7, n_transfer_syn 200
    frame.extend_from_slice(&[0; 20 + 20 + 5]); // abstract, one syntax, 5 bytes
    let e = err(&fix_len(frame));
    assert_eq!(
        e,
        PduError::TransferSyntaxListTruncated {
            ptype: PacketType::BIND,
            context_id: 7,
            n_transfer_syn: 200,
            index: 1
        }
    );
    assert_eq!(e.reason_code(), "transfer_syntax_list_truncated");
}

#[test]
fn bind_trailing_bytes() {
    let mut frame = hdr(11, 3, 0, 0);
    frame.extend_from_slice(&[0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0, 0, 0, 0, 0]);
    frame.extend_from_slice(&[0xee; 3]);
    let e = err(&fix_len(frame));
    assert_eq!(
        e,
        PduError::BodyTrailingData {
            ptype: PacketType::BIND,
            extra: 3
        }
    );
    assert_eq!(e.reason_code(), "body_trailing_data");
}

#[test]
fn bind_fixed_fields_truncated() {
    let mut frame = hdr(11, 3, 0, 0);
    frame.extend_from_slice(&[0xb8, 0x10, 0xb8, 0x10, 0, 0]);
    assert_eq!(
        err(&fix_len(frame)),
        PduError::BodyTruncated {
            ptype: PacketType::BIND,
            needed: 8,
            available: 6
        }
    );
}

/// A bind_ack whose sec_addr length runs past the body.
#[test]
fn sec_addr_beyond_data() {
    let mut frame = hdr(12, 3, 0, 0);
    frame.extend_from_slice(&[0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0]);
    frame.extend_from_slice(&[0x00, 0x10]); // sec_addr length 4096
    frame.extend_from_slice(b"135\0");
    let e = err(&fix_len(frame));
    assert_eq!(
        e,
        PduError::SecAddrBeyondBody {
            ptype: PacketType::BIND_ACK,
            sec_addr_len: 4096,
            available: 4
        }
    );
    assert_eq!(e.reason_code(), "sec_addr_beyond_body");
}

#[test]
fn n_results_beyond_data() {
    let mut frame = hdr(15, 3, 0, 0);
    frame.extend_from_slice(&[0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0]);
    frame.extend_from_slice(&[0, 0, 0, 0]); // sec_addr length 0, padding
    frame.extend_from_slice(&[3, 0, 0, 0]); // n_results 3
    frame.extend_from_slice(&[0; 24 + 10]); // one result and a piece
    let e = err(&fix_len(frame));
    assert_eq!(
        e,
        PduError::ResultListTruncated {
            ptype: PacketType::ALTER_CONTEXT_RESP,
            n_results: 3,
            index: 1
        }
    );
    assert_eq!(e.reason_code(), "result_list_truncated");
}

#[test]
fn bind_ack_padding_missing() {
    let mut frame = hdr(12, 3, 0, 0);
    frame.extend_from_slice(&[0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0]);
    frame.extend_from_slice(&[3, 0]); // sec_addr length 3
    frame.extend_from_slice(b"13\0");
    assert_eq!(
        err(&fix_len(frame)),
        PduError::BodyTruncated {
            ptype: PacketType::BIND_ACK,
            needed: 16,
            available: 13
        }
    );
}

#[test]
fn bind_nak_versions_beyond_data() {
    let mut frame = hdr(13, 3, 0, 0);
    frame.extend_from_slice(&[4, 0, 9, 5, 0, 5]); // reason, n_protocols 9, 1.5 versions
    let e = err(&fix_len(frame));
    assert_eq!(
        e,
        PduError::VersionListTruncated {
            n_protocols: 9,
            available: 3
        }
    );
    assert_eq!(e.reason_code(), "version_list_truncated");
}

#[test]
fn auth3_truncated_and_trailing() {
    let mut frame = hdr(16, 3, 0, 0);
    frame.extend_from_slice(&[0; 3]);
    assert_eq!(
        err(&fix_len(frame)),
        PduError::BodyTruncated {
            ptype: PacketType::AUTH3,
            needed: 4,
            available: 3
        }
    );
    let mut frame = hdr(16, 3, 0, 0);
    frame.extend_from_slice(&[0; 6]);
    assert_eq!(
        err(&fix_len(frame)),
        PduError::BodyTrailingData {
            ptype: PacketType::AUTH3,
            extra: 2
        }
    );
}

#[test]
fn shutdown_with_body() {
    for ptype in [17u8, 18, 19] {
        let mut frame = hdr(ptype, 3, 0, 0);
        frame.push(0);
        assert_eq!(
            err(&fix_len(frame)),
            PduError::BodyTrailingData {
                ptype: PacketType(ptype),
                extra: 1
            }
        );
    }
}

#[test]
fn reason_codes_are_distinct_snake_case() {
    let all = [
        PduError::HeaderTruncated { available: 0 },
        PduError::FragLengthBelowHeader { frag_length: 0 },
        PduError::FragLengthBeyondData {
            frag_length: 0,
            available: 0,
        },
        PduError::TrailingData {
            frag_length: 0,
            available: 0,
        },
        PduError::AuthLengthBeyondPdu {
            auth_length: 0,
            frag_length: 0,
        },
        PduError::AuthPadBeyondStub {
            auth_pad_length: 0,
            available: 0,
        },
        PduError::BodyTruncated {
            ptype: PacketType::REQUEST,
            needed: 0,
            available: 0,
        },
        PduError::BodyTrailingData {
            ptype: PacketType::BIND,
            extra: 0,
        },
        PduError::ContextListTruncated {
            ptype: PacketType::BIND,
            n_context_elem: 0,
            index: 0,
        },
        PduError::TransferSyntaxListTruncated {
            ptype: PacketType::BIND,
            context_id: 0,
            n_transfer_syn: 0,
            index: 0,
        },
        PduError::ResultListTruncated {
            ptype: PacketType::BIND_ACK,
            n_results: 0,
            index: 0,
        },
        PduError::SecAddrBeyondBody {
            ptype: PacketType::BIND_ACK,
            sec_addr_len: 0,
            available: 0,
        },
        PduError::VersionListTruncated {
            n_protocols: 0,
            available: 0,
        },
    ];
    let mut seen = HashSet::new();
    for e in &all {
        let code = e.reason_code();
        assert!(seen.insert(code), "duplicate {code}");
        assert!(
            code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{code}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Encode errors (ours)
// ---------------------------------------------------------------------------------------------

fn shell(ptype: PacketType, body: Body) -> Pdu {
    Pdu {
        header: Header::new(ptype, PfcFlags::FIRST_AND_LAST, 1),
        body,
        auth: None,
    }
}

#[test]
fn encode_too_many_contexts() {
    let ctx = ContextElement {
        context_id: 0,
        abstract_syntax: SyntaxId::NDR20,
        transfer_syntaxes: vec![],
    };
    let p = shell(
        PacketType::BIND,
        Body::Bind(Bind {
            max_xmit_frag: 0,
            max_recv_frag: 0,
            assoc_group_id: 0,
            contexts: vec![ctx; 256],
        }),
    );
    let e = p.encode().unwrap_err();
    assert_eq!(e, EncodeError::TooManyContexts { count: 256 });
    assert_eq!(e.reason_code(), "encode_too_many_contexts");
}

#[test]
fn encode_too_many_transfer_syntaxes() {
    let p = shell(
        PacketType::ALTER_CONTEXT,
        Body::AlterContext(Bind {
            max_xmit_frag: 0,
            max_recv_frag: 0,
            assoc_group_id: 0,
            contexts: vec![ContextElement {
                context_id: 3,
                abstract_syntax: SyntaxId::NDR20,
                transfer_syntaxes: vec![SyntaxId::NDR20; 300],
            }],
        }),
    );
    assert_eq!(
        p.encode(),
        Err(EncodeError::TooManyTransferSyntaxes {
            context_id: 3,
            count: 300
        })
    );
}

#[test]
fn encode_too_many_results_and_versions() {
    let r = ContextResultEntry {
        result: ContextResult::ACCEPTANCE,
        reason: ProviderReason::REASON_NOT_SPECIFIED,
        transfer_syntax: SyntaxId::NDR20,
    };
    let p = shell(
        PacketType::BIND_ACK,
        Body::BindAck(BindAck {
            max_xmit_frag: 0,
            max_recv_frag: 0,
            assoc_group_id: 0,
            sec_addr: vec![],
            results: vec![r; 256],
        }),
    );
    assert_eq!(p.encode(), Err(EncodeError::TooManyResults { count: 256 }));
    let p = shell(
        PacketType::BIND_NAK,
        Body::BindNak(BindNak {
            reason: BindNakReason::REASON_NOT_SPECIFIED,
            versions: vec![(5, 0); 256],
            extra: vec![],
        }),
    );
    assert_eq!(p.encode(), Err(EncodeError::TooManyVersions { count: 256 }));
}

#[test]
fn encode_frag_too_long() {
    let p = shell(
        PacketType::RESPONSE,
        Body::Response(Response {
            alloc_hint: 0,
            context_id: 0,
            cancel_count: 0,
            reserved: 0,
            stub: vec![0; 65535 - 24 + 1],
        }),
    );
    assert_eq!(p.encode(), Err(EncodeError::FragTooLong { length: 65536 }));
    let p = shell(
        PacketType::BIND_ACK,
        Body::BindAck(BindAck {
            max_xmit_frag: 0,
            max_recv_frag: 0,
            assoc_group_id: 0,
            sec_addr: vec![b'1'; 70000],
            results: vec![],
        }),
    );
    assert_eq!(
        p.encode(),
        Err(EncodeError::SecAddrTooLong { length: 70000 })
    );
}

#[test]
fn encode_empty_auth_value() {
    let mut p = shell(PacketType::SHUTDOWN, Body::Shutdown);
    p.auth = Some(AuthVerifier {
        trailer: SecTrailer {
            auth_type: AuthType::WINNT,
            auth_level: AuthLevel::CONNECT,
            auth_pad_length: 0,
            auth_reserved: 0,
            auth_context_id: 0,
        },
        value: vec![],
    });
    assert_eq!(p.encode(), Err(EncodeError::AuthValueEmpty));
}

#[test]
fn encode_body_type_mismatch() {
    let p = shell(PacketType::REQUEST, Body::Unknown(vec![]));
    assert_eq!(
        p.encode(),
        Err(EncodeError::BodyTypeMismatch {
            ptype: PacketType::REQUEST
        })
    );
    // Unknown bodies go with any other packet type, including connectionless ones.
    let mut p = shell(PacketType::PING, Body::Unknown(vec![1]));
    p.header.drep = DataRep::BIG_ENDIAN;
    let bytes = p.encode().unwrap();
    assert_eq!(Pdu::decode(&bytes).unwrap().body, Body::Unknown(vec![1]));
}
