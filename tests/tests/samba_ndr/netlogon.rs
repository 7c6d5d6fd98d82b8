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
        {
            let (q, r) = req_challenge();
            call("netlogon_NetrServerReqChallenge", q, r)
        },
        {
            let (q, r) = authenticate3();
            call("netlogon_NetrServerAuthenticate3", q, r)
        },
        {
            let (q, r) = password_set2();
            call("netlogon_NetrServerPasswordSet2", q, r)
        },
        {
            let (q, r) = get_capabilities(1);
            call("netlogon_NetrLogonGetCapabilities_level1", q, r)
        },
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
    v.push({
        let (q, r) = dc_name_ex2();
        call("netlogon_DsrGetDcNameEx2", q, r)
    });
    v.push({
        let (q, r) = enumerate_trusts();
        call("netlogon_DsrEnumerateDomainTrusts", q, r)
    });
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
        {
            let (q, r) = get_capabilities(2);
            call("netlogon_NetrLogonGetCapabilities_level2", q, r)
        },
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
