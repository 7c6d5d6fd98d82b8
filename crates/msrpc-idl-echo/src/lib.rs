//! Samba's rpcecho interface compiled from IDL (`crates/msrpc-idl/tests/idl/rpcecho.idl`) by
//! `msrpc-build` in this crate's `build.rs`. Its tests check that the generated stubs are
//! byte-identical to `msrpc-echo`'s hand-written `#[interface]` ones, and that the generated
//! client and server talk to those.
//!
//! Also `gaps.idl`: operations shaped like the published IDL's that need what the code
//! generator once refused (sizes naming later parameters, ...), checked in `tests/gaps.rs`
//! against NDR20 and NDR64 bytes computed by hand.

/// The generated rpcecho types, `Rpcecho` service trait, `RpcechoServer` and `RpcechoClient`.
pub mod rpcecho {
    include!(concat!(env!("OUT_DIR"), "/rpcecho.rs"));
}

/// The generated `gaps` test interface.
pub mod gaps {
    include!(concat!(env!("OUT_DIR"), "/gaps.rs"));
}

/// C706 appendix O's endpoint mapper (`ept`) from `ep.idl`, compared in `tests/c706.rs` with
/// msrpc-epm's hand-written interface.
pub mod ept {
    include!(concat!(env!("OUT_DIR"), "/ep.rs"));
}

/// C706 appendix Q's management interface (`mgmt`) from `mgmt.idl`, compared in
/// `tests/c706.rs` with msrpc-epm's hand-written interface.
pub mod mgmt {
    include!(concat!(env!("OUT_DIR"), "/mgmt.rs"));
}
