//! The activation interfaces on port 135: `IRemoteSCMActivator` (MS-DCOM 3.1.2.5.2.2, opnums 3
//! and 4; opnums 0-2 are not used on the wire) and `IActivation` (3.1.2.5.2.1).
//!
//! These are not object interfaces, so their IDL names ORPCTHIS/ORPCTHAT as explicit first
//! parameters; `pActProperties` blobs are [`MInterfacePointer`]s whose OBJREF_CUSTOM
//! [`crate::activation::ActivationBlob`] decodes.

use msrpc_macros::interface;
use msrpc_ndr::Unique;

use crate::dualstring::DualStringArray;
use crate::hresult::HResult;
use crate::ids::{Clsid, Iid, Ipid, Oxid};
use crate::orpc::{ComVersion, MInterfacePointer, OrpcThat, OrpcThis};

/// `IRemoteSCMActivator` (000001a0-0000-0000-c000-000000000046 v0.0).
#[interface(uuid = "000001a0-0000-0000-c000-000000000046", version = "0.0")]
pub trait RemoteScmActivator {
    /// `RemoteGetClassObject` (3.1.2.5.2.3.2): a class factory.
    #[opnum(3)]
    fn remote_get_class_object(
        #[ndr(in)] orpcthis: OrpcThis,
        #[ndr(out)] orpcthat: OrpcThat,
        #[ndr(in)] act_properties: Unique<MInterfacePointer>,
        #[ndr(out)] act_properties_out: Unique<MInterfacePointer>,
    ) -> HResult;

    /// `RemoteCreateInstance` (3.1.2.5.2.3.3): a new object.
    #[opnum(4)]
    fn remote_create_instance(
        #[ndr(in)] orpcthis: OrpcThis,
        #[ndr(out)] orpcthat: OrpcThat,
        #[ndr(in)] unk_outer: Unique<MInterfacePointer>,
        #[ndr(in)] act_properties: Unique<MInterfacePointer>,
        #[ndr(out)] act_properties_out: Unique<MInterfacePointer>,
    ) -> HResult;
}

/// `IActivation` (4d9f4ab8-7d1c-11cf-861e-0020af6e7c57 v0.0), the legacy activator.
#[interface(uuid = "4d9f4ab8-7d1c-11cf-861e-0020af6e7c57", version = "0.0")]
pub trait Activation {
    /// `RemoteActivation` (3.1.2.5.2.3.1). `object_name` is the string MS03-026 overflowed:
    /// bound it before use.
    #[opnum(0)]
    fn remote_activation(
        #[ndr(in)] orpcthis: OrpcThis,
        #[ndr(out)] orpcthat: OrpcThat,
        #[ndr(in)] clsid: Clsid,
        #[ndr(in, string)] object_name: Option<String>,
        #[ndr(in)] object_storage: Unique<MInterfacePointer>,
        #[ndr(in)] client_imp_level: u32,
        #[ndr(in)] mode: u32,
        #[ndr(in)] interfaces: u32,
        #[ndr(in, size_is = "interfaces")] iids: Option<Vec<Iid>>,
        #[ndr(in)] c_requested_protseqs: u16,
        #[ndr(in, size_is = "c_requested_protseqs")] requested_protseqs: Vec<u16>,
        #[ndr(out)] oxid: Oxid,
        #[ndr(out)] oxid_bindings: Unique<DualStringArray>,
        #[ndr(out)] ipid_rem_unknown: Ipid,
        #[ndr(out)] authn_hint: u32,
        #[ndr(out)] server_version: ComVersion,
        #[ndr(out)] hr: HResult,
        #[ndr(out, size_is = "interfaces")] interface_data: Vec<Unique<MInterfacePointer>>,
        #[ndr(out, size_is = "interfaces")] results: Vec<HResult>,
    ) -> u32;
}
