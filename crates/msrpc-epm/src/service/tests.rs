//! The EPM service through `EptServer`'s `Dispatch`, with encoded stubs: paging as rpcdump
//! loops, ept_map, access control, handles, rundown, and Impacket's own requests.

use super::*;
use crate::db::NewEntry;
use crate::tower::tests::vector;
use crate::{EptInterface, EptServer, RpcIfId};
use futures::executor::block_on;
use msrpc_ndr::{DataRep, DecodeLimits};
use msrpc_proto::dispatch::{Dispatch, DispatchError, Interface};
use msrpc_proto::pdu::FaultStatus;
use std::net::Ipv4Addr;

const LE: DataRep = DataRep::LITTLE_ENDIAN;
const BE: DataRep = DataRep::BIG_ENDIAN;
const LIM: DecodeLimits = DecodeLimits::DEFAULT;
const GROUP: u32 = 0x1234;

type Server = EptServer<EpmService>;

fn rpcecho() -> SyntaxId {
    SyntaxId::new(
        Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182),
        1,
        0,
    )
}

fn iface(n: u128) -> SyntaxId {
    SyntaxId::new(Uuid::from_u128(0x5000_0000 + n), 1, 0)
}

fn tcp(i: SyntaxId, port: u16) -> Tower {
    Tower::ncacn_ip_tcp(i, SyntaxId::NDR20, Ipv4Addr::LOCALHOST, port)
}

fn server() -> Server {
    EptServer::new(EpmService::new(Arc::new(Mutex::new(EndpointDb::new()))))
}

fn server_with(config: EpmConfig) -> Server {
    EptServer::new(EpmService::with_config(
        Arc::new(Mutex::new(EndpointDb::new())),
        config,
    ))
}

fn register(s: &Server, entries: Vec<NewEntry>) {
    s.service()
        .db()
        .lock()
        .unwrap()
        .register(db_owner(), entries, false)
        .unwrap();
}

fn db_owner() -> u64 {
    crate::db::IN_PROCESS_OWNER_BASE
}

fn db_len(s: &Server) -> usize {
    s.service().db().lock().unwrap().len()
}

fn ctx(opnum: u16, group: u32, local: bool) -> CallContext {
    CallContext {
        opnum,
        assoc_group_id: group,
        local,
        ..CallContext::default()
    }
}

fn raw(s: &Server, c: CallContext, stub: Vec<u8>, drep: DataRep) -> Result<Vec<u8>, DispatchError> {
    block_on(s.dispatch(c, stub, drep, LIM))
}

fn lookup_in(
    s: &Server,
    group: u32,
    req: &EptLookupRequest,
) -> Result<EptLookupResponse, DispatchError> {
    let out = raw(s, ctx(2, group, false), req.to_stub(LE).unwrap(), LE)?;
    Ok(EptLookupResponse::from_stub(&out, LE, LIM, req).unwrap())
}

fn lookup(s: &Server, req: &EptLookupRequest) -> EptLookupResponse {
    lookup_in(s, GROUP, req).unwrap()
}

fn map_in(s: &Server, group: u32, req: &EptMapRequest) -> Result<EptMapResponse, DispatchError> {
    let out = raw(s, ctx(3, group, false), req.to_stub(LE).unwrap(), LE)?;
    Ok(EptMapResponse::from_stub(&out, LE, LIM, req).unwrap())
}

fn map(s: &Server, req: &EptMapRequest) -> EptMapResponse {
    map_in(s, GROUP, req).unwrap()
}

fn all_elts(handle: ContextHandle, max_ents: u32) -> EptLookupRequest {
    EptLookupRequest {
        inquiry_type: crate::RPC_C_EP_ALL_ELTS,
        object: Unique::null(),
        interface_id: Unique::null(),
        vers_option: crate::RPC_C_VERS_ALL,
        entry_handle: handle,
        max_ents,
    }
}

fn map_req(tower: &Tower, handle: ContextHandle, max_towers: u32) -> EptMapRequest {
    EptMapRequest {
        object: Unique::new(Uuid::nil()),
        map_tower: Unique::new(tower.to_twr().unwrap()),
        entry_handle: handle,
        max_towers,
    }
}

/// What Impacket's `hept_lookup` does: loop until the handle is null, raising on any non-zero
/// status (and so losing what it had). It asks for 500; against Windows as against us, a walk
/// whose last batch is full ends with `ept_s_not_registered`, so callers pass a `max_ents` that
/// does not divide the number of entries.
fn rpcdump(s: &Server, max_ents: u32) -> Vec<EptEntry> {
    let mut handle = ContextHandle::NULL;
    let mut out = Vec::new();
    loop {
        let resp = lookup(s, &all_elts(handle, max_ents));
        assert_eq!(
            resp.status,
            0,
            "hept_lookup would raise, dropping {} entries",
            out.len()
        );
        assert_eq!(resp.num_ents as usize, resp.entries.len());
        assert!(resp.entries.len() <= max_ents as usize);
        out.extend(resp.entries);
        handle = resp.entry_handle;
        if handle.is_null() {
            return out;
        }
        assert!(!out.is_empty(), "a live handle comes with entries");
    }
}

fn port_of(e: &EptEntry) -> u16 {
    match Tower::from_twr(e.tower.get().unwrap()).unwrap().endpoint() {
        Some(crate::tower::Endpoint::Port(p)) => p,
        other => panic!("{other:?}"),
    }
}

#[test]
fn rpcdump_loop_collects_every_entry_once() {
    let s = server();
    register(
        &s,
        (0..1000u16)
            .map(|p| {
                NewEntry::new(
                    Uuid::nil(),
                    tcp(iface(u128::from(p % 7)), p),
                    format!("e{p}"),
                )
            })
            .collect(),
    );
    for max_ents in [600, 13, 1001, 3, 999, 4096] {
        let got = rpcdump(&s, max_ents);
        let ports: Vec<u16> = got.iter().map(port_of).collect();
        assert_eq!(ports, (0..1000).collect::<Vec<_>>(), "max_ents {max_ents}");
        assert_eq!(got[17].annotation, "e17");
        assert_eq!(s.service().live_handles(), 0, "walk over, handle closed");
    }
    // 1000 / 500: two full batches with a live handle (a full batch keeps its handle), then
    // what Windows answers when nothing is left: no element, ept_s_not_registered, null handle.
    let first = lookup(&s, &all_elts(ContextHandle::NULL, 500));
    assert!(!first.entry_handle.is_null());
    assert_eq!(first.num_ents, 500);
    let second = lookup(&s, &all_elts(first.entry_handle, 500));
    assert!(!second.entry_handle.is_null());
    assert_eq!((second.num_ents, second.status), (500, 0));
    let third = lookup(&s, &all_elts(second.entry_handle, 500));
    assert!(third.entry_handle.is_null());
    assert_eq!(
        (third.num_ents, third.status),
        (0, status::EPT_S_NOT_REGISTERED)
    );
    assert!(third.entries.is_empty());
    assert_eq!(s.service().live_handles(), 0);
    // 1000 / 600: the short second batch ends the walk.
    let first = lookup(&s, &all_elts(ContextHandle::NULL, 600));
    let second = lookup(&s, &all_elts(first.entry_handle, 600));
    assert!(second.entry_handle.is_null());
    assert_eq!((second.num_ents, second.status), (400, 0));
    assert_eq!(s.service().live_handles(), 0);
}

/// A server whose map holds `n` entries of one interface, on ports 0..n.
fn server_with_ports(n: u16) -> Server {
    let s = server();
    register(
        &s,
        (0..n)
            .map(|p| NewEntry::new(Uuid::nil(), tcp(iface(1), p), ""))
            .collect(),
    );
    s
}

/// A `max_ents = 1` walk as Windows' endpoint mapper answers it (captures): one element per
/// answer with status 0 and a live handle, then no element, `ept_s_not_registered` and the
/// null handle.
#[test]
fn max_ents_1_walk_ends_as_windows_does() {
    let s = server_with_ports(3);
    let mut handle = ContextHandle::NULL;
    for port in 0..3u16 {
        let r = lookup(&s, &all_elts(handle, 1));
        assert_eq!((r.status, r.num_ents), (0, 1), "entry {port}");
        assert_eq!(r.entries.iter().map(port_of).collect::<Vec<_>>(), [port]);
        assert!(!r.entry_handle.is_null(), "a full batch keeps its handle");
        handle = r.entry_handle;
    }
    let last = lookup(&s, &all_elts(handle, 1));
    assert_eq!(
        (last.status, last.num_ents),
        (status::EPT_S_NOT_REGISTERED, 0)
    );
    assert!(last.entries.is_empty() && last.entry_handle.is_null());
    assert_eq!(s.service().live_handles(), 0);
    // A short last batch: status 0 and the null handle at once.
    let r = lookup(&s, &all_elts(ContextHandle::NULL, 2));
    let r = lookup(&s, &all_elts(r.entry_handle, 2));
    assert_eq!((r.status, r.num_ents), (0, 1));
    assert!(r.entry_handle.is_null());
    assert_eq!(s.service().live_handles(), 0);
}

/// Samba's `rpcclient epmlookup`: one element per call with the handle it was given,
/// stopping on a non-zero status or a count other than 1; a null handle restarts the walk.
#[test]
fn rpcclient_epmlookup_loop_ends() {
    let s = server_with_ports(3);
    let mut handle = ContextHandle::NULL;
    let mut got = Vec::new();
    for _ in 0..10 {
        let r = lookup(&s, &all_elts(handle, 1));
        if r.status != 0 || r.num_ents != 1 {
            break;
        }
        got.extend(r.entries.iter().map(port_of));
        handle = r.entry_handle;
    }
    assert_eq!(got, vec![0, 1, 2]);
    assert_eq!(s.service().live_handles(), 0);
}

#[test]
fn lookup_with_nothing_registered_or_matching() {
    let s = server();
    let resp = lookup(&s, &all_elts(ContextHandle::NULL, 500));
    assert_eq!(resp.status, status::EPT_S_NOT_REGISTERED);
    assert!(resp.entry_handle.is_null());
    assert!(resp.entries.is_empty());
    register(&s, vec![NewEntry::new(Uuid::nil(), tcp(iface(1), 1), "")]);
    let by_if = |uuid: Uuid, vers_option| EptLookupRequest {
        inquiry_type: crate::RPC_C_EP_MATCH_BY_IF,
        interface_id: Unique::new(RpcIfId {
            uuid,
            vers_major: 1,
            vers_minor: 0,
        }),
        vers_option,
        ..all_elts(ContextHandle::NULL, 10)
    };
    let resp = lookup(&s, &by_if(iface(2).uuid, crate::RPC_C_VERS_ALL));
    assert_eq!(resp.status, status::EPT_S_NOT_REGISTERED);
    let resp = lookup(&s, &by_if(iface(1).uuid, crate::RPC_C_VERS_EXACT));
    assert_eq!((resp.status, resp.num_ents), (0, 1));
    assert!(resp.entry_handle.is_null());
    // bad arguments: a status, never a fault
    let resp = lookup(&s, &by_if(iface(1).uuid, 9));
    assert_eq!(resp.status, status::RPC_S_INVALID_VERS_OPTION);
    let mut no_if = by_if(iface(1).uuid, 1);
    no_if.interface_id = Unique::null();
    assert_eq!(lookup(&s, &no_if).status, status::EPT_S_CANT_PERFORM_OP_MS);
    let bad_type = EptLookupRequest {
        inquiry_type: 4,
        ..all_elts(ContextHandle::NULL, 10)
    };
    assert_eq!(
        lookup(&s, &bad_type).status,
        status::RPC_S_INVALID_INQUIRY_TYPE
    );
    let zero = lookup(&s, &all_elts(ContextHandle::NULL, 0));
    assert_eq!(zero.status, status::EPT_S_CANT_PERFORM_OP_MS);
    // by object: the nil object in the request matches nil-object elements
    let by_obj = EptLookupRequest {
        inquiry_type: crate::RPC_C_EP_MATCH_BY_OBJ,
        ..all_elts(ContextHandle::NULL, 10)
    };
    assert_eq!(lookup(&s, &by_obj).num_ents, 1);
    assert_eq!(s.service().live_handles(), 0);
}

#[test]
fn lookup_handles_belong_to_their_group_and_can_be_freed() {
    let s = server();
    register(
        &s,
        (0..10u16)
            .map(|p| NewEntry::new(Uuid::nil(), tcp(iface(1), p), ""))
            .collect(),
    );
    let first = lookup(&s, &all_elts(ContextHandle::NULL, 3));
    let h = first.entry_handle;
    assert!(!h.is_null());
    assert_eq!(s.service().live_handles(), 1);
    // another association group cannot use it
    let e = lookup_in(&s, GROUP + 1, &all_elts(h, 3)).unwrap_err();
    assert_eq!(e.status(), FaultStatus::NCA_S_FAULT_CONTEXT_MISMATCH);
    // an invented handle faults too
    let invented = ContextHandle {
        attributes: 0,
        uuid: Uuid::from_u128(42),
    };
    let e = lookup_in(&s, GROUP, &all_elts(invented, 3)).unwrap_err();
    assert_eq!(
        e,
        DispatchError::Fault(RpcFault(FaultStatus::NCA_S_FAULT_CONTEXT_MISMATCH))
    );
    // using the lookup handle for a map: ept_s_invalid_context, and the handle is gone
    let m = map(&s, &map_req(&tcp(iface(1), 0), h, 4));
    assert_eq!(m.status, status::EPT_S_INVALID_CONTEXT);
    assert!(m.entry_handle.is_null());
    assert_eq!(s.service().live_handles(), 0);

    // ept_lookup_handle_free
    let h = lookup(&s, &all_elts(ContextHandle::NULL, 3)).entry_handle;
    let free = |group: u32, handle: ContextHandle| {
        let req = EptLookupHandleFreeRequest {
            entry_handle: handle,
        };
        raw(&s, ctx(4, group, false), req.to_stub(LE).unwrap(), LE)
            .map(|out| EptLookupHandleFreeResponse::from_stub(&out, LE, LIM, &req).unwrap())
    };
    let e = free(GROUP + 1, h).unwrap_err();
    assert_eq!(e.status(), FaultStatus::NCA_S_FAULT_CONTEXT_MISMATCH);
    let r = free(GROUP, h).unwrap();
    assert_eq!((r.entry_handle, r.status), (ContextHandle::NULL, 0));
    assert_eq!(s.service().live_handles(), 0);
    assert!(free(GROUP, h).is_err(), "freed twice");
    let r = free(GROUP, ContextHandle::NULL).unwrap();
    assert_eq!(r.status, 0);
    // max_ents 0 on a live handle closes it
    let h = lookup(&s, &all_elts(ContextHandle::NULL, 3)).entry_handle;
    let r = lookup(&s, &all_elts(h, 0));
    assert_eq!(
        (r.status, r.entry_handle),
        (status::EPT_S_CANT_PERFORM_OP_MS, ContextHandle::NULL)
    );
    assert_eq!(s.service().live_handles(), 0);
}

#[test]
fn rundown_frees_handles_and_the_groups_registrations() {
    let s = server();
    register(
        &s,
        (0..10u16)
            .map(|p| NewEntry::new(Uuid::nil(), tcp(iface(1), p), ""))
            .collect(),
    );
    let h1 = lookup_in(&s, 1, &all_elts(ContextHandle::NULL, 2))
        .unwrap()
        .entry_handle;
    let h2 = lookup_in(&s, 2, &all_elts(ContextHandle::NULL, 2))
        .unwrap()
        .entry_handle;
    let _h2b = lookup_in(&s, 2, &all_elts(ContextHandle::NULL, 2))
        .unwrap()
        .entry_handle;
    assert_eq!(s.service().live_handles(), 3);
    // group 7 registers over the local channel
    insert(
        &s,
        7,
        true,
        vec![entry(Uuid::nil(), tcp(iface(9), 9), "mine")],
        0,
    );
    assert_eq!(db_len(&s), 11);
    Dispatch::rundown(&s, 2);
    assert_eq!(s.service().live_handles(), 1);
    assert!(lookup_in(&s, 2, &all_elts(h2, 2)).is_err());
    assert_eq!(lookup_in(&s, 1, &all_elts(h1, 2)).unwrap().num_ents, 2);
    Dispatch::rundown(&s, 7);
    assert_eq!(db_len(&s), 10, "group 7's registration went with it");
    Dispatch::rundown(&s, 1);
    assert_eq!(s.service().live_handles(), 0);
    assert_eq!(db_len(&s), 10, "in-process registrations stay");
}

fn entry(object: Uuid, tower: Tower, annotation: &str) -> EptEntry {
    EptEntry {
        object,
        tower: Unique::new(tower.to_twr().unwrap()),
        annotation: annotation.into(),
    }
}

fn insert(s: &Server, group: u32, local: bool, entries: Vec<EptEntry>, replace: u32) -> u32 {
    let req = EptInsertRequest {
        num_ents: entries.len() as u32,
        entries,
        replace,
    };
    let out = raw(s, ctx(0, group, local), req.to_stub(LE).unwrap(), LE).unwrap();
    EptInsertResponse::from_stub(&out, LE, LIM, &req)
        .unwrap()
        .status
}

fn delete(s: &Server, group: u32, local: bool, entries: Vec<EptEntry>) -> u32 {
    let req = EptDeleteRequest {
        num_ents: entries.len() as u32,
        entries,
    };
    let out = raw(s, ctx(1, group, local), req.to_stub(LE).unwrap(), LE).unwrap();
    EptDeleteResponse::from_stub(&out, LE, LIM, &req)
        .unwrap()
        .status
}

fn mgmt_delete(s: &Server, local: bool, object: Option<Uuid>, tower: Option<&Tower>) -> u32 {
    let req = EptMgmtDeleteRequest {
        object_speced: u32::from(object.is_some()),
        object: object.into(),
        tower: tower.map(|t| t.to_twr().unwrap()).into(),
    };
    let out = raw(s, ctx(6, 5, local), req.to_stub(LE).unwrap(), LE).unwrap();
    EptMgmtDeleteResponse::from_stub(&out, LE, LIM, &req)
        .unwrap()
        .status
}

#[test]
fn remote_writes_are_refused_without_touching_the_db() {
    let s = server();
    register(
        &s,
        vec![NewEntry::new(Uuid::nil(), tcp(iface(1), 1), "kept")],
    );
    let e = entry(Uuid::nil(), tcp(iface(2), 2), "intruder");
    assert_eq!(
        insert(&s, GROUP, false, vec![e.clone()], 0),
        status::RPC_S_ACCESS_DENIED
    );
    assert_eq!(
        insert(&s, GROUP, false, vec![e], 1),
        status::RPC_S_ACCESS_DENIED
    );
    let kept = entry(Uuid::nil(), tcp(iface(1), 1), "");
    assert_eq!(
        delete(&s, GROUP, false, vec![kept]),
        status::RPC_S_ACCESS_DENIED
    );
    assert_eq!(
        mgmt_delete(&s, false, None, Some(&tcp(iface(1), 1))),
        status::RPC_S_ACCESS_DENIED
    );
    assert_eq!(db_len(&s), 1);
    let all = rpcdump(&s, 500);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].annotation, "kept");
}

#[test]
fn local_registrations() {
    let s = server();
    let e1 = entry(Uuid::nil(), tcp(iface(1), 1000), "one");
    let e2 = entry(Uuid::from_u128(7), tcp(iface(1), 1001), "two");
    assert_eq!(insert(&s, 10, true, vec![e1.clone(), e2.clone()], 0), 0);
    assert_eq!(
        s.service()
            .db()
            .lock()
            .unwrap()
            .owned_by(owner_for_group(10)),
        2
    );
    assert_eq!(rpcdump(&s, 500).len(), 2);
    // another registrant cannot ept_delete them ...
    assert_eq!(
        delete(&s, 11, true, vec![e1.clone()]),
        status::EPT_S_NOT_REGISTERED
    );
    // ... their owner can
    assert_eq!(delete(&s, 10, true, vec![e1.clone()]), 0);
    assert_eq!(
        delete(&s, 10, true, vec![e1.clone()]),
        status::EPT_S_NOT_REGISTERED
    );
    assert_eq!(db_len(&s), 1);
    // malformed entries
    let null = EptEntry::default();
    assert_eq!(
        insert(&s, 10, true, vec![null.clone()], 0),
        status::EPT_S_INVALID_ENTRY
    );
    assert_eq!(
        delete(&s, 10, true, vec![null]),
        status::EPT_S_INVALID_ENTRY
    );
    let mut garbage = e1.clone();
    garbage.tower = Unique::new(Twr::new(vec![0xff, 0xff]));
    assert_eq!(
        insert(&s, 10, true, vec![garbage], 0),
        status::EPT_S_INVALID_ENTRY
    );
    // replace: the new port replaces the old one of the same object/interface/protocol
    let e2b = entry(Uuid::from_u128(7), tcp(iface(1), 2001), "two-b");
    assert_eq!(insert(&s, 10, true, vec![e2b], 1), 0);
    let ports: Vec<u16> = rpcdump(&s, 500).iter().map(port_of).collect();
    assert_eq!(ports, [2001]);
    // ept_mgmt_delete, any owner
    assert_eq!(
        mgmt_delete(&s, true, None, None),
        status::EPT_S_INVALID_ENTRY
    );
    assert_eq!(
        mgmt_delete(&s, true, Some(Uuid::nil()), Some(&tcp(iface(1), 2001))),
        status::EPT_S_NOT_REGISTERED
    );
    assert_eq!(
        mgmt_delete(
            &s,
            true,
            Some(Uuid::from_u128(7)),
            Some(&tcp(iface(1), 2001))
        ),
        0
    );
    assert_eq!(db_len(&s), 0);
    // a full database refuses with ept_s_cant_create
    let small = EptEntry {
        annotation: String::new(),
        ..e1
    };
    let s = EptServer::new(EpmService::new(Arc::new(Mutex::new(
        EndpointDb::with_max_entries(1),
    ))));
    assert_eq!(insert(&s, 1, true, vec![small], 0), 0);
    assert_eq!(insert(&s, 1, true, vec![e2], 0), status::EPT_S_CANT_CREATE);
}

#[test]
fn ept_map_for_rpcecho_over_tcp() {
    let s = server();
    let echo_tcp = tcp(rpcecho(), 49152);
    register(
        &s,
        vec![
            NewEntry::new(Uuid::nil(), echo_tcp.clone(), "rpcecho"),
            NewEntry::new(
                Uuid::nil(),
                Tower::ncacn_np(rpcecho(), SyntaxId::NDR20, "\\PIPE\\rpcecho", "\\\\SERVER"),
                "rpcecho",
            ),
            NewEntry::new(Uuid::nil(), tcp(iface(1), 1), "other"),
        ],
    );
    // the map tower hept_map builds: port 0, address 0.0.0.0
    let probe = Tower::ncacn_ip_tcp(rpcecho(), SyntaxId::NDR20, Ipv4Addr::UNSPECIFIED, 0);
    let resp = map(&s, &map_req(&probe, ContextHandle::NULL, 4));
    assert_eq!((resp.status, resp.num_towers), (0, 1));
    assert!(resp.entry_handle.is_null());
    let got = Tower::from_twr(resp.towers[0].get().unwrap()).unwrap();
    assert_eq!(got, echo_tcp);
    assert_eq!(
        got.binding_string().as_deref(),
        Some("ncacn_ip_tcp:127.0.0.1[49152]")
    );
    // the same over ept_map_auth (opnum 7)
    let req = EptMapAuthRequest {
        object: Unique::null(),
        map_tower: Unique::new(probe.to_twr().unwrap()),
        entry_handle: ContextHandle::NULL,
        max_towers: 4,
    };
    let out = raw(&s, ctx(7, GROUP, false), req.to_stub(LE).unwrap(), LE).unwrap();
    let auth = EptMapAuthResponse::from_stub(&out, LE, LIM, &req).unwrap();
    assert_eq!(auth.towers, resp.towers);
    // np is a different answer
    let np_probe = Tower::ncacn_np(rpcecho(), SyntaxId::NDR20, "", "\\\\SERVER");
    let resp = map(&s, &map_req(&np_probe, ContextHandle::NULL, 4));
    let got = Tower::from_twr(resp.towers[0].get().unwrap()).unwrap();
    assert_eq!(
        got.binding_string().as_deref(),
        Some("ncacn_np:\\\\SERVER[\\PIPE\\rpcecho]")
    );
    // an unknown interface, a newer minor, another transfer syntax: not registered
    for t in [
        tcp(iface(99), 0),
        tcp(SyntaxId::new(rpcecho().uuid, 1, 1), 0),
        Tower::ncacn_ip_tcp(rpcecho(), SyntaxId::NDR64, Ipv4Addr::UNSPECIFIED, 0),
    ] {
        let r = map(&s, &map_req(&t, ContextHandle::NULL, 4));
        assert_eq!(r.status, status::EPT_S_NOT_REGISTERED, "{t}");
        assert!(r.entry_handle.is_null() && r.towers.is_empty());
    }
    // no map tower, an undecodable one, a floorless one: invalid entry
    let mut req = map_req(&probe, ContextHandle::NULL, 4);
    req.map_tower = Unique::null();
    assert_eq!(map(&s, &req).status, status::EPT_S_INVALID_ENTRY);
    req.map_tower = Unique::new(Twr::new(vec![0xff, 0xff, 1]));
    assert_eq!(map(&s, &req).status, status::EPT_S_INVALID_ENTRY);
    req.map_tower = Unique::new(Twr::new(vec![0, 0]));
    assert_eq!(map(&s, &req).status, status::EPT_S_INVALID_ENTRY);
    // max_towers 0
    assert_eq!(
        map(&s, &map_req(&probe, ContextHandle::NULL, 0)).status,
        status::EPT_S_CANT_PERFORM_OP_MS
    );
}

#[test]
fn ept_map_pages_with_max_towers() {
    let s = server();
    let object = Uuid::from_u128(0xabc);
    register(
        &s,
        (0..5u16)
            .map(|p| NewEntry::new(Uuid::nil(), tcp(rpcecho(), 100 + p), ""))
            .chain((0..3u16).map(|p| NewEntry::new(object, tcp(rpcecho(), 200 + p), "")))
            .collect(),
    );
    for (obj, want) in [
        (Uuid::nil(), vec![100, 101, 102, 103, 104]),
        (object, vec![200, 201, 202, 100, 101, 102, 103, 104]),
    ] {
        for max in 1..=9 {
            let mut handle = ContextHandle::NULL;
            let mut got = Vec::new();
            loop {
                let mut req = map_req(&tcp(rpcecho(), 0), handle, max);
                req.object = Unique::new(obj);
                let resp = map(&s, &req);
                if resp.status == status::EPT_S_NOT_REGISTERED {
                    // the walk's last batch was full: nothing left, as Windows ends it
                    assert!(resp.towers.is_empty() && resp.entry_handle.is_null());
                    assert!(!got.is_empty() && got.len() % max as usize == 0);
                    break;
                }
                assert_eq!(resp.status, 0);
                for t in &resp.towers {
                    match Tower::from_twr(t.get().unwrap()).unwrap().endpoint() {
                        Some(crate::tower::Endpoint::Port(p)) => got.push(p),
                        other => panic!("{other:?}"),
                    }
                }
                handle = resp.entry_handle;
                if handle.is_null() {
                    break;
                }
            }
            assert_eq!(got, want, "object {obj}, max_towers {max}");
            assert_eq!(s.service().live_handles(), 0);
        }
    }
    // a map handle used for a lookup: invalid context
    let h = map(&s, &map_req(&tcp(rpcecho(), 0), ContextHandle::NULL, 1)).entry_handle;
    assert!(!h.is_null());
    let r = lookup(&s, &all_elts(h, 10));
    assert_eq!((r.status, r.num_ents), (status::EPT_S_INVALID_CONTEXT, 0));
    assert_eq!(s.service().live_handles(), 0);
}

#[test]
fn batches_and_walks_are_bounded() {
    let s = server_with(EpmConfig {
        max_batch: 100,
        max_walks_per_group: 2,
        ..EpmConfig::default()
    });
    register(
        &s,
        (0..250u16)
            .map(|p| NewEntry::new(Uuid::nil(), tcp(iface(1), p), ""))
            .collect(),
    );
    let r = lookup(&s, &all_elts(ContextHandle::NULL, u32::MAX));
    assert_eq!(r.num_ents, 100);
    assert_eq!(rpcdump(&s, u32::MAX).len(), 250);
    // the first walk is still open; a second one fits, a third does not
    assert_eq!(s.service().live_handles(), 1);
    let _a = lookup(&s, &all_elts(ContextHandle::NULL, 10));
    assert_eq!(s.service().live_handles(), 2);
    let e = lookup_in(&s, GROUP, &all_elts(ContextHandle::NULL, 10)).unwrap_err();
    assert_eq!(e.status(), FaultStatus::OUT_OF_MEMORY);
    // other groups are not affected, and a walk that fits one batch needs no handle
    assert_eq!(
        lookup_in(&s, GROUP + 1, &all_elts(ContextHandle::NULL, 10))
            .unwrap()
            .num_ents,
        10
    );
    register(&s, vec![NewEntry::new(Uuid::nil(), tcp(iface(2), 1), "")]);
    let one = EptLookupRequest {
        inquiry_type: crate::RPC_C_EP_MATCH_BY_IF,
        interface_id: Unique::new(RpcIfId {
            uuid: iface(2).uuid,
            vers_major: 1,
            vers_minor: 0,
        }),
        ..all_elts(ContextHandle::NULL, 300)
    };
    let r = lookup(&s, &one);
    assert_eq!((r.num_ents, r.entry_handle), (1, ContextHandle::NULL));
}

#[test]
fn ept_inq_object_and_big_endian_calls() {
    let object = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    let s = server_with(EpmConfig {
        object,
        ..EpmConfig::default()
    });
    for drep in [LE, BE] {
        let req = EptInqObjectRequest {};
        let out = raw(&s, ctx(5, GROUP, false), req.to_stub(drep).unwrap(), drep).unwrap();
        let r = EptInqObjectResponse::from_stub(&out, drep, LIM, &req).unwrap();
        assert_eq!((r.ept_object, r.status), (object, 0));
    }
    assert_eq!(server().service().config().object, Uuid::nil());
    register(
        &s,
        vec![NewEntry::new(Uuid::nil(), tcp(rpcecho(), 7), "be")],
    );
    let req = all_elts(ContextHandle::NULL, 10);
    let out = raw(&s, ctx(2, GROUP, false), req.to_stub(BE).unwrap(), BE).unwrap();
    let r = EptLookupResponse::from_stub(&out, BE, LIM, &req).unwrap();
    assert_eq!((r.status, r.num_ents), (0, 1));
    assert_eq!(r.entries[0].annotation, "be");
    // tower octets are not NDR: identical in both byte orders
    assert_eq!(
        r.entries[0].tower.get().unwrap().tower_octet_string,
        tcp(rpcecho(), 7).encode().unwrap()
    );
    assert_eq!(EptInterface::SYNTAX, s.syntax());
}

/// Impacket's request PDU's stub (after the 24-byte request header).
fn impacket_stub(pdu: &str) -> Vec<u8> {
    let bytes = vector(pdu);
    bytes[24..].to_vec()
}

/// Our bytes against an Impacket vector, ignoring the filler bytes its mask marks.
fn assert_like_vector(ours: &[u8], name: &str) {
    let theirs = vector(name);
    let mask_path = format!(
        "{}/../../tests/vectors/impacket/{name}.mask.hex",
        env!("CARGO_MANIFEST_DIR")
    );
    let mask = std::fs::read_to_string(mask_path)
        .map(|t| hex::decode(t.split_whitespace().collect::<String>()).unwrap())
        .unwrap_or_else(|_| vec![0; theirs.len()]);
    assert_eq!(ours.len(), theirs.len(), "{name}: length");
    for (i, ((a, b), m)) in ours.iter().zip(&theirs).zip(&mask).enumerate() {
        assert!(
            *m == 0xff || a == b,
            "{name}: byte {i}: ours {a:#04x}, Impacket {b:#04x}"
        );
    }
}

/// The two elements of Impacket's `epm_ept_lookup_response` vector.
fn register_vector_elements(s: &Server) {
    register(
        s,
        vec![
            NewEntry::new(
                Uuid::nil(),
                Tower::decode(&vector("epm_tower_tcp")).unwrap(),
                "rpcecho",
            ),
            NewEntry::new(
                Uuid::from_u128(0xd0c0ffee_0000_4000_8000_00000000abcd),
                Tower::decode(&vector("epm_tower_np")).unwrap(),
                "",
            ),
        ],
    );
}

#[test]
fn impacket_hept_lookup_request_replayed() {
    let s = server();
    register_vector_elements(&s);
    let stub = impacket_stub("pdu_request_ept_lookup_hept_lookup");
    assert_eq!(stub, vector("epm_ept_lookup_request"));
    let req = EptLookupRequest::from_stub(&stub, LE, LIM).unwrap();
    assert_eq!(req, all_elts(ContextHandle::NULL, 500));
    let out = raw(&s, ctx(2, GROUP, false), stub, LE).unwrap();
    let resp = EptLookupResponse::from_stub(&out, LE, LIM, &req).unwrap();
    // one batch: the null handle (hept_lookup stops) and status 0 (it does not raise)
    assert_eq!(resp.entry_handle, ContextHandle::NULL);
    assert_eq!((resp.num_ents, resp.status), (2, 0));
    let bindings: Vec<String> = resp
        .entries
        .iter()
        .map(|e| {
            Tower::from_twr(e.tower.get().unwrap())
                .unwrap()
                .binding_string()
                .unwrap()
        })
        .collect();
    assert_eq!(
        bindings,
        [
            "ncacn_ip_tcp:127.0.0.1[49152]",
            "ncacn_np:\\\\SERVER[\\PIPE\\rpcecho]"
        ]
    );
    assert_eq!(resp.entries[0].annotation, "rpcecho");
    // after the handle, our bytes are Impacket's ept_lookupResponse for the same values
    let theirs = vector("epm_ept_lookup_response");
    assert_eq!(out.len(), theirs.len());
    assert_eq!(&out[..20], &[0u8; 20]);
    let mut ours = out.clone();
    ours[..20].copy_from_slice(&theirs[..20]);
    assert_like_vector(&ours, "epm_ept_lookup_response");
}

#[test]
fn impacket_hept_map_request_replayed() {
    let s = server();
    register_vector_elements(&s);
    // hept_map's own stub (referent ids 1 and 2) and the sequential-id vector
    for stub in [
        impacket_stub("pdu_request_ept_map_hept_map"),
        vector("epm_ept_map_request"),
    ] {
        let req = EptMapRequest::from_stub(&stub, LE, LIM).unwrap();
        assert_eq!(req.max_towers, 4);
        let out = raw(&s, ctx(3, GROUP, false), stub, LE).unwrap();
        assert_like_vector(&out, "epm_ept_map_response");
        let resp = EptMapResponse::from_stub(&out, LE, LIM, &req).unwrap();
        let t = Tower::from_twr(resp.towers[0].get().unwrap()).unwrap();
        assert_eq!(
            t.binding_string().as_deref(),
            Some("ncacn_ip_tcp:127.0.0.1[49152]")
        );
    }
    // and freeing a handle the way the vector does
    let h = {
        register(
            &s,
            (0..3u16)
                .map(|p| NewEntry::new(Uuid::nil(), tcp(iface(3), p), ""))
                .collect(),
        );
        lookup(&s, &all_elts(ContextHandle::NULL, 1)).entry_handle
    };
    let req = EptLookupHandleFreeRequest { entry_handle: h };
    let out = raw(&s, ctx(4, GROUP, false), req.to_stub(LE).unwrap(), LE).unwrap();
    assert_eq!(out, vector("epm_ept_lookup_handle_free_response"));
}
