//! Stub byte vectors for the endpoint mapper and management operations.

use super::*;
use crate::mgmt::{
    InqIfIdsRequest, InqIfIdsResponse, InqPrincNameRequest, InqPrincNameResponse, InqStatsRequest,
    InqStatsResponse, MgmtInterface,
};
use msrpc_ndr::{DataRep, DecodeErrorKind, DecodeLimits, EncodeError};
use msrpc_proto::dispatch::Interface;
use msrpc_proto::SyntaxId;

const LE: DataRep = DataRep::LITTLE_ENDIAN;
const BE: DataRep = DataRep::BIG_ENDIAN;
const LIM: DecodeLimits = DecodeLimits::DEFAULT;

fn handle() -> ContextHandle {
    ContextHandle {
        attributes: 0,
        uuid: Uuid::from_u128(0x01020304_0506_0708_090a_0b0c0d0e0f10),
    }
}

#[rustfmt::skip]
const HANDLE_LE: [u8; 20] = [
    0, 0, 0, 0,             // attributes
    4, 3, 2, 1, 6, 5, 8, 7, // uuid fields in little-endian
    9, 10, 11, 12, 13, 14, 15, 16,
];

#[test]
fn identities() {
    assert_eq!(
        EptInterface::SYNTAX,
        SyntaxId::new(
            Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa),
            3,
            0
        )
    );
    assert_eq!(EptInterface::operation_name(3), Some("ept_map"));
    assert_eq!(EptInterface::OPERATIONS.len(), 8);
    assert_eq!(
        MgmtInterface::SYNTAX,
        SyntaxId::new(
            Uuid::from_u128(0xafa8bd80_7d8a_11c9_bef4_08002b102989),
            1,
            0
        )
    );
    assert_eq!(MgmtInterface::OPERATIONS.len(), 5);
}

#[test]
fn ept_lookup_request_and_response() {
    let req = EptLookupRequest {
        inquiry_type: RPC_C_EP_ALL_ELTS,
        object: Unique::null(),
        interface_id: Unique::null(),
        vers_option: RPC_C_VERS_ALL,
        entry_handle: ContextHandle::NULL,
        max_ents: 500,
    };
    #[rustfmt::skip]
    let stub: Vec<u8> = [
        &[0u8, 0, 0, 0][..],     // inquiry_type
        &[0, 0, 0, 0],           // object: null
        &[0, 0, 0, 0],           // interface_id: null
        &[1, 0, 0, 0],           // vers_option
        &[0; 20],                // entry_handle
        &[0xf4, 0x01, 0, 0],     // max_ents = 500
    ]
    .concat();
    assert_eq!(req.to_stub(LE).unwrap(), stub);
    assert_eq!(EptLookupRequest::from_stub(&stub, LE, LIM).unwrap(), req);

    let with_if = EptLookupRequest {
        interface_id: Unique::new(RpcIfId {
            uuid: Uuid::from_u128(0x11223344_5566_7788_99aa_bbccddeeff00),
            vers_major: 1,
            vers_minor: 2,
        }),
        ..req.clone()
    };
    #[rustfmt::skip]
    let stub_if: Vec<u8> = [
        &[0u8, 0, 0, 0][..],     // inquiry_type
        &[0, 0, 0, 0],           // object: null
        &[0x00, 0x00, 0x02, 0x00], // interface_id: referent id
        &[0x44, 0x33, 0x22, 0x11, 0x66, 0x55, 0x88, 0x77], // *interface_id.uuid
        &[0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00],
        &[1, 0, 2, 0],           // vers_major, vers_minor
        &[1, 0, 0, 0],           // vers_option
        &[0; 20],                // entry_handle
        &[0xf4, 0x01, 0, 0],     // max_ents
    ]
    .concat();
    assert_eq!(with_if.to_stub(LE).unwrap(), stub_if);
    assert_eq!(
        EptLookupRequest::from_stub(&stub_if, LE, LIM).unwrap(),
        with_if
    );

    let resp = EptLookupResponse {
        entry_handle: handle(),
        num_ents: 1,
        entries: vec![EptEntry {
            object: Uuid::nil(),
            tower: Unique::new(Twr::new(vec![0xab, 0xcd])),
            annotation: "ab".into(),
        }],
        status: status::RPC_S_OK,
    };
    #[rustfmt::skip]
    let out: Vec<u8> = [
        &HANDLE_LE[..],          // entry_handle
        &[1, 0, 0, 0],           // num_ents
        &[0xf4, 0x01, 0, 0],     // entries: max_count (size_is max_ents)
        &[0, 0, 0, 0],           // entries: offset
        &[1, 0, 0, 0],           // entries: actual_count (length_is num_ents)
        &[0; 16],                // entries[0].object
        &[0x00, 0x00, 0x02, 0x00], // entries[0].tower: referent id
        &[0, 0, 0, 0],           // entries[0].annotation: offset
        &[3, 0, 0, 0],           // annotation: actual_count
        &[b'a', b'b', 0, 0],     // "ab\0" + padding
        &[2, 0, 0, 0],           // *tower: max_count (hoisted)
        &[2, 0, 0, 0],           // tower_length
        &[0xab, 0xcd, 0, 0],     // tower_octet_string + padding
        &[0, 0, 0, 0],           // status
    ]
    .concat();
    assert_eq!(resp.to_stub(&req, LE).unwrap(), out);
    assert_eq!(
        EptLookupResponse::from_stub(&out, LE, LIM, &req).unwrap(),
        resp
    );
    let be = resp.to_stub(&req, BE).unwrap();
    assert_eq!(be.len(), out.len());
    assert_eq!(&be[24..28], &[0, 0, 0x01, 0xf4]);
    assert_eq!(
        EptLookupResponse::from_stub(&be, BE, LIM, &req).unwrap(),
        resp
    );

    // The empty answer that ends a lookup loop.
    let done = EptLookupResponse {
        entry_handle: ContextHandle::NULL,
        num_ents: 0,
        entries: vec![],
        status: status::EPT_S_NOT_REGISTERED,
    };
    #[rustfmt::skip]
    let out: Vec<u8> = [
        &[0u8; 20][..],
        &[0, 0, 0, 0],           // num_ents
        &[0xf4, 0x01, 0, 0],     // max_count
        &[0, 0, 0, 0, 0, 0, 0, 0], // offset, actual_count
        &[0xd6, 0xa0, 0xc9, 0x16], // ept_s_not_registered
    ]
    .concat();
    assert_eq!(done.to_stub(&req, LE).unwrap(), out);
    assert_eq!(
        EptLookupResponse::from_stub(&out, LE, LIM, &req).unwrap(),
        done
    );

    // num_ents and the array's actual_count must agree
    let mut bad = resp.clone();
    bad.num_ents = 2;
    assert!(matches!(
        bad.to_stub(&req, LE),
        Err(EncodeError::CountMismatch {
            field: "entries",
            ..
        })
    ));
    // a max_count other than the request's max_ents is refused
    let other = EptLookupRequest {
        max_ents: 10,
        ..req.clone()
    };
    let e = EptLookupResponse::from_stub(&out, LE, LIM, &other).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::CountMismatch {
            expected: 10,
            found: 500
        }
    );
    assert_eq!(e.path(), "EptLookupResponse.entries");
}

#[test]
fn ept_map_request_and_response() {
    let tower = Twr::new(vec![1, 2, 3, 4, 5]);
    let req = EptMapRequest {
        object: Unique::null(),
        map_tower: Unique::new(tower.clone()),
        entry_handle: ContextHandle::NULL,
        max_towers: 4,
    };
    #[rustfmt::skip]
    let stub: Vec<u8> = [
        &[0u8, 0, 0, 0][..],       // object: null
        &[0x00, 0x00, 0x02, 0x00], // map_tower: referent id
        &[5, 0, 0, 0],             // *map_tower: max_count (hoisted)
        &[5, 0, 0, 0],             // tower_length
        &[1, 2, 3, 4, 5, 0, 0, 0], // tower_octet_string + padding
        &[0; 20],                  // entry_handle
        &[4, 0, 0, 0],             // max_towers
    ]
    .concat();
    assert_eq!(req.to_stub(LE).unwrap(), stub);
    assert_eq!(EptMapRequest::from_stub(&stub, LE, LIM).unwrap(), req);
    #[rustfmt::skip]
    let stub_be: Vec<u8> = [
        &[0u8, 0, 0, 0][..],
        &[0x00, 0x02, 0x00, 0x00],
        &[0, 0, 0, 5], &[0, 0, 0, 5],
        &[1, 2, 3, 4, 5, 0, 0, 0],
        &[0; 20],
        &[0, 0, 0, 4],
    ]
    .concat();
    assert_eq!(req.to_stub(BE).unwrap(), stub_be);
    assert_eq!(EptMapRequest::from_stub(&stub_be, BE, LIM).unwrap(), req);

    let resp = EptMapResponse {
        entry_handle: handle(),
        num_towers: 2,
        towers: vec![Unique::new(Twr::new(vec![9; 3])), Unique::new(tower)],
        status: 0,
    };
    #[rustfmt::skip]
    let out: Vec<u8> = [
        &HANDLE_LE[..],            // entry_handle
        &[2, 0, 0, 0],             // num_towers
        &[4, 0, 0, 0],             // towers: max_count (size_is max_towers)
        &[0, 0, 0, 0],             // towers: offset
        &[2, 0, 0, 0],             // towers: actual_count (length_is num_towers)
        &[0x00, 0x00, 0x02, 0x00], // towers[0]: referent id
        &[0x04, 0x00, 0x02, 0x00], // towers[1]: referent id
        &[3, 0, 0, 0, 3, 0, 0, 0], // *towers[0]: max_count, tower_length
        &[9, 9, 9, 0],             // octets + padding
        &[5, 0, 0, 0, 5, 0, 0, 0], // *towers[1]
        &[1, 2, 3, 4, 5, 0, 0, 0], // octets + padding
        &[0, 0, 0, 0],             // status
    ]
    .concat();
    assert_eq!(resp.to_stub(&req, LE).unwrap(), out);
    assert_eq!(
        EptMapResponse::from_stub(&out, LE, LIM, &req).unwrap(),
        resp
    );
    // trailing bytes are tolerated
    let mut padded = out.clone();
    padded.extend_from_slice(&[0xee; 4]);
    assert_eq!(
        EptMapResponse::from_stub(&padded, LE, LIM, &req).unwrap(),
        resp
    );
    // a truncated tower names its path
    let e = EptMapResponse::from_stub(&out[..45], LE, LIM, &req).unwrap_err();
    assert_eq!(e.path(), "EptMapResponse.towers[0].tower_octet_string");
    // a huge tower length is refused before allocating
    let mut huge = stub.clone();
    huge[8..12].copy_from_slice(&[0xff, 0xff, 0xff, 0x0f]);
    let e = EptMapRequest::from_stub(&huge, LE, LIM).unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::CountLimit { .. }), "{e}");
    assert_eq!(e.path(), "EptMapRequest.map_tower.tower_octet_string");
}

#[test]
fn other_ept_operations() {
    let req = EptInsertRequest {
        num_ents: 1,
        entries: vec![EptEntry::default()],
        replace: 1,
    };
    #[rustfmt::skip]
    let stub: Vec<u8> = [
        &[1u8, 0, 0, 0][..], // num_ents
        &[1, 0, 0, 0],       // entries: max_count
        &[0; 16],            // entries[0].object
        &[0, 0, 0, 0],       // tower: null
        &[0, 0, 0, 0],       // annotation: offset
        &[1, 0, 0, 0],       // actual_count
        &[0, 0, 0, 0],       // "\0" + padding
        &[1, 0, 0, 0],       // replace
    ]
    .concat();
    assert_eq!(req.to_stub(LE).unwrap(), stub);
    assert_eq!(EptInsertRequest::from_stub(&stub, LE, LIM).unwrap(), req);
    let too_long = EptEntry {
        annotation: "x".repeat(64),
        ..EptEntry::default()
    };
    let bad = EptDeleteRequest {
        num_ents: 1,
        entries: vec![too_long],
    };
    assert_eq!(bad.to_stub(LE), Err(EncodeError::TooLong("annotation")));

    let resp = EptInqObjectResponse {
        ept_object: Uuid::nil(),
        status: status::EPT_S_CANT_PERFORM_OP,
    };
    let out = resp.to_stub(&EptInqObjectRequest {}, LE).unwrap();
    assert_eq!(&out[16..], &[0xcd, 0xa0, 0xc9, 0x16]);
    assert!(EptInqObjectRequest {}.to_stub(LE).unwrap().is_empty());

    let req = EptMgmtDeleteRequest {
        object_speced: 0,
        object: Unique::null(),
        tower: Unique::new(Twr::new(vec![7])),
    };
    assert_eq!(
        req.to_stub(LE).unwrap(),
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7]
    );
}

#[test]
fn mgmt_operations() {
    let resp = InqIfIdsResponse {
        if_id_vector: Unique::new(RpcIfIdVector {
            count: 2,
            if_id: vec![
                Unique::new(RpcIfId {
                    uuid: Uuid::nil(),
                    vers_major: 3,
                    vers_minor: 0,
                }),
                Unique::null(),
            ],
        }),
        status: 0,
    };
    #[rustfmt::skip]
    let out: Vec<u8> = [
        &[0x00u8, 0x00, 0x02, 0x00][..], // *if_id_vector: referent id
        &[2, 0, 0, 0],             // if_id: max_count (hoisted)
        &[2, 0, 0, 0],             // count
        &[0x04, 0x00, 0x02, 0x00], // if_id[0]: referent id
        &[0, 0, 0, 0],             // if_id[1]: null
        &[0; 16],                  // *if_id[0].uuid
        &[3, 0, 0, 0],             // vers_major, vers_minor
        &[0, 0, 0, 0],             // status
    ]
    .concat();
    assert_eq!(resp.to_stub(&InqIfIdsRequest {}, LE).unwrap(), out);
    assert_eq!(
        InqIfIdsResponse::from_stub(&out, LE, LIM, &InqIfIdsRequest {}).unwrap(),
        resp
    );

    let req = InqStatsRequest { count: 4 };
    let resp = InqStatsResponse {
        count: 2,
        statistics: vec![10, 20],
        status: 0,
    };
    #[rustfmt::skip]
    let out = [
        2, 0, 0, 0,  // *count (out)
        2, 0, 0, 0,  // statistics: max_count (size_is *count)
        10, 0, 0, 0, 20, 0, 0, 0,
        0, 0, 0, 0,  // status
    ];
    assert_eq!(resp.to_stub(&req, LE).unwrap(), out);
    assert_eq!(
        InqStatsResponse::from_stub(&out, LE, LIM, &req).unwrap(),
        resp
    );

    let req = InqPrincNameRequest {
        authn_proto: 9,
        princ_name_size: 32,
    };
    assert_eq!(req.to_stub(LE).unwrap(), [9, 0, 0, 0, 32, 0, 0, 0]);
    let resp = InqPrincNameResponse {
        princ_name: "host".into(),
        status: 0,
    };
    #[rustfmt::skip]
    let out = [
        32, 0, 0, 0, // princ_name: max_count = princ_name_size
        0, 0, 0, 0,  // offset
        5, 0, 0, 0,  // actual_count
        b'h', b'o', b's', b't', 0, 0, 0, 0, // "host\0" + padding
        0, 0, 0, 0,  // status
    ];
    assert_eq!(resp.to_stub(&req, LE).unwrap(), out);
    assert_eq!(
        InqPrincNameResponse::from_stub(&out, LE, LIM, &req).unwrap(),
        resp
    );
}
