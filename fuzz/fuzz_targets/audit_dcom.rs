//! The audit's DCOM interpretation (crates/msrpc-audit `dcom::interpret_call`) on arbitrary
//! request and response stubs: what msrpcd's audit pipeline and the analyzer do with a peer's
//! activation, OXID resolver and IRemUnknown(2) stubs.
//!
//! Input: `[iface, opnum, flags, len u16 LE, request (len bytes), response...]`; iface 0 =
//! ISystemActivator, 1 = IRemoteActivation, 2 = IObjectExporter, 3 = IRemUnknown, 4 =
//! IRemUnknown2, anything else = the endpoint mapper (never interpreted); flags bit 0 = big-endian,
//! bit 1 = the response was seen, bit 2 = NDR64 (else NDR20).
//!
//! Invariants: no panic; only the interpreted interfaces give an event, of the kind their
//! interface makes (activation, resolver, IRemUnknown), carrying the call id given; the event
//! serializes to JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msrpc_audit::dcom::{CallFacts, IREM_UNKNOWN, IREM_UNKNOWN2};
use msrpc_audit::names::{IOBJECT_EXPORTER, IREMOTE_ACTIVATION, ISYSTEM_ACTIVATOR};
use msrpc_audit::{ConnId, Event, EventKind};
use msrpc_ndr::{DataRep, TransferSyntax, Uuid};

fuzz_target!(|data: &[u8]| {
    let [i, op, flags, l0, l1, rest @ ..] = data else { return };
    let iface = match i {
        0 => ISYSTEM_ACTIVATOR,
        1 => IREMOTE_ACTIVATION,
        2 => IOBJECT_EXPORTER,
        3 => IREM_UNKNOWN,
        4 => IREM_UNKNOWN2,
        _ => Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa),
    };
    let opnum = u16::from(*op);
    let drep = if flags & 1 == 0 { DataRep::LITTLE_ENDIAN } else { DataRep::BIG_ENDIAN };
    let len = usize::from(u16::from_le_bytes([*l0, *l1])).min(rest.len());
    let (request, response) = rest.split_at(len);
    let response = (flags & 2 != 0).then_some((response, drep));
    assert_eq!(msrpc_audit::dcom::interprets(&iface), *i <= 4);
    let facts = CallFacts { call_id: 77, auth_level: Some("connect".into()), user: None };
    let syntax = if flags & 4 == 0 { TransferSyntax::Ndr20 } else { TransferSyntax::Ndr64 };
    let Some(k) = msrpc_audit::dcom::interpret_call(&iface, opnum, request, drep, syntax, response, &facts)
    else {
        return;
    };
    let ok = match &k {
        EventKind::DcomActivation { call_id, .. } => {
            *call_id == 77 && (*i == 0 || *i == 1)
        }
        EventKind::DcomResolver { call_id, .. } => *call_id == 77 && *i == 2,
        EventKind::DcomRemUnknown { call_id, .. } => *call_id == 77 && (*i == 3 || *i == 4),
        _ => false,
    };
    assert!(ok, "unexpected event {k:?} for interface {i}");
    let ev = Event {
        ts: 1.0,
        conn: ConnId { uid: "C1".into(), orig_h: None, orig_p: None, resp_h: None, resp_p: None },
        kind: k,
    };
    serde_json::to_string(&ev).expect("event serializes");
});
