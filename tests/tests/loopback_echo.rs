//! Every rpcecho operation through the generated client and server stubs, the real PDU codec
//! and both association state machines, in both byte orders, with fragments small enough that
//! the larger calls are split (1432 bytes, the smallest size C706 allows).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;

use msrpc_echo::*;
use msrpc_ndr::{DataRep, Unique};
use msrpc_proto::client::ClientConfig;
use msrpc_proto::dispatch::{CallError, Interface};
use msrpc_proto::pdu::FaultStatus;
use msrpc_proto::server::{ServerConfig, ServerEvent};
use msrpc_tests::{Loopback, Registry, TokioSleep};

fn loopback(drep: DataRep) -> Loopback {
    let client = ClientConfig {
        drep,
        max_xmit_frag: 1432,
        max_recv_frag: 1432,
        ..Default::default()
    };
    let server = ServerConfig {
        max_xmit_frag: 1432,
        max_recv_frag: 1432,
        ..Default::default()
    };
    Loopback::new(
        client,
        server,
        Registry::default().with(RpcechoServer::new(EchoService::new(TokioSleep))),
    )
}

async fn every_operation(drep: DataRep) {
    let lb = loopback(drep);
    let c = RpcechoClient::new(lb.clone());

    // 0 AddOne
    assert_eq!(
        c.add_one(AddOneRequest { in_data: 41 })
            .await
            .unwrap()
            .out_data,
        42
    );
    assert_eq!(
        c.add_one(AddOneRequest { in_data: u32::MAX })
            .await
            .unwrap()
            .out_data,
        0
    );

    // 1 EchoData: 10 000 bytes, fragmented both ways
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let (to_server, to_client) = lb.fragment_counts();
    let r = c
        .echo_data(EchoDataRequest {
            len: 10_000,
            in_data: data.clone(),
        })
        .await
        .unwrap();
    assert_eq!(r.out_data, data);
    let (to_server2, to_client2) = lb.fragment_counts();
    assert!(to_server2 - to_server >= 8, "request was not fragmented");
    assert!(to_client2 - to_client >= 8, "response was not fragmented");

    // 2 SinkData
    c.sink_data(SinkDataRequest {
        len: 3,
        data: vec![1, 2, 3],
    })
    .await
    .unwrap();

    // 3 SourceData
    let r = c.source_data(SourceDataRequest { len: 300 }).await.unwrap();
    assert_eq!(
        r.data,
        (0..300u32).map(|i| (i & 0xff) as u8).collect::<Vec<_>>()
    );

    // 4 TestCall: wide strings, including non-ASCII
    let r = c
        .test_call(TestCallRequest {
            s1: "héllo wörld ✓".into(),
        })
        .await
        .unwrap();
    assert_eq!(r.s2.get().map(String::as_str), Some("héllo wörld ✓"));

    // 5 TestCall2: every level, and an unknown one
    for level in 1..=7u16 {
        let r = c.test_call2(TestCall2Request { level }).await.unwrap();
        assert_eq!(Some(r.info), info_for_level(level));
        assert_eq!(r.result, NtStatus::OK);
    }
    let e = c
        .test_call2(TestCall2Request { level: 8 })
        .await
        .unwrap_err();
    assert_eq!(e, CallError::Fault(FaultStatus::NCA_S_FAULT_INVALID_TAG));

    // 6 TestSleep (0 seconds here; concurrency is tested below)
    assert_eq!(
        c.test_sleep(TestSleepRequest { seconds: 0 })
            .await
            .unwrap()
            .result,
        0
    );

    // 7 TestEnum
    for (foo1, foo3) in [
        (EchoEnum1::Enum1, EchoEnum3::E1(EchoEnum1::Enum2)),
        (
            EchoEnum1::Enum2,
            EchoEnum3::E2(EchoEnum2 {
                e1: EchoEnum1::Enum2,
                e2: EchoEnum1_32::Enum1,
            }),
        ),
    ] {
        let foo2 = EchoEnum2 {
            e1: EchoEnum1::Enum1,
            e2: EchoEnum1_32::Enum2,
        };
        let r = c
            .test_enum(TestEnumRequest { foo1, foo2, foo3 })
            .await
            .unwrap();
        assert_eq!((r.foo1, r.foo2, r.foo3), (foo1, foo2, foo3));
    }

    // 8 TestSurrounding: a conformant structure, in and out
    let data = EchoSurrounding {
        x: 3,
        surrounding: vec![1, 2, 3],
    };
    let r = c
        .test_surrounding(TestSurroundingRequest { data })
        .await
        .unwrap();
    assert_eq!(
        r.data,
        EchoSurrounding {
            x: 6,
            surrounding: vec![0; 6]
        }
    );

    // 9 TestDoublePointer: both pointers set, and a null inner pointer
    let r = c
        .test_double_pointer(TestDoublePointerRequest {
            data: Unique::new(Unique::new(0x4242)),
        })
        .await
        .unwrap();
    assert_eq!(r.result, 0x4242);
    let r = c
        .test_double_pointer(TestDoublePointerRequest {
            data: Unique::new(Unique::null()),
        })
        .await
        .unwrap();
    assert_eq!(r.result, 0);

    // The server saw every request in the client's byte order.
    let calls: Vec<_> = lb
        .server_events()
        .into_iter()
        .filter_map(|e| match e {
            ServerEvent::Call(c) => Some(c),
            _ => None,
        })
        .collect();
    assert!(calls.iter().all(|c| c.drep == drep));
    let mut opnums: Vec<u16> = calls.iter().map(|c| c.opnum).collect();
    opnums.sort_unstable();
    opnums.dedup();
    assert_eq!(opnums, (0..=9).collect::<Vec<_>>());
    assert!(calls.iter().any(|c| c.fragments > 1));
}

#[tokio::test]
async fn every_operation_little_endian() {
    every_operation(DataRep::LITTLE_ENDIAN).await;
}

#[tokio::test]
async fn every_operation_big_endian() {
    every_operation(DataRep::BIG_ENDIAN).await;
}

#[tokio::test(start_paused = true)]
async fn test_sleep_does_not_hold_up_other_calls() {
    let lb = loopback(DataRep::LITTLE_ENDIAN);
    let c = RpcechoClient::new(lb.clone());
    // Bind first so both calls share the association.
    c.add_one(AddOneRequest { in_data: 0 }).await.unwrap();
    let start = tokio::time::Instant::now();
    let sleeper = {
        let c = RpcechoClient::new(lb.clone());
        tokio::spawn(async move { c.test_sleep(TestSleepRequest { seconds: 5 }).await })
    };
    tokio::task::yield_now().await;
    for i in 0..20 {
        assert_eq!(
            c.add_one(AddOneRequest { in_data: i })
                .await
                .unwrap()
                .out_data,
            i + 1
        );
    }
    assert!(
        !sleeper.is_finished(),
        "the sleeping call finished before the others"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(sleeper.await.unwrap().unwrap().result, 5);
    assert!(start.elapsed() >= Duration::from_secs(5));
}

#[tokio::test]
async fn unknown_opnum_and_bad_stub_get_the_spec_faults() {
    use msrpc_proto::dispatch::Invoke;
    let lb = loopback(DataRep::LITTLE_ENDIAN);
    let syntax = RpcechoInterface::SYNTAX;
    // opnum 10 does not exist: nca_s_op_rng_error
    let e = lb
        .invoke(syntax, 10, None, vec![0; 4], DataRep::LITTLE_ENDIAN)
        .await
        .unwrap_err();
    assert_eq!(e, CallError::Fault(FaultStatus::NCA_S_OP_RNG_ERROR));
    // EchoData with len 5 but a conformant max_count of 0x7fffffff: bad stub data
    let stub = [5, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5];
    let e = lb
        .invoke(syntax, 1, None, stub.to_vec(), DataRep::LITTLE_ENDIAN)
        .await
        .unwrap_err();
    assert_eq!(e, CallError::Fault(FaultStatus::RPC_X_BAD_STUB_DATA));
    // The association survives both.
    let c = RpcechoClient::new(lb);
    assert_eq!(
        c.add_one(AddOneRequest { in_data: 1 })
            .await
            .unwrap()
            .out_data,
        2
    );
}
