//! The generated servers run Impacket's requests: a toy OXID resolver over `ObjectTables`
//! (time frozen) answers ComplexPing / SimplePing / ServerAlive2 / ResolveOxid2 stubs Impacket
//! wrote; the activator refuses the opnums it does not define.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Mutex;
use std::time::Duration;

use futures::executor::block_on;
use msrpc_dcom::dualstring::{BindingLimits, Bindings, DualStringArray, StringBinding};
use msrpc_dcom::hresult::status;
use msrpc_dcom::resolver::*;
use msrpc_dcom::tables::{GcConfig, ObjectTables, SequentialIds};
use msrpc_dcom::ComVersion;
use msrpc_ndr::{DataRep, DecodeLimits, Unique};
use msrpc_proto::dispatch::{CallContext, Dispatch, DispatchError, Interface, RpcFault};

const LE: DataRep = DataRep::LITTLE_ENDIAN;

struct Resolver {
    tables: Mutex<ObjectTables<()>>,
}

fn bindings() -> Bindings {
    Bindings {
        strings: vec![StringBinding {
            tower_id: 7,
            network_addr: "127.0.0.1".into(),
        }],
        security: vec![msrpc_dcom::dualstring::SecurityBinding::new(10, "")],
    }
}

impl ObjectExporter for Resolver {
    async fn resolve_oxid(
        &self,
        _ctx: &CallContext,
        req: ResolveOxidRequest,
    ) -> Result<ResolveOxidResponse, RpcFault> {
        let t = self.tables.lock().unwrap();
        Ok(match t.exporter(req.oxid) {
            Some(e) => ResolveOxidResponse {
                oxid_bindings: Unique::new(DualStringArray::from_bindings(&e.bindings).unwrap()),
                ipid_rem_unknown: e.rem_unknown,
                authn_hint: e.authn_hint,
                result: status::OK,
            },
            None => ResolveOxidResponse {
                oxid_bindings: Unique::null(),
                ipid_rem_unknown: Default::default(),
                authn_hint: 0,
                result: status::OR_INVALID_OXID,
            },
        })
    }
    async fn simple_ping(
        &self,
        _ctx: &CallContext,
        req: SimplePingRequest,
    ) -> Result<SimplePingResponse, RpcFault> {
        let r = self
            .tables
            .lock()
            .unwrap()
            .simple_ping(req.set_id, Duration::ZERO);
        Ok(SimplePingResponse {
            result: r.map_or_else(|e| e.status(), |()| status::OK),
        })
    }
    async fn complex_ping(
        &self,
        _ctx: &CallContext,
        req: ComplexPingRequest,
    ) -> Result<ComplexPingResponse, RpcFault> {
        let add = req.add_to_set.unwrap_or_default();
        let del = req.del_from_set.unwrap_or_default();
        let r = self
            .tables
            .lock()
            .unwrap()
            .complex_ping(req.set_id, &add, &del, Duration::ZERO);
        Ok(match r {
            Ok(o) => ComplexPingResponse {
                set_id: o.set_id,
                ping_backoff_factor: 0,
                result: status::OK,
            },
            Err(e) => ComplexPingResponse {
                set_id: req.set_id,
                ping_backoff_factor: 0,
                result: e.status(),
            },
        })
    }
    async fn server_alive(
        &self,
        _ctx: &CallContext,
        _req: ServerAliveRequest,
    ) -> Result<ServerAliveResponse, RpcFault> {
        Ok(ServerAliveResponse { result: status::OK })
    }
    async fn resolve_oxid2(
        &self,
        ctx: &CallContext,
        req: ResolveOxid2Request,
    ) -> Result<ResolveOxid2Response, RpcFault> {
        let r = self
            .resolve_oxid(
                ctx,
                ResolveOxidRequest {
                    oxid: req.oxid,
                    c_requested_protseqs: req.c_requested_protseqs,
                    requested_protseqs: req.requested_protseqs,
                },
            )
            .await?;
        Ok(ResolveOxid2Response {
            oxid_bindings: r.oxid_bindings,
            ipid_rem_unknown: r.ipid_rem_unknown,
            authn_hint: r.authn_hint,
            com_version: ComVersion::CURRENT,
            result: r.result,
        })
    }
    async fn server_alive2(
        &self,
        _ctx: &CallContext,
        _req: ServerAlive2Request,
    ) -> Result<ServerAlive2Response, RpcFault> {
        Ok(ServerAlive2Response {
            com_version: ComVersion::CURRENT,
            or_bindings: Unique::new(DualStringArray::from_bindings(&bindings()).unwrap()),
            reserved: 0,
            result: status::OK,
        })
    }
}

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

fn ctx(opnum: u16) -> CallContext {
    CallContext {
        opnum,
        ..Default::default()
    }
}

#[test]
fn resolver_answers_impacket() {
    let mut tables = ObjectTables::with_ids(GcConfig::DEFAULT, Box::new(SequentialIds::default()));
    let oxid = tables.add_exporter(bindings(), 2).unwrap().oxid;
    let server = ObjectExporterServer::new(Resolver {
        tables: Mutex::new(tables),
    });
    let lim = DecodeLimits::DEFAULT;

    // ComplexPing(0, [oid, oid+1]) on unknown OIDs: a set is created, the OIDs ignored.
    let stub = vector("complex_ping_request_add");
    let req = ComplexPingRequest::from_stub(&stub, LE, lim).unwrap();
    let out = block_on(server.dispatch(ctx(2), stub, LE, lim)).unwrap();
    let resp = ComplexPingResponse::from_stub(&out, LE, lim, &req).unwrap();
    assert_eq!(resp.result, status::OK);
    assert_ne!(resp.set_id.0, 0);

    // SimplePing(0x77): no such set.
    let stub = vector("simple_ping_request");
    let req = SimplePingRequest::from_stub(&stub, LE, lim).unwrap();
    let out = block_on(server.dispatch(ctx(1), stub, LE, lim)).unwrap();
    let resp = SimplePingResponse::from_stub(&out, LE, lim, &req).unwrap();
    assert_eq!(resp.result, status::OR_INVALID_SET);

    // ServerAlive2: 5.7 and our bindings.
    let req = ServerAlive2Request {};
    let out = block_on(server.dispatch(ctx(5), vec![], LE, lim)).unwrap();
    let resp = ServerAlive2Response::from_stub(&out, LE, lim, &req).unwrap();
    assert_eq!(resp.com_version, ComVersion::CURRENT);
    assert_eq!(
        resp.or_bindings
            .get()
            .unwrap()
            .parse(&BindingLimits::DEFAULT)
            .unwrap(),
        bindings()
    );

    // ResolveOxid2 for an unknown OXID (Impacket's vector), then for ours.
    let stub = vector("resolve_oxid2_request");
    let req = ResolveOxid2Request::from_stub(&stub, LE, lim).unwrap();
    let out = block_on(server.dispatch(ctx(4), stub, LE, lim)).unwrap();
    let resp = ResolveOxid2Response::from_stub(&out, LE, lim, &req).unwrap();
    assert_eq!(resp.result, status::OR_INVALID_OXID);
    let req = ResolveOxid2Request {
        oxid,
        c_requested_protseqs: 1,
        requested_protseqs: vec![7],
    };
    let out = block_on(server.dispatch(ctx(4), req.to_stub(LE).unwrap(), LE, lim)).unwrap();
    let resp = ResolveOxid2Response::from_stub(&out, LE, lim, &req).unwrap();
    assert_eq!((resp.result, resp.authn_hint), (status::OK, 2));

    // Opnum 6 does not exist; a truncated stub is a bad stub.
    assert!(matches!(
        block_on(server.dispatch(ctx(6), vec![], LE, lim)),
        Err(DispatchError::OpnumOutOfRange(6))
    ));
    assert!(matches!(
        block_on(server.dispatch(ctx(2), vec![0; 5], LE, lim)),
        Err(DispatchError::BadStub(_))
    ));
}

/// An invoker that is never called.
struct NoInvoke;

impl msrpc_proto::dispatch::Invoke for NoInvoke {
    fn invoke<'a>(
        &'a self,
        syntax: msrpc_proto::SyntaxId,
        _: u16,
        _: Option<msrpc_ndr::Uuid>,
        _: Vec<u8>,
        _: DataRep,
    ) -> msrpc_proto::dispatch::BoxFuture<
        'a,
        Result<msrpc_proto::dispatch::ResponseStub, msrpc_proto::dispatch::CallError>,
    > {
        Box::pin(async move { Err(msrpc_proto::dispatch::CallError::NotBound(syntax)) })
    }
}

#[test]
fn interface_identities_and_operation_tables() {
    use msrpc_dcom::activator::{ActivationInterface, RemoteScmActivatorInterface};
    use msrpc_dcom::ids::guids;
    use msrpc_dcom::remunknown::RemUnknownInterface;
    use msrpc_dcom::remunknown2::RemUnknown2Interface;
    assert_eq!(
        ObjectExporterInterface::SYNTAX.uuid,
        guids::IID_IOBJECT_EXPORTER
    );
    assert_eq!(ObjectExporterInterface::OPERATIONS.len(), 6);
    assert_eq!(
        RemoteScmActivatorInterface::SYNTAX.uuid,
        guids::IID_IREMOTE_SCM_ACTIVATOR
    );
    assert_eq!(
        RemoteScmActivatorInterface::OPERATIONS,
        &[
            None,
            None,
            None,
            Some("remote_get_class_object"),
            Some("remote_create_instance")
        ]
    );
    assert_eq!(ActivationInterface::SYNTAX.uuid, guids::IID_IACTIVATION);
    assert_eq!(RemUnknownInterface::SYNTAX.uuid, guids::IID_IREM_UNKNOWN);
    assert_eq!(
        RemUnknownInterface::operation_name(3),
        Some("rem_query_interface")
    );
    assert_eq!(RemUnknownInterface::operation_name(6), None);
    assert_eq!(RemUnknown2Interface::SYNTAX.uuid, guids::IID_IREM_UNKNOWN2);
    assert_eq!(
        RemUnknown2Interface::operation_name(6),
        Some("rem_query_interface2")
    );
    // `orpc` interfaces are COM interfaces: the IID is the UUID, the client calls by IPID.
    {
        use msrpc_dcom::demo::{CalculatorInterface, IID_ICALCULATOR};
        use msrpc_dcom::ComInterface;
        assert_eq!(<CalculatorInterface as ComInterface>::IID, IID_ICALCULATOR);
        let ipid = msrpc_dcom::Ipid(msrpc_ndr::Uuid::from_u128(7));
        let c = <CalculatorInterface as ComInterface>::client(NoInvoke, ipid);
        assert_eq!(c.object(), Some(ipid.0));
        assert_eq!(c.syntax(), CalculatorInterface::SYNTAX);
    }
    for v in [
        ObjectExporterInterface::SYNTAX,
        RemoteScmActivatorInterface::SYNTAX,
        ActivationInterface::SYNTAX,
        RemUnknownInterface::SYNTAX,
        RemUnknown2Interface::SYNTAX,
    ] {
        assert_eq!((v.major, v.minor), (0, 0));
    }
}
