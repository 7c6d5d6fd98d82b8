//! The generated `ept` and `mgmt` stubs (crates/msrpc-epm) on arbitrary stubs.
//!
//! Input: `[op, drep, stub...]`; op bits 0-4 = opnum, bit 5 = mgmt instead of ept, bit 6 =
//! response mode (`[op, drep, len u16 LE, request (len bytes), response...]`: decode the
//! response to that request and round-trip it instead of dispatching), bit 7 = NDR64 (every
//! stub decoded, dispatched and re-encoded in NDR64; else NDR20). drep: even
//! little-endian, odd big-endian. Requests decode within 1 MiB / 64 Ki elements / depth 16.
//!
//! A toy service answers every operation with values shaped by the request (towers echoed,
//! counts bounded by max_ents / max_towers / max_count), so the response encoders run too.
//! Invariants (see `msrpc_fuzz::check_op!`): no panic; dispatch refuses exactly what
//! `Request::from_stub` refuses; requests and responses round-trip; our responses decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msrpc_epm::mgmt::{self, Mgmt, MgmtServer};
use msrpc_epm::*;
use msrpc_fuzz::{check_op, NdrInput};
use msrpc_ndr::{ContextHandle, Unique, Uuid};
use msrpc_proto::dispatch::{CallContext, RpcFault};

struct Toy;

const HANDLE: ContextHandle = ContextHandle { attributes: 0, uuid: Uuid::from_u128(0x0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0) };

fn entry(object: Uuid) -> EptEntry {
    EptEntry { object, tower: Unique::new(Twr::new(vec![1, 0, 0x07, 2, 0, 0, 135])), annotation: "fuzz".into() }
}

impl Ept for Toy {
    async fn ept_insert(&self, _c: &CallContext, _r: EptInsertRequest) -> Result<EptInsertResponse, RpcFault> {
        Ok(EptInsertResponse { status: 0 })
    }

    async fn ept_delete(&self, _c: &CallContext, _r: EptDeleteRequest) -> Result<EptDeleteResponse, RpcFault> {
        Ok(EptDeleteResponse { status: 0x16c9a0d6 })
    }

    async fn ept_lookup(&self, _c: &CallContext, r: EptLookupRequest) -> Result<EptLookupResponse, RpcFault> {
        let n = r.max_ents.min(3);
        let object = r.object.get().copied().unwrap_or(Uuid::nil());
        Ok(EptLookupResponse {
            entry_handle: if n > 0 { HANDLE } else { ContextHandle::NULL },
            num_ents: n,
            entries: (0..n).map(|_| entry(object)).collect(),
            status: 0,
        })
    }

    async fn ept_map(&self, _c: &CallContext, r: EptMapRequest) -> Result<EptMapResponse, RpcFault> {
        let n = r.max_towers.min(2);
        Ok(EptMapResponse {
            entry_handle: r.entry_handle,
            num_towers: n,
            towers: (0..n).map(|_| r.map_tower.clone()).collect(),
            status: 0,
        })
    }

    async fn ept_lookup_handle_free(
        &self,
        _c: &CallContext,
        _r: EptLookupHandleFreeRequest,
    ) -> Result<EptLookupHandleFreeResponse, RpcFault> {
        Ok(EptLookupHandleFreeResponse { entry_handle: ContextHandle::NULL, status: 0 })
    }

    async fn ept_inq_object(&self, _c: &CallContext, _r: EptInqObjectRequest) -> Result<EptInqObjectResponse, RpcFault> {
        Ok(EptInqObjectResponse { ept_object: HANDLE.uuid, status: 0 })
    }

    async fn ept_mgmt_delete(&self, _c: &CallContext, _r: EptMgmtDeleteRequest) -> Result<EptMgmtDeleteResponse, RpcFault> {
        Err(RpcFault(msrpc_proto::pdu::FaultStatus::ACCESS_DENIED))
    }

    async fn ept_map_auth(&self, _c: &CallContext, r: EptMapAuthRequest) -> Result<EptMapAuthResponse, RpcFault> {
        let n = r.max_towers.min(1);
        Ok(EptMapAuthResponse {
            entry_handle: r.entry_handle,
            num_towers: n,
            towers: (0..n).map(|_| r.map_tower.clone()).collect(),
            status: 0,
        })
    }
}

impl Mgmt for Toy {
    async fn inq_if_ids(&self, _c: &CallContext, _r: mgmt::InqIfIdsRequest) -> Result<mgmt::InqIfIdsResponse, RpcFault> {
        let id = RpcIfId { uuid: Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa), vers_major: 3, vers_minor: 0 };
        Ok(mgmt::InqIfIdsResponse {
            if_id_vector: Unique::new(RpcIfIdVector { count: 2, if_id: vec![Unique::new(id), Unique::null()] }),
            status: 0,
        })
    }

    async fn inq_stats(&self, _c: &CallContext, r: mgmt::InqStatsRequest) -> Result<mgmt::InqStatsResponse, RpcFault> {
        let n = r.count.min(4);
        Ok(mgmt::InqStatsResponse { count: n, statistics: (0..n).collect(), status: 0 })
    }

    async fn is_server_listening(
        &self,
        _c: &CallContext,
        _r: mgmt::IsServerListeningRequest,
    ) -> Result<mgmt::IsServerListeningResponse, RpcFault> {
        Ok(mgmt::IsServerListeningResponse { status: 0, result: 1 })
    }

    async fn stop_server_listening(
        &self,
        _c: &CallContext,
        _r: mgmt::StopServerListeningRequest,
    ) -> Result<mgmt::StopServerListeningResponse, RpcFault> {
        Ok(mgmt::StopServerListeningResponse { status: 5 })
    }

    async fn inq_princ_name(
        &self,
        _c: &CallContext,
        r: mgmt::InqPrincNameRequest,
    ) -> Result<mgmt::InqPrincNameResponse, RpcFault> {
        let name = "host/fuzz.example";
        let keep = usize::try_from(r.princ_name_size.saturating_sub(1)).unwrap_or(usize::MAX).min(name.len());
        Ok(mgmt::InqPrincNameResponse { princ_name: name[..keep].to_string(), status: 0 })
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = NdrInput::parse(data) else {
        return;
    };
    if input.alt_interface {
        let server = MgmtServer::new(Toy);
        match input.opnum {
            0 => check_op!(&server, &input, mgmt::InqIfIdsRequest, mgmt::InqIfIdsResponse),
            1 => check_op!(&server, &input, mgmt::InqStatsRequest, mgmt::InqStatsResponse),
            2 => check_op!(&server, &input, mgmt::IsServerListeningRequest, mgmt::IsServerListeningResponse),
            3 => check_op!(&server, &input, mgmt::StopServerListeningRequest, mgmt::StopServerListeningResponse),
            4 => check_op!(&server, &input, mgmt::InqPrincNameRequest, mgmt::InqPrincNameResponse),
            op => {
                let r = msrpc_fuzz::dispatch_ctx_in(
                &server,
                msrpc_proto::dispatch::CallContext { call_id: 1, opnum: op, ..Default::default() },
                input.request,
                input.drep,
                input.syntax,
            );
                assert!(matches!(r, Err(msrpc_proto::dispatch::DispatchError::OpnumOutOfRange(_))), "{r:?}");
            }
        }
    } else {
        let server = EptServer::new(Toy);
        match input.opnum {
            0 => check_op!(&server, &input, EptInsertRequest, EptInsertResponse),
            1 => check_op!(&server, &input, EptDeleteRequest, EptDeleteResponse),
            2 => check_op!(&server, &input, EptLookupRequest, EptLookupResponse),
            3 => check_op!(&server, &input, EptMapRequest, EptMapResponse),
            4 => check_op!(&server, &input, EptLookupHandleFreeRequest, EptLookupHandleFreeResponse),
            5 => check_op!(&server, &input, EptInqObjectRequest, EptInqObjectResponse),
            6 => check_op!(&server, &input, EptMgmtDeleteRequest, EptMgmtDeleteResponse),
            7 => check_op!(&server, &input, EptMapAuthRequest, EptMapAuthResponse),
            op => {
                let r = msrpc_fuzz::dispatch_ctx_in(
                &server,
                msrpc_proto::dispatch::CallContext { call_id: 1, opnum: op, ..Default::default() },
                input.request,
                input.drep,
                input.syntax,
            );
                assert!(matches!(r, Err(msrpc_proto::dispatch::DispatchError::OpnumOutOfRange(_))), "{r:?}");
            }
        }
    }
});
