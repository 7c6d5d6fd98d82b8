//! Connectionless DCE/RPC (`ncadg_ip_udp`, C706 chapter 12.5): the 80-byte header is
//! recognised and counted (packet type, interface, opnum); bodies are not decoded.

use msrpc_ndr::Uuid;

/// The connectionless header length.
pub const CL_HEADER_LEN: usize = 80;

/// The fields of a connectionless header this crate counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClHeader {
    /// Packet type (0 request, 2 response, 3 fault, 1 ping, 4-10 others).
    pub ptype: u8,
    /// Interface UUID.
    pub interface: Uuid,
    /// Interface major version.
    pub if_major: u16,
    /// Operation number.
    pub opnum: u16,
    /// Body length.
    pub len: u16,
    /// Fragment number.
    pub fragnum: u16,
}

fn uuid_at(b: &[u8], at: usize, little: bool) -> Option<Uuid> {
    let f: [u8; 16] = b.get(at..at + 16)?.try_into().ok()?;
    let mut g = f;
    if little {
        g[..4].reverse();
        g[4..6].reverse();
        g[6..8].reverse();
    }
    Some(Uuid::from_bytes(g))
}

/// Parses a connectionless header; `None` when `b` is not one (version 4, packet type 0-10, a
/// known integer representation, a body length that fits the datagram).
pub fn parse(b: &[u8]) -> Option<ClHeader> {
    if b.len() < CL_HEADER_LEN || *b.first()? != 4 || *b.get(1)? > 10 {
        return None;
    }
    let drep0 = *b.get(4)?;
    if drep0 & 0xef != 0 {
        return None;
    }
    let little = drep0 & 0x10 != 0;
    let u16_at = |at: usize| -> Option<u16> {
        let v = [*b.get(at)?, *b.get(at + 1)?];
        Some(if little {
            u16::from_le_bytes(v)
        } else {
            u16::from_be_bytes(v)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let v: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(v)
        } else {
            u32::from_be_bytes(v)
        })
    };
    let len = u16_at(74)?;
    if CL_HEADER_LEN + usize::from(len) > b.len() {
        return None;
    }
    let vers = u32_at(60)?;
    Some(ClHeader {
        ptype: *b.get(1)?,
        interface: uuid_at(b, 24, little)?,
        if_major: (vers & 0xffff) as u16,
        opnum: u16_at(68)?,
        len,
        fragnum: u16_at(76)?,
    })
}

/// The connectionless packet type's name.
pub fn ptype_name(p: u8) -> &'static str {
    match p {
        0 => "request",
        1 => "ping",
        2 => "response",
        3 => "fault",
        4 => "working",
        5 => "nocall",
        6 => "reject",
        7 => "ack",
        8 => "cl_cancel",
        9 => "fack",
        10 => "cancel_ack",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_request_header() {
        let mut b = vec![0u8; 84];
        b[0] = 4;
        b[1] = 0;
        b[4] = 0x10;
        let u = Uuid::parse_str("e1af8308-5d1f-11c9-91a4-08002b14a0fa").unwrap_or_default();
        let mut le = *u.as_bytes();
        le[..4].reverse();
        le[4..6].reverse();
        le[6..8].reverse();
        b[24..40].copy_from_slice(&le);
        b[60..64].copy_from_slice(&3u32.to_le_bytes());
        b[68..70].copy_from_slice(&2u16.to_le_bytes());
        b[74..76].copy_from_slice(&4u16.to_le_bytes());
        let h = parse(&b).unwrap_or_else(|| panic!("no header"));
        assert_eq!(h.interface, u);
        assert_eq!((h.opnum, h.if_major, h.len), (2, 3, 4));
        b[74] = 5; // body longer than the datagram
        assert!(parse(&b).is_none());
        for n in 0..84 {
            let _ = parse(&b[..n]);
        }
    }
}
