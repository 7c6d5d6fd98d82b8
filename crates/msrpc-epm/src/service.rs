//! [`EpmService`]: the endpoint mapper (`ept`) over a shared [`EndpointDb`].
//!
//! # Behaviour
//! | operation | behaviour |
//! |---|---|
//! | `ept_lookup` | Pages through the matching elements, at most `min(max_ents, max_batch)` per call. A null `entry_handle` starts a walk; when more elements remain after the batch, the answer carries a live handle (status 0), otherwise the null handle (status 0). A walk that matches nothing at all answers `ept_s_not_registered` with the null handle. A status other than 0 never comes with elements. As Windows' endpoint mapper does (captures of a `max_ents = 1` walk): a short last batch carries status 0 and the null handle; a full batch (exactly `max_ents` elements) keeps its handle even when nothing remains, and the call resuming a walk with nothing left answers no element, `ept_s_not_registered` and the null handle. That ends Samba's `rpcclient epmlookup` loop (one element per call with the handle it got, stopping on a non-zero status or a count other than 1, restarting from the beginning on a null handle) and Impacket's `hept_lookup` (rpcdump: asks for 500, loops until the handle is null) whenever the last batch is short; Impacket raises on the final `ept_s_not_registered` of a walk whose size is a multiple of 500, against Windows as against us. |
//! | `ept_map` / `ept_map_auth` | The same paging over the towers of [`MapQuery`] matches (`max_towers`). An absent or malformed map tower answers `ept_s_invalid_entry`. |
//! | `ept_lookup_handle_free` | Closes the handle: null handle out, status 0. A null handle in is a no-op (status 0). |
//! | `ept_inq_object` | The configured object UUID ([`EpmConfig::object`], nil by default), status 0. |
//! | `ept_insert` / `ept_delete` / `ept_mgmt_delete` | Only for calls with [`CallContext::local`] (the local registration channel); any other caller gets `RPC_S_ACCESS_DENIED` (5) and the database is not touched. Local calls act with owner [`owner_for_group`]`(ctx.assoc_group_id)`: the runtime must give each registrant its own association group on the local channel. `ept_delete` removes only elements of that owner; `ept_mgmt_delete` removes any owner's. |
//!
//! A handle that does not exist (or belongs to another association group) faults with
//! `nca_s_fault_context_mismatch` (the NDR runtime's check of context handles, as
//! [`HandleTable`] does for every service). Continuing an `ept_map` walk with an `ept_lookup`
//! handle (or the reverse) answers `ept_s_invalid_context` and closes the handle. When a walk
//! is resumed, the request's query arguments are ignored: the handle remembers the walk's
//! query. A resumed walk that finds nothing more answers `ept_s_not_registered` with the null
//! handle.
//! `max_ents` / `max_towers` of 0 answers `EPT_S_CANT_PERFORM_OP` (0x6d8, MS-RPCE 2.2.1.2.1)
//! and closes the handle passed in, if any.
//!
//! `rundown(group)` frees the group's walks and removes the elements it registered (its
//! registrant is gone).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use msrpc_ndr::{ContextHandle, Unique, Uuid};
use msrpc_proto::dispatch::{CallContext, RpcFault};
use msrpc_proto::handles::HandleTable;
use msrpc_proto::SyntaxId;

use crate::db::{
    owner_for_group, Cursor, EndpointDb, Entry, Lookup, MapQuery, NewEntry, VersOption,
};
use crate::status;
use crate::tower::Tower;
use crate::{
    Ept, EptDeleteRequest, EptDeleteResponse, EptEntry, EptInqObjectRequest, EptInqObjectResponse,
    EptInsertRequest, EptInsertResponse, EptLookupHandleFreeRequest, EptLookupHandleFreeResponse,
    EptLookupRequest, EptLookupResponse, EptMapAuthRequest, EptMapAuthResponse, EptMapRequest,
    EptMapResponse, EptMgmtDeleteRequest, EptMgmtDeleteResponse, Twr,
};

/// An endpoint map shared between the service and the runtime.
pub type SharedDb = Arc<Mutex<EndpointDb>>;

/// Default [`EpmConfig::max_batch`].
pub const DEFAULT_MAX_BATCH: u32 = 4096;
/// Default [`EpmConfig::max_walks_per_group`].
pub const DEFAULT_MAX_WALKS_PER_GROUP: usize = 256;

/// Settings of an [`EpmService`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpmConfig {
    /// What `ept_inq_object` returns.
    pub object: Uuid,
    /// The most elements or towers one `ept_lookup` / `ept_map` answer carries, whatever the
    /// client's `max_ents` (the rest comes with the handle). Bounds the response size.
    pub max_batch: u32,
    /// The most unfinished walks (live lookup handles) one association group may hold; one
    /// more faults with `OUT_OF_MEMORY`.
    pub max_walks_per_group: usize,
}

impl Default for EpmConfig {
    fn default() -> Self {
        EpmConfig {
            object: Uuid::nil(),
            max_batch: DEFAULT_MAX_BATCH,
            max_walks_per_group: DEFAULT_MAX_WALKS_PER_GROUP,
        }
    }
}

/// An unfinished walk, held by a lookup handle.
#[derive(Clone, Copy, Debug)]
enum Walk {
    Lookup {
        query: Lookup,
        cursor: Cursor,
    },
    Map {
        query: MapQuery,
        cursor: Cursor,
    },
    /// Every element was returned, the last batch full: the next call ends the walk.
    Finished {
        is_map: bool,
    },
}

impl Walk {
    fn is_map(&self) -> bool {
        match self {
            Walk::Lookup { .. } => false,
            Walk::Map { .. } => true,
            Walk::Finished { is_map } => *is_map,
        }
    }
}

/// What resuming a walk gave.
enum Step<T> {
    /// A batch, and more remain.
    More(Vec<T>),
    /// The last batch.
    Done(Vec<T>),
    /// The handle holds the other kind of walk.
    WrongKind,
}

/// A walk's answer: the handle to return, the batch and the status.
struct Batch<T> {
    handle: ContextHandle,
    items: Vec<T>,
    status: u32,
}

impl<T> Batch<T> {
    fn status(status: u32) -> Self {
        Batch {
            handle: ContextHandle::NULL,
            items: Vec::new(),
            status,
        }
    }
}

/// The endpoint mapper service (see the [module documentation](self)); serve it with
/// [`EptServer::new`](crate::EptServer::new).
#[derive(Debug)]
pub struct EpmService {
    db: SharedDb,
    walks: HandleTable<Walk>,
    config: EpmConfig,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl EpmService {
    /// A service over `db` with the default [`EpmConfig`].
    pub fn new(db: SharedDb) -> Self {
        Self::with_config(db, EpmConfig::default())
    }

    /// A service over `db` with `config`.
    pub fn with_config(db: SharedDb, config: EpmConfig) -> Self {
        EpmService {
            db,
            walks: HandleTable::new(config.max_walks_per_group),
            config,
        }
    }

    /// The shared database (the runtime registers its own endpoints here directly).
    pub fn db(&self) -> &SharedDb {
        &self.db
    }

    /// The settings.
    pub fn config(&self) -> &EpmConfig {
        &self.config
    }

    /// Unfinished walks (live lookup handles) in all association groups.
    pub fn live_handles(&self) -> usize {
        self.walks.len()
    }

    fn lock(&self) -> MutexGuard<'_, EndpointDb> {
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn batch_size(&self, requested: u32) -> usize {
        usize::try_from(requested.min(self.config.max_batch)).unwrap_or(usize::MAX)
    }

    /// Closes `handle` if it is a live handle of `group` (used when a call ends a walk
    /// without resuming it).
    fn drop_walk(&self, group: u32, handle: &ContextHandle) {
        if !handle.is_null() {
            let _ = self.walks.close(group, handle);
        }
    }

    /// Runs a walk of kind `is_map`: starts it with `start` (when `handle` is null) or
    /// resumes the walk `handle` holds, converting elements with `item`.
    fn walk<T>(
        &self,
        ctx: &CallContext,
        handle: &ContextHandle,
        max: u32,
        is_map: bool,
        start: impl FnOnce() -> Result<Walk, u32>,
        item: impl Fn(&Entry) -> T,
    ) -> Result<Batch<T>, RpcFault> {
        let group = ctx.assoc_group_id;
        if max == 0 {
            self.drop_walk(group, handle);
            return Ok(Batch::status(status::EPT_S_CANT_PERFORM_OP_MS));
        }
        let requested = max;
        let max = self.batch_size(max);
        // A full batch keeps the walk live even when nothing remains (see the module docs).
        let full = |n: usize| u32::try_from(n).is_ok_and(|n| n == requested);
        if handle.is_null() {
            let mut walk = match start() {
                Ok(w) => w,
                Err(st) => return Ok(Batch::status(st)),
            };
            let (items, more) = advance(&self.lock(), &mut walk, max, &item);
            if items.is_empty() {
                return Ok(Batch::status(status::EPT_S_NOT_REGISTERED));
            }
            if !more && full(items.len()) {
                walk = Walk::Finished { is_map };
            }
            let handle = if more || full(items.len()) {
                self.walks.create(group, walk)?
            } else {
                ContextHandle::NULL
            };
            return Ok(Batch {
                handle,
                items,
                status: status::RPC_S_OK,
            });
        }
        let step = self.walks.with(group, handle, |walk| {
            if walk.is_map() != is_map {
                return Step::WrongKind;
            }
            let db = self.lock();
            match advance(&db, walk, max, &item) {
                (items, true) => Step::More(items),
                (items, false) if !items.is_empty() && full(items.len()) => {
                    *walk = Walk::Finished { is_map };
                    Step::More(items)
                }
                (items, false) => Step::Done(items),
            }
        })?;
        Ok(match step {
            Step::More(items) => Batch {
                handle: *handle,
                items,
                status: status::RPC_S_OK,
            },
            Step::Done(items) => {
                self.drop_walk(group, handle);
                if items.is_empty() {
                    // Windows ends a walk that has nothing left with ept_s_not_registered.
                    Batch::status(status::EPT_S_NOT_REGISTERED)
                } else {
                    Batch {
                        handle: ContextHandle::NULL,
                        items,
                        status: status::RPC_S_OK,
                    }
                }
            }
            Step::WrongKind => {
                self.drop_walk(group, handle);
                Batch::status(status::EPT_S_INVALID_CONTEXT)
            }
        })
    }

    fn map(
        &self,
        ctx: &CallContext,
        object: &Unique<Uuid>,
        map_tower: &Unique<Twr>,
        handle: &ContextHandle,
        max_towers: u32,
    ) -> Result<Batch<Unique<Twr>>, RpcFault> {
        let start = || {
            let twr = map_tower.get().ok_or(status::EPT_S_INVALID_ENTRY)?;
            let tower = Tower::from_twr(twr).map_err(|_| status::EPT_S_INVALID_ENTRY)?;
            let object = object.get().copied().unwrap_or_else(Uuid::nil);
            let query = MapQuery::from_tower(object, &tower).map_err(|e| e.status())?;
            Ok(Walk::Map {
                query,
                cursor: Cursor::START,
            })
        };
        self.walk(ctx, handle, max_towers, true, start, |e| {
            Unique::new(e.to_twr())
        })
    }

    /// Whether `ctx` may change the map; `Some(status)` refuses.
    fn refuse_remote(ctx: &CallContext) -> Option<u32> {
        (!ctx.local).then_some(status::RPC_S_ACCESS_DENIED)
    }
}

/// Advances `walk` by one page of at most `max` elements; returns the converted batch and
/// whether more remain (the walk's cursor then points after the batch).
fn advance<T>(
    db: &EndpointDb,
    walk: &mut Walk,
    max: usize,
    item: &impl Fn(&Entry) -> T,
) -> (Vec<T>, bool) {
    let page = match walk {
        Walk::Lookup { query, cursor } => {
            let p = db.lookup(query, *cursor, max);
            if let Some(n) = p.next {
                *cursor = n;
            }
            p
        }
        Walk::Map { query, cursor } => {
            let p = db.map(query, *cursor, max);
            if let Some(n) = p.next {
                *cursor = n;
            }
            p
        }
        Walk::Finished { .. } => return (Vec::new(), false),
    };
    let items = page.entries.iter().map(|e| item(e)).collect();
    (items, page.next.is_some())
}

/// The [`Lookup`] an `ept_lookup` request asks for, or the status refusing it.
fn lookup_query(req: &EptLookupRequest) -> Result<Lookup, u32> {
    let object = req.object.get().copied().unwrap_or_else(Uuid::nil);
    let interface = req.interface_id.get().map(|&i| SyntaxId::from(i));
    let with_interface = || -> Result<(SyntaxId, VersOption), u32> {
        let interface = interface.ok_or(status::EPT_S_CANT_PERFORM_OP_MS)?;
        let vers =
            VersOption::from_u32(req.vers_option).ok_or(status::RPC_S_INVALID_VERS_OPTION)?;
        Ok((interface, vers))
    };
    Ok(match req.inquiry_type {
        crate::RPC_C_EP_ALL_ELTS => Lookup::All,
        crate::RPC_C_EP_MATCH_BY_IF => {
            let (interface, vers) = with_interface()?;
            Lookup::Interface { interface, vers }
        }
        crate::RPC_C_EP_MATCH_BY_OBJ => Lookup::Object(object),
        crate::RPC_C_EP_MATCH_BY_BOTH => {
            let (interface, vers) = with_interface()?;
            Lookup::Both {
                object,
                interface,
                vers,
            }
        }
        _ => return Err(status::RPC_S_INVALID_INQUIRY_TYPE),
    })
}

fn status_of(r: Result<impl Sized, crate::db::DbError>) -> u32 {
    match r {
        Ok(_) => status::RPC_S_OK,
        Err(e) => e.status(),
    }
}

impl Ept for EpmService {
    async fn ept_insert(
        &self,
        ctx: &CallContext,
        req: EptInsertRequest,
    ) -> Result<EptInsertResponse, RpcFault> {
        if let Some(status) = Self::refuse_remote(ctx) {
            return Ok(EptInsertResponse { status });
        }
        let entries: Result<Vec<NewEntry>, _> =
            req.entries.iter().map(NewEntry::from_ept_entry).collect();
        let status = status_of(entries.and_then(|entries| {
            self.lock().register(
                owner_for_group(ctx.assoc_group_id),
                entries,
                req.replace != 0,
            )
        }));
        Ok(EptInsertResponse { status })
    }

    async fn ept_delete(
        &self,
        ctx: &CallContext,
        req: EptDeleteRequest,
    ) -> Result<EptDeleteResponse, RpcFault> {
        if let Some(status) = Self::refuse_remote(ctx) {
            return Ok(EptDeleteResponse { status });
        }
        let items: Result<Vec<(Uuid, Tower)>, _> = req
            .entries
            .iter()
            .map(|e: &EptEntry| NewEntry::from_ept_entry(e).map(|n| (n.object, n.tower)))
            .collect();
        let status = status_of(items.and_then(|items| {
            self.lock()
                .unregister(owner_for_group(ctx.assoc_group_id), &items)
        }));
        Ok(EptDeleteResponse { status })
    }

    async fn ept_lookup(
        &self,
        ctx: &CallContext,
        req: EptLookupRequest,
    ) -> Result<EptLookupResponse, RpcFault> {
        let start = || {
            lookup_query(&req).map(|query| Walk::Lookup {
                query,
                cursor: Cursor::START,
            })
        };
        let b = self.walk(ctx, &req.entry_handle, req.max_ents, false, start, |e| {
            e.to_ept_entry()
        })?;
        Ok(EptLookupResponse {
            entry_handle: b.handle,
            num_ents: count(b.items.len()),
            entries: b.items,
            status: b.status,
        })
    }

    async fn ept_map(
        &self,
        ctx: &CallContext,
        req: EptMapRequest,
    ) -> Result<EptMapResponse, RpcFault> {
        let b = self.map(
            ctx,
            &req.object,
            &req.map_tower,
            &req.entry_handle,
            req.max_towers,
        )?;
        Ok(EptMapResponse {
            entry_handle: b.handle,
            num_towers: count(b.items.len()),
            towers: b.items,
            status: b.status,
        })
    }

    async fn ept_lookup_handle_free(
        &self,
        ctx: &CallContext,
        req: EptLookupHandleFreeRequest,
    ) -> Result<EptLookupHandleFreeResponse, RpcFault> {
        if !req.entry_handle.is_null() {
            self.walks.close(ctx.assoc_group_id, &req.entry_handle)?;
        }
        Ok(EptLookupHandleFreeResponse {
            entry_handle: ContextHandle::NULL,
            status: status::RPC_S_OK,
        })
    }

    async fn ept_inq_object(
        &self,
        _ctx: &CallContext,
        _req: EptInqObjectRequest,
    ) -> Result<EptInqObjectResponse, RpcFault> {
        Ok(EptInqObjectResponse {
            ept_object: self.config.object,
            status: status::RPC_S_OK,
        })
    }

    async fn ept_mgmt_delete(
        &self,
        ctx: &CallContext,
        req: EptMgmtDeleteRequest,
    ) -> Result<EptMgmtDeleteResponse, RpcFault> {
        if let Some(status) = Self::refuse_remote(ctx) {
            return Ok(EptMgmtDeleteResponse { status });
        }
        let Some(Ok(tower)) = req.tower.get().map(Tower::from_twr) else {
            return Ok(EptMgmtDeleteResponse {
                status: status::EPT_S_INVALID_ENTRY,
            });
        };
        let object =
            (req.object_speced != 0).then(|| req.object.get().copied().unwrap_or_else(Uuid::nil));
        let status = status_of(self.lock().mgmt_delete(object, &tower));
        Ok(EptMgmtDeleteResponse { status })
    }

    async fn ept_map_auth(
        &self,
        ctx: &CallContext,
        req: EptMapAuthRequest,
    ) -> Result<EptMapAuthResponse, RpcFault> {
        let b = self.map(
            ctx,
            &req.object,
            &req.map_tower,
            &req.entry_handle,
            req.max_towers,
        )?;
        Ok(EptMapAuthResponse {
            entry_handle: b.handle,
            num_towers: count(b.items.len()),
            towers: b.items,
            status: b.status,
        })
    }

    fn rundown(&self, assoc_group_id: u32) {
        drop(self.walks.rundown(assoc_group_id));
        self.lock().remove_owner(owner_for_group(assoc_group_id));
    }
}

#[cfg(test)]
mod tests;
