//! The server security policy over TCP (127.0.0.110) and the Unix domain socket channel:
//! interface levels with NTLM at integrity and privacy, filters by prefix, by user and audit
//! rules, the EPM lookup policy, the restrict modes (EPM exempt or not, local callers exempt),
//! a security callback deciding by user, and a policy replaced between two calls of one
//! connection. Every refusal is a fault `ACCESS_DENIED` the service never sees, plus a
//! `ConnEvent::PolicyDecision`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use msrpc_echo::{AddOneRequest, EchoService, RpcechoClient, RpcechoInterface, RpcechoServer};
use msrpc_epm::{
    EndpointDb, EpmService, EptClient, EptLookupRequest, EptServer, RPC_C_EP_ALL_ELTS,
};
use msrpc_ndr::{ContextHandle, DataRep, DecodeLimits, Unique};
use msrpc_ntlm::{MemoryUserStore, NtlmAcceptor, NtlmClient, UserStore};
use msrpc_policy::{CallerInfo, Decision, Policy, PolicyHandle};
use msrpc_proto::dispatch::{
    BoxFuture, CallContext, CallError, Dispatch, DispatchError, Interface,
};
use msrpc_proto::pdu::{AuthLevel, AuthType, FaultStatus, SyntaxId};
use msrpc_proto::security::SecurityProvider;
use msrpc_rt::{Client, ClientAuth, ClientOptions, ConnEvent, Server, TokioSleeper};

const ECHO: &str = "60a15ec5-4de8-11d7-a637-005056a20182";
const PASSWORD: &str = "correct horse";

async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("timed out")
}

/// A policy event as the tests keep it: (reason code or "permitted", rule, audits, user).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    interface: SyntaxId,
    opnum: u16,
    reason: Option<&'static str>,
    rule: Option<String>,
    audits: Vec<String>,
    user: Option<String>,
}

/// Counts the calls that reach a service.
struct Counting {
    inner: Box<dyn Dispatch>,
    calls: Arc<AtomicUsize>,
}

impl Dispatch for Counting {
    fn syntax(&self) -> SyntaxId {
        self.inner.syntax()
    }
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn operation_name(&self, opnum: u16) -> Option<&'static str> {
        self.inner.operation_name(opnum)
    }
    fn dispatch<'a>(
        &'a self,
        ctx: CallContext,
        stub: Vec<u8>,
        drep: DataRep,
        limits: DecodeLimits,
    ) -> BoxFuture<'a, Result<Vec<u8>, DispatchError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.dispatch(ctx, stub, drep, limits)
    }
}

struct Fixture {
    server: Server,
    policy: PolicyHandle,
    events: Arc<Mutex<Vec<Seen>>>,
    dispatched: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
    sock: std::path::PathBuf,
}

impl Fixture {
    async fn start(policy_toml: &str) -> Fixture {
        let policy: Policy = toml::from_str(policy_toml).unwrap();
        let policy = PolicyHandle::new(policy);
        let events: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let ev2 = events.clone();
        let dispatched = Arc::new(AtomicUsize::new(0));
        let store: Arc<dyn UserStore> = Arc::new(
            MemoryUserStore::new()
                .with_user("alice", PASSWORD)
                .with_user("bob", PASSWORD),
        );
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("epm.sock");
        let db = Arc::new(Mutex::new(EndpointDb::new()));
        let server = Server::builder()
            .listen("127.0.0.110:0".parse().unwrap())
            .listen_unix(&sock)
            .service(Counting {
                inner: Box::new(RpcechoServer::new(EchoService::new(TokioSleeper))),
                calls: dispatched.clone(),
            })
            .service(Counting {
                inner: Box::new(EptServer::new(EpmService::new(db))),
                calls: dispatched.clone(),
            })
            .security(Arc::new(move |t: AuthType| {
                (t == AuthType::WINNT).then(|| {
                    Box::new(NtlmAcceptor::new(store.clone())) as Box<dyn SecurityProvider>
                })
            }))
            .policy(policy.clone())
            .observer(Arc::new(move |ev: &ConnEvent<'_>| {
                if let ConnEvent::PolicyDecision {
                    interface,
                    opnum,
                    user,
                    verdict,
                    ..
                } = ev
                {
                    let r = verdict.refusal.as_ref();
                    if let Some(r) = r {
                        assert_eq!(r.status, FaultStatus::ACCESS_DENIED);
                    }
                    ev2.lock().unwrap().push(Seen {
                        interface: *interface,
                        opnum: *opnum,
                        reason: r.map(|r| r.reason.code()),
                        rule: r.and_then(|r| r.rule.as_deref().map(String::from)),
                        audits: verdict.audits.iter().map(|a| a.to_string()).collect(),
                        user: user.map(String::from),
                    });
                }
            }))
            .start()
            .await
            .unwrap();
        assert!(server.handle().policy().is_some());
        Fixture {
            server,
            policy,
            events,
            dispatched,
            _dir: dir,
            sock,
        }
    }

    fn opts(user: Option<&'static str>, level: AuthLevel) -> ClientOptions {
        ClientOptions {
            call_timeout: Some(Duration::from_secs(20)),
            auth: user.map(|u| {
                ClientAuth::new(level, move || {
                    Box::new(NtlmClient::new(u, "TESTDOM", PASSWORD)) as Box<dyn SecurityProvider>
                })
            }),
            ..Default::default()
        }
    }

    /// A TCP client, as `user` at `level` (or unauthenticated).
    async fn client(&self, user: Option<&'static str>, level: AuthLevel) -> Client {
        bounded(Client::connect_addr(
            self.server.local_addrs()[0],
            Self::opts(user, level),
        ))
        .await
        .unwrap()
    }

    /// AddOne(41) as `user` at `level`: Ok(42) or the error.
    async fn add_one(
        &self,
        user: Option<&'static str>,
        level: AuthLevel,
    ) -> Result<u32, CallError> {
        let client = self.client(user, level).await;
        let r = add_one_on(&client).await;
        client.close();
        r
    }

    async fn lookup(&self, client: &Client) -> Result<(), CallError> {
        bounded(EptClient::new(client.clone()).ept_lookup(EptLookupRequest {
            inquiry_type: RPC_C_EP_ALL_ELTS,
            object: Unique::null(),
            interface_id: Unique::null(),
            vers_option: 0,
            entry_handle: ContextHandle::NULL,
            max_ents: 10,
        }))
        .await
        .map(|_| ())
    }

    async fn unix_client(&self) -> Client {
        bounded(Client::connect_unix(
            &self.sock,
            Self::opts(None, AuthLevel::NONE),
        ))
        .await
        .unwrap()
    }

    fn events(&self) -> Vec<Seen> {
        self.events.lock().unwrap().clone()
    }

    fn dispatched(&self) -> usize {
        self.dispatched.load(Ordering::SeqCst)
    }
}

async fn add_one_on(client: &Client) -> Result<u32, CallError> {
    bounded(RpcechoClient::new(client.clone()).add_one(AddOneRequest { in_data: 41 }))
        .await
        .map(|r| r.out_data)
}

const DENIED: Result<u32, CallError> = Err(CallError::Fault(FaultStatus::ACCESS_DENIED));

fn privacy_only() -> String {
    format!("[[interface]]\nuuid = \"{ECHO}\"\nmin-auth-level = \"privacy\"\n")
}

#[tokio::test]
async fn privacy_interface_refuses_unauthenticated_and_integrity_calls() {
    let f = Fixture::start(&privacy_only()).await;
    // The hostile case: an unauthenticated call to an interface that requires privacy.
    assert_eq!(f.add_one(None, AuthLevel::NONE).await, DENIED);
    assert_eq!(
        f.add_one(Some("alice"), AuthLevel::PKT_INTEGRITY).await,
        DENIED
    );
    assert_eq!(f.dispatched(), 0, "refused calls never reach the service");
    assert_eq!(
        f.add_one(Some("alice"), AuthLevel::PKT_PRIVACY).await,
        Ok(42)
    );
    assert_eq!(f.dispatched(), 1);
    let ev = f.events();
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert!(ev.iter().all(|e| e.reason == Some("policy_min_level")
        && e.interface == RpcechoInterface::SYNTAX
        && e.opnum == 0));
    assert_eq!(ev[0].user, None);
    assert_eq!(ev[1].user.as_deref(), Some("TESTDOM\\alice"));

    // The connection survives a refusal: a second call on it is refused again, cleanly.
    let c = f.client(None, AuthLevel::NONE).await;
    assert_eq!(add_one_on(&c).await, DENIED);
    assert_eq!(add_one_on(&c).await, DENIED);
    c.close();
    f.server.shutdown().await;
}

#[tokio::test]
async fn filters_deny_by_prefix_and_user_and_audit() {
    let f = Fixture::start(&format!(
        r#"
[[filter]]
name = "watch-echo"
action = "audit"
interface = "{ECHO}"

[[filter]]
name = "no-bob"
action = "deny"
user = "bob"

[[filter]]
name = "not-from-elsewhere"
action = "deny"
remote = ["10.0.0.0/8", "2001:db8::/32"]
"#
    ))
    .await;
    // Alice is served; the audit rule records her call.
    assert_eq!(
        f.add_one(Some("alice"), AuthLevel::PKT_PRIVACY).await,
        Ok(42)
    );
    // Bob is refused by the user filter (any domain), also audited.
    assert_eq!(
        f.add_one(Some("bob"), AuthLevel::PKT_INTEGRITY).await,
        DENIED
    );
    // Unauthenticated from loopback: no deny matches; audited and served.
    assert_eq!(f.add_one(None, AuthLevel::NONE).await, Ok(42));
    let ev = f.events();
    assert_eq!(ev.len(), 3, "{ev:?}");
    assert_eq!(
        (ev[0].reason, ev[0].user.as_deref()),
        (None, Some("TESTDOM\\alice"))
    );
    assert_eq!(ev[1].reason, Some("policy_filter_deny"));
    assert_eq!(ev[1].rule.as_deref(), Some("no-bob"));
    assert!(ev.iter().all(|e| e.audits == ["watch-echo"]));
    assert_eq!(f.dispatched(), 2);

    // Loopback is in 127.0.0.0/8: a prefix filter on it refuses everyone from here,
    // authenticated or not; the EPM too.
    f.policy.replace(
        toml::from_str(
            "[[filter]]\nname = \"no-loopback\"\naction = \"deny\"\nremote = \"127.0.0.0/8\"\n",
        )
        .unwrap(),
    );
    assert_eq!(
        f.add_one(Some("alice"), AuthLevel::PKT_PRIVACY).await,
        DENIED
    );
    let c = f.client(None, AuthLevel::NONE).await;
    assert_eq!(
        f.lookup(&c).await,
        Err(CallError::Fault(FaultStatus::ACCESS_DENIED))
    );
    c.close();
    // The Unix socket caller has no address: prefix filters never match it.
    let u = f.unix_client().await;
    assert_eq!(add_one_on(&u).await, Ok(42));
    u.close();
    let last = f.events();
    assert_eq!(last.len(), 5);
    assert!(last[3..]
        .iter()
        .all(|e| e.rule.as_deref() == Some("no-loopback")));
    f.server.shutdown().await;
}

#[tokio::test]
async fn epm_lookup_refuse_and_require_authentication() {
    let f = Fixture::start("epm-lookup = \"refuse\"").await;
    let anon = f.client(None, AuthLevel::NONE).await;
    let alice = f.client(Some("alice"), AuthLevel::PKT_INTEGRITY).await;
    let denied = Err(CallError::Fault(FaultStatus::ACCESS_DENIED));
    assert_eq!(f.lookup(&anon).await, denied);
    assert_eq!(f.lookup(&alice).await, denied);
    // Other interfaces are not concerned; local callers may look up.
    assert_eq!(add_one_on(&anon).await, Ok(42));
    let local = f.unix_client().await;
    assert_eq!(f.lookup(&local).await, Ok(()));
    let ev = f.events();
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert!(ev
        .iter()
        .all(|e| e.reason == Some("policy_epm_lookup") && e.opnum == 2));

    f.policy
        .replace(toml::from_str("epm-lookup = \"require_authentication\"").unwrap());
    assert_eq!(f.lookup(&anon).await, denied);
    assert_eq!(f.lookup(&alice).await, Ok(()));
    assert_eq!(f.lookup(&local).await, Ok(()));
    for c in [anon, alice, local] {
        c.close();
    }
    f.server.shutdown().await;
}

#[tokio::test]
async fn restrict_modes_with_and_without_the_epm_exception() {
    let f = Fixture::start("restrict-remote-clients = \"authenticated\"").await;
    let anon = f.client(None, AuthLevel::NONE).await;
    assert_eq!(add_one_on(&anon).await, DENIED);
    assert_eq!(f.lookup(&anon).await, Ok(()), "the EPM is exempt");
    assert_eq!(
        f.add_one(Some("alice"), AuthLevel::PKT_INTEGRITY).await,
        Ok(42)
    );
    let local = f.unix_client().await;
    assert_eq!(add_one_on(&local).await, Ok(42), "local callers are exempt");

    // An interface marked allow-unauthenticated is exempt too (not without exceptions).
    f.policy.replace(
        toml::from_str(&format!(
            "restrict-remote-clients = \"authenticated\"\n[[interface]]\nuuid = \"{ECHO}\"\nallow-unauthenticated = true\n"
        ))
        .unwrap(),
    );
    assert_eq!(add_one_on(&anon).await, Ok(42));

    f.policy.replace(
        toml::from_str(&format!(
            "restrict-remote-clients = \"authenticated_without_exceptions\"\n[[interface]]\nuuid = \"{ECHO}\"\nallow-unauthenticated = true\n"
        ))
        .unwrap(),
    );
    assert_eq!(add_one_on(&anon).await, DENIED);
    assert_eq!(
        f.lookup(&anon).await,
        Err(CallError::Fault(FaultStatus::ACCESS_DENIED)),
        "no EPM exception"
    );
    assert_eq!(f.lookup(&local).await, Ok(()), "local callers are exempt");
    assert_eq!(add_one_on(&local).await, Ok(42));
    let alice = f.client(Some("alice"), AuthLevel::CONNECT).await;
    assert_eq!(f.lookup(&alice).await, Ok(()));
    assert_eq!(add_one_on(&alice).await, Ok(42));
    let ev = f.events();
    assert_eq!(ev.len(), 3, "{ev:?}");
    assert!(ev
        .iter()
        .all(|e| e.reason == Some("policy_restrict_remote")));
    for c in [anon, local, alice] {
        c.close();
    }
    f.server.shutdown().await;
}

#[tokio::test]
async fn security_callback_decides_by_user() {
    let f = Fixture::start("").await;
    let asked = Arc::new(AtomicUsize::new(0));
    let a2 = asked.clone();
    f.policy.set_callback(
        RpcechoInterface::SYNTAX.uuid,
        Arc::new(move |c: &CallerInfo<'_>| {
            a2.fetch_add(1, Ordering::SeqCst);
            assert!(c.remote.is_some_and(|ip| ip.is_loopback()));
            match c.user() {
                Some(u) if u.eq_ignore_ascii_case("testdom\\alice") => Decision::Permit,
                _ => Decision::Deny,
            }
        }),
    );
    assert_eq!(
        f.add_one(Some("alice"), AuthLevel::PKT_INTEGRITY).await,
        Ok(42)
    );
    assert_eq!(
        f.add_one(Some("bob"), AuthLevel::PKT_INTEGRITY).await,
        DENIED
    );
    assert_eq!(f.add_one(None, AuthLevel::NONE).await, DENIED);
    assert_eq!(asked.load(Ordering::SeqCst), 3);
    // Other interfaces have no callback.
    let c = f.client(None, AuthLevel::NONE).await;
    assert_eq!(f.lookup(&c).await, Ok(()));
    c.close();
    let ev = f.events();
    assert_eq!(ev.len(), 2);
    assert!(ev.iter().all(|e| e.reason == Some("policy_callback")));
    assert_eq!(ev[0].user.as_deref(), Some("TESTDOM\\bob"));
    f.server.shutdown().await;
}

#[tokio::test]
async fn a_replaced_policy_applies_to_the_next_call_of_an_open_connection() {
    let f = Fixture::start("").await;
    let c = f.client(None, AuthLevel::NONE).await;
    assert_eq!(add_one_on(&c).await, Ok(42));
    let old = f
        .policy
        .replace(Policy::from_file(toml::from_str(&privacy_only()).unwrap()).unwrap());
    assert_eq!(*old, Policy::default());
    assert_eq!(add_one_on(&c).await, DENIED);
    f.policy.replace(Policy::default());
    assert_eq!(add_one_on(&c).await, Ok(42));
    c.close();
    assert_eq!(f.events().len(), 1);
    f.server.shutdown().await;
}
