//! The DCE/RPC endpoint mapper interface `ept` (C706 appendix O; MS-RPCE 2.2.1.2,
//! e1af8308-5d1f-11c9-91a4-08002b14a0fa v3.0) and the remote management interface `mgmt`
//! (C706 appendix Q, afa8bd80-7d8a-11c9-bef4-08002b102989 v1.0), defined with msrpc's
//! `#[interface]`.
//!
//! # Generated API
//! - [`Ept`] (service trait), [`EptServer`] (a `Dispatch`), [`EptClient`], [`EptInterface`],
//!   and per operation `EptLookupRequest` / `EptLookupResponse`, `EptMapRequest` /
//!   `EptMapResponse`, ... (see [`Ept`]'s methods for the list).
//! - [`mgmt`]: the same for the management interface ([`mgmt::Mgmt`], [`mgmt::MgmtServer`], ...).
//! - Wire types: [`Twr`], [`EptEntry`], [`RpcIfId`], [`RpcIfIdVector`]; [`status`] codes.
//!
//! # The endpoint mapper (sans-IO)
//! - [`tower`]: what a `twr_t` means ([`Tower`], [`Floor`]): decode, encode, binding strings.
//! - [`known`]: well-known interface UUIDs with names, descriptions and versions.
//! - [`db`]: the endpoint map ([`EndpointDb`]) with lookup and map matching and paging.
//! - [`EpmService`]: [`Ept`] over a shared [`EndpointDb`]; [`MgmtService`]: [`mgmt::Mgmt`] over
//!   the runtime's interface list and [`MgmtStats`].
//!
//! # Wiring (what the runtime does)
//! ```
//! use std::sync::{Arc, Mutex, RwLock};
//! use msrpc_epm::{mgmt::MgmtServer, EndpointDb, EpmService, EptServer, MgmtService, MgmtStats};
//!
//! let db = Arc::new(Mutex::new(EndpointDb::new()));
//! let epm = EptServer::new(EpmService::new(Arc::clone(&db)));
//! let stats = MgmtStats::new(); // the runtime increments stats.calls_in, ...
//! let if_ids = Arc::new(RwLock::new(Vec::new())); // the runtime keeps it current
//! let mgmt = MgmtServer::new(MgmtService::new(if_ids, stats.clone()));
//! // In-process registrations use owners from IN_PROCESS_OWNER_BASE up; calls over the local
//! // registration channel set CallContext::local and register as their association group.
//! # let _ = (epm, mgmt);
//! ```
//!
//! # IDL mapping
//! `uuid_p_t`, `rpc_if_id_p_t` and `twr_p_t` (pointers to a single value that never alias)
//! are [`Unique`] pointers; top-level `[out] T *x` parameters are plain values;
//! `ept_lookup_handle_t` is a [`ContextHandle`]; the `handle_t`
//! binding parameter of `ept_inq_object` has no wire form and is omitted.
//!
//! `ept_map_auth` (opnum 7) is a Windows extension whose parameters MS-RPCE does not publish
//! (Samba declares it without parameters and never implements it); it is defined here with
//! `ept_map`'s parameters, without any authentication extras.
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod db;
pub mod known;
pub mod mgmt;
pub mod mgmt_service;
pub mod service;
pub mod status;
pub mod tower;
mod types;

pub use db::{EndpointDb, NewEntry};
pub use mgmt_service::{MgmtService, MgmtStats, SharedIfIds};
pub use service::{
    EpmConfig, EpmService, SharedDb, DEFAULT_MAX_BATCH, DEFAULT_MAX_WALKS_PER_GROUP,
};
pub use tower::{Floor, Tower, TowerError};
pub use types::{EptEntry, RpcIfId, RpcIfIdVector, Twr, TwrP};

use msrpc_macros::interface;
use msrpc_ndr::{ContextHandle, Unique, Uuid};

/// `inquiry_type` of `ept_lookup`: all elements.
pub const RPC_C_EP_ALL_ELTS: u32 = 0;
/// `inquiry_type`: elements matching the interface.
pub const RPC_C_EP_MATCH_BY_IF: u32 = 1;
/// `inquiry_type`: elements matching the object.
pub const RPC_C_EP_MATCH_BY_OBJ: u32 = 2;
/// `inquiry_type`: elements matching both.
pub const RPC_C_EP_MATCH_BY_BOTH: u32 = 3;
/// `vers_option`: all versions.
pub const RPC_C_VERS_ALL: u32 = 1;
/// `vers_option`: compatible versions.
pub const RPC_C_VERS_COMPATIBLE: u32 = 2;
/// `vers_option`: exactly this version.
pub const RPC_C_VERS_EXACT: u32 = 3;
/// `vers_option`: same major version, minor version at most this.
pub const RPC_C_VERS_MAJOR_ONLY: u32 = 4;
/// `vers_option`: versions up to this.
pub const RPC_C_VERS_UPTO: u32 = 5;

/// The endpoint mapper interface (`ept`, e1af8308-5d1f-11c9-91a4-08002b14a0fa v3.0).
#[interface(uuid = "e1af8308-5d1f-11c9-91a4-08002b14a0fa", version = "3.0")]
pub trait Ept {
    /// `ept_insert`: registers `entries` (replacing existing ones when `replace` is non-zero).
    #[opnum(0)]
    fn ept_insert(
        #[ndr(in)] num_ents: u32,
        #[ndr(in, size_is = "num_ents")] entries: Vec<EptEntry>,
        #[ndr(in)] replace: u32,
        #[ndr(out)] status: u32,
    );

    /// `ept_delete`: removes `entries`.
    #[opnum(1)]
    fn ept_delete(
        #[ndr(in)] num_ents: u32,
        #[ndr(in, size_is = "num_ents")] entries: Vec<EptEntry>,
        #[ndr(out)] status: u32,
    );

    /// `ept_lookup`: lists registered elements, `max_ents` at a time, resuming with
    /// `entry_handle`.
    #[opnum(2)]
    fn ept_lookup(
        #[ndr(in)] inquiry_type: u32,
        #[ndr(in)] object: Unique<Uuid>,
        #[ndr(in)] interface_id: Unique<RpcIfId>,
        #[ndr(in)] vers_option: u32,
        #[ndr(in, out)] entry_handle: ContextHandle,
        #[ndr(in)] max_ents: u32,
        #[ndr(out)] num_ents: u32,
        #[ndr(out, size_is = "max_ents", length_is = "num_ents")] entries: Vec<EptEntry>,
        #[ndr(out)] status: u32,
    );

    /// `ept_map`: the towers of servers compatible with `map_tower` (and `object`).
    #[opnum(3)]
    fn ept_map(
        #[ndr(in)] object: Unique<Uuid>,
        #[ndr(in)] map_tower: Unique<Twr>,
        #[ndr(in, out)] entry_handle: ContextHandle,
        #[ndr(in)] max_towers: u32,
        #[ndr(out)] num_towers: u32,
        #[ndr(out, size_is = "max_towers", length_is = "num_towers")] towers: Vec<Unique<Twr>>,
        #[ndr(out)] status: u32,
    );

    /// `ept_lookup_handle_free`: releases a lookup context.
    #[opnum(4)]
    fn ept_lookup_handle_free(#[ndr(in, out)] entry_handle: ContextHandle, #[ndr(out)] status: u32);

    /// `ept_inq_object`: the endpoint mapper's object UUID.
    #[opnum(5)]
    fn ept_inq_object(#[ndr(out)] ept_object: Uuid, #[ndr(out)] status: u32);

    /// `ept_mgmt_delete`: removes the elements matching `object` (when `object_speced`) and
    /// `tower`.
    #[opnum(6)]
    fn ept_mgmt_delete(
        #[ndr(in)] object_speced: u32,
        #[ndr(in)] object: Unique<Uuid>,
        #[ndr(in)] tower: Unique<Twr>,
        #[ndr(out)] status: u32,
    );

    /// `ept_map_auth` (Windows): defined with `ept_map`'s parameters (see the crate docs).
    #[opnum(7)]
    fn ept_map_auth(
        #[ndr(in)] object: Unique<Uuid>,
        #[ndr(in)] map_tower: Unique<Twr>,
        #[ndr(in, out)] entry_handle: ContextHandle,
        #[ndr(in)] max_towers: u32,
        #[ndr(out)] num_towers: u32,
        #[ndr(out, size_is = "max_towers", length_is = "num_towers")] towers: Vec<Unique<Twr>>,
        #[ndr(out)] status: u32,
    );
}

#[cfg(test)]
mod tests;
