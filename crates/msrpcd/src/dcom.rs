//! DCOM hosting (MS-DCOM) in msrpcd: the OXID resolver (`IObjectExporter`) and the activators
//! (`IRemoteSCMActivator`, `IActivation`) on port 135 next to the endpoint mapper, one object
//! exporter on a dynamic port serving `IRemUnknown`, `IRemUnknown2` and the hosted classes'
//! interfaces (calls name their object by IPID in the request's object UUID), the class
//! registry (CLSID -> factory), the minimum activation authentication level
//! (CVE-2021-26414) and the garbage-collection timer over [`ObjectTables`].
//!
//! The wire types, interface stubs and tables are `msrpc-dcom`'s (sans-IO); this module only
//! holds them, decides, and reads the clock.

use std::any::Any;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use msrpc_audit::live::Input;
use msrpc_dcom::activation::{
    ActivationBlob, ActivationLimits, Property, PropsOutInfo, RemoteReplyScmInfo, ScmReplyInfoData,
};
use msrpc_dcom::activator::{
    Activation, RemoteActivationRequest, RemoteActivationResponse, RemoteCreateInstanceRequest,
    RemoteCreateInstanceResponse, RemoteGetClassObjectRequest, RemoteGetClassObjectResponse,
    RemoteScmActivator,
};
use msrpc_dcom::demo::{
    AddRequest, AddResponse, Calculator, EchoRequest, EchoResponse, SpawnRequest, SpawnResponse,
    CLSID_CALCULATOR, IID_ICALCULATOR,
};
use msrpc_dcom::dualstring::{Bindings, DualStringArray, SecurityBinding, StringBinding};
use msrpc_dcom::hresult::status;
use msrpc_dcom::ids::guids;
use msrpc_dcom::objref::ObjRef;
use msrpc_dcom::orpc::{RemQiResult, StdObjRef};
use msrpc_dcom::remunknown::{
    RemAddRefRequest, RemAddRefResponse, RemQueryInterfaceRequest, RemQueryInterfaceResponse,
    RemReleaseRequest, RemReleaseResponse, RemUnknown,
};
use msrpc_dcom::remunknown2::RemUnknown2;
use msrpc_dcom::resolver::{
    ComplexPingRequest, ComplexPingResponse, ObjectExporter, ResolveOxid2Request,
    ResolveOxid2Response, ResolveOxidRequest, ResolveOxidResponse, ServerAlive2Request,
    ServerAlive2Response, ServerAliveRequest, ServerAliveResponse, SimplePingRequest,
    SimplePingResponse,
};
use msrpc_dcom::tables::{GcConfig, IpidEntry, ObjectTables};
use msrpc_dcom::DcomError;
use msrpc_dcom::{Clsid, ComVersion, HResult, Iid, Ipid, MInterfacePointer, OrpcThat, Oxid};
use msrpc_ndr::Unique;
use msrpc_policy::Level;
use msrpc_proto::dispatch::{CallContext, RpcFault};
use msrpc_proto::pdu::{FaultStatus, SyntaxId};

/// `ncacn_ip_tcp`'s tower id in string bindings.
const TCP: u16 = msrpc_dcom::dualstring::TOWER_NCACN_IP_TCP;
/// RPC_C_AUTHN_WINNT and RPC_C_AUTHN_GSS_NEGOTIATE, the security bindings advertised when
/// msrpcd accepts NTLM.
const AUTHN_WINNT: u16 = 10;
const AUTHN_GSS_NEGOTIATE: u16 = 9;
/// The most IIDs one RemQueryInterface(2) may ask for.
const MAX_QI_IIDS: usize = 256;
/// CO_E_SERVER_EXEC_FAILURE: no object exporter is running.
const CO_E_SERVER_EXEC_FAILURE: HResult = HResult(0x8008_0005);

/// A COM object hosted by msrpcd.
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
}

/// What the `[dcom]` configuration sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DcomSettings {
    /// Activations below this level are refused with E_ACCESSDENIED.
    pub min_activation_level: Level,
    /// Ping timing and table limits.
    pub gc: GcConfig,
    /// How often the garbage collector runs.
    pub gc_interval: Duration,
}

/// Sends an audit input (a refusal the DCOM services decided) to the audit pipeline.
pub type Reporter = Arc<dyn Fn(Input) + Send + Sync>;

/// The shape code of a refused activation: beyond a limit (sizes, counts, strings, OBJREF
/// nesting: the MS03-026 / MS03-039 class), or not decodable.
fn shape_of(e: &DcomError) -> &'static str {
    match e {
        DcomError::Limit { .. } | DcomError::Depth(_) => "dcom_activation_limit",
        _ => "dcom_activation_malformed",
    }
}

/// The DCOM state of the daemon: tables, classes, bindings.
pub struct DcomHost {
    tables: Mutex<ObjectTables<Object>>,
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
    report: Option<Reporter>,
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
        report: Option<Reporter>,
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
            report,
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
    pub fn set_exporter(&self, addrs: &[SocketAddr]) -> anyhow::Result<Oxid> {
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
        let oxid = lock(&self.tables)
            .add_exporter(bindings, hint)
            .map_err(|e| anyhow::anyhow!("cannot register the object exporter: {e}"))?
            .oxid;
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
        if !gone.is_empty() {
            let (objects, ipids, sets) = self.counts();
            tracing::info!(
                collected = gone.len(),
                objects,
                ipids,
                sets,
                "DCOM garbage collection"
            );
        }
        gone.len()
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

    /// Audits an activation refused below the minimum level (a `policy` deny event).
    fn report_denied(&self, ctx: &CallContext, syntax: SyntaxId, reason: &str) {
        if let Some(r) = &self.report {
            r(Input::Policy {
                conn_id: ctx.conn_id,
                call_id: ctx.call_id,
                interface: syntax.uuid.to_string(),
                opnum: ctx.opnum,
                action: "deny".to_string(),
                reason: reason.to_string(),
                rule: None,
                user: ctx.auth.as_ref().and_then(|a| a.user.clone()),
            });
        }
    }

    /// Audits an activation refused for its shape (an `exploit_shape` event).
    fn report_shape(&self, ctx: &CallContext, syntax: SyntaxId, e: &DcomError) {
        tracing::warn!(
            error = %e,
            peer = ctx.peer.as_deref(),
            "DCOM activation request refused"
        );
        if let Some(r) = &self.report {
            r(Input::ExploitShape {
                conn_id: ctx.conn_id,
                call_id: ctx.call_id,
                interface: syntax.uuid.to_string(),
                opnum: ctx.opnum,
                shape: shape_of(e).to_string(),
                detail: e.to_string(),
            });
        }
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
            self.report_denied(ctx, syntax, "dcom_activation_level");
            return Err(HResult::E_ACCESSDENIED);
        }
        Ok(())
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
        let std = t
            .export(oxid, object.clone(), first, 1, true, now)
            .map_err(|e| {
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
            bindings,
            rem_unknown,
            authn_hint: wire_level(ctx),
            results,
        })
    }

    /// The object behind an ORPC call's IPID (`ctx.object`), with its IPID entry.
    fn target(&self, ctx: &CallContext) -> Option<(IpidEntry, Object)> {
        let ipid = Ipid(ctx.object?);
        let t = lock(&self.tables);
        t.lookup(ipid).map(|(e, o)| (*e, o.clone()))
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

    /// Exports a new object created by a method (an `[out]` interface pointer).
    fn export_new(&self, object: Object, iid: Iid) -> Result<MInterfacePointer, HResult> {
        let oxid = *self.exporter.get().ok_or(CO_E_SERVER_EXEC_FAILURE)?;
        let now = self.now();
        let std = lock(&self.tables)
            .export(oxid, object, iid, 1, true, now)
            .map_err(|_| HResult::E_OUTOFMEMORY)?;
        self.objref(iid, std).ok_or(HResult::E_FAIL)
    }
}

// ---------------------------------------------------------------------------------------
// IObjectExporter on 135

/// The OXID resolver.
#[derive(Clone)]
pub struct Resolver(pub Arc<DcomHost>);

impl ObjectExporter for Resolver {
    async fn resolve_oxid(
        &self,
        _ctx: &CallContext,
        req: ResolveOxidRequest,
    ) -> Result<ResolveOxidResponse, RpcFault> {
        let t = lock(&self.0.tables);
        let found = t.exporter(req.oxid).and_then(|e| {
            let dsa = DualStringArray::from_bindings(&e.bindings).ok()?;
            Some((dsa, e.rem_unknown, e.authn_hint))
        });
        Ok(match found {
            Some((dsa, ipid, hint)) => ResolveOxidResponse {
                oxid_bindings: Unique::new(dsa),
                ipid_rem_unknown: ipid,
                authn_hint: hint,
                result: status::OK,
            },
            None => ResolveOxidResponse {
                oxid_bindings: Unique::null(),
                ipid_rem_unknown: Ipid::default(),
                authn_hint: 0,
                result: status::OR_INVALID_OXID,
            },
        })
    }

    async fn simple_ping(
        &self,
        _ctx: &CallContext,
        req: SimplePingRequest,
    ) -> Result<SimplePingResponse, RpcFault> {
        let now = self.0.now();
        let r = lock(&self.0.tables).simple_ping(req.set_id, now);
        Ok(SimplePingResponse {
            result: r.map_or_else(|e| e.status(), |()| status::OK),
        })
    }

    async fn complex_ping(
        &self,
        _ctx: &CallContext,
        req: ComplexPingRequest,
    ) -> Result<ComplexPingResponse, RpcFault> {
        let add = req.add_to_set.unwrap_or_default();
        let del = req.del_from_set.unwrap_or_default();
        let now = self.0.now();
        let r = lock(&self.0.tables).complex_ping(req.set_id, &add, &del, now);
        Ok(match r {
            Ok(o) => {
                if !o.collected.is_empty() {
                    tracing::debug!(
                        objects = o.collected.len(),
                        "DCOM objects collected (removed from their ping set)"
                    );
                }
                ComplexPingResponse {
                    set_id: o.set_id,
                    ping_backoff_factor: 0,
                    result: status::OK,
                }
            }
            Err(e) => ComplexPingResponse {
                set_id: req.set_id,
                ping_backoff_factor: 0,
                result: e.status(),
            },
        })
    }

    async fn server_alive(
        &self,
        _ctx: &CallContext,
        _req: ServerAliveRequest,
    ) -> Result<ServerAliveResponse, RpcFault> {
        Ok(ServerAliveResponse { result: status::OK })
    }

    async fn resolve_oxid2(
        &self,
        ctx: &CallContext,
        req: ResolveOxid2Request,
    ) -> Result<ResolveOxid2Response, RpcFault> {
        let r = self
            .resolve_oxid(
                ctx,
                ResolveOxidRequest {
                    oxid: req.oxid,
                    c_requested_protseqs: req.c_requested_protseqs,
                    requested_protseqs: req.requested_protseqs,
                },
            )
            .await?;
        Ok(ResolveOxid2Response {
            oxid_bindings: r.oxid_bindings,
            ipid_rem_unknown: r.ipid_rem_unknown,
            authn_hint: r.authn_hint,
            com_version: ComVersion::CURRENT,
            result: r.result,
        })
    }

    async fn server_alive2(
        &self,
        ctx: &CallContext,
        _req: ServerAlive2Request,
    ) -> Result<ServerAlive2Response, RpcFault> {
        let b = DcomHost::with_dialled(ctx, &self.0.resolver_bindings, |_| Some(None));
        let dsa = DualStringArray::from_bindings(&b).unwrap_or_else(|_| self.0.resolver_dsa());
        Ok(ServerAlive2Response {
            com_version: ComVersion::CURRENT,
            or_bindings: Unique::new(dsa),
            reserved: 0,
            result: status::OK,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Activation on 135

/// `IRemoteSCMActivator` and `IActivation`.
#[derive(Clone)]
pub struct Activator(pub Arc<DcomHost>);

impl Activator {
    /// RemoteCreateInstance and RemoteGetClassObject: decode and check the blob, activate,
    /// answer PropsOutInfo then ScmReplyInfo (Impacket reads them by position).
    fn scm(
        &self,
        ctx: &CallContext,
        version: ComVersion,
        blob: &Unique<MInterfacePointer>,
        class_object: bool,
    ) -> Result<MInterfacePointer, HResult> {
        let syntax = <msrpc_dcom::activator::RemoteScmActivatorInterface as msrpc_proto::dispatch::Interface>::SYNTAX;
        version.check_client()?;
        let ip = blob.get().ok_or(HResult::E_INVALIDARG)?;
        let blob = ActivationBlob::from_interface_pointer(ip, &self.0.limits).map_err(|e| {
            self.0.report_shape(ctx, syntax, &e);
            HResult::E_INVALIDARG
        })?;
        let info = blob.instantiation_info().ok_or(HResult::E_INVALIDARG)?;
        if blob.scm_request_info().is_none() {
            return Err(HResult::E_INVALIDARG);
        }
        let iids: Vec<Iid> = if class_object {
            vec![guids::IID_ICLASS_FACTORY]
        } else {
            info.iids.get().cloned().unwrap_or_default()
        };
        if class_object {
            self.0.check_level(ctx, syntax, info.class_id)?;
            // No class factory objects are hosted: the class's existence is all we tell.
            return Err(if self.0.classes.get(info.class_id).is_some() {
                HResult::E_NOINTERFACE
            } else {
                HResult::REGDB_E_CLASSNOTREG
            });
        }
        let a = self.0.activate(ctx, syntax, info.class_id, &iids)?;
        let (hresults, pointers): (Vec<HResult>, Vec<Unique<MInterfacePointer>>) = a
            .results
            .into_iter()
            .map(|(hr, ip)| (hr, ip.map_or_else(Unique::null, Unique::new)))
            .unzip();
        let c_ifs = u32::try_from(iids.len()).map_err(|_| HResult::E_INVALIDARG)?;
        let out = ActivationBlob::new(vec![
            Property::PropsOutInfo(PropsOutInfo {
                c_ifs,
                iids: Unique::new(iids),
                hresults: Unique::new(hresults),
                interface_data: Unique::new(pointers),
            }),
            Property::ScmReplyInfo(ScmReplyInfoData {
                pdw_reserved: Unique::null(),
                remote_reply: Unique::new(RemoteReplyScmInfo {
                    oxid: a.oxid,
                    oxid_bindings: Unique::new(a.bindings),
                    ipid_rem_unknown: a.rem_unknown,
                    authn_hint: a.authn_hint,
                    server_version: ComVersion::CURRENT,
                }),
            }),
        ]);
        out.to_interface_pointer(false).map_err(|e| {
            tracing::error!(error = %e, "cannot encode an activation reply");
            HResult::E_FAIL
        })
    }
}

impl RemoteScmActivator for Activator {
    async fn remote_get_class_object(
        &self,
        ctx: &CallContext,
        req: RemoteGetClassObjectRequest,
    ) -> Result<RemoteGetClassObjectResponse, RpcFault> {
        let r = self.scm(ctx, req.orpcthis.version, &req.act_properties, true);
        let (out, result) = match r {
            Ok(ip) => (Unique::new(ip), HResult::S_OK),
            Err(hr) => (Unique::null(), hr),
        };
        Ok(RemoteGetClassObjectResponse {
            orpcthat: OrpcThat::default(),
            act_properties_out: out,
            result,
        })
    }

    async fn remote_create_instance(
        &self,
        ctx: &CallContext,
        req: RemoteCreateInstanceRequest,
    ) -> Result<RemoteCreateInstanceResponse, RpcFault> {
        let r = if req.unk_outer.get().is_some() {
            Err(HResult::CLASS_E_NOAGGREGATION)
        } else {
            self.scm(ctx, req.orpcthis.version, &req.act_properties, false)
        };
        let (out, result) = match r {
            Ok(ip) => (Unique::new(ip), HResult::S_OK),
            Err(hr) => (Unique::null(), hr),
        };
        Ok(RemoteCreateInstanceResponse {
            orpcthat: OrpcThat::default(),
            act_properties_out: out,
            result,
        })
    }
}

impl Activation for Activator {
    async fn remote_activation(
        &self,
        ctx: &CallContext,
        req: RemoteActivationRequest,
    ) -> Result<RemoteActivationResponse, RpcFault> {
        let syntax = <msrpc_dcom::activator::ActivationInterface as msrpc_proto::dispatch::Interface>::SYNTAX;
        let n = usize::try_from(req.interfaces).unwrap_or(usize::MAX);
        let fail = |hr: HResult| {
            // The out arrays are sized by Interfaces: fill them only when it is sane.
            let n = if n <= self.0.limits.max_interfaces as usize {
                n
            } else {
                0
            };
            RemoteActivationResponse {
                orpcthat: OrpcThat::default(),
                oxid: Oxid::default(),
                oxid_bindings: Unique::null(),
                ipid_rem_unknown: Ipid::default(),
                authn_hint: 0,
                server_version: ComVersion::CURRENT,
                hr,
                interface_data: vec![Unique::null(); n],
                results: vec![hr; n],
                result: status::OK,
            }
        };
        if let Err(e) = req.check(&self.0.limits) {
            self.0.report_shape(ctx, syntax, &e);
            if n > self.0.limits.max_interfaces as usize {
                // Interfaces sizes the reply's arrays (whatever pIIDs held): answering would
                // mean allocating as the peer says. Refuse the call instead.
                return Err(RpcFault(FaultStatus::RPC_X_BAD_STUB_DATA));
            }
            return Ok(fail(HResult::E_INVALIDARG));
        }
        if let Err(hr) = req.orpcthis.version.check_client() {
            return Ok(fail(hr));
        }
        if req.object_name.is_some() || req.object_storage.get().is_some() {
            // Persistent activation (a moniker or storage) is not supported.
            return Ok(fail(HResult::E_NOTIMPL));
        }
        let iids = req.iids.clone().unwrap_or_default();
        match self.0.activate(ctx, syntax, req.clsid, &iids) {
            Ok(a) => {
                let (results, interface_data) = a
                    .results
                    .into_iter()
                    .map(|(hr, ip)| (hr, ip.map_or_else(Unique::null, Unique::new)))
                    .unzip();
                Ok(RemoteActivationResponse {
                    orpcthat: OrpcThat::default(),
                    oxid: a.oxid,
                    oxid_bindings: Unique::new(a.bindings),
                    ipid_rem_unknown: a.rem_unknown,
                    authn_hint: a.authn_hint,
                    server_version: ComVersion::CURRENT,
                    hr: HResult::S_OK,
                    interface_data,
                    results,
                    result: status::OK,
                })
            }
            Err(hr) => Ok(fail(hr)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// IRemUnknown / IRemUnknown2 on the exporter

/// IRemUnknown and IRemUnknown2 of the object exporter.
#[derive(Clone)]
pub struct RemUnknownService(pub Arc<DcomHost>);

impl RemUnknownService {
    fn check(&self, ctx: &CallContext, version: ComVersion) -> Result<(), HResult> {
        version.check_client()?;
        if !self.0.is_rem_unknown(ctx) {
            return Err(HResult::RPC_E_INVALID_IPID);
        }
        Ok(())
    }

    fn query(
        &self,
        ctx: &CallContext,
        version: ComVersion,
        ripid: Ipid,
        refs: u32,
        iids: &[Iid],
    ) -> Result<Vec<(HResult, StdObjRef, Iid)>, HResult> {
        self.check(ctx, version)?;
        if iids.is_empty() || iids.len() > MAX_QI_IIDS {
            return Err(HResult::E_INVALIDARG);
        }
        let now = self.0.now();
        let mut t = lock(&self.0.tables);
        let (entry, object) = t
            .lookup(ripid)
            .map(|(e, o)| (*e, o.clone()))
            .ok_or(HResult::RPC_E_INVALID_OBJECT)?;
        Ok(iids
            .iter()
            .map(|iid| {
                if !object.supports(*iid) {
                    return (HResult::E_NOINTERFACE, StdObjRef::default(), *iid);
                }
                match t.add_interface(entry.oid, *iid, refs.max(1), now) {
                    Ok(std) => (HResult::S_OK, std, *iid),
                    Err(_) => (HResult::E_OUTOFMEMORY, StdObjRef::default(), *iid),
                }
            })
            .collect())
    }

    fn add_ref(
        &self,
        ctx: &CallContext,
        version: ComVersion,
        refs: &[msrpc_dcom::orpc::RemInterfaceRef],
    ) -> (HResult, Vec<HResult>) {
        if let Err(hr) = self.check(ctx, version) {
            return (hr, vec![hr; refs.len()]);
        }
        let now = self.0.now();
        let results = lock(&self.0.tables).add_refs(refs, now);
        let hr = if results.iter().all(|r| r.is_success()) {
            HResult::S_OK
        } else {
            HResult::E_INVALIDARG
        };
        (hr, results)
    }

    fn release(
        &self,
        ctx: &CallContext,
        version: ComVersion,
        refs: &[msrpc_dcom::orpc::RemInterfaceRef],
    ) -> HResult {
        if let Err(hr) = self.check(ctx, version) {
            return hr;
        }
        let out = lock(&self.0.tables).release(refs);
        if !out.collected.is_empty() {
            tracing::debug!(objects = out.collected.len(), "DCOM objects released");
        }
        if out.unknown == 0 {
            HResult::S_OK
        } else {
            HResult::E_INVALIDARG
        }
    }
}

fn qi_results(
    r: Result<Vec<(HResult, StdObjRef, Iid)>, HResult>,
) -> (Unique<Vec<RemQiResult>>, HResult) {
    match r {
        Ok(v) => (
            Unique::new(
                v.into_iter()
                    .map(|(hresult, std, _)| RemQiResult { hresult, std })
                    .collect(),
            ),
            HResult::S_OK,
        ),
        Err(hr) => (Unique::null(), hr),
    }
}

impl RemUnknown for RemUnknownService {
    async fn rem_query_interface(
        &self,
        ctx: &CallContext,
        req: RemQueryInterfaceRequest,
    ) -> Result<RemQueryInterfaceResponse, RpcFault> {
        let r = self.query(ctx, req.orpcthis.version, req.ripid, req.c_refs, &req.iids);
        let (qi_results, result) = qi_results(r);
        Ok(RemQueryInterfaceResponse {
            orpcthat: OrpcThat::default(),
            qi_results,
            result,
        })
    }

    async fn rem_add_ref(
        &self,
        ctx: &CallContext,
        req: RemAddRefRequest,
    ) -> Result<RemAddRefResponse, RpcFault> {
        let (result, results) = self.add_ref(ctx, req.orpcthis.version, &req.interface_refs);
        Ok(RemAddRefResponse {
            orpcthat: OrpcThat::default(),
            results,
            result,
        })
    }

    async fn rem_release(
        &self,
        ctx: &CallContext,
        req: RemReleaseRequest,
    ) -> Result<RemReleaseResponse, RpcFault> {
        Ok(RemReleaseResponse {
            orpcthat: OrpcThat::default(),
            result: self.release(ctx, req.orpcthis.version, &req.interface_refs),
        })
    }
}

impl RemUnknown2 for RemUnknownService {
    async fn rem_query_interface(
        &self,
        ctx: &CallContext,
        req: msrpc_dcom::remunknown2::RemQueryInterfaceRequest,
    ) -> Result<msrpc_dcom::remunknown2::RemQueryInterfaceResponse, RpcFault> {
        let r = self.query(ctx, req.orpcthis.version, req.ripid, req.c_refs, &req.iids);
        let (qi_results, result) = qi_results(r);
        Ok(msrpc_dcom::remunknown2::RemQueryInterfaceResponse {
            orpcthat: OrpcThat::default(),
            qi_results,
            result,
        })
    }

    async fn rem_add_ref(
        &self,
        ctx: &CallContext,
        req: msrpc_dcom::remunknown2::RemAddRefRequest,
    ) -> Result<msrpc_dcom::remunknown2::RemAddRefResponse, RpcFault> {
        let (result, results) = self.add_ref(ctx, req.orpcthis.version, &req.interface_refs);
        Ok(msrpc_dcom::remunknown2::RemAddRefResponse {
            orpcthat: OrpcThat::default(),
            results,
            result,
        })
    }

    async fn rem_release(
        &self,
        ctx: &CallContext,
        req: msrpc_dcom::remunknown2::RemReleaseRequest,
    ) -> Result<msrpc_dcom::remunknown2::RemReleaseResponse, RpcFault> {
        Ok(msrpc_dcom::remunknown2::RemReleaseResponse {
            orpcthat: OrpcThat::default(),
            result: self.release(ctx, req.orpcthis.version, &req.interface_refs),
        })
    }

    async fn rem_query_interface2(
        &self,
        ctx: &CallContext,
        req: msrpc_dcom::remunknown2::RemQueryInterface2Request,
    ) -> Result<msrpc_dcom::remunknown2::RemQueryInterface2Response, RpcFault> {
        let r = self.query(ctx, req.orpcthis.version, req.ripid, 1, &req.iids);
        let n = req.iids.len();
        let (hresults, interface_data, result) = match r {
            Ok(v) => {
                let (h, d) = v
                    .into_iter()
                    .map(|(hr, std, iid)| {
                        if hr.is_success() {
                            match self.0.objref(iid, std) {
                                Some(ip) => (hr, Unique::new(ip)),
                                None => (HResult::E_FAIL, Unique::null()),
                            }
                        } else {
                            (hr, Unique::null())
                        }
                    })
                    .unzip();
                (h, d, HResult::S_OK)
            }
            Err(hr) => (vec![hr; n], vec![Unique::null(); n], hr),
        };
        Ok(msrpc_dcom::remunknown2::RemQueryInterface2Response {
            orpcthat: OrpcThat::default(),
            hresults,
            interface_data,
            result,
        })
    }
}

// ---------------------------------------------------------------------------------------
// The demo class

/// The demo calculator object (`msrpc_dcom::demo`): `Add` adds its offset to every sum.
#[derive(Debug, Default)]
pub struct CalculatorObject {
    offset: i32,
}

impl ComObject for CalculatorObject {
    fn interfaces(&self) -> &'static [Iid] {
        &[IID_ICALCULATOR]
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The classes `--demo` hosts.
pub fn demo_classes() -> ClassRegistry {
    let mut r = ClassRegistry::default();
    r.register(
        CLSID_CALCULATOR,
        "MsrpcCalculator",
        Arc::new(|| Arc::new(CalculatorObject::default()) as Object),
    );
    r
}

/// `ICalculator` on the exporter: finds the object by IPID and runs the method.
#[derive(Clone)]
pub struct CalculatorService(pub Arc<DcomHost>);

impl CalculatorService {
    /// The calculator a call names, or the HRESULT to answer.
    fn object(&self, ctx: &CallContext, version: ComVersion) -> Result<Object, HResult> {
        version.check_client()?;
        let (entry, object) = self.0.target(ctx).ok_or(HResult::RPC_E_INVALID_IPID)?;
        if entry.iid != IID_ICALCULATOR {
            return Err(HResult::E_NOINTERFACE);
        }
        Ok(object)
    }
}

fn calc(o: &Object) -> Option<&CalculatorObject> {
    o.as_any().downcast_ref::<CalculatorObject>()
}

impl Calculator for CalculatorService {
    async fn add(&self, ctx: &CallContext, req: AddRequest) -> Result<AddResponse, RpcFault> {
        let r = self.object(ctx, req.orpcthis.version).and_then(|o| {
            let c = calc(&o).ok_or(HResult::E_NOINTERFACE)?;
            Ok(req.a.wrapping_add(req.b).wrapping_add(c.offset))
        });
        let (sum, result) = match r {
            Ok(s) => (s, HResult::S_OK),
            Err(hr) => (0, hr),
        };
        Ok(AddResponse {
            orpcthat: OrpcThat::default(),
            sum,
            result,
        })
    }

    async fn echo(&self, ctx: &CallContext, req: EchoRequest) -> Result<EchoResponse, RpcFault> {
        let r = self.object(ctx, req.orpcthis.version);
        Ok(match r {
            Ok(_) => EchoResponse {
                orpcthat: OrpcThat::default(),
                reply: Unique::new(req.text),
                result: HResult::S_OK,
            },
            Err(hr) => EchoResponse {
                orpcthat: OrpcThat::default(),
                reply: Unique::null(),
                result: hr,
            },
        })
    }

    async fn spawn(&self, ctx: &CallContext, req: SpawnRequest) -> Result<SpawnResponse, RpcFault> {
        let r = self.object(ctx, req.orpcthis.version).and_then(|_| {
            let child: Object = Arc::new(CalculatorObject { offset: req.offset });
            self.0.export_new(child, IID_ICALCULATOR)
        });
        let (child, result) = match r {
            Ok(ip) => (Unique::new(ip), HResult::S_OK),
            Err(hr) => (Unique::null(), hr),
        };
        Ok(SpawnResponse {
            orpcthat: OrpcThat::default(),
            child,
            result,
        })
    }
}

#[cfg(test)]
mod tests {
    //! The DCOM host in process, through the generated servers' stubs: activation (level,
    //! limits, the reply's layout), ORPC calls by IPID, IRemUnknown reference counting, the
    //! resolver and garbage collection.
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use msrpc_dcom::activation::{
        ActivationContextInfoData, InstantiationInfoData, LocationInfoData, RemoteRequestScmInfo,
        ScmRequestInfoData,
    };
    use msrpc_dcom::activator::{RemoteScmActivatorInterface, RemoteScmActivatorServer};
    use msrpc_dcom::demo::CalculatorServer;
    use msrpc_dcom::dualstring::BindingLimits;
    use msrpc_dcom::orpc::RemInterfaceRef;
    use msrpc_dcom::remunknown::RemUnknownServer;
    use msrpc_dcom::resolver::ObjectExporterServer;
    use msrpc_dcom::OrpcThis;
    use msrpc_ndr::{DataRep, DecodeLimits, Uuid};
    use msrpc_proto::dispatch::{CallAuth, Dispatch, Interface};
    use msrpc_proto::pdu::{AuthLevel, AuthType};

    const LE: DataRep = DataRep::LITTLE_ENDIAN;
    const LIM: DecodeLimits = DecodeLimits::DEFAULT;

    struct Fixture {
        host: Arc<DcomHost>,
        inputs: Arc<Mutex<Vec<Input>>>,
    }

    fn fixture(timeout: Duration) -> Fixture {
        let inputs = Arc::new(Mutex::new(Vec::new()));
        let sink = inputs.clone();
        let host = Arc::new(DcomHost::new(
            demo_classes(),
            DcomSettings {
                min_activation_level: Level::Integrity,
                gc: GcConfig {
                    ping_period: timeout,
                    missed_pings: 1,
                    ..GcConfig::DEFAULT
                },
                gc_interval: Duration::from_secs(1),
            },
            &["127.0.0.1:135".parse().unwrap()],
            true,
            Some(Arc::new(move |i| sink.lock().unwrap().push(i))),
        ));
        host.set_exporter(&["127.0.0.1:50000".parse().unwrap()])
            .unwrap();
        Fixture { host, inputs }
    }

    fn ctx(opnum: u16, level: u8, object: Option<Uuid>) -> CallContext {
        CallContext {
            opnum,
            object,
            conn_id: 7,
            call_id: 3,
            auth: (level > 1).then(|| CallAuth {
                auth_type: AuthType::WINNT,
                level: AuthLevel(level),
                user: Some("alice".into()),
                anonymous: false,
            }),
            ..CallContext::default()
        }
    }

    fn blob(iids: Vec<Iid>) -> MInterfacePointer {
        ActivationBlob::new(vec![
            Property::InstantiationInfo(
                InstantiationInfoData::new(CLSID_CALCULATOR, iids).unwrap(),
            ),
            Property::ActivationContextInfo(ActivationContextInfoData::default()),
            Property::LocationInfo(LocationInfoData::default()),
            Property::ScmRequestInfo(ScmRequestInfoData {
                pdw_reserved: Unique::null(),
                remote_request: Unique::new(RemoteRequestScmInfo {
                    client_imp_level: 2,
                    c_requested_protseqs: 1,
                    requested_protseqs: Unique::new(vec![7]),
                }),
            }),
        ])
        .to_interface_pointer(true)
        .unwrap()
    }

    async fn create(
        f: &Fixture,
        level: u8,
        act: MInterfacePointer,
    ) -> RemoteCreateInstanceResponse {
        let server = RemoteScmActivatorServer::new(Activator(f.host.clone()));
        let req = RemoteCreateInstanceRequest {
            orpcthis: OrpcThis::new(Uuid::from_u128(1)),
            unk_outer: Unique::null(),
            act_properties: Unique::new(act),
        };
        let out = server
            .dispatch(ctx(4, level, None), req.to_stub(LE).unwrap(), LE, LIM)
            .await
            .unwrap();
        RemoteCreateInstanceResponse::from_stub(&out, LE, LIM, &req).unwrap()
    }

    /// Activates a calculator at integrity: (its ICalculator IPID, the exporter's IRemUnknown).
    async fn activate(f: &Fixture) -> (Ipid, Ipid) {
        let resp = create(f, 5, blob(vec![IID_ICALCULATOR])).await;
        assert_eq!(resp.result, HResult::S_OK);
        let out = ActivationBlob::from_interface_pointer(
            resp.act_properties_out.get().unwrap(),
            &ActivationLimits::DEFAULT,
        )
        .unwrap();
        // Impacket reads property 0 as PropsOutInfo and 1 as ScmReplyInfo.
        assert!(matches!(out.properties[0], Property::PropsOutInfo(_)));
        assert!(matches!(out.properties[1], Property::ScmReplyInfo(_)));
        let props = out.props_out_info().unwrap();
        assert_eq!(props.hresults.get().unwrap(), &vec![HResult::S_OK]);
        let ip = props.interface_data.get().unwrap()[0].get().unwrap();
        let std = *ObjRef::decode(&ip.data).unwrap().std().unwrap();
        let reply = out.scm_reply_info().unwrap().remote_reply.get().unwrap();
        assert_eq!(reply.authn_hint, 5);
        assert_eq!(reply.server_version, ComVersion::CURRENT);
        let b = reply
            .oxid_bindings
            .get()
            .unwrap()
            .parse(&BindingLimits::DEFAULT)
            .unwrap();
        assert_eq!(b.strings[0].network_addr, "127.0.0.1[50000]");
        assert_eq!(std.oxid, reply.oxid);
        (std.ipid, reply.ipid_rem_unknown)
    }

    async fn add(f: &Fixture, ipid: Ipid, a: i32, b: i32) -> (i32, HResult) {
        let server = CalculatorServer::new(CalculatorService(f.host.clone()));
        let req = AddRequest {
            orpcthis: OrpcThis::new(Uuid::from_u128(2)),
            a,
            b,
        };
        let out = server
            .dispatch(ctx(3, 5, Some(ipid.0)), req.to_stub(LE).unwrap(), LE, LIM)
            .await
            .unwrap();
        let r = AddResponse::from_stub(&out, LE, LIM, &req).unwrap();
        (r.sum, r.result)
    }

    async fn release(f: &Fixture, rem_unknown: Ipid, ipid: Ipid, refs: u32) -> HResult {
        let server = RemUnknownServer::new(RemUnknownService(f.host.clone()));
        let req = RemReleaseRequest {
            orpcthis: OrpcThis::new(Uuid::from_u128(3)),
            c_interface_refs: 1,
            interface_refs: vec![RemInterfaceRef {
                ipid,
                public_refs: refs,
                private_refs: 0,
            }],
        };
        let out = server
            .dispatch(
                ctx(5, 5, Some(rem_unknown.0)),
                req.to_stub(LE).unwrap(),
                LE,
                LIM,
            )
            .await
            .unwrap();
        RemReleaseResponse::from_stub(&out, LE, LIM, &req)
            .unwrap()
            .result
    }

    #[tokio::test]
    async fn activation_calls_query_interface_and_release() {
        let f = fixture(Duration::from_secs(120));
        let (ipid, rem_unknown) = activate(&f).await;
        assert_eq!(add(&f, ipid, 40, 2).await, (42, HResult::S_OK));

        // Spawn: a child object adding its offset.
        let server = CalculatorServer::new(CalculatorService(f.host.clone()));
        let req = SpawnRequest {
            orpcthis: OrpcThis::new(Uuid::from_u128(4)),
            offset: 1000,
        };
        let out = server
            .dispatch(ctx(5, 5, Some(ipid.0)), req.to_stub(LE).unwrap(), LE, LIM)
            .await
            .unwrap();
        let r = SpawnResponse::from_stub(&out, LE, LIM, &req).unwrap();
        let child = ObjRef::decode(&r.child.get().unwrap().data).unwrap();
        assert_eq!(child.iid, IID_ICALCULATOR);
        let child = child.std().unwrap().ipid;
        assert_eq!(add(&f, child, 1, 2).await, (1003, HResult::S_OK));

        // RemQueryInterface: ICalculator (the same IPID, one more reference), IClassFactory no.
        let rq = RemUnknownServer::new(RemUnknownService(f.host.clone()));
        let req = RemQueryInterfaceRequest {
            orpcthis: OrpcThis::new(Uuid::from_u128(5)),
            ripid: ipid,
            c_refs: 1,
            c_iids: 2,
            iids: vec![IID_ICALCULATOR, guids::IID_ICLASS_FACTORY],
        };
        let out = rq
            .dispatch(
                ctx(3, 5, Some(rem_unknown.0)),
                req.to_stub(LE).unwrap(),
                LE,
                LIM,
            )
            .await
            .unwrap();
        let r = RemQueryInterfaceResponse::from_stub(&out, LE, LIM, &req).unwrap();
        let qi = r.qi_results.get().unwrap();
        assert_eq!((qi[0].hresult, qi[0].std.ipid), (HResult::S_OK, ipid));
        assert_eq!(qi[1].hresult, HResult::E_NOINTERFACE);
        // IRemUnknown addressed to another IPID is refused.
        let out = rq
            .dispatch(ctx(3, 5, Some(ipid.0)), req.to_stub(LE).unwrap(), LE, LIM)
            .await
            .unwrap();
        let r = RemQueryInterfaceResponse::from_stub(&out, LE, LIM, &req).unwrap();
        assert_eq!(r.result, HResult::RPC_E_INVALID_IPID);

        // Two references on the object's IPID: the first release keeps it.
        assert_eq!(release(&f, rem_unknown, ipid, 1).await, HResult::S_OK);
        assert_eq!(add(&f, ipid, 1, 1).await, (2, HResult::S_OK));
        assert_eq!(release(&f, rem_unknown, ipid, 1).await, HResult::S_OK);
        assert_eq!(add(&f, ipid, 1, 1).await, (0, HResult::RPC_E_INVALID_IPID));
        assert_eq!(f.host.counts().0, 1);
        assert_eq!(release(&f, rem_unknown, child, 1).await, HResult::S_OK);
        assert_eq!(f.host.counts(), (0, 0, 0));
        assert_eq!(
            release(&f, rem_unknown, child, 1).await,
            HResult::E_INVALIDARG
        );
    }

    #[tokio::test]
    async fn an_unspecified_listener_advertises_the_address_the_client_dialled() {
        let host = Arc::new(DcomHost::new(
            demo_classes(),
            DcomSettings {
                min_activation_level: Level::None,
                gc: GcConfig::DEFAULT,
                gc_interval: Duration::from_secs(1),
            },
            &["0.0.0.0:135".parse().unwrap()],
            false,
            None,
        ));
        host.set_exporter(&["0.0.0.0:50001".parse().unwrap()])
            .unwrap();
        let mut c = ctx(4, 1, None);
        c.local_addr = Some("192.0.2.7:135".parse().unwrap());
        let req = RemoteCreateInstanceRequest {
            orpcthis: OrpcThis::new(Uuid::from_u128(1)),
            unk_outer: Unique::null(),
            act_properties: Unique::new(blob(vec![IID_ICALCULATOR])),
        };
        let r = Activator(host.clone())
            .remote_create_instance(&c, req)
            .await
            .unwrap();
        let out = ActivationBlob::from_interface_pointer(
            r.act_properties_out.get().unwrap(),
            &ActivationLimits::DEFAULT,
        )
        .unwrap();
        let reply = out.scm_reply_info().unwrap().remote_reply.get().unwrap();
        let b = reply
            .oxid_bindings
            .get()
            .unwrap()
            .parse(&BindingLimits::DEFAULT)
            .unwrap();
        assert_eq!(b.strings[0].network_addr, "192.0.2.7[50001]");
        assert_eq!(reply.authn_hint, 1);
        let r = Resolver(host)
            .server_alive2(&c, ServerAlive2Request {})
            .await
            .unwrap();
        let b = r
            .or_bindings
            .get()
            .unwrap()
            .parse(&BindingLimits::DEFAULT)
            .unwrap();
        assert_eq!(b.strings[0].network_addr, "192.0.2.7");
        assert!(b.security.is_empty());
    }

    #[tokio::test]
    async fn remote_activation_activates_and_bounds_its_counts() {
        use msrpc_dcom::activator::ActivationServer;
        let f = fixture(Duration::from_secs(120));
        let server = ActivationServer::new(Activator(f.host.clone()));
        let req = RemoteActivationRequest {
            orpcthis: OrpcThis::new(Uuid::from_u128(1)),
            clsid: CLSID_CALCULATOR,
            object_name: None,
            object_storage: Unique::null(),
            client_imp_level: 2,
            mode: 0,
            interfaces: 2,
            iids: Some(vec![IID_ICALCULATOR, guids::IID_ICLASS_FACTORY]),
            c_requested_protseqs: 1,
            requested_protseqs: vec![7],
        };
        let out = server
            .dispatch(ctx(0, 6, None), req.to_stub(LE).unwrap(), LE, LIM)
            .await
            .unwrap();
        let r = RemoteActivationResponse::from_stub(&out, LE, LIM, &req).unwrap();
        assert_eq!((r.result, r.hr), (status::OK, HResult::S_OK));
        assert_eq!(r.results, [HResult::S_OK, HResult::E_NOINTERFACE]);
        let ipid = ObjRef::decode(&r.interface_data[0].get().unwrap().data)
            .unwrap()
            .std()
            .unwrap()
            .ipid;
        assert_eq!(add(&f, ipid, 2, 2).await, (4, HResult::S_OK));
        assert_eq!(r.authn_hint, 6);
        // More interfaces than ActivationLimits allows: the reply's arrays would be sized by
        // the peer, so the call is refused with a fault.
        let n = ActivationLimits::DEFAULT.max_interfaces + 1;
        let req = RemoteActivationRequest {
            interfaces: n,
            iids: Some(vec![IID_ICALCULATOR; n as usize]),
            ..req
        };
        let e = server
            .dispatch(ctx(0, 6, None), req.to_stub(LE).unwrap(), LE, LIM)
            .await
            .unwrap_err();
        assert_eq!(e.status(), FaultStatus::RPC_X_BAD_STUB_DATA);
        assert!(matches!(
            &f.inputs.lock().unwrap()[..],
            [Input::ExploitShape { shape, .. }] if shape == "dcom_activation_limit"
        ));
    }

    #[tokio::test]
    async fn activation_below_the_minimum_level_is_refused_and_reported() {
        let f = fixture(Duration::from_secs(120));
        for level in [1, 2, 4] {
            let r = create(&f, level, blob(vec![IID_ICALCULATOR])).await;
            assert_eq!(r.result, HResult::E_ACCESSDENIED);
            assert!(r.act_properties_out.get().is_none());
        }
        // RemoteGetClassObject is held to the same level.
        let server = RemoteScmActivatorServer::new(Activator(f.host.clone()));
        let req = RemoteGetClassObjectRequest {
            orpcthis: OrpcThis::new(Uuid::from_u128(1)),
            act_properties: Unique::new(blob(vec![IID_ICALCULATOR])),
        };
        let out = server
            .dispatch(ctx(3, 2, None), req.to_stub(LE).unwrap(), LE, LIM)
            .await
            .unwrap();
        let r = RemoteGetClassObjectResponse::from_stub(&out, LE, LIM, &req).unwrap();
        assert_eq!(r.result, HResult::E_ACCESSDENIED);
        assert_eq!(f.host.counts(), (0, 0, 0));
        let inputs = f.inputs.lock().unwrap();
        assert_eq!(inputs.len(), 4);
        assert!(matches!(
            &inputs[0],
            Input::Policy { conn_id: 7, call_id: 3, interface, opnum: 4, action, reason, .. }
                if *interface == RemoteScmActivatorInterface::SYNTAX.uuid.to_string()
                    && action == "deny" && reason == "dcom_activation_level"
        ));
    }

    #[tokio::test]
    async fn unknown_classes_unsupported_interfaces_and_hostile_blobs() {
        let f = fixture(Duration::from_secs(120));
        // IClassFactory only: the object supports none of the IIDs.
        let r = create(&f, 6, blob(vec![guids::IID_ICLASS_FACTORY])).await;
        assert_eq!(r.result, HResult::E_NOINTERFACE);
        // Another CLSID.
        let mut b = ActivationBlob::from_interface_pointer(
            &blob(vec![IID_ICALCULATOR]),
            &ActivationLimits::DEFAULT,
        )
        .unwrap();
        if let Property::InstantiationInfo(i) = &mut b.properties[0] {
            i.class_id = Uuid::from_u128(0x1234);
        }
        let r = create(&f, 6, b.to_interface_pointer(true).unwrap()).await;
        assert_eq!(r.result, HResult::REGDB_E_CLASSNOTREG);
        // A blob beyond the limits: a 4 KiB UNC machine name.
        b.properties[2] = Property::LocationInfo(LocationInfoData {
            machine_name: Unique::new(format!("\\\\{}", "A".repeat(4094))),
            ..Default::default()
        });
        let r = create(&f, 1, b.to_interface_pointer(true).unwrap()).await;
        assert_eq!(r.result, HResult::E_INVALIDARG);
        assert!(matches!(
            &f.inputs.lock().unwrap()[..],
            [Input::ExploitShape { shape, .. }] if shape == "dcom_activation_limit"
        ));
        assert_eq!(f.host.counts(), (0, 0, 0));
    }

    #[tokio::test]
    async fn resolver_answers_and_pings_keep_objects_until_they_stop() {
        let f = fixture(Duration::from_millis(200));
        let server = ObjectExporterServer::new(Resolver(f.host.clone()));
        let out = server
            .dispatch(ctx(5, 1, None), vec![], LE, LIM)
            .await
            .unwrap();
        let r = ServerAlive2Response::from_stub(&out, LE, LIM, &ServerAlive2Request {}).unwrap();
        assert_eq!(r.com_version, ComVersion::CURRENT);
        let b = r
            .or_bindings
            .get()
            .unwrap()
            .parse(&BindingLimits::DEFAULT)
            .unwrap();
        assert_eq!(b.strings[0].network_addr, "127.0.0.1");
        assert!(b.strings.iter().all(|s| !s.network_addr.contains('[')));
        assert_eq!(
            b.security.iter().map(|s| s.authn_svc).collect::<Vec<_>>(),
            [10, 9]
        );

        let (ipid, _) = activate(&f).await;
        let oxid = f.host.exporter.get().copied().unwrap();
        let req = ResolveOxid2Request {
            oxid,
            c_requested_protseqs: 1,
            requested_protseqs: vec![7],
        };
        let out = server
            .dispatch(ctx(4, 1, None), req.to_stub(LE).unwrap(), LE, LIM)
            .await
            .unwrap();
        let r = ResolveOxid2Response::from_stub(&out, LE, LIM, &req).unwrap();
        assert_eq!(r.result, status::OK);
        let req = ResolveOxid2Request {
            oxid: Oxid(oxid.0 ^ 1),
            ..req
        };
        let out = server
            .dispatch(ctx(4, 1, None), req.to_stub(LE).unwrap(), LE, LIM)
            .await
            .unwrap();
        let r = ResolveOxid2Response::from_stub(&out, LE, LIM, &req).unwrap();
        assert_eq!(r.result, status::OR_INVALID_OXID);

        // ComplexPing adds the object's OID to a new set; pings keep it past the timeout.
        let oid = {
            let t = lock(&f.host.tables);
            t.lookup(ipid).unwrap().0.oid
        };
        let req = ComplexPingRequest {
            set_id: Default::default(),
            sequence_num: 1,
            c_add_to_set: 1,
            c_del_from_set: 0,
            add_to_set: Some(vec![oid]),
            del_from_set: None,
        };
        let out = server
            .dispatch(ctx(2, 5, None), req.to_stub(LE).unwrap(), LE, LIM)
            .await
            .unwrap();
        let set = ComplexPingResponse::from_stub(&out, LE, LIM, &req).unwrap();
        assert_eq!(set.result, status::OK);
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let req = SimplePingRequest { set_id: set.set_id };
            let out = server
                .dispatch(ctx(1, 5, None), req.to_stub(LE).unwrap(), LE, LIM)
                .await
                .unwrap();
            let r = SimplePingResponse::from_stub(&out, LE, LIM, &req).unwrap();
            assert_eq!(r.result, status::OK);
            assert_eq!(f.host.expire(), 0);
        }
        assert_eq!(add(&f, ipid, 1, 1).await, (2, HResult::S_OK));
        // The client vanishes: the set expires, then the object goes.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(f.host.expire(), 1);
        assert_eq!(f.host.counts(), (0, 0, 0));
        assert_eq!(add(&f, ipid, 1, 1).await, (0, HResult::RPC_E_INVALID_IPID));
    }
}
