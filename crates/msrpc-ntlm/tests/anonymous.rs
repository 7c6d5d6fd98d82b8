//! Anonymous NTLM (MS-NLMP 3.2.5.1.2: empty user name and NT response): refused by default;
//! with `NtlmAcceptor::allow_anonymous(true)` accepted as "ANONYMOUS LOGON" with no session
//! key, so only at `RPC_C_AUTHN_LEVEL_CONNECT` (signing and sealing refuse). Bare NTLM and
//! inside SPNEGO, and end to end over msrpc_rt.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use msrpc_echo::{AddOneRequest, EchoService, RpcechoClient, RpcechoServer};
use msrpc_ntlm::messages::{flags, Authenticate};
use msrpc_ntlm::spnego::{NegState, NegTokenInit, NegTokenResp, OID_NTLMSSP};
use msrpc_ntlm::{MemoryUserStore, NtlmAcceptor, NtlmClient, SpnegoAcceptor, ANONYMOUS_LOGON};
use msrpc_proto::dispatch::CallAuth;
use msrpc_proto::pdu::{AuthLevel, AuthType};
use msrpc_proto::security::{AuthStep, SecurityProvider};
use msrpc_proto::server::ServerEvent;
use msrpc_rt::{Client, ClientAuth, ClientOptions, ConnEvent, Server, TokioSleeper};

fn acceptor(allow: bool) -> NtlmAcceptor {
    NtlmAcceptor::new(Arc::new(
        MemoryUserStore::new().with_user("alice", "Secret1"),
    ))
    .allow_anonymous(allow)
}

/// NEGOTIATE -> CHALLENGE -> anonymous AUTHENTICATE; the acceptor's answer to the last leg.
fn anonymous_handshake(
    c: &mut NtlmClient,
    s: &mut NtlmAcceptor,
) -> Result<AuthStep, msrpc_proto::security::SecurityError> {
    let AuthStep::Continue(neg) = c.step(None).unwrap() else {
        panic!()
    };
    let AuthStep::Continue(ch) = s.step(Some(&neg)).unwrap() else {
        panic!()
    };
    let AuthStep::Done(Some(auth)) = c.step(Some(&ch)).unwrap() else {
        panic!()
    };
    let a = Authenticate::decode(&auth).unwrap();
    assert!(a.user.is_empty() && a.nt_response.is_empty());
    assert_eq!(a.lm_response, vec![0]);
    assert_ne!(a.flags & flags::ANONYMOUS, 0);
    // The MIC slot is laid out but left zero: there is no key to compute one with.
    assert!(a.encrypted_random_session_key.is_empty() && a.mic.is_none_or(|m| m == [0; 16]));
    s.step(Some(&auth))
}

#[test]
fn anonymous_is_refused_by_default() {
    let mut c = NtlmClient::anonymous();
    let mut s = acceptor(false);
    let e = anonymous_handshake(&mut c, &mut s).unwrap_err();
    assert!(e.to_string().contains("anonymous"), "{e}");
    assert!(!s.is_established() && !s.is_anonymous());
    assert_eq!(s.peer_name(), None);
}

#[test]
fn anonymous_is_accepted_when_allowed_but_cannot_sign_or_seal() {
    let mut c = NtlmClient::anonymous();
    let mut s = acceptor(true);
    assert_eq!(
        anonymous_handshake(&mut c, &mut s).unwrap(),
        AuthStep::Done(None)
    );
    assert!(s.is_established() && s.is_anonymous() && c.is_established());
    assert_eq!(s.peer_name().as_deref(), Some(ANONYMOUS_LOGON));
    let mut m = [5u8; 32];
    assert!(s.sign(&m, 0..32).is_err());
    assert!(s.verify(&m, 0..32, &[0; 16]).is_err());
    assert!(s.seal(&mut m, 8..24).is_err());
    assert!(s.unseal(&mut m, 8..24, &[0; 16]).is_err());
    assert!(s.get_mic(b"x").is_err());
    assert!(c.sign(&m, 0..32).is_err());
    assert!(c.seal(&mut m, 8..24).is_err());
    // A real user still authenticates on an acceptor that allows anonymous logons, and is
    // not anonymous.
    let mut c = NtlmClient::new("alice", "D", "Secret1");
    let mut s = acceptor(true);
    let AuthStep::Continue(neg) = c.step(None).unwrap() else {
        panic!()
    };
    let AuthStep::Continue(ch) = s.step(Some(&neg)).unwrap() else {
        panic!()
    };
    let AuthStep::Done(Some(auth)) = c.step(Some(&ch)).unwrap() else {
        panic!()
    };
    s.step(Some(&auth)).unwrap();
    assert!(!s.is_anonymous());
    assert_eq!(s.peer_name().as_deref(), Some("D\\alice"));
    // An empty user name with a non-empty NT response is not anonymous: refused.
    let mut c = NtlmClient::new("", "", "x");
    let mut s = acceptor(true);
    let AuthStep::Continue(neg) = c.step(None).unwrap() else {
        panic!()
    };
    let AuthStep::Continue(ch) = s.step(Some(&neg)).unwrap() else {
        panic!()
    };
    let AuthStep::Done(Some(auth)) = c.step(Some(&ch)).unwrap() else {
        panic!()
    };
    assert!(s.step(Some(&auth)).is_err());
}

#[test]
fn anonymous_inside_spnego() {
    for allow in [false, true] {
        let mut c = NtlmClient::anonymous();
        let mut s = SpnegoAcceptor::new(acceptor(allow));
        let AuthStep::Continue(neg) = c.step(None).unwrap() else {
            panic!()
        };
        let init = NegTokenInit {
            mech_types: vec![OID_NTLMSSP.to_vec()],
            mech_token: Some(neg),
            mech_list_mic: None,
        };
        let AuthStep::Continue(r) = s.step(Some(&init.encode())).unwrap() else {
            panic!()
        };
        let ch = NegTokenResp::decode(&r).unwrap().response_token.unwrap();
        let AuthStep::Done(Some(auth)) = c.step(Some(&ch)).unwrap() else {
            panic!()
        };
        let last = NegTokenResp {
            response_token: Some(auth),
            ..Default::default()
        }
        .encode();
        let r = s.step(Some(&last));
        if !allow {
            assert!(r.is_err());
            assert!(!s.is_established());
            continue;
        }
        // No NTLM MIC and NTLM first: no mechListMIC either way.
        let AuthStep::Done(Some(done)) = r.unwrap() else {
            panic!()
        };
        let done = NegTokenResp::decode(&done).unwrap();
        assert_eq!(done.neg_state, Some(NegState::AcceptCompleted));
        assert_eq!(done.mech_list_mic, None);
        assert_eq!(s.peer_name().as_deref(), Some(ANONYMOUS_LOGON));
        assert!(s.sign(&[0; 8], 0..8).is_err());
    }
}

type Seen = Arc<Mutex<Vec<Option<CallAuth>>>>;

async fn server(allow: bool) -> (Server, Seen) {
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let server = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .service(RpcechoServer::new(EchoService::new(TokioSleeper)))
        .security(Arc::new(move |t: AuthType| {
            (t == AuthType::WINNT).then(|| Box::new(acceptor(allow)) as Box<dyn SecurityProvider>)
        }))
        .observer(Arc::new(move |ev: &ConnEvent<'_>| {
            if let ConnEvent::Event {
                event: ServerEvent::Call(c),
                ..
            } = ev
            {
                s2.lock().unwrap().push(c.auth.clone());
            }
        }))
        .start()
        .await
        .unwrap();
    (server, seen)
}

async fn add_one(server: &Server, level: AuthLevel) -> Result<u32, String> {
    let o = ClientOptions {
        call_timeout: Some(Duration::from_secs(10)),
        auth: Some(ClientAuth::new(level, || {
            Box::new(NtlmClient::anonymous()) as Box<dyn SecurityProvider>
        })),
        ..Default::default()
    };
    let client = Client::connect_addr(server.local_addrs()[0], o)
        .await
        .map_err(|e| e.to_string())?;
    let r = RpcechoClient::new(client.clone())
        .add_one(AddOneRequest { in_data: 6 })
        .await
        .map(|r| r.out_data)
        .map_err(|e| e.to_string());
    client.close();
    r
}

#[tokio::test]
async fn rt_anonymous_at_connect_only_when_allowed() {
    let (allowing, seen) = server(true).await;
    assert_eq!(add_one(&allowing, AuthLevel::CONNECT).await, Ok(7));
    let auth = seen.lock().unwrap()[0]
        .clone()
        .expect("an authenticated call");
    assert_eq!(auth.auth_type, AuthType::WINNT);
    assert_eq!(auth.level, AuthLevel::CONNECT);
    assert_eq!(auth.user.as_deref(), Some(ANONYMOUS_LOGON));
    // Levels that need a session key fail (our client cannot sign; the server could not
    // verify either).
    for level in [AuthLevel::PKT_INTEGRITY, AuthLevel::PKT_PRIVACY] {
        assert!(add_one(&allowing, level).await.is_err(), "{level:?}");
    }
    assert_eq!(seen.lock().unwrap().len(), 1, "no call ran above connect");
    allowing.shutdown().await;

    let (refusing, seen) = server(false).await;
    assert!(add_one(&refusing, AuthLevel::CONNECT).await.is_err());
    assert!(seen.lock().unwrap().is_empty());
    refusing.shutdown().await;
}
