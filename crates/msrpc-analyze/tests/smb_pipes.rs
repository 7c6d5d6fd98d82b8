//! DCE/RPC over SMB named pipes through the whole analyzer (TCP segments in, events out):
//! PDUs split across SMB messages, pipes side by side on one connection, a FileId reused,
//! hostile SMB on port 445, and DCE/RPC straight on port 445 without SMB.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::Ipv4Addr;

use msrpc_analyze::msrpc_smb::smb2::{command as c2, flags};
use msrpc_analyze::msrpc_smb::synth::*;
use msrpc_analyze::net::{build_tcp_v4, tcp_flags};
use msrpc_analyze::{Analyzer, Config};
use msrpc_audit::{Event, EventKind};
use msrpc_ndr::Uuid;
use msrpc_proto::pdu::{
    Bind, BindAck, Body, ContextElement, ContextResult, ContextResultEntry, Header, PacketType,
    Pdu, PfcFlags, ProviderReason, Request, Response, SyntaxId,
};

const SRVSVC: SyntaxId = SyntaxId::new(
    Uuid::from_u128(0x4b324fc8_1670_01d3_1278_5a47bf6ee188),
    3,
    0,
);
const RESP: u32 = flags::RESPONSE;

fn enc(ptype: PacketType, flags: PfcFlags, call_id: u32, body: Body) -> Vec<u8> {
    Pdu {
        header: Header::new(ptype, flags, call_id),
        body,
        auth: None,
    }
    .encode()
    .unwrap()
}

fn bind() -> Vec<u8> {
    enc(
        PacketType::BIND,
        PfcFlags::FIRST_AND_LAST,
        1,
        Body::Bind(Bind {
            max_xmit_frag: 4280,
            max_recv_frag: 4280,
            assoc_group_id: 0,
            contexts: vec![ContextElement {
                context_id: 0,
                abstract_syntax: SRVSVC,
                transfer_syntaxes: vec![SyntaxId::NDR20],
            }],
        }),
    )
}

fn bind_ack() -> Vec<u8> {
    enc(
        PacketType::BIND_ACK,
        PfcFlags::FIRST_AND_LAST,
        1,
        Body::BindAck(BindAck {
            max_xmit_frag: 4280,
            max_recv_frag: 4280,
            assoc_group_id: 0x1234,
            sec_addr: b"\\PIPE\\srvsvc\0".to_vec(),
            results: vec![ContextResultEntry {
                result: ContextResult::ACCEPTANCE,
                reason: ProviderReason::REASON_NOT_SPECIFIED,
                transfer_syntax: SyntaxId::NDR20,
            }],
        }),
    )
}

fn request(call_id: u32, flags: PfcFlags, opnum: u16, stub: &[u8]) -> Vec<u8> {
    enc(
        PacketType::REQUEST,
        flags,
        call_id,
        Body::Request(Request {
            alloc_hint: 0,
            context_id: 0,
            opnum,
            object: None,
            stub: stub.to_vec(),
        }),
    )
}

fn response(call_id: u32, stub: &[u8]) -> Vec<u8> {
    enc(
        PacketType::RESPONSE,
        PfcFlags::FIRST_AND_LAST,
        call_id,
        Body::Response(Response {
            alloc_hint: 0,
            context_id: 0,
            cancel_count: 0,
            reserved: 0,
            stub: stub.to_vec(),
        }),
    )
}

/// One TCP connection from a client to port `port`, fed segment by segment.
struct Tcp {
    client: (Ipv4Addr, u16),
    server: (Ipv4Addr, u16),
    seq: [u32; 2],
    ts: f64,
}

impl Tcp {
    fn open(a: &mut Analyzer, client_port: u16, port: u16) -> Tcp {
        let t = Tcp {
            client: (Ipv4Addr::new(10, 0, 0, 9), client_port),
            server: (Ipv4Addr::new(10, 0, 0, 1), port),
            seq: [1000, 5000],
            ts: 1.0,
        };
        let syn = build_tcp_v4(t.client, t.server, 999, 0, tcp_flags::SYN, &[]);
        a.packet(t.ts, 1, &syn);
        let synack = build_tcp_v4(
            t.server,
            t.client,
            4999,
            1000,
            tcp_flags::SYN | tcp_flags::ACK,
            &[],
        );
        a.packet(t.ts, 1, &synack);
        t
    }

    /// Sends `bytes` from the client (`to_server`) or the server, in segments of `mss`.
    fn send(&mut self, a: &mut Analyzer, to_server: bool, bytes: &[u8], mss: usize) {
        let (src, dst, i) = if to_server {
            (self.client, self.server, 0)
        } else {
            (self.server, self.client, 1)
        };
        for chunk in bytes.chunks(mss) {
            self.ts += 0.001;
            let f = build_tcp_v4(
                src,
                dst,
                self.seq[i],
                self.seq[1 - i],
                tcp_flags::ACK,
                chunk,
            );
            a.packet(self.ts, 1, &f);
            self.seq[i] = self.seq[i].wrapping_add(chunk.len() as u32);
        }
    }

    fn close(&mut self, a: &mut Analyzer) {
        for (src, dst, i) in [(self.client, self.server, 0), (self.server, self.client, 1)] {
            let f = build_tcp_v4(
                src,
                dst,
                self.seq[i],
                self.seq[1 - i],
                tcp_flags::FIN | tcp_flags::ACK,
                &[],
            );
            a.packet(self.ts, 1, &f);
        }
    }
}

fn smb(cmd: u16, flags: u32, mid: u64, body: &[u8]) -> Vec<u8> {
    nbss(&smb2(cmd, flags, mid, 7, 0, body))
}

fn prelude(a: &mut Analyzer, t: &mut Tcp) {
    t.send(
        a,
        true,
        &smb(c2::TREE_CONNECT, 0, 1, &tree_connect_req("\\\\s\\IPC$")),
        1460,
    );
    t.send(
        a,
        false,
        &smb(c2::TREE_CONNECT, RESP, 1, &tree_connect_resp(2)),
        1460,
    );
}

fn open(a: &mut Analyzer, t: &mut Tcp, mid: u64, name: &str, file: [u8; 16]) {
    t.send(a, true, &smb(c2::CREATE, 0, mid, &create_req(name)), 1460);
    t.send(
        a,
        false,
        &smb(c2::CREATE, RESP, mid, &create_resp(file)),
        1460,
    );
}

fn calls(events: &[Event]) -> Vec<(u32, u16, Option<String>, u64)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Call {
                call_id,
                opnum,
                named_pipe,
                stub_in,
                ..
            } => Some((*call_id, *opnum, named_pipe.clone(), *stub_in)),
            _ => None,
        })
        .collect()
}

const F1: [u8; 16] = [1; 16];
const F2: [u8; 16] = [2; 16];

#[test]
fn a_pdu_split_over_smb_writes_and_fragments_over_reads_reassemble() {
    let mut a = Analyzer::new(Config::default());
    let mut t = Tcp::open(&mut a, 50000, 445);
    prelude(&mut a, &mut t);
    open(&mut a, &mut t, 2, "srvsvc", F1);
    // The bind in one transceive.
    t.send(
        &mut a,
        true,
        &smb(c2::IOCTL, 0, 3, &transceive_req(F1, &bind())),
        1460,
    );
    t.send(
        &mut a,
        false,
        &smb(c2::IOCTL, RESP, 3, &transceive_resp(F1, &bind_ack())),
        1460,
    );
    // A 6000-byte request in two fragments, written in 7 SMB writes of odd sizes, each SMB
    // message itself split over TCP segments of 100 bytes.
    let stub = vec![0x42u8; 3000];
    let req = [
        request(2, PfcFlags::FIRST_FRAG, 15, &stub),
        request(2, PfcFlags::LAST_FRAG, 15, &stub),
    ]
    .concat();
    for (i, part) in req.chunks(900).enumerate() {
        let m = smb(c2::WRITE, 0, 10 + i as u64, &write_req(F1, part));
        t.send(&mut a, true, &m, 100);
    }
    // The response read back in three reads.
    let resp = response(2, &[7u8; 500]);
    for (i, part) in resp.chunks(200).enumerate() {
        let mid = 30 + i as u64;
        t.send(
            &mut a,
            true,
            &smb(c2::READ, 0, mid, &read_req(F1, 200)),
            1460,
        );
        t.send(
            &mut a,
            false,
            &smb(c2::READ, RESP, mid, &read_resp(part)),
            1460,
        );
    }
    t.close(&mut a);
    a.finish();
    let ev = a.take_events();
    assert_eq!(
        calls(&ev),
        vec![(2, 15, Some("\\pipe\\srvsvc".into()), 6000)]
    );
    let s = a.summary();
    assert_eq!(s.rpc_flows, 1);
    assert_eq!(s.smb.flows, 1);
    assert_eq!(s.smb.pdus.get("request"), Some(&2));
    assert_eq!(s.pdus.get("request"), Some(&2));
    assert!(s.malformed.is_empty(), "{:?}", s.malformed);
    // One conn_open / conn_close pair for the SMB connection.
    let opens = ev
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ConnOpen))
        .count();
    let closes: Vec<_> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ConnClose {
                pdus_in,
                pdus_out,
                bound,
                ..
            } => Some((*pdus_in, *pdus_out, *bound)),
            _ => None,
        })
        .collect();
    assert_eq!(opens, 1);
    assert_eq!(closes, vec![(3, 2, true)]);
    assert_eq!(a.held_bytes(), 0);
}

#[test]
fn pipes_side_by_side_keep_their_own_calls() {
    let mut a = Analyzer::new(Config::default());
    let mut t = Tcp::open(&mut a, 50001, 445);
    prelude(&mut a, &mut t);
    open(&mut a, &mut t, 2, "srvsvc", F1);
    open(&mut a, &mut t, 3, "\\PIPE\\wkssvc", F2);
    for (mid, f) in (10..).zip([F1, F2]) {
        t.send(
            &mut a,
            true,
            &smb(c2::IOCTL, 0, mid, &transceive_req(f, &bind())),
            1460,
        );
        t.send(
            &mut a,
            false,
            &smb(c2::IOCTL, RESP, mid, &transceive_resp(f, &bind_ack())),
            1460,
        );
    }
    // The same call id on both pipes, the requests interleaved before either answer.
    let r1 = request(2, PfcFlags::FIRST_AND_LAST, 21, &[1; 8]);
    let r2 = request(2, PfcFlags::FIRST_AND_LAST, 22, &[2; 16]);
    t.send(
        &mut a,
        true,
        &smb(c2::WRITE, 0, 20, &write_req(F1, &r1)),
        1460,
    );
    t.send(
        &mut a,
        true,
        &smb(c2::WRITE, 0, 21, &write_req(F2, &r2)),
        1460,
    );
    t.send(
        &mut a,
        true,
        &smb(c2::READ, 0, 22, &read_req(F2, 1024)),
        1460,
    );
    t.send(
        &mut a,
        true,
        &smb(c2::READ, 0, 23, &read_req(F1, 1024)),
        1460,
    );
    t.send(
        &mut a,
        false,
        &smb(c2::READ, RESP, 22, &read_resp(&response(2, &[0; 4]))),
        1460,
    );
    t.send(
        &mut a,
        false,
        &smb(c2::READ, RESP, 23, &read_resp(&response(2, &[0; 4]))),
        1460,
    );
    a.finish();
    let c = calls(&a.take_events());
    assert_eq!(
        c,
        vec![
            (2, 22, Some("\\pipe\\wkssvc".into()), 16),
            (2, 21, Some("\\pipe\\srvsvc".into()), 8),
        ]
    );
    assert_eq!(a.summary().smb.pipes.len(), 2);
}

#[test]
fn a_reused_file_id_is_a_new_conversation() {
    let mut a = Analyzer::new(Config::default());
    let mut t = Tcp::open(&mut a, 50002, 445);
    prelude(&mut a, &mut t);
    open(&mut a, &mut t, 2, "srvsvc", F1);
    t.send(
        &mut a,
        true,
        &smb(c2::IOCTL, 0, 3, &transceive_req(F1, &bind())),
        1460,
    );
    t.send(
        &mut a,
        false,
        &smb(c2::IOCTL, RESP, 3, &transceive_resp(F1, &bind_ack())),
        1460,
    );
    // The server hands F1 out again (the close was not captured): the new open is a new
    // conversation, so a request on it has no bound context and no interface.
    open(&mut a, &mut t, 4, "lsarpc", F1);
    let r = request(5, PfcFlags::FIRST_AND_LAST, 3, &[0; 4]);
    t.send(
        &mut a,
        true,
        &smb(c2::IOCTL, 0, 5, &transceive_req(F1, &r)),
        1460,
    );
    t.send(
        &mut a,
        false,
        &smb(
            c2::IOCTL,
            RESP,
            5,
            &transceive_resp(F1, &response(5, &[0; 4])),
        ),
        1460,
    );
    a.finish();
    let ev = a.take_events();
    let got: Vec<_> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Call {
                interface,
                named_pipe,
                ..
            } => Some((interface.clone(), named_pipe.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(got, vec![(None, Some("\\pipe\\lsarpc".into()))]);
}

#[test]
fn hostile_smb_on_445_is_counted_and_bounded() {
    let mut a = Analyzer::new(Config::default());
    let mut t = Tcp::open(&mut a, 50003, 445);
    prelude(&mut a, &mut t);
    open(&mut a, &mut t, 2, "srvsvc", F1);
    // A compound whose NextCommand points past the end, a write whose length lies, a frame
    // announcing 16 MiB, then garbage.
    let mut m = smb2(c2::WRITE, 0, 3, 7, 0, &write_req(F1, b"x"));
    m[20..24].copy_from_slice(&4096u32.to_le_bytes());
    t.send(&mut a, true, &nbss(&m), 1460);
    let mut w = write_req(F1, b"abc");
    w[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    t.send(&mut a, true, &smb(c2::WRITE, 0, 4, &w), 1460);
    t.send(&mut a, true, &[0x42, 0, 0, 9], 1460);
    t.send(&mut a, true, &vec![0xAB; 50_000], 1460);
    let s = a.summary().clone();
    assert_eq!(s.malformed.get("smb2_bad_next_command"), Some(&1));
    assert_eq!(s.malformed.get("smb2_buffer_out_of_range"), Some(&1));
    assert_eq!(s.malformed.get("netbios_bad_type"), Some(&1));
    assert!(a.held_bytes() < 64 * 1024, "held {}", a.held_bytes());
    a.finish();
    assert_eq!(a.held_bytes(), 0);
}

#[test]
fn dce_rpc_straight_on_445_is_still_dce_rpc() {
    let mut a = Analyzer::new(Config::default());
    let mut t = Tcp::open(&mut a, 50004, 445);
    t.send(&mut a, true, &bind(), 1460);
    t.send(&mut a, false, &bind_ack(), 1460);
    t.send(
        &mut a,
        true,
        &request(2, PfcFlags::FIRST_AND_LAST, 5, &[0; 8]),
        1460,
    );
    t.send(&mut a, false, &response(2, &[0; 8]), 1460);
    a.finish();
    assert_eq!(calls(&a.take_events()), vec![(2, 5, None, 8)]);
    assert_eq!(a.summary().smb.flows, 0);
}
