//! The audit's argument decoders (crates/msrpc-audit `args::extract`) on arbitrary request
//! stubs, and the technique library's engine on the `call` events that carry what they decode:
//! what msrpcd's audit pipeline and the analyzer do with a peer's spooler, EFSR, DFSNM, FSRVP,
//! SCMR, TSCH, Netlogon, DRSUAPI, BKRP, LSA, eventlog and winreg requests.
//!
//! Input: `[iface, opnum, flags, stub...]`; iface indexes `args::INTERFACES` (modulo its
//! length); flags bit 0 = big-endian, bit 1 = NDR64 (else NDR20).
//!
//! Invariants: no panic; arguments only for the operations `args::reads_op` names; every value
//! at most `args::MAX_VALUE` characters plus the `...` that marks a clipped one; the event
//! serializes to JSON, and the detectors (the technique library among them) take it without
//! panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msrpc_audit::detect::{DetectorConfig, Detectors};
use msrpc_audit::technique::Library;
use msrpc_audit::{ConnId, Event, EventKind};
use msrpc_ndr::{DataRep, TransferSyntax};

/// The built-in library, parsed once (parsing it per input would be most of the run).
static LIBRARY: std::sync::OnceLock<Library> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let [i, op, flags, stub @ ..] = data else { return };
    let ifaces = msrpc_audit::args::INTERFACES;
    let iface = ifaces[usize::from(*i) % ifaces.len()];
    let opnum = u16::from(*op);
    let drep = if flags & 1 == 0 { DataRep::LITTLE_ENDIAN } else { DataRep::BIG_ENDIAN };
    let syntax = if flags & 2 == 0 { TransferSyntax::Ndr20 } else { TransferSyntax::Ndr64 };
    let args = msrpc_audit::args::extract(&iface, opnum, stub, drep, syntax);
    if !msrpc_audit::args::reads_op(&iface, opnum) {
        assert!(args.is_empty(), "{iface} {opnum}: {args:?}");
    }
    for a in &args {
        assert!(a.value.chars().count() <= msrpc_audit::args::MAX_VALUE + 3, "{a:?}");
    }
    let ev = Event {
        ts: 1.0,
        conn: ConnId {
            uid: "Cfuzz".into(),
            orig_h: Some("10.0.0.66".parse().unwrap()),
            orig_p: Some(50000),
            resp_h: Some("10.0.0.10".parse().unwrap()),
            resp_p: Some(445),
        },
        kind: EventKind::Call {
            call_id: 1,
            interface: Some(iface.to_string()),
            endpoint: None,
            opnum,
            operation: None,
            stub_in: stub.len() as u64,
            stub_out: 0,
            fragments: 1,
            rtt: None,
            fault: None,
            args,
            auth_level: None,
            user: None,
            named_pipe: None,
            transport: None,
        },
    };
    serde_json::to_string(&ev).expect("event serializes");
    let lib = LIBRARY.get_or_init(Library::builtin).clone();
    let mut d = Detectors::with_library(DetectorConfig::default(), lib);
    for a in d.observe(&ev) {
        serde_json::to_string(&a).expect("alert serializes");
    }
});
