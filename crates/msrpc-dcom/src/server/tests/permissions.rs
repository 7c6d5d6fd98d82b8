//! Per-class launch and access permissions: a refused launch never reaches the class's
//! factory, a refused access answers E_ACCESSDENIED for ORPC calls and RemQueryInterface,
//! children made by a method inherit their class's permission, and every refusal is reported.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::activator::ActivationServer;
use crate::server::demo::CalculatorObject;
use msrpc_policy::{CallerInfo, Reason, Refusal};

/// A host whose calculator class counts its factory's calls and lets only `alice` launch it
/// from 127.0.0.0/8 and only `alice` access its objects.
fn guarded() -> (Fixture, Arc<AtomicUsize>) {
    let made = Arc::new(AtomicUsize::new(0));
    let counter = made.clone();
    let mut classes = ClassRegistry::default();
    classes.register(
        CLSID_CALCULATOR,
        super::super::demo::CLASS_NAME,
        Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Arc::new(CalculatorObject::default()) as Object
        }),
    );
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let permission: ClassPermission =
        Arc::new(|clsid: Clsid, right: ClassRight, c: &CallerInfo<'_>| {
            assert_eq!(clsid, CLSID_CALCULATOR);
            let local = c
                .remote
                .is_some_and(|ip| ip == "127.0.0.1".parse::<std::net::IpAddr>().unwrap());
            let ok = c.user() == Some("alice") && (right == ClassRight::Access || local);
            (!ok).then(|| Refusal {
                status: FaultStatus::ACCESS_DENIED,
                reason: right.reason(),
                rule: Some("dcom-class:test".into()),
            })
        });
    let host = DcomHost::new(
        classes,
        DcomSettings::default(),
        &["127.0.0.1:135".parse().unwrap()],
        true,
        Some(Arc::new(move |e: &DcomEvent| {
            sink.lock().unwrap().push(e.clone())
        })),
    )
    .with_class_permission(permission);
    let host = Arc::new(host);
    host.set_exporter(&["127.0.0.1:50000".parse().unwrap()])
        .unwrap();
    (Fixture { host, events }, made)
}

/// A call at integrity by `user` from `peer`.
fn as_user(opnum: u16, user: &str, peer: &str, object: Option<Uuid>) -> CallContext {
    CallContext {
        peer: Some(Arc::from(peer)),
        ..ctx(opnum, 5, object)
    }
    .with_user(user)
}

trait WithUser {
    fn with_user(self, user: &str) -> Self;
}

impl WithUser for CallContext {
    fn with_user(mut self, user: &str) -> Self {
        if let Some(a) = &mut self.auth {
            a.user = Some(user.into());
        }
        self
    }
}

fn denials(f: &Fixture) -> Vec<(ClassRight, &'static str, Option<String>, Uuid, u16)> {
    f.events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            DcomEvent::ClassDenied {
                right,
                reason,
                user,
                interface,
                opnum,
                clsid,
                class,
                rule,
                ..
            } => {
                assert_eq!(*clsid, CLSID_CALCULATOR);
                assert_eq!(*class, Some("MsrpcCalculator"));
                assert_eq!(rule.as_deref(), Some("dcom-class:test"));
                Some((*right, *reason, user.clone(), *interface, *opnum))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_denied_launch_never_reaches_the_class_factory() {
    let (f, made) = guarded();
    let scm = RemoteScmActivatorServer::new(Activator(f.host.clone()));
    // RemoteCreateInstance by the wrong user, then by the right user from the wrong address.
    for (user, peer) in [("mallory", "127.0.0.1:4000"), ("alice", "192.0.2.7:4000")] {
        let req = RemoteCreateInstanceRequest {
            orpcthis: OrpcThis::new(Uuid::from_u128(1)),
            unk_outer: Unique::null(),
            act_properties: Unique::new(blob(vec![IID_ICALCULATOR])),
        };
        let out = scm
            .dispatch(
                as_user(4, user, peer, None),
                req.to_stub(LE).unwrap(),
                LE,
                LIM,
            )
            .await
            .unwrap();
        let r = RemoteCreateInstanceResponse::from_stub(&out, LE, LIM, &req).unwrap();
        assert_eq!(r.result, HResult::E_ACCESSDENIED, "{user} from {peer}");
        assert!(r.act_properties_out.get().is_none());
    }
    // RemoteGetClassObject.
    let req = RemoteGetClassObjectRequest {
        orpcthis: OrpcThis::new(Uuid::from_u128(1)),
        act_properties: Unique::new(blob(vec![IID_ICALCULATOR])),
    };
    let out = scm
        .dispatch(
            as_user(3, "mallory", "127.0.0.1:4000", None),
            req.to_stub(LE).unwrap(),
            LE,
            LIM,
        )
        .await
        .unwrap();
    let r = RemoteGetClassObjectResponse::from_stub(&out, LE, LIM, &req).unwrap();
    assert_eq!(r.result, HResult::E_ACCESSDENIED);
    // IActivation::RemoteActivation.
    let act = ActivationServer::new(Activator(f.host.clone()));
    let req = RemoteActivationRequest {
        orpcthis: OrpcThis::new(Uuid::from_u128(1)),
        clsid: CLSID_CALCULATOR,
        object_name: None,
        object_storage: Unique::null(),
        client_imp_level: 2,
        mode: 0,
        interfaces: 1,
        iids: Some(vec![IID_ICALCULATOR]),
        c_requested_protseqs: 1,
        requested_protseqs: vec![7],
    };
    let out = act
        .dispatch(
            as_user(0, "mallory", "127.0.0.1:4000", None),
            req.to_stub(LE).unwrap(),
            LE,
            LIM,
        )
        .await
        .unwrap();
    let r = RemoteActivationResponse::from_stub(&out, LE, LIM, &req).unwrap();
    assert_eq!(r.hr, HResult::E_ACCESSDENIED);
    assert_eq!(made.load(Ordering::SeqCst), 0, "the factory never ran");
    assert_eq!(f.host.counts(), (0, 0, 0));
    let scm_if = RemoteScmActivatorInterface::SYNTAX.uuid;
    let act_if = crate::activator::ActivationInterface::SYNTAX.uuid;
    let launch = (ClassRight::Launch, Reason::DcomLaunch.code());
    assert_eq!(
        denials(&f),
        [
            (launch.0, launch.1, Some("mallory".into()), scm_if, 4),
            (launch.0, launch.1, Some("alice".into()), scm_if, 4),
            (launch.0, launch.1, Some("mallory".into()), scm_if, 3),
            (launch.0, launch.1, Some("mallory".into()), act_if, 0),
        ]
    );
    // No Activation event for a refused launch (as for one below the minimum level).
    assert!(!f
        .events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, DcomEvent::Activation { .. })));
    // The permitted caller activates: the factory runs once.
    let req = RemoteCreateInstanceRequest {
        orpcthis: OrpcThis::new(Uuid::from_u128(1)),
        unk_outer: Unique::null(),
        act_properties: Unique::new(blob(vec![IID_ICALCULATOR])),
    };
    let out = scm
        .dispatch(
            as_user(4, "alice", "127.0.0.1:4000", None),
            req.to_stub(LE).unwrap(),
            LE,
            LIM,
        )
        .await
        .unwrap();
    let r = RemoteCreateInstanceResponse::from_stub(&out, LE, LIM, &req).unwrap();
    assert_eq!(r.result, HResult::S_OK);
    assert_eq!(made.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_denied_access_answers_access_denied_for_calls_and_query_interface() {
    let (f, _) = guarded();
    // `activate` calls as alice from no address: launch needs 127.0.0.1, so activate by hand.
    let scm = RemoteScmActivatorServer::new(Activator(f.host.clone()));
    let req = RemoteCreateInstanceRequest {
        orpcthis: OrpcThis::new(Uuid::from_u128(1)),
        unk_outer: Unique::null(),
        act_properties: Unique::new(blob(vec![IID_ICALCULATOR])),
    };
    let out = scm
        .dispatch(
            as_user(4, "alice", "127.0.0.1:4000", None),
            req.to_stub(LE).unwrap(),
            LE,
            LIM,
        )
        .await
        .unwrap();
    let r = RemoteCreateInstanceResponse::from_stub(&out, LE, LIM, &req).unwrap();
    let out = ActivationBlob::from_interface_pointer(
        r.act_properties_out.get().unwrap(),
        &ActivationLimits::DEFAULT,
    )
    .unwrap();
    let ip = out.props_out_info().unwrap().interface_data.get().unwrap()[0]
        .get()
        .unwrap()
        .clone();
    let ipid = ObjRef::decode(&ip.data).unwrap().std().unwrap().ipid;
    let rem_unknown = out
        .scm_reply_info()
        .unwrap()
        .remote_reply
        .get()
        .unwrap()
        .ipid_rem_unknown;
    let calc = CalculatorServer::new(CalculatorService(f.host.clone()));
    let call = |user: &'static str, object: Ipid| {
        let calc = calc.clone();
        async move {
            let req = AddRequest {
                orpcthis: OrpcThis::new(Uuid::from_u128(2)),
                a: 2,
                b: 3,
            };
            let out = calc
                .dispatch(
                    as_user(3, user, "192.0.2.7:4000", Some(object.0)),
                    req.to_stub(LE).unwrap(),
                    LE,
                    LIM,
                )
                .await
                .unwrap();
            let r = AddResponse::from_stub(&out, LE, LIM, &req).unwrap();
            (r.sum, r.result)
        }
    };
    // Access has no address list: alice calls from anywhere; bob is refused.
    assert_eq!(call("alice", ipid).await, (5, HResult::S_OK));
    assert_eq!(call("bob", ipid).await, (0, HResult::E_ACCESSDENIED));
    // A child made by Spawn is of the same class: the same permission.
    let spawn = SpawnRequest {
        orpcthis: OrpcThis::new(Uuid::from_u128(2)),
        offset: 10,
    };
    let out = calc
        .dispatch(
            as_user(5, "alice", "192.0.2.7:4000", Some(ipid.0)),
            spawn.to_stub(LE).unwrap(),
            LE,
            LIM,
        )
        .await
        .unwrap();
    let child = SpawnResponse::from_stub(&out, LE, LIM, &spawn).unwrap();
    let child = child.child.get().unwrap().std().unwrap().ipid;
    assert_eq!(call("alice", child).await, (15, HResult::S_OK));
    assert_eq!(call("bob", child).await, (0, HResult::E_ACCESSDENIED));
    // RemQueryInterface on the object: bob is refused, alice served.
    let ru = RemUnknownServer::new(RemUnknownService(f.host.clone()));
    let qi = |user: &'static str| {
        let ru = ru.clone();
        async move {
            let req = RemQueryInterfaceRequest {
                orpcthis: OrpcThis::new(Uuid::from_u128(3)),
                ripid: ipid,
                c_refs: 1,
                c_iids: 1,
                iids: vec![IID_ICALCULATOR],
            };
            let out = ru
                .dispatch(
                    as_user(3, user, "192.0.2.7:4000", Some(rem_unknown.0)),
                    req.to_stub(LE).unwrap(),
                    LE,
                    LIM,
                )
                .await
                .unwrap();
            RemQueryInterfaceResponse::from_stub(&out, LE, LIM, &req)
                .unwrap()
                .result
        }
    };
    assert_eq!(qi("bob").await, HResult::E_ACCESSDENIED);
    assert_eq!(qi("alice").await, HResult::S_OK);
    let access = (ClassRight::Access, Reason::DcomAccess.code());
    assert_eq!(
        denials(&f),
        [
            (access.0, access.1, Some("bob".into()), IID_ICALCULATOR, 3),
            (access.0, access.1, Some("bob".into()), IID_ICALCULATOR, 3),
            (
                access.0,
                access.1,
                Some("bob".into()),
                guids::IID_IREM_UNKNOWN,
                3
            ),
        ]
    );
    // The refused ORPC calls are reported as calls too, with their HRESULT.
    let refused_calls = f
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| {
            matches!(e, DcomEvent::OrpcCall { result, class: Some("MsrpcCalculator"), .. }
                if *result == HResult::E_ACCESSDENIED)
        })
        .count();
    assert_eq!(refused_calls, 2);
}
