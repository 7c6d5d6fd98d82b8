//! The machine resolver's side of out-of-process hosting: the exporters, OIDs and classes other
//! processes registered through [`crate::local`]'s `ILocalObjectExporter` ([`LocalExporterService`]),
//! kept next to the host's own in its [`ObjectTables`](crate::tables::ObjectTables), so the
//! resolver (`ResolveOxid(2)`, `SimplePing`, `ComplexPing`) treats them as its own, and the
//! classes the activators forward (`super::forward`, feature `rt`).
//!
//! # Limits (a local peer is a peer)
//! [`LocalLimits`]: exporters per process (per association group of the local channel), OIDs per
//! exporter (those alive plus those run down and not yet fetched), classes per process, OIDs
//! per call ([`crate::local::MAX_OIDS_PER_CALL`]), name and path lengths.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use msrpc_ndr::ContextHandle;
use msrpc_proto::dispatch::{CallContext, RpcFault};
use msrpc_proto::handles::HandleTable;

use super::{lock, ComObject, DcomHost, Hosted};
use crate::dualstring::BindingLimits;
use crate::local::{
    AddOidsRequest, AddOidsResponse, FreeOidsRequest, FreeOidsResponse, LocalObjectExporter,
    OidList, RegisterClassRequest, RegisterClassResponse, RegisterExporterRequest,
    RegisterExporterResponse, RevokeClassRequest, RevokeClassResponse, RunDownOidsRequest,
    RunDownOidsResponse, UnregisterExporterRequest, UnregisterExporterResponse, ACCESS_DENIED,
    ALREADY_EXISTS, INVALID_PARAMETER, MAX_ACTIVATOR_PATH, MAX_CLASS_NAME, MAX_OIDS_PER_CALL, OK,
    OR_INVALID_OID, OUT_OF_MEMORY,
};
use crate::tables::TableError;
use crate::{Clsid, Iid, Oid, Oxid};

/// What one process may register with the machine's resolver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalLimits {
    /// Exporters per process (association group of the local channel). Default 4.
    pub max_exporters_per_process: usize,
    /// OIDs per exporter, alive or run down and not yet fetched. Default 4 096.
    pub max_oids_per_exporter: usize,
    /// Classes per process. Default 64.
    pub max_classes_per_process: usize,
}

impl LocalLimits {
    /// The defaults described on each field.
    pub const DEFAULT: LocalLimits = LocalLimits {
        max_exporters_per_process: 4,
        max_oids_per_exporter: 4096,
        max_classes_per_process: 64,
    };
}

impl Default for LocalLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// An object the resolver tracks for another process's exporter: no methods here (that
/// process serves them); the tables only need a value.
struct Elsewhere;

impl ComObject for Elsewhere {
    fn interfaces(&self) -> &'static [Iid] {
        &[]
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The class name events report for objects of another process.
const ELSEWHERE: &str = "(another process)";

/// An exporter registered by another process.
struct ForeignExporter {
    /// The association group (process) that registered it.
    group: u32,
    /// OIDs run down, not yet fetched by `run_down_oids`.
    run_down: VecDeque<Oid>,
}

/// A class served by another process.
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "rt"), allow(dead_code))]
pub(super) struct ForeignClass {
    /// The class.
    pub clsid: Clsid,
    /// The exporter that registered it.
    pub oxid: Oxid,
    /// The name it gave (logs).
    pub name: String,
    /// Its activator's Unix socket.
    pub activator: PathBuf,
    group: u32,
}

#[derive(Default)]
struct State {
    exporters: HashMap<Oxid, ForeignExporter>,
    classes: HashMap<Clsid, ForeignClass>,
}

/// Other processes' exporters and classes (held by [`DcomHost`]).
pub(super) struct Foreign {
    state: Mutex<State>,
    handles: HandleTable<Oxid>,
    limits: LocalLimits,
}

impl Default for Foreign {
    fn default() -> Self {
        Foreign {
            state: Mutex::default(),
            handles: HandleTable::new(LocalLimits::DEFAULT.max_exporters_per_process),
            limits: LocalLimits::DEFAULT,
        }
    }
}

#[cfg_attr(not(feature = "rt"), allow(dead_code))]
impl Foreign {
    /// Whether any class is registered by another process (the activators' fast path).
    pub(super) fn has_classes(&self) -> bool {
        !lock(&self.state).classes.is_empty()
    }

    /// The process serving `clsid`, if another process registered it.
    pub(super) fn class(&self, clsid: Clsid) -> Option<ForeignClass> {
        lock(&self.state).classes.get(&clsid).cloned()
    }

    /// Files collected OIDs of foreign exporters for their processes to fetch.
    pub(super) fn ran_down(&self, gone: &[(Oid, Oxid)]) {
        let mut st = lock(&self.state);
        for (oid, oxid) in gone {
            if let Some(e) = st.exporters.get_mut(oxid) {
                e.run_down.push_back(*oid);
            }
        }
    }
}

/// `ILocalObjectExporter` on the machine's resolver (msrpcd's registration socket).
#[derive(Clone)]
pub struct LocalExporterService(pub Arc<DcomHost>);

impl LocalExporterService {
    fn foreign(&self) -> &Foreign {
        &self.0.foreign
    }

    /// The exporter a handle names (a fault for an unknown or foreign handle).
    fn exporter(&self, ctx: &CallContext, h: &ContextHandle) -> Result<Oxid, RpcFault> {
        Ok(self.foreign().handles.with(ctx.assoc_group_id, h, |o| *o)?)
    }

    /// Removes an exporter with its objects and classes.
    fn drop_exporter(&self, oxid: Oxid) {
        let oids = lock(&self.0.tables).remove_exporter(oxid);
        let mut st = lock(&self.foreign().state);
        st.exporters.remove(&oxid);
        let before = st.classes.len();
        st.classes.retain(|_, c| c.oxid != oxid);
        tracing::info!(
            ?oxid,
            objects = oids.len(),
            classes = before - st.classes.len(),
            "DCOM: another process's object exporter removed"
        );
    }

    fn oid_count(list: &OidList) -> Result<&[Oid], u32> {
        if list.oids.len() > MAX_OIDS_PER_CALL || list.oids.len() != list.count as usize {
            return Err(INVALID_PARAMETER);
        }
        Ok(&list.oids)
    }
}

impl LocalObjectExporter for LocalExporterService {
    async fn register_exporter(
        &self,
        ctx: &CallContext,
        req: RegisterExporterRequest,
    ) -> Result<RegisterExporterResponse, RpcFault> {
        let refuse = |result| RegisterExporterResponse {
            oxid: Oxid::default(),
            exporter: ContextHandle::NULL,
            result,
        };
        if !ctx.local {
            return Ok(refuse(ACCESS_DENIED));
        }
        let Ok(bindings) = req.bindings.parse(&BindingLimits::DEFAULT) else {
            return Ok(refuse(INVALID_PARAMETER));
        };
        if bindings.strings.is_empty() || !(1..=6).contains(&req.authn_hint) {
            return Ok(refuse(INVALID_PARAMETER));
        }
        let group = ctx.assoc_group_id;
        let f = self.foreign();
        let mine = lock(&f.state)
            .exporters
            .values()
            .filter(|e| e.group == group)
            .count();
        if mine >= f.limits.max_exporters_per_process {
            return Ok(refuse(OUT_OF_MEMORY));
        }
        let added = lock(&self.0.tables)
            .insert_exporter(None, Some(req.ipid_rem_unknown), bindings, req.authn_hint)
            .map(|e| e.oxid);
        let oxid = match added {
            Ok(o) => o,
            Err(TableError::Taken(_)) => return Ok(refuse(ALREADY_EXISTS)),
            Err(_) => return Ok(refuse(OUT_OF_MEMORY)),
        };
        let handle = match f.handles.create(group, oxid) {
            Ok(h) => h,
            Err(_) => {
                lock(&self.0.tables).remove_exporter(oxid);
                return Ok(refuse(OUT_OF_MEMORY));
            }
        };
        lock(&f.state).exporters.insert(
            oxid,
            ForeignExporter {
                group,
                run_down: VecDeque::new(),
            },
        );
        tracing::info!(
            ?oxid,
            group,
            "DCOM: another process registered an object exporter"
        );
        Ok(RegisterExporterResponse {
            oxid,
            exporter: handle,
            result: OK,
        })
    }

    async fn unregister_exporter(
        &self,
        ctx: &CallContext,
        req: UnregisterExporterRequest,
    ) -> Result<UnregisterExporterResponse, RpcFault> {
        if !ctx.local {
            return Ok(UnregisterExporterResponse {
                exporter: req.exporter,
                result: ACCESS_DENIED,
            });
        }
        let oxid = self
            .foreign()
            .handles
            .close(ctx.assoc_group_id, &req.exporter)?;
        self.drop_exporter(oxid);
        Ok(UnregisterExporterResponse {
            exporter: ContextHandle::NULL,
            result: OK,
        })
    }

    async fn add_oids(
        &self,
        ctx: &CallContext,
        req: AddOidsRequest,
    ) -> Result<AddOidsResponse, RpcFault> {
        if !ctx.local {
            return Ok(AddOidsResponse {
                result: ACCESS_DENIED,
            });
        }
        let oxid = self.exporter(ctx, &req.exporter)?;
        let oids = match Self::oid_count(&req.oids) {
            Ok(o) => o,
            Err(result) => return Ok(AddOidsResponse { result }),
        };
        let f = self.foreign();
        let pending = lock(&f.state)
            .exporters
            .get(&oxid)
            .map_or(0, |e| e.run_down.len());
        let now = self.0.now();
        let mut t = lock(&self.0.tables);
        // All or nothing: check every OID and the limits before adopting any.
        let mut new = 0usize;
        for oid in oids {
            match t.owner(*oid) {
                Some(o) if o == oxid => {}
                Some(_) => {
                    return Ok(AddOidsResponse {
                        result: OR_INVALID_OID,
                    })
                }
                None if oid.0 == 0 => {
                    return Ok(AddOidsResponse {
                        result: OR_INVALID_OID,
                    })
                }
                None => new += 1,
            }
        }
        let held = t.exporter(oxid).map_or(0, |e| e.object_count());
        if held + pending + new > f.limits.max_oids_per_exporter
            || t.object_count() + new > t.config().max_objects
        {
            return Ok(AddOidsResponse {
                result: OUT_OF_MEMORY,
            });
        }
        for oid in oids {
            let hosted = Hosted {
                object: Arc::new(Elsewhere),
                class: ELSEWHERE,
                // Calls on it go to its process, which checks access there.
                clsid: None,
            };
            if let Err(e) = t.adopt(oxid, *oid, hosted, now) {
                // Not reached after the checks above (duplicates in the list are refreshes).
                tracing::warn!(error = %e, "DCOM: adopting another process's OID");
                return Ok(AddOidsResponse { result: e.status() });
            }
        }
        Ok(AddOidsResponse { result: OK })
    }

    async fn free_oids(
        &self,
        ctx: &CallContext,
        req: FreeOidsRequest,
    ) -> Result<FreeOidsResponse, RpcFault> {
        if !ctx.local {
            return Ok(FreeOidsResponse {
                result: ACCESS_DENIED,
            });
        }
        let oxid = self.exporter(ctx, &req.exporter)?;
        let oids = match Self::oid_count(&req.oids) {
            Ok(o) => o,
            Err(result) => return Ok(FreeOidsResponse { result }),
        };
        let mut t = lock(&self.0.tables);
        let mine: Vec<Oid> = oids
            .iter()
            .copied()
            .filter(|o| t.owner(*o) == Some(oxid))
            .collect();
        t.remove_objects(&mine);
        Ok(FreeOidsResponse { result: OK })
    }

    async fn run_down_oids(
        &self,
        ctx: &CallContext,
        req: RunDownOidsRequest,
    ) -> Result<RunDownOidsResponse, RpcFault> {
        if !ctx.local {
            return Ok(RunDownOidsResponse {
                oids: OidList::default(),
                result: ACCESS_DENIED,
            });
        }
        let oxid = self.exporter(ctx, &req.exporter)?;
        let max = usize::try_from(req.max)
            .unwrap_or(usize::MAX)
            .min(MAX_OIDS_PER_CALL);
        let mut st = lock(&self.foreign().state);
        let oids: Vec<Oid> = match st.exporters.get_mut(&oxid) {
            Some(e) => {
                let n = max.min(e.run_down.len());
                e.run_down.drain(..n).collect()
            }
            None => Vec::new(),
        };
        Ok(RunDownOidsResponse {
            oids: OidList::new(oids),
            result: OK,
        })
    }

    async fn register_class(
        &self,
        ctx: &CallContext,
        req: RegisterClassRequest,
    ) -> Result<RegisterClassResponse, RpcFault> {
        let answer = |result| Ok(RegisterClassResponse { result });
        if !ctx.local {
            return answer(ACCESS_DENIED);
        }
        let oxid = self.exporter(ctx, &req.exporter)?;
        let path = PathBuf::from(&req.activator);
        if req.clsid.is_nil()
            || req.name.len() > MAX_CLASS_NAME
            || req.activator.len() > MAX_ACTIVATOR_PATH
            || !path.is_absolute()
        {
            return answer(INVALID_PARAMETER);
        }
        if self.0.classes.get(req.clsid).is_some() {
            // Hosted in this process: it wins.
            return answer(ALREADY_EXISTS);
        }
        let f = self.foreign();
        let mut st = lock(&f.state);
        if st.classes.contains_key(&req.clsid) {
            return answer(ALREADY_EXISTS);
        }
        let group = ctx.assoc_group_id;
        let mine = st.classes.values().filter(|c| c.group == group).count();
        if mine >= f.limits.max_classes_per_process {
            return answer(OUT_OF_MEMORY);
        }
        tracing::info!(clsid = %req.clsid, name = %req.name, activator = %path.display(), ?oxid, "DCOM: class registered by another process");
        st.classes.insert(
            req.clsid,
            ForeignClass {
                clsid: req.clsid,
                oxid,
                name: req.name,
                activator: path,
                group,
            },
        );
        answer(OK)
    }

    async fn revoke_class(
        &self,
        ctx: &CallContext,
        req: RevokeClassRequest,
    ) -> Result<RevokeClassResponse, RpcFault> {
        if !ctx.local {
            return Ok(RevokeClassResponse {
                result: ACCESS_DENIED,
            });
        }
        let oxid = self.exporter(ctx, &req.exporter)?;
        let mut st = lock(&self.foreign().state);
        let result = match st.classes.get(&req.clsid) {
            Some(c) if c.oxid == oxid => {
                st.classes.remove(&req.clsid);
                OK
            }
            _ => INVALID_PARAMETER,
        };
        Ok(RevokeClassResponse { result })
    }

    /// The process is gone (its registration connection closed): its exporters, their OIDs
    /// and its classes go; its OXIDs no longer resolve.
    fn rundown(&self, assoc_group_id: u32) {
        for oxid in self.foreign().handles.rundown(assoc_group_id) {
            self.drop_exporter(oxid);
        }
    }
}

/// The other side, in a process attached to the machine's resolver
/// ([`DcomHost::attach`](super::DcomHost::attach), feature `rt`): the OIDs to tell it about.
/// The exports and releases the services make are queued here (no IO under the tables' lock);
/// the attachment's task sends them.
#[derive(Default)]
pub(super) struct Attached {
    active: std::sync::atomic::AtomicBool,
    pending: Mutex<Pending>,
    wake: std::sync::OnceLock<Box<dyn Fn() + Send + Sync>>,
    /// The connection to the machine's resolver.
    #[cfg(feature = "rt")]
    pub(super) link: std::sync::OnceLock<Arc<super::attach::Link>>,
}

/// OIDs not yet sent.
#[derive(Default)]
pub(super) struct Pending {
    /// Exported: `add_oids`.
    pub add: Vec<Oid>,
    /// Released here: `free_oids`.
    pub free: Vec<Oid>,
}

impl Attached {
    /// Whether the host is attached: its ping sets live in the machine's resolver.
    pub(super) fn is_active(&self) -> bool {
        self.active.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Marks the host attached; `wake` is called when OIDs are queued.
    #[cfg_attr(not(feature = "rt"), allow(dead_code))]
    pub(super) fn activate(&self, wake: Box<dyn Fn() + Send + Sync>) {
        let _ = self.wake.set(wake);
        self.active
            .store(true, std::sync::atomic::Ordering::Release);
    }

    fn wake(&self) {
        if let Some(w) = self.wake.get() {
            w();
        }
    }

    /// A new OID was exported.
    pub(super) fn exported(&self, oid: Oid) {
        if self.is_active() {
            lock(&self.pending).add.push(oid);
            self.wake();
        }
    }

    /// OIDs were released here (references or removal from a set).
    pub(super) fn released(&self, oids: &[Oid]) {
        if self.is_active() && !oids.is_empty() {
            let mut p = lock(&self.pending);
            // An OID exported and released before it was sent needs neither call.
            p.add.retain(|o| !oids.contains(o));
            p.free.extend_from_slice(oids);
            drop(p);
            self.wake();
        }
    }

    /// Takes the queued OIDs.
    #[cfg_attr(not(feature = "rt"), allow(dead_code))]
    pub(super) fn take(&self) -> Pending {
        std::mem::take(&mut *lock(&self.pending))
    }
}

#[cfg(not(feature = "rt"))]
impl DcomHost {
    /// Completes once the machine's resolver knows every OID this host exported (attached
    /// hosts only, feature `rt`; here, at once).
    pub async fn exports_registered(&self) -> Result<(), crate::HResult> {
        Ok(())
    }
}
