//! Object tables and ping-driven garbage collection, sans-IO (MS-DCOM 3.1.1.1, 3.1.1.5.6,
//! 3.1.2.1, 3.1.2.2, 3.1.2.5.1.2-3, 3.2.6.1).
//!
//! [`ObjectTables`] holds the object exporters of a server (OXID, bindings, IRemUnknown IPID),
//! their objects (OID -> a value of the caller's type), the interfaces marshaled for them
//! (IPID -> object, IID, reference counts) and the clients' ping sets (SETID -> OIDs).
//!
//! # Rules
//! - An object goes when it holds no references (public or private, over all its IPIDs) and no
//!   ping set holds its OID (3.1.1.5.6); [`ObjectTables::release`] and the removal of an OID
//!   from a set collect it at once.
//! - A ping set that has not been pinged for `missed_pings` periods (default 3 x 120 s) is
//!   deleted by [`ObjectTables::expire`] (3.1.2.2, 3.2.6.1); an object of the pinged kind that
//!   no live set holds and that has not been seen (created, referenced or pinged) for that long
//!   is collected with its references, as a vanished client's objects are. Objects exported
//!   with `SORF_NOPING` live by reference counts alone.
//! - `ComplexPing` with set id 0 creates a set; sequence numbers are not enforced (Impacket
//!   sends the set id there).
//! - Time is an argument (a `Duration` since any epoch the caller keeps); nothing here reads a
//!   clock. Ids come from an [`IdSource`] ([`RandomIds`] by default: IPIDs and ids should not be
//!   guessable).
//!
//! # Limits
//! [`GcConfig`] bounds exporters, objects, IPIDs, sets and OIDs per set; operations beyond them
//! fail with [`TableError`] and change nothing.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use msrpc_ndr::Uuid;

use crate::dualstring::Bindings;
use crate::hresult::{status, HResult};
use crate::ids::{Iid, Ipid, Oid, Oxid, SetId};
use crate::orpc::{RemInterfaceRef, StdObjRef, SORF_NOPING};

/// Timing and limits of [`ObjectTables`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GcConfig {
    /// The ping period clients are expected to keep (MS-DCOM 3.2.6.1: 120 s).
    pub ping_period: Duration,
    /// Periods without a ping after which a set expires (MS-DCOM 3.1.2.2: 3).
    pub missed_pings: u32,
    /// Most object exporters. Default 64.
    pub max_exporters: usize,
    /// Most objects over all exporters. Default 10 000.
    pub max_objects: usize,
    /// Most IPIDs. Default 40 000.
    pub max_ipids: usize,
    /// Most ping sets. Default 4 096.
    pub max_sets: usize,
    /// Most OIDs in one ping set. Default 4 096.
    pub max_oids_per_set: usize,
}

impl GcConfig {
    /// The defaults described on each field.
    pub const DEFAULT: GcConfig = GcConfig {
        ping_period: Duration::from_secs(120),
        missed_pings: 3,
        max_exporters: 64,
        max_objects: 10_000,
        max_ipids: 40_000,
        max_sets: 4_096,
        max_oids_per_set: 4_096,
    };

    /// How long a set or an unpinged object lives without a ping: `ping_period * missed_pings`.
    pub fn timeout(&self) -> Duration {
        self.ping_period.saturating_mul(self.missed_pings)
    }
}

impl Default for GcConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Where new OXIDs, OIDs, set ids and IPIDs come from.
pub trait IdSource: Send {
    /// A fresh 64-bit id (OXID, OID, SETID); 0 is never used.
    fn next_u64(&mut self) -> u64;
    /// A fresh IPID.
    fn next_uuid(&mut self) -> Uuid;
}

/// Random ids (UUID version 4 from the operating system's generator).
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn next_u64(&mut self) -> u64 {
        Uuid::new_v4().as_u64_pair().1
    }
    fn next_uuid(&mut self) -> Uuid {
        Uuid::new_v4()
    }
}

/// Sequential ids (1, 2, 3, ...; IPIDs with the counter in their last bytes), for tests and
/// reproducible runs. Not for servers facing untrusted clients.
#[derive(Clone, Copy, Debug, Default)]
pub struct SequentialIds(pub u64);

impl IdSource for SequentialIds {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1).max(1);
        self.0
    }
    fn next_uuid(&mut self) -> Uuid {
        Uuid::from_u128(0x00ff_0000_0000_0000_0000_0000_0000_0000 | u128::from(self.next_u64()))
    }
}

/// Why a table operation was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// A [`GcConfig`] limit would be exceeded.
    #[error("limit of {limit} {what} reached")]
    Limit {
        /// What is limited.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// No such exporter.
    #[error("unknown OXID {0:?}")]
    UnknownOxid(Oxid),
    /// No such object.
    #[error("unknown OID {0:?}")]
    UnknownOid(Oid),
    /// No such ping set.
    #[error("unknown ping set {0:?}")]
    UnknownSet(SetId),
    /// The id is in use already (an OXID, an OID another exporter holds, an IPID).
    #[error("{0} in use already")]
    Taken(&'static str),
}

impl TableError {
    /// The resolver's `error_status_t` for this refusal (MS-DCOM 3.1.2.5.1).
    pub fn status(&self) -> u32 {
        match self {
            TableError::Limit { .. } => status::OUT_OF_MEMORY,
            TableError::UnknownOxid(_) => status::OR_INVALID_OXID,
            TableError::UnknownOid(_) => status::OR_INVALID_OID,
            TableError::UnknownSet(_) => status::OR_INVALID_SET,
            TableError::Taken(_) => status::OR_INVALID_OID,
        }
    }
}

/// An object exporter (MS-DCOM 3.1.1.1: an OXID entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exporter {
    /// Its OXID.
    pub oxid: Oxid,
    /// Its string and security bindings (what ResolveOxid answers).
    pub bindings: Bindings,
    /// The IPID of its IRemUnknown.
    pub rem_unknown: Ipid,
    /// The lowest authentication level it accepts (ResolveOxid's `pAuthnHint`).
    pub authn_hint: u32,
    objects: usize,
}

impl Exporter {
    /// How many objects it exports now.
    pub fn object_count(&self) -> usize {
        self.objects
    }
}

/// An IPID entry (MS-DCOM 3.1.1.1: interface table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpidEntry {
    /// The object.
    pub oid: Oid,
    /// Its exporter.
    pub oxid: Oxid,
    /// The interface.
    pub iid: Iid,
    /// Public references held by clients.
    pub public_refs: u32,
    /// Private references held by clients.
    pub private_refs: u32,
}

impl IpidEntry {
    fn refs(&self) -> u64 {
        u64::from(self.public_refs) + u64::from(self.private_refs)
    }
}

struct ObjectEntry<T> {
    oxid: Oxid,
    value: T,
    ipids: Vec<Ipid>,
    pinged: bool,
    /// Referenced by its exporter's own process (an object adopted with
    /// [`ObjectTables::adopt`]): no reference counts here, only pings or the process free it.
    held: bool,
    sets: u32,
    last_seen: Duration,
}

struct PingSet {
    oids: HashSet<Oid>,
    last_ping: Duration,
}

/// What a `ComplexPing` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PingOutcome {
    /// The set's id (a new one when the call asked for set 0).
    pub set_id: SetId,
    /// OIDs to add that name no object (ignored).
    pub unknown_oids: Vec<Oid>,
    /// Objects collected because the set let go of their last hold.
    pub collected: Vec<Oid>,
}

/// What a `RemRelease` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReleaseOutcome {
    /// Entries naming no IPID (ignored).
    pub unknown: usize,
    /// Objects collected because they hold no reference and no set holds them.
    pub collected: Vec<Oid>,
}

/// Exporters, objects, IPIDs and ping sets (see the module docs).
pub struct ObjectTables<T> {
    config: GcConfig,
    ids: Box<dyn IdSource>,
    exporters: HashMap<Oxid, Exporter>,
    objects: HashMap<Oid, ObjectEntry<T>>,
    ipids: HashMap<Ipid, IpidEntry>,
    sets: HashMap<SetId, PingSet>,
}

impl<T> std::fmt::Debug for ObjectTables<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectTables")
            .field("exporters", &self.exporters.len())
            .field("objects", &self.objects.len())
            .field("ipids", &self.ipids.len())
            .field("sets", &self.sets.len())
            .finish()
    }
}

impl<T> ObjectTables<T> {
    /// Empty tables with random ids.
    pub fn new(config: GcConfig) -> Self {
        Self::with_ids(config, Box::new(RandomIds))
    }

    /// Empty tables drawing ids from `ids`.
    pub fn with_ids(config: GcConfig, ids: Box<dyn IdSource>) -> Self {
        ObjectTables {
            config,
            ids,
            exporters: HashMap::new(),
            objects: HashMap::new(),
            ipids: HashMap::new(),
            sets: HashMap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &GcConfig {
        &self.config
    }

    /// Number of exporters.
    pub fn exporter_count(&self) -> usize {
        self.exporters.len()
    }

    /// Number of objects.
    pub fn object_count(&self) -> usize {
        self.objects.len()
    }

    /// Number of IPIDs.
    pub fn ipid_count(&self) -> usize {
        self.ipids.len()
    }

    /// Number of ping sets.
    pub fn set_count(&self) -> usize {
        self.sets.len()
    }

    fn fresh_ipid(&mut self) -> Ipid {
        loop {
            let v = Ipid(self.ids.next_uuid());
            if !v.0.is_nil() && !self.ipids.contains_key(&v) && !self.is_rem_unknown(v) {
                return v;
            }
        }
    }

    fn is_rem_unknown(&self, ipid: Ipid) -> bool {
        self.exporters.values().any(|e| e.rem_unknown == ipid)
    }

    /// Registers an object exporter; returns its entry (new OXID and IRemUnknown IPID).
    pub fn add_exporter(
        &mut self,
        bindings: Bindings,
        authn_hint: u32,
    ) -> Result<&Exporter, TableError> {
        self.insert_exporter(None, None, bindings, authn_hint)
    }

    /// Registers an object exporter with the OXID and the IRemUnknown IPID given (each drawn
    /// fresh when `None`): another process's exporter, whose IPID that process chose, or a
    /// process's own exporter under the OXID the machine's resolver gave it. Refused
    /// ([`TableError::Taken`]) when the OXID is registered or the IPID is in use.
    pub fn insert_exporter(
        &mut self,
        oxid: Option<Oxid>,
        rem_unknown: Option<Ipid>,
        bindings: Bindings,
        authn_hint: u32,
    ) -> Result<&Exporter, TableError> {
        if self.exporters.len() >= self.config.max_exporters {
            return Err(TableError::Limit {
                what: "exporters",
                limit: self.config.max_exporters,
            });
        }
        if let Some(o) = oxid {
            if o.0 == 0 || self.exporters.contains_key(&o) {
                return Err(TableError::Taken("OXID"));
            }
        }
        if let Some(i) = rem_unknown {
            if i.0.is_nil() || self.ipids.contains_key(&i) || self.is_rem_unknown(i) {
                return Err(TableError::Taken("IPID"));
            }
        }
        let exporters = &self.exporters;
        let oxid = match oxid {
            Some(o) => o,
            None => loop {
                let v = self.ids.next_u64();
                if v != 0 && !exporters.contains_key(&Oxid(v)) {
                    break Oxid(v);
                }
            },
        };
        let rem_unknown = match rem_unknown {
            Some(i) => i,
            None => self.fresh_ipid(),
        };
        let e = self.exporters.entry(oxid).or_insert(Exporter {
            oxid,
            bindings,
            rem_unknown,
            authn_hint,
            objects: 0,
        });
        Ok(e)
    }

    /// The exporter `oxid`.
    pub fn exporter(&self, oxid: Oxid) -> Option<&Exporter> {
        self.exporters.get(&oxid)
    }

    /// The exporter whose IRemUnknown is `ipid`.
    pub fn exporter_by_rem_unknown(&self, ipid: Ipid) -> Option<&Exporter> {
        self.exporters.values().find(|e| e.rem_unknown == ipid)
    }

    /// Removes an exporter and all its objects (returned).
    pub fn remove_exporter(&mut self, oxid: Oxid) -> Vec<Oid> {
        if self.exporters.remove(&oxid).is_none() {
            return Vec::new();
        }
        let oids: Vec<Oid> = self
            .objects
            .iter()
            .filter(|(_, o)| o.oxid == oxid)
            .map(|(k, _)| *k)
            .collect();
        for oid in &oids {
            self.collect(*oid);
        }
        oids
    }

    /// Exports `value` as a new object of exporter `oxid` with its first interface `iid`
    /// carrying `public_refs` references; `pinged` false exports it with `SORF_NOPING`
    /// (reference counts alone decide its life). Returns the STDOBJREF to marshal.
    pub fn export(
        &mut self,
        oxid: Oxid,
        value: T,
        iid: Iid,
        public_refs: u32,
        pinged: bool,
        now: Duration,
    ) -> Result<StdObjRef, TableError> {
        if !self.exporters.contains_key(&oxid) {
            return Err(TableError::UnknownOxid(oxid));
        }
        if self.objects.len() >= self.config.max_objects {
            return Err(TableError::Limit {
                what: "objects",
                limit: self.config.max_objects,
            });
        }
        if self.ipids.len() >= self.config.max_ipids {
            return Err(TableError::Limit {
                what: "IPIDs",
                limit: self.config.max_ipids,
            });
        }
        let objects = &self.objects;
        let oid = Oid(loop {
            let v = self.ids.next_u64();
            if v != 0 && !objects.contains_key(&Oid(v)) {
                break v;
            }
        });
        self.objects.insert(
            oid,
            ObjectEntry {
                oxid,
                value,
                ipids: Vec::new(),
                pinged,
                held: false,
                sets: 0,
                last_seen: now,
            },
        );
        if let Some(e) = self.exporters.get_mut(&oxid) {
            e.objects += 1;
        }
        self.add_interface(oid, iid, public_refs, now)
    }

    /// Marshals interface `iid` of object `oid` with `public_refs` more references: the IPID
    /// the object already has for `iid`, or a new one. Returns the STDOBJREF to marshal.
    pub fn add_interface(
        &mut self,
        oid: Oid,
        iid: Iid,
        public_refs: u32,
        now: Duration,
    ) -> Result<StdObjRef, TableError> {
        let existing = {
            let obj = self.objects.get(&oid).ok_or(TableError::UnknownOid(oid))?;
            obj.ipids
                .iter()
                .copied()
                .find(|i| self.ipids.get(i).is_some_and(|e| e.iid == iid))
        };
        let ipid = match existing {
            Some(i) => i,
            None => {
                if self.ipids.len() >= self.config.max_ipids {
                    return Err(TableError::Limit {
                        what: "IPIDs",
                        limit: self.config.max_ipids,
                    });
                }
                self.fresh_ipid()
            }
        };
        let obj = self
            .objects
            .get_mut(&oid)
            .ok_or(TableError::UnknownOid(oid))?;
        obj.last_seen = now;
        let (oxid, pinged) = (obj.oxid, obj.pinged);
        if existing.is_none() {
            obj.ipids.push(ipid);
        }
        let entry = self.ipids.entry(ipid).or_insert(IpidEntry {
            oid,
            oxid,
            iid,
            public_refs: 0,
            private_refs: 0,
        });
        entry.public_refs = entry.public_refs.saturating_add(public_refs);
        Ok(StdObjRef {
            flags: if pinged { 0 } else { SORF_NOPING },
            public_refs,
            oxid,
            oid,
            ipid,
        })
    }

    /// Adopts object `oid` of exporter `oxid`, whose references another process counts
    /// (MS-DCOM's resolver holding the OIDs of every exporter on the machine): it lives while
    /// a ping set holds it or it was seen (adopted, pinged) within the ping timeout, until
    /// [`ObjectTables::remove_objects`]. An OID of this exporter's adopted already is
    /// refreshed; one that names another object is refused ([`TableError::Taken`]).
    pub fn adopt(
        &mut self,
        oxid: Oxid,
        oid: Oid,
        value: T,
        now: Duration,
    ) -> Result<(), TableError> {
        if !self.exporters.contains_key(&oxid) {
            return Err(TableError::UnknownOxid(oxid));
        }
        if let Some(o) = self.objects.get_mut(&oid) {
            if o.oxid == oxid && o.held {
                o.last_seen = now;
                return Ok(());
            }
            return Err(TableError::Taken("OID"));
        }
        if oid.0 == 0 {
            return Err(TableError::UnknownOid(oid));
        }
        if self.objects.len() >= self.config.max_objects {
            return Err(TableError::Limit {
                what: "objects",
                limit: self.config.max_objects,
            });
        }
        self.objects.insert(
            oid,
            ObjectEntry {
                oxid,
                value,
                ipids: Vec::new(),
                pinged: true,
                held: true,
                sets: 0,
                last_seen: now,
            },
        );
        if let Some(e) = self.exporters.get_mut(&oxid) {
            e.objects += 1;
        }
        Ok(())
    }

    /// The exporter of object `oid`.
    pub fn owner(&self, oid: Oid) -> Option<Oxid> {
        self.objects.get(&oid).map(|o| o.oxid)
    }

    /// Removes objects (with their IPIDs and their place in ping sets) whatever holds them:
    /// a run-down exporter's objects, or those another process released. Returns the OIDs
    /// that were there.
    pub fn remove_objects(&mut self, oids: &[Oid]) -> Vec<Oid> {
        oids.iter()
            .copied()
            .filter(|o| self.collect(*o).is_some())
            .collect()
    }

    /// The IPID's entry and its object.
    pub fn lookup(&self, ipid: Ipid) -> Option<(&IpidEntry, &T)> {
        let e = self.ipids.get(&ipid)?;
        let o = self.objects.get(&e.oid)?;
        Some((e, &o.value))
    }

    /// The object `oid`.
    pub fn object(&self, oid: Oid) -> Option<&T> {
        self.objects.get(&oid).map(|o| &o.value)
    }

    /// The object `oid`, mutably.
    pub fn object_mut(&mut self, oid: Oid) -> Option<&mut T> {
        self.objects.get_mut(&oid).map(|o| &mut o.value)
    }

    /// `RemAddRef` (3.1.1.5.6.1.2): one result per entry, `E_INVALIDARG` for an unknown IPID.
    pub fn add_refs(&mut self, refs: &[RemInterfaceRef], now: Duration) -> Vec<HResult> {
        refs.iter()
            .map(|r| match self.ipids.get_mut(&r.ipid) {
                Some(e) => {
                    e.public_refs = e.public_refs.saturating_add(r.public_refs);
                    e.private_refs = e.private_refs.saturating_add(r.private_refs);
                    let oid = e.oid;
                    if let Some(o) = self.objects.get_mut(&oid) {
                        o.last_seen = now;
                    }
                    HResult::S_OK
                }
                None => HResult::E_INVALIDARG,
            })
            .collect()
    }

    /// `RemRelease` (3.1.1.5.6.1.3): drops references (never below zero); an object left with
    /// no reference that no ping set holds is collected.
    pub fn release(&mut self, refs: &[RemInterfaceRef]) -> ReleaseOutcome {
        let mut out = ReleaseOutcome::default();
        let mut touched = Vec::new();
        for r in refs {
            match self.ipids.get_mut(&r.ipid) {
                Some(e) => {
                    e.public_refs = e.public_refs.saturating_sub(r.public_refs);
                    e.private_refs = e.private_refs.saturating_sub(r.private_refs);
                    touched.push(e.oid);
                }
                None => out.unknown += 1,
            }
        }
        for oid in touched {
            if self.unreferenced(oid) {
                self.collect(oid);
                out.collected.push(oid);
            }
        }
        out
    }

    /// Total references of an object over its IPIDs.
    fn refs(&self, o: &ObjectEntry<T>) -> u64 {
        o.ipids
            .iter()
            .filter_map(|i| self.ipids.get(i))
            .map(IpidEntry::refs)
            .sum()
    }

    /// True when the object exists, holds no references and no set holds it.
    fn unreferenced(&self, oid: Oid) -> bool {
        self.objects
            .get(&oid)
            .is_some_and(|o| o.sets == 0 && !o.held && self.refs(o) == 0)
    }

    fn collect(&mut self, oid: Oid) -> Option<T> {
        let o = self.objects.remove(&oid)?;
        for i in &o.ipids {
            self.ipids.remove(i);
        }
        if let Some(e) = self.exporters.get_mut(&o.oxid) {
            e.objects = e.objects.saturating_sub(1);
        }
        for s in self.sets.values_mut() {
            s.oids.remove(&oid);
        }
        Some(o.value)
    }

    /// `SimplePing` (3.1.2.5.1.2): keeps set `set_id` and its objects alive.
    pub fn simple_ping(&mut self, set_id: SetId, now: Duration) -> Result<(), TableError> {
        let set = self
            .sets
            .get_mut(&set_id)
            .ok_or(TableError::UnknownSet(set_id))?;
        set.last_ping = now;
        for oid in &set.oids {
            if let Some(o) = self.objects.get_mut(oid) {
                o.last_seen = now;
            }
        }
        Ok(())
    }

    /// `ComplexPing` (3.1.2.5.1.3): set id 0 creates a set; removes `del`, adds `add` (unknown
    /// OIDs are reported and ignored), then pings the set. Refused without any change when the
    /// set is unknown or a limit would be exceeded.
    pub fn complex_ping(
        &mut self,
        set_id: SetId,
        add: &[Oid],
        del: &[Oid],
        now: Duration,
    ) -> Result<PingOutcome, TableError> {
        let max = self.config.max_oids_per_set;
        let (known_add, unknown): (Vec<Oid>, Vec<Oid>) =
            add.iter().partition(|o| self.objects.contains_key(o));
        let after = {
            let current: &HashSet<Oid> = match self.sets.get(&set_id) {
                Some(s) => &s.oids,
                None if set_id.0 == 0 => &HashSet::new(),
                None => return Err(TableError::UnknownSet(set_id)),
            };
            let mut n = current.len();
            let del_set: HashSet<&Oid> = del.iter().collect();
            n -= current.iter().filter(|o| del_set.contains(o)).count();
            let mut added = HashSet::new();
            for o in &known_add {
                if (!current.contains(o) || del_set.contains(o)) && added.insert(*o) {
                    n += 1;
                }
            }
            n
        };
        if after > max {
            return Err(TableError::Limit {
                what: "OIDs per ping set",
                limit: max,
            });
        }
        let id = if set_id.0 == 0 {
            if self.sets.len() >= self.config.max_sets {
                return Err(TableError::Limit {
                    what: "ping sets",
                    limit: self.config.max_sets,
                });
            }
            let sets = &self.sets;
            let id = SetId(loop {
                let v = self.ids.next_u64();
                if v != 0 && !sets.contains_key(&SetId(v)) {
                    break v;
                }
            });
            self.sets.insert(
                id,
                PingSet {
                    oids: HashSet::new(),
                    last_ping: now,
                },
            );
            id
        } else {
            set_id
        };
        let mut removed = Vec::new();
        if let Some(set) = self.sets.get_mut(&id) {
            for o in del {
                if set.oids.remove(o) {
                    removed.push(*o);
                }
            }
            let mut new = Vec::new();
            for o in &known_add {
                if set.oids.insert(*o) {
                    new.push(*o);
                }
            }
            for o in removed.iter() {
                if let Some(obj) = self.objects.get_mut(o) {
                    obj.sets = obj.sets.saturating_sub(1);
                }
            }
            for o in new {
                if let Some(obj) = self.objects.get_mut(&o) {
                    obj.sets = obj.sets.saturating_add(1);
                }
            }
        }
        self.simple_ping(id, now)?;
        let mut collected = Vec::new();
        for o in removed {
            if self.unreferenced(o) {
                self.collect(o);
                collected.push(o);
            }
        }
        Ok(PingOutcome {
            set_id: id,
            unknown_oids: unknown,
            collected,
        })
    }

    /// Garbage collection at time `now`: deletes sets not pinged for `timeout()`, then collects
    /// objects no live set holds that either hold no reference or, exported for pinging,
    /// have not been seen for `timeout()`. Returns the collected OIDs.
    pub fn expire(&mut self, now: Duration) -> Vec<Oid> {
        self.expire_owned(now).into_iter().map(|(o, _)| o).collect()
    }

    /// [`ObjectTables::expire`], each collected OID with its exporter's OXID.
    pub fn expire_owned(&mut self, now: Duration) -> Vec<(Oid, Oxid)> {
        let timeout = self.config.timeout();
        let dead: Vec<SetId> = self
            .sets
            .iter()
            .filter(|(_, s)| now.saturating_sub(s.last_ping) >= timeout)
            .map(|(k, _)| *k)
            .collect();
        for id in dead {
            if let Some(s) = self.sets.remove(&id) {
                for o in s.oids {
                    if let Some(obj) = self.objects.get_mut(&o) {
                        obj.sets = obj.sets.saturating_sub(1);
                    }
                }
            }
        }
        let victims: Vec<(Oid, Oxid)> = self
            .objects
            .iter()
            .filter(|(_, o)| {
                o.sets == 0
                    && ((!o.held && self.refs(o) == 0)
                        || (o.pinged && now.saturating_sub(o.last_seen) >= timeout))
            })
            .map(|(k, o)| (*k, o.oxid))
            .collect();
        for (oid, _) in &victims {
            self.collect(*oid);
        }
        victims
    }
}

#[cfg(test)]
mod tests;
