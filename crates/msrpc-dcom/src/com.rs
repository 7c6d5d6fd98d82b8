//! COM interfaces as Rust types: [`ComInterface`], what `#[interface(orpc)]` implements on an
//! interface's marker (`FooInterface`), so code that holds an interface pointer can build the
//! interface's generated client for it and check an IID against the type.

use msrpc_proto::dispatch::{Interface, Invoke};

use crate::ids::{Iid, Ipid};

/// A COM (ORPC) interface: its IID is the interface UUID, and its generated client calls one
/// object's interface, named by IPID in every request's object UUID (MS-DCOM 3.1.1.5.1).
/// `#[interface(orpc)]` implements it on the marker type `FooInterface`.
pub trait ComInterface: Interface {
    /// The interface's generated client over the invoker `C` (`FooClient<C>`).
    type Client<C: Invoke>;

    /// The interface's IID.
    const IID: Iid = Self::SYNTAX.uuid;

    /// The client calling the interface `ipid` through `invoke`.
    fn client<C: Invoke>(invoke: C, ipid: Ipid) -> Self::Client<C>;
}
