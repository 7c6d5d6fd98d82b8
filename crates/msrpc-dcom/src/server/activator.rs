//! Activation (MS-DCOM 3.1.2.5.2): `IRemoteSCMActivator` (RemoteCreateInstance,
//! RemoteGetClassObject) and `IActivation` (RemoteActivation), on port 135.

use std::sync::Arc;

use msrpc_ndr::Unique;
use msrpc_proto::dispatch::{CallContext, RpcFault};
use msrpc_proto::pdu::FaultStatus;

use super::{ClassRight, DcomHost};
use crate::activation::{
    ActivationBlob, Property, PropsOutInfo, RemoteReplyScmInfo, ScmReplyInfoData,
};
use crate::activator::{
    Activation, RemoteActivationRequest, RemoteActivationResponse, RemoteCreateInstanceRequest,
    RemoteCreateInstanceResponse, RemoteGetClassObjectRequest, RemoteGetClassObjectResponse,
    RemoteScmActivator,
};
use crate::hresult::status;
use crate::ids::guids;
use crate::{ComVersion, HResult, Iid, Ipid, MInterfacePointer, OrpcThat, Oxid};

/// `IRemoteSCMActivator` and `IActivation`.
#[derive(Clone)]
pub struct Activator(pub Arc<DcomHost>);

impl Activator {
    /// RemoteCreateInstance and RemoteGetClassObject: decode and check the blob, activate,
    /// answer PropsOutInfo then ScmReplyInfo (Impacket reads them by position).
    fn scm(
        &self,
        ctx: &CallContext,
        version: ComVersion,
        blob: &Unique<MInterfacePointer>,
        class_object: bool,
    ) -> Result<MInterfacePointer, HResult> {
        let syntax = <crate::activator::RemoteScmActivatorInterface as msrpc_proto::dispatch::Interface>::SYNTAX;
        version.check_client()?;
        let ip = blob.get().ok_or(HResult::E_INVALIDARG)?;
        let blob = ActivationBlob::from_interface_pointer(ip, &self.0.limits).map_err(|e| {
            self.0.report_shape(ctx, syntax, &e);
            HResult::E_INVALIDARG
        })?;
        let info = blob.instantiation_info().ok_or(HResult::E_INVALIDARG)?;
        if blob.scm_request_info().is_none() {
            return Err(HResult::E_INVALIDARG);
        }
        let iids: Vec<Iid> = if class_object {
            vec![guids::IID_ICLASS_FACTORY]
        } else {
            info.iids.get().cloned().unwrap_or_default()
        };
        if class_object {
            self.0.check_level(ctx, syntax, info.class_id)?;
            self.0
                .check_class(ctx, syntax.uuid, info.class_id, ClassRight::Launch)?;
            // No class factory objects are hosted: the class's existence is all we tell.
            let hr = if self.0.classes.get(info.class_id).is_some() {
                HResult::E_NOINTERFACE
            } else {
                HResult::REGDB_E_CLASSNOTREG
            };
            self.0
                .report_activation(ctx, info.class_id, &iids, hr, None);
            return Err(hr);
        }
        let a = self.0.activate(ctx, syntax, info.class_id, &iids)?;
        let (hresults, pointers): (Vec<HResult>, Vec<Unique<MInterfacePointer>>) = a
            .results
            .into_iter()
            .map(|(hr, ip)| (hr, ip.map_or_else(Unique::null, Unique::new)))
            .unzip();
        let c_ifs = u32::try_from(iids.len()).map_err(|_| HResult::E_INVALIDARG)?;
        let out = ActivationBlob::new(vec![
            Property::PropsOutInfo(PropsOutInfo {
                c_ifs,
                iids: Unique::new(iids),
                hresults: Unique::new(hresults),
                interface_data: Unique::new(pointers),
            }),
            Property::ScmReplyInfo(ScmReplyInfoData {
                pdw_reserved: Unique::null(),
                remote_reply: Unique::new(RemoteReplyScmInfo {
                    oxid: a.oxid,
                    oxid_bindings: Unique::new(a.bindings),
                    ipid_rem_unknown: a.rem_unknown,
                    authn_hint: a.authn_hint,
                    server_version: ComVersion::CURRENT,
                }),
            }),
        ]);
        out.to_interface_pointer(false).map_err(|e| {
            tracing::error!(error = %e, "cannot encode an activation reply");
            HResult::E_FAIL
        })
    }
}

impl RemoteScmActivator for Activator {
    async fn remote_get_class_object(
        &self,
        ctx: &CallContext,
        req: RemoteGetClassObjectRequest,
    ) -> Result<RemoteGetClassObjectResponse, RpcFault> {
        let r = self.scm(ctx, req.orpcthis.version, &req.act_properties, true);
        let (out, result) = match r {
            Ok(ip) => (Unique::new(ip), HResult::S_OK),
            Err(hr) => (Unique::null(), hr),
        };
        Ok(RemoteGetClassObjectResponse {
            orpcthat: OrpcThat::default(),
            act_properties_out: out,
            result,
        })
    }

    async fn remote_create_instance(
        &self,
        ctx: &CallContext,
        req: RemoteCreateInstanceRequest,
    ) -> Result<RemoteCreateInstanceResponse, RpcFault> {
        let r = if req.unk_outer.get().is_some() {
            Err(HResult::CLASS_E_NOAGGREGATION)
        } else {
            self.scm(ctx, req.orpcthis.version, &req.act_properties, false)
        };
        let (out, result) = match r {
            Ok(ip) => (Unique::new(ip), HResult::S_OK),
            Err(hr) => (Unique::null(), hr),
        };
        Ok(RemoteCreateInstanceResponse {
            orpcthat: OrpcThat::default(),
            act_properties_out: out,
            result,
        })
    }
}

impl Activation for Activator {
    async fn remote_activation(
        &self,
        ctx: &CallContext,
        req: RemoteActivationRequest,
    ) -> Result<RemoteActivationResponse, RpcFault> {
        let syntax =
            <crate::activator::ActivationInterface as msrpc_proto::dispatch::Interface>::SYNTAX;
        let n = usize::try_from(req.interfaces).unwrap_or(usize::MAX);
        let fail = |hr: HResult| {
            // The out arrays are sized by Interfaces: fill them only when it is sane.
            let n = if n <= self.0.limits.max_interfaces as usize {
                n
            } else {
                0
            };
            RemoteActivationResponse {
                orpcthat: OrpcThat::default(),
                oxid: Oxid::default(),
                oxid_bindings: Unique::null(),
                ipid_rem_unknown: Ipid::default(),
                authn_hint: 0,
                server_version: ComVersion::CURRENT,
                hr,
                interface_data: vec![Unique::null(); n],
                results: vec![hr; n],
                result: status::OK,
            }
        };
        if let Err(e) = req.check(&self.0.limits) {
            self.0.report_shape(ctx, syntax, &e);
            if n > self.0.limits.max_interfaces as usize {
                // Interfaces sizes the reply's arrays (whatever pIIDs held): answering would
                // mean allocating as the peer says. Refuse the call instead.
                return Err(RpcFault(FaultStatus::RPC_X_BAD_STUB_DATA));
            }
            return Ok(fail(HResult::E_INVALIDARG));
        }
        if let Err(hr) = req.orpcthis.version.check_client() {
            return Ok(fail(hr));
        }
        if req.object_name.is_some() || req.object_storage.get().is_some() {
            // Persistent activation (a moniker or storage) is not supported.
            return Ok(fail(HResult::E_NOTIMPL));
        }
        let iids = req.iids.clone().unwrap_or_default();
        match self.0.activate(ctx, syntax, req.clsid, &iids) {
            Ok(a) => {
                let (results, interface_data) = a
                    .results
                    .into_iter()
                    .map(|(hr, ip)| (hr, ip.map_or_else(Unique::null, Unique::new)))
                    .unzip();
                Ok(RemoteActivationResponse {
                    orpcthat: OrpcThat::default(),
                    oxid: a.oxid,
                    oxid_bindings: Unique::new(a.bindings),
                    ipid_rem_unknown: a.rem_unknown,
                    authn_hint: a.authn_hint,
                    server_version: ComVersion::CURRENT,
                    hr: HResult::S_OK,
                    interface_data,
                    results,
                    result: status::OK,
                })
            }
            Err(hr) => Ok(fail(hr)),
        }
    }
}
