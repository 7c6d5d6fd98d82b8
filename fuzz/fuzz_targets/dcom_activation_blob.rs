//! Activation properties BLOB (crates/msrpc-dcom `ActivationBlob`, MS-DCOM 2.2.22): the
//! `pObjectData` of an activation OBJREF_CUSTOM, decoded under `ActivationLimits::DEFAULT`.
//!
//! Invariants: no panic, memory bounded by the limits; a decoded blob encodes, and the encoding
//! decodes to the same blob.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    msrpc_dcom::fuzzing::activation_blob(data);
});
