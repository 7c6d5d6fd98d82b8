//! The technique library: attack techniques carried over MS-RPC, as data ([`Library`], loaded
//! from `rules/techniques.toml`, embedded, and from users' files), and the engine that matches
//! events against it ([`Techniques`]), for the daemon and the analyzer alike.
//!
//! A rule names one technique (a row of the detection facts table), its ATT&CK id, a severity,
//! a confidence and what would make it benign, and says which events fire it:
//!
//! - **a step** matches one event: its kind (`call`, `bind`, `epm_lookup`, `epm_map`,
//!   `dcom_activation`, `dcom_resolver`, `exploit_shape`, `auth`), interface UUID (and version,
//!   from the connection's bind), opnums or operation names, transport and named pipe, auth
//!   level range, user patterns, anonymous or not, the roles of caller and target (address
//!   sets, configured or learned), success or fault, and decoded arguments
//!   ([`crate::args`], or the fields of the EPM and DCOM events);
//! - **an aggregate** over matching events per key (`source`, `target`, `source,target`):
//!   `count` of them, or of `distinct` targets, ports, interfaces, opnums, users or argument
//!   values, `within` seconds;
//! - **a sequence** of steps (`then`) by the same key within the window (a service created,
//!   then started), or with `per = "callback"`, a first step to a target followed by steps *from*
//!   that target (a coerced host connecting out).
//!
//! Time comes only from event timestamps; after a rule fires for a key it is quiet for that key
//! for one window. Memory is bounded: each rule tracks at most `max_keys` keys (least recently
//! seen evicted first), the whole library at most [`KEY_BUDGET`] keys, and each key a bounded
//! number of times, items and calls. The schema is documented in `docs/detection.md`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;

use rustc_hash::FxHashMap;
use serde_json::{json, Value};

use crate::{CallArg, Event, EventKind, CL_TRANSPORT};

/// The rules shipped with msrpc (`crates/msrpc-audit/rules/techniques.toml`).
pub const BUILTIN: &str = include_str!("../rules/techniques.toml");

/// The schema version this engine reads (`version = 1` at the top of a rules file).
pub const SCHEMA_VERSION: i64 = 1;

/// Keys tracked by all rules together (each rule also at most its table's cap).
pub const KEY_BUDGET: usize = 16_384;

/// Calls listed in an alert's evidence (the first ones and the last).
const EVIDENCE_CALLS: usize = 4;
/// Longest argument value in an evidence call (characters).
const EVIDENCE_VALUE: usize = 128;
/// uids listed in an alert's evidence.
const EVIDENCE_UIDS: usize = 8;
/// Distinct items listed in an alert's evidence.
const EVIDENCE_ITEMS: usize = 32;
/// Largest `count` a rule may ask for (each key keeps at most that many times or items).
pub const MAX_COUNT: u32 = 4096;
/// Connections whose binds the engine remembers (interface versions, authentication).
const MAX_CONNS: usize = 65_536;
/// Addresses whose host names the engine remembers, and names per address.
const MAX_NAMED_HOSTS: usize = 16_384;
const NAMES_PER_HOST: usize = 4;
/// Addresses learned as domain controllers.
const MAX_LEARNED_DCS: usize = 4096;

/// A rules file that does not load: where, which rule and which key, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    /// The file (or `builtin`).
    pub origin: String,
    /// The rule's id (or its position when it has none), when the error is in a rule.
    pub rule: Option<String>,
    /// The key at fault.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(r) = &self.rule {
            write!(f, ": rule {r:?}")?;
        }
        if let Some(k) = &self.key {
            write!(f, ": key {k:?}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for RuleError {}

/// `low`, `medium` or `high`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
}

impl Level {
    /// `low`, `medium` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }

    fn parse(s: &str) -> Option<Level> {
        match s {
            "low" => Some(Level::Low),
            "medium" => Some(Level::Medium),
            "high" => Some(Level::High),
            _ => None,
        }
    }
}

/// An IPv4 or IPv6 network (`10.0.0.0/8`, `2001:db8::/32`, or one address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// Parses `ADDR` or `ADDR/PREFIX`.
    pub fn parse(s: &str) -> Option<Net> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().ok().filter(|&p| p <= max)?,
            None => max,
        };
        Some(Net { addr, prefix })
    }

    /// Whether `ip` is in the network (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// A case-insensitive pattern where `*` matches any run of characters (`*$`, `CORP\\svc_*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    /// A pattern (compared case-insensitively).
    pub fn new(p: &str) -> Pattern {
        Pattern(p.to_lowercase())
    }

    /// Whether `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        glob(self.0.as_bytes(), s.to_lowercase().as_bytes())
    }
}

/// `*` globbing without recursion blow-up (the classic two-pointer walk).
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(c) if Some(c) == s.get(si) => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).unwrap_or_default().iter().all(|&c| c == b'*')
}

/// The kind of event a step matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Call,
    Bind,
    EpmLookup,
    EpmMap,
    DcomActivation,
    DcomResolver,
    ExploitShape,
    Auth,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "call" => Kind::Call,
            "bind" => Kind::Bind,
            "epm_lookup" => Kind::EpmLookup,
            "epm_map" => Kind::EpmMap,
            "dcom_activation" => Kind::DcomActivation,
            "dcom_resolver" => Kind::DcomResolver,
            "exploit_shape" => Kind::ExploitShape,
            "auth" => Kind::Auth,
            _ => return None,
        })
    }

    fn of(k: &EventKind) -> Option<Kind> {
        Some(match k {
            EventKind::Call { .. } => Kind::Call,
            EventKind::Bind { .. } => Kind::Bind,
            EventKind::EpmLookup { .. } => Kind::EpmLookup,
            EventKind::EpmMap { .. } => Kind::EpmMap,
            EventKind::DcomActivation { .. } => Kind::DcomActivation,
            EventKind::DcomResolver { .. } => Kind::DcomResolver,
            EventKind::ExploitShape { .. } => Kind::ExploitShape,
            EventKind::Auth { .. } => Kind::Auth,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Pipe,
    Tcp,
    Udp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Any,
    Success,
    Failure,
}

/// One test on an argument's value.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ArgTest {
    /// Equal (case-insensitively) to one of these.
    Is(Vec<String>),
    /// Starts with one of these (case-insensitively).
    Prefix(Vec<String>),
    /// Contains one of these (case-insensitively).
    Contains(Vec<String>),
    /// A UNC path (`\\host\...`, `//host/...`, `\??\UNC\host\...`), or (false) not one.
    Unc(bool),
    /// Hex digits that are all zero, or (false) not.
    Zero(bool),
    /// The argument is present, or (false) absent.
    Present(bool),
    /// The host it names is not the caller (`not-caller`) / not the target (`not-target`).
    HostNot(Side),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Caller,
    Target,
}

/// What one event must be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Step {
    kind: Option<Kind>,
    interfaces: Vec<String>,
    version: Option<String>,
    opnums: Vec<u16>,
    operations: Vec<String>,
    transport: Option<Transport>,
    pipes: Vec<String>,
    level_min: Option<u8>,
    level_max: Option<u8>,
    users: Vec<Pattern>,
    anonymous: Option<bool>,
    caller_role: Option<String>,
    caller_not_role: Option<String>,
    target_role: Option<String>,
    target_not_role: Option<String>,
    outcome: Option<Outcome>,
    args: Vec<(String, Vec<ArgTest>)>,
    /// The step also needs one of these to match (each with its own kind and interfaces).
    any_of: Vec<Step>,
}

/// How matching events are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Per {
    Source,
    Target,
    SourceTarget,
    /// A sequence whose first step is keyed by its target, later steps by their source.
    Callback,
}

impl Per {
    fn as_str(self) -> &'static str {
        match self {
            Per::Source => "source",
            Per::Target => "target",
            Per::SourceTarget => "source,target",
            Per::Callback => "callback",
        }
    }
}

/// What an aggregate counts as distinct.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Distinct {
    Target,
    TargetPort,
    Interface,
    Opnum,
    User,
    Arg(String),
}

impl Distinct {
    fn text(&self) -> String {
        match self {
            Distinct::Target => "target".into(),
            Distinct::TargetPort => "target-port".into(),
            Distinct::Interface => "interface".into(),
            Distinct::Opnum => "opnum".into(),
            Distinct::User => "user".into(),
            Distinct::Arg(a) => format!("arg:{a}"),
        }
    }
}

/// One rule of the library.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Unique id (`[a-z0-9_]+`): the alert's `detector`.
    pub id: String,
    /// The technique (row of the facts table) it detects.
    pub technique: String,
    /// ATT&CK technique id.
    pub attack: Option<String>,
    /// Alert severity.
    pub severity: Level,
    /// How sure a firing is.
    pub confidence: Level,
    /// One line: what fired.
    pub summary: String,
    /// What would make it benign.
    pub benign: String,
    /// Disabled rules never fire.
    pub enabled: bool,
    /// Matching events (or distinct items) that make an alert.
    pub count: u32,
    /// Window, seconds.
    pub within: f64,
    steps: Vec<Step>,
    distinct: Option<Distinct>,
    per: Per,
    allow_sources: Vec<Net>,
    allow_users: Vec<Pattern>,
}

impl Rule {
    /// A sentence saying what fires the rule, for the documentation.
    pub fn describe(&self) -> String {
        let steps: Vec<String> = self.steps.iter().map(describe_step).collect();
        let mut s = if steps.len() > 1 {
            format!(
                "{} within {} s by the same {}",
                steps.join(", then "),
                self.within,
                if self.per == Per::Callback {
                    "target, then from that target"
                } else {
                    self.per.as_str()
                }
            )
        } else {
            steps.join("")
        };
        if steps.len() == 1 && (self.count > 1 || self.distinct.is_some()) {
            let what = match &self.distinct {
                Some(d) => format!("{} distinct {}", self.count, d.text()),
                None => format!("{} such events", self.count),
            };
            s = format!(
                "{s}: {what} within {} s per {}",
                self.within,
                self.per.as_str()
            );
        }
        s
    }
}

fn describe_step(st: &Step) -> String {
    if !st.any_of.is_empty() {
        let alts: Vec<String> = st.any_of.iter().map(describe_step).collect();
        let mut main = st.clone();
        main.any_of.clear();
        let rest = describe_step(&main);
        // Without its kind word: the alternatives say what they are.
        let rest = rest.split_once(' ').map_or("", |(_, r)| r);
        return if rest.is_empty() {
            format!("({})", alts.join(" | "))
        } else {
            format!("({}) {rest}", alts.join(" | "))
        };
    }
    let mut parts = vec![match st.kind.unwrap_or(Kind::Call) {
        Kind::Call => "call".to_string(),
        Kind::Bind => "bind".to_string(),
        Kind::EpmLookup => "epm_lookup".to_string(),
        Kind::EpmMap => "epm_map".to_string(),
        Kind::DcomActivation => "dcom_activation".to_string(),
        Kind::DcomResolver => "dcom_resolver".to_string(),
        Kind::ExploitShape => "exploit_shape".to_string(),
        Kind::Auth => "auth".to_string(),
    }];
    if !st.interfaces.is_empty() {
        let names: Vec<String> = st
            .interfaces
            .iter()
            .map(|i| {
                i.parse::<msrpc_ndr::Uuid>()
                    .ok()
                    .and_then(|u| crate::names::interface_name(&u))
                    .map_or_else(|| i.clone(), str::to_string)
            })
            .collect();
        parts.push(format!("on {}", names.join("/")));
    }
    if !st.opnums.is_empty() {
        let o: Vec<String> = st.opnums.iter().map(u16::to_string).collect();
        parts.push(format!("opnum {}", o.join("/")));
    }
    if !st.operations.is_empty() {
        parts.push(st.operations.join("/"));
    }
    if let Some(p) = st.transport {
        parts.push(match p {
            Transport::Pipe => "over a named pipe".into(),
            Transport::Tcp => "over TCP".into(),
            Transport::Udp => "over UDP (connectionless)".into(),
        });
    }
    if !st.pipes.is_empty() {
        parts.push(format!("on pipe {}", st.pipes.join("/")));
    }
    if let Some(a) = st.anonymous {
        parts.push(if a { "anonymous" } else { "authenticated" }.into());
    }
    if !st.users.is_empty() {
        let u: Vec<&str> = st.users.iter().map(|p| p.0.as_str()).collect();
        parts.push(format!("user {}", u.join("/")));
    }
    for (k, v) in [
        ("caller in", &st.caller_role),
        ("caller not in", &st.caller_not_role),
        ("target in", &st.target_role),
        ("target not in", &st.target_not_role),
    ] {
        if let Some(r) = v {
            parts.push(format!("{k} role {r}"));
        }
    }
    match st.outcome {
        Some(Outcome::Success) => parts.push("succeeding".into()),
        Some(Outcome::Failure) => parts.push("failing".into()),
        _ => {}
    }
    for (name, tests) in &st.args {
        for t in tests {
            parts.push(match t {
                ArgTest::Is(v) => format!("{name} is {}", v.join("/")),
                ArgTest::Prefix(v) => format!("{name} starts with {}", v.join("/")),
                ArgTest::Contains(v) => format!("{name} contains {}", v.join("/")),
                ArgTest::Unc(true) => format!("{name} is a UNC path"),
                ArgTest::Unc(false) => format!("{name} is not a UNC path"),
                ArgTest::Zero(true) => format!("{name} all zero"),
                ArgTest::Zero(false) => format!("{name} not zero"),
                ArgTest::Present(true) => format!("{name} present"),
                ArgTest::Present(false) => format!("{name} absent"),
                ArgTest::HostNot(Side::Caller) => {
                    format!("{name} names a host other than the caller")
                }
                ArgTest::HostNot(Side::Target) => {
                    format!("{name} names a host other than the target")
                }
            });
        }
    }
    parts.join(" ")
}

/// Patches a user file applies to a rule (`[[override]]`).
#[derive(Clone, Debug, Default, PartialEq)]
struct Override {
    enabled: Option<bool>,
    severity: Option<Level>,
    confidence: Option<Level>,
    count: Option<u32>,
    within: Option<f64>,
    allow_sources: Option<Vec<Net>>,
    allow_users: Option<Vec<Pattern>>,
}

/// The rules, the roles (named address sets) and the allow-lists.
#[derive(Clone, Debug, PartialEq)]
pub struct Library {
    rules: Vec<Rule>,
    roles: BTreeMap<String, Vec<Net>>,
    allow_sources: Vec<Net>,
    allow_users: Vec<Pattern>,
}

impl Default for Library {
    /// The built-in library.
    fn default() -> Self {
        Library::builtin()
    }
}

impl Library {
    /// The rules shipped with msrpc ([`BUILTIN`]).
    pub fn builtin() -> Library {
        match Library::parse(BUILTIN, "builtin") {
            Ok(l) => l,
            // A test loads the embedded file: it cannot fail in a release.
            Err(e) => panic!("the embedded technique rules do not load: {e}"),
        }
    }

    /// A library with no rule.
    pub fn empty() -> Library {
        Library {
            rules: Vec::new(),
            roles: BTreeMap::new(),
            allow_sources: Vec::new(),
            allow_users: Vec::new(),
        }
    }

    /// Parses a complete rules file (`origin` names it in errors).
    pub fn parse(text: &str, origin: &str) -> Result<Library, RuleError> {
        let mut l = Library::empty();
        l.extend(text, origin)?;
        Ok(l)
    }

    /// The built-in library extended by a user's file ([`Library::extend`]).
    pub fn with_file(text: &str, origin: &str) -> Result<Library, RuleError> {
        let mut l = Library::builtin();
        l.extend(text, origin)?;
        Ok(l)
    }

    /// Applies a rules file on top of this library: `[roles]` add addresses to roles,
    /// a `[[rule]]` with a new id is added and one with an existing id replaces it, an
    /// `[[override]]` patches an existing rule (`enabled`, `severity`, `confidence`, `count`,
    /// `within`, `allow-sources`, `allow-users`). The library is unchanged on error.
    pub fn extend(&mut self, text: &str, origin: &str) -> Result<(), RuleError> {
        let err = |rule: Option<String>, key: Option<&str>, message: String| RuleError {
            origin: origin.to_string(),
            rule,
            key: key.map(str::to_string),
            message,
        };
        let table: toml::Table =
            toml::from_str(text).map_err(|e| err(None, None, e.to_string()))?;
        let mut next = self.clone();
        match table.get("version") {
            Some(toml::Value::Integer(SCHEMA_VERSION)) => {}
            Some(v) => {
                return Err(err(
                    None,
                    Some("version"),
                    format!("schema version {v} is not supported (this msrpc reads version {SCHEMA_VERSION})"),
                ))
            }
            None => {
                return Err(err(
                    None,
                    Some("version"),
                    format!("missing (write `version = {SCHEMA_VERSION}` first)"),
                ))
            }
        }
        for (k, v) in &table {
            match k.as_str() {
                "version" => {}
                "roles" => {
                    let t = v.as_table().ok_or_else(|| {
                        err(
                            None,
                            Some("roles"),
                            "expected a table of role = [addresses]".into(),
                        )
                    })?;
                    for (role, nets) in t {
                        check_name(role)
                            .map_err(|m| err(None, Some(&format!("roles.{role}")), m))?;
                        let nets = nets_of(nets)
                            .map_err(|m| err(None, Some(&format!("roles.{role}")), m))?;
                        next.roles.entry(role.clone()).or_default().extend(nets);
                    }
                }
                "rule" => {
                    let arr = v.as_array().ok_or_else(|| {
                        err(None, Some("rule"), "expected [[rule]] tables".into())
                    })?;
                    for (i, r) in arr.iter().enumerate() {
                        let t = r.as_table().ok_or_else(|| {
                            err(Some(format!("#{}", i + 1)), None, "expected a table".into())
                        })?;
                        let rule = parse_rule(t, i)
                            .map_err(|(rule, key, m)| err(Some(rule), Some(&key), m))?;
                        match next.rules.iter_mut().find(|x| x.id == rule.id) {
                            Some(old) => *old = rule,
                            None => next.rules.push(rule),
                        }
                    }
                }
                "override" => {
                    let arr = v.as_array().ok_or_else(|| {
                        err(
                            None,
                            Some("override"),
                            "expected [[override]] tables".into(),
                        )
                    })?;
                    for (i, o) in arr.iter().enumerate() {
                        let t = o.as_table().ok_or_else(|| {
                            err(
                                Some(format!("override #{}", i + 1)),
                                None,
                                "expected a table".into(),
                            )
                        })?;
                        let (id, ov) = parse_override(t, i)
                            .map_err(|(rule, key, m)| err(Some(rule), Some(&key), m))?;
                        let rule = next.rules.iter_mut().find(|x| x.id == id).ok_or_else(|| {
                            err(Some(id.clone()), Some("id"), "no rule has this id".into())
                        })?;
                        apply(rule, &ov);
                    }
                }
                other => {
                    return Err(err(
                        None,
                        Some(other),
                        "unknown key (expected version, roles, rule, override)".into(),
                    ))
                }
            }
        }
        // Every role a rule names must be declared somewhere.
        for r in &next.rules {
            for st in &r.steps {
                for (key, role) in [
                    ("caller-role", &st.caller_role),
                    ("caller-not-role", &st.caller_not_role),
                    ("target-role", &st.target_role),
                    ("target-not-role", &st.target_not_role),
                ] {
                    if let Some(role) = role {
                        if !next.roles.contains_key(role) {
                            return Err(err(
                                Some(r.id.clone()),
                                Some(key),
                                format!("role {role:?} is not declared in [roles]"),
                            ));
                        }
                    }
                }
            }
        }
        *self = next;
        Ok(())
    }

    /// Adds library-wide allow-lists (msrpcd's `[detection] allow-sources` and `allow-users`):
    /// events from these sources or users fire no rule.
    pub fn allow(&mut self, sources: &[Net], users: &[Pattern]) {
        self.allow_sources.extend_from_slice(sources);
        self.allow_users.extend_from_slice(users);
    }

    /// Adds addresses to a role.
    pub fn add_role(&mut self, role: &str, nets: &[Net]) {
        self.roles
            .entry(role.to_string())
            .or_default()
            .extend_from_slice(nets);
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule `id`.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Changes a rule's threshold and window (`None` keeps them), for the detector settings
    /// that predate the library.
    pub fn tune(
        &mut self,
        id: &str,
        count: Option<u32>,
        within: Option<f64>,
        enabled: Option<bool>,
    ) {
        if let Some(r) = self.rules.iter_mut().find(|r| r.id == id) {
            apply(
                r,
                &Override {
                    enabled,
                    count: count.map(|c| c.clamp(1, MAX_COUNT)),
                    within,
                    ..Override::default()
                },
            );
        }
    }
}

impl Library {
    /// The rules as a Markdown table (id, technique, ATT&CK, severity and confidence, what
    /// fires, what is benign): the table `docs/detection.md` carries, which a test keeps equal
    /// to this.
    pub fn to_markdown(&self) -> String {
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let mut out = String::from(
            "| rule | technique | ATT&CK | severity / confidence | fires on | benign when |\n|---|---|---|---|---|---|\n",
        );
        for r in &self.rules {
            out.push_str(&format!(
                "| `{}` | `{}` | {} | {} / {} | {}. {}{} | {} |\n",
                r.id,
                r.technique,
                r.attack.as_deref().unwrap_or("-"),
                r.severity.as_str(),
                r.confidence.as_str(),
                cell(&r.summary),
                cell(&r.describe()),
                if r.allow_sources.is_empty() && r.allow_users.is_empty() {
                    ""
                } else {
                    " (with allow-lists)"
                },
                cell(&r.benign),
            ));
        }
        out
    }
}

fn apply(rule: &mut Rule, ov: &Override) {
    if let Some(e) = ov.enabled {
        rule.enabled = e;
    }
    if let Some(s) = ov.severity {
        rule.severity = s;
    }
    if let Some(c) = ov.confidence {
        rule.confidence = c;
    }
    if let Some(c) = ov.count {
        rule.count = c;
    }
    if let Some(w) = ov.within {
        rule.within = w;
    }
    if let Some(a) = &ov.allow_sources {
        rule.allow_sources.clone_from(a);
    }
    if let Some(a) = &ov.allow_users {
        rule.allow_users.clone_from(a);
    }
}

fn check_name(s: &str) -> Result<(), String> {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        Ok(())
    } else {
        Err(format!("{s:?} must be lower-case letters, digits and _"))
    }
}

/// (rule, key, message)
type Bad = (String, String, String);

fn str_of(v: &toml::Value) -> Result<String, String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| "expected a string".to_string())
}

fn strs_of(v: &toml::Value) -> Result<Vec<String>, String> {
    match v {
        toml::Value::String(s) => Ok(vec![s.clone()]),
        toml::Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "expected a string or a list of strings".to_string())
            })
            .collect(),
        _ => Err("expected a string or a list of strings".into()),
    }
}

fn nets_of(v: &toml::Value) -> Result<Vec<Net>, String> {
    strs_of(v)?
        .iter()
        .map(|s| Net::parse(s).ok_or_else(|| format!("{s:?} is not an address or ADDRESS/PREFIX")))
        .collect()
}

fn level_of(v: &toml::Value) -> Result<Level, String> {
    let s = str_of(v)?;
    Level::parse(&s).ok_or_else(|| format!("{s:?}: expected low, medium or high"))
}

fn secs_of(v: &toml::Value) -> Result<f64, String> {
    let s = match v {
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(f) => *f,
        _ => return Err("expected a number of seconds".into()),
    };
    if s.is_finite() && s > 0.0 && s <= 86_400.0 * 30.0 {
        Ok(s)
    } else {
        Err("expected seconds between 0 (excluded) and 30 days".into())
    }
}

fn count_of(v: &toml::Value) -> Result<u32, String> {
    match v.as_integer() {
        Some(n) if (1..=i64::from(MAX_COUNT)).contains(&n) => Ok(n as u32),
        _ => Err(format!("expected an integer from 1 to {MAX_COUNT}")),
    }
}

fn bool_of(v: &toml::Value) -> Result<bool, String> {
    v.as_bool().ok_or_else(|| "expected true or false".into())
}

/// `none`, `connect`, `call`, `packet` (`pkt`), `integrity` (`pkt_integrity`), `privacy`
/// (`pkt_privacy`) as 1..6.
fn level_number(s: &str) -> Option<u8> {
    Some(match s.to_ascii_lowercase().as_str() {
        "none" => 1,
        "connect" => 2,
        "call" => 3,
        "packet" | "pkt" => 4,
        "integrity" | "pkt_integrity" => 5,
        "privacy" | "pkt_privacy" => 6,
        _ => return None,
    })
}

const STEP_KEYS: &[&str] = &[
    "event",
    "interface",
    "version",
    "opnums",
    "operations",
    "transport",
    "pipes",
    "auth-level-min",
    "auth-level-max",
    "users",
    "anonymous",
    "caller-role",
    "caller-not-role",
    "target-role",
    "target-not-role",
    "outcome",
    "args",
    "any-of",
];

const RULE_KEYS: &[&str] = &[
    "id",
    "technique",
    "attack",
    "severity",
    "confidence",
    "summary",
    "benign",
    "enabled",
    "count",
    "distinct",
    "within",
    "per",
    "then",
    "allow-sources",
    "allow-users",
];

/// Parses a step's keys from `t` (other keys are the caller's business).
fn parse_step(t: &toml::Table) -> Result<Step, (String, String)> {
    let mut st = Step::default();
    for (k, v) in t {
        let bad = |m: String| (k.clone(), m);
        match k.as_str() {
            "event" => {
                let s = str_of(v).map_err(bad)?;
                st.kind = Some(Kind::parse(&s).ok_or_else(|| {
                    bad(format!("{s:?}: expected call, bind, epm_lookup, epm_map, dcom_activation, dcom_resolver, exploit_shape or auth"))
                })?);
            }
            "interface" => {
                for s in strs_of(v).map_err(bad)? {
                    let u: msrpc_ndr::Uuid =
                        s.parse().map_err(|_| bad(format!("{s:?} is not a UUID")))?;
                    st.interfaces.push(u.to_string());
                }
            }
            "version" => {
                let s = str_of(v).map_err(bad)?;
                let ok = s
                    .split_once('.')
                    .is_some_and(|(a, b)| a.parse::<u16>().is_ok() && b.parse::<u16>().is_ok());
                if !ok {
                    return Err(bad(format!("{s:?}: expected MAJOR.MINOR")));
                }
                st.version = Some(s);
            }
            "opnums" => {
                let a = v
                    .as_array()
                    .ok_or_else(|| bad("expected a list of opnums".into()))?;
                for x in a {
                    let n = x
                        .as_integer()
                        .and_then(|n| u16::try_from(n).ok())
                        .ok_or_else(|| bad("expected integers from 0 to 65535".into()))?;
                    st.opnums.push(n);
                }
            }
            "operations" => {
                st.operations = strs_of(v).map_err(bad)?;
            }
            "transport" => {
                st.transport = Some(match str_of(v).map_err(bad)?.as_str() {
                    "pipe" => Transport::Pipe,
                    "tcp" => Transport::Tcp,
                    "udp" => Transport::Udp,
                    s => return Err(bad(format!("{s:?}: expected pipe, tcp or udp"))),
                });
            }
            "pipes" => {
                st.pipes = strs_of(v)
                    .map_err(bad)?
                    .iter()
                    .map(|p| pipe_name(p))
                    .collect();
            }
            "auth-level-min" | "auth-level-max" => {
                let s = str_of(v).map_err(bad)?;
                let n = level_number(&s).ok_or_else(|| {
                    bad(format!(
                        "{s:?}: expected none, connect, call, packet, integrity or privacy"
                    ))
                })?;
                if k == "auth-level-min" {
                    st.level_min = Some(n);
                } else {
                    st.level_max = Some(n);
                }
            }
            "users" => {
                st.users = strs_of(v)
                    .map_err(bad)?
                    .iter()
                    .map(|p| Pattern::new(p))
                    .collect();
            }
            "anonymous" => st.anonymous = Some(bool_of(v).map_err(bad)?),
            "caller-role" | "caller-not-role" | "target-role" | "target-not-role" => {
                let s = str_of(v).map_err(bad)?;
                check_name(&s).map_err(bad)?;
                match k.as_str() {
                    "caller-role" => st.caller_role = Some(s),
                    "caller-not-role" => st.caller_not_role = Some(s),
                    "target-role" => st.target_role = Some(s),
                    _ => st.target_not_role = Some(s),
                }
            }
            "outcome" => {
                st.outcome = Some(match str_of(v).map_err(bad)?.as_str() {
                    "any" => Outcome::Any,
                    "success" => Outcome::Success,
                    "failure" => Outcome::Failure,
                    s => return Err(bad(format!("{s:?}: expected any, success or failure"))),
                });
            }
            "any-of" => {
                let arr = v
                    .as_array()
                    .ok_or_else(|| bad("expected a list of step tables".into()))?;
                for (i, a) in arr.iter().enumerate() {
                    let key = format!("any-of[{i}]");
                    let t = a
                        .as_table()
                        .ok_or_else(|| (key.clone(), "expected a step table".to_string()))?;
                    for sk in t.keys() {
                        if !STEP_KEYS.contains(&sk.as_str()) || sk == "any-of" {
                            return Err((format!("{key}.{sk}"), "unknown step key".into()));
                        }
                    }
                    let alt = parse_step(t).map_err(|(sk, m)| (format!("{key}.{sk}"), m))?;
                    st.any_of.push(alt);
                }
            }
            "args" => {
                let t = v
                    .as_table()
                    .ok_or_else(|| bad("expected a table of NAME = { test = ... }".into()))?;
                for (name, tests) in t {
                    let key = format!("args.{name}");
                    let tt = tests.as_table().ok_or_else(|| {
                        (key.clone(), "expected a table of tests (is, prefix, contains, unc, zero, present, host)".into())
                    })?;
                    let mut list = Vec::new();
                    for (tk, tv) in tt {
                        let key = format!("args.{name}.{tk}");
                        let e = |m: String| (key.clone(), m);
                        let lower = |v: &toml::Value| -> Result<Vec<String>, (String, String)> {
                            Ok(strs_of(v)
                                .map_err(e)?
                                .iter()
                                .map(|s| s.to_lowercase())
                                .collect())
                        };
                        list.push(match tk.as_str() {
                            "is" => ArgTest::Is(lower(tv)?),
                            "prefix" => ArgTest::Prefix(lower(tv)?),
                            "contains" => ArgTest::Contains(lower(tv)?),
                            "unc" => ArgTest::Unc(bool_of(tv).map_err(e)?),
                            "zero" => ArgTest::Zero(bool_of(tv).map_err(e)?),
                            "present" => ArgTest::Present(bool_of(tv).map_err(e)?),
                            "host" => match str_of(tv).map_err(e)?.as_str() {
                                "not-caller" => ArgTest::HostNot(Side::Caller),
                                "not-target" => ArgTest::HostNot(Side::Target),
                                s => return Err(e(format!("{s:?}: expected not-caller or not-target"))),
                            },
                            _ => {
                                return Err(e(
                                    "unknown test (expected is, prefix, contains, unc, zero, present, host)".into(),
                                ))
                            }
                        });
                    }
                    st.args.push((name.clone(), list));
                }
            }
            _ => {}
        }
    }
    // Kinds made explicit: each alternative's own (else the step's, else call); a step with
    // alternatives leaves the kind to them.
    let main = st.kind;
    for a in &mut st.any_of {
        a.kind = Some(a.kind.or(main).unwrap_or(Kind::Call));
    }
    st.kind = if st.any_of.is_empty() {
        Some(main.unwrap_or(Kind::Call))
    } else {
        None
    };
    Ok(st)
}

fn parse_rule(t: &toml::Table, index: usize) -> Result<Rule, Bad> {
    let name = t
        .get("id")
        .and_then(toml::Value::as_str)
        .map_or_else(|| format!("#{}", index + 1), str::to_string);
    let bad = |k: &str, m: String| (name.clone(), k.to_string(), m);
    for k in t.keys() {
        if !RULE_KEYS.contains(&k.as_str()) && !STEP_KEYS.contains(&k.as_str()) {
            return Err(bad(k, "unknown key".into()));
        }
    }
    let req = |k: &str| -> Result<String, Bad> {
        match t.get(k) {
            Some(v) => str_of(v).map_err(|m| bad(k, m)),
            None => Err(bad(k, "missing".into())),
        }
    };
    let id = req("id")?;
    check_name(&id).map_err(|m| bad("id", m))?;
    let technique = req("technique")?;
    check_name(&technique).map_err(|m| bad("technique", m))?;
    let attack = match t.get("attack") {
        Some(v) => {
            let a = str_of(v).map_err(|m| bad("attack", m))?;
            let ok = a.len() >= 5
                && a.starts_with('T')
                && a.get(1..)
                    .is_some_and(|r| r.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
            if !ok {
                return Err(bad(
                    "attack",
                    format!("{a:?}: expected an ATT&CK id like T1210 or T1569.002"),
                ));
            }
            Some(a)
        }
        None => None,
    };
    let level = |k: &str| -> Result<Level, Bad> {
        match t.get(k) {
            Some(v) => level_of(v).map_err(|m| bad(k, m)),
            None => Err(bad(k, "missing".into())),
        }
    };
    let severity = level("severity")?;
    let confidence = level("confidence")?;
    let summary = req("summary")?;
    let benign = req("benign")?;
    if benign.trim().is_empty() {
        return Err(bad(
            "benign",
            "must say what would make the alert benign".into(),
        ));
    }
    let enabled = match t.get("enabled") {
        Some(v) => bool_of(v).map_err(|m| bad("enabled", m))?,
        None => true,
    };
    let count = match t.get("count") {
        Some(v) => count_of(v).map_err(|m| bad("count", m))?,
        None => 1,
    };
    let within = match t.get("within") {
        Some(v) => secs_of(v).map_err(|m| bad("within", m))?,
        None => 300.0,
    };
    let per = match t.get("per") {
        Some(v) => match str_of(v).map_err(|m| bad("per", m))?.as_str() {
            "source" => Per::Source,
            "target" => Per::Target,
            "source,target" => Per::SourceTarget,
            "callback" => Per::Callback,
            s => {
                return Err(bad(
                    "per",
                    format!("{s:?}: expected source, target, source,target or callback"),
                ))
            }
        },
        None => Per::SourceTarget,
    };
    let distinct = match t.get("distinct") {
        Some(v) => {
            let s = str_of(v).map_err(|m| bad("distinct", m))?;
            Some(match s.as_str() {
                "target" => Distinct::Target,
                "target-port" => Distinct::TargetPort,
                "interface" => Distinct::Interface,
                "opnum" => Distinct::Opnum,
                "user" => Distinct::User,
                a => match a.strip_prefix("arg:") {
                    Some(n) if !n.is_empty() => Distinct::Arg(n.to_string()),
                    _ => {
                        return Err(bad(
                            "distinct",
                            format!("{s:?}: expected target, target-port, interface, opnum, user or arg:NAME"),
                        ))
                    }
                },
            })
        }
        None => None,
    };
    let allow_sources = match t.get("allow-sources") {
        Some(v) => nets_of(v).map_err(|m| bad("allow-sources", m))?,
        None => Vec::new(),
    };
    let allow_users = match t.get("allow-users") {
        Some(v) => strs_of(v)
            .map_err(|m| bad("allow-users", m))?
            .iter()
            .map(|p| Pattern::new(p))
            .collect(),
        None => Vec::new(),
    };
    let first = parse_step(t).map_err(|(k, m)| bad(&k, m))?;
    let mut steps = vec![first];
    if let Some(v) = t.get("then") {
        let arr = v
            .as_array()
            .ok_or_else(|| bad("then", "expected a list of step tables".into()))?;
        for (i, s) in arr.iter().enumerate() {
            let key = format!("then[{i}]");
            let st = s
                .as_table()
                .ok_or_else(|| bad(&key, "expected a step table".into()))?;
            for k in st.keys() {
                if !STEP_KEYS.contains(&k.as_str()) {
                    return Err(bad(&format!("{key}.{k}"), "unknown step key".into()));
                }
            }
            steps.push(parse_step(st).map_err(|(k, m)| bad(&format!("{key}.{k}"), m))?);
        }
    }
    if steps.len() > 1 && (count > 1 || distinct.is_some()) {
        return Err(bad(
            "then",
            "a sequence cannot also have count or distinct".into(),
        ));
    }
    if per == Per::Callback && steps.len() < 2 {
        return Err(bad("per", "callback needs a sequence (then)".into()));
    }
    if distinct.is_some() && count < 2 {
        return Err(bad("count", "distinct needs a count of at least 2".into()));
    }
    for st in &steps {
        let alts: Vec<&Step> = if st.any_of.is_empty() {
            vec![st]
        } else {
            st.any_of.iter().collect()
        };
        for a in alts {
            let kind = a.kind.unwrap_or(Kind::Call);
            if !(a.opnums.is_empty() && st.opnums.is_empty()) && kind != Kind::Call {
                return Err(bad("opnums", "only call events have opnums".into()));
            }
            if a.version.is_some() && a.interfaces.is_empty() && st.interfaces.is_empty() {
                return Err(bad("version", "needs an interface".into()));
            }
        }
    }
    Ok(Rule {
        id,
        technique,
        attack,
        severity,
        confidence,
        summary,
        benign,
        enabled,
        count,
        within,
        steps,
        distinct,
        per,
        allow_sources,
        allow_users,
    })
}

fn parse_override(t: &toml::Table, index: usize) -> Result<(String, Override), Bad> {
    let name = t
        .get("id")
        .and_then(toml::Value::as_str)
        .map_or_else(|| format!("override #{}", index + 1), str::to_string);
    let bad = |k: &str, m: String| (name.clone(), k.to_string(), m);
    let mut ov = Override::default();
    let mut id = None;
    for (k, v) in t {
        match k.as_str() {
            "id" => id = Some(str_of(v).map_err(|m| bad("id", m))?),
            "enabled" => ov.enabled = Some(bool_of(v).map_err(|m| bad(k, m))?),
            "severity" => ov.severity = Some(level_of(v).map_err(|m| bad(k, m))?),
            "confidence" => ov.confidence = Some(level_of(v).map_err(|m| bad(k, m))?),
            "count" => ov.count = Some(count_of(v).map_err(|m| bad(k, m))?),
            "within" => ov.within = Some(secs_of(v).map_err(|m| bad(k, m))?),
            "allow-sources" => ov.allow_sources = Some(nets_of(v).map_err(|m| bad(k, m))?),
            "allow-users" => {
                ov.allow_users = Some(
                    strs_of(v)
                        .map_err(|m| bad(k, m))?
                        .iter()
                        .map(|p| Pattern::new(p))
                        .collect(),
                )
            }
            _ => {
                return Err(bad(
                    k,
                    "unknown key (an override takes id, enabled, severity, confidence, count, within, allow-sources, allow-users)".into(),
                ))
            }
        }
    }
    let id = id.ok_or_else(|| bad("id", "missing".into()))?;
    Ok((id, ov))
}

/// `\pipe\spoolss`, `\PIPE\spoolss`, `spoolss` -> `spoolss`.
fn pipe_name(p: &str) -> String {
    let p = p.trim_start_matches(['\\', '/']);
    let lower = p.to_ascii_lowercase();
    match lower
        .strip_prefix("pipe\\")
        .or_else(|| lower.strip_prefix("pipe/"))
    {
        Some(rest) => rest.to_string(),
        None => lower,
    }
}

/// What the engine remembers of a connection (from its binds).
#[derive(Debug, Default)]
struct ConnInfo {
    /// Accepted interfaces and their versions (at most 16).
    contexts: Vec<(String, String)>,
    /// A bind or an authentication leg carried credentials.
    authenticated: bool,
    /// The level of the last bind that carried a verifier.
    bind_level: Option<u8>,
    seq: u64,
}

/// One rule's state for one key.
#[derive(Debug, Default)]
struct KeyState {
    first: f64,
    last: f64,
    quiet_until: f64,
    times: VecDeque<f64>,
    distinct: HashMap<String, f64>,
    /// Sequence: steps reached and the time of the first.
    reached: usize,
    started: f64,
    uids: VecDeque<String>,
    calls: Vec<Value>,
}

impl KeyState {
    fn note(&mut self, ev: &Event, call: Value) {
        let uid = ev.conn.uid.as_str();
        if self.uids.back().map(String::as_str) != Some(uid) {
            self.uids.push_back(uid.to_string());
            if self.uids.len() > EVIDENCE_UIDS {
                self.uids.pop_front();
            }
        }
        if self.calls.len() < EVIDENCE_CALLS {
            self.calls.push(call);
        } else if let Some(l) = self.calls.last_mut() {
            *l = call;
        }
    }

    fn reset(&mut self) {
        self.times.clear();
        self.distinct.clear();
        self.uids.clear();
        self.calls.clear();
        self.reached = 0;
    }
}

/// A rule's keys (at most `cap`, the least recently seen evicted first).
#[derive(Debug, Default)]
struct Table {
    map: HashMap<String, KeyState>,
}

/// The engine: a [`Library`] and its state (per rule and key, per connection, learned host
/// names and domain controllers). Feed events in time order with [`Techniques::observe`].
#[derive(Debug)]
pub struct Techniques {
    lib: Library,
    tables: Vec<Table>,
    /// kind -> interface -> (rule, step) to try; steps without an interface under "".
    index: FxHashMap<Kind, FxHashMap<String, Vec<(usize, usize)>>>,
    conns: HashMap<String, ConnInfo>,
    conn_seq: u64,
    names: HashMap<IpAddr, Vec<String>>,
    dcs: HashMap<IpAddr, f64>,
    max_keys: usize,
    keys: usize,
    /// Candidate (rule, step) pairs of the event being observed (a buffer kept across events).
    cands: Vec<(usize, usize)>,
}

/// The interfaces of the EPM and DCOM events, as the index keys them.
const EPM_UUID: &str = "e1af8308-5d1f-11c9-91a4-08002b14a0fa";
const ISYSTEM_ACTIVATOR_UUID: &str = "000001a0-0000-0000-c000-000000000046";
const IREMOTE_ACTIVATION_UUID: &str = "4d9f4ab8-7d1c-11cf-861e-0020af6e7c57";
const IOBJECT_EXPORTER_UUID: &str = "99fcfec4-5260-101b-bbcb-00aa0021347a";

impl Techniques {
    /// An engine over `lib`, each rule tracking at most `max_keys` keys.
    pub fn new(lib: Library, max_keys: usize) -> Techniques {
        let mut index: FxHashMap<Kind, FxHashMap<String, Vec<(usize, usize)>>> =
            FxHashMap::default();
        for (ri, r) in lib.rules.iter().enumerate() {
            for (si, st) in r.steps.iter().enumerate() {
                let alts: Vec<&Step> = if st.any_of.is_empty() {
                    vec![st]
                } else {
                    st.any_of.iter().collect()
                };
                for a in alts {
                    let kind = a.kind.unwrap_or(Kind::Call);
                    let ifaces = if a.interfaces.is_empty() {
                        &st.interfaces
                    } else {
                        &a.interfaces
                    };
                    let by_iface = index.entry(kind).or_default();
                    if ifaces.is_empty() {
                        let e = by_iface.entry(String::new()).or_default();
                        if !e.contains(&(ri, si)) {
                            e.push((ri, si));
                        }
                    }
                    for i in ifaces {
                        let e = by_iface.entry(i.clone()).or_default();
                        if !e.contains(&(ri, si)) {
                            e.push((ri, si));
                        }
                    }
                }
            }
        }
        Techniques {
            tables: lib.rules.iter().map(|_| Table::default()).collect(),
            lib,
            index,
            conns: HashMap::new(),
            conn_seq: 0,
            names: HashMap::new(),
            dcs: HashMap::new(),
            max_keys: max_keys.max(1),
            keys: 0,
            cands: Vec::new(),
        }
    }

    /// The library.
    pub fn library(&self) -> &Library {
        &self.lib
    }

    /// Keys tracked over all rules (memory bound checks).
    pub fn tracked(&self) -> usize {
        self.tables.iter().map(|t| t.map.len()).sum::<usize>()
            + self.conns.len()
            + self.names.len()
            + self.dcs.len()
    }

    /// Observes one event; pushes the alerts it raises onto `out`.
    pub fn observe(&mut self, ev: &Event, out: &mut Vec<Event>) {
        self.learn(ev);
        let Some(kind) = Kind::of(&ev.kind) else {
            return;
        };
        // The steps indexed under the event's interfaces and under none, gathered in a buffer
        // kept across events (no allocation per call once warm).
        let mut cands = std::mem::take(&mut self.cands);
        cands.clear();
        if let Some(by_iface) = self.index.get(&kind) {
            let mut add = |iface: &str| {
                if let Some(v) = by_iface.get(iface) {
                    cands.extend_from_slice(v);
                }
            };
            match &ev.kind {
                EventKind::Call {
                    interface: Some(i), ..
                } => add(i),
                EventKind::Bind { contexts, .. } => contexts.iter().for_each(|c| add(&c.interface)),
                EventKind::EpmLookup { .. } | EventKind::EpmMap { .. } => add(EPM_UUID),
                EventKind::DcomActivation { .. } => {
                    add(ISYSTEM_ACTIVATOR_UUID);
                    add(IREMOTE_ACTIVATION_UUID);
                }
                EventKind::DcomResolver { .. } => add(IOBJECT_EXPORTER_UUID),
                EventKind::ExploitShape { interface, .. } => add(interface),
                _ => {}
            }
            add("");
        }
        if !cands.is_empty() {
            // Rule by rule, later steps first: once a step of a sequence takes the event, the
            // rule's earlier steps do not see it (one event never advances a sequence twice,
            // nor restarts the one it just advanced).
            cands.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            cands.dedup();
            let mut taken: Option<usize> = None;
            for &(ri, si) in &cands {
                if taken == Some(ri) {
                    continue;
                }
                let Some(rule) = self.lib.rules.get(ri) else {
                    continue;
                };
                if !rule.enabled {
                    continue;
                }
                let Some(step) = rule.steps.get(si) else {
                    continue;
                };
                if !self.step_matches(step, ev) || self.allowed(rule, ev) {
                    continue;
                }
                let (took, alert) = self.advance(ri, si, ev);
                if took {
                    taken = Some(ri);
                }
                out.extend(alert);
            }
        }
        self.cands = cands;
    }

    /// Learns host names and domain controllers, and the connection's binds.
    fn learn(&mut self, ev: &Event) {
        let src = ev.conn.orig_h;
        let dst = ev.conn.resp_h;
        match &ev.kind {
            EventKind::Bind {
                contexts,
                auth_type,
                auth_level,
                ..
            } => {
                let seq = self.conn_seq;
                self.conn_seq += 1;
                if self.conns.len() >= MAX_CONNS && !self.conns.contains_key(&ev.conn.uid) {
                    if let Some(old) = self
                        .conns
                        .iter()
                        .min_by_key(|(_, c)| c.seq)
                        .map(|(k, _)| k.clone())
                    {
                        self.conns.remove(&old);
                    }
                }
                let c = self.conns.entry(ev.conn.uid.clone()).or_default();
                c.seq = seq;
                if auth_type.is_some() {
                    c.authenticated = true;
                    c.bind_level = auth_level.as_deref().and_then(level_number);
                }
                for x in contexts {
                    if x.result.as_deref().is_none_or(|r| r == "accepted")
                        && c.contexts.len() < 16
                        && !c.contexts.iter().any(|(i, _)| *i == x.interface)
                    {
                        c.contexts.push((x.interface.clone(), x.version.clone()));
                    }
                }
            }
            EventKind::Auth {
                outcome: crate::AuthOutcome::Success,
                ..
            } => {
                if let Some(c) = self.conns.get_mut(&ev.conn.uid) {
                    c.authenticated = true;
                }
            }
            EventKind::ConnClose { .. } => {
                self.conns.remove(&ev.conn.uid);
            }
            EventKind::Call {
                interface,
                opnum,
                fault,
                args,
                user,
                ..
            } => {
                if let (Some(s), Some(u)) = (src, user.as_deref()) {
                    let name = u.rsplit('\\').next().unwrap_or(u);
                    if let Some(host) = name.strip_suffix('$') {
                        self.add_name(s, host);
                    }
                }
                let Some(i) = interface.as_deref() else {
                    return;
                };
                if i == "12345678-1234-abcd-ef00-01234567cffb" {
                    if let Some(s) = src {
                        if let Some(c) = crate::args::get(args, "ComputerName") {
                            self.add_name(s, c);
                        }
                    }
                    if fault.is_none() && matches!(opnum, 2 | 4 | 5 | 15 | 26 | 29 | 39 | 45) {
                        if let Some(d) = dst {
                            self.learn_dc(d, ev.ts);
                        }
                    }
                } else if i == "12345678-1234-abcd-ef00-0123456789ab" {
                    if let (Some(s), Some(m)) = (src, crate::args::get(args, "pMachineName")) {
                        self.add_name(s, m);
                    }
                    if let (Some(d), Some(p)) = (dst, crate::args::get(args, "pPrinterName")) {
                        if let Some(Host::Name(n)) = parse_host(p) {
                            self.add_name(d, &n);
                        }
                    }
                }
            }
            EventKind::DcomResolver { bindings, .. }
            | EventKind::DcomActivation { bindings, .. } => {
                if let Some(d) = dst {
                    for b in bindings {
                        let host = b.split_once(':').map_or(b.as_str(), |(_, h)| h);
                        let host = host.split('[').next().unwrap_or(host);
                        if host.parse::<IpAddr>().is_err() && !host.is_empty() {
                            self.add_name(d, host);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn add_name(&mut self, ip: IpAddr, name: &str) {
        let n = norm_name(name);
        if n.is_empty() || n.parse::<IpAddr>().is_ok() {
            return;
        }
        if self.names.len() >= MAX_NAMED_HOSTS && !self.names.contains_key(&ip) {
            // Forget an arbitrary host: names are hints, not state a rule counts on.
            if let Some(k) = self.names.keys().next().copied() {
                self.names.remove(&k);
            }
        }
        let v = self.names.entry(ip).or_default();
        if !v.contains(&n) {
            if v.len() >= NAMES_PER_HOST {
                v.remove(0);
            }
            v.push(n);
        }
    }

    fn learn_dc(&mut self, ip: IpAddr, ts: f64) {
        if self.dcs.len() >= MAX_LEARNED_DCS && !self.dcs.contains_key(&ip) {
            if let Some(old) = self
                .dcs
                .iter()
                .min_by(|a, b| a.1.total_cmp(b.1))
                .map(|(k, _)| *k)
            {
                self.dcs.remove(&old);
            }
        }
        self.dcs.insert(ip, ts);
    }

    fn in_role(&self, ip: Option<IpAddr>, role: &str) -> bool {
        let Some(ip) = ip else { return false };
        if role == "dc" && self.dcs.contains_key(&ip) {
            return true;
        }
        self.lib
            .roles
            .get(role)
            .is_some_and(|nets| nets.iter().any(|n| n.contains(ip)))
    }

    fn allowed(&self, rule: &Rule, ev: &Event) -> bool {
        let user = event_user(&ev.kind);
        let by_source = |nets: &[Net]| {
            ev.conn
                .orig_h
                .is_some_and(|s| nets.iter().any(|n| n.contains(s)))
        };
        let by_user = |pats: &[Pattern]| user.is_some_and(|u| pats.iter().any(|p| p.matches(u)));
        by_source(&self.lib.allow_sources)
            || by_source(&rule.allow_sources)
            || by_user(&self.lib.allow_users)
            || by_user(&rule.allow_users)
    }

    fn step_matches(&self, st: &Step, ev: &Event) -> bool {
        let k = &ev.kind;
        if st.kind.is_some_and(|want| Kind::of(k) != Some(want)) {
            return false;
        }
        if !st.any_of.is_empty() && !st.any_of.iter().any(|a| self.step_matches(a, ev)) {
            return false;
        }
        if !st.interfaces.is_empty() {
            let ok = match k {
                EventKind::Bind { contexts, .. } => contexts.iter().any(|c| {
                    st.interfaces.contains(&c.interface)
                        && c.result.as_deref().is_none_or(|r| r == "accepted")
                        && st.version.as_ref().is_none_or(|v| *v == c.version)
                }),
                EventKind::Call { interface, .. } => interface
                    .as_ref()
                    .is_some_and(|i| st.interfaces.contains(i) && self.version_ok(st, ev, i)),
                // The index already matched the fixed interfaces of EPM and DCOM events.
                _ => true,
            };
            if !ok {
                return false;
            }
        }
        if !st.opnums.is_empty() {
            match k {
                EventKind::Call { opnum, .. } if st.opnums.contains(opnum) => {}
                _ => return false,
            }
        }
        if !st.operations.is_empty() {
            let op = match k {
                EventKind::Call { operation, .. } => operation.as_deref(),
                EventKind::DcomActivation { operation, .. }
                | EventKind::DcomResolver { operation, .. }
                | EventKind::DcomRemUnknown { operation, .. } => Some(operation.as_str()),
                _ => None,
            };
            if !op.is_some_and(|o| st.operations.iter().any(|x| x.eq_ignore_ascii_case(o))) {
                return false;
            }
        }
        let pipe = match k {
            EventKind::Call { named_pipe, .. } | EventKind::Bind { named_pipe, .. } => {
                named_pipe.as_deref()
            }
            _ => None,
        };
        let udp = matches!(k, EventKind::Call { transport: Some(t), .. } if t == CL_TRANSPORT);
        match st.transport {
            Some(Transport::Pipe) if pipe.is_none() => return false,
            Some(Transport::Tcp) if pipe.is_some() || udp => return false,
            Some(Transport::Udp) if !udp => return false,
            _ => {}
        }
        if !st.pipes.is_empty() && !pipe.is_some_and(|p| st.pipes.contains(&pipe_name(p))) {
            return false;
        }
        let user = event_user(k);
        let conn = self.conns.get(&ev.conn.uid);
        if st.level_min.is_some() || st.level_max.is_some() {
            let level = match k {
                EventKind::Call { auth_level, .. }
                | EventKind::DcomActivation { auth_level, .. }
                | EventKind::Bind { auth_level, .. } => {
                    auth_level.as_deref().and_then(level_number)
                }
                EventKind::Auth { auth_level, .. } => level_number(auth_level),
                _ => None,
            }
            .or_else(|| conn.and_then(|c| c.bind_level))
            .unwrap_or(1);
            if st.level_min.is_some_and(|m| level < m) || st.level_max.is_some_and(|m| level > m) {
                return false;
            }
        }
        if !st.users.is_empty() && !user.is_some_and(|u| st.users.iter().any(|p| p.matches(u))) {
            return false;
        }
        if let Some(want) = st.anonymous {
            // Over a named pipe, a call without DCE/RPC authentication runs as the SMB
            // session's user (Windows clients bind to lsarpc or samr that way), which the SMB
            // reader does not learn: not known to be anonymous.
            let anon = match user {
                Some(u) => u.eq_ignore_ascii_case("ANONYMOUS LOGON"),
                None => pipe.is_none() && !conn.is_some_and(|c| c.authenticated),
            };
            if anon != want {
                return false;
            }
        }
        let (src, dst) = (ev.conn.orig_h, ev.conn.resp_h);
        if st
            .caller_role
            .as_deref()
            .is_some_and(|r| !self.in_role(src, r))
            || st
                .caller_not_role
                .as_deref()
                .is_some_and(|r| self.in_role(src, r))
            || st
                .target_role
                .as_deref()
                .is_some_and(|r| !self.in_role(dst, r))
            || st
                .target_not_role
                .as_deref()
                .is_some_and(|r| self.in_role(dst, r))
        {
            return false;
        }
        if let Some(o) = st.outcome {
            let ok = success(k);
            match o {
                Outcome::Success if ok != Some(true) => return false,
                Outcome::Failure if ok != Some(false) => return false,
                _ => {}
            }
        }
        for (name, tests) in &st.args {
            let v = arg(k, name);
            for t in tests {
                if !self.arg_test(t, v.as_deref(), ev) {
                    return false;
                }
            }
        }
        true
    }

    /// The interface version of a call's context, from the connection's bind: a call on a
    /// connection whose bind was not seen (a capture started late) matches any version.
    fn version_ok(&self, st: &Step, ev: &Event, iface: &str) -> bool {
        let Some(want) = &st.version else { return true };
        match self
            .conns
            .get(&ev.conn.uid)
            .and_then(|c| c.contexts.iter().find(|(i, _)| i == iface))
        {
            Some((_, v)) => v == want,
            None => true,
        }
    }

    fn arg_test(&self, t: &ArgTest, v: Option<&str>, ev: &Event) -> bool {
        match t {
            ArgTest::Present(p) => v.is_some() == *p,
            _ => {
                let Some(v) = v else { return false };
                let lower = v.to_lowercase();
                match t {
                    ArgTest::Is(l) => l.contains(&lower),
                    ArgTest::Prefix(l) => l.iter().any(|x| lower.starts_with(x.as_str())),
                    ArgTest::Contains(l) => l.iter().any(|x| lower.contains(x.as_str())),
                    ArgTest::Unc(want) => is_unc(v) == *want,
                    ArgTest::Zero(want) => {
                        let h = lower.trim_start_matches("0x");
                        let zero = !h.is_empty() && h.bytes().all(|b| b == b'0');
                        zero == *want
                    }
                    ArgTest::HostNot(side) => {
                        let ip = match side {
                            Side::Caller => ev.conn.orig_h,
                            Side::Target => ev.conn.resp_h,
                        };
                        self.names_other_host(v, ip)
                    }
                    ArgTest::Present(_) => true,
                }
            }
        }
    }

    /// Whether `value` names a host other than `ip`: an address other than it, or a name it is
    /// not known by (names learned from machine accounts, Netlogon and spooler client names,
    /// DCOM bindings). A value naming no host does not.
    fn names_other_host(&self, value: &str, ip: Option<IpAddr>) -> bool {
        match parse_host(value) {
            None => false,
            Some(Host::Ip(a)) => ip.is_none_or(|ip| !same_ip(a, ip)),
            Some(Host::Name(n)) => {
                if n == "localhost" {
                    return false;
                }
                let Some(ip) = ip else { return true };
                !self.names.get(&ip).is_some_and(|v| v.contains(&n))
            }
        }
    }

    /// Counts a matching event for rule `ri` at step `si`: whether the step took it (a
    /// sequence's later step takes an event only when the sequence is waiting for it), and the
    /// alert when the rule fires.
    fn advance(&mut self, ri: usize, si: usize, ev: &Event) -> (bool, Option<Event>) {
        match self.count(ri, si, ev) {
            Some((took, alert)) => (took, alert),
            None => (false, None),
        }
    }

    /// [`Techniques::advance`]; `None` for a rule index out of range.
    fn count(&mut self, ri: usize, si: usize, ev: &Event) -> Option<(bool, Option<Event>)> {
        let rule = self.lib.rules.get(ri)?;
        let (src, dst) = (ev.conn.orig_h, ev.conn.resp_h);
        let addr = |a: Option<IpAddr>| a.map_or_else(|| "local".to_string(), |a| a.to_string());
        let key = match rule.per {
            Per::Source => addr(src),
            Per::Target => addr(dst),
            Per::SourceTarget => format!("{}>{}", addr(src), addr(dst)),
            Per::Callback if si == 0 => addr(dst),
            Per::Callback => addr(src),
        };
        let ts = ev.ts;
        let within = rule.within;
        let seq = rule.steps.len() > 1;
        let single = !seq && rule.count <= 1 && rule.distinct.is_none();
        let steps = rule.steps.len();
        let cap = rule.count.max(1) as usize;
        let distinct_item = rule.distinct.as_ref().map(|d| distinct_item(d, ev));
        // Only the first step opens a key; later steps of a sequence need it open.
        let exists = self.tables.get(ri)?.map.contains_key(&key);
        if seq && si > 0 && !exists {
            return Some((false, None));
        }
        if !exists {
            if self.keys >= KEY_BUDGET.max(self.max_keys)
                || self.tables.get(ri)?.map.len() >= self.max_keys
            {
                let t = self.tables.get_mut(ri)?;
                if let Some(old) = t
                    .map
                    .iter()
                    .min_by(|a, b| a.1.last.total_cmp(&b.1.last))
                    .map(|(k, _)| k.clone())
                {
                    t.map.remove(&old);
                    self.keys = self.keys.saturating_sub(1);
                }
            }
            self.keys += 1;
        }
        let call = call_summary(ev);
        let st = self.tables.get_mut(ri)?.map.entry(key).or_default();
        if st.times.is_empty() && st.distinct.is_empty() && st.reached == 0 {
            st.first = ts;
        }
        st.last = ts;
        if ts < st.quiet_until {
            return Some((false, None));
        }
        if seq {
            if si == 0 {
                st.reset();
                st.first = ts;
                st.started = ts;
                st.reached = 1;
                st.note(ev, call);
                return Some((true, None));
            }
            if st.reached != si || ts - st.started > within {
                if ts - st.started > within {
                    st.reset();
                }
                return Some((false, None));
            }
            st.reached = si + 1;
            st.note(ev, call);
            if st.reached < steps {
                return Some((true, None));
            }
        } else if single {
            st.first = ts;
            st.reset();
            st.note(ev, call);
        } else {
            while st.times.front().is_some_and(|&t| t < ts - within) {
                st.times.pop_front();
            }
            st.distinct.retain(|_, t| *t >= ts - within);
            if st.times.is_empty() && st.distinct.is_empty() {
                st.first = ts;
                st.calls.clear();
                st.uids.clear();
            }
            st.note(ev, call);
            match distinct_item {
                Some(item) => {
                    if !st.distinct.contains_key(&item) && st.distinct.len() >= cap {
                        if let Some(old) = st
                            .distinct
                            .iter()
                            .min_by(|a, b| a.1.total_cmp(b.1))
                            .map(|(k, _)| k.clone())
                        {
                            st.distinct.remove(&old);
                        }
                    }
                    st.distinct.insert(item, ts);
                    if st.distinct.len() < cap {
                        return Some((true, None));
                    }
                }
                None => {
                    st.times.push_back(ts);
                    while st.times.len() > cap {
                        st.times.pop_front();
                    }
                    if st.times.len() < cap {
                        return Some((true, None));
                    }
                }
            }
        }
        // Fire.
        let mut items: Vec<(&String, &f64)> = st.distinct.iter().collect();
        items.sort_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(b.0)));
        let items: Vec<&String> = items
            .into_iter()
            .take(EVIDENCE_ITEMS)
            .map(|(k, _)| k)
            .collect();
        let count = if seq {
            steps
        } else if rule.distinct.is_some() {
            st.distinct.len()
        } else {
            st.times.len().max(1)
        };
        let evidence = json!({
            "count": count,
            "counted": if seq { "steps of the sequence".to_string() } else {
                match &rule.distinct {
                    Some(d) => format!("distinct {}", d.text()),
                    None => "matching events".to_string(),
                }
            },
            "threshold": if seq { steps as u32 } else { rule.count },
            "window_secs": within,
            "per": rule.per.as_str(),
            "first_ts": st.first,
            "last_ts": ts,
            "target": dst,
            "user": event_user(&ev.kind),
            "items": items,
            "calls": st.calls,
            "uids": st.uids,
        });
        st.quiet_until = ts + within;
        st.reset();
        let mut summary = format!("{}: {} -> {}", rule.summary, addr(src), addr(dst));
        if let Some(a) = first_arg(&ev.kind) {
            summary.push_str(&format!(" ({a})"));
        }
        if rule.severity == Level::Low {
            summary.push_str(" [admin practice too: see benign]");
        }
        Some((
            true,
            Some(Event {
                ts,
                conn: ev.conn.clone(),
                kind: EventKind::Alert {
                    detector: rule.id.clone(),
                    severity: rule.severity.as_str().into(),
                    summary,
                    source: src,
                    evidence,
                    technique: rule.technique.clone(),
                    attack: rule.attack.clone(),
                    confidence: rule.confidence.as_str().into(),
                    benign: rule.benign.clone(),
                },
            }),
        ))
    }
}

/// The item an aggregate counts as distinct for `ev`.
fn distinct_item(d: &Distinct, ev: &Event) -> String {
    let addr = |a: Option<IpAddr>| a.map_or_else(|| "local".to_string(), |a| a.to_string());
    match d {
        Distinct::Target => addr(ev.conn.resp_h),
        Distinct::TargetPort => format!(
            "{}:{}",
            addr(ev.conn.resp_h),
            ev.conn.resp_p.unwrap_or_default()
        ),
        Distinct::Interface => match &ev.kind {
            EventKind::Call { interface, .. } => interface.clone().unwrap_or_default(),
            EventKind::EpmMap { interface, .. } | EventKind::EpmLookup { interface, .. } => {
                interface.clone().unwrap_or_else(|| "(none)".into())
            }
            EventKind::Bind { contexts, .. } => contexts
                .first()
                .map(|c| c.interface.clone())
                .unwrap_or_default(),
            _ => String::new(),
        },
        Distinct::Opnum => match &ev.kind {
            EventKind::Call { opnum, .. } => opnum.to_string(),
            _ => String::new(),
        },
        Distinct::User => event_user(&ev.kind).unwrap_or_default().to_lowercase(),
        Distinct::Arg(n) => arg(&ev.kind, n)
            .map(|v| v.to_lowercase())
            .unwrap_or_default(),
    }
}

fn event_user(k: &EventKind) -> Option<&str> {
    match k {
        EventKind::Call { user, .. }
        | EventKind::DcomActivation { user, .. }
        | EventKind::Auth { user, .. }
        | EventKind::Policy { user, .. } => user.as_deref(),
        _ => None,
    }
}

/// Whether the event reports success (`None`: it does not say).
fn success(k: &EventKind) -> Option<bool> {
    match k {
        EventKind::Call { fault, .. } => Some(fault.is_none()),
        EventKind::EpmLookup { status, .. } | EventKind::EpmMap { status, .. } => {
            Some(*status == 0)
        }
        EventKind::DcomActivation { hresult, .. } => hresult.map(|h| h == 0),
        EventKind::DcomResolver { status, .. } => status.map(|s| s == 0),
        EventKind::Bind {
            contexts,
            nak_reason,
            ..
        } => Some(
            nak_reason.is_none()
                && contexts
                    .iter()
                    .any(|c| c.result.as_deref() == Some("accepted")),
        ),
        EventKind::Auth { outcome, .. } => Some(*outcome == crate::AuthOutcome::Success),
        _ => None,
    }
}

/// The value of argument `name` of an event: a call's decoded argument, or a field of the EPM,
/// DCOM and exploit-shape events (`inquiry`, `end`, `max_ents`, `entries`, `resumed`,
/// `interface`, `endpoint`, `clsid`, `class_name`, `iids`, `shape`, ...).
fn arg<'a>(k: &'a EventKind, name: &str) -> Option<Cow<'a, str>> {
    let b = |v: bool| Some(Cow::Borrowed(if v { "true" } else { "false" }));
    let n = |v: u32| Some(Cow::Owned(v.to_string()));
    let s = |v: &'a Option<String>| v.as_deref().map(Cow::Borrowed);
    match k {
        EventKind::Call { args, .. } => crate::args::get(args, name).map(Cow::Borrowed),
        EventKind::EpmLookup {
            inquiry,
            interface,
            entries,
            status,
            resumed,
            max_ents,
            end,
            ..
        } => match name {
            "inquiry" => Some(Cow::Borrowed(inquiry.as_str())),
            "interface" => s(interface),
            "entries" => n(*entries),
            "status" => n(*status),
            "resumed" => b(*resumed),
            "max_ents" => n(*max_ents),
            "end" => b(*end),
            _ => None,
        },
        EventKind::EpmMap {
            interface,
            endpoint,
            protocol,
            entries,
            status,
            ..
        } => match name {
            "interface" => s(interface),
            "endpoint" => s(endpoint),
            "protocol" => s(protocol),
            "entries" => n(*entries),
            "status" => n(*status),
            _ => None,
        },
        EventKind::DcomActivation {
            clsid,
            class_name,
            iids,
            ..
        } => match name {
            "clsid" => Some(Cow::Borrowed(clsid.as_str())),
            "class_name" => s(class_name),
            "iids" => Some(Cow::Owned(iids.join(","))),
            _ => None,
        },
        EventKind::DcomResolver { oxid, .. } => match name {
            "oxid" => s(oxid),
            _ => None,
        },
        EventKind::ExploitShape { shape, .. } => match name {
            "shape" => Some(Cow::Borrowed(shape.as_str())),
            _ => None,
        },
        _ => None,
    }
}

/// The first argument worth naming in an alert's summary.
fn first_arg(k: &EventKind) -> Option<String> {
    match k {
        EventKind::Call { args, .. } => args.first().map(|a| format!("{}={}", a.name, a.value)),
        EventKind::DcomActivation {
            clsid, class_name, ..
        } => Some(class_name.clone().unwrap_or_else(|| clsid.clone())),
        EventKind::EpmMap {
            endpoint,
            interface,
            ..
        } => endpoint.clone().or_else(|| interface.clone()),
        _ => None,
    }
}

/// A short record of the event for an alert's evidence.
fn call_summary(ev: &Event) -> Value {
    let base = json!({ "ts": ev.ts, "uid": ev.conn.uid });
    let mut v = match &ev.kind {
        EventKind::Call {
            interface,
            endpoint,
            opnum,
            operation,
            fault,
            args,
            user,
            auth_level,
            named_pipe,
            ..
        } => json!({
            "event": "call",
            "interface": interface,
            "endpoint": endpoint,
            "opnum": opnum,
            "operation": operation,
            "fault": fault,
            "args": args_object(args),
            "user": user,
            "auth_level": auth_level,
            "named_pipe": named_pipe,
        }),
        EventKind::EpmLookup {
            inquiry,
            entries,
            max_ents,
            end,
            resumed,
            ..
        } => json!({ "event": "epm_lookup", "inquiry": inquiry, "entries": entries,
                     "max_ents": max_ents, "end": end, "resumed": resumed }),
        EventKind::EpmMap {
            interface,
            endpoint,
            entries,
            ..
        } => {
            json!({ "event": "epm_map", "interface": interface, "endpoint": endpoint, "entries": entries })
        }
        EventKind::DcomActivation {
            operation,
            clsid,
            class_name,
            hresult,
            user,
            auth_level,
            ..
        } => json!({ "event": "dcom_activation", "operation": operation, "clsid": clsid,
                     "class_name": class_name, "hresult": hresult, "user": user, "auth_level": auth_level }),
        EventKind::DcomResolver {
            operation, status, ..
        } => json!({ "event": "dcom_resolver", "operation": operation, "status": status }),
        EventKind::Bind {
            contexts,
            auth_type,
            named_pipe,
            ..
        } => json!({ "event": "bind",
                     "interfaces": contexts.iter().map(|c| c.interface.as_str()).collect::<Vec<_>>(),
                     "auth_type": auth_type, "named_pipe": named_pipe }),
        EventKind::ExploitShape { shape, detail, .. } => {
            json!({ "event": "exploit_shape", "shape": shape, "detail": detail })
        }
        EventKind::Auth { user, outcome, .. } => {
            json!({ "event": "auth", "user": user, "outcome": outcome })
        }
        _ => json!({}),
    };
    if let (Some(o), Some(b)) = (v.as_object_mut(), base.as_object()) {
        for (k, x) in b {
            o.insert(k.clone(), x.clone());
        }
    }
    v
}

fn args_object(args: &[CallArg]) -> Value {
    let mut m = serde_json::Map::new();
    for a in args {
        let v = match a.value.char_indices().nth(EVIDENCE_VALUE) {
            Some((end, _)) => format!("{}...", a.value.get(..end).unwrap_or_default()),
            None => a.value.clone(),
        };
        m.insert(a.name.clone(), Value::String(v));
    }
    Value::Object(m)
}

/// A host an argument names.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Host {
    Ip(IpAddr),
    Name(String),
}

/// A UNC path: `\\host\...`, `//host/...`, `\??\UNC\host\...`, `\\?\UNC\host\...`.
fn is_unc(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    l.starts_with("\\\\") || l.starts_with("//") || l.starts_with("\\??\\unc\\")
}

/// The host a value names: the host of a UNC path (`\\host\share`, `\\host@80\x`,
/// `\??\UNC\host\x`), or the value itself when it is a bare host name or address (with or
/// without leading `\\`).
fn parse_host(v: &str) -> Option<Host> {
    let t = v.trim();
    let lower = t.to_ascii_lowercase();
    let rest = if let Some(r) = lower
        .strip_prefix("\\??\\unc\\")
        .or_else(|| lower.strip_prefix("\\\\?\\unc\\"))
    {
        r
    } else {
        lower.trim_start_matches(['\\', '/'])
    };
    let host = rest
        .split(['\\', '/'])
        .next()
        .unwrap_or_default()
        .split('@')
        .next()
        .unwrap_or_default()
        .trim_end_matches('\0');
    if host.is_empty() || host.contains(' ') {
        return None;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(Host::Ip(ip));
    }
    // WebDAV style `host@SSL@443` was cut above; a name must look like one.
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'$'))
    {
        return None;
    }
    Some(Host::Name(norm_name(host)))
}

/// A host name as compared: lower case, no leading `\\`, no trailing `$`, its first label.
fn norm_name(n: &str) -> String {
    let n = n
        .trim()
        .trim_start_matches(['\\', '/'])
        .to_ascii_lowercase();
    let n = n.split(['\\', '/', '@', '[']).next().unwrap_or_default();
    let n = n.trim_end_matches('$');
    if n.parse::<IpAddr>().is_ok() {
        return n.to_string();
    }
    n.split('.').next().unwrap_or_default().to_string()
}

fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    let canon = |x: IpAddr| match x {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(x, IpAddr::V4),
        v4 => v4,
    };
    canon(a) == canon(b)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn builtin_loads() {
        let l = Library::builtin();
        assert!(l.rules().len() >= 40, "{}", l.rules().len());
        let mut ids: Vec<&str> = l.rules().iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate ids");
    }

    #[test]
    fn globs_and_nets() {
        assert!(Pattern::new("*$").matches("CORP\\DC01$"));
        assert!(!Pattern::new("*$").matches("CORP\\alice"));
        assert!(Pattern::new("corp\\svc_*").matches("CORP\\svc_backup"));
        assert!(Pattern::new("a*b*c").matches("aXXbYYc"));
        assert!(!Pattern::new("a*b*c").matches("aXXbYY"));
        let n = Net::parse("10.1.0.0/16").unwrap();
        assert!(n.contains("10.1.200.3".parse().unwrap()));
        assert!(!n.contains("10.2.0.1".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.0.9".parse().unwrap()));
        assert!(Net::parse("10.0.0.1/33").is_none());
        assert!(Net::parse("2001:db8::/32")
            .unwrap()
            .contains("2001:db8::1".parse().unwrap()));
        assert!(Net::parse("0.0.0.0/0")
            .unwrap()
            .contains("1.2.3.4".parse().unwrap()));
    }

    #[test]
    fn hosts_in_arguments() {
        let ip = |s: &str| Some(Host::Ip(s.parse().unwrap()));
        let name = |s: &str| Some(Host::Name(s.into()));
        assert_eq!(parse_host("\\\\10.0.0.5\\share\\x"), ip("10.0.0.5"));
        assert_eq!(parse_host("\\\\attacker@80/x\\y"), name("attacker"));
        assert_eq!(parse_host("\\??\\UNC\\evil.corp.local\\s\\f"), name("evil"));
        assert_eq!(parse_host("\\\\WS01"), name("ws01"));
        assert_eq!(parse_host("DC01.corp.local"), name("dc01"));
        assert_eq!(parse_host("C:\\Windows\\x"), None);
        assert_eq!(parse_host(""), None);
        assert!(is_unc("\\\\h\\s"));
        assert!(is_unc("\\??\\UNC\\h\\s"));
        assert!(!is_unc("C:\\x"));
        assert_eq!(pipe_name("\\PIPE\\SpoolSS"), "spoolss");
        assert_eq!(pipe_name("lsarpc"), "lsarpc");
    }

    fn bad(text: &str) -> RuleError {
        Library::parse(text, "test.toml").unwrap_err()
    }

    const HEAD: &str = "version = 1\n";
    const OK_RULE: &str = r#"
[[rule]]
id = "x"
technique = "zerologon"
attack = "T1210"
severity = "high"
confidence = "medium"
summary = "s"
benign = "b"
interface = "12345678-1234-abcd-ef00-01234567cffb"
opnums = [26]
"#;

    #[test]
    fn validation_errors_name_the_rule_and_the_key() {
        assert!(Library::parse(&format!("{HEAD}{OK_RULE}"), "t").is_ok());
        let e = bad(OK_RULE);
        assert_eq!(e.key.as_deref(), Some("version"), "{e}");
        let e = bad(&format!("version = 2\n{OK_RULE}"));
        assert!(e.to_string().contains("schema version 2"), "{e}");
        for (change, key) in [
            (("opnums = [26]", "opnums = [\"x\"]"), "opnums"),
            (("opnums = [26]", "opnum = [26]"), "opnum"),
            (("severity = \"high\"", "severity = \"urgent\""), "severity"),
            (("attack = \"T1210\"", "attack = \"lateral\""), "attack"),
            (("benign = \"b\"", "benign = \" \""), "benign"),
            (
                (
                    "interface = \"12345678-1234-abcd-ef00-01234567cffb\"",
                    "interface = \"nope\"",
                ),
                "interface",
            ),
            (("opnums = [26]", "opnums = [26]\ncount = 0"), "count"),
            (
                ("opnums = [26]", "opnums = [26]\nper = \"everyone\""),
                "per",
            ),
            (
                ("opnums = [26]", "opnums = [26]\ncaller-role = \"dc\""),
                "caller-role",
            ),
            (
                (
                    "opnums = [26]",
                    "opnums = [26]\nargs.FileName = { unc = \"yes\" }",
                ),
                "args.FileName.unc",
            ),
            (
                (
                    "opnums = [26]",
                    "opnums = [26]\nthen = [{ opnums = [1], colour = 1 }]",
                ),
                "then[0].colour",
            ),
            (("opnums = [26]", "opnums = [26]\nwithin = -1"), "within"),
        ] {
            let text = format!("{HEAD}{}", OK_RULE.replace(change.0, change.1));
            let e = bad(&text);
            assert_eq!(e.rule.as_deref(), Some("x"), "{e}");
            assert_eq!(e.key.as_deref(), Some(key), "{e}");
            assert!(
                e.to_string().starts_with("test.toml: rule \"x\": key"),
                "{e}"
            );
        }
        // A missing id names the rule by position.
        let e = bad(&format!("{HEAD}{}", OK_RULE.replace("id = \"x\"", "")));
        assert_eq!(
            (e.rule.as_deref(), e.key.as_deref()),
            (Some("#1"), Some("id"))
        );
    }

    fn ev(ts: f64, opnum: u16) -> Event {
        Event {
            ts,
            conn: crate::ConnId {
                uid: "C1".into(),
                orig_h: Some("10.0.0.1".parse().unwrap()),
                orig_p: Some(1),
                resp_h: Some("10.0.0.2".parse().unwrap()),
                resp_p: Some(2),
            },
            kind: EventKind::Call {
                call_id: 1,
                interface: Some("12345678-1234-abcd-ef00-01234567cffb".into()),
                endpoint: None,
                opnum,
                operation: None,
                stub_in: 0,
                stub_out: 0,
                fragments: 1,
                rtt: None,
                fault: None,
                args: Vec::new(),
                auth_level: None,
                user: None,
                named_pipe: None,
                transport: None,
            },
        }
    }

    #[test]
    fn sequences_take_each_event_once() {
        // A then A then B: the second A advances the sequence (it does not restart it).
        let text = format!(
            "{HEAD}{}",
            OK_RULE.replace(
                "opnums = [26]",
                "opnums = [26]\nthen = [{ opnums = [26] }, { opnums = [30] }]\nwithin = 60"
            )
        );
        let mut t = Techniques::new(Library::parse(&text, "t").unwrap(), 16);
        let mut out = Vec::new();
        for (ts, op) in [(0.0, 26), (1.0, 26), (2.0, 30)] {
            t.observe(&ev(ts, op), &mut out);
        }
        assert_eq!(out.len(), 1, "{out:?}");
        // A then B, with A repeated: the last A restarts the sequence, B completes it.
        let text = format!(
            "{HEAD}{}",
            OK_RULE.replace(
                "opnums = [26]",
                "opnums = [26]\nthen = [{ opnums = [30] }]\nwithin = 60"
            )
        );
        let mut t = Techniques::new(Library::parse(&text, "t").unwrap(), 16);
        let mut out = Vec::new();
        for (ts, op) in [(0.0, 26), (100.0, 26), (101.0, 30)] {
            t.observe(&ev(ts, op), &mut out);
        }
        assert_eq!(out.len(), 1, "{out:?}");
        // B without A, or too late: nothing.
        let mut t = Techniques::new(Library::parse(&text, "t").unwrap(), 16);
        let mut out = Vec::new();
        for (ts, op) in [(0.0, 30), (1.0, 26), (70.0, 30)] {
            t.observe(&ev(ts, op), &mut out);
        }
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn version_level_and_transport_keys() {
        let text = format!(
            "{HEAD}{}",
            OK_RULE.replace(
                "opnums = [26]",
                "opnums = [26]\nversion = \"1.0\"\nauth-level-max = \"integrity\"\ntransport = \"tcp\""
            )
        );
        let lib = Library::parse(&text, "t").unwrap();
        let bind = |version: &str, level: Option<&str>| Event {
            kind: EventKind::Bind {
                kind: "bind".into(),
                assoc_group: 1,
                contexts: vec![crate::BindContext {
                    context_id: 0,
                    interface: "12345678-1234-abcd-ef00-01234567cffb".into(),
                    version: version.into(),
                    endpoint: None,
                    transfer_syntaxes: vec![],
                    result: Some("accepted".into()),
                    reason: None,
                }],
                nak_reason: None,
                auth_type: level.map(|_| "winnt".to_string()),
                auth_level: level.map(str::to_string),
                named_pipe: None,
            },
            ..ev(0.0, 0)
        };
        let fires = |events: Vec<Event>| {
            let mut t = Techniques::new(lib.clone(), 16);
            let mut out = Vec::new();
            for e in &events {
                t.observe(e, &mut out);
            }
            !out.is_empty()
        };
        // v1.0, connect level (the bind's), over TCP: fires.
        assert!(fires(vec![bind("1.0", Some("connect")), ev(1.0, 26)]));
        // Another version of the interface on this connection: not.
        assert!(!fires(vec![bind("2.0", None), ev(1.0, 26)]));
        // Sealed: above the maximum level.
        let mut sealed = ev(1.0, 26);
        if let EventKind::Call { auth_level, .. } = &mut sealed.kind {
            *auth_level = Some("pkt_privacy".into());
        }
        assert!(!fires(vec![bind("1.0", Some("privacy")), sealed]));
        // Through a named pipe: not TCP.
        let mut piped = ev(1.0, 26);
        if let EventKind::Call { named_pipe, .. } = &mut piped.kind {
            *named_pipe = Some("\\PIPE\\netlogon".into());
        }
        assert!(!fires(vec![piped]));
    }

    #[test]
    fn user_files_add_replace_and_override() {
        let mut l = Library::parse(&format!("{HEAD}{OK_RULE}"), "base").unwrap();
        l.extend(
            &format!(
                "{HEAD}[roles]\ndc = [\"10.0.0.1\"]\n[[override]]\nid = \"x\"\nseverity = \"low\"\nallow-sources = [\"10.9.0.0/16\"]\n{}",
                OK_RULE.replace("id = \"x\"", "id = \"y\"")
            ),
            "user",
        )
        .unwrap();
        assert_eq!(l.rules().len(), 2);
        assert_eq!(l.rule("x").unwrap().severity, Level::Low);
        assert_eq!(l.rule("x").unwrap().allow_sources.len(), 1);
        // Replacing by id.
        l.extend(
            &format!(
                "{HEAD}{}",
                OK_RULE.replace("severity = \"high\"", "severity = \"medium\"")
            ),
            "u2",
        )
        .unwrap();
        assert_eq!(l.rules().len(), 2);
        assert_eq!(l.rule("x").unwrap().severity, Level::Medium);
        // An override of an unknown rule is refused and leaves the library as it was.
        let before = l.clone();
        let e = l
            .extend(
                &format!("{HEAD}[[override]]\nid = \"nope\"\nenabled = false\n"),
                "u3",
            )
            .unwrap_err();
        assert_eq!(
            (e.rule.as_deref(), e.key.as_deref()),
            (Some("nope"), Some("id"))
        );
        assert_eq!(l, before);
    }
}
