//! Identifiers of MS-DCOM 2.2.1-2.2.10 and the well-known GUIDs of MS-DCOM 1.9.

use std::fmt;

use msrpc_ndr::{Ndr, Uuid};

macro_rules! id64 {
    ($(#[$m:meta])* $name:ident, $section:literal) => {
        $(#[$m])*
        #[doc = concat!("\n\nA 64-bit value (NDR `unsigned hyper`, MS-DCOM ", $section, ").")]
        #[derive(Ndr, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u64);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:#018x})"), self.0)
            }
        }
    };
}

id64!(
    /// `OXID`: identifies an object exporter.
    Oxid,
    "2.2.10"
);
id64!(
    /// `OID`: identifies an object.
    Oid,
    "2.2.1"
);
id64!(
    /// `SETID`: identifies a ping set.
    SetId,
    "2.2.2"
);

/// `IPID` (MS-DCOM 2.2.9): identifies an interface of an object in an object exporter. It is
/// the object UUID of every ORPC request to that interface.
#[derive(Ndr, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipid(pub Uuid);

impl fmt::Debug for Ipid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ipid({})", self.0)
    }
}

impl From<Uuid> for Ipid {
    fn from(u: Uuid) -> Self {
        Ipid(u)
    }
}

/// `CID` (MS-DCOM 2.2.6): the causality id of a chain of calls (a GUID).
pub type Cid = Uuid;
/// `CLSID` (MS-DCOM 2.2.7): identifies an object class (a GUID).
pub type Clsid = Uuid;
/// `IID` (MS-DCOM 2.2.8): identifies an interface (a GUID).
pub type Iid = Uuid;

/// Well-known GUIDs (MS-DCOM 1.9 "Standards Assignments"; interface UUIDs of 3.1.1.5 and 3.1.2.5).
pub mod guids {
    use super::Uuid;

    const fn ole(data1: u32) -> Uuid {
        // {xxxxxxxx-0000-0000-C000-000000000046}
        Uuid::from_u128(((data1 as u128) << 96) | 0x0000_0000_c000_0000_0000_0046)
    }

    /// `IID_IUnknown`.
    pub const IID_IUNKNOWN: Uuid = ole(0x0000_0000);
    /// `IID_IClassFactory`.
    pub const IID_ICLASS_FACTORY: Uuid = ole(0x0000_0001);
    /// `IID_IRemUnknown` (3.1.1.5.6).
    pub const IID_IREM_UNKNOWN: Uuid = ole(0x0000_0131);
    /// `IID_IRemUnknown2` (3.1.1.5.7).
    pub const IID_IREM_UNKNOWN2: Uuid = ole(0x0000_0143);
    /// `IID_IRemoteSCMActivator` (3.1.2.5.2.2).
    pub const IID_IREMOTE_SCM_ACTIVATOR: Uuid = ole(0x0000_01a0);
    /// `IID_IActivation` (3.1.2.5.2.1).
    pub const IID_IACTIVATION: Uuid = Uuid::from_u128(0x4d9f4ab8_7d1c_11cf_861e_0020af6e7c57);
    /// `IID_IObjectExporter` (3.1.2.5.1).
    pub const IID_IOBJECT_EXPORTER: Uuid = Uuid::from_u128(0x99fcfec4_5260_101b_bbcb_00aa0021347a);
    /// `IID_IActivationPropertiesIn`: the `iid` of the OBJREF around an activation request.
    pub const IID_IACTIVATION_PROPERTIES_IN: Uuid = ole(0x0000_01a2);
    /// `IID_IActivationPropertiesOut`: the `iid` of the OBJREF around an activation reply.
    pub const IID_IACTIVATION_PROPERTIES_OUT: Uuid = ole(0x0000_01a3);
    /// `IID_IContext` (2.2.20).
    pub const IID_ICONTEXT: Uuid = ole(0x0000_01c0);

    /// `CLSID_ActivationContextInfo` (2.2.22.2.5).
    pub const CLSID_ACTIVATION_CONTEXT_INFO: Uuid = ole(0x0000_01a5);
    /// `CLSID_ActivationPropertiesIn`: the `clsid` of the OBJREF_CUSTOM around a request blob.
    pub const CLSID_ACTIVATION_PROPERTIES_IN: Uuid = ole(0x0000_0338);
    /// `CLSID_ActivationPropertiesOut`: the `clsid` of the OBJREF_CUSTOM around a reply blob.
    pub const CLSID_ACTIVATION_PROPERTIES_OUT: Uuid = ole(0x0000_0339);
    /// `CLSID_CONTEXT_EXTENSION` (2.2.21.4): the ORPC extension carrying a context.
    pub const CLSID_CONTEXT_EXTENSION: Uuid = ole(0x0000_0334);
    /// `CLSID_ContextMarshaler` (2.2.20).
    pub const CLSID_CONTEXT_MARSHALER: Uuid = ole(0x0000_033b);
    /// `CLSID_ERROR_EXTENSION` (2.2.21.1): the ORPC extension carrying error information.
    pub const CLSID_ERROR_EXTENSION: Uuid = ole(0x0000_031c);
    /// `CLSID_ErrorObject` (2.2.21.2).
    pub const CLSID_ERROR_OBJECT: Uuid = ole(0x0000_031b);
    /// `CLSID_InstanceInfo` (2.2.22.2.3).
    pub const CLSID_INSTANCE_INFO: Uuid = ole(0x0000_01ad);
    /// `CLSID_InstantiationInfo` (2.2.22.2.1).
    pub const CLSID_INSTANTIATION_INFO: Uuid = ole(0x0000_01ab);
    /// `CLSID_PropsOutInfo` (2.2.22.2.9); the same value as `CLSID_ActivationPropertiesOut`.
    pub const CLSID_PROPS_OUT_INFO: Uuid = ole(0x0000_0339);
    /// `CLSID_ScmReplyInfo` (2.2.22.2.8).
    pub const CLSID_SCM_REPLY_INFO: Uuid = ole(0x0000_01b6);
    /// `CLSID_ScmRequestInfo` (2.2.22.2.4).
    pub const CLSID_SCM_REQUEST_INFO: Uuid = ole(0x0000_01aa);
    /// `CLSID_SecurityInfo` (2.2.22.2.7).
    pub const CLSID_SECURITY_INFO: Uuid = ole(0x0000_01a6);
    /// `CLSID_ServerLocationInfo` (2.2.22.2.6).
    pub const CLSID_SERVER_LOCATION_INFO: Uuid = ole(0x0000_01a4);
    /// `CLSID_SpecialSystemProperties` (2.2.22.2.2).
    pub const CLSID_SPECIAL_SYSTEM_PROPERTIES: Uuid = ole(0x0000_01b9);
}

#[cfg(test)]
mod tests {
    use super::guids::*;

    #[test]
    fn ole_guids_have_the_ole_suffix() {
        assert_eq!(
            IID_IREM_UNKNOWN2.to_string(),
            "00000143-0000-0000-c000-000000000046"
        );
        assert_eq!(
            CLSID_SCM_REPLY_INFO.to_string(),
            "000001b6-0000-0000-c000-000000000046"
        );
    }
}
