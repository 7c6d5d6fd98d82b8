//! The audit's endpoint-mapper interpretation (crates/msrpc-audit `epm::interpret`) on
//! arbitrary request and response stubs: what msrpcd's audit pipeline and the analyzer do with
//! a peer's `ept_lookup` / `ept_map` stubs.
//!
//! Input: the `ndr_epm` response-mode layout, `[op, drep, len u16 LE, request (len bytes),
//! response...]`; op bits 0-4 = opnum, bit 7 = NDR64 (else NDR20, as in `ndr_epm`); drep even
//! = little-endian, odd = big-endian.
//!
//! Invariants: no panic; only opnums 2, 3 and 7 give an event, and only when both stubs decode
//! with the generated decoders (within the same limits); the event serializes to JSON. The
//! light path msrpcd's live audit takes (`answer_counts` then `interpret_answer`) does not
//! panic either, and gives an event of the same kind whenever the full decode does (the
//! status may differ: the light path reads the stub's last word, the decoders accept
//! trailing bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use msrpc_audit::{ConnId, Event, EventKind};
use msrpc_epm::{EptLookupRequest, EptMapRequest};
use msrpc_ndr::{DataRep, DecodeLimits, TransferSyntax};

fuzz_target!(|data: &[u8]| {
    let [op, d, l0, l1, rest @ ..] = data else { return };
    let opnum = u16::from(op & 0x1f);
    let drep = if d % 2 == 0 { DataRep::LITTLE_ENDIAN } else { DataRep::BIG_ENDIAN };
    let len = usize::from(u16::from_le_bytes([*l0, *l1])).min(rest.len());
    let (request, response) = rest.split_at(len);
    let syntax = if op & 0x80 == 0 { TransferSyntax::Ndr20 } else { TransferSyntax::Ndr64 };
    let got = msrpc_audit::epm::interpret(request, response, drep, syntax, opnum);
    let light = msrpc_audit::epm::answer_counts(response, drep)
        .and_then(|c| msrpc_audit::epm::interpret_answer(request, drep, syntax, opnum, c));
    if let Some(g) = &got {
        let same_kind = matches!(
            (g, &light),
            (EventKind::EpmLookup { .. }, Some(EventKind::EpmLookup { .. }))
                | (EventKind::EpmMap { .. }, Some(EventKind::EpmMap { .. }))
        );
        assert!(same_kind, "full {g:?}, light {light:?}");
    }
    let limits = DecodeLimits { max_depth: 16, max_elements: 1 << 16, max_alloc_bytes: 4 << 20 };
    match opnum {
        2 => {
            if got.is_some() {
                assert!(EptLookupRequest::from_stub_in(request, drep, syntax, limits).is_ok());
            }
            assert!(matches!(got, None | Some(EventKind::EpmLookup { .. })), "{got:?}");
        }
        3 | 7 => {
            if got.is_some() {
                assert!(EptMapRequest::from_stub_in(request, drep, syntax, limits).is_ok());
            }
            assert!(matches!(got, None | Some(EventKind::EpmMap { .. })), "{got:?}");
        }
        _ => assert!(got.is_none(), "opnum {opnum} gave {got:?}"),
    }
    if let Some(kind) = got {
        let conn = ConnId { uid: "Cfuzz".into(), orig_h: None, orig_p: None, resp_h: None, resp_p: Some(135) };
        let ev = Event { ts: 1.0, conn, kind };
        serde_json::to_string(&ev).expect("event serializes");
    }
});
