//! Stub byte vectors for rpcecho operations, and calls through the generated client and
//! server joined by a loopback invoker.

use super::*;
use futures::executor::block_on;
use msrpc_ndr::{DataRep, DecodeErrorKind, DecodeLimits, EncodeError, Uuid};
use msrpc_proto::dispatch::{
    BoxFuture, CallError, Dispatch, DispatchError, Interface, Invoke, ResponseStub,
};
use msrpc_proto::SyntaxId;

const LE: DataRep = DataRep::LITTLE_ENDIAN;
const BE: DataRep = DataRep::BIG_ENDIAN;
const LIM: DecodeLimits = DecodeLimits::DEFAULT;

#[test]
fn interface_identity() {
    assert_eq!(
        RpcechoInterface::SYNTAX,
        SyntaxId::new(
            Uuid::parse_str("60a15ec5-4de8-11d7-a637-005056a20182").unwrap(),
            1,
            0
        )
    );
    assert_eq!(RpcechoInterface::NAME, "Rpcecho");
    assert_eq!(RpcechoInterface::OPERATIONS.len(), 10);
    assert_eq!(RpcechoInterface::operation_name(5), Some("test_call2"));
    assert_eq!(RpcechoInterface::operation_name(10), None);
    assert_eq!(TestCall2Request::OPNUM, 5);
}

#[test]
fn add_one_and_echo_data_stubs() {
    let req = AddOneRequest { in_data: 5 };
    assert_eq!(req.to_stub(LE).unwrap(), [5, 0, 0, 0]);
    assert_eq!(req.to_stub(BE).unwrap(), [0, 0, 0, 5]);
    let resp = AddOneResponse { out_data: 6 };
    assert_eq!(resp.to_stub(&req, LE).unwrap(), [6, 0, 0, 0]);

    let req = EchoDataRequest {
        len: 3,
        in_data: vec![1, 2, 3],
    };
    #[rustfmt::skip]
    let stub = [
        3, 0, 0, 0, // len
        3, 0, 0, 0, // in_data: max_count (a top-level conformant array)
        1, 2, 3,    // in_data
    ];
    assert_eq!(req.to_stub(LE).unwrap(), stub);
    assert_eq!(EchoDataRequest::from_stub(&stub, LE, LIM).unwrap(), req);
    let resp = EchoDataResponse {
        out_data: vec![1, 2, 3],
    };
    let out = [3, 0, 0, 0, 1, 2, 3];
    assert_eq!(resp.to_stub(&req, LE).unwrap(), out);
    assert_eq!(
        EchoDataResponse::from_stub(&out, LE, LIM, &req).unwrap(),
        resp
    );
    // the response's size_is names the request's len
    let mut w = msrpc_ndr::Writer::new(LE);
    assert_eq!(
        resp.encode(&mut w, &4),
        Err(EncodeError::CountMismatch {
            field: "out_data",
            expected: 4,
            actual: 3
        })
    );
    let other = EchoDataRequest {
        len: 2,
        in_data: vec![1, 2],
    };
    let e = EchoDataResponse::from_stub(&out, LE, LIM, &other).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::CountMismatch {
            expected: 2,
            found: 3
        }
    );
    assert_eq!(e.path(), "EchoDataResponse.out_data");
}

#[test]
fn test_call_strings() {
    let req = TestCallRequest { s1: "ab".into() };
    #[rustfmt::skip]
    let stub = [
        3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, // s1: max, offset, actual (no referent id: top-level [ref])
        b'a', 0, b'b', 0, 0, 0,             // "ab\0"
    ];
    assert_eq!(req.to_stub(LE).unwrap(), stub);
    assert_eq!(TestCallRequest::from_stub(&stub, LE, LIM).unwrap(), req);
    let resp = TestCallResponse {
        s2: Unique::new("ab".into()),
    };
    #[rustfmt::skip]
    let out = [
        0x00, 0x00, 0x02, 0x00,             // *s2: unique referent id
        3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, // **s2: max, offset, actual
        b'a', 0, b'b', 0, 0, 0,
    ];
    assert_eq!(resp.to_stub(&req, LE).unwrap(), out);
    assert_eq!(
        TestCallResponse::from_stub(&out, LE, LIM, &req).unwrap(),
        resp
    );
    let null = TestCallResponse { s2: Unique::null() };
    assert_eq!(null.to_stub(&req, LE).unwrap(), [0, 0, 0, 0]);
}

#[test]
fn test_call2_union_response() {
    let req = TestCall2Request { level: 5 };
    assert_eq!(req.to_stub(LE).unwrap(), [5, 0]);
    let resp = TestCall2Response {
        info: info_for_level(5).unwrap(),
        result: NtStatus::OK,
    };
    #[rustfmt::skip]
    let le = [
        5, 0,                // info: discriminant (level)
        0, 0, 0, 0, 0, 0,    // echo_info5 aligns to 8
        50, 0, 0, 0, 0, 0, 0, 0, // v1 + padding
        60, 0, 0, 0, 0, 0, 0, 0, // v2 (hyper)
        0, 0, 0, 0,          // result: NTSTATUS
    ];
    assert_eq!(resp.to_stub(&req, LE).unwrap(), le);
    assert_eq!(
        TestCall2Response::from_stub(&le, LE, LIM, &req).unwrap(),
        resp
    );
    #[rustfmt::skip]
    let be = [
        0, 5, 0, 0, 0, 0, 0, 0,
        50, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 60,
        0, 0, 0, 0,
    ];
    assert_eq!(resp.to_stub(&req, BE).unwrap(), be);
    // the union's arm must match switch_is(level)
    let wrong = TestCall2Request { level: 4 };
    assert!(matches!(
        resp.to_stub(&wrong, LE),
        Err(EncodeError::DiscriminantMismatch {
            field: "info",
            expected: 4,
            found: 5
        })
    ));
    let e = TestCall2Response::from_stub(&le, LE, LIM, &wrong).unwrap_err();
    assert_eq!(e.path(), "TestCall2Response.info");
}

#[test]
fn test_enum_surrounding_and_double_pointer_stubs() {
    let req = TestEnumRequest {
        foo1: EchoEnum1::Enum2,
        foo2: EchoEnum2 {
            e1: EchoEnum1::Enum1,
            e2: EchoEnum1_32::Enum2,
        },
        foo3: EchoEnum3::E2(EchoEnum2 {
            e1: EchoEnum1::Enum2,
            e2: EchoEnum1_32::Enum1,
        }),
    };
    #[rustfmt::skip]
    let stub = [
        2, 0, 0, 0,   // foo1 (16-bit enum) + padding
        1, 0, 0, 0,   // foo2.e1 + padding
        2, 0, 0, 0,   // foo2.e2 (v1_enum, 32-bit)
        2, 0, 0, 0,   // foo3: discriminant (= foo1) + padding
        2, 0, 0, 0,   // foo3.e2.e1 + padding
        1, 0, 0, 0,   // foo3.e2.e2
    ];
    assert_eq!(req.to_stub(LE).unwrap(), stub);
    assert_eq!(TestEnumRequest::from_stub(&stub, LE, LIM).unwrap(), req);
    let mut wrong = stub;
    wrong[0] = 1;
    let e = TestEnumRequest::from_stub(&wrong, LE, LIM).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::DiscriminantMismatch {
            expected: 1,
            found: 2
        }
    );
    assert_eq!(e.path(), "TestEnumRequest.foo3");

    let req = TestSurroundingRequest {
        data: EchoSurrounding {
            x: 2,
            surrounding: vec![1, 2],
        },
    };
    #[rustfmt::skip]
    let stub = [
        2, 0, 0, 0, // surrounding's max_count (hoisted to the front of the structure)
        2, 0, 0, 0, // x
        1, 0, 2, 0, // surrounding
    ];
    assert_eq!(req.to_stub(LE).unwrap(), stub);
    assert_eq!(
        TestSurroundingRequest::from_stub(&stub, LE, LIM).unwrap(),
        req
    );

    let req = TestDoublePointerRequest {
        data: Unique::new(Unique::new(7)),
    };
    #[rustfmt::skip]
    let stub = [
        0x00, 0x00, 0x02, 0x00, // *data: referent id
        0x04, 0x00, 0x02, 0x00, // **data: referent id
        7, 0,                   // ***data
    ];
    assert_eq!(req.to_stub(LE).unwrap(), stub);
    assert_eq!(
        TestDoublePointerRequest::from_stub(&stub, LE, LIM).unwrap(),
        req
    );
}

/// Joins a client to a server in-process.
struct Loopback<D> {
    server: D,
    drep: DataRep,
}

impl<D: Dispatch> Invoke for Loopback<D> {
    fn invoke<'a>(
        &'a self,
        syntax: SyntaxId,
        opnum: u16,
        object: Option<Uuid>,
        stub: Vec<u8>,
        drep: DataRep,
    ) -> BoxFuture<'a, Result<ResponseStub, CallError>> {
        Box::pin(async move {
            if syntax != self.server.syntax() {
                return Err(CallError::NotBound(syntax));
            }
            let ctx = CallContext {
                opnum,
                object,
                ..CallContext::default()
            };
            match self.server.dispatch(ctx, stub, drep, LIM).await {
                Ok(stub) => Ok(ResponseStub { stub, drep }),
                Err(e) => Err(CallError::Fault(e.status())),
            }
        })
    }

    fn drep(&self) -> DataRep {
        self.drep
    }
}

fn client(drep: DataRep) -> RpcechoClient<Loopback<RpcechoServer<EchoService<NoSleep>>>> {
    RpcechoClient::new(Loopback {
        server: RpcechoServer::new(EchoService::new(NoSleep)),
        drep,
    })
}

#[test]
fn every_operation_through_client_and_server() {
    for drep in [LE, BE] {
        let c = client(drep);
        block_on(async {
            let r = c.add_one(AddOneRequest { in_data: 41 }).await.unwrap();
            assert_eq!(r.out_data, 42);
            let r = c
                .echo_data(EchoDataRequest {
                    len: 4,
                    in_data: vec![9, 8, 7, 6],
                })
                .await
                .unwrap();
            assert_eq!(r.out_data, [9, 8, 7, 6]);
            c.sink_data(SinkDataRequest {
                len: 2,
                data: vec![1, 2],
            })
            .await
            .unwrap();
            let r = c.source_data(SourceDataRequest { len: 300 }).await.unwrap();
            assert_eq!(r.data.len(), 300);
            assert_eq!(r.data[257], 1);
            let r = c
                .test_call(TestCallRequest {
                    s1: "héllo".into()
                })
                .await
                .unwrap();
            assert_eq!(r.s2.get().map(String::as_str), Some("héllo"));
            for level in 1..=7 {
                let r = c.test_call2(TestCall2Request { level }).await.unwrap();
                assert_eq!(Some(r.info), info_for_level(level));
                assert_eq!(r.result, NtStatus::OK);
            }
            let e = c
                .test_call2(TestCall2Request { level: 8 })
                .await
                .unwrap_err();
            assert_eq!(e, CallError::Fault(FaultStatus::NCA_S_FAULT_INVALID_TAG));
            let r = c.test_sleep(TestSleepRequest { seconds: 3 }).await.unwrap();
            assert_eq!(r.result, 3);
            let foo3 = EchoEnum3::E1(EchoEnum1::Enum1);
            let r = c
                .test_enum(TestEnumRequest {
                    foo1: EchoEnum1::Enum1,
                    foo2: EchoEnum2::default(),
                    foo3,
                })
                .await
                .unwrap();
            assert_eq!(r.foo3, foo3);
            let r = c
                .test_surrounding(TestSurroundingRequest {
                    data: EchoSurrounding {
                        x: 3,
                        surrounding: vec![1, 2, 3],
                    },
                })
                .await
                .unwrap();
            assert_eq!(r.data.x, 6);
            assert_eq!(r.data.surrounding, [0; 6]);
            for (data, want) in [
                (Unique::new(Unique::new(5u16)), 5),
                (Unique::new(Unique::null()), 0),
                (Unique::null(), 0),
            ] {
                let r = c
                    .test_double_pointer(TestDoublePointerRequest { data })
                    .await
                    .unwrap();
                assert_eq!(r.result, want);
            }
        });
    }
}

#[test]
fn dispatch_errors() {
    let server = RpcechoServer::new(EchoService::new(NoSleep));
    assert_eq!(server.name(), "Rpcecho");
    assert_eq!(server.operation_name(1), Some("echo_data"));
    let ctx = |opnum| CallContext {
        opnum,
        ..CallContext::default()
    };
    block_on(async {
        let e = server.dispatch(ctx(10), vec![], LE, LIM).await.unwrap_err();
        assert_eq!(e, DispatchError::OpnumOutOfRange(10));
        // EchoData with a truncated array
        let e = server
            .dispatch(ctx(1), vec![3, 0, 0, 0, 3, 0, 0, 0, 1], LE, LIM)
            .await
            .unwrap_err();
        let DispatchError::BadStub(d) = e else {
            panic!("{e:?}")
        };
        assert_eq!(d.path(), "EchoDataRequest.in_data");
        // trailing padding after the last parameter is tolerated
        let out = server
            .dispatch(ctx(0), vec![1, 0, 0, 0, 0xaa, 0xbb, 0xcc, 0xdd], LE, LIM)
            .await
            .unwrap();
        assert_eq!(out, [2, 0, 0, 0]);
        // the response is in the request's byte order
        let out = server
            .dispatch(ctx(0), vec![0, 0, 0, 1], BE, LIM)
            .await
            .unwrap();
        assert_eq!(out, [0, 0, 0, 2]);
        // a huge count is refused before allocating
        let e = server
            .dispatch(
                ctx(2),
                vec![0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f],
                LE,
                LIM,
            )
            .await
            .unwrap_err();
        let DispatchError::BadStub(d) = e else {
            panic!("{e:?}")
        };
        assert!(matches!(d.kind, DecodeErrorKind::CountLimit { .. }), "{d}");
        // SourceData's peer-chosen length is capped
        let small = RpcechoServer::new(EchoService::new(NoSleep).with_max_source_len(8));
        let e = small
            .dispatch(ctx(3), vec![9, 0, 0, 0], LE, LIM)
            .await
            .unwrap_err();
        assert_eq!(e.status(), FaultStatus::NCA_S_FAULT_REMOTE_NO_MEMORY);
        let out = small
            .dispatch(ctx(3), vec![2, 0, 0, 0], LE, LIM)
            .await
            .unwrap();
        assert_eq!(out, [2, 0, 0, 0, 0, 1]);
    });
}

/// What Samba's rpcecho client sends with values the IDL does not name (python3-samba:
/// `TestEnum(ECHO_ENUM1, Enum2(e1=76, e2=76), 76)`): the request decodes, the service sees the
/// values, and the response carries them back unchanged but foo2.e1, which Samba's
/// `dcesrv_echo_TestEnum` sets to ECHO_ENUM2.
#[test]
fn test_enum_hands_back_values_the_idl_does_not_name() {
    let server = RpcechoServer::new(EchoService::new(NoSleep));
    let ctx = CallContext {
        opnum: TestEnumRequest::OPNUM,
        ..CallContext::default()
    };
    #[rustfmt::skip]
    let le = [
        1, 0, 0, 0,       // foo1 = ECHO_ENUM1 (selects foo3's arm) + padding
        76, 0, 0, 0,      // foo2.e1 = 76 + padding
        76, 0, 0, 0,      // foo2.e2 = 76 (v1_enum)
        1, 0,             // foo3: discriminant
        0xff, 0xff,       // foo3.e1 = 0xffff
    ];
    #[rustfmt::skip]
    let be = [0, 1, 0, 0, 0, 76, 0, 0, 0, 0, 0, 76, 0, 1, 0xff, 0xff];
    let req = TestEnumRequest {
        foo1: EchoEnum1::Enum1,
        foo2: EchoEnum2 {
            e1: EchoEnum1::Unknown(76),
            e2: EchoEnum1_32::Unknown(76),
        },
        foo3: EchoEnum3::E1(EchoEnum1::Unknown(0xffff)),
    };
    for (stub, drep) in [(le, LE), (be, BE)] {
        assert_eq!(TestEnumRequest::from_stub(&stub, drep, LIM).unwrap(), req);
        assert_eq!(req.to_stub(drep).unwrap(), stub);
        let out = block_on(server.dispatch(ctx.clone(), stub.to_vec(), drep, LIM)).unwrap();
        let mut want = stub;
        // foo2.e1 = ECHO_ENUM2
        if drep == LE {
            want[4] = 2;
        } else {
            want[5] = 2;
        }
        assert_eq!(out, want);
    }

    // foo1 selects foo3's arm and echo_Enum3 has no default arm: an unnamed foo1 cannot
    // decode (as in Samba: NDR_ERR_BAD_SWITCH), a bad-stub fault before the service runs.
    let mut unnamed_arm = le;
    unnamed_arm[0] = 76;
    unnamed_arm[12] = 76;
    let e = block_on(server.dispatch(ctx.clone(), unnamed_arm.to_vec(), LE, LIM)).unwrap_err();
    let DispatchError::BadStub(d) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(d.kind, DecodeErrorKind::UnknownDiscriminant(76));
    assert_eq!(d.path(), "TestEnumRequest.foo3");
    assert_eq!(e.status(), FaultStatus::RPC_X_BAD_STUB_DATA);
    assert!(e.before_execution());

    // A value the wire cannot carry (a 16-bit enum holding more than 0xffff) does not encode;
    // the server answers RPC_X_ENUM_VALUE_OUT_OF_RANGE, as Windows does.
    let resp = TestEnumResponse {
        foo1: EchoEnum1::Enum1,
        foo2: EchoEnum2 {
            e1: EchoEnum1::Unknown(0x1_0000),
            e2: EchoEnum1_32::Enum1,
        },
        foo3: EchoEnum3::E1(EchoEnum1::Enum1),
    };
    let err = resp.to_stub(&req, LE).unwrap_err();
    assert_eq!(
        err,
        EncodeError::EnumValueOutOfRange {
            ty: "EchoEnum1",
            value: 0x1_0000,
            max: 0xffff
        }
    );
    let e = DispatchError::Encode(err);
    assert_eq!(e.status(), FaultStatus::RPC_X_ENUM_VALUE_OUT_OF_RANGE);
    assert_eq!(e.status().0, 1781);
    assert!(!e.before_execution());
    assert_eq!(
        DispatchError::Encode(EncodeError::TooLong("x")).status(),
        FaultStatus::NCA_S_FAULT_UNSPEC
    );
}

/// Parameter forms rpcecho does not use: `Option<T>` ([unique]), a `Ref<T>` parameter, a
/// varying array and sized strings.
#[interface(uuid = "00000000-1111-2222-3333-444444444444", version = "2.1")]
trait Forms {
    #[opnum(2)]
    fn forms(
        #[ndr(in, unique)] maybe: Option<u32>,
        #[ndr(in, string, unique)] name: Option<String>,
        #[ndr(in)] r: msrpc_ndr::Ref<u16>,
        #[ndr(in)] n: u32,
        #[ndr(in, max = 4, length_is = "n")] fixed: Vec<u16>,
        #[ndr(in, range(0, 3))] level: u16,
        #[ndr(out, string, size_is = "n * 2")] wide: String,
    ) -> u32;
}

#[test]
fn other_parameter_forms() {
    assert_eq!(FormsInterface::SYNTAX.major, 2);
    assert_eq!(FormsInterface::OPERATIONS, [None, None, Some("forms")]);
    let req = FormsRequest {
        maybe: Some(7),
        name: None,
        r: msrpc_ndr::Ref::new(9),
        n: 2,
        fixed: vec![1, 2],
        level: 3,
    };
    #[rustfmt::skip]
    let stub = [
        0x00, 0x00, 0x02, 0x00, // maybe: referent id
        7, 0, 0, 0,             // *maybe
        0, 0, 0, 0,             // name: null
        0x04, 0x00, 0x02, 0x00, // r: referent id (a Ref<T> parameter keeps its pointer)
        9, 0, 0, 0,             // *r + padding
        2, 0, 0, 0,             // n
        0, 0, 0, 0, 2, 0, 0, 0, // fixed: offset, actual_count
        1, 0, 2, 0,             // fixed
        3, 0,                   // level
    ];
    assert_eq!(req.to_stub(LE).unwrap(), stub);
    assert_eq!(FormsRequest::from_stub(&stub, LE, LIM).unwrap(), req);
    let mut bad = stub;
    bad[36] = 4;
    let e = FormsRequest::from_stub(&bad, LE, LIM).unwrap_err();
    assert_eq!(e.path(), "FormsRequest.level");
    assert!(matches!(
        e.kind,
        DecodeErrorKind::OutOfRange { value: 4, .. }
    ));
    let over = FormsRequest {
        level: 4,
        ..req.clone()
    };
    assert_eq!(over.to_stub(LE), Err(EncodeError::OutOfRange("level")));

    let resp = FormsResponse {
        wide: "hi".into(),
        result: 1,
    };
    #[rustfmt::skip]
    let out = [
        4, 0, 0, 0, // wide: max_count = n * 2
        0, 0, 0, 0, // offset
        3, 0, 0, 0, // actual_count
        b'h', 0, b'i', 0, 0, 0, 0, 0, // "hi\0" + padding
        1, 0, 0, 0, // result
    ];
    assert_eq!(resp.to_stub(&req, LE).unwrap(), out);
    assert_eq!(FormsResponse::from_stub(&out, LE, LIM, &req).unwrap(), resp);
    let long = FormsResponse {
        wide: "hello".into(),
        result: 1,
    };
    assert_eq!(long.to_stub(&req, LE), Err(EncodeError::TooLong("wide")));
}
