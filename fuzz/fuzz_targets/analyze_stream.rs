//! The offline analyzer (crates/msrpc-analyze): TCP reassembly, flow table, the passive
//! conversation tracker and the capture reader must never panic, and stay within their bounds.
//!
//! Input: a selector byte, then
//! - selector bit 0 = 0: a segment script: records `[flags, seq_delta u16 LE, len u8, data]`
//!   replayed as Ethernet/IPv4/TCP frames between one client (port 40000+flags bit 0..1) and a
//!   server on port 135 (port 445 for connection 3: SMB and its named pipes) (flags bit 2 set: the client sends; bits 3-6: SYN, FIN, RST, ACK; bit
//!   7: the segment's sequence number goes backwards by the delta instead of forwards), so
//!   reordering, overlaps, retransmissions, gaps and port reuse all occur;
//! - selector bit 0 = 1: the rest is a whole pcap/pcapng file for `msrpc_analyze::run`.
//!
//! Checks: no panic; the flow table never exceeds `max_flows`; every event serializes to JSON.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use msrpc_analyze::net::{build_tcp_v4, tcp_flags};
use msrpc_analyze::{tcp::Caps, Analyzer, Config};

const MAX_FLOWS: usize = 3;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let cfg = Config {
        max_flows: MAX_FLOWS,
        idle_timeout: 30.0,
        tcp_caps: Caps {
            bytes: 4096,
            segments: 16,
        },
        max_held_bytes: 64 * 1024,
        smb: msrpc_analyze::msrpc_smb::Limits {
            max_message: 8192,
            max_pipes: 8,
            max_pending: 16,
            ..Default::default()
        },
    };
    let mut a = Analyzer::new(cfg);
    if sel & 1 == 1 {
        let _ = msrpc_analyze::run(rest, &mut a, |evs| check(&evs), |_| {});
        return;
    }
    let client = Ipv4Addr::new(10, 0, 0, 1);
    let server = Ipv4Addr::new(10, 0, 0, 2);
    let mut seqs = [[1000u32; 2]; 4];
    let mut at = rest;
    let mut ts = 1.0f64;
    // Bounded by the input: each record consumes at least 4 bytes.
    while at.len() >= 4 {
        let flags = at[0];
        let delta = u32::from(u16::from_le_bytes([at[1], at[2]]));
        let len = usize::from(at[3]).min(at.len() - 4);
        let payload = &at[4..4 + len];
        at = &at[4 + len..];
        let conn = usize::from(flags & 3);
        let cport = 40000 + conn as u16;
        // Connection 3 goes to port 445: SMB, with DCE/RPC in its named pipes.
        let sport = if conn == 3 { 445 } else { 135 };
        let from_client = flags & 4 != 0;
        let d = usize::from(!from_client);
        let seq = if flags & 0x80 != 0 {
            seqs[conn][d].wrapping_sub(delta)
        } else {
            seqs[conn][d].wrapping_add(delta)
        };
        seqs[conn][d] = seq.wrapping_add(len as u32);
        let mut tf = 0u8;
        if flags & 0x08 != 0 {
            tf |= tcp_flags::SYN;
        }
        if flags & 0x10 != 0 {
            tf |= tcp_flags::FIN;
        }
        if flags & 0x20 != 0 {
            tf |= tcp_flags::RST;
        }
        if flags & 0x40 != 0 {
            tf |= tcp_flags::ACK;
        }
        let ack = seqs[conn][1 - d];
        let frame = if from_client {
            build_tcp_v4((client, cport), (server, sport), seq, ack, tf, payload)
        } else {
            build_tcp_v4((server, sport), (client, cport), seq, ack, tf, payload)
        };
        ts += 0.5;
        a.packet(ts, 1, &frame);
        assert!(a.flows() <= MAX_FLOWS, "flow table over its cap");
        check(&a.take_events());
    }
    a.finish();
    check(&a.take_events());
});

fn check(events: &[msrpc_audit::Event]) {
    for e in events {
        assert!(serde_json::to_string(e).is_ok(), "event does not serialize: {e:?}");
    }
}
