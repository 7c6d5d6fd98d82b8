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
#[repr(u16)]
enum Color {
    #[default]
    Red = 1,
    Green = 2,
    #[ndr(unknown)]
    Unknown(u32),
}

#[derive(Ndr, Debug, Clone, Copy, PartialEq, Eq)]
#[ndr(v1_enum)]
#[repr(u32)]
enum Color32 {
    Red = 1,
    Far = 0x10000,
    #[ndr(unknown)]
    Unknown(u32),
}

/// A 16-bit enum whose catch-all is as wide as the wire: every value it holds encodes. (The
/// `repr` is Rust's tag, not the wire type: `u16` would overflow on the catch-all's implicit
/// tag after 0xffff.)
#[derive(Ndr, Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum Narrow {
    Top = 0xffff,
    #[ndr(unknown)]
    Other(u16),
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
}

#[test]
fn unknown_enum_values_decode_and_re_encode_unchanged() {
    // Values no variant names (what Samba's rpcecho client sends as echo_Enum2.e1 = 76)
    // decode into the catch-all, in either byte order, and encode back to the same bytes.
    let v = Paint {
        a: Color::Unknown(76),
        b: Color32::Unknown(0xdead_beef),
        c: Color::Unknown(0xffff),
    };
    #[rustfmt::skip]
    let le = [
        76, 0, 0, 0,             // a = 76 (16-bit) + padding
        0xef, 0xbe, 0xad, 0xde,  // b = 0xdeadbeef (32-bit)
        0xff, 0xff,              // c = 0xffff: beyond MIDL's 0..32767, within the wire width
    ];
    #[rustfmt::skip]
    let be = [0, 76, 0, 0, 0xde, 0xad, 0xbe, 0xef, 0xff, 0xff];
    roundtrip(&v, &le, &be);
    roundtrip(&Color::Unknown(0), &[0, 0], &[0, 0]);
    roundtrip(&Color32::Unknown(2), &[2, 0, 0, 0], &[0, 0, 0, 2]);
    roundtrip(&Narrow::Other(0x8000), &[0, 0x80], &[0x80, 0]);
    roundtrip(&Narrow::Top, &[0xff, 0xff], &[0xff, 0xff]);
    // a declared value held in the catch-all encodes as that value and decodes as its name
    assert_eq!(enc(&Color::Unknown(2), LE), [2, 0]);
    assert_eq!(dec::<Color>(&[2, 0], LE).unwrap(), Color::Green);

    // the service sees the value: From both ways, named variants for declared values
    assert_eq!(Color::from(76u32), Color::Unknown(76));
    assert_eq!(Color::from(2u32), Color::Green);
    assert_eq!(u32::from(Color::Green), 2);
    assert_eq!(u32::from(Color::Unknown(76)), 76);
    assert_eq!(Color32::from(0x10000u32), Color32::Far);
    assert_eq!(Narrow::from(0xffffu16), Narrow::Top);
    assert_eq!(u16::from(Narrow::Other(3)), 3);
    assert_eq!(msrpc_ndr::ndr_count(Color::Unknown(76)), 76);
    assert_eq!(msrpc_ndr::ndr_count(Color32::Far), 0x10000);
}

#[test]
fn an_enum_value_wider_than_the_wire_does_not_encode() {
    // Windows raises RPC_X_ENUM_VALUE_OUT_OF_RANGE when it cannot marshal an enum value
    let err = EncodeError::EnumValueOutOfRange {
        ty: "Color",
        value: 0x1_0000,
        max: 0xffff,
    };
    assert_eq!(
        msrpc_ndr::to_bytes(&Color::Unknown(0x1_0000), LE),
        Err(err.clone())
    );
    let v = Paint {
        a: Color::Red,
        b: Color32::Red,
        c: Color::Unknown(0x1_0000),
    };
    assert_eq!(msrpc_ndr::to_bytes(&v, BE), Err(err));
    assert_eq!(
        enc(&Color::Unknown(0xffff), LE),
        [0xff, 0xff],
        "the widest value that fits"
    );
}

#[derive(Ndr, Debug, Clone, PartialEq)]
struct Selected {
    kind: Color,
    #[ndr(switch_is = "kind")]
    closed: ByColor,
    #[ndr(switch_is = "kind")]
    open: ByColorOpen,
}

#[derive(Ndr, Debug, Clone, PartialEq)]
#[ndr(switch_type = "u16")]
enum ByColor {
    #[ndr(case = 1)]
    Red(u8),
    #[ndr(case = 2)]
    Green,
}

#[derive(Ndr, Debug, Clone, PartialEq)]
#[ndr(switch_type = "u16")]
enum ByColorOpen {
    #[ndr(case = 1)]
    Red(u8),
    #[ndr(default)]
    Other(u16),
}

#[test]
fn an_unknown_enum_value_selects_a_union_arm_by_its_value() {
    let v = Selected {
        kind: Color::Red,
        closed: ByColor::Red(7),
        open: ByColorOpen::Red(8),
    };
    #[rustfmt::skip]
    roundtrip(&v, &[1, 0, 1, 0, 7, 0, 1, 0, 8], &[0, 1, 0, 1, 7, 0, 0, 1, 8]);

    // A union without a default arm cannot hold an unknown discriminant: it fails as before.
    #[rustfmt::skip]
    let e = dec::<Selected>(&[76, 0, 76, 0, 76, 0], LE).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::UnknownDiscriminant(76));
    assert_eq!(e.path(), "Selected.closed");
    // One with a default arm takes it; switch_is still checks the discriminant.
    let open = dec::<ByColorOpen>(&[0, 76], BE).unwrap();
    assert_eq!(open, ByColorOpen::Other(76));
    assert_eq!(
        open.discriminant(),
        msrpc_ndr::ndr_count(Color::Unknown(76))
    );
    let e = dec::<Selected>(&[76, 0, 2, 0, 77, 0], LE).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::DiscriminantMismatch {
            expected: 76,
            found: 2
        }
    );
    let bad = Selected {
        kind: Color::Unknown(76),
        closed: ByColor::Green,
        open: ByColorOpen::Other(76),
    };
    assert_eq!(
        msrpc_ndr::to_bytes(&bad, LE),
        Err(EncodeError::DiscriminantMismatch {
            field: "closed",
            expected: 76,
            found: 2
        })
    );
}

proptest! {
    /// Any value of the wire width decodes and encodes back to the same bytes, in either byte
    /// order; any value the catch-all holds that fits the wire round-trips.
    #[test]
    fn every_enum_value_round_trips(v16 in any::<u16>(), v32 in any::<u32>(), big in any::<bool>()) {
        let d = if big { BE } else { LE };
        let b16 = if big { v16.to_be_bytes() } else { v16.to_le_bytes() };
        let b32 = if big { v32.to_be_bytes() } else { v32.to_le_bytes() };
        let c = dec::<Color>(&b16, d).unwrap();
        prop_assert_eq!(u32::from(c), u32::from(v16));
        prop_assert_eq!(enc(&c, d), b16.to_vec());
        let c32 = dec::<Color32>(&b32, d).unwrap();
        prop_assert_eq!(u32::from(c32), v32);
        prop_assert_eq!(enc(&c32, d), b32.to_vec());
        let n = dec::<Narrow>(&b16, d).unwrap();
        prop_assert_eq!(u16::from(n), v16);
        prop_assert_eq!(enc(&n, d), b16.to_vec());
        // from the value side: the canonical variant, encoded and decoded
        prop_assert_eq!(dec::<Color>(&enc(&Color::from(u32::from(v16)), d), d).unwrap(), c);
        prop_assert_eq!(dec::<Color32>(&enc(&Color32::from(v32), d), d).unwrap(), c32);
    }

    /// A 16-bit enum's catch-all holding a u32: fits the wire or fails to encode, never
    /// truncated.
    #[test]
    fn wide_values_fail_instead_of_truncating(v in any::<u32>()) {
        match msrpc_ndr::to_bytes(&Color::Unknown(v), LE) {
            Ok(b) => {
                prop_assert!(v <= 0xffff);
                prop_assert_eq!(b, (v as u16).to_le_bytes().to_vec());
            }
            Err(e) => {
                prop_assert!(v > 0xffff);
                prop_assert_eq!(e, EncodeError::EnumValueOutOfRange { ty: "Color", value: u64::from(v), max: 0xffff });
            }
        }
    }
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
            let again = enc(&v, d);
            prop_assert_eq!(dec::<Paint>(&again, d).unwrap(), v);
            // only enums and padding: the value's bytes are the input's, padding zeroed
            let mut want = bytes[..10].to_vec();
            want[2] = 0;
            want[3] = 0;
            prop_assert_eq!(again, want);
        }
    }
}
