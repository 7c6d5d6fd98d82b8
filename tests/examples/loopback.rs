//! The provisional main job: an in-memory rpcecho client and server (the real PDU codec and
//! both association state machines, nothing but memory between them) binding and calling every
//! operation in both byte orders, printing what happens. `msrpcd` replaces this once the TCP
//! runtime exists.

use msrpc_echo::*;
use msrpc_ndr::DataRep;
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
        for r in msrpc_echo::conformance::exercise(&c, 8000, 1).await? {
            println!("{:<18} {}", r.op, r.detail);
        }
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
