//! The server security policy of msrpc: which calls a server serves, decided per call before
//! dispatch, sans-IO (no tokio, no sockets; `msrpc-rt` consults it, `msrpcd` loads it from its
//! configuration file).
//!
//! What it does:
//! - a minimum authentication level per interface (`[[interface]] min-auth-level`): "an
//!   unauthenticated call to an interface that requires privacy" is refused;
//! - `restrict-remote-clients`, like Windows' `RestrictRemoteClients` value: `none`,
//!   `authenticated` (the endpoint mapper and interfaces marked `allow-unauthenticated` are
//!   exempt), `authenticated_without_exceptions`; local callers are always exempt; an
//!   anonymous logon (NTLM's null session, `CallAuth::anonymous`) is not authenticated,
//!   whatever its level;
//! - `epm-lookup`: `allow`, `require_authentication` or `refuse` for `ept_lookup`, `ept_map`
//!   and `ept_lookup_handle_free` from the network;
//! - filters like Windows' `netsh rpc filter`: conditions on the interface UUID, opnum, remote
//!   address or prefix (IPv4/IPv6), auth level (exact, or strictly below one) and user
//!   (`ANONYMOUS LOGON` or `NT AUTHORITY\ANONYMOUS LOGON` names anonymous logons, and only
//!   them), with `permit`, `deny` or `audit`, and a `default-action`;
//! - per-class DCOM launch and access permissions (`[[dcom-class]]`, [`Policy::check_class`]),
//!   which a DCOM host consults for activations and calls on the class's objects;
//! - per-interface security callbacks ([`SecurityCallback`], like `RpcServerRegisterIf2`'s),
//!   run after the static checks, through a [`PolicyHandle`] that a reload swaps atomically.
//!
//! Every refusal carries the fault to send (`ACCESS_DENIED`, 0x00000005, the status Windows
//! answers such calls with) and a stable reason code ([`Reason::code`]) for the audit trace;
//! audit filter matches are listed in the [`Verdict`]. The evaluation order is documented on
//! [`Policy::check`].
//!
//! What it does not do: it sees one call at a time (no rate limits or connection-level
//! rules), refuses at call time rather than at bind time (Windows' RPC filters can also act on
//! binds), matches users by the name the security provider established (no groups or SIDs),
//! and does not itself log: the runtime reports verdicts to its observer and to `tracing`.
//!
//! ```
//! use msrpc_policy::{CallerInfo, Policy, PolicyFile, Reason};
//! use msrpc_proto::pdu::SyntaxId;
//!
//! let file: PolicyFile = toml::from_str(r#"
//!     [[interface]]
//!     uuid = "60a15ec5-4de8-11d7-a637-005056a20182"
//!     min-auth-level = "privacy"
//! "#).unwrap();
//! let policy = Policy::from_file(file).unwrap();
//! let uuid = "60a15ec5-4de8-11d7-a637-005056a20182".parse().unwrap();
//! let call = CallerInfo {
//!     interface: SyntaxId::new(uuid, 1, 0),
//!     opnum: 0,
//!     remote: Some("192.0.2.7".parse().unwrap()),
//!     local: false,
//!     auth: None,
//! };
//! let verdict = policy.check(&call);
//! assert_eq!(verdict.refusal.unwrap().reason, Reason::MinLevel);
//! ```
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod file;
mod policy;
#[cfg(test)]
mod tests;

pub use file::{
    Action, DcomClassFile, DefaultAction, EpmLookup, FilterFile, InterfaceFile, Level, OneOrMany,
    PolicyFile, RestrictMode,
};
pub use policy::{
    CallerInfo, ClassRight, Decision, Policy, PolicyError, PolicyHandle, Prefix, Reason, Refusal,
    SecurityCallback, Verdict, EPM_LOOKUP_OPNUMS, EPM_UUID, MAX_DCOM_CLASSES, MAX_FILTERS,
    MAX_INTERFACES,
};
