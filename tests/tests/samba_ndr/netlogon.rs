//! The netlogon (MS-NRPC) values of the Windows-interface cross-check: the secure channel
//! (NetrServerReqChallenge, NetrServerAuthenticate3, NetrServerPasswordSet2,
//! NetrLogonGetCapabilities), the three logon calls over several logon levels (interactive,
//! network, generic) and validation levels (SAM_INFO, SAM_INFO2, SAM_INFO4, GENERIC_INFO2),
//! DsrGetDcNameEx2 and DsrEnumerateDomainTrusts, request and response.
//! `tests/interop/samba_ndr_cross.py` builds the same values with Samba's `netlogon` classes
//! (`netr_LogonSamLogon`, `netr_ServerAuthenticate3`, `netr_DsRGetDCNameEx2`...).
//!
//! Where MS-NRPC and Samba's IDL declare the same bytes differently, the values are chosen so
//! both read alike, and the comment says how: MS-NRPC's `ExpansionRoom[10]` of SAM_INFO and
//! SAM_INFO2 is Samba's LM session key, account flags, sub-authentication status, two
//! `NTTIME`s (4-byte aligned, as `OLD_LARGE_INTEGER`), failed logon count and a reserved word;
//! SAM_INFO4's ten `ExpansionString`s are Samba's `unknown4[20]` (zeros when the strings are
//! empty); a network logon's `STRING`s have `MaximumLength == Length` (Samba's
//! `netr_ChallengeResponse` sends its length twice); `NL_TRUST_PASSWORD`'s 256 WCHARs are
//! Samba's 512 bytes, in the stub's byte order. Where they disagree on the bytes, the script
//! carries a quirk (see docs/idl.md).

use msrpc_ndr::{Unique, Uuid};
use msrpc_windows::netlogon as nl;

use super::{call, Case};

const DC: &str = "\\\\DC1";
const COMPUTER: &str = "WKS1";
const ACCOUNT: &str = "WKS1$";
const DOMAIN: &str = "MSRPCTEST";
const DOMAIN_SID: &str = "S-1-5-21-403733543-1813410357-435086028";
const DOMAIN_GUID: &str = "5c0b6d3e-9a2f-4f61-8e27-c1d2e3f40516";

fn cred(first: u8) -> nl::NetlogonCredential {
    nl::NetlogonCredential {
        data: std::array::from_fn(|i| first.wrapping_add(i as u8)),
    }
}

fn auth(first: u8, timestamp: u32) -> nl::NetlogonAuthenticator {
    nl::NetlogonAuthenticator {
        credential: cred(first),
        timestamp,
    }
}

/// A counted string; `large` counts a terminating NUL in the size (Samba's
/// `lsa_StringLarge`), otherwise the size is the length (`lsa_String`).
fn ustr(text: &str, large: bool) -> nl::RpcUnicodeString {
    let units: Vec<u16> = text.encode_utf16().collect();
    let n = u16::try_from(units.len() * 2).unwrap();
    nl::RpcUnicodeString {
        length: n,
        maximum_length: if large { n + 2 } else { n },
        buffer: Unique::new(units),
    }
}

/// An empty counted string: zero lengths and a null buffer.
fn empty() -> nl::RpcUnicodeString {
    nl::RpcUnicodeString::default()
}

fn sid(text: &str) -> nl::RpcSid {
    let mut parts = text.split('-').skip(1);
    let revision = parts.next().unwrap().parse().unwrap();
    let authority: u64 = parts.next().unwrap().parse().unwrap();
    let sub: Vec<u32> = parts.map(|p| p.parse().unwrap()).collect();
    let a = authority.to_be_bytes();
    nl::RpcSid {
        revision,
        sub_authority_count: sub.len() as u8,
        identifier_authority: nl::SidIdentifierAuthority {
            value: [a[2], a[3], a[4], a[5], a[6], a[7]],
        },
        sub_authority: sub,
    }
}

fn old(v: u64) -> nl::OldLargeInteger {
    nl::OldLargeInteger {
        low_part: v as u32,
        high_part: (v >> 32) as i32,
    }
}

fn blocks(first: u8) -> [nl::CypherBlock; 2] {
    [
        nl::CypherBlock {
            data: std::array::from_fn(|i| first.wrapping_add(i as u8)),
        },
        nl::CypherBlock {
            data: std::array::from_fn(|i| first.wrapping_add(8 + i as u8)),
        },
    ]
}

fn identity() -> nl::NetlogonLogonIdentityInfo {
    nl::NetlogonLogonIdentityInfo {
        logon_domain_name: ustr(DOMAIN, false),
        // MSV1_0_ALLOW_SERVER_TRUST_ACCOUNT | MSV1_0_ALLOW_WORKSTATION_TRUST_ACCOUNT
        parameter_control: 0x0000_0820,
        reserved: nl::OldLargeInteger {
            low_part: 0x0001_2345,
            high_part: 0,
        },
        user_name: ustr("alice", false),
        workstation: ustr("\\\\WKS1", false),
    }
}

fn bytes_string(b: &[u8]) -> nl::IdlString {
    let n = u16::try_from(b.len()).unwrap();
    nl::IdlString {
        length: n,
        maximum_length: n,
        buffer: Unique::new(b.to_vec()),
    }
}

/// The logon levels the cases use, as `logon_level` and its union arm.
fn interactive() -> (nl::NetlogonLogonInfoClass, nl::NetlogonLevel) {
    (
        nl::NetlogonLogonInfoClass::NetlogonInteractiveInformation,
        nl::NetlogonLevel::LogonInteractive(Unique::new(nl::NetlogonInteractiveInfo {
            identity: identity(),
            lm_owf_password: nl::LmOwfPassword { data: blocks(0x40) },
            nt_owf_password: nl::NtOwfPassword { data: blocks(0x80) },
        })),
    )
}

fn network() -> (nl::NetlogonLogonInfoClass, nl::NetlogonLevel) {
    let nt: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(7)).collect();
    (
        nl::NetlogonLogonInfoClass::NetlogonNetworkInformation,
        nl::NetlogonLevel::LogonNetwork(Unique::new(nl::NetlogonNetworkInfo {
            identity: identity(),
            lm_challenge: nl::LmChallenge {
                data: [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88],
            },
            nt_challenge_response: bytes_string(&nt),
            lm_challenge_response: bytes_string(&[0xaa; 24]),
        })),
    )
}

fn generic() -> (nl::NetlogonLogonInfoClass, nl::NetlogonLevel) {
    let data = b"kerberos PAC to validate".to_vec();
    (
        nl::NetlogonLogonInfoClass::NetlogonGenericInformation,
        nl::NetlogonLevel::LogonGeneric(Unique::new(nl::NetlogonGenericInfo {
            identity: identity(),
            package_name: ustr("Kerberos", false),
            data_length: data.len() as u32,
            logon_data: Unique::new(data),
        })),
    )
}

fn groups() -> (u32, Unique<Vec<nl::GroupMembership>>) {
    let g = vec![
        nl::GroupMembership {
            relative_id: 513,
            attributes: 7,
        },
        nl::GroupMembership {
            relative_id: 1105,
            attributes: 7,
        },
    ];
    (g.len() as u32, Unique::new(g))
}

fn extra_sids() -> (u32, Unique<Vec<nl::NetlogonSidAndAttributes>>) {
    let s = vec![
        nl::NetlogonSidAndAttributes {
            sid: Unique::new(sid("S-1-5-21-1-2-3-1106")),
            attributes: 7,
        },
        nl::NetlogonSidAndAttributes {
            sid: Unique::new(sid("S-1-18-1")),
            attributes: 7,
        },
    ];
    (s.len() as u32, Unique::new(s))
}

/// SAM_INFO's `ExpansionRoom[10]`, which Samba reads as the LM session key (zero here, so
/// the byte order does not matter), account flags 0x10 (ACB_NORMAL), sub-authentication
/// status 0, the last successful and failed interactive logons (two NTTIMEs as low/high
/// words), the failed logon count 2 and a reserved 0.
fn expansion_room() -> [u32; 10] {
    [0, 0, 0x10, 0, 0xd3c0_1234, 0x01db_1e2f, 0, 0, 2, 0]
}

fn sam_info() -> nl::NetlogonValidationSamInfo {
    let (group_count, group_ids) = groups();
    nl::NetlogonValidationSamInfo {
        logon_time: old(0x01db_1e2f_d3c0_1234),
        logoff_time: old(0x7fff_ffff_ffff_ffff),
        kick_off_time: old(0x7fff_ffff_ffff_ffff),
        password_last_set: old(0x01db_0000_1111_2222),
        password_can_change: old(0x01db_0000_1111_2222),
        password_must_change: old(0x7fff_ffff_ffff_ffff),
        effective_name: ustr("alice", false),
        full_name: ustr("Alice Liddell", false),
        logon_script: empty(),
        profile_path: ustr("\\\\DC1\\profiles\\alice", false),
        home_directory: empty(),
        home_directory_drive: empty(),
        logon_count: 12,
        bad_password_count: 1,
        user_id: 1104,
        primary_group_id: 513,
        group_count,
        group_ids,
        user_flags: 0x20,
        user_session_key: nl::UserSessionKey { data: blocks(0xc0) },
        logon_server: ustr("DC1", true),
        logon_domain_name: ustr(DOMAIN, true),
        logon_domain_id: Unique::new(sid(DOMAIN_SID)),
        expansion_room: expansion_room(),
    }
}

fn sam_info2() -> nl::NetlogonValidationSamInfo2 {
    let b = sam_info();
    let (sid_count, extra_sids) = extra_sids();
    nl::NetlogonValidationSamInfo2 {
        logon_time: b.logon_time,
        logoff_time: b.logoff_time,
        kick_off_time: b.kick_off_time,
        password_last_set: b.password_last_set,
        password_can_change: b.password_can_change,
        password_must_change: b.password_must_change,
        effective_name: b.effective_name,
        full_name: b.full_name,
        logon_script: b.logon_script,
        profile_path: b.profile_path,
        home_directory: b.home_directory,
        home_directory_drive: b.home_directory_drive,
        logon_count: b.logon_count,
        bad_password_count: b.bad_password_count,
        user_id: b.user_id,
        primary_group_id: b.primary_group_id,
        group_count: b.group_count,
        group_ids: b.group_ids,
        user_flags: b.user_flags,
        user_session_key: b.user_session_key,
        logon_server: b.logon_server,
        logon_domain_name: b.logon_domain_name,
        logon_domain_id: b.logon_domain_id,
        expansion_room: b.expansion_room,
        sid_count,
        extra_sids,
    }
}

/// SAM_INFO4: the same user, an LM key that is not zero (bytes on both sides), a DNS domain
/// name and a UPN; the ten expansion strings empty (Samba's `unknown4[20]`, zeros).
fn sam_info4() -> nl::NetlogonValidationSamInfo4 {
    let b = sam_info();
    let (sid_count, extra_sids) = extra_sids();
    nl::NetlogonValidationSamInfo4 {
        logon_time: b.logon_time,
        logoff_time: b.logoff_time,
        kick_off_time: b.kick_off_time,
        password_last_set: b.password_last_set,
        password_can_change: b.password_can_change,
        password_must_change: b.password_must_change,
        effective_name: b.effective_name,
        full_name: b.full_name,
        logon_script: b.logon_script,
        profile_path: b.profile_path,
        home_directory: b.home_directory,
        home_directory_drive: b.home_directory_drive,
        logon_count: b.logon_count,
        bad_password_count: b.bad_password_count,
        user_id: b.user_id,
        primary_group_id: b.primary_group_id,
        group_count: b.group_count,
        group_ids: b.group_ids,
        user_flags: b.user_flags,
        user_session_key: b.user_session_key,
        logon_server: b.logon_server,
        logon_domain_name: b.logon_domain_name,
        logon_domain_id: b.logon_domain_id,
        lm_key: [1, 2, 3, 4, 5, 6, 7, 8],
        user_account_control: 0x10,
        sub_auth_status: 0,
        last_successful_i_logon: old(0x01db_1e2f_d3c0_1234),
        last_failed_i_logon: old(0),
        failed_i_logon_count: 2,
        reserved4: [0],
        sid_count,
        extra_sids,
        dns_logon_domain_name: ustr("msrpc.test", false),
        upn: ustr("alice@msrpc.test", false),
        ..Default::default()
    }
}

type Logon = (nl::NetlogonLogonInfoClass, nl::NetlogonLevel);

/// NetrLogonSamLogon (opnum 2) at `logon`, answered at `validation`; `authenticators`
/// false sends null authenticators (and gets a null one back), which moves every later
/// member by 12 bytes.
fn sam_logon(
    name: &'static str,
    logon: Logon,
    authenticators: bool,
    validation: (nl::NetlogonValidationInfoClass, nl::NetlogonValidation),
) -> Case {
    let (logon_level, logon_information) = logon;
    let (validation_level, validation_information) = validation;
    call(
        name,
        nl::NetrLogonSamLogonRequest {
            logon_server: Some(DC.into()),
            computer_name: Some(COMPUTER.into()),
            authenticator: authenticators.then(|| auth(0x10, 1_796_577_171)),
            return_authenticator: authenticators.then(|| auth(0, 0)),
            logon_level,
            logon_information,
            validation_level,
        },
        nl::NetrLogonSamLogonResponse {
            return_authenticator: authenticators.then(|| auth(0x20, 0)),
            validation_information,
            authoritative: 1,
            result: 0,
        },
    )
}

pub(crate) fn netlogon_cases() -> Vec<Case> {
    use nl::NetlogonValidation as V;
    use nl::NetlogonValidationInfoClass as VClass;
    let mut v = vec![
        call(
            "netlogon_NetrServerReqChallenge",
            nl::NetrServerReqChallengeRequest {
                primary_name: Some(DC.into()),
                computer_name: COMPUTER.into(),
                client_challenge: cred(0x01),
            },
            nl::NetrServerReqChallengeResponse {
                server_challenge: cred(0xf0),
                result: 0,
            },
        ),
        call(
            "netlogon_NetrServerAuthenticate3",
            nl::NetrServerAuthenticate3Request {
                primary_name: Some(DC.into()),
                account_name: ACCOUNT.into(),
                secure_channel_type: nl::NetlogonSecureChannelType::WorkstationSecureChannel,
                computer_name: COMPUTER.into(),
                client_credential: cred(0x31),
                negotiate_flags: 0x6127_ffff,
            },
            nl::NetrServerAuthenticate3Response {
                server_credential: cred(0x51),
                negotiate_flags: 0x6127_ffff,
                account_rid: 1104,
                result: 0,
            },
        ),
        call(
            "netlogon_NetrServerPasswordSet2",
            nl::NetrServerPasswordSet2Request {
                primary_name: Some(DC.into()),
                account_name: ACCOUNT.into(),
                secure_channel_type: nl::NetlogonSecureChannelType::WorkstationSecureChannel,
                computer_name: COMPUTER.into(),
                authenticator: auth(0x61, 1_796_577_200),
                clear_new_password: nl::NlTrustPassword {
                    buffer: std::array::from_fn(|i| (i as u16).wrapping_mul(0x0101) ^ 0x5a3c),
                    length: 28,
                },
            },
            nl::NetrServerPasswordSet2Response {
                return_authenticator: auth(0x71, 0),
                result: 0,
            },
        ),
        call(
            "netlogon_NetrLogonGetCapabilities_level1",
            nl::NetrLogonGetCapabilitiesRequest {
                server_name: DC.into(),
                computer_name: Some(COMPUTER.into()),
                authenticator: auth(0x81, 1_796_577_210),
                return_authenticator: auth(0, 0),
                query_level: 1,
            },
            nl::NetrLogonGetCapabilitiesResponse {
                return_authenticator: auth(0x91, 0),
                capabilities: nl::NetlogonCapabilities::ServerCapabilities(0x6127_ffff),
                result: 0,
            },
        ),
        sam_logon(
            "netlogon_NetrLogonSamLogon_interactive_saminfo2",
            interactive(),
            true,
            (
                VClass::NetlogonValidationSamInfo2,
                V::ValidationSam2(Unique::new(sam_info2())),
            ),
        ),
        sam_logon(
            "netlogon_NetrLogonSamLogon_network_saminfo_noauth",
            network(),
            false,
            (
                VClass::NetlogonValidationSamInfo,
                V::ValidationSam(Unique::new(sam_info())),
            ),
        ),
    ];
    let (logon_level, logon_information) = network();
    v.push(call(
        "netlogon_NetrLogonSamLogonWithFlags_network_saminfo4",
        nl::NetrLogonSamLogonWithFlagsRequest {
            logon_server: Some(DC.into()),
            computer_name: Some(COMPUTER.into()),
            authenticator: Some(auth(0xa1, 1_796_577_220)),
            return_authenticator: Some(auth(0, 0)),
            logon_level,
            logon_information,
            validation_level: VClass::NetlogonValidationSamInfo4,
            extra_flags: 0,
        },
        nl::NetrLogonSamLogonWithFlagsResponse {
            return_authenticator: Some(auth(0xb1, 0)),
            validation_information: V::ValidationSam4(Unique::new(sam_info4())),
            authoritative: 1,
            extra_flags: 0,
            result: 0,
        },
    ));
    let (logon_level, logon_information) = generic();
    let answer = b"generic validation data".to_vec();
    v.push(call(
        "netlogon_NetrLogonSamLogonEx_generic",
        nl::NetrLogonSamLogonExRequest {
            logon_server: Some(DC.into()),
            computer_name: Some(COMPUTER.into()),
            logon_level,
            logon_information,
            validation_level: VClass::NetlogonValidationGenericInfo2,
            extra_flags: 2,
        },
        nl::NetrLogonSamLogonExResponse {
            validation_information: V::ValidationGeneric2(Unique::new(
                nl::NetlogonValidationGenericInfo2 {
                    data_length: answer.len() as u32,
                    validation_data: Unique::new(answer),
                },
            )),
            authoritative: 1,
            extra_flags: 2,
            result: 0,
        },
    ));
    let (logon_level, logon_information) = interactive();
    v.push(call(
        "netlogon_NetrLogonSamLogonEx_interactive_saminfo4",
        nl::NetrLogonSamLogonExRequest {
            logon_server: None,
            computer_name: Some(COMPUTER.into()),
            logon_level,
            logon_information,
            validation_level: VClass::NetlogonValidationSamInfo4,
            extra_flags: 0,
        },
        nl::NetrLogonSamLogonExResponse {
            validation_information: V::ValidationSam4(Unique::new(sam_info4())),
            authoritative: 1,
            extra_flags: 0,
            result: 0,
        },
    ));
    let guid = Uuid::parse_str(DOMAIN_GUID).unwrap();
    v.push(call(
        "netlogon_DsrGetDcNameEx2",
        nl::DsrGetDcNameEx2Request {
            computer_name: Some(DC.into()),
            account_name: Some(ACCOUNT.into()),
            allowable_account_control_bits: 0x80,
            domain_name: Some("msrpc.test".into()),
            domain_guid: Some(guid),
            site_name: None,
            // DS_DIRECTORY_SERVICE_REQUIRED | DS_RETURN_DNS_NAME
            flags: 0x4000_0010,
        },
        nl::DsrGetDcNameEx2Response {
            domain_controller_info: Unique::new(nl::DomainControllerInfow {
                domain_controller_name: Unique::new("\\\\dc1.msrpc.test".into()),
                domain_controller_address: Unique::new("\\\\127.0.10.1".into()),
                domain_controller_address_type: 1,
                domain_guid: guid,
                domain_name: Unique::new("msrpc.test".into()),
                dns_forest_name: Unique::new("msrpc.test".into()),
                flags: 0xe000_f3fd,
                dc_site_name: Unique::new("Default-First-Site-Name".into()),
                client_site_name: Unique::default(),
            }),
            result: 0,
        },
    ));
    v.push(call(
        "netlogon_DsrEnumerateDomainTrusts",
        nl::DsrEnumerateDomainTrustsRequest {
            server_name: Some(DC.into()),
            // DS_DOMAIN_IN_FOREST | DS_DOMAIN_DIRECT_OUTBOUND | DS_DOMAIN_DIRECT_INBOUND
            flags: 0x23,
        },
        nl::DsrEnumerateDomainTrustsResponse {
            domains: nl::NetlogonTrustedDomainArray {
                domain_count: 2,
                domains: Unique::new(vec![
                    nl::DsDomainTrustsw {
                        netbios_domain_name: Unique::new("MSRPC".into()),
                        dns_domain_name: Unique::new("msrpc.test".into()),
                        flags: 0x1d,
                        parent_index: 0,
                        trust_type: 2,
                        trust_attributes: 0,
                        domain_sid: Unique::new(sid(DOMAIN_SID)),
                        domain_guid: guid,
                    },
                    nl::DsDomainTrustsw {
                        netbios_domain_name: Unique::new("OTHER".into()),
                        dns_domain_name: Unique::default(),
                        flags: 0x22,
                        parent_index: 0,
                        trust_type: 1,
                        trust_attributes: 0x4,
                        domain_sid: Unique::new(sid("S-1-5-21-7-8-9")),
                        domain_guid: Uuid::nil(),
                    },
                ]),
            },
            result: 0,
        },
    ));
    v.extend(disagreements());
    v
}

/// Where MS-NRPC and Samba 4.17's IDL disagree on the bytes (MS-NRPC is what we follow): the
/// script's quirks check that Samba still refuses ours, and this side does not read Samba's.
fn disagreements() -> Vec<Case> {
    use nl::NetlogonValidation as V;
    use nl::NetlogonValidationInfoClass as VClass;
    let (logon_level, logon_information) = network();
    vec![
        // MS-NRPC 2.2.1.4.14: NETLOGON_CAPABILITIES level 2 is RequestedFlags (Samba's
        // netr_Capabilities has it since its 4.17 security releases: no disagreement left).
        call(
            "netlogon_NetrLogonGetCapabilities_level2",
            nl::NetrLogonGetCapabilitiesRequest {
                server_name: DC.into(),
                computer_name: Some(COMPUTER.into()),
                authenticator: auth(0x81, 1_796_577_210),
                return_authenticator: auth(0, 0),
                query_level: 2,
            },
            nl::NetrLogonGetCapabilitiesResponse {
                return_authenticator: auth(0x91, 0),
                capabilities: nl::NetlogonCapabilities::RequestedFlags(0x6127_ffff),
                result: 0,
            },
        ),
        // MS-NRPC 2.2.1.4.14: NETLOGON_VALIDATION has no arm for NetlogonValidationGenericInfo
        // (4): the union is empty; Samba's netr_Validation reads a netr_PacInfo pointer there.
        call(
            "netlogon_NetrLogonSamLogon_validation4_empty",
            nl::NetrLogonSamLogonRequest {
                logon_server: Some(DC.into()),
                computer_name: Some(COMPUTER.into()),
                authenticator: Some(auth(0x10, 1_796_577_171)),
                return_authenticator: Some(auth(0, 0)),
                logon_level,
                logon_information,
                validation_level: VClass::NetlogonValidationGenericInfo,
            },
            nl::NetrLogonSamLogonResponse {
                return_authenticator: Some(auth(0x20, 0)),
                validation_information: V::Other(4),
                authoritative: 1,
                result: 0,
            },
        ),
        // MS-NRPC 3.5.4.3.11: DsrDeregisterDnsHostRecords' DnsHostName is [in, unique, string];
        // Samba's netr_DsrDeregisterDNSHostRecords declares dns_host [in, ref].
        call(
            "netlogon_DsrDeregisterDnsHostRecords",
            nl::DsrDeregisterDnsHostRecordsRequest {
                server_name: Some(DC.into()),
                dns_domain_name: Some("msrpc.test".into()),
                domain_guid: Some(Uuid::parse_str(DOMAIN_GUID).unwrap()),
                dsa_guid: None,
                dns_host_name: Some("wks1.msrpc.test".into()),
            },
            nl::DsrDeregisterDnsHostRecordsResponse { result: 0 },
        ),
    ]
}
