//! The activation properties BLOB (MS-DCOM 2.2.22): what `RemoteCreateInstance` and
//! `RemoteGetClassObject` carry in and out, inside an OBJREF_CUSTOM whose class is
//! `CLSID_ActivationPropertiesIn` or `CLSID_ActivationPropertiesOut`.
//!
//! # Layout
//! `dwSize`, `dwReserved` (little-endian), then the [`CustomHeader`] and each property, every
//! one of them serialized with NDR type serialization version 1 (MS-RPCE 2.2.6): an 8-byte
//! common header (version 1, endianness, length 8, filler), an 8-byte private header (object
//! buffer length, filler) and the NDR data of the type, padded to a multiple of 8. The
//! CustomHeader lists each property's CLSID and size; properties follow in that order.
//!
//! # What is accepted
//! - Properties whose CLSID this crate does not know are kept as opaque bytes
//!   ([`Property::Unknown`]) and never interpreted (3.1.2.5.2.3: servers ignore them).
//! - Padding after a property's NDR data is not checked: Impacket fills it with `0xFA` and
//!   counts it in the CustomHeader's size but not in the private header's object buffer
//!   length (MS-RPCE 2.2.6.2 says the length includes it); both forms decode. Filler words
//!   are not checked either. Big-endian serializations decode.
//! - What this module writes follows the specifications: object buffer lengths include the
//!   padding, padding is zero, the common header's filler is `0xcccccccc` and the private
//!   header's filler 0.
//!
//! # Limits ([`ActivationLimits`])
//! The blob's size, the number of properties (the IDL's `range(1, 10)`), requested interfaces
//! and protocol sequences, the length of every string (a 4 KiB UNC name is refused, the
//! MS03-026 shape), binding counts, NDR nesting and allocation, and the nesting of OBJREFs
//! inside properties: every interface pointer a property carries must be a well-formed OBJREF,
//! and one carrying activation properties again is decoded at most `max_depth` levels deep.

use msrpc_ndr::{DataRep, DecodeLimits, Ndr, Reader, Unique, Uuid, Writer};

use crate::dualstring::{BindingLimits, DualStringArray};
use crate::error::{DcomError, DcomResult};
use crate::hresult::HResult;
use crate::ids::{guids, Clsid, Iid, Ipid, Oxid};
use crate::le::{put_u32, Cursor};
use crate::objref::{ObjRef, ObjRefBody, ObjRefCustom};
use crate::orpc::{ComVersion, MInterfacePointer};

/// `MAX_REQUESTED_INTERFACES` (MS-DCOM 2.2.28.1).
pub const MAX_REQUESTED_INTERFACES: u32 = 0x8000;
/// `MAX_REQUESTED_PROTSEQS` (MS-DCOM 2.2.28.1).
pub const MAX_REQUESTED_PROTSEQS: u16 = 0x8000;
/// `MIN_ACTPROP_LIMIT` (MS-DCOM 2.2.28.1).
pub const MIN_ACTPROP_LIMIT: u32 = 1;
/// `MAX_ACTPROP_LIMIT` (MS-DCOM 2.2.28.1).
pub const MAX_ACTPROP_LIMIT: u32 = 10;
/// `destCtx` Windows and Impacket send (`MSHCTX_DIFFERENTMACHINE`).
pub const MSHCTX_DIFFERENTMACHINE: u32 = 2;

/// Bounds on decoding a peer's activation properties.
///
/// # DoS warning
/// Every size and count in a blob is peer-controlled; each is checked against these limits
/// before it is used, and the NDR decodes run under [`ActivationLimits::ndr`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActivationLimits {
    /// Largest blob (bytes of the OBJREF_CUSTOM data). Default 64 KiB.
    pub max_blob_bytes: usize,
    /// Most properties; the IDL allows 1 to 10 (`MAX_ACTPROP_LIMIT`). Default 10.
    pub max_properties: u32,
    /// Most requested interfaces (`cIID`, PropsOutInfo `cIfs`). Default 64 (the IDL allows
    /// 0x8000).
    pub max_interfaces: u32,
    /// Most requested protocol sequences. Default 32 (the IDL allows 0x8000).
    pub max_protseqs: u16,
    /// Longest string (machine, server or file name), in UTF-16 units without terminator.
    /// Default 260 (`MAX_PATH`).
    pub max_string_units: usize,
    /// How deep activation blobs may nest inside interface pointers of activation blobs
    /// (1: the top-level blob only). Default 2.
    pub max_depth: u32,
    /// Limits for the NDR decode of each property.
    pub ndr: DecodeLimits,
    /// Limits for the bindings of an ScmReplyInfo.
    pub bindings: BindingLimits,
}

impl ActivationLimits {
    /// The defaults described on each field.
    pub const DEFAULT: ActivationLimits = ActivationLimits {
        max_blob_bytes: 64 * 1024,
        max_properties: MAX_ACTPROP_LIMIT,
        max_interfaces: 64,
        max_protseqs: 32,
        max_string_units: 260,
        max_depth: 2,
        ndr: DecodeLimits {
            max_depth: 16,
            max_elements: 64 * 1024,
            max_alloc_bytes: 1024 * 1024,
        },
        bindings: BindingLimits::DEFAULT,
    };
}

impl Default for ActivationLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// `CustomHeader` (MS-DCOM 2.2.22.1) as NDR; [`ActivationBlob`] fills the sizes.
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomHeader {
    /// `totalSize`: bytes from the CustomHeader's start to the end of the last property.
    pub total_size: u32,
    /// `headerSize`: bytes of the serialized CustomHeader.
    pub header_size: u32,
    /// `dwReserved`: MUST be 0.
    pub reserved: u32,
    /// `destCtx`: implementation-specific (Windows: 2).
    pub dest_ctx: u32,
    /// `cIfs`: the number of properties.
    pub c_ifs: u32,
    /// `classInfoClsid`: MUST be GUID_NULL.
    pub class_info_clsid: Clsid,
    /// `pclsid`: each property's CLSID.
    #[ndr(size_is = "c_ifs")]
    pub pclsid: Unique<Vec<Clsid>>,
    /// `pSizes`: each property's serialized size.
    #[ndr(size_is = "c_ifs")]
    pub psizes: Unique<Vec<u32>>,
    /// `pdwReserved`: MUST be NULL.
    pub pdw_reserved: Unique<u32>,
}

/// `InstantiationInfoData` (MS-DCOM 2.2.22.2.1): the class and interfaces to activate.
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct InstantiationInfoData {
    /// `classId`.
    pub class_id: Clsid,
    /// `classCtx`: implementation-specific, ignored.
    pub class_ctx: u32,
    /// `actvflags`: `ACTVFLAGS_*`.
    pub actv_flags: u32,
    /// `fIsSurrogate`: MUST be FALSE.
    pub is_surrogate: i32,
    /// `cIID`: the number of interfaces (1 to `MAX_REQUESTED_INTERFACES`).
    pub c_iid: u32,
    /// `instFlag`: MUST be 0.
    pub inst_flag: u32,
    /// `pIID`: the requested interfaces.
    #[ndr(size_is = "c_iid")]
    pub iids: Unique<Vec<Iid>>,
    /// `thisSize`: the size of this serialized property.
    pub this_size: u32,
    /// `clientCOMVersion`.
    pub client_version: ComVersion,
}

impl InstantiationInfoData {
    /// A request for `iids` of `class_id` from a 5.7 client, `thisSize` filled in.
    pub fn new(class_id: Clsid, iids: Vec<Iid>) -> DcomResult<Self> {
        let c_iid = u32::try_from(iids.len())
            .map_err(|_| DcomError::Unencodable("more than 2^32 interfaces"))?;
        let mut v = InstantiationInfoData {
            class_id,
            c_iid,
            iids: Unique::new(iids),
            client_version: ComVersion::CURRENT,
            ..Default::default()
        };
        let size = serialize(&v)?.len();
        v.this_size =
            u32::try_from(size).map_err(|_| DcomError::Unencodable("property too large"))?;
        Ok(v)
    }
}

/// `SpecialPropertiesData` (MS-DCOM 2.2.22.2.2).
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct SpecialPropertiesData {
    /// `dwSessionId` (0xFFFFFFFF: any session).
    pub session_id: u32,
    /// `fRemoteThisSessionId`.
    pub remote_this_session_id: i32,
    /// `fClientImpersonating`.
    pub client_impersonating: i32,
    /// `fPartitionIDPresent`.
    pub partition_id_present: i32,
    /// `dwDefaultAuthnLvl`.
    pub default_authn_lvl: u32,
    /// `guidPartition`.
    pub guid_partition: Uuid,
    /// `dwPRTFlags`.
    pub prt_flags: u32,
    /// `dwOrigClsctx`.
    pub orig_clsctx: u32,
    /// `dwFlags`: `SPD_FLAG_*`.
    pub flags: u32,
    /// `Reserved1`.
    pub reserved1: u32,
    /// `Reserved2`.
    pub reserved2: u64,
    /// `Reserved3`.
    pub reserved3: [u32; 5],
}

/// `InstanceInfoData` (MS-DCOM 2.2.22.2.3): activation from a file or storage.
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceInfoData {
    /// `fileName`.
    #[ndr(string)]
    pub file_name: Unique<String>,
    /// `mode`.
    pub mode: u32,
    /// `ifdROT`.
    pub ifd_rot: Unique<MInterfacePointer>,
    /// `ifdStg`.
    pub ifd_stg: Unique<MInterfacePointer>,
}

/// `customREMOTE_REQUEST_SCM_INFO` (MS-DCOM 2.2.22.2.4.1).
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteRequestScmInfo {
    /// `ClientImpLevel`: MUST be ignored.
    pub client_imp_level: u32,
    /// `cRequestedProtseqs`.
    pub c_requested_protseqs: u16,
    /// `pRequestedProtseqs`: tower ids the client can use.
    #[ndr(size_is = "c_requested_protseqs")]
    pub requested_protseqs: Unique<Vec<u16>>,
}

/// `ScmRequestInfoData` (MS-DCOM 2.2.22.2.4).
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct ScmRequestInfoData {
    /// `pdwReserved`: MUST be NULL.
    pub pdw_reserved: Unique<u32>,
    /// `remoteRequest`.
    pub remote_request: Unique<RemoteRequestScmInfo>,
}

/// `ActivationContextInfoData` (MS-DCOM 2.2.22.2.5).
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct ActivationContextInfoData {
    /// `clientOK`.
    pub client_ok: i32,
    /// `bReserved1`.
    pub b_reserved1: i32,
    /// `dwReserved1`.
    pub dw_reserved1: u32,
    /// `dwReserved2`.
    pub dw_reserved2: u32,
    /// `pIFDClientCtx`: the client context, an OBJREF.
    pub client_ctx: Unique<MInterfacePointer>,
    /// `pIFDPrototypeCtx`: the prototype context, an OBJREF.
    pub prototype_ctx: Unique<MInterfacePointer>,
}

/// `LocationInfoData` (MS-DCOM 2.2.22.2.6): all fields MUST be NULL/0 and are ignored.
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct LocationInfoData {
    /// `machineName`.
    #[ndr(string)]
    pub machine_name: Unique<String>,
    /// `processId`.
    pub process_id: u32,
    /// `apartmentId`.
    pub apartment_id: u32,
    /// `contextId`.
    pub context_id: u32,
}

/// `COSERVERINFO` (MS-DCOM 2.2.22.2.7.1).
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct CoServerInfo {
    /// `dwReserved1`.
    pub reserved1: u32,
    /// `pwszName`: the server's name.
    #[ndr(string)]
    pub name: Unique<String>,
    /// `pdwReserved`.
    pub pdw_reserved: Unique<u32>,
    /// `dwReserved2`.
    pub reserved2: u32,
}

/// `SecurityInfoData` (MS-DCOM 2.2.22.2.7).
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct SecurityInfoData {
    /// `dwAuthnFlags`.
    pub authn_flags: u32,
    /// `pServerInfo`.
    pub server_info: Unique<CoServerInfo>,
    /// `pdwReserved`.
    pub pdw_reserved: Unique<u32>,
}

/// `customREMOTE_REPLY_SCM_INFO` (MS-DCOM 2.2.22.2.8.1): how to reach the object exporter.
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteReplyScmInfo {
    /// `Oxid`.
    pub oxid: Oxid,
    /// `pdsaOxidBindings`.
    pub oxid_bindings: Unique<DualStringArray>,
    /// `ipidRemUnknown`.
    pub ipid_rem_unknown: Ipid,
    /// `authnHint`: the lowest authentication level the exporter accepts.
    pub authn_hint: u32,
    /// `serverVersion`.
    pub server_version: ComVersion,
}

/// `ScmReplyInfoData` (MS-DCOM 2.2.22.2.8).
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct ScmReplyInfoData {
    /// `pdwReserved`: MUST be NULL.
    pub pdw_reserved: Unique<u32>,
    /// `remoteReply`.
    pub remote_reply: Unique<RemoteReplyScmInfo>,
}

/// `PropsOutInfo` (MS-DCOM 2.2.22.2.9): the activated object's interfaces.
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct PropsOutInfo {
    /// `cIfs`.
    pub c_ifs: u32,
    /// `piid`.
    #[ndr(size_is = "c_ifs")]
    pub iids: Unique<Vec<Iid>>,
    /// `phresults`: per interface.
    #[ndr(size_is = "c_ifs")]
    pub hresults: Unique<Vec<HResult>>,
    /// `ppIntfData`: per interface, an OBJREF (null where the hresult is a failure).
    #[ndr(size_is = "c_ifs")]
    pub interface_data: Unique<Vec<Unique<MInterfacePointer>>>,
}

/// One property of the blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Property {
    /// `CLSID_InstantiationInfo`.
    InstantiationInfo(InstantiationInfoData),
    /// `CLSID_ActivationContextInfo`.
    ActivationContextInfo(ActivationContextInfoData),
    /// `CLSID_ServerLocationInfo`.
    LocationInfo(LocationInfoData),
    /// `CLSID_SecurityInfo`.
    SecurityInfo(SecurityInfoData),
    /// `CLSID_ScmRequestInfo`.
    ScmRequestInfo(ScmRequestInfoData),
    /// `CLSID_ScmReplyInfo`.
    ScmReplyInfo(ScmReplyInfoData),
    /// `CLSID_PropsOutInfo`.
    PropsOutInfo(PropsOutInfo),
    /// `CLSID_InstanceInfo`.
    InstanceInfo(InstanceInfoData),
    /// `CLSID_SpecialSystemProperties`.
    SpecialProperties(SpecialPropertiesData),
    /// A property this crate does not know: its CLSID and serialized bytes, not interpreted.
    Unknown {
        /// The CLSID from the CustomHeader.
        clsid: Clsid,
        /// The property's bytes as they came (its size from `pSizes`).
        data: Vec<u8>,
    },
}

impl Property {
    /// The CLSID that identifies the property in the CustomHeader.
    pub fn clsid(&self) -> Clsid {
        match self {
            Property::InstantiationInfo(_) => guids::CLSID_INSTANTIATION_INFO,
            Property::ActivationContextInfo(_) => guids::CLSID_ACTIVATION_CONTEXT_INFO,
            Property::LocationInfo(_) => guids::CLSID_SERVER_LOCATION_INFO,
            Property::SecurityInfo(_) => guids::CLSID_SECURITY_INFO,
            Property::ScmRequestInfo(_) => guids::CLSID_SCM_REQUEST_INFO,
            Property::ScmReplyInfo(_) => guids::CLSID_SCM_REPLY_INFO,
            Property::PropsOutInfo(_) => guids::CLSID_PROPS_OUT_INFO,
            Property::InstanceInfo(_) => guids::CLSID_INSTANCE_INFO,
            Property::SpecialProperties(_) => guids::CLSID_SPECIAL_SYSTEM_PROPERTIES,
            Property::Unknown { clsid, .. } => *clsid,
        }
    }

    fn serialize(&self) -> DcomResult<Vec<u8>> {
        match self {
            Property::InstantiationInfo(v) => serialize(v),
            Property::ActivationContextInfo(v) => serialize(v),
            Property::LocationInfo(v) => serialize(v),
            Property::SecurityInfo(v) => serialize(v),
            Property::ScmRequestInfo(v) => serialize(v),
            Property::ScmReplyInfo(v) => serialize(v),
            Property::PropsOutInfo(v) => serialize(v),
            Property::InstanceInfo(v) => serialize(v),
            Property::SpecialProperties(v) => serialize(v),
            Property::Unknown { data, .. } => Ok(data.clone()),
        }
    }

    fn deserialize(clsid: Clsid, bytes: &[u8], limits: &ActivationLimits) -> DcomResult<Self> {
        Ok(match clsid {
            guids::CLSID_INSTANTIATION_INFO => {
                Property::InstantiationInfo(deserialize(bytes, limits, "InstantiationInfoData")?)
            }
            guids::CLSID_ACTIVATION_CONTEXT_INFO => Property::ActivationContextInfo(deserialize(
                bytes,
                limits,
                "ActivationContextInfoData",
            )?),
            guids::CLSID_SERVER_LOCATION_INFO => {
                Property::LocationInfo(deserialize(bytes, limits, "LocationInfoData")?)
            }
            guids::CLSID_SECURITY_INFO => {
                Property::SecurityInfo(deserialize(bytes, limits, "SecurityInfoData")?)
            }
            guids::CLSID_SCM_REQUEST_INFO => {
                Property::ScmRequestInfo(deserialize(bytes, limits, "ScmRequestInfoData")?)
            }
            guids::CLSID_SCM_REPLY_INFO => {
                Property::ScmReplyInfo(deserialize(bytes, limits, "ScmReplyInfoData")?)
            }
            guids::CLSID_PROPS_OUT_INFO => {
                Property::PropsOutInfo(deserialize(bytes, limits, "PropsOutInfo")?)
            }
            guids::CLSID_INSTANCE_INFO => {
                Property::InstanceInfo(deserialize(bytes, limits, "InstanceInfoData")?)
            }
            guids::CLSID_SPECIAL_SYSTEM_PROPERTIES => {
                Property::SpecialProperties(deserialize(bytes, limits, "SpecialPropertiesData")?)
            }
            _ => Property::Unknown {
                clsid,
                data: bytes.to_vec(),
            },
        })
    }

    /// The interface pointers the property carries (each should hold an OBJREF).
    pub fn interface_pointers(&self) -> Vec<&MInterfacePointer> {
        match self {
            Property::ActivationContextInfo(v) => v
                .client_ctx
                .get()
                .into_iter()
                .chain(v.prototype_ctx.get())
                .collect(),
            Property::InstanceInfo(v) => {
                v.ifd_rot.get().into_iter().chain(v.ifd_stg.get()).collect()
            }
            Property::PropsOutInfo(v) => v
                .interface_data
                .get()
                .into_iter()
                .flat_map(|a| a.iter().filter_map(|p| p.get()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Checks the bounds of [`ActivationLimits`] that NDR itself does not know.
    fn check(&self, limits: &ActivationLimits) -> DcomResult<()> {
        let string = |s: &Unique<String>, what: &'static str| -> DcomResult<()> {
            match s.get() {
                Some(s) if s.encode_utf16().count() > limits.max_string_units => {
                    Err(DcomError::Limit {
                        what,
                        value: s.encode_utf16().count() as u64,
                        limit: limits.max_string_units as u64,
                    })
                }
                _ => Ok(()),
            }
        };
        let interfaces = |n: u32, what: &'static str| -> DcomResult<()> {
            if n > limits.max_interfaces {
                return Err(DcomError::Limit {
                    what,
                    value: u64::from(n),
                    limit: u64::from(limits.max_interfaces),
                });
            }
            Ok(())
        };
        match self {
            Property::InstantiationInfo(v) => {
                if v.c_iid == 0 {
                    return Err(DcomError::Invalid("InstantiationInfoData: cIID is 0"));
                }
                interfaces(v.c_iid, "InstantiationInfoData.cIID")?;
                if v.iids.is_null() {
                    return Err(DcomError::Invalid("InstantiationInfoData: pIID is NULL"));
                }
            }
            Property::PropsOutInfo(v) => interfaces(v.c_ifs, "PropsOutInfo.cIfs")?,
            Property::LocationInfo(v) => string(&v.machine_name, "LocationInfoData.machineName")?,
            Property::InstanceInfo(v) => string(&v.file_name, "InstanceInfoData.fileName")?,
            Property::SecurityInfo(v) => {
                if let Some(si) = v.server_info.get() {
                    string(&si.name, "COSERVERINFO.pwszName")?;
                }
            }
            Property::ScmRequestInfo(v) => {
                if let Some(r) = v.remote_request.get() {
                    if r.c_requested_protseqs > limits.max_protseqs {
                        return Err(DcomError::Limit {
                            what: "customREMOTE_REQUEST_SCM_INFO.cRequestedProtseqs",
                            value: u64::from(r.c_requested_protseqs),
                            limit: u64::from(limits.max_protseqs),
                        });
                    }
                }
            }
            Property::ScmReplyInfo(v) => {
                if let Some(dsa) = v.remote_reply.get().and_then(|r| r.oxid_bindings.get()) {
                    dsa.parse(&limits.bindings)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

const COMMON_HEADER_FILLER: u32 = 0xcccc_cccc;

/// Serializes `v` with type serialization version 1 (little-endian): headers, NDR data, zero
/// padding to a multiple of 8 (counted in the object buffer length).
pub fn serialize<T: Ndr>(v: &T) -> DcomResult<Vec<u8>> {
    let mut w = Writer::new(DataRep::LITTLE_ENDIAN);
    v.encode(&mut w)?;
    let mut body = w.into_bytes();
    body.resize(body.len().div_ceil(8) * 8, 0);
    let len =
        u32::try_from(body.len()).map_err(|_| DcomError::Unencodable("property too large"))?;
    let mut out = Vec::with_capacity(16 + body.len());
    out.extend_from_slice(&[1, 0x10, 8, 0]);
    put_u32(&mut out, COMMON_HEADER_FILLER);
    put_u32(&mut out, len);
    put_u32(&mut out, 0);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Reads a type serialization version 1 header (MS-RPCE 2.2.6.1-2.2.6.2): returns the data
/// representation and the object buffer (at most what `bytes` holds after the headers).
fn ts_header<'a>(bytes: &'a [u8], what: &'static str) -> DcomResult<(DataRep, &'a [u8])> {
    let mut c = Cursor::new(bytes, what);
    let hdr = c.take(8)?;
    let (version, endianness, len_bytes) = match hdr {
        [v, e, l0, l1, ..] => (*v, *e, [*l0, *l1]),
        _ => return Err(DcomError::Invalid("type serialization header")),
    };
    if version != 1 {
        return Err(DcomError::Invalid("type serialization: version is not 1"));
    }
    let drep = match endianness {
        0x10 => DataRep::LITTLE_ENDIAN,
        0x00 => DataRep::BIG_ENDIAN,
        _ => return Err(DcomError::Invalid("type serialization: unknown endianness")),
    };
    let header_len = if endianness == 0x10 {
        u16::from_le_bytes(len_bytes)
    } else {
        u16::from_be_bytes(len_bytes)
    };
    if header_len != 8 {
        return Err(DcomError::Invalid(
            "type serialization: CommonHeaderLength is not 8",
        ));
    }
    let raw = c.take(4)?;
    let mut b = [0u8; 4];
    b.copy_from_slice(raw);
    let obl = if endianness == 0x10 {
        u32::from_le_bytes(b)
    } else {
        u32::from_be_bytes(b)
    };
    let _filler = c.take(4)?;
    let n = usize::try_from(obl).unwrap_or(usize::MAX);
    if n > c.remaining() {
        return Err(DcomError::Truncated {
            what,
            needed: n,
            available: c.remaining(),
        });
    }
    Ok((drep, c.take(n)?))
}

/// Deserializes one type-serialized `T` from `bytes` (bytes after its NDR data are padding).
pub fn deserialize<T: Ndr>(
    bytes: &[u8],
    limits: &ActivationLimits,
    what: &'static str,
) -> DcomResult<T> {
    let (drep, buf) = ts_header(bytes, what)?;
    let mut r = Reader::new(buf, drep, limits.ndr);
    T::decode(&mut r).map_err(DcomError::ndr(what))
}

/// The activation properties BLOB (MS-DCOM 2.2.22), decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivationBlob {
    /// `destCtx` of the CustomHeader (Windows: [`MSHCTX_DIFFERENTMACHINE`]).
    pub dest_ctx: u32,
    /// The properties, in order.
    pub properties: Vec<Property>,
}

impl ActivationBlob {
    /// A blob of `properties` with `destCtx` 2.
    pub fn new(properties: Vec<Property>) -> Self {
        ActivationBlob {
            dest_ctx: MSHCTX_DIFFERENTMACHINE,
            properties,
        }
    }

    /// Decodes a blob (`pObjectData` of the OBJREF_CUSTOM) at nesting level 1.
    pub fn decode(bytes: &[u8], limits: &ActivationLimits) -> DcomResult<Self> {
        Self::decode_at(bytes, limits, 1)
    }

    fn decode_at(bytes: &[u8], limits: &ActivationLimits, depth: u32) -> DcomResult<Self> {
        if depth > limits.max_depth {
            return Err(DcomError::Depth(limits.max_depth));
        }
        if bytes.len() > limits.max_blob_bytes {
            return Err(DcomError::Limit {
                what: "activation blob bytes",
                value: bytes.len() as u64,
                limit: limits.max_blob_bytes as u64,
            });
        }
        let mut c = Cursor::new(bytes, "activation blob");
        let dw_size = c.u32()?;
        let _dw_reserved = c.u32()?; // MUST be ignored on receipt
        let body = c.rest();
        if usize::try_from(dw_size).ok() != Some(body.len()) {
            return Err(DcomError::Invalid(
                "activation blob: dwSize differs from the bytes that follow",
            ));
        }
        let header: CustomHeader = deserialize(body, limits, "CustomHeader")?;
        if header.total_size != dw_size {
            return Err(DcomError::Invalid(
                "CustomHeader: totalSize differs from dwSize",
            ));
        }
        if header.c_ifs < MIN_ACTPROP_LIMIT || header.c_ifs > limits.max_properties {
            return Err(DcomError::Limit {
                what: "CustomHeader.cIfs",
                value: u64::from(header.c_ifs),
                limit: u64::from(limits.max_properties),
            });
        }
        let (Some(clsids), Some(sizes)) = (header.pclsid.get(), header.psizes.get()) else {
            return Err(DcomError::Invalid("CustomHeader: pclsid or pSizes is NULL"));
        };
        let header_size = usize::try_from(header.header_size).unwrap_or(usize::MAX);
        let Some(mut rest) = body.get(header_size..) else {
            return Err(DcomError::Invalid(
                "CustomHeader: headerSize beyond the blob",
            ));
        };
        if header_size < 16 {
            return Err(DcomError::Invalid("CustomHeader: headerSize too small"));
        }
        let mut properties = Vec::with_capacity(clsids.len());
        for (clsid, size) in clsids.iter().zip(sizes) {
            let n = usize::try_from(*size).unwrap_or(usize::MAX);
            let Some((this, next)) = rest.split_at_checked(n) else {
                return Err(DcomError::Invalid(
                    "CustomHeader: property sizes exceed the blob",
                ));
            };
            let p = Property::deserialize(*clsid, this, limits)?;
            p.check(limits)?;
            for ip in p.interface_pointers() {
                check_nested(ip, limits, depth)?;
            }
            properties.push(p);
            rest = next;
        }
        if !rest.is_empty() {
            return Err(DcomError::TrailingBytes {
                what: "activation blob",
                count: rest.len(),
            });
        }
        Ok(ActivationBlob {
            dest_ctx: header.dest_ctx,
            properties,
        })
    }

    /// Encodes the blob: sizes, counts and lengths are computed here.
    pub fn encode(&self) -> DcomResult<Vec<u8>> {
        let c_ifs = u32::try_from(self.properties.len())
            .map_err(|_| DcomError::Unencodable("too many properties"))?;
        let mut bodies = Vec::with_capacity(self.properties.len());
        let mut sizes = Vec::with_capacity(self.properties.len());
        for p in &self.properties {
            let b = p.serialize()?;
            sizes.push(
                u32::try_from(b.len()).map_err(|_| DcomError::Unencodable("property too large"))?,
            );
            bodies.push(b);
        }
        let mut header = CustomHeader {
            total_size: 0,
            header_size: 0,
            reserved: 0,
            dest_ctx: self.dest_ctx,
            c_ifs,
            class_info_clsid: Uuid::nil(),
            pclsid: Unique::new(self.properties.iter().map(Property::clsid).collect()),
            psizes: Unique::new(sizes.clone()),
            pdw_reserved: Unique::null(),
        };
        let header_len = serialize(&header)?.len();
        let total: usize = header_len + bodies.iter().map(Vec::len).sum::<usize>();
        let too_big = || DcomError::Unencodable("activation blob too large");
        header.header_size = u32::try_from(header_len).map_err(|_| too_big())?;
        header.total_size = u32::try_from(total).map_err(|_| too_big())?;
        let mut out = Vec::with_capacity(8 + total);
        put_u32(&mut out, header.total_size);
        put_u32(&mut out, 0);
        out.extend_from_slice(&serialize(&header)?);
        for b in bodies {
            out.extend_from_slice(&b);
        }
        Ok(out)
    }

    /// Decodes the blob of an activation OBJREF: an OBJREF_CUSTOM whose class is
    /// `CLSID_ActivationPropertiesIn` or `CLSID_ActivationPropertiesOut`.
    pub fn from_objref(objref: &ObjRef, limits: &ActivationLimits) -> DcomResult<Self> {
        Self::from_objref_at(objref, limits, 1)
    }

    fn from_objref_at(objref: &ObjRef, limits: &ActivationLimits, depth: u32) -> DcomResult<Self> {
        match &objref.body {
            ObjRefBody::Custom(c) if is_activation_clsid(&c.clsid) => {
                Self::decode_at(&c.data, limits, depth)
            }
            _ => Err(DcomError::Invalid(
                "not an OBJREF_CUSTOM of activation properties",
            )),
        }
    }

    /// Decodes the activation blob an interface pointer carries (`pActProperties`).
    pub fn from_interface_pointer(
        ip: &MInterfacePointer,
        limits: &ActivationLimits,
    ) -> DcomResult<Self> {
        if ip.data.len() > limits.max_blob_bytes.saturating_add(64) {
            return Err(DcomError::Limit {
                what: "activation interface pointer bytes",
                value: ip.data.len() as u64,
                limit: limits.max_blob_bytes as u64,
            });
        }
        Self::from_objref(&ObjRef::decode(&ip.data)?, limits)
    }

    /// The OBJREF_CUSTOM carrying this blob: `input` selects ActivationPropertiesIn (a
    /// request) or ActivationPropertiesOut (a reply).
    pub fn to_objref(&self, input: bool) -> DcomResult<ObjRef> {
        let (iid, clsid) = if input {
            (
                guids::IID_IACTIVATION_PROPERTIES_IN,
                guids::CLSID_ACTIVATION_PROPERTIES_IN,
            )
        } else {
            (
                guids::IID_IACTIVATION_PROPERTIES_OUT,
                guids::CLSID_ACTIVATION_PROPERTIES_OUT,
            )
        };
        Ok(ObjRef {
            iid,
            body: ObjRefBody::Custom(ObjRefCustom::new(clsid, self.encode()?)),
        })
    }

    /// The interface pointer carrying this blob (see [`ActivationBlob::to_objref`]).
    pub fn to_interface_pointer(&self, input: bool) -> DcomResult<MInterfacePointer> {
        self.to_objref(input)?.to_interface_pointer()
    }

    /// The first property of a kind, e.g. `blob.find(|p| match p { Property::X(v) => Some(v), _ => None })`.
    pub fn find<'a, T>(&'a self, f: impl Fn(&'a Property) -> Option<&'a T>) -> Option<&'a T> {
        self.properties.iter().find_map(f)
    }

    /// The InstantiationInfoData, if present.
    pub fn instantiation_info(&self) -> Option<&InstantiationInfoData> {
        self.find(|p| match p {
            Property::InstantiationInfo(v) => Some(v),
            _ => None,
        })
    }

    /// The ScmRequestInfoData, if present.
    pub fn scm_request_info(&self) -> Option<&ScmRequestInfoData> {
        self.find(|p| match p {
            Property::ScmRequestInfo(v) => Some(v),
            _ => None,
        })
    }

    /// The ScmReplyInfoData, if present.
    pub fn scm_reply_info(&self) -> Option<&ScmReplyInfoData> {
        self.find(|p| match p {
            Property::ScmReplyInfo(v) => Some(v),
            _ => None,
        })
    }

    /// The PropsOutInfo, if present.
    pub fn props_out_info(&self) -> Option<&PropsOutInfo> {
        self.find(|p| match p {
            Property::PropsOutInfo(v) => Some(v),
            _ => None,
        })
    }
}

fn is_activation_clsid(c: &Clsid) -> bool {
    *c == guids::CLSID_ACTIVATION_PROPERTIES_IN || *c == guids::CLSID_ACTIVATION_PROPERTIES_OUT
}

/// An interface pointer inside a property must hold a well-formed OBJREF; one that carries
/// activation properties again is decoded one level deeper (bounded by `max_depth`).
fn check_nested(ip: &MInterfacePointer, limits: &ActivationLimits, depth: u32) -> DcomResult<()> {
    let objref = ObjRef::decode(&ip.data)?;
    if let ObjRefBody::Custom(c) = &objref.body {
        if is_activation_clsid(&c.clsid) {
            ActivationBlob::from_objref_at(&objref, limits, depth + 1)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialization_follows_ms_rpce_2_2_6() {
        // LocationInfoData with a name: 4 + 12 bytes of scalars, then the string (12 + 2*3):
        // 34 bytes of NDR, padded to 40.
        let v = LocationInfoData {
            machine_name: Unique::new("ab".into()),
            ..Default::default()
        };
        let b = serialize(&v).unwrap();
        assert_eq!(&b[..8], &[1, 0x10, 8, 0, 0xcc, 0xcc, 0xcc, 0xcc]);
        assert_eq!(
            &b[8..12],
            &40u32.to_le_bytes(),
            "length includes the padding"
        );
        assert_eq!(&b[12..16], &[0; 4], "private filler is 0");
        assert_eq!(b.len(), 16 + 40);
        assert!(b[16 + 34..].iter().all(|&x| x == 0));
        let back: LocationInfoData =
            deserialize(&b, &ActivationLimits::DEFAULT, "LocationInfoData").unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn big_endian_serializations_decode() {
        let v = InstantiationInfoData::new(guids::IID_IUNKNOWN, vec![guids::IID_ICLASS_FACTORY])
            .unwrap();
        let mut w = Writer::new(DataRep::BIG_ENDIAN);
        v.encode(&mut w).unwrap();
        let mut body = w.into_bytes();
        body.resize(body.len().div_ceil(8) * 8, 0);
        let mut b = vec![1, 0x00, 0, 8, 0xcc, 0xcc, 0xcc, 0xcc];
        b.extend_from_slice(&(body.len() as u32).to_be_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&body);
        let back: InstantiationInfoData =
            deserialize(&b, &ActivationLimits::DEFAULT, "InstantiationInfoData").unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn bad_type_serialization_headers_are_refused() {
        let good = serialize(&LocationInfoData::default()).unwrap();
        for (at, byte) in [(0usize, 2u8), (1, 0x11), (2, 16)] {
            let mut b = good.clone();
            b[at] = byte;
            assert!(
                deserialize::<LocationInfoData>(&b, &ActivationLimits::DEFAULT, "x").is_err(),
                "byte {at} = {byte:#x} accepted"
            );
        }
    }

    #[test]
    fn instantiation_info_this_size_is_the_serialized_size() {
        let v =
            InstantiationInfoData::new(guids::IID_IUNKNOWN, vec![guids::IID_IUNKNOWN; 3]).unwrap();
        assert_eq!(v.this_size as usize, serialize(&v).unwrap().len());
        assert_eq!(v.c_iid, 3);
    }

    #[test]
    fn to_objref_picks_in_or_out() {
        let blob = ActivationBlob::new(vec![Property::LocationInfo(LocationInfoData::default())]);
        let o = blob.to_objref(false).unwrap();
        assert_eq!(o.iid, guids::IID_IACTIVATION_PROPERTIES_OUT);
        let ObjRefBody::Custom(c) = &o.body else {
            panic!("custom")
        };
        assert_eq!(c.clsid, guids::CLSID_ACTIVATION_PROPERTIES_OUT);
        assert_eq!(c.reserved as usize, c.data.len() + 8);
        // Not an activation OBJREF: refused.
        let other = ObjRef {
            iid: guids::IID_IUNKNOWN,
            body: ObjRefBody::Custom(ObjRefCustom::new(guids::CLSID_ERROR_OBJECT, c.data.clone())),
        };
        assert!(ActivationBlob::from_objref(&other, &ActivationLimits::DEFAULT).is_err());
    }
}
