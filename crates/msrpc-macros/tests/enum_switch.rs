//! A union whose discriminant is an NDR enum (`[switch_type(some_enum)]`, MS-LSAD's
//! LSA_FOREST_TRUST_RECORD_TYPE, MS-SAMR's and MS-DHCPM's element types): 2 bytes in NDR20,
//! 4 in NDR64, where every enum is 4 octets (MS-RPCE 2.2.5.2) — `switch_type = "enum16"`.
//! A `u16` discriminant stays 2 bytes in both. Bytes by hand, both byte orders (where a
//! 2-byte discriminant padded to 4 would pass for a 4-byte one in little-endian, not in
//! big-endian).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use msrpc_ndr::{DataRep, DecodeErrorKind, DecodeLimits, Ndr, TransferSyntax};

const N20: TransferSyntax = TransferSyntax::Ndr20;
const N64: TransferSyntax = TransferSyntax::Ndr64;
const LE: DataRep = DataRep::LITTLE_ENDIAN;
const BE: DataRep = DataRep::BIG_ENDIAN;

/// Switched by a 16-bit enum.
#[derive(Ndr, Clone, Debug, PartialEq)]
#[ndr(switch_type = "enum16")]
pub enum ByEnum {
    /// A 2-byte arm.
    #[ndr(case = 1)]
    Short(u16),
    /// An empty arm.
    #[ndr(case = 2)]
    Empty,
}

/// The same arms, switched by a `u16`.
#[derive(Ndr, Clone, Debug, PartialEq)]
#[ndr(switch_type = "u16")]
pub enum ByU16 {
    /// A 2-byte arm.
    #[ndr(case = 1)]
    Short(u16),
    /// An empty arm.
    #[ndr(case = 2)]
    Empty,
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn check<T: Ndr + PartialEq + std::fmt::Debug>(v: &T, drep: DataRep, ts: TransferSyntax, b: &str) {
    let b = hex(b);
    assert_eq!(
        msrpc_ndr::to_bytes_in(v, drep, ts).unwrap(),
        b,
        "{drep:?} {ts:?}"
    );
    let d: T = msrpc_ndr::from_bytes_in(&b, drep, ts, DecodeLimits::DEFAULT).unwrap();
    assert_eq!(&d, v);
}

#[test]
fn an_enum_discriminant_is_four_bytes_in_ndr64() {
    let v = ByEnum::Short(0x0102);
    check(&v, LE, N20, "0100 0201");
    check(&v, BE, N20, "0001 0102");
    check(&v, LE, N64, "01000000 0201");
    check(&v, BE, N64, "00000001 0102");
    check(&ByEnum::Empty, LE, N64, "02000000");
    check(&ByEnum::Empty, BE, N64, "00000002");
    assert_eq!(<ByEnum as Ndr>::ALIGN, 2);
    assert_eq!(<ByEnum as Ndr>::ALIGN64, 4);
    // a wire value beyond 16 bits is refused, as for the enum itself
    let e = msrpc_ndr::from_bytes_in::<ByEnum>(&hex("00000100"), LE, N64, DecodeLimits::DEFAULT)
        .unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::OutOfRange { .. }), "{e}");
}

#[test]
fn a_u16_discriminant_stays_two_bytes() {
    let v = ByU16::Short(0x0102);
    check(&v, LE, N64, "0100 0201");
    check(&v, BE, N64, "0001 0102");
    check(&ByU16::Empty, BE, N64, "0002");
}

/// A 16-bit enum declaring a value beyond 16 bits (MS-FASP's FW_RULE_STATUS_CLASS, a set of
/// flag constants): it compiles, its other values encode, and encoding the wide one fails at
/// run time, as MIDL's stubs raise RPC_X_ENUM_VALUE_OUT_OF_RANGE for it.
#[derive(Ndr, Clone, Copy, Debug, PartialEq)]
#[repr(u32)]
pub enum StatusClass {
    /// In range.
    Small = 1,
    /// Beyond 16 bits.
    Big = 0x10000,
    /// Any other value.
    #[ndr(unknown)]
    Unknown(u32),
}

#[test]
fn a_16_bit_enum_may_declare_a_value_it_cannot_send() {
    check(&StatusClass::Small, LE, N20, "0100");
    check(&StatusClass::Small, BE, N64, "00000001");
    for ts in [N20, N64] {
        assert_eq!(
            msrpc_ndr::to_bytes_in(&StatusClass::Big, LE, ts),
            Err(msrpc_ndr::EncodeError::EnumValueOutOfRange {
                ty: "StatusClass",
                value: 0x10000,
                max: 0xffff
            })
        );
    }
    assert_eq!(msrpc_ndr::ndr_count(StatusClass::Big), 0x10000);
    assert_eq!(u32::from(StatusClass::Big), 0x10000);
}
