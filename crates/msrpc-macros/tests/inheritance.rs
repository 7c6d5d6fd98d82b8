//! Interface inheritance (`trait Derived: Base` under `#[interface]`): the derived server
//! dispatches the base's opnums to the base trait's methods, its client calls them on the
//! derived interface, the operation table and the run-down hook are the inherited ones, over
//! two levels of inheritance.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use futures::executor::block_on;
use msrpc_macros::interface;
use msrpc_ndr::{DataRep, DecodeLimits, Uuid};
use msrpc_proto::dispatch::{
    BoxFuture, CallContext, CallError, Dispatch, DispatchError, Interface, Invoke, ResponseStub,
    RpcFault,
};
use msrpc_proto::SyntaxId;

mod base {
    use super::interface;

    /// The root interface.
    #[interface(uuid = "6c1f2a10-0000-4000-8000-000000000001", version = "1.0")]
    pub trait Counter {
        /// Adds `n`; returns the new total.
        #[opnum(0)]
        fn add(#[ndr(in)] n: u32, #[ndr(out)] total: u32);

        /// The total.
        #[opnum(2)]
        fn get(#[ndr(out)] total: u32) -> u32;
    }
}

mod derived {
    use super::interface;

    /// Inherits `Counter`'s operations 0 and 2, adds 1 (in the base's gap) and 3.
    #[interface(uuid = "6c1f2a10-0000-4000-8000-000000000002", version = "1.0")]
    pub trait Counter2: crate::base::Counter {
        /// Subtracts `n`.
        #[opnum(1)]
        fn sub(#[ndr(in)] n: u32, #[ndr(out)] total: u32);

        /// Sets the total to 0; returns the old one.
        #[opnum(3)]
        fn reset(#[ndr(out)] old: u32);
    }

    /// A second level: everything above plus opnum 4.
    #[interface(uuid = "6c1f2a10-0000-4000-8000-000000000003", version = "2.1")]
    pub trait Counter3: Counter2 {
        /// Doubles the total.
        #[opnum(4)]
        fn double(#[ndr(out)] total: u32);
    }
}

use base::*;
use derived::*;

/// One service implementing the three traits; records run-downs.
#[derive(Default)]
struct Svc {
    total: AtomicU32,
    rundowns: Mutex<Vec<u32>>,
}

impl Counter for Svc {
    async fn add(&self, _: &CallContext, req: AddRequest) -> Result<AddResponse, RpcFault> {
        let total = self.total.fetch_add(req.n, Ordering::SeqCst) + req.n;
        Ok(AddResponse { total })
    }
    async fn get(&self, _: &CallContext, _: GetRequest) -> Result<GetResponse, RpcFault> {
        Ok(GetResponse {
            total: self.total.load(Ordering::SeqCst),
            result: 7,
        })
    }
    fn rundown(&self, assoc_group_id: u32) {
        self.rundowns.lock().unwrap().push(assoc_group_id);
    }
}

impl Counter2 for Svc {
    async fn sub(&self, _: &CallContext, req: SubRequest) -> Result<SubResponse, RpcFault> {
        let total = self.total.fetch_sub(req.n, Ordering::SeqCst) - req.n;
        Ok(SubResponse { total })
    }
    async fn reset(&self, _: &CallContext, _: ResetRequest) -> Result<ResetResponse, RpcFault> {
        Ok(ResetResponse {
            old: self.total.swap(0, Ordering::SeqCst),
        })
    }
}

impl Counter3 for Svc {
    async fn double(&self, _: &CallContext, _: DoubleRequest) -> Result<DoubleResponse, RpcFault> {
        let t = self.total.load(Ordering::SeqCst) * 2;
        self.total.store(t, Ordering::SeqCst);
        Ok(DoubleResponse { total: t })
    }
}

const LE: DataRep = DataRep::LITTLE_ENDIAN;

fn ctx(opnum: u16) -> CallContext {
    CallContext {
        opnum,
        ..Default::default()
    }
}

/// A call as the invoker saw it: the interface, the opnum, the object UUID.
type Seen = (SyntaxId, u16, Option<Uuid>);

/// An in-process invoker: checks the syntax each call names, then dispatches to `server`.
struct Direct<D> {
    server: Arc<D>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl<D> Clone for Direct<D> {
    fn clone(&self) -> Self {
        Direct {
            server: Arc::clone(&self.server),
            seen: Arc::clone(&self.seen),
        }
    }
}

impl<D: Dispatch + Send + Sync> Invoke for Direct<D> {
    fn invoke<'a>(
        &'a self,
        syntax: SyntaxId,
        opnum: u16,
        object: Option<Uuid>,
        stub: Vec<u8>,
        drep: DataRep,
    ) -> BoxFuture<'a, Result<ResponseStub, CallError>> {
        Box::pin(async move {
            self.seen.lock().unwrap().push((syntax, opnum, object));
            if syntax != self.server.syntax() {
                return Err(CallError::NotBound(syntax));
            }
            let c = CallContext {
                object,
                ..ctx(opnum)
            };
            let stub = self
                .server
                .dispatch(c, stub, drep, DecodeLimits::DEFAULT)
                .await
                .map_err(|e| CallError::Fault(e.status()))?;
            Ok(ResponseStub { stub, drep })
        })
    }
}

#[test]
fn derived_server_dispatches_inherited_opnums_to_the_base_trait() {
    let server = Counter2Server::new(Svc::default());
    let call = |opnum: u16, stub: Vec<u8>| {
        block_on(server.dispatch(ctx(opnum), stub, LE, DecodeLimits::DEFAULT))
    };
    // opnum 0 is the base's add, 1 the derived sub, 2 the base's get, 3 the derived reset.
    let add = AddRequest { n: 5 };
    let out = call(0, add.to_stub(LE).unwrap()).unwrap();
    let r = AddResponse::from_stub(&out, LE, DecodeLimits::DEFAULT, &add).unwrap();
    assert_eq!(r.total, 5);
    let sub = SubRequest { n: 2 };
    let out = call(1, sub.to_stub(LE).unwrap()).unwrap();
    assert_eq!(
        SubResponse::from_stub(&out, LE, DecodeLimits::DEFAULT, &sub)
            .unwrap()
            .total,
        3
    );
    let out = call(2, vec![]).unwrap();
    let g = GetResponse::from_stub(&out, LE, DecodeLimits::DEFAULT, &GetRequest {}).unwrap();
    assert_eq!((g.total, g.result), (3, 7));
    let out = call(3, vec![]).unwrap();
    assert_eq!(
        ResetResponse::from_stub(&out, LE, DecodeLimits::DEFAULT, &ResetRequest {})
            .unwrap()
            .old,
        3
    );
    // Past both tables, and a base opnum with a bad stub: the usual errors.
    assert!(matches!(
        call(4, vec![]),
        Err(DispatchError::OpnumOutOfRange(4))
    ));
    assert!(matches!(call(0, vec![1]), Err(DispatchError::BadStub(_))));
    // The run-down hook is the root trait's.
    Dispatch::rundown(&server, 42);
    assert_eq!(server.service().rundowns.lock().unwrap().as_slice(), [42]);
}

#[test]
fn operation_tables_and_identities_are_inherited() {
    assert_eq!(
        CounterInterface::OPERATIONS,
        &[Some("add"), None, Some("get")]
    );
    assert_eq!(
        Counter2Interface::OPERATIONS,
        &[Some("add"), Some("sub"), Some("get"), Some("reset")]
    );
    assert_eq!(
        Counter3Interface::OPERATIONS,
        &[
            Some("add"),
            Some("sub"),
            Some("get"),
            Some("reset"),
            Some("double")
        ]
    );
    assert_eq!(Counter3Interface::operation_name(2), Some("get"));
    assert_eq!(Counter3Interface::operation_name(5), None);
    // Each interface keeps its own identity.
    assert_eq!(
        Counter2Interface::SYNTAX.uuid,
        Uuid::from_u128(0x6c1f2a10_0000_4000_8000_000000000002)
    );
    assert_eq!(Counter2Interface::NAME, "Counter2");
    assert_eq!(
        (
            Counter3Interface::SYNTAX.major,
            Counter3Interface::SYNTAX.minor
        ),
        (2, 1)
    );
    let s = Counter3Server::new(Svc::default());
    assert_eq!(s.operation_name(0), Some("add"));
    assert_eq!(s.name(), "Counter3");
}

#[test]
fn derived_client_calls_inherited_operations_on_the_derived_interface() {
    let server = Arc::new(Counter3Server::new(Svc::default()));
    let direct = Direct {
        server: Arc::clone(&server),
        seen: Arc::default(),
    };
    let object = Uuid::from_u128(0x99);
    let c = Counter3Client::new(direct.clone()).with_object(object);
    block_on(async {
        // Two levels up (Counter), one up (Counter2), its own (Counter3).
        assert_eq!(c.add(AddRequest { n: 20 }).await.unwrap().total, 20);
        assert_eq!(c.sub(SubRequest { n: 1 }).await.unwrap().total, 19);
        assert_eq!(c.double(DoubleRequest {}).await.unwrap().total, 38);
        assert_eq!(c.get(GetRequest {}).await.unwrap().total, 38);
        assert_eq!(c.reset(ResetRequest {}).await.unwrap().old, 38);
    });
    // Every call named Counter3 and the object, with the operation's own opnum.
    let seen = direct.seen.lock().unwrap().clone();
    let opnums: Vec<u16> = seen.iter().map(|s| s.1).collect();
    assert_eq!(opnums, [0, 1, 4, 2, 3]);
    assert!(seen
        .iter()
        .all(|s| s.0 == Counter3Interface::SYNTAX && s.2 == Some(object)));
    assert_eq!(c.syntax(), Counter3Interface::SYNTAX);
    assert_eq!(c.object(), Some(object));
    // A base client alone still names its own interface: this server does not serve it.
    let plain = CounterClient::new(direct.clone());
    assert_eq!(plain.syntax(), CounterInterface::SYNTAX);
    let e = block_on(plain.get(GetRequest {})).unwrap_err();
    assert_eq!(e, CallError::NotBound(CounterInterface::SYNTAX));
}
