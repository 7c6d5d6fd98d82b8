//! Every rpcecho operation through the generated client and server stubs, the real PDU codec
//! and both association state machines, in both byte orders, with fragments small enough that
//! the larger calls are split (1432 bytes, the smallest size C706 allows).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;

use msrpc_echo::*;
use msrpc_ndr::DataRep;
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
    let (to_server, to_client) = lb.fragment_counts();
    let reports = msrpc_echo::conformance::exercise(&c, 10_000, 0)
        .await
        .unwrap();
    assert_eq!(reports.len(), 10, "one report per operation");
    let (to_server2, to_client2) = lb.fragment_counts();
    // EchoData and SourceData of 10 000 bytes in 1432-byte fragments, both ways
    assert!(
        to_server2 - to_server >= 8 + 10,
        "requests were not fragmented"
    );
    assert!(
        to_client2 - to_client >= 16 + 10,
        "responses were not fragmented"
    );

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
