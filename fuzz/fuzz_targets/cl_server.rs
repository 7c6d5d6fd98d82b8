//! The connectionless server (`msrpc_proto::cl::server::ClServer`, with the CL PDU decoder)
//! fed datagrams from a few source addresses and a clock the input moves.
//!
//! Input: records of `[ctl][len_lo][len_hi][datagram]`. `ctl`:
//! - bits 0-1: the source (four addresses on two IPs; source 0 is a well-behaved client that
//!   answers the server's `conv_who_are_you2` callbacks with the seqnum the input last used on
//!   that activity);
//! - bits 2-4: milliseconds to advance before the datagram, times 100 (0-700 ms), then the
//!   server's timers run;
//! - bits 5-6: how a call is completed (echo the stub, 8 bytes, a fault, a reject);
//! - bit 7: leave calls running (complete them at the end).
//!
//! Invariants beyond "no panic": every datagram the server sends decodes; an IP address with
//! no verified source never gets more bytes than it sent (the amplification budget);
//! reassembly and reply-cache bytes and the activity count stay within `ClLimits`.
#![no_main]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use msrpc_ndr::{DataRep, Uuid};
use msrpc_proto::cl::conv::{WayRequest, WayResponse, CONV};
use msrpc_proto::cl::pdu::{ClBody, ClHeader, ClPdu};
use msrpc_proto::cl::server::{ClLimits, ClOutcome, ClServer, ClServerConfig, ClServerEvent};
use msrpc_proto::pdu::{FaultStatus, PacketType, SyntaxId};

const EPM: SyntaxId = SyntaxId::new(Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa), 3, 0);
const ECHO: SyntaxId = SyntaxId::new(Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182), 1, 0);

fuzz_target!(|data: &[u8]| {
    let sources: [SocketAddr; 4] = [
        "127.0.6.10:1000".parse().unwrap_or_else(|_| unreachable!()),
        "127.0.6.10:1001".parse().unwrap_or_else(|_| unreachable!()),
        "127.0.6.11:1000".parse().unwrap_or_else(|_| unreachable!()),
        "127.0.6.11:1001".parse().unwrap_or_else(|_| unreachable!()),
    ];
    let limits = ClLimits {
        max_activities: 16,
        max_activities_per_source: 8,
        max_sources: 4,
        max_fragments: 16,
        max_request_bytes: 8 * 1024,
        max_reassembly_per_source: 12 * 1024,
        max_reassembly_total: 20 * 1024,
        max_reply_cache_bytes: 16 * 1024,
        max_verified: 2,
        rate_per_source: 200,
        rate_global: 400,
    };
    let config = ClServerConfig {
        boot_time: 7,
        limits: limits.clone(),
        max_frag_body: 200,
        window: 3,
        ..ClServerConfig::default()
    };
    let mut server = ClServer::new(config, [EPM, ECHO]);
    let mut now = Instant::now();
    let mut seqs: HashMap<Uuid, u32> = HashMap::new();
    let mut running = Vec::new();
    let mut rest = data;
    let mut verified_ip = [false; 2];
    while let [ctl, lo, hi, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(tail.len());
        let (d, next) = tail.split_at(len);
        rest = next;
        let src = sources[usize::from(ctl & 3)];
        now += Duration::from_millis(u64::from((ctl >> 2) & 7) * 100);
        server.handle_timeout(now);
        if let Ok(h) = ClHeader::decode(d) {
            if h.ptype == PacketType::REQUEST {
                seqs.insert(h.activity, h.seqnum);
            }
        }
        server.handle_datagram(now, src, d);
        let mode = (ctl >> 5) & 3;
        let hold = ctl & 0x80 != 0;
        // Drain events and output until quiet (the good client's WAY answers loop back).
        for _ in 0..8 {
            let mut moved = false;
            while let Some(ev) = server.poll_event() {
                moved = true;
                match ev {
                    ClServerEvent::Call(c) if hold => running.push(c.id),
                    ClServerEvent::Call(c) => {
                        let o = match mode {
                            0 => ClOutcome::Response(c.stub),
                            1 => ClOutcome::Response(vec![0; 8]),
                            2 => ClOutcome::Fault(FaultStatus::NCA_S_FAULT_UNSPEC),
                            _ => ClOutcome::Reject(FaultStatus::NCA_S_OP_RNG_ERROR),
                        };
                        server.complete(now, c.id, o);
                    }
                    ClServerEvent::Cancel(id) => {
                        server.complete(now, id, ClOutcome::Fault(FaultStatus::NCA_S_FAULT_CANCEL))
                    }
                    _ => {}
                }
            }
            let mut answers = Vec::new();
            while let Some(t) = server.poll_transmit() {
                moved = true;
                let pdu = ClPdu::decode(&t.bytes).unwrap_or_else(|e| panic!("server sent an undecodable datagram: {e}"));
                let ip = usize::from(t.peer.ip() != sources[0].ip());
                if server.is_verified(t.peer, now) {
                    verified_ip[ip] = true;
                }
                // The good client answers callbacks.
                if t.peer == sources[0] && pdu.header.ptype == PacketType::REQUEST && pdu.header.interface == CONV.uuid {
                    if let ClBody::Request(stub) = &pdu.body {
                        if let Some(q) = WayRequest::decode(stub, pdu.header.drep) {
                            let r = WayResponse {
                                seq: seqs.get(&q.actuid).copied().unwrap_or(0),
                                cas_uuid: Uuid::nil(),
                                st: 0,
                            };
                            let mut h = pdu.header;
                            h.ptype = PacketType::RESPONSE;
                            h.flags1 = Default::default();
                            let answer = ClPdu { header: h, body: ClBody::Response(r.encode(DataRep::LITTLE_ENDIAN)), auth: vec![] };
                            if let Ok(b) = answer.encode() {
                                answers.push(b);
                            }
                        }
                    }
                }
            }
            for a in answers {
                server.handle_datagram(now, sources[0], &a);
            }
            if !moved {
                break;
            }
        }
        for (i, ip) in [sources[0].ip(), sources[2].ip()].into_iter().enumerate() {
            if let Some((bytes_in, bytes_out)) = server.budget(ip) {
                assert!(verified_ip[i] || bytes_out <= bytes_in, "amplification: {bytes_out} > {bytes_in}");
                assert!(bytes_out <= bytes_in, "unverified bytes out {bytes_out} > in {bytes_in}");
            }
        }
        assert!(server.reassembly_bytes() <= limits.max_reassembly_total);
        assert!(server.activities() <= limits.max_activities);
        assert!(server.sources() <= limits.max_sources);
        // the cache may exceed its bound by the one reply just cached
        assert!(server.reply_cache_bytes() <= limits.max_reply_cache_bytes + 70 * 1024);
    }
    for id in running {
        server.complete(now, id, ClOutcome::Response(vec![1; 300]));
    }
    while let Some(t) = server.poll_transmit() {
        let _ = ClPdu::decode(&t.bytes).unwrap_or_else(|e| panic!("server sent an undecodable datagram: {e}"));
    }
});
