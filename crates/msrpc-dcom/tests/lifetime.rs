//! The client's reference lifetime and pinging against the library's own server (features
//! `server` + `rt`) over TCP on loopback: `DcomClient::create_instance` hands out `ComRef`s
//! whose drop releases their references (batched), whose objects are pinged by the resolver's
//! `PingTask` while held and leave the ping set with their last handle, so the host's object
//! count goes back to 0; explicit release, AddRef, QueryInterface and their errors; a ping set
//! the server expired is created again; the task stops when its owner goes.
#![cfg(all(feature = "server", feature = "rt"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use msrpc_dcom::client::{
    ClientError, ComRef, DcomClient, DcomConfig, Exporter, PingConfig, PingTask,
};
use msrpc_dcom::demo::{
    AddRequest, CalculatorInterface, CalculatorServer, SpawnRequest, CLSID_CALCULATOR,
    IID_ICALCULATOR,
};
use msrpc_dcom::hresult::status;
use msrpc_dcom::ids::guids::IID_IUNKNOWN;
use msrpc_dcom::server::demo::{demo_classes, CalculatorService};
use msrpc_dcom::server::{DcomEvent, DcomHost, DcomSettings, GcReason};
use msrpc_dcom::tables::GcConfig;
use msrpc_dcom::{HResult, Ipid, Oid, OrpcThis, StdObjRef};
use msrpc_ndr::Uuid;
use msrpc_policy::Level;
use msrpc_rt::{ClientOptions, Server};

/// A host serving the demo class: its resolver/activator and its exporter on loopback.
struct Harness {
    host: Arc<DcomHost>,
    events: Arc<Mutex<Vec<DcomEvent>>>,
    resolver: Server,
    exporter: Server,
    gc: tokio::task::JoinHandle<()>,
    port: u16,
}

impl Harness {
    async fn start(gc: GcConfig, gc_interval: Duration) -> Harness {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let resolver_at = "127.0.0.1:0".parse().unwrap();
        let host = Arc::new(DcomHost::new(
            demo_classes(),
            DcomSettings {
                min_activation_level: Level::None,
                gc,
                gc_interval,
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
        host.set_exporter(&exporter.local_addrs()).unwrap();
        let resolver = host
            .resolver_services(Server::builder().listen(resolver_at))
            .start()
            .await
            .unwrap();
        let gc = host.spawn_gc();
        let port = resolver.local_addrs()[0].port();
        Harness {
            host,
            events,
            resolver,
            exporter,
            gc,
            port,
        }
    }

    /// The pings the resolver saw: (complex, added, removed, result).
    fn pings(&self) -> Vec<(bool, Vec<Oid>, Vec<Oid>, u32)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                DcomEvent::Ping {
                    complex,
                    added,
                    removed,
                    result,
                    ..
                } => Some((*complex, added.clone(), removed.clone(), *result)),
                _ => None,
            })
            .collect()
    }

    /// The references of each RemRelease the exporter saw: (IPID, public refs).
    fn releases(&self) -> Vec<Vec<(Ipid, u32)>> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                DcomEvent::RemRelease { refs, .. } => {
                    Some(refs.iter().map(|r| (r.ipid, r.public_refs)).collect())
                }
                _ => None,
            })
            .collect()
    }

    fn collected(&self) -> Vec<(Vec<Oid>, GcReason)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                DcomEvent::Collected { oids, reason, .. } => Some((oids.clone(), *reason)),
                _ => None,
            })
            .collect()
    }

    async fn stop(self) {
        self.gc.abort();
        self.resolver.shutdown().await;
        self.exporter.shutdown().await;
    }
}

/// Waits (at most 10 s) until `cond` holds.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "waited 10 s for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn config(period: Duration) -> DcomConfig {
    DcomConfig {
        ping: PingConfig {
            period,
            call_timeout: Duration::from_secs(5),
            retry_delay: Duration::from_millis(50),
            ..PingConfig::default()
        },
        timeout: Duration::from_secs(10),
        probe_timeout: Duration::from_secs(2),
        release_timeout: Duration::from_secs(5),
        // Generous, so the handles a test drops one after the other share a RemRelease.
        release_linger: Duration::from_millis(200),
    }
}

async fn add(r: &ComRef, a: i32, b: i32) -> i32 {
    let resp = r
        .client::<CalculatorInterface>()
        .unwrap()
        .add(AddRequest {
            orpcthis: OrpcThis::new(Uuid::new_v4()),
            a,
            b,
        })
        .await
        .unwrap();
    assert_eq!(resp.result, HResult::S_OK);
    resp.sum
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_release_on_drop_and_their_objects_leave_the_ping_set() {
    let h = Harness::start(GcConfig::DEFAULT, Duration::from_secs(30)).await;
    let period = Duration::from_millis(300);
    let dcom = DcomClient::new(ClientOptions::default(), config(period));
    let mut inst = dcom
        .create_instance(
            "127.0.0.1",
            h.port,
            CLSID_CALCULATOR,
            &[IID_ICALCULATOR, IID_IUNKNOWN],
        )
        .await
        .unwrap();
    let calc = inst.take(0).unwrap();
    let unk = inst.take(1).unwrap();
    assert!(inst.take(1).is_err(), "taken");
    assert_eq!((calc.iid(), unk.iid()), (IID_ICALCULATOR, IID_IUNKNOWN));
    assert_eq!(calc.oid(), unk.oid());
    assert_eq!(calc.oxid(), inst.activated.oxid);
    assert_eq!(add(&calc, 2, 3).await, 5);
    // A typed client for another interface is refused.
    assert!(matches!(
        unk.client::<CalculatorInterface>(),
        Err(ClientError::WrongInterface { .. })
    ));
    let pinger = dcom.pinger("127.0.0.1", h.port);
    assert!(pinger.is_running());
    assert!(pinger.contains(calc.oid()));

    // A second object, from an [out] interface pointer, and a second reference to it.
    let spawned = calc
        .client::<CalculatorInterface>()
        .unwrap()
        .spawn(SpawnRequest {
            orpcthis: OrpcThis::new(Uuid::new_v4()),
            offset: 100,
        })
        .await
        .unwrap();
    let child = inst
        .exporter
        .adopt_ptr(spawned.child.get().unwrap())
        .unwrap();
    assert_eq!(add(&child, 2, 3).await, 105);
    let child2 = child.add_ref().await.unwrap();
    assert_eq!((child2.ipid(), child2.public_refs()), (child.ipid(), 1));
    assert_eq!(h.host.counts().0, 2);

    // The first ping (after one period) creates the set with both objects.
    until("the first ping", || pinger.stats().pings >= 1).await;
    let first = &h.pings()[0];
    assert!(first.0 && first.3 == 0, "{first:?}");
    let mut added = first.1.clone();
    added.sort();
    let mut both = vec![calc.oid(), child.oid()];
    both.sort();
    assert_eq!(added, both);

    // Both handles of the child dropped together: one RemRelease of their two references.
    let child_oid = child.oid();
    let child_ipid = child.ipid();
    drop(child);
    drop(child2);
    inst.exporter
        .flush_releases(Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(h.releases().last().unwrap(), &vec![(child_ipid, 2)]);
    let stats = inst.exporter.release_stats();
    assert_eq!((stats.calls, stats.references, stats.failures), (1, 2, 0));
    assert!(!pinger.contains(child_oid));
    assert!(pinger.contains(calc.oid()));
    // The set still holds it until the next ping, which deletes it: then it goes.
    until("the ping removing the child", || {
        h.pings().iter().any(|p| p.2 == vec![child_oid])
    })
    .await;
    until("the child collected", || h.host.counts().0 == 1).await;
    assert!(h
        .collected()
        .contains(&(vec![child_oid], GcReason::RemovedFromSet)));

    // Unchanged since: SimplePings.
    let n = h.pings().len();
    until("a simple ping", || h.pings().len() > n).await;
    assert!(!h.pings()[n].0, "{:?}", h.pings()[n]);

    // Not the object's last handle: the OID stays. Then the last one, explicitly: its
    // release answers, the set loses the OID at once and the task stops.
    let oid = calc.oid();
    drop(unk);
    inst.exporter
        .flush_releases(Duration::from_secs(5))
        .await
        .unwrap();
    assert!(pinger.contains(oid));
    calc.release().await.unwrap();
    until("the ping task to stop", || !pinger.is_running()).await;
    assert!(h.pings().last().unwrap().2 == vec![oid]);
    assert_eq!(h.host.counts().0, 0);
    assert_eq!(h.host.counts().1, 0);
    let s = pinger.stats();
    assert_eq!((s.failures, s.oids, s.running), (0, 0, false));
    inst.exporter
        .shutdown(Duration::from_secs(5))
        .await
        .unwrap();
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_release_query_interface_and_their_errors() {
    let h = Harness::start(GcConfig::DEFAULT, Duration::from_secs(30)).await;
    let dcom = DcomClient::new(ClientOptions::default(), config(Duration::from_secs(120)));
    let mut inst = dcom
        .create_instance("127.0.0.1", h.port, CLSID_CALCULATOR, &[IID_ICALCULATOR])
        .await
        .unwrap();
    let calc = inst.take(0).unwrap();
    let ex: Exporter = inst.exporter.clone();

    // QueryInterface: IUnknown is offered (a new IPID of the same object), another IID not.
    let unk = calc.query_interface(IID_IUNKNOWN).await.unwrap();
    assert_eq!((unk.oid(), unk.iid()), (calc.oid(), IID_IUNKNOWN));
    assert_ne!(unk.ipid(), calc.ipid());
    let other = Uuid::from_u128(0x1234);
    let e = calc.query_interface(other).await.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Status {
                status: 0x8000_4002,
                ..
            }
        ),
        "{e}"
    );
    // The call's own HRESULT: an IPID the exporter does not know.
    let e = ex
        .query_interface(Ipid(Uuid::from_u128(9)), 1, &[IID_ICALCULATOR])
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Status {
                status: 0x8001_0114,
                ..
            }
        ),
        "{e}"
    );

    // Interface pointers of another exporter are refused; references the exporter does
    // not know are refused by it, and release() says so.
    let foreign = StdObjRef {
        public_refs: 1,
        oxid: msrpc_dcom::Oxid(calc.oxid().0 ^ 1),
        ..calc.std_objref()
    };
    assert!(matches!(
        ex.adopt(IID_ICALCULATOR, foreign),
        Err(ClientError::Invalid(_))
    ));
    let bogus = StdObjRef {
        flags: msrpc_dcom::orpc::SORF_NOPING,
        public_refs: 1,
        ipid: Ipid(Uuid::from_u128(0xdead)),
        ..calc.std_objref()
    };
    let e = ex
        .adopt(IID_ICALCULATOR, bogus)
        .unwrap()
        .release()
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Status {
                status: 0x8007_0057,
                ..
            }
        ),
        "{e}"
    );

    // Released explicitly, never pinged (first ping not due): the object goes at once.
    assert_eq!(h.host.counts().0, 1);
    unk.release().await.unwrap();
    assert_eq!(h.host.counts().0, 1);
    calc.release().await.unwrap();
    assert_eq!(h.host.counts(), (0, 0, 0));
    let pinger = dcom.pinger("127.0.0.1", h.port);
    until("the ping task to stop", || !pinger.is_running()).await;
    assert_eq!(pinger.stats().pings, 0, "nothing was due");
    assert!(h.pings().is_empty());
    ex.shutdown(Duration::from_secs(5)).await.unwrap();
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_the_server_expired_is_created_again() {
    // The server expires sets after 2 x 100 ms; the client pings every 400 ms.
    let gc = GcConfig {
        ping_period: Duration::from_millis(100),
        missed_pings: 2,
        ..GcConfig::DEFAULT
    };
    let h = Harness::start(gc, Duration::from_millis(50)).await;
    let p = PingTask::new(
        "127.0.0.1",
        h.port,
        ClientOptions::default(),
        config(Duration::from_millis(400)).ping,
    );
    p.add(Oid(7));
    until("the set expired and created again", || {
        h.pings()
            .iter()
            .filter(|x| x.0 && x.3 == 0 && x.1 == vec![Oid(7)])
            .count()
            >= 2
    })
    .await;
    let pings = h.pings();
    // Created, expired (SimplePing: OR_INVALID_SET), created again at once.
    let gone = pings
        .iter()
        .position(|x| !x.0 && x.3 == status::OR_INVALID_SET)
        .unwrap();
    assert!(pings[gone + 1].0 && pings[gone + 1].1 == vec![Oid(7)]);
    let s = p.stats();
    assert!(s.failures >= 1);
    assert!(s.last_error.unwrap().contains("0x00000778"));
    assert_eq!(s.sequence, 1, "a new set starts at sequence number 1");
    assert!(s.running);

    // The owner drops it: the task stops (no more pings).
    // A ping already on the wire when the owner drops the task may still land, late on a
    // loaded machine: count from more than one ping period (400 ms) after the drop.
    drop(p);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let n = h.pings().len();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(h.pings().len(), n, "pinged after its owner was dropped");
    h.stop().await;
}
