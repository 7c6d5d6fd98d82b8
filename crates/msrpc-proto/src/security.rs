//! The authentication seam: [`SecurityProvider`], implemented by mechanisms (NTLM, SPNEGO) in
//! other crates. The association state machines carry its tokens in bind, bind_ack,
//! alter_context, alter_context_resp and auth3 verifiers, and call it to protect each PDU at
//! `PKT_INTEGRITY` (sign) and `PKT_PRIVACY` (seal) (MS-RPCE 3.3.1.5.2).

use std::ops::Range;

use crate::pdu::{AuthLevel, AuthType};

/// Result of one leg of security-context establishment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthStep {
    /// Send this token to the peer and expect an answer.
    Continue(Vec<u8>),
    /// The context is established; send this token if present (e.g. the client's
    /// AUTHENTICATE in auth3), expecting nothing back.
    Done(Option<Vec<u8>>),
}

/// Why a security operation failed (the peer's fault unless stated otherwise).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecurityError {
    /// A token was malformed.
    #[error("malformed token: {0}")]
    MalformedToken(String),
    /// The peer's credentials were refused (wrong password, unknown user, ...).
    #[error("authentication failed: {0}")]
    AuthenticationFailed(String),
    /// A signature did not verify.
    #[error("signature check failed")]
    BadSignature,
    /// An operation was asked for in a state that does not allow it (our caller's fault).
    #[error("security context not ready: {0}")]
    NotReady(&'static str),
}

/// A security mechanism for one auth context of one connection.
///
/// Message protection operates on a whole PDU laid out as header, body, stub, auth padding and
/// sec_trailer (`pdu`, without the auth value); `data` is the stub-plus-padding range. A
/// mechanism decides what it covers: NTLM signs all of `pdu` and seals only `data` (MS-RPCE
/// 3.3.1.5.2.2), which is why both are given.
pub trait SecurityProvider: Send {
    /// The `auth_type` this provider speaks.
    fn auth_type(&self) -> AuthType;

    /// Runs one leg of context establishment. A client starts with `None`; an acceptor is
    /// given the client's token.
    fn step(&mut self, input: Option<&[u8]>) -> Result<AuthStep, SecurityError>;

    /// True once the context is established.
    fn is_established(&self) -> bool;

    /// The authenticated peer's name (acceptor side), once established.
    fn peer_name(&self) -> Option<String> {
        None
    }

    /// The name the peer claimed (acceptor side), verified or not: for audit records of
    /// refused logons. Never use it for access decisions.
    fn claimed_name(&self) -> Option<String> {
        self.peer_name()
    }

    /// True when the established context is an anonymous logon: on the acceptor side, the
    /// peer proved no identity (NTLM's null session, MS-NLMP 3.2.5.1.2); on the initiator
    /// side, we logged on anonymously. Such a context may still sign and seal, but access
    /// checks must treat its caller as unauthenticated. Default false.
    fn is_anonymous(&self) -> bool {
        false
    }

    /// Length of the signature this provider produces (the auth value of protected PDUs).
    fn signature_len(&self) -> usize;

    /// Signs `pdu` for `PKT_INTEGRITY`; returns the signature.
    fn sign(&mut self, pdu: &[u8], data: Range<usize>) -> Result<Vec<u8>, SecurityError>;

    /// Verifies a peer's `signature` over `pdu`.
    fn verify(
        &mut self,
        pdu: &[u8],
        data: Range<usize>,
        signature: &[u8],
    ) -> Result<(), SecurityError>;

    /// Encrypts `pdu[data]` in place for `PKT_PRIVACY` and returns the signature.
    fn seal(&mut self, pdu: &mut [u8], data: Range<usize>) -> Result<Vec<u8>, SecurityError>;

    /// Told the level of its auth context before its first leg (client side: by
    /// `ClientConnection::set_auth` and `add_auth_context`, `CALL` already raised to `PKT`).
    /// A mechanism may ask for less at a level that protects no PDU: NTLM leaves
    /// `NEGOTIATE_SIGN` and `NEGOTIATE_SEAL` out at `CONNECT`, as Samba's client does (Samba's
    /// server cannot answer a `CONNECT` call on a context that negotiated signing: it faults
    /// `nca_s_fault_other`). The default does nothing.
    fn set_auth_level(&mut self, _level: AuthLevel) {}

    /// Told whether header signing (`PFC_SUPPORT_HEADER_SIGN`, MS-RPCE 3.3.1.5.2.2) was
    /// negotiated on the connection, before the first protected PDU. Mechanisms that sign
    /// only `data` without it (Kerberos, Netlogon) switch to signing the whole `pdu`. NTLM
    /// ignores it: NTLM always signs header, body, auth padding and sec_trailer (what Windows,
    /// Samba and Impacket do), so the default does nothing.
    fn set_header_signing(&mut self, _negotiated: bool) {}

    /// True when this provider's signatures cover the PDU header (the common header and the
    /// request header), as NTLM's always do. The client then leaves the verification
    /// trailer's HEADER2 command out: it would protect nothing the signature does not.
    /// Default false (HEADER2 is sent on every signed request).
    fn covers_header(&self) -> bool {
        false
    }

    /// Decrypts `pdu[data]` in place and verifies `signature`.
    fn unseal(
        &mut self,
        pdu: &mut [u8],
        data: Range<usize>,
        signature: &[u8],
    ) -> Result<(), SecurityError>;
}

/// The negotiated authentication of one auth context on a connection.
pub struct AuthContext {
    /// `auth_context_id` from the sec_trailer.
    pub context_id: u32,
    /// Mechanism.
    pub auth_type: AuthType,
    /// Level negotiated at bind; every later PDU must carry the same.
    pub level: AuthLevel,
    /// The mechanism.
    pub provider: Box<dyn SecurityProvider>,
}

impl std::fmt::Debug for AuthContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthContext")
            .field("context_id", &self.context_id)
            .field("auth_type", &self.auth_type)
            .field("level", &self.level)
            .field("established", &self.provider.is_established())
            .finish()
    }
}

/// True when `level` protects every request and response PDU with a signature: `CALL`
/// (raised to `PKT` on connection-oriented transports, MS-RPCE 3.3.1.5.2.1), `PKT`,
/// `PKT_INTEGRITY` and `PKT_PRIVACY`. `CONNECT` authenticates the association only: its PDUs
/// carry no verifier (Samba and Impacket send none; one that is present is not checked).
pub fn level_signs(level: AuthLevel) -> bool {
    level.0 >= AuthLevel::CALL.0 && level.0 <= AuthLevel::PKT_PRIVACY.0
}

/// The level actually used on a connection-oriented transport: `CALL` becomes `PKT` (what the
/// Windows RPC runtime does for `ncacn_*`); every other level is kept.
pub fn effective_level(level: AuthLevel) -> AuthLevel {
    if level == AuthLevel::CALL {
        AuthLevel::PKT
    } else {
        level
    }
}

/// True when `level` seals stubs.
pub fn level_seals(level: AuthLevel) -> bool {
    level == AuthLevel::PKT_PRIVACY
}
