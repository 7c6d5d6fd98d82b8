//! ORPCTHIS (crates/msrpc-dcom `OrpcThis`, MS-DCOM 2.2.13.3) at the start of an ORPC request
//! stub, with its extensions.
//!
//! Input: `[drep, stub]`: drep bit 0 set = big-endian. Invariants: no panic; decode -> encode
//! -> decode gives the same header.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    msrpc_dcom::fuzzing::orpcthis(data);
});
