//! The guide: each chapter is one task, with code that runs (each chapter's code is a doc
//! test; the programs in `crates/msrpc/examples/` are run by `cargo test -p msrpc
//! --all-features`).
//!
//! 1. [`define`]: describe an interface in Rust (or compile IDL).
//! 2. [`host`]: serve it.
//! 3. [`call`]: call it.
//! 4. [`auth`]: authenticate with NTLMv2 or SPNEGO, at the level you need.
//! 5. [`register`]: make it known to the endpoint mapper `msrpcd`.
//! 6. [`faults`]: faults, transport errors, timeouts.
//! 7. [`hardening`]: limits and the security policy.
//! 8. [`dcom`]: activate and call a COM class; host one.

#[doc = include_str!("define.md")]
pub mod define {}

#[cfg_attr(all(feature = "client", feature = "server"), doc = include_str!("host.md"))]
#[cfg_attr(
    not(all(feature = "client", feature = "server")),
    doc = "This chapter needs the features `client` and `server` (build the documentation with `--all-features`)."
)]
pub mod host {}

#[cfg_attr(all(feature = "client", feature = "server"), doc = include_str!("call.md"))]
#[cfg_attr(
    not(all(feature = "client", feature = "server")),
    doc = "This chapter needs the features `client` and `server` (build the documentation with `--all-features`)."
)]
pub mod call {}

#[cfg_attr(all(feature = "client", feature = "server", feature = "ntlm"), doc = include_str!("auth.md"))]
#[cfg_attr(
    not(all(feature = "client", feature = "server", feature = "ntlm")),
    doc = "This chapter needs the features `client`, `server` and `ntlm` (build the documentation with `--all-features`)."
)]
pub mod auth {}

#[cfg_attr(all(feature = "client", feature = "server"), doc = include_str!("register.md"))]
#[cfg_attr(
    not(all(feature = "client", feature = "server")),
    doc = "This chapter needs the features `client` and `server` (build the documentation with `--all-features`)."
)]
pub mod register {}

#[cfg_attr(all(feature = "client", feature = "server"), doc = include_str!("faults.md"))]
#[cfg_attr(
    not(all(feature = "client", feature = "server")),
    doc = "This chapter needs the features `client` and `server` (build the documentation with `--all-features`)."
)]
pub mod faults {}

#[cfg_attr(all(feature = "client", feature = "server"), doc = include_str!("hardening.md"))]
#[cfg_attr(
    not(all(feature = "client", feature = "server")),
    doc = "This chapter needs the features `client` and `server` (build the documentation with `--all-features`)."
)]
pub mod hardening {}

#[cfg_attr(all(feature = "dcom", feature = "server", feature = "ntlm"), doc = include_str!("dcom.md"))]
#[cfg_attr(
    not(all(feature = "dcom", feature = "server", feature = "ntlm")),
    doc = "This chapter needs the features `dcom`, `server` and `ntlm` (build the documentation with `--all-features`)."
)]
pub mod dcom {}
