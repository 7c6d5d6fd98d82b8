//! The audit's exploit-shape inspection (crates/msrpc-audit `inspect::request`) on arbitrary
//! request stubs of the DCOM activation interfaces.
//!
//! Input: `[iface, opnum, drep, stub...]`; iface 0 = IRemoteActivation, 1 = ISystemActivator,
//! anything else = the endpoint mapper (never inspected); opnum bits 0-2; drep bit 0: 0 =
//! little-endian, 1 = big-endian; drep bit 1: NDR64 (else NDR20).
//!
//! Invariants: no panic; only activation operations (IRemoteActivation 0, ISystemActivator 3
//! and 4) can give a finding, with one of the two documented shape codes; the finding
//! serializes to JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msrpc_audit::names::{IREMOTE_ACTIVATION, ISYSTEM_ACTIVATOR};
use msrpc_ndr::{DataRep, TransferSyntax, Uuid};

fuzz_target!(|data: &[u8]| {
    let [i, op, d, stub @ ..] = data else { return };
    let iface = match i {
        0 => IREMOTE_ACTIVATION,
        1 => ISYSTEM_ACTIVATOR,
        _ => Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa),
    };
    let opnum = u16::from(op & 7);
    let drep = if d % 2 == 0 { DataRep::LITTLE_ENDIAN } else { DataRep::BIG_ENDIAN };
    let activation = (iface == IREMOTE_ACTIVATION && opnum == 0)
        || (iface == ISYSTEM_ACTIVATOR && (opnum == 3 || opnum == 4));
    assert_eq!(msrpc_audit::inspect::inspects(&iface), *i <= 1);
    let syntax = if d & 2 == 0 { TransferSyntax::Ndr20 } else { TransferSyntax::Ndr64 };
    if let Some(f) = msrpc_audit::inspect::request(&iface, opnum, stub, drep, syntax) {
        assert!(activation, "finding for a non-activation call: {f:?}");
        assert!(
            f.shape == "dcom_oversized_server_name" || f.shape == "dcom_oversized_name",
            "{f:?}"
        );
        serde_json::to_string(&f).expect("finding serializes");
    }
});
