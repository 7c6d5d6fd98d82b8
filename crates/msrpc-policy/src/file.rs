//! The policy as a configuration file holds it (TOML or any serde format): every key, its
//! values and their spelling. [`Policy`](crate::Policy) is built from a [`PolicyFile`] and
//! validated on the way ([`Policy::from_file`](crate::Policy::from_file)).

use serde::{Deserialize, Serialize};

/// One value or a list of them (`opnum = 3` or `opnum = [2, 3]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// A single value.
    One(T),
    /// A list.
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The values as a slice.
    pub fn as_slice(&self) -> &[T] {
        match self {
            OneOrMany::One(v) => std::slice::from_ref(v),
            OneOrMany::Many(v) => v,
        }
    }
}

/// `restrict-remote-clients`: what Windows' `RestrictRemoteClients` registry value does, for
/// unauthenticated calls from the network. Local callers (the Unix domain socket channel) are
/// never restricted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestrictMode {
    /// No restriction (Windows `RPC_RESTRICT_REMOTE_CLIENT_NONE`, 0).
    #[default]
    None,
    /// Unauthenticated remote calls are refused, except to the endpoint mapper and to
    /// interfaces marked `allow-unauthenticated` (Windows `RPC_RESTRICT_REMOTE_CLIENT_DEFAULT`,
    /// 1, where the endpoint mapper and interfaces registered with
    /// `RPC_IF_ALLOW_CALLBACKS_WITH_NO_AUTH` are exempt).
    Authenticated,
    /// Every unauthenticated remote call is refused, the endpoint mapper's included (Windows
    /// `RPC_RESTRICT_REMOTE_CLIENT_HIGH`, 2).
    AuthenticatedWithoutExceptions,
}

/// `epm-lookup`: who may look endpoints up (`ept_lookup`, `ept_map`,
/// `ept_lookup_handle_free`). Local callers are never refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EpmLookup {
    /// Anyone (the Windows default).
    #[default]
    Allow,
    /// Authenticated callers only (what Windows' `EnableAuthEpResolution` makes clients do).
    RequireAuthentication,
    /// Nobody from the network.
    Refuse,
}

/// An authentication level as the policy names it (MS-RPCE 2.2.1.1.8). Ordered: `none` <
/// `connect` < `call` < `pkt` < `integrity` < `privacy`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// No authentication (`RPC_C_AUTHN_LEVEL_NONE`); what an unauthenticated call has.
    #[default]
    None,
    /// `RPC_C_AUTHN_LEVEL_CONNECT` (also what `DEFAULT`, 0, means).
    Connect,
    /// `RPC_C_AUTHN_LEVEL_CALL`.
    Call,
    /// `RPC_C_AUTHN_LEVEL_PKT`.
    Pkt,
    /// `RPC_C_AUTHN_LEVEL_PKT_INTEGRITY`: every PDU signed.
    Integrity,
    /// `RPC_C_AUTHN_LEVEL_PKT_PRIVACY`: every PDU signed and its stub sealed.
    Privacy,
}

impl Level {
    /// The policy level of a wire level (`DEFAULT` counts as `connect`). A value MS-RPCE
    /// does not define counts as `none`: a level the policy cannot know the protection of
    /// never satisfies a requirement.
    pub fn from_wire(level: msrpc_proto::pdu::AuthLevel) -> Level {
        match level.0 {
            0 | 2 => Level::Connect,
            3 => Level::Call,
            4 => Level::Pkt,
            5 => Level::Integrity,
            6 => Level::Privacy,
            _ => Level::None,
        }
    }

    /// The name used in configuration files.
    pub fn name(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Connect => "connect",
            Level::Call => "call",
            Level::Pkt => "pkt",
            Level::Integrity => "integrity",
            Level::Privacy => "privacy",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a filter does when it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Let the call through the filters (the later checks still apply).
    Permit,
    /// Refuse the call.
    Deny,
    /// Record the match and go on (never decides).
    Audit,
}

/// `default-action`: what happens to a call no `permit`/`deny` filter matched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultAction {
    /// Go on to the other checks.
    #[default]
    Permit,
    /// Refuse (an allow list: only calls a `permit` filter matched pass).
    Deny,
}

/// `[[interface]]`: the requirements of one interface (every version of that UUID).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct InterfaceFile {
    /// The interface UUID (`60a15ec5-4de8-11d7-a637-005056a20182`).
    pub uuid: String,
    /// Calls below this level are refused (`policy_min_level`). Default `none`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub min_auth_level: Level,
    /// Exempt from `restrict-remote-clients = "authenticated"` (like Windows'
    /// `RPC_IF_ALLOW_CALLBACKS_WITH_NO_AUTH`); `authenticated_without_exceptions` ignores it.
    #[serde(default, skip_serializing_if = "is_default")]
    pub allow_unauthenticated: bool,
}

/// `[[filter]]`: one rule, like a Windows `netsh rpc filter` rule. Every condition given must
/// hold for the rule to match (a list matches when any of its values does); a rule without
/// conditions matches every call.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FilterFile {
    /// The rule's name (unique; reported in refusals and audit events).
    pub name: String,
    /// `permit`, `deny` or `audit`.
    pub action: Action,
    /// Interface UUID(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<OneOrMany<String>>,
    /// Operation number(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opnum: Option<OneOrMany<u16>>,
    /// The caller's address or prefix (`192.0.2.7`, `10.0.0.0/8`, `fe80::/10`). A local
    /// caller (Unix domain socket) has no address and never matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<OneOrMany<String>>,
    /// The call's level, exactly (an unauthenticated call is at `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_level: Option<OneOrMany<Level>>,
    /// The call's level is strictly below this one (`auth-level-below = "privacy"` matches
    /// unauthenticated calls and calls up to integrity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_level_below: Option<Level>,
    /// The authenticated user(s), case-insensitive: `DOMAIN\user` matches that account only,
    /// `user` that name in any domain. An unauthenticated call never matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<OneOrMany<String>>,
}

/// The whole policy as a file holds it (msrpcd's `[policy]` table). Every key is optional;
/// unknown keys are refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PolicyFile {
    /// Unauthenticated remote calls: `none` (default), `authenticated`,
    /// `authenticated_without_exceptions`.
    #[serde(default)]
    pub restrict_remote_clients: RestrictMode,
    /// Endpoint lookups: `allow` (default), `require_authentication`, `refuse`.
    #[serde(default)]
    pub epm_lookup: EpmLookup,
    /// Calls no `permit`/`deny` filter matched: `permit` (default) or `deny`.
    #[serde(default)]
    pub default_action: DefaultAction,
    /// Per-interface requirements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interface: Vec<InterfaceFile>,
    /// Filters, in evaluation order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter: Vec<FilterFile>,
    /// Per-class DCOM launch and access permissions (`[[dcom-class]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dcom_class: Vec<DcomClassFile>,
}

/// `[[dcom-class]]`: who may launch (activate) a hosted COM class and who may call its
/// objects, like the launch and access permissions Windows keeps per class (`dcomcnfg`).
/// Each list restricts one right: the caller must match one of its values (users as in
/// `[[filter]]`'s `user`, addresses as in its `remote`); when both the `-users` and the
/// `-remote` list of a right are given, the caller must match both. A right without a list is
/// not restricted; an empty list (`launch-users = []`) lets nobody through. A class without an
/// entry is not restricted.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DcomClassFile {
    /// The class's CLSID (`e316f1a9-1aa2-4272-a77c-3b9abdceaf56`).
    pub clsid: String,
    /// Who may activate the class (RemoteCreateInstance, RemoteGetClassObject,
    /// RemoteActivation): user names, `DOMAIN\user` or `user`, case-insensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_users: Option<OneOrMany<String>>,
    /// Addresses or prefixes that may activate the class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_remote: Option<OneOrMany<String>>,
    /// Who may call the class's objects (ORPC calls and RemQueryInterface).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_users: Option<OneOrMany<String>>,
    /// Addresses or prefixes that may call the class's objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_remote: Option<OneOrMany<String>>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}
