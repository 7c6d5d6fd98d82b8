//! End to end: `msrpc_proto` client and server association state machines wired together in
//! memory, authenticated by the real NTLM client and acceptor at PKT_INTEGRITY and
//! PKT_PRIVACY.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use msrpc_ndr::Uuid;
use msrpc_ntlm::{MemoryUserStore, NtlmAcceptor, NtlmClient};
use msrpc_proto::client::{ClientConfig, ClientConnection, ClientEvent};
use msrpc_proto::pdu::{AuthLevel, AuthType, FaultStatus, SyntaxId};
use msrpc_proto::security::SecurityProvider;
use msrpc_proto::server::{ServerConfig, ServerConnection, ServerEnv, ServerEvent};

const ECHO: SyntaxId = SyntaxId::new(
    Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182),
    1,
    0,
);

struct Env {
    store: Arc<MemoryUserStore>,
}

impl ServerEnv for Env {
    fn lookup_interface(&self, a: &SyntaxId) -> Option<SyntaxId> {
        (a.uuid == ECHO.uuid && a.major == ECHO.major).then_some(ECHO)
    }
    fn assoc_group(&mut self, requested: u32) -> Option<u32> {
        (requested == 0 || requested == 0x7000).then_some(0x7000)
    }
    fn security_provider(&mut self, t: AuthType) -> Option<Box<dyn SecurityProvider>> {
        (t == AuthType::WINNT).then(|| {
            Box::new(NtlmAcceptor::new(self.store.clone()).with_names("SERVER", "TESTDOM"))
                as Box<dyn SecurityProvider>
        })
    }
}

struct Pair {
    client: ClientConnection,
    server: ServerConnection,
    env: Env,
    server_events: Vec<ServerEvent>,
    client_events: Vec<ClientEvent>,
    wire_to_server: Vec<Vec<u8>>,
    wire_to_client: Vec<Vec<u8>>,
}

impl Pair {
    fn new(password: &str, level: AuthLevel) -> Self {
        let store = Arc::new(MemoryUserStore::new().with_user("alice", "correct horse"));
        let mut p = Pair {
            client: ClientConnection::new(ClientConfig::default()),
            server: ServerConnection::new(ServerConfig::default()),
            env: Env { store },
            server_events: Vec::new(),
            client_events: Vec::new(),
            wire_to_server: Vec::new(),
            wire_to_client: Vec::new(),
        };
        p.client.set_auth(
            Box::new(NtlmClient::new("alice", "TESTDOM", password)),
            level,
            1,
        );
        p.client.bind(&[ECHO]).unwrap();
        p.drive();
        p
    }

    fn drive(&mut self) -> Vec<ServerEvent> {
        let mut new = Vec::new();
        loop {
            let mut moved = false;
            while let Some(f) = self.client.poll_transmit() {
                moved = true;
                self.wire_to_server.push(f.clone());
                new.extend(self.server.receive(&f, &mut self.env));
            }
            while let Some(f) = self.server.poll_transmit() {
                moved = true;
                self.wire_to_client.push(f.clone());
                if let Ok(ev) = self.client.receive(&f) {
                    self.client_events.extend(ev);
                }
            }
            if !moved {
                break;
            }
        }
        self.server_events.extend(new.clone());
        new
    }
}

#[test]
fn ntlm_association_signs_and_seals_calls_both_ways() {
    for level in [AuthLevel::PKT_INTEGRITY, AuthLevel::PKT_PRIVACY] {
        let mut p = Pair::new("correct horse", level);
        assert!(
            p.server_events.iter().any(|e| matches!(e,
                ServerEvent::Authenticated { user: Some(u), error: None, .. } if u == "TESTDOM\\alice")),
            "{:?}",
            p.server_events
        );
        for round in 0..3u8 {
            let secret =
                format!("a secret stub that must not travel in clear #{round}").into_bytes();
            let reply = format!("an equally secret reply #{round}").into_bytes();
            let id = p.client.request(&ECHO, 1, None, &secret).unwrap();
            let before = p.wire_to_server.len();
            let calls: Vec<_> = p
                .drive()
                .into_iter()
                .filter_map(|e| match e {
                    ServerEvent::Call(c) => Some(c),
                    _ => None,
                })
                .collect();
            assert_eq!(calls.len(), 1, "{:?}", p.server_events);
            // The verification trailer is stripped; the client's alignment padding before it
            // stays (NDR decoders ignore trailing bytes).
            let got = &calls[0].stub;
            assert!(
                got.starts_with(&secret) && got.len() - secret.len() < 4,
                "{got:?}"
            );
            assert!(got[secret.len()..].iter().all(|&b| b == 0));
            let wire = &p.wire_to_server[before];
            let clear = wire.windows(secret.len()).any(|w| w == secret.as_slice());
            assert_eq!(clear, level != AuthLevel::PKT_PRIVACY);

            let before = p.wire_to_client.len();
            p.server.respond(id, Ok(reply.clone()));
            p.drive();
            let wire = &p.wire_to_client[before];
            let clear = wire.windows(reply.len()).any(|w| w == reply.as_slice());
            assert_eq!(clear, level != AuthLevel::PKT_PRIVACY);
            assert!(p.client_events.iter().any(
                |e| matches!(e, ClientEvent::Response { call_id, stub, .. } if *call_id == id && *stub == reply)
            ));
        }
    }
}

#[test]
fn wrong_password_fails_auth3_and_the_next_request_is_refused() {
    let mut p = Pair::new("wrong horse", AuthLevel::PKT_INTEGRITY);
    // The refusal names the user the client claimed (for audit records), unverified.
    assert!(p.server_events.iter().any(|e| matches!(
        e,
        ServerEvent::Authenticated {
            user: Some(u),
            error: Some(_),
            ..
        } if u == "TESTDOM\\alice"
    )));
    p.client.request(&ECHO, 1, None, &[1, 2, 3, 4]).ok();
    let ev = p.drive();
    assert!(
        ev.iter().any(|e| matches!(
            e,
            ServerEvent::Refused {
                status: FaultStatus::ACCESS_DENIED,
                ..
            }
        )),
        "{ev:?}"
    );
    assert!(!ev.iter().any(|e| matches!(e, ServerEvent::Call(_))));
}

#[test]
fn tampered_and_replayed_protected_pdus_are_refused() {
    for level in [AuthLevel::PKT_INTEGRITY, AuthLevel::PKT_PRIVACY] {
        let mut p = Pair::new("correct horse", level);
        p.client.request(&ECHO, 1, None, &[7; 32]).unwrap();
        let mut f = p.client.poll_transmit().unwrap();
        f[30] ^= 1;
        let ev = p.server.receive(&f, &mut p.env);
        assert!(
            matches!(
                ev[0],
                ServerEvent::Refused {
                    status: FaultStatus::RPC_S_SEC_PKG_ERROR,
                    ..
                }
            ),
            "{ev:?}"
        );

        let mut p = Pair::new("correct horse", level);
        p.client.request(&ECHO, 1, None, &[7; 32]).unwrap();
        let f = p.client.poll_transmit().unwrap();
        let ev = p.server.receive(&f, &mut p.env);
        assert!(matches!(ev[0], ServerEvent::Call(_)), "{ev:?}");
        let ev = p.server.receive(&f, &mut p.env);
        assert!(
            matches!(
                ev[0],
                ServerEvent::Refused {
                    status: FaultStatus::RPC_S_SEC_PKG_ERROR,
                    ..
                }
            ),
            "{ev:?}"
        );
    }
}
