//! A minimal pcap writer for tests: lays recorded DCE/RPC byte streams into synthetic
//! Ethernet/IPv4/TCP packets so tshark's dissector can judge them.

/// One TCP payload and its direction.
#[derive(Clone, Debug)]
pub struct Segment {
    /// True for client-to-server.
    pub to_server: bool,
    /// The payload.
    pub data: Vec<u8>,
}

type Ep = ([u8; 4], u16);

/// TCP fields of one packet.
struct Tcp {
    seq: u32,
    ack: u32,
    flags: u8,
}

fn checksum(words: &[u8]) -> u16 {
    let mut sum: u32 = words
        .chunks_exact(2)
        .map(|c| match c {
            [a, b] => u32::from(u16::from_be_bytes([*a, *b])),
            _ => 0,
        })
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn packet(out: &mut Vec<u8>, t: u32, (src, dst): (Ep, Ep), tcp: Tcp, payload: &[u8]) {
    let ip_len = (20 + 20 + payload.len()) as u16;
    let frame_len = 14 + u32::from(ip_len);
    // pcap record header
    out.extend_from_slice(&t.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&frame_len.to_le_bytes());
    out.extend_from_slice(&frame_len.to_le_bytes());
    // Ethernet
    out.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00]);
    // IPv4: header without checksum, then with it
    let head = |sum: u16| {
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&ip_len.to_be_bytes());
        ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 6]);
        ip.extend_from_slice(&sum.to_be_bytes());
        ip.extend_from_slice(&src.0);
        ip.extend_from_slice(&dst.0);
        ip
    };
    out.extend_from_slice(&head(checksum(&head(0))));
    // TCP
    out.extend_from_slice(&src.1.to_be_bytes());
    out.extend_from_slice(&dst.1.to_be_bytes());
    out.extend_from_slice(&tcp.seq.to_be_bytes());
    out.extend_from_slice(&tcp.ack.to_be_bytes());
    out.extend_from_slice(&[0x50, tcp.flags, 0xff, 0xff, 0, 0, 0, 0]);
    out.extend_from_slice(payload);
}

/// A pcap file holding one TCP connection from 127.0.0.1:`client_port` to
/// 127.0.0.1:`server_port` (handshake, then every segment in order).
pub fn tcp_session(client_port: u16, server_port: u16, segments: &[Segment]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&262_144u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    let c = ([127, 0, 0, 1], client_port);
    let s = ([127, 0, 0, 1], server_port);
    let (mut cseq, mut sseq) = (1000u32, 5000u32);
    let mut t = 1_700_000_000u32;
    packet(
        &mut out,
        t,
        (c, s),
        Tcp {
            seq: cseq,
            ack: 0,
            flags: 0x02,
        },
        &[],
    );
    packet(
        &mut out,
        t,
        (s, c),
        Tcp {
            seq: sseq,
            ack: cseq + 1,
            flags: 0x12,
        },
        &[],
    );
    cseq += 1;
    sseq += 1;
    packet(
        &mut out,
        t,
        (c, s),
        Tcp {
            seq: cseq,
            ack: sseq,
            flags: 0x10,
        },
        &[],
    );
    for seg in segments {
        t += 1;
        if seg.to_server {
            packet(
                &mut out,
                t,
                (c, s),
                Tcp {
                    seq: cseq,
                    ack: sseq,
                    flags: 0x18,
                },
                &seg.data,
            );
            cseq = cseq.wrapping_add(seg.data.len() as u32);
        } else {
            packet(
                &mut out,
                t,
                (s, c),
                Tcp {
                    seq: sseq,
                    ack: cseq,
                    flags: 0x18,
                },
                &seg.data,
            );
            sseq = sseq.wrapping_add(seg.data.len() as u32);
        }
    }
    out
}

/// One UDP datagram in an Ethernet/IPv4 frame (UDP checksum 0: none, as IPv4 allows).
fn udp_packet(out: &mut Vec<u8>, t: u32, (src, dst): (Ep, Ep), payload: &[u8]) {
    let udp_len = (8 + payload.len()) as u16;
    let ip_len = 20 + udp_len;
    let frame_len = 14 + u32::from(ip_len);
    out.extend_from_slice(&t.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&frame_len.to_le_bytes());
    out.extend_from_slice(&frame_len.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00]);
    let head = |sum: u16| {
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&ip_len.to_be_bytes());
        ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 17]);
        ip.extend_from_slice(&sum.to_be_bytes());
        ip.extend_from_slice(&src.0);
        ip.extend_from_slice(&dst.0);
        ip
    };
    out.extend_from_slice(&head(checksum(&head(0))));
    out.extend_from_slice(&src.1.to_be_bytes());
    out.extend_from_slice(&dst.1.to_be_bytes());
    out.extend_from_slice(&udp_len.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
}

/// A pcap file of UDP datagrams between 127.0.0.1:`client_port` and 127.0.0.1:`server_port`
/// (one datagram per [`Segment`], in order).
pub fn udp_datagrams(client_port: u16, server_port: u16, datagrams: &[Segment]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&262_144u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    let c = ([127, 0, 0, 1], client_port);
    let s = ([127, 0, 0, 1], server_port);
    for (i, d) in datagrams.iter().enumerate() {
        let t = 1_700_000_000u32 + i as u32;
        let ends = if d.to_server { (c, s) } else { (s, c) };
        udp_packet(&mut out, t, ends, &d.data);
    }
    out
}
