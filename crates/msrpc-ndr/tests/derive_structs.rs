//! `#[derive(Ndr)]` on structures: alignment, pointer deferral, arrays, conformant structures,
//! strings and context handles, as byte literals in both byte orders (C706 chapter 14).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use msrpc_ndr::{
    ContextHandle, DataRep, DecodeError, DecodeErrorKind, DecodeLimits, EncodeError, Full, Ndr,
    Ref, Unique, Uuid,
};
use proptest::prelude::*;

const LE: DataRep = DataRep::LITTLE_ENDIAN;
const BE: DataRep = DataRep::BIG_ENDIAN;

fn enc<T: Ndr>(v: &T, d: DataRep) -> Vec<u8> {
    msrpc_ndr::to_bytes(v, d).unwrap()
}

fn dec<T: Ndr>(b: &[u8], d: DataRep) -> Result<T, DecodeError> {
    msrpc_ndr::from_bytes(b, d, DecodeLimits::DEFAULT)
}

fn roundtrip<T: Ndr + PartialEq + std::fmt::Debug>(v: &T, le: &[u8], be: &[u8]) {
    assert_eq!(enc(v, LE), le, "little-endian encoding");
    assert_eq!(enc(v, BE), be, "big-endian encoding");
    assert_eq!(&dec::<T>(le, LE).unwrap(), v);
    assert_eq!(&dec::<T>(be, BE).unwrap(), v);
}

#[derive(Ndr, Debug, Clone, PartialEq)]
struct Prims {
    a: u8,
    b: u32,
    c: u16,
    d: u64,
    e: i8,
}

#[test]
fn primitives_with_alignment_padding() {
    assert_eq!(<Prims as Ndr>::ALIGN, 8);
    assert_eq!(<Prims as Ndr>::WIRE_MIN, 16);
    const { assert!(<Prims as Ndr>::SCALARS_ONLY) };
    const { assert!(!<Outer as Ndr>::SCALARS_ONLY) };
    let v = Prims {
        a: 0x11,
        b: 0x2233_4455,
        c: 0x6677,
        d: 0x0102_0304_0506_0708,
        e: -2,
    };
    #[rustfmt::skip]
    let le = [
        0x11, 0, 0, 0,                                  // a + 3 padding
        0x55, 0x44, 0x33, 0x22,                         // b
        0x77, 0x66, 0, 0, 0, 0, 0, 0,                   // c + 6 padding (d aligns to 8)
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // d
        0xfe,                                           // e
    ];
    #[rustfmt::skip]
    let be = [
        0x11, 0, 0, 0,                                  // a + 3 padding
        0x22, 0x33, 0x44, 0x55,                         // b
        0x66, 0x77, 0, 0, 0, 0, 0, 0,                   // c + padding
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // d
        0xfe,                                           // e
    ];
    roundtrip(&v, &le, &be);
}

#[derive(Ndr, Debug, Clone, PartialEq, Default)]
struct Inner {
    x: u32,
    p: Unique<u16>,
}

#[derive(Ndr, Debug, Clone, PartialEq)]
struct Outer {
    a: Unique<Inner>,
    b: Unique<Inner>,
    c: u16,
}

#[test]
fn embedded_pointers_defer_referents_depth_first() {
    let v = Outer {
        a: Unique::new(Inner {
            x: 1,
            p: Unique::new(2),
        }),
        b: Unique::new(Inner {
            x: 3,
            p: Unique::null(),
        }),
        c: 5,
    };
    #[rustfmt::skip]
    let le = [
        // Outer's scalars first
        0x00, 0x00, 0x02, 0x00, // a: referent id 0x20000
        0x04, 0x00, 0x02, 0x00, // b: referent id 0x20004
        0x05, 0x00, 0, 0,       // c + padding
        // then a's referent in full (its own pointer's referent before b's referent)
        0x01, 0, 0, 0,          // a->x
        0x08, 0x00, 0x02, 0x00, // a->p: referent id 0x20008
        0x02, 0x00, 0, 0,       // *a->p + padding
        // then b's referent
        0x03, 0, 0, 0,          // b->x
        0, 0, 0, 0,             // b->p: null
    ];
    #[rustfmt::skip]
    let be = [
        0x00, 0x02, 0x00, 0x00, // a
        0x00, 0x02, 0x00, 0x04, // b
        0x00, 0x05, 0, 0,       // c
        0, 0, 0, 0x01,          // a->x
        0x00, 0x02, 0x00, 0x08, // a->p
        0x00, 0x02, 0, 0,       // *a->p
        0, 0, 0, 0x03,          // b->x
        0, 0, 0, 0,             // b->p
    ];
    roundtrip(&v, &le, &be);
}

#[derive(Ndr, Debug, Clone)]
struct Ptrs {
    r: Ref<u32>,
    f1: Full<u32>,
    f2: Full<u32>,
    f3: Full<u32>,
}

#[test]
fn ref_and_full_pointers() {
    let shared = Arc::new(0x0a0b_0c0du32);
    let v = Ptrs {
        r: Ref::new(7),
        f1: Full::from_arc(shared.clone()),
        f2: Full::from_arc(shared),
        f3: Full::null(),
    };
    #[rustfmt::skip]
    let le = [
        0x00, 0x00, 0x02, 0x00, // r: referent id
        0x04, 0x00, 0x02, 0x00, // f1: referent id 0x20004
        0x04, 0x00, 0x02, 0x00, // f2: the same id (aliases f1)
        0, 0, 0, 0,             // f3: null
        0x07, 0, 0, 0,          // *r
        0x0d, 0x0c, 0x0b, 0x0a, // *f1, written once
    ];
    assert_eq!(enc(&v, LE), le);
    let back: Ptrs = dec(&le, LE).unwrap();
    assert_eq!(*back.r, 7);
    let (a, b) = (back.f1.get().unwrap(), back.f2.get().unwrap());
    assert!(Arc::ptr_eq(a, b));
    assert_eq!(**a, 0x0a0b_0c0d);
    assert!(back.f3.is_null());

    // a [ref] pointer's id is not looked at: a zero one still has its referent
    let mut zero = le;
    zero[..4].copy_from_slice(&[0, 0, 0, 0]);
    let back: Ptrs = dec(&zero, LE).unwrap();
    assert_eq!(*back.r, 7);
    assert_eq!(enc(&back, LE), le);
}

#[derive(Ndr, Debug, Clone, PartialEq)]
struct Arrays {
    fixed: [u16; 3],
    count: u32,
    #[ndr(max = 8, length_is = "count")]
    var: Vec<u16>,
    n: u32,
    #[ndr(size_is = "n")]
    conf: Unique<Vec<u32>>,
    #[ndr(size_is = "n", length_is = "count")]
    cv: Unique<Vec<u16>>,
}

#[test]
fn fixed_varying_conformant_and_conformant_varying_arrays() {
    let v = Arrays {
        fixed: [1, 2, 3],
        count: 2,
        var: vec![7, 8],
        n: 3,
        conf: Unique::new(vec![10, 11, 12]),
        cv: Unique::new(vec![5, 6]),
    };
    #[rustfmt::skip]
    let le = [
        1, 0, 2, 0, 3, 0, 0, 0, // fixed[3] + padding
        2, 0, 0, 0,             // count
        0, 0, 0, 0,             // var: offset
        2, 0, 0, 0,             // var: actual_count
        7, 0, 8, 0,             // var: elements
        3, 0, 0, 0,             // n
        0x00, 0x00, 0x02, 0x00, // conf: referent id
        0x04, 0x00, 0x02, 0x00, // cv: referent id
        3, 0, 0, 0,             // *conf: max_count
        10, 0, 0, 0, 11, 0, 0, 0, 12, 0, 0, 0, // *conf: elements
        3, 0, 0, 0,             // *cv: max_count (size_is n)
        0, 0, 0, 0,             // *cv: offset
        2, 0, 0, 0,             // *cv: actual_count (length_is count)
        5, 0, 6, 0,             // *cv: elements
    ];
    #[rustfmt::skip]
    let be = [
        0, 1, 0, 2, 0, 3, 0, 0, // fixed
        0, 0, 0, 2,             // count
        0, 0, 0, 0,             // var offset
        0, 0, 0, 2,             // var actual
        0, 7, 0, 8,             // var elements
        0, 0, 0, 3,             // n
        0x00, 0x02, 0x00, 0x00, // conf id
        0x00, 0x02, 0x00, 0x04, // cv id
        0, 0, 0, 3,             // max
        0, 0, 0, 10, 0, 0, 0, 11, 0, 0, 0, 12,
        0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 2, // cv counts
        0, 5, 0, 6,
    ];
    roundtrip(&v, &le, &be);

    // Encoding refuses inconsistent counts instead of writing them.
    let mut bad = v.clone();
    bad.n = 4;
    assert!(matches!(
        msrpc_ndr::to_bytes(&bad, LE),
        Err(EncodeError::CountMismatch {
            field: "conf",
            expected: 4,
            actual: 3
        })
    ));
    let mut bad = v.clone();
    bad.var.push(9);
    assert!(matches!(
        msrpc_ndr::to_bytes(&bad, LE),
        Err(EncodeError::CountMismatch { field: "var", .. })
    ));
    // Decoding checks counts against the sizing fields.
    let mut wrong = le;
    wrong[24] = 4; // n = 4, but *conf's max_count is 3
    let e = dec::<Arrays>(&wrong, LE).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::CountMismatch {
            expected: 4,
            found: 3
        }
    );
    assert_eq!(e.path(), "Arrays.conf");
    let mut wrong = le;
    wrong[16] = 9; // var actual_count 9 > max 8
    let e = dec::<Arrays>(&wrong, LE).unwrap_err();
    assert!(matches!(
        e.kind,
        DecodeErrorKind::VarianceBeyondConformance { .. }
    ));
    assert_eq!(e.path(), "Arrays.var");
}

#[derive(Ndr, Debug, Clone, PartialEq)]
struct Conf {
    tag: u16,
    len: u32,
    #[ndr(size_is = "len")]
    data: Vec<u16>,
}

#[derive(Ndr, Debug, Clone, PartialEq)]
struct ConfVar {
    size: u32,
    len: u32,
    #[ndr(size_is = "size", length_is = "len")]
    data: Vec<u8>,
}

#[test]
fn conformant_structures_hoist_max_count() {
    let v = Conf {
        tag: 9,
        len: 3,
        data: vec![1, 2, 3],
    };
    #[rustfmt::skip]
    let le = [
        3, 0, 0, 0,       // data's max_count, hoisted to the front
        9, 0, 0, 0,       // tag + padding
        3, 0, 0, 0,       // len
        1, 0, 2, 0, 3, 0, // data
    ];
    #[rustfmt::skip]
    let be = [0, 0, 0, 3, 0, 9, 0, 0, 0, 0, 0, 3, 0, 1, 0, 2, 0, 3];
    roundtrip(&v, &le, &be);

    // len disagrees with the hoisted max_count
    let mut wrong = le;
    wrong[8] = 2;
    let e = dec::<Conf>(&wrong, LE).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::CountMismatch {
            expected: 2,
            found: 3
        }
    );
    assert_eq!(e.path(), "Conf.data");
    let bad = Conf { len: 2, ..v };
    assert!(matches!(
        msrpc_ndr::to_bytes(&bad, LE),
        Err(EncodeError::CountMismatch {
            field: "data",
            expected: 2,
            actual: 3
        })
    ));

    let v = ConfVar {
        size: 4,
        len: 2,
        data: vec![0xaa, 0xbb],
    };
    #[rustfmt::skip]
    let le = [
        4, 0, 0, 0, // max_count (size_is), hoisted
        4, 0, 0, 0, // size
        2, 0, 0, 0, // len
        0, 0, 0, 0, // offset
        2, 0, 0, 0, // actual_count (length_is)
        0xaa, 0xbb, // data
    ];
    #[rustfmt::skip]
    let be = [0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0xaa, 0xbb];
    roundtrip(&v, &le, &be);
}

#[derive(Ndr, Debug, Clone, PartialEq)]
struct Item {
    id: u16,
    #[ndr(string)]
    name: Unique<String>,
}

#[derive(Ndr, Debug, Clone, PartialEq)]
struct List {
    count: u32,
    #[ndr(size_is = "count")]
    items: Vec<Item>,
}

#[test]
fn arrays_of_structures_with_pointers() {
    let v = List {
        count: 2,
        items: vec![
            Item {
                id: 1,
                name: Unique::new("ab".into()),
            },
            Item {
                id: 2,
                name: Unique::null(),
            },
        ],
    };
    #[rustfmt::skip]
    let le = [
        2, 0, 0, 0,             // items' max_count (hoisted)
        2, 0, 0, 0,             // count
        1, 0, 0, 0,             // items[0].id + padding
        0x00, 0x00, 0x02, 0x00, // items[0].name: referent id
        2, 0, 0, 0,             // items[1].id + padding
        0, 0, 0, 0,             // items[1].name: null
        3, 0, 0, 0,             // *items[0].name: max_count
        0, 0, 0, 0,             // offset
        3, 0, 0, 0,             // actual_count
        b'a', 0, b'b', 0, 0, 0, // "ab\0" in UTF-16LE
    ];
    #[rustfmt::skip]
    let be = [
        0, 0, 0, 2, 0, 0, 0, 2,
        0, 1, 0, 0, 0x00, 0x02, 0x00, 0x00,
        0, 2, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 3,
        0, b'a', 0, b'b', 0, 0,
    ];
    roundtrip(&v, &le, &be);

    let mut bad = le;
    bad[40] = b'c'; // the terminator is gone
    let e = dec::<List>(&bad, LE).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::UnterminatedString);
    assert_eq!(e.path(), "List.items[0].name");
}

#[derive(Ndr, Debug, Clone, PartialEq)]
struct Strs {
    #[ndr(string)]
    w: Unique<String>,
    #[ndr(string = "char")]
    c: Ref<String>,
    #[ndr(string = "char", max = 8)]
    fixed: String,
}

#[test]
fn wide_and_char_strings() {
    let v = Strs {
        w: Unique::new("hi".into()),
        c: Ref::new("ok".into()),
        fixed: "ab".into(),
    };
    #[rustfmt::skip]
    let le = [
        0x00, 0x00, 0x02, 0x00, // w: referent id
        0x04, 0x00, 0x02, 0x00, // c: referent id
        0, 0, 0, 0,             // fixed: offset
        3, 0, 0, 0,             // fixed: actual_count
        b'a', b'b', 0, 0,       // fixed: "ab\0" + padding
        3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, // *w: max, offset, actual
        b'h', 0, b'i', 0, 0, 0, 0, 0,       // *w: "hi\0" UTF-16LE + padding
        3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, // *c: max, offset, actual
        b'o', b'k', 0,          // *c: "ok\0"
    ];
    #[rustfmt::skip]
    let be = [
        0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x04,
        0, 0, 0, 0, 0, 0, 0, 3, b'a', b'b', 0, 0,
        0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 3,
        0, b'h', 0, b'i', 0, 0, 0, 0,
        0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 3,
        b'o', b'k', 0,
    ];
    roundtrip(&v, &le, &be);

    let mut bad = le;
    bad[54] = b'!';
    let e = dec::<Strs>(&bad, LE).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::UnterminatedString);
    assert_eq!(e.path(), "Strs.c");

    let too_long = Strs {
        fixed: "12345678".into(),
        ..v.clone()
    };
    assert!(matches!(
        msrpc_ndr::to_bytes(&too_long, LE),
        Err(EncodeError::TooLong("fixed"))
    ));
}

#[derive(Ndr, Debug, Clone, PartialEq)]
struct Ranged {
    #[ndr(range(1, 10))]
    level: u32,
    #[ndr(range(-5, 5))]
    delta: i16,
}

#[test]
fn range_is_checked_both_ways() {
    let ok = Ranged {
        level: 10,
        delta: -5,
    };
    assert_eq!(enc(&ok, LE), [10, 0, 0, 0, 0xfb, 0xff]);
    assert_eq!(dec::<Ranged>(&[10, 0, 0, 0, 0xfb, 0xff], LE).unwrap(), ok);
    let e = dec::<Ranged>(&[11, 0, 0, 0, 0, 0], LE).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::OutOfRange {
            value: 11,
            min: 1,
            max: 10
        }
    );
    assert_eq!(e.path(), "Ranged.level");
    let bad = Ranged { level: 0, delta: 0 };
    assert_eq!(
        msrpc_ndr::to_bytes(&bad, LE),
        Err(EncodeError::OutOfRange("level"))
    );
}

#[derive(Ndr, Debug, Clone, PartialEq)]
struct WithHandle {
    op: u16,
    handle: ContextHandle,
}

#[derive(Ndr, Debug, Clone, PartialEq)]
struct Newtype(u32, u16);

#[test]
fn context_handles_and_tuple_structs() {
    let v = WithHandle {
        op: 1,
        handle: ContextHandle {
            attributes: 0,
            uuid: Uuid::from_u128(0x00112233_4455_6677_8899_aabbccddeeff),
        },
    };
    #[rustfmt::skip]
    let le = [
        1, 0, 0, 0,             // op + padding
        0, 0, 0, 0,             // handle attributes
        0x33, 0x22, 0x11, 0x00, // uuid time_low
        0x55, 0x44,             // time_mid
        0x77, 0x66,             // time_hi_and_version
        0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, // clock_seq, node
    ];
    #[rustfmt::skip]
    let be = [
        0, 1, 0, 0, 0, 0, 0, 0,
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
        0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    ];
    roundtrip(&v, &le, &be);
    roundtrip(&Newtype(1, 2), &[1, 0, 0, 0, 2, 0], &[0, 0, 0, 1, 0, 2]);
}

#[derive(Ndr, Debug, Clone, PartialEq, Default)]
struct Twr {
    tower_length: u32,
    #[ndr(size_is = "tower_length")]
    tower_octet_string: Vec<u8>,
}

#[derive(Ndr, Debug, Clone, PartialEq)]
struct EptEntry {
    object: Uuid,
    tower: Unique<Twr>,
    #[ndr(string = "char", max = 64)]
    annotation: String,
}

#[test]
fn error_paths_name_nested_fields() {
    let v = EptEntry {
        object: Uuid::nil(),
        tower: Unique::new(Twr {
            tower_length: 4,
            tower_octet_string: vec![1, 2, 3, 4],
        }),
        annotation: String::new(),
    };
    let bytes = enc(&v, LE);
    #[rustfmt::skip]
    let expected = [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // object
        0x00, 0x00, 0x02, 0x00, // tower: referent id
        0, 0, 0, 0,             // annotation: offset
        1, 0, 0, 0,             // annotation: actual_count
        0, 0, 0, 0,             // annotation: "\0" + padding
        4, 0, 0, 0,             // *tower: max_count (hoisted)
        4, 0, 0, 0,             // tower_length
        1, 2, 3, 4,             // tower_octet_string
    ];
    assert_eq!(bytes, expected);
    let e = dec::<EptEntry>(&bytes[..bytes.len() - 1], LE).unwrap_err();
    assert!(matches!(
        e.kind,
        DecodeErrorKind::CountBeyondData { count: 4, .. }
    ));
    assert_eq!(e.path(), "EptEntry.tower.tower_octet_string");
    assert!(e
        .to_string()
        .starts_with("EptEntry.tower.tower_octet_string: count 4 needs"));
    // An empty annotation without any terminator (what Windows sends) is accepted.
    let mut windows = expected.to_vec();
    windows[24] = 0; // actual_count 0
    windows.drain(28..32); // no characters, no padding
    assert_eq!(dec::<EptEntry>(&windows, LE).unwrap(), v);
}

#[derive(Ndr, Debug, Clone, PartialEq, Default)]
struct Node {
    v: u8,
    next: Unique<Node>,
}

#[test]
fn limits_refuse_before_allocating() {
    // A count beyond max_elements.
    #[rustfmt::skip]
    let huge = [
        0xff, 0xff, 0xff, 0xff, // items' max_count: 4 Gi
        0xff, 0xff, 0xff, 0xff, // count
    ];
    let e = dec::<List>(&huge, LE).unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::CountLimit { .. }), "{e}");
    assert_eq!(e.path(), "List.items");
    // A count within the limit that the remaining bytes cannot hold.
    let beyond = [0x00, 0x10, 0, 0, 0x00, 0x10, 0, 0, 1, 2, 3, 4];
    let e = dec::<List>(&beyond, LE).unwrap_err();
    assert!(
        matches!(e.kind, DecodeErrorKind::CountBeyondData { count: 4096, .. }),
        "{e}"
    );
    // An allocation budget.
    let limits = DecodeLimits {
        max_alloc_bytes: 16,
        ..DecodeLimits::DEFAULT
    };
    let v = Conf {
        tag: 0,
        len: 64,
        data: vec![0; 64],
    };
    let e = msrpc_ndr::from_bytes::<Conf>(&enc(&v, LE), LE, limits).unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::AllocLimit { .. }), "{e}");

    // Deep nesting of unique pointers.
    let mut node = Node::default();
    for i in 0..100u8 {
        node = Node {
            v: i,
            next: Unique::new(node),
        };
    }
    let bytes = enc(&node, LE);
    let e = dec::<Node>(&bytes, LE).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::DepthLimit { limit: 64 });
    assert!(e.path().starts_with("Node.next.next"));
    let roomy = DecodeLimits {
        max_depth: 128,
        ..DecodeLimits::DEFAULT
    };
    assert_eq!(
        msrpc_ndr::from_bytes::<Node>(&bytes, LE, roomy).unwrap(),
        node
    );
}

fn arb_item() -> impl Strategy<Value = Item> {
    (any::<u16>(), proptest::option::of("[a-zA-Z0-9 ]{0,12}")).prop_map(|(id, name)| Item {
        id,
        name: name.into(),
    })
}

fn arb_list() -> impl Strategy<Value = List> {
    proptest::collection::vec(arb_item(), 0..6).prop_map(|items| List {
        count: items.len() as u32,
        items,
    })
}

fn arb_arrays() -> impl Strategy<Value = Arrays> {
    (
        any::<[u16; 3]>(),
        proptest::collection::vec(any::<u16>(), 0..8),
        proptest::collection::vec(any::<u32>(), 0..8),
        any::<bool>(),
    )
        .prop_map(|(fixed, var, conf, with_cv)| {
            let n = conf.len() as u32;
            let count = var.len().min(conf.len()) as u32;
            Arrays {
                fixed,
                count,
                var: var[..count as usize].to_vec(),
                n,
                conf: Unique::new(conf.clone()),
                cv: if with_cv {
                    Unique::new(var[..count as usize].to_vec())
                } else {
                    Unique::null()
                },
            }
        })
}

proptest! {
    #[test]
    fn derived_values_round_trip(list in arb_list(), arrays in arb_arrays(), big in any::<bool>()) {
        let d = if big { BE } else { LE };
        prop_assert_eq!(dec::<List>(&enc(&list, d), d).unwrap(), list);
        prop_assert_eq!(dec::<Arrays>(&enc(&arrays, d), d).unwrap(), arrays);
    }

    #[test]
    fn decode_encode_decode_is_stable(bytes in proptest::collection::vec(any::<u8>(), 0..96), big in any::<bool>()) {
        let d = if big { BE } else { LE };
        if let Ok(v) = msrpc_ndr::from_prefix::<List>(&bytes, d, DecodeLimits::DEFAULT) {
            let again = enc(&v, d);
            prop_assert_eq!(dec::<List>(&again, d).unwrap(), v);
        }
        if let Ok(v) = msrpc_ndr::from_prefix::<Outer>(&bytes, d, DecodeLimits::DEFAULT) {
            let again = enc(&v, d);
            prop_assert_eq!(dec::<Outer>(&again, d).unwrap(), v);
        }
        if let Ok(v) = msrpc_ndr::from_prefix::<Prims>(&bytes, d, DecodeLimits::DEFAULT) {
            let again = enc(&v, d);
            prop_assert_eq!(dec::<Prims>(&again, d).unwrap(), v);
        }
    }
}
