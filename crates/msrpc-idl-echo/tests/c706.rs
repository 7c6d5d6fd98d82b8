//! C706's endpoint mapper and management interfaces compiled from IDL (`ep.idl`, `mgmt.idl`,
//! our own transcription of appendices O and Q) against msrpc-epm's hand-written
//! `#[interface]` ones, which Impacket, Samba and Windows captures check: for the same values,
//! every request and response stub is byte for byte the same, in NDR20 and NDR64, both byte
//! orders, and the generated request types read the hand-written stubs back to their values. One codegen, two front
//! ends: a difference would be a fault of the IDL front end (or of one of the transcriptions).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use msrpc_epm as hand;
use msrpc_idl_echo::{ept as gen, mgmt as gmgmt};
use msrpc_ndr::{ContextHandle, DataRep, DecodeLimits, Full, TransferSyntax, Unique, Uuid};
use msrpc_proto::dispatch::Interface;

/// Decodes `stub` as a request of `like`'s type (the generated one).
fn decode_like<T: Decodable>(like: &T, stub: &[u8], drep: DataRep, syntax: TransferSyntax) -> T {
    let _ = like;
    T::from_stub_in(stub, drep, syntax).unwrap()
}

/// The generated request types' `from_stub_in`, for `decode_like`.
trait Decodable: Sized {
    fn from_stub_in(
        stub: &[u8],
        drep: DataRep,
        syntax: TransferSyntax,
    ) -> msrpc_ndr::DecodeResult<Self>;
}

macro_rules! decodable {
    ($($t:ty),*) => {$(
        impl Decodable for $t {
            fn from_stub_in(stub: &[u8], drep: DataRep, syntax: TransferSyntax) -> msrpc_ndr::DecodeResult<Self> {
                <$t>::from_stub_in(stub, drep, syntax, DecodeLimits::default())
            }
        }
    )*};
}

decodable!(
    gen::EptInsertRequest,
    gen::EptDeleteRequest,
    gen::EptLookupRequest,
    gen::EptMapRequest,
    gen::EptLookupHandleFreeRequest,
    gen::EptInqObjectRequest,
    gen::EptMgmtDeleteRequest,
    gmgmt::RpcMgmtInqIfIdsRequest,
    gmgmt::RpcMgmtInqStatsRequest,
    gmgmt::RpcMgmtIsServerListeningRequest,
    gmgmt::RpcMgmtStopServerListeningRequest,
    gmgmt::RpcMgmtInqPrincNameRequest
);

const DREPS: [DataRep; 2] = [DataRep::LITTLE_ENDIAN, DataRep::BIG_ENDIAN];

/// Both syntaxes' stubs of a generated and a hand-written request and response are equal.
macro_rules! same {
    ($greq:expr, $hreq:expr, $gresp:expr, $hresp:expr) => {{
        let (greq, hreq, gresp, hresp) = ($greq, $hreq, $gresp, $hresp);
        for drep in DREPS {
            let a = greq.to_stub(drep).unwrap();
            let b = hreq.to_stub(drep).unwrap();
            assert_eq!(a, b, "request {greq:?} in {drep:?}");
            let a = gresp.to_stub(&greq, drep).unwrap();
            let b = hresp.to_stub(&hreq, drep).unwrap();
            assert_eq!(a, b, "response {gresp:?} in {drep:?}");
            for syntax in [TransferSyntax::Ndr20, TransferSyntax::Ndr64] {
                let a = greq.to_stub_in(drep, syntax).unwrap();
                let b = hreq.to_stub_in(drep, syntax).unwrap();
                assert_eq!(a, b, "request {greq:?} in {syntax:?} {drep:?}");
                // Each front end's request type reads the other's bytes back to its values.
                let back = greq.clone();
                assert_eq!(
                    back,
                    std::convert::identity(decode_like(&greq, &b, drep, syntax)),
                    "the generated type decoding the hand-written stub"
                );
                let a = gresp.to_stub_in(&greq, drep, syntax).unwrap();
                let b = hresp.to_stub_in(&hreq, drep, syntax).unwrap();
                assert_eq!(a, b, "response {gresp:?} in {syntax:?} {drep:?}");
            }
        }
    }};
}

fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(0x1111_2222_3333_4444_5555_0000_0000_0000 | n)
}

fn tower(n: u8) -> Vec<u8> {
    (0..(23 + n)).map(|i| i.wrapping_mul(n)).collect()
}

fn gen_entry(n: u8, with_tower: bool, note: &str) -> gen::EptEntryT {
    gen::EptEntryT {
        object: uuid(n.into()),
        tower: if with_tower {
            Full::new(gen::TwrT {
                tower_length: tower(n).len() as u32,
                tower_octet_string: tower(n),
            })
        } else {
            Full::default()
        },
        annotation: note.into(),
    }
}

fn hand_entry(n: u8, with_tower: bool, note: &str) -> hand::EptEntry {
    hand::EptEntry {
        object: uuid(n.into()),
        tower: if with_tower {
            Unique::new(hand::Twr::new(tower(n)))
        } else {
            Unique::default()
        },
        annotation: note.into(),
    }
}

const HANDLE: ContextHandle = ContextHandle {
    attributes: 0,
    uuid: Uuid::from_u128(0x0bad_cafe_0000_0000_0000_0000_0000_0007),
};

#[test]
fn interface_identities_match() {
    assert_eq!(gen::EptInterface::SYNTAX, hand::EptInterface::SYNTAX);
    // C706 has seven operations; msrpc-epm adds Windows' ept_map_auth as opnum 7.
    assert_eq!(gen::EptInterface::OPERATIONS.len(), 7);
    assert_eq!(
        &hand::EptInterface::OPERATIONS[..7],
        gen::EptInterface::OPERATIONS
    );
    assert_eq!(
        gmgmt::MgmtInterface::SYNTAX,
        hand::mgmt::MgmtInterface::SYNTAX
    );
    assert_eq!(
        gmgmt::MgmtInterface::OPERATIONS.len(),
        hand::mgmt::MgmtInterface::OPERATIONS.len()
    );
}

#[test]
fn ept_stubs_are_byte_identical() {
    let notes = ["Impl friendly name", "", &"x".repeat(63)];
    same!(
        gen::EptInsertRequest {
            num_ents: 3,
            entries: vec![
                gen_entry(1, true, notes[0]),
                gen_entry(2, false, notes[1]),
                gen_entry(3, true, notes[2]),
            ],
            replace: 1,
        },
        hand::EptInsertRequest {
            num_ents: 3,
            entries: vec![
                hand_entry(1, true, notes[0]),
                hand_entry(2, false, notes[1]),
                hand_entry(3, true, notes[2]),
            ],
            replace: 1,
        },
        gen::EptInsertResponse { status: 0 },
        hand::EptInsertResponse { status: 0 }
    );
    same!(
        gen::EptDeleteRequest {
            num_ents: 1,
            entries: vec![gen_entry(4, true, "gone")],
        },
        hand::EptDeleteRequest {
            num_ents: 1,
            entries: vec![hand_entry(4, true, "gone")],
        },
        gen::EptDeleteResponse {
            status: 0x16c9_a0d6
        },
        hand::EptDeleteResponse {
            status: 0x16c9_a0d6
        }
    );
    let if_id = |n| (uuid(n), 3u16, 1u16);
    for (object, iface) in [(Some(uuid(9)), Some(if_id(8))), (None, None)] {
        same!(
            gen::EptLookupRequest {
                inquiry_type: 3,
                object,
                interface_id: iface.map(|(uuid, vers_major, vers_minor)| gen::RpcIfIdT {
                    uuid,
                    vers_major,
                    vers_minor
                }),
                vers_option: 1,
                entry_handle: HANDLE,
                max_ents: 500,
            },
            hand::EptLookupRequest {
                inquiry_type: 3,
                object: object.map(Unique::new).unwrap_or_default(),
                interface_id: iface
                    .map(|(uuid, vers_major, vers_minor)| Unique::new(hand::RpcIfId {
                        uuid,
                        vers_major,
                        vers_minor
                    }))
                    .unwrap_or_default(),
                vers_option: 1,
                entry_handle: HANDLE,
                max_ents: 500,
            },
            gen::EptLookupResponse {
                entry_handle: HANDLE,
                num_ents: 2,
                entries: vec![gen_entry(5, true, "a"), gen_entry(6, false, "")],
                status: 0,
            },
            hand::EptLookupResponse {
                entry_handle: HANDLE,
                num_ents: 2,
                entries: vec![hand_entry(5, true, "a"), hand_entry(6, false, "")],
                status: 0,
            }
        );
    }
    same!(
        gen::EptMapRequest {
            object: None,
            map_tower: Some(gen::TwrT {
                tower_length: tower(7).len() as u32,
                tower_octet_string: tower(7),
            }),
            entry_handle: ContextHandle::NULL,
            max_towers: 4,
        },
        hand::EptMapRequest {
            object: Unique::default(),
            map_tower: Unique::new(hand::Twr::new(tower(7))),
            entry_handle: ContextHandle::NULL,
            max_towers: 4,
        },
        gen::EptMapResponse {
            entry_handle: ContextHandle::NULL,
            num_towers: 2,
            towers: (10..12)
                .map(|n| Full::new(gen::TwrT {
                    tower_length: tower(n).len() as u32,
                    tower_octet_string: tower(n),
                }))
                .collect(),
            status: 0,
        },
        hand::EptMapResponse {
            entry_handle: ContextHandle::NULL,
            num_towers: 2,
            towers: (10..12)
                .map(|n| Unique::new(hand::Twr::new(tower(n))))
                .collect(),
            status: 0,
        }
    );
    same!(
        gen::EptLookupHandleFreeRequest {
            entry_handle: HANDLE
        },
        hand::EptLookupHandleFreeRequest {
            entry_handle: HANDLE
        },
        gen::EptLookupHandleFreeResponse {
            entry_handle: ContextHandle::NULL,
            status: 0,
        },
        hand::EptLookupHandleFreeResponse {
            entry_handle: ContextHandle::NULL,
            status: 0,
        }
    );
    same!(
        gen::EptInqObjectRequest {},
        hand::EptInqObjectRequest {},
        gen::EptInqObjectResponse {
            ept_object: uuid(77),
            status: 0,
        },
        hand::EptInqObjectResponse {
            ept_object: uuid(77),
            status: 0,
        }
    );
    same!(
        gen::EptMgmtDeleteRequest {
            object_speced: 1,
            object: Some(uuid(3)),
            tower: None,
        },
        hand::EptMgmtDeleteRequest {
            object_speced: 1,
            object: Unique::new(uuid(3)),
            tower: Unique::default(),
        },
        gen::EptMgmtDeleteResponse { status: 5 },
        hand::EptMgmtDeleteResponse { status: 5 }
    );
}

#[test]
fn mgmt_stubs_are_byte_identical() {
    let ids = [(uuid(1), 3, 0), (uuid(2), 1, 2)];
    same!(
        gmgmt::RpcMgmtInqIfIdsRequest {},
        hand::mgmt::InqIfIdsRequest {},
        gmgmt::RpcMgmtInqIfIdsResponse {
            if_id_vector: Unique::new(gmgmt::RpcIfIdVectorT {
                count: 2,
                if_id: ids
                    .iter()
                    .map(
                        |&(uuid, vers_major, vers_minor)| Unique::new(gmgmt::RpcIfIdT {
                            uuid,
                            vers_major,
                            vers_minor
                        })
                    )
                    .collect(),
            }),
            status: 0,
        },
        hand::mgmt::InqIfIdsResponse {
            if_id_vector: Unique::new(hand::RpcIfIdVector {
                count: 2,
                if_id: ids
                    .iter()
                    .map(
                        |&(uuid, vers_major, vers_minor)| Unique::new(hand::RpcIfId {
                            uuid,
                            vers_major,
                            vers_minor
                        })
                    )
                    .collect(),
            }),
            status: 0,
        }
    );
    same!(
        gmgmt::RpcMgmtInqStatsRequest { count: 4 },
        hand::mgmt::InqStatsRequest { count: 4 },
        gmgmt::RpcMgmtInqStatsResponse {
            count: 4,
            statistics: vec![7, 70, 700, 7000],
            status: 0,
        },
        hand::mgmt::InqStatsResponse {
            count: 4,
            statistics: vec![7, 70, 700, 7000],
            status: 0,
        }
    );
    same!(
        gmgmt::RpcMgmtIsServerListeningRequest {},
        hand::mgmt::IsServerListeningRequest {},
        gmgmt::RpcMgmtIsServerListeningResponse {
            status: 0,
            result: 1
        },
        hand::mgmt::IsServerListeningResponse {
            status: 0,
            result: 1
        }
    );
    same!(
        gmgmt::RpcMgmtStopServerListeningRequest {},
        hand::mgmt::StopServerListeningRequest {},
        gmgmt::RpcMgmtStopServerListeningResponse { status: 5 },
        hand::mgmt::StopServerListeningResponse { status: 5 }
    );
    same!(
        gmgmt::RpcMgmtInqPrincNameRequest {
            authn_proto: 10,
            princ_name_size: 64,
        },
        hand::mgmt::InqPrincNameRequest {
            authn_proto: 10,
            princ_name_size: 64,
        },
        gmgmt::RpcMgmtInqPrincNameResponse {
            princ_name: "host/msrpc.example".into(),
            status: 0,
        },
        hand::mgmt::InqPrincNameResponse {
            princ_name: "host/msrpc.example".into(),
            status: 0,
        }
    );
}
