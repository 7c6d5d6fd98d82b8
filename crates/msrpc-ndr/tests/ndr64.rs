//! NDR64 (MS-RPCE 2.2.5) encodings checked against bytes computed by hand from the rules, each
//! beside its NDR20 form (which must not change), plus hostile NDR64 input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use msrpc_ndr::{
    array, string, ContextHandle, DataRep, DecodeErrorKind, DecodeLimits, Full, Int3264, Ndr,
    Reader, Ref, TransferSyntax, UInt3264, Unique, Uuid, Writer,
};

const LE: DataRep = DataRep::LITTLE_ENDIAN;
const N20: TransferSyntax = TransferSyntax::Ndr20;
const N64: TransferSyntax = TransferSyntax::Ndr64;

fn enc<T: Ndr>(v: &T, s: TransferSyntax) -> Vec<u8> {
    msrpc_ndr::to_bytes_in(v, LE, s).unwrap()
}

fn dec<T: Ndr>(b: &[u8], s: TransferSyntax) -> T {
    msrpc_ndr::from_bytes_in(b, LE, s, DecodeLimits::DEFAULT).unwrap()
}

fn dec_err<T: Ndr + std::fmt::Debug>(b: &[u8], s: TransferSyntax) -> DecodeErrorKind {
    msrpc_ndr::from_bytes_in::<T>(b, LE, s, DecodeLimits::DEFAULT)
        .unwrap_err()
        .kind
}

#[derive(Ndr, Debug, PartialEq, Clone)]
struct Pair {
    a: u16,
    b: Unique<u32>,
}

#[test]
fn unique_pointer_is_eight_bytes_aligned_to_eight() {
    let v = Pair {
        a: 7,
        b: Unique::new(9),
    };
    // NDR20: a, 2 bytes padding, 4-byte referent id, referent
    assert_eq!(enc(&v, N20), [7, 0, 0, 0, 0, 0, 2, 0, 9, 0, 0, 0]);
    let b64 = enc(&v, N64);
    assert_eq!(
        b64,
        [
            7, 0, // a
            0, 0, 0, 0, 0, 0, // padding to the pointer's 8
            0, 0, 2, 0, 0, 0, 0, 0, // referent id 0x20000 as a u64
            9, 0, 0, 0, // deferred referent
        ]
    );
    assert_eq!(Pair::ALIGN64, 8);
    assert_eq!(dec::<Pair>(&b64, N64), v);
    // a null pointer: eight zero bytes
    let null = Pair {
        a: 1,
        b: Unique::null(),
    };
    assert_eq!(
        enc(&null, N64),
        [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
}

#[derive(Ndr, Debug, PartialEq, Clone, Copy, Default)]
struct Gap {
    a: u32,
    b: u8,
}

#[test]
fn structure_ends_on_its_alignment_in_ndr64_only() {
    // MS-RPCE 2.2.5.3.4.1: a structure's trailing gap is padding in NDR64.
    let v = [Gap { a: 1, b: 2 }, Gap { a: 3, b: 4 }];
    assert_eq!(
        enc(&v, N20),
        [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4] // 13 bytes, no trailing pad
    );
    let b64 = enc(&v, N64);
    assert_eq!(b64, [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0]);
    assert_eq!(dec::<[Gap; 2]>(&b64, N64), v);
    // the pad is part of the structure: a stream ending inside it is truncated
    assert!(matches!(
        dec_err::<[Gap; 2]>(&b64[..13], N64),
        DecodeErrorKind::Truncated { .. }
    ));
}

#[derive(Ndr, Debug, PartialEq, Clone)]
struct Conf {
    n: u32,
    #[ndr(size_is = "n")]
    data: Vec<u16>,
}

#[test]
fn conformant_structure_hoists_an_eight_byte_max_count() {
    let v = Conf {
        n: 3,
        data: vec![1, 2, 3],
    };
    assert_eq!(enc(&v, N20), [3, 0, 0, 0, 3, 0, 0, 0, 1, 0, 2, 0, 3, 0]);
    let b64 = enc(&v, N64);
    assert_eq!(
        b64,
        [
            3, 0, 0, 0, 0, 0, 0, 0, // max_count (u64), hoisted
            3, 0, 0, 0, // n
            1, 0, 2, 0, 3, 0, // elements
            0, 0, // trailing pad to the structure's alignment (4)
        ]
    );
    assert_eq!(dec::<Conf>(&b64, N64), v);
}

#[derive(Ndr, Debug, PartialEq, Clone)]
struct Varying {
    len: u32,
    #[ndr(length_is = "len", max = 8)]
    items: Vec<u8>,
}

#[test]
fn arrays_carry_eight_byte_counts() {
    // a conformant array as a referent / top-level value: max_count, elements
    let v: Vec<u32> = vec![5, 6];
    assert_eq!(enc(&v, N20), [2, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0]);
    let b64 = enc(&v, N64);
    assert_eq!(b64, [2, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0]);
    assert_eq!(dec::<Vec<u32>>(&b64, N64), v);

    // an embedded varying array: offset and actual_count as u64s, aligned to 8
    let v = Varying {
        len: 2,
        items: vec![0xaa, 0xbb],
    };
    let b64 = enc(&v, N64);
    assert_eq!(
        b64,
        [
            2, 0, 0, 0, // len
            0, 0, 0, 0, // padding to 8
            0, 0, 0, 0, 0, 0, 0, 0, // offset
            2, 0, 0, 0, 0, 0, 0, 0, // actual_count
            0xaa, 0xbb, // elements
            0, 0, // trailing pad to the structure's alignment (4)
        ]
    );
    assert_eq!(dec::<Varying>(&b64, N64), v);

    // conformant-varying through the array helpers: max, offset, actual
    let mut w = Writer::with_syntax(LE, N64);
    array::encode_conformant_varying(&[7u8], Some(4), None, "x", &mut w).unwrap();
    assert_eq!(
        w.as_bytes(),
        [4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7]
    );
    let mut r = Reader::with_syntax(w.as_bytes(), LE, N64, DecodeLimits::DEFAULT);
    assert_eq!(
        array::decode_conformant_varying::<u8>(&mut r, Some(4), None).unwrap(),
        [7]
    );
}

#[test]
fn strings_carry_eight_byte_counts() {
    let mut w = Writer::with_syntax(LE, N64);
    string::encode_wide("ab", "s", &mut w).unwrap();
    let mut want = Vec::new();
    for n in [3u64, 0, 3] {
        want.extend_from_slice(&n.to_le_bytes()); // max_count, offset, actual_count
    }
    want.extend_from_slice(&[b'a', 0, b'b', 0, 0, 0]);
    assert_eq!(w.as_bytes(), want.as_slice());
    let mut r = Reader::with_syntax(&want, LE, N64, DecodeLimits::DEFAULT);
    assert_eq!(string::decode_wide(&mut r).unwrap(), "ab");

    let mut w = Writer::with_syntax(LE, N64);
    string::encode_char("hi", "s", &mut w).unwrap();
    assert_eq!(w.len(), 24 + 3);
    let mut r = Reader::with_syntax(w.as_bytes(), LE, N64, DecodeLimits::DEFAULT);
    assert_eq!(string::decode_char(&mut r).unwrap(), "hi");
}

#[derive(Ndr, Debug, PartialEq, Clone)]
#[ndr(switch_type = "u16")]
enum U {
    #[ndr(case = 1)]
    Small(u8),
    #[ndr(case = 2)]
    Big(u64),
    #[ndr(case = 3)]
    Empty,
}

#[test]
fn union_and_arm_align_to_the_largest_arm_in_ndr64() {
    // NDR20 (non-encapsulated): the discriminant, then the arm at its own alignment.
    assert_eq!(enc(&U::Small(5), N20), [1, 0, 5]);
    // NDR64 (MS-RPCE 2.2.5.3.4.4): the arm aligned to the largest arm alignment (8).
    let b64 = enc(&U::Small(5), N64);
    assert_eq!(b64, [1, 0, 0, 0, 0, 0, 0, 0, 5]);
    assert_eq!(dec::<U>(&b64, N64), U::Small(5));
    let b64 = enc(&U::Empty, N64);
    assert_eq!(b64, [3, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(U::ALIGN64, 8);

    // inside a structure the union starts on its own (8) alignment
    #[derive(Ndr, Debug, PartialEq, Clone)]
    struct S {
        x: u8,
        u: U,
    }
    let v = S {
        x: 9,
        u: U::Big(0x0102),
    };
    assert_eq!(
        enc(&v, N20),
        [9, 0, 2, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0]
    );
    let b64 = enc(&v, N64);
    assert_eq!(
        b64,
        [
            9, 0, 0, 0, 0, 0, 0, 0, // x, padding to the union's 8
            2, 0, 0, 0, 0, 0, 0, 0, // discriminant, padding to the arm's 8
            2, 1, 0, 0, 0, 0, 0, 0, // the arm
        ]
    );
    assert_eq!(dec::<S>(&b64, N64), v);
}

#[derive(Ndr, Debug, PartialEq, Clone, Copy)]
#[repr(u16)]
enum E16 {
    A = 1,
    #[ndr(unknown)]
    Other(u16),
}

#[derive(Ndr, Debug, PartialEq, Clone, Copy)]
#[ndr(v1_enum)]
#[repr(u32)]
enum E32 {
    A = 1,
    #[ndr(unknown)]
    Other(u32),
}

#[test]
fn enums_are_four_bytes_in_ndr64() {
    // MS-RPCE 2.2.5.2: enums are 4-octet integers in NDR64.
    assert_eq!(enc(&E16::A, N20), [1, 0]);
    assert_eq!(enc(&E16::A, N64), [1, 0, 0, 0]);
    assert_eq!(enc(&E16::Other(0xfffe), N64), [0xfe, 0xff, 0, 0]);
    assert_eq!(dec::<E16>(&[1, 0, 0, 0], N64), E16::A);
    assert_eq!(enc(&E32::Other(0x10000), N64), [0, 0, 1, 0]);
    assert_eq!(dec::<E32>(&[0, 0, 1, 0], N64), E32::Other(0x10000));
    // a 16-bit enum cannot hold a value beyond 16 bits
    assert!(matches!(
        dec_err::<E16>(&[0, 0, 1, 0], N64),
        DecodeErrorKind::OutOfRange { .. }
    ));
    // after a byte the enum aligns to 4 in NDR64, 2 in NDR20
    #[derive(Ndr, Debug, PartialEq, Clone)]
    struct S {
        x: u8,
        e: E16,
    }
    let v = S { x: 1, e: E16::A };
    assert_eq!(enc(&v, N20), [1, 0, 1, 0]);
    assert_eq!(enc(&v, N64), [1, 0, 0, 0, 1, 0, 0, 0]);
}

#[derive(Ndr, Debug, PartialEq, Clone, Default)]
struct RefHolder {
    p: Ref<u32>,
}

#[derive(Ndr, Debug, PartialEq, Clone)]
struct Aliases {
    a: Full<u32>,
    b: Full<u32>,
}

#[test]
fn ref_and_full_pointers() {
    let v = RefHolder { p: Ref::new(5) };
    let b64 = enc(&v, N64);
    assert_eq!(b64, [0, 0, 2, 0, 0, 0, 0, 0, 5, 0, 0, 0]);
    assert_eq!(dec::<RefHolder>(&b64, N64), v);

    let shared = Arc::new(7u32);
    let v = Aliases {
        a: Full::from_arc(shared.clone()),
        b: Full::from_arc(shared),
    };
    let b64 = enc(&v, N64);
    assert_eq!(
        b64,
        [
            0, 0, 2, 0, 0, 0, 0, 0, // a: referent id
            0, 0, 2, 0, 0, 0, 0, 0, // b: the same id
            7, 0, 0, 0, // the referent, once
        ]
    );
    let back = dec::<Aliases>(&b64, N64);
    assert!(Arc::ptr_eq(back.a.get().unwrap(), back.b.get().unwrap()));
    // a full pointer id beyond 32 bits is an NDR64 id like any other
    let mut wide = b64.clone();
    wide[4] = 1;
    wide[12] = 1;
    let back = dec::<Aliases>(&wide, N64);
    assert!(Arc::ptr_eq(back.a.get().unwrap(), back.b.get().unwrap()));
}

#[test]
fn context_handle_stays_twenty_bytes_aligned_to_four() {
    #[derive(Ndr, Debug, PartialEq, Clone)]
    struct S {
        x: u8,
        h: ContextHandle,
    }
    let v = S {
        x: 1,
        h: ContextHandle {
            attributes: 0,
            uuid: Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10),
        },
    };
    let b20 = enc(&v, N20);
    let b64 = enc(&v, N64);
    assert_eq!(b20.len(), 24);
    assert_eq!(b64, b20);
    assert_eq!(ContextHandle::ALIGN64, 4);
}

#[test]
fn int3264_is_four_or_eight_bytes() {
    assert_eq!(enc(&Int3264(-2), N20), [0xfe, 0xff, 0xff, 0xff]);
    assert_eq!(
        enc(&Int3264(-2), N64),
        [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    );
    assert_eq!(dec::<Int3264>(&[0xfe, 0xff, 0xff, 0xff], N20), Int3264(-2));
    assert!(msrpc_ndr::to_bytes_in(&Int3264(1 << 40), LE, N20).is_err());
    assert_eq!(enc(&UInt3264(1 << 40), N64), [0, 0, 0, 0, 0, 1, 0, 0]);
    assert!(msrpc_ndr::to_bytes_in(&UInt3264(1 << 40), LE, N20).is_err());
}

#[test]
fn big_endian_ndr64() {
    let v = Pair {
        a: 7,
        b: Unique::new(9),
    };
    let b = msrpc_ndr::to_bytes_in(&v, DataRep::BIG_ENDIAN, N64).unwrap();
    assert_eq!(
        b,
        [0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 9]
    );
    let back: Pair =
        msrpc_ndr::from_bytes_in(&b, DataRep::BIG_ENDIAN, N64, DecodeLimits::DEFAULT).unwrap();
    assert_eq!(back, v);
}

// ---- hostile input ----

#[test]
fn lying_eight_byte_counts_are_refused_before_allocating() {
    // beyond 2^32: refused against max_elements, not truncated to 32 bits
    let mut b = ((1u64 << 32) + 1).to_le_bytes().to_vec();
    b.extend_from_slice(&[0; 16]);
    assert!(matches!(
        dec_err::<Vec<u8>>(&b, N64),
        DecodeErrorKind::CountLimit { count, .. } if count == (1 << 32) + 1
    ));
    // u64::MAX
    let b = u64::MAX.to_le_bytes();
    assert!(matches!(
        dec_err::<Vec<u32>>(&b, N64),
        DecodeErrorKind::CountLimit { .. }
    ));
    // within the limit but beyond the data
    let mut b = 1000u64.to_le_bytes().to_vec();
    b.extend_from_slice(&[0; 10]);
    assert!(matches!(
        dec_err::<Vec<u8>>(&b, N64),
        DecodeErrorKind::CountBeyondData { count: 1000, .. }
    ));
    // over the allocation budget
    let limits = DecodeLimits {
        max_alloc_bytes: 64,
        ..DecodeLimits::DEFAULT
    };
    let mut b = 100u64.to_le_bytes().to_vec();
    b.extend_from_slice(&[0; 400]);
    let e = msrpc_ndr::from_bytes_in::<Vec<u32>>(&b, LE, N64, limits).unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::AllocLimit { .. }));
    // a string whose actual_count exceeds its max_count
    let mut b = Vec::new();
    for n in [2u64, 0, 1 << 33] {
        b.extend_from_slice(&n.to_le_bytes());
    }
    let mut r = Reader::with_syntax(&b, LE, N64, DecodeLimits::DEFAULT);
    assert!(matches!(
        string::decode_wide(&mut r).unwrap_err().kind,
        DecodeErrorKind::VarianceBeyondConformance { .. }
    ));
    // a hoisted max_count that disagrees with size_is
    let mut b = (1u64 << 32).to_le_bytes().to_vec();
    b.extend_from_slice(&[3, 0, 0, 0, 1, 0, 2, 0, 3, 0, 0, 0]);
    assert!(matches!(
        dec_err::<Conf>(&b, N64),
        DecodeErrorKind::CountLimit { .. } | DecodeErrorKind::CountMismatch { .. }
    ));
}

#[test]
fn misaligned_or_ndr20_bytes_fail_cleanly_as_ndr64() {
    let v = Pair {
        a: 7,
        b: Unique::new(9),
    };
    // NDR20 bytes read as NDR64: the pointer lands in padding and the stream runs out
    let b20 = enc(&v, N20);
    assert!(msrpc_ndr::from_bytes_in::<Pair>(&b20, LE, N64, DecodeLimits::DEFAULT).is_err());
    // every truncation of a valid NDR64 stream is an error, never a panic
    let b64 = enc(
        &S2 {
            c: Conf {
                n: 2,
                data: vec![1, 2],
            },
        },
        N64,
    );
    for cut in 0..b64.len() {
        assert!(
            msrpc_ndr::from_bytes_in::<S2>(&b64[..cut], LE, N64, DecodeLimits::DEFAULT).is_err(),
            "cut at {cut}"
        );
    }
    // a deep chain of unique pointers stops at max_depth
    let mut b = Vec::new();
    for _ in 0..100 {
        b.extend_from_slice(&0x20000u64.to_le_bytes());
    }
    let limits = DecodeLimits {
        max_depth: 8,
        ..DecodeLimits::DEFAULT
    };
    let e = msrpc_ndr::from_bytes_in::<Chain>(&b, LE, N64, limits).unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::DepthLimit { .. }));
}

#[derive(Ndr, Debug, PartialEq, Clone)]
struct S2 {
    c: Conf,
}

#[derive(Ndr, Debug, PartialEq, Clone)]
struct Chain {
    next: Unique<Chain>,
}
