//! Activations of classes another process serves (registered through
//! `ILocalObjectExporter`, [`super::foreign`]): the machine's activator decodes the request and
//! checks it as for its own classes (COM version, minimum level, the blob's shape under
//! [`ActivationLimits`](crate::activation::ActivationLimits)), then forwards the request as it
//! came to the process's activator over its Unix socket (bounded by [`FORWARD_TIMEOUT`]) and
//! passes its reply back, after checking it names that process's exporter and setting its
//! `authnHint` to the client's level (the process saw an unauthenticated local call).
//!
//! A class whose process is gone is no longer registered (`REGDB_E_CLASSNOTREG`, from the usual
//! path); one whose process does not answer gets `CO_E_SERVER_EXEC_FAILURE`.

use std::time::Duration;

use msrpc_ndr::Unique;
use msrpc_proto::dispatch::CallContext;
use msrpc_proto::pdu::SyntaxId;
use msrpc_rt::{Client, ClientOptions};

use super::foreign::ForeignClass;
use super::{wire_level, Activator, CO_E_SERVER_EXEC_FAILURE};
use crate::activation::{ActivationBlob, Property};
use crate::activator::{
    ActivationClient, RemoteActivationRequest, RemoteActivationResponse,
    RemoteCreateInstanceRequest, RemoteCreateInstanceResponse, RemoteGetClassObjectRequest,
    RemoteGetClassObjectResponse, RemoteScmActivatorClient,
};
use crate::{ComVersion, HResult, Iid, MInterfacePointer, OrpcThat};

/// The longest a forwarded activation may take, connection included.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

fn scm_syntax() -> SyntaxId {
    <crate::activator::RemoteScmActivatorInterface as msrpc_proto::dispatch::Interface>::SYNTAX
}

impl super::DcomHost {
    /// Adds `ILocalObjectExporter` ([`crate::local`]) to `builder`, the server of the local
    /// registration socket, where processes hosting classes attach their exporters to this
    /// host, the machine's resolver. Calls that do not come over the local channel are
    /// refused (`ACCESS_DENIED`), so it may share a server with port 135.
    pub fn local_services(
        self: &std::sync::Arc<Self>,
        builder: msrpc_rt::ServerBuilder,
    ) -> msrpc_rt::ServerBuilder {
        builder.service(crate::local::LocalObjectExporterServer::new(
            super::LocalExporterService(self.clone()),
        ))
    }
}

impl Activator {
    /// The process serving the class an `IRemoteSCMActivator` blob names, once the request
    /// passed the checks (`Err`: the HRESULT to answer); `None` when the class is not another
    /// process's, or the blob does not decode (the usual path refuses and reports it).
    fn route(
        &self,
        ctx: &CallContext,
        version: ComVersion,
        blob: &Unique<MInterfacePointer>,
        class_object: bool,
    ) -> Option<Result<(ForeignClass, Vec<Iid>), HResult>> {
        if !self.0.foreign.has_classes() {
            return None;
        }
        let blob = ActivationBlob::from_interface_pointer(blob.get()?, &self.0.limits).ok()?;
        let info = blob.instantiation_info()?;
        blob.scm_request_info()?;
        let clsid = info.class_id;
        if self.0.classes.get(clsid).is_some() {
            return None;
        }
        let class = self.0.foreign.class(clsid)?;
        let iids = if class_object {
            vec![crate::ids::guids::IID_ICLASS_FACTORY]
        } else {
            info.iids.get().cloned().unwrap_or_default()
        };
        Some(
            self.admit(ctx, scm_syntax(), version, clsid, &iids)
                .map(|()| (class, iids)),
        )
    }

    /// The checks of the usual path: COM version, minimum level, launch permission,
    /// interface count.
    fn admit(
        &self,
        ctx: &CallContext,
        syntax: SyntaxId,
        version: ComVersion,
        clsid: crate::Clsid,
        iids: &[Iid],
    ) -> Result<(), HResult> {
        version.check_client()?;
        self.0.check_level(ctx, syntax, clsid)?;
        self.0
            .check_class(ctx, syntax.uuid, clsid, super::ClassRight::Launch)?;
        if iids.is_empty() || iids.len() > self.0.limits.max_interfaces as usize {
            return Err(HResult::E_INVALIDARG);
        }
        Ok(())
    }

    /// Checks a process's activation reply (it must name that process's exporter) and sets
    /// its `authnHint` to the client's level. `E_FAIL` when it does not decode or names
    /// another exporter.
    fn vet_reply(
        &self,
        ctx: &CallContext,
        class: &ForeignClass,
        out: &MInterfacePointer,
    ) -> Result<MInterfacePointer, HResult> {
        let mut blob =
            ActivationBlob::from_interface_pointer(out, &self.0.limits).map_err(|e| {
                tracing::warn!(error = %e, class = %class.name, "DCOM: a process's activation reply does not decode");
                HResult::E_FAIL
            })?;
        let mut named = false;
        for p in &mut blob.properties {
            if let Property::ScmReplyInfo(r) = p {
                if let Some(remote) = r.remote_reply.get_mut() {
                    if remote.oxid != class.oxid {
                        tracing::warn!(class = %class.name, "DCOM: a process's activation reply names another exporter");
                        return Err(HResult::E_FAIL);
                    }
                    remote.authn_hint = wire_level(ctx);
                    named = true;
                }
            }
        }
        if !named {
            return Err(HResult::E_FAIL);
        }
        blob.to_interface_pointer(false)
            .map_err(|_| HResult::E_FAIL)
    }

    fn report(&self, ctx: &CallContext, class: &ForeignClass, iids: &[Iid], result: HResult) {
        self.0.emit_with(|| super::DcomEvent::Activation {
            clsid: class.clsid,
            class: None,
            iids: iids.to_vec(),
            user: ctx.auth.as_ref().and_then(|a| a.user.clone()),
            level: super::call_level(ctx),
            result,
            oxid: Some(class.oxid),
            oid: None,
            conn_id: ctx.conn_id,
            call_id: ctx.call_id,
        });
    }

    /// `RemoteCreateInstance` of another process's class, or `None` (the usual path).
    pub(super) async fn forward_create_instance(
        &self,
        ctx: &CallContext,
        req: &RemoteCreateInstanceRequest,
    ) -> Option<RemoteCreateInstanceResponse> {
        let answer = |out: Option<MInterfacePointer>, result| RemoteCreateInstanceResponse {
            orpcthat: OrpcThat::default(),
            act_properties_out: out.map_or_else(Unique::null, Unique::new),
            result,
        };
        let (class, iids) =
            match self.route(ctx, req.orpcthis.version, &req.act_properties, false)? {
                Ok(r) => r,
                Err(hr) => return Some(answer(None, hr)),
            };
        if req.unk_outer.get().is_some() {
            return Some(answer(None, HResult::CLASS_E_NOAGGREGATION));
        }
        let call = async {
            let client = connect(&class).await?;
            let r = RemoteScmActivatorClient::new(client.clone())
                .remote_create_instance(req.clone())
                .await;
            client.close();
            r.ok()
        };
        let r = match tokio::time::timeout(FORWARD_TIMEOUT, call).await {
            Ok(Some(r)) => self.vetted(ctx, &class, r.act_properties_out, r.result),
            _ => unreachable_process(&class),
        };
        self.report(ctx, &class, &iids, r.1);
        Some(answer(r.0, r.1))
    }

    /// `RemoteGetClassObject` of another process's class, or `None` (the usual path).
    pub(super) async fn forward_get_class_object(
        &self,
        ctx: &CallContext,
        req: &RemoteGetClassObjectRequest,
    ) -> Option<RemoteGetClassObjectResponse> {
        let answer = |out: Option<MInterfacePointer>, result| RemoteGetClassObjectResponse {
            orpcthat: OrpcThat::default(),
            act_properties_out: out.map_or_else(Unique::null, Unique::new),
            result,
        };
        let (class, iids) =
            match self.route(ctx, req.orpcthis.version, &req.act_properties, true)? {
                Ok(r) => r,
                Err(hr) => return Some(answer(None, hr)),
            };
        let call = async {
            let client = connect(&class).await?;
            let r = RemoteScmActivatorClient::new(client.clone())
                .remote_get_class_object(req.clone())
                .await;
            client.close();
            r.ok()
        };
        let r = match tokio::time::timeout(FORWARD_TIMEOUT, call).await {
            Ok(Some(r)) => self.vetted(ctx, &class, r.act_properties_out, r.result),
            _ => unreachable_process(&class),
        };
        self.report(ctx, &class, &iids, r.1);
        Some(answer(r.0, r.1))
    }

    /// A process's answer, its blob vetted when it succeeded.
    fn vetted(
        &self,
        ctx: &CallContext,
        class: &ForeignClass,
        out: Unique<MInterfacePointer>,
        result: HResult,
    ) -> (Option<MInterfacePointer>, HResult) {
        if !result.is_success() {
            return (None, result);
        }
        let Some(out) = out.get() else {
            return (None, HResult::E_FAIL);
        };
        match self.vet_reply(ctx, class, out) {
            Ok(ip) => (Some(ip), result),
            Err(hr) => (None, hr),
        }
    }

    /// `IActivation::RemoteActivation` of another process's class, or `None` (the usual path,
    /// which also checks the request's shape first).
    pub(super) async fn forward_remote_activation(
        &self,
        ctx: &CallContext,
        req: &RemoteActivationRequest,
    ) -> Option<Result<RemoteActivationResponse, HResult>> {
        if !self.0.foreign.has_classes() || self.0.classes.get(req.clsid).is_some() {
            return None;
        }
        let class = self.0.foreign.class(req.clsid)?;
        let syntax =
            <crate::activator::ActivationInterface as msrpc_proto::dispatch::Interface>::SYNTAX;
        let iids = req.iids.clone().unwrap_or_default();
        if let Err(hr) = self.admit(ctx, syntax, req.orpcthis.version, req.clsid, &iids) {
            return Some(Err(hr));
        }
        let call = async {
            let client = connect(&class).await?;
            let r = ActivationClient::new(client.clone())
                .remote_activation(req.clone())
                .await;
            client.close();
            r.ok()
        };
        let r = match tokio::time::timeout(FORWARD_TIMEOUT, call).await {
            Ok(Some(mut r)) => {
                if r.hr.is_success() && r.oxid != class.oxid {
                    tracing::warn!(class = %class.name, "DCOM: a process's activation reply names another exporter");
                    Err(HResult::E_FAIL)
                } else {
                    r.authn_hint = wire_level(ctx);
                    Ok(r)
                }
            }
            _ => Err(unreachable_process(&class).1),
        };
        self.report(
            ctx,
            &class,
            &iids,
            r.as_ref().map_or_else(|hr| *hr, |a| a.hr),
        );
        Some(r)
    }
}

/// A connection to the process's activator (the local channel: its calls are local there).
async fn connect(class: &ForeignClass) -> Option<Client> {
    let opts = ClientOptions {
        connect_timeout: Duration::from_secs(2),
        call_timeout: Some(FORWARD_TIMEOUT),
        ..ClientOptions::default()
    };
    match Client::connect_unix(&class.activator, opts).await {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(error = %e, class = %class.name, "DCOM: the process serving a class does not answer");
            None
        }
    }
}

fn unreachable_process(class: &ForeignClass) -> (Option<MInterfacePointer>, HResult) {
    tracing::warn!(class = %class.name, activator = %class.activator.display(), "DCOM: activation not forwarded: CO_E_SERVER_EXEC_FAILURE");
    (None, CO_E_SERVER_EXEC_FAILURE)
}
