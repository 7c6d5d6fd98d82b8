//! The generated servers run Impacket's requests: the library's own OXID resolver
//! (`msrpc_dcom::server::Resolver` over a `DcomHost`, feature `server`) answers ComplexPing /
//! SimplePing / ServerAlive2 / ResolveOxid2 stubs Impacket wrote; the interface identities and
//! operation tables (inherited ones included) are the specification's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use msrpc_dcom::resolver::*;
use msrpc_ndr::{DataRep, DecodeLimits};
use msrpc_proto::dispatch::Interface;

const LE: DataRep = DataRep::LITTLE_ENDIAN;

#[cfg(feature = "server")]
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

#[cfg(feature = "server")]
fn ctx(opnum: u16) -> msrpc_proto::dispatch::CallContext {
    msrpc_proto::dispatch::CallContext {
        opnum,
        ..Default::default()
    }
}

#[cfg(feature = "server")]
#[test]
fn resolver_answers_impacket() {
    use std::sync::Arc;

    use futures::executor::block_on;
    use msrpc_dcom::dualstring::BindingLimits;
    use msrpc_dcom::hresult::status;
    use msrpc_dcom::server::{ClassRegistry, DcomHost, DcomSettings, Resolver};
    use msrpc_dcom::ComVersion;
    use msrpc_proto::dispatch::{Dispatch, DispatchError};

    let host = Arc::new(DcomHost::new(
        ClassRegistry::default(),
        DcomSettings::default(),
        &["127.0.0.1:135".parse().unwrap()],
        true,
        None,
    ));
    let oxid = host
        .set_exporter(&["127.0.0.1:49700".parse().unwrap()])
        .unwrap();
    let server = ObjectExporterServer::new(Resolver(host.clone()));
    let lim = DecodeLimits::DEFAULT;

    // ComplexPing(0, [oid, oid+1]) on unknown OIDs: a set is created, the OIDs ignored.
    let stub = vector("complex_ping_request_add");
    let req = ComplexPingRequest::from_stub(&stub, LE, lim).unwrap();
    let out = block_on(server.dispatch(ctx(2), stub, LE, lim)).unwrap();
    let resp = ComplexPingResponse::from_stub(&out, LE, lim, &req).unwrap();
    assert_eq!(resp.result, status::OK);
    assert_ne!(resp.set_id.0, 0);
    assert_eq!(host.counts(), (0, 0, 1));

    // SimplePing(0x77): no such set.
    let stub = vector("simple_ping_request");
    let req = SimplePingRequest::from_stub(&stub, LE, lim).unwrap();
    let out = block_on(server.dispatch(ctx(1), stub, LE, lim)).unwrap();
    let resp = SimplePingResponse::from_stub(&out, LE, lim, &req).unwrap();
    assert_eq!(resp.result, status::OR_INVALID_SET);

    // ServerAlive2: 5.7, the resolver's address without a port, NTLM and Negotiate.
    let req = ServerAlive2Request {};
    let out = block_on(server.dispatch(ctx(5), vec![], LE, lim)).unwrap();
    let resp = ServerAlive2Response::from_stub(&out, LE, lim, &req).unwrap();
    assert_eq!(resp.com_version, ComVersion::CURRENT);
    let b = resp
        .or_bindings
        .get()
        .unwrap()
        .parse(&BindingLimits::DEFAULT)
        .unwrap();
    assert_eq!(
        (b.strings[0].tower_id, b.strings[0].network_addr.as_str()),
        (7, "127.0.0.1")
    );
    let svcs: Vec<u16> = b.security.iter().map(|s| s.authn_svc).collect();
    assert_eq!(svcs, [10, 9]);

    // ResolveOxid2 for an unknown OXID (Impacket's vector), then for ours: the exporter's
    // address with its port, and the hint of the minimum activation level (integrity: 5).
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
    assert_eq!((resp.result, resp.authn_hint), (status::OK, 5));
    let b = resp
        .oxid_bindings
        .get()
        .unwrap()
        .parse(&BindingLimits::DEFAULT)
        .unwrap();
    assert_eq!(b.strings[0].network_addr, "127.0.0.1[49700]");

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
    // IRemUnknown2 inherits IRemUnknown's operations and adds opnum 6.
    assert_eq!(
        RemUnknown2Interface::OPERATIONS,
        &[
            None,
            None,
            None,
            Some("rem_query_interface"),
            Some("rem_add_ref"),
            Some("rem_release"),
            Some("rem_query_interface2")
        ]
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

/// `RemQueryInterface2` (IRemUnknown2's own operation, MS-DCOM 3.1.1.5.7.1.1) byte for byte:
/// ORPCTHIS, the IPID, `cIids`, the conformant IID array; ORPCTHAT, the conformant HRESULT
/// array, the conformant array of unique interface pointers with their referents, the HRESULT.
#[test]
fn rem_query_interface2_stubs_are_the_specifications_layout() {
    use msrpc_dcom::remunknown2::{RemQueryInterface2Request, RemQueryInterface2Response};
    use msrpc_dcom::{HResult, Ipid, MInterfacePointer, OrpcThat, OrpcThis};
    use msrpc_ndr::{Unique, Uuid};

    let g = |n: u128| Uuid::from_u128(n);
    let le = |u: Uuid| u.to_bytes_le().to_vec();
    let (cid, ripid, a, b) = (
        g(0x11111111_2222_3333_4444_555566667777),
        g(0x0000ac01_0a2c_0000_8e14_1c2f0a5a7b11),
        g(0x00020400_0000_0000_c000_000000000046),
        g(0x00000000_0000_0000_c000_000000000046),
    );
    let req = RemQueryInterface2Request {
        orpcthis: OrpcThis::new(cid),
        ripid: Ipid(ripid),
        c_iids: 2,
        iids: vec![a, b],
    };
    let mut want = vec![5, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    want.extend(le(cid));
    want.extend([0, 0, 0, 0]); // no extensions
    want.extend(le(ripid));
    want.extend([2, 0, 0, 0]); // cIids, padding
    want.extend([2, 0, 0, 0]); // max_count
    want.extend(le(a));
    want.extend(le(b));
    assert_eq!(req.to_stub(LE).unwrap(), want);

    let resp = RemQueryInterface2Response {
        orpcthat: OrpcThat::default(),
        hresults: vec![HResult::E_NOINTERFACE, HResult::S_OK],
        interface_data: vec![
            Unique::null(),
            Unique::new(MInterfacePointer::new(vec![0xde, 0xad, 0xbe, 0xef]).unwrap()),
        ],
        result: HResult::S_OK,
    };
    let out = resp.to_stub(&req, LE).unwrap();
    let mut want = vec![0u8; 8]; // ORPCTHAT: flags, no extensions
    want.extend([2, 0, 0, 0, 0x02, 0x40, 0x00, 0x80, 0, 0, 0, 0]);
    want.extend([2, 0, 0, 0, 0, 0, 0, 0]); // max_count, a null pointer
    want.extend(&out[28..32]); // the second pointer's referent id (the writer's choice)
    want.extend([4, 0, 0, 0, 4, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]);
    want.extend([0, 0, 0, 0]); // the HRESULT
    assert_ne!(&out[28..32], &[0, 0, 0, 0]);
    assert_eq!(out, want);
    assert_eq!(
        RemQueryInterface2Response::from_stub(&out, LE, DecodeLimits::DEFAULT, &req).unwrap(),
        resp
    );
}
