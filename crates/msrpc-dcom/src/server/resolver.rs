//! The OXID resolver, `IObjectExporter` (MS-DCOM 3.1.2.5.1): what an endpoint mapper serves
//! on port 135 next to the activators.

use std::sync::Arc;

use msrpc_ndr::Unique;
use msrpc_proto::dispatch::{CallContext, RpcFault};

use super::{lock, DcomEvent, DcomHost, GcReason};
use crate::dualstring::DualStringArray;
use crate::hresult::status;
use crate::resolver::{
    ComplexPingRequest, ComplexPingResponse, ObjectExporter, ResolveOxid2Request,
    ResolveOxid2Response, ResolveOxidRequest, ResolveOxidResponse, ServerAlive2Request,
    ServerAlive2Response, ServerAliveRequest, ServerAliveResponse, SimplePingRequest,
    SimplePingResponse,
};
use crate::{ComVersion, Ipid};

/// The OXID resolver.
#[derive(Clone)]
pub struct Resolver(pub Arc<DcomHost>);

impl ObjectExporter for Resolver {
    async fn resolve_oxid(
        &self,
        _ctx: &CallContext,
        req: ResolveOxidRequest,
    ) -> Result<ResolveOxidResponse, RpcFault> {
        let t = lock(&self.0.tables);
        let found = t.exporter(req.oxid).and_then(|e| {
            let dsa = DualStringArray::from_bindings(&e.bindings).ok()?;
            Some((dsa, e.rem_unknown, e.authn_hint))
        });
        Ok(match found {
            Some((dsa, ipid, hint)) => ResolveOxidResponse {
                oxid_bindings: Unique::new(dsa),
                ipid_rem_unknown: ipid,
                authn_hint: hint,
                result: status::OK,
            },
            None => ResolveOxidResponse {
                oxid_bindings: Unique::null(),
                ipid_rem_unknown: Ipid::default(),
                authn_hint: 0,
                result: status::OR_INVALID_OXID,
            },
        })
    }

    async fn simple_ping(
        &self,
        ctx: &CallContext,
        req: SimplePingRequest,
    ) -> Result<SimplePingResponse, RpcFault> {
        let now = self.0.now();
        let r = lock(&self.0.tables).simple_ping(req.set_id, now);
        let result = r.map_or_else(|e| e.status(), |()| status::OK);
        self.0.emit_with(|| DcomEvent::Ping {
            complex: false,
            set_id: req.set_id,
            added: Vec::new(),
            removed: Vec::new(),
            result,
            conn_id: ctx.conn_id,
            call_id: ctx.call_id,
        });
        Ok(SimplePingResponse { result })
    }

    async fn complex_ping(
        &self,
        ctx: &CallContext,
        req: ComplexPingRequest,
    ) -> Result<ComplexPingResponse, RpcFault> {
        let add = req.add_to_set.unwrap_or_default();
        let del = req.del_from_set.unwrap_or_default();
        let now = self.0.now();
        let r = lock(&self.0.tables).complex_ping(req.set_id, &add, &del, now);
        let (response, collected) = match r {
            Ok(o) => {
                if !o.collected.is_empty() {
                    tracing::debug!(
                        objects = o.collected.len(),
                        "DCOM objects collected (removed from their ping set)"
                    );
                }
                let response = ComplexPingResponse {
                    set_id: o.set_id,
                    ping_backoff_factor: 0,
                    result: status::OK,
                };
                (response, o.collected)
            }
            Err(e) => {
                let response = ComplexPingResponse {
                    set_id: req.set_id,
                    ping_backoff_factor: 0,
                    result: e.status(),
                };
                (response, Vec::new())
            }
        };
        self.0.emit_with(|| DcomEvent::Ping {
            complex: true,
            set_id: response.set_id,
            added: add,
            removed: del,
            result: response.result,
            conn_id: ctx.conn_id,
            call_id: ctx.call_id,
        });
        self.0
            .collected(ctx.conn_id, collected, GcReason::RemovedFromSet);
        Ok(response)
    }

    async fn server_alive(
        &self,
        _ctx: &CallContext,
        _req: ServerAliveRequest,
    ) -> Result<ServerAliveResponse, RpcFault> {
        Ok(ServerAliveResponse { result: status::OK })
    }

    async fn resolve_oxid2(
        &self,
        ctx: &CallContext,
        req: ResolveOxid2Request,
    ) -> Result<ResolveOxid2Response, RpcFault> {
        let r = self
            .resolve_oxid(
                ctx,
                ResolveOxidRequest {
                    oxid: req.oxid,
                    c_requested_protseqs: req.c_requested_protseqs,
                    requested_protseqs: req.requested_protseqs,
                },
            )
            .await?;
        Ok(ResolveOxid2Response {
            oxid_bindings: r.oxid_bindings,
            ipid_rem_unknown: r.ipid_rem_unknown,
            authn_hint: r.authn_hint,
            com_version: ComVersion::CURRENT,
            result: r.result,
        })
    }

    async fn server_alive2(
        &self,
        ctx: &CallContext,
        _req: ServerAlive2Request,
    ) -> Result<ServerAlive2Response, RpcFault> {
        let b = DcomHost::with_dialled(ctx, &self.0.resolver_bindings, |_| Some(None));
        let dsa = DualStringArray::from_bindings(&b).unwrap_or_else(|_| self.0.resolver_dsa());
        Ok(ServerAlive2Response {
            com_version: ComVersion::CURRENT,
            or_bindings: Unique::new(dsa),
            reserved: 0,
            result: status::OK,
        })
    }
}
