//! `IRemUnknown2` (MS-DCOM 3.1.1.5.7): [`crate::remunknown`]'s operations plus
//! `RemQueryInterface2`, which returns whole interface pointers.

use msrpc_macros::interface;
use msrpc_ndr::Unique;

use crate::hresult::HResult;
use crate::ids::{Iid, Ipid};
use crate::orpc::{MInterfacePointer, OrpcThat, OrpcThis, RemInterfaceRef, RemQiResult};

/// `IRemUnknown2` (00000143-0000-0000-c000-000000000046 v0.0).
#[interface(uuid = "00000143-0000-0000-c000-000000000046", version = "0.0")]
pub trait RemUnknown2 {
    /// `RemQueryInterface` (3.1.1.5.6.1.1).
    #[opnum(3)]
    fn rem_query_interface(
        #[ndr(in)] orpcthis: OrpcThis,
        #[ndr(out)] orpcthat: OrpcThat,
        #[ndr(in)] ripid: Ipid,
        #[ndr(in)] c_refs: u32,
        #[ndr(in)] c_iids: u16,
        #[ndr(in, size_is = "c_iids")] iids: Vec<Iid>,
        #[ndr(out, size_is = "c_iids")] qi_results: Unique<Vec<RemQiResult>>,
    ) -> HResult;

    /// `RemAddRef` (3.1.1.5.6.1.2).
    #[opnum(4)]
    fn rem_add_ref(
        #[ndr(in)] orpcthis: OrpcThis,
        #[ndr(out)] orpcthat: OrpcThat,
        #[ndr(in)] c_interface_refs: u16,
        #[ndr(in, size_is = "c_interface_refs")] interface_refs: Vec<RemInterfaceRef>,
        #[ndr(out, size_is = "c_interface_refs")] results: Vec<HResult>,
    ) -> HResult;

    /// `RemRelease` (3.1.1.5.6.1.3).
    #[opnum(5)]
    fn rem_release(
        #[ndr(in)] orpcthis: OrpcThis,
        #[ndr(out)] orpcthat: OrpcThat,
        #[ndr(in)] c_interface_refs: u16,
        #[ndr(in, size_is = "c_interface_refs")] interface_refs: Vec<RemInterfaceRef>,
    ) -> HResult;

    /// `RemQueryInterface2` (3.1.1.5.7.1.1): interface pointers for `iids`, one HRESULT each.
    #[opnum(6)]
    fn rem_query_interface2(
        #[ndr(in)] orpcthis: OrpcThis,
        #[ndr(out)] orpcthat: OrpcThat,
        #[ndr(in)] ripid: Ipid,
        #[ndr(in)] c_iids: u16,
        #[ndr(in, size_is = "c_iids")] iids: Vec<Iid>,
        #[ndr(out, size_is = "c_iids")] hresults: Vec<HResult>,
        #[ndr(out, size_is = "c_iids")] interface_data: Vec<Unique<MInterfacePointer>>,
    ) -> HResult;
}
