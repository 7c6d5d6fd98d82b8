//! `msrpc-idl`: a MIDL front end over msrpc's one code generator.
//!
//! It reads IDL as Microsoft publishes it in the open specifications' "Full IDL" appendices
//! (and C706's), checks it, and lowers it to Rust items that use `#[derive(Ndr)]` and
//! `#[interface]` — the same code generator (`msrpc-codegen`) hand-written interfaces use, so
//! an IDL file and the equivalent Rust definitions produce the same stubs, byte for byte.
//! `msrpc-build` calls it from a `build.rs`; `msrpc idl FILE... --out DIR` writes the code for
//! people who commit it. See `docs/idl.md` for both.
//!
//! # Pipeline
//! 1. [`pp`]: the preprocessor (`#define` constants, `#ifdef`/`#ifndef`/`#if`/`#elif`/`#else`/
//!    `#endif` with `__midl` defined, `#include "..."` of sibling files or the include path).
//! 2. [`lex`]: tokens with file, line and column.
//! 3. [`parse`]: `import`, `interface` (attributes, inheritance), `typedef`, `const`, structs,
//!    unions (non-encapsulated with `[switch_type]`/`[case]`/`[default]`, encapsulated with
//!    `switch (type name)`), enums, pipes, operations; `cpp_quote`, `midl_pragma`, `coclass`,
//!    `library`, `importlib` and forward declarations are read and skipped.
//! 4. [`lower`]: names resolved (types through typedef chains, tags, the [prelude](PRELUDE),
//!    constants and enumerators; sizing names to sibling fields or parameters), attributes
//!    checked, then Rust items: CamelCase types, snake_case fields, parameters and operations,
//!    each with its IDL name in its doc comment. Every item is expanded once by
//!    `msrpc-codegen` during lowering, so what the code generator refuses is reported at the
//!    IDL construct, as "not supported by the code generator: ...".
//!
//! Errors carry the file, line and column, and (from the parser) what was expected and what
//! was found: `echo.idl:12:5: syntax error: expected `;`, found `}``.
//!
//! # Mapping
//! | IDL | Rust |
//! |---|---|
//! | `small`/`short`/`long`/`hyper` (`signed`/`unsigned`) | `i8`.. `u64` |
//! | `__int3264` (`ULONG_PTR`, `SIZE_T`...) | `msrpc_ndr::Int3264`/`UInt3264`: 4 bytes in NDR20, 8 in NDR64 |
//! | `char`, `unsigned char`, `byte` / `boolean` / `wchar_t` | `u8` / `bool` / `u16` |
//! | `error_status_t` | `u32` |
//! | `GUID` (and `UUID`, `IID`, `CLSID`) | `msrpc_ndr::Uuid` |
//! | `[context_handle] void *` | `msrpc_ndr::ContextHandle` |
//! | `handle_t` parameter | left out (a primitive binding handle is not on the wire) |
//! | struct, union, enum | `#[derive(Ndr)]` struct, union enum, open enum (`Unknown(u32)`) |
//! | embedded pointer | `Unique<T>` (`pointer_default(unique)` or `[unique]`), `Ref<T>`, `Full<T>` (`[ptr]`) |
//! | top-level `[ref]` pointer parameter | its referent (`[out] DWORD *n` is `n: u32`) |
//! | top-level `[unique]`/`[ptr]` parameter | `Option<T>` |
//! | `[size_is]`/`[max_is]` (`[length_is]`/`[last_is]`) pointer or `[]` array | `Vec<T>` (conformant(-varying)) |
//! | `T a[N]` / with `[length_is]` | `[T; N]` / `Vec<T>` with `max = N` (varying) |
//! | `[string]` pointer or array | `String` (`string = "char"` for 8-bit) |
//! | `[size_is(, n)] T **p` | `Unique<Vec<T>>` sized by `n` |
//! | array of `[string]` pointers (and other elements with attributes) | `Vec<XxxItem>`, a one-field tuple struct carrying the attributes (the same bytes) |
//! | `[range(lo, hi)]` on an integer | `#[ndr(range(lo, hi))]` |
//! | `[switch_is(x)]` | `#[ndr(switch_is = "x")]` |
//! | `[v1_enum]` | 32-bit enum; others are 16-bit |
//! | `[object]` interface, `: IUnknown` | `#[interface(orpc)]`, opnums from 3, HRESULT dropped (the generator adds it) |
//! | `interface B : A` | trait `B: A` (inheritance) |
//! | `[local]` operation / interface | left out (not on the wire); its `[call_as]` partner keeps its own opnum |
//! | `[idempotent]`, `[maybe]`, `[broadcast]`, `[call_as]` | noted in the operation's docs (no effect on the stubs) |
//! | `strict_context_handle`, `type_strict_context_handle`, `ms_union` | accepted; no effect on NDR20 stubs (`ms_union` matters for NDR64) |
//! | `[handle]` type | its underlying type (a customized binding handle is marshalled like any parameter) |
//! | `wire_marshal`/`transmit_as`/`user_marshal` typedef | the wire type |
//! | `typedef pipe T NAME` parameter (by value or `[ref]` pointer) | `msrpc_ndr::Pipe<T>`, `#[ndr(pipe)]`: after the other `[in]`, before the other `[out]` parameters |
//! | `[size_is(n), ptr] T *p` member | `Full<Vec<T>>` with `size_is` |
//! | `sizeof(NAME)` of a typedef name in a constant or size | its C size with NDR20's sizes (base types, enums 4, GUID 16, pointers 4, fixed arrays, structures) |
//! | local-only type (a C union without `[case]`, a structure with an unsized `[]` / `[size_is(*)]` member or a `void *` member, a type holding one) | left out; an operation reaching one is a located error |
//! | two interfaces of a file sharing operation names | a `pub mod` per interface (`use super::*`; bases as `super::i_base::IBase`) |
//! | an interface as a type (`IUnknown *`, `[out] ITypeInfo **`, `[iid_is(riid)] void **`) | `Unique<msrpc_dcom::MInterfacePointer>` (the pointer to the interface is the interface pointer) |
//! | `interface B : A` without `[object]` (`[odl]`, `[dual]`, or nothing) | a COM interface, as with `[object]` |
//! | `[propget]`/`[propput]`/`[propputref]` operation `X` | method `get_x`/`put_x`/`putref_x` |
//!
//! # Not supported by the code generator (reported, never mis-generated)
//! - a conformant structure embedded in another structure, a union arm or an array;
//! - a conformant array that is not a structure's last member; `size_is` on a fixed array;
//! - `first_is`/`min_is` other than 0;
//! - sizes on two levels at once (`size_is(a, b)` with both given);
//! - a `void *` parameter that is neither a context handle nor `[iid_is]`; `[ignore]`
//!   pointers; an interface without a uuid;
//! - streaming pipes (a `Pipe` holds every element: the call is encoded and decoded whole);
//! - `[callback]` operations;
//! - a structure member's size taken from a pointer member's referent;
//! - 64-bit union discriminants; structures, unions or enums without members.
//!
//! Two expected differences from MIDL: an embedded `[ref]` pointer needs a referent with a
//! default value, and a union without `switch_type` takes its discriminant's type from the
//! first `switch_is` that names it.
//!
//! # Limits
//! `#include` and macro expansion nest at most [`pp::MAX_DEPTH`] deep; expressions and type
//! definitions at most [`parse::MAX_NESTING`]; imports at most [`MAX_IMPORT_DEPTH`]. The parser
//! has a fuzz target (`fuzz/fuzz_targets/idl_parse.rs`).
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod ast;
mod error;
mod eval;
pub mod lex;
pub mod lower;
pub mod parse;
pub mod pp;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;

pub use error::{Error, ErrorInfo, ErrorKind, Result, SourceMap, Span};

/// msrpc-idl's prelude: MS-DTYP's base types and MIDL's predefined names, in MIDL.
pub const PRELUDE: &str = include_str!("prelude.idl");

/// Imports satisfied by the [`PRELUDE`] when the include path does not have them.
pub const SYSTEM_IMPORTS: &[&str] = &[
    "ms-dtyp.idl",
    "wtypes.idl",
    "wtypesbase.idl",
    "unknwn.idl",
    "objidl.idl",
    "oaidl.idl",
    "ms-rpce.idl",
    "basetsd.h",
    "guiddef.h",
];

/// How deep imports may nest.
pub const MAX_IMPORT_DEPTH: usize = 32;

/// One parsed file of a [`Program`].
#[derive(Clone, Debug)]
pub struct ParsedFile {
    /// Its path.
    pub path: PathBuf,
    /// Its syntax tree.
    pub ast: ast::File,
    /// A file given to the compiler (its types and interfaces are generated), not one it
    /// imports (only what is used from it is generated).
    pub main: bool,
}

/// The files of one compilation: the prelude, the imports, the main files.
#[derive(Clone, Debug, Default)]
pub struct Program {
    /// File names for spans.
    pub map: SourceMap,
    /// Parsed files, imports before their importers, the prelude first.
    pub files: Vec<ParsedFile>,
}

/// Compiler options.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Directories searched for `import`ed and `#include`d files (after the including file's
    /// own directory).
    pub include_dirs: Vec<PathBuf>,
}

/// Preprocesses and parses `text` as file `name` (no file system access beyond `#include`s of
/// `include_dirs`). What the fuzz target calls.
pub fn parse_str(name: &str, text: &str, include_dirs: &[PathBuf]) -> Result<ast::File> {
    let mut map = SourceMap::default();
    let id = map.add(PathBuf::from(name));
    parse_text(&mut map, id, text, None, include_dirs)
}

fn parse_text(
    map: &mut SourceMap,
    id: u32,
    text: &str,
    dir: Option<&Path>,
    include_dirs: &[PathBuf],
) -> Result<ast::File> {
    let toks = {
        let mut pp = pp::Preprocessor::new(map, include_dirs);
        pp.run(text, id, dir)?
    };
    parse::Parser::new(toks, map).file()
}

impl Program {
    fn new() -> Result<Self> {
        let mut p = Program::default();
        let id = p.map.add(PathBuf::from("<prelude>"));
        let ast = parse_text(&mut p.map, id, PRELUDE, None, &[])?;
        p.files.push(ParsedFile {
            path: PathBuf::from("<prelude>"),
            ast,
            main: false,
        });
        Ok(p)
    }

    /// Loads `files` and what they import.
    pub fn load(files: &[impl AsRef<Path>], opts: &Options) -> Result<Program> {
        let mut p = Program::new()?;
        let mut seen = HashSet::new();
        for f in files {
            let f = f.as_ref();
            let text = std::fs::read_to_string(f).map_err(|e| {
                Error::new(ErrorInfo {
                    kind: ErrorKind::Io(e.to_string()),
                    file: f.to_path_buf(),
                    line: 0,
                    col: 0,
                    message: format!("cannot read the file: {e}"),
                    expected: None,
                    found: None,
                })
            })?;
            p.add(f.to_path_buf(), &text, true, opts, &mut seen, 0)?;
        }
        Ok(p)
    }

    /// Loads one file given as text (its imports are read from the include path).
    pub fn load_str(name: &str, text: &str, opts: &Options) -> Result<Program> {
        let mut p = Program::new()?;
        p.add(
            PathBuf::from(name),
            text,
            true,
            opts,
            &mut HashSet::new(),
            0,
        )?;
        Ok(p)
    }

    fn add(
        &mut self,
        path: PathBuf,
        text: &str,
        main: bool,
        opts: &Options,
        seen: &mut HashSet<PathBuf>,
        depth: usize,
    ) -> Result<()> {
        let key = path.canonicalize().unwrap_or_else(|_| path.clone());
        if !seen.insert(key) {
            return Ok(());
        }
        let id = self.map.add(path.clone());
        let dir = path.parent().map(Path::to_path_buf);
        let ast = parse_text(&mut self.map, id, text, dir.as_deref(), &opts.include_dirs)?;
        for item in &ast.items {
            let imports: Vec<&(String, Span)> = match item {
                ast::Item::Import(v) => v.iter().collect(),
                ast::Item::Interface(i) => i
                    .items
                    .iter()
                    .filter_map(|x| match x {
                        ast::Item::Import(v) => Some(v.iter()),
                        _ => None,
                    })
                    .flatten()
                    .collect(),
                _ => Vec::new(),
            };
            for (file, span) in imports {
                if depth >= MAX_IMPORT_DEPTH {
                    return Err(self.map.error(
                        ErrorKind::Type,
                        *span,
                        format!("imports nest more than {MAX_IMPORT_DEPTH} deep"),
                    ));
                }
                match pp::find_file(file, dir.as_deref(), &opts.include_dirs) {
                    Some(found) => {
                        let text = std::fs::read_to_string(&found).map_err(|e| {
                            self.map.error(
                                ErrorKind::Io(e.to_string()),
                                *span,
                                format!("cannot read `{}`: {e}", found.display()),
                            )
                        })?;
                        self.add(found, &text, false, opts, seen, depth + 1)?;
                    }
                    None if SYSTEM_IMPORTS.iter().any(|s| s.eq_ignore_ascii_case(file)) => {}
                    None => {
                        return Err(self
                            .map
                            .error(
                                ErrorKind::Io(file.clone()),
                                *span,
                                format!("cannot find the imported file `{file}`"),
                            )
                            .expected_found(
                                "a file next to this one or on the include path",
                                "none",
                            ))
                    }
                }
            }
        }
        self.files.push(ParsedFile { path, ast, main });
        Ok(())
    }

    /// Lowers the program to Rust items (see the crate docs for the mapping).
    pub fn lower(&self) -> Result<TokenStream> {
        lower::lower(self)
    }
}

/// Loads and lowers `files`: the Rust items for their types and interfaces.
pub fn compile(files: &[impl AsRef<Path>], opts: &Options) -> Result<TokenStream> {
    Program::load(files, opts)?.lower()
}

/// Loads and lowers one file given as text.
pub fn compile_str(name: &str, text: &str, opts: &Options) -> Result<TokenStream> {
    Program::load_str(name, text, opts)?.lower()
}
