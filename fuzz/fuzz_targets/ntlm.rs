//! NTLM and SPNEGO parsers and the handshake state machines on arbitrary bytes.
//! First byte selects: 0 NEGOTIATE, 1 CHALLENGE, 2 AUTHENTICATE, 3 NegTokenInit, 4 NegTokenResp
//! (each: what decodes must re-encode to bytes that decode again); 5 the acceptor given a real
//! NEGOTIATE and then the input as AUTHENTICATE (allowing anonymous logons when the selector
//! byte's tens digit is odd), then signing, verifying, sealing and unsealing the input once
//! established; 6 a client (anonymous when that digit is odd) given the input as CHALLENGE;
//! 7 the SPNEGO acceptor given the input as its first token; 8 a real SPNEGO exchange up to the
//! client's AUTHENTICATE + mechListMIC, then the acceptor given the input instead; 9 the same
//! exchange with the input as the acceptor's final token (accept-completed + mechListMIC) to
//! the client. Never a panic.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use msrpc_ntlm::messages::{Authenticate, Challenge, Negotiate};
use msrpc_ntlm::spnego::{NegTokenInit, NegTokenResp};
use msrpc_ntlm::{
    MemoryUserStore, NtlmAcceptor, NtlmClient, SpnegoAcceptor, SpnegoClient, UserStore,
};
use msrpc_proto::security::AuthStep;
use msrpc_proto::security::SecurityProvider;

macro_rules! reparse {
    ($t:ty, $b:expr) => {
        if let Ok(m) = <$t>::decode($b) {
            let again = m.encode();
            assert!(<$t>::decode(&again).is_ok(), "re-encoded {} does not decode", stringify!($t));
        }
    };
}

fn store() -> Arc<dyn UserStore> {
    let mut s = MemoryUserStore::new();
    s.add_user("alice", "pw");
    Arc::new(s)
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    match sel % 10 {
        0 => reparse!(Negotiate, rest),
        1 => reparse!(Challenge, rest),
        2 => reparse!(Authenticate, rest),
        3 => reparse!(NegTokenInit, rest),
        4 => reparse!(NegTokenResp, rest),
        5 => {
            let anonymous = (sel / 10) % 2 == 1;
            let mut client = NtlmClient::new("alice", "", "pw");
            let mut acc = NtlmAcceptor::new(store()).allow_anonymous(anonymous);
            if let Ok(msrpc_proto::security::AuthStep::Continue(neg)) = client.step(None) {
                let _ = acc.step(Some(&neg));
                let _ = acc.step(Some(rest));
                assert!(!acc.is_established() || acc.peer_name().is_some());
                assert!(anonymous || !acc.is_anonymous());
                if acc.is_established() {
                    let mut buf = rest.to_vec();
                    let n = buf.len();
                    let _ = acc.sign(rest, 0..n);
                    let _ = acc.verify(rest, 0..n, rest.get(..16).unwrap_or_default());
                    let _ = acc.seal(&mut buf, 0..n / 2);
                    let _ = acc.unseal(&mut buf, 0..n, rest.get(..16).unwrap_or_default());
                }
            }
        }
        6 => {
            let mut client = if (sel / 10) % 2 == 1 {
                NtlmClient::anonymous()
            } else {
                NtlmClient::new("alice", "", "pw")
            };
            let _ = client.step(None);
            let _ = client.step(Some(rest));
        }
        7 => {
            let mut acc = SpnegoAcceptor::new(NtlmAcceptor::new(store()));
            let _ = acc.step(Some(rest));
            let _ = acc.step(Some(rest));
        }
        sel => {
            let mut c = SpnegoClient::new(NtlmClient::new("alice", "", "pw"));
            let mut acc = SpnegoAcceptor::new(NtlmAcceptor::new(store()));
            let Ok(AuthStep::Continue(init)) = c.step(None) else { return };
            let Ok(AuthStep::Continue(ch)) = acc.step(Some(&init)) else { return };
            let Ok(AuthStep::Continue(auth)) = c.step(Some(&ch)) else { return };
            if sel == 8 {
                let _ = acc.step(Some(rest));
                let _ = acc.step(Some(&auth));
            } else {
                let _ = c.step(Some(rest));
                let _ = c.sign(rest, 0..0);
            }
        }
    }
});
