//! `IRemUnknown2` (MS-DCOM 3.1.1.5.7): `IRemUnknown` ([`crate::remunknown`], inherited:
//! `RemQueryInterface`, `RemAddRef`, `RemRelease` with their request and response types) plus
//! `RemQueryInterface2`, which returns whole interface pointers. A service implements both
//! traits; [`RemUnknown2Client`] reaches the inherited operations through `Deref` and calls
//! them on IRemUnknown2.

use msrpc_macros::interface;
use msrpc_ndr::Unique;

use crate::hresult::HResult;
use crate::ids::{Iid, Ipid};
use crate::orpc::MInterfacePointer;

/// `IRemUnknown2` (00000143-0000-0000-c000-000000000046 v0.0), inheriting `IRemUnknown`.
#[interface(uuid = "00000143-0000-0000-c000-000000000046", version = "0.0", orpc)]
pub trait RemUnknown2: crate::remunknown::RemUnknown {
    /// `RemQueryInterface2` (3.1.1.5.7.1.1): interface pointers for `iids`, one HRESULT each.
    #[opnum(6)]
    fn rem_query_interface2(
        #[ndr(in)] ripid: Ipid,
        #[ndr(in)] c_iids: u16,
        #[ndr(in, size_is = "c_iids")] iids: Vec<Iid>,
        #[ndr(out, size_is = "c_iids")] hresults: Vec<HResult>,
        #[ndr(out, size_is = "c_iids")] interface_data: Vec<Unique<MInterfacePointer>>,
    );
}
