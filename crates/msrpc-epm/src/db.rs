//! The endpoint map: registered elements, their indexes, and the matching rules of
//! `ept_lookup` and `ept_map` (C706 appendix O, as the DCE reference `rpcd` implements them,
//! with the MS-RPCE 3.1.3.5.3 changes).
//!
//! [`EndpointDb`] is a plain structure without locks; the service shares it behind a mutex.
//! Elements are kept in registration order under a growing [`EntryId`] and indexed by
//! interface UUID, by object UUID, by both, by exact `(object, tower)` and by owner, so
//! `ept_map` touches only the elements of the wanted interface whatever the map's size.
//!
//! # Rules
//! - **Identity.** An element is `(object, tower)`. Registering an existing one again updates
//!   its annotation and owner (the latest registrant owns it).
//! - **Replace** (`ept_insert` with `replace`): first removes the elements that differ from a
//!   new one only in the endpoint: same object, interface UUID and major version, transfer
//!   syntax and protocol sequence (any owner). If one of them has a higher interface minor
//!   version than the new element, the registration fails with `ept_s_invalid_entry`, as in
//!   DCE. Network addresses are ignored (MS-RPCE 3.1.3.5.3).
//! - **Validation.** Towers of at most six floors (MS-RPCE 3.1.3.5.3) and at least four: a
//!   non-nil interface UUID floor, a non-nil transfer syntax floor, an RPC protocol floor and
//!   an endpoint floor. Annotations of at most [`MAX_ANNOTATION_LEN`] characters, each at most
//!   U+00FF and not NUL (an NDR `char annotation[64]`).
//! - **Capacity.** At most [`EndpointDb::max_entries`] elements (default
//!   [`DEFAULT_MAX_ENTRIES`]); a registration that would exceed it is refused whole
//!   ([`DbError::Full`], `ept_s_cant_create`).
//! - **Lookup** ([`Lookup`]): all elements; by interface (with a [`VersOption`]); by object;
//!   by both. A nil object matches the elements registered with the nil object.
//! - **Map** ([`MapQuery`]): elements with the same interface UUID and major version and a
//!   minor version at least the requested one, the same transfer syntax and the same protocol
//!   sequence (floors 3 and 4 of the towers). For a non-nil object, first the elements
//!   registered for that object, then those registered with the nil object; for the nil
//!   object, only the latter.
//! - **Paging.** A [`Cursor`] remembers where a walk stopped (the last [`EntryId`] returned);
//!   elements registered meanwhile after that point are seen, removed ones are not, and no
//!   element is returned twice.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::ops::Bound;
use std::sync::Arc;

use msrpc_ndr::{Unique, Uuid};
use msrpc_proto::SyntaxId;

use crate::status;
use crate::tower::{Endpoint, Tower};
use crate::{EptEntry, Twr};

/// Default [`EndpointDb::max_entries`].
pub const DEFAULT_MAX_ENTRIES: usize = 65_536;
/// Longest annotation, in characters (`ept_max_annotation_size` is 64 with the NUL).
pub const MAX_ANNOTATION_LEN: usize = 63;
/// Most floors a registered or map tower may have (MS-RPCE 3.1.3.5.3).
pub const MAX_TOWER_FLOORS: usize = 6;
/// Fewest floors a registered or map tower must have (interface, transfer syntax, RPC
/// protocol, endpoint).
pub const MIN_TOWER_FLOORS: usize = 4;
/// Owner ids from here up are never association groups: use them for registrations the
/// runtime makes in-process, so that no association group's rundown removes them.
pub const IN_PROCESS_OWNER_BASE: u64 = 1 << 32;

/// The owner id of registrations made through association group `group` (what the EPM
/// service uses for `ept_insert` over the local registration channel).
pub fn owner_for_group(group: u32) -> u64 {
    u64::from(group)
}

/// Identifies a registered element; ids grow with registration order and are never reused.
pub type EntryId = u64;

/// The protocol identifiers of floors 3 and 4 ([`Tower::protocol_ids`]).
pub type ProtocolIds = (u8, Option<u8>);

/// An element to register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEntry {
    /// The object UUID (nil for none).
    pub object: Uuid,
    /// The tower: interface, transfer syntax, protocol, endpoint, address.
    pub tower: Tower,
    /// The annotation (at most [`MAX_ANNOTATION_LEN`] characters).
    pub annotation: String,
}

impl NewEntry {
    /// An element for `object` reachable through `tower`.
    pub fn new(object: Uuid, tower: Tower, annotation: impl Into<String>) -> Self {
        NewEntry {
            object,
            tower,
            annotation: annotation.into(),
        }
    }

    /// The element an `ept_entry_t` describes (a null or undecodable tower is an invalid
    /// entry).
    pub fn from_ept_entry(e: &EptEntry) -> Result<Self, DbError> {
        let twr = e
            .tower
            .get()
            .ok_or_else(|| DbError::InvalidEntry("null tower".into()))?;
        let tower =
            Tower::from_twr(twr).map_err(|err| DbError::InvalidEntry(format!("tower: {err}")))?;
        Ok(NewEntry::new(e.object, tower, e.annotation.clone()))
    }
}

/// A registered element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    id: EntryId,
    object: Uuid,
    interface: SyntaxId,
    transfer: SyntaxId,
    protocol: ProtocolIds,
    tower: Tower,
    bytes: Arc<[u8]>,
    annotation: String,
    owner: u64,
}

impl Entry {
    /// Its id.
    pub fn id(&self) -> EntryId {
        self.id
    }
    /// Its object UUID.
    pub fn object(&self) -> Uuid {
        self.object
    }
    /// Its interface (tower floor 1).
    pub fn interface(&self) -> SyntaxId {
        self.interface
    }
    /// Its transfer syntax (tower floor 2).
    pub fn transfer_syntax(&self) -> SyntaxId {
        self.transfer
    }
    /// The protocol identifiers of its floors 3 and 4.
    pub fn protocol_ids(&self) -> ProtocolIds {
        self.protocol
    }
    /// Its tower.
    pub fn tower(&self) -> &Tower {
        &self.tower
    }
    /// Its tower's octets.
    pub fn tower_bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// Its annotation.
    pub fn annotation(&self) -> &str {
        &self.annotation
    }
    /// Who registered it.
    pub fn owner(&self) -> u64 {
        self.owner
    }
    /// Its tower as a `twr_t`.
    pub fn to_twr(&self) -> Twr {
        Twr::new(self.bytes.to_vec())
    }
    /// The element as an `ept_entry_t`.
    pub fn to_ept_entry(&self) -> EptEntry {
        EptEntry {
            object: self.object,
            tower: Unique::new(self.to_twr()),
            annotation: self.annotation.clone(),
        }
    }
}

/// Why the database refused an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbError {
    /// The element is malformed (`ept_s_invalid_entry`); carries the reason.
    InvalidEntry(String),
    /// The database holds as many elements as allowed (`ept_s_cant_create`).
    Full {
        /// The limit.
        max: usize,
    },
    /// No such element (`ept_s_not_registered`).
    NotRegistered,
}

impl DbError {
    /// The status `ept_insert` / `ept_delete` / `ept_mgmt_delete` return for this error.
    pub fn status(&self) -> u32 {
        match self {
            DbError::InvalidEntry(_) => status::EPT_S_INVALID_ENTRY,
            DbError::Full { .. } => status::EPT_S_CANT_CREATE,
            DbError::NotRegistered => status::EPT_S_NOT_REGISTERED,
        }
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::InvalidEntry(why) => write!(f, "invalid endpoint map entry: {why}"),
            DbError::Full { max } => write!(f, "endpoint map is full ({max} entries)"),
            DbError::NotRegistered => f.write_str("no such endpoint map entry"),
        }
    }
}

impl std::error::Error for DbError {}

/// `vers_option` of `ept_lookup`: how a registered interface version must relate to the
/// requested one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VersOption {
    /// `rpc_c_vers_all` (1): any version.
    All,
    /// `rpc_c_vers_compatible` (2): same major, registered minor at least the requested.
    Compatible,
    /// `rpc_c_vers_exact` (3): same major and minor.
    Exact,
    /// `rpc_c_vers_major_only` (4): same major.
    MajorOnly,
    /// `rpc_c_vers_upto` (5): registered version at most the requested one.
    UpTo,
}

impl VersOption {
    /// The option for a wire value, if it is one of the five.
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            crate::RPC_C_VERS_ALL => VersOption::All,
            crate::RPC_C_VERS_COMPATIBLE => VersOption::Compatible,
            crate::RPC_C_VERS_EXACT => VersOption::Exact,
            crate::RPC_C_VERS_MAJOR_ONLY => VersOption::MajorOnly,
            crate::RPC_C_VERS_UPTO => VersOption::UpTo,
            _ => return None,
        })
    }

    /// Whether `registered` satisfies this option for the requested `wanted` version.
    pub fn matches(self, wanted: SyntaxId, registered: SyntaxId) -> bool {
        let (wm, wn, rm, rn) = (
            wanted.major,
            wanted.minor,
            registered.major,
            registered.minor,
        );
        match self {
            VersOption::All => true,
            VersOption::Compatible => rm == wm && rn >= wn,
            VersOption::Exact => rm == wm && rn == wn,
            VersOption::MajorOnly => rm == wm,
            VersOption::UpTo => rm < wm || (rm == wm && rn <= wn),
        }
    }
}

/// What an `ept_lookup` asks for (its `inquiry_type` with the arguments that type uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lookup {
    /// `rpc_c_ep_all_elts` (0): every element.
    All,
    /// `rpc_c_ep_match_by_if` (1): elements of this interface UUID whose version passes
    /// `vers`.
    Interface {
        /// The interface UUID and the version `vers` compares with.
        interface: SyntaxId,
        /// The version rule.
        vers: VersOption,
    },
    /// `rpc_c_ep_match_by_obj` (2): elements of this object.
    Object(Uuid),
    /// `rpc_c_ep_match_by_both` (3): elements of this object and interface.
    Both {
        /// The object.
        object: Uuid,
        /// The interface UUID and the version `vers` compares with.
        interface: SyntaxId,
        /// The version rule.
        vers: VersOption,
    },
}

/// What an `ept_map` asks for, from its object and map tower.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MapQuery {
    /// The object (nil for none).
    pub object: Uuid,
    /// The interface UUID and the version the client wants.
    pub interface: SyntaxId,
    /// The transfer syntax.
    pub transfer: SyntaxId,
    /// The protocol identifiers of floors 3 and 4.
    pub protocol: ProtocolIds,
}

impl MapQuery {
    /// The query for `object` and the map tower `tower` (its endpoint and address floors are
    /// ignored: the client does not know them yet). A tower without interface, transfer syntax
    /// and protocol floors is an invalid entry.
    pub fn from_tower(object: Uuid, tower: &Tower) -> Result<Self, DbError> {
        let shape = Shape::of(tower)?;
        Ok(MapQuery {
            object,
            interface: shape.interface,
            transfer: shape.transfer,
            protocol: shape.protocol,
        })
    }

    fn matches(&self, e: &Entry) -> bool {
        e.interface.uuid == self.interface.uuid
            && e.interface.major == self.interface.major
            && e.interface.minor >= self.interface.minor
            && e.transfer == self.transfer
            && e.protocol == self.protocol
    }
}

/// The floors every registered or map tower needs.
struct Shape {
    interface: SyntaxId,
    transfer: SyntaxId,
    protocol: ProtocolIds,
}

impl Shape {
    fn of(tower: &Tower) -> Result<Shape, DbError> {
        let bad = |why: &str| Err(DbError::InvalidEntry(why.to_owned()));
        let n = tower.floors.len();
        if n > MAX_TOWER_FLOORS {
            return bad("tower has more than six floors");
        }
        if n < MIN_TOWER_FLOORS {
            return bad("tower has fewer than four floors");
        }
        let Some(interface) = tower.interface() else {
            return bad("floor 1 is not an interface UUID");
        };
        let Some(transfer) = tower.transfer_syntax() else {
            return bad("floor 2 is not a transfer syntax UUID");
        };
        if interface.uuid.is_nil() || transfer.uuid.is_nil() {
            return bad("nil interface or transfer syntax UUID");
        }
        let Some(protocol @ (_, Some(_))) = tower.protocol_ids() else {
            return bad("floors 3 and 4 carry no protocol identifiers");
        };
        Ok(Shape {
            interface,
            transfer,
            protocol,
        })
    }
}

/// Where a paged walk stopped. [`Cursor::START`] begins a walk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Cursor {
    /// 0: not started; for maps, 1: object-specific elements, 2: nil-object elements.
    pass: u8,
    /// The last element returned in this pass.
    after: Option<EntryId>,
}

impl Cursor {
    /// The start of a walk.
    pub const START: Cursor = Cursor {
        pass: 0,
        after: None,
    };
}

/// One batch of a walk.
#[derive(Debug)]
pub struct Page<'a> {
    /// The elements, in registration order (for maps: object-specific ones first).
    pub entries: Vec<&'a Entry>,
    /// Where to resume: `Some` exactly when more matching elements remain.
    pub next: Option<Cursor>,
}

/// A registration prepared for insertion (validated and encoded).
struct Prepared {
    object: Uuid,
    shape: Shape,
    tower: Tower,
    bytes: Arc<[u8]>,
    annotation: String,
}

fn check_annotation(a: &str) -> Result<(), DbError> {
    let mut n = 0usize;
    for c in a.chars() {
        n += 1;
        if c == '\0' || u32::from(c) > 0xff {
            return Err(DbError::InvalidEntry(
                "annotation holds a NUL or a character above U+00FF".into(),
            ));
        }
    }
    if n > MAX_ANNOTATION_LEN {
        return Err(DbError::InvalidEntry(format!(
            "annotation longer than {MAX_ANNOTATION_LEN} characters"
        )));
    }
    Ok(())
}

fn prepare(e: NewEntry) -> Result<Prepared, DbError> {
    check_annotation(&e.annotation)?;
    let shape = Shape::of(&e.tower)?;
    let bytes = e
        .tower
        .encode()
        .map_err(|err| DbError::InvalidEntry(format!("tower: {err}")))?;
    Ok(Prepared {
        object: e.object,
        shape,
        tower: e.tower,
        bytes: Arc::from(bytes),
        annotation: e.annotation,
    })
}

fn after(set: &BTreeSet<EntryId>, a: Option<EntryId>) -> impl Iterator<Item = EntryId> + '_ {
    let lower = match a {
        Some(id) => Bound::Excluded(id),
        None => Bound::Unbounded,
    };
    set.range((lower, Bound::Unbounded)).copied()
}

/// How a scan ended.
enum Scan {
    /// No further matching element.
    Exhausted,
    /// The page is full and at least one more element matches.
    More,
}

fn index_add<K: std::hash::Hash + Eq>(m: &mut HashMap<K, BTreeSet<EntryId>>, k: K, id: EntryId) {
    m.entry(k).or_default().insert(id);
}

fn index_remove<K: std::hash::Hash + Eq>(
    m: &mut HashMap<K, BTreeSet<EntryId>>,
    k: &K,
    id: EntryId,
) {
    if let Some(set) = m.get_mut(k) {
        set.remove(&id);
        if set.is_empty() {
            m.remove(k);
        }
    }
}

/// The endpoint map (see the [module documentation](self) for its rules).
#[derive(Debug)]
pub struct EndpointDb {
    max_entries: usize,
    next_id: EntryId,
    entries: BTreeMap<EntryId, Entry>,
    by_interface: HashMap<Uuid, BTreeSet<EntryId>>,
    by_object: HashMap<Uuid, BTreeSet<EntryId>>,
    by_object_interface: HashMap<(Uuid, Uuid), BTreeSet<EntryId>>,
    by_key: HashMap<(Uuid, Arc<[u8]>), EntryId>,
    by_owner: HashMap<u64, BTreeSet<EntryId>>,
}

impl Default for EndpointDb {
    fn default() -> Self {
        Self::new()
    }
}

const EMPTY: &BTreeSet<EntryId> = &BTreeSet::new();

impl EndpointDb {
    /// An empty map holding at most [`DEFAULT_MAX_ENTRIES`] elements.
    pub fn new() -> Self {
        Self::with_max_entries(DEFAULT_MAX_ENTRIES)
    }

    /// An empty map holding at most `max_entries` elements.
    pub fn with_max_entries(max_entries: usize) -> Self {
        EndpointDb {
            max_entries,
            next_id: 1,
            entries: BTreeMap::new(),
            by_interface: HashMap::new(),
            by_object: HashMap::new(),
            by_object_interface: HashMap::new(),
            by_key: HashMap::new(),
            by_owner: HashMap::new(),
        }
    }

    /// The most elements the map holds.
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The element `id`, if still registered.
    pub fn get(&self, id: EntryId) -> Option<&Entry> {
        self.entries.get(&id)
    }

    /// Every element, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// The number of elements `owner` registered.
    pub fn owned_by(&self, owner: u64) -> usize {
        self.by_owner.get(&owner).map_or(0, BTreeSet::len)
    }

    /// Registers `entries` for `owner` (all of them, or none on error). With `replace`, the
    /// elements each new one replaces are removed first (see the module documentation).
    pub fn register(
        &mut self,
        owner: u64,
        entries: Vec<NewEntry>,
        replace: bool,
    ) -> Result<(), DbError> {
        let prepared = entries
            .into_iter()
            .map(prepare)
            .collect::<Result<Vec<_>, _>>()?;
        let mut removed: BTreeSet<EntryId> = BTreeSet::new();
        if replace {
            for p in &prepared {
                let key = (p.object, p.shape.interface.uuid);
                for id in self.by_object_interface.get(&key).unwrap_or(EMPTY) {
                    let Some(e) = self.entries.get(id) else {
                        continue;
                    };
                    let candidate = e.interface.major == p.shape.interface.major
                        && e.transfer == p.shape.transfer
                        && e.protocol == p.shape.protocol;
                    if !candidate {
                        continue;
                    }
                    if e.interface.minor > p.shape.interface.minor {
                        return Err(DbError::InvalidEntry(
                            "a registered element has a higher interface minor version".into(),
                        ));
                    }
                    removed.insert(*id);
                }
            }
        }
        let mut seen: HashSet<(Uuid, Arc<[u8]>)> = HashSet::new();
        let mut added = 0usize;
        for p in &prepared {
            let key = (p.object, Arc::clone(&p.bytes));
            if !seen.insert(key.clone()) {
                continue;
            }
            match self.by_key.get(&key) {
                Some(id) if !removed.contains(id) => {}
                _ => added += 1,
            }
        }
        let after = self
            .entries
            .len()
            .saturating_sub(removed.len())
            .saturating_add(added);
        if after > self.max_entries {
            return Err(DbError::Full {
                max: self.max_entries,
            });
        }
        for id in removed {
            self.remove_id(id);
        }
        for p in prepared {
            self.insert(owner, p);
        }
        Ok(())
    }

    fn insert(&mut self, owner: u64, p: Prepared) {
        let key = (p.object, Arc::clone(&p.bytes));
        if let Some(&id) = self.by_key.get(&key) {
            if let Some(e) = self.entries.get_mut(&id) {
                let old = e.owner;
                e.annotation = p.annotation;
                e.owner = owner;
                if old != owner {
                    index_remove(&mut self.by_owner, &old, id);
                    index_add(&mut self.by_owner, owner, id);
                }
                return;
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let iface = p.shape.interface.uuid;
        index_add(&mut self.by_interface, iface, id);
        index_add(&mut self.by_object, p.object, id);
        index_add(&mut self.by_object_interface, (p.object, iface), id);
        index_add(&mut self.by_owner, owner, id);
        self.by_key.insert(key, id);
        self.entries.insert(
            id,
            Entry {
                id,
                object: p.object,
                interface: p.shape.interface,
                transfer: p.shape.transfer,
                protocol: p.shape.protocol,
                tower: p.tower,
                bytes: p.bytes,
                annotation: p.annotation,
                owner,
            },
        );
    }

    fn remove_id(&mut self, id: EntryId) -> Option<Entry> {
        let e = self.entries.remove(&id)?;
        let iface = e.interface.uuid;
        index_remove(&mut self.by_interface, &iface, id);
        index_remove(&mut self.by_object, &e.object, id);
        index_remove(&mut self.by_object_interface, &(e.object, iface), id);
        index_remove(&mut self.by_owner, &e.owner, id);
        self.by_key.remove(&(e.object, Arc::clone(&e.bytes)));
        Some(e)
    }

    /// Removes the elements `(object, tower)` that `owner` registered: all of them, or none
    /// ([`DbError::NotRegistered`]) when one is missing or belongs to another owner. Returns
    /// how many were removed.
    pub fn unregister(&mut self, owner: u64, items: &[(Uuid, Tower)]) -> Result<usize, DbError> {
        let mut ids = BTreeSet::new();
        for (object, tower) in items {
            let bytes = tower
                .encode()
                .map_err(|err| DbError::InvalidEntry(format!("tower: {err}")))?;
            let id = self
                .by_key
                .get(&(*object, Arc::from(bytes)))
                .copied()
                .filter(|id| self.entries.get(id).is_some_and(|e| e.owner == owner))
                .ok_or(DbError::NotRegistered)?;
            ids.insert(id);
        }
        let n = ids.len();
        for id in ids {
            self.remove_id(id);
        }
        Ok(n)
    }

    /// `ept_mgmt_delete`: removes every element (any owner) with `tower`'s interface (UUID and
    /// exact version), protocol sequence and endpoint, and `object` when given. Network
    /// addresses are ignored. Returns how many were removed; none is
    /// [`DbError::NotRegistered`].
    pub fn mgmt_delete(&mut self, object: Option<Uuid>, tower: &Tower) -> Result<usize, DbError> {
        let interface = tower
            .interface()
            .ok_or_else(|| DbError::InvalidEntry("floor 1 is not an interface UUID".into()))?;
        let protocol = tower.protocol_ids().ok_or_else(|| {
            DbError::InvalidEntry("floors 3 and 4 carry no protocol identifiers".into())
        })?;
        let endpoint: Option<Endpoint> = tower.endpoint();
        let ids: Vec<EntryId> = self
            .by_interface
            .get(&interface.uuid)
            .unwrap_or(EMPTY)
            .iter()
            .copied()
            .filter(|id| {
                self.entries.get(id).is_some_and(|e| {
                    e.interface == interface
                        && e.protocol == protocol
                        && object.is_none_or(|o| o == e.object)
                        && e.tower.endpoint() == endpoint
                })
            })
            .collect();
        if ids.is_empty() {
            return Err(DbError::NotRegistered);
        }
        for id in &ids {
            self.remove_id(*id);
        }
        Ok(ids.len())
    }

    /// Removes everything `owner` registered (its registrant went away); returns how many.
    pub fn remove_owner(&mut self, owner: u64) -> usize {
        let ids: Vec<EntryId> = self
            .by_owner
            .get(&owner)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        for id in &ids {
            self.remove_id(*id);
        }
        ids.len()
    }

    /// Appends to `out` the elements of `ids` that pass `pred`, up to `max` in `out`.
    fn scan<'a>(
        &'a self,
        ids: impl Iterator<Item = EntryId>,
        pred: impl Fn(&Entry) -> bool,
        max: usize,
        out: &mut Vec<&'a Entry>,
    ) -> Scan {
        for id in ids {
            let Some(e) = self.entries.get(&id) else {
                continue;
            };
            if !pred(e) {
                continue;
            }
            if out.len() >= max {
                return Scan::More;
            }
            out.push(e);
        }
        Scan::Exhausted
    }

    /// One page of an `ept_lookup` walk: up to `max` elements matching `q`, from `cursor`.
    pub fn lookup(&self, q: &Lookup, cursor: Cursor, max: usize) -> Page<'_> {
        let mut out = Vec::new();
        let from = cursor.after;
        let end = match q {
            Lookup::All => self.scan(
                self.entries
                    .range((
                        from.map_or(Bound::Unbounded, Bound::Excluded),
                        Bound::Unbounded,
                    ))
                    .map(|(id, _)| *id),
                |_| true,
                max,
                &mut out,
            ),
            Lookup::Interface { interface, vers } => self.scan(
                after(
                    self.by_interface.get(&interface.uuid).unwrap_or(EMPTY),
                    from,
                ),
                |e| vers.matches(*interface, e.interface),
                max,
                &mut out,
            ),
            Lookup::Object(o) => self.scan(
                after(self.by_object.get(o).unwrap_or(EMPTY), from),
                |_| true,
                max,
                &mut out,
            ),
            Lookup::Both {
                object,
                interface,
                vers,
            } => self.scan(
                after(
                    self.by_object_interface
                        .get(&(*object, interface.uuid))
                        .unwrap_or(EMPTY),
                    from,
                ),
                |e| vers.matches(*interface, e.interface),
                max,
                &mut out,
            ),
        };
        let next = match end {
            Scan::Exhausted => None,
            Scan::More => Some(Cursor {
                pass: 0,
                after: out.last().map(|e| e.id).or(from),
            }),
        };
        Page { entries: out, next }
    }

    /// One page of an `ept_map` walk: up to `max` elements matching `q`, from `cursor`.
    pub fn map(&self, q: &MapQuery, cursor: Cursor, max: usize) -> Page<'_> {
        let mut out = Vec::new();
        let object_pass = !q.object.is_nil();
        let mut pass = match cursor.pass {
            0 if object_pass => 1,
            0 => 2,
            p => p,
        };
        let mut from = if cursor.pass == 0 { None } else { cursor.after };
        if pass == 1 {
            let set = self
                .by_object_interface
                .get(&(q.object, q.interface.uuid))
                .unwrap_or(EMPTY);
            if let Scan::More = self.scan(after(set, from), |e| q.matches(e), max, &mut out) {
                let last = out.last().map(|e| e.id).or(from);
                return Page {
                    entries: out,
                    next: Some(Cursor {
                        pass: 1,
                        after: last,
                    }),
                };
            }
            pass = 2;
            from = None;
        }
        let before = out.len();
        let set = self
            .by_object_interface
            .get(&(Uuid::nil(), q.interface.uuid))
            .unwrap_or(EMPTY);
        let next = match self.scan(after(set, from), |e| q.matches(e), max, &mut out) {
            Scan::Exhausted => None,
            Scan::More => Some(Cursor {
                pass,
                after: if out.len() > before {
                    out.last().map(|e| e.id)
                } else {
                    from
                },
            }),
        };
        Page { entries: out, next }
    }
}

#[cfg(test)]
mod tests;
