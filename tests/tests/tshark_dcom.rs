//! tshark dissects our DCOM client's traffic — a ServerAlive2 and a RemoteCreateInstance with
//! the activation properties `msrpc_dcom::client::activate` sends, the pinger's ComplexPing and
//! SimplePing, the exporter's RemQueryInterface and RemRelease (IRemUnknown2, the IPID as
//! object UUID) —
//! and the answers (Impacket's ServerAlive2 response and activation reply served by test
//! doubles of the generated server traits) without a malformed packet, reading the same
//! operations (IOXIDResolver ServerAlive2, ISystemActivator RemoteCreateInstance). It fails
//! loudly when tshark is missing (scripts/test.sh installs it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::process::Command;

use msrpc_dcom::activation::{
    ActivationBlob, ActivationContextInfoData, ActivationLimits, InstantiationInfoData,
    LocationInfoData, Property, RemoteRequestScmInfo, ScmRequestInfoData,
};
use msrpc_dcom::activator::*;
use msrpc_dcom::resolver::*;
use msrpc_dcom::{HResult, OrpcThat, OrpcThis};
use msrpc_ndr::{DataRep, DecodeLimits, Unique, Uuid};
use msrpc_proto::client::ClientConfig;
use msrpc_proto::dispatch::{CallContext, RpcFault};
use msrpc_proto::pdu::FaultStatus;
use msrpc_proto::server::ServerConfig;
use msrpc_tests::{pcap, Loopback, Registry};

const LE: DataRep = DataRep::LITTLE_ENDIAN;

fn vector(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/vectors/impacket-dcom/{name}.hex",
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

struct Resolver;

fn op_rng<T>() -> Result<T, RpcFault> {
    Err(RpcFault(FaultStatus::NCA_S_OP_RNG_ERROR))
}

impl ObjectExporter for Resolver {
    async fn resolve_oxid(
        &self,
        _: &CallContext,
        _: ResolveOxidRequest,
    ) -> Result<ResolveOxidResponse, RpcFault> {
        op_rng()
    }
    async fn simple_ping(
        &self,
        _: &CallContext,
        _: SimplePingRequest,
    ) -> Result<SimplePingResponse, RpcFault> {
        Ok(SimplePingResponse { result: 0 })
    }
    async fn complex_ping(
        &self,
        _: &CallContext,
        _: ComplexPingRequest,
    ) -> Result<ComplexPingResponse, RpcFault> {
        Ok(ComplexPingResponse {
            set_id: msrpc_dcom::SetId(0x77),
            ping_backoff_factor: 0,
            result: 0,
        })
    }
    async fn server_alive(
        &self,
        _: &CallContext,
        _: ServerAliveRequest,
    ) -> Result<ServerAliveResponse, RpcFault> {
        op_rng()
    }
    async fn resolve_oxid2(
        &self,
        _: &CallContext,
        _: ResolveOxid2Request,
    ) -> Result<ResolveOxid2Response, RpcFault> {
        op_rng()
    }
    async fn server_alive2(
        &self,
        _: &CallContext,
        req: ServerAlive2Request,
    ) -> Result<ServerAlive2Response, RpcFault> {
        Ok(ServerAlive2Response::from_stub(
            &vector("server_alive2_response"),
            LE,
            DecodeLimits::DEFAULT,
            &req,
        )
        .unwrap())
    }
}

struct Activator;

/// IRemUnknown2 (IRemUnknown's operations, inherited, and its own) at an exporter: IDispatch
/// is offered, nothing else.
struct RemUnknown;

impl msrpc_dcom::remunknown::RemUnknown for RemUnknown {
    async fn rem_query_interface(
        &self,
        _: &CallContext,
        req: msrpc_dcom::remunknown::RemQueryInterfaceRequest,
    ) -> Result<msrpc_dcom::remunknown::RemQueryInterfaceResponse, RpcFault> {
        let results = req
            .iids
            .iter()
            .map(|_| msrpc_dcom::orpc::RemQiResult {
                hresult: HResult::S_OK,
                std: msrpc_dcom::StdObjRef {
                    public_refs: req.c_refs,
                    ipid: msrpc_dcom::Ipid(Uuid::from_u128(0x1234)),
                    ..Default::default()
                },
            })
            .collect();
        Ok(msrpc_dcom::remunknown::RemQueryInterfaceResponse {
            orpcthat: OrpcThat::default(),
            qi_results: Unique::new(results),
            result: HResult::S_OK,
        })
    }
    async fn rem_add_ref(
        &self,
        _: &CallContext,
        _: msrpc_dcom::remunknown::RemAddRefRequest,
    ) -> Result<msrpc_dcom::remunknown::RemAddRefResponse, RpcFault> {
        op_rng()
    }
    async fn rem_release(
        &self,
        _: &CallContext,
        _: msrpc_dcom::remunknown::RemReleaseRequest,
    ) -> Result<msrpc_dcom::remunknown::RemReleaseResponse, RpcFault> {
        Ok(msrpc_dcom::remunknown::RemReleaseResponse {
            orpcthat: OrpcThat::default(),
            result: HResult::S_OK,
        })
    }
}

impl msrpc_dcom::remunknown2::RemUnknown2 for RemUnknown {
    async fn rem_query_interface2(
        &self,
        _: &CallContext,
        _: msrpc_dcom::remunknown2::RemQueryInterface2Request,
    ) -> Result<msrpc_dcom::remunknown2::RemQueryInterface2Response, RpcFault> {
        op_rng()
    }
}

impl RemoteScmActivator for Activator {
    async fn remote_get_class_object(
        &self,
        _: &CallContext,
        _: RemoteGetClassObjectRequest,
    ) -> Result<RemoteGetClassObjectResponse, RpcFault> {
        op_rng()
    }
    async fn remote_create_instance(
        &self,
        _: &CallContext,
        _: RemoteCreateInstanceRequest,
    ) -> Result<RemoteCreateInstanceResponse, RpcFault> {
        let blob =
            ActivationBlob::decode(&vector("activation_reply_blob"), &ActivationLimits::DEFAULT)
                .unwrap();
        Ok(RemoteCreateInstanceResponse {
            orpcthat: OrpcThat::default(),
            act_properties_out: Unique::new(blob.to_interface_pointer(false).unwrap()),
            result: HResult::S_OK,
        })
    }
}

/// What `msrpc_dcom::client::activation_properties` builds (that module needs the runtime).
fn activation_request(clsid: Uuid, iid: Uuid) -> RemoteCreateInstanceRequest {
    let blob = ActivationBlob::new(vec![
        Property::InstantiationInfo(InstantiationInfoData::new(clsid, vec![iid]).unwrap()),
        Property::ActivationContextInfo(ActivationContextInfoData::default()),
        Property::LocationInfo(LocationInfoData::default()),
        Property::ScmRequestInfo(ScmRequestInfoData {
            pdw_reserved: Unique::null(),
            remote_request: Unique::new(RemoteRequestScmInfo {
                client_imp_level: 0,
                c_requested_protseqs: 1,
                requested_protseqs: Unique::new(vec![7]),
            }),
        }),
    ]);
    RemoteCreateInstanceRequest {
        orpcthis: OrpcThis {
            flags: 1,
            ..OrpcThis::new(Uuid::from_u128(0xc1d0))
        },
        unk_outer: Unique::null(),
        act_properties: Unique::new(blob.to_interface_pointer(true).unwrap()),
    }
}

fn tshark(pcap_path: &std::path::Path, fields: &[&str], filter: &str) -> String {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n")
        .arg("-r")
        .arg(pcap_path)
        .arg("-Y")
        .arg(filter)
        .arg("-T")
        .arg("fields");
    for f in fields {
        cmd.arg("-e").arg(f);
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("tshark is required for this test and could not be run ({e}); scripts/test.sh installs it (apt-get install tshark)")
    });
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn tshark_dissects_server_alive2_and_activation() {
    let lb = Loopback::new(
        ClientConfig::default(),
        ServerConfig {
            sec_addr: "135".into(),
            ..Default::default()
        },
        Registry::default()
            .with(ObjectExporterServer::new(Resolver))
            .with(RemoteScmActivatorServer::new(Activator))
            .with(msrpc_dcom::remunknown2::RemUnknown2Server::new(RemUnknown)),
    );
    let r = ObjectExporterClient::new(lb.clone())
        .server_alive2(ServerAlive2Request {})
        .await
        .unwrap();
    assert_eq!((r.com_version.major, r.com_version.minor), (5, 7));
    let mmc20 = Uuid::from_u128(0x49b2791a_b1ae_4c90_9b8e_e860ba07f889);
    let idispatch = Uuid::from_u128(0x00020400_0000_0000_c000_000000000046);
    let a = RemoteScmActivatorClient::new(lb.clone())
        .remote_create_instance(activation_request(mmc20, idispatch))
        .await
        .unwrap();
    assert!(a.result.is_success());
    // Pings as `msrpc_dcom::client::Pinger` sends them: a ComplexPing creating the set
    // (sequence 1), then a SimplePing.
    let resolver = ObjectExporterClient::new(lb.clone());
    let c = resolver
        .complex_ping(ComplexPingRequest {
            set_id: msrpc_dcom::SetId(0),
            sequence_num: 1,
            c_add_to_set: 2,
            c_del_from_set: 0,
            add_to_set: Some(vec![msrpc_dcom::Oid(1), msrpc_dcom::Oid(2)]),
            del_from_set: None,
        })
        .await
        .unwrap();
    resolver
        .simple_ping(SimplePingRequest { set_id: c.set_id })
        .await
        .unwrap();
    // RemQueryInterface and RemRelease as `msrpc_dcom::client::Exporter` sends them.
    let remunk = msrpc_dcom::remunknown2::RemUnknown2Client::new(lb.clone())
        .with_object(Uuid::from_u128(0x0000ac01_0a2c_0000_8e14_1c2f0a5a7b11));
    let obj = msrpc_dcom::Ipid(Uuid::from_u128(0x0000a801_0a2c_0000_5d1a_c37a9f1f3c4e));
    let qi = remunk
        .rem_query_interface(msrpc_dcom::remunknown::RemQueryInterfaceRequest {
            orpcthis: OrpcThis::new(Uuid::from_u128(0xc1d1)),
            ripid: obj,
            c_refs: 5,
            c_iids: 1,
            iids: vec![idispatch],
        })
        .await
        .unwrap();
    assert!(qi.result.is_success());
    remunk
        .rem_release(msrpc_dcom::remunknown::RemReleaseRequest {
            orpcthis: OrpcThis::new(Uuid::from_u128(0xc1d2)),
            c_interface_refs: 1,
            interface_refs: vec![msrpc_dcom::orpc::RemInterfaceRef {
                ipid: msrpc_dcom::Ipid(Uuid::from_u128(0x1234)),
                public_refs: 5,
                private_refs: 0,
            }],
        })
        .await
        .unwrap();

    let dir = std::env::temp_dir().join(format!("msrpc-tshark-dcom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dcom.pcap");
    std::fs::write(&path, pcap::tcp_session(50000, 135, &lb.wire())).unwrap();

    let malformed = tshark(
        &path,
        &["frame.number"],
        "_ws.malformed || _ws.expert.severity == error",
    );
    assert!(
        malformed.trim().is_empty(),
        "tshark flags frames {malformed} in {}",
        path.display()
    );
    // Requests and responses of both operations, on the interfaces tshark names.
    let ops = tshark(
        &path,
        &["dcerpc.pkt_type", "dcerpc.cn_bind_to_uuid", "dcerpc.opnum"],
        "dcerpc.pkt_type == 0 || dcerpc.pkt_type == 2",
    );
    let lines: Vec<&str> = ops.lines().collect();
    assert_eq!(lines.len(), 12, "{ops}");
    let resolver = tshark(&path, &["frame.number"], "oxid");
    assert_eq!(
        resolver.lines().count(),
        6,
        "ServerAlive2, ComplexPing and SimplePing requests and responses: {resolver}"
    );
    let remunk = tshark(&path, &["frame.number"], "remunk2");
    assert_eq!(
        remunk.lines().count(),
        4,
        "RemQueryInterface and RemRelease requests and responses: {remunk}"
    );
    let activator = tshark(&path, &["frame.number"], "isystemactivator");
    assert_eq!(
        activator.lines().count(),
        2,
        "RemoteCreateInstance request and response: {activator}"
    );
    // tshark reads our activation properties: the CLSID asked for.
    let clsid = tshark(
        &path,
        &["isystemactivator.properties.instninfo.clsid"],
        "dcerpc.pkt_type == 0 && isystemactivator",
    );
    assert!(
        clsid.contains("49b2791a-b1ae-4c90-9b8e-e860ba07f889"),
        "{clsid}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
