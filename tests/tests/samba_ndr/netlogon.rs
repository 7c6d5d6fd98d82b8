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

use super::netlogon_values::*;
use super::{call, Case};

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
        // MS-NRPC 2.2.1.4.13: SAM_INFO4 ends with ten RPC_UNICODE_STRINGs; Samba's
        // netr_SamInfo6 has `uint32 unknown4[20]` there, the same bytes only while every
        // string is empty: a non-empty one's characters are deferred, and Samba leaves them.
        call(
            "netlogon_NetrLogonSamLogonEx_saminfo4_expansion_string",
            nl::NetrLogonSamLogonExRequest {
                logon_server: None,
                computer_name: Some(COMPUTER.into()),
                logon_level: interactive().0,
                logon_information: interactive().1,
                validation_level: VClass::NetlogonValidationSamInfo4,
                extra_flags: 0,
            },
            nl::NetrLogonSamLogonExResponse {
                validation_information: V::ValidationSam4(Unique::new(
                    nl::NetlogonValidationSamInfo4 {
                        expansion_string1: ustr("expansion", false),
                        ..sam_info4()
                    },
                )),
                authoritative: 1,
                extra_flags: 0,
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
