//! The generated rpcecho stubs (crates/msrpc-echo) with the crate's reference service, on
//! arbitrary stubs.
//!
//! Input: `[op, drep, stub...]`; op bits 0-4 = opnum (bit 5 ignored), bit 6 = response mode
//! (`[op, drep, len u16 LE, request (len bytes), response...]`: decode the response to that
//! request and round-trip it instead of dispatching), bit 7 = NDR64 (every stub decoded,
//! dispatched and re-encoded in NDR64; else NDR20). drep: even little-endian, odd big-endian.
//! Requests decode within 1 MiB / 64 Ki elements / depth 16; SourceData serves at most 256 KiB.
//! Invariants (see `msrpc_fuzz::check_op!`): no panic; dispatch refuses exactly what
//! `Request::from_stub` refuses; requests and responses round-trip; our responses decode.
//! TestEnum (opnum 7), whose stubs are only enums, a union discriminant and padding: a stub
//! that decodes re-encodes to its own bytes (padding zeroed), so an enum value the IDL does not
//! name comes back exactly as it came (checked in NDR20, whose padding offsets it lists).
//! Opnum 31, which rpcecho lacks, feeds msrpc-ndr's pipes instead (`msrpc_ndr::Pipe`, as the
//! code generated for MS-EFSR's `EFS_EXIM_PIPE` reads them): the stub is a pipe of bytes then
//! a pipe of `{ u16, i64 }` structures, read in the input's syntax and byte order under the
//! fuzzing limits; what decodes re-encodes (chunks of `Pipe::CHUNK_ELEMENTS`) and decodes to
//! the same pipes, and that encoding is stable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msrpc_echo::*;
use msrpc_fuzz::{check_op, NdrInput};

/// `enc` is `input`'s first `enc.len()` bytes with TestEnum's alignment padding zeroed: after
/// foo1 and foo2.e1 (16-bit enums before 32-bit-aligned data), and in the `ECHO_ENUM2` arm
/// (24 bytes) after the discriminant and after foo3.e2.e1.
fn same_enum_bytes(what: &str, input: &[u8], enc: &[u8]) {
    let padding: &[usize] = if enc.len() == 24 { &[2, 3, 6, 7, 14, 15, 18, 19] } else { &[2, 3, 6, 7] };
    let mut want = input[..enc.len()].to_vec();
    for &i in padding {
        want[i] = 0;
    }
    assert_eq!(enc, &want[..], "{what}: re-encoded {} from {}", msrpc_fuzz::hex(enc), msrpc_fuzz::hex(input));
}

fn test_enum_bytes(input: &NdrInput<'_>) {
    if input.syntax.is_ndr64() {
        return;
    }
    let d = input.drep;
    let Ok(req) = TestEnumRequest::from_stub(input.request, d, msrpc_fuzz::NDR_LIMITS) else {
        return;
    };
    // check_op! has already required these encodings to succeed.
    let Ok(enc) = req.to_stub(d) else { return };
    same_enum_bytes("TestEnum request", input.request, &enc);
    if let Some(r) = input.response {
        let Ok(resp) = TestEnumResponse::from_stub(r, d, msrpc_fuzz::NDR_LIMITS, &req) else {
            return;
        };
        let Ok(enc) = resp.to_stub(&req, d) else { return };
        same_enum_bytes("TestEnum response", r, &enc);
    }
}

/// A pipe element with padding inside (a 16-bit member, then a 64-bit one), as MS-RPCE
/// 2.2.5.3.4.5 allows a structure without pointers or conformant arrays.
#[derive(msrpc_ndr::Ndr, Clone, Debug, PartialEq)]
struct PipeElem {
    tag: u16,
    value: i64,
}

/// A stub of two pipes (bytes, then `PipeElem`s), as generated code reads `[in]` pipes.
fn decode_pipes(
    stub: &[u8],
    input: &NdrInput<'_>,
) -> msrpc_ndr::DecodeResult<(msrpc_ndr::Pipe<u8>, msrpc_ndr::Pipe<PipeElem>)> {
    let mut r = msrpc_ndr::Reader::with_syntax(stub, input.drep, input.syntax, msrpc_fuzz::NDR_LIMITS);
    let bytes = <msrpc_ndr::Pipe<u8> as msrpc_ndr::Ndr>::decode(&mut r)?;
    let elems = <msrpc_ndr::Pipe<PipeElem> as msrpc_ndr::Ndr>::decode(&mut r)?;
    Ok((bytes, elems))
}

fn encode_pipes(v: &(msrpc_ndr::Pipe<u8>, msrpc_ndr::Pipe<PipeElem>), input: &NdrInput<'_>) -> Vec<u8> {
    let mut w = msrpc_ndr::Writer::with_syntax(input.drep, input.syntax);
    msrpc_ndr::Ndr::encode(&v.0, &mut w).expect("a decoded pipe encodes");
    msrpc_ndr::Ndr::encode(&v.1, &mut w).expect("a decoded pipe encodes");
    w.into_bytes()
}

fn pipes(input: &NdrInput<'_>) {
    let Ok(v) = decode_pipes(input.request, input) else { return };
    let enc = encode_pipes(&v, input);
    let again = decode_pipes(&enc, input).expect("our pipes decode");
    assert_eq!(again, v, "pipes round-trip");
    assert_eq!(encode_pipes(&again, input), enc, "pipe encoding is stable");
}

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
        7 => {
            check_op!(&server, &input, TestEnumRequest, TestEnumResponse);
            test_enum_bytes(&input);
        }
        8 => check_op!(&server, &input, TestSurroundingRequest, TestSurroundingResponse),
        9 => check_op!(&server, &input, TestDoublePointerRequest, TestDoublePointerResponse),
        31 => pipes(&input),
        op => {
            let r = msrpc_fuzz::dispatch_ctx_in(
                &server,
                msrpc_proto::dispatch::CallContext { call_id: 1, opnum: op, ..Default::default() },
                input.request,
                input.drep,
                input.syntax,
            );
            assert!(matches!(r, Err(msrpc_proto::dispatch::DispatchError::OpnumOutOfRange(_))), "{r:?}");
        }
    }
});
