//! Link, network and transport headers: Ethernet (with 802.1Q/802.1ad tags), Linux cooked
//! capture v1 and v2, raw IP and BSD loopback; IPv4 (unfragmented) and IPv6 (extension headers
//! skipped); TCP and UDP. Everything else is reported as not decoded.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// TCP flags this crate looks at.
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// A decoded transport segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment<'a> {
    /// A TCP segment.
    Tcp {
        /// Source address.
        src: IpAddr,
        /// Destination address.
        dst: IpAddr,
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// Sequence number.
        seq: u32,
        /// Acknowledgement number (meaningful with the ACK flag).
        ack: u32,
        /// Flags byte.
        flags: u8,
        /// Payload.
        payload: &'a [u8],
    },
    /// A UDP datagram.
    Udp {
        /// Source address.
        src: IpAddr,
        /// Destination address.
        dst: IpAddr,
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// Payload.
        payload: &'a [u8],
    },
}

/// Why a packet was not decoded to a segment (counted, never an error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// A link type this crate does not read.
    LinkType,
    /// Not IP (ARP, ...), or an IP protocol other than TCP and UDP.
    NotTcpUdp,
    /// An IP fragment.
    Fragment,
    /// Headers cut short.
    Truncated,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// Decodes a packet of link type `linktype` down to its TCP or UDP segment.
pub fn decode(linktype: u32, data: &[u8]) -> Result<Segment<'_>, Skip> {
    let (ethertype, rest) = match linktype {
        // Ethernet.
        1 => ethernet(data)?,
        // Linux cooked capture v1.
        113 => (
            be16(data, 14).ok_or(Skip::Truncated)?,
            data.get(16..).ok_or(Skip::Truncated)?,
        ),
        // Linux cooked capture v2.
        276 => (
            be16(data, 0).ok_or(Skip::Truncated)?,
            data.get(20..).ok_or(Skip::Truncated)?,
        ),
        // Raw IP (LINKTYPE_RAW and the DLT_RAW values of some systems), IPv4, IPv6.
        101 | 12 | 14 | 228 | 229 => (0, data),
        // BSD loopback (host or network byte order family).
        0 | 108 => (0, data.get(4..).ok_or(Skip::Truncated)?),
        _ => return Err(Skip::LinkType),
    };
    match ethertype {
        0x0800 => ipv4(rest),
        0x86dd => ipv6(rest),
        0 => match rest.first().map(|b| b >> 4) {
            Some(4) => ipv4(rest),
            Some(6) => ipv6(rest),
            _ => Err(Skip::NotTcpUdp),
        },
        _ => Err(Skip::NotTcpUdp),
    }
}

fn ethernet(data: &[u8]) -> Result<(u16, &[u8]), Skip> {
    let mut at = 12;
    // At most two stacked tags (802.1ad + 802.1Q), plus slack for odd captures.
    for _ in 0..4 {
        let t = be16(data, at).ok_or(Skip::Truncated)?;
        if t == 0x8100 || t == 0x88a8 || t == 0x9100 {
            at += 4;
            continue;
        }
        return Ok((t, data.get(at + 2..).ok_or(Skip::Truncated)?));
    }
    Err(Skip::NotTcpUdp)
}

fn ipv4(b: &[u8]) -> Result<Segment<'_>, Skip> {
    let ihl = usize::from(b.first().ok_or(Skip::Truncated)? & 0x0f) * 4;
    let total = usize::from(be16(b, 2).ok_or(Skip::Truncated)?);
    let frag = be16(b, 6).ok_or(Skip::Truncated)?;
    let proto = *b.get(9).ok_or(Skip::Truncated)?;
    let src = Ipv4Addr::from(be32(b, 12).ok_or(Skip::Truncated)?);
    let dst = Ipv4Addr::from(be32(b, 16).ok_or(Skip::Truncated)?);
    if ihl < 20 {
        return Err(Skip::Truncated);
    }
    if frag & 0x3fff != 0 {
        return Err(Skip::Fragment);
    }
    // Trim Ethernet padding; tolerate a total length of 0 (TSO captures) or beyond the data.
    let end = if total >= ihl && total <= b.len() {
        total
    } else {
        b.len()
    };
    let payload = b.get(ihl..end).ok_or(Skip::Truncated)?;
    transport(proto, IpAddr::V4(src), IpAddr::V4(dst), payload)
}

fn ipv6(b: &[u8]) -> Result<Segment<'_>, Skip> {
    let plen = usize::from(be16(b, 4).ok_or(Skip::Truncated)?);
    let mut next = *b.get(6).ok_or(Skip::Truncated)?;
    let src: [u8; 16] = b
        .get(8..24)
        .and_then(|s| s.try_into().ok())
        .ok_or(Skip::Truncated)?;
    let dst: [u8; 16] = b
        .get(24..40)
        .and_then(|s| s.try_into().ok())
        .ok_or(Skip::Truncated)?;
    let end = if plen > 0 && 40 + plen <= b.len() {
        40 + plen
    } else {
        b.len()
    };
    let mut at = 40;
    // Extension headers: bounded count.
    for _ in 0..8 {
        match next {
            0 | 43 | 60 => {
                let n = *b.get(at).ok_or(Skip::Truncated)?;
                let len = (usize::from(*b.get(at + 1).ok_or(Skip::Truncated)?) + 1) * 8;
                next = n;
                at += len;
            }
            44 => return Err(Skip::Fragment),
            _ => break,
        }
    }
    let payload = b.get(at..end).ok_or(Skip::Truncated)?;
    transport(
        next,
        IpAddr::V6(Ipv6Addr::from(src)),
        IpAddr::V6(Ipv6Addr::from(dst)),
        payload,
    )
}

fn transport(proto: u8, src: IpAddr, dst: IpAddr, b: &[u8]) -> Result<Segment<'_>, Skip> {
    match proto {
        6 => {
            let off = usize::from(b.get(12).ok_or(Skip::Truncated)? >> 4) * 4;
            if off < 20 {
                return Err(Skip::Truncated);
            }
            Ok(Segment::Tcp {
                src,
                dst,
                sport: be16(b, 0).ok_or(Skip::Truncated)?,
                dport: be16(b, 2).ok_or(Skip::Truncated)?,
                seq: be32(b, 4).ok_or(Skip::Truncated)?,
                ack: be32(b, 8).ok_or(Skip::Truncated)?,
                flags: *b.get(13).ok_or(Skip::Truncated)?,
                payload: b.get(off..).ok_or(Skip::Truncated)?,
            })
        }
        17 => {
            let len = usize::from(be16(b, 4).ok_or(Skip::Truncated)?);
            let end = if len >= 8 && len <= b.len() {
                len
            } else {
                b.len()
            };
            Ok(Segment::Udp {
                src,
                dst,
                sport: be16(b, 0).ok_or(Skip::Truncated)?,
                dport: be16(b, 2).ok_or(Skip::Truncated)?,
                payload: b.get(8..end).ok_or(Skip::Truncated)?,
            })
        }
        _ => Err(Skip::NotTcpUdp),
    }
}

/// Builds an Ethernet + IPv4 + TCP frame (for tests and fuzzing; checksums left zero).
pub fn build_tcp_v4(
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend([0x08, 0x00]);
    let total = (20 + 20 + payload.len()).min(usize::from(u16::MAX)) as u16;
    f.extend([0x45, 0]);
    f.extend(total.to_be_bytes());
    f.extend([0, 0, 0x40, 0, 64, 6, 0, 0]);
    f.extend(src.0.octets());
    f.extend(dst.0.octets());
    f.extend(src.1.to_be_bytes());
    f.extend(dst.1.to_be_bytes());
    f.extend(seq.to_be_bytes());
    f.extend(ack.to_be_bytes());
    f.extend([0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

/// Builds an Ethernet + IPv4 + UDP frame (for tests and fuzzing; checksums left zero).
pub fn build_udp_v4(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend([0x08, 0x00]);
    let udp = (8 + payload.len()).min(usize::from(u16::MAX) - 20) as u16;
    f.extend([0x45, 0]);
    f.extend((udp + 20).to_be_bytes());
    f.extend([0, 0, 0x40, 0, 64, 17, 0, 0]);
    f.extend(src.0.octets());
    f.extend(dst.0.octets());
    f.extend(src.1.to_be_bytes());
    f.extend(dst.1.to_be_bytes());
    f.extend(udp.to_be_bytes());
    f.extend([0, 0]);
    f.extend_from_slice(payload);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethernet_vlan_tcp() {
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let b = Ipv4Addr::new(10, 0, 0, 2);
        let f = build_tcp_v4((a, 1000), (b, 135), 7, 9, tcp_flags::ACK, b"xy");
        let seg = decode(1, &f).unwrap();
        assert_eq!(
            seg,
            Segment::Tcp {
                src: a.into(),
                dst: b.into(),
                sport: 1000,
                dport: 135,
                seq: 7,
                ack: 9,
                flags: tcp_flags::ACK,
                payload: b"xy"
            }
        );
        // The same behind a VLAN tag.
        let mut tagged = f[..12].to_vec();
        tagged.extend([0x81, 0x00, 0, 5]);
        tagged.extend_from_slice(&f[12..]);
        assert_eq!(decode(1, &tagged).unwrap(), seg);
        // Raw IP.
        assert_eq!(decode(101, &f[14..]).unwrap(), seg);
        // Truncations never panic.
        for n in 0..f.len() {
            let _ = decode(1, &f[..n]);
        }
        assert_eq!(decode(9999, &f), Err(Skip::LinkType));
    }

    #[test]
    fn ipv6_cooked_and_loopback_link_types() {
        let mut ip6 = vec![0x60, 0, 0, 0];
        let mut udp = Vec::new();
        udp.extend(5000u16.to_be_bytes());
        udp.extend(135u16.to_be_bytes());
        udp.extend(11u16.to_be_bytes());
        udp.extend([0, 0]);
        udp.extend(b"abc");
        // A hop-by-hop header before UDP.
        let mut payload = vec![17, 0, 0, 0, 0, 0, 0, 0];
        payload.extend(&udp);
        ip6.extend((payload.len() as u16).to_be_bytes());
        ip6.extend([0, 64]); // next header: hop-by-hop
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let dst: Ipv6Addr = "fe80::2".parse().unwrap();
        ip6.extend(src.octets());
        ip6.extend(dst.octets());
        ip6.extend(&payload);
        let want = Segment::Udp {
            src: src.into(),
            dst: dst.into(),
            sport: 5000,
            dport: 135,
            payload: b"abc",
        };
        // Linux cooked v1: 16 bytes, protocol at 14.
        let mut sll = vec![0u8; 14];
        sll.extend([0x86, 0xdd]);
        sll.extend(&ip6);
        assert_eq!(decode(113, &sll).unwrap(), want);
        // Linux cooked v2: protocol first, 20 bytes.
        let mut sll2 = vec![0x86, 0xdd];
        sll2.extend([0u8; 18]);
        sll2.extend(&ip6);
        assert_eq!(decode(276, &sll2).unwrap(), want);
        // BSD loopback: a 4-byte family.
        let mut lo = vec![30, 0, 0, 0];
        lo.extend(&ip6);
        assert_eq!(decode(0, &lo).unwrap(), want);
        // IPv4 fragments are skipped.
        let a = Ipv4Addr::new(1, 1, 1, 1);
        let mut f = build_tcp_v4((a, 1), (a, 2), 0, 0, 0, b"x");
        f[14 + 6] = 0x20; // more fragments
        assert_eq!(decode(1, &f), Err(Skip::Fragment));
    }
}
