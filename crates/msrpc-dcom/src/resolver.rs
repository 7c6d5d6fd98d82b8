//! `IObjectExporter` (MS-DCOM 3.1.2.5.1), the OXID resolver on port 135: plain RPC (no
//! ORPCTHIS), every operation returns an `error_status_t`.
//!
//! IDL mapping: `[in] OXID* pOxid` and the other top-level `[ref]` pointers are plain values;
//! `DUALSTRINGARRAY**` outputs are [`Unique`]`<`[`DualStringArray`]`>`; ComplexPing's
//! `[unique, size_is(n)] OID[]` arrays are `Option<Vec<Oid>>`; the `handle_t` has no wire
//! form.

use msrpc_macros::interface;
use msrpc_ndr::Unique;

use crate::dualstring::DualStringArray;
use crate::ids::{Ipid, Oid, Oxid, SetId};
use crate::orpc::ComVersion;

/// `IObjectExporter` (99fcfec4-5260-101b-bbcb-00aa0021347a v0.0).
#[interface(uuid = "99fcfec4-5260-101b-bbcb-00aa0021347a", version = "0.0")]
pub trait ObjectExporter {
    /// `ResolveOxid` (3.1.2.5.1.1): the bindings of an object exporter.
    #[opnum(0)]
    fn resolve_oxid(
        #[ndr(in)] oxid: Oxid,
        #[ndr(in)] c_requested_protseqs: u16,
        #[ndr(in, size_is = "c_requested_protseqs")] requested_protseqs: Vec<u16>,
        #[ndr(out)] oxid_bindings: Unique<DualStringArray>,
        #[ndr(out)] ipid_rem_unknown: Ipid,
        #[ndr(out)] authn_hint: u32,
    ) -> u32;

    /// `SimplePing` (3.1.2.5.1.2): keeps a ping set alive.
    #[opnum(1)]
    fn simple_ping(#[ndr(in)] set_id: SetId) -> u32;

    /// `ComplexPing` (3.1.2.5.1.3): creates (set id 0) or changes a ping set, and pings it.
    #[opnum(2)]
    fn complex_ping(
        #[ndr(in, out)] set_id: SetId,
        #[ndr(in)] sequence_num: u16,
        #[ndr(in)] c_add_to_set: u16,
        #[ndr(in)] c_del_from_set: u16,
        #[ndr(in, size_is = "c_add_to_set")] add_to_set: Option<Vec<Oid>>,
        #[ndr(in, size_is = "c_del_from_set")] del_from_set: Option<Vec<Oid>>,
        #[ndr(out)] ping_backoff_factor: u16,
    ) -> u32;

    /// `ServerAlive` (3.1.2.5.1.4).
    #[opnum(3)]
    fn server_alive() -> u32;

    /// `ResolveOxid2` (3.1.2.5.1.5): `ResolveOxid` plus the exporter's COM version.
    #[opnum(4)]
    fn resolve_oxid2(
        #[ndr(in)] oxid: Oxid,
        #[ndr(in)] c_requested_protseqs: u16,
        #[ndr(in, size_is = "c_requested_protseqs")] requested_protseqs: Vec<u16>,
        #[ndr(out)] oxid_bindings: Unique<DualStringArray>,
        #[ndr(out)] ipid_rem_unknown: Ipid,
        #[ndr(out)] authn_hint: u32,
        #[ndr(out)] com_version: ComVersion,
    ) -> u32;

    /// `ServerAlive2` (3.1.2.5.1.6): the resolver's COM version and bindings.
    #[opnum(5)]
    fn server_alive2(
        #[ndr(out)] com_version: ComVersion,
        #[ndr(out)] or_bindings: Unique<DualStringArray>,
        #[ndr(out)] reserved: u32,
    ) -> u32;
}
