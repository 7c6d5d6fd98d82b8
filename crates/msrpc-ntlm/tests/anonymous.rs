//! Anonymous NTLM (MS-NLMP 3.2.5.1.2: an empty user name and empty responses): refused by
//! default; with `NtlmAcceptor::allow_anonymous(true)` accepted as "ANONYMOUS LOGON" with the
//! session key MS-NLMP gives anonymous logons (SessionBaseKey = KeyExchangeKey = Z(16), the
//! exported key RC4-decrypted under it), so anonymous contexts sign and seal. Bare NTLM and
//! inside SPNEGO, a known answer computed with Impacket's key derivation, hostile
//! AUTHENTICATE variants (each accepted or refused as MS-NLMP says, none panics), and end to
//! end over msrpc_rt at connect, integrity and privacy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use msrpc_echo::{AddOneRequest, EchoDataRequest, EchoService, RpcechoClient, RpcechoServer};
use msrpc_ntlm::crypto::{client_blob, nt_proof, ntowfv2};
use msrpc_ntlm::messages::{flags, Authenticate, Challenge, MIC_OFFSET, OUR_VERSION};
use msrpc_ntlm::spnego::{NegState, NegTokenInit, NegTokenResp, OID_NTLMSSP};
use msrpc_ntlm::{
    is_anonymous_logon, MemoryUserStore, NtlmAcceptor, NtlmClient, SpnegoAcceptor, SpnegoClient,
    ANONYMOUS_LOGON,
};
use msrpc_proto::dispatch::CallAuth;
use msrpc_proto::pdu::{AuthLevel, AuthType};
use msrpc_proto::security::{AuthStep, SecurityError, SecurityProvider};
use msrpc_proto::server::ServerEvent;
use msrpc_rt::{Client, ClientAuth, ClientOptions, ConnEvent, Server, TokioSleeper};

fn acceptor(allow: bool) -> NtlmAcceptor {
    NtlmAcceptor::new(Arc::new(
        MemoryUserStore::new()
            .with_user("alice", "Secret1")
            .with_user(&ANONYMOUS_LOGON.to_lowercase(), "Secret1"),
    ))
    .allow_anonymous(allow)
}

/// NEGOTIATE -> CHALLENGE with our client; the CHALLENGE bytes.
fn start(c: &mut NtlmClient, s: &mut NtlmAcceptor) -> Vec<u8> {
    let AuthStep::Continue(neg) = c.step(None).unwrap() else {
        panic!()
    };
    let AuthStep::Continue(ch) = s.step(Some(&neg)).unwrap() else {
        panic!()
    };
    ch
}

/// NEGOTIATE -> CHALLENGE -> anonymous AUTHENTICATE; the acceptor's answer to the last leg.
fn anonymous_handshake(
    c: &mut NtlmClient,
    s: &mut NtlmAcceptor,
) -> Result<AuthStep, SecurityError> {
    let ch = start(c, s);
    let AuthStep::Done(Some(auth)) = c.step(Some(&ch)).unwrap() else {
        panic!()
    };
    let a = Authenticate::decode(&auth).unwrap();
    // What Windows and Impacket send: no user, no NT response, Z(1) as LM response, the
    // anonymous flag, and (key exchange) an exported key encrypted under Z(16). No MIC.
    assert!(a.user.is_empty() && a.nt_response.is_empty());
    assert_eq!(a.lm_response, vec![0]);
    assert_ne!(a.flags & flags::ANONYMOUS, 0);
    assert_ne!(a.flags & flags::KEY_EXCH, 0);
    assert_eq!(a.encrypted_random_session_key.len(), 16);
    assert!(a.mic.is_none_or(|m| m == [0; 16]));
    assert!(is_anonymous_logon(&a));
    s.step(Some(&auth))
}

/// Both directions sign, verify, seal and unseal with each other's keys.
fn exchange_protected(
    c: &mut dyn SecurityProvider,
    s: &mut dyn SecurityProvider,
) -> Result<(), SecurityError> {
    for round in 0..3u8 {
        let msg = [round; 40];
        let sig = c.sign(&msg, 8..24)?;
        s.verify(&msg, 8..24, &sig)?;
        let sig = s.sign(&msg, 8..24)?;
        c.verify(&msg, 8..24, &sig)?;
        let mut sealed = msg;
        let sig = c.seal(&mut sealed, 8..24)?;
        assert_ne!(sealed[8..24], msg[8..24], "sealing changed nothing");
        s.unseal(&mut sealed, 8..24, &sig)?;
        assert_eq!(sealed, msg);
        let sig = s.seal(&mut sealed, 8..24)?;
        c.unseal(&mut sealed, 8..24, &sig)?;
        assert_eq!(sealed, msg);
    }
    Ok(())
}

#[test]
fn anonymous_is_refused_by_default() {
    let mut c = NtlmClient::anonymous();
    let mut s = acceptor(false);
    let e = anonymous_handshake(&mut c, &mut s).unwrap_err();
    assert!(e.to_string().contains("anonymous"), "{e}");
    assert!(!s.is_established() && !s.is_anonymous());
    assert_eq!(s.peer_name(), None);
    // The audit record of the refusal names the anonymous logon.
    assert_eq!(s.claimed_name().as_deref(), Some(ANONYMOUS_LOGON));
}

#[test]
fn anonymous_is_accepted_when_allowed_and_signs_and_seals() {
    let mut c = NtlmClient::anonymous();
    let mut s = acceptor(true);
    assert_eq!(
        anonymous_handshake(&mut c, &mut s).unwrap(),
        AuthStep::Done(None)
    );
    assert!(s.is_established() && s.is_anonymous() && c.is_established());
    assert!(SecurityProvider::is_anonymous(&s) && SecurityProvider::is_anonymous(&c));
    assert_eq!(s.peer_name().as_deref(), Some(ANONYMOUS_LOGON));
    exchange_protected(&mut c, &mut s).unwrap();
    // GSS_GetMIC / GSS_VerifyMIC work too (SPNEGO's mechListMIC).
    let mic = c.get_mic(b"mech types").unwrap();
    s.verify_mic(b"mech types", &mic).unwrap();
    // A named user on an acceptor that allows anonymous logons is not anonymous.
    let mut c = NtlmClient::new("alice", "D", "Secret1");
    let mut s = acceptor(true);
    let ch = start(&mut c, &mut s);
    let AuthStep::Done(Some(auth)) = c.step(Some(&ch)).unwrap() else {
        panic!()
    };
    s.step(Some(&auth)).unwrap();
    assert!(!s.is_anonymous() && !SecurityProvider::is_anonymous(&s));
    assert_eq!(s.peer_name().as_deref(), Some("D\\alice"));
}

/// The session keys against Impacket 0.13.1's (`ntlm.generateEncryptedSessionKey`,
/// `SIGNKEY`, `SEALKEY`, `SIGN`), computed once with the exported key 10 11 .. 1f and
/// message "anonymous NTLM, MS-NLMP 3.4.4":
///
/// ```text
/// ersk = generateEncryptedSessionKey(Z(16), exported)  -> ce099b52b7224b2d921f047c4b738c72
/// SIGN(flags, SIGNKEY(.., "Client"), msg, 0, RC4(SEALKEY(.., "Client")))
///                                                 -> 010000005b7ffb1ca0438f4f00000000
/// the same with "Server"                          -> 010000001cd0c4dd82dd681600000000
/// without key exchange (exported = Z(16)), Client -> 010000002a6ef17977e2fea800000000
/// ```
#[test]
fn anonymous_keys_match_impacket() {
    let msg = b"anonymous NTLM, MS-NLMP 3.4.4";
    let base = flags::EXTENDED_SESSIONSECURITY
        | flags::NEGOTIATE_128
        | flags::SIGN
        | flags::SEAL
        | flags::NTLM
        | flags::UNICODE;
    let cases: [(u32, Vec<u8>, &str, Option<&str>); 2] = [
        (
            base | flags::KEY_EXCH,
            hex("ce099b52b7224b2d921f047c4b738c72"),
            "010000005b7ffb1ca0438f4f00000000",
            Some("010000001cd0c4dd82dd681600000000"),
        ),
        (base, Vec::new(), "010000002a6ef17977e2fea800000000", None),
    ];
    for (fl, ersk, client_sig, server_sig) in cases {
        let mut c = NtlmClient::anonymous();
        let mut s = acceptor(true);
        start(&mut c, &mut s);
        let auth = Authenticate {
            flags: fl,
            lm_response: vec![0],
            nt_response: Vec::new(),
            domain: String::new(),
            user: String::new(),
            workstation: String::new(),
            encrypted_random_session_key: ersk,
            version: None,
            mic: None,
        };
        s.step(Some(&auth.encode())).unwrap();
        assert!(s.is_anonymous());
        s.verify(msg, 0..msg.len(), &hex(client_sig)).unwrap();
        if let Some(want) = server_sig {
            assert_eq!(s.sign(msg, 0..msg.len()).unwrap(), hex(want));
        }
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Runs NEGOTIATE -> CHALLENGE, then hands the acceptor `make(challenge)` as AUTHENTICATE.
fn with_authenticate(
    allow: bool,
    make: impl FnOnce(&Challenge) -> Authenticate,
) -> (NtlmAcceptor, Result<AuthStep, SecurityError>) {
    let mut c = NtlmClient::anonymous();
    let mut s = acceptor(allow);
    let ch = start(&mut c, &mut s);
    let ch = Challenge::decode(&ch).unwrap();
    let auth = make(&ch);
    let r = s.step(Some(&auth.encode()));
    (s, r)
}

fn anonymous_auth(fl: u32) -> Authenticate {
    Authenticate {
        flags: fl,
        lm_response: vec![0],
        nt_response: Vec::new(),
        domain: String::new(),
        user: String::new(),
        workstation: "WS".into(),
        encrypted_random_session_key: vec![0x42; 16],
        version: Some(OUR_VERSION),
        mic: None,
    }
}

/// The flags our acceptor granted in its CHALLENGE, with the anonymous flag.
fn granted(ch: &Challenge) -> u32 {
    ch.flags | flags::ANONYMOUS
}

/// A well-formed NTLMv2 response for `user`/`password` to `ch`.
fn ntlmv2_response(ch: &Challenge, user: &str, password: &str) -> Vec<u8> {
    let ntowf = ntowfv2(password, user, "");
    let blob = client_blob(1, &[7; 8], &[0, 0, 0, 0]);
    let mut r = nt_proof(&ntowf, &ch.server_challenge, &blob).to_vec();
    r.extend_from_slice(&blob);
    r
}

#[test]
fn hostile_anonymous_authenticate_variants() {
    // MS-NLMP 3.2.5.1.2: anonymous is "the user name and response are empty". Each variant is
    // accepted or refused as the spec says, and none panics.

    // A MIC in an anonymous AUTHENTICATE (Samba's client sends one): not announced by any
    // MsvAvFlags (there is no NTLMv2 response), so not checked: accepted.
    let (s, r) = with_authenticate(true, |ch| {
        let mut a = anonymous_auth(granted(ch));
        a.mic = Some([0x5a; 16]);
        a
    });
    assert_eq!(r.unwrap(), AuthStep::Done(None));
    assert!(s.is_anonymous());

    // LM response empty (Samba) or Z(24): anonymous too; a domain name changes nothing.
    for lm in [Vec::new(), vec![0; 24]] {
        let (s, r) = with_authenticate(true, |ch| Authenticate {
            lm_response: lm.clone(),
            domain: "SOMEDOMAIN".into(),
            ..anonymous_auth(granted(ch))
        });
        r.unwrap();
        assert!(s.is_anonymous(), "lm {lm:02x?}");
    }

    // No key exchange: the exported key is Z(16) itself; the context still signs.
    let (mut s, r) = with_authenticate(true, |ch| Authenticate {
        encrypted_random_session_key: Vec::new(),
        ..anonymous_auth(granted(ch) & !flags::KEY_EXCH)
    });
    r.unwrap();
    assert!(s.sign(&[1; 8], 0..8).is_ok());

    // Key exchange announced but the encrypted key is missing or not 16 bytes: malformed.
    for len in [0usize, 15, 17] {
        let (s, r) = with_authenticate(true, |ch| Authenticate {
            encrypted_random_session_key: vec![1; len],
            ..anonymous_auth(granted(ch))
        });
        assert!(
            matches!(r, Err(SecurityError::MalformedToken(_))),
            "{len}: {r:?}"
        );
        assert!(!s.is_established());
    }

    // Without extended session security (what Samba's anonymous client negotiates):
    // accepted, but with no session, so only the connect level works.
    let (mut s, r) = with_authenticate(true, |ch| {
        anonymous_auth(granted(ch) & !flags::EXTENDED_SESSIONSECURITY)
    });
    r.unwrap();
    assert!(s.is_anonymous());
    assert!(s.sign(&[1; 8], 0..8).is_err());
    assert!(s.verify(&[1; 8], 0..8, &[0; 16]).is_err());
    assert!(s.seal(&mut [1; 8], 0..8).is_err());
    assert!(s.unseal(&mut [1; 8], 0..8, &[0; 16]).is_err());
    assert!(s.get_mic(b"x").is_err());

    // An empty user with a non-empty NT response is not anonymous: refused, whether the
    // response is a valid NTLMv2 proof for the empty name, NTLMv1-sized or garbage.
    for nt in [
        None,
        Some(vec![0x11; 24]),
        Some(vec![0x22; 20]),
        Some(vec![0x33; 300]),
    ] {
        let (s, r) = with_authenticate(true, |ch| Authenticate {
            nt_response: nt.clone().unwrap_or_else(|| ntlmv2_response(ch, "", "")),
            ..anonymous_auth(ch.flags)
        });
        assert!(r.is_err(), "{nt:02x?}");
        assert!(!s.is_established() && !s.is_anonymous());
    }

    // An empty user and NT response with a non-zero (LMv2-like) LM response: LM-only
    // authentication, refused; so is a zero LM response longer than 24 bytes.
    for lm in [vec![0x99; 24], vec![0; 25]] {
        let (s, r) = with_authenticate(true, |ch| Authenticate {
            lm_response: lm.clone(),
            ..anonymous_auth(ch.flags)
        });
        assert!(r.is_err(), "{lm:02x?}");
        assert!(!s.is_established());
    }

    // A user name with empty responses is not anonymous: refused (the claimed name is kept
    // for the audit record).
    let (s, r) = with_authenticate(true, |ch| Authenticate {
        user: "alice".into(),
        ..anonymous_auth(ch.flags)
    });
    assert!(r.is_err());
    assert_eq!(s.claimed_name().as_deref(), Some("alice"));

    // Nobody may log on under the anonymous name, even with the right password of an account
    // that has it.
    let (s, r) = with_authenticate(true, |ch| Authenticate {
        user: ANONYMOUS_LOGON.into(),
        nt_response: ntlmv2_response(ch, ANONYMOUS_LOGON, "Secret1"),
        ..anonymous_auth(ch.flags)
    });
    assert!(r.is_err());
    assert!(!s.is_established());
    // (The same proof for alice is accepted: the response above is well-formed.)
    let (s, r) = with_authenticate(true, |ch| Authenticate {
        user: "alice".into(),
        nt_response: ntlmv2_response(ch, "alice", "Secret1"),
        ..anonymous_auth(ch.flags)
    });
    r.unwrap();
    assert_eq!(s.peer_name().as_deref(), Some("alice"));

    // Anonymous refused when not allowed, whatever it carries.
    let (s, r) = with_authenticate(false, |ch| anonymous_auth(granted(ch)));
    assert!(r.is_err());
    assert!(!s.is_established());

    // Truncated and bit-flipped anonymous AUTHENTICATEs never panic.
    let mut c = NtlmClient::anonymous();
    let mut s0 = acceptor(true);
    let ch = start(&mut c, &mut s0);
    let AuthStep::Done(Some(good)) = c.step(Some(&ch)).unwrap() else {
        panic!()
    };
    for cut in 0..good.len() {
        let mut s = acceptor(true);
        let mut c = NtlmClient::anonymous();
        start(&mut c, &mut s);
        let _ = s.step(Some(&good[..cut]));
    }
    for i in 0..good.len().min(MIC_OFFSET + 16) {
        let mut s = acceptor(true);
        let mut c = NtlmClient::anonymous();
        start(&mut c, &mut s);
        let mut bad = good.clone();
        bad[i] ^= 0xff;
        let _ = s.step(Some(&bad));
    }
}

/// An SPNEGO exchange with `client` (anonymous NTLM inside) against an acceptor; the
/// acceptor's final answer.
fn spnego_anonymous(
    allow: bool,
    tamper_mic: bool,
) -> (
    SpnegoClient,
    SpnegoAcceptor,
    Result<AuthStep, SecurityError>,
) {
    let mut c = SpnegoClient::new(NtlmClient::anonymous());
    let mut s = SpnegoAcceptor::new(acceptor(allow));
    let AuthStep::Continue(init) = c.step(None).unwrap() else {
        panic!()
    };
    let AuthStep::Continue(ch) = s.step(Some(&init)).unwrap() else {
        panic!()
    };
    let AuthStep::Continue(last) = c.step(Some(&ch)).unwrap() else {
        panic!()
    };
    let mut resp = NegTokenResp::decode(&last).unwrap();
    // Our SPNEGO client sends the mechListMIC, now that an anonymous context has a key.
    let mic = resp.mech_list_mic.as_mut().expect("a mechListMIC");
    if tamper_mic {
        mic[6] ^= 1;
    }
    let r = s.step(Some(&resp.encode()));
    (c, s, r)
}

#[test]
fn anonymous_inside_spnego_with_and_without_mech_list_mic() {
    // Refused when not allowed.
    let (_, s, r) = spnego_anonymous(false, false);
    assert!(r.is_err());
    assert!(!s.is_established());
    // Our client's mechListMIC verifies; the acceptor answers with its own; both re-key.
    let (mut c, mut s, r) = spnego_anonymous(true, false);
    let AuthStep::Done(Some(done)) = r.unwrap() else {
        panic!()
    };
    let d = NegTokenResp::decode(&done).unwrap();
    assert_eq!(d.neg_state, Some(NegState::AcceptCompleted));
    assert!(d.mech_list_mic.is_some());
    assert_eq!(c.step(Some(&done)).unwrap(), AuthStep::Done(None));
    assert!(c.is_established() && s.is_established());
    assert!(SecurityProvider::is_anonymous(&s));
    assert_eq!(s.peer_name().as_deref(), Some(ANONYMOUS_LOGON));
    exchange_protected(&mut c, &mut s).unwrap();
    // A tampered mechListMIC is refused.
    let (_, s, r) = spnego_anonymous(true, true);
    assert!(r.is_err());
    assert!(!s.is_established());
    // Without a mechListMIC (Impacket's older exchange; no NTLM MIC): accepted, no MIC back.
    let mut c = NtlmClient::anonymous();
    let mut s = SpnegoAcceptor::new(acceptor(true));
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
    let AuthStep::Done(Some(done)) = s.step(Some(&last)).unwrap() else {
        panic!()
    };
    assert_eq!(NegTokenResp::decode(&done).unwrap().mech_list_mic, None);
    assert!(SecurityProvider::is_anonymous(&s));
    exchange_protected(&mut c, &mut s).unwrap();
}

type Seen = Arc<Mutex<Vec<Option<CallAuth>>>>;

async fn server(allow: bool) -> (Server, Seen) {
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let server = Server::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .service(RpcechoServer::new(EchoService::new(TokioSleeper)))
        .security(Arc::new(move |t: AuthType| {
            if t == AuthType::WINNT {
                Some(Box::new(acceptor(allow)) as Box<dyn SecurityProvider>)
            } else if t == AuthType::GSS_NEGOTIATE {
                Some(Box::new(SpnegoAcceptor::new(acceptor(allow))) as Box<dyn SecurityProvider>)
            } else {
                None
            }
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

/// AddOne(6) and a 5000-byte EchoData (several fragments each way) anonymously at `level`.
async fn calls(server: &Server, level: AuthLevel, spnego: bool) -> Result<u32, String> {
    let o = ClientOptions {
        call_timeout: Some(Duration::from_secs(10)),
        auth: Some(ClientAuth::new(level, move || {
            if spnego {
                Box::new(SpnegoClient::new(NtlmClient::anonymous())) as Box<dyn SecurityProvider>
            } else {
                Box::new(NtlmClient::anonymous()) as Box<dyn SecurityProvider>
            }
        })),
        ..Default::default()
    };
    let client = Client::connect_addr(server.local_addrs()[0], o)
        .await
        .map_err(|e| e.to_string())?;
    let echo = RpcechoClient::new(client.clone());
    let r = async {
        let n = echo.add_one(AddOneRequest { in_data: 6 }).await?.out_data;
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
        let back = echo
            .echo_data(EchoDataRequest {
                len: 5000,
                in_data: data.clone(),
            })
            .await?
            .out_data;
        assert_eq!(back, data);
        Ok::<u32, msrpc_proto::dispatch::CallError>(n)
    }
    .await
    .map_err(|e| e.to_string());
    client.close();
    r
}

#[tokio::test]
async fn rt_anonymous_at_every_level_when_allowed() {
    let (allowing, seen) = server(true).await;
    for spnego in [false, true] {
        for level in [
            AuthLevel::CONNECT,
            AuthLevel::PKT_INTEGRITY,
            AuthLevel::PKT_PRIVACY,
        ] {
            seen.lock().unwrap().clear();
            assert_eq!(
                calls(&allowing, level, spnego).await,
                Ok(7),
                "{level:?} spnego {spnego}"
            );
            let seen = seen.lock().unwrap();
            assert_eq!(seen.len(), 2);
            for auth in seen.iter() {
                let auth = auth.clone().expect("an authenticated call");
                let want = if spnego {
                    AuthType::GSS_NEGOTIATE
                } else {
                    AuthType::WINNT
                };
                assert_eq!(auth.auth_type, want);
                assert_eq!(auth.level, level);
                assert_eq!(auth.user.as_deref(), Some(ANONYMOUS_LOGON));
                assert!(auth.anonymous);
            }
        }
    }
    allowing.shutdown().await;

    let (refusing, seen) = server(false).await;
    for spnego in [false, true] {
        for level in [AuthLevel::CONNECT, AuthLevel::PKT_PRIVACY] {
            assert!(calls(&refusing, level, spnego).await.is_err());
        }
    }
    assert!(seen.lock().unwrap().is_empty());
    refusing.shutdown().await;
}
