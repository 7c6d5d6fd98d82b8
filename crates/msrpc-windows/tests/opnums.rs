//! Every operation the crate's tests call has the opnum the specifications give it (msrpc-idl
//! numbers operations in declaration order, so a missing or extra declaration before one
//! would shift it), and each interface has the UUID and version the specifications give.
//! The numbers are from the operation tables of MS-SRVS 3.1.4, MS-WKST 3.2.4, MS-SAMR 3.1.5,
//! MS-LSAD 3.1.4 and MS-LSAT 3.1.4, MS-DSSP 3.2.5, MS-DFSNM 3.1.4, MS-RRP 3.1.5, MS-DRSR 4.1 and
//! MS-NRPC 3.5.4.

use msrpc_proto::dispatch::Interface;
use msrpc_windows::{drsuapi, dssetup, lsarpc, netdfs, netlogon, samr, srvsvc, winreg, wkssvc};

#[test]
fn opnums_match_the_specifications() {
    let table: &[(&str, u16, u16)] = &[
        ("NetrShareEnum", srvsvc::NetrShareEnumRequest::OPNUM, 15),
        (
            "NetrShareGetInfo",
            srvsvc::NetrShareGetInfoRequest::OPNUM,
            16,
        ),
        (
            "NetrServerGetInfo",
            srvsvc::NetrServerGetInfoRequest::OPNUM,
            21,
        ),
        ("NetrRemoteTOD", srvsvc::NetrRemoteTodRequest::OPNUM, 28),
        (
            "NetrWkstaGetInfo",
            wkssvc::NetrWkstaGetInfoRequest::OPNUM,
            0,
        ),
        ("SamrConnect", samr::SamrConnectRequest::OPNUM, 0),
        ("SamrCloseHandle", samr::SamrCloseHandleRequest::OPNUM, 1),
        (
            "SamrLookupDomainInSamServer",
            samr::SamrLookupDomainInSamServerRequest::OPNUM,
            5,
        ),
        (
            "SamrEnumerateDomainsInSamServer",
            samr::SamrEnumerateDomainsInSamServerRequest::OPNUM,
            6,
        ),
        ("SamrOpenDomain", samr::SamrOpenDomainRequest::OPNUM, 7),
        (
            "SamrQueryInformationDomain",
            samr::SamrQueryInformationDomainRequest::OPNUM,
            8,
        ),
        (
            "SamrEnumerateUsersInDomain",
            samr::SamrEnumerateUsersInDomainRequest::OPNUM,
            13,
        ),
        ("SamrOpenUser", samr::SamrOpenUserRequest::OPNUM, 34),
        (
            "SamrQueryInformationUser",
            samr::SamrQueryInformationUserRequest::OPNUM,
            36,
        ),
        (
            "SamrGetUserDomainPasswordInformation",
            samr::SamrGetUserDomainPasswordInformationRequest::OPNUM,
            44,
        ),
        (
            "SamrCreateUser2InDomain",
            samr::SamrCreateUser2InDomainRequest::OPNUM,
            50,
        ),
        (
            "SamrUnicodeChangePasswordUser2",
            samr::SamrUnicodeChangePasswordUser2Request::OPNUM,
            55,
        ),
        (
            "SamrGetDomainPasswordInformation",
            samr::SamrGetDomainPasswordInformationRequest::OPNUM,
            56,
        ),
        ("SamrConnect2", samr::SamrConnect2Request::OPNUM, 57),
        (
            "SamrSetInformationUser2",
            samr::SamrSetInformationUser2Request::OPNUM,
            58,
        ),
        ("SamrConnect4", samr::SamrConnect4Request::OPNUM, 62),
        ("SamrConnect5", samr::SamrConnect5Request::OPNUM, 64),
        ("LsarClose", lsarpc::LsarCloseRequest::OPNUM, 0),
        ("LsarOpenPolicy", lsarpc::LsarOpenPolicyRequest::OPNUM, 6),
        (
            "LsarQueryInformationPolicy",
            lsarpc::LsarQueryInformationPolicyRequest::OPNUM,
            7,
        ),
        (
            "LsarEnumerateTrustedDomains",
            lsarpc::LsarEnumerateTrustedDomainsRequest::OPNUM,
            13,
        ),
        ("LsarLookupNames", lsarpc::LsarLookupNamesRequest::OPNUM, 14),
        ("LsarLookupSids", lsarpc::LsarLookupSidsRequest::OPNUM, 15),
        (
            "DsRolerGetPrimaryDomainInformation",
            dssetup::DsRolerGetPrimaryDomainInformationRequest::OPNUM,
            0,
        ),
        (
            "NetrDfsManagerGetVersion",
            netdfs::NetrDfsManagerGetVersionRequest::OPNUM,
            0,
        ),
        (
            "OpenLocalMachine",
            winreg::OpenLocalMachineRequest::OPNUM,
            2,
        ),
        ("OpenUsers", winreg::OpenUsersRequest::OPNUM, 4),
        ("BaseRegCloseKey", winreg::BaseRegCloseKeyRequest::OPNUM, 5),
        ("BaseRegEnumKey", winreg::BaseRegEnumKeyRequest::OPNUM, 9),
        (
            "BaseRegEnumValue",
            winreg::BaseRegEnumValueRequest::OPNUM,
            10,
        ),
        ("BaseRegOpenKey", winreg::BaseRegOpenKeyRequest::OPNUM, 15),
        (
            "BaseRegQueryInfoKey",
            winreg::BaseRegQueryInfoKeyRequest::OPNUM,
            16,
        ),
        (
            "BaseRegQueryValue",
            winreg::BaseRegQueryValueRequest::OPNUM,
            17,
        ),
        ("BaseRegSetValue", winreg::BaseRegSetValueRequest::OPNUM, 22),
        (
            "BaseRegGetVersion",
            winreg::BaseRegGetVersionRequest::OPNUM,
            26,
        ),
        (
            "OpenCurrentConfig",
            winreg::OpenCurrentConfigRequest::OPNUM,
            27,
        ),
        (
            "BaseRegQueryMultipleValues",
            winreg::BaseRegQueryMultipleValuesRequest::OPNUM,
            29,
        ),
        (
            "BaseRegQueryMultipleValues2",
            winreg::BaseRegQueryMultipleValues2Request::OPNUM,
            34,
        ),
        (
            "BaseRegDeleteKeyEx",
            winreg::BaseRegDeleteKeyExRequest::OPNUM,
            35,
        ),
        (
            "NetrLogonSamLogon",
            netlogon::NetrLogonSamLogonRequest::OPNUM,
            2,
        ),
        (
            "NetrServerReqChallenge",
            netlogon::NetrServerReqChallengeRequest::OPNUM,
            4,
        ),
        (
            "NetrServerAuthenticate2",
            netlogon::NetrServerAuthenticate2Request::OPNUM,
            15,
        ),
        ("DsrGetDcName", netlogon::DsrGetDcNameRequest::OPNUM, 20),
        (
            "NetrLogonGetCapabilities",
            netlogon::NetrLogonGetCapabilitiesRequest::OPNUM,
            21,
        ),
        (
            "NetrServerAuthenticate3",
            netlogon::NetrServerAuthenticate3Request::OPNUM,
            26,
        ),
        (
            "NetrServerPasswordSet2",
            netlogon::NetrServerPasswordSet2Request::OPNUM,
            30,
        ),
        (
            "DsrGetDcNameEx2",
            netlogon::DsrGetDcNameEx2Request::OPNUM,
            34,
        ),
        (
            "NetrLogonSamLogonEx",
            netlogon::NetrLogonSamLogonExRequest::OPNUM,
            39,
        ),
        (
            "DsrEnumerateDomainTrusts",
            netlogon::DsrEnumerateDomainTrustsRequest::OPNUM,
            40,
        ),
        (
            "NetrLogonSamLogonWithFlags",
            netlogon::NetrLogonSamLogonWithFlagsRequest::OPNUM,
            45,
        ),
        (
            "NetrServerGetTrustInfo",
            netlogon::NetrServerGetTrustInfoRequest::OPNUM,
            46,
        ),
        (
            "DsrUpdateReadOnlyServerDnsRecords",
            netlogon::DsrUpdateReadOnlyServerDnsRecordsRequest::OPNUM,
            48,
        ),
        (
            "NetrChainSetClientAttributes",
            netlogon::NetrChainSetClientAttributesRequest::OPNUM,
            49,
        ),
        (
            "NetrServerAuthenticateKerberos",
            netlogon::NetrServerAuthenticateKerberosRequest::OPNUM,
            59,
        ),
        ("IDL_DRSBind", drsuapi::IdlDrsBindRequest::OPNUM, 0),
        ("IDL_DRSUnbind", drsuapi::IdlDrsUnbindRequest::OPNUM, 1),
    ];
    for &(name, ours, spec) in table {
        assert_eq!(
            ours, spec,
            "{name}: opnum {ours}, the specification says {spec}"
        );
    }
    // Every declared opnum is named, with no gap (the tables end at the last operation declared).
    for (iface, ops, last) in [
        ("srvsvc", srvsvc::SrvsvcInterface::OPERATIONS, 28),
        ("wkssvc", wkssvc::WkssvcInterface::OPERATIONS, 0),
        ("samr", samr::SamrInterface::OPERATIONS, 64),
        ("lsarpc", lsarpc::LsarpcInterface::OPERATIONS, 15),
        ("dssetup", dssetup::DssetupInterface::OPERATIONS, 0),
        ("netdfs", netdfs::NetdfsInterface::OPERATIONS, 0),
        ("winreg", winreg::WinregInterface::OPERATIONS, 35),
        ("drsuapi", drsuapi::DrsuapiInterface::OPERATIONS, 1),
        ("netlogon", netlogon::LogonInterface::OPERATIONS, 59),
    ] {
        assert_eq!(ops.len(), last + 1, "{iface}: {ops:?}");
        assert!(ops.iter().all(Option::is_some), "{iface}: a gap in {ops:?}");
    }
}

#[test]
fn interface_identities_match_the_specifications() {
    let table = [
        (
            srvsvc::SrvsvcInterface::SYNTAX,
            "4b324fc8-1670-01d3-1278-5a47bf6ee188",
            3,
            0,
        ),
        (
            wkssvc::WkssvcInterface::SYNTAX,
            "6bffd098-a112-3610-9833-46c3f87e345a",
            1,
            0,
        ),
        (
            samr::SamrInterface::SYNTAX,
            "12345778-1234-abcd-ef00-0123456789ac",
            1,
            0,
        ),
        (
            lsarpc::LsarpcInterface::SYNTAX,
            "12345778-1234-abcd-ef00-0123456789ab",
            0,
            0,
        ),
        (
            dssetup::DssetupInterface::SYNTAX,
            "3919286a-b10c-11d0-9ba8-00c04fd92ef5",
            0,
            0,
        ),
        (
            netdfs::NetdfsInterface::SYNTAX,
            "4fc742e0-4a10-11cf-8273-00aa004ae673",
            3,
            0,
        ),
        (
            winreg::WinregInterface::SYNTAX,
            "338cd001-2244-31f1-aaaa-900038001003",
            1,
            0,
        ),
        (
            netlogon::LogonInterface::SYNTAX,
            "12345678-1234-abcd-ef00-01234567cffb",
            1,
            0,
        ),
    ];
    for (syntax, uuid, major, minor) in table {
        assert_eq!(syntax.uuid.to_string(), uuid);
        assert_eq!((syntax.major, syntax.minor), (major, minor), "{uuid}");
    }
}
