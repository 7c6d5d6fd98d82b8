//! Property tests of the PDU codec (C706 12.6, MS-RPCE 2.2.2): generated PDUs round-trip in
//! both byte orders with unknown wire values intact, and no input makes decoding panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use msrpc_ndr::{DataRep, Endian, Uuid};
use msrpc_proto::pdu::*;
use proptest::prelude::*;

fn drep() -> impl Strategy<Value = DataRep> {
    prop_oneof![
        Just(DataRep::LITTLE_ENDIAN),
        Just(DataRep::BIG_ENDIAN),
        any::<[u8; 4]>().prop_map(DataRep),
    ]
}

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn syntax() -> impl Strategy<Value = SyntaxId> {
    prop_oneof![
        Just(SyntaxId::NDR20),
        Just(SyntaxId::NDR64),
        any::<u16>().prop_map(|f| SyntaxId::for_bind_time_features(BindTimeFeatures(f))),
        (uuid(), any::<u16>(), any::<u16>()).prop_map(|(u, a, b)| SyntaxId::new(u, a, b)),
    ]
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=max)
}

fn bind() -> impl Strategy<Value = Bind> {
    let ctx = (
        any::<u16>(),
        syntax(),
        proptest::collection::vec(syntax(), 0..4),
    )
        .prop_map(
            |(context_id, abstract_syntax, transfer_syntaxes)| ContextElement {
                context_id,
                abstract_syntax,
                transfer_syntaxes,
            },
        );
    (
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        proptest::collection::vec(ctx, 0..5),
    )
        .prop_map(
            |(max_xmit_frag, max_recv_frag, assoc_group_id, contexts)| Bind {
                max_xmit_frag,
                max_recv_frag,
                assoc_group_id,
                contexts,
            },
        )
}

fn bind_ack() -> impl Strategy<Value = BindAck> {
    let result =
        (any::<u16>(), any::<u16>(), syntax()).prop_map(|(r, reason, ts)| ContextResultEntry {
            result: ContextResult(r),
            reason: ProviderReason(reason),
            transfer_syntax: ts,
        });
    (
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        bytes(12),
        proptest::collection::vec(result, 0..5),
    )
        .prop_map(
            |(max_xmit_frag, max_recv_frag, assoc_group_id, sec_addr, results)| BindAck {
                max_xmit_frag,
                max_recv_frag,
                assoc_group_id,
                sec_addr,
                results,
            },
        )
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        (
            any::<u32>(),
            any::<u16>(),
            any::<u16>(),
            proptest::option::of(uuid()),
            bytes(64)
        )
            .prop_map(
                |(alloc_hint, context_id, opnum, object, stub)| Body::Request(Request {
                    alloc_hint,
                    context_id,
                    opnum,
                    object,
                    stub,
                })
            ),
        (
            any::<u32>(),
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            bytes(64)
        )
            .prop_map(|(alloc_hint, context_id, cancel_count, reserved, stub)| {
                Body::Response(Response {
                    alloc_hint,
                    context_id,
                    cancel_count,
                    reserved,
                    stub,
                })
            }),
        (
            any::<u32>(),
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            any::<u32>(),
            any::<u32>(),
            bytes(32)
        )
            .prop_map(
                |(alloc_hint, context_id, cancel_count, flags, status, reserved2, stub)| {
                    Body::Fault(Fault {
                        alloc_hint,
                        context_id,
                        cancel_count,
                        flags,
                        status: FaultStatus(status),
                        reserved2,
                        stub,
                    })
                }
            ),
        bind().prop_map(Body::Bind),
        bind().prop_map(Body::AlterContext),
        bind_ack().prop_map(Body::BindAck),
        bind_ack().prop_map(Body::AlterContextResp),
        (
            any::<u16>(),
            proptest::collection::vec(any::<(u8, u8)>(), 0..6),
            bytes(24)
        )
            .prop_map(|(reason, versions, extra)| Body::BindNak(BindNak {
                reason: BindNakReason(reason),
                versions,
                extra,
            })),
        any::<[u8; 4]>().prop_map(Body::Auth3),
        Just(Body::Shutdown),
        Just(Body::CoCancel),
        Just(Body::Orphaned),
        bytes(64).prop_map(Body::Unknown),
    ]
}

/// Packet types this codec does not decode into a typed body.
fn unknown_ptype() -> impl Strategy<Value = PacketType> {
    prop_oneof![Just(1u8), 4u8..=10, 20u8..=255].prop_map(PacketType)
}

fn verifier() -> impl Strategy<Value = AuthVerifier> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
        proptest::collection::vec(any::<u8>(), 1..40),
    )
        .prop_map(|(t, l, pad, reserved, ctx, value)| AuthVerifier {
            trailer: SecTrailer {
                auth_type: AuthType(t),
                auth_level: AuthLevel(l),
                auth_pad_length: pad,
                auth_reserved: reserved,
                auth_context_id: ctx,
            },
            value,
        })
}

fn arb_pdu() -> impl Strategy<Value = Pdu> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        drep(),
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        body(),
        unknown_ptype(),
        proptest::option::of(verifier()),
    )
        .prop_map(
            |(rpc_vers, rpc_vers_minor, flags, drep, frag, auth_len, call_id, body, unk, auth)| {
                let ptype = body.packet_type().unwrap_or(unk);
                Pdu {
                    header: Header {
                        rpc_vers,
                        rpc_vers_minor,
                        ptype,
                        flags: PfcFlags(flags),
                        drep,
                        frag_length: frag,
                        auth_length: auth_len,
                        call_id,
                    },
                    body,
                    auth,
                }
            },
        )
}

/// `p` with the header fields that encode computes.
fn normalized(p: &Pdu, encoded_len: usize) -> Pdu {
    let mut p = p.clone();
    p.header.frag_length = u16::try_from(encoded_len).unwrap();
    p.header.auth_length = p.auth.as_ref().map_or(0, |a| a.value.len() as u16);
    if let Body::Request(r) = &p.body {
        p.header.flags = if r.object.is_some() {
            p.header.flags.with(PfcFlags::OBJECT_UUID)
        } else {
            p.header.flags.without(PfcFlags::OBJECT_UUID)
        };
    }
    p
}

/// Writes `frag_length` (bytes 8..10) in the frame's byte order.
fn set_frag_length(frame: &mut [u8]) {
    let len = u16::try_from(frame.len()).unwrap_or(u16::MAX);
    let b = match DataRep([frame[4], frame[5], frame[6], frame[7]]).endian() {
        Endian::Little => len.to_le_bytes(),
        Endian::Big => len.to_be_bytes(),
    };
    frame[8] = b[0];
    frame[9] = b[1];
}

/// Invariants of the layout of any frame that parses.
fn check_layout(frame: &[u8]) {
    if let Ok(Some(l)) = AuthLayout::parse(frame) {
        assert_eq!(l.body_start, HEADER_LEN);
        assert!(l.body_start <= l.stub.start);
        assert!(l.stub.start <= l.stub.end);
        assert_eq!(l.stub.end, l.pad.start);
        assert_eq!(l.pad.end, l.trailer.start);
        assert_eq!(l.trailer.len(), SEC_TRAILER_LEN);
        assert_eq!(l.trailer.end, l.auth_value.start);
        assert_eq!(l.auth_value.end, frame.len());
        assert_eq!(l.pad.len(), usize::from(frame[l.trailer.start + 2]));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// decode(encode(p)) is p (with computed lengths), and re-encoding gives the same bytes.
    #[test]
    fn round_trip(p in arb_pdu()) {
        let bytes = p.encode().unwrap();
        let decoded = Pdu::decode(&bytes).unwrap();
        prop_assert_eq!(&decoded, &normalized(&p, bytes.len()));
        prop_assert_eq!(decoded.encode().unwrap(), bytes.clone());
        prop_assert_eq!(frame_length(&bytes).unwrap(), Some(bytes.len()));
        check_layout(&bytes);
        let layout = AuthLayout::parse(&bytes).unwrap();
        prop_assert_eq!(layout.is_some(), p.auth.is_some());
        if let (Some(l), Body::Request(r)) = (&layout, &p.body) {
            prop_assert_eq!(&bytes[l.stub.clone()], &r.stub[..]);
        }
        if let (Some(l), Body::Response(r)) = (&layout, &p.body) {
            prop_assert_eq!(&bytes[l.stub.clone()], &r.stub[..]);
        }
        if let (Some(l), Body::Fault(f)) = (&layout, &p.body) {
            prop_assert_eq!(&bytes[l.stub.clone()], &f.stub[..]);
        }
    }

    /// Arbitrary bytes never make decoding panic; whatever decodes re-encodes canonically.
    #[test]
    fn decode_arbitrary_bytes(frame in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = frame_length(&frame);
        let _ = Header::decode(&frame);
        check_layout(&frame);
        if let Ok(p) = Pdu::decode(&frame) {
            let again = Pdu::decode(&p.encode().unwrap()).unwrap();
            prop_assert_eq!(normalized(&again, usize::from(p.header.frag_length)), p);
        }
    }

    /// Arbitrary bytes behind a valid header with a matching frag_length reach the body
    /// decoders of every packet type.
    #[test]
    fn decode_arbitrary_bodies(
        ptype in 0u8..=21,
        flags in any::<u8>(),
        big in any::<bool>(),
        auth_length in prop_oneof![Just(0u16), 0u16..64, any::<u16>()],
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut frame = vec![5, 0, ptype, flags, if big { 0 } else { 0x10 }, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        frame.extend_from_slice(&body);
        let a = if big { auth_length.to_be_bytes() } else { auth_length.to_le_bytes() };
        frame[10] = a[0];
        frame[11] = a[1];
        set_frag_length(&mut frame);
        check_layout(&frame);
        if let Ok(p) = Pdu::decode(&frame) {
            let again = Pdu::decode(&p.encode().unwrap()).unwrap();
            prop_assert_eq!(normalized(&again, usize::from(p.header.frag_length)), p);
        }
    }

    /// Mutations of valid frames (with frag_length kept consistent) never panic.
    #[test]
    fn decode_mutated_frames(
        p in arb_pdu(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut frame = p.encode().unwrap();
        for (i, b) in edits {
            let n = frame.len();
            frame[i % n] = b;
        }
        let _ = Pdu::decode(&frame);
        check_layout(&frame);
        frame.truncate(HEADER_LEN.max(cut % (frame.len() + 1)));
        set_frag_length(&mut frame);
        let _ = Pdu::decode(&frame);
        check_layout(&frame);
    }

    /// Unknown packet types, flags, statuses and auth values survive a round trip and print
    /// in hex.
    #[test]
    fn unknown_values_survive(
        ptype in unknown_ptype(),
        flags in any::<u8>(),
        status in 0x2000_0000u32..,
        auth_type in 0x80u8..0xff,
        level in 7u8..,
    ) {
        let fault = Pdu {
            header: Header { flags: PfcFlags(flags), ..Header::new(PacketType::FAULT, PfcFlags(0), 9) },
            body: Body::Fault(Fault {
                alloc_hint: 0,
                context_id: 0,
                cancel_count: 0,
                flags: 0,
                status: FaultStatus(status),
                reserved2: 0,
                stub: vec![],
            }),
            auth: Some(AuthVerifier {
                trailer: SecTrailer {
                    auth_type: AuthType(auth_type),
                    auth_level: AuthLevel(level),
                    auth_pad_length: 0,
                    auth_reserved: 0,
                    auth_context_id: 0,
                },
                value: vec![1],
            }),
        };
        let decoded = Pdu::decode(&fault.encode().unwrap()).unwrap();
        prop_assert_eq!(decoded.header.flags, PfcFlags(flags));
        let Body::Fault(f) = &decoded.body else { panic!("not a fault") };
        prop_assert_eq!(f.status, FaultStatus(status));
        let dbg = format!("{decoded:?}");
        prop_assert!(dbg.contains(&format!("FaultStatus({status:#x})")), "{}", dbg);
        prop_assert!(dbg.contains(&format!("AuthType({auth_type:#x})")), "{}", dbg);
        prop_assert!(dbg.contains(&format!("AuthLevel({level:#x})")), "{}", dbg);
        prop_assert!(dbg.contains(&format!("PfcFlags({flags:#04x}")), "{}", dbg);

        let unknown = Pdu {
            header: Header::new(ptype, PfcFlags(flags), 1),
            body: Body::Unknown(vec![0xab; 3]),
            auth: None,
        };
        let decoded = Pdu::decode(&unknown.encode().unwrap()).unwrap();
        prop_assert_eq!(decoded.header.ptype, ptype);
        prop_assert_eq!(&decoded.body, &Body::Unknown(vec![0xab; 3]));
        if ptype.name().is_none() {
            let dbg = format!("{:?}", decoded.header.ptype);
            prop_assert_eq!(dbg, format!("PacketType({:#x})", ptype.0));
        }
    }
}

#[test]
fn debug_prints_unknown_values_in_hex() {
    assert_eq!(format!("{:?}", PacketType(0x42)), "PacketType(0x42)");
    assert_eq!(format!("{:?}", PacketType::BIND), "PacketType::BIND");
    assert_eq!(
        format!("{:?}", FaultStatus(0xdead_beef)),
        "FaultStatus(0xdeadbeef)"
    );
    assert_eq!(format!("{:?}", ContextResult(7)), "ContextResult(0x7)");
    assert_eq!(format!("{:?}", BindNakReason(0x99)), "BindNakReason(0x99)");
    assert_eq!(format!("{:?}", PfcFlags(0x08)), "PfcFlags(0x08 RESERVED_1)");
}
