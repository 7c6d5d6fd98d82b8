//! Encodes or decodes one of the NDR64-vs-NDR20 comparison's values (`msrpc_tests::values`)
//! `N` times in one transfer syntax, for instruction counts under callgrind: they do not move
//! with the load of a shared machine as wall-clock times do. `scripts/bench-ndr64.sh` runs it
//! for every value, syntax and direction with `N` and with 0 iterations; the difference over
//! `N` is the cost of one.
//!
//!     ndr_instructions VALUE ndr20|ndr64 encode|decode N
//!
//! VALUE: ept_lookup_50, test_call2_info7, test_enum, test_surrounding_256, test_call_64.

use std::hint::black_box;
use std::process::ExitCode;

use msrpc_echo::{TestCall2Response, TestCallRequest, TestEnumRequest, TestSurroundingRequest};
use msrpc_epm::EptLookupResponse;
use msrpc_ndr::{DataRep, DecodeLimits, TransferSyntax};
use msrpc_tests::values;

const LE: DataRep = DataRep::LITTLE_ENDIAN;
const LIM: DecodeLimits = DecodeLimits::DEFAULT;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [value, syntax, op, n] = args.as_slice() else {
        eprintln!("usage: ndr_instructions VALUE ndr20|ndr64 encode|decode N");
        return ExitCode::from(2);
    };
    let ts = match syntax.as_str() {
        "ndr20" => TransferSyntax::Ndr20,
        "ndr64" => TransferSyntax::Ndr64,
        _ => return ExitCode::from(2),
    };
    let Ok(n) = n.parse::<u64>() else {
        return ExitCode::from(2);
    };
    let encode = op == "encode";
    // Each arm encodes once outside the loop (the bytes to decode), then loops.
    macro_rules! run {
        ($enc:expr, $dec:expr) => {{
            let bytes = $enc.expect("encodes");
            for _ in 0..n {
                if encode {
                    black_box($enc.expect("encodes"));
                } else {
                    black_box($dec(black_box(&bytes)).expect("decodes"));
                }
            }
        }};
    }
    match value.as_str() {
        "ept_lookup_50" => {
            let (q, r) = values::ept_lookup(50);
            run!(r.to_stub_in(&q, LE, ts), |b: &[u8]| {
                EptLookupResponse::from_stub_in(b, LE, ts, LIM, &q)
            })
        }
        "test_call2_info7" => {
            let (q, r) = values::test_call2_info7();
            run!(r.to_stub_in(&q, LE, ts), |b: &[u8]| {
                TestCall2Response::from_stub_in(b, LE, ts, LIM, &q)
            })
        }
        "test_enum" => {
            let v = values::test_enum();
            run!(v.to_stub_in(LE, ts), |b: &[u8]| {
                TestEnumRequest::from_stub_in(b, LE, ts, LIM)
            })
        }
        "test_surrounding_256" => {
            let v = values::test_surrounding_256();
            run!(v.to_stub_in(LE, ts), |b: &[u8]| {
                TestSurroundingRequest::from_stub_in(b, LE, ts, LIM)
            })
        }
        "test_call_64" => {
            let v = values::test_call_64();
            run!(v.to_stub_in(LE, ts), |b: &[u8]| {
                TestCallRequest::from_stub_in(b, LE, ts, LIM)
            })
        }
        _ => return ExitCode::from(2),
    }
    ExitCode::SUCCESS
}
