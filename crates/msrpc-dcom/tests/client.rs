//! The client (feature `rt`) against in-process test doubles served by `msrpc-rt`: an
//! activator answering Impacket's activation reply, the activation properties compared with
//! Impacket's, the exporter's address chosen with the fallback to the dialled host, and every
//! wait bounded.
#![cfg(feature = "rt")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use msrpc_dcom::activation::{ActivationBlob, ActivationLimits, Property};
use msrpc_dcom::activator::*;
use msrpc_dcom::client::{
    activate, activation_properties, choose_exporter, split_network_addr, ClientError,
};
use msrpc_dcom::dualstring::{Bindings, StringBinding};
use msrpc_dcom::hresult::HResult;
use msrpc_dcom::ids::guids;
use msrpc_dcom::{MInterfacePointer, OrpcThat};
use msrpc_ndr::{Unique, Uuid};
use msrpc_proto::dispatch::{CallContext, RpcFault};
use msrpc_rt::{ClientOptions, Server};

const CLSID_MMC20: Uuid = Uuid::from_u128(0x49b2791a_b1ae_4c90_9b8e_e860ba07f889);
const IID_IDISPATCH: Uuid = Uuid::from_u128(0x00020400_0000_0000_c000_000000000046);

fn vector(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/vectors/impacket-dcom/{name}.hex",
        env!("CARGO_MANIFEST_DIR")
    );
    hex::decode(
        std::fs::read_to_string(path)
            .unwrap()
            .split_whitespace()
            .collect::<String>(),
    )
    .unwrap()
}

#[test]
fn activation_properties_are_impackets_but_for_this_size() {
    let ours = activation_properties(CLSID_MMC20, &[IID_IDISPATCH]).unwrap();
    let mut theirs = ActivationBlob::decode(
        &vector("remote_create_instance_blob"),
        &ActivationLimits::DEFAULT,
    )
    .unwrap();
    // Impacket leaves thisSize 0; we fill it in (MS-DCOM 2.2.22.2.1).
    let size = ours.instantiation_info().unwrap().this_size;
    assert_ne!(size, 0);
    for p in &mut theirs.properties {
        if let Property::InstantiationInfo(i) = p {
            i.this_size = size;
        }
    }
    assert_eq!(ours, theirs);
    assert_eq!(ours.encode().unwrap(), theirs.encode().unwrap());
}

/// The test double: records the activation requests and answers `reply`.
struct Activator {
    reply: Result<(HResult, Option<MInterfacePointer>), RpcFault>,
    seen: Arc<Mutex<Vec<ActivationBlob>>>,
    delay: Duration,
}

impl RemoteScmActivator for Activator {
    async fn remote_get_class_object(
        &self,
        _: &CallContext,
        _: RemoteGetClassObjectRequest,
    ) -> Result<RemoteGetClassObjectResponse, RpcFault> {
        Err(RpcFault(msrpc_proto::pdu::FaultStatus::NCA_S_OP_RNG_ERROR))
    }
    async fn remote_create_instance(
        &self,
        _: &CallContext,
        req: RemoteCreateInstanceRequest,
    ) -> Result<RemoteCreateInstanceResponse, RpcFault> {
        assert_eq!(req.orpcthis.flags, 1, "ORPCF_LOCAL, as Windows sends");
        assert_eq!(
            (req.orpcthis.version.major, req.orpcthis.version.minor),
            (5, 7)
        );
        let blob = ActivationBlob::from_interface_pointer(
            req.act_properties.get().unwrap(),
            &ActivationLimits::DEFAULT,
        )
        .unwrap();
        self.seen.lock().unwrap().push(blob);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let (result, out) = self.reply.clone()?;
        Ok(RemoteCreateInstanceResponse {
            orpcthat: OrpcThat::default(),
            act_properties_out: match out {
                Some(ip) => Unique::new(ip),
                None => Unique::null(),
            },
            result,
        })
    }
}

/// Impacket's activation reply (IDispatch S_OK, OXID 0x2f47a0c1d4e5f601, bindings
/// WIN-DCOM01[49668] and 192.168.56.10[49668], authnHint 5).
fn impacket_reply() -> MInterfacePointer {
    let blob = ActivationBlob::decode(&vector("activation_reply_blob"), &ActivationLimits::DEFAULT)
        .unwrap();
    blob.to_interface_pointer(false).unwrap()
}

async fn serve(
    reply: Result<(HResult, Option<MInterfacePointer>), RpcFault>,
    delay: Duration,
) -> (Server, u16, Arc<Mutex<Vec<ActivationBlob>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .service(RemoteScmActivatorServer::new(Activator {
            reply,
            seen: Arc::clone(&seen),
            delay,
        }))
        .start()
        .await
        .unwrap();
    let port = server.local_addrs()[0].port();
    (server, port, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activate_reads_impackets_reply() {
    let (server, port, seen) =
        serve(Ok((HResult::S_OK, Some(impacket_reply()))), Duration::ZERO).await;
    let a = activate(
        "127.0.0.1",
        port,
        CLSID_MMC20,
        &[IID_IDISPATCH],
        ClientOptions::default(),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(a.oxid.0, 0x2f47_a0c1_d4e5_f601);
    assert_eq!(a.authn_hint, 5);
    assert_eq!((a.server_version.major, a.server_version.minor), (5, 7));
    assert_eq!(
        a.ipid_rem_unknown.0,
        Uuid::from_u128(0x0000ac01_0a2c_0000_8e14_1c2f0a5a7b11)
    );
    assert_eq!(a.bindings.strings.len(), 2);
    assert_eq!(a.interfaces.len(), 1);
    assert_eq!(a.interfaces[0].iid, IID_IDISPATCH);
    assert!(a.interfaces[0].hresult.is_success());
    assert!(a.interfaces[0].objref.is_some());

    // What the activator received: the four properties, our CLSID and IID, protseq 7.
    let blobs = seen.lock().unwrap().clone();
    assert_eq!(blobs.len(), 1);
    let clsids: Vec<Uuid> = blobs[0].properties.iter().map(Property::clsid).collect();
    assert_eq!(
        clsids,
        [
            guids::CLSID_INSTANTIATION_INFO,
            guids::CLSID_ACTIVATION_CONTEXT_INFO,
            guids::CLSID_SERVER_LOCATION_INFO,
            guids::CLSID_SCM_REQUEST_INFO
        ]
    );
    assert_eq!(blobs[0].instantiation_info().unwrap().class_id, CLSID_MMC20);
    let rr = blobs[0]
        .scm_request_info()
        .unwrap()
        .remote_request
        .get()
        .unwrap();
    assert_eq!(rr.requested_protseqs.get().unwrap(), &vec![7u16]);

    // The advertised names do not resolve or answer here: the dialled host, advertised port.
    let chosen = choose_exporter("127.0.0.1", &a.bindings, Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(
        (chosen.host.as_str(), chosen.port, chosen.fallback),
        ("127.0.0.1", 49668, true)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activate_failures_and_bounded_waits() {
    // A failed HRESULT.
    let (server, port, _) = serve(Ok((HResult::E_ACCESSDENIED, None)), Duration::ZERO).await;
    let e = activate(
        "127.0.0.1",
        port,
        CLSID_MMC20,
        &[IID_IDISPATCH],
        ClientOptions::default(),
        Duration::from_secs(10),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Status {
                status: 0x8007_0005,
                ..
            }
        ),
        "{e}"
    );
    server.shutdown().await;
    // S_OK without properties out.
    let (server, port, _) = serve(Ok((HResult::S_OK, None)), Duration::ZERO).await;
    let e = activate(
        "127.0.0.1",
        port,
        CLSID_MMC20,
        &[IID_IDISPATCH],
        ClientOptions::default(),
        Duration::from_secs(10),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ClientError::Invalid(_)), "{e}");
    server.shutdown().await;
    // An activator that takes too long: the whole exchange is bounded.
    let (server, port, _) = serve(
        Ok((HResult::S_OK, Some(impacket_reply()))),
        Duration::from_secs(30),
    )
    .await;
    let t0 = Instant::now();
    let e = activate(
        "127.0.0.1",
        port,
        CLSID_MMC20,
        &[IID_IDISPATCH],
        ClientOptions::default(),
        Duration::from_millis(500),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ClientError::Timeout(_)), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporter_choice_prefers_a_reachable_advertised_binding() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let b = |a: &str| StringBinding {
        tower_id: 7,
        network_addr: a.into(),
    };
    let bindings = Bindings {
        strings: vec![
            b("no-such-host.invalid[1]"),
            StringBinding {
                tower_id: 0x1f,
                network_addr: "127.0.0.1[2]".into(),
            },
            b(&format!("127.0.0.1[{port}]")),
        ],
        security: vec![],
    };
    let c = choose_exporter("10.9.9.9", &bindings, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(
        (c.host.as_str(), c.port, c.fallback),
        ("127.0.0.1", port, false)
    );
    // No tcp binding: nothing to choose.
    assert!(
        choose_exporter("h", &Bindings::default(), Duration::from_millis(10))
            .await
            .is_none()
    );
    assert_eq!(
        split_network_addr("WIN-DCOM01[49668]"),
        Some(("WIN-DCOM01".into(), 49668))
    );
    assert_eq!(split_network_addr("fe80::1"), Some(("fe80::1".into(), 135)));
    assert_eq!(split_network_addr("h[x]"), None);
    assert_eq!(split_network_addr(""), None);
}

/// A resolver test double for pings (what the library's resolver cannot be made to do):
/// records each ping and when it came, creates set 0x77, expires the set once when asked,
/// answers ComplexPing with a backoff factor, faults the next pings when asked.
#[derive(Default)]
struct PingResolver {
    log: Mutex<Vec<String>>,
    times: Mutex<Vec<Instant>>,
    expire_next: Mutex<bool>,
    backoff: Mutex<u16>,
    fail_next: Mutex<u32>,
}

impl PingResolver {
    /// Records a ping; a fault when one was asked for.
    fn record(&self, line: String) -> Result<(), RpcFault> {
        self.times.lock().unwrap().push(Instant::now());
        let mut fail = self.fail_next.lock().unwrap();
        if *fail > 0 {
            *fail -= 1;
            self.log.lock().unwrap().push(format!("{line} (fault)"));
            return Err(RpcFault(msrpc_proto::pdu::FaultStatus::NCA_S_FAULT_UNSPEC));
        }
        self.log.lock().unwrap().push(line);
        Ok(())
    }
}

type Shared = Arc<PingResolver>;

fn op_rng<T>() -> Result<T, RpcFault> {
    Err(RpcFault(msrpc_proto::pdu::FaultStatus::NCA_S_OP_RNG_ERROR))
}

struct PingServer(Shared);

impl msrpc_dcom::resolver::ObjectExporter for PingServer {
    async fn resolve_oxid(
        &self,
        _: &CallContext,
        _: msrpc_dcom::resolver::ResolveOxidRequest,
    ) -> Result<msrpc_dcom::resolver::ResolveOxidResponse, RpcFault> {
        op_rng()
    }
    async fn simple_ping(
        &self,
        _: &CallContext,
        req: msrpc_dcom::resolver::SimplePingRequest,
    ) -> Result<msrpc_dcom::resolver::SimplePingResponse, RpcFault> {
        self.0.record(format!("simple {:#x}", req.set_id.0))?;
        let expire = std::mem::take(&mut *self.0.expire_next.lock().unwrap());
        Ok(msrpc_dcom::resolver::SimplePingResponse {
            result: if expire { 0x778 } else { 0 },
        })
    }
    async fn complex_ping(
        &self,
        _: &CallContext,
        req: msrpc_dcom::resolver::ComplexPingRequest,
    ) -> Result<msrpc_dcom::resolver::ComplexPingResponse, RpcFault> {
        let ids = |v: &Option<Vec<msrpc_dcom::Oid>>| {
            v.as_deref()
                .unwrap_or_default()
                .iter()
                .map(|o| o.0.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        self.0.record(format!(
            "complex {:#x} seq {} +[{}] -[{}]",
            req.set_id.0,
            req.sequence_num,
            ids(&req.add_to_set),
            ids(&req.del_from_set)
        ))?;
        Ok(msrpc_dcom::resolver::ComplexPingResponse {
            set_id: msrpc_dcom::SetId(if req.set_id.0 == 0 {
                0x77
            } else {
                req.set_id.0
            }),
            ping_backoff_factor: *self.0.backoff.lock().unwrap(),
            result: 0,
        })
    }
    async fn server_alive(
        &self,
        _: &CallContext,
        _: msrpc_dcom::resolver::ServerAliveRequest,
    ) -> Result<msrpc_dcom::resolver::ServerAliveResponse, RpcFault> {
        op_rng()
    }
    async fn resolve_oxid2(
        &self,
        _: &CallContext,
        _: msrpc_dcom::resolver::ResolveOxid2Request,
    ) -> Result<msrpc_dcom::resolver::ResolveOxid2Response, RpcFault> {
        op_rng()
    }
    async fn server_alive2(
        &self,
        _: &CallContext,
        _: msrpc_dcom::resolver::ServerAlive2Request,
    ) -> Result<msrpc_dcom::resolver::ServerAlive2Response, RpcFault> {
        op_rng()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinger_creates_changes_keeps_and_recreates_its_set() {
    use msrpc_dcom::client::Pinger;
    use msrpc_dcom::Oid;
    let state: Shared = Arc::default();
    let server = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .service(msrpc_dcom::resolver::ObjectExporterServer::new(PingServer(
            Arc::clone(&state),
        )))
        .start()
        .await
        .unwrap();
    let port = server.local_addrs()[0].port();
    let client = msrpc_rt::Client::connect_host("127.0.0.1", port, ClientOptions::default())
        .await
        .unwrap();
    let mut p = Pinger::new(client);
    p.add(Oid(1));
    p.add(Oid(2));
    p.ping().await.unwrap(); // creates the set
    assert_eq!(p.set_id().0, 0x77);
    p.ping().await.unwrap(); // nothing changed: SimplePing
    p.remove(Oid(1));
    p.add(Oid(3));
    p.ping().await.unwrap(); // ComplexPing with the changes, sequence 2
    *state.expire_next.lock().unwrap() = true;
    let e = p.ping().await.unwrap_err(); // the server expired the set
    assert!(
        matches!(e, ClientError::Status { status: 0x778, .. }),
        "{e}"
    );
    p.ping().await.unwrap(); // a new set with every OID, sequence 1 (MS-DCOM 3.2.6.1)
    assert_eq!(p.sequence(), 1);
    assert_eq!(
        state.log.lock().unwrap().as_slice(),
        [
            "complex 0x0 seq 1 +[1,2] -[]",
            "simple 0x77",
            "complex 0x77 seq 2 +[3] -[1]",
            "simple 0x77",
            "complex 0x0 seq 1 +[2,3] -[]",
        ]
    );
    server.shutdown().await;
}

async fn serve_pings(state: &Shared) -> (Server, u16) {
    let server = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .service(msrpc_dcom::resolver::ObjectExporterServer::new(PingServer(
            Arc::clone(state),
        )))
        .start()
        .await
        .unwrap();
    let port = server.local_addrs()[0].port();
    (server, port)
}

/// Waits (at most 10 s) until `cond` holds.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "waited 10 s for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_task_honours_the_backoff_factor_and_retries_failures() {
    use msrpc_dcom::client::{PingConfig, PingTask};
    use msrpc_dcom::Oid;
    let state: Shared = Arc::default();
    *state.backoff.lock().unwrap() = 1;
    let (server, port) = serve_pings(&state).await;
    let period = Duration::from_millis(150);
    let retry = Duration::from_millis(60);
    let p = PingTask::new(
        "127.0.0.1",
        port,
        ClientOptions::default(),
        PingConfig {
            period,
            call_timeout: Duration::from_secs(5),
            retry_delay: retry,
            retries: 2,
            max_backoff_factor: 1,
        },
    );
    assert!(!p.is_running(), "nothing to ping yet");
    let t0 = Instant::now();
    p.add(Oid(1));
    assert!(p.is_running());
    until("two pings", || state.times.lock().unwrap().len() >= 2).await;
    let times = state.times.lock().unwrap().clone();
    // The first after one period; the server asked for factor 1: the next after two.
    assert!(times[0] - t0 >= period);
    assert!(
        times[1] - times[0] >= period * 2,
        "{:?}",
        times[1] - times[0]
    );
    assert_eq!(p.stats().backoff_factor, 1);

    // The next ping faults: tried again after the retry delay, not a period later.
    *state.fail_next.lock().unwrap() = 1;
    until("the retry", || state.times.lock().unwrap().len() >= 4).await;
    let times = state.times.lock().unwrap().clone();
    let gap = times[3] - times[2];
    assert!(gap >= retry && gap < period * 2, "{gap:?}");
    let s = p.stats();
    assert_eq!((s.failures, s.pings), (1, 3));
    assert!(s.last_error.unwrap().contains("SimplePing"));
    assert_eq!(
        state.log.lock().unwrap()[..4],
        [
            "complex 0x0 seq 1 +[1] -[]",
            "simple 0x77",
            "simple 0x77 (fault)",
            "simple 0x77",
        ]
    );
    // Its last OID removed: the deletion goes at once, then the task stops.
    p.remove(Oid(1));
    until("the task to stop", || !p.is_running()).await;
    assert_eq!(
        state.log.lock().unwrap().last().unwrap(),
        "complex 0x77 seq 2 +[] -[1]"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_task_survives_an_unreachable_resolver() {
    use msrpc_dcom::client::{PingConfig, PingTask};
    use msrpc_dcom::Oid;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let p = PingTask::new(
        "127.0.0.1",
        port,
        ClientOptions::default(),
        PingConfig {
            period: Duration::from_millis(50),
            call_timeout: Duration::from_secs(2),
            retry_delay: Duration::from_millis(20),
            retries: 2,
            max_backoff_factor: 1,
        },
    );
    p.add(Oid(1));
    // One try and two retries per period, each counted; the task keeps running.
    until("three failures", || p.stats().failures >= 3).await;
    let s = p.stats();
    assert_eq!(s.pings, 0);
    assert!(s.running);
    assert!(s.last_error.is_some());
    // A flush waits for an answer that cannot come, within its bound.
    let e = p.flush(Duration::from_millis(2000)).await.unwrap_err();
    assert!(
        matches!(e, ClientError::Background { .. } | ClientError::Timeout(_)),
        "{e}"
    );
    // Nothing left to keep alive (the set was never created): the task stops.
    p.remove(Oid(1));
    until("the task to stop", || !p.is_running()).await;
}
