//! The NDR runtime without the derive: primitives, GUIDs, arrays, strings, pointers, limits
//! and error paths, as byte literals in both byte orders (C706 chapter 14).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use msrpc_ndr::{
    array, string, ContextHandle, DataRep, DecodeErrorKind, DecodeLimits, Full, Ndr, Reader, Ref,
    Unique, Uuid, Writer,
};
use proptest::prelude::*;

const LE: DataRep = DataRep::LITTLE_ENDIAN;
const BE: DataRep = DataRep::BIG_ENDIAN;

fn enc<T: Ndr>(v: &T, d: DataRep) -> Vec<u8> {
    msrpc_ndr::to_bytes(v, d).unwrap()
}

fn dec<T: Ndr>(b: &[u8], d: DataRep) -> Result<T, msrpc_ndr::DecodeError> {
    msrpc_ndr::from_bytes(b, d, DecodeLimits::DEFAULT)
}

#[test]
fn primitives_align_from_the_stream_start_in_both_byte_orders() {
    // u8, then u32 aligned to 4, then u16, then u64 aligned to 8.
    let mut w = Writer::new(LE);
    (0x11u8).encode(&mut w).unwrap();
    (0x2233_4455u32).encode(&mut w).unwrap();
    (0x6677u16).encode(&mut w).unwrap();
    (0x8899_aabb_ccdd_eeffu64).encode(&mut w).unwrap();
    assert_eq!(
        w.into_bytes(),
        [
            0x11, 0, 0, 0, // u8 + 3 padding
            0x55, 0x44, 0x33, 0x22, // u32 LE
            0x77, 0x66, 0, 0, 0, 0, 0, 0, // u16 LE + 6 padding to 16
            0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88, // u64 LE
        ]
    );
    let mut w = Writer::new(BE);
    (0x11u8).encode(&mut w).unwrap();
    (0x2233_4455u32).encode(&mut w).unwrap();
    (0x6677u16).encode(&mut w).unwrap();
    assert_eq!(
        w.into_bytes(),
        [0x11, 0, 0, 0, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]
    );

    let b = [0x11, 0xde, 0xad, 0xbe, 0x22, 0x33, 0x44, 0x55];
    let mut r = Reader::new(&b, BE, DecodeLimits::DEFAULT);
    assert_eq!(u8::decode(&mut r).unwrap(), 0x11);
    // padding content is not checked (real peers send garbage)
    assert_eq!(u32::decode(&mut r).unwrap(), 0x2233_4455);
    r.finish().unwrap();
}

#[test]
fn floats_bool_and_signed() {
    assert_eq!(enc(&1.5f32, LE), 1.5f32.to_le_bytes());
    assert_eq!(enc(&-2.25f64, BE), (-2.25f64).to_be_bytes());
    assert_eq!(enc(&true, LE), [1]);
    assert!(dec::<bool>(&[7], LE).unwrap());
    assert_eq!(dec::<i16>(&[0xff, 0xfe], BE).unwrap(), -2);
    // VAX floats are not decoded.
    let vax = DataRep([0x10, 1, 0, 0]);
    let e = dec::<f32>(&[0, 0, 0, 0], vax).unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::UnsupportedDataRep(_)));
}

#[test]
fn guid_follows_drep_for_its_first_three_fields() {
    let u = Uuid::parse_str("e1af8308-5d1f-11c9-91a4-08002b14a0fa").unwrap();
    assert_eq!(
        enc(&u, LE),
        [
            0x08, 0x83, 0xaf, 0xe1, 0x1f, 0x5d, 0xc9, 0x11, 0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14,
            0xa0, 0xfa
        ]
    );
    assert_eq!(
        enc(&u, BE)[..8],
        [0xe1, 0xaf, 0x83, 0x08, 0x5d, 0x1f, 0x11, 0xc9]
    );
    assert_eq!(dec::<Uuid>(&enc(&u, BE), BE).unwrap(), u);
}

#[test]
fn context_handle_is_twenty_bytes() {
    let h = ContextHandle {
        attributes: 0,
        uuid: Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10),
    };
    let b = enc(&h, LE);
    assert_eq!(b.len(), 20);
    assert_eq!(b[..4], [0, 0, 0, 0]);
    assert_eq!(dec::<ContextHandle>(&b, LE).unwrap(), h);
    assert!(ContextHandle::NULL.is_null());
}

#[test]
fn conformant_array_of_unique_pointers_defers_referents() {
    // A conformant array of three unique pointers (one null): max_count, three referent ids,
    // then the two referents in order.
    let v = vec![Unique::new(0xaau32), Unique::null(), Unique::new(0xbb)];
    assert_eq!(
        enc(&v, LE),
        [
            3, 0, 0, 0, // max_count
            0, 0, 2, 0, // referent id 0x00020000
            0, 0, 0, 0, // null
            4, 0, 2, 0, // referent id 0x00020004
            0xaa, 0, 0, 0, // first referent
            0xbb, 0, 0, 0, // second referent
        ]
    );
    let back: Vec<Unique<u32>> = dec(&enc(&v, BE), BE).unwrap();
    assert_eq!(back, v);
}

#[test]
fn ref_pointers_ignore_their_id_and_full_pointers_alias() {
    // A [ref] pointer's referent always follows; its id is not looked at (Windows, Samba and
    // Wine do not either), so even a zero id decodes, and re-encodes with a fresh id.
    assert_eq!(enc(&Ref::new(5u16), LE), [0, 0, 2, 0, 5, 0]);
    for id in [[0, 0, 0, 0], [0, 0, 2, 0], [0xff; 4]] {
        let mut b = id.to_vec();
        b.extend_from_slice(&[5, 0]);
        assert_eq!(*dec::<Ref<u16>>(&b, LE).unwrap(), 5);
        assert_eq!(*dec::<Ref<u16>>(&b, BE).unwrap(), 0x500);
    }
    assert!(
        dec::<Ref<u32>>(&[0, 0, 0, 0], LE).is_err(),
        "the referent must follow"
    );

    let shared = Arc::new(0x1234u32);
    let v = [
        Full::from_arc(shared.clone()),
        Full::from_arc(shared),
        Full::null(),
    ];
    let b = enc(&v, LE);
    assert_eq!(
        b,
        [
            0, 0, 2, 0, // id of the shared referent
            0, 0, 2, 0, // the same id again
            0, 0, 0, 0, // null
            0x34, 0x12, 0, 0, // the referent, once
        ]
    );
    let back: [Full<u32>; 3] = dec(&b, LE).unwrap();
    let (a, c) = (back[0].get().unwrap(), back[1].get().unwrap());
    assert!(Arc::ptr_eq(a, c));
    assert_eq!(**a, 0x1234);
    assert!(back[2].is_null());
}

#[test]
fn varying_and_conformant_varying_arrays() {
    let mut w = Writer::new(LE);
    array::encode_varying(&[1u16, 2, 3], 8, Some(3), "v", &mut w).unwrap();
    assert_eq!(w.as_bytes(), [0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 2, 0, 3, 0]);
    let mut r = Reader::new(w.as_bytes(), LE, DecodeLimits::DEFAULT);
    assert_eq!(
        array::decode_varying::<u16>(&mut r, 8, Some(3)).unwrap(),
        vec![1, 2, 3]
    );

    let mut w = Writer::new(BE);
    array::encode_conformant_varying(&[9u8, 8], Some(10), Some(2), "cv", &mut w).unwrap();
    assert_eq!(w.as_bytes(), [0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 2, 9, 8]);
    // actual_count beyond max_count is refused
    let bad = [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 9, 8];
    let mut r = Reader::new(&bad, BE, DecodeLimits::DEFAULT);
    let e = array::decode_conformant_varying::<u8>(&mut r, None, None).unwrap_err();
    assert!(matches!(
        e.kind,
        DecodeErrorKind::VarianceBeyondConformance { .. }
    ));
    // a size_is mismatch is refused on both sides
    let mut w = Writer::new(LE);
    assert!(array::encode_conformant(&[1u8, 2], Some(3), "x", &mut w).is_err());
}

#[test]
fn strings_wide_char_and_fixed() {
    let mut w = Writer::new(LE);
    string::encode_wide("hi", "s", &mut w).unwrap();
    assert_eq!(
        w.as_bytes(),
        [3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, b'h', 0, b'i', 0, 0, 0] // max, offset, actual, "hi\0"
    );
    let mut r = Reader::new(w.as_bytes(), LE, DecodeLimits::DEFAULT);
    assert_eq!(string::decode_wide(&mut r).unwrap(), "hi");

    let mut w = Writer::new(BE);
    string::encode_char("ab", "s", &mut w).unwrap();
    assert_eq!(
        w.as_bytes(),
        [0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 3, b'a', b'b', 0]
    );

    // no terminator
    let unterminated = [2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, b'h', 0, b'i', 0];
    let mut r = Reader::new(&unterminated, LE, DecodeLimits::DEFAULT);
    assert_eq!(
        string::decode_wide(&mut r).unwrap_err().kind,
        DecodeErrorKind::UnterminatedString
    );

    // fixed maximum (EPM annotation): too long is refused on encode
    let mut w = Writer::new(LE);
    assert!(string::encode_char_varying(&"x".repeat(64), 64, "annotation", &mut w).is_err());
    string::encode_char_varying("rpcecho", 64, "annotation", &mut w).unwrap();
    let mut r = Reader::new(w.as_bytes(), LE, DecodeLimits::DEFAULT);
    assert_eq!(string::decode_char_varying(&mut r, 64).unwrap(), "rpcecho");
    // A NUL before the terminator ends the string (fuzzing found the decoder accepting what
    // the encoder refused: fuzz/regressions/*/f1-*); the value re-encodes.
    let inner_nul = [
        4, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, b'a', 0, 0, 0, b'b', 0, 0, 0,
    ];
    let mut r = Reader::new(&inner_nul, LE, DecodeLimits::DEFAULT);
    assert_eq!(string::decode_wide(&mut r).unwrap(), "a");
    let inner_nul = [0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 4, b'x', 0, b'y', 0];
    let mut r = Reader::new(&inner_nul, BE, DecodeLimits::DEFAULT);
    assert_eq!(string::decode_char(&mut r).unwrap(), "x");
    // Embedded NUL is refused on encode.
    assert!(string::encode_wide("a\0b", "s", &mut Writer::new(LE)).is_err());
}

#[test]
fn string_offset_must_be_zero_and_char_strings_are_ascii_only() {
    // Found by the hostile corpus (tests/hostile/ndr-string-offset-nonzero.toml): a string whose
    // offset is not 0 was accepted; Windows and Samba refuse it.
    let offset_one = [4, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, b'a', 0, 0, 0];
    let mut r = Reader::new(&offset_one, LE, DecodeLimits::DEFAULT);
    assert_eq!(
        string::decode_wide(&mut r).unwrap_err().kind,
        DecodeErrorKind::Invalid("string offset must be 0")
    );
    let offset_one = [0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2, b'x', 0];
    let mut r = Reader::new(&offset_one, BE, DecodeLimits::DEFAULT);
    assert!(string::decode_char(&mut r).is_err());
    let mut r = Reader::new(&offset_one[4..], BE, DecodeLimits::DEFAULT);
    assert!(string::decode_char_varying(&mut r, 8).is_err());
    // actual_count beyond max_count is still refused.
    let over = [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, b'a', 0, 0, 0];
    let mut r = Reader::new(&over, LE, DecodeLimits::DEFAULT);
    assert!(matches!(
        string::decode_wide(&mut r).unwrap_err().kind,
        DecodeErrorKind::VarianceBeyondConformance { .. }
    ));
    // EBCDIC (drep byte 0 low nibble 1): char strings are neither read nor written (no
    // conversion), wide strings do not depend on the character format.
    let ebcdic = DataRep([0x11, 0, 0, 0]);
    assert_eq!(
        string::encode_char("ab", "s", &mut Writer::new(ebcdic)),
        Err(msrpc_ndr::EncodeError::CharRepNotAscii("s"))
    );
    assert!(string::encode_char_varying("ab", 8, "s", &mut Writer::new(ebcdic)).is_err());
    assert!(string::encode_char_sized("ab", None, "s", &mut Writer::new(ebcdic)).is_err());
    string::encode_wide("ab", "s", &mut Writer::new(ebcdic)).unwrap();
    let ascii = [3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, b'a', b'b', 0];
    let mut r = Reader::new(&ascii, ebcdic, DecodeLimits::DEFAULT);
    assert!(string::decode_char(&mut r).is_err());
}

#[test]
fn huge_counts_are_refused_before_allocation() {
    // max_count 0xffffffff of u32 with 8 bytes of data.
    let b = [0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 2, 0, 0, 0];
    let e = dec::<Vec<u32>>(&b, LE).unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::CountLimit { .. }), "{e}");
    // Within max_elements but beyond the data.
    let b = [0, 0, 1, 0, 1, 0, 0, 0];
    let e = dec::<Vec<u32>>(&b, LE).unwrap_err();
    assert!(
        matches!(
            e.kind,
            DecodeErrorKind::CountBeyondData { count: 65536, .. }
        ),
        "{e}"
    );
    // Allocation budget: 1000 unique pointers to 8-byte values with a 4 KiB budget.
    let v: Vec<Unique<u64>> = (0..1000).map(Unique::new).collect();
    let bytes = enc(&v, LE);
    let limits = DecodeLimits {
        max_alloc_bytes: 4096,
        ..DecodeLimits::DEFAULT
    };
    let e = msrpc_ndr::from_bytes::<Vec<Unique<u64>>>(&bytes, LE, limits).unwrap_err();
    assert!(
        matches!(e.kind, DecodeErrorKind::AllocLimit { limit: 4096 }),
        "{e}"
    );
    // refused at the count, before any element was decoded
    assert_eq!(e.offset, 4);
    // With room for the array but not for every boxed referent, a later referent is refused.
    let limits = DecodeLimits {
        max_alloc_bytes: 1000 * 16 + 8 * 10,
        ..DecodeLimits::DEFAULT
    };
    let e = msrpc_ndr::from_bytes::<Vec<Unique<u64>>>(&bytes, LE, limits).unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::AllocLimit { .. }), "{e}");
    assert_eq!(e.path(), "[10]");
}

#[test]
fn deep_pointer_chains_hit_the_depth_limit() {
    type P3 = Unique<Unique<Unique<u8>>>;
    let v: P3 = Unique::new(Unique::new(Unique::new(7)));
    let b = enc(&v, LE);
    assert_eq!(dec::<P3>(&b, LE).unwrap(), v);
    let limits = DecodeLimits {
        max_depth: 2,
        ..DecodeLimits::DEFAULT
    };
    let e = msrpc_ndr::from_bytes::<P3>(&b, LE, limits).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::DepthLimit { limit: 2 });
}

#[test]
fn error_paths_name_the_field() {
    let e = msrpc_ndr::DecodeError::new(DecodeErrorKind::UnterminatedString, 52)
        .in_field("tower_octet_string")
        .in_type("Twr")
        .in_field("tower")
        .in_type("EptEntry");
    assert_eq!(e.path(), "EptEntry.tower.tower_octet_string");
    assert_eq!(
        e.to_string(),
        "EptEntry.tower.tower_octet_string: string without terminator at offset 52"
    );
    let e = msrpc_ndr::DecodeError::new(DecodeErrorKind::UnknownDiscriminant(9), 0)
        .at_index(3)
        .in_field("entries")
        .in_type("EptLookupResponse");
    assert_eq!(e.path(), "EptLookupResponse.entries[3]");
}

#[test]
fn trailing_bytes_are_refused_by_from_bytes_but_not_from_prefix() {
    let b = [1, 0, 0, 0, 0, 0, 0, 0];
    assert!(matches!(
        dec::<u32>(&b, LE).unwrap_err().kind,
        DecodeErrorKind::TrailingBytes(4)
    ));
    assert_eq!(
        msrpc_ndr::from_prefix::<u32>(&b, LE, DecodeLimits::DEFAULT).unwrap(),
        1
    );
}

proptest! {
    #[test]
    fn round_trip_nested_pointer_arrays(
        v in proptest::collection::vec(proptest::option::of((any::<u16>(), any::<u64>())), 0..40),
        big in any::<bool>(),
    ) {
        let drep = if big { BE } else { LE };
        let value: Vec<Unique<(u16, u64)>> = v.into_iter().map(Unique::from).collect();
        let value = value.into_iter().map(|p| p.into_inner().map(|(a, b)| [u64::from(a), b])).map(Unique::from).collect::<Vec<_>>();
        let bytes = enc(&value, drep);
        let back: Vec<Unique<[u64; 2]>> = dec(&bytes, drep).unwrap();
        prop_assert_eq!(&back, &value);
        prop_assert_eq!(enc(&back, drep), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = dec::<Vec<Unique<Vec<u16>>>>(&b, LE);
        let _ = dec::<[Full<u32>; 4]>(&b, BE);
        let mut r = Reader::new(&b, LE, DecodeLimits::DEFAULT);
        let _ = string::decode_wide(&mut r);
        let mut r = Reader::new(&b, BE, DecodeLimits::DEFAULT);
        let _ = array::decode_conformant_varying::<Uuid>(&mut r, None, None);
    }

    #[test]
    fn strings_round_trip(s in "[^\u{0}]{0,40}", big in any::<bool>()) {
        let drep = if big { BE } else { LE };
        let mut w = Writer::new(drep);
        string::encode_wide(&s, "s", &mut w).unwrap();
        let mut r = Reader::new(w.as_bytes(), drep, DecodeLimits::DEFAULT);
        prop_assert_eq!(string::decode_wide(&mut r).unwrap(), s);
    }
}

#[test]
fn char_strings_are_latin1_with_a_terminator_and_refuse_nul_and_wide_characters() {
    use msrpc_ndr::EncodeError;
    let le = DataRep::LITTLE_ENDIAN;
    // ISO 8859-1: one byte per character, the terminator counted.
    let mut w = Writer::new(le);
    string::encode_char("aé", "s", &mut w).unwrap();
    assert_eq!(
        w.into_bytes(),
        [3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, b'a', 0xe9, 0]
    );
    let mut w = Writer::new(le);
    string::encode_char_varying("é", 2, "s", &mut w).unwrap();
    assert_eq!(w.into_bytes(), [0, 0, 0, 0, 2, 0, 0, 0, 0xe9, 0]);
    // The count decides TooLong, not the UTF-8 length ("é" is 2 bytes of UTF-8, 1 char).
    assert!(string::encode_char_varying("éé", 2, "s", &mut Writer::new(le)).is_err());
    for bad in ["a\0b", "\0"] {
        assert_eq!(
            string::encode_char(bad, "s", &mut Writer::new(le)),
            Err(EncodeError::EmbeddedNul("s"))
        );
    }
    assert_eq!(
        string::encode_char("a€", "s", &mut Writer::new(le)),
        Err(EncodeError::NotEightBit("s"))
    );
    assert_eq!(
        string::encode_char_varying("\u{100}", 8, "s", &mut Writer::new(le)),
        Err(EncodeError::NotEightBit("s"))
    );
}
