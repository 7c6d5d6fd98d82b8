//! Hostile inputs: every one is refused with an error, never a panic, without allocating from
//! a peer's count (MS03-026/MS03-039 shapes, absurd counts and sizes, nested OBJREFs,
//! truncations).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use msrpc_dcom::activation::{
    ActivationBlob, ActivationContextInfoData, ActivationLimits, CoServerInfo, InstanceInfoData,
    InstantiationInfoData, LocationInfoData, Property, RemoteRequestScmInfo, ScmRequestInfoData,
    SecurityInfoData,
};
use msrpc_dcom::activator::RemoteActivationRequest;
use msrpc_dcom::dualstring::{BindingLimits, DualStringArray};
use msrpc_dcom::objref::ObjRef;
use msrpc_dcom::orpc::OrpcThis;
use msrpc_dcom::{DcomError, MInterfacePointer};
use msrpc_ndr::{DataRep, DecodeLimits, Unique, Uuid};

const LE: DataRep = DataRep::LITTLE_ENDIAN;
const CLSID: Uuid = Uuid::from_u128(0x49b2791a_b1ae_4c90_9b8e_e860ba07f889);
const IID: Uuid = Uuid::from_u128(0x00020400_0000_0000_c000_000000000046);

fn vector(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/vectors/impacket-dcom/{name}.hex",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    hex::decode(text.split_whitespace().collect::<String>()).unwrap()
}

fn base_properties() -> Vec<Property> {
    vec![
        Property::InstantiationInfo(InstantiationInfoData::new(CLSID, vec![IID]).unwrap()),
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
    ]
}

fn decode(bytes: &[u8]) -> Result<ActivationBlob, DcomError> {
    ActivationBlob::decode(bytes, &ActivationLimits::DEFAULT)
}

fn unc(units: usize) -> String {
    let mut s = String::from("\\\\");
    s.push_str(&"A".repeat(units - 2));
    s
}

#[test]
fn valid_blob_decodes() {
    let blob = ActivationBlob::new(base_properties());
    assert_eq!(decode(&blob.encode().unwrap()).unwrap(), blob);
}

#[test]
fn four_kib_unc_names_are_refused() {
    let long = unc(4096);
    let cases = [
        Property::LocationInfo(LocationInfoData {
            machine_name: Unique::new(long.clone()),
            ..Default::default()
        }),
        Property::SecurityInfo(SecurityInfoData {
            authn_flags: 0,
            server_info: Unique::new(CoServerInfo {
                name: Unique::new(long.clone()),
                ..Default::default()
            }),
            pdw_reserved: Unique::null(),
        }),
        Property::InstanceInfo(InstanceInfoData {
            file_name: Unique::new(long.clone()),
            ..Default::default()
        }),
    ];
    for p in cases {
        let mut props = base_properties();
        props.push(p);
        let bytes = ActivationBlob::new(props).encode().unwrap();
        match decode(&bytes) {
            Err(DcomError::Limit {
                value: 4096,
                limit: 260,
                ..
            }) => {}
            other => panic!("not refused by its length: {other:?}"),
        }
    }
    // At the limit: accepted.
    let mut props = base_properties();
    props.push(Property::LocationInfo(LocationInfoData {
        machine_name: Unique::new(unc(260)),
        ..Default::default()
    }));
    decode(&ActivationBlob::new(props).encode().unwrap()).unwrap();
}

#[test]
fn remote_activation_with_a_long_object_name_is_refused() {
    let req = RemoteActivationRequest {
        orpcthis: OrpcThis::new(Uuid::nil()),
        clsid: CLSID,
        object_name: Some(unc(4096)),
        object_storage: Unique::null(),
        client_imp_level: 2,
        mode: 0,
        interfaces: 1,
        iids: Some(vec![IID]),
        c_requested_protseqs: 1,
        requested_protseqs: vec![7],
    };
    // It decodes (the NDR is well formed) but the check refuses it before any use.
    let stub = req.to_stub(LE).unwrap();
    let back = RemoteActivationRequest::from_stub(&stub, LE, DecodeLimits::DEFAULT).unwrap();
    assert!(matches!(
        back.check(&ActivationLimits::DEFAULT),
        Err(DcomError::Limit { value: 4096, .. })
    ));
    let ok = RemoteActivationRequest {
        object_name: Some("\\\\host\\share".into()),
        ..back.clone()
    };
    ok.check(&ActivationLimits::DEFAULT).unwrap();
    let bad = RemoteActivationRequest {
        interfaces: 100_000,
        ..ok.clone()
    };
    assert!(bad.check(&ActivationLimits::DEFAULT).is_err());
    let bad = RemoteActivationRequest {
        interfaces: 2,
        ..ok
    };
    assert!(bad.check(&ActivationLimits::DEFAULT).is_err());
}

#[test]
fn absurd_remote_activation_counts_do_not_allocate() {
    // Interfaces = 0x7fffffff with one IID present: the NDR count is checked against the data.
    let req = RemoteActivationRequest {
        orpcthis: OrpcThis::new(Uuid::nil()),
        clsid: CLSID,
        object_name: None,
        object_storage: Unique::null(),
        client_imp_level: 2,
        mode: 0,
        interfaces: 1,
        iids: Some(vec![IID]),
        c_requested_protseqs: 1,
        requested_protseqs: vec![7],
    };
    let mut stub = req.to_stub(LE).unwrap();
    // interfaces sits after ORPCTHIS (32), CLSID (16), two null pointers and two DWORDs.
    let at = 32 + 16 + 4 + 4 + 4 + 4;
    assert_eq!(&stub[at..at + 4], &1u32.to_le_bytes());
    stub[at..at + 4].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    assert!(RemoteActivationRequest::from_stub(&stub, LE, DecodeLimits::DEFAULT).is_err());
}

fn set_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn absurd_property_counts_and_sizes_are_refused() {
    let good = ActivationBlob::new(base_properties()).encode().unwrap();
    // cIfs: dwSize, dwReserved, two 8-byte headers, totalSize, headerSize, dwReserved, destCtx.
    let c_ifs_at = 8 + 16 + 16;
    assert_eq!(&good[c_ifs_at..c_ifs_at + 4], &4u32.to_le_bytes());
    for v in [0, 11, 0x7fff_ffff, u32::MAX] {
        let mut b = good.clone();
        set_u32(&mut b, c_ifs_at, v);
        assert!(decode(&b).is_err(), "cIfs {v:#x} accepted");
    }
    // dwSize and totalSize beyond the data.
    for at in [0, 8 + 16] {
        let mut b = good.clone();
        set_u32(&mut b, at, 0xffff_fff0);
        assert!(decode(&b).is_err());
    }
    // headerSize beyond the blob, or smaller than the headers.
    for v in [u32::MAX, 3] {
        let mut b = good.clone();
        set_u32(&mut b, 8 + 16 + 4, v);
        assert!(decode(&b).is_err());
    }
    // A property size beyond the blob: pSizes is the last array of the CustomHeader.
    let hdr: u32 = u32::from_le_bytes(good[8 + 20..8 + 24].try_into().unwrap());
    let psizes_last = 8 + hdr as usize - 4;
    let mut b = good.clone();
    set_u32(&mut b, psizes_last, 0x1000_0000);
    assert!(decode(&b).is_err());
    // An object buffer length beyond its property.
    let first_prop = 8 + hdr as usize;
    let mut b = good.clone();
    set_u32(&mut b, first_prop + 8, 0x7fff_ffff);
    assert!(decode(&b).is_err());
    // cIID of InstantiationInfo: 0x7fffffff (its array cannot fit) and 0.
    let c_iid_at = first_prop + 16 + 16 + 12;
    for v in [0x7fff_ffff, 0] {
        let mut b = good.clone();
        set_u32(&mut b, c_iid_at, v);
        assert!(decode(&b).is_err(), "cIID {v:#x} accepted");
    }
    // A blob larger than the limit is refused before anything is read.
    let big = vec![0u8; ActivationLimits::DEFAULT.max_blob_bytes + 1];
    assert!(matches!(decode(&big), Err(DcomError::Limit { .. })));
}

#[test]
fn too_many_interfaces_and_protseqs_are_refused() {
    let limits = ActivationLimits::DEFAULT;
    let mut props = base_properties();
    props[0] = Property::InstantiationInfo(
        InstantiationInfoData::new(CLSID, vec![IID; limits.max_interfaces as usize + 1]).unwrap(),
    );
    assert!(decode(&ActivationBlob::new(props).encode().unwrap()).is_err());
    let mut props = base_properties();
    let n = limits.max_protseqs + 1;
    props[3] = Property::ScmRequestInfo(ScmRequestInfoData {
        pdw_reserved: Unique::null(),
        remote_request: Unique::new(RemoteRequestScmInfo {
            client_imp_level: 2,
            c_requested_protseqs: n,
            requested_protseqs: Unique::new(vec![7; n as usize]),
        }),
    });
    assert!(decode(&ActivationBlob::new(props).encode().unwrap()).is_err());
}

/// A blob whose ActivationContextInfo client context carries `inner` (another activation
/// OBJREF), `depth` levels deep.
fn nested(depth: u32) -> Vec<u8> {
    let mut blob = ActivationBlob::new(base_properties());
    for _ in 1..depth {
        let ip = blob.to_interface_pointer(true).unwrap();
        let mut props = base_properties();
        props[1] = Property::ActivationContextInfo(ActivationContextInfoData {
            client_ctx: Unique::new(ip),
            ..Default::default()
        });
        blob = ActivationBlob::new(props);
    }
    blob.encode().unwrap()
}

#[test]
fn nested_activation_objrefs_are_bounded() {
    decode(&nested(1)).unwrap();
    decode(&nested(2)).unwrap();
    assert_eq!(decode(&nested(3)), Err(DcomError::Depth(2)));
    assert_eq!(decode(&nested(20)), Err(DcomError::Depth(2)));
    // A deeper limit accepts more.
    let limits = ActivationLimits {
        max_depth: 3,
        ..ActivationLimits::DEFAULT
    };
    ActivationBlob::decode(&nested(3), &limits).unwrap();
}

#[test]
fn interface_pointers_inside_properties_must_be_objrefs() {
    let mut props = base_properties();
    props[1] = Property::ActivationContextInfo(ActivationContextInfoData {
        client_ctx: Unique::new(MInterfacePointer::new(b"not an objref at all".to_vec()).unwrap()),
        ..Default::default()
    });
    assert!(matches!(
        decode(&ActivationBlob::new(props).encode().unwrap()),
        Err(DcomError::BadSignature(_))
    ));
}

#[test]
fn every_truncation_is_an_error() {
    for name in [
        "remote_create_instance_blob",
        "remote_get_class_object_blob",
        "activation_reply_blob",
    ] {
        let v = vector(name);
        decode(&v).unwrap();
        for n in 0..v.len() {
            assert!(
                decode(&v[..n]).is_err(),
                "{name}: prefix of {n} bytes accepted"
            );
        }
    }
    for name in [
        "objref_standard",
        "objref_handler",
        "objref_extended",
        "remote_create_instance_objref",
    ] {
        let v = vector(name);
        ObjRef::decode(&v).unwrap();
        for n in 0..v.len() {
            let r = ObjRef::decode(&v[..n]);
            // A custom OBJREF's data runs to the end: a shorter one is a shorter OBJREF, whose
            // blob then no longer decodes.
            if name == "remote_create_instance_objref" && n >= 48 {
                let o = r.unwrap();
                assert!(ActivationBlob::from_objref(&o, &ActivationLimits::DEFAULT).is_err());
            } else {
                assert!(r.is_err(), "{name}: prefix of {n} bytes accepted");
            }
        }
    }
}

#[test]
fn malformed_objrefs_are_refused() {
    let good = vector("objref_standard");
    let mut b = good.clone();
    b[0] = b'X';
    assert!(matches!(
        ObjRef::decode(&b),
        Err(DcomError::BadSignature(_))
    ));
    for flags in [0u32, 3, 5, 0x10, u32::MAX] {
        let mut b = good.clone();
        b[4..8].copy_from_slice(&flags.to_le_bytes());
        assert_eq!(ObjRef::decode(&b), Err(DcomError::BadObjRefFlags(flags)));
    }
    let mut b = good.clone();
    b[8..24].fill(0);
    assert!(ObjRef::decode(&b).is_err(), "GUID_NULL iid accepted");
    // wNumEntries beyond the data.
    let mut b = good.clone();
    b[64..66].copy_from_slice(&0xffffu16.to_le_bytes());
    assert!(ObjRef::decode(&b).is_err());
    // Trailing bytes after a standard OBJREF.
    let mut b = good;
    b.push(0);
    assert!(matches!(
        ObjRef::decode(&b),
        Err(DcomError::TrailingBytes { .. })
    ));
}

#[test]
fn malformed_bindings_are_refused() {
    let limits = BindingLimits::DEFAULT;
    let dsa = |units: Vec<u16>, sec: u16| DualStringArray {
        num_entries: units.len() as u16,
        security_offset: sec,
        string_array: units,
    };
    // Security offset beyond the array.
    assert!(dsa(vec![0, 0, 0, 0], 9).parse(&limits).is_err());
    // Unterminated network address.
    assert!(dsa(vec![7, b'a' as u16, b'b' as u16], 3)
        .parse(&limits)
        .is_err());
    // No terminator for the security bindings.
    assert!(dsa(vec![0, 0, 10, 0xffff, 0], 2).parse(&limits).is_err());
    // A lone surrogate.
    assert!(dsa(vec![7, 0xd800, 0, 0, 0, 0], 4).parse(&limits).is_err());
    // Data after a terminator.
    assert!(dsa(vec![0, 7, 0, 0, 0], 3).parse(&limits).is_err());
    // A 4 KiB network address.
    let mut v = vec![7u16];
    v.extend(std::iter::repeat_n(b'a' as u16, 4096));
    v.extend([0, 0]);
    let sec = v.len() as u16;
    v.extend([0, 0]);
    assert!(matches!(
        dsa(v, sec).parse(&limits),
        Err(DcomError::Limit { .. })
    ));
    // Too many bindings.
    let mut v = Vec::new();
    for _ in 0..100 {
        v.extend([7u16, b'h' as u16, 0]);
    }
    v.push(0);
    let sec = v.len() as u16;
    v.extend([0, 0]);
    assert!(matches!(
        dsa(v, sec).parse(&limits),
        Err(DcomError::Limit { .. })
    ));
    // wNumEntries disagreeing with the array.
    let mut d = dsa(vec![0, 0, 0, 0], 2);
    d.num_entries = 5;
    assert!(d.parse(&limits).is_err());
    // NDR: a max_count of 65535 with four entries of data.
    let bytes = msrpc_ndr::to_bytes(&DualStringArray::empty(), LE).unwrap();
    let mut b = bytes.clone();
    b[0..4].copy_from_slice(&0xffffu32.to_le_bytes());
    b[4..6].copy_from_slice(&0xffffu16.to_le_bytes());
    assert!(msrpc_ndr::from_bytes::<DualStringArray>(&b, LE, DecodeLimits::DEFAULT).is_err());
}

#[test]
fn absurd_orpc_extent_counts_are_refused() {
    let t: OrpcThis =
        msrpc_ndr::from_bytes(&vector("orpcthis_one_extent"), LE, DecodeLimits::DEFAULT).unwrap();
    let bytes = msrpc_ndr::to_bytes(&t, LE).unwrap();
    // ORPC_EXTENT_ARRAY.size at 32, the extent array's max_count at 44, the extent's size.
    for (at, v) in [(32usize, u32::MAX), (44, 0x7fff_ffff), (44, 4), (32, 3)] {
        let mut b = bytes.clone();
        set_u32(&mut b, at, v);
        assert!(
            msrpc_ndr::from_bytes::<OrpcThis>(&b, LE, DecodeLimits::DEFAULT).is_err(),
            "{at}: {v:#x} accepted"
        );
    }
    for n in 0..bytes.len() {
        assert!(msrpc_ndr::from_bytes::<OrpcThis>(&bytes[..n], LE, DecodeLimits::DEFAULT).is_err());
    }
}
