//! `msrpc dump`'s paging rules against scripted endpoint mappers that end their walks the way
//! real ones do (PROTOCOL-NOTES): Samba's file server (last batch carries entries and
//! `ept_s_not_registered`), Samba's AD DC (an empty last batch with `ept_s_not_registered`),
//! and a server failing mid-walk (entries kept, handle freed, exit 3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{extra_interface, msrpc, start_with};
use msrpc_epm::status::{EPT_S_CANT_PERFORM_OP, EPT_S_NOT_REGISTERED};
use msrpc_epm::tower::Tower;
use msrpc_epm::*;
use msrpc_ndr::{ContextHandle, Unique, Uuid};
use msrpc_proto::dispatch::{CallContext, RpcFault};
use msrpc_proto::pdu::{FaultStatus, SyntaxId};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// 500 entries (live handle), then 3 entries with ept_s_not_registered and a null handle.
    SambaFileServer,
    /// 500 entries, 3 entries (live handle, status 0), then none with ept_s_not_registered.
    SambaDc,
    /// 500 entries, then an error status with the handle still live.
    Failure,
}

const H1: u128 = 0x1111;
const H2: u128 = 0x2222;

#[derive(Clone)]
struct Scripted {
    ending: Ending,
    freed: Arc<AtomicUsize>,
}

fn handle(id: u128) -> ContextHandle {
    ContextHandle {
        attributes: 0,
        uuid: Uuid::from_u128(id),
    }
}

fn batch(from: usize, n: usize) -> Vec<EptEntry> {
    (from..from + n)
        .map(|i| EptEntry {
            object: Uuid::nil(),
            tower: Unique::new(
                Tower::ncacn_ip_tcp(
                    extra_interface(i),
                    SyntaxId::NDR20,
                    Ipv4Addr::LOCALHOST,
                    1000 + i as u16,
                )
                .to_twr()
                .unwrap(),
            ),
            annotation: format!("entry {i}"),
        })
        .collect()
}

fn answer(entries: Vec<EptEntry>, h: ContextHandle, status: u32) -> EptLookupResponse {
    EptLookupResponse {
        entry_handle: h,
        num_ents: entries.len() as u32,
        entries,
        status,
    }
}

fn unsupported<T>() -> Result<T, RpcFault> {
    Err(RpcFault(FaultStatus::NCA_S_OP_RNG_ERROR))
}

impl Ept for Scripted {
    async fn ept_lookup(
        &self,
        _: &CallContext,
        req: EptLookupRequest,
    ) -> Result<EptLookupResponse, RpcFault> {
        let h = req.entry_handle;
        Ok(if h.is_null() {
            answer(batch(0, 500), handle(H1), 0)
        } else if h == handle(H1) {
            match self.ending {
                Ending::SambaFileServer => {
                    answer(batch(500, 3), ContextHandle::NULL, EPT_S_NOT_REGISTERED)
                }
                Ending::SambaDc => answer(batch(500, 3), handle(H2), 0),
                Ending::Failure => answer(Vec::new(), handle(H1), EPT_S_CANT_PERFORM_OP),
            }
        } else if h == handle(H2) {
            answer(Vec::new(), ContextHandle::NULL, EPT_S_NOT_REGISTERED)
        } else {
            return Err(RpcFault(FaultStatus::NCA_S_FAULT_CONTEXT_MISMATCH));
        })
    }

    async fn ept_lookup_handle_free(
        &self,
        _: &CallContext,
        _: EptLookupHandleFreeRequest,
    ) -> Result<EptLookupHandleFreeResponse, RpcFault> {
        self.freed.fetch_add(1, Ordering::SeqCst);
        Ok(EptLookupHandleFreeResponse {
            entry_handle: ContextHandle::NULL,
            status: 0,
        })
    }

    async fn ept_insert(
        &self,
        _: &CallContext,
        _: EptInsertRequest,
    ) -> Result<EptInsertResponse, RpcFault> {
        unsupported()
    }

    async fn ept_delete(
        &self,
        _: &CallContext,
        _: EptDeleteRequest,
    ) -> Result<EptDeleteResponse, RpcFault> {
        unsupported()
    }

    async fn ept_map(&self, _: &CallContext, _: EptMapRequest) -> Result<EptMapResponse, RpcFault> {
        unsupported()
    }

    async fn ept_inq_object(
        &self,
        _: &CallContext,
        _: EptInqObjectRequest,
    ) -> Result<EptInqObjectResponse, RpcFault> {
        unsupported()
    }

    async fn ept_mgmt_delete(
        &self,
        _: &CallContext,
        _: EptMgmtDeleteRequest,
    ) -> Result<EptMgmtDeleteResponse, RpcFault> {
        unsupported()
    }

    async fn ept_map_auth(
        &self,
        _: &CallContext,
        _: EptMapAuthRequest,
    ) -> Result<EptMapAuthResponse, RpcFault> {
        unsupported()
    }
}

fn run(ending: Ending, code: i32) -> (Value, usize) {
    let freed = Arc::new(AtomicUsize::new(0));
    let epm = Scripted {
        ending,
        freed: Arc::clone(&freed),
    };
    let s = start_with(move |b| b.service(EptServer::new(epm)));
    let r = msrpc(&["dump", &format!("127.0.0.1:{}", s.port()), "--json"]).expect_code(code);
    let doc = r.json();
    drop(s);
    (doc, freed.load(Ordering::SeqCst))
}

fn uuids(doc: &Value) -> Vec<String> {
    doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["interface"]["uuid"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn samba_file_server_last_batch_with_not_registered_is_kept() {
    let (doc, freed) = run(Ending::SambaFileServer, 0);
    assert_eq!(doc["complete"], true);
    assert_eq!(doc["count"], 503);
    assert_eq!(doc["batches"], 2);
    assert_eq!(doc["last_status"], "0x16c9a0d6 (ept_s_not_registered)");
    let want: Vec<String> = (0..503)
        .map(|i| extra_interface(i).uuid.to_string())
        .collect();
    assert_eq!(uuids(&doc), want);
    assert_eq!(freed, 0, "a finished walk has no handle to free");
}

#[test]
fn samba_dc_empty_last_batch_ends_the_walk() {
    let (doc, freed) = run(Ending::SambaDc, 0);
    assert_eq!(doc["complete"], true);
    assert_eq!(doc["count"], 503);
    assert_eq!(doc["batches"], 3);
    assert_eq!(freed, 0);
}

#[test]
fn an_error_mid_walk_keeps_the_entries_frees_the_handle_and_exits_3() {
    let (doc, freed) = run(Ending::Failure, 3);
    assert_eq!(doc["complete"], false);
    assert_eq!(doc["count"], 500);
    assert!(
        doc["note"]
            .as_str()
            .unwrap()
            .contains("ept_s_cant_perform_op"),
        "{doc}"
    );
    assert_eq!(freed, 1, "the live handle must be freed");
}
