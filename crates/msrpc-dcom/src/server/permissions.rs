//! Per-class launch and access permissions: who may activate a hosted class and who may call
//! its objects, decided by a [`ClassPermission`] the host's owner supplies (msrpcd answers from
//! its `[policy]`'s `[[dcom-class]]` entries, `msrpc_policy::Policy::check_class`), so the host
//! knows no configuration.
//!
//! Launch is checked for every activation (RemoteCreateInstance, RemoteGetClassObject,
//! RemoteActivation) after the minimum activation level and before the class's factory runs;
//! access for every ORPC call on a hosted interface ([`DcomHost::orpc_object`]) and every
//! RemQueryInterface on the class's objects. A refusal answers `E_ACCESSDENIED` and is
//! reported as [`DcomEvent::ClassDenied`] (Windows logs System events 10016 and 10036 for
//! its launch and access refusals).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use msrpc_policy::{CallerInfo, ClassRight, Refusal};
use msrpc_proto::dispatch::CallContext;
use msrpc_proto::pdu::SyntaxId;

use super::{DcomEvent, DcomHost};
use crate::{Clsid, HResult};
use msrpc_ndr::Uuid;

/// Decides whether the caller may exercise a right over a class: `None` permits, a
/// [`Refusal`] refuses (its reason and rule go to the [`DcomEvent::ClassDenied`] report). Runs
/// inside the call, with no lock of the host held; keep it quick.
pub type ClassPermission =
    Arc<dyn Fn(Clsid, ClassRight, &CallerInfo<'_>) -> Option<Refusal> + Send + Sync>;

/// The caller's IP address, from the transport's text (`CallContext::peer`: `ADDR:PORT` for
/// TCP, `unix...` for the local channel).
fn peer_ip(ctx: &CallContext) -> Option<IpAddr> {
    let text = ctx.peer.as_deref()?;
    text.parse::<SocketAddr>()
        .ok()
        .map(|a| a.ip().to_canonical())
}

impl DcomHost {
    /// Consults `permission` for every activation (launch) and every call on a hosted object
    /// (access). Without one, every class may be launched and accessed by whoever passes the
    /// other checks.
    pub fn with_class_permission(mut self, permission: ClassPermission) -> DcomHost {
        self.class_permission = Some(permission);
        self
    }

    /// Checks `right` over class `clsid` for the call `ctx` on `interface`; on refusal reports
    /// [`DcomEvent::ClassDenied`] and answers `E_ACCESSDENIED`.
    pub(super) fn check_class(
        &self,
        ctx: &CallContext,
        interface: Uuid,
        clsid: Clsid,
        right: ClassRight,
    ) -> Result<(), HResult> {
        let Some(permission) = &self.class_permission else {
            return Ok(());
        };
        let caller = CallerInfo {
            interface: SyntaxId::new(interface, 0, 0),
            opnum: ctx.opnum,
            remote: peer_ip(ctx),
            local: ctx.local,
            auth: ctx.auth.as_ref(),
        };
        let Some(refusal) = permission(clsid, right, &caller) else {
            return Ok(());
        };
        let class = self.classes.get(clsid).map(|(name, _)| *name);
        let user = caller.user();
        tracing::warn!(
            %clsid,
            class,
            right = ?right,
            user,
            peer = ctx.peer.as_deref(),
            reason = refusal.reason.code(),
            "DCOM call refused: the class's permissions do not let the caller through"
        );
        self.emit(DcomEvent::ClassDenied {
            right,
            clsid,
            class,
            reason: refusal.reason.code(),
            rule: refusal.rule.clone(),
            user: user.map(str::to_string),
            peer: ctx.peer.clone(),
            conn_id: ctx.conn_id,
            call_id: ctx.call_id,
            interface,
            opnum: ctx.opnum,
        });
        Err(HResult::E_ACCESSDENIED)
    }
}
