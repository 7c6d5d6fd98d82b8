//! The machine resolver's side of out-of-process hosting: `ILocalObjectExporter`
//! (crates/msrpc-dcom `local`, served by `server::LocalExporterService`) behind its generated
//! dispatcher, driven by a sequence of calls sharing one `DcomHost` (exporters, adopted OIDs,
//! classes, run-down queues, context handles), with garbage collections in between.
//!
//! Input: up to 24 records `[op, flags, len u16 LE, stub (len bytes, or what is left)]`.
//! op bits 0-2 = opnum (7: no call, a collection with a zero ping timeout instead);
//! flags bit 0 = local caller, bit 1 = big-endian, bits 2-3 = association group 1..4, bit 4 =
//! replace the request's exporter handle with the last non-null handle a response returned
//! (handles are random UUIDs), bit 5 = run the group down after the call (the process died).
//! Invariants: no panic; dispatch refuses with `BadStub` exactly when `Request::from_stub`
//! fails; every response the service encodes decodes as that operation's response; the host's
//! objects never exceed what the per-exporter limit allows.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use msrpc_dcom::local::*;
use msrpc_dcom::server::{ClassRegistry, DcomHost, DcomSettings, LocalExporterService, LocalLimits};
use msrpc_fuzz::{dispatch_ctx, hex, NDR_LIMITS, RESPONSE_LIMITS};
use msrpc_ndr::{ContextHandle, DataRep};
use msrpc_proto::dispatch::{CallContext, Dispatch, DispatchError};

struct Rec<'a> {
    opnum: u16,
    local: bool,
    drep: DataRep,
    group: u32,
    use_last: bool,
    rundown: bool,
    stub: &'a [u8],
}

fn records(mut data: &[u8]) -> Vec<Rec<'_>> {
    let mut out = Vec::new();
    while out.len() < 24 && data.len() >= 4 {
        let (op, fl) = (data[0], data[1]);
        let len = usize::from(u16::from_le_bytes([data[2], data[3]]));
        let rest = &data[4..];
        let (stub, tail) = rest.split_at(len.min(rest.len()));
        out.push(Rec {
            opnum: u16::from(op & 0x07),
            local: fl & 1 != 0,
            drep: if fl & 2 != 0 { DataRep::BIG_ENDIAN } else { DataRep::LITTLE_ENDIAN },
            group: 1 + u32::from((fl >> 2) & 3),
            use_last: fl & 0x10 != 0,
            rundown: fl & 0x20 != 0,
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

/// One call; `$handle` names the request's handle field to substitute (or none).
macro_rules! call {
    ($server:expr, $rec:expr, $ctx:expr, $last:expr, $req:ty, $resp:ty $(, $field:ident)?) => {{
        let rec: &Rec<'_> = $rec;
        #[allow(unused_mut)]
        let mut stub = rec.stub.to_vec();
        $(
            if rec.use_last {
                if let Ok(mut req) = <$req>::from_stub(&stub, rec.drep, NDR_LIMITS) {
                    req.$field = *$last;
                    if let Ok(b) = req.to_stub(rec.drep) {
                        stub = b;
                    }
                }
            }
        )?
        let decoded = <$req>::from_stub(&stub, rec.drep, NDR_LIMITS);
        let out = dispatch_ctx($server, $ctx, &stub, rec.drep);
        consistent(&decoded, &out);
        if let (Ok(req), Ok(bytes)) = (&decoded, &out) {
            if let Err(e) = <$resp>::from_stub(bytes, rec.drep, RESPONSE_LIMITS, req) {
                panic!("our response does not decode ({e}): {}\nrequest {req:?}", hex(bytes));
            }
        }
        out
    }};
}

fuzz_target!(|data: &[u8]| {
    let recs = records(data);
    if recs.is_empty() {
        return;
    }
    let settings = DcomSettings {
        gc: msrpc_dcom::tables::GcConfig {
            ping_period: std::time::Duration::ZERO,
            ..msrpc_dcom::tables::GcConfig::DEFAULT
        },
        ..DcomSettings::default()
    };
    let host = Arc::new(DcomHost::new(ClassRegistry::default(), settings, &["127.0.0.1:135".parse().unwrap()], false, None));
    let server = LocalObjectExporterServer::new(LocalExporterService(host.clone()));
    let mut last = ContextHandle::NULL;
    for (i, rec) in recs.iter().enumerate() {
        let ctx = CallContext {
            call_id: i as u32 + 1,
            opnum: rec.opnum,
            assoc_group_id: rec.group,
            local: rec.local,
            ..Default::default()
        };
        let s = &server;
        match rec.opnum {
            0 => {
                let out = call!(s, rec, ctx, &mut last, RegisterExporterRequest, RegisterExporterResponse);
                if let Ok(bytes) = &out {
                    if let Ok(req) = RegisterExporterRequest::from_stub(rec.stub, rec.drep, NDR_LIMITS) {
                        if let Ok(r) = RegisterExporterResponse::from_stub(bytes, rec.drep, RESPONSE_LIMITS, &req) {
                            if !r.exporter.is_null() {
                                last = r.exporter;
                            }
                        }
                    }
                }
            }
            1 => {
                let _ = call!(s, rec, ctx, &mut last, UnregisterExporterRequest, UnregisterExporterResponse, exporter);
            }
            2 => {
                let _ = call!(s, rec, ctx, &mut last, AddOidsRequest, AddOidsResponse, exporter);
            }
            3 => {
                let _ = call!(s, rec, ctx, &mut last, FreeOidsRequest, FreeOidsResponse, exporter);
            }
            4 => {
                let _ = call!(s, rec, ctx, &mut last, RunDownOidsRequest, RunDownOidsResponse, exporter);
            }
            5 => {
                let _ = call!(s, rec, ctx, &mut last, RegisterClassRequest, RegisterClassResponse, exporter);
            }
            6 => {
                let _ = call!(s, rec, ctx, &mut last, RevokeClassRequest, RevokeClassResponse, exporter);
            }
            _ => {
                host.expire();
            }
        }
        if rec.rundown {
            Dispatch::rundown(s, rec.group);
        }
        let lim = LocalLimits::DEFAULT;
        let (objects, _, _) = host.counts();
        assert!(objects <= 4 * lim.max_exporters_per_process * lim.max_oids_per_exporter, "{objects} objects");
    }
});
