//! NTLMv2 and SPNEGO at each authentication level, over loopback TCP.
//!
//!     cargo run -p msrpc --example authenticated
//!
//! The server accepts both mechanisms for the users of a store (one user, alice) and answers
//! each call with the user and level the call arrived with; the client calls at `CONNECT`,
//! `PKT_INTEGRITY` and `PKT_PRIVACY` with each mechanism, then once with a wrong password,
//! which the server refuses.

use std::error::Error;
use std::sync::Arc;

use msrpc::auth::{self, AuthLevel, MemoryUserStore, UserStore};
use msrpc::client::ClientAuth;
use msrpc::prelude::*;

/// `interface WhoAmI` (its UUID made up for this example).
#[interface(uuid = "3e9b5a41-7c2d-4f68-b1e0-5d4c3b2a1908", version = "1.0")]
pub trait WhoAmI {
    /// `Who([out, string] wchar_t **user, [out] unsigned char *level)`.
    #[opnum(0)]
    fn who(#[ndr(out, string)] user: Unique<String>, #[ndr(out)] level: u8);
}

struct Service;

impl WhoAmI for Service {
    async fn who(&self, ctx: &CallContext, _req: WhoRequest) -> Result<WhoResponse, RpcFault> {
        // This interface serves authenticated callers only; the policy could say the same for
        // every interface of a server (see the guide's `hardening` chapter).
        let auth = ctx
            .auth
            .as_ref()
            .ok_or(RpcFault(FaultStatus::ACCESS_DENIED))?;
        Ok(WhoResponse {
            user: auth.user.clone().map(Unique::new).unwrap_or_default(),
            level: auth.level.0,
        })
    }
}

const PASSWORD: &str = "Example-pw1";

/// Runs every combination; returns how many calls succeeded.
pub async fn run() -> Result<usize, Box<dyn Error>> {
    let users: Arc<dyn UserStore> = Arc::new(MemoryUserStore::new().with_user("alice", PASSWORD));
    let server = Server::builder()
        .listen("127.0.0.1:0".parse()?)
        .service(WhoAmIServer::new(Service))
        .security(auth::acceptors(users))
        .start()
        .await?;
    let port = server.local_addrs().first().ok_or("no listener")?.port();
    let binding = Binding::parse(&format!("ncacn_ip_tcp:127.0.0.1[{port}]"))?;

    type Make = fn(AuthLevel, &str, &str, &str) -> ClientAuth;
    let mechanisms: [(&str, Make); 2] = [("NTLMv2", auth::ntlm), ("SPNEGO", auth::spnego)];
    let levels = [
        ("connect", AuthLevel::CONNECT),
        ("integrity", AuthLevel::PKT_INTEGRITY),
        ("privacy", AuthLevel::PKT_PRIVACY),
    ];
    let mut ok = 0;
    for (mech, make) in mechanisms {
        for (name, level) in levels {
            let opts = ClientOptions {
                auth: Some(make(level, "alice", "", PASSWORD)),
                ..ClientOptions::default()
            };
            let client = WhoAmIClient::new(Client::connect(&binding, opts).await?);
            let r = client.who(WhoRequest {}).await?;
            let user = r.user.into_inner().unwrap_or_default();
            println!(
                "{mech:6} at {name:9}: the server saw {user} at level {}",
                r.level
            );
            if user != "alice" || r.level != level.0 {
                return Err(format!("{mech} at {name}: got {user} at {}", r.level).into());
            }
            ok += 1;
        }
    }

    // A wrong password: the acceptor refuses the logon. NTLM's last leg (AUTH3) has no answer,
    // so the refusal comes as the first call's fault, ACCESS_DENIED, as from Windows.
    let opts = ClientOptions {
        auth: Some(auth::ntlm(AuthLevel::PKT_PRIVACY, "alice", "", "wrong")),
        ..ClientOptions::default()
    };
    let client = WhoAmIClient::new(Client::connect(&binding, opts).await?);
    match client.who(WhoRequest {}).await {
        Err(CallError::Fault(FaultStatus::ACCESS_DENIED)) => {
            println!("wrong password: fault ACCESS_DENIED")
        }
        other => return Err(format!("a wrong password: {other:?}").into()),
    }

    server.shutdown().await;
    Ok(ok)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    run().await.map(drop)
}
