//! Register a service's endpoints with msrpcd over its registration socket, then find the
//! service through the endpoint mapper as any client would.
//!
//!     cargo build -p msrpcd && cargo run -p msrpc --example register_with_msrpcd
//!
//! This example needs an `msrpcd` binary: the first argument, else `$MSRPCD`, else the one
//! `cargo build -p msrpcd` put next to the example's directory (`target/debug/msrpcd`). It
//! starts that msrpcd on loopback (a free port instead of 135, the registration socket in a
//! temporary directory) and stops it at the end. Without a binary it says so and exits
//! successfully without doing anything.

use std::error::Error;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use msrpc::prelude::*;
use msrpc::rpc::Interface;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// `interface Inventory` (its UUID made up for this example).
#[interface(uuid = "9a7c4e21-0b8d-4f36-a5e2-7d1c6b3f0e84", version = "1.0")]
pub trait Inventory {
    /// `Count([out] unsigned long *n)`.
    #[opnum(0)]
    fn count(#[ndr(out)] n: u32);
}

struct Service;

impl Inventory for Service {
    async fn count(&self, _: &CallContext, _: CountRequest) -> Result<CountResponse, RpcFault> {
        Ok(CountResponse { n: 7 })
    }
}

const WAIT: Duration = Duration::from_secs(20);

/// The msrpcd binary to run, if there is one.
pub fn find_msrpcd() -> Option<PathBuf> {
    let given = std::env::args_os()
        .nth(1)
        .or_else(|| std::env::var_os("MSRPCD"))
        .map(PathBuf::from);
    // target/debug/examples/register_with_msrpcd -> target/debug/msrpcd
    let built = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("msrpcd")));
    given.or(built).filter(|p| p.is_file())
}

/// Starts `msrpcd` on loopback, registers `Inventory` with it, finds it through the endpoint
/// mapper and calls it; returns the count the call returned.
pub async fn run(msrpcd: &Path) -> Result<u32, Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let socket = dir.path().join("epm.sock");
    let mut daemon = Command::new(msrpcd)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--registration-socket")
        .arg(&socket)
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = daemon.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    // msrpcd prints one line per endpoint once it serves them, the registration socket last.
    let mut epm: Option<SocketAddr> = None;
    tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await? {
            if let Some(a) = line.strip_prefix("EPM listening on ") {
                epm = a.trim().parse().ok();
            }
            if line.starts_with("registration socket ") {
                break;
            }
        }
        Ok::<_, std::io::Error>(())
    })
    .await??;
    // Keep reading its stdout, so that msrpcd never writes into a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let epm = epm.ok_or("msrpcd printed no EPM address")?;
    println!(
        "msrpcd: endpoint mapper on {epm}, registration socket {}",
        socket.display()
    );

    // The service: a server on a free port, registered with msrpcd.
    let server = Server::builder()
        .listen("127.0.0.1:0".parse()?)
        .service(InventoryServer::new(Service))
        .start()
        .await?;
    let registration = server.register_with(&socket, "inventory example")?;
    tokio::time::timeout(WAIT, registration.wait_registered()).await?;
    println!("service: registered {:?}", server.local_addrs());

    // A client that knows only the host: it asks the endpoint mapper for the port.
    let opts = ClientOptions {
        epm_port: epm.port(),
        ..ClientOptions::default()
    };
    let client = Client::connect_via_epm("127.0.0.1", InventoryInterface::SYNTAX, opts).await?;
    let n = InventoryClient::new(client).count(CountRequest {}).await?.n;
    println!("client: found Inventory through the endpoint mapper; count = {n}");

    registration.stop().await?; // ept_delete, then the connection closes
    server.shutdown().await;
    daemon.kill().await?;
    Ok(n)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let Some(msrpcd) = find_msrpcd() else {
        println!(
            "skipped: no msrpcd binary (build it with `cargo build -p msrpcd`, or give its path \
             as the first argument or in $MSRPCD)"
        );
        return Ok(());
    };
    run(&msrpcd).await.map(drop)
}
