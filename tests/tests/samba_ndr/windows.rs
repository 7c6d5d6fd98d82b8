//! The values of the cross-check for the Windows interfaces of `msrpc-windows` (compiled from
//! our own IDL): the srvsvc, wkssvc, samr, winreg and netdfs operations its Samba test calls,
//! lsarpc's policy and translation operations and drsuapi's bind and unbind, request and
//! response. `tests/interop/samba_ndr_cross.py` builds the same values under the
//! same names with Samba's classes (whose operation names differ: `NetShareEnumAll` for
//! `NetrShareEnum`, `Connect2` for `SamrConnect2`, `OpenHKLM` for `OpenLocalMachine`...).
//!
//! Where MS-SAMR and Samba's IDL declare a member differently but the bytes agree for the value
//! chosen, the case says so: `UasCompatibilityRequired` (an `unsigned char`) is Samba's
//! `uint32 unknown3`, the same bytes for 0. Where they disagree on the bytes (level 7 of
//! QueryInformationDomain), the script carries a quirk that checks Samba still refuses ours.

use msrpc_ndr::{ContextHandle, Unique, Uuid};
use msrpc_windows::{drsuapi, lsarpc, netdfs, samr, srvsvc, winreg, wkssvc};

use super::{call, Case};

const HOST: &str = "\\\\server";
/// The handles' UUID (`SAMR_HANDLE` in the script); `attributes` numbers them.
const HANDLE_UUID: &str = "2b7e1d0c-5a46-4e3b-9c1f-0d2e3f405162";
const MAXIMUM_ALLOWED: u32 = 0x0200_0000;

fn whandle(n: u32) -> ContextHandle {
    ContextHandle {
        attributes: n,
        uuid: Uuid::parse_str(HANDLE_UUID).unwrap(),
    }
}

fn s(text: &str) -> Unique<String> {
    Unique::new(text.to_string())
}

fn ustr(text: &str) -> samr::RpcUnicodeString {
    let units: Vec<u16> = text.encode_utf16().collect();
    let n = u16::try_from(units.len() * 2).unwrap();
    samr::RpcUnicodeString {
        length: n,
        maximum_length: n,
        buffer: Unique::new(units),
    }
}

fn old(v: i64) -> samr::OldLargeInteger {
    samr::OldLargeInteger {
        low_part: v as u32,
        high_part: (v >> 32) as i32,
    }
}

/// S-1-5-21-403733543-1813410357-435086028.
fn domain_sid() -> samr::RpcSid {
    samr::RpcSid {
        revision: 1,
        sub_authority_count: 4,
        identifier_authority: samr::SidIdentifierAuthority {
            value: [0, 0, 0, 0, 0, 5],
        },
        sub_authority: vec![21, 403_733_543, 1_813_410_357, 435_086_028],
    }
}

/// (name, type, remark), as `SHARES` in the script.
const SHARES: [(&str, u32, &str); 3] = [
    ("public", 0, "msrpc public share"),
    ("data", 0, "Data for tests"),
    ("IPC$", 0x8000_0003, "IPC Service"),
];

fn share_enum(level: u32, filled: bool) -> srvsvc::ShareEnumStruct {
    let share_info = match (level, filled) {
        (1, false) => srvsvc::ShareEnumUnion::Level1(Unique::new(Default::default())),
        (_, false) => srvsvc::ShareEnumUnion::Level2(Unique::new(Default::default())),
        (1, true) => srvsvc::ShareEnumUnion::Level1(Unique::new(srvsvc::ShareInfo1Container {
            entries_read: 3,
            buffer: Unique::new(
                SHARES
                    .iter()
                    .map(|&(n, t, r)| srvsvc::ShareInfo1 {
                        shi1_netname: s(n),
                        shi1_type: t,
                        shi1_remark: s(r),
                    })
                    .collect(),
            ),
        })),
        (_, true) => srvsvc::ShareEnumUnion::Level2(Unique::new(srvsvc::ShareInfo2Container {
            entries_read: 3,
            buffer: Unique::new(
                SHARES
                    .iter()
                    .map(|&(n, t, r)| srvsvc::ShareInfo2 {
                        shi2_netname: s(n),
                        shi2_type: t,
                        shi2_remark: s(r),
                        shi2_permissions: 0,
                        shi2_max_uses: 0xffff_ffff,
                        shi2_current_uses: 1,
                        shi2_path: s(&format!("C:\\srv\\{n}")),
                        shi2_passwd: Unique::default(),
                    })
                    .collect(),
            ),
        })),
    };
    srvsvc::ShareEnumStruct { level, share_info }
}

fn srvsvc_cases() -> Vec<Case> {
    let mut v = Vec::new();
    for (name, level) in [
        ("srvsvc_NetrShareEnum_level1", 1),
        ("srvsvc_NetrShareEnum_level2", 2),
    ] {
        v.push(call(
            name,
            srvsvc::NetrShareEnumRequest {
                server_name: Some(HOST.into()),
                info_struct: share_enum(level, false),
                prefered_maximum_length: 0xffff_ffff,
                resume_handle: Some(0),
            },
            srvsvc::NetrShareEnumResponse {
                info_struct: share_enum(level, true),
                total_entries: 3,
                resume_handle: Some(0),
                result: 0,
            },
        ));
    }
    v.push(call(
        "srvsvc_NetrShareGetInfo_level502",
        srvsvc::NetrShareGetInfoRequest {
            server_name: Some(HOST.into()),
            net_name: "public".into(),
            level: 502,
        },
        srvsvc::NetrShareGetInfoResponse {
            info_struct: srvsvc::ShareInfo::ShareInfo502(Unique::new(srvsvc::ShareInfo502I {
                shi502_netname: s("public"),
                shi502_type: 0,
                shi502_remark: s("msrpc public share"),
                shi502_permissions: 0,
                shi502_max_uses: 0xffff_ffff,
                shi502_current_uses: 1,
                shi502_path: s("C:\\srv\\public"),
                shi502_passwd: Unique::default(),
                shi502_reserved: 0,
                shi502_security_descriptor: Unique::default(),
            })),
            result: 0,
        },
    ));
    v.push(call(
        "srvsvc_NetrServerGetInfo_level101",
        srvsvc::NetrServerGetInfoRequest {
            server_name: Some(HOST.into()),
            level: 101,
        },
        srvsvc::NetrServerGetInfoResponse {
            info_struct: srvsvc::ServerInfo::ServerInfo101(Unique::new(srvsvc::ServerInfo101 {
                sv101_platform_id: 500,
                sv101_name: s("MSRPCSAMBA"),
                sv101_version_major: 6,
                sv101_version_minor: 1,
                sv101_type: 0x0080_9a03,
                sv101_comment: s("Samba 4.17"),
            })),
            result: 0,
        },
    ));
    v.push(call(
        "srvsvc_NetrRemoteTOD",
        srvsvc::NetrRemoteTodRequest {
            server_name: Some(HOST.into()),
        },
        srvsvc::NetrRemoteTodResponse {
            buffer_ptr: Unique::new(srvsvc::TimeOfDayInfo {
                tod_elapsedt: 1_796_577_178,
                tod_msecs: 250,
                tod_hours: 17,
                tod_mins: 12,
                tod_secs: 58,
                tod_hunds: 25,
                tod_timezone: -60,
                tod_tinterval: 10_000,
                tod_day: 6,
                tod_month: 12,
                tod_year: 2026,
                tod_weekday: 0,
            }),
            result: 0,
        },
    ));
    v
}

fn wkssvc_cases() -> Vec<Case> {
    vec![call(
        "wkssvc_NetrWkstaGetInfo_level100",
        wkssvc::NetrWkstaGetInfoRequest {
            server_name: Some(HOST.into()),
            level: 100,
        },
        wkssvc::NetrWkstaGetInfoResponse {
            wksta_info: wkssvc::WkstaInfo::WkstaInfo100(Unique::new(wkssvc::WkstaInfo100 {
                wki100_platform_id: 500,
                wki100_computername: s("MSRPCSAMBA"),
                wki100_langroup: s("MSRPCTEST"),
                wki100_ver_major: 6,
                wki100_ver_minor: 1,
            })),
            result: 0,
        },
    )]
}

fn enumeration(entries: &[(u32, &str)]) -> Unique<samr::SamprEnumerationBuffer> {
    Unique::new(samr::SamprEnumerationBuffer {
        entries_read: entries.len() as u32,
        buffer: Unique::new(
            entries
                .iter()
                .map(|&(rid, n)| samr::SamprRidEnumeration {
                    relative_id: rid,
                    name: ustr(n),
                })
                .collect(),
        ),
    })
}

fn samr_cases() -> Vec<Case> {
    use samr::DomainInformationClass as Class;
    let general = samr::SamprDomainGeneralInformation {
        force_logoff: old(0x7fff_ffff_ffff_ffff),
        oem_information: ustr("Samba 4.17"),
        domain_name: ustr("MSRPCTEST"),
        replica_source_node_name: ustr("MSRPCSAMBA"),
        domain_modified_count: old(1_796_577_171),
        domain_server_state: 1,
        domain_server_role: 3,
        uas_compatibility_required: 0,
        user_count: 1,
        group_count: 0,
        alias_count: 0,
    };
    let password = samr::DomainPasswordInformation {
        min_password_length: 5,
        password_history_length: 0,
        password_properties: 1,
        max_password_age: old(-37_108_517_437_440),
        min_password_age: old(0),
    };
    vec![
        call(
            "samr_SamrConnect2",
            samr::SamrConnect2Request {
                server_name: Some(HOST.into()),
                desired_access: MAXIMUM_ALLOWED,
            },
            samr::SamrConnect2Response {
                server_handle: whandle(0),
                result: 0,
            },
        ),
        call(
            "samr_SamrConnect5",
            samr::SamrConnect5Request {
                server_name: Some(HOST.into()),
                desired_access: MAXIMUM_ALLOWED,
                in_version: 1,
                in_revision_info: samr::SamprRevisionInfo::V1(samr::SamprRevisionInfoV1 {
                    revision: 2,
                    supported_features: 0,
                }),
            },
            samr::SamrConnect5Response {
                out_version: 1,
                out_revision_info: samr::SamprRevisionInfo::V1(samr::SamprRevisionInfoV1 {
                    revision: 3,
                    supported_features: 0x10,
                }),
                server_handle: whandle(0),
                result: 0,
            },
        ),
        call(
            "samr_SamrCloseHandle",
            samr::SamrCloseHandleRequest {
                sam_handle: whandle(1),
            },
            samr::SamrCloseHandleResponse {
                sam_handle: ContextHandle::NULL,
                result: 0,
            },
        ),
        call(
            "samr_SamrEnumerateDomainsInSamServer",
            samr::SamrEnumerateDomainsInSamServerRequest {
                server_handle: whandle(0),
                enumeration_context: 0,
                prefered_maximum_length: 0xffff,
            },
            samr::SamrEnumerateDomainsInSamServerResponse {
                enumeration_context: 2,
                buffer: enumeration(&[(0, "MSRPCSAMBA"), (1, "Builtin")]),
                count_returned: 2,
                result: 0,
            },
        ),
        call(
            "samr_SamrLookupDomainInSamServer",
            samr::SamrLookupDomainInSamServerRequest {
                server_handle: whandle(0),
                name: ustr("MSRPCSAMBA"),
            },
            samr::SamrLookupDomainInSamServerResponse {
                domain_id: Unique::new(domain_sid()),
                result: 0,
            },
        ),
        call(
            "samr_SamrOpenDomain",
            samr::SamrOpenDomainRequest {
                server_handle: whandle(0),
                desired_access: MAXIMUM_ALLOWED,
                domain_id: domain_sid(),
            },
            samr::SamrOpenDomainResponse {
                domain_handle: whandle(2),
                result: 0,
            },
        ),
        call(
            "samr_SamrQueryInformationDomain_level2",
            samr::SamrQueryInformationDomainRequest {
                domain_handle: whandle(2),
                domain_information_class: Class::DomainGeneralInformation,
            },
            samr::SamrQueryInformationDomainResponse {
                buffer: Unique::new(samr::SamprDomainInfoBuffer::General(general)),
                result: 0,
            },
        ),
        call(
            "samr_SamrQueryInformationDomain_level1",
            samr::SamrQueryInformationDomainRequest {
                domain_handle: whandle(2),
                domain_information_class: Class::DomainPasswordInformation,
            },
            samr::SamrQueryInformationDomainResponse {
                buffer: Unique::new(samr::SamprDomainInfoBuffer::Password(password)),
                result: 0,
            },
        ),
        // Samba departs here (the script's quirk `samr_role_v1_enum`): MS-SAMR's member is a
        // 16-bit enum, Samba's a 32-bit one; only our encoding and Samba's refusal of it run.
        call(
            "samr_SamrQueryInformationDomain_level7",
            samr::SamrQueryInformationDomainRequest {
                domain_handle: whandle(2),
                domain_information_class: Class::DomainServerRoleInformation,
            },
            samr::SamrQueryInformationDomainResponse {
                buffer: Unique::new(samr::SamprDomainInfoBuffer::Role(
                    samr::DomainServerRoleInformation {
                        domain_server_role: samr::DomainServerRole::DomainServerRolePrimary,
                    },
                )),
                result: 0,
            },
        ),
        call(
            "samr_SamrEnumerateUsersInDomain",
            samr::SamrEnumerateUsersInDomainRequest {
                domain_handle: whandle(2),
                enumeration_context: 0,
                user_account_control: 0x10,
                prefered_maximum_length: 0xffff,
            },
            samr::SamrEnumerateUsersInDomainResponse {
                enumeration_context: 1,
                buffer: enumeration(&[(1000, "daemon"), (1001, "alice")]),
                count_returned: 2,
                result: 0,
            },
        ),
        call(
            "samr_SamrGetDomainPasswordInformation",
            samr::SamrGetDomainPasswordInformationRequest { unused: None },
            samr::SamrGetDomainPasswordInformationResponse {
                password_information: samr::UserDomainPasswordInformation {
                    min_password_length: 5,
                    password_properties: 0x11,
                },
                result: 0,
            },
        ),
    ]
}

fn winreg_and_netdfs_cases() -> Vec<Case> {
    vec![
        call(
            "winreg_OpenLocalMachine",
            winreg::OpenLocalMachineRequest {
                server_name: Some(u16::from(b'\\')),
                sam_desired: MAXIMUM_ALLOWED,
            },
            winreg::OpenLocalMachineResponse {
                ph_key: whandle(3),
                result: 0,
            },
        ),
        call(
            "winreg_BaseRegCloseKey",
            winreg::BaseRegCloseKeyRequest { h_key: whandle(3) },
            winreg::BaseRegCloseKeyResponse {
                h_key: ContextHandle::NULL,
                result: 0,
            },
        ),
        // Samba declares the version an [out] parameter of a void function; MS-DFSNM makes it
        // the return value: the same four bytes.
        call(
            "netdfs_NetrDfsManagerGetVersion",
            netdfs::NetrDfsManagerGetVersionRequest {},
            netdfs::NetrDfsManagerGetVersionResponse { result: 1 },
        ),
    ]
}

/// An RRP_UNICODE_STRING (MS-RRP 2.2.4): the terminating null in the buffer and counted;
/// `size` bytes offered (at least the length).
fn rrp(text: &str, size: u16) -> winreg::RpcUnicodeString {
    let mut units: Vec<u16> = text.encode_utf16().collect();
    units.push(0);
    let n = u16::try_from(units.len() * 2).unwrap();
    winreg::RpcUnicodeString {
        length: n,
        maximum_length: size.max(n),
        buffer: Unique::new(units),
    }
}

fn filetime(v: u64) -> winreg::Filetime {
    winreg::Filetime {
        dw_low_date_time: v as u32,
        dw_high_date_time: (v >> 32) as u32,
    }
}

/// The registry reads of msrpc-windows's winreg test: open a key, its information, a subkey
/// and a value by index, a value by name, the version. The names offered are what
/// `net rpc registry` sends (for a value name, an empty null-terminated name in a buffer of
/// the size offered; for a key name, no characters at all).
fn winreg_cases() -> Vec<Case> {
    const KEY: &str = "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion";
    let (hklm, key) = (whandle(3), whandle(6));
    let version: Vec<u8> = "6.1\0".encode_utf16().flat_map(u16::to_le_bytes).collect();
    vec![
        call(
            "winreg_BaseRegOpenKey",
            winreg::BaseRegOpenKeyRequest {
                h_key: hklm,
                lp_sub_key: rrp(KEY, 0),
                dw_options: 0,
                sam_desired: MAXIMUM_ALLOWED,
            },
            winreg::BaseRegOpenKeyResponse {
                phk_result: key,
                result: 0,
            },
        ),
        call(
            "winreg_BaseRegQueryInfoKey",
            winreg::BaseRegQueryInfoKeyRequest {
                h_key: key,
                lp_class_in: winreg::RpcUnicodeString::default(),
            },
            winreg::BaseRegQueryInfoKeyResponse {
                lp_class_out: winreg::RpcUnicodeString::default(),
                lpc_sub_keys: 5,
                lpcb_max_sub_key_len: 24,
                lpcb_max_class_len: 0,
                lpc_values: 2,
                lpcb_max_value_name_len: 30,
                lpcb_max_value_len: 22,
                lpcb_security_descriptor: 120,
                lpft_last_write_time: filetime(0x01db_1e2f_d3c0_1234),
                result: 0,
            },
        ),
        call(
            "winreg_BaseRegEnumKey",
            winreg::BaseRegEnumKeyRequest {
                h_key: key,
                dw_index: 0,
                // What Samba's client offers: no characters (Samba's winreg_StringBuf counts
                // no terminator in an empty name), 50 bytes of room.
                lp_name_in: winreg::RpcUnicodeString {
                    length: 0,
                    maximum_length: 50,
                    buffer: Unique::new(Vec::new()),
                },
                lp_class_in: Some(winreg::RpcUnicodeString::default()),
                lpft_last_write_time: Some(filetime(0)),
            },
            winreg::BaseRegEnumKeyResponse {
                lp_name_out: rrp("Print", 50),
                lplp_class_out: Unique::new(winreg::RpcUnicodeString::default()),
                lpft_last_write_time: Some(filetime(0x01db_1e2f_d3c0_1234)),
                result: 0,
            },
        ),
        call(
            "winreg_BaseRegEnumValue",
            winreg::BaseRegEnumValueRequest {
                h_key: key,
                dw_index: 1,
                lp_value_name_in: rrp("", 32),
                lp_type: Some(0),
                lp_data: Some(Vec::new()),
                lpcb_data: Some(22),
                lpcb_len: Some(0),
            },
            winreg::BaseRegEnumValueResponse {
                lp_value_name_out: rrp("CurrentVersion", 32),
                lp_type: Some(1),
                lp_data: Some(version.clone()),
                lpcb_data: Some(22),
                lpcb_len: Some(version.len() as u32),
                result: 0,
            },
        ),
        call(
            "winreg_BaseRegQueryValue",
            winreg::BaseRegQueryValueRequest {
                h_key: key,
                lp_value_name: rrp("CurrentVersion", 0),
                lp_type: Some(0),
                lp_data: Some(Vec::new()),
                lpcb_data: Some(8),
                lpcb_len: Some(0),
            },
            winreg::BaseRegQueryValueResponse {
                lp_type: Some(1),
                lp_data: Some(version.clone()),
                lpcb_data: Some(8),
                lpcb_len: Some(version.len() as u32),
                result: 0,
            },
        ),
        // A value too large for the buffer offered: ERROR_MORE_DATA, the size needed, no data.
        call(
            "winreg_BaseRegQueryValue_more_data",
            winreg::BaseRegQueryValueRequest {
                h_key: key,
                lp_value_name: rrp("CurrentVersion", 0),
                lp_type: Some(0),
                lp_data: None,
                lpcb_data: Some(0),
                lpcb_len: Some(0),
            },
            winreg::BaseRegQueryValueResponse {
                lp_type: Some(1),
                lp_data: None,
                lpcb_data: Some(8),
                lpcb_len: Some(0),
                result: 234,
            },
        ),
        call(
            "winreg_BaseRegGetVersion",
            winreg::BaseRegGetVersionRequest { h_key: hklm },
            winreg::BaseRegGetVersionResponse {
                lpdw_version: 5,
                result: 0,
            },
        ),
    ]
}

fn lstr(text: &str, terminated: bool) -> lsarpc::RpcUnicodeString {
    let units: Vec<u16> = text.encode_utf16().collect();
    let n = u16::try_from(units.len() * 2).unwrap();
    lsarpc::RpcUnicodeString {
        length: n,
        // Samba's lsa_StringLarge counts the terminating NUL in the size, lsa_String does not.
        maximum_length: if terminated { n + 2 } else { n },
        buffer: Unique::new(units),
    }
}

fn lsid(text: &str) -> lsarpc::RpcSid {
    let mut parts = text.split('-').skip(1);
    let revision = parts.next().unwrap().parse().unwrap();
    let auth: u64 = parts.next().unwrap().parse().unwrap();
    let sub: Vec<u32> = parts.map(|p| p.parse().unwrap()).collect();
    let a = auth.to_be_bytes();
    lsarpc::RpcSid {
        revision,
        sub_authority_count: sub.len() as u8,
        identifier_authority: lsarpc::SidIdentifierAuthority {
            value: [a[2], a[3], a[4], a[5], a[6], a[7]],
        },
        sub_authority: sub,
    }
}

const DOMAIN_SID: &str = "S-1-5-21-403733543-1813410357-435086028";

fn ref_domains() -> Unique<lsarpc::LsaprReferencedDomainList> {
    Unique::new(lsarpc::LsaprReferencedDomainList {
        entries: 1,
        domains: Unique::new(vec![lsarpc::LsaprTrustInformation {
            name: lstr("MSRPCSAMBA", true),
            sid: Unique::new(lsid(DOMAIN_SID)),
        }]),
        max_entries: 32,
    })
}

fn trans_sids(entries: &[(lsarpc::SidNameUse, u32, i32)]) -> lsarpc::LsaprTranslatedSids {
    lsarpc::LsaprTranslatedSids {
        entries: entries.len() as u32,
        sids: if entries.is_empty() {
            Unique::default()
        } else {
            Unique::new(
                entries
                    .iter()
                    .map(
                        |&(r#use, relative_id, domain_index)| lsarpc::LsaTranslatedSid {
                            r#use,
                            relative_id,
                            domain_index,
                        },
                    )
                    .collect(),
            )
        },
    }
}

fn trans_names(entries: &[(lsarpc::SidNameUse, &str, i32)]) -> lsarpc::LsaprTranslatedNames {
    lsarpc::LsaprTranslatedNames {
        entries: entries.len() as u32,
        names: if entries.is_empty() {
            Unique::default()
        } else {
            Unique::new(
                entries
                    .iter()
                    .map(|&(r#use, name, domain_index)| lsarpc::LsaprTranslatedName {
                        r#use,
                        name: lstr(name, false),
                        domain_index,
                    })
                    .collect(),
            )
        },
    }
}

/// lsarpc: Samba serves it over `ncacn_ip_tcp` to schannel clients only, so msrpc-windows's
/// Samba test cannot call it; its bytes are checked here.
fn lsarpc_cases() -> Vec<Case> {
    use lsarpc::PolicyInformationClass as Class;
    use lsarpc::SidNameUse as Use;
    let h = whandle(4);
    let account_domain = lsarpc::LsaprPolicyAccountDomInfo {
        domain_name: lstr("MSRPCSAMBA", true),
        domain_sid: Unique::new(lsid(DOMAIN_SID)),
    };
    let dns = lsarpc::LsaprPolicyDnsDomainInfo {
        name: lstr("MSRPC", true),
        dns_domain_name: lstr("msrpc.test", true),
        dns_forest_name: lstr("msrpc.test", true),
        domain_guid: Uuid::parse_str("5c0b6d3e-9a2f-4f61-8e27-c1d2e3f40516").unwrap(),
        sid: Unique::new(lsid(DOMAIN_SID)),
    };
    vec![
        call(
            "lsarpc_LsarOpenPolicy",
            lsarpc::LsarOpenPolicyRequest {
                system_name: Some(u16::from(b'\\')),
                object_attributes: lsarpc::LsaprObjectAttributes {
                    length: 24,
                    security_quality_of_service: Unique::new(lsarpc::SecurityQualityOfService {
                        length: 12,
                        impersonation_level:
                            lsarpc::SecurityImpersonationLevel::SecurityImpersonation,
                        context_tracking_mode: 1,
                        effective_only: 0,
                    }),
                    ..Default::default()
                },
                desired_access: MAXIMUM_ALLOWED,
            },
            lsarpc::LsarOpenPolicyResponse {
                policy_handle: h,
                result: 0,
            },
        ),
        call(
            "lsarpc_LsarQueryInformationPolicy_level5",
            lsarpc::LsarQueryInformationPolicyRequest {
                policy_handle: h,
                information_class: Class::PolicyAccountDomainInformation,
            },
            lsarpc::LsarQueryInformationPolicyResponse {
                policy_information: Unique::new(
                    lsarpc::LsaprPolicyInformation::PolicyAccountDomainInfo(account_domain),
                ),
                result: 0,
            },
        ),
        call(
            "lsarpc_LsarQueryInformationPolicy_level12",
            lsarpc::LsarQueryInformationPolicyRequest {
                policy_handle: h,
                information_class: Class::PolicyDnsDomainInformation,
            },
            lsarpc::LsarQueryInformationPolicyResponse {
                policy_information: Unique::new(
                    lsarpc::LsaprPolicyInformation::PolicyDnsDomainInfo(dns),
                ),
                result: 0,
            },
        ),
        // One name found, one not: STATUS_SOME_NOT_MAPPED.
        call(
            "lsarpc_LsarLookupNames",
            lsarpc::LsarLookupNamesRequest {
                policy_handle: h,
                count: 2,
                names: vec![lstr("daemon", false), lstr("nobody-here", false)],
                translated_sids: trans_sids(&[]),
                lookup_level: lsarpc::LsapLookupLevel::LsapLookupWksta,
                mapped_count: 0,
            },
            lsarpc::LsarLookupNamesResponse {
                referenced_domains: ref_domains(),
                translated_sids: trans_sids(&[
                    (Use::SidTypeUser, 1000, 0),
                    (Use::SidTypeUnknown, 0xffff_ffff, -1),
                ]),
                mapped_count: 1,
                result: 0x107,
            },
        ),
        call(
            "lsarpc_LsarLookupSids",
            lsarpc::LsarLookupSidsRequest {
                policy_handle: h,
                sid_enum_buffer: lsarpc::LsaprSidEnumBuffer {
                    entries: 2,
                    sid_info: Unique::new(vec![
                        lsarpc::LsaprSidInformation {
                            sid: Unique::new(lsid(&format!("{DOMAIN_SID}-1000"))),
                        },
                        lsarpc::LsaprSidInformation {
                            sid: Unique::new(lsid("S-1-5-32-544")),
                        },
                    ]),
                },
                translated_names: trans_names(&[]),
                lookup_level: lsarpc::LsapLookupLevel::LsapLookupWksta,
                mapped_count: 0,
            },
            lsarpc::LsarLookupSidsResponse {
                referenced_domains: ref_domains(),
                translated_names: trans_names(&[
                    (Use::SidTypeUser, "daemon", 0),
                    (Use::SidTypeAlias, "Administrators", 0),
                ]),
                mapped_count: 2,
                result: 0,
            },
        ),
        call(
            "lsarpc_LsarEnumeratePrivileges",
            lsarpc::LsarEnumeratePrivilegesRequest {
                policy_handle: h,
                enumeration_context: 0,
                prefered_maximum_length: 0xffff,
            },
            lsarpc::LsarEnumeratePrivilegesResponse {
                enumeration_context: 2,
                enumeration_buffer: lsarpc::LsaprPrivilegeEnumBuffer {
                    entries: 2,
                    privileges: Unique::new(
                        [("SeMachineAccountPrivilege", 6), ("SeBackupPrivilege", 17)]
                            .iter()
                            .map(|&(name, low)| lsarpc::LsaprPolicyPrivilegeDef {
                                name: lstr(name, true),
                                local_value: lsarpc::Luid {
                                    low_part: low,
                                    high_part: 0,
                                },
                            })
                            .collect(),
                    ),
                },
                result: 0,
            },
        ),
        call(
            "lsarpc_LsarClose",
            lsarpc::LsarCloseRequest { object_handle: h },
            lsarpc::LsarCloseResponse {
                object_handle: ContextHandle::NULL,
                result: 0,
            },
        ),
    ]
}

/// DRS_EXTENSIONS_INT's first 28 bytes (flags, site GUID, pid, replication epoch), which
/// MS-DRSR keeps as bytes and Samba types (`BIND_INFO28` in the script).
const BIND_INFO28: &str = "7fffff1f3e6d0b5c2f9a614f8e27c1d2e3f40516d204000005000000";

/// drsuapi's bind and unbind (Samba's standalone server does not serve drsuapi).
fn drsuapi_cases() -> Vec<Case> {
    let ext = |bytes: Vec<u8>| drsuapi::DrsExtensions {
        cb: bytes.len() as u32,
        rgb: bytes,
    };
    let info = hex::decode(BIND_INFO28).unwrap();
    let mut reversed = info.clone();
    reversed.reverse();
    vec![
        call(
            "drsuapi_IDL_DRSBind",
            drsuapi::IdlDrsBindRequest {
                puuid_client_dsa: Some(
                    Uuid::parse_str("e24d201a-4fd6-11d1-a3da-0000f875ae0d").unwrap(),
                ),
                pext_client: Some(ext(info)),
            },
            drsuapi::IdlDrsBindResponse {
                ppext_server: Unique::new(ext(reversed)),
                ph_drs: whandle(5),
                result: 0,
            },
        ),
        call(
            "drsuapi_IDL_DRSUnbind",
            drsuapi::IdlDrsUnbindRequest { ph_drs: whandle(5) },
            drsuapi::IdlDrsUnbindResponse {
                ph_drs: ContextHandle::NULL,
                result: 0,
            },
        ),
    ]
}

/// Every Windows-interface case.
pub(crate) fn windows_cases() -> Vec<Case> {
    let mut v = srvsvc_cases();
    v.extend(wkssvc_cases());
    v.extend(samr_cases());
    v.extend(lsarpc_cases());
    v.extend(winreg_and_netdfs_cases());
    v.extend(winreg_cases());
    v.extend(drsuapi_cases());
    v
}
