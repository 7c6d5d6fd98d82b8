//! Criterion benches for the codec hot paths. Each group has a `baseline` member measured in
//! the same run — a plain copy of the same bytes — so results read as ratios ("decoding a 1 KiB
//! request costs N copies of it") rather than absolute times that depend on the machine.
//!
//! Run: `cargo bench -p msrpc-tests --bench codec`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use msrpc_echo::{
    EchoDataRequest, RpcechoInterface, TestCall2Response, TestCallRequest, TestEnumRequest,
    TestSurroundingRequest,
};
use msrpc_epm::tower::Tower;
use msrpc_epm::{EptEntry, EptLookupRequest, EptLookupResponse};
use msrpc_ndr::{ContextHandle, DataRep, DecodeLimits, TransferSyntax, Unique, Uuid};
use msrpc_proto::dispatch::Interface;
use msrpc_proto::pdu::{Body, Header, PacketType, Pdu, PfcFlags, Request, SyntaxId};
use msrpc_proto::server::{ServerConfig, ServerConnection, ServerEnv, ServerEvent};
use msrpc_tests::values;

const LE: DataRep = DataRep::LITTLE_ENDIAN;

fn request_frame(stub_len: usize) -> Vec<u8> {
    Pdu {
        header: Header::new(PacketType::REQUEST, PfcFlags::FIRST_AND_LAST, 7),
        body: Body::Request(Request {
            alloc_hint: stub_len as u32,
            context_id: 0,
            opnum: 1,
            object: None,
            stub: vec![0x5a; stub_len],
        }),
        auth: None,
    }
    .encode()
    .unwrap()
}

fn pdu(c: &mut Criterion) {
    let frame = request_frame(1024);
    let mut g = c.benchmark_group("pdu_1k_request");
    g.throughput(Throughput::Bytes(frame.len() as u64));
    g.bench_function("baseline_copy", |b| b.iter(|| black_box(frame.to_vec())));
    g.bench_function("decode", |b| {
        b.iter(|| Pdu::decode(black_box(&frame)).unwrap())
    });
    let p = Pdu::decode(&frame).unwrap();
    g.bench_function("encode", |b| b.iter(|| black_box(&p).encode().unwrap()));
    g.finish();
}

struct Env;
impl ServerEnv for Env {
    fn lookup_interface(&self, a: &SyntaxId) -> Option<SyntaxId> {
        (a.uuid == RpcechoInterface::SYNTAX.uuid).then_some(RpcechoInterface::SYNTAX)
    }
    fn assoc_group(&mut self, _r: u32) -> Option<u32> {
        Some(1)
    }
    fn security_provider(
        &mut self,
        _t: msrpc_proto::pdu::AuthType,
    ) -> Option<Box<dyn msrpc_proto::security::SecurityProvider>> {
        None
    }
}

fn association(c: &mut Criterion) {
    // One bound server connection; each iteration: a 64-byte request in, a 64-byte response out.
    let mut client = msrpc_proto::client::ClientConnection::new(Default::default());
    let mut server = ServerConnection::new(ServerConfig::default());
    let mut env = Env;
    client.bind(&[RpcechoInterface::SYNTAX]).unwrap();
    while let Some(f) = client.poll_transmit() {
        server.receive(&f, &mut env);
    }
    while let Some(f) = server.poll_transmit() {
        client.receive(&f).unwrap();
    }
    let mut call_id = 100u32;
    let stub = vec![1u8; 64];
    let mut g = c.benchmark_group("server_call_64b");
    let frame = request_frame(64);
    g.bench_function("baseline_copy", |b| b.iter(|| black_box(frame.to_vec())));
    g.bench_function("request_in_response_out", |b| {
        b.iter(|| {
            call_id += 1;
            let mut f = frame.clone();
            f[12..16].copy_from_slice(&call_id.to_le_bytes());
            let ev = server.receive(&f, &mut env);
            let Some(ServerEvent::Call(call)) = ev.into_iter().next() else {
                panic!("no call")
            };
            server.respond(call.call_id, Ok(stub.clone()));
            black_box(server.poll_transmit().unwrap())
        })
    });
    g.finish();
}

fn ndr(c: &mut Criterion) {
    let data = vec![0xa5u8; 65536];
    let req = EchoDataRequest {
        len: data.len() as u32,
        in_data: data,
    };
    let stub = req.to_stub(LE).unwrap();
    let mut g = c.benchmark_group("ndr_echo_data_64k");
    g.throughput(Throughput::Bytes(stub.len() as u64));
    g.bench_function("baseline_copy", |b| b.iter(|| black_box(stub.to_vec())));
    g.bench_function("decode", |b| {
        b.iter(|| EchoDataRequest::from_stub(black_box(&stub), LE, DecodeLimits::DEFAULT).unwrap())
    });
    g.bench_function("encode", |b| {
        b.iter(|| black_box(&req).to_stub(LE).unwrap())
    });
    g.finish();

    // ept_lookup response with 100 entries (what one rpcdump batch looks like).
    let entries: Vec<EptEntry> = (0..100u16)
        .map(|i| {
            let iface = SyntaxId::new(Uuid::from_u128(u128::from(i) << 64 | 0x1234), 1, 0);
            let tower = Tower::ncacn_ip_tcp(iface, SyntaxId::NDR20, Ipv4Addr::LOCALHOST, 49152 + i);
            EptEntry {
                object: Uuid::nil(),
                tower: Unique::new(tower.to_twr().unwrap()),
                annotation: format!("service {i}"),
            }
        })
        .collect();
    let lreq = EptLookupRequest {
        inquiry_type: 0,
        object: Unique::null(),
        interface_id: Unique::null(),
        vers_option: 1,
        entry_handle: ContextHandle::NULL,
        max_ents: 100,
    };
    let resp = EptLookupResponse {
        entry_handle: ContextHandle::NULL,
        num_ents: 100,
        entries,
        status: 0,
    };
    let bytes = resp.to_stub(&lreq, LE).unwrap();
    let mut g = c.benchmark_group("ndr_ept_lookup_100_entries");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("baseline_copy", |b| b.iter(|| black_box(bytes.to_vec())));
    g.bench_function("encode", |b| {
        b.iter(|| black_box(&resp).to_stub(&lreq, LE).unwrap())
    });
    g.bench_function("decode", |b| {
        b.iter(|| {
            EptLookupResponse::from_stub(black_box(&bytes), LE, DecodeLimits::DEFAULT, &lreq)
                .unwrap()
        })
    });
    g.finish();
}

const SYNTAXES: [(&str, TransferSyntax); 2] = [
    ("ndr20", TransferSyntax::Ndr20),
    ("ndr64", TransferSyntax::Ndr64),
];

/// The same values encoded and decoded in NDR20 and in NDR64 (MS-RPCE 2.2.5), in one group per
/// value so the two syntaxes are measured in the same run: `ndr64_encode / ndr20_encode` is
/// the figure to read. NDR64 writes 8-byte pointers and counts, aligns structures with
/// pointers to 8 and widens enums to 4 bytes, so its stubs are longer. The values are
/// `msrpc_tests::values`'; `scripts/bench-ndr64.sh` counts the instructions of the same
/// operations (figures that do not move with the machine's load).
fn ndr64_vs_ndr20(c: &mut Criterion) {
    let (lreq, resp) = values::ept_lookup(50);
    let mut g = c.benchmark_group("ndr64_vs_ndr20_ept_lookup_50_entries");
    for (name, ts) in SYNTAXES {
        let bytes = resp.to_stub_in(&lreq, LE, ts).unwrap();
        g.bench_function(format!("{name}_encode"), |b| {
            b.iter(|| black_box(&resp).to_stub_in(&lreq, LE, ts).unwrap())
        });
        g.bench_function(format!("{name}_decode"), |b| {
            b.iter(|| {
                EptLookupResponse::from_stub_in(
                    black_box(&bytes),
                    LE,
                    ts,
                    DecodeLimits::DEFAULT,
                    &lreq,
                )
                .unwrap()
            })
        });
    }
    g.finish();

    // rpcecho, struct-heavy: TestCall2's answer at level 7, TestEnum's request, TestSurrounding's
    // request (256 elements) and TestCall's (64 characters). Each value's four members are
    // adjacent (NDR20 then NDR64), so a load change on the machine shifts a pair less than it
    // would the two halves of the group.
    let (call2_req, call2) = values::test_call2_info7();
    let enum_req = values::test_enum();
    let surround = values::test_surrounding_256();
    let call = values::test_call_64();
    let mut g = c.benchmark_group("ndr64_vs_ndr20_rpcecho");
    for (name, ts) in SYNTAXES {
        let bytes = call2.to_stub_in(&call2_req, LE, ts).unwrap();
        g.bench_function(format!("test_call2_info7_{name}_encode"), |b| {
            b.iter(|| black_box(&call2).to_stub_in(&call2_req, LE, ts).unwrap())
        });
        g.bench_function(format!("test_call2_info7_{name}_decode"), |b| {
            b.iter(|| {
                TestCall2Response::from_stub_in(
                    black_box(&bytes),
                    LE,
                    ts,
                    DecodeLimits::DEFAULT,
                    &call2_req,
                )
                .unwrap()
            })
        });
    }
    for (name, ts) in SYNTAXES {
        let bytes = enum_req.to_stub_in(LE, ts).unwrap();
        g.bench_function(format!("test_enum_{name}_encode"), |b| {
            b.iter(|| black_box(&enum_req).to_stub_in(LE, ts).unwrap())
        });
        g.bench_function(format!("test_enum_{name}_decode"), |b| {
            b.iter(|| {
                TestEnumRequest::from_stub_in(black_box(&bytes), LE, ts, DecodeLimits::DEFAULT)
                    .unwrap()
            })
        });
    }
    for (name, ts) in SYNTAXES {
        let bytes = surround.to_stub_in(LE, ts).unwrap();
        g.bench_function(format!("test_surrounding_256_{name}_encode"), |b| {
            b.iter(|| black_box(&surround).to_stub_in(LE, ts).unwrap())
        });
        g.bench_function(format!("test_surrounding_256_{name}_decode"), |b| {
            b.iter(|| {
                TestSurroundingRequest::from_stub_in(
                    black_box(&bytes),
                    LE,
                    ts,
                    DecodeLimits::DEFAULT,
                )
                .unwrap()
            })
        });
    }
    for (name, ts) in SYNTAXES {
        let bytes = call.to_stub_in(LE, ts).unwrap();
        g.bench_function(format!("test_call_64_chars_{name}_encode"), |b| {
            b.iter(|| black_box(&call).to_stub_in(LE, ts).unwrap())
        });
        g.bench_function(format!("test_call_64_chars_{name}_decode"), |b| {
            b.iter(|| {
                TestCallRequest::from_stub_in(black_box(&bytes), LE, ts, DecodeLimits::DEFAULT)
                    .unwrap()
            })
        });
    }
    g.finish();
}

/// NTLM sealing of a 4 KiB request (`PKT_PRIVACY`): HMAC-MD5 over the PDU and RC4 over its
/// stub, against the two primitives alone over the same bytes (the floor any NTLM
/// implementation pays).
fn ntlm_seal(c: &mut Criterion) {
    use md5::{Digest, Md5};
    use rc4::{KeyInit, Rc4, StreamCipher};
    let mut frame = request_frame(4096);
    let data = 24..frame.len();
    let mut g = c.benchmark_group("ntlm_seal_4k");
    g.throughput(Throughput::Bytes(frame.len() as u64));
    g.bench_function("baseline_copy", |b| b.iter(|| black_box(frame.to_vec())));
    g.bench_function("baseline_md5", |b| {
        b.iter(|| black_box(Md5::digest(black_box(&frame))))
    });
    let mut rc4 = Rc4::new_from_slice(&[7u8; 16]).unwrap();
    g.bench_function("baseline_rc4", |b| {
        b.iter(|| rc4.apply_keystream(black_box(&mut frame[24..])))
    });
    let mut session = msrpc_ntlm::session::Session::new(&[9u8; 16], true, true).unwrap();
    g.bench_function("seal", |b| {
        b.iter(|| black_box(session.seal(&mut frame, data.clone()).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, pdu, association, ndr, ndr64_vs_ndr20, ntlm_seal);
criterion_main!(benches);
