//! `ILocalObjectExporter` on the machine's resolver, driven directly (a peer on the local
//! channel is still a peer): calls from the network, absurd counts, OIDs another exporter
//! holds, double registrations, the per-process limits, foreign handles, rundown.

use std::sync::Arc;

use msrpc_ndr::{ContextHandle, Uuid};
use msrpc_proto::dispatch::CallContext;
use msrpc_proto::pdu::FaultStatus;

use super::demo::demo_classes;
use super::{ClassRegistry, DcomHost, DcomSettings, LocalExporterService};
use crate::dualstring::{Bindings, DualStringArray, StringBinding, TOWER_NCACN_IP_TCP};
use crate::hresult::status;
use crate::local::{
    AddOidsRequest, FreeOidsRequest, LocalObjectExporter, OidList, RegisterClassRequest,
    RegisterExporterRequest, RevokeClassRequest, RunDownOidsRequest, UnregisterExporterRequest,
    ALREADY_EXISTS, INVALID_PARAMETER, MAX_OIDS_PER_CALL,
};
use crate::resolver::{ComplexPingRequest, ObjectExporter, ResolveOxidRequest};
use crate::server::{LocalLimits, Resolver};
use crate::{Ipid, Oid, Oxid, SetId};

fn host(classes: ClassRegistry) -> Arc<DcomHost> {
    Arc::new(DcomHost::new(
        classes,
        DcomSettings::default(),
        &["127.0.0.1:135".parse().unwrap()],
        false,
        None,
    ))
}

fn local(group: u32) -> CallContext {
    CallContext {
        local: true,
        assoc_group_id: group,
        ..CallContext::default()
    }
}

fn bindings() -> DualStringArray {
    DualStringArray::from_bindings(&Bindings {
        strings: vec![StringBinding {
            tower_id: TOWER_NCACN_IP_TCP,
            network_addr: "127.0.0.1[49999]".into(),
        }],
        security: vec![],
    })
    .unwrap()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

fn register(s: &LocalExporterService, ctx: &CallContext, ipid: u128) -> (u32, Oxid, ContextHandle) {
    let r = block_on(s.register_exporter(
        ctx,
        RegisterExporterRequest {
            bindings: bindings(),
            ipid_rem_unknown: Ipid(Uuid::from_u128(ipid)),
            authn_hint: 5,
        },
    ))
    .unwrap();
    (r.result, r.oxid, r.exporter)
}

fn add(s: &LocalExporterService, ctx: &CallContext, h: ContextHandle, oids: &[u64]) -> u32 {
    block_on(s.add_oids(
        ctx,
        AddOidsRequest {
            exporter: h,
            oids: OidList::new(oids.iter().map(|o| Oid(*o)).collect()),
        },
    ))
    .unwrap()
    .result
}

fn class(
    s: &LocalExporterService,
    ctx: &CallContext,
    h: ContextHandle,
    clsid: u128,
    path: &str,
) -> u32 {
    block_on(s.register_class(
        ctx,
        RegisterClassRequest {
            exporter: h,
            clsid: Uuid::from_u128(clsid),
            name: "C".into(),
            activator: path.into(),
        },
    ))
    .unwrap()
    .result
}

fn resolves(h: &Arc<DcomHost>, oxid: Oxid) -> u32 {
    block_on(Resolver(h.clone()).resolve_oxid(
        &CallContext::default(),
        ResolveOxidRequest {
            oxid,
            c_requested_protseqs: 0,
            requested_protseqs: vec![],
        },
    ))
    .unwrap()
    .result
}

#[test]
fn every_operation_refuses_calls_from_the_network() {
    let h = host(ClassRegistry::default());
    let s = LocalExporterService(h.clone());
    let net = CallContext::default();
    let (st, oxid, handle) = register(&s, &net, 1);
    assert_eq!(
        (st, oxid, handle),
        (status::ACCESS_DENIED, Oxid(0), ContextHandle::NULL)
    );
    assert_eq!(h.counts(), (0, 0, 0));
    let (st, _, handle) = register(&s, &local(1), 1);
    assert_eq!(st, 0);
    // A valid handle used from the network (same group) is refused all the same.
    let net = CallContext {
        assoc_group_id: 1,
        ..CallContext::default()
    };
    assert_eq!(add(&s, &net, handle, &[5]), status::ACCESS_DENIED);
    assert_eq!(
        class(&s, &net, handle, 9, "/tmp/x.sock"),
        status::ACCESS_DENIED
    );
    let r = block_on(s.run_down_oids(
        &net,
        RunDownOidsRequest {
            exporter: handle,
            max: 10,
        },
    ))
    .unwrap();
    assert_eq!(r.result, status::ACCESS_DENIED);
    let r = block_on(s.free_oids(
        &net,
        FreeOidsRequest {
            exporter: handle,
            oids: OidList::new(vec![Oid(5)]),
        },
    ))
    .unwrap();
    assert_eq!(r.result, status::ACCESS_DENIED);
    let r = block_on(s.revoke_class(
        &net,
        RevokeClassRequest {
            exporter: handle,
            clsid: Uuid::from_u128(9),
        },
    ))
    .unwrap();
    assert_eq!(r.result, status::ACCESS_DENIED);
    let r = block_on(s.unregister_exporter(&net, UnregisterExporterRequest { exporter: handle }))
        .unwrap();
    assert_eq!(r.result, status::ACCESS_DENIED);
    assert_eq!(h.counts().0, 0);
}

#[test]
fn absurd_counts_and_shapes_are_refused() {
    let h = host(ClassRegistry::default());
    let s = LocalExporterService(h.clone());
    let ctx = local(1);
    let (_, _, handle) = register(&s, &ctx, 1);
    // A count that does not match the list, and more OIDs than one call may carry.
    let lying = OidList {
        count: 0xffff_ffff,
        oids: vec![Oid(1)],
    };
    let r = block_on(s.add_oids(
        &ctx,
        AddOidsRequest {
            exporter: handle,
            oids: lying,
        },
    ))
    .unwrap();
    assert_eq!(r.result, INVALID_PARAMETER);
    let many: Vec<u64> = (1..=MAX_OIDS_PER_CALL as u64 + 1).collect();
    assert_eq!(add(&s, &ctx, handle, &many), INVALID_PARAMETER);
    // OID 0, a relative or an over-long activator path, the nil CLSID, an absurd hint.
    assert_eq!(add(&s, &ctx, handle, &[0]), status::OR_INVALID_OID);
    assert_eq!(
        class(&s, &ctx, handle, 9, "relative.sock"),
        INVALID_PARAMETER
    );
    assert_eq!(
        class(&s, &ctx, handle, 9, &format!("/{}", "a".repeat(200))),
        INVALID_PARAMETER
    );
    assert_eq!(class(&s, &ctx, handle, 0, "/tmp/x.sock"), INVALID_PARAMETER);
    let r = block_on(s.register_exporter(
        &ctx,
        RegisterExporterRequest {
            bindings: bindings(),
            ipid_rem_unknown: Ipid(Uuid::from_u128(77)),
            authn_hint: 7000,
        },
    ))
    .unwrap();
    assert_eq!(r.result, INVALID_PARAMETER);
    // Bindings whose count lies.
    let r = block_on(s.register_exporter(
        &ctx,
        RegisterExporterRequest {
            bindings: DualStringArray {
                num_entries: 4,
                security_offset: 900,
                string_array: vec![7, 0x41, 0, 0],
            },
            ipid_rem_unknown: Ipid(Uuid::from_u128(78)),
            authn_hint: 1,
        },
    ))
    .unwrap();
    assert_eq!(r.result, INVALID_PARAMETER);
    // The run-down batch is bounded whatever `max` asks.
    let r = block_on(s.run_down_oids(
        &ctx,
        RunDownOidsRequest {
            exporter: handle,
            max: u32::MAX,
        },
    ))
    .unwrap();
    assert_eq!((r.result, r.oids.count), (0, 0));
    assert_eq!(h.counts().0, 0, "nothing adopted");
}

#[test]
fn oids_another_exporter_holds_cannot_be_claimed() {
    let h = host(demo_classes());
    // The host's own exporter and object.
    h.set_exporter(&["127.0.0.1:40000".parse().unwrap()])
        .unwrap();
    let own = h
        .export(
            Arc::new(super::demo::CalculatorObject::default()),
            "MsrpcCalculator",
            crate::demo::IID_ICALCULATOR,
        )
        .unwrap();
    let own = *crate::ObjRef::decode(&own.data).unwrap().std().unwrap();
    let s = LocalExporterService(h.clone());
    let (a, b) = (local(1), local(2));
    let (_, oxid_a, ha) = register(&s, &a, 1);
    let (_, _, hb) = register(&s, &b, 2);
    assert_eq!(add(&s, &a, ha, &[100, 101]), 0);
    // Process B claims one of A's OIDs (with one of its own): all refused.
    assert_eq!(add(&s, &b, hb, &[200, 101]), status::OR_INVALID_OID);
    // Nor the host's own object's.
    assert_eq!(add(&s, &b, hb, &[own.oid.0]), status::OR_INVALID_OID);
    assert_eq!(h.counts().0, 3);
    // Re-adding its own is a refresh; B freeing A's OIDs does nothing.
    assert_eq!(add(&s, &a, ha, &[100]), 0);
    let r = block_on(s.free_oids(
        &b,
        FreeOidsRequest {
            exporter: hb,
            oids: OidList::new(vec![Oid(100), Oid(own.oid.0)]),
        },
    ))
    .unwrap();
    assert_eq!(r.result, 0);
    assert_eq!(h.counts().0, 3);
    // B cannot use A's handle (another association group): a fault, as for the EPM's handles.
    let e = block_on(s.add_oids(
        &b,
        AddOidsRequest {
            exporter: ha,
            oids: OidList::new(vec![Oid(300)]),
        },
    ));
    assert_eq!(
        e.err().map(|f| f.0),
        Some(FaultStatus::NCA_S_FAULT_CONTEXT_MISMATCH)
    );
    // Clients ping A's OIDs at the resolver as the host's own.
    let r = block_on(Resolver(h.clone()).complex_ping(
        &CallContext::default(),
        ComplexPingRequest {
            set_id: SetId(0),
            sequence_num: 1,
            c_add_to_set: 2,
            c_del_from_set: 0,
            add_to_set: Some(vec![Oid(100), Oid(101)]),
            del_from_set: None,
        },
    ))
    .unwrap();
    assert_eq!(r.result, 0);
    assert_eq!(resolves(&h, oxid_a), 0);
}

#[test]
fn double_registrations_are_refused() {
    let h = host(demo_classes());
    let s = LocalExporterService(h.clone());
    let (a, b) = (local(1), local(2));
    let (_, _, ha) = register(&s, &a, 1);
    // The same IRemUnknown IPID again.
    assert_eq!(register(&s, &b, 1).0, ALREADY_EXISTS);
    let (_, _, hb) = register(&s, &b, 2);
    assert_eq!(class(&s, &a, ha, 9, "/tmp/a.sock"), 0);
    assert_eq!(class(&s, &a, ha, 9, "/tmp/a.sock"), ALREADY_EXISTS);
    assert_eq!(class(&s, &b, hb, 9, "/tmp/b.sock"), ALREADY_EXISTS);
    // A class this host serves itself.
    let calc = crate::demo::CLSID_CALCULATOR.as_u128();
    assert_eq!(class(&s, &b, hb, calc, "/tmp/b.sock"), ALREADY_EXISTS);
    // B cannot revoke A's class.
    let r = block_on(s.revoke_class(
        &b,
        RevokeClassRequest {
            exporter: hb,
            clsid: Uuid::from_u128(9),
        },
    ))
    .unwrap();
    assert_eq!(r.result, INVALID_PARAMETER);
    assert!(h.foreign.class(Uuid::from_u128(9)).is_some());
}

#[test]
fn per_process_limits_hold() {
    let h = host(ClassRegistry::default());
    let s = LocalExporterService(h.clone());
    let ctx = local(1);
    let lim = LocalLimits::DEFAULT;
    let mut handles = Vec::new();
    for i in 0..lim.max_exporters_per_process {
        let (st, _, hd) = register(&s, &ctx, 10 + i as u128);
        assert_eq!(st, 0);
        handles.push(hd);
    }
    assert_eq!(register(&s, &ctx, 99).0, status::OUT_OF_MEMORY);
    // Another process still may.
    assert_eq!(register(&s, &local(2), 99).0, 0);
    let hd = handles[0];
    let batch: Vec<u64> = (1..=MAX_OIDS_PER_CALL as u64).collect();
    assert_eq!(add(&s, &ctx, hd, &batch), 0);
    assert_eq!(add(&s, &ctx, hd, &[1_000_000]), status::OUT_OF_MEMORY);
    for i in 0..lim.max_classes_per_process {
        assert_eq!(class(&s, &ctx, hd, 1000 + i as u128, "/tmp/c.sock"), 0);
    }
    assert_eq!(
        class(&s, &ctx, handles[1], 5000, "/tmp/c.sock"),
        status::OUT_OF_MEMORY
    );
}

#[test]
fn rundown_removes_the_process_exporters_oids_and_classes() {
    let h = host(ClassRegistry::default());
    let s = LocalExporterService(h.clone());
    let ctx = local(4);
    let (_, oxid, hd) = register(&s, &ctx, 1);
    assert_eq!(add(&s, &ctx, hd, &[5, 6]), 0);
    assert_eq!(class(&s, &ctx, hd, 9, "/tmp/a.sock"), 0);
    assert_eq!(resolves(&h, oxid), 0);
    LocalObjectExporter::rundown(&s, 4);
    assert_eq!(resolves(&h, oxid), status::OR_INVALID_OXID);
    assert_eq!(h.counts().0, 0);
    assert!(h.foreign.class(Uuid::from_u128(9)).is_none());
    // The handle is gone with it.
    let e = block_on(s.add_oids(
        &ctx,
        AddOidsRequest {
            exporter: hd,
            oids: OidList::new(vec![Oid(7)]),
        },
    ));
    assert!(e.is_err());
}

#[test]
fn unpinged_oids_are_run_down_and_fetched_in_bounded_batches() {
    let h = Arc::new(DcomHost::new(
        ClassRegistry::default(),
        DcomSettings {
            gc: crate::tables::GcConfig {
                ping_period: std::time::Duration::ZERO,
                ..crate::tables::GcConfig::DEFAULT
            },
            ..DcomSettings::default()
        },
        &["127.0.0.1:135".parse().unwrap()],
        false,
        None,
    ));
    let s = LocalExporterService(h.clone());
    let ctx = local(1);
    let (_, _, hd) = register(&s, &ctx, 1);
    assert_eq!(add(&s, &ctx, hd, &[5, 6, 7]), 0);
    // A timeout of zero: the next collection runs them all down.
    assert_eq!(h.expire(), 3);
    let r = block_on(s.run_down_oids(
        &ctx,
        RunDownOidsRequest {
            exporter: hd,
            max: 2,
        },
    ))
    .unwrap();
    assert_eq!(r.oids.oids.len(), 2);
    let r2 = block_on(s.run_down_oids(
        &ctx,
        RunDownOidsRequest {
            exporter: hd,
            max: 2,
        },
    ))
    .unwrap();
    let mut all: Vec<u64> = r
        .oids
        .oids
        .iter()
        .chain(&r2.oids.oids)
        .map(|o| o.0)
        .collect();
    all.sort_unstable();
    assert_eq!(all, vec![5, 6, 7]);
    let r3 = block_on(s.run_down_oids(
        &ctx,
        RunDownOidsRequest {
            exporter: hd,
            max: 2,
        },
    ))
    .unwrap();
    assert!(r3.oids.oids.is_empty(), "each is answered once");
}
