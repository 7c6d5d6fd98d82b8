//! The generated stubs of msrpc-windows's svcctl (MS-SCMR), eventlog (MS-EVEN), atsvc and
//! ITaskSchedulerService (MS-TSCH), backupkey (MS-BKRP) and efsrpc (MS-EFSR, whose raw
//! export/import carry NDR pipes), compiled from its own IDL, on
//! arbitrary stubs: every operation's request, and its response decoded against that request.
//!
//! Input: `[iface, opnum, drep, len u16 LE, request (len bytes), response...]`; iface bits 0-2
//! pick the interface (0 svcctl, 1 eventlog, 2 atsvc, 3 backupkey, 4 tsch, 5 efsrpc; others
//! ignored), bit
//! 7 NDR64 (else NDR20); drep: even little-endian, odd big-endian. Requests and responses decode
//! within `msrpc_fuzz::NDR_LIMITS`.
//! Invariants: no panic; a request that decodes re-encodes, and decodes back to itself; a
//! response that decodes against it likewise (the constructs these interfaces add: a string
//! sized by an `[in, out]` count plus one, arrays of unique string pointers, `size_is(, *n)`
//! answers, unions of pointers to structures with conformant members, ranges).
#![no_main]

use libfuzzer_sys::fuzz_target;
use msrpc_fuzz::{hex, NDR_LIMITS};
use msrpc_windows::{atsvc, backupkey, efsrpc, eventlog, svcctl, tsch};

struct Input<'a> {
    iface: u8,
    opnum: u8,
    drep: msrpc_ndr::DataRep,
    syntax: msrpc_ndr::TransferSyntax,
    request: &'a [u8],
    response: &'a [u8],
}

fn parse(data: &[u8]) -> Option<Input<'_>> {
    let (head, rest) = data.split_at_checked(5)?;
    let len = usize::from(u16::from_le_bytes([head[3], head[4]])).min(rest.len());
    let (request, response) = rest.split_at(len);
    Some(Input {
        iface: head[0] & 0x07,
        opnum: head[1],
        drep: if head[2] & 1 == 0 { msrpc_ndr::DataRep::LITTLE_ENDIAN } else { msrpc_ndr::DataRep::BIG_ENDIAN },
        syntax: if head[0] & 0x80 == 0 { msrpc_ndr::TransferSyntax::Ndr20 } else { msrpc_ndr::TransferSyntax::Ndr64 },
        request,
        response,
    })
}

macro_rules! roundtrip {
    ($input:expr, $req:ty, $resp:ty) => {{
        let input: &Input<'_> = $input;
        let (drep, syntax) = (input.drep, input.syntax);
        let Ok(req) = <$req>::from_stub_in(input.request, drep, syntax, NDR_LIMITS) else { return };
        let enc = match req.to_stub_in(drep, syntax) {
            Ok(b) => b,
            Err(e) => panic!("decoded request does not re-encode ({e}): {req:?}"),
        };
        match <$req>::from_stub_in(&enc, drep, syntax, NDR_LIMITS) {
            Ok(back) => assert_eq!(back, req, "request round trip; re-encoded {}", hex(&enc)),
            Err(e) => panic!("re-encoded request does not decode ({e}): {}", hex(&enc)),
        }
        let Ok(resp) = <$resp>::from_stub_in(input.response, drep, syntax, NDR_LIMITS, &req) else { return };
        let enc = match resp.to_stub_in(&req, drep, syntax) {
            Ok(b) => b,
            Err(e) => panic!("decoded response does not re-encode ({e}): {resp:?}\nrequest {req:?}"),
        };
        match <$resp>::from_stub_in(&enc, drep, syntax, NDR_LIMITS, &req) {
            Ok(back) => assert_eq!(back, resp, "response round trip; re-encoded {}", hex(&enc)),
            Err(e) => panic!("re-encoded response does not decode ({e}): {}", hex(&enc)),
        }
    }};
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = parse(data) else {
        return;
    };
    let input = &input;
    match (input.iface, input.opnum) {
        (0, op) => match op {
            0 => roundtrip!(input, svcctl::RCloseServiceHandleRequest, svcctl::RCloseServiceHandleResponse),
            1 => roundtrip!(input, svcctl::RControlServiceRequest, svcctl::RControlServiceResponse),
            2 => roundtrip!(input, svcctl::RDeleteServiceRequest, svcctl::RDeleteServiceResponse),
            3 => roundtrip!(input, svcctl::RLockServiceDatabaseRequest, svcctl::RLockServiceDatabaseResponse),
            4 => roundtrip!(input, svcctl::RQueryServiceObjectSecurityRequest, svcctl::RQueryServiceObjectSecurityResponse),
            5 => roundtrip!(input, svcctl::RSetServiceObjectSecurityRequest, svcctl::RSetServiceObjectSecurityResponse),
            6 => roundtrip!(input, svcctl::RQueryServiceStatusRequest, svcctl::RQueryServiceStatusResponse),
            7 => roundtrip!(input, svcctl::RSetServiceStatusRequest, svcctl::RSetServiceStatusResponse),
            8 => roundtrip!(input, svcctl::RUnlockServiceDatabaseRequest, svcctl::RUnlockServiceDatabaseResponse),
            9 => roundtrip!(input, svcctl::RNotifyBootConfigStatusRequest, svcctl::RNotifyBootConfigStatusResponse),
            10 => roundtrip!(input, svcctl::Opnum10NotUsedOnWireRequest, svcctl::Opnum10NotUsedOnWireResponse),
            11 => roundtrip!(input, svcctl::RChangeServiceConfigWRequest, svcctl::RChangeServiceConfigWResponse),
            12 => roundtrip!(input, svcctl::RCreateServiceWRequest, svcctl::RCreateServiceWResponse),
            13 => roundtrip!(input, svcctl::REnumDependentServicesWRequest, svcctl::REnumDependentServicesWResponse),
            14 => roundtrip!(input, svcctl::REnumServicesStatusWRequest, svcctl::REnumServicesStatusWResponse),
            15 => roundtrip!(input, svcctl::ROpenScManagerWRequest, svcctl::ROpenScManagerWResponse),
            16 => roundtrip!(input, svcctl::ROpenServiceWRequest, svcctl::ROpenServiceWResponse),
            17 => roundtrip!(input, svcctl::RQueryServiceConfigWRequest, svcctl::RQueryServiceConfigWResponse),
            18 => roundtrip!(input, svcctl::RQueryServiceLockStatusWRequest, svcctl::RQueryServiceLockStatusWResponse),
            19 => roundtrip!(input, svcctl::RStartServiceWRequest, svcctl::RStartServiceWResponse),
            20 => roundtrip!(input, svcctl::RGetServiceDisplayNameWRequest, svcctl::RGetServiceDisplayNameWResponse),
            21 => roundtrip!(input, svcctl::RGetServiceKeyNameWRequest, svcctl::RGetServiceKeyNameWResponse),
            22 => roundtrip!(input, svcctl::Opnum22NotUsedOnWireRequest, svcctl::Opnum22NotUsedOnWireResponse),
            23 => roundtrip!(input, svcctl::RChangeServiceConfigARequest, svcctl::RChangeServiceConfigAResponse),
            24 => roundtrip!(input, svcctl::RCreateServiceARequest, svcctl::RCreateServiceAResponse),
            25 => roundtrip!(input, svcctl::REnumDependentServicesARequest, svcctl::REnumDependentServicesAResponse),
            26 => roundtrip!(input, svcctl::REnumServicesStatusARequest, svcctl::REnumServicesStatusAResponse),
            27 => roundtrip!(input, svcctl::ROpenScManagerARequest, svcctl::ROpenScManagerAResponse),
            28 => roundtrip!(input, svcctl::ROpenServiceARequest, svcctl::ROpenServiceAResponse),
            29 => roundtrip!(input, svcctl::RQueryServiceConfigARequest, svcctl::RQueryServiceConfigAResponse),
            30 => roundtrip!(input, svcctl::RQueryServiceLockStatusARequest, svcctl::RQueryServiceLockStatusAResponse),
            31 => roundtrip!(input, svcctl::RStartServiceARequest, svcctl::RStartServiceAResponse),
            32 => roundtrip!(input, svcctl::RGetServiceDisplayNameARequest, svcctl::RGetServiceDisplayNameAResponse),
            33 => roundtrip!(input, svcctl::RGetServiceKeyNameARequest, svcctl::RGetServiceKeyNameAResponse),
            34 => roundtrip!(input, svcctl::Opnum34NotUsedOnWireRequest, svcctl::Opnum34NotUsedOnWireResponse),
            35 => roundtrip!(input, svcctl::REnumServiceGroupWRequest, svcctl::REnumServiceGroupWResponse),
            36 => roundtrip!(input, svcctl::RChangeServiceConfig2ARequest, svcctl::RChangeServiceConfig2AResponse),
            37 => roundtrip!(input, svcctl::RChangeServiceConfig2WRequest, svcctl::RChangeServiceConfig2WResponse),
            38 => roundtrip!(input, svcctl::RQueryServiceConfig2ARequest, svcctl::RQueryServiceConfig2AResponse),
            39 => roundtrip!(input, svcctl::RQueryServiceConfig2WRequest, svcctl::RQueryServiceConfig2WResponse),
            40 => roundtrip!(input, svcctl::RQueryServiceStatusExRequest, svcctl::RQueryServiceStatusExResponse),
            _ => {}
        },
        (1, op) => match op {
            0 => roundtrip!(input, eventlog::ElfrClearElfwRequest, eventlog::ElfrClearElfwResponse),
            1 => roundtrip!(input, eventlog::ElfrBackupElfwRequest, eventlog::ElfrBackupElfwResponse),
            2 => roundtrip!(input, eventlog::ElfrCloseElRequest, eventlog::ElfrCloseElResponse),
            3 => roundtrip!(input, eventlog::ElfrDeregisterEventSourceRequest, eventlog::ElfrDeregisterEventSourceResponse),
            4 => roundtrip!(input, eventlog::ElfrNumberOfRecordsRequest, eventlog::ElfrNumberOfRecordsResponse),
            5 => roundtrip!(input, eventlog::ElfrOldestRecordRequest, eventlog::ElfrOldestRecordResponse),
            6 => roundtrip!(input, eventlog::ElfrChangeNotifyRequest, eventlog::ElfrChangeNotifyResponse),
            7 => roundtrip!(input, eventlog::ElfrOpenElwRequest, eventlog::ElfrOpenElwResponse),
            8 => roundtrip!(input, eventlog::ElfrRegisterEventSourceWRequest, eventlog::ElfrRegisterEventSourceWResponse),
            9 => roundtrip!(input, eventlog::ElfrOpenBelwRequest, eventlog::ElfrOpenBelwResponse),
            10 => roundtrip!(input, eventlog::ElfrReadElwRequest, eventlog::ElfrReadElwResponse),
            11 => roundtrip!(input, eventlog::ElfrReportEventWRequest, eventlog::ElfrReportEventWResponse),
            12 => roundtrip!(input, eventlog::ElfrClearElfaRequest, eventlog::ElfrClearElfaResponse),
            13 => roundtrip!(input, eventlog::ElfrBackupElfaRequest, eventlog::ElfrBackupElfaResponse),
            14 => roundtrip!(input, eventlog::ElfrOpenElaRequest, eventlog::ElfrOpenElaResponse),
            15 => roundtrip!(input, eventlog::ElfrRegisterEventSourceARequest, eventlog::ElfrRegisterEventSourceAResponse),
            16 => roundtrip!(input, eventlog::ElfrOpenBelaRequest, eventlog::ElfrOpenBelaResponse),
            17 => roundtrip!(input, eventlog::ElfrReadElaRequest, eventlog::ElfrReadElaResponse),
            18 => roundtrip!(input, eventlog::ElfrReportEventARequest, eventlog::ElfrReportEventAResponse),
            19 => roundtrip!(input, eventlog::Opnum19NotUsedOnWireRequest, eventlog::Opnum19NotUsedOnWireResponse),
            20 => roundtrip!(input, eventlog::Opnum20NotUsedOnWireRequest, eventlog::Opnum20NotUsedOnWireResponse),
            21 => roundtrip!(input, eventlog::Opnum21NotUsedOnWireRequest, eventlog::Opnum21NotUsedOnWireResponse),
            22 => roundtrip!(input, eventlog::ElfrGetLogInformationRequest, eventlog::ElfrGetLogInformationResponse),
            23 => roundtrip!(input, eventlog::Opnum23NotUsedOnWireRequest, eventlog::Opnum23NotUsedOnWireResponse),
            24 => roundtrip!(input, eventlog::ElfrReportEventAndSourceWRequest, eventlog::ElfrReportEventAndSourceWResponse),
            _ => {}
        },
        (2, op) => match op {
            0 => roundtrip!(input, atsvc::NetrJobAddRequest, atsvc::NetrJobAddResponse),
            1 => roundtrip!(input, atsvc::NetrJobDelRequest, atsvc::NetrJobDelResponse),
            2 => roundtrip!(input, atsvc::NetrJobEnumRequest, atsvc::NetrJobEnumResponse),
            3 => roundtrip!(input, atsvc::NetrJobGetInfoRequest, atsvc::NetrJobGetInfoResponse),
            _ => {}
        },
        (3, op) => match op {
            0 => roundtrip!(input, backupkey::BackuprKeyRequest, backupkey::BackuprKeyResponse),
            _ => {}
        },
        (4, op) => match op {
            0 => roundtrip!(input, tsch::SchRpcHighestVersionRequest, tsch::SchRpcHighestVersionResponse),
            1 => roundtrip!(input, tsch::SchRpcRegisterTaskRequest, tsch::SchRpcRegisterTaskResponse),
            2 => roundtrip!(input, tsch::SchRpcRetrieveTaskRequest, tsch::SchRpcRetrieveTaskResponse),
            3 => roundtrip!(input, tsch::SchRpcCreateFolderRequest, tsch::SchRpcCreateFolderResponse),
            4 => roundtrip!(input, tsch::SchRpcSetSecurityRequest, tsch::SchRpcSetSecurityResponse),
            5 => roundtrip!(input, tsch::SchRpcGetSecurityRequest, tsch::SchRpcGetSecurityResponse),
            6 => roundtrip!(input, tsch::SchRpcEnumFoldersRequest, tsch::SchRpcEnumFoldersResponse),
            7 => roundtrip!(input, tsch::SchRpcEnumTasksRequest, tsch::SchRpcEnumTasksResponse),
            8 => roundtrip!(input, tsch::SchRpcEnumInstancesRequest, tsch::SchRpcEnumInstancesResponse),
            9 => roundtrip!(input, tsch::SchRpcGetInstanceInfoRequest, tsch::SchRpcGetInstanceInfoResponse),
            10 => roundtrip!(input, tsch::SchRpcStopInstanceRequest, tsch::SchRpcStopInstanceResponse),
            11 => roundtrip!(input, tsch::SchRpcStopRequest, tsch::SchRpcStopResponse),
            12 => roundtrip!(input, tsch::SchRpcRunRequest, tsch::SchRpcRunResponse),
            13 => roundtrip!(input, tsch::SchRpcDeleteRequest, tsch::SchRpcDeleteResponse),
            14 => roundtrip!(input, tsch::SchRpcRenameRequest, tsch::SchRpcRenameResponse),
            15 => roundtrip!(input, tsch::SchRpcScheduledRuntimesRequest, tsch::SchRpcScheduledRuntimesResponse),
            16 => roundtrip!(input, tsch::SchRpcGetLastRunInfoRequest, tsch::SchRpcGetLastRunInfoResponse),
            17 => roundtrip!(input, tsch::SchRpcGetTaskInfoRequest, tsch::SchRpcGetTaskInfoResponse),
            18 => roundtrip!(input, tsch::SchRpcGetNumberOfMissedRunsRequest, tsch::SchRpcGetNumberOfMissedRunsResponse),
            19 => roundtrip!(input, tsch::SchRpcEnableTaskRequest, tsch::SchRpcEnableTaskResponse),
            _ => {}
        },
        (5, op) => match op {
            0 => roundtrip!(input, efsrpc::EfsRpcOpenFileRawRequest, efsrpc::EfsRpcOpenFileRawResponse),
            1 => roundtrip!(input, efsrpc::EfsRpcReadFileRawRequest, efsrpc::EfsRpcReadFileRawResponse),
            2 => roundtrip!(input, efsrpc::EfsRpcWriteFileRawRequest, efsrpc::EfsRpcWriteFileRawResponse),
            3 => roundtrip!(input, efsrpc::EfsRpcCloseRawRequest, efsrpc::EfsRpcCloseRawResponse),
            4 => roundtrip!(input, efsrpc::EfsRpcEncryptFileSrvRequest, efsrpc::EfsRpcEncryptFileSrvResponse),
            5 => roundtrip!(input, efsrpc::EfsRpcDecryptFileSrvRequest, efsrpc::EfsRpcDecryptFileSrvResponse),
            6 => roundtrip!(input, efsrpc::EfsRpcQueryUsersOnFileRequest, efsrpc::EfsRpcQueryUsersOnFileResponse),
            7 => roundtrip!(input, efsrpc::EfsRpcQueryRecoveryAgentsRequest, efsrpc::EfsRpcQueryRecoveryAgentsResponse),
            8 => roundtrip!(input, efsrpc::EfsRpcRemoveUsersFromFileRequest, efsrpc::EfsRpcRemoveUsersFromFileResponse),
            9 => roundtrip!(input, efsrpc::EfsRpcAddUsersToFileRequest, efsrpc::EfsRpcAddUsersToFileResponse),
            10 => roundtrip!(input, efsrpc::Opnum10NotUsedOnWireRequest, efsrpc::Opnum10NotUsedOnWireResponse),
            11 => roundtrip!(input, efsrpc::EfsRpcNotSupportedRequest, efsrpc::EfsRpcNotSupportedResponse),
            12 => roundtrip!(input, efsrpc::EfsRpcFileKeyInfoRequest, efsrpc::EfsRpcFileKeyInfoResponse),
            13 => roundtrip!(input, efsrpc::EfsRpcDuplicateEncryptionInfoFileRequest, efsrpc::EfsRpcDuplicateEncryptionInfoFileResponse),
            14 => roundtrip!(input, efsrpc::Opnum14NotUsedOnWireRequest, efsrpc::Opnum14NotUsedOnWireResponse),
            15 => roundtrip!(input, efsrpc::EfsRpcAddUsersToFileExRequest, efsrpc::EfsRpcAddUsersToFileExResponse),
            16 => roundtrip!(input, efsrpc::EfsRpcFileKeyInfoExRequest, efsrpc::EfsRpcFileKeyInfoExResponse),
            17 => roundtrip!(input, efsrpc::Opnum17NotUsedOnWireRequest, efsrpc::Opnum17NotUsedOnWireResponse),
            18 => roundtrip!(input, efsrpc::EfsRpcGetEncryptedFileMetadataRequest, efsrpc::EfsRpcGetEncryptedFileMetadataResponse),
            19 => roundtrip!(input, efsrpc::EfsRpcSetEncryptedFileMetadataRequest, efsrpc::EfsRpcSetEncryptedFileMetadataResponse),
            20 => roundtrip!(input, efsrpc::EfsRpcFlushEfsCacheRequest, efsrpc::EfsRpcFlushEfsCacheResponse),
            21 => roundtrip!(input, efsrpc::EfsRpcEncryptFileExSrvRequest, efsrpc::EfsRpcEncryptFileExSrvResponse),
            22 => roundtrip!(input, efsrpc::EfsRpcQueryProtectorsRequest, efsrpc::EfsRpcQueryProtectorsResponse),
            _ => {}
        },
        _ => {}
    }
});
