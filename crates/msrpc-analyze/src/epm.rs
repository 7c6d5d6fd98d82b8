//! Endpoint mapper answers seen in a capture: interpreted by `msrpc_audit::epm::interpret_call`
//! (the same decoder the live daemon's audit uses) into [`EventKind::EpmLookup`] /
//! [`EventKind::EpmMap`], plus the TCP/UDP endpoints the answered towers name (so later
//! connections to those ports are recognised as DCE/RPC).

use std::net::{IpAddr, Ipv4Addr};

use msrpc_audit::EventKind;
use msrpc_epm::tower::{Address, Endpoint};
use msrpc_epm::Tower;
use msrpc_ndr::{DataRep, TransferSyntax};

/// The endpoint mapper interface UUID.
pub const EPM_UUID: u128 = 0xe1af8308_5d1f_11c9_91a4_08002b14a0fa;

/// An endpoint a tower names: protocol sequence, address (when the tower gives one that is
/// not the unspecified address) and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Learned {
    /// `ncacn_ip_tcp` or `ncadg_ip_udp`.
    pub protocol: &'static str,
    /// The host, when the tower names one.
    pub addr: Option<IpAddr>,
    /// The port.
    pub port: u16,
}

/// The TCP/UDP endpoint `tower` names, if any.
fn learned_from(tower: &Tower) -> Option<Learned> {
    let protocol @ ("ncacn_ip_tcp" | "ncadg_ip_udp") = tower.protocol_sequence()? else {
        return None;
    };
    let Some(Endpoint::Port(port)) = tower.endpoint() else {
        return None;
    };
    let addr = match tower.address() {
        Some(Address::Ip(a)) if a != Ipv4Addr::UNSPECIFIED => Some(IpAddr::V4(a)),
        _ => None,
    };
    (port != 0).then_some(Learned {
        protocol,
        addr,
        port,
    })
}

/// Interprets one answered EPM call (request and response stubs, each in its own data
/// representation, both in the transfer syntax `syntax` the call's context accepted): the
/// event it makes (with `call_id` set), and the endpoints its towers name.
/// `None` when the operation is not `ept_lookup`/`ept_map`/`ept_map_auth` or a stub does not
/// decode.
pub fn interpret(
    request: &[u8],
    request_drep: DataRep,
    response: &[u8],
    response_drep: DataRep,
    syntax: TransferSyntax,
    opnum: u16,
    call_id: u32,
) -> Option<(EventKind, Vec<Learned>)> {
    let i = msrpc_audit::epm::interpret_call(
        request,
        request_drep,
        response,
        response_drep,
        syntax,
        opnum,
    )?;
    let learned = i.towers.iter().filter_map(learned_from).collect();
    let mut event = i.event;
    match &mut event {
        EventKind::EpmLookup { call_id: c, .. } | EventKind::EpmMap { call_id: c, .. } => {
            *c = call_id
        }
        _ => {}
    }
    Some((event, learned))
}
