//! `HRESULT` (MS-ERREF 2.1) and the resolver's `error_status_t` codes (MS-DCOM 2.2.4,
//! 3.1.2.5.1), as open newtypes: every value decodes and re-encodes.

use std::fmt;

use msrpc_ndr::Ndr;

/// An `HRESULT`: the last four bytes of every ORPC response stub (MS-DCOM 3.1.1.5.1) and the
/// per-interface results of activation and `RemQueryInterface`.
#[derive(Ndr, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct HResult(pub u32);

impl HResult {
    /// `S_OK`.
    pub const S_OK: HResult = HResult(0);
    /// `S_FALSE`.
    pub const S_FALSE: HResult = HResult(1);
    /// `E_NOTIMPL`.
    pub const E_NOTIMPL: HResult = HResult(0x8000_4001);
    /// `E_NOINTERFACE`: the object does not implement the requested interface.
    pub const E_NOINTERFACE: HResult = HResult(0x8000_4002);
    /// `E_POINTER`.
    pub const E_POINTER: HResult = HResult(0x8000_4003);
    /// `E_FAIL`.
    pub const E_FAIL: HResult = HResult(0x8000_4005);
    /// `E_UNEXPECTED`.
    pub const E_UNEXPECTED: HResult = HResult(0x8000_ffff);
    /// `E_ACCESSDENIED`.
    pub const E_ACCESSDENIED: HResult = HResult(0x8007_0005);
    /// `E_OUTOFMEMORY`.
    pub const E_OUTOFMEMORY: HResult = HResult(0x8007_000e);
    /// `E_INVALIDARG`.
    pub const E_INVALIDARG: HResult = HResult(0x8007_0057);
    /// `RPC_E_DISCONNECTED`: the object is gone.
    pub const RPC_E_DISCONNECTED: HResult = HResult(0x8001_0108);
    /// `RPC_E_VERSION_MISMATCH` (MS-DCOM 3.1.1.5.4): incompatible COMVERSION.
    pub const RPC_E_VERSION_MISMATCH: HResult = HResult(0x8001_0110);
    /// `RPC_E_INVALID_HEADER`: an ORPCTHIS that cannot be accepted.
    pub const RPC_E_INVALID_HEADER: HResult = HResult(0x8001_0111);
    /// `RPC_E_INVALID_IPID`.
    pub const RPC_E_INVALID_IPID: HResult = HResult(0x8001_0113);
    /// `RPC_E_INVALID_OBJECT` (MS-DCOM 3.1.1.5.6): an unknown IPID.
    pub const RPC_E_INVALID_OBJECT: HResult = HResult(0x8001_0114);
    /// `CO_E_BAD_PATH`.
    pub const CO_E_BAD_PATH: HResult = HResult(0x8004_01ea);
    /// `REGDB_E_CLASSNOTREG`: the CLSID is not registered.
    pub const REGDB_E_CLASSNOTREG: HResult = HResult(0x8004_0154);
    /// `CLASS_E_NOAGGREGATION`.
    pub const CLASS_E_NOAGGREGATION: HResult = HResult(0x8004_0110);

    /// True for success codes (severity bit clear).
    pub const fn is_success(self) -> bool {
        self.0 & 0x8000_0000 == 0
    }

    fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::S_OK => "S_OK",
            Self::S_FALSE => "S_FALSE",
            Self::E_NOTIMPL => "E_NOTIMPL",
            Self::E_NOINTERFACE => "E_NOINTERFACE",
            Self::E_POINTER => "E_POINTER",
            Self::E_FAIL => "E_FAIL",
            Self::E_UNEXPECTED => "E_UNEXPECTED",
            Self::E_ACCESSDENIED => "E_ACCESSDENIED",
            Self::E_OUTOFMEMORY => "E_OUTOFMEMORY",
            Self::E_INVALIDARG => "E_INVALIDARG",
            Self::RPC_E_DISCONNECTED => "RPC_E_DISCONNECTED",
            Self::RPC_E_VERSION_MISMATCH => "RPC_E_VERSION_MISMATCH",
            Self::RPC_E_INVALID_HEADER => "RPC_E_INVALID_HEADER",
            Self::RPC_E_INVALID_IPID => "RPC_E_INVALID_IPID",
            Self::RPC_E_INVALID_OBJECT => "RPC_E_INVALID_OBJECT",
            Self::CO_E_BAD_PATH => "CO_E_BAD_PATH",
            Self::REGDB_E_CLASSNOTREG => "REGDB_E_CLASSNOTREG",
            Self::CLASS_E_NOAGGREGATION => "CLASS_E_NOAGGREGATION",
            _ => return None,
        })
    }
}

impl fmt::Debug for HResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "HResult({:#010x})", self.0),
        }
    }
}

impl fmt::Display for HResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} ({:#010x})", self.0),
            None => write!(f, "{:#010x}", self.0),
        }
    }
}

/// Win32 codes the OXID resolver returns as `error_status_t` (MS-DCOM 3.1.2.5.1; MS-ERREF 2.2).
pub mod status {
    /// `RPC_S_OK`.
    pub const OK: u32 = 0;
    /// `ERROR_ACCESS_DENIED`.
    pub const ACCESS_DENIED: u32 = 5;
    /// `ERROR_OUTOFMEMORY`.
    pub const OUT_OF_MEMORY: u32 = 14;
    /// `E_INVALIDARG` as the resolver returns it for bad arguments.
    pub const INVALID_ARG: u32 = 0x8007_0057;
    /// `OR_INVALID_OXID`: the OXID is not known.
    pub const OR_INVALID_OXID: u32 = 0x776;
    /// `OR_INVALID_OID`: an OID is not known.
    pub const OR_INVALID_OID: u32 = 0x777;
    /// `OR_INVALID_SET`: the ping set is not known.
    pub const OR_INVALID_SET: u32 = 0x778;
    /// `RPC_S_INVALID_ARG`.
    pub const RPC_S_INVALID_ARG: u32 = 0x57;
}
