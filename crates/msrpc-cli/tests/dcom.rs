//! `msrpc dcom alive` against an in-process OXID resolver: a test double of
//! `IObjectExporter` (the generated server trait of `msrpc-dcom`) answering Impacket's
//! ServerAlive2 response vector, behind a wrapper that records the request stubs it receives
//! so they can be compared with Impacket's request vector. Also: error status, fault, and a
//! resolver that never answers (the wait is bounded). And the daemon's audit path wired as
//! msrpcd wires it: our client's DCOM calls become `dcom_*` events and an alert.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{msrpc, start_with};
use msrpc_dcom::resolver::*;
use msrpc_ndr::{DataRep, DecodeLimits};
use msrpc_proto::dispatch::{BoxFuture, CallContext, Dispatch, DispatchError, RpcFault};
use msrpc_proto::pdu::{FaultStatus, SyntaxId};
use serde_json::Value;

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

/// Impacket's ServerAlive2 response (COM 5.7, three addresses, five security bindings).
fn impacket_response() -> ServerAlive2Response {
    let stub = vector("server_alive2_response");
    ServerAlive2Response::from_stub(
        &stub,
        DataRep::LITTLE_ENDIAN,
        DecodeLimits::DEFAULT,
        &ServerAlive2Request {},
    )
    .unwrap()
}

/// The test double: answers ServerAlive2 with `answer` (or a fault); other operations fault.
struct Resolver {
    answer: Result<ServerAlive2Response, RpcFault>,
}

impl ObjectExporter for Resolver {
    async fn resolve_oxid(
        &self,
        _: &CallContext,
        _: ResolveOxidRequest,
    ) -> Result<ResolveOxidResponse, RpcFault> {
        Err(RpcFault(FaultStatus::NCA_S_OP_RNG_ERROR))
    }
    async fn simple_ping(
        &self,
        _: &CallContext,
        _: SimplePingRequest,
    ) -> Result<SimplePingResponse, RpcFault> {
        Err(RpcFault(FaultStatus::NCA_S_OP_RNG_ERROR))
    }
    async fn complex_ping(
        &self,
        _: &CallContext,
        _: ComplexPingRequest,
    ) -> Result<ComplexPingResponse, RpcFault> {
        Err(RpcFault(FaultStatus::NCA_S_OP_RNG_ERROR))
    }
    async fn server_alive(
        &self,
        _: &CallContext,
        _: ServerAliveRequest,
    ) -> Result<ServerAliveResponse, RpcFault> {
        Err(RpcFault(FaultStatus::NCA_S_OP_RNG_ERROR))
    }
    async fn resolve_oxid2(
        &self,
        _: &CallContext,
        _: ResolveOxid2Request,
    ) -> Result<ResolveOxid2Response, RpcFault> {
        Err(RpcFault(FaultStatus::NCA_S_OP_RNG_ERROR))
    }
    async fn server_alive2(
        &self,
        _: &CallContext,
        _: ServerAlive2Request,
    ) -> Result<ServerAlive2Response, RpcFault> {
        self.answer.clone()
    }
}

/// The (opnum, request stub) of every call, in order.
type Seen = Arc<Mutex<Vec<(u16, Vec<u8>)>>>;

/// Records (opnum, request stub) and passes the call on.
struct Recording<D> {
    inner: D,
    seen: Seen,
}

impl<D: Dispatch> Dispatch for Recording<D> {
    fn syntax(&self) -> SyntaxId {
        self.inner.syntax()
    }
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn operation_name(&self, opnum: u16) -> Option<&'static str> {
        self.inner.operation_name(opnum)
    }
    fn dispatch<'a>(
        &'a self,
        ctx: CallContext,
        stub: Vec<u8>,
        drep: DataRep,
        limits: DecodeLimits,
    ) -> BoxFuture<'a, Result<Vec<u8>, DispatchError>> {
        self.seen.lock().unwrap().push((ctx.opnum, stub.clone()));
        self.inner.dispatch(ctx, stub, drep, limits)
    }
}

fn serve(answer: Result<ServerAlive2Response, RpcFault>) -> (common::TestServer, Seen) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = Arc::clone(&seen);
    let server = start_with(move |b| {
        b.service(Recording {
            inner: ObjectExporterServer::new(Resolver { answer }),
            seen: s2,
        })
    });
    (server, seen)
}

#[test]
fn alive_prints_com_version_and_addresses_text_and_json() {
    let (s, seen) = serve(Ok(impacket_response()));
    let target = format!("127.0.0.1:{}", s.port());

    let r = msrpc(&["dcom", "alive", &target, "--json"]).expect_code(0);
    let doc = r.json();
    assert_eq!(doc["com_version"], "5.7");
    assert_eq!(doc["peer"], format!("127.0.0.1:{}", s.port()));
    let addrs: Vec<&str> = doc["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        addrs,
        ["WIN-DCOM01", "192.168.56.10", "fe80::1c2d:3e4f:5a6b:7c8d"]
    );
    assert_eq!(doc["string_bindings"][0]["protseq"], "ncacn_ip_tcp");
    assert_eq!(doc["string_bindings"][0]["tower_id"], 7);
    let svcs: Vec<u64> = doc["security_bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["authn_svc"].as_u64().unwrap())
        .collect();
    assert_eq!(svcs, [9, 10, 16, 22, 30]);
    assert_eq!(doc["security_bindings"][1]["authn_name"], "NTLM");
    assert_eq!(doc["security_bindings"][1]["authz_svc"], 0xffff);

    let r = msrpc(&["dcom", "alive", &target]).expect_code(0);
    assert!(r.stdout.contains("COM version: 5.7"), "{}", r.stdout);
    for a in addrs {
        assert!(r.stdout.contains(&format!("  {a}\n")), "{}", r.stdout);
    }
    assert!(r.stdout.contains("10 (NTLM)"), "{}", r.stdout);

    // Both requests were ServerAlive2 with Impacket's request stub (empty: no [in] parameter).
    let want = vector("server_alive2_request");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    for (opnum, stub) in seen.iter() {
        assert_eq!(*opnum, 5);
        assert_eq!(stub, &want);
    }
}

#[test]
fn alive_error_status_and_fault_exit_3() {
    let mut resp = impacket_response();
    resp.result = 5;
    let (s, _) = serve(Ok(resp));
    let r = msrpc(&[
        "dcom",
        "alive",
        &format!("127.0.0.1:{}", s.port()),
        "--json",
    ])
    .expect_code(3);
    let doc: Value = r.json();
    assert_eq!(doc["error"]["kind"], "refused");
    assert!(r.stderr.contains("0x00000005"), "{}", r.stderr);

    let (s, _) = serve(Err(RpcFault(FaultStatus::ACCESS_DENIED)));
    let r = msrpc(&["dcom", "alive", &format!("127.0.0.1:{}", s.port())]).expect_code(3);
    assert!(r.stderr.contains("fault"), "{}", r.stderr);
}

#[test]
fn alive_bounded_when_the_resolver_never_answers() {
    // Accepts and never reads: the bind waits for an answer that never comes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = std::thread::spawn(move || {
        let (c, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(3));
        drop(c);
    });
    let t0 = Instant::now();
    let r = msrpc(&[
        "dcom",
        "alive",
        &format!("127.0.0.1:{port}"),
        "--timeout",
        "1",
    ])
    .expect_code(2);
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    assert!(
        r.stderr.contains("timed out") || r.stderr.contains("no answer"),
        "{}",
        r.stderr
    );
    hold.join().unwrap();
}

/// An activator answering Impacket's activation reply to any RemoteCreateInstance.
struct Activator;

impl msrpc_dcom::activator::RemoteScmActivator for Activator {
    async fn remote_get_class_object(
        &self,
        _: &CallContext,
        _: msrpc_dcom::activator::RemoteGetClassObjectRequest,
    ) -> Result<msrpc_dcom::activator::RemoteGetClassObjectResponse, RpcFault> {
        Err(RpcFault(FaultStatus::NCA_S_OP_RNG_ERROR))
    }
    async fn remote_create_instance(
        &self,
        _: &CallContext,
        _: msrpc_dcom::activator::RemoteCreateInstanceRequest,
    ) -> Result<msrpc_dcom::activator::RemoteCreateInstanceResponse, RpcFault> {
        use msrpc_dcom::activation::{ActivationBlob, ActivationLimits};
        let blob =
            ActivationBlob::decode(&vector("activation_reply_blob"), &ActivationLimits::DEFAULT)
                .unwrap();
        Ok(msrpc_dcom::activator::RemoteCreateInstanceResponse {
            orpcthat: Default::default(),
            act_properties_out: msrpc_ndr::Unique::new(blob.to_interface_pointer(false).unwrap()),
            result: msrpc_dcom::HResult::S_OK,
        })
    }
}

/// The daemon's audit path, as msrpcd wires it (without msrpcd): the runtime copies the stubs
/// of `REQUEST_STUB_INTERFACES`, its observer turns each finished call into an audit input,
/// `Live` makes the events and the detectors judge them. Our client's ServerAlive2 and
/// activation of MMC20.Application become `dcom_resolver`, `dcom_activation` and a
/// `dcom_mmc20_application` alert (the technique library's rule).
#[test]
fn live_audit_of_our_clients_dcom_calls() {
    use msrpc_audit::detect::{DetectorConfig, Detectors};
    use msrpc_audit::live::{Input, Live, REQUEST_STUB_INTERFACES};
    use msrpc_audit::EventKind;
    use msrpc_rt::ConnEvent;

    let inputs: Arc<Mutex<Vec<Input>>> = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&inputs);
    let observer: msrpc_rt::Observer = Arc::new(move |ev: &ConnEvent<'_>| {
        if let ConnEvent::CallDone {
            conn_id,
            call_id,
            interface,
            opnum,
            drep,
            transfer_syntax,
            request,
            stub_in,
            response,
            duration,
            fragments,
            auth_level,
            user,
            ..
        } = ev
        {
            sink.lock().unwrap().push(
                Input::call_done(
                    *conn_id,
                    *call_id,
                    *interface,
                    *opnum,
                    *drep,
                    *transfer_syntax,
                    request,
                    *stub_in,
                    *response,
                    *duration,
                )
                .with_request_facts(*fragments, *auth_level, *user),
            );
        }
    });
    let s = start_with(move |b| {
        b.service(ObjectExporterServer::new(Resolver {
            answer: Ok(impacket_response()),
        }))
        .service(msrpc_dcom::activator::RemoteScmActivatorServer::new(
            Activator,
        ))
        .call_done_stubs(REQUEST_STUB_INTERFACES)
        .observer(observer)
    });
    msrpc(&["dcom", "alive", &format!("127.0.0.1:{}", s.port())]).expect_code(0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mmc20: msrpc_ndr::Uuid = "49b2791a-b1ae-4c90-9b8e-e860ba07f889".parse().unwrap();
    let idispatch: msrpc_ndr::Uuid = "00020400-0000-0000-c000-000000000046".parse().unwrap();
    let a = rt
        .block_on(msrpc_dcom::client::activate(
            "127.0.0.1",
            s.addr.port(),
            mmc20,
            &[idispatch],
            msrpc_rt::ClientOptions::default(),
            Duration::from_secs(10),
        ))
        .unwrap();
    assert_eq!(a.oxid.0, 0x2f47_a0c1_d4e5_f601);
    // The observer runs on the server's tasks: wait for both calls.
    let t0 = Instant::now();
    while inputs.lock().unwrap().len() < 2 && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut live = Live::new(7);
    let mut det = Detectors::new(DetectorConfig::default());
    let mut events = Vec::new();
    for (i, input) in inputs.lock().unwrap().drain(..).enumerate() {
        for e in live.feed(i as f64, input) {
            events.extend(det.observe(&e));
            events.push(e);
        }
    }
    let kinds: Vec<&EventKind> = events.iter().map(|e| &e.kind).collect();
    assert!(
        kinds.iter().any(|k| matches!(k, EventKind::DcomResolver { operation, com_version: Some(v), bindings, .. }
            if operation == "ServerAlive2" && v == "5.7" && bindings.len() == 3)),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| matches!(k, EventKind::DcomActivation { class_name: Some(n), hresult: Some(0), oxid: Some(o), .. }
            if n == "MMC20.Application" && o == "0x2f47a0c1d4e5f601")),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| matches!(k, EventKind::Alert { detector, .. } if detector == "dcom_mmc20_application")),
        "{kinds:?}"
    );
}

#[test]
fn activate_prints_the_exporter_and_falls_back_to_the_dialled_host() {
    let s = start_with(|b| {
        b.service(msrpc_dcom::activator::RemoteScmActivatorServer::new(
            Activator,
        ))
    });
    let target = format!("127.0.0.1:{}", s.port());
    let t0 = Instant::now();
    let r = msrpc(&[
        "dcom",
        "activate",
        &target,
        "49b2791a-b1ae-4c90-9b8e-e860ba07f889",
        "00020400-0000-0000-c000-000000000046",
        "--json",
        "--timeout",
        "1",
    ])
    .expect_code(0);
    // Two advertised bindings probed, each within --timeout.
    assert!(t0.elapsed() < Duration::from_secs(8), "{:?}", t0.elapsed());
    let doc = r.json();
    assert_eq!(doc["oxid"], "0x2f47a0c1d4e5f601");
    assert_eq!(doc["authn_hint"], 5);
    assert_eq!(doc["server_version"], "5.7");
    assert_eq!(
        doc["string_bindings"][0]["network_addr"],
        "WIN-DCOM01[49668]"
    );
    // Impacket's reply names hosts that do not answer here: the dialled host, advertised port.
    assert_eq!(doc["exporter"], "127.0.0.1:49668");
    assert_eq!(doc["exporter_fallback"], true);
    assert_eq!(
        doc["interfaces"][0]["iid"],
        "00020400-0000-0000-c000-000000000046"
    );
    assert_eq!(doc["interfaces"][0]["hresult"], "0x00000000");
    assert_eq!(
        doc["interfaces"][0]["ipid"],
        "0000a801-0a2c-0000-5d1a-c37a9f1f3c4e"
    );
    // A bad CLSID is a usage error.
    msrpc(&["dcom", "activate", &target, "nope"]).expect_code(1);
}
