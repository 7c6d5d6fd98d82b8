//! msrpcd's side of DCOM: the host itself (classes, resolver, activators, object exporter) is
//! `msrpc_dcom::server`; this module maps the host's [`DcomEvent`]s to the audit pipeline's
//! inputs and answers the host's per-class permission questions from the `[policy]`.

use std::sync::Arc;

use msrpc_audit::live::{DcomInput, Input};
use msrpc_dcom::server::{ClassPermission, ClassRight, DcomEvent, DcomObserver};
use msrpc_policy::{CallerInfo, PolicyHandle};

/// The host's per-class launch and access permission: the `[[policy.dcom-class]]` entries of
/// the policy in force (a SIGHUP reload swaps the policy, and the next call sees it).
pub fn class_permission(policy: PolicyHandle) -> ClassPermission {
    Arc::new(
        move |clsid: msrpc_dcom::Clsid, right: ClassRight, caller: &CallerInfo<'_>| {
            policy.current().check_class(&clsid, right, caller)
        },
    )
}

/// The audit input for a DCOM event, when the audit log records it: an activation refused
/// below the minimum level is a `policy` deny (`dcom_activation_level`), one refused by the
/// class's permissions a `policy` deny (`dcom_launch_denied`, `dcom_access_denied`), one
/// refused for its shape an `exploit_shape` event; ORPC calls, pings and collections become
/// `dcom_call`, `dcom_ping` and `dcom_gc` records; an activation of a hosted class names the
/// class for its `dcom_activation` record (which, like the `dcom_rem_unknown` records, the
/// audit reads from the call's stubs, as the analyzer does from captures). Reference counting
/// is only logged at debug level (its records come from the stubs).
pub fn audit_input(event: &DcomEvent) -> Option<Input> {
    match event {
        DcomEvent::ActivationDenied {
            user,
            conn_id,
            call_id,
            interface,
            opnum,
            ..
        } => Some(Input::Policy {
            conn_id: *conn_id,
            call_id: *call_id,
            interface: interface.uuid.to_string(),
            opnum: *opnum,
            action: "deny".to_string(),
            reason: "dcom_activation_level".to_string(),
            rule: None,
            user: user.clone(),
        }),
        DcomEvent::ActivationRefused {
            error,
            shape,
            conn_id,
            call_id,
            interface,
            opnum,
            ..
        } => Some(Input::ExploitShape {
            conn_id: *conn_id,
            call_id: *call_id,
            interface: interface.uuid.to_string(),
            opnum: *opnum,
            shape: (*shape).to_string(),
            detail: error.to_string(),
        }),
        DcomEvent::ClassDenied {
            reason,
            rule,
            user,
            conn_id,
            call_id,
            interface,
            opnum,
            ..
        } => Some(Input::Policy {
            conn_id: *conn_id,
            call_id: *call_id,
            interface: interface.to_string(),
            opnum: *opnum,
            action: "deny".to_string(),
            reason: (*reason).to_string(),
            rule: rule.as_deref().map(str::to_string),
            user: user.clone(),
        }),
        DcomEvent::Activation {
            clsid,
            class: Some(name),
            ..
        } => Some(Input::ClassName {
            clsid: *clsid,
            name: (*name).to_string(),
        }),
        DcomEvent::OrpcCall {
            ipid,
            oid,
            class,
            iid,
            opnum,
            result,
            conn_id,
            call_id,
            ..
        } => Some(Input::Dcom {
            conn_id: *conn_id,
            input: Box::new(DcomInput::Call {
                call_id: *call_id,
                ipid: ipid.0,
                oid: oid.map(|o| o.0),
                class: *class,
                interface: *iid,
                opnum: *opnum,
                hresult: result.0,
            }),
        }),
        DcomEvent::Ping {
            complex,
            set_id,
            added,
            removed,
            result,
            conn_id,
            call_id,
        } => Some(Input::Dcom {
            conn_id: *conn_id,
            input: Box::new(DcomInput::Ping {
                call_id: *call_id,
                complex: *complex,
                set_id: set_id.0,
                added: added.iter().map(|o| o.0).collect(),
                removed: removed.iter().map(|o| o.0).collect(),
                status: *result,
            }),
        }),
        DcomEvent::Collected {
            oids,
            reason,
            objects,
            ipids,
            sets,
            conn_id,
        } => Some(Input::Dcom {
            conn_id: *conn_id,
            input: Box::new(DcomInput::Collected {
                reason: reason.as_str(),
                oids: oids.iter().map(|o| o.0).collect(),
                objects: *objects as u64,
                ipids: *ipids as u64,
                sets: *sets as u64,
            }),
        }),
        DcomEvent::Activation { .. }
        | DcomEvent::RemQueryInterface { .. }
        | DcomEvent::RemAddRef { .. }
        | DcomEvent::RemRelease { .. } => {
            tracing::debug!(event = ?event, "DCOM event");
            None
        }
        // Events added to msrpc-dcom later.
        _ => {
            tracing::debug!(event = ?event, "DCOM event (unknown to msrpcd)");
            None
        }
    }
}

/// An observer sending the audited DCOM events to `send` (the audit queue).
pub fn observer(send: impl Fn(Input) + Send + Sync + 'static) -> DcomObserver {
    Arc::new(move |event: &DcomEvent| {
        if let Some(input) = audit_input(event) {
            send(input);
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use msrpc_dcom::activator::RemoteScmActivatorInterface;
    use msrpc_dcom::DcomError;
    use msrpc_policy::Level;
    use msrpc_proto::dispatch::Interface;

    #[test]
    fn refusals_map_to_the_audit_inputs_they_always_were() {
        let syntax = RemoteScmActivatorInterface::SYNTAX;
        let denied = DcomEvent::ActivationDenied {
            clsid: msrpc_dcom::demo::CLSID_CALCULATOR,
            level: Level::Connect,
            min: Level::Integrity,
            user: Some("alice".into()),
            peer: Some("127.0.0.1:5000".into()),
            conn_id: 7,
            call_id: 3,
            interface: syntax,
            opnum: 4,
        };
        assert_eq!(
            audit_input(&denied),
            Some(Input::Policy {
                conn_id: 7,
                call_id: 3,
                interface: "000001a0-0000-0000-c000-000000000046".into(),
                opnum: 4,
                action: "deny".into(),
                reason: "dcom_activation_level".into(),
                rule: None,
                user: Some("alice".into()),
            })
        );
        let error = DcomError::Depth(9);
        let refused = DcomEvent::ActivationRefused {
            error: error.clone(),
            shape: "dcom_activation_limit",
            peer: None,
            conn_id: 8,
            call_id: 1,
            interface: syntax,
            opnum: 4,
        };
        assert_eq!(
            audit_input(&refused),
            Some(Input::ExploitShape {
                conn_id: 8,
                call_id: 1,
                interface: "000001a0-0000-0000-c000-000000000046".into(),
                opnum: 4,
                shape: "dcom_activation_limit".into(),
                detail: error.to_string(),
            })
        );
        let collected = DcomEvent::Collected {
            oids: vec![msrpc_dcom::Oid(5)],
            reason: msrpc_dcom::server::GcReason::PingTimeout,
            objects: 1,
            ipids: 2,
            sets: 0,
            conn_id: 0,
        };
        assert_eq!(
            audit_input(&collected),
            Some(Input::Dcom {
                conn_id: 0,
                input: Box::new(DcomInput::Collected {
                    reason: "ping_timeout",
                    oids: vec![5],
                    objects: 1,
                    ipids: 2,
                    sets: 0,
                }),
            })
        );
    }
}
