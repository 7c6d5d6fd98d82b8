//! An rpcecho server that requires NTLMv2 (our acceptor), for checking real clients against it:
//!
//!     cargo run -p msrpc-ntlm --example ntlm_echo_server -- 127.0.0.1:1140 USER PASSWORD [SECONDS]
//!
//! Prints `listening on ADDR` once ready and stops after SECONDS (default 60).

use std::sync::Arc;
use std::time::Duration;

use msrpc_echo::{EchoService, RpcechoServer};
use msrpc_ntlm::{MemoryUserStore, NtlmAcceptor, UserStore};
use msrpc_proto::pdu::AuthType;
use msrpc_proto::security::SecurityProvider;
use msrpc_rt::{Server, TokioSleeper};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, user, password, rest @ ..] = args.as_slice() else {
        return Err("usage: ntlm_echo_server ADDR USER PASSWORD [SECONDS]".into());
    };
    let secs: u64 = rest.first().map(|s| s.parse()).transpose()?.unwrap_or(60);
    let mut store = MemoryUserStore::new();
    store.add_user(user, password);
    let store: Arc<dyn UserStore> = Arc::new(store);
    let server = Server::builder()
        .listen(addr.parse()?)
        .service(RpcechoServer::new(EchoService::new(TokioSleeper)))
        .security(Arc::new(move |t: AuthType| {
            (t == AuthType::WINNT)
                .then(|| Box::new(NtlmAcceptor::new(store.clone())) as Box<dyn SecurityProvider>)
        }))
        .start()
        .await?;
    for a in server.local_addrs() {
        println!("listening on {a}");
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    server.shutdown().await;
    Ok(())
}
