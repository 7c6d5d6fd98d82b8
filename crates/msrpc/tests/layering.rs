//! The facade sits on top: no workspace crate depends on `msrpc` (ARCHITECTURE.md), in any of
//! its dependency tables.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;

#[test]
fn nothing_depends_on_the_facade() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut manifests = vec![root.join("tests/Cargo.toml")];
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        let dir = entry.unwrap().path();
        if dir.file_name().unwrap() != "msrpc" {
            manifests.push(dir.join("Cargo.toml"));
        }
    }
    for m in manifests.iter().filter(|m| m.is_file()) {
        let text = std::fs::read_to_string(m).unwrap();
        let mut deps = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                deps = line.contains("dependencies");
                assert!(
                    !(deps && line.ends_with(".msrpc]")),
                    "{} depends on the facade `msrpc`: {line}",
                    m.display()
                );
                continue;
            }
            let name = line.split(['.', ' ', '=']).next().unwrap_or_default();
            assert!(
                !(deps && name == "msrpc"),
                "{} depends on the facade `msrpc`: {line}",
                m.display()
            );
        }
    }
}
