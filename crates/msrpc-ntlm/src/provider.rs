//! [`NtlmClient`] and [`NtlmAcceptor`]: NTLMv2 as a [`SecurityProvider`].

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use msrpc_proto::pdu::{AuthLevel, AuthType};
use msrpc_proto::security::{level_signs, AuthStep, SecurityError, SecurityProvider};
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::{
    client_blob, ct_eq, hmac_md5, lmv2_response, nt_hash, nt_proof, ntowfv2_from_hash, rc4_oneshot,
    session_base_key, Key16,
};
use crate::messages::{
    av_id, find_av, flags, parse_av_pairs, Authenticate, AvPair, Challenge, MessageError,
    Negotiate, AV_FLAG_MIC_PRESENT, MIC_OFFSET, OUR_VERSION,
};
use crate::session::{Session, SIGNATURE_LEN};

/// Flags a client asks for.
const CLIENT_FLAGS: u32 = flags::UNICODE
    | flags::REQUEST_TARGET
    | flags::SIGN
    | flags::SEAL
    | flags::NTLM
    | flags::ALWAYS_SIGN
    | flags::EXTENDED_SESSIONSECURITY
    | flags::TARGET_INFO
    | flags::VERSION
    | flags::NEGOTIATE_128
    | flags::KEY_EXCH
    | flags::NEGOTIATE_56;

/// Flags an acceptor is willing to grant.
const SERVER_FLAGS: u32 = CLIENT_FLAGS | flags::OEM | flags::TARGET_TYPE_SERVER;

/// Flags both sides must end up with: this crate speaks only NTLMv2 with extended session
/// security and 128-bit keys.
const REQUIRED: u32 = flags::EXTENDED_SESSIONSECURITY | flags::NEGOTIATE_128;

/// The peer name of an accepted anonymous NTLM logon (Windows' `NT AUTHORITY\ANONYMOUS LOGON`).
pub const ANONYMOUS_LOGON: &str = "ANONYMOUS LOGON";

/// Length of the fixed part of an NTLMv2 client blob before the AV pairs.
const BLOB_HEADER: usize = 28;

fn malformed(e: MessageError) -> SecurityError {
    SecurityError::MalformedToken(e.to_string())
}

fn refuse(why: &str) -> SecurityError {
    SecurityError::AuthenticationFailed(why.to_string())
}

/// True when `auth` is an anonymous AUTHENTICATE (MS-NLMP 3.2.5.1.2 "the user name and
/// response are empty"): an empty user name, an empty NtChallengeResponse and an
/// LmChallengeResponse that is empty or zeros (`Z(1)` from Windows and Impacket, empty from
/// Samba; at most 24 bytes). The domain and workstation names may be anything.
pub fn is_anonymous_logon(auth: &Authenticate) -> bool {
    auth.user.is_empty()
        && auth.nt_response.is_empty()
        && auth.lm_response.len() <= 24
        && auth.lm_response.iter().all(|&b| b == 0)
}

/// True for the user name anonymous logons are given ([`ANONYMOUS_LOGON`], any case).
fn is_reserved_name(user: &str) -> bool {
    user.eq_ignore_ascii_case(ANONYMOUS_LOGON)
}

fn random<const N: usize>() -> Result<[u8; N], SecurityError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|_| SecurityError::NotReady("no system randomness"))?;
    Ok(b)
}

/// The current time as a Windows FILETIME (100 ns ticks since 1601-01-01).
fn filetime_now() -> u64 {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() / 100)
        .unwrap_or(0);
    u64::try_from(unix)
        .unwrap_or(u64::MAX)
        .saturating_add(116_444_736_000_000_000)
}

/// The session, or why there is none.
fn session(s: &mut Option<Session>) -> Result<&mut Session, SecurityError> {
    s.as_mut()
        .ok_or(SecurityError::NotReady("NTLM context not established"))
}

/// The `SecurityProvider` message-protection methods shared by [`NtlmClient`] and
/// [`NtlmAcceptor`]: both delegate to their established [`Session`] (through their `keyed()`).
/// NTLM signs the whole PDU and seals only the stub and padding (MS-RPCE 3.3.1.5.2.2).
macro_rules! session_protection {
    () => {
        fn signature_len(&self) -> usize {
            SIGNATURE_LEN
        }

        fn sign(&mut self, pdu: &[u8], _data: Range<usize>) -> Result<Vec<u8>, SecurityError> {
            Ok(self.keyed()?.sign(pdu))
        }

        fn verify(
            &mut self,
            pdu: &[u8],
            _data: Range<usize>,
            signature: &[u8],
        ) -> Result<(), SecurityError> {
            check_sig_len(signature)?;
            self.keyed()?.verify(pdu, signature)
        }

        fn seal(&mut self, pdu: &mut [u8], data: Range<usize>) -> Result<Vec<u8>, SecurityError> {
            self.keyed()?.seal(pdu, data)
        }

        fn unseal(
            &mut self,
            pdu: &mut [u8],
            data: Range<usize>,
            signature: &[u8],
        ) -> Result<(), SecurityError> {
            check_sig_len(signature)?;
            self.keyed()?.unseal(pdu, data, signature)
        }
    };
}

/// The GSS message-integrity calls both sides offer SPNEGO (inherent methods over the
/// established session's `keyed()`).
macro_rules! gss_mic_methods {
    () => {
        /// GSS_GetMIC (MS-NLMP 3.4.4.2): an NTLM signature over `msg` under our sending
        /// state, consuming one sequence number (and, with key exchange, RC4 keystream).
        /// SPNEGO uses it for its mechListMIC.
        pub fn get_mic(&mut self, msg: &[u8]) -> Result<Vec<u8>, SecurityError> {
            Ok(self.keyed()?.sign(msg))
        }

        /// GSS_VerifyMIC: checks the peer's `mic` over `msg` under our receiving state.
        pub fn verify_mic(&mut self, msg: &[u8], mic: &[u8]) -> Result<(), SecurityError> {
            check_sig_len(mic)?;
            self.keyed()?.verify(msg, mic)
        }

        /// Re-keys both RC4 handles, keeping the sequence numbers (after SPNEGO's
        /// mechListMIC).
        pub fn reset_rc4(&mut self) -> Result<(), SecurityError> {
            self.keyed()?.reset_rc4()
        }
    };
}

fn check_sig_len(signature: &[u8]) -> Result<(), SecurityError> {
    if signature.len() == SIGNATURE_LEN {
        Ok(())
    } else {
        Err(SecurityError::BadSignature)
    }
}

/// Where the user's keys come from on the acceptor side.
pub trait UserStore: Send + Sync {
    /// The NT hash (MD4 of the UTF-16LE password) of `user` in `domain`, if known. User
    /// lookup is case-insensitive.
    fn nt_hash(&self, user: &str, domain: &str) -> Option<[u8; 16]>;
}

/// An in-memory [`UserStore`] of NT hashes keyed by lower-cased user name; the domain is not
/// consulted (the accounts are this server's own). Plaintext passwords are never kept.
#[derive(Default)]
pub struct MemoryUserStore {
    users: HashMap<String, Key16>,
}

impl std::fmt::Debug for MemoryUserStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryUserStore")
            .field("users", &self.users.len())
            .finish()
    }
}

impl MemoryUserStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a user by password; only its NT hash is kept.
    pub fn add_user(&mut self, user: &str, password: &str) {
        self.users.insert(user.to_lowercase(), nt_hash(password));
    }

    /// Adds (or replaces) a user by NT hash.
    pub fn add_user_hash(&mut self, user: &str, nt_hash: [u8; 16]) {
        self.users
            .insert(user.to_lowercase(), Zeroizing::new(nt_hash));
    }

    /// Builder form of [`MemoryUserStore::add_user`].
    pub fn with_user(mut self, user: &str, password: &str) -> Self {
        self.add_user(user, password);
        self
    }
}

impl UserStore for MemoryUserStore {
    fn nt_hash(&self, user: &str, _domain: &str) -> Option<[u8; 16]> {
        self.users.get(&user.to_lowercase()).map(|h| **h)
    }
}

enum ClientState {
    Initial,
    SentNegotiate { negotiate: Vec<u8> },
    Established(Box<Session>),
    Failed,
}

/// The NTLMv2 initiator.
///
/// Sends NEGOTIATE, answers the CHALLENGE with an AUTHENTICATE carrying an NTLMv2 response,
/// an RC4-encrypted random session key and a MIC, then signs and seals.
pub struct NtlmClient {
    user: String,
    domain: String,
    workstation: String,
    nt_hash: Key16,
    state: ClientState,
    session: Option<Session>,
    anonymous: bool,
    /// The flags NEGOTIATE asks for: [`CLIENT_FLAGS`], without SIGN and SEAL at `CONNECT`.
    flags: u32,
    /// The flags AUTHENTICATE settled on (0 before).
    negotiated: u32,
}

impl std::fmt::Debug for NtlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            ClientState::Initial => "initial",
            ClientState::SentNegotiate { .. } => "sent_negotiate",
            ClientState::Established(_) => "established",
            ClientState::Failed => "failed",
        };
        f.debug_struct("NtlmClient")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl NtlmClient {
    /// A client for `domain\user` with `password` (only its NT hash is kept).
    pub fn new(user: &str, domain: &str, password: &str) -> Self {
        Self::with_nt_hash(user, domain, *nt_hash(password))
    }

    /// A client from an NT hash instead of a password.
    pub fn with_nt_hash(user: &str, domain: &str, mut hash: [u8; 16]) -> Self {
        let c = NtlmClient {
            user: user.to_string(),
            domain: domain.to_string(),
            workstation: String::new(),
            nt_hash: Zeroizing::new(hash),
            state: ClientState::Initial,
            session: None,
            anonymous: false,
            flags: CLIENT_FLAGS,
            negotiated: 0,
        };
        hash.zeroize();
        c
    }

    /// An anonymous client (MS-NLMP 3.2.5.1.2, 3.3.2): AUTHENTICATE with the
    /// `NTLMSSP_NEGOTIATE_ANONYMOUS` flag, an empty user name, an empty NtChallengeResponse,
    /// `Z(1)` as LmChallengeResponse and no MIC, what Windows and Impacket send. The session
    /// key is the one MS-NLMP gives an anonymous logon: SessionBaseKey = KeyExchangeKey =
    /// `Z(16)`; with key exchange (the usual case) a random ExportedSessionKey travels
    /// RC4-encrypted under `Z(16)`, otherwise the ExportedSessionKey is `Z(16)` itself. So an
    /// anonymous client signs and seals at every level, as Impacket's rpcmap.py does, but the
    /// protection is only against a party that did not see the AUTHENTICATE: anyone who saw
    /// it can derive the keys. Acceptors refuse it unless they allow anonymous logons.
    pub fn anonymous() -> Self {
        let mut c = Self::with_nt_hash("", "", [0; 16]);
        c.anonymous = true;
        c
    }

    /// True for a client made with [`NtlmClient::anonymous`].
    pub fn is_anonymous(&self) -> bool {
        self.anonymous
    }

    /// The session for message protection.
    fn keyed(&mut self) -> Result<&mut Session, SecurityError> {
        client_session(&mut self.state)
    }

    /// Sets the workstation name sent in AUTHENTICATE.
    pub fn with_workstation(mut self, workstation: &str) -> Self {
        self.workstation = workstation.to_string();
        self
    }

    gss_mic_methods!();

    /// True once established with `NEGOTIATE_SIGN` agreed (not at `CONNECT`, see
    /// [`SecurityProvider::set_auth_level`]).
    pub fn negotiated_signing(&self) -> bool {
        self.is_established() && self.negotiated & flags::SIGN != 0
    }

    /// The next (send, receive) sequence numbers, once established.
    pub fn sequence_numbers(&self) -> Option<(u32, u32)> {
        match &self.state {
            ClientState::Established(s) => Some(s.sequence_numbers()),
            _ => None,
        }
    }

    /// The anonymous AUTHENTICATE (see [`NtlmClient::anonymous`]) and its session.
    fn authenticate_anonymous(&mut self, negotiated: u32) -> Result<Vec<u8>, SecurityError> {
        let key_exch = negotiated & flags::KEY_EXCH != 0;
        // MS-NLMP 3.3.2 / 3.2.5.1.2: an anonymous logon's SessionBaseKey (and, for NTLMv2,
        // KeyExchangeKey) is Z(16).
        let kxkey = Zeroizing::new([0u8; 16]);
        let (exported, encrypted) = if key_exch {
            let exported: Key16 = Zeroizing::new(random()?);
            let mut enc = *exported;
            rc4_oneshot(kxkey.as_slice(), &mut enc);
            (exported, enc.to_vec())
        } else {
            (kxkey, Vec::new())
        };
        let auth = Authenticate {
            flags: negotiated | flags::ANONYMOUS,
            lm_response: vec![0],
            nt_response: Vec::new(),
            domain: String::new(),
            user: String::new(),
            workstation: self.workstation.clone(),
            encrypted_random_session_key: encrypted,
            version: Some(OUR_VERSION),
            mic: None,
        };
        self.session = Some(Session::new(&exported, true, key_exch)?);
        Ok(auth.encode())
    }

    fn authenticate(
        &mut self,
        negotiate: &[u8],
        challenge_bytes: &[u8],
    ) -> Result<Vec<u8>, SecurityError> {
        let challenge = Challenge::decode(challenge_bytes).map_err(malformed)?;
        let negotiated = challenge.flags & self.flags;
        if negotiated & REQUIRED != REQUIRED {
            return Err(refuse(
                "server does not offer extended session security with 128-bit keys",
            ));
        }
        self.negotiated = negotiated;
        if self.anonymous {
            return self.authenticate_anonymous(negotiated);
        }
        // The client's AV pairs: the server's, with MsvAvFlags announcing the MIC.
        let timestamp = match find_av(&challenge.target_info, av_id::TIMESTAMP) {
            Some(t) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(
                    t.get(..8)
                        .ok_or_else(|| malformed(MessageError::BadLength("MsvAvTimestamp")))?,
                );
                u64::from_le_bytes(a)
            }
            None => filetime_now(),
        };
        let mut pairs: Vec<AvPair> = challenge
            .target_info
            .iter()
            .filter(|p| p.id != av_id::FLAGS)
            .cloned()
            .collect();
        let mut av_flags = find_av(&challenge.target_info, av_id::FLAGS)
            .and_then(|v| v.get(..4))
            .map(|v| {
                let mut a = [0u8; 4];
                a.copy_from_slice(v);
                u32::from_le_bytes(a)
            })
            .unwrap_or(0);
        av_flags |= AV_FLAG_MIC_PRESENT;
        pairs.push(AvPair {
            id: av_id::FLAGS,
            value: av_flags.to_le_bytes().to_vec(),
        });
        let client_challenge: [u8; 8] = random()?;
        let blob = client_blob(
            timestamp,
            &client_challenge,
            &crate::messages::encode_av_pairs(&pairs),
        );
        let ntowf = ntowfv2_from_hash(&self.nt_hash, &self.user, &self.domain);
        let proof = nt_proof(&ntowf, &challenge.server_challenge, &blob);
        let mut nt_response = proof.to_vec();
        nt_response.extend_from_slice(&blob);
        let base = session_base_key(&ntowf, &proof);
        let (exported, encrypted) = if negotiated & flags::KEY_EXCH != 0 {
            let exported: Key16 = Zeroizing::new(random()?);
            let mut enc = *exported;
            rc4_oneshot(base.as_slice(), &mut enc);
            (exported, enc.to_vec())
        } else {
            (base, Vec::new())
        };
        let mut auth = Authenticate {
            flags: negotiated,
            lm_response: lmv2_response(&ntowf, &challenge.server_challenge, &client_challenge),
            nt_response,
            domain: self.domain.clone(),
            user: self.user.clone(),
            workstation: self.workstation.clone(),
            encrypted_random_session_key: encrypted,
            version: Some(OUR_VERSION),
            mic: None,
        };
        let unsigned = auth.encode();
        auth.mic = Some(hmac_md5(
            exported.as_slice(),
            &[negotiate, challenge_bytes, &unsigned],
        ));
        let out = auth.encode();
        self.session = Some(Session::new(
            &exported,
            true,
            negotiated & flags::KEY_EXCH != 0,
        )?);
        Ok(out)
    }
}

impl SecurityProvider for NtlmClient {
    fn auth_type(&self) -> AuthType {
        AuthType::WINNT
    }

    fn covers_header(&self) -> bool {
        // NTLM signs header, body, auth padding and sec_trailer, negotiated or not.
        true
    }

    fn set_auth_level(&mut self, level: AuthLevel) {
        // At CONNECT no PDU is signed or sealed: ask for neither, as Samba's client does
        // (Samba's server faults a CONNECT call on a context that negotiated SIGN). Only
        // before NEGOTIATE went out.
        if matches!(self.state, ClientState::Initial) {
            self.flags = if level_signs(level) {
                CLIENT_FLAGS
            } else {
                CLIENT_FLAGS & !(flags::SIGN | flags::SEAL)
            };
        }
    }

    fn step(&mut self, input: Option<&[u8]>) -> Result<AuthStep, SecurityError> {
        let state = std::mem::replace(&mut self.state, ClientState::Failed);
        match (state, input) {
            (ClientState::Initial, None) => {
                let negotiate = Negotiate {
                    flags: self.flags,
                    version: Some(OUR_VERSION),
                }
                .encode();
                self.state = ClientState::SentNegotiate {
                    negotiate: negotiate.clone(),
                };
                Ok(AuthStep::Continue(negotiate))
            }
            (ClientState::SentNegotiate { negotiate }, Some(challenge)) => {
                let auth = self.authenticate(&negotiate, challenge)?;
                if let Some(s) = self.session.take() {
                    self.state = ClientState::Established(Box::new(s));
                }
                Ok(AuthStep::Done(Some(auth)))
            }
            _ => Err(SecurityError::NotReady("unexpected NTLM client step")),
        }
    }

    fn is_established(&self) -> bool {
        matches!(self.state, ClientState::Established(_))
    }

    fn is_anonymous(&self) -> bool {
        self.anonymous && self.is_established()
    }

    session_protection!();
}

fn client_session(s: &mut ClientState) -> Result<&mut Session, SecurityError> {
    match s {
        ClientState::Established(s) => Ok(s),
        _ => Err(SecurityError::NotReady("NTLM context not established")),
    }
}

enum AcceptorState {
    Initial,
    SentChallenge {
        negotiate: Vec<u8>,
        challenge: Vec<u8>,
        server_challenge: [u8; 8],
        flags: u32,
    },
    Established,
    Failed,
}

/// The NTLMv2 acceptor: verifies the client's NTLMv2 response against its own
/// [`UserStore`] before the context counts as established.
pub struct NtlmAcceptor {
    store: Arc<dyn UserStore>,
    computer: String,
    domain: String,
    allow_anonymous: bool,
    state: AcceptorState,
    session: Option<Session>,
    peer: Option<String>,
    /// The user name AUTHENTICATE carried, verified or not (audit records only).
    claimed: Option<String>,
    /// Whether the verified AUTHENTICATE carried a MIC (MsvAvFlags bit 0x2).
    had_mic: bool,
    /// The context is an accepted anonymous logon.
    anonymous: bool,
}

impl std::fmt::Debug for NtlmAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            AcceptorState::Initial => "initial",
            AcceptorState::SentChallenge { .. } => "sent_challenge",
            AcceptorState::Established => "established",
            AcceptorState::Failed => "failed",
        };
        f.debug_struct("NtlmAcceptor")
            .field("computer", &self.computer)
            .field("domain", &self.domain)
            .field("state", &state)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl NtlmAcceptor {
    /// An acceptor checking credentials against `user_store`, announcing itself as computer
    /// `MSRPC` in domain `WORKGROUP`.
    pub fn new(user_store: Arc<dyn UserStore>) -> Self {
        NtlmAcceptor {
            store: user_store,
            computer: "MSRPC".to_string(),
            domain: "WORKGROUP".to_string(),
            allow_anonymous: false,
            state: AcceptorState::Initial,
            session: None,
            peer: None,
            claimed: None,
            had_mic: false,
            anonymous: false,
        }
    }

    /// Sets the NetBIOS (and DNS) computer and domain names sent in the CHALLENGE.
    pub fn with_names(mut self, computer: &str, domain: &str) -> Self {
        self.computer = computer.to_string();
        self.domain = domain.to_string();
        self
    }

    /// Accepts anonymous AUTHENTICATE messages (MS-NLMP 3.2.5.1.2: an empty user name and
    /// empty responses; see [`is_anonymous_logon`]). Off by default: then they are refused
    /// like a wrong password. An accepted anonymous context has the peer name
    /// [`ANONYMOUS_LOGON`], answers [`SecurityProvider::is_anonymous`] with true, and has the
    /// session key MS-NLMP gives anonymous logons, as Windows and Samba compute it:
    /// SessionBaseKey = KeyExchangeKey = `Z(16)`, the ExportedSessionKey the RC4 decryption
    /// of EncryptedRandomSessionKey under `Z(16)` with key exchange, `Z(16)` without; signing
    /// and sealing keys follow as for any logon (MS-NLMP 3.4.5). So anonymous contexts sign
    /// and seal at every level (what Impacket's rpcmap.py asks for by default), although the
    /// keys are derivable by anyone who saw the AUTHENTICATE.
    ///
    /// An anonymous AUTHENTICATE that dropped extended session security or 128-bit keys
    /// (Samba's client does: its anonymous logons negotiate `0x62008a35`, without
    /// `NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY`) is accepted without a session: it serves
    /// `RPC_C_AUTHN_LEVEL_CONNECT`, and signing or sealing refuse (this crate does not
    /// implement NTLMv1 session security). Named logons always need both.
    ///
    /// A MIC in an anonymous AUTHENTICATE is not checked: MS-NLMP checks a MIC only when the
    /// NTLMv2 response's MsvAvFlags announce one, and an anonymous logon has no response
    /// (Windows and Samba do not check it either; its key would prove nothing).
    pub fn allow_anonymous(mut self, allow: bool) -> Self {
        self.allow_anonymous = allow;
        self
    }

    /// True once an anonymous logon was accepted (see [`NtlmAcceptor::allow_anonymous`]).
    pub fn is_anonymous(&self) -> bool {
        self.is_established() && self.anonymous
    }

    /// The session for message protection.
    fn keyed(&mut self) -> Result<&mut Session, SecurityError> {
        if self.anonymous && self.session.is_none() {
            return Err(SecurityError::AuthenticationFailed(
                "this anonymous NTLM logon negotiated no session security (connect level only)"
                    .into(),
            ));
        }
        session(&mut self.session)
    }

    /// True once established from an AUTHENTICATE that announced and carried a MIC
    /// (MsvAvFlags 0x2). SPNEGO then requires the initiator's mechListMIC (MS-SPNG 3.2.5.1).
    pub fn authenticate_had_mic(&self) -> bool {
        self.is_established() && self.had_mic
    }

    gss_mic_methods!();

    /// The next (send, receive) sequence numbers, once established.
    pub fn sequence_numbers(&self) -> Option<(u32, u32)> {
        self.session.as_ref().map(Session::sequence_numbers)
    }

    fn challenge(&self, negotiate: &[u8]) -> Result<(Vec<u8>, [u8; 8], u32), SecurityError> {
        let neg = Negotiate::decode(negotiate).map_err(malformed)?;
        if neg.flags & REQUIRED != REQUIRED {
            return Err(refuse(
                "client does not ask for extended session security with 128-bit keys",
            ));
        }
        let mut granted = (neg.flags & SERVER_FLAGS)
            | flags::TARGET_INFO
            | flags::TARGET_TYPE_SERVER
            | flags::VERSION;
        // One character set: Unicode when offered.
        if granted & flags::UNICODE != 0 {
            granted &= !flags::OEM;
        } else {
            granted |= flags::OEM;
        }
        let server_challenge: [u8; 8] = random()?;
        let target_info = vec![
            AvPair::string(av_id::NB_DOMAIN_NAME, &self.domain),
            AvPair::string(av_id::NB_COMPUTER_NAME, &self.computer),
            AvPair::string(av_id::DNS_DOMAIN_NAME, &self.domain.to_lowercase()),
            AvPair::string(av_id::DNS_COMPUTER_NAME, &self.computer.to_lowercase()),
            AvPair {
                id: av_id::TIMESTAMP,
                value: filetime_now().to_le_bytes().to_vec(),
            },
        ];
        let ch = Challenge {
            flags: granted,
            target_name: self.computer.clone(),
            server_challenge,
            target_info,
            version: Some(OUR_VERSION),
        };
        Ok((ch.encode(), server_challenge, granted))
    }

    fn verify_authenticate(
        &mut self,
        negotiate: &[u8],
        challenge: &[u8],
        server_challenge: &[u8; 8],
        granted: u32,
        token: &[u8],
    ) -> Result<(), SecurityError> {
        let auth = Authenticate::decode(token).map_err(malformed)?;
        let negotiated = auth.flags & granted;
        let key_exch = negotiated & flags::KEY_EXCH != 0;
        let nt = auth.nt_response.as_slice();
        if is_anonymous_logon(&auth) {
            self.claimed = Some(ANONYMOUS_LOGON.to_string());
            if !self.allow_anonymous {
                return Err(refuse("anonymous logons are not accepted"));
            }
            // MS-NLMP 3.3.2 / 3.2.5.1.2: an anonymous SessionBaseKey (= KeyExchangeKey for
            // NTLMv2) is Z(16); Windows and Samba use it for key exchange.
            if negotiated & REQUIRED == REQUIRED {
                let base = Zeroizing::new([0u8; 16]);
                let exported = self.exported_key(&base, key_exch, &auth)?;
                self.session = Some(Session::new(&exported, false, key_exch)?);
            }
            self.anonymous = true;
            self.peer = Some(ANONYMOUS_LOGON.to_string());
            return Ok(());
        }
        if !auth.user.is_empty() {
            self.claimed = Some(if auth.domain.is_empty() {
                auth.user.clone()
            } else {
                format!("{}\\{}", auth.domain, auth.user)
            });
        }
        if negotiated & REQUIRED != REQUIRED {
            return Err(refuse(
                "AUTHENTICATE drops extended session security or 128-bit keys",
            ));
        }
        if nt.is_empty() {
            return Err(refuse(if auth.user.is_empty() {
                "LM-only responses are refused"
            } else {
                "no NT response"
            }));
        }
        if nt.len() == 24 {
            return Err(refuse("NTLMv1 responses are refused"));
        }
        if nt.len() < 16 + BLOB_HEADER + 4 {
            return Err(malformed(MessageError::BadLength("NtChallengeResponse")));
        }
        let (proof, blob) = nt.split_at(16);
        if blob.get(..2) != Some(&[1u8, 1][..]) {
            return Err(malformed(MessageError::BadLength("NTLMv2 blob version")));
        }
        if auth.user.is_empty() {
            return Err(refuse("empty user name"));
        }
        if is_reserved_name(&auth.user) {
            // The name anonymous logons get: no account may log on with it, so the name alone
            // tells an audit record's anonymous logons apart.
            return Err(refuse("unknown user or wrong password"));
        }
        let hash = Zeroizing::new(
            self.store
                .nt_hash(&auth.user, &auth.domain)
                .ok_or_else(|| refuse("unknown user or wrong password"))?,
        );
        let ntowf = ntowfv2_from_hash(&hash, &auth.user, &auth.domain);
        let want = nt_proof(&ntowf, server_challenge, blob);
        if !ct_eq(&want, proof) {
            return Err(refuse("unknown user or wrong password"));
        }
        let client_pairs =
            parse_av_pairs(blob.get(BLOB_HEADER..).unwrap_or(&[])).map_err(malformed)?;
        let mic_required = find_av(&client_pairs, av_id::FLAGS)
            .and_then(|v| v.get(..4))
            .map(|v| {
                let mut a = [0u8; 4];
                a.copy_from_slice(v);
                u32::from_le_bytes(a) & AV_FLAG_MIC_PRESENT != 0
            })
            .unwrap_or(false);
        let base = session_base_key(&ntowf, &want);
        let exported = self.exported_key(&base, key_exch, &auth)?;
        if mic_required {
            let mic = auth
                .mic
                .ok_or_else(|| refuse("MIC announced but missing"))?;
            let mut zeroed = token.to_vec();
            if let Some(slot) = zeroed.get_mut(MIC_OFFSET..MIC_OFFSET + 16) {
                slot.fill(0);
            }
            let want_mic = hmac_md5(exported.as_slice(), &[negotiate, challenge, &zeroed]);
            if !ct_eq(&want_mic, &mic) {
                return Err(refuse("MIC does not verify"));
            }
        }
        self.had_mic = mic_required;
        self.session = Some(Session::new(&exported, false, key_exch)?);
        self.peer = Some(if auth.domain.is_empty() {
            auth.user.clone()
        } else {
            format!("{}\\{}", auth.domain, auth.user)
        });
        Ok(())
    }

    fn exported_key(
        &self,
        base: &Key16,
        key_exch: bool,
        auth: &Authenticate,
    ) -> Result<Key16, SecurityError> {
        if !key_exch {
            return Ok(base.clone());
        }
        let enc = auth.encrypted_random_session_key.as_slice();
        let mut k = Zeroizing::new([0u8; 16]);
        if enc.len() != 16 {
            return Err(malformed(MessageError::BadLength(
                "EncryptedRandomSessionKey",
            )));
        }
        k.copy_from_slice(enc);
        rc4_oneshot(base.as_slice(), k.as_mut_slice());
        Ok(k)
    }
}

impl SecurityProvider for NtlmAcceptor {
    fn auth_type(&self) -> AuthType {
        AuthType::WINNT
    }

    fn step(&mut self, input: Option<&[u8]>) -> Result<AuthStep, SecurityError> {
        let state = std::mem::replace(&mut self.state, AcceptorState::Failed);
        match (state, input) {
            (AcceptorState::Initial, Some(negotiate)) => {
                let (challenge, server_challenge, flags) = self.challenge(negotiate)?;
                self.state = AcceptorState::SentChallenge {
                    negotiate: negotiate.to_vec(),
                    challenge: challenge.clone(),
                    server_challenge,
                    flags,
                };
                Ok(AuthStep::Continue(challenge))
            }
            (
                AcceptorState::SentChallenge {
                    negotiate,
                    challenge,
                    server_challenge,
                    flags,
                },
                Some(token),
            ) => {
                self.verify_authenticate(&negotiate, &challenge, &server_challenge, flags, token)?;
                self.state = AcceptorState::Established;
                Ok(AuthStep::Done(None))
            }
            _ => Err(SecurityError::NotReady("unexpected NTLM acceptor step")),
        }
    }

    fn is_established(&self) -> bool {
        matches!(self.state, AcceptorState::Established)
    }

    fn peer_name(&self) -> Option<String> {
        if self.is_established() {
            self.peer.clone()
        } else {
            None
        }
    }

    fn claimed_name(&self) -> Option<String> {
        self.claimed.clone()
    }

    fn is_anonymous(&self) -> bool {
        NtlmAcceptor::is_anonymous(self)
    }

    session_protection!();
}
