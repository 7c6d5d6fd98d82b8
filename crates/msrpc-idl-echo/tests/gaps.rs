//! The code generated from `crates/msrpc-idl/tests/idl/gaps.idl` (operations shaped like the
//! published IDL's) against stubs written out by hand from C706 ch. 14 and MS-RPCE 2.2.5, in
//! NDR20 and NDR64 (8-byte counts and referent ids, each aligned to 8).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use msrpc_idl_echo::gaps::*;
use msrpc_ndr::{
    DataRep, DecodeErrorKind, DecodeLimits, EncodeError, Full, Pipe, TransferSyntax, Unique,
};

const LE: DataRep = DataRep::LITTLE_ENDIAN;
const N20: TransferSyntax = TransferSyntax::Ndr20;
const N64: TransferSyntax = TransferSyntax::Ndr64;
const LIM: DecodeLimits = DecodeLimits::DEFAULT;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Encodes `$v` (a request) in both syntaxes, compares with `$b20`/`$b64`, decodes them back.
macro_rules! request {
    ($ty:ident, $v:expr, $b20:expr, $b64:expr) => {{
        let v = $v;
        let (b20, b64) = (hex($b20), hex($b64));
        assert_eq!(v.to_stub_in(LE, N20).unwrap(), b20, "NDR20 {v:?}");
        assert_eq!(v.to_stub_in(LE, N64).unwrap(), b64, "NDR64 {v:?}");
        assert_eq!($ty::from_stub_in(&b20, LE, N20, LIM).unwrap(), v);
        assert_eq!($ty::from_stub_in(&b64, LE, N64, LIM).unwrap(), v);
        (b20, b64)
    }};
}

/// The same for a response to request `$req`.
macro_rules! response {
    ($ty:ident, $req:expr, $v:expr, $b20:expr, $b64:expr) => {{
        let (req, v) = ($req, $v);
        let (b20, b64) = (hex($b20), hex($b64));
        assert_eq!(v.to_stub_in(&req, LE, N20).unwrap(), b20, "NDR20 {v:?}");
        assert_eq!(v.to_stub_in(&req, LE, N64).unwrap(), b64, "NDR64 {v:?}");
        assert_eq!($ty::from_stub_in(&b20, LE, N20, LIM, &req).unwrap(), v);
        assert_eq!($ty::from_stub_in(&b64, LE, N64, LIM, &req).unwrap(), v);
        (b20, b64)
    }};
}

// ------------------------------------------------------------- 1. sizes naming later parameters

#[test]
fn nrpc_send_to_sam_buffer_before_its_size() {
    let (b20, b64) = request!(
        SendToSamRequest,
        SendToSamRequest {
            opaque_buffer: vec![0xde, 0xad, 0xbe],
            opaque_buffer_size: 3,
        },
        // max_count, elements, pad to 4, OpaqueBufferSize
        "03000000 deadbe 00 03000000",
        "0300000000000000 deadbe 00 03000000"
    );
    // OpaqueBufferSize disagreeing with the array's max_count: refused once it is read
    for (mut b, syntax, at) in [(b20, N20, 8), (b64, N64, 12)] {
        b[at] = 2;
        let e = SendToSamRequest::from_stub_in(&b, LE, syntax, LIM).unwrap_err();
        assert_eq!(e.path(), "SendToSamRequest.opaque_buffer");
        assert_eq!(
            e.kind,
            DecodeErrorKind::CountMismatch {
                expected: 2,
                found: 3
            }
        );
    }
}

#[test]
fn scmr_change_config_unique_buffers_before_their_sizes() {
    request!(
        ChangeConfigRequest,
        ChangeConfigRequest {
            lp_dependencies: Some(vec![1, 2]),
            dw_depend_size: 2,
            lp_password: None,
            dw_pw_size: 0,
        },
        // referent id, max_count, elements, pad, dwDependSize, null, dwPwSize
        "00000200 02000000 0102 0000 02000000 00000000 00000000",
        "0000020000000000 0200000000000000 0102 0000 02000000 0000000000000000 00000000"
    );
    // a null lpPassword with a non-zero dwPwSize: no array, no check (pidl's null guard)
    request!(
        ChangeConfigRequest,
        ChangeConfigRequest {
            lp_dependencies: None,
            dw_depend_size: 7,
            lp_password: None,
            dw_pw_size: 9,
        },
        "00000000 07000000 00000000 09000000",
        "0000000000000000 07000000 00000000 0000000000000000 09000000"
    );
}

#[test]
fn bkrp_backup_key_output_sized_by_a_later_out() {
    let q = BackupKeyRequest {
        p_data_in: vec![0x10, 0x20, 0x30],
        cb_data_in: 3,
        dw_param: 1,
    };
    request!(
        BackupKeyRequest,
        q.clone(),
        "03000000 102030 00 03000000 01000000",
        "0300000000000000 102030 00 03000000 01000000"
    );
    // *ppDataOut: referent id, max_count (*pcbDataOut, which follows), elements; then
    // pcbDataOut, the return value.
    let (b20, _) = response!(
        BackupKeyResponse,
        q.clone(),
        BackupKeyResponse {
            pp_data_out: Unique::new(vec![0xaa, 0xbb]),
            pcb_data_out: 2,
            result: 0,
        },
        "00000200 02000000 aabb 0000 02000000 00000000",
        "0000020000000000 0200000000000000 aabb 0000 02000000 00000000"
    );
    let mut w = b20;
    w[12] = 1;
    let e = BackupKeyResponse::from_stub_in(&w, LE, N20, LIM, &q).unwrap_err();
    assert_eq!(e.path(), "BackupKeyResponse.pp_data_out");
    assert_eq!(
        e.kind,
        DecodeErrorKind::CountMismatch {
            expected: 1,
            found: 2
        }
    );
}

#[test]
fn c706_conv_who_are_you_auth() {
    let q = WhoAreYouAuthRequest {
        in_data: vec![5],
        in_len: 1,
        out_max_len: 4,
    };
    // the handle_t is not on the wire
    request!(
        WhoAreYouAuthRequest,
        q.clone(),
        "01000000 05 000000 01000000 04000000",
        "0100000000000000 05 000000 01000000 04000000"
    );
    // out_data: max_count (out_max_len), offset, actual_count (*out_len, which follows)
    let (_, b64) = response!(
        WhoAreYouAuthResponse,
        q.clone(),
        WhoAreYouAuthResponse {
            out_data: vec![6, 7],
            out_len: 2,
        },
        "04000000 00000000 02000000 0607 0000 02000000",
        "0400000000000000 0000000000000000 0200000000000000 0607 0000 02000000"
    );
    let mut w = b64;
    w[28] = 3;
    assert_eq!(
        WhoAreYouAuthResponse::from_stub_in(&w, LE, N64, LIM, &q)
            .unwrap_err()
            .kind,
        DecodeErrorKind::CountMismatch {
            expected: 3,
            found: 2
        }
    );
}

#[test]
fn scmr_display_name_sized_by_a_later_in_out() {
    let q = GetDisplayNameRequest { lpcch_buffer: 10 };
    request!(GetDisplayNameRequest, q.clone(), "0a000000", "0a000000");
    // max_count = *lpcchBuffer + 1 with lpcchBuffer's [out] value (2), offset, actual_count,
    // "ab\0", pad, lpcchBuffer, the return value
    response!(
        GetDisplayNameResponse,
        q,
        GetDisplayNameResponse {
            lp_display_name: "ab".into(),
            lpcch_buffer: 2,
            result: 0,
        },
        "03000000 00000000 03000000 6100 6200 0000 0000 02000000 00000000",
        "0300000000000000 0000000000000000 0300000000000000 6100 6200 0000 0000 02000000 00000000"
    );
}

// ------------------------------------------------------------- 2. a [default] arm with a member

#[test]
fn lsad_forest_trust_record_default_arm() {
    let rec = |t: u32, data: LsaForestTrustRecordForestTrustData| SetForestTrustRecordRequest {
        record: LsaForestTrustRecord {
            flags: 1,
            forest_trust_type: t,
            forest_trust_data: data,
        },
    };
    let binary = LsaForestTrustBinaryData {
        length: 2,
        buffer: Unique::new(vec![0xaa, 0xbb]),
    };
    let (b20, _) = request!(
        SetForestTrustRecordRequest,
        rec(
            5,
            LsaForestTrustRecordForestTrustData::Data(5, binary.clone())
        ),
        // Flags, ForestTrustType, the union (discriminant, Length, Buffer's referent id),
        // then Buffer: max_count, bytes
        "01000000 05000000 05000000 02000000 00000200 02000000 aabb",
        // NDR64: the union aligned to 8 (its arm holds a pointer), the arm after the
        // discriminant aligned to 8; the pointer aligned to 8
        "01000000 05000000 05000000 00000000 02000000 00000000 0000020000000000 0200000000000000 aabb"
    );
    // a case beside it
    request!(
        SetForestTrustRecordRequest,
        rec(2, LsaForestTrustRecordForestTrustData::DomainInfo(0x42)),
        "01000000 02000000 02000000 42000000",
        "01000000 02000000 02000000 00000000 42000000 00000000"
    );
    // ForestTrustType must still select the arm the discriminant names
    let mut w = b20;
    w[4] = 6;
    let e = SetForestTrustRecordRequest::from_stub_in(&w, LE, N20, LIM).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::DiscriminantMismatch {
            expected: 6,
            found: 5
        }
    );
}

// ------------------------------------------------- 3. sizes from a [unique] pointer's referent

#[test]
fn rrp_query_value_sized_by_unique_pointers() {
    let q = QueryValueRequest {
        lp_type: Some(1),
        lp_data: Some(vec![1, 2, 3]),
        lpcb_data: Some(8),
        lpcb_len: Some(3),
    };
    let (b20, _) = request!(
        QueryValueRequest,
        q.clone(),
        // lpType (referent id, value); lpData (referent id; max_count *lpcbData, offset,
        // actual_count *lpcbLen, bytes, pad); lpcbData; lpcbLen
        "00000200 01000000 \
         04000200 08000000 00000000 03000000 010203 00 \
         08000200 08000000 \
         0c000200 03000000",
        "0000020000000000 01000000 00000000 \
         0400020000000000 0800000000000000 0000000000000000 0300000000000000 010203 0000000000 \
         0800020000000000 08000000 00000000 \
         0c00020000000000 03000000"
    );
    // lpcbData null: lpData's size is 0 (`lpcbData ? *lpcbData : 0`)
    let empty = QueryValueRequest {
        lp_type: None,
        lp_data: Some(Vec::new()),
        lpcb_data: None,
        lpcb_len: None,
    };
    request!(
        QueryValueRequest,
        empty,
        "00000000 00000200 00000000 00000000 00000000 00000000 00000000",
        "0000000000000000 0000020000000000 0000000000000000 0000000000000000 0000000000000000 \
         0000000000000000 0000000000000000"
    );
    // data with a null size pointer: refused both ways
    let bad = QueryValueRequest {
        lp_type: None,
        lp_data: Some(vec![1]),
        lpcb_data: None,
        lpcb_len: Some(1),
    };
    assert!(bad.to_stub_in(LE, N20).is_err());
    // max_count 8 on the wire with lpcbData null (its referent id zeroed, its value dropped)
    let mut w = b20[..28].to_vec();
    w.extend_from_slice(&hex("00000000 0c000200 03000000"));
    let e = QueryValueRequest::from_stub_in(&w, LE, N20, LIM).unwrap_err();
    assert_eq!(e.path(), "QueryValueRequest.lp_data");
    assert_eq!(
        e.kind,
        DecodeErrorKind::CountMismatch {
            expected: 0,
            found: 8
        }
    );

    // the response: the same layout, sized by the [out] values
    let r = QueryValueResponse {
        lp_type: Some(3),
        lp_data: Some(vec![0x61, 0x62]),
        lpcb_data: Some(2),
        lpcb_len: Some(2),
        result: 0,
    };
    response!(
        QueryValueResponse,
        q,
        r,
        "00000200 03000000 \
         04000200 02000000 00000000 02000000 6162 0000 \
         08000200 02000000 \
         0c000200 02000000 00000000",
        "0000020000000000 03000000 00000000 \
         0400020000000000 0200000000000000 0000000000000000 0200000000000000 6162 000000000000 \
         0800020000000000 02000000 00000000 \
         0c00020000000000 02000000 00000000"
    );
}

#[test]
fn a_size_from_an_earlier_unique_pointer() {
    request!(
        SizedByUniqueRequest,
        SizedByUniqueRequest {
            pcb: Some(2),
            data: Some(vec![7, 8]),
        },
        "00000200 02000000 04000200 02000000 0708",
        "0000020000000000 02000000 00000000 0400020000000000 0200000000000000 0708"
    );
    // pcb null: size 0, so data is absent or empty
    request!(
        SizedByUniqueRequest,
        SizedByUniqueRequest {
            pcb: None,
            data: Some(Vec::new()),
        },
        "00000000 00000200 00000000",
        "0000000000000000 0000020000000000 0000000000000000"
    );
    request!(
        SizedByUniqueRequest,
        SizedByUniqueRequest {
            pcb: None,
            data: None,
        },
        "00000000 00000000",
        "0000000000000000 0000000000000000"
    );
    let e = SizedByUniqueRequest::from_stub_in(&hex("00000000 00000200 01000000 07"), LE, N20, LIM)
        .unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::CountMismatch {
            expected: 0,
            found: 1
        }
    );
}

// ------------------------------------------------------------- an anonymous union member

#[test]
fn scmr_config_info_anonymous_union() {
    request!(
        ChangeServiceConfig2WRequest,
        ChangeServiceConfig2WRequest {
            info: ScRpcConfigInfow {
                dw_info_level: 2,
                u: ScRpcConfigInfowU::Psda(5),
            },
        },
        // dwInfoLevel, the union's discriminant and arm; NDR64: the union (a pointer arm)
        // aligned to 8, its arm to 8, the structure padded to 8
        "02000000 02000000 05000000",
        "02000000 00000000 02000000 00000000 05000000 00000000"
    );
    request!(
        ChangeServiceConfig2WRequest,
        ChangeServiceConfig2WRequest {
            info: ScRpcConfigInfow {
                dw_info_level: 1,
                u: ScRpcConfigInfowU::Psd(Unique::new(7)),
            },
        },
        "01000000 01000000 00000200 07000000",
        "01000000 00000000 01000000 00000000 0000020000000000 07000000"
    );
}

// ------------------------------------------------------------- a union switched by an enum

#[test]
fn a_union_switched_by_an_enum() {
    // Type (an enum: 2 bytes, 4 in NDR64), the discriminant (likewise), the short arm; NDR64
    // pads the structure to 4
    request!(
        SetElementRequest,
        SetElementRequest {
            e: Element {
                r#type: ElementType::ElementShort,
                u: ElementU::S(0x0102),
            },
        },
        "0100 0100 0201",
        "01000000 01000000 0201 0000"
    );
    request!(
        SetElementRequest,
        SetElementRequest {
            e: Element {
                r#type: ElementType::ElementNone,
                u: ElementU::Case2,
            },
        },
        "0200 0200",
        "02000000 02000000"
    );
}

// ------------------------------------------------------------------------------------ 4. pipes

#[test]
fn efsr_read_file_raw_out_pipe_before_the_return_value() {
    let q = ReadFileRawRequest { h_context: 7 };
    request!(ReadFileRawRequest, q.clone(), "07000000", "07000000");
    response!(
        ReadFileRawResponse,
        q.clone(),
        ReadFileRawResponse {
            efs_out_pipe: Pipe::new(vec![0xaa, 0xbb, 0xcc]),
            result: 0,
        },
        // NDR20: chunk count, elements, pad to 4; the empty chunk; the return value
        "03000000 aabbcc 00 00000000 00000000",
        // NDR64: 64-bit count, elements, pad to 8, -3; the final chunk (0, 0); the return value
        "0300000000000000 aabbcc 0000000000 fdffffffffffffff
         0000000000000000 0000000000000000 00000000"
    );
    // an empty pipe is the final chunk alone
    response!(
        ReadFileRawResponse,
        q,
        ReadFileRawResponse {
            efs_out_pipe: Pipe::default(),
            result: 5,
        },
        "00000000 05000000",
        "0000000000000000 0000000000000000 05000000"
    );
}

#[test]
fn efsr_write_file_raw_in_pipe_after_the_other_in_parameters() {
    // EfsInPipe is declared first but travels after hContext
    request!(
        WriteFileRawRequest,
        WriteFileRawRequest {
            efs_in_pipe: Pipe::new(vec![1, 2]),
            h_context: 7,
        },
        "07000000 02000000 0102 0000 00000000",
        "07000000 00000000 0200000000000000 0102 000000000000 feffffffffffffff
         0000000000000000 0000000000000000"
    );
}

#[test]
fn pipes_of_structures_in_both_directions() {
    let q = PairPipesRequest {
        r#in: Pipe::new(vec![PipePair {
            tag: 1,
            value: 0x1122_3344_5566_7788,
        }]),
        before: 9,
    };
    let (b20, b64) = request!(
        PairPipesRequest,
        q.clone(),
        // Before; pad; chunk of 1; the element (aligned to 8: tag, pad, hyper); final chunk
        "0900 0000 01000000 0100 000000000000 8877665544332211 00000000",
        "0900 000000000000 0100000000000000 0100 000000000000 8877665544332211
         ffffffffffffffff 0000000000000000 0000000000000000"
    );
    let out = Pipe::new(vec![
        PipePair {
            tag: 2,
            value: 0x0102_0304_0506_0708,
        },
        PipePair { tag: 3, value: -1 },
    ]);
    response!(
        PairPipesResponse,
        q.clone(),
        PairPipesResponse {
            count: 2,
            out,
            result: 0,
        },
        // Out first (chunk of 2, pad to 8, two elements, final chunk), then Count, the result
        "02000000 00000000 0200 000000000000 0807060504030201 0300 000000000000 ffffffffffffffff
         00000000 02000000 00000000",
        "0200000000000000 0200 000000000000 0807060504030201 0300 000000000000 ffffffffffffffff
         feffffffffffffff 0000000000000000 0000000000000000 02000000 00000000"
    );
    // hostile chunks: a count beyond the message, and an NDR64 chunk whose closing count is
    // not its negation
    let mut bad20 = b20.clone();
    bad20[4] = 0xff;
    let e = PairPipesRequest::from_stub_in(&bad20, LE, N20, LIM).unwrap_err();
    assert_eq!(e.path(), "PairPipesRequest.in.pipe chunk");
    assert!(
        matches!(e.kind, DecodeErrorKind::CountBeyondData { .. }),
        "{e}"
    );
    let mut bad64 = b64.clone();
    bad64[32] = 0xfe;
    let e = PairPipesRequest::from_stub_in(&bad64, LE, N64, LIM).unwrap_err();
    assert_eq!(e.path(), "PairPipesRequest.in");
    assert!(matches!(e.kind, DecodeErrorKind::Invalid(_)), "{e}");
    // no final chunk
    let e = PairPipesRequest::from_stub_in(&b20[..24], LE, N20, LIM).unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::Truncated { .. }), "{e}");
}

// ----------------------------------------------------------------- 5. sizeof of typedef names

#[test]
fn sizeof_typedef_names_in_constants_and_sizes() {
    // BLOB_SIZE = 8 + 4 * sizeof(WCHAR) + sizeof(ULONG) = 20; range(0, sizeof(GUID)) = 0..16;
    // size_is(sizeof(PIPE_PAIR)) = 16 (a u16 padded to 8, then a hyper)
    let data: [u8; 20] = std::array::from_fn(|i| i as u8 + 1);
    let v = SizedBlobRequest {
        blob: SizedBlob { data, cb: 16 },
        raw: vec![0xee; 16],
    };
    request!(
        SizedBlobRequest,
        v.clone(),
        "0102030405060708090a0b0c0d0e0f1011121314 10000000
         10000000 eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
        "0102030405060708090a0b0c0d0e0f1011121314 10000000
         1000000000000000 eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
    );
    let mut over = v.clone();
    over.blob.cb = 17;
    assert!(matches!(
        over.to_stub_in(LE, N20),
        Err(EncodeError::OutOfRange(_))
    ));
    let mut short = v;
    short.raw.pop();
    assert!(matches!(
        short.to_stub_in(LE, N20),
        Err(EncodeError::CountMismatch { expected: 16, .. })
    ));
}

// --------------------------------------------------- 7. a full pointer to a sized referent

#[test]
fn drsr_full_pointer_to_a_sized_array() {
    request!(
        SetValueMetaRequest,
        SetValueMetaRequest {
            meta: ValueMeta {
                cb_data: 3,
                pb_data: Full::new(vec![9, 8, 7]),
            },
        },
        // cbData, referent id; deferred: max_count, elements
        "03000000 00000200 03000000 090807",
        "03000000 00000000 0000020000000000 0300000000000000 090807"
    );
    request!(
        SetValueMetaRequest,
        SetValueMetaRequest {
            meta: ValueMeta {
                cb_data: 0,
                pb_data: Full::null(),
            },
        },
        "00000000 00000000",
        "00000000 00000000 0000000000000000"
    );
    // max_count disagreeing with cbData
    let b = hex("04000000 00000200 03000000 090807");
    let e = SetValueMetaRequest::from_stub_in(&b, LE, N20, LIM).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::CountMismatch {
            expected: 4,
            found: 3
        }
    );
}

// ------------------------------------------- 8. enums with values up to 0xFFFFFFFF

#[test]
fn enum_values_up_to_u32_max() {
    for (error, format, b) in [
        (
            NameError::IsFpo,
            NameFormat::ListDomains,
            "ffffffff f7ffffff",
        ),
        (
            NameError::IsSidUser,
            NameFormat::ListNcs,
            "f9ffffff f6ffffff",
        ),
        (
            NameError::NoError,
            NameFormat::ForLogon,
            "00000000 f5ffffff",
        ),
        (
            NameError::Unknown(5),
            NameFormat::Unknown_,
            "05000000 00000000",
        ),
        (
            NameError::NoError,
            NameFormat::Unknown(0xffff_fff8),
            "00000000 f8ffffff",
        ),
    ] {
        request!(
            SetNameFormatRequest,
            SetNameFormatRequest { error, format },
            b,
            b
        );
    }
    assert_eq!(u32::from(NameError::IsFpo), 0xffff_ffff);
    assert_eq!(u32::from(NameFormat::ForLogon), 0xffff_fff5);
}

// ------------------------------------------------------------------ 9. interface pointers

#[test]
fn interface_pointers_are_unique_minterfacepointers() {
    use msrpc_dcom::MInterfacePointer;
    let q = GetTypeInfoRequest {
        punk: Unique::new(MInterfacePointer {
            cnt_data: 3,
            data: vec![1, 2, 3],
        }),
    };
    // referent id; the MInterfacePointer: max_count (hoisted), ulCntData, abData; in NDR64
    // the structure ends on a multiple of its alignment, 4 (MS-RPCE 2.2.5.3.4.1)
    request!(
        GetTypeInfoRequest,
        q.clone(),
        "00000200 03000000 03000000 010203",
        "0000020000000000 0300000000000000 03000000 010203 00"
    );
    request!(
        GetTypeInfoRequest,
        GetTypeInfoRequest {
            punk: Unique::null()
        },
        "00000000",
        "0000000000000000"
    );
    response!(
        GetTypeInfoResponse,
        q,
        GetTypeInfoResponse {
            pp_t_info: Unique::new(MInterfacePointer {
                cnt_data: 2,
                data: vec![0xaa, 0xbb],
            }),
            result: 0,
        },
        // *ppTInfo's referent id, the MInterfacePointer, padding to 4, the return value
        "00000200 02000000 02000000 aabb 0000 00000000",
        "0000020000000000 0200000000000000 02000000 aabb 0000 00000000"
    );
}
