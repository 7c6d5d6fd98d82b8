//! NTLMv2 message protection with extended session security (MS-NLMP 3.4.3, 3.4.4).

use std::ops::Range;

use msrpc_proto::security::SecurityError;
use rc4::{KeyInit, Rc4, StreamCipher};

use crate::crypto::{ct_eq, seal_key, sign_key, Direction, Key16};
use hmac::{Hmac, Mac};
use md5::Md5;

/// Length of an NTLMSSP_MESSAGE_SIGNATURE.
pub const SIGNATURE_LEN: usize = 16;

/// One direction's keys, RC4 handle and sequence number.
struct Half {
    /// HMAC-MD5 keyed with the signing key once (its inner and outer pads hashed), cloned
    /// per message: two MD5 blocks fewer per PDU than keying it each time.
    mac_key: Hmac<Md5>,
    seal_key: Key16,
    handle: Rc4,
    seq: u32,
}

impl Half {
    fn new(exported: &[u8; 16], dir: Direction) -> Result<Self, SecurityError> {
        let seal = seal_key(exported, dir);
        let handle = Rc4::new_from_slice(seal.as_slice())
            .map_err(|_| SecurityError::NotReady("RC4 key setup failed"))?;
        let sign = sign_key(exported, dir);
        let mac_key = <Hmac<Md5> as hmac::digest::KeyInit>::new_from_slice(sign.as_slice())
            .map_err(|_| SecurityError::NotReady("HMAC key setup failed"))?;
        Ok(Half {
            mac_key,
            seal_key: seal,
            handle,
            seq: 0,
        })
    }

    /// Re-keys the RC4 handle from the sealing key; the sequence number is kept.
    fn reset_handle(&mut self) -> Result<(), SecurityError> {
        self.handle = Rc4::new_from_slice(self.seal_key.as_slice())
            .map_err(|_| SecurityError::NotReady("RC4 key setup failed"))?;
        Ok(())
    }

    /// The MAC (MS-NLMP 3.4.4.2) of `msg` under this direction's state; advances the sequence
    /// number and the RC4 handle. Callers that seal run the data through the handle first.
    fn mac(&mut self, msg: &[u8], key_exch: bool) -> [u8; SIGNATURE_LEN] {
        let mac = self.mac_start(msg);
        self.mac_finish(mac, key_exch)
    }

    /// The first half of [`Half::mac`]: the HMAC over the sequence number and `msg`, before
    /// any RC4 keystream is used (so a sealer can hash the plaintext in place, then encrypt
    /// it, then finish). Advances the sequence number.
    fn mac_start(&mut self, msg: &[u8]) -> (Hmac<Md5>, [u8; 4]) {
        let seq = self.seq.to_le_bytes();
        self.seq = self.seq.wrapping_add(1);
        let mut mac = self.mac_key.clone();
        mac.update(&seq);
        mac.update(msg);
        (mac, seq)
    }

    /// The second half of [`Half::mac`]: the checksum (RC4-encrypted under key exchange) and
    /// the signature.
    fn mac_finish(
        &mut self,
        (mac, seq): (Hmac<Md5>, [u8; 4]),
        key_exch: bool,
    ) -> [u8; SIGNATURE_LEN] {
        let digest: [u8; 16] = mac.finalize().into_bytes().into();
        let mut checksum = [0u8; 8];
        checksum.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
        if key_exch {
            self.handle.apply_keystream(&mut checksum);
        }
        let mut sig = [0u8; SIGNATURE_LEN];
        let (version, rest) = sig.split_at_mut(4);
        let (sum, seq_num) = rest.split_at_mut(8);
        version.copy_from_slice(&1u32.to_le_bytes());
        sum.copy_from_slice(&checksum);
        seq_num.copy_from_slice(&seq);
        sig
    }
}

/// The established session: both directions' state.
pub struct Session {
    send: Half,
    recv: Half,
    key_exch: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("send_seq", &self.send.seq)
            .field("recv_seq", &self.recv.seq)
            .field("key_exch", &self.key_exch)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Derives the session from the exported session key. `client` selects which direction
    /// is ours.
    pub fn new(exported: &[u8; 16], client: bool, key_exch: bool) -> Result<Self, SecurityError> {
        let c2s = Half::new(exported, Direction::ClientToServer)?;
        let s2c = Half::new(exported, Direction::ServerToClient)?;
        let (send, recv) = if client { (c2s, s2c) } else { (s2c, c2s) };
        Ok(Session {
            send,
            recv,
            key_exch,
        })
    }

    /// Re-keys both directions' RC4 handles from their sealing keys, keeping the sequence
    /// numbers: what SPNEGO does after the mechListMIC (MS-SPNG 3.1.5.1; see
    /// [`crate::spnego`]).
    pub fn reset_rc4(&mut self) -> Result<(), SecurityError> {
        self.send.reset_handle()?;
        self.recv.reset_handle()
    }

    /// The next sequence numbers (send, receive).
    pub fn sequence_numbers(&self) -> (u32, u32) {
        (self.send.seq, self.recv.seq)
    }

    /// Signs `msg`.
    pub fn sign(&mut self, msg: &[u8]) -> Vec<u8> {
        self.send.mac(msg, self.key_exch).to_vec()
    }

    /// Verifies a peer signature over `msg`; the expected sequence number advances either way.
    pub fn verify(&mut self, msg: &[u8], signature: &[u8]) -> Result<(), SecurityError> {
        let want = self.recv.mac(msg, self.key_exch);
        if ct_eq(&want, signature) {
            Ok(())
        } else {
            Err(SecurityError::BadSignature)
        }
    }

    /// Seals `pdu[data]` in place and returns the signature over the plaintext `pdu`.
    pub fn seal(&mut self, pdu: &mut [u8], data: Range<usize>) -> Result<Vec<u8>, SecurityError> {
        if pdu.get(data.clone()).is_none() {
            return Err(SecurityError::NotReady("data range outside the PDU"));
        }
        // The checksum covers the plaintext, but the data takes the RC4 keystream first: hash
        // the plaintext in place, encrypt, then finish (no copy of the PDU).
        let mac = self.send.mac_start(pdu);
        if let Some(region) = pdu.get_mut(data) {
            self.send.handle.apply_keystream(region);
        }
        Ok(self.send.mac_finish(mac, self.key_exch).to_vec())
    }

    /// Decrypts `pdu[data]` in place and verifies `signature` over the plaintext `pdu`.
    pub fn unseal(
        &mut self,
        pdu: &mut [u8],
        data: Range<usize>,
        signature: &[u8],
    ) -> Result<(), SecurityError> {
        let region = pdu
            .get_mut(data)
            .ok_or_else(|| SecurityError::MalformedToken("data range outside the PDU".into()))?;
        self.recv.handle.apply_keystream(region);
        self.verify(pdu, signature)
    }
}
