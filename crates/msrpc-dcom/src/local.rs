//! `ILocalObjectExporter`: how a process hosting COM classes hands its object exporter to the
//! machine's OXID resolver (msrpcd on port 135). **This is msrpc's own interface, not MS-DCOM
//! wire**: Windows' equivalent between a COM process and RPCSS is private. Its UUID
//! (`ccd3ac2b-c60b-4159-973a-a7da8339990f` v1.0) is ours; msrpcd serves it on its local
//! registration socket only and refuses every call that does not come from there
//! (`CallContext::local`) with [`ACCESS_DENIED`].
//!
//! The model is Windows': one resolver per machine holds every exporter's OXID and every OID's
//! ping sets; each process's exporter keeps its own IPIDs and reference counts and serves
//! `IRemUnknown`; the resolver tells it which OIDs its clients stopped pinging.
//!
//! 1. `register_exporter`: the process's string bindings (its exporter's `addr[port]`s), the
//!    IPID of its `IRemUnknown` and the authentication hint; answers a new OXID and a context
//!    handle. The handle belongs to the connection's association group: when the process
//!    exits (the socket closes) the resolver runs it down, and the exporter, its OIDs and its
//!    classes go, as the endpoint mapper's entries of a vanished registrant do.
//! 2. `add_oids` before handing out an OBJREF naming a new OID (so clients' pings find it),
//!    `free_oids` when the process released an object itself (its last reference went).
//! 3. `run_down_oids`, polled: the OIDs the resolver collected because no client pinged them for
//!    the ping timeout (at most `max` per call, bounded by [`MAX_OIDS_PER_CALL`]). The process
//!    drops those objects.
//! 4. `register_class` / `revoke_class`: a CLSID whose activations the resolver's activator
//!    checks (minimum level, shape) and forwards, as they came, to the process's activator at
//!    the Unix socket path `activator`.
//!
//! Every operation answers a Win32 status: 0, [`ACCESS_DENIED`] (not a local call),
//! [`OUT_OF_MEMORY`] (a limit reached), [`INVALID_PARAMETER`] (an argument out of shape),
//! [`OR_INVALID_OID`] (an OID held by another exporter), [`ALREADY_EXISTS`] (a class or an
//! IRemUnknown IPID registered already). An unknown or foreign handle is a fault
//! (`nca_s_fault_context_mismatch`).

use msrpc_macros::interface;
use msrpc_ndr::{ContextHandle, Ndr, Uuid};

use crate::dualstring::DualStringArray;
use crate::ids::{Ipid, Oid, Oxid};

pub use crate::hresult::status::{ACCESS_DENIED, OK, OR_INVALID_OID, OUT_OF_MEMORY};

/// `ERROR_INVALID_PARAMETER`.
pub const INVALID_PARAMETER: u32 = 87;
/// `ERROR_ALREADY_EXISTS`.
pub const ALREADY_EXISTS: u32 = 183;

/// The most OIDs one `add_oids`, `free_oids` or `run_down_oids` carries.
pub const MAX_OIDS_PER_CALL: usize = 4096;
/// The longest activator socket path (a Unix socket's `sun_path` holds 108 bytes).
pub const MAX_ACTIVATOR_PATH: usize = 107;
/// The longest class name.
pub const MAX_CLASS_NAME: usize = 256;

/// A counted list of OIDs (a conformant structure, as `DUALSTRINGARRAY` is).
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct OidList {
    /// How many.
    pub count: u32,
    /// The OIDs.
    #[ndr(size_is = "count")]
    pub oids: Vec<Oid>,
}

impl OidList {
    /// A list of `oids` (at most `u32::MAX` of them are counted).
    pub fn new(oids: Vec<Oid>) -> Self {
        OidList {
            count: u32::try_from(oids.len()).unwrap_or(u32::MAX),
            oids,
        }
    }
}

/// `ILocalObjectExporter` (ccd3ac2b-c60b-4159-973a-a7da8339990f v1.0): msrpc's local interface
/// between a process's object exporter and the machine's OXID resolver (see the module docs).
#[interface(uuid = "ccd3ac2b-c60b-4159-973a-a7da8339990f", version = "1.0")]
pub trait LocalObjectExporter {
    /// Registers an object exporter: its bindings (string bindings `addr[port]` and security
    /// bindings), the IPID of its `IRemUnknown` and its `authn_hint`. Answers its OXID and the
    /// handle the other operations name it by.
    #[opnum(0)]
    fn register_exporter(
        #[ndr(in)] bindings: DualStringArray,
        #[ndr(in)] ipid_rem_unknown: Ipid,
        #[ndr(in)] authn_hint: u32,
        #[ndr(out)] oxid: Oxid,
        #[ndr(out)] exporter: ContextHandle,
    ) -> u32;

    /// Removes the exporter, its OIDs and its classes (what the handle's rundown does).
    #[opnum(1)]
    fn unregister_exporter(#[ndr(in, out)] exporter: ContextHandle) -> u32;

    /// OIDs the exporter exports now (before their OBJREFs leave the process). An OID another
    /// exporter holds refuses the whole call ([`OR_INVALID_OID`]); one this exporter holds
    /// already is refreshed.
    #[opnum(2)]
    fn add_oids(#[ndr(in)] exporter: ContextHandle, #[ndr(in)] oids: OidList) -> u32;

    /// OIDs the process released (their last reference went): the resolver forgets them.
    /// Others' OIDs and unknown ones are ignored.
    #[opnum(3)]
    fn free_oids(#[ndr(in)] exporter: ContextHandle, #[ndr(in)] oids: OidList) -> u32;

    /// Up to `max` OIDs of this exporter that the resolver ran down (no client pinged them for
    /// the ping timeout), oldest first; each is answered once.
    #[opnum(4)]
    fn run_down_oids(
        #[ndr(in)] exporter: ContextHandle,
        #[ndr(in)] max: u32,
        #[ndr(out)] oids: OidList,
    ) -> u32;

    /// Registers class `clsid` (`name` for logs) as served by this exporter's process, whose
    /// activator (`IRemoteSCMActivator`, `IActivation`) listens on the Unix socket `activator`
    /// (an absolute path).
    #[opnum(5)]
    fn register_class(
        #[ndr(in)] exporter: ContextHandle,
        #[ndr(in)] clsid: Uuid,
        #[ndr(in, string)] name: String,
        #[ndr(in, string)] activator: String,
    ) -> u32;

    /// Revokes class `clsid` (registered by this exporter).
    #[opnum(6)]
    fn revoke_class(#[ndr(in)] exporter: ContextHandle, #[ndr(in)] clsid: Uuid) -> u32;
}
