//! Dependency arrows point one way: library crates never depend (outside their dev-dependencies)
//! on the crates above them, and only binaries and tests know the rpcecho demo interface.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;

/// The `msrpc-*` crates named in the `[dependencies]` table of `crate_dir`'s Cargo.toml.
fn deps(crate_dir: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates")
        .join(crate_dir)
        .join("Cargo.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[dependencies]";
            continue;
        }
        if inside && line.starts_with("msrpc") {
            let name = line.split(['.', ' ', '=']).next().unwrap_or_default();
            out.push(name.to_string());
        }
    }
    assert!(
        text.contains("[dependencies]"),
        "{path:?} has no [dependencies]"
    );
    out
}

#[test]
fn libraries_do_not_know_the_demo_or_what_is_above_them() {
    // crate -> the workspace crates it may depend on
    let allowed: &[(&str, &[&str])] = &[
        ("msrpc-codegen", &[]),
        ("msrpc-macros", &["msrpc-codegen"]),
        ("msrpc-ndr", &["msrpc-macros"]),
        ("msrpc-proto", &["msrpc-ndr"]),
        ("msrpc-epm", &["msrpc-ndr", "msrpc-proto", "msrpc-macros"]),
        ("msrpc-echo", &["msrpc-ndr", "msrpc-proto", "msrpc-macros"]),
        // Generated code only: the IDL is compiled by msrpc-build, a build-dependency.
        (
            "msrpc-windows",
            &["msrpc-ndr", "msrpc-proto", "msrpc-macros"],
        ),
        // msrpc-policy (the activation level) only behind the optional `server` feature,
        // msrpc-rt only behind `rt` (the client); neither ever depends on msrpc-dcom.
        (
            "msrpc-dcom",
            &[
                "msrpc-ndr",
                "msrpc-proto",
                "msrpc-macros",
                "msrpc-policy",
                "msrpc-rt",
            ],
        ),
        ("msrpc-ntlm", &["msrpc-proto"]),
        ("msrpc-policy", &["msrpc-ndr", "msrpc-proto"]),
        (
            "msrpc-rt",
            &["msrpc-ndr", "msrpc-proto", "msrpc-epm", "msrpc-policy"],
        ),
        (
            "msrpc-audit",
            &["msrpc-ndr", "msrpc-proto", "msrpc-epm", "msrpc-dcom"],
        ),
        // SMB parsing stands alone: no DCE/RPC crate below it.
        ("msrpc-smb", &[]),
        (
            "msrpc-analyze",
            &[
                "msrpc-ndr",
                "msrpc-proto",
                "msrpc-epm",
                "msrpc-audit",
                "msrpc-ntlm",
                "msrpc-smb",
            ],
        ),
    ];
    for (krate, may) in allowed {
        for dep in deps(krate) {
            assert!(
                may.contains(&dep.as_str()),
                "{krate} depends on {dep}; ARCHITECTURE.md's arrows do not allow it"
            );
        }
    }
}
