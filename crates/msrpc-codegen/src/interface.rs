//! `#[interface(uuid = "...", version = "M.m")]` on a trait: request/response types per
//! operation, a service trait, a server dispatcher and a client.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, ItemTrait, LitInt, LitStr, Pat, ReturnType, TraitItem, Type};

use crate::attrs::{self, FieldAttrs};
use crate::shape::{self, Binder, Position, Shape};

/// Arguments of the `interface` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceArgs {
    /// The UUID as a 128-bit number.
    pub uuid: u128,
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
    /// `orpc`: a DCOM object interface (MS-DCOM 3.1.1.5.1): every operation gets
    /// `orpcthis: ::msrpc_dcom::OrpcThis` as its first `[in]` parameter, `orpcthat:
    /// ::msrpc_dcom::OrpcThat` as its first `[out]` one, and returns `::msrpc_dcom::HResult`;
    /// opnums 0-2 (IUnknown's, never on the wire) are refused.
    pub orpc: bool,
}

/// Parses a UUID in its 8-4-4-4-12 text form.
pub fn parse_uuid(s: &str) -> Option<u128> {
    let groups: Vec<&str> = s.split('-').collect();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    if lens != [8, 4, 4, 4, 12] {
        return None;
    }
    let hex: String = groups.concat();
    if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(&hex, 16).ok()
}

/// Parses `uuid = "...", version = "M.m"` and the `orpc` flag.
pub fn parse_args(args: TokenStream) -> syn::Result<InterfaceArgs> {
    let mut uuid = None;
    let mut version = None;
    let mut orpc = false;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("orpc") {
            orpc = true;
            Ok(())
        } else if meta.path.is_ident("uuid") {
            let lit: LitStr = meta.value()?.parse()?;
            let v = parse_uuid(&lit.value()).ok_or_else(|| {
                syn::Error::new(
                    lit.span(),
                    "expected a UUID like \"12345678-1234-1234-1234-123456789abc\"",
                )
            })?;
            uuid = Some(v);
            Ok(())
        } else if meta.path.is_ident("version") {
            let lit: LitStr = meta.value()?.parse()?;
            let text = lit.value();
            let (a, b) = text.split_once('.').unwrap_or((text.as_str(), "0"));
            match (a.parse::<u16>(), b.parse::<u16>()) {
                (Ok(a), Ok(b)) => {
                    version = Some((a, b));
                    Ok(())
                }
                _ => Err(syn::Error::new(
                    lit.span(),
                    "expected a version like \"1.0\"",
                )),
            }
        } else {
            Err(meta.error("unknown interface argument (expected uuid, version, orpc)"))
        }
    });
    syn::parse::Parser::parse2(parser, args)?;
    let uuid =
        uuid.ok_or_else(|| syn::Error::new(Span::call_site(), "missing `uuid = \"...\"`"))?;
    let (major, minor) = version.unwrap_or((0, 0));
    Ok(InterfaceArgs {
        uuid,
        major,
        minor,
        orpc,
    })
}

/// One operation parameter.
struct Param {
    ident: Ident,
    name: String,
    ty: Type,
    attrs: FieldAttrs,
    shape: Shape,
    docs: Vec<Attribute>,
}

/// One operation.
struct Op {
    method: Ident,
    name: String,
    opnum: u16,
    docs: Vec<Attribute>,
    params: Vec<Param>,
    ret: Option<Type>,
    req_ty: Ident,
    resp_ty: Ident,
}

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn parse_op(f: &syn::TraitItemFn) -> syn::Result<Op> {
    let mut opnum = None;
    let mut docs = Vec::new();
    for a in &f.attrs {
        if a.path().is_ident("opnum") {
            let lit: LitInt = a.parse_args()?;
            opnum = Some(lit.base10_parse::<u16>()?);
        } else if a.path().is_ident("doc") {
            docs.push(a.clone());
        } else {
            return Err(syn::Error::new(
                a.span(),
                "unexpected attribute on an operation (expected #[opnum(N)] and doc comments)",
            ));
        }
    }
    let opnum =
        opnum.ok_or_else(|| syn::Error::new(f.sig.ident.span(), "operation needs #[opnum(N)]"))?;
    if f.default.is_some() {
        return Err(syn::Error::new(
            f.sig.ident.span(),
            "interface operations are declarations without a body",
        ));
    }
    if !f.sig.generics.params.is_empty() || f.sig.asyncness.is_some() {
        return Err(syn::Error::new(
            f.sig.ident.span(),
            "operations are plain `fn name(params) -> Ret;` declarations (no generics, no async)",
        ));
    }
    let mut params = Vec::new();
    for input in &f.sig.inputs {
        let FnArg::Typed(pt) = input else {
            return Err(syn::Error::new(
                input.span(),
                "operations take no `self`: list the parameters only",
            ));
        };
        let Pat::Ident(pi) = &*pt.pat else {
            return Err(syn::Error::new(
                pt.pat.span(),
                "parameters must be plain names",
            ));
        };
        let ident = pi.ident.clone();
        let name = ident.to_string();
        if name == "result" || name.starts_with("__") {
            return Err(syn::Error::new(
                ident.span(),
                "parameter names `result` and `__*` are reserved",
            ));
        }
        let fattrs = attrs::field_attrs(&pt.attrs, true)?;
        if !fattrs.is_in && !fattrs.is_out {
            return Err(syn::Error::new(
                ident.span(),
                "parameter needs a direction: #[ndr(in)], #[ndr(out)] or #[ndr(in, out)]",
            ));
        }
        if fattrs.unique && !matches!(shape::type_head(&pt.ty), Some((n, Some(_))) if n == "Option")
        {
            return Err(syn::Error::new(
                pt.ty.span(),
                "#[ndr(unique)] applies to Option<T> parameters",
            ));
        }
        if fattrs.pipe && !fattrs.is_plain() {
            return Err(syn::Error::new(
                ident.span(),
                "a #[ndr(pipe)] parameter takes no sizing, string, switch or range attribute",
            ));
        }
        let shape = shape::classify(&pt.ty, &fattrs, Position::TopLevel)?;
        let docs = pt
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .cloned()
            .collect();
        params.push(Param {
            ident,
            name,
            ty: (*pt.ty).clone(),
            attrs: fattrs,
            shape,
            docs,
        });
    }
    let ret = match &f.sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, t) => Some((**t).clone()),
    };
    // `r#type` names the types `TypeRequest`, `TypeResponse`
    let base = pascal(&syn::ext::IdentExt::unraw(&f.sig.ident).to_string());
    Ok(Op {
        method: f.sig.ident.clone(),
        name: f.sig.ident.to_string(),
        opnum,
        docs,
        params,
        ret,
        req_ty: format_ident!("{}Request", base),
        resp_ty: format_ident!("{}Response", base),
    })
}

/// `orpc`: inserts ORPCTHIS (first `[in]`) and ORPCTHAT (first `[out]`) into every operation
/// and makes it return the HRESULT, as MS-DCOM 3.1.1.5.1 lays out an ORPC call's stubs.
fn orpc_operations(tr: &mut ItemTrait) -> syn::Result<()> {
    for it in &mut tr.items {
        let TraitItem::Fn(f) = it else { continue };
        for a in &f.attrs {
            if a.path().is_ident("opnum") {
                let lit: LitInt = a.parse_args()?;
                if lit.base10_parse::<u16>()? < 3 {
                    return Err(syn::Error::new(
                        lit.span(),
                        "opnums 0-2 of an ORPC interface are IUnknown's (never on the wire): start at 3",
                    ));
                }
            }
        }
        for input in &f.sig.inputs {
            if let FnArg::Typed(pt) = input {
                if let Pat::Ident(pi) = &*pt.pat {
                    if pi.ident == "orpcthis" || pi.ident == "orpcthat" {
                        return Err(syn::Error::new(
                            pi.ident.span(),
                            "`orpc` interfaces add orpcthis/orpcthat themselves: remove this parameter",
                        ));
                    }
                }
            }
        }
        if let ReturnType::Type(_, t) = &f.sig.output {
            return Err(syn::Error::new(
                t.span(),
                "`orpc` operations return the HRESULT: leave the return type out",
            ));
        }
        let this: FnArg = syn::parse_quote!(#[ndr(in)] orpcthis: ::msrpc_dcom::OrpcThis);
        let that: FnArg = syn::parse_quote!(#[ndr(out)] orpcthat: ::msrpc_dcom::OrpcThat);
        f.sig.inputs.insert(0, that);
        f.sig.inputs.insert(0, this);
        f.sig.output = syn::parse_quote!(-> ::msrpc_dcom::HResult);
    }
    Ok(())
}

/// Request encode: names are request fields (`self.x`).
struct ReqEncodeBinder<'a>(&'a Op);

impl Binder for ReqEncodeBinder<'_> {
    fn place(&self, name: &str, span: Span) -> syn::Result<Option<TokenStream>> {
        match self.0.params.iter().find(|p| p.name == name) {
            Some(p) if p.attrs.is_in => {
                let id = &p.ident;
                Ok(Some(quote!(self.#id)))
            }
            Some(_) => Err(syn::Error::new(
                span,
                format!("`{name}` is an [out]-only parameter; a request cannot refer to it"),
            )),
            None => Ok(None),
        }
    }
}

/// Request decode: names are earlier [in] parameters, already decoded into locals.
struct ReqDecodeBinder<'a> {
    op: &'a Op,
    upto: usize,
}

impl Binder for ReqDecodeBinder<'_> {
    fn place(&self, name: &str, span: Span) -> syn::Result<Option<TokenStream>> {
        let Some((i, p)) = self
            .op
            .params
            .iter()
            .enumerate()
            .find(|(_, p)| p.name == name)
        else {
            return Ok(None);
        };
        if !p.attrs.is_in {
            return Err(syn::Error::new(
                span,
                format!("`{name}` is an [out]-only parameter; a request cannot refer to it"),
            ));
        }
        if i >= self.upto {
            return Err(syn::Error::new(
                span,
                format!("`{name}` comes later in the request; sizing expressions may only name earlier parameters"),
            ));
        }
        let id = &p.ident;
        Ok(Some(quote!(#id)))
    }
}

/// Response: names are `[out]` parameters first (`self.x` when encoding; locals when decoding,
/// where a later one is only reachable from a deferred check, `upto` = all), then request
/// values passed as arguments (references named like the parameter). An `[in, out]`
/// parameter is its `[out]` value here: what the server holds when it marshals the response,
/// as MIDL's stubs evaluate a correlation at marshalling time.
struct RespBinder<'a> {
    op: &'a Op,
    decoding: bool,
    upto: usize,
}

impl Binder for RespBinder<'_> {
    fn place(&self, name: &str, span: Span) -> syn::Result<Option<TokenStream>> {
        let found = self
            .op
            .params
            .iter()
            .enumerate()
            .find(|(_, p)| p.name == name);
        let Some((i, p)) = found else {
            return Ok(None);
        };
        let id = &p.ident;
        if p.attrs.is_out {
            if !self.decoding {
                return Ok(Some(quote!(self.#id)));
            }
            if i < self.upto {
                return Ok(Some(quote!(#id)));
            }
            return Err(syn::Error::new(
                span,
                format!("`{name}` comes later in the response and is not decoded yet"),
            ));
        }
        if p.attrs.is_in {
            return Ok(Some(quote!(*#id)));
        }
        Ok(None)
    }
}

/// Whether parameter `i`'s sizing expressions (`size_is`, `length_is`, `switch_is`) name a
/// parameter the same message carries after it (`[in]` ones for the request, `[out]` ones
/// for the response): NDR puts the conformance with the array, in parameter order, so the
/// decoder meets the array before the value that sizes it and checks the two once both are
/// read (a deferred decode). A parameter sizing itself is refused.
fn names_later(op: &Op, i: usize, response: bool) -> syn::Result<bool> {
    let Some(p) = op.params.get(i) else {
        return Ok(false);
    };
    let mut later = false;
    for e in [&p.attrs.size_is, &p.attrs.length_is, &p.attrs.switch_is]
        .into_iter()
        .flatten()
    {
        for n in shape::expr_names(e) {
            let Some((j, q)) = op.params.iter().enumerate().find(|(_, q)| q.name == n) else {
                continue;
            };
            let same_message = if response {
                q.attrs.is_out
            } else {
                q.attrs.is_in
            };
            if !same_message {
                continue;
            }
            if j == i {
                return Err(syn::Error::new(
                    e.span(),
                    format!("`{n}` sizes or selects itself"),
                ));
            }
            later |= j > i;
        }
    }
    Ok(later)
}

/// The [in] parameters a response's sizing expressions need, in parameter order: the
/// `[in]`-only ones its `[out]` parameters name (an `[in, out]` one is read from the response).
fn response_args(op: &Op) -> Vec<&Param> {
    let mut names = std::collections::BTreeSet::new();
    for p in op.params.iter().filter(|p| p.attrs.is_out) {
        for e in [&p.attrs.size_is, &p.attrs.length_is, &p.attrs.switch_is]
            .into_iter()
            .flatten()
        {
            names.extend(shape::expr_names(e));
        }
    }
    op.params
        .iter()
        .filter(|p| p.attrs.is_in && !p.attrs.is_out && names.contains(&p.name))
        .collect()
}

/// The decode of a deferred parameter (see [`names_later`]): the `Seen` locals it declares,
/// the statement reading it into its local, and the checks to run once the whole message is
/// read (pidl runs its `ndr_check_array_size` there too).
fn deferred_decode(
    p: &Param,
    i: usize,
    ty_name: &str,
    final_binder: &dyn Binder,
) -> syn::Result<(TokenStream, TokenStream)> {
    let seen = shape::Seen {
        size: format_ident!("__seen_size_{}", i),
        len: format_ident!("__seen_len_{}", i),
        disc: format_ident!("__seen_disc_{}", i),
    };
    let (size, len, disc) = shape::seen_kinds(&p.shape);
    let mut decls = TokenStream::new();
    for (on, id) in [(size, &seen.size), (len, &seen.len), (disc, &seen.disc)] {
        if on {
            decls.extend(
                quote! { let mut #id: ::core::option::Option<u64> = ::core::option::Option::None; },
            );
        }
    }
    let id = &p.ident;
    let name = p.name.trim_start_matches("r#");
    let dec = shape::full_decode_deferred(&p.shape, &seen);
    let read = quote! {
        #decls
        let #id = __r.field(#ty_name, #name, |__r| #dec)?;
    };
    let checks = shape::deferred_checks(&p.attrs, &p.shape, &seen, final_binder)?;
    let check = if checks.is_empty() {
        TokenStream::new()
    } else {
        quote! {
            __r.field(#ty_name, #name, |__r| {
                #checks
                ::core::result::Result::Ok(())
            })?;
        }
    };
    Ok((read, check))
}

fn doc(text: String) -> TokenStream {
    quote!(#[doc = #text])
}

fn direction(p: &Param) -> &'static str {
    match (p.attrs.is_in, p.attrs.is_out) {
        (true, true) => "[in, out]",
        (true, false) => "[in]",
        _ => "[out]",
    }
}

fn decode_fn(shape: &Shape) -> TokenStream {
    match shape {
        Shape::Plain { ty, checks } if !checks.switch_is && checks.range.is_none() => {
            quote!(<#ty as ::msrpc_ndr::Ndr>::decode)
        }
        other => {
            let code = shape::full_decode(other);
            quote!(|__r| #code)
        }
    }
}

fn gen_op(op: &Op, vis: &syn::Visibility) -> syn::Result<TokenStream> {
    let req_ty = &op.req_ty;
    let resp_ty = &op.resp_ty;
    let req_name = req_ty.to_string();
    let resp_name = resp_ty.to_string();
    let opnum = op.opnum;
    let method = &op.name;

    // Fields.
    let field = |p: &Param| {
        let id = &p.ident;
        let ty = &p.ty;
        let docs = if p.docs.is_empty() {
            vec![doc(format!("`{}` parameter `{}`.", direction(p), p.name))]
        } else {
            p.docs.iter().map(|a| quote!(#a)).collect()
        };
        quote! { #(#docs)* pub #id: #ty, }
    };
    // Wire order: `[in]` pipes after every other `[in]` parameter, `[out]` pipes before every
    // other `[out]` parameter (C706's pipes; MIDL's "combining pipe and nonpipe parameters").
    let indexed = || op.params.iter().enumerate();
    let req_order: Vec<(usize, &Param)> = indexed()
        .filter(|(_, p)| p.attrs.is_in && !p.attrs.pipe)
        .chain(indexed().filter(|(_, p)| p.attrs.is_in && p.attrs.pipe))
        .collect();
    let resp_order: Vec<(usize, &Param)> = indexed()
        .filter(|(_, p)| p.attrs.is_out && p.attrs.pipe)
        .chain(indexed().filter(|(_, p)| p.attrs.is_out && !p.attrs.pipe))
        .collect();
    let in_params: Vec<&Param> = req_order.iter().map(|&(_, p)| p).collect();
    let out_params: Vec<&Param> = resp_order.iter().map(|&(_, p)| p).collect();
    let req_fields: Vec<TokenStream> = in_params.iter().map(|p| field(p)).collect();
    let mut resp_fields: Vec<TokenStream> = out_params.iter().map(|p| field(p)).collect();
    if let Some(r) = &op.ret {
        resp_fields.push(quote! {
            #[doc = "The operation's return value."]
            pub result: #r,
        });
    }

    // Request encode/decode.
    let mut req_enc = TokenStream::new();
    let mut req_dec = TokenStream::new();
    let mut req_checks = TokenStream::new();
    for &(i, p) in &req_order {
        let id = &p.ident;
        let name = p.name.trim_start_matches("r#");
        let pre = shape::prelude(&p.attrs, &ReqEncodeBinder(op))?;
        let enc = shape::full_encode(&p.shape, &quote!(&self.#id), name);
        req_enc.extend(quote! { { #pre #enc } });
        if names_later(op, i, false)? {
            let (read, check) = deferred_decode(
                p,
                i,
                &req_name,
                &ReqDecodeBinder {
                    op,
                    upto: op.params.len(),
                },
            )?;
            req_dec.extend(read);
            req_checks.extend(check);
            continue;
        }
        let pre = shape::prelude(&p.attrs, &ReqDecodeBinder { op, upto: i })?;
        let dec = decode_fn(&p.shape);
        req_dec.extend(quote! {
            let #id = {
                #pre
                __r.field(#req_name, #name, #dec)?
            };
        });
    }
    req_dec.extend(req_checks);
    let in_ids: Vec<&Ident> = in_params.iter().map(|p| &p.ident).collect();

    // Response encode/decode.
    let args = response_args(op);
    let arg_decls: Vec<TokenStream> = args
        .iter()
        .map(|p| {
            let id = &p.ident;
            let ty = &p.ty;
            quote!(#id: &#ty)
        })
        .collect();
    let arg_from_req: Vec<TokenStream> = args
        .iter()
        .map(|p| {
            let id = &p.ident;
            quote!(&req.#id)
        })
        .collect();
    let mut resp_enc = TokenStream::new();
    let mut resp_dec = TokenStream::new();
    let mut resp_checks = TokenStream::new();
    for &(i, p) in &resp_order {
        let id = &p.ident;
        let name = p.name.trim_start_matches("r#");
        let pre = shape::prelude(
            &p.attrs,
            &RespBinder {
                op,
                decoding: false,
                upto: i,
            },
        )?;
        let enc = shape::full_encode(&p.shape, &quote!(&self.#id), name);
        resp_enc.extend(quote! { { #pre #enc } });
        if names_later(op, i, true)? {
            let (read, check) = deferred_decode(
                p,
                i,
                &resp_name,
                &RespBinder {
                    op,
                    decoding: true,
                    upto: op.params.len(),
                },
            )?;
            resp_dec.extend(read);
            resp_checks.extend(check);
            continue;
        }
        let pre = shape::prelude(
            &p.attrs,
            &RespBinder {
                op,
                decoding: true,
                upto: i,
            },
        )?;
        let dec = decode_fn(&p.shape);
        resp_dec.extend(quote! {
            let #id = {
                #pre
                __r.field(#resp_name, #name, #dec)?
            };
        });
    }
    let mut out_ids: Vec<TokenStream> = out_params
        .iter()
        .map(|p| {
            let id = &p.ident;
            quote!(#id)
        })
        .collect();
    resp_dec.extend(resp_checks);
    if let Some(r) = &op.ret {
        resp_enc.extend(quote! { ::msrpc_ndr::Ndr::encode(&self.result, __w)?; });
        resp_dec.extend(quote! {
            let result = __r.field(#resp_name, "result", <#r as ::msrpc_ndr::Ndr>::decode)?;
        });
        out_ids.push(quote!(result));
    }
    let req_param = if args.is_empty() {
        quote!(_req)
    } else {
        quote!(req)
    };

    let op_docs: Vec<TokenStream> = op.docs.iter().map(|a| quote!(#a)).collect();
    let req_doc = doc(format!(
        "Request of `{method}` (opnum {opnum}): its `[in]` parameters, in wire order."
    ));
    let resp_doc = doc(format!(
        "Response of `{method}` (opnum {opnum}): its `[out]` parameters, in wire order{}.",
        if op.ret.is_some() {
            ", then the return value"
        } else {
            ""
        }
    ));
    let args_doc = if args.is_empty() {
        String::new()
    } else {
        format!(
            " The [in] values {} size or select parts of the response and are passed in.",
            args.iter()
                .map(|p| format!("`{}`", p.name))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let enc_doc = doc(format!(
        "Writes the `[out]` parameters (and return value) into `w`.{args_doc}"
    ));
    let dec_doc = doc(format!(
        "Reads the `[out]` parameters (and return value).{args_doc}"
    ));

    Ok(quote! {
        #req_doc
        #[doc = ""]
        #(#op_docs)*
        #[derive(Clone, Debug, PartialEq)]
        #vis struct #req_ty {
            #(#req_fields)*
        }

        impl #req_ty {
            /// The operation number.
            pub const OPNUM: u16 = #opnum;

            /// Writes the `[in]` parameters, each in full (scalars, then deferred referents), in order.
            pub fn encode(&self, __w: &mut ::msrpc_ndr::Writer) -> ::msrpc_ndr::EncodeResult {
                #req_enc
                ::core::result::Result::Ok(())
            }

            /// Reads the `[in]` parameters.
            pub fn decode(__r: &mut ::msrpc_ndr::Reader<'_>) -> ::msrpc_ndr::DecodeResult<Self> {
                #req_dec
                ::core::result::Result::Ok(Self { #(#in_ids),* })
            }

            /// Encodes the NDR20 request stub in representation `drep`.
            pub fn to_stub(&self, drep: ::msrpc_ndr::DataRep) -> ::msrpc_ndr::EncodeResult<::std::vec::Vec<u8>> {
                self.to_stub_in(drep, ::msrpc_ndr::TransferSyntax::Ndr20)
            }

            /// Encodes the request stub in transfer syntax `syntax` and representation `drep`.
            pub fn to_stub_in(
                &self,
                drep: ::msrpc_ndr::DataRep,
                syntax: ::msrpc_ndr::TransferSyntax,
            ) -> ::msrpc_ndr::EncodeResult<::std::vec::Vec<u8>> {
                let mut __w = ::msrpc_ndr::Writer::with_syntax(drep, syntax);
                self.encode(&mut __w)?;
                ::core::result::Result::Ok(__w.into_bytes())
            }

            /// Decodes an NDR20 request stub; bytes after the last parameter are ignored
            /// (peers pad).
            pub fn from_stub(
                stub: &[u8],
                drep: ::msrpc_ndr::DataRep,
                limits: ::msrpc_ndr::DecodeLimits,
            ) -> ::msrpc_ndr::DecodeResult<Self> {
                Self::from_stub_in(stub, drep, ::msrpc_ndr::TransferSyntax::Ndr20, limits)
            }

            /// Decodes a request stub in transfer syntax `syntax`; bytes after the last
            /// parameter are ignored.
            pub fn from_stub_in(
                stub: &[u8],
                drep: ::msrpc_ndr::DataRep,
                syntax: ::msrpc_ndr::TransferSyntax,
                limits: ::msrpc_ndr::DecodeLimits,
            ) -> ::msrpc_ndr::DecodeResult<Self> {
                let mut __r = ::msrpc_ndr::Reader::with_syntax(stub, drep, syntax, limits);
                Self::decode(&mut __r)
            }
        }

        #resp_doc
        #[doc = ""]
        #(#op_docs)*
        #[derive(Clone, Debug, PartialEq)]
        #vis struct #resp_ty {
            #(#resp_fields)*
        }

        impl #resp_ty {
            #enc_doc
            pub fn encode(&self, __w: &mut ::msrpc_ndr::Writer #(, #arg_decls)*) -> ::msrpc_ndr::EncodeResult {
                #resp_enc
                ::core::result::Result::Ok(())
            }

            #dec_doc
            pub fn decode(__r: &mut ::msrpc_ndr::Reader<'_> #(, #arg_decls)*) -> ::msrpc_ndr::DecodeResult<Self> {
                #resp_dec
                ::core::result::Result::Ok(Self { #(#out_ids),* })
            }

            /// Encodes the NDR20 response stub in representation `drep`, sized by the request `req`.
            pub fn to_stub(
                &self,
                #req_param: &#req_ty,
                drep: ::msrpc_ndr::DataRep,
            ) -> ::msrpc_ndr::EncodeResult<::std::vec::Vec<u8>> {
                self.to_stub_in(#req_param, drep, ::msrpc_ndr::TransferSyntax::Ndr20)
            }

            /// Encodes the response stub in transfer syntax `syntax`, sized by the request `req`.
            pub fn to_stub_in(
                &self,
                #req_param: &#req_ty,
                drep: ::msrpc_ndr::DataRep,
                syntax: ::msrpc_ndr::TransferSyntax,
            ) -> ::msrpc_ndr::EncodeResult<::std::vec::Vec<u8>> {
                let mut __w = ::msrpc_ndr::Writer::with_syntax(drep, syntax);
                self.encode(&mut __w #(, #arg_from_req)*)?;
                ::core::result::Result::Ok(__w.into_bytes())
            }

            /// Decodes an NDR20 response stub to the request `req`; bytes after the last value
            /// are ignored.
            pub fn from_stub(
                stub: &[u8],
                drep: ::msrpc_ndr::DataRep,
                limits: ::msrpc_ndr::DecodeLimits,
                #req_param: &#req_ty,
            ) -> ::msrpc_ndr::DecodeResult<Self> {
                Self::from_stub_in(stub, drep, ::msrpc_ndr::TransferSyntax::Ndr20, limits, #req_param)
            }

            /// Decodes a response stub in transfer syntax `syntax` to the request `req`.
            pub fn from_stub_in(
                stub: &[u8],
                drep: ::msrpc_ndr::DataRep,
                syntax: ::msrpc_ndr::TransferSyntax,
                limits: ::msrpc_ndr::DecodeLimits,
                #req_param: &#req_ty,
            ) -> ::msrpc_ndr::DecodeResult<Self> {
                let mut __r = ::msrpc_ndr::Reader::with_syntax(stub, drep, syntax, limits);
                Self::decode(&mut __r #(, #arg_from_req)*)
            }
        }
    })
}

/// The interface a trait inherits from (`trait Derived: path::to::Base`), as the path of the
/// base trait; `None` without a supertrait.
fn base_interface(tr: &ItemTrait) -> syn::Result<Option<syn::Path>> {
    let mut bases = tr.supertraits.iter();
    let Some(first) = bases.next() else {
        return Ok(None);
    };
    let shape_error = || {
        syn::Error::new(
            tr.supertraits.span(),
            "an interface inherits from one interface, named by its path (`trait Derived: path::to::Base`)",
        )
    };
    if bases.next().is_some() {
        return Err(shape_error());
    }
    let syn::TypeParamBound::Trait(bound) = first else {
        return Err(shape_error());
    };
    let plain = bound.paren_token.is_none()
        && bound.lifetimes.is_none()
        && matches!(bound.modifier, syn::TraitBoundModifier::None)
        && bound
            .path
            .segments
            .iter()
            .all(|s| matches!(s.arguments, syn::PathArguments::None));
    if !plain || bound.path.segments.is_empty() {
        return Err(shape_error());
    }
    Ok(Some(bound.path.clone()))
}

/// `path::to::Base` -> `path::to::Base{suffix}` (the base's generated marker or client).
fn sibling(path: &syn::Path, suffix: &str) -> syn::Path {
    let mut p = path.clone();
    if let Some(last) = p.segments.last_mut() {
        last.ident = format_ident!("{}{}", last.ident, suffix);
    }
    p
}

/// Entry point: expands the interface trait `item` with arguments `args`.
pub fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = parse_args(args)?;
    let mut tr: ItemTrait = syn::parse2(item)?;
    if args.orpc {
        orpc_operations(&mut tr)?;
    }
    if !tr.generics.params.is_empty() {
        return Err(syn::Error::new(
            tr.generics.span(),
            "interfaces cannot be generic",
        ));
    }
    let base = base_interface(&tr)?;
    let mut ops: Vec<Op> = Vec::new();
    for it in &tr.items {
        match it {
            TraitItem::Fn(f) => {
                let op = parse_op(f)?;
                if let Some(prev) = ops.iter().find(|o| o.opnum == op.opnum) {
                    return Err(syn::Error::new(
                        f.sig.ident.span(),
                        format!("opnum {} is already used by `{}`", op.opnum, prev.name),
                    ));
                }
                if op.name == "rundown" {
                    return Err(syn::Error::new(
                        f.sig.ident.span(),
                        "`rundown` is the service's run-down hook: name the operation otherwise",
                    ));
                }
                ops.push(op);
            }
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    "an interface trait contains only operations (`#[opnum(N)] fn name(...);`)",
                ))
            }
        }
    }
    let vis = &tr.vis;
    let name = &tr.ident;
    let name_str = name.to_string();
    let server = format_ident!("{}Server", name);
    let client = format_ident!("{}Client", name);
    let marker = format_ident!("{}Interface", name);
    let trait_docs = attrs::docs(&tr.attrs);
    let uuid = args.uuid;
    let major = args.major;
    let minor = args.minor;
    let uuid_text = format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        uuid >> 96,
        (uuid >> 80) & 0xffff,
        (uuid >> 64) & 0xffff,
        (uuid >> 48) & 0xffff,
        uuid & 0xffff_ffff_ffff
    );

    let max_op = ops.iter().map(|o| o.opnum).max();
    let operations: Vec<TokenStream> = match max_op {
        None => Vec::new(),
        Some(m) => (0..=m)
            .map(|n| match ops.iter().find(|o| o.opnum == n) {
                Some(o) => {
                    let s = &o.name;
                    quote!(::core::option::Option::Some(#s))
                }
                None => quote!(::core::option::Option::None),
            })
            .collect(),
    };

    let mut items = TokenStream::new();
    let mut service_methods = TokenStream::new();
    let mut dispatch_arms = TokenStream::new();
    let mut client_methods = TokenStream::new();
    // How a client method reaches the invoker, the object UUID and the syntax it calls with:
    // its own fields, or (derived) those of the base client it wraps.
    let client_parts = if base.is_some() {
        quote!(self.base.invoker(), self.base.syntax(), self.base.object())
    } else {
        quote!(&self.invoke, self.syntax, self.object)
    };
    for op in &ops {
        items.extend(gen_op(op, vis)?);
        let method = &op.method;
        let req_ty = &op.req_ty;
        let resp_ty = &op.resp_ty;
        let opnum = op.opnum;
        let op_docs: Vec<TokenStream> = op.docs.iter().map(|a| quote!(#a)).collect();
        let head_doc = doc(format!("Operation `{}` (opnum {}).", op.name, op.opnum));
        service_methods.extend(quote! {
            #head_doc
            #[doc = ""]
            #(#op_docs)*
            fn #method(
                &self,
                ctx: &::msrpc_proto::dispatch::CallContext,
                req: #req_ty,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<#resp_ty, ::msrpc_proto::dispatch::RpcFault>,
            > + ::core::marker::Send;
        });
        let args = response_args(op);
        let keep: Vec<TokenStream> = args
            .iter()
            .map(|p| {
                let id = &p.ident;
                let local = format_ident!("__in_{}", p.ident);
                quote! { let #local = ::core::clone::Clone::clone(&__req.#id); }
            })
            .collect();
        let pass: Vec<TokenStream> = args
            .iter()
            .map(|p| {
                let local = format_ident!("__in_{}", p.ident);
                quote!(&#local)
            })
            .collect();
        dispatch_arms.extend(quote! {
            #opnum => {
                let __req = #req_ty::from_stub_in(&stub, drep, syntax, limits)
                    .map_err(::msrpc_proto::dispatch::DispatchError::BadStub)?;
                #(#keep)*
                let __resp = <__S as #name>::#method(service, &ctx, __req)
                    .await
                    .map_err(::msrpc_proto::dispatch::DispatchError::Fault)?;
                let mut __w = ::msrpc_ndr::Writer::with_syntax(drep, syntax);
                __resp
                    .encode(&mut __w #(, #pass)*)
                    .map_err(::msrpc_proto::dispatch::DispatchError::Encode)?;
                ::core::result::Result::Ok(__w.into_bytes())
            }
        });
        let cdoc = doc(format!(
            "Calls `{}` (opnum {}): encodes `req` in the invoker's data representation and decodes the response within its limits.",
            op.name, op.opnum
        ));
        client_methods.extend(quote! {
            #cdoc
            pub async fn #method(
                &self,
                req: #req_ty,
            ) -> ::core::result::Result<#resp_ty, ::msrpc_proto::dispatch::CallError> {
                let (__invoke, __syntax, __object) = (#client_parts);
                let __drep = __invoke.drep();
                let __ts = __invoke.transfer_syntax(__syntax).await?;
                let __stub = req
                    .to_stub_in(__drep, __ts)
                    .map_err(::msrpc_proto::dispatch::CallError::Encode)?;
                let __resp = __invoke
                    .invoke_in(__syntax, #opnum, __object, __stub, __drep, __ts)
                    .await?;
                #resp_ty::from_stub_in(&__resp.stub, __resp.drep, __ts, __invoke.limits(), &req)
                    .map_err(::msrpc_proto::dispatch::CallError::Decode)
            }
        });
    }

    let trait_doc_default = if trait_docs.is_empty() {
        doc(format!(
            "The `{name_str}` interface ({uuid_text} v{major}.{minor}): implement it to serve the interface with [`{server}`]."
        ))
    } else {
        quote! { #(#trait_docs)* }
    };
    let marker_doc = doc(format!(
        "The `{name_str}` interface's identity: {uuid_text} v{major}.{minor}."
    ));
    let server_doc = doc(format!(
        "Serves a [`{name_str}`] implementation: decodes requests, calls the service, encodes responses (a [`Dispatch`](::msrpc_proto::dispatch::Dispatch))."
    ));
    let client_doc = doc(format!(
        "A client of the `{name_str}` interface over any [`Invoke`](::msrpc_proto::dispatch::Invoke)."
    ));

    // What differs between a root interface and one inheriting another: the service trait's
    // supertraits and run-down hook, the dispatcher's fallback, the operation table, the
    // client's layout.
    let (trait_head, rundown_hook, dispatch_fallback, rundown_body, operations_value, checks) =
        match &base {
            None => (
                quote!(#vis trait #name: ::core::marker::Send + ::core::marker::Sync + 'static),
                quote! {
                    /// Runs down the context handles of association group `assoc_group_id`: called by
                    /// the runtime once the group's last connection is gone (the client closed it, or
                    /// vanished). The default does nothing.
                    fn rundown(&self, assoc_group_id: u32) {
                        let _ = assoc_group_id;
                    }
                },
                quote! {
                    let _ = (service, stub, drep, syntax, limits);
                    ::core::result::Result::Err(
                        ::msrpc_proto::dispatch::DispatchError::OpnumOutOfRange(__other),
                    )
                },
                quote!(<__S as #name>::rundown(service, assoc_group_id)),
                quote!(&[#(#operations),*]),
                TokenStream::new(),
            ),
            Some(base_path) => {
                let base_marker = sibling(base_path, "Interface");
                let collision = format!(
                    "an operation of `{name_str}` reuses an opnum of the interface it inherits"
                );
                (
                    quote!(#vis trait #name: #base_path + ::core::marker::Send + ::core::marker::Sync + 'static),
                    TokenStream::new(),
                    quote!(#base_marker::__dispatch(service, ctx, stub, drep, syntax, limits).await),
                    quote!(#base_marker::__rundown(service, assoc_group_id)),
                    quote! {{
                        const __BASE: &[::core::option::Option<&str>] =
                            <#base_marker as ::msrpc_proto::dispatch::Interface>::OPERATIONS;
                        const __OWN: &[::core::option::Option<&str>] = &[#(#operations),*];
                        const __LEN: usize =
                            ::msrpc_proto::dispatch::inherited_operations_len(__BASE, __OWN);
                        const __ALL: [::core::option::Option<&str>; __LEN] =
                            ::msrpc_proto::dispatch::inherit_operations::<__LEN>(__BASE, __OWN);
                        &__ALL
                    }},
                    quote! {
                        // An inherited opnum redefined is refused at compile time.
                        const _: () = ::core::assert!(
                            ::msrpc_proto::dispatch::opnums_disjoint(
                                <#base_marker as ::msrpc_proto::dispatch::Interface>::OPERATIONS,
                                &[#(#operations),*],
                            ),
                            #collision
                        );
                    },
                )
            }
        };

    let client_def = match &base {
        None => quote! {
            #client_doc
            #[derive(Clone, Debug)]
            #vis struct #client<C> {
                invoke: C,
                object: ::core::option::Option<::msrpc_ndr::Uuid>,
                syntax: ::msrpc_proto::SyntaxId,
            }

            impl<C: ::msrpc_proto::dispatch::Invoke> #client<C> {
                /// A client calling through `invoke`, without an object UUID.
                pub const fn new(invoke: C) -> Self {
                    Self {
                        invoke,
                        object: ::core::option::Option::None,
                        syntax: <#marker as ::msrpc_proto::dispatch::Interface>::SYNTAX,
                    }
                }

                /// A client whose calls name the interface `syntax` instead of this one's:
                /// what the client of an interface inheriting this one wraps, so the inherited
                /// operations are called on the derived interface.
                #[doc(hidden)]
                pub const fn __with_syntax(invoke: C, syntax: ::msrpc_proto::SyntaxId) -> Self {
                    Self {
                        invoke,
                        object: ::core::option::Option::None,
                        syntax,
                    }
                }

                /// Sends `object` as the object UUID of every call.
                #[must_use]
                pub fn with_object(mut self, object: ::msrpc_ndr::Uuid) -> Self {
                    self.object = ::core::option::Option::Some(object);
                    self
                }

                /// The invoker.
                pub fn invoker(&self) -> &C {
                    &self.invoke
                }

                /// The object UUID sent with every call, if any.
                pub fn object(&self) -> ::core::option::Option<::msrpc_ndr::Uuid> {
                    self.object
                }

                /// The interface the calls name: this one's, or that of the interface
                /// inheriting it whose client this is part of.
                pub fn syntax(&self) -> ::msrpc_proto::SyntaxId {
                    self.syntax
                }

                #client_methods
            }
        },
        Some(base_path) => {
            let base_client = sibling(base_path, "Client");
            let deref_doc = doc(format!(
                "The inherited operations: the base interface's client, calling with `{name_str}`'s syntax."
            ));
            quote! {
                #client_doc
                #[doc = ""]
                #[doc = "The operations it inherits are the base client's, reached through `Deref`; they are called on this interface (its UUID in the bind and the request)."]
                #[derive(Clone, Debug)]
                #vis struct #client<C> {
                    base: #base_client<C>,
                }

                impl<C> ::core::ops::Deref for #client<C> {
                    type Target = #base_client<C>;

                    #deref_doc
                    fn deref(&self) -> &#base_client<C> {
                        &self.base
                    }
                }

                impl<C: ::msrpc_proto::dispatch::Invoke> #client<C> {
                    /// A client calling through `invoke`, without an object UUID.
                    pub const fn new(invoke: C) -> Self {
                        Self {
                            base: #base_client::__with_syntax(
                                invoke,
                                <#marker as ::msrpc_proto::dispatch::Interface>::SYNTAX,
                            ),
                        }
                    }

                    /// A client whose calls name the interface `syntax` instead of this one's
                    /// (for an interface inheriting this one).
                    #[doc(hidden)]
                    pub const fn __with_syntax(invoke: C, syntax: ::msrpc_proto::SyntaxId) -> Self {
                        Self {
                            base: #base_client::__with_syntax(invoke, syntax),
                        }
                    }

                    /// Sends `object` as the object UUID of every call.
                    #[must_use]
                    pub fn with_object(self, object: ::msrpc_ndr::Uuid) -> Self {
                        Self {
                            base: self.base.with_object(object),
                        }
                    }

                    #client_methods
                }
            }
        }
    };

    let com_interface = if args.orpc {
        let com_doc = doc(format!(
            "`{name_str}` is a COM interface: its IID is its UUID, and [`{client}`] calls an object's interface by IPID."
        ));
        quote! {
            #com_doc
            impl ::msrpc_dcom::ComInterface for #marker {
                type Client<C: ::msrpc_proto::dispatch::Invoke> = #client<C>;

                fn client<C: ::msrpc_proto::dispatch::Invoke>(
                    invoke: C,
                    ipid: ::msrpc_dcom::Ipid,
                ) -> #client<C> {
                    #client::new(invoke).with_object(ipid.0)
                }
            }
        }
    } else {
        TokenStream::new()
    };

    Ok(quote! {
        #items

        #trait_doc_default
        #trait_head {
            #service_methods

            #rundown_hook
        }

        #marker_doc
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        #vis struct #marker;

        impl ::msrpc_proto::dispatch::Interface for #marker {
            const SYNTAX: ::msrpc_proto::SyntaxId = ::msrpc_proto::SyntaxId::new(
                ::msrpc_ndr::Uuid::from_u128(#uuid),
                #major,
                #minor,
            );
            const NAME: &'static str = #name_str;
            const OPERATIONS: &'static [::core::option::Option<&'static str>] = #operations_value;
        }

        #checks

        impl #marker {
            /// Runs operation `ctx.opnum` of `service`: decodes the request stub, calls the
            /// service and encodes its response (the dispatcher of this interface's server,
            /// and of the servers of the interfaces inheriting it).
            #[doc(hidden)]
            pub async fn __dispatch<__S: #name + ?::core::marker::Sized>(
                service: &__S,
                ctx: ::msrpc_proto::dispatch::CallContext,
                stub: ::std::vec::Vec<u8>,
                drep: ::msrpc_ndr::DataRep,
                syntax: ::msrpc_ndr::TransferSyntax,
                limits: ::msrpc_ndr::DecodeLimits,
            ) -> ::core::result::Result<::std::vec::Vec<u8>, ::msrpc_proto::dispatch::DispatchError> {
                let __opnum = ctx.opnum;
                match __opnum {
                    #dispatch_arms
                    __other => { #dispatch_fallback }
                }
            }

            /// Runs down association group `assoc_group_id` in `service` (the root interface's
            /// run-down hook).
            #[doc(hidden)]
            pub fn __rundown<__S: #name + ?::core::marker::Sized>(service: &__S, assoc_group_id: u32) {
                #rundown_body
            }
        }

        #com_interface

        #server_doc
        #[derive(Clone, Debug, Default)]
        #vis struct #server<S> {
            service: S,
        }

        impl<S> #server<S> {
            /// Wraps `service`.
            pub const fn new(service: S) -> Self {
                Self { service }
            }

            /// The wrapped service.
            pub fn service(&self) -> &S {
                &self.service
            }

            /// The wrapped service, consuming the server.
            pub fn into_inner(self) -> S {
                self.service
            }
        }

        impl<S> ::msrpc_proto::dispatch::Interface for #server<S> {
            const SYNTAX: ::msrpc_proto::SyntaxId = <#marker as ::msrpc_proto::dispatch::Interface>::SYNTAX;
            const NAME: &'static str = <#marker as ::msrpc_proto::dispatch::Interface>::NAME;
            const OPERATIONS: &'static [::core::option::Option<&'static str>] =
                <#marker as ::msrpc_proto::dispatch::Interface>::OPERATIONS;
        }

        impl<S: #name> ::msrpc_proto::dispatch::Dispatch for #server<S> {
            fn syntax(&self) -> ::msrpc_proto::SyntaxId {
                <#marker as ::msrpc_proto::dispatch::Interface>::SYNTAX
            }

            fn name(&self) -> &'static str {
                <#marker as ::msrpc_proto::dispatch::Interface>::NAME
            }

            fn operation_name(&self, opnum: u16) -> ::core::option::Option<&'static str> {
                <#marker as ::msrpc_proto::dispatch::Interface>::operation_name(opnum)
            }

            fn rundown(&self, assoc_group_id: u32) {
                #marker::__rundown(&self.service, assoc_group_id)
            }

            fn dispatch<'a>(
                &'a self,
                ctx: ::msrpc_proto::dispatch::CallContext,
                stub: ::std::vec::Vec<u8>,
                drep: ::msrpc_ndr::DataRep,
                limits: ::msrpc_ndr::DecodeLimits,
            ) -> ::msrpc_proto::dispatch::BoxFuture<
                'a,
                ::core::result::Result<::std::vec::Vec<u8>, ::msrpc_proto::dispatch::DispatchError>,
            > {
                ::std::boxed::Box::pin(#marker::__dispatch(
                    &self.service,
                    ctx,
                    stub,
                    drep,
                    ::msrpc_ndr::TransferSyntax::Ndr20,
                    limits,
                ))
            }

            fn supports_ndr64(&self) -> bool {
                true
            }

            fn dispatch_in<'a>(
                &'a self,
                ctx: ::msrpc_proto::dispatch::CallContext,
                stub: ::std::vec::Vec<u8>,
                drep: ::msrpc_ndr::DataRep,
                syntax: ::msrpc_ndr::TransferSyntax,
                limits: ::msrpc_ndr::DecodeLimits,
            ) -> ::msrpc_proto::dispatch::BoxFuture<
                'a,
                ::core::result::Result<::std::vec::Vec<u8>, ::msrpc_proto::dispatch::DispatchError>,
            > {
                ::std::boxed::Box::pin(#marker::__dispatch(&self.service, ctx, stub, drep, syntax, limits))
            }
        }

        #client_def

        impl<C> ::msrpc_proto::dispatch::Interface for #client<C> {
            const SYNTAX: ::msrpc_proto::SyntaxId = <#marker as ::msrpc_proto::dispatch::Interface>::SYNTAX;
            const NAME: &'static str = <#marker as ::msrpc_proto::dispatch::Interface>::NAME;
            const OPERATIONS: &'static [::core::option::Option<&'static str>] =
                <#marker as ::msrpc_proto::dispatch::Interface>::OPERATIONS;
        }
    })
}
