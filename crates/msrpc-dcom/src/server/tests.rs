//! The DCOM host in process, through the generated servers' stubs: activation (level,
//! limits, the reply's layout), ORPC calls by IPID, IRemUnknown reference counting, the
//! resolver and garbage collection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::demo::{demo_classes, CalculatorService};
use super::*;
use crate::activation::{
    ActivationBlob, ActivationContextInfoData, ActivationLimits, InstantiationInfoData,
    LocationInfoData, Property, RemoteRequestScmInfo, ScmRequestInfoData,
};
use crate::activator::{
    RemoteActivationRequest, RemoteActivationResponse, RemoteCreateInstanceRequest,
    RemoteCreateInstanceResponse, RemoteGetClassObjectRequest, RemoteGetClassObjectResponse,
    RemoteScmActivator, RemoteScmActivatorInterface, RemoteScmActivatorServer,
};
use crate::demo::{
    AddRequest, AddResponse, CalculatorServer, SpawnRequest, SpawnResponse, CLSID_CALCULATOR,
    IID_ICALCULATOR,
};
use crate::dualstring::BindingLimits;
use crate::hresult::status;
use crate::orpc::RemInterfaceRef;
use crate::remunknown::RemUnknownServer;
use crate::remunknown::{
    RemQueryInterfaceRequest, RemQueryInterfaceResponse, RemReleaseRequest, RemReleaseResponse,
};
use crate::resolver::ObjectExporterServer;
use crate::resolver::{
    ComplexPingRequest, ComplexPingResponse, ObjectExporter, ResolveOxid2Request,
    ResolveOxid2Response, ServerAlive2Request, ServerAlive2Response, SimplePingRequest,
    SimplePingResponse,
};
use crate::tables::GcConfig;
use crate::ComVersion;
use crate::OrpcThis;
use msrpc_ndr::Unique;
use msrpc_ndr::{DataRep, DecodeLimits, Uuid};
use msrpc_proto::dispatch::{CallAuth, Dispatch, Interface};
use msrpc_proto::pdu::FaultStatus;
use msrpc_proto::pdu::{AuthLevel, AuthType};

const LE: DataRep = DataRep::LITTLE_ENDIAN;
const LIM: DecodeLimits = DecodeLimits::DEFAULT;

struct Fixture {
    host: Arc<DcomHost>,
    events: Arc<Mutex<Vec<DcomEvent>>>,
}

fn fixture(timeout: Duration) -> Fixture {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let host = Arc::new(DcomHost::new(
        demo_classes(),
        DcomSettings {
            min_activation_level: Level::Integrity,
            gc: GcConfig {
                ping_period: timeout,
                missed_pings: 1,
                ..GcConfig::DEFAULT
            },
            gc_interval: Duration::from_secs(1),
        },
        &["127.0.0.1:135".parse().unwrap()],
        true,
        Some(Arc::new(move |e: &DcomEvent| {
            sink.lock().unwrap().push(e.clone())
        })),
    ));
    host.set_exporter(&["127.0.0.1:50000".parse().unwrap()])
        .unwrap();
    Fixture { host, events }
}

fn ctx(opnum: u16, level: u8, object: Option<Uuid>) -> CallContext {
    CallContext {
        opnum,
        object,
        conn_id: 7,
        call_id: 3,
        auth: (level > 1).then(|| CallAuth {
            auth_type: AuthType::WINNT,
            level: AuthLevel(level),
            user: Some("alice".into()),
            anonymous: false,
        }),
        ..CallContext::default()
    }
}

fn blob(iids: Vec<Iid>) -> MInterfacePointer {
    ActivationBlob::new(vec![
        Property::InstantiationInfo(InstantiationInfoData::new(CLSID_CALCULATOR, iids).unwrap()),
        Property::ActivationContextInfo(ActivationContextInfoData::default()),
        Property::LocationInfo(LocationInfoData::default()),
        Property::ScmRequestInfo(ScmRequestInfoData {
            pdw_reserved: Unique::null(),
            remote_request: Unique::new(RemoteRequestScmInfo {
                client_imp_level: 2,
                c_requested_protseqs: 1,
                requested_protseqs: Unique::new(vec![7]),
            }),
        }),
    ])
    .to_interface_pointer(true)
    .unwrap()
}

async fn create(f: &Fixture, level: u8, act: MInterfacePointer) -> RemoteCreateInstanceResponse {
    let server = RemoteScmActivatorServer::new(Activator(f.host.clone()));
    let req = RemoteCreateInstanceRequest {
        orpcthis: OrpcThis::new(Uuid::from_u128(1)),
        unk_outer: Unique::null(),
        act_properties: Unique::new(act),
    };
    let out = server
        .dispatch(ctx(4, level, None), req.to_stub(LE).unwrap(), LE, LIM)
        .await
        .unwrap();
    RemoteCreateInstanceResponse::from_stub(&out, LE, LIM, &req).unwrap()
}

/// Activates a calculator at integrity: (its ICalculator IPID, the exporter's IRemUnknown).
async fn activate(f: &Fixture) -> (Ipid, Ipid) {
    let resp = create(f, 5, blob(vec![IID_ICALCULATOR])).await;
    assert_eq!(resp.result, HResult::S_OK);
    let out = ActivationBlob::from_interface_pointer(
        resp.act_properties_out.get().unwrap(),
        &ActivationLimits::DEFAULT,
    )
    .unwrap();
    // Impacket reads property 0 as PropsOutInfo and 1 as ScmReplyInfo.
    assert!(matches!(out.properties[0], Property::PropsOutInfo(_)));
    assert!(matches!(out.properties[1], Property::ScmReplyInfo(_)));
    let props = out.props_out_info().unwrap();
    assert_eq!(props.hresults.get().unwrap(), &vec![HResult::S_OK]);
    let ip = props.interface_data.get().unwrap()[0].get().unwrap();
    let std = *ObjRef::decode(&ip.data).unwrap().std().unwrap();
    let reply = out.scm_reply_info().unwrap().remote_reply.get().unwrap();
    assert_eq!(reply.authn_hint, 5);
    assert_eq!(reply.server_version, ComVersion::CURRENT);
    let b = reply
        .oxid_bindings
        .get()
        .unwrap()
        .parse(&BindingLimits::DEFAULT)
        .unwrap();
    assert_eq!(b.strings[0].network_addr, "127.0.0.1[50000]");
    assert_eq!(std.oxid, reply.oxid);
    (std.ipid, reply.ipid_rem_unknown)
}

async fn add(f: &Fixture, ipid: Ipid, a: i32, b: i32) -> (i32, HResult) {
    let server = CalculatorServer::new(CalculatorService(f.host.clone()));
    let req = AddRequest {
        orpcthis: OrpcThis::new(Uuid::from_u128(2)),
        a,
        b,
    };
    let out = server
        .dispatch(ctx(3, 5, Some(ipid.0)), req.to_stub(LE).unwrap(), LE, LIM)
        .await
        .unwrap();
    let r = AddResponse::from_stub(&out, LE, LIM, &req).unwrap();
    (r.sum, r.result)
}

async fn release(f: &Fixture, rem_unknown: Ipid, ipid: Ipid, refs: u32) -> HResult {
    let server = RemUnknownServer::new(RemUnknownService(f.host.clone()));
    let req = RemReleaseRequest {
        orpcthis: OrpcThis::new(Uuid::from_u128(3)),
        c_interface_refs: 1,
        interface_refs: vec![RemInterfaceRef {
            ipid,
            public_refs: refs,
            private_refs: 0,
        }],
    };
    let out = server
        .dispatch(
            ctx(5, 5, Some(rem_unknown.0)),
            req.to_stub(LE).unwrap(),
            LE,
            LIM,
        )
        .await
        .unwrap();
    RemReleaseResponse::from_stub(&out, LE, LIM, &req)
        .unwrap()
        .result
}

#[tokio::test]
async fn activation_calls_query_interface_and_release() {
    let f = fixture(Duration::from_secs(120));
    let (ipid, rem_unknown) = activate(&f).await;
    assert_eq!(add(&f, ipid, 40, 2).await, (42, HResult::S_OK));

    // Spawn: a child object adding its offset.
    let server = CalculatorServer::new(CalculatorService(f.host.clone()));
    let req = SpawnRequest {
        orpcthis: OrpcThis::new(Uuid::from_u128(4)),
        offset: 1000,
    };
    let out = server
        .dispatch(ctx(5, 5, Some(ipid.0)), req.to_stub(LE).unwrap(), LE, LIM)
        .await
        .unwrap();
    let r = SpawnResponse::from_stub(&out, LE, LIM, &req).unwrap();
    let child = r.child.get().unwrap().objref().clone();
    assert_eq!(child.iid, IID_ICALCULATOR);
    let child = child.std().unwrap().ipid;
    assert_eq!(add(&f, child, 1, 2).await, (1003, HResult::S_OK));

    // RemQueryInterface: ICalculator (the same IPID, one more reference), IClassFactory no.
    let rq = RemUnknownServer::new(RemUnknownService(f.host.clone()));
    let req = RemQueryInterfaceRequest {
        orpcthis: OrpcThis::new(Uuid::from_u128(5)),
        ripid: ipid,
        c_refs: 1,
        c_iids: 2,
        iids: vec![IID_ICALCULATOR, guids::IID_ICLASS_FACTORY],
    };
    let out = rq
        .dispatch(
            ctx(3, 5, Some(rem_unknown.0)),
            req.to_stub(LE).unwrap(),
            LE,
            LIM,
        )
        .await
        .unwrap();
    let r = RemQueryInterfaceResponse::from_stub(&out, LE, LIM, &req).unwrap();
    let qi = r.qi_results.get().unwrap();
    assert_eq!((qi[0].hresult, qi[0].std.ipid), (HResult::S_OK, ipid));
    assert_eq!(qi[1].hresult, HResult::E_NOINTERFACE);
    // IRemUnknown addressed to another IPID is refused.
    let out = rq
        .dispatch(ctx(3, 5, Some(ipid.0)), req.to_stub(LE).unwrap(), LE, LIM)
        .await
        .unwrap();
    let r = RemQueryInterfaceResponse::from_stub(&out, LE, LIM, &req).unwrap();
    assert_eq!(r.result, HResult::RPC_E_INVALID_IPID);

    // Two references on the object's IPID: the first release keeps it.
    assert_eq!(release(&f, rem_unknown, ipid, 1).await, HResult::S_OK);
    assert_eq!(add(&f, ipid, 1, 1).await, (2, HResult::S_OK));
    assert_eq!(release(&f, rem_unknown, ipid, 1).await, HResult::S_OK);
    assert_eq!(add(&f, ipid, 1, 1).await, (0, HResult::RPC_E_INVALID_IPID));
    assert_eq!(f.host.counts().0, 1);
    assert_eq!(release(&f, rem_unknown, child, 1).await, HResult::S_OK);
    assert_eq!(f.host.counts(), (0, 0, 0));
    assert_eq!(
        release(&f, rem_unknown, child, 1).await,
        HResult::E_INVALIDARG
    );
}

#[tokio::test]
async fn an_unspecified_listener_advertises_the_address_the_client_dialled() {
    let host = Arc::new(DcomHost::new(
        demo_classes(),
        DcomSettings {
            min_activation_level: Level::None,
            gc: GcConfig::DEFAULT,
            gc_interval: Duration::from_secs(1),
        },
        &["0.0.0.0:135".parse().unwrap()],
        false,
        None,
    ));
    host.set_exporter(&["0.0.0.0:50001".parse().unwrap()])
        .unwrap();
    let mut c = ctx(4, 1, None);
    c.local_addr = Some("192.0.2.7:135".parse().unwrap());
    let req = RemoteCreateInstanceRequest {
        orpcthis: OrpcThis::new(Uuid::from_u128(1)),
        unk_outer: Unique::null(),
        act_properties: Unique::new(blob(vec![IID_ICALCULATOR])),
    };
    let r = Activator(host.clone())
        .remote_create_instance(&c, req)
        .await
        .unwrap();
    let out = ActivationBlob::from_interface_pointer(
        r.act_properties_out.get().unwrap(),
        &ActivationLimits::DEFAULT,
    )
    .unwrap();
    let reply = out.scm_reply_info().unwrap().remote_reply.get().unwrap();
    let b = reply
        .oxid_bindings
        .get()
        .unwrap()
        .parse(&BindingLimits::DEFAULT)
        .unwrap();
    assert_eq!(b.strings[0].network_addr, "192.0.2.7[50001]");
    assert_eq!(reply.authn_hint, 1);
    let r = Resolver(host)
        .server_alive2(&c, ServerAlive2Request {})
        .await
        .unwrap();
    let b = r
        .or_bindings
        .get()
        .unwrap()
        .parse(&BindingLimits::DEFAULT)
        .unwrap();
    assert_eq!(b.strings[0].network_addr, "192.0.2.7");
    assert!(b.security.is_empty());
}

#[tokio::test]
async fn remote_activation_activates_and_bounds_its_counts() {
    use crate::activator::ActivationServer;
    let f = fixture(Duration::from_secs(120));
    let server = ActivationServer::new(Activator(f.host.clone()));
    let req = RemoteActivationRequest {
        orpcthis: OrpcThis::new(Uuid::from_u128(1)),
        clsid: CLSID_CALCULATOR,
        object_name: None,
        object_storage: Unique::null(),
        client_imp_level: 2,
        mode: 0,
        interfaces: 2,
        iids: Some(vec![IID_ICALCULATOR, guids::IID_ICLASS_FACTORY]),
        c_requested_protseqs: 1,
        requested_protseqs: vec![7],
    };
    let out = server
        .dispatch(ctx(0, 6, None), req.to_stub(LE).unwrap(), LE, LIM)
        .await
        .unwrap();
    let r = RemoteActivationResponse::from_stub(&out, LE, LIM, &req).unwrap();
    assert_eq!((r.result, r.hr), (status::OK, HResult::S_OK));
    assert_eq!(r.results, [HResult::S_OK, HResult::E_NOINTERFACE]);
    let ipid = ObjRef::decode(&r.interface_data[0].get().unwrap().data)
        .unwrap()
        .std()
        .unwrap()
        .ipid;
    assert_eq!(add(&f, ipid, 2, 2).await, (4, HResult::S_OK));
    assert_eq!(r.authn_hint, 6);
    // More interfaces than ActivationLimits allows: the reply's arrays would be sized by
    // the peer, so the call is refused with a fault.
    let n = ActivationLimits::DEFAULT.max_interfaces + 1;
    let req = RemoteActivationRequest {
        interfaces: n,
        iids: Some(vec![IID_ICALCULATOR; n as usize]),
        ..req
    };
    let e = server
        .dispatch(ctx(0, 6, None), req.to_stub(LE).unwrap(), LE, LIM)
        .await
        .unwrap_err();
    assert_eq!(e.status(), FaultStatus::RPC_X_BAD_STUB_DATA);
    assert!(matches!(
        &f.events.lock().unwrap()[..],
        [
            DcomEvent::Activation { class: Some("MsrpcCalculator"), result, oid: Some(_), .. },
            DcomEvent::OrpcCall { opnum: 3, .. },
            DcomEvent::ActivationRefused { shape: "dcom_activation_limit", .. },
        ] if *result == HResult::S_OK
    ));
}

#[tokio::test]
async fn activation_below_the_minimum_level_is_refused_and_reported() {
    let f = fixture(Duration::from_secs(120));
    for level in [1, 2, 4] {
        let r = create(&f, level, blob(vec![IID_ICALCULATOR])).await;
        assert_eq!(r.result, HResult::E_ACCESSDENIED);
        assert!(r.act_properties_out.get().is_none());
    }
    // RemoteGetClassObject is held to the same level.
    let server = RemoteScmActivatorServer::new(Activator(f.host.clone()));
    let req = RemoteGetClassObjectRequest {
        orpcthis: OrpcThis::new(Uuid::from_u128(1)),
        act_properties: Unique::new(blob(vec![IID_ICALCULATOR])),
    };
    let out = server
        .dispatch(ctx(3, 2, None), req.to_stub(LE).unwrap(), LE, LIM)
        .await
        .unwrap();
    let r = RemoteGetClassObjectResponse::from_stub(&out, LE, LIM, &req).unwrap();
    assert_eq!(r.result, HResult::E_ACCESSDENIED);
    assert_eq!(f.host.counts(), (0, 0, 0));
    let events = f.events.lock().unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(
        events[0],
        DcomEvent::ActivationDenied {
            clsid: CLSID_CALCULATOR,
            level: Level::None,
            min: Level::Integrity,
            user: None,
            peer: None,
            conn_id: 7,
            call_id: 3,
            interface: RemoteScmActivatorInterface::SYNTAX,
            opnum: 4,
        }
    );
    assert!(matches!(
        &events[3],
        DcomEvent::ActivationDenied { level: Level::Connect, user: Some(u), opnum: 3, .. }
            if u == "alice"
    ));
}

#[tokio::test]
async fn unknown_classes_unsupported_interfaces_and_hostile_blobs() {
    let f = fixture(Duration::from_secs(120));
    // IClassFactory only: the object supports none of the IIDs.
    let r = create(&f, 6, blob(vec![guids::IID_ICLASS_FACTORY])).await;
    assert_eq!(r.result, HResult::E_NOINTERFACE);
    // Another CLSID.
    let mut b = ActivationBlob::from_interface_pointer(
        &blob(vec![IID_ICALCULATOR]),
        &ActivationLimits::DEFAULT,
    )
    .unwrap();
    if let Property::InstantiationInfo(i) = &mut b.properties[0] {
        i.class_id = Uuid::from_u128(0x1234);
    }
    let r = create(&f, 6, b.to_interface_pointer(true).unwrap()).await;
    assert_eq!(r.result, HResult::REGDB_E_CLASSNOTREG);
    // A blob beyond the limits: a 4 KiB UNC machine name.
    b.properties[2] = Property::LocationInfo(LocationInfoData {
        machine_name: Unique::new(format!("\\\\{}", "A".repeat(4094))),
        ..Default::default()
    });
    let r = create(&f, 1, b.to_interface_pointer(true).unwrap()).await;
    assert_eq!(r.result, HResult::E_INVALIDARG);
    assert!(matches!(
        &f.events.lock().unwrap()[..],
        [
            DcomEvent::Activation { class: Some("MsrpcCalculator"), result: r1, oid: None, .. },
            DcomEvent::Activation { class: None, result: r2, oxid: None, .. },
            DcomEvent::ActivationRefused { shape: "dcom_activation_limit", .. },
        ] if *r1 == HResult::E_NOINTERFACE && *r2 == HResult::REGDB_E_CLASSNOTREG
    ));
    assert_eq!(f.host.counts(), (0, 0, 0));
}

#[tokio::test]
async fn resolver_answers_and_pings_keep_objects_until_they_stop() {
    let f = fixture(Duration::from_millis(200));
    let server = ObjectExporterServer::new(Resolver(f.host.clone()));
    let out = server
        .dispatch(ctx(5, 1, None), vec![], LE, LIM)
        .await
        .unwrap();
    let r = ServerAlive2Response::from_stub(&out, LE, LIM, &ServerAlive2Request {}).unwrap();
    assert_eq!(r.com_version, ComVersion::CURRENT);
    let b = r
        .or_bindings
        .get()
        .unwrap()
        .parse(&BindingLimits::DEFAULT)
        .unwrap();
    assert_eq!(b.strings[0].network_addr, "127.0.0.1");
    assert!(b.strings.iter().all(|s| !s.network_addr.contains('[')));
    assert_eq!(
        b.security.iter().map(|s| s.authn_svc).collect::<Vec<_>>(),
        [10, 9]
    );

    let (ipid, _) = activate(&f).await;
    let oxid = f.host.exporter.get().copied().unwrap();
    let req = ResolveOxid2Request {
        oxid,
        c_requested_protseqs: 1,
        requested_protseqs: vec![7],
    };
    let out = server
        .dispatch(ctx(4, 1, None), req.to_stub(LE).unwrap(), LE, LIM)
        .await
        .unwrap();
    let r = ResolveOxid2Response::from_stub(&out, LE, LIM, &req).unwrap();
    assert_eq!(r.result, status::OK);
    let req = ResolveOxid2Request {
        oxid: Oxid(oxid.0 ^ 1),
        ..req
    };
    let out = server
        .dispatch(ctx(4, 1, None), req.to_stub(LE).unwrap(), LE, LIM)
        .await
        .unwrap();
    let r = ResolveOxid2Response::from_stub(&out, LE, LIM, &req).unwrap();
    assert_eq!(r.result, status::OR_INVALID_OXID);

    // ComplexPing adds the object's OID to a new set; pings keep it past the timeout.
    let oid = {
        let t = lock(&f.host.tables);
        t.lookup(ipid).unwrap().0.oid
    };
    let req = ComplexPingRequest {
        set_id: Default::default(),
        sequence_num: 1,
        c_add_to_set: 1,
        c_del_from_set: 0,
        add_to_set: Some(vec![oid]),
        del_from_set: None,
    };
    let out = server
        .dispatch(ctx(2, 5, None), req.to_stub(LE).unwrap(), LE, LIM)
        .await
        .unwrap();
    let set = ComplexPingResponse::from_stub(&out, LE, LIM, &req).unwrap();
    assert_eq!(set.result, status::OK);
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let req = SimplePingRequest { set_id: set.set_id };
        let out = server
            .dispatch(ctx(1, 5, None), req.to_stub(LE).unwrap(), LE, LIM)
            .await
            .unwrap();
        let r = SimplePingResponse::from_stub(&out, LE, LIM, &req).unwrap();
        assert_eq!(r.result, status::OK);
        assert_eq!(f.host.expire(), 0);
    }
    assert_eq!(add(&f, ipid, 1, 1).await, (2, HResult::S_OK));
    // The client vanishes: the set expires, then the object goes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(f.host.expire(), 1);
    assert_eq!(f.host.counts(), (0, 0, 0));
    assert_eq!(add(&f, ipid, 1, 1).await, (0, HResult::RPC_E_INVALID_IPID));
}

#[tokio::test]
async fn services_report_activations_calls_references_pings_and_collection() {
    let f = fixture(Duration::from_millis(200));
    let (ipid, rem_unknown) = activate(&f).await;
    let (oid, oxid) = {
        let t = lock(&f.host.tables);
        let e = t.lookup(ipid).unwrap().0;
        (e.oid, e.oxid)
    };
    assert_eq!(add(&f, ipid, 1, 2).await, (3, HResult::S_OK));
    let bogus = Ipid(Uuid::from_u128(0xdead));
    assert_eq!(add(&f, bogus, 1, 2).await, (0, HResult::RPC_E_INVALID_IPID));
    let rq = RemUnknownServer::new(RemUnknownService(f.host.clone()));
    let req = RemQueryInterfaceRequest {
        orpcthis: OrpcThis::new(Uuid::from_u128(5)),
        ripid: ipid,
        c_refs: 2,
        c_iids: 2,
        iids: vec![IID_ICALCULATOR, guids::IID_ICLASS_FACTORY],
    };
    rq.dispatch(
        ctx(3, 5, Some(rem_unknown.0)),
        req.to_stub(LE).unwrap(),
        LE,
        LIM,
    )
    .await
    .unwrap();
    // Three references now: releasing them all collects the object.
    assert_eq!(release(&f, rem_unknown, ipid, 3).await, HResult::S_OK);
    {
        let events = f.events.lock().unwrap();
        assert_eq!(events.len(), 6, "{events:#?}");
        assert_eq!(
            events[0],
            DcomEvent::Activation {
                clsid: CLSID_CALCULATOR,
                class: Some("MsrpcCalculator"),
                iids: vec![IID_ICALCULATOR],
                user: Some("alice".into()),
                level: Level::Integrity,
                result: HResult::S_OK,
                oxid: Some(oxid),
                oid: Some(oid),
                conn_id: 7,
                call_id: 3,
            }
        );
        assert_eq!(
            events[1],
            DcomEvent::OrpcCall {
                ipid,
                oid: Some(oid),
                oxid: Some(oxid),
                class: Some("MsrpcCalculator"),
                iid: IID_ICALCULATOR,
                opnum: 3,
                result: HResult::S_OK,
                conn_id: 7,
                call_id: 3,
            }
        );
        assert_eq!(
            events[2],
            DcomEvent::OrpcCall {
                ipid: bogus,
                oid: None,
                oxid: None,
                class: None,
                iid: IID_ICALCULATOR,
                opnum: 3,
                result: HResult::RPC_E_INVALID_IPID,
                conn_id: 7,
                call_id: 3,
            }
        );
        assert_eq!(
            events[3],
            DcomEvent::RemQueryInterface {
                ripid: ipid,
                refs: 2,
                iids: vec![IID_ICALCULATOR, guids::IID_ICLASS_FACTORY],
                results: vec![HResult::S_OK, HResult::E_NOINTERFACE],
                result: HResult::S_OK,
                v2: false,
                conn_id: 7,
                call_id: 3,
            }
        );
        assert!(matches!(
            &events[4],
            DcomEvent::RemRelease { refs, result, .. }
                if refs.len() == 1 && refs[0].public_refs == 3 && *result == HResult::S_OK
        ));
        assert_eq!(
            events[5],
            DcomEvent::Collected {
                oids: vec![oid],
                reason: GcReason::Released,
                objects: 0,
                ipids: 0,
                sets: 0,
                conn_id: 7,
            }
        );
    }

    // A second object, pinged once by a new set, then abandoned: the set times out.
    f.events.lock().unwrap().clear();
    let (ipid, _) = activate(&f).await;
    let oid = lock(&f.host.tables).lookup(ipid).unwrap().0.oid;
    let server = ObjectExporterServer::new(Resolver(f.host.clone()));
    let req = ComplexPingRequest {
        set_id: Default::default(),
        sequence_num: 1,
        c_add_to_set: 1,
        c_del_from_set: 0,
        add_to_set: Some(vec![oid]),
        del_from_set: None,
    };
    let out = server
        .dispatch(ctx(2, 5, None), req.to_stub(LE).unwrap(), LE, LIM)
        .await
        .unwrap();
    let set = ComplexPingResponse::from_stub(&out, LE, LIM, &req).unwrap();
    let req = SimplePingRequest {
        set_id: SetId(set.set_id.0 ^ 1),
    };
    server
        .dispatch(ctx(1, 5, None), req.to_stub(LE).unwrap(), LE, LIM)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(f.host.expire(), 1);
    let events = f.events.lock().unwrap();
    assert_eq!(events.len(), 4, "{events:#?}");
    assert_eq!(
        events[1],
        DcomEvent::Ping {
            complex: true,
            set_id: set.set_id,
            added: vec![oid],
            removed: vec![],
            result: status::OK,
            conn_id: 7,
            call_id: 3,
        }
    );
    assert!(matches!(
        &events[2],
        DcomEvent::Ping { complex: false, result, added, .. }
            if *result == status::OR_INVALID_SET && added.is_empty()
    ));
    assert_eq!(
        events[3],
        DcomEvent::Collected {
            oids: vec![oid],
            reason: GcReason::PingTimeout,
            objects: 0,
            ipids: 0,
            sets: 0,
            conn_id: 0,
        }
    );
}

mod permissions;
