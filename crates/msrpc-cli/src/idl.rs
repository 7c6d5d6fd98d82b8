//! `msrpc idl FILE... --out DIR`: compiles MIDL files into formatted Rust for people who
//! commit the generated code (a `build.rs` uses `msrpc-build` instead). One `<stem>.rs` per
//! file; see docs/idl.md.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::fail::Failure;
use crate::Global;

/// Arguments of `msrpc idl`.
#[derive(Args, Debug)]
pub struct IdlArgs {
    /// The IDL files to compile.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Directory to write the `.rs` files into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Directory searched for imports and `#include`s (repeatable).
    #[arg(short = 'I', long = "include", value_name = "DIR")]
    pub include: Vec<PathBuf>,
}

/// Runs `msrpc idl`: exit 1 with the located error when a file does not compile.
pub fn run(g: &Global, a: IdlArgs) -> Result<(), Failure> {
    std::fs::create_dir_all(&a.out)
        .map_err(|e| Failure::usage(format!("{}: {e}", a.out.display())))?;
    let mut b = msrpc_build::Builder::new()
        .out_dir(&a.out)
        .emit_rerun_if_changed(false);
    for d in &a.include {
        b = b.include_dir(d);
    }
    let written = b.compile(&a.files).map_err(Failure::usage)?;
    if g.json {
        let files: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        println!("{}", json!({ "written": files }));
    } else {
        for p in &written {
            println!("wrote {}", p.display());
        }
    }
    Ok(())
}
