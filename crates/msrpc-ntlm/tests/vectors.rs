//! MS-NLMP 4.2.4 (NTLMv2 authentication) test vectors: user "User", domain "Domain",
//! password "Password", server challenge 0123456789abcdef, client challenge aaaaaaaaaaaaaaaa,
//! timestamp 0, random session key 55 x 16, target info NbDomainName "Domain",
//! NbComputerName "Server".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use msrpc_ntlm::crypto::{
    client_blob, lmv2_response, nt_hash, nt_proof, ntowfv2, rc4_oneshot, seal_key,
    session_base_key, sign_key, Direction,
};
use msrpc_ntlm::messages::{av_id, encode_av_pairs, flags, AvPair};
use msrpc_ntlm::session::Session;

const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
const CLIENT_CHALLENGE: [u8; 8] = [0xaa; 8];
const RANDOM_SESSION_KEY: [u8; 16] = [0x55; 16];

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).unwrap()
}

fn av_pairs() -> Vec<u8> {
    encode_av_pairs(&[
        AvPair::string(av_id::NB_DOMAIN_NAME, "Domain"),
        AvPair::string(av_id::NB_COMPUTER_NAME, "Server"),
    ])
}

fn blob() -> Vec<u8> {
    client_blob(0, &CLIENT_CHALLENGE, &av_pairs())
}

#[test]
fn ms_nlmp_4_2_4_challenge_flags() {
    let f = flags::KEY_EXCH
        | flags::NEGOTIATE_56
        | flags::NEGOTIATE_128
        | flags::VERSION
        | flags::TARGET_INFO
        | flags::EXTENDED_SESSIONSECURITY
        | flags::TARGET_TYPE_SERVER
        | flags::ALWAYS_SIGN
        | flags::NTLM
        | flags::SEAL
        | flags::SIGN
        | flags::OEM
        | flags::UNICODE;
    assert_eq!(f.to_le_bytes().to_vec(), h("33 82 8a e2"));
}

#[test]
fn ms_nlmp_4_2_4_1_1_ntowfv2() {
    assert_eq!(
        ntowfv2("Password", "User", "Domain").to_vec(),
        h("0c 86 8a 40 3b fd 7a 93 a3 00 1e f2 2e f0 2e 3f")
    );
    // The user name is upper-cased, the domain is not.
    assert_eq!(
        *ntowfv2("Password", "uSeR", "Domain"),
        *ntowfv2("Password", "User", "Domain")
    );
    assert_ne!(
        *ntowfv2("Password", "User", "DOMAIN"),
        *ntowfv2("Password", "User", "Domain")
    );
    // MD4(UTF-16LE("Password")), the NT hash of 4.2.2.1.2.
    assert_eq!(
        nt_hash("Password").to_vec(),
        h("a4 f4 9c 40 65 10 bd ca b6 82 4e e7 c3 0f d8 52")
    );
}

#[test]
fn ms_nlmp_4_2_4_1_3_temp() {
    assert_eq!(
        blob(),
        h(
            "01 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 aa aa aa aa aa aa aa aa 00 00 00 00
           02 00 0c 00 44 00 6f 00 6d 00 61 00 69 00 6e 00 01 00 0c 00 53 00 65 00 72 00 76 00
           65 00 72 00 00 00 00 00 00 00 00 00"
        )
    );
}

#[test]
fn ms_nlmp_4_2_4_2_2_nt_proof_str_and_4_2_4_1_2_session_base_key() {
    let key = ntowfv2("Password", "User", "Domain");
    let proof = nt_proof(&key, &SERVER_CHALLENGE, &blob());
    assert_eq!(
        proof.to_vec(),
        h("68 cd 0a b8 51 e5 1c 96 aa bc 92 7b eb ef 6a 1c")
    );
    assert_eq!(
        session_base_key(&key, &proof).to_vec(),
        h("8d e4 0c ca db c1 4a 82 f1 5c b0 ad 0d e9 5c a3")
    );
}

#[test]
fn ms_nlmp_4_2_4_2_1_lmv2_response() {
    let key = ntowfv2("Password", "User", "Domain");
    assert_eq!(
        lmv2_response(&key, &SERVER_CHALLENGE, &CLIENT_CHALLENGE),
        h("86 c3 50 97 ac 9c ec 10 25 54 76 4a 57 cc cc 19 aa aa aa aa aa aa aa aa")
    );
}

#[test]
fn ms_nlmp_4_2_4_2_3_encrypted_session_key() {
    let key = ntowfv2("Password", "User", "Domain");
    let proof = nt_proof(&key, &SERVER_CHALLENGE, &blob());
    let base = session_base_key(&key, &proof);
    let mut k = RANDOM_SESSION_KEY;
    rc4_oneshot(base.as_slice(), &mut k);
    assert_eq!(
        k.to_vec(),
        h("c5 da d2 54 4f c9 79 90 94 ce 1c e9 0b c9 d0 3e")
    );
    // And back.
    rc4_oneshot(base.as_slice(), &mut k);
    assert_eq!(k, RANDOM_SESSION_KEY);
}

#[test]
fn ms_nlmp_4_2_4_4_sealkey_and_signkey() {
    assert_eq!(
        seal_key(&RANDOM_SESSION_KEY, Direction::ClientToServer).to_vec(),
        h("59 f6 00 97 3c c4 96 0a 25 48 0a 7c 19 6e 4c 58")
    );
    assert_eq!(
        sign_key(&RANDOM_SESSION_KEY, Direction::ClientToServer).to_vec(),
        h("47 88 dc 86 1b 47 82 f3 5d 43 fd 98 fe 1a 2d 39")
    );
}

const PLAINTEXT: &str = "50 00 6c 00 61 00 69 00 6e 00 74 00 65 00 78 00 74 00";
const SEALED: &str = "54 e5 01 65 bf 19 36 dc 99 60 20 c1 81 1b 0f 06 fb 5f";
const SIGNATURE: &str = "01 00 00 00 7f b3 8e c5 c5 5d 49 76 00 00 00 00";

#[test]
fn ms_nlmp_4_2_4_4_gss_wrapex_seal() {
    let mut client = Session::new(&RANDOM_SESSION_KEY, true, true).unwrap();
    let mut msg = h(PLAINTEXT);
    let n = msg.len();
    let sig = client.seal(&mut msg, 0..n).unwrap();
    assert_eq!(msg, h(SEALED));
    assert_eq!(sig, h(SIGNATURE));
}

#[test]
fn ms_nlmp_4_2_4_4_gss_unwrapex_unseal() {
    let mut server = Session::new(&RANDOM_SESSION_KEY, false, true).unwrap();
    let mut msg = h(SEALED);
    let n = msg.len();
    server.unseal(&mut msg, 0..n, &h(SIGNATURE)).unwrap();
    assert_eq!(msg, h(PLAINTEXT));
    // The same bytes a second time carry the wrong sequence number (and RC4 state).
    let mut again = h(SEALED);
    assert!(server.unseal(&mut again, 0..n, &h(SIGNATURE)).is_err());
}
