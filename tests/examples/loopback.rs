//! The provisional main job: an in-memory rpcecho client and server (the real PDU codec and
//! both association state machines, nothing but memory between them) binding and calling every
//! operation in both byte orders, printing what happens. `msrpcd` replaces this once the TCP
//! runtime exists.

use msrpc_echo::*;
use msrpc_ndr::{DataRep, Unique};
use msrpc_proto::client::ClientConfig;
use msrpc_proto::server::{ServerConfig, ServerEvent};
use msrpc_tests::{Loopback, Registry, TokioSleep};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    for drep in [DataRep::LITTLE_ENDIAN, DataRep::BIG_ENDIAN] {
        println!(
            "== rpcecho over an in-memory association, {:?}",
            drep.endian()
        );
        let lb = Loopback::new(
            ClientConfig {
                drep,
                max_xmit_frag: 1432,
                max_recv_frag: 1432,
                ..Default::default()
            },
            ServerConfig {
                sec_addr: "0".into(),
                ..Default::default()
            },
            Registry::default().with(RpcechoServer::new(EchoService::new(TokioSleep))),
        );
        let c = RpcechoClient::new(lb.clone());
        let r = c.add_one(AddOneRequest { in_data: 41 }).await?;
        println!("AddOne(41) = {}", r.out_data);
        let data: Vec<u8> = (0..8000u32).map(|i| i as u8).collect();
        let r = c
            .echo_data(EchoDataRequest {
                len: 8000,
                in_data: data.clone(),
            })
            .await?;
        println!("EchoData(8000 bytes) echoed intact: {}", r.out_data == data);
        c.sink_data(SinkDataRequest {
            len: 4,
            data: vec![1, 2, 3, 4],
        })
        .await?;
        println!("SinkData(4 bytes) ok");
        let r = c.source_data(SourceDataRequest { len: 16 }).await?;
        println!("SourceData(16) = {:02x?}", r.data);
        let r = c
            .test_call(TestCallRequest {
                s1: "hello, rpcecho".into(),
            })
            .await?;
        println!("TestCall = {:?}", r.s2.get());
        for level in 1..=7 {
            let r = c.test_call2(TestCall2Request { level }).await?;
            println!("TestCall2({level}) = {:?}, {:?}", r.info, r.result);
        }
        let r = c.test_sleep(TestSleepRequest { seconds: 1 }).await?;
        println!("TestSleep(1) = {}", r.result);
        let r = c
            .test_enum(TestEnumRequest {
                foo1: EchoEnum1::Enum2,
                foo2: EchoEnum2 {
                    e1: EchoEnum1::Enum1,
                    e2: EchoEnum1_32::Enum2,
                },
                foo3: EchoEnum3::E2(EchoEnum2 {
                    e1: EchoEnum1::Enum2,
                    e2: EchoEnum1_32::Enum1,
                }),
            })
            .await?;
        println!("TestEnum = {:?} {:?} {:?}", r.foo1, r.foo2, r.foo3);
        let r = c
            .test_surrounding(TestSurroundingRequest {
                data: EchoSurrounding {
                    x: 2,
                    surrounding: vec![7, 8],
                },
            })
            .await?;
        println!(
            "TestSurrounding(x=2) = x={} {:?}",
            r.data.x, r.data.surrounding
        );
        let r = c
            .test_double_pointer(TestDoublePointerRequest {
                data: Unique::new(Unique::new(77)),
            })
            .await?;
        println!("TestDoublePointer(77) = {}", r.result);
        let (up, down) = lb.fragment_counts();
        let binds = lb
            .server_events()
            .iter()
            .filter(|e| matches!(e, ServerEvent::Bound { .. }))
            .count();
        println!("{binds} bind, {up} fragments to the server, {down} back\n");
    }
    Ok(())
}
