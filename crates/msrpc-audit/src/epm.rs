//! Endpoint mapper calls as audit records: an `ept_lookup` or `ept_map` call's request and
//! response stubs, decoded with `msrpc-epm`'s generated types, become
//! [`EventKind::EpmLookup`] / [`EventKind::EpmMap`] (what was asked, how many entries came
//! back).
//!
//! Stubs are read in the transfer syntax of the call's presentation context: NDR20, or NDR64,
//! which 64-bit Windows accepts for its endpoint mapper (and msrpcd prefers). A tower's
//! `tower_octet_string` is a byte layout that does not depend on the syntax (MS-RPCE 2.2.1.1.7;
//! its floors name NDR20 whatever the EPM was called in), only the `twr_t` holding it does.

use msrpc_epm::{
    EptLookupRequest, EptLookupResponse, EptMapAuthRequest, EptMapAuthResponse, EptMapRequest,
    EptMapResponse, Tower, Twr, RPC_C_EP_ALL_ELTS, RPC_C_EP_MATCH_BY_BOTH, RPC_C_EP_MATCH_BY_IF,
    RPC_C_EP_MATCH_BY_OBJ, RPC_C_VERS_EXACT,
};
use msrpc_ndr::{DataRep, DecodeLimits, TransferSyntax, Unique};

use crate::names::interface_name;
use crate::EventKind;

/// Decode limits for EPM stubs (a lookup page holds at most a few hundred entries).
const LIMITS: DecodeLimits = DecodeLimits {
    max_depth: 16,
    max_elements: 1 << 16,
    max_alloc_bytes: 4 << 20,
};

/// An interpreted endpoint mapper call: the audit event and the towers the answer carried
/// (the analyzer learns dynamic ports from them).
#[derive(Clone, Debug, PartialEq)]
pub struct Interpretation {
    /// [`EventKind::EpmLookup`] or [`EventKind::EpmMap`], with `call_id` 0 (the caller sets it).
    pub event: EventKind,
    /// The towers in the answer's entries (lookup) or tower list (map), decoded; towers that
    /// do not decode are left out.
    pub towers: Vec<Tower>,
}

/// Interprets an endpoint mapper call (interface `ept`) from its request and response stubs
/// in data representation `drep` and transfer syntax `syntax`: opnum 2 (`ept_lookup`) gives [`EventKind::EpmLookup`],
/// opnums 3 and 7 (`ept_map`, `ept_map_auth`) give [`EventKind::EpmMap`]. Other opnums, and
/// stubs that do not decode (a faulted call has no response stub), give `None`.
///
/// The returned event's `call_id` is 0: the caller, which knows the call, sets it.
pub fn interpret(
    request_stub: &[u8],
    response_stub: &[u8],
    drep: DataRep,
    syntax: TransferSyntax,
    opnum: u16,
) -> Option<EventKind> {
    interpret_call(request_stub, drep, response_stub, drep, syntax, opnum).map(|i| i.event)
}

/// [`interpret`] with each stub in its own data representation (a capture shows both; both
/// are in the one transfer syntax of the call's context), also returning the towers answered.
pub fn interpret_call(
    request_stub: &[u8],
    request_drep: DataRep,
    response_stub: &[u8],
    response_drep: DataRep,
    syntax: TransferSyntax,
    opnum: u16,
) -> Option<Interpretation> {
    let (q, r, ts) = (request_drep, response_drep, syntax);
    match opnum {
        2 => {
            let req = EptLookupRequest::from_stub_in(request_stub, q, ts, LIMITS).ok()?;
            let resp = EptLookupResponse::from_stub_in(response_stub, r, ts, LIMITS, &req).ok()?;
            let answer = Answer {
                count: resp.num_ents,
                status: resp.status,
                end: resp.entry_handle.is_null(),
            };
            Some(Interpretation {
                event: lookup_event(&req, answer),
                towers: resp
                    .entries
                    .iter()
                    .filter_map(|e| decode_tower(&e.tower))
                    .collect(),
            })
        }
        3 | 7 => {
            // ept_map and ept_map_auth: the same answer; the map tower is what was asked.
            let (map_tower, num_towers, status, towers) = if opnum == 3 {
                let req = EptMapRequest::from_stub_in(request_stub, q, ts, LIMITS).ok()?;
                let resp = EptMapResponse::from_stub_in(response_stub, r, ts, LIMITS, &req).ok()?;
                (req.map_tower, resp.num_towers, resp.status, resp.towers)
            } else {
                let req = EptMapAuthRequest::from_stub_in(request_stub, q, ts, LIMITS).ok()?;
                let resp =
                    EptMapAuthResponse::from_stub_in(response_stub, r, ts, LIMITS, &req).ok()?;
                (req.map_tower, resp.num_towers, resp.status, resp.towers)
            };
            Some(Interpretation {
                event: map_event(&map_tower, num_towers, status),
                towers: towers.iter().filter_map(decode_tower).collect(),
            })
        }
        _ => None,
    }
}

/// What an endpoint mapper answer says without its entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    /// `ept_lookup`'s `num_ents`, `ept_map`'s and `ept_map_auth`'s `num_towers`.
    pub count: u32,
    /// The `ept_*` status.
    pub status: u32,
    /// The entry handle returned is null: the walk ended.
    pub end: bool,
}

/// The count, status and end of an endpoint mapper answer (the count: the `unsigned32` after
/// the 20-byte entry handle; the status: the `unsigned32` that ends the stub; the end: the
/// returned handle is all zero), read without decoding the entries. For answers known to be
/// well formed: a server auditing its own (decoding every entry and tower of a full lookup
/// cost msrpcd several times the call itself). The same offsets hold in NDR20 and NDR64: a
/// context handle is 20 bytes aligned to 4 in both, the count an `unsigned32` right after it,
/// and the status the last parameter (NDR64 pads a stub's parameters, not its end).
pub fn answer_counts(response_stub: &[u8], drep: DataRep) -> Option<Answer> {
    let word = |at: usize| -> Option<u32> {
        let b: [u8; 4] = response_stub.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(match drep.endian() {
            msrpc_ndr::Endian::Little => u32::from_le_bytes(b),
            msrpc_ndr::Endian::Big => u32::from_be_bytes(b),
        })
    };
    if response_stub.len() < 28 {
        return None;
    }
    Some(Answer {
        count: word(20)?,
        status: word(response_stub.len() - 4)?,
        end: response_stub.get(..20)?.iter().all(|&b| b == 0),
    })
}

/// [`interpret`] from the request stub (in `drep` and `syntax`) and the answer's counts
/// ([`answer_counts`]), without the response stub.
pub fn interpret_answer(
    request_stub: &[u8],
    drep: DataRep,
    syntax: TransferSyntax,
    opnum: u16,
    answer: Answer,
) -> Option<EventKind> {
    let Answer { count, status, .. } = answer;
    match opnum {
        2 => {
            let req = EptLookupRequest::from_stub_in(request_stub, drep, syntax, LIMITS).ok()?;
            Some(lookup_event(&req, answer))
        }
        3 => {
            let req = EptMapRequest::from_stub_in(request_stub, drep, syntax, LIMITS).ok()?;
            Some(map_event(&req.map_tower, count, status))
        }
        7 => {
            let req = EptMapAuthRequest::from_stub_in(request_stub, drep, syntax, LIMITS).ok()?;
            Some(map_event(&req.map_tower, count, status))
        }
        _ => None,
    }
}

fn decode_tower(t: &Unique<Twr>) -> Option<Tower> {
    t.get().and_then(|t| Tower::from_twr(t).ok())
}

fn lookup_event(req: &EptLookupRequest, answer: Answer) -> EventKind {
    let inquiry = match req.inquiry_type {
        RPC_C_EP_ALL_ELTS => "all".to_string(),
        RPC_C_EP_MATCH_BY_IF if req.vers_option == RPC_C_VERS_EXACT => {
            "interface_exact".to_string()
        }
        RPC_C_EP_MATCH_BY_IF => "interface".to_string(),
        RPC_C_EP_MATCH_BY_OBJ => "object".to_string(),
        RPC_C_EP_MATCH_BY_BOTH => "both".to_string(),
        n => n.to_string(),
    };
    let interface = match req.inquiry_type {
        RPC_C_EP_MATCH_BY_IF | RPC_C_EP_MATCH_BY_BOTH => {
            req.interface_id.get().map(|i| i.uuid.to_string())
        }
        _ => None,
    };
    EventKind::EpmLookup {
        call_id: 0,
        inquiry,
        interface,
        entries: answer.count,
        status: answer.status,
        resumed: !req.entry_handle.is_null(),
        max_ents: req.max_ents,
        end: answer.end,
    }
}

fn map_event(map_tower: &Unique<Twr>, entries: u32, status: u32) -> EventKind {
    let tower = decode_tower(map_tower);
    let syntax = tower.as_ref().and_then(Tower::interface);
    EventKind::EpmMap {
        call_id: 0,
        interface: syntax.map(|s| s.uuid.to_string()),
        endpoint: syntax
            .and_then(|s| interface_name(&s.uuid))
            .map(str::to_string),
        protocol: tower
            .as_ref()
            .and_then(Tower::protocol_sequence)
            .map(str::to_string),
        entries,
        status,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use msrpc_epm::{EptEntry, RpcIfId, Twr};
    use msrpc_ndr::{ContextHandle, Unique, Uuid};
    use msrpc_proto::pdu::SyntaxId;

    fn echo() -> SyntaxId {
        SyntaxId::new(
            Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182),
            1,
            0,
        )
    }

    fn tower() -> Twr {
        Tower::ncacn_ip_tcp(
            echo(),
            SyntaxId::new(
                Uuid::from_u128(0x8a885d04_1ceb_11c9_9fe8_08002b104860),
                2,
                0,
            ),
            "127.0.0.1".parse().unwrap(),
            5000,
        )
        .to_twr()
        .unwrap()
    }

    /// Both byte orders in both transfer syntaxes.
    fn encodings() -> [(DataRep, TransferSyntax); 4] {
        [
            (DataRep::LITTLE_ENDIAN, TransferSyntax::Ndr20),
            (DataRep::BIG_ENDIAN, TransferSyntax::Ndr20),
            (DataRep::LITTLE_ENDIAN, TransferSyntax::Ndr64),
            (DataRep::BIG_ENDIAN, TransferSyntax::Ndr64),
        ]
    }

    #[test]
    fn lookup_and_map_decode() {
        for (drep, ts) in encodings() {
            let req = EptLookupRequest {
                inquiry_type: RPC_C_EP_MATCH_BY_IF,
                object: Unique::default(),
                interface_id: Unique::new(RpcIfId {
                    uuid: echo().uuid,
                    vers_major: 1,
                    vers_minor: 0,
                }),
                vers_option: 1,
                entry_handle: ContextHandle::default(),
                max_ents: 10,
            };
            let resp = EptLookupResponse {
                entry_handle: ContextHandle::default(),
                num_ents: 1,
                entries: vec![EptEntry {
                    object: Uuid::nil(),
                    tower: Unique::new(tower()),
                    annotation: "x".into(),
                }],
                status: 0,
            };
            let ev = interpret(
                &req.to_stub_in(drep, ts).unwrap(),
                &resp.to_stub_in(&req, drep, ts).unwrap(),
                drep,
                ts,
                2,
            )
            .unwrap();
            assert_eq!(
                ev,
                EventKind::EpmLookup {
                    call_id: 0,
                    inquiry: "interface".into(),
                    interface: Some("60a15ec5-4de8-11d7-a637-005056a20182".into()),
                    entries: 1,
                    status: 0,
                    resumed: false,
                    max_ents: 10,
                    end: true,
                }
            );
            let req = EptMapRequest {
                object: Unique::default(),
                map_tower: Unique::new(tower()),
                entry_handle: ContextHandle::default(),
                max_towers: 4,
            };
            let resp = EptMapResponse {
                entry_handle: ContextHandle::default(),
                num_towers: 1,
                towers: vec![Unique::new(tower())],
                status: 0,
            };
            let ev = interpret(
                &req.to_stub_in(drep, ts).unwrap(),
                &resp.to_stub_in(&req, drep, ts).unwrap(),
                drep,
                ts,
                3,
            )
            .unwrap();
            match ev {
                EventKind::EpmMap {
                    interface,
                    endpoint,
                    protocol,
                    entries,
                    ..
                } => {
                    assert_eq!(
                        interface.as_deref(),
                        Some("60a15ec5-4de8-11d7-a637-005056a20182")
                    );
                    assert_eq!(endpoint.as_deref(), Some("rpcecho"));
                    assert_eq!(protocol.as_deref(), Some("ncacn_ip_tcp"));
                    assert_eq!(entries, 1);
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            interpret(
                &[1, 2, 3],
                &[],
                DataRep::LITTLE_ENDIAN,
                TransferSyntax::Ndr20,
                2
            ),
            None
        );
    }

    #[test]
    fn answer_counts_give_what_the_full_decode_gives() {
        for (drep, ts) in encodings() {
            for (n, status) in [(0u32, 0x16c9a0d6u32), (1, 0), (3, 0), (7, 0)] {
                let req = EptLookupRequest {
                    inquiry_type: RPC_C_EP_ALL_ELTS,
                    object: Unique::default(),
                    interface_id: Unique::default(),
                    vers_option: 1,
                    entry_handle: ContextHandle::default(),
                    max_ents: 10,
                };
                let resp = EptLookupResponse {
                    entry_handle: ContextHandle::default(),
                    num_ents: n,
                    entries: (0..n)
                        .map(|i| EptEntry {
                            object: Uuid::from_u128(u128::from(i)),
                            tower: Unique::new(tower()),
                            annotation: "annotation of odd length".into(),
                        })
                        .collect(),
                    status,
                };
                let (q, r) = (
                    req.to_stub_in(drep, ts).unwrap(),
                    resp.to_stub_in(&req, drep, ts).unwrap(),
                );
                let counts = answer_counts(&r, drep).unwrap();
                assert_eq!((counts.count, counts.status, counts.end), (n, status, true));
                assert_eq!(
                    interpret_answer(&q, drep, ts, 2, counts),
                    interpret(&q, &r, drep, ts, 2)
                );
                let req = EptMapRequest {
                    object: Unique::default(),
                    map_tower: Unique::new(tower()),
                    entry_handle: ContextHandle::default(),
                    max_towers: 8,
                };
                let resp = EptMapResponse {
                    entry_handle: ContextHandle::default(),
                    num_towers: n,
                    towers: (0..n).map(|_| Unique::new(tower())).collect(),
                    status,
                };
                let (q, r) = (
                    req.to_stub_in(drep, ts).unwrap(),
                    resp.to_stub_in(&req, drep, ts).unwrap(),
                );
                let counts = answer_counts(&r, drep).unwrap();
                assert_eq!((counts.count, counts.status), (n, status));
                assert_eq!(
                    interpret_answer(&q, drep, ts, 3, counts),
                    interpret(&q, &r, drep, ts, 3)
                );
            }
        }
        assert_eq!(answer_counts(&[0; 27], DataRep::LITTLE_ENDIAN), None);
        assert_eq!(
            interpret(&[], &[], DataRep::LITTLE_ENDIAN, TransferSyntax::Ndr64, 5),
            None
        );
    }

    /// A fresh full walk in NDR64 (what `msrpc dump` sends msrpcd, whose EPM prefers NDR64):
    /// read in NDR64 it is a fresh walk of `max_ents` 500; read as NDR20 (as the audit did)
    /// the request's 8-byte pointers shift every field after the first.
    #[test]
    fn ndr64_lookup_is_not_read_as_ndr20() {
        let req = EptLookupRequest {
            inquiry_type: RPC_C_EP_ALL_ELTS,
            object: Unique::default(),
            interface_id: Unique::default(),
            vers_option: 1,
            entry_handle: ContextHandle::default(),
            max_ents: 500,
        };
        let q = req
            .to_stub_in(DataRep::LITTLE_ENDIAN, TransferSyntax::Ndr64)
            .unwrap();
        let answer = Answer {
            count: 3,
            status: 0,
            end: true,
        };
        let want = EventKind::EpmLookup {
            call_id: 0,
            inquiry: "all".into(),
            interface: None,
            entries: 3,
            status: 0,
            resumed: false,
            max_ents: 500,
            end: true,
        };
        assert_eq!(
            interpret_answer(&q, DataRep::LITTLE_ENDIAN, TransferSyntax::Ndr64, 2, answer),
            Some(want.clone())
        );
        assert_ne!(
            interpret_answer(&q, DataRep::LITTLE_ENDIAN, TransferSyntax::Ndr20, 2, answer),
            Some(want)
        );
    }
}
