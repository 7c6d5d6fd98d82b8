//! Client <-> acceptor handshakes, message protection both ways, and hostile input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use msrpc_ntlm::messages::{flags, Authenticate, Challenge, Negotiate};
use msrpc_ntlm::{MemoryUserStore, NtlmAcceptor, NtlmClient};
use msrpc_proto::pdu::AuthType;
use msrpc_proto::security::{AuthStep, SecurityError, SecurityProvider};
use proptest::prelude::*;

fn store() -> Arc<MemoryUserStore> {
    Arc::new(
        MemoryUserStore::new()
            .with_user("User", "Password")
            .with_user("alice", "Secret1")
            .with_user("bob", "Secret1"),
    )
}

fn acceptor() -> NtlmAcceptor {
    NtlmAcceptor::new(store())
}

/// Runs NEGOTIATE and CHALLENGE; returns the client's AUTHENTICATE (not yet delivered).
fn first_legs(c: &mut NtlmClient, s: &mut NtlmAcceptor) -> Vec<u8> {
    let AuthStep::Continue(neg) = c.step(None).unwrap() else {
        panic!("client must start with NEGOTIATE")
    };
    let AuthStep::Continue(ch) = s.step(Some(&neg)).unwrap() else {
        panic!("acceptor must answer with CHALLENGE")
    };
    let AuthStep::Done(Some(auth)) = c.step(Some(&ch)).unwrap() else {
        panic!("client must finish with AUTHENTICATE")
    };
    auth
}

fn handshake(user: &str, domain: &str, password: &str) -> (NtlmClient, NtlmAcceptor) {
    let mut c = NtlmClient::new(user, domain, password);
    let mut s = acceptor();
    let auth = first_legs(&mut c, &mut s);
    assert_eq!(s.step(Some(&auth)).unwrap(), AuthStep::Done(None));
    (c, s)
}

fn refused(user: &str, domain: &str, password: &str) -> SecurityError {
    let mut c = NtlmClient::new(user, domain, password);
    let mut s = acceptor();
    let auth = first_legs(&mut c, &mut s);
    let e = s.step(Some(&auth)).unwrap_err();
    assert!(!s.is_established());
    assert_eq!(s.peer_name(), None);
    e
}

fn pdu(n: u8) -> Vec<u8> {
    (0..64u8)
        .map(|i| i.wrapping_mul(7).wrapping_add(n))
        .collect()
}

#[test]
fn full_handshake_then_sign_and_seal_both_ways() {
    let (mut c, mut s) = handshake("User", "Domain", "Password");
    assert!(c.is_established() && s.is_established());
    assert_eq!(c.auth_type(), AuthType::WINNT);
    assert_eq!(s.auth_type(), AuthType::WINNT);
    assert_eq!(s.peer_name().as_deref(), Some("Domain\\User"));
    assert_eq!(c.signature_len(), 16);
    let mut last = Vec::new();
    for round in 0..4u8 {
        // Integrity, client -> server and back.
        let m = pdu(round);
        let sig = c.sign(&m, 16..48).unwrap();
        assert_eq!(sig.len(), 16);
        assert_eq!(&sig[..4], &[1, 0, 0, 0]);
        s.verify(&m, 16..48, &sig).unwrap();
        let sig = s.sign(&m, 16..48).unwrap();
        c.verify(&m, 16..48, &sig).unwrap();
        // Privacy, both ways: only the data range changes.
        let mut sealed = pdu(round + 100);
        let plain = sealed.clone();
        let sig = c.seal(&mut sealed, 16..48).unwrap();
        assert_eq!(&sealed[..16], &plain[..16]);
        assert_eq!(&sealed[48..], &plain[48..]);
        assert_ne!(&sealed[16..48], &plain[16..48]);
        s.unseal(&mut sealed, 16..48, &sig).unwrap();
        assert_eq!(sealed, plain);
        let sig = s.seal(&mut sealed, 16..48).unwrap();
        c.unseal(&mut sealed, 16..48, &sig).unwrap();
        assert_eq!(sealed, plain);
        // The sequence number in the clear part of the signature advances: sign, seal per
        // direction each round.
        assert_eq!(
            u32::from_le_bytes(sig[12..16].try_into().unwrap()),
            u32::from(round) * 2 + 1
        );
        assert_ne!(sig, last);
        last = sig;
    }
}

#[test]
fn user_name_is_case_insensitive_and_no_domain_gives_bare_name() {
    let (_, s) = handshake("USER", "", "Password");
    assert_eq!(s.peer_name().as_deref(), Some("USER"));
}

#[test]
fn wrong_password_unknown_user_and_empty_user_are_refused() {
    assert!(matches!(
        refused("User", "Domain", "password"),
        SecurityError::AuthenticationFailed(_)
    ));
    assert!(matches!(
        refused("mallory", "Domain", "Password"),
        SecurityError::AuthenticationFailed(_)
    ));
    assert!(matches!(
        refused("", "Domain", "Password"),
        SecurityError::AuthenticationFailed(_)
    ));
}

#[test]
fn a_proof_for_one_user_presented_under_another_name_is_refused() {
    // alice and bob share a password; alice's valid proof relabelled as bob must still fail,
    // because NTOWFv2 binds the user name.
    let mut c = NtlmClient::new("alice", "CORP", "Secret1");
    let mut s = acceptor();
    let auth = first_legs(&mut c, &mut s);
    let mut a = Authenticate::decode(&auth).unwrap();
    a.user = "bob".into();
    a.mic = None;
    let e = s.step(Some(&a.encode())).unwrap_err();
    assert!(matches!(e, SecurityError::AuthenticationFailed(_)), "{e:?}");
    assert!(!s.is_established());
}

#[test]
fn mic_must_verify_when_announced() {
    // Tampered MIC.
    let mut c = NtlmClient::new("User", "Domain", "Password");
    let mut s = acceptor();
    let mut auth = first_legs(&mut c, &mut s);
    auth[72] ^= 1;
    assert!(s.step(Some(&auth)).is_err());

    // MIC stripped although the blob's MsvAvFlags announces it.
    let mut c = NtlmClient::new("User", "Domain", "Password");
    let mut s = acceptor();
    let auth = first_legs(&mut c, &mut s);
    let mut a = Authenticate::decode(&auth).unwrap();
    assert!(a.mic.is_some());
    a.mic = None;
    assert!(s.step(Some(&a.encode())).is_err());

    // Flags changed after the fact (dropping key exchange): the MIC no longer matches.
    let mut c = NtlmClient::new("User", "Domain", "Password");
    let mut s = acceptor();
    let auth = first_legs(&mut c, &mut s);
    let mut t = auth.clone();
    let f = u32::from_le_bytes(t[60..64].try_into().unwrap()) & !flags::SEAL;
    t[60..64].copy_from_slice(&f.to_le_bytes());
    assert!(s.step(Some(&t)).is_err());
}

#[test]
fn ntlmv1_is_refused_and_anonymous_only_when_allowed() {
    let mut c = NtlmClient::new("User", "Domain", "Password");
    let mut s = acceptor();
    let auth = first_legs(&mut c, &mut s);
    let mut a = Authenticate::decode(&auth).unwrap();
    a.nt_response = vec![0x11; 24];
    a.mic = None;
    let e = s.step(Some(&a.encode())).unwrap_err();
    assert!(matches!(e, SecurityError::AuthenticationFailed(ref m) if m.contains("NTLMv1")));

    let anonymous = |s: &mut NtlmAcceptor| {
        let mut c = NtlmClient::new("", "", "");
        let auth = first_legs(&mut c, s);
        let mut a = Authenticate::decode(&auth).unwrap();
        a.nt_response.clear();
        a.lm_response = vec![0];
        a.user.clear();
        a.domain.clear();
        a.mic = None;
        s.step(Some(&a.encode()))
    };
    let mut s = acceptor();
    assert!(anonymous(&mut s).is_err());
    assert!(!s.is_established());
    let mut s = acceptor().allow_anonymous(true);
    assert_eq!(anonymous(&mut s).unwrap(), AuthStep::Done(None));
    assert!(s.is_established());
    assert_eq!(s.peer_name().as_deref(), Some(msrpc_ntlm::ANONYMOUS_LOGON));
    // An anonymous context has a session key (from Z(16); tests/anonymous.rs checks it).
    assert!(s.is_anonymous() && s.sign(&[0; 8], 0..8).is_ok());
}

#[test]
fn tampered_and_replayed_messages_are_refused() {
    let (mut c, mut s) = handshake("User", "Domain", "Password");
    // Tampered signature.
    let m = pdu(1);
    let mut sig = c.sign(&m, 0..0).unwrap();
    sig[5] ^= 0x80;
    assert_eq!(s.verify(&m, 0..0, &sig), Err(SecurityError::BadSignature));

    let (mut c, mut s) = handshake("User", "Domain", "Password");
    // Tampered message.
    let m = pdu(2);
    let sig = c.sign(&m, 0..0).unwrap();
    let mut t = m.clone();
    t[3] ^= 1;
    assert!(s.verify(&t, 0..0, &sig).is_err());

    let (mut c, mut s) = handshake("User", "Domain", "Password");
    // Replay: the same good message twice.
    let m = pdu(3);
    let sig = c.sign(&m, 0..0).unwrap();
    s.verify(&m, 0..0, &sig).unwrap();
    assert!(s.verify(&m, 0..0, &sig).is_err());

    let (mut c, mut s) = handshake("User", "Domain", "Password");
    // A sealed replay, a reflected message (the client's own signature sent back to it),
    // a wrong-length signature and an out-of-range data range.
    let mut m = pdu(4);
    let sig = c.seal(&mut m, 8..40).unwrap();
    let wire = m.clone();
    s.unseal(&mut m, 8..40, &sig).unwrap();
    let mut again = wire.clone();
    assert!(s.unseal(&mut again, 8..40, &sig).is_err());
    let m = pdu(5);
    let own = c.sign(&m, 0..0).unwrap();
    assert!(c.verify(&m, 0..0, &own).is_err());
    assert!(s.verify(&m, 0..0, &own[..15]).is_err());
    let mut m = pdu(6);
    assert!(c.seal(&mut m, 60..100).is_err());
    assert!(s.unseal(&mut m, 60..100, &own).is_err());
}

#[test]
fn protection_before_establishment_and_steps_out_of_order_are_errors() {
    let mut c = NtlmClient::new("User", "Domain", "Password");
    let mut s = acceptor();
    let mut m = pdu(0);
    assert!(c.sign(&m, 0..0).is_err());
    assert!(s.verify(&m, 0..0, &[0; 16]).is_err());
    assert!(c.seal(&mut m, 0..4).is_err());
    assert!(s.unseal(&mut m, 0..4, &[0; 16]).is_err());
    assert!(c.step(Some(b"x")).is_err());
    assert!(s.step(None).is_err());
    let (mut c, mut s) = handshake("User", "Domain", "Password");
    assert!(c.step(None).is_err());
    assert!(s.step(Some(b"NTLMSSP\0")).is_err());
}

#[test]
fn refuses_peers_without_extended_session_security() {
    let weak = Negotiate {
        flags: flags::UNICODE | flags::NTLM | flags::SIGN,
        version: None,
    };
    assert!(acceptor().step(Some(&weak.encode())).is_err());
    let mut c = NtlmClient::new("User", "Domain", "Password");
    c.step(None).unwrap();
    let ch = Challenge {
        flags: flags::UNICODE | flags::NTLM | flags::NEGOTIATE_128,
        target_name: "S".into(),
        server_challenge: [1; 8],
        target_info: vec![],
        version: None,
    };
    assert!(c.step(Some(&ch.encode())).is_err());
}

#[test]
fn truncated_tokens_at_every_leg_are_errors() {
    let mut c = NtlmClient::new("User", "Domain", "Password");
    let mut s = acceptor();
    let AuthStep::Continue(neg) = c.step(None).unwrap() else {
        panic!()
    };
    for n in 0..neg.len() {
        let r = acceptor().step(Some(&neg[..n]));
        if n < 16 {
            assert!(r.is_err(), "NEGOTIATE cut to {n}");
        }
    }
    let AuthStep::Continue(ch) = s.step(Some(&neg)).unwrap() else {
        panic!()
    };
    for n in 0..ch.len() {
        let mut c2 = NtlmClient::new("User", "Domain", "Password");
        c2.step(None).unwrap();
        assert!(c2.step(Some(&ch[..n])).is_err(), "CHALLENGE cut to {n}");
    }
    let AuthStep::Done(Some(auth)) = c.step(Some(&ch)).unwrap() else {
        panic!()
    };
    for n in 0..auth.len() {
        let mut c2 = NtlmClient::new("User", "Domain", "Password");
        let mut s2 = acceptor();
        first_legs(&mut c2, &mut s2);
        assert!(
            s2.step(Some(&auth[..n])).is_err(),
            "AUTHENTICATE cut to {n}"
        );
    }
    // Garbage of the right type and length.
    let mut junk = auth.clone();
    for b in junk.iter_mut().skip(12) {
        *b = 0xff;
    }
    assert!(s.step(Some(&junk)).is_err());
}

#[test]
fn debug_output_never_shows_keys() {
    let (c, s) = handshake("User", "Domain", "Password");
    let text = format!("{c:?} {s:?} {:?}", store());
    assert!(text.contains("established"));
    let hash = hex::encode(*msrpc_ntlm::crypto::nt_hash("Password"));
    assert!(!text.to_lowercase().contains(&hash[..8]));
    assert!(!text.contains("Password"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsers_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Negotiate::decode(&b);
        let _ = Challenge::decode(&b);
        let _ = Authenticate::decode(&b);
        let _ = msrpc_ntlm::messages::parse_av_pairs(&b);
    }

    #[test]
    fn parsers_never_panic_on_signed_headers(
        ty in 1u32..4,
        b in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut t = b"NTLMSSP\0".to_vec();
        t.extend_from_slice(&ty.to_le_bytes());
        t.extend_from_slice(&b);
        let _ = Negotiate::decode(&t);
        let _ = Challenge::decode(&t);
        let _ = Authenticate::decode(&t);
        let _ = acceptor().step(Some(&t));
        let mut c = NtlmClient::new("User", "Domain", "Password");
        c.step(None).unwrap();
        let _ = c.step(Some(&t));
    }

    #[test]
    fn mutated_authenticate_never_panics_or_passes_with_a_changed_proof(
        at in 0usize..400,
        x in 1u8..=255,
    ) {
        let mut c = NtlmClient::new("User", "Domain", "Password");
        let mut s = acceptor();
        let mut auth = first_legs(&mut c, &mut s);
        let at = at % auth.len();
        auth[at] ^= x;
        // Any change is either refused or (for the unused version bytes) harmless.
        if s.step(Some(&auth)).is_ok() {
            prop_assert!((64..72).contains(&at), "mutation at {} accepted", at);
        }
    }
}
