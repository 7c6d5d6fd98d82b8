//! DUALSTRINGARRAY (crates/msrpc-dcom, MS-DCOM 2.2.19): the NDR structure (little-endian) and
//! its bindings.
//!
//! Invariants: no panic; NDR decode -> encode -> decode gives the same array; bindings that
//! parse re-encode with `from_bindings` to an array that parses to the same bindings.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    msrpc_dcom::fuzzing::dualstringarray(data);
});
