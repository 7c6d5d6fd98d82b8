//! `OBJREF` (MS-DCOM 2.2.18): a marshaled object reference, in all four flavours.
//!
//! # Why a hand-written codec
//! An OBJREF is not NDR. It travels as the opaque `abData` bytes of an
//! [`MInterfacePointer`] (2.2.14) and MS-DCOM defines it as a
//! packet layout: little-endian fields with no NDR alignment, a DUALSTRINGARRAY in its packet
//! form (2.2.19.1, no conformance count), and a flavour chosen by a flags word rather than an
//! NDR union discriminant. So it is read here with a bounds-checked little-endian cursor;
//! nothing is allocated beyond the input's own length, and nothing inside is decoded
//! recursively (an OBJREF_CUSTOM's data stays bytes until the caller asks, e.g.
//! [`crate::activation::ActivationBlob::from_objref`], which bounds nesting).

use msrpc_ndr::Uuid;

use crate::dualstring::DualStringArray;
use crate::error::{DcomError, DcomResult};
use crate::ids::{Clsid, Iid, Ipid, Oid, Oxid};
use crate::le::{put_u32, put_u64, put_uuid, Cursor};
use crate::orpc::{MInterfacePointer, StdObjRef};

/// `signature` of every OBJREF: "MEOW" read as a little-endian u32.
pub const OBJREF_SIGNATURE: u32 = 0x574f_454d;
/// `flags`: an OBJREF_STANDARD follows.
pub const FLAGS_OBJREF_STANDARD: u32 = 0x1;
/// `flags`: an OBJREF_HANDLER follows.
pub const FLAGS_OBJREF_HANDLER: u32 = 0x2;
/// `flags`: an OBJREF_CUSTOM follows.
pub const FLAGS_OBJREF_CUSTOM: u32 = 0x4;
/// `flags`: an OBJREF_EXTENDED follows.
pub const FLAGS_OBJREF_EXTENDED: u32 = 0x8;
/// `Signature1`/`Signature2` of OBJREF_EXTENDED (2.2.18.7).
pub const OBJREF_EXTENDED_SIGNATURE: u32 = 0x4e53_5956;

/// An OBJREF: the interface it was marshaled for and its flavour.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjRef {
    /// `iid`: the IID the reference was marshaled for (MUST NOT be GUID_NULL).
    pub iid: Iid,
    /// `u_objref`.
    pub body: ObjRefBody,
}

/// The `u_objref` flavours of 2.2.18.4-2.2.18.7.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ObjRefBody {
    /// `OBJREF_STANDARD` (2.2.18.4).
    Standard {
        /// `std`.
        std: StdObjRef,
        /// `saResAddr`: the object resolver's bindings.
        resolver: DualStringArray,
    },
    /// `OBJREF_HANDLER` (2.2.18.5).
    Handler {
        /// `std`.
        std: StdObjRef,
        /// `clsid`: the handler's class.
        clsid: Clsid,
        /// `saResAddr`.
        resolver: DualStringArray,
    },
    /// `OBJREF_CUSTOM` (2.2.18.6).
    Custom(ObjRefCustom),
    /// `OBJREF_EXTENDED` (2.2.18.7).
    Extended {
        /// `std`.
        std: StdObjRef,
        /// `saResAddr`.
        resolver: DualStringArray,
        /// `ElmArray`: the single DATAELEMENT (`nElms` MUST be 1).
        element: DataElement,
    },
}

/// `OBJREF_CUSTOM` (2.2.18.6): data for a custom unmarshaler (activation blobs use it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ObjRefCustom {
    /// `clsid`: the unmarshaler's class.
    pub clsid: Clsid,
    /// `reserved`: any value, ignored on receipt; kept so a decoded reference re-encodes as
    /// it came (Windows and Impacket put the data length + 8 here).
    pub reserved: u32,
    /// `pObjectData`: the rest of the OBJREF.
    pub data: Vec<u8>,
}

impl ObjRefCustom {
    /// A custom reference with `reserved` set as Windows sets it (data length + 8).
    pub fn new(clsid: Clsid, data: Vec<u8>) -> Self {
        let reserved = u32::try_from(data.len().saturating_add(8)).unwrap_or(u32::MAX);
        ObjRefCustom {
            clsid,
            reserved,
            data,
        }
    }
}

/// `DATAELEMENT` (2.2.18.8): an opaque context element of an OBJREF_EXTENDED.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DataElement {
    /// `dataID`.
    pub data_id: Uuid,
    /// `cbSize`: meaningful bytes in `data`.
    pub size: u32,
    /// `Data`: `cbRounded` bytes (`cbSize` rounded up to a multiple of 8).
    pub data: Vec<u8>,
}

fn read_std(c: &mut Cursor<'_>) -> DcomResult<StdObjRef> {
    Ok(StdObjRef {
        flags: c.u32()?,
        public_refs: c.u32()?,
        oxid: Oxid(c.u64()?),
        oid: Oid(c.u64()?),
        ipid: Ipid(c.uuid()?),
    })
}

fn write_std(out: &mut Vec<u8>, s: &StdObjRef) {
    put_u32(out, s.flags);
    put_u32(out, s.public_refs);
    put_u64(out, s.oxid.0);
    put_u64(out, s.oid.0);
    put_uuid(out, &s.ipid.0);
}

impl ObjRef {
    /// A standard reference.
    pub fn standard(iid: Iid, std: StdObjRef, resolver: DualStringArray) -> Self {
        ObjRef {
            iid,
            body: ObjRefBody::Standard { std, resolver },
        }
    }

    /// The `flags` value of this flavour.
    pub fn flags(&self) -> u32 {
        match self.body {
            ObjRefBody::Standard { .. } => FLAGS_OBJREF_STANDARD,
            ObjRefBody::Handler { .. } => FLAGS_OBJREF_HANDLER,
            ObjRefBody::Custom(_) => FLAGS_OBJREF_CUSTOM,
            ObjRefBody::Extended { .. } => FLAGS_OBJREF_EXTENDED,
        }
    }

    /// The STDOBJREF, for the flavours that have one.
    pub fn std(&self) -> Option<&StdObjRef> {
        match &self.body {
            ObjRefBody::Standard { std, .. }
            | ObjRefBody::Handler { std, .. }
            | ObjRefBody::Extended { std, .. } => Some(std),
            ObjRefBody::Custom(_) => None,
        }
    }

    /// Decodes an OBJREF that fills `bytes` exactly (trailing bytes are refused, except in
    /// OBJREF_CUSTOM whose data runs to the end by definition). Refuses a wrong signature,
    /// flags that are not exactly one flavour, a GUID_NULL `iid`, and an OBJREF_EXTENDED
    /// whose signatures, `nElms` or `cbRounded` differ from 2.2.18.7-2.2.18.8.
    pub fn decode(bytes: &[u8]) -> DcomResult<Self> {
        let mut c = Cursor::new(bytes, "OBJREF");
        let signature = c.u32()?;
        if signature != OBJREF_SIGNATURE {
            return Err(DcomError::BadSignature(signature));
        }
        let flags = c.u32()?;
        let iid = c.uuid()?;
        if iid.is_nil() {
            return Err(DcomError::Invalid("OBJREF: iid is GUID_NULL"));
        }
        let body = match flags {
            FLAGS_OBJREF_STANDARD => {
                let std = read_std(&mut c)?;
                let resolver = DualStringArray::decode_packed(&mut c)?;
                ObjRefBody::Standard { std, resolver }
            }
            FLAGS_OBJREF_HANDLER => {
                let std = read_std(&mut c)?;
                let clsid = c.uuid()?;
                let resolver = DualStringArray::decode_packed(&mut c)?;
                ObjRefBody::Handler {
                    std,
                    clsid,
                    resolver,
                }
            }
            FLAGS_OBJREF_CUSTOM => {
                let clsid = c.uuid()?;
                let _cb_extension = c.u32()?; // MUST be ignored on receipt
                let reserved = c.u32()?;
                let data = c.rest().to_vec();
                ObjRefBody::Custom(ObjRefCustom {
                    clsid,
                    reserved,
                    data,
                })
            }
            FLAGS_OBJREF_EXTENDED => {
                let std = read_std(&mut c)?;
                if c.u32()? != OBJREF_EXTENDED_SIGNATURE {
                    return Err(DcomError::Invalid("OBJREF_EXTENDED: bad Signature1"));
                }
                let resolver = DualStringArray::decode_packed(&mut c)?;
                if c.u32()? != 1 {
                    return Err(DcomError::Invalid("OBJREF_EXTENDED: nElms is not 1"));
                }
                if c.u32()? != OBJREF_EXTENDED_SIGNATURE {
                    return Err(DcomError::Invalid("OBJREF_EXTENDED: bad Signature2"));
                }
                let data_id = c.uuid()?;
                let size = c.u32()?;
                let rounded = c.u32()?;
                if u64::from(rounded) != (u64::from(size) + 7) & !7 {
                    return Err(DcomError::Invalid(
                        "DATAELEMENT: cbRounded is not cbSize rounded up to 8",
                    ));
                }
                let n = usize::try_from(rounded)
                    .map_err(|_| DcomError::Invalid("DATAELEMENT: cbRounded too large"))?;
                let data = c.take(n)?.to_vec();
                ObjRefBody::Extended {
                    std,
                    resolver,
                    element: DataElement {
                        data_id,
                        size,
                        data,
                    },
                }
            }
            other => return Err(DcomError::BadObjRefFlags(other)),
        };
        c.finish()?;
        Ok(ObjRef { iid, body })
    }

    /// Encodes the OBJREF (cbExtension written as 0).
    pub fn encode(&self) -> DcomResult<Vec<u8>> {
        let mut out = Vec::with_capacity(64);
        put_u32(&mut out, OBJREF_SIGNATURE);
        put_u32(&mut out, self.flags());
        put_uuid(&mut out, &self.iid);
        match &self.body {
            ObjRefBody::Standard { std, resolver } => {
                write_std(&mut out, std);
                resolver.encode_packed(&mut out)?;
            }
            ObjRefBody::Handler {
                std,
                clsid,
                resolver,
            } => {
                write_std(&mut out, std);
                put_uuid(&mut out, clsid);
                resolver.encode_packed(&mut out)?;
            }
            ObjRefBody::Custom(c) => {
                put_uuid(&mut out, &c.clsid);
                put_u32(&mut out, 0);
                put_u32(&mut out, c.reserved);
                out.extend_from_slice(&c.data);
            }
            ObjRefBody::Extended {
                std,
                resolver,
                element,
            } => {
                write_std(&mut out, std);
                put_u32(&mut out, OBJREF_EXTENDED_SIGNATURE);
                resolver.encode_packed(&mut out)?;
                put_u32(&mut out, 1);
                put_u32(&mut out, OBJREF_EXTENDED_SIGNATURE);
                put_uuid(&mut out, &element.data_id);
                put_u32(&mut out, element.size);
                let rounded = (u64::from(element.size) + 7) & !7;
                if element.data.len() as u64 != rounded {
                    return Err(DcomError::Unencodable(
                        "DATAELEMENT: data length is not cbSize rounded up to 8",
                    ));
                }
                put_u32(
                    &mut out,
                    u32::try_from(rounded)
                        .map_err(|_| DcomError::Unencodable("DATAELEMENT: cbSize too large"))?,
                );
                out.extend_from_slice(&element.data);
            }
        }
        Ok(out)
    }

    /// Decodes the OBJREF an interface pointer carries.
    pub fn from_interface_pointer(ip: &MInterfacePointer) -> DcomResult<Self> {
        Self::decode(&ip.data)
    }

    /// The interface pointer carrying this OBJREF.
    pub fn to_interface_pointer(&self) -> DcomResult<MInterfacePointer> {
        MInterfacePointer::new(self.encode()?)
            .ok_or(DcomError::Unencodable("OBJREF longer than 4 GiB"))
    }
}
