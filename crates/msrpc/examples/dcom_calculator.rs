//! DCOM both ways, over loopback TCP: host the demo calculator class (`MsrpcCalculator`,
//! the class `msrpcd --demo` hosts), then activate it and call it as a client.
//!
//!     cargo run -p msrpc --features dcom --example dcom_calculator
//!
//! The host runs two servers: the OXID resolver and activators (port 135 on a real machine,
//! a free port here) and the object exporter, both accepting NTLMv2 and SPNEGO. Activation
//! needs packet integrity (the `DcomSettings` default, as on Windows since CVE-2021-26414), so
//! the client authenticates as alice at `PKT_INTEGRITY`.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use msrpc::auth::{self, AuthLevel, MemoryUserStore, UserStore};
use msrpc::client::ClientOptions;
use msrpc::dcom::client::{DcomClient, DcomConfig};
use msrpc::dcom::demo::{
    AddRequest, CalculatorInterface, CalculatorServer, EchoRequest, SpawnRequest, CLSID_CALCULATOR,
    IID_ICALCULATOR,
};
use msrpc::dcom::server::demo::{demo_classes, CalculatorService};
use msrpc::dcom::server::{DcomHost, DcomSettings};
use msrpc::dcom::OrpcThis;
use msrpc::ndr::Uuid;
use msrpc::server::Server;

const PASSWORD: &str = "Example-pw1";

/// Hosts the class, activates it, calls `Add`, `Echo` and `Spawn`; returns the sums.
pub async fn run() -> Result<(i32, i32), Box<dyn Error>> {
    // --- the host ---
    let users: Arc<dyn UserStore> = Arc::new(MemoryUserStore::new().with_user("alice", PASSWORD));
    let resolver_at = "127.0.0.1:0".parse()?;
    let host = Arc::new(DcomHost::new(
        demo_classes(),          // CLSID -> factory of calculator objects
        DcomSettings::default(), // activation at PKT_INTEGRITY or more
        &[resolver_at],          // the addresses the resolver advertises
        true,                    // advertise NTLM and SPNEGO security bindings
        None,                    // no observer of activations, calls and pings
    ));
    let exporter = host
        .exporter_services(Server::builder().listen("127.0.0.1:0".parse()?))
        .service(CalculatorServer::new(CalculatorService(host.clone())))
        .security(auth::acceptors(users.clone()))
        .start()
        .await?;
    host.set_exporter(&exporter.local_addrs())?;
    let resolver = host
        .resolver_services(Server::builder().listen(resolver_at))
        .security(auth::acceptors(users))
        .start()
        .await?;
    let gc = host.spawn_gc(); // collects objects whose clients stopped pinging
    let port = resolver.local_addrs().first().ok_or("no listener")?.port();
    println!(
        "host: resolver and activator on 127.0.0.1:{port}, exporter on {:?}",
        exporter.local_addrs()
    );

    // --- the client ---
    let opts = ClientOptions {
        auth: Some(auth::ntlm(AuthLevel::PKT_INTEGRITY, "alice", "", PASSWORD)),
        ..ClientOptions::default()
    };
    let dcom = DcomClient::new(opts, DcomConfig::default());
    let mut obj = dcom
        .create_instance("127.0.0.1", port, CLSID_CALCULATOR, &[IID_ICALCULATOR])
        .await?;
    println!("client: activated, OXID {:?}", obj.activated.oxid);
    let calc = obj.take(0)?;
    let client = calc.client::<CalculatorInterface>()?;
    let this = || OrpcThis::new(Uuid::from_u128(0x5eed));

    let r = client
        .add(AddRequest {
            orpcthis: this(),
            a: 20,
            b: 22,
        })
        .await?;
    println!("client: Add(20, 22) = {} ({:?})", r.sum, r.result);
    let sum = r.sum;

    let r = client
        .echo(EchoRequest {
            orpcthis: this(),
            text: "hello, COM".into(),
        })
        .await?;
    println!("client: Echo = {:?}", r.reply.get());

    // Spawn returns an interface pointer to a new object; the client adopts the reference.
    let r = client
        .spawn(SpawnRequest {
            orpcthis: this(),
            offset: 100,
        })
        .await?;
    let ptr = r.child.get().ok_or("Spawn returned no object")?;
    let child = obj.exporter.adopt_ptr(ptr)?;
    let r = child
        .client::<CalculatorInterface>()?
        .add(AddRequest {
            orpcthis: this(),
            a: 2,
            b: 3,
        })
        .await?;
    println!("client: the spawned calculator's Add(2, 3) = {}", r.sum);
    let child_sum = r.sum;

    // Give the references back (dropping them would too, in the background).
    child.release().await?;
    calc.release().await?;
    obj.exporter.shutdown(Duration::from_secs(5)).await?;
    println!("host: objects left {:?}", host.counts());

    gc.abort();
    resolver.shutdown().await;
    exporter.shutdown().await;
    Ok((sum, child_sum))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    run().await.map(drop)
}
