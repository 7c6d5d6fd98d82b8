//! The generated rpcecho stubs (crates/msrpc-echo) with the crate's reference service, on
//! arbitrary stubs.
//!
//! Input: `[op, drep, stub...]`; op bits 0-4 = opnum (bit 5 ignored), bit 6 = response mode
//! (`[op, drep, len u16 LE, request (len bytes), response...]`: decode the response to that
//! request and round-trip it instead of dispatching). drep: even little-endian, odd big-endian.
//! Requests decode within 1 MiB / 64 Ki elements / depth 16; SourceData serves at most 256 KiB.
//! Invariants (see `msrpc_fuzz::check_op!`): no panic; dispatch refuses exactly what
//! `Request::from_stub` refuses; requests and responses round-trip; our responses decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msrpc_echo::*;
use msrpc_fuzz::{check_op, NdrInput};

fuzz_target!(|data: &[u8]| {
    let Some(input) = NdrInput::parse(data) else {
        return;
    };
    let server = RpcechoServer::new(EchoService::new(NoSleep).with_max_source_len(256 * 1024));
    match input.opnum {
        0 => check_op!(&server, &input, AddOneRequest, AddOneResponse),
        1 => check_op!(&server, &input, EchoDataRequest, EchoDataResponse),
        2 => check_op!(&server, &input, SinkDataRequest, SinkDataResponse),
        3 => check_op!(&server, &input, SourceDataRequest, SourceDataResponse),
        4 => check_op!(&server, &input, TestCallRequest, TestCallResponse),
        5 => check_op!(&server, &input, TestCall2Request, TestCall2Response),
        6 => check_op!(&server, &input, TestSleepRequest, TestSleepResponse),
        7 => check_op!(&server, &input, TestEnumRequest, TestEnumResponse),
        8 => check_op!(&server, &input, TestSurroundingRequest, TestSurroundingResponse),
        9 => check_op!(&server, &input, TestDoublePointerRequest, TestDoublePointerResponse),
        op => {
            let r = msrpc_fuzz::dispatch(&server, op, input.request, input.drep);
            assert!(matches!(r, Err(msrpc_proto::dispatch::DispatchError::OpnumOutOfRange(_))), "{r:?}");
        }
    }
});
