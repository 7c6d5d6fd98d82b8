//! Define an interface, host it and call it, in one process over loopback TCP.
//!
//!     cargo run -p msrpc --example hello
//!
//! The server listens on a free port of 127.0.0.1; the client connects with a string binding,
//! binds on its first call and calls both operations.

use std::error::Error;

use msrpc::prelude::*;

/// A message a client sends.
#[derive(Ndr, Clone, Debug, PartialEq)]
pub struct Greeting {
    /// `[unique, string] wchar_t *name`.
    #[ndr(string)]
    pub name: Unique<String>,
    /// How many times to greet.
    pub times: u16,
}

/// `interface Hello` (its UUID made up for this example).
#[interface(uuid = "6d1a2c6e-9f3b-4c5e-8a1d-2b7e4f0c9a31", version = "1.0")]
pub trait Hello {
    /// `Greet([in] Greeting *g, [out, string] wchar_t **reply)`.
    #[opnum(0)]
    fn greet(#[ndr(in)] g: Greeting, #[ndr(out, string)] reply: Unique<String>);

    /// `AddOne([in] unsigned long x, [out] unsigned long *y)`.
    #[opnum(1)]
    fn add_one(#[ndr(in)] x: u32, #[ndr(out)] y: u32);
}

/// The implementation.
pub struct HelloService;

impl Hello for HelloService {
    async fn greet(&self, ctx: &CallContext, req: GreetRequest) -> Result<GreetResponse, RpcFault> {
        let name = req.g.name.get().map_or("stranger", String::as_str);
        let peer = ctx.peer.as_deref().unwrap_or("?");
        let reply =
            vec![format!("hello, {name} (from {peer})"); usize::from(req.g.times)].join("; ");
        Ok(GreetResponse {
            reply: Unique::new(reply),
        })
    }

    async fn add_one(
        &self,
        _ctx: &CallContext,
        req: AddOneRequest,
    ) -> Result<AddOneResponse, RpcFault> {
        Ok(AddOneResponse {
            y: req.x.wrapping_add(1),
        })
    }
}

/// Serves `Hello` on loopback, calls it, stops; returns the greeting.
pub async fn run() -> Result<String, Box<dyn Error>> {
    let server = Server::builder()
        .listen("127.0.0.1:0".parse()?)
        .service(HelloServer::new(HelloService))
        .start()
        .await?;
    let port = server.local_addrs().first().ok_or("no listener")?.port();
    println!("server: Hello on 127.0.0.1:{port}");

    let binding = Binding::parse(&format!("ncacn_ip_tcp:127.0.0.1[{port}]"))?;
    let hello = HelloClient::new(Client::connect(&binding, ClientOptions::default()).await?);
    let r = hello
        .greet(GreetRequest {
            g: Greeting {
                name: Unique::new("world".to_string()),
                times: 2,
            },
        })
        .await?;
    let reply = r.reply.into_inner().unwrap_or_default();
    println!("client: {reply}");
    let r = hello.add_one(AddOneRequest { x: 41 }).await?;
    println!("client: add_one(41) = {}", r.y);
    if r.y != 42 {
        return Err("add_one(41) is not 42".into());
    }

    server.shutdown().await;
    Ok(reply)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    run().await.map(drop)
}
