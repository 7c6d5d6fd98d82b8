//! `#[derive(Ndr)]` on unions (enums with data) and NDR enums, as byte literals in both byte
//! orders (C706 14.3.8 and 14.2.5; MS-RPCE 2.2.5.2).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use msrpc_ndr::{
    DataRep, DecodeError, DecodeErrorKind, DecodeLimits, EncodeError, Ndr, NdrUnion, Unique,
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

const LEVEL_NAME: u16 = 4;

#[derive(Ndr, Debug, Clone, PartialEq)]
#[ndr(switch_type = "u16")]
enum Info {
    #[ndr(case = 1)]
    Small(u8),
    #[ndr(case = 2)]
    Big(u64),
    #[ndr(case = 3)]
    Empty,
    #[ndr(case = LEVEL_NAME)]
    Name(#[ndr(string)] Unique<String>),
}

#[derive(Ndr, Debug, Clone, PartialEq)]
struct Holder {
    level: u16,
    #[ndr(switch_is = "level")]
    info: Info,
}

#[test]
fn u16_union_with_switch_is() {
    assert_eq!(<Info as Ndr>::ALIGN, 8);
    assert_eq!(Info::Big(1).discriminant(), 2);
    assert_eq!(Info::Name(Unique::null()).discriminant(), 4);

    let v = Holder {
        level: 2,
        info: Info::Big(0x0102_0304_0506_0708),
    };
    #[rustfmt::skip]
    let le = [
        2, 0,                   // level
        2, 0,                   // info: discriminant (u16)
        0, 0, 0, 0,             // padding: the u64 arm aligns to 8
        8, 7, 6, 5, 4, 3, 2, 1, // info.Big
    ];
    #[rustfmt::skip]
    let be = [0, 2, 0, 2, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
    roundtrip(&v, &le, &be);

    let v = Holder {
        level: 1,
        info: Info::Small(5),
    };
    roundtrip(&v, &[1, 0, 1, 0, 5], &[0, 1, 0, 1, 5]);
    let v = Holder {
        level: 3,
        info: Info::Empty,
    };
    roundtrip(&v, &[3, 0, 3, 0], &[0, 3, 0, 3]);

    // An arm with a pointer: the referent follows the holder's scalars.
    let v = Holder {
        level: 4,
        info: Info::Name(Unique::new("x".into())),
    };
    #[rustfmt::skip]
    let le = [
        4, 0,                   // level
        4, 0,                   // discriminant
        0x00, 0x00, 0x02, 0x00, // info.Name: referent id
        2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, // max, offset, actual
        b'x', 0, 0, 0,          // "x\0"
    ];
    #[rustfmt::skip]
    let be = [
        0, 4, 0, 4, 0x00, 0x02, 0x00, 0x00,
        0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2,
        0, b'x', 0, 0,
    ];
    roundtrip(&v, &le, &be);
}

#[test]
fn union_errors() {
    // unknown discriminant, no default arm
    let e = dec::<Holder>(&[9, 0, 9, 0], LE).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::UnknownDiscriminant(9));
    assert_eq!(e.path(), "Holder.info");
    // discriminant differs from switch_is
    let e = dec::<Holder>(&[1, 0, 3, 0], LE).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::DiscriminantMismatch {
            expected: 1,
            found: 3
        }
    );
    assert_eq!(e.path(), "Holder.info");
    let bad = Holder {
        level: 1,
        info: Info::Empty,
    };
    assert_eq!(
        msrpc_ndr::to_bytes(&bad, LE),
        Err(EncodeError::DiscriminantMismatch {
            field: "info",
            expected: 1,
            found: 3
        })
    );
    // an error inside an arm names the arm
    let e = dec::<Info>(&[2, 0, 0, 0, 0, 0, 0, 0, 1, 2], LE).unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::Truncated { .. }));
    assert_eq!(e.path(), "Info.Big");
}

#[derive(Ndr, Debug, Clone, PartialEq)]
enum Wide {
    #[ndr(case = 10)]
    X(u16),
    #[ndr(case = 0x1_0000)]
    Y,
    #[ndr(default)]
    Other(u32),
}

#[test]
fn u32_union_with_default_arm() {
    assert_eq!(<Wide as Ndr>::ALIGN, 4);
    roundtrip(&Wide::X(7), &[10, 0, 0, 0, 7, 0], &[0, 0, 0, 10, 0, 7]);
    roundtrip(&Wide::Y, &[0, 0, 1, 0], &[0, 1, 0, 0]);
    // any other discriminant lands in the default arm, which carries it
    roundtrip(&Wide::Other(99), &[99, 0, 0, 0], &[0, 0, 0, 99]);
    assert_eq!(Wide::Other(99).discriminant(), 99);
}

#[derive(Ndr, Debug, Clone, PartialEq)]
#[ndr(switch_type = "u16", encapsulated)]
enum Encap {
    #[ndr(case = 1)]
    Short(u16),
    #[ndr(case = 2)]
    Long(u32),
}

#[derive(Ndr, Debug, Clone, PartialEq)]
#[ndr(switch_type = "u16")]
enum NotEncap {
    #[ndr(case = 1)]
    Short(u16),
    #[ndr(case = 2)]
    Long(u32),
}

#[test]
fn encapsulated_unions_align_the_arm_to_the_largest_arm() {
    #[rustfmt::skip]
    roundtrip(
        &Encap::Short(3),
        &[1, 0, /* padding to the u32 arm's alignment */ 0, 0, 3, 0],
        &[0, 1, 0, 0, 0, 3],
    );
    roundtrip(&NotEncap::Short(3), &[1, 0, 3, 0], &[0, 1, 0, 3]);
    roundtrip(
        &Encap::Long(5),
        &[2, 0, 0, 0, 5, 0, 0, 0],
        &[0, 2, 0, 0, 0, 0, 0, 5],
    );
}

#[derive(Ndr, Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Color {
    #[default]
    Red = 1,
    Green = 2,
}

#[derive(Ndr, Debug, Clone, Copy, PartialEq, Eq)]
#[ndr(v1_enum)]
enum Color32 {
    Red = 1,
    Far = 0x10000,
}

#[derive(Ndr, Debug, Clone, PartialEq)]
struct Paint {
    a: Color,
    b: Color32,
    c: Color,
}

#[test]
fn enums_are_16_bit_unless_v1_enum() {
    assert_eq!(<Color as Ndr>::ALIGN, 2);
    assert_eq!(<Color32 as Ndr>::ALIGN, 4);
    let v = Paint {
        a: Color::Green,
        b: Color32::Far,
        c: Color::Red,
    };
    #[rustfmt::skip]
    let le = [
        2, 0, 0, 0, // a (16-bit) + padding
        0, 0, 1, 0, // b (32-bit)
        1, 0,       // c
    ];
    roundtrip(&v, &le, &[0, 2, 0, 0, 0, 1, 0, 0, 0, 1]);
    let e = dec::<Paint>(&[3, 0, 0, 0, 1, 0, 0, 0, 1, 0], LE).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::UnknownEnumValue(3));
    assert_eq!(e.path(), "Paint.a");
    let e = dec::<Color32>(&[2, 0, 0, 0], LE).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::UnknownEnumValue(2));
    assert_eq!(e.path(), "Color32");
}

#[derive(Ndr, Debug, Clone, PartialEq, Default)]
#[ndr(switch_type = "u8")]
enum Chain {
    #[default]
    #[ndr(case = 0)]
    End,
    #[ndr(case = 1)]
    More(Unique<Chain>),
}

#[test]
fn nested_unions_hit_the_depth_limit() {
    let mut v = Chain::End;
    for _ in 0..40 {
        v = Chain::More(Unique::new(v));
    }
    let bytes = enc(&v, LE);
    // each level enters the union and the pointer: 80 > 64
    let e = dec::<Chain>(&bytes, LE).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::DepthLimit { limit: 64 });
    let roomy = DecodeLimits {
        max_depth: 200,
        ..DecodeLimits::DEFAULT
    };
    assert_eq!(
        msrpc_ndr::from_bytes::<Chain>(&bytes, LE, roomy).unwrap(),
        v
    );
}

fn arb_holder() -> impl Strategy<Value = Holder> {
    prop_oneof![
        any::<u8>().prop_map(|v| Holder {
            level: 1,
            info: Info::Small(v)
        }),
        any::<u64>().prop_map(|v| Holder {
            level: 2,
            info: Info::Big(v)
        }),
        Just(Holder {
            level: 3,
            info: Info::Empty
        }),
        proptest::option::of("[a-z]{0,8}").prop_map(|s| Holder {
            level: 4,
            info: Info::Name(s.into())
        }),
    ]
}

proptest! {
    #[test]
    fn unions_round_trip(h in arb_holder(), w in any::<u32>(), big in any::<bool>()) {
        let d = if big { BE } else { LE };
        prop_assert_eq!(dec::<Holder>(&enc(&h, d), d).unwrap(), h);
        let wide = match w {
            10 => Wide::X(w as u16),
            0x1_0000 => Wide::Y,
            n => Wide::Other(n),
        };
        prop_assert_eq!(dec::<Wide>(&enc(&wide, d), d).unwrap(), wide);
    }

    #[test]
    fn union_decode_encode_decode(bytes in proptest::collection::vec(any::<u8>(), 0..48), big in any::<bool>()) {
        let d = if big { BE } else { LE };
        if let Ok(v) = msrpc_ndr::from_prefix::<Holder>(&bytes, d, DecodeLimits::DEFAULT) {
            prop_assert_eq!(dec::<Holder>(&enc(&v, d), d).unwrap(), v);
        }
        if let Ok(v) = msrpc_ndr::from_prefix::<Paint>(&bytes, d, DecodeLimits::DEFAULT) {
            prop_assert_eq!(dec::<Paint>(&enc(&v, d), d).unwrap(), v);
        }
    }
}
