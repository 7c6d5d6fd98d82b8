//! The activation interfaces on port 135: `IRemoteSCMActivator` (MS-DCOM 3.1.2.5.2.2, opnums 3
//! and 4; opnums 0-2 are not used on the wire) and `IActivation` (3.1.2.5.2.1).
//!
//! These are not object interfaces, so their IDL names ORPCTHIS/ORPCTHAT as explicit first
//! parameters; `pActProperties` blobs are [`MInterfacePointer`]s whose OBJREF_CUSTOM
//! [`crate::activation::ActivationBlob`] decodes.

use msrpc_macros::interface;
use msrpc_ndr::Unique;

use crate::activation::ActivationLimits;
use crate::dualstring::DualStringArray;
use crate::error::{DcomError, DcomResult};
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

impl RemoteActivationRequest {
    /// Bounds every peer-controlled size of a `RemoteActivation` before anything uses it (the
    /// MS03-026 shape is a long `pwszObjectName`): the object name's length, the interface
    /// and protocol sequence counts (and that `pIIDs` holds `Interfaces` IIDs, 1 at least).
    pub fn check(&self, limits: &ActivationLimits) -> DcomResult<()> {
        if let Some(name) = &self.object_name {
            let units = name.encode_utf16().count();
            if units > limits.max_string_units {
                return Err(DcomError::Limit {
                    what: "RemoteActivation.pwszObjectName",
                    value: units as u64,
                    limit: limits.max_string_units as u64,
                });
            }
        }
        if self.interfaces == 0 || self.interfaces > limits.max_interfaces {
            return Err(DcomError::Limit {
                what: "RemoteActivation.Interfaces",
                value: u64::from(self.interfaces),
                limit: u64::from(limits.max_interfaces),
            });
        }
        if self.iids.as_ref().map(Vec::len) != usize::try_from(self.interfaces).ok() {
            return Err(DcomError::Invalid(
                "RemoteActivation: pIIDs does not hold Interfaces IIDs",
            ));
        }
        if self.c_requested_protseqs > limits.max_protseqs {
            return Err(DcomError::Limit {
                what: "RemoteActivation.cRequestedProtseqs",
                value: u64::from(self.c_requested_protseqs),
                limit: u64::from(limits.max_protseqs),
            });
        }
        if let Some(storage) = self.object_storage.get() {
            crate::objref::ObjRef::decode(&storage.data)?;
        }
        Ok(())
    }
}
