//! The wire *shape* of a field or parameter (plain `Ndr` value, conformant/varying array,
//! string, pointer to one of those), derived from its Rust type and `#[ndr]` attributes, and
//! the code that encodes and decodes each shape.
//!
//! Generated code uses these local names: `__w` (the `Writer`), `__r` (the `Reader`), and the
//! sizing values `__size_is`, `__length_is`, `__switch_is` (each a `u64`) computed by a
//! [`prelude`] right before the code that needs them.

use std::collections::BTreeSet;

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::{Expr, GenericArgument, PathArguments, Type};

use crate::attrs::{Charset, FieldAttrs};

/// Where a value sits, which decides the form of arrays and strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// A structure member or union arm; `last` is true for a structure's last member.
    Member {
        /// The last member of a structure (may be a conformant array).
        last: bool,
    },
    /// A top-level operation parameter.
    TopLevel,
    /// The referent of a pointer.
    Referent,
}

/// Kind of a pointer with attributes on its referent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PtrKind {
    /// `Unique<T>`.
    Unique,
    /// `Ref<T>`.
    Ref,
    /// `Full<T>` (`[ptr]`): the referent written once however many aliases name it.
    Full,
}

/// Checks applied to a plain value.
#[derive(Clone, Default)]
pub struct Checks {
    /// `switch_is` present (value in `__switch_is`).
    pub switch_is: bool,
    /// `range(lo, hi)`.
    pub range: Option<(Expr, Expr)>,
}

/// The wire shape of a value.
#[derive(Clone)]
pub enum Shape {
    /// A type implementing `Ndr`, used as is.
    Plain {
        /// The type.
        ty: Type,
        /// Checks on the value.
        checks: Checks,
    },
    /// `Vec<T>` as a conformant (or, with `length_is`, conformant-varying) array. As the last
    /// member of a structure its max_count is hoisted.
    Conformant {
        /// Element type.
        elem: Type,
        /// `size_is` given.
        size_is: bool,
        /// `length_is` given (conformant-varying).
        length_is: bool,
    },
    /// `Vec<T>` with `max = N`: a varying array of fixed maximum.
    Varying {
        /// Element type.
        elem: Type,
        /// The fixed maximum.
        max: Expr,
        /// `length_is` given.
        length_is: bool,
    },
    /// `String` as a `[string]`.
    Str {
        /// Character type.
        cs: Charset,
        /// Fixed maximum (varying string), else conformant-varying.
        max: Option<Expr>,
        /// `size_is` given (conformant-varying with an explicit max_count).
        size_is: bool,
    },
    /// `Unique<X>` / `Ref<X>` whose referent has a shape of its own.
    Ptr {
        /// Pointer kind.
        kind: PtrKind,
        /// The referent type `X`.
        inner_ty: Type,
        /// The referent's shape.
        inner: Box<Shape>,
    },
    /// A top-level `Option<T>` parameter: a unique pointer.
    Opt {
        /// The referent type.
        inner_ty: Type,
        /// The referent's shape.
        inner: Box<Shape>,
    },
}

/// The last path segment's name and its single generic argument, if the type is a path.
pub fn type_head(ty: &Type) -> Option<(String, Option<&Type>)> {
    let Type::Path(tp) = ty else { return None };
    if tp.qself.is_some() {
        return None;
    }
    let seg = tp.path.segments.last()?;
    let arg = match &seg.arguments {
        PathArguments::AngleBracketed(a) if a.args.len() == 1 => match a.args.first() {
            Some(GenericArgument::Type(t)) => Some(t),
            _ => None,
        },
        _ => None,
    };
    Some((seg.ident.to_string(), arg))
}

fn err(span: Span, msg: impl std::fmt::Display) -> syn::Error {
    syn::Error::new(span, msg)
}

/// Derives the shape of a value of type `ty` with attributes `attrs` at `pos`.
pub fn classify(ty: &Type, attrs: &FieldAttrs, pos: Position) -> syn::Result<Shape> {
    let span = ty.span();
    let head = type_head(ty);
    let (name, arg) = match &head {
        Some((n, a)) => (n.as_str(), *a),
        None => ("", None),
    };
    let no_checks = |what: &str| -> syn::Result<()> {
        if attrs.switch_is.is_some() || attrs.range.is_some() {
            return Err(err(
                span,
                format!("switch_is and range apply to plain values, not to {what}"),
            ));
        }
        Ok(())
    };
    match (name, arg) {
        ("Option", Some(inner)) => {
            if pos != Position::TopLevel {
                return Err(err(
                    span,
                    "Option<T> is only a top-level [unique] parameter; use msrpc_ndr::Unique<T> here",
                ));
            }
            let shape = classify(inner, attrs, Position::Referent)?;
            Ok(Shape::Opt {
                inner_ty: inner.clone(),
                inner: Box::new(shape),
            })
        }
        ("Unique" | "Ref" | "Full", Some(inner)) if !attrs.is_plain() => {
            let kind = match name {
                "Unique" => PtrKind::Unique,
                "Full" => PtrKind::Full,
                _ => PtrKind::Ref,
            };
            let shape = classify(inner, attrs, Position::Referent)?;
            Ok(Shape::Ptr {
                kind,
                inner_ty: inner.clone(),
                inner: Box::new(shape),
            })
        }
        ("Vec", Some(elem)) => {
            no_checks("arrays")?;
            if attrs.string.is_some() {
                return Err(err(span, "`string` applies to String, not Vec"));
            }
            if let Some(max) = &attrs.max {
                if attrs.size_is.is_some() {
                    return Err(err(
                        span,
                        "`max` (a varying array of fixed size) and `size_is` exclude each other",
                    ));
                }
                return Ok(Shape::Varying {
                    elem: elem.clone(),
                    max: max.clone(),
                    length_is: attrs.length_is.is_some(),
                });
            }
            let sized = attrs.size_is.is_some() || attrs.length_is.is_some();
            match pos {
                Position::Member { last } => {
                    if !sized {
                        return Err(err(
                            span,
                            "an embedded Vec needs `size_is` (conformant array, last field) or `max = N` (varying array)",
                        ));
                    }
                    if !last {
                        return Err(err(
                            span,
                            "a conformant array (size_is) must be the last field of a structure; use `max = N` for a varying array or a Unique<Vec<T>> pointer",
                        ));
                    }
                    if attrs.size_is.is_none() {
                        return Err(err(
                            span,
                            "an embedded conformant-varying array needs `size_is` as well as `length_is`",
                        ));
                    }
                }
                Position::TopLevel | Position::Referent => {
                    if !sized {
                        return Ok(Shape::Plain {
                            ty: ty.clone(),
                            checks: Checks::default(),
                        });
                    }
                }
            }
            Ok(Shape::Conformant {
                elem: elem.clone(),
                size_is: attrs.size_is.is_some(),
                length_is: attrs.length_is.is_some(),
            })
        }
        ("String", None) => {
            no_checks("strings")?;
            if attrs.length_is.is_some() {
                return Err(err(span, "`length_is` does not apply to a [string]"));
            }
            let cs = attrs.string.unwrap_or(Charset::Wide);
            if let Position::Member { .. } = pos {
                if attrs.max.is_none() {
                    return Err(err(
                        span,
                        "an embedded String needs `max = N` (a fixed-size [string] array); put a conformant string behind a Unique<String> pointer",
                    ));
                }
                if attrs.size_is.is_some() {
                    return Err(err(
                        span,
                        "`size_is` on an embedded String is not supported",
                    ));
                }
            }
            if attrs.max.is_some() && attrs.size_is.is_some() {
                return Err(err(span, "`max` and `size_is` exclude each other"));
            }
            Ok(Shape::Str {
                cs,
                max: attrs.max.clone(),
                size_is: attrs.size_is.is_some(),
            })
        }
        _ => {
            if attrs.string.is_some() {
                return Err(err(span, "`string` applies to String fields only"));
            }
            if attrs.size_is.is_some() || attrs.length_is.is_some() || attrs.max.is_some() {
                return Err(err(
                    span,
                    "size_is / length_is / max apply to Vec<T> (or String), or to a Unique/Ref pointer to one",
                ));
            }
            Ok(Shape::Plain {
                ty: ty.clone(),
                checks: Checks {
                    switch_is: attrs.switch_is.is_some(),
                    range: attrs.range.clone(),
                },
            })
        }
    }
}

/// The identifiers in `expr` that may name sibling fields or parameters (not those right
/// after a `.`, which are fields or methods of something else).
pub fn expr_names(expr: &Expr) -> BTreeSet<String> {
    fn walk(ts: TokenStream, out: &mut BTreeSet<String>) {
        let mut after_dot = false;
        for tt in ts {
            match tt {
                TokenTree::Ident(i) => {
                    if !after_dot {
                        out.insert(i.to_string());
                    }
                    after_dot = false;
                }
                TokenTree::Punct(p) => after_dot = p.as_char() == '.',
                TokenTree::Group(g) => {
                    walk(g.stream(), out);
                    after_dot = false;
                }
                TokenTree::Literal(_) => after_dot = false,
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(expr.to_token_stream(), &mut out);
    out
}

/// Resolves a name in a sizing expression to the place holding its value (`self.len`,
/// `len`, `__req.len`), or `None` to leave it free (a constant).
pub trait Binder {
    /// The place for `name`, or `None`; an error for a name that cannot be used here.
    fn place(&self, name: &str, span: Span) -> syn::Result<Option<TokenStream>>;
}

/// Code evaluating `expr` to a `u64`, with the sibling names it uses bound (as references).
pub fn eval(expr: &Expr, binder: &dyn Binder) -> syn::Result<TokenStream> {
    let mut binds = TokenStream::new();
    for name in expr_names(expr) {
        if let Some(place) = binder.place(&name, expr.span())? {
            // a field or parameter named by a keyword is a raw identifier (`r#type`)
            let id = match name.strip_prefix("r#") {
                Some(raw) => Ident::new_raw(raw, expr.span()),
                None => Ident::new(&name, expr.span()),
            };
            binds.extend(quote! { let #id = &#place; });
        }
    }
    Ok(quote! { { #binds ::msrpc_ndr::ndr_count(#expr) } })
}

/// `let __size_is = ...; let __length_is = ...; let __switch_is = ...;` for the attributes
/// present.
pub fn prelude(attrs: &FieldAttrs, binder: &dyn Binder) -> syn::Result<TokenStream> {
    let mut out = TokenStream::new();
    if let Some(e) = &attrs.size_is {
        let v = eval(e, binder)?;
        out.extend(quote! { let __size_is: u64 = #v; });
    }
    if let Some(e) = &attrs.length_is {
        let v = eval(e, binder)?;
        out.extend(quote! { let __length_is: u64 = #v; });
    }
    if let Some(e) = &attrs.switch_is {
        let v = eval(e, binder)?;
        out.extend(quote! { let __switch_is: u64 = #v; });
    }
    Ok(out)
}

fn opt(flag: bool, name: &str) -> TokenStream {
    if flag {
        let id = Ident::new(name, Span::call_site());
        quote!(::core::option::Option::Some(#id))
    } else {
        quote!(::core::option::Option::None)
    }
}

fn max_value(max: &Expr) -> TokenStream {
    quote!(::msrpc_ndr::ndr_count(#max))
}

/// Encode-side checks on a plain value `v` (an expression of type `&T`).
fn encode_checks(checks: &Checks, v: &TokenStream, field: &str) -> TokenStream {
    let mut out = TokenStream::new();
    if let Some((lo, hi)) = &checks.range {
        out.extend(quote! {
            {
                let __lo: i128 = #lo;
                let __hi: i128 = #hi;
                let __val = ::core::primitive::i128::from(*#v);
                if __val < __lo || __val > __hi {
                    return ::core::result::Result::Err(::msrpc_ndr::EncodeError::OutOfRange(#field));
                }
            }
        });
    }
    if checks.switch_is {
        out.extend(quote! {
            {
                let __found = ::msrpc_ndr::NdrUnion::discriminant(#v);
                if __found != __switch_is {
                    return ::core::result::Result::Err(::msrpc_ndr::EncodeError::DiscriminantMismatch {
                        field: #field,
                        expected: __switch_is,
                        found: __found,
                    });
                }
            }
        });
    }
    out
}

/// Decode-side checks on a plain value `v` (an expression of type `&T`); errors get `wrap`
/// appended (path segments).
pub fn decode_checks(checks: &Checks, v: &TokenStream, wrap: &TokenStream) -> TokenStream {
    let mut out = TokenStream::new();
    if let Some((lo, hi)) = &checks.range {
        out.extend(quote! {
            {
                let __lo: i128 = #lo;
                let __hi: i128 = #hi;
                let __val = ::core::primitive::i128::from(*#v);
                if __val < __lo || __val > __hi {
                    return ::core::result::Result::Err(__r.error(
                        ::msrpc_ndr::DecodeErrorKind::OutOfRange { value: __val, min: __lo, max: __hi },
                    )#wrap);
                }
            }
        });
    }
    if checks.switch_is {
        out.extend(quote! {
            {
                let __found = ::msrpc_ndr::NdrUnion::discriminant(#v);
                if __found != __switch_is {
                    return ::core::result::Result::Err(__r.error(
                        ::msrpc_ndr::DecodeErrorKind::DiscriminantMismatch { expected: __switch_is, found: __found },
                    )#wrap);
                }
            }
        });
    }
    out
}

/// Statements writing the value `v` (an expression of type `&T`) in full, in its top-level /
/// referent form.
pub fn full_encode(shape: &Shape, v: &TokenStream, field: &str) -> TokenStream {
    match shape {
        Shape::Plain { checks, .. } => {
            let c = encode_checks(checks, v, field);
            quote! { #c ::msrpc_ndr::Ndr::encode(#v, __w)?; }
        }
        Shape::Conformant {
            size_is, length_is, ..
        } => {
            let size = opt(*size_is, "__size_is");
            let head = if *length_is {
                quote! { ::msrpc_ndr::array::encode_conformant_varying(#v, #size, ::core::option::Option::Some(__length_is), #field, __w)?; }
            } else {
                quote! { ::msrpc_ndr::array::encode_conformant(#v, #size, #field, __w)?; }
            };
            quote! { #head ::msrpc_ndr::array::encode_elements_buffers(#v, __w)?; }
        }
        Shape::Varying { max, length_is, .. } => {
            let len = opt(*length_is, "__length_is");
            let max = max_value(max);
            quote! {
                ::msrpc_ndr::array::encode_varying(#v, #max, #len, #field, __w)?;
                ::msrpc_ndr::array::encode_elements_buffers(#v, __w)?;
            }
        }
        Shape::Str { cs, max, size_is } => str_encode(*cs, max.as_ref(), *size_is, v, field),
        Shape::Ptr { kind, inner, .. } => {
            let inner_v = quote!(__v);
            let body = full_encode(inner, &inner_v, field);
            match kind {
                PtrKind::Unique => quote! {
                    ::msrpc_ndr::Unique::encode_pointer(#v, __w)?;
                    ::msrpc_ndr::Unique::encode_referent_with(#v, __w, |__v, __w| {
                        #body
                        ::core::result::Result::Ok(())
                    })?;
                },
                PtrKind::Full => quote! {
                    ::msrpc_ndr::Full::encode_pointer(#v, __w)?;
                    ::msrpc_ndr::Full::encode_referent_with(#v, __w, |__v, __w| {
                        #body
                        ::core::result::Result::Ok(())
                    })?;
                },
                PtrKind::Ref => quote! {
                    ::msrpc_ndr::Ref::encode_pointer(#v, __w)?;
                    {
                        let __v = &*(#v).0;
                        #body
                    }
                },
            }
        }
        Shape::Opt { inner, .. } => {
            let inner_v = quote!(__v);
            let body = full_encode(inner, &inner_v, field);
            quote! {
                match #v {
                    ::core::option::Option::Some(__v) => {
                        let __id = __w.next_ref_id();
                        __w.ref_id(__id);
                        #body
                    }
                    ::core::option::Option::None => __w.ref_id(0),
                }
            }
        }
    }
}

fn str_encode(
    cs: Charset,
    max: Option<&Expr>,
    size_is: bool,
    v: &TokenStream,
    field: &str,
) -> TokenStream {
    match (cs, max) {
        (Charset::Wide, Some(m)) => {
            let m = max_value(m);
            quote! { ::msrpc_ndr::string::encode_wide_varying(#v, #m, #field, __w)?; }
        }
        (Charset::Char, Some(m)) => {
            let m = max_value(m);
            quote! { ::msrpc_ndr::string::encode_char_varying(#v, #m, #field, __w)?; }
        }
        (Charset::Wide, None) if size_is => {
            quote! { ::msrpc_ndr::string::encode_wide_sized(#v, ::core::option::Option::Some(__size_is), #field, __w)?; }
        }
        (Charset::Char, None) if size_is => {
            quote! { ::msrpc_ndr::string::encode_char_sized(#v, ::core::option::Option::Some(__size_is), #field, __w)?; }
        }
        (Charset::Wide, None) => quote! { ::msrpc_ndr::string::encode_wide(#v, #field, __w)?; },
        (Charset::Char, None) => quote! { ::msrpc_ndr::string::encode_char(#v, #field, __w)?; },
    }
}

fn str_decode(cs: Charset, max: Option<&Expr>, size_is: bool) -> TokenStream {
    let size = opt(size_is, "__size_is");
    match (cs, max) {
        (Charset::Wide, Some(m)) => {
            let m = max_value(m);
            quote! { ::msrpc_ndr::string::decode_wide_varying(__r, #m) }
        }
        (Charset::Char, Some(m)) => {
            let m = max_value(m);
            quote! { ::msrpc_ndr::string::decode_char_varying(__r, #m) }
        }
        (Charset::Wide, None) => quote! { ::msrpc_ndr::string::decode_wide_sized(__r, #size) },
        (Charset::Char, None) => quote! { ::msrpc_ndr::string::decode_char_sized(__r, #size) },
    }
}

/// An expression of type `DecodeResult<T>` reading a value in full (top-level / referent
/// form), using `__r`.
pub fn full_decode(shape: &Shape) -> TokenStream {
    match shape {
        Shape::Plain { ty, checks } => {
            if checks.switch_is || checks.range.is_some() {
                let c = decode_checks(checks, &quote!(&__x), &TokenStream::new());
                quote! {
                    match <#ty as ::msrpc_ndr::Ndr>::decode(__r) {
                        ::core::result::Result::Ok(__x) => {
                            #c
                            ::core::result::Result::Ok(__x)
                        }
                        ::core::result::Result::Err(__e) => ::core::result::Result::Err(__e),
                    }
                }
            } else {
                quote! { <#ty as ::msrpc_ndr::Ndr>::decode(__r) }
            }
        }
        Shape::Conformant {
            elem,
            size_is,
            length_is,
        } => {
            let size = opt(*size_is, "__size_is");
            let head = if *length_is {
                quote! { ::msrpc_ndr::array::decode_conformant_varying::<#elem>(__r, #size, ::core::option::Option::Some(__length_is)) }
            } else {
                quote! { ::msrpc_ndr::array::decode_conformant::<#elem>(__r, #size) }
            };
            elements_with_buffers(head)
        }
        Shape::Varying {
            elem,
            max,
            length_is,
        } => {
            let len = opt(*length_is, "__length_is");
            let max = max_value(max);
            elements_with_buffers(
                quote! { ::msrpc_ndr::array::decode_varying::<#elem>(__r, #max, #len) },
            )
        }
        Shape::Str { cs, max, size_is } => str_decode(*cs, max.as_ref(), *size_is),
        Shape::Ptr {
            kind,
            inner_ty,
            inner,
        } => ptr_decode(*kind, inner_ty, &full_decode(inner)),
        Shape::Opt { inner_ty, inner } => opt_decode(inner_ty, &full_decode(inner)),
    }
}

/// Decoding a `[unique]` or `[ref]` pointer whose referent `inner_dec` decodes (the same for
/// [`full_decode`] and [`full_decode_deferred`]).
fn ptr_decode(kind: PtrKind, inner_ty: &Type, inner_dec: &TokenStream) -> TokenStream {
    match kind {
        PtrKind::Unique => quote! {
            match ::msrpc_ndr::Unique::<#inner_ty>::decode_pointer(__r) {
                ::core::result::Result::Ok(mut __p) => __p
                    .decode_referent_with(__r, |__r| #inner_dec)
                    .map(|()| __p),
                ::core::result::Result::Err(__e) => ::core::result::Result::Err(__e),
            }
        },
        PtrKind::Full => quote! {
            match ::msrpc_ndr::Full::<#inner_ty>::decode_pointer(__r) {
                ::core::result::Result::Ok(mut __p) => __p
                    .decode_referent_with(__r, |__r| #inner_dec)
                    .map(|()| __p),
                ::core::result::Result::Err(__e) => ::core::result::Result::Err(__e),
            }
        },
        // The referent id's value is ignored, zero included (as Windows, Samba and Wine do):
        // a [ref] pointer's referent always follows.
        PtrKind::Ref => quote! {
            match __r.ref_id() {
                ::core::result::Result::Ok(_) => __r
                    .nested(|__r| #inner_dec)
                    .map(::msrpc_ndr::Ref::new),
                ::core::result::Result::Err(__e) => ::core::result::Result::Err(__e),
            }
        },
    }
}

/// Decoding an `Option<T>` (a `[unique]` pointer read into its referent or `None`).
fn opt_decode(inner_ty: &Type, inner_dec: &TokenStream) -> TokenStream {
    quote! {
        match ::msrpc_ndr::Unique::<#inner_ty>::decode_pointer(__r) {
            ::core::result::Result::Ok(mut __p) => __p
                .decode_referent_with(__r, |__r| #inner_dec)
                .map(|()| __p.into_inner()),
            ::core::result::Result::Err(__e) => ::core::result::Result::Err(__e),
        }
    }
}

/// The locals a deferred decode (see [`full_decode_deferred`]) stores the wire's counts in,
/// each an `Option<u64>` that stays `None` when the value is absent (a null pointer).
pub struct Seen {
    /// max_count of a conformant (or conformant-varying) array or `[string]` with `size_is`.
    pub size: Ident,
    /// actual_count (elements transmitted) of an array with `length_is`.
    pub len: Ident,
    /// Discriminant of a union with `switch_is`.
    pub disc: Ident,
}

/// Which of [`Seen`]'s locals a deferred decode of `shape` sets (size, len, disc): those
/// whose attribute is present, so each set local is checked and each checked one set.
pub fn seen_kinds(shape: &Shape) -> (bool, bool, bool) {
    match shape {
        Shape::Plain { checks, .. } => (false, false, checks.switch_is),
        Shape::Conformant {
            size_is, length_is, ..
        } => (*size_is, *length_is, false),
        Shape::Varying { length_is, .. } => (false, *length_is, false),
        Shape::Str { max, size_is, .. } => (max.is_none() && *size_is, false, false),
        Shape::Ptr { inner, .. } | Shape::Opt { inner, .. } => seen_kinds(inner),
    }
}

/// Like [`full_decode`], for a value whose sizing expressions name values decoded after it
/// (a parameter sized by a later one: NDR puts the conformance with the array, so the
/// decoder meets the array first). The counts are read from the wire unchecked, as Samba's
/// pidl reads them (`ndr_pull_array_size`, then `ndr_check_array_size` once the whole
/// function is pulled), and stored in the [`Seen`] locals for the check the caller runs once
/// the named values are decoded. A null pointer leaves them `None` (no check, as pidl's
/// `if (r->in.data)` guard). `range` is checked at once (it names no other value).
pub fn full_decode_deferred(shape: &Shape, seen: &Seen) -> TokenStream {
    match shape {
        Shape::Plain { ty, checks } => {
            let now = Checks {
                switch_is: false,
                range: checks.range.clone(),
            };
            let c = decode_checks(&now, &quote!(&__x), &TokenStream::new());
            let disc = &seen.disc;
            let record = if checks.switch_is {
                quote! { #disc = ::core::option::Option::Some(::msrpc_ndr::NdrUnion::discriminant(&__x)); }
            } else {
                TokenStream::new()
            };
            quote! {
                match <#ty as ::msrpc_ndr::Ndr>::decode(__r) {
                    ::core::result::Result::Ok(__x) => {
                        #c
                        #record
                        ::core::result::Result::Ok(__x)
                    }
                    ::core::result::Result::Err(__e) => ::core::result::Result::Err(__e),
                }
            }
        }
        Shape::Conformant {
            elem,
            size_is,
            length_is,
        } => {
            let size = &seen.size;
            let len = &seen.len;
            let rec_size = |v: TokenStream| {
                if *size_is {
                    quote! { #size = ::core::option::Option::Some(#v); }
                } else {
                    TokenStream::new()
                }
            };
            let rec_len = if *length_is {
                quote! { #len = ::core::option::Option::Some(__x.len() as u64); }
            } else {
                TokenStream::new()
            };
            if *length_is {
                // max_count, then the varying part bounded by it: decode_conformant_varying
                // without its checks, keeping max_count.
                let rs = rec_size(quote!(__m));
                quote! {
                    match __r.count() {
                        ::core::result::Result::Ok(__m) => {
                            #rs
                            match ::msrpc_ndr::array::decode_varying::<#elem>(__r, __m, ::core::option::Option::None) {
                                ::core::result::Result::Ok(mut __x) => {
                                    #rec_len
                                    ::msrpc_ndr::array::decode_elements_buffers(&mut __x, __r).map(|()| __x)
                                }
                                ::core::result::Result::Err(__e) => ::core::result::Result::Err(__e),
                            }
                        }
                        ::core::result::Result::Err(__e) => ::core::result::Result::Err(__e),
                    }
                }
            } else {
                let rs = rec_size(quote!(__x.len() as u64));
                quote! {
                    match ::msrpc_ndr::array::decode_conformant::<#elem>(__r, ::core::option::Option::None) {
                        ::core::result::Result::Ok(mut __x) => {
                            #rs
                            ::msrpc_ndr::array::decode_elements_buffers(&mut __x, __r).map(|()| __x)
                        }
                        ::core::result::Result::Err(__e) => ::core::result::Result::Err(__e),
                    }
                }
            }
        }
        Shape::Varying {
            elem,
            max,
            length_is,
        } => {
            let len = &seen.len;
            let max = max_value(max);
            let rec_len = if *length_is {
                quote! { #len = ::core::option::Option::Some(__x.len() as u64); }
            } else {
                TokenStream::new()
            };
            quote! {
                match ::msrpc_ndr::array::decode_varying::<#elem>(__r, #max, ::core::option::Option::None) {
                    ::core::result::Result::Ok(mut __x) => {
                        #rec_len
                        ::msrpc_ndr::array::decode_elements_buffers(&mut __x, __r).map(|()| __x)
                    }
                    ::core::result::Result::Err(__e) => ::core::result::Result::Err(__e),
                }
            }
        }
        Shape::Str { cs, max, size_is } => {
            if max.is_none() && *size_is {
                let size = &seen.size;
                let f = match cs {
                    Charset::Wide => quote!(::msrpc_ndr::string::decode_wide_counted),
                    Charset::Char => quote!(::msrpc_ndr::string::decode_char_counted),
                };
                quote! {
                    match #f(__r) {
                        ::core::result::Result::Ok((__s, __m)) => {
                            #size = ::core::option::Option::Some(__m);
                            ::core::result::Result::Ok(__s)
                        }
                        ::core::result::Result::Err(__e) => ::core::result::Result::Err(__e),
                    }
                }
            } else {
                str_decode(*cs, max.as_ref(), false)
            }
        }
        Shape::Ptr {
            kind,
            inner_ty,
            inner,
        } => ptr_decode(*kind, inner_ty, &full_decode_deferred(inner, seen)),
        Shape::Opt { inner_ty, inner } => opt_decode(inner_ty, &full_decode_deferred(inner, seen)),
    }
}

/// The check a deferred decode owes once every value its sizing expressions name is known:
/// statements comparing the stored wire counts (see [`Seen`]) with `attrs`' expressions
/// (evaluated with `binder`); a mismatch is the error a check at the array would give.
pub fn deferred_checks(
    attrs: &FieldAttrs,
    shape: &Shape,
    seen: &Seen,
    binder: &dyn Binder,
) -> syn::Result<TokenStream> {
    let (size, len, disc) = seen_kinds(shape);
    let mut out = TokenStream::new();
    if let (true, Some(e)) = (size, &attrs.size_is) {
        let v = eval(e, binder)?;
        let s = &seen.size;
        out.extend(quote! {
            if let ::core::option::Option::Some(__m) = #s {
                ::msrpc_ndr::array::check_count(__r, #v, __m)?;
            }
        });
    }
    if let (true, Some(e)) = (len, &attrs.length_is) {
        let v = eval(e, binder)?;
        let s = &seen.len;
        out.extend(quote! {
            if let ::core::option::Option::Some(__n) = #s {
                ::msrpc_ndr::array::check_count(__r, #v, __n)?;
            }
        });
    }
    if let (true, Some(e)) = (disc, &attrs.switch_is) {
        let v = eval(e, binder)?;
        let s = &seen.disc;
        out.extend(quote! {
            if let ::core::option::Option::Some(__found) = #s {
                let __switch_is: u64 = #v;
                if __found != __switch_is {
                    return ::core::result::Result::Err(__r.error(
                        ::msrpc_ndr::DecodeErrorKind::DiscriminantMismatch { expected: __switch_is, found: __found },
                    ));
                }
            }
        });
    }
    Ok(out)
}

fn elements_with_buffers(head: TokenStream) -> TokenStream {
    quote! {
        match #head {
            ::core::result::Result::Ok(mut __x) => {
                ::msrpc_ndr::array::decode_elements_buffers(&mut __x, __r).map(|()| __x)
            }
            ::core::result::Result::Err(__e) => ::core::result::Result::Err(__e),
        }
    }
}

/// The constant expressions of a member's scalar part.
pub struct MemberConsts {
    /// Alignment in NDR20.
    pub align: TokenStream,
    /// Alignment in NDR64: pointers 8, and an embedded array or string the alignment of its
    /// elements (its counts align to 8 by themselves), as a 64-bit C compiler lays the
    /// structure out (MS-RPCE 2.2.5.3.4).
    pub align64: TokenStream,
    /// Fewest wire bytes (NDR20's, a lower bound for NDR64 too).
    pub wire_min: TokenStream,
    /// No buffers phase.
    pub scalars_only: TokenStream,
}

/// The constants of a member's scalar part.
pub fn member_consts(shape: &Shape) -> MemberConsts {
    match shape {
        Shape::Plain { ty, .. } => MemberConsts {
            align: quote!(<#ty as ::msrpc_ndr::Ndr>::ALIGN),
            align64: quote!(<#ty as ::msrpc_ndr::Ndr>::ALIGN64),
            wire_min: quote!(<#ty as ::msrpc_ndr::Ndr>::WIRE_MIN),
            scalars_only: quote!(<#ty as ::msrpc_ndr::Ndr>::SCALARS_ONLY),
        },
        Shape::Conformant {
            elem, length_is, ..
        } => MemberConsts {
            align: quote!(::msrpc_ndr::max_align(4, <#elem as ::msrpc_ndr::Ndr>::ALIGN)),
            align64: quote!(<#elem as ::msrpc_ndr::Ndr>::ALIGN64),
            wire_min: if *length_is { quote!(12) } else { quote!(4) },
            scalars_only: quote!(<#elem as ::msrpc_ndr::Ndr>::SCALARS_ONLY),
        },
        Shape::Varying { elem, .. } => MemberConsts {
            align: quote!(::msrpc_ndr::max_align(4, <#elem as ::msrpc_ndr::Ndr>::ALIGN)),
            align64: quote!(<#elem as ::msrpc_ndr::Ndr>::ALIGN64),
            wire_min: quote!(8),
            scalars_only: quote!(<#elem as ::msrpc_ndr::Ndr>::SCALARS_ONLY),
        },
        Shape::Str { cs, .. } => MemberConsts {
            align: quote!(4),
            align64: match cs {
                Charset::Wide => quote!(2),
                Charset::Char => quote!(1),
            },
            wire_min: quote!(8),
            scalars_only: quote!(true),
        },
        Shape::Ptr { .. } | Shape::Opt { .. } => MemberConsts {
            align: quote!(4),
            align64: quote!(8),
            wire_min: quote!(4),
            scalars_only: quote!(false),
        },
    }
}

/// Statements writing a member's scalars; `place` is the member (`self.x`, `(*__v)`).
/// A hoisted conformant array writes only its elements (and variance) here.
pub fn member_encode_scalars(shape: &Shape, place: &TokenStream, field: &str) -> TokenStream {
    let v = quote!(&#place);
    match shape {
        Shape::Plain { checks, .. } => {
            let c = encode_checks(checks, &v, field);
            quote! { #c ::msrpc_ndr::Ndr::encode_scalars(#v, __w)?; }
        }
        Shape::Conformant { length_is, .. } => {
            if *length_is {
                quote! { ::msrpc_ndr::array::encode_varying(#v, __max, ::core::option::Option::Some(__length_is), #field, __w)?; }
            } else {
                quote! { ::msrpc_ndr::array::encode_elements_scalars(#v, __w)?; }
            }
        }
        Shape::Varying { max, length_is, .. } => {
            let len = opt(*length_is, "__length_is");
            let max = max_value(max);
            quote! { ::msrpc_ndr::array::encode_varying(#v, #max, #len, #field, __w)?; }
        }
        Shape::Str { cs, max, size_is } => str_encode(*cs, max.as_ref(), *size_is, &v, field),
        Shape::Ptr { kind, .. } => match kind {
            PtrKind::Unique => quote! { ::msrpc_ndr::Unique::encode_pointer(#v, __w)?; },
            PtrKind::Full => quote! { ::msrpc_ndr::Full::encode_pointer(#v, __w)?; },
            PtrKind::Ref => quote! { ::msrpc_ndr::Ref::encode_pointer(#v, __w)?; },
        },
        Shape::Opt { .. } => quote! {},
    }
}

/// Statements writing a member's buffers.
pub fn member_encode_buffers(shape: &Shape, place: &TokenStream, field: &str) -> TokenStream {
    let v = quote!(&#place);
    match shape {
        Shape::Plain { .. } => quote! { ::msrpc_ndr::Ndr::encode_buffers(#v, __w)?; },
        Shape::Conformant { .. } | Shape::Varying { .. } => {
            quote! { ::msrpc_ndr::array::encode_elements_buffers(#v, __w)?; }
        }
        Shape::Str { .. } | Shape::Opt { .. } => quote! {},
        Shape::Ptr { kind, inner, .. } => {
            let inner_v = quote!(__v);
            let body = full_encode(inner, &inner_v, field);
            match kind {
                PtrKind::Unique => quote! {
                    ::msrpc_ndr::Unique::encode_referent_with(#v, __w, |__v, __w| {
                        #body
                        ::core::result::Result::Ok(())
                    })?;
                },
                PtrKind::Full => quote! {
                    ::msrpc_ndr::Full::encode_referent_with(#v, __w, |__v, __w| {
                        #body
                        ::core::result::Result::Ok(())
                    })?;
                },
                PtrKind::Ref => quote! {
                    {
                        let __v = &*(#place).0;
                        #body
                    }
                },
            }
        }
    }
}

/// An expression of type `DecodeResult<T>` reading a member's scalars (embedded pointers
/// left pending). A hoisted conformant array reads its elements with the count in `__max`.
pub fn member_decode_scalars(shape: &Shape) -> TokenStream {
    match shape {
        Shape::Plain { ty, .. } => quote! { <#ty as ::msrpc_ndr::Ndr>::decode_scalars(__r) },
        Shape::Conformant {
            elem, length_is, ..
        } => {
            if *length_is {
                quote! { ::msrpc_ndr::array::decode_varying::<#elem>(__r, __max, ::core::option::Option::None) }
            } else {
                quote! { ::msrpc_ndr::array::decode_elements_scalars::<#elem>(__r, __max) }
            }
        }
        Shape::Varying { elem, max, .. } => {
            let max = max_value(max);
            quote! { ::msrpc_ndr::array::decode_varying::<#elem>(__r, #max, ::core::option::Option::None) }
        }
        Shape::Str { cs, max, size_is } => str_decode(*cs, max.as_ref(), *size_is),
        Shape::Ptr { kind, inner_ty, .. } => match kind {
            PtrKind::Unique => quote! { ::msrpc_ndr::Unique::<#inner_ty>::decode_pointer(__r) },
            PtrKind::Full => quote! { ::msrpc_ndr::Full::<#inner_ty>::decode_pointer(__r) },
            PtrKind::Ref => quote! { ::msrpc_ndr::Ref::<#inner_ty>::decode_pointer(__r) },
        },
        Shape::Opt { inner_ty, .. } => {
            quote! { ::msrpc_ndr::Unique::<#inner_ty>::decode_pointer(__r).map(::msrpc_ndr::Unique::into_inner) }
        }
    }
}

/// Checks run once all of a construct's scalars are decoded; `local` is the member's value
/// (an expression of type `&T`), `wrap` the path segments to append to errors.
pub fn member_post_checks(shape: &Shape, local: &TokenStream, wrap: &TokenStream) -> TokenStream {
    match shape {
        Shape::Plain { checks, .. } => decode_checks(checks, local, wrap),
        Shape::Conformant {
            size_is, length_is, ..
        } => {
            let mut out = TokenStream::new();
            if *size_is {
                out.extend(quote! {
                    ::msrpc_ndr::array::check_count(__r, __size_is, __max).map_err(|__e| __e #wrap)?;
                });
            }
            if *length_is {
                out.extend(quote! {
                    ::msrpc_ndr::array::check_count(__r, __length_is, (#local).len() as u64).map_err(|__e| __e #wrap)?;
                });
            }
            out
        }
        Shape::Varying { length_is, .. } => {
            if *length_is {
                quote! {
                    ::msrpc_ndr::array::check_count(__r, __length_is, (#local).len() as u64).map_err(|__e| __e #wrap)?;
                }
            } else {
                quote! {}
            }
        }
        Shape::Str { .. } | Shape::Ptr { .. } | Shape::Opt { .. } => quote! {},
    }
}

/// An expression of type `DecodeResult<()>` reading a member's buffers into `place`.
pub fn member_decode_buffers(shape: &Shape, place: &TokenStream) -> Option<TokenStream> {
    match shape {
        Shape::Plain { .. } => Some(quote! { ::msrpc_ndr::Ndr::decode_buffers(&mut #place, __r) }),
        Shape::Conformant { .. } | Shape::Varying { .. } => {
            Some(quote! { ::msrpc_ndr::array::decode_elements_buffers(&mut #place, __r) })
        }
        Shape::Str { .. } | Shape::Opt { .. } => None,
        Shape::Ptr { inner, .. } => {
            let inner_dec = full_decode(inner);
            Some(quote! { (#place).decode_referent_with(__r, |__r| #inner_dec) })
        }
    }
}

/// True when the member's buffers phase needs the sizing prelude.
pub fn buffers_need_prelude(shape: &Shape) -> bool {
    matches!(shape, Shape::Ptr { .. })
}
