//! Writes a synthetic pcap of DCE/RPC traffic for benchmarks: `CONNS` TCP connections from
//! distinct clients to 10.255.0.1:49700, each a handshake, a bind of rpcecho (NDR20), `CALLS`
//! EchoData calls of `STUB` bytes each way (requests and responses fragmented at 4280 bytes,
//! segments of at most 1460 bytes) and a FIN exchange.
//!
//! ```text
//! cargo run --release -p msrpc-analyze --example gen_capture -- OUT.pcap CONNS CALLS STUB
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{BufWriter, Write};
use std::net::Ipv4Addr;

use msrpc_analyze::net::{build_tcp_v4, tcp_flags};
use msrpc_ndr::Uuid;
use msrpc_proto::pdu::{
    Bind, BindAck, Body, ContextElement, ContextResult, ContextResultEntry, Header, PacketType,
    Pdu, PfcFlags, ProviderReason, Request, Response, SyntaxId,
};

const ECHO: SyntaxId = SyntaxId::new(
    Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182),
    1,
    0,
);
const MAX_FRAG: usize = 4280;
const MSS: usize = 1460;

struct Out<W: Write> {
    w: W,
    ts: f64,
}

impl<W: Write> Out<W> {
    fn frame(&mut self, f: &[u8]) {
        self.ts += 0.000_05;
        let sec = self.ts as u32;
        let usec = ((self.ts - f64::from(sec)) * 1e6) as u32;
        for v in [sec, usec, f.len() as u32, f.len() as u32] {
            self.w.write_all(&v.to_le_bytes()).unwrap();
        }
        self.w.write_all(f).unwrap();
    }
}

fn pdu(ptype: PacketType, flags: PfcFlags, call_id: u32, body: Body) -> Vec<u8> {
    Pdu {
        header: Header::new(ptype, flags, call_id),
        body,
        auth: None,
    }
    .encode()
    .unwrap()
}

fn fragments(stub: &[u8], mk: impl Fn(PfcFlags, Vec<u8>) -> Vec<u8>) -> Vec<u8> {
    let cap = MAX_FRAG - 24;
    let n = stub.len().div_ceil(cap).max(1);
    let mut out = Vec::new();
    for i in 0..n {
        let part = &stub[(i * cap).min(stub.len())..((i + 1) * cap).min(stub.len())];
        let mut f = PfcFlags(0);
        if i == 0 {
            f = f.with(PfcFlags::FIRST_FRAG);
        }
        if i == n - 1 {
            f = f.with(PfcFlags::LAST_FRAG);
        }
        out.extend(mk(f, part.to_vec()));
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .expect("usage: gen_capture OUT CONNS CALLS STUB");
    let conns: u32 = args.get(2).map_or(100, |s| s.parse().unwrap());
    let calls: u32 = args.get(3).map_or(10, |s| s.parse().unwrap());
    let stub_len: usize = args.get(4).map_or(1000, |s| s.parse().unwrap());
    let file = std::fs::File::create(path).unwrap();
    let mut out = Out {
        w: BufWriter::with_capacity(1 << 20, file),
        ts: 1_700_000_000.0,
    };
    out.w.write_all(&0xa1b2_c3d4u32.to_le_bytes()).unwrap();
    out.w.write_all(&2u16.to_le_bytes()).unwrap();
    out.w.write_all(&4u16.to_le_bytes()).unwrap();
    for v in [0u32, 0, 65535, 1] {
        out.w.write_all(&v.to_le_bytes()).unwrap();
    }
    let server = (Ipv4Addr::new(10, 255, 0, 1), 49700u16);
    let stub: Vec<u8> = (0..stub_len).map(|i| i as u8).collect();
    for c in 0..conns {
        let client = (
            Ipv4Addr::new(10, (c >> 16) as u8, (c >> 8) as u8, c as u8),
            40000 + (c % 20000) as u16,
        );
        let (mut cs, mut ss) = (1000u32, 5000u32);
        out.frame(&build_tcp_v4(
            client,
            server,
            cs - 1,
            0,
            tcp_flags::SYN,
            &[],
        ));
        out.frame(&build_tcp_v4(
            server,
            client,
            ss - 1,
            cs,
            tcp_flags::SYN | tcp_flags::ACK,
            &[],
        ));
        let mut send = |out: &mut Out<_>, from_client: bool, bytes: &[u8]| {
            for seg in bytes.chunks(MSS) {
                if from_client {
                    out.frame(&build_tcp_v4(client, server, cs, ss, tcp_flags::ACK, seg));
                    cs = cs.wrapping_add(seg.len() as u32);
                } else {
                    out.frame(&build_tcp_v4(server, client, ss, cs, tcp_flags::ACK, seg));
                    ss = ss.wrapping_add(seg.len() as u32);
                }
            }
        };
        let bind = pdu(
            PacketType::BIND,
            PfcFlags::FIRST_AND_LAST,
            1,
            Body::Bind(Bind {
                max_xmit_frag: MAX_FRAG as u16,
                max_recv_frag: MAX_FRAG as u16,
                assoc_group_id: 0,
                contexts: vec![ContextElement {
                    context_id: 0,
                    abstract_syntax: ECHO,
                    transfer_syntaxes: vec![SyntaxId::NDR20],
                }],
            }),
        );
        send(&mut out, true, &bind);
        let ack = pdu(
            PacketType::BIND_ACK,
            PfcFlags::FIRST_AND_LAST,
            1,
            Body::BindAck(BindAck {
                max_xmit_frag: MAX_FRAG as u16,
                max_recv_frag: MAX_FRAG as u16,
                assoc_group_id: 0x1234,
                sec_addr: b"49700\0".to_vec(),
                results: vec![ContextResultEntry {
                    result: ContextResult::ACCEPTANCE,
                    reason: ProviderReason::REASON_NOT_SPECIFIED,
                    transfer_syntax: SyntaxId::NDR20,
                }],
            }),
        );
        send(&mut out, false, &ack);
        for call in 0..calls {
            let id = call + 2;
            let req = fragments(&stub, |f, s| {
                pdu(
                    PacketType::REQUEST,
                    f,
                    id,
                    Body::Request(Request {
                        alloc_hint: stub_len as u32,
                        context_id: 0,
                        opnum: 1,
                        object: None,
                        stub: s,
                    }),
                )
            });
            send(&mut out, true, &req);
            let resp = fragments(&stub, |f, s| {
                pdu(
                    PacketType::RESPONSE,
                    f,
                    id,
                    Body::Response(Response {
                        alloc_hint: stub_len as u32,
                        context_id: 0,
                        cancel_count: 0,
                        reserved: 0,
                        stub: s,
                    }),
                )
            });
            send(&mut out, false, &resp);
        }
        out.frame(&build_tcp_v4(
            client,
            server,
            cs,
            ss,
            tcp_flags::FIN | tcp_flags::ACK,
            &[],
        ));
        out.frame(&build_tcp_v4(
            server,
            client,
            ss,
            cs + 1,
            tcp_flags::FIN | tcp_flags::ACK,
            &[],
        ));
    }
    out.w.flush().unwrap();
}
