//! Microsoft RPC in Rust: DCE/RPC 1.1 (The Open Group C706) with the Windows extensions of
//! MS-RPCE, and DCOM (MS-DCOM), wire-compatible with Windows, Samba and Impacket.
//!
//! This crate is the front door: it re-exports, organised by task, what an application needs
//! from the `msrpc-*` crates, and its [`guide`] walks through each task with code that runs.
//!
//! | task | module | feature |
//! |---|---|---|
//! | describe the data: `#[derive(Ndr)]`, pointers, arrays, strings | [`ndr`] | always |
//! | describe an interface: [`macro@interface`] | crate root | always |
//! | what services and clients see: [`rpc::CallContext`], [`rpc::RpcFault`], [`rpc::CallError`] | [`rpc`] | always |
//! | call an interface over TCP: `Client`, `Binding`, `connect_via_epm` | `client` | `client` |
//! | host interfaces: `Server`, `Limits`, the security policy | `server` | `server` |
//! | authenticate: NTLMv2 and SPNEGO, user stores | `auth` | `ntlm` |
//! | register endpoints with `msrpcd` | `epm` | `client` or `server` |
//! | activate and call COM objects; host COM classes | `dcom` | `dcom` (hosting also `server`) |
//! | audit records and detectors, as `msrpcd` writes them | `audit` | `audit` |
//!
//! The default features are `client`, `server` and `ntlm`. `client` and `server` share one
//! runtime crate (`msrpc-rt`, on tokio), so either alone builds it; what they choose is what is
//! exported. Without both, this crate is the sans-IO part only (NDR, the interface macro and
//! the protocol core in [`proto`]), with no tokio.
//!
//! # In one page
//! ```
//! use msrpc::prelude::*;
//!
//! /// A greeting service.
//! #[interface(uuid = "2f5f6520-ca46-1067-b319-00dd010662da", version = "1.0")]
//! pub trait Greeter {
//!     /// Adds one.
//!     #[opnum(0)]
//!     fn add_one(#[ndr(in)] x: u32, #[ndr(out)] y: u32);
//! }
//!
//! struct Service;
//!
//! impl Greeter for Service {
//!     async fn add_one(&self, _ctx: &CallContext, req: AddOneRequest) -> Result<AddOneResponse, RpcFault> {
//!         Ok(AddOneResponse { y: req.x + 1 })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::builder()
//!     .listen("127.0.0.1:0".parse()?)
//!     .service(GreeterServer::new(Service))
//!     .start()
//!     .await?;
//! let binding = Binding::parse(&format!("ncacn_ip_tcp:127.0.0.1[{}]", server.local_addrs()[0].port()))?;
//! let client = GreeterClient::new(Client::connect(&binding, ClientOptions::default()).await?);
//! assert_eq!(client.add_one(AddOneRequest { x: 41 }).await?.y, 42);
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Dependencies of generated code
//! `#[derive(Ndr)]` and [`macro@interface`] as exported here generate code that names this
//! crate (`::msrpc::...`), so `msrpc` is the only dependency an application adds (with tokio
//! for its runtime). Renaming the dependency in `Cargo.toml` breaks those paths. The macros of
//! the underlying crates (`msrpc-macros`) name `msrpc-ndr` and `msrpc-proto` instead.
//!
//! # Examples
//! `crates/msrpc/examples/` holds a runnable program per task (`cargo run -p msrpc --example
//! hello`, `authenticated`, `faults`, `register_with_msrpcd`, `dcom_calculator --features
//! dcom`); `cargo test -p msrpc --all-features` runs every one of them on loopback.
#![forbid(unsafe_code)]

pub use msrpc_macros::interface_via_facade as interface;

pub mod guide;

pub mod ndr {
    //! NDR20, the transfer syntax: `#[derive(Ndr)]`, pointers ([`Ref`],
    //! [`Unique`], [`Full`]), arrays, strings, context handles, limits
    //! and errors (all of `msrpc-ndr`).
    //!
    //! ```
    //! use msrpc::ndr::{self, DataRep, DecodeLimits, Ndr, Unique};
    //!
    //! #[derive(Ndr, Debug, PartialEq)]
    //! struct Pair {
    //!     a: u16,
    //!     b: Unique<u32>,
    //! }
    //!
    //! let v = Pair { a: 7, b: Unique::new(9) };
    //! let bytes = ndr::to_bytes(&v, DataRep::LITTLE_ENDIAN)?;
    //! let back: Pair = ndr::from_bytes(&bytes, DataRep::LITTLE_ENDIAN, DecodeLimits::DEFAULT)?;
    //! assert_eq!(back, v);
    //! # Ok::<(), Box<dyn std::error::Error>>(())
    //! ```

    pub use msrpc_ndr::*;

    /// Derives [`Ndr`](trait@Ndr) for a struct, a union (an enum with data) or an enum; see
    /// [`guide::define`](crate::guide::define) for the `#[ndr(...)]` attributes.
    pub use msrpc_macros::NdrViaFacade as Ndr;
}

pub mod rpc {
    //! The call model shared by clients and services: who is calling ([`CallContext`],
    //! [`CallAuth`]), how a service refuses ([`RpcFault`] with a [`FaultStatus`]), how a call
    //! fails at the client ([`CallError`]), and the traits generated code implements
    //! ([`Dispatch`], [`Invoke`], [`Interface`]).

    pub use msrpc_proto::dispatch::{
        CallAuth, CallContext, CallError, Dispatch, DispatchError, Interface, Invoke, RpcFault,
        Sleeper,
    };
    pub use msrpc_proto::pdu::{AuthLevel, AuthType, FaultStatus, SyntaxId};
}

pub mod proto {
    //! The sans-IO protocol core (`msrpc-proto`): PDUs, association state machines, the
    //! `SecurityProvider` seam. Applications rarely need it directly.

    pub use msrpc_proto::*;
}

#[cfg(feature = "client")]
pub mod client {
    //! Calling interfaces over `ncacn_ip_tcp`: a [`Client`] is one connection that generated
    //! clients (`FooClient::new(client)`) call through; [`Binding`] parses string bindings;
    //! [`Client::connect_via_epm`] asks the endpoint mapper for the port. Over connectionless
    //! `ncadg_ip_udp`, a [`UdpClient`] plays the same part (unauthenticated, NDR20).

    pub use msrpc_proto::client::ClientConfig;
    pub use msrpc_rt::{
        BindError, Binding, BindingError, Client, ClientAuth, ClientOptions, ConnectError, Protseq,
        UdpClient, UdpClientOptions, EPM_PORT,
    };
}

#[cfg(feature = "server")]
pub mod server {
    //! Hosting interfaces: [`Server::builder`] takes listeners, services (generated
    //! `FooServer::new(service)`), [`Limits`], a security factory and a [`policy`].

    pub use msrpc_rt::{
        ConnEvent, Limits, Observer, SecurityFactory, Server, ServerBuilder, ServerHandle,
        StartError, TokioSleeper, DEFAULT_DYNAMIC_PORTS, UNIX_SOCKET_MODE,
    };

    /// The server security policy (`msrpc-policy`): minimum levels per interface,
    /// RestrictRemoteClients-like modes, RPC filters, security callbacks; checked before every
    /// dispatch when given to [`ServerBuilder::policy`].
    pub mod policy {
        pub use msrpc_policy::*;
    }
}

#[cfg(feature = "ntlm")]
pub mod auth {
    //! Authentication: NTLMv2 and SPNEGO providers (`msrpc-ntlm`), user stores, and two helpers
    //! that wire them into a client ([`ntlm`], [`spnego`]) or a server ([`acceptors`]).

    pub use msrpc_ntlm::{
        FileUserStore, MemoryUserStore, NtlmAcceptor, NtlmClient, SpnegoAcceptor, SpnegoClient,
        StoreError, UserStore, ANONYMOUS_LOGON,
    };
    pub use msrpc_proto::pdu::{AuthLevel, AuthType};
    pub use msrpc_proto::security::SecurityProvider;

    #[cfg(feature = "client")]
    use msrpc_rt::ClientAuth;

    /// Client authentication with NTLMv2 (`RPC_C_AUTHN_WINNT`) as `domain\user` at `level`
    /// (only the password's NT hash is kept), for [`ClientOptions::auth`].
    ///
    /// [`ClientOptions::auth`]: crate::client::ClientOptions::auth
    #[cfg(feature = "client")]
    pub fn ntlm(level: AuthLevel, user: &str, domain: &str, password: &str) -> ClientAuth {
        let hash = msrpc_ntlm::crypto::nt_hash(password);
        let (user, domain) = (user.to_owned(), domain.to_owned());
        ClientAuth::new(level, move || {
            Box::new(NtlmClient::with_nt_hash(&user, &domain, *hash))
        })
    }

    /// The same over SPNEGO (`RPC_C_AUTHN_GSS_NEGOTIATE`, NTLMv2 inside), what Windows
    /// clients send by default.
    #[cfg(feature = "client")]
    pub fn spnego(level: AuthLevel, user: &str, domain: &str, password: &str) -> ClientAuth {
        let hash = msrpc_ntlm::crypto::nt_hash(password);
        let (user, domain) = (user.to_owned(), domain.to_owned());
        ClientAuth::new(level, move || {
            Box::new(SpnegoClient::new(NtlmClient::with_nt_hash(
                &user, &domain, *hash,
            )))
        })
    }

    /// A server's security factory accepting NTLMv2 and SPNEGO logons of `store`'s users (no
    /// anonymous logons), for [`ServerBuilder::security`].
    ///
    /// [`ServerBuilder::security`]: crate::server::ServerBuilder::security
    #[cfg(feature = "server")]
    pub fn acceptors(store: std::sync::Arc<dyn UserStore>) -> msrpc_rt::SecurityFactory {
        std::sync::Arc::new(move |t: AuthType| {
            let ntlm = || NtlmAcceptor::new(store.clone());
            if t == AuthType::WINNT {
                Some(Box::new(ntlm()) as Box<dyn SecurityProvider>)
            } else if t == AuthType::GSS_NEGOTIATE {
                Some(Box::new(SpnegoAcceptor::new(ntlm())))
            } else {
                None
            }
        })
    }
}

#[cfg(any(feature = "client", feature = "server"))]
pub mod epm {
    //! The endpoint mapper: keeping a server's endpoints registered with the local `msrpcd`
    //! ([`Registration`], through `Server::register_with`), and the EPM interface, towers and the
    //! table of well-known interfaces (`msrpc-epm`).

    pub use msrpc_epm::{
        known, tower, EptClient, EptEntry, EptInterface, EptLookupRequest, EptMapRequest, Floor,
        RpcIfId, Tower, TowerError, RPC_C_EP_ALL_ELTS,
    };
    pub use msrpc_rt::registration::RegistrationError;
    pub use msrpc_rt::{Registration, RegistrationOptions, RegistrationState, RegistrationStatus};
}

#[cfg(feature = "dcom")]
pub mod dcom {
    //! DCOM (`msrpc-dcom`): identifiers, ORPC headers, OBJREFs, `#[interface(orpc)]` support,
    //! the client (`client`: `DcomClient::create_instance`, `ComRef`, pinging), and with the
    //! `server` feature class hosting (`server`: `DcomHost`, `ClassRegistry`, `ComObject`). The
    //! demo calculator class is in `demo` and `server::demo`.

    pub use msrpc_dcom::*;
}

#[cfg(feature = "audit")]
pub mod audit {
    //! Typed audit events for DCE/RPC traffic (`msrpc-audit`): the adapter from a server's
    //! observer to events (`live`), the detectors and technique library msrpcd runs, the
    //! JSON-lines sink and Prometheus metrics.

    pub use msrpc_audit::*;
}

pub mod prelude {
    //! The names most programs use: the macros, NDR pointer types, the call model, and with
    //! their features the client and server types.

    pub use crate::interface;
    pub use crate::ndr::{Full, Ndr, Ref, Unique, Uuid};
    pub use crate::rpc::{AuthLevel, CallContext, CallError, FaultStatus, RpcFault};

    #[cfg(feature = "client")]
    pub use crate::client::{Binding, Client, ClientOptions};
    #[cfg(feature = "server")]
    pub use crate::server::{Limits, Server};
}

#[doc(hidden)]
pub mod __private {
    //! What the generated code of this crate's macros names (not an API).

    #[cfg(feature = "dcom")]
    pub use msrpc_dcom;
    pub use msrpc_ndr;
    pub use msrpc_proto;
}
