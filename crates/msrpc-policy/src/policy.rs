//! The validated policy, its evaluation ([`Policy::check`]) and the swappable
//! [`PolicyHandle`] a server consults for every call.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use msrpc_ndr::Uuid;
use msrpc_proto::dispatch::CallAuth;
use msrpc_proto::pdu::{FaultStatus, SyntaxId};
use serde::{Deserialize, Serialize};

use crate::file::{
    Action, DcomClassFile, DefaultAction, EpmLookup, FilterFile, Level, OneOrMany, PolicyFile,
    RestrictMode,
};

/// The endpoint mapper interface (`e1af8308-5d1f-11c9-91a4-08002b14a0fa`).
pub const EPM_UUID: Uuid = Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa);

/// The endpoint mapper's lookup operations `epm-lookup` governs: `ept_lookup` (2),
/// `ept_map` (3) and `ept_lookup_handle_free` (4).
pub const EPM_LOOKUP_OPNUMS: [u16; 3] = [2, 3, 4];

/// Most filters a policy may hold.
pub const MAX_FILTERS: usize = 4096;

/// Most `[[interface]]` entries a policy may hold.
pub const MAX_INTERFACES: usize = 4096;

/// Most `[[dcom-class]]` entries a policy may hold.
pub const MAX_DCOM_CLASSES: usize = 4096;

/// Who is calling what: the facts a policy decides on.
#[derive(Clone, Copy, Debug)]
pub struct CallerInfo<'a> {
    /// The interface the call is for (the presentation context's abstract syntax).
    pub interface: SyntaxId,
    /// The operation number.
    pub opnum: u16,
    /// The caller's IP address (`None` for a local caller). IPv4-mapped IPv6 addresses are
    /// compared as IPv4.
    pub remote: Option<IpAddr>,
    /// True for a caller on the local channel (Unix domain socket): exempt from
    /// `restrict-remote-clients` and `epm-lookup`.
    pub local: bool,
    /// The call's authentication, when the connection is authenticated.
    pub auth: Option<&'a CallAuth>,
}

impl CallerInfo<'_> {
    /// The call's level as the policy compares it (`none` when unauthenticated).
    pub fn level(&self) -> Level {
        self.auth.map_or(Level::None, |a| Level::from_wire(a.level))
    }

    /// The authenticated user, when there is one (`ANONYMOUS LOGON` for an anonymous
    /// logon).
    pub fn user(&self) -> Option<&str> {
        self.auth.and_then(|a| a.user.as_deref())
    }

    /// True when the call's security context is an anonymous logon (NTLM's null session): it
    /// has a level, but proved no identity.
    pub fn anonymous(&self) -> bool {
        self.auth.is_some_and(|a| a.anonymous)
    }

    /// True when the call is authenticated: at `connect` or above, by someone other than an
    /// anonymous logon. What `restrict-remote-clients` and `epm-lookup =
    /// "require_authentication"` ask for (to Windows' RestrictRemoteClients an anonymous
    /// NTLM caller is an anonymous caller, MS-RPCE 3.1.1.1.3).
    pub fn authenticated(&self) -> bool {
        self.level() >= Level::Connect && !self.anonymous()
    }
}

/// A security callback's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Serve the call.
    Permit,
    /// Refuse it (fault access denied, reason `policy_callback`).
    Deny,
}

/// A per-interface security callback, like the one `RpcServerRegisterIf2` takes: runs after
/// the static checks passed, on the connection's task (keep it quick and non-blocking).
pub type SecurityCallback = Arc<dyn Fn(&CallerInfo<'_>) -> Decision + Send + Sync>;

/// Why a call was refused: a stable code for logs and audit records ([`Reason::code`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// Below the interface's `min-auth-level`.
    MinLevel,
    /// A `deny` filter matched.
    FilterDeny,
    /// No `permit`/`deny` filter matched and `default-action = "deny"`.
    FilterDefault,
    /// Unauthenticated and `restrict-remote-clients` forbids it.
    RestrictRemote,
    /// An endpoint lookup the `epm-lookup` setting forbids.
    EpmLookup,
    /// The interface's security callback said no.
    Callback,
    /// A `[[dcom-class]]` entry does not let the caller activate the class.
    DcomLaunch,
    /// A `[[dcom-class]]` entry does not let the caller call the class's objects.
    DcomAccess,
}

impl Reason {
    /// `policy_min_level`, `policy_filter_deny`, `policy_filter_default`,
    /// `policy_restrict_remote`, `policy_epm_lookup`, `policy_callback`,
    /// `dcom_launch_denied` or `dcom_access_denied`.
    pub fn code(self) -> &'static str {
        match self {
            Reason::MinLevel => "policy_min_level",
            Reason::FilterDeny => "policy_filter_deny",
            Reason::FilterDefault => "policy_filter_default",
            Reason::RestrictRemote => "policy_restrict_remote",
            Reason::EpmLookup => "policy_epm_lookup",
            Reason::Callback => "policy_callback",
            Reason::DcomLaunch => "dcom_launch_denied",
            Reason::DcomAccess => "dcom_access_denied",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refusal: the fault to send and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The fault status (always `ACCESS_DENIED`, 0x00000005, what Windows sends).
    pub status: FaultStatus,
    /// Why.
    pub reason: Reason,
    /// The filter that denied, for [`Reason::FilterDeny`].
    pub rule: Option<Arc<str>>,
}

/// The outcome of [`Policy::check`] / [`PolicyHandle::check`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// `None`: serve the call.
    pub refusal: Option<Refusal>,
    /// The `audit` filters that matched, in order (recorded whatever the outcome).
    pub audits: Vec<Arc<str>>,
}

impl Verdict {
    /// True when the call is to be served.
    pub fn permitted(&self) -> bool {
        self.refusal.is_none()
    }

    fn refuse(&mut self, reason: Reason, rule: Option<Arc<str>>) {
        self.refusal = Some(Refusal {
            status: FaultStatus::ACCESS_DENIED,
            reason,
            rule,
        });
    }
}

/// Why a policy file is invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError(String);

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

fn err(msg: String) -> PolicyError {
    PolicyError(msg)
}

/// An IPv4 or IPv6 prefix (`10.0.0.0/8`; a bare address is a full-length prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

impl Prefix {
    /// Parses `ADDR` or `ADDR/LEN`.
    pub fn parse(s: &str) -> Result<Prefix, PolicyError> {
        let (a, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| err(format!("`{s}` is not an IP address or prefix")))?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => l
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| err(format!("`{s}`: prefix length must be 0..={max}")))?,
        };
        Ok(Prefix { addr, len })
    }

    /// True when `ip` is inside the prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(p), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(p) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(p), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                u128::from(p) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// A validated filter.
#[derive(Clone, Debug)]
struct Filter {
    name: Arc<str>,
    action: Action,
    interfaces: Option<Vec<Uuid>>,
    opnums: Option<Vec<u16>>,
    remotes: Option<Vec<Prefix>>,
    levels: Option<Vec<Level>>,
    level_below: Option<Level>,
    /// Lower-cased; `(domain, user)` with `domain` `None` for any domain.
    users: Option<Vec<(Option<String>, String)>>,
}

impl Filter {
    fn compile(f: &FilterFile) -> Result<Filter, PolicyError> {
        let ctx = |e: PolicyError| err(format!("filter `{}`: {e}", f.name));
        if f.name.trim().is_empty() {
            return Err(err("a filter needs a non-empty name".into()));
        }
        let interfaces = f
            .interface
            .as_ref()
            .map(|v| v.as_slice().iter().map(|u| parse_uuid(u)).collect())
            .transpose()
            .map_err(ctx)?;
        let remotes = f
            .remote
            .as_ref()
            .map(|v| v.as_slice().iter().map(|p| Prefix::parse(p)).collect())
            .transpose()
            .map_err(ctx)?;
        let users = f
            .user
            .as_ref()
            .map(|v| v.as_slice().iter().map(|u| parse_user(u)).collect())
            .transpose()
            .map_err(ctx)?;
        let lists_empty = [
            f.interface.as_ref().map(|v| v.as_slice().is_empty()),
            f.remote.as_ref().map(|v| v.as_slice().is_empty()),
            f.user.as_ref().map(|v| v.as_slice().is_empty()),
            f.opnum.as_ref().map(|v| v.as_slice().is_empty()),
            f.auth_level.as_ref().map(|v| v.as_slice().is_empty()),
        ];
        if lists_empty.contains(&Some(true)) {
            return Err(ctx(err(
                "an empty list never matches (remove the key)".into()
            )));
        }
        Ok(Filter {
            name: Arc::from(f.name.as_str()),
            action: f.action,
            interfaces,
            opnums: f.opnum.as_ref().map(|v| v.as_slice().to_vec()),
            remotes,
            levels: f.auth_level.as_ref().map(|v| v.as_slice().to_vec()),
            level_below: f.auth_level_below,
            users,
        })
    }

    fn matches(&self, c: &CallerInfo<'_>) -> bool {
        if let Some(ifs) = &self.interfaces {
            if !ifs.contains(&c.interface.uuid) {
                return false;
            }
        }
        if let Some(ops) = &self.opnums {
            if !ops.contains(&c.opnum) {
                return false;
            }
        }
        if let Some(rs) = &self.remotes {
            match c.remote {
                Some(ip) if rs.iter().any(|p| p.contains(ip)) => {}
                _ => return false,
            }
        }
        let level = c.level();
        if let Some(ls) = &self.levels {
            if !ls.contains(&level) {
                return false;
            }
        }
        if let Some(below) = self.level_below {
            if level >= below {
                return false;
            }
        }
        if let Some(us) = &self.users {
            let Some(user) = c.user() else {
                return false;
            };
            let anonymous = c.anonymous();
            if !us.iter().any(|u| user_matches(u, user, anonymous)) {
                return false;
            }
        }
        true
    }
}

fn parse_uuid(s: &str) -> Result<Uuid, PolicyError> {
    Uuid::try_parse(s.trim()).map_err(|_| err(format!("`{s}` is not a UUID")))
}

fn parse_user(s: &str) -> Result<(Option<String>, String), PolicyError> {
    let s = s.trim().to_lowercase();
    let (domain, user) = match s.rsplit_once('\\') {
        Some((d, u)) => (Some(d.to_string()), u.to_string()),
        None => (None, s),
    };
    if user.is_empty() {
        return Err(err("an empty user name".into()));
    }
    Ok((domain, user))
}

/// The user name of anonymous logons in filters (lower-cased), alone or in the domain
/// `NT AUTHORITY` (Windows' `NT AUTHORITY\ANONYMOUS LOGON`).
const ANONYMOUS_USER: &str = "anonymous logon";
const ANONYMOUS_DOMAIN: &str = "nt authority";

/// True when `rule` (lower-cased) names anonymous logons.
fn names_anonymous(rule: &(Option<String>, String)) -> bool {
    rule.1 == ANONYMOUS_USER && rule.0.as_deref().is_none_or(|d| d == ANONYMOUS_DOMAIN)
}

/// `rule` (lower-cased) against the caller's `DOMAIN\user` or `user`. An anonymous caller
/// matches exactly the rules naming anonymous logons (`ANONYMOUS LOGON` or
/// `NT AUTHORITY\ANONYMOUS LOGON`), and those rules match no other caller, whatever name it
/// has.
fn user_matches(rule: &(Option<String>, String), caller: &str, anonymous: bool) -> bool {
    if anonymous || names_anonymous(rule) {
        return anonymous && names_anonymous(rule);
    }
    let (domain, user) = match caller.rsplit_once('\\') {
        Some((d, u)) => (Some(d), u),
        None => (None, caller),
    };
    if !same_name(user, &rule.1) {
        return false;
    }
    match (&rule.0, domain) {
        (None, _) => true,
        (Some(rd), Some(d)) => same_name(d, rd),
        (Some(_), None) => false,
    }
}

/// `name` equals `lower` (already lower-cased) ignoring case; allocates only for non-ASCII.
fn same_name(name: &str, lower: &str) -> bool {
    if name.is_ascii() {
        name.eq_ignore_ascii_case(lower)
    } else {
        name.to_lowercase() == lower
    }
}

/// A right over a hosted COM class (`[[dcom-class]]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClassRight {
    /// Activate it: RemoteCreateInstance, RemoteGetClassObject, RemoteActivation (Windows'
    /// launch and activation permission).
    Launch,
    /// Call its objects: ORPC calls and RemQueryInterface (Windows' access permission).
    Access,
}

impl ClassRight {
    /// The reason a refusal of this right carries ([`Reason::DcomLaunch`],
    /// [`Reason::DcomAccess`]).
    pub fn reason(self) -> Reason {
        match self {
            ClassRight::Launch => Reason::DcomLaunch,
            ClassRight::Access => Reason::DcomAccess,
        }
    }
}

/// Who may exercise one right: `None` lists do not restrict.
#[derive(Clone, Debug, Default)]
struct Permission {
    /// Lower-cased, as [`Filter::users`].
    users: Option<Vec<(Option<String>, String)>>,
    remotes: Option<Vec<Prefix>>,
}

impl Permission {
    fn compile(
        users: Option<&OneOrMany<String>>,
        remotes: Option<&OneOrMany<String>>,
        key: &str,
    ) -> Result<Permission, PolicyError> {
        let users = users
            .map(|v| v.as_slice().iter().map(|u| parse_user(u)).collect())
            .transpose()
            .map_err(|e| err(format!("{key}-users: {e}")))?;
        let remotes = remotes
            .map(|v| v.as_slice().iter().map(|p| Prefix::parse(p)).collect())
            .transpose()
            .map_err(|e| err(format!("{key}-remote: {e}")))?;
        Ok(Permission { users, remotes })
    }

    /// The same matching as a filter's `user` and `remote` conditions.
    fn permits(&self, c: &CallerInfo<'_>) -> bool {
        if let Some(rs) = &self.remotes {
            match c.remote {
                Some(ip) if rs.iter().any(|p| p.contains(ip)) => {}
                _ => return false,
            }
        }
        if let Some(us) = &self.users {
            let Some(user) = c.user() else {
                return false;
            };
            let anonymous = c.anonymous();
            if !us.iter().any(|u| user_matches(u, user, anonymous)) {
                return false;
            }
        }
        true
    }
}

/// A validated `[[dcom-class]]` entry.
#[derive(Clone, Debug)]
struct ClassRule {
    /// The rule's name in refusals: `dcom-class:CLSID`.
    name: Arc<str>,
    launch: Permission,
    access: Permission,
}

impl ClassRule {
    fn compile(f: &DcomClassFile) -> Result<(Uuid, ClassRule), PolicyError> {
        let clsid = parse_uuid(&f.clsid).map_err(|e| err(format!("dcom-class: clsid: {e}")))?;
        let ctx = |e: PolicyError| err(format!("dcom-class {clsid}: {e}"));
        let launch =
            Permission::compile(f.launch_users.as_ref(), f.launch_remote.as_ref(), "launch")
                .map_err(ctx)?;
        let access =
            Permission::compile(f.access_users.as_ref(), f.access_remote.as_ref(), "access")
                .map_err(ctx)?;
        let name = Arc::from(format!("dcom-class:{clsid}"));
        Ok((
            clsid,
            ClassRule {
                name,
                launch,
                access,
            },
        ))
    }
}

/// A validated `[[interface]]` entry.
#[derive(Clone, Copy, Debug)]
struct InterfaceRule {
    min_level: Level,
    allow_unauthenticated: bool,
}

/// A validated server security policy (see the crate documentation for the evaluation
/// order). Built from a [`PolicyFile`] ([`Policy::from_file`]) or deserialized directly
/// (it deserializes through [`PolicyFile`] and refuses what does not validate).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(try_from = "PolicyFile", into = "PolicyFile")]
pub struct Policy {
    file: PolicyFile,
    interfaces: HashMap<Uuid, InterfaceRule>,
    filters: Vec<Filter>,
    classes: HashMap<Uuid, ClassRule>,
}

impl PartialEq for Policy {
    fn eq(&self, other: &Self) -> bool {
        self.file == other.file
    }
}

impl Eq for Policy {}

impl Default for Policy {
    /// The policy that permits everything.
    fn default() -> Self {
        Policy {
            file: PolicyFile::default(),
            interfaces: HashMap::new(),
            filters: Vec::new(),
            classes: HashMap::new(),
        }
    }
}

impl TryFrom<PolicyFile> for Policy {
    type Error = PolicyError;

    fn try_from(file: PolicyFile) -> Result<Self, Self::Error> {
        Policy::from_file(file)
    }
}

impl From<Policy> for PolicyFile {
    fn from(p: Policy) -> Self {
        p.file
    }
}

impl Policy {
    /// Validates `file`: UUIDs, prefixes, user names, unique filter names, interfaces and
    /// classes, at most [`MAX_FILTERS`] filters, [`MAX_INTERFACES`] interfaces and
    /// [`MAX_DCOM_CLASSES`] classes.
    pub fn from_file(file: PolicyFile) -> Result<Policy, PolicyError> {
        if file.filter.len() > MAX_FILTERS {
            return Err(err(format!("more than {MAX_FILTERS} filters")));
        }
        if file.interface.len() > MAX_INTERFACES {
            return Err(err(format!("more than {MAX_INTERFACES} interfaces")));
        }
        let mut interfaces = HashMap::new();
        for i in &file.interface {
            let uuid = parse_uuid(&i.uuid).map_err(|e| err(format!("interface: {e}")))?;
            let rule = InterfaceRule {
                min_level: i.min_auth_level,
                allow_unauthenticated: i.allow_unauthenticated,
            };
            if interfaces.insert(uuid, rule).is_some() {
                return Err(err(format!("interface {uuid} is listed twice")));
            }
        }
        let mut names = HashSet::new();
        let mut filters = Vec::with_capacity(file.filter.len());
        for f in &file.filter {
            let compiled = Filter::compile(f)?;
            if !names.insert(compiled.name.clone()) {
                return Err(err(format!("two filters are named `{}`", f.name)));
            }
            filters.push(compiled);
        }
        if file.dcom_class.len() > MAX_DCOM_CLASSES {
            return Err(err(format!(
                "more than {MAX_DCOM_CLASSES} dcom-class entries"
            )));
        }
        let mut classes = HashMap::new();
        for c in &file.dcom_class {
            let (clsid, rule) = ClassRule::compile(c)?;
            if classes.insert(clsid, rule).is_some() {
                return Err(err(format!("dcom-class {clsid} is listed twice")));
            }
        }
        Ok(Policy {
            file,
            interfaces,
            filters,
            classes,
        })
    }

    /// The policy as its file holds it.
    pub fn file(&self) -> &PolicyFile {
        &self.file
    }

    /// The `restrict-remote-clients` mode.
    pub fn restrict_mode(&self) -> RestrictMode {
        self.file.restrict_remote_clients
    }

    /// The `epm-lookup` setting.
    pub fn epm_lookup(&self) -> EpmLookup {
        self.file.epm_lookup
    }

    /// The minimum level of interface `uuid` (`none` when unlisted).
    pub fn min_level(&self, uuid: &Uuid) -> Level {
        self.interfaces
            .get(uuid)
            .map_or(Level::None, |r| r.min_level)
    }

    /// Evaluates the static rules for one call, in this order:
    ///
    /// 1. every matching `audit` filter is recorded in [`Verdict::audits`] (all of them,
    ///    whatever happens next);
    /// 2. the first matching `permit` or `deny` filter, in file order, decides the filter
    ///    stage: `deny` refuses (`policy_filter_deny`); `permit` ends the filter stage (later
    ///    filters are not consulted) and the checks below still apply; when none matches,
    ///    `default-action = "deny"` refuses (`policy_filter_default`);
    /// 3. `restrict-remote-clients` (remote unauthenticated callers, anonymous logons
    ///    included: [`CallerInfo::authenticated`]; `policy_restrict_remote`);
    /// 4. `epm-lookup` for `ept_lookup`/`ept_map`/`ept_lookup_handle_free` from remote
    ///    callers (`policy_epm_lookup`; `require_authentication` counts anonymous logons as
    ///    unauthenticated);
    /// 5. the interface's `min-auth-level` (`policy_min_level`), for every caller, local ones
    ///    included; an anonymous logon counts at the level it asked for.
    ///
    /// Audit filters are evaluated even for calls refused later, so an audit rule sees every
    /// call it matches. The security callbacks of a [`PolicyHandle`] run after all of these.
    pub fn check(&self, c: &CallerInfo<'_>) -> Verdict {
        let mut v = Verdict::default();
        let mut decided = None;
        for f in &self.filters {
            match f.action {
                Action::Audit => {
                    if f.matches(c) {
                        v.audits.push(f.name.clone());
                    }
                }
                Action::Permit | Action::Deny if decided.is_none() => {
                    if f.matches(c) {
                        decided = Some(f);
                    }
                }
                Action::Permit | Action::Deny => {}
            }
        }
        match decided {
            Some(f) if f.action == Action::Deny => {
                v.refuse(Reason::FilterDeny, Some(f.name.clone()));
                return v;
            }
            None if self.file.default_action == DefaultAction::Deny => {
                v.refuse(Reason::FilterDefault, None);
                return v;
            }
            _ => {}
        }
        let is_epm = c.interface.uuid == EPM_UUID;
        let rule = self.interfaces.get(&c.interface.uuid);
        if !c.local && !c.authenticated() {
            let refused = match self.file.restrict_remote_clients {
                RestrictMode::None => false,
                RestrictMode::Authenticated => {
                    !is_epm && !rule.is_some_and(|r| r.allow_unauthenticated)
                }
                RestrictMode::AuthenticatedWithoutExceptions => true,
            };
            if refused {
                v.refuse(Reason::RestrictRemote, None);
                return v;
            }
        }
        if is_epm && !c.local && EPM_LOOKUP_OPNUMS.contains(&c.opnum) {
            let refused = match self.file.epm_lookup {
                EpmLookup::Allow => false,
                EpmLookup::RequireAuthentication => !c.authenticated(),
                EpmLookup::Refuse => true,
            };
            if refused {
                v.refuse(Reason::EpmLookup, None);
                return v;
            }
        }
        if let Some(r) = rule {
            if c.level() < r.min_level {
                v.refuse(Reason::MinLevel, None);
                return v;
            }
        }
        v
    }
}

impl Policy {
    /// Whether the caller `c` (the activation call, or the call on one of the class's objects)
    /// may exercise `right` over the COM class `clsid`: its `[[dcom-class]]` entry's lists for
    /// that right, matched as a filter's `user` and `remote` (an unauthenticated caller
    /// matches no user list, a local caller no address list). `None`: permitted (also when
    /// the class has no entry); otherwise the refusal (`dcom_launch_denied` or
    /// `dcom_access_denied`, the rule `dcom-class:CLSID`).
    pub fn check_class(
        &self,
        clsid: &Uuid,
        right: ClassRight,
        c: &CallerInfo<'_>,
    ) -> Option<Refusal> {
        let rule = self.classes.get(clsid)?;
        let permission = match right {
            ClassRight::Launch => &rule.launch,
            ClassRight::Access => &rule.access,
        };
        if permission.permits(c) {
            return None;
        }
        Some(Refusal {
            status: FaultStatus::ACCESS_DENIED,
            reason: right.reason(),
            rule: Some(rule.name.clone()),
        })
    }

    /// True when some `[[dcom-class]]` entry restricts a class.
    pub fn has_class_rules(&self) -> bool {
        !self.classes.is_empty()
    }
}

#[derive(Default)]
struct Inner {
    policy: RwLock<Arc<Policy>>,
    callbacks: RwLock<HashMap<Uuid, SecurityCallback>>,
}

/// The policy a server consults for every call: a [`Policy`] that can be replaced while the
/// server runs ([`replace`](Self::replace), what a reload does; the next call sees the new
/// one) plus per-interface [`SecurityCallback`]s (kept across replacements). Clones share
/// the same state.
#[derive(Clone, Default)]
pub struct PolicyHandle(Arc<Inner>);

impl fmt::Debug for PolicyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let callbacks: Vec<Uuid> = read(&self.0.callbacks).keys().copied().collect();
        f.debug_struct("PolicyHandle")
            .field("policy", &self.current().file())
            .field("callbacks", &callbacks)
            .finish()
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl PolicyHandle {
    /// A handle holding `policy` and no callback.
    pub fn new(policy: Policy) -> PolicyHandle {
        let h = PolicyHandle::default();
        h.replace(policy);
        h
    }

    /// The policy in force.
    pub fn current(&self) -> Arc<Policy> {
        read(&self.0.policy).clone()
    }

    /// Puts `policy` in force for the next call; returns the previous one.
    pub fn replace(&self, policy: Policy) -> Arc<Policy> {
        std::mem::replace(&mut *write(&self.0.policy), Arc::new(policy))
    }

    /// Installs (or replaces) the security callback of interface `uuid` (every version).
    pub fn set_callback(&self, uuid: Uuid, callback: SecurityCallback) {
        write(&self.0.callbacks).insert(uuid, callback);
    }

    /// Removes the security callback of interface `uuid`; true if there was one.
    pub fn remove_callback(&self, uuid: &Uuid) -> bool {
        write(&self.0.callbacks).remove(uuid).is_some()
    }

    /// [`Policy::check`] with the policy in force, then, when it permits, the interface's
    /// callback (a `Deny` refuses with `policy_callback`).
    pub fn check(&self, c: &CallerInfo<'_>) -> Verdict {
        let mut v = self.current().check(c);
        if v.permitted() {
            let cb = read(&self.0.callbacks).get(&c.interface.uuid).cloned();
            if let Some(cb) = cb {
                if cb(c) == Decision::Deny {
                    v.refuse(Reason::Callback, None);
                }
            }
        }
        v
    }
}
