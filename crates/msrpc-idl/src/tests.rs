//! Unit tests: one per construct (parsed, then lowered: the generated Rust is checked), and
//! the error messages (file:line:col, expected/found).

use crate::ast::*;
use crate::{compile_str, parse_str, ErrorKind, Options};

/// Lowers `body` inside an interface and returns the generated Rust without whitespace.
fn lower(body: &str) -> String {
    let src = format!("[uuid(12345678-1234-1234-1234-123456789abc), version(1.0), pointer_default(unique)]\ninterface t\n{{\n{body}\n}}\n");
    let ts = compile_str("t.idl", &src, &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    syn::parse2::<syn::File>(ts.clone()).unwrap();
    squash(&ts.to_string())
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect()
}

fn err(src: &str) -> crate::Error {
    compile_str("t.idl", src, &Options::default()).unwrap_err()
}

fn iface_err(body: &str) -> crate::Error {
    err(&format!(
        "[uuid(12345678-1234-1234-1234-123456789abc), version(1.0)]\ninterface t\n{{\n{body}\n}}\n"
    ))
}

fn has(out: &str, needle: &str) {
    assert!(
        out.contains(&squash(needle)),
        "missing {needle:?} in\n{out}"
    );
}

#[test]
fn echo_idl_lowers() {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/idl/rpcecho.idl"
    ))
    .unwrap();
    let ts = compile_str("rpcecho.idl", &src, &Options::default()).unwrap();
    let out = squash(&ts.to_string());
    has(
        &out,
        r#"#[::msrpc_macros::interface(uuid = "60a15ec5-4de8-11d7-a637-005056a20182", version = "1.0")] pub trait Rpcecho"#,
    );
    has(&out, "#[opnum(9)] fn echo_test_double_pointer");
}

#[test]
fn parses_interface_header_and_import() {
    let f = parse_str("t.idl", "import \"a.idl\", \"b.idl\";\n[uuid(12345678-1234-1234-1234-123456789abc), version(2.1), object, local,]\ninterface I : IUnknown { }", &[]).unwrap();
    assert_eq!(f.items.len(), 2);
    let Item::Import(v) = &f.items[0] else {
        panic!()
    };
    assert_eq!(
        v.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
        ["a.idl", "b.idl"]
    );
    let Item::Interface(i) = &f.items[1] else {
        panic!()
    };
    assert_eq!(i.base.as_deref(), Some("IUnknown"));
    assert_eq!(
        i.attrs.get("uuid").unwrap().args,
        [AttrArg::Text("12345678-1234-1234-1234-123456789abc".into())]
    );
    assert_eq!(
        i.attrs.get("version").unwrap().args,
        [AttrArg::Text("2.1".into())]
    );
    assert!(i.attrs.has("object") && i.attrs.has("local"));
}

#[test]
fn preprocessor_defines_and_conditionals() {
    let src = "#define N 4\n#define M (N * 2)\n#ifdef __midl\nconst long A = M;\n#else\nconst long A = 1;\n#endif\n#ifndef N\nconst long B = 0;\n#elif N > 3\nconst long B = 5;\n#endif\n#if defined(NOPE) || 0\nbroken\n#endif\ncpp_quote(\"#include <x.h>\")\n";
    let f = parse_str("t.idl", src, &[]).unwrap();
    let consts: Vec<(String, i128)> = f
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Const(_, n, e, _) => Some((
                n.clone(),
                crate::eval::eval(e, &|_| None, &|_| None).unwrap(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(consts, [("A".to_string(), 8), ("B".to_string(), 5)]);
}

#[test]
fn include_reads_a_sibling_file() {
    let dir = std::env::temp_dir().join(format!("msrpc-idl-inc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("inc.h"), "#define SIZE 16\n").unwrap();
    let f = parse_str(
        "t.idl",
        "#include \"inc.h\"\nconst long X = SIZE;\n",
        std::slice::from_ref(&dir),
    )
    .unwrap();
    assert!(matches!(&f.items[0], Item::Const(_, n, Expr::Int(16, _), _) if n == "X"));
    let e = parse_str("t.idl", "#include \"missing.h\"\n", &[dir]).unwrap_err();
    assert_eq!((e.line, e.col), (1, 1));
    assert!(e.to_string().contains("cannot find `missing.h`"), "{e}");
}

#[test]
fn base_types() {
    let out = lower("typedef struct { small a; unsigned small b; short c; unsigned short d; long e; unsigned long f; hyper g; unsigned hyper h; __int3264 i; unsigned __int3264 j; wchar_t k; byte l; boolean m; char n; float o; double p; error_status_t q; DWORD r; GUID s; } S;");
    has(&out, "pub a: i8");
    has(&out, "pub b: u8");
    has(&out, "pub c: i16");
    has(&out, "pub d: u16");
    has(&out, "pub e: i32");
    has(&out, "pub f: u32");
    has(&out, "pub g: i64");
    has(&out, "pub h: u64");
    // MS-RPCE 2.2.5.2.1: 4 bytes in NDR20, 8 in NDR64.
    has(&out, "pub i: ::msrpc_ndr::Int3264");
    has(&out, "pub j: ::msrpc_ndr::UInt3264");
    has(&out, "pub k: u16");
    has(&out, "pub l: u8");
    has(&out, "pub m: bool");
    has(&out, "pub n: u8");
    has(&out, "pub o: f32");
    has(&out, "pub p: f64");
    has(&out, "pub q: u32");
    has(&out, "pub r: u32");
    has(&out, "pub s: ::msrpc_ndr::Uuid");
}

#[test]
fn struct_names_fields_and_docs() {
    let out = lower("typedef struct _SHARE_INFO_0 { [string] wchar_t *shi0_netname; DWORD EntriesRead; } SHARE_INFO_0, *PSHARE_INFO_0;");
    has(&out, "#[derive(::msrpc_ndr::Ndr, Clone, Debug, PartialEq, Default)] #[doc = \" IDL `SHARE_INFO_0`.\"] pub struct ShareInfo0");
    has(
        &out,
        "#[ndr(string)] pub shi0_netname: ::msrpc_ndr::Unique<::std::string::String>",
    );
    has(&out, "pub entries_read: u32");
}

#[test]
fn arrays_conformant_varying_fixed() {
    let out = lower("typedef struct { DWORD n; DWORD l; [size_is(n), length_is(l)] DWORD *p; [size_is(n)] byte *q; [max_is(n)] byte *m; [length_is(l)] byte v[8]; [last_is(l)] byte w[8]; byte f[4]; [size_is(n)] short c[]; } A;");
    has(
        &out,
        r#"#[ndr(size_is = "n", length_is = "l")] pub p: ::msrpc_ndr::Unique<::std::vec::Vec<u32>>"#,
    );
    has(
        &out,
        r#"#[ndr(size_is = "n")] pub q: ::msrpc_ndr::Unique<::std::vec::Vec<u8>>"#,
    );
    has(
        &out,
        r#"#[ndr(size_is = "::msrpc_ndr::ndr_count(n).wrapping_add(1)")] pub m"#,
    );
    has(
        &out,
        r#"#[ndr(max = 8, length_is = "l")] pub v: ::std::vec::Vec<u8>"#,
    );
    has(
        &out,
        r#"#[ndr(max = 8, length_is = "::msrpc_ndr::ndr_count(l).wrapping_add(1)")] pub w"#,
    );
    has(&out, "pub f: [u8; 4]");
    has(&out, r#"#[ndr(size_is = "n")] pub c: ::std::vec::Vec<i16>"#);
}

#[test]
fn sizing_expressions_and_constants() {
    let out = lower("const long K = 2;\ntypedef struct { unsigned short Length; unsigned short MaximumLength; [size_is(MaximumLength / K), length_is(Length / 2)] WCHAR *Buffer; } U;");
    has(
        &out,
        r#"size_is = "::msrpc_ndr::ndr_count(maximum_length).checked_div(::msrpc_ndr::ndr_count(2u64)).unwrap_or(u64::MAX)""#,
    );
}

#[test]
fn multi_level_size_is_and_pointer_kinds() {
    let out = lower("void f([out] DWORD *count, [out, size_is(, *count)] DWORD **items, [in, unique] DWORD *opt, [in, ptr] DWORD *full, [in, ref] DWORD *r);");
    has(
        &out,
        r#"#[ndr(out, size_is = "count")] items: ::msrpc_ndr::Unique<::std::vec::Vec<u32>>"#,
    );
    has(&out, "#[ndr(in)] opt: ::core::option::Option<u32>");
    has(&out, "#[ndr(in)] full: ::core::option::Option<u32>");
    has(&out, "#[ndr(in)] r: u32");
    let out = lower("typedef struct { [ref] DWORD *a; [ptr] DWORD *b; DWORD *c; } P;");
    has(&out, "pub a: ::msrpc_ndr::Ref<u32>");
    has(&out, "pub b: ::msrpc_ndr::Full<u32>");
    has(&out, "pub c: ::msrpc_ndr::Unique<u32>");
}

#[test]
fn strings() {
    let out = lower("typedef struct { [string] char *a; [string] wchar_t b[16]; [string] LPWSTR c; } S;\nvoid f([in, string, unique] wchar_t *server, [in, string] char *name);");
    has(
        &out,
        r#"#[ndr(string = "char")] pub a: ::msrpc_ndr::Unique<::std::string::String>"#,
    );
    has(
        &out,
        "#[ndr(string, max = 16)] pub b: ::std::string::String",
    );
    has(
        &out,
        "#[ndr(string)] pub c: ::msrpc_ndr::Unique<::std::string::String>",
    );
    has(
        &out,
        "#[ndr(in, string)] server: ::core::option::Option<::std::string::String>",
    );
    has(
        &out,
        r#"#[ndr(in, string = "char")] name: ::std::string::String"#,
    );
}

#[test]
fn array_of_strings_gets_an_element_wrapper() {
    let out = lower("typedef struct { DWORD n; [size_is(n)] LPWSTR *names; } L;");
    has(
        &out,
        "pub struct LNamesItem(#[ndr(string)] pub ::msrpc_ndr::Unique<::std::string::String>);",
    );
    has(
        &out,
        r#"#[ndr(size_is = "n")] pub names: ::msrpc_ndr::Unique<::std::vec::Vec<LNamesItem>>"#,
    );
}

#[test]
fn unions_non_encapsulated_and_encapsulated() {
    let out = lower("typedef [switch_type(DWORD)] union _U { [case(1)] DWORD a; [case(2, 3)] [string] wchar_t *s; [case(4)] ; [default] ; } U;\ntypedef struct { DWORD level; [switch_is(level)] U u; } H;");
    has(&out, r#"#[ndr(switch_type = "u32")] pub enum U"#);
    has(&out, "#[ndr(case = 1)] A(u32)");
    has(
        &out,
        "#[ndr(case = 2)] S2(#[ndr(string)] ::msrpc_ndr::Unique<::std::string::String>)",
    );
    has(&out, "#[ndr(case = 3)] S3(");
    has(&out, "#[ndr(case = 4)] Case4");
    has(&out, "#[ndr(default)] Other(u32)");
    has(&out, r#"#[ndr(switch_is = "level")] pub u: U"#);
    let out = lower("typedef union _E switch (short kind) data { case 1: long a; case 2: case 3: hyper b; default: ; } E;");
    has(
        &out,
        r#"#[ndr(switch_type = "u16")] #[ndr(encapsulated)] pub enum E"#,
    );
    has(&out, "#[ndr(case = 2)] B2(i64)");
}

#[test]
fn union_switch_type_inferred_from_switch_is() {
    let out = lower("typedef struct { unsigned short level; [switch_is(level)] union { [case(1)] DWORD a; } u; } H;");
    has(&out, r#"#[ndr(switch_type = "u16")] pub enum HU"#);
    has(&out, r#"#[ndr(switch_is = "level")] pub u: HU"#);
}

#[test]
fn enums_16_and_32_bit() {
    let out = lower("typedef enum { COLOR_RED = 1, COLOR_GREEN, COLOR_BLUE = 0x10 } COLOR;\ntypedef [v1_enum] enum _W { W_A, W_B } W;");
    has(
        &out,
        "#[repr(u32)] pub enum Color { #[doc = \" IDL `COLOR_RED` = 1.\"] #[default] Red = 1,",
    );
    has(&out, "Green = 2,");
    has(&out, "Blue = 16,");
    has(&out, "#[ndr(unknown)] Unknown(u32)");
    has(&out, "#[ndr(v1_enum)] #[repr(u32)] pub enum W");
}

#[test]
fn range_and_context_handles() {
    let out = lower("typedef [context_handle] void *MY_HANDLE;\nDWORD Open([in, range(1, 64)] DWORD n, [out] MY_HANDLE *h, [in] PCONTEXT_HANDLE p, [in] handle_t b);");
    has(&out, "#[ndr(in, range(1, 64))] n: u32");
    has(&out, "#[ndr(out)] h: ::msrpc_ndr::ContextHandle");
    has(&out, "#[ndr(in)] p: ::msrpc_ndr::ContextHandle");
    assert!(!out.contains("b:"), "handle_t is not on the wire");
    has(&out, "-> u32;");
}

#[test]
fn handle_types_and_operation_attributes() {
    let out = lower("typedef [handle, string] wchar_t *SRV_HANDLE;\n[idempotent] DWORD A([in, unique] SRV_HANDLE server);\n[local] void L(void);\n[call_as(L)] DWORD RemoteL(void);\n");
    has(
        &out,
        "#[ndr(in, string)] server: ::core::option::Option<::std::string::String>",
    );
    has(&out, "#[doc = \" IDL attribute `[idempotent]`.\"]");
    has(&out, "#[opnum(1)] fn remote_l");
    assert!(!out.contains("fn l("), "[local] operations are left out");
}

#[test]
fn object_interfaces_are_orpc() {
    let src = "[object, uuid(00000131-0000-0000-C000-000000000046), pointer_default(unique)]\ninterface IRemUnknown : IUnknown { HRESULT RemAddRef([in] unsigned short n); }\n[object, uuid(00000143-0000-0000-C000-000000000046)]\ninterface IRemUnknown2 : IRemUnknown { HRESULT RemQI2([in] DWORD x); }";
    let out = squash(
        &compile_str("t.idl", src, &Options::default())
            .unwrap()
            .to_string(),
    );
    has(
        &out,
        r#"#[::msrpc_macros::interface(uuid = "00000131-0000-0000-c000-000000000046", version = "0.0", orpc)] pub trait IRemUnknown { #[doc = " IDL `RemAddRef` (opnum 3)."] #[opnum(3)] fn rem_add_ref(#[doc = " IDL `n`."] #[ndr(in)] n: u16);"#,
    );
    has(&out, "pub trait IRemUnknown2: IRemUnknown {");
    has(&out, "#[opnum(4)] fn rem_qi2");
}

#[test]
fn prelude_types_are_available() {
    let out = lower("void f([in] RPC_UNICODE_STRING *s, [out] FILETIME *t, [in] PRPC_SID sid);");
    has(&out, "pub struct RpcUnicodeString");
    has(&out, "pub struct Filetime");
    has(&out, "#[ndr(in)] sid: RpcSid");
}

// ------------------------------------------------------------------ unsupported constructs

/// Pipes (MS-EFSR's EFS_EXIM_PIPE) lower to `msrpc_ndr::Pipe<T>` parameters marked
/// `#[ndr(pipe)]`, by value or behind a [ref] pointer; anywhere else, behind a unique
/// pointer, or over elements a pipe may not carry, they are located errors.
#[test]
fn pipes_lower_to_pipe_parameters() {
    let f = parse_str("t.idl", "interface p { typedef pipe byte BYTE_PIPE; }", &[]).unwrap();
    let Item::Interface(i) = &f.items[0] else {
        panic!()
    };
    assert!(matches!(
        &i.items[0],
        Item::Typedef(Typedef {
            ty: TypeSpec::Pipe(..),
            ..
        })
    ));
    let out = lower(
        "typedef pipe unsigned char EFS_EXIM_PIPE;\ntypedef struct { short a; } S;\ntypedef pipe S S_PIPE;\n\
         long r([in] long h, [out] EFS_EXIM_PIPE *o);\nlong w([in] S_PIPE i, [in] long h);",
    );
    has(&out, "#[ndr(out, pipe)] o: ::msrpc_ndr::Pipe<u8>");
    has(&out, "#[ndr(in, pipe)] i: ::msrpc_ndr::Pipe<S>");
    for (body, col, msg) in [
        (
            "typedef pipe byte P;\ntypedef struct { P p; } T;",
            20,
            "never inside another type",
        ),
        (
            "typedef pipe byte P;\nvoid f([in, unique] P *p);",
            24,
            "[ref] pointer",
        ),
        (
            "typedef long *LP;\ntypedef pipe LP P;\nvoid f([in] P p);",
            15,
            "pipe's elements",
        ),
        (
            "typedef struct { [string] wchar_t *s; } E;\ntypedef pipe E P;\nvoid f([in] P p);",
            15,
            "pipe's elements",
        ),
    ] {
        let e = iface_err(body);
        assert!(e.message.contains(msg), "{body}: {e}");
        assert_eq!(e.col, col, "{body}: {e}");
    }
}

#[test]
fn embedded_conformant_structure_is_refused() {
    let e = iface_err("typedef struct { DWORD n; [size_is(n)] DWORD a[]; } C;\ntypedef struct { DWORD x; C c; } O;");
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert_eq!((e.line, e.col), (5, 29));
    assert!(e.message.contains("conformant structure embedded"), "{e}");
}

#[test]
fn first_is_is_refused() {
    let e =
        iface_err("typedef struct { DWORD f; DWORD n; [size_is(n), first_is(f)] DWORD *a; } F;");
    assert!(e.message.contains("first_is"), "{e}");
}

/// A union's `[default]` arm with a member (MS-LSAD's LSA_FOREST_TRUST_RECORD) lowers to a
/// variant holding the discriminant, then the member (bytes: msrpc-idl-echo's tests/gaps.rs).
#[test]
fn default_arm_with_a_member_lowers() {
    let out = lower(
        "typedef struct { [range(0, 131072)] unsigned long Length; [size_is(Length)] unsigned char *Buffer; } BIN;\n\
         typedef [switch_type(long)] union { [case(1)] long a; [default] BIN Data; } D;\n\
         typedef struct { long l; [switch_is(l)] D d; } E;",
    );
    has(&out, "#[ndr(default)] Data(u32, Bin)");
    has(&out, "#[ndr(case = 1)] A(i32)");
    // an empty default arm keeps its form
    let out = lower("typedef [switch_type(short)] union { [case(1)] long a; [default] ; } D;\ntypedef struct { short l; [switch_is(l)] D d; } E;");
    has(&out, "#[ndr(default)] Other(u16)");
}

/// Sizes naming a later parameter (SCMR, RPRN, NRPC, BKRP, C706 conv) lower to the same
/// attributes as earlier ones; the code generator defers their check on decode (the bytes:
/// msrpc-idl-echo's tests/gaps.rs). A parameter sizing itself is refused.
#[test]
fn sizes_naming_later_parameters_lower() {
    let out = lower(
        "typedef unsigned long DWORD;\n\
         DWORD f([in, unique, size_is(dwDependSize)] byte *lpDependencies, [in] DWORD dwDependSize,\n\
                 [out, size_is(, *pcbDataOut)] byte **ppDataOut, [out] DWORD *pcbDataOut,\n\
                 [out, length_is(*out_len), size_is(cb)] byte out_data[], [out] long *out_len, [in] DWORD cb);",
    );
    has(
        &out,
        "#[ndr(in, size_is = \"dw_depend_size\")] lp_dependencies: ::core::option::Option<::std::vec::Vec<u8>>",
    );
    has(
        &out,
        "#[ndr(out, size_is = \"pcb_data_out\")] pp_data_out: ::msrpc_ndr::Unique<::std::vec::Vec<u8>>",
    );
    has(
        &out,
        "#[ndr(out, size_is = \"cb\", length_is = \"out_len\")] out_data: ::std::vec::Vec<u8>",
    );
    // MS-RPRN's RpcEnumPrinterData: a byte count divided by sizeof(wchar_t), a later [in]
    let out = lower("void f([out, size_is(cbValueName / sizeof(wchar_t))] wchar_t *pValueName, [in] unsigned long cbValueName);");
    has(
        &out,
        "size_is = \"::msrpc_ndr::ndr_count(cb_value_name).checked_div(::msrpc_ndr::ndr_count(2u64)).unwrap_or(u64::MAX)\"",
    );
    let e = iface_err("void f([in, size_is(n)] byte *n);");
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert_eq!(e.line, 4);
}

/// A size taken from the referent of a `[unique]` pointer parameter (MS-RRP) lowers to the
/// parameter's name: an `Option` counts as its value, 0 when null (msrpc_ndr::NdrCount). A
/// structure member's size taken from a pointer member's referent is refused (its referent is
/// decoded in the deferred part, perhaps after the value it sizes).
#[test]
fn sizes_from_unique_pointer_referents() {
    let out = lower(
        "typedef unsigned long DWORD;\n\
         DWORD q([in, out, unique, size_is(lpcbData ? *lpcbData : 0), length_is(lpcbLen ? *lpcbLen : 0)] unsigned char *lpData,\n\
                 [in, out, unique] DWORD *lpcbData, [in, out, unique] DWORD *lpcbLen,\n\
                 [in, unique] DWORD *pcb, [in, unique, size_is(*pcb)] unsigned char *data);",
    );
    has(
        &out,
        "size_is = \"if ::msrpc_ndr::ndr_count(lpcb_data) != 0 { ::msrpc_ndr::ndr_count(lpcb_data) } else { ::msrpc_ndr::ndr_count(0u64) }\"",
    );
    has(&out, "lpcb_data: ::core::option::Option<u32>");
    has(
        &out,
        "#[ndr(in, size_is = \"pcb\")] data: ::core::option::Option<::std::vec::Vec<u8>>",
    );
    let e = iface_err(
        "typedef struct { [unique] unsigned long *pn; [size_is(*pn)] unsigned char *a; } S;",
    );
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(
        e.message.contains("referent of the pointer member `pn`"),
        "{e}"
    );
}

/// A structure's anonymous union member (MS-SCMR's SC_RPC_CONFIG_INFOW) is named `u` (then
/// `u2`, and `s` for a structure), as the Windows SDK's DUMMYUNIONNAME under NONAMELESSUNION.
#[test]
fn anonymous_union_members_are_named() {
    let out = lower(
        "typedef struct _CFG { unsigned long level; [switch_is(level)] union { [case(1)] unsigned long a; [case(2)] short b; }; \
         unsigned long u; [switch_is(level)] union { [case(1)] unsigned long c; [case(2)] short d; }; } CFG;",
    );
    has(&out, "#[ndr(switch_is = \"level\")] pub u2: CfgU2");
    has(&out, "#[ndr(switch_is = \"level\")] pub u3: CfgU3");
    has(&out, "pub u: u32");
}

/// A union whose `switch_is` is an expression over a sibling (MS-RPRN's PORT_CONTAINER:
/// `switch_is(0x00FFFFFF & Level)`) takes the sibling's width as its discriminant's; a C union
/// without `[case]` labels (MS-DTYP's EVENT_HEADER, local-only) is refused as such.
#[test]
fn switch_type_from_an_expression_and_c_unions() {
    let out = lower(
        "typedef struct _PC { unsigned long Level; [switch_is(0x00FFFFFF & Level)] union { [case(1)] unsigned long *p1; [case(0x00FFFFFF)] short *pff; } PortInfo; } PC;",
    );
    has(&out, "#[ndr(switch_type = \"u32\")] pub enum PcPortInfo");
    has(&out, "#[ndr(case = 16777215)] Pff(");
    // a C union without [case] labels no operation reaches: left out, with what it holds
    let eh = "typedef struct _EH { unsigned long a; union { struct { unsigned long k; unsigned long u; }; unsigned hyper t; }; } EH;";
    let out = lower(&format!(
        "{eh}\ntypedef struct _K {{ unsigned long k; }} K;"
    ));
    has(&out, "pub struct K");
    assert!(!out.contains("Eh"), "{out}");
    // reached by an operation (through a pointer): an error at the parameter naming the type
    let e = iface_err(&format!("{eh}\nvoid f([in] EH *p);"));
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert_eq!((e.line, e.col), (5, 17));
    assert!(e.message.contains("`EH` (defined at t.idl:4:9)"), "{e}");
    assert!(e.message.contains("C union without [case] labels"), "{e}");
}

/// A structure with a conformant array no size attribute sizes (MS-DRSR's ENCRYPTED_PAYLOAD,
/// `[size_is(*)] UCHAR EncryptedData[]`; MS-DTYP's `BYTE OctetString[]`) is a packet layout:
/// left out like a C union, an error where an operation reaches it.
#[test]
fn unsized_conformant_members_are_local_only() {
    let p = "typedef struct { unsigned char Salt[16]; unsigned long CheckSum; [size_is(*)] unsigned char EncryptedData[]; } EP;\n\
             typedef struct { unsigned long n; unsigned char Octets[]; } OS;\n\
             typedef struct { EP *p; } HOLDS;";
    let out = lower(&format!("{p}\nvoid g([in] long x);"));
    assert!(
        !out.contains("pubstructEp") && !out.contains("pubstructOs") && !out.contains("Holds"),
        "{out}"
    );
    let e = iface_err(&format!("{p}\nvoid f([in] HOLDS h);"));
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert_eq!(e.line, 7);
    assert!(e.message.contains("`HOLDS`"), "{e}");
}

/// `sizeof` of a typedef name in a `#define` or constant (MS-WKST's MAX_PASSWORDBLOB_SIZE):
/// base types and aliases of them, enums, GUIDs, pointers, fixed arrays and structures laid
/// out as C does; a type without a fixed size is an error at the `sizeof`.
#[test]
fn sizeof_typedef_names() {
    let out = lower(
        "typedef unsigned short WCHAR;\ntypedef struct { unsigned short a; hyper b; } P;\n\
         typedef struct { unsigned char c[3]; unsigned long *p; } Q;\n\
         typedef enum { E0 = 0 } E;\n\
         const unsigned long A = 8 + 256 * sizeof(WCHAR) + sizeof(unsigned long);\n\
         const unsigned long B = sizeof(P) * 100 + sizeof(Q) * 10 + sizeof(E);\n\
         const unsigned long C = sizeof(GUID) + sizeof(P *);\n\
         typedef struct { [range(0, A)] unsigned long n; [range(0, B)] unsigned long m; [range(0, C)] unsigned long k; } R;",
    );
    // 8 + 256 * 2 + 4; 16 * 100 + 8 * 10 + 4 (P: a short padded to 8, a hyper; Q: 3 bytes
    // padded to 4, a pointer); 16 + 4
    has(&out, "#[ndr(range(0, 524))] pub n: u32");
    has(&out, "#[ndr(range(0, 1684))] pub m: u32");
    has(&out, "#[ndr(range(0, 20))] pub k: u32");
    let e = iface_err("typedef struct { unsigned long n; [size_is(n)] unsigned char a[]; } V;\nconst long X = sizeof(V);");
    assert_eq!(e.kind, ErrorKind::Type);
    assert_eq!((e.line, e.col), (5, 12));
    assert!(e.message.contains("`sizeof(V)`"), "{e}");
}

/// An enumerator aliasing another's value (MS-NRPC's `ForestTrustRecordTypeLast =
/// ForestTrustDomainInfo`) is an associated constant named like the variants, allowed by name.
#[test]
fn enum_aliases_are_constants_named_like_variants() {
    let out = lower("typedef enum _T { A = 0, B = 2, Last = B } T;\ntypedef struct { T t; } S;");
    has(
        &out,
        "#[allow(non_upper_case_globals)] impl T { #[doc = \" IDL `Last` = 2.\"] pub const Last: u32 = 2; }",
    );
}

/// A sibling named by a Rust keyword (MS-ADTS' CLAIM_ENTRY `Type`) is `r#type` in sizing and
/// switch expressions; a member's own `switch_type` gives its union's discriminant (MS-DHCPM's
/// DHCP_SUBNET_ELEMENT_DATA); comparisons and `&&`/`||`/`!` in a sizing or switch expression
/// are 0 or 1, as in C.
#[test]
fn keyword_siblings_member_switch_types_and_comparisons() {
    let out = lower(
        "typedef enum _CT { CA = 1, CB = 2 } CT;\n\
         typedef struct _CE { CT Type; [switch_is(Type), switch_type(CT)] union { [case(1)] long a; [case(2)] short b; } Values; } CE;",
    );
    has(&out, "#[ndr(switch_is = \"r#type\")] pub values: CeValues");
    // an enum discriminant: 2 bytes in NDR20, 4 in NDR64 (MS-RPCE 2.2.5.2)
    has(&out, "#[ndr(switch_type = \"enum16\")] pub enum CeValues");
    has(&out, "pub r#type: Ct");
    let out = lower(
        "typedef struct _D { unsigned long T; [switch_is(((T <= 2) && !(T == 0)) ? 0 : T), switch_type(unsigned long)] \
         union { [case(0)] long a; [case(5)] short b; } E; } D;",
    );
    has(&out, "#[ndr(switch_type = \"u32\")] pub enum DE");
    has(
        &out,
        "u64::from(::msrpc_ndr::ndr_count(u64::from(::msrpc_ndr::ndr_count(t) <= ::msrpc_ndr::ndr_count(2u64))) != 0 && \
         ::msrpc_ndr::ndr_count(u64::from(::msrpc_ndr::ndr_count(u64::from(::msrpc_ndr::ndr_count(t) == ::msrpc_ndr::ndr_count(0u64))) == 0)) != 0)",
    );
}

// ------------------------------------------------------------------ error messages

#[test]
fn syntax_error_names_file_line_column_expected_found() {
    let e = err("interface x\n{\n    void f([in] long a)\n}\n");
    assert_eq!(e.kind, ErrorKind::Syntax);
    assert_eq!((e.line, e.col), (4, 1));
    assert_eq!(e.expected.as_deref(), Some("`;`"));
    assert_eq!(e.found.as_deref(), Some("`}`"));
    assert_eq!(
        e.to_string(),
        "t.idl:4:1: syntax error: expected `;`, found `}`"
    );
}

#[test]
fn lexer_and_preprocessor_errors_are_located() {
    let e = err("const long a = 1;\n/* never closed\n");
    assert_eq!((e.kind.clone(), e.line, e.col), (ErrorKind::Lex, 2, 1));
    assert!(
        e.to_string()
            .contains("unterminated comment: expected `*/`, found end of file"),
        "{e}"
    );
    let e = err("#ifdef X\nconst long a = 1;\n");
    assert_eq!((e.kind.clone(), e.line), (ErrorKind::Preprocessor, 1));
    assert!(e.to_string().contains("expected `#endif`"), "{e}");
    let e = err("const long a = 0x;\n");
    assert_eq!((e.line, e.col), (1, 16));
    assert!(e.to_string().contains("malformed number"), "{e}");
}

#[test]
fn undefined_names_are_type_errors() {
    let e = iface_err("typedef struct { NOPE x; } S;");
    assert_eq!(e.kind, ErrorKind::Type);
    assert_eq!((e.line, e.col), (4, 18));
    assert_eq!(e.found.as_deref(), Some("`NOPE`"));
    let e = iface_err("typedef struct { [size_is(count)] DWORD *p; } S;");
    assert_eq!(e.kind, ErrorKind::Type);
    assert!(e.message.contains("`count` in a sizing expression"), "{e}");
    let e = err("interface i { }");
    assert!(e.to_string().contains("has no uuid"), "{e}");
    let e = err("import \"nowhere.idl\";");
    assert!(
        e.to_string()
            .starts_with("t.idl:1:8: cannot find the imported file"),
        "{e}"
    );
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("const long a = {}1{};", "(".repeat(500), ")".repeat(500));
    let e = err(&deep);
    assert!(e.message.contains("nested more than"), "{e}");
    let mut src = String::new();
    for i in 0..40 {
        src.push_str(&format!("#define M{} M{}\n", i, i + 1));
    }
    src.push_str("const long a = M0;\n");
    let e = err(&src);
    assert!(
        e.message.contains("expands more than") || e.kind == ErrorKind::Type,
        "{e}"
    );
}

/// Two interfaces of one file naming an operation alike (MS-CMRP's clusapi2 and clusapi3) get
/// a module each, so their request and response types do not collide; without a shared name
/// they stay at the top.
#[test]
fn colliding_interfaces_get_a_module_each() {
    let two = |second_op: &str| {
        let src = format!(
            "[uuid(12345678-1234-1234-1234-123456789abc), version(2.0)] interface clusapi2 {{ long ApiOpenCluster([in] long a); }}\n\
             [uuid(12345678-1234-1234-1234-123456789abd), version(3.0)] interface clusapi3 {{ long {second_op}([in] long a); }}\n"
        );
        let ts = compile_str("t.idl", &src, &Options::default()).unwrap_or_else(|e| panic!("{e}"));
        syn::parse2::<syn::File>(ts.clone()).unwrap();
        squash(&ts.to_string())
    };
    let out = two("ApiOpenCluster");
    has(
        &out,
        "pub mod clusapi2 { #[allow(unused_imports)] use super::*;",
    );
    has(
        &out,
        "pub mod clusapi3 { #[allow(unused_imports)] use super::*;",
    );
    let out = two("ApiCloseCluster");
    assert!(!out.contains("pubmod"), "{out}");
}

/// An interface named as a type is an interface pointer (`ITypeInfo **ppTInfo`, a forward
/// declaration's name, `IUnknown *`, `[iid_is(riid)] void **`): a unique pointer to an
/// MInterfacePointer (MS-DCOM 2.2.14). An interface that inherits is a COM interface even
/// without `[object]` (MS-COMEV's `IEventSystemInitialize : IUnknown`); a `VOID` return (a
/// typedef of void) returns nothing.
#[test]
fn interface_pointers_and_inherited_com_interfaces() {
    let src = "typedef void VOID;\ninterface ITypeInfo;\n\
        [object, uuid(12345678-1234-1234-1234-123456789abc)] interface IDisp : IUnknown {\n\
          long GetTypeInfo([in] unsigned long i, [out] ITypeInfo **ppTInfo);\n\
          long Put([in] IUnknown *punk, [in] GUID *riid, [out, iid_is(riid)] void **ppv);\n\
        }\n\
        [uuid(12345678-1234-1234-1234-123456789abd)] interface IInit : IUnknown { long Init(); }\n\
        [uuid(12345678-1234-1234-1234-123456789abe), version(1.0)] interface plain { VOID NotUsed(); }\n";
    let ts = compile_str("t.idl", src, &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    let out = squash(&ts.to_string());
    has(
        &out,
        "#[ndr(out)] pp_t_info: ::msrpc_ndr::Unique<::msrpc_dcom::MInterfacePointer>",
    );
    has(
        &out,
        "#[ndr(in)] punk: ::msrpc_ndr::Unique<::msrpc_dcom::MInterfacePointer>",
    );
    has(
        &out,
        "#[ndr(out)] ppv: ::msrpc_ndr::Unique<::msrpc_dcom::MInterfacePointer>",
    );
    has(&out, "version = \"0.0\", orpc)] pub trait IInit");
    has(&out, "#[opnum(0)] fn not_used();");
    let e = iface_err("interface ITypeInfo;\nvoid f([in] ITypeInfo t);");
    assert_eq!(e.kind, ErrorKind::Type);
    assert!(e.message.contains("an interface by value"), "{e}");
}

/// ODL properties: `[propget]`/`[propput]`/`[propputref]` accessors share the property's
/// name, so their methods are `get_x`, `put_x`, `putref_x` (MIDL's C names); names that still
/// meet after snake_case (`_NewEnum` and `NewEnum`) get a number.
#[test]
fn property_accessors_and_names_that_meet() {
    let src =
        "[object, uuid(12345678-1234-1234-1234-123456789abc)] interface IProps : IUnknown {\n\
          [propget] long Name([out, retval] long *p);\n\
          [propput] long Name([in] long v);\n\
          [propget] long _NewEnum([out, retval] IUnknown **pp);\n\
          [propget] long NewEnum([out, retval] IUnknown **pp);\n\
        }\n";
    let ts = compile_str("t.idl", src, &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    let out = squash(&ts.to_string());
    has(&out, "#[opnum(3)] fn get_name(");
    has(&out, "#[opnum(4)] fn put_name(");
    has(&out, "#[opnum(5)] fn get_new_enum(");
    has(&out, "#[opnum(6)] fn get_new_enum2(");
}

/// A structure with a `void *` member that is neither a context handle nor an `[iid_is]`
/// interface pointer (MS-TSTS' `PVOID ProcessSid`, MS-RAIW's `LPVOID pPnr`) is local-only:
/// left out, and an error where an operation reaches it.
#[test]
fn void_pointer_members_are_local_only() {
    let t =
        "typedef void *PVOID;\ntypedef struct _PI { unsigned long Magic; PVOID ProcessSid; } PI;";
    let out = lower(&format!("{t}\nlong g([in] long x);"));
    assert!(!out.contains("pubstructPi"), "{out}");
    let e = iface_err(&format!("{t}\nlong f([in] PI *p);"));
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert_eq!(e.line, 6);
    assert!(
        e.message.contains("`PI`") && e.message.contains("`void *`"),
        "{e}"
    );
}

#[test]
fn a_typedefs_pointer_attribute_stays_on_its_own_pointer() {
    // C706's `[out] rpc_if_id_vector_p_t *if_id_vector`: the parameter's own pointer is [ref]
    // (no wire form), the typedef's [unique] pointer one referent id.
    let out = lower(
        "[uuid(12345678-1234-1234-1234-123456789abc), version(1.0), pointer_default(ptr)]\n\
         interface t {\n\
         typedef struct { long n; } V;\n\
         typedef [unique] V *PV;\n\
         typedef [ref] V *RV;\n\
         void a([out] PV *v);\n\
         void b([in] PV v);\n\
         void c([in, out] PV *v);\n\
         void d([out] V **v);\n\
         void e([in] RV *v);\n\
         }\n",
    );
    has(&out, "#[ndr(out)] v: ::msrpc_ndr::Unique<V>)");
    has(&out, "#[ndr(in)] v: ::core::option::Option<V>)");
    has(&out, "#[ndr(in, out)] v: ::msrpc_ndr::Unique<V>)");
    // without an attribute the inner pointer takes pointer_default
    has(&out, "#[ndr(out)] v: ::msrpc_ndr::Full<V>)");
    has(&out, "#[ndr(in)] v: ::msrpc_ndr::Ref<V>)");
}
