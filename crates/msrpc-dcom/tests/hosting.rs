//! Hosting over TCP on loopback with the public API only (`server` + `rt`): a host's resolver
//! and exporter servers built with `resolver_services` / `exporter_services`, activated and
//! called by `msrpc_dcom::client`, its events observed.
#![cfg(all(feature = "server", feature = "rt"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use msrpc_dcom::client::{activate, choose_exporter, Exporter};
use msrpc_dcom::demo::{
    AddRequest, CalculatorClient, CalculatorServer, CLSID_CALCULATOR, IID_ICALCULATOR,
};
use msrpc_dcom::orpc::RemInterfaceRef;
use msrpc_dcom::server::demo::{demo_classes, CalculatorService};
use msrpc_dcom::server::{DcomEvent, DcomHost, DcomSettings, GcReason};
use msrpc_dcom::{HResult, OrpcThis};
use msrpc_ndr::Uuid;
use msrpc_policy::Level;
use msrpc_rt::{ClientOptions, Server};

#[tokio::test]
async fn a_process_hosts_the_demo_class_with_the_library_api() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let resolver_at = "127.0.0.1:0".parse().unwrap();
    let host = Arc::new(DcomHost::new(
        demo_classes(),
        DcomSettings {
            min_activation_level: Level::None,
            ..DcomSettings::default()
        },
        &[resolver_at],
        false,
        Some(Arc::new(move |e: &DcomEvent| {
            sink.lock().unwrap().push(e.clone())
        })),
    ));
    let exporter = host
        .exporter_services(Server::builder().listen("127.0.0.1:0".parse().unwrap()))
        .service(CalculatorServer::new(CalculatorService(host.clone())))
        .start()
        .await
        .unwrap();
    let oxid = host.set_exporter(&exporter.local_addrs()).unwrap();
    let resolver = host
        .resolver_services(Server::builder().listen(resolver_at))
        .start()
        .await
        .unwrap();
    let gc = host.spawn_gc();
    let port = resolver.local_addrs()[0].port();

    let timeout = Duration::from_secs(10);
    let a = activate(
        "127.0.0.1",
        port,
        CLSID_CALCULATOR,
        &[IID_ICALCULATOR],
        ClientOptions::default(),
        timeout,
    )
    .await
    .unwrap();
    assert_eq!(a.oxid, oxid);
    assert_eq!(a.interfaces[0].hresult, HResult::S_OK);
    let std = *a.interfaces[0].objref.as_ref().unwrap().std().unwrap();
    let to = choose_exporter("127.0.0.1", &a.bindings, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(to.port, exporter.local_addrs()[0].port());
    let ex = Exporter::connect(
        &to.host,
        to.port,
        a.ipid_rem_unknown,
        ClientOptions::default(),
    )
    .await
    .unwrap();
    let calc = CalculatorClient::new(ex.client().clone()).with_object(std.ipid.0);
    let r = calc
        .add(AddRequest {
            orpcthis: OrpcThis::new(Uuid::from_u128(9)),
            a: 20,
            b: 22,
        })
        .await
        .unwrap();
    assert_eq!((r.sum, r.result), (42, HResult::S_OK));
    ex.release(&[RemInterfaceRef {
        ipid: std.ipid,
        public_refs: 1,
        private_refs: 0,
    }])
    .await
    .unwrap();
    assert_eq!(host.counts(), (0, 0, 0));
    ex.close();

    let events = events.lock().unwrap().clone();
    assert!(
        matches!(
            &events[..],
            [
                DcomEvent::Activation { class: Some("MsrpcCalculator"), oid: Some(o1), .. },
                DcomEvent::OrpcCall { class: Some("MsrpcCalculator"), oid: Some(o2), opnum: 3, .. },
                DcomEvent::RemRelease { .. },
                DcomEvent::Collected { reason: GcReason::Released, oids, .. },
            ] if o1 == o2 && *oids == vec![std.oid]
        ),
        "{events:#?}"
    );
    gc.abort();
    resolver.shutdown().await;
    exporter.shutdown().await;
}
