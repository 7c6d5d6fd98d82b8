//! `#[derive(Ndr)]`: structures, unions (enums with data) and NDR enums (fieldless enums).

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{Data, DataEnum, DeriveInput, Expr, Fields, Member, Type};

use crate::attrs::{self, FieldAttrs, SwitchType};
use crate::shape::{self, Binder, Position, Shape};

/// Entry point: the `Ndr` impl (and `NdrUnion` for unions) for `input`.
pub fn derive(input: DeriveInput) -> syn::Result<TokenStream> {
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            input.generics.span(),
            "#[derive(Ndr)] does not support generic types",
        ));
    }
    let cattrs = attrs::container_attrs(&input.attrs)?;
    match &input.data {
        Data::Struct(s) => {
            if cattrs.switch_type.is_some() || cattrs.encapsulated || cattrs.v1_enum {
                return Err(syn::Error::new(
                    input.ident.span(),
                    "switch_type / encapsulated / v1_enum apply to enums, not structures",
                ));
            }
            derive_struct(&input.ident, &s.fields)
        }
        Data::Enum(e) => {
            let vattrs = e
                .variants
                .iter()
                .map(|v| attrs::variant_attrs(&v.attrs))
                .collect::<syn::Result<Vec<_>>>()?;
            // An NDR enum: `Name = value` variants and its `#[ndr(unknown)]` catch-all (or
            // only unit variants, which then get asked for their values). Anything else with
            // data or union attributes is a union.
            let enum_like = cattrs.v1_enum
                || vattrs.iter().any(|a| a.unknown)
                || e.variants.iter().any(|v| v.discriminant.is_some())
                || e.variants.iter().all(|v| matches!(v.fields, Fields::Unit));
            let is_union = cattrs.switch_type.is_some()
                || cattrs.encapsulated
                || vattrs.iter().any(|a| a.case.is_some() || a.default)
                || !enum_like;
            if is_union {
                if cattrs.v1_enum {
                    return Err(syn::Error::new(
                        input.ident.span(),
                        "v1_enum applies to NDR enums, not unions",
                    ));
                }
                derive_union(
                    &input.ident,
                    e,
                    cattrs.switch_type.unwrap_or(SwitchType::U32),
                    cattrs.encapsulated,
                )
            } else {
                derive_enum(&input.ident, e, cattrs.v1_enum)
            }
        }
        Data::Union(u) => Err(syn::Error::new(
            u.union_token.span,
            "#[derive(Ndr)] does not support Rust unions; write an NDR union as an enum",
        )),
    }
}

/// One structure member.
struct Member_ {
    member: Member,
    local: Ident,
    name: String,
    attrs: FieldAttrs,
    shape: Shape,
}

fn max_align_chain(items: &[TokenStream]) -> TokenStream {
    let mut it = items.iter().rev();
    match it.next() {
        None => quote!(1),
        Some(last) => it.fold(
            last.clone(),
            |acc, x| quote!(::msrpc_ndr::max_align(#x, #acc)),
        ),
    }
}

fn sum_chain(items: &[TokenStream]) -> TokenStream {
    if items.is_empty() {
        quote!(0)
    } else {
        quote!(#(#items)+*)
    }
}

fn and_chain(items: &[TokenStream]) -> TokenStream {
    if items.is_empty() {
        quote!(true)
    } else {
        quote!(#(#items)&&*)
    }
}

/// Binds names to `self.<field>` (encode, decode_buffers).
struct SelfBinder<'a>(&'a [Member_]);

impl Binder for SelfBinder<'_> {
    fn place(&self, name: &str, _span: Span) -> syn::Result<Option<TokenStream>> {
        Ok(self.0.iter().find(|m| m.name == name).map(|m| {
            let member = &m.member;
            quote!(self.#member)
        }))
    }
}

/// Binds names to the decoded locals (decode_scalars' post checks).
struct LocalBinder<'a>(&'a [Member_]);

impl Binder for LocalBinder<'_> {
    fn place(&self, name: &str, _span: Span) -> syn::Result<Option<TokenStream>> {
        Ok(self.0.iter().find(|m| m.name == name).map(|m| {
            let local = &m.local;
            quote!(#local)
        }))
    }
}

/// No sibling names (union arms).
struct NoBinder;

impl Binder for NoBinder {
    fn place(&self, _name: &str, _span: Span) -> syn::Result<Option<TokenStream>> {
        Ok(None)
    }
}

fn derive_struct(ident: &Ident, fields: &Fields) -> syn::Result<TokenStream> {
    let tyname = ident.to_string();
    let count = fields.len();
    let mut members = Vec::with_capacity(count);
    for (i, f) in fields.iter().enumerate() {
        let fattrs = attrs::field_attrs(&f.attrs, false)?;
        let shape = shape::classify(
            &f.ty,
            &fattrs,
            Position::Member {
                last: i + 1 == count,
            },
        )?;
        let (member, local, name) = match &f.ident {
            Some(id) => (Member::Named(id.clone()), id.clone(), id.to_string()),
            None => (
                Member::Unnamed(syn::Index::from(i)),
                format_ident!("__f{}", i),
                i.to_string(),
            ),
        };
        members.push(Member_ {
            member,
            local,
            name,
            attrs: fattrs,
            shape,
        });
    }
    let hoisted = members
        .last()
        .filter(|m| matches!(m.shape, Shape::Conformant { .. }));

    let consts: Vec<shape::MemberConsts> = members
        .iter()
        .map(|m| shape::member_consts(&m.shape))
        .collect();
    let aligns: Vec<TokenStream> = consts.iter().map(|c| c.align.clone()).collect();
    let aligns64: Vec<TokenStream> = consts.iter().map(|c| c.align64.clone()).collect();
    let mins: Vec<TokenStream> = consts.iter().map(|c| c.wire_min.clone()).collect();
    let onlys: Vec<TokenStream> = consts.iter().map(|c| c.scalars_only.clone()).collect();
    let align = max_align_chain(&aligns);
    let align64 = max_align_chain(&aligns64);
    let wire_min = sum_chain(&mins);
    let scalars_only = and_chain(&onlys);

    let self_binder = SelfBinder(&members);
    let local_binder = LocalBinder(&members);

    // encode_scalars
    let mut enc_s = TokenStream::new();
    let mut hoist_prelude = TokenStream::new();
    if let Some(m) = hoisted {
        let field = &m.name;
        let member = &m.member;
        let pre = shape::prelude(&m.attrs, &self_binder)?;
        let len_check = if m.attrs.length_is.is_none() {
            quote! { ::msrpc_ndr::array::check_len(#field, __size_is, self.#member.len())?; }
        } else {
            quote! {}
        };
        enc_s.extend(quote! {
            #pre
            #len_check
            let __max: u64 = __size_is;
            __w.count(__max, #field)?;
        });
        hoist_prelude = shape::prelude(&m.attrs, &local_binder)?;
    }
    enc_s.extend(quote! { __w.align(<Self as ::msrpc_ndr::Ndr>::align_in(__w.syntax())); });
    for m in &members {
        let member = &m.member;
        let place = quote!(self.#member);
        let code = shape::member_encode_scalars(&m.shape, &place, &m.name);
        let is_hoisted = hoisted.is_some_and(|h| h.name == m.name);
        let pre = if is_hoisted {
            quote! {}
        } else {
            shape::prelude(&without_size(&m.attrs, &m.shape), &self_binder)?
        };
        if is_hoisted || pre.is_empty() {
            enc_s.extend(code);
        } else {
            enc_s.extend(quote! { { #pre #code } });
        }
    }

    enc_s.extend(quote! { __w.trailer_align(<Self as ::msrpc_ndr::Ndr>::ALIGN64); });

    // encode_buffers
    let mut enc_b = TokenStream::new();
    for m in &members {
        let member = &m.member;
        let place = quote!(self.#member);
        let code = shape::member_encode_buffers(&m.shape, &place, &m.name);
        if code.is_empty() {
            continue;
        }
        if shape::buffers_need_prelude(&m.shape) {
            let pre = shape::prelude(&m.attrs, &self_binder)?;
            enc_b.extend(quote! { { #pre #code } });
        } else {
            enc_b.extend(code);
        }
    }

    // decode_scalars
    let mut dec_s = TokenStream::new();
    if let Some(m) = hoisted {
        let field = &m.name;
        dec_s.extend(quote! {
            let __max: u64 = __r.field(#tyname, #field, ::msrpc_ndr::Reader::count)?;
        });
    }
    dec_s.extend(quote! {
        __r.align(<Self as ::msrpc_ndr::Ndr>::align_in(__r.syntax())).map_err(|__e| __e.in_type(#tyname))?;
    });
    let mut post = TokenStream::new();
    for m in &members {
        let local = &m.local;
        let field = &m.name;
        let reader = scalars_fn(&m.shape);
        dec_s.extend(quote! { let #local = __r.field(#tyname, #field, #reader)?; });
        let wrap = quote!(.in_field(#field).in_type(#tyname));
        let checks = shape::member_post_checks(&m.shape, &quote!(&#local), &wrap);
        if !checks.is_empty() {
            let is_hoisted = hoisted.is_some_and(|h| h.name == m.name);
            let pre = if is_hoisted {
                hoist_prelude.clone()
            } else {
                shape::prelude(&without_size(&m.attrs, &m.shape), &local_binder)?
            };
            post.extend(quote! { { #pre #checks } });
        }
    }
    // MS-RPCE 2.2.5.3.4.1: in NDR64 a structure ends on a multiple of its alignment.
    dec_s.extend(quote! {
        __r.trailer_align(<Self as ::msrpc_ndr::Ndr>::ALIGN64).map_err(|__e| __e.in_type(#tyname))?;
    });
    dec_s.extend(post);
    let ctor = match fields {
        Fields::Named(_) => {
            let locals = members.iter().map(|m| &m.local);
            quote! { Self { #(#locals),* } }
        }
        Fields::Unnamed(_) => {
            let locals = members.iter().map(|m| &m.local);
            quote! { Self ( #(#locals),* ) }
        }
        Fields::Unit => quote! { Self },
    };

    // decode_buffers
    let mut dec_b = TokenStream::new();
    for m in &members {
        let member = &m.member;
        let field = &m.name;
        let place = quote!(self.#member);
        let Some(code) = shape::member_decode_buffers(&m.shape, &place) else {
            continue;
        };
        let call = quote! { __r.field(#tyname, #field, |__r| #code)?; };
        if shape::buffers_need_prelude(&m.shape) {
            let pre = shape::prelude(&m.attrs, &self_binder)?;
            dec_b.extend(quote! { { #pre #call } });
        } else {
            dec_b.extend(call);
        }
    }

    let has_buffers = !enc_b.is_empty();
    let buffers = if has_buffers {
        quote! {
            fn encode_buffers(&self, __w: &mut ::msrpc_ndr::Writer) -> ::msrpc_ndr::EncodeResult {
                if <Self as ::msrpc_ndr::Ndr>::SCALARS_ONLY {
                    return ::core::result::Result::Ok(());
                }
                #enc_b
                ::core::result::Result::Ok(())
            }
            fn decode_buffers(&mut self, __r: &mut ::msrpc_ndr::Reader<'_>) -> ::msrpc_ndr::DecodeResult<()> {
                if <Self as ::msrpc_ndr::Ndr>::SCALARS_ONLY {
                    return ::core::result::Result::Ok(());
                }
                #dec_b
                ::core::result::Result::Ok(())
            }
        }
    } else {
        quote! {}
    };
    let unused_w = if members.is_empty() {
        quote! { let _ = &__w; }
    } else {
        quote! {}
    };

    Ok(quote! {
        #[automatically_derived]
        impl ::msrpc_ndr::Ndr for #ident {
            const ALIGN: usize = #align;
            const ALIGN64: usize = #align64;
            const WIRE_MIN: usize = #wire_min;
            const SCALARS_ONLY: bool = #scalars_only;
            fn encode_scalars(&self, __w: &mut ::msrpc_ndr::Writer) -> ::msrpc_ndr::EncodeResult {
                #unused_w
                #enc_s
                ::core::result::Result::Ok(())
            }
            fn decode_scalars(__r: &mut ::msrpc_ndr::Reader<'_>) -> ::msrpc_ndr::DecodeResult<Self> {
                #dec_s
                ::core::result::Result::Ok(#ctor)
            }
            #buffers
        }
    })
}

/// The attributes whose prelude a member's *scalar* phase needs (a pointer's sizes are only
/// needed in the buffers phase).
fn without_size(a: &FieldAttrs, shape: &Shape) -> FieldAttrs {
    match shape {
        Shape::Ptr { .. } | Shape::Opt { .. } => FieldAttrs::default(),
        Shape::Conformant { .. } | Shape::Str { .. } => {
            let mut out = a.clone();
            out.size_is = None;
            out.switch_is = None;
            out
        }
        Shape::Varying { .. } => {
            let mut out = a.clone();
            out.size_is = None;
            out.switch_is = None;
            out
        }
        Shape::Plain { .. } => {
            let mut out = a.clone();
            out.size_is = None;
            out.length_is = None;
            out
        }
    }
}

/// The reader of a member's scalars as a function (`Reader::field` takes one): the type's
/// `decode_scalars` itself for plain members, a closure otherwise.
fn scalars_fn(shape: &Shape) -> TokenStream {
    match shape {
        Shape::Plain { ty, .. } => quote!(<#ty as ::msrpc_ndr::Ndr>::decode_scalars),
        other => {
            let code = shape::member_decode_scalars(other);
            quote!(|__r| #code)
        }
    }
}

/// One union arm.
struct Arm {
    ident: Ident,
    name: String,
    case: Option<Expr>,
    default: bool,
    field: Option<(Type, FieldAttrs, Shape)>,
}

fn derive_union(
    ident: &Ident,
    e: &DataEnum,
    st: SwitchType,
    encapsulated: bool,
) -> syn::Result<TokenStream> {
    let tyname = ident.to_string();
    let mut arms = Vec::new();
    let mut seen_default = false;
    for v in &e.variants {
        let va = attrs::variant_attrs(&v.attrs)?;
        if let Some((_, d)) = &v.discriminant {
            return Err(syn::Error::new(
                d.span(),
                "union arms take their discriminant from #[ndr(case = ...)], not `= value`",
            ));
        }
        if va.unknown {
            return Err(syn::Error::new(
                v.ident.span(),
                "#[ndr(unknown)] marks an NDR enum's catch-all; a union's is its #[ndr(default)] arm",
            ));
        }
        if va.default == va.case.is_some() {
            return Err(syn::Error::new(
                v.ident.span(),
                "each union arm needs exactly one of #[ndr(case = ...)] or #[ndr(default)]",
            ));
        }
        let member = |f: &syn::Field| -> syn::Result<(Type, FieldAttrs, Shape)> {
            let fa = attrs::field_attrs(&f.attrs, false)?;
            let shape = shape::classify(&f.ty, &fa, Position::Member { last: false })?;
            Ok((f.ty.clone(), fa, shape))
        };
        // A case arm: no field or one (its member). The default arm: the discriminant, then
        // optionally its member (`[default] T x;`, MS-LSAD's LSA_FOREST_TRUST_RECORD).
        let fields: Vec<&syn::Field> = match &v.fields {
            Fields::Unit => Vec::new(),
            Fields::Unnamed(u) => u.unnamed.iter().collect(),
            Fields::Named(n) => {
                return Err(syn::Error::new(
                    n.span(),
                    "a union arm is a unit variant or a tuple variant",
                ))
            }
        };
        let field = if va.default {
            if seen_default {
                return Err(syn::Error::new(v.ident.span(), "more than one default arm"));
            }
            seen_default = true;
            match fields.as_slice() {
                [d] if attrs::field_attrs(&d.attrs, false)?.is_plain() => None,
                [d, m] if attrs::field_attrs(&d.attrs, false)?.is_plain() => Some(member(m)?),
                _ => {
                    return Err(syn::Error::new(
                        v.ident.span(),
                        "the default arm carries the discriminant, then its member if it has one: write it as `Other(u16)` or `Data(u16, T)` (the switch type first)",
                    ))
                }
            }
        } else {
            match fields.as_slice() {
                [] => None,
                [f] => Some(member(f)?),
                _ => {
                    return Err(syn::Error::new(
                        v.fields.span(),
                        "a union arm is a unit variant or a tuple variant with one field",
                    ))
                }
            }
        };
        arms.push(Arm {
            ident: v.ident.clone(),
            name: v.ident.to_string(),
            case: va.case,
            default: va.default,
            field,
        });
    }
    let swty = st.ty();
    let swsize = st.size();
    let swsize64 = st.size64();
    // statements writing the discriminant `v`, and reading it into `__d`
    let write_d = |v: TokenStream| match st {
        SwitchType::U8 => quote! { __w.u8(#v); },
        SwitchType::U16 => quote! { __w.u16(#v); },
        SwitchType::U32 => quote! { __w.u32(#v); },
        SwitchType::Enum16 => quote! {
            if __w.is_ndr64() {
                __w.u32(u32::from(#v));
            } else {
                __w.u16(#v);
            }
        },
    };
    let read_d = match st {
        SwitchType::U8 => quote! { let __d: u8 = __r.u8()?; },
        SwitchType::U16 => quote! { let __d: u16 = __r.u16()?; },
        SwitchType::U32 => quote! { let __d: u32 = __r.u32()?; },
        // a 16-bit enum is 4 bytes in NDR64; a value beyond 16 bits is refused, as for the
        // enum itself
        SwitchType::Enum16 => quote! {
            let __d: u16 = if __r.is_ndr64() {
                let __wide = __r.u32()?;
                <u16 as ::core::convert::TryFrom<u32>>::try_from(__wide).map_err(|_| {
                    __r.error(::msrpc_ndr::DecodeErrorKind::OutOfRange {
                        value: i128::from(__wide),
                        min: 0,
                        max: i128::from(u16::MAX),
                    })
                })?
            } else {
                __r.u16()?
            };
        },
    };
    let data_arms: Vec<&Arm> = arms.iter().filter(|a| a.field.is_some()).collect();
    let arm_consts: Vec<shape::MemberConsts> = data_arms
        .iter()
        .filter_map(|a| a.field.as_ref())
        .map(|(_, _, s)| shape::member_consts(s))
        .collect();
    let arm_aligns: Vec<TokenStream> = arm_consts.iter().map(|c| c.align.clone()).collect();
    let arm_aligns64: Vec<TokenStream> = arm_consts.iter().map(|c| c.align64.clone()).collect();
    let arm_onlys: Vec<TokenStream> = arm_consts.iter().map(|c| c.scalars_only.clone()).collect();
    let arms_align = max_align_chain(&arm_aligns);
    let arms_align64 = max_align_chain(&arm_aligns64);
    let mut all_aligns = arm_aligns.clone();
    all_aligns.push(quote!(#swsize));
    let align = max_align_chain(&all_aligns);
    let mut all_aligns64 = arm_aligns64.clone();
    all_aligns64.push(quote!(#swsize64));
    let align64 = max_align_chain(&all_aligns64);
    let scalars_only = and_chain(&arm_onlys);
    // NDR20: an encapsulated union aligns its arm to the largest arm alignment (C706
    // 14.3.8), a non-encapsulated one leaves the arm to its own alignment. NDR64 (MS-RPCE
    // 2.2.5.3.4.4): the union starts aligned to the largest of the discriminant's and the
    // arms' alignments, and every arm to the largest arm alignment.
    let after_d20 = if encapsulated {
        quote! { __w.align(#arms_align); }
    } else {
        quote! {}
    };
    let after_d = quote! {
        if __w.is_ndr64() {
            __w.align(#arms_align64);
        } else {
            #after_d20
        }
    };
    let after_d64 = quote! {
        if __w.is_ndr64() {
            __w.align(#arms_align64);
        }
    };
    let after_d_read = if encapsulated {
        quote! {
            if !__r.is_ndr64() {
                __r.align(#arms_align)?;
            }
        }
    } else {
        quote! {}
    };

    let case_const = |i: usize| format_ident!("__CASE{}", i);
    let mut consts = TokenStream::new();
    for (i, a) in arms.iter().enumerate() {
        if let Some(c) = &a.case {
            let cid = case_const(i);
            consts.extend(quote! { const #cid: #swty = #c; });
        }
    }

    let case_ids: Vec<Ident> = arms
        .iter()
        .enumerate()
        .filter(|(_, a)| a.case.is_some())
        .map(|(i, _)| case_const(i))
        .collect();
    let mut disc_arms = TokenStream::new();
    let mut enc_s_arms = TokenStream::new();
    let mut enc_b_arms = TokenStream::new();
    let mut dec_b_arms = TokenStream::new();
    let mut dec_chain = TokenStream::new();
    let mut default_dec = quote! {
        ::core::result::Result::Err(__r.error(::msrpc_ndr::DecodeErrorKind::UnknownDiscriminant(u64::from(__d))))
    };
    for (i, a) in arms.iter().enumerate() {
        let vid = &a.ident;
        let name = &a.name;
        let cid = case_const(i);
        if a.default {
            // The discriminant it holds must name no case: the decoder would read that case's
            // arm from these bytes.
            let refuse = quote! {
                if #(*__d == #case_ids)||* {
                    return ::core::result::Result::Err(::msrpc_ndr::EncodeError::DefaultArmNamesACase {
                        ty: #tyname,
                        discriminant: u64::from(*__d),
                    });
                }
            };
            let refuse = if case_ids.is_empty() {
                TokenStream::new()
            } else {
                refuse
            };
            match &a.field {
                None => {
                    disc_arms.extend(quote! { Self::#vid(__d) => u64::from(*__d), });
                    enc_s_arms.extend({
                        let wd = write_d(quote!(*__d));
                        quote! { Self::#vid(__d) => { #refuse #wd #after_d64 } }
                    });
                    default_dec = quote! { ::core::result::Result::Ok(Self::#vid(__d)) };
                }
                Some((_, fa, shape)) => {
                    let place = quote!((*__v));
                    let pre = shape::prelude(fa, &NoBinder)?;
                    let enc = shape::member_encode_scalars(shape, &place, name);
                    let encb = shape::member_encode_buffers(shape, &place, name);
                    disc_arms.extend(quote! { Self::#vid(__d, _) => u64::from(*__d), });
                    let wd = write_d(quote!(*__d));
                    enc_s_arms.extend(quote! {
                        Self::#vid(__d, __v) => {
                            #refuse
                            #pre
                            #wd
                            #after_d
                            #enc
                        }
                    });
                    if !encb.is_empty() {
                        enc_b_arms.extend(quote! { Self::#vid(_, __v) => { #pre #encb } });
                    }
                    let dec = scalars_fn(shape);
                    let wrap = quote!(.in_field(#name).in_type(#tyname));
                    let post = shape::member_post_checks(shape, &quote!(&__x), &wrap);
                    default_dec = quote! {
                        {
                            #after_d_read
                            let __x = __r.field(#tyname, #name, #dec)?;
                            #pre
                            #post
                            ::core::result::Result::Ok(Self::#vid(__d, __x))
                        }
                    };
                    if let Some(decb) = shape::member_decode_buffers(shape, &place) {
                        dec_b_arms.extend(quote! {
                            Self::#vid(_, __v) => {
                                #pre
                                __r.field(#tyname, #name, |__r| #decb)
                            }
                        });
                    }
                }
            }
            continue;
        }
        match &a.field {
            None => {
                disc_arms.extend(quote! { Self::#vid => u64::from(#cid), });
                let wd = write_d(quote!(#cid));
                enc_s_arms.extend(quote! { Self::#vid => { #wd #after_d64 } });
                dec_chain.extend(quote! {
                    if __d == #cid {
                        return ::core::result::Result::Ok(Self::#vid);
                    }
                });
            }
            Some((_, fa, shape)) => {
                let place = quote!((*__v));
                let pre = shape::prelude(fa, &NoBinder)?;
                let enc = shape::member_encode_scalars(shape, &place, name);
                let encb = shape::member_encode_buffers(shape, &place, name);
                disc_arms.extend(quote! { Self::#vid(_) => u64::from(#cid), });
                let wd = write_d(quote!(#cid));
                enc_s_arms.extend(quote! {
                    Self::#vid(__v) => {
                        #pre
                        #wd
                        #after_d
                        #enc
                    }
                });
                if !encb.is_empty() {
                    enc_b_arms.extend(quote! { Self::#vid(__v) => { #pre #encb } });
                }
                let dec = scalars_fn(shape);
                let wrap = quote!(.in_field(#name).in_type(#tyname));
                let post = shape::member_post_checks(shape, &quote!(&__x), &wrap);
                dec_chain.extend(quote! {
                    if __d == #cid {
                        #after_d_read
                        let __x = __r.field(#tyname, #name, #dec)?;
                        #pre
                        #post
                        return ::core::result::Result::Ok(Self::#vid(__x));
                    }
                });
                if let Some(decb) = shape::member_decode_buffers(shape, &place) {
                    dec_b_arms.extend(quote! {
                        Self::#vid(__v) => {
                            #pre
                            __r.field(#tyname, #name, |__r| #decb)
                        }
                    });
                }
            }
        }
    }
    let buffers = if enc_b_arms.is_empty() {
        quote! {}
    } else {
        quote! {
            fn encode_buffers(&self, __w: &mut ::msrpc_ndr::Writer) -> ::msrpc_ndr::EncodeResult {
                match self {
                    #enc_b_arms
                    #[allow(unreachable_patterns)]
                    _ => {}
                }
                ::core::result::Result::Ok(())
            }
            fn decode_buffers(&mut self, __r: &mut ::msrpc_ndr::Reader<'_>) -> ::msrpc_ndr::DecodeResult<()> {
                __r.nested(|__r| match self {
                    #dec_b_arms
                    #[allow(unreachable_patterns)]
                    _ => ::core::result::Result::Ok(()),
                })
            }
        }
    };

    Ok(quote! {
        #[automatically_derived]
        impl ::msrpc_ndr::NdrUnion for #ident {
            fn discriminant(&self) -> u64 {
                #consts
                match self {
                    #disc_arms
                }
            }
        }

        #[automatically_derived]
        impl ::msrpc_ndr::Ndr for #ident {
            const ALIGN: usize = #align;
            const ALIGN64: usize = #align64;
            const WIRE_MIN: usize = #swsize;
            const SCALARS_ONLY: bool = #scalars_only;
            fn encode_scalars(&self, __w: &mut ::msrpc_ndr::Writer) -> ::msrpc_ndr::EncodeResult {
                #consts
                if __w.is_ndr64() {
                    __w.align(<Self as ::msrpc_ndr::Ndr>::ALIGN64);
                }
                match self {
                    #enc_s_arms
                }
                ::core::result::Result::Ok(())
            }
            fn decode_scalars(__r: &mut ::msrpc_ndr::Reader<'_>) -> ::msrpc_ndr::DecodeResult<Self> {
                __r.nested(|__r| {
                    #consts
                    if __r.is_ndr64() {
                        __r.align(<Self as ::msrpc_ndr::Ndr>::ALIGN64)?;
                    }
                    #read_d
                    if __r.is_ndr64() {
                        __r.align(#arms_align64)?;
                    }
                    #dec_chain
                    #default_dec
                })
                .map_err(|__e| __e.in_type(#tyname))
            }
            #buffers
        }
    })
}

/// An NDR enum (C706 14.2.5: a 16-bit integer on the wire; `v1_enum`, MS-RPCE 2.2.4.6: 32-bit).
///
/// Open, as the peers' stubs are: Windows and Samba hand any value of the wire width to the
/// service, so `Name = value` variants are joined by exactly one `#[ndr(unknown)]` tuple
/// variant holding the raw value of any other (`Unknown(u32)`; `u16` also works for a 16-bit
/// enum). Decoding never fails on the value; encoding writes the held value as it is, or fails
/// with `EncodeError::EnumValueOutOfRange` when it does not fit the wire type.
fn derive_enum(ident: &Ident, e: &DataEnum, v1: bool) -> syn::Result<TokenStream> {
    let ty = if v1 { quote!(u32) } else { quote!(u16) };
    let size: usize = if v1 { 4 } else { 2 };
    let write = if v1 { quote!(__w.u32) } else { quote!(__w.u16) };
    let read = if v1 {
        quote!(__r.u32())
    } else {
        quote!(__r.u16())
    };
    let tyname = ident.to_string();
    let mut consts = TokenStream::new();
    let mut enc_arms = TokenStream::new();
    let mut dec_chain = TokenStream::new();
    let mut from_chain = TokenStream::new();
    let mut raw_arms = TokenStream::new();
    let mut count_arms = TokenStream::new();
    let mut unknown: Option<(Ident, Type)> = None;
    // The declared values are constants of the catch-all's type (u32 in generated code): a
    // 16-bit enum may declare a value beyond 16 bits (MIDL accepts it, MS-FASP's
    // FW_RULE_STATUS_CLASS); encoding it fails at run time, as MIDL's stubs raise
    // RPC_X_ENUM_VALUE_OUT_OF_RANGE.
    let catch_all_ty = e
        .variants
        .iter()
        .find(|v| attrs::variant_attrs(&v.attrs).is_ok_and(|a| a.unknown))
        .and_then(|v| match &v.fields {
            Fields::Unnamed(u) if u.unnamed.len() == 1 => u.unnamed.first().map(|f| f.ty.clone()),
            _ => None,
        });
    let cty = match &catch_all_ty {
        Some(t) => quote!(#t),
        None => ty.clone(),
    };
    for (i, v) in e.variants.iter().enumerate() {
        let va = attrs::variant_attrs(&v.attrs)?;
        let vid = &v.ident;
        if va.unknown {
            if unknown.is_some() {
                return Err(syn::Error::new(
                    vid.span(),
                    "more than one #[ndr(unknown)] variant",
                ));
            }
            if let Some((_, d)) = &v.discriminant {
                return Err(syn::Error::new(
                    d.span(),
                    "the #[ndr(unknown)] catch-all holds its value in its field, not `= value`",
                ));
            }
            let field = match &v.fields {
                Fields::Unnamed(u) if u.unnamed.len() == 1 => u.unnamed.first(),
                _ => None,
            };
            let Some(field) = field else {
                return Err(syn::Error::new(
                    v.fields.span(),
                    "the #[ndr(unknown)] catch-all is a tuple variant with one integer field, e.g. `Unknown(u32)`",
                ));
            };
            if let Some(a) = field.attrs.iter().find(|a| a.path().is_ident("ndr")) {
                return Err(syn::Error::new(
                    a.span(),
                    "the catch-all's field takes no ndr attributes",
                ));
            }
            unknown = Some((vid.clone(), field.ty.clone()));
            continue;
        }
        if !matches!(v.fields, Fields::Unit) {
            return Err(syn::Error::new(
                v.fields.span(),
                "an NDR enum's variants are `Name = value`, plus one `#[ndr(unknown)] Unknown(u32)` catch-all",
            ));
        }
        let Some((_, d)) = &v.discriminant else {
            return Err(syn::Error::new(
                vid.span(),
                "NDR enum variants need explicit values (`Name = 1`)",
            ));
        };
        let cid = format_ident!("__V{}", i);
        consts.extend(quote! { const #cid: #cty = #d; });
        enc_arms.extend(quote! { #ident::#vid => u64::from(#cid), });
        count_arms.extend(quote! { #ident::#vid => u64::from(#cid), });
        raw_arms.extend(quote! { #ident::#vid => #cid, });
        dec_chain.extend(quote! {
            if __x == #cid {
                return ::core::result::Result::Ok(#ident::#vid);
            }
        });
        from_chain.extend(quote! {
            if __wide == u64::from(#cid) {
                return #ident::#vid;
            }
        });
    }
    let Some((uid, fty)) = unknown else {
        return Err(syn::Error::new(
            ident.span(),
            "an NDR enum is open: add a catch-all variant `#[ndr(unknown)] Unknown(u32)` for the values it does not name (peers send any value of the wire width)",
        ));
    };
    Ok(quote! {
        #[automatically_derived]
        impl ::msrpc_ndr::Ndr for #ident {
            const ALIGN: usize = #size;
            const ALIGN64: usize = 4;
            const WIRE_MIN: usize = #size;
            const SCALARS_ONLY: bool = true;
            fn encode_scalars(&self, __w: &mut ::msrpc_ndr::Writer) -> ::msrpc_ndr::EncodeResult {
                #consts
                let __wide: u64 = match self {
                    #enc_arms
                    #ident::#uid(__x) => <u64 as ::core::convert::From<#fty>>::from(*__x),
                };
                let __v: #ty = <#ty as ::core::convert::TryFrom<u64>>::try_from(__wide).map_err(|_| {
                    ::msrpc_ndr::EncodeError::EnumValueOutOfRange {
                        ty: #tyname,
                        value: __wide,
                        max: u64::from(#ty::MAX),
                    }
                })?;
                // MS-RPCE 2.2.5.2: NDR64 carries every enum as a 4-byte integer.
                if __w.is_ndr64() {
                    __w.u32(::core::convert::From::from(__v));
                } else {
                    #write(__v);
                }
                ::core::result::Result::Ok(())
            }
            fn decode_scalars(__r: &mut ::msrpc_ndr::Reader<'_>) -> ::msrpc_ndr::DecodeResult<Self> {
                #consts
                let __v: #ty = if __r.is_ndr64() {
                    let __wide = __r.u32().map_err(|__e| __e.in_type(#tyname))?;
                    <#ty as ::core::convert::TryFrom<u32>>::try_from(__wide).map_err(|_| {
                        __r.error(::msrpc_ndr::DecodeErrorKind::OutOfRange {
                            value: i128::from(__wide),
                            min: 0,
                            max: i128::from(#ty::MAX),
                        })
                        .in_type(#tyname)
                    })?
                } else {
                    #read.map_err(|__e| __e.in_type(#tyname))?
                };
                let __x = <#fty as ::core::convert::From<#ty>>::from(__v);
                #dec_chain
                ::core::result::Result::Ok(#ident::#uid(__x))
            }
        }

        /// The enum's wire value (so it can select a union arm in `switch_is`).
        #[automatically_derived]
        impl ::msrpc_ndr::NdrCount for #ident {
            fn ndr_count(&self) -> u64 {
                #consts
                match self {
                    #count_arms
                    #ident::#uid(__x) => <u64 as ::core::convert::From<#fty>>::from(*__x),
                }
            }
        }

        /// The named variant for a declared value, the catch-all for any other.
        #[automatically_derived]
        impl ::core::convert::From<#fty> for #ident {
            fn from(__x: #fty) -> Self {
                #consts
                let __wide = <u64 as ::core::convert::From<#fty>>::from(__x);
                #from_chain
                #ident::#uid(__x)
            }
        }

        /// The value (a named variant's declared value, the catch-all's held one).
        #[automatically_derived]
        impl ::core::convert::From<#ident> for #fty {
            fn from(__e: #ident) -> Self {
                #consts
                match __e {
                    #raw_arms
                    #ident::#uid(__x) => __x,
                }
            }
        }

        /// The value, for `range(lo, hi)` checks on a field of this type (MS-FASP's enums).
        #[automatically_derived]
        impl ::core::convert::From<#ident> for i128 {
            fn from(__e: #ident) -> Self {
                i128::from(<#fty as ::core::convert::From<#ident>>::from(__e))
            }
        }
    })
}
