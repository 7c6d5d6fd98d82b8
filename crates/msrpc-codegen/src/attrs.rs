//! Parsing of the `#[ndr(...)]` attribute sets on fields, parameters, containers and variants.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, LitStr, Token};

/// Character type of a `[string]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    /// `wchar_t` (UTF-16 code units), the default.
    Wide,
    /// `char` (8-bit).
    Char,
}

/// Attributes of a structure field or an operation parameter.
#[derive(Clone, Default)]
pub struct FieldAttrs {
    /// `size_is = "expr"`.
    pub size_is: Option<Expr>,
    /// `length_is = "expr"`.
    pub length_is: Option<Expr>,
    /// `max = N`: fixed maximum of a varying array or string.
    pub max: Option<Expr>,
    /// `string` / `string = "char"` / `string = "wide"`.
    pub string: Option<Charset>,
    /// `switch_is = "expr"`.
    pub switch_is: Option<Expr>,
    /// `range(lo, hi)`.
    pub range: Option<(Expr, Expr)>,
    /// `in` (parameters only).
    pub is_in: bool,
    /// `out` (parameters only).
    pub is_out: bool,
    /// `unique` (parameters of type `Option<T>` only).
    pub unique: bool,
    /// `pipe` (parameters only): the parameter is a pipe (`msrpc_ndr::Pipe<T>` or an alias of
    /// one), written after the other `[in]` parameters and before the other `[out]` ones.
    pub pipe: bool,
    /// Span of the attribute set (for errors).
    pub span: Option<Span>,
}

impl FieldAttrs {
    /// True when no sizing, string or check attribute is present.
    pub fn is_plain(&self) -> bool {
        self.size_is.is_none()
            && self.length_is.is_none()
            && self.max.is_none()
            && self.string.is_none()
            && self.switch_is.is_none()
            && self.range.is_none()
    }
}

/// Reads an attribute value written either as a string literal holding an expression
/// (`size_is = "len * 2"`) or as a bare expression (`size_is = len`).
fn expr_value(meta: &ParseNestedMeta<'_>) -> syn::Result<Expr> {
    let value = meta.value()?;
    if value.peek(LitStr) {
        let lit: LitStr = value.parse()?;
        lit.parse::<Expr>()
    } else {
        value.parse::<Expr>()
    }
}

fn set<T>(slot: &mut Option<T>, v: T, meta: &ParseNestedMeta<'_>, name: &str) -> syn::Result<()> {
    if slot.is_some() {
        return Err(meta.error(format!("duplicate `{name}`")));
    }
    *slot = Some(v);
    Ok(())
}

/// True when the meta path is the identifier `name` (raw identifiers such as `r#in` match
/// their plain spelling).
pub fn path_is(meta: &ParseNestedMeta<'_>, name: &str) -> bool {
    meta.path.get_ident().is_some_and(|i| {
        let s = i.to_string();
        s == name || s.strip_prefix("r#") == Some(name)
    })
}

fn path_name(meta: &ParseNestedMeta<'_>) -> String {
    meta.path
        .get_ident()
        .map(|i| i.to_string())
        .unwrap_or_else(|| quote::ToTokens::to_token_stream(&meta.path).to_string())
}

/// Parses every `#[ndr(...)]` among `attrs` as field/parameter attributes. `param` enables the
/// direction attributes.
pub fn field_attrs(attrs: &[Attribute], param: bool) -> syn::Result<FieldAttrs> {
    let mut out = FieldAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("ndr")) {
        out.span = Some(
            attr.path()
                .get_ident()
                .map_or_else(Span::call_site, |i| i.span()),
        );
        attr.parse_nested_meta(|meta| {
            if path_is(&meta, "size_is") {
                let e = expr_value(&meta)?;
                set(&mut out.size_is, e, &meta, "size_is")
            } else if path_is(&meta, "length_is") {
                let e = expr_value(&meta)?;
                set(&mut out.length_is, e, &meta, "length_is")
            } else if path_is(&meta, "max") {
                let e = expr_value(&meta)?;
                set(&mut out.max, e, &meta, "max")
            } else if path_is(&meta, "switch_is") {
                let e = expr_value(&meta)?;
                set(&mut out.switch_is, e, &meta, "switch_is")
            } else if path_is(&meta, "string") {
                let cs = if meta.input.peek(Token![=]) {
                    let lit: LitStr = meta.value()?.parse()?;
                    match lit.value().as_str() {
                        "char" => Charset::Char,
                        "wide" | "wchar" | "utf16" => Charset::Wide,
                        other => {
                            return Err(syn::Error::new(
                                lit.span(),
                                format!("unknown string charset `{other}` (expected \"char\" or \"wide\")"),
                            ))
                        }
                    }
                } else {
                    Charset::Wide
                };
                set(&mut out.string, cs, &meta, "string")
            } else if path_is(&meta, "range") {
                let content;
                syn::parenthesized!(content in meta.input);
                let lo: Expr = content.parse()?;
                content.parse::<Token![,]>()?;
                let hi: Expr = content.parse()?;
                if !content.is_empty() {
                    return Err(content.error("expected `range(lo, hi)`"));
                }
                set(&mut out.range, (lo, hi), &meta, "range")
            } else if param && (path_is(&meta, "in") || path_is(&meta, "input")) {
                out.is_in = true;
                Ok(())
            } else if param && (path_is(&meta, "out") || path_is(&meta, "output")) {
                out.is_out = true;
                Ok(())
            } else if param && path_is(&meta, "in_out") {
                out.is_in = true;
                out.is_out = true;
                Ok(())
            } else if param && path_is(&meta, "unique") {
                out.unique = true;
                Ok(())
            } else if param && path_is(&meta, "pipe") {
                out.pipe = true;
                Ok(())
            } else {
                Err(meta.error(format!(
                    "unknown ndr attribute `{}`{}",
                    path_name(&meta),
                    if param {
                        " (expected in, out, in_out, unique, pipe, size_is, length_is, max, string, switch_is or range)"
                    } else {
                        " (expected size_is, length_is, max, string, switch_is or range)"
                    }
                )))
            }
        })?;
    }
    Ok(out)
}

/// Wire type of a union discriminant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwitchType {
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32` (the default).
    U32,
    /// An NDR enum (`switch_type(some_enum)` without `v1_enum`): 16 bits in NDR20, 32 in
    /// NDR64, where every enum is 4 octets (MS-RPCE 2.2.5.2); held as a `u16`.
    Enum16,
}

impl SwitchType {
    /// The Rust type.
    pub fn ty(self) -> TokenStream {
        match self {
            SwitchType::U8 => quote::quote!(u8),
            SwitchType::U16 | SwitchType::Enum16 => quote::quote!(u16),
            SwitchType::U32 => quote::quote!(u32),
        }
    }

    /// Size (= alignment) in bytes, in NDR20.
    pub fn size(self) -> usize {
        match self {
            SwitchType::U8 => 1,
            SwitchType::U16 | SwitchType::Enum16 => 2,
            SwitchType::U32 => 4,
        }
    }

    /// Size (= alignment) in bytes, in NDR64.
    pub fn size64(self) -> usize {
        match self {
            SwitchType::Enum16 => 4,
            other => other.size(),
        }
    }
}

/// Attributes on the type of a derive.
#[derive(Clone, Default)]
pub struct ContainerAttrs {
    /// `switch_type = "u16"` (unions).
    pub switch_type: Option<SwitchType>,
    /// `encapsulated` (unions).
    pub encapsulated: bool,
    /// `v1_enum` (enums: 32-bit on the wire).
    pub v1_enum: bool,
}

/// Parses `#[ndr(...)]` on a struct or enum.
pub fn container_attrs(attrs: &[Attribute]) -> syn::Result<ContainerAttrs> {
    let mut out = ContainerAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("ndr")) {
        attr.parse_nested_meta(|meta| {
            if path_is(&meta, "switch_type") {
                let lit: LitStr = meta.value()?.parse()?;
                let st = match lit.value().as_str() {
                    "u8" | "uint8" => SwitchType::U8,
                    "u16" | "uint16" => SwitchType::U16,
                    "u32" | "uint32" => SwitchType::U32,
                    "enum16" | "enum" => SwitchType::Enum16,
                    other => {
                        return Err(syn::Error::new(
                            lit.span(),
                            format!("unsupported switch_type `{other}` (expected \"u8\", \"u16\", \"u32\" or \"enum16\")"),
                        ))
                    }
                };
                set(&mut out.switch_type, st, &meta, "switch_type")
            } else if path_is(&meta, "encapsulated") {
                out.encapsulated = true;
                Ok(())
            } else if path_is(&meta, "v1_enum") {
                out.v1_enum = true;
                Ok(())
            } else {
                Err(meta.error(format!(
                    "unknown ndr attribute `{}` (expected switch_type, encapsulated or v1_enum)",
                    path_name(&meta)
                )))
            }
        })?;
    }
    Ok(out)
}

/// Attributes on a union arm or an NDR enum's variant.
#[derive(Clone, Default)]
pub struct VariantAttrs {
    /// `case = expr` (union arms).
    pub case: Option<Expr>,
    /// `default` (union arms).
    pub default: bool,
    /// `unknown`: the catch-all variant of an NDR enum, holding any value it does not name.
    pub unknown: bool,
}

/// Parses `#[ndr(...)]` on an enum variant.
pub fn variant_attrs(attrs: &[Attribute]) -> syn::Result<VariantAttrs> {
    let mut out = VariantAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("ndr")) {
        attr.parse_nested_meta(|meta| {
            if path_is(&meta, "case") {
                let e = expr_value(&meta)?;
                set(&mut out.case, e, &meta, "case")
            } else if path_is(&meta, "default") {
                out.default = true;
                Ok(())
            } else if path_is(&meta, "unknown") {
                out.unknown = true;
                Ok(())
            } else {
                Err(meta.error(format!(
                    "unknown ndr attribute `{}` on a variant (expected case, default or unknown)",
                    path_name(&meta)
                )))
            }
        })?;
    }
    Ok(out)
}

/// Doc attributes among `attrs` (to carry over to generated items).
pub fn docs(attrs: &[Attribute]) -> Vec<&Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("doc")).collect()
}
