//! Compiles msrpc-idl's rpcecho test IDL with msrpc-build, as a user's build script would.

fn main() {
    msrpc_build::Builder::new()
        .compile(&["../msrpc-idl/tests/idl/rpcecho.idl"])
        .unwrap_or_else(|e| panic!("{e}"));
}
