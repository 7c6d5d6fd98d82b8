//! Compiles MIDL files into Rust from a `build.rs`, the way `prost-build` and `tonic-build` do.
//!
//! ```ignore
//! // build.rs
//! fn main() {
//!     msrpc_build::Builder::new()
//!         .include_dir("idl")
//!         .compile(&["idl/srvsvc.idl"])
//!         .unwrap_or_else(|e| panic!("{e}"));
//! }
//! ```
//!
//! ```ignore
//! // src/lib.rs
//! pub mod srvsvc {
//!     include!(concat!(env!("OUT_DIR"), "/srvsvc.rs"));
//! }
//! ```
//!
//! Each IDL file becomes `<stem>.rs` (the file name in snake case) in the output directory
//! (`OUT_DIR` by default): its types and interfaces, and what it uses from the files it
//! imports, as Rust items using `#[derive(msrpc_ndr::Ndr)]` and `#[msrpc_macros::interface]`.
//! The crate including the file depends on `msrpc-ndr`, `msrpc-proto` and `msrpc-macros` (and
//! `msrpc-dcom` for `[object]` interfaces). The code is formatted with `prettyplease` and each
//! item is documented with its IDL name. `cargo:rerun-if-changed` is printed for every file
//! read when run by Cargo. Errors are `msrpc_idl::Error`s: file, line, column, expected and
//! found. See `docs/idl.md`.

use std::fmt;
use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;

pub use msrpc_idl::Options;

/// An error from [`Builder::compile`].
#[derive(Debug)]
pub enum Error {
    /// The IDL does not compile (located).
    Idl(msrpc_idl::Error),
    /// Writing the output failed.
    Io(PathBuf, std::io::Error),
    /// No output directory: neither set nor `OUT_DIR`.
    NoOutDir,
    /// The generated tokens do not form a Rust file (a bug in msrpc-idl).
    Format(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Idl(e) => write!(f, "{e}"),
            Error::Io(p, e) => write!(f, "{}: {e}", p.display()),
            Error::NoOutDir => write!(f, "no output directory: set one with Builder::out_dir or run from a build script (OUT_DIR)"),
            Error::Format(e) => write!(f, "generated code does not parse: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<msrpc_idl::Error> for Error {
    fn from(e: msrpc_idl::Error) -> Self {
        Error::Idl(e)
    }
}

/// Compiles `files` into `out_dir`, one `.rs` per file. Returns the files written.
pub fn compile(
    files: &[impl AsRef<Path>],
    out_dir: impl AsRef<Path>,
) -> Result<Vec<PathBuf>, Error> {
    Builder::new().out_dir(out_dir).compile(files)
}

/// Compilation settings.
#[derive(Clone, Debug, Default)]
pub struct Builder {
    include_dirs: Vec<PathBuf>,
    out_dir: Option<PathBuf>,
    rerun: Option<bool>,
}

impl Builder {
    /// Defaults: no include directories, output to `OUT_DIR`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a directory searched for imports and `#include`s.
    #[must_use]
    pub fn include_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.include_dirs.push(dir.as_ref().to_path_buf());
        self
    }

    /// Where to write (default: `OUT_DIR`).
    #[must_use]
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Whether to print `cargo:rerun-if-changed` lines (default: when `OUT_DIR` is set).
    #[must_use]
    pub fn emit_rerun_if_changed(mut self, on: bool) -> Self {
        self.rerun = Some(on);
        self
    }

    /// Compiles each file into `<stem>.rs`; returns the paths written.
    pub fn compile(&self, files: &[impl AsRef<Path>]) -> Result<Vec<PathBuf>, Error> {
        let out_dir = match &self.out_dir {
            Some(d) => d.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(Error::NoOutDir)?,
        };
        let rerun = self
            .rerun
            .unwrap_or_else(|| std::env::var_os("OUT_DIR").is_some());
        let opts = Options {
            include_dirs: self.include_dirs.clone(),
        };
        let mut written = Vec::new();
        for f in files {
            let f = f.as_ref();
            let program = msrpc_idl::Program::load(&[f], &opts)?;
            if rerun {
                for pf in &program.files {
                    if pf.path.is_file() {
                        println!("cargo:rerun-if-changed={}", pf.path.display());
                    }
                }
            }
            let tokens = program.lower()?;
            let text = format_file(&tokens, &f.display().to_string())?;
            let out = out_dir.join(output_name(f));
            std::fs::write(&out, text).map_err(|e| Error::Io(out.clone(), e))?;
            written.push(out);
        }
        Ok(written)
    }
}

/// The output file name for an IDL file: its stem in snake case, `.rs`.
pub fn output_name(idl: &Path) -> String {
    let stem = idl
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() {
        out.push_str("idl");
    }
    out.push_str(".rs");
    out
}

/// Formats generated items as a Rust file (with `prettyplease`), under a header naming the
/// source.
pub fn format_file(tokens: &TokenStream, source: &str) -> Result<String, Error> {
    let file: syn::File = syn::parse2(tokens.clone()).map_err(|e| Error::Format(e.to_string()))?;
    let body = prettyplease::unparse(&file);
    Ok(format!(
        "// Generated by msrpc-idl from {source}. Do not edit: change the IDL and build again.\n\n{body}"
    ))
}
