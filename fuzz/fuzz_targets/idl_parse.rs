//! The MIDL front end (crates/msrpc-idl) on arbitrary text: the preprocessor, lexer and
//! parser (`parse_str`), then loading and lowering (`compile_str`, which also expands every
//! generated item with msrpc-codegen). Never a panic; an error is located in the input (line
//! and column within it), and a parse that succeeds parses again to the same tree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = u32::try_from(text.lines().count()).unwrap_or(u32::MAX).max(1);
    match msrpc_idl::parse_str("fuzz.idl", &text, &[]) {
        Ok(tree) => {
            let again = msrpc_idl::parse_str("fuzz.idl", &text, &[]).expect("parses twice");
            assert_eq!(tree, again);
            if let Err(e) = msrpc_idl::compile_str("fuzz.idl", &text, &msrpc_idl::Options::default()) {
                if e.file.to_str() == Some("fuzz.idl") {
                    assert!(e.line <= lines + 1, "{e}");
                }
            }
        }
        Err(e) => {
            if e.file.to_str() == Some("fuzz.idl") {
                assert!(e.line <= lines + 1, "{e}");
            }
        }
    }
});
