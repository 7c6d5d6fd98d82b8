//! The generated svcctl, eventlog, atsvc, backupkey and ITaskSchedulerService (tsch) server
//! traits, implemented and hosted on `msrpc-rt` (127.0.11.2:135, beside an endpoint mapper
//! listing them), called by our generated clients (NDR64, which our server prefers; atsvc in
//! NDR20 and NDR64), by Samba's clients in NDR20: rpcclient's
//! `eventlog_numrecord`, `eventlog_oldestrecord` and `eventlog_readlog` (which decodes the
//! EVENTLOGRECORDs our server returns and prints them with `-d 10`), python3-samba's svcctl and
//! atsvc classes (tests/interop/samba_services_client.py), and by Impacket's clients of all five
//! (tests/interop/impacket_services.py: scmr, even, atsvc, bkrp, tsch; Impacket's NDR is a third
//! engine, and the only peer here for backupkey and tsch, which Samba does not have), once in
//! NDR20 and once binding NDR64 only (atsvc aside). Every
//! value they print must be the service's. Also holds the opnums and identities of the five
//! interfaces to the specifications' tables.
//!
//! Needs rpcclient (Debian package smbclient), python3-samba and the Impacket venv
//! (target/venv); fails loudly when they are missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use msrpc_ndr::{ContextHandle, TransferSyntax, Unique, Uuid};
use msrpc_proto::dispatch::{CallContext, Interface, Invoke, RpcFault};
use msrpc_proto::pdu::FaultStatus;
use msrpc_rt::{Binding, Client, ClientOptions, Server};
use msrpc_windows::{atsvc, backupkey, eventlog, svcctl, tsch};

const ADDR: &str = "127.0.11.2";
const ERROR_INSUFFICIENT_BUFFER: u32 = 122;
const ERROR_MORE_DATA: u32 = 234;
const ERROR_SERVICE_DOES_NOT_EXIST: u32 = 1060;
const ERROR_SERVICE_NOT_ACTIVE: u32 = 1062;
const STATUS_BUFFER_TOO_SMALL: i32 = 0xC000_0023_u32 as i32;
const STATUS_END_OF_FILE: i32 = 0xC000_0011_u32 as i32;
const STATUS_OBJECT_NAME_NOT_FOUND: i32 = 0xC000_0034_u32 as i32;

/// Operations a test service does not serve: the fault a server without them would send.
macro_rules! unserved {
    ($($m:ident: $q:ty => $r:ty,)*) => {$(
        async fn $m(&self, _: &CallContext, _: $q) -> Result<$r, RpcFault> {
            Err(RpcFault(FaultStatus::NCA_S_OP_RNG_ERROR))
        }
    )*};
}

// ---------------------------------------------------------------------------------------------
// svcctl
// ---------------------------------------------------------------------------------------------

/// (name, display name, state, controls accepted, binary path).
const SERVICES: [(&str, &str, u32, u32, &str); 2] = [
    (
        "Spooler",
        "Print Spooler",
        4,
        1,
        "C:\\Windows\\System32\\spoolsv.exe",
    ),
    (
        "msrpctest",
        "msrpc test service",
        1,
        0,
        "C:\\msrpc\\svc.exe",
    ),
];

fn scm_handle() -> ContextHandle {
    ContextHandle {
        attributes: 0,
        uuid: Uuid::from_u128(0x5c0),
    }
}

fn service_handle(i: usize) -> ContextHandle {
    ContextHandle {
        attributes: 0,
        uuid: Uuid::from_u128(0x5c1 + i as u128),
    }
}

fn service_of(h: &ContextHandle) -> Option<usize> {
    (0..SERVICES.len()).find(|&i| service_handle(i) == *h)
}

fn status_of(i: usize) -> svcctl::ServiceStatus {
    let (_, _, state, accepted, _) = SERVICES[i];
    svcctl::ServiceStatus {
        dw_service_type: 0x10,
        dw_current_state: state,
        dw_controls_accepted: accepted,
        ..Default::default()
    }
}

fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain([0])
        .flat_map(|u| u.to_le_bytes())
        .collect()
}

/// The REnumServicesStatusW buffer of every service (MS-SCMR 2.2.11: the entries, then their
/// strings, named by offsets from the buffer's start).
fn enum_buffer() -> Vec<u8> {
    let mut strings = Vec::new();
    let mut entries = Vec::new();
    let base = 36 * SERVICES.len();
    for (i, (name, display, ..)) in SERVICES.iter().enumerate() {
        let name_at = base + strings.len();
        strings.extend(utf16z(name));
        let display_at = base + strings.len();
        strings.extend(utf16z(display));
        entries.extend((name_at as u32).to_le_bytes());
        entries.extend((display_at as u32).to_le_bytes());
        let s = status_of(i);
        for v in [
            s.dw_service_type,
            s.dw_current_state,
            s.dw_controls_accepted,
            s.dw_win32_exit_code,
            s.dw_service_specific_exit_code,
            s.dw_check_point,
            s.dw_wait_hint,
        ] {
            entries.extend(v.to_le_bytes());
        }
    }
    entries.extend(strings);
    entries
}

fn config_of(i: usize) -> svcctl::QueryServiceConfigw {
    let (_, display, _, _, path) = SERVICES[i];
    svcctl::QueryServiceConfigw {
        dw_service_type: 0x10,
        dw_start_type: 3,
        dw_error_control: 1,
        lp_binary_path_name: Unique::new(path.into()),
        lp_load_order_group: Unique::new(String::new()),
        dw_tag_id: 0,
        lp_dependencies: Unique::new(String::new()),
        lp_service_start_name: Unique::new("LocalSystem".into()),
        lp_display_name: Unique::new(display.into()),
    }
}

/// What RQueryServiceConfigW says it needs: the structure and its strings.
fn config_size(i: usize) -> u32 {
    let (_, display, _, _, path) = SERVICES[i];
    let strings: usize = [path, "", "", "LocalSystem", display]
        .iter()
        .map(|s| utf16z(s).len())
        .sum();
    u32::try_from(36 + strings).unwrap()
}

struct Scm;

impl svcctl::Svcctl for Scm {
    async fn r_open_sc_manager_w(
        &self,
        _: &CallContext,
        _: svcctl::ROpenScManagerWRequest,
    ) -> Result<svcctl::ROpenScManagerWResponse, RpcFault> {
        Ok(svcctl::ROpenScManagerWResponse {
            lp_sc_handle: scm_handle(),
            result: 0,
        })
    }

    async fn r_enum_services_status_w(
        &self,
        _: &CallContext,
        req: svcctl::REnumServicesStatusWRequest,
    ) -> Result<svcctl::REnumServicesStatusWResponse, RpcFault> {
        let all = enum_buffer();
        let needed = u32::try_from(all.len()).unwrap();
        let mut buf = vec![0u8; req.cb_buf_size as usize];
        let (returned, result) = if req.cb_buf_size < needed {
            (0, ERROR_MORE_DATA)
        } else {
            buf[..all.len()].copy_from_slice(&all);
            (SERVICES.len() as u32, 0)
        };
        Ok(svcctl::REnumServicesStatusWResponse {
            lp_buffer: buf,
            pcb_bytes_needed: needed,
            lp_services_returned: returned,
            lp_resume_index: req.lp_resume_index.map(|_| 0),
            result,
        })
    }

    async fn r_open_service_w(
        &self,
        _: &CallContext,
        req: svcctl::ROpenServiceWRequest,
    ) -> Result<svcctl::ROpenServiceWResponse, RpcFault> {
        Ok(
            match SERVICES.iter().position(|s| s.0 == req.lp_service_name) {
                Some(i) => svcctl::ROpenServiceWResponse {
                    lp_service_handle: service_handle(i),
                    result: 0,
                },
                None => svcctl::ROpenServiceWResponse {
                    lp_service_handle: ContextHandle::NULL,
                    result: ERROR_SERVICE_DOES_NOT_EXIST,
                },
            },
        )
    }

    async fn r_query_service_status(
        &self,
        _: &CallContext,
        req: svcctl::RQueryServiceStatusRequest,
    ) -> Result<svcctl::RQueryServiceStatusResponse, RpcFault> {
        let i = service_of(&req.h_service)
            .ok_or(RpcFault(FaultStatus::NCA_S_FAULT_CONTEXT_MISMATCH))?;
        Ok(svcctl::RQueryServiceStatusResponse {
            lp_service_status: status_of(i),
            result: 0,
        })
    }

    async fn r_control_service(
        &self,
        _: &CallContext,
        req: svcctl::RControlServiceRequest,
    ) -> Result<svcctl::RControlServiceResponse, RpcFault> {
        let i = service_of(&req.h_service)
            .ok_or(RpcFault(FaultStatus::NCA_S_FAULT_CONTEXT_MISMATCH))?;
        let mut status = status_of(i);
        // SERVICE_CONTROL_STOP of a running service: stop pending.
        let result = if status.dw_current_state == 4 && req.dw_control == 1 {
            status.dw_current_state = 3;
            0
        } else {
            ERROR_SERVICE_NOT_ACTIVE
        };
        Ok(svcctl::RControlServiceResponse {
            lp_service_status: status,
            result,
        })
    }

    async fn r_query_service_config_w(
        &self,
        _: &CallContext,
        req: svcctl::RQueryServiceConfigWRequest,
    ) -> Result<svcctl::RQueryServiceConfigWResponse, RpcFault> {
        let i = service_of(&req.h_service)
            .ok_or(RpcFault(FaultStatus::NCA_S_FAULT_CONTEXT_MISMATCH))?;
        let needed = config_size(i);
        Ok(if req.cb_buf_size < needed {
            svcctl::RQueryServiceConfigWResponse {
                lp_service_config: Default::default(),
                pcb_bytes_needed: needed,
                result: ERROR_INSUFFICIENT_BUFFER,
            }
        } else {
            svcctl::RQueryServiceConfigWResponse {
                lp_service_config: config_of(i),
                pcb_bytes_needed: needed,
                result: 0,
            }
        })
    }

    async fn r_get_service_display_name_w(
        &self,
        _: &CallContext,
        req: svcctl::RGetServiceDisplayNameWRequest,
    ) -> Result<svcctl::RGetServiceDisplayNameWResponse, RpcFault> {
        let Some(s) = SERVICES.iter().find(|s| s.0 == req.lp_service_name) else {
            return Ok(svcctl::RGetServiceDisplayNameWResponse {
                lp_display_name: String::new(),
                lpcch_buffer: 0,
                result: ERROR_SERVICE_DOES_NOT_EXIST,
            });
        };
        let chars = s.1.encode_utf16().count() as u32;
        // Too small a buffer: the count needed (not including the terminator), no name.
        Ok(svcctl::RGetServiceDisplayNameWResponse {
            lp_display_name: if req.lpcch_buffer > chars {
                s.1.into()
            } else {
                String::new()
            },
            lpcch_buffer: chars,
            result: if req.lpcch_buffer > chars {
                0
            } else {
                ERROR_INSUFFICIENT_BUFFER
            },
        })
    }

    async fn r_get_service_key_name_w(
        &self,
        _: &CallContext,
        req: svcctl::RGetServiceKeyNameWRequest,
    ) -> Result<svcctl::RGetServiceKeyNameWResponse, RpcFault> {
        let s = SERVICES.iter().find(|s| s.1 == req.lp_display_name);
        Ok(svcctl::RGetServiceKeyNameWResponse {
            lp_service_name: s.map(|s| s.0.to_string()).unwrap_or_default(),
            lpcch_buffer: s.map_or(0, |s| s.0.encode_utf16().count() as u32),
            result: if s.is_some() {
                0
            } else {
                ERROR_SERVICE_DOES_NOT_EXIST
            },
        })
    }

    async fn r_close_service_handle(
        &self,
        _: &CallContext,
        _: svcctl::RCloseServiceHandleRequest,
    ) -> Result<svcctl::RCloseServiceHandleResponse, RpcFault> {
        Ok(svcctl::RCloseServiceHandleResponse {
            h_sc_object: ContextHandle::NULL,
            result: 0,
        })
    }

    unserved! {
        r_delete_service: svcctl::RDeleteServiceRequest => svcctl::RDeleteServiceResponse,
        r_lock_service_database: svcctl::RLockServiceDatabaseRequest => svcctl::RLockServiceDatabaseResponse,
        r_query_service_object_security: svcctl::RQueryServiceObjectSecurityRequest => svcctl::RQueryServiceObjectSecurityResponse,
        r_set_service_object_security: svcctl::RSetServiceObjectSecurityRequest => svcctl::RSetServiceObjectSecurityResponse,
        r_set_service_status: svcctl::RSetServiceStatusRequest => svcctl::RSetServiceStatusResponse,
        r_unlock_service_database: svcctl::RUnlockServiceDatabaseRequest => svcctl::RUnlockServiceDatabaseResponse,
        r_notify_boot_config_status: svcctl::RNotifyBootConfigStatusRequest => svcctl::RNotifyBootConfigStatusResponse,
        opnum10_not_used_on_wire: svcctl::Opnum10NotUsedOnWireRequest => svcctl::Opnum10NotUsedOnWireResponse,
        r_change_service_config_w: svcctl::RChangeServiceConfigWRequest => svcctl::RChangeServiceConfigWResponse,
        r_create_service_w: svcctl::RCreateServiceWRequest => svcctl::RCreateServiceWResponse,
        r_enum_dependent_services_w: svcctl::REnumDependentServicesWRequest => svcctl::REnumDependentServicesWResponse,
        r_query_service_lock_status_w: svcctl::RQueryServiceLockStatusWRequest => svcctl::RQueryServiceLockStatusWResponse,
        r_start_service_w: svcctl::RStartServiceWRequest => svcctl::RStartServiceWResponse,
        opnum22_not_used_on_wire: svcctl::Opnum22NotUsedOnWireRequest => svcctl::Opnum22NotUsedOnWireResponse,
        r_change_service_config_a: svcctl::RChangeServiceConfigARequest => svcctl::RChangeServiceConfigAResponse,
        r_create_service_a: svcctl::RCreateServiceARequest => svcctl::RCreateServiceAResponse,
        r_enum_dependent_services_a: svcctl::REnumDependentServicesARequest => svcctl::REnumDependentServicesAResponse,
        r_enum_services_status_a: svcctl::REnumServicesStatusARequest => svcctl::REnumServicesStatusAResponse,
        r_open_sc_manager_a: svcctl::ROpenScManagerARequest => svcctl::ROpenScManagerAResponse,
        r_open_service_a: svcctl::ROpenServiceARequest => svcctl::ROpenServiceAResponse,
        r_query_service_config_a: svcctl::RQueryServiceConfigARequest => svcctl::RQueryServiceConfigAResponse,
        r_query_service_lock_status_a: svcctl::RQueryServiceLockStatusARequest => svcctl::RQueryServiceLockStatusAResponse,
        r_start_service_a: svcctl::RStartServiceARequest => svcctl::RStartServiceAResponse,
        r_get_service_display_name_a: svcctl::RGetServiceDisplayNameARequest => svcctl::RGetServiceDisplayNameAResponse,
        r_get_service_key_name_a: svcctl::RGetServiceKeyNameARequest => svcctl::RGetServiceKeyNameAResponse,
        opnum34_not_used_on_wire: svcctl::Opnum34NotUsedOnWireRequest => svcctl::Opnum34NotUsedOnWireResponse,
        r_enum_service_group_w: svcctl::REnumServiceGroupWRequest => svcctl::REnumServiceGroupWResponse,
        r_change_service_config2_a: svcctl::RChangeServiceConfig2ARequest => svcctl::RChangeServiceConfig2AResponse,
        r_change_service_config2_w: svcctl::RChangeServiceConfig2WRequest => svcctl::RChangeServiceConfig2WResponse,
        r_query_service_config2_a: svcctl::RQueryServiceConfig2ARequest => svcctl::RQueryServiceConfig2AResponse,
        r_query_service_config2_w: svcctl::RQueryServiceConfig2WRequest => svcctl::RQueryServiceConfig2WResponse,
        r_query_service_status_ex: svcctl::RQueryServiceStatusExRequest => svcctl::RQueryServiceStatusExResponse,
    }
}

// ---------------------------------------------------------------------------------------------
// eventlog
// ---------------------------------------------------------------------------------------------

/// (record number, time, event id, type, category, strings, data) of the log "Application".
type Record = (
    u32,
    u32,
    u32,
    u16,
    u16,
    &'static [&'static str],
    &'static [u8],
);
const RECORDS: [Record; 2] = [
    (
        7,
        1_796_577_178,
        1000,
        4,
        2,
        &["first", "second"],
        &[1, 2, 3],
    ),
    (8, 1_796_577_300, 1001, 2, 0, &["disk almost full"], &[]),
];
const SOURCE: &str = "msrpc";
const COMPUTER: &str = "MSRPCHOST";

/// One EVENTLOGRECORD (MS-EVEN 2.2.3): the fixed part, the source and computer names, no
/// SID, the strings, the data, padding to 4 bytes and the length again.
fn record_bytes(r: &Record) -> Vec<u8> {
    let (number, time, id, kind, category, strings, data) = *r;
    let names: Vec<u8> = [utf16z(SOURCE), utf16z(COMPUTER)].concat();
    let texts: Vec<u8> = strings.iter().flat_map(|s| utf16z(s)).collect();
    let sid_at = 56 + names.len();
    let data_at = sid_at + texts.len();
    let end = data_at + data.len();
    let length = end + (4 - end % 4) % 4 + 4;
    let mut b = Vec::with_capacity(length);
    for v in [length, 0x654c_664c, number as usize, time as usize] {
        b.extend((v as u32).to_le_bytes());
    }
    b.extend((time + 1).to_le_bytes());
    b.extend(id.to_le_bytes());
    for v in [kind, strings.len() as u16, category, 0] {
        b.extend(v.to_le_bytes());
    }
    for v in [0, sid_at, 0, sid_at, data.len(), data_at] {
        b.extend((v as u32).to_le_bytes());
    }
    b.extend(names);
    b.extend(texts);
    b.extend(data);
    b.resize(length - 4, 0);
    b.extend((length as u32).to_le_bytes());
    b
}

/// The open logs' read positions, by handle.
#[derive(Default)]
struct EventLog {
    cursors: Mutex<HashMap<Uuid, usize>>,
    next: Mutex<u128>,
}

impl eventlog::Eventlog for EventLog {
    async fn elfr_open_elw(
        &self,
        _: &CallContext,
        req: eventlog::ElfrOpenElwRequest,
    ) -> Result<eventlog::ElfrOpenElwResponse, RpcFault> {
        let name = String::from_utf16_lossy(req.module_name.buffer.get().unwrap_or(&Vec::new()));
        if name != "Application" {
            return Ok(eventlog::ElfrOpenElwResponse {
                log_handle: ContextHandle::NULL,
                result: STATUS_OBJECT_NAME_NOT_FOUND,
            });
        }
        let mut next = self.next.lock().unwrap();
        *next += 1;
        let uuid = Uuid::from_u128(0xe7e0_0000 + *next);
        self.cursors.lock().unwrap().insert(uuid, 0);
        Ok(eventlog::ElfrOpenElwResponse {
            log_handle: ContextHandle {
                attributes: 0,
                uuid,
            },
            result: 0,
        })
    }

    async fn elfr_number_of_records(
        &self,
        _: &CallContext,
        _: eventlog::ElfrNumberOfRecordsRequest,
    ) -> Result<eventlog::ElfrNumberOfRecordsResponse, RpcFault> {
        Ok(eventlog::ElfrNumberOfRecordsResponse {
            number_of_records: RECORDS.len() as u32,
            result: 0,
        })
    }

    async fn elfr_oldest_record(
        &self,
        _: &CallContext,
        _: eventlog::ElfrOldestRecordRequest,
    ) -> Result<eventlog::ElfrOldestRecordResponse, RpcFault> {
        Ok(eventlog::ElfrOldestRecordResponse {
            oldest_record_number: RECORDS[0].0,
            result: 0,
        })
    }

    /// Sequential reads, one record per call, forwards (flag 4) or backwards (8).
    async fn elfr_read_elw(
        &self,
        _: &CallContext,
        req: eventlog::ElfrReadElwRequest,
    ) -> Result<eventlog::ElfrReadElwResponse, RpcFault> {
        let mut cursors = self.cursors.lock().unwrap();
        let cursor = cursors
            .get_mut(&req.log_handle.uuid)
            .ok_or(RpcFault(FaultStatus::NCA_S_FAULT_CONTEXT_MISMATCH))?;
        let size = req.number_of_bytes_to_read;
        let mut buffer = vec![0u8; size as usize];
        let order: Vec<&Record> = if req.read_flags & 8 != 0 {
            RECORDS.iter().rev().collect()
        } else {
            RECORDS.iter().collect()
        };
        let Some(r) = order.get(*cursor) else {
            return Ok(eventlog::ElfrReadElwResponse {
                buffer,
                number_of_bytes_read: 0,
                min_number_of_bytes_needed: 0,
                result: STATUS_END_OF_FILE,
            });
        };
        let bytes = record_bytes(r);
        let len = bytes.len() as u32;
        if size < len {
            return Ok(eventlog::ElfrReadElwResponse {
                buffer,
                number_of_bytes_read: 0,
                min_number_of_bytes_needed: len,
                result: STATUS_BUFFER_TOO_SMALL,
            });
        }
        *cursor += 1;
        buffer[..bytes.len()].copy_from_slice(&bytes);
        Ok(eventlog::ElfrReadElwResponse {
            buffer,
            number_of_bytes_read: len,
            min_number_of_bytes_needed: 0,
            result: 0,
        })
    }

    async fn elfr_close_el(
        &self,
        _: &CallContext,
        req: eventlog::ElfrCloseElRequest,
    ) -> Result<eventlog::ElfrCloseElResponse, RpcFault> {
        self.cursors.lock().unwrap().remove(&req.log_handle.uuid);
        Ok(eventlog::ElfrCloseElResponse {
            log_handle: ContextHandle::NULL,
            result: 0,
        })
    }

    unserved! {
        elfr_clear_elfw: eventlog::ElfrClearElfwRequest => eventlog::ElfrClearElfwResponse,
        elfr_backup_elfw: eventlog::ElfrBackupElfwRequest => eventlog::ElfrBackupElfwResponse,
        elfr_deregister_event_source: eventlog::ElfrDeregisterEventSourceRequest => eventlog::ElfrDeregisterEventSourceResponse,
        elfr_change_notify: eventlog::ElfrChangeNotifyRequest => eventlog::ElfrChangeNotifyResponse,
        elfr_register_event_source_w: eventlog::ElfrRegisterEventSourceWRequest => eventlog::ElfrRegisterEventSourceWResponse,
        elfr_open_belw: eventlog::ElfrOpenBelwRequest => eventlog::ElfrOpenBelwResponse,
        elfr_report_event_w: eventlog::ElfrReportEventWRequest => eventlog::ElfrReportEventWResponse,
        elfr_clear_elfa: eventlog::ElfrClearElfaRequest => eventlog::ElfrClearElfaResponse,
        elfr_backup_elfa: eventlog::ElfrBackupElfaRequest => eventlog::ElfrBackupElfaResponse,
        elfr_open_ela: eventlog::ElfrOpenElaRequest => eventlog::ElfrOpenElaResponse,
        elfr_register_event_source_a: eventlog::ElfrRegisterEventSourceARequest => eventlog::ElfrRegisterEventSourceAResponse,
        elfr_open_bela: eventlog::ElfrOpenBelaRequest => eventlog::ElfrOpenBelaResponse,
        elfr_read_ela: eventlog::ElfrReadElaRequest => eventlog::ElfrReadElaResponse,
        elfr_report_event_a: eventlog::ElfrReportEventARequest => eventlog::ElfrReportEventAResponse,
        opnum19_not_used_on_wire: eventlog::Opnum19NotUsedOnWireRequest => eventlog::Opnum19NotUsedOnWireResponse,
        opnum20_not_used_on_wire: eventlog::Opnum20NotUsedOnWireRequest => eventlog::Opnum20NotUsedOnWireResponse,
        opnum21_not_used_on_wire: eventlog::Opnum21NotUsedOnWireRequest => eventlog::Opnum21NotUsedOnWireResponse,
        elfr_get_log_information: eventlog::ElfrGetLogInformationRequest => eventlog::ElfrGetLogInformationResponse,
        opnum23_not_used_on_wire: eventlog::Opnum23NotUsedOnWireRequest => eventlog::Opnum23NotUsedOnWireResponse,
        elfr_report_event_and_source_w: eventlog::ElfrReportEventAndSourceWRequest => eventlog::ElfrReportEventAndSourceWResponse,
    }
}

// ---------------------------------------------------------------------------------------------
// atsvc and backupkey
// ---------------------------------------------------------------------------------------------

/// The queued jobs, by id.
#[derive(Default)]
struct Jobs(Mutex<Vec<(u32, atsvc::AtInfo)>>);

impl atsvc::Atsvc for Jobs {
    async fn netr_job_add(
        &self,
        _: &CallContext,
        req: atsvc::NetrJobAddRequest,
    ) -> Result<atsvc::NetrJobAddResponse, RpcFault> {
        let mut jobs = self.0.lock().unwrap();
        let id = jobs.iter().map(|j| j.0).max().unwrap_or(0) + 1;
        jobs.push((id, req.p_at_info));
        Ok(atsvc::NetrJobAddResponse {
            p_job_id: id,
            result: 0,
        })
    }

    async fn netr_job_del(
        &self,
        _: &CallContext,
        req: atsvc::NetrJobDelRequest,
    ) -> Result<atsvc::NetrJobDelResponse, RpcFault> {
        let mut jobs = self.0.lock().unwrap();
        let before = jobs.len();
        jobs.retain(|j| !(req.min_job_id..=req.max_job_id).contains(&j.0));
        // NERR_JobNotFound when nothing was deleted.
        Ok(atsvc::NetrJobDelResponse {
            result: if jobs.len() < before { 0 } else { 3502 },
        })
    }

    async fn netr_job_enum(
        &self,
        _: &CallContext,
        req: atsvc::NetrJobEnumRequest,
    ) -> Result<atsvc::NetrJobEnumResponse, RpcFault> {
        let jobs = self.0.lock().unwrap();
        let entries: Vec<atsvc::AtEnum> = jobs
            .iter()
            .map(|(id, j)| atsvc::AtEnum {
                job_id: *id,
                job_time: j.job_time,
                days_of_month: j.days_of_month,
                days_of_week: j.days_of_week,
                flags: j.flags,
                command: j.command.clone(),
            })
            .collect();
        Ok(atsvc::NetrJobEnumResponse {
            p_enum_container: atsvc::AtEnumContainer {
                entries_read: entries.len() as u32,
                buffer: Unique::new(entries),
            },
            p_total_entries: jobs.len() as u32,
            p_resume_handle: req.p_resume_handle.map(|_| 0),
            result: 0,
        })
    }

    async fn netr_job_get_info(
        &self,
        _: &CallContext,
        req: atsvc::NetrJobGetInfoRequest,
    ) -> Result<atsvc::NetrJobGetInfoResponse, RpcFault> {
        let jobs = self.0.lock().unwrap();
        Ok(match jobs.iter().find(|j| j.0 == req.job_id) {
            Some((_, info)) => atsvc::NetrJobGetInfoResponse {
                pp_at_info: Unique::new(info.clone()),
                result: 0,
            },
            None => atsvc::NetrJobGetInfoResponse {
                pp_at_info: Unique::default(),
                result: 3502,
            },
        })
    }
}

struct Keys;

impl backupkey::BackupKey for Keys {
    /// Answers the data reversed, followed by `dwParam`'s low byte.
    async fn backupr_key(
        &self,
        _: &CallContext,
        req: backupkey::BackuprKeyRequest,
    ) -> Result<backupkey::BackuprKeyResponse, RpcFault> {
        let mut out: Vec<u8> = req.p_data_in.iter().rev().copied().collect();
        out.push(req.dw_param as u8);
        Ok(backupkey::BackuprKeyResponse {
            pcb_data_out: out.len() as u32,
            pp_data_out: Unique::new(out),
            result: 0,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// ITaskSchedulerService
// ---------------------------------------------------------------------------------------------

/// The root folder's subfolders and its one task, `\msrpc`.
const FOLDERS: [&str; 2] = ["Microsoft", "msrpc-folder"];
const TASK_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n<Task version=\"1.2\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\"><Actions><Exec><Command>cmd.exe</Command></Exec></Actions></Task>";
/// MS-TSCH 1.6 (major version in the high word).
const TSCH_VERSION: u32 = 0x0001_0006;
/// HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND).
const E_FILE_NOT_FOUND: i32 = 0x8007_0002_u32 as i32;

struct Scheduler;

fn names<T>(all: &[&str], start: u32, wrap: fn(Unique<String>) -> T) -> (u32, Unique<Vec<T>>) {
    let rest: Vec<T> = all
        .iter()
        .skip(start as usize)
        .map(|n| wrap(Unique::new(n.to_string())))
        .collect();
    (rest.len() as u32, Unique::new(rest))
}

impl tsch::ITaskSchedulerService for Scheduler {
    async fn sch_rpc_highest_version(
        &self,
        _: &CallContext,
        _: tsch::SchRpcHighestVersionRequest,
    ) -> Result<tsch::SchRpcHighestVersionResponse, RpcFault> {
        Ok(tsch::SchRpcHighestVersionResponse {
            p_version: TSCH_VERSION,
            result: 0,
        })
    }

    async fn sch_rpc_enum_folders(
        &self,
        _: &CallContext,
        req: tsch::SchRpcEnumFoldersRequest,
    ) -> Result<tsch::SchRpcEnumFoldersResponse, RpcFault> {
        let (n, list) = names(
            &FOLDERS,
            req.p_start_index,
            tsch::SchRpcEnumFoldersPNamesItem,
        );
        Ok(tsch::SchRpcEnumFoldersResponse {
            p_start_index: req.p_start_index + n,
            pc_names: n,
            p_names: list,
            result: 0,
        })
    }

    async fn sch_rpc_enum_tasks(
        &self,
        _: &CallContext,
        req: tsch::SchRpcEnumTasksRequest,
    ) -> Result<tsch::SchRpcEnumTasksResponse, RpcFault> {
        let (n, list) = names(&["msrpc"], req.start_index, tsch::SchRpcEnumTasksPNamesItem);
        Ok(tsch::SchRpcEnumTasksResponse {
            start_index: req.start_index + n,
            pc_names: n,
            p_names: list,
            result: 0,
        })
    }

    async fn sch_rpc_retrieve_task(
        &self,
        _: &CallContext,
        req: tsch::SchRpcRetrieveTaskRequest,
    ) -> Result<tsch::SchRpcRetrieveTaskResponse, RpcFault> {
        let found = req.path == "\\msrpc";
        Ok(tsch::SchRpcRetrieveTaskResponse {
            p_xml: if found {
                Unique::new(TASK_XML.into())
            } else {
                Unique::default()
            },
            result: if found { 0 } else { E_FILE_NOT_FOUND },
        })
    }

    async fn sch_rpc_get_task_info(
        &self,
        _: &CallContext,
        req: tsch::SchRpcGetTaskInfoRequest,
    ) -> Result<tsch::SchRpcGetTaskInfoResponse, RpcFault> {
        let found = req.path == "\\msrpc";
        // TASK_STATE_READY (3).
        Ok(tsch::SchRpcGetTaskInfoResponse {
            p_enabled: u32::from(found),
            p_state: if found { 3 } else { 0 },
            result: if found { 0 } else { E_FILE_NOT_FOUND },
        })
    }

    unserved! {
        sch_rpc_register_task: tsch::SchRpcRegisterTaskRequest => tsch::SchRpcRegisterTaskResponse,
        sch_rpc_create_folder: tsch::SchRpcCreateFolderRequest => tsch::SchRpcCreateFolderResponse,
        sch_rpc_set_security: tsch::SchRpcSetSecurityRequest => tsch::SchRpcSetSecurityResponse,
        sch_rpc_get_security: tsch::SchRpcGetSecurityRequest => tsch::SchRpcGetSecurityResponse,
        sch_rpc_enum_instances: tsch::SchRpcEnumInstancesRequest => tsch::SchRpcEnumInstancesResponse,
        sch_rpc_get_instance_info: tsch::SchRpcGetInstanceInfoRequest => tsch::SchRpcGetInstanceInfoResponse,
        sch_rpc_stop_instance: tsch::SchRpcStopInstanceRequest => tsch::SchRpcStopInstanceResponse,
        sch_rpc_stop: tsch::SchRpcStopRequest => tsch::SchRpcStopResponse,
        sch_rpc_run: tsch::SchRpcRunRequest => tsch::SchRpcRunResponse,
        sch_rpc_delete: tsch::SchRpcDeleteRequest => tsch::SchRpcDeleteResponse,
        sch_rpc_rename: tsch::SchRpcRenameRequest => tsch::SchRpcRenameResponse,
        sch_rpc_scheduled_runtimes: tsch::SchRpcScheduledRuntimesRequest => tsch::SchRpcScheduledRuntimesResponse,
        sch_rpc_get_last_run_info: tsch::SchRpcGetLastRunInfoRequest => tsch::SchRpcGetLastRunInfoResponse,
        sch_rpc_get_number_of_missed_runs: tsch::SchRpcGetNumberOfMissedRunsRequest => tsch::SchRpcGetNumberOfMissedRunsResponse,
        sch_rpc_enable_task: tsch::SchRpcEnableTaskRequest => tsch::SchRpcEnableTaskResponse,
    }
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

fn run(cmd: &mut Command, what: &str) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what} did not run ({e})"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn rpcclient(command: &str) -> (bool, String) {
    common::run_rpcclient(
        None,
        "-U%",
        &format!("ncacn_ip_tcp:{ADDR}[135]"),
        command,
        true,
    )
}

/// The `key : value` lines (words joined by one space) rpcclient printed.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

async fn check_our_svcctl(conn: &Client) {
    let c = svcctl::SvcctlClient::new(conn.clone());
    let scm = c
        .r_open_sc_manager_w(svcctl::ROpenScManagerWRequest {
            lp_machine_name: Some(format!("\\\\{ADDR}")),
            lp_database_name: None,
            dw_desired_access: 5,
        })
        .await
        .unwrap()
        .lp_sc_handle;
    assert_eq!(scm, scm_handle());
    let r = c
        .r_enum_services_status_w(svcctl::REnumServicesStatusWRequest {
            h_sc_manager: scm,
            dw_service_type: 0x30,
            dw_service_state: 3,
            cb_buf_size: 16,
            lp_resume_index: None,
        })
        .await
        .unwrap();
    assert_eq!(
        (r.result, r.pcb_bytes_needed, r.lp_buffer.len()),
        (ERROR_MORE_DATA, enum_buffer().len() as u32, 16)
    );
    let r = c
        .r_enum_services_status_w(svcctl::REnumServicesStatusWRequest {
            h_sc_manager: scm,
            dw_service_type: 0x30,
            dw_service_state: 3,
            cb_buf_size: r.pcb_bytes_needed,
            lp_resume_index: Some(0),
        })
        .await
        .unwrap();
    assert_eq!(r.result, 0);
    assert_eq!(r.lp_buffer, enum_buffer());
    assert_eq!(r.lp_services_returned, 2);
    assert_eq!(r.lp_resume_index, Some(0));

    let svc = c
        .r_open_service_w(svcctl::ROpenServiceWRequest {
            h_sc_manager: scm,
            lp_service_name: "Spooler".into(),
            dw_desired_access: 0x25,
        })
        .await
        .unwrap()
        .lp_service_handle;
    let r = c
        .r_query_service_status(svcctl::RQueryServiceStatusRequest { h_service: svc })
        .await
        .unwrap();
    assert_eq!(r.lp_service_status, status_of(0));
    let r = c
        .r_query_service_config_w(svcctl::RQueryServiceConfigWRequest {
            h_service: svc,
            cb_buf_size: 8192,
        })
        .await
        .unwrap();
    assert_eq!((r.result, r.pcb_bytes_needed), (0, config_size(0)));
    assert_eq!(r.lp_service_config, config_of(0));
    // The display name through a buffer too small, then one large enough (sized by the
    // returned count plus one, MS-SCMR 3.1.4.20).
    let r = c
        .r_get_service_display_name_w(svcctl::RGetServiceDisplayNameWRequest {
            h_sc_manager: scm,
            lp_service_name: "Spooler".into(),
            lpcch_buffer: 4,
        })
        .await
        .unwrap();
    assert_eq!((r.result, r.lpcch_buffer), (ERROR_INSUFFICIENT_BUFFER, 13));
    let r = c
        .r_get_service_display_name_w(svcctl::RGetServiceDisplayNameWRequest {
            h_sc_manager: scm,
            lp_service_name: "Spooler".into(),
            lpcch_buffer: r.lpcch_buffer + 1,
        })
        .await
        .unwrap();
    assert_eq!(
        (r.result, r.lp_display_name.as_str(), r.lpcch_buffer),
        (0, "Print Spooler", 13)
    );
    let r = c
        .r_get_service_key_name_w(svcctl::RGetServiceKeyNameWRequest {
            h_sc_manager: scm,
            lp_display_name: "msrpc test service".into(),
            lpcch_buffer: 64,
        })
        .await
        .unwrap();
    assert_eq!((r.result, r.lp_service_name.as_str()), (0, "msrpctest"));
    let r = c
        .r_control_service(svcctl::RControlServiceRequest {
            h_service: svc,
            dw_control: 1,
        })
        .await
        .unwrap();
    assert_eq!((r.result, r.lp_service_status.dw_current_state), (0, 3));
    // An operation this service does not implement: the fault.
    let r = c
        .r_delete_service(svcctl::RDeleteServiceRequest { h_service: svc })
        .await;
    assert!(
        matches!(r, Err(msrpc_proto::dispatch::CallError::Fault(f)) if f == FaultStatus::NCA_S_OP_RNG_ERROR),
        "{r:?}"
    );
    for h in [svc, scm] {
        let r = c
            .r_close_service_handle(svcctl::RCloseServiceHandleRequest { h_sc_object: h })
            .await
            .unwrap();
        assert_eq!((r.result, r.h_sc_object), (0, ContextHandle::NULL));
    }
}

fn unicode(text: &str) -> eventlog::RpcUnicodeString {
    let units: Vec<u16> = text.encode_utf16().collect();
    let n = u16::try_from(units.len() * 2).unwrap();
    eventlog::RpcUnicodeString {
        length: n,
        maximum_length: n,
        buffer: Unique::new(units),
    }
}

async fn check_our_eventlog(conn: &Client) {
    let c = eventlog::EventlogClient::new(conn.clone());
    let r = c
        .elfr_open_elw(eventlog::ElfrOpenElwRequest {
            unc_server_name: Some(u16::from(b'\\')),
            module_name: unicode("Application"),
            reg_module_name: unicode(""),
            major_version: 1,
            minor_version: 1,
        })
        .await
        .unwrap();
    assert_eq!(r.result, 0);
    let log = r.log_handle;
    let n = c
        .elfr_number_of_records(eventlog::ElfrNumberOfRecordsRequest { log_handle: log })
        .await
        .unwrap();
    assert_eq!((n.result, n.number_of_records), (0, 2));
    let o = c
        .elfr_oldest_record(eventlog::ElfrOldestRecordRequest { log_handle: log })
        .await
        .unwrap();
    assert_eq!((o.result, o.oldest_record_number), (0, 7));
    // Forwards: each record after a first call that asks how much it needs.
    for r in &RECORDS {
        let read = |size| {
            c.elfr_read_elw(eventlog::ElfrReadElwRequest {
                log_handle: log,
                read_flags: 0x5,
                record_offset: 0,
                number_of_bytes_to_read: size,
            })
        };
        let small = read(0).await.unwrap();
        assert_eq!(small.result, STATUS_BUFFER_TOO_SMALL);
        let want = record_bytes(r);
        assert_eq!(small.min_number_of_bytes_needed as usize, want.len());
        let got = read(small.min_number_of_bytes_needed + 8).await.unwrap();
        assert_eq!(got.result, 0);
        assert_eq!(got.number_of_bytes_read as usize, want.len());
        assert_eq!(&got.buffer[..want.len()], &want[..]);
        assert_eq!(got.buffer.len(), want.len() + 8);
    }
    let end = c
        .elfr_read_elw(eventlog::ElfrReadElwRequest {
            log_handle: log,
            read_flags: 0x5,
            record_offset: 0,
            number_of_bytes_to_read: 256,
        })
        .await
        .unwrap();
    assert_eq!(end.result, STATUS_END_OF_FILE);
    let r = c
        .elfr_close_el(eventlog::ElfrCloseElRequest { log_handle: log })
        .await
        .unwrap();
    assert_eq!((r.result, r.log_handle), (0, ContextHandle::NULL));
}

async fn check_our_atsvc_tsch_and_backupkey(binding: &Binding) {
    // atsvc in NDR20 first.
    let mut o = ClientOptions {
        call_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    o.config.offer_ndr64 = false;
    let conn = Client::connect(binding, o).await.unwrap();
    let a = atsvc::AtsvcClient::new(conn.clone());
    for (time, command) in [(36_000_000, "backup.cmd"), (3_600_000, "cmd /c dir")] {
        let r = a
            .netr_job_add(atsvc::NetrJobAddRequest {
                server_name: Some(format!("\\\\{ADDR}")),
                p_at_info: atsvc::AtInfo {
                    job_time: msrpc_ndr::UInt3264(time),
                    days_of_month: 0x8000_0001,
                    days_of_week: 0x15,
                    flags: 0x11,
                    command: Unique::new(command.into()),
                },
            })
            .await
            .unwrap();
        assert_eq!(r.result, 0);
    }
    let r = a
        .netr_job_enum(atsvc::NetrJobEnumRequest {
            server_name: None,
            p_enum_container: Default::default(),
            prefered_maximum_length: 0xffff_ffff,
            p_resume_handle: Some(0),
        })
        .await
        .unwrap();
    assert_eq!((r.result, r.p_total_entries), (0, 2));
    let jobs = r.p_enum_container.buffer.get().unwrap();
    assert_eq!(
        jobs.iter()
            .map(|j| (j.job_id, j.job_time.0, j.command.get().unwrap().as_str()))
            .collect::<Vec<_>>(),
        [(1, 36_000_000, "backup.cmd"), (2, 3_600_000, "cmd /c dir")]
    );
    let r = a
        .netr_job_get_info(atsvc::NetrJobGetInfoRequest {
            server_name: None,
            job_id: 2,
        })
        .await
        .unwrap();
    assert_eq!(r.pp_at_info.get().unwrap().days_of_month, 0x8000_0001);
    assert_eq!(
        conn.transfer_syntax(atsvc::AtsvcInterface::SYNTAX)
            .await
            .unwrap(),
        TransferSyntax::Ndr20
    );
    conn.close();
    // And in NDR64, where JobTime (a DWORD_PTR) is 8 bytes: the jobs added in NDR20 read back.
    let conn = Client::connect(binding, ClientOptions::default())
        .await
        .unwrap();
    let a = atsvc::AtsvcClient::new(conn.clone());
    let r = a
        .netr_job_get_info(atsvc::NetrJobGetInfoRequest {
            server_name: None,
            job_id: 1,
        })
        .await
        .unwrap();
    let info = r.pp_at_info.get().unwrap();
    assert_eq!(
        (info.job_time.0, info.days_of_month, info.days_of_week),
        (36_000_000, 0x8000_0001, 0x15)
    );
    assert_eq!(
        conn.transfer_syntax(atsvc::AtsvcInterface::SYNTAX)
            .await
            .unwrap(),
        TransferSyntax::Ndr64
    );
    conn.close();

    // ITaskSchedulerService, NDR64.
    let conn = Client::connect(binding, ClientOptions::default())
        .await
        .unwrap();
    let t = tsch::ITaskSchedulerServiceClient::new(conn.clone());
    let r = t
        .sch_rpc_highest_version(tsch::SchRpcHighestVersionRequest {})
        .await
        .unwrap();
    assert_eq!((r.result, r.p_version), (0, TSCH_VERSION));
    let r = t
        .sch_rpc_enum_folders(tsch::SchRpcEnumFoldersRequest {
            path: "\\".into(),
            flags: 1,
            p_start_index: 1,
            c_requested: 10,
        })
        .await
        .unwrap();
    assert_eq!((r.result, r.pc_names, r.p_start_index), (0, 1, 2));
    let listed: Vec<String> = r
        .p_names
        .get()
        .unwrap()
        .iter()
        .map(|n| n.0.get().unwrap().clone())
        .collect();
    assert_eq!(listed, ["msrpc-folder"]);
    let r = t
        .sch_rpc_retrieve_task(tsch::SchRpcRetrieveTaskRequest {
            path: "\\msrpc".into(),
            lpcwsz_languages_buffer: String::new(),
            pul_num_languages: 0,
        })
        .await
        .unwrap();
    assert_eq!(
        (r.result, r.p_xml.get().map(String::as_str)),
        (0, Some(TASK_XML))
    );
    let r = t
        .sch_rpc_get_task_info(tsch::SchRpcGetTaskInfoRequest {
            path: "\\nothing".into(),
            flags: 0,
        })
        .await
        .unwrap();
    assert_eq!((r.result, r.p_enabled), (E_FILE_NOT_FOUND, 0));
    assert_eq!(
        conn.transfer_syntax(tsch::ITaskSchedulerServiceInterface::SYNTAX)
            .await
            .unwrap(),
        TransferSyntax::Ndr64
    );
    conn.close();

    // backupkey, NDR64.
    let conn = Client::connect(binding, ClientOptions::default())
        .await
        .unwrap();
    let r = backupkey::BackupKeyClient::new(conn.clone())
        .backupr_key(backupkey::BackuprKeyRequest {
            pguid_action_agent: Uuid::from_u128(0x018ff48a_eaba_40c6_8f6d_72370240e967),
            p_data_in: vec![1, 2, 3],
            cb_data_in: 3,
            dw_param: 9,
        })
        .await
        .unwrap();
    assert_eq!(
        (r.result, r.pcb_data_out, r.pp_data_out.get().cloned()),
        (0, 4, Some(vec![3, 2, 1, 9]))
    );
    assert_eq!(
        conn.transfer_syntax(backupkey::BackupKeyInterface::SYNTAX)
            .await
            .unwrap(),
        TransferSyntax::Ndr64
    );
    conn.close();
}

/// rpcclient's eventlog commands against our eventlog service.
fn check_rpcclient_eventlog() {
    let (ok, t) = rpcclient("eventlog_numrecord Application");
    assert!(ok && t.contains("number of records: 2"), "{t}");
    let (ok, t) = rpcclient("eventlog_oldestrecord Application");
    assert!(ok && t.contains("oldest entry: 7"), "{t}");
    // readlog reads backwards until our END_OF_FILE (which it reports as the result), and
    // prints every record it decoded.
    let (_, t) = rpcclient("eventlog_readlog Application");
    assert!(t.contains("NT_STATUS_END_OF_FILE"), "{t}");
    let printed = lines(&t);
    for r in &RECORDS {
        let (number, _, id, _, _, strings, _) = *r;
        for want in [
            format!("RecordNumber : 0x{number:08x} ({number})"),
            format!("EventID : 0x{id:08x} ({id})"),
            format!("SourceName : '{SOURCE}'"),
            format!("Computername : '{COMPUTER}'"),
        ] {
            assert!(printed.contains(&want), "{want} not printed:\n{t}");
        }
        for s in strings {
            let want = format!("Strings : '{s}'");
            assert!(printed.contains(&want), "{want} not printed:\n{t}");
        }
    }
    let (ok, t) = rpcclient("eventlog_numrecord Security");
    assert!(!ok && t.contains("NT_STATUS_OBJECT_NAME_NOT_FOUND"), "{t}");
}

/// python3-samba's svcctl and atsvc clients against our services.
fn check_samba_python_clients() {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/interop/samba_services_client.py"
    );
    let (ok, t) = run(
        Command::new("/usr/bin/python3")
            .arg(script)
            .arg(format!("ncacn_ip_tcp:{ADDR}[135]"))
            .args(SERVICES.iter().map(|s| s.0)),
        "/usr/bin/python3 (python3-samba)",
    );
    assert!(ok, "samba_services_client.py failed:\n{t}");
    let got: Vec<&str> = t.lines().collect();
    let all = enum_buffer();
    let want_enum = format!(
        "enum {} 2 {}",
        all.len(),
        all.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    assert!(got.contains(&want_enum.as_str()), "{want_enum} not in\n{t}");
    for (i, (name, display, state, accepted, path)) in SERVICES.iter().enumerate() {
        for want in [
            format!("status {name} 16 {state} {accepted}"),
            format!("config {name} 16 3 1 {}", config_size(i)),
            format!("path {name} {path}"),
            format!("display {name} {display}"),
        ] {
            assert!(got.contains(&want.as_str()), "{want} not in\n{t}");
        }
    }
    for want in [
        "jobs 2 2",
        "job 1 36000000 2147483649 21 17 backup.cmd",
        "info 1 36000000 2147483649 21 17 backup.cmd",
        "job 2 3600000 2147483649 21 17 cmd /c dir",
    ] {
        assert!(got.contains(&want), "{want} not in\n{t}");
    }
}

/// Impacket's clients (tests/interop/impacket_services.py, run with target/venv's Python)
/// against our five services, in NDR20 and then (`ndr64`: binds offering NDR64 only, atsvc
/// left out) in NDR64; the jobs are the two our client added, then one Impacket adds.
fn check_impacket(ndr64: bool) {
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/venv/bin/python");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/interop/impacket_services.py"
    );
    assert!(
        std::path::Path::new(python).exists(),
        "{python} is missing: the Impacket venv (scripts/test.sh sets it up)"
    );
    let mut cmd = Command::new(python);
    cmd.arg(script);
    if ndr64 {
        cmd.arg("--ndr64");
    }
    let (ok, t) = run(
        cmd.arg(ADDR).args(SERVICES.iter().map(|s| s.0)),
        "target/venv/bin/python (Impacket)",
    );
    assert!(ok, "impacket_services.py failed:\n{t}");
    let got: Vec<&str> = t.lines().collect();
    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let all = enum_buffer();
    let mut want = vec![
        format!("enum-small {ERROR_MORE_DATA} {}", all.len()),
        format!("enum 2 {}", hex(&all)),
        "records 2".to_string(),
        "oldest 7".to_string(),
        "end".to_string(),
        // The data reversed, then dwParam.
        "backupkey 6 050403020107".to_string(),
        format!("version {TSCH_VERSION:08x}"),
        format!("folders 2 {}", FOLDERS.join(",")),
        "tasks 1 msrpc".to_string(),
        format!("xml {}", TASK_XML.replace('\n', " ")),
        "taskinfo 1 3".to_string(),
        format!("missing {:08x}", E_FILE_NOT_FOUND as u32),
    ];
    let jobs = [
        "jobs 2",
        "job 1 36000000 2147483649 21 17 backup.cmd",
        "job 2 3600000 2147483649 21 17 cmd /c dir",
        "added 3",
        "info 3 7200000 64 impacket.cmd",
    ];
    if ndr64 {
        assert!(!t.contains("jobs "), "atsvc called in NDR64:\n{t}");
    } else {
        want.extend(jobs.iter().map(|j| j.to_string()));
    }
    for r in &RECORDS {
        want.push(format!("record {}", hex(&record_bytes(r))));
    }
    for (i, (name, display, state, accepted, path)) in SERVICES.iter().enumerate() {
        want.extend([
            format!("status {name} 16 {state} {accepted}"),
            format!("config {name} 16 3 1 {}", config_size(i)),
            format!("path {name} {path}"),
            format!("account {name} LocalSystem"),
            format!("display {name} {} {display}", display.len()),
            format!("key {name} {name}"),
        ]);
    }
    for w in &want {
        assert!(
            got.contains(&w.as_str()),
            "{w} not in Impacket's output:\n{t}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_services_answer_our_clients_samba_and_impacket() {
    let epm = common::epm_listing(
        ADDR,
        &[
            svcctl::SvcctlInterface::SYNTAX,
            eventlog::EventlogInterface::SYNTAX,
            atsvc::AtsvcInterface::SYNTAX,
            backupkey::BackupKeyInterface::SYNTAX,
            tsch::ITaskSchedulerServiceInterface::SYNTAX,
        ],
    );
    let server = Server::builder()
        .listen(format!("{ADDR}:135").parse().unwrap())
        .service(epm)
        .service(svcctl::SvcctlServer::new(Scm))
        .service(eventlog::EventlogServer::new(EventLog::default()))
        .service(atsvc::AtsvcServer::new(Jobs::default()))
        .service(backupkey::BackupKeyServer::new(Keys))
        .service(tsch::ITaskSchedulerServiceServer::new(Scheduler))
        .start()
        .await
        .unwrap_or_else(|e| panic!("listen on {ADDR}:135 (needs root): {e}"));

    let binding = Binding::parse(&format!("ncacn_ip_tcp:{ADDR}[135]")).unwrap();
    let conn = Client::connect(&binding, ClientOptions::default())
        .await
        .unwrap();
    check_our_svcctl(&conn).await;
    check_our_eventlog(&conn).await;
    assert_eq!(
        conn.transfer_syntax(svcctl::SvcctlInterface::SYNTAX)
            .await
            .unwrap(),
        TransferSyntax::Ndr64,
        "our server prefers NDR64 when the client offers it"
    );
    conn.close();
    check_our_atsvc_tsch_and_backupkey(&binding).await;

    // Samba's clients, NDR20 (the jobs are the two added above).
    check_rpcclient_eventlog();
    check_samba_python_clients();
    check_impacket(false);
    check_impacket(true);
    server.shutdown().await;
}

#[test]
fn opnums_match_the_specifications() {
    // MS-SCMR 3.1.4, MS-EVEN 3.1.4, MS-TSCH 3.2.5.2 and 3.2.5.4, MS-BKRP 3.1.4.
    let table: &[(&str, u16, u16)] = &[
        (
            "RCloseServiceHandle",
            svcctl::RCloseServiceHandleRequest::OPNUM,
            0,
        ),
        ("RControlService", svcctl::RControlServiceRequest::OPNUM, 1),
        ("RDeleteService", svcctl::RDeleteServiceRequest::OPNUM, 2),
        (
            "RQueryServiceStatus",
            svcctl::RQueryServiceStatusRequest::OPNUM,
            6,
        ),
        (
            "RChangeServiceConfigW",
            svcctl::RChangeServiceConfigWRequest::OPNUM,
            11,
        ),
        ("RCreateServiceW", svcctl::RCreateServiceWRequest::OPNUM, 12),
        (
            "REnumServicesStatusW",
            svcctl::REnumServicesStatusWRequest::OPNUM,
            14,
        ),
        ("ROpenSCManagerW", svcctl::ROpenScManagerWRequest::OPNUM, 15),
        ("ROpenServiceW", svcctl::ROpenServiceWRequest::OPNUM, 16),
        (
            "RQueryServiceConfigW",
            svcctl::RQueryServiceConfigWRequest::OPNUM,
            17,
        ),
        ("RStartServiceW", svcctl::RStartServiceWRequest::OPNUM, 19),
        (
            "RGetServiceDisplayNameW",
            svcctl::RGetServiceDisplayNameWRequest::OPNUM,
            20,
        ),
        (
            "RGetServiceKeyNameW",
            svcctl::RGetServiceKeyNameWRequest::OPNUM,
            21,
        ),
        ("ROpenSCManagerA", svcctl::ROpenScManagerARequest::OPNUM, 27),
        (
            "RChangeServiceConfig2W",
            svcctl::RChangeServiceConfig2WRequest::OPNUM,
            37,
        ),
        (
            "RQueryServiceConfig2W",
            svcctl::RQueryServiceConfig2WRequest::OPNUM,
            39,
        ),
        (
            "RQueryServiceStatusEx",
            svcctl::RQueryServiceStatusExRequest::OPNUM,
            40,
        ),
        ("ElfrClearELFW", eventlog::ElfrClearElfwRequest::OPNUM, 0),
        ("ElfrCloseEL", eventlog::ElfrCloseElRequest::OPNUM, 2),
        (
            "ElfrNumberOfRecords",
            eventlog::ElfrNumberOfRecordsRequest::OPNUM,
            4,
        ),
        (
            "ElfrOldestRecord",
            eventlog::ElfrOldestRecordRequest::OPNUM,
            5,
        ),
        ("ElfrOpenELW", eventlog::ElfrOpenElwRequest::OPNUM, 7),
        ("ElfrReadELW", eventlog::ElfrReadElwRequest::OPNUM, 10),
        (
            "ElfrReportEventW",
            eventlog::ElfrReportEventWRequest::OPNUM,
            11,
        ),
        ("ElfrReadELA", eventlog::ElfrReadElaRequest::OPNUM, 17),
        (
            "ElfrGetLogInformation",
            eventlog::ElfrGetLogInformationRequest::OPNUM,
            22,
        ),
        (
            "ElfrReportEventAndSourceW",
            eventlog::ElfrReportEventAndSourceWRequest::OPNUM,
            24,
        ),
        ("NetrJobAdd", atsvc::NetrJobAddRequest::OPNUM, 0),
        ("NetrJobDel", atsvc::NetrJobDelRequest::OPNUM, 1),
        ("NetrJobEnum", atsvc::NetrJobEnumRequest::OPNUM, 2),
        ("NetrJobGetInfo", atsvc::NetrJobGetInfoRequest::OPNUM, 3),
        ("BackuprKey", backupkey::BackuprKeyRequest::OPNUM, 0),
        (
            "SchRpcHighestVersion",
            tsch::SchRpcHighestVersionRequest::OPNUM,
            0,
        ),
        (
            "SchRpcRetrieveTask",
            tsch::SchRpcRetrieveTaskRequest::OPNUM,
            2,
        ),
        (
            "SchRpcEnumFolders",
            tsch::SchRpcEnumFoldersRequest::OPNUM,
            6,
        ),
        ("SchRpcEnumTasks", tsch::SchRpcEnumTasksRequest::OPNUM, 7),
        ("SchRpcRun", tsch::SchRpcRunRequest::OPNUM, 12),
        (
            "SchRpcGetTaskInfo",
            tsch::SchRpcGetTaskInfoRequest::OPNUM,
            17,
        ),
        ("SchRpcEnableTask", tsch::SchRpcEnableTaskRequest::OPNUM, 19),
    ];
    for &(name, got, want) in table {
        assert_eq!(got, want, "{name}");
    }
    let ids = [
        (
            svcctl::SvcctlInterface::SYNTAX,
            "367abb81-9844-35f1-ad32-98f038001003",
            2,
        ),
        (
            eventlog::EventlogInterface::SYNTAX,
            "82273fdc-e32a-18c3-3f78-827929dc23ea",
            0,
        ),
        (
            atsvc::AtsvcInterface::SYNTAX,
            "1ff70682-0a51-30e8-076d-740be8cee98b",
            1,
        ),
        (
            backupkey::BackupKeyInterface::SYNTAX,
            "3dde7c30-165d-11d1-ab8f-00805f14db40",
            1,
        ),
        (
            tsch::ITaskSchedulerServiceInterface::SYNTAX,
            "86d35949-83c9-4044-b424-db363231fd0c",
            1,
        ),
    ];
    for (syntax, uuid, major) in ids {
        assert_eq!(syntax.uuid.to_string(), uuid);
        assert_eq!((syntax.major, syntax.minor), (major, 0));
    }
}
