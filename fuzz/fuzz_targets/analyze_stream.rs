//! The offline analyzer (crates/msrpc-analyze): TCP reassembly, flow table, the passive
//! conversation tracker and the capture reader must never panic, and stay within their bounds.
//!
//! Input: a selector byte, then
//! - selector bit 0 = 0: a segment script: records `[flags, seq_delta u16 LE, len u8, data]`
//!   replayed as Ethernet/IPv4/TCP frames between one client (port 40000+flags bit 0..1) and a
//!   server on port 135 (port 445 for connection 3: SMB and its named pipes) (flags bit 2 set: the client sends; bits 3-6: SYN, FIN, RST, ACK; bit
//!   7: the segment's sequence number goes backwards by the delta instead of forwards), so
//!   reordering, overlaps, retransmissions, gaps and port reuse all occur;
//! - selector bit 0 = 1: the rest is a whole pcap/pcapng file for `msrpc_analyze::run`;
//! - selector bits 0-1 = 2: a connectionless datagram script: records `[flags, ptype, flags1,
//!   seqnum, fragnum, iface, opnum, len u8, body]` become UDP datagrams on port 135 with an
//!   80-byte header (flags bits 0-1: the activity, 2-3: the caller's address, 4: the callee
//!   answers, 5: big-endian, 6: a 4-byte tail after the body, 7: `len` one byte short;
//!   iface: the endpoint mapper, conv, msgsvcsend, ISystemActivator, else its own UUID).
//!
//! Checks: no panic; the flow table never exceeds `max_flows`, the connectionless activities
//! `cl.max_activities` and their held bytes `cl.max_held_bytes`; every event serializes to
//! JSON.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use msrpc_analyze::net::{build_tcp_v4, build_udp_v4, tcp_flags};
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
        cl: msrpc_analyze::cl::Limits {
            max_activities: 3,
            max_fragments: 8,
            max_call_bytes: 2048,
            max_held_bytes: 4096,
            idle_timeout: 30.0,
        },
    };
    let mut a = Analyzer::new(cfg);
    if sel & 1 == 1 {
        let _ = msrpc_analyze::run(rest, &mut a, |evs| check(&evs), |_| {});
        return;
    }
    if sel & 3 == 2 {
        datagrams(&mut a, rest);
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

fn datagrams(a: &mut Analyzer, mut at: &[u8]) {
    use msrpc_ndr::{DataRep, Uuid};
    use msrpc_proto::cl::pdu::{ClFlags1, ClHeader};
    use msrpc_proto::pdu::PacketType;
    let server = Ipv4Addr::new(10, 0, 0, 2);
    let mut ts = 1.0f64;
    while at.len() >= 8 {
        let (f, ptype, flags1, seq, frag, iface, opnum) =
            (at[0], at[1], at[2], at[3], at[4], at[5], at[6]);
        let len = usize::from(at[7]).min(at.len() - 8);
        let body = &at[8..8 + len];
        at = &at[8 + len..];
        let interface = match iface % 5 {
            0 => Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa),
            1 => Uuid::from_u128(0x333a2276_0000_0000_0d00_00809c000000),
            2 => Uuid::from_u128(0x5a7b91f8_ff00_11d0_a9b2_00c04fb6e6fc),
            3 => Uuid::from_u128(0x000001a0_0000_0000_c000_000000000046),
            _ => Uuid::from_u128(u128::from(iface)),
        };
        let h = ClHeader {
            ptype: PacketType(ptype % 12),
            flags1: ClFlags1(flags1),
            drep: if f & 0x20 != 0 {
                DataRep::BIG_ENDIAN
            } else {
                DataRep::LITTLE_ENDIAN
            },
            interface,
            activity: Uuid::from_u128(u128::from(f & 3) + 1),
            seqnum: u32::from(seq),
            opnum: u16::from(opnum),
            len: (len as u16).saturating_sub(u16::from(f >> 7)),
            fragnum: u16::from(frag),
            ..ClHeader::default()
        };
        let mut d = Vec::new();
        h.encode_into(&mut d);
        d.extend_from_slice(body);
        if f & 0x40 != 0 {
            d.extend_from_slice(&[1, 2, 3, 4]);
        }
        let client = (Ipv4Addr::new(10, 0, 1, (f >> 2) & 3), 40000);
        let frame = if f & 0x10 != 0 {
            build_udp_v4((server, 135), client, &d)
        } else {
            build_udp_v4(client, (server, 135), &d)
        };
        ts += 7.0;
        a.packet(ts, 1, &frame);
        assert!(a.cl_activities() <= 3, "activities over their cap");
        assert!(a.cl_held_bytes() <= 4096, "held bytes over their cap");
        check(&a.take_events());
    }
    a.finish();
    assert_eq!(a.cl_activities(), 0, "activities left after the capture's end");
    check(&a.take_events());
}

fn check(events: &[msrpc_audit::Event]) {
    for e in events {
        assert!(serde_json::to_string(e).is_ok(), "event does not serialize: {e:?}");
    }
}
