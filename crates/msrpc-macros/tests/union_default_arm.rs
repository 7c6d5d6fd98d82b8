//! A union's `[default]` arm with a member (MS-LSAD's `LSA_FOREST_TRUST_RECORD`:
//! `[default] LSA_FOREST_TRUST_BINARY_DATA Data;`): any discriminant no case names selects it,
//! and its member follows the discriminant as a case arm's would (C706 14.3.8; MS-RPCE
//! 2.2.5.3.4.4 in NDR64: the union aligned to the largest of the discriminant's and the arms'
//! alignments, the arm to the largest arm alignment). The Rust form is `Data(u32, T)`: the
//! discriminant held, then the member. Bytes written out by hand, NDR20 and NDR64.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use msrpc_ndr::{
    DataRep, DecodeErrorKind, DecodeLimits, EncodeError, Ndr, NdrUnion, TransferSyntax, Unique,
};

const LE: DataRep = DataRep::LITTLE_ENDIAN;
const N20: TransferSyntax = TransferSyntax::Ndr20;
const N64: TransferSyntax = TransferSyntax::Ndr64;

/// `LSA_FOREST_TRUST_BINARY_DATA`: `[range(0, 131072)] ULONG Length; [size_is(Length)] UCHAR
/// *Buffer;`.
#[derive(Ndr, Clone, Debug, PartialEq)]
pub struct Binary {
    #[ndr(range(0, 131072))]
    length: u32,
    #[ndr(size_is = "length")]
    buffer: Unique<Vec<u8>>,
}

/// `LSA_FOREST_TRUST_RECORD`'s union, reduced: a scalar case, a case with a pointer, and the
/// default arm with a member.
#[derive(Ndr, Clone, Debug, PartialEq)]
pub enum Record {
    /// A scalar case.
    #[ndr(case = 0)]
    Flags(u16),
    /// A case with a pointer.
    #[ndr(case = 2)]
    Sid(Unique<u32>),
    /// Any other discriminant, and the member.
    #[ndr(default)]
    Data(u32, Binary),
}

/// A structure holding the union, as LSA_FOREST_TRUST_RECORD does (its deferred buffers come
/// after the structure's scalars).
#[derive(Ndr, Clone, Debug, PartialEq)]
pub struct Holder {
    #[ndr(switch_is = "kind")]
    data: Record,
    kind: u32,
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn both<T: Ndr + PartialEq + std::fmt::Debug>(v: &T, b20: &str, b64: &str) {
    let (b20, b64) = (hex(b20), hex(b64));
    assert_eq!(msrpc_ndr::to_bytes_in(v, LE, N20).unwrap(), b20, "NDR20");
    assert_eq!(msrpc_ndr::to_bytes_in(v, LE, N64).unwrap(), b64, "NDR64");
    let d: T = msrpc_ndr::from_bytes_in(&b20, LE, N20, DecodeLimits::DEFAULT).unwrap();
    assert_eq!(&d, v);
    let d: T = msrpc_ndr::from_bytes_in(&b64, LE, N64, DecodeLimits::DEFAULT).unwrap();
    assert_eq!(&d, v);
}

#[test]
fn the_default_arm_carries_its_member() {
    let v = Record::Data(
        7,
        Binary {
            length: 3,
            buffer: Unique::new(vec![1, 2, 3]),
        },
    );
    assert_eq!(v.discriminant(), 7);
    both(
        &v,
        // discriminant; Length, Buffer's referent id; then Buffer's max_count and bytes
        "07000000 03000000 00000200 03000000 010203",
        // discriminant, pad to the arms' alignment (8: a pointer); Length, pad, referent id;
        // max_count (8 bytes), bytes
        "07000000 00000000 03000000 00000000 0000020000000000 0300000000000000 010203",
    );
    // a case arm is unchanged beside it
    both(
        &Record::Flags(0x0102),
        "00000000 0201",
        "00000000 00000000 0201",
    );
    both(
        &Record::Sid(Unique::new(0x11223344)),
        "02000000 00000200 44332211",
        "02000000 00000000 0000020000000000 44332211",
    );
}

#[test]
fn inside_a_structure_its_member_buffers_are_deferred() {
    let v = Holder {
        data: Record::Data(
            9,
            Binary {
                length: 2,
                buffer: Unique::new(vec![0xaa, 0xbb]),
            },
        ),
        kind: 9,
    };
    both(
        &v,
        // the union's scalars, kind, then Buffer's referent
        "09000000 02000000 00000200 09000000 02000000 aabb",
        // NDR64: the structure aligned to 8; union (discriminant, pad, Length, pad, referent
        // id), kind, trailing pad to 8; then Buffer's max_count and bytes
        "09000000 00000000 02000000 00000000 0000020000000000 09000000 00000000 0200000000000000 aabb",
    );
}

#[test]
fn decoding_any_unnamed_discriminant_takes_the_default_arm() {
    // discriminant 1, between the cases 0 and 2
    let b = hex("01000000 00000000 00000000");
    let d: Record = msrpc_ndr::from_bytes_in(&b, LE, N20, DecodeLimits::DEFAULT).unwrap();
    assert_eq!(
        d,
        Record::Data(
            1,
            Binary {
                length: 0,
                buffer: Unique::null()
            }
        )
    );
    // the member's own checks still apply: Length beyond its range
    let b = hex("05000000 00000300 00000000");
    let e = msrpc_ndr::from_bytes_in::<Record>(&b, LE, N20, DecodeLimits::DEFAULT).unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::OutOfRange { .. }), "{e}");
    assert_eq!(e.path(), "Record.Data.length");
}

#[test]
fn encoding_refuses_a_default_arm_naming_a_case() {
    let v = Record::Data(
        2,
        Binary {
            length: 0,
            buffer: Unique::null(),
        },
    );
    assert_eq!(
        msrpc_ndr::to_bytes_in(&v, LE, N64),
        Err(EncodeError::DefaultArmNamesACase {
            ty: "Record",
            discriminant: 2
        })
    );
}
