//! The rpcecho stubs generated from IDL are byte-identical to msrpc-echo's hand-written
//! `#[interface]` ones for the same values (requests and responses, both byte orders), and the
//! generated client calls msrpc-echo's reference server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use futures::executor::block_on;
use futures::future::BoxFuture;
use msrpc_echo as hand;
use msrpc_idl_echo::rpcecho as gen;
use msrpc_ndr::{DataRep, DecodeLimits, Unique, Uuid};
use msrpc_proto::dispatch::{CallContext, CallError, Dispatch, Interface, Invoke, ResponseStub};
use msrpc_proto::pdu::SyntaxId;

const DREPS: [DataRep; 2] = [DataRep::LITTLE_ENDIAN, DataRep::BIG_ENDIAN];

/// Asserts a generated and a hand-written request encode the same, and likewise their
/// responses; returns the request stub.
macro_rules! same {
    ($greq:expr, $hreq:expr, $gresp:expr, $hresp:expr) => {{
        let (greq, hreq, gresp, hresp) = ($greq, $hreq, $gresp, $hresp);
        for drep in DREPS {
            let a = greq.to_stub(drep).unwrap();
            let b = hreq.to_stub(drep).unwrap();
            assert_eq!(a, b, "request {:?}", greq);
            let a = gresp.to_stub(&greq, drep).unwrap();
            let b = hresp.to_stub(&hreq, drep).unwrap();
            assert_eq!(a, b, "response {:?}", gresp);
            assert!(!a.is_empty() || stringify!($gresp).contains("SinkData"));
        }
    }};
}

#[test]
fn interface_identity_matches() {
    assert_eq!(
        gen::RpcechoInterface::SYNTAX,
        hand::RpcechoInterface::SYNTAX
    );
    assert_eq!(
        gen::RpcechoInterface::OPERATIONS.len(),
        hand::RpcechoInterface::OPERATIONS.len()
    );
}

#[test]
fn stubs_are_byte_identical() {
    same!(
        gen::EchoAddOneRequest { in_data: 41 },
        hand::AddOneRequest { in_data: 41 },
        gen::EchoAddOneResponse { out_data: 42 },
        hand::AddOneResponse { out_data: 42 }
    );
    let data = vec![1u8, 2, 3, 4, 5];
    same!(
        gen::EchoEchoDataRequest {
            len: 5,
            in_data: data.clone()
        },
        hand::EchoDataRequest {
            len: 5,
            in_data: data.clone()
        },
        gen::EchoEchoDataResponse {
            out_data: data.clone()
        },
        hand::EchoDataResponse {
            out_data: data.clone()
        }
    );
    same!(
        gen::EchoSinkDataRequest {
            len: 5,
            data: data.clone()
        },
        hand::SinkDataRequest {
            len: 5,
            data: data.clone()
        },
        gen::EchoSinkDataResponse {},
        hand::SinkDataResponse {}
    );
    same!(
        gen::EchoSourceDataRequest { len: 5 },
        hand::SourceDataRequest { len: 5 },
        gen::EchoSourceDataResponse { data: data.clone() },
        hand::SourceDataResponse { data: data.clone() }
    );
    same!(
        gen::EchoTestCallRequest {
            s1: "héllo".into()
        },
        hand::TestCallRequest {
            s1: "héllo".into()
        },
        gen::EchoTestCallResponse {
            s2: Unique::new("héllo".to_string())
        },
        hand::TestCallResponse {
            s2: Unique::new("héllo".to_string())
        }
    );
    same!(
        gen::EchoTestCallRequest { s1: String::new() },
        hand::TestCallRequest { s1: String::new() },
        gen::EchoTestCallResponse {
            s2: Unique::default()
        },
        hand::TestCallResponse {
            s2: Unique::default()
        }
    );
    let infos: Vec<(gen::EchoInfo, hand::EchoInfo)> = vec![
        (
            gen::EchoInfo::Info1(gen::EchoInfo1 { v: 10 }),
            hand::EchoInfo::Info1(hand::EchoInfo1 { v: 10 }),
        ),
        (
            gen::EchoInfo::Info2(gen::EchoInfo2 { v: 20 }),
            hand::EchoInfo::Info2(hand::EchoInfo2 { v: 20 }),
        ),
        (
            gen::EchoInfo::Info3(gen::EchoInfo3 { v: 30 }),
            hand::EchoInfo::Info3(hand::EchoInfo3 { v: 30 }),
        ),
        (
            gen::EchoInfo::Info4(gen::EchoInfo4 { v: 40 }),
            hand::EchoInfo::Info4(hand::EchoInfo4 { v: 40 }),
        ),
        (
            gen::EchoInfo::Info5(gen::EchoInfo5 { v1: 50, v2: 60 }),
            hand::EchoInfo::Info5(hand::EchoInfo5 { v1: 50, v2: 60 }),
        ),
        (
            gen::EchoInfo::Info6(gen::EchoInfo6 {
                v1: 70,
                info1: gen::EchoInfo1 { v: 80 },
            }),
            hand::EchoInfo::Info6(hand::EchoInfo6 {
                v1: 70,
                info1: hand::EchoInfo1 { v: 80 },
            }),
        ),
        (
            gen::EchoInfo::Info7(gen::EchoInfo7 {
                v1: 80,
                info4: gen::EchoInfo4 { v: 90 },
            }),
            hand::EchoInfo::Info7(hand::EchoInfo7 {
                v1: 80,
                info4: hand::EchoInfo4 { v: 90 },
            }),
        ),
    ];
    for (level, (g, h)) in (1u16..).zip(infos) {
        same!(
            gen::EchoTestCall2Request { level },
            hand::TestCall2Request { level },
            gen::EchoTestCall2Response { info: g, result: 0 },
            hand::TestCall2Response {
                info: h,
                result: hand::NtStatus::OK
            }
        );
    }
    same!(
        gen::EchoTestSleepRequest { seconds: 3 },
        hand::TestSleepRequest { seconds: 3 },
        gen::EchoTestSleepResponse { result: 3 },
        hand::TestSleepResponse { result: 3 }
    );
    let g2 = gen::EchoEnum2 {
        e1: gen::EchoEnum1::Enum2,
        e2: gen::EchoEnum132::Unknown(77),
    };
    let h2 = hand::EchoEnum2 {
        e1: hand::EchoEnum1::Enum2,
        e2: hand::EchoEnum1_32::Unknown(77),
    };
    same!(
        gen::EchoTestEnumRequest {
            foo1: gen::EchoEnum1::Enum2,
            foo2: g2.clone(),
            foo3: gen::EchoEnum3::E2(g2.clone())
        },
        hand::TestEnumRequest {
            foo1: hand::EchoEnum1::Enum2,
            foo2: h2,
            foo3: hand::EchoEnum3::E2(h2)
        },
        gen::EchoTestEnumResponse {
            foo1: gen::EchoEnum1::Enum1,
            foo2: g2.clone(),
            foo3: gen::EchoEnum3::E1(gen::EchoEnum1::Enum1)
        },
        hand::TestEnumResponse {
            foo1: hand::EchoEnum1::Enum1,
            foo2: h2,
            foo3: hand::EchoEnum3::E1(hand::EchoEnum1::Enum1)
        }
    );
    same!(
        gen::EchoTestSurroundingRequest {
            data: gen::EchoSurrounding {
                x: 3,
                surrounding: vec![1, 2, 3]
            }
        },
        hand::TestSurroundingRequest {
            data: hand::EchoSurrounding {
                x: 3,
                surrounding: vec![1, 2, 3]
            }
        },
        gen::EchoTestSurroundingResponse {
            data: gen::EchoSurrounding {
                x: 6,
                surrounding: vec![0; 6]
            }
        },
        hand::TestSurroundingResponse {
            data: hand::EchoSurrounding {
                x: 6,
                surrounding: vec![0; 6]
            }
        }
    );
    for data in [
        Unique::default(),
        Unique::new(Unique::default()),
        Unique::new(Unique::new(7u16)),
    ] {
        same!(
            gen::EchoTestDoublePointerRequest { data: data.clone() },
            hand::TestDoublePointerRequest { data: data.clone() },
            gen::EchoTestDoublePointerResponse { result: 7 },
            hand::TestDoublePointerResponse { result: 7 }
        );
    }
}

/// Joins a client to a server in memory.
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
            match self
                .server
                .dispatch(ctx, stub, drep, DecodeLimits::default())
                .await
            {
                Ok(stub) => Ok(ResponseStub { stub, drep }),
                Err(e) => Err(CallError::Fault(e.status())),
            }
        })
    }

    fn drep(&self) -> DataRep {
        self.drep
    }
}

#[test]
fn generated_client_calls_the_reference_server() {
    for drep in DREPS {
        let c = gen::RpcechoClient::new(Loopback {
            server: hand::RpcechoServer::new(hand::EchoService::new(hand::NoSleep)),
            drep,
        });
        block_on(async {
            let r = c
                .echo_add_one(gen::EchoAddOneRequest { in_data: 41 })
                .await
                .unwrap();
            assert_eq!(r.out_data, 42);
            let r = c
                .echo_echo_data(gen::EchoEchoDataRequest {
                    len: 3,
                    in_data: vec![9, 8, 7],
                })
                .await
                .unwrap();
            assert_eq!(r.out_data, vec![9, 8, 7]);
            let r = c
                .echo_source_data(gen::EchoSourceDataRequest { len: 4 })
                .await
                .unwrap();
            assert_eq!(r.data, vec![0, 1, 2, 3]);
            let r = c
                .echo_test_call(gen::EchoTestCallRequest { s1: "abc".into() })
                .await
                .unwrap();
            assert_eq!(r.s2, Unique::new("abc".to_string()));
            let r = c
                .echo_test_call2(gen::EchoTestCall2Request { level: 5 })
                .await
                .unwrap();
            assert_eq!(
                r.info,
                gen::EchoInfo::Info5(gen::EchoInfo5 { v1: 50, v2: 60 })
            );
            assert_eq!(r.result, 0);
            let r = c
                .echo_test_sleep(gen::EchoTestSleepRequest { seconds: 2 })
                .await
                .unwrap();
            assert_eq!(r.result, 2);
            let foo2 = gen::EchoEnum2 {
                e1: gen::EchoEnum1::Enum1,
                e2: gen::EchoEnum132::Enum132,
            };
            let r = c
                .echo_test_enum(gen::EchoTestEnumRequest {
                    foo1: gen::EchoEnum1::Enum1,
                    foo2,
                    foo3: gen::EchoEnum3::E1(gen::EchoEnum1::Enum1),
                })
                .await
                .unwrap();
            assert_eq!(r.foo2.e1, gen::EchoEnum1::Enum2);
            let r = c
                .echo_test_surrounding(gen::EchoTestSurroundingRequest {
                    data: gen::EchoSurrounding {
                        x: 2,
                        surrounding: vec![5, 5],
                    },
                })
                .await
                .unwrap();
            assert_eq!(
                r.data,
                gen::EchoSurrounding {
                    x: 4,
                    surrounding: vec![0; 4]
                }
            );
            let r = c
                .echo_test_double_pointer(gen::EchoTestDoublePointerRequest {
                    data: Unique::new(Unique::new(1234)),
                })
                .await
                .unwrap();
            assert_eq!(r.result, 1234);
            let e = c
                .echo_test_call2(gen::EchoTestCall2Request { level: 9 })
                .await;
            assert!(matches!(e, Err(CallError::Fault(_))), "{e:?}");
        });
    }
}
