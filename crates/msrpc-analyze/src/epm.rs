//! Endpoint mapper answers seen in a capture: `ept_lookup` and `ept_map` decoded with
//! `msrpc-epm`'s generated types into [`EventKind::EpmLookup`] / [`EventKind::EpmMap`], and the
//! TCP/UDP endpoints their towers name (so later connections to those ports are recognised).
//!
//! This is the one place that interprets EPM stubs; when `msrpc_audit::epm::interpret` lands,
//! [`interpret`] becomes a call to it (the endpoint learning stays here).

use std::net::{IpAddr, Ipv4Addr};

use msrpc_audit::EventKind;
use msrpc_epm::tower::{Address, Endpoint};
use msrpc_epm::{
    EptLookupRequest, EptLookupResponse, EptMapAuthRequest, EptMapAuthResponse, EptMapRequest,
    EptMapResponse, Tower, Twr,
};
use msrpc_ndr::{DataRep, DecodeLimits, Unique};

/// The endpoint mapper interface UUID.
pub const EPM_UUID: u128 = 0xe1af8308_5d1f_11c9_91a4_08002b14a0fa;

/// Decoding limits for EPM stubs seen on the wire.
const LIMITS: DecodeLimits = DecodeLimits::DEFAULT;

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

fn learned_from(twr: &Unique<Twr>, out: &mut Vec<Learned>) {
    let Some(t) = twr.get() else { return };
    let Ok(tower) = Tower::decode(&t.tower_octet_string) else {
        return;
    };
    let Some(protocol @ ("ncacn_ip_tcp" | "ncadg_ip_udp")) = tower.protocol_sequence() else {
        return;
    };
    let Some(Endpoint::Port(port)) = tower.endpoint() else {
        return;
    };
    let addr = match tower.address() {
        Some(Address::Ip(a)) if a != Ipv4Addr::UNSPECIFIED => Some(IpAddr::V4(a)),
        _ => None,
    };
    if port != 0 {
        out.push(Learned {
            protocol,
            addr,
            port,
        });
    }
}

fn iface_of(twr: &Unique<Twr>) -> (Option<String>, Option<String>, Option<String>) {
    let tower = twr
        .get()
        .and_then(|t| Tower::decode(&t.tower_octet_string).ok());
    let iface = tower.as_ref().and_then(Tower::interface);
    (
        iface.map(|s| s.uuid.to_string()),
        iface.and_then(|s| msrpc_epm::known::lookup(&s.uuid).map(|k| k.name.to_string())),
        tower
            .as_ref()
            .and_then(Tower::protocol_sequence)
            .map(str::to_string),
    )
}

fn inquiry_name(v: u32) -> String {
    match v {
        msrpc_epm::RPC_C_EP_ALL_ELTS => "all".into(),
        msrpc_epm::RPC_C_EP_MATCH_BY_IF => "interface".into(),
        msrpc_epm::RPC_C_EP_MATCH_BY_OBJ => "object".into(),
        msrpc_epm::RPC_C_EP_MATCH_BY_BOTH => "both".into(),
        other => other.to_string(),
    }
}

/// Interprets one answered EPM call (request and response stubs, each in its own data
/// representation): the event it makes, and the endpoints its towers name. `None` when the
/// operation is not `ept_lookup`/`ept_map`/`ept_map_auth` or a stub does not decode.
pub fn interpret(
    request: &[u8],
    request_drep: DataRep,
    response: &[u8],
    response_drep: DataRep,
    opnum: u16,
    call_id: u32,
) -> Option<(EventKind, Vec<Learned>)> {
    let mut learned = Vec::new();
    match opnum {
        2 => {
            let req = EptLookupRequest::from_stub(request, request_drep, LIMITS).ok()?;
            let resp = EptLookupResponse::from_stub(response, response_drep, LIMITS, &req).ok()?;
            for e in &resp.entries {
                learned_from(&e.tower, &mut learned);
            }
            let interface = req.interface_id.get().map(|i| i.uuid.to_string());
            Some((
                EventKind::EpmLookup {
                    call_id,
                    inquiry: inquiry_name(req.inquiry_type),
                    interface,
                    entries: resp.num_ents,
                    status: resp.status,
                },
                learned,
            ))
        }
        3 => {
            let req = EptMapRequest::from_stub(request, request_drep, LIMITS).ok()?;
            let resp = EptMapResponse::from_stub(response, response_drep, LIMITS, &req).ok()?;
            for t in &resp.towers {
                learned_from(t, &mut learned);
            }
            let (interface, endpoint, protocol) = iface_of(&req.map_tower);
            Some((
                EventKind::EpmMap {
                    call_id,
                    interface,
                    endpoint,
                    protocol,
                    entries: resp.num_towers,
                    status: resp.status,
                },
                learned,
            ))
        }
        7 => {
            let req = EptMapAuthRequest::from_stub(request, request_drep, LIMITS).ok()?;
            let resp = EptMapAuthResponse::from_stub(response, response_drep, LIMITS, &req).ok()?;
            for t in &resp.towers {
                learned_from(t, &mut learned);
            }
            let (interface, endpoint, protocol) = iface_of(&req.map_tower);
            Some((
                EventKind::EpmMap {
                    call_id,
                    interface,
                    endpoint,
                    protocol,
                    entries: resp.num_towers,
                    status: resp.status,
                },
                learned,
            ))
        }
        _ => None,
    }
}
