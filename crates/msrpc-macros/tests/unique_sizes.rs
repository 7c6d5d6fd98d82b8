//! Sizes taken from the referent of a `[unique]` pointer (MS-RRP's `lpcbData`): the pointer
//! counts as its referent, and as 0 when null (`msrpc_ndr::NdrCount` for `Option`, `Unique`,
//! `Full`, `Ref`), the value the published IDL spells out where it guards the dereference
//! (`size_is(lpcbData ? *lpcbData : 0)`). With the size's pointer earlier (checked at the
//! array) and later (a deferred check). Bytes by hand, NDR20 and NDR64.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use msrpc_macros::interface;
use msrpc_ndr::{
    ndr_count, DataRep, DecodeErrorKind, DecodeLimits, Full, Ref, TransferSyntax, Unique,
};

const LE: DataRep = DataRep::LITTLE_ENDIAN;
const N20: TransferSyntax = TransferSyntax::Ndr20;
const N64: TransferSyntax = TransferSyntax::Ndr64;
const LIM: DecodeLimits = DecodeLimits::DEFAULT;

/// Operations sized by `[unique]` pointers.
#[interface(uuid = "6c1f2a10-0000-4000-8000-0000000000a2", version = "1.0")]
pub trait Sizes {
    /// `[in, unique] DWORD *pcb, [in, unique, size_is(*pcb)] BYTE *data`.
    #[opnum(0)]
    fn earlier(
        #[ndr(in, unique)] pcb: Option<u32>,
        #[ndr(in, unique, size_is = "*pcb")] data: Option<Vec<u8>>,
    );

    /// MS-RRP's BaseRegQueryValue, reduced: `[in, out, unique, size_is(lpcbData ? *lpcbData
    /// : 0)] LPBYTE lpData, [in, out, unique] LPDWORD lpcbData`.
    #[opnum(1)]
    fn later(
        #[ndr(
            in,
            out,
            unique,
            size_is = "if ndr_count(pcb) != 0 { ndr_count(pcb) } else { 0 }"
        )]
        data: Option<Vec<u8>>,
        #[ndr(in, out, unique)] pcb: Option<u32>,
    );
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn pointers_count_as_their_referent_and_null_as_zero() {
    assert_eq!(ndr_count(Some(5u32)), 5);
    assert_eq!(ndr_count(None::<u32>), 0);
    assert_eq!(ndr_count(Unique::new(6u16)), 6);
    assert_eq!(ndr_count(Unique::<u16>::null()), 0);
    assert_eq!(ndr_count(Full::new(7u8)), 7);
    assert_eq!(ndr_count(Full::<u8>::null()), 0);
    assert_eq!(ndr_count(Ref::new(8u64)), 8);
    assert_eq!(ndr_count(Some(Unique::new(9u32))), 9);
}

#[test]
fn a_size_from_an_earlier_unique_pointer() {
    let v = EarlierRequest {
        pcb: Some(2),
        data: Some(vec![7, 8]),
    };
    let b20 = hex("00000200 02000000 04000200 02000000 0708");
    let b64 = hex("0000020000000000 02000000 00000000 0400020000000000 0200000000000000 0708");
    assert_eq!(v.to_stub_in(LE, N20).unwrap(), b20);
    assert_eq!(v.to_stub_in(LE, N64).unwrap(), b64);
    assert_eq!(EarlierRequest::from_stub_in(&b20, LE, N20, LIM).unwrap(), v);
    assert_eq!(EarlierRequest::from_stub_in(&b64, LE, N64, LIM).unwrap(), v);
    // a null pcb sizes data to 0: an empty array is accepted, a non-empty one is not
    let v = EarlierRequest {
        pcb: None,
        data: Some(Vec::new()),
    };
    let b = hex("0000000000000000 0000020000000000 0000000000000000");
    assert_eq!(v.to_stub_in(LE, N64).unwrap(), b);
    assert_eq!(EarlierRequest::from_stub_in(&b, LE, N64, LIM).unwrap(), v);
    assert!(EarlierRequest {
        pcb: None,
        data: Some(vec![1]),
    }
    .to_stub_in(LE, N20)
    .is_err());
    let e = EarlierRequest::from_stub_in(&hex("00000000 00000200 01000000 01"), LE, N20, LIM)
        .unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::CountMismatch {
            expected: 0,
            found: 1
        }
    );
}

#[test]
fn a_size_from_a_later_unique_pointer() {
    let q = LaterRequest {
        data: Some(vec![1, 2, 3]),
        pcb: Some(3),
    };
    let b20 = hex("00000200 03000000 010203 00 04000200 03000000");
    let b64 = hex("0000020000000000 0300000000000000 010203 0000000000 0400020000000000 03000000");
    assert_eq!(q.to_stub_in(LE, N20).unwrap(), b20);
    assert_eq!(q.to_stub_in(LE, N64).unwrap(), b64);
    assert_eq!(LaterRequest::from_stub_in(&b20, LE, N20, LIM).unwrap(), q);
    assert_eq!(LaterRequest::from_stub_in(&b64, LE, N64, LIM).unwrap(), q);
    // pcb null after a 3-element array: checked once pcb is read
    let e = LaterRequest::from_stub_in(&hex("00000200 03000000 010203 00 00000000"), LE, N20, LIM)
        .unwrap_err();
    assert_eq!(e.path(), "LaterRequest.data");
    assert_eq!(
        e.kind,
        DecodeErrorKind::CountMismatch {
            expected: 0,
            found: 3
        }
    );
    // the response: sized by pcb's [out] value
    let r = LaterResponse {
        data: Some(vec![9]),
        pcb: Some(1),
    };
    let r64 = hex("0000020000000000 0100000000000000 09 00000000000000 0400020000000000 01000000");
    assert_eq!(r.to_stub_in(&q, LE, N64).unwrap(), r64);
    assert_eq!(
        LaterResponse::from_stub_in(&r64, LE, N64, LIM, &q).unwrap(),
        r
    );
}
