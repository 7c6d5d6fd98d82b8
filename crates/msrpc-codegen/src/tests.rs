//! Unit tests: attribute parsing, shapes, generated tokens and error messages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use proc_macro2::TokenStream;
use quote::quote;

use crate::attrs::{self, Charset, SwitchType};
use crate::shape::{self, Position, Shape};

fn field_attrs(ts: TokenStream, param: bool) -> syn::Result<attrs::FieldAttrs> {
    let f: syn::Field = syn::parse::Parser::parse2(syn::Field::parse_named, ts).unwrap();
    attrs::field_attrs(&f.attrs, param)
}

fn squash(ts: &TokenStream) -> String {
    ts.to_string().split_whitespace().collect::<String>()
}

fn derive(ts: TokenStream) -> syn::Result<String> {
    crate::derive_ndr(ts).map(|out| {
        // the output must be valid items
        syn::parse2::<syn::File>(out.clone()).unwrap();
        squash(&out)
    })
}

fn derive_err(ts: TokenStream) -> String {
    crate::derive_ndr(ts).unwrap_err().to_string()
}

fn iface(args: TokenStream, item: TokenStream) -> syn::Result<String> {
    crate::interface(args, item).map(|out| {
        syn::parse2::<syn::File>(out.clone()).unwrap();
        squash(&out)
    })
}

fn iface_err(item: TokenStream) -> String {
    crate::interface(quote!(uuid = "12345678-1234-1234-1234-123456789abc"), item)
        .unwrap_err()
        .to_string()
}

#[test]
fn parses_field_attributes() {
    let a = field_attrs(
        quote!(#[ndr(size_is = "len * 2", length_is = count, string = "char", max = 64, range(1, 10))] x: u8),
        false,
    )
    .unwrap();
    assert_eq!(
        squash(&quote::ToTokens::to_token_stream(
            a.size_is.as_ref().unwrap()
        )),
        "len*2"
    );
    assert_eq!(
        squash(&quote::ToTokens::to_token_stream(
            a.length_is.as_ref().unwrap()
        )),
        "count"
    );
    assert_eq!(a.string, Some(Charset::Char));
    assert!(a.max.is_some() && a.range.is_some());
    assert!(!a.is_plain());

    let a = field_attrs(quote!(#[ndr(in, out, unique)] #[ndr(string)] x: u8), true).unwrap();
    assert!(a.is_in && a.is_out && a.unique);
    assert_eq!(a.string, Some(Charset::Wide));
    let a = field_attrs(quote!(#[ndr(r#in, output)] x: u8), true).unwrap();
    assert!(a.is_in && a.is_out);
    let a = field_attrs(quote!(#[ndr(in_out)] x: u8), true).unwrap();
    assert!(a.is_in && a.is_out);
    assert!(field_attrs(quote!(x: u8), false).unwrap().is_plain());
}

#[test]
fn rejects_bad_field_attributes() {
    let e = field_attrs(quote!(#[ndr(size_is = "a", size_is = "b")] x: u8), false);
    assert!(e.err().unwrap().to_string().contains("duplicate `size_is`"));
    let e = field_attrs(quote!(#[ndr(sise_is = "a")] x: u8), false);
    assert!(e
        .err()
        .unwrap()
        .to_string()
        .contains("unknown ndr attribute `sise_is`"));
    // directions only on parameters
    let e = field_attrs(quote!(#[ndr(in)] x: u8), false);
    assert!(e.is_err());
    let e = field_attrs(quote!(#[ndr(string = "ebcdic")] x: u8), false);
    assert!(e
        .err()
        .unwrap()
        .to_string()
        .contains("unknown string charset"));
    let e = field_attrs(quote!(#[ndr(size_is = "len +")] x: u8), false);
    assert!(e.is_err());
    let e = field_attrs(quote!(#[ndr(range(1))] x: u8), false);
    assert!(e.is_err());
}

#[test]
fn parses_container_and_variant_attributes() {
    let item: syn::DeriveInput = syn::parse2(quote!(
        #[ndr(switch_type = "uint16", encapsulated)]
        enum U {
            A,
        }
    ))
    .unwrap();
    let c = attrs::container_attrs(&item.attrs).unwrap();
    assert_eq!(c.switch_type, Some(SwitchType::U16));
    assert!(c.encapsulated && !c.v1_enum);
    let item: syn::DeriveInput = syn::parse2(quote!(
        #[ndr(switch_type = "u64")]
        enum U {
            A,
        }
    ))
    .unwrap();
    assert!(attrs::container_attrs(&item.attrs).is_err());
    let v: syn::Variant = syn::parse2(quote!(
        #[ndr(case = LEVEL + 1)]
        A(u8)
    ))
    .unwrap();
    let va = attrs::variant_attrs(&v.attrs).unwrap();
    assert!(va.case.is_some() && !va.default && !va.unknown);
    let v: syn::Variant = syn::parse2(quote!(
        #[ndr(unknown)]
        Unknown(u32)
    ))
    .unwrap();
    let va = attrs::variant_attrs(&v.attrs).unwrap();
    assert!(va.unknown && va.case.is_none() && !va.default);
}

#[test]
fn classifies_shapes() {
    let ty = |t: TokenStream| -> syn::Type { syn::parse2(t).unwrap() };
    let plain = attrs::FieldAttrs::default();
    let sized = field_attrs(quote!(#[ndr(size_is = "n")] x: u8), false).unwrap();
    let cv = field_attrs(quote!(#[ndr(size_is = "n", length_is = "m")] x: u8), false).unwrap();
    let string = field_attrs(quote!(#[ndr(string)] x: u8), false).unwrap();
    let varying = field_attrs(quote!(#[ndr(string, max = 8)] x: u8), false).unwrap();

    let last = Position::Member { last: true };
    let mid = Position::Member { last: false };
    assert!(matches!(
        shape::classify(&ty(quote!(Vec<u8>)), &sized, last).unwrap(),
        Shape::Conformant {
            size_is: true,
            length_is: false,
            ..
        }
    ));
    assert!(matches!(
        shape::classify(&ty(quote!(Vec<u8>)), &cv, last).unwrap(),
        Shape::Conformant {
            size_is: true,
            length_is: true,
            ..
        }
    ));
    assert!(matches!(
        shape::classify(&ty(quote!(Unique<Vec<u8>>)), &sized, mid).unwrap(),
        Shape::Ptr { inner, .. } if matches!(*inner, Shape::Conformant { .. })
    ));
    assert!(matches!(
        shape::classify(&ty(quote!(msrpc_ndr::Ref<String>)), &string, mid).unwrap(),
        Shape::Ptr { inner, .. } if matches!(*inner, Shape::Str { max: None, .. })
    ));
    assert!(matches!(
        shape::classify(&ty(quote!(String)), &varying, mid).unwrap(),
        Shape::Str { max: Some(_), .. }
    ));
    assert!(matches!(
        shape::classify(&ty(quote!(Unique<Unique<u16>>)), &plain, mid).unwrap(),
        Shape::Plain { .. }
    ));
    assert!(matches!(
        shape::classify(&ty(quote!(Vec<u8>)), &plain, Position::TopLevel).unwrap(),
        Shape::Plain { .. }
    ));
    assert!(matches!(
        shape::classify(&ty(quote!(Option<u32>)), &plain, Position::TopLevel).unwrap(),
        Shape::Opt { .. }
    ));

    let err = |t: TokenStream, a: &attrs::FieldAttrs, p: Position| {
        shape::classify(&ty(t), a, p).err().unwrap().to_string()
    };
    assert!(err(quote!(Vec<u8>), &sized, mid).contains("must be the last field"));
    assert!(err(quote!(Vec<u8>), &plain, mid).contains("embedded Vec needs"));
    assert!(err(quote!(String), &string, mid).contains("embedded String needs `max"));
    assert!(err(quote!(Option<u8>), &plain, mid).contains("Option<T> is only a top-level"));
    assert!(err(quote!(Vec<u8>), &string, Position::TopLevel).contains("`string` applies"));
    assert!(err(quote!(u32), &sized, mid).contains("apply to Vec<T>"));
    // a full pointer's referent takes attributes as a unique pointer's does
    assert!(matches!(
        shape::classify(&ty(quote!(Full<Vec<u8>>)), &sized, mid).unwrap(),
        Shape::Ptr { kind: shape::PtrKind::Full, inner, .. } if matches!(*inner, Shape::Conformant { .. })
    ));
}

#[test]
fn expression_names_skip_fields_of_other_values() {
    let e: syn::Expr = syn::parse_str("len * 2 + other.count + f(x)").unwrap();
    let names: Vec<String> = shape::expr_names(&e).into_iter().collect();
    assert_eq!(names, ["f", "len", "other", "x"]);
}

#[test]
fn struct_tokens() {
    let out = derive(quote! {
        struct Twr {
            tag: u16,
            tower_length: u32,
            #[ndr(size_is = "tower_length")]
            tower_octet_string: Vec<u8>,
        }
    })
    .unwrap();
    assert!(out.contains("impl::msrpc_ndr::NdrforTwr"));
    // max_count hoisted before the structure's alignment
    let hoist = out
        .find("__w.count(__max,\"tower_octet_string\")?;")
        .unwrap();
    let align = out
        .find("__w.align(<Selfas::msrpc_ndr::Ndr>::align_in(__w.syntax()));")
        .unwrap();
    assert!(hoist < align);
    // NDR64 pads the structure to its alignment after its scalars (MS-RPCE 2.2.5.3.4.1)
    let trailer = out
        .find("__w.trailer_align(<Selfas::msrpc_ndr::Ndr>::ALIGN64);")
        .unwrap();
    assert!(align < trailer);
    assert!(out.contains("::msrpc_ndr::array::check_len(\"tower_octet_string\",__size_is"));
    assert!(out.contains("lettower_length=&self.tower_length;"));
    assert!(out.contains("__r.field(\"Twr\",\"tower_octet_string\",::msrpc_ndr::Reader::count)"));
    assert!(out.contains("::msrpc_ndr::array::decode_elements_scalars::<u8>(__r,__max)"));
    assert!(out.contains("constALIGN64:usize="));
    assert!(out.contains("::msrpc_ndr::array::check_count(__r,__size_is,__max)"));
    assert!(out.contains("constALIGN:usize=::msrpc_ndr::max_align(<u16as::msrpc_ndr::Ndr>::ALIGN"));
    // the buffers phase is skipped for types without pointers
    assert!(out.contains("fnencode_buffers(&self,__w:&mut::msrpc_ndr::Writer)->::msrpc_ndr::EncodeResult{if<Selfas::msrpc_ndr::Ndr>::SCALARS_ONLY{return"));

    let out = derive(quote! {
        struct P {
            n: u32,
            #[ndr(size_is = "n")]
            data: Unique<Vec<u16>>,
        }
    })
    .unwrap();
    assert!(out.contains("::msrpc_ndr::Unique::encode_pointer(&self.data,__w)?;"));
    assert!(out.contains("::msrpc_ndr::array::encode_conformant(__v,::core::option::Option::Some(__size_is),\"data\",__w)?;"));
    assert!(out.contains("fndecode_buffers"));
    assert!(out.contains("(self.data).decode_referent_with(__r,|__r|"));
}

#[test]
fn union_and_enum_tokens() {
    let out = derive(quote! {
        #[ndr(switch_type = "u16")]
        enum Info {
            #[ndr(case = 1)]
            A(u8),
            #[ndr(case = 2)]
            B,
            #[ndr(default)]
            Other(u16),
        }
    })
    .unwrap();
    assert!(out.contains("impl::msrpc_ndr::NdrUnionforInfo"));
    assert!(out.contains("const__CASE0:u16=1;"));
    assert!(out.contains("let__d:u16=__r.u16()?;"));
    assert!(out.contains("Self::Other(__d)=>u64::from(*__d)"));
    assert!(out.contains("__r.nested("));
    assert!(out.contains("::core::result::Result::Ok(Self::Other(__d))"));
    assert!(!out.contains("UnknownDiscriminant"));

    let out = derive(quote! {
        #[ndr(switch_type = "u8", encapsulated)]
        enum E { #[ndr(case = 1)] A(u32) }
    })
    .unwrap();
    assert!(out.contains("__w.u8(__CASE0);if__w.is_ndr64(){__w.align("));
    assert!(out.contains("UnknownDiscriminant"));

    let out = derive(quote! {
        #[ndr(v1_enum)]
        #[repr(u32)]
        enum E { A = 1, B = 0x10000, #[ndr(unknown)] Unknown(u32) }
    })
    .unwrap();
    assert!(out.contains("constALIGN:usize=4usize"));
    assert!(out.contains("const__V0:u32=1;const__V1:u32=0x10000;"));
    // the declared values are constants of the catch-all's type, narrowed to the wire's on encode
    assert!(out.contains("let__wide:u64=matchself{E::A=>u64::from(__V0),E::B=>u64::from(__V1),E::Unknown(__x)=><u64as::core::convert::From<u32>>::from(*__x),};"));
    assert!(out.contains("<u32as::core::convert::TryFrom<u64>>::try_from(__wide)"));
    assert!(out.contains(
        "EncodeError::EnumValueOutOfRange{ty:\"E\",value:__wide,max:u64::from(u32::MAX),}"
    ));
    assert!(out.contains("__w.u32(__v);"));
    // decoding never refuses a value: a declared one is its variant, any other the catch-all
    assert!(out.contains("if__x==__V1{return::core::result::Result::Ok(E::B);}"));
    assert!(out.contains("let__x=<u32as::core::convert::From<u32>>::from(__v);"));
    assert!(out.contains("::core::result::Result::Ok(E::Unknown(__x))"));
    assert!(!out.contains("Err(__r.error"));
    assert!(out.contains("impl::msrpc_ndr::NdrCountforE"));
    assert!(out.contains("E::Unknown(__x)=><u64as::core::convert::From<u32>>::from(*__x),"));
    assert!(out.contains("impl::core::convert::From<u32>forE"));
    assert!(out.contains("if__wide==u64::from(__V0){returnE::A;}"));
    assert!(out.contains("impl::core::convert::From<E>foru32"));
    assert!(out.contains("E::Unknown(__x)=>__x,"));

    // 16-bit by default; the catch-all may be as wide as the wire (u16) or wider (u32)
    let out = derive(quote! { #[repr(u16)] enum E { A = 1, #[ndr(unknown)] Other(u16) } }).unwrap();
    assert!(out.contains("constALIGN:usize=2usize"));
    assert!(out.contains("let__v:u16=if__r.is_ndr64(){"));
    assert!(out.contains("}else{__r.u16()"));
    // NDR64 carries it in 4 bytes (MS-RPCE 2.2.5.2); a value beyond 16 bits is refused there
    assert!(out.contains("<u16as::core::convert::TryFrom<u32>>::try_from(__wide)"));
    assert!(out.contains("constALIGN64:usize=4;"));
    assert!(out.contains("<u16as::core::convert::TryFrom<u64>>::try_from(__wide)"));
    assert!(out.contains("let__x=<u16as::core::convert::From<u16>>::from(__v);"));
    assert!(out.contains("const__V0:u16=1;"));
    assert!(out.contains("impl::core::convert::From<u16>forE"));
    let out = derive(quote! { #[repr(u16)] enum E { A = 1, #[ndr(unknown)] U(u32) } }).unwrap();
    assert!(out.contains("max:u64::from(u16::MAX)"));
    assert!(out.contains("let__x=<u32as::core::convert::From<u16>>::from(__v);"));
    // a catch-all alone is an enum too
    let out = derive(quote! { enum E { #[ndr(unknown)] U(u32) } }).unwrap();
    assert!(out.contains("::core::result::Result::Ok(E::U("));
}

/// A union's default arm with a member (MS-LSAD's `[default] LSA_FOREST_TRUST_BINARY_DATA
/// Data;`): `Data(u32, T)`, the discriminant then the member, written and read like a case
/// arm's member for any discriminant no case names. Bytes: msrpc-macros' tests/union_default_arm.rs.
#[test]
fn union_default_arm_with_a_member() {
    let out = derive(quote! {
        enum Record {
            #[ndr(case = 1)]
            A(u16),
            #[ndr(default)]
            Data(u32, Binary),
        }
    })
    .unwrap();
    for frag in [
        "Self::Data(__d,_)=>u64::from(*__d),",
        // encode: the discriminant must name no case, then the member's scalars
        "Self::Data(__d,__v)=>{if*__d==__CASE0{return::core::result::Result::Err(::msrpc_ndr::EncodeError::DefaultArmNamesACase{ty:\"Record\",discriminant:u64::from(*__d),});}__w.u32(*__d);",
        "::msrpc_ndr::Ndr::encode_scalars(&(*__v),__w)?;",
        "Self::Data(_,__v)=>{::msrpc_ndr::Ndr::encode_buffers(&(*__v),__w)?;}",
        // decode: no case matched, the member with the discriminant read
        "let__x=__r.field(\"Record\",\"Data\",<Binaryas::msrpc_ndr::Ndr>::decode_scalars)?;::core::result::Result::Ok(Self::Data(__d,__x))",
        "Self::Data(_,__v)=>{__r.field(\"Record\",\"Data\",|__r|::msrpc_ndr::Ndr::decode_buffers(&mut(*__v),__r))}",
        // the member counts for the arms' alignment
        "<Binaryas::msrpc_ndr::Ndr>::ALIGN64",
    ] {
        assert!(out.contains(frag), "missing {frag}");
    }
    assert!(!out.contains("UnknownDiscriminant"));
    // the empty default arm refuses a case's discriminant too
    let out = derive(quote! {
        enum E { #[ndr(case = 1)] A(u16), #[ndr(case = 2)] B, #[ndr(default)] Other(u32) }
    })
    .unwrap();
    assert!(out.contains("if*__d==__CASE0||*__d==__CASE1{"));
    // shapes the default arm does not take
    for bad in [
        quote!(
            enum E {
                #[ndr(case = 1)]
                A(u16),
                #[ndr(default)]
                D,
            }
        ),
        quote!(
            enum E {
                #[ndr(case = 1)]
                A(u16),
                #[ndr(default)]
                D(u32, u8, u8),
            }
        ),
        quote!(
            enum E {
                #[ndr(case = 1)]
                A(u16),
                #[ndr(default)]
                D(#[ndr(range(0, 1))] u32, u8),
            }
        ),
    ] {
        assert!(
            derive_err(bad).contains("`Other(u16)` or `Data(u16, T)`"),
            "accepted"
        );
    }
}

#[test]
fn derive_errors() {
    assert!(derive_err(quote!(
        struct G<T> {
            t: T,
        }
    ))
    .contains("generic"));
    assert!(derive_err(quote!(union U { a: u8 })).contains("Rust unions"));
    assert!(derive_err(quote!(
        enum E {
            A,
            B,
        }
    ))
    .contains("explicit values"));
    assert!(derive_err(quote!(
        enum U {
            #[ndr(case = 1)]
            A(u8),
            B(u16),
        }
    ))
    .contains("exactly one of"));
    assert!(derive_err(quote!(
        enum U {
            #[ndr(case = 1)]
            A(u8, u8),
        }
    ))
    .contains("one field"));
    assert!(derive_err(quote!(
        enum U {
            #[ndr(default)]
            A,
        }
    ))
    .contains("carries the discriminant"));
    assert!(derive_err(quote!(
        enum U {
            #[ndr(default)]
            A(u32),
            #[ndr(default)]
            B(u32),
        }
    ))
    .contains("more than one default"));
    // NDR enums are open: exactly one catch-all, a tuple variant with one plain field
    assert!(derive_err(quote!(
        enum E {
            A = 1,
            B = 2,
        }
    ))
    .contains("an NDR enum is open"));
    assert!(derive_err(quote!(
        #[ndr(v1_enum)]
        enum E {
            A,
        }
    ))
    .contains("explicit values"));
    assert!(derive_err(quote!(
        enum E {
            A = 1,
            #[ndr(unknown)]
            U(u32),
            #[ndr(unknown)]
            V(u32),
        }
    ))
    .contains("more than one #[ndr(unknown)]"));
    for catch_all in [quote!(U), quote!(U(u16, u16)), quote!(U { v: u32 })] {
        assert!(
            derive_err(quote!(enum E { A = 1, #[ndr(unknown)] #catch_all }))
                .contains("a tuple variant with one integer field"),
            "{catch_all}"
        );
    }
    assert!(derive_err(quote!(
        enum E {
            A = 1,
            #[ndr(unknown)]
            U(#[ndr(range(0, 9))] u32),
        }
    ))
    .contains("takes no ndr attributes"));
    assert!(derive_err(quote!(
        #[repr(u32)]
        enum E {
            A = 1,
            #[ndr(unknown)]
            U(u32) = 7,
        }
    ))
    .contains("not `= value`"));
    assert!(derive_err(quote!(
        #[repr(u32)]
        enum E {
            A = 1,
            B(u8),
            #[ndr(unknown)]
            U(u32),
        }
    ))
    .contains("plus one `#[ndr(unknown)]"));
    assert!(derive_err(quote!(
        enum U {
            #[ndr(case = 1)]
            A(u8),
            #[ndr(unknown)]
            B(u32),
        }
    ))
    .contains("a union's is its #[ndr(default)] arm"));
    assert!(derive_err(quote!(
        #[ndr(v1_enum)]
        enum U {
            #[ndr(case = 1)]
            A(u8),
        }
    ))
    .contains("v1_enum applies to NDR enums, not unions"));
    assert!(derive_err(quote!(
        enum E {
            #[ndr(unknwon)]
            U(u32),
        }
    ))
    .contains("expected case, default or unknown"));
    assert!(derive_err(quote!(
        #[ndr(v1_enum)]
        struct S {
            a: u8,
        }
    ))
    .contains("apply to enums"));
    assert!(derive_err(quote!(
        struct S {
            #[ndr(size_is = "n")]
            a: Vec<u8>,
            n: u32,
        }
    ))
    .contains("must be the last field"));
}

#[test]
fn uuid_and_interface_arguments() {
    assert_eq!(
        crate::parse_uuid("60a15ec5-4de8-11d7-a637-005056a20182"),
        Some(0x60a15ec5_4de8_11d7_a637_005056a20182)
    );
    assert_eq!(crate::parse_uuid("60a15ec54de811d7a637005056a20182"), None);
    assert_eq!(
        crate::parse_uuid("60a15ec5-4de8-11d7-a637-005056a2018g"),
        None
    );
    let a = crate::interface::parse_args(quote!(
        uuid = "e1af8308-5d1f-11c9-91a4-08002b14a0fa",
        version = "3.1"
    ))
    .unwrap();
    assert_eq!((a.major, a.minor), (3, 1));
    assert!(crate::interface::parse_args(quote!(version = "1.0")).is_err());
    assert!(crate::interface::parse_args(quote!(uuid = "x")).is_err());
    assert!(crate::interface::parse_args(quote!(
        uuid = "e1af8308-5d1f-11c9-91a4-08002b14a0fa",
        version = "a.b"
    ))
    .is_err());
}

#[test]
fn interface_tokens() {
    let out = iface(
        quote!(uuid = "60a15ec5-4de8-11d7-a637-005056a20182", version = "1.0"),
        quote! {
            /// Echo.
            pub trait Rpcecho {
                #[opnum(0)]
                fn add_one(#[ndr(in)] in_data: u32, #[ndr(out)] out_data: u32);
                #[opnum(3)]
                fn source_data(#[ndr(in)] len: u32, #[ndr(out, size_is = "len")] data: Vec<u8>) -> u32;
            }
        },
    )
    .unwrap();
    for frag in [
        "pubstructAddOneRequest{",
        "pubin_data:u32,",
        "pubstructAddOneResponse{",
        "pubstructSourceDataResponse{",
        "pubresult:u32,",
        "pubconstOPNUM:u16=3u16;",
        "pubtraitRpcecho:::core::marker::Send+::core::marker::Sync+'static",
        "fnadd_one(&self,ctx:&::msrpc_proto::dispatch::CallContext,req:AddOneRequest,)->impl::core::future::Future<",
        "pubstructRpcechoServer<S>",
        "impl<S:Rpcecho>::msrpc_proto::dispatch::DispatchforRpcechoServer<S>",
        "pubstructRpcechoClient<C>",
        "pubstructRpcechoInterface;",
        "constNAME:&'staticstr=\"Rpcecho\";",
        "&[::core::option::Option::Some(\"add_one\"),::core::option::Option::None,::core::option::Option::None,::core::option::Option::Some(\"source_data\")]",
        // the response's size_is names the request's len, passed as an argument
        "pubfnencode(&self,__w:&mut::msrpc_ndr::Writer,len:&u32)",
        "letlen=&*len;",
        "let__in_len=::core::clone::Clone::clone(&__req.len);",
        "DispatchError::OpnumOutOfRange(__other)",
        "DispatchError::BadStub",
        "pubasyncfnsource_data(&self,req:SourceDataRequest,)",
        "::msrpc_ndr::array::encode_conformant(&self.data,::core::option::Option::Some(__size_is),\"data\",__w)?;",
    ] {
        assert!(out.contains(frag), "missing {frag}");
    }
}

/// A size naming a later parameter (`[in, size_is(cb)] BYTE *p, [in] DWORD cb`, SCMR's
/// `lpDependencies`/`dwDependSize`; C706 conv's `out_data`/`*out_len` in a response): encoding
/// evaluates it from the value as ever; decoding reads the array with the wire's counts,
/// stores them and checks them once the later parameter is decoded (pidl's deferred
/// `ndr_check_array_size`). Byte-level checks: msrpc-macros' tests/later_params.rs.
#[test]
fn sizes_naming_later_parameters_are_checked_after_them() {
    let out = iface(
        quote!(
            uuid = "60a15ec5-4de8-11d7-a637-005056a20182",
            version = "1.0"
        ),
        quote! {
            pub trait T {
                #[opnum(0)]
                fn put(
                    #[ndr(in, size_is = "cb")] p: Vec<u8>,
                    #[ndr(in, unique, size_is = "cb2", length_is = "cb")] q: Option<Vec<u16>>,
                    #[ndr(in, string, size_is = "cb2")] s: String,
                    #[ndr(in)] cb: u32,
                    #[ndr(in)] cb2: u32,
                    #[ndr(out, size_is = "max", length_is = "*n")] data: Vec<u8>,
                    #[ndr(in)] max: u32,
                    #[ndr(out)] n: u32,
                );
            }
        },
    )
    .unwrap();
    for frag in [
        // request: p read with its wire count, stored
        "letmut__seen_size_0:::core::option::Option<u64>=::core::option::Option::None;",
        "letp=__r.field(\"PutRequest\",\"p\",|__r|match::msrpc_ndr::array::decode_conformant::<u8>(__r,::core::option::Option::None)",
        "__seen_size_0=::core::option::Option::Some(__x.len()asu64);",
        // q: a unique pointer to a conformant-varying array, max_count and actual_count kept
        "letmut__seen_size_1:",
        "letmut__seen_len_1:",
        "match__r.count(){::core::result::Result::Ok(__m)=>{__seen_size_1=::core::option::Option::Some(__m);",
        // s: a [string] with its max_count
        "::msrpc_ndr::string::decode_wide_counted(__r)",
        // then, after cb and cb2, the checks
        "letcb2=",
        "__r.field(\"PutRequest\",\"p\",|__r|{ifletSome(__m)=__seen_size_0{::msrpc_ndr::array::check_count(__r,{letcb=&cb;::msrpc_ndr::ndr_count(cb)},__m)?;}",
        "ifletSome(__n)=__seen_len_1{::msrpc_ndr::array::check_count(__r,{letcb=&cb;::msrpc_ndr::ndr_count(cb)},__n)?;}",
        // encoding is unchanged: the value's own fields
        "::msrpc_ndr::array::encode_conformant(&self.p,::core::option::Option::Some(__size_is),\"p\",__w)?;",
        // response: data's length from the later [out] n (self.n when encoding), max from the request
        "pubfnencode(&self,__w:&mut::msrpc_ndr::Writer,max:&u32)",
        "letn=&self.n;",
        "letmut__seen_len_5:",
        "ifletSome(__n)=__seen_len_5{::msrpc_ndr::array::check_count(__r,{letn=&n;::msrpc_ndr::ndr_count(*n)},__n)?;}",
    ] {
        let frag: String = frag.split_whitespace().collect();
        let frag = frag.replace("ifletSome(", "iflet::core::option::Option::Some(");
        assert!(out.contains(&frag), "missing {frag}");
    }
    // the check comes after the later parameter's decode
    let read_cb = out.find("letcb={__r.field(").unwrap();
    let check = out.find("__seen_size_0{").unwrap();
    assert!(check > read_cb);
}

#[test]
fn orpc_interfaces_get_orpcthis_orpcthat_and_the_hresult() {
    let out = iface(
        quote!(
            uuid = "bf30c0af-df87-42e5-ab32-930938b49417",
            version = "0.0",
            orpc
        ),
        quote! {
            pub trait Calculator {
                #[opnum(3)]
                fn add(#[ndr(in)] a: i32, #[ndr(in)] b: i32, #[ndr(out)] sum: i32);
            }
        },
    )
    .unwrap();
    for frag in [
        "pubstructAddRequest{",
        "puborpcthis:::msrpc_dcom::OrpcThis,#[doc=\"`[in]`parameter`a`.\"]puba:i32,",
        "puborpcthat:::msrpc_dcom::OrpcThat,#[doc=\"`[out]`parameter`sum`.\"]pubsum:i32,",
        "pubresult:::msrpc_dcom::HResult,",
    ] {
        assert!(out.contains(frag), "missing {frag} in {out}");
    }
    let a =
        crate::interface::parse_args(quote!(uuid = "bf30c0af-df87-42e5-ab32-930938b49417", orpc))
            .unwrap();
    assert!(a.orpc);
    for (item, why) in [
        (
            quote!(
                trait T {
                    #[opnum(2)]
                    fn f(#[ndr(in)] a: u32);
                }
            ),
            "opnums 0-2",
        ),
        (
            quote!(
                trait T {
                    #[opnum(3)]
                    fn f(#[ndr(in)] a: u32) -> u32;
                }
            ),
            "leave the return type out",
        ),
        (
            quote!(
                trait T {
                    #[opnum(3)]
                    fn f(#[ndr(in)] orpcthis: u32);
                }
            ),
            "remove this parameter",
        ),
    ] {
        let e = iface(
            quote!(uuid = "bf30c0af-df87-42e5-ab32-930938b49417", orpc),
            item,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(why), "{e}");
    }
}

#[test]
fn interface_errors() {
    assert!(iface_err(quote!(
        trait T {
            fn f(#[ndr(in)] a: u32);
        }
    ))
    .contains("#[opnum(N)]"));
    assert!(iface_err(quote!(
        trait T {
            #[opnum(0)]
            fn f(a: u32);
        }
    ))
    .contains("direction"));
    assert!(iface_err(quote!(
        trait T {
            #[opnum(0)]
            fn f(&self);
        }
    ))
    .contains("no `self`"));
    assert!(iface_err(quote!(
        trait T {
            #[opnum(0)]
            fn f();
            #[opnum(0)]
            fn g();
        }
    ))
    .contains("already used by `f`"));
    assert!(iface_err(quote!(
        trait T {
            #[opnum(0)]
            fn f(#[ndr(in, size_is = "n")] a: Vec<u8>, #[ndr(out)] n: u32);
        }
    ))
    .contains("[out]-only"));
    // a size naming a later parameter is a deferred check (below); one naming itself is not
    assert!(iface_err(quote!(
        trait T {
            #[opnum(0)]
            fn f(#[ndr(in, size_is = "a")] a: Vec<u8>);
        }
    ))
    .contains("`a` sizes or selects itself"));
    assert!(iface_err(quote!(
        trait T {
            #[opnum(0)]
            fn f(#[ndr(out, length_is = "a", size_is = "4")] a: Vec<u8>);
        }
    ))
    .contains("`a` sizes or selects itself"));
    assert!(iface_err(quote!(
        trait T {
            #[opnum(0)]
            fn f(#[ndr(in)] result: u32);
        }
    ))
    .contains("reserved"));
    assert!(iface_err(quote!(
        trait T {
            #[opnum(0)]
            fn f(#[ndr(in, unique)] a: u32);
        }
    ))
    .contains("Option<T>"));
    assert!(iface_err(quote!(
        trait T {
            const X: u32;
        }
    ))
    .contains("only operations"));
    assert!(iface_err(quote!(
        trait T {
            #[opnum(0)]
            fn f() {}
        }
    ))
    .contains("without a body"));
}

#[test]
fn inheriting_interfaces() {
    let out = iface(
        quote!(
            uuid = "00000143-0000-0000-c000-000000000046",
            version = "0.0"
        ),
        quote! {
            pub trait RemUnknown2: crate::remunknown::RemUnknown {
                #[opnum(6)]
                fn rem_query_interface2(#[ndr(in)] n: u32);
            }
        },
    )
    .unwrap();
    for frag in [
        // the base is a supertrait, with no run-down hook of its own
        "pubtraitRemUnknown2:crate::remunknown::RemUnknown+::core::marker::Send",
        // unknown opnums go to the base's dispatcher, the run-down to the base's
        "__other=>{crate::remunknown::RemUnknownInterface::__dispatch(service,ctx,stub,drep,syntax,limits).await}",
        "crate::remunknown::RemUnknownInterface::__rundown(service,assoc_group_id)",
        // the operation table merges the base's, and a redefined opnum fails to compile
        "<crate::remunknown::RemUnknownInterfaceas::msrpc_proto::dispatch::Interface>::OPERATIONS;",
        "::msrpc_proto::dispatch::inherit_operations::<__LEN>(__BASE,__OWN)",
        "::msrpc_proto::dispatch::opnums_disjoint(",
        // the client wraps the base's, built with the derived syntax
        "base:crate::remunknown::RemUnknownClient<C>,",
        "impl<C>::core::ops::DerefforRemUnknown2Client<C>",
        "crate::remunknown::RemUnknownClient::__with_syntax(invoke,<RemUnknown2Interfaceas::msrpc_proto::dispatch::Interface>::SYNTAX,)",
    ] {
        assert!(out.contains(frag), "missing {frag} in {out}");
    }
    assert!(
        !out.contains("let_=assoc_group_id;"),
        "no run-down hook of its own"
    );
    // a root interface keeps its hook and ends its dispatch with OpnumOutOfRange
    let root = iface(
        quote!(
            uuid = "00000131-0000-0000-c000-000000000046",
            version = "0.0",
            orpc
        ),
        quote! {
            pub trait RemUnknown {
                #[opnum(3)]
                fn f(#[ndr(in)] n: u32);
            }
        },
    )
    .unwrap();
    for frag in [
        "fnrundown(&self,assoc_group_id:u32){let_=assoc_group_id;}",
        "DispatchError::OpnumOutOfRange(__other)",
        "syntax:<RemUnknownInterfaceas::msrpc_proto::dispatch::Interface>::SYNTAX,",
        // orpc interfaces are COM interfaces
        "impl::msrpc_dcom::ComInterfaceforRemUnknownInterface",
        "RemUnknownClient::new(invoke).with_object(ipid.0)",
    ] {
        assert!(root.contains(frag), "missing {frag} in {root}");
    }
    for (item, why) in [
        (
            quote!(
                trait T: A + B {
                    #[opnum(0)]
                    fn f();
                }
            ),
            "inherits from one interface",
        ),
        (
            quote!(
                trait T: A<u32> {
                    #[opnum(0)]
                    fn f();
                }
            ),
            "inherits from one interface",
        ),
        (
            quote!(
                trait T: 'static {
                    #[opnum(0)]
                    fn f();
                }
            ),
            "inherits from one interface",
        ),
        (
            quote!(
                trait T: ?Sized {
                    #[opnum(0)]
                    fn f();
                }
            ),
            "inherits from one interface",
        ),
        (
            quote!(
                trait T: A {
                    #[opnum(0)]
                    fn rundown();
                }
            ),
            "run-down hook",
        ),
    ] {
        let e = iface_err(item);
        assert!(e.contains(why), "{e}");
    }
}

/// `#[ndr(pipe)]` parameters move: `[in]` pipes after the other `[in]` parameters, `[out]`
/// pipes before the other `[out]` ones (C706 chapter 14's pipes), in the encode order and the
/// request and response fields alike; a pipe takes no sizing attribute.
#[test]
fn pipe_parameters_take_their_wire_places() {
    let out = iface(
        quote!(uuid = "12345678-1234-1234-1234-123456789abc"),
        quote! {
            pub trait P {
                #[opnum(0)]
                fn f(
                    #[ndr(in, pipe)] a: ::msrpc_ndr::Pipe<u8>,
                    #[ndr(in)] b: u32,
                    #[ndr(out)] c: u32,
                    #[ndr(out, pipe)] d: ::msrpc_ndr::Pipe<u16>,
                ) -> u32;
            }
        },
    )
    .unwrap();
    let req = out.find("pubstructFRequest").unwrap();
    let (b, a) = (
        out[req..].find("pubb:").unwrap(),
        out[req..].find("puba:").unwrap(),
    );
    assert!(b < a, "{out}");
    let resp = out.find("pubstructFResponse").unwrap();
    let (d, c) = (
        out[resp..].find("pubd:").unwrap(),
        out[resp..].find("pubc:").unwrap(),
    );
    assert!(d < c, "{out}");
    let enc = out
        .find("fnencode(&self,__w:&mut::msrpc_ndr::Writer)")
        .unwrap();
    let (eb, ea) = (
        out[enc..].find("self.b").unwrap(),
        out[enc..].find("self.a").unwrap(),
    );
    assert!(eb < ea, "{out}");
    let e = iface_err(quote! {
        pub trait P {
            #[opnum(0)]
            fn f(#[ndr(in, pipe, size_is = "n")] a: ::msrpc_ndr::Pipe<u8>, #[ndr(in)] n: u32);
        }
    });
    assert!(e.contains("takes no sizing"), "{e}");
}

/// An operation named by a keyword (`r#type`, lowered from MS-DCOM files' `Type` methods)
/// names its types without the `r#`.
#[test]
fn raw_identifier_operations() {
    let out = iface(
        quote!(uuid = "12345678-1234-1234-1234-123456789abc"),
        quote! {
            pub trait K {
                #[opnum(0)]
                fn r#type(#[ndr(in)] r#in: u32) -> u32;
            }
        },
    )
    .unwrap();
    assert!(out.contains("pubstructTypeRequest"), "{out}");
    assert!(out.contains("pubstructTypeResponse"), "{out}");
}
