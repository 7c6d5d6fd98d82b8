//! Cross-crate integration tests (in `tests/`) and [`Loopback`], an in-memory connection that
//! wires a [`ClientConnection`] to a [`ServerConnection`] hosting [`Dispatch`] services, the
//! way quinn's tests wire two endpoints: every byte goes through the real PDU codec and both
//! state machines, with nothing but memory in between. Service calls run as tokio tasks, so a
//! slow call (rpcecho's TestSleep) does not hold up the others.

pub mod pcap;
mod sleeper;
pub mod values;

pub use sleeper::TokioSleep;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use msrpc_ndr::{DataRep, TransferSyntax, Uuid};
use msrpc_proto::client::{ClientConfig, ClientConnection, ClientEvent};
use msrpc_proto::dispatch::{BoxFuture, CallContext, CallError, Dispatch, Invoke, ResponseStub};
use msrpc_proto::pdu::{AuthType, SyntaxId};
use msrpc_proto::security::SecurityProvider;
use msrpc_proto::server::{ServerConfig, ServerConnection, ServerEnv, ServerEvent};
use tokio::sync::oneshot;

/// Services offered by the in-memory server.
#[derive(Clone, Default)]
pub struct Registry {
    services: Vec<Arc<dyn Dispatch>>,
    next_group: u32,
    groups: Vec<u32>,
    ndr64: bool,
}

impl Registry {
    /// Adds a service.
    pub fn with(mut self, svc: impl Dispatch) -> Self {
        self.services.push(Arc::new(svc));
        self
    }

    /// Accepts NDR64 for the services that support it (`Dispatch::supports_ndr64`), as msrpcd
    /// does; by default the in-memory server answers NDR20 only.
    pub fn with_ndr64(mut self) -> Self {
        self.ndr64 = true;
        self
    }

    fn find(&self, syntax: &SyntaxId) -> Option<Arc<dyn Dispatch>> {
        self.services
            .iter()
            .find(|s| s.syntax() == *syntax)
            .cloned()
    }
}

impl ServerEnv for Registry {
    fn lookup_interface(&self, a: &SyntaxId) -> Option<SyntaxId> {
        self.services
            .iter()
            .map(|s| s.syntax())
            .find(|s| s.uuid == a.uuid && s.major == a.major && s.minor >= a.minor)
    }
    fn supports_ndr64(&self, interface: &SyntaxId) -> bool {
        self.ndr64 && self.find(interface).is_some_and(|s| s.supports_ndr64())
    }
    fn assoc_group(&mut self, requested: u32) -> Option<u32> {
        if requested == 0 {
            self.next_group += 1;
            let id = 0x1000 + self.next_group;
            self.groups.push(id);
            Some(id)
        } else {
            self.groups.contains(&requested).then_some(requested)
        }
    }
    fn security_provider(&mut self, _t: AuthType) -> Option<Box<dyn SecurityProvider>> {
        None
    }
}

struct Inner {
    client: ClientConnection,
    server: ServerConnection,
    registry: Registry,
    waiters: HashMap<u32, oneshot::Sender<Result<ResponseStub, CallError>>>,
    bind_waiters: Vec<oneshot::Sender<Result<(), CallError>>>,
    server_events: Vec<ServerEvent>,
    fragments_to_server: usize,
    fragments_to_client: usize,
    wire: Vec<pcap::Segment>,
}

/// An in-memory association: a client and a server state machine joined by memory.
#[derive(Clone)]
pub struct Loopback {
    inner: Arc<Mutex<Inner>>,
    drep: DataRep,
}

impl Loopback {
    /// A connection from a client configured with `client` to a server configured with
    /// `server` offering `registry`'s services.
    pub fn new(client: ClientConfig, server: ServerConfig, registry: Registry) -> Self {
        let drep = client.drep;
        Loopback {
            inner: Arc::new(Mutex::new(Inner {
                client: ClientConnection::new(client),
                server: ServerConnection::new(server),
                registry,
                waiters: HashMap::new(),
                bind_waiters: Vec::new(),
                server_events: Vec::new(),
                fragments_to_server: 0,
                fragments_to_client: 0,
                wire: Vec::new(),
            })),
            drep,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Every event the server state machine reported so far.
    pub fn server_events(&self) -> Vec<ServerEvent> {
        self.lock().server_events.clone()
    }

    /// Fragments sent each way so far: (client to server, server to client).
    pub fn fragment_counts(&self) -> (usize, usize) {
        let g = self.lock();
        (g.fragments_to_server, g.fragments_to_client)
    }

    /// Every fragment that crossed the connection, in order, with its direction.
    pub fn wire(&self) -> Vec<pcap::Segment> {
        self.lock().wire.clone()
    }

    /// Runs a closure on the client state machine (to inspect or drive it directly).
    pub fn with_client<R>(&self, f: impl FnOnce(&mut ClientConnection) -> R) -> R {
        f(&mut self.lock().client)
    }

    /// Binds `interfaces` (bind, or alter_context once bound) and waits for the answer.
    pub async fn bind(&self, interfaces: &[SyntaxId]) -> Result<(), CallError> {
        let rx = {
            let mut g = self.lock();
            g.client
                .bind(interfaces)
                .map_err(|e| CallError::Protocol(e.to_string()))?;
            let (tx, rx) = oneshot::channel();
            g.bind_waiters.push(tx);
            rx
        };
        self.pump();
        rx.await
            .map_err(|_| CallError::Transport("loopback dropped".into()))?
    }

    /// Moves bytes both ways until neither side has anything to send, spawning dispatches.
    fn pump(&self) {
        loop {
            let mut moved = false;
            let mut calls = Vec::new();
            {
                let mut g = self.lock();
                let g = &mut *g;
                while let Some(frame) = g.client.poll_transmit() {
                    moved = true;
                    g.fragments_to_server += 1;
                    g.wire.push(pcap::Segment {
                        to_server: true,
                        data: frame.clone(),
                    });
                    let evs = g.server.receive(&frame, &mut g.registry);
                    for e in evs {
                        if let ServerEvent::Call(c) = &e {
                            calls.push(c.clone());
                        }
                        g.server_events.push(e);
                    }
                }
                while let Some(frame) = g.server.poll_transmit() {
                    moved = true;
                    g.fragments_to_client += 1;
                    g.wire.push(pcap::Segment {
                        to_server: false,
                        data: frame.clone(),
                    });
                    match g.client.receive(&frame) {
                        Ok(evs) => {
                            for e in evs {
                                deliver(g, e);
                            }
                        }
                        Err(e) => {
                            for (_, w) in g.waiters.drain() {
                                let _ = w.send(Err(CallError::Protocol(e.to_string())));
                            }
                        }
                    }
                }
            }
            for call in calls {
                let svc = self.lock().registry.find(&call.interface);
                let this = self.clone();
                tokio::spawn(async move {
                    let result = match svc {
                        Some(svc) => {
                            let ctx = CallContext {
                                call_id: call.call_id,
                                context_id: call.context_id,
                                opnum: call.opnum,
                                object: call.object,
                                conn_id: 0,
                                local_addr: None,
                                assoc_group_id: 0,
                                auth: call.auth.clone(),
                                peer: Some("loopback".into()),
                                local: false,
                            };
                            svc.dispatch_in(
                                ctx,
                                call.stub,
                                call.drep,
                                call.transfer_syntax,
                                Default::default(),
                            )
                            .await
                            .map_err(|e| e.status())
                        }
                        None => Err(msrpc_proto::pdu::FaultStatus::NCA_S_UNK_IF),
                    };
                    this.lock().server.respond(call.call_id, result);
                    this.pump();
                });
            }
            if !moved {
                break;
            }
        }
    }
}

fn deliver(g: &mut Inner, e: ClientEvent) {
    match e {
        ClientEvent::Bound { .. } => {
            for w in g.bind_waiters.drain(..) {
                let _ = w.send(Ok(()));
            }
        }
        ClientEvent::BindNak { reason, .. } => {
            for w in g.bind_waiters.drain(..) {
                let _ = w.send(Err(CallError::Protocol(format!("bind_nak {reason:?}"))));
            }
        }
        ClientEvent::Response {
            call_id,
            stub,
            drep,
        } => {
            if let Some(w) = g.waiters.remove(&call_id) {
                let _ = w.send(Ok(ResponseStub { stub, drep }));
            }
        }
        ClientEvent::Fault {
            call_id, status, ..
        } => {
            if let Some(w) = g.waiters.remove(&call_id) {
                let _ = w.send(Err(CallError::Fault(status)));
            }
        }
        ClientEvent::Shutdown => {
            for (_, w) in g.waiters.drain() {
                let _ = w.send(Err(CallError::Transport("shutdown".into())));
            }
        }
    }
}

impl Invoke for Loopback {
    fn invoke<'a>(
        &'a self,
        syntax: SyntaxId,
        opnum: u16,
        object: Option<Uuid>,
        stub: Vec<u8>,
        _drep: DataRep,
    ) -> BoxFuture<'a, Result<ResponseStub, CallError>> {
        Box::pin(async move {
            let bound = self.lock().client.context_for(&syntax).is_some();
            if !bound {
                self.bind(&[syntax]).await?;
            }
            let rx = {
                let mut g = self.lock();
                let call_id =
                    g.client
                        .request(&syntax, opnum, object, &stub)
                        .map_err(|e| match e {
                            msrpc_proto::client::ClientError::NotBound(s) => CallError::NotBound(s),
                            e => CallError::Protocol(e.to_string()),
                        })?;
                let (tx, rx) = oneshot::channel();
                g.waiters.insert(call_id, tx);
                rx
            };
            self.pump();
            rx.await
                .map_err(|_| CallError::Transport("loopback dropped".into()))?
        })
    }

    fn drep(&self) -> DataRep {
        self.drep
    }

    fn transfer_syntax<'a>(
        &'a self,
        interface: SyntaxId,
    ) -> BoxFuture<'a, Result<TransferSyntax, CallError>> {
        Box::pin(async move {
            if self.lock().client.context_for(&interface).is_none() {
                self.bind(&[interface]).await?;
            }
            self.lock()
                .client
                .transfer_for(&interface)
                .ok_or(CallError::NotBound(interface))
        })
    }

    fn invoke_in<'a>(
        &'a self,
        syntax: SyntaxId,
        opnum: u16,
        object: Option<Uuid>,
        stub: Vec<u8>,
        drep: DataRep,
        transfer: TransferSyntax,
    ) -> BoxFuture<'a, Result<ResponseStub, CallError>> {
        Box::pin(async move {
            // the stub goes on the context that accepted its syntax, or not at all
            let bound = self.lock().client.transfer_for(&syntax);
            if bound.is_some_and(|t| t != transfer) {
                return Err(CallError::NotBound(syntax));
            }
            self.invoke(syntax, opnum, object, stub, drep).await
        })
    }
}
