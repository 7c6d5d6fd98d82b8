//! DCOM (MS-DCOM, the Distributed Component Object Model Remote Protocol) on msrpc's NDR and
//! DCE/RPC core: a sans-IO foundation (wire types, codecs, interface definitions, the object
//! tables with ping-driven garbage collection), and behind features a client (`rt`) and COM
//! class hosting (`server`).
//!
//! # What it does
//! - Identifiers and well-known GUIDs ([`ids`]: OXID, OID, SETID, IPID, CID, CLSID, IID;
//!   MS-DCOM 2.2.1-2.2.10, 1.9) and HRESULTs ([`hresult`]).
//! - ORPC headers ([`orpc`]: COMVERSION, ORPC_EXTENT(_ARRAY), ORPCTHIS, ORPCTHAT with
//!   extensions kept opaque, MInterfacePointer, STDOBJREF, REMINTERFACEREF, REMQIRESULT), all
//!   `#[derive(Ndr)]`.
//! - OBJREF in its four flavours ([`objref`], a bounded little-endian codec: an OBJREF is a byte
//!   layout inside an MInterfacePointer, not NDR).
//! - DUALSTRINGARRAY ([`dualstring`]): the NDR structure, its packet form, and the parsed string
//!   and security bindings.
//! - The activation properties BLOB ([`activation`]): CustomHeader, type serialization version 1
//!   (MS-RPCE 2.2.6), every property of MS-DCOM 2.2.22.2, unknown properties kept opaque, all
//!   under [`activation::ActivationLimits`].
//! - Interfaces defined with `#[interface]`: [`resolver`] (IObjectExporter), [`activator`]
//!   (IRemoteSCMActivator, IActivation), [`remunknown`] (IRemUnknown), [`remunknown2`]
//!   (IRemUnknown2, inheriting IRemUnknown's operations): request/response types, service
//!   traits, servers and clients. [`ComInterface`] is what every `#[interface(orpc)]`
//!   implements (the IID, the generated client for an IPID); [`ComPtr`]`<I>` is an interface
//!   pointer typed by its interface, which generated code marshals as an `MInterfacePointer`
//!   and refuses when marshaled for another IID.
//! - [`tables`]: exporters, objects, IPIDs and ping sets with reference counting and garbage
//!   collection; time is an argument, nothing reads a clock.
//! - [`ping`]: the client's side of garbage collection, one ping set's state (what the next
//!   ping sends, what an answer or a failure changes).
//!
//! - With the `rt` feature, `client`: a client over `msrpc-rt` (MS-DCOM 3.2): ServerAlive2
//!   host discovery; activation and the exporter's address; `DcomClient::create_instance`
//!   returning owned interface handles (`ComRef`: released when dropped, through a background
//!   task batching `RemRelease`s, or by `release().await`; `add_ref`, `query_interface`, the
//!   interface's generated client); a ping task per resolver keeping the held objects alive on
//!   a timer (`PingTask`). Every wait bounded, background failures counted.
//! - With the `server` feature, `server`: hosting COM classes. `DcomHost` (one object
//!   exporter: the tables, the registered classes, the minimum activation authentication
//!   level, garbage collection) and its services: the OXID resolver, the activators
//!   (RemoteCreateInstance, RemoteGetClassObject, RemoteActivation) and IRemUnknown(2); what
//!   they decide is reported as `server::DcomEvent`s to an observer; `server::demo` is the
//!   demo calculator class. With `rt` as well, the host adds its services to an
//!   `msrpc_rt::Server` builder and runs its collector on a tokio task.
//!
//! # What it does not do
//! Without the `rt` and `server` features: no IO, sockets, tasks or clock. `server` reads the
//! clock and the host name (for the bindings it advertises), never a socket; only `rt` runs
//! servers, clients and timers. It does not write audit records (the observer's owner does),
//! decide per-class launch or access permissions, host classes of another process, build the
//! OBJREF of an `[in]` interface pointer from a client's handle, or speak NDR64.
//! Context (2.2.20) and error-information (2.2.21) extensions are carried as opaque ORPC
//! extents, not decoded.
//!
//! # Limits
//! Every decode is bounded: NDR by `msrpc_ndr::DecodeLimits` (counts checked with
//! `Reader::reserve` before allocation), activation blobs by [`activation::ActivationLimits`],
//! bindings by [`dualstring::BindingLimits`], tables by [`tables::GcConfig`]. OBJREFs never
//! allocate more than their input.
//!
//! # Example
//! ```
//! use msrpc_dcom::activation::{ActivationBlob, ActivationLimits, InstantiationInfoData, Property};
//! use msrpc_dcom::ids::guids;
//!
//! let clsid = msrpc_ndr::Uuid::from_u128(0x49b2791a_b1ae_4c90_9b8e_e860ba07f889);
//! let info = InstantiationInfoData::new(clsid, vec![guids::IID_IUNKNOWN])?;
//! let blob = ActivationBlob::new(vec![Property::InstantiationInfo(info)]);
//! // What RemoteCreateInstance carries in pActProperties: an OBJREF_CUSTOM around the blob.
//! let ip = blob.to_interface_pointer(true)?;
//! let back = ActivationBlob::from_interface_pointer(&ip, &ActivationLimits::DEFAULT)?;
//! assert_eq!(back.instantiation_info().map(|i| i.class_id), Some(clsid));
//! # Ok::<(), msrpc_dcom::DcomError>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

// `#[interface(orpc)]` names `::msrpc_dcom::...`: let this crate's own interfaces (`demo`) do so.
extern crate self as msrpc_dcom;

pub mod activation;
pub mod activator;
#[cfg(feature = "rt")]
pub mod client;
pub mod com;
pub mod demo;
pub mod dualstring;
mod error;
pub mod hresult;
pub mod ids;
mod le;
pub mod local;
pub mod objref;
pub mod orpc;
pub mod ping;
pub mod remunknown;
pub mod remunknown2;
pub mod resolver;
#[cfg(feature = "server")]
pub mod server;
pub mod tables;

pub use com::{ComInterface, ComPtr};
pub use error::{DcomError, DcomResult};
pub use hresult::HResult;
pub use ids::{Cid, Clsid, Iid, Ipid, Oid, Oxid, SetId};
pub use objref::ObjRef;
pub use orpc::{ComVersion, MInterfacePointer, OrpcThat, OrpcThis, StdObjRef};

/// Entry points for the fuzz targets (`fuzz/fuzz_targets/dcom_*.rs`): each decodes, and when
/// that succeeds encodes and decodes again and checks the two values are equal.
#[doc(hidden)]
pub mod fuzzing {
    use msrpc_ndr::{DataRep, DecodeLimits};

    use crate::activation::{ActivationBlob, ActivationLimits};
    use crate::dualstring::{BindingLimits, DualStringArray};
    use crate::objref::ObjRef;
    use crate::orpc::OrpcThis;

    /// OBJREF: decode -> encode -> decode.
    #[allow(clippy::panic)]
    pub fn objref(data: &[u8]) {
        if let Ok(v) = ObjRef::decode(data) {
            let bytes = v
                .encode()
                .unwrap_or_else(|e| panic!("re-encode failed: {e}"));
            let again = ObjRef::decode(&bytes).unwrap_or_else(|e| panic!("re-decode failed: {e}"));
            assert_eq!(v, again);
        }
    }

    /// DUALSTRINGARRAY: NDR decode -> encode -> decode, and the bindings view: parse ->
    /// from_bindings -> parse.
    #[allow(clippy::panic)]
    pub fn dualstringarray(data: &[u8]) {
        let limits = DecodeLimits::DEFAULT;
        if let Ok(v) =
            msrpc_ndr::from_prefix::<DualStringArray>(data, DataRep::LITTLE_ENDIAN, limits)
        {
            let bytes = msrpc_ndr::to_bytes(&v, DataRep::LITTLE_ENDIAN)
                .unwrap_or_else(|e| panic!("re-encode failed: {e}"));
            let again: DualStringArray =
                msrpc_ndr::from_bytes(&bytes, DataRep::LITTLE_ENDIAN, limits)
                    .unwrap_or_else(|e| panic!("re-decode failed: {e}"));
            assert_eq!(v, again);
            if let Ok(b) = v.parse(&BindingLimits::DEFAULT) {
                let dsa = DualStringArray::from_bindings(&b)
                    .unwrap_or_else(|e| panic!("from_bindings failed: {e}"));
                let b2 = dsa
                    .parse(&BindingLimits::DEFAULT)
                    .unwrap_or_else(|e| panic!("re-parse failed: {e}"));
                assert_eq!(b, b2);
            }
        }
    }

    /// Activation blob (as an OBJREF_CUSTOM's data): decode -> encode -> decode.
    #[allow(clippy::panic)]
    pub fn activation_blob(data: &[u8]) {
        let limits = ActivationLimits::DEFAULT;
        if let Ok(v) = ActivationBlob::decode(data, &limits) {
            let bytes = v
                .encode()
                .unwrap_or_else(|e| panic!("re-encode failed: {e}"));
            let again = ActivationBlob::decode(&bytes, &limits)
                .unwrap_or_else(|e| panic!("re-decode failed: {e}"));
            assert_eq!(v, again);
        }
    }

    /// ORPCTHIS (as the start of a request stub): decode -> encode -> decode, both byte orders.
    #[allow(clippy::panic)]
    pub fn orpcthis(data: &[u8]) {
        let drep = if data.first().is_some_and(|b| b & 1 == 1) {
            DataRep::BIG_ENDIAN
        } else {
            DataRep::LITTLE_ENDIAN
        };
        let data = data.get(1..).unwrap_or(&[]);
        let limits = DecodeLimits::DEFAULT;
        if let Ok(v) = msrpc_ndr::from_prefix::<OrpcThis>(data, drep, limits) {
            let bytes =
                msrpc_ndr::to_bytes(&v, drep).unwrap_or_else(|e| panic!("re-encode failed: {e}"));
            let again: OrpcThis = msrpc_ndr::from_bytes(&bytes, drep, limits)
                .unwrap_or_else(|e| panic!("re-decode failed: {e}"));
            assert_eq!(v, again);
        }
    }
}
