//! `IRemUnknown` (MS-DCOM 3.1.1.5.6): remote QueryInterface and reference counting, served by
//! every object exporter at its IRemUnknown IPID. An ORPC interface (`orpc`): ORPCTHIS first in
//! every request, ORPCTHAT first in every response, the HRESULT last.

use msrpc_macros::interface;
use msrpc_ndr::Unique;

use crate::hresult::HResult;
use crate::ids::{Iid, Ipid};
use crate::orpc::{RemInterfaceRef, RemQiResult};

/// `IRemUnknown` (00000131-0000-0000-c000-000000000046 v0.0). [`crate::remunknown2`]'s
/// `IRemUnknown2` inherits it.
#[interface(uuid = "00000131-0000-0000-c000-000000000046", version = "0.0", orpc)]
pub trait RemUnknown {
    /// `RemQueryInterface` (3.1.1.5.6.1.1): new interfaces of the object behind `ripid`.
    #[opnum(3)]
    fn rem_query_interface(
        #[ndr(in)] ripid: Ipid,
        #[ndr(in)] c_refs: u32,
        #[ndr(in)] c_iids: u16,
        #[ndr(in, size_is = "c_iids")] iids: Vec<Iid>,
        #[ndr(out, size_is = "c_iids")] qi_results: Unique<Vec<RemQiResult>>,
    );

    /// `RemAddRef` (3.1.1.5.6.1.2): adds references; one result per entry.
    #[opnum(4)]
    fn rem_add_ref(
        #[ndr(in)] c_interface_refs: u16,
        #[ndr(in, size_is = "c_interface_refs")] interface_refs: Vec<RemInterfaceRef>,
        #[ndr(out, size_is = "c_interface_refs")] results: Vec<HResult>,
    );

    /// `RemRelease` (3.1.1.5.6.1.3): drops references.
    #[opnum(5)]
    fn rem_release(
        #[ndr(in)] c_interface_refs: u16,
        #[ndr(in, size_is = "c_interface_refs")] interface_refs: Vec<RemInterfaceRef>,
    );
}
