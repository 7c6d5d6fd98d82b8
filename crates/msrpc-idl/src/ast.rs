//! The syntax tree, with a [`Span`] on every node a message can point at.

use crate::error::Span;

/// A constant or sizing expression (C syntax).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// An integer literal or character.
    Int(u64, Span),
    /// A string literal.
    Str(String, Span),
    /// A name: a constant, an enumerator, a field or a parameter.
    Name(String, Span),
    /// A unary operator: `-`, `~`, `!`, `+`, `*` (dereference), `&`.
    Unary(&'static str, Box<Expr>, Span),
    /// A binary operator.
    Binary(&'static str, Box<Expr>, Box<Expr>, Span),
    /// `c ? a : b`.
    Cond(Box<Expr>, Box<Expr>, Box<Expr>, Span),
    /// `a.b` or `a->b`.
    Member(Box<Expr>, String, Span),
    /// `a[i]`.
    Index(Box<Expr>, Box<Expr>, Span),
    /// `(type) e`.
    Cast(Box<TypeSpec>, Box<Expr>, Span),
    /// `sizeof(type)`: its NDR20 size for a base type or a pointer, else not a constant.
    Sizeof(Option<u64>, Span),
    /// `sizeof(NAME)` of a typedef name: its size is the lowering's to compute (a base type,
    /// an enum, a fixed-size structure or array).
    SizeofType(String, Span),
}

impl Expr {
    /// Where the expression starts.
    pub fn span(&self) -> Span {
        match self {
            Expr::Int(_, s)
            | Expr::Str(_, s)
            | Expr::Name(_, s)
            | Expr::Unary(_, _, s)
            | Expr::Binary(_, _, _, s)
            | Expr::Cond(_, _, _, s)
            | Expr::Member(_, _, s)
            | Expr::Index(_, _, s)
            | Expr::Cast(_, _, s)
            | Expr::Sizeof(_, s)
            | Expr::SizeofType(_, s) => *s,
        }
    }
}

/// One attribute argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttrArg {
    /// An expression; `None` for an empty position (`size_is(, n)`).
    Expr(Option<Expr>),
    /// A type (`switch_type(unsigned short)`, `transmit_as(T)`).
    Type(TypeSpec, u32),
    /// A UUID or version as written.
    Text(String),
}

/// An attribute: `name` or `name(args)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attr {
    /// Its name.
    pub name: String,
    /// Its arguments (empty without parentheses). Unknown attributes keep none.
    pub args: Vec<AttrArg>,
    /// Where it is.
    pub span: Span,
}

/// A list of attributes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attrs(pub Vec<Attr>);

impl Attrs {
    /// The attribute `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Attr> {
        self.0.iter().find(|a| a.name == name)
    }

    /// True when `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The expression arguments of `name` (`None` for empty positions).
    pub fn exprs(&self, name: &str) -> Option<Vec<Option<&Expr>>> {
        self.get(name).map(|a| {
            a.args
                .iter()
                .map(|x| match x {
                    AttrArg::Expr(e) => e.as_ref(),
                    _ => None,
                })
                .collect()
        })
    }

    /// The first expression argument of `name`.
    pub fn expr(&self, name: &str) -> Option<&Expr> {
        self.exprs(name)
            .and_then(|v| v.into_iter().next().flatten())
    }

    /// Adds the attributes of `other` that `self` lacks.
    pub fn merged(&self, other: &Attrs) -> Attrs {
        let mut out = self.clone();
        for a in &other.0 {
            if !out.has(&a.name) {
                out.0.push(a.clone());
            }
        }
        out
    }
}

/// A base type keyword combination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Base {
    /// An integer of `bits` bits.
    Int {
        /// 8, 16, 32, 64.
        bits: u8,
        /// Signed.
        signed: bool,
    },
    /// `__int3264` (MS-RPCE 2.2.5.2.1): 4 bytes in NDR20, 8 in NDR64; MS-DTYP's `ULONG_PTR`,
    /// `DWORD_PTR`, `SIZE_T`, `LONG_PTR`...
    Int3264 {
        /// Signed.
        signed: bool,
    },
    /// `char` (8-bit, a string character).
    Char,
    /// `wchar_t`.
    WChar,
    /// `boolean`.
    Boolean,
    /// `byte`.
    Byte,
    /// `float`.
    Float,
    /// `double`.
    Double,
    /// `void`.
    Void,
    /// `handle_t` (a primitive binding handle: not on the wire).
    HandleT,
    /// `error_status_t`.
    ErrorStatus,
}

/// A type specifier (before the declarator).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeSpec {
    /// A base type.
    Base(Base),
    /// A typedef name.
    Named(String, Span),
    /// `struct tag` or a definition.
    Struct(Box<StructDef>),
    /// `union tag` or a definition.
    Union(Box<UnionDef>),
    /// `enum tag` or a definition.
    Enum(Box<EnumDef>),
    /// `pipe T`.
    Pipe(Box<TypeSpec>, Span),
}

/// An array dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dim {
    /// `[N]`.
    Fixed(Expr),
    /// `[]` or `[*]`.
    Open,
}

/// A declarator: pointers, a name, array dimensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declarator {
    /// Number of `*`.
    pub ptrs: u32,
    /// The name (empty for an abstract declarator).
    pub name: String,
    /// Array dimensions, outermost first.
    pub dims: Vec<Dim>,
    /// A function declarator's parameters (operations only).
    pub params: Option<Vec<Param>>,
    /// Where the name is.
    pub span: Span,
}

/// A member of a structure, a parameter, or a union arm's member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Its attributes.
    pub attrs: Attrs,
    /// Its type.
    pub ty: TypeSpec,
    /// Its declarator.
    pub decl: Declarator,
}

/// An operation parameter.
pub type Param = Field;

/// A structure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructDef {
    /// Its tag (`struct _FOO`).
    pub tag: Option<String>,
    /// Members; `None` for a reference to a tag.
    pub fields: Option<Vec<Field>>,
    /// Where it is.
    pub span: Span,
}

/// A union arm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arm {
    /// Case values; empty for `default`.
    pub cases: Vec<Expr>,
    /// `default`.
    pub default: bool,
    /// The member; `None` for an empty arm.
    pub field: Option<Field>,
    /// Where it is.
    pub span: Span,
}

/// A union (non-encapsulated, or encapsulated with `switch (type name)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnionDef {
    /// Its tag.
    pub tag: Option<String>,
    /// Encapsulated: the discriminant's type and name, and the union's name.
    pub switch: Option<(TypeSpec, String)>,
    /// Arms; `None` for a reference to a tag.
    pub arms: Option<Vec<Arm>>,
    /// Where it is.
    pub span: Span,
}

/// An enumeration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumDef {
    /// Its tag.
    pub tag: Option<String>,
    /// Enumerators with their explicit values; `None` for a reference to a tag.
    pub items: Option<Vec<(String, Option<Expr>, Span)>>,
    /// Where it is.
    pub span: Span,
}

/// A `typedef`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Typedef {
    /// Attributes before the type.
    pub attrs: Attrs,
    /// The type.
    pub ty: TypeSpec,
    /// The declared names.
    pub decls: Vec<Declarator>,
    /// Where it is.
    pub span: Span,
}

/// An operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// Attributes.
    pub attrs: Attrs,
    /// Return type.
    pub ret: TypeSpec,
    /// Pointers on the return type.
    pub ret_ptrs: u32,
    /// Name.
    pub name: String,
    /// Parameters.
    pub params: Vec<Param>,
    /// Where the name is.
    pub span: Span,
}

/// An interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Attributes (`uuid`, `version`, `pointer_default`, `object`, `local`...).
    pub attrs: Attrs,
    /// Name.
    pub name: String,
    /// The interface it inherits.
    pub base: Option<String>,
    /// Its items (typedefs, constants, operations).
    pub items: Vec<Item>,
    /// Where the name is.
    pub span: Span,
}

/// A file-level or interface-level item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// `import "a.idl", ...;`
    Import(Vec<(String, Span)>),
    /// A `typedef`.
    Typedef(Typedef),
    /// `struct/union/enum X {...};` without a typedef.
    TypeDecl(TypeSpec, Span),
    /// `const T NAME = expr;`
    Const(TypeSpec, String, Expr, Span),
    /// An interface.
    Interface(Interface),
    /// An operation.
    Operation(Operation),
    /// `interface NAME;`: a forward declaration (the name may then be used as a type, an
    /// interface pointer).
    ForwardInterface(String, Span),
    /// A construct read and skipped (`cpp_quote`, `coclass`, `library`...).
    Skipped(&'static str, Span),
}

/// A parsed file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct File {
    /// Its items, in order.
    pub items: Vec<Item>,
}
