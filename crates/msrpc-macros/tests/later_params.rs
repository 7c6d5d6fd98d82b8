//! Sizes (and switches) naming a parameter the message carries *after* the value they size:
//! `[in, size_is(cb)] BYTE *p, [in] DWORD cb` (SCMR, RPRN, NRPC, BKRP, C706 conv). NDR puts an
//! array's conformance with the array, in parameter order (C706 14.3.3.2; MS-RPCE 4.6's
//! correlation example), so the encoder takes it from the later parameter's value and the
//! decoder reads it from the wire, then checks it against the later parameter once that is
//! decoded: the correlation check of MIDL's `/robust` stubs, and what Samba's pidl generates
//! (`ndr_pull_array_size` stores the wire count, `ndr_check_array_size` compares it after the
//! function's last parameter, skipped for a null pointer). Every stub below is written out by
//! hand from those rules, in NDR20 and NDR64 (MS-RPCE 2.2.5: 8-byte counts and referent ids).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use msrpc_macros::interface;
use msrpc_ndr::{DataRep, DecodeErrorKind, DecodeLimits, EncodeError, Ndr, TransferSyntax, Unique};

const LE: DataRep = DataRep::LITTLE_ENDIAN;
const N20: TransferSyntax = TransferSyntax::Ndr20;
const N64: TransferSyntax = TransferSyntax::Ndr64;
const LIM: DecodeLimits = DecodeLimits::DEFAULT;

/// A union selected by a later parameter.
#[derive(Ndr, Clone, Debug, PartialEq)]
pub enum Info {
    /// Case 1.
    #[ndr(case = 1)]
    A(u32),
    /// Case 2.
    #[ndr(case = 2)]
    B(u16),
}

/// Operations shaped like the published IDL's.
#[interface(uuid = "6c1f2a10-0000-4000-8000-0000000000a1", version = "1.0")]
pub trait Later {
    /// NRPC's `NetrLogonSendToSam`: `[in, size_is(OpaqueBufferSize)] UCHAR *OpaqueBuffer,
    /// [in] ULONG OpaqueBufferSize`.
    #[opnum(0)]
    fn put(#[ndr(in, size_is = "cb")] p: Vec<u8>, #[ndr(in)] cb: u32);

    /// SCMR's `RChangeServiceConfigW`: `[in, unique, size_is(dwDependSize)] LPBYTE
    /// lpDependencies, [in] DWORD dwDependSize`.
    #[opnum(1)]
    fn put_unique(#[ndr(in, unique, size_is = "cb")] p: Option<Vec<u8>>, #[ndr(in)] cb: u32);

    /// C706 conv's `conv_who_are_you_auth`: the request's `in_data` sized by the later
    /// `in_len`; the response's `out_data` `[length_is(*out_len), size_is(out_max_len)]`,
    /// `out_len` an `[out]` after it, `out_max_len` an `[in]`.
    #[opnum(2)]
    fn conv(
        #[ndr(in, size_is = "in_len")] in_data: Vec<u8>,
        #[ndr(in)] in_len: i32,
        #[ndr(in)] out_max_len: i32,
        #[ndr(out, length_is = "*out_len", size_is = "out_max_len")] out_data: Vec<u8>,
        #[ndr(out)] out_len: i32,
    );

    /// BKRP's `BackuprKey`: `[out, size_is(, *pcbDataOut)] byte **ppDataOut, [out] DWORD
    /// *pcbDataOut`.
    #[opnum(3)]
    fn backup(
        #[ndr(out, size_is = "*pcb_data_out")] pp_data_out: Unique<Vec<u8>>,
        #[ndr(out)] pcb_data_out: u32,
    );

    /// SCMR's `RGetServiceDisplayNameW`: `[out, string, size_is(*lpcchBuffer + 1)] wchar_t
    /// *lpDisplayName, [in, out] DWORD *lpcchBuffer` (the response's `lpcchBuffer`: the
    /// `[out]` value, what the server holds when it marshals).
    #[opnum(4)]
    fn display_name(
        #[ndr(out, string, size_is = "*cch + 1")] name: String,
        #[ndr(in, out)] cch: u32,
    );

    /// A union whose discriminant a later parameter gives.
    #[opnum(5)]
    fn select(#[ndr(in, switch_is = "level")] info: Info, #[ndr(in)] level: u32);
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn kind(e: msrpc_ndr::DecodeError) -> DecodeErrorKind {
    e.kind
}

#[test]
fn a_conformant_array_sized_by_a_later_in_parameter() {
    let req = PutRequest {
        p: vec![1, 2, 3],
        cb: 3,
    };
    // max_count (= cb), the elements, padding to cb's alignment, cb.
    let b20 = hex("03000000 010203 00 03000000");
    let b64 = hex("0300000000000000 010203 00 03000000");
    assert_eq!(req.to_stub_in(LE, N20).unwrap(), b20);
    assert_eq!(req.to_stub_in(LE, N64).unwrap(), b64);
    assert_eq!(PutRequest::from_stub_in(&b20, LE, N20, LIM).unwrap(), req);
    assert_eq!(PutRequest::from_stub_in(&b64, LE, N64, LIM).unwrap(), req);

    // cb disagreeing with the array: refused when encoding, and when decoding once cb is read
    // (the array itself decodes with the wire's count).
    let bad = PutRequest {
        p: vec![1, 2, 3],
        cb: 4,
    };
    assert!(matches!(
        bad.to_stub_in(LE, N20),
        Err(EncodeError::CountMismatch {
            expected: 4,
            actual: 3,
            ..
        })
    ));
    let mut w20 = b20.clone();
    w20[8] = 4;
    let e = PutRequest::from_stub_in(&w20, LE, N20, LIM).unwrap_err();
    assert_eq!(e.path(), "PutRequest.p", "{e}");
    assert_eq!(
        kind(e),
        DecodeErrorKind::CountMismatch {
            expected: 4,
            found: 3
        }
    );
    let mut w64 = b64.clone();
    w64[12] = 2;
    assert_eq!(
        kind(PutRequest::from_stub_in(&w64, LE, N64, LIM).unwrap_err()),
        DecodeErrorKind::CountMismatch {
            expected: 2,
            found: 3
        }
    );
    // a max_count beyond the data fails at the array, before cb is reached
    let mut huge = b20.clone();
    huge[..4].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    assert!(PutRequest::from_stub_in(&huge, LE, N20, LIM).is_err());
}

#[test]
fn a_unique_pointer_to_an_array_sized_by_a_later_parameter() {
    let req = PutUniqueRequest {
        p: Some(vec![7, 8, 9]),
        cb: 3,
    };
    // referent id, max_count, elements, pad, cb
    let b20 = hex("00000200 03000000 070809 00 03000000");
    let b64 = hex("0000020000000000 0300000000000000 070809 00 03000000");
    assert_eq!(req.to_stub_in(LE, N20).unwrap(), b20);
    assert_eq!(req.to_stub_in(LE, N64).unwrap(), b64);
    assert_eq!(
        PutUniqueRequest::from_stub_in(&b20, LE, N20, LIM).unwrap(),
        req
    );
    assert_eq!(
        PutUniqueRequest::from_stub_in(&b64, LE, N64, LIM).unwrap(),
        req
    );

    // a null pointer: no array, nothing to check cb against (pidl's `if (r->in.p)` guard)
    let null = PutUniqueRequest { p: None, cb: 5 };
    let n20 = hex("00000000 05000000");
    let n64 = hex("0000000000000000 05000000");
    assert_eq!(null.to_stub_in(LE, N20).unwrap(), n20);
    assert_eq!(null.to_stub_in(LE, N64).unwrap(), n64);
    assert_eq!(
        PutUniqueRequest::from_stub_in(&n20, LE, N20, LIM).unwrap(),
        null
    );
    assert_eq!(
        PutUniqueRequest::from_stub_in(&n64, LE, N64, LIM).unwrap(),
        null
    );

    let mut w = b64.clone();
    w[20] = 1;
    let e = PutUniqueRequest::from_stub_in(&w, LE, N64, LIM).unwrap_err();
    assert_eq!(e.path(), "PutUniqueRequest.p");
    assert_eq!(
        kind(e),
        DecodeErrorKind::CountMismatch {
            expected: 1,
            found: 3
        }
    );
}

#[test]
fn c706_conv_request_and_response() {
    let req = ConvRequest {
        in_data: vec![1, 2],
        in_len: 2,
        out_max_len: 8,
    };
    let q20 = hex("02000000 0102 0000 02000000 08000000");
    let q64 = hex("0200000000000000 0102 0000 02000000 08000000");
    assert_eq!(req.to_stub_in(LE, N20).unwrap(), q20);
    assert_eq!(req.to_stub_in(LE, N64).unwrap(), q64);
    assert_eq!(ConvRequest::from_stub_in(&q64, LE, N64, LIM).unwrap(), req);
    assert_eq!(ConvRequest::from_stub_in(&q20, LE, N20, LIM).unwrap(), req);

    // out_data: max_count (out_max_len, from the request), offset 0, actual_count (out_len,
    // which follows), the elements; then out_len.
    let resp = ConvResponse {
        out_data: vec![9, 9, 9],
        out_len: 3,
    };
    let r20 = hex("08000000 00000000 03000000 090909 00 03000000");
    let r64 = hex("0800000000000000 0000000000000000 0300000000000000 090909 00 03000000");
    assert_eq!(resp.to_stub_in(&req, LE, N20).unwrap(), r20);
    assert_eq!(resp.to_stub_in(&req, LE, N64).unwrap(), r64);
    assert_eq!(
        ConvResponse::from_stub_in(&r20, LE, N20, LIM, &req).unwrap(),
        resp
    );
    assert_eq!(
        ConvResponse::from_stub_in(&r64, LE, N64, LIM, &req).unwrap(),
        resp
    );

    // out_len disagreeing with actual_count, and max_count with out_max_len
    let mut w = r20.clone();
    w[16] = 2;
    let e = ConvResponse::from_stub_in(&w, LE, N20, LIM, &req).unwrap_err();
    assert_eq!(e.path(), "ConvResponse.out_data");
    assert_eq!(
        kind(e),
        DecodeErrorKind::CountMismatch {
            expected: 2,
            found: 3
        }
    );
    let mut w = r64.clone();
    w[0] = 9;
    assert_eq!(
        kind(ConvResponse::from_stub_in(&w, LE, N64, LIM, &req).unwrap_err()),
        DecodeErrorKind::CountMismatch {
            expected: 8,
            found: 9
        }
    );
    // encoding refuses an out_len other than the data's length
    let bad = ConvResponse {
        out_data: vec![9, 9, 9],
        out_len: 4,
    };
    assert!(matches!(
        bad.to_stub_in(&req, LE, N64),
        Err(EncodeError::CountMismatch { .. })
    ));
}

#[test]
fn bkrp_out_pointer_to_an_array_sized_by_a_later_out_parameter() {
    let req = BackupRequest {};
    let resp = BackupResponse {
        pp_data_out: Unique::new(vec![0xaa, 0xbb, 0xcc, 0xdd]),
        pcb_data_out: 4,
    };
    let r20 = hex("00000200 04000000 aabbccdd 04000000");
    let r64 = hex("0000020000000000 0400000000000000 aabbccdd 04000000");
    assert_eq!(resp.to_stub_in(&req, LE, N20).unwrap(), r20);
    assert_eq!(resp.to_stub_in(&req, LE, N64).unwrap(), r64);
    assert_eq!(
        BackupResponse::from_stub_in(&r20, LE, N20, LIM, &req).unwrap(),
        resp
    );
    assert_eq!(
        BackupResponse::from_stub_in(&r64, LE, N64, LIM, &req).unwrap(),
        resp
    );

    let null = BackupResponse {
        pp_data_out: Unique::null(),
        pcb_data_out: 0,
    };
    let n64 = hex("0000000000000000 00000000");
    assert_eq!(null.to_stub_in(&req, LE, N64).unwrap(), n64);
    assert_eq!(
        BackupResponse::from_stub_in(&n64, LE, N64, LIM, &req).unwrap(),
        null
    );

    let mut w = r20.clone();
    w[12] = 3;
    assert_eq!(
        kind(BackupResponse::from_stub_in(&w, LE, N20, LIM, &req).unwrap_err()),
        DecodeErrorKind::CountMismatch {
            expected: 3,
            found: 4
        }
    );
}

#[test]
fn a_string_sized_by_a_later_in_out_parameter() {
    let req = DisplayNameRequest { cch: 100 };
    assert_eq!(req.to_stub_in(LE, N64).unwrap(), hex("64000000"));
    // "ab": max_count = cch + 1 = 3 (cch's [out] value), offset 0, actual_count 3, the
    // units and the terminator, pad, cch.
    let resp = DisplayNameResponse {
        name: "ab".into(),
        cch: 2,
    };
    let r20 = hex("03000000 00000000 03000000 6100 6200 0000 0000 02000000");
    let r64 =
        hex("0300000000000000 0000000000000000 0300000000000000 6100 6200 0000 0000 02000000");
    assert_eq!(resp.to_stub_in(&req, LE, N20).unwrap(), r20);
    assert_eq!(resp.to_stub_in(&req, LE, N64).unwrap(), r64);
    assert_eq!(
        DisplayNameResponse::from_stub_in(&r20, LE, N20, LIM, &req).unwrap(),
        resp
    );
    assert_eq!(
        DisplayNameResponse::from_stub_in(&r64, LE, N64, LIM, &req).unwrap(),
        resp
    );

    // a max_count other than cch + 1
    let mut w = r20.clone();
    w[20] = 5;
    assert_eq!(
        kind(DisplayNameResponse::from_stub_in(&w, LE, N20, LIM, &req).unwrap_err()),
        DecodeErrorKind::CountMismatch {
            expected: 6,
            found: 3
        }
    );
}

#[test]
fn a_union_selected_by_a_later_parameter() {
    let req = SelectRequest {
        info: Info::B(0x1234),
        level: 2,
    };
    // discriminant, arm, level
    let b20 = hex("02000000 3412 0000 02000000");
    assert_eq!(req.to_stub_in(LE, N20).unwrap(), b20);
    assert_eq!(req.to_stub_in(LE, N64).unwrap(), b20);
    assert_eq!(
        SelectRequest::from_stub_in(&b20, LE, N20, LIM).unwrap(),
        req
    );
    assert_eq!(
        SelectRequest::from_stub_in(&b20, LE, N64, LIM).unwrap(),
        req
    );
    let mut w = b20.clone();
    w[8] = 1;
    assert_eq!(
        kind(SelectRequest::from_stub_in(&w, LE, N20, LIM).unwrap_err()),
        DecodeErrorKind::DiscriminantMismatch {
            expected: 1,
            found: 2
        }
    );
    let bad = SelectRequest {
        info: Info::A(1),
        level: 2,
    };
    assert!(matches!(
        bad.to_stub_in(LE, N20),
        Err(EncodeError::DiscriminantMismatch { .. })
    ));
}
