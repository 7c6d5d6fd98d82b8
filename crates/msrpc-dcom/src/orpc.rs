//! The ORPC headers (MS-DCOM 2.2.11-2.2.14, 2.2.18.1, 2.2.23-2.2.25): COMVERSION, ORPC
//! extents, ORPCTHIS/ORPCTHAT, MInterfacePointer, STDOBJREF, REMINTERFACEREF, REMQIRESULT, all
//! `#[derive(Ndr)]`.

use msrpc_ndr::{Ndr, Unique, Uuid};

use crate::hresult::HResult;
use crate::ids::{Cid, Ipid, Oid, Oxid};

/// `COMVERSION` (MS-DCOM 2.2.11): the DCOM protocol version of a client or server.
#[derive(Ndr, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ComVersion {
    /// `MajorVersion` (5 for every DCOM release).
    pub major: u16,
    /// `MinorVersion` (1 to 7; 5.7 is the current version).
    pub minor: u16,
}

impl ComVersion {
    /// The major version all DCOM releases carry.
    pub const MAJOR: u16 = 5;
    /// The version this implementation speaks: 5.7 (MS-DCOM 1.7).
    pub const CURRENT: ComVersion = ComVersion { major: 5, minor: 7 };

    /// Checks a client's version as a server must (MS-DCOM 3.1.1.5.4, 3.1.2.5.2.3): major 5 and
    /// a minor version no higher than ours; otherwise `RPC_E_VERSION_MISMATCH`.
    pub fn check_client(self) -> Result<(), HResult> {
        if self.major == Self::MAJOR && self.minor <= Self::CURRENT.minor {
            Ok(())
        } else {
            Err(HResult::RPC_E_VERSION_MISMATCH)
        }
    }
}

/// `ORPC_EXTENT` (MS-DCOM 2.2.13.1): one extension to ORPCTHIS/ORPCTHAT, opaque to this crate.
/// `data` holds `size` bytes rounded up to a multiple of 8 (the IDL's
/// `[size_is((size+7)&~7)]`); [`OrpcExtent::payload`] gives the first `size` of them.
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct OrpcExtent {
    /// `id`: what the extension is (e.g. `CLSID_ERROR_EXTENSION`).
    pub id: Uuid,
    /// `size`: the number of meaningful bytes in `data`.
    pub size: u32,
    /// `data`: the extension bytes, padded to a multiple of 8.
    #[ndr(size_is = "(u64::from(*size) + 7) & !7")]
    pub data: Vec<u8>,
}

impl OrpcExtent {
    /// An extent carrying `payload` (padded with zeros to a multiple of 8). `None` when the
    /// payload is longer than `u32::MAX` bytes.
    pub fn new(id: Uuid, payload: &[u8]) -> Option<Self> {
        let size = u32::try_from(payload.len()).ok()?;
        let mut data = payload.to_vec();
        data.resize(payload.len().checked_add(7)? & !7, 0);
        Some(OrpcExtent { id, size, data })
    }

    /// The meaningful bytes (`size` of them, or all of `data` if it is shorter).
    pub fn payload(&self) -> &[u8] {
        let n = usize::try_from(self.size).unwrap_or(usize::MAX);
        self.data.get(..n).unwrap_or(&self.data)
    }
}

/// `ORPC_EXTENT_ARRAY` (MS-DCOM 2.2.13.2): `size` extents behind a unique pointer to an array of
/// `(size+1)&~1` unique pointers (the entry past an odd `size` is null).
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct OrpcExtentArray {
    /// `size`: the number of extents.
    pub size: u32,
    /// `reserved`: MUST be 0, ignored on receipt.
    pub reserved: u32,
    /// `extent`: the extents.
    #[ndr(size_is = "(u64::from(*size) + 1) & !1")]
    pub extent: Unique<Vec<Unique<OrpcExtent>>>,
}

impl OrpcExtentArray {
    /// An array of `extents` (with the null entry an odd count needs). `None` when there are
    /// more than `u32::MAX - 1`.
    pub fn new(extents: Vec<OrpcExtent>) -> Option<Self> {
        let size = u32::try_from(extents.len())
            .ok()
            .filter(|&n| n < u32::MAX)?;
        let mut v: Vec<Unique<OrpcExtent>> = extents.into_iter().map(Unique::new).collect();
        if size % 2 == 1 {
            v.push(Unique::null());
        }
        Some(OrpcExtentArray {
            size,
            reserved: 0,
            extent: Unique::new(v),
        })
    }

    /// The extents present (null entries skipped).
    pub fn iter(&self) -> impl Iterator<Item = &OrpcExtent> {
        self.extent
            .get()
            .into_iter()
            .flat_map(|v| v.iter())
            .filter_map(|p| p.get())
    }
}

/// `ORPCF_LOCAL` (MS-DCOM 2.2.13.3): the call is local to the machine.
pub const ORPCF_LOCAL: u32 = 0x1;

/// `ORPCTHIS` (MS-DCOM 2.2.13.3): the header that starts every ORPC request stub (and the
/// activation calls). Extensions this crate does not know are kept as they are.
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct OrpcThis {
    /// `version`: the client's COMVERSION.
    pub version: ComVersion,
    /// `flags`: `ORPCF_*`.
    pub flags: u32,
    /// `reserved1`: MUST be 0, ignored on receipt.
    pub reserved1: u32,
    /// `cid`: the causality id.
    pub cid: Cid,
    /// `extensions`: optional ORPC extensions.
    pub extensions: Unique<OrpcExtentArray>,
}

impl OrpcThis {
    /// A 5.7 header with causality id `cid`, no flags and no extensions.
    pub fn new(cid: Cid) -> Self {
        OrpcThis {
            version: ComVersion::CURRENT,
            flags: 0,
            reserved1: 0,
            cid,
            extensions: Unique::null(),
        }
    }

    /// The extensions present.
    pub fn extents(&self) -> impl Iterator<Item = &OrpcExtent> {
        self.extensions.get().into_iter().flat_map(|a| a.iter())
    }
}

/// `ORPCTHAT` (MS-DCOM 2.2.13.4): the header that starts every ORPC response stub.
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct OrpcThat {
    /// `flags`: MUST be 0, ignored on receipt.
    pub flags: u32,
    /// `extensions`: optional ORPC extensions (e.g. error information).
    pub extensions: Unique<OrpcExtentArray>,
}

impl OrpcThat {
    /// The extensions present.
    pub fn extents(&self) -> impl Iterator<Item = &OrpcExtent> {
        self.extensions.get().into_iter().flat_map(|a| a.iter())
    }
}

/// `MInterfacePointer` (MS-DCOM 2.2.14): an OBJREF (or an activation blob's OBJREF_CUSTOM)
/// carried as `ulCntData` bytes; see [`crate::objref::ObjRef`] for their meaning.
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct MInterfacePointer {
    /// `ulCntData`: the number of bytes.
    pub cnt_data: u32,
    /// `abData`: the marshaled OBJREF.
    #[ndr(size_is = "cnt_data")]
    pub data: Vec<u8>,
}

impl MInterfacePointer {
    /// An interface pointer carrying `data`; `None` above `u32::MAX` bytes.
    pub fn new(data: Vec<u8>) -> Option<Self> {
        Some(MInterfacePointer {
            cnt_data: u32::try_from(data.len()).ok()?,
            data,
        })
    }
}

/// `SORF_NOPING` (MS-DCOM 2.2.18.2): the object is not garbage-collected by pinging.
pub const SORF_NOPING: u32 = 0x1000;

/// `STDOBJREF` (MS-DCOM 2.2.18.2): the identity of a marshaled interface (40 bytes).
#[derive(Ndr, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StdObjRef {
    /// `flags`: 0 or [`SORF_NOPING`] (other bits are reserved and ignored).
    pub flags: u32,
    /// `cPublicRefs`: references the OBJREF transfers.
    pub public_refs: u32,
    /// `oxid`: the object exporter.
    pub oxid: Oxid,
    /// `oid`: the object.
    pub oid: Oid,
    /// `ipid`: the interface.
    pub ipid: Ipid,
}

/// `REMINTERFACEREF` (MS-DCOM 2.2.23): a reference count change for one IPID.
#[derive(Ndr, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RemInterfaceRef {
    /// `ipid`.
    pub ipid: Ipid,
    /// `cPublicRefs`.
    pub public_refs: u32,
    /// `cPrivateRefs`.
    pub private_refs: u32,
}

/// `REMQIRESULT` (MS-DCOM 2.2.24): one result of `RemQueryInterface`.
#[derive(Ndr, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RemQiResult {
    /// `hResult`: S_OK or why the interface is not available (`std` is then ignored).
    pub hresult: HResult,
    /// `std`: the new interface's reference.
    pub std: StdObjRef,
}
