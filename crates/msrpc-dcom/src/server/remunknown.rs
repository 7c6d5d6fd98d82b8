//! `IRemUnknown` and `IRemUnknown2` (MS-DCOM 3.1.1.5.6, 3.1.1.5.7) on the object exporter:
//! QueryInterface and reference counting on behalf of remote clients. One implementation of
//! `IRemUnknown` serves both interfaces (`IRemUnknown2` inherits its operations); the
//! `IRemUnknown2` impl adds `RemQueryInterface2`.

use std::sync::Arc;

use msrpc_ndr::Unique;
use msrpc_proto::dispatch::{CallContext, RpcFault};

use super::{lock, ClassRight, DcomEvent, DcomHost, GcReason, MAX_QI_IIDS};
use crate::ids::guids::{IID_IREM_UNKNOWN, IID_IREM_UNKNOWN2};
use crate::orpc::{RemInterfaceRef, RemQiResult, StdObjRef};
use crate::remunknown::{
    RemAddRefRequest, RemAddRefResponse, RemQueryInterfaceRequest, RemQueryInterfaceResponse,
    RemReleaseRequest, RemReleaseResponse, RemUnknown,
};
use crate::remunknown2::{RemQueryInterface2Request, RemQueryInterface2Response, RemUnknown2};
use crate::{ComVersion, HResult, Iid, Ipid, OrpcThat};

/// IRemUnknown and IRemUnknown2 of the object exporter.
#[derive(Clone)]
pub struct RemUnknownService(pub Arc<DcomHost>);

impl RemUnknownService {
    fn check(&self, ctx: &CallContext, version: ComVersion) -> Result<(), HResult> {
        version.check_client()?;
        if !self.0.is_rem_unknown(ctx) {
            return Err(HResult::RPC_E_INVALID_IPID);
        }
        Ok(())
    }

    /// RemQueryInterface(2) (`v2`) through `interface` (IRemUnknown or IRemUnknown2),
    /// reported.
    #[allow(clippy::too_many_arguments)]
    fn query(
        &self,
        ctx: &CallContext,
        interface: Iid,
        version: ComVersion,
        ripid: Ipid,
        refs: u32,
        iids: &[Iid],
        v2: bool,
    ) -> Result<Vec<(HResult, StdObjRef, Iid)>, HResult> {
        let r = self.query_tables(ctx, interface, version, ripid, refs, iids);
        self.0.emit_with(|| DcomEvent::RemQueryInterface {
            ripid,
            refs,
            iids: iids.to_vec(),
            results: r
                .as_ref()
                .map(|v| v.iter().map(|(hr, _, _)| *hr).collect())
                .unwrap_or_default(),
            result: r.as_ref().map_or_else(|hr| *hr, |_| HResult::S_OK),
            v2,
            conn_id: ctx.conn_id,
            call_id: ctx.call_id,
        });
        r
    }

    fn query_tables(
        &self,
        ctx: &CallContext,
        interface: Iid,
        version: ComVersion,
        ripid: Ipid,
        refs: u32,
        iids: &[Iid],
    ) -> Result<Vec<(HResult, StdObjRef, Iid)>, HResult> {
        self.check(ctx, version)?;
        if iids.is_empty() || iids.len() > MAX_QI_IIDS {
            return Err(HResult::E_INVALIDARG);
        }
        let clsid = lock(&self.0.tables)
            .lookup(ripid)
            .map(|(_, h)| h.clsid)
            .ok_or(HResult::RPC_E_INVALID_OBJECT)?;
        if let Some(clsid) = clsid {
            // The lock is not held while the permission runs.
            self.0
                .check_class(ctx, interface, clsid, ClassRight::Access)?;
        }
        let now = self.0.now();
        let mut t = lock(&self.0.tables);
        let (entry, object) = t
            .lookup(ripid)
            .map(|(e, h)| (*e, h.object.clone()))
            .ok_or(HResult::RPC_E_INVALID_OBJECT)?;
        Ok(iids
            .iter()
            .map(|iid| {
                if !object.supports(*iid) {
                    return (HResult::E_NOINTERFACE, StdObjRef::default(), *iid);
                }
                match t.add_interface(entry.oid, *iid, refs.max(1), now) {
                    Ok(std) => (HResult::S_OK, std, *iid),
                    Err(_) => (HResult::E_OUTOFMEMORY, StdObjRef::default(), *iid),
                }
            })
            .collect())
    }

    /// RemAddRef, reported.
    fn add_ref(
        &self,
        ctx: &CallContext,
        version: ComVersion,
        refs: &[RemInterfaceRef],
    ) -> (HResult, Vec<HResult>) {
        let (result, results) = self.add_ref_tables(ctx, version, refs);
        self.0.emit_with(|| DcomEvent::RemAddRef {
            refs: refs.to_vec(),
            results: results.clone(),
            result,
            conn_id: ctx.conn_id,
            call_id: ctx.call_id,
        });
        (result, results)
    }

    fn add_ref_tables(
        &self,
        ctx: &CallContext,
        version: ComVersion,
        refs: &[RemInterfaceRef],
    ) -> (HResult, Vec<HResult>) {
        if let Err(hr) = self.check(ctx, version) {
            return (hr, vec![hr; refs.len()]);
        }
        let now = self.0.now();
        let results = lock(&self.0.tables).add_refs(refs, now);
        let hr = if results.iter().all(|r| r.is_success()) {
            HResult::S_OK
        } else {
            HResult::E_INVALIDARG
        };
        (hr, results)
    }

    /// RemRelease, reported (with the objects it collected).
    fn release(&self, ctx: &CallContext, version: ComVersion, refs: &[RemInterfaceRef]) -> HResult {
        let (result, collected) = match self.check(ctx, version) {
            Err(hr) => (hr, Vec::new()),
            Ok(()) => {
                let out = lock(&self.0.tables).release(refs);
                if !out.collected.is_empty() {
                    tracing::debug!(objects = out.collected.len(), "DCOM objects released");
                }
                let hr = if out.unknown == 0 {
                    HResult::S_OK
                } else {
                    HResult::E_INVALIDARG
                };
                (hr, out.collected)
            }
        };
        self.0.emit_with(|| DcomEvent::RemRelease {
            refs: refs.to_vec(),
            result,
            conn_id: ctx.conn_id,
            call_id: ctx.call_id,
        });
        self.0.collected(ctx.conn_id, collected, GcReason::Released);
        result
    }
}

fn qi_results(
    r: Result<Vec<(HResult, StdObjRef, Iid)>, HResult>,
) -> (Unique<Vec<RemQiResult>>, HResult) {
    match r {
        Ok(v) => (
            Unique::new(
                v.into_iter()
                    .map(|(hresult, std, _)| RemQiResult { hresult, std })
                    .collect(),
            ),
            HResult::S_OK,
        ),
        Err(hr) => (Unique::null(), hr),
    }
}

impl RemUnknown for RemUnknownService {
    async fn rem_query_interface(
        &self,
        ctx: &CallContext,
        req: RemQueryInterfaceRequest,
    ) -> Result<RemQueryInterfaceResponse, RpcFault> {
        let r = self.query(
            ctx,
            IID_IREM_UNKNOWN,
            req.orpcthis.version,
            req.ripid,
            req.c_refs,
            &req.iids,
            false,
        );
        let (qi_results, result) = qi_results(r);
        Ok(RemQueryInterfaceResponse {
            orpcthat: OrpcThat::default(),
            qi_results,
            result,
        })
    }

    async fn rem_add_ref(
        &self,
        ctx: &CallContext,
        req: RemAddRefRequest,
    ) -> Result<RemAddRefResponse, RpcFault> {
        let (result, results) = self.add_ref(ctx, req.orpcthis.version, &req.interface_refs);
        Ok(RemAddRefResponse {
            orpcthat: OrpcThat::default(),
            results,
            result,
        })
    }

    async fn rem_release(
        &self,
        ctx: &CallContext,
        req: RemReleaseRequest,
    ) -> Result<RemReleaseResponse, RpcFault> {
        Ok(RemReleaseResponse {
            orpcthat: OrpcThat::default(),
            result: self.release(ctx, req.orpcthis.version, &req.interface_refs),
        })
    }
}

impl RemUnknown2 for RemUnknownService {
    async fn rem_query_interface2(
        &self,
        ctx: &CallContext,
        req: RemQueryInterface2Request,
    ) -> Result<RemQueryInterface2Response, RpcFault> {
        let r = self.query(
            ctx,
            IID_IREM_UNKNOWN2,
            req.orpcthis.version,
            req.ripid,
            1,
            &req.iids,
            true,
        );
        let n = req.iids.len();
        let (hresults, interface_data, result) = match r {
            Ok(v) => {
                let (h, d) = v
                    .into_iter()
                    .map(|(hr, std, iid)| {
                        if hr.is_success() {
                            match self.0.objref(iid, std) {
                                Some(ip) => (hr, Unique::new(ip)),
                                None => (HResult::E_FAIL, Unique::null()),
                            }
                        } else {
                            (hr, Unique::null())
                        }
                    })
                    .unzip();
                (h, d, HResult::S_OK)
            }
            Err(hr) => (vec![hr; n], vec![Unique::null(); n], hr),
        };
        Ok(RemQueryInterface2Response {
            orpcthat: OrpcThat::default(),
            hresults,
            interface_data,
            result,
        })
    }
}
