//! Endpoint resolution through the endpoint mapper (`ept_map`, C706 appendix O, MS-RPCE
//! 2.2.1.2.5).
//!
//! The `ncacn_ip_tcp` and `ncadg_ip_udp` protocol towers (C706 appendix L, MS-RPCE
//! 2.2.1.1.1-2.2.1.1.8) are built and read here with small private functions.

use msrpc_epm::{EptClient, EptMapRequest, Twr};
use msrpc_ndr::{ContextHandle, Unique, Uuid};
use msrpc_proto::dispatch::Invoke;
use msrpc_proto::pdu::SyntaxId;

use crate::client::{Client, ConnectError};

/// The endpoint mapper's well-known `ncacn_ip_tcp` port.
pub const EPM_PORT: u16 = 135;

/// Towers asked for in one `ept_map`.
const MAX_TOWERS: u32 = 4;

/// Floor protocol identifiers (C706 appendix I).
const PROT_UUID: u8 = 0x0d;
const PROT_RPC_CO: u8 = 0x0b;
const PROT_RPC_CL: u8 = 0x0a;
const PROT_TCP: u8 = 0x07;
const PROT_UDP: u8 = 0x08;
const PROT_IP: u8 = 0x09;

fn push_floor(out: &mut Vec<u8>, lhs: &[u8], rhs: &[u8]) {
    // Floors are a few bytes long: the lengths always fit.
    out.extend_from_slice(&(lhs.len() as u16).to_le_bytes());
    out.extend_from_slice(lhs);
    out.extend_from_slice(&(rhs.len() as u16).to_le_bytes());
    out.extend_from_slice(rhs);
}

fn uuid_floor_lhs(s: &SyntaxId) -> Vec<u8> {
    let mut lhs = Vec::with_capacity(19);
    lhs.push(PROT_UUID);
    lhs.extend_from_slice(&s.uuid.to_bytes_le());
    lhs.extend_from_slice(&s.major.to_le_bytes());
    lhs
}

/// The five floors of an `ncacn_ip_tcp` tower for `interface` over NDR 2.0: interface,
/// transfer syntax, RPC connection-oriented protocol (minor version 0), TCP `port` and IPv4
/// `ip` (both big-endian, as towers carry them).
#[cfg(test)]
fn ip_tcp_tower(interface: &SyntaxId, port: u16, ip: [u8; 4]) -> Vec<u8> {
    ip_tower(interface, false, port, ip)
}

/// An `ncacn_ip_tcp` tower, or with `udp` the `ncadg_ip_udp` one (RPC connectionless, 0x0a,
/// and UDP, 0x08).
fn ip_tower(interface: &SyntaxId, udp: bool, port: u16, ip: [u8; 4]) -> Vec<u8> {
    let (rpc, transport) = if udp {
        (PROT_RPC_CL, PROT_UDP)
    } else {
        (PROT_RPC_CO, PROT_TCP)
    };
    let mut t = Vec::with_capacity(75);
    t.extend_from_slice(&5u16.to_le_bytes());
    push_floor(
        &mut t,
        &uuid_floor_lhs(interface),
        &interface.minor.to_le_bytes(),
    );
    let ndr = SyntaxId::NDR20;
    push_floor(&mut t, &uuid_floor_lhs(&ndr), &ndr.minor.to_le_bytes());
    push_floor(&mut t, &[rpc], &0u16.to_le_bytes());
    push_floor(&mut t, &[transport], &port.to_be_bytes());
    push_floor(&mut t, &[PROT_IP], &ip);
    t
}

/// Splits a tower into its floors' (lhs, rhs) octets; `None` when malformed.
fn floors(tower: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if rest.len() < n {
            return None;
        }
        let (head, tail) = rest.split_at(n);
        *rest = tail;
        Some(head)
    }
    fn len16(rest: &mut &[u8]) -> Option<usize> {
        let b = take(rest, 2)?;
        Some(usize::from(u16::from_le_bytes([*b.first()?, *b.get(1)?])))
    }
    let mut rest = tower;
    let count = len16(&mut rest)?;
    // Each floor takes at least 4 bytes: a count beyond that is a lie, not an allocation.
    let mut out = Vec::with_capacity(count.min(rest.len() / 4));
    for _ in 0..count {
        let l = len16(&mut rest)?;
        let lhs = take(&mut rest, l)?;
        let r = len16(&mut rest)?;
        let rhs = take(&mut rest, r)?;
        out.push((lhs, rhs));
    }
    Some(out)
}

/// The TCP port of an `ncacn_ip_tcp` tower for `interface` (same UUID and major version;
/// connection-oriented RPC), or `None` when the tower is something else.
#[cfg(test)]
fn tower_tcp_port(tower: &[u8], interface: &SyntaxId) -> Option<u16> {
    tower_port(tower, interface, false)
}

/// The port of an `ncacn_ip_tcp` (or with `udp`, `ncadg_ip_udp`) tower for `interface`.
fn tower_port(tower: &[u8], interface: &SyntaxId, udp: bool) -> Option<u16> {
    let (rpc, transport) = if udp {
        (PROT_RPC_CL, PROT_UDP)
    } else {
        (PROT_RPC_CO, PROT_TCP)
    };
    let f = floors(tower)?;
    let (if_lhs, _) = f.first()?;
    if if_lhs.first() != Some(&PROT_UUID) || if_lhs.get(1..17)? != interface.uuid.to_bytes_le() {
        return None;
    }
    let major = u16::from_le_bytes([*if_lhs.get(17)?, *if_lhs.get(18)?]);
    if major != interface.major {
        return None;
    }
    if !f.iter().any(|(lhs, _)| *lhs == [rpc]) {
        return None;
    }
    let (_, port) = f.iter().find(|(lhs, _)| *lhs == [transport])?;
    match port {
        [hi, lo] => Some(u16::from_be_bytes([*hi, *lo])).filter(|p| *p != 0),
        _ => None,
    }
}

/// Asks the endpoint mapper behind `epm` for `interface`'s `ncacn_ip_tcp` port.
pub(crate) async fn map_tcp_port(epm: &Client, interface: SyntaxId) -> Result<u16, ConnectError> {
    map_port(epm.clone(), interface, false).await
}

/// Asks the endpoint mapper behind `epm` (over any transport) for `interface`'s
/// `ncacn_ip_tcp` port, or with `udp` its `ncadg_ip_udp` port.
pub(crate) async fn map_port<C: Invoke>(
    epm: C,
    interface: SyntaxId,
    udp: bool,
) -> Result<u16, ConnectError> {
    let ept = EptClient::new(epm);
    let req = EptMapRequest {
        object: Unique::new(Uuid::nil()),
        map_tower: Unique::new(Twr::new(ip_tower(&interface, udp, 0, [0; 4]))),
        entry_handle: ContextHandle::NULL,
        max_towers: MAX_TOWERS,
    };
    let resp = ept.ept_map(req).await.map_err(ConnectError::Epm)?;
    if resp.status != 0 {
        return Err(ConnectError::NotRegistered {
            interface,
            status: resp.status,
        });
    }
    resp.towers
        .iter()
        .filter_map(|t| t.get())
        .find_map(|t| tower_port(&t.tower_octet_string, &interface, udp))
        .ok_or(ConnectError::NotRegistered {
            interface,
            status: msrpc_epm::status::EPT_S_NOT_REGISTERED,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECHO: SyntaxId = SyntaxId::new(
        Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182),
        1,
        0,
    );

    #[test]
    fn tower_layout_matches_ms_rpce() {
        let t = ip_tcp_tower(&ECHO, 135, [127, 0, 0, 1]);
        // Floor count, then floor 1 with the interface UUID in little-endian fields.
        assert_eq!(&t[..5], &[5, 0, 19, 0, 0x0d]);
        assert_eq!(&t[5..9], &[0xc5, 0x5e, 0xa1, 0x60]);
        // The last two floors: TCP port 135 big-endian, IPv4 127.0.0.1.
        assert_eq!(
            &t[t.len() - 16..],
            &[1, 0, 7, 2, 0, 0, 135, 1, 0, 9, 4, 0, 127, 0, 0, 1]
        );
        assert_eq!(
            t.len(),
            2 + (2 + 19 + 2 + 2) * 2 + (2 + 1 + 2 + 2) + (2 + 1 + 2 + 2) + (2 + 1 + 2 + 4)
        );
        assert_eq!(tower_tcp_port(&t, &ECHO), Some(135));
    }

    #[test]
    fn foreign_or_broken_towers_give_no_port() {
        let t = ip_tcp_tower(&ECHO, 135, [0; 4]);
        let other = SyntaxId::new(Uuid::from_u128(1), 1, 0);
        assert_eq!(tower_tcp_port(&t, &other), None);
        let v2 = SyntaxId::new(ECHO.uuid, 2, 0);
        assert_eq!(tower_tcp_port(&t, &v2), None);
        assert_eq!(tower_tcp_port(&ip_tcp_tower(&ECHO, 0, [0; 4]), &ECHO), None);
        for cut in 0..t.len() {
            assert_eq!(tower_tcp_port(&t[..cut], &ECHO), None, "cut at {cut}");
        }
        // A UDP tower is not a TCP one, and the other way round.
        let u = ip_tower(&ECHO, true, 135, [0; 4]);
        assert_eq!(tower_port(&u, &ECHO, true), Some(135));
        assert_eq!(tower_port(&u, &ECHO, false), None);
        assert_eq!(tower_port(&t, &ECHO, true), None);
        // A huge floor count with no floors allocates nothing and fails.
        assert!(floors(&[0xff, 0xff]).is_none());
    }
}
