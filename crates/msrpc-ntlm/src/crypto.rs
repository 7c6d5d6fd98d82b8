//! NTLMv2 cryptographic functions (MS-NLMP 3.3.2, 3.4.4, 3.4.5, 6).

use hmac::{Hmac, KeyInit, Mac};
use md4::Md4;
use md5::{Digest, Md5};
use zeroize::Zeroizing;

/// A 16-byte key that is wiped when dropped.
pub type Key16 = Zeroizing<[u8; 16]>;

/// Magic constant for the client-to-server signing key (MS-NLMP 3.4.5.2), NUL included.
const CLIENT_SIGN: &[u8] = b"session key to client-to-server signing key magic constant\0";
/// Magic constant for the server-to-client signing key, NUL included.
const SERVER_SIGN: &[u8] = b"session key to server-to-client signing key magic constant\0";
/// Magic constant for the client-to-server sealing key (MS-NLMP 3.4.5.3), NUL included.
const CLIENT_SEAL: &[u8] = b"session key to client-to-server sealing key magic constant\0";
/// Magic constant for the server-to-client sealing key, NUL included.
const SERVER_SEAL: &[u8] = b"session key to server-to-client sealing key magic constant\0";

/// Encodes `s` as UTF-16LE without a terminator.
pub fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// HMAC-MD5 over the concatenation of `parts`.
pub fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // HMAC accepts keys of any length, so construction cannot fail; fall back to an empty
    // key rather than panicking should that ever change.
    let mut mac = match <Hmac<Md5> as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => <Hmac<Md5> as KeyInit>::new(&Default::default()),
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// MD5 over the concatenation of `parts`.
pub fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The NT hash of a password: MD4(UTF-16LE(password)).
pub fn nt_hash(password: &str) -> Key16 {
    let bytes = Zeroizing::new(utf16le(password));
    let mut h = Md4::new();
    h.update(bytes.as_slice());
    Zeroizing::new(h.finalize().into())
}

/// NTOWFv2 from an NT hash: HMAC_MD5(nt_hash, UTF-16LE(UPPER(user) + domain)).
///
/// Upper-casing uses Unicode full case mapping, which matches Windows for the names people
/// use in practice.
pub fn ntowfv2_from_hash(nt_hash: &[u8; 16], user: &str, domain: &str) -> Key16 {
    let mut who = user.to_uppercase();
    who.push_str(domain);
    Zeroizing::new(hmac_md5(nt_hash, &[&utf16le(&who)]))
}

/// NTOWFv2 from a password.
pub fn ntowfv2(password: &str, user: &str, domain: &str) -> Key16 {
    ntowfv2_from_hash(&nt_hash(password), user, domain)
}

/// Builds the NTLMv2 client challenge blob ("temp" in MS-NLMP 3.3.2):
/// `01 01 Z(6) timestamp client_challenge Z(4) av_pairs Z(4)`, where `av_pairs` is the
/// encoded AV pair list including its MsvAvEOL.
pub fn client_blob(timestamp: u64, client_challenge: &[u8; 8], av_pairs: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(28 + av_pairs.len() + 4);
    t.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0]);
    t.extend_from_slice(&timestamp.to_le_bytes());
    t.extend_from_slice(client_challenge);
    t.extend_from_slice(&[0; 4]);
    t.extend_from_slice(av_pairs);
    t.extend_from_slice(&[0; 4]);
    t
}

/// NTProofStr = HMAC_MD5(NTOWFv2, server_challenge || blob).
pub fn nt_proof(ntowf: &[u8; 16], server_challenge: &[u8; 8], blob: &[u8]) -> [u8; 16] {
    hmac_md5(ntowf, &[server_challenge, blob])
}

/// LMv2 response: HMAC_MD5(NTOWFv2, server_challenge || client_challenge) || client_challenge.
pub fn lmv2_response(
    ntowf: &[u8; 16],
    server_challenge: &[u8; 8],
    client_challenge: &[u8; 8],
) -> Vec<u8> {
    let mut r = hmac_md5(ntowf, &[server_challenge, client_challenge]).to_vec();
    r.extend_from_slice(client_challenge);
    r
}

/// SessionBaseKey = HMAC_MD5(NTOWFv2, NTProofStr); for NTLMv2 this is also KXKEY.
pub fn session_base_key(ntowf: &[u8; 16], nt_proof: &[u8; 16]) -> Key16 {
    Zeroizing::new(hmac_md5(ntowf, &[nt_proof]))
}

/// RC4 of `data` under `key` with a fresh cipher (key exchange).
pub fn rc4_oneshot(key: &[u8], data: &mut [u8]) {
    use rc4::{KeyInit as _, StreamCipher as _};
    if let Ok(mut c) = rc4::Rc4::new_from_slice(key) {
        c.apply_keystream(data);
    }
}

/// Which way a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    ClientToServer,
    /// Server to client.
    ServerToClient,
}

/// SIGNKEY with extended session security (MS-NLMP 3.4.5.2).
pub fn sign_key(exported_session_key: &[u8; 16], dir: Direction) -> Key16 {
    let magic = match dir {
        Direction::ClientToServer => CLIENT_SIGN,
        Direction::ServerToClient => SERVER_SIGN,
    };
    Zeroizing::new(md5(&[exported_session_key, magic]))
}

/// SEALKEY with extended session security and 128-bit keys (MS-NLMP 3.4.5.3).
pub fn seal_key(exported_session_key: &[u8; 16], dir: Direction) -> Key16 {
    let magic = match dir {
        Direction::ClientToServer => CLIENT_SEAL,
        Direction::ServerToClient => SERVER_SEAL,
    };
    Zeroizing::new(md5(&[exported_session_key, magic]))
}

/// Compares two byte strings in time independent of where they differ.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
