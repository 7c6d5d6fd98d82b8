//! Unit tests: one per construct (parse, then lower), and the error messages.

use crate::ast::*;
use crate::{compile_str, parse_str, ErrorKind, Options};

fn lower(src: &str) -> String {
    let ts = compile_str("t.idl", src, &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    let file: syn::File = syn::parse2(ts.clone()).unwrap();
    squash(&quote::ToTokens::to_token_stream(&file).to_string())
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect()
}

fn lower_err(src: &str) -> crate::Error {
    compile_str("t.idl", src, &Options::default()).unwrap_err()
}

#[test]
fn echo_prints() {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/idl/rpcecho.idl")).unwrap();
    let ts = compile_str("rpcecho.idl", &src, &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    println!("{ts}");
}
