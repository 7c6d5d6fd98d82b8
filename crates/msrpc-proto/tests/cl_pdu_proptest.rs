//! Property tests of the connectionless PDU codec (C706 12.5, MS-RPCE 2.2.3): generated PDUs
//! of every packet type round-trip in both byte orders with unknown wire values intact, and no
//! input makes decoding panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use msrpc_ndr::{DataRep, Uuid};
use msrpc_proto::cl::pdu::*;
use msrpc_proto::pdu::{AuthType, FaultStatus, PacketType};
use proptest::prelude::*;

fn drep() -> impl Strategy<Value = DataRep> {
    prop_oneof![
        Just(DataRep::LITTLE_ENDIAN),
        Just(DataRep::BIG_ENDIAN),
        any::<[u8; 3]>().prop_map(|[a, b, c]| DataRep([a, b, c, 0])),
    ]
}

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=max)
}

fn fack() -> impl Strategy<Value = FackBody> {
    (
        any::<u8>(),
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        any::<u16>(),
        proptest::collection::vec(any::<u32>(), 0..8),
    )
        .prop_map(
            |(vers, window_size, max_tsdu, max_frag_size, serial_num, selack)| FackBody {
                vers,
                window_size,
                max_tsdu,
                max_frag_size,
                serial_num,
                selack,
            },
        )
}

fn body() -> impl Strategy<Value = ClBody> {
    prop_oneof![
        bytes(300).prop_map(ClBody::Request),
        Just(ClBody::Ping),
        bytes(300).prop_map(ClBody::Response),
        any::<u32>().prop_map(|s| ClBody::Fault(FaultStatus(s))),
        Just(ClBody::Working),
        proptest::option::of(fack()).prop_map(ClBody::Nocall),
        any::<u32>().prop_map(|s| ClBody::Reject(FaultStatus(s))),
        Just(ClBody::Ack),
        (any::<u32>(), any::<u32>())
            .prop_map(|(vers, cancel_id)| ClBody::Cancel(CancelBody { vers, cancel_id })),
        proptest::option::of(fack()).prop_map(ClBody::Fack),
        (any::<u32>(), any::<u32>(), any::<bool>()).prop_map(|(vers, cancel_id, a)| {
            ClBody::CancelAck(CancelAckBody {
                vers,
                cancel_id,
                server_is_accepting: a,
            })
        }),
        bytes(64).prop_map(ClBody::Other),
    ]
}

prop_compose! {
    fn header()(
        other_ptype in 11u8..=255,
        flags1 in any::<u8>(),
        flags2 in any::<u8>(),
        drep in drep(),
        serial in any::<u16>(),
        object in uuid(),
        interface in uuid(),
        activity in uuid(),
        nums in any::<(u32, u32, u32)>(),
        hints in any::<(u16, u16, u16, u16)>(),
    ) -> ClHeader {
        ClHeader {
            ptype: PacketType(other_ptype),
            flags1: ClFlags1(flags1),
            flags2: ClFlags2(flags2),
            drep,
            serial,
            object,
            interface,
            activity,
            server_boot: nums.0,
            if_vers: nums.1,
            seqnum: nums.2,
            opnum: hints.0,
            ihint: hints.1,
            ahint: hints.2,
            len: 0,
            fragnum: hints.3,
            auth_proto: AuthType::NONE,
        }
    }
}

proptest! {
    #[test]
    fn every_pdu_round_trips(mut header in header(), body in body(), auth in bytes(40), proto in 1u8..=255) {
        let auth = if auth.is_empty() { auth } else { header.auth_proto = AuthType(proto); auth };
        let pdu = ClPdu { header, body, auth };
        let bytes = pdu.encode().unwrap();
        let back = ClPdu::decode(&bytes).unwrap();
        prop_assert_eq!(&back.body, &pdu.body);
        prop_assert_eq!(&back.auth, &pdu.auth);
        let mut expect = pdu.header;
        expect.len = back.header.len;
        if let Some(p) = pdu.body.ptype() { expect.ptype = p; }
        prop_assert_eq!(back.header, expect);
        prop_assert_eq!(usize::from(back.header.len) + CL_HEADER_LEN + pdu.auth.len(), bytes.len());
        // decode -> encode is the identity on bytes
        prop_assert_eq!(back.encode().unwrap(), bytes);
    }

    #[test]
    fn decoding_never_panics(b in bytes(400)) {
        let _ = ClPdu::decode(&b);
    }

    #[test]
    fn a_valid_header_with_any_body_never_panics(header in header(), ptype in 0u8..=10, body in bytes(200)) {
        let mut h = header;
        h.ptype = PacketType(ptype);
        h.len = body.len() as u16;
        let mut b = Vec::new();
        h.encode_into(&mut b);
        b.extend_from_slice(&body);
        if let Ok(p) = ClPdu::decode(&b) {
            prop_assert_eq!(ClPdu::decode(&p.encode().unwrap()).unwrap(), p);
        }
    }
}
