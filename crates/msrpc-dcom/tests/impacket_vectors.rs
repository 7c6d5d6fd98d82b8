//! Vectors written by Impacket's own DCOM classes (`tools/impacket-vectors/gen_dcom_vectors.py`,
//! `tests/vectors/impacket-dcom/MANIFEST.md`): each decodes, and re-encodes to the same bytes
//! except where the mask says Impacket wrote filler (`ff`) or departs from MS-RPCE 2.2.6.2
//! (`fe`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use msrpc_dcom::activation::{ActivationBlob, ActivationLimits, Property};
use msrpc_dcom::activator::{
    RemoteActivationRequest, RemoteCreateInstanceRequest, RemoteGetClassObjectRequest,
};
use msrpc_dcom::dualstring::{
    BindingLimits, Bindings, DualStringArray, SecurityBinding, StringBinding,
};
use msrpc_dcom::ids::guids;
use msrpc_dcom::objref::{ObjRef, ObjRefBody};
use msrpc_dcom::orpc::{OrpcThat, OrpcThis, RemQiResult, StdObjRef, SORF_NOPING};
use msrpc_dcom::remunknown as ru;
use msrpc_dcom::remunknown::{RemQueryInterfaceRequest, RemQueryInterfaceResponse};
use msrpc_dcom::resolver::{
    ComplexPingRequest, ResolveOxid2Request, ResolveOxid2Response, ServerAlive2Request,
    ServerAlive2Response, SimplePingRequest,
};
use msrpc_dcom::{HResult, Ipid, Oid, Oxid, SetId};
use msrpc_ndr::{DataRep, DecodeLimits, Ndr, Unique, Uuid};

const LE: DataRep = DataRep::LITTLE_ENDIAN;
const LIMITS: DecodeLimits = DecodeLimits::DEFAULT;

const CID: Uuid = Uuid::from_u128(0xc1d0c1d0_0000_4000_8000_000000000001);
const CLSID_MMC20: Uuid = Uuid::from_u128(0x49b2791a_b1ae_4c90_9b8e_e860ba07f889);
const IID_IDISPATCH: Uuid = Uuid::from_u128(0x00020400_0000_0000_c000_000000000046);
const IPID_1: Uuid = Uuid::from_u128(0x0000a801_0a2c_0000_5d1a_c37a9f1f3c4e);
const IPID_REMUNK: Uuid = Uuid::from_u128(0x0000ac01_0a2c_0000_8e14_1c2f0a5a7b11);
const OXID_1: u64 = 0x2F47_A0C1_D4E5_F601;
const OID_1: u64 = 0x1122_3344_5566_7788;

fn read(name: &str, ext: &str) -> Option<Vec<u8>> {
    let path = format!(
        "{}/../../tests/vectors/impacket-dcom/{name}.{ext}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).ok()?;
    Some(hex::decode(text.split_whitespace().collect::<String>()).unwrap())
}

fn vector(name: &str) -> Vec<u8> {
    read(name, "hex").unwrap_or_else(|| panic!("vector {name} missing"))
}

/// Compares our bytes with Impacket's, skipping masked bytes.
fn assert_same(name: &str, ours: &[u8]) {
    let theirs = vector(name);
    let mask = read(name, "mask.hex").unwrap_or_else(|| vec![0; theirs.len()]);
    assert_eq!(ours.len(), theirs.len(), "{name}: length");
    for (i, ((a, b), m)) in ours.iter().zip(&theirs).zip(&mask).enumerate() {
        if *m == 0 {
            assert_eq!(
                a, b,
                "{name}: byte {i} differs (ours {a:02x}, Impacket {b:02x})"
            );
        }
    }
}

fn ndr_roundtrip<T: Ndr + PartialEq + std::fmt::Debug>(name: &str) -> T {
    let v: T = msrpc_ndr::from_bytes(&vector(name), LE, LIMITS).unwrap();
    assert_same(name, &msrpc_ndr::to_bytes(&v, LE).unwrap());
    v
}

fn std_1(flags: u32, refs: u32) -> StdObjRef {
    StdObjRef {
        flags,
        public_refs: refs,
        oxid: Oxid(OXID_1),
        oid: Oid(OID_1),
        ipid: Ipid(IPID_1),
    }
}

fn exporter_bindings() -> Bindings {
    Bindings {
        strings: vec![
            StringBinding {
                tower_id: 7,
                network_addr: "WIN-DCOM01[49668]".into(),
            },
            StringBinding {
                tower_id: 7,
                network_addr: "192.168.56.10[49668]".into(),
            },
        ],
        security: vec![
            SecurityBinding::new(10, ""),
            SecurityBinding::new(9, ""),
            SecurityBinding::new(16, "host/win-dcom01"),
        ],
    }
}

#[test]
fn orpcthis_and_orpcthat() {
    let t: OrpcThis = ndr_roundtrip("orpcthis_activation");
    assert_eq!(
        (t.version.major, t.version.minor, t.flags, t.cid),
        (5, 7, 1, CID)
    );
    assert!(t.extensions.is_null());
    assert_eq!(t.version.check_client(), Ok(()));

    let t: OrpcThis = ndr_roundtrip("orpcthis_one_extent");
    let ext: Vec<_> = t.extents().collect();
    assert_eq!(ext.len(), 1);
    assert_eq!(ext[0].payload(), b"hello");
    assert_eq!(
        ext[0].id,
        Uuid::from_u128(0xf1f19680_4d2a_11ce_a66a_0020af6e72f4)
    );
    // The extent array has two entries, the second null.
    assert_eq!(t.extensions.get().unwrap().extent.get().unwrap().len(), 2);

    let t: OrpcThat = ndr_roundtrip("orpcthat_null");
    assert!(t.extensions.is_null());
    let t: OrpcThat = ndr_roundtrip("orpcthat_two_extents");
    let p: Vec<&[u8]> = t.extents().map(|e| e.payload()).collect();
    assert_eq!(p, vec![&b"AAAAAAAAAAAAAAAA"[..], &b"bc"[..]]);
}

#[test]
fn stdobjref_and_dualstringarrays() {
    let s: StdObjRef = ndr_roundtrip("stdobjref");
    assert_eq!(s, std_1(0, 5));

    let d: DualStringArray = ndr_roundtrip("dualstringarray_exporter");
    let b = d.parse(&BindingLimits::DEFAULT).unwrap();
    assert_eq!(b, exporter_bindings());
    // Our encoding of the same bindings is Impacket's, entry for entry (no padding entries).
    assert_eq!(DualStringArray::from_bindings(&b).unwrap(), d);

    let d: DualStringArray = ndr_roundtrip("dualstringarray_resolver");
    let b = d.parse(&BindingLimits::DEFAULT).unwrap();
    let addrs: Vec<&str> = b.strings.iter().map(|s| s.network_addr.as_str()).collect();
    assert_eq!(
        addrs,
        ["WIN-DCOM01", "192.168.56.10", "fe80::1c2d:3e4f:5a6b:7c8d"]
    );
    let authn: Vec<u16> = b.security.iter().map(|s| s.authn_svc).collect();
    assert_eq!(authn, [9, 10, 16, 22, 30]);
    assert!(b
        .security
        .iter()
        .all(|s| s.authz_svc == 0xffff && s.principal_name.is_empty()));
    assert_eq!(DualStringArray::from_bindings(&b).unwrap(), d);

    let d: DualStringArray = ndr_roundtrip("dualstringarray_empty");
    assert_eq!(
        d.parse(&BindingLimits::DEFAULT).unwrap(),
        Bindings::default()
    );
    assert_eq!(
        DualStringArray::from_bindings(&Bindings::default()).unwrap(),
        d
    );
    assert_eq!(DualStringArray::empty(), d);
}

fn objref_roundtrip(name: &str) -> ObjRef {
    let o = ObjRef::decode(&vector(name)).unwrap();
    assert_same(name, &o.encode().unwrap());
    o
}

#[test]
fn objrefs_of_every_flavour() {
    let o = objref_roundtrip("objref_standard");
    assert_eq!(o.iid, IID_IDISPATCH);
    let ObjRefBody::Standard { std, resolver } = &o.body else {
        panic!("not standard")
    };
    assert_eq!(*std, std_1(0, 5));
    assert_eq!(
        resolver.parse(&BindingLimits::DEFAULT).unwrap(),
        exporter_bindings()
    );

    let o = objref_roundtrip("objref_standard_noping_empty_bindings");
    assert_eq!(o.std().unwrap().flags, SORF_NOPING);

    let o = objref_roundtrip("objref_handler");
    let ObjRefBody::Handler { clsid, .. } = &o.body else {
        panic!("not handler")
    };
    assert_eq!(*clsid, CLSID_MMC20);

    let o = objref_roundtrip("objref_custom");
    let ObjRefBody::Custom(c) = &o.body else {
        panic!("not custom")
    };
    assert_eq!((c.clsid, c.data.len(), c.reserved), (CLSID_MMC20, 24, 32));

    let o = objref_roundtrip("objref_extended");
    let ObjRefBody::Extended { element, .. } = &o.body else {
        panic!("not extended")
    };
    assert_eq!(element.data_id, guids::CLSID_CONTEXT_MARSHALER);
    assert_eq!((element.size, element.data.len()), (12, 16));

    // Impacket aligns nElms to 4 after an odd-length saResAddr; 2.2.18.7 does not.
    assert_eq!(
        ObjRef::decode(&vector("objref_extended_impacket_aligned")),
        Err(msrpc_dcom::DcomError::Invalid(
            "OBJREF_EXTENDED: nElms is not 1"
        ))
    );
}

fn check_request_blob(blob: &ActivationBlob, iid: Uuid) {
    assert_eq!(blob.dest_ctx, 2);
    let clsids: Vec<Uuid> = blob.properties.iter().map(Property::clsid).collect();
    assert_eq!(
        clsids,
        [
            guids::CLSID_INSTANTIATION_INFO,
            guids::CLSID_ACTIVATION_CONTEXT_INFO,
            guids::CLSID_SERVER_LOCATION_INFO,
            guids::CLSID_SCM_REQUEST_INFO
        ]
    );
    let ii = blob.instantiation_info().unwrap();
    assert_eq!(ii.class_id, CLSID_MMC20);
    assert_eq!(ii.iids.get().unwrap(), &vec![iid]);
    assert_eq!(ii.this_size, 0, "Impacket sends thisSize 0");
    assert_eq!((ii.client_version.major, ii.client_version.minor), (5, 7));
    let scm = blob.scm_request_info().unwrap();
    let rr = scm.remote_request.get().unwrap();
    assert_eq!(rr.requested_protseqs.get().unwrap(), &vec![7u16]);
}

#[test]
fn remote_create_instance_from_impacket() {
    let stub = vector("remote_create_instance_request");
    let req = RemoteCreateInstanceRequest::from_stub(&stub, LE, LIMITS).unwrap();
    assert_eq!(req.orpcthis.cid, CID);
    assert!(req.unk_outer.is_null());
    let ip = req.act_properties.get().unwrap();
    let objref = ObjRef::decode(&ip.data).unwrap();
    assert_eq!(objref.iid, guids::IID_IACTIVATION_PROPERTIES_IN);
    let blob = ActivationBlob::from_interface_pointer(ip, &ActivationLimits::DEFAULT).unwrap();
    check_request_blob(&blob, IID_IDISPATCH);

    // Our encoding of the decoded blob is Impacket's but for filler and its lengths.
    assert_same("remote_create_instance_blob", &blob.encode().unwrap());
    let ours_objref = blob.to_objref(true).unwrap();
    assert_same(
        "remote_create_instance_objref",
        &ours_objref.encode().unwrap(),
    );
    let rebuilt = RemoteCreateInstanceRequest {
        orpcthis: req.orpcthis.clone(),
        unk_outer: Unique::null(),
        act_properties: Unique::new(ours_objref.to_interface_pointer().unwrap()),
    };
    assert_same(
        "remote_create_instance_request",
        &rebuilt.to_stub(LE).unwrap(),
    );
}

#[test]
fn remote_get_class_object_from_impacket() {
    let stub = vector("remote_get_class_object_request");
    let req = RemoteGetClassObjectRequest::from_stub(&stub, LE, LIMITS).unwrap();
    let ip = req.act_properties.get().unwrap();
    let blob = ActivationBlob::from_interface_pointer(ip, &ActivationLimits::DEFAULT).unwrap();
    check_request_blob(&blob, guids::IID_ICLASS_FACTORY);
    assert_same("remote_get_class_object_blob", &blob.encode().unwrap());
    let rebuilt = RemoteGetClassObjectRequest {
        orpcthis: req.orpcthis.clone(),
        act_properties: Unique::new(blob.to_interface_pointer(true).unwrap()),
    };
    assert_same(
        "remote_get_class_object_request",
        &rebuilt.to_stub(LE).unwrap(),
    );
}

#[test]
fn remote_activation_from_impacket() {
    let stub = vector("remote_activation_request");
    let req = RemoteActivationRequest::from_stub(&stub, LE, LIMITS).unwrap();
    assert_eq!(req.clsid, CLSID_MMC20);
    assert_eq!(req.object_name, None);
    assert_eq!((req.client_imp_level, req.mode, req.interfaces), (2, 0, 1));
    assert_eq!(req.iids, Some(vec![IID_IDISPATCH]));
    assert_eq!(req.requested_protseqs, vec![7]);
    // Impacket sends a default ORPCTHIS here (cid GUID_NULL, flags 0).
    assert_eq!((req.orpcthis.cid, req.orpcthis.flags), (Uuid::nil(), 0));
    assert_same("remote_activation_request", &req.to_stub(LE).unwrap());
}

#[test]
fn activation_reply_blob_from_impacket() {
    let blob = ActivationBlob::decode(&vector("activation_reply_blob"), &ActivationLimits::DEFAULT)
        .unwrap();
    // Impacket's RemoteCreateInstance reads property 0 as PropsOutInfo, 1 as ScmReplyInfo.
    assert!(matches!(blob.properties[0], Property::PropsOutInfo(_)));
    assert!(matches!(blob.properties[1], Property::ScmReplyInfo(_)));
    let props = blob.props_out_info().unwrap();
    assert_eq!(props.c_ifs, 1);
    assert_eq!(props.hresults.get().unwrap(), &vec![HResult::S_OK]);
    let ip = props.interface_data.get().unwrap()[0].get().unwrap();
    let o = ObjRef::decode(&ip.data).unwrap();
    assert_eq!(o.std(), Some(&std_1(0, 5)));
    let reply = blob.scm_reply_info().unwrap().remote_reply.get().unwrap();
    assert_eq!(reply.oxid, Oxid(OXID_1));
    assert_eq!(reply.ipid_rem_unknown, Ipid(IPID_REMUNK));
    assert_eq!(reply.authn_hint, 5);
    let bindings = reply
        .oxid_bindings
        .get()
        .unwrap()
        .parse(&BindingLimits::DEFAULT)
        .unwrap();
    assert_eq!(bindings, exporter_bindings());
    assert_same("activation_reply_blob", &blob.encode().unwrap());
}

#[test]
fn resolver_requests_and_responses_from_impacket() {
    let stub = vector("complex_ping_request_add");
    let r = ComplexPingRequest::from_stub(&stub, LE, LIMITS).unwrap();
    assert_eq!(
        (r.set_id, r.c_add_to_set, r.c_del_from_set),
        (SetId(0), 2, 0)
    );
    assert_eq!(r.add_to_set, Some(vec![Oid(OID_1), Oid(OID_1 + 1)]));
    assert_eq!(r.del_from_set, None);
    assert_same("complex_ping_request_add", &r.to_stub(LE).unwrap());

    let stub = vector("complex_ping_request_del");
    let r = ComplexPingRequest::from_stub(&stub, LE, LIMITS).unwrap();
    // Impacket puts the set id in the sequence number.
    assert_eq!((r.set_id, r.sequence_num), (SetId(0x77), 0x77));
    assert_eq!(r.del_from_set, Some(vec![Oid(OID_1)]));
    assert_same("complex_ping_request_del", &r.to_stub(LE).unwrap());

    let r = SimplePingRequest::from_stub(&vector("simple_ping_request"), LE, LIMITS).unwrap();
    assert_eq!(r.set_id, SetId(0x77));
    assert_same("simple_ping_request", &r.to_stub(LE).unwrap());

    let r = ResolveOxid2Request::from_stub(&vector("resolve_oxid2_request"), LE, LIMITS).unwrap();
    assert_eq!(
        (r.oxid, r.requested_protseqs.clone()),
        (Oxid(OXID_1), vec![7])
    );
    assert_same("resolve_oxid2_request", &r.to_stub(LE).unwrap());

    let resp =
        ResolveOxid2Response::from_stub(&vector("resolve_oxid2_response"), LE, LIMITS, &r).unwrap();
    assert_eq!(
        (resp.ipid_rem_unknown, resp.authn_hint, resp.result),
        (Ipid(IPID_REMUNK), 5, 0)
    );
    assert_same("resolve_oxid2_response", &resp.to_stub(&r, LE).unwrap());

    let req = ServerAlive2Request {};
    let resp = ServerAlive2Response::from_stub(&vector("server_alive2_response"), LE, LIMITS, &req)
        .unwrap();
    assert_eq!((resp.com_version.major, resp.com_version.minor), (5, 7));
    let b = resp
        .or_bindings
        .get()
        .unwrap()
        .parse(&BindingLimits::DEFAULT)
        .unwrap();
    assert_eq!(b.strings.len(), 3);
    assert_same("server_alive2_response", &resp.to_stub(&req, LE).unwrap());
}

#[test]
fn rem_unknown_from_impacket() {
    let r = RemQueryInterfaceRequest::from_stub(&vector("rem_query_interface_request"), LE, LIMITS)
        .unwrap();
    assert_eq!(
        (r.ripid, r.c_refs, r.iids.clone()),
        (Ipid(IPID_1), 1, vec![IID_IDISPATCH])
    );
    assert_eq!(r.orpcthis.cid, CID);
    assert_same("rem_query_interface_request", &r.to_stub(LE).unwrap());

    let r = ru::RemAddRefRequest::from_stub(&vector("rem_add_ref_request"), LE, LIMITS).unwrap();
    assert_eq!(r.interface_refs.len(), 1);
    assert_eq!(
        (r.interface_refs[0].ipid, r.interface_refs[0].public_refs),
        (Ipid(IPID_1), 1)
    );
    assert_same("rem_add_ref_request", &r.to_stub(LE).unwrap());

    let r = ru::RemReleaseRequest::from_stub(&vector("rem_release_request"), LE, LIMITS).unwrap();
    assert_same("rem_release_request", &r.to_stub(LE).unwrap());
}

#[test]
fn rem_query_interface_response_is_what_impacket_reads() {
    // Impacket writes a pointer to one REMQIRESULT without the array's max_count; its filler
    // sits where the IDL puts max_count, so our IDL encoding matches under the mask (and
    // Impacket, which skips those bytes as alignment, reads ours), while Impacket's own bytes
    // carry filler where a max_count belongs and do not decode.
    let req =
        RemQueryInterfaceRequest::from_stub(&vector("rem_query_interface_request"), LE, LIMITS)
            .unwrap();
    let resp = RemQueryInterfaceResponse {
        orpcthat: OrpcThat::default(),
        qi_results: Unique::new(vec![RemQiResult {
            hresult: HResult::S_OK,
            std: std_1(0, 5),
        }]),
        result: HResult::S_OK,
    };
    assert_same(
        "rem_query_interface_response",
        &resp.to_stub(&req, LE).unwrap(),
    );
    assert!(RemQueryInterfaceResponse::from_stub(
        &vector("rem_query_interface_response"),
        LE,
        LIMITS,
        &req
    )
    .is_err());
}
