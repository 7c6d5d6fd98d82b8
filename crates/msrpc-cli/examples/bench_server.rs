//! A small msrpc_rt server for `msrpc bench`: the endpoint mapper (with its own and rpcecho's
//! `ncacn_ip_tcp` endpoints registered), mgmt and rpcecho, all on one address.
//!
//! ```text
//! cargo run --release -p msrpc-cli --example bench_server -- 127.0.0.31:1135 [SECONDS]
//! ```
//! It prints `listening on ADDR` and stops after SECONDS (600 by default).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use msrpc_echo::{EchoService, RpcechoInterface, RpcechoServer};
use msrpc_epm::db::IN_PROCESS_OWNER_BASE;
use msrpc_epm::mgmt::{MgmtInterface, MgmtServer};
use msrpc_epm::tower::Tower;
use msrpc_epm::{
    EndpointDb, EpmService, EptInterface, EptServer, MgmtService, MgmtStats, NewEntry, RpcIfId,
};
use msrpc_ndr::Uuid;
use msrpc_proto::dispatch::Interface;
use msrpc_proto::pdu::SyntaxId;
use msrpc_rt::{Server, TokioSleeper};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args.next().unwrap_or("127.0.0.1:0".into()).parse()?;
    let seconds: f64 = args.next().map_or(Ok(600.0), |s| s.parse())?;
    let db = Arc::new(Mutex::new(EndpointDb::new()));
    let ids = [
        EptInterface::SYNTAX,
        MgmtInterface::SYNTAX,
        RpcechoInterface::SYNTAX,
    ];
    let if_ids = Arc::new(RwLock::new(
        ids.iter().map(|&s| RpcIfId::from(s)).collect::<Vec<_>>(),
    ));
    let server = Server::builder()
        .listen(addr)
        .service(EptServer::new(EpmService::new(Arc::clone(&db))))
        .service(MgmtServer::new(MgmtService::new(if_ids, MgmtStats::new())))
        .service(RpcechoServer::new(EchoService::new(TokioSleeper)))
        .start()
        .await?;
    let local = server.local_addrs().first().copied().ok_or("no address")?;
    let ip = match local.ip() {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    };
    let entries = ids
        .iter()
        .map(|s| {
            NewEntry::new(
                Uuid::nil(),
                Tower::ncacn_ip_tcp(*s, SyntaxId::NDR20, ip, local.port()),
                "bench server",
            )
        })
        .collect();
    db.lock()
        .map_err(|_| "endpoint map lock poisoned")?
        .register(IN_PROCESS_OWNER_BASE, entries, false)?;
    println!("listening on {local}");
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    server.shutdown().await;
    Ok(())
}
