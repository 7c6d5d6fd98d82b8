//! Compiles msrpc-idl's test IDL with msrpc-build, as a user's build script would: rpcecho,
//! the constructs of the published IDL the code generator once refused (gaps.idl), and C706's
//! endpoint mapper and management interfaces (ep.idl, mgmt.idl).

fn main() {
    msrpc_build::Builder::new()
        .compile(&[
            "../msrpc-idl/tests/idl/rpcecho.idl",
            "../msrpc-idl/tests/idl/gaps.idl",
            "../msrpc-idl/tests/idl/ep.idl",
            "../msrpc-idl/tests/idl/mgmt.idl",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
}
