//! Property tests: encode -> decode gives the value back (OBJREF, DUALSTRINGARRAY and its
//! bindings, ORPCTHIS/ORPCTHAT in both byte orders, activation blobs of every property), and
//! decoding arbitrary bytes never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use msrpc_dcom::activation::{
    ActivationBlob, ActivationContextInfoData, ActivationLimits, CoServerInfo, InstanceInfoData,
    InstantiationInfoData, LocationInfoData, Property, PropsOutInfo, RemoteReplyScmInfo,
    RemoteRequestScmInfo, ScmReplyInfoData, ScmRequestInfoData, SecurityInfoData,
    SpecialPropertiesData,
};
use msrpc_dcom::dualstring::{
    BindingLimits, Bindings, DualStringArray, SecurityBinding, StringBinding,
};
use msrpc_dcom::objref::{DataElement, ObjRef, ObjRefBody, ObjRefCustom};
use msrpc_dcom::orpc::{ComVersion, OrpcExtent, OrpcExtentArray, OrpcThat, OrpcThis, StdObjRef};
use msrpc_dcom::{HResult, Ipid, MInterfacePointer, Oid, Oxid};
use msrpc_ndr::{DataRep, DecodeLimits, Unique, Uuid};
use proptest::prelude::*;

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn nonnil_uuid() -> impl Strategy<Value = Uuid> {
    (1u128..).prop_map(Uuid::from_u128)
}

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            (0x20u32..0x7f).prop_map(|c| char::from_u32(c).unwrap()),
            Just('é'),
            Just('€'),
            Just('😀')
        ],
        0..max,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn bindings() -> impl Strategy<Value = Bindings> {
    (
        proptest::collection::vec(
            (1u16.., text(40)).prop_map(|(tower_id, network_addr)| StringBinding {
                tower_id,
                network_addr,
            }),
            0..6,
        ),
        proptest::collection::vec(
            (1u16.., any::<u16>(), text(40)).prop_map(|(authn_svc, authz_svc, principal_name)| {
                SecurityBinding {
                    authn_svc,
                    authz_svc,
                    principal_name,
                }
            }),
            0..6,
        ),
    )
        .prop_map(|(strings, security)| Bindings { strings, security })
}

fn raw_dsa() -> impl Strategy<Value = DualStringArray> {
    (proptest::collection::vec(any::<u16>(), 0..64), any::<u16>()).prop_map(|(v, sec)| {
        DualStringArray {
            num_entries: v.len() as u16,
            security_offset: sec,
            string_array: v,
        }
    })
}

fn stdobjref() -> impl Strategy<Value = StdObjRef> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u64>(),
        any::<u64>(),
        uuid(),
    )
        .prop_map(|(flags, public_refs, oxid, oid, ipid)| StdObjRef {
            flags,
            public_refs,
            oxid: Oxid(oxid),
            oid: Oid(oid),
            ipid: Ipid(ipid),
        })
}

fn objref() -> impl Strategy<Value = ObjRef> {
    let body = prop_oneof![
        (stdobjref(), raw_dsa()).prop_map(|(std, resolver)| ObjRefBody::Standard { std, resolver }),
        (stdobjref(), uuid(), raw_dsa()).prop_map(|(std, clsid, resolver)| ObjRefBody::Handler {
            std,
            clsid,
            resolver
        }),
        (
            uuid(),
            any::<u32>(),
            proptest::collection::vec(any::<u8>(), 0..100)
        )
            .prop_map(|(clsid, reserved, data)| ObjRefBody::Custom(ObjRefCustom {
                clsid,
                reserved,
                data
            })),
        (stdobjref(), raw_dsa(), uuid(), 0u32..100, any::<u8>()).prop_map(
            |(std, resolver, data_id, size, fill)| ObjRefBody::Extended {
                std,
                resolver,
                element: DataElement {
                    data_id,
                    size,
                    data: vec![fill; (size as usize).div_ceil(8) * 8],
                },
            }
        ),
    ];
    (nonnil_uuid(), body).prop_map(|(iid, body)| ObjRef { iid, body })
}

fn extents() -> impl Strategy<Value = Unique<OrpcExtentArray>> {
    proptest::option::of(proptest::collection::vec(
        (uuid(), proptest::collection::vec(any::<u8>(), 0..30)),
        0..4,
    ))
    .prop_map(|o| match o {
        None => Unique::null(),
        Some(v) => Unique::new(
            OrpcExtentArray::new(
                v.into_iter()
                    .map(|(id, p)| OrpcExtent::new(id, &p).unwrap())
                    .collect(),
            )
            .unwrap(),
        ),
    })
}

fn orpcthis() -> impl Strategy<Value = OrpcThis> {
    (
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        uuid(),
        extents(),
    )
        .prop_map(
            |(major, minor, flags, reserved1, cid, extensions)| OrpcThis {
                version: ComVersion { major, minor },
                flags,
                reserved1,
                cid,
                extensions,
            },
        )
}

fn std_objref_ip() -> impl Strategy<Value = MInterfacePointer> {
    (stdobjref(), nonnil_uuid()).prop_map(|(std, iid)| {
        ObjRef::standard(iid, std, DualStringArray::empty())
            .to_interface_pointer()
            .unwrap()
    })
}

fn opt_string(max: usize) -> impl Strategy<Value = Unique<String>> {
    proptest::option::of(text(max)).prop_map(Unique::from)
}

fn property() -> impl Strategy<Value = Property> {
    prop_oneof![
        (uuid(), proptest::collection::vec(uuid(), 1..5)).prop_map(|(c, iids)| {
            Property::InstantiationInfo(InstantiationInfoData::new(c, iids).unwrap())
        }),
        (any::<i32>(), proptest::option::of(std_objref_ip())).prop_map(|(ok, ip)| {
            Property::ActivationContextInfo(ActivationContextInfoData {
                client_ok: ok,
                client_ctx: Unique::from(ip),
                ..Default::default()
            })
        }),
        (opt_string(50), any::<u32>()).prop_map(|(machine_name, process_id)| {
            Property::LocationInfo(LocationInfoData {
                machine_name,
                process_id,
                ..Default::default()
            })
        }),
        (any::<u32>(), proptest::option::of(opt_string(50))).prop_map(|(f, si)| {
            Property::SecurityInfo(SecurityInfoData {
                authn_flags: f,
                server_info: Unique::from(si.map(|name| CoServerInfo {
                    name,
                    ..Default::default()
                })),
                pdw_reserved: Unique::null(),
            })
        }),
        proptest::collection::vec(any::<u16>(), 0..5).prop_map(|p| {
            Property::ScmRequestInfo(ScmRequestInfoData {
                pdw_reserved: Unique::null(),
                remote_request: Unique::new(RemoteRequestScmInfo {
                    client_imp_level: 2,
                    c_requested_protseqs: p.len() as u16,
                    requested_protseqs: Unique::new(p),
                }),
            })
        }),
        (any::<u64>(), bindings(), uuid(), any::<u32>()).prop_map(|(oxid, b, ipid, hint)| {
            Property::ScmReplyInfo(ScmReplyInfoData {
                pdw_reserved: Unique::null(),
                remote_reply: Unique::new(RemoteReplyScmInfo {
                    oxid: Oxid(oxid),
                    oxid_bindings: Unique::new(DualStringArray::from_bindings(&b).unwrap()),
                    ipid_rem_unknown: Ipid(ipid),
                    authn_hint: hint,
                    server_version: ComVersion::CURRENT,
                }),
            })
        }),
        proptest::collection::vec(
            (uuid(), any::<u32>(), proptest::option::of(std_objref_ip())),
            0..4
        )
        .prop_map(|v| {
            Property::PropsOutInfo(PropsOutInfo {
                c_ifs: v.len() as u32,
                iids: Unique::new(v.iter().map(|x| x.0).collect()),
                hresults: Unique::new(v.iter().map(|x| HResult(x.1)).collect()),
                interface_data: Unique::new(v.into_iter().map(|x| Unique::from(x.2)).collect()),
            })
        }),
        (opt_string(50), any::<u32>()).prop_map(|(file_name, mode)| {
            Property::InstanceInfo(InstanceInfoData {
                file_name,
                mode,
                ..Default::default()
            })
        }),
        (any::<u32>(), uuid(), any::<u64>(), any::<[u32; 5]>()).prop_map(|(s, g, r2, r3)| {
            Property::SpecialProperties(SpecialPropertiesData {
                session_id: s,
                guid_partition: g,
                reserved2: r2,
                reserved3: r3,
                ..Default::default()
            })
        }),
        (
            (1u128..0xffff).prop_map(|x| Uuid::from_u128(x << 64)),
            proptest::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(clsid, data)| Property::Unknown { clsid, data }),
    ]
}

proptest! {
    #[test]
    fn bindings_roundtrip(b in bindings()) {
        let dsa = DualStringArray::from_bindings(&b).unwrap();
        prop_assert_eq!(dsa.parse(&BindingLimits::DEFAULT).unwrap(), b);
        let bytes = msrpc_ndr::to_bytes(&dsa, DataRep::LITTLE_ENDIAN).unwrap();
        let back: DualStringArray =
            msrpc_ndr::from_bytes(&bytes, DataRep::LITTLE_ENDIAN, DecodeLimits::DEFAULT).unwrap();
        prop_assert_eq!(back, dsa);
    }

    #[test]
    fn objref_roundtrip(o in objref()) {
        let bytes = o.encode().unwrap();
        prop_assert_eq!(ObjRef::decode(&bytes).unwrap(), o);
    }

    #[test]
    fn orpc_headers_roundtrip(t in orpcthis(), ext in extents(), flags in any::<u32>(), big in any::<bool>()) {
        let drep = if big { DataRep::BIG_ENDIAN } else { DataRep::LITTLE_ENDIAN };
        let bytes = msrpc_ndr::to_bytes(&t, drep).unwrap();
        prop_assert_eq!(msrpc_ndr::from_bytes::<OrpcThis>(&bytes, drep, DecodeLimits::DEFAULT).unwrap(), t);
        let that = OrpcThat { flags, extensions: ext };
        let bytes = msrpc_ndr::to_bytes(&that, drep).unwrap();
        prop_assert_eq!(msrpc_ndr::from_bytes::<OrpcThat>(&bytes, drep, DecodeLimits::DEFAULT).unwrap(), that);
    }

    #[test]
    fn activation_blob_roundtrip(props in proptest::collection::vec(property(), 1..=10), dest_ctx in any::<u32>()) {
        let blob = ActivationBlob { dest_ctx, properties: props };
        let bytes = blob.encode().unwrap();
        let back = ActivationBlob::decode(&bytes, &ActivationLimits::DEFAULT).unwrap();
        prop_assert_eq!(&back, &blob);
        // ... and through its OBJREF.
        let ip = blob.to_interface_pointer(false).unwrap();
        prop_assert_eq!(ActivationBlob::from_interface_pointer(&ip, &ActivationLimits::DEFAULT).unwrap(), blob);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        msrpc_dcom::fuzzing::objref(&data);
        msrpc_dcom::fuzzing::dualstringarray(&data);
        msrpc_dcom::fuzzing::activation_blob(&data);
        msrpc_dcom::fuzzing::orpcthis(&data);
    }

    #[test]
    fn mutated_impacket_blobs_never_panic(at in 0usize..464, byte in any::<u8>(), cut in 0usize..464) {
        let path = format!("{}/../../tests/vectors/impacket-dcom/remote_create_instance_request.hex", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).unwrap();
        let mut v = hex::decode(text.split_whitespace().collect::<String>()).unwrap();
        if at < v.len() { v[at] = byte; }
        v.truncate(cut.max(1));
        if let Ok(req) = msrpc_dcom::activator::RemoteCreateInstanceRequest::from_stub(&v, DataRep::LITTLE_ENDIAN, DecodeLimits::DEFAULT) {
            if let Some(ip) = req.act_properties.get() {
                if let Ok(o) = ObjRef::decode(&ip.data) {
                    if let ObjRefBody::Custom(c) = &o.body {
                        msrpc_dcom::fuzzing::activation_blob(&c.data);
                    }
                }
            }
        }
    }
}
