//! The mgmt service through `MgmtServer`'s `Dispatch`, against Impacket's vectors.

use super::*;
use crate::mgmt::MgmtServer;
use crate::tower::tests::vector;
use futures::executor::block_on;
use msrpc_ndr::{DataRep, DecodeLimits, Uuid};
use msrpc_proto::dispatch::{Dispatch, DispatchError};

const LE: DataRep = DataRep::LITTLE_ENDIAN;
const BE: DataRep = DataRep::BIG_ENDIAN;
const LIM: DecodeLimits = DecodeLimits::DEFAULT;

fn epm_id() -> RpcIfId {
    RpcIfId {
        uuid: Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa),
        vers_major: 3,
        vers_minor: 0,
    }
}

fn echo_id() -> RpcIfId {
    RpcIfId {
        uuid: Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182),
        vers_major: 1,
        vers_minor: 0,
    }
}

fn call(
    s: &MgmtServer<MgmtService>,
    opnum: u16,
    local: bool,
    stub: Vec<u8>,
    drep: DataRep,
) -> Result<Vec<u8>, DispatchError> {
    let ctx = CallContext {
        opnum,
        local,
        assoc_group_id: 3,
        ..CallContext::default()
    };
    block_on(s.dispatch(ctx, stub, drep, LIM))
}

fn setup() -> (MgmtServer<MgmtService>, SharedIfIds, MgmtStats) {
    let ids: SharedIfIds = Arc::new(RwLock::new(vec![epm_id()]));
    let stats = MgmtStats::new();
    let s = MgmtServer::new(
        MgmtService::new(Arc::clone(&ids), stats.clone()).with_principal(10, "host/server"),
    );
    (s, ids, stats)
}

#[test]
fn inq_if_ids_reads_the_shared_list() {
    let (s, ids, _) = setup();
    let req = InqIfIdsRequest {};
    let ask = |drep| {
        let out = call(&s, 0, false, req.to_stub(drep).unwrap(), drep).unwrap();
        (
            out.clone(),
            InqIfIdsResponse::from_stub(&out, drep, LIM, &req).unwrap(),
        )
    };
    let (_, r) = ask(LE);
    assert_eq!(r.if_id_vector.get().unwrap().count, 1);
    // the runtime registers rpcecho: the next call sees it
    ids.write().unwrap().push(echo_id());
    let (out, r) = ask(LE);
    assert_eq!(r.status, 0);
    let v = r.if_id_vector.get().unwrap();
    assert_eq!(v.count, 2);
    assert_eq!(v.if_id[1].get(), Some(&echo_id()));
    // byte for byte what Impacket encodes for the same vector
    assert_eq!(out, vector("mgmt_inq_if_ids_response"));
    let (_, r) = ask(BE);
    assert_eq!(r.if_id_vector.get().unwrap().count, 2);
    ids.write().unwrap().clear();
    let (_, r) = ask(LE);
    assert_eq!((r.if_id_vector.get().unwrap().count, r.status), (0, 0));
    // a closure as the source
    let s = MgmtServer::new(MgmtService::with_if_ids_fn(
        || vec![echo_id(), epm_id(), echo_id()],
        MgmtStats::new(),
    ));
    let out = call(&s, 0, false, vec![], LE).unwrap();
    let r = InqIfIdsResponse::from_stub(&out, LE, LIM, &req).unwrap();
    assert_eq!(r.if_id_vector.get().unwrap().count, 3);
    assert_eq!(s.service().if_ids().len(), 3);
    assert!(format!("{:?}", s.service()).contains("Fn(..)"));
}

#[test]
fn inq_stats_reports_the_counters() {
    let (s, _, stats) = setup();
    stats.calls_in.fetch_add(10, Ordering::Relaxed);
    stats.pkts_in.fetch_add(20, Ordering::Relaxed);
    stats.pkts_out.fetch_add(20, Ordering::Relaxed);
    assert_eq!(s.service().stats().snapshot(), [10, 0, 20, 20]);
    let stub = vector("mgmt_inq_stats_request");
    let req = InqStatsRequest::from_stub(&stub, LE, LIM).unwrap();
    assert_eq!(req.count, 4);
    let out = call(&s, 1, false, stub, LE).unwrap();
    assert_eq!(out, vector("mgmt_inq_stats_response"));
    for (asked, got) in [(0u32, 0usize), (2, 2), (4, 4), (100, 4), (u32::MAX, 4)] {
        let req = InqStatsRequest { count: asked };
        let out = call(&s, 1, false, req.to_stub(LE).unwrap(), LE).unwrap();
        let r = InqStatsResponse::from_stub(&out, LE, LIM, &req).unwrap();
        assert_eq!(r.count as usize, got);
        assert_eq!(r.statistics, [10, 0, 20, 20][..got]);
    }
    // a 64-bit counter is reported modulo 2^32
    stats.calls_out.store((1 << 32) + 5, Ordering::Relaxed);
    let req = InqStatsRequest { count: 2 };
    let out = call(&s, 1, false, req.to_stub(LE).unwrap(), LE).unwrap();
    let r = InqStatsResponse::from_stub(&out, LE, LIM, &req).unwrap();
    assert_eq!(r.statistics, [10, 5]);
}

#[test]
fn listening_and_stopping() {
    let (s, _, _) = setup();
    let listening = |s: &MgmtServer<MgmtService>| {
        let req = IsServerListeningRequest {};
        let out = call(s, 2, false, vec![], LE).unwrap();
        // status, then the boolean32 result
        assert_eq!(out.len(), 8);
        IsServerListeningResponse::from_stub(&out, LE, LIM, &req).unwrap()
    };
    let r = listening(&s);
    assert_eq!((r.status, r.result), (0, 1));
    let stop = |local| {
        let req = StopServerListeningRequest {};
        let out = call(&s, 3, local, vec![], LE).unwrap();
        StopServerListeningResponse::from_stub(&out, LE, LIM, &req)
            .unwrap()
            .status
    };
    let flag = s.service().stop_flag();
    assert_eq!(stop(false), status::RPC_S_ACCESS_DENIED);
    assert!(!flag.load(Ordering::SeqCst));
    assert!(!s.service().stop_requested());
    assert_eq!(listening(&s).result, 1);
    assert_eq!(stop(true), 0);
    assert!(flag.load(Ordering::SeqCst));
    assert!(s.service().stop_requested());
    let r = listening(&s);
    assert_eq!((r.status, r.result), (0, 0));
}

#[test]
fn inq_princ_name() {
    let (s, _, _) = setup();
    let stub = vector("mgmt_inq_princ_name_request");
    let req = InqPrincNameRequest::from_stub(&stub, LE, LIM).unwrap();
    assert_eq!((req.authn_proto, req.princ_name_size), (10, 64));
    let out = call(&s, 4, false, stub, LE).unwrap();
    assert_eq!(out, vector("mgmt_inq_princ_name_response"));
    let ask = |s: &MgmtServer<MgmtService>, authn_proto, princ_name_size| {
        let req = InqPrincNameRequest {
            authn_proto,
            princ_name_size,
        };
        call(s, 4, false, req.to_stub(LE).unwrap(), LE)
            .map(|out| InqPrincNameResponse::from_stub(&out, LE, LIM, &req).unwrap())
    };
    // truncated to fit with its NUL
    let r = ask(&s, 10, 5).unwrap();
    assert_eq!((r.princ_name.as_str(), r.status), ("host", 0));
    let r = ask(&s, 10, 1).unwrap();
    assert_eq!((r.princ_name.as_str(), r.status), ("", 0));
    // an authentication service without a name
    let r = ask(&s, 16, 64).unwrap();
    assert_eq!(
        (r.princ_name.as_str(), r.status),
        ("", status::RPC_S_UNKNOWN_AUTHN_SERVICE)
    );
    // no room for the NUL
    let e = ask(&s, 10, 0).unwrap_err();
    assert_eq!(e.status(), FaultStatus::NCA_S_FAULT_INVALID_BOUND);
    // later names replace earlier ones; unencodable characters become '?'
    let s2 = MgmtServer::new(
        MgmtService::new(Arc::new(RwLock::new(vec![])), MgmtStats::new())
            .with_principal(9, "old")
            .with_principal(9, "caf\u{e9}\u{263a}\0"),
    );
    let r = ask(&s2, 9, 64).unwrap();
    assert_eq!(r.princ_name, "caf\u{e9}??");
}
