//! The real endpoint mapper and management services (crates/msrpc-epm `EpmService`,
//! `MgmtService`) behind their generated dispatchers, driven by a sequence of calls that share
//! state (the endpoint database and the lookup handles).
//!
//! Input: up to 16 records `[op, flags, len u16 LE, stub (len bytes, or what is left)]`.
//! op bits 0-3 = opnum, bit 4 = mgmt instead of ept. flags bit 0 = local caller (may write the
//! database), bit 1 = big-endian, bits 2-3 = association group 1..4, bit 4 = replace the
//! request's `entry_handle` with the last non-null handle a response returned (handles are
//! random UUIDs the fuzzer cannot guess; ops 2, 3, 4, 7).
//!
//! The database starts with a few registrations (ept and rpcecho over TCP, rpcecho over a named
//! pipe, one with an object UUID); `EpmConfig { max_batch: 2, max_walks_per_group: 3 }` and a
//! database of at most 16 entries keep the paging and limit paths reachable.
//! Invariants: no panic; dispatch refuses with `BadStub` exactly when `Request::from_stub`
//! fails; every response the services encode decodes as that operation's response.
#![no_main]

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, RwLock};

use libfuzzer_sys::fuzz_target;
use msrpc_epm::mgmt::{self, MgmtServer};
use msrpc_epm::*;
use msrpc_fuzz::{dispatch_ctx, hex, NDR_LIMITS, RESPONSE_LIMITS};
use msrpc_ndr::{ContextHandle, DataRep, Uuid};
use msrpc_proto::dispatch::{CallContext, DispatchError};
use msrpc_proto::SyntaxId;

const EPM: SyntaxId = SyntaxId::new(Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa), 3, 0);
const ECHO: SyntaxId = SyntaxId::new(Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182), 1, 0);

struct Rec<'a> {
    opnum: u16,
    mgmt: bool,
    local: bool,
    drep: DataRep,
    group: u32,
    use_last: bool,
    stub: &'a [u8],
}

fn records(mut data: &[u8]) -> Vec<Rec<'_>> {
    let mut out = Vec::new();
    while out.len() < 16 && data.len() >= 4 {
        let (op, fl) = (data[0], data[1]);
        let len = usize::from(u16::from_le_bytes([data[2], data[3]]));
        let rest = &data[4..];
        let (stub, tail) = rest.split_at(len.min(rest.len()));
        out.push(Rec {
            opnum: u16::from(op & 0x0f),
            mgmt: op & 0x10 != 0,
            local: fl & 1 != 0,
            drep: if fl & 2 != 0 { DataRep::BIG_ENDIAN } else { DataRep::LITTLE_ENDIAN },
            group: 1 + u32::from((fl >> 2) & 3),
            use_last: fl & 0x10 != 0,
            stub,
        });
        data = tail;
    }
    out
}

fn consistent<T: std::fmt::Debug, E: std::fmt::Display>(decoded: &Result<T, E>, out: &Result<Vec<u8>, DispatchError>) {
    match (decoded, out) {
        (Err(_), Err(DispatchError::BadStub(_))) => {}
        (Err(e), other) => panic!("from_stub failed ({e}) but dispatch gave {other:?}"),
        (Ok(_), Err(DispatchError::BadStub(e))) => panic!("from_stub succeeded but dispatch says bad stub: {e}"),
        _ => {}
    }
}

/// A call whose request and response carry `entry_handle`.
macro_rules! handle_call {
    ($server:expr, $rec:expr, $ctx:expr, $last:expr, $req:ty, $resp:ty) => {{
        let rec: &Rec<'_> = $rec;
        let mut stub = rec.stub.to_vec();
        if rec.use_last {
            if let Ok(mut req) = <$req>::from_stub(&stub, rec.drep, NDR_LIMITS) {
                req.entry_handle = *$last;
                if let Ok(b) = req.to_stub(rec.drep) {
                    stub = b;
                }
            }
        }
        let decoded = <$req>::from_stub(&stub, rec.drep, NDR_LIMITS);
        let out = dispatch_ctx($server, $ctx, &stub, rec.drep);
        consistent(&decoded, &out);
        if let (Ok(req), Ok(bytes)) = (&decoded, &out) {
            match <$resp>::from_stub(bytes, rec.drep, RESPONSE_LIMITS, req) {
                Ok(resp) => {
                    if !resp.entry_handle.is_null() {
                        *$last = resp.entry_handle;
                    }
                }
                Err(e) => panic!("our response does not decode ({e}): {}\nrequest {req:?}", hex(bytes)),
            }
        }
    }};
}

/// Any other call.
macro_rules! call {
    ($server:expr, $rec:expr, $ctx:expr, $req:ty, $resp:ty) => {{
        let rec: &Rec<'_> = $rec;
        let decoded = <$req>::from_stub(rec.stub, rec.drep, NDR_LIMITS);
        let out = dispatch_ctx($server, $ctx, rec.stub, rec.drep);
        consistent(&decoded, &out);
        if let (Ok(req), Ok(bytes)) = (&decoded, &out) {
            if let Err(e) = <$resp>::from_stub(bytes, rec.drep, RESPONSE_LIMITS, req) {
                panic!("our response does not decode ({e}): {}\nrequest {req:?}", hex(bytes));
            }
        }
    }};
}

fn database() -> SharedDb {
    let mut db = EndpointDb::with_max_entries(16);
    let obj = Uuid::from_u128(0x12345678_9abc_def0_1122_334455667788);
    let lo = Ipv4Addr::LOCALHOST;
    let entries = vec![
        NewEntry::new(Uuid::nil(), Tower::ncacn_ip_tcp(EPM, SyntaxId::NDR20, lo, 135), "ept"),
        NewEntry::new(Uuid::nil(), Tower::ncacn_ip_tcp(ECHO, SyntaxId::NDR20, lo, 49152), "rpcecho"),
        NewEntry::new(obj, Tower::ncacn_ip_tcp(ECHO, SyntaxId::NDR20, lo, 49153), "rpcecho object"),
        NewEntry::new(Uuid::nil(), Tower::ncacn_np(ECHO, SyntaxId::NDR20, "\\pipe\\rpcecho", "\\\\FUZZ"), ""),
    ];
    db.register(0, entries, false).expect("seed registrations");
    Arc::new(Mutex::new(db))
}

fuzz_target!(|data: &[u8]| {
    let recs = records(data);
    if recs.is_empty() {
        return;
    }
    let config = EpmConfig { object: Uuid::from_u128(0xfeed), max_batch: 2, max_walks_per_group: 3 };
    let ept = EptServer::new(EpmService::with_config(database(), config));
    let ids = Arc::new(RwLock::new(vec![
        RpcIfId { uuid: EPM.uuid, vers_major: 3, vers_minor: 0 },
        RpcIfId { uuid: ECHO.uuid, vers_major: 1, vers_minor: 0 },
    ]));
    let mgmt_server = MgmtServer::new(MgmtService::new(ids, MgmtStats::new()).with_principal(10, "host/fuzz"));
    let mut last = ContextHandle::NULL;
    for (i, rec) in recs.iter().enumerate() {
        let ctx = CallContext {
            call_id: i as u32 + 1,
            opnum: rec.opnum,
            assoc_group_id: rec.group,
            local: rec.local,
            ..Default::default()
        };
        if rec.mgmt {
            let s = &mgmt_server;
            match rec.opnum {
                0 => call!(s, rec, ctx, mgmt::InqIfIdsRequest, mgmt::InqIfIdsResponse),
                1 => call!(s, rec, ctx, mgmt::InqStatsRequest, mgmt::InqStatsResponse),
                2 => call!(s, rec, ctx, mgmt::IsServerListeningRequest, mgmt::IsServerListeningResponse),
                3 => call!(s, rec, ctx, mgmt::StopServerListeningRequest, mgmt::StopServerListeningResponse),
                4 => call!(s, rec, ctx, mgmt::InqPrincNameRequest, mgmt::InqPrincNameResponse),
                op => assert!(matches!(dispatch_ctx(s, ctx, rec.stub, rec.drep), Err(DispatchError::OpnumOutOfRange(o)) if o == op)),
            }
        } else {
            let s = &ept;
            match rec.opnum {
                0 => call!(s, rec, ctx, EptInsertRequest, EptInsertResponse),
                1 => call!(s, rec, ctx, EptDeleteRequest, EptDeleteResponse),
                2 => handle_call!(s, rec, ctx, &mut last, EptLookupRequest, EptLookupResponse),
                3 => handle_call!(s, rec, ctx, &mut last, EptMapRequest, EptMapResponse),
                4 => handle_call!(s, rec, ctx, &mut last, EptLookupHandleFreeRequest, EptLookupHandleFreeResponse),
                5 => call!(s, rec, ctx, EptInqObjectRequest, EptInqObjectResponse),
                6 => call!(s, rec, ctx, EptMgmtDeleteRequest, EptMgmtDeleteResponse),
                7 => handle_call!(s, rec, ctx, &mut last, EptMapAuthRequest, EptMapAuthResponse),
                op => assert!(matches!(dispatch_ctx(s, ctx, rec.stub, rec.drep), Err(DispatchError::OpnumOutOfRange(o)) if o == op)),
            }
        }
    }
});
