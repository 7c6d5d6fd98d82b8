//! Compiles msrpc-idl's test IDL with msrpc-build, as a user's build script would: rpcecho,
//! and the constructs of the published IDL the code generator once refused (gaps.idl).

fn main() {
    msrpc_build::Builder::new()
        .compile(&[
            "../msrpc-idl/tests/idl/rpcecho.idl",
            "../msrpc-idl/tests/idl/gaps.idl",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
}
