//! Name resolution, type checking and lowering to Rust items that use `#[derive(Ndr)]` and
//! `#[interface]`. Each generated item is expanded once by `msrpc-codegen` here, so an IDL
//! construct the code generator refuses is reported at its IDL location instead of failing
//! later in `rustc`.

use std::collections::{BTreeSet, HashMap};

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Literal, Span as PSpan, TokenStream};
use quote::{format_ident, quote};

use crate::ast::*;
use crate::error::{Error, ErrorKind, Result, SourceMap, Span};
use crate::eval;
use crate::Program;

/// Rust names a generated type must not take (the code generator or the prelude use them).
const RESERVED_TYPES: &[&str] = &[
    "String",
    "Vec",
    "Option",
    "Box",
    "Result",
    "Unique",
    "Ref",
    "Full",
    "ContextHandle",
    "Uuid",
    "Self",
    "Ok",
    "Err",
    "Some",
    "None",
    "Send",
    "Sync",
    "Clone",
    "Debug",
    "Default",
    "PartialEq",
    "Eq",
    "Hash",
    "Ndr",
    "Sized",
    "Copy",
    "From",
    "Into",
    "Drop",
    "Fn",
];

/// A union discriminant's width for a 16-bit NDR enum (a `switch_type(some_enum)`, or a
/// `switch_is` naming an enum): 2 bytes in NDR20, 4 in NDR64, where every enum is 4 octets
/// (MS-RPCE 2.2.5.2); the code generator's `switch_type = "enum16"`.
const ENUM16: u8 = 0x90;

/// Type names whose definition lowers to `msrpc_ndr::Uuid` (same wire layout as MS-DTYP's GUID).
const GUID_NAMES: &[&str] = &["GUID", "UUID", "IID", "CLSID", "_GUID"];

#[derive(Clone, Debug)]
enum DefKind {
    Struct(StructDef),
    Union(UnionDef),
    Enum(EnumDef),
}

impl DefKind {
    /// A structure's members or a union's arm members (none for an enum).
    fn fields(&self) -> Vec<&Field> {
        match self {
            DefKind::Struct(s) => s.fields.iter().flatten().collect(),
            DefKind::Union(u) => u
                .arms
                .iter()
                .flatten()
                .filter_map(|a| a.field.as_ref())
                .collect(),
            DefKind::Enum(_) => Vec::new(),
        }
    }
}

#[derive(Clone, Debug)]
struct Def {
    idl: String,
    rust: String,
    kind: DefKind,
    attrs: Attrs,
    span: Span,
    main: bool,
    pdefault: PtrKind,
}

#[derive(Clone, Debug)]
struct Alias {
    attrs: Attrs,
    ty: TypeSpec,
    ptrs: u32,
    dims: Vec<Dim>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PtrKind {
    Ref,
    Unique,
    Full,
}

#[derive(Clone, Debug, PartialEq)]
enum Leaf {
    Base(Base),
    Def(usize),
    ContextHandle,
    Uuid,
    /// An interface named as a type (`ITypeInfo` in `ITypeInfo **pp`), before its pointer.
    Interface,
    /// An interface pointer (`IUnknown *`, `[iid_is(riid)] void *`): a unique pointer to an
    /// `MInterfacePointer` (MS-DCOM 2.2.14) on the wire.
    InterfacePtr,
    /// `pipe T`: the element type.
    Pipe(Box<TypeSpec>),
}

#[derive(Clone, Debug, PartialEq)]
enum Level {
    Ptr,
    Array(Dim),
}

#[derive(Clone, Debug)]
struct Resolved {
    levels: Vec<Level>,
    leaf: Leaf,
    attrs: Attrs,
    /// Pointer attributes of typedefs whose first pointer is not the value's first level
    /// (`typedef [unique] V *PV;` used as `[out] PV *p`: the `[unique]` is level 1's, and
    /// level 0, the parameter's own pointer, stays `[ref]`), by level.
    level_ptr: Vec<(usize, PtrKind)>,
}

/// Where a value sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pos {
    Member { last: bool },
    Arm,
    Param,
    Element,
}

/// A lowered value: its Rust type and its `#[ndr(...)]` items.
struct Lowered {
    ty: TokenStream,
    ndr: Vec<TokenStream>,
    default_ok: bool,
    /// An integer's bit width (for inferring a union's switch type).
    bits: Option<u8>,
}

/// Names visible to a sizing expression: IDL name -> (Rust name, resolved type).
type Siblings = HashMap<String, (String, Resolved)>;

struct Lowerer<'p> {
    map: &'p SourceMap,
    types: HashMap<String, (Alias, Option<usize>)>,
    tags: HashMap<String, usize>,
    by_span: HashMap<Span, usize>,
    defs: Vec<Def>,
    consts: HashMap<String, i128>,
    needed: Vec<usize>,
    done: BTreeSet<usize>,
    default_ok: HashMap<usize, bool>,
    switch_hint: HashMap<usize, u8>,
    out: TokenStream,
    used_rust: BTreeSet<String>,
    interfaces: Vec<(Interface, bool, PtrKind)>,
    pdefault: PtrKind,
    /// Interface names (declared, defined, or `IUnknown`): as types they are interface
    /// pointers.
    iface_names: BTreeSet<String>,
    /// Each interface in a module of its own (two of them share operation names).
    iface_modules: bool,
    /// Definitions that are not remotable (a C union without `[case]` labels, a structure
    /// with an unsized conformant array, or a type holding one): left out unless something
    /// on the wire reaches them, which is then an error at the use.
    local_only: BTreeSet<usize>,
}

fn ident(s: &str) -> Ident {
    const KEYWORDS: &[&str] = &[
        "as", "break", "const", "continue", "else", "enum", "extern", "false", "fn", "for", "if",
        "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
        "static", "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "async",
        "await", "dyn", "abstract", "become", "box", "do", "final", "macro", "override", "priv",
        "typeof", "unsized", "virtual", "yield", "try", "gen",
    ];
    if matches!(s, "self" | "Self" | "super" | "crate" | "_") {
        return format_ident!("{}_", s);
    }
    if KEYWORDS.contains(&s) {
        return Ident::new_raw(s, PSpan::call_site());
    }
    Ident::new(s, PSpan::call_site())
}

/// A Rust field, parameter or method name for an IDL name.
pub fn snake(s: &str) -> String {
    let mut out = s.trim_start_matches('_').to_snake_case();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out = format!("v{out}");
    }
    if out == "result" {
        out = "result_".into();
    }
    out
}

/// A Rust type or variant name for an IDL name.
pub fn camel(s: &str) -> String {
    let mut out = s.trim_start_matches('_').to_upper_camel_case();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out = format!("T{out}");
    }
    if RESERVED_TYPES.contains(&out.as_str()) {
        out = format!("Idl{out}");
    }
    out
}

/// Names a structure's anonymous union and structure members (MS-SCMR's
/// `SC_RPC_CONFIG_INFOW`: `[switch_is(dwInfoLevel)] union { ... };`) as the Windows SDK
/// does under `NONAMELESSUNION` (`DUMMYUNIONNAME` is `u`, then `u2`...; `DUMMYSTRUCTNAME` is
/// `s`): the wire does not change, a member needs a name in Rust.
fn name_anonymous_members(mut s: StructDef) -> StructDef {
    let taken: BTreeSet<String> = s
        .fields
        .iter()
        .flatten()
        .map(|f| f.decl.name.clone())
        .collect();
    let (mut unions, mut structs) = (0, 0);
    for f in s.fields.iter_mut().flatten() {
        if !f.decl.name.is_empty() || f.decl.ptrs != 0 || !f.decl.dims.is_empty() {
            continue;
        }
        let (base, n) = match &f.ty {
            TypeSpec::Union(_) => ("u", &mut unions),
            TypeSpec::Struct(_) => ("s", &mut structs),
            _ => continue,
        };
        loop {
            *n += 1;
            let name = if *n == 1 {
                base.to_string()
            } else {
                format!("{base}{n}")
            };
            if !taken.contains(&name) {
                f.decl.name = name;
                break;
            }
        }
    }
    s
}

/// The Rust method name of an operation: its snake_case name, prefixed `get_`, `put_` or
/// `putref_` for a `[propget]`, `[propput]` or `[propputref]` property accessor (as MIDL names
/// them in C: an ODL property's accessors share its name).
fn op_method(op: &Operation) -> String {
    let name = snake(&op.name);
    for (attr, prefix) in [
        ("propget", "get_"),
        ("propput", "put_"),
        ("propputref", "putref_"),
    ] {
        if op.attrs.has(attr) {
            return format!("{prefix}{name}");
        }
    }
    name
}

fn doc(s: &str) -> TokenStream {
    let s = format!(" {s}");
    quote!(#[doc = #s])
}

impl<'p> Lowerer<'p> {
    fn err(&self, kind: ErrorKind, span: Span, msg: impl Into<String>) -> Error {
        self.map.error(kind, span, msg)
    }

    fn unsupported(&self, span: Span, msg: impl Into<String>) -> Error {
        self.err(ErrorKind::Unsupported, span, msg)
    }

    // ---------------------------------------------------------------- collection

    fn collect(&mut self, items: &[Item], main: bool, pdefault: PtrKind) -> Result<()> {
        for item in items {
            match item {
                Item::Typedef(td) => {
                    let canonical = td
                        .decls
                        .iter()
                        .find(|d| d.ptrs == 0 && d.dims.is_empty())
                        .map(|d| d.name.clone());
                    let def = self.register_spec(
                        &td.ty,
                        canonical.as_deref(),
                        &td.attrs,
                        main,
                        pdefault,
                    )?;
                    for d in &td.decls {
                        let alias = Alias {
                            attrs: td.attrs.clone(),
                            ty: td.ty.clone(),
                            ptrs: d.ptrs,
                            dims: d.dims.clone(),
                        };
                        let is_def = def.filter(|_| d.ptrs == 0 && d.dims.is_empty());
                        self.types.insert(d.name.clone(), (alias, is_def));
                    }
                }
                Item::TypeDecl(ty, _) => {
                    self.register_spec(ty, None, &Attrs::default(), main, pdefault)?;
                }
                Item::Const(_, name, e, span) => match self.eval(e) {
                    Ok(v) => {
                        self.consts.insert(name.clone(), v);
                    }
                    Err(_) if matches!(e, Expr::Str(..)) => {}
                    Err((_, why)) => {
                        return Err(self.err(
                            ErrorKind::Type,
                            *span,
                            format!("`{name}` is not an integer constant: {why}"),
                        ));
                    }
                },
                Item::Interface(i) => {
                    let pd = match i.attrs.expr("pointer_default") {
                        Some(Expr::Name(n, _)) if n == "ref" => PtrKind::Ref,
                        Some(Expr::Name(n, _)) if n == "ptr" => PtrKind::Full,
                        _ => PtrKind::Unique,
                    };
                    self.collect(&i.items, main, pd)?;
                    self.iface_names.insert(i.name.clone());
                    self.interfaces.push((i.clone(), main, pd));
                }
                Item::Operation(op) => {
                    for p in &op.params {
                        self.register_spec(&p.ty, None, &Attrs::default(), main, pdefault)?;
                    }
                }
                Item::ForwardInterface(n, _) => {
                    self.iface_names.insert(n.clone());
                }
                Item::Import(_) | Item::Skipped(..) => {}
            }
        }
        Ok(())
    }

    /// Registers the definitions inside `ty` (and nested ones); returns the index of `ty`'s
    /// own definition.
    fn register_spec(
        &mut self,
        ty: &TypeSpec,
        name: Option<&str>,
        attrs: &Attrs,
        main: bool,
        pdefault: PtrKind,
    ) -> Result<Option<usize>> {
        let (tag, span, kind, has_body) = match ty {
            TypeSpec::Struct(s) => (
                s.tag.clone(),
                s.span,
                DefKind::Struct(name_anonymous_members((**s).clone())),
                s.fields.is_some(),
            ),
            TypeSpec::Union(u) => (
                u.tag.clone(),
                u.span,
                DefKind::Union((**u).clone()),
                u.arms.is_some(),
            ),
            TypeSpec::Enum(e) => (
                e.tag.clone(),
                e.span,
                DefKind::Enum((**e).clone()),
                e.items.is_some(),
            ),
            _ => return Ok(None),
        };
        if !has_body {
            return Ok(tag.and_then(|t| self.tags.get(&t).copied()));
        }
        let idl = name
            .map(str::to_string)
            .or_else(|| tag.clone())
            .unwrap_or_else(|| format!("anonymous_{}_{}", span.line, span.col));
        let idx = self.defs.len();
        let mut rust = camel(&idl);
        if let DefKind::Enum(e) = &kind {
            // enumerators are constants in the enclosing scope
            let mut next = 0i128;
            for (n, v, s) in e.items.iter().flatten() {
                let val = match v {
                    Some(v) => self.eval(v).map_err(|(sp, m)| {
                        self.err(
                            ErrorKind::Type,
                            if sp == Span::default() { *s } else { sp },
                            m,
                        )
                    })?,
                    None => next,
                };
                self.consts.insert(n.clone(), val);
                next = val + 1;
            }
        }
        while self.defs.iter().any(|d| d.rust == rust) {
            rust.push('_');
        }
        self.defs.push(Def {
            idl,
            rust,
            kind: kind.clone(),
            attrs: attrs.clone(),
            span,
            main,
            pdefault,
        });
        self.by_span.insert(span, idx);
        if let Some(t) = tag {
            self.tags.insert(t, idx);
        }
        // nested definitions
        match &kind {
            DefKind::Struct(s) => {
                for f in s.fields.iter().flatten() {
                    let n = format!(
                        "{}_{}",
                        self.defs.get(idx).map_or("", |d| d.idl.as_str()),
                        f.decl.name
                    );
                    self.register_spec(&f.ty, Some(&n), &Attrs::default(), main, pdefault)?;
                }
            }
            DefKind::Union(u) => {
                for a in u.arms.iter().flatten() {
                    if let Some(f) = &a.field {
                        let n = format!(
                            "{}_{}",
                            self.defs.get(idx).map_or("", |d| d.idl.as_str()),
                            f.decl.name
                        );
                        self.register_spec(&f.ty, Some(&n), &Attrs::default(), main, pdefault)?;
                    }
                }
            }
            DefKind::Enum(_) => {}
        }
        Ok(Some(idx))
    }

    fn eval(&self, e: &Expr) -> std::result::Result<i128, (Span, String)> {
        eval::eval(e, &|n| self.consts.get(n).copied(), &|n| self.type_size(n))
    }

    /// `sizeof(NAME)` for a typedef name, as a C compiler lays the type out with NDR20's
    /// sizes (the ones `sizeof` of a base type gives): base types, enums (4), GUIDs (16),
    /// pointers (4), fixed arrays and structures of those (members at their natural
    /// alignment, the size a multiple of the largest). `None` for anything else.
    fn type_size(&self, name: &str) -> Option<i128> {
        let r = self
            .resolve(
                &TypeSpec::Named(name.to_string(), Span::default()),
                0,
                &[],
                &Attrs::default(),
                0,
            )
            .ok()?;
        self.size_align(&r, 0, 0).map(|(size, _)| size)
    }

    /// Size and alignment of `r.levels[i..]` over its leaf (see [`Lowerer::type_size`]).
    fn size_align(&self, r: &Resolved, i: usize, depth: usize) -> Option<(i128, i128)> {
        if depth > 16 {
            return None;
        }
        match r.levels.get(i) {
            Some(Level::Ptr) => return Some((4, 4)),
            Some(Level::Array(Dim::Fixed(e))) => {
                let n = self.eval(e).ok()?;
                let (size, align) = self.size_align(r, i + 1, depth)?;
                return Some((n.checked_mul(size)?, align));
            }
            Some(Level::Array(Dim::Open)) => return None,
            None => {}
        }
        match &r.leaf {
            Leaf::Base(Base::Void | Base::HandleT) => None,
            Leaf::Base(b) => {
                let n = i128::from(crate::parse::base_size(*b));
                Some((n, n))
            }
            Leaf::Uuid => Some((16, 4)),
            Leaf::InterfacePtr => Some((4, 4)),
            Leaf::ContextHandle | Leaf::Pipe(_) | Leaf::Interface => None,
            Leaf::Def(idx) => match self.defs.get(*idx).map(|d| &d.kind) {
                Some(DefKind::Enum(_)) => Some((4, 4)),
                Some(DefKind::Struct(st)) => {
                    let (mut size, mut align) = (0i128, 1i128);
                    for f in st.fields.as_ref()? {
                        let fr = self.field_resolved(f).ok()?;
                        if ["size_is", "length_is", "max_is", "last_is"]
                            .iter()
                            .any(|a| fr.attrs.has(a))
                            && !matches!(fr.levels.first(), Some(Level::Ptr))
                        {
                            return None;
                        }
                        let (fs, fa) = self.size_align(&fr, 0, depth + 1)?;
                        size = size.checked_add(fa - 1)? / fa * fa;
                        size = size.checked_add(fs)?;
                        align = align.max(fa);
                    }
                    Some((size.checked_add(align - 1)? / align * align, align))
                }
                _ => None,
            },
        }
    }

    fn eval_located(&self, e: &Expr) -> Result<i128> {
        self.eval(e)
            .map_err(|(s, m)| self.err(ErrorKind::Type, s, m))
    }

    // ---------------------------------------------------------------- resolution

    fn resolve(
        &self,
        ty: &TypeSpec,
        ptrs: u32,
        dims: &[Dim],
        attrs: &Attrs,
        depth: usize,
    ) -> Result<Resolved> {
        let mut levels: Vec<Level> = dims.iter().cloned().map(Level::Array).collect();
        levels.extend((0..ptrs).map(|_| Level::Ptr));
        let span = spec_span(ty);
        if depth > 32 {
            return Err(self.err(
                ErrorKind::Type,
                span,
                "typedefs nest more than 32 deep (a cycle?)",
            ));
        }
        let mut r = match ty {
            TypeSpec::Base(b) => Resolved {
                levels: Vec::new(),
                leaf: Leaf::Base(*b),
                attrs: Attrs::default(),
                level_ptr: Vec::new(),
            },
            TypeSpec::Pipe(elem, _) => Resolved {
                levels: Vec::new(),
                leaf: Leaf::Pipe(elem.clone()),
                attrs: Attrs::default(),
                level_ptr: Vec::new(),
            },
            TypeSpec::Struct(_) | TypeSpec::Union(_) | TypeSpec::Enum(_) => {
                let idx = self.def_of(ty).ok_or_else(|| {
                    self.err(
                        ErrorKind::Type,
                        span,
                        "reference to an undefined structure, union or enum tag",
                    )
                })?;
                Resolved {
                    levels: Vec::new(),
                    leaf: self.def_leaf(idx),
                    attrs: Attrs::default(),
                    level_ptr: Vec::new(),
                }
            }
            TypeSpec::Named(n, _)
                if !self.types.contains_key(n) && self.iface_names.contains(n) =>
            {
                Resolved {
                    levels: Vec::new(),
                    leaf: Leaf::Interface,
                    attrs: Attrs::default(),
                    level_ptr: Vec::new(),
                }
            }
            TypeSpec::Named(n, nspan) => {
                let Some((alias, def)) = self.types.get(n) else {
                    return Err(self
                        .err(ErrorKind::Type, *nspan, format!("undefined type `{n}`"))
                        .expected_found(
                            "a type defined by a typedef, the prelude or an import",
                            format!("`{n}`"),
                        ));
                };
                if let Some(idx) = def {
                    Resolved {
                        levels: Vec::new(),
                        leaf: self.def_leaf(*idx),
                        attrs: alias.attrs.clone(),
                        level_ptr: Vec::new(),
                    }
                } else {
                    let wire = ["wire_marshal", "transmit_as", "user_marshal"]
                        .iter()
                        .find_map(|a| alias.attrs.get(a))
                        .and_then(|a| match a.args.first() {
                            Some(AttrArg::Type(t, p)) => Some((t.clone(), *p)),
                            _ => None,
                        });
                    match wire {
                        Some((t, p)) => self.resolve(&t, p, &[], &Attrs::default(), depth + 1)?,
                        None => self.resolve(
                            &alias.ty,
                            alias.ptrs,
                            &alias.dims,
                            &alias.attrs,
                            depth + 1,
                        )?,
                    }
                }
            }
        };
        // A typedef's pointer attribute belongs to its own first pointer: when the use adds
        // levels in front of it, that pointer is not the value's first level.
        let outer = levels.len();
        let mut level_ptr: Vec<(usize, PtrKind)> =
            r.level_ptr.iter().map(|&(i, k)| (i + outer, k)).collect();
        let mut inner_attrs = r.attrs.clone();
        if outer > 0 && r.levels.first() == Some(&Level::Ptr) {
            let kind = if inner_attrs.has("ref") {
                Some(PtrKind::Ref)
            } else if inner_attrs.has("unique") {
                Some(PtrKind::Unique)
            } else if inner_attrs.has("ptr") {
                Some(PtrKind::Full)
            } else {
                None
            };
            if let Some(k) = kind {
                level_ptr.push((outer, k));
                inner_attrs
                    .0
                    .retain(|a| !matches!(a.name.as_str(), "ref" | "unique" | "ptr"));
            }
        }
        levels.append(&mut r.levels);
        let mut attrs = attrs.merged(&inner_attrs);
        attrs.0.retain(|a| {
            !matches!(
                a.name.as_str(),
                "wire_marshal" | "transmit_as" | "user_marshal"
            )
        });
        let mut leaf = r.leaf;
        if attrs.has("context_handle")
            && leaf == Leaf::Base(Base::Void)
            && levels.last() == Some(&Level::Ptr)
        {
            levels.pop();
            leaf = Leaf::ContextHandle;
        }
        // the pointer to an interface (or, with iid_is, a `void *`) is the interface pointer
        if (leaf == Leaf::Interface || (leaf == Leaf::Base(Base::Void) && attrs.has("iid_is")))
            && levels.last() == Some(&Level::Ptr)
        {
            levels.pop();
            leaf = Leaf::InterfacePtr;
        }
        Ok(Resolved {
            levels,
            leaf,
            attrs,
            level_ptr,
        })
    }

    fn def_of(&self, ty: &TypeSpec) -> Option<usize> {
        let (span, tag) = match ty {
            TypeSpec::Struct(s) => (s.span, &s.tag),
            TypeSpec::Union(u) => (u.span, &u.tag),
            TypeSpec::Enum(e) => (e.span, &e.tag),
            _ => return None,
        };
        self.by_span
            .get(&span)
            .copied()
            .or_else(|| tag.as_ref().and_then(|t| self.tags.get(t).copied()))
    }

    fn def_leaf(&self, idx: usize) -> Leaf {
        match self.defs.get(idx) {
            Some(d) if GUID_NAMES.contains(&d.idl.as_str()) => Leaf::Uuid,
            _ => Leaf::Def(idx),
        }
    }

    fn field_resolved(&self, f: &Field) -> Result<Resolved> {
        self.resolve(&f.ty, f.decl.ptrs, &f.decl.dims, &f.attrs, 0)
    }

    // ---------------------------------------------------------------- values

    fn leaf_type(&mut self, leaf: &Leaf, span: Span, attrs: &Attrs) -> Result<Lowered> {
        let plain = |ty: TokenStream, bits: Option<u8>| Lowered {
            ty,
            ndr: Vec::new(),
            default_ok: true,
            bits,
        };
        Ok(match leaf {
            Leaf::Base(b) => match b {
                Base::Int { bits, signed } => {
                    let t = format_ident!("{}{}", if *signed { "i" } else { "u" }, bits);
                    plain(quote!(#t), Some(*bits))
                }
                Base::Int3264 { signed: true } => plain(quote!(::msrpc_ndr::Int3264), None),
                Base::Int3264 { signed: false } => plain(quote!(::msrpc_ndr::UInt3264), None),
                Base::Char | Base::Byte => plain(quote!(u8), Some(8)),
                Base::Boolean => plain(quote!(bool), Some(8)),
                Base::WChar => plain(quote!(u16), Some(16)),
                Base::Float => plain(quote!(f32), None),
                Base::Double => plain(quote!(f64), None),
                Base::ErrorStatus => plain(quote!(u32), Some(32)),
                Base::Void => return Err(self.err(ErrorKind::Type, span, "`void` is not a wire type (a `void *` needs [context_handle])")),
                Base::HandleT => return Err(self.unsupported(span, "a `handle_t` inside a type (a primitive handle is not on the wire; only a parameter may be one)")),
            },
            Leaf::Uuid => plain(quote!(::msrpc_ndr::Uuid), None),
            Leaf::ContextHandle => plain(quote!(::msrpc_ndr::ContextHandle), None),
            Leaf::InterfacePtr => plain(quote!(::msrpc_ndr::Unique<::msrpc_dcom::MInterfacePointer>), None),
            Leaf::Interface => return Err(self.err(ErrorKind::Type, span, "an interface by value (only a pointer to one, an interface pointer, is a wire type)")),
            Leaf::Pipe(elem) => {
                let er = self.resolve(elem, 0, &[], &Attrs::default(), 0)?;
                if !er.levels.is_empty() || matches!(er.leaf, Leaf::Pipe(_) | Leaf::ContextHandle) || self.has_pointer_or_array(&er, 0) {
                    return Err(self.err(ErrorKind::Type, span, "a pipe's elements are neither pipes, pointers, context handles nor conformant or varying arrays, nor structures holding them (C706, MS-RPCE 2.2.5.3.4.5)"));
                }
                let et = self.leaf_type(&er.leaf, span, &er.attrs)?.ty;
                Lowered { ty: quote!(::msrpc_ndr::Pipe<#et>), ndr: vec![quote!(pipe)], default_ok: true, bits: None }
            }
            Leaf::Def(idx) => {
                let idx = *idx;
                if self.local_only.contains(&idx) {
                    let what = self.defs.get(idx).map_or_else(String::new, |d| {
                        format!("`{}` (defined at {})", d.idl, self.map.locate(d.span))
                    });
                    return Err(self.unsupported(span, format!("a type that is not remotable on the wire: {what} is or holds a C union without [case] labels, a conformant array without a size or a `void *` (local-only types)")));
                }
                if !self.done.contains(&idx) && !self.needed.contains(&idx) {
                    self.needed.push(idx);
                }
                let Some(d) = self.defs.get(idx) else {
                    return Err(self.err(ErrorKind::Type, span, "internal: unknown definition"));
                };
                let name = ident(&d.rust);
                let bits = match &d.kind {
                    DefKind::Enum(_) => Some(if d.attrs.has("v1_enum") || attrs.has("v1_enum") { 32 } else { 16 }),
                    _ => None,
                };
                let default_ok = match &d.kind {
                    DefKind::Union(_) => false,
                    DefKind::Enum(_) => true,
                    DefKind::Struct(_) => self.def_default(idx, 0),
                };
                Lowered { ty: quote!(#name), ndr: Vec::new(), default_ok, bits }
            }
        })
    }

    /// Whether the type lowered for definition `idx` can derive `Default`.
    fn def_default(&self, idx: usize, depth: usize) -> bool {
        if depth > 16 {
            return false;
        }
        match self.defs.get(idx).map(|d| &d.kind) {
            Some(DefKind::Enum(_)) => true,
            Some(DefKind::Struct(s)) => s.fields.iter().flatten().all(|f| {
                let Ok(r) = self.field_resolved(f) else {
                    return false;
                };
                let sized = ["size_is", "length_is", "max_is", "last_is", "string"]
                    .iter()
                    .any(|a| r.attrs.has(a));
                match r.levels.first() {
                    Some(Level::Ptr | Level::Array(Dim::Open)) => true,
                    Some(Level::Array(Dim::Fixed(e))) => {
                        sized || self.eval(e).is_ok_and(|n| n <= 32)
                    }
                    None => match r.leaf {
                        Leaf::Def(i) => self.def_default(i, depth + 1),
                        _ => true,
                    },
                }
            }),
            _ => false,
        }
    }

    /// Whether a value of type `r` holds a pointer or a conformant or varying array (what a
    /// pipe's elements may not), looking through structures and unions.
    fn has_pointer_or_array(&self, r: &Resolved, depth: usize) -> bool {
        if depth > 16 {
            return true;
        }
        let varying = ["size_is", "length_is", "max_is", "last_is", "string"]
            .iter()
            .any(|a| r.attrs.has(a));
        if varying
            || r.leaf == Leaf::InterfacePtr
            || r.levels
                .iter()
                .any(|l| matches!(l, Level::Ptr | Level::Array(Dim::Open)))
        {
            return true;
        }
        let Leaf::Def(idx) = r.leaf else { return false };
        let fields = self
            .defs
            .get(idx)
            .map(|d| d.kind.fields())
            .unwrap_or_default();
        fields.into_iter().any(|f| {
            self.field_resolved(f)
                .map_or(true, |fr| self.has_pointer_or_array(&fr, depth + 1))
        })
    }

    fn is_conformant(&self, idx: usize, depth: usize) -> bool {
        let Some(Def {
            kind: DefKind::Struct(s),
            ..
        }) = self.defs.get(idx)
        else {
            return false;
        };
        let Some(last) = s.fields.as_ref().and_then(|f| f.last()) else {
            return false;
        };
        let Ok(r) = self.field_resolved(last) else {
            return false;
        };
        match (r.levels.first(), &r.leaf) {
            (Some(Level::Array(Dim::Open)), _) => true,
            (None, Leaf::Def(i)) if depth < 16 => self.is_conformant(*i, depth + 1),
            _ => false,
        }
    }

    /// Lowers a field, parameter, arm or element of resolved type `r`.
    #[allow(clippy::too_many_arguments)]
    fn lower_value(
        &mut self,
        r: &Resolved,
        pos: Pos,
        span: Span,
        sib: &Siblings,
        owner: &str,
        pdefault: PtrKind,
        wrappers: &mut TokenStream,
    ) -> Result<Lowered> {
        let a = &r.attrs;
        // sizes per level
        let mut sizes: Vec<Option<String>> = Vec::new();
        let mut lengths: Vec<Option<String>> = Vec::new();
        for (name, plus_one, into_len) in [
            ("size_is", false, false),
            ("max_is", true, false),
            ("length_is", false, true),
            ("last_is", true, true),
        ] {
            if let Some(list) = a.exprs(name) {
                for (i, e) in list.into_iter().enumerate() {
                    let Some(e) = e else { continue };
                    if pos != Pos::Param {
                        self.no_member_referent(e, sib)?;
                    }
                    let mut s = self.sizing(e, sib)?;
                    if plus_one {
                        s = format!("::msrpc_ndr::ndr_count({s}).wrapping_add(1)");
                    }
                    let v = if into_len { &mut lengths } else { &mut sizes };
                    while v.len() <= i {
                        v.push(None);
                    }
                    if let Some(slot) = v.get_mut(i) {
                        *slot = Some(s);
                    }
                }
            }
        }
        for name in ["first_is", "min_is"] {
            if let Some(list) = a.exprs(name) {
                for e in list.into_iter().flatten() {
                    if self.eval(e).ok() != Some(0) {
                        return Err(self.unsupported(e.span(), format!("`{name}` with a value other than 0 (arrays whose first transmitted element is not 0)")));
                    }
                }
            }
        }
        let sized_levels: Vec<usize> = (0..sizes.len().max(lengths.len()))
            .filter(|i| {
                sizes.get(*i).is_some_and(Option::is_some)
                    || lengths.get(*i).is_some_and(Option::is_some)
            })
            .collect();
        if sized_levels.len() > 1 {
            return Err(self.unsupported(span, "sizes on more than one level (`size_is(a, b)` with both given: an array of pointers to arrays)"));
        }
        let k = sized_levels.first().copied();
        if let Some(k) = k {
            if k >= r.levels.len() {
                return Err(self
                    .err(
                        ErrorKind::Type,
                        span,
                        "size_is/length_is on a value that is neither a pointer nor an array",
                    )
                    .expected_found("a pointer or an array", "a plain value"));
            }
        }
        let string = a.has("string");
        let char_leaf = matches!(
            r.leaf,
            Leaf::Base(Base::Char | Base::Byte | Base::WChar | Base::Int { bits: 8 | 16, .. })
        );
        // the level a [string] applies to: the innermost
        let string_level = if string {
            if !char_leaf || r.levels.is_empty() {
                return Err(self
                    .err(
                        ErrorKind::Type,
                        span,
                        "[string] applies to a pointer to or an array of characters",
                    )
                    .expected_found("char, wchar_t or byte characters", "another type"));
            }
            Some(r.levels.len() - 1)
        } else {
            None
        };
        let wide = !matches!(
            r.leaf,
            Leaf::Base(Base::Char | Base::Byte | Base::Int { bits: 8, .. })
        );
        let ptr_attr = if a.has("ref") {
            Some(PtrKind::Ref)
        } else if a.has("unique") {
            Some(PtrKind::Unique)
        } else if a.has("ptr") {
            Some(PtrKind::Full)
        } else {
            None
        };
        let switch = match a.expr("switch_is") {
            Some(e) => Some(self.sizing(e, sib)?),
            None => None,
        };
        if let (Some(e), Leaf::Def(idx)) = (a.expr("switch_is"), &r.leaf) {
            // remember the discriminant's width for a union without switch_type: the member's
            // own `switch_type(T)` (MS-DHCPM's DHCP_SUBNET_ELEMENT_DATA, MS-ADTS' CLAIM_ENTRY),
            // else the switch_is expression's
            let st = a.get("switch_type").and_then(|at| match at.args.first() {
                Some(AttrArg::Type(t, 0)) => Some(t.clone()),
                _ => None,
            });
            let bits = match st {
                Some(t) => {
                    let tr = self.resolve(&t, 0, &[], &Attrs::default(), 0)?;
                    Some(self.switch_bits(&tr, span)?)
                }
                None => self.expr_bits(e, sib),
            };
            if let Some(b) = bits {
                self.switch_hint.entry(*idx).or_insert(b);
            }
        }
        let range = match a.get("range") {
            Some(at) => {
                let vals: Vec<i128> = at
                    .args
                    .iter()
                    .filter_map(|x| match x {
                        AttrArg::Expr(Some(e)) => Some(self.eval_located(e)),
                        _ => None,
                    })
                    .collect::<Result<_>>()?;
                match vals.as_slice() {
                    [lo, hi] => Some((*lo, *hi)),
                    _ => {
                        return Err(self
                            .err(ErrorKind::Type, at.span, "`range` takes two bounds")
                            .expected_found("range(low, high)", format!("{} values", vals.len())))
                    }
                }
            }
            None => None,
        };
        let mut st = Walk {
            sizes,
            lengths,
            k,
            string_level,
            wide,
            switch,
            range,
            ptr_attr,
            pdefault,
            owner: owner.to_string(),
            span,
        };
        self.walk(r, 0, pos, true, &mut st, wrappers)
    }

    /// Lowers `r.levels[i..]`; `attrs_here` tells whether the code generator's attributes can
    /// still reach this level (no `Vec` or fixed array in between).
    fn walk(
        &mut self,
        r: &Resolved,
        i: usize,
        pos: Pos,
        attrs_here: bool,
        st: &mut Walk,
        wrappers: &mut TokenStream,
    ) -> Result<Lowered> {
        let span = st.span;
        let top_param = pos == Pos::Param && i == 0;
        let Some(level) = r.levels.get(i) else {
            // the leaf
            let mut l = self.leaf_type(&r.leaf, span, &r.attrs)?;
            if let Some(sw) = &st.switch {
                if !attrs_here {
                    return Err(self.unsupported(span, "switch_is on the elements of an array"));
                }
                l.ndr.push(quote!(switch_is = #sw));
            }
            if let Some((lo, hi)) = st.range {
                if l.bits.is_some() && attrs_here {
                    let lo = Literal::i128_unsuffixed(lo);
                    let hi = Literal::i128_unsuffixed(hi);
                    l.ndr.push(quote!(range(#lo, #hi)));
                }
            }
            if matches!(r.leaf, Leaf::Pipe(_)) && pos != Pos::Param {
                return Err(self.err(ErrorKind::Type, span, "a pipe is a parameter (or a [ref] pointer parameter's referent), never inside another type"));
            }
            if let Leaf::Def(idx) = r.leaf {
                if matches!(pos, Pos::Member { .. } | Pos::Arm | Pos::Element)
                    && i == 0
                    && self.is_conformant(idx, 0)
                {
                    return Err(self.unsupported(span, "a conformant structure embedded in another structure, a union or an array (its max_count must be hoisted to the outer structure's front)"));
                }
            }
            return Ok(l);
        };
        let is_string_here = st.string_level == Some(i);
        let sized_here = st.k == Some(i);
        let size = st.sizes.get(i).cloned().flatten();
        let length = st.lengths.get(i).cloned().flatten();
        let ptr_kind = |st: &Walk| {
            if let Some(&(_, k)) = r.level_ptr.iter().find(|&&(j, _)| j == i) {
                return k;
            }
            if i == 0 {
                st.ptr_attr.unwrap_or(if pos == Pos::Param {
                    PtrKind::Ref
                } else {
                    st.pdefault
                })
            } else {
                st.pdefault
            }
        };
        match level {
            Level::Ptr => {
                let kind = ptr_kind(st);
                let inner = if sized_here || is_string_here {
                    // pointer to an array or a string: the referent is a Vec / String
                    let mut l = if is_string_here {
                        let mut ndr = vec![if st.wide {
                            quote!(string)
                        } else {
                            quote!(string = "char")
                        }];
                        if let Some(s) = &size {
                            ndr.push(quote!(size_is = #s));
                        }
                        if length.is_some() {
                            return Err(self.unsupported(span, "length_is on a [string]"));
                        }
                        Lowered {
                            ty: quote!(::std::string::String),
                            ndr,
                            default_ok: true,
                            bits: None,
                        }
                    } else {
                        let elem = self.element(r, i + 1, st, wrappers)?;
                        let et = &elem.ty;
                        let mut ndr = Vec::new();
                        match (&size, &length) {
                            (Some(s), Some(l)) => {
                                ndr.push(quote!(size_is = #s));
                                ndr.push(quote!(length_is = #l));
                            }
                            (Some(s), None) => ndr.push(quote!(size_is = #s)),
                            (None, Some(_)) => return Err(self.unsupported(span, "length_is without size_is on a pointer (a varying array behind a pointer)")),
                            (None, None) => {}
                        }
                        Lowered {
                            ty: quote!(::std::vec::Vec<#et>),
                            ndr,
                            default_ok: true,
                            bits: None,
                        }
                    };
                    if !attrs_here {
                        return Err(self.unsupported(
                            span,
                            "a sized or [string] pointer inside an array element",
                        ));
                    }
                    l.bits = None;
                    l
                } else {
                    self.walk(
                        r,
                        i + 1,
                        if top_param { Pos::Param } else { Pos::Element },
                        attrs_here,
                        st,
                        wrappers,
                    )
                    .map(|mut l| {
                        l.bits = None;
                        l
                    })?
                };
                if matches!(r.leaf, Leaf::Pipe(_)) && kind != PtrKind::Ref {
                    return Err(self.err(
                        ErrorKind::Type,
                        span,
                        "a pointer to a pipe is a [ref] pointer",
                    ));
                }
                let inner_ty = &inner.ty;
                let ty = if top_param {
                    match kind {
                        PtrKind::Ref => inner.ty.clone(),
                        PtrKind::Unique | PtrKind::Full => {
                            quote!(::core::option::Option<#inner_ty>)
                        }
                    }
                } else {
                    match kind {
                        PtrKind::Ref => quote!(::msrpc_ndr::Ref<#inner_ty>),
                        PtrKind::Unique => quote!(::msrpc_ndr::Unique<#inner_ty>),
                        PtrKind::Full => quote!(::msrpc_ndr::Full<#inner_ty>),
                    }
                };
                let default_ok = match (top_param, kind) {
                    (true, PtrKind::Ref) => inner.default_ok,
                    (false, PtrKind::Ref) => false,
                    _ => true,
                };
                if !top_param && kind == PtrKind::Ref && !inner.default_ok {
                    return Err(self.unsupported(
                        span,
                        "an embedded [ref] pointer to a type without a default value (a union)",
                    ));
                }
                Ok(Lowered {
                    ty,
                    ndr: inner.ndr,
                    default_ok,
                    bits: None,
                })
            }
            Level::Array(dim) => {
                if is_string_here {
                    let mut ndr = vec![if st.wide {
                        quote!(string)
                    } else {
                        quote!(string = "char")
                    }];
                    match dim {
                        Dim::Fixed(e) => {
                            let n = self.eval_located(e)?;
                            let n = Literal::i128_unsuffixed(n);
                            ndr.push(quote!(max = #n));
                        }
                        Dim::Open => {
                            if let Some(s) = &size {
                                ndr.push(quote!(size_is = #s));
                            }
                        }
                    }
                    if !attrs_here {
                        return Err(
                            self.unsupported(span, "a [string] array inside an array element")
                        );
                    }
                    return Ok(Lowered {
                        ty: quote!(::std::string::String),
                        ndr,
                        default_ok: true,
                        bits: None,
                    });
                }
                if sized_here {
                    let elem = self.element(r, i + 1, st, wrappers)?;
                    let et = &elem.ty;
                    let mut ndr = Vec::new();
                    match dim {
                        Dim::Fixed(e) => {
                            if size.is_some() {
                                return Err(self.unsupported(span, "size_is on a fixed-size array"));
                            }
                            let n = self.eval_located(e)?;
                            let n = Literal::i128_unsuffixed(n);
                            ndr.push(quote!(max = #n));
                            if let Some(l) = &length {
                                ndr.push(quote!(length_is = #l));
                            }
                        }
                        Dim::Open => match (&size, &length) {
                            (Some(s), Some(l)) => {
                                ndr.push(quote!(size_is = #s));
                                ndr.push(quote!(length_is = #l));
                            }
                            (Some(s), None) => ndr.push(quote!(size_is = #s)),
                            _ => {
                                return Err(self.unsupported(
                                    span,
                                    "a conformant array without size_is (length_is alone)",
                                ))
                            }
                        },
                    }
                    if !attrs_here {
                        return Err(self.unsupported(span, "a sized array inside an array element"));
                    }
                    return Ok(Lowered {
                        ty: quote!(::std::vec::Vec<#et>),
                        ndr,
                        default_ok: true,
                        bits: None,
                    });
                }
                match dim {
                    Dim::Fixed(e) => {
                        let n = self.eval_located(e)?;
                        let elem = self.element(r, i + 1, st, wrappers)?;
                        let et = &elem.ty;
                        let n_lit =
                            Literal::usize_unsuffixed(usize::try_from(n).map_err(|_| {
                                self.err(ErrorKind::Type, e.span(), "array size out of range")
                            })?);
                        Ok(Lowered {
                            ty: quote!([#et; #n_lit]),
                            ndr: Vec::new(),
                            default_ok: elem.default_ok && n <= 32,
                            bits: None,
                        })
                    }
                    Dim::Open => {
                        if pos == Pos::Param && i == 0 {
                            // an unsized open array parameter: the conformant form, counted by itself
                            let elem = self.element(r, i + 1, st, wrappers)?;
                            let et = &elem.ty;
                            return Ok(Lowered {
                                ty: quote!(::std::vec::Vec<#et>),
                                ndr: Vec::new(),
                                default_ok: true,
                                bits: None,
                            });
                        }
                        Err(self.unsupported(
                            span,
                            "a conformant array (`[]`) without size_is or max_is",
                        ))
                    }
                }
            }
        }
    }

    /// The element type of an array at `r.levels[i..]`: a wrapper tuple structure when the
    /// element needs attributes of its own (a `[string]` pointer, a union with switch_is).
    fn element(
        &mut self,
        r: &Resolved,
        i: usize,
        st: &mut Walk,
        wrappers: &mut TokenStream,
    ) -> Result<Lowered> {
        let switch = st.switch.take();
        let range = st.range.take();
        let mut el = self.walk(r, i, Pos::Element, true, st, wrappers)?;
        st.switch = switch;
        st.range = range;
        if el.ndr.is_empty() {
            return Ok(el);
        }
        let name = ident(&format!("{}Item", st.owner));
        let ty = &el.ty;
        let ndr = &el.ndr;
        let d = doc(&format!("An element of `{}` (a wrapper carrying the element's attributes; the same bytes as the element).", st.owner));
        wrappers.extend(quote! {
            #d
            #[derive(::msrpc_ndr::Ndr, Clone, Debug, PartialEq)]
            pub struct #name(#[ndr(#(#ndr),*)] pub #ty);
        });
        el.ty = quote!(#name);
        el.ndr = Vec::new();
        el.default_ok = false;
        Ok(el)
    }

    fn expr_bits(&self, e: &Expr, sib: &Siblings) -> Option<u8> {
        let name = match e {
            Expr::Name(n, _) => n,
            Expr::Unary("*", inner, _) => match &**inner {
                Expr::Name(n, _) => n,
                _ => return None,
            },
            // an expression over a sibling (MS-RPRN's `switch_is(0x00FFFFFF & Level)`): the
            // sibling's width, the widest when there are several
            Expr::Binary(_, a, b, _) => {
                let width = |b: u8| if b == ENUM16 { 16 } else { b };
                return match (self.expr_bits(a, sib), self.expr_bits(b, sib)) {
                    (Some(x), Some(y)) => Some(if width(y) > width(x) { y } else { x }),
                    (x, y) => x.or(y),
                };
            }
            Expr::Unary(_, a, _) | Expr::Cast(_, a, _) => return self.expr_bits(a, sib),
            _ => return None,
        };
        let (_, r) = sib.get(name)?;
        match &r.leaf {
            Leaf::Base(Base::Int { bits, .. }) => Some(*bits),
            Leaf::Base(Base::Char | Base::Byte | Base::Boolean) => Some(8),
            Leaf::Base(Base::WChar) => Some(16),
            Leaf::Base(Base::ErrorStatus) => Some(32),
            Leaf::Def(i) => match self.defs.get(*i) {
                Some(Def {
                    kind: DefKind::Enum(_),
                    attrs,
                    ..
                }) => Some(if attrs.has("v1_enum") || r.attrs.has("v1_enum") {
                    32
                } else {
                    ENUM16
                }),
                _ => None,
            },
            _ => None,
        }
    }

    /// Refuses `*p` in a structure member's size when `p` is a pointer member: its referent is
    /// read in the structure's deferred part, possibly after the value it sizes (a parameter's
    /// is read in parameter order, and a later one is a deferred check). Not in the published
    /// IDL, where every `*p` sizing names a parameter.
    fn no_member_referent(&self, e: &Expr, sib: &Siblings) -> Result<()> {
        match e {
            Expr::Unary("*", inner, s) => {
                if let Expr::Name(n, _) = &**inner {
                    if let Some((_, r)) = sib.get(n) {
                        if r.levels.first() == Some(&Level::Ptr) {
                            return Err(self.unsupported(*s, format!("a structure member's size taken from the referent of the pointer member `{n}`")));
                        }
                    }
                }
                self.no_member_referent(inner, sib)
            }
            Expr::Unary(_, a, _) | Expr::Cast(_, a, _) | Expr::Member(a, _, _) => {
                self.no_member_referent(a, sib)
            }
            Expr::Binary(_, a, b, _) => {
                self.no_member_referent(a, sib)?;
                self.no_member_referent(b, sib)
            }
            Expr::Cond(c, a, b, _) => {
                self.no_member_referent(c, sib)?;
                self.no_member_referent(a, sib)?;
                self.no_member_referent(b, sib)
            }
            _ => Ok(()),
        }
    }

    /// A sizing expression as the Rust expression string the code generator takes.
    fn sizing(&self, e: &Expr, sib: &Siblings) -> Result<String> {
        match e {
            Expr::Name(n, s) => match sib.get(n) {
                // `r#type` for a sibling named by a keyword (MS-ADTS' CLAIM_ENTRY `Type`)
                Some((rust, _)) => Ok(ident(rust).to_string()),
                None => match self.consts.get(n) {
                    Some(v) => Ok(format!("{v}u64")),
                    None => Err(self
                        .err(ErrorKind::Type, *s, format!("`{n}` in a sizing expression is neither a sibling field or parameter nor a constant"))
                        .expected_found("a field, parameter or constant", format!("`{n}`"))),
                },
            },
            Expr::Unary("*", inner, s) => match &**inner {
                // `*p`: the referent's value. A `[unique]` or `[ptr]` `p` (an `Option`, a
                // `Unique`, a `Full`) counts as 0 when null (msrpc_ndr::NdrCount): MS-RRP's
                // `size_is(lpcbData ? *lpcbData : 0)` spells out the same value.
                Expr::Name(n, _) => match sib.get(n) {
                    Some((rust, _)) => Ok(ident(rust).to_string()),
                    None => self.sizing(inner, sib),
                },
                _ => Err(self.unsupported(*s, "dereferencing a computed value in a sizing expression")),
            },
            Expr::Unary("!", inner, _) => Ok(format!(
                "u64::from(::msrpc_ndr::ndr_count({}) == 0)",
                self.sizing(inner, sib)?
            )),
            // `~` on the 64-bit count: MS-DCOM's ORPC_EXTENT `size_is((size+7)&~7)` rounds up
            // to 8 as C does for every 32-bit `size` that does not wrap
            Expr::Unary("~", inner, _) => Ok(format!(
                "(!::msrpc_ndr::ndr_count({}))",
                self.sizing(inner, sib)?
            )),
            Expr::Unary("-", inner, _) => Ok(format!(
                "::msrpc_ndr::ndr_count({}).wrapping_neg()",
                self.sizing(inner, sib)?
            )),
            Expr::Unary("+", inner, _) => self.sizing(inner, sib),
            Expr::Member(base, field, _) => Ok(format!("{}.{}", self.sizing(base, sib)?, ident(&snake(field)))),
            Expr::Int(v, _) => Ok(format!("{v}u64")),
            // `sizeof(wchar_t)` (MS-RPRN's `size_is(cbValueName / sizeof(wchar_t))`)
            Expr::Sizeof(Some(v), _) => Ok(format!("{v}u64")),
            Expr::SizeofType(n, s) => match self.type_size(n) {
                Some(v) => Ok(format!("{v}u64")),
                None => Err(self.unsupported(*s, format!("`sizeof({n})` of a type without a fixed size"))),
            },
            Expr::Cast(_, inner, _) => self.sizing(inner, sib),
            Expr::Binary(op, a, b, s) => {
                let (x, y) = (self.sizing(a, sib)?, self.sizing(b, sib)?);
                let x = format!("::msrpc_ndr::ndr_count({x})");
                let y = format!("::msrpc_ndr::ndr_count({y})");
                Ok(match *op {
                    "+" => format!("{x}.wrapping_add({y})"),
                    "-" => format!("{x}.wrapping_sub({y})"),
                    "*" => format!("{x}.wrapping_mul({y})"),
                    "/" => format!("{x}.checked_div({y}).unwrap_or(u64::MAX)"),
                    "%" => format!("{x}.checked_rem({y}).unwrap_or(u64::MAX)"),
                    "&" => format!("({x} & {y})"),
                    "|" => format!("({x} | {y})"),
                    "^" => format!("({x} ^ {y})"),
                    "<<" => format!("{x}.checked_shl(u32::try_from({y}).unwrap_or(u32::MAX)).unwrap_or(u64::MAX)"),
                    ">>" => format!("{x}.checked_shr(u32::try_from({y}).unwrap_or(u32::MAX)).unwrap_or(0)"),
                    // comparisons and logic are 0 or 1, as in C (MS-DHCPM's switch_is of
                    // DHCP_SUBNET_ELEMENT_DATA tests a range of element types)
                    "<" | "<=" | ">" | ">=" | "==" | "!=" => {
                        format!("u64::from({x} {op} {y})")
                    }
                    "&&" => format!("u64::from({x} != 0 && {y} != 0)"),
                    "||" => format!("u64::from({x} != 0 || {y} != 0)"),
                    other => return Err(self.unsupported(*s, format!("the operator `{other}` in a sizing expression"))),
                })
            }
            Expr::Cond(c, a, b, _) => {
                let c = self.sizing(c, sib)?;
                Ok(format!(
                    "if ::msrpc_ndr::ndr_count({c}) != 0 {{ ::msrpc_ndr::ndr_count({}) }} else {{ ::msrpc_ndr::ndr_count({}) }}",
                    self.sizing(a, sib)?,
                    self.sizing(b, sib)?
                ))
            }
            other => Err(self.unsupported(other.span(), "this form of sizing expression")),
        }
    }

    // ---------------------------------------------------------------- definitions

    fn validate(
        &self,
        tokens: &TokenStream,
        span: Span,
        what: &str,
        iface_args: Option<&TokenStream>,
    ) -> Result<()> {
        let r = match iface_args {
            None => {
                // the derive sees the item without its `#[derive]`
                msrpc_codegen::derive_ndr(tokens.clone()).map(|_| ())
            }
            Some(args) => msrpc_codegen::interface(args.clone(), tokens.clone()).map(|_| ()),
        };
        r.map_err(|e| self.unsupported(span, format!("{what}: {e}")))
    }

    /// Whether one of `fields` is a `void *` that is neither a context handle nor an
    /// `[iid_is]` interface pointer (`PVOID pvReserved`: MIDL marshals no `void *`), outside
    /// `[ignore]`.
    fn holds_void_pointer<'f>(&self, mut fields: impl Iterator<Item = &'f Field>) -> bool {
        fields.any(|f| {
            self.field_resolved(f).is_ok_and(|r| {
                r.leaf == Leaf::Base(Base::Void) && !r.levels.is_empty() && !r.attrs.has("ignore")
            })
        })
    }

    /// Fills `local_only`: C unions without `[case]` labels, structures with a conformant
    /// array member no size attribute sizes and structures or unions with a `void *` member,
    /// then, to a fixed point, the structures and unions holding one (by value, pointer or
    /// array).
    fn find_local_only(&mut self) {
        let mut seeds = Vec::new();
        for (i, d) in self.defs.iter().enumerate() {
            match &d.kind {
                DefKind::Union(u) => {
                    let arms = u.arms.as_deref().unwrap_or_default();
                    if (u.switch.is_none()
                        && !arms.is_empty()
                        && arms.iter().all(|a| a.cases.is_empty() && !a.default))
                        || self.holds_void_pointer(arms.iter().filter_map(|a| a.field.as_ref()))
                    {
                        seeds.push(i);
                    }
                }
                DefKind::Struct(s) => {
                    // a member `T x[]` (or `[size_is(*)]`) whose max_count nothing gives: a
                    // packet layout, not an NDR type (MS-DRSR's ENCRYPTED_PAYLOAD, 4.1.10.2.20)
                    let open_unsized = s.fields.iter().flatten().any(|f| {
                        self.field_resolved(f).is_ok_and(|r| {
                            matches!(r.levels.first(), Some(Level::Array(Dim::Open)))
                                && ["size_is", "max_is"].iter().all(|a| {
                                    r.attrs
                                        .exprs(a)
                                        .is_none_or(|v| v.first().is_none_or(Option::is_none))
                                })
                                && !r.attrs.has("string")
                        })
                    });
                    if open_unsized || self.holds_void_pointer(s.fields.iter().flatten()) {
                        seeds.push(i);
                    }
                }
                DefKind::Enum(_) => {}
            }
        }
        self.local_only.extend(seeds);
        loop {
            let mut grew = Vec::new();
            for (i, d) in self.defs.iter().enumerate() {
                if self.local_only.contains(&i) {
                    continue;
                }
                let fields = d.kind.fields();
                let holds = fields.into_iter().any(|f| {
                    self.field_resolved(f).is_ok_and(
                        |r| matches!(r.leaf, Leaf::Def(j) if self.local_only.contains(&j)),
                    )
                });
                if holds {
                    grew.push(i);
                }
            }
            if grew.is_empty() {
                break;
            }
            self.local_only.extend(grew);
        }
    }

    /// The structures and unions defined inline in a local-only type (the anonymous
    /// `struct { ULONG KernelTime; ULONG UserTime; }` of MS-DTYP's EVENT_HEADER), at any
    /// depth: not lowered for the file's sake, only if something reaches them.
    fn defined_inside_local_only(&self) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        let mut todo: Vec<usize> = self.local_only.iter().copied().collect();
        while let Some(i) = todo.pop() {
            let fields = self
                .defs
                .get(i)
                .map(|d| d.kind.fields())
                .unwrap_or_default();
            for f in fields {
                let inline = match &f.ty {
                    TypeSpec::Struct(s) => s.fields.is_some(),
                    TypeSpec::Union(u) => u.arms.is_some(),
                    TypeSpec::Enum(e) => e.items.is_some(),
                    _ => false,
                };
                if let Some(j) = self.def_of(&f.ty).filter(|_| inline) {
                    if out.insert(j) {
                        todo.push(j);
                    }
                }
            }
        }
        out
    }

    fn lower_def(&mut self, idx: usize) -> Result<()> {
        let Some(d) = self.defs.get(idx).cloned() else {
            return Ok(());
        };
        if GUID_NAMES.contains(&d.idl.as_str()) {
            return Ok(());
        }
        let name = ident(&d.rust);
        let idl_doc = doc(&format!("IDL `{}`.", d.idl));
        let mut wrappers = TokenStream::new();
        let item = match &d.kind {
            DefKind::Struct(s) => {
                let fields = s.fields.clone().unwrap_or_default();
                if fields.is_empty() {
                    return Err(self.unsupported(d.span, "a structure without members"));
                }
                let mut sib = Siblings::new();
                let mut resolved = Vec::new();
                for f in &fields {
                    let r = self.field_resolved(f)?;
                    let rust = snake(&f.decl.name);
                    sib.insert(f.decl.name.clone(), (rust, r.clone()));
                    resolved.push(r);
                }
                let mut out = Vec::new();
                let mut all_default = true;
                let n = fields.len();
                for (i, (f, r)) in fields.iter().zip(&resolved).enumerate() {
                    if f.decl.name.is_empty() {
                        return Err(self.unsupported(f.decl.span, "an unnamed member"));
                    }
                    let owner = format!("{}{}", d.rust, camel(&f.decl.name));
                    let l = self.lower_value(
                        r,
                        Pos::Member { last: i + 1 == n },
                        f.decl.span,
                        &sib,
                        &owner,
                        d.pdefault,
                        &mut wrappers,
                    )?;
                    all_default &= l.default_ok;
                    let fname = ident(&snake(&f.decl.name));
                    let fdoc = doc(&format!("IDL `{}`.", f.decl.name));
                    let ty = l.ty;
                    let attrs = ndr_attr(&l.ndr);
                    out.push(quote! { #fdoc #attrs pub #fname: #ty });
                }
                self.default_ok.insert(idx, all_default);
                let derives = if all_default {
                    quote!(Clone, Debug, PartialEq, Default)
                } else {
                    quote!(Clone, Debug, PartialEq)
                };
                let body = quote! { #idl_doc pub struct #name { #(#out),* } };
                self.validate(&body, d.span, &format!("structure `{}`", d.idl), None)?;
                quote! { #[derive(::msrpc_ndr::Ndr, #derives)] #body }
            }
            DefKind::Enum(e) => {
                let items = e.items.clone().unwrap_or_default();
                if items.is_empty() {
                    return Err(self.unsupported(d.span, "an enum without enumerators"));
                }
                let v1 = d.attrs.has("v1_enum");
                let names: Vec<String> = items.iter().map(|(n, _, _)| n.clone()).collect();
                let prefix = common_prefix(&names);
                let mut seen_vals = BTreeSet::new();
                let mut seen_names = BTreeSet::new();
                let mut variants = Vec::new();
                let mut aliases = Vec::new();
                let mut first = true;
                for (n, _, s) in &items {
                    let v = self.consts.get(n).copied().unwrap_or(0);
                    // a value beyond a 16-bit enum's wire is declared (MIDL accepts it) but
                    // fails to encode at run time, as with MIDL's stubs
                    let v = if v < 0 { v & 0xffff_ffff } else { v };
                    if v > 0xffff_ffff {
                        return Err(self.err(
                            ErrorKind::Type,
                            *s,
                            format!("`{n}` = {v} does not fit 32 bits"),
                        ));
                    }
                    let mut vn = camel(n.get(prefix..).unwrap_or(n));
                    while seen_names.contains(&vn) || vn == "Unknown" {
                        vn.push('_');
                    }
                    seen_names.insert(vn.clone());
                    let vid = ident(&vn);
                    let vdoc = doc(&format!("IDL `{n}` = {v}."));
                    let lit = Literal::u32_unsuffixed(u32::try_from(v).unwrap_or(0));
                    if !seen_vals.insert(v) {
                        aliases.push(quote! { #vdoc pub const #vid: u32 = #lit; });
                        continue;
                    }
                    let def = if first { quote!(#[default]) } else { quote!() };
                    first = false;
                    variants.push((v, quote! { #vdoc #def #vid = #lit }));
                }
                // the catch-all's Rust tag is the last variant's plus one: keep it clear of
                // every value (MS-DRSR's DS_NAME_FORMAT descends from 0xFFFFFFF7) and of
                // overflow (its DS_NAME_ERROR reaches 0xFFFFFFFF)
                let max = variants.iter().map(|(v, _)| *v).max().unwrap_or(0);
                let clash = variants.last().is_some_and(|(last, _)| {
                    *last >= 0xffff_ffff || variants.iter().any(|(v, _)| *v == last + 1)
                });
                if clash {
                    variants.sort_by_key(|(v, _)| *v);
                }
                let repr = if clash && max >= 0xffff_ffff {
                    quote!(#[repr(u64)])
                } else {
                    quote!(#[repr(u32)])
                };
                let variants: Vec<TokenStream> = variants.into_iter().map(|(_, t)| t).collect();
                let v1a = if v1 {
                    quote!(#[ndr(v1_enum)])
                } else {
                    quote!()
                };
                let body = quote! {
                    #idl_doc
                    #v1a
                    #repr
                    pub enum #name {
                        #(#variants,)*
                        /// Any value the IDL does not name.
                        #[ndr(unknown)]
                        Unknown(u32),
                    }
                };
                self.validate(&body, d.span, &format!("enum `{}`", d.idl), None)?;
                let assoc = if aliases.is_empty() {
                    quote!()
                } else {
                    // named like the variants they alias (NRPC's
                    // `ForestTrustRecordTypeLast = ForestTrustDomainInfo`)
                    quote! { #[allow(non_upper_case_globals)] impl #name { #(#aliases)* } }
                };
                quote! { #[derive(::msrpc_ndr::Ndr, Clone, Copy, Debug, PartialEq, Eq, Hash, Default)] #body #assoc }
            }
            DefKind::Union(u) => {
                let arms = u.arms.clone().unwrap_or_default();
                if u.switch.is_none() && arms.iter().all(|a| a.cases.is_empty() && !a.default) {
                    return Err(
                        self.unsupported(d.span, "a C union without [case] labels (not remotable)")
                    );
                }
                let (bits, encapsulated) = match &u.switch {
                    Some((t, _)) => {
                        let r = self.resolve(t, 0, &[], &Attrs::default(), 0)?;
                        (self.switch_bits(&r, d.span)?, true)
                    }
                    None => {
                        let st = d
                            .attrs
                            .get("switch_type")
                            .and_then(|a| match a.args.first() {
                                Some(AttrArg::Type(t, 0)) => Some(t.clone()),
                                _ => None,
                            });
                        match st {
                            Some(t) => {
                                let r = self.resolve(&t, 0, &[], &Attrs::default(), 0)?;
                                (self.switch_bits(&r, d.span)?, false)
                            }
                            None => match self.switch_hint.get(&idx) {
                                Some(b) => (*b, false),
                                None => return Err(self.unsupported(d.span, format!("union `{}` has no switch_type and no switch_is tells its discriminant's type", d.idl))),
                            },
                        }
                    }
                };
                let swty = match bits {
                    8 => "u8",
                    16 => "u16",
                    ENUM16 => "enum16",
                    _ => "u32",
                };
                let swid = match bits {
                    8 => format_ident!("u8"),
                    16 | ENUM16 => format_ident!("u16"),
                    _ => format_ident!("u32"),
                };
                let mask: i128 = match bits {
                    8 => 0xff,
                    16 | ENUM16 => 0xffff,
                    _ => 0xffff_ffff,
                };
                let mut variants = Vec::new();
                let mut seen = BTreeSet::new();
                for arm in &arms {
                    if arm.cases.is_empty() && !arm.default {
                        return Err(self.unsupported(
                            arm.span,
                            "a C union without [case] labels (not remotable)",
                        ));
                    }
                    let mut vals = Vec::new();
                    for c in &arm.cases {
                        vals.push(self.eval_located(c)? & mask);
                    }
                    let lowered = match &arm.field {
                        Some(f) => {
                            let r = self.field_resolved(f)?;
                            let owner = format!("{}{}", d.rust, camel(&f.decl.name));
                            Some((
                                f.decl.name.clone(),
                                self.lower_value(
                                    &r,
                                    Pos::Arm,
                                    f.decl.span,
                                    &Siblings::new(),
                                    &owner,
                                    d.pdefault,
                                    &mut wrappers,
                                )?,
                            ))
                        }
                        None => None,
                    };
                    if arm.default {
                        // The default arm holds the discriminant, then its member if it has one
                        // (MS-LSAD's `[default] LSA_FOREST_TRUST_BINARY_DATA Data;`).
                        let base = match &lowered {
                            Some((n, _)) if !n.is_empty() => camel(n),
                            _ => "Other".to_string(),
                        };
                        let vid = ident(&unique_name(&mut seen, base));
                        match &lowered {
                            Some((n, l)) => {
                                let ty = &l.ty;
                                let fa = ndr_attr(&l.ndr);
                                let vd = doc(&format!("IDL `default`: `{n}`, for any other discriminant (held in the first field)."));
                                variants.push(quote! { #vd #[ndr(default)] #vid(#swid, #fa #ty) });
                            }
                            None => variants.push(
                                quote! { /// The `default` arm (empty): any other discriminant.
                                #[ndr(default)] #vid(#swid) },
                            ),
                        }
                    }
                    for v in &vals {
                        let base = match &lowered {
                            Some((n, _)) if !n.is_empty() => camel(n),
                            _ => format!("Case{v}"),
                        };
                        let vn = if vals.len() > 1 {
                            format!("{base}{v}")
                        } else {
                            base
                        };
                        let vid = ident(&unique_name(&mut seen, vn));
                        let lit = Literal::u32_unsuffixed(u32::try_from(*v).unwrap_or(0));
                        let lit = quote!(#lit);
                        match &lowered {
                            Some((n, l)) => {
                                let ty = &l.ty;
                                let fa = ndr_attr(&l.ndr);
                                let vd = doc(&format!("IDL `case({v})`: `{n}`."));
                                variants.push(quote! { #vd #[ndr(case = #lit)] #vid(#fa #ty) });
                            }
                            None => {
                                let vd = doc(&format!("IDL `case({v})`: empty."));
                                variants.push(quote! { #vd #[ndr(case = #lit)] #vid });
                            }
                        }
                    }
                }
                if variants.is_empty() {
                    return Err(self.unsupported(d.span, "a union without arms"));
                }
                let enc = if encapsulated {
                    quote!(#[ndr(encapsulated)])
                } else {
                    quote!()
                };
                let body = quote! {
                    #idl_doc
                    #[ndr(switch_type = #swty)]
                    #enc
                    pub enum #name { #(#variants),* }
                };
                self.validate(&body, d.span, &format!("union `{}`", d.idl), None)?;
                quote! { #[derive(::msrpc_ndr::Ndr, Clone, Debug, PartialEq)] #body }
            }
        };
        self.out.extend(wrappers);
        self.out.extend(item);
        self.used_rust.insert(d.rust.clone());
        Ok(())
    }

    /// Records, for unions without `switch_type`, the width of the first `switch_is` naming
    /// them (a structure member or an operation parameter).
    fn switch_hints(&mut self) {
        let mut groups: Vec<Vec<Field>> = Vec::new();
        for d in &self.defs {
            if let DefKind::Struct(s) = &d.kind {
                groups.push(s.fields.clone().unwrap_or_default());
            }
        }
        for (i, _, _) in &self.interfaces {
            for it in &i.items {
                if let Item::Operation(op) = it {
                    groups.push(op.params.clone());
                }
            }
        }
        for fields in groups {
            let mut sib = Siblings::new();
            for f in &fields {
                if let Ok(r) = self.field_resolved(f) {
                    sib.insert(f.decl.name.clone(), (snake(&f.decl.name), r));
                }
            }
            for f in &fields {
                let Some(e) = f.attrs.expr("switch_is") else {
                    continue;
                };
                let Some((_, r)) = sib.get(&f.decl.name) else {
                    continue;
                };
                // the member's own switch_type (MS-DHCPM's DHCP_SUBNET_ELEMENT_DATA), else the
                // switch_is expression's width
                let declared = f
                    .attrs
                    .get("switch_type")
                    .and_then(|at| match at.args.first() {
                        Some(AttrArg::Type(t, 0)) => self
                            .resolve(t, 0, &[], &Attrs::default(), 0)
                            .ok()
                            .and_then(|tr| self.switch_bits(&tr, f.decl.span).ok()),
                        _ => None,
                    });
                if let (Leaf::Def(idx), Some(b)) =
                    (&r.leaf, declared.or_else(|| self.expr_bits(e, &sib)))
                {
                    self.switch_hint.entry(*idx).or_insert(b);
                }
            }
        }
    }

    fn switch_bits(&self, r: &Resolved, span: Span) -> Result<u8> {
        if !r.levels.is_empty() {
            return Err(self.err(
                ErrorKind::Type,
                span,
                "a union's switch type must be an integer or an enum",
            ));
        }
        Ok(match &r.leaf {
            Leaf::Base(Base::Int { bits, .. }) => match bits {
                8 | 16 | 32 => *bits,
                _ => return Err(self.unsupported(span, "a 64-bit union discriminant")),
            },
            Leaf::Base(Base::Char | Base::Byte | Base::Boolean) => 8,
            Leaf::Base(Base::WChar) => 16,
            Leaf::Base(Base::ErrorStatus) => 32,
            Leaf::Def(i) => match self.defs.get(*i) {
                Some(Def {
                    kind: DefKind::Enum(_),
                    attrs,
                    ..
                }) => {
                    if attrs.has("v1_enum") || r.attrs.has("v1_enum") {
                        32
                    } else {
                        ENUM16
                    }
                }
                _ => {
                    return Err(self.err(
                        ErrorKind::Type,
                        span,
                        "a union's switch type must be an integer or an enum",
                    ))
                }
            },
            _ => {
                return Err(self.err(
                    ErrorKind::Type,
                    span,
                    "a union's switch type must be an integer or an enum",
                ))
            }
        })
    }

    // ---------------------------------------------------------------- interfaces

    fn op_count(&self, name: &str, depth: usize) -> usize {
        if name == "IUnknown" {
            return 3;
        }
        let Some((i, _, _)) = self.interfaces.iter().find(|(i, _, _)| i.name == name) else {
            return 0;
        };
        let own = i
            .items
            .iter()
            .filter(|it| matches!(it, Item::Operation(op) if !op.attrs.has("local")))
            .count();
        let base = match (&i.base, depth < 16) {
            (Some(b), true) => self.op_count(b, depth + 1),
            _ => 0,
        };
        own + base
    }

    fn lower_interface(&mut self, iface: &Interface, pdefault: PtrKind) -> Result<()> {
        if iface.attrs.has("local") || iface.name == "IUnknown" {
            return Ok(());
        }
        // an interface that inherits is a COM interface (DCE IDL has no inheritance): MIDL wants
        // [object], which ODL files spell [odl] or [dual] and some published files (MS-ADTG,
        // MS-COMEV's IEventSystemInitialize : IUnknown) leave out
        let object = iface.attrs.has("object")
            || iface.attrs.has("odl")
            || iface.attrs.has("dual")
            || iface.base.is_some();
        let uuid = match iface.attrs.get("uuid").and_then(|a| a.args.first()) {
            Some(AttrArg::Text(t)) => t.clone(),
            _ => {
                return Err(self
                    .err(
                        ErrorKind::Type,
                        iface.span,
                        format!("interface `{}` has no uuid", iface.name),
                    )
                    .expected_found("[uuid(...)]", "none"))
            }
        };
        if msrpc_codegen::parse_uuid(&uuid).is_none() {
            return Err(self
                .err(ErrorKind::Type, iface.span, "malformed uuid")
                .expected_found("8-4-4-4-12 hexadecimal digits", uuid));
        }
        let version = match iface.attrs.get("version").and_then(|a| a.args.first()) {
            Some(AttrArg::Text(t)) if t.contains('.') => t.clone(),
            Some(AttrArg::Text(t)) => format!("{t}.0"),
            _ => "0.0".to_string(),
        };
        let base_ops = iface.base.as_deref().map_or(0, |b| self.op_count(b, 0));
        let supertrait = match iface.base.as_deref() {
            None | Some("IUnknown") => quote!(),
            Some(b) => {
                if !self.interfaces.iter().any(|(i, _, _)| i.name == b) {
                    return Err(self.err(
                        ErrorKind::Type,
                        iface.span,
                        format!("undefined base interface `{b}`"),
                    ));
                }
                let bt = ident(&camel(b));
                if self.iface_modules {
                    // every interface of the file has its module (see `lower`)
                    let m = ident(&snake(b));
                    quote!(: super::#m::#bt)
                } else {
                    quote!(: #bt)
                }
            }
        };
        let orpc = object;
        let mut opnum = base_ops;
        let mut methods = BTreeSet::new();
        let mut ops = Vec::new();
        let trait_name = ident(&camel(&iface.name));
        let uuid_s = uuid.to_ascii_lowercase();
        let args = if orpc {
            quote!(uuid = #uuid_s, version = #version, orpc)
        } else {
            quote!(uuid = #uuid_s, version = #version)
        };
        for item in &iface.items {
            let Item::Operation(op) = item else { continue };
            if op.attrs.has("local") {
                continue;
            }
            if op.attrs.has("callback") {
                return Err(self.unsupported(
                    op.span,
                    "[callback] operations (called by the server on the client)",
                ));
            }
            let this = opnum;
            opnum += 1;
            let mut sib = Siblings::new();
            let mut resolved = Vec::new();
            for p in &op.params {
                let r = self.field_resolved(p)?;
                sib.insert(p.decl.name.clone(), (snake(&p.decl.name), r.clone()));
                resolved.push(r);
            }
            let mut params = Vec::new();
            let mut wrappers = TokenStream::new();
            for (idx, (p, r)) in op.params.iter().zip(&resolved).enumerate() {
                if r.levels.is_empty() && r.leaf == Leaf::Base(Base::HandleT) {
                    continue; // a primitive binding handle: not on the wire
                }
                if r.leaf == Leaf::Base(Base::Void) && r.levels.is_empty() {
                    continue; // `(void)`
                }
                let pname = if p.decl.name.is_empty() {
                    format!("arg{idx}")
                } else {
                    p.decl.name.clone()
                };
                let owner = format!("{}{}", camel(&op.name), camel(&pname));
                let l = self.lower_value(
                    r,
                    Pos::Param,
                    p.decl.span,
                    &sib,
                    &owner,
                    pdefault,
                    &mut wrappers,
                )?;
                let mut nd = Vec::new();
                let (i, o) = (p.attrs.has("in"), p.attrs.has("out"));
                if i || !o {
                    nd.push(quote!(in));
                }
                if o {
                    nd.push(quote!(out));
                }
                nd.extend(l.ndr);
                let pid = ident(&snake(&pname));
                let ty = l.ty;
                let pd = doc(&format!("IDL `{pname}`."));
                params.push(quote! { #pd #[ndr(#(#nd),*)] #pid: #ty });
            }
            let ret = if op.ret == TypeSpec::Base(Base::Void) && op.ret_ptrs == 0 {
                quote!()
            } else {
                let r = self.resolve(&op.ret, op.ret_ptrs, &[], &Attrs::default(), 0)?;
                if r.levels.is_empty() && r.leaf == Leaf::Base(Base::Void) {
                    // a typedef of void (MS-TSTS' `VOID Opnum13NotUsedOnWire();`)
                    quote!()
                } else if orpc {
                    if !(r.levels.is_empty()
                        && r.leaf
                            == Leaf::Base(Base::Int {
                                bits: 32,
                                signed: true,
                            }))
                    {
                        return Err(self.unsupported(
                            op.span,
                            "an [object] operation that does not return HRESULT",
                        ));
                    }
                    quote!()
                } else {
                    if !r.levels.is_empty() {
                        return Err(self.unsupported(op.span, "an operation returning a pointer"));
                    }
                    let l = self.leaf_type(&r.leaf, op.span, &r.attrs)?;
                    let t = l.ty;
                    quote!(-> #t)
                }
            };
            let mut notes = vec![format!("IDL `{}` (opnum {this}).", op.name)];
            for a in &op.attrs.0 {
                if matches!(
                    a.name.as_str(),
                    "idempotent"
                        | "maybe"
                        | "broadcast"
                        | "call_as"
                        | "async"
                        | "propget"
                        | "propput"
                        | "propputref"
                ) {
                    notes.push(format!("IDL attribute `[{}]`.", a.name));
                }
            }
            let docs: Vec<TokenStream> = notes.iter().map(|n| doc(n)).collect();
            // names that meet after snake_case (MS-COMEV's `_NewEnum` and `NewEnum`
            // properties) get a number: the code generator's type names drop underscores
            let mut m = op_method(op);
            let mut n = 2;
            while methods.contains(&m) {
                m = format!("{}{n}", op_method(op));
                n += 1;
            }
            methods.insert(m.clone());
            let mname = ident(&m);
            let n = Literal::usize_unsuffixed(this);
            let one = quote! { #(#docs)* #[opnum(#n)] fn #mname(#(#params),*) #ret; };
            let check = quote! { pub trait #trait_name #supertrait { #one } };
            self.validate(
                &check,
                op.span,
                &format!("operation `{}`", op.name),
                Some(&args),
            )?;
            self.out.extend(wrappers);
            ops.push(one);
        }
        let idoc = doc(&format!(
            "IDL interface `{}` ({uuid} v{version}).",
            iface.name
        ));
        let item = quote! {
            #idoc
            #[::msrpc_macros::interface(#args)]
            pub trait #trait_name #supertrait { #(#ops)* }
        };
        self.out.extend(item);
        Ok(())
    }
}

struct Walk {
    sizes: Vec<Option<String>>,
    lengths: Vec<Option<String>>,
    k: Option<usize>,
    string_level: Option<usize>,
    wide: bool,
    switch: Option<String>,
    range: Option<(i128, i128)>,
    ptr_attr: Option<PtrKind>,
    pdefault: PtrKind,
    owner: String,
    span: Span,
}

fn spec_span(ty: &TypeSpec) -> Span {
    match ty {
        TypeSpec::Named(_, s) | TypeSpec::Pipe(_, s) => *s,
        TypeSpec::Struct(s) => s.span,
        TypeSpec::Union(u) => u.span,
        TypeSpec::Enum(e) => e.span,
        TypeSpec::Base(_) => Span::default(),
    }
}

/// The length of the common `_`-ended prefix of enumerator names (dropped from variant names
/// when every name keeps a letter after it).
fn common_prefix(names: &[String]) -> usize {
    let Some(first) = names.first() else { return 0 };
    if names.len() < 2 {
        return 0;
    }
    let mut len = first.len();
    for n in names {
        len = len.min(
            first
                .bytes()
                .zip(n.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    let cut = first
        .get(..len)
        .and_then(|p| p.rfind('_'))
        .map_or(0, |i| i + 1);
    if names.iter().all(|n| {
        n.get(cut..)
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_alphabetic()))
    }) {
        cut
    } else {
        0
    }
}

/// Lowers a loaded program to Rust items.
pub fn lower(p: &Program) -> Result<TokenStream> {
    let mut l = Lowerer {
        map: &p.map,
        types: HashMap::new(),
        tags: HashMap::new(),
        by_span: HashMap::new(),
        defs: Vec::new(),
        consts: HashMap::new(),
        needed: Vec::new(),
        done: BTreeSet::new(),
        default_ok: HashMap::new(),
        switch_hint: HashMap::new(),
        out: TokenStream::new(),
        used_rust: BTreeSet::new(),
        interfaces: Vec::new(),
        pdefault: PtrKind::Unique,
        local_only: BTreeSet::new(),
        iface_names: BTreeSet::from(["IUnknown".to_string()]),
        iface_modules: false,
    };
    for f in &p.files {
        let pd = l.pdefault;
        l.collect(&f.ast.items, f.main, pd)?;
    }
    l.switch_hints();
    l.find_local_only();
    // interfaces, then types
    let ifaces = l.interfaces.clone();
    let mut iface_out = TokenStream::new();
    let mut wanted: BTreeSet<String> = ifaces
        .iter()
        .filter(|(_, m, _)| *m)
        .map(|(i, _, _)| i.name.clone())
        .collect();
    let mut grew = true;
    while grew {
        grew = false;
        for (i, _, _) in &ifaces {
            if let (true, Some(b)) = (wanted.contains(&i.name), &i.base) {
                grew |= wanted.insert(b.clone());
            }
        }
    }
    // two interfaces of a file naming an operation alike (MS-CMRP's clusapi2 and clusapi3,
    // DCOM files' `Next`, `Clone`, `Opnum4NotUsedOnWire`) would define the same request and
    // response types: each interface then gets a module of its own, and an inheriting one
    // names its base as `super::base_module::Base`
    let mut seen_ops: HashMap<String, usize> = HashMap::new();
    for (i, _, _) in ifaces.iter().filter(|(i, _, _)| wanted.contains(&i.name)) {
        let ops: BTreeSet<String> = i
            .items
            .iter()
            .filter_map(|it| match it {
                Item::Operation(op) if !op.attrs.has("local") => Some(op_method(op)),
                _ => None,
            })
            .collect();
        for op in ops {
            *seen_ops.entry(op).or_default() += 1;
        }
    }
    let collide = seen_ops.values().any(|n| *n > 1);
    l.iface_modules = collide;
    for (i, _, pd) in &ifaces {
        if wanted.contains(&i.name) {
            let before = std::mem::take(&mut l.out);
            l.lower_interface(i, *pd)?;
            let items = std::mem::replace(&mut l.out, before);
            if collide && !items.is_empty() {
                let m = ident(&snake(&i.name));
                let d = doc(&format!(
                    "IDL interface `{}`, in a module of its own: another interface of the file names the same operations.",
                    i.name
                ));
                iface_out.extend(quote! {
                    #d
                    pub mod #m {
                        #[allow(unused_imports)]
                        use super::*;
                        #items
                    }
                });
            } else {
                iface_out.extend(items);
            }
        }
    }
    let inside_local = l.defined_inside_local_only();
    let mains: Vec<usize> = (0..l.defs.len())
        .filter(|i| l.defs.get(*i).is_some_and(|d| d.main) && !inside_local.contains(i))
        .collect();
    for i in mains.into_iter().rev() {
        if !l.needed.contains(&i) {
            l.needed.insert(0, i);
        }
    }
    // structs whose fields decide Default are lowered before their users where possible:
    // lower in dependency order by retrying users after what they need
    while let Some(i) = l.needed.first().copied() {
        l.needed.remove(0);
        if l.local_only.contains(&i) {
            // a main file's local-only type nothing on the wire uses (MS-DTYP's EVENT_HEADER):
            // left out; a use reports it (`leaf_type`)
            continue;
        }
        if !l.done.insert(i) {
            continue;
        }
        l.lower_def(i)?;
    }
    let mut out = l.out;
    out.extend(iface_out);
    Ok(out)
}

/// `vn`, with `_` appended until it is not in `seen`, recorded there: a variant name unique in
/// its enum.
fn unique_name(seen: &mut BTreeSet<String>, mut vn: String) -> String {
    while seen.contains(&vn) {
        vn.push('_');
    }
    seen.insert(vn.clone());
    vn
}

/// `#[ndr(...)]` over `nd`, or nothing when there are no items.
fn ndr_attr(nd: &[TokenStream]) -> TokenStream {
    if nd.is_empty() {
        quote!()
    } else {
        quote!(#[ndr(#(#nd),*)])
    }
}
