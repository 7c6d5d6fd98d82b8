//! OBJREF (crates/msrpc-dcom `ObjRef`, MS-DCOM 2.2.18): decoding arbitrary `MInterfacePointer`
//! bytes.
//!
//! Invariants: no panic; a decoded OBJREF encodes, and the encoding decodes to the same value;
//! the bindings of a standard/handler/extended reference parse or fail without panicking; an
//! activation OBJREF_CUSTOM's blob decodes under the default limits or fails.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msrpc_dcom::activation::{ActivationBlob, ActivationLimits};
use msrpc_dcom::dualstring::BindingLimits;
use msrpc_dcom::objref::{ObjRef, ObjRefBody};

fuzz_target!(|data: &[u8]| {
    msrpc_dcom::fuzzing::objref(data);
    if let Ok(o) = ObjRef::decode(data) {
        match &o.body {
            ObjRefBody::Standard { resolver, .. }
            | ObjRefBody::Handler { resolver, .. }
            | ObjRefBody::Extended { resolver, .. } => {
                let _ = resolver.parse(&BindingLimits::DEFAULT);
            }
            ObjRefBody::Custom(_) => {
                let _ = ActivationBlob::from_objref(&o, &ActivationLimits::DEFAULT);
            }
        }
    }
});
