//! Hosting COM classes (MS-DCOM, server side): the OXID resolver (`IObjectExporter`,
//! [`Resolver`]) and the activators (`IRemoteSCMActivator` and `IActivation`, [`Activator`]),
//! which live next to an endpoint mapper on port 135; one object exporter serving
//! `IRemUnknown` and `IRemUnknown2` ([`RemUnknownService`]) and the hosted classes' interfaces
//! (calls name their object by IPID in the request's object UUID); the class registry
//! ([`ClassRegistry`]: CLSID -> factory), the minimum activation authentication level
//! (CVE-2021-26414) and garbage collection over [`ObjectTables`] ([`DcomHost::expire`]).
//!
//! [`DcomHost`] holds the tables behind a mutex, the classes and the time base (it reads the
//! clock, and the host name for the bindings it advertises); the services are thin adapters
//! from the generated interface traits to it. Refusals the services decide are reported
//! through a [`DcomObserver`] as [`DcomEvent`]s.
//!
//! The demo calculator class (`crate::demo`'s `ICalculator`) is in [`demo`].
//!
//! With the `rt` feature too, [`DcomHost`] adds its services to an `msrpc_rt::Server`
//! builder (`resolver_services`, `exporter_services`) and runs its garbage collector
//! (`spawn_gc`): msrpcd hosts its classes that way, and so can any process.
#![cfg_attr(feature = "rt", doc = "")]
#![cfg_attr(feature = "rt", doc = include_str!("hosting.md"))]

mod activator;
pub mod demo;
#[cfg(feature = "rt")]
mod hosting;
mod permissions;
mod remunknown;
mod resolver;
#[cfg(test)]
mod tests;

pub use activator::Activator;
pub use msrpc_policy::ClassRight;
pub use permissions::ClassPermission;
pub use remunknown::RemUnknownService;
pub use resolver::Resolver;

use std::any::Any;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::activation::ActivationLimits;
use crate::dualstring::{Bindings, DualStringArray, SecurityBinding, StringBinding};
use crate::ids::guids;
use crate::objref::ObjRef;
use crate::orpc::RemInterfaceRef;
use crate::orpc::StdObjRef;
use crate::tables::{GcConfig, IpidEntry, ObjectTables, TableError};
use crate::DcomError;
use crate::{Clsid, ComVersion, HResult, Iid, Ipid, MInterfacePointer, Oid, Oxid, SetId};
use msrpc_policy::Level;
use msrpc_proto::dispatch::CallContext;
use msrpc_proto::pdu::SyntaxId;

/// `ncacn_ip_tcp`'s tower id in string bindings.
const TCP: u16 = crate::dualstring::TOWER_NCACN_IP_TCP;
/// RPC_C_AUTHN_WINNT and RPC_C_AUTHN_GSS_NEGOTIATE, the security bindings advertised when
/// msrpcd accepts NTLM.
const AUTHN_WINNT: u16 = 10;
const AUTHN_GSS_NEGOTIATE: u16 = 9;
/// The most IIDs one RemQueryInterface(2) may ask for.
const MAX_QI_IIDS: usize = 256;
/// CO_E_SERVER_EXEC_FAILURE: no object exporter is running.
const CO_E_SERVER_EXEC_FAILURE: HResult = HResult(0x8008_0005);

/// A COM object a [`DcomHost`] exports.
pub trait ComObject: Send + Sync + 'static {
    /// The interfaces it implements besides IUnknown.
    fn interfaces(&self) -> &'static [Iid];
    /// For the interface stubs to reach the concrete type.
    fn as_any(&self) -> &dyn Any;
    /// Whether it implements `iid` (IUnknown always).
    fn supports(&self, iid: Iid) -> bool {
        iid == guids::IID_IUNKNOWN || self.interfaces().contains(&iid)
    }
}

/// A hosted object, shared by the tables and the calls running on it.
pub type Object = Arc<dyn ComObject>;

/// What the tables hold for an object: it, its class's name and, when the class is
/// registered, its CLSID (what the class's access permission is looked up by).
#[derive(Clone)]
struct Hosted {
    object: Object,
    class: &'static str,
    clsid: Option<Clsid>,
}

/// Creates an instance of a class.
pub type Factory = Arc<dyn Fn() -> Object + Send + Sync>;

/// CLSID -> factory.
#[derive(Clone, Default)]
pub struct ClassRegistry {
    classes: HashMap<Clsid, (&'static str, Factory)>,
}

impl ClassRegistry {
    /// Registers (or replaces) class `clsid`.
    pub fn register(&mut self, clsid: Clsid, name: &'static str, factory: Factory) {
        self.classes.insert(clsid, (name, factory));
    }

    /// True when no class is registered.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    fn get(&self, clsid: Clsid) -> Option<&(&'static str, Factory)> {
        self.classes.get(&clsid)
    }

    /// The CLSID registered under `name`.
    fn clsid_named(&self, name: &str) -> Option<Clsid> {
        self.classes
            .iter()
            .find(|(_, (n, _))| *n == name)
            .map(|(clsid, _)| *clsid)
    }
}

/// Security contexts one connection to an object exporter should be allowed
/// (`msrpc_rt::Limits::max_auth_contexts`): Impacket's client opens a new one each time it
/// switches interface (alter_context with a new auth_context_id).
pub const EXPORTER_AUTH_CONTEXTS: usize = 256;

/// How a [`DcomHost`] decides (msrpcd's `[dcom]` configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DcomSettings {
    /// Activations below this level are refused with E_ACCESSDENIED.
    pub min_activation_level: Level,
    /// Ping timing and table limits.
    pub gc: GcConfig,
    /// How often the garbage collector runs.
    pub gc_interval: Duration,
}

impl Default for DcomSettings {
    /// Activation at packet integrity or above (as Windows since KB5004442), the MS-DCOM ping
    /// timing ([`GcConfig::DEFAULT`]), a collection every 30 s.
    fn default() -> Self {
        DcomSettings {
            min_activation_level: Level::Integrity,
            gc: GcConfig::DEFAULT,
            gc_interval: Duration::from_secs(30),
        }
    }
}

/// What the DCOM services report about the calls they refuse (see [`DcomObserver`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DcomEvent {
    /// An activation (or class object request) below the minimum activation authentication
    /// level, answered `E_ACCESSDENIED` (Windows logs System event 10036 for it, KB5004442).
    ActivationDenied {
        /// The class asked for.
        clsid: Clsid,
        /// The call's authentication level.
        level: Level,
        /// The minimum level in force.
        min: Level,
        /// The authenticated user, if any.
        user: Option<String>,
        /// The client's address, as the transport gave it.
        peer: Option<Arc<str>>,
        /// The connection (`CallContext::conn_id`).
        conn_id: u64,
        /// The call id on that connection.
        call_id: u32,
        /// The activation interface called.
        interface: SyntaxId,
        /// The operation called.
        opnum: u16,
    },
    /// An activation request refused for its shape: its blob (or `RemoteActivation`'s
    /// arguments) beyond [`ActivationLimits`] or not decodable, answered `E_INVALIDARG` (or a
    /// fault when answering would mean allocating as the peer says).
    ActivationRefused {
        /// What the decoder refused.
        error: DcomError,
        /// `dcom_activation_limit` (beyond a limit: sizes, counts, strings, OBJREF nesting,
        /// the MS03-026 / MS03-039 class) or `dcom_activation_malformed`.
        shape: &'static str,
        /// The client's address, as the transport gave it.
        peer: Option<Arc<str>>,
        /// The connection (`CallContext::conn_id`).
        conn_id: u64,
        /// The call id on that connection.
        call_id: u32,
        /// The activation interface called.
        interface: SyntaxId,
        /// The operation called.
        opnum: u16,
    },
    /// An activation that passed the level check, done (`result` S_OK: an object exported)
    /// or failed (an unregistered class, no requested interface, full tables, ...).
    /// `RemoteGetClassObject` reports here too (no class objects are hosted: never S_OK).
    Activation {
        /// The class asked for.
        clsid: Clsid,
        /// Its registered name, when it is registered.
        class: Option<&'static str>,
        /// The interfaces asked for.
        iids: Vec<Iid>,
        /// The authenticated user, if any.
        user: Option<String>,
        /// The call's authentication level.
        level: Level,
        /// The activation's HRESULT.
        result: HResult,
        /// The exporter holding the new object (when one was exported).
        oxid: Option<Oxid>,
        /// The new object (when one was exported).
        oid: Option<Oid>,
        /// The connection (`CallContext::conn_id`).
        conn_id: u64,
        /// The call id on that connection.
        call_id: u32,
    },
    /// An ORPC call on a hosted object's interface, answered (see [`DcomHost::orpc_done`]).
    OrpcCall {
        /// The IPID the call named (`CallContext::object`; nil when it named none).
        ipid: Ipid,
        /// Its object, when the IPID names one.
        oid: Option<Oid>,
        /// Its exporter, when the IPID names one.
        oxid: Option<Oxid>,
        /// The object's class name, when the IPID names one.
        class: Option<&'static str>,
        /// The interface the service serves.
        iid: Iid,
        /// The operation.
        opnum: u16,
        /// The HRESULT answered.
        result: HResult,
        /// The connection (`CallContext::conn_id`).
        conn_id: u64,
        /// The call id on that connection.
        call_id: u32,
    },
    /// `RemQueryInterface` (IRemUnknown) or `RemQueryInterface2` (IRemUnknown2, `v2`).
    RemQueryInterface {
        /// The IPID whose object is asked.
        ripid: Ipid,
        /// Public references asked for each new interface (RemQueryInterface2: 1).
        refs: u32,
        /// The interfaces asked for.
        iids: Vec<Iid>,
        /// Per interface: its HRESULT (empty when the call was refused as a whole).
        results: Vec<HResult>,
        /// The call's HRESULT.
        result: HResult,
        /// Whether it came through IRemUnknown2's RemQueryInterface2.
        v2: bool,
        /// The connection (`CallContext::conn_id`).
        conn_id: u64,
        /// The call id on that connection.
        call_id: u32,
    },
    /// `RemAddRef` (IRemUnknown or IRemUnknown2).
    RemAddRef {
        /// The reference count changes asked for.
        refs: Vec<RemInterfaceRef>,
        /// Per entry: its HRESULT.
        results: Vec<HResult>,
        /// The call's HRESULT.
        result: HResult,
        /// The connection (`CallContext::conn_id`).
        conn_id: u64,
        /// The call id on that connection.
        call_id: u32,
    },
    /// `RemRelease` (IRemUnknown or IRemUnknown2); the objects it frees are reported as
    /// [`DcomEvent::Collected`] with [`GcReason::Released`].
    RemRelease {
        /// The reference count changes asked for.
        refs: Vec<RemInterfaceRef>,
        /// The call's HRESULT (`E_INVALIDARG` when an entry named no IPID).
        result: HResult,
        /// The connection (`CallContext::conn_id`).
        conn_id: u64,
        /// The call id on that connection.
        call_id: u32,
    },
    /// A ping at the resolver: `SimplePing` (`added` and `removed` empty) or `ComplexPing`.
    Ping {
        /// True for ComplexPing.
        complex: bool,
        /// The set pinged (ComplexPing with set 0: the new set's id when it succeeded).
        set_id: SetId,
        /// OIDs added to the set.
        added: Vec<Oid>,
        /// OIDs removed from the set.
        removed: Vec<Oid>,
        /// The resolver's status (`hresult::status`, 0: OK).
        result: u32,
        /// The connection (`CallContext::conn_id`).
        conn_id: u64,
        /// The call id on that connection.
        call_id: u32,
    },
    /// A call refused by the class's launch or access permission ([`ClassPermission`]),
    /// answered `E_ACCESSDENIED`: an activation (launch; the factory never ran), or an ORPC
    /// call or RemQueryInterface on one of its objects (access). Windows logs System event
    /// 10016 for such refusals.
    ClassDenied {
        /// Launch or access.
        right: ClassRight,
        /// The class.
        clsid: Clsid,
        /// Its registered name, when it is registered.
        class: Option<&'static str>,
        /// `dcom_launch_denied` or `dcom_access_denied` (the refusal's reason code).
        reason: &'static str,
        /// The rule that refused, when the permission names one (msrpcd: `dcom-class:CLSID`).
        rule: Option<Arc<str>>,
        /// The authenticated user, if any.
        user: Option<String>,
        /// The client's address, as the transport gave it.
        peer: Option<Arc<str>>,
        /// The connection (`CallContext::conn_id`).
        conn_id: u64,
        /// The call id on that connection.
        call_id: u32,
        /// The interface called (an activation interface, IRemUnknown(2), or the object's).
        interface: msrpc_ndr::Uuid,
        /// The operation called.
        opnum: u16,
    },
    /// Objects that went from the tables.
    Collected {
        /// Their OIDs.
        oids: Vec<Oid>,
        /// Why they went.
        reason: GcReason,
        /// Objects left.
        objects: usize,
        /// IPIDs left.
        ipids: usize,
        /// Ping sets left.
        sets: usize,
        /// The connection of the call that collected them (`CallContext::conn_id`); 0 for the
        /// garbage collector ([`DcomHost::expire`]).
        conn_id: u64,
    },
}

/// Why objects were collected ([`DcomEvent::Collected`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GcReason {
    /// Their ping set expired: no client pinged it for `ping_period` x `missed_pings`
    /// (MS-DCOM 3.2.6.1), by [`DcomHost::expire`].
    PingTimeout,
    /// `RemRelease` released their last reference and no ping set held them.
    Released,
    /// `ComplexPing` removed them from their last ping set and no reference held them.
    RemovedFromSet,
}

impl GcReason {
    /// A stable code: `ping_timeout`, `released`, `removed_from_set`.
    pub fn as_str(self) -> &'static str {
        match self {
            GcReason::PingTimeout => "ping_timeout",
            GcReason::Released => "released",
            GcReason::RemovedFromSet => "removed_from_set",
        }
    }
}

/// Receives the [`DcomEvent`]s of a [`DcomHost`]'s services. It runs inside the call, with no
/// lock held: it should hand the event on (to a queue, a log) rather than block.
pub type DcomObserver = Arc<dyn Fn(&DcomEvent) + Send + Sync>;

/// The shape code of a refused activation (`DcomEvent::ActivationRefused::shape`): beyond a limit (sizes, counts, strings, OBJREF
/// nesting: the MS03-026 / MS03-039 class), or not decodable.
fn shape_of(e: &DcomError) -> &'static str {
    match e {
        DcomError::Limit { .. } | DcomError::Depth(_) => "dcom_activation_limit",
        _ => "dcom_activation_malformed",
    }
}

/// The DCOM state of a server process: object tables, classes, bindings (one OXID).
pub struct DcomHost {
    tables: Mutex<ObjectTables<Hosted>>,
    epoch: Instant,
    classes: ClassRegistry,
    settings: DcomSettings,
    limits: ActivationLimits,
    /// What ServerAlive2 answers and OBJREFs carry as the resolver's address: the host's
    /// names, no endpoints, and the security bindings.
    resolver_bindings: Bindings,
    /// The object exporter, once it listens.
    exporter: OnceLock<Oxid>,
    /// Where the object exporter listens.
    exporter_addrs: OnceLock<Vec<SocketAddr>>,
    security: Vec<SecurityBinding>,
    observer: Option<DcomObserver>,
    /// Per-class launch and access permission ([`DcomHost::with_class_permission`]).
    class_permission: Option<ClassPermission>,
}

/// The host's name (for the bindings), when the kernel tells it.
fn hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty() && !name.contains('\0')).then(|| name.to_string())
}

/// The network addresses to advertise for `addrs` (specified addresses as they are; the host
/// name for every unspecified one), each followed by `[port]` when `with_port`.
fn string_bindings(addrs: &[SocketAddr], with_port: bool) -> Vec<StringBinding> {
    let mut out: Vec<StringBinding> = Vec::new();
    let host = hostname();
    let mut push = |s: String| {
        if !out.iter().any(|b| b.network_addr == s) {
            out.push(StringBinding {
                tower_id: TCP,
                network_addr: s,
            });
        }
    };
    for a in addrs {
        let port = if with_port {
            format!("[{}]", a.port())
        } else {
            String::new()
        };
        if !a.ip().is_unspecified() {
            push(format!("{}{port}", a.ip()));
        }
    }
    if let Some(h) = host {
        for a in addrs {
            let port = if with_port {
                format!("[{}]", a.port())
            } else {
                String::new()
            };
            push(format!("{h}{port}"));
        }
    }
    out
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The wire level of a call (1, none, when unauthenticated).
fn wire_level(ctx: &CallContext) -> u32 {
    ctx.auth.as_ref().map_or(1, |a| u32::from(a.level.0).max(1))
}

fn call_level(ctx: &CallContext) -> Level {
    ctx.auth
        .as_ref()
        .map_or(Level::None, |a| Level::from_wire(a.level))
}

/// The result of one activation.
struct Activated {
    oxid: Oxid,
    oid: Oid,
    bindings: DualStringArray,
    rem_unknown: Ipid,
    authn_hint: u32,
    /// Per requested IID: its result and interface pointer.
    results: Vec<(HResult, Option<MInterfacePointer>)>,
}

impl DcomHost {
    /// A host for `classes`, advertising the resolver at `epm_addrs` (ports dropped).
    /// `ntlm` says whether authenticated binds are accepted (security bindings).
    pub fn new(
        classes: ClassRegistry,
        settings: DcomSettings,
        epm_addrs: &[SocketAddr],
        ntlm: bool,
        observer: Option<DcomObserver>,
    ) -> DcomHost {
        let security = if ntlm {
            vec![
                SecurityBinding::new(AUTHN_WINNT, ""),
                SecurityBinding::new(AUTHN_GSS_NEGOTIATE, ""),
            ]
        } else {
            Vec::new()
        };
        DcomHost {
            tables: Mutex::new(ObjectTables::new(settings.gc)),
            epoch: Instant::now(),
            classes,
            settings,
            limits: ActivationLimits::DEFAULT,
            resolver_bindings: Bindings {
                strings: string_bindings(epm_addrs, false),
                security: security.clone(),
            },
            exporter: OnceLock::new(),
            exporter_addrs: OnceLock::new(),
            security,
            observer,
            class_permission: None,
        }
    }

    /// The classes hosted.
    pub fn classes(&self) -> &ClassRegistry {
        &self.classes
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Registers the object exporter listening at `addrs`; returns its OXID.
    pub fn set_exporter(&self, addrs: &[SocketAddr]) -> Result<Oxid, TableError> {
        let bindings = Bindings {
            strings: string_bindings(addrs, true),
            security: self.security.clone(),
        };
        let hint = match self.settings.min_activation_level {
            Level::Privacy => 6,
            Level::Integrity => 5,
            Level::Pkt => 4,
            Level::Call => 3,
            Level::Connect => 2,
            Level::None => 1,
        };
        let oxid = lock(&self.tables).add_exporter(bindings, hint)?.oxid;
        let _ = self.exporter.set(oxid);
        let _ = self.exporter_addrs.set(addrs.to_vec());
        Ok(oxid)
    }

    /// `base` with the address the client dialled (`ctx.local_addr`) first, when it is not
    /// there: with a listener on an unspecified address, the bindings only name the host, and
    /// clients look for the address they dialled (Impacket picks the tower-7 binding whose
    /// host contains it). `port` gives the port to add for an address (None: no port).
    fn with_dialled(
        ctx: &CallContext,
        base: &Bindings,
        port: impl Fn(std::net::IpAddr) -> Option<Option<u16>>,
    ) -> Bindings {
        let mut b = base.clone();
        let Some(local) = ctx.local_addr else {
            return b;
        };
        let ip = local.ip().to_canonical();
        let Some(port) = port(ip) else {
            return b;
        };
        let s = match port {
            Some(p) => format!("{ip}[{p}]"),
            None => ip.to_string(),
        };
        if !b.strings.iter().any(|x| x.network_addr == s) {
            b.strings.insert(
                0,
                StringBinding {
                    tower_id: TCP,
                    network_addr: s,
                },
            );
        }
        b
    }

    /// The exporter's port for a client that dialled `ip`: the listener on `ip`, else one on
    /// the unspecified address of its family.
    fn exporter_port(&self, ip: std::net::IpAddr) -> Option<Option<u16>> {
        let addrs = self.exporter_addrs.get()?;
        addrs
            .iter()
            .find(|a| a.ip() == ip)
            .or_else(|| {
                addrs
                    .iter()
                    .find(|a| a.ip().is_unspecified() && a.is_ipv4() == ip.is_ipv4())
            })
            .map(|a| Some(a.port()))
    }

    /// Garbage collection: expired ping sets and their objects go. Returns how many objects.
    pub fn expire(&self) -> usize {
        let now = self.now();
        let gone = lock(&self.tables).expire(now);
        let n = gone.len();
        if !gone.is_empty() {
            let (objects, ipids, sets) = self.counts();
            tracing::info!(
                collected = gone.len(),
                objects,
                ipids,
                sets,
                "DCOM garbage collection"
            );
            self.emit(DcomEvent::Collected {
                oids: gone,
                reason: GcReason::PingTimeout,
                objects,
                ipids,
                sets,
                conn_id: 0,
            });
        }
        n
    }

    /// Reports objects a call (on connection `conn_id`) collected (no lock held).
    fn collected(&self, conn_id: u64, oids: Vec<Oid>, reason: GcReason) {
        if oids.is_empty() || self.observer.is_none() {
            return;
        }
        let (objects, ipids, sets) = self.counts();
        self.emit(DcomEvent::Collected {
            oids,
            reason,
            objects,
            ipids,
            sets,
            conn_id,
        });
    }

    /// (objects, IPIDs, ping sets) alive now.
    pub fn counts(&self) -> (usize, usize, usize) {
        let t = lock(&self.tables);
        (t.object_count(), t.ipid_count(), t.set_count())
    }

    fn resolver_dsa(&self) -> DualStringArray {
        DualStringArray::from_bindings(&self.resolver_bindings)
            .unwrap_or_else(|_| DualStringArray::empty())
    }

    fn objref(&self, iid: Iid, std: StdObjRef) -> Option<MInterfacePointer> {
        ObjRef::standard(iid, std, self.resolver_dsa())
            .to_interface_pointer()
            .ok()
    }

    fn emit(&self, event: DcomEvent) {
        if let Some(o) = &self.observer {
            o(&event);
        }
    }

    /// Builds the event only when someone observes.
    fn emit_with(&self, event: impl FnOnce() -> DcomEvent) {
        if let Some(o) = &self.observer {
            o(&event());
        }
    }

    /// Reports an activation refused for its shape.
    fn report_shape(&self, ctx: &CallContext, syntax: SyntaxId, e: &DcomError) {
        tracing::warn!(
            error = %e,
            peer = ctx.peer.as_deref(),
            "DCOM activation request refused"
        );
        self.emit(DcomEvent::ActivationRefused {
            error: e.clone(),
            shape: shape_of(e),
            peer: ctx.peer.clone(),
            conn_id: ctx.conn_id,
            call_id: ctx.call_id,
            interface: syntax,
            opnum: ctx.opnum,
        });
    }

    /// The minimum activation level (CVE-2021-26414): below it, E_ACCESSDENIED and a
    /// `policy` deny event.
    fn check_level(
        &self,
        ctx: &CallContext,
        syntax: SyntaxId,
        clsid: Clsid,
    ) -> Result<(), HResult> {
        let level = call_level(ctx);
        let user = ctx.auth.as_ref().and_then(|a| a.user.as_deref());
        if level < self.settings.min_activation_level {
            // Windows logs System event 10036 for this (KB5004442).
            tracing::warn!(
                %clsid,
                level = level.name(),
                min = self.settings.min_activation_level.name(),
                user,
                peer = ctx.peer.as_deref(),
                "DCOM activation refused: below the minimum activation authentication level"
            );
            self.emit(DcomEvent::ActivationDenied {
                clsid,
                level,
                min: self.settings.min_activation_level,
                user: user.map(str::to_string),
                peer: ctx.peer.clone(),
                conn_id: ctx.conn_id,
                call_id: ctx.call_id,
                interface: syntax,
                opnum: ctx.opnum,
            });
            return Err(HResult::E_ACCESSDENIED);
        }
        Ok(())
    }

    /// Reports an activation that passed the level check.
    fn report_activation(
        &self,
        ctx: &CallContext,
        clsid: Clsid,
        iids: &[Iid],
        result: HResult,
        object: Option<(Oxid, Oid)>,
    ) {
        if self.observer.is_none() {
            return;
        }
        self.emit(DcomEvent::Activation {
            clsid,
            class: self.classes.get(clsid).map(|(name, _)| *name),
            iids: iids.to_vec(),
            user: ctx.auth.as_ref().and_then(|a| a.user.clone()),
            level: call_level(ctx),
            result,
            oxid: object.map(|(oxid, _)| oxid),
            oid: object.map(|(_, oid)| oid),
            conn_id: ctx.conn_id,
            call_id: ctx.call_id,
        });
    }

    /// The checks and the work common to the three activation calls.
    fn activate(
        &self,
        ctx: &CallContext,
        syntax: SyntaxId,
        clsid: Clsid,
        iids: &[Iid],
    ) -> Result<Activated, HResult> {
        self.check_level(ctx, syntax, clsid)?;
        self.check_class(ctx, syntax.uuid, clsid, ClassRight::Launch)?;
        let r = self.activate_checked(ctx, clsid, iids);
        match &r {
            Ok(a) => self.report_activation(ctx, clsid, iids, HResult::S_OK, Some((a.oxid, a.oid))),
            Err(hr) => self.report_activation(ctx, clsid, iids, *hr, None),
        }
        r
    }

    fn activate_checked(
        &self,
        ctx: &CallContext,
        clsid: Clsid,
        iids: &[Iid],
    ) -> Result<Activated, HResult> {
        let level = call_level(ctx);
        let user = ctx.auth.as_ref().and_then(|a| a.user.as_deref());
        if iids.is_empty() || iids.len() > self.limits.max_interfaces as usize {
            return Err(HResult::E_INVALIDARG);
        }
        let Some((name, factory)) = self.classes.get(clsid) else {
            tracing::info!(%clsid, user, "DCOM activation of an unregistered class");
            return Err(HResult::REGDB_E_CLASSNOTREG);
        };
        let Some(&oxid) = self.exporter.get() else {
            return Err(CO_E_SERVER_EXEC_FAILURE);
        };
        let object = factory();
        let Some(&first) = iids.iter().find(|i| object.supports(**i)) else {
            return Err(HResult::E_NOINTERFACE);
        };
        let now = self.now();
        let mut t = lock(&self.tables);
        let hosted = Hosted {
            object: object.clone(),
            class: name,
            clsid: Some(clsid),
        };
        let std = t.export(oxid, hosted, first, 1, true, now).map_err(|e| {
            tracing::warn!(error = %e, "DCOM activation: the object tables are full");
            HResult::E_OUTOFMEMORY
        })?;
        let oid = std.oid;
        let mut results = Vec::with_capacity(iids.len());
        let mut first_done = false;
        for iid in iids {
            if !object.supports(*iid) {
                results.push((HResult::E_NOINTERFACE, None));
                continue;
            }
            let std = if *iid == first && !first_done {
                first_done = true;
                Ok(std)
            } else {
                t.add_interface(oid, *iid, 1, now)
            };
            match std.ok().and_then(|s| self.objref(*iid, s)) {
                Some(ip) => results.push((HResult::S_OK, Some(ip))),
                None => results.push((HResult::E_OUTOFMEMORY, None)),
            }
        }
        let exporter = t.exporter(oxid).ok_or(CO_E_SERVER_EXEC_FAILURE)?;
        let reply = Self::with_dialled(ctx, &exporter.bindings, |ip| self.exporter_port(ip));
        let bindings = DualStringArray::from_bindings(&reply).map_err(|_| HResult::E_FAIL)?;
        let rem_unknown = exporter.rem_unknown;
        drop(t);
        tracing::info!(%clsid, class = name, user, level = level.name(), "DCOM activation");
        Ok(Activated {
            oxid,
            oid,
            bindings,
            rem_unknown,
            authn_hint: wire_level(ctx),
            results,
        })
    }

    /// The object an ORPC call on interface `iid` names by IPID (`CallContext::object`), for
    /// a hosted interface's service: checks the caller's COM version, then that the IPID
    /// exists (else `RPC_E_INVALID_IPID`) and is an `iid` IPID (else `E_NOINTERFACE`). Reach
    /// the concrete type with [`ComObject::as_any`]; report the answer with
    /// [`DcomHost::orpc_done`].
    pub fn orpc_object(
        &self,
        ctx: &CallContext,
        version: ComVersion,
        iid: Iid,
    ) -> Result<Object, HResult> {
        version.check_client()?;
        let (entry, object, clsid) = self.target(ctx).ok_or(HResult::RPC_E_INVALID_IPID)?;
        if entry.iid != iid {
            return Err(HResult::E_NOINTERFACE);
        }
        if let Some(clsid) = clsid {
            self.check_class(ctx, iid, clsid, ClassRight::Access)?;
        }
        Ok(object)
    }

    /// Reports an ORPC call on interface `iid` answered with `result` (a
    /// [`DcomEvent::OrpcCall`]): every method of a hosted interface's service calls it once.
    /// The IPID is looked up again, so an object released meanwhile is reported without its
    /// OID, OXID and class.
    pub fn orpc_done(&self, ctx: &CallContext, iid: Iid, result: HResult) {
        if self.observer.is_none() {
            return;
        }
        let ipid = Ipid(ctx.object.unwrap_or_default());
        let found = {
            let t = lock(&self.tables);
            t.lookup(ipid).map(|(e, h)| (e.oid, e.oxid, h.class))
        };
        self.emit(DcomEvent::OrpcCall {
            ipid,
            oid: found.map(|f| f.0),
            oxid: found.map(|f| f.1),
            class: found.map(|f| f.2),
            iid,
            opnum: ctx.opnum,
            result,
            conn_id: ctx.conn_id,
            call_id: ctx.call_id,
        });
    }

    /// The object behind an ORPC call's IPID (`ctx.object`), with its IPID entry.
    fn target(&self, ctx: &CallContext) -> Option<(IpidEntry, Object, Option<Clsid>)> {
        let ipid = Ipid(ctx.object?);
        let t = lock(&self.tables);
        t.lookup(ipid).map(|(e, h)| (*e, h.object.clone(), h.clsid))
    }

    /// True when the call is addressed to the exporter's IRemUnknown.
    fn is_rem_unknown(&self, ctx: &CallContext) -> bool {
        let (Some(obj), Some(oxid)) = (ctx.object, self.exporter.get()) else {
            return false;
        };
        lock(&self.tables)
            .exporter(*oxid)
            .is_some_and(|e| e.rem_unknown == Ipid(obj))
    }

    /// Exports `object` (of class `class`, the name events report; a class registered under
    /// that name lends it its access permission) created by a method, for
    /// an `[out]` interface pointer: its `iid` interface with one public reference, marshalled
    /// as a standard OBJREF naming this host's resolver. The object lives until the client
    /// releases that reference or stops pinging it. Errors: `CO_E_SERVER_EXEC_FAILURE` before
    /// [`DcomHost::set_exporter`], `E_OUTOFMEMORY` when the tables are full.
    pub fn export(
        &self,
        object: Object,
        class: &'static str,
        iid: Iid,
    ) -> Result<MInterfacePointer, HResult> {
        let oxid = *self.exporter.get().ok_or(CO_E_SERVER_EXEC_FAILURE)?;
        let now = self.now();
        let clsid = self.classes.clsid_named(class);
        let hosted = Hosted {
            object,
            class,
            clsid,
        };
        let std = lock(&self.tables)
            .export(oxid, hosted, iid, 1, true, now)
            .map_err(|_| HResult::E_OUTOFMEMORY)?;
        self.objref(iid, std).ok_or(HResult::E_FAIL)
    }
}
