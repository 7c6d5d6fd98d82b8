//! The parser: MIDL's grammar as the open specifications' IDL uses it, into [`ast`](crate::ast).
//!
//! Every nesting (expressions, types, interfaces) is counted against [`MAX_NESTING`], so a
//! hostile file cannot exhaust the stack.

use crate::ast::*;
use crate::error::{Error, ErrorKind, Result, SourceMap, Span};
use crate::lex::{Tok, Token};

/// How deep expressions and type definitions may nest.
pub const MAX_NESTING: usize = 64;

/// A recursive-descent parser over preprocessed tokens.
pub struct Parser<'m> {
    toks: Vec<Token>,
    pos: usize,
    map: &'m SourceMap,
    depth: usize,
}

/// Keywords that may start a base type.
const BASE_WORDS: &[&str] = &[
    "signed",
    "unsigned",
    "short",
    "long",
    "int",
    "char",
    "small",
    "hyper",
    "__int8",
    "__int16",
    "__int32",
    "__int64",
    "__int3264",
    "byte",
    "boolean",
    "wchar_t",
    "float",
    "double",
    "void",
    "handle_t",
    "error_status_t",
    "ISO_LATIN_1",
    "ISO_MULTI_LINGUAL",
    "ISO_UCS",
    "int8",
    "uint8",
];

/// Qualifiers read and dropped.
const QUALIFIERS: &[&str] = &[
    "const",
    "volatile",
    "__RPC_FAR",
    "__RPC_USER",
    "__RPC_API",
    "__stdcall",
    "__cdecl",
    "__RPC_STUB",
    "far",
    "near",
    "__far",
    "__near",
    "__ptr64",
    "__ptr32",
];

impl<'m> Parser<'m> {
    /// A parser over `toks`; `map` names files in errors.
    pub fn new(toks: Vec<Token>, map: &'m SourceMap) -> Self {
        Parser {
            toks,
            pos: 0,
            map,
            depth: 0,
        }
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.pos + n).map(|t| &t.tok)
    }

    /// The current token's position (or the last token's at the end).
    fn span(&self) -> Span {
        self.toks
            .get(self.pos)
            .or_else(|| self.toks.last())
            .map(|t| t.span)
            .unwrap_or_default()
    }

    fn bump(&mut self) -> Option<Token> {
        let t = self.toks.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Tok::Punct(q)) if *q == p)
    }

    fn is_ident(&self, s: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(q)) if q == s)
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_ident(&mut self, s: &str) -> bool {
        if self.is_ident(s) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "end of file".to_string(), Tok::describe)
    }

    /// A syntax error at the current token.
    fn expected(&self, what: &str) -> Error {
        self.map
            .error(ErrorKind::Syntax, self.span(), "syntax error")
            .expected_found(what, self.found())
    }

    fn expect_punct(&mut self, p: &str) -> Result<Span> {
        let s = self.span();
        if self.eat_punct(p) {
            Ok(s)
        } else {
            Err(self.expected(&format!("`{p}`")))
        }
    }

    fn ident(&mut self, what: &str) -> Result<(String, Span)> {
        match self.peek() {
            Some(Tok::Ident(s)) => {
                let s = s.clone();
                let span = self.span();
                self.pos += 1;
                Ok((s, span))
            }
            _ => Err(self.expected(what)),
        }
    }

    /// Fails unless every token was read.
    pub fn expect_end(&self, what: &str) -> Result<()> {
        if self.pos < self.toks.len() {
            return Err(self.expected(what));
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.map.error(
                ErrorKind::Syntax,
                self.span(),
                format!("nested more than {MAX_NESTING} levels deep"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Parses a whole file.
    pub fn file(&mut self) -> Result<File> {
        let items = self.items(false)?;
        self.expect_end("an interface, import, typedef or constant")?;
        Ok(File { items })
    }

    fn items(&mut self, in_interface: bool) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        loop {
            match self.peek() {
                None => break,
                Some(Tok::Punct("}")) if in_interface => break,
                _ => {}
            }
            if let Some(item) = self.item()? {
                items.push(item);
            }
        }
        Ok(items)
    }

    /// Skips a balanced `(...)` or `{...}` group starting at the current token.
    fn skip_group(&mut self) -> Result<()> {
        let start = self.span();
        let mut depth = 0usize;
        loop {
            match self.bump().map(|t| t.tok) {
                Some(Tok::Punct("(" | "{" | "[")) => depth += 1,
                Some(Tok::Punct(")" | "}" | "]")) => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Some(_) => {}
                None => {
                    return Err(self
                        .map
                        .error(ErrorKind::Syntax, start, "unbalanced brackets")
                        .expected_found("the closing bracket", "end of file"))
                }
            }
        }
    }

    fn item(&mut self) -> Result<Option<Item>> {
        let span = self.span();
        if self.eat_punct(";") {
            return Ok(None);
        }
        if self.eat_ident("import") {
            let mut files = Vec::new();
            loop {
                let s = self.span();
                match self.bump().map(|t| t.tok) {
                    Some(Tok::Str(f)) => files.push((f, s)),
                    _ => {
                        self.pos = self.pos.saturating_sub(1);
                        return Err(self.expected("a file name in quotes"));
                    }
                }
                if !self.eat_punct(",") {
                    break;
                }
            }
            self.expect_punct(";")?;
            return Ok(Some(Item::Import(files)));
        }
        if self.eat_ident("importlib") {
            self.skip_group()?;
            self.eat_punct(";");
            return Ok(Some(Item::Skipped("importlib", span)));
        }
        if self.eat_ident("cpp_quote") {
            self.expect_punct("(")?;
            match self.bump().map(|t| t.tok) {
                Some(Tok::Str(_)) => {}
                _ => {
                    self.pos = self.pos.saturating_sub(1);
                    return Err(self.expected("a string"));
                }
            }
            self.expect_punct(")")?;
            self.eat_punct(";");
            return Ok(Some(Item::Skipped("cpp_quote", span)));
        }
        if self.eat_ident("midl_pragma") {
            self.ident("`warning`")?;
            self.skip_group()?;
            self.eat_punct(";");
            return Ok(Some(Item::Skipped("midl_pragma", span)));
        }
        let attrs = self.attrs()?;
        if self.eat_ident("interface") {
            return self.interface(attrs).map(Some);
        }
        for kw in ["coclass", "library", "dispinterface", "module"] {
            if self.eat_ident(kw) {
                let what: &'static str = match kw {
                    "coclass" => "coclass",
                    "library" => "library",
                    "dispinterface" => "dispinterface",
                    _ => "module",
                };
                self.ident("a name")?;
                if self.is_punct("{") {
                    self.skip_group()?;
                }
                self.eat_punct(";");
                return Ok(Some(Item::Skipped(what, span)));
            }
        }
        if self.eat_ident("typedef") {
            let more = self.attrs()?;
            let mut attrs = attrs;
            attrs.0.extend(more.0);
            let ty = self.type_spec()?;
            let mut decls = vec![self.declarator(false, false)?];
            while self.eat_punct(",") {
                decls.push(self.declarator(false, false)?);
            }
            self.expect_punct(";")?;
            return Ok(Some(Item::Typedef(Typedef {
                attrs,
                ty,
                decls,
                span,
            })));
        }
        if self.eat_ident("const") {
            let ty = self.type_spec()?;
            let d = self.declarator(false, false)?;
            self.expect_punct("=")?;
            let e = self.expr()?;
            self.expect_punct(";")?;
            return Ok(Some(Item::Const(ty, d.name, e, d.span)));
        }
        let is_tagged = matches!(self.peek(), Some(Tok::Ident(k)) if k == "struct" || k == "union" || k == "enum");
        let ty = self.type_spec()?;
        if is_tagged && self.eat_punct(";") {
            return Ok(Some(Item::TypeDecl(ty, span)));
        }
        // an operation
        let d = self.declarator(false, true)?;
        let Some(params) = d.params else {
            return Err(self
                .map
                .error(
                    ErrorKind::Syntax,
                    d.span,
                    "a declaration in an interface is an operation",
                )
                .expected_found("`(` and the parameters", self.found()));
        };
        self.expect_punct(";")?;
        Ok(Some(Item::Operation(Operation {
            attrs,
            ret: ty,
            ret_ptrs: d.ptrs,
            name: d.name,
            params,
            span: d.span,
        })))
    }

    fn interface(&mut self, attrs: Attrs) -> Result<Item> {
        let (name, span) = self.ident("the interface name")?;
        if self.eat_punct(";") {
            return Ok(Item::ForwardInterface(name, span));
        }
        let base = if self.eat_punct(":") {
            Some(self.ident("the base interface")?.0)
        } else {
            None
        };
        self.expect_punct("{")?;
        self.enter()?;
        let items = self.items(true)?;
        self.leave();
        self.expect_punct("}")?;
        self.eat_punct(";");
        Ok(Item::Interface(Interface {
            attrs,
            name,
            base,
            items,
            span,
        }))
    }

    /// Zero or more `[...]` attribute lists.
    pub fn attrs(&mut self) -> Result<Attrs> {
        let mut out = Attrs::default();
        while self.eat_punct("[") {
            if self.eat_punct("]") {
                continue;
            }
            loop {
                out.0.push(self.attr()?);
                if self.eat_punct(",") {
                    // a trailing comma before `]`
                    if self.eat_punct("]") {
                        break;
                    }
                    continue;
                }
                self.expect_punct("]")?;
                break;
            }
        }
        Ok(out)
    }

    fn attr(&mut self) -> Result<Attr> {
        let (name, span) = self.ident("an attribute name")?;
        let mut args = Vec::new();
        if self.is_punct("(") {
            match name.as_str() {
                "uuid" | "version" => {
                    self.pos += 1;
                    let text = match self.bump().map(|t| t.tok) {
                        Some(Tok::Uuid(s) | Tok::Str(s) | Tok::Float(s)) => s,
                        Some(Tok::Int(v)) => v.to_string(),
                        _ => {
                            self.pos = self.pos.saturating_sub(1);
                            return Err(self.expected(if name == "uuid" {
                                "a UUID"
                            } else {
                                "a version like 1.0"
                            }));
                        }
                    };
                    args.push(AttrArg::Text(text));
                    self.expect_punct(")")?;
                }
                "switch_type" | "transmit_as" | "wire_marshal" | "user_marshal"
                | "represent_as" => {
                    self.pos += 1;
                    let ty = self.type_spec()?;
                    let mut ptrs = 0;
                    while self.eat_punct("*") {
                        ptrs += 1;
                    }
                    args.push(AttrArg::Type(ty, ptrs));
                    self.expect_punct(")")?;
                }
                "size_is" | "length_is" | "first_is" | "last_is" | "max_is" | "min_is"
                | "switch_is" | "case" | "range" | "pointer_default" | "call_as" | "iid_is"
                | "endpoint" | "helpstring" | "defaultvalue" | "id" | "lcid" | "callback"
                | "ms_union" | "async_uuid" | "ptr_size" => {
                    self.pos += 1;
                    loop {
                        if self.is_punct(",") || self.is_punct(")") {
                            args.push(AttrArg::Expr(None));
                        } else if self.is_punct("*")
                            && matches!(self.peek_at(1), Some(Tok::Punct("," | ")")))
                        {
                            // `size_is(*)`: a size the IDL leaves open
                            self.pos += 1;
                            args.push(AttrArg::Expr(None));
                        } else {
                            args.push(AttrArg::Expr(Some(self.expr()?)));
                        }
                        if !self.eat_punct(",") {
                            break;
                        }
                    }
                    self.expect_punct(")")?;
                }
                _ => self.skip_group()?,
            }
        }
        Ok(Attr { name, args, span })
    }

    fn skip_qualifiers(&mut self) {
        while matches!(self.peek(), Some(Tok::Ident(q)) if QUALIFIERS.contains(&q.as_str())) {
            self.pos += 1;
        }
    }

    fn starts_type(&self) -> bool {
        match self.peek() {
            Some(Tok::Ident(w)) => {
                BASE_WORDS.contains(&w.as_str())
                    || QUALIFIERS.contains(&w.as_str())
                    || matches!(w.as_str(), "struct" | "union" | "enum" | "pipe")
            }
            _ => false,
        }
    }

    /// A type specifier.
    pub fn type_spec(&mut self) -> Result<TypeSpec> {
        self.skip_qualifiers();
        let span = self.span();
        let mut words = Vec::new();
        while let Some(Tok::Ident(w)) = self.peek() {
            if BASE_WORDS.contains(&w.as_str()) {
                words.push(w.clone());
                self.pos += 1;
                self.skip_qualifiers();
            } else {
                break;
            }
        }
        if !words.is_empty() {
            return base_type(&words).map(TypeSpec::Base).ok_or_else(|| {
                self.map
                    .error(ErrorKind::Syntax, span, "invalid base type")
                    .expected_found("a base type", format!("`{}`", words.join(" ")))
            });
        }
        self.enter()?;
        let r = self.type_spec_inner(span);
        self.leave();
        let ty = r?;
        self.skip_qualifiers();
        Ok(ty)
    }

    fn type_spec_inner(&mut self, span: Span) -> Result<TypeSpec> {
        if self.eat_ident("struct") {
            let tag = self.opt_tag();
            let fields = if self.eat_punct("{") {
                let mut fields = Vec::new();
                while !self.eat_punct("}") {
                    if self.peek().is_none() {
                        return Err(self.expected("`}`"));
                    }
                    fields.extend(self.member()?);
                }
                Some(fields)
            } else {
                None
            };
            if tag.is_none() && fields.is_none() {
                return Err(self.expected("a structure tag or `{`"));
            }
            return Ok(TypeSpec::Struct(Box::new(StructDef { tag, fields, span })));
        }
        if self.eat_ident("union") {
            let tag = self.opt_tag();
            let switch = if self.eat_ident("switch") {
                self.expect_punct("(")?;
                let t = self.type_spec()?;
                let (n, _) = self.ident("the discriminant's name")?;
                self.expect_punct(")")?;
                let _union_name = self.opt_tag();
                Some((t, n))
            } else {
                None
            };
            let arms = if self.eat_punct("{") {
                Some(if switch.is_some() {
                    self.encapsulated_arms()?
                } else {
                    self.arms()?
                })
            } else {
                None
            };
            if tag.is_none() && arms.is_none() {
                return Err(self.expected("a union tag or `{`"));
            }
            return Ok(TypeSpec::Union(Box::new(UnionDef {
                tag,
                switch,
                arms,
                span,
            })));
        }
        if self.eat_ident("enum") {
            let tag = self.opt_tag();
            let items = if self.eat_punct("{") {
                let mut items = Vec::new();
                while !self.eat_punct("}") {
                    let (n, s) = self.ident("an enumerator or `}`")?;
                    let v = if self.eat_punct("=") {
                        Some(self.expr()?)
                    } else {
                        None
                    };
                    items.push((n, v, s));
                    if !self.eat_punct(",") {
                        self.expect_punct("}")?;
                        break;
                    }
                }
                Some(items)
            } else {
                None
            };
            if tag.is_none() && items.is_none() {
                return Err(self.expected("an enum tag or `{`"));
            }
            return Ok(TypeSpec::Enum(Box::new(EnumDef { tag, items, span })));
        }
        if self.eat_ident("pipe") {
            let t = self.type_spec()?;
            return Ok(TypeSpec::Pipe(Box::new(t), span));
        }
        match self.peek() {
            Some(Tok::Ident(n)) => {
                let n = n.clone();
                self.pos += 1;
                Ok(TypeSpec::Named(n, span))
            }
            _ => Err(self.expected("a type")),
        }
    }

    fn opt_tag(&mut self) -> Option<String> {
        match self.peek() {
            Some(Tok::Ident(t)) if t != "switch" => {
                let t = t.clone();
                self.pos += 1;
                Some(t)
            }
            _ => None,
        }
    }

    /// A structure member or union arm member: `[attrs] type decl, decl;`.
    fn member(&mut self) -> Result<Vec<Field>> {
        let attrs = self.attrs()?;
        let ty = self.type_spec()?;
        let mut out = Vec::new();
        if self.eat_punct(";") {
            // an unnamed member (a nested definition without a name)
            out.push(Field {
                attrs,
                ty,
                decl: Declarator {
                    ptrs: 0,
                    name: String::new(),
                    dims: Vec::new(),
                    params: None,
                    span: self.span(),
                },
            });
            return Ok(out);
        }
        loop {
            let decl = self.declarator(false, false)?;
            out.push(Field {
                attrs: attrs.clone(),
                ty: ty.clone(),
                decl,
            });
            if !self.eat_punct(",") {
                break;
            }
        }
        self.expect_punct(";")?;
        Ok(out)
    }

    fn arms(&mut self) -> Result<Vec<Arm>> {
        let mut arms = Vec::new();
        while !self.eat_punct("}") {
            let span = self.span();
            if self.peek().is_none() {
                return Err(self.expected("`}`"));
            }
            let mut attrs = self.attrs()?;
            let mut cases = Vec::new();
            let mut default = false;
            attrs.0.retain(|a| match a.name.as_str() {
                "case" => {
                    cases.extend(a.args.iter().filter_map(|x| match x {
                        AttrArg::Expr(Some(e)) => Some(e.clone()),
                        _ => None,
                    }));
                    false
                }
                "default" => {
                    default = true;
                    false
                }
                _ => true,
            });
            // an arm without [case] or [default] is a C union's member (local types only)
            let field = if self.eat_punct(";") {
                None
            } else {
                let ty = self.type_spec()?;
                let decl = if self.is_punct(";") {
                    Declarator {
                        ptrs: 0,
                        name: String::new(),
                        dims: Vec::new(),
                        params: None,
                        span: self.span(),
                    }
                } else {
                    self.declarator(false, false)?
                };
                self.expect_punct(";")?;
                Some(Field { attrs, ty, decl })
            };
            arms.push(Arm {
                cases,
                default,
                field,
                span,
            });
        }
        Ok(arms)
    }

    fn encapsulated_arms(&mut self) -> Result<Vec<Arm>> {
        let mut arms = Vec::new();
        while !self.eat_punct("}") {
            let span = self.span();
            let mut cases = Vec::new();
            let mut default = false;
            loop {
                if self.eat_ident("case") {
                    cases.push(self.expr()?);
                    self.expect_punct(":")?;
                } else if self.eat_ident("default") {
                    self.expect_punct(":")?;
                    default = true;
                } else {
                    break;
                }
            }
            if cases.is_empty() && !default {
                return Err(self.expected("`case` or `default`"));
            }
            let field = if self.eat_punct(";") {
                None
            } else {
                let attrs = self.attrs()?;
                let ty = self.type_spec()?;
                let decl = self.declarator(false, false)?;
                self.expect_punct(";")?;
                Some(Field { attrs, ty, decl })
            };
            arms.push(Arm {
                cases,
                default,
                field,
                span,
            });
        }
        Ok(arms)
    }

    /// A declarator: `*`s, a name (optional when `abstract_ok`), array dimensions, and (when
    /// `func`) a parameter list.
    fn declarator(&mut self, abstract_ok: bool, func: bool) -> Result<Declarator> {
        let mut ptrs = 0;
        self.skip_qualifiers();
        while self.eat_punct("*") || self.eat_punct("&") {
            ptrs += 1;
            self.skip_qualifiers();
        }
        let span = self.span();
        if self.is_punct("(") {
            return Err(self
                .map
                .error(
                    ErrorKind::Syntax,
                    span,
                    "function pointer declarators are not supported",
                )
                .expected_found("a name", "`(`"));
        }
        let name = match self.peek() {
            Some(Tok::Ident(n)) => {
                let n = n.clone();
                self.pos += 1;
                n
            }
            _ if abstract_ok => String::new(),
            _ => return Err(self.expected("a name")),
        };
        let mut dims = Vec::new();
        while self.eat_punct("[") {
            if self.eat_punct("]") {
                dims.push(Dim::Open);
                continue;
            }
            if self.is_punct("*") && matches!(self.peek_at(1), Some(Tok::Punct("]"))) {
                self.pos += 2;
                dims.push(Dim::Open);
                continue;
            }
            let e = self.expr()?;
            self.expect_punct("]")?;
            dims.push(Dim::Fixed(e));
        }
        let params = if func && self.eat_punct("(") {
            let mut params = Vec::new();
            if self.is_ident("void") && matches!(self.peek_at(1), Some(Tok::Punct(")"))) {
                self.pos += 1;
            }
            if !self.eat_punct(")") {
                loop {
                    let attrs = self.attrs()?;
                    let ty = self.type_spec()?;
                    let decl = self.declarator(true, false)?;
                    params.push(Field { attrs, ty, decl });
                    if self.eat_punct(",") {
                        continue;
                    }
                    self.expect_punct(")")?;
                    break;
                }
            }
            Some(params)
        } else {
            None
        };
        Ok(Declarator {
            ptrs,
            name,
            dims,
            params,
            span,
        })
    }

    /// An expression (C precedence, with `?:`).
    pub fn expr(&mut self) -> Result<Expr> {
        self.enter()?;
        let r = self.cond_expr();
        self.leave();
        r
    }

    fn cond_expr(&mut self) -> Result<Expr> {
        let c = self.binary(0)?;
        if self.is_punct("?") {
            let span = self.span();
            self.pos += 1;
            let a = self.expr()?;
            self.expect_punct(":")?;
            let b = self.expr()?;
            return Ok(Expr::Cond(Box::new(c), Box::new(a), Box::new(b), span));
        }
        Ok(c)
    }

    fn binary(&mut self, min_prec: u8) -> Result<Expr> {
        let mut lhs = self.unary()?;
        while let Some((op, prec)) = match self.peek() {
            Some(Tok::Punct(p)) => binop(p),
            _ => None,
        } {
            if prec < min_prec {
                break;
            }
            let span = self.span();
            self.pos += 1;
            self.enter()?;
            let rhs = self.binary(prec + 1);
            self.leave();
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs?), span);
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr> {
        let span = self.span();
        for op in ["-", "+", "~", "!", "*", "&"] {
            if self.eat_punct(op) {
                self.enter()?;
                let e = self.unary();
                self.leave();
                return Ok(Expr::Unary(op, Box::new(e?), span));
            }
        }
        let mut e = self.primary()?;
        loop {
            let span = self.span();
            if self.eat_punct(".") || self.eat_punct("->") {
                let (n, _) = self.ident("a member name")?;
                e = Expr::Member(Box::new(e), n, span);
            } else if self.eat_punct("[") {
                let i = self.expr()?;
                self.expect_punct("]")?;
                e = Expr::Index(Box::new(e), Box::new(i), span);
            } else {
                break;
            }
        }
        Ok(e)
    }

    fn primary(&mut self) -> Result<Expr> {
        let span = self.span();
        match self.peek().cloned() {
            Some(Tok::Int(v)) => {
                self.pos += 1;
                Ok(Expr::Int(v, span))
            }
            Some(Tok::Char(c)) => {
                self.pos += 1;
                Ok(Expr::Int(u64::from(c), span))
            }
            Some(Tok::Str(s)) => {
                self.pos += 1;
                let mut s = s;
                while let Some(Tok::Str(more)) = self.peek() {
                    s.push_str(more);
                    self.pos += 1;
                }
                Ok(Expr::Str(s, span))
            }
            Some(Tok::Ident(n)) if n == "sizeof" => {
                self.pos += 1;
                if !self.is_punct("(") {
                    return Err(self.expected("`(`"));
                }
                // `sizeof(base type)` has a value (NDR20 sizes); anything else is kept unevaluated
                let save = self.pos;
                self.pos += 1;
                if self.starts_type() {
                    if let Ok(TypeSpec::Base(b)) = self.type_spec() {
                        let mut ptr = false;
                        while self.eat_punct("*") {
                            ptr = true;
                        }
                        if self.eat_punct(")") {
                            return Ok(Expr::Sizeof(
                                Some(if ptr { 4 } else { base_size(b) }),
                                span,
                            ));
                        }
                    }
                }
                self.pos = save + 1;
                // `sizeof(NAME)` / `sizeof(NAME *)`: a typedef name
                if let Some(Tok::Ident(n)) = self.peek() {
                    let n = n.clone();
                    if !starts_keyword(&n) {
                        self.pos += 1;
                        let mut ptr = false;
                        while self.eat_punct("*") {
                            ptr = true;
                        }
                        if self.eat_punct(")") {
                            return Ok(if ptr {
                                Expr::Sizeof(Some(4), span)
                            } else {
                                Expr::SizeofType(n, span)
                            });
                        }
                    }
                }
                self.pos = save;
                self.skip_group()?;
                Ok(Expr::Sizeof(None, span))
            }
            Some(Tok::Ident(n)) => {
                self.pos += 1;
                Ok(Expr::Name(n, span))
            }
            Some(Tok::Punct("(")) => {
                self.pos += 1;
                let named_cast = matches!(self.peek(), Some(Tok::Ident(_)))
                    && matches!(self.peek_at(1), Some(Tok::Punct(")") | Tok::Punct("*")))
                    && matches!(
                        self.peek_at(2),
                        Some(
                            Tok::Int(_)
                                | Tok::Ident(_)
                                | Tok::Char(_)
                                | Tok::Punct("(" | "~" | "!")
                        )
                    )
                    && !matches!(
                        (self.peek_at(1), self.peek_at(2)),
                        (
                            Some(Tok::Punct("*")),
                            Some(Tok::Int(_) | Tok::Ident(_) | Tok::Punct("("))
                        )
                    );
                if self.starts_type() || named_cast {
                    let ty = self.type_spec()?;
                    while self.eat_punct("*") {}
                    self.expect_punct(")")?;
                    self.enter()?;
                    let e = self.unary();
                    self.leave();
                    return Ok(Expr::Cast(Box::new(ty), Box::new(e?), span));
                }
                let e = self.expr()?;
                self.expect_punct(")")?;
                Ok(e)
            }
            _ => Err(self.expected("an expression")),
        }
    }
}

fn binop(p: &str) -> Option<(&'static str, u8)> {
    Some(match p {
        "||" => ("||", 1),
        "&&" => ("&&", 2),
        "|" => ("|", 3),
        "^" => ("^", 4),
        "&" => ("&", 5),
        "==" => ("==", 6),
        "!=" => ("!=", 6),
        "<" => ("<", 7),
        ">" => (">", 7),
        "<=" => ("<=", 7),
        ">=" => (">=", 7),
        "<<" => ("<<", 8),
        ">>" => (">>", 8),
        "+" => ("+", 9),
        "-" => ("-", 9),
        "*" => ("*", 10),
        "/" => ("/", 10),
        "%" => ("%", 10),
        _ => return None,
    })
}

/// Whether `w` is a word a typedef name cannot be (a base type word, a qualifier, a tag
/// keyword).
fn starts_keyword(w: &str) -> bool {
    BASE_WORDS.contains(&w)
        || QUALIFIERS.contains(&w)
        || matches!(w, "struct" | "union" | "enum" | "pipe")
}

/// The NDR20 size of a base type (what `sizeof` gives in a constant expression).
pub fn base_size(b: Base) -> u64 {
    match b {
        Base::Int { bits, .. } => u64::from(bits / 8),
        Base::Int3264 { .. } => 4,
        Base::Char | Base::Byte | Base::Boolean | Base::Void => 1,
        Base::WChar => 2,
        Base::Float | Base::HandleT | Base::ErrorStatus => 4,
        Base::Double => 8,
    }
}

/// Combines base type keywords (`unsigned long`, `short int`, `unsigned __int64`...).
fn base_type(words: &[String]) -> Option<Base> {
    let has = |w: &str| words.iter().any(|x| x == w);
    let unsigned = has("unsigned");
    let signed = has("signed");
    let single = |b: Base| (words.len() == 1).then_some(b);
    if has("float") {
        return single(Base::Float);
    }
    if has("double") {
        return if words.iter().all(|w| w == "double" || w == "long") {
            Some(Base::Double)
        } else {
            None
        };
    }
    for (w, b) in [
        ("void", Base::Void),
        ("boolean", Base::Boolean),
        ("byte", Base::Byte),
        ("wchar_t", Base::WChar),
        ("handle_t", Base::HandleT),
        ("error_status_t", Base::ErrorStatus),
        ("ISO_LATIN_1", Base::Char),
        (
            "ISO_MULTI_LINGUAL",
            Base::Int {
                bits: 16,
                signed: false,
            },
        ),
        (
            "ISO_UCS",
            Base::Int {
                bits: 32,
                signed: false,
            },
        ),
    ] {
        if has(w) {
            return single(b);
        }
    }
    if unsigned && signed {
        return None;
    }
    if has("__int3264") {
        return Some(Base::Int3264 { signed: !unsigned });
    }
    let longs = words.iter().filter(|w| *w == "long").count();
    let bits = if has("char") || has("small") || has("__int8") || has("int8") || has("uint8") {
        if has("char") && !signed {
            return Some(Base::Char);
        }
        8
    } else if has("short") || has("__int16") {
        16
    } else if has("hyper") || has("__int64") || longs >= 2 {
        64
    } else {
        // long, int, __int32, or a lone signed/unsigned
        32
    };
    Some(Base::Int {
        bits,
        signed: !unsigned && !has("uint8"),
    })
}
